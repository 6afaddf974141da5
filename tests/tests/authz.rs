//! Every AdminService RPC called by every kind of caller, checked against the role matrix:
//! each role, a user without a role, a change-only session, the admin of another tenant, a
//! service principal with a role and one without (no session at all). Then the scope
//! dimension: a `password_admin` and a `user_admin` scoped to an administrative unit, each
//! against a member of the unit, a non-member, and a member holding a role.

use std::time::Duration;

use gatehouse::domain::{Gatehouse, HashSettings, Hasher, SecretKey, Settings};
use gatehouse::store::Store;
use gatehouse_client::{Client, pb};
use gatehouse_tests::{ADMIN_PASSWORD, Backend, TestServer, USER_PASSWORD, backend_tests, user_id};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair};
use tonic::{Code, Status};

backend_tests!(
    every_admin_rpc_follows_the_role_matrix_for_every_kind_of_caller,
    every_admin_rpc_follows_the_unit_scope_of_a_scoped_admin,
);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    GlobalAdmin,
    UserAdmin,
    PasswordAdmin,
    Auditor,
    PlainUser,
    ChangeOnly,
    OtherTenantAdmin,
    ServiceWithRole,
    NoSession,
}

const CALLERS: [Caller; 9] = [
    Caller::GlobalAdmin,
    Caller::UserAdmin,
    Caller::PasswordAdmin,
    Caller::Auditor,
    Caller::PlainUser,
    Caller::ChangeOnly,
    Caller::OtherTenantAdmin,
    Caller::ServiceWithRole,
    Caller::NoSession,
];

#[derive(Clone, Copy, Debug)]
enum Rpc {
    CreateUser,
    GetUser,
    ListUsers,
    UpdateUser,
    DeleteUser,
    ResetPassword,
    AssignRole,
    RevokeRole,
    ListRoleAssignments,
    GetPasswordPolicy,
    UpdatePasswordPolicy,
    RequirePasswordChange,
    BlockSignIn,
    UnblockSignIn,
    UnlockUser,
    RevokeSessions,
    CanReset,
    ListAuditEvents,
    VerifyAuditChain,
    WatchAuditEvents,
    BulkResetPasswords,
    GetBulkJob,
    AcknowledgeBulkResults,
    ListResetRequests,
    ResolveResetRequest,
    ListUserVerificationMethods,
    ClearVerificationMethods,
    CreateTenant,
    ListTenants,
    CreateAdministrativeUnit,
    UpdateAdministrativeUnit,
    DeleteAdministrativeUnit,
    ListAdministrativeUnits,
    AddUnitMembers,
    RemoveUnitMembers,
    ListUnitMembers,
    GetPasswordActivityReport,
    SendRegistrationReminders,
}

const RPCS: [Rpc; 38] = [
    Rpc::CreateUser,
    Rpc::GetUser,
    Rpc::ListUsers,
    Rpc::UpdateUser,
    Rpc::DeleteUser,
    Rpc::ResetPassword,
    Rpc::AssignRole,
    Rpc::RevokeRole,
    Rpc::ListRoleAssignments,
    Rpc::GetPasswordPolicy,
    Rpc::UpdatePasswordPolicy,
    Rpc::RequirePasswordChange,
    Rpc::BlockSignIn,
    Rpc::UnblockSignIn,
    Rpc::UnlockUser,
    Rpc::RevokeSessions,
    Rpc::CanReset,
    Rpc::ListAuditEvents,
    Rpc::VerifyAuditChain,
    Rpc::WatchAuditEvents,
    Rpc::BulkResetPasswords,
    Rpc::GetBulkJob,
    Rpc::AcknowledgeBulkResults,
    Rpc::ListResetRequests,
    Rpc::ResolveResetRequest,
    Rpc::ListUserVerificationMethods,
    Rpc::ClearVerificationMethods,
    Rpc::CreateTenant,
    Rpc::ListTenants,
    Rpc::CreateAdministrativeUnit,
    Rpc::UpdateAdministrativeUnit,
    Rpc::DeleteAdministrativeUnit,
    Rpc::ListAdministrativeUnits,
    Rpc::AddUnitMembers,
    Rpc::RemoveUnitMembers,
    Rpc::ListUnitMembers,
    Rpc::GetPasswordActivityReport,
    Rpc::SendRegistrationReminders,
];

/// What a caller should get from an RPC aimed at a user of the first tenant.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Allowed,
    Denied,
    /// The other tenant's admin: the user does not exist in their tenant.
    NotFound,
}

fn expected(caller: Caller, rpc: Rpc) -> Expect {
    use Caller::*;
    use Rpc::*;
    // The role each caller acts with; the service holds password_admin.
    let role = match caller {
        GlobalAdmin => "global",
        UserAdmin => "user",
        PasswordAdmin | ServiceWithRole => "password",
        Auditor => "auditor",
        PlainUser | ChangeOnly | NoSession => return Expect::Denied,
        OtherTenantAdmin => {
            return match rpc {
                // Tenant-wide calls act on their own tenant.
                CreateUser
                | ListUsers
                | ListRoleAssignments
                | GetPasswordPolicy
                | UpdatePasswordPolicy
                | RequirePasswordChange
                | ListAuditEvents
                | VerifyAuditChain
                | WatchAuditEvents
                | BulkResetPasswords
                | ListResetRequests
                | CreateAdministrativeUnit
                | ListAdministrativeUnits
                | GetPasswordActivityReport
                | SendRegistrationReminders => Expect::Allowed,
                // Tenants are managed from the default tenant only.
                CreateTenant | ListTenants => Expect::Denied,
                _ => Expect::NotFound,
            };
        }
    };
    let allowed: &[&str] = match rpc {
        CreateUser | UpdateUser | DeleteUser | BlockSignIn | UnblockSignIn => &["global", "user"],
        GetUser | ListUsers | ListRoleAssignments | GetPasswordPolicy | CanReset => {
            &["global", "user", "password", "auditor"]
        }
        ResetPassword
        | RequirePasswordChange
        | UnlockUser
        | RevokeSessions
        | BulkResetPasswords => &["global", "user", "password"],
        AssignRole | RevokeRole | UpdatePasswordPolicy | CreateTenant | ListTenants => &["global"],
        ListAuditEvents | VerifyAuditChain | WatchAuditEvents | GetPasswordActivityReport => {
            &["global", "auditor"]
        }
        GetBulkJob | ListResetRequests => &["global", "user", "password", "auditor"],
        // The job was run by the global admin: only they acknowledge its results.
        AcknowledgeBulkResults => &["global"],
        ResolveResetRequest
        | ListUserVerificationMethods
        | ClearVerificationMethods
        | SendRegistrationReminders => &["global", "user", "password"],
        CreateAdministrativeUnit
        | UpdateAdministrativeUnit
        | DeleteAdministrativeUnit
        | AddUnitMembers
        | RemoveUnitMembers => &["global", "user"],
        ListAdministrativeUnits | ListUnitMembers => &["global", "user", "password", "auditor"],
    };
    if allowed.contains(&role) {
        Expect::Allowed
    } else {
        Expect::Denied
    }
}

fn principal(id: &str) -> Option<pb::Principal> {
    Some(pb::Principal {
        kind: Some(pb::principal::Kind::UserId(id.to_owned())),
    })
}

/// Prepares what the RPC needs (as the global admin) and calls it as `client`. `Ok(false)`
/// when the call was answered but did nothing to the user: a forced change that skipped them,
/// a bulk reset that refused them, a `CanReset` that says no.
async fn call(
    rpc: Rpc,
    admin: &Client,
    client: &Client,
    fresh: &str,
    job_id: &str,
    n: usize,
) -> Result<bool, Status> {
    let target = Some(user_id(fresh));
    let mut stub = client.admin();
    let done = match rpc {
        Rpc::CreateUser => stub
            .create_user(pb::CreateUserRequest {
                username: format!("created{n}@contoso.example"),
                display_name: "Created".into(),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::GetUser => stub
            .get_user(pb::GetUserRequest { user: target })
            .await
            .map(drop),
        Rpc::ListUsers => stub
            .list_users(pb::ListUsersRequest::default())
            .await
            .map(drop),
        Rpc::UpdateUser => stub
            .update_user(pb::UpdateUserRequest {
                id: fresh.to_owned(),
                version: 1,
                display_name: Some("Renamed".into()),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::DeleteUser => stub
            .delete_user(pb::DeleteUserRequest {
                id: fresh.to_owned(),
                version: 0,
            })
            .await
            .map(drop),
        Rpc::ResetPassword => stub
            .reset_password(pb::ResetPasswordRequest {
                user: target,
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::AssignRole => stub
            .assign_role(pb::AssignRoleRequest {
                principal: principal(fresh),
                role: pb::Role::Auditor as i32,
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::RevokeRole => {
            admin
                .admin()
                .assign_role(pb::AssignRoleRequest {
                    principal: principal(fresh),
                    role: pb::Role::Auditor as i32,
                    ..Default::default()
                })
                .await
                .expect("set up a role to revoke");
            stub.revoke_role(pb::RevokeRoleRequest {
                principal: principal(fresh),
                role: pb::Role::Auditor as i32,
                ..Default::default()
            })
            .await
            .map(drop)
        }
        Rpc::ListRoleAssignments => stub
            .list_role_assignments(pb::ListRoleAssignmentsRequest::default())
            .await
            .map(drop),
        Rpc::GetPasswordPolicy => stub
            .get_password_policy(pb::GetPasswordPolicyRequest {})
            .await
            .map(drop),
        Rpc::UpdatePasswordPolicy => stub
            .update_password_policy(pb::UpdatePasswordPolicyRequest {
                update: Some(pb::PasswordPolicyUpdate {
                    history_count: Some(5),
                    ..Default::default()
                }),
            })
            .await
            .map(drop),
        Rpc::RequirePasswordChange => {
            let answer = stub
                .require_password_change(pb::RequirePasswordChangeRequest {
                    user_ids: vec![fresh.to_owned()],
                    ..Default::default()
                })
                .await?
                .into_inner();
            return Ok(answer.affected_users == 1);
        }
        Rpc::BlockSignIn => stub
            .block_sign_in(pb::BlockSignInRequest { user: target })
            .await
            .map(drop),
        Rpc::UnblockSignIn => {
            admin
                .admin()
                .block_sign_in(pb::BlockSignInRequest {
                    user: Some(user_id(fresh)),
                })
                .await
                .expect("set up a block");
            stub.unblock_sign_in(pb::UnblockSignInRequest { user: target })
                .await
                .map(drop)
        }
        Rpc::UnlockUser => stub
            .unlock_user(pb::UnlockUserRequest { user: target })
            .await
            .map(drop),
        Rpc::RevokeSessions => stub
            .revoke_sessions(pb::RevokeSessionsRequest { user: target })
            .await
            .map(drop),
        Rpc::CanReset => {
            let answer = stub
                .can_reset(pb::CanResetRequest { user: target })
                .await?
                .into_inner();
            return Ok(answer.allowed);
        }
        Rpc::ListAuditEvents => stub
            .list_audit_events(pb::ListAuditEventsRequest::default())
            .await
            .map(drop),
        Rpc::VerifyAuditChain => stub
            .verify_audit_chain(pb::VerifyAuditChainRequest {})
            .await
            .map(drop),
        // The stream opens (or is refused) at once; it would run for good, so it is dropped.
        Rpc::WatchAuditEvents => stub
            .watch_audit_events(pb::WatchAuditEventsRequest::default())
            .await
            .map(drop),
        Rpc::BulkResetPasswords => {
            let mut stream = stub
                .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
                    users: vec![user_id(fresh)],
                    ..Default::default()
                })
                .await?
                .into_inner();
            let mut reset = false;
            while let Some(message) = stream.message().await? {
                if let Some(pb::bulk_reset_passwords_response::Event::Result(r)) = message.event {
                    reset |= r.outcome == pb::BulkOutcome::Reset as i32;
                }
            }
            return Ok(reset);
        }
        Rpc::GetBulkJob => stub
            .get_bulk_job(pb::GetBulkJobRequest {
                job_id: job_id.to_owned(),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::AcknowledgeBulkResults => stub
            .acknowledge_bulk_results(pb::AcknowledgeBulkResultsRequest {
                job_id: job_id.to_owned(),
            })
            .await
            .map(drop),
        Rpc::ListResetRequests => stub
            .list_reset_requests(pb::ListResetRequestsRequest::default())
            .await
            .map(drop),
        Rpc::ListUserVerificationMethods => stub
            .list_user_verification_methods(pb::ListUserVerificationMethodsRequest { user: target })
            .await
            .map(drop),
        Rpc::ClearVerificationMethods => stub
            .clear_verification_methods(pb::ClearVerificationMethodsRequest { user: target })
            .await
            .map(drop),
        Rpc::CreateTenant => stub
            .create_tenant(pb::CreateTenantRequest {
                name: format!("tenant {n}"),
                primary_domain: format!("t{n}.example"),
                admin_username: format!("boss@t{n}.example"),
            })
            .await
            .map(drop),
        Rpc::ListTenants => stub.list_tenants(pb::ListTenantsRequest {}).await.map(drop),
        Rpc::CreateAdministrativeUnit => stub
            .create_administrative_unit(pb::CreateAdministrativeUnitRequest {
                name: format!("created unit {n}"),
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::UpdateAdministrativeUnit => {
            let unit = unit_with(admin, fresh, n).await;
            stub.update_administrative_unit(pb::UpdateAdministrativeUnitRequest {
                unit_id: unit,
                version: 1,
                description: Some("renamed".into()),
                ..Default::default()
            })
            .await
            .map(drop)
        }
        Rpc::DeleteAdministrativeUnit => {
            let unit = unit_with(admin, fresh, n).await;
            stub.delete_administrative_unit(pb::DeleteAdministrativeUnitRequest { unit_id: unit })
                .await
                .map(drop)
        }
        Rpc::ListAdministrativeUnits => stub
            .list_administrative_units(pb::ListAdministrativeUnitsRequest::default())
            .await
            .map(drop),
        Rpc::AddUnitMembers => {
            let unit = unit_with(admin, fresh, n).await;
            stub.add_unit_members(pb::AddUnitMembersRequest {
                unit_id: unit,
                user_ids: vec![fresh.to_owned()],
            })
            .await
            .map(drop)
        }
        Rpc::RemoveUnitMembers => {
            let unit = unit_with(admin, fresh, n).await;
            stub.remove_unit_members(pb::RemoveUnitMembersRequest {
                unit_id: unit,
                user_ids: vec![fresh.to_owned()],
            })
            .await
            .map(drop)
        }
        Rpc::GetPasswordActivityReport => {
            let now = std::time::SystemTime::now();
            stub.get_password_activity_report(pb::GetPasswordActivityReportRequest {
                start_time: Some((now - Duration::from_secs(86_400)).into()),
                end_time: Some(now.into()),
                ..Default::default()
            })
            .await
            .map(drop)
        }
        Rpc::SendRegistrationReminders => stub
            .send_registration_reminders(pb::SendRegistrationRemindersRequest {
                validate_only: true,
                ..Default::default()
            })
            .await
            .map(drop),
        Rpc::ListUnitMembers => {
            let unit = unit_with(admin, fresh, n).await;
            stub.list_unit_members(pb::ListUnitMembersRequest {
                unit_id: unit,
                ..Default::default()
            })
            .await
            .map(drop)
        }
        Rpc::ResolveResetRequest => {
            let request_id = open_request_of(admin, fresh).await;
            stub.resolve_reset_request(pb::ResolveResetRequestRequest {
                request_id,
                resolution: pb::ResetResolution::Dismiss as i32,
                ..Default::default()
            })
            .await
            .map(drop)
        }
    };
    done.map(|()| true)
}

async fn every_admin_rpc_follows_the_role_matrix_for_every_kind_of_caller(backend: Backend) {
    let declared = include_str!("../../proto/gatehouse/v1/admin.proto")
        .matches("\n  rpc ")
        .count();
    assert_eq!(
        RPCS.len(),
        declared,
        "a new AdminService RPC belongs in this table"
    );
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;

    let mut clients = Vec::new();
    for caller in CALLERS {
        let client = match caller {
            Caller::GlobalAdmin => admin.clone(),
            Caller::UserAdmin => {
                server
                    .user_with_roles(&admin, "ua@contoso.example", &[pb::Role::UserAdmin])
                    .await
                    .0
            }
            Caller::PasswordAdmin => {
                server
                    .user_with_roles(&admin, "pa@contoso.example", &[pb::Role::PasswordAdmin])
                    .await
                    .0
            }
            Caller::Auditor => {
                server
                    .user_with_roles(&admin, "au@contoso.example", &[pb::Role::Auditor])
                    .await
                    .0
            }
            Caller::PlainUser => {
                server
                    .user_with_roles(&admin, "plain@contoso.example", &[])
                    .await
                    .0
            }
            Caller::ChangeOnly => {
                // A global admin whose password must change: the session may not administer.
                let (_, id) = server
                    .user_with_roles(&admin, "ga2@contoso.example", &[pb::Role::GlobalAdmin])
                    .await;
                let reset = admin
                    .admin()
                    .reset_password(pb::ResetPasswordRequest {
                        user: Some(user_id(&id)),
                        ..Default::default()
                    })
                    .await
                    .expect("reset")
                    .into_inner();
                let signed_in = server
                    .sign_in("ga2@contoso.example", &reset.generated_password)
                    .await;
                assert_eq!(
                    signed_in.session_kind(),
                    pb::SessionKind::PasswordChangeOnly
                );
                server.client().await.with_session(signed_in.session_token)
            }
            Caller::OtherTenantAdmin => other_tenant_admin(&server).await,
            Caller::ServiceWithRole => {
                admin
                    .admin()
                    .assign_role(pb::AssignRoleRequest {
                        principal: Some(pb::Principal {
                            kind: Some(pb::principal::Kind::Service("automation".into())),
                        }),
                        role: pb::Role::PasswordAdmin as i32,
                        ..Default::default()
                    })
                    .await
                    .expect("assign to the service");
                let (cert, key) = service_certificate(&server, "automation");
                server.client_with_identity(&cert, &key).await
            }
            Caller::NoSession => server.client().await,
        };
        clients.push((caller, client));
    }
    let job_id = a_bulk_job(&server, &admin).await;

    let mut n = 0;
    let mut mismatches = Vec::new();
    for rpc in RPCS {
        for (caller, client) in &clients {
            n += 1;
            let (_, fresh) = server
                .user_with_roles(&admin, &format!("t{n}@contoso.example"), &[])
                .await;
            let result = call(rpc, &admin, client, &fresh, &job_id, n).await;
            let got = match &result {
                Ok(_) => Expect::Allowed,
                Err(s) if s.code() == Code::PermissionDenied => Expect::Denied,
                Err(s) if s.code() == Code::NotFound => Expect::NotFound,
                Err(s) => panic!("{caller:?} calling {rpc:?}: unexpected {s:?}"),
            };
            let want = expected(*caller, rpc);
            if got != want {
                mismatches.push(format!(
                    "{caller:?} calling {rpc:?}: expected {want:?}, got {result:?}"
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// A second tenant with its own global admin, signed in with a full session.
async fn other_tenant_admin(server: &TestServer) -> Client {
    let store = Store::connect(&server.config.database_url())
        .await
        .expect("store");
    let hasher = Hasher::new(HashSettings::default()).expect("hasher");
    let core = Gatehouse::new(
        store,
        hasher,
        Settings {
            session_ttl: Duration::from_secs(600),
            change_session_ttl: Duration::from_secs(600),
            sms_enabled: false,
            code_sends_per_destination: 10,
            secret_key: SecretKey::parse(
                &std::fs::read_to_string(server.config.secret_key_file()).expect("key file"),
            )
            .expect("key"),
        },
    );
    let (_, password) = core
        .create_tenant("fabrikam", "fabrikam.example", "boss@fabrikam.example")
        .await
        .expect("tenant");
    let client = server.client().await;
    let first = client
        .self_service()
        .sign_in(pb::SignInRequest {
            username: "boss@fabrikam.example".into(),
            password: password.expose().to_owned(),
            ..Default::default()
        })
        .await
        .expect("sign in to the other tenant")
        .into_inner();
    let changed = client
        .with_session(first.session_token)
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: password.expose().to_owned(),
            new_password: ADMIN_PASSWORD.into(),
        })
        .await
        .expect("change")
        .into_inner();
    assert!(!USER_PASSWORD.is_empty());
    client.with_session(changed.session_token)
}

/// A client certificate from the dev CA with `name` as its identity.
fn service_certificate(server: &TestServer, name: &str) -> (String, String) {
    let ca_pem = std::fs::read_to_string(server.cert_path("ca.pem")).expect("ca");
    let ca_key =
        KeyPair::from_pem(&std::fs::read_to_string(server.cert_path("ca.key")).expect("key"))
            .expect("key");
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key).expect("issuer");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, name);
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &issuer).expect("sign");
    (cert.pem(), key.serialize_pem())
}

/// Opens a "contact an administrator" request for a user (as that person would) and returns
/// its id.
async fn open_request_of(admin: &Client, user: &str) -> String {
    let username = gatehouse_tests::get_user(admin, user).await.username;
    admin
        .without_session()
        .self_service()
        .request_admin_help(pb::RequestAdminHelpRequest {
            username: username.clone(),
            ..Default::default()
        })
        .await
        .expect("ask for help");
    admin
        .admin()
        .list_reset_requests(pb::ListResetRequestsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .requests
        .into_iter()
        .find(|r| r.username == username)
        .expect("the request")
        .id
}

/// A bulk job of the global admin (for GetBulkJob and AcknowledgeBulkResults); its id.
async fn a_bulk_job(server: &TestServer, admin: &Client) -> String {
    let (_, job_target) = server
        .user_with_roles(admin, "jobtarget@contoso.example", &[])
        .await;
    let mut stream = admin
        .admin()
        .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
            users: vec![user_id(&job_target)],
            ..Default::default()
        })
        .await
        .expect("bulk")
        .into_inner();
    let mut job_id = String::new();
    while let Some(message) = stream.message().await.expect("stream") {
        if let Some(pb::bulk_reset_passwords_response::Event::Summary(s)) = message.event {
            job_id = s.job_id;
        }
    }
    job_id
}

/// A fresh administrative unit made by the global admin, with `member` in it.
async fn unit_with(admin: &Client, member: &str, n: usize) -> String {
    let unit = admin
        .admin()
        .create_administrative_unit(pb::CreateAdministrativeUnitRequest {
            name: format!("unit {n}"),
            ..Default::default()
        })
        .await
        .expect("create a unit")
        .into_inner()
        .unit
        .expect("unit")
        .id;
    admin
        .admin()
        .add_unit_members(pb::AddUnitMembersRequest {
            unit_id: unit.clone(),
            user_ids: vec![member.to_owned()],
        })
        .await
        .expect("add the member");
    unit
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scoped {
    PasswordAdmin,
    UserAdmin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Member,
    NonMember,
    /// A member of the unit who holds `user_admin` across the tenant.
    MemberWithRole,
}

/// What a scoped admin should get: a user-targeted call reaches members the matrix lets the
/// role reset; reads of a user reach members; tenant-level calls are those of the role, less
/// creating users and managing units (which need a tenant-wide role).
fn expected_scoped(caller: Scoped, target: Target, rpc: Rpc) -> Expect {
    use Rpc::*;
    let user_admin = caller == Scoped::UserAdmin;
    let touches = match target {
        Target::NonMember => false,
        Target::Member => true,
        // user_admin may reset user_admins; password_admin may not.
        Target::MemberWithRole => user_admin,
    };
    let allowed = match rpc {
        GetUser => target != Target::NonMember,
        UpdateUser | DeleteUser | BlockSignIn | UnblockSignIn => user_admin && touches,
        ResetPassword
        | RequirePasswordChange
        | UnlockUser
        | RevokeSessions
        | CanReset
        | BulkResetPasswords
        | ResolveResetRequest
        | ListUserVerificationMethods
        | ClearVerificationMethods => touches,
        ListUsers
        | ListRoleAssignments
        | GetPasswordPolicy
        | GetBulkJob
        | ListResetRequests
        | ListAdministrativeUnits
        | SendRegistrationReminders => true,
        // The unit of these calls is a fresh one, not the caller's.
        ListUnitMembers => false,
        CreateUser
        | AssignRole
        | RevokeRole
        | UpdatePasswordPolicy
        | ListAuditEvents
        | VerifyAuditChain
        | WatchAuditEvents
        | AcknowledgeBulkResults
        | CreateTenant
        | ListTenants
        | CreateAdministrativeUnit
        | UpdateAdministrativeUnit
        | DeleteAdministrativeUnit
        | AddUnitMembers
        | RemoveUnitMembers
        | GetPasswordActivityReport => false,
    };
    if allowed {
        Expect::Allowed
    } else {
        Expect::Denied
    }
}

async fn every_admin_rpc_follows_the_unit_scope_of_a_scoped_admin(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let helpdesk = admin
        .admin()
        .create_administrative_unit(pb::CreateAdministrativeUnitRequest {
            name: "Helpdesk East".into(),
            ..Default::default()
        })
        .await
        .expect("unit")
        .into_inner()
        .unit
        .expect("unit")
        .id;
    let mut callers = Vec::new();
    for (caller, role, name) in [
        (
            Scoped::PasswordAdmin,
            pb::Role::PasswordAdmin,
            "spa@contoso.example",
        ),
        (
            Scoped::UserAdmin,
            pb::Role::UserAdmin,
            "sua@contoso.example",
        ),
    ] {
        let (client, id) = server.user_with_roles(&admin, name, &[]).await;
        let assignment = admin
            .admin()
            .assign_role(pb::AssignRoleRequest {
                principal: principal(&id),
                role: role as i32,
                unit_id: helpdesk.clone(),
            })
            .await
            .expect("a scoped assignment")
            .into_inner()
            .assignment
            .expect("assignment");
        assert_eq!(assignment.unit_id, helpdesk);
        assert_eq!(assignment.unit_name, "Helpdesk East");
        callers.push((caller, client));
    }
    let job_id = a_bulk_job(&server, &admin).await;

    let mut n = 0;
    let mut mismatches = Vec::new();
    for rpc in RPCS {
        for (caller, client) in &callers {
            for target in [Target::Member, Target::NonMember, Target::MemberWithRole] {
                n += 1;
                let roles: &[pb::Role] = match target {
                    Target::MemberWithRole => &[pb::Role::UserAdmin],
                    _ => &[],
                };
                let (_, fresh) = server
                    .user_with_roles(&admin, &format!("s{n}@contoso.example"), roles)
                    .await;
                if target != Target::NonMember {
                    admin
                        .admin()
                        .add_unit_members(pb::AddUnitMembersRequest {
                            unit_id: helpdesk.clone(),
                            user_ids: vec![fresh.clone()],
                        })
                        .await
                        .expect("add to the unit");
                }
                let result = call(rpc, &admin, client, &fresh, &job_id, 1000 + n).await;
                let got = match &result {
                    Ok(true) => Expect::Allowed,
                    Ok(false) => Expect::Denied,
                    Err(s) if s.code() == Code::PermissionDenied => Expect::Denied,
                    Err(s) => panic!("{caller:?} calling {rpc:?} on {target:?}: unexpected {s:?}"),
                };
                let want = expected_scoped(*caller, target, rpc);
                if got != want {
                    mismatches.push(format!(
                        "{caller:?} calling {rpc:?} on {target:?}: expected {want:?}, got {result:?}"
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
