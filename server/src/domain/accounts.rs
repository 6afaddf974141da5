//! Everyday account administration: the password policy, blocking sign-in, lock-outs,
//! sessions, forcing a change, and asking whether a reset would be allowed.

use uuid::Uuid;

use super::audit::{self, Outcome};
use super::authz;
use super::error::{Error, FieldViolation};
use super::policy::{PasswordPolicy, PolicyUpdate};
use super::service::{Gatehouse, policy_row};
use super::types::{Actor, Principal, Role, UnitRef, User, UserState};
use super::users::UserKey;
use crate::store::{self, UserPatch, UserScope};

/// Roles that may reset passwords (and so unlock, revoke sessions, force a change).
const RESETTERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin, Role::PasswordAdmin];
/// Roles that may block and unblock sign-in.
const MANAGERS: &[Role] = &[Role::GlobalAdmin, Role::UserAdmin];
/// Most users one RequirePasswordChange call may list.
pub const MAX_LISTED_USERS: usize = 10_000;

/// Output of [`Gatehouse::require_password_change`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeRequired {
    /// Users who must now change their password.
    pub affected: u64,
    /// Listed users left alone (not resettable by the caller, or without a password).
    pub skipped: u64,
    /// Sessions revoked.
    pub revoked_sessions: u64,
}

impl Gatehouse {
    /// The actor's tenant's policy.
    pub async fn get_policy(&self, actor: &Actor) -> Result<PasswordPolicy, Error> {
        self.policy(actor.tenant_id).await
    }

    /// Changes the policy; every out-of-range setting is reported and nothing changes.
    pub async fn update_policy(
        &self,
        actor: &Actor,
        update: PolicyUpdate,
    ) -> Result<PasswordPolicy, Error> {
        self.require(actor, "policy.update", &[Role::GlobalAdmin])
            .await?;
        // Read under the tenant lock, so two partial updates cannot overwrite each other.
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        let current = self.policy(actor.tenant_id).await?;
        let next = current.updated(update).map_err(|violations| {
            Error::from_violations(violations)
                .err()
                .unwrap_or_else(|| Error::invalid("update", "invalid"))
        })?;
        let changed = describe_changes(&current, &next);
        tx.put_policy(policy_row(actor.tenant_id, &next)).await?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "policy.update",
            format!("tenant:{}", actor.tenant_id),
            Outcome::Success,
            &[("changed", &changed)],
        ))
        .await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Blocks sign-in and revokes the user's sessions.
    pub async fn block_sign_in(&self, actor: &Actor, key: UserKey) -> Result<(User, u64), Error> {
        self.set_state(actor, key, UserState::SignInBlocked).await
    }

    /// Lets a blocked user sign in again.
    pub async fn unblock_sign_in(&self, actor: &Actor, key: UserKey) -> Result<User, Error> {
        Ok(self.set_state(actor, key, UserState::Active).await?.0)
    }

    async fn set_state(
        &self,
        actor: &Actor,
        key: UserKey,
        state: UserState,
    ) -> Result<(User, u64), Error> {
        let action = match state {
            UserState::SignInBlocked => "user.block",
            UserState::Active => "user.unblock",
        };
        self.require(actor, action, MANAGERS).await?;
        let target = self.find_user(actor, key).await?;
        let (tx, current, _) = self.target_tx(actor, action, target.id).await?;
        let now = store::now();
        let patch = UserPatch {
            state: Some(state.as_str().to_owned()),
            ..Default::default()
        };
        let updated = tx
            .update_user(actor.tenant_id, target.id, current.version, patch, now)
            .await?
            .ok_or_else(|| Error::NotFound("no such user in this tenant".to_owned()))?;
        let revoked = match state {
            UserState::SignInBlocked => tx.revoke_user_sessions(target.id, now).await?,
            UserState::Active => 0,
        };
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            action,
            format!("user:{}", target.id),
            Outcome::Success,
            &[("revoked_sessions", &revoked.to_string())],
        ))
        .await?;
        tx.commit().await?;
        Ok((self.to_user(updated).await?, revoked))
    }

    /// Clears a lock-out; returns whether the user was locked.
    pub async fn unlock_user(&self, actor: &Actor, key: UserKey) -> Result<bool, Error> {
        self.require(actor, "user.unlock", RESETTERS).await?;
        let target = self.find_user(actor, key).await?;
        let (tx, _, _) = self.target_tx(actor, "user.unlock", target.id).await?;
        let was_locked = tx.unlock(target.id, store::now()).await?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "user.unlock",
            format!("user:{}", target.id),
            Outcome::Success,
            &[("was_locked", if was_locked { "true" } else { "false" })],
        ))
        .await?;
        tx.commit().await?;
        Ok(was_locked)
    }

    /// Revokes every session of a user.
    pub async fn revoke_sessions(&self, actor: &Actor, key: UserKey) -> Result<u64, Error> {
        self.require(actor, "session.revoke_all", RESETTERS).await?;
        let target = self.find_user(actor, key).await?;
        let (tx, _, _) = self
            .target_tx(actor, "session.revoke_all", target.id)
            .await?;
        let revoked = tx.revoke_user_sessions(target.id, store::now()).await?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "session.revoke_all",
            format!("user:{}", target.id),
            Outcome::Success,
            &[("revoked_sessions", &revoked.to_string())],
        ))
        .await?;
        tx.commit().await?;
        Ok(revoked)
    }

    /// Whether the actor may reset the user's password: the scope that allows it (`None` for
    /// a tenant-wide role, else the unit) or the rule that refuses. Asking is not an attempt:
    /// nothing is audited.
    pub async fn can_reset(
        &self,
        actor: &Actor,
        key: UserKey,
    ) -> Result<Result<Option<UnitRef>, String>, Error> {
        let target = self.find_user(actor, key).await?;
        let roles = self.roles_of(actor.tenant_id, target.id).await?;
        let units = self.units_judged(actor, target.id).await?;
        let decision = authz::may_touch(
            actor,
            &authz::Target {
                id: target.id,
                roles: &roles,
                units: &units,
            },
        );
        Ok(match decision {
            Ok(authz::Scope::Tenant) => Ok(None),
            Ok(authz::Scope::Unit(id)) => Ok(Some(self.unit_ref(actor.tenant_id, id).await?)),
            Err(authz::Denial(reason)) => Err(reason),
        })
    }

    /// Forces a change at next sign-in for the listed users or the whole tenant, in one
    /// statement; users the actor may not reset are left alone and counted as skipped.
    pub async fn require_password_change(
        &self,
        actor: &Actor,
        user_ids: &[String],
        all_users: bool,
        revoke_sessions: bool,
    ) -> Result<ChangeRequired, Error> {
        self.require(actor, "password.require_change", RESETTERS)
            .await?;
        let ids = match (all_users, user_ids.is_empty()) {
            (true, true) => None,
            (false, false) => Some(parse_ids(user_ids)?),
            _ => {
                return Err(Error::invalid(
                    "user_ids",
                    "list users or set all_users, not both and not neither",
                ));
            }
        };
        let scope = UserScope {
            tenant_id: actor.tenant_id,
            user_ids: ids.as_deref(),
            reach: authz::reach(actor),
            except: match &actor.principal {
                Principal::User(id) => Some(*id),
                Principal::Service(_) => None,
            },
        };
        let now = store::now();
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        let affected = tx.require_change(&scope).await?;
        let revoked_sessions = if revoke_sessions {
            tx.revoke_sessions_in(&scope, now).await?
        } else {
            0
        };
        let skipped = ids
            .as_ref()
            .map_or(0, |ids| (ids.len() as u64).saturating_sub(affected));
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "password.require_change",
            if all_users {
                "tenant:all-users".to_owned()
            } else {
                format!("users:{}", user_ids.len())
            },
            Outcome::Success,
            &[
                ("affected", &affected.to_string()),
                ("skipped", &skipped.to_string()),
                ("revoked_sessions", &revoked_sessions.to_string()),
            ],
        ))
        .await?;
        tx.commit().await?;
        Ok(ChangeRequired {
            affected,
            skipped,
            revoked_sessions,
        })
    }
}

pub(super) fn parse_ids(user_ids: &[String]) -> Result<Vec<Uuid>, Error> {
    if user_ids.len() > MAX_LISTED_USERS {
        return Err(Error::invalid(
            "user_ids",
            format!("at most {MAX_LISTED_USERS} users per call"),
        ));
    }
    let mut violations = Vec::new();
    let mut ids = Vec::with_capacity(user_ids.len());
    for (i, id) in user_ids.iter().enumerate() {
        match Uuid::parse_str(id) {
            Ok(id) => ids.push(id),
            Err(_) => violations.push(FieldViolation::new(
                format!("user_ids[{i}]"),
                "not a valid id",
            )),
        }
    }
    Error::from_violations(violations)?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// The names of the settings that differ, for the audit trail (values are not secret, but
/// banned terms could be long: only their count is recorded).
fn describe_changes(old: &PasswordPolicy, new: &PasswordPolicy) -> String {
    let mut changed = Vec::new();
    macro_rules! compare {
        ($($field:ident),*) => {
            $(if old.$field != new.$field {
                changed.push(format!("{}={}", stringify!($field), new.$field));
            })*
        };
    }
    compare!(
        min_length,
        max_length,
        min_strength_score,
        history_count,
        max_age_days,
        expiry_reminder_days,
        lockout_threshold,
        lockout_seconds,
        lockout_max_seconds,
        temporary_password_hours,
        invitation_hours,
        reset_code_minutes,
        reset_code_attempts,
        reset_methods_required
    );
    if old.banned_terms != new.banned_terms {
        changed.push(format!("banned_terms={} terms", new.banned_terms.len()));
    }
    changed.join(", ")
}
