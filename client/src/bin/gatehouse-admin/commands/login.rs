//! `login` and `logout`.

use std::io::{BufRead as _, IsTerminal as _};

use gatehouse_client::{Code, pb};
use serde_json::json;

use super::Context;
use crate::args::LoginArgs;
use crate::output::{Failure, print_json, time};
use crate::session::{self, Saved};

/// Where passwords come from: the terminal without echo, or lines of standard input.
enum Secrets {
    Terminal,
    Stdin(std::io::StdinLock<'static>),
}

impl Secrets {
    /// One password; none at all (an empty line, or standard input at its end) is a usage
    /// error, never sent.
    fn read(&mut self, prompt: &str) -> Result<String, Failure> {
        let password = match self {
            Secrets::Terminal => rpassword::prompt_password(prompt)
                .map_err(|e| Failure::other(format!("cannot read the password: {e}")))?,
            Secrets::Stdin(lines) => {
                let mut line = String::new();
                let read = lines
                    .read_line(&mut line)
                    .map_err(|e| Failure::other(format!("cannot read standard input: {e}")))?;
                if read == 0 {
                    return Err(Failure::usage(format!(
                        "standard input ended before the {}",
                        what(prompt)
                    ))
                    .with_hint(STDIN_HINT));
                }
                line.trim_end_matches(['\r', '\n']).to_owned()
            }
        };
        if password.is_empty() {
            let failure =
                Failure::usage(format!("the {} is empty; nothing was sent", what(prompt)));
            return Err(match self {
                Secrets::Terminal => failure,
                Secrets::Stdin(_) => failure.with_hint(STDIN_HINT),
            });
        }
        Ok(password)
    }
}

const STDIN_HINT: &str = "with --password-stdin, give the password on the first line of \
                          standard input and, when it must be changed, the new one on the second";

/// `password for bob@contoso.example: ` → `password for bob@contoso.example`.
fn what(prompt: &str) -> &str {
    prompt.trim_end_matches([':', ' '])
}

pub(super) async fn login(context: &Context, args: LoginArgs) -> Result<(), Failure> {
    let mut secrets = if args.password_stdin {
        Secrets::Stdin(std::io::stdin().lock())
    } else {
        Secrets::Terminal
    };
    let username = match args.username {
        Some(username) => username,
        None if !args.password_stdin && std::io::stdin().is_terminal() => {
            eprint!("username: ");
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| Failure::other(format!("cannot read the username: {e}")))?;
            let username = line.trim().to_owned();
            if username.is_empty() {
                return Err(Failure::usage("no username given; nothing was sent"));
            }
            username
        }
        None => {
            return Err(Failure::usage(
                "give the username: gatehouse-admin login USERNAME",
            ));
        }
    };
    let password = secrets.read(&format!("password for {username}: "))?;
    let client = context.client()?.without_session();
    let signed_in = client
        .sign_in_with(pb::SignInRequest {
            username: username.clone(),
            password: password.clone(),
            tenant: args.tenant.unwrap_or_default(),
        })
        .await
        .map_err(|e| Failure::call("cannot sign in", &e))?;

    let (token, expire_time, kind, registration) = if signed_in.must_change_password() {
        let why = match signed_in.change_reason {
            pb::PasswordChangeReason::TemporaryPassword => "the password is temporary",
            pb::PasswordChangeReason::PasswordExpired => "the password has expired",
            pb::PasswordChangeReason::PasswordCompromised => {
                "the password appeared in a data breach"
            }
            _ => "an administrator requires a new password",
        };
        eprintln!("{why}: choose a new one");
        let new_password = secrets.read("new password: ")?;
        if matches!(secrets, Secrets::Terminal) {
            let again = secrets.read("new password again: ")?;
            if again != new_password {
                return Err(Failure::other(
                    "the two new passwords differ; nothing changed",
                ));
            }
        }
        let changed = client
            .with_session_token(&signed_in.token)
            .change_password(&password, &new_password)
            .await
            .map_err(|e| Failure::call("cannot change the password", &e))?;
        eprintln!("password changed");
        (
            changed.token,
            changed.expire_time,
            changed.kind,
            changed.registration,
        )
    } else {
        (
            signed_in.token,
            signed_in.expire_time,
            signed_in.kind,
            signed_in.registration,
        )
    };
    if kind == pb::SessionKind::RegistrationOnly {
        let status = registration.unwrap_or_default();
        if args.snooze_registration {
            let snoozed = client
                .with_session_token(&token)
                .calls()
                .snooze_registration(pb::SnoozeRegistrationRequest {})
                .await
                .map_err(|e| Failure::call("cannot put registering off", &e))?;
            let left = snoozed.registration.map_or(0, |r| r.snoozes_left);
            eprintln!("registering security info put off ({left} snoozes left)");
        } else {
            eprintln!(
                "your tenant requires security info for self-service password reset: {} of {} \
                 verification methods are confirmed. Until you register them in your \
                 organisation's self-service app, this session can do nothing else{}",
                status.current_methods,
                status.required_methods,
                if status.snoozes_left > 0 {
                    format!(
                        "; or log in again with --snooze-registration to put it off ({} snoozes left)",
                        status.snoozes_left
                    )
                } else {
                    String::new()
                }
            );
        }
    }

    let expire_time = time(expire_time.as_ref());
    let saved = Saved::new(
        &context.connection.endpoint,
        &username,
        expire_time.clone(),
        &token,
    );
    let path = session::save(&saved)?;
    if context.json {
        print_json(&json!({
            "username": username,
            "endpoint": context.connection.endpoint,
            "expire_time": expire_time,
            "session_file": path.display().to_string(),
        }));
    } else {
        println!(
            "signed in as {username} until {expire_time} (session in {})",
            path.display()
        );
    }
    Ok(())
}

/// Revokes and forgets the session; `saved` is what `session::load` found. A damaged or
/// unreadable file holds no token to revoke: it is removed all the same.
pub(super) async fn logout(
    context: &Context,
    saved: Result<Option<Saved>, Failure>,
) -> Result<(), Failure> {
    let saved = match saved {
        Ok(Some(saved)) => saved,
        Ok(None) => {
            println!("not signed in");
            return Ok(());
        }
        Err(failure) => {
            eprintln!("warning: {failure}; removing it without revoking its session");
            session::remove()?;
            println!("signed out");
            return Ok(());
        }
    };
    if saved.endpoint == context.connection.endpoint {
        match context.client()?.sign_out().await {
            Ok(()) => {}
            // Expired or revoked already: nothing left to revoke.
            Err(e) if e.code() == Code::Unauthenticated => {}
            Err(e) => {
                return Err(Failure::call("cannot sign out", &e)
                    .with_hint("the session file was kept; run logout again"));
            }
        }
    } else {
        eprintln!(
            "the session is for {}, not {}: forgetting it without revoking it",
            saved.endpoint, context.connection.endpoint
        );
    }
    session::remove()?;
    println!("signed out {}", saved.username);
    Ok(())
}
