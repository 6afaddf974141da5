//! Bulk password resets: streaming, the role matrix per user, dry runs, idempotent retries,
//! and a server killed in the middle.

use std::collections::HashSet;

use gatehouse_client::{Client, pb};
use gatehouse_tests::{
    Backend, ServerProcess, TestServer, USER_PASSWORD, backend_tests, fresh_database, get_user,
    user_id, username,
};
use tonic::Code;

backend_tests!(
    bulk_reset_streams_a_result_per_user_and_a_summary,
    a_dry_run_reports_and_changes_nothing,
    a_retry_with_the_same_key_resets_nobody_twice,
    an_idempotency_key_belongs_to_one_request,
    an_interrupted_call_continues_where_it_stopped,
    all_users_can_be_reset_by_filter,
    a_killed_server_resumes_a_bulk_reset_and_resets_each_user_exactly_once,
    a_kept_password_is_gone_once_the_person_changed_it,
);

async fn create_users(admin: &Client, prefix: &str, count: usize) -> Vec<String> {
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let user = admin
            .admin()
            .create_user(pb::CreateUserRequest {
                username: format!("{prefix}{i:04}@contoso.example"),
                display_name: format!("Bulk {i}"),
                ..Default::default()
            })
            .await
            .expect("create")
            .into_inner()
            .user
            .expect("user");
        ids.push(user.id);
    }
    ids
}

struct Collected {
    started: Option<pb::BulkResetStarted>,
    results: Vec<pb::BulkResetResult>,
    summary: Option<pb::BulkResetSummary>,
}

async fn run(
    admin: &Client,
    request: pb::BulkResetPasswordsRequest,
) -> Result<Collected, tonic::Status> {
    let mut stream = admin
        .admin()
        .bulk_reset_passwords(request)
        .await?
        .into_inner();
    let mut collected = Collected {
        started: None,
        results: Vec::new(),
        summary: None,
    };
    while let Some(message) = stream.message().await? {
        match message.event.expect("event") {
            pb::bulk_reset_passwords_response::Event::Started(s) => {
                assert!(
                    collected.started.is_none() && collected.results.is_empty(),
                    "the job id comes first, once"
                );
                collected.started = Some(s);
            }
            pb::bulk_reset_passwords_response::Event::Result(r) => collected.results.push(r),
            pb::bulk_reset_passwords_response::Event::Summary(s) => collected.summary = Some(s),
        }
    }
    Ok(collected)
}

fn by_ids(ids: &[String]) -> Vec<pb::UserRef> {
    ids.iter().map(|id| user_id(id)).collect()
}

async fn bulk_reset_streams_a_result_per_user_and_a_summary(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let mut ids = create_users(&admin, "bulk", 60).await;
    let (helpdesk, _) = server
        .user_with_roles(&admin, "desk@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let me = admin
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("me")
        .into_inner()
        .user
        .expect("user");
    ids.push(me.id.clone());
    let mut users = by_ids(&ids);
    users.push(username("ghost@contoso.example"));
    users.push(username("BULK0001@contoso.example"));

    let done = run(
        &helpdesk,
        pb::BulkResetPasswordsRequest {
            users,
            idempotency_key: "first".into(),
            ..Default::default()
        },
    )
    .await
    .expect("bulk");
    let summary = done.summary.expect("summary");
    assert_eq!(
        (
            summary.total,
            summary.reset,
            summary.refused,
            summary.not_found,
            summary.duplicates
        ),
        (63, 60, 1, 1, 1)
    );
    assert_eq!(done.results.len(), 63);
    let indexes: HashSet<i32> = done.results.iter().map(|r| r.index).collect();
    assert_eq!(indexes.len(), 63, "one result per user");
    let refused = done
        .results
        .iter()
        .find(|r| r.outcome() == pb::BulkOutcome::Refused)
        .expect("refused");
    assert_eq!(refused.user_id, me.id);
    assert!(
        refused.reason.contains("global_admin"),
        "{}",
        refused.reason
    );

    // Every generated password works once, for a change-only session.
    let sample = done
        .results
        .iter()
        .find(|r| r.outcome() == pb::BulkOutcome::Reset)
        .expect("a reset");
    assert!(sample.expire_time.is_some());
    let user = get_user(&admin, &sample.user_id).await;
    let signed_in = server
        .sign_in(&user.username, &sample.generated_password)
        .await;
    assert_eq!(
        signed_in.session_kind(),
        pb::SessionKind::PasswordChangeOnly
    );

    // bulk0001 is named by id and again by username: reset once, the second mention is a
    // duplicate (a second reset would void the password streamed first).
    let duplicate = done
        .results
        .iter()
        .find(|r| r.outcome() == pb::BulkOutcome::Duplicate)
        .expect("the duplicate");
    assert_eq!(duplicate.user_ref, "username:bulk0001@contoso.example");
    assert_eq!(duplicate.reason, "the same user as item 1");
    let passwords: HashSet<&str> = done
        .results
        .iter()
        .map(|r| r.generated_password.as_str())
        .collect();
    assert_eq!(
        passwords.len(),
        61,
        "60 distinct passwords, plus the empty one of the others"
    );

    // Read back in pages of 10.
    let mut items = Vec::new();
    let mut token = String::new();
    let mut job;
    loop {
        job = helpdesk
            .admin()
            .get_bulk_job(pb::GetBulkJobRequest {
                job_id: summary.job_id.clone(),
                page_size: 10,
                page_token: token.clone(),
            })
            .await
            .expect("job")
            .into_inner();
        assert!(job.items.len() <= 10);
        items.append(&mut job.items);
        if job.next_page_token.is_empty() {
            break;
        }
        token = job.next_page_token.clone();
    }
    assert_eq!(job.total, 63);
    assert!(job.finish_time.is_some());
    let indexes: Vec<i32> = items.iter().map(|i| i.index).collect();
    assert_eq!(
        indexes,
        (0..63).collect::<Vec<i32>>(),
        "every item once, in job order"
    );
    assert_eq!(items.iter().filter(|i| i.outcome == "reset").count(), 60);
    assert_eq!(items.iter().filter(|i| i.outcome == "duplicate").count(), 1);
    assert_eq!(items.iter().filter(|i| i.outcome == "not_found").count(), 1);
}

async fn a_dry_run_reports_and_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (_, plain) = server
        .user_with_roles(&admin, "dry@contoso.example", &[])
        .await;
    let (_, boss) = server
        .user_with_roles(&admin, "drier@contoso.example", &[pb::Role::UserAdmin])
        .await;
    let (helpdesk, _) = server
        .user_with_roles(&admin, "desk@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let done = run(
        &helpdesk,
        pb::BulkResetPasswordsRequest {
            users: vec![
                user_id(&plain),
                user_id(&boss),
                username("nobody@contoso.example"),
            ],
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .expect("dry run");
    let outcomes: Vec<pb::BulkOutcome> = done.results.iter().map(|r| r.outcome()).collect();
    assert_eq!(
        outcomes,
        [
            pb::BulkOutcome::WouldReset,
            pb::BulkOutcome::Refused,
            pb::BulkOutcome::NotFound
        ]
    );
    assert!(done.results.iter().all(|r| r.generated_password.is_empty()));
    let summary = done.summary.expect("summary");
    assert!(summary.job_id.is_empty(), "a dry run stores no job");
    server.sign_in("dry@contoso.example", USER_PASSWORD).await;
}

async fn a_retry_with_the_same_key_resets_nobody_twice(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let ids = create_users(&admin, "again", 20).await;
    let request = pb::BulkResetPasswordsRequest {
        users: by_ids(&ids),
        idempotency_key: "once".into(),
        ..Default::default()
    };
    let first = run(&admin, request.clone()).await.expect("first");
    let job_id = first.started.as_ref().expect("started").job_id.clone();
    assert_eq!(first.summary.as_ref().expect("summary").reset, 20);
    assert_eq!(first.summary.as_ref().expect("summary").job_id, job_id);
    // Not acknowledged: a retry hands out the very same passwords again, marked so.
    let second = run(&admin, request.clone()).await.expect("retry");
    let summary = second.summary.expect("summary");
    assert_eq!((summary.reset, summary.already_done), (20, 0));
    let first_passwords: HashSet<(String, String)> = first
        .results
        .iter()
        .map(|r| (r.user_id.clone(), r.generated_password.clone()))
        .collect();
    for result in &second.results {
        assert!(result.redelivered, "{result:?}");
        assert!(
            first_passwords.contains(&(result.user_id.clone(), result.generated_password.clone()))
        );
    }
    // Acknowledged: the kept passwords are erased, and a retry shows none.
    let erased = admin
        .admin()
        .acknowledge_bulk_results(pb::AcknowledgeBulkResultsRequest { job_id })
        .await
        .expect("acknowledge")
        .into_inner()
        .passwords_erased;
    assert_eq!(erased, 20);
    let third = run(&admin, request)
        .await
        .expect("retry after the acknowledgement");
    let summary = third.summary.expect("summary");
    assert_eq!((summary.reset, summary.already_done), (0, 20));
    assert!(
        third
            .results
            .iter()
            .all(|r| r.generated_password.is_empty() && !r.redelivered)
    );
    // The passwords from the first call still work: nobody was reset again.
    let one = &first.results[0];
    let user = get_user(&admin, &one.user_id).await;
    server
        .sign_in(&user.username, &one.generated_password)
        .await;
}

async fn an_idempotency_key_belongs_to_one_request(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let ids = create_users(&admin, "keyed", 3).await;
    run(
        &admin,
        pb::BulkResetPasswordsRequest {
            users: by_ids(&ids[..2]),
            idempotency_key: "k".into(),
            ..Default::default()
        },
    )
    .await
    .expect("first");
    let status = run(
        &admin,
        pb::BulkResetPasswordsRequest {
            users: by_ids(&ids),
            idempotency_key: "k".into(),
            ..Default::default()
        },
    )
    .await
    .err()
    .expect("a different request under the same key");
    assert_eq!(status.code(), Code::FailedPrecondition);
    let status = run(&admin, pb::BulkResetPasswordsRequest::default())
        .await
        .err()
        .expect("no users");
    assert_eq!(status.code(), Code::InvalidArgument);
    let status = run(
        &admin,
        pb::BulkResetPasswordsRequest {
            users: vec![user_id(&ids[0]); 10_001],
            ..Default::default()
        },
    )
    .await
    .err()
    .expect("too many");
    assert_eq!(status.code(), Code::InvalidArgument);
}

/// Reads results until `stop_after`, then drops the stream (the caller hangs up).
async fn run_partially(
    admin: &Client,
    request: pb::BulkResetPasswordsRequest,
    stop_after: usize,
) -> usize {
    let mut stream = admin
        .admin()
        .bulk_reset_passwords(request)
        .await
        .expect("start")
        .into_inner();
    let mut seen = 0;
    while seen < stop_after {
        match stream.message().await {
            Ok(Some(_)) => seen += 1,
            _ => break,
        }
    }
    seen
}

async fn count_bulk_resets(admin: &Client, job_id: &str) -> (usize, usize) {
    let filter = pb::ListAuditEventsRequest {
        action: "password.reset".into(),
        ..Default::default()
    };
    let resets: Vec<pb::AuditEvent> = gatehouse_tests::audit_events(admin, filter)
        .await
        .into_iter()
        .filter(|e| e.details_json.contains(job_id))
        .collect();
    let targets: HashSet<&str> = resets.iter().map(|e| e.target.as_str()).collect();
    (resets.len(), targets.len())
}

async fn an_interrupted_call_continues_where_it_stopped(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let ids = create_users(&admin, "cut", 80).await;
    let request = pb::BulkResetPasswordsRequest {
        users: by_ids(&ids),
        idempotency_key: "cut".into(),
        ..Default::default()
    };
    // The job id and nine results, then the caller hangs up.
    let seen = run_partially(&admin, request.clone(), 10).await;
    assert_eq!(seen, 10);
    let done = run(&admin, request).await.expect("retry");
    let summary = done.summary.expect("summary");
    // Every user's password reaches the caller: those reset before the cut (read or not)
    // are handed out again, the rest are reset now.
    assert_eq!(
        (summary.reset, summary.already_done),
        (80, 0),
        "{summary:?}"
    );
    assert!(
        done.results
            .iter()
            .all(|r| !r.generated_password.is_empty())
    );
    let again: Vec<_> = done.results.iter().filter(|r| r.redelivered).collect();
    assert!(again.len() >= 9, "{} handed out again", again.len());
    let user = get_user(&admin, &again[0].user_id).await;
    server
        .sign_in(&user.username, &again[0].generated_password)
        .await;
    let (events, targets) = count_bulk_resets(&admin, &summary.job_id).await;
    assert_eq!((events, targets), (80, 80), "each user reset exactly once");
}

async fn all_users_can_be_reset_by_filter(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    create_users(&admin, "every", 5).await;
    let (_, blocked) = server
        .user_with_roles(&admin, "blocked@contoso.example", &[])
        .await;
    admin
        .admin()
        .block_sign_in(pb::BlockSignInRequest {
            user: Some(user_id(&blocked)),
        })
        .await
        .expect("block");
    let only_blocked = run(
        &admin,
        pb::BulkResetPasswordsRequest {
            all_users: true,
            state: pb::UserState::SignInBlocked as i32,
            ..Default::default()
        },
    )
    .await
    .expect("blocked only");
    assert_eq!(only_blocked.summary.expect("summary").reset, 1);
    let everyone = run(
        &admin,
        pb::BulkResetPasswordsRequest {
            all_users: true,
            ..Default::default()
        },
    )
    .await
    .expect("everyone");
    let summary = everyone.summary.expect("summary");
    assert_eq!(
        (summary.total, summary.reset, summary.refused),
        (7, 6, 1),
        "everyone but the caller"
    );
}

async fn a_killed_server_resumes_a_bulk_reset_and_resets_each_user_exactly_once(backend: Backend) {
    let dir = tempfile::tempdir().expect("tempdir");
    let database = fresh_database(backend, dir.path()).await;
    let process = ServerProcess::start(dir.path(), &database).await;
    let admin = process.admin().await;
    let ids = create_users(&admin, "kill", 150).await;
    let request = pb::BulkResetPasswordsRequest {
        users: by_ids(&ids),
        idempotency_key: "kill-9".into(),
        ..Default::default()
    };

    // Start, read the job id and a few results, and SIGKILL the server mid-stream.
    let mut stream = admin
        .admin()
        .bulk_reset_passwords(request.clone())
        .await
        .expect("start")
        .into_inner();
    for _ in 0..21 {
        stream.message().await.expect("result").expect("a result");
    }
    let (data_dir, database) = process.kill().await;

    let process = ServerProcess::start(&data_dir, &database).await;
    let client = process.client().await;
    let signed_in = client
        .self_service()
        .sign_in(pb::SignInRequest {
            username: "admin@gatehouse.example".into(),
            password: gatehouse_tests::ADMIN_PASSWORD.into(),
            ..Default::default()
        })
        .await
        .expect("sign in after the restart")
        .into_inner();
    let admin = client.with_session(signed_in.session_token);
    let done = run(&admin, request).await.expect("retry after the restart");
    let summary = done.summary.expect("summary");
    assert_eq!(summary.total, 150);
    assert_eq!(
        summary.reset, 150,
        "every password reaches the caller: {summary:?}"
    );
    let again = done.results.iter().filter(|r| r.redelivered).count();
    assert!(
        again >= 20,
        "what was streamed before the kill is handed out again, not redone: {again}"
    );
    let (events, targets) = count_bulk_resets(&admin, &summary.job_id).await;
    assert_eq!(
        (events, targets),
        (150, 150),
        "each user reset exactly once"
    );
    let chain = admin
        .admin()
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .expect("verify")
        .into_inner();
    assert!(chain.intact, "{chain:?}");
    process.kill().await;
}

async fn a_kept_password_is_gone_once_the_person_changed_it(backend: Backend) {
    let server = TestServer::start_with(backend, |config| config.cleanup_interval_secs = 1).await;
    let admin = server.admin().await;
    let ids = create_users(&admin, "kept", 3).await;
    let request = pb::BulkResetPasswordsRequest {
        users: by_ids(&ids),
        idempotency_key: "kept".into(),
        ..Default::default()
    };
    let first = run(&admin, request.clone()).await.expect("first");
    let changed = &first.results[0];
    let name = get_user(&admin, &changed.user_id).await.username;
    // The person signs in with the temporary password and chooses their own.
    let session = server.sign_in(&name, &changed.generated_password).await;
    server
        .client()
        .await
        .with_session(session.session_token)
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: changed.generated_password.clone(),
            new_password: "a passphrase of the person's own choosing".into(),
        })
        .await
        .expect("change");
    // The clean-up erases the kept copy of the password that is no longer theirs.
    let db = sea_orm::Database::connect(server.config.database_url().expose())
        .await
        .expect("connect");
    let job = uuid::Uuid::parse_str(&first.summary.expect("summary").job_id).expect("job id");
    let started = std::time::Instant::now();
    loop {
        use sea_orm::EntityTrait as _;
        let item =
            gatehouse::store::entities::bulk_job_item::Entity::find_by_id((job, changed.index))
                .one(&db)
                .await
                .expect("read")
                .expect("item");
        if item.sealed_password.is_none() {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "the kept password of a changed account is erased"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    // A retry hands out the other two again, and nothing for the person who changed theirs.
    let again = run(&admin, request).await.expect("retry");
    let summary = again.summary.expect("summary");
    assert_eq!((summary.reset, summary.already_done), (2, 1));
    let gone = again
        .results
        .iter()
        .find(|r| r.user_id == changed.user_id)
        .expect("the changed user");
    assert!(gone.generated_password.is_empty() && !gone.redelivered);
}
