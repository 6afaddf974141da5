//! What the commands print: tables for people, JSON for scripts, and errors with an exit code.

use std::fmt;

use gatehouse_client::{CallError, Code, ConnectError, pb};
use serde_json::{Value, json};

/// A command's failure: the message for people, and the exit code.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    message: String,
    code: u8,
    hint: Option<String>,
}

/// Exit codes (documented in `--help`, README and docs/cli.md). 2 is a usage error, clap's
/// or ours.
const OTHER: u8 = 1;
const USAGE: u8 = 2;
const DENIED: u8 = 3;
const NOT_FOUND: u8 = 4;

impl Failure {
    /// Exit code 1.
    pub(crate) fn other(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: OTHER,
            hint: None,
        }
    }

    /// Exit code 2: the command line (or the input it asked for) is wrong; nothing was sent.
    pub(crate) fn usage(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: USAGE,
            hint: None,
        }
    }

    /// Adds a line on what to do about it.
    pub(crate) fn with_hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn exit_code(&self) -> u8 {
        self.code
    }

    pub(crate) fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// A failed call, said as `<what> (<field>: <why>)`; `doing` names the step.
    pub(crate) fn call(doing: &str, error: &CallError) -> Failure {
        let code = match error.code() {
            Code::Unauthenticated | Code::PermissionDenied => DENIED,
            Code::NotFound => NOT_FOUND,
            _ => OTHER,
        };
        let hint = match error.code() {
            Code::Unauthenticated => Some("sign in again with `gatehouse-admin login`".to_owned()),
            Code::Unavailable if error.never_sent() => Some(
                "is the server running? Check --endpoint (or GATEHOUSE_ENDPOINT) and the \
                 certificates"
                    .to_owned(),
            ),
            Code::Aborted => Some("the user changed meanwhile: run the command again".to_owned()),
            _ => None,
        };
        Failure {
            message: format!("{doing}: {error}"),
            code,
            hint,
        }
    }

    /// The client could not be built or could not connect.
    pub(crate) fn connect(error: &ConnectError) -> Failure {
        Failure::other(error.to_string()).with_hint(
            "check --endpoint, --ca, --cert and --key (or GATEHOUSE_ENDPOINT, GATEHOUSE_CA, \
             GATEHOUSE_CLIENT_CERT, GATEHOUSE_CLIENT_KEY); run from the directory holding \
             gatehouse-data/ for the `serve --dev` defaults",
        )
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Columns for people: a header and left-aligned cells padded to the widest.
pub(crate) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A row; control characters in the cells are shown escaped (see [`escape`]).
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows
            .push(cells.into_iter().map(|c| escape(&c).into_owned()).collect());
    }

    pub(crate) fn print(&self) {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(i) {
                    *width = (*width).max(cell.chars().count());
                }
            }
        }
        let line = |cells: &mut dyn Iterator<Item = &str>| {
            let mut text = String::new();
            for (i, cell) in cells.enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                let pad = widths.get(i).copied().unwrap_or(0) - cell.chars().count();
                text.extend(std::iter::repeat_n(' ', pad));
            }
            println!("{}", text.trim_end());
        };
        line(&mut self.header.iter().copied());
        for row in &self.rows {
            line(&mut row.iter().map(String::as_str));
        }
    }
}

/// Key/value lines for one record, control characters in the values escaped.
pub(crate) fn print_fields(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in fields {
        println!("{key:<width$}  {}", escape(value));
    }
}

/// Text for a terminal: every control character (C0, DEL and C1, so ESC and CSI too) is
/// written as an escape (`\n`, `\u{1b}`), so a value someone else typed (a help request's
/// message, a display name) cannot move the cursor, rewrite earlier lines or retitle the
/// window. A backslash stays as it is.
pub(crate) fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if c.is_control() => escaped.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    std::borrow::Cow::Owned(escaped)
}

/// Pretty JSON on standard output.
pub(crate) fn print_json(value: &Value) {
    match serde_json::to_string_pretty(value) {
        Ok(text) => println!("{text}"),
        Err(error) => eprintln!("error: cannot print JSON: {error}"),
    }
}

/// RFC 3339 to the second, or "" when unset.
pub(crate) fn time(t: Option<&prost_types::Timestamp>) -> String {
    t.map(|t| {
        let mut text = t.to_string();
        if let Some(dot) = text.find('.') {
            text.truncate(dot);
            text.push('Z');
        }
        text
    })
    .unwrap_or_default()
}

fn time_json(t: Option<&prost_types::Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::String(t.to_string()))
}

pub(crate) fn role_name(role: i32) -> &'static str {
    match pb::Role::try_from(role) {
        Ok(pb::Role::GlobalAdmin) => "global_admin",
        Ok(pb::Role::UserAdmin) => "user_admin",
        Ok(pb::Role::PasswordAdmin) => "password_admin",
        Ok(pb::Role::Auditor) => "auditor",
        _ => "unknown",
    }
}

pub(crate) fn state_name(state: i32) -> &'static str {
    match pb::UserState::try_from(state) {
        Ok(pb::UserState::Active) => "active",
        Ok(pb::UserState::SignInBlocked) => "blocked",
        _ => "unknown",
    }
}

pub(crate) fn registration_name(state: i32) -> &'static str {
    match pb::RegistrationState::try_from(state) {
        Ok(pb::RegistrationState::Registered) => "registered",
        Ok(pb::RegistrationState::NotRegistered) => "not registered",
        Ok(pb::RegistrationState::ReconfirmDue) => "reconfirm due",
        _ => "unknown",
    }
}

pub(crate) fn roles_text(roles: &[i32]) -> String {
    roles
        .iter()
        .map(|r| role_name(*r))
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn user_json(user: &pb::User) -> Value {
    json!({
        "id": user.id,
        "tenant_id": user.tenant_id,
        "username": user.username,
        "display_name": user.display_name,
        "contact_email": user.contact_email,
        "state": state_name(user.state),
        "roles": user.roles.iter().map(|r| role_name(*r)).collect::<Vec<_>>(),
        "password_change_required": user.password_change_required,
        "password_never_expires": user.password_never_expires,
        "password_set_time": time_json(user.password_set_time.as_ref()),
        "locked_until": time_json(user.locked_until.as_ref()),
        "registration_state": registration_name(user.registration_state),
        "confirmed_methods": user.confirmed_methods,
        "create_time": time_json(user.create_time.as_ref()),
        "update_time": time_json(user.update_time.as_ref()),
        "version": user.version,
    })
}

pub(crate) fn user_fields(user: &pb::User) -> Vec<(&'static str, String)> {
    vec![
        ("id", user.id.clone()),
        ("username", user.username.clone()),
        ("display name", user.display_name.clone()),
        ("contact email", user.contact_email.clone()),
        ("state", state_name(user.state).to_owned()),
        ("roles", roles_text(&user.roles)),
        (
            "must change password",
            yes_no(user.password_change_required).to_owned(),
        ),
        ("password set", time(user.password_set_time.as_ref())),
        (
            "password never expires",
            yes_no(user.password_never_expires).to_owned(),
        ),
        ("locked until", time(user.locked_until.as_ref())),
        (
            "security info",
            format!(
                "{} ({} confirmed methods)",
                registration_name(user.registration_state),
                user.confirmed_methods
            ),
        ),
        ("created", time(user.create_time.as_ref())),
        ("updated", time(user.update_time.as_ref())),
        ("version", user.version.to_string()),
    ]
}

pub(crate) fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

pub(crate) fn principal_text(principal: Option<&pb::Principal>) -> String {
    match principal.and_then(|p| p.kind.as_ref()) {
        Some(pb::principal::Kind::UserId(id)) => format!("user:{id}"),
        Some(pb::principal::Kind::Service(name)) => format!("service:{name}"),
        None => String::new(),
    }
}

pub(crate) fn policy_fields(p: &pb::PasswordPolicy) -> Vec<(&'static str, String)> {
    vec![
        ("min_length", p.min_length.to_string()),
        ("max_length", p.max_length.to_string()),
        ("min_strength_score", p.min_strength_score.to_string()),
        ("banned_terms", p.banned_terms.join(",")),
        ("history_count", p.history_count.to_string()),
        ("max_age_days", p.max_age_days.to_string()),
        ("expiry_reminder_days", p.expiry_reminder_days.to_string()),
        ("lockout_threshold", p.lockout_threshold.to_string()),
        ("lockout_seconds", p.lockout_seconds.to_string()),
        ("lockout_max_seconds", p.lockout_max_seconds.to_string()),
        (
            "temporary_password_hours",
            p.temporary_password_hours.to_string(),
        ),
        ("invitation_hours", p.invitation_hours.to_string()),
        ("reset_code_minutes", p.reset_code_minutes.to_string()),
        ("reset_code_attempts", p.reset_code_attempts.to_string()),
        (
            "reset_methods_required",
            p.reset_methods_required.to_string(),
        ),
        (
            "notify_person_on_admin_reset",
            p.notify_person_on_admin_reset.to_string(),
        ),
        (
            "notify_admins_on_admin_password_change",
            p.notify_admins_on_admin_password_change.to_string(),
        ),
        (
            "compromised_check_at_sign_in",
            p.compromised_check_at_sign_in.to_string(),
        ),
        ("require_registration", p.require_registration.to_string()),
        ("registration_snoozes", p.registration_snoozes.to_string()),
        (
            "registration_snooze_days",
            p.registration_snooze_days.to_string(),
        ),
        ("reconfirm_days", p.reconfirm_days.to_string()),
    ]
}

pub(crate) fn policy_json(p: &pb::PasswordPolicy) -> Value {
    json!({
        "min_length": p.min_length,
        "max_length": p.max_length,
        "min_strength_score": p.min_strength_score,
        "banned_terms": p.banned_terms,
        "history_count": p.history_count,
        "max_age_days": p.max_age_days,
        "expiry_reminder_days": p.expiry_reminder_days,
        "lockout_threshold": p.lockout_threshold,
        "lockout_seconds": p.lockout_seconds,
        "lockout_max_seconds": p.lockout_max_seconds,
        "temporary_password_hours": p.temporary_password_hours,
        "invitation_hours": p.invitation_hours,
        "reset_code_minutes": p.reset_code_minutes,
        "reset_code_attempts": p.reset_code_attempts,
        "reset_methods_required": p.reset_methods_required,
        "notify_person_on_admin_reset": p.notify_person_on_admin_reset,
        "notify_admins_on_admin_password_change": p.notify_admins_on_admin_password_change,
        "compromised_check_at_sign_in": p.compromised_check_at_sign_in,
        "require_registration": p.require_registration,
        "registration_snoozes": p.registration_snoozes,
        "registration_snooze_days": p.registration_snooze_days,
        "reconfirm_days": p.reconfirm_days,
    })
}

pub(crate) fn request_state_name(state: i32) -> &'static str {
    match pb::ResetRequestState::try_from(state) {
        Ok(pb::ResetRequestState::Open) => "open",
        Ok(pb::ResetRequestState::Completed) => "completed",
        Ok(pb::ResetRequestState::Dismissed) => "dismissed",
        _ => "unknown",
    }
}

pub(crate) fn request_json(r: &pb::ResetRequest) -> Value {
    json!({
        "id": r.id,
        "user_id": r.user_id,
        "username": r.username,
        "message": r.message,
        "state": request_state_name(r.state),
        "times_asked": r.times_asked,
        "create_time": time_json(r.create_time.as_ref()),
        "update_time": time_json(r.update_time.as_ref()),
        "resolved_by": r.resolved_by,
        "comment": r.comment,
    })
}

pub(crate) fn assignment_json(a: &pb::RoleAssignment) -> Value {
    json!({
        "id": a.id,
        "principal": principal_text(a.principal.as_ref()),
        "role": role_name(a.role),
        "tenant_id": a.tenant_id,
        "unit_id": a.unit_id,
        "unit_name": a.unit_name,
        "create_time": time_json(a.create_time.as_ref()),
    })
}

pub(crate) fn unit_json(u: &pb::AdministrativeUnit) -> Value {
    json!({
        "id": u.id,
        "name": u.name,
        "description": u.description,
        "version": u.version,
        "create_time": time_json(u.create_time.as_ref()),
        "update_time": time_json(u.update_time.as_ref()),
    })
}

pub(crate) fn audit_json(e: &pb::AuditEvent) -> Value {
    let details: Value = serde_json::from_str(&e.details_json).unwrap_or(Value::Null);
    json!({
        "sequence": e.sequence,
        "time": time_json(e.time.as_ref()),
        "actor": e.actor,
        "caller_service": e.caller_service,
        "action": e.action,
        "target": e.target,
        "outcome": e.outcome,
        "details": details,
        "previous_hash": e.previous_hash,
        "hash": e.hash,
    })
}

pub(crate) fn method_kind_name(kind: i32) -> &'static str {
    match pb::VerificationMethodKind::try_from(kind) {
        Ok(pb::VerificationMethodKind::Email) => "email",
        Ok(pb::VerificationMethodKind::Authenticator) => "authenticator",
        Ok(pb::VerificationMethodKind::Phone) => "phone",
        _ => "unknown",
    }
}

pub(crate) fn method_json(m: &pb::VerificationMethod) -> Value {
    json!({
        "id": m.id,
        "kind": method_kind_name(m.kind),
        "masked": m.masked,
        "verified": m.verified,
    })
}

pub(crate) fn tenant_json(t: &pb::Tenant) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "primary_domain": t.primary_domain,
        "is_default": t.is_default,
        "create_time": time_json(t.create_time.as_ref()),
    })
}

pub(crate) fn tenant_fields(t: &pb::Tenant) -> Vec<(&'static str, String)> {
    vec![
        ("id", t.id.clone()),
        ("name", t.name.clone()),
        ("primary domain", t.primary_domain.clone()),
        ("default", yes_no(t.is_default).to_owned()),
        ("created", time(t.create_time.as_ref())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_password_names_the_field_and_exits_1() {
        let error = CallError::from(tonic::Status::invalid_argument("too weak"));
        let failure = Failure::call("cannot change the password", &error);
        assert_eq!(failure.exit_code(), 1);
        assert_eq!(
            failure.to_string(),
            "cannot change the password: invalid argument: too weak"
        );
    }

    #[test]
    fn denied_and_not_found_have_their_own_exit_codes() {
        let denied = CallError::from(tonic::Status::permission_denied("no"));
        assert_eq!(Failure::call("x", &denied).exit_code(), 3);
        let unauthenticated = CallError::from(tonic::Status::unauthenticated("no"));
        assert_eq!(Failure::call("x", &unauthenticated).exit_code(), 3);
        let missing = CallError::from(tonic::Status::not_found("no"));
        assert_eq!(Failure::call("x", &missing).exit_code(), 4);
    }

    #[test]
    fn control_characters_are_escaped_and_other_text_is_kept() {
        assert_eq!(
            escape("Jane Doe, Zoë 東京 \\ ok"),
            "Jane Doe, Zoë 東京 \\ ok"
        );
        assert_eq!(
            escape("help\u{1b}[2J\u{1b}]0;owned\u{7}me"),
            "help\\u{1b}[2J\\u{1b}]0;owned\\u{7}me"
        );
        assert_eq!(escape("a\nb\r\tc"), "a\\nb\\r\\tc");
        // C1 controls (8-bit CSI) and DEL.
        assert_eq!(escape("x\u{9b}31my\u{7f}"), "x\\u{9b}31my\\u{7f}");
        let escaped = escape("\u{0}\u{1f}\u{85}");
        assert!(!escaped.chars().any(char::is_control), "{escaped}");
    }

    #[test]
    fn table_cells_hold_no_control_characters() {
        let mut table = Table::new(&["MESSAGE"]);
        table.row(vec!["please\u{1b}[1Areset".to_owned()]);
        assert_eq!(table.rows[0][0], "please\\u{1b}[1Areset");
    }

    #[test]
    fn times_are_shown_to_the_second() {
        let t = prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_000_000,
        };
        assert_eq!(time(Some(&t)), "2023-11-14T22:13:20Z");
        assert_eq!(time(None), "");
    }
}
