//! AdminService through the front door: the role matrix, optimistic concurrency, pagination,
//! role assignments and bad input.

use gatehouse_client::{Client, pb};
use gatehouse_tests::{
    Backend, TestServer, USER_PASSWORD, backend_tests, field_violations, get_user, user_id,
    username,
};
use tonic::Code;

backend_tests!(
    reset_follows_the_role_matrix,
    administrators_cannot_reset_their_own_password,
    concurrent_updates_with_one_version_let_exactly_one_win,
    list_users_pages_with_opaque_tokens_and_filters,
    bad_input_gets_the_right_code_and_changes_nothing,
    unknown_ids_are_not_found,
    roles_are_assigned_listed_and_revoked_but_never_the_last_global_admin,
    a_service_principal_acts_with_its_own_role,
    a_user_without_a_role_is_denied_admin_calls,
    user_admin_cannot_delete_or_update_a_global_admin,
);

fn role_name(role: pb::Role) -> &'static str {
    match role {
        pb::Role::GlobalAdmin => "global",
        pb::Role::UserAdmin => "useradmin",
        pb::Role::PasswordAdmin => "helpdesk",
        pb::Role::Auditor => "auditor",
        pb::Role::Unspecified => "plain",
    }
}

async fn reset_follows_the_role_matrix(backend: Backend) {
    use pb::Role::*;
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let kinds = [GlobalAdmin, UserAdmin, PasswordAdmin, Auditor, Unspecified];
    let mut actors: Vec<(pb::Role, Client)> = Vec::new();
    let mut targets: Vec<(pb::Role, String)> = Vec::new();
    for kind in kinds {
        let roles: Vec<pb::Role> = if kind == Unspecified {
            vec![]
        } else {
            vec![kind]
        };
        let name = role_name(kind);
        let (client, _) = server
            .user_with_roles(&admin, &format!("actor-{name}@contoso.example"), &roles)
            .await;
        actors.push((kind, client));
        let (_, id) = server
            .user_with_roles(&admin, &format!("target-{name}@contoso.example"), &roles)
            .await;
        targets.push((kind, id));
    }
    // (actor, target) pairs that are allowed; every other pair is denied.
    let allowed = |actor: pb::Role, target: pb::Role| match actor {
        GlobalAdmin => true,
        UserAdmin => matches!(target, Unspecified | PasswordAdmin | UserAdmin),
        PasswordAdmin => matches!(target, Unspecified | PasswordAdmin),
        _ => false,
    };
    for (actor_role, actor) in &actors {
        for (target_role, target) in &targets {
            let result = actor
                .admin()
                .reset_password(pb::ResetPasswordRequest {
                    user: Some(user_id(target)),
                    ..Default::default()
                })
                .await;
            if allowed(*actor_role, *target_role) {
                let reset =
                    result.unwrap_or_else(|s| panic!("{actor_role:?} → {target_role:?}: {s:?}"));
                assert!(!reset.into_inner().generated_password.is_empty());
            } else {
                let status =
                    result.expect_err(&format!("{actor_role:?} → {target_role:?} must be denied"));
                assert_eq!(
                    status.code(),
                    Code::PermissionDenied,
                    "{actor_role:?} → {target_role:?}: {status:?}"
                );
            }
        }
    }
    // A denied reset changes nothing: the target still signs in with their password.
    let helpdesk = &actors
        .iter()
        .find(|(r, _)| *r == PasswordAdmin)
        .expect("helpdesk")
        .1;
    let fresh = server
        .user_with_roles(&admin, "untouched@contoso.example", &[UserAdmin])
        .await
        .1;
    let status = helpdesk
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(&fresh)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    server
        .sign_in("untouched@contoso.example", USER_PASSWORD)
        .await;
}

async fn administrators_cannot_reset_their_own_password(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let status = admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username(&server.admin_username)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(status.message().contains("ChangePassword"), "{status:?}");
}

async fn concurrent_updates_with_one_version_let_exactly_one_win(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let user = admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "gina@contoso.example".into(),
            display_name: "Gina".into(),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner()
        .user
        .expect("user");
    let update = |name: &str| {
        let mut client = admin.admin();
        let request = pb::UpdateUserRequest {
            id: user.id.clone(),
            version: user.version,
            display_name: Some(name.to_owned()),
            ..Default::default()
        };
        async move { client.update_user(request).await }
    };
    let (a, b) = tokio::join!(update("Gina A"), update("Gina B"));
    let (winner, loser) = match (a, b) {
        (Ok(w), Err(l)) | (Err(l), Ok(w)) => (w.into_inner().user.expect("user"), l),
        other => panic!("exactly one update must win: {other:?}"),
    };
    assert_eq!(loser.code(), Code::Aborted, "{loser:?}");
    assert_eq!(winner.version, user.version + 1);
    let now = get_user(&admin, &user.id).await;
    assert_eq!(now.display_name, winner.display_name);
    assert_eq!(now.version, user.version + 1);
    // A stale version is refused and changes nothing.
    let stale = admin
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: user.id.clone(),
            version: user.version,
            display_name: Some("Stale".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
}

async fn list_users_pages_with_opaque_tokens_and_filters(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    for i in 0..7 {
        admin
            .admin()
            .create_user(pb::CreateUserRequest {
                username: format!("user{i}@contoso.example"),
                display_name: format!("User {i}"),
                ..Default::default()
            })
            .await
            .expect("create");
    }
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin
            .admin()
            .list_users(pb::ListUsersRequest {
                page_size: 3,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        assert!(page.users.len() <= 3);
        seen.extend(page.users.into_iter().map(|u| u.username));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "ordered by username");
    assert_eq!(
        seen.len(),
        8,
        "7 users and the bootstrap admin, each once: {seen:?}"
    );

    let blocked = admin
        .admin()
        .list_users(pb::ListUsersRequest {
            state: pb::UserState::SignInBlocked as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(blocked.users.is_empty());

    let huge = admin
        .admin()
        .list_users(pb::ListUsersRequest {
            page_size: 1_000_000,
            ..Default::default()
        })
        .await
        .expect("a huge page size is capped, not refused");
    assert_eq!(huge.into_inner().users.len(), 8);

    // A token from one filter is refused under another.
    let first = admin
        .admin()
        .list_users(pb::ListUsersRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    let status = admin
        .admin()
        .list_users(pb::ListUsersRequest {
            page_size: 1,
            page_token: first.next_page_token,
            state: pb::UserState::Active as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

async fn bad_input_gets_the_right_code_and_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let count = || async {
        admin
            .admin()
            .list_users(pb::ListUsersRequest::default())
            .await
            .expect("list")
            .into_inner()
            .users
            .len()
    };
    let before = count().await;
    for (username, display_name) in [
        ("", "Empty"),
        (&*"x".repeat(300), "Long"),
        ("no-domain", "Bad"),
        ("ok@contoso.example", ""),
    ] {
        let status = admin
            .admin()
            .create_user(pb::CreateUserRequest {
                username: username.to_owned(),
                display_name: display_name.to_owned(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            status.code(),
            Code::InvalidArgument,
            "{username:?}: {status:?}"
        );
        let fields: Vec<String> = field_violations(&status)
            .into_iter()
            .map(|(f, _)| f)
            .collect();
        assert!(!fields.is_empty(), "violations carry the field: {status:?}");
    }
    assert_eq!(count().await, before, "nothing was created");

    admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "hank@contoso.example".into(),
            display_name: "Hank".into(),
            ..Default::default()
        })
        .await
        .expect("create");
    let duplicate = admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "HANK@contoso.example".into(),
            display_name: "Hank again".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(duplicate.code(), Code::AlreadyExists);

    let status = admin
        .self_service()
        .sign_in(pb::SignInRequest {
            username: server.admin_username.clone(),
            password: "p".repeat(10_000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&status)[0].0, "password");

    let status = admin
        .admin()
        .list_users(pb::ListUsersRequest {
            page_token: "not a token".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&status)[0].0, "page_token");

    let status = admin
        .admin()
        .list_users(pb::ListUsersRequest {
            page_size: -5,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    let status = admin
        .admin()
        .get_user(pb::GetUserRequest { user: None })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = admin
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(user_id("not-a-uuid")),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);

    let status = admin
        .admin()
        .assign_role(pb::AssignRoleRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::Service("svc".into())),
            }),
            role: 0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = admin
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: "x".into(),
            version: 0,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(count().await, before + 1);
}

async fn unknown_ids_are_not_found(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let ghost = uuid::Uuid::new_v4().to_string();
    let codes = [
        admin
            .admin()
            .get_user(pb::GetUserRequest {
                user: Some(user_id(&ghost)),
            })
            .await
            .map(|_| ()),
        admin
            .admin()
            .get_user(pb::GetUserRequest {
                user: Some(username("ghost@contoso.example")),
            })
            .await
            .map(|_| ()),
        admin
            .admin()
            .reset_password(pb::ResetPasswordRequest {
                user: Some(user_id(&ghost)),
                ..Default::default()
            })
            .await
            .map(|_| ()),
        admin
            .admin()
            .update_user(pb::UpdateUserRequest {
                id: ghost.clone(),
                version: 1,
                display_name: Some("Ghost".into()),
                ..Default::default()
            })
            .await
            .map(|_| ()),
        admin
            .admin()
            .delete_user(pb::DeleteUserRequest {
                id: ghost.clone(),
                version: 0,
            })
            .await
            .map(|_| ()),
        admin
            .admin()
            .assign_role(pb::AssignRoleRequest {
                principal: Some(pb::Principal {
                    kind: Some(pb::principal::Kind::UserId(ghost.clone())),
                }),
                role: pb::Role::Auditor as i32,
                ..Default::default()
            })
            .await
            .map(|_| ()),
    ];
    for result in codes {
        assert_eq!(result.unwrap_err().code(), Code::NotFound);
    }
}

async fn roles_are_assigned_listed_and_revoked_but_never_the_last_global_admin(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (_, ivy) = server
        .user_with_roles(&admin, "ivy@contoso.example", &[pb::Role::Auditor])
        .await;
    let ivy_principal = pb::Principal {
        kind: Some(pb::principal::Kind::UserId(ivy.clone())),
    };
    let again = admin
        .admin()
        .assign_role(pb::AssignRoleRequest {
            principal: Some(ivy_principal.clone()),
            role: pb::Role::Auditor as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let listed = admin
        .admin()
        .list_role_assignments(pb::ListRoleAssignmentsRequest {
            principal: Some(ivy_principal.clone()),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.assignments.len(), 1);
    assert_eq!(listed.assignments[0].role(), pb::Role::Auditor);

    let all = admin
        .admin()
        .list_role_assignments(pb::ListRoleAssignmentsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.assignments.len(), 1);
    assert!(!all.next_page_token.is_empty());
    let rest = admin
        .admin()
        .list_role_assignments(pb::ListRoleAssignmentsRequest {
            page_size: 1,
            page_token: all.next_page_token,
            ..Default::default()
        })
        .await
        .expect("next page")
        .into_inner();
    assert_eq!(rest.assignments.len(), 1);
    assert_ne!(rest.assignments[0].id, all.assignments[0].id);

    admin
        .admin()
        .revoke_role(pb::RevokeRoleRequest {
            principal: Some(ivy_principal.clone()),
            role: pb::Role::Auditor as i32,
            ..Default::default()
        })
        .await
        .expect("revoke");
    let gone = admin
        .admin()
        .revoke_role(pb::RevokeRoleRequest {
            principal: Some(ivy_principal),
            role: pb::Role::Auditor as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);

    let me = admin
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("me")
        .into_inner()
        .user
        .expect("user");
    let last = admin
        .admin()
        .revoke_role(pb::RevokeRoleRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::UserId(me.id)),
            }),
            role: pb::Role::GlobalAdmin as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(last.code(), Code::FailedPrecondition);
}

async fn a_service_principal_acts_with_its_own_role(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    // The dev client certificate's identity, without a session, is a service principal.
    let service = server.client().await;
    let status = service
        .admin()
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    assert!(
        status.message().contains("gatehouse-dev-admin"),
        "{status:?}"
    );

    admin
        .admin()
        .assign_role(pb::AssignRoleRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::Service("gatehouse-dev-admin".into())),
            }),
            role: pb::Role::PasswordAdmin as i32,
            ..Default::default()
        })
        .await
        .expect("assign to the service");
    let (_, jane) = server
        .user_with_roles(&admin, "jane@contoso.example", &[])
        .await;
    let reset = service
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(&jane)),
            ..Default::default()
        })
        .await
        .expect("a password_admin service resets a plain user");
    assert!(!reset.into_inner().generated_password.is_empty());
    let status = service
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username(&server.admin_username)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "not a global admin");
}

async fn a_user_without_a_role_is_denied_admin_calls(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (kim, _) = server
        .user_with_roles(&admin, "kim@contoso.example", &[])
        .await;
    let status = kim
        .admin()
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let (auditor, _) = server
        .user_with_roles(&admin, "lou@contoso.example", &[pb::Role::Auditor])
        .await;
    auditor
        .admin()
        .list_users(pb::ListUsersRequest::default())
        .await
        .expect("auditors read users");
    let status = auditor
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "new@contoso.example".into(),
            display_name: "New".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

async fn user_admin_cannot_delete_or_update_a_global_admin(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (user_admin, _) = server
        .user_with_roles(&admin, "mo@contoso.example", &[pb::Role::UserAdmin])
        .await;
    let boss = admin
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(username(&server.admin_username)),
        })
        .await
        .expect("get")
        .into_inner()
        .user
        .expect("user");
    let status = user_admin
        .admin()
        .delete_user(pb::DeleteUserRequest {
            id: boss.id.clone(),
            version: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = user_admin
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: boss.id.clone(),
            version: boss.version,
            display_name: Some("Demoted".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let (_, plain) = server
        .user_with_roles(&admin, "ned@contoso.example", &[])
        .await;
    user_admin
        .admin()
        .delete_user(pb::DeleteUserRequest {
            id: plain.clone(),
            version: 0,
        })
        .await
        .expect("a user admin deletes a plain user");
    let status = admin
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(user_id(&plain)),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
}
