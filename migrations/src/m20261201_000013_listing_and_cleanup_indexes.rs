//! Indexes that keep every listing's filters and the clean-up of expired rows cheap however
//! large the tables grow: each filter the API offers is served by an index in the order its
//! listing pages (users by state then username; audit events by target, action or actor
//! then sequence; help requests by state then id; role assignments by role then id), and each
//! clean-up finds its rows by their expiry. A time window on the audit log is served by the
//! sequence index itself: events are appended in time order, so the newest page of a window
//! is found by reading back from its end (an index on the time made SQLite sort the whole
//! window instead).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// (index, table, columns).
const INDEXES: &[(&str, &str, &[&str])] = &[
    (
        "ix_users_tenant_state_username",
        "users",
        &["tenant_id", "state", "username"],
    ),
    (
        "ix_audit_events_tenant_target_seq",
        "audit_events",
        &["tenant_id", "target", "seq"],
    ),
    (
        "ix_audit_events_tenant_action_seq",
        "audit_events",
        &["tenant_id", "action", "seq"],
    ),
    (
        "ix_audit_events_tenant_actor_seq",
        "audit_events",
        &["tenant_id", "actor", "seq"],
    ),
    (
        "ix_reset_requests_tenant_state_id",
        "reset_requests",
        &["tenant_id", "state", "id"],
    ),
    (
        "ix_reset_requests_tenant_id",
        "reset_requests",
        &["tenant_id", "id"],
    ),
    (
        "ix_role_assignments_tenant_role_id",
        "role_assignments",
        &["tenant_id", "role", "id"],
    ),
    (
        "ix_role_assignments_tenant_id",
        "role_assignments",
        &["tenant_id", "id"],
    ),
    ("ix_sessions_expires", "sessions", &["expires_at"]),
    ("ix_reset_flows_expires", "reset_flows", &["expires_at"]),
    (
        "ix_one_time_codes_expires",
        "one_time_codes",
        &["expires_at"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut index = Index::create();
            index.name(*name).table(Alias::new(*table));
            for column in *columns {
                index.col(Alias::new(*column));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES.iter().rev() {
            manager
                .drop_index(
                    Index::drop()
                        .name(*name)
                        .table(Alias::new(*table))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
