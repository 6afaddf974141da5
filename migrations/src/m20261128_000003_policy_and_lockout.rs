//! Password policy settings beyond length (strength, banned terms, lock-out cap, invitation
//! and reminder times), the per-user expiry exemption, and the keyed hashes of recent wrong
//! passwords that lock-out counting needs.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum PasswordPolicies {
    Table,
    MinStrengthScore,
    BannedTerms,
    ExpiryReminderDays,
    LockoutMaxSeconds,
    InvitationHours,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    PasswordNeverExpires,
}

#[derive(DeriveIden, Clone, Copy)]
enum PasswordCredentials {
    Table,
    RecentFailures,
}

#[derive(DeriveIden, Clone, Copy)]
enum ServerSecrets {
    Table,
    Name,
    Value,
    CreatedAt,
}

/// SQLite alters one column per statement.
async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + 'static,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(column).to_owned())
        .await
}

async fn drop(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + 'static,
    column: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(column).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let t = PasswordPolicies::Table;
        add(
            manager,
            t,
            integer(PasswordPolicies::MinStrengthScore)
                .default(3)
                .take(),
        )
        .await?;
        add(
            manager,
            t,
            text(PasswordPolicies::BannedTerms).default("[]").take(),
        )
        .await?;
        add(
            manager,
            t,
            integer(PasswordPolicies::ExpiryReminderDays)
                .default(14)
                .take(),
        )
        .await?;
        add(
            manager,
            t,
            integer(PasswordPolicies::LockoutMaxSeconds)
                .default(3600)
                .take(),
        )
        .await?;
        add(
            manager,
            t,
            integer(PasswordPolicies::InvitationHours)
                .default(24)
                .take(),
        )
        .await?;
        add(
            manager,
            Users::Table,
            boolean(Users::PasswordNeverExpires).default(false).take(),
        )
        .await?;
        // Comma-separated keyed hashes (never the attempts) of the last few wrong passwords.
        add(
            manager,
            PasswordCredentials::Table,
            text(PasswordCredentials::RecentFailures).default("").take(),
        )
        .await?;
        // Keys the servers share, generated once (e.g. the key of those keyed hashes).
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

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServerSecrets::Table).to_owned())
            .await?;
        drop(
            manager,
            PasswordCredentials::Table,
            PasswordCredentials::RecentFailures,
        )
        .await?;
        drop(manager, Users::Table, Users::PasswordNeverExpires).await?;
        let t = PasswordPolicies::Table;
        drop(manager, t, PasswordPolicies::InvitationHours).await?;
        drop(manager, t, PasswordPolicies::LockoutMaxSeconds).await?;
        drop(manager, t, PasswordPolicies::ExpiryReminderDays).await?;
        drop(manager, t, PasswordPolicies::BannedTerms).await?;
        drop(manager, t, PasswordPolicies::MinStrengthScore).await
    }
}
