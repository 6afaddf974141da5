//! `passwords reset|require-change|bulk-reset`.

use std::io::BufRead as _;

use gatehouse_client::pb;
use serde_json::json;

use super::Context;
use super::users::done;
use crate::args::PasswordsCommand;
use crate::output::{Failure, time};

pub(super) async fn run(context: &Context, command: PasswordsCommand) -> Result<(), Failure> {
    match command {
        PasswordsCommand::Reset {
            user,
            invite,
            password_stdin,
            no_require_change,
        } => reset(context, &user, invite, password_stdin, no_require_change).await,
        PasswordsCommand::RequireChange {
            all,
            users,
            revoke_sessions,
        } => {
            let mut user_ids = Vec::with_capacity(users.len());
            for user in &users {
                user_ids.push(context.user(user).await?.id);
            }
            let response = context.check(
                "cannot require a password change",
                context
                    .client()?
                    .calls()
                    .require_password_change(pb::RequirePasswordChangeRequest {
                        user_ids,
                        all_users: all,
                        revoke_sessions,
                    })
                    .await,
            )?;
            done(
                context,
                json!({
                    "affected_users": response.affected_users,
                    "skipped_users": response.skipped_users,
                    "revoked_sessions": response.revoked_sessions,
                }),
                &format!(
                    "{} user(s) must change their password at next sign-in; {} skipped (not yours \
                     to reset); {} session(s) revoked",
                    response.affected_users, response.skipped_users, response.revoked_sessions
                ),
            );
            Ok(())
        }
        PasswordsCommand::BulkReset(args) => crate::bulk::run(context, args).await,
    }
}

async fn reset(
    context: &Context,
    user: &str,
    invite: bool,
    password_stdin: bool,
    no_require_change: bool,
) -> Result<(), Failure> {
    // An empty password asks the server to generate one, which it would then print: from
    // --password-stdin that is never what was meant, so nothing is sent.
    let password = if password_stdin {
        let mut line = String::new();
        let read = std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::other(format!("cannot read standard input: {e}")))?;
        let password = line.trim_end_matches(['\r', '\n']);
        if password.is_empty() {
            let why = if read == 0 {
                "standard input ended before the password"
            } else {
                "the password on standard input is empty"
            };
            return Err(
                Failure::usage(format!("--password-stdin: {why}; nothing was sent")).with_hint(
                    "give the new password on the first line of standard input, or leave out \
                 --password-stdin to have one generated",
                ),
            );
        }
        password.to_owned()
    } else {
        String::new()
    };
    let reset = context.check(
        &format!("cannot reset the password of {user}"),
        context
            .client()?
            .reset_password_with(pb::ResetPasswordRequest {
                user: Some(pb::UserRef::from_name_or_id(user)),
                password,
                require_change: no_require_change.then_some(false),
                delivery: if invite {
                    pb::ResetDelivery::Invitation as i32
                } else {
                    pb::ResetDelivery::Unspecified as i32
                },
            })
            .await,
    )?;
    let expires = time(reset.expire_time.as_ref());
    if context.json {
        crate::output::print_json(&json!({
            "user": user,
            "temporary_password": reset.temporary_password.as_ref().map(|p| p.expose()),
            "must_change": reset.must_change,
            "expire_time": reset.expire_time.as_ref().map(ToString::to_string),
            "revoked_sessions": reset.revoked_sessions,
            "invitation_sent": reset.invitation_sent,
        }));
        return Ok(());
    }
    match &reset.temporary_password {
        // Shown once: the server keeps only its hash.
        Some(password) => println!("temporary password for {user}: {}", password.expose()),
        None if reset.invitation_sent => println!("invitation sent to {user}"),
        None => println!("password of {user} set"),
    }
    if reset.must_change {
        if expires.is_empty() {
            println!("it must be changed at next sign-in");
        } else {
            println!("it must be changed at next sign-in and stops working at {expires}");
        }
    }
    println!("{} session(s) revoked", reset.revoked_sessions);
    Ok(())
}
