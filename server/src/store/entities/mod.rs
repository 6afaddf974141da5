//! SeaORM entities, one module per table. They mirror the migrations crate.

pub mod administrative_unit;
pub mod audit_event;
pub mod bulk_job;
pub mod bulk_job_item;
pub mod compromised_list;
pub mod compromised_list_chunk;
pub mod one_time_code;
pub mod outbox_message;
pub mod password_credential;
pub mod password_history;
pub mod password_policy;
pub mod reset_flow;
pub mod reset_request;
pub mod role_assignment;
pub mod send_quota;
pub mod session;
pub mod tenant;
pub mod unit_member;
pub mod user;
pub mod verification_method;
