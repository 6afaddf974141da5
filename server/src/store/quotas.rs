//! Hourly send counters (codes per destination, confirmations per person): one row per key
//! and hour, shared by every account, tenant and replica. A send takes one unit with a
//! conditional `UPDATE`, so two parallel sends never both take the last one. Keys are made by
//! the domain (keyed digests), so the table names no address.

use chrono::{DateTime, DurationRound as _, TimeDelta, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _};

use super::entities::send_quota;
use super::{StoreResult, Tx};

/// The length of one counting window.
const WINDOW: TimeDelta = TimeDelta::hours(1);

impl Tx {
    /// Takes one unit of the counter `key` from the current hour's quota of `max`; false
    /// when it is used up. Windows older than the previous hour are deleted on the way.
    pub async fn take_send_quota(
        &self,
        key: &str,
        max: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let window = now.duration_trunc(WINDOW).unwrap_or(now);
        let key = key.to_owned();
        send_quota::Entity::delete_many()
            .filter(send_quota::Column::WindowStart.lt(window - WINDOW))
            .exec(self.conn())
            .await?;
        send_quota::Entity::insert(send_quota::ActiveModel {
            destination: Set(key.clone()),
            window_start: Set(window),
            sent: Set(0),
        })
        .on_conflict_do_nothing_on([
            send_quota::Column::Destination,
            send_quota::Column::WindowStart,
        ])
        .exec(self.conn())
        .await?;
        let taken = send_quota::Entity::update_many()
            .col_expr(
                send_quota::Column::Sent,
                Expr::col(send_quota::Column::Sent).add(1),
            )
            .filter(send_quota::Column::Destination.eq(key))
            .filter(send_quota::Column::WindowStart.eq(window))
            .filter(send_quota::Column::Sent.lt(i32::try_from(max).unwrap_or(i32::MAX)))
            .exec(self.conn())
            .await?;
        Ok(taken.rows_affected == 1)
    }
}
