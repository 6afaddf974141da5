//! No secret in any log line: runs the whole first slice with every log level on, captures
//! everything the server logs, and looks for each password, token and hash it handled.
//! (Its own test binary, because it installs the process-wide log subscriber.)

use gatehouse_client::pb;
use gatehouse_tests::{ADMIN_PASSWORD, Backend, TestServer, backend_tests, username};

backend_tests!(a_full_slice_logs_no_secret);

async fn a_full_slice_logs_no_secret(backend: Backend) {
    let capture = gatehouse_tests::logs::capture("trace");
    let sink = gatehouse_tests::smtp::SmtpSink::start().await;
    let server = TestServer::start_with(backend, |config| {
        sink.configure(config);
    })
    .await;
    let mut secrets = vec![server.admin_password.clone(), ADMIN_PASSWORD.to_owned()];

    let first = server
        .sign_in(&server.admin_username, &server.admin_password)
        .await;
    secrets.push(first.session_token.clone());
    let admin = server.admin().await;
    admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "quinn@contoso.example".into(),
            display_name: "Quinn".into(),
            ..Default::default()
        })
        .await
        .expect("create");
    let reset = admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username("quinn@contoso.example")),
            ..Default::default()
        })
        .await
        .expect("reset")
        .into_inner();
    secrets.push(reset.generated_password.clone());
    let wrong = "a wrong guess at the passphrase";
    secrets.push(wrong.to_owned());
    let _ = admin
        .without_session()
        .self_service()
        .sign_in(pb::SignInRequest {
            username: "quinn@contoso.example".into(),
            password: wrong.into(),
            ..Default::default()
        })
        .await
        .expect_err("wrong password");
    let temp = server
        .sign_in("quinn@contoso.example", &reset.generated_password)
        .await;
    secrets.push(temp.session_token.clone());
    let new_password = "the passphrase chosen by the person";
    secrets.push(new_password.to_owned());
    let changed = server
        .client()
        .await
        .with_session(temp.session_token)
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: reset.generated_password.clone(),
            new_password: new_password.into(),
        })
        .await
        .expect("change")
        .into_inner();
    secrets.push(changed.session_token.clone());
    let quinn = server.client().await.with_session(changed.session_token);
    quinn
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("me");
    quinn
        .self_service()
        .sign_out(pb::SignOutRequest {})
        .await
        .expect("sign out");

    // Bulk resets stream passwords; invitations mail codes. Neither may be logged.
    let mut stream = admin
        .admin()
        .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
            users: vec![username("quinn@contoso.example")],
            ..Default::default()
        })
        .await
        .expect("bulk")
        .into_inner();
    while let Some(message) = stream.message().await.expect("stream") {
        if let Some(pb::bulk_reset_passwords_response::Event::Result(r)) = message.event {
            secrets.push(r.generated_password);
        }
    }
    admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username("quinn@contoso.example")),
            delivery: pb::ResetDelivery::Invitation as i32,
            ..Default::default()
        })
        .await
        .expect("invite");
    // The bulk reset's notices may come first: the invitation is the one with the code.
    let code = sink
        .wait_for_match(0, std::time::Duration::from_secs(10), |m| {
            m.data.contains("Choose your new password")
        })
        .await
        .indented_line()
        .expect("code");
    let invited_password = "chosen with the invitation code";
    server
        .client()
        .await
        .self_service()
        .complete_password_reset(pb::CompletePasswordResetRequest {
            username: "quinn@contoso.example".into(),
            code: code.clone(),
            new_password: invited_password.into(),
            ..Default::default()
        })
        .await
        .expect("complete");
    secrets.push(code);
    secrets.push(invited_password.to_owned());
    // And the server's secret key.
    let key = std::fs::read_to_string(server.config.secret_key_file()).expect("key file");
    secrets.push(key.trim().to_owned());

    // Nor the audit trail.
    for event in gatehouse_tests::audit_events(&admin, pb::ListAuditEventsRequest::default()).await
    {
        for secret in &secrets {
            assert!(
                !event.details_json.contains(secret.as_str()),
                "a secret reached the audit log"
            );
        }
    }
    server.stop().await;

    let logs = capture.text();
    assert!(
        logs.contains("password reset"),
        "the capture works: the slice's events are in it"
    );
    for secret in &secrets {
        assert!(!secret.is_empty());
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
    }
    assert!(
        !logs.contains("$argon2"),
        "a password hash reached the logs"
    );
}
