//! Forgotten password: the self-service reset. A person starts with a username (the answer
//! never says whether it exists), proves as many verified methods as the policy requires
//! (an emailed code, or a current authenticator code), then sets a new password. Starting
//! never locks or changes the account; finishing revokes every session, clears a lock-out
//! and tells every registered address.

use uuid::Uuid;

use super::audit::{self, Outcome};
use super::error::Error;
use super::methods::{MethodKind, Quota};
use super::secret::Password;
use super::service::{Gatehouse, set_chosen_password};
use super::types::Caller;
use crate::store::{self, FlowRow, UserRow};

/// How long a flow lives.
const FLOW_MINUTES: i64 = 30;
/// Codes one flow may send.
const MAX_SENDS: i32 = 3;
/// Flows one account may start per hour.
const MAX_FLOWS_PER_HOUR: u64 = 5;

/// Where a flow stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowStatus {
    /// Methods proved.
    pub proved: u32,
    /// Methods the policy requires.
    pub required: u32,
}

impl Gatehouse {
    /// Starts a reset; returns a flow id whether or not the account exists, no sooner than
    /// [`super::service::ANONYMOUS_FLOOR`] after the call began.
    pub async fn start_reset(
        &self,
        caller: &Caller,
        username: &str,
        tenant: &str,
    ) -> Result<Uuid, Error> {
        super::service::at_floor(self.start_reset_now(caller, username, tenant)).await
    }

    async fn start_reset_now(
        &self,
        caller: &Caller,
        username: &str,
        tenant: &str,
    ) -> Result<Uuid, Error> {
        if username.trim().is_empty() {
            return Err(Error::invalid("username", "required"));
        }
        let id = Uuid::now_v7();
        let username = username.trim().to_lowercase();
        let Some(user) = self.reset_target(&username, tenant).await? else {
            return Ok(id);
        };
        let now = store::now();
        if self
            .store
            .flows_since(user.id, now - chrono::Duration::hours(1))
            .await?
            >= MAX_FLOWS_PER_HOUR
        {
            // Rate-limited: the same answer, a flow that does not exist.
            return Ok(id);
        }
        self.store
            .insert_flow(FlowRow {
                id,
                tenant_id: user.tenant_id,
                user_id: user.id,
                created_at: now,
                expires_at: now + chrono::Duration::minutes(FLOW_MINUTES),
                code_hash: None,
                code_method_id: None,
                code_expires_at: None,
                attempts: 0,
                sends: 0,
                proved: String::new(),
                completed_at: None,
            })
            .await?;
        self.append(audit::event(
            user.tenant_id,
            "anonymous".to_owned(),
            caller.service.clone(),
            "reset.start",
            format!("user:{}", user.id),
            Outcome::Success,
            &[("flow", &id.to_string())],
        ))
        .await?;
        Ok(id)
    }

    /// Sends a code to the verified email or phone method the person names by its address
    /// or number (in any usual spelling). Answers the same whether or not it matched, whether
    /// or not the flow exists, and whether or not a limit held the code back; no sooner than
    /// [`super::service::ANONYMOUS_FLOOR`] after the call began.
    pub async fn send_reset_code(
        &self,
        caller: &Caller,
        flow_id: &str,
        address: &str,
    ) -> Result<(), Error> {
        super::service::at_floor(self.send_reset_code_now(caller, flow_id, address)).await
    }

    async fn send_reset_code_now(
        &self,
        caller: &Caller,
        flow_id: &str,
        address: &str,
    ) -> Result<(), Error> {
        let Some(flow) = self.live_flow(flow_id).await? else {
            return Ok(());
        };
        let (kind, normalised) = if address.contains('@') {
            (
                MethodKind::Email,
                super::users::normalise_username("address", address),
            )
        } else {
            (
                MethodKind::Phone,
                super::phone::normalise("address", address),
            )
        };
        let method = match normalised {
            Ok(address) => self
                .store
                .methods(flow.user_id)
                .await?
                .into_iter()
                .find(|m| {
                    MethodKind::of(m) == kind && m.verified_at.is_some() && m.address == address
                }),
            Err(_) => None,
        };
        let Some(method) = method else {
            let event = flow_event(&flow, caller, "reset.code_not_sent", Outcome::Denied).with(&[
                ("reason", "no_such_verified_method"),
                ("kind", kind.as_str()),
            ]);
            self.append(event.into()).await?;
            return Ok(());
        };
        let address = method.address.clone();
        let Some(user) = self.store.user_by_id(flow.tenant_id, flow.user_id).await? else {
            return Ok(());
        };
        let policy = self.policy(flow.tenant_id).await?;
        let code = Password::new(format!("{:08}", rand::random_range(0..100_000_000u32)));
        let now = store::now();
        let tx = self.store.write_tenant(flow.tenant_id).await?;
        // The flow's sends first: a flow held back by the destination's limit still uses up
        // its three, so it cannot be called forever.
        if !tx.spend_flow_send(flow.id, MAX_SENDS).await? {
            let event = flow_event(&flow, caller, "reset.code_not_sent", Outcome::Denied)
                .with(&[("reason", "flow_sends_used_up"), ("kind", kind.as_str())]);
            tx.append_audit(event.into()).await?;
            tx.commit().await?;
            return Ok(());
        }
        if !tx
            .take_send_quota(
                &self.quota_key(Quota::ResetCode, &address),
                self.settings.code_sends_per_destination,
                now,
            )
            .await?
        {
            // Someone is sending codes to this destination through many accounts or flows.
            tx.append_audit(audit::event(
                user.tenant_id,
                "anonymous".to_owned(),
                caller.service.clone(),
                "reset.code_held_back",
                format!("user:{}", user.id),
                Outcome::Denied,
                &[("flow", &flow.id.to_string()), ("kind", kind.as_str())],
            ))
            .await?;
            tx.commit().await?;
            return Ok(());
        }
        let expires = now + chrono::Duration::minutes(policy.reset_code_minutes.into());
        tx.set_flow_code(flow.id, method.id, self.code_digest(&code), expires)
            .await?;
        self.queue(&tx, reset_code(&user, kind, &method.address, &code))
            .await?;
        let event = flow_event(&flow, caller, "reset.code_sent", Outcome::Success)
            .with(&[("kind", kind.as_str())]);
        tx.append_audit(event.into()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a code of the flow: the emailed or texted one, or a current authenticator code.
    /// Every failure is one answer. A try is taken atomically before the code is looked at,
    /// so however many guesses arrive at once, at most the policy's number are evaluated; a
    /// right code gives its try back.
    /// Answers no sooner than [`super::service::ANONYMOUS_FLOOR`]: a flow id stands for an
    /// account, and a real flow's bookkeeping must not show in the response time.
    pub async fn verify_reset_code(
        &self,
        caller: &Caller,
        flow_id: &str,
        code: &Password,
    ) -> Result<FlowStatus, Error> {
        super::service::at_floor(self.verify_reset_code_now(caller, flow_id, code)).await
    }

    async fn verify_reset_code_now(
        &self,
        caller: &Caller,
        flow_id: &str,
        code: &Password,
    ) -> Result<FlowStatus, Error> {
        let invalid = || {
            Error::Unauthenticated(
                "the code is not valid: it may be mistyped, used or expired".to_owned(),
            )
        };
        let Some(flow) = self.live_flow(flow_id).await? else {
            return Err(invalid());
        };
        let policy = self.policy(flow.tenant_id).await?;
        let max = i32::try_from(policy.reset_code_attempts).unwrap_or(5);
        let rejected = |reason: &str| {
            flow_event(&flow, caller, "reset.code_rejected", Outcome::Failure)
                .with(&[("reason", reason)])
                .into()
        };
        if !self.store.spend_flow_try(flow.id, max).await? {
            self.append(rejected("no_tries_left")).await?;
            return Err(invalid());
        }
        let now = store::now();
        let mut step = None;
        let proved = if self.code_matches(flow.code_hash.as_deref(), code)
            && flow.code_expires_at.is_some_and(|at| at > now)
        {
            flow.code_method_id
        } else {
            let found = self.matching_authenticator(&flow, code, now).await?;
            step = found.map(|(_, step)| step);
            found.map(|(id, _)| id)
        };
        let Some(method_id) = proved else {
            self.append(rejected("wrong_code")).await?;
            return Err(invalid());
        };
        let tx = self.store.write_tenant(flow.tenant_id).await?;
        // An authenticator's step must be newer than the last accepted: no code twice.
        match step {
            Some(step) => {
                if !tx
                    .verify_method(method_id, store::Proof::Step(step), now)
                    .await?
                {
                    drop(tx);
                    self.append(rejected("code_already_used")).await?;
                    return Err(invalid());
                }
            }
            // Proving a method by a fresh code confirms again that it is the person's.
            None => tx.reconfirm_method(method_id, now).await?,
        }
        self.rejudge(&tx, &policy, flow.user_id, now).await?;
        // Read again under the tenant lock, so parallel proofs of two methods both count.
        let Some(current) = tx.flow(flow.id).await? else {
            return Err(invalid());
        };
        let method = method_id.to_string();
        let mut ids: Vec<&str> = current
            .proved
            .split(',')
            .filter(|s| !s.is_empty())
            .collect();
        if !ids.contains(&method.as_str()) {
            ids.push(&method);
        }
        tx.prove(flow.id, &ids.join(",")).await?;
        tx.refund_flow_try(flow.id).await?;
        let proved_count = ids.len().to_string();
        let event = flow_event(&flow, caller, "reset.method_proved", Outcome::Success)
            .with(&[("methods_proved", proved_count.as_str())]);
        tx.append_audit(event.into()).await?;
        tx.commit().await?;
        Ok(FlowStatus {
            proved: u32::try_from(ids.len()).unwrap_or(u32::MAX),
            required: policy.reset_methods_required,
        })
    }

    /// The person's verified authenticator that shows `code` now, with the matched time step.
    /// One whose secret this server's key cannot open is skipped (and logged).
    async fn matching_authenticator(
        &self,
        flow: &FlowRow,
        code: &Password,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<(Uuid, i64)>, Error> {
        let Some(user) = self.store.user_by_id(flow.tenant_id, flow.user_id).await? else {
            return Ok(None);
        };
        for method in self.store.methods(flow.user_id).await? {
            if MethodKind::of(&method) != MethodKind::Authenticator || method.verified_at.is_none()
            {
                continue;
            }
            let totp = match self.authenticator(&method, &user.username) {
                Ok(totp) => totp,
                Err(e) => {
                    tracing::warn!(verification_method = %method.id, error = %e, "skipping an authenticator this server's key cannot open");
                    continue;
                }
            };
            if let Some(step) = super::methods::totp_step(&totp, code, now) {
                return Ok(Some((method.id, step)));
            }
        }
        Ok(None)
    }

    /// Sets the new password of a flow that proved enough methods.
    pub(super) async fn complete_flow(
        &self,
        caller: &Caller,
        username: &str,
        flow_id: &str,
        new_password: &Password,
    ) -> Result<(), Error> {
        // One answer for an unknown, expired, finished, mismatched or unproved flow: a flow
        // that exists but lacks proof must not tell that its account is real.
        let invalid = || {
            Error::Unauthenticated(
                "the reset is not complete or has expired: prove the required verification methods, or start again"
                    .to_owned(),
            )
        };
        let Some(flow) = self.live_flow(flow_id).await? else {
            return Err(invalid());
        };
        let refused = |reason: &str| {
            flow_event(&flow, caller, "reset.complete_refused", Outcome::Failure)
                .with(&[("reason", reason)])
                .into()
        };
        let Some(user) = self.store.user_by_id(flow.tenant_id, flow.user_id).await? else {
            return Err(invalid());
        };
        if user.username != username.trim().to_lowercase() {
            self.append(refused("username_mismatch")).await?;
            return Err(invalid());
        }
        let policy = self.policy(flow.tenant_id).await?;
        let proved = flow.proved.split(',').filter(|s| !s.is_empty()).count();
        if proved < policy.reset_methods_required as usize {
            self.append(refused("not_enough_methods_proved")).await?;
            return Err(invalid());
        }
        Error::from_violations(self.check_new_password(
            &policy,
            "new_password",
            new_password,
            &user.username,
            &user.display_name,
        ))?;
        self.check_history(user.id, new_password, &policy).await?;
        let hash = self.hasher.hash(new_password).await?;
        let now = store::now();
        let mut notices = self
            .others_told(
                &user,
                None,
                "The password was reset (with your security info) for",
            )
            .await?;
        let how = "a self-service reset with their security info";
        notices.extend(
            self.password_notices(
                &policy,
                &user,
                super::notices::PasswordSet::ByOwner { how },
                now,
            )
            .await?,
        );
        let tx = self.store.write_tenant(user.tenant_id).await?;
        if tx.lock_user(user.tenant_id, user.id).await?.is_none()
            || !tx.complete_flow(flow.id, now).await?
        {
            return Err(invalid());
        }
        let revoked = set_chosen_password(&tx, &user, hash, &policy, now).await?;
        tx.unlock(user.id, now).await?;
        for notice in notices {
            self.queue(&tx, notice).await?;
        }
        tx.append_audit(audit::by_self(
            &user,
            caller,
            "password.self_reset",
            Outcome::Success,
            &[
                ("methods_proved", &proved.to_string()),
                ("revoked_sessions", &revoked.to_string()),
            ],
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reset_target(&self, username: &str, tenant: &str) -> Result<Option<UserRow>, Error> {
        let Some(tenant) = self.tenant_for_sign_in(tenant, username).await? else {
            return Ok(None);
        };
        Ok(self.store.user_by_username(tenant.id, username).await?)
    }

    async fn live_flow(&self, flow_id: &str) -> Result<Option<FlowRow>, Error> {
        let Ok(id) = Uuid::parse_str(flow_id) else {
            return Ok(None);
        };
        let now = store::now();
        Ok(self
            .store
            .flow(id)
            .await?
            .filter(|f| f.expires_at > now && f.completed_at.is_none()))
    }
}

fn reset_code(
    user: &UserRow,
    kind: MethodKind,
    address: &str,
    code: &Password,
) -> store::NewMessage {
    super::notices::to_method(
        user,
        kind,
        address,
        "Your password reset code",
        format!(
            "Hello {name},\n\nSomeone asked to reset the password of {username}. The code is:\n\n    {code}\n\n\
             If it was not you, ignore this message; your password has not changed.\n",
            name = user.display_name,
            username = user.username,
            code = code.expose(),
        ),
        format!(
            "{code} is your code to reset the password of {username}. If it was not you, ignore this message.",
            code = code.expose(),
            username = user.username,
        ),
    )
}

/// An audit event of an anonymous step of `flow`, naming the flow (never a code).
fn flow_event(flow: &FlowRow, caller: &Caller, action: &str, outcome: Outcome) -> FlowEvent {
    FlowEvent {
        tenant_id: flow.tenant_id,
        service: caller.service.clone(),
        action: action.to_owned(),
        target: format!("user:{}", flow.user_id),
        outcome,
        details: vec![("flow".to_owned(), flow.id.to_string())],
    }
}

/// An audit event being built for a reset flow step.
struct FlowEvent {
    tenant_id: Uuid,
    service: Option<String>,
    action: String,
    target: String,
    outcome: Outcome,
    details: Vec<(String, String)>,
}

impl FlowEvent {
    fn with(mut self, details: &[(&str, &str)]) -> FlowEvent {
        self.details.extend(
            details
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self
    }
}

impl From<FlowEvent> for store::NewAuditEvent {
    fn from(event: FlowEvent) -> Self {
        let details: Vec<(&str, &str)> = event
            .details
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        audit::event(
            event.tenant_id,
            "anonymous".to_owned(),
            event.service,
            &event.action,
            event.target,
            event.outcome,
            &details,
        )
    }
}
