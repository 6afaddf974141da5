//! Registration at sign-in: the tenant settings that make people register security info
//! (and reconfirm it), each person's snoozes and last reminder, and the index that answers
//! "who has not registered" per user.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum PasswordPolicies {
    Table,
    RequireRegistration,
    RegistrationSnoozes,
    RegistrationSnoozeDays,
    ReconfirmDays,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    RegistrationSnoozesUsed,
    RegistrationSnoozedUntil,
    RegistrationRemindedAt,
}

#[derive(DeriveIden)]
enum VerificationMethods {
    Table,
    UserId,
    VerifiedAt,
}

const METHODS_BY_USER: &str = "ix_verification_methods_user_verified";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        let policy_columns = [
            boolean(PasswordPolicies::RequireRegistration)
                .default(false)
                .to_owned(),
            integer(PasswordPolicies::RegistrationSnoozes)
                .default(3)
                .to_owned(),
            integer(PasswordPolicies::RegistrationSnoozeDays)
                .default(1)
                .to_owned(),
            integer(PasswordPolicies::ReconfirmDays)
                .default(0)
                .to_owned(),
        ];
        for column in policy_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(PasswordPolicies::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        let user_columns = [
            integer(Users::RegistrationSnoozesUsed)
                .default(0)
                .to_owned(),
            timestamp_with_time_zone_null(Users::RegistrationSnoozedUntil),
            timestamp_with_time_zone_null(Users::RegistrationRemindedAt),
        ];
        for column in user_columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // Counting a user's confirmed methods (listings filtered by registration) reads the
        // index alone.
        manager
            .create_index(
                Index::create()
                    .name(METHODS_BY_USER)
                    .table(VerificationMethods::Table)
                    .col(VerificationMethods::UserId)
                    .col(VerificationMethods::VerifiedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(METHODS_BY_USER)
                    .table(VerificationMethods::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Users::RegistrationRemindedAt,
            Users::RegistrationSnoozedUntil,
            Users::RegistrationSnoozesUsed,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [
            PasswordPolicies::ReconfirmDays,
            PasswordPolicies::RegistrationSnoozeDays,
            PasswordPolicies::RegistrationSnoozes,
            PasswordPolicies::RequireRegistration,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PasswordPolicies::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
