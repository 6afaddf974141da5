//! Self-service password resets in progress: which methods the person proved, and the code
//! sent for the current step (hashed, bound to the flow and the method, tries counted).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ResetFlows {
    Table,
    Id,
    TenantId,
    UserId,
    CreatedAt,
    ExpiresAt,
    CodeHash,
    CodeMethodId,
    CodeExpiresAt,
    Attempts,
    Sends,
    Proved,
    CompletedAt,
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
                    .table(ResetFlows::Table)
                    .col(pk_uuid(ResetFlows::Id))
                    .col(uuid(ResetFlows::TenantId))
                    .col(uuid(ResetFlows::UserId))
                    .col(timestamp_with_time_zone(ResetFlows::CreatedAt))
                    .col(timestamp_with_time_zone(ResetFlows::ExpiresAt))
                    .col(string_len_null(ResetFlows::CodeHash, 64))
                    .col(uuid_null(ResetFlows::CodeMethodId))
                    .col(timestamp_with_time_zone_null(ResetFlows::CodeExpiresAt))
                    // Wrong codes in this flow; a resend does not reset it.
                    .col(integer(ResetFlows::Attempts).default(0))
                    .col(integer(ResetFlows::Sends).default(0))
                    // Comma-separated ids of the methods proved so far.
                    .col(text(ResetFlows::Proved).default(""))
                    .col(timestamp_with_time_zone_null(ResetFlows::CompletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ResetFlows::Table, ResetFlows::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_reset_flows_user")
                    .table(ResetFlows::Table)
                    .col(ResetFlows::UserId)
                    .col(ResetFlows::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ResetFlows::Table).to_owned())
            .await
    }
}
