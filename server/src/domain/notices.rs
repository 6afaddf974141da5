//! The messages Gatehouse sends. Only invitations carry a secret (the code), and only in the
//! body of the message to the person themselves.

use chrono::{DateTime, Utc};

use super::methods::MethodKind;
use super::secret::Password;
use crate::store::{NewMessage, UserRow};

/// Where a person's email goes: the contact email, else the (email-like) username.
pub(crate) fn recipient(user: &UserRow) -> String {
    if user.contact_email.is_empty() {
        user.username.clone()
    } else {
        user.contact_email.clone()
    }
}

pub(crate) fn invitation(user: &UserRow, code: &Password, expires_at: DateTime<Utc>) -> NewMessage {
    NewMessage {
        tenant_id: user.tenant_id,
        channel: "email",
        recipient: recipient(user),
        subject: "Choose your new password".to_owned(),
        body: format!(
            "Hello {name},\n\nAn administrator reset the password of your account {username}.\n\
             Choose a new one with this single-use code:\n\n    {code}\n\n\
             The code works until {expires} (UTC). If you did not expect this, contact your administrator.\n",
            name = user.display_name,
            username = user.username,
            code = code.expose(),
            expires = expires_at.format("%Y-%m-%d %H:%M"),
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
