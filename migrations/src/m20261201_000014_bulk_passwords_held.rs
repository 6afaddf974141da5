//! A bulk reset's generated password is kept with its item, sealed under the server's key,
//! until the caller acknowledges the job's results (or the password changes or expires), so a
//! caller cut off mid-stream gets it again from a retry instead of losing it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum BulkJobItems {
    Table,
    SealedPassword,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(BulkJobItems::Table)
                    .add_column(text_null(BulkJobItems::SealedPassword))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(BulkJobItems::Table)
                    .drop_column(BulkJobItems::SealedPassword)
                    .to_owned(),
            )
            .await
    }
}
