//! Directory-scale figures, printed, on SQLite and (when a server is given) PostgreSQL:
//!
//! 1. raw Argon2id throughput with one hash per core at once: the ceiling;
//! 2. `BulkResetPasswords` of N users through the server over mTLS, and its ratio to (1)
//!    (goal ≥ 0.85);
//! 3. `RequirePasswordChange` for all of 100,000 users (goal < 1 s).
//!
//! `cargo bench -p gatehouse-tests --bench admin_scale` (release). Settings:
//! `BENCH_BULK_USERS` (default 10000), `BENCH_ALL_USERS` (default 100000),
//! `GATEHOUSE_TEST_POSTGRES_URL` for the PostgreSQL run (`scripts/test` style admin URL).

use std::time::Instant;

use gatehouse::domain::{HashSettings, Hasher, Password};
use gatehouse::store::entities::{password_credential, user};
use gatehouse::store::{DatabaseUrl, PasswordHash};
use gatehouse_client::pb;
use gatehouse_tests::{Backend, TestServer, user_id};
use sea_orm::{ActiveValue::Set, Database, EntityTrait as _};
use uuid::Uuid;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let bulk_users = env_count("BENCH_BULK_USERS", 10_000);
    let all_users = env_count("BENCH_ALL_USERS", 100_000);
    let ceiling = raw_hash_rate().await;
    println!("raw argon2id, all cores: {ceiling:.1} hashes/s");
    let mut backends = vec![Backend::Sqlite];
    if std::env::var_os("GATEHOUSE_TEST_POSTGRES_URL").is_some() {
        backends.push(Backend::Postgres);
    } else {
        println!("(PostgreSQL skipped: set GATEHOUSE_TEST_POSTGRES_URL)");
    }
    for backend in backends {
        let server = TestServer::start(backend).await;
        let admin = server.admin().await;
        let tenant_id = admin
            .self_service()
            .get_me(pb::GetMeRequest {})
            .await
            .expect("me")
            .into_inner()
            .user
            .expect("user")
            .tenant_id
            .parse::<Uuid>()
            .expect("tenant id");
        let url = server.config.database_url();

        let ids = insert_users(&url, tenant_id, "bulk", bulk_users, false).await;
        let start = Instant::now();
        let mut stream = admin
            .admin()
            .bulk_reset_passwords(pb::BulkResetPasswordsRequest {
                users: ids.iter().map(|id| user_id(&id.to_string())).collect(),
                idempotency_key: "bench".into(),
                ..Default::default()
            })
            .await
            .expect("bulk")
            .into_inner();
        let mut reset = 0;
        while let Some(message) = stream.message().await.expect("stream") {
            if let Some(pb::bulk_reset_passwords_response::Event::Summary(summary)) = message.event
            {
                reset = summary.reset;
            }
        }
        let elapsed = start.elapsed().as_secs_f64();
        let rate = f64::from(reset) / elapsed;
        println!(
            "{backend:?}: BulkResetPasswords of {reset} users in {elapsed:.1} s = {rate:.1} users/s; ratio to raw hashing {:.2} (goal >= 0.85)",
            rate / ceiling
        );

        insert_users(&url, tenant_id, "all", all_users, true).await;
        let start = Instant::now();
        let done = admin
            .admin()
            .require_password_change(pb::RequirePasswordChangeRequest {
                all_users: true,
                ..Default::default()
            })
            .await
            .expect("require change")
            .into_inner();
        println!(
            "{backend:?}: RequirePasswordChange for all {} users in {:.3} s (goal < 1 s)",
            done.affected_users,
            start.elapsed().as_secs_f64()
        );
        server.stop().await;
    }
}

/// Hashes per second with every core busy, through the same bounded pool the server uses.
async fn raw_hash_rate() -> f64 {
    let hasher = Hasher::new(HashSettings::default()).expect("hasher");
    let password = Password::new("a benchmark passphrase of fair length".to_owned());
    let total = 400;
    let start = Instant::now();
    let tasks: Vec<_> = (0..total)
        .map(|_| {
            let hasher = hasher.clone();
            let password = password.clone();
            tokio::spawn(async move { hasher.hash_waiting(&password).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("join").expect("hash");
    }
    f64::from(total) / start.elapsed().as_secs_f64()
}

/// Inserts users straight into the database (the set-up is not what is measured); with
/// `with_password`, each gets a (shared) password hash.
async fn insert_users(
    url: &DatabaseUrl,
    tenant_id: Uuid,
    prefix: &str,
    count: usize,
    with_password: bool,
) -> Vec<Uuid> {
    let db = Database::connect(url.expose()).await.expect("db");
    let now = chrono::Utc::now();
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$3q9nn7QqZ5j1xM9xWZkSV0yZ1lFqfHqC3y0vT6f3Ahk".to_owned());
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::now_v7()).collect();
    for chunk in ids.chunks(1000) {
        let rows = chunk.iter().enumerate().map(|(i, id)| user::ActiveModel {
            id: Set(*id),
            tenant_id: Set(tenant_id),
            username: Set(format!("{prefix}-{id}-{i}@contoso.example")),
            display_name: Set("Bench".to_owned()),
            contact_email: Set(String::new()),
            state: Set("active".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
            password_never_expires: Set(false),
        });
        user::Entity::insert_many(rows)
            .exec(&db)
            .await
            .expect("insert users");
        if with_password {
            let rows = chunk.iter().map(|id| password_credential::ActiveModel {
                user_id: Set(*id),
                tenant_id: Set(tenant_id),
                hash: Set(hash.clone()),
                set_at: Set(now),
                expires_at: Set(None),
                must_change: Set(false),
                temporary: Set(false),
                failed_attempts: Set(0),
                locked_until: Set(None),
                lockout_count: Set(0),
                recent_failures: Set(String::new()),
                reminder_sent_for: Set(None),
                attempts_in_flight: Set(0),
                attempts_lease_until: Set(None),
            });
            password_credential::Entity::insert_many(rows)
                .exec(&db)
                .await
                .expect("insert credentials");
        }
    }
    db.close().await.expect("close");
    ids
}
