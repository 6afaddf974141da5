//! What a copy of the database gives away: no one-time code (they are keyed with the server's
//! secret key, which lives in a file, not in the database) and no authenticator secret (sealed
//! with that key, bound to its row). Without the key file, only dev mode starts.

use std::time::Duration;

use gatehouse::store::entities::{one_time_code, outbox_message, verification_method};
use gatehouse_client::pb;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD, backend_tests, username};
use sea_orm::{Database, EntityTrait as _};
use sha2::{Digest as _, Sha256};

backend_tests!(
    a_database_copy_holds_no_code_and_no_authenticator_secret,
    a_message_waiting_for_the_mail_server_is_sealed_in_the_outbox,
    outside_dev_mode_the_server_needs_its_key_file,
    a_key_rotation_keeps_codes_and_authenticators_working,
);

const WAIT: Duration = Duration::from_secs(10);

fn sha256_hex(text: &str) -> String {
    hex_string(&Sha256::digest(text.as_bytes()))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn a_database_copy_holds_no_code_and_no_authenticator_secret(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(backend, |config| {
        sink.configure(config);
    })
    .await;
    let admin = server.admin().await;
    let (ivy, _) = server
        .user_with_roles(&admin, "ivy@contoso.example", &[])
        .await;

    // An authenticator: the secret is in the URI, shown once, and not in the database.
    let app = ivy
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
    let secret = app
        .otpauth_uri
        .split("secret=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("secret in the URI")
        .to_owned();
    assert!(secret.len() >= 16);
    // An alternate email: its confirmation code arrives by mail.
    let email = ivy
        .self_service()
        .add_verification_method(pb::AddVerificationMethodRequest {
            kind: pb::VerificationMethodKind::Email as i32,
            address: "ivy.home@mail.example".into(),
            current_password: USER_PASSWORD.into(),
        })
        .await
        .expect("add email")
        .into_inner();
    let confirmation = sink
        .wait_for_match(0, WAIT, |m| m.to == ["ivy.home@mail.example"])
        .await
        .indented_line()
        .expect("code");
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    let methods = verification_method::Entity::find()
        .all(&db)
        .await
        .expect("methods");
    let stored_app = methods
        .iter()
        .find(|m| m.kind == "authenticator")
        .expect("app row");
    assert!(stored_app.address.starts_with("v1:"), "sealed");
    assert!(!stored_app.address.contains(&secret), "no secret in clear");
    assert!(
        !stored_app.address.contains(&secret.to_lowercase()),
        "no secret in clear"
    );
    let stored_email = methods
        .iter()
        .find(|m| m.kind == "email")
        .expect("email row");
    let digest = stored_email.code_hash.clone().expect("a live code");
    assert_ne!(digest, sha256_hex(&confirmation), "not a plain SHA-256");
    // What was stored still works with the server's key.
    ivy.self_service()
        .confirm_verification_method(pb::ConfirmVerificationMethodRequest {
            method_id: app.method_id,
            code: totp.generate_current().to_string(),
        })
        .await
        .expect("the sealed secret opens");
    ivy.self_service()
        .confirm_verification_method(pb::ConfirmVerificationMethodRequest {
            method_id: email.method_id,
            code: confirmation,
        })
        .await
        .expect("the keyed digest matches");

    // An invitation: its code arrives by mail too.
    admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username("ivy@contoso.example")),
            delivery: pb::ResetDelivery::Invitation as i32,
            ..Default::default()
        })
        .await
        .expect("invite");
    let invitation = sink
        .wait_for_match(0, WAIT, |m| m.data.contains("Choose your new password"))
        .await
        .indented_line()
        .expect("code");

    let codes = one_time_code::Entity::find().all(&db).await.expect("codes");
    assert_eq!(codes.len(), 1);
    assert_ne!(
        codes[0].code_hash,
        sha256_hex(&invitation),
        "not a plain SHA-256"
    );
    assert!(!codes[0].code_hash.contains(&invitation));
}

async fn a_message_waiting_for_the_mail_server_is_sealed_in_the_outbox(backend: Backend) {
    // The mail server is down: a port nobody listens on, until the sink starts there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port();
    let server = TestServer::start_with(backend, |config| {
        config.smtp_host = Some("127.0.0.1".into());
        config.smtp_port = port;
        config.smtp_security = "none".into();
        config.outbox_poll_millis = 50;
    })
    .await;
    let admin = server.admin().await;
    server
        .user_with_roles(&admin, "oona@contoso.example", &[])
        .await;
    admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username("oona@contoso.example")),
            delivery: pb::ResetDelivery::Invitation as i32,
            ..Default::default()
        })
        .await
        .expect("invite");

    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    let waiting = outbox_message::Entity::find()
        .all(&db)
        .await
        .expect("outbox");
    assert_eq!(waiting.len(), 1);
    assert!(waiting[0].sent_at.is_none());
    assert!(waiting[0].body.starts_with("v1:"), "sealed");
    assert!(!waiting[0].body.contains("Choose"), "no text in clear");

    // The mail server comes up: the message arrives, opened, with its code.
    let sink = SmtpSink::start_on(format!("127.0.0.1:{port}").parse().expect("addr")).await;
    let mail = sink
        .wait_for_match(0, Duration::from_secs(30), |m| {
            m.data.contains("Choose your new password")
        })
        .await;
    let code = mail.indented_line().expect("the code arrived in clear");
    assert!(!waiting[0].body.contains(&code));
}

async fn outside_dev_mode_the_server_needs_its_key_file(backend: Backend) {
    let mut server = TestServer::start(backend).await;
    let key_file = server.config.secret_key_file();
    let key = std::fs::read_to_string(&key_file).expect("dev mode wrote the key");
    assert_eq!(key.trim().len(), 64, "256 bits in hex");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let dir = server.take_dir().expect("dir");
    let mut config = server.config.clone();
    server.stop().await;

    std::fs::remove_file(&key_file).expect("remove the key");
    config.dev = false;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let refused = gatehouse::serve(config.clone(), listener, std::future::pending())
        .await
        .expect_err("no key, no server");
    let message = format!("{refused:#}");
    assert!(
        message.contains("secret key file") && message.contains("gatehouse gen-key"),
        "{message}"
    );

    std::fs::write(&key_file, "not a key\n").expect("write");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let refused = gatehouse::serve(config.clone(), listener, std::future::pending())
        .await
        .expect_err("a malformed key, no server");
    assert!(
        format!("{refused:#}").contains("64 hex digits"),
        "{refused:#}"
    );

    // The key put back, the server starts as before.
    std::fs::write(&key_file, key).expect("write");
    let server = TestServer::run(config).await;
    server.stop().await;
    drop(dir);
}

async fn a_key_rotation_keeps_codes_and_authenticators_working(backend: Backend) {
    let sink = SmtpSink::start().await;
    let mut server = TestServer::start_with(backend, |config| sink.configure(config)).await;
    let admin = server.admin().await;
    let (rue, _) = server
        .user_with_roles(&admin, "rue@contoso.example", &[])
        .await;
    let app = rue
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
    rue.self_service()
        .confirm_verification_method(pb::ConfirmVerificationMethodRequest {
            method_id: app.method_id.clone(),
            code: totp.generate_current().to_string(),
        })
        .await
        .expect("confirm");
    // An invitation made under the old key, not used yet.
    server
        .user_with_roles(&admin, "sol@contoso.example", &[])
        .await;
    admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(username("sol@contoso.example")),
            delivery: pb::ResetDelivery::Invitation as i32,
            ..Default::default()
        })
        .await
        .expect("invite");
    let invitation = sink
        .wait_for_match(0, WAIT, |m| m.data.contains("Choose your new password"))
        .await
        .indented_line()
        .expect("code");
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    let sealed_before = verification_method::Entity::find()
        .all(&db)
        .await
        .expect("methods")[0]
        .address
        .clone();

    // Rotate: a new key in secret_key_file, the old one as secret_key_previous_file.
    let dir = server.take_dir().expect("dir");
    let mut config = server.config.clone();
    server.stop().await;
    let key_file = config.secret_key_file();
    let old_file = dir.path().join("secret.key.old");
    std::fs::rename(&key_file, &old_file).expect("keep the old key");
    gatehouse::write_new_key(&key_file).expect("a new key");
    config.secret_key_previous_file = Some(old_file);
    let server = TestServer::run(config.clone()).await;
    let sealed_after = verification_method::Entity::find()
        .all(&db)
        .await
        .expect("methods")[0]
        .address
        .clone();
    assert!(sealed_after.starts_with("v1:"));
    assert_ne!(
        sealed_after, sealed_before,
        "sealed again under the new key at start-up"
    );
    // A code made under the old key still works during the rotation.
    server
        .client()
        .await
        .self_service()
        .complete_password_reset(pb::CompletePasswordResetRequest {
            username: "sol@contoso.example".into(),
            code: invitation,
            new_password: "a passphrase chosen after the rotation".into(),
            ..Default::default()
        })
        .await
        .expect("the old invitation completes");
    server.stop().await;

    // The rotation done, the old key goes: the authenticator still proves a reset.
    config.secret_key_previous_file = None;
    let server = TestServer::run(config).await;
    let flow = server.start_reset("rue@contoso.example").await;
    // The next time step (accepted with one step of skew): the confirmation used this one.
    let now = u64::try_from(chrono::Utc::now().timestamp()).expect("time");
    let next = totp.generate(now + totp.ttl()).to_string();
    let proved = server
        .verify_reset_code(&flow, &next)
        .await
        .expect("the authenticator works under the new key alone");
    assert_eq!(proved.methods_proved, 1);
    server.stop().await;
    drop(dir);
}
