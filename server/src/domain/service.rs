//! The domain service: one value shared by every handler, holding the store, the hashing
//! pool and the settings. Its operations live in the sibling modules.

use std::time::Duration;

use uuid::Uuid;

use super::error::Error;
use super::hashing::Hasher;
use super::keys::SecretKey;
use super::policy::{PasswordPolicy, generate_password};
use super::secret::Password;
use super::types::{Actor, Caller, Principal, Role, Session, SessionKind, UserState};
use super::{audit, types::ChangeReason};
use crate::store::{self, CredentialRow, NewAuditEvent, PolicyRow, Store, TenantRow, Tx, UserRow};

/// The least time the anonymous self-service calls that name an account (`StartPasswordReset`,
/// `SendResetCode`, `RequestAdminHelp`) take to answer. A real account costs a few writes that
/// an unknown one does not; answering at a fixed floor keeps that difference out of the
/// response time (while the work stays under the floor, which it does by a wide margin).
pub const ANONYMOUS_FLOOR: Duration = Duration::from_millis(150);

/// Runs `work`, then waits until [`ANONYMOUS_FLOOR`] has passed since it started.
pub(super) async fn at_floor<T>(work: impl std::future::Future<Output = T>) -> T {
    let started = tokio::time::Instant::now();
    let result = work.await;
    tokio::time::sleep_until(started + ANONYMOUS_FLOOR).await;
    result
}

/// Lifetimes and names the domain needs from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Lifetime of a full session.
    pub session_ttl: Duration,
    /// Lifetime of a change-only session.
    pub change_session_ttl: Duration,
    /// Whether an SMS gateway is configured (phones may be registered).
    pub sms_enabled: bool,
    /// Codes one destination (address or phone) may be sent per hour, across all accounts.
    pub code_sends_per_destination: u32,
    /// The server's secret key (never in the database).
    pub secret_key: SecretKey,
}

/// The domain service.
#[derive(Clone)]
pub struct Gatehouse {
    pub(super) store: Store,
    pub(super) hasher: Hasher,
    pub(super) settings: Settings,
    /// Woken whenever this process settles a reserved password check, so checks waiting for
    /// a place on a busy account retry at once (they also poll, for other replicas' checks).
    pub(super) checks_settled: std::sync::Arc<tokio::sync::Notify>,
    /// The compromised-password list this process checks against.
    pub(super) compromised: std::sync::Arc<super::compromised::CompromisedList>,
}

impl std::fmt::Debug for Gatehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gatehouse")
            .field("store", &self.store)
            .field("hasher", &self.hasher)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Gatehouse {
    /// Assembles the service over a migrated store.
    pub fn new(store: Store, hasher: Hasher, settings: Settings) -> Self {
        Gatehouse {
            store,
            hasher,
            settings,
            checks_settled: std::sync::Arc::new(tokio::sync::Notify::new()),
            compromised: std::sync::Arc::default(),
        }
    }

    /// Queues a message in `tx`, delivered once `tx` commits. Its body is sealed under the
    /// server's key (bound to channel and recipient), so a copy of the database holds no code
    /// from a message not yet sent; the dispatcher opens it.
    pub(super) async fn queue(&self, tx: &Tx, mut message: store::NewMessage) -> Result<(), Error> {
        message.body = self.settings.secret_key.seal_message(
            message.channel,
            &message.recipient,
            &message.body,
        )?;
        tx.enqueue(message).await?;
        Ok(())
    }

    /// The server's secret key, for the dispatcher that opens sealed message bodies.
    pub fn secret_key(&self) -> &SecretKey {
        &self.settings.secret_key
    }

    /// The store, for health checks.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The hashing pool, for its metrics.
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    /// Creates the default tenant and its policy when missing. With `admin`, also creates that
    /// user as a global admin with a temporary password, returned once; `None` when the tenant
    /// already has a global admin.
    pub async fn bootstrap(
        &self,
        tenant_name: &str,
        domain: &str,
        admin: Option<&str>,
    ) -> Result<Option<(String, Password)>, Error> {
        let tenant = match self.store.default_tenant().await? {
            Some(tenant) => tenant,
            None => {
                self.insert_tenant(tenant_name, &domain.trim().to_ascii_lowercase(), true)
                    .await?
            }
        };
        let Some(username) = admin else {
            return Ok(None);
        };
        self.first_admin(&tenant, username).await
    }

    /// Creates another tenant (not the default) with the default policy and `admin` as its
    /// global admin, in one transaction; returns the tenant and the admin's one-time password.
    /// `by` is who asked, for the audit trail (`None`: the system).
    pub(super) async fn create_tenant_with_admin(
        &self,
        by: Option<&Actor>,
        name: &str,
        domain: &str,
        admin: &str,
    ) -> Result<(TenantRow, Password), Error> {
        let password = generate_password();
        let hash = self.hasher.hash(&password).await?;
        let policy = PasswordPolicy::default();
        let now = store::now();
        let tx = self.store.write().await?;
        if let Some(by) = by {
            // Again under the creator's tenant lock: a role revoked since the request began
            // (revocations take that lock too) counts.
            tx.lock_tenant(by.tenant_id).await?;
            let (user, service) = match &by.principal {
                Principal::User(id) => (Some(*id), None),
                Principal::Service(name) => (None, Some(name.as_str())),
            };
            if !tx
                .holds_role(by.tenant_id, user, service, Role::GlobalAdmin.as_str())
                .await?
            {
                return Err(Error::PermissionDenied(
                    "only a global admin of the default tenant manages tenants".to_owned(),
                ));
            }
        }
        let actor = by.map_or_else(|| "system".to_owned(), |a| a.principal.to_string());
        let service = by.and_then(|a| a.service.clone());
        let tenant =
            insert_tenant_in(&tx, name, domain, false, actor.clone(), service.clone()).await?;
        if let Some(by) = by {
            // The creator's own tenant records the act too.
            tx.append_audit(audit::event(
                by.tenant_id,
                actor.clone(),
                service.clone(),
                "tenant.create",
                format!("tenant:{}", tenant.id),
                audit::Outcome::Success,
                &[("name", name), ("primary_domain", domain)],
            ))
            .await?;
        }
        tx.lock_tenant(tenant.id).await?;
        grant_first_admin(&tx, &tenant, admin, hash, &policy, now, actor, service).await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant.id, name, "created a tenant");
        Ok((tenant, password))
    }

    /// Creates another tenant as the system (tests and tools); see
    /// [`Gatehouse::create_tenant_with_admin`].
    pub async fn create_tenant(
        &self,
        name: &str,
        domain: &str,
        admin: &str,
    ) -> Result<(Uuid, Password), Error> {
        let (tenant, password) = self
            .create_tenant_with_admin(None, name, domain, admin)
            .await?;
        Ok((tenant.id, password))
    }

    async fn insert_tenant(
        &self,
        tenant_name: &str,
        domain: &str,
        is_default: bool,
    ) -> Result<TenantRow, Error> {
        let tx = self.store.write().await?;
        let tenant = insert_tenant_in(
            &tx,
            tenant_name,
            domain,
            is_default,
            "system".to_owned(),
            None,
        )
        .await?;
        tx.commit().await?;
        tracing::info!(tenant = %tenant.id, name = tenant_name, is_default, "created a tenant");
        Ok(tenant)
    }

    /// Makes `username` (created when missing) a global admin of the tenant with a one-time
    /// password; `None` when the tenant has a global admin already.
    async fn first_admin(
        &self,
        tenant: &TenantRow,
        username: &str,
    ) -> Result<Option<(String, Password)>, Error> {
        let admins = self
            .store
            .list_roles(
                tenant.id,
                &store::RoleFilter {
                    role: Some(Role::GlobalAdmin.as_str().to_owned()),
                    ..Default::default()
                },
                1,
            )
            .await?;
        if !admins.is_empty() {
            return Ok(None);
        }
        let username = super::users::normalise_username("bootstrap_admin", username)?;
        let password = generate_password();
        let hash = self.hasher.hash(&password).await?;
        let now = store::now();
        let policy = self.policy(tenant.id).await?;
        let tx = self.store.write_tenant(tenant.id).await?;
        grant_first_admin(
            &tx,
            tenant,
            &username,
            hash,
            &policy,
            now,
            "system".to_owned(),
            None,
        )
        .await?;
        tx.commit().await?;
        Ok(Some((username, password)))
    }

    /// Gives a global admin of the default tenant who never chose a password (theirs is still
    /// the one-time password, perhaps expired unused) a new one-time password, returned once;
    /// for `init-admin --reissue`. Their sessions end. Someone who chose a password is
    /// refused: another global admin resets them through the API.
    pub async fn reissue_first_admin(&self, username: &str) -> Result<Password, Error> {
        let tenant = self.store.default_tenant().await?.ok_or_else(|| {
            Error::FailedPrecondition(
                "there is no default tenant yet: run init-admin without --reissue".to_owned(),
            )
        })?;
        let username = super::users::normalise_username("username", username)?;
        let user = self
            .store
            .user_by_username(tenant.id, &username)
            .await?
            .ok_or_else(|| {
                Error::NotFound(format!("{username} is not a user of the default tenant"))
            })?;
        let policy = self.policy(tenant.id).await?;
        let password = generate_password();
        let hash = self.hasher.hash(&password).await?;
        let now = store::now();
        let tx = self.store.write_tenant(tenant.id).await?;
        tx.lock_user(tenant.id, user.id).await?;
        if !tx
            .holds_role(tenant.id, Some(user.id), None, Role::GlobalAdmin.as_str())
            .await?
        {
            return Err(Error::FailedPrecondition(format!(
                "{username} is not a global admin of the default tenant"
            )));
        }
        if !tx.credential(user.id).await?.is_some_and(|c| c.temporary) {
            return Err(Error::FailedPrecondition(format!(
                "{username} has chosen a password: another global admin resets it (ResetPassword)"
            )));
        }
        tx.put_credential(one_time_credential(&user, hash, &policy, now))
            .await?;
        let revoked = tx.revoke_user_sessions(user.id, now).await?;
        tx.append_audit(audit::event(
            tenant.id,
            "system".to_owned(),
            None,
            "bootstrap.admin_reissued",
            format!("user:{}", user.id),
            audit::Outcome::Success,
            &[("revoked_sessions", &revoked.to_string())],
        ))
        .await?;
        tx.commit().await?;
        Ok(password)
    }

    /// The tenant's password policy (the defaults when none is stored).
    pub async fn policy(&self, tenant_id: Uuid) -> Result<PasswordPolicy, Error> {
        Ok(match self.store.policy(tenant_id).await? {
            Some(row) => PasswordPolicy {
                min_length: to_u32(row.min_length),
                max_length: to_u32(row.max_length),
                history_count: to_u32(row.history_count),
                max_age_days: to_u32(row.max_age_days),
                lockout_threshold: to_u32(row.lockout_threshold),
                lockout_seconds: to_u32(row.lockout_seconds),
                temporary_password_hours: to_u32(row.temporary_password_hours),
                reset_code_minutes: to_u32(row.reset_code_minutes),
                reset_code_attempts: to_u32(row.reset_code_attempts),
                reset_methods_required: to_u32(row.reset_methods_required),
                min_strength_score: to_u32(row.min_strength_score),
                banned_terms: serde_json::from_str(&row.banned_terms)
                    .map_err(|e| corrupt(format!("banned terms of tenant {tenant_id}: {e}")))?,
                expiry_reminder_days: to_u32(row.expiry_reminder_days),
                lockout_max_seconds: to_u32(row.lockout_max_seconds),
                invitation_hours: to_u32(row.invitation_hours),
                notify_person_on_admin_reset: row.notify_person_on_admin_reset,
                notify_admins_on_admin_password_change: row.notify_admins_on_admin_password_change,
                compromised_check_at_sign_in: row.compromised_check_at_sign_in,
                require_registration: row.require_registration,
                registration_snoozes: to_u32(row.registration_snoozes),
                registration_snooze_days: to_u32(row.registration_snooze_days),
                reconfirm_days: to_u32(row.reconfirm_days),
            },
            None => PasswordPolicy::default(),
        })
    }

    /// The live session a token opens.
    pub async fn authenticate(&self, caller: &Caller) -> Result<Session, Error> {
        let token = caller.token.as_ref().ok_or_else(Error::no_session)?;
        let row = self
            .store
            .session_by_digest(&token.digest())
            .await?
            .ok_or_else(Error::no_session)?;
        if row.revoked_at.is_some() || row.expires_at <= store::now() {
            return Err(Error::no_session());
        }
        Ok(Session {
            id: row.id,
            tenant_id: row.tenant_id,
            user_id: row.user_id,
            kind: SessionKind::parse(&row.kind)
                .ok_or_else(|| corrupt(format!("session kind {}", row.kind)))?,
            change_reason: row.change_reason.as_deref().and_then(ChangeReason::parse),
            expires_at: row.expires_at,
        })
    }

    /// The administrator a call acts as: the person of a full session, or else the service of
    /// the client certificate. Fails when that principal holds no role in the tenant.
    pub async fn admin(&self, caller: &Caller) -> Result<Actor, Error> {
        let (tenant_id, principal, rows) = if caller.token.is_some() {
            let session = self.authenticate(caller).await?;
            if session.kind != SessionKind::Full {
                let actor = Actor {
                    tenant_id: session.tenant_id,
                    principal: Principal::User(session.user_id),
                    roles: Vec::new(),
                    scoped: Vec::new(),
                    service: caller.service.clone(),
                };
                let reason = match session.kind {
                    SessionKind::RegistrationOnly => {
                        "this session may only register security info: confirm the verification methods your tenant requires (or snooze), then call again"
                    }
                    _ => {
                        "this session may only change the password: call ChangePassword, then use the new session"
                    }
                };
                return Err(self
                    .deny(&actor, "admin.call", "tenant".to_owned(), reason.to_owned())
                    .await);
            }
            let rows = self
                .store
                .roles_of_users(session.tenant_id, &[session.user_id])
                .await?;
            (session.tenant_id, Principal::User(session.user_id), rows)
        } else if let Some(service) = &caller.service {
            let tenant = self.tenant_for_service(caller.tenant.as_deref()).await?;
            let rows = self.store.roles_of_service(tenant.id, service).await?;
            (tenant.id, Principal::Service(service.clone()), rows)
        } else {
            return Err(Error::no_session());
        };
        let mut roles = Vec::new();
        let mut scoped = Vec::new();
        for row in &rows {
            let Some(role) = Role::parse(&row.role) else {
                continue;
            };
            match row.unit_id {
                None => roles.push(role),
                Some(unit_id) => scoped.push(super::types::ScopedRole { role, unit_id }),
            }
        }
        roles.sort_unstable();
        roles.dedup();
        let actor = Actor {
            tenant_id,
            principal,
            roles,
            scoped,
            service: caller.service.clone(),
        };
        if actor.roles.is_empty() && actor.scoped.is_empty() {
            let reason = match &actor.principal {
                Principal::User(_) => {
                    "this call needs an administrator role, and you hold none".to_owned()
                }
                Principal::Service(name) => format!(
                    "the service `{name}` holds no role in this tenant: sign in as a person, or have a global admin assign the service a role"
                ),
            };
            return Err(self
                .deny(&actor, "admin.call", "tenant".to_owned(), reason)
                .await);
        }
        Ok(actor)
    }

    /// Fails with PERMISSION_DENIED (audited) unless the actor holds one of `roles`.
    pub(super) async fn require(
        &self,
        actor: &Actor,
        action: &str,
        roles: &[Role],
    ) -> Result<(), Error> {
        if actor.has_any(roles) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        Err(self
            .deny(
                actor,
                action,
                "tenant".to_owned(),
                format!("{action} needs one of the roles: {}", names.join(", ")),
            )
            .await)
    }

    /// Fails with PERMISSION_DENIED (audited) unless the actor holds one of `roles` across the
    /// whole tenant: for calls that are not about a user a unit-scoped role could reach.
    pub(super) async fn require_tenant_wide(
        &self,
        actor: &Actor,
        action: &str,
        roles: &[Role],
    ) -> Result<(), Error> {
        if actor.has_tenant_wide(roles) {
            return Ok(());
        }
        let names: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
        let scoped = if actor.has_any(roles) {
            " held across the tenant (a role scoped to an administrative unit reaches only its members)"
        } else {
            ""
        };
        Err(self
            .deny(
                actor,
                action,
                "tenant".to_owned(),
                format!(
                    "{action} needs one of the roles: {}{scoped}",
                    names.join(", ")
                ),
            )
            .await)
    }

    /// Records a refusal in the audit log and returns the PERMISSION_DENIED error.
    pub(super) async fn deny(
        &self,
        actor: &Actor,
        action: &str,
        target: String,
        reason: String,
    ) -> Error {
        let event = audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            action,
            target,
            audit::Outcome::Denied,
            &[("reason", &reason)],
        );
        if let Err(e) = self.append(event).await {
            tracing::error!(error = %e, "could not audit a refusal");
        }
        Error::PermissionDenied(reason)
    }

    /// Appends one audit event in its own transaction.
    pub(super) async fn append(&self, event: NewAuditEvent) -> Result<(), Error> {
        let tx = self.store.write_tenant(event.tenant_id).await?;
        tx.changes_no_user_view();
        tx.append_audit(event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn tenant_for_service(&self, named: Option<&str>) -> Result<TenantRow, Error> {
        let tenant = match named {
            Some(key) => self.store.tenant_by_id_or_name(key).await?,
            None => self.store.default_tenant().await?,
        };
        tenant.ok_or_else(|| match named {
            Some(key) => Error::invalid("gatehouse-tenant", format!("no tenant is named `{key}`")),
            None => Error::FailedPrecondition("the server has no default tenant yet".to_owned()),
        })
    }

    /// The tenant a sign-in names, or the one of the username's domain, or the default.
    pub(super) async fn tenant_for_sign_in(
        &self,
        named: &str,
        username: &str,
    ) -> Result<Option<TenantRow>, Error> {
        if !named.is_empty() {
            return Ok(self.store.tenant_by_id_or_name(named).await?);
        }
        if let Some((_, domain)) = username.rsplit_once('@')
            && let Some(tenant) = self.store.tenant_by_domain(domain).await?
        {
            return Ok(Some(tenant));
        }
        Ok(self.store.default_tenant().await?)
    }
}

pub(super) fn policy_row(tenant_id: Uuid, policy: &PasswordPolicy) -> PolicyRow {
    let i = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    PolicyRow {
        tenant_id,
        min_length: i(policy.min_length),
        max_length: i(policy.max_length),
        history_count: i(policy.history_count),
        max_age_days: i(policy.max_age_days),
        lockout_threshold: i(policy.lockout_threshold),
        lockout_seconds: i(policy.lockout_seconds),
        temporary_password_hours: i(policy.temporary_password_hours),
        reset_code_minutes: i(policy.reset_code_minutes),
        reset_code_attempts: i(policy.reset_code_attempts),
        reset_methods_required: i(policy.reset_methods_required),
        updated_at: store::now(),
        min_strength_score: i(policy.min_strength_score),
        banned_terms: serde_json::Value::from(policy.banned_terms.clone()).to_string(),
        expiry_reminder_days: i(policy.expiry_reminder_days),
        lockout_max_seconds: i(policy.lockout_max_seconds),
        invitation_hours: i(policy.invitation_hours),
        notify_person_on_admin_reset: policy.notify_person_on_admin_reset,
        notify_admins_on_admin_password_change: policy.notify_admins_on_admin_password_change,
        compromised_check_at_sign_in: policy.compromised_check_at_sign_in,
        require_registration: policy.require_registration,
        registration_snoozes: i(policy.registration_snoozes),
        registration_snooze_days: i(policy.registration_snooze_days),
        reconfirm_days: i(policy.reconfirm_days),
    }
}

/// A password credential as set now: no failures, no lock-out.
#[allow(clippy::too_many_arguments)]
pub(super) fn new_credential(
    user_id: Uuid,
    tenant_id: Uuid,
    hash: store::PasswordHash,
    set_at: chrono::DateTime<chrono::Utc>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    must_change: bool,
    temporary: bool,
) -> CredentialRow {
    CredentialRow {
        user_id,
        tenant_id,
        hash,
        set_at,
        expires_at,
        must_change,
        temporary,
        failed_attempts: 0,
        locked_until: None,
        lockout_count: 0,
        recent_failures: String::new(),
        reminder_sent_for: None,
        attempts_in_flight: 0,
        attempts_lease_until: None,
        compromised_at: None,
    }
}

/// A one-time password's credential: it must be changed at sign-in and expires after the
/// policy's `temporary_password_hours`.
fn one_time_credential(
    user: &UserRow,
    hash: store::PasswordHash,
    policy: &PasswordPolicy,
    now: chrono::DateTime<chrono::Utc>,
) -> CredentialRow {
    new_credential(
        user.id,
        user.tenant_id,
        hash,
        now,
        Some(now + chrono::Duration::hours(policy.temporary_password_hours.into())),
        true,
        true,
    )
}

/// The person's own new password, chosen by them (a change, a self-service reset, an
/// invitation): permanent, kept in the history, every session of theirs ended. Returns how
/// many sessions ended.
pub(super) async fn set_chosen_password(
    tx: &Tx,
    user: &UserRow,
    hash: store::PasswordHash,
    policy: &PasswordPolicy,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<u64, Error> {
    tx.put_credential(new_credential(
        user.id,
        user.tenant_id,
        hash,
        now,
        None,
        false,
        false,
    ))
    .await?;
    tx.trim_history(user.id, u64::from(policy.history_count))
        .await?;
    Ok(tx.revoke_user_sessions(user.id, now).await?)
}

fn to_u32(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

pub(super) fn corrupt(what: String) -> Error {
    Error::Internal(Box::new(store::StoreError::Corrupt(what)))
}

/// Inserts a tenant with the default policy and its first audit event, in `tx`.
async fn insert_tenant_in(
    tx: &Tx,
    name: &str,
    domain: &str,
    is_default: bool,
    actor: String,
    service: Option<String>,
) -> Result<TenantRow, Error> {
    let tenant = tx.insert_tenant(name, Some(domain), is_default).await?;
    tx.put_policy(policy_row(tenant.id, &PasswordPolicy::default()))
        .await?;
    tx.append_audit(audit::event(
        tenant.id,
        actor,
        service,
        "tenant.create",
        format!("tenant:{}", tenant.id),
        audit::Outcome::Success,
        &[("name", name)],
    ))
    .await?;
    Ok(tenant)
}

/// Makes `username` (created when missing) a global admin of `tenant` whose password is the
/// one-time password hashed as `hash`, in `tx` (which holds the tenant lock).
#[allow(clippy::too_many_arguments)]
async fn grant_first_admin(
    tx: &Tx,
    tenant: &TenantRow,
    username: &str,
    hash: store::PasswordHash,
    policy: &PasswordPolicy,
    now: chrono::DateTime<chrono::Utc>,
    actor: String,
    service: Option<String>,
) -> Result<(), Error> {
    let user = match tx.user_by_username(tenant.id, username).await? {
        Some(user) => user,
        None => {
            tx.insert_user(UserRow {
                id: Uuid::now_v7(),
                tenant_id: tenant.id,
                username: username.to_owned(),
                display_name: "Bootstrap administrator".to_owned(),
                contact_email: String::new(),
                state: UserState::Active.as_str().to_owned(),
                created_at: now,
                updated_at: now,
                version: 1,
                password_never_expires: false,
                registration_snoozes_used: 0,
                registration_snoozed_until: None,
                registration_reminded_at: None,
                registration_state: "not_registered".to_owned(),
                registration_anchor_at: None,
            })
            .await?
        }
    };
    tx.put_credential(one_time_credential(&user, hash, policy, now))
        .await?;
    tx.insert_role(store::RoleRow {
        unit_id: None,
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        user_id: Some(user.id),
        service: None,
        role: Role::GlobalAdmin.as_str().to_owned(),
        created_at: now,
    })
    .await?;
    tx.append_audit(audit::event(
        tenant.id,
        actor,
        service,
        "bootstrap.admin",
        format!("user:{}", user.id),
        audit::Outcome::Success,
        &[("username", username)],
    ))
    .await?;
    Ok(())
}
