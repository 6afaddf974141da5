//! Connection settings: flags, then `GATEHOUSE_*` variables (clap reads both), then the
//! config file, then the defaults of `gatehouse serve --dev` run in the current directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gatehouse_client::{Client, ClientBuilder};
use serde::Deserialize;

use crate::args::ConnectionArgs;
use crate::output::Failure;

const DEFAULT_ENDPOINT: &str = "https://127.0.0.1:50051";
const DEV_CERTS: &str = "gatehouse-data/certs";

/// How long a call may take before its answer (a bulk reset: before its stream opens).
/// Generous: `passwords require-change --all` and `audit verify` on a large tenant are slow;
/// a server that is gone is caught sooner by the pings below.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Pings on the connection, so that a bulk reset whose server vanished fails (and prints
/// how to resume) instead of waiting forever.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(20);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The config file: every key optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    endpoint: Option<String>,
    ca: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    server_name: Option<String>,
}

/// The settings in force.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) endpoint: String,
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    server_name: Option<String>,
}

/// `$XDG_CONFIG_HOME/gatehouse`, else `~/.config/gatehouse`.
pub(crate) fn config_dir() -> Result<PathBuf, Failure> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("gatehouse"));
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".config").join("gatehouse")),
        None => Err(Failure::other(
            "cannot find your config directory: set XDG_CONFIG_HOME or HOME",
        )),
    }
}

impl Connection {
    pub(crate) fn resolve(args: &ConnectionArgs) -> Result<Connection, Failure> {
        let (file, base) = match &args.config {
            Some(path) => (read_config(path)?, parent(path)),
            None => {
                let path = config_dir()?.join("admin.toml");
                if path.exists() {
                    let base = parent(&path);
                    (read_config(&path)?, base)
                } else {
                    (FileConfig::default(), PathBuf::new())
                }
            }
        };
        // Paths in the file are relative to the file; defaults to the current directory.
        let from_file = |p: Option<PathBuf>| p.map(|p| base.join(p));
        Ok(Connection {
            endpoint: args
                .endpoint
                .clone()
                .or(file.endpoint)
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned()),
            ca: args
                .ca
                .clone()
                .or(from_file(file.ca))
                .unwrap_or_else(|| Path::new(DEV_CERTS).join("ca.pem")),
            cert: args
                .cert
                .clone()
                .or(from_file(file.cert))
                .unwrap_or_else(|| Path::new(DEV_CERTS).join("client.pem")),
            key: args
                .key
                .clone()
                .or(from_file(file.key))
                .unwrap_or_else(|| Path::new(DEV_CERTS).join("client.key")),
            server_name: args.server_name.clone().or(file.server_name),
        })
    }

    /// A client that connects on its first call (so a usage error never waits for the
    /// network).
    pub(crate) fn client(&self) -> Result<Client, Failure> {
        let mut builder = ClientBuilder::new(self.endpoint.clone())
            .connect_timeout(Duration::from_secs(10))
            .request_timeout(REQUEST_TIMEOUT)
            .keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT)
            .ca_pem_file(&self.ca)
            .and_then(|b| b.identity_pem_files(&self.cert, &self.key))
            .map_err(|e| Failure::connect(&e))?;
        if let Some(name) = &self.server_name {
            builder = builder.domain_name(name.clone());
        }
        builder.connect_lazy().map_err(|e| Failure::connect(&e))
    }
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn read_config(path: &Path) -> Result<FileConfig, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::other(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        Failure::other(format!(
            "invalid config file {}: {}",
            path.display(),
            e.message()
        ))
        .with_hint("keys: endpoint, ca, cert, key, server_name")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_flags() -> ConnectionArgs {
        ConnectionArgs {
            endpoint: None,
            ca: None,
            cert: None,
            key: None,
            server_name: None,
            config: None,
        }
    }

    #[test]
    fn a_config_file_fills_what_flags_leave_and_its_paths_are_relative_to_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("admin.toml");
        std::fs::write(
            &path,
            "endpoint = \"https://gatehouse.internal:50051\"\nca = \"ca.pem\"\ncert = \"/abs/c.pem\"\n",
        )
        .expect("write");
        let args = ConnectionArgs {
            key: Some(PathBuf::from("flag.key")),
            config: Some(path),
            ..no_flags()
        };
        let connection = Connection::resolve(&args).expect("resolve");
        assert_eq!(connection.endpoint, "https://gatehouse.internal:50051");
        assert_eq!(connection.ca, dir.path().join("ca.pem"));
        assert_eq!(connection.cert, PathBuf::from("/abs/c.pem"));
        assert_eq!(connection.key, PathBuf::from("flag.key"));
    }

    #[test]
    fn a_misspelt_key_in_the_config_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("admin.toml");
        std::fs::write(&path, "endpiont = \"x\"\n").expect("write");
        let args = ConnectionArgs {
            config: Some(path.clone()),
            ..no_flags()
        };
        let failure = Connection::resolve(&args).expect_err("unknown key");
        assert!(
            failure.to_string().contains(&path.display().to_string()),
            "{failure}"
        );
    }
}
