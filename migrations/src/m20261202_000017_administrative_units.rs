//! Administrative units: named sets of users of a tenant, and role assignments scoped to one.
//!
//! A unit's members are rows of `unit_members`; deleting the unit or the user deletes the
//! membership. `role_assignments.unit_id` is null for a tenant-wide assignment and names the
//! unit otherwise. A principal holds a
//! role at most once tenant-wide and at most once per unit, which two pairs of partial unique
//! indexes (one pair for users, one for services) say on both databases. The unit of an
//! assignment is not a reference (SQLite could not drop such a column again): deleting a unit
//! deletes its scoped assignments in the same transaction.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum AdministrativeUnits {
    Table,
    Id,
    TenantId,
    Name,
    NameKey,
    Description,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UnitMembers {
    Table,
    UnitId,
    UserId,
    TenantId,
    AddedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RoleAssignments {
    Table,
    TenantId,
    UserId,
    Service,
    Role,
    UnitId,
}

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

/// The uniqueness indexes of the first schema, replaced by the scoped pairs below.
const TENANT_WIDE: [(&str, RoleAssignments); 2] = [
    ("ux_role_assignments_user", RoleAssignments::UserId),
    ("ux_role_assignments_service", RoleAssignments::Service),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too: the indexes are dropped and made again on one
    /// connection (another connection of the pool could still see the dropped ones), and a
    /// failure leaves the schema as it was.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AdministrativeUnits::Table)
                    .col(pk_uuid(AdministrativeUnits::Id))
                    .col(uuid(AdministrativeUnits::TenantId))
                    .col(string_len(AdministrativeUnits::Name, 128))
                    // The name in lower case: unique in the tenant whatever the case.
                    .col(string_len(AdministrativeUnits::NameKey, 128))
                    .col(string_len(AdministrativeUnits::Description, 1024))
                    .col(big_integer(AdministrativeUnits::Version))
                    .col(timestamp_with_time_zone(AdministrativeUnits::CreatedAt))
                    .col(timestamp_with_time_zone(AdministrativeUnits::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(AdministrativeUnits::Table, AdministrativeUnits::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_administrative_units_tenant_name")
                    .table(AdministrativeUnits::Table)
                    .col(AdministrativeUnits::TenantId)
                    .col(AdministrativeUnits::NameKey)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UnitMembers::Table)
                    .col(uuid(UnitMembers::UnitId))
                    .col(uuid(UnitMembers::UserId))
                    .col(uuid(UnitMembers::TenantId))
                    .col(timestamp_with_time_zone(UnitMembers::AddedAt))
                    .primary_key(
                        Index::create()
                            .col(UnitMembers::UnitId)
                            .col(UnitMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UnitMembers::Table, UnitMembers::UnitId)
                            .to(AdministrativeUnits::Table, AdministrativeUnits::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UnitMembers::Table, UnitMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A user's units, for every "may this actor touch this user" decision.
        manager
            .create_index(
                Index::create()
                    .name("ix_unit_members_tenant_user")
                    .table(UnitMembers::Table)
                    .col(UnitMembers::TenantId)
                    .col(UnitMembers::UserId)
                    .to_owned(),
            )
            .await?;

        // Deleting a unit deletes its scoped assignments in the same transaction (a reference
        // here would stop SQLite from ever dropping the column again).
        manager
            .alter_table(
                Table::alter()
                    .table(RoleAssignments::Table)
                    .add_column(uuid_null(RoleAssignments::UnitId))
                    .to_owned(),
            )
            .await?;
        for (name, holder) in TENANT_WIDE {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(RoleAssignments::Table)
                        .to_owned(),
                )
                .await?;
            let mut tenant_wide = Index::create();
            tenant_wide
                .name(name)
                .table(RoleAssignments::Table)
                .col(RoleAssignments::TenantId)
                .col(holder)
                .col(RoleAssignments::Role)
                .unique()
                .and_where(Expr::col(RoleAssignments::UnitId).is_null());
            manager.create_index(tenant_wide.to_owned()).await?;
            let mut scoped = Index::create();
            scoped
                .name(format!("{name}_unit"))
                .table(RoleAssignments::Table)
                .col(RoleAssignments::TenantId)
                .col(holder)
                .col(RoleAssignments::Role)
                .col(RoleAssignments::UnitId)
                .unique()
                .and_where(Expr::col(RoleAssignments::UnitId).is_not_null());
            manager.create_index(scoped.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        connection
            .execute_unprepared("DELETE FROM role_assignments WHERE unit_id IS NOT NULL")
            .await?;
        for (name, holder) in TENANT_WIDE {
            for index in [format!("{name}_unit"), name.to_owned()] {
                manager
                    .drop_index(
                        Index::drop()
                            .name(index)
                            .table(RoleAssignments::Table)
                            .to_owned(),
                    )
                    .await?;
            }
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(RoleAssignments::Table)
                        .col(RoleAssignments::TenantId)
                        .col(holder)
                        .col(RoleAssignments::Role)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(RoleAssignments::Table)
                    .drop_column(RoleAssignments::UnitId)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(UnitMembers::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AdministrativeUnits::Table).to_owned())
            .await?;
        Ok(())
    }
}
