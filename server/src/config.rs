//! Configuration: defaults, then an optional TOML file, then `GATEHOUSE_*` environment
//! variables, then command-line flags (each layer overrides the one before).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::store::DatabaseUrl;

/// The environment-variable prefix of every setting.
pub const ENV_PREFIX: &str = "GATEHOUSE_";

/// `GATEHOUSE_*` variables that are not server settings: the server's `--config`, the
/// `gatehouse-admin` CLI's connection settings, the client examples' sign-in, and the test
/// scripts' binaries (`test_*` names are the test harness's too).
const OTHER_TOOLS: &[&str] = &[
    "config",
    "admin_config",
    "endpoint",
    "ca",
    "client_cert",
    "client_key",
    "server_name",
    "tenant",
    "username",
    "password",
    "bin",
    "admin_bin",
];

/// Every setting of the server. Field names are the TOML keys; upper-cased with the
/// `GATEHOUSE_` prefix they are the environment variables.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the gRPC server listens on.
    pub listen: SocketAddr,
    /// Directory for the SQLite database, dev certificates and the bootstrap password file.
    pub data_dir: PathBuf,
    /// Database URL: `sqlite://PATH` or `postgres://…`. Empty: SQLite at `<data_dir>/gatehouse.db`.
    pub database_url: Option<DatabaseUrl>,
    /// Generate dev certificates and a bootstrap admin when missing (never in production).
    pub dev: bool,
    /// PEM file of the CA whose client certificates are accepted. Default `<data_dir>/certs/ca.pem`.
    pub tls_client_ca: Option<PathBuf>,
    /// PEM file of the server certificate chain. Default `<data_dir>/certs/server.pem`.
    pub tls_cert: Option<PathBuf>,
    /// PEM file of the server private key. Default `<data_dir>/certs/server.key`.
    pub tls_key: Option<PathBuf>,
    /// Seconds a client has to complete the TLS handshake.
    pub tls_handshake_timeout_secs: u64,
    /// Connections open at once (TLS handshakes included); one more is closed at once.
    pub max_connections: usize,
    /// Calls in progress at once on one connection (HTTP/2 streams); a client queues more.
    pub max_concurrent_streams: u32,
    /// File holding the server's secret key (64 hex digits), which keys one-time codes and
    /// wrong-password fingerprints and seals authenticator secrets. Default
    /// `<data_dir>/secret.key`; generated there in dev mode, required otherwise.
    pub secret_key_file: Option<PathBuf>,
    /// During a key rotation: the file of the key `secret_key_file` replaces. Codes and sealed
    /// values made with it are still accepted, and sealed values are moved to the new key at
    /// start-up. Unset otherwise.
    pub secret_key_previous_file: Option<PathBuf>,
    /// Argon2id memory cost in KiB.
    pub argon2_memory_kib: u32,
    /// Argon2id iterations.
    pub argon2_iterations: u32,
    /// Argon2id lanes.
    pub argon2_parallelism: u32,
    /// Hashes computed at once (worker threads, each holding argon2_memory_kib); 0 means every
    /// CPU core but one, so hashing never takes the core that serves everything else.
    pub hash_workers: usize,
    /// Hash requests that may wait for a worker; beyond this, calls fail with RESOURCE_EXHAUSTED.
    pub hash_queue: usize,
    /// Lifetime of a full session, in seconds.
    pub session_ttl_secs: u64,
    /// Lifetime of a change-only session, in seconds.
    pub change_session_ttl_secs: u64,
    /// Name of the tenant created at first start.
    pub default_tenant: String,
    /// Primary domain of the default tenant.
    pub default_domain: String,
    /// Username of the global admin bootstrapped with `dev` on an empty tenant.
    pub bootstrap_admin: String,
    /// Log filter in `tracing` EnvFilter syntax (`RUST_LOG` wins when set).
    pub log: String,
    /// `text` (for people; colour only on a terminal) or `json` (one object per line).
    pub log_format: LogFormat,
    /// Address of the plain-HTTP Prometheus endpoint (`GET /metrics`). Unset: off, except
    /// that `--dev` serves it on 127.0.0.1:9464 (or a free loopback port when that is taken).
    pub metrics_listen: Option<SocketAddr>,
    /// SMTP server for email. Unset: in dev mode messages are written as files under
    /// `<data_dir>/outbox/`; otherwise they wait in the outbox until SMTP is configured.
    pub smtp_host: Option<String>,
    /// SMTP port.
    pub smtp_port: u16,
    /// SMTP transport security: `starttls`, `tls` or `none` (a local relay only).
    pub smtp_security: String,
    /// SMTP user name, when the server requires authentication.
    pub smtp_username: Option<String>,
    /// SMTP password.
    pub smtp_password: Option<SecretValue>,
    /// The From address of every email.
    pub mail_from: String,
    /// The SMS gateway: a URL that receives `POST {"id", "to", "text"}` (HTTPS; plain HTTP
    /// to loopback only). Unset: in dev mode texts are written as files under
    /// `<data_dir>/outbox/`; otherwise phones cannot be registered. Redacted in `Debug`: a
    /// URL may carry credentials.
    pub sms_webhook_url: Option<SecretValue>,
    /// Bearer token sent to the SMS gateway.
    pub sms_webhook_token: Option<SecretValue>,
    /// Codes one email address or phone may be sent per hour, across every account.
    pub code_sends_per_destination_per_hour: u32,
    /// How often an idle dispatcher looks for due messages, in milliseconds.
    pub outbox_poll_millis: u64,
    /// Deliveries one dispatcher runs at once (SMTP connections, webhook calls).
    pub outbox_concurrency: usize,
    /// How often the expiry-reminder job runs, in seconds.
    pub expiry_reminder_interval_secs: u64,
    /// How often expired sessions, reset flows and one-time codes are removed, in seconds.
    pub cleanup_interval_secs: u64,
    /// How often this replica looks for a newer compromised-password list, in seconds.
    pub compromised_poll_secs: u64,
    /// How often the registration sweep runs, in seconds: it judges a tenant's users again
    /// after its registration policy changed and marks lapsed confirmations.
    pub registration_sweep_secs: u64,
    /// How long expired rows are kept before the clean-up removes them, in hours.
    pub expired_retention_hours: u64,
    /// How long a finished bulk job (its per-user results and idempotency key) is kept, in
    /// days.
    pub bulk_job_retention_days: u32,
    /// How long audit events are kept, in days. Unset: kept for good. When set, the clean-up
    /// removes older events from the start of each tenant's chain, which stays verifiable.
    pub audit_retention_days: Option<u32>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for a log shipper.
    Json,
}

/// A configuration value that is a secret: `Debug` prints a redaction.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct SecretValue(String);

impl From<String> for SecretValue {
    fn from(value: String) -> Self {
        SecretValue(value)
    }
}

impl SecretValue {
    /// The value, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 50051)),
            data_dir: PathBuf::from("gatehouse-data"),
            database_url: None,
            dev: false,
            tls_client_ca: None,
            tls_cert: None,
            tls_key: None,
            tls_handshake_timeout_secs: 10,
            max_connections: 1024,
            max_concurrent_streams: 100,
            secret_key_file: None,
            secret_key_previous_file: None,
            argon2_memory_kib: 19456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hash_workers: 0,
            hash_queue: 256,
            session_ttl_secs: 8 * 3600,
            change_session_ttl_secs: 10 * 60,
            default_tenant: "default".to_owned(),
            default_domain: "gatehouse.example".to_owned(),
            bootstrap_admin: "admin@gatehouse.example".to_owned(),
            log: "info,sqlx=warn,sea_orm=warn,h2=warn".to_owned(),
            log_format: LogFormat::Text,
            metrics_listen: None,
            smtp_host: None,
            smtp_port: 587,
            smtp_security: "starttls".to_owned(),
            smtp_username: None,
            smtp_password: None,
            mail_from: "Gatehouse <gatehouse@localhost>".to_owned(),
            sms_webhook_url: None,
            sms_webhook_token: None,
            code_sends_per_destination_per_hour: 10,
            outbox_poll_millis: 500,
            outbox_concurrency: 16,
            expiry_reminder_interval_secs: 3600,
            cleanup_interval_secs: 600,
            compromised_poll_secs: 10,
            registration_sweep_secs: 60,
            expired_retention_hours: 24,
            bulk_job_retention_days: 30,
            audit_retention_days: None,
        }
    }
}

/// The settings the command line may override; unset flags leave the lower layers alone.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    /// `--listen`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--database-url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// `--dev`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<bool>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Config {
    /// Layers defaults, the TOML file (when given), the environment and the overrides.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            // Only known keys: other GATEHOUSE_* variables (GATEHOUSE_CONFIG, a typo) must not
            // stop the start; `unknown_env_vars` reports them instead.
            .merge(Env::prefixed(ENV_PREFIX).only(&Self::keys()))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError(Box::new(e)))
    }

    /// Environment variables with the `GATEHOUSE_` prefix that name no setting (typos),
    /// leaving out those of the project's other tools, which share a shell with the server.
    pub fn unknown_env_vars() -> Vec<String> {
        let known = Self::keys();
        std::env::vars()
            .filter_map(|(name, _)| {
                let key = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
                let other_tool = OTHER_TOOLS.contains(&key.as_str()) || key.starts_with("test_");
                (!known.contains(&key.as_str()) && !other_tool).then_some(name)
            })
            .collect()
    }

    /// The names of all settings (TOML keys).
    pub fn keys() -> Vec<&'static str> {
        vec![
            "listen",
            "data_dir",
            "database_url",
            "dev",
            "tls_client_ca",
            "tls_cert",
            "tls_key",
            "tls_handshake_timeout_secs",
            "max_connections",
            "max_concurrent_streams",
            "secret_key_file",
            "secret_key_previous_file",
            "argon2_memory_kib",
            "argon2_iterations",
            "argon2_parallelism",
            "hash_workers",
            "hash_queue",
            "session_ttl_secs",
            "change_session_ttl_secs",
            "default_tenant",
            "default_domain",
            "bootstrap_admin",
            "log",
            "log_format",
            "metrics_listen",
            "smtp_host",
            "smtp_port",
            "smtp_security",
            "smtp_username",
            "smtp_password",
            "mail_from",
            "sms_webhook_url",
            "sms_webhook_token",
            "code_sends_per_destination_per_hour",
            "outbox_poll_millis",
            "outbox_concurrency",
            "expiry_reminder_interval_secs",
            "cleanup_interval_secs",
            "compromised_poll_secs",
            "registration_sweep_secs",
            "expired_retention_hours",
            "bulk_job_retention_days",
            "audit_retention_days",
        ]
    }

    /// The database URL in effect.
    pub fn database_url(&self) -> DatabaseUrl {
        self.database_url
            .clone()
            .unwrap_or_else(|| DatabaseUrl::sqlite_file(&self.data_dir.join("gatehouse.db")))
    }

    /// Directory of the dev certificates.
    pub fn certs_dir(&self) -> PathBuf {
        self.data_dir.join("certs")
    }

    /// The client-CA file in effect.
    pub fn tls_client_ca(&self) -> PathBuf {
        self.tls_client_ca
            .clone()
            .unwrap_or_else(|| self.certs_dir().join("ca.pem"))
    }

    /// The server certificate file in effect.
    pub fn tls_cert(&self) -> PathBuf {
        self.tls_cert
            .clone()
            .unwrap_or_else(|| self.certs_dir().join("server.pem"))
    }

    /// The secret-key file in effect.
    pub fn secret_key_file(&self) -> PathBuf {
        self.secret_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("secret.key"))
    }

    /// The server key file in effect.
    pub fn tls_key(&self) -> PathBuf {
        self.tls_key
            .clone()
            .unwrap_or_else(|| self.certs_dir().join("server.key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration reference documents every setting: a new setting without a row in
    /// `docs/configuration.md` fails here.
    #[test]
    fn every_setting_is_documented() {
        let reference = include_str!("../../docs/configuration.md");
        let missing: Vec<&str> = Config::keys()
            .into_iter()
            .filter(|key| !reference.contains(&format!("| `{key}` |")))
            .collect();
        assert!(missing.is_empty(), "undocumented settings: {missing:?}");
    }

    #[test]
    fn every_setting_is_listed_in_keys() {
        let value = serde_json::to_value(Config::default()).expect("serialisable");
        let mut fields: Vec<String> = value.as_object().expect("object").keys().cloned().collect();
        fields.sort_unstable();
        let mut keys: Vec<String> = Config::keys().into_iter().map(str::to_owned).collect();
        keys.sort_unstable();
        assert_eq!(fields, keys);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail API, not ours
    fn flags_beat_environment_beat_file_beat_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "g.toml",
                "listen = \"127.0.0.1:1\"\ndata_dir = \"from-file\"\nhash_queue = 7\n",
            )?;
            jail.set_env("GATEHOUSE_DATA_DIR", "from-env");
            jail.set_env("GATEHOUSE_LISTEN", "127.0.0.1:2");
            jail.set_env("GATEHOUSE_NOT_A_SETTING", "ignored");
            let config = Config::load(
                Some(Path::new("g.toml")),
                Overrides {
                    listen: Some("127.0.0.1:3".parse().expect("addr")),
                    ..Default::default()
                },
            )
            .expect("loads");
            assert_eq!(config.listen, "127.0.0.1:3".parse().expect("addr"));
            assert_eq!(config.data_dir, PathBuf::from("from-env"));
            assert_eq!(config.hash_queue, 7);
            assert_eq!(config.argon2_memory_kib, 19456);
            Ok(())
        });
    }
}
