//! Role assignments of users and services.

use sea_orm::{
    ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _,
};
use uuid::Uuid;

use super::cache::Holder;
use super::entities::role_assignment;
use super::{RoleRow, Store, StoreError, StoreResult, Tx};

/// Which assignments a listing returns.
#[derive(Clone, Debug, Default)]
pub struct RoleFilter {
    /// Only this user's.
    pub user_id: Option<Uuid>,
    /// Only this service's.
    pub service: Option<String>,
    /// Only this role.
    pub role: Option<String>,
    /// Only assignments scoped to this unit.
    pub unit_id: Option<Uuid>,
    /// Only assignments with a larger id (keyset pagination).
    pub after: Option<Uuid>,
}

impl Store {
    /// The roles held by users of the tenant, for the given users.
    pub async fn roles_of_users(
        &self,
        tenant_id: Uuid,
        user_ids: &[Uuid],
    ) -> StoreResult<Vec<RoleRow>> {
        let query = async {
            Ok(role_assignment::Entity::find()
                .filter(role_assignment::Column::TenantId.eq(tenant_id))
                .filter(role_assignment::Column::UserId.is_in(user_ids.iter().copied()))
                .all(self.conn())
                .await?)
        };
        match user_ids {
            // One user's roles (a caller's, on every admin call) come from the read cache.
            [one] => {
                let key = (tenant_id, Holder::User(*one));
                self.cache.through(&self.cache.roles, key, query).await
            }
            _ => query.await,
        }
    }

    /// The roles a service holds in the tenant.
    pub async fn roles_of_service(
        &self,
        tenant_id: Uuid,
        service: &str,
    ) -> StoreResult<Vec<RoleRow>> {
        let query = async {
            Ok(role_assignment::Entity::find()
                .filter(role_assignment::Column::TenantId.eq(tenant_id))
                .filter(role_assignment::Column::Service.eq(service))
                .all(self.conn())
                .await?)
        };
        let key = (tenant_id, Holder::Service(service.to_owned()));
        self.cache.through(&self.cache.roles, key, query).await
    }

    /// A page of assignments, oldest first.
    pub async fn list_roles(
        &self,
        tenant_id: Uuid,
        filter: &RoleFilter,
        limit: u64,
    ) -> StoreResult<Vec<RoleRow>> {
        let mut query =
            role_assignment::Entity::find().filter(role_assignment::Column::TenantId.eq(tenant_id));
        if let Some(user_id) = filter.user_id {
            query = query.filter(role_assignment::Column::UserId.eq(user_id));
        }
        if let Some(service) = &filter.service {
            query = query.filter(role_assignment::Column::Service.eq(service.as_str()));
        }
        if let Some(role) = &filter.role {
            query = query.filter(role_assignment::Column::Role.eq(role.as_str()));
        }
        if let Some(unit_id) = filter.unit_id {
            query = query.filter(role_assignment::Column::UnitId.eq(unit_id));
        }
        if let Some(after) = filter.after {
            query = query.filter(role_assignment::Column::Id.gt(after));
        }
        Ok(query
            .order_by_asc(role_assignment::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await?)
    }
}

impl Tx {
    /// Stores an assignment; a duplicate is [`StoreError::Conflict`].
    pub async fn insert_role(&self, row: RoleRow) -> StoreResult<RoleRow> {
        self.invalidates_cache();
        role_assignment::Entity::insert(role_assignment::ActiveModel::from(row))
            .exec_with_returning(self.conn())
            .await
            .map_err(|e| StoreError::conflict_as(e, "the principal already holds this role"))
    }

    /// Deletes an assignment (tenant-wide, or scoped to `unit_id`); false when there was none.
    pub async fn delete_role(
        &self,
        tenant_id: Uuid,
        user_id: Option<Uuid>,
        service: Option<&str>,
        role: &str,
        unit_id: Option<Uuid>,
    ) -> StoreResult<bool> {
        self.invalidates_cache();
        let Some(assignment) = assignment(tenant_id, user_id, service, role, unit_id) else {
            return Ok(false);
        };
        Ok(role_assignment::Entity::delete_many()
            .filter(assignment)
            .exec(self.conn())
            .await?
            .rows_affected
            > 0)
    }

    /// How many users (not services) hold a role across the tenant, seen from inside this
    /// transaction.
    pub async fn count_users_with_role(&self, tenant_id: Uuid, role: &str) -> StoreResult<u64> {
        Ok(role_assignment::Entity::find()
            .filter(role_assignment::Column::TenantId.eq(tenant_id))
            .filter(role_assignment::Column::Role.eq(role))
            .filter(role_assignment::Column::UnitId.is_null())
            .filter(role_assignment::Column::UserId.is_not_null())
            .count(self.conn())
            .await?)
    }

    /// Whether a user (or, with `user_id` `None`, the service) holds `role` across the tenant,
    /// seen from inside this transaction.
    pub async fn holds_role(
        &self,
        tenant_id: Uuid,
        user_id: Option<Uuid>,
        service: Option<&str>,
        role: &str,
    ) -> StoreResult<bool> {
        let Some(assignment) = assignment(tenant_id, user_id, service, role, None) else {
            return Ok(false);
        };
        Ok(role_assignment::Entity::find()
            .filter(assignment)
            .count(self.conn())
            .await?
            > 0)
    }

    /// The roles of one user, seen from inside this transaction.
    pub async fn roles_of_user(&self, tenant_id: Uuid, user_id: Uuid) -> StoreResult<Vec<RoleRow>> {
        Ok(role_assignment::Entity::find()
            .filter(role_assignment::Column::TenantId.eq(tenant_id))
            .filter(role_assignment::Column::UserId.eq(user_id))
            .all(self.conn())
            .await?)
    }
}

/// The assignment of `role` to a user, or (with `user_id` `None`) to the service, across the
/// tenant or (with `unit_id`) over one unit; `None` when no holder is named.
fn assignment(
    tenant_id: Uuid,
    user_id: Option<Uuid>,
    service: Option<&str>,
    role: &str,
    unit_id: Option<Uuid>,
) -> Option<sea_orm::Condition> {
    let holder = match (user_id, service) {
        (Some(id), _) => role_assignment::Column::UserId.eq(id),
        (None, Some(name)) => role_assignment::Column::Service.eq(name),
        (None, None) => return None,
    };
    Some(
        sea_orm::Condition::all()
            .add(role_assignment::Column::TenantId.eq(tenant_id))
            .add(role_assignment::Column::Role.eq(role))
            .add(match unit_id {
                Some(unit) => role_assignment::Column::UnitId.eq(unit),
                None => role_assignment::Column::UnitId.is_null(),
            })
            .add(holder),
    )
}
