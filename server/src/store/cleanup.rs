//! Removal of rows nothing needs any more: sessions, self-service reset flows and one-time
//! codes past their expiry, and bulk-reset passwords kept for re-delivery that are no longer
//! the person's. In small batches (select ids, delete those ids), so no statement holds a
//! lock for long and the job can run beside any load, on any number of replicas.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _};
use uuid::Uuid;

use super::entities::{bulk_job_item, one_time_code, password_credential, reset_flow, session};
use super::{Store, StoreResult};

/// What the clean-up removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiring {
    /// Sessions (revoked or not) past their expiry.
    Sessions,
    /// Self-service reset flows past their expiry.
    ResetFlows,
    /// One-time codes (invitations, confirmations) past their expiry, used or not.
    OneTimeCodes,
}

impl Expiring {
    /// Every kind, in the order the job removes them.
    pub const ALL: [Expiring; 3] = [
        Expiring::Sessions,
        Expiring::ResetFlows,
        Expiring::OneTimeCodes,
    ];

    /// The name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Expiring::Sessions => "sessions",
            Expiring::ResetFlows => "reset_flows",
            Expiring::OneTimeCodes => "one_time_codes",
        }
    }
}

impl Store {
    /// Erases kept bulk-reset passwords (at most `limit` looked at) that are no longer the
    /// person's: the password was changed since, the temporary one expired, or the user is
    /// gone. Returns how many were erased.
    pub async fn erase_stale_held_passwords(
        &self,
        now: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<u64> {
        use sea_orm::QueryOrder as _;
        let conn = self.conn();
        let held = bulk_job_item::Entity::find()
            .filter(bulk_job_item::Column::SealedPassword.is_not_null())
            .order_by_asc(bulk_job_item::Column::DoneAt)
            .limit(limit)
            .all(conn)
            .await?;
        let users: Vec<Uuid> = held.iter().filter_map(|i| i.user_id).collect();
        let credentials: std::collections::HashMap<Uuid, password_credential::Model> =
            password_credential::Entity::find()
                .filter(password_credential::Column::UserId.is_in(users))
                .all(conn)
                .await?
                .into_iter()
                .map(|c| (c.user_id, c))
                .collect();
        let mut erased = 0;
        for item in held {
            let current = item
                .user_id
                .and_then(|id| credentials.get(&id))
                .is_some_and(|c| {
                    Some(c.set_at) == item.done_at && c.expires_at.is_none_or(|at| at > now)
                });
            if current {
                continue;
            }
            erased += bulk_job_item::Entity::update_many()
                .col_expr(
                    bulk_job_item::Column::SealedPassword,
                    sea_orm::sea_query::Expr::value(Option::<String>::None),
                )
                .filter(bulk_job_item::Column::JobId.eq(item.job_id))
                .filter(bulk_job_item::Column::Idx.eq(item.idx))
                .exec(conn)
                .await?
                .rows_affected;
        }
        Ok(erased)
    }

    /// Deletes at most `limit` rows of `kind` that expired before `before`; returns how many.
    pub async fn delete_expired(
        &self,
        kind: Expiring,
        before: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<u64> {
        let conn = self.conn();
        let ids: Vec<Uuid> = match kind {
            Expiring::Sessions => {
                session::Entity::find()
                    .select_only()
                    .column(session::Column::Id)
                    .filter(session::Column::ExpiresAt.lt(before))
                    .limit(limit)
                    .into_tuple()
                    .all(conn)
                    .await?
            }
            Expiring::ResetFlows => {
                reset_flow::Entity::find()
                    .select_only()
                    .column(reset_flow::Column::Id)
                    .filter(reset_flow::Column::ExpiresAt.lt(before))
                    .limit(limit)
                    .into_tuple()
                    .all(conn)
                    .await?
            }
            Expiring::OneTimeCodes => {
                one_time_code::Entity::find()
                    .select_only()
                    .column(one_time_code::Column::Id)
                    .filter(one_time_code::Column::ExpiresAt.lt(before))
                    .limit(limit)
                    .into_tuple()
                    .all(conn)
                    .await?
            }
        };
        if ids.is_empty() {
            return Ok(0);
        }
        let deleted = match kind {
            Expiring::Sessions => {
                session::Entity::delete_many()
                    .filter(session::Column::Id.is_in(ids))
                    .exec(conn)
                    .await?
            }
            Expiring::ResetFlows => {
                reset_flow::Entity::delete_many()
                    .filter(reset_flow::Column::Id.is_in(ids))
                    .exec(conn)
                    .await?
            }
            Expiring::OneTimeCodes => {
                one_time_code::Entity::delete_many()
                    .filter(one_time_code::Column::Id.is_in(ids))
                    .exec(conn)
                    .await?
            }
        };
        Ok(deleted.rows_affected)
    }
}
