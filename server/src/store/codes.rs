//! One-time codes (invitations, reset codes), stored as SHA-256 only.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _};
use uuid::Uuid;

use super::entities::one_time_code;
use super::{Store, StoreResult, Tx};

/// A stored code.
pub type CodeRow = one_time_code::Model;

impl Tx {
    /// Stores a code, replacing (using up) earlier unused codes of the same purpose.
    pub async fn insert_code(&self, row: CodeRow) -> StoreResult<()> {
        one_time_code::Entity::update_many()
            .col_expr(one_time_code::Column::UsedAt, Expr::value(row.created_at))
            .filter(one_time_code::Column::UserId.eq(row.user_id))
            .filter(one_time_code::Column::Purpose.eq(row.purpose.as_str()))
            .filter(one_time_code::Column::UsedAt.is_null())
            .exec(self.conn())
            .await?;
        one_time_code::Entity::insert(one_time_code::ActiveModel::from(row))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Uses a code up; false when it was used already (single use, even under races).
    pub async fn use_code(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<bool> {
        let result = one_time_code::Entity::update_many()
            .col_expr(one_time_code::Column::UsedAt, Expr::value(at))
            .filter(one_time_code::Column::Id.eq(id))
            .filter(one_time_code::Column::UsedAt.is_null())
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }
}

impl Store {
    /// The live code of a user for a purpose: unused, unexpired, with tries left.
    pub async fn live_code(
        &self,
        user_id: Uuid,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<CodeRow>> {
        Ok(one_time_code::Entity::find()
            .filter(one_time_code::Column::UserId.eq(user_id))
            .filter(one_time_code::Column::Purpose.eq(purpose))
            .filter(one_time_code::Column::UsedAt.is_null())
            .filter(one_time_code::Column::ExpiresAt.gt(now))
            .filter(
                Expr::col(one_time_code::Column::Attempts)
                    .lt(Expr::col(one_time_code::Column::MaxAttempts)),
            )
            .one(self.conn())
            .await?)
    }

    /// Counts a wrong try against a code atomically; false when no tries were left.
    pub async fn spend_code_try(&self, id: Uuid) -> StoreResult<bool> {
        let result = one_time_code::Entity::update_many()
            .col_expr(
                one_time_code::Column::Attempts,
                Expr::col(one_time_code::Column::Attempts).add(1),
            )
            .filter(one_time_code::Column::Id.eq(id))
            .filter(
                Expr::col(one_time_code::Column::Attempts)
                    .lt(Expr::col(one_time_code::Column::MaxAttempts)),
            )
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }
}
