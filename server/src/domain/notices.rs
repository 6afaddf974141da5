//! The messages Gatehouse sends, and who is told of a password set by someone. Only
//! invitations carry a secret (the code), and only in the body of the message to the person
//! themselves.

use chrono::{DateTime, Utc};

use super::error::Error;
use super::methods::MethodKind;
use super::policy::PasswordPolicy;
use super::secret::Password;
use super::service::Gatehouse;
use super::types::{Actor, Principal, Role, UserState};
use crate::store::{NewMessage, UserRow};

/// How a password came to be set, for the notices it sends.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PasswordSet<'a> {
    /// An administrator (or a service) set it: `by` names them (see
    /// [`Gatehouse::principal_name`]), `how` the kind of reset. With `invitation`, the contact
    /// address is not told apart: the invitation it gets says who.
    ByAdmin {
        by: &'a str,
        how: &'static str,
        invitation: bool,
    },
    /// Its owner did; `how` names the way.
    ByOwner { how: &'static str },
}

impl Gatehouse {
    /// The notices a password set sends under the tenant's policy, to queue in the change's
    /// transaction: when an administrator set it (not the account's first password: it is
    /// being set up, not taken over), the person is told at their contact email and every
    /// confirmed alternate email (who and when, never the password); when the account holds
    /// any role, every other active global admin of the tenant is told. Read before the
    /// transaction opens, so it stays short.
    pub(crate) async fn password_notices(
        &self,
        policy: &PasswordPolicy,
        target: &UserRow,
        set: PasswordSet<'_>,
        at: DateTime<Utc>,
    ) -> Result<Vec<NewMessage>, Error> {
        let mut notices = Vec::new();
        if let PasswordSet::ByAdmin { .. } = set
            && self.store.credential(target.id).await?.is_none()
        {
            return Ok(notices);
        }
        if let PasswordSet::ByAdmin {
            by,
            how,
            invitation,
        } = set
            && policy.notify_person_on_admin_reset
        {
            let invited = invitation.then(|| recipient(target));
            for (kind, address) in self.confirmed_addresses(target, None).await? {
                if kind == MethodKind::Email && Some(&address) != invited.as_ref() {
                    notices.push(reset_by_admin(target, &address, by, how, at));
                }
            }
        }
        if policy.notify_admins_on_admin_password_change {
            let roles = self.roles_of(target.tenant_id, target.id).await?;
            if !roles.is_empty() {
                let what = match set {
                    PasswordSet::ByAdmin { by, how, .. } => format!("reset by {by} ({how})"),
                    PasswordSet::ByOwner { how } => format!("changed by its owner ({how})"),
                };
                let admins = self
                    .store
                    .users_with_role(target.tenant_id, Role::GlobalAdmin.as_str())
                    .await?;
                for admin in admins {
                    if admin.id != target.id && admin.state == UserState::Active.as_str() {
                        notices.push(admin_password_changed(&admin, target, &roles, &what, at));
                    }
                }
            }
        }
        Ok(notices)
    }

    /// How a notice names who acted: a user's display name and username, or the service.
    pub(crate) async fn principal_name(&self, actor: &Actor) -> Result<String, Error> {
        Ok(match &actor.principal {
            Principal::User(id) => match self.store.user_by_id(actor.tenant_id, *id).await? {
                Some(user) if user.display_name != user.username => {
                    format!("{} ({})", user.display_name, user.username)
                }
                Some(user) => user.username,
                None => "an administrator".to_owned(),
            },
            Principal::Service(name) => format!("the service {name}"),
        })
    }
}

/// Told to a person, at one of their addresses: an administrator reset their password.
fn reset_by_admin(
    user: &UserRow,
    address: &str,
    by: &str,
    how: &str,
    at: DateTime<Utc>,
) -> NewMessage {
    NewMessage {
        tenant_id: user.tenant_id,
        channel: "email",
        recipient: address.to_owned(),
        subject: "An administrator reset your password".to_owned(),
        body: format!(
            "Hello {name},\n\n{by} reset the password of your account {username} on {at} UTC \
             ({how}). Every session of the account was signed out.\n\n\
             If you asked for this, there is nothing to do: the new password reaches you from \
             them, or by invitation. If you did not, tell your IT or security team now: someone \
             may be trying to take over your account.\n",
            name = user.display_name,
            username = user.username,
            at = at.format("%Y-%m-%d %H:%M"),
        ),
    }
}

/// Told to a global admin: the password of an account holding `roles` was reset or changed.
fn admin_password_changed(
    admin: &UserRow,
    subject: &UserRow,
    roles: &[Role],
    what: &str,
    at: DateTime<Utc>,
) -> NewMessage {
    let roles = roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    NewMessage {
        tenant_id: admin.tenant_id,
        channel: "email",
        recipient: recipient(admin),
        subject: format!(
            "The password of administrator {} was changed",
            subject.display_name
        ),
        body: format!(
            "Hello {admin},\n\nThe password of {name} ({username}; {roles}) was {what} on {at} \
             UTC.\n\nEvery global admin of the tenant is told of changes to an administrator's \
             password. If this was not expected, look at the audit log (action password.*, \
             target user:{id}) and revoke the account's sessions.\n",
            admin = admin.display_name,
            name = subject.display_name,
            username = subject.username,
            at = at.format("%Y-%m-%d %H:%M"),
            id = subject.id,
        ),
    }
}

/// Where a person's email goes: the contact email, else the (email-like) username.
pub(crate) fn recipient(user: &UserRow) -> String {
    if user.contact_email.is_empty() {
        user.username.clone()
    } else {
        user.contact_email.clone()
    }
}

pub(crate) fn invitation(
    user: &UserRow,
    code: &Password,
    expires_at: DateTime<Utc>,
    by: &str,
) -> NewMessage {
    NewMessage {
        tenant_id: user.tenant_id,
        channel: "email",
        recipient: recipient(user),
        subject: "Choose your new password".to_owned(),
        body: format!(
            "Hello {name},\n\n{by} (an administrator) reset the password of your account {username}.\n\
             Choose a new one with this single-use code:\n\n    {code}\n\n\
             The code works until {expires} (UTC). If you did not expect this, contact your administrator.\n",
            name = user.display_name,
            username = user.username,
            code = code.expose(),
            expires = expires_at.format("%Y-%m-%d %H:%M"),
        ),
    }
}

/// The notice that a person's password is on the compromised list (found at sign-in).
pub(crate) fn password_compromised(user: &UserRow, at: DateTime<Utc>) -> NewMessage {
    NewMessage {
        tenant_id: user.tenant_id,
        channel: "email",
        recipient: recipient(user),
        subject: "Your password appeared in a data breach".to_owned(),
        body: format!(
            "Hello {name},\n\nWhen you signed in to {username} on {at} UTC, your password was found \
             on a list of passwords exposed in data breaches elsewhere. Attackers try such \
             passwords first, so you were asked to choose a new one before going on.\n\n\
             If you use the same password anywhere else, change it there too.\n",
            name = user.display_name,
            username = user.username,
            at = at.format("%Y-%m-%d %H:%M"),
        ),
    }
}

pub(crate) fn password_changed(user: &UserRow, how: &str) -> NewMessage {
    NewMessage {
        tenant_id: user.tenant_id,
        channel: "email",
        recipient: recipient(user),
        subject: "Your password was changed".to_owned(),
        body: format!(
            "Hello {name},\n\nThe password of your account {username} was changed ({how}).\n\
             Every session was signed out. If this was not you, contact your administrator now.\n",
            name = user.display_name,
            username = user.username,
        ),
    }
}

/// A message to one of a person's methods: for a phone a text of `sms`, otherwise an email of
/// `subject` and `email`.
pub(crate) fn to_method(
    user: &UserRow,
    kind: MethodKind,
    address: &str,
    subject: &str,
    email: String,
    sms: String,
) -> NewMessage {
    let phone = kind == MethodKind::Phone;
    NewMessage {
        tenant_id: user.tenant_id,
        channel: kind.channel(),
        recipient: address.to_owned(),
        subject: if phone {
            String::new()
        } else {
            subject.to_owned()
        },
        body: if phone { sms } else { email },
    }
}

/// Asks a person to register (or reconfirm) the security info a self-service reset needs.
pub(crate) fn registration_reminder(user: &UserRow, reconfirm: bool) -> NewMessage {
    let what = if reconfirm {
        "Please confirm that the security info on your account is still yours: sign in, and \
         confirm each alternate email, phone or authenticator app with a fresh code."
    } else {
        "Please register your security info: sign in, and add and confirm an alternate email, \
         a mobile phone or an authenticator app."
    };
    NewMessage {
        tenant_id: user.tenant_id,
        channel: "email",
        recipient: recipient(user),
        subject: "Register your security info".to_owned(),
        body: format!(
            "Hello {name},\n\n{what} With it you can reset a forgotten password of {username} \
             yourself, without waiting for an administrator.\n\n\
             Your administrator sent this reminder. Never share a code you receive.\n",
            name = user.display_name,
            username = user.username,
        ),
    }
}
