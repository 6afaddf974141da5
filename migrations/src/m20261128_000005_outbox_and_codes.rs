//! The notification outbox (messages written in the same transaction as the change that
//! causes them, delivered by a dispatcher) and one-time codes (invitations now; self-service
//! reset codes use the same table).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum OutboxMessages {
    Table,
    Id,
    TenantId,
    Channel,
    Recipient,
    Subject,
    Body,
    CreatedAt,
    NextAttemptAt,
    Attempts,
    ClaimedBy,
    ClaimedUntil,
    SentAt,
    LastError,
}

#[derive(DeriveIden, Clone, Copy)]
enum OneTimeCodes {
    Table,
    Id,
    TenantId,
    UserId,
    Purpose,
    CodeHash,
    CreatedAt,
    ExpiresAt,
    Attempts,
    MaxAttempts,
    UsedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    Id,
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
                    .table(OutboxMessages::Table)
                    .col(pk_uuid(OutboxMessages::Id))
                    .col(uuid(OutboxMessages::TenantId))
                    .col(string_len(OutboxMessages::Channel, 16))
                    .col(string_len(OutboxMessages::Recipient, 320))
                    .col(string_len(OutboxMessages::Subject, 256))
                    // May hold a code until it is sent; emptied once delivered.
                    .col(text(OutboxMessages::Body))
                    .col(timestamp_with_time_zone(OutboxMessages::CreatedAt))
                    .col(timestamp_with_time_zone(OutboxMessages::NextAttemptAt))
                    .col(integer(OutboxMessages::Attempts).default(0))
                    .col(string_len_null(OutboxMessages::ClaimedBy, 64))
                    .col(timestamp_with_time_zone_null(OutboxMessages::ClaimedUntil))
                    .col(timestamp_with_time_zone_null(OutboxMessages::SentAt))
                    .col(text_null(OutboxMessages::LastError))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OutboxMessages::Table, OutboxMessages::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_outbox_due")
                    .table(OutboxMessages::Table)
                    .col(OutboxMessages::SentAt)
                    .col(OutboxMessages::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OneTimeCodes::Table)
                    .col(pk_uuid(OneTimeCodes::Id))
                    .col(uuid(OneTimeCodes::TenantId))
                    .col(uuid(OneTimeCodes::UserId))
                    .col(string_len(OneTimeCodes::Purpose, 32))
                    // SHA-256 of the code; the code itself is only in the message sent.
                    .col(string_len(OneTimeCodes::CodeHash, 64))
                    .col(timestamp_with_time_zone(OneTimeCodes::CreatedAt))
                    .col(timestamp_with_time_zone(OneTimeCodes::ExpiresAt))
                    .col(integer(OneTimeCodes::Attempts).default(0))
                    .col(integer(OneTimeCodes::MaxAttempts))
                    .col(timestamp_with_time_zone_null(OneTimeCodes::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OneTimeCodes::Table, OneTimeCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OneTimeCodes::Table, OneTimeCodes::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_one_time_codes_user")
                    .table(OneTimeCodes::Table)
                    .col(OneTimeCodes::UserId)
                    .col(OneTimeCodes::Purpose)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(OneTimeCodes::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(OutboxMessages::Table).to_owned())
            .await
    }
}
