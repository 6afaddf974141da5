//! Codes sent per destination per hour, across every account and tenant: one row per
//! destination and hour, counted with a conditional `UPDATE` so replicas share one limit.
//! The key is a digest made by the server (a MAC under its secret key), not the address.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum SendQuotas {
    Table,
    Destination,
    WindowStart,
    Sent,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SendQuotas::Table)
                    .col(string_len(SendQuotas::Destination, 64))
                    .col(timestamp_with_time_zone(SendQuotas::WindowStart))
                    .col(integer(SendQuotas::Sent).default(0))
                    .primary_key(
                        Index::create()
                            .col(SendQuotas::Destination)
                            .col(SendQuotas::WindowStart),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_send_quotas_window")
                    .table(SendQuotas::Table)
                    .col(SendQuotas::WindowStart)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SendQuotas::Table).to_owned())
            .await
    }
}
