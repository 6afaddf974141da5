//! At most one default tenant, enforced by the database: two replicas bootstrapping at once
//! cannot both create one.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A partial index: sea-query has no builder for one; both SQLite and PostgreSQL
        // accept this statement.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX ux_tenants_one_default ON tenants (is_default) WHERE is_default",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ux_tenants_one_default")
                    .table(Alias::new("tenants"))
                    .to_owned(),
            )
            .await
    }
}
