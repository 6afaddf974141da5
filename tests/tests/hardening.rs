//! What an outside probe looks for: answers that tell real accounts from unknown ones,
//! password checks that skip the length gate, and page tokens that can be read or forged.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gatehouse::store::entities::password_credential;
use gatehouse_client::pb;
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD, backend_tests, field_violations};
use sea_orm::{Database, EntityTrait as _};
use tonic::Code;

backend_tests!(
    completing_an_unproved_flow_answers_as_for_an_unknown_account,
    every_anonymous_step_of_a_reset_flow_is_audited_without_its_code,
    an_over_long_current_password_is_refused_before_any_check,
    page_tokens_are_opaque_and_bound_to_tenant_listing_and_filter,
    nul_and_control_characters_are_refused_at_the_edge_of_every_call,
    each_request_is_held_to_the_size_its_call_needs,
    connections_beyond_the_cap_are_closed_at_once,
    calls_beyond_a_connections_stream_cap_wait_their_turn,
);

/// The request was refused as INVALID_ARGUMENT naming `field`.
fn refused_at(result: Result<impl std::fmt::Debug, tonic::Status>, field: &str) {
    let status = result.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let violations = field_violations(&status);
    assert!(
        violations
            .iter()
            .any(|(f, d)| f == field && d.contains("U+0000")),
        "{field} named in {violations:?}"
    );
}

async fn complete_flow(server: &TestServer, username: &str, flow_id: &str) -> tonic::Status {
    server
        .client()
        .await
        .self_service()
        .complete_password_reset(pb::CompletePasswordResetRequest {
            username: username.into(),
            flow_id: flow_id.into(),
            new_password: "a brand new passphrase nobody has".into(),
            ..Default::default()
        })
        .await
        .expect_err("no flow here proved anything")
}

async fn completing_an_unproved_flow_answers_as_for_an_unknown_account(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (_, id) = server
        .user_with_roles(&admin, "hana@contoso.example", &[])
        .await;
    let real_flow = server.start_reset("hana@contoso.example").await;
    let unknown_flow = server.start_reset("nobody@contoso.example").await;
    let real = complete_flow(&server, "hana@contoso.example", &real_flow).await;
    let unknown = complete_flow(&server, "nobody@contoso.example", &unknown_flow).await;
    assert_eq!(
        (real.code(), real.message()),
        (unknown.code(), unknown.message()),
        "a real account's unproved flow and an unknown account's answer alike"
    );
    assert_eq!(real.code(), Code::Unauthenticated);
    let refused = gatehouse_tests::audit_events(
        &admin,
        pb::ListAuditEventsRequest {
            action: "reset.complete_refused".into(),
            target: format!("user:{id}"),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(refused.len(), 1, "the real flow's refusal is audited");
    assert!(refused[0].details_json.contains(&real_flow));
    assert!(
        refused[0]
            .details_json
            .contains("not_enough_methods_proved")
    );
}

async fn every_anonymous_step_of_a_reset_flow_is_audited_without_its_code(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (_, id) = server
        .user_with_roles(&admin, "ines@contoso.example", &[])
        .await;
    let flow = server.start_reset("ines@contoso.example").await;
    // No verified method has this address: nothing is sent, and that is recorded.
    server
        .send_reset_code(&flow, "elsewhere@mail.example")
        .await;
    let wrong = ["12345678", "87654321"];
    for code in wrong {
        let status = server
            .client()
            .await
            .self_service()
            .verify_reset_code(pb::VerifyResetCodeRequest {
                flow_id: flow.clone(),
                code: code.into(),
            })
            .await
            .expect_err("a wrong code");
        assert_eq!(status.code(), Code::Unauthenticated);
    }
    let events = gatehouse_tests::audit_events(
        &admin,
        pb::ListAuditEventsRequest {
            target: format!("user:{id}"),
            ..Default::default()
        },
    )
    .await;
    let of = |action: &str| {
        events
            .iter()
            .filter(|e| e.action == action)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("reset.start").len(), 1);
    assert_eq!(of("reset.code_not_sent").len(), 1);
    let rejected = of("reset.code_rejected");
    assert_eq!(rejected.len(), 2, "each wrong code is an event");
    for event in rejected {
        assert!(event.details_json.contains(&flow), "names the flow");
        assert!(event.details_json.contains("wrong_code"));
        for code in wrong {
            assert!(!event.details_json.contains(code), "never the code");
        }
    }
}

async fn an_over_long_current_password_is_refused_before_any_check(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (person, id) = server
        .user_with_roles(&admin, "jana@contoso.example", &[])
        .await;
    let huge = "x".repeat(10 * 1024);
    let status = person
        .self_service()
        .add_verification_method(pb::AddVerificationMethodRequest {
            kind: pb::VerificationMethodKind::Email as i32,
            address: "jana.alt@mail.example".into(),
            current_password: huge.clone(),
        })
        .await
        .expect_err("too long to be a password");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(field_violations(&status)[0].0, "current_password");
    let status = person
        .self_service()
        .remove_verification_method(pb::RemoveVerificationMethodRequest {
            method_id: uuid::Uuid::nil().to_string(),
            current_password: huge,
        })
        .await
        .expect_err("too long to be a password");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    // Nothing was checked, so nothing counts toward lock-out or is audited as a failure.
    let db = Database::connect(server.config.database_url.as_ref().expect("db").expose())
        .await
        .expect("connect");
    let stored = password_credential::Entity::find_by_id(uuid::Uuid::parse_str(&id).expect("id"))
        .one(&db)
        .await
        .expect("read")
        .expect("credential");
    assert_eq!(stored.failed_attempts, 0);
    assert!(stored.recent_failures.is_empty());
    // The person's password still works as before.
    server.sign_in("jana@contoso.example", USER_PASSWORD).await;
}

async fn page_tokens_are_opaque_and_bound_to_tenant_listing_and_filter(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    for name in ["kim", "lea", "max"] {
        server
            .user_with_roles(&admin, &format!("{name}@contoso.example"), &[])
            .await;
    }
    let list = |filter: pb::UserState, token: String| {
        let admin = admin.clone();
        async move {
            admin
                .admin()
                .list_users(pb::ListUsersRequest {
                    page_size: 1,
                    page_token: token,
                    state: filter as i32,
                    ..Default::default()
                })
                .await
                .map(|r| r.into_inner())
        }
    };
    let first = list(pb::UserState::Unspecified, String::new())
        .await
        .expect("first page");
    let token = first.next_page_token.clone();
    assert!(!token.is_empty());
    let shown = first.users[0].username.clone();
    let local = shown.split('@').next().expect("local part").to_owned();
    assert!(!token.contains(&local), "the token shows no username");
    let decoded = URL_SAFE_NO_PAD
        .decode(token.trim_start_matches("v1:"))
        .unwrap_or_default();
    assert!(
        !String::from_utf8_lossy(&decoded).contains(&local),
        "not even once decoded"
    );
    let second = list(pb::UserState::Unspecified, token.clone())
        .await
        .expect("the token pages on");
    assert_ne!(second.users[0].username, shown);

    let refused = |result: Result<pb::ListUsersResponse, tonic::Status>| {
        let status = result.expect_err("refused");
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(field_violations(&status)[0].0, "page_token");
    };
    // Edited: one character changed.
    let mut edited: Vec<char> = token.chars().collect();
    let last = edited.len() - 1;
    edited[last] = if edited[last] == 'A' { 'B' } else { 'A' };
    refused(list(pb::UserState::Unspecified, edited.into_iter().collect()).await);
    // Hand-made in the old readable format.
    refused(
        list(
            pb::UserState::Unspecified,
            "dXNlcnM6fGFAY29udG9zby5leGFtcGxl".into(),
        )
        .await,
    );
    // Another filter of the same listing.
    refused(list(pb::UserState::Active, token.clone()).await);
    // Another listing.
    let status = admin
        .admin()
        .list_audit_events(pb::ListAuditEventsRequest {
            page_token: token.clone(),
            ..Default::default()
        })
        .await
        .expect_err("a users token is not an audit token");
    assert_eq!(status.code(), Code::InvalidArgument);
}

async fn nul_and_control_characters_are_refused_at_the_edge_of_every_call(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let anonymous = server.client().await;
    let nul = "nul\0@contoso.example".to_owned();
    refused_at(
        anonymous
            .self_service()
            .sign_in(pb::SignInRequest {
                username: nul.clone(),
                password: "whatever it is".into(),
                ..Default::default()
            })
            .await,
        "username",
    );
    refused_at(
        anonymous
            .self_service()
            .sign_in(pb::SignInRequest {
                username: "someone@contoso.example".into(),
                password: "whatever it is".into(),
                tenant: "ten\0ant".into(),
            })
            .await,
        "tenant",
    );
    refused_at(
        anonymous
            .self_service()
            .start_password_reset(pb::StartPasswordResetRequest {
                username: nul.clone(),
                ..Default::default()
            })
            .await,
        "username",
    );
    refused_at(
        anonymous
            .self_service()
            .request_admin_help(pb::RequestAdminHelpRequest {
                username: nul.clone(),
                message: "please help".into(),
                ..Default::default()
            })
            .await,
        "username",
    );
    refused_at(
        anonymous
            .self_service()
            .complete_password_reset(pb::CompletePasswordResetRequest {
                username: "someone@contoso.example".into(),
                flow_id: "\0".into(),
                new_password: "a brand new passphrase nobody has".into(),
                ..Default::default()
            })
            .await,
        "flow_id",
    );
    refused_at(
        admin
            .admin()
            .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
                users: vec![
                    gatehouse_tests::username("fine@contoso.example"),
                    gatehouse_tests::username(&nul),
                ],
                idempotency_key: "nul".into(),
                ..Default::default()
            })
            .await,
        "users[1].username",
    );
    refused_at(
        admin
            .admin()
            .list_audit_events(pb::ListAuditEventsRequest {
                target: "user:\0".into(),
                ..Default::default()
            })
            .await,
        "target",
    );
    refused_at(
        admin
            .admin()
            .assign_role(pb::AssignRoleRequest {
                principal: Some(pb::Principal {
                    kind: Some(pb::principal::Kind::Service("spiffe://svc\0".into())),
                }),
                role: pb::Role::Auditor as i32,
                ..Default::default()
            })
            .await,
        "principal.service",
    );
    // Nothing of it was stored: the service holds no role.
    let roles = admin
        .admin()
        .list_role_assignments(pb::ListRoleAssignmentsRequest::default())
        .await
        .expect("roles")
        .into_inner();
    assert!(
        roles
            .assignments
            .iter()
            .all(|a| !format!("{a:?}").contains("svc")),
        "{roles:?}"
    );
    // Free text keeps its lines.
    anonymous
        .self_service()
        .request_admin_help(pb::RequestAdminHelpRequest {
            username: "someone@contoso.example".into(),
            message: "I lost my phone.\nPlease call me.".into(),
            ..Default::default()
        })
        .await
        .expect("a message of two lines");
}

async fn each_request_is_held_to_the_size_its_call_needs(backend: Backend) {
    let server = TestServer::start(backend).await;
    let anonymous = server.client().await;
    let status = anonymous
        .self_service()
        .sign_in(pb::SignInRequest {
            username: "someone@contoso.example".into(),
            password: "p".repeat(20 * 1024),
            ..Default::default()
        })
        .await
        .expect_err("a sign-in needs no 20 KiB");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status
            .message()
            .contains("SignInRequest accepts at most 16384 bytes"),
        "{status:?}"
    );
    // A bulk list of 10,000 usernames fits its call's limit.
    let admin = server.admin().await;
    let users: Vec<_> = (0..10_000)
        .map(|i| {
            gatehouse_tests::username(&format!(
                "nobody-{i}-with-a-long-enough-name@contoso.example"
            ))
        })
        .collect();
    let mut stream = admin
        .admin()
        .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
            users,
            idempotency_key: "big".into(),
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect("10,000 names are accepted")
        .into_inner();
    while stream.message().await.expect("stream").is_some() {}
}

/// A connection whose first call works, retried while earlier connections still hold the
/// places (the server frees a place when it sees a connection close).
async fn working_connection(server: &TestServer) -> gatehouse_client::Client {
    let started = std::time::Instant::now();
    loop {
        if let Ok(client) = connect(server).await
            && answers(&client).await
        {
            return client;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "a place frees up when a connection closes"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A new connection with the dev client certificate.
async fn connect(
    server: &TestServer,
) -> Result<gatehouse_client::Client, gatehouse_client::ConnectError> {
    server
        .builder()
        .identity_pem_files(
            server.cert_path("client.pem"),
            server.cert_path("client.key"),
        )?
        .connect()
        .await
}

async fn answers(client: &gatehouse_client::Client) -> bool {
    let mut health = tonic_health::pb::health_client::HealthClient::new(client.channel());
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .is_ok()
}

async fn connections_beyond_the_cap_are_closed_at_once(backend: Backend) {
    let server = TestServer::start_with(backend, |config| config.max_connections = 2).await;
    let first = working_connection(&server).await;
    let second = working_connection(&server).await;
    // TLS 1.3 completes on the client's side before the server has decided, so the refusal
    // shows at the first call.
    let third = connect(&server).await;
    assert!(
        match &third {
            Ok(client) => !answers(client).await,
            Err(_) => true,
        },
        "a third connection is closed at once"
    );
    assert!(
        answers(&first).await && answers(&second).await,
        "the two open ones still work"
    );
    drop(first);
    working_connection(&server).await;
    drop(second);
}

async fn calls_beyond_a_connections_stream_cap_wait_their_turn(backend: Backend) {
    let server = TestServer::start_with(backend, |config| config.max_concurrent_streams = 1).await;
    let admin = server.admin().await;
    let mut users = Vec::new();
    for i in 0..150 {
        users.push(gatehouse_tests::username(
            &gatehouse_tests::create_user_named(&admin, i).await,
        ));
    }
    // A bulk reset holds the connection's one stream while it hashes, user after user.
    let mut stream = admin
        .admin()
        .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
            users,
            idempotency_key: "streams".into(),
            ..Default::default()
        })
        .await
        .expect("start")
        .into_inner();
    stream
        .message()
        .await
        .expect("started")
        .expect("the job id");
    // Another call on the same connection waits for the stream instead of running beside it.
    let mut stub = admin.admin();
    let waiting = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        stub.get_password_policy(pb::GetPasswordPolicyRequest {}),
    )
    .await;
    assert!(waiting.is_err(), "the one stream is taken: {waiting:?}");
    // Once the stream ends, calls run again.
    while stream.message().await.expect("results").is_some() {}
    admin
        .admin()
        .get_password_policy(pb::GetPasswordPolicyRequest {})
        .await
        .expect("the stream is free");
}
