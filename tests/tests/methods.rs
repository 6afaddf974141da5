//! Security info: registering, confirming, listing and removing verification methods, and
//! what administrators may see and clear.

use std::time::Duration;

use gatehouse_client::{Client, pb};
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD, backend_tests, user_id};
use tonic::Code;

backend_tests!(
    an_alternate_email_is_confirmed_with_the_emailed_code,
    an_authenticator_is_confirmed_with_a_current_code_once,
    removing_a_method_needs_the_password_and_admins_see_masked_and_clear,
);

async fn server(backend: Backend, sink: &SmtpSink) -> TestServer {
    TestServer::start_with(backend, |config| {
        sink.configure(config);
    })
    .await
}

async fn add(
    client: &Client,
    kind: pb::VerificationMethodKind,
    address: &str,
    password: &str,
) -> Result<pb::AddVerificationMethodResponse, tonic::Status> {
    client
        .self_service()
        .add_verification_method(pb::AddVerificationMethodRequest {
            kind: kind as i32,
            address: address.into(),
            current_password: password.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn confirm(client: &Client, method_id: &str, code: &str) -> Result<(), tonic::Status> {
    client
        .self_service()
        .confirm_verification_method(pb::ConfirmVerificationMethodRequest {
            method_id: method_id.into(),
            code: code.into(),
        })
        .await
        .map(drop)
}

async fn list(client: &Client) -> Vec<pb::VerificationMethod> {
    client
        .self_service()
        .list_verification_methods(pb::ListVerificationMethodsRequest {})
        .await
        .expect("list")
        .into_inner()
        .methods
}

async fn an_alternate_email_is_confirmed_with_the_emailed_code(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let (amy, _) = server
        .user_with_roles(&admin, "amy@contoso.example", &[])
        .await;

    let wrong_password = add(
        &amy,
        pb::VerificationMethodKind::Email,
        "amy.home@mail.example",
        "not my password",
    )
    .await;
    assert_eq!(wrong_password.unwrap_err().code(), Code::Unauthenticated);
    let added = add(
        &amy,
        pb::VerificationMethodKind::Email,
        "amy.home@mail.example",
        USER_PASSWORD,
    )
    .await
    .expect("add");
    assert!(added.otpauth_uri.is_empty());
    let listed = list(&amy).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].masked, "a•••@mail.example");
    assert!(!listed[0].verified);

    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].to, ["amy.home@mail.example"]);
    let code = mails[0].indented_line().expect("code");
    assert_eq!(code.len(), 8);
    let wrong = confirm(&amy, &added.method_id, "00000000")
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument);
    confirm(&amy, &added.method_id, &code)
        .await
        .expect("confirm");
    assert!(list(&amy).await[0].verified);
    // The person's contact address is told of the new method.
    let mails = sink.wait_for(2, Duration::from_secs(10)).await;
    assert!(mails[1].to == ["amy@contoso.example"] && mails[1].data.contains("security info"));
    let again = confirm(&amy, &added.method_id, &code).await.unwrap_err();
    assert_eq!(again.code(), Code::InvalidArgument, "a code is used once");
}

async fn an_authenticator_is_confirmed_with_a_current_code_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let (ben, _) = server
        .user_with_roles(&admin, "ben@contoso.example", &[])
        .await;
    let added = add(
        &ben,
        pb::VerificationMethodKind::Authenticator,
        "",
        USER_PASSWORD,
    )
    .await
    .expect("add");
    assert!(
        added.otpauth_uri.starts_with("otpauth://totp/"),
        "{}",
        added.otpauth_uri.len()
    );
    // The person's app, enrolled from the URI.
    let app = totp_rs::Totp::from_url(&added.otpauth_uri).expect("a valid otpauth URI");
    assert_eq!(
        confirm(&ben, &added.method_id, "123456")
            .await
            .unwrap_err()
            .code(),
        Code::InvalidArgument
    );
    let code = app.generate_current().to_string();
    confirm(&ben, &added.method_id, &code)
        .await
        .expect("confirm");
    let methods = list(&ben).await;
    assert_eq!(
        (methods[0].masked.as_str(), methods[0].verified),
        ("Authenticator app", true)
    );
    let replay = confirm(&ben, &added.method_id, &code).await.unwrap_err();
    assert_eq!(
        replay.code(),
        Code::InvalidArgument,
        "the same code is not accepted twice"
    );
}

async fn removing_a_method_needs_the_password_and_admins_see_masked_and_clear(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let (cal, cal_id) = server
        .user_with_roles(&admin, "cal@contoso.example", &[])
        .await;
    let first = add(
        &cal,
        pb::VerificationMethodKind::Email,
        "cal.one@mail.example",
        USER_PASSWORD,
    )
    .await
    .expect("add");
    add(
        &cal,
        pb::VerificationMethodKind::Authenticator,
        "",
        USER_PASSWORD,
    )
    .await
    .expect("add");

    let refused = cal
        .self_service()
        .remove_verification_method(pb::RemoveVerificationMethodRequest {
            method_id: first.method_id.clone(),
            current_password: "wrong password".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    cal.self_service()
        .remove_verification_method(pb::RemoveVerificationMethodRequest {
            method_id: first.method_id,
            current_password: USER_PASSWORD.into(),
        })
        .await
        .expect("remove");
    assert_eq!(list(&cal).await.len(), 1);

    let (desk, _) = server
        .user_with_roles(&admin, "desk@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let seen = desk
        .admin()
        .list_user_verification_methods(pb::ListUserVerificationMethodsRequest {
            user: Some(user_id(&cal_id)),
        })
        .await
        .expect("admin list")
        .into_inner()
        .methods;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].masked, "Authenticator app", "no secret, no address");
    let cleared = desk
        .admin()
        .clear_verification_methods(pb::ClearVerificationMethodsRequest {
            user: Some(user_id(&cal_id)),
        })
        .await
        .expect("clear")
        .into_inner();
    assert_eq!(cleared.cleared, 1);
    assert!(list(&cal).await.is_empty());

    // A change-only session may not touch security info.
    let (_, dee) = server
        .user_with_roles(&admin, "dee@contoso.example", &[])
        .await;
    let reset = admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(&dee)),
            ..Default::default()
        })
        .await
        .expect("reset")
        .into_inner();
    let limited = server
        .sign_in("dee@contoso.example", &reset.generated_password)
        .await;
    let limited = server.client().await.with_session(limited.session_token);
    let status = add(
        &limited,
        pb::VerificationMethodKind::Authenticator,
        "",
        &reset.generated_password,
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}
