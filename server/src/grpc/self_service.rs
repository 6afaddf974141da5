//! `gatehouse.v1.SelfService`.

use tonic::{Request, Response, Status};

use super::caller::caller;
use super::convert;
use super::pb::{self, self_service_server::SelfService};
use super::status::to_status;
use crate::domain::{Gatehouse, Password};

/// The SelfService handlers.
#[derive(Clone, Debug)]
pub struct SelfApi {
    core: Gatehouse,
}

impl SelfApi {
    /// Handlers over the domain service.
    pub fn new(core: Gatehouse) -> Self {
        SelfApi { core }
    }
}

#[tonic::async_trait]
impl SelfService for SelfApi {
    async fn sign_in(
        &self,
        request: Request<pb::SignInRequest>,
    ) -> Result<Response<pb::SignInResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let password = Password::new(req.password);
        let core = self.core.clone();
        // Detached: a caller who hangs up mid-hash must not leave a reserved lock-out
        // attempt behind (the count, the audit event and the lock are written after the hash).
        let signed_in = super::spawn_in_call(async move {
            core.sign_in(&caller, &req.username, &password, &req.tenant)
                .await
        })
        .await
        .map_err(|_| Status::internal("internal error"))?
        .map_err(to_status)?;
        Ok(Response::new(pb::SignInResponse {
            session_token: signed_in.token.expose().to_owned(),
            session_kind: convert::session_kind(signed_in.kind).into(),
            change_reason: convert::change_reason(signed_in.change_reason).into(),
            expire_time: Some(convert::timestamp(signed_in.expires_at)),
            user_id: signed_in.user_id.to_string(),
            registration: convert::registration(signed_in.registration),
        }))
    }

    async fn change_password(
        &self,
        request: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let current = Password::new(req.current_password);
        let new = Password::new(req.new_password);
        let core = self.core.clone();
        // Detached for the same reason as SignIn: it reserves a lock-out attempt.
        let changed =
            super::spawn_in_call(
                async move { core.change_password(&caller, &current, &new).await },
            )
            .await
            .map_err(|_| Status::internal("internal error"))?
            .map_err(to_status)?;
        Ok(Response::new(pb::ChangePasswordResponse {
            session_token: changed.token.expose().to_owned(),
            expire_time: Some(convert::timestamp(changed.expires_at)),
            session_kind: convert::session_kind(changed.kind).into(),
            registration: convert::registration(changed.registration),
        }))
    }

    async fn sign_out(
        &self,
        request: Request<pb::SignOutRequest>,
    ) -> Result<Response<pb::SignOutResponse>, Status> {
        let caller = caller(&request)?;
        self.core.sign_out(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::SignOutResponse {}))
    }

    async fn get_me(
        &self,
        request: Request<pb::GetMeRequest>,
    ) -> Result<Response<pb::GetMeResponse>, Status> {
        let caller = caller(&request)?;
        let (user, session, registration) = self.core.me(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::GetMeResponse {
            user: Some(convert::user(user)),
            session_kind: convert::session_kind(session.kind).into(),
            change_reason: convert::change_reason(session.change_reason).into(),
            session_expire_time: Some(convert::timestamp(session.expires_at)),
            registration: convert::registration(registration),
        }))
    }

    async fn complete_password_reset(
        &self,
        request: Request<pb::CompletePasswordResetRequest>,
    ) -> Result<Response<pb::CompletePasswordResetResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let code = Password::new(req.code);
        let new_password = Password::new(req.new_password);
        self.core
            .complete_password_reset(
                &caller,
                &req.username,
                &code,
                &new_password,
                &req.tenant,
                &req.flow_id,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CompletePasswordResetResponse {}))
    }

    async fn request_admin_help(
        &self,
        request: Request<pb::RequestAdminHelpRequest>,
    ) -> Result<Response<pb::RequestAdminHelpResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        self.core
            .request_admin_help(&caller, &req.username, &req.message, &req.tenant)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RequestAdminHelpResponse {}))
    }

    async fn add_verification_method(
        &self,
        request: Request<pb::AddVerificationMethodRequest>,
    ) -> Result<Response<pb::AddVerificationMethodResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let kind = convert::method_kind(req.kind)?;
        let current = Password::new(req.current_password);
        let core = self.core.clone();
        // Detached: it checks the current password under the lock-out.
        let added = super::spawn_in_call(async move {
            core.add_method(&caller, kind, &req.address, &current).await
        })
        .await
        .map_err(|_| Status::internal("internal error"))?
        .map_err(to_status)?;
        Ok(Response::new(pb::AddVerificationMethodResponse {
            method_id: added.id.to_string(),
            // The one place an authenticator secret leaves the server.
            otpauth_uri: added
                .otpauth_uri
                .map(|u| u.expose().to_owned())
                .unwrap_or_default(),
        }))
    }

    async fn confirm_verification_method(
        &self,
        request: Request<pb::ConfirmVerificationMethodRequest>,
    ) -> Result<Response<pb::ConfirmVerificationMethodResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let code = Password::new(req.code);
        let confirmed = self
            .core
            .confirm_method(&caller, &req.method_id, &code)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ConfirmVerificationMethodResponse {
            session_kind: convert::session_kind(confirmed.session_kind).into(),
            registration: convert::registration(confirmed.registration),
        }))
    }

    async fn send_verification_code(
        &self,
        request: Request<pb::SendVerificationCodeRequest>,
    ) -> Result<Response<pb::SendVerificationCodeResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        self.core
            .send_method_code(&caller, &req.method_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SendVerificationCodeResponse {}))
    }

    async fn snooze_registration(
        &self,
        request: Request<pb::SnoozeRegistrationRequest>,
    ) -> Result<Response<pb::SnoozeRegistrationResponse>, Status> {
        let caller = caller(&request)?;
        let (registration, kind) = self
            .core
            .snooze_registration(&caller)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SnoozeRegistrationResponse {
            registration: convert::registration(registration),
            session_kind: convert::session_kind(kind).into(),
        }))
    }

    async fn list_verification_methods(
        &self,
        request: Request<pb::ListVerificationMethodsRequest>,
    ) -> Result<Response<pb::ListVerificationMethodsResponse>, Status> {
        let caller = caller(&request)?;
        let methods = self.core.my_methods(&caller).await.map_err(to_status)?;
        Ok(Response::new(pb::ListVerificationMethodsResponse {
            methods: methods.into_iter().map(convert::method).collect(),
        }))
    }

    async fn remove_verification_method(
        &self,
        request: Request<pb::RemoveVerificationMethodRequest>,
    ) -> Result<Response<pb::RemoveVerificationMethodResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let current = Password::new(req.current_password);
        let core = self.core.clone();
        super::spawn_in_call(
            async move { core.remove_method(&caller, &req.method_id, &current).await },
        )
        .await
        .map_err(|_| Status::internal("internal error"))?
        .map_err(to_status)?;
        Ok(Response::new(pb::RemoveVerificationMethodResponse {}))
    }

    async fn start_password_reset(
        &self,
        request: Request<pb::StartPasswordResetRequest>,
    ) -> Result<Response<pb::StartPasswordResetResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let flow = self
            .core
            .start_reset(&caller, &req.username, &req.tenant)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::StartPasswordResetResponse {
            flow_id: flow.to_string(),
        }))
    }

    async fn send_reset_code(
        &self,
        request: Request<pb::SendResetCodeRequest>,
    ) -> Result<Response<pb::SendResetCodeResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        self.core
            .send_reset_code(&caller, &req.flow_id, &req.address)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::SendResetCodeResponse {}))
    }

    async fn verify_reset_code(
        &self,
        request: Request<pb::VerifyResetCodeRequest>,
    ) -> Result<Response<pb::VerifyResetCodeResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let code = Password::new(req.code);
        let status = self
            .core
            .verify_reset_code(&caller, &req.flow_id, &code)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::VerifyResetCodeResponse {
            methods_proved: i32::try_from(status.proved).unwrap_or(i32::MAX),
            methods_required: i32::try_from(status.required).unwrap_or(i32::MAX),
        }))
    }
}
