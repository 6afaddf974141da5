//! The wrong-password fingerprint key moves out of the database: fingerprints are now keyed
//! with the server's secret key (`secret_key_file`), so the `server_secrets` table, which held
//! the old key, goes. Codes stored under the old plain digest stop matching (reset and
//! confirmation codes live minutes; an outstanding invitation has to be sent again), and
//! authenticator secrets are sealed from now on, so any stored in clear are cleared and their
//! people enrol again. This runs before any release, so no deployment holds either.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ServerSecrets {
    Table,
    Name,
    Value,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum VerificationMethods {
    Table,
    Kind,
    Address,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServerSecrets::Table).to_owned())
            .await?;
        // Authenticators stored in clear (no `v1:` seal) cannot be used any more.
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(VerificationMethods::Table)
                    .and_where(Expr::col(VerificationMethods::Kind).eq("authenticator"))
                    .and_where(Expr::col(VerificationMethods::Address).not_like("v1:%"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServerSecrets::Table)
                    .col(string_len(ServerSecrets::Name, 64).primary_key())
                    .col(string(ServerSecrets::Value))
                    .col(timestamp_with_time_zone(ServerSecrets::CreatedAt))
                    .to_owned(),
            )
            .await
    }
}
