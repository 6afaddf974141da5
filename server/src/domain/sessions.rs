//! Sign-in, sessions and changing a known password.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::audit::{self, Outcome};
use super::error::{Error, FieldViolation};
use super::notices::PasswordSet;
use super::registration::Registration;
use super::secret::{Password, SessionToken};
use super::service::{Gatehouse, set_chosen_password};
use super::types::{Caller, ChangeReason, Session, SessionKind, User, UserState};
use crate::store::{self, SessionRow, Tx, UserRow};

/// The longest a password check waits for a place on an account whose places are all taken
/// by checks still running.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How often such a check looks again, for places settled by other replicas.
const BUSY_POLL: std::time::Duration = std::time::Duration::from_millis(25);

/// What reserving a password check gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// A place is held: settle it when the check ends.
    Reserved,
    /// The account is locked: check nothing.
    Locked,
    /// The policy counts nothing (no lock-out), or there is nothing to count.
    Uncounted,
}

fn changed_meanwhile() -> Error {
    Error::Aborted("the password was changed or reset meanwhile; sign in again".to_owned())
}

/// A successful sign-in.
#[derive(Debug)]
pub struct SignedIn {
    /// The new session's token, shown once.
    pub token: SessionToken,
    /// Full, change-only or registration-only.
    pub kind: SessionKind,
    /// Why it is change-only.
    pub change_reason: Option<ChangeReason>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// The user.
    pub user_id: Uuid,
    /// Where the person stands with the security info the tenant requires (when it does).
    pub registration: Option<Registration>,
}

/// A successful password change: a new session.
#[derive(Debug)]
pub struct ChangedPassword {
    /// The new session's token, shown once.
    pub token: SessionToken,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
    /// Full, or registration-only.
    pub kind: SessionKind,
    /// As in [`SignedIn::registration`].
    pub registration: Option<Registration>,
}

impl Gatehouse {
    /// Checks a username and password. Every failure (unknown tenant or user, no password,
    /// wrong password, blocked account, expired temporary password) is the same error after
    /// the same amount of hashing work.
    pub async fn sign_in(
        &self,
        caller: &Caller,
        username: &str,
        password: &Password,
        tenant: &str,
    ) -> Result<SignedIn, Error> {
        let mut violations = Vec::new();
        if username.is_empty() {
            violations.push(FieldViolation::new("username", "required"));
        } else if username.chars().count() > 254 {
            violations.push(FieldViolation::new(
                "username",
                "must be at most 254 characters",
            ));
        }
        if password.expose().is_empty() {
            violations.push(FieldViolation::new("password", "required"));
        }
        Error::from_violations(violations)?;
        let username = username.to_lowercase();
        let tenant = self.tenant_for_sign_in(tenant, &username).await?;
        let policy = match &tenant {
            Some(t) => self.policy(t.id).await?,
            None => super::policy::PasswordPolicy::default(),
        };
        // Refused before hashing: a huge password costs no hash. Says nothing about the user.
        policy.gate("password", password)?;
        let user = match &tenant {
            Some(t) => self.store.user_by_username(t.id, &username).await?,
            None => None,
        };
        // An unknown name runs the statements a real one does, against a row that cannot
        // exist (the nil id), so a database one network hop away does not tell them apart.
        let credential = self
            .store
            .credential(user.as_ref().map_or(Uuid::nil(), |u| u.id))
            .await?;
        let now = store::now();
        let mut fingerprint = None;
        if user.is_none() || credential.is_none() {
            let _ = self.failure_fingerprint(Uuid::nil(), password).await?;
            if policy.lockout_threshold > 0 {
                self.store
                    .reserve_attempt(Uuid::nil(), policy.lockout_threshold, now)
                    .await?;
            }
        }
        if let (Some(user), Some(credential)) = (&user, &credential) {
            let print = self.failure_fingerprint(user.id, password).await?;
            if credential.recent_failures.split(',').any(|f| f == print) {
                // Known to be wrong (the list is cleared whenever the password changes): not
                // checked again and not counted again. The dummy hash keeps the answer as slow
                // as for an unknown user.
                self.hasher.verify(password, None).await?;
                self.audit_failed_sign_in(
                    Some(user.tenant_id),
                    caller,
                    Some(user.id),
                    "repeated_wrong_password",
                )
                .await;
                return Err(Error::sign_in_failed());
            }
            if self.reserve_check(user, &policy).await? == Check::Locked {
                self.hasher.verify(password, None).await?;
                self.audit_failed_sign_in(
                    Some(user.tenant_id),
                    caller,
                    Some(user.id),
                    "locked_out",
                )
                .await;
                return Err(Error::sign_in_failed());
            }
            fingerprint = Some(print);
        }
        let verified = match self
            .hasher
            .verify(password, credential.as_ref().map(|c| &c.hash))
            .await
        {
            Ok(verified) => verified,
            Err(e) => {
                // Shed or failed before checking: the reserved attempt does not count.
                if let (Some(user), Some(_)) = (&user, &fingerprint) {
                    self.give_back_attempt(user).await;
                }
                return Err(e);
            }
        };
        let (Some(user), Some(credential), Some(fingerprint)) = (user, credential, fingerprint)
        else {
            // Recorded like a wrong password (the same statements), so an unknown user costs
            // the same work.
            if let Some(tenant) = tenant
                && let Err(e) = self.record_unknown(tenant.id, caller, &policy, now).await
            {
                tracing::error!(error = %e, "could not audit a failed sign-in");
            }
            return Err(Error::sign_in_failed());
        };
        let refusal = if !verified.matches {
            Some("wrong_password")
        } else if user.state != UserState::Active.as_str() {
            Some("sign_in_blocked")
        } else if credential.temporary && credential.expires_at.is_some_and(|at| at <= now) {
            Some("temporary_password_expired")
        } else {
            None
        };
        if let Some(reason) = refusal {
            let checked = (&credential.hash, verified.matches);
            match self
                .record_refusal(
                    caller,
                    &user,
                    &policy,
                    &fingerprint,
                    checked,
                    ("session.sign_in", reason),
                    now,
                )
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    self.audit_failed_sign_in(
                        Some(user.tenant_id),
                        caller,
                        Some(user.id),
                        "changed_meanwhile",
                    )
                    .await;
                }
                Err(e) => tracing::error!(error = %e, "could not record a failed sign-in"),
            }
            return Err(Error::sign_in_failed());
        }
        // A correct password on the compromised list must be changed before anything else
        // (when the tenant checks at sign-in); judged before the tenant's lock is taken.
        let compromised = policy.compromised_check_at_sign_in && self.is_compromised(password);
        let rehash = if verified.needs_rehash {
            Some(self.hasher.hash(password).await?)
        } else {
            None
        };
        let tx = self.store.write_tenant(user.tenant_id).await?;
        // A session opened, failures cleared, a rehash, the compromised mark: nothing a
        // user view shows (a lock still in force refused the sign-in before the hash).
        tx.changes_no_user_view();
        // The password checked above must still be the user's: a reset or change that
        // committed during the hash revoked every session, and a session opened with the old
        // password must not outlive it.
        let current = match tx.lock_user(user.tenant_id, user.id).await? {
            Some(locked) if locked.state == UserState::Active.as_str() => tx
                .credential(user.id)
                .await?
                .filter(|c| c.hash == credential.hash)
                .map(|c| (locked, c)),
            _ => None,
        };
        let Some((user, credential)) = current else {
            drop(tx);
            self.give_back_attempt(&user).await;
            self.audit_failed_sign_in(
                Some(user.tenant_id),
                caller,
                Some(user.id),
                "changed_meanwhile",
            )
            .await;
            return Err(Error::sign_in_failed());
        };
        // Judged on the rows this transaction locked: a forced change that committed during
        // the hash applies to this session too.
        let change_reason = if credential.must_change {
            Some(if credential.temporary {
                ChangeReason::TemporaryPassword
            } else {
                ChangeReason::ChangeRequired
            })
        } else if compromised {
            Some(ChangeReason::PasswordCompromised)
        } else if policy.max_age_days > 0
            && !user.password_never_expires
            && credential.set_at + chrono::Duration::days(policy.max_age_days.into()) <= now
        {
            Some(ChangeReason::PasswordExpired)
        } else {
            None
        };
        // The person is told once per password: the credential keeps when it was found.
        if compromised && credential.compromised_at.is_none() {
            tx.mark_compromised(user.id, now).await?;
            self.queue(&tx, super::notices::password_compromised(&user, now))
                .await?;
        }
        tx.clear_failures(user.id).await?;
        let settled = self.checks_settled.clone();
        if let Some(new_hash) = rehash {
            tx.rehash_credential(user.id, &credential.hash, new_hash)
                .await?;
        }
        let registration = self.registration_in(&tx, &policy, &user, now).await?;
        let (token, kind, expires_at) = self
            .open_session(
                &tx,
                caller,
                &user,
                change_reason,
                registration.as_ref(),
                now,
            )
            .await?;
        let mut details = vec![("session_kind", kind.as_str())];
        if let Some(reason) = change_reason {
            details.push(("change_reason", reason.as_str()));
        }
        if let Some(registration) = &registration {
            details.push(("registration_state", registration.state.as_str()));
        }
        tx.append_audit(audit::by_self(
            &user,
            caller,
            "session.sign_in",
            Outcome::Success,
            &details,
        ))
        .await?;
        tx.commit().await?;
        settled.notify_waiters();
        tracing::info!(user = %user.id, session_kind = kind.as_str(), "signed in");
        Ok(SignedIn {
            token,
            kind,
            change_reason,
            expires_at,
            user_id: user.id,
            registration,
        })
    }

    /// Replaces the caller's password after checking the current one; revokes every session
    /// of the person and opens a new one (full, or registration-only as at sign-in).
    pub async fn change_password(
        &self,
        caller: &Caller,
        current: &Password,
        new: &Password,
    ) -> Result<ChangedPassword, Error> {
        let session = self.authenticate(caller).await?;
        let user = self.session_user(&session).await?;
        let policy = self.policy(session.tenant_id).await?;
        let mut violations = Vec::new();
        violations.extend(policy.check_given("current_password", current));
        violations.extend(self.check_new_password(
            &policy,
            "new_password",
            new,
            &user.username,
            &user.display_name,
        ));
        if !current.expose().is_empty() && current.expose() == new.expose() {
            violations.push(FieldViolation::new(
                "new_password",
                "must differ from the current password",
            ));
        }
        Error::from_violations(violations)?;
        let credential = self.store.credential(user.id).await?.ok_or_else(|| {
            Error::FailedPrecondition("the account has no password to change".to_owned())
        })?;
        self.check_current_password(
            caller,
            &user,
            &credential,
            &policy,
            current,
            "password.change",
        )
        .await?;
        self.check_history(user.id, new, &policy).await?;
        let hash = self.hasher.hash(new).await?;
        let now = store::now();
        let how = "their own password change";
        let notices = self
            .password_notices(&policy, &user, PasswordSet::ByOwner { how }, now)
            .await?;
        let tx = self.store.write_tenant(user.tenant_id).await?;
        // Still the same password and a live session? An admin reset that committed while
        // the hashes ran revoked this session; it must win.
        let locked = tx.lock_user(user.tenant_id, user.id).await?;
        let unchanged = locked.is_some()
            && tx
                .credential(user.id)
                .await?
                .is_some_and(|c| c.hash == credential.hash)
            && tx.session_live(session.id, now).await?;
        let (Some(locked), true) = (locked, unchanged) else {
            return Err(changed_meanwhile());
        };
        let revoked = set_chosen_password(&tx, &user, hash, &policy, now).await?;
        // Judged on the locked row: a snooze that committed during the hash counts.
        let registration = self.registration_in(&tx, &policy, &locked, now).await?;
        let (token, kind, expires_at) = self
            .open_session(&tx, caller, &user, None, registration.as_ref(), now)
            .await?;
        for notice in notices {
            self.queue(&tx, notice).await?;
        }
        tx.append_audit(audit::by_self(
            &user,
            caller,
            "password.change",
            Outcome::Success,
            &[("revoked_sessions", &revoked.to_string())],
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(user = %user.id, revoked_sessions = revoked, "password changed");
        Ok(ChangedPassword {
            token,
            expires_at,
            kind,
            registration,
        })
    }

    /// Sets a new password with an invitation code. Every failure to match (unknown user,
    /// wrong, used or expired code) is one answer; each wrong code spends one of its tries.
    pub async fn complete_password_reset(
        &self,
        caller: &Caller,
        username: &str,
        code: &Password,
        new_password: &Password,
        tenant: &str,
        flow_id: &str,
    ) -> Result<(), Error> {
        if !flow_id.is_empty() {
            // A flow id stands for an account: answered at the anonymous floor, like the steps
            // before it.
            return super::service::at_floor(self.complete_flow(
                caller,
                username,
                flow_id,
                new_password,
            ))
            .await;
        }
        let mut violations = Vec::new();
        if username.is_empty() {
            violations.push(FieldViolation::new("username", "required"));
        }
        if code.expose().trim().is_empty() {
            violations.push(FieldViolation::new("code", "required"));
        }
        if new_password.expose().is_empty() {
            violations.push(FieldViolation::new("new_password", "required"));
        }
        Error::from_violations(violations)?;
        let invalid = || {
            Error::Unauthenticated(
                "the code is not valid: it may be mistyped, used or expired".to_owned(),
            )
        };
        let username = username.to_lowercase();
        let Some(tenant) = self.tenant_for_sign_in(tenant, &username).await? else {
            return Err(invalid());
        };
        let Some(user) = self.store.user_by_username(tenant.id, &username).await? else {
            return Err(invalid());
        };
        let now = store::now();
        let Some(stored) = self
            .store
            .live_code(user.id, super::users::INVITATION, now)
            .await?
        else {
            return Err(invalid());
        };
        if !self.code_matches(Some(&stored.code_hash), code) {
            self.store.spend_code_try(stored.id).await?;
            self.audit_failed_sign_in(
                Some(user.tenant_id),
                caller,
                Some(user.id),
                "wrong_invitation_code",
            )
            .await;
            return Err(invalid());
        }
        let policy = self.policy(user.tenant_id).await?;
        Error::from_violations(self.check_new_password(
            &policy,
            "new_password",
            new_password,
            &user.username,
            &user.display_name,
        ))?;
        self.check_history(user.id, new_password, &policy).await?;
        let hash = self.hasher.hash(new_password).await?;
        let tx = self.store.write_tenant(user.tenant_id).await?;
        let Some(locked) = tx.lock_user(user.tenant_id, user.id).await? else {
            return Err(invalid());
        };
        if !tx.use_code(stored.id, now).await? {
            return Err(invalid());
        }
        let revoked = set_chosen_password(&tx, &user, hash, &policy, now).await?;
        tx.unlock(user.id, now).await?;
        self.queue(
            &tx,
            super::notices::password_changed(&locked, "with an invitation code"),
        )
        .await?;
        tx.append_audit(audit::by_self(
            &user,
            caller,
            "password.reset_completed",
            Outcome::Success,
            &[("revoked_sessions", &revoked.to_string())],
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(user = %user.id, "password set with an invitation code");
        Ok(())
    }

    /// Revokes the caller's session.
    pub async fn sign_out(&self, caller: &Caller) -> Result<(), Error> {
        let session = self.authenticate(caller).await?;
        let tx = self.store.write_tenant(session.tenant_id).await?;
        tx.changes_no_user_view();
        tx.revoke_session(session.id, store::now()).await?;
        tx.append_audit(audit::event(
            session.tenant_id,
            format!("user:{}", session.user_id),
            caller.service.clone(),
            "session.sign_out",
            format!("session:{}", session.id),
            Outcome::Success,
            &[],
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The signed-in person, their session, and where they stand with the security info the
    /// tenant requires (when it does).
    pub async fn me(
        &self,
        caller: &Caller,
    ) -> Result<(User, Session, Option<Registration>), Error> {
        let session = self.authenticate(caller).await?;
        let row = self.session_user(&session).await?;
        let policy = self.policy(row.tenant_id).await?;
        let registration = self.registration_of(&policy, &row).await?;
        Ok((self.to_user(row).await?, session, registration))
    }

    /// The keyed hash of a password attempt, used to recognise a repeated wrong password
    /// without keeping the attempt. Keyed with the server's secret key and the user's id.
    async fn failure_fingerprint(
        &self,
        user_id: Uuid,
        password: &Password,
    ) -> Result<String, Error> {
        let mac = self.settings.secret_key.mac(
            "wrong-password fingerprints",
            &[
                user_id.as_bytes(),
                super::policy::normalise(password.expose()).as_bytes(),
            ],
        );
        Ok(hex::encode(&mac[..16]))
    }

    /// Checks a person's current password as sign-in does: a stolen session token must not
    /// give unlimited guesses, so the same lock-out applies (reserve an attempt, record a
    /// wrong password, give a right one back). `action` names the audit event.
    pub(super) async fn check_current_password(
        &self,
        caller: &Caller,
        user: &UserRow,
        credential: &store::CredentialRow,
        policy: &super::policy::PasswordPolicy,
        current: &Password,
        action: &str,
    ) -> Result<(), Error> {
        let wrong = || Error::Unauthenticated("the current password is incorrect".to_owned());
        policy.gate("current_password", current)?;
        let fingerprint = self.failure_fingerprint(user.id, current).await?;
        let known_wrong = credential
            .recent_failures
            .split(',')
            .any(|f| f == fingerprint);
        let locked = !known_wrong && self.reserve_check(user, policy).await? == Check::Locked;
        if known_wrong || locked {
            self.hasher.verify(current, None).await?;
            let reason = if known_wrong {
                "repeated_wrong_password"
            } else {
                "locked_out"
            };
            self.append(audit::by_self(
                user,
                caller,
                action,
                Outcome::Failure,
                &[("reason", reason)],
            ))
            .await?;
            return Err(wrong());
        }
        let verified = match self.hasher.verify(current, Some(&credential.hash)).await {
            Ok(verified) => verified,
            Err(e) => {
                self.give_back_attempt(user).await;
                return Err(e);
            }
        };
        if !verified.matches {
            let refusal = (action, "wrong_current_password");
            let counted = self
                .record_refusal(
                    caller,
                    user,
                    policy,
                    &fingerprint,
                    (&credential.hash, false),
                    refusal,
                    store::now(),
                )
                .await?;
            if !counted {
                // Checked against a password replaced meanwhile: a race lost, not a guess.
                return Err(changed_meanwhile());
            }
            return Err(wrong());
        }
        // Right: the attempt does not count, whatever happens next.
        if policy.lockout_threshold > 0 {
            self.give_back_attempt(user).await;
        }
        Ok(())
    }

    /// Refuses a password among the user's previous ones (the current one is compared by
    /// the caller or is not the person's own).
    pub(super) async fn check_history(
        &self,
        user_id: Uuid,
        new: &Password,
        policy: &super::policy::PasswordPolicy,
    ) -> Result<(), Error> {
        let depth = u64::from(policy.history_count.saturating_sub(1));
        for old in self.store.password_history(user_id, depth).await? {
            if self.hasher.verify(new, Some(&old)).await?.matches {
                return Err(Error::invalid(
                    "new_password",
                    format!(
                        "was used recently: the last {} passwords may not be reused",
                        policy.history_count
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Reserves a place for checking `user`'s password (see `store::lockout`). While every
    /// free place is taken by checks still running, waits for one to settle: a correct
    /// password is never refused because others are being checked. Waits at most
    /// [`BUSY_WAIT`], then sheds the call like a full hashing queue.
    async fn reserve_check(
        &self,
        user: &UserRow,
        policy: &super::policy::PasswordPolicy,
    ) -> Result<Check, Error> {
        if policy.lockout_threshold == 0 {
            return Ok(Check::Uncounted);
        }
        let started = tokio::time::Instant::now();
        loop {
            let settled = self.checks_settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            match self
                .store
                .reserve_attempt(user.id, policy.lockout_threshold, store::now())
                .await?
            {
                store::Reservation::Reserved => return Ok(Check::Reserved),
                store::Reservation::Locked => return Ok(Check::Locked),
                // Deleted or replaced meanwhile: checked like any other, nothing to count.
                store::Reservation::Missing => return Ok(Check::Uncounted),
                store::Reservation::Busy => {}
            }
            if started.elapsed() >= BUSY_WAIT {
                return Err(Error::ResourceExhausted(
                    "too many sign-ins for this account are being checked at once; retry shortly"
                        .to_owned(),
                ));
            }
            // Another replica's check settles without waking us: poll as well.
            let _ = tokio::time::timeout(BUSY_POLL, settled).await;
        }
    }

    async fn give_back_attempt(&self, user: &UserRow) {
        let result = self.store.release_attempt(user.id).await;
        self.checks_settled.notify_waiters();
        if let Err(e) = result {
            tracing::error!(error = %e, "could not release a sign-in attempt");
        }
    }

    /// A refused check of a known user's password: a wrong password is counted (and may lock
    /// the account); a right password refused for another reason gives its place back. The
    /// audit event commits with the count. `checked` is the hash the password was checked
    /// against and whether it matched. Returns false, recording nothing, when that hash was
    /// replaced during the check (a reset or change won the race).
    #[allow(clippy::too_many_arguments)]
    async fn record_refusal(
        &self,
        caller: &Caller,
        user: &UserRow,
        policy: &super::policy::PasswordPolicy,
        fingerprint: &str,
        (checked, password_matched): (&store::PasswordHash, bool),
        (action, reason): (&str, &str),
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        let settled = self.checks_settled.clone();
        let tx = self.store.write_tenant(user.tenant_id).await?;
        let mut locked_until = None;
        if password_matched {
            if policy.lockout_threshold > 0 {
                tx.release_attempt(user.id).await?;
            }
        } else {
            let first = i64::from(policy.lockout_seconds);
            let cap = i64::from(policy.lockout_max_seconds);
            let recorded = tx
                .record_failure(
                    user.id,
                    checked,
                    fingerprint,
                    policy.lockout_threshold,
                    |previous| {
                        let doubled = first.saturating_mul(1i64 << previous.min(30));
                        chrono::Duration::seconds(doubled.min(cap))
                    },
                    now,
                )
                .await?;
            match recorded {
                store::Recorded::Counted {
                    locked_until: until,
                } => locked_until = until,
                store::Recorded::Changed => {
                    tx.commit().await?;
                    settled.notify_waiters();
                    return Ok(false);
                }
            }
        }
        tx.append_audit(audit::event(
            user.tenant_id,
            "anonymous".to_owned(),
            caller.service.clone(),
            action,
            format!("user:{}", user.id),
            Outcome::Failure,
            &[("reason", reason)],
        ))
        .await?;
        if let Some(until) = locked_until {
            tx.append_audit(audit::event(
                user.tenant_id,
                "system".to_owned(),
                caller.service.clone(),
                "user.locked_out",
                format!("user:{}", user.id),
                Outcome::Success,
                &[("locked_until", &until.to_rfc3339())],
            ))
            .await?;
            tracing::warn!(user = %user.id, %until, "account locked out after failed sign-ins");
        }
        tx.commit().await?;
        settled.notify_waiters();
        tracing::info!(user = %user.id, reason, "sign-in refused");
        Ok(true)
    }

    /// Audits a sign-in of an unknown user (or one without a password) in the transaction a
    /// wrong password of a real account takes, running its statements against the nil id.
    async fn record_unknown(
        &self,
        tenant_id: Uuid,
        caller: &Caller,
        policy: &super::policy::PasswordPolicy,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        let tx = self.store.write_tenant(tenant_id).await?;
        // Statements against the nil id: no user's row changes.
        tx.changes_no_user_view();
        let nothing = store::PasswordHash::new(String::new());
        tx.record_failure(
            Uuid::nil(),
            &nothing,
            "",
            policy.lockout_threshold,
            |_| chrono::Duration::zero(),
            now,
        )
        .await?;
        tx.append_audit(audit::event(
            tenant_id,
            "anonymous".to_owned(),
            caller.service.clone(),
            "session.sign_in",
            "unknown-user".to_owned(),
            Outcome::Failure,
            &[("reason", "unknown_user_or_no_password")],
        ))
        .await?;
        tx.commit().await?;
        tracing::info!(reason = "unknown_user_or_no_password", "sign-in refused");
        Ok(())
    }

    /// Records a failed sign-in. An audit failure is logged and never changes the answer,
    /// which must stay the same for every kind of failure.
    async fn audit_failed_sign_in(
        &self,
        tenant_id: Option<Uuid>,
        caller: &Caller,
        user_id: Option<Uuid>,
        reason: &str,
    ) {
        let Some(tenant_id) = tenant_id else { return };
        let target = user_id.map_or_else(|| "unknown-user".to_owned(), |id| format!("user:{id}"));
        let event = audit::event(
            tenant_id,
            "anonymous".to_owned(),
            caller.service.clone(),
            "session.sign_in",
            target,
            Outcome::Failure,
            &[("reason", reason)],
        );
        if let Err(e) = self.append(event).await {
            tracing::error!(error = %e, "could not audit a failed sign-in");
        }
        match user_id {
            Some(user) => tracing::info!(%user, reason, "sign-in refused"),
            None => tracing::info!(reason, "sign-in refused"),
        }
    }

    async fn session_user(&self, session: &Session) -> Result<UserRow, Error> {
        // A session outliving its user (deleted in between) is no session.
        self.store
            .user_by_id(session.tenant_id, session.user_id)
            .await?
            .ok_or_else(Error::no_session)
    }

    async fn open_session(
        &self,
        tx: &Tx,
        caller: &Caller,
        user: &UserRow,
        change_reason: Option<ChangeReason>,
        registration: Option<&Registration>,
        now: DateTime<Utc>,
    ) -> Result<(SessionToken, SessionKind, DateTime<Utc>), Error> {
        // A password to change comes first; registering follows in the session the change
        // opens. A registration-only session lives as long as a full one: it becomes one in
        // place once the person registers or snoozes.
        let (kind, ttl) = match (change_reason, registration) {
            (Some(_), _) => (
                SessionKind::PasswordChangeOnly,
                self.settings.change_session_ttl,
            ),
            (None, Some(registration)) if registration.gates() => {
                (SessionKind::RegistrationOnly, self.settings.session_ttl)
            }
            (None, _) => (SessionKind::Full, self.settings.session_ttl),
        };
        let expires_at =
            now + chrono::Duration::from_std(ttl).map_err(|e| Error::Internal(Box::new(e)))?;
        let token = SessionToken::generate();
        tx.insert_session(SessionRow {
            id: Uuid::now_v7(),
            tenant_id: user.tenant_id,
            user_id: user.id,
            token_hash: token.digest(),
            kind: kind.as_str().to_owned(),
            change_reason: change_reason.map(|r| r.as_str().to_owned()),
            caller_service: caller.service.clone(),
            created_at: now,
            expires_at,
            revoked_at: None,
        })
        .await?;
        Ok((token, kind, expires_at))
    }
}
