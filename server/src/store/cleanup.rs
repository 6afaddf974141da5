//! Removal of rows nothing needs any more: sessions, self-service reset flows and one-time
//! codes past their expiry, bulk-reset passwords kept for re-delivery that are no longer the
//! person's, bulk jobs finished longer ago than their retention, and (only when the operator
//! sets a retention) the oldest audit events. In small batches (select ids, delete those ids),
//! so no statement holds a lock for long and the job can run beside any load, on any number of
//! replicas.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _};
use uuid::Uuid;

use super::entities::{
    audit_event, bulk_job, bulk_job_item, one_time_code, password_credential, reset_flow, session,
    tenant,
};
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

    /// Removes the oldest events of a tenant's audit chain that occurred before `before`, at
    /// most `limit` of them, and only from the start of the chain (the events removed are
    /// always a prefix, so what remains is one unbroken chain). The tenant keeps the sequence
    /// number and hash of the last event removed; the first remaining event links to it.
    /// Returns how many were removed.
    pub async fn remove_old_audit_events(
        &self,
        tenant_id: Uuid,
        before: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<u64> {
        use sea_orm::{ActiveValue::Set, QueryOrder as _};
        let tx = self.write_tenant(tenant_id).await?;
        let Some(row) = tenant::Entity::find_by_id(tenant_id).one(tx.conn()).await? else {
            return Ok(0);
        };
        let oldest: Vec<(i64, DateTime<Utc>, String)> = audit_event::Entity::find()
            .select_only()
            .columns([
                audit_event::Column::Seq,
                audit_event::Column::OccurredAt,
                audit_event::Column::Hash,
            ])
            .filter(audit_event::Column::TenantId.eq(tenant_id))
            .filter(audit_event::Column::Seq.gt(row.audit_removed_seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(limit)
            .into_tuple()
            .all(tx.conn())
            .await?;
        // Stop at the first event young enough to keep, even if an older one follows it (a
        // replica's clock behind the others'): only a prefix of the chain is ever removed.
        let Some((last_seq, _, last_hash)) = oldest
            .into_iter()
            .take_while(|(_, at, _)| *at < before)
            .last()
        else {
            return Ok(0);
        };
        let removed = audit_event::Entity::delete_many()
            .filter(audit_event::Column::TenantId.eq(tenant_id))
            .filter(audit_event::Column::Seq.gt(row.audit_removed_seq))
            .filter(audit_event::Column::Seq.lte(last_seq))
            .exec(tx.conn())
            .await?
            .rows_affected;
        tx.invalidates_cache();
        tenant::Entity::update(tenant::ActiveModel {
            id: Set(tenant_id),
            audit_removed_seq: Set(last_seq),
            audit_removed_hash: Set(last_hash),
            ..Default::default()
        })
        .exec(tx.conn())
        .await?;
        tx.commit().await?;
        Ok(removed)
    }

    /// Removes bulk jobs (at most `limit`) finished, or started and never finished, before
    /// `before`, with their items, `ITEM_BATCH` items a statement. A job's idempotency key is
    /// forgotten with it. Returns how many jobs were removed.
    pub async fn remove_old_bulk_jobs(
        &self,
        before: DateTime<Utc>,
        limit: u64,
    ) -> StoreResult<u64> {
        use sea_orm::Condition;
        const ITEM_BATCH: u64 = 1_000;
        let conn = self.conn();
        let jobs: Vec<Uuid> = bulk_job::Entity::find()
            .select_only()
            .column(bulk_job::Column::Id)
            .filter(
                Condition::any()
                    .add(bulk_job::Column::FinishedAt.lt(before))
                    .add(
                        Condition::all()
                            .add(bulk_job::Column::FinishedAt.is_null())
                            .add(bulk_job::Column::CreatedAt.lt(before)),
                    ),
            )
            .limit(limit)
            .into_tuple()
            .all(conn)
            .await?;
        for job in &jobs {
            loop {
                let items: Vec<i32> = bulk_job_item::Entity::find()
                    .select_only()
                    .column(bulk_job_item::Column::Idx)
                    .filter(bulk_job_item::Column::JobId.eq(*job))
                    .limit(ITEM_BATCH)
                    .into_tuple()
                    .all(conn)
                    .await?;
                if items.is_empty() {
                    break;
                }
                bulk_job_item::Entity::delete_many()
                    .filter(bulk_job_item::Column::JobId.eq(*job))
                    .filter(bulk_job_item::Column::Idx.is_in(items))
                    .exec(conn)
                    .await?;
            }
            bulk_job::Entity::delete_by_id(*job).exec(conn).await?;
        }
        Ok(jobs.len() as u64)
    }
}
