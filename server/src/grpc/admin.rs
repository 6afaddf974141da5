//! `gatehouse.v1.AdminService`.

use tonic::{Request, Response, Status};

use super::caller::caller;
use super::convert;
use super::pb::{self, admin_service_server::AdminService};
use super::status::to_status;
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use crate::domain::{
    Actor, AuditEvent, AuditQuery, BulkRequest, BulkTargets, Error, Gatehouse, NewUser, Password,
    RequestState, ResetOptions, Resolution, UserChanges, WatchStart,
};

/// Audit events a watch holds for a slow watcher before it stops reading the database.
const WATCH_BUFFER: usize = 256;

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

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let state = convert::state_filter(req.state)?;
        let registration = convert::registration_filter(req.registration_state)?;
        let page = self
            .core
            .list_users(
                &actor,
                state,
                convert::given(&req.unit_id),
                registration,
                req.page_size,
                &req.page_token,
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListUsersResponse {
            users: page.users.into_iter().map(convert::user).collect(),
            next_page_token: page.next_page_token,
        }))
    }

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
            password_never_expires: req.password_never_expires,
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

    async fn reset_password(
        &self,
        request: Request<pb::ResetPasswordRequest>,
    ) -> Result<Response<pb::ResetPasswordResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let key = convert::user_key("user", req.user)?;
        let invite = match pb::ResetDelivery::try_from(req.delivery) {
            Ok(pb::ResetDelivery::Unspecified | pb::ResetDelivery::ShowOnce) => false,
            Ok(pb::ResetDelivery::Invitation) => true,
            Err(_) => return Err(convert::invalid("delivery", "unknown delivery")),
        };
        let options = ResetOptions {
            password: (!req.password.is_empty()).then(|| Password::new(req.password)),
            require_change: req.require_change.unwrap_or(true),
            invite,
            settles: None,
        };
        let outcome = self
            .core
            .reset_password(&actor, key, options)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ResetPasswordResponse {
            // One of the two places a generated password leaves the server (the other is the
            // bulk reset stream): shown once, to the administrator who asked.
            generated_password: outcome
                .generated
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
            password_change_required: outcome.change_required,
            expire_time: outcome.expires_at.map(convert::timestamp),
            revoked_sessions: i32::try_from(outcome.revoked_sessions).unwrap_or(i32::MAX),
            invitation_sent: outcome.invitation_sent,
        }))
    }

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
            .assign_role(&actor, principal, role, convert::given(&req.unit_id))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AssignRoleResponse {
            assignment: Some(convert::assignment(assignment)),
        }))
    }

    async fn revoke_role(
        &self,
        request: Request<pb::RevokeRoleRequest>,
    ) -> Result<Response<pb::RevokeRoleResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let principal = convert::principal_from("principal", req.principal)?;
        let role = convert::role_from("role", req.role)?;
        self.core
            .revoke_role(&actor, principal, role, convert::given(&req.unit_id))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RevokeRoleResponse {}))
    }

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
            .list_roles(
                &actor,
                principal,
                role,
                convert::given(&req.unit_id),
                req.page_size,
                &req.page_token,
            )
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

    async fn get_password_policy(
        &self,
        request: Request<pb::GetPasswordPolicyRequest>,
    ) -> Result<Response<pb::GetPasswordPolicyResponse>, Status> {
        let actor = self.actor(&request).await?;
        let policy = self.core.get_policy(&actor).await.map_err(to_status)?;
        Ok(Response::new(pb::GetPasswordPolicyResponse {
            policy: Some(convert::policy(policy)),
        }))
    }

    async fn update_password_policy(
        &self,
        request: Request<pb::UpdatePasswordPolicyRequest>,
    ) -> Result<Response<pb::UpdatePasswordPolicyResponse>, Status> {
        let actor = self.actor(&request).await?;
        let update = request
            .into_inner()
            .update
            .ok_or_else(|| convert::invalid("update", "required: the settings to change"))?;
        let policy = self
            .core
            .update_policy(&actor, convert::policy_update(update))
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdatePasswordPolicyResponse {
            policy: Some(convert::policy(policy)),
        }))
    }

    async fn require_password_change(
        &self,
        request: Request<pb::RequirePasswordChangeRequest>,
    ) -> Result<Response<pb::RequirePasswordChangeResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let done = self
            .core
            .require_password_change(&actor, &req.user_ids, req.all_users, req.revoke_sessions)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RequirePasswordChangeResponse {
            affected_users: convert::count(done.affected),
            skipped_users: convert::count(done.skipped),
            revoked_sessions: convert::count(done.revoked_sessions),
        }))
    }

    async fn block_sign_in(
        &self,
        request: Request<pb::BlockSignInRequest>,
    ) -> Result<Response<pb::BlockSignInResponse>, Status> {
        let actor = self.actor(&request).await?;
        let key = convert::user_key("user", request.into_inner().user)?;
        let (user, revoked) = self
            .core
            .block_sign_in(&actor, key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::BlockSignInResponse {
            user: Some(convert::user(user)),
            revoked_sessions: i32::try_from(revoked).unwrap_or(i32::MAX),
        }))
    }

    async fn unblock_sign_in(
        &self,
        request: Request<pb::UnblockSignInRequest>,
    ) -> Result<Response<pb::UnblockSignInResponse>, Status> {
        let actor = self.actor(&request).await?;
        let key = convert::user_key("user", request.into_inner().user)?;
        let user = self
            .core
            .unblock_sign_in(&actor, key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UnblockSignInResponse {
            user: Some(convert::user(user)),
        }))
    }

    async fn unlock_user(
        &self,
        request: Request<pb::UnlockUserRequest>,
    ) -> Result<Response<pb::UnlockUserResponse>, Status> {
        let actor = self.actor(&request).await?;
        let key = convert::user_key("user", request.into_inner().user)?;
        let was_locked = self
            .core
            .unlock_user(&actor, key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UnlockUserResponse { was_locked }))
    }

    async fn revoke_sessions(
        &self,
        request: Request<pb::RevokeSessionsRequest>,
    ) -> Result<Response<pb::RevokeSessionsResponse>, Status> {
        let actor = self.actor(&request).await?;
        let key = convert::user_key("user", request.into_inner().user)?;
        let revoked = self
            .core
            .revoke_sessions(&actor, key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RevokeSessionsResponse {
            revoked_sessions: i32::try_from(revoked).unwrap_or(i32::MAX),
        }))
    }

    async fn can_reset(
        &self,
        request: Request<pb::CanResetRequest>,
    ) -> Result<Response<pb::CanResetResponse>, Status> {
        let actor = self.actor(&request).await?;
        let key = convert::user_key("user", request.into_inner().user)?;
        let verdict = self.core.can_reset(&actor, key).await.map_err(to_status)?;
        Ok(Response::new(match verdict {
            Ok(unit) => pb::CanResetResponse {
                allowed: true,
                reason: String::new(),
                unit_id: unit.as_ref().map(|u| u.id.to_string()).unwrap_or_default(),
                unit_name: unit.map(|u| u.name).unwrap_or_default(),
            },
            Err(reason) => pb::CanResetResponse {
                allowed: false,
                reason,
                ..Default::default()
            },
        }))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let query = AuditQuery {
            actor: req.actor,
            target: req.target,
            action: req.action,
            start: req
                .start_time
                .map(|t| convert::time("start_time", t))
                .transpose()?,
            end: req
                .end_time
                .map(|t| convert::time("end_time", t))
                .transpose()?,
        };
        let page = self
            .core
            .list_audit(&actor, query, req.page_size, &req.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: page.events.into_iter().map(convert::audit_event).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn verify_audit_chain(
        &self,
        request: Request<pb::VerifyAuditChainRequest>,
    ) -> Result<Response<pb::VerifyAuditChainResponse>, Status> {
        let actor = self.actor(&request).await?;
        let report = self
            .core
            .verify_audit_chain(&actor)
            .await
            .map_err(to_status)?;
        let (first_broken_sequence, problem) = report.broken.clone().unwrap_or_default();
        Ok(Response::new(pb::VerifyAuditChainResponse {
            intact: report.broken.is_none(),
            checked_events: convert::count(report.checked),
            first_broken_sequence,
            problem,
            removed_through_sequence: report.removed_through,
        }))
    }

    type WatchAuditEventsStream = tokio_stream::adapters::Map<
        ReceiverStream<Result<AuditEvent, Error>>,
        fn(Result<AuditEvent, Error>) -> Result<pb::WatchAuditEventsResponse, Status>,
    >;

    async fn watch_audit_events(
        &self,
        request: Request<pb::WatchAuditEventsRequest>,
    ) -> Result<Response<Self::WatchAuditEventsStream>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let start = if req.from_now {
            WatchStart::Now
        } else {
            WatchStart::After(req.after_sequence)
        };
        let (_, after) = self
            .core
            .start_audit_watch(&caller, start)
            .await
            .map_err(to_status)?;
        let (events, events_rx) = mpsc::channel(WATCH_BUFFER);
        let core = self.core.clone();
        super::spawn_in_call(async move { core.watch_audit(&caller, after, events).await });
        fn response(
            event: Result<AuditEvent, Error>,
        ) -> Result<pb::WatchAuditEventsResponse, Status> {
            event
                .map(|e| pb::WatchAuditEventsResponse {
                    event: Some(convert::audit_event(e)),
                })
                .map_err(to_status)
        }
        Ok(Response::new(
            ReceiverStream::new(events_rx).map(response as fn(_) -> _),
        ))
    }

    type BulkResetPasswordsStream = ReceiverStream<Result<pb::BulkResetPasswordsResponse, Status>>;

    async fn bulk_reset_passwords(
        &self,
        request: Request<pb::BulkResetPasswordsRequest>,
    ) -> Result<Response<Self::BulkResetPasswordsStream>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let targets = match (req.all_users, req.users.is_empty()) {
            (true, true) => BulkTargets::All(convert::state_filter(req.state)?),
            (false, false) => BulkTargets::Users(
                req.users
                    .into_iter()
                    .enumerate()
                    .map(|(i, user)| convert::user_key(&format!("users[{i}]"), Some(user)))
                    .collect::<Result<_, _>>()?,
            ),
            _ => {
                return Err(convert::invalid(
                    "users",
                    "list users or set all_users, not both and not neither",
                ));
            }
        };
        let bulk = BulkRequest {
            targets,
            require_change: req.require_change.unwrap_or(true),
            idempotency_key: (!req.idempotency_key.is_empty()).then_some(req.idempotency_key),
            dry_run: req.dry_run,
            invite: match pb::ResetDelivery::try_from(req.delivery) {
                Ok(pb::ResetDelivery::Unspecified | pb::ResetDelivery::ShowOnce) => false,
                Ok(pb::ResetDelivery::Invitation) => true,
                Err(_) => return Err(convert::invalid("delivery", "unknown delivery")),
            },
        };
        // Small: when the caller hangs up, few users are reset whose passwords nobody reads.
        let (events, mut domain_rx) = mpsc::channel(4);
        let (out, out_rx) = mpsc::channel(64);
        let core = self.core.clone();
        let failures = out.clone();
        super::spawn_in_call(async move {
            if let Err(e) = core.bulk_reset(&actor, bulk, events).await {
                let _ = failures.send(Err(to_status(e))).await;
            }
        });
        super::spawn_in_call(async move {
            while let Some(event) = domain_rx.recv().await {
                if out.send(Ok(convert::bulk_event(event))).await.is_err() {
                    // The caller hung up; dropping the receiver tells the job to stop.
                    break;
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(out_rx)))
    }

    async fn get_bulk_job(
        &self,
        request: Request<pb::GetBulkJobRequest>,
    ) -> Result<Response<pb::GetBulkJobResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let job = self
            .core
            .bulk_job(&actor, &req.job_id, req.page_size, &req.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::bulk_job(job)))
    }

    async fn acknowledge_bulk_results(
        &self,
        request: Request<pb::AcknowledgeBulkResultsRequest>,
    ) -> Result<Response<pb::AcknowledgeBulkResultsResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let erased = self
            .core
            .acknowledge_bulk_results(&actor, &req.job_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AcknowledgeBulkResultsResponse {
            passwords_erased: i32::try_from(erased).unwrap_or(i32::MAX),
        }))
    }

    async fn list_reset_requests(
        &self,
        request: Request<pb::ListResetRequestsRequest>,
    ) -> Result<Response<pb::ListResetRequestsResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let state = match pb::ResetRequestState::try_from(req.state) {
            Ok(pb::ResetRequestState::Unspecified) => None,
            Ok(pb::ResetRequestState::Open) => Some(RequestState::Open),
            Ok(pb::ResetRequestState::Completed) => Some(RequestState::Completed),
            Ok(pb::ResetRequestState::Dismissed) => Some(RequestState::Dismissed),
            Err(_) => return Err(convert::invalid("state", "unknown state")),
        };
        let (requests, next_page_token) = self
            .core
            .list_requests(&actor, state, req.page_size, &req.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListResetRequestsResponse {
            requests: requests.into_iter().map(convert::help_request).collect(),
            next_page_token,
        }))
    }

    async fn resolve_reset_request(
        &self,
        request: Request<pb::ResolveResetRequestRequest>,
    ) -> Result<Response<pb::ResolveResetRequestResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let resolution = match pb::ResetResolution::try_from(req.resolution) {
            Ok(pb::ResetResolution::TemporaryPassword) => Resolution::TemporaryPassword,
            Ok(pb::ResetResolution::SendInvitation) => Resolution::SendInvitation,
            Ok(pb::ResetResolution::Dismiss) => Resolution::Dismiss,
            Ok(pb::ResetResolution::Unspecified) | Err(_) => {
                return Err(convert::invalid(
                    "resolution",
                    "choose TEMPORARY_PASSWORD, SEND_INVITATION or DISMISS",
                ));
            }
        };
        let resolved = self
            .core
            .resolve_request(&actor, &req.request_id, resolution, &req.comment)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ResolveResetRequestResponse {
            request: Some(convert::help_request(resolved.request)),
            // Shown once, to the administrator who resolved the request.
            generated_password: resolved
                .generated
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
            invitation_sent: resolved.invitation_sent,
        }))
    }

    async fn list_user_verification_methods(
        &self,
        request: Request<pb::ListUserVerificationMethodsRequest>,
    ) -> Result<Response<pb::ListUserVerificationMethodsResponse>, Status> {
        let actor = self.actor(&request).await?;
        let key = convert::user_key("user", request.into_inner().user)?;
        let methods = self
            .core
            .user_methods(&actor, key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListUserVerificationMethodsResponse {
            methods: methods.into_iter().map(convert::method).collect(),
        }))
    }

    async fn clear_verification_methods(
        &self,
        request: Request<pb::ClearVerificationMethodsRequest>,
    ) -> Result<Response<pb::ClearVerificationMethodsResponse>, Status> {
        let actor = self.actor(&request).await?;
        let key = convert::user_key("user", request.into_inner().user)?;
        let cleared = self
            .core
            .clear_methods(&actor, key)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ClearVerificationMethodsResponse {
            cleared: i32::try_from(cleared).unwrap_or(i32::MAX),
        }))
    }

    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::CreateTenantResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let created = self
            .core
            .create_tenant_as(&actor, &req.name, &req.primary_domain, &req.admin_username)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateTenantResponse {
            tenant: Some(convert::tenant(created.tenant)),
            admin_one_time_password: created.admin_password.expose().to_owned(),
        }))
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let actor = self.actor(&request).await?;
        let tenants = self.core.list_tenants(&actor).await.map_err(to_status)?;
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: tenants.into_iter().map(convert::tenant).collect(),
        }))
    }

    async fn create_administrative_unit(
        &self,
        request: Request<pb::CreateAdministrativeUnitRequest>,
    ) -> Result<Response<pb::CreateAdministrativeUnitResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let unit = self
            .core
            .create_unit(&actor, &req.name, &req.description)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::CreateAdministrativeUnitResponse {
            unit: Some(convert::unit(unit)),
        }))
    }

    async fn update_administrative_unit(
        &self,
        request: Request<pb::UpdateAdministrativeUnitRequest>,
    ) -> Result<Response<pb::UpdateAdministrativeUnitResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let unit = self
            .core
            .update_unit(
                &actor,
                &req.unit_id,
                req.version,
                req.name.as_deref(),
                req.description.as_deref(),
            )
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::UpdateAdministrativeUnitResponse {
            unit: Some(convert::unit(unit)),
        }))
    }

    async fn delete_administrative_unit(
        &self,
        request: Request<pb::DeleteAdministrativeUnitRequest>,
    ) -> Result<Response<pb::DeleteAdministrativeUnitResponse>, Status> {
        let actor = self.actor(&request).await?;
        let revoked = self
            .core
            .delete_unit(&actor, &request.into_inner().unit_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::DeleteAdministrativeUnitResponse {
            revoked_assignments: convert::count(revoked),
        }))
    }

    async fn list_administrative_units(
        &self,
        request: Request<pb::ListAdministrativeUnitsRequest>,
    ) -> Result<Response<pb::ListAdministrativeUnitsResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let page = self
            .core
            .list_units(&actor, req.page_size, &req.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListAdministrativeUnitsResponse {
            units: page.units.into_iter().map(convert::unit).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn add_unit_members(
        &self,
        request: Request<pb::AddUnitMembersRequest>,
    ) -> Result<Response<pb::AddUnitMembersResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let change = self
            .core
            .add_unit_members(&actor, &req.unit_id, &req.user_ids)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::AddUnitMembersResponse {
            added: convert::count(change.changed),
            already_members: convert::count(change.unchanged),
        }))
    }

    async fn remove_unit_members(
        &self,
        request: Request<pb::RemoveUnitMembersRequest>,
    ) -> Result<Response<pb::RemoveUnitMembersResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let change = self
            .core
            .remove_unit_members(&actor, &req.unit_id, &req.user_ids)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::RemoveUnitMembersResponse {
            removed: convert::count(change.changed),
            not_members: convert::count(change.unchanged),
        }))
    }

    async fn list_unit_members(
        &self,
        request: Request<pb::ListUnitMembersRequest>,
    ) -> Result<Response<pb::ListUnitMembersResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let page = self
            .core
            .list_unit_members(&actor, &req.unit_id, req.page_size, &req.page_token)
            .await
            .map_err(to_status)?;
        Ok(Response::new(pb::ListUnitMembersResponse {
            users: page.users.into_iter().map(convert::user).collect(),
            next_page_token: page.next_page_token,
        }))
    }

    async fn get_password_activity_report(
        &self,
        request: Request<pb::GetPasswordActivityReportRequest>,
    ) -> Result<Response<pb::GetPasswordActivityReportResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let query = convert::report_query(&req)?;
        let report = self
            .core
            .password_activity_report(&actor, query)
            .await
            .map_err(to_status)?;
        Ok(Response::new(convert::report(report)))
    }

    async fn send_registration_reminders(
        &self,
        request: Request<pb::SendRegistrationRemindersRequest>,
    ) -> Result<Response<pb::SendRegistrationRemindersResponse>, Status> {
        let actor = self.actor(&request).await?;
        let req = request.into_inner();
        let done = self
            .core
            .send_registration_reminders(
                &actor,
                convert::given(&req.unit_id),
                req.include_reconfirm_due,
                req.validate_only,
            )
            .await
            .map_err(to_status)?;
        let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(Response::new(pb::SendRegistrationRemindersResponse {
            reminded: count(done.reminded),
            recently_reminded: count(done.recently_reminded),
        }))
    }
}
