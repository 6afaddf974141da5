//! Bulk reset jobs and their per-user items.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _};
use uuid::Uuid;

use super::entities::{bulk_job, bulk_job_item};
use super::{Store, StoreError, StoreResult, Tx};

/// A stored bulk job.
pub type BulkJobRow = bulk_job::Model;
/// A stored bulk job item.
pub type BulkItemRow = bulk_job_item::Model;

/// The outcome of an item not yet processed.
pub const PENDING: &str = "pending";
/// Items inserted per statement (SQLite limits bound parameters per statement).
const INSERT_CHUNK: usize = 500;

impl Store {
    /// The job a tenant started with this idempotency key.
    pub async fn bulk_job_by_key(
        &self,
        tenant_id: Uuid,
        key: &str,
    ) -> StoreResult<Option<BulkJobRow>> {
        Ok(bulk_job::Entity::find()
            .filter(bulk_job::Column::TenantId.eq(tenant_id))
            .filter(bulk_job::Column::IdempotencyKey.eq(key))
            .one(self.conn())
            .await?)
    }

    /// A tenant's job by id.
    pub async fn bulk_job(&self, tenant_id: Uuid, id: Uuid) -> StoreResult<Option<BulkJobRow>> {
        Ok(bulk_job::Entity::find_by_id(id)
            .filter(bulk_job::Column::TenantId.eq(tenant_id))
            .one(self.conn())
            .await?)
    }

    /// One item of a job.
    pub async fn bulk_item(&self, job_id: Uuid, idx: i32) -> StoreResult<Option<BulkItemRow>> {
        Ok(bulk_job_item::Entity::find_by_id((job_id, idx))
            .one(self.conn())
            .await?)
    }

    /// A job's items in request order.
    pub async fn bulk_items(&self, job_id: Uuid) -> StoreResult<Vec<BulkItemRow>> {
        Ok(bulk_job_item::Entity::find()
            .filter(bulk_job_item::Column::JobId.eq(job_id))
            .order_by_asc(bulk_job_item::Column::Idx)
            .all(self.conn())
            .await?)
    }

    /// A page of a job's items after position `after`, in request order.
    pub async fn bulk_items_page(
        &self,
        job_id: Uuid,
        after: i32,
        limit: u64,
    ) -> StoreResult<Vec<BulkItemRow>> {
        use sea_orm::QuerySelect as _;
        Ok(bulk_job_item::Entity::find()
            .filter(bulk_job_item::Column::JobId.eq(job_id))
            .filter(bulk_job_item::Column::Idx.gt(after))
            .order_by_asc(bulk_job_item::Column::Idx)
            .limit(limit)
            .all(self.conn())
            .await?)
    }
}

impl Tx {
    /// Stores a job with all its items pending. A taken idempotency key is a conflict.
    pub async fn insert_bulk_job(
        &self,
        job: BulkJobRow,
        items: Vec<BulkItemRow>,
    ) -> StoreResult<()> {
        bulk_job::Entity::insert(bulk_job::ActiveModel::from(job))
            .exec(self.conn())
            .await
            .map_err(|e| {
                StoreError::conflict_as(e, "a bulk job with this idempotency key exists")
            })?;
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let chunk: Vec<bulk_job_item::ActiveModel> = items
                .by_ref()
                .take(INSERT_CHUNK)
                .map(bulk_job_item::ActiveModel::from)
                .collect();
            bulk_job_item::Entity::insert_many(chunk)
                .exec(self.conn())
                .await?;
        }
        Ok(())
    }

    /// Settles a pending item; false when it was settled already (by an earlier or a
    /// concurrent attempt), in which case the caller must not commit its change.
    pub async fn settle_item(
        &self,
        job_id: Uuid,
        idx: i32,
        user_id: Option<Uuid>,
        outcome: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let result = bulk_job_item::Entity::update_many()
            .col_expr(bulk_job_item::Column::Outcome, Expr::value(outcome))
            .col_expr(bulk_job_item::Column::Reason, Expr::value(reason))
            .col_expr(bulk_job_item::Column::UserId, Expr::value(user_id))
            .col_expr(bulk_job_item::Column::DoneAt, Expr::value(at))
            .filter(bulk_job_item::Column::JobId.eq(job_id))
            .filter(bulk_job_item::Column::Idx.eq(idx))
            .filter(bulk_job_item::Column::Outcome.eq(PENDING))
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Keeps an item's generated password (sealed) for re-delivery.
    pub async fn hold_password(&self, job_id: Uuid, idx: i32, sealed: &str) -> StoreResult<()> {
        bulk_job_item::Entity::update_many()
            .col_expr(bulk_job_item::Column::SealedPassword, Expr::value(sealed))
            .filter(bulk_job_item::Column::JobId.eq(job_id))
            .filter(bulk_job_item::Column::Idx.eq(idx))
            .exec(self.conn())
            .await?;
        Ok(())
    }

    /// Erases the kept passwords of a job (`idx` `None`) or of one item; returns how many.
    pub async fn erase_held_passwords(&self, job_id: Uuid, idx: Option<i32>) -> StoreResult<u64> {
        let mut update = bulk_job_item::Entity::update_many()
            .col_expr(
                bulk_job_item::Column::SealedPassword,
                Expr::value(Option::<String>::None),
            )
            .filter(bulk_job_item::Column::JobId.eq(job_id))
            .filter(bulk_job_item::Column::SealedPassword.is_not_null());
        if let Some(idx) = idx {
            update = update.filter(bulk_job_item::Column::Idx.eq(idx));
        }
        Ok(update.exec(self.conn()).await?.rows_affected)
    }

    /// Marks a job finished.
    pub async fn finish_bulk_job(&self, id: Uuid, at: DateTime<Utc>) -> StoreResult<()> {
        bulk_job::Entity::update_many()
            .col_expr(bulk_job::Column::FinishedAt, Expr::value(at))
            .filter(bulk_job::Column::Id.eq(id))
            .exec(self.conn())
            .await?;
        Ok(())
    }
}
