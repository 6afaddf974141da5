//! The audit log: an append-only hash chain per tenant.
//!
//! Each event stores the hash of the one before it and its own hash over its fields and that
//! link, so editing, deleting or reordering a stored event breaks the chain. The tenant row
//! holds the chain head; updating it inside the audited transaction serialises appends (a row
//! lock on PostgreSQL, the write lock on SQLite), so two writers can never fork the chain.

use sea_orm::{ActiveValue::Set, EntityTrait as _, QuerySelect as _};
use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use super::entities::{audit_event, tenant};
use super::{AuditRow, StoreError, StoreResult, Tx, now};

/// The `prev_hash` of a tenant's first event.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An event to append. Details are a JSON object and must never hold a secret.
#[derive(Clone, Debug)]
pub struct NewAuditEvent {
    /// The tenant whose chain gets the event.
    pub tenant_id: Uuid,
    /// Who acted: `user:<id>`, `service:<name>` or `anonymous`.
    pub actor: String,
    /// The calling service's certificate identity.
    pub caller_service: Option<String>,
    /// What was done, e.g. `password.reset`.
    pub action: String,
    /// What it was done to, e.g. `user:<id>`.
    pub target: String,
    /// `success`, `denied` or `failure`.
    pub outcome: String,
    /// Non-secret details, a JSON object.
    pub details: String,
}

/// The hash of an event given its predecessor's hash.
pub fn chain_hash(row: &AuditRow) -> String {
    let mut hasher = Sha256::new();
    let seq = row.seq.to_be_bytes();
    let micros = row.occurred_at.timestamp_micros().to_be_bytes();
    let fields: [&[u8]; 11] = [
        row.prev_hash.as_bytes(),
        row.tenant_id.as_bytes(),
        &seq,
        row.id.as_bytes(),
        &micros,
        row.actor.as_bytes(),
        row.caller_service.as_deref().unwrap_or("").as_bytes(),
        row.action.as_bytes(),
        row.target.as_bytes(),
        row.outcome.as_bytes(),
        row.details.as_bytes(),
    ];
    for field in fields {
        // Length-prefixed, so no two different events serialise the same way.
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field);
    }
    hex::encode(hasher.finalize())
}

impl Tx {
    /// Appends an event to its tenant's chain, inside this transaction.
    pub async fn append_audit(&self, event: NewAuditEvent) -> StoreResult<()> {
        if let Ok(mut appended) = self.appended.lock() {
            appended.push(event.clone());
        }
        let (head_seq, head_hash) = match self.remembered_head(event.tenant_id) {
            Some(head) => head,
            None => {
                let row = tenant::Entity::find_by_id(event.tenant_id)
                    .lock_exclusive()
                    .one(self.conn())
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("no tenant {}", event.tenant_id)))?;
                (row.audit_seq, row.audit_head)
            }
        };
        let event_tenant = event.tenant_id;
        let mut row = AuditRow {
            id: Uuid::now_v7(),
            tenant_id: event.tenant_id,
            seq: head_seq + 1,
            occurred_at: now(),
            actor: event.actor,
            caller_service: event.caller_service,
            action: event.action,
            target: event.target,
            outcome: event.outcome,
            details: event.details,
            prev_hash: head_hash,
            hash: String::new(),
        };
        row.hash = chain_hash(&row);
        let seq = row.seq;
        let hash = row.hash.clone();
        audit_event::Entity::insert(audit_event::ActiveModel::from(row))
            .exec(self.conn())
            .await?;
        tenant::Entity::update(tenant::ActiveModel {
            id: Set(event_tenant),
            audit_seq: Set(seq),
            audit_head: Set(hash.clone()),
            ..Default::default()
        })
        .exec(self.conn())
        .await?;
        self.remember_head(event_tenant, seq, hash);
        Ok(())
    }

    /// Keeps the chain head of the locked tenant row.
    pub(crate) fn remember_head(&self, tenant_id: Uuid, seq: i64, hash: String) {
        if let Ok(mut head) = self.head.lock() {
            *head = Some((tenant_id, seq, hash));
        }
    }

    fn remembered_head(&self, tenant_id: Uuid) -> Option<(i64, String)> {
        let head = self.head.lock().ok()?;
        head.as_ref()
            .filter(|(id, _, _)| *id == tenant_id)
            .map(|(_, seq, hash)| (*seq, hash.clone()))
    }
}

/// Which events a listing returns.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only this target.
    pub target: Option<String>,
    /// Only this action.
    pub action: Option<String>,
    /// Only at or after.
    pub start: Option<chrono::DateTime<chrono::Utc>>,
    /// Only before.
    pub end: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events older than this sequence number (keyset pagination, newest first).
    pub before_seq: Option<i64>,
}

impl super::Store {
    /// A page of a tenant's events, newest first.
    pub async fn list_audit(
        &self,
        tenant_id: Uuid,
        filter: &AuditFilter,
        limit: u64,
    ) -> StoreResult<Vec<AuditRow>> {
        use sea_orm::{ColumnTrait as _, QueryFilter as _, QueryOrder as _};
        let mut query =
            audit_event::Entity::find().filter(audit_event::Column::TenantId.eq(tenant_id));
        if let Some(actor) = &filter.actor {
            query = query.filter(audit_event::Column::Actor.eq(actor.as_str()));
        }
        if let Some(target) = &filter.target {
            query = query.filter(audit_event::Column::Target.eq(target.as_str()));
        }
        if let Some(action) = &filter.action {
            query = query.filter(audit_event::Column::Action.eq(action.as_str()));
        }
        if let Some(start) = filter.start {
            query = query.filter(audit_event::Column::OccurredAt.gte(start));
        }
        if let Some(end) = filter.end {
            query = query.filter(audit_event::Column::OccurredAt.lt(end));
        }
        if let Some(before) = filter.before_seq {
            query = query.filter(audit_event::Column::Seq.lt(before));
        }
        Ok(query
            .order_by_desc(audit_event::Column::Seq)
            .limit(limit)
            .all(self.conn())
            .await?)
    }

    /// Events of a tenant's chain after `after_seq`, oldest first, at most `limit`.
    pub async fn audit_chain(
        &self,
        tenant_id: Uuid,
        after_seq: i64,
        limit: u64,
    ) -> StoreResult<Vec<AuditRow>> {
        use sea_orm::{ColumnTrait as _, QueryFilter as _, QueryOrder as _};
        Ok(audit_event::Entity::find()
            .filter(audit_event::Column::TenantId.eq(tenant_id))
            .filter(audit_event::Column::Seq.gt(after_seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(limit)
            .all(self.conn())
            .await?)
    }

    /// The tenant row, with its chain head.
    pub async fn tenant(&self, tenant_id: Uuid) -> StoreResult<Option<super::TenantRow>> {
        Ok(tenant::Entity::find_by_id(tenant_id)
            .one(self.conn())
            .await?)
    }
}
