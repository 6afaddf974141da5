//! Resets by invitation: the administrator never sees a password, the code arrives by real
//! SMTP through the outbox, and the person sets their own password with it.

use std::time::Duration;

use gatehouse::store::entities::outbox_message;
use gatehouse_client::pb;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{
    Backend, TestServer, USER_PASSWORD, backend_tests, field_violations, username,
};
use sea_orm::{Database, EntityTrait as _};
use tonic::Code;

backend_tests!(
    an_invitation_lets_the_person_choose_a_password_once,
    a_code_allows_a_few_tries_only,
    email_waits_in_the_outbox_until_the_mail_server_is_back,
    a_bulk_reset_can_invite_everyone_instead_of_showing_passwords,
    a_later_reset_cancels_an_unused_invitation,
);

async fn server_with_mail(backend: Backend, sink_port: u16) -> TestServer {
    TestServer::start_with(backend, |config| {
        config.smtp_host = Some("127.0.0.1".into());
        config.smtp_port = sink_port;
        config.smtp_security = "none".into();
        config.mail_from = "Gatehouse <noreply@contoso.example>".into();
        config.outbox_poll_millis = 50;
    })
    .await
}

async fn invite(admin: &gatehouse_client::Client, name: &str) -> pb::ResetPasswordResponse {
    admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username(name)),
            delivery: pb::ResetDelivery::Invitation as i32,
            ..Default::default()
        })
        .await
        .expect("invite")
        .into_inner()
}

async fn complete(
    server: &TestServer,
    name: &str,
    code: &str,
    new_password: &str,
) -> Result<pb::CompletePasswordResetResponse, tonic::Status> {
    server
        .client()
        .await
        .self_service()
        .complete_password_reset(pb::CompletePasswordResetRequest {
            username: name.into(),
            code: code.into(),
            new_password: new_password.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn an_invitation_lets_the_person_choose_a_password_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server_with_mail(backend, sink.addr.port()).await;
    let admin = server.admin().await;
    let (nora, _) = server
        .user_with_roles(&admin, "nora@contoso.example", &[])
        .await;
    admin
        .admin()
        .update_user(pb::UpdateUserRequest {
            id: nora
                .self_service()
                .get_me(pb::GetMeRequest {})
                .await
                .expect("me")
                .into_inner()
                .user
                .expect("user")
                .id,
            version: 1,
            contact_email: Some("nora.private@mail.example".into()),
            ..Default::default()
        })
        .await
        .expect("contact email");

    let response = invite(&admin, "nora@contoso.example").await;
    assert!(response.invitation_sent);
    assert!(
        response.generated_password.is_empty(),
        "the administrator sees no password"
    );
    assert_eq!(response.revoked_sessions, 1);
    let old = server
        .client()
        .await
        .self_service()
        .sign_in(pb::SignInRequest {
            username: "nora@contoso.example".into(),
            password: USER_PASSWORD.into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        old.code(),
        Code::Unauthenticated,
        "the old password stopped working"
    );

    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].to, ["nora.private@mail.example"]);
    assert!(mails[0].data.contains("Choose your new password"));
    let code = mails[0].indented_line().expect("the code line");

    let wrong = complete(
        &server,
        "nora@contoso.example",
        "AAAA-BBBB-CCCC-DDDD-EEEE",
        "a brand new passphrase here",
    )
    .await
    .unwrap_err();
    assert_eq!(wrong.code(), Code::Unauthenticated);
    let unknown = complete(
        &server,
        "nobody@contoso.example",
        &code,
        "a brand new passphrase here",
    )
    .await
    .unwrap_err();
    assert_eq!(
        (unknown.code(), unknown.message()),
        (wrong.code(), wrong.message())
    );

    let weak = complete(&server, "nora@contoso.example", &code, "short")
        .await
        .unwrap_err();
    assert_eq!(weak.code(), Code::InvalidArgument);
    assert_eq!(field_violations(&weak)[0].0, "new_password");

    // Typed loosely: lower case, no dashes.
    let typed = code.replace('-', "").to_lowercase();
    complete(
        &server,
        "nora@contoso.example",
        &typed,
        "a brand new passphrase here",
    )
    .await
    .expect("complete");
    let again = complete(
        &server,
        "nora@contoso.example",
        &code,
        "yet another passphrase now",
    )
    .await
    .unwrap_err();
    assert_eq!(again.code(), Code::Unauthenticated, "single use");

    let signed_in = server
        .sign_in("nora@contoso.example", "a brand new passphrase here")
        .await;
    assert_eq!(signed_in.session_kind(), pb::SessionKind::Full);
    let mails = sink.wait_for(2, Duration::from_secs(10)).await;
    assert!(mails[1].data.contains("Your password was changed"));
    assert!(!mails[1].data.contains("a brand new passphrase here"));

    // Delivered messages keep no body: the code is gone from the database.
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    // The sink has the mail a moment before the dispatcher records the delivery.
    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = outbox_message::Entity::find()
            .all(&db)
            .await
            .expect("outbox");
        if stored.iter().all(|m| m.sent_at.is_some()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stored.len(), 2);
    assert!(
        stored
            .iter()
            .all(|m| m.sent_at.is_some() && m.body.is_empty())
    );
}

async fn a_code_allows_a_few_tries_only(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server_with_mail(backend, sink.addr.port()).await;
    let admin = server.admin().await;
    server
        .user_with_roles(&admin, "otto@contoso.example", &[])
        .await;
    invite(&admin, "otto@contoso.example").await;
    let code = sink.wait_for(1, Duration::from_secs(10)).await[0]
        .indented_line()
        .expect("code");
    for _ in 0..5 {
        complete(
            &server,
            "otto@contoso.example",
            "WRONG-WRONG-WRONG",
            "a brand new passphrase here",
        )
        .await
        .unwrap_err();
    }
    let spent = complete(
        &server,
        "otto@contoso.example",
        &code,
        "a brand new passphrase here",
    )
    .await
    .unwrap_err();
    assert_eq!(
        spent.code(),
        Code::Unauthenticated,
        "five wrong tries use the code up"
    );
}

async fn email_waits_in_the_outbox_until_the_mail_server_is_back(backend: Backend) {
    // A port with nothing listening yet: the mail server is down.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let server = server_with_mail(backend, port).await;
    let admin = server.admin().await;
    server
        .user_with_roles(&admin, "pia@contoso.example", &[])
        .await;
    invite(&admin, "pia@contoso.example").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    let waiting = outbox_message::Entity::find()
        .all(&db)
        .await
        .expect("outbox");
    assert_eq!(waiting.len(), 1);
    assert!(waiting[0].sent_at.is_none());
    assert!(
        waiting[0].attempts >= 1,
        "a delivery was attempted and failed"
    );

    let sink = SmtpSink::start_on(format!("127.0.0.1:{port}").parse().expect("addr")).await;
    let mails = sink.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].indented_line().is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails().len(), 1, "delivered once");
}

async fn a_bulk_reset_can_invite_everyone_instead_of_showing_passwords(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server_with_mail(backend, sink.addr.port()).await;
    let admin = server.admin().await;
    for name in ["v1", "v2", "v3"] {
        server
            .user_with_roles(&admin, &format!("{name}@contoso.example"), &[])
            .await;
    }
    let mut stream = admin
        .admin()
        .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
            users: ["v1", "v2", "v3"]
                .iter()
                .map(|n| username(&format!("{n}@contoso.example")))
                .collect(),
            delivery: pb::ResetDelivery::Invitation as i32,
            idempotency_key: "invite-all".into(),
            ..Default::default()
        })
        .await
        .expect("bulk")
        .into_inner();
    let mut results = Vec::new();
    while let Some(message) = stream.message().await.expect("stream") {
        if let Some(pb::bulk_reset_passwords_response::Event::Result(r)) = message.event {
            results.push(r);
        }
    }
    assert_eq!(results.len(), 3);
    assert!(
        results
            .iter()
            .all(|r| r.outcome() == pb::BulkOutcome::Reset && r.invitation_sent)
    );
    assert!(
        results.iter().all(|r| r.generated_password.is_empty()),
        "nobody sees a password"
    );
    let mails = sink.wait_for(3, Duration::from_secs(10)).await;
    let to_v2 = mails
        .iter()
        .find(|m| m.to == ["v2@contoso.example"])
        .expect("v2's invitation");
    let code = to_v2.indented_line().expect("code");
    complete(
        &server,
        "v2@contoso.example",
        &code,
        "v2 chose this long passphrase",
    )
    .await
    .expect("complete");
    server
        .sign_in("v2@contoso.example", "v2 chose this long passphrase")
        .await;
}

async fn a_later_reset_cancels_an_unused_invitation(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server_with_mail(backend, sink.addr.port()).await;
    let admin = server.admin().await;
    server
        .user_with_roles(&admin, "walt@contoso.example", &[])
        .await;
    invite(&admin, "walt@contoso.example").await;
    let code = sink.wait_for(1, Duration::from_secs(10)).await[0]
        .indented_line()
        .expect("code");
    let shown = admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username("walt@contoso.example")),
            ..Default::default()
        })
        .await
        .expect("show-once reset")
        .into_inner();
    let stale = complete(
        &server,
        "walt@contoso.example",
        &code,
        "an attacker's passphrase here",
    )
    .await
    .unwrap_err();
    assert_eq!(
        stale.code(),
        Code::Unauthenticated,
        "the old invitation died with the password it replaced"
    );
    server
        .sign_in("walt@contoso.example", &shown.generated_password)
        .await;
}

mod killed_before_delivery {
    use super::*;
    use gatehouse_tests::{ServerProcess, fresh_database};

    backend_tests!(a_message_committed_before_a_kill_is_delivered_once_after_restart);

    /// SIGKILL right after a reset commits and before its email leaves (the mail server is
    /// down), then a restart with the mail server up: the message arrives, once.
    async fn a_message_committed_before_a_kill_is_delivered_once_after_restart(backend: Backend) {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = fresh_database(backend, dir.path()).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("port")
            .local_addr()
            .expect("addr")
            .port();
        let env = [
            ("GATEHOUSE_SMTP_HOST", "127.0.0.1".to_owned()),
            ("GATEHOUSE_SMTP_PORT", port.to_string()),
            ("GATEHOUSE_SMTP_SECURITY", "none".to_owned()),
            ("GATEHOUSE_OUTBOX_POLL_MILLIS", "50".to_owned()),
        ];
        let process = ServerProcess::start_with_env(dir.path(), &database, &env).await;
        let admin = process.admin().await;
        admin
            .admin()
            .create_user(pb::CreateUserRequest {
                username: "yara@contoso.example".into(),
                display_name: "Yara".into(),
                ..Default::default()
            })
            .await
            .expect("create");
        invite(&admin, "yara@contoso.example").await;
        let (data_dir, database) = process.kill().await;

        let sink = SmtpSink::start_on(format!("127.0.0.1:{port}").parse().expect("addr")).await;
        let process = ServerProcess::start_with_env(&data_dir, &database, &env).await;
        let mails = sink.wait_for(1, Duration::from_secs(60)).await;
        assert_eq!(mails[0].to, ["yara@contoso.example"]);
        assert!(
            mails[0].indented_line().is_some(),
            "the invitation code arrived"
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(sink.mails().len(), 1, "delivered exactly once");
        process.kill().await;
    }
}

mod several_dispatchers {
    use super::*;
    use gatehouse_tests::{ServerProcess, fresh_database};

    backend_tests!(three_server_processes_on_one_database_send_each_message_once);

    /// Three `gatehouse serve` processes on one database, each with a dispatcher polling every
    /// 50 ms, while a bulk reset queues 60 invitations: every message arrives exactly once.
    async fn three_server_processes_on_one_database_send_each_message_once(backend: Backend) {
        const USERS: usize = 60;
        let sink = SmtpSink::start().await;
        let dir = tempfile::tempdir().expect("tempdir");
        let database = fresh_database(backend, dir.path()).await;
        let env = [
            ("GATEHOUSE_SMTP_HOST", "127.0.0.1".to_owned()),
            ("GATEHOUSE_SMTP_PORT", sink.addr.port().to_string()),
            ("GATEHOUSE_SMTP_SECURITY", "none".to_owned()),
            ("GATEHOUSE_OUTBOX_POLL_MILLIS", "50".to_owned()),
        ];
        let first = ServerProcess::start_with_env(dir.path(), &database, &env).await;
        let others = [
            ServerProcess::start_with_env(dir.path(), &database, &env).await,
            ServerProcess::start_with_env(dir.path(), &database, &env).await,
        ];
        let admin = first.admin().await;
        let mut users = Vec::new();
        for i in 0..USERS {
            let name = format!("member{i:02}@contoso.example");
            admin
                .admin()
                .create_user(pb::CreateUserRequest {
                    username: name.clone(),
                    display_name: format!("Member {i}"),
                    ..Default::default()
                })
                .await
                .expect("create");
            users.push(username(&name));
        }
        let mut stream = admin
            .admin()
            .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
                users,
                delivery: pb::ResetDelivery::Invitation as i32,
                ..Default::default()
            })
            .await
            .expect("bulk")
            .into_inner();
        while stream.message().await.expect("stream").is_some() {}

        sink.wait_for(USERS, Duration::from_secs(60)).await;
        // Time for a duplicate to show up, were there one.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mails = sink.mails();
        assert_eq!(mails.len(), USERS, "one message per user, none twice");
        let mut recipients: Vec<String> = mails.iter().map(|m| m.to.join(",")).collect();
        recipients.sort();
        recipients.dedup();
        assert_eq!(recipients.len(), USERS, "every user, once");
        let mut ids: Vec<&str> = mails
            .iter()
            .filter_map(|m| {
                m.data
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), USERS, "distinct Message-IDs");
        for process in others {
            process.kill().await;
        }
        first.kill().await;
    }
}
