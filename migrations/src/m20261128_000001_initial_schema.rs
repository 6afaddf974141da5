//! The first schema: tenants, users, password credentials and history, password policy,
//! role assignments, sessions and the audit log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Name,
    PrimaryDomain,
    IsDefault,
    AuditSeq,
    AuditHead,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    TenantId,
    Username,
    DisplayName,
    ContactEmail,
    State,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum PasswordCredentials {
    Table,
    UserId,
    TenantId,
    Hash,
    SetAt,
    ExpiresAt,
    MustChange,
    Temporary,
    FailedAttempts,
    LockedUntil,
    LockoutCount,
}

#[derive(DeriveIden)]
enum PasswordHistory {
    Table,
    Id,
    TenantId,
    UserId,
    Hash,
    SetAt,
}

#[derive(DeriveIden)]
enum PasswordPolicies {
    Table,
    TenantId,
    MinLength,
    MaxLength,
    HistoryCount,
    MaxAgeDays,
    LockoutThreshold,
    LockoutSeconds,
    TemporaryPasswordHours,
    ResetCodeMinutes,
    ResetCodeAttempts,
    ResetMethodsRequired,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RoleAssignments {
    Table,
    Id,
    TenantId,
    UserId,
    Service,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    TenantId,
    UserId,
    TokenHash,
    Kind,
    ChangeReason,
    CallerService,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    TenantId,
    Seq,
    OccurredAt,
    Actor,
    CallerService,
    Action,
    Target,
    Outcome,
    Details,
    PrevHash,
    Hash,
}

fn fk_tenant(table: impl IntoIden + 'static) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, Alias::new("tenant_id"))
        .to(Tenants::Table, Tenants::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

fn fk_user(table: impl IntoIden + 'static) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, Alias::new("user_id"))
        .to(Users::Table, Users::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .take()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(pk_uuid(Tenants::Id))
                    .col(string_len_uniq(Tenants::Name, 128))
                    .col(string_len_null(Tenants::PrimaryDomain, 253).unique_key())
                    .col(boolean(Tenants::IsDefault))
                    // The head of the tenant's audit hash chain. Updating it inside each
                    // audited transaction serialises appends to one chain.
                    .col(big_integer(Tenants::AuditSeq).default(0))
                    .col(string_len(Tenants::AuditHead, 64))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    .col(uuid(Users::TenantId))
                    .col(string_len(Users::Username, 254))
                    .col(string_len(Users::DisplayName, 256))
                    .col(string_len(Users::ContactEmail, 254))
                    .col(string_len(Users::State, 32))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .col(big_integer(Users::Version))
                    .foreign_key(&mut fk_tenant(Users::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_users_tenant_username")
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .col(Users::Username)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PasswordCredentials::Table)
                    .col(pk_uuid(PasswordCredentials::UserId))
                    .col(uuid(PasswordCredentials::TenantId))
                    .col(text(PasswordCredentials::Hash))
                    .col(timestamp_with_time_zone(PasswordCredentials::SetAt))
                    .col(timestamp_with_time_zone_null(
                        PasswordCredentials::ExpiresAt,
                    ))
                    .col(boolean(PasswordCredentials::MustChange))
                    .col(boolean(PasswordCredentials::Temporary))
                    .col(integer(PasswordCredentials::FailedAttempts).default(0))
                    .col(timestamp_with_time_zone_null(
                        PasswordCredentials::LockedUntil,
                    ))
                    .col(integer(PasswordCredentials::LockoutCount).default(0))
                    .foreign_key(&mut fk_user(PasswordCredentials::Table))
                    .foreign_key(&mut fk_tenant(PasswordCredentials::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_password_credentials_tenant")
                    .table(PasswordCredentials::Table)
                    .col(PasswordCredentials::TenantId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PasswordHistory::Table)
                    .col(pk_uuid(PasswordHistory::Id))
                    .col(uuid(PasswordHistory::TenantId))
                    .col(uuid(PasswordHistory::UserId))
                    .col(text(PasswordHistory::Hash))
                    .col(timestamp_with_time_zone(PasswordHistory::SetAt))
                    .foreign_key(&mut fk_user(PasswordHistory::Table))
                    .foreign_key(&mut fk_tenant(PasswordHistory::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_password_history_user")
                    .table(PasswordHistory::Table)
                    .col(PasswordHistory::UserId)
                    .col(PasswordHistory::SetAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PasswordPolicies::Table)
                    .col(pk_uuid(PasswordPolicies::TenantId))
                    .col(integer(PasswordPolicies::MinLength))
                    .col(integer(PasswordPolicies::MaxLength))
                    .col(integer(PasswordPolicies::HistoryCount))
                    .col(integer(PasswordPolicies::MaxAgeDays))
                    .col(integer(PasswordPolicies::LockoutThreshold))
                    .col(integer(PasswordPolicies::LockoutSeconds))
                    .col(integer(PasswordPolicies::TemporaryPasswordHours))
                    .col(integer(PasswordPolicies::ResetCodeMinutes))
                    .col(integer(PasswordPolicies::ResetCodeAttempts))
                    .col(integer(PasswordPolicies::ResetMethodsRequired))
                    .col(timestamp_with_time_zone(PasswordPolicies::UpdatedAt))
                    .foreign_key(&mut fk_tenant(PasswordPolicies::Table))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RoleAssignments::Table)
                    .col(pk_uuid(RoleAssignments::Id))
                    .col(uuid(RoleAssignments::TenantId))
                    // Exactly one of user_id and service is set.
                    .col(uuid_null(RoleAssignments::UserId))
                    .col(string_len_null(RoleAssignments::Service, 512))
                    .col(string_len(RoleAssignments::Role, 32))
                    .col(timestamp_with_time_zone(RoleAssignments::CreatedAt))
                    .check(
                        Expr::col(RoleAssignments::UserId)
                            .is_null()
                            .ne(Expr::col(RoleAssignments::Service).is_null()),
                    )
                    .foreign_key(&mut fk_user(RoleAssignments::Table))
                    .foreign_key(&mut fk_tenant(RoleAssignments::Table))
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ux_role_assignments_user", RoleAssignments::UserId),
            ("ux_role_assignments_service", RoleAssignments::Service),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RoleAssignments::Table)
                        .col(RoleAssignments::TenantId)
                        .col(col)
                        .col(RoleAssignments::Role)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(uuid(Sessions::TenantId))
                    .col(uuid(Sessions::UserId))
                    // SHA-256 of the bearer token, hex; the token itself is never stored.
                    .col(string_len_uniq(Sessions::TokenHash, 64))
                    .col(string_len(Sessions::Kind, 32))
                    .col(string_len_null(Sessions::ChangeReason, 32))
                    .col(string_len_null(Sessions::CallerService, 512))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .foreign_key(&mut fk_user(Sessions::Table))
                    .foreign_key(&mut fk_tenant(Sessions::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    .col(uuid(AuditEvents::TenantId))
                    .col(big_integer(AuditEvents::Seq))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(string_len(AuditEvents::Actor, 600))
                    .col(string_len_null(AuditEvents::CallerService, 512))
                    .col(string_len(AuditEvents::Action, 64))
                    .col(string_len(AuditEvents::Target, 600))
                    .col(string_len(AuditEvents::Outcome, 32))
                    .col(text(AuditEvents::Details))
                    .col(string_len(AuditEvents::PrevHash, 64))
                    .col(string_len(AuditEvents::Hash, 64))
                    .foreign_key(&mut fk_tenant(AuditEvents::Table))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_audit_events_tenant_seq")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::Seq)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RoleAssignments::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PasswordPolicies::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PasswordHistory::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(PasswordCredentials::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Users::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Tenants::Table).to_owned())
            .await
    }
}
