//! Compromised passwords: a list of 1,000,000 generated corpus lines and a few known
//! passwords, imported with the real `gatehouse compromised import`, then refused wherever a
//! password is set, forcing a change at sign-in (once told by email), not refusing random
//! strong passwords beyond the filter's rate, and replaced on two replicas by a new import.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse::domain::compromised::{BreachFilter, STATED_FALSE_POSITIVE_RATE, sha1_hex};
use gatehouse::store::Store;
use gatehouse_client::{Client, pb};
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{
    ADMIN_PASSWORD, Backend, TestServer, USER_PASSWORD, backend_tests, create_user, gatehouse_bin,
    user_id,
};
use rand::RngExt as _;
use tonic::Code;

backend_tests!(
    a_listed_password_is_refused_where_set_and_forces_a_change_at_sign_in,
    random_strong_passwords_are_not_refused_beyond_the_filters_rate,
    a_new_import_replaces_the_list_on_every_replica,
);

/// Listed in the corpus form, seen often.
const LEAKED: &str = "velvet harbour lanterns glow at dawn";
/// Listed in the corpus form, seen once: left out by `--min-count 2`.
const RARE: &str = "quiet orchard kettles hum past noon";
/// The passphrase of a new list, not on the first.
const LATER: &str = "marble canyon owls trade silver maps";

const GENERATED: u64 = 1_000_000;

async fn start(backend: Backend, sink: &SmtpSink) -> TestServer {
    TestServer::start_with(backend, |config| {
        sink.configure(config);
        config.compromised_poll_secs = 1;
    })
    .await
}

/// A list of `GENERATED` corpus lines (random hashes, counts 2 to 51) and `extra` lines.
fn write_list(dir: &Path, name: &str, extra: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("list"));
    let mut rng = rand::rng();
    for i in 0..GENERATED {
        let (a, b, c): (u64, u64, u32) = (rng.random(), rng.random(), rng.random());
        writeln!(out, "{a:016X}{b:016X}{c:08X}:{}", i % 50 + 2).expect("write");
    }
    for line in extra {
        writeln!(out, "{line}").expect("write");
    }
    out.flush().expect("flush");
    path
}

/// Runs `gatehouse compromised import` against the server's database; returns its output.
fn import(server: &TestServer, list: &Path, min_count: u64) -> String {
    let output = std::process::Command::new(gatehouse_bin())
        .arg("--data-dir")
        .arg(&server.data_dir)
        .arg("--database-url")
        .arg(server.config.database_url().expose())
        .args(["compromised", "import"])
        .arg(list)
        .args(["--min-count", &min_count.to_string()])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the import");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "import failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Sets a chosen password for `user` (ResetPassword); the refusal when there is one.
async fn set(admin: &Client, user: &str, password: &str) -> Result<(), tonic::Status> {
    admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(user)),
            password: password.to_owned(),
            require_change: Some(false),
            ..Default::default()
        })
        .await
        .map(drop)
}

/// Waits (the replicas poll every second) until setting `password` is refused as breached.
async fn until_refused(admin: &Client, user: &str, password: &str) -> tonic::Status {
    for _ in 0..100 {
        match set(admin, user, password).await {
            Err(status) if status.message().contains("data breach") => return status,
            Err(status) => panic!("refused for another reason: {status:?}"),
            Ok(()) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("{password} was never refused");
}

async fn a_listed_password_is_refused_where_set_and_forces_a_change_at_sign_in(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = start(backend, &sink).await;
    let admin = server.admin().await;
    // Pat's password is set before the import, and is on the list.
    create_user(&admin, "pat@contoso.example", &[]).await;
    let ria = create_user(&admin, "ria@contoso.example", &[]).await;
    let quinn = create_user(&admin, "quinn@contoso.example", &[]).await;
    let dir = tempfile::tempdir().expect("dir");
    let list = write_list(
        dir.path(),
        "breached.txt",
        &[
            format!("{}:1234", sha1_hex(LEAKED).to_lowercase()),
            format!("{}:1", sha1_hex(RARE)),
            USER_PASSWORD.to_owned(),
        ],
    );
    let summary = import(&server, &list, 2);
    assert!(
        summary.contains("imported 1000002 compromised passwords"),
        "{summary}"
    );
    assert!(summary.contains("1 below --min-count"), "{summary}");
    assert!(summary.contains("bytes per entry") && summary.contains("false-positive rate"));

    let refused = until_refused(&admin, &quinn, LEAKED).await;
    assert_eq!(refused.code(), Code::InvalidArgument);
    let details = gatehouse_client::CallError::from_status(&refused);
    assert!(
        details
            .field_violations()
            .iter()
            .any(|v| v.field == "password" && v.description.contains("data breach")),
        "{refused:?}"
    );
    set(&admin, &quinn, RARE)
        .await
        .expect("a corpus line below --min-count is not listed");

    // At sign-in the listed password still works, but only to change it; the person is told
    // once.
    let first = server.sign_in("pat@contoso.example", USER_PASSWORD).await;
    assert_eq!(first.session_kind(), pb::SessionKind::PasswordChangeOnly);
    assert_eq!(
        first.change_reason(),
        pb::PasswordChangeReason::PasswordCompromised
    );
    let about_breach = |m: &gatehouse_tests::smtp::Mail| {
        m.to == ["pat@contoso.example"] && m.text().contains("data breach")
    };
    sink.wait_for_match(0, Duration::from_secs(10), about_breach)
        .await;
    let again = server.sign_in("pat@contoso.example", USER_PASSWORD).await;
    assert_eq!(
        again.change_reason(),
        pb::PasswordChangeReason::PasswordCompromised
    );
    let pats = server.client().await.with_session(again.session_token);
    let to_listed = pats
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: USER_PASSWORD.into(),
            new_password: LEAKED.into(),
        })
        .await
        .expect_err("a listed new password");
    assert!(to_listed.message().contains("data breach"), "{to_listed:?}");
    pats.self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: USER_PASSWORD.into(),
            new_password: LATER.into(),
        })
        .await
        .expect("a password of their own");
    let after = server.sign_in("pat@contoso.example", LATER).await;
    assert_eq!(after.session_kind(), pb::SessionKind::Full);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        sink.mails().iter().filter(|m| about_breach(m)).count(),
        1,
        "told once, not at every sign-in"
    );

    // A tenant may let such sign-ins through (new listed passwords stay refused).
    admin
        .admin()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                compromised_check_at_sign_in: Some(false),
                ..Default::default()
            }),
        })
        .await
        .expect("policy");
    let still = server.sign_in("ria@contoso.example", USER_PASSWORD).await;
    assert_eq!(still.session_kind(), pb::SessionKind::Full, "check is off");
    assert!(set(&admin, &ria, LEAKED).await.is_err());
}

async fn random_strong_passwords_are_not_refused_beyond_the_filters_rate(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = start(backend, &sink).await;
    let admin = server.admin().await;
    let dir = tempfile::tempdir().expect("dir");
    let list = write_list(dir.path(), "breached.txt", &[LEAKED.to_owned()]);
    import(&server, &list, 1);

    // The filter as every replica loads it.
    let store = Store::connect(&server.config.database_url())
        .await
        .expect("store");
    let id = store
        .newest_compromised_list()
        .await
        .expect("query")
        .expect("a list");
    let filter = BreachFilter::from_bytes(&store.compromised_list_bytes(id).await.expect("bytes"))
        .expect("filter");
    assert_eq!(filter.entries(), GENERATED + 1);
    assert!(filter.contains_password(LEAKED));
    let mut rng = rand::rng();
    let alphabet: Vec<char> = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789-_"
        .chars()
        .collect();
    let strong: Vec<String> = (0..10_000)
        .map(|_| {
            (0..20)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect()
        })
        .collect();
    let refused = strong
        .iter()
        .filter(|p| filter.contains_password(p))
        .count();
    // The stated rate gives 0.15 expected; four or more would happen less than once in a
    // million runs.
    assert!(
        (refused as f64) < 4.0_f64.max(10_000.0 * STATED_FALSE_POSITIVE_RATE * 25.0),
        "{refused} of 10,000 random strong passwords were refused"
    );

    // And through the server: a few of them set as passwords without a breach refusal.
    let user = create_user(&admin, "sam@contoso.example", &[]).await;
    until_refused(&admin, &user, LEAKED).await;
    for password in strong.iter().take(10) {
        let with_words = format!("{password} lantern orchard");
        if let Err(status) = set(&admin, &user, &with_words).await {
            assert!(
                !status.message().contains("data breach"),
                "{with_words}: {status:?}"
            );
        }
    }
}

async fn a_new_import_replaces_the_list_on_every_replica(backend: Backend) {
    let sink = SmtpSink::start().await;
    let first = start(backend, &sink).await;
    let admin_first = first.admin().await;
    let url = first.config.database_url();
    let second = TestServer::start_with(backend, |config| {
        sink.configure(config);
        config.compromised_poll_secs = 1;
        config.database_url = Some(url.clone());
    })
    .await;
    let signed_in = second.sign_in(&first.admin_username, ADMIN_PASSWORD).await;
    let admin_second = second.client().await.with_session(signed_in.session_token);
    let user = create_user(&admin_first, "rep@contoso.example", &[]).await;

    let dir = tempfile::tempdir().expect("dir");
    let one = write_list(dir.path(), "one.txt", &[LEAKED.to_owned()]);
    import(&first, &one, 1);
    until_refused(&admin_first, &user, LEAKED).await;
    until_refused(&admin_second, &user, LEAKED).await;

    let two = write_list(dir.path(), "two.txt", &[LATER.to_owned()]);
    import(&first, &two, 1);
    for admin in [&admin_first, &admin_second] {
        until_refused(admin, &user, LATER).await;
        set(admin, &user, LEAKED)
            .await
            .expect("the first list's password is no longer listed");
    }
}
