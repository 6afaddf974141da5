//! The end-to-end test harness: a real Gatehouse server, started in-process on a
//! `127.0.0.1:0` listener with mTLS, on SQLite or on a real PostgreSQL, driven through
//! `gatehouse-client` exactly as a caller would.
//!
//! PostgreSQL tests need `GATEHOUSE_TEST_POSTGRES_URL` (an admin URL of a scratch server;
//! `scripts/test` starts one). Each test gets its own database. Without the variable the
//! PostgreSQL variants fail, unless `GATEHOUSE_TEST_SKIP_POSTGRES=1` says to skip them.

#![forbid(unsafe_code)]

pub mod logs;
pub mod postgres;
pub mod seed;
pub mod smtp;
pub mod webhook;

use std::path::PathBuf;
use std::time::Duration;

use gatehouse::Config;
use gatehouse::store::DatabaseUrl;
use gatehouse_client::{Client, ClientBuilder, pb};
use sea_orm::{ConnectionTrait as _, Database};
use tokio::sync::oneshot;
use tonic_health::pb::health_check_response::ServingStatus;

/// The database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// The production store.
    Postgres,
}

/// Runs each named `async fn(Backend)` of the calling module once per backend, as
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::within_limit(super::$name($crate::Backend::Sqlite)).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::skip_postgres() {
                        return;
                    }
                    $crate::within_limit(super::$name($crate::Backend::Postgres)).await
                }
            )*
        }
    };
}

/// Fails a test that runs longer than two minutes (a hang, such as a lock wait) instead of
/// letting it stall the whole suite.
pub async fn within_limit(test: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(Duration::from_secs(120), test)
        .await
        .is_err()
    {
        panic!("the test did not finish within 120 s");
    }
}

/// Whether PostgreSQL tests were explicitly switched off.
pub fn skip_postgres() -> bool {
    if std::env::var_os("GATEHOUSE_TEST_POSTGRES_URL").is_some() {
        return false;
    }
    if std::env::var("GATEHOUSE_TEST_SKIP_POSTGRES").as_deref() == Ok("1") {
        eprintln!("skipping a PostgreSQL test: GATEHOUSE_TEST_SKIP_POSTGRES=1");
        return true;
    }
    panic!(
        "GATEHOUSE_TEST_POSTGRES_URL is not set: run `scripts/test` (it starts PostgreSQL), \
         or set GATEHOUSE_TEST_SKIP_POSTGRES=1 to run the SQLite half only"
    );
}

/// A fresh, empty database for one test.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> DatabaseUrl {
    match backend {
        Backend::Sqlite => DatabaseUrl::sqlite_file(&dir.join("gatehouse.db")),
        Backend::Postgres => {
            let admin_url =
                std::env::var("GATEHOUSE_TEST_POSTGRES_URL").expect("GATEHOUSE_TEST_POSTGRES_URL");
            let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to the PostgreSQL admin URL");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create a test database");
            admin.close().await.expect("close");
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(base, _)| base);
            DatabaseUrl::new(format!("{base}/{name}"))
        }
    }
}

/// A running server and what a test needs to call it.
pub struct TestServer {
    /// The server's address.
    pub addr: std::net::SocketAddr,
    /// The data directory (dev certificates, SQLite file, bootstrap file).
    pub data_dir: PathBuf,
    /// The configuration it runs with.
    pub config: Config,
    /// The bootstrap admin's username.
    pub admin_username: String,
    /// The bootstrap admin's one-time password.
    pub admin_password: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts a dev-mode server (generated certificates, bootstrap admin) on `backend`.
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server after letting the test adjust the configuration.
    pub async fn start_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            database_url: Some(fresh_database(backend, dir.path()).await),
            dev: true,
            ..Config::default()
        };
        adjust(&mut config);
        let mut server = Self::run(config).await;
        server._dir = Some(dir);
        server
    }

    /// Starts a server with exactly this configuration and waits until it is SERVING.
    pub async fn run(config: Config) -> TestServer {
        init_logging();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(gatehouse::serve(config.clone(), listener, async {
            let _ = rx.await;
        }));
        let mut server = TestServer {
            addr,
            data_dir: config.data_dir.clone(),
            config,
            admin_username: String::new(),
            admin_password: String::new(),
            shutdown: Some(tx),
            task: Some(task),
            _dir: None,
        };
        server.wait_serving().await;
        if let Some((username, password)) = bootstrap_admin(&server.data_dir) {
            server.admin_username = username;
            server.admin_password = password;
        }
        server
    }

    async fn wait_serving(&mut self) {
        for _ in 0..200 {
            if let Some(task) = &self.task
                && task.is_finished()
            {
                let result = self.task.take().expect("task").await.expect("join");
                panic!("the server stopped during start-up: {result:?}");
            }
            if let Ok(client) = self.try_client().await {
                let mut health =
                    tonic_health::pb::health_client::HealthClient::new(client.channel());
                if let Ok(response) = health
                    .check(tonic_health::pb::HealthCheckRequest {
                        service: String::new(),
                    })
                    .await
                    && response.into_inner().status == ServingStatus::Serving as i32
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not report SERVING within 10 s");
    }

    /// Path of a file in the dev certificate directory.
    pub fn cert_path(&self, name: &str) -> PathBuf {
        self.data_dir.join("certs").join(name)
    }

    /// A builder with the dev CA and no client identity.
    pub fn builder(&self) -> ClientBuilder {
        ClientBuilder::new(format!("https://{}", self.addr))
            .ca_pem(std::fs::read(self.cert_path("ca.pem")).expect("ca.pem"))
            .domain_name("localhost")
            .connect_timeout(Duration::from_secs(5))
    }

    async fn try_client(&self) -> Result<Client, gatehouse_client::ConnectError> {
        ClientBuilder::new(format!("https://{}", self.addr))
            .ca_pem_file(self.cert_path("ca.pem"))?
            .domain_name("localhost")
            .connect_timeout(Duration::from_secs(5))
            .identity_pem_files(self.cert_path("client.pem"), self.cert_path("client.key"))?
            .connect()
            .await
    }

    /// A client with the dev admin client certificate and no session.
    pub async fn client(&self) -> Client {
        self.try_client()
            .await
            .expect("connect with the dev client certificate")
    }

    /// A client presenting the given PEM certificate and key.
    pub async fn client_with_identity(&self, cert: &str, key: &str) -> Client {
        self.builder()
            .identity_pem(cert, key)
            .connect_lazy()
            .expect("client")
    }

    /// Signs in; panics on failure.
    pub async fn sign_in(&self, username: &str, password: &str) -> pb::SignInResponse {
        self.client()
            .await
            .self_service()
            .sign_in(pb::SignInRequest {
                username: username.to_owned(),
                password: password.to_owned(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("sign-in of {username} failed: {s:?}"))
            .into_inner()
    }

    /// The bootstrap admin with a full session (changes the one-time password first).
    pub async fn admin(&self) -> Client {
        admin_session(
            self.client().await,
            &self.admin_username,
            &self.admin_password,
        )
        .await
    }

    /// Creates a user, gives them `roles`, sets a known permanent password and returns a
    /// client signed in as them plus their id.
    pub async fn user_with_roles(
        &self,
        admin: &Client,
        username: &str,
        roles: &[pb::Role],
    ) -> (Client, String) {
        let id = create_user(admin, username, roles).await;
        let signed_in = self.sign_in(username, USER_PASSWORD).await;
        (
            self.client().await.with_session(signed_in.session_token),
            id,
        )
    }

    /// Starts a self-service reset for `username` (SelfService/StartPasswordReset); returns
    /// the flow id.
    pub async fn start_reset(&self, username: &str) -> String {
        self.client()
            .await
            .self_service()
            .start_password_reset(pb::StartPasswordResetRequest {
                username: username.to_owned(),
                ..Default::default()
            })
            .await
            .expect("start answers the same always")
            .into_inner()
            .flow_id
    }

    /// Names a method in a flow (SelfService/SendResetCode), which answers the same always.
    pub async fn send_reset_code(&self, flow: &str, address: &str) {
        self.client()
            .await
            .self_service()
            .send_reset_code(pb::SendResetCodeRequest {
                flow_id: flow.to_owned(),
                address: address.to_owned(),
            })
            .await
            .expect("send answers the same always");
    }

    /// Proves a method of a flow with a code (SelfService/VerifyResetCode).
    pub async fn verify_reset_code(
        &self,
        flow: &str,
        code: &str,
    ) -> Result<pb::VerifyResetCodeResponse, tonic::Status> {
        self.client()
            .await
            .self_service()
            .verify_reset_code(pb::VerifyResetCodeRequest {
                flow_id: flow.to_owned(),
                code: code.to_owned(),
            })
            .await
            .map(tonic::Response::into_inner)
    }

    /// Takes ownership of the temporary data directory, so it outlives this server (for a
    /// restart on the same data).
    pub fn take_dir(&mut self) -> Option<tempfile::TempDir> {
        self._dir.take()
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("join").expect("server stopped cleanly");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Sends server logs to the test's captured output (shown when a test fails).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn,h2=warn")
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Creates a user through `admin`, gives them `roles` and the permanent password
/// [`USER_PASSWORD`]; returns their id.
pub async fn create_user(admin: &Client, username: &str, roles: &[pb::Role]) -> String {
    let user = admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: username.to_owned(),
            display_name: username.to_owned(),
            ..Default::default()
        })
        .await
        .expect("create user")
        .into_inner()
        .user
        .expect("user");
    for role in roles {
        admin
            .admin()
            .assign_role(pb::AssignRoleRequest {
                principal: Some(pb::Principal {
                    kind: Some(pb::principal::Kind::UserId(user.id.clone())),
                }),
                role: *role as i32,
                ..Default::default()
            })
            .await
            .expect("assign role");
    }
    admin
        .admin()
        .reset_password(pb::ResetPasswordRequest {
            user: Some(user_id(&user.id)),
            password: USER_PASSWORD.to_owned(),
            require_change: Some(false),
            ..Default::default()
        })
        .await
        .expect("set password");
    user.id
}

/// Creates user number `n` (`user{n}@contoso.example`) without a password; returns the
/// username.
pub async fn create_user_named(admin: &Client, n: usize) -> String {
    let username = format!("user{n}@contoso.example");
    admin
        .admin()
        .create_user(pb::CreateUserRequest {
            username: username.clone(),
            display_name: format!("User {n}"),
            ..Default::default()
        })
        .await
        .expect("create user");
    username
}

/// The tenant id of the person `client` is signed in as.
pub async fn tenant_id(client: &Client) -> uuid::Uuid {
    client
        .self_service()
        .get_me(pb::GetMeRequest {})
        .await
        .expect("me")
        .into_inner()
        .user
        .expect("user")
        .tenant_id
        .parse()
        .expect("tenant id")
}

/// The password the harness gives the bootstrap admin.
pub const ADMIN_PASSWORD: &str = "keeper of the test tenant gates";
/// The password the harness gives other users.
pub const USER_PASSWORD: &str = "user passphrase that is long enough";

/// A `UserRef` by id.
pub fn user_id(id: &str) -> pb::UserRef {
    pb::UserRef {
        kind: Some(pb::user_ref::Kind::Id(id.to_owned())),
    }
}

/// A `UserRef` by username.
pub fn username(name: &str) -> pb::UserRef {
    pb::UserRef {
        kind: Some(pb::user_ref::Kind::Username(name.to_owned())),
    }
}

/// A user as `GetUser` shows them to `admin`, by id.
pub async fn get_user(admin: &Client, id: &str) -> pb::User {
    admin
        .admin()
        .get_user(pb::GetUserRequest {
            user: Some(user_id(id)),
        })
        .await
        .expect("get user")
        .into_inner()
        .user
        .expect("user")
}

/// Every audit event matching `filter` (all pages), newest first.
pub async fn audit_events(
    client: &Client,
    filter: pb::ListAuditEventsRequest,
) -> Vec<pb::AuditEvent> {
    let mut events = Vec::new();
    let mut request = pb::ListAuditEventsRequest {
        page_size: 500,
        ..filter
    };
    loop {
        let page = client
            .admin()
            .list_audit_events(request.clone())
            .await
            .expect("list audit events")
            .into_inner();
        events.extend(page.events);
        if page.next_page_token.is_empty() {
            return events;
        }
        request.page_token = page.next_page_token;
    }
}

/// A user with a confirmed alternate email; returns their client. Uses the next mail.
pub async fn user_with_alternate_email(
    server: &TestServer,
    admin: &Client,
    sink: &smtp::SmtpSink,
    name: &str,
    alt: &str,
) -> Client {
    let (client, _) = server.user_with_roles(admin, name, &[]).await;
    register_alternate_email(&client, sink, alt).await;
    client
}

/// Adds an alternate email with the client's session (full or registration-only) and confirms
/// it with the first code mailed to that address.
pub async fn register_alternate_email(
    client: &Client,
    sink: &smtp::SmtpSink,
    alt: &str,
) -> pb::ConfirmVerificationMethodResponse {
    let added = client
        .self_service()
        .add_verification_method(pb::AddVerificationMethodRequest {
            kind: pb::VerificationMethodKind::Email as i32,
            address: alt.into(),
            current_password: USER_PASSWORD.into(),
        })
        .await
        .expect("add")
        .into_inner();
    let code = sink
        .wait_for_match(0, Duration::from_secs(10), |m| {
            m.to == [alt] && m.data.contains("Confirm this address")
        })
        .await
        .indented_line()
        .expect("code");
    client
        .self_service()
        .confirm_verification_method(pb::ConfirmVerificationMethodRequest {
            method_id: added.method_id,
            code,
        })
        .await
        .expect("confirm")
        .into_inner()
}

/// A loopback port free right now (the kernel's pick; a server binds it next).
pub fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
    probe.local_addr().expect("addr").port()
}

/// The field violations of a status's `google.rpc.BadRequest` details.
pub fn field_violations(status: &tonic::Status) -> Vec<(String, String)> {
    use tonic_types::StatusExt as _;
    status
        .get_details_bad_request()
        .map(|br| {
            br.field_violations
                .into_iter()
                .map(|v| (v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

/// The `gatehouse` binary, for tests that need a real process (to kill it). `scripts/test`
/// builds it and sets `GATEHOUSE_BIN`; otherwise it is built here.
pub fn gatehouse_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("GATEHOUSE_BIN") {
        return PathBuf::from(path);
    }
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = std::process::Command::new(cargo)
        .args(["build", "--quiet", "-p", "gatehouse", "--bin", "gatehouse"])
        .current_dir(&workspace)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "building the gatehouse binary failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace.join("target"), PathBuf::from);
    target.join("debug").join("gatehouse")
}

/// A `gatehouse serve --dev` child process on a data directory and database that outlive it.
pub struct ServerProcess {
    /// Its address.
    pub addr: std::net::SocketAddr,
    /// Its data directory.
    pub data_dir: PathBuf,
    database_url: DatabaseUrl,
    child: tokio::process::Child,
}

impl ServerProcess {
    /// Starts the binary and waits until it reports SERVING.
    pub async fn start(data_dir: &std::path::Path, database_url: &DatabaseUrl) -> ServerProcess {
        Self::start_with_env(data_dir, database_url, &[]).await
    }

    /// Starts the binary with extra `GATEHOUSE_*` settings in its environment.
    pub async fn start_with_env(
        data_dir: &std::path::Path,
        database_url: &DatabaseUrl,
        env: &[(&str, String)],
    ) -> ServerProcess {
        Self::spawn(data_dir, database_url, env, std::process::Stdio::null()).await
    }

    /// Starts the binary like [`ServerProcess::start_with_env`], with its standard output (the
    /// log) piped to the returned reader.
    pub async fn start_logging(
        data_dir: &std::path::Path,
        database_url: &DatabaseUrl,
        env: &[(&str, String)],
    ) -> (ServerProcess, tokio::process::ChildStdout) {
        let mut process =
            Self::spawn(data_dir, database_url, env, std::process::Stdio::piped()).await;
        let stdout = process.child.stdout.take().expect("piped stdout");
        (process, stdout)
    }

    async fn spawn(
        data_dir: &std::path::Path,
        database_url: &DatabaseUrl,
        env: &[(&str, String)],
        stdout: std::process::Stdio,
    ) -> ServerProcess {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
        let child = tokio::process::Command::new(gatehouse_bin())
            .args(["serve", "--dev", "--listen", &addr.to_string()])
            .env("GATEHOUSE_DATA_DIR", data_dir)
            .env("GATEHOUSE_DATABASE_URL", database_url.expose())
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(stdout)
            .kill_on_drop(true)
            .spawn()
            .expect("start the gatehouse binary");
        let mut process = ServerProcess {
            addr,
            data_dir: data_dir.to_path_buf(),
            database_url: database_url.clone(),
            child,
        };
        for _ in 0..300 {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("the server process exited during start-up: {status}");
            }
            if let Ok(client) = process.try_client().await {
                let mut health =
                    tonic_health::pb::health_client::HealthClient::new(client.channel());
                if let Ok(r) = health
                    .check(tonic_health::pb::HealthCheckRequest::default())
                    .await
                    && r.into_inner().status == ServingStatus::Serving as i32
                {
                    return process;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the server process did not report SERVING within 30 s");
    }

    async fn try_client(&self) -> Result<Client, gatehouse_client::ConnectError> {
        let certs = self.data_dir.join("certs");
        ClientBuilder::new(format!("https://{}", self.addr))
            .ca_pem_file(certs.join("ca.pem"))?
            .domain_name("localhost")
            .identity_pem_files(certs.join("client.pem"), certs.join("client.key"))?
            .connect()
            .await
    }

    /// A client with the dev certificate.
    pub async fn client(&self) -> Client {
        self.try_client()
            .await
            .expect("connect to the server process")
    }

    /// The bootstrap admin with a full session (changes the one-time password first).
    pub async fn admin(&self) -> Client {
        let (username, password) =
            bootstrap_admin(&self.data_dir).expect("serve --dev wrote the bootstrap file");
        admin_session(self.client().await, &username, &password).await
    }

    /// The process id (for reading its memory from `/proc`).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no flushing, whatever was in flight is cut.
    pub async fn kill(mut self) -> (PathBuf, DatabaseUrl) {
        self.child.kill().await.expect("kill");
        (self.data_dir, self.database_url)
    }
}

/// The bootstrap admin's username and one-time password, from the file `serve --dev` writes.
fn bootstrap_admin(data_dir: &std::path::Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(data_dir.join(gatehouse::BOOTSTRAP_FILE)).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::to_owned)
    };
    Some((field("username: ")?, field("password: ")?))
}

/// Signs the bootstrap admin in with the one-time password and changes it to
/// [`ADMIN_PASSWORD`]; the client with the new, full session.
async fn admin_session(client: Client, username: &str, one_time: &str) -> Client {
    let signed_in = client
        .self_service()
        .sign_in(pb::SignInRequest {
            username: username.to_owned(),
            password: one_time.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_or_else(|s| panic!("the bootstrap admin signs in: {s:?}"))
        .into_inner();
    let changed = client
        .with_session(signed_in.session_token)
        .self_service()
        .change_password(pb::ChangePasswordRequest {
            current_password: one_time.to_owned(),
            new_password: ADMIN_PASSWORD.to_owned(),
        })
        .await
        .expect("the bootstrap admin changes the one-time password")
        .into_inner();
    client.with_session(changed.session_token)
}
