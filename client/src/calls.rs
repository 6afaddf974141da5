//! Every unary RPC with a typed error and the retry policy.

use crate::{CallError, Client, pb};

/// The unary RPCs of both services, each returning the response message or a
/// [`CallError`], and retried per the client's [`crate::RetryPolicy`] only when that is safe
/// (see [`crate::retry`]). Get one from [`Client::calls`].
#[derive(Clone, Copy, Debug)]
pub struct Calls<'a> {
    client: &'a Client,
}

impl Client {
    /// The unary RPCs with a typed error and safe retries.
    pub fn calls(&self) -> Calls<'_> {
        Calls { client: self }
    }
}

macro_rules! unary {
    ($stub:ident, $service:literal: $($method:literal $name:ident($request:ident) -> $response:ident;)*) => {
        impl Calls<'_> {
            $(
                #[doc = concat!("`", $service, "/", $method, "`.")]
                pub async fn $name(&self, request: pb::$request) -> Result<pb::$response, CallError> {
                    let path = concat!("/gatehouse.v1.", $service, "/", $method);
                    self.client
                        .retry
                        .run(path, || {
                            let mut stub = self.client.$stub();
                            let request = request.clone();
                            async move { stub.$name(request).await }
                        })
                        .await
                        .map(tonic::Response::into_inner)
                        .map_err(CallError::from)
                }
            )*
        }
    };
}

unary!(admin, "AdminService":
    "CreateUser" create_user(CreateUserRequest) -> CreateUserResponse;
    "GetUser" get_user(GetUserRequest) -> GetUserResponse;
    "ListUsers" list_users(ListUsersRequest) -> ListUsersResponse;
    "UpdateUser" update_user(UpdateUserRequest) -> UpdateUserResponse;
    "DeleteUser" delete_user(DeleteUserRequest) -> DeleteUserResponse;
    "ResetPassword" reset_password(ResetPasswordRequest) -> ResetPasswordResponse;
    "AssignRole" assign_role(AssignRoleRequest) -> AssignRoleResponse;
    "RevokeRole" revoke_role(RevokeRoleRequest) -> RevokeRoleResponse;
    "ListRoleAssignments" list_role_assignments(ListRoleAssignmentsRequest) -> ListRoleAssignmentsResponse;
    "GetPasswordPolicy" get_password_policy(GetPasswordPolicyRequest) -> GetPasswordPolicyResponse;
    "UpdatePasswordPolicy" update_password_policy(UpdatePasswordPolicyRequest) -> UpdatePasswordPolicyResponse;
    "RequirePasswordChange" require_password_change(RequirePasswordChangeRequest) -> RequirePasswordChangeResponse;
    "BlockSignIn" block_sign_in(BlockSignInRequest) -> BlockSignInResponse;
    "UnblockSignIn" unblock_sign_in(UnblockSignInRequest) -> UnblockSignInResponse;
    "UnlockUser" unlock_user(UnlockUserRequest) -> UnlockUserResponse;
    "RevokeSessions" revoke_sessions(RevokeSessionsRequest) -> RevokeSessionsResponse;
    "CanReset" can_reset(CanResetRequest) -> CanResetResponse;
    "ListAuditEvents" list_audit_events(ListAuditEventsRequest) -> ListAuditEventsResponse;
    "VerifyAuditChain" verify_audit_chain(VerifyAuditChainRequest) -> VerifyAuditChainResponse;
    "GetBulkJob" get_bulk_job(GetBulkJobRequest) -> GetBulkJobResponse;
    "AcknowledgeBulkResults" acknowledge_bulk_results(AcknowledgeBulkResultsRequest) -> AcknowledgeBulkResultsResponse;
    "ListResetRequests" list_reset_requests(ListResetRequestsRequest) -> ListResetRequestsResponse;
    "ResolveResetRequest" resolve_reset_request(ResolveResetRequestRequest) -> ResolveResetRequestResponse;
    "ListUserVerificationMethods" list_user_verification_methods(ListUserVerificationMethodsRequest) -> ListUserVerificationMethodsResponse;
    "ClearVerificationMethods" clear_verification_methods(ClearVerificationMethodsRequest) -> ClearVerificationMethodsResponse;
    "CreateTenant" create_tenant(CreateTenantRequest) -> CreateTenantResponse;
    "ListTenants" list_tenants(ListTenantsRequest) -> ListTenantsResponse;
    "CreateAdministrativeUnit" create_administrative_unit(CreateAdministrativeUnitRequest) -> CreateAdministrativeUnitResponse;
    "UpdateAdministrativeUnit" update_administrative_unit(UpdateAdministrativeUnitRequest) -> UpdateAdministrativeUnitResponse;
    "DeleteAdministrativeUnit" delete_administrative_unit(DeleteAdministrativeUnitRequest) -> DeleteAdministrativeUnitResponse;
    "ListAdministrativeUnits" list_administrative_units(ListAdministrativeUnitsRequest) -> ListAdministrativeUnitsResponse;
    "AddUnitMembers" add_unit_members(AddUnitMembersRequest) -> AddUnitMembersResponse;
    "RemoveUnitMembers" remove_unit_members(RemoveUnitMembersRequest) -> RemoveUnitMembersResponse;
    "ListUnitMembers" list_unit_members(ListUnitMembersRequest) -> ListUnitMembersResponse;
    "GetPasswordActivityReport" get_password_activity_report(GetPasswordActivityReportRequest) -> GetPasswordActivityReportResponse;
    "SendRegistrationReminders" send_registration_reminders(SendRegistrationRemindersRequest) -> SendRegistrationRemindersResponse;
);

unary!(self_service, "SelfService":
    "SignIn" sign_in(SignInRequest) -> SignInResponse;
    "ChangePassword" change_password(ChangePasswordRequest) -> ChangePasswordResponse;
    "SignOut" sign_out(SignOutRequest) -> SignOutResponse;
    "GetMe" get_me(GetMeRequest) -> GetMeResponse;
    "StartPasswordReset" start_password_reset(StartPasswordResetRequest) -> StartPasswordResetResponse;
    "SendResetCode" send_reset_code(SendResetCodeRequest) -> SendResetCodeResponse;
    "VerifyResetCode" verify_reset_code(VerifyResetCodeRequest) -> VerifyResetCodeResponse;
    "CompletePasswordReset" complete_password_reset(CompletePasswordResetRequest) -> CompletePasswordResetResponse;
    "RequestAdminHelp" request_admin_help(RequestAdminHelpRequest) -> RequestAdminHelpResponse;
    "AddVerificationMethod" add_verification_method(AddVerificationMethodRequest) -> AddVerificationMethodResponse;
    "ConfirmVerificationMethod" confirm_verification_method(ConfirmVerificationMethodRequest) -> ConfirmVerificationMethodResponse;
    "ListVerificationMethods" list_verification_methods(ListVerificationMethodsRequest) -> ListVerificationMethodsResponse;
    "RemoveVerificationMethod" remove_verification_method(RemoveVerificationMethodRequest) -> RemoveVerificationMethodResponse;
    "SendVerificationCode" send_verification_code(SendVerificationCodeRequest) -> SendVerificationCodeResponse;
    "SnoozeRegistration" snooze_registration(SnoozeRegistrationRequest) -> SnoozeRegistrationResponse;
);

#[cfg(test)]
mod tests {
    /// Every unary RPC of the proto has its method here (the streaming one is
    /// `Client::bulk_reset`), so a new RPC cannot be forgotten.
    #[test]
    fn every_unary_rpc_of_the_proto_has_a_typed_method() {
        let source = include_str!("calls.rs");
        for proto in [
            include_str!("../../proto/gatehouse/v1/admin.proto"),
            include_str!("../../proto/gatehouse/v1/self_service.proto"),
        ] {
            for line in proto.lines().map(str::trim) {
                let Some(rest) = line.strip_prefix("rpc ") else {
                    continue;
                };
                if line.contains("returns (stream") {
                    continue;
                }
                let name = rest.split('(').next().unwrap_or_default().trim();
                assert!(
                    source.contains(&format!("\"{name}\" ")),
                    "{name} has no method in calls.rs"
                );
            }
        }
    }
}
