//! Gatehouse: the password and account backend of an organisation's directory, served over
//! gRPC with mutual TLS.
//!
//! Three layers, imports pointing down only: [`grpc`] (tonic handlers: decode, authorise, call
//! the domain, map errors) → [`domain`] (policies, hashing, flows) → [`store`] (SeaORM entities
//! and queries). TLS set-up sits beside them in [`tls`]. [`serve`] is the one entry point; `main`
//! and the tests both drive it.

#![forbid(unsafe_code)]

pub mod config;
pub mod domain;
pub mod grpc;
pub mod metrics;
pub mod notify;
pub mod store;
pub mod tls;

mod import;
mod server;

pub use config::Config;
pub use import::{ImportReport, import_compromised};
pub use server::{
    BOOTSTRAP_FILE, bootstrap, init_admin, migrate, reissue_admin, serve, write_new_key,
};
