//! Self-service reset flows.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
use uuid::Uuid;

use super::entities::reset_flow;
use super::{Store, StoreResult, Tx};

/// A stored flow.
pub type FlowRow = reset_flow::Model;

impl Store {
    /// A flow by id.
    pub async fn flow(&self, id: Uuid) -> StoreResult<Option<FlowRow>> {
        Ok(reset_flow::Entity::find_by_id(id).one(self.conn()).await?)
    }

    /// How many flows a user started since `since`.
    pub async fn flows_since(&self, user_id: Uuid, since: DateTime<Utc>) -> StoreResult<u64> {
        Ok(reset_flow::Entity::find()
            .filter(reset_flow::Column::UserId.eq(user_id))
            .filter(reset_flow::Column::CreatedAt.gt(since))
            .count(self.conn())
            .await?)
    }

    /// Stores a new flow.
    pub async fn insert_flow(&self, row: FlowRow) -> StoreResult<()> {
        reset_flow::Entity::insert(reset_flow::ActiveModel::from(row))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Spends one try of the flow atomically; false when none were left.
    pub async fn spend_flow_try(&self, id: Uuid, max: i32) -> StoreResult<bool> {
        let result = reset_flow::Entity::update_many()
            .col_expr(
                reset_flow::Column::Attempts,
                Expr::col(reset_flow::Column::Attempts).add(1),
            )
            .filter(reset_flow::Column::Id.eq(id))
            .filter(reset_flow::Column::Attempts.lt(max))
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }
}

impl Tx {
    /// A flow by id, read inside the transaction (under the tenant lock).
    pub async fn flow(&self, id: Uuid) -> StoreResult<Option<FlowRow>> {
        Ok(reset_flow::Entity::find_by_id(id).one(self.conn()).await?)
    }

    /// Records the proved methods and uses the code up.
    pub async fn prove(&self, id: Uuid, proved: &str) -> StoreResult<()> {
        reset_flow::Entity::update_many()
            .col_expr(reset_flow::Column::Proved, Expr::value(proved))
            .col_expr(
                reset_flow::Column::CodeHash,
                Expr::value(Option::<String>::None),
            )
            .filter(reset_flow::Column::Id.eq(id))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Gives back a try taken by a code that proved right.
    pub async fn refund_flow_try(&self, id: Uuid) -> StoreResult<()> {
        reset_flow::Entity::update_many()
            .col_expr(
                reset_flow::Column::Attempts,
                Expr::col(reset_flow::Column::Attempts).sub(1),
            )
            .filter(reset_flow::Column::Id.eq(id))
            .filter(reset_flow::Column::Attempts.gt(0))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Takes one of the flow's sends; false when it may send no more.
    pub async fn spend_flow_send(&self, id: Uuid, max_sends: i32) -> StoreResult<bool> {
        let result = reset_flow::Entity::update_many()
            .col_expr(
                reset_flow::Column::Sends,
                Expr::col(reset_flow::Column::Sends).add(1),
            )
            .filter(reset_flow::Column::Id.eq(id))
            .filter(reset_flow::Column::Sends.lt(max_sends))
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Replaces the flow's code (a resend voids the previous one; tries are kept).
    pub async fn set_flow_code(
        &self,
        id: Uuid,
        method_id: Uuid,
        code_hash: String,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        reset_flow::Entity::update_many()
            .col_expr(reset_flow::Column::CodeHash, Expr::value(code_hash))
            .col_expr(reset_flow::Column::CodeMethodId, Expr::value(method_id))
            .col_expr(reset_flow::Column::CodeExpiresAt, Expr::value(expires_at))
            .filter(reset_flow::Column::Id.eq(id))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Completes a flow; false when it was completed already.
    pub async fn complete_flow(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        let result = reset_flow::Entity::update_many()
            .col_expr(reset_flow::Column::CompletedAt, Expr::value(at))
            .filter(reset_flow::Column::Id.eq(id))
            .filter(reset_flow::Column::CompletedAt.is_null())
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }
}
