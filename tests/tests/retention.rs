//! Rows nothing needs are removed by the background clean-up (expired sessions, bulk jobs past
//! their retention, audit events past an operator's retention); live ones stay, and the audit
//! chain still verifies across what was removed.

use std::time::Duration;

use gatehouse::store::entities::{audit_event, bulk_job, bulk_job_item, session};
use gatehouse_client::pb;
use gatehouse_tests::{
    Backend, TestServer, USER_PASSWORD, audit_events, backend_tests, create_user,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait as _, Database, EntityTrait as _, PaginatorTrait as _, QueryFilter as _,
};

backend_tests!(
    expired_sessions_are_removed_and_live_ones_kept,
    old_audit_events_are_removed_from_the_start_and_the_chain_still_verifies,
    without_a_retention_old_audit_events_are_kept,
    bulk_jobs_past_their_retention_are_removed_with_their_items,
);

async fn expired_sessions_are_removed_and_live_ones_kept(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.cleanup_interval_secs = 1;
        config.expired_retention_hours = 0;
    })
    .await;
    let admin = server.admin().await;
    let (person, _) = server
        .user_with_roles(&admin, "pia@contoso.example", &[])
        .await;
    let old = server
        .sign_in("pia@contoso.example", USER_PASSWORD)
        .await
        .session_token;
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("connect");
    let digest = {
        use sha2::Digest as _;
        sha2::Sha256::digest(old.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    // This session expired two days ago.
    session::Entity::update_many()
        .col_expr(
            session::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(2)),
        )
        .filter(session::Column::TokenHash.eq(digest.clone()))
        .exec(&db)
        .await
        .expect("age the session");
    let gone = async {
        loop {
            let left = session::Entity::find()
                .filter(session::Column::TokenHash.eq(digest.clone()))
                .count(&db)
                .await
                .expect("count");
            if left == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(20), gone)
        .await
        .expect("the expired session is removed");
    // The live session still works.
    person
        .self_service()
        .get_me(gatehouse_client::pb::GetMeRequest {})
        .await
        .expect("a live session is kept");
}

/// Ages the tenant's audit events up to `through` (by sequence) by `days`.
async fn age_audit_events(db: &sea_orm::DatabaseConnection, through: i64, days: i64) {
    audit_event::Entity::update_many()
        .col_expr(
            audit_event::Column::OccurredAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(days)),
        )
        .filter(audit_event::Column::Seq.lte(through))
        .exec(db)
        .await
        .expect("age audit events");
}

async fn verify(client: &gatehouse_client::Client) -> pb::VerifyAuditChainResponse {
    client
        .admin()
        .verify_audit_chain(pb::VerifyAuditChainRequest {})
        .await
        .expect("verify the audit chain")
        .into_inner()
}

async fn old_audit_events_are_removed_from_the_start_and_the_chain_still_verifies(
    backend: Backend,
) {
    let server = TestServer::start_with(backend, |config| {
        config.cleanup_interval_secs = 1;
        config.audit_retention_days = Some(30);
    })
    .await;
    let admin = server.admin().await;
    for i in 0..6 {
        create_user(&admin, &format!("kept{i}@contoso.example"), &[]).await;
    }
    let before = audit_events(&admin, pb::ListAuditEventsRequest::default()).await;
    let newest = before.first().expect("events").sequence;
    assert!(newest >= 6, "every creation is audited");
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("connect");
    // The first half is older than the retention (their hashes no longer match: they are
    // removed, so that does not matter).
    let through = newest / 2;
    age_audit_events(&db, through, 40).await;
    let report = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let report = verify(&admin).await;
            if report.removed_through_sequence != 0 {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the old events are removed");
    assert_eq!(report.removed_through_sequence, through);
    assert!(report.intact, "what remains verifies: {}", report.problem);
    let after = audit_events(&admin, pb::ListAuditEventsRequest::default()).await;
    assert_eq!(
        after.iter().map(|e| e.sequence).min(),
        Some(through + 1),
        "exactly the old events are gone"
    );
    assert_eq!(
        report.checked_events,
        i64::try_from(after.len()).expect("count")
    );
    // New events still link on, and tampering after the removal point is still caught.
    create_user(&admin, "later@contoso.example", &[]).await;
    assert!(verify(&admin).await.intact);
    audit_event::Entity::delete_many()
        .filter(audit_event::Column::Seq.eq(through + 1))
        .exec(&db)
        .await
        .expect("remove the first kept event");
    let report = verify(&admin).await;
    assert!(
        !report.intact,
        "a removed event past the retention point breaks the chain"
    );
    assert_eq!(report.first_broken_sequence, through + 1);
}

async fn without_a_retention_old_audit_events_are_kept(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.cleanup_interval_secs = 1;
    })
    .await;
    let admin = server.admin().await;
    create_user(&admin, "old@contoso.example", &[]).await;
    let before = audit_events(&admin, pb::ListAuditEventsRequest::default()).await;
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("connect");
    age_audit_events(&db, i64::MAX, 4000).await;
    // Several clean-up runs.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let after = audit_events(&admin, pb::ListAuditEventsRequest::default()).await;
    assert_eq!(
        after.len(),
        before.len(),
        "audit events are kept for good by default"
    );
    assert_eq!(verify(&admin).await.removed_through_sequence, 0);
}

async fn bulk_jobs_past_their_retention_are_removed_with_their_items(backend: Backend) {
    let server = TestServer::start_with(backend, |config| {
        config.cleanup_interval_secs = 1;
        config.bulk_job_retention_days = 7;
    })
    .await;
    let admin = server.admin().await;
    let mut users = Vec::new();
    for i in 0..3 {
        let id = create_user(&admin, &format!("bulkold{i}@contoso.example"), &[]).await;
        users.push(gatehouse_tests::user_id(&id));
    }
    let mut jobs = Vec::new();
    for key in ["old", "recent"] {
        let mut stream = admin
            .admin()
            .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
                users: users.clone(),
                idempotency_key: key.into(),
                ..Default::default()
            })
            .await
            .expect("bulk reset")
            .into_inner();
        let mut job = None;
        while let Some(message) = stream.message().await.expect("stream") {
            if let Some(pb::bulk_reset_passwords_response::Event::Started(started)) = message.event
            {
                job = Some(started.job_id);
            }
        }
        jobs.push(job.expect("a job id"));
    }
    let db = Database::connect(server.config.database_url().expose())
        .await
        .expect("connect");
    let old = uuid::Uuid::parse_str(&jobs[0]).expect("uuid");
    let eight_days_ago = chrono::Utc::now() - chrono::Duration::days(8);
    bulk_job::Entity::update_many()
        .col_expr(bulk_job::Column::CreatedAt, Expr::value(eight_days_ago))
        .col_expr(bulk_job::Column::FinishedAt, Expr::value(eight_days_ago))
        .filter(bulk_job::Column::Id.eq(old))
        .exec(&db)
        .await
        .expect("age the job");
    let get = |job: String| {
        let admin = admin.clone();
        async move {
            admin
                .admin()
                .get_bulk_job(pb::GetBulkJobRequest {
                    job_id: job,
                    ..Default::default()
                })
                .await
        }
    };
    tokio::time::timeout(Duration::from_secs(20), async {
        while get(jobs[0].clone()).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the old job is removed");
    assert_eq!(
        get(jobs[0].clone()).await.expect_err("gone").code(),
        tonic::Code::NotFound
    );
    let items = bulk_job_item::Entity::find()
        .filter(bulk_job_item::Column::JobId.eq(old))
        .count(&db)
        .await
        .expect("count");
    assert_eq!(items, 0, "its items go with it");
    let recent = get(jobs[1].clone()).await.expect("the recent job is kept");
    assert_eq!(recent.into_inner().items.len(), 3);
}
