//! Rows inserted straight into the database, for benchmarks whose set-up is not what they
//! measure.

use gatehouse::store::entities::{password_credential, user};
use gatehouse::store::{DatabaseUrl, PasswordHash};
use sea_orm::{ActiveValue::Set, Database, EntityTrait as _};
use uuid::Uuid;

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
