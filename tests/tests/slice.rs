//! The first slice, end to end: bootstrap admin → must change → changes → creates a user →
//! resets their password → the user signs in with the temporary password, gets a change-only
//! session, changes it, and gets a full session.

use gatehouse_client::pb;
use gatehouse_tests::{
    ADMIN_PASSWORD, Backend, TestServer, backend_tests, field_violations, get_user, user_id,
    username,
};
use tonic::Code;

backend_tests!(
    admin_reset_then_first_sign_in_slice,
    change_only_session_can_only_change_password_sign_out_and_get_me,
    sign_out_revokes_the_session,
    reset_revokes_the_users_sessions,
    caller_chosen_password_without_required_change_opens_a_full_session,
    policy_failures_name_each_broken_rule,
    password_history_blocks_reuse,
);

async fn admin_reset_then_first_sign_in_slice(backend: Backend) {
    let server = TestServer::start(backend).await;
    assert!(
        !server.admin_password.is_empty(),
        "dev mode writes the bootstrap password file"
    );

    // The bootstrap admin's one-time password opens a change-only session.
    let first = server
        .sign_in(&server.admin_username, &server.admin_password)
        .await;
    assert_eq!(first.session_kind(), pb::SessionKind::PasswordChangeOnly);
    assert_eq!(
        first.change_reason(),
        pb::PasswordChangeReason::TemporaryPassword
    );
    let limited = server
        .client()
        .await
        .with_session(first.session_token.clone());
    let denied = limited
        .admin()
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(denied.code(), Code::PermissionDenied);

    let changed = limited
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: server.admin_password.clone(),
            new_password: ADMIN_PASSWORD.to_owned(),
        })
        .await
        .expect("change")
        .into_inner();
    // The change-only session is gone; the new one is full.
    let stale = limited
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Unauthenticated);
    let admin = server.client().await.with_session(changed.session_token);
    let me = admin
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("me")
        .into_inner();
    assert_eq!(me.session_kind(), pb::SessionKind::Full);
    assert_eq!(
        me.user.as_ref().expect("user").roles,
        vec![pb::Role::GlobalAdmin as i32]
    );
    // The one-time password no longer works.
    let old = server
        .client()
        .await
        .self_service()
        .sign_in(pb::SignInRequest {
            username: server.admin_username.clone(),
            password: server.admin_password.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(old.code(), Code::Unauthenticated);

    // Create a user and reset their password.
    let bob = admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "Bob@Contoso.Example".into(),
            display_name: "Bob Builder".into(),
            contact_email: "bob.home@mail.example".into(),
        })
        .await
        .expect("create")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(bob.username, "bob@contoso.example");
    assert_eq!(bob.version, 1);
    assert!(bob.password_set_time.is_none());

    let reset = admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username("bob@contoso.example")),
            ..Default::default()
        })
        .await
        .expect("reset")
        .into_inner();
    assert!(reset.password_change_required);
    assert!(reset.expire_time.is_some());
    assert!(reset.generated_password.chars().count() >= 15);

    // Bob signs in with the temporary password: change-only.
    let temp = server
        .sign_in("bob@contoso.example", &reset.generated_password)
        .await;
    assert_eq!(temp.session_kind(), pb::SessionKind::PasswordChangeOnly);
    assert_eq!(
        temp.change_reason(),
        pb::PasswordChangeReason::TemporaryPassword
    );
    assert_eq!(temp.user_id, bob.id);
    let bob_client = server.client().await.with_session(temp.session_token);
    let fetched = get_user(&admin, &bob.id).await;
    assert!(fetched.password_change_required);

    let changed = bob_client
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: reset.generated_password.clone(),
            new_password: "my very own long passphrase".into(),
        })
        .await
        .expect("bob changes")
        .into_inner();
    assert!(!changed.session_token.is_empty());

    let full = server
        .sign_in("bob@contoso.example", "my very own long passphrase")
        .await;
    assert_eq!(full.session_kind(), pb::SessionKind::Full);
    assert_eq!(full.change_reason(), pb::PasswordChangeReason::Unspecified);
    let fetched = get_user(&admin, &bob.id).await;
    assert!(!fetched.password_change_required);
    server.stop().await;
}

async fn change_only_session_can_only_change_password_sign_out_and_get_me(backend: Backend) {
    let server = TestServer::start(backend).await;
    let first = server
        .sign_in(&server.admin_username, &server.admin_password)
        .await;
    let limited = server.client().await.with_session(first.session_token);
    let me = limited
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("GetMe is allowed")
        .into_inner();
    assert_eq!(me.session_kind(), pb::SessionKind::PasswordChangeOnly);
    let calls = [
        limited
            .admin()
            .create_user(pb::CreateUserRequest::default())
            .await
            .map(|_| ()),
        limited
            .admin()
            .get_user(pb::GetUserRequest::default())
            .await
            .map(|_| ()),
        limited
            .admin()
            .reset_password(pb::ResetPasswordRequest::default())
            .await
            .map(|_| ()),
        limited
            .admin()
            .list_role_assignments(pb::ListRoleAssignmentsRequest::default())
            .await
            .map(|_| ()),
    ];
    for result in calls {
        let status = result.expect_err("a change-only session may not administer");
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
        assert!(status.message().contains("ChangePassword"), "{status:?}");
    }
    limited
        .self_service()
        .sign_out(pb::SignOutRequest {})
        .await
        .expect("SignOut is allowed");
}

async fn sign_out_revokes_the_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    admin
        .admin()
        .list_users(pb::ListUsersRequest::default())
        .await
        .expect("works before sign-out");
    admin
        .self_service()
        .sign_out(pb::SignOutRequest {})
        .await
        .expect("sign out");
    let status = admin
        .admin()
        .list_users(pb::ListUsersRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = admin
        .self_service()
        .sign_out(pb::SignOutRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let forged = server.client().await.with_session("not-a-real-token");
    assert_eq!(
        forged
            .self_service()
            .get_me(pb::GetMeRequest {})
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
}

async fn reset_revokes_the_users_sessions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (carol, carol_id) = server
        .user_with_roles(&admin, "carol@contoso.example", &[])
        .await;
    carol
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("carol is signed in");
    let reset = admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(&carol_id)),
            ..Default::default()
        })
        .await
        .expect("reset")
        .into_inner();
    assert_eq!(reset.revoked_sessions, 1);
    let status = carol
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

async fn caller_chosen_password_without_required_change_opens_a_full_session(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (_, dave_id) = server
        .user_with_roles(&admin, "dave@contoso.example", &[])
        .await;
    let reset = admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(&dave_id)),
            password: "a chosen passphrase for this account".into(),
            require_change: Some(false),
            ..Default::default()
        })
        .await
        .expect("reset")
        .into_inner();
    assert!(
        reset.generated_password.is_empty(),
        "a caller-chosen password is not echoed"
    );
    assert!(!reset.password_change_required);
    assert!(reset.expire_time.is_none());
    let signed_in = server
        .sign_in(
            "dave@contoso.example",
            "a chosen passphrase for this account",
        )
        .await;
    assert_eq!(signed_in.session_kind(), pb::SessionKind::Full);
}

async fn policy_failures_name_each_broken_rule(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (erin, _) = server
        .user_with_roles(&admin, "erin@contoso.example", &[])
        .await;
    let status = erin
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: gatehouse_tests::USER_PASSWORD.into(),
            new_password: "erin".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let violations = field_violations(&status);
    assert!(
        violations
            .iter()
            .any(|(f, d)| f == "new_password" && d.contains("at least 15")),
        "{violations:?}"
    );
    assert!(
        violations
            .iter()
            .any(|(f, d)| f == "new_password" && d.contains("username")),
        "{violations:?}"
    );
    // Nothing changed: the old password still signs in.
    server
        .sign_in("erin@contoso.example", gatehouse_tests::USER_PASSWORD)
        .await;

    let status = admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username("erin@contoso.example")),
            password: "short".into(),
            require_change: None,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&status)[0].0, "password");
    server
        .sign_in("erin@contoso.example", gatehouse_tests::USER_PASSWORD)
        .await;
}

async fn password_history_blocks_reuse(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (frank, _) = server
        .user_with_roles(&admin, "frank@contoso.example", &[])
        .await;
    let changed = frank
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: gatehouse_tests::USER_PASSWORD.into(),
            new_password: "a second passphrase for the account".into(),
        })
        .await
        .expect("first change")
        .into_inner();
    let frank = server.client().await.with_session(changed.session_token);
    let status = frank
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: "a second passphrase for the account".into(),
            new_password: gatehouse_tests::USER_PASSWORD.into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        field_violations(&status)[0].1.contains("used recently"),
        "{status:?}"
    );
}
