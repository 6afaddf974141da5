//! The common flows, with typed results: sign in, change a password, reset one user, stream
//! a bulk reset.

use std::pin::Pin;
use std::task::{Context, Poll};

use prost_types::Timestamp;

use crate::{CallError, Client, SessionToken, TemporaryPassword, pb};

/// A new session from [`Client::sign_in`].
#[derive(Debug)]
pub struct SignedIn {
    /// The bearer token; pass it to [`Client::with_session_token`].
    pub token: SessionToken,
    /// Full; change-only when the password must be changed first; registration-only when
    /// the tenant requires security info the person has not registered.
    pub kind: pb::SessionKind,
    /// Why the session is change-only.
    pub change_reason: pb::PasswordChangeReason,
    /// When the session ends.
    pub expire_time: Option<Timestamp>,
    /// The signed-in user's id.
    pub user_id: String,
    /// Where the person stands with the security info the tenant requires (set only when
    /// it requires registration).
    pub registration: Option<pb::RegistrationStatus>,
}

impl SignedIn {
    /// True when the session only allows changing the password (temporary, required,
    /// expired or compromised password): call [`Client::change_password`] with it.
    pub fn must_change_password(&self) -> bool {
        self.kind == pb::SessionKind::PasswordChangeOnly
    }

    /// True when the session only allows registering security info: add and confirm
    /// verification methods, or `SnoozeRegistration` while snoozes remain.
    pub fn must_register(&self) -> bool {
        self.kind == pb::SessionKind::RegistrationOnly
    }
}

/// A new session from [`Client::change_password`]; every earlier one was revoked.
#[derive(Debug)]
pub struct PasswordChanged {
    /// The bearer token of the new session.
    pub token: SessionToken,
    /// When it ends.
    pub expire_time: Option<Timestamp>,
    /// Full, or registration-only as at sign-in.
    pub kind: pb::SessionKind,
    /// As in [`SignedIn::registration`].
    pub registration: Option<pb::RegistrationStatus>,
}

/// The result of [`Client::reset_password`].
#[derive(Debug)]
pub struct PasswordReset {
    /// The generated password, shown only here; `None` for an invitation or a caller-chosen
    /// password.
    pub temporary_password: Option<TemporaryPassword>,
    /// Whether the user must change it at next sign-in.
    pub must_change: bool,
    /// When a temporary password stops working.
    pub expire_time: Option<Timestamp>,
    /// Sessions of the user that were revoked.
    pub revoked_sessions: i32,
    /// Whether an invitation was queued instead.
    pub invitation_sent: bool,
}

/// One user's result in a bulk reset.
#[derive(Debug)]
pub struct BulkItem {
    /// Position in the request.
    pub index: i32,
    /// The user as the request named them (`id:…` or `username:…`).
    pub user_ref: String,
    /// The user's id, when found.
    pub user_id: String,
    /// What happened.
    pub outcome: pb::BulkOutcome,
    /// For [`pb::BulkOutcome::Reset`]: the new temporary password, shown once.
    pub temporary_password: Option<TemporaryPassword>,
    /// When the temporary password stops working.
    pub expire_time: Option<Timestamp>,
    /// Why, for refusals, failures and earlier settlements.
    pub reason: String,
    /// Whether an invitation was queued.
    pub invitation_sent: bool,
    /// The same password an earlier, unacknowledged call with the key handed out.
    pub redelivered: bool,
}

/// One message of a bulk reset: a user's result, or the closing summary.
#[derive(Debug)]
pub enum BulkEvent {
    /// The first message: the job's id (for `GetBulkJob` and `AcknowledgeBulkResults`).
    Started(pb::BulkResetStarted),
    /// One user's result.
    Item(BulkItem),
    /// The totals; the last message.
    Summary(pb::BulkResetSummary),
}

/// The results of [`Client::bulk_reset`] as they arrive. A `futures_core::Stream`; or call
/// [`BulkResetStream::next_event`].
pub struct BulkResetStream {
    inner: tonic::Streaming<pb::BulkResetPasswordsResponse>,
}

impl std::fmt::Debug for BulkResetStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkResetStream").finish_non_exhaustive()
    }
}

impl BulkResetStream {
    /// The next result or the summary; `None` after the last message.
    pub async fn next_event(&mut self) -> Option<Result<BulkEvent, CallError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next_event(cx)).await
    }

    fn poll_next_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<BulkEvent, CallError>>> {
        loop {
            let message = match futures_core::Stream::poll_next(Pin::new(&mut self.inner), cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Ready(Some(Err(status))) => {
                    return Poll::Ready(Some(Err(CallError::from(status))));
                }
                Poll::Ready(Some(Ok(message))) => message,
            };
            use pb::bulk_reset_passwords_response::Event;
            let event = match message.event {
                Some(Event::Result(r)) => BulkEvent::Item(BulkItem {
                    index: r.index,
                    outcome: r.outcome(),
                    user_ref: r.user_ref,
                    user_id: r.user_id,
                    temporary_password: (!r.generated_password.is_empty())
                        .then(|| TemporaryPassword::new(r.generated_password)),
                    expire_time: r.expire_time,
                    reason: r.reason,
                    invitation_sent: r.invitation_sent,
                    redelivered: r.redelivered,
                }),
                Some(Event::Started(started)) => BulkEvent::Started(started),
                Some(Event::Summary(summary)) => BulkEvent::Summary(summary),
                // A message of a newer server this client does not know: skip it.
                None => continue,
            };
            return Poll::Ready(Some(Ok(event)));
        }
    }
}

impl futures_core::Stream for BulkResetStream {
    type Item = Result<BulkEvent, CallError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_event(cx)
    }
}

impl pb::UserRef {
    /// A user by id.
    pub fn by_id(id: impl Into<String>) -> pb::UserRef {
        pb::UserRef {
            kind: Some(pb::user_ref::Kind::Id(id.into())),
        }
    }

    /// A user by username.
    pub fn by_username(username: impl Into<String>) -> pb::UserRef {
        pb::UserRef {
            kind: Some(pb::user_ref::Kind::Username(username.into())),
        }
    }

    /// A username (it always holds an `@`) or else an id, as a person types either.
    pub fn from_name_or_id(text: &str) -> pb::UserRef {
        if text.contains('@') {
            Self::by_username(text)
        } else {
            Self::by_id(text)
        }
    }
}

impl Client {
    /// `SelfService/SignIn` in the tenant the username's domain names.
    pub async fn sign_in(&self, username: &str, password: &str) -> Result<SignedIn, CallError> {
        self.sign_in_with(pb::SignInRequest {
            username: username.to_owned(),
            password: password.to_owned(),
            ..Default::default()
        })
        .await
    }

    /// `SelfService/SignIn` with every field of the request (a tenant, say).
    pub async fn sign_in_with(&self, request: pb::SignInRequest) -> Result<SignedIn, CallError> {
        let response = self.calls().sign_in(request).await?;
        Ok(SignedIn {
            kind: response.session_kind(),
            change_reason: response.change_reason(),
            token: SessionToken::new(response.session_token),
            expire_time: response.expire_time,
            user_id: response.user_id,
            registration: response.registration,
        })
    }

    /// `SelfService/ChangePassword` with this client's session. A password the policy refuses
    /// is `INVALID_ARGUMENT` with one [`crate::FieldViolation`] per broken rule.
    pub async fn change_password(
        &self,
        current_password: &str,
        new_password: &str,
    ) -> Result<PasswordChanged, CallError> {
        let response = self
            .calls()
            .change_password(pb::ChangePasswordRequest {
                current_password: current_password.to_owned(),
                new_password: new_password.to_owned(),
            })
            .await?;
        Ok(PasswordChanged {
            kind: response.session_kind(),
            token: SessionToken::new(response.session_token),
            expire_time: response.expire_time,
            registration: response.registration,
        })
    }

    /// `SelfService/SignOut`: revokes this client's session.
    pub async fn sign_out(&self) -> Result<(), CallError> {
        self.calls().sign_out(pb::SignOutRequest {}).await?;
        Ok(())
    }

    /// `AdminService/ResetPassword` with a generated temporary password, shown once in the
    /// result.
    pub async fn reset_password(&self, user: pb::UserRef) -> Result<PasswordReset, CallError> {
        self.reset_password_with(pb::ResetPasswordRequest {
            user: Some(user),
            ..Default::default()
        })
        .await
    }

    /// `AdminService/ResetPassword` with every field of the request.
    pub async fn reset_password_with(
        &self,
        request: pb::ResetPasswordRequest,
    ) -> Result<PasswordReset, CallError> {
        let response = self.calls().reset_password(request).await?;
        Ok(PasswordReset {
            temporary_password: (!response.generated_password.is_empty())
                .then(|| TemporaryPassword::new(response.generated_password)),
            must_change: response.password_change_required,
            expire_time: response.expire_time,
            revoked_sessions: response.revoked_sessions,
            invitation_sent: response.invitation_sent,
        })
    }

    /// `AdminService/BulkResetPasswords`: one result per user as each completes, then the
    /// summary. Give the request an `idempotency_key`: after a cut stream, the same call
    /// with the same key continues where the first stopped and resets nobody twice.
    pub async fn bulk_reset(
        &self,
        request: pb::BulkResetPasswordsRequest,
    ) -> Result<BulkResetStream, CallError> {
        let inner = self
            .retry
            .run("/gatehouse.v1.AdminService/BulkResetPasswords", || {
                let mut stub = self.admin();
                let request = request.clone();
                async move { stub.bulk_reset_passwords(request).await }
            })
            .await?
            .into_inner();
        Ok(BulkResetStream { inner })
    }
}
