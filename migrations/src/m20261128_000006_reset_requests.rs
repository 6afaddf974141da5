//! "Contact an administrator" requests: at most one open request per person.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ResetRequests {
    Table,
    Id,
    TenantId,
    UserId,
    Message,
    State,
    TimesAsked,
    CreatedAt,
    UpdatedAt,
    LastNotifiedAt,
    ResolvedBy,
    Comment,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ResetRequests::Table)
                    .col(pk_uuid(ResetRequests::Id))
                    .col(uuid(ResetRequests::TenantId))
                    .col(uuid(ResetRequests::UserId))
                    .col(text(ResetRequests::Message))
                    .col(string_len(ResetRequests::State, 16))
                    .col(integer(ResetRequests::TimesAsked))
                    .col(timestamp_with_time_zone(ResetRequests::CreatedAt))
                    .col(timestamp_with_time_zone(ResetRequests::UpdatedAt))
                    .col(timestamp_with_time_zone(ResetRequests::LastNotifiedAt))
                    .col(string_len_null(ResetRequests::ResolvedBy, 600))
                    .col(text(ResetRequests::Comment))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ResetRequests::Table, ResetRequests::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Both databases take a partial index; sea-query has no builder for one.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_reset_requests_open ON reset_requests (user_id) WHERE state = 'open'",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_reset_requests_tenant")
                    .table(ResetRequests::Table)
                    .col(ResetRequests::TenantId)
                    .col(ResetRequests::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ResetRequests::Table).to_owned())
            .await
    }
}
