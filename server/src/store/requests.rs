//! "Contact an administrator" requests.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use uuid::Uuid;

use super::entities::{reset_request, role_assignment, user};
use super::{Store, StoreResult, Tx, UserRow, UserScope};

/// A stored request.
pub type RequestRow = reset_request::Model;

/// The state of a request waiting for an administrator.
pub const OPEN: &str = "open";

impl Tx {
    /// The person's open request, if any.
    pub async fn open_request(&self, user_id: Uuid) -> StoreResult<Option<RequestRow>> {
        Ok(reset_request::Entity::find()
            .filter(reset_request::Column::UserId.eq(user_id))
            .filter(reset_request::Column::State.eq(OPEN))
            .one(self.conn())
            .await?)
    }

    /// Stores a new request.
    pub async fn insert_request(&self, row: RequestRow) -> StoreResult<()> {
        reset_request::Entity::insert(reset_request::ActiveModel::from(row))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Records another ask on an open request.
    pub async fn ask_again(
        &self,
        id: Uuid,
        message: &str,
        at: DateTime<Utc>,
        notified: bool,
    ) -> StoreResult<()> {
        let mut update = reset_request::Entity::update_many()
            .col_expr(reset_request::Column::Message, Expr::value(message))
            .col_expr(reset_request::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                reset_request::Column::TimesAsked,
                Expr::col(reset_request::Column::TimesAsked).add(1),
            )
            .filter(reset_request::Column::Id.eq(id));
        if notified {
            update = update.col_expr(reset_request::Column::LastNotifiedAt, Expr::value(at));
        }
        update.exec(self.conn()).await?;
        Ok(())
    }

    /// Closes an open request; false when it was not open.
    pub async fn resolve_request(
        &self,
        id: Uuid,
        state: &str,
        resolved_by: &str,
        comment: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = reset_request::Entity::update_many()
            .col_expr(reset_request::Column::State, Expr::value(state))
            .col_expr(reset_request::Column::ResolvedBy, Expr::value(resolved_by))
            .col_expr(reset_request::Column::Comment, Expr::value(comment))
            .col_expr(reset_request::Column::UpdatedAt, Expr::value(at))
            .filter(reset_request::Column::Id.eq(id))
            .filter(reset_request::Column::State.eq(OPEN))
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }
}

impl Store {
    /// A tenant's request by id.
    pub async fn request(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<Option<RequestRow>> {
        Ok(reset_request::Entity::find_by_id(id)
            .filter(reset_request::Column::TenantId.eq(tenant_id))
            .one(self.conn())
            .await?)
    }

    /// A page of requests of users in scope, newest first.
    pub async fn list_requests(
        &self,
        scope: &UserScope<'_>,
        state: Option<&str>,
        before: Option<Uuid>,
        limit: u64,
    ) -> StoreResult<Vec<RequestRow>> {
        let mut query = reset_request::Entity::find()
            .filter(reset_request::Column::TenantId.eq(scope.tenant_id));
        query = scope.apply(query, reset_request::Column::UserId);
        if let Some(state) = state {
            query = query.filter(reset_request::Column::State.eq(state));
        }
        if let Some(before) = before {
            query = query.filter(reset_request::Column::Id.lt(before));
        }
        Ok(query
            .order_by_desc(reset_request::Column::Id)
            .limit(limit)
            .all(self.conn())
            .await?)
    }

    /// The users of a tenant holding a role across the tenant (not only over a unit).
    pub async fn users_with_role(&self, tenant_id: Uuid, role: &str) -> StoreResult<Vec<UserRow>> {
        let ids: Vec<Uuid> = role_assignment::Entity::find()
            .filter(role_assignment::Column::TenantId.eq(tenant_id))
            .filter(role_assignment::Column::Role.eq(role))
            .filter(role_assignment::Column::UnitId.is_null())
            .filter(role_assignment::Column::UserId.is_not_null())
            .all(self.conn())
            .await?
            .into_iter()
            .filter_map(|r| r.user_id)
            .collect();
        Ok(user::Entity::find()
            .filter(user::Column::Id.is_in(ids))
            .order_by_asc(user::Column::Username)
            .all(self.conn())
            .await?)
    }
}
