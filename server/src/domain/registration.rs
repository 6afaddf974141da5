//! Registration at sign-in: a tenant can make people register the security info a
//! self-service reset needs, and confirm it again now and then.
//!
//! A person is *registered* with at least `reset_methods_required` confirmed methods, each
//! confirmed within `reconfirm_days` (any confirmed method when that is 0). When the tenant
//! sets `require_registration`, a correct password of a person who is not registered opens a
//! registration-only session: it may add, confirm and reconfirm methods, and while snoozes
//! remain put registering off for `registration_snooze_days`. Once registered (or snoozed),
//! every registration-only session of the person becomes full in place; the snooze count
//! starts again once they are registered.
//!
//! Administrators see each user's state (`User.registration_state`), list by it, and send
//! everyone who has something to do one reminder through the outbox.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use super::audit::{self, Outcome};
use super::authz;
use super::error::Error;
use super::policy::PasswordPolicy;
use super::service::Gatehouse;
use super::types::{Actor, Caller, Principal, RegistrationState, Role, SessionKind};
use crate::store::{self, Registered, RegistrationFilter, Tx, UserRow, UserScope};

/// Users read per page of a reminder run; each page's reminders commit together.
const REMINDER_PAGE: u64 = 500;

/// How long a reminded person is left alone by further reminder runs.
const REMINDER_QUIET: Duration = Duration::hours(24);

/// Where a person stands with the security info their tenant requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    /// Registered, not registered, or reconfirmation due.
    pub state: RegistrationState,
    /// Confirmed methods that count now.
    pub current: u32,
    /// Confirmed methods, current or not.
    pub confirmed: u32,
    /// Methods the tenant requires.
    pub required: u32,
    /// Snoozes the person has left.
    pub snoozes_left: u32,
    /// Registering is put off until then.
    pub snoozed_until: Option<DateTime<Utc>>,
    /// When the methods that count now stop counting (registered people, with a reconfirm
    /// period).
    pub reconfirm_at: Option<DateTime<Utc>>,
}

impl Registration {
    /// Judges a person from when each of their confirmed methods was last confirmed.
    pub(super) fn judge(
        policy: &PasswordPolicy,
        user: &UserRow,
        confirmations: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Registration {
        let required = policy.reset_methods_required;
        let period = reconfirm_period(policy);
        let mut newest_first = confirmations.to_vec();
        newest_first.sort_unstable_by(|a, b| b.cmp(a));
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let confirmed = count(newest_first.len());
        let current = match period {
            Some(period) => count(newest_first.iter().filter(|at| **at + period > now).count()),
            None => confirmed,
        };
        let state = if confirmed < required {
            RegistrationState::NotRegistered
        } else if current < required {
            RegistrationState::ReconfirmDue
        } else {
            RegistrationState::Registered
        };
        // The required-th newest confirmation is the one whose lapse leaves too few.
        let reconfirm_at = match (period, state) {
            (Some(period), RegistrationState::Registered) => usize::try_from(required)
                .ok()
                .and_then(|n| newest_first.get(n.saturating_sub(1)))
                .map(|at| *at + period),
            _ => None,
        };
        let used = u32::try_from(user.registration_snoozes_used).unwrap_or(0);
        Registration {
            state,
            current,
            confirmed,
            required,
            snoozes_left: policy.registration_snoozes.saturating_sub(used),
            snoozed_until: user.registration_snoozed_until.filter(|until| *until > now),
            reconfirm_at,
        }
    }

    /// Whether a session opened now may only register: something is due and not put off.
    pub(super) fn gates(&self) -> bool {
        self.state != RegistrationState::Registered && self.snoozed_until.is_none()
    }
}

/// How long a confirmation counts; `None` when it always does.
fn reconfirm_period(policy: &PasswordPolicy) -> Option<Duration> {
    (policy.reconfirm_days > 0).then(|| Duration::days(policy.reconfirm_days.into()))
}

/// The listing filter for users in `wanted`, under the tenant's policy now; `stored` when the
/// tenant's stored states were judged under this policy.
pub(super) fn filter(
    policy: &PasswordPolicy,
    wanted: Registered,
    now: DateTime<Utc>,
    stored: bool,
) -> RegistrationFilter {
    RegistrationFilter {
        wanted,
        required: policy.reset_methods_required,
        stale_at: stale_at(policy, now),
        stored,
    }
}

/// Confirmations at or before this no longer count.
fn stale_at(policy: &PasswordPolicy, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    reconfirm_period(policy).map(|period| now - period)
}

/// The name of the policy a tenant's stored states must have been judged under.
pub(super) fn judged_key(policy: &PasswordPolicy) -> String {
    store::judged_key(policy.reset_methods_required, policy.reconfirm_days)
}

/// Users judged per transaction when a whole tenant is judged again.
const JUDGE_BATCH: u64 = 1000;

/// What a reminder run did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reminders {
    /// People sent a reminder (or who would be).
    pub reminded: u64,
    /// People left out, reminded within the last day.
    pub recently_reminded: u64,
}

impl Gatehouse {
    /// The person's standing, when their tenant requires registration: read inside `tx`, on
    /// the user row it locked.
    pub(super) async fn registration_in(
        &self,
        tx: &Tx,
        policy: &PasswordPolicy,
        user: &UserRow,
        now: DateTime<Utc>,
    ) -> Result<Option<Registration>, Error> {
        if !policy.require_registration {
            return Ok(None);
        }
        let confirmations = tx.confirmations(user.id).await?;
        Ok(Some(Registration::judge(policy, user, &confirmations, now)))
    }

    /// The person's standing, when their tenant requires registration.
    pub(super) async fn registration_of(
        &self,
        policy: &PasswordPolicy,
        user: &UserRow,
    ) -> Result<Option<Registration>, Error> {
        if !policy.require_registration {
            return Ok(None);
        }
        let confirmations = self
            .store
            .confirmations_by_user(&[user.id])
            .await?
            .remove(&user.id)
            .unwrap_or_default();
        Ok(Some(Registration::judge(
            policy,
            user,
            &confirmations,
            store::now(),
        )))
    }

    /// Stores the registration state of a person whose methods changed in `tx`, for the
    /// listings by state.
    pub(super) async fn rejudge(
        &self,
        tx: &Tx,
        policy: &PasswordPolicy,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        tx.judge_registration(
            &[user_id],
            policy.reset_methods_required,
            stale_at(policy, now),
        )
        .await?;
        Ok(())
    }

    /// Whether the tenant's stored registration states were judged under its policy now.
    pub(super) async fn registration_judged(
        &self,
        tenant_id: Uuid,
        policy: &PasswordPolicy,
    ) -> Result<bool, Error> {
        Ok(self
            .store
            .tenant_by_id_or_name(&tenant_id.to_string())
            .await?
            .is_some_and(|t| t.registration_judged_for == judged_key(policy)))
    }

    /// The registration sweep, for every tenant: judges again, in batches, every user of a
    /// tenant whose policy changed since its states were judged (or never judged), then
    /// records the policy; otherwise marks the registered people whose confirmations lapsed.
    /// Each batch is one short transaction under the tenant's lock. Returns the users judged
    /// or marked.
    pub async fn sweep_registrations(&self) -> Result<u64, Error> {
        let mut touched = 0;
        for tenant in self.store.tenants().await? {
            let policy = self.policy(tenant.id).await?;
            let key = judged_key(&policy);
            let now = store::now();
            let stale_at = stale_at(&policy, now);
            if tenant.registration_judged_for != key {
                let mut after = None;
                loop {
                    let ids = self
                        .store
                        .user_ids_after(tenant.id, after, JUDGE_BATCH)
                        .await?;
                    let Some(last) = ids.last() else { break };
                    after = Some(*last);
                    let tx = self.store.write_tenant(tenant.id).await?;
                    tx.judge_registration(&ids, policy.reset_methods_required, stale_at)
                        .await?;
                    tx.commit().await?;
                    touched += ids.len() as u64;
                }
                // Judged under `key`: should the policy have changed meanwhile, the next
                // sweep sees the difference and judges again.
                let tx = self.store.write_tenant(tenant.id).await?;
                tx.set_registration_judged(tenant.id, &key).await?;
                tx.commit().await?;
                tracing::info!(tenant = %tenant.id, policy = %key, users = touched, "registration states judged");
            } else if let Some(stale_at) = stale_at {
                loop {
                    let tx = self.store.write_tenant(tenant.id).await?;
                    let marked = tx.mark_lapsed(tenant.id, stale_at, JUDGE_BATCH).await?;
                    tx.commit().await?;
                    touched += marked;
                    if marked < JUDGE_BATCH {
                        break;
                    }
                }
            }
        }
        Ok(touched)
    }

    /// After a method was confirmed in `tx`: once the person is registered (or the tenant no
    /// longer requires it), their snoozes start again and their registration-only sessions
    /// become full. Returns the standing when the tenant requires registration, and whether
    /// the person's registration-only sessions were opened.
    pub(super) async fn settle_registration(
        &self,
        tx: &Tx,
        policy: &PasswordPolicy,
        user: &UserRow,
        now: DateTime<Utc>,
    ) -> Result<(Option<Registration>, bool), Error> {
        self.rejudge(tx, policy, user.id, now).await?;
        let confirmations = tx.confirmations(user.id).await?;
        let standing = Registration::judge(policy, user, &confirmations, now);
        let registered = standing.state == RegistrationState::Registered;
        if registered {
            tx.clear_registration_snoozes(user.id).await?;
        }
        let opened = if registered || !policy.require_registration {
            tx.open_registration_sessions(user.id, now).await?;
            true
        } else {
            false
        };
        let standing = policy.require_registration.then(|| Registration {
            snoozes_left: if registered {
                policy.registration_snoozes
            } else {
                standing.snoozes_left
            },
            snoozed_until: standing.snoozed_until.filter(|_| !registered),
            ..standing
        });
        Ok((standing, opened))
    }

    /// Puts registering off, from a registration-only session, while snoozes remain. When
    /// nothing is due any more, the session simply becomes full and no snooze is counted.
    pub async fn snooze_registration(
        &self,
        caller: &Caller,
    ) -> Result<(Option<Registration>, SessionKind), Error> {
        let session = self.authenticate(caller).await?;
        if session.kind != SessionKind::RegistrationOnly {
            return Err(Error::FailedPrecondition(format!(
                "only a registration-only session can put registering off; this session is {}",
                session.kind
            )));
        }
        let policy = self.policy(session.tenant_id).await?;
        let now = store::now();
        let tx = self.store.write_tenant(session.tenant_id).await?;
        let user = tx
            .lock_user(session.tenant_id, session.user_id)
            .await?
            .ok_or_else(Error::no_session)?;
        let confirmations = tx.confirmations(user.id).await?;
        let standing = Registration::judge(&policy, &user, &confirmations, now);
        if !policy.require_registration || !standing.gates() {
            // Registered through another session, snoozed through another, or no longer
            // required: nothing to put off.
            tx.open_registration_sessions(user.id, now).await?;
            tx.commit().await?;
            return Ok((
                policy.require_registration.then_some(standing),
                SessionKind::Full,
            ));
        }
        let missing = standing.required.saturating_sub(standing.current);
        let exhausted = || {
            Error::FailedPrecondition(format!(
                "registering can no longer be put off: confirm {missing} more verification method{} to continue",
                if missing == 1 { "" } else { "s" }
            ))
        };
        if standing.snoozes_left == 0 {
            return Err(exhausted());
        }
        let until = now + Duration::days(policy.registration_snooze_days.into());
        if !tx
            .snooze_registration(user.id, policy.registration_snoozes, until)
            .await?
        {
            return Err(exhausted());
        }
        let opened = tx.open_registration_sessions(user.id, now).await?;
        let snoozes_left = standing.snoozes_left - 1;
        tx.append_audit(audit::by_self(
            &user,
            caller,
            "registration.snooze",
            Outcome::Success,
            &[
                ("registration_state", standing.state.as_str()),
                ("snoozes_left", &snoozes_left.to_string()),
                ("snoozed_until", &until.to_rfc3339()),
                ("sessions_opened", &opened.to_string()),
            ],
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(user = %user.id, snoozes_left, "registration snoozed");
        Ok((
            Some(Registration {
                snoozes_left,
                snoozed_until: Some(until).filter(|until| *until > now),
                ..standing
            }),
            SessionKind::Full,
        ))
    }

    /// Emails each person the actor may reset who has not registered (and, when asked, whose
    /// reconfirmation is due) one reminder, leaving out people who may not sign in and
    /// anyone reminded within the last day. Each page of people commits its reminders with
    /// an audit event counting them, so memory stays bounded however many there are and
    /// nothing is sent that the audit log does not record.
    pub async fn send_registration_reminders(
        &self,
        actor: &Actor,
        unit: Option<&str>,
        include_reconfirm_due: bool,
        validate_only: bool,
    ) -> Result<Reminders, Error> {
        let action = "registration.remind";
        self.require(
            actor,
            action,
            &[Role::GlobalAdmin, Role::UserAdmin, Role::PasswordAdmin],
        )
        .await?;
        let unit = match unit {
            Some(id) => Some(self.readable_unit(actor, id, action).await?),
            None => None,
        };
        let policy = self.policy(actor.tenant_id).await?;
        let now = store::now();
        let wanted = if include_reconfirm_due {
            Registered::Due
        } else {
            Registered::No
        };
        // The stored states when they are judged under this policy (a lapse not yet swept
        // is reminded after the next sweep), else a count of each user's methods.
        let stored = self.registration_judged(actor.tenant_id, &policy).await?;
        let registration = filter(&policy, wanted, now, stored);
        let scope = UserScope {
            tenant_id: actor.tenant_id,
            user_ids: None,
            reach: authz::reach(actor),
            except: match &actor.principal {
                Principal::User(id) => Some(*id),
                Principal::Service(_) => None,
            },
        };
        let quiet_since = now - REMINDER_QUIET;
        let mut done = Reminders::default();
        let mut after: Option<Uuid> = None;
        loop {
            let page = self
                .store
                .users_to_remind(&scope, unit, &registration, after, REMINDER_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let full_page = page.len() as u64 == REMINDER_PAGE;
            let (recent, due): (Vec<UserRow>, Vec<UserRow>) = page.into_iter().partition(|u| {
                u.registration_reminded_at
                    .is_some_and(|at| at > quiet_since)
            });
            done.recently_reminded += recent.len() as u64;
            if validate_only {
                done.reminded += due.len() as u64;
            } else if !due.is_empty() {
                done = self
                    .remind_page(actor, &policy, &registration, &due, quiet_since, now, done)
                    .await?;
            }
            if !full_page {
                break;
            }
        }
        tracing::info!(
            reminded = done.reminded,
            recently_reminded = done.recently_reminded,
            validate_only,
            "registration reminders"
        );
        Ok(done)
    }

    /// Queues one page's reminders, marks the people reminded and audits how many, in one
    /// transaction: an email goes out exactly when its audit event commits. People reminded,
    /// blocked or registered since the page was read are left out.
    #[allow(clippy::too_many_arguments)]
    async fn remind_page(
        &self,
        actor: &Actor,
        policy: &PasswordPolicy,
        registration: &RegistrationFilter,
        due: &[UserRow],
        quiet_since: DateTime<Utc>,
        now: DateTime<Utc>,
        mut done: Reminders,
    ) -> Result<Reminders, Error> {
        let ids: Vec<Uuid> = due.iter().map(|u| u.id).collect();
        let confirmations = self.store.confirmations_by_user(&ids).await?;
        let tx = self.store.write_tenant(actor.tenant_id).await?;
        let taken = tx
            .take_reminders(&ids, registration, quiet_since, now)
            .await?;
        if taken.is_empty() {
            return Ok(done);
        }
        let mut reconfirming = 0u64;
        for user in due.iter().filter(|u| taken.contains(&u.id)) {
            let times = confirmations.get(&user.id).map_or(&[][..], Vec::as_slice);
            let reconfirm = Registration::judge(policy, user, times, now).state
                == RegistrationState::ReconfirmDue;
            reconfirming += u64::from(reconfirm);
            self.queue(&tx, super::notices::registration_reminder(user, reconfirm))
                .await?;
        }
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "registration.remind",
            "tenant".to_owned(),
            Outcome::Success,
            &[
                ("reminded", &taken.len().to_string()),
                ("reconfirm_due", &reconfirming.to_string()),
            ],
        ))
        .await?;
        tx.commit().await?;
        done.reminded += taken.len() as u64;
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(snoozes_used: i32, snoozed_until: Option<DateTime<Utc>>) -> UserRow {
        let now = Utc::now();
        UserRow {
            id: Uuid::nil(),
            tenant_id: Uuid::nil(),
            username: "ann@contoso.example".to_owned(),
            display_name: "Ann".to_owned(),
            contact_email: String::new(),
            state: "active".to_owned(),
            created_at: now,
            updated_at: now,
            version: 1,
            password_never_expires: false,
            registration_snoozes_used: snoozes_used,
            registration_snoozed_until: snoozed_until,
            registration_reminded_at: None,
            registration_state: "not_registered".to_owned(),
            registration_anchor_at: None,
        }
    }

    fn policy(required: u32, reconfirm_days: u32) -> PasswordPolicy {
        PasswordPolicy {
            require_registration: true,
            reset_methods_required: required,
            reconfirm_days,
            ..PasswordPolicy::default()
        }
    }

    #[test]
    fn too_few_confirmed_methods_is_not_registered() {
        let now = Utc::now();
        let standing = Registration::judge(&policy(2, 0), &person(0, None), &[now], now);
        assert_eq!(standing.state, RegistrationState::NotRegistered);
        assert_eq!((standing.current, standing.required), (1, 2));
        assert!(standing.gates());
        assert_eq!(standing.snoozes_left, 3);
    }

    #[test]
    fn old_confirmations_stop_counting_after_the_reconfirm_period() {
        let now = Utc::now();
        let old = now - Duration::days(100);
        let recent = now - Duration::days(10);
        let stale = Registration::judge(&policy(1, 90), &person(0, None), &[old], now);
        assert_eq!(stale.state, RegistrationState::ReconfirmDue);
        assert_eq!((stale.current, stale.confirmed), (0, 1));
        let fresh = Registration::judge(&policy(1, 90), &person(0, None), &[old, recent], now);
        assert_eq!(fresh.state, RegistrationState::Registered);
        assert_eq!(fresh.reconfirm_at, Some(recent + Duration::days(90)));
        // Two required: the older of the two newest decides.
        let two = Registration::judge(
            &policy(2, 90),
            &person(0, None),
            &[recent, now - Duration::days(30)],
            now,
        );
        assert_eq!(two.reconfirm_at, Some(now + Duration::days(60)));
        let never = Registration::judge(&policy(1, 0), &person(0, None), &[old], now);
        assert_eq!(
            (never.state, never.reconfirm_at),
            (RegistrationState::Registered, None)
        );
    }

    #[test]
    fn a_snooze_in_force_opens_sessions_and_used_snoozes_are_counted() {
        let now = Utc::now();
        let snoozed = Registration::judge(
            &policy(1, 0),
            &person(2, Some(now + Duration::hours(5))),
            &[],
            now,
        );
        assert!(!snoozed.gates());
        assert_eq!(snoozed.snoozes_left, 1);
        let lapsed = Registration::judge(
            &policy(1, 0),
            &person(3, Some(now - Duration::hours(1))),
            &[],
            now,
        );
        assert!(lapsed.gates());
        assert_eq!((lapsed.snoozes_left, lapsed.snoozed_until), (0, None));
    }
}
