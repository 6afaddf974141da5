//! Lock-out counting, atomic in the database so that several replicas (and many parallel
//! guesses) share one count.
//!
//! A sign-in first *reserves* an attempt: one conditional `UPDATE` that adds one to the
//! failure count unless the account is locked or the count has reached the threshold. Only a
//! reserved attempt may check the password, so N parallel guesses check at most `threshold`
//! passwords. A correct password clears the count; a wrong one is recorded and, at the
//! threshold, locks the account.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ColumnTrait as _, Condition, EntityTrait as _, QueryFilter as _};
use uuid::Uuid;

use super::entities::password_credential;
use super::{Store, StoreResult, Tx};

/// How many keyed hashes of recent wrong passwords are kept.
pub const RECENT_FAILURES: usize = 5;

impl Store {
    /// Reserves one attempt; false when the account is locked or at the threshold.
    pub async fn reserve_attempt(
        &self,
        user_id: Uuid,
        threshold: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = password_credential::Entity::update_many()
            .col_expr(
                password_credential::Column::FailedAttempts,
                Expr::col(password_credential::Column::FailedAttempts).add(1),
            )
            .filter(password_credential::Column::UserId.eq(user_id))
            .filter(
                password_credential::Column::FailedAttempts
                    .lt(i32::try_from(threshold).unwrap_or(i32::MAX)),
            )
            .filter(
                Condition::any()
                    .add(password_credential::Column::LockedUntil.is_null())
                    .add(password_credential::Column::LockedUntil.lte(now)),
            )
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }
}

/// What recording a wrong password did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Set when this failure locked the account.
    pub locked_until: Option<DateTime<Utc>>,
}

impl Tx {
    /// Gives a reserved attempt back (the password was right, or the attempt did not count).
    pub async fn release_attempt(&self, user_id: Uuid) -> StoreResult<()> {
        password_credential::Entity::update_many()
            .col_expr(
                password_credential::Column::FailedAttempts,
                Expr::col(password_credential::Column::FailedAttempts).sub(1),
            )
            .filter(password_credential::Column::UserId.eq(user_id))
            .filter(password_credential::Column::FailedAttempts.gt(0))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// After a correct password: no failures, no lock history.
    pub async fn clear_failures(&self, user_id: Uuid) -> StoreResult<()> {
        password_credential::Entity::update_many()
            .col_expr(password_credential::Column::FailedAttempts, Expr::value(0))
            .col_expr(password_credential::Column::LockoutCount, Expr::value(0))
            .col_expr(password_credential::Column::RecentFailures, Expr::value(""))
            .filter(password_credential::Column::UserId.eq(user_id))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Records a wrong password (its reserved attempt stays counted) and its keyed hash; at
    /// the threshold, locks the account for `lock_for(previous lock-outs)`.
    pub async fn record_failure(
        &self,
        user_id: Uuid,
        fingerprint: &str,
        threshold: u32,
        lock_for: impl Fn(u32) -> chrono::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Recorded> {
        let Some(row) = password_credential::Entity::find_by_id(user_id)
            .one(self.conn())
            .await?
        else {
            return Ok(Recorded { locked_until: None });
        };
        let mut recent: Vec<&str> = row
            .recent_failures
            .split(',')
            .filter(|s| !s.is_empty())
            .collect();
        recent.push(fingerprint);
        let keep_from = recent.len().saturating_sub(RECENT_FAILURES);
        let recent = recent[keep_from..].join(",");
        let mut update = password_credential::Entity::update_many()
            .col_expr(
                password_credential::Column::RecentFailures,
                Expr::value(recent),
            )
            .filter(password_credential::Column::UserId.eq(user_id));
        let mut locked_until = None;
        let already_locked = row.locked_until.is_some_and(|until| until > now);
        if threshold > 0
            && !already_locked
            && u32::try_from(row.failed_attempts).unwrap_or(0) >= threshold
        {
            let until = now + lock_for(u32::try_from(row.lockout_count).unwrap_or(0));
            update = update
                .col_expr(password_credential::Column::LockedUntil, Expr::value(until))
                .col_expr(password_credential::Column::FailedAttempts, Expr::value(0))
                .col_expr(
                    password_credential::Column::LockoutCount,
                    Expr::col(password_credential::Column::LockoutCount).add(1),
                );
            locked_until = Some(until);
        }
        update.exec(self.conn()).await?;
        Ok(Recorded { locked_until })
    }
}
