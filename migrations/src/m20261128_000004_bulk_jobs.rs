//! Bulk password resets: a job per call (found again by its idempotency key) and one item per
//! user, written when the job starts and settled in the same transaction as that user's reset.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum BulkJobs {
    Table,
    Id,
    TenantId,
    IdempotencyKey,
    RequestDigest,
    Actor,
    RequireChange,
    Invite,
    Total,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum BulkJobItems {
    Table,
    JobId,
    Idx,
    UserRef,
    UserId,
    Outcome,
    Reason,
    DoneAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BulkJobs::Table)
                    .col(pk_uuid(BulkJobs::Id))
                    .col(uuid(BulkJobs::TenantId))
                    .col(string_len_null(BulkJobs::IdempotencyKey, 128))
                    // SHA-256 of the request, so a key reused for another request is refused.
                    .col(string_len(BulkJobs::RequestDigest, 64))
                    .col(string_len(BulkJobs::Actor, 600))
                    .col(boolean(BulkJobs::RequireChange))
                    .col(boolean(BulkJobs::Invite))
                    .col(integer(BulkJobs::Total))
                    .col(timestamp_with_time_zone(BulkJobs::CreatedAt))
                    .col(timestamp_with_time_zone_null(BulkJobs::FinishedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BulkJobs::Table, BulkJobs::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_bulk_jobs_idempotency")
                    .table(BulkJobs::Table)
                    .col(BulkJobs::TenantId)
                    .col(BulkJobs::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BulkJobItems::Table)
                    .col(uuid(BulkJobItems::JobId))
                    .col(integer(BulkJobItems::Idx))
                    // The user as the caller named them (id or username).
                    .col(string_len(BulkJobItems::UserRef, 254))
                    .col(uuid_null(BulkJobItems::UserId))
                    // pending, reset, refused, not_found, failed
                    .col(string_len(BulkJobItems::Outcome, 16))
                    .col(text(BulkJobItems::Reason))
                    .col(timestamp_with_time_zone_null(BulkJobItems::DoneAt))
                    .primary_key(
                        Index::create()
                            .col(BulkJobItems::JobId)
                            .col(BulkJobItems::Idx),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(BulkJobItems::Table, BulkJobItems::JobId)
                            .to(BulkJobs::Table, BulkJobs::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(BulkJobItems::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(BulkJobs::Table).to_owned())
            .await
    }
}
