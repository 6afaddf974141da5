//! The notification outbox. Messages are written inside the transaction of the change that
//! causes them, so a committed change always has its message and a rolled-back one never
//! does. Dispatchers claim due messages atomically in the database (`FOR UPDATE SKIP LOCKED`
//! on PostgreSQL, the write lock on SQLite), so several servers never take the same one.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait as _, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, Condition, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};
use uuid::Uuid;

use super::entities::outbox_message;
use super::{Store, StoreResult, Tx};

/// A message to send.
pub type OutboxRow = outbox_message::Model;

/// A message to queue.
#[derive(Clone)]
pub struct NewMessage {
    /// The tenant it belongs to.
    pub tenant_id: Uuid,
    /// `email` or `sms`.
    pub channel: &'static str,
    /// The address.
    pub recipient: String,
    /// The subject line (empty for SMS).
    pub subject: String,
    /// The text; may carry a one-time code.
    pub body: String,
}

impl std::fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMessage")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl Tx {
    /// Queues a message, delivered once this transaction commits.
    pub async fn enqueue(&self, message: NewMessage) -> StoreResult<Uuid> {
        let id = Uuid::now_v7();
        let now = super::now();
        outbox_message::Entity::insert(outbox_message::ActiveModel {
            id: Set(id),
            tenant_id: Set(message.tenant_id),
            channel: Set(message.channel.to_owned()),
            recipient: Set(message.recipient),
            subject: Set(message.subject),
            body: Set(message.body),
            created_at: Set(now),
            next_attempt_at: Set(now),
            attempts: Set(0),
            claimed_by: Set(None),
            claimed_until: Set(None),
            sent_at: Set(None),
            last_error: Set(None),
        })
        .exec(self.conn())
        .await?;
        Ok(id)
    }
}

impl Store {
    /// Claims up to `limit` due messages for `worker` until `until`; another worker sees
    /// them again only if this one neither sends nor releases them by then.
    pub async fn claim_messages(
        &self,
        worker: &str,
        channels: &[&str],
        limit: u64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<OutboxRow>> {
        let tx = self.write().await?;
        tx.changes_no_user_view();
        let due = outbox_message::Entity::find()
            .filter(outbox_message::Column::SentAt.is_null())
            .filter(outbox_message::Column::Channel.is_in(channels.iter().copied()))
            .filter(outbox_message::Column::NextAttemptAt.lte(now))
            .filter(
                Condition::any()
                    .add(outbox_message::Column::ClaimedUntil.is_null())
                    .add(outbox_message::Column::ClaimedUntil.lt(now)),
            )
            .order_by_asc(outbox_message::Column::NextAttemptAt)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(tx.conn())
            .await?;
        if due.is_empty() {
            return Ok(due);
        }
        outbox_message::Entity::update_many()
            .col_expr(outbox_message::Column::ClaimedBy, Expr::value(worker))
            .col_expr(outbox_message::Column::ClaimedUntil, Expr::value(until))
            .filter(outbox_message::Column::Id.is_in(due.iter().map(|m| m.id)))
            .exec(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(due)
    }

    /// Messages not sent yet (for sealing their bodies again after a key rotation).
    pub async fn unsent_messages(&self) -> StoreResult<Vec<OutboxRow>> {
        Ok(outbox_message::Entity::find()
            .filter(outbox_message::Column::SentAt.is_null())
            .all(self.conn())
            .await?)
    }

    /// Replaces an unsent message's body, only if it is still `old`; false otherwise.
    pub async fn replace_body(&self, id: Uuid, old: &str, new: &str) -> StoreResult<bool> {
        let result = outbox_message::Entity::update_many()
            .col_expr(outbox_message::Column::Body, Expr::value(new))
            .filter(outbox_message::Column::Id.eq(id))
            .filter(outbox_message::Column::SentAt.is_null())
            .filter(outbox_message::Column::Body.eq(old))
            .exec(self.conn())
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Marks a claimed message sent and forgets its body (it may hold a code).
    pub async fn message_sent(&self, id: Uuid, worker: &str, at: DateTime<Utc>) -> StoreResult<()> {
        let result = outbox_message::Entity::update_many()
            .col_expr(outbox_message::Column::SentAt, Expr::value(at))
            .col_expr(outbox_message::Column::Body, Expr::value(""))
            .col_expr(
                outbox_message::Column::ClaimedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(outbox_message::Column::Id.eq(id))
            .filter(outbox_message::Column::ClaimedBy.eq(worker))
            .exec(self.conn())
            .await?;
        if result.rows_affected == 0 {
            tracing::warn!(message = %id, "a message was sent after its claim passed to another server");
        }
        Ok(())
    }

    /// Releases a claimed message for another attempt at `retry_at`.
    pub async fn message_failed(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        outbox_message::Entity::update_many()
            .col_expr(
                outbox_message::Column::Attempts,
                Expr::col(outbox_message::Column::Attempts).add(1),
            )
            .col_expr(outbox_message::Column::NextAttemptAt, Expr::value(retry_at))
            .col_expr(outbox_message::Column::LastError, Expr::value(error))
            .col_expr(
                outbox_message::Column::ClaimedUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(outbox_message::Column::Id.eq(id))
            .filter(outbox_message::Column::ClaimedBy.eq(worker))
            .exec(self.conn())
            .await?;
        Ok(())
    }
}

impl Store {
    /// Per channel, the messages not sent yet and the age of the oldest of them, in seconds
    /// (served by the index of due messages).
    pub async fn outbox_backlog(&self, now: DateTime<Utc>) -> StoreResult<Vec<(String, u64, f64)>> {
        use sea_orm::{EntityTrait as _, QuerySelect as _};
        let rows: Vec<(String, i64, Option<DateTime<Utc>>)> = outbox_message::Entity::find()
            .select_only()
            .column(outbox_message::Column::Channel)
            .column_as(Expr::col(outbox_message::Column::Id).count(), "pending")
            .column_as(Expr::col(outbox_message::Column::CreatedAt).min(), "oldest")
            .filter(outbox_message::Column::SentAt.is_null())
            .group_by(outbox_message::Column::Channel)
            .into_tuple()
            .all(self.conn())
            .await?;
        Ok(rows
            .into_iter()
            .map(|(channel, pending, oldest)| {
                let age = oldest.map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
                (channel, u64::try_from(pending).unwrap_or(0), age)
            })
            .collect())
    }
}
