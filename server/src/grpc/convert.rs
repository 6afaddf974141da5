//! Domain values to and from their `gatehouse.v1` messages.

use chrono::{DateTime, Utc};
use tonic::Status;
use uuid::Uuid;

use super::pb;
use crate::domain::policy::{PasswordPolicy, PolicyUpdate};
use crate::domain::{
    Activity, ActivityReport, AdministrativeUnit, AuditEvent, BulkEvent, BulkJob, BulkOutcome,
    ChangeReason, Granularity, HelpRequest, MethodKind, MethodView, Principal, Registration,
    RegistrationState, ReportQuery, RequestState, Role, RoleAssignment, SessionKind, TenantView,
    User, UserKey, UserState,
};

pub(crate) fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

pub(crate) fn role(role: Role) -> pb::Role {
    match role {
        Role::GlobalAdmin => pb::Role::GlobalAdmin,
        Role::UserAdmin => pb::Role::UserAdmin,
        Role::PasswordAdmin => pb::Role::PasswordAdmin,
        Role::Auditor => pb::Role::Auditor,
    }
}

/// A role a request names; unspecified or unknown values are refused.
pub(crate) fn role_from(field: &str, value: i32) -> Result<Role, Status> {
    match pb::Role::try_from(value) {
        Ok(pb::Role::GlobalAdmin) => Ok(Role::GlobalAdmin),
        Ok(pb::Role::UserAdmin) => Ok(Role::UserAdmin),
        Ok(pb::Role::PasswordAdmin) => Ok(Role::PasswordAdmin),
        Ok(pb::Role::Auditor) => Ok(Role::Auditor),
        Ok(pb::Role::Unspecified) | Err(_) => Err(invalid(
            field,
            "name a role (ROLE_GLOBAL_ADMIN, ROLE_USER_ADMIN, ROLE_PASSWORD_ADMIN or ROLE_AUDITOR)",
        )),
    }
}

pub(crate) fn state(state: UserState) -> pb::UserState {
    match state {
        UserState::Active => pb::UserState::Active,
        UserState::SignInBlocked => pb::UserState::SignInBlocked,
    }
}

/// A state filter; unspecified means any.
pub(crate) fn state_filter(value: i32) -> Result<Option<UserState>, Status> {
    match pb::UserState::try_from(value) {
        Ok(pb::UserState::Unspecified) => Ok(None),
        Ok(pb::UserState::Active) => Ok(Some(UserState::Active)),
        Ok(pb::UserState::SignInBlocked) => Ok(Some(UserState::SignInBlocked)),
        Err(_) => Err(invalid("state", "unknown state")),
    }
}

pub(crate) fn session_kind(kind: SessionKind) -> pb::SessionKind {
    match kind {
        SessionKind::Full => pb::SessionKind::Full,
        SessionKind::PasswordChangeOnly => pb::SessionKind::PasswordChangeOnly,
        SessionKind::RegistrationOnly => pb::SessionKind::RegistrationOnly,
    }
}

pub(crate) fn registration_state(state: RegistrationState) -> pb::RegistrationState {
    match state {
        RegistrationState::Registered => pb::RegistrationState::Registered,
        RegistrationState::NotRegistered => pb::RegistrationState::NotRegistered,
        RegistrationState::ReconfirmDue => pb::RegistrationState::ReconfirmDue,
    }
}

pub(crate) fn registration_filter(value: i32) -> Result<Option<RegistrationState>, Status> {
    match pb::RegistrationState::try_from(value) {
        Ok(pb::RegistrationState::Unspecified) => Ok(None),
        Ok(pb::RegistrationState::Registered) => Ok(Some(RegistrationState::Registered)),
        Ok(pb::RegistrationState::NotRegistered) => Ok(Some(RegistrationState::NotRegistered)),
        Ok(pb::RegistrationState::ReconfirmDue) => Ok(Some(RegistrationState::ReconfirmDue)),
        Err(_) => Err(invalid("registration_state", "unknown registration state")),
    }
}

pub(crate) fn registration(r: Option<Registration>) -> Option<pb::RegistrationStatus> {
    let count = |n: u32| i32::try_from(n).unwrap_or(i32::MAX);
    r.map(|r| pb::RegistrationStatus {
        state: registration_state(r.state).into(),
        current_methods: count(r.current),
        required_methods: count(r.required),
        snoozes_left: count(r.snoozes_left),
        snoozed_until: r.snoozed_until.map(timestamp),
        reconfirm_time: r.reconfirm_at.map(timestamp),
    })
}

pub(crate) fn change_reason(reason: Option<ChangeReason>) -> pb::PasswordChangeReason {
    match reason {
        None => pb::PasswordChangeReason::Unspecified,
        Some(ChangeReason::TemporaryPassword) => pb::PasswordChangeReason::TemporaryPassword,
        Some(ChangeReason::ChangeRequired) => pb::PasswordChangeReason::ChangeRequired,
        Some(ChangeReason::PasswordExpired) => pb::PasswordChangeReason::PasswordExpired,
        Some(ChangeReason::PasswordCompromised) => pb::PasswordChangeReason::PasswordCompromised,
    }
}

pub(crate) fn user(user: User) -> pb::User {
    pb::User {
        id: user.id.to_string(),
        tenant_id: user.tenant_id.to_string(),
        username: user.username,
        display_name: user.display_name,
        contact_email: user.contact_email,
        state: state(user.state).into(),
        roles: user.roles.into_iter().map(|r| role(r).into()).collect(),
        password_change_required: user.password_change_required,
        password_set_time: user.password_set_at.map(timestamp),
        create_time: Some(timestamp(user.created_at)),
        update_time: Some(timestamp(user.updated_at)),
        version: user.version,
        password_never_expires: user.password_never_expires,
        locked_until: user.locked_until.map(timestamp),
        registration_state: registration_state(user.registration).into(),
        confirmed_methods: i32::try_from(user.confirmed_methods).unwrap_or(i32::MAX),
    }
}

pub(crate) fn user_key(field: &str, user: Option<pb::UserRef>) -> Result<UserKey, Status> {
    match user.and_then(|u| u.kind) {
        Some(pb::user_ref::Kind::Id(id)) => Ok(UserKey::Id(id)),
        Some(pb::user_ref::Kind::Username(name)) => Ok(UserKey::Username(name)),
        None => Err(invalid(field, "required: set `id` or `username`")),
    }
}

pub(crate) fn principal_from(
    field: &str,
    principal: Option<pb::Principal>,
) -> Result<Principal, Status> {
    match principal.and_then(|p| p.kind) {
        Some(pb::principal::Kind::UserId(id)) => Uuid::parse_str(&id)
            .map(Principal::User)
            .map_err(|_| invalid(&format!("{field}.user_id"), "not a valid id")),
        Some(pb::principal::Kind::Service(name)) => Ok(Principal::Service(name)),
        None => Err(invalid(field, "required: set `user_id` or `service`")),
    }
}

pub(crate) fn principal(principal: Principal) -> pb::Principal {
    pb::Principal {
        kind: Some(match principal {
            Principal::User(id) => pb::principal::Kind::UserId(id.to_string()),
            Principal::Service(name) => pb::principal::Kind::Service(name),
        }),
    }
}

pub(crate) fn assignment(a: RoleAssignment) -> pb::RoleAssignment {
    pb::RoleAssignment {
        id: a.id.to_string(),
        principal: Some(principal(a.principal)),
        role: role(a.role).into(),
        tenant_id: a.tenant_id.to_string(),
        create_time: Some(timestamp(a.created_at)),
        unit_id: a
            .unit
            .as_ref()
            .map(|u| u.id.to_string())
            .unwrap_or_default(),
        unit_name: a.unit.map(|u| u.name).unwrap_or_default(),
    }
}

pub(crate) fn unit(u: AdministrativeUnit) -> pb::AdministrativeUnit {
    pb::AdministrativeUnit {
        id: u.id.to_string(),
        name: u.name,
        description: u.description,
        version: u.version,
        create_time: Some(timestamp(u.created_at)),
        update_time: Some(timestamp(u.updated_at)),
    }
}

pub(crate) fn report_query(
    req: &pb::GetPasswordActivityReportRequest,
) -> Result<ReportQuery, Status> {
    let required = |field: &str, t: Option<prost_types::Timestamp>| match t {
        None => Err(invalid(field, "required")),
        Some(t) => time(field, t),
    };
    let granularity = match pb::ReportGranularity::try_from(req.granularity) {
        Ok(pb::ReportGranularity::Unspecified | pb::ReportGranularity::Day) => Granularity::Day,
        Ok(pb::ReportGranularity::Hour) => Granularity::Hour,
        Err(_) => return Err(invalid("granularity", "unknown granularity")),
    };
    if req.top_actors < 0 {
        return Err(invalid("top_actors", "must not be negative"));
    }
    Ok(ReportQuery {
        start: required("start_time", req.start_time)?,
        end: required("end_time", req.end_time)?,
        granularity,
        top: u32::try_from(req.top_actors).unwrap_or(0),
    })
}

fn activity(a: Activity) -> pb::PasswordActivity {
    pb::PasswordActivity {
        admin_resets: count(a.admin_resets),
        bulk_resets: count(a.bulk_resets),
        invitation_resets: count(a.invitation_resets),
        self_service_resets_started: count(a.self_service_started),
        self_service_resets_completed: count(a.self_service_completed),
        self_service_resets_abandoned: count(a.self_service_abandoned),
        password_changes: count(a.password_changes),
        lockouts: count(a.lockouts),
        help_requests_opened: count(a.help_requests_opened),
        help_requests_resolved: count(a.help_requests_resolved),
        help_requests_dismissed: count(a.help_requests_dismissed),
        blocked_reset_attempts: count(a.blocked_reset_attempts),
    }
}

pub(crate) fn report(r: ActivityReport) -> pb::GetPasswordActivityReportResponse {
    pb::GetPasswordActivityReportResponse {
        buckets: r
            .buckets
            .into_iter()
            .map(|b| pb::ActivityBucket {
                start_time: Some(timestamp(b.start)),
                activity: Some(activity(b.activity)),
            })
            .collect(),
        totals: Some(activity(r.totals)),
        top_actors: r
            .top_actors
            .into_iter()
            .map(|a| pb::ResetActor {
                actor: a.actor,
                display_name: a.display_name,
                resets: count(a.resets),
            })
            .collect(),
    }
}

/// An optional id field: empty means unset.
pub(crate) fn given(value: &str) -> Option<&str> {
    (!value.is_empty()).then_some(value)
}

/// A validation failure found while decoding, in the same shape the domain uses.
pub(crate) fn invalid(field: &str, description: &str) -> Status {
    super::status::to_status(crate::domain::Error::invalid(field, description))
}

/// A count for an `int64` field.
pub(crate) fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A request timestamp; out-of-range values are refused.
pub(crate) fn time(field: &str, t: prost_types::Timestamp) -> Result<DateTime<Utc>, Status> {
    u32::try_from(t.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
        .ok_or_else(|| invalid(field, "not a valid timestamp"))
}

fn int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

pub(crate) fn policy(p: PasswordPolicy) -> pb::PasswordPolicy {
    pb::PasswordPolicy {
        min_length: int(p.min_length),
        max_length: int(p.max_length),
        min_strength_score: int(p.min_strength_score),
        banned_terms: p.banned_terms,
        history_count: int(p.history_count),
        max_age_days: int(p.max_age_days),
        expiry_reminder_days: int(p.expiry_reminder_days),
        lockout_threshold: int(p.lockout_threshold),
        lockout_seconds: int(p.lockout_seconds),
        lockout_max_seconds: int(p.lockout_max_seconds),
        temporary_password_hours: int(p.temporary_password_hours),
        invitation_hours: int(p.invitation_hours),
        reset_code_minutes: int(p.reset_code_minutes),
        reset_code_attempts: int(p.reset_code_attempts),
        reset_methods_required: int(p.reset_methods_required),
        notify_person_on_admin_reset: p.notify_person_on_admin_reset,
        notify_admins_on_admin_password_change: p.notify_admins_on_admin_password_change,
        compromised_check_at_sign_in: p.compromised_check_at_sign_in,
        require_registration: p.require_registration,
        registration_snoozes: int(p.registration_snoozes),
        registration_snooze_days: int(p.registration_snooze_days),
        reconfirm_days: int(p.reconfirm_days),
    }
}

pub(crate) fn policy_update(u: pb::PasswordPolicyUpdate) -> PolicyUpdate {
    PolicyUpdate {
        min_length: u.min_length,
        max_length: u.max_length,
        min_strength_score: u.min_strength_score,
        banned_terms: u.banned_terms.map(|b| b.terms),
        history_count: u.history_count,
        max_age_days: u.max_age_days,
        expiry_reminder_days: u.expiry_reminder_days,
        lockout_threshold: u.lockout_threshold,
        lockout_seconds: u.lockout_seconds,
        lockout_max_seconds: u.lockout_max_seconds,
        temporary_password_hours: u.temporary_password_hours,
        invitation_hours: u.invitation_hours,
        reset_code_minutes: u.reset_code_minutes,
        reset_code_attempts: u.reset_code_attempts,
        reset_methods_required: u.reset_methods_required,
        notify_person_on_admin_reset: u.notify_person_on_admin_reset,
        notify_admins_on_admin_password_change: u.notify_admins_on_admin_password_change,
        compromised_check_at_sign_in: u.compromised_check_at_sign_in,
        require_registration: u.require_registration,
        registration_snoozes: u.registration_snoozes,
        registration_snooze_days: u.registration_snooze_days,
        reconfirm_days: u.reconfirm_days,
    }
}

pub(crate) fn audit_event(e: AuditEvent) -> pb::AuditEvent {
    pb::AuditEvent {
        sequence: e.seq,
        time: Some(timestamp(e.occurred_at)),
        actor: e.actor,
        caller_service: e.caller_service.unwrap_or_default(),
        action: e.action,
        target: e.target,
        outcome: e.outcome,
        details_json: e.details,
        previous_hash: e.prev_hash,
        hash: e.hash,
    }
}

pub(crate) fn bulk_event(event: BulkEvent) -> pb::BulkResetPasswordsResponse {
    use pb::bulk_reset_passwords_response::Event;
    let event = match event {
        BulkEvent::Started { job_id, total } => Event::Started(pb::BulkResetStarted {
            job_id: job_id.to_string(),
            total,
        }),
        BulkEvent::Result(r) => Event::Result(pb::BulkResetResult {
            index: r.index,
            user_ref: r.user_ref,
            user_id: r.user_id.map(|id| id.to_string()).unwrap_or_default(),
            outcome: match r.outcome {
                BulkOutcome::Reset => pb::BulkOutcome::Reset,
                BulkOutcome::WouldReset => pb::BulkOutcome::WouldReset,
                BulkOutcome::Refused => pb::BulkOutcome::Refused,
                BulkOutcome::NotFound => pb::BulkOutcome::NotFound,
                BulkOutcome::AlreadyDone => pb::BulkOutcome::AlreadyDone,
                BulkOutcome::Failed => pb::BulkOutcome::Failed,
                BulkOutcome::Duplicate => pb::BulkOutcome::Duplicate,
            }
            .into(),
            // One of the places a generated password leaves the server: shown once.
            generated_password: r
                .generated
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
            expire_time: r.expires_at.map(timestamp),
            reason: r.reason,
            invitation_sent: r.invitation_sent,
            redelivered: r.redelivered,
        }),
        BulkEvent::Summary(s) => Event::Summary(pb::BulkResetSummary {
            job_id: s.job_id.map(|id| id.to_string()).unwrap_or_default(),
            total: s.total,
            reset: s.reset,
            would_reset: s.would_reset,
            refused: s.refused,
            not_found: s.not_found,
            already_done: s.already_done,
            failed: s.failed,
            duplicates: s.duplicates,
        }),
    };
    pb::BulkResetPasswordsResponse { event: Some(event) }
}

pub(crate) fn bulk_job(job: BulkJob) -> pb::GetBulkJobResponse {
    pb::GetBulkJobResponse {
        job_id: job.id.to_string(),
        actor: job.actor,
        idempotency_key: job.idempotency_key.unwrap_or_default(),
        create_time: Some(timestamp(job.created_at)),
        finish_time: job.finished_at.map(timestamp),
        total: job.total,
        next_page_token: job.next_page_token,
        items: job
            .items
            .into_iter()
            .map(|i| pb::BulkJobItem {
                index: i.index,
                user_ref: i.user_ref,
                user_id: i.user_id.map(|id| id.to_string()).unwrap_or_default(),
                outcome: i.outcome,
                reason: i.reason,
                done_time: i.done_at.map(timestamp),
            })
            .collect(),
    }
}

pub(crate) fn help_request(r: HelpRequest) -> pb::ResetRequest {
    pb::ResetRequest {
        id: r.id.to_string(),
        user_id: r.user_id.to_string(),
        username: r.username,
        message: r.message,
        state: match r.state {
            RequestState::Open => pb::ResetRequestState::Open,
            RequestState::Completed => pb::ResetRequestState::Completed,
            RequestState::Dismissed => pb::ResetRequestState::Dismissed,
        }
        .into(),
        times_asked: r.times_asked,
        create_time: Some(timestamp(r.created_at)),
        update_time: Some(timestamp(r.updated_at)),
        resolved_by: r.resolved_by.unwrap_or_default(),
        comment: r.comment,
    }
}

pub(crate) fn method_kind(value: i32) -> Result<MethodKind, Status> {
    match pb::VerificationMethodKind::try_from(value) {
        Ok(pb::VerificationMethodKind::Email) => Ok(MethodKind::Email),
        Ok(pb::VerificationMethodKind::Authenticator) => Ok(MethodKind::Authenticator),
        Ok(pb::VerificationMethodKind::Phone) => Ok(MethodKind::Phone),
        Ok(pb::VerificationMethodKind::Unspecified) | Err(_) => Err(invalid(
            "kind",
            "choose VERIFICATION_METHOD_KIND_EMAIL, _PHONE or _AUTHENTICATOR",
        )),
    }
}

pub(crate) fn method(m: MethodView) -> pb::VerificationMethod {
    pb::VerificationMethod {
        id: m.id.to_string(),
        kind: match m.kind {
            MethodKind::Email => pb::VerificationMethodKind::Email,
            MethodKind::Authenticator => pb::VerificationMethodKind::Authenticator,
            MethodKind::Phone => pb::VerificationMethodKind::Phone,
        }
        .into(),
        masked: m.masked,
        verified: m.verified,
    }
}

pub(crate) fn tenant(t: TenantView) -> pb::Tenant {
    pb::Tenant {
        id: t.id.to_string(),
        name: t.name,
        primary_domain: t.primary_domain,
        is_default: t.is_default,
        create_time: Some(timestamp(t.created_at)),
    }
}
