//! Start-up: TLS, storage, migrations, bootstrap, and the gRPC server with health and
//! reflection.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::TcpListener;
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::config::Config;
use crate::domain::{Gatehouse, HashSettings, Hasher, SecretKey, Settings};
use crate::grpc::{AdminApi, SelfApi, pb};
use crate::store::Store;
use crate::tls;

/// File in the data directory holding the bootstrap admin's one-time password.
pub const BOOTSTRAP_FILE: &str = "bootstrap-admin.txt";

/// How often health re-checks the database: an outage shows as NOT_SERVING, and a recovery
/// as SERVING, within about this plus [`HEALTH_TIMEOUT`].
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// How long a health probe waits for the database before counting it as gone.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs pending migrations and returns how many ran.
pub async fn migrate(config: &Config) -> anyhow::Result<usize> {
    let store = connect(config).await?;
    let lock = Store::startup_lock(&config.database_url()).await?;
    let ran = store.migrate().await.context("while running migrations")?;
    lock.release().await?;
    store.close().await.context("while closing the database")?;
    Ok(ran)
}

async fn connect(config: &Config) -> anyhow::Result<Store> {
    let url = config.database_url();
    if url.is_sqlite() {
        tls::dev::create_private_dir(&config.data_dir)?;
    }
    Store::connect(&url)
        .await
        .with_context(|| format!("while connecting to {url}"))
}

/// Creates the default tenant and, with `dev`, a bootstrap global admin whose one-time
/// password is printed once and written to a 0600 file in the data directory. Returns the
/// path of that file when an admin was created now.
pub async fn bootstrap(config: &Config, core: &Gatehouse) -> anyhow::Result<Option<PathBuf>> {
    let admin = config.dev.then_some(config.bootstrap_admin.as_str());
    let created = core
        .bootstrap(&config.default_tenant, &config.default_domain, admin)
        .await
        .context("while creating the default tenant")?;
    let Some((username, password)) = created else {
        return Ok(None);
    };
    let path = config.data_dir.join(BOOTSTRAP_FILE);
    tls::dev::write(
        &path,
        &format!(
            "# One-time password of the bootstrap global admin; it must be changed at first sign-in.\nusername: {username}\npassword: {}\n",
            password.expose()
        ),
        true,
    )?;
    // Printed once, on the terminal of the operator who started the dev server; never logged.
    // On standard error: standard output carries log lines only (JSON ones, with
    // `log_format = json`).
    eprintln!(
        "\nBootstrap global admin created.\n  username: {username}\n  password: {}\n(one-time; also in {}; change it at first sign-in)\n",
        password.expose(),
        path.display()
    );
    Ok(Some(path))
}

/// Connects, migrates and bootstraps under the start-up lock, so replicas starting together
/// neither race the migrations nor create the default tenant twice.
async fn open(config: &Config) -> anyhow::Result<(Store, Gatehouse)> {
    // Before the database: without its key the server must not change anything.
    let secret_key = secret_key(config)?;
    let store = connect(config).await?;
    let lock = Store::startup_lock(&config.database_url())
        .await
        .context("while waiting for other replicas to finish starting")?;
    let ran = store.migrate().await.context("while running migrations")?;
    tracing::info!(database = %config.database_url(), migrations = ran, "database ready");
    let hasher = Hasher::new(HashSettings {
        memory_kib: config.argon2_memory_kib,
        iterations: config.argon2_iterations,
        parallelism: config.argon2_parallelism,
        workers: match config.hash_workers {
            0 => HashSettings::default_workers(),
            n => n,
        },
        queue: config.hash_queue,
    })
    .context("while preparing password hashing")?;
    let core = Gatehouse::new(
        store.clone(),
        hasher,
        Settings {
            session_ttl: Duration::from_secs(config.session_ttl_secs),
            change_session_ttl: Duration::from_secs(config.change_session_ttl_secs),
            sms_enabled: config.sms_webhook_url.is_some() || config.dev,
            code_sends_per_destination: config.code_sends_per_destination_per_hour,
            secret_key,
        },
    );
    bootstrap(config, &core).await?;
    let resealed = core
        .reseal_secrets()
        .await
        .context("while sealing secrets again under the new key")?;
    if resealed > 0 {
        tracing::info!(resealed, "sealed values moved to the current secret key");
    }
    lock.release().await?;
    Ok((store, core))
}

/// The server's secret key from `secret_key_file` (in dev mode generated there when missing),
/// with the key it replaces from `secret_key_previous_file` during a rotation.
fn secret_key(config: &Config) -> anyhow::Result<SecretKey> {
    let key = current_secret_key(config)?;
    let Some(path) = &config.secret_key_previous_file else {
        return Ok(key);
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read secret_key_previous_file {}", path.display()))?;
    let previous =
        SecretKey::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if previous.to_hex() == key.to_hex() {
        anyhow::bail!(
            "secret_key_previous_file holds the same key as secret_key_file: a rotation needs a new key (gatehouse gen-key --out FILE)"
        );
    }
    Ok(key.with_previous(&previous))
}

fn current_secret_key(config: &Config) -> anyhow::Result<SecretKey> {
    let path = config.secret_key_file();
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            warn_if_readable_by_others(&path);
            SecretKey::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && config.dev => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                tls::dev::create_private_dir(dir)?;
            }
            let key = write_new_key(&path)?;
            tracing::info!(path = %path.display(), "the server's secret key is ready");
            Ok(key)
        }
        Err(e) => anyhow::bail!(
            "cannot read the secret key file {path}: {e}. Create it with `gatehouse gen-key --out {path}` \
             and give every replica the same file (secret_key_file)",
            path = path.display()
        ),
    }
}

/// Writes a new key to `path`, created with mode 0600 and only if it does not exist; when
/// another process made it first (dev replicas starting together), its key is used.
pub fn write_new_key(path: &std::path::Path) -> anyhow::Result<SecretKey> {
    use std::io::Write as _;
    let key = SecretKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(format!("{}\n", key.to_hex()).as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("while writing {}", path.display()))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            // Give the other writer a moment to finish its one line.
            for _ in 0..50 {
                if let Ok(key) = SecretKey::parse(&std::fs::read_to_string(path)?) {
                    return Ok(key);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            anyhow::bail!("{} exists but holds no key", path.display())
        }
        Err(e) => Err(e).with_context(|| format!("while creating {}", path.display())),
    }
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(path = %path.display(), "the secret key file is readable by others: chmod 600 it");
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &std::path::Path) {}

/// Creates the default tenant (when missing) and `username` as its first global admin with a
/// one-time password, returned to be shown once. For production, where `--dev` is never
/// used. `None` when the tenant has a global admin already (nothing changes).
pub async fn init_admin(
    config: &Config,
    username: &str,
) -> anyhow::Result<Option<(String, crate::domain::Password)>> {
    let (store, core) = open(config).await?;
    let lock = Store::startup_lock(&config.database_url()).await?;
    let created = core
        .bootstrap(
            &config.default_tenant,
            &config.default_domain,
            Some(username),
        )
        .await
        .context("while creating the first admin")?;
    lock.release().await?;
    store.close().await?;
    Ok(created)
}

/// A new one-time password for a global admin of the default tenant who never chose one
/// (`init-admin --reissue`), returned to be shown once.
pub async fn reissue_admin(
    config: &Config,
    username: &str,
) -> anyhow::Result<crate::domain::Password> {
    let (store, core) = open(config).await?;
    let password = core
        .reissue_first_admin(username)
        .await
        .context("while issuing a new one-time password")?;
    store.close().await?;
    Ok(password)
}

/// Serves Gatehouse on an already-bound listener until `shutdown` completes.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    if config.dev {
        let (_, created) =
            tls::dev::ensure(&config.certs_dir()).context("while generating dev certificates")?;
        if created {
            tracing::info!(dir = %config.certs_dir().display(), "generated dev certificates");
        }
    }
    let tls_config = tls::server_config(
        &config.tls_client_ca(),
        &config.tls_cert(),
        &config.tls_key(),
    )?;

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    for name in ["", "gatehouse.v1.AdminService", "gatehouse.v1.SelfService"] {
        health_reporter
            .set_service_status(name, ServingStatus::NotServing)
            .await;
    }

    let (store, core) = open(&config).await?;
    let metrics = crate::metrics::Metrics::new(core.hasher());
    {
        let metrics = metrics.clone();
        store.observe_audit(std::sync::Arc::new(move |event| metrics.audited(event)));
    }
    let metrics_task = match metrics_listener(&config).await? {
        Some(listener) => {
            match listener.local_addr() {
                Ok(address) => {
                    tracing::info!(url = %format!("http://{address}/metrics"), "metrics served")
                }
                Err(_) => tracing::info!("metrics served"),
            }
            Some(tokio::spawn(crate::metrics::serve(
                listener,
                metrics.clone(),
                store.clone(),
                core.hasher().clone(),
            )))
        }
        None => None,
    };

    // Besides the services, the error details a failed call carries in
    // `grpc-status-details-bin` (google.rpc.Status, BadRequest, …), so a generic client such as
    // grpcurl can decode them.
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("while building reflection (v1)")?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("while building reflection (v1alpha)")?;

    let transports = crate::notify::Transports {
        email: mail_transport(&config)?,
        sms: sms_transport(&config)?,
    };
    if transports.email.is_none() {
        tracing::warn!("no smtp_host configured: email stays in the outbox until one is");
    }
    let dispatcher = (!transports.channels().is_empty()).then(|| {
        tokio::spawn(crate::notify::run_dispatcher(
            store.clone(),
            transports,
            core.secret_key().clone(),
            Duration::from_millis(config.outbox_poll_millis.max(10)),
            config.outbox_concurrency,
            metrics.clone(),
        ))
    });
    if let Err(e) = core.refresh_compromised().await {
        tracing::warn!(error = %e, "could not load the compromised-password list; retrying");
    }
    let compromised = tokio::spawn(watch_compromised(
        core.clone(),
        Duration::from_secs(config.compromised_poll_secs.max(1)),
    ));
    let registrations = tokio::spawn(sweep_registrations(
        core.clone(),
        Duration::from_secs(config.registration_sweep_secs.max(1)),
    ));
    let reminders = tokio::spawn(remind_expiring_passwords(
        core.clone(),
        Duration::from_secs(config.expiry_reminder_interval_secs.max(1)),
    ));
    let cleanup = tokio::spawn(clean_up_expired(
        store.clone(),
        Duration::from_secs(config.cleanup_interval_secs.max(1)),
        Retention::from_config(&config),
    ));
    let health_task = tokio::spawn(watch_health(store, health_reporter));
    match listener.local_addr() {
        Ok(address) => tracing::info!(%address, "gatehouse serving over mTLS"),
        Err(_) => tracing::info!("gatehouse serving over mTLS"),
    }
    let incoming = tls::incoming(
        listener,
        tls_config,
        Duration::from_secs(config.tls_handshake_timeout_secs),
        config.max_connections,
    );
    let result = Server::builder()
        .max_concurrent_streams(Some(config.max_concurrent_streams.max(1)))
        .layer(crate::grpc::observe::ObserveLayer::new(metrics))
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(pb::admin_service_server::AdminServiceServer::new(
            AdminApi::new(core.clone()),
        ))
        .add_service(pb::self_service_server::SelfServiceServer::new(
            SelfApi::new(core),
        ))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await;
    health_task.abort();
    if let Some(task) = metrics_task {
        task.abort();
    }
    cleanup.abort();
    reminders.abort();
    compromised.abort();
    registrations.abort();
    if let Some(dispatcher) = dispatcher {
        dispatcher.abort();
    }
    result.context("while serving")?;
    tracing::info!("gatehouse stopped");
    Ok(())
}

/// The port `--dev` serves metrics on when `metrics_listen` is unset (the one Prometheus
/// exporters of OpenTelemetry use), or a free one when it is taken.
const DEV_METRICS_PORT: u16 = 9464;

/// The listener of the metrics endpoint the configuration asks for, if any.
async fn metrics_listener(config: &Config) -> anyhow::Result<Option<TcpListener>> {
    if let Some(address) = config.metrics_listen {
        let listener = TcpListener::bind(address)
            .await
            .with_context(|| format!("while binding metrics_listen {address}"))?;
        return Ok(Some(listener));
    }
    if !config.dev {
        return Ok(None);
    }
    let listener = match TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, DEV_METRICS_PORT)).await
    {
        Ok(listener) => listener,
        Err(_) => TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0))
            .await
            .context("while binding a loopback port for metrics")?,
    };
    Ok(Some(listener))
}

/// The email transport the configuration asks for: SMTP when a host is set, files under the
/// data directory in dev mode, else none (messages wait in the outbox).
fn mail_transport(
    config: &Config,
) -> anyhow::Result<Option<(crate::notify::Transport, lettre::message::Mailbox)>> {
    use crate::notify::{SmtpSecurity, SmtpSettings, Transport};
    let from = config
        .mail_from
        .parse()
        .with_context(|| format!("mail_from `{}` is not an email address", config.mail_from))?;
    let transport = match &config.smtp_host {
        Some(host) => {
            let security = match config.smtp_security.as_str() {
                "none" => SmtpSecurity::None,
                "starttls" => SmtpSecurity::StartTls,
                "tls" => SmtpSecurity::Tls,
                other => {
                    anyhow::bail!("smtp_security must be starttls, tls or none, not `{other}`")
                }
            };
            let credentials = match (&config.smtp_username, &config.smtp_password) {
                (Some(user), Some(password)) => Some((user.clone(), password.expose().to_owned())),
                (None, None) => None,
                _ => anyhow::bail!("set both smtp_username and smtp_password, or neither"),
            };
            Transport::smtp(SmtpSettings {
                host: host.clone(),
                port: config.smtp_port,
                security,
                credentials,
            })
            .context("while setting up SMTP")?
        }
        None if config.dev => Transport::Files(config.data_dir.join("outbox")),
        None => return Ok(None),
    };
    Ok(Some((transport, from)))
}

/// The SMS transport the configuration asks for: the webhook when a URL is set, files under
/// the data directory in dev mode, else none (phones cannot be registered).
fn sms_transport(config: &Config) -> anyhow::Result<Option<crate::notify::SmsTransport>> {
    use crate::notify::{SmsTransport, Webhook};
    Ok(match &config.sms_webhook_url {
        Some(url) => Some(SmsTransport::Webhook(
            Webhook::new(
                url.expose(),
                config
                    .sms_webhook_token
                    .as_ref()
                    .map(|t| t.expose().to_owned()),
            )
            .map_err(|e| anyhow::anyhow!("sms_webhook_url: {e}"))?,
        )),
        None if config.dev => Some(SmsTransport::Files(config.data_dir.join("outbox"))),
        None => None,
    })
}

/// Loads a newer compromised-password list whenever one is imported (checked every
/// `interval`), so every replica refuses the new list's passwords without a restart.
async fn watch_compromised(core: Gatehouse, interval: Duration) {
    loop {
        tokio::time::sleep(interval).await;
        if let Err(e) = core.refresh_compromised().await {
            tracing::warn!(error = %e, "could not load the compromised-password list; retrying");
        }
    }
}

/// Runs the registration sweep every `interval` (see `Gatehouse::sweep_registrations`): the
/// first run after an upgrade or a policy change judges every user of the tenant, in batches.
async fn sweep_registrations(core: Gatehouse, interval: Duration) {
    loop {
        match core.sweep_registrations().await {
            Ok(0) => {}
            Ok(users) => tracing::info!(users, "registration states judged or marked lapsed"),
            Err(e) => tracing::warn!(error = %e, "registration sweep failed; retrying later"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// Runs the expiry-reminder job every `interval`.
async fn remind_expiring_passwords(core: Gatehouse, interval: Duration) {
    loop {
        match core.send_expiry_reminders().await {
            Ok(0) => {}
            Ok(queued) => tracing::info!(queued, "expiry reminders queued"),
            Err(e) => tracing::warn!(error = %e, "expiry reminders failed; retrying later"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// Rows one clean-up statement removes at most.
const CLEANUP_BATCH: u64 = 1000;

/// How long the clean-up keeps what it removes.
#[derive(Clone, Copy, Debug)]
struct Retention {
    /// Expired sessions, reset flows and one-time codes, past their expiry.
    expired: chrono::Duration,
    /// Bulk jobs, past their end.
    bulk_jobs: chrono::Duration,
    /// Audit events, past their time; `None` keeps them for good.
    audit: Option<chrono::Duration>,
}

impl Retention {
    fn from_config(config: &Config) -> Retention {
        let hours = |h: u64| chrono::Duration::hours(i64::try_from(h).unwrap_or(i64::MAX / 7200));
        Retention {
            expired: hours(config.expired_retention_hours),
            bulk_jobs: chrono::Duration::days(config.bulk_job_retention_days.into()),
            audit: config
                .audit_retention_days
                .map(|days| chrono::Duration::days(days.into())),
        }
    }
}

/// Runs `batch` until it removes less than a full batch, pausing between batches so it never
/// holds a long lock; logs what it removed as `kind`.
async fn remove_in_batches<F, Fut>(kind: &str, mut batch: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = crate::store::StoreResult<u64>>,
{
    let mut removed = 0;
    loop {
        match batch().await {
            Ok(n) => {
                removed += n;
                if n < CLEANUP_BATCH {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, kind, "clean-up failed; retrying later");
                break;
            }
        }
    }
    if removed > 0 {
        tracing::info!(kind, removed, "old rows removed");
    }
}

/// Every `interval`: removes expired sessions, reset flows and one-time codes once they are
/// past their retention, erases kept bulk-reset passwords that were changed or expired since,
/// removes bulk jobs past theirs and, when a retention is set, the oldest audit events. Every
/// replica may run it; they only share the work.
async fn clean_up_expired(store: Store, interval: Duration, keep: Retention) {
    use crate::store::Expiring;
    loop {
        tokio::time::sleep(interval).await;
        let now = crate::store::now();
        for kind in Expiring::ALL {
            remove_in_batches(kind.as_str(), || {
                store.delete_expired(kind, now - keep.expired, CLEANUP_BATCH)
            })
            .await;
        }
        match store
            .erase_stale_held_passwords(now, 5 * CLEANUP_BATCH)
            .await
        {
            Ok(0) => {}
            Ok(erased) => {
                tracing::info!(erased, "kept bulk-reset passwords no longer valid erased")
            }
            Err(e) => tracing::warn!(error = %e, "erasing stale bulk-reset passwords failed"),
        }
        // A job can hold 10,000 items: a handful of jobs per batch, their items in batches.
        remove_in_batches("bulk_jobs", || async {
            let jobs = store.remove_old_bulk_jobs(now - keep.bulk_jobs, 10).await?;
            Ok(if jobs == 10 { CLEANUP_BATCH } else { jobs })
        })
        .await;
        if let Some(audit) = keep.audit {
            let tenants = match store.tenants().await {
                Ok(tenants) => tenants,
                Err(e) => {
                    tracing::warn!(error = %e, "clean-up failed; retrying later");
                    continue;
                }
            };
            for tenant in tenants {
                remove_in_batches("audit_events", || {
                    store.remove_old_audit_events(tenant.id, now - audit, CLEANUP_BATCH)
                })
                .await;
            }
        }
    }
}

/// Reports SERVING while the database answers, NOT_SERVING while it does not.
async fn watch_health(store: Store, reporter: tonic_health::server::HealthReporter) {
    let mut last = None;
    loop {
        let status = match tokio::time::timeout(HEALTH_TIMEOUT, store.ping()).await {
            Ok(Ok(())) => ServingStatus::Serving,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "database does not answer");
                ServingStatus::NotServing
            }
            Err(_) => {
                tracing::warn!(
                    timeout_secs = HEALTH_TIMEOUT.as_secs(),
                    "database does not answer in time"
                );
                ServingStatus::NotServing
            }
        };
        if last == Some(ServingStatus::NotServing) && status == ServingStatus::Serving {
            tracing::info!("database answers again");
        }
        if last != Some(status) {
            for name in ["", "gatehouse.v1.AdminService", "gatehouse.v1.SelfService"] {
                reporter.set_service_status(name, status).await;
            }
            last = Some(status);
        }
        tokio::time::sleep(HEALTH_INTERVAL).await;
    }
}
