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
use gatehouse_client::pb;
use gatehouse_tests::{TestServer, user_id};

#[tokio::main]
async fn main() {
    let bulk_users = gatehouse_tests::seed::env_count("BENCH_BULK_USERS", 10_000usize);
    let all_users = gatehouse_tests::seed::env_count("BENCH_ALL_USERS", 100_000usize);
    let ceiling = raw_hash_rate().await;
    println!("raw argon2id, all cores: {ceiling:.1} hashes/s");
    let backends = gatehouse_tests::seed::bench_backends();
    for backend in backends {
        let server = TestServer::start(backend).await;
        let admin = server.admin().await;
        let tenant_id = gatehouse_tests::tenant_id(&admin).await;
        let url = server.config.database_url();

        let ids =
            gatehouse_tests::seed::insert_users(&url, tenant_id, "bulk", bulk_users, false).await;
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

        gatehouse_tests::seed::insert_users(&url, tenant_id, "all", all_users, true).await;
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
