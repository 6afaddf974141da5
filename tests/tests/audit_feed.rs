//! AdminService/WatchAuditEvents: every new event of the tenant as it commits, in chain
//! order, on any replica, with no gap and no repeat across a reconnect; only for auditors and
//! global admins, and only while they still are.

use std::time::Duration;

use gatehouse_client::{Client, Code, pb};
use gatehouse_tests::{Backend, TestServer, USER_PASSWORD, backend_tests, create_user};

backend_tests!(
    a_watch_sends_each_new_event_in_order_and_resumes_without_gap_or_repeat,
    events_written_on_one_replica_reach_a_watcher_on_another,
    only_auditors_and_global_admins_watch_and_only_while_they_are,
);

/// The next event, within a few seconds.
async fn next(stream: &mut tonic::Streaming<pb::WatchAuditEventsResponse>) -> pb::AuditEvent {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("an event within 10 s")
        .expect("the stream stays open")
        .expect("a message")
        .event
        .expect("an event")
}

async fn watch(
    client: &Client,
    request: pb::WatchAuditEventsRequest,
) -> tonic::Streaming<pb::WatchAuditEventsResponse> {
    client
        .admin()
        .watch_audit_events(request)
        .await
        .expect("watch")
        .into_inner()
}

async fn a_watch_sends_each_new_event_in_order_and_resumes_without_gap_or_repeat(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    // From the start: the past first, in chain order, each linking to the one before.
    let mut from_start = watch(&admin, pb::WatchAuditEventsRequest::default()).await;
    let first = next(&mut from_start).await;
    assert_eq!(first.sequence, 1);
    let second = next(&mut from_start).await;
    assert_eq!(second.sequence, 2);
    assert_eq!(second.previous_hash, first.hash);
    drop(from_start);

    let mut live = watch(
        &admin,
        pb::WatchAuditEventsRequest {
            from_now: true,
            ..Default::default()
        },
    )
    .await;
    let id = create_user(&admin, "watched@contoso.example", &[]).await;
    let created = next(&mut live).await;
    assert_eq!(created.action, "user.create");
    assert_eq!(created.target, format!("user:{id}"));
    let listed = gatehouse_tests::audit_events(&admin, pb::ListAuditEventsRequest::default()).await;
    assert_eq!(
        created.hash,
        listed
            .iter()
            .find(|e| e.sequence == created.sequence)
            .expect("listed")
            .hash,
        "the feed shows events as ListAuditEvents does"
    );
    drop(live);

    // While nobody watches, more happens; resuming after the last sequence seen sends exactly
    // what came after it, in order.
    for i in 0..5 {
        create_user(&admin, &format!("later{i}@contoso.example"), &[]).await;
    }
    let head = gatehouse_tests::audit_events(&admin, pb::ListAuditEventsRequest::default())
        .await
        .first()
        .expect("events")
        .sequence;
    let mut resumed = watch(
        &admin,
        pb::WatchAuditEventsRequest {
            after_sequence: created.sequence,
            ..Default::default()
        },
    )
    .await;
    let mut expected = created.sequence + 1;
    let mut previous = created.hash.clone();
    while expected <= head {
        let event = next(&mut resumed).await;
        assert_eq!(event.sequence, expected, "no gap, no repeat");
        assert_eq!(event.previous_hash, previous, "in chain order");
        previous = event.hash;
        expected += 1;
    }
}

async fn events_written_on_one_replica_reach_a_watcher_on_another(backend: Backend) {
    let first = TestServer::start(backend).await;
    let second = TestServer::run(first.config.clone()).await;
    let admin = first.admin().await;
    create_user(&admin, "auditor@contoso.example", &[pb::Role::Auditor]).await;
    let token = first
        .sign_in("auditor@contoso.example", USER_PASSWORD)
        .await
        .session_token;
    let on_second = second.client().await.with_session(token);
    // Each created user is two events (the creation, its password): 4 users, 8 events, read
    // in two feeds on the other replica, the second resuming after the first's last event.
    let read = |feed: gatehouse_client::AuditFeed, count: usize| {
        tokio::spawn(async move {
            let mut feed = feed;
            let mut seen = Vec::new();
            while seen.len() < count {
                seen.push(feed.next().await.expect("the feed goes on"));
            }
            seen
        })
    };
    let mut seen = Vec::new();
    for round in 0..2 {
        let after = seen.last().map(|e: &pb::AuditEvent| e.sequence);
        let watcher = read(on_second.audit_feed(after), 4);
        // Let the first watch open before the writes begin (the second resumes by number).
        tokio::time::sleep(Duration::from_millis(700)).await;
        for i in 0..2 {
            create_user(&admin, &format!("elsewhere{round}{i}@contoso.example"), &[]).await;
        }
        seen.extend(
            tokio::time::timeout(Duration::from_secs(15), watcher)
                .await
                .expect("every event within 15 s")
                .expect("watcher"),
        );
    }
    for pair in seen.windows(2) {
        assert_eq!(
            pair[1].sequence,
            pair[0].sequence + 1,
            "in order, no gap, no repeat"
        );
        assert_eq!(pair[1].previous_hash, pair[0].hash);
    }
    let created = seen.iter().filter(|e| e.action == "user.create").count();
    assert_eq!(created, 4, "the other replica's writes, each once");
}

async fn only_auditors_and_global_admins_watch_and_only_while_they_are(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let (helpdesk, _) = server
        .user_with_roles(&admin, "desk@contoso.example", &[pb::Role::PasswordAdmin])
        .await;
    let refused = helpdesk
        .admin()
        .watch_audit_events(pb::WatchAuditEventsRequest::default())
        .await
        .expect_err("a password admin does not read the audit log");
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = admin
        .admin()
        .watch_audit_events(pb::WatchAuditEventsRequest {
            after_sequence: -1,
            ..Default::default()
        })
        .await
        .expect_err("a negative sequence");
    assert_eq!(refused.code(), Code::InvalidArgument);

    let (auditor, auditor_id) = server
        .user_with_roles(&admin, "audit@contoso.example", &[pb::Role::Auditor])
        .await;
    let mut stream = watch(
        &auditor,
        pb::WatchAuditEventsRequest {
            from_now: true,
            ..Default::default()
        },
    )
    .await;
    admin
        .calls()
        .revoke_role(pb::RevokeRoleRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::UserId(auditor_id)),
            }),
            role: pb::Role::Auditor as i32,
            ..Default::default()
        })
        .await
        .expect("revoke");
    // The revocation itself may still arrive; then the stream ends, refused.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("the stream ended without saying why"),
                Err(status) => return status,
            }
        }
    })
    .await
    .expect("the watch ends within 10 s of the revocation");
    assert_eq!(ended.code(), Code::PermissionDenied);
}
