//! Phones as security info: codes by SMS through the provider's HTTP gateway (a real local
//! listener here), the forgotten-password reset by phone, a gateway that is down for a
//! while, and the limit on codes one destination receives across accounts.

use std::time::Duration;

use gatehouse_client::{Client, pb};
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::webhook::{Hit, WebhookSink};
use gatehouse_tests::{
    Backend, TestServer, USER_PASSWORD, audit_events, backend_tests, field_violations, username,
};
use tonic::Code;

backend_tests!(
    a_phone_is_confirmed_by_sms_and_proves_a_forgotten_password_reset,
    bad_numbers_are_refused_and_a_server_without_a_gateway_takes_no_phones,
    a_text_waits_while_the_gateway_is_down_and_is_delivered_once,
    one_destination_gets_few_codes_however_many_accounts_ask,
    one_person_is_sent_few_confirmation_codes_whatever_the_numbers,
);

const WAIT: Duration = Duration::from_secs(15);
const TOKEN: &str = "gateway bearer token";

async fn server(
    backend: Backend,
    sink: &SmtpSink,
    hook: &WebhookSink,
    per_destination: u32,
) -> TestServer {
    TestServer::start_with(backend, |config| {
        sink.configure(config);
        config.sms_webhook_url = Some(hook.url().into());
        config.sms_webhook_token = Some(TOKEN.to_owned().into());
        config.code_sends_per_destination_per_hour = per_destination;
    })
    .await
}

async fn add_phone(client: &Client, number: &str) -> Result<String, tonic::Status> {
    client
        .self_service()
        .add_verification_method(pb::AddVerificationMethodRequest {
            kind: pb::VerificationMethodKind::Phone as i32,
            address: number.into(),
            current_password: USER_PASSWORD.into(),
        })
        .await
        .map(|r| r.into_inner().method_id)
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

/// The `nth` text to `number` whose wording contains `what`.
async fn text(hook: &WebhookSink, nth: usize, number: &str, what: &str) -> Hit {
    let (number, what) = (number.to_owned(), what.to_owned());
    hook.wait_for_match(nth, WAIT, move |h| {
        h.accepted() && h.to() == number && h.text().contains(&what)
    })
    .await
}

async fn a_phone_is_confirmed_by_sms_and_proves_a_forgotten_password_reset(backend: Backend) {
    let (sink, hook) = (SmtpSink::start().await, WebhookSink::start().await);
    let server = server(backend, &sink, &hook, 10).await;
    let admin = server.admin().await;
    admin
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                reset_methods_required: Some(2),
                ..Default::default()
            }),
        })
        .await
        .expect("policy");
    let (pia, _) = server
        .user_with_roles(&admin, "pia@contoso.example", &[])
        .await;

    // Typed with spaces and brackets, stored and texted in E.164.
    let phone = add_phone(&pia, "+1 (201) 555-0142").await.expect("add");
    let confirmation = text(&hook, 0, "+12015550142", "to add this phone").await;
    assert_eq!(confirmation.method, "POST");
    assert_eq!(confirmation.path, "/send");
    assert_eq!(
        confirmation
            .headers
            .get("authorization")
            .map(String::as_str),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        confirmation.headers.get("idempotency-key"),
        confirmation.json["id"].as_str().map(str::to_owned).as_ref(),
        "the key is the message id, stable across retries"
    );
    let code = confirmation.code().expect("an 8-digit code");
    let wrong = confirm(&pia, &phone, "00000000").await.unwrap_err();
    assert_eq!(wrong.code(), Code::InvalidArgument);
    confirm(&pia, &phone, &code).await.expect("confirm");
    assert_eq!(
        confirm(&pia, &phone, &code).await.unwrap_err().code(),
        Code::InvalidArgument,
        "a code is used once"
    );
    // The contact address is told of the new method.
    sink.wait_for_match(0, WAIT, |m| {
        m.to == ["pia@contoso.example"] && m.data.contains("A verification method was added")
    })
    .await;

    let mine = pia
        .self_service()
        .list_verification_methods(pb::ListVerificationMethodsRequest {})
        .await
        .expect("list")
        .into_inner()
        .methods;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].kind(), pb::VerificationMethodKind::Phone);
    assert_eq!(mine[0].masked, "+1 •••• ••42");
    assert!(mine[0].verified);
    let seen_by_admin = admin
        .admin()
        .list_user_verification_methods(pb::ListUserVerificationMethodsRequest {
            user: Some(username("pia@contoso.example")),
        })
        .await
        .expect("admin list")
        .into_inner()
        .methods;
    assert_eq!(seen_by_admin, mine, "admins see the same masked view");

    // A second method (an alternate email) for the two-method policy.
    let email = pia
        .self_service()
        .add_verification_method(pb::AddVerificationMethodRequest {
            kind: pb::VerificationMethodKind::Email as i32,
            address: "pia.home@mail.example".into(),
            current_password: USER_PASSWORD.into(),
        })
        .await
        .expect("add email")
        .into_inner()
        .method_id;
    let mail = sink
        .wait_for_match(0, WAIT, |m| m.to == ["pia.home@mail.example"])
        .await;
    confirm(&pia, &email, &mail.indented_line().expect("code"))
        .await
        .expect("confirm email");
    // The phone is told of the added email, by text, with no code in it.
    let notice = text(&hook, 0, "+12015550142", "A verification method was added").await;
    assert_eq!(notice.code(), None);

    // Forgotten password: the phone, typed another way, then the email.
    let flow = server.start_reset("pia@contoso.example").await;
    server.send_reset_code(&flow, "+1 201 555 0142").await;
    let reset = text(&hook, 0, "+12015550142", "to reset the password").await;
    let one = server
        .verify_reset_code(&flow, &reset.code().expect("code"))
        .await
        .expect("verify");
    assert_eq!((one.methods_proved, one.methods_required), (1, 2));
    server.send_reset_code(&flow, "pia.home@mail.example").await;
    let mail = sink
        .wait_for_match(0, WAIT, |m| m.data.contains("password reset code"))
        .await;
    let two = server
        .verify_reset_code(&flow, &mail.indented_line().expect("code"))
        .await
        .expect("verify");
    assert_eq!(two.methods_proved, 2);
    server
        .client()
        .await
        .self_service()
        .complete_password_reset(pb::CompletePasswordResetRequest {
            username: "pia@contoso.example".into(),
            flow_id: flow,
            new_password: "a fresh passphrase chosen by phone".into(),
            ..Default::default()
        })
        .await
        .expect("complete");
    server
        .sign_in("pia@contoso.example", "a fresh passphrase chosen by phone")
        .await;
    // The phone is told too, without a secret.
    let told = text(&hook, 0, "+12015550142", "The password was reset").await;
    assert_eq!(told.code(), None);
    assert!(!told.text().contains("fresh passphrase"));
}

async fn bad_numbers_are_refused_and_a_server_without_a_gateway_takes_no_phones(backend: Backend) {
    // Dev mode with no gateway: texts are written as files a person can read.
    let mut server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (ole, _) = server
        .user_with_roles(&admin, "ole@contoso.example", &[])
        .await;
    for (typed, why) in [
        ("07911 123456", "international format"),
        ("+1 201 555", "not a valid number"),
        ("call me", "international format"),
    ] {
        let status = add_phone(&ole, typed).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{typed}");
        let violations = field_violations(&status);
        assert_eq!(violations.len(), 1, "{typed}");
        assert_eq!(violations[0].0, "address");
        assert!(violations[0].1.contains(why), "{typed}: {violations:?}");
    }
    let phone = add_phone(&ole, "+44 7911 123456").await.expect("add");
    let twice = add_phone(&ole, "+447911123456").await.unwrap_err();
    assert_eq!(twice.code(), Code::AlreadyExists, "{twice:?}");
    let outbox = server.data_dir.join("outbox");
    let mut code = None;
    for _ in 0..200 {
        if let Some(file) = std::fs::read_dir(&outbox).ok().and_then(|dir| {
            dir.filter_map(Result::ok)
                .find(|e| e.file_name().to_string_lossy().ends_with(".sms.txt"))
        }) {
            let contents = std::fs::read_to_string(file.path()).expect("read");
            assert!(contents.starts_with("To: +447911123456\n"), "{contents}");
            code = contents
                .split(|c: char| !c.is_ascii_digit())
                .find(|run| run.len() == 8)
                .map(str::to_owned);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    confirm(
        &ole,
        &phone,
        &code.expect("the text was written to the outbox"),
    )
    .await
    .expect("confirm with the code from the file");

    // The same data without dev mode and without a gateway: no new phones, and the person
    // is told why.
    let dir = server.take_dir().expect("dir");
    let mut config = server.config.clone();
    server.stop().await;
    config.dev = false;
    let server = TestServer::run(config).await;
    let ole = server.client().await.with_session(
        server
            .sign_in("ole@contoso.example", USER_PASSWORD)
            .await
            .session_token,
    );
    let refused = add_phone(&ole, "+1 201 555 0142").await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.message().contains("no SMS gateway"), "{refused:?}");
    server.stop().await;
    drop(dir);
}

async fn a_text_waits_while_the_gateway_is_down_and_is_delivered_once(backend: Backend) {
    let (sink, hook) = (SmtpSink::start().await, WebhookSink::start().await);
    hook.answer(503);
    let server = server(backend, &sink, &hook, 10).await;
    let admin = server.admin().await;
    let (kai, _) = server
        .user_with_roles(&admin, "kai@contoso.example", &[])
        .await;
    let phone = add_phone(&kai, "+1 201 555 0199").await.expect("add");
    let refused = hook
        .wait_for_match(0, WAIT, |h| h.to() == "+12015550199")
        .await;
    assert_eq!(refused.status, 503);
    hook.answer(200);
    // The retry comes after the back-off (5 s for the first failure).
    let delivered = text(&hook, 0, "+12015550199", "to add this phone").await;
    assert_eq!(delivered.json["id"], refused.json["id"], "the same message");
    confirm(&kai, &phone, &delivered.code().expect("code"))
        .await
        .expect("the delivered code works");
    // Later polls do not send it again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let accepted = hook
        .hits()
        .into_iter()
        .filter(|h| h.accepted() && h.json["id"] == delivered.json["id"])
        .count();
    assert_eq!(accepted, 1, "delivered exactly once");
}

async fn one_destination_gets_few_codes_however_many_accounts_ask(backend: Backend) {
    let (sink, hook) = (SmtpSink::start().await, WebhookSink::start().await);
    // Two confirmation codes and two reset codes an hour to any one number.
    let server = server(backend, &sink, &hook, 2).await;
    let admin = server.admin().await;
    let shared = "+12015550123";
    for (i, name) in ["ann@contoso.example", "ben@contoso.example"]
        .into_iter()
        .enumerate()
    {
        let (client, _) = server.user_with_roles(&admin, name, &[]).await;
        let method = add_phone(&client, shared).await.expect("add");
        let sms = text(&hook, i, shared, "to add this phone").await;
        confirm(&client, &method, &sms.code().expect("code"))
            .await
            .expect("confirm");
    }
    // A third account cannot have the number sent a confirmation code this hour...
    let (cy, _) = server
        .user_with_roles(&admin, "cy@contoso.example", &[])
        .await;
    let refused = add_phone(&cy, "+1 201-555-0123").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    // ...another number is not affected...
    add_phone(&cy, "+1 201 555 0124")
        .await
        .expect("another number");
    text(&hook, 0, "+12015550124", "to add this phone").await;

    // ...and confirmations to the number did not use up its reset codes: ann and ben get one
    // each.
    let ann_flow = server.start_reset("ann@contoso.example").await;
    server.send_reset_code(&ann_flow, shared).await;
    text(&hook, 0, shared, "to reset the password").await;
    let ben_flow = server.start_reset("ben@contoso.example").await;
    server.send_reset_code(&ben_flow, shared).await;
    text(&hook, 1, shared, "to reset the password").await;

    // Now the reset codes are spent too: ben's further sends answer the same, send nothing,
    // and are audited, until his flow's three sends are used up; then not even that.
    for _ in 0..4 {
        server.send_reset_code(&ben_flow, shared).await;
    }
    let held = audit_events(
        &admin,
        pb::ListAuditEventsRequest {
            action: "reset.code_held_back".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        held.len(),
        2,
        "two held back, then the flow had no sends left: {held:?}"
    );
    assert!(held.iter().all(|e| e.outcome == "denied"));
    let to_shared = hook
        .hits()
        .into_iter()
        .filter(|h| h.to() == shared && h.code().is_some())
        .count();
    assert_eq!(to_shared, 4, "two confirmations and two reset codes");
}

async fn one_person_is_sent_few_confirmation_codes_whatever_the_numbers(backend: Backend) {
    let (sink, hook) = (SmtpSink::start().await, WebhookSink::start().await);
    let server = server(backend, &sink, &hook, 10).await;
    let admin = server.admin().await;
    let (dee, _) = server
        .user_with_roles(&admin, "dee@contoso.example", &[])
        .await;
    // Add a number and take it away again, with a new number each time: ten an hour.
    for i in 0..10 {
        let method = add_phone(&dee, &format!("+1 201 555 01{i:02}"))
            .await
            .unwrap_or_else(|e| panic!("number {i}: {e:?}"));
        dee.self_service()
            .remove_verification_method(pb::RemoveVerificationMethodRequest {
                method_id: method,
                current_password: USER_PASSWORD.into(),
            })
            .await
            .expect("remove");
    }
    let refused = add_phone(&dee, "+1 201 555 0150").await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(
        refused.message().contains("confirmation codes an hour"),
        "{refused:?}"
    );
    // Premium-rate and landline numbers are refused outright.
    for number in ["+44 909 879 0000", "+44 20 7946 0958"] {
        let status = add_phone(&dee, number).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{number}");
        assert!(
            status.message().contains("not a mobile number"),
            "{status:?}"
        );
    }
}
