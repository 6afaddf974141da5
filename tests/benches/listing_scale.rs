//! The cost of a listing's page as the directory grows: every filter of `ListUsers` (state,
//! registration state) and `ListAuditEvents` timed with the tables at 10,000 rows and again
//! at `BENCH_LARGE_ROWS` (default 1,000,000; the goal is ≤ 1.5 × at 10,000,000), rows inserted
//! straight into the database, through the server over mTLS, on SQLite and (when a server is given) PostgreSQL.
//! Each figure is the median of `BENCH_ROUNDS` (default 30) first pages of 100.
//!
//! `cargo bench -p gatehouse-tests --bench listing_scale` (release); `scripts/bench scale`.

use std::time::{Duration, Instant};

use gatehouse::store::entities::audit_event;
use gatehouse_client::{Client, pb};
use gatehouse_tests::TestServer;
use sea_orm::{ActiveValue::Set, Database, EntityTrait as _, QueryFilter as _, QueryOrder as _};
use uuid::Uuid;

const SMALL: usize = 10_000;

#[tokio::main]
async fn main() {
    let large = gatehouse_tests::seed::env_count("BENCH_LARGE_ROWS", 1_000_000usize);
    let rounds = gatehouse_tests::seed::env_count("BENCH_ROUNDS", 30usize);
    let backends = gatehouse_tests::seed::bench_backends();
    for backend in backends {
        let server = TestServer::start(backend).await;
        let admin = server.admin().await;
        let tenant = gatehouse_tests::tenant_id(&admin).await;
        let url = server.config.database_url();
        let mut at_small = Vec::new();
        let mut rows = 0;
        for size in [SMALL, large] {
            let more = size - rows;
            let started = Instant::now();
            grow(&url, tenant, rows, more).await;
            rows = size;
            println!(
                "{backend:?}: {size} users and audit events ({more} inserted in {:.0} s)",
                started.elapsed().as_secs_f64()
            );
            let figures = listings(&admin, rounds).await;
            for (i, (name, median)) in figures.iter().enumerate() {
                let ratio = if size == SMALL {
                    at_small.push(*median);
                    String::new()
                } else {
                    format!(
                        "  ({:.2} x its time at {SMALL}; goal <= 1.5)",
                        median.as_secs_f64() / at_small[i].as_secs_f64()
                    )
                };
                println!("  {name:<40} {:7.2} ms{ratio}", median.as_secs_f64() * 1e3);
            }
        }
        server.stop().await;
    }
}

/// Adds `count` users (one in a hundred blocked, another one in a hundred registered with a
/// confirmed email) and as many audit events (spread over four actions, fifty targets and
/// fifty actors) after the `existing` ones.
async fn grow(url: &gatehouse::store::DatabaseUrl, tenant: Uuid, existing: usize, count: usize) {
    let ids =
        gatehouse_tests::seed::insert_users(url, tenant, &format!("scale{existing}"), count, false)
            .await;
    let db = Database::connect(url.expose()).await.expect("db");
    register_some(&db, tenant, &ids).await;
    if existing == 0 {
        use sea_orm::sea_query::Expr;
        // One in a hundred blocked, so the state filter has something to find.
        gatehouse::store::entities::user::Entity::update_many()
            .col_expr(
                gatehouse::store::entities::user::Column::State,
                Expr::value("sign_in_blocked"),
            )
            .filter(sea_orm::sea_query::Expr::cust(
                "username LIKE 'scale0-%-%00@%'",
            ))
            .exec(&db)
            .await
            .expect("block some");
    }
    let last = audit_event::Entity::find()
        .order_by_desc(audit_event::Column::Seq)
        .one(&db)
        .await
        .expect("last event")
        .map_or(0, |e| e.seq);
    let total = i64::try_from(existing + count).unwrap_or(i64::MAX);
    let start = chrono::Utc::now() - chrono::Duration::seconds(total);
    for chunk_start in (0..count).step_by(1000) {
        let rows = (chunk_start..(chunk_start + 1000).min(count)).map(|i| {
            let seq = last + 1 + i64::try_from(i).unwrap_or(0);
            audit_event::ActiveModel {
                id: Set(Uuid::now_v7()),
                tenant_id: Set(tenant),
                seq: Set(seq),
                // One event a second, the newest about now: time and sequence rise together.
                occurred_at: Set(start + chrono::Duration::seconds(seq)),
                actor: Set(format!(
                    "user:{}",
                    Uuid::from_u128(u128::from(seq as u64 % 50))
                )),
                caller_service: Set(None),
                action: Set([
                    "session.sign_in",
                    "password.change",
                    "password.reset",
                    "user.update",
                ][usize::try_from(seq).unwrap_or(0) % 4]
                    .to_owned()),
                target: Set(format!(
                    "user:{}",
                    Uuid::from_u128(u128::from(seq as u64 % 50))
                )),
                outcome: Set("success".to_owned()),
                details: Set("{}".to_owned()),
                prev_hash: Set(String::new()),
                hash: Set(String::new()),
            }
        });
        audit_event::Entity::insert_many(rows)
            .exec(&db)
            .await
            .expect("insert events");
    }
    // A real table grows slowly enough for autovacuum to keep up with it: its statistics
    // current (else ten million rows inserted in minutes are planned as the ten thousand it
    // last counted), its pages' hint bits and visibility map set. Done here, before timing,
    // what autovacuum would otherwise start on the fresh rows while the pages are timed, on
    // the same cores (with `ANALYZE` alone, first pages at 10,000,000 rows cost up to three
    // times their time at 10,000, every plan an index range in the page's order).
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        use sea_orm::ConnectionTrait as _;
        db.execute_unprepared("VACUUM (ANALYZE)")
            .await
            .expect("vacuum and analyze");
    }
    db.close().await.expect("close");
}

/// Gives one user in a hundred a confirmed email method, stored as registered the way the
/// server judges it.
async fn register_some(db: &sea_orm::DatabaseConnection, tenant: Uuid, ids: &[Uuid]) {
    use gatehouse::store::entities::{user, verification_method};
    use sea_orm::ColumnTrait as _;
    use sea_orm::sea_query::Expr;
    let now = chrono::Utc::now();
    let chosen: Vec<Uuid> = ids.iter().skip(50).step_by(100).copied().collect();
    for chunk in chosen.chunks(1000) {
        let rows = chunk.iter().map(|id| verification_method::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant),
            user_id: Set(*id),
            kind: Set("email".to_owned()),
            address: Set(format!("{id}@mail.contoso.example")),
            created_at: Set(now),
            verified_at: Set(Some(now)),
            code_hash: Set(None),
            code_expires_at: Set(None),
            code_attempts: Set(0),
            last_totp_step: Set(1),
        });
        verification_method::Entity::insert_many(rows)
            .exec(db)
            .await
            .expect("insert methods");
        user::Entity::update_many()
            .col_expr(user::Column::RegistrationState, Expr::value("registered"))
            .col_expr(user::Column::RegistrationAnchorAt, Expr::value(now))
            .filter(user::Column::Id.is_in(chunk.iter().copied()))
            .exec(db)
            .await
            .expect("store them registered");
    }
}

/// The median first-page time of each listing and filter.
async fn listings(admin: &Client, rounds: usize) -> Vec<(&'static str, Duration)> {
    // Each target and actor has 1 in 50 of the events, so every filtered first page is full
    // at either size: what is compared is the cost of a page, not of a shorter one.
    let target = format!("user:{}", Uuid::from_u128(34));
    let actor = format!("user:{}", Uuid::from_u128(7));
    let users = |state: pb::UserState| pb::ListUsersRequest {
        page_size: 100,
        state: state as i32,
        ..Default::default()
    };
    let audit = |target: &str, action: &str, actor: &str, start: bool| pb::ListAuditEventsRequest {
        page_size: 100,
        target: target.to_owned(),
        action: action.to_owned(),
        actor: actor.to_owned(),
        start_time: start.then(|| prost_types::Timestamp {
            seconds: chrono::Utc::now().timestamp() - 86_400,
            nanos: 0,
        }),
        ..Default::default()
    };
    let registration = |state: pb::RegistrationState| pb::ListUsersRequest {
        page_size: 100,
        registration_state: state as i32,
        ..Default::default()
    };
    let mut figures = Vec::new();
    for (name, request) in [
        ("ListUsers", users(pb::UserState::Unspecified)),
        (
            "ListUsers by state (blocked)",
            users(pb::UserState::SignInBlocked),
        ),
        (
            "ListUsers registered (1 in 100)",
            registration(pb::RegistrationState::Registered),
        ),
        (
            "ListUsers not registered",
            registration(pb::RegistrationState::NotRegistered),
        ),
    ] {
        figures.push((
            name,
            median(rounds, || {
                let request = request.clone();
                async move { admin.admin().list_users(request).await.map(drop) }
            })
            .await,
        ));
    }
    for (name, request) in [
        ("ListAuditEvents", audit("", "", "", false)),
        ("ListAuditEvents by target", audit(&target, "", "", false)),
        (
            "ListAuditEvents by action",
            audit("", "password.change", "", false),
        ),
        ("ListAuditEvents by actor", audit("", "", &actor, false)),
        ("ListAuditEvents since a day ago", audit("", "", "", true)),
    ] {
        figures.push((
            name,
            median(rounds, || {
                let request = request.clone();
                async move { admin.admin().list_audit_events(request).await.map(drop) }
            })
            .await,
        ));
    }
    figures
}

async fn median<F, Fut>(rounds: usize, call: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<(), tonic::Status>>,
{
    let mut samples = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        let started = Instant::now();
        call().await.expect("listing");
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}
