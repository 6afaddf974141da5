//! Schema migrations of the Gatehouse database.
//!
//! The server runs pending migrations at start-up and `gatehouse migrate` runs them alone.
//! Every migration works on SQLite and PostgreSQL and has a working `down`.

#![forbid(unsafe_code)]

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;

mod m20261128_000001_initial_schema;
mod m20261128_000002_one_default_tenant;
mod m20261128_000003_policy_and_lockout;
mod m20261128_000004_bulk_jobs;
mod m20261128_000005_outbox_and_codes;
mod m20261128_000006_reset_requests;
mod m20261128_000007_expiry_reminders;
mod m20261128_000008_verification_methods;
mod m20261128_000009_reset_flows;
mod m20261128_000010_send_quotas;
mod m20261128_000011_secrets_leave_the_database;
mod m20261201_000012_attempts_in_flight;
mod m20261201_000013_listing_and_cleanup_indexes;
mod m20261201_000014_bulk_passwords_held;
mod m20261202_000015_audit_retention;
mod m20261202_000016_password_notices;
mod m20261202_000017_administrative_units;
mod m20261202_000018_audit_time_index;
mod m20261202_000019_compromised_passwords;
mod m20261202_000020_registration;

/// All migrations, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_initial_schema::Migration),
            Box::new(m20261128_000002_one_default_tenant::Migration),
            Box::new(m20261128_000003_policy_and_lockout::Migration),
            Box::new(m20261128_000004_bulk_jobs::Migration),
            Box::new(m20261128_000005_outbox_and_codes::Migration),
            Box::new(m20261128_000006_reset_requests::Migration),
            Box::new(m20261128_000007_expiry_reminders::Migration),
            Box::new(m20261128_000008_verification_methods::Migration),
            Box::new(m20261128_000009_reset_flows::Migration),
            Box::new(m20261128_000010_send_quotas::Migration),
            Box::new(m20261128_000011_secrets_leave_the_database::Migration),
            Box::new(m20261201_000012_attempts_in_flight::Migration),
            Box::new(m20261201_000013_listing_and_cleanup_indexes::Migration),
            Box::new(m20261201_000014_bulk_passwords_held::Migration),
            Box::new(m20261202_000015_audit_retention::Migration),
            Box::new(m20261202_000016_password_notices::Migration),
            Box::new(m20261202_000017_administrative_units::Migration),
            Box::new(m20261202_000018_audit_time_index::Migration),
            Box::new(m20261202_000019_compromised_passwords::Migration),
            Box::new(m20261202_000020_registration::Migration),
        ]
    }
}
