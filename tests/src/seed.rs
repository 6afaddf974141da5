//! Rows inserted straight into the database, for benchmarks whose set-up is not what they
//! measure.

use gatehouse::domain::SecretKey;
use gatehouse::store::entities::{outbox_message, password_credential, user};
use gatehouse::store::{DatabaseUrl, PasswordHash};
use sea_orm::{ActiveValue::Set, Database, EntityTrait as _};
use uuid::Uuid;

/// The databases a benchmark runs on: SQLite, and PostgreSQL when
/// `GATEHOUSE_TEST_POSTGRES_URL` names a server (`scripts/with-postgres` sets it).
/// `BENCH_BACKENDS=sqlite` or `=postgres` keeps one of them (a long run on one database).
pub fn bench_backends() -> Vec<crate::Backend> {
    let only = std::env::var("BENCH_BACKENDS").unwrap_or_default();
    let mut backends = Vec::new();
    if only != "postgres" {
        backends.push(crate::Backend::Sqlite);
    }
    if only != "sqlite" {
        if std::env::var_os("GATEHOUSE_TEST_POSTGRES_URL").is_some() {
            backends.push(crate::Backend::Postgres);
        } else {
            println!("(PostgreSQL skipped: set GATEHOUSE_TEST_POSTGRES_URL)");
        }
    }
    backends
}

/// A count from the environment variable `name` (a benchmark setting), else `default`.
pub fn env_count<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Inserts users straight into the database (the set-up is not what is measured); with
/// `with_password`, each gets a (shared) password hash.
pub async fn insert_users(
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
            contact_email: Set(format!("{prefix}-{i}@mail.contoso.example")),
            state: Set("active".to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            version: Set(1),
            password_never_expires: Set(false),
            ..Default::default()
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
                compromised_at: Set(None),
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

/// Queues `count` messages on `channel` (`email` or `sms`) straight into the outbox, due now,
/// their bodies sealed under the server's `key` as the server seals them; returns the
/// recipients.
pub async fn queue_messages(
    url: &DatabaseUrl,
    key: &SecretKey,
    tenant_id: Uuid,
    channel: &str,
    count: usize,
) -> Vec<String> {
    let db = Database::connect(url.expose()).await.expect("db");
    let now = chrono::Utc::now();
    let recipients: Vec<String> = (0..count)
        .map(|i| match channel {
            "sms" => format!("+1201555{:04}", i % 10_000),
            _ => format!("queued-{i}@mail.contoso.example"),
        })
        .collect();
    for chunk in recipients.chunks(500) {
        let rows = chunk.iter().map(|to| outbox_message::ActiveModel {
            id: Set(Uuid::now_v7()),
            tenant_id: Set(tenant_id),
            channel: Set(channel.to_owned()),
            recipient: Set(to.clone()),
            subject: Set("Queued for the benchmark".to_owned()),
            body: Set(key
                .seal_message(
                    channel,
                    to,
                    "A message of ordinary length, queued by the benchmark.",
                )
                .expect("seal")),
            created_at: Set(now),
            next_attempt_at: Set(now),
            attempts: Set(0),
            claimed_by: Set(None),
            claimed_until: Set(None),
            sent_at: Set(None),
            last_error: Set(None),
        });
        outbox_message::Entity::insert_many(rows)
            .exec(&db)
            .await
            .expect("queue messages");
    }
    db.close().await.expect("close");
    recipients
}
