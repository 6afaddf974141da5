//! Building audit events. Details are a flat JSON object of non-secret strings.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::error::Error;
use super::service::Gatehouse;
use super::types::{Actor, Role};
use super::users::page_size_or_default;
use crate::store::{AuditFilter, AuditRow, NewAuditEvent, chain_hash};

/// Roles that read the audit log.
const READERS: &[Role] = &[Role::GlobalAdmin, Role::Auditor];
/// Events verified per database round trip.
const VERIFY_BATCH: u64 = 1000;
/// Events a watch reads per database round trip.
const WATCH_BATCH: u64 = 500;
/// How often a watch with nothing new looks again: how soon it sees events another replica
/// committed (this replica's commits wake it at once), and how soon it ends once the
/// watcher's session or role is gone.
pub const WATCH_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Where [`Gatehouse::watch_audit`] starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatchStart {
    /// With the event after this sequence number (0: the first event kept).
    After(i64),
    /// With the first event committed after the watch starts.
    Now,
}

/// One entry of the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Position in the tenant's chain.
    pub seq: i64,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// Who acted.
    pub actor: String,
    /// The calling service.
    pub caller_service: Option<String>,
    /// What was done.
    pub action: String,
    /// To what.
    pub target: String,
    /// How it ended.
    pub outcome: String,
    /// Non-secret details (JSON).
    pub details: String,
    /// The previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

impl From<AuditRow> for AuditEvent {
    fn from(row: AuditRow) -> Self {
        AuditEvent {
            seq: row.seq,
            occurred_at: row.occurred_at,
            actor: row.actor,
            caller_service: row.caller_service,
            action: row.action,
            target: row.target,
            outcome: row.outcome,
            details: row.details,
            prev_hash: row.prev_hash,
            hash: row.hash,
        }
    }
}

/// A page of audit events.
#[derive(Clone, Debug)]
pub struct AuditPage {
    /// Newest first.
    pub events: Vec<AuditEvent>,
    /// Token of the next page; empty on the last.
    pub next_page_token: String,
}

/// Filters of [`Gatehouse::list_audit`]; empty strings mean "any".
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// Only this actor.
    pub actor: String,
    /// Only this target.
    pub target: String,
    /// Only this action.
    pub action: String,
    /// Only at or after.
    pub start: Option<DateTime<Utc>>,
    /// Only before.
    pub end: Option<DateTime<Utc>>,
}

/// The result of [`Gatehouse::verify_audit_chain`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainReport {
    /// Events checked.
    pub checked: u64,
    /// The sequence number of the last event the audit retention removed (0: none); the
    /// check starts after it, from its kept hash.
    pub removed_through: i64,
    /// The first break: its sequence number and what is wrong.
    pub broken: Option<(i64, String)>,
}

impl Gatehouse {
    /// A page of the tenant's audit events, newest first.
    pub async fn list_audit(
        &self,
        actor: &Actor,
        query: AuditQuery,
        page_size: i32,
        page_token: &str,
    ) -> Result<AuditPage, Error> {
        self.require(actor, "audit.read", READERS).await?;
        let limit = page_size_or_default(page_size)?;
        let scope = format!(
            "audit:{}:{}:{}:{}:{}",
            query.actor,
            query.target,
            query.action,
            query
                .start
                .map(|t| t.timestamp_micros())
                .unwrap_or_default(),
            query.end.map(|t| t.timestamp_micros()).unwrap_or_default()
        );
        let before_seq = self.page_after_parsed::<i64>(actor.tenant_id, &scope, page_token)?;
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        let filter = AuditFilter {
            actor: non_empty(query.actor),
            target: non_empty(query.target),
            action: non_empty(query.action),
            start: query.start,
            end: query.end,
            before_seq,
        };
        let mut events = self
            .store
            .list_audit(actor.tenant_id, &filter, u64::from(limit) + 1)
            .await?;
        let next_page_token = if events.len() > limit as usize {
            events.truncate(limit as usize);
            events
                .last()
                .map(|e| self.page_token(actor.tenant_id, &scope, &e.seq.to_string()))
                .transpose()?
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(AuditPage {
            events: events.into_iter().map(AuditEvent::from).collect(),
            next_page_token,
        })
    }

    /// Recomputes the tenant's chain from its first event (the first after those the audit
    /// retention removed, linking to the last removed one's kept hash) and reports the first
    /// break: an edited event (its hash no longer matches), a removed or reordered one (a gap
    /// in the sequence, or a link to the wrong predecessor), or a removed tail (the tenant's
    /// head points past the last event).
    pub async fn verify_audit_chain(&self, actor: &Actor) -> Result<ChainReport, Error> {
        self.require(actor, "audit.verify", READERS).await?;
        let head = self
            .store
            .tenant(actor.tenant_id)
            .await?
            .ok_or_else(|| Error::NotFound("no such tenant".to_owned()))?;
        let mut checked = 0u64;
        let removed_through = head.audit_removed_seq;
        let mut expected_seq = removed_through + 1;
        let mut previous = head.audit_removed_hash.clone();
        loop {
            let batch = self
                .store
                .audit_chain(actor.tenant_id, expected_seq - 1, VERIFY_BATCH)
                .await?;
            if batch.is_empty() {
                break;
            }
            for event in batch {
                if event.seq > head.audit_seq {
                    // Appended after the head was read: checked next time.
                    break;
                }
                let problem = if event.seq != expected_seq {
                    Some(format!(
                        "event {expected_seq} is missing (the next stored event is {})",
                        event.seq
                    ))
                } else if event.prev_hash != previous {
                    Some("does not link to the event before it (removed or reordered)".to_owned())
                } else if chain_hash(&event) != event.hash {
                    Some("its content does not match its hash (edited)".to_owned())
                } else {
                    None
                };
                if let Some(problem) = problem {
                    return Ok(ChainReport {
                        checked,
                        removed_through,
                        broken: Some((expected_seq, problem)),
                    });
                }
                checked += 1;
                expected_seq += 1;
                previous = event.hash;
            }
            if expected_seq > head.audit_seq {
                break;
            }
        }
        if expected_seq - 1 != head.audit_seq || previous != head.audit_head {
            return Ok(ChainReport {
                checked,
                removed_through,
                broken: Some((
                    expected_seq,
                    "the newest events are missing (the chain head points past them)".to_owned(),
                )),
            });
        }
        Ok(ChainReport {
            checked,
            removed_through,
            broken: None,
        })
    }
}

impl Gatehouse {
    /// Checks that `caller` may watch the audit log and resolves `start` to the sequence
    /// number the watch continues after.
    pub async fn start_audit_watch(
        &self,
        caller: &super::types::Caller,
        start: WatchStart,
    ) -> Result<(Actor, i64), Error> {
        let actor = self.admin(caller).await?;
        self.require(&actor, "audit.watch", READERS).await?;
        let tenant = self
            .store
            .tenant(actor.tenant_id)
            .await?
            .ok_or_else(|| Error::NotFound("no such tenant".to_owned()))?;
        let after = match start {
            WatchStart::Now => tenant.audit_seq,
            WatchStart::After(seq) if seq < 0 => {
                return Err(Error::invalid(
                    "after_sequence",
                    "must be 0 (from the first event) or a sequence number",
                ));
            }
            // Events the retention removed are gone; the watch starts with the first kept.
            WatchStart::After(seq) => seq.max(tenant.audit_removed_seq),
        };
        Ok((actor, after))
    }

    /// Sends the tenant's audit events after `after` to `events`, in chain order, as they
    /// commit, until the receiver goes away, or with an error once `caller` may no longer
    /// read the log (the session ended, the role was revoked: checked before every read).
    /// Events are read back committed, in sequence order; an append holds its tenant's lock
    /// until it commits, so an event is never visible before the one before it, and a
    /// watcher that resumes after its last sequence number misses nothing and sees nothing
    /// twice. The channel's capacity bounds what a slow watcher costs.
    pub async fn watch_audit(
        &self,
        caller: &super::types::Caller,
        mut after: i64,
        events: tokio::sync::mpsc::Sender<Result<AuditEvent, Error>>,
    ) {
        let mut commits = self.store.audit_commits();
        loop {
            commits.mark_unchanged();
            let batch = match self.readable_audit(caller, after).await {
                Ok(batch) => batch,
                Err(e) => {
                    let _ = events.send(Err(e)).await;
                    return;
                }
            };
            let full = batch.len() as u64 == WATCH_BATCH;
            for row in batch {
                after = row.seq;
                if events.send(Ok(AuditEvent::from(row))).await.is_err() {
                    return;
                }
            }
            if full {
                continue;
            }
            tokio::select! {
                _ = commits.changed() => {}
                () = tokio::time::sleep(WATCH_POLL) => {}
                () = events.closed() => return,
            }
        }
    }

    /// The next events after `after`, once `caller` is checked to still read the log.
    async fn readable_audit(
        &self,
        caller: &super::types::Caller,
        after: i64,
    ) -> Result<Vec<AuditRow>, Error> {
        let actor = self.admin(caller).await?;
        self.require(&actor, "audit.watch", READERS).await?;
        Ok(self
            .store
            .audit_chain(actor.tenant_id, after, WATCH_BATCH)
            .await?)
    }
}

/// How an audited attempt ended.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Outcome {
    Success,
    Denied,
    Failure,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Denied => "denied",
            Outcome::Failure => "failure",
        }
    }
}

pub(crate) fn event(
    tenant_id: Uuid,
    actor: String,
    caller_service: Option<String>,
    action: &str,
    target: String,
    outcome: Outcome,
    details: &[(&str, &str)],
) -> NewAuditEvent {
    NewAuditEvent {
        tenant_id,
        actor,
        caller_service,
        action: action.to_owned(),
        target,
        outcome: outcome.as_str().to_owned(),
        details: json_object(details),
    }
}

/// An event where a person acts on their own account (actor and target are the user).
pub(crate) fn by_self(
    user: &crate::store::UserRow,
    caller: &super::types::Caller,
    action: &str,
    outcome: Outcome,
    details: &[(&str, &str)],
) -> NewAuditEvent {
    let who = format!("user:{}", user.id);
    event(
        user.tenant_id,
        who.clone(),
        caller.service.clone(),
        action,
        who,
        outcome,
        details,
    )
}

fn json_object(fields: &[(&str, &str)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), serde_json::Value::from(*v)))
        .collect();
    serde_json::Value::Object(map).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_are_escaped_json() {
        assert_eq!(
            json_object(&[("a", "x\"y"), ("b", "line\n")]),
            r#"{"a":"x\"y","b":"line\n"}"#
        );
        assert_eq!(json_object(&[]), "{}");
    }
}
