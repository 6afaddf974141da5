//! `gatehouse-admin` as a person or a script runs it: the real binary as a process, against a
//! real server over mTLS, with its own config directory. `scripts/test` builds the binary and
//! sets `GATEHOUSE_ADMIN_BIN`.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use futures::StreamExt as _;
use gatehouse_client::pb;
use gatehouse_tests::smtp::SmtpSink;
use gatehouse_tests::{ADMIN_PASSWORD, Backend, TestServer, USER_PASSWORD, backend_tests};
use tokio::io::AsyncWriteExt as _;
use tonic::Code;

backend_tests!(
    login_keeps_a_private_session_and_logout_revokes_it,
    login_with_a_one_time_password_changes_it_first,
    users_create_then_list_as_json,
    bulk_reset_of_200_users_writes_a_private_results_file_of_working_passwords,
    bulk_reset_dry_run_writes_no_password_and_changes_nothing,
    a_user_without_a_role_is_denied_with_exit_3,
    tenants_create_prints_a_one_time_password_that_signs_in_and_list_shows_them,
    users_unlock_revoke_sessions_and_methods_act_on_a_real_user,
    a_damaged_session_file_does_not_block_login_or_logout,
    a_help_request_with_terminal_escapes_is_listed_escaped,
    a_server_certificate_the_ca_did_not_sign_is_named_in_the_error,
    audit_tail_prints_each_event_as_one_json_line_and_follows_new_ones,
    units_scope_a_role_and_the_report_counts_the_resets,
    registration_is_required_listed_reminded_and_snoozed_from_the_cli,
);

/// The binary `scripts/test` built.
fn admin_bin() -> PathBuf {
    match std::env::var_os("GATEHOUSE_ADMIN_BIN") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "GATEHOUSE_ADMIN_BIN is not set: run `scripts/test`, or build the CLI with \
             `cargo build -p gatehouse-client --bin gatehouse-admin` and set \
             GATEHOUSE_ADMIN_BIN=target/debug/gatehouse-admin"
        ),
    }
}

/// What a run printed and how it ended.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "exit {}\nstdout: {}\nstderr: {}",
            self.code, self.stdout, self.stderr
        );
        self
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// An operator's shell: a working directory where `gatehouse-data/` is the server's data
/// directory (so the `serve --dev` certificate defaults apply with no flags), a config
/// directory of its own, and the endpoint in `GATEHOUSE_ENDPOINT` (the test server is not on
/// the default port).
struct Shell {
    dir: tempfile::TempDir,
    endpoint: String,
}

impl Shell {
    fn new(server: &TestServer) -> Shell {
        let dir = tempfile::tempdir().expect("tempdir");
        std::os::unix::fs::symlink(&server.data_dir, dir.path().join("gatehouse-data"))
            .expect("link gatehouse-data");
        Shell {
            dir,
            endpoint: format!("https://{}", server.addr),
        }
    }

    /// A shell without a server, for runs that fail before any call.
    fn offline() -> Shell {
        Shell {
            dir: tempfile::tempdir().expect("tempdir"),
            endpoint: "https://127.0.0.1:9".to_owned(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config_dir(&self) -> PathBuf {
        self.path("config")
    }

    fn session_file(&self) -> PathBuf {
        self.config_dir().join("gatehouse").join("session.toml")
    }

    async fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "").await
    }

    /// `gatehouse-admin ARGS` in this shell, still running, with its stdout piped.
    fn spawn(&self, args: &[&str]) -> tokio::process::Child {
        self.command(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gatehouse-admin")
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(admin_bin());
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env("GATEHOUSE_ENDPOINT", &self.endpoint)
            .kill_on_drop(true);
        command
    }

    async fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start gatehouse-admin");
        let mut input = child.stdin.take().expect("stdin");
        input
            .write_all(stdin.as_bytes())
            .await
            .expect("write stdin");
        drop(input);
        let output = child.wait_with_output().await.expect("gatehouse-admin ran");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// `login --password-stdin` as `username`.
    async fn login(&self, username: &str, password: &str) {
        self.run_with_stdin(
            &["login", username, "--password-stdin"],
            &format!("{password}\n"),
        )
        .await
        .ok();
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// The token in the session file.
fn saved_token(shell: &Shell) -> String {
    let text = std::fs::read_to_string(shell.session_file()).expect("session file");
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("token = "))
        .expect("a token line");
    serde_json::from_str(line).expect("a quoted token")
}

async fn login_keeps_a_private_session_and_logout_revokes_it(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.admin().await;
    let shell = Shell::new(&server);

    let login = shell
        .run_with_stdin(
            &["login", &server.admin_username, "--password-stdin"],
            &format!("{ADMIN_PASSWORD}\n"),
        )
        .await
        .ok();
    assert!(login.stdout.contains("signed in as"), "{}", login.stdout);
    assert_eq!(mode(&shell.session_file()), 0o600);
    assert_eq!(mode(&shell.config_dir().join("gatehouse")), 0o700);
    let token = saved_token(&shell);
    assert!(!login.stdout.contains(&token) && !login.stderr.contains(&token));
    assert!(!login.stdout.contains(ADMIN_PASSWORD) && !login.stderr.contains(ADMIN_PASSWORD));

    // The token works for a caller of the API, then logout revokes it.
    let with_token = server.client().await.with_session(token.clone());
    with_token
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("the saved session works");
    let logout = shell.run(&["logout"]).await.ok();
    assert!(logout.stdout.contains("signed out"), "{}", logout.stdout);
    assert!(!shell.session_file().exists());
    let revoked = with_token
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect_err("the session is revoked");
    assert_eq!(revoked.code(), Code::Unauthenticated);

    // Signed out, the dev certificate alone holds no role: exit 3, with what to do.
    let denied = shell.run(&["users", "list"]).await;
    assert_eq!(denied.code, 3, "{}", denied.stderr);
    assert!(
        denied.stderr.contains("gatehouse-admin login"),
        "{}",
        denied.stderr
    );
}

async fn login_with_a_one_time_password_changes_it_first(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shell = Shell::new(&server);
    let new_password = "a fresh passphrase nobody else knows";

    // The bootstrap admin's one-time password gives a change-only session: the new password
    // comes from the second line of standard input.
    let login = shell
        .run_with_stdin(
            &["login", &server.admin_username, "--password-stdin"],
            &format!("{}\n{new_password}\n", server.admin_password),
        )
        .await
        .ok();
    assert!(
        login.stderr.contains("password changed"),
        "{}",
        login.stderr
    );
    shell.run(&["users", "list"]).await.ok();
    server.sign_in(&server.admin_username, new_password).await;

    // A new password the policy refuses: exit 1 and the broken rule, by field.
    let server = TestServer::start(backend).await;
    let shell = Shell::new(&server);
    let refused = shell
        .run_with_stdin(
            &["login", &server.admin_username, "--password-stdin"],
            &format!("{}\nshort\n", server.admin_password),
        )
        .await;
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("error: cannot change the password: invalid argument")
            && refused.stderr.contains("new_password: too short"),
        "{}",
        refused.stderr
    );
    assert!(!shell.session_file().exists());
}

async fn users_create_then_list_as_json(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.admin().await;
    let shell = Shell::new(&server);
    shell.login(&server.admin_username, ADMIN_PASSWORD).await;

    let created = shell
        .run(&[
            "--json",
            "users",
            "create",
            "Carol@Contoso.Example",
            "--display-name",
            "Carol Jones",
            "--email",
            "carol.home@mail.example",
        ])
        .await
        .ok()
        .json();
    assert_eq!(created["username"], "carol@contoso.example");
    let id = created["id"].as_str().expect("id").to_owned();

    let listed = shell.run(&["users", "list", "--json"]).await.ok().json();
    let users = listed.as_array().expect("an array");
    assert_eq!(users.len(), 2, "the admin and Carol");
    let carol = users
        .iter()
        .find(|u| u["username"] == "carol@contoso.example")
        .expect("carol is listed");
    assert_eq!(carol["id"], id.as_str());
    assert_eq!(carol["display_name"], "Carol Jones");
    assert_eq!(carol["contact_email"], "carol.home@mail.example");
    assert_eq!(carol["state"], "active");
    assert_eq!(carol["roles"], serde_json::json!([]));

    // The table for people names her too; a blocked user shows as such.
    shell
        .run(&["users", "block", "carol@contoso.example"])
        .await
        .ok();
    let table = shell.run(&["users", "list"]).await.ok();
    let row = table
        .stdout
        .lines()
        .find(|l| l.starts_with("carol@contoso.example"))
        .expect("a row for carol");
    assert!(
        row.contains("Carol Jones") && row.contains("blocked"),
        "{row}"
    );

    // A second create is refused by the server; an unknown user is exit 4.
    let again = shell
        .run(&["users", "create", "carol@contoso.example"])
        .await;
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let missing = shell
        .run(&["users", "show", "nobody@contoso.example"])
        .await;
    assert_eq!(missing.code, 4, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .starts_with("error: cannot read user nobody@contoso.example: not found"),
        "{}",
        missing.stderr
    );
}

/// Creates `count` users `user{i}@bulk.example` and a CSV naming them (with a column before
/// the username, as exports from other systems have).
async fn users_and_csv(server: &TestServer, shell: &Shell, count: usize) -> PathBuf {
    let admin = server.admin().await;
    let mut csv = String::from("display_name,username\n");
    for i in 0..count {
        let username = format!("user{i:03}@bulk.example");
        admin
            .admin()
            .create_user(pb::CreateUserRequest {
                username: username.clone(),
                display_name: format!("User {i}"),
                ..Default::default()
            })
            .await
            .expect("create");
        csv.push_str(&format!("\"User {i}, Bulk\",{username}\n"));
    }
    let path = shell.path("users.csv");
    std::fs::write(&path, csv).expect("write the CSV");
    path
}

async fn bulk_reset_of_200_users_writes_a_private_results_file_of_working_passwords(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    let shell = Shell::new(&server);
    let from = users_and_csv(&server, &shell, 200).await;
    shell.login(&server.admin_username, ADMIN_PASSWORD).await;

    let started = std::time::Instant::now();
    let run = shell
        .run(&[
            "passwords",
            "bulk-reset",
            "--from",
            from.to_str().expect("utf-8"),
            "--out",
            "results.csv",
            "--idempotency-key",
            "cli-test-200",
        ])
        .await
        .ok();
    eprintln!(
        "bulk reset of 200 users through the CLI: {:?}",
        started.elapsed()
    );
    assert!(
        run.stdout.contains("reset 200 of 200 user(s)"),
        "{}",
        run.stdout
    );
    let results = shell.path("results.csv");
    assert_eq!(mode(&results), 0o600);

    let mut reader = csv_rows(&results);
    assert_eq!(
        reader.remove(0),
        ["username", "status", "temporary_password", "reason"]
    );
    assert_eq!(reader.len(), 200, "one row per user");
    let mut seen = std::collections::BTreeSet::new();
    for row in &reader {
        assert_eq!(row[1], "reset", "{row:?}");
        assert!(row[2].chars().count() >= 15, "{row:?}");
        seen.insert(row[0].clone());
    }
    assert_eq!(seen.len(), 200);
    // The passwords are in the 0600 file alone; the key is said at the start.
    for row in &reader {
        assert!(
            !run.stdout.contains(&row[2]) && !run.stderr.contains(&row[2]),
            "a temporary password was printed"
        );
    }
    assert!(
        run.stderr.starts_with("idempotency key: cli-test-200\n"),
        "{}",
        run.stderr
    );

    // Each temporary password works, once, for a change-only session.
    let client = server.client().await;
    let sign_ins = futures::stream::iter(reader.iter())
        .map(|row| {
            let client = client.clone();
            async move {
                let signed_in = client
                    .sign_in(&row[0], &row[2])
                    .await
                    .unwrap_or_else(|e| panic!("{} cannot sign in: {e}", row[0]));
                assert_eq!(
                    signed_in.change_reason,
                    pb::PasswordChangeReason::TemporaryPassword
                );
            }
        })
        .buffer_unordered(4)
        .collect::<Vec<()>>()
        .await;
    assert_eq!(sign_ins.len(), 200);

    // The same key again resets nobody twice; the results file is never overwritten.
    let again = shell
        .run(&[
            "passwords",
            "bulk-reset",
            "--from",
            "users.csv",
            "--out",
            "results.csv",
            "--idempotency-key",
            "cli-test-200",
        ])
        .await;
    assert_eq!(again.code, 1);
    assert!(
        again.stderr.contains("results.csv") && again.stderr.contains("exists"),
        "{}",
        again.stderr
    );
    let again = shell
        .run(&[
            "--json",
            "passwords",
            "bulk-reset",
            "--from",
            "users.csv",
            "--out",
            "again.csv",
            "--idempotency-key",
            "cli-test-200",
        ])
        .await
        .ok()
        .json();
    assert_eq!(again["reset"], 0);
    assert_eq!(again["already_done"], 200);
    assert!(
        csv_rows(&shell.path("again.csv"))
            .iter()
            .skip(1)
            .all(|row| row[1] == "already_done" && row[2].is_empty())
    );
}

async fn bulk_reset_dry_run_writes_no_password_and_changes_nothing(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shell = Shell::new(&server);
    users_and_csv(&server, &shell, 3).await;
    // One username per line works too, with a user that does not exist.
    std::fs::write(
        shell.path("list.txt"),
        "# leavers\nuser000@bulk.example\nuser001@bulk.example\n\nghost@bulk.example\n",
    )
    .expect("write");
    shell.login(&server.admin_username, ADMIN_PASSWORD).await;

    let dry = shell
        .run(&[
            "passwords",
            "bulk-reset",
            "--from",
            "list.txt",
            "--out",
            "dry.csv",
            "--dry-run",
        ])
        .await
        .ok();
    assert!(
        dry.stdout
            .contains("would reset 2 of 3 user(s) (refused 0, not found 1"),
        "{}",
        dry.stdout
    );
    let rows = csv_rows(&shell.path("dry.csv"));
    assert_eq!(rows.len(), 4);
    assert_eq!(rows[1][..3], ["user000@bulk.example", "would_reset", ""]);
    assert_eq!(rows[2][..3], ["user001@bulk.example", "would_reset", ""]);
    assert_eq!(rows[3][..3], ["ghost@bulk.example", "not_found", ""]);

    // Without --out, the dry run prints its table and writes nothing.
    let printed = shell
        .run(&["passwords", "bulk-reset", "--from", "list.txt", "--dry-run"])
        .await
        .ok();
    assert!(printed.stdout.contains("would_reset"), "{}", printed.stdout);

    // Nobody's password was touched.
    let admin = server.client().await.with_session(
        server
            .sign_in(&server.admin_username, ADMIN_PASSWORD)
            .await
            .session_token,
    );
    let users = admin
        .calls()
        .list_users(pb::ListUsersRequest::default())
        .await
        .expect("list");
    for user in users
        .users
        .iter()
        .filter(|u| u.username.ends_with("@bulk.example"))
    {
        assert!(user.password_set_time.is_none(), "{}", user.username);
        assert!(!user.password_change_required, "{}", user.username);
    }
}

async fn a_user_without_a_role_is_denied_with_exit_3(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    server
        .user_with_roles(&admin, "dave@contoso.example", &[])
        .await;
    let shell = Shell::new(&server);
    shell.login("dave@contoso.example", USER_PASSWORD).await;

    let denied = shell.run(&["users", "list"]).await;
    assert_eq!(denied.code, 3, "{}", denied.stderr);
    assert!(
        denied
            .stderr
            .starts_with("error: cannot list users: permission denied"),
        "{}",
        denied.stderr
    );
    let reset = shell
        .run(&["passwords", "reset", &server.admin_username])
        .await;
    assert_eq!(reset.code, 3, "{}", reset.stderr);
    // A wrong password at login is exit 3 as well, and says nothing more.
    let wrong = shell
        .run_with_stdin(
            &["login", "dave@contoso.example", "--password-stdin"],
            "not the password\n",
        )
        .await;
    assert_eq!(wrong.code, 3, "{}", wrong.stderr);
}

async fn tenants_create_prints_a_one_time_password_that_signs_in_and_list_shows_them(
    backend: Backend,
) {
    let server = TestServer::start(backend).await;
    server.admin().await;
    let shell = Shell::new(&server);
    shell.login(&server.admin_username, ADMIN_PASSWORD).await;

    let created = shell
        .run(&[
            "--json",
            "tenants",
            "create",
            "--name",
            "Fabrikam",
            "--domain",
            "fabrikam.example",
            "--admin",
            "boss@fabrikam.example",
        ])
        .await
        .ok()
        .json();
    assert_eq!(created["name"], "Fabrikam");
    assert_eq!(created["primary_domain"], "fabrikam.example");
    assert_eq!(created["is_default"], false);
    assert_eq!(created["admin_username"], "boss@fabrikam.example");
    let one_time = created["admin_one_time_password"]
        .as_str()
        .expect("the one-time password is a field")
        .to_owned();

    // For people, the password is printed on its own line, once.
    let printed = shell
        .run(&[
            "tenants",
            "create",
            "--name",
            "Tailspin",
            "--domain",
            "tailspin.example",
            "--admin",
            "ops@tailspin.example",
        ])
        .await
        .ok();
    let prefix = "one-time password for ops@tailspin.example: ";
    let lines: Vec<&str> = printed
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .collect();
    assert_eq!(lines.len(), 1, "{}", printed.stdout);
    let ops_password = lines[0].to_owned();

    let listed = shell.run(&["tenants", "list", "--json"]).await.ok().json();
    let names: Vec<&str> = listed
        .as_array()
        .expect("an array")
        .iter()
        .map(|t| t["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names[1..], ["Fabrikam", "Tailspin"], "oldest first");
    assert_eq!(listed[0]["is_default"], true);
    assert_eq!(listed[1]["id"], created["id"]);
    let table = shell.run(&["tenants", "list"]).await.ok();
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with("Fabrikam") && l.contains("fabrikam.example")),
        "{}",
        table.stdout
    );

    // Both passwords sign in, change-only, through the API.
    let boss = server.sign_in("boss@fabrikam.example", &one_time).await;
    assert_eq!(boss.session_kind(), pb::SessionKind::PasswordChangeOnly);
    let ops = server.sign_in("ops@tailspin.example", &ops_password).await;
    assert_eq!(ops.session_kind(), pb::SessionKind::PasswordChangeOnly);

    // A taken domain is refused; the new tenant's own global admin is no operator: exit 3.
    let again = shell
        .run(&[
            "tenants",
            "create",
            "--name",
            "Fabrikam 2",
            "--domain",
            "fabrikam.example",
            "--admin",
            "x@fabrikam.example",
        ])
        .await;
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let boss_shell = Shell::new(&server);
    boss_shell
        .run_with_stdin(
            &["login", "boss@fabrikam.example", "--password-stdin"],
            &format!("{one_time}\n{ADMIN_PASSWORD}\n"),
        )
        .await
        .ok();
    let denied = boss_shell.run(&["tenants", "list"]).await;
    assert_eq!(denied.code, 3, "{}", denied.stderr);
    assert!(
        denied
            .stderr
            .starts_with("error: cannot list tenants: permission denied"),
        "{}",
        denied.stderr
    );
    assert!(!denied.stdout.contains("Tailspin"));
}

async fn users_unlock_revoke_sessions_and_methods_act_on_a_real_user(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(backend, |config| sink.configure(config)).await;
    let admin = server.admin().await;
    admin
        .calls()
        .update_password_policy(pb::UpdatePasswordPolicyRequest {
            update: Some(pb::PasswordPolicyUpdate {
                lockout_threshold: Some(3),
                ..Default::default()
            }),
        })
        .await
        .expect("policy");
    let (erin, _) = server
        .user_with_roles(&admin, "erin@contoso.example", &[])
        .await;
    for (kind, address) in [
        (pb::VerificationMethodKind::Email, "erin.home@mail.example"),
        (pb::VerificationMethodKind::Authenticator, ""),
    ] {
        erin.calls()
            .add_verification_method(pb::AddVerificationMethodRequest {
                kind: kind as i32,
                address: address.to_owned(),
                current_password: USER_PASSWORD.to_owned(),
            })
            .await
            .expect("add a method");
    }
    let shell = Shell::new(&server);
    shell.login(&server.admin_username, ADMIN_PASSWORD).await;

    // Methods, masked: no address in full, no authenticator secret.
    let methods = shell
        .run(&["--json", "users", "methods", "erin@contoso.example"])
        .await
        .ok();
    assert!(!methods.stdout.contains("erin.home"), "{}", methods.stdout);
    let methods = methods.json();
    let kinds: Vec<(&str, bool)> = methods
        .as_array()
        .expect("an array")
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().expect("kind"),
                m["verified"].as_bool().expect("verified"),
            )
        })
        .collect();
    assert_eq!(kinds, [("email", false), ("authenticator", false)]);
    assert!(
        methods[0]["masked"]
            .as_str()
            .expect("masked")
            .ends_with("@mail.example"),
        "{methods}"
    );
    let table = shell
        .run(&["users", "methods", "erin@contoso.example"])
        .await
        .ok();
    assert!(
        table.stdout.starts_with("KIND") && table.stdout.contains("Authenticator app"),
        "{}",
        table.stdout
    );

    // Three wrong passwords lock Erin out; unlock lets the right one in again.
    let client = server.client().await;
    for i in 0..3 {
        let wrong = client
            .sign_in("erin@contoso.example", &format!("wrong guess {i}"))
            .await
            .expect_err("wrong password");
        assert_eq!(wrong.code(), Code::Unauthenticated);
    }
    client
        .sign_in("erin@contoso.example", USER_PASSWORD)
        .await
        .expect_err("locked out");
    let unlocked = shell
        .run(&["users", "unlock", "erin@contoso.example"])
        .await
        .ok();
    assert!(
        unlocked.stdout.starts_with("unlocked erin@contoso.example"),
        "{}",
        unlocked.stdout
    );
    let second = shell
        .run(&["--json", "users", "unlock", "erin@contoso.example"])
        .await
        .ok()
        .json();
    assert_eq!(second["was_locked"], false);
    server.sign_in("erin@contoso.example", USER_PASSWORD).await;

    // Revoking her sessions ends the one she had before, and the one just made.
    erin.calls()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("her session works");
    let revoked = shell
        .run(&["--json", "users", "revoke-sessions", "erin@contoso.example"])
        .await
        .ok()
        .json();
    assert_eq!(revoked["revoked_sessions"], 2, "{revoked}");
    let ended = erin
        .calls()
        .get_me(pb::GetMeRequest {})
        .await
        .expect_err("her old token fails");
    assert_eq!(ended.code(), Code::Unauthenticated);

    // Clearing removes both methods.
    let cleared = shell
        .run(&["users", "clear-methods", "erin@contoso.example"])
        .await
        .ok();
    assert!(
        cleared
            .stdout
            .starts_with("removed 2 verification method(s) of erin@contoso.example"),
        "{}",
        cleared.stdout
    );
    let none = shell
        .run(&["--json", "users", "methods", "erin@contoso.example"])
        .await
        .ok()
        .json();
    assert_eq!(none, serde_json::json!([]));

    // Someone who does not exist: exit 4, for each of them.
    for command in ["unlock", "revoke-sessions", "methods", "clear-methods"] {
        let missing = shell
            .run(&["users", command, "ghost@contoso.example"])
            .await;
        assert_eq!(missing.code, 4, "{command}: {}", missing.stderr);
    }
}

async fn a_damaged_session_file_does_not_block_login_or_logout(backend: Backend) {
    let server = TestServer::start(backend).await;
    server.admin().await;
    let shell = Shell::new(&server);
    shell.login(&server.admin_username, ADMIN_PASSWORD).await;
    std::fs::write(shell.session_file(), "token = \"unterminated\n\u{0}garbage").expect("damage");

    // Other commands stop and say which two commands fix it.
    let stopped = shell.run(&["users", "list"]).await;
    assert_eq!(stopped.code, 1, "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("is damaged") && stopped.stderr.contains("gatehouse-admin login"),
        "{}",
        stopped.stderr
    );

    // login warns and writes a new session over it.
    let login = shell
        .run_with_stdin(
            &["login", &server.admin_username, "--password-stdin"],
            &format!("{ADMIN_PASSWORD}\n"),
        )
        .await
        .ok();
    assert!(
        login.stderr.contains("warning: the session file"),
        "{}",
        login.stderr
    );
    assert_eq!(mode(&shell.session_file()), 0o600);
    shell.run(&["users", "list"]).await.ok();

    // logout removes a damaged file (it holds no token to revoke).
    std::fs::write(shell.session_file(), "not toml at all [").expect("damage");
    let logout = shell.run(&["logout"]).await.ok();
    assert!(logout.stdout.contains("signed out"), "{}", logout.stdout);
    assert!(!shell.session_file().exists());
}

async fn a_help_request_with_terminal_escapes_is_listed_escaped(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    server
        .user_with_roles(&admin, "frank@contoso.example", &[])
        .await;
    let hostile = "locked out\u{1b}[2J\u{1b}]0;pwned\u{7} \u{9b}31m please";
    // The server refuses the escapes at its edge...
    let refused = server
        .client()
        .await
        .calls()
        .request_admin_help(pb::RequestAdminHelpRequest {
            username: "frank@contoso.example".to_owned(),
            message: hostile.to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("control characters are refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    // ...and the CLI still escapes a request stored with them (by an older server).
    server
        .client()
        .await
        .calls()
        .request_admin_help(pb::RequestAdminHelpRequest {
            username: "frank@contoso.example".to_owned(),
            message: "locked out".to_owned(),
            ..Default::default()
        })
        .await
        .expect("ask for help");
    let db = sea_orm::Database::connect(server.config.database_url().expose())
        .await
        .expect("connect");
    let update = sea_orm::sea_query::Query::update()
        .table(sea_orm::sea_query::Alias::new("reset_requests"))
        .value(sea_orm::sea_query::Alias::new("message"), hostile)
        .to_owned();
    sea_orm::ConnectionTrait::execute(&db, &update)
        .await
        .expect("store the message as an older server would have");
    let shell = Shell::new(&server);
    shell.login(&server.admin_username, ADMIN_PASSWORD).await;

    // The table shows the message with its control characters spelt out, none raw.
    let table = shell.run(&["requests", "list"]).await.ok();
    assert!(
        !table.stdout.chars().any(|c| c.is_control() && c != '\n'),
        "{:?}",
        table.stdout
    );
    assert!(
        table
            .stdout
            .contains(r"locked out\u{1b}[2J\u{1b}]0;pwned\u{7} \u{9b}31m please"),
        "{}",
        table.stdout
    );
    // JSON keeps the text as it is, escaped by JSON's own rules.
    let listed = shell.run(&["--json", "requests", "list"]).await.ok();
    assert!(!listed.stdout.contains('\u{1b}'));
    assert_eq!(
        listed.json()[0]["message"],
        "locked out\u{1b}[2J\u{1b}]0;pwned\u{7} \u{9b}31m please"
    );
}

async fn a_server_certificate_the_ca_did_not_sign_is_named_in_the_error(backend: Backend) {
    let server = TestServer::start(backend).await;
    let shell = Shell::new(&server);
    // The client certificate is no CA: the server's certificate cannot be checked with it.
    let run = shell
        .run(&["--ca", "gatehouse-data/certs/client.pem", "users", "list"])
        .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("error: cannot list users: server unavailable: ")
            && run.stderr.to_lowercase().contains("certificate"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("transport error\n"), "{}", run.stderr);
}

#[tokio::test]
async fn usage_errors_exit_2_before_any_call() {
    // Offline: exit 2 also shows that nothing was sent (a call would fail with exit 1).
    let shell = Shell::offline();
    let cases: &[(&[&str], &str, &str)] = &[
        // An empty password would have the server generate one and print it.
        (
            &[
                "passwords",
                "reset",
                "bob@contoso.example",
                "--password-stdin",
            ],
            "",
            "standard input ended before the password",
        ),
        (
            &[
                "passwords",
                "reset",
                "bob@contoso.example",
                "--password-stdin",
            ],
            "\n",
            "the password on standard input is empty",
        ),
        (
            &["login", "bob@contoso.example", "--password-stdin"],
            "",
            "standard input ended before the password",
        ),
        (
            &["login", "bob@contoso.example", "--password-stdin"],
            "\r\n",
            "is empty",
        ),
        (&["login"], "", "give the username"),
        (&["policy", "set"], "", "nothing to change"),
        (
            &["users", "delete", "bob@contoso.example"],
            "y\n",
            "needs --yes when not at a terminal",
        ),
    ];
    for (args, stdin, says) in cases {
        let run = shell.run_with_stdin(args, stdin).await;
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
}

#[tokio::test]
async fn an_unknown_flag_is_a_usage_error_with_exit_2() {
    let shell = Shell::offline();
    let run = shell.run(&["users", "list", "--bogus"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unexpected argument '--bogus'"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Usage: gatehouse-admin users"),
        "{}",
        run.stderr
    );

    let missing = shell
        .run(&["passwords", "bulk-reset", "--out", "r.csv"])
        .await;
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("--from <FILE>"),
        "{}",
        missing.stderr
    );

    let help = shell.run(&["--help"]).await.ok();
    assert!(help.stdout.contains("Exit codes:"), "{}", help.stdout);
}

#[tokio::test]
async fn an_unreadable_user_list_fails_naming_the_file_and_writes_nothing() {
    let shell = Shell::offline();
    let missing = shell.path("no-such-users.csv");
    let run = shell
        .run(&[
            "passwords",
            "bulk-reset",
            "--from",
            missing.to_str().expect("utf-8"),
            "--out",
            "results.csv",
        ])
        .await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!(
            "error: cannot read the user list {}",
            missing.display()
        )),
        "{}",
        run.stderr
    );
    assert!(!shell.path("results.csv").exists());

    // A directory, and a CSV without a username column.
    let dir = shell
        .run(&["passwords", "bulk-reset", "--from", ".", "--dry-run"])
        .await;
    assert_eq!(dir.code, 1, "{}", dir.stderr);
    assert!(
        dir.stderr.contains("cannot read the user list ."),
        "{}",
        dir.stderr
    );
    std::fs::write(shell.path("people.csv"), "name,mail\nA,a@x.example\n").expect("write");
    let no_column = shell
        .run(&[
            "passwords",
            "bulk-reset",
            "--from",
            "people.csv",
            "--dry-run",
        ])
        .await;
    assert_eq!(no_column.code, 1);
    assert!(
        no_column
            .stderr
            .contains("people.csv: the first line has no `username` column"),
        "{}",
        no_column.stderr
    );
    std::fs::write(
        shell.path("gaps.csv"),
        "# leavers\nname,username\nA,a@x.example\nB,\n",
    )
    .expect("write");
    let gaps = shell
        .run(&["passwords", "bulk-reset", "--from", "gaps.csv", "--dry-run"])
        .await;
    assert_eq!(gaps.code, 1);
    assert!(
        gaps.stderr
            .contains("gaps.csv: 1 row(s) have no username (line 4)"),
        "{}",
        gaps.stderr
    );
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).expect("read the results");
    text.lines().map(parse_csv_line).collect::<Vec<_>>()
}

/// One line of the CLI's CSV (quoted fields with doubled quotes; no newlines inside).
fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().expect("field").push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().expect("field").push(c),
        }
    }
    fields
}

async fn audit_tail_prints_each_event_as_one_json_line_and_follows_new_ones(backend: Backend) {
    use tokio::io::AsyncBufReadExt as _;
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let shell = Shell::new(&server);
    shell.login(&server.admin_username, ADMIN_PASSWORD).await;
    let mut tail = shell.spawn(&["--json", "audit", "tail", "--since", "0"]);
    let mut lines = tokio::io::BufReader::new(tail.stdout.take().expect("stdout")).lines();
    let id = gatehouse_tests::create_user(&admin, "tailed@contoso.example", &[]).await;
    let mut expected = 1;
    let found = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let line = lines
                .next_line()
                .await
                .expect("read")
                .expect("tail keeps running");
            let event: serde_json::Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
            assert_eq!(
                event["sequence"], expected,
                "in order from the first: {line}"
            );
            expected += 1;
            if event["action"] == "user.create" && event["target"] == format!("user:{id}") {
                return event;
            }
        }
    })
    .await
    .expect("the new user's creation is printed within 20 s");
    assert_eq!(found["outcome"], "success");
    assert!(found["hash"].as_str().is_some_and(|h| h.len() == 64));
    tail.kill().await.expect("stop tail");
}

async fn units_scope_a_role_and_the_report_counts_the_resets(backend: Backend) {
    let server = TestServer::start(backend).await;
    let admin = server.admin().await;
    let shell = Shell::new(&server);
    shell.login(&server.admin_username, ADMIN_PASSWORD).await;
    for name in [
        "desk@contoso.example",
        "erin@contoso.example",
        "will@contoso.example",
    ] {
        gatehouse_tests::create_user(&admin, name, &[]).await;
    }

    let unit = shell
        .run(&[
            "--json",
            "units",
            "create",
            "East",
            "--description",
            "East region",
        ])
        .await
        .ok()
        .json();
    assert_eq!(unit["name"], "East");
    let added = shell
        .run(&["--json", "units", "add", "east", "erin@contoso.example"])
        .await
        .ok()
        .json();
    assert_eq!(
        added["added"], 1,
        "the unit is found by name whatever the case"
    );
    shell
        .run(&[
            "roles",
            "assign",
            "password-admin",
            "--user",
            "desk@contoso.example",
            "--unit",
            "East",
        ])
        .await
        .ok();
    let table = shell.run(&["roles", "list"]).await.ok();
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains("password_admin"))
        .expect("the scoped assignment");
    assert!(row.contains("over unit East"), "{row}");
    let members = shell
        .run(&["--json", "units", "members", "East"])
        .await
        .ok()
        .json();
    let names: Vec<&str> = members
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names, ["erin@contoso.example"]);
    let missing = shell
        .run(&["units", "add", "West", "erin@contoso.example"])
        .await;
    assert_ne!(missing.code, 0);
    assert!(
        missing.stderr.contains("no administrative unit named West"),
        "{}",
        missing.stderr
    );

    shell
        .run(&["passwords", "reset", "will@contoso.example"])
        .await
        .ok();
    let report = shell
        .run(&["--json", "report", "passwords", "--top", "3"])
        .await
        .ok()
        .json();
    // Four first passwords (the set-up) and one reset, all by the bootstrap admin.
    assert_eq!(report["totals"]["admin_resets"], 4, "{report}");
    assert_eq!(report["top_actors"][0]["resets"], 4);
    assert_eq!(report["buckets"].as_array().map(Vec::len), Some(31));
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    let table = shell
        .run(&["report", "passwords", "--hourly", "--from", &yesterday])
        .await;
    assert_eq!(table.code, 0, "{}", table.stderr);
    assert!(table.stdout.contains("TOTAL") && table.stdout.contains("TOP RESETTER"));
    let bad = shell
        .run(&["report", "passwords", "--from", "yesterday"])
        .await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

async fn registration_is_required_listed_reminded_and_snoozed_from_the_cli(backend: Backend) {
    let sink = SmtpSink::start().await;
    let server = TestServer::start_with(backend, |config| sink.configure(config)).await;
    let admin = server.admin().await;
    let shell = Shell::new(&server);
    shell.login(&server.admin_username, ADMIN_PASSWORD).await;
    gatehouse_tests::create_user(&admin, "nora@contoso.example", &[]).await;

    shell
        .run(&[
            "policy",
            "set",
            "--require-registration",
            "true",
            "--registration-snoozes",
            "2",
            "--reconfirm-days",
            "90",
        ])
        .await
        .ok();
    let policy = shell.run(&["--json", "policy", "show"]).await.ok().json();
    assert_eq!(policy["require_registration"], true);
    assert_eq!(policy["reconfirm_days"], 90);

    let listed = shell
        .run(&[
            "--json",
            "users",
            "list",
            "--registration",
            "not-registered",
        ])
        .await
        .ok()
        .json();
    let names: Vec<&str> = listed
        .as_array()
        .expect("array")
        .iter()
        .inspect(|u| assert_eq!(u["registration_state"], "not registered"))
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert!(names.contains(&"nora@contoso.example"), "{names:?}");
    let table = shell.run(&["users", "list"]).await.ok();
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains("nora@contoso.example"))
        .expect("nora's row");
    assert!(row.contains("not registered"), "{row}");

    let dry = shell
        .run(&["--json", "users", "remind-registration", "--dry-run"])
        .await
        .ok()
        .json();
    assert_eq!(dry["reminded"], 1, "nora; never the caller");
    let sent = shell.run(&["users", "remind-registration"]).await.ok();
    assert!(sent.stdout.contains("reminded 1 people"), "{}", sent.stdout);
    sink.wait_for_match(0, std::time::Duration::from_secs(10), |m| {
        m.to == ["nora@contoso.example"] && m.data.contains("Register your security info")
    })
    .await;

    // Nora signs in: told what is missing, then puts it off.
    let nora = Shell::new(&server);
    let told = nora
        .run_with_stdin(
            &["login", "nora@contoso.example", "--password-stdin"],
            &format!("{USER_PASSWORD}\n"),
        )
        .await
        .ok();
    assert!(
        told.stderr
            .contains("0 of 1 verification methods are confirmed")
            && told.stderr.contains("--snooze-registration")
            && told.stderr.contains("2 snoozes left"),
        "{}",
        told.stderr
    );
    let snoozed = nora
        .run_with_stdin(
            &[
                "login",
                "nora@contoso.example",
                "--password-stdin",
                "--snooze-registration",
            ],
            &format!("{USER_PASSWORD}\n"),
        )
        .await
        .ok();
    assert!(
        snoozed.stderr.contains("put off (1 snoozes left)"),
        "{}",
        snoozed.stderr
    );
}
