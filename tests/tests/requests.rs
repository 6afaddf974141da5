//! "Contact an administrator": the person's request, the email to the admins who may help,
//! and the admins' listing and resolution.

use std::time::Duration;

use gatehouse_client::{Client, pb};
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{Backend, TestServer, backend_tests};
use tonic::Code;

backend_tests!(
    a_request_reaches_the_admins_who_may_help_and_is_resolved_with_a_reset,
    unknown_accounts_get_the_same_answer_and_nothing_is_stored,
    requests_are_listed_only_to_admins_who_may_reset_the_person,
    a_request_can_be_resolved_by_invitation_or_dismissed,
);

async fn server(backend: Backend, sink: &SmtpSink) -> TestServer {
    TestServer::start_with(backend, |config| {
        sink.configure(config);
    })
    .await
}

async fn ask(
    server: &TestServer,
    name: &str,
    note: &str,
) -> Result<pb::RequestAdminHelpResponse, tonic::Status> {
    server
        .client()
        .await
        .self_service()
        .request_admin_help(pb::RequestAdminHelpRequest {
            username: name.into(),
            message: note.into(),
            ..Default::default()
        })
        .await
        .map(|r| r.into_inner())
}

async fn list(client: &Client, state: pb::ResetRequestState) -> Vec<pb::ResetRequest> {
    client
        .admin()
        .list_reset_requests(pb::ListResetRequestsRequest {
            state: state as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .requests
}

async fn a_request_reaches_the_admins_who_may_help_and_is_resolved_with_a_reset(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let (desk, _) = server
        .user_with_roles(&admin, "desk@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    server
        .user_with_roles(&admin, "quin@contoso.example", &[])
        .await;

    ask(
        &server,
        "quin@contoso.example",
        "I forgot my password after the holidays",
    )
    .await
    .expect("ask");
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(
        mails[0].to,
        ["desk@contoso.example"],
        "the password admin is told, not the global admin"
    );
    assert!(mails[0].data.contains("quin@contoso.example"));

    // Asking again updates the open request and does not email again within the hour.
    ask(
        &server,
        "quin@contoso.example",
        "still locked out, please help",
    )
    .await
    .expect("ask again");
    let open = list(&desk, pb::ResetRequestState::Open).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].times_asked, 2);
    assert_eq!(open[0].message, "still locked out, please help");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(sink.mails().len(), 1);

    let resolved = desk
        .admin()
        .resolve_reset_request(pb::ResolveResetRequestRequest {
            request_id: open[0].id.clone(),
            resolution: pb::ResetResolution::TemporaryPassword as i32,
            comment: "verified by phone".into(),
        })
        .await
        .expect("resolve")
        .into_inner();
    let request = resolved.request.expect("request");
    assert_eq!(request.state(), pb::ResetRequestState::Completed);
    assert_eq!(request.comment, "verified by phone");
    let signed_in = server
        .sign_in("quin@contoso.example", &resolved.generated_password)
        .await;
    assert_eq!(
        signed_in.session_kind(),
        pb::SessionKind::PasswordChangeOnly
    );

    let again = desk
        .admin()
        .resolve_reset_request(pb::ResolveResetRequestRequest {
            request_id: request.id,
            resolution: pb::ResetResolution::TemporaryPassword as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
}

async fn unknown_accounts_get_the_same_answer_and_nothing_is_stored(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    server
        .user_with_roles(&admin, "ravi@contoso.example", &[])
        .await;
    let real = ask(&server, "ravi@contoso.example", "help")
        .await
        .expect("real");
    let fake = ask(&server, "nobody@contoso.example", "help")
        .await
        .expect("fake");
    assert_eq!(real, fake);
    assert_eq!(
        list(&admin, pb::ResetRequestState::Unspecified).await.len(),
        1
    );
    // With no password admin, the global admin is told (by username: no contact email).
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(mails[0].to, std::slice::from_ref(&server.admin_username));
    let long = ask(&server, "ravi@contoso.example", &"x".repeat(1001))
        .await
        .unwrap_err();
    assert_eq!(long.code(), Code::InvalidArgument);
}

async fn requests_are_listed_only_to_admins_who_may_reset_the_person(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let (desk, _) = server
        .user_with_roles(&admin, "desk@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let (auditor, _) = server
        .user_with_roles(&admin, "audit@contoso.example", &[pb::Role::Auditor])
        .await;
    server
        .user_with_roles(&admin, "sam@contoso.example", &[])
        .await;
    server
        .user_with_roles(&admin, "uma@contoso.example", &[pb::Role::UserAdmin])
        .await;
    ask(&server, "sam@contoso.example", "help")
        .await
        .expect("ask");
    ask(&server, "uma@contoso.example", "help")
        .await
        .expect("ask");

    let seen: Vec<String> = list(&desk, pb::ResetRequestState::Open)
        .await
        .into_iter()
        .map(|r| r.username)
        .collect();
    assert_eq!(
        seen,
        ["sam@contoso.example"],
        "a help desk does not see a user admin's request"
    );
    assert_eq!(
        list(&auditor, pb::ResetRequestState::Open).await.len(),
        2,
        "auditors read all"
    );
    assert_eq!(list(&admin, pb::ResetRequestState::Open).await.len(), 2);

    let uma = list(&admin, pb::ResetRequestState::Open)
        .await
        .into_iter()
        .find(|r| r.username == "uma@contoso.example")
        .expect("uma's request");
    let status = desk
        .admin()
        .resolve_reset_request(pb::ResolveResetRequestRequest {
            request_id: uma.id,
            resolution: pb::ResetResolution::Dismiss as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = auditor
        .admin()
        .resolve_reset_request(pb::ResolveResetRequestRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            resolution: pb::ResetResolution::Dismiss as i32,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

async fn a_request_can_be_resolved_by_invitation_or_dismissed(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    server
        .user_with_roles(&admin, "tia@contoso.example", &[])
        .await;
    server
        .user_with_roles(&admin, "ugo@contoso.example", &[])
        .await;
    ask(&server, "tia@contoso.example", "help")
        .await
        .expect("ask");
    ask(&server, "ugo@contoso.example", "help")
        .await
        .expect("ask");
    sink.wait_for(2, Duration::from_secs(10)).await;
    let open = list(&admin, pb::ResetRequestState::Open).await;
    let by_name = |name: &str| {
        open.iter()
            .find(|r| r.username == name)
            .expect("request")
            .id
            .clone()
    };

    let invited = admin
        .admin()
        .resolve_reset_request(pb::ResolveResetRequestRequest {
            request_id: by_name("tia@contoso.example"),
            resolution: pb::ResetResolution::SendInvitation as i32,
            ..Default::default()
        })
        .await
        .expect("invite")
        .into_inner();
    assert!(invited.invitation_sent);
    assert!(invited.generated_password.is_empty());
    let mails = sink.wait_for(3, Duration::from_secs(10)).await;
    assert!(mails[2].to == ["tia@contoso.example"] && mails[2].indented_line().is_some());

    let dismissed = admin
        .admin()
        .resolve_reset_request(pb::ResolveResetRequestRequest {
            request_id: by_name("ugo@contoso.example"),
            resolution: pb::ResetResolution::Dismiss as i32,
            comment: "asked in person instead".into(),
        })
        .await
        .expect("dismiss")
        .into_inner();
    assert_eq!(
        dismissed.request.expect("request").state(),
        pb::ResetRequestState::Dismissed
    );
    server
        .sign_in("ugo@contoso.example", gatehouse_tests::USER_PASSWORD)
        .await;
    assert!(list(&admin, pb::ResetRequestState::Open).await.is_empty());
}
