//! Signs in as an administrator and resets one user's password; prints the temporary
//! password once.
//!
//! ```sh
//! cargo run -p gatehouse-client --example reset_password -- USER [ADMIN_USERNAME]
//! ```
//!
//! The administrator's password is read from `GATEHOUSE_PASSWORD` (or the first line of
//! standard input). The connection defaults to `gatehouse serve --dev` run from the same
//! directory: `https://127.0.0.1:50051` and `./gatehouse-data/certs/{ca.pem,client.pem,client.key}`;
//! `GATEHOUSE_ENDPOINT`, `GATEHOUSE_CA`, `GATEHOUSE_CLIENT_CERT` and `GATEHOUSE_CLIENT_KEY`
//! override them.

use std::error::Error;

use gatehouse_client::{ClientBuilder, pb};

#[tokio::main]
async fn main() {
    // Display, not Debug: "not found: no such user in this tenant".
    if let Err(error) = run().await {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let user = args
        .next()
        .ok_or("usage: reset_password USER [ADMIN_USERNAME]")?;
    let admin = args
        .next()
        .unwrap_or_else(|| "admin@gatehouse.example".to_owned());
    let password = match std::env::var("GATEHOUSE_PASSWORD") {
        Ok(password) => password,
        Err(_) => {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim_end_matches(['\r', '\n']).to_owned()
        }
    };

    let client = builder()?.connect().await?;
    let signed_in = client.sign_in(&admin, &password).await?;
    if signed_in.must_change_password() {
        return Err(format!("{admin} must change their password first").into());
    }
    let admin = client.with_session_token(&signed_in.token);

    let reset = admin
        .reset_password(pb::UserRef::from_name_or_id(&user))
        .await?;
    match &reset.temporary_password {
        Some(password) => println!("{user}: {}", password.expose()),
        None => println!("{user}: reset"),
    }
    println!(
        "must change at next sign-in: {}; sessions revoked: {}",
        reset.must_change, reset.revoked_sessions
    );
    admin.sign_out().await?;
    Ok(())
}

/// The `serve --dev` connection, overridable from the environment.
fn builder() -> Result<ClientBuilder, Box<dyn Error>> {
    let env = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let certs = "gatehouse-data/certs";
    Ok(
        ClientBuilder::new(env("GATEHOUSE_ENDPOINT", "https://127.0.0.1:50051"))
            .ca_pem_file(env("GATEHOUSE_CA", &format!("{certs}/ca.pem")))?
            .identity_pem_files(
                env("GATEHOUSE_CLIENT_CERT", &format!("{certs}/client.pem")),
                env("GATEHOUSE_CLIENT_KEY", &format!("{certs}/client.key")),
            )?
            .domain_name(env("GATEHOUSE_SERVER_NAME", "localhost")),
    )
}
