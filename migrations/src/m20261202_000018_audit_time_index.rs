//! An index for counting the audit log by action over a time window (the password activity
//! report): each reported action is one range of `(tenant_id, action, occurred_at)`, and with
//! the outcome in it the counts are read from the index alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    TenantId,
    Action,
    OccurredAt,
    Outcome,
}

const NAME: &str = "ix_audit_events_tenant_action_time";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::Action)
                    .col(AuditEvents::OccurredAt)
                    .col(AuditEvents::Outcome)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(NAME)
                    .table(AuditEvents::Table)
                    .to_owned(),
            )
            .await
    }
}
