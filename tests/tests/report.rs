//! The password activity report: what is counted where, the top resetters, who may read it,
//! and windows it refuses.

use gatehouse_client::{Client, pb};
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD, backend_tests, create_user, user_id};
use tonic::Code;

backend_tests!(
    the_report_counts_each_kind_of_activity_in_its_bucket,
    the_report_is_for_auditors_and_global_admins_over_sane_windows,
);

fn at(t: chrono::DateTime<chrono::Utc>) -> Option<prost_types::Timestamp> {
    Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    })
}

async fn report(
    client: &Client,
    days_back: i64,
    hours_ahead: i64,
    granularity: pb::ReportGranularity,
) -> Result<pb::GetPasswordActivityReportResponse, tonic::Status> {
    let now = chrono::Utc::now();
    client
        .admin()
        .get_password_activity_report(pb::GetPasswordActivityReportRequest {
            start_time: at(now - chrono::Duration::days(days_back)),
            end_time: at(now + chrono::Duration::hours(hours_ahead)),
            granularity: granularity as i32,
            top_actors: 0,
        })
        .await
        .map(|r| r.into_inner())
}

async fn reset(client: &Client, user: &str, delivery: pb::ResetDelivery) {
    client
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(user)),
            delivery: delivery as i32,
            ..Default::default()
        })
        .await
        .expect("reset");
}

async fn the_report_counts_each_kind_of_activity_in_its_bucket(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (desk, _) = server
        .user_with_roles(&admin, "desk@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let ann = create_user(&admin, "ann@contoso.example", &[]).await;
    let bob = create_user(&admin, "bob@contoso.example", &[]).await;
    let cy = create_user(&admin, "cy@contoso.example", &[]).await;
    create_user(&admin, "dee@contoso.example", &[]).await;
    // The set-up itself reset each user's password once (create_user gives a first one), and
    // the bootstrap admin changed theirs.
    let before = report(&admin, 1, 1, pb::ReportGranularity::Day)
        .await
        .expect("report")
        .totals
        .unwrap_or_default();

    reset(&desk, &ann, pb::ResetDelivery::ShowOnce).await;
    reset(&desk, &bob, pb::ResetDelivery::ShowOnce).await;
    reset(&admin, &cy, pb::ResetDelivery::Invitation).await;
    let mut stream = admin
        .admin()
        .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
            users: vec![user_id(&ann), user_id(&bob)],
            ..Default::default()
        })
        .await
        .expect("bulk")
        .into_inner();
    while stream.message().await.expect("stream").is_some() {}
    // Two self-service resets started and left; a help request opened and dismissed.
    server.start_reset("ann@contoso.example").await;
    server.start_reset("bob@contoso.example").await;
    server
        .client()
        .await
        .self_service()
        .request_admin_help(pb::RequestAdminHelpRequest {
            username: "cy@contoso.example".into(),
            ..Default::default()
        })
        .await
        .expect("ask");
    let request = admin
        .admin()
        .list_reset_requests(pb::ListResetRequestsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .requests
        .remove(0);
    admin
        .admin()
        .resolve_reset_request(pb::ResolveResetRequestRequest {
            request_id: request.id,
            resolution: pb::ResetResolution::Dismiss as i32,
            ..Default::default()
        })
        .await
        .expect("dismiss");
    // A person changes their own password, then is locked out.
    let signed_in = server.sign_in("dee@contoso.example", USER_PASSWORD).await;
    server
        .client()
        .await
        .with_session(signed_in.session_token)
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: USER_PASSWORD.into(),
            new_password: "velvet harbour lanterns at dawn 4821".into(),
        })
        .await
        .expect("change");
    admin
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                lockout_threshold: Some(2),
                ..Default::default()
            }),
        })
        .await
        .expect("policy");
    // Two different wrong passwords (a repeat of the same one is not counted twice).
    for guess in ["not the password", "not that one either"] {
        let refused = server
            .client()
            .await
            .self_service()
            .sign_in(pb::SignInRequest {
                username: "dee@contoso.example".into(),
                password: guess.into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated);
    }

    let daily = report(&admin, 1, 1, pb::ReportGranularity::Day)
        .await
        .expect("report");
    let t = daily.totals.unwrap_or_default();
    assert_eq!(t.admin_resets - before.admin_resets, 2, "{t:?}");
    assert_eq!(t.invitation_resets - before.invitation_resets, 1);
    assert_eq!(t.bulk_resets - before.bulk_resets, 2);
    assert_eq!(t.self_service_resets_started, 2);
    assert_eq!(t.self_service_resets_completed, 0);
    assert_eq!(t.self_service_resets_abandoned, 2);
    assert_eq!(t.help_requests_opened, 1);
    assert_eq!(t.help_requests_dismissed, 1);
    assert_eq!(t.help_requests_resolved, 0);
    assert_eq!(t.password_changes - before.password_changes, 1);
    assert_eq!(t.lockouts, 1);
    // A window of one day plus an hour ahead touches two or three calendar days, every one
    // listed; the buckets add up to the totals.
    assert!(
        (2..=3).contains(&daily.buckets.len()),
        "{:?}",
        daily.buckets.len()
    );
    let summed: i64 = daily
        .buckets
        .iter()
        .map(|b| b.activity.unwrap_or_default().bulk_resets)
        .sum();
    assert_eq!(summed, t.bulk_resets);
    let starts: Vec<i64> = daily
        .buckets
        .iter()
        .map(|b| b.start_time.unwrap_or_default().seconds)
        .collect();
    assert!(
        starts.iter().all(|s| s % 86_400 == 0),
        "UTC midnights: {starts:?}"
    );
    assert!(starts.windows(2).all(|w| w[1] - w[0] == 86_400));

    // The top resetter is the global admin (first passwords, invitation, bulk), then the desk.
    let leaders = &daily.top_actors;
    assert_eq!(
        leaders[0].display_name, "Bootstrap administrator",
        "{leaders:?}"
    );
    let desk_row = leaders
        .iter()
        .find(|a| a.display_name == "desk@contoso.example")
        .expect("the desk is listed");
    assert_eq!(desk_row.resets, 2);
    assert!(leaders.windows(2).all(|w| w[0].resets >= w[1].resets));

    // Per hour: the same totals in 24 or 25 hourly buckets.
    let hourly = report(&admin, 1, 1, pb::ReportGranularity::Hour)
        .await
        .expect("hourly");
    assert!(
        (25..=26).contains(&hourly.buckets.len()),
        "{}",
        hourly.buckets.len()
    );
    assert_eq!(hourly.totals, daily.totals);
}

async fn the_report_is_for_auditors_and_global_admins_over_sane_windows(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (auditor, _) = server
        .user_with_roles(&admin, "audit@contoso.example", &[pb::Role::Auditor])
        .await;
    let (desk, _) = server
        .user_with_roles(&admin, "desk@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    report(&auditor, 30, 0, pb::ReportGranularity::Day)
        .await
        .expect("auditors read it");
    let refused = report(&desk, 30, 0, pb::ReportGranularity::Day)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let backwards = admin
        .admin()
        .get_password_activity_report(pb::GetPasswordActivityReportRequest {
            start_time: at(chrono::Utc::now()),
            end_time: at(chrono::Utc::now() - chrono::Duration::days(1)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(backwards.code(), Code::InvalidArgument);
    assert!(backwards.message().contains("end_time"), "{backwards:?}");
    let missing = admin
        .admin()
        .get_password_activity_report(pb::GetPasswordActivityReportRequest::default())
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert!(missing.message().contains("start_time"), "{missing:?}");
    let too_many_hours = report(&admin, 40, 0, pb::ReportGranularity::Hour)
        .await
        .unwrap_err();
    assert_eq!(too_many_hours.code(), Code::InvalidArgument);
    assert!(
        too_many_hours.message().contains("31 days"),
        "{too_many_hours:?}"
    );
    let year = report(&admin, 366, 0, pb::ReportGranularity::Day)
        .await
        .expect("a year per day");
    assert!((366..=367).contains(&year.buckets.len()));
}
