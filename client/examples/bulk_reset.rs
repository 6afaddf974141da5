//! Resets the passwords of the users named on the command line in one streamed call and
//! prints each result as it arrives, then the totals.
//!
//! ```sh
//! cargo run -p gatehouse-client --example bulk_reset -- [--dry-run] [--key KEY] USER...
//! ```
//!
//! The run's idempotency key is printed first; when the run is cut short, the same command
//! with `--key KEY` finishes it and resets nobody twice.
//!
//! The administrator signs in as `GATEHOUSE_USERNAME` (default `admin@gatehouse.example`)
//! with the password in `GATEHOUSE_PASSWORD` (or the first line of standard input). The
//! connection defaults to `gatehouse serve --dev` run from the same directory; see the
//! `reset_password` example for the variables that override it.

use std::error::Error;

use gatehouse_client::{BulkEvent, Client, ClientBuilder, pb};

#[tokio::main]
async fn main() {
    // Display, not Debug: "not found: no such user in this tenant".
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    const USAGE: &str = "usage: bulk_reset [--dry-run] [--key KEY] USER...";
    let mut dry_run = false;
    let mut key = None;
    let mut users = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dry-run" => dry_run = true,
            "--key" => key = Some(args.next().ok_or(USAGE)?),
            _ => users.push(pb::UserRef::from_name_or_id(&arg)),
        }
    }
    if users.is_empty() {
        return Err(USAGE.into());
    }
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let admin = env("GATEHOUSE_USERNAME", "admin@gatehouse.example");
    let password = match std::env::var("GATEHOUSE_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };

    let certs = "gatehouse-data/certs";
    let client = ClientBuilder::new(env("GATEHOUSE_ENDPOINT", "https://127.0.0.1:50051"))
        .ca_pem_file(env("GATEHOUSE_CA", &format!("{certs}/ca.pem")))?
        .identity_pem_files(
            env("GATEHOUSE_CLIENT_CERT", &format!("{certs}/client.pem")),
            env("GATEHOUSE_CLIENT_KEY", &format!("{certs}/client.key")),
        )?
        .domain_name(env("GATEHOUSE_SERVER_NAME", "localhost"))
        .connect()
        .await?;
    let signed_in = client.sign_in(&admin, &password).await?;
    let admin = client.with_session_token(&signed_in.token);

    // A key of our own: if the stream is cut, running the same request with the same key
    // continues where it stopped and resets nobody twice. Printed first, so that whatever
    // cuts the run short, the key to finish it is known.
    let key = match key {
        Some(key) => key,
        None => format!(
            "bulk-example-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_millis()
        ),
    };
    eprintln!("idempotency key: {key}");
    let outcome = reset(&admin, users, dry_run, &key).await;
    // The session ends whatever happened.
    let signed_out = admin.sign_out().await;
    if outcome.is_err() {
        eprintln!("run again with --key {key} to finish; nobody is reset twice");
    }
    outcome?;
    signed_out?;
    Ok(())
}

async fn reset(
    admin: &Client,
    users: Vec<pb::UserRef>,
    dry_run: bool,
    key: &str,
) -> Result<(), Box<dyn Error>> {
    let mut results = admin
        .bulk_reset(pb::BulkResetPasswordsRequest {
            users,
            dry_run,
            idempotency_key: key.to_owned(),
            ..Default::default()
        })
        .await?;
    let mut job = None;
    while let Some(event) = results.next_event().await {
        match event? {
            BulkEvent::Started(started) => job = Some(started.job_id),
            BulkEvent::Item(item) => {
                let shown = item
                    .temporary_password
                    .as_ref()
                    .map_or(item.reason.as_str(), |p| p.expose());
                println!("{}\t{:?}\t{shown}", item.user_ref, item.outcome);
            }
            BulkEvent::Summary(summary) => println!(
                "total {}: reset {}, would reset {}, refused {}, not found {}, failed {}",
                summary.total,
                summary.reset,
                summary.would_reset,
                summary.refused,
                summary.not_found,
                summary.failed
            ),
        }
    }
    // Every result is printed: the server may forget the passwords it kept for a retry.
    if let Some(job_id) = job {
        admin
            .calls()
            .acknowledge_bulk_results(pb::AcknowledgeBulkResultsRequest { job_id })
            .await?;
    }
    Ok(())
}
