//! Bulk password resets: thousands of users in one call, streamed.
//!
//! A job is stored with one pending item per user before any reset happens. Each user is
//! then reset in a transaction of their own that also settles their item, so after a crash
//! every user is either reset (item settled) or untouched (item pending). A retry with the
//! same idempotency key finds the job and works through what is still pending; an item can
//! be settled once only, so no user is reset twice, even by two concurrent retries.
//! Hashing runs on the bounded pool, as many users at a time as it has workers.

use futures::StreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use uuid::Uuid;

use super::audit::{self, Outcome};
use super::authz;
use super::error::Error;
use super::notices::PasswordSet;
use super::policy::{PasswordPolicy, generate_password};
use super::secret::Password;
use super::service::{Gatehouse, new_credential};
use super::types::{Actor, Role, UserState};
use super::users::{Settles, UserKey};
use crate::store::{self, BulkItemRow, BulkJobRow, PENDING, UserFilter};

/// Most users one call may list.
pub const MAX_BULK_USERS: usize = 10_000;
const RESETTERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin, Role::PasswordAdmin];

/// Whom a bulk reset targets.
#[derive(Clone, Debug)]
pub enum BulkTargets {
    /// These users, in this order.
    Users(Vec<UserKey>),
    /// Every user of the tenant, optionally in one state.
    All(Option<UserState>),
}

/// Input of [`Gatehouse::bulk_reset`].
#[derive(Clone, Debug)]
pub struct BulkRequest {
    /// Whom.
    pub targets: BulkTargets,
    /// Require a change at next sign-in (temporary passwords).
    pub require_change: bool,
    /// Makes a retry continue the first call.
    pub idempotency_key: Option<String>,
    /// Report only.
    pub dry_run: bool,
    /// Email each person an invitation code instead of generating passwords.
    pub invite: bool,
}

/// What happened to one user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkOutcome {
    /// Reset now.
    Reset,
    /// Dry run: would be reset.
    WouldReset,
    /// The role matrix refuses.
    Refused,
    /// No such user.
    NotFound,
    /// Settled by an earlier call.
    AlreadyDone,
    /// Failed; the user is untouched.
    Failed,
    /// Named again in the same request.
    Duplicate,
}

impl BulkOutcome {
    fn stored(self) -> &'static str {
        match self {
            BulkOutcome::Reset | BulkOutcome::WouldReset | BulkOutcome::AlreadyDone => "reset",
            BulkOutcome::Refused => "refused",
            BulkOutcome::NotFound => "not_found",
            BulkOutcome::Failed => "failed",
            BulkOutcome::Duplicate => "duplicate",
        }
    }
}

/// One user's result.
#[derive(Debug)]
pub struct BulkResult {
    /// Position in the job.
    pub index: i32,
    /// The user as named.
    pub user_ref: String,
    /// The user's id, when found.
    pub user_id: Option<Uuid>,
    /// What happened.
    pub outcome: BulkOutcome,
    /// The new password, for [`BulkOutcome::Reset`].
    pub generated: Option<Password>,
    /// When it expires.
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Why.
    pub reason: String,
    /// An invitation was queued.
    pub invitation_sent: bool,
    /// The password was handed out before (an unacknowledged earlier call with the key).
    pub redelivered: bool,
}

/// Totals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BulkSummary {
    /// The stored job; `None` for a dry run.
    pub job_id: Option<Uuid>,
    /// Users in the job.
    pub total: i32,
    /// Reset now.
    pub reset: i32,
    /// Would be reset.
    pub would_reset: i32,
    /// Refused.
    pub refused: i32,
    /// Not found.
    pub not_found: i32,
    /// Settled earlier.
    pub already_done: i32,
    /// Failed.
    pub failed: i32,
    /// Named more than once.
    pub duplicates: i32,
}

impl BulkSummary {
    fn count(&mut self, outcome: BulkOutcome) {
        let slot = match outcome {
            BulkOutcome::Reset => &mut self.reset,
            BulkOutcome::WouldReset => &mut self.would_reset,
            BulkOutcome::Refused => &mut self.refused,
            BulkOutcome::NotFound => &mut self.not_found,
            BulkOutcome::AlreadyDone => &mut self.already_done,
            BulkOutcome::Failed => &mut self.failed,
            BulkOutcome::Duplicate => &mut self.duplicates,
        };
        *slot += 1;
    }
}

/// A message of the stream.
#[derive(Debug)]
pub enum BulkEvent {
    /// The first message: the job.
    Started {
        /// The job.
        job_id: Uuid,
        /// Users in it.
        total: i32,
    },
    /// One user.
    Result(BulkResult),
    /// The end.
    Summary(BulkSummary),
}

/// A stored job with its items, for GetBulkJob.
#[derive(Clone, Debug)]
pub struct BulkJob {
    /// The job.
    pub id: Uuid,
    /// Who started it.
    pub actor: String,
    /// Its key.
    pub idempotency_key: Option<String>,
    /// Started.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Finished.
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Users.
    pub total: i32,
    /// Items: (index, user_ref, user_id, outcome, reason, done_at).
    pub items: Vec<BulkJobItem>,
    /// Token of the next page of items; empty on the last.
    pub next_page_token: String,
}

/// One stored item.
#[derive(Clone, Debug)]
pub struct BulkJobItem {
    /// Position.
    pub index: i32,
    /// As named.
    pub user_ref: String,
    /// Found user.
    pub user_id: Option<Uuid>,
    /// `pending`, `reset`, `refused`, `not_found` or `failed`.
    pub outcome: String,
    /// Why.
    pub reason: String,
    /// When settled.
    pub done_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl Gatehouse {
    /// Runs a bulk reset, sending one event per user and then the summary. Stops starting
    /// new users when the receiver goes away (the caller hung up); users in flight finish.
    pub async fn bulk_reset(
        &self,
        actor: &Actor,
        request: BulkRequest,
        events: mpsc::Sender<BulkEvent>,
    ) -> Result<(), Error> {
        self.require(actor, "password.bulk_reset", RESETTERS)
            .await?;
        if let Some(key) = &request.idempotency_key
            && (key.is_empty() || key.chars().count() > 128)
        {
            return Err(Error::invalid(
                "idempotency_key",
                "must be 1 to 128 characters",
            ));
        }
        let refs = self.bulk_refs(actor, &request.targets).await?;
        if request.dry_run {
            return self.bulk_dry_run(actor, refs, events).await;
        }
        let (job, items) = self.bulk_job_for(actor, &request, refs).await?;
        let mut summary = BulkSummary {
            job_id: Some(job.id),
            total: job.total,
            ..Default::default()
        };
        let started = BulkEvent::Started {
            job_id: job.id,
            total: job.total,
        };
        if events.send(started).await.is_err() {
            return Ok(());
        }
        let mut pending = Vec::new();
        for item in items {
            if item.outcome == PENDING {
                pending.push(item);
                continue;
            }
            if let Some(result) = self.redeliver(&job, &item).await? {
                summary.count(result.outcome);
                if events.send(BulkEvent::Result(result)).await.is_err() {
                    return Ok(());
                }
                continue;
            }
            let duplicate = item.outcome == BulkOutcome::Duplicate.stored();
            let result = BulkResult {
                index: item.idx,
                user_ref: item.user_ref,
                user_id: item.user_id,
                outcome: if duplicate {
                    BulkOutcome::Duplicate
                } else {
                    BulkOutcome::AlreadyDone
                },
                generated: None,
                expires_at: None,
                reason: if duplicate {
                    item.reason
                } else {
                    format!("settled by an earlier call: {}", item.outcome)
                },
                invitation_sent: false,
                redelivered: false,
            };
            summary.count(result.outcome);
            if events.send(BulkEvent::Result(result)).await.is_err() {
                return Ok(());
            }
        }
        let concurrency = self.hasher.workers().max(1) * 2;
        let policy = self.policy(actor.tenant_id).await?;
        // Who the notices name: one read per job, not per user.
        let by = self.principal_name(actor).await?;
        let mut results = futures::stream::iter(pending)
            .take_while(|_| std::future::ready(!events.is_closed()))
            .map(|item| self.bulk_one(actor, &by, &job, &policy, item))
            .buffer_unordered(concurrency);
        while let Some(result) = results.next().await {
            summary.count(result.outcome);
            if events.send(BulkEvent::Result(result)).await.is_err() {
                // The caller left: let in-flight users finish (each is atomic), start no more.
                while results.next().await.is_some() {}
                return Ok(());
            }
        }
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        tx.finish_bulk_job(job.id, store::now()).await?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "password.bulk_reset",
            format!("bulk_job:{}", job.id),
            Outcome::Success,
            &[
                ("total", &summary.total.to_string()),
                ("reset", &summary.reset.to_string()),
                ("refused", &summary.refused.to_string()),
                ("not_found", &summary.not_found.to_string()),
                ("already_done", &summary.already_done.to_string()),
                ("failed", &summary.failed.to_string()),
            ],
        ))
        .await?;
        tx.commit().await?;
        let _ = events.send(BulkEvent::Summary(summary)).await;
        Ok(())
    }

    /// A stored job and its items.
    pub async fn bulk_job(
        &self,
        actor: &Actor,
        job_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<BulkJob, Error> {
        self.require(
            actor,
            "password.bulk_job.read",
            &[
                Role::GlobalAdmin,
                Role::UserAdmin,
                Role::PasswordAdmin,
                Role::Auditor,
            ],
        )
        .await?;
        let id =
            Uuid::parse_str(job_id).map_err(|_| Error::invalid("job_id", "not a valid job id"))?;
        let job = self
            .store
            .bulk_job(actor.tenant_id, id)
            .await?
            .ok_or_else(|| Error::NotFound("no such bulk job in this tenant".to_owned()))?;
        let limit = match page_size {
            0 => 1000,
            n if n < 0 => return Err(Error::invalid("page_size", "must not be negative")),
            n => n.min(5000),
        };
        let scope = format!("bulk:{id}");
        let after = self
            .page_after_parsed::<i32>(actor.tenant_id, &scope, page_token)?
            .unwrap_or(-1);
        let limit = usize::try_from(limit).unwrap_or(1000);
        let mut items = self
            .store
            .bulk_items_page(id, after, limit as u64 + 1)
            .await?;
        let next_page_token = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|i| self.page_token(actor.tenant_id, &scope, &i.idx.to_string()))
                .transpose()?
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(BulkJob {
            next_page_token,
            id: job.id,
            actor: job.actor,
            idempotency_key: job.idempotency_key,
            created_at: job.created_at,
            finished_at: job.finished_at,
            total: job.total,
            items: items
                .into_iter()
                .map(|i| BulkJobItem {
                    index: i.idx,
                    user_ref: i.user_ref,
                    user_id: i.user_id,
                    outcome: i.outcome,
                    reason: i.reason,
                    done_at: i.done_at,
                })
                .collect(),
        })
    }

    /// The users named by the request, as (reference, key) in job order.
    async fn bulk_refs(&self, actor: &Actor, targets: &BulkTargets) -> Result<Vec<String>, Error> {
        match targets {
            BulkTargets::Users(keys) => {
                if keys.is_empty() {
                    return Err(Error::invalid(
                        "users",
                        "list at least one user, or set all_users",
                    ));
                }
                if keys.len() > MAX_BULK_USERS {
                    return Err(Error::invalid(
                        "users",
                        format!("at most {MAX_BULK_USERS} users per call"),
                    ));
                }
                Ok(keys
                    .iter()
                    .map(|k| match k {
                        UserKey::Id(id) => format!("id:{id}"),
                        UserKey::Username(name) => format!("username:{}", name.to_lowercase()),
                    })
                    .collect())
            }
            BulkTargets::All(state) => {
                let mut refs = Vec::new();
                // "Everyone" of an admin whose roles are scoped is the members of their units.
                let mut filter = UserFilter {
                    state: state.map(|s| s.as_str().to_owned()),
                    after_username: None,
                    in_units: authz::read_reach(actor).units,
                    registration: None,
                };
                loop {
                    let page = self
                        .store
                        .list_users(actor.tenant_id, &filter, 1000)
                        .await?;
                    let Some(last) = page.last() else { break };
                    filter.after_username = Some(last.username.clone());
                    refs.extend(page.into_iter().map(|u| format!("id:{}", u.id)));
                }
                Ok(refs)
            }
        }
    }

    /// For each reference, the earlier reference to the same user, if any: usernames are
    /// resolved (in batches) so that a user named by id and by username counts once.
    async fn earlier_mentions(
        &self,
        actor: &Actor,
        refs: &[String],
    ) -> Result<Vec<Option<usize>>, Error> {
        let names: Vec<String> = refs
            .iter()
            .filter_map(|r| r.strip_prefix("username:").map(str::to_owned))
            .collect();
        let by_name: std::collections::HashMap<String, Uuid> = self
            .store
            .users_by_usernames(actor.tenant_id, &names)
            .await?
            .into_iter()
            .map(|u| (u.username, u.id))
            .collect();
        let mut first_seen: std::collections::HashMap<Uuid, usize> =
            std::collections::HashMap::new();
        Ok(refs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let id = match r.split_once(':') {
                    Some(("id", id)) => Uuid::parse_str(id).ok(),
                    Some((_, name)) => by_name.get(name).copied(),
                    None => None,
                }?;
                match first_seen.entry(id) {
                    std::collections::hash_map::Entry::Occupied(first) => Some(*first.get()),
                    std::collections::hash_map::Entry::Vacant(slot) => {
                        slot.insert(i);
                        None
                    }
                }
            })
            .collect())
    }

    /// Finds the job of this idempotency key, or stores a new one with every item pending.
    async fn bulk_job_for(
        &self,
        actor: &Actor,
        request: &BulkRequest,
        refs: Vec<String>,
    ) -> Result<(BulkJobRow, Vec<BulkItemRow>), Error> {
        let digest = {
            let mut hasher = Sha256::new();
            // A key belongs to the actor who first used it: another admin reusing it gets
            // FAILED_PRECONDITION instead of judging the job under their own roles.
            hasher.update(actor.principal.to_string().as_bytes());
            hasher.update(b"\n");
            hasher.update(if request.require_change {
                b"change:1\n"
            } else {
                b"change:0\n"
            });
            hasher.update(if request.invite {
                b"invite:1\n"
            } else {
                b"invite:0\n"
            });
            match &request.targets {
                BulkTargets::All(state) => {
                    hasher.update(format!("all:{}\n", state.map_or("", |s| s.as_str())))
                }
                BulkTargets::Users(_) => {
                    for r in &refs {
                        hasher.update(r.as_bytes());
                        hasher.update(b"\n");
                    }
                }
            }
            hex::encode(hasher.finalize())
        };
        if let Some(key) = &request.idempotency_key
            && let Some(job) = self.store.bulk_job_by_key(actor.tenant_id, key).await?
        {
            if job.request_digest != digest {
                return Err(Error::FailedPrecondition(
                    "this idempotency key belongs to a different bulk request; use a new key"
                        .to_owned(),
                ));
            }
            let items = self.store.bulk_items(job.id).await?;
            return Ok((job, items));
        }
        let job = BulkJobRow {
            id: Uuid::now_v7(),
            tenant_id: actor.tenant_id,
            idempotency_key: request.idempotency_key.clone(),
            request_digest: digest,
            actor: actor.principal.to_string(),
            require_change: request.require_change,
            invite: request.invite,
            total: i32::try_from(refs.len()).unwrap_or(i32::MAX),
            created_at: store::now(),
            finished_at: None,
        };
        let earlier = self.earlier_mentions(actor, &refs).await?;
        let now = store::now();
        let items: Vec<BulkItemRow> = refs
            .into_iter()
            .zip(earlier)
            .enumerate()
            .map(|(i, (user_ref, earlier))| BulkItemRow {
                job_id: job.id,
                idx: i32::try_from(i).unwrap_or(i32::MAX),
                user_ref,
                user_id: None,
                // A repeated user is settled at once: resetting twice would void the first
                // password streamed.
                outcome: earlier
                    .map_or(PENDING, |_| BulkOutcome::Duplicate.stored())
                    .to_owned(),
                reason: earlier
                    .map(|j| format!("the same user as item {j}"))
                    .unwrap_or_default(),
                done_at: earlier.map(|_| now),
                sealed_password: None,
            })
            .collect();
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        match tx.insert_bulk_job(job.clone(), items.clone()).await {
            Ok(()) => {}
            Err(store::StoreError::Conflict(_)) => {
                // A concurrent call with the same key created it first: join that job.
                drop(tx);
                return Box::pin(self.bulk_job_for(
                    actor,
                    request,
                    items.into_iter().map(|i| i.user_ref).collect(),
                ))
                .await;
            }
            Err(e) => return Err(e.into()),
        }
        tx.commit().await?;
        Ok((job, items))
    }

    async fn bulk_dry_run(
        &self,
        actor: &Actor,
        refs: Vec<String>,
        events: mpsc::Sender<BulkEvent>,
    ) -> Result<(), Error> {
        let mut summary = BulkSummary {
            total: i32::try_from(refs.len()).unwrap_or(i32::MAX),
            ..Default::default()
        };
        let earlier = self.earlier_mentions(actor, &refs).await?;
        for (i, (user_ref, earlier)) in refs.into_iter().zip(earlier).enumerate() {
            let lookup = match earlier {
                Some(j) => Err(Error::AlreadyExists(format!("the same user as item {j}"))),
                None => self.find_user(actor, key_of(&user_ref)).await,
            };
            let (user_id, outcome, reason) = match lookup {
                Err(Error::AlreadyExists(m)) => (None, BulkOutcome::Duplicate, m),
                Err(Error::NotFound(m)) | Err(Error::InvalidArgument { message: m, .. }) => {
                    (None, BulkOutcome::NotFound, m)
                }
                Err(e) => return Err(e),
                Ok(user) => {
                    let roles = self.roles_of(actor.tenant_id, user.id).await?;
                    let units = self.units_judged(actor, user.id).await?;
                    let target = authz::Target {
                        id: user.id,
                        roles: &roles,
                        units: &units,
                    };
                    match authz::may_touch(actor, &target) {
                        Ok(_) => (Some(user.id), BulkOutcome::WouldReset, String::new()),
                        Err(authz::Denial(reason)) => (Some(user.id), BulkOutcome::Refused, reason),
                    }
                }
            };
            summary.count(outcome);
            let result = BulkResult {
                index: i32::try_from(i).unwrap_or(i32::MAX),
                user_ref,
                user_id,
                outcome,
                generated: None,
                expires_at: None,
                reason,
                invitation_sent: false,
                redelivered: false,
            };
            if events.send(BulkEvent::Result(result)).await.is_err() {
                return Ok(());
            }
        }
        let _ = events.send(BulkEvent::Summary(summary)).await;
        Ok(())
    }

    /// Resets one user of a job; never fails the whole call.
    async fn bulk_one(
        &self,
        actor: &Actor,
        by: &str,
        job: &BulkJobRow,
        policy: &PasswordPolicy,
        item: BulkItemRow,
    ) -> BulkResult {
        let mut result = BulkResult {
            index: item.idx,
            user_ref: item.user_ref.clone(),
            user_id: None,
            outcome: BulkOutcome::Failed,
            generated: None,
            expires_at: None,
            reason: String::new(),
            invitation_sent: false,
            redelivered: false,
        };
        match self
            .bulk_reset_user(actor, by, job, policy, &item, &mut result)
            .await
        {
            Ok(()) => {}
            Err(Error::NotFound(reason))
            | Err(Error::InvalidArgument {
                message: reason, ..
            }) => {
                result.outcome = BulkOutcome::NotFound;
                result.reason = reason;
            }
            Err(Error::PermissionDenied(reason)) => {
                result.outcome = BulkOutcome::Refused;
                result.reason = reason;
            }
            Err(e) => {
                tracing::error!(error = %e, job = %job.id, index = item.idx, "bulk reset of one user failed");
                result.outcome = BulkOutcome::Failed;
                result.reason = "internal error; retry with the same idempotency key".to_owned();
            }
        }
        if !matches!(
            result.outcome,
            BulkOutcome::Reset | BulkOutcome::AlreadyDone | BulkOutcome::Failed
        ) {
            // Refusals and unknown users are settled too, so a retry does not ask again.
            let settled = async {
                let tx = self.store.write_tenant(actor.tenant_id).await?;
                tx.settle_item(
                    job.id,
                    item.idx,
                    result.user_id,
                    result.outcome.stored(),
                    &result.reason,
                    store::now(),
                )
                .await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = settled {
                tracing::error!(error = %e, "could not settle a bulk item");
            }
        }
        result
    }

    async fn bulk_reset_user(
        &self,
        actor: &Actor,
        by: &str,
        job: &BulkJobRow,
        policy: &PasswordPolicy,
        item: &BulkItemRow,
        result: &mut BulkResult,
    ) -> Result<(), Error> {
        let (job_id, require_change) = (job.id, job.require_change);
        if job.invite {
            let target = self.find_user(actor, key_of(&item.user_ref)).await?;
            result.user_id = Some(target.id);
            let settles = Settles::BulkItem {
                job_id,
                index: item.idx,
            };
            return match self
                .invite(actor, by, &target, policy, Some(&settles))
                .await
            {
                Ok(outcome) => {
                    result.outcome = BulkOutcome::Reset;
                    result.invitation_sent = outcome.invitation_sent;
                    result.expires_at = outcome.expires_at;
                    Ok(())
                }
                Err(Error::FailedPrecondition(_)) => {
                    result.outcome = BulkOutcome::AlreadyDone;
                    result.reason =
                        "settled by a concurrent call with the same idempotency key".to_owned();
                    Ok(())
                }
                Err(e) => Err(e),
            };
        }
        // A user named by id is found by the transaction's own row lock; no separate read.
        let target_id = match key_of(&item.user_ref) {
            UserKey::Id(id) => Uuid::parse_str(&id)
                .map_err(|_| Error::NotFound("no such user in this tenant".to_owned()))?,
            key => self.find_user(actor, key).await?.id,
        };
        result.user_id = Some(target_id);
        // The role check runs once, inside the user's transaction (`target_tx`): a refusal
        // there wastes one hash, which is rare; a separate pre-check would cost every user
        // two more queries.
        let password = generate_password();
        let hash = self.hasher.hash_waiting(&password).await?;
        let now = store::now();
        let expires_at = require_change
            .then(|| now + chrono::Duration::hours(policy.temporary_password_hours.into()));
        // Read before the transaction: a read on another connection while it holds one could
        // wait for a connection the other users' transactions hold. A few indexed reads beside
        // a hash of tens of milliseconds; a user gone meanwhile is refused by the transaction.
        let notices = match self.store.user_by_id(actor.tenant_id, target_id).await? {
            Some(target) => {
                let how = "a bulk reset";
                self.password_notices(
                    policy,
                    &target,
                    PasswordSet::ByAdmin {
                        by,
                        how,
                        invitation: false,
                    },
                    now,
                )
                .await?
            }
            None => Vec::new(),
        };
        let (tx, _, _) = self.target_tx(actor, "password.reset", target_id).await?;
        if !tx
            .settle_item(job_id, item.idx, Some(target_id), "reset", "", now)
            .await?
        {
            // Settled meanwhile by a concurrent call with the key (the first call's users
            // in flight when it was cut): this change must not happen, and that call's
            // password is handed out instead.
            drop(tx);
            if let Some(settled) = self.store.bulk_item(job_id, item.idx).await?
                && let Some(again) = self.redeliver(job, &settled).await?
            {
                *result = again;
                return Ok(());
            }
            result.outcome = BulkOutcome::AlreadyDone;
            result.reason = "settled by a concurrent call with the same idempotency key".to_owned();
            return Ok(());
        }
        // Kept, sealed, until the caller acknowledges the job: a result the caller never
        // read is handed out again by a retry instead of being lost.
        let sealed = self.settings.secret_key.seal(
            HELD_PASSWORDS,
            &held_context(job_id, item.idx),
            password.expose(),
        )?;
        tx.hold_password(job_id, item.idx, &sealed).await?;
        tx.put_credential(new_credential(
            target_id,
            actor.tenant_id,
            hash,
            now,
            expires_at,
            require_change,
            require_change,
        ))
        .await?;
        tx.trim_history(target_id, u64::from(policy.history_count))
            .await?;
        let revoked = tx.revoke_user_sessions(target_id, now).await?;
        for notice in notices {
            self.queue(&tx, notice).await?;
        }
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "password.reset",
            format!("user:{}", target_id),
            Outcome::Success,
            &[
                ("bulk_job", &job_id.to_string()),
                ("generated", "true"),
                (
                    "require_change",
                    if require_change { "true" } else { "false" },
                ),
                ("revoked_sessions", &revoked.to_string()),
            ],
        ))
        .await?;
        tx.commit().await?;
        result.outcome = BulkOutcome::Reset;
        result.generated = Some(password);
        result.expires_at = expires_at;
        Ok(())
    }
}

/// What a bulk item's kept password is sealed for.
const HELD_PASSWORDS: &str = "bulk reset passwords";

/// A kept password is bound to its job and item.
fn held_context(job_id: Uuid, idx: i32) -> Vec<u8> {
    let mut context = job_id.as_bytes().to_vec();
    context.extend_from_slice(&idx.to_be_bytes());
    context
}

impl Gatehouse {
    /// The kept password of a settled item, handed out again (marked re-delivered) while it
    /// is still the person's: not changed since the reset and not expired. One that is no
    /// longer theirs is erased. `None`: nothing to hand out.
    async fn redeliver(
        &self,
        job: &BulkJobRow,
        item: &BulkItemRow,
    ) -> Result<Option<BulkResult>, Error> {
        let (Some(sealed), Some(user_id), Some(done_at)) =
            (&item.sealed_password, item.user_id, item.done_at)
        else {
            return Ok(None);
        };
        let now = store::now();
        let current = self
            .store
            .credential(user_id)
            .await?
            .filter(|c| c.set_at == done_at && c.expires_at.is_none_or(|at| at > now));
        let opened = self
            .settings
            .secret_key
            .open(HELD_PASSWORDS, &held_context(job.id, item.idx), sealed)
            .ok();
        let (Some(credential), Some(password)) = (current, opened) else {
            let tx = self.store.write_tenant(job.tenant_id).await?;
            tx.erase_held_passwords(job.id, Some(item.idx)).await?;
            tx.commit().await?;
            return Ok(None);
        };
        Ok(Some(BulkResult {
            index: item.idx,
            user_ref: item.user_ref.clone(),
            user_id: Some(user_id),
            outcome: BulkOutcome::Reset,
            generated: Some(Password::new(password)),
            expires_at: credential.expires_at,
            reason: "handed out again: the earlier call's results were not acknowledged".to_owned(),
            invitation_sent: false,
            redelivered: true,
        }))
    }

    /// Erases the passwords kept for re-delivery of a job the actor ran; returns how many.
    pub async fn acknowledge_bulk_results(
        &self,
        actor: &Actor,
        job_id: &str,
    ) -> Result<u64, Error> {
        self.require(actor, "password.bulk_acknowledge", RESETTERS)
            .await?;
        let id = Uuid::parse_str(job_id.trim())
            .map_err(|_| Error::invalid("job_id", "not a bulk job id"))?;
        let job = self
            .store
            .bulk_job(actor.tenant_id, id)
            .await?
            .ok_or_else(|| Error::NotFound("no such bulk job in this tenant".to_owned()))?;
        if job.actor != actor.principal.to_string() {
            return Err(self
                .deny(
                    actor,
                    "password.bulk_acknowledge",
                    format!("bulk_job:{id}"),
                    "only the principal who ran the job acknowledges its results".to_owned(),
                )
                .await);
        }
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        let erased = tx.erase_held_passwords(id, None).await?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "password.bulk_acknowledge",
            format!("bulk_job:{id}"),
            Outcome::Success,
            &[("passwords_erased", &erased.to_string())],
        ))
        .await?;
        tx.commit().await?;
        Ok(erased)
    }
}

fn key_of(user_ref: &str) -> UserKey {
    match user_ref.split_once(':') {
        Some(("id", id)) => UserKey::Id(id.to_owned()),
        Some((_, name)) => UserKey::Username(name.to_owned()),
        None => UserKey::Username(user_ref.to_owned()),
    }
}
