//! Password checks in flight are counted apart from wrong passwords. A sign-in reserves a
//! place among the `lockout_threshold` an account allows before it checks a password; a wrong
//! password turns its place into a failure, a right one gives it back. Counting checks still
//! being hashed as failures refused correct passwords whenever many arrived at once.
//!
//! The places are leased: a process that dies mid-check leaves its places counted only until
//! `attempts_lease_until`, never for good.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum PasswordCredentials {
    Table,
    AttemptsInFlight,
    AttemptsLeaseUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(PasswordCredentials::Table)
                    .add_column(integer(PasswordCredentials::AttemptsInFlight).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PasswordCredentials::Table)
                    .add_column(timestamp_with_time_zone_null(
                        PasswordCredentials::AttemptsLeaseUntil,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            PasswordCredentials::AttemptsLeaseUntil,
            PasswordCredentials::AttemptsInFlight,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PasswordCredentials::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
