//! Compromised passwords: the operator's list, as an approximate-membership filter in chunks
//! that every replica reads (never the passwords), the time a credential was found on it at
//! sign-in, and the tenant setting that turns the sign-in check off.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum CompromisedLists {
    Table,
    Id,
    CreatedAt,
    Source,
    MinCount,
    Entries,
    FilterBytes,
    Chunks,
    FalsePositiveRate,
}

#[derive(DeriveIden)]
enum CompromisedListChunks {
    Table,
    ListId,
    Idx,
    Bytes,
}

#[derive(DeriveIden)]
enum PasswordCredentials {
    Table,
    CompromisedAt,
}

#[derive(DeriveIden)]
enum PasswordPolicies {
    Table,
    CompromisedCheckAtSignIn,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CompromisedLists::Table)
                    .col(pk_uuid(CompromisedLists::Id))
                    .col(timestamp_with_time_zone(CompromisedLists::CreatedAt))
                    .col(string_len(CompromisedLists::Source, 256))
                    .col(big_integer(CompromisedLists::MinCount))
                    .col(big_integer(CompromisedLists::Entries))
                    .col(big_integer(CompromisedLists::FilterBytes))
                    .col(integer(CompromisedLists::Chunks))
                    .col(double(CompromisedLists::FalsePositiveRate))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CompromisedListChunks::Table)
                    .col(uuid(CompromisedListChunks::ListId))
                    .col(integer(CompromisedListChunks::Idx))
                    .col(blob(CompromisedListChunks::Bytes))
                    .primary_key(
                        Index::create()
                            .col(CompromisedListChunks::ListId)
                            .col(CompromisedListChunks::Idx),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(CompromisedListChunks::Table, CompromisedListChunks::ListId)
                            .to(CompromisedLists::Table, CompromisedLists::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PasswordCredentials::Table)
                    .add_column(timestamp_with_time_zone_null(
                        PasswordCredentials::CompromisedAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PasswordPolicies::Table)
                    .add_column(boolean(PasswordPolicies::CompromisedCheckAtSignIn).default(true))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(PasswordPolicies::Table)
                    .drop_column(PasswordPolicies::CompromisedCheckAtSignIn)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(PasswordCredentials::Table)
                    .drop_column(PasswordCredentials::CompromisedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(CompromisedListChunks::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(CompromisedLists::Table).to_owned())
            .await
    }
}
