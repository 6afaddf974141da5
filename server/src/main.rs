//! The `gatehouse` command: parses the command line, sets up logging and the shutdown
//! signal, and calls the library.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use gatehouse::config::{Config, Overrides};
use tracing_subscriber::EnvFilter;

/// The process's allocator, for Rust and for the C it links (SQLite) alike: jemalloc, with a
/// background thread that hands pages freed for a second back to the system
/// (`.cargo/config.toml` sets its options when it is built). With the C library's allocator,
/// memory freed after a burst (thousands of calls at once, a bulk reset) stayed resident in
/// per-thread arenas, and the server's idle RSS did not come back down.
#[cfg(target_os = "linux")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Gatehouse: the password and account backend of a directory, over gRPC with mTLS.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file (settings: see README). Environment variables `GATEHOUSE_*`
    /// override it; flags override both.
    #[arg(long, short, global = true, env = "GATEHOUSE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, dev certificates).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL: `sqlite://PATH` or `postgres://USER:PASS@HOST/DB`.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run pending migrations, then serve.
    Serve {
        /// Listen address.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Generate dev certificates and a bootstrap admin when missing. Never in production.
        #[arg(long)]
        dev: bool,
    },
    /// Run pending migrations and exit.
    Migrate,
    /// Create the first global admin of the default tenant (production set-up, without
    /// `--dev`); prints a one-time password. Does nothing when one exists.
    InitAdmin {
        /// Username of the admin, e.g. `it-admin@contoso.example`.
        #[arg(long)]
        username: String,
        /// Give that admin a new one-time password instead, when they never chose one (the
        /// first expired unused, or was lost). Their sessions end.
        #[arg(long)]
        reissue: bool,
    },
    /// The list of compromised passwords every replica refuses.
    #[command(subcommand)]
    Compromised(CompromisedCommand),
    /// Make a new secret key (64 hex digits) for `secret_key_file`: with `--out FILE`, written
    /// to a new file of mode 0600 (never over an existing one); without, printed.
    GenKey {
        /// The file to create.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum CompromisedCommand {
    /// Load a list from a file: the breach corpus's `SHA1HEX:count` lines, or passwords one a
    /// line. It replaces the previous list; the passwords themselves are never stored.
    Import {
        /// The file.
        file: PathBuf,
        /// Only corpus lines seen at least this many times (plain passwords always count).
        #[arg(long, default_value_t = 1)]
        min_count: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Command::GenKey { out } = &cli.command {
        match out {
            Some(path) => {
                if path.exists() {
                    anyhow::bail!("{} exists; a key is never overwritten", path.display());
                }
                gatehouse::write_new_key(path)?;
                eprintln!("wrote a new secret key to {} (mode 0600)", path.display());
            }
            // The one place the key is shown: on stdout, for a file of the operator's.
            None => println!("{}", gatehouse::domain::SecretKey::generate().to_hex()),
        }
        return Ok(());
    }
    let mut overrides = Overrides {
        data_dir: cli.data_dir,
        database_url: cli.database_url,
        ..Default::default()
    };
    if let Command::Serve { listen, dev } = &cli.command {
        overrides.listen = *listen;
        overrides.dev = dev.then_some(true);
    }
    let config = Config::load(cli.config.as_deref(), overrides)?;
    init_logging(&config.log, config.log_format);
    for name in Config::unknown_env_vars() {
        tracing::warn!(variable = %name, "ignoring an environment variable that names no setting");
    }
    let runtime = tokio::runtime::Runtime::new().context("while starting the runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Migrate => {
                let ran = gatehouse::migrate(&config).await?;
                tracing::info!(migrations = ran, database = %config.database_url(), "migrations done");
                Ok(())
            }
            Command::InitAdmin {
                username,
                reissue: true,
            } => {
                let password = gatehouse::reissue_admin(&config, &username).await?;
                // The one place this password is shown; only its hash is stored.
                println!(
                    "New one-time password for {username}: {}\nSign in with it and change it; it expires unused.",
                    password.expose()
                );
                Ok(())
            }
            Command::InitAdmin {
                username,
                reissue: false,
            } => {
                match gatehouse::init_admin(&config, &username).await? {
                    // The one place this password is shown; only its hash is stored.
                    Some((username, password)) => println!(
                        "Global admin created.\n  username: {username}\n  one-time password: {}\nSign in with it and change it; it expires unused.",
                        password.expose()
                    ),
                    None => println!("The tenant has a global admin already; nothing changed."),
                }
                Ok(())
            }
            Command::Compromised(CompromisedCommand::Import { file, min_count }) => {
                let report = gatehouse::import_compromised(
                    &config,
                    &file,
                    min_count,
                    std::io::IsTerminal::is_terminal(&std::io::stderr()),
                )
                .await?;
                println!("{}", report.summary(config.compromised_poll_secs));
                Ok(())
            }
            Command::GenKey { .. } => Ok(()),
            Command::Serve { .. } => {
                let listener = tokio::net::TcpListener::bind(config.listen)
                    .await
                    .with_context(|| format!("while binding {}", config.listen))?;
                gatehouse::serve(config, listener, shutdown_signal()).await
            }
        }
    })
}

/// Logs to standard output: text for people, or one JSON object per line with the event's
/// fields at the top level and the call's `rpc` span (method, request id, caller service)
/// under `span`.
fn init_logging(default_filter: &str, format: gatehouse::config::LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    use std::io::IsTerminal as _;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match format {
        gatehouse::config::LogFormat::Text => builder
            // Colour for a person at a terminal only: a file or a log shipper gets plain text.
            .with_ansi(std::io::stdout().is_terminal())
            .init(),
        gatehouse::config::LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
