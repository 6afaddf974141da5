//! Policy, lock-out, blocking, sessions, forced changes and the audit chain, through the
//! front door.

use gatehouse::store::entities::password_credential;
use gatehouse_client::{Client, pb};
use gatehouse_tests::{
    Backend, TestServer, USER_PASSWORD, backend_tests, field_violations, get_user, user_id,
    username,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, ConnectionTrait as _, Database, EntityTrait as _, QueryFilter as _,
};
use tonic::Code;

backend_tests!(
    policy_is_read_by_admins_and_changed_by_global_admins_with_every_violation_named,
    new_passwords_are_checked_against_the_tenants_policy,
    lockout_after_the_threshold_then_unlock,
    parallel_wrong_guesses_check_no_more_passwords_than_the_threshold,
    a_repeated_wrong_password_does_not_count_again,
    a_correct_password_resets_the_failure_count,
    guessing_the_current_password_in_change_password_locks_too,
    blocked_users_cannot_sign_in_and_lose_their_sessions,
    revoke_sessions_signs_a_user_out_everywhere,
    can_reset_explains_the_role_matrix,
    require_password_change_for_listed_users_and_for_everyone,
    expired_passwords_open_a_change_only_session_unless_exempt,
    audit_lists_events_with_filters_and_pages,
    audit_chain_detects_an_edited_event,
    audit_chain_detects_a_deleted_event,
    audit_chain_detects_reordered_events,
);

async fn set_policy(admin: &Client, update: pb::PasswordPolicyUpdate) -> pb::PasswordPolicy {
    admin
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(update),
        })
        .await
        .expect("update policy")
        .into_inner()
        .policy
        .expect("policy")
}

async fn try_sign_in(
    server: &TestServer,
    name: &str,
    password: &str,
) -> Result<pb::SignInResponse, tonic::Status> {
    server
        .client()
        .await
        .self_service()
        .sign_in(pb::SignInRequest {
            username: name.into(),
            password: password.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn policy_is_read_by_admins_and_changed_by_global_admins_with_every_violation_named(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let policy = admin
        .admin()
        .get_password_policy(pb::GetPasswordPolicyRequest {})
        .await
        .expect("get")
        .into_inner()
        .policy
        .expect("policy");
    assert_eq!(
        (policy.min_length, policy.max_length, policy.history_count),
        (15, 256, 5)
    );
    assert_eq!((policy.lockout_threshold, policy.lockout_seconds), (10, 60));
    assert_eq!(policy.temporary_password_hours, 72);

    let status = admin
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                min_length: Some(4),
                max_length: Some(32),
                reset_methods_required: Some(3),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = field_violations(&status)
        .into_iter()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(
        fields,
        [
            "update.min_length",
            "update.max_length",
            "update.reset_methods_required"
        ]
    );
    let unchanged = admin
        .admin()
        .get_password_policy(pb::GetPasswordPolicyRequest {})
        .await
        .expect("get");
    assert_eq!(
        unchanged.into_inner().policy.expect("policy").min_length,
        15,
        "nothing changed"
    );

    let updated = set_policy(
        &admin,
        pb::PasswordPolicyUpdate {
            min_length: Some(12),
            banned_terms: Some(pb::BannedTerms {
                terms: vec!["Contoso".into(), "Fabrikam".into()],
            }),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(updated.min_length, 12);
    assert_eq!(updated.banned_terms, ["contoso", "fabrikam"]);
    assert_eq!(updated.history_count, 5, "unset settings keep their value");

    let (auditor, _) = server
        .user_with_roles(&admin, "audra@contoso.example", &[pb::Role::Auditor])
        .await;
    auditor
        .admin()
        .get_password_policy(pb::GetPasswordPolicyRequest {})
        .await
        .expect("auditors read the policy");
    let status = auditor
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate::default()),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

async fn new_passwords_are_checked_against_the_tenants_policy(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    set_policy(
        &admin,
        pb::PasswordPolicyUpdate {
            banned_terms: Some(pb::BannedTerms {
                terms: vec!["contoso".into()],
            }),
            ..Default::default()
        },
    )
    .await;
    let (_, id) = server
        .user_with_roles(&admin, "brad@contoso.example", &[])
        .await;
    let reset = |password: &str| {
        let mut client = admin.admin();
        let request = pb::ResetPasswordRequest {
            user: Some(user_id(&id)),
            password: password.to_owned(),
            require_change: Some(false),
            ..Default::default()
        };
        async move { client.reset_password(request).await }
    };
    for (password, expected) in [
        ("C0nt0$o is where I work every day", "does not allow"),
        ("password1234password", "too easy to guess"),
        ("brad brad brad brad brad", "username"),
    ] {
        let status = reset(password).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{password}");
        let violations = field_violations(&status);
        assert!(
            violations
                .iter()
                .any(|(f, d)| f == "password" && d.contains(expected)),
            "{password}: {violations:?}"
        );
    }
    reset("горячий чай 🍵 под дождём ночью")
        .await
        .expect("unicode passphrases are welcome");
    server
        .sign_in("brad@contoso.example", "горячий чай 🍵 под дождём ночью")
        .await;
}

async fn lockout_after_the_threshold_then_unlock(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    set_policy(
        &admin,
        pb::PasswordPolicyUpdate {
            lockout_threshold: Some(3),
            ..Default::default()
        },
    )
    .await;
    let (_, id) = server
        .user_with_roles(&admin, "cleo@contoso.example", &[])
        .await;
    let (reader, user) = (&admin, &id);
    let locked_until = move || async move { get_user(reader, user).await.locked_until };
    // Read (and so cached by this replica) before each change: every read after a change
    // shows it at once, and a sign-in, which changes nothing shown, leaves the view as it was.
    assert_eq!(locked_until().await, None);
    server.sign_in("cleo@contoso.example", USER_PASSWORD).await;
    assert_eq!(locked_until().await, None);
    for i in 0..3 {
        let status = try_sign_in(
            &server,
            "cleo@contoso.example",
            &format!("wrong guess number {i}"),
        )
        .await
        .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    // Locked: the right password gets the same answer as a wrong one.
    let locked = try_sign_in(&server, "cleo@contoso.example", USER_PASSWORD)
        .await
        .unwrap_err();
    let wrong = try_sign_in(&server, "nobody@contoso.example", USER_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(
        (locked.code(), locked.message()),
        (wrong.code(), wrong.message())
    );
    assert!(locked_until().await.is_some());

    let unlocked = admin
        .admin()
        .unlock_user(pb::UnlockUserRequest {
            user: Some(user_id(&id)),
        })
        .await
        .expect("unlock")
        .into_inner();
    assert!(unlocked.was_locked);
    assert_eq!(locked_until().await, None);
    server.sign_in("cleo@contoso.example", USER_PASSWORD).await;
    let events = admin
        .admin()
        .list_audit_events(pb::ListAuditEventsRequest {
            action: "user.locked_out".into(),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner();
    assert_eq!(events.events.len(), 1);
    assert_eq!(events.events[0].target, format!("user:{id}"));
}

async fn parallel_wrong_guesses_check_no_more_passwords_than_the_threshold(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (_, id) = server
        .user_with_roles(&admin, "dina@contoso.example", &[])
        .await;
    let client = server.client().await;
    let guesses: Vec<_> = (0..1000)
        .map(|i| {
            let mut stub = client.self_service();
            tokio::spawn(async move {
                stub.sign_in(pb::SignInRequest {
                    username: "dina@contoso.example".into(),
                    password: format!("parallel wrong guess {i}"),
                    ..Default::default()
                })
                .await
            })
        })
        .collect();
    for guess in guesses {
        let status = guess
            .await
            .expect("join")
            .expect_err("every guess is wrong");
        assert!(
            matches!(
                status.code(),
                Code::Unauthenticated | Code::ResourceExhausted
            ),
            "{status:?}"
        );
    }
    // Every checked password left a `wrong_password` event; the rest were refused unchecked.
    let filter = pb::ListAuditEventsRequest {
        action: "session.sign_in".into(),
        target: format!("user:{id}"),
        ..Default::default()
    };
    let checked = gatehouse_tests::audit_events(&admin, filter)
        .await
        .iter()
        .filter(|e| e.details_json.contains("\"wrong_password\""))
        .count();
    assert!(
        checked > 0 && checked <= 10,
        "{checked} passwords were checked; the threshold is 10"
    );
    let user = get_user(&admin, &id).await;
    assert!(user.locked_until.is_some(), "the account is locked");
}

async fn a_repeated_wrong_password_does_not_count_again(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    set_policy(
        &admin,
        pb::PasswordPolicyUpdate {
            lockout_threshold: Some(3),
            ..Default::default()
        },
    )
    .await;
    server
        .user_with_roles(&admin, "eli@contoso.example", &[])
        .await;
    for _ in 0..10 {
        try_sign_in(&server, "eli@contoso.example", "the same old typo")
            .await
            .unwrap_err();
    }
    try_sign_in(&server, "eli@contoso.example", "another typo here")
        .await
        .unwrap_err();
    // Two distinct wrong passwords count two; the third attempt is the right password.
    server.sign_in("eli@contoso.example", USER_PASSWORD).await;
}

async fn a_correct_password_resets_the_failure_count(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    set_policy(
        &admin,
        pb::PasswordPolicyUpdate {
            lockout_threshold: Some(3),
            ..Default::default()
        },
    )
    .await;
    server
        .user_with_roles(&admin, "fay@contoso.example", &[])
        .await;
    for round in 0..3 {
        for i in 0..2 {
            try_sign_in(
                &server,
                "fay@contoso.example",
                &format!("round {round} wrong {i}"),
            )
            .await
            .unwrap_err();
        }
        server.sign_in("fay@contoso.example", USER_PASSWORD).await;
    }
}

async fn blocked_users_cannot_sign_in_and_lose_their_sessions(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (gus, id) = server
        .user_with_roles(&admin, "gus@contoso.example", &[])
        .await;
    let blocked = admin
        .admin()
        .block_sign_in(pb::BlockSignInRequest {
            user: Some(user_id(&id)),
        })
        .await
        .expect("block")
        .into_inner();
    assert_eq!(
        blocked.user.expect("user").state(),
        pb::UserState::SignInBlocked
    );
    assert_eq!(blocked.revoked_sessions, 1);
    assert_eq!(
        gus.self_service()
            .get_me(pb::GetMeRequest {})
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let refused = try_sign_in(&server, "gus@contoso.example", USER_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    let listed = admin
        .admin()
        .list_users(pb::ListUsersRequest {
            state: pb::UserState::SignInBlocked as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.users.len(), 1);
    admin
        .admin()
        .unblock_sign_in(pb::UnblockSignInRequest {
            user: Some(user_id(&id)),
        })
        .await
        .expect("unblock");
    server.sign_in("gus@contoso.example", USER_PASSWORD).await;

    let (helpdesk, _) = server
        .user_with_roles(&admin, "hal@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let status = helpdesk
        .admin()
        .block_sign_in(pb::BlockSignInRequest {
            user: Some(user_id(&id)),
        })
        .await
        .unwrap_err();
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "blocking is for user and global admins"
    );
}

async fn revoke_sessions_signs_a_user_out_everywhere(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (ida, id) = server
        .user_with_roles(&admin, "ida@contoso.example", &[])
        .await;
    let second = server.sign_in("ida@contoso.example", USER_PASSWORD).await;
    let (helpdesk, _) = server
        .user_with_roles(&admin, "ivan@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let revoked = helpdesk
        .admin()
        .revoke_sessions(pb::RevokeSessionsRequest {
            user: Some(user_id(&id)),
        })
        .await
        .expect("revoke")
        .into_inner();
    assert_eq!(revoked.revoked_sessions, 2);
    assert_eq!(
        ida.self_service()
            .get_me(pb::GetMeRequest {})
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let other = server.client().await.with_session(second.session_token);
    assert_eq!(
        other
            .self_service()
            .get_me(pb::GetMeRequest {})
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
}

async fn can_reset_explains_the_role_matrix(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (helpdesk, _) = server
        .user_with_roles(&admin, "jo@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let (_, plain) = server
        .user_with_roles(&admin, "jay@contoso.example", &[])
        .await;
    let (_, boss) = server
        .user_with_roles(&admin, "jen@contoso.example", &[pb::Role::UserAdmin])
        .await;
    let ask = |id: &str| {
        let mut client = helpdesk.admin();
        let request = pb::CanResetRequest {
            user: Some(user_id(id)),
        };
        async move {
            client
                .can_reset(request)
                .await
                .expect("can reset")
                .into_inner()
        }
    };
    assert!(ask(&plain).await.allowed);
    let no = ask(&boss).await;
    assert!(!no.allowed);
    assert!(no.reason.contains("user_admin"), "{}", no.reason);
    // Asking is not trying: no refusal is audited.
    let denials = admin
        .admin()
        .list_audit_events(pb::ListAuditEventsRequest {
            target: format!("user:{boss}"),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner();
    assert!(denials.events.iter().all(|e| e.outcome != "denied"));
}

async fn require_password_change_for_listed_users_and_for_everyone(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (kay, kay_id) = server
        .user_with_roles(&admin, "kay@contoso.example", &[])
        .await;
    let (_, kim_id) = server
        .user_with_roles(&admin, "kim@contoso.example", &[])
        .await;
    let (helpdesk, _) = server
        .user_with_roles(&admin, "kit@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let me = admin
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("me")
        .into_inner()
        .user
        .expect("user");

    let done = helpdesk
        .admin()
        .require_password_change(pb::RequirePasswordChangeRequest {
            user_ids: vec![kay_id.clone(), me.id.clone()],
            all_users: false,
            revoke_sessions: false,
        })
        .await
        .expect("require change")
        .into_inner();
    assert_eq!(
        (done.affected_users, done.skipped_users),
        (1, 1),
        "the global admin is not the help desk's to force"
    );
    kay.self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("sessions survive without revoke_sessions");
    let signed_in = server.sign_in("kay@contoso.example", USER_PASSWORD).await;
    assert_eq!(
        signed_in.session_kind(),
        pb::SessionKind::PasswordChangeOnly
    );
    assert_eq!(
        signed_in.change_reason(),
        pb::PasswordChangeReason::ChangeRequired
    );

    let everyone = admin
        .admin()
        .require_password_change(pb::RequirePasswordChangeRequest {
            all_users: true,
            revoke_sessions: true,
            ..Default::default()
        })
        .await
        .expect("everyone")
        .into_inner();
    assert_eq!(
        everyone.affected_users, 3,
        "everyone with a password but the caller"
    );
    assert!(everyone.revoked_sessions >= 1);
    let kim = get_user(&admin, &kim_id).await;
    assert!(kim.password_change_required);
    admin
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("the caller keeps their session");

    let status = admin
        .admin()
        .require_password_change(pb::RequirePasswordChangeRequest {
            all_users: true,
            user_ids: vec![kim_id],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

async fn expired_passwords_open_a_change_only_session_unless_exempt(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    set_policy(
        &admin,
        pb::PasswordPolicyUpdate {
            max_age_days: Some(30),
            ..Default::default()
        },
    )
    .await;
    let (_, lee) = server
        .user_with_roles(&admin, "lee@contoso.example", &[])
        .await;
    let (_, lou) = server
        .user_with_roles(&admin, "lou@contoso.example", &[])
        .await;
    let lou_user = get_user(&admin, &lou).await;
    admin
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: lou.clone(),
            version: lou_user.version,
            password_never_expires: Some(true),
            ..Default::default()
        })
        .await
        .expect("exempt lou");
    // Age both passwords past the limit.
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    let ids = [
        lee.parse::<uuid::Uuid>().expect("id"),
        lou.parse::<uuid::Uuid>().expect("id"),
    ];
    let aged = password_credential::Entity::update_many()
        .col_expr(
            password_credential::Column::SetAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(40)),
        )
        .filter(password_credential::Column::UserId.is_in(ids))
        .exec(&db)
        .await
        .expect("age passwords");
    assert_eq!(aged.rows_affected, 2);
    let expired = server.sign_in("lee@contoso.example", USER_PASSWORD).await;
    assert_eq!(expired.session_kind(), pb::SessionKind::PasswordChangeOnly);
    assert_eq!(
        expired.change_reason(),
        pb::PasswordChangeReason::PasswordExpired
    );
    let exempt = server.sign_in("lou@contoso.example", USER_PASSWORD).await;
    assert_eq!(exempt.session_kind(), pb::SessionKind::Full);
}

async fn audit_lists_events_with_filters_and_pages(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (_, id) = server
        .user_with_roles(&admin, "mia@contoso.example", &[])
        .await;
    admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username("mia@contoso.example")),
            ..Default::default()
        })
        .await
        .expect("reset");
    let resets = admin
        .admin()
        .list_audit_events(pb::ListAuditEventsRequest {
            action: "password.reset".into(),
            target: format!("user:{id}"),
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner();
    assert_eq!(resets.events.len(), 2, "the harness's reset and this one");
    assert!(
        resets.events[0].sequence > resets.events[1].sequence,
        "newest first"
    );
    assert!(!resets.events[0].details_json.contains(USER_PASSWORD));

    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = admin
            .admin()
            .list_audit_events(pb::ListAuditEventsRequest {
                page_size: 4,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        all.extend(page.events.iter().map(|e| e.sequence));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let expected: Vec<i64> = (1..=all[0]).rev().collect();
    assert_eq!(all, expected, "every event once, newest first");

    let (helpdesk, _) = server
        .user_with_roles(&admin, "max@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let status = helpdesk
        .admin()
        .list_audit_events(pb::ListAuditEventsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

/// Runs some audited work, tampers with the stored chain and returns what verification says.
async fn tamper(
    backend: Backend,
    statements: impl Fn(i64) -> Vec<String>,
) -> (pb::VerifyAuditChainResponse, i64) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    server
        .user_with_roles(&admin, "ned@contoso.example", &[])
        .await;
    let intact = admin
        .admin()
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .expect("verify")
        .into_inner();
    assert!(intact.intact, "{intact:?}");
    assert!(intact.checked_events >= 6);
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    let victim = 3;
    for statement in statements(victim) {
        db.execute_unprepared(&statement).await.expect("tamper");
    }
    let report = admin
        .admin()
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .expect("verify")
        .into_inner();
    (report, victim)
}

async fn audit_chain_detects_an_edited_event(backend: Backend) {
    let (report, victim) = tamper(backend, |seq| {
        vec![format!(
            "UPDATE audit_events SET outcome = 'denied' WHERE seq = {seq}"
        )]
    })
    .await;
    assert!(!report.intact);
    assert_eq!(report.first_broken_sequence, victim);
    assert!(report.problem.contains("edited"), "{report:?}");
}

async fn audit_chain_detects_a_deleted_event(backend: Backend) {
    let (report, victim) = tamper(backend, |seq| {
        vec![format!("DELETE FROM audit_events WHERE seq = {seq}")]
    })
    .await;
    assert!(!report.intact);
    assert_eq!(report.first_broken_sequence, victim);
    assert!(report.problem.contains("missing"), "{report:?}");
}

async fn audit_chain_detects_reordered_events(backend: Backend) {
    let (report, victim) = tamper(backend, |seq| {
        vec![
            format!("UPDATE audit_events SET seq = -1 WHERE seq = {seq}"),
            format!(
                "UPDATE audit_events SET seq = {seq} WHERE seq = {}",
                seq + 1
            ),
            format!("UPDATE audit_events SET seq = {} WHERE seq = -1", seq + 1),
        ]
    })
    .await;
    assert!(!report.intact);
    assert_eq!(report.first_broken_sequence, victim);
}

async fn guessing_the_current_password_in_change_password_locks_too(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    set_policy(
        &admin,
        pb::PasswordPolicyUpdate {
            lockout_threshold: Some(3),
            ..Default::default()
        },
    )
    .await;
    let (xena, id) = server
        .user_with_roles(&admin, "xena@contoso.example", &[])
        .await;
    let change = |current: String| {
        let mut stub = xena.self_service();
        async move {
            stub.change_password(pb::ChangePasswordRequest {
                current_password: current,
                new_password: "a fresh passphrase for this account".into(),
            })
            .await
        }
    };
    for i in 0..3 {
        let status = change(format!("stolen-session guess {i}"))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let locked = change(USER_PASSWORD.to_owned()).await.unwrap_err();
    assert_eq!(
        locked.code(),
        Code::Unauthenticated,
        "locked: even the right current password is refused"
    );
    let user = get_user(&admin, &id).await;
    assert!(user.locked_until.is_some());
}
