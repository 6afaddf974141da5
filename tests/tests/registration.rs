//! Registration at sign-in: a tenant that requires security info gives a person without it a
//! registration-only session, which registering (or a snooze, while snoozes remain) opens;
//! methods not confirmed again within the reconfirm period stop counting until a fresh code
//! confirms them; administrators list who has not registered and remind them once.

use std::time::Duration;

use gatehouse::store::entities::verification_method;
use gatehouse_client::{Client, pb};
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{
    Backend, TestServer, USER_PASSWORD, audit_events, backend_tests, create_user, field_violations,
    get_user, register_alternate_email, user_id, user_with_alternate_email,
};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait as _, Database, EntityTrait as _, QueryFilter as _};
use tonic::Code;

backend_tests!(
    an_unregistered_person_may_only_register_until_a_confirmed_method_opens_the_session,
    snoozes_are_counted_audited_and_run_out,
    a_method_not_reconfirmed_in_time_stops_counting_until_a_fresh_code_confirms_it,
    a_password_to_change_comes_first_and_the_new_session_asks_for_registration,
    admins_list_who_has_not_registered_and_remind_each_once,
    registration_settings_are_checked,
    listings_by_registration_follow_method_changes_policy_changes_and_lapses,
);

const WAIT: Duration = Duration::from_secs(10);

async fn server(backend: Backend, sink: &SmtpSink) -> TestServer {
    TestServer::start_with(backend, |config| sink.configure(config)).await
}

async fn require_registration(admin: &Client, update: pb::PasswordPolicyUpdate) {
    admin
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                require_registration: Some(true),
                ..update
            }),
        })
        .await
        .expect("policy");
}

async fn me(client: &Client) -> pb::GetMeResponse {
    client
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("get me")
        .into_inner()
}

async fn snooze(client: &Client) -> Result<pb::SnoozeRegistrationResponse, tonic::Status> {
    client
        .self_service()
        .snooze_registration(pb::SnoozeRegistrationRequest {})
        .await
        .map(|r| r.into_inner())
}

async fn confirmation_code(sink: &SmtpSink, address: &str, nth: usize) -> String {
    sink.wait_for_match(nth, WAIT, |m| {
        m.to == [address] && m.data.contains("Confirm this address")
    })
    .await
    .indented_line()
    .expect("code")
}

fn status(response: Option<pb::RegistrationStatus>) -> pb::RegistrationStatus {
    response.expect("the tenant requires registration: the status is set")
}

async fn an_unregistered_person_may_only_register_until_a_confirmed_method_opens_the_session(
    backend: Backend,
) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let ann = create_user(&admin, "ann@contoso.example", &[]).await;

    // Not required: a full session, and no status.
    let before = server.sign_in("ann@contoso.example", USER_PASSWORD).await;
    assert_eq!(before.session_kind(), pb::SessionKind::Full);
    assert_eq!(before.registration, None);

    require_registration(&admin, pb::PasswordPolicyUpdate::default()).await;
    let signed_in = server.sign_in("ann@contoso.example", USER_PASSWORD).await;
    assert_eq!(signed_in.session_kind(), pb::SessionKind::RegistrationOnly);
    assert_eq!(
        signed_in.change_reason(),
        pb::PasswordChangeReason::Unspecified
    );
    let standing = status(signed_in.registration);
    assert_eq!(standing.state(), pb::RegistrationState::NotRegistered);
    assert_eq!(
        (standing.current_methods, standing.required_methods),
        (0, 1)
    );
    assert_eq!(standing.snoozes_left, 3);
    assert_eq!(standing.snoozed_until, None);

    let ann_client = server
        .client()
        .await
        .with_session(signed_in.session_token.clone());
    let shown = me(&ann_client).await;
    assert_eq!(shown.session_kind(), pb::SessionKind::RegistrationOnly);
    assert_eq!(
        status(shown.registration).state(),
        pb::RegistrationState::NotRegistered
    );
    assert_eq!(
        shown.user.expect("user").registration_state(),
        pb::RegistrationState::NotRegistered
    );

    // Everything but registering is refused, with what to do.
    let refused = ann_client
        .admin()
        .list_users(pb::ListUsersRequest::default())
        .await
        .expect_err("a registration-only session is no admin session");
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(
        refused.message().contains("register security info"),
        "{}",
        refused.message()
    );
    let methods = ann_client
        .self_service()
        .list_verification_methods(pb::ListVerificationMethodsRequest {})
        .await
        .expect("a registration-only session lists its methods")
        .into_inner();
    assert!(methods.methods.is_empty());

    // Confirming the one method required opens this very session.
    let confirmed = register_alternate_email(&ann_client, &sink, "ann.alt@mail.example").await;
    assert_eq!(confirmed.session_kind(), pb::SessionKind::Full);
    let after = status(confirmed.registration);
    assert_eq!(after.state(), pb::RegistrationState::Registered);
    assert_eq!(after.current_methods, 1);
    assert_eq!(me(&ann_client).await.session_kind(), pb::SessionKind::Full);

    // And the next sign-in is full from the start.
    let again = server.sign_in("ann@contoso.example", USER_PASSWORD).await;
    assert_eq!(again.session_kind(), pb::SessionKind::Full);
    assert_eq!(
        status(again.registration).state(),
        pb::RegistrationState::Registered
    );

    let sign_ins = audit_events(
        &admin,
        pb::ListAuditEventsRequest {
            action: "session.sign_in".into(),
            target: format!("user:{ann}"),
            ..Default::default()
        },
    )
    .await;
    assert!(
        sign_ins.iter().any(|e| e
            .details_json
            .contains(r#""session_kind":"registration_only""#)
            && e.details_json
                .contains(r#""registration_state":"not_registered""#)),
        "the registration-only sign-in is audited as such: {sign_ins:?}"
    );
}

async fn snoozes_are_counted_audited_and_run_out(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let bob = create_user(&admin, "bob@contoso.example", &[]).await;
    create_user(&admin, "cas@contoso.example", &[]).await;
    // Two snoozes, each only until the next sign-in.
    require_registration(
        &admin,
        pb::PasswordPolicyUpdate {
            registration_snoozes: Some(2),
            registration_snooze_days: Some(0),
            ..Default::default()
        },
    )
    .await;

    for left in [1, 0] {
        let signed_in = server.sign_in("bob@contoso.example", USER_PASSWORD).await;
        assert_eq!(signed_in.session_kind(), pb::SessionKind::RegistrationOnly);
        assert_eq!(status(signed_in.registration).snoozes_left, left + 1);
        let bob_client = server.client().await.with_session(signed_in.session_token);
        let snoozed = snooze(&bob_client).await.expect("a snooze remains");
        assert_eq!(snoozed.session_kind(), pb::SessionKind::Full);
        assert_eq!(status(snoozed.registration).snoozes_left, left);
        assert_eq!(me(&bob_client).await.session_kind(), pb::SessionKind::Full);
        // The session is full now: nothing left to put off in it.
        let twice = snooze(&bob_client).await.expect_err("already full");
        assert_eq!(twice.code(), Code::FailedPrecondition);
    }
    let stuck = server.sign_in("bob@contoso.example", USER_PASSWORD).await;
    assert_eq!(stuck.session_kind(), pb::SessionKind::RegistrationOnly);
    assert_eq!(status(stuck.registration).snoozes_left, 0);
    let bob_client = server.client().await.with_session(stuck.session_token);
    let refused = snooze(&bob_client).await.expect_err("no snoozes left");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused
            .message()
            .contains("confirm 1 more verification method"),
        "{}",
        refused.message()
    );
    assert_eq!(
        me(&bob_client).await.session_kind(),
        pb::SessionKind::RegistrationOnly,
        "a refused snooze leaves the session registration-only"
    );
    let snoozes = audit_events(
        &admin,
        pb::ListAuditEventsRequest {
            action: "registration.snooze".into(),
            target: format!("user:{bob}"),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(snoozes.len(), 2, "each snooze is audited: {snoozes:?}");

    // Registering gives the snoozes back for the next time something falls due.
    let registered = register_alternate_email(&bob_client, &sink, "bob.alt@mail.example").await;
    assert_eq!(registered.session_kind(), pb::SessionKind::Full);
    assert_eq!(status(registered.registration).snoozes_left, 2);

    // A snooze of a day: the sign-ins in between are full, and say until when.
    admin
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                registration_snooze_days: Some(1),
                ..Default::default()
            }),
        })
        .await
        .expect("policy");
    let first = server.sign_in("cas@contoso.example", USER_PASSWORD).await;
    let cas_client = server.client().await.with_session(first.session_token);
    let snoozed = snooze(&cas_client).await.expect("snooze");
    let until = status(snoozed.registration)
        .snoozed_until
        .expect("snoozed for a day");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let ahead = u64::try_from(until.seconds).expect("future") - now;
    assert!((86_000..=86_400).contains(&ahead), "{ahead} s ahead");
    let later = server.sign_in("cas@contoso.example", USER_PASSWORD).await;
    assert_eq!(later.session_kind(), pb::SessionKind::Full);
    let standing = status(later.registration);
    assert_eq!(standing.state(), pb::RegistrationState::NotRegistered);
    assert_eq!(standing.snoozed_until, Some(until));
}

async fn a_method_not_reconfirmed_in_time_stops_counting_until_a_fresh_code_confirms_it(
    backend: Backend,
) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let alt = "dee.alt@mail.example";
    user_with_alternate_email(&server, &admin, &sink, "dee@contoso.example", alt).await;
    require_registration(
        &admin,
        pb::PasswordPolicyUpdate {
            reconfirm_days: Some(30),
            ..Default::default()
        },
    )
    .await;
    let fresh = server.sign_in("dee@contoso.example", USER_PASSWORD).await;
    assert_eq!(fresh.session_kind(), pb::SessionKind::Full);
    let standing = status(fresh.registration);
    assert_eq!(standing.state(), pb::RegistrationState::Registered);
    assert!(
        standing.reconfirm_time.is_some(),
        "reconfirmation falls due"
    );

    let age = |days: i64| {
        let url = server.config.database_url().expose().to_owned();
        async move {
            let db = Database::connect(&url).await.expect("db");
            verification_method::Entity::update_many()
                .col_expr(
                    verification_method::Column::VerifiedAt,
                    Expr::value(chrono::Utc::now() - chrono::Duration::days(days)),
                )
                .filter(verification_method::Column::Address.eq(alt))
                .exec(&db)
                .await
                .expect("age the confirmation")
                .rows_affected
        }
    };
    assert_eq!(age(40).await, 1);
    let due = server.sign_in("dee@contoso.example", USER_PASSWORD).await;
    assert_eq!(due.session_kind(), pb::SessionKind::RegistrationOnly);
    let standing = status(due.registration);
    assert_eq!(standing.state(), pb::RegistrationState::ReconfirmDue);
    assert_eq!(standing.current_methods, 0);

    let dee = admin
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(gatehouse_tests::username("dee@contoso.example")),
        })
        .await
        .expect("get")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(
        dee.registration_state(),
        pb::RegistrationState::ReconfirmDue
    );
    assert_eq!(dee.confirmed_methods, 1);

    // A fresh code to the same address confirms it again.
    let dee_client = server.client().await.with_session(due.session_token);
    let method = dee_client
        .self_service()
        .list_verification_methods(pb::ListVerificationMethodsRequest {})
        .await
        .expect("list")
        .into_inner()
        .methods
        .remove(0);
    dee_client
        .self_service()
        .send_verification_code(pb::SendVerificationCodeRequest {
            method_id: method.id.clone(),
        })
        .await
        .expect("send a fresh code");
    let code = confirmation_code(&sink, alt, 1).await;
    let wrong = dee_client
        .self_service()
        .confirm_verification_method(pb::ConfirmVerificationMethodRequest {
            method_id: method.id.clone(),
            code: "00000000".into(),
        })
        .await
        .expect_err("a wrong code");
    assert_eq!(wrong.code(), Code::InvalidArgument);
    let confirmed = dee_client
        .self_service()
        .confirm_verification_method(pb::ConfirmVerificationMethodRequest {
            method_id: method.id.clone(),
            code: code.clone(),
        })
        .await
        .expect("reconfirm")
        .into_inner();
    assert_eq!(confirmed.session_kind(), pb::SessionKind::Full);
    assert_eq!(
        status(confirmed.registration).state(),
        pb::RegistrationState::Registered
    );
    let reused = dee_client
        .self_service()
        .confirm_verification_method(pb::ConfirmVerificationMethodRequest {
            method_id: method.id.clone(),
            code,
        })
        .await
        .expect_err("a code confirms once");
    assert_eq!(reused.code(), Code::InvalidArgument);
    let confirms = audit_events(
        &admin,
        pb::ListAuditEventsRequest {
            action: "method.confirm".into(),
            target: format!("user:{}", dee.id),
            ..Default::default()
        },
    )
    .await;
    assert!(
        confirms
            .iter()
            .any(|e| e.details_json.contains(r#""reconfirmed":"true""#)),
        "{confirms:?}"
    );

    // Proving the method in a self-service reset confirms it again too.
    assert_eq!(age(40).await, 1);
    let flow = server.start_reset("dee@contoso.example").await;
    server.send_reset_code(&flow, alt).await;
    let reset_code = sink
        .wait_for_match(0, WAIT, |m| {
            m.to == [alt] && m.data.contains("Your password reset code")
        })
        .await
        .indented_line()
        .expect("reset code");
    let proved = server
        .verify_reset_code(&flow, &reset_code)
        .await
        .expect("the emailed code proves the method");
    assert_eq!(proved.methods_proved, 1);
    let dee = get_user(&admin, &dee.id).await;
    assert_eq!(dee.registration_state(), pb::RegistrationState::Registered);
}

async fn a_password_to_change_comes_first_and_the_new_session_asks_for_registration(
    backend: Backend,
) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let eve = create_user(&admin, "eve@contoso.example", &[]).await;
    require_registration(&admin, pb::PasswordPolicyUpdate::default()).await;
    admin
        .admin()
        .require_password_change(pb::RequirePasswordChangeRequest {
            user_ids: vec![eve],
            ..Default::default()
        })
        .await
        .expect("require a change");
    let signed_in = server.sign_in("eve@contoso.example", USER_PASSWORD).await;
    assert_eq!(
        signed_in.session_kind(),
        pb::SessionKind::PasswordChangeOnly
    );
    assert_eq!(
        status(signed_in.registration).state(),
        pb::RegistrationState::NotRegistered
    );
    let eve_client = server.client().await.with_session(signed_in.session_token);
    let refused = eve_client
        .self_service()
        .list_verification_methods(pb::ListVerificationMethodsRequest {})
        .await
        .expect_err("a change-only session changes the password first");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let changed = eve_client
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: USER_PASSWORD.into(),
            new_password: "violet harbour lantern quietly".into(),
        })
        .await
        .expect("change")
        .into_inner();
    assert_eq!(changed.session_kind(), pb::SessionKind::RegistrationOnly);
    assert_eq!(
        status(changed.registration).state(),
        pb::RegistrationState::NotRegistered
    );
}

async fn admins_list_who_has_not_registered_and_remind_each_once(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    user_with_alternate_email(
        &server,
        &admin,
        &sink,
        "reg@contoso.example",
        "reg.alt@mail.example",
    )
    .await;
    create_user(&admin, "un1@contoso.example", &[]).await;
    create_user(&admin, "un2@contoso.example", &[]).await;
    let blocked = create_user(&admin, "un3@contoso.example", &[]).await;
    admin
        .admin()
        .block_sign_in(pb::BlockSignInRequest {
            user: Some(user_id(&blocked)),
        })
        .await
        .expect("block");

    assert_eq!(
        usernames_in(&admin, pb::RegistrationState::NotRegistered).await,
        [
            "un1@contoso.example",
            "un2@contoso.example",
            "un3@contoso.example"
        ]
    );
    assert_eq!(
        usernames_in(&admin, pb::RegistrationState::Registered).await,
        ["reg@contoso.example"]
    );
    assert!(
        usernames_in(&admin, pb::RegistrationState::ReconfirmDue)
            .await
            .is_empty()
    );

    let remind = |validate_only: bool| {
        let admin = admin.clone();
        async move {
            admin
                .admin()
                .send_registration_reminders(pb::SendRegistrationRemindersRequest {
                    validate_only,
                    ..Default::default()
                })
                .await
                .expect("remind")
                .into_inner()
        }
    };
    let is_reminder =
        |m: &gatehouse_tests::smtp::Mail| m.data.contains("Register your security info");
    // The blocked person and the caller are left out.
    let counted = remind(true).await;
    assert_eq!((counted.reminded, counted.recently_reminded), (2, 0));
    let sent = remind(false).await;
    assert_eq!((sent.reminded, sent.recently_reminded), (2, 0));
    for nth in [0, 1] {
        sink.wait_for_match(nth, WAIT, is_reminder).await;
    }
    let again = remind(false).await;
    assert_eq!((again.reminded, again.recently_reminded), (0, 2));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut reminded: Vec<Vec<String>> = sink
        .mails()
        .into_iter()
        .filter(|m| is_reminder(m))
        .map(|m| m.to)
        .collect();
    reminded.sort();
    assert_eq!(
        reminded,
        [["un1@contoso.example"], ["un2@contoso.example"]],
        "one reminder each, whatever the number of runs"
    );
    let events = audit_events(
        &admin,
        pb::ListAuditEventsRequest {
            action: "registration.remind".into(),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        events.len(),
        1,
        "what is sent is audited, with it: {events:?}"
    );
    assert!(
        events[0].details_json.contains(r#""reminded":"2""#),
        "{events:?}"
    );

    // Reminding is for those who reset passwords, not for auditors.
    let (auditor, _) = server
        .user_with_roles(&admin, "aud@contoso.example", &[pb::Role::Auditor])
        .await;
    let denied = auditor
        .admin()
        .send_registration_reminders(pb::SendRegistrationRemindersRequest::default())
        .await
        .expect_err("auditors remind nobody");
    assert_eq!(denied.code(), Code::PermissionDenied);
}

async fn registration_settings_are_checked(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = server(backend, &sink).await;
    let admin = server.admin().await;
    let refused = admin
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                require_registration: Some(true),
                registration_snoozes: Some(11),
                registration_snooze_days: Some(15),
                reconfirm_days: Some(731),
                ..Default::default()
            }),
        })
        .await
        .expect_err("out of range");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let mut fields: Vec<String> = field_violations(&refused)
        .into_iter()
        .map(|(field, _)| field)
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "update.reconfirm_days",
            "update.registration_snooze_days",
            "update.registration_snoozes"
        ]
    );
    let policy = admin
        .admin()
        .get_password_policy(pb::GetPasswordPolicyRequest {})
        .await
        .expect("policy")
        .into_inner()
        .policy
        .expect("policy");
    assert!(!policy.require_registration, "nothing was changed");
    assert_eq!(
        (
            policy.registration_snoozes,
            policy.registration_snooze_days,
            policy.reconfirm_days
        ),
        (3, 1, 0)
    );
}

/// Waits until the registration sweep judged the tenant under `key` (`required:days`).
async fn judged(server: &TestServer, key: &str) {
    use gatehouse::store::entities::tenant;
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    for _ in 0..200 {
        let tenants = tenant::Entity::find().all(&db).await.expect("tenants");
        if tenants.iter().all(|t| t.registration_judged_for == key) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sweep did not judge the tenant under {key}");
}

async fn usernames_in(admin: &Client, state: pb::RegistrationState) -> Vec<String> {
    let mut names: Vec<String> = admin
        .admin()
        .list_users(pb::ListUsersRequest {
            registration_state: state as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .users
        .into_iter()
        .inspect(|u| assert_eq!(u.registration_state(), state, "{}", u.username))
        .map(|u| u.username)
        .filter(|n| !n.starts_with("admin"))
        .collect();
    names.sort();
    names
}

async fn listings_by_registration_follow_method_changes_policy_changes_and_lapses(
    backend: Backend,
) {
    use pb::RegistrationState::{NotRegistered, ReconfirmDue, Registered};
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(backend, |config| {
        sink.configure(config);
        config.registration_sweep_secs = 1;
    })
    .await;
    let admin = server.admin().await;
    let kim = user_with_alternate_email(
        &server,
        &admin,
        &sink,
        "kim@contoso.example",
        "kim.alt@mail.example",
    )
    .await;
    user_with_alternate_email(
        &server,
        &admin,
        &sink,
        "lou@contoso.example",
        "lou.alt@mail.example",
    )
    .await;
    create_user(&admin, "max@contoso.example", &[]).await;
    judged(&server, "1:0").await;
    assert_eq!(
        usernames_in(&admin, Registered).await,
        ["kim@contoso.example", "lou@contoso.example"]
    );
    assert_eq!(
        usernames_in(&admin, NotRegistered).await,
        ["max@contoso.example"]
    );

    // Removing the only method shows at once.
    let method = kim
        .self_service()
        .list_verification_methods(pb::ListVerificationMethodsRequest {})
        .await
        .expect("list")
        .into_inner()
        .methods
        .remove(0);
    kim.self_service()
        .remove_verification_method(pb::RemoveVerificationMethodRequest {
            method_id: method.id,
            current_password: USER_PASSWORD.into(),
        })
        .await
        .expect("remove");
    assert_eq!(
        usernames_in(&admin, NotRegistered).await,
        ["kim@contoso.example", "max@contoso.example"]
    );
    assert_eq!(
        usernames_in(&admin, Registered).await,
        ["lou@contoso.example"]
    );

    // A reconfirm period: judged again by the sweep; a confirmation older than the period
    // lapses, and the sweep moves lou to "reconfirm due".
    require_registration(
        &admin,
        pb::PasswordPolicyUpdate {
            reconfirm_days: Some(30),
            ..Default::default()
        },
    )
    .await;
    judged(&server, "1:30").await;
    assert_eq!(
        usernames_in(&admin, Registered).await,
        ["lou@contoso.example"]
    );
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("db");
    let long_ago = chrono::Utc::now() - chrono::Duration::days(40);
    verification_method::Entity::update_many()
        .col_expr(
            verification_method::Column::VerifiedAt,
            Expr::value(long_ago),
        )
        .filter(verification_method::Column::Address.eq("lou.alt@mail.example"))
        .exec(&db)
        .await
        .expect("age the confirmation");
    {
        use gatehouse::store::entities::user;
        // As the stored anchor would be had the confirmation been 40 days old all along.
        user::Entity::update_many()
            .col_expr(user::Column::RegistrationAnchorAt, Expr::value(long_ago))
            .filter(user::Column::Username.eq("lou@contoso.example"))
            .exec(&db)
            .await
            .expect("age the anchor");
    }
    assert!(
        usernames_in(&admin, Registered).await.is_empty(),
        "a lapsed confirmation is out of the registered listing at once"
    );
    let mut swept = Vec::new();
    for _ in 0..100 {
        swept = usernames_in(&admin, ReconfirmDue).await;
        if !swept.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(swept, ["lou@contoso.example"], "the sweep marks the lapse");

    // Two methods required: nobody is registered, and the listing says so before and after
    // the sweep judges everyone again.
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
    let everyone = [
        "kim@contoso.example",
        "lou@contoso.example",
        "max@contoso.example",
    ];
    assert_eq!(usernames_in(&admin, NotRegistered).await, everyone);
    judged(&server, "2:30").await;
    assert_eq!(usernames_in(&admin, NotRegistered).await, everyone);
    assert!(usernames_in(&admin, ReconfirmDue).await.is_empty());
}
