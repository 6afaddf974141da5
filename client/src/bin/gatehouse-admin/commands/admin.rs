//! `policy`, `requests`, `roles` and `audit`.

use gatehouse_client::pb;
use serde_json::{Value, json};

use super::Context;
use super::users::done;
use crate::args::{
    AuditCommand, PolicyCommand, PolicySetArgs, RequestStateArg, RequestsCommand, ResolutionArg,
    RoleArg, RoleChangeArgs, RolesCommand,
};
use crate::output::{
    Failure, Table, assignment_json, audit_json, escape, policy_fields, policy_json,
    principal_text, print_fields, print_json, request_json, request_state_name, role_name, time,
};

pub(super) async fn policy(context: &Context, command: PolicyCommand) -> Result<(), Failure> {
    let policy = match command {
        PolicyCommand::Show => {
            context
                .check(
                    "cannot read the password policy",
                    context
                        .client()?
                        .calls()
                        .get_password_policy(pb::GetPasswordPolicyRequest {})
                        .await,
                )?
                .policy
        }
        PolicyCommand::Set(args) => {
            let update = policy_update(args);
            if update == pb::PasswordPolicyUpdate::default() {
                return Err(Failure::usage(
                    "nothing to change: give at least one setting (see `policy set --help`)",
                ));
            }
            context
                .check(
                    "cannot change the password policy",
                    context
                        .client()?
                        .calls()
                        .update_password_policy(pb::UpdatePasswordPolicyRequest {
                            update: Some(update),
                        })
                        .await,
                )?
                .policy
        }
    };
    let policy = policy.unwrap_or_default();
    if context.json {
        print_json(&policy_json(&policy));
    } else {
        print_fields(&policy_fields(&policy));
    }
    Ok(())
}

fn policy_update(a: PolicySetArgs) -> pb::PasswordPolicyUpdate {
    pb::PasswordPolicyUpdate {
        min_length: a.min_length,
        max_length: a.max_length,
        min_strength_score: a.min_strength_score,
        banned_terms: a.banned_terms.map(|terms| pb::BannedTerms {
            terms: terms
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
        }),
        history_count: a.history_count,
        max_age_days: a.max_age_days,
        expiry_reminder_days: a.expiry_reminder_days,
        lockout_threshold: a.lockout_threshold,
        lockout_seconds: a.lockout_seconds,
        lockout_max_seconds: a.lockout_max_seconds,
        temporary_password_hours: a.temporary_password_hours,
        invitation_hours: a.invitation_hours,
        reset_code_minutes: a.reset_code_minutes,
        reset_code_attempts: a.reset_code_attempts,
        reset_methods_required: a.reset_methods_required,
        notify_person_on_admin_reset: a.notify_person_on_admin_reset,
        notify_admins_on_admin_password_change: a.notify_admins_on_admin_password_change,
        compromised_check_at_sign_in: a.compromised_check_at_sign_in,
        require_registration: a.require_registration,
        registration_snoozes: a.registration_snoozes,
        registration_snooze_days: a.registration_snooze_days,
        reconfirm_days: a.reconfirm_days,
    }
}

pub(super) async fn requests(context: &Context, command: RequestsCommand) -> Result<(), Failure> {
    match command {
        RequestsCommand::List { state, limit } => {
            let state = match state {
                None => pb::ResetRequestState::Unspecified,
                Some(RequestStateArg::Open) => pb::ResetRequestState::Open,
                Some(RequestStateArg::Completed) => pb::ResetRequestState::Completed,
                Some(RequestStateArg::Dismissed) => pb::ResetRequestState::Dismissed,
            };
            let mut requests = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = context.check(
                    "cannot list requests",
                    context
                        .client()?
                        .calls()
                        .list_reset_requests(pb::ListResetRequestsRequest {
                            state: state as i32,
                            page_size: 500,
                            page_token,
                        })
                        .await,
                )?;
                requests.extend(page.requests);
                if page.next_page_token.is_empty() || limit.is_some_and(|l| requests.len() >= l) {
                    break;
                }
                page_token = page.next_page_token;
            }
            if let Some(limit) = limit {
                requests.truncate(limit);
            }
            if context.json {
                print_json(&Value::Array(requests.iter().map(request_json).collect()));
                return Ok(());
            }
            let mut table = Table::new(&["ID", "USERNAME", "STATE", "ASKED", "UPDATED", "MESSAGE"]);
            for r in &requests {
                table.row(vec![
                    r.id.clone(),
                    r.username.clone(),
                    request_state_name(r.state).to_owned(),
                    r.times_asked.to_string(),
                    time(r.update_time.as_ref()),
                    r.message.replace('\n', " "),
                ]);
            }
            table.print();
            Ok(())
        }
        RequestsCommand::Resolve {
            id,
            resolution,
            comment,
        } => {
            let resolution = match resolution {
                ResolutionArg::Reset => pb::ResetResolution::TemporaryPassword,
                ResolutionArg::Invite => pb::ResetResolution::SendInvitation,
                ResolutionArg::Dismiss => pb::ResetResolution::Dismiss,
            };
            let response = context.check(
                &format!("cannot resolve request {id}"),
                context
                    .client()?
                    .calls()
                    .resolve_reset_request(pb::ResolveResetRequestRequest {
                        request_id: id.clone(),
                        resolution: resolution as i32,
                        comment,
                    })
                    .await,
            )?;
            let request = response.request.unwrap_or_default();
            let password = (!response.generated_password.is_empty())
                .then_some(response.generated_password.as_str());
            if context.json {
                let mut value = request_json(&request);
                value["temporary_password"] = json!(password);
                value["invitation_sent"] = json!(response.invitation_sent);
                print_json(&value);
            } else {
                println!(
                    "request {id} of {} is {}",
                    request.username,
                    request_state_name(request.state)
                );
                if let Some(password) = password {
                    // Shown once: the server keeps only its hash.
                    println!("temporary password for {}: {password}", request.username);
                }
                if response.invitation_sent {
                    println!("invitation sent to {}", request.username);
                }
            }
            Ok(())
        }
    }
}

fn role(arg: RoleArg) -> pb::Role {
    match arg {
        RoleArg::GlobalAdmin => pb::Role::GlobalAdmin,
        RoleArg::UserAdmin => pb::Role::UserAdmin,
        RoleArg::PasswordAdmin => pb::Role::PasswordAdmin,
        RoleArg::Auditor => pb::Role::Auditor,
    }
}

async fn principal(context: &Context, args: &RoleChangeArgs) -> Result<pb::Principal, Failure> {
    let kind = match (&args.user, &args.service) {
        (Some(user), _) => pb::principal::Kind::UserId(context.user(user).await?.id),
        (None, Some(service)) => pb::principal::Kind::Service(service.clone()),
        (None, None) => return Err(Failure::other("name a --user or a --service")),
    };
    Ok(pb::Principal { kind: Some(kind) })
}

async fn unit_of(
    context: &Context,
    args: &RoleChangeArgs,
) -> Result<Option<pb::AdministrativeUnit>, Failure> {
    match &args.unit {
        Some(unit) => Ok(Some(context.unit(unit).await?)),
        None => Ok(None),
    }
}

/// Where an assignment applies, for people.
fn scope_text(a: &pb::RoleAssignment) -> String {
    if a.unit_id.is_empty() {
        "tenant-wide".to_owned()
    } else {
        format!("over unit {}", a.unit_name)
    }
}

pub(super) async fn roles(context: &Context, command: RolesCommand) -> Result<(), Failure> {
    match command {
        RolesCommand::List {
            user,
            role: wanted,
            unit,
        } => {
            let unit_id = match &unit {
                Some(unit) => context.unit(unit).await?.id,
                None => String::new(),
            };
            let principal = match &user {
                Some(user) => Some(pb::Principal {
                    kind: Some(pb::principal::Kind::UserId(context.user(user).await?.id)),
                }),
                None => None,
            };
            let mut assignments = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = context.check(
                    "cannot list role assignments",
                    context
                        .client()?
                        .calls()
                        .list_role_assignments(pb::ListRoleAssignmentsRequest {
                            principal: principal.clone(),
                            role: wanted.map_or(pb::Role::Unspecified, role) as i32,
                            page_size: 500,
                            page_token,
                            unit_id: unit_id.clone(),
                        })
                        .await,
                )?;
                assignments.extend(page.assignments);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if context.json {
                print_json(&Value::Array(
                    assignments.iter().map(assignment_json).collect(),
                ));
                return Ok(());
            }
            let mut table = Table::new(&["PRINCIPAL", "ROLE", "SCOPE", "SINCE", "ID"]);
            for a in &assignments {
                table.row(vec![
                    principal_text(a.principal.as_ref()),
                    role_name(a.role).to_owned(),
                    scope_text(a),
                    time(a.create_time.as_ref()),
                    a.id.clone(),
                ]);
            }
            table.print();
            Ok(())
        }
        RolesCommand::Assign(args) => {
            let principal = principal(context, &args).await?;
            let who = args
                .user
                .clone()
                .or(args.service.clone())
                .unwrap_or_default();
            let role = role(args.role);
            let unit = unit_of(context, &args).await?;
            let response = context.check(
                &format!("cannot assign {} to {who}", role_name(role as i32)),
                context
                    .client()?
                    .calls()
                    .assign_role(pb::AssignRoleRequest {
                        principal: Some(principal),
                        role: role as i32,
                        unit_id: unit.as_ref().map(|u| u.id.clone()).unwrap_or_default(),
                    })
                    .await,
            )?;
            let assignment = response.assignment.unwrap_or_default();
            done(
                context,
                assignment_json(&assignment),
                &match unit {
                    Some(unit) => format!(
                        "{who} is now {} over the unit {}",
                        role_name(role as i32),
                        unit.name
                    ),
                    None => format!("{who} is now {}", role_name(role as i32)),
                },
            );
            Ok(())
        }
        RolesCommand::Revoke(args) => {
            let principal = principal(context, &args).await?;
            let who = args
                .user
                .clone()
                .or(args.service.clone())
                .unwrap_or_default();
            let role = role(args.role);
            let unit = unit_of(context, &args).await?;
            context.check(
                &format!("cannot revoke {} from {who}", role_name(role as i32)),
                context
                    .client()?
                    .calls()
                    .revoke_role(pb::RevokeRoleRequest {
                        principal: Some(principal),
                        role: role as i32,
                        unit_id: unit.as_ref().map(|u| u.id.clone()).unwrap_or_default(),
                    })
                    .await,
            )?;
            done(
                context,
                json!({"principal": who, "role": role_name(role as i32), "revoked": true}),
                &format!("{who} is no longer {}", role_name(role as i32)),
            );
            Ok(())
        }
    }
}

pub(super) async fn audit(context: &Context, command: AuditCommand) -> Result<(), Failure> {
    match command {
        AuditCommand::List {
            actor,
            target,
            action,
            limit,
        } => {
            let mut events = Vec::new();
            let mut page_token = String::new();
            while events.len() < limit {
                let page = context.check(
                    "cannot list audit events",
                    context
                        .client()?
                        .calls()
                        .list_audit_events(pb::ListAuditEventsRequest {
                            actor: actor.clone().unwrap_or_default(),
                            target: target.clone().unwrap_or_default(),
                            action: action.clone().unwrap_or_default(),
                            page_size: i32::try_from((limit - events.len()).min(500))
                                .unwrap_or(500),
                            page_token,
                            ..Default::default()
                        })
                        .await,
                )?;
                events.extend(page.events);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            events.truncate(limit);
            if context.json {
                print_json(&Value::Array(events.iter().map(audit_json).collect()));
                return Ok(());
            }
            let mut table = Table::new(&["SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "OUTCOME"]);
            for e in &events {
                table.row(vec![
                    e.sequence.to_string(),
                    time(e.time.as_ref()),
                    e.actor.clone(),
                    e.action.clone(),
                    e.target.clone(),
                    e.outcome.clone(),
                ]);
            }
            table.print();
            Ok(())
        }
        AuditCommand::Tail { since } => {
            let mut feed = context.client()?.audit_feed(since);
            loop {
                let event = context.check("cannot follow the audit log", feed.next().await)?;
                if context.json {
                    println!("{}", audit_json(&event));
                } else {
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}",
                        event.sequence,
                        time(event.time.as_ref()),
                        escape(&event.actor),
                        escape(&event.action),
                        escape(&event.target),
                        escape(&event.outcome)
                    );
                }
            }
        }
        AuditCommand::Verify => {
            let response = context.check(
                "cannot verify the audit chain",
                context
                    .client()?
                    .calls()
                    .verify_audit_chain(pb::VerifyAuditChainRequest {})
                    .await,
            )?;
            done(
                context,
                json!({
                    "intact": response.intact,
                    "checked_events": response.checked_events,
                    "first_broken_sequence": response.first_broken_sequence,
                    "problem": response.problem,
                    "removed_through_sequence": response.removed_through_sequence,
                }),
                &if response.intact && response.removed_through_sequence > 0 {
                    format!(
                        "intact: {} event(s) checked, from event {} (older ones removed by the \
                         audit retention)",
                        response.checked_events,
                        response.removed_through_sequence + 1
                    )
                } else if response.intact {
                    format!("intact: {} event(s) checked", response.checked_events)
                } else {
                    format!(
                        "BROKEN at event {}: {}",
                        response.first_broken_sequence, response.problem
                    )
                },
            );
            if response.intact {
                Ok(())
            } else {
                Err(Failure::other(format!(
                    "the audit chain is broken at event {}",
                    response.first_broken_sequence
                )))
            }
        }
    }
}
