//! Registration at sign-in: the tenant settings that make people register security info
//! (and reconfirm it), each person's snoozes and last reminder, and what lets "who has not
//! registered" be listed from an index: each person's judged registration state and the
//! confirmation it rests on, and the policy a tenant's states were judged under. Every
//! tenant starts unjudged, so the server judges everyone once after the upgrade.

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
    TenantId,
    Username,
    RegistrationSnoozesUsed,
    RegistrationSnoozedUntil,
    RegistrationRemindedAt,
    RegistrationState,
    RegistrationAnchorAt,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    RegistrationJudgedFor,
}

#[derive(DeriveIden)]
enum VerificationMethods {
    Table,
    UserId,
    VerifiedAt,
}

const METHODS_BY_USER: &str = "ix_verification_methods_user_verified";
const USERS_BY_REGISTRATION: &str = "ix_users_registration_username";
const USERS_BY_ANCHOR: &str = "ix_users_registration_anchor";

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
            string_len(Users::RegistrationState, 16)
                .default("not_registered")
                .to_owned(),
            timestamp_with_time_zone_null(Users::RegistrationAnchorAt),
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
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .add_column(string_len(Tenants::RegistrationJudgedFor, 32).default(""))
                    .to_owned(),
            )
            .await?;
        // Judging a user (their newest confirmations) reads this index alone.
        manager
            .create_index(
                Index::create()
                    .name(METHODS_BY_USER)
                    .table(VerificationMethods::Table)
                    .col(VerificationMethods::UserId)
                    .col(VerificationMethods::VerifiedAt)
                    .to_owned(),
            )
            .await?;
        // A page of the users in one registration state, in username order.
        manager
            .create_index(
                Index::create()
                    .name(USERS_BY_REGISTRATION)
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(Users::RegistrationState)
                    .col(Users::Username)
                    .to_owned(),
            )
            .await?;
        // The registered users whose confirmations lapsed, for the sweep that marks them.
        manager
            .create_index(
                Index::create()
                    .name(USERS_BY_ANCHOR)
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(Users::RegistrationState)
                    .col(Users::RegistrationAnchorAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (index, table) in [
            (USERS_BY_ANCHOR, Users::Table.into_iden()),
            (USERS_BY_REGISTRATION, Users::Table.into_iden()),
            (METHODS_BY_USER, VerificationMethods::Table.into_iden()),
        ] {
            manager
                .drop_index(Index::drop().name(index).table(table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Tenants::Table)
                    .drop_column(Tenants::RegistrationJudgedFor)
                    .to_owned(),
            )
            .await?;
        for column in [
            Users::RegistrationAnchorAt,
            Users::RegistrationState,
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
