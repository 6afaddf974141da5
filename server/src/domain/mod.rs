//! The domain core: who may do what, password rules, hashing and the flows of DESIGN.md.
//!
//! No tonic and no SeaORM types appear in the public signatures here; the transport maps
//! [`Error`] to gRPC statuses in exactly one place, and storage stays behind [`crate::store`].

mod accounts;
pub(crate) mod audit;
pub mod authz;
mod bulk;
pub mod compromised;
mod error;
mod flows;
pub mod hashing;
mod keys;
mod methods;
mod notices;
mod phone;
pub mod policy;
mod registration;
mod reminders;
mod report;
mod requests;
mod roles;
mod secret;
mod service;
mod sessions;
mod tenants;
mod types;
mod units;
mod users;

pub use accounts::{ChangeRequired, MAX_LISTED_USERS};
pub use audit::{AuditEvent, AuditPage, AuditQuery, ChainReport, WATCH_POLL, WatchStart};
pub use bulk::{
    BulkEvent, BulkJob, BulkJobItem, BulkOutcome, BulkRequest, BulkResult, BulkSummary,
    BulkTargets, MAX_BULK_USERS,
};
pub use error::{Error, FieldViolation};
pub use flows::FlowStatus;
pub use hashing::{HashSettings, Hasher};
pub use keys::SecretKey;
pub use methods::{AddedMethod, Confirmed, MethodKind, MethodView};
pub use registration::{Registration, Reminders};
pub use report::{
    Activity, ActivityBucket, ActivityReport, Granularity, MAX_DAILY_DAYS, MAX_HOURLY_DAYS,
    ReportQuery, ResetActor,
};
pub use requests::{HelpRequest, RequestState, Resolution, Resolved};
pub use roles::RolePage;
pub use secret::{Password, SessionToken};
pub use service::{ANONYMOUS_FLOOR, Gatehouse, Settings};
pub use sessions::{ChangedPassword, SignedIn};
pub use tenants::{CreatedTenant, TenantView};
pub use types::*;
pub use units::{MembershipChange, UnitPage};
pub use users::{NewUser, ResetOptions, ResetOutcome, Settles, UserChanges, UserKey, UserPage};
