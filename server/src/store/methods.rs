//! Verification methods (security info).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _};
use uuid::Uuid;

use super::entities::verification_method;
use super::{Store, StoreResult, Tx};

/// A stored method.
pub type MethodRow = verification_method::Model;

/// What confirms a method.
#[derive(Clone, Copy, Debug)]
pub enum Proof<'a> {
    /// An authenticator's code, by its time step.
    Step(i64),
    /// The code sent to it, by the digest stored for it.
    Code(&'a str),
}

impl Store {
    /// A user's methods, oldest first.
    pub async fn methods(&self, user_id: Uuid) -> StoreResult<Vec<MethodRow>> {
        Ok(verification_method::Entity::find()
            .filter(verification_method::Column::UserId.eq(user_id))
            .order_by_asc(verification_method::Column::Id)
            .all(self.conn())
            .await?)
    }

    /// Every authenticator method, of every tenant (for sealing their secrets again after a
    /// key rotation).
    pub async fn authenticator_methods(&self) -> StoreResult<Vec<MethodRow>> {
        Ok(verification_method::Entity::find()
            .filter(verification_method::Column::Kind.eq("authenticator"))
            .all(self.conn())
            .await?)
    }

    /// Replaces a method's stored secret, only if it is still `old`; false otherwise.
    pub async fn replace_method_secret(&self, id: Uuid, old: &str, new: &str) -> StoreResult<bool> {
        let result = verification_method::Entity::update_many()
            .col_expr(verification_method::Column::Address, Expr::value(new))
            .filter(verification_method::Column::Id.eq(id))
            .filter(verification_method::Column::Address.eq(old))
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Counts a wrong confirmation code against a method atomically; false when no tries
    /// were left.
    pub async fn spend_method_try(&self, id: Uuid, max: i32) -> StoreResult<bool> {
        let result = verification_method::Entity::update_many()
            .col_expr(
                verification_method::Column::CodeAttempts,
                Expr::col(verification_method::Column::CodeAttempts).add(1),
            )
            .filter(verification_method::Column::Id.eq(id))
            .filter(verification_method::Column::CodeAttempts.lt(max))
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }
}

impl Tx {
    /// Stores a new method.
    pub async fn insert_method(&self, row: MethodRow) -> StoreResult<()> {
        verification_method::Entity::insert(verification_method::ActiveModel::from(row))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Marks a method confirmed now (first or again): for an authenticator, only with a time
    /// step newer than the last one accepted (a code is never accepted twice); for a code
    /// sent, only while it is still the method's code (two confirmations race for one code).
    /// False when that did not hold.
    pub async fn verify_method(
        &self,
        id: Uuid,
        proof: Proof<'_>,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let mut update = verification_method::Entity::update_many()
            .col_expr(verification_method::Column::VerifiedAt, Expr::value(at))
            .col_expr(
                verification_method::Column::CodeHash,
                Expr::value(Option::<String>::None),
            )
            .filter(verification_method::Column::Id.eq(id));
        update = match proof {
            Proof::Step(step) => update
                .col_expr(verification_method::Column::LastTotpStep, Expr::value(step))
                .filter(verification_method::Column::LastTotpStep.lt(std::cmp::max(step, 1))),
            Proof::Code(digest) => update.filter(verification_method::Column::CodeHash.eq(digest)),
        };
        Ok(update.exec(self.conn()).await?.rows_affected == 1)
    }

    /// A confirmed method proved again (in a self-service reset): it counts as confirmed now.
    pub async fn reconfirm_method(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        verification_method::Entity::update_many()
            .col_expr(verification_method::Column::VerifiedAt, Expr::value(at))
            .filter(verification_method::Column::Id.eq(id))
            .filter(verification_method::Column::VerifiedAt.is_not_null())
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Gives a method a fresh code (its digest) with a full set of tries; the previous code
    /// stops working.
    pub async fn set_method_code(
        &self,
        id: Uuid,
        digest: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        verification_method::Entity::update_many()
            .col_expr(verification_method::Column::CodeHash, Expr::value(digest))
            .col_expr(
                verification_method::Column::CodeExpiresAt,
                Expr::value(expires_at),
            )
            .col_expr(verification_method::Column::CodeAttempts, Expr::value(0))
            .filter(verification_method::Column::Id.eq(id))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Deletes one of a user's methods; false when there was none.
    pub async fn delete_method(&self, user_id: Uuid, id: Uuid) -> StoreResult<bool> {
        let result = verification_method::Entity::delete_many()
            .filter(verification_method::Column::UserId.eq(user_id))
            .filter(verification_method::Column::Id.eq(id))
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Deletes all of a user's methods; returns how many.
    pub async fn delete_methods(&self, user_id: Uuid) -> StoreResult<u64> {
        Ok(verification_method::Entity::delete_many()
            .filter(verification_method::Column::UserId.eq(user_id))
            .exec(self.conn())
            .await?
            .rows_affected)
    }
}
