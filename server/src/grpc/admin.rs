//! `gatehouse.v1.AdminService`.

use tonic::{Request, Response, Status};
use tracing::instrument;

use super::caller::caller;
use super::convert;
use super::pb::{self, admin_service_server::AdminService};
use super::status::to_status;
use crate::domain::{Actor, Gatehouse, NewUser, Password, ResetOptions, UserChanges};

/// The AdminService handlers.
#[derive(Clone, Debug)]
pub struct AdminApi {
    core: Gatehouse,
}

impl AdminApi {
    /// Handlers over the domain service.
    pub fn new(core: Gatehouse) -> Self {
        AdminApi { core }
    }

    async fn actor<T>(&self, request: &Request<T>) -> Result<Actor, Status> {
        let caller = caller(request)?;
        self.core.admin(&caller).await.map_err(to_status)
    }
}

#[tonic::async_trait]
impl AdminService for AdminApi {
    #[instrument(skip_all)]
    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::CreateUserResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let user = self
            .core
            .create_user(
                &actor,
                NewUser {
                    username: req.username,
                    display_name: req.display_name,
                    contact_email: req.contact_email,
                },
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateUserResponse {
            user: Some(convert::user(user)),
        }))
    }

    #[instrument(skip_all)]
    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::GetUserResponse>, Status> {
        let actor = self.actor(&request).await?;
        let key = convert::user_key("user", request.into_inner().user)?;
        let user = self.core.get_user(&actor, key).await.map_err(to_status)?;
        Ok(Response::new(pb::GetUserResponse {
            user: Some(convert::user(user)),
        }))
    }

    #[instrument(skip_all)]
    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let state = convert::state_filter(req.state)?;
        let page = self
            .core
            .list_users(&actor, state, req.page_size, &req.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListUsersResponse {
            users: page.users.into_iter().map(convert::user).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    #[instrument(skip_all)]
    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::UpdateUserResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let changes = UserChanges {
            username: req.username,
            display_name: req.display_name,
            contact_email: req.contact_email,
        };
        let user = self
            .core
            .update_user(&actor, &req.id, req.version, changes)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateUserResponse {
            user: Some(convert::user(user)),
        }))
    }

    #[instrument(skip_all)]
    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        self.core
            .delete_user(&actor, &req.id, req.version)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DeleteUserResponse {}))
    }

    #[instrument(skip_all)]
    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let key = convert::user_key("user", req.user)?;
        let options = ResetOptions {
            password: (!req.password.is_empty()).then(|| Password::new(req.password)),
            require_change: req.require_change.unwrap_or(true),
        };
        let outcome = self
            .core
            .reset_password(&actor, key, options)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ResetPasswordResponse {
            // The one place a generated password leaves the server.
            generated_password: outcome
                .generated
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
            password_change_required: outcome.change_required,
            expire_time: outcome.expires_at.map(convert::timestamp),
            revoked_sessions: i32::try_from(outcome.revoked_sessions).unwrap_or(i32::MAX),
        }))
    }

    #[instrument(skip_all)]
    async fn assign_role(
        &self,
        request: Request<pb::AssignRoleRequest>,
    ) -> Result<Response<pb::AssignRoleResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let principal = convert::principal_from("principal", req.principal)?;
        let role = convert::role_from("role", req.role)?;
        let assignment = self
            .core
            .assign_role(&actor, principal, role)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AssignRoleResponse {
            assignment: Some(convert::assignment(assignment)),
        }))
    }

    #[instrument(skip_all)]
    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Result<Response<pb::RevokeRoleResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let principal = convert::principal_from("principal", req.principal)?;
        let role = convert::role_from("role", req.role)?;
        self.core
            .revoke_role(&actor, principal, role)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RevokeRoleResponse {}))
    }

    #[instrument(skip_all)]
    async fn list_role_assignments(
        &self,
        request: Request<pb::ListRoleAssignmentsRequest>,
    ) -> Result<Response<pb::ListRoleAssignmentsResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let principal = req
            .principal
            .map(|p| convert::principal_from("principal", Some(p)))
            .transpose()?;
        let role = match req.role {
            0 => None,
            value => Some(convert::role_from("role", value)?),
        };
        let page = self
            .core
            .list_roles(&actor, principal, role, req.page_size, &req.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListRoleAssignmentsResponse {
            assignments: page
                .assignments
                .into_iter()
                .map(convert::assignment)
                .collect(),
            next_page_token: page.next_page_token,
        }))
    }
}
