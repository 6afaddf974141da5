//! Security info: the verification methods a person registers so they can reset a forgotten
//! password themselves — an alternate email (confirmed with an emailed code), a mobile phone
//! (confirmed with a code by SMS) and an authenticator app (TOTP, RFC 6238, confirmed with a
//! current code). Adding or removing one
//! needs the current password again; the person's other addresses are told of every change.

use totp_rs::{Builder, Secret};
use uuid::Uuid;

use super::audit::{self, Outcome};
use super::error::Error;
use super::registration::Registration;
use super::secret::Password;
use super::service::Gatehouse;
use super::types::{Actor, Caller, Role, Session, SessionKind};
use super::users::UserKey;
use crate::store::{self, MethodRow, NewMessage, UserRow};

/// Most methods one person may register.
const MAX_METHODS: usize = 5;
/// Issuer shown by authenticator apps.
const ISSUER: &str = "Gatehouse";
/// The purpose under which authenticator secrets are sealed.
const AUTHENTICATOR_SECRETS: &str = "authenticator secrets";
/// Confirmation codes one person may have sent per hour, whatever the addresses.
const CONFIRMATIONS_PER_HOUR: u32 = 10;

/// The hourly send counters, each kept apart so that one cannot be used to spend another
/// (confirmation codes to someone's address must not use up their reset codes).
#[derive(Clone, Copy, Debug)]
pub(super) enum Quota {
    /// Confirmation codes sent to one destination.
    ConfirmationTo,
    /// Confirmation codes asked for by one person.
    ConfirmationsBy,
    /// Self-service reset codes sent to one destination.
    ResetCode,
}

/// The kind of a verification method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodKind {
    /// An alternate email address.
    Email,
    /// An authenticator app (TOTP).
    Authenticator,
    /// A mobile phone that receives codes by SMS.
    Phone,
}

impl MethodKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            MethodKind::Email => "email",
            MethodKind::Authenticator => "authenticator",
            MethodKind::Phone => "phone",
        }
    }

    /// The outbox channel that reaches a method of this kind.
    pub(super) fn channel(self) -> &'static str {
        match self {
            MethodKind::Phone => "sms",
            MethodKind::Email | MethodKind::Authenticator => "email",
        }
    }

    pub(super) fn of(row: &MethodRow) -> MethodKind {
        match row.kind.as_str() {
            "authenticator" => MethodKind::Authenticator,
            "phone" => MethodKind::Phone,
            _ => MethodKind::Email,
        }
    }
}

/// A method as shown to people: never the full address, never a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MethodView {
    /// Its id.
    pub id: Uuid,
    /// Its kind.
    pub kind: MethodKind,
    /// `a•••@contoso.example`, `+1 •••• ••42`, or `Authenticator app`.
    pub masked: String,
    /// Confirmed by the person.
    pub verified: bool,
}

/// The result of confirming a method.
#[derive(Debug)]
pub struct Confirmed {
    /// What the calling session may be used for now.
    pub session_kind: SessionKind,
    /// Where the person stands, when the tenant requires registration.
    pub registration: Option<Registration>,
}

/// The result of adding a method.
#[derive(Debug)]
pub struct AddedMethod {
    /// The new (unconfirmed) method.
    pub id: Uuid,
    /// For an authenticator: the `otpauth://` URI to enrol the app with (contains the
    /// secret; shown once).
    pub otpauth_uri: Option<Password>,
}

impl Gatehouse {
    /// Registers a method after checking the current password again.
    pub async fn add_method(
        &self,
        caller: &Caller,
        kind: MethodKind,
        address: &str,
        current_password: &Password,
    ) -> Result<AddedMethod, Error> {
        let (_, user) = self.registering_user(caller).await?;
        let policy = self.policy(user.tenant_id).await?;
        let address = match kind {
            MethodKind::Email => super::users::normalise_username("address", address)?,
            MethodKind::Phone => {
                let number = super::phone::normalise("address", address)?;
                if !self.settings.sms_enabled {
                    return Err(Error::FailedPrecondition(
                        "this server has no SMS gateway configured: register an email or an authenticator app".to_owned(),
                    ));
                }
                number
            }
            MethodKind::Authenticator => String::new(),
        };
        let credential =
            self.store.credential(user.id).await?.ok_or_else(|| {
                Error::FailedPrecondition("the account has no password".to_owned())
            })?;
        self.check_current_password(
            caller,
            &user,
            &credential,
            &policy,
            current_password,
            "method.add",
        )
        .await?;
        let existing = self.store.methods(user.id).await?;
        if existing.len() >= MAX_METHODS {
            return Err(Error::FailedPrecondition(format!(
                "at most {MAX_METHODS} methods; remove one first"
            )));
        }
        if kind != MethodKind::Authenticator
            && existing
                .iter()
                .any(|m| m.kind == kind.as_str() && m.address == address)
        {
            return Err(Error::AlreadyExists(
                "this address is registered already: confirm or remove it".to_owned(),
            ));
        }
        let now = store::now();
        let id = Uuid::now_v7();
        let (stored, code, uri) = match kind {
            MethodKind::Email | MethodKind::Phone => {
                let code = numeric_code();
                (address.clone(), Some(code), None)
            }
            MethodKind::Authenticator => {
                let secret = Secret::generate();
                let uri = totp(&secret.to_base32(), &user.username)?
                    .to_url()
                    .map_err(|e| Error::Internal(e.to_string().into()))?;
                // Kept sealed with the server's key, bound to this method's id.
                let sealed = self.settings.secret_key.seal(
                    AUTHENTICATOR_SECRETS,
                    id.as_bytes(),
                    &secret.to_base32(),
                )?;
                (sealed, None, Some(Password::new(uri)))
            }
        };
        let tx = self.store.write_tenant(user.tenant_id).await?;
        if code.is_some() {
            self.take_confirmation_quotas(&tx, &user, &address, now)
                .await?;
        }
        tx.insert_method(MethodRow {
            id,
            tenant_id: user.tenant_id,
            user_id: user.id,
            kind: kind.as_str().to_owned(),
            address: stored,
            created_at: now,
            verified_at: None,
            code_hash: code.as_ref().map(|c| self.code_digest(c)),
            code_expires_at: code
                .as_ref()
                .map(|_| now + chrono::Duration::minutes(policy.reset_code_minutes.into())),
            code_attempts: 0,
            last_totp_step: 0,
        })
        .await?;
        if let Some(code) = &code {
            self.queue(&tx, confirm_code(&user, kind, &address, code, false))
                .await?;
        }
        tx.append_audit(audit::by_self(
            &user,
            caller,
            "method.add",
            Outcome::Success,
            &[("kind", kind.as_str()), ("method", &id.to_string())],
        ))
        .await?;
        tx.commit().await?;
        Ok(AddedMethod {
            id,
            otpauth_uri: uri,
        })
    }

    /// Confirms a method with the code sent to it (email, phone) or shown by it
    /// (authenticator); a method confirmed before is confirmed again (reconfirmed). Once the
    /// person is registered, their registration-only sessions become full.
    pub async fn confirm_method(
        &self,
        caller: &Caller,
        method_id: &str,
        code: &Password,
    ) -> Result<Confirmed, Error> {
        let (session, user) = self.registering_user(caller).await?;
        let policy = self.policy(user.tenant_id).await?;
        let id = Uuid::parse_str(method_id)
            .map_err(|_| Error::invalid("method_id", "not a valid id"))?;
        let method = self.my_method(&user, id).await?;
        let invalid = || {
            Error::invalid(
                "code",
                "not the current code: check it, or request a new one",
            )
        };
        let now = store::now();
        let proof = if MethodKind::of(&method) == MethodKind::Authenticator {
            let totp = self.authenticator(&method, &user.username)?;
            // The matched time step: `verify_method` accepts only a step newer than the last,
            // so a code is never accepted twice.
            store::Proof::Step(totp_step(&totp, code, now).ok_or_else(invalid)?)
        } else {
            let max = i32::try_from(policy.reset_code_attempts).unwrap_or(5);
            // A try is taken before the code is compared, atomically: parallel guesses
            // evaluate at most `max` codes.
            let digest = method.code_hash.as_deref().ok_or_else(invalid)?;
            if method.code_expires_at.is_none_or(|at| at <= now)
                || !self.store.spend_method_try(method.id, max).await?
                || !self.code_matches(Some(digest), code)
            {
                return Err(invalid());
            }
            store::Proof::Code(digest)
        };
        let first = method.verified_at.is_none();
        let tx = self.store.write_tenant(user.tenant_id).await?;
        if !tx.verify_method(method.id, proof, now).await? {
            return Err(invalid());
        }
        if first {
            for notice in self
                .others_told(&user, Some(method.id), "A verification method was added to")
                .await?
            {
                self.queue(&tx, notice).await?;
            }
        }
        let (registration, opened) = self.settle_registration(&tx, &policy, &user, now).await?;
        let session_kind = match session.kind {
            SessionKind::RegistrationOnly if opened => SessionKind::Full,
            kind => kind,
        };
        let mut details = vec![
            ("kind", method.kind.as_str()),
            ("reconfirmed", if first { "false" } else { "true" }),
        ];
        let method_text = method.id.to_string();
        details.push(("method", &method_text));
        if let Some(registration) = &registration {
            details.push(("registration_state", registration.state.as_str()));
        }
        tx.append_audit(audit::by_self(
            &user,
            caller,
            "method.confirm",
            Outcome::Success,
            &details,
        ))
        .await?;
        tx.commit().await?;
        Ok(Confirmed {
            session_kind,
            registration,
        })
    }

    /// Sends a fresh code to one of the caller's email or phone methods, to confirm it or to
    /// confirm it again; the previous code stops working.
    pub async fn send_method_code(&self, caller: &Caller, method_id: &str) -> Result<(), Error> {
        let (_, user) = self.registering_user(caller).await?;
        let policy = self.policy(user.tenant_id).await?;
        let id = Uuid::parse_str(method_id)
            .map_err(|_| Error::invalid("method_id", "not a valid id"))?;
        let method = self.my_method(&user, id).await?;
        let kind = MethodKind::of(&method);
        if kind == MethodKind::Authenticator {
            return Err(Error::FailedPrecondition(
                "an authenticator app needs no code sent: confirm it with the code it shows now"
                    .to_owned(),
            ));
        }
        if kind == MethodKind::Phone && !self.settings.sms_enabled {
            return Err(Error::FailedPrecondition(
                "this server has no SMS gateway configured, so no code can be texted".to_owned(),
            ));
        }
        let now = store::now();
        let code = numeric_code();
        let tx = self.store.write_tenant(user.tenant_id).await?;
        self.take_confirmation_quotas(&tx, &user, &method.address, now)
            .await?;
        tx.set_method_code(
            method.id,
            &self.code_digest(&code),
            now + chrono::Duration::minutes(policy.reset_code_minutes.into()),
        )
        .await?;
        self.queue(
            &tx,
            confirm_code(
                &user,
                kind,
                &method.address,
                &code,
                method.verified_at.is_some(),
            ),
        )
        .await?;
        tx.append_audit(audit::by_self(
            &user,
            caller,
            "method.code_sent",
            Outcome::Success,
            &[("kind", kind.as_str()), ("method", &method.id.to_string())],
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One of the person's methods, by id.
    async fn my_method(&self, user: &UserRow, id: Uuid) -> Result<MethodRow, Error> {
        self.store
            .methods(user.id)
            .await?
            .into_iter()
            .find(|m| m.id == id)
            .ok_or_else(|| Error::NotFound("no such method".to_owned()))
    }

    /// Takes one confirmation code from the person's hourly count and one from the
    /// destination's: per person, so nobody runs up the SMS bill with number after number;
    /// per destination, so nobody floods an inbox or a phone through many accounts.
    async fn take_confirmation_quotas(
        &self,
        tx: &store::Tx,
        user: &UserRow,
        address: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), Error> {
        if !tx
            .take_send_quota(
                &self.quota_key(Quota::ConfirmationsBy, &user.id.to_string()),
                CONFIRMATIONS_PER_HOUR,
                now,
            )
            .await?
        {
            return Err(Error::ResourceExhausted(format!(
                "at most {CONFIRMATIONS_PER_HOUR} confirmation codes an hour; try again later"
            )));
        }
        if !tx
            .take_send_quota(
                &self.quota_key(Quota::ConfirmationTo, address),
                self.settings.code_sends_per_destination,
                now,
            )
            .await?
        {
            return Err(Error::ResourceExhausted(
                "too many codes were sent to this address in the last hour; try again later"
                    .to_owned(),
            ));
        }
        Ok(())
    }

    /// The caller's methods, masked.
    pub async fn my_methods(&self, caller: &Caller) -> Result<Vec<MethodView>, Error> {
        let (_, user) = self.registering_user(caller).await?;
        Ok(self
            .store
            .methods(user.id)
            .await?
            .iter()
            .map(view)
            .collect())
    }

    /// Removes one of the caller's methods after checking the current password again.
    pub async fn remove_method(
        &self,
        caller: &Caller,
        method_id: &str,
        current_password: &Password,
    ) -> Result<(), Error> {
        let (_, user) = self.registering_user(caller).await?;
        let policy = self.policy(user.tenant_id).await?;
        let id = Uuid::parse_str(method_id)
            .map_err(|_| Error::invalid("method_id", "not a valid id"))?;
        let credential =
            self.store.credential(user.id).await?.ok_or_else(|| {
                Error::FailedPrecondition("the account has no password".to_owned())
            })?;
        self.check_current_password(
            caller,
            &user,
            &credential,
            &policy,
            current_password,
            "method.remove",
        )
        .await?;
        let notices = self
            .others_told(&user, Some(id), "A verification method was removed from")
            .await?;
        let tx = self.store.write_tenant(user.tenant_id).await?;
        if !tx.delete_method(user.id, id).await? {
            return Err(Error::NotFound("no such method".to_owned()));
        }
        self.rejudge(&tx, &policy, user.id, store::now()).await?;
        for notice in notices {
            self.queue(&tx, notice).await?;
        }
        tx.append_audit(audit::by_self(
            &user,
            caller,
            "method.remove",
            Outcome::Success,
            &[("method", &id.to_string())],
        ))
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user's methods, masked, for an administrator who may reset them.
    pub async fn user_methods(
        &self,
        actor: &Actor,
        key: UserKey,
    ) -> Result<Vec<MethodView>, Error> {
        self.require(
            actor,
            "method.read",
            &[Role::GlobalAdmin, Role::UserAdmin, Role::PasswordAdmin],
        )
        .await?;
        let target = self.find_user(actor, key).await?;
        self.authorize(actor, "method.read", target.id).await?;
        Ok(self
            .store
            .methods(target.id)
            .await?
            .iter()
            .map(view)
            .collect())
    }

    /// Clears every method of a user, for an administrator who may reset them; the person is
    /// told at their contact address.
    pub async fn clear_methods(&self, actor: &Actor, key: UserKey) -> Result<u64, Error> {
        self.require(
            actor,
            "method.clear",
            &[Role::GlobalAdmin, Role::UserAdmin, Role::PasswordAdmin],
        )
        .await?;
        let target = self.find_user(actor, key).await?;
        let policy = self.policy(actor.tenant_id).await?;
        let (tx, user, _) = self.target_tx(actor, "method.clear", target.id).await?;
        let cleared = tx.delete_methods(user.id).await?;
        self.rejudge(&tx, &policy, user.id, store::now()).await?;
        self.queue(
            &tx,
            notice(
                &user,
                MethodKind::Email,
                &super::notices::recipient(&user),
                "Your verification methods were cleared by an administrator from",
            ),
        )
        .await?;
        tx.append_audit(audit::event(
            actor.tenant_id,
            actor.principal.to_string(),
            actor.service.clone(),
            "method.clear",
            format!("user:{}", user.id),
            Outcome::Success,
            &[("cleared", &cleared.to_string())],
        ))
        .await?;
        tx.commit().await?;
        Ok(cleared)
    }

    /// The person of a session that may manage security info: a full or a registration-only
    /// one (a change-only session must change the password first).
    async fn registering_user(&self, caller: &Caller) -> Result<(Session, UserRow), Error> {
        let session = self.authenticate(caller).await?;
        if session.kind == SessionKind::PasswordChangeOnly {
            return Err(Error::PermissionDenied(
                "this session may only change the password: call ChangePassword first".to_owned(),
            ));
        }
        let user = self
            .store
            .user_by_id(session.tenant_id, session.user_id)
            .await?
            .ok_or_else(Error::no_session)?;
        Ok((session, user))
    }

    /// Notices for the person's contact address and their other verified email addresses
    /// and phones.
    pub(super) async fn others_told(
        &self,
        user: &UserRow,
        except: Option<Uuid>,
        what: &str,
    ) -> Result<Vec<NewMessage>, Error> {
        Ok(self
            .confirmed_addresses(user, except)
            .await?
            .iter()
            .map(|(kind, address)| notice(user, *kind, address, what))
            .collect())
    }

    /// Where a person can be told something: their contact address (or email-like username),
    /// then each verified email address and phone but `except`, each address once.
    pub(super) async fn confirmed_addresses(
        &self,
        user: &UserRow,
        except: Option<Uuid>,
    ) -> Result<Vec<(MethodKind, String)>, Error> {
        let mut addresses = vec![(MethodKind::Email, super::notices::recipient(user))];
        for method in self.store.methods(user.id).await? {
            let kind = MethodKind::of(&method);
            if Some(method.id) != except
                && kind != MethodKind::Authenticator
                && method.verified_at.is_some()
                && !addresses.iter().any(|(_, a)| *a == method.address)
            {
                addresses.push((kind, method.address));
            }
        }
        Ok(addresses)
    }
}

impl Gatehouse {
    /// The TOTP generator of an authenticator method (its secret unsealed).
    pub(super) fn authenticator(
        &self,
        method: &MethodRow,
        account: &str,
    ) -> Result<totp_rs::Totp, Error> {
        let secret = Password::new(self.settings.secret_key.open(
            AUTHENTICATOR_SECRETS,
            method.id.as_bytes(),
            &method.address,
        )?);
        totp(secret.expose(), account)
    }

    /// During a key rotation: seals again under the current key every authenticator secret
    /// and unsent message body still under the previous one; returns how many. A value that
    /// opens with neither key is logged and left alone.
    pub async fn reseal_secrets(&self) -> Result<u64, Error> {
        let key = &self.settings.secret_key;
        if !key.rotating() {
            return Ok(0);
        }
        let mut resealed = 0;
        for method in self.store.authenticator_methods().await? {
            match key.reseal(AUTHENTICATOR_SECRETS, method.id.as_bytes(), &method.address) {
                Ok(Some(new)) => {
                    if self
                        .store
                        .replace_method_secret(method.id, &method.address, &new)
                        .await?
                    {
                        resealed += 1;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(verification_method = %method.id, error = %e, "an authenticator secret opens with neither key")
                }
            }
        }
        for message in self.store.unsent_messages().await? {
            match key.reseal_message(&message.channel, &message.recipient, &message.body) {
                Ok(Some(new)) => {
                    if self
                        .store
                        .replace_body(message.id, &message.body, &new)
                        .await?
                    {
                        resealed += 1;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(message = %message.id, error = %e, "a message body opens with neither key")
                }
            }
        }
        Ok(resealed)
    }

    /// The stored form of a one-time code: keyed with the server's secret key.
    pub(super) fn code_digest(&self, code: &Password) -> String {
        self.settings.secret_key.code_digest(code)
    }

    /// Whether a stored digest is that of `code` (under the current key, or during a
    /// rotation the previous one).
    pub(super) fn code_matches(&self, stored: Option<&str>, code: &Password) -> bool {
        self.settings.secret_key.code_matches(stored, code)
    }

    /// The key of a send counter: a MAC of the counter's kind and subject (an address, a
    /// number, a user id), so the table names no address.
    pub(super) fn quota_key(&self, quota: Quota, subject: &str) -> String {
        let kind = match quota {
            Quota::ConfirmationTo => "confirmation-to",
            Quota::ConfirmationsBy => "confirmations-by",
            Quota::ResetCode => "reset-code-to",
        };
        hex::encode(
            self.settings
                .secret_key
                .mac("send quotas", &[kind.as_bytes(), b":", subject.as_bytes()]),
        )
    }
}

/// The time step whose code `code` is (one step of clock skew either way), if any; spaces
/// and dashes as typed are ignored.
pub(super) fn totp_step(
    totp: &totp_rs::Totp,
    code: &Password,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<i64> {
    let digits: String = code.expose().chars().filter(char::is_ascii_digit).collect();
    let step = totp.check(&digits, u64::try_from(now.timestamp()).unwrap_or(0))?;
    Some(i64::try_from(step).unwrap_or(i64::MAX))
}

fn totp(secret_base32: &str, account: &str) -> Result<totp_rs::Totp, Error> {
    let secret = Secret::try_from_base32(secret_base32)
        .map_err(|e| Error::Internal(e.to_string().into()))?;
    Builder::new()
        .with_secret(secret)
        .with_account_name(account)
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| Error::Internal(e.to_string().into()))
}

/// Eight digits from the CSPRNG.
fn numeric_code() -> Password {
    Password::new(format!("{:08}", rand::random_range(0..100_000_000u32)))
}

fn view(method: &MethodRow) -> MethodView {
    let kind = MethodKind::of(method);
    let masked = match kind {
        MethodKind::Authenticator => "Authenticator app".to_owned(),
        MethodKind::Phone => super::phone::mask(&method.address),
        MethodKind::Email => mask_email(&method.address),
    };
    MethodView {
        id: method.id,
        kind,
        masked,
        verified: method.verified_at.is_some(),
    }
}

/// `alice@contoso.example` → `a•••@contoso.example`.
pub(crate) fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}•••@{domain}")
        }
        None => "•••".to_owned(),
    }
}

/// The code that confirms a method: to add it, or (`again`) to confirm it is still the
/// person's.
fn confirm_code(
    user: &UserRow,
    kind: MethodKind,
    address: &str,
    code: &Password,
    again: bool,
) -> NewMessage {
    let (email_purpose, sms_purpose) = if again {
        (
            "To confirm that this address is still yours for the account",
            "to confirm this phone is still yours for",
        )
    } else {
        ("To add this address to the account", "to add this phone to")
    };
    super::notices::to_method(
        user,
        kind,
        address,
        "Confirm this address",
        format!(
            "Hello {name},\n\n{email_purpose} {username}, enter this code:\n\n    {code}\n\n\
             If you did not ask for this, ignore this message.\n",
            name = user.display_name,
            username = user.username,
            code = code.expose(),
        ),
        format!(
            "{code} is your code {sms_purpose} {username}. If you did not ask for it, ignore this message.",
            code = code.expose(),
            username = user.username,
        ),
    )
}

fn notice(user: &UserRow, kind: MethodKind, address: &str, what: &str) -> NewMessage {
    super::notices::to_method(
        user,
        kind,
        address,
        "Your security info changed",
        format!(
            "Hello {name},\n\n{what} your account {username}.\nIf this was not you, contact your administrator now.\n",
            name = user.display_name,
            username = user.username,
        ),
        format!(
            "{what} your account {username}. If this was not you, contact your administrator now.",
            username = user.username,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_masked() {
        assert_eq!(mask_email("alice@contoso.example"), "a•••@contoso.example");
        assert_eq!(mask_email("nonsense"), "•••");
    }

    #[test]
    fn codes_have_eight_digits() {
        let code = numeric_code();
        assert_eq!(code.expose().len(), 8);
        assert!(code.expose().chars().all(|c| c.is_ascii_digit()));
    }
}
