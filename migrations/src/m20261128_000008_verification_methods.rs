//! Security info: the verification methods a person registers (alternate email,
//! authenticator app) to reset a forgotten password themselves.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum VerificationMethods {
    Table,
    Id,
    TenantId,
    UserId,
    Kind,
    Address,
    CreatedAt,
    VerifiedAt,
    CodeHash,
    CodeExpiresAt,
    CodeAttempts,
    LastTotpStep,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(VerificationMethods::Table)
                    .col(pk_uuid(VerificationMethods::Id))
                    .col(uuid(VerificationMethods::TenantId))
                    .col(uuid(VerificationMethods::UserId))
                    // `email` or `authenticator`.
                    .col(string_len(VerificationMethods::Kind, 16))
                    // The email address, or the authenticator's base32 secret.
                    .col(string_len(VerificationMethods::Address, 320))
                    .col(timestamp_with_time_zone(VerificationMethods::CreatedAt))
                    .col(timestamp_with_time_zone_null(
                        VerificationMethods::VerifiedAt,
                    ))
                    // SHA-256 of the pending confirmation code of an email method.
                    .col(string_len_null(VerificationMethods::CodeHash, 64))
                    .col(timestamp_with_time_zone_null(
                        VerificationMethods::CodeExpiresAt,
                    ))
                    .col(integer(VerificationMethods::CodeAttempts).default(0))
                    // The last authenticator time step accepted: a code is never accepted twice.
                    .col(big_integer(VerificationMethods::LastTotpStep).default(0))
                    .foreign_key(
                        ForeignKey::create()
                            .from(VerificationMethods::Table, VerificationMethods::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_verification_methods_user")
                    .table(VerificationMethods::Table)
                    .col(VerificationMethods::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(VerificationMethods::Table).to_owned())
            .await
    }
}
