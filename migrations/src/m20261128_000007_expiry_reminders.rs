//! Which password an expiry reminder was last sent for, so each password gets one reminder
//! however many servers run the reminder job.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum PasswordCredentials {
    Table,
    ReminderSentFor,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PasswordCredentials::Table)
                    // The `set_at` of the password the last reminder was about.
                    .add_column(timestamp_with_time_zone_null(
                        PasswordCredentials::ReminderSentFor,
                    ))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PasswordCredentials::Table)
                    .drop_column(PasswordCredentials::ReminderSentFor)
                    .to_owned(),
            )
            .await
    }
}
