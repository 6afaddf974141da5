//! The database goes away under a running server and comes back: health follows it within
//! seconds, calls fail fast with UNAVAILABLE meanwhile (never INTERNAL, never a hang),
//! nothing committed is lost, and the outbox resumes by itself.

use std::time::{Duration, Instant};

use gatehouse_client::{Client, pb};
use gatehouse_tests::postgres::PrivatePostgres;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{TestServer, skip_postgres, within_limit};
use tonic::Code;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

async fn health(client: &Client) -> Option<ServingStatus> {
    let mut health = HealthClient::new(client.channel());
    let status = health
        .check(HealthCheckRequest::default())
        .await
        .ok()?
        .into_inner()
        .status;
    ServingStatus::try_from(status).ok()
}

/// Waits (at most `limit`) for health to report `wanted`; returns how long it took.
async fn health_becomes(client: &Client, wanted: ServingStatus, limit: Duration) -> Duration {
    let started = Instant::now();
    while health(client).await != Some(wanted) {
        assert!(
            started.elapsed() < limit,
            "health did not turn {wanted:?} within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_outage_turns_health_and_fails_calls_fast_then_recovers() {
    if skip_postgres() {
        return;
    }
    within_limit(outage()).await;
}

async fn outage() {
    let Some(pg) = PrivatePostgres::start() else {
        panic!("PostgreSQL server binaries are needed (scripts/with-postgres finds them)");
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let sink = SmtpSink::start().await;
    let mut config = gatehouse::Config {
        data_dir: dir.path().to_path_buf(),
        database_url: Some(pg.url()),
        dev: true,
        ..gatehouse::Config::default()
    };
    sink.configure(&mut config);
    let server = TestServer::run(config).await;
    let admin = server.admin().await;
    let id = admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "olga@contoso.example".into(),
            display_name: "Olga".into(),
            contact_email: "olga@mail.example".into(),
        })
        .await
        .expect("create")
        .into_inner()
        .user
        .expect("user")
        .id;
    admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(gatehouse_tests::user_id(&id)),
            password: gatehouse_tests::USER_PASSWORD.into(),
            require_change: Some(false),
            ..Default::default()
        })
        .await
        .expect("set a password");
    let client = server.client().await;

    pg.stop();
    let down = health_becomes(&client, ServingStatus::NotServing, Duration::from_secs(10)).await;
    // Calls during the outage, several at once: each fails fast and says why.
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let admin = admin.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let started = Instant::now();
                let result = admin
                    .admin()
                    .get_user(pb::GetUserRequest {
                        user: Some(gatehouse_tests::user_id(&id)),
                    })
                    .await;
                (result, started.elapsed())
            })
        })
        .collect();
    for call in calls {
        let (result, took) = call.await.expect("join");
        let status = result.expect_err("the database is down");
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
        assert!(status.message().contains("database"), "{status:?}");
        assert!(
            took < Duration::from_secs(10),
            "failed fast, not at a deadline: {took:?}"
        );
    }
    let status = client
        .self_service()
        .sign_in(pb::SignInRequest {
            username: "olga@contoso.example".into(),
            password: gatehouse_tests::USER_PASSWORD.into(),
            ..Default::default()
        })
        .await
        .expect_err("the database is down");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");

    pg.resume();
    let up = health_becomes(&client, ServingStatus::Serving, Duration::from_secs(15)).await;
    println!("health: NOT_SERVING after {down:?}, SERVING again after {up:?}");
    // Nothing committed was lost, and the person signs in again.
    let user = admin
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(gatehouse_tests::user_id(&id)),
        })
        .await
        .expect("the user is still there")
        .into_inner();
    assert_eq!(user.user.expect("user").username, "olga@contoso.example");
    server
        .sign_in("olga@contoso.example", gatehouse_tests::USER_PASSWORD)
        .await;
    // The dispatcher kept running: an invitation queued now is delivered.
    admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(gatehouse_tests::user_id(&id)),
            delivery: pb::ResetDelivery::Invitation as i32,
            ..Default::default()
        })
        .await
        .expect("invite");
    sink.wait_for(1, Duration::from_secs(20)).await;
    server.stop().await;
}

/// A tmpfs of its own for the SQLite file, so the test can fill it (root only: elsewhere the
/// test says so and fails, rather than passing without having run).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> SmallDisk {
        let dir = tempfile::tempdir().expect("tempdir");
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=24m", "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        SmallDisk { dir }
    }

    /// Fills the disk to the last byte.
    fn fill(&self) {
        let _ = std::process::Command::new("dd")
            .args(["if=/dev/zero", "bs=64k"])
            .arg(format!("of={}", self.dir.path().join("filler").display()))
            .stderr(std::process::Stdio::null())
            .status();
    }

    fn free(&self) {
        std::fs::remove_file(self.dir.path().join("filler")).expect("remove the filler");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_that_cannot_be_written_fails_writes_fast_then_recovers() {
    within_limit(sqlite_full()).await;
}

async fn sqlite_full() {
    let disk = SmallDisk::mount();
    let data = disk.dir.path().join("data");
    let config = gatehouse::Config {
        data_dir: data.clone(),
        database_url: Some(gatehouse::store::DatabaseUrl::sqlite_file(
            &data.join("gatehouse.db"),
        )),
        dev: true,
        ..gatehouse::Config::default()
    };
    let server = TestServer::run(config).await;
    let admin = server.admin().await;
    let (_, id) = server
        .user_with_roles(&admin, "pat@contoso.example", &[])
        .await;

    disk.fill();
    // Writes fail, each fast and saying why; nothing is half-written.
    let mut refused = 0;
    for n in 0..20 {
        let created = admin
            .admin()
            .create_user(pb::CreateUserRequest {
                username: format!("filler{n}@contoso.example"),
                display_name: "x".repeat(250),
                ..Default::default()
            })
            .await;
        if let Err(status) = created {
            assert_eq!(status.code(), Code::Unavailable, "{status:?}");
            assert!(status.message().contains("database"), "{status:?}");
            refused += 1;
        }
    }
    assert!(refused > 0, "a full disk refuses writes");
    // Reads still work.
    admin
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(gatehouse_tests::user_id(&id)),
        })
        .await
        .expect("reads work on a full disk");

    disk.free();
    // Once there is room, every write works again: no connection is left holding the lock.
    let client = server.client().await;
    for n in 0..10 {
        let signed_in = client
            .self_service()
            .sign_in(pb::SignInRequest {
                username: "pat@contoso.example".into(),
                password: gatehouse_tests::USER_PASSWORD.into(),
                ..Default::default()
            })
            .await;
        assert!(
            signed_in.is_ok(),
            "sign-in {n} after the disk was freed: {signed_in:?}"
        );
    }
    admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: "after@contoso.example".into(),
            display_name: "After".into(),
            ..Default::default()
        })
        .await
        .expect("a write after the disk was freed");
    server.stop().await;
}
