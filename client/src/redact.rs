//! `Debug` for the generated messages that carry secrets (listed in `build.rs`, which turns
//! off their derived `Debug`): every field is shown except the secret ones, which print
//! `<redacted>` (or `""` when empty, so a log still tells a generated password from a chosen
//! one). Each impl names every field of its message, so a field added to the proto fails to
//! compile here until someone decides whether it is secret.

use std::fmt;

use crate::pb;

/// A secret field: whether it is set, never what it holds.
struct Redacted<'a>(&'a str);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("\"\"")
        } else {
            f.write_str("<redacted>")
        }
    }
}

/// An enum field (an `i32` on the wire) by its name, as the derived `Debug` shows it.
struct Enum<E>(i32, std::marker::PhantomData<E>);

impl<E: TryFrom<i32> + fmt::Debug> fmt::Debug for Enum<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match E::try_from(self.0) {
            Ok(value) => value.fmt(f),
            Err(_) => self.0.fmt(f),
        }
    }
}

macro_rules! shown {
    ($value:ident) => {
        $value
    };
    ($value:ident, $enum:ident) => {
        &Enum::<pb::$enum>(*$value, std::marker::PhantomData)
    };
}

macro_rules! redacted_debug {
    ($(
        $message:ident {
            $($field:ident $(as $enum:ident)?),* ;
            secret $($secret:ident),+
        }
    )*) => {
        $(
            impl fmt::Debug for pb::$message {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    let pb::$message { $($field,)* $($secret,)+ } = self;
                    f.debug_struct(stringify!($message))
                        $(.field(stringify!($field), shown!($field $(, $enum)?)))*
                        $(.field(stringify!($secret), &Redacted($secret)))+
                        .finish()
                }
            }
        )*
    };
}

redacted_debug! {
    SignInRequest { username, tenant; secret password }
    SignInResponse {
        session_kind as SessionKind, change_reason as PasswordChangeReason, expire_time, user_id,
        registration;
        secret session_token
    }
    ChangePasswordRequest { ; secret current_password, new_password }
    ChangePasswordResponse {
        expire_time, session_kind as SessionKind, registration;
        secret session_token
    }
    StartPasswordResetResponse { ; secret flow_id }
    SendResetCodeRequest { address; secret flow_id }
    VerifyResetCodeRequest { ; secret flow_id, code }
    CompletePasswordResetRequest { username, tenant; secret code, new_password, flow_id }
    AddVerificationMethodRequest {
        kind as VerificationMethodKind, address;
        secret current_password
    }
    AddVerificationMethodResponse { method_id; secret otpauth_uri }
    ConfirmVerificationMethodRequest { method_id; secret code }
    ResetPasswordRequest {
        user, require_change, delivery as ResetDelivery;
        secret password
    }
    ResetPasswordResponse {
        password_change_required, expire_time, revoked_sessions, invitation_sent;
        secret generated_password
    }
    BulkResetResult {
        index, user_ref, user_id, outcome as BulkOutcome, expire_time, reason, invitation_sent,
        redelivered;
        secret generated_password
    }
    ResolveResetRequestResponse { request, invitation_sent; secret generated_password }
    CreateTenantResponse { tenant; secret admin_one_time_password }
}

#[cfg(test)]
mod tests {
    use crate::pb;

    const SECRET: &str = "Zq7-secret-Value";

    fn assert_hidden(printed: String, shown: &[&str]) {
        assert!(!printed.contains(SECRET), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
        for text in shown {
            assert!(printed.contains(text), "{text} missing from {printed}");
        }
    }

    #[test]
    fn messages_with_secrets_print_everything_but_the_secret() {
        let s = || SECRET.to_owned();
        assert_hidden(
            format!(
                "{:?}",
                pb::SignInRequest {
                    username: "bob@contoso.example".into(),
                    password: s(),
                    tenant: String::new(),
                }
            ),
            &["bob@contoso.example", "SignInRequest"],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::SignInResponse {
                    session_token: s(),
                    session_kind: pb::SessionKind::PasswordChangeOnly as i32,
                    user_id: "u-1".into(),
                    ..Default::default()
                }
            ),
            &["PasswordChangeOnly", "u-1"],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::ChangePasswordRequest {
                    current_password: s(),
                    new_password: s(),
                }
            ),
            &["new_password"],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::ChangePasswordResponse {
                    session_token: s(),
                    session_kind: pb::SessionKind::RegistrationOnly as i32,
                    ..Default::default()
                }
            ),
            &["RegistrationOnly"],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::CompletePasswordResetRequest {
                    username: "bob@contoso.example".into(),
                    code: s(),
                    new_password: s(),
                    flow_id: s(),
                    ..Default::default()
                }
            ),
            &["bob@contoso.example"],
        );
        assert_hidden(
            format!("{:?}", pb::StartPasswordResetResponse { flow_id: s() }),
            &[],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::SendResetCodeRequest {
                    flow_id: s(),
                    address: "+12015550142".into(),
                }
            ),
            &["+12015550142"],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::VerifyResetCodeRequest {
                    flow_id: s(),
                    code: s(),
                }
            ),
            &[],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::AddVerificationMethodRequest {
                    kind: pb::VerificationMethodKind::Authenticator as i32,
                    address: String::new(),
                    current_password: s(),
                }
            ),
            &["Authenticator"],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::AddVerificationMethodResponse {
                    method_id: "m-1".into(),
                    otpauth_uri: format!("otpauth://totp/x?secret={SECRET}"),
                }
            ),
            &["m-1"],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::ConfirmVerificationMethodRequest {
                    method_id: "m-1".into(),
                    code: s(),
                }
            ),
            &["m-1"],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::ResetPasswordRequest {
                    user: Some(pb::UserRef::by_username("bob@contoso.example")),
                    password: s(),
                    require_change: Some(false),
                    delivery: pb::ResetDelivery::ShowOnce as i32,
                }
            ),
            &["bob@contoso.example", "ShowOnce", "Some(false)"],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::ResetPasswordResponse {
                    generated_password: s(),
                    revoked_sessions: 3,
                    ..Default::default()
                }
            ),
            &["revoked_sessions: 3"],
        );
        // Inside the stream's message, through the derived Debug of the oneof.
        assert_hidden(
            format!(
                "{:?}",
                pb::BulkResetPasswordsResponse {
                    event: Some(pb::bulk_reset_passwords_response::Event::Result(
                        pb::BulkResetResult {
                            user_ref: "username:bob@contoso.example".into(),
                            outcome: pb::BulkOutcome::Reset as i32,
                            generated_password: s(),
                            ..Default::default()
                        }
                    )),
                }
            ),
            &["bob@contoso.example", "Reset"],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::ResolveResetRequestResponse {
                    request: None,
                    generated_password: s(),
                    invitation_sent: false,
                }
            ),
            &[],
        );
        assert_hidden(
            format!(
                "{:?}",
                pb::CreateTenantResponse {
                    tenant: None,
                    admin_one_time_password: s(),
                }
            ),
            &["CreateTenantResponse"],
        );
    }

    #[test]
    fn an_empty_secret_shows_as_empty() {
        let printed = format!("{:?}", pb::ResetPasswordResponse::default());
        assert!(printed.contains("generated_password: \"\""), "{printed}");
    }
}
