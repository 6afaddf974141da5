//! Lock-out counting, atomic in the database so that several replicas (and many parallel
//! guesses) share one count.
//!
//! An account allows `threshold` wrong passwords per lock-out window. Before a password is
//! checked, the check *reserves* one of those places: one conditional `UPDATE` that adds one to
//! the checks in flight unless the account is locked or wrong passwords plus checks in flight
//! have reached the threshold. So N parallel guesses check at most `threshold` passwords. When
//! the check ends, a wrong password turns its place into a failure (at the threshold, the
//! account locks); a right one, a shed one or one whose password changed meanwhile gives it
//! back. A check that finds every place taken by checks still running is *busy*, not wrong: it
//! waits for a place and never gets the wrong-password answer for it.
//!
//! Places are leased until `attempts_lease_until` (renewed by every reservation), so a process
//! that dies mid-check holds them for at most [`ATTEMPT_LEASE`].

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, SimpleExpr};
use sea_orm::{ColumnTrait as _, Condition, ConnectionTrait, EntityTrait as _, QueryFilter as _};
use uuid::Uuid;

use super::entities::password_credential::{self, Column};
use super::{PasswordHash, Store, StoreResult, Tx};

/// How many keyed hashes of recent wrong passwords are kept.
pub const RECENT_FAILURES: usize = 5;

/// How long reserved places count without being settled: longer than any check waits for a
/// hash worker.
pub const ATTEMPT_LEASE: chrono::Duration = chrono::Duration::seconds(60);

/// Why a check could not reserve a place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// A place is reserved: check the password, then settle it.
    Reserved,
    /// The account is locked (or has no places left and is about to lock).
    Locked,
    /// Every free place is taken by a check still running: try again shortly.
    Busy,
    /// The account has no password credential.
    Missing,
}

/// Checks in flight that still count: none once the lease has run out.
fn live_in_flight(now: DateTime<Utc>) -> SimpleExpr {
    Expr::case(
        Condition::any()
            .add(Column::AttemptsLeaseUntil.is_null())
            .add(Column::AttemptsLeaseUntil.lte(now)),
        Expr::value(0),
    )
    .finally(Expr::col(Column::AttemptsInFlight))
    .into()
}

fn not_locked(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Column::LockedUntil.is_null())
        .add(Column::LockedUntil.lte(now))
}

/// Checks in flight less the one settling now (never below zero); reservations of other
/// processes may change the count meanwhile, so it is computed in the statement.
fn one_place_back() -> SimpleExpr {
    Expr::case(
        Column::AttemptsInFlight.gt(0),
        Expr::col(Column::AttemptsInFlight).sub(1),
    )
    .finally(Expr::value(0))
    .into()
}

fn threshold_i32(threshold: u32) -> i32 {
    i32::try_from(threshold).unwrap_or(i32::MAX)
}

impl Store {
    /// Reserves one place for a password check (see the module docs).
    pub async fn reserve_attempt(
        &self,
        user_id: Uuid,
        threshold: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Reservation> {
        let result = password_credential::Entity::update_many()
            .col_expr(
                Column::AttemptsInFlight,
                live_in_flight(now).add(Expr::value(1)),
            )
            .col_expr(Column::AttemptsLeaseUntil, Expr::value(now + ATTEMPT_LEASE))
            .filter(Column::UserId.eq(user_id))
            .filter(not_locked(now))
            .filter(
                Expr::col(Column::FailedAttempts)
                    .add(live_in_flight(now))
                    .lt(threshold_i32(threshold)),
            )
            .exec(self.conn())
            .await?;
        if result.rows_affected == 1 {
            return Ok(Reservation::Reserved);
        }
        if user_id.is_nil() {
            // The stand-in for an unknown user (see `sign_in`): the statement is what counts.
            return Ok(Reservation::Missing);
        }
        let Some(row) = password_credential::Entity::find_by_id(user_id)
            .one(self.conn())
            .await?
        else {
            return Ok(Reservation::Missing);
        };
        let locked = row.locked_until.is_some_and(|until| until > now)
            || u32::try_from(row.failed_attempts).unwrap_or(0) >= threshold;
        Ok(if locked {
            Reservation::Locked
        } else {
            Reservation::Busy
        })
    }

    /// Gives a reserved place back: the password was right, the check was shed, or it did
    /// not count.
    pub async fn release_attempt(&self, user_id: Uuid) -> StoreResult<()> {
        release(self.conn(), user_id).await
    }
}

async fn release(conn: &impl ConnectionTrait, user_id: Uuid) -> StoreResult<()> {
    password_credential::Entity::update_many()
        .col_expr(Column::AttemptsInFlight, one_place_back())
        .filter(Column::UserId.eq(user_id))
        .exec(conn)
        .await?;
    Ok(())
}

/// What recording a wrong password did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// Counted; set when this failure locked the account.
    Counted {
        /// When the lock ends.
        locked_until: Option<DateTime<Utc>>,
    },
    /// The password changed while it was checked: not counted, its place given back.
    Changed,
}

impl Tx {
    /// Gives a reserved place back (see [`Store::release_attempt`]), in this transaction.
    pub async fn release_attempt(&self, user_id: Uuid) -> StoreResult<()> {
        release(self.conn(), user_id).await
    }

    /// Records when the user's current password was found on the compromised list.
    pub async fn mark_compromised(&self, user_id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        password_credential::Entity::update_many()
            .col_expr(Column::CompromisedAt, Expr::value(Some(at)))
            .filter(Column::UserId.eq(user_id))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// After a correct password: its place back, no failures, no lock history.
    pub async fn clear_failures(&self, user_id: Uuid) -> StoreResult<()> {
        password_credential::Entity::update_many()
            .col_expr(Column::FailedAttempts, Expr::value(0))
            .col_expr(Column::LockoutCount, Expr::value(0))
            .col_expr(Column::RecentFailures, Expr::value(""))
            .col_expr(Column::AttemptsInFlight, one_place_back())
            .filter(Column::UserId.eq(user_id))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Records a wrong password checked against `checked`: its reserved place becomes a
    /// failure and its keyed hash joins the recent ones; at the threshold, the account locks
    /// for `lock_for(previous lock-outs)`. Runs under the tenant lock, so failures of one
    /// account are recorded one at a time. When the stored hash is no longer `checked` (a
    /// reset or change committed during the check), nothing is counted.
    pub async fn record_failure(
        &self,
        user_id: Uuid,
        checked: &PasswordHash,
        fingerprint: &str,
        threshold: u32,
        lock_for: impl Fn(u32) -> chrono::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Recorded> {
        let row = password_credential::Entity::find_by_id(user_id)
            .one(self.conn())
            .await?;
        let Some(row) = row.filter(|row| row.hash == *checked) else {
            self.release_attempt(user_id).await?;
            return Ok(Recorded::Changed);
        };
        let mut recent: Vec<&str> = row
            .recent_failures
            .split(',')
            .filter(|s| !s.is_empty())
            .collect();
        recent.push(fingerprint);
        let keep_from = recent.len().saturating_sub(RECENT_FAILURES);
        let recent = recent[keep_from..].join(",");
        let failures = row.failed_attempts.saturating_add(1);
        let already_locked = row.locked_until.is_some_and(|until| until > now);
        let mut update = password_credential::Entity::update_many()
            .col_expr(Column::RecentFailures, Expr::value(recent))
            .col_expr(Column::AttemptsInFlight, one_place_back())
            .filter(Column::UserId.eq(user_id));
        let mut locked_until = None;
        if threshold > 0 && !already_locked && failures >= threshold_i32(threshold) {
            let until = now + lock_for(u32::try_from(row.lockout_count).unwrap_or(0));
            update = update
                .col_expr(Column::LockedUntil, Expr::value(until))
                .col_expr(Column::FailedAttempts, Expr::value(0))
                .col_expr(Column::LockoutCount, Expr::col(Column::LockoutCount).add(1));
            locked_until = Some(until);
        } else {
            update = update.col_expr(Column::FailedAttempts, Expr::value(failures));
        }
        update.exec(self.conn()).await?;
        Ok(Recorded::Counted { locked_until })
    }
}
