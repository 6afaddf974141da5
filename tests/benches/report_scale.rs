//! The password activity report over a large audit log: `BENCH_REPORT_EVENTS` (default
//! 1,000,000) events over 60 days, inserted straight into the database, in a realistic mix
//! (sign-ins, changes, resets of every kind, self-service flows, lock-outs, help requests,
//! refusals); then `GetPasswordActivityReport` through the server over mTLS for a 30-day
//! window per day (goal: under 1 s on SQLite), a 7-day window per hour, and the whole 60
//! days per day. Each figure is the median of `BENCH_ROUNDS` (default 5) calls, printed next
//! to the median first page of `ListAuditEvents` on the same server as a floor.
//!
//! `cargo bench -p gatehouse-tests --bench report_scale` (release); `scripts/bench report`.

use std::time::{Duration, Instant};

use chrono::Utc;
use gatehouse::store::entities::audit_event;
use gatehouse_client::{Client, pb};
use gatehouse_tests::TestServer;
use sea_orm::{ActiveValue::Set, Database, EntityTrait as _, QueryOrder as _};
use uuid::Uuid;

const DAYS: i64 = 60;

/// (action, outcome, details, weight in a hundred).
const MIX: &[(&str, &str, &str, u64)] = &[
    ("session.sign_in", "success", "{}", 30),
    (
        "session.sign_in",
        "failure",
        r#"{"reason":"wrong_password"}"#,
        10,
    ),
    ("password.change", "success", "{}", 8),
    ("password.reset", "success", r#"{"generated":"true"}"#, 6),
    (
        "password.reset",
        "success",
        r#"{"bulk_job":"0192","generated":"true"}"#,
        6,
    ),
    (
        "password.reset",
        "success",
        r#"{"delivery":"invitation"}"#,
        2,
    ),
    ("reset.start", "success", r#"{"flow":"0192"}"#, 10),
    ("password.self_reset", "success", "{}", 6),
    (
        "reset.code_rejected",
        "failure",
        r#"{"reason":"wrong_code"}"#,
        4,
    ),
    (
        "reset.code_rejected",
        "failure",
        r#"{"reason":"no_tries_left"}"#,
        1,
    ),
    (
        "reset.code_not_sent",
        "denied",
        r#"{"reason":"flow_sends_used_up"}"#,
        1,
    ),
    ("user.locked_out", "success", "{}", 3),
    ("reset_request.ask", "success", "{}", 3),
    ("reset_request.resolve", "success", "{}", 2),
    ("reset_request.dismiss", "success", "{}", 1),
    ("user.update", "success", "{}", 7),
];

#[tokio::main]
async fn main() {
    let events = gatehouse_tests::seed::env_count("BENCH_REPORT_EVENTS", 1_000_000u64);
    let rounds = gatehouse_tests::seed::env_count("BENCH_ROUNDS", 5usize);
    assert_eq!(MIX.iter().map(|m| m.3).sum::<u64>(), 100);
    for backend in gatehouse_tests::seed::bench_backends() {
        let server = TestServer::start(backend).await;
        let admin = server.admin().await;
        let tenant = gatehouse_tests::tenant_id(&admin).await;
        let started = Instant::now();
        seed(&server.config.database_url(), tenant, events).await;
        println!(
            "{backend:?}: {events} audit events over {DAYS} days (inserted in {:.0} s)",
            started.elapsed().as_secs_f64()
        );
        let floor = median(rounds, || async {
            admin
                .admin()
                .list_audit_events(pb::ListAuditEventsRequest::default())
                .await
                .expect("list");
        })
        .await;
        println!(
            "  {:<44} {:8.1} ms",
            "ListAuditEvents, first page (floor)",
            floor.as_secs_f64() * 1e3
        );
        let now = Utc::now();
        for (name, days, granularity, goal) in [
            ("30 days per day", 30, pb::ReportGranularity::Day, Some(1.0)),
            ("7 days per hour", 7, pb::ReportGranularity::Hour, None),
            ("60 days per day", DAYS, pb::ReportGranularity::Day, None),
        ] {
            let request = pb::GetPasswordActivityReportRequest {
                start_time: Some(timestamp(now - chrono::Duration::days(days))),
                end_time: Some(timestamp(now)),
                granularity: granularity as i32,
                top_actors: 10,
            };
            let time = median(rounds, || async {
                report(&admin, request).await;
            })
            .await;
            let counted = counted_events(&report(&admin, request).await);
            let goal = goal.map_or(String::new(), |g: f64| {
                format!(
                    "  (goal < {:.0} ms: {})",
                    g * 1e3,
                    if time.as_secs_f64() < g {
                        "met"
                    } else {
                        "missed"
                    }
                )
            });
            println!(
                "  {:<44} {:8.1} ms  {:.0} x the floor, {counted} events counted{goal}",
                format!("GetPasswordActivityReport, {name}"),
                time.as_secs_f64() * 1e3,
                time.as_secs_f64() / floor.as_secs_f64(),
            );
        }
        server.stop().await;
    }
}

async fn report(
    admin: &Client,
    request: pb::GetPasswordActivityReportRequest,
) -> pb::GetPasswordActivityReportResponse {
    admin
        .admin()
        .get_password_activity_report(request)
        .await
        .expect("report")
        .into_inner()
}

fn counted_events(report: &pb::GetPasswordActivityReportResponse) -> i64 {
    let t = report.totals.unwrap_or_default();
    t.admin_resets
        + t.bulk_resets
        + t.invitation_resets
        + t.self_service_resets_started
        + t.self_service_resets_completed
        + t.password_changes
        + t.lockouts
        + t.help_requests_opened
        + t.help_requests_resolved
        + t.help_requests_dismissed
        + t.blocked_reset_attempts
}

fn timestamp(at: chrono::DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: 0,
    }
}

async fn median<F, Fut>(rounds: usize, mut call: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    call().await;
    let mut times = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        call().await;
        times.push(started.elapsed());
    }
    times.sort_unstable();
    times[times.len() / 2]
}

/// Appends `count` events after the tenant's own, evenly over the last [`DAYS`] days, the
/// actions drawn from [`MIX`] and the actors from a hundred admins.
async fn seed(url: &gatehouse::store::DatabaseUrl, tenant: Uuid, count: u64) {
    let db = Database::connect(url.expose()).await.expect("db");
    let last = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Seq)
        .one(&db)
        .await
        .expect("last event")
        .map_or(0, |e| e.seq);
    let span_ms = DAYS * 86_400_000;
    let start = Utc::now() - chrono::Duration::milliseconds(span_ms);
    let mut wheel = Vec::with_capacity(100);
    for (i, m) in MIX.iter().enumerate() {
        wheel.extend(std::iter::repeat_n(i, usize::try_from(m.3).unwrap_or(0)));
    }
    for chunk in (0..count).step_by(1000) {
        let rows = (chunk..(chunk + 1000).min(count)).map(|i| {
            // Spread the mix so neighbours differ (37 is prime to 100).
            let (action, outcome, details, _) =
                MIX[wheel[usize::try_from(i * 37 % 100).unwrap_or(0)]];
            let offset =
                i64::try_from(i).unwrap_or(0) * span_ms / i64::try_from(count).unwrap_or(1);
            audit_event::ActiveModel {
                id: Set(Uuid::now_v7()),
                tenant_id: Set(tenant),
                seq: Set(last + 1 + i64::try_from(i).unwrap_or(0)),
                occurred_at: Set(start + chrono::Duration::milliseconds(offset)),
                actor: Set(format!("user:{}", Uuid::from_u128(u128::from(i % 100)))),
                caller_service: Set(None),
                action: Set(action.to_owned()),
                target: Set(format!("user:{}", Uuid::from_u128(u128::from(i % 5000)))),
                outcome: Set(outcome.to_owned()),
                details: Set(details.to_owned()),
                prev_hash: Set(String::new()),
                hash: Set(String::new()),
            }
        });
        audit_event::Entity::insert_many(rows)
            .exec(&db)
            .await
            .expect("insert events");
    }
    db.close().await.expect("close");
}
