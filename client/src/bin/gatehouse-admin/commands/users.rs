//! `users list|show|create|update|block|unblock|delete|unlock|revoke-sessions|methods|clear-methods`.

use std::io::IsTerminal as _;

use gatehouse_client::pb;
use serde_json::{Value, json};

use super::Context;
use crate::args::{RegistrationArg, UserStateArg, UsersCommand};
use crate::output::{
    Failure, Table, method_json, method_kind_name, print_fields, print_json, registration_name,
    roles_text, state_name, user_fields, user_json, yes_no,
};

pub(super) async fn run(context: &Context, command: UsersCommand) -> Result<(), Failure> {
    match command {
        UsersCommand::List {
            state,
            unit,
            registration,
            limit,
        } => {
            let unit = match unit {
                Some(unit) => Some(context.unit(&unit).await?.id),
                None => None,
            };
            list(context, state, unit, registration, limit).await
        }
        UsersCommand::RemindRegistration {
            unit,
            include_reconfirm_due,
            dry_run,
        } => {
            let unit_id = match &unit {
                Some(unit) => context.unit(unit).await?.id,
                None => String::new(),
            };
            let response = context.check(
                "cannot send registration reminders",
                context
                    .client()?
                    .calls()
                    .send_registration_reminders(pb::SendRegistrationRemindersRequest {
                        unit_id,
                        include_reconfirm_due,
                        validate_only: dry_run,
                    })
                    .await,
            )?;
            let line = if dry_run {
                format!(
                    "{} people would be reminded to register security info ({} reminded in the \
                     last 24 hours are left out); nothing was sent",
                    response.reminded, response.recently_reminded
                )
            } else {
                format!(
                    "reminded {} people to register security info ({} reminded in the last 24 \
                     hours were left out)",
                    response.reminded, response.recently_reminded
                )
            };
            done(
                context,
                json!({
                    "reminded": response.reminded,
                    "recently_reminded": response.recently_reminded,
                    "dry_run": dry_run,
                }),
                &line,
            );
            Ok(())
        }
        UsersCommand::Show { user } => {
            let user = context.user(&user).await?;
            show(context, &user);
            Ok(())
        }
        UsersCommand::Create {
            username,
            display_name,
            email,
        } => {
            let response = context.check(
                &format!("cannot create {username}"),
                context
                    .client()?
                    .calls()
                    .create_user(pb::CreateUserRequest {
                        display_name: display_name.unwrap_or_else(|| username.clone()),
                        username: username.clone(),
                        contact_email: email.unwrap_or_default(),
                    })
                    .await,
            )?;
            let user = response.user.unwrap_or_default();
            if !context.json {
                eprintln!(
                    "created {}; give a first password with `gatehouse-admin passwords reset {}`",
                    user.username, user.username
                );
            }
            show(context, &user);
            Ok(())
        }
        UsersCommand::Update {
            user,
            username,
            display_name,
            email,
            password_never_expires,
        } => {
            let current = context.user(&user).await?;
            let response = context.check(
                &format!("cannot update {user}"),
                context
                    .client()?
                    .calls()
                    .update_user(pb::UpdateUserRequest {
                        id: current.id,
                        version: current.version,
                        username,
                        display_name,
                        contact_email: email,
                        password_never_expires,
                    })
                    .await,
            )?;
            show(context, &response.user.unwrap_or_default());
            Ok(())
        }
        UsersCommand::Block { user } => {
            let response = context.check(
                &format!("cannot block {user}"),
                context
                    .client()?
                    .calls()
                    .block_sign_in(pb::BlockSignInRequest {
                        user: Some(pb::UserRef::from_name_or_id(&user)),
                    })
                    .await,
            )?;
            done(
                context,
                json!({"user": user, "state": "blocked", "revoked_sessions": response.revoked_sessions}),
                &format!(
                    "blocked {user}; {} session(s) revoked",
                    response.revoked_sessions
                ),
            );
            Ok(())
        }
        UsersCommand::Unblock { user } => {
            context.check(
                &format!("cannot unblock {user}"),
                context
                    .client()?
                    .calls()
                    .unblock_sign_in(pb::UnblockSignInRequest {
                        user: Some(pb::UserRef::from_name_or_id(&user)),
                    })
                    .await,
            )?;
            done(
                context,
                json!({"user": user, "state": "active"}),
                &format!("unblocked {user}"),
            );
            Ok(())
        }
        UsersCommand::Delete { user, yes } => {
            // Before any call: a script without --yes is wrong whatever the server says.
            if !yes && !std::io::stdin().is_terminal() {
                return Err(Failure::usage(format!(
                    "not confirmed: deleting {user} needs --yes when not at a terminal; \
                     nothing was deleted"
                )));
            }
            let current = context.user(&user).await?;
            if !yes {
                confirm(&format!(
                    "delete {} and everything of theirs?",
                    current.username
                ))?;
            }
            context.check(
                &format!("cannot delete {user}"),
                context
                    .client()?
                    .calls()
                    .delete_user(pb::DeleteUserRequest {
                        id: current.id.clone(),
                        version: current.version,
                    })
                    .await,
            )?;
            done(
                context,
                json!({"user": current.username, "id": current.id, "deleted": true}),
                &format!("deleted {}", current.username),
            );
            Ok(())
        }
        UsersCommand::Unlock { user } => {
            let response = context.check(
                &format!("cannot unlock {user}"),
                context
                    .client()?
                    .calls()
                    .unlock_user(pb::UnlockUserRequest {
                        user: Some(pb::UserRef::from_name_or_id(&user)),
                    })
                    .await,
            )?;
            done(
                context,
                json!({"user": user, "was_locked": response.was_locked}),
                &if response.was_locked {
                    format!("unlocked {user}; they can sign in again")
                } else {
                    format!("{user} was not locked out; nothing changed")
                },
            );
            Ok(())
        }
        UsersCommand::RevokeSessions { user } => {
            let response = context.check(
                &format!("cannot revoke the sessions of {user}"),
                context
                    .client()?
                    .calls()
                    .revoke_sessions(pb::RevokeSessionsRequest {
                        user: Some(pb::UserRef::from_name_or_id(&user)),
                    })
                    .await,
            )?;
            done(
                context,
                json!({"user": user, "revoked_sessions": response.revoked_sessions}),
                &if response.revoked_sessions > 0 {
                    format!(
                        "{} session(s) of {user} revoked; they must sign in again",
                        response.revoked_sessions
                    )
                } else {
                    format!("{user} had no session; nothing changed")
                },
            );
            Ok(())
        }
        UsersCommand::Methods { user } => methods(context, &user).await,
        UsersCommand::ClearMethods { user } => {
            let response = context.check(
                &format!("cannot clear the verification methods of {user}"),
                context
                    .client()?
                    .calls()
                    .clear_verification_methods(pb::ClearVerificationMethodsRequest {
                        user: Some(pb::UserRef::from_name_or_id(&user)),
                    })
                    .await,
            )?;
            done(
                context,
                json!({"user": user, "cleared": response.cleared}),
                &if response.cleared > 0 {
                    format!(
                        "removed {} verification method(s) of {user}; they were told at their \
                         contact address",
                        response.cleared
                    )
                } else {
                    format!("{user} had no verification methods; nothing changed")
                },
            );
            Ok(())
        }
    }
}

async fn methods(context: &Context, user: &str) -> Result<(), Failure> {
    // Retried as a read; the server masks every address.
    let response = context.check(
        &format!("cannot list the verification methods of {user}"),
        context
            .client()?
            .calls()
            .list_user_verification_methods(pb::ListUserVerificationMethodsRequest {
                user: Some(pb::UserRef::from_name_or_id(user)),
            })
            .await,
    )?;
    if context.json {
        print_json(&Value::Array(
            response.methods.iter().map(method_json).collect(),
        ));
        return Ok(());
    }
    if response.methods.is_empty() {
        println!("{user} has no verification methods");
        return Ok(());
    }
    let mut table = Table::new(&["KIND", "SHOWN AS", "CONFIRMED", "ID"]);
    for method in &response.methods {
        table.row(vec![
            method_kind_name(method.kind).to_owned(),
            method.masked.clone(),
            yes_no(method.verified).to_owned(),
            method.id.clone(),
        ]);
    }
    table.print();
    Ok(())
}

/// Lists users (of one unit, given its id), as a table or JSON.
pub(super) async fn list(
    context: &Context,
    state: Option<UserStateArg>,
    unit: Option<String>,
    registration: Option<RegistrationArg>,
    limit: Option<usize>,
) -> Result<(), Failure> {
    let state = match state {
        None => pb::UserState::Unspecified,
        Some(UserStateArg::Active) => pb::UserState::Active,
        Some(UserStateArg::Blocked) => pb::UserState::SignInBlocked,
    };
    let registration = match registration {
        None => pb::RegistrationState::Unspecified,
        Some(RegistrationArg::Registered) => pb::RegistrationState::Registered,
        Some(RegistrationArg::NotRegistered) => pb::RegistrationState::NotRegistered,
        Some(RegistrationArg::ReconfirmDue) => pb::RegistrationState::ReconfirmDue,
    };
    let mut users = Vec::new();
    let mut page_token = String::new();
    loop {
        let want = limit.map_or(500, |l| l.saturating_sub(users.len()).min(500));
        if want == 0 {
            break;
        }
        let page = context.check(
            "cannot list users",
            context
                .client()?
                .calls()
                .list_users(pb::ListUsersRequest {
                    page_size: i32::try_from(want).unwrap_or(500),
                    page_token,
                    state: state as i32,
                    unit_id: unit.clone().unwrap_or_default(),
                    registration_state: registration as i32,
                })
                .await,
        )?;
        users.extend(page.users);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    if context.json {
        print_json(&Value::Array(users.iter().map(user_json).collect()));
        return Ok(());
    }
    let mut table = Table::new(&[
        "USERNAME",
        "DISPLAY NAME",
        "STATE",
        "ROLES",
        "MUST CHANGE",
        "SECURITY INFO",
        "ID",
    ]);
    for user in &users {
        table.row(vec![
            user.username.clone(),
            user.display_name.clone(),
            state_name(user.state).to_owned(),
            roles_text(&user.roles),
            yes_no(user.password_change_required).to_owned(),
            registration_name(user.registration_state).to_owned(),
            user.id.clone(),
        ]);
    }
    table.print();
    Ok(())
}

fn show(context: &Context, user: &pb::User) {
    if context.json {
        print_json(&user_json(user));
    } else {
        print_fields(&user_fields(user));
    }
}

/// Prints the outcome of a change: JSON, or a line for people.
pub(super) fn done(context: &Context, value: Value, line: &str) {
    if context.json {
        print_json(&value);
    } else {
        println!("{line}");
    }
}

/// Asks on the terminal (the caller has made sure there is one, or `--yes` was given).
fn confirm(question: &str) -> Result<(), Failure> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Failure::other(format!("cannot read the answer: {e}")))?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Failure::other("not confirmed; nothing was deleted"))
    }
}
