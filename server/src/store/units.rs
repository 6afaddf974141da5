//! Administrative units and their members.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
    QueryTrait as _,
};
use uuid::Uuid;

use super::entities::{administrative_unit as unit, role_assignment, unit_member, user};
use super::{Store, StoreError, StoreResult, Tx, UnitRow};

/// One user's membership of one unit.
pub type UnitMemberRow = unit_member::Model;

const NAME_TAKEN: &str = "an administrative unit with this name already exists in the tenant";

impl Store {
    /// A unit of the tenant by id.
    pub async fn unit(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<Option<UnitRow>> {
        Ok(unit::Entity::find_by_id(id)
            .filter(unit::Column::TenantId.eq(tenant_id))
            .one(self.conn())
            .await?)
    }

    /// Units of the tenant among `ids`.
    pub async fn units(&self, tenant_id: Uuid, ids: &[Uuid]) -> StoreResult<Vec<UnitRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(unit::Entity::find()
            .filter(unit::Column::TenantId.eq(tenant_id))
            .filter(unit::Column::Id.is_in(ids.iter().copied()))
            .all(self.conn())
            .await?)
    }

    /// A page of the tenant's units by name (case-insensitive order), after `after` (a name key).
    pub async fn list_units(
        &self,
        tenant_id: Uuid,
        after: Option<&str>,
        limit: u64,
    ) -> StoreResult<Vec<UnitRow>> {
        let mut query = unit::Entity::find().filter(unit::Column::TenantId.eq(tenant_id));
        if let Some(after) = after {
            query = query.filter(unit::Column::NameKey.gt(after));
        }
        Ok(query
            .order_by_asc(unit::Column::NameKey)
            .limit(limit)
            .all(self.conn())
            .await?)
    }

    /// The memberships of the given users.
    pub async fn units_of_users(
        &self,
        tenant_id: Uuid,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<UnitMemberRow>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        Ok(unit_member::Entity::find()
            .filter(unit_member::Column::TenantId.eq(tenant_id))
            .filter(unit_member::Column::UserId.is_in(user_ids.iter().copied()))
            .all(self.conn())
            .await?)
    }

    /// The active users holding `role` scoped to any of `units` (not tenant-wide), by username.
    pub async fn users_with_role_in_units(
        &self,
        tenant_id: Uuid,
        role: &str,
        units: &[Uuid],
    ) -> StoreResult<Vec<super::UserRow>> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let holders = role_assignment::Entity::find()
            .select_only()
            .column(role_assignment::Column::UserId)
            .filter(role_assignment::Column::TenantId.eq(tenant_id))
            .filter(role_assignment::Column::Role.eq(role))
            .filter(role_assignment::Column::UnitId.is_in(units.iter().copied()))
            .filter(role_assignment::Column::UserId.is_not_null())
            .into_query();
        Ok(user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant_id))
            .filter(user::Column::Id.in_subquery(holders))
            .order_by_asc(user::Column::Username)
            .all(self.conn())
            .await?)
    }
}

impl Tx {
    /// Stores a new unit; a taken name is [`StoreError::Conflict`].
    pub async fn insert_unit(&self, row: UnitRow) -> StoreResult<UnitRow> {
        unit::Entity::insert(unit::ActiveModel::from(row))
            .exec_with_returning(self.conn())
            .await
            .map_err(|e| StoreError::conflict_as(e, NAME_TAKEN))
    }

    /// A unit of the tenant, locked until the transaction ends.
    pub async fn lock_unit(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<Option<UnitRow>> {
        Ok(unit::Entity::find_by_id(id)
            .filter(unit::Column::TenantId.eq(tenant_id))
            .lock_exclusive()
            .one(self.conn())
            .await?)
    }

    /// Writes a changed unit's name, description, version and time; a taken name is a
    /// conflict. Call [`Tx::lock_unit`] first.
    pub async fn update_unit(&self, row: &UnitRow) -> StoreResult<()> {
        unit::Entity::update_many()
            .col_expr(unit::Column::Name, Expr::value(row.name.clone()))
            .col_expr(unit::Column::NameKey, Expr::value(row.name_key.clone()))
            .col_expr(
                unit::Column::Description,
                Expr::value(row.description.clone()),
            )
            .col_expr(unit::Column::Version, Expr::value(row.version))
            .col_expr(unit::Column::UpdatedAt, Expr::value(row.updated_at))
            .filter(unit::Column::Id.eq(row.id))
            .exec(self.conn())
            .await
            .map_err(|e| StoreError::conflict_as(e, NAME_TAKEN))?;
        Ok(())
    }

    /// Deletes a unit with its memberships and the role assignments scoped to it; returns how
    /// many assignments went with it.
    pub async fn delete_unit(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<u64> {
        self.invalidates_cache();
        let assignments = role_assignment::Entity::delete_many()
            .filter(role_assignment::Column::TenantId.eq(tenant_id))
            .filter(role_assignment::Column::UnitId.eq(id))
            .exec(self.conn())
            .await?
            .rows_affected;
        unit_member::Entity::delete_many()
            .filter(unit_member::Column::UnitId.eq(id))
            .exec(self.conn())
            .await?;
        unit::Entity::delete_many()
            .filter(unit::Column::TenantId.eq(tenant_id))
            .filter(unit::Column::Id.eq(id))
            .exec(self.conn())
            .await?;
        Ok(assignments)
    }

    /// Which of `user_ids` are users of the tenant.
    pub async fn existing_users(
        &self,
        tenant_id: Uuid,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<Uuid>> {
        Ok(user::Entity::find()
            .select_only()
            .column(user::Column::Id)
            .filter(user::Column::TenantId.eq(tenant_id))
            .filter(user::Column::Id.is_in(user_ids.iter().copied()))
            .into_tuple()
            .all(self.conn())
            .await?)
    }

    /// Which of `user_ids` are members of the unit.
    pub async fn members_among(&self, unit_id: Uuid, user_ids: &[Uuid]) -> StoreResult<Vec<Uuid>> {
        Ok(unit_member::Entity::find()
            .select_only()
            .column(unit_member::Column::UserId)
            .filter(unit_member::Column::UnitId.eq(unit_id))
            .filter(unit_member::Column::UserId.is_in(user_ids.iter().copied()))
            .into_tuple()
            .all(self.conn())
            .await?)
    }

    /// Makes the users members of the unit; each must not be one already.
    pub async fn insert_members(
        &self,
        tenant_id: Uuid,
        unit_id: Uuid,
        user_ids: &[Uuid],
        at: DateTime<Utc>,
    ) -> StoreResult<()> {
        // A statement of a few hundred rows keeps under every database's parameter limit.
        for chunk in user_ids.chunks(200) {
            unit_member::Entity::insert_many(chunk.iter().map(|&user_id| {
                unit_member::ActiveModel::from(UnitMemberRow {
                    unit_id,
                    user_id,
                    tenant_id,
                    added_at: at,
                })
            }))
            .exec_without_returning(self.conn())
            .await?;
        }
        Ok(())
    }

    /// Removes the users from the unit; returns how many were members.
    pub async fn delete_members(&self, unit_id: Uuid, user_ids: &[Uuid]) -> StoreResult<u64> {
        Ok(unit_member::Entity::delete_many()
            .filter(unit_member::Column::UnitId.eq(unit_id))
            .filter(unit_member::Column::UserId.is_in(user_ids.iter().copied()))
            .exec(self.conn())
            .await?
            .rows_affected)
    }

    /// The units a user is a member of, as this transaction sees them.
    pub async fn units_of_user(&self, tenant_id: Uuid, user_id: Uuid) -> StoreResult<Vec<Uuid>> {
        Ok(unit_member::Entity::find()
            .select_only()
            .column(unit_member::Column::UnitId)
            .filter(unit_member::Column::TenantId.eq(tenant_id))
            .filter(unit_member::Column::UserId.eq(user_id))
            .into_tuple()
            .all(self.conn())
            .await?)
    }
}
