//! Domain values to and from their `gatehouse.v1` messages.

use chrono::{DateTime, Utc};
use tonic::Status;
use uuid::Uuid;

use super::pb;
use crate::domain::{
    ChangeReason, Principal, Role, RoleAssignment, SessionKind, User, UserKey, UserState,
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
    }
}

pub(crate) fn change_reason(reason: Option<ChangeReason>) -> pb::PasswordChangeReason {
    match reason {
        None => pb::PasswordChangeReason::Unspecified,
        Some(ChangeReason::TemporaryPassword) => pb::PasswordChangeReason::TemporaryPassword,
        Some(ChangeReason::ChangeRequired) => pb::PasswordChangeReason::ChangeRequired,
        Some(ChangeReason::PasswordExpired) => pb::PasswordChangeReason::PasswordExpired,
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
    }
}

/// A validation failure found while decoding, in the same shape the domain uses.
pub(crate) fn invalid(field: &str, description: &str) -> Status {
    super::status::to_status(crate::domain::Error::invalid(field, description))
}
