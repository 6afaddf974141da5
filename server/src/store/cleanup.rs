//! Removal of rows nothing needs any more: sessions, self-service reset flows and one-time
//! codes past their expiry. In small batches (select ids, delete those ids), so no statement
//! holds a lock for long and the job can run beside any load, on any number of replicas.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _};
use uuid::Uuid;

use super::entities::{one_time_code, reset_flow, session};
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
