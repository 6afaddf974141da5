//! Two tenant settings of the notices a password change sends: the person told of an
//! administrator's reset, every global admin told of a change to an administrator's password.
//! Both on by default, also for the tenants that exist.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum PasswordPolicies {
    Table,
    NotifyPersonOnAdminReset,
    NotifyAdminsOnAdminPasswordChange,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one thing at a time.
        for column in [
            PasswordPolicies::NotifyPersonOnAdminReset,
            PasswordPolicies::NotifyAdminsOnAdminPasswordChange,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(PasswordPolicies::Table)
                        .add_column(boolean(column).default(true))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            PasswordPolicies::NotifyAdminsOnAdminPasswordChange,
            PasswordPolicies::NotifyPersonOnAdminReset,
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
