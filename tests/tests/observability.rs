//! What an operator sees: the Prometheus endpoint's counters move by exactly what the calls
//! did; every call carries a request id (the caller's, or a new one) back in its metadata and
//! on its log lines; JSON logs are one object per line.

use std::collections::HashMap;
use std::time::Duration;

use gatehouse_client::{Client, pb};
use gatehouse_tests::{
    Backend, ServerProcess, TestServer, USER_PASSWORD, backend_tests, free_port, fresh_database,
    user_id,
};

backend_tests!(
    the_metrics_move_by_exactly_what_the_calls_did,
    a_call_answers_with_its_request_id,
    json_logs_are_one_object_per_line_with_the_request_id_on_the_calls_lines,
);

/// One scrape: every sample by its series (`name{labels}`).
async fn scrape(address: std::net::SocketAddr) -> HashMap<String, f64> {
    let response = reqwest::get(format!("http://{address}/metrics"))
        .await
        .expect("scrape");
    assert!(response.status().is_success());
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.expect("body");
    assert!(text.ends_with("# EOF\n"), "a complete exposition");
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("series and value");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

fn delta(before: &HashMap<String, f64>, after: &HashMap<String, f64>, series: &str) -> f64 {
    after.get(series).copied().unwrap_or_default() - before.get(series).copied().unwrap_or_default()
}

async fn the_metrics_move_by_exactly_what_the_calls_did(backend: Backend) {
    let metrics = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let server = TestServer::start_with(backend, |config| {
        config.metrics_listen = Some(metrics);
    })
    .await;
    let admin = server.admin().await;
    admin
        .calls()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                lockout_threshold: Some(3),
                ..Default::default()
            }),
        })
        .await
        .expect("policy");
    let (_, mia) = server
        .user_with_roles(&admin, "mia@contoso.example", &[])
        .await;
    server
        .user_with_roles(&admin, "locky@contoso.example", &[])
        .await;
    let anonymous = server.client().await;
    let before = scrape(metrics).await;

    // Each wrong password a different one: a repeated one is not counted again.
    for i in 0..2 {
        anonymous
            .sign_in(
                "mia@contoso.example",
                &format!("not her password, take {i}"),
            )
            .await
            .expect_err("wrong password");
    }
    server.sign_in("mia@contoso.example", USER_PASSWORD).await;
    for i in 0..3 {
        anonymous
            .sign_in(
                "locky@contoso.example",
                &format!("not the password, take {i}"),
            )
            .await
            .expect_err("wrong password");
    }
    admin
        .calls()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(&mia)),
            ..Default::default()
        })
        .await
        .expect("reset");
    for _ in 0..3 {
        admin
            .calls()
            .get_user(pb::GetUserRequest {
                user: Some(user_id(&mia)),
            })
            .await
            .expect("get");
    }
    admin
        .calls()
        .get_user(pb::GetUserRequest {
            user: Some(user_id(&uuid::Uuid::now_v7().to_string())),
        })
        .await
        .expect_err("no such user");

    let after = scrape(metrics).await;
    let moved = |series: &str| delta(&before, &after, series);
    assert_eq!(
        moved(r#"gatehouse_sign_ins_total{outcome="failure",reason="wrong_password"}"#),
        5.0
    );
    assert_eq!(
        moved(r#"gatehouse_sign_ins_total{outcome="success",reason=""}"#),
        1.0
    );
    assert_eq!(moved("gatehouse_lockouts_total"), 1.0, "locky locked out");
    assert_eq!(
        moved(r#"gatehouse_password_resets_total{kind="admin"}"#),
        1.0
    );
    let rpc = |method: &str, code: &str| {
        moved(&format!(
            r#"gatehouse_rpc_requests_total{{method="gatehouse.v1.{method}",code="{code}"}}"#
        ))
    };
    assert_eq!(rpc("SelfService/SignIn", "Unauthenticated"), 5.0);
    assert_eq!(rpc("SelfService/SignIn", "OK"), 1.0);
    assert_eq!(rpc("AdminService/ResetPassword", "OK"), 1.0);
    assert_eq!(rpc("AdminService/GetUser", "OK"), 3.0);
    assert_eq!(rpc("AdminService/GetUser", "NotFound"), 1.0);
    assert_eq!(
        moved(
            r#"gatehouse_rpc_duration_seconds_count{method="gatehouse.v1.AdminService/GetUser"}"#
        ),
        4.0
    );
    for gauge in [
        "gatehouse_hash_workers_busy",
        "gatehouse_hash_queue_depth",
        "gatehouse_db_connections_in_use",
        "gatehouse_hash_shed_total",
    ] {
        assert!(after.contains_key(gauge), "{gauge} is exposed");
    }
    assert!(after["gatehouse_db_connections_open"] >= 1.0);
    assert!(
        delta(&before, &after, "gatehouse_hash_wait_seconds_count") >= 6.0,
        "every sign-in's check waited in the hash queue, if only for microseconds"
    );
    // A method outside the API is not a label of its own.
    assert!(
        after
            .keys()
            .filter(|k| k.starts_with("gatehouse_rpc_requests_total"))
            .all(|k| k.contains("method=\"gatehouse.v1.") || k.contains("method=\"grpc.")),
        "{:?}",
        after.keys().collect::<Vec<_>>()
    );
}

/// GetMe with an optional `x-request-id`; the id the answer (or refusal) carries back.
async fn request_id_of_get_me(client: &Client, given: Option<&str>) -> String {
    let mut request = tonic::Request::new(pb::GetMeRequest {});
    if let Some(id) = given {
        request
            .metadata_mut()
            .insert("x-request-id", id.parse().expect("metadata"));
    }
    let metadata = match client.self_service().get_me(request).await {
        Ok(response) => response.metadata().clone(),
        Err(status) => status.metadata().clone(),
    };
    metadata
        .get("x-request-id")
        .expect("the answer names its request id")
        .to_str()
        .expect("text")
        .to_owned()
}

async fn a_call_answers_with_its_request_id(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    assert_eq!(
        request_id_of_get_me(&admin, Some("trace-4711")).await,
        "trace-4711"
    );
    let made = request_id_of_get_me(&admin, None).await;
    assert!(uuid::Uuid::parse_str(&made).is_ok(), "a new id: {made}");
    assert_ne!(
        made,
        request_id_of_get_me(&admin, None).await,
        "one per call"
    );
    // A refused call too.
    let anonymous = server.client().await;
    assert_eq!(
        request_id_of_get_me(&anonymous, Some("refused-1")).await,
        "refused-1"
    );
}

async fn json_logs_are_one_object_per_line_with_the_request_id_on_the_calls_lines(
    backend: Backend,
) {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let url = fresh_database(backend, dir.path()).await;
    let env = [
        ("GATEHOUSE_LOG_FORMAT", "json".to_owned()),
        ("RUST_LOG", "info".to_owned()),
    ];
    let (server, stdout) = ServerProcess::start_logging(dir.path(), &url, &env).await;
    let admin = server.admin().await;
    let id = gatehouse_tests::create_user(&admin, "logged@contoso.example", &[]).await;
    let mut request = tonic::Request::new(pb::ResetPasswordRequest {
        user: Some(user_id(&id)),
        ..Default::default()
    });
    request
        .metadata_mut()
        .insert("x-request-id", "json-req-7".parse().expect("metadata"));
    let reset = admin
        .admin()
        .reset_password(request)
        .await
        .expect("reset")
        .into_inner();
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let line = lines
                .next_line()
                .await
                .expect("read")
                .expect("the server keeps logging");
            assert!(!line.contains('\u{1b}'), "no colour codes: {line}");
            let object: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("one JSON object per line ({e}): {line}"));
            if object["span"]["request_id"] == "json-req-7" && object["message"] == "password reset"
            {
                return object;
            }
        }
    })
    .await
    .expect("the reset's line within 20 s");
    assert_eq!(
        line["span"]["rpc"],
        "gatehouse.v1.AdminService/ResetPassword"
    );
    assert_eq!(line["user"], id.as_str(), "the field is named `user`");
    assert_eq!(line["level"], "INFO");
    let password = reset.generated_password;
    assert!(!password.is_empty());
    assert!(
        !line.to_string().contains(&password),
        "the generated password is not logged"
    );
}
