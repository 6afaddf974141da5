//! Forgotten password: the self-service reset with registered security info.

use std::time::Duration;

use gatehouse_client::pb;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD, backend_tests};
use tonic::Code;

backend_tests!(
    two_proved_methods_reset_a_password_and_end_every_session,
    unknown_accounts_and_wrong_codes_get_the_same_answers,
    parallel_wrong_codes_spend_the_flow_and_codes_do_not_cross_flows,
    expired_codes_fail_and_an_account_starts_few_flows_an_hour,
);

async fn server(backend: Backend, sink: &SmtpSink) -> TestServer {
    TestServer::start_with(backend, |config| {
        sink.configure(config);
    })
    .await
}

async fn complete(
    server: &TestServer,
    name: &str,
    flow: &str,
    password: &str,
) -> Result<(), tonic::Status> {
    server
        .client()
        .await
        .self_service()
        .complete_password_reset(pb::CompletePasswordResetRequest {
            username: name.into(),
            flow_id: flow.into(),
            new_password: password.into(),
            ..Default::default()
        })
        .await
        .map(drop)
}

async fn two_proved_methods_reset_a_password_and_end_every_session(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    admin
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                reset_methods_required: Some(2),
                lockout_threshold: Some(3),
                ..Default::default()
            }),
        })
        .await
        .expect("policy");
    let eve = gatehouse_tests::user_with_alternate_email(
        &server,
        &admin,
        &sink,
        "eve@contoso.example",
        "eve.home@mail.example",
    )
    .await;
    let app = eve
        .self_service()
        .add_verification_method(pb::AddVerificationMethodRequest {
            kind: pb::VerificationMethodKind::Authenticator as i32,
            current_password: USER_PASSWORD.into(),
            ..Default::default()
        })
        .await
        .expect("add app")
        .into_inner();
    let totp = totp_rs::Totp::from_url(&app.otpauth_uri).expect("uri");
    eve.self_service()
        .confirm_verification_method(pb::ConfirmVerificationMethodRequest {
            method_id: app.method_id,
            code: totp.generate_current().to_string(),
        })
        .await
        .expect("confirm app");
    // Someone else's wrong guesses lock eve out; she can still reset.
    for i in 0..3 {
        let _ = server
            .client()
            .await
            .self_service()
            .sign_in(pb::SignInRequest {
                username: "eve@contoso.example".into(),
                password: format!("attacker guess {i}"),
                ..Default::default()
            })
            .await;
    }

    let flow = server.start_reset("eve@contoso.example").await;
    server.send_reset_code(&flow, "EVE.HOME@mail.example").await;
    let mail = sink
        .wait_for_match(0, Duration::from_secs(10), |m| {
            m.data.contains("password reset code")
        })
        .await;
    assert_eq!(mail.to, ["eve.home@mail.example"]);
    let code = mail.indented_line().expect("code");
    let one = server
        .verify_reset_code(&flow, &code)
        .await
        .expect("email code");
    assert_eq!((one.methods_proved, one.methods_required), (1, 2));
    let early = complete(
        &server,
        "eve@contoso.example",
        &flow,
        "a new passphrase for eve's account",
    )
    .await
    .unwrap_err();
    // Two methods are required: refused with the answer an unknown account's flow gets (the
    // caller knows how many remain from VerifyResetCode's answer).
    assert_eq!(
        early.code(),
        Code::Unauthenticated,
        "two methods are required"
    );
    // Wait for the next authenticator step: the confirmation used the current one.
    tokio::time::sleep(Duration::from_secs(totp.ttl() + 1)).await;
    let two = server
        .verify_reset_code(&flow, &totp.generate_current().to_string())
        .await
        .expect("app code");
    assert_eq!(two.methods_proved, 2);
    complete(
        &server,
        "eve@contoso.example",
        &flow,
        "a new passphrase for this account",
    )
    .await
    .expect("complete");

    assert_eq!(
        eve.self_service()
            .get_me(pb::GetMeRequest {})
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    let signed_in = server
        .sign_in("eve@contoso.example", "a new passphrase for this account")
        .await;
    assert_eq!(
        signed_in.session_kind(),
        pb::SessionKind::Full,
        "the lock-out was cleared"
    );
    let again = complete(
        &server,
        "eve@contoso.example",
        &flow,
        "yet another passphrase here",
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated, "a flow completes once");
    // Every registered address is told, without a secret.
    let notice = |m: &gatehouse_tests::smtp::Mail| m.data.contains("The password was reset");
    let first = sink
        .wait_for_match(0, Duration::from_secs(10), notice)
        .await;
    let second = sink
        .wait_for_match(1, Duration::from_secs(10), notice)
        .await;
    let mut told = vec![first.to[0].clone(), second.to[0].clone()];
    told.sort();
    assert_eq!(told, ["eve.home@mail.example", "eve@contoso.example"]);
    assert!(
        sink.mails()
            .iter()
            .all(|m| !m.data.contains("a new passphrase for this account"))
    );
}

async fn unknown_accounts_and_wrong_codes_get_the_same_answers(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    gatehouse_tests::user_with_alternate_email(
        &server,
        &admin,
        &sink,
        "fin@contoso.example",
        "fin.home@mail.example",
    )
    .await;
    let real = server.start_reset("fin@contoso.example").await;
    let fake = server.start_reset("nobody@contoso.example").await;
    assert_eq!(real.len(), fake.len());
    assert!(uuid::Uuid::parse_str(&fake).is_ok());
    server.send_reset_code(&fake, "fin.home@mail.example").await;
    server
        .send_reset_code(&real, "not.registered@mail.example")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        sink.mails()
            .iter()
            .all(|m| !m.data.contains("password reset code")),
        "no code went anywhere"
    );
    let on_fake = server
        .verify_reset_code(&fake, "12345678")
        .await
        .unwrap_err();
    let on_real = server
        .verify_reset_code(&real, "12345678")
        .await
        .unwrap_err();
    assert_eq!(
        (on_fake.code(), on_fake.message()),
        (on_real.code(), on_real.message())
    );
    assert_eq!(on_real.code(), Code::Unauthenticated);
}

async fn parallel_wrong_codes_spend_the_flow_and_codes_do_not_cross_flows(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    gatehouse_tests::user_with_alternate_email(
        &server,
        &admin,
        &sink,
        "gil@contoso.example",
        "gil.home@mail.example",
    )
    .await;

    let first = server.start_reset("gil@contoso.example").await;
    server
        .send_reset_code(&first, "gil.home@mail.example")
        .await;
    let is_code = |m: &gatehouse_tests::smtp::Mail| m.data.contains("password reset code");
    let code = sink
        .wait_for_match(0, Duration::from_secs(10), is_code)
        .await
        .indented_line()
        .expect("code");
    let second = server.start_reset("gil@contoso.example").await;
    assert_eq!(
        server
            .verify_reset_code(&second, &code)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated,
        "bound to its flow"
    );

    let client = server.client().await;
    let guesses: Vec<_> = (0..50)
        .map(|i| {
            let mut stub = client.self_service();
            let flow = first.clone();
            tokio::spawn(async move {
                stub.verify_reset_code(pb::VerifyResetCodeRequest {
                    flow_id: flow,
                    code: format!("{:08}", 10_000_000 + i),
                })
                .await
            })
        })
        .collect();
    for guess in guesses {
        assert!(guess.await.expect("join").is_err());
    }
    // Tries are spent: even the right code no longer works in this flow, and a resend does
    // not give them back.
    assert_eq!(
        server
            .verify_reset_code(&first, &code)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
    server
        .send_reset_code(&first, "gil.home@mail.example")
        .await;
    let fresh = sink
        .wait_for_match(1, Duration::from_secs(10), is_code)
        .await
        .indented_line()
        .expect("code");
    assert_eq!(
        server
            .verify_reset_code(&first, &fresh)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );
}

async fn expired_codes_fail_and_an_account_starts_few_flows_an_hour(backend: Backend) {
    use gatehouse::store::entities::reset_flow;
    use sea_orm::sea_query::Expr;
    use sea_orm::{Database, EntityTrait as _};

    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    gatehouse_tests::user_with_alternate_email(
        &server,
        &admin,
        &sink,
        "hal@contoso.example",
        "hal.home@mail.example",
    )
    .await;
    let is_code = |m: &gatehouse_tests::smtp::Mail| m.data.contains("password reset code");

    let flow = server.start_reset("hal@contoso.example").await;
    server.send_reset_code(&flow, "hal.home@mail.example").await;
    let code = sink
        .wait_for_match(0, Duration::from_secs(10), is_code)
        .await
        .indented_line()
        .expect("code");
    // The code outlives its time.
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    reset_flow::Entity::update_many()
        .col_expr(
            reset_flow::Column::CodeExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::minutes(1)),
        )
        .exec(&db)
        .await
        .expect("expire the code");
    assert_eq!(
        server
            .verify_reset_code(&flow, &code)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // Four more flows this hour are allowed; the sixth answers the same but sends nothing.
    for _ in 0..4 {
        let flow = server.start_reset("hal@contoso.example").await;
        server.send_reset_code(&flow, "hal.home@mail.example").await;
    }
    sink.wait_for_match(4, Duration::from_secs(10), is_code)
        .await;
    let sixth = server.start_reset("hal@contoso.example").await;
    server
        .send_reset_code(&sixth, "hal.home@mail.example")
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sink.mails().iter().filter(|m| is_code(m)).count(),
        5,
        "rate-limited"
    );
}
