//! The domain's nouns.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::secret::SessionToken;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant,)+ }

        impl $name {
            /// The stored and logged name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Parses the stored name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// An administrative role (see the role matrix in [`super::authz`]).
    Role {
        /// Everything.
        GlobalAdmin = "global_admin",
        /// Users and their passwords.
        UserAdmin = "user_admin",
        /// The help desk: passwords.
        PasswordAdmin = "password_admin",
        /// Read-only.
        Auditor = "auditor",
    }
}

string_enum! {
    /// Whether a user may sign in.
    UserState {
        /// May sign in.
        Active = "active",
        /// Blocked by an administrator.
        SignInBlocked = "sign_in_blocked",
    }
}

string_enum! {
    /// What a session may be used for.
    SessionKind {
        /// Everything the user's roles allow.
        Full = "full",
        /// Only ChangePassword, SignOut and GetMe.
        PasswordChangeOnly = "password_change_only",
        /// Only registering security info (and what a change-only session may do).
        RegistrationOnly = "registration_only",
    }
}

string_enum! {
    /// Whether a person has the security info a self-service reset needs.
    RegistrationState {
        /// Enough methods confirmed recently enough.
        Registered = "registered",
        /// Fewer confirmed methods than the policy requires.
        NotRegistered = "not_registered",
        /// Enough confirmed methods, too few of them confirmed within the reconfirm period.
        ReconfirmDue = "reconfirm_due",
    }
}

string_enum! {
    /// Why a session is change-only.
    ChangeReason {
        /// An administrator set a temporary password.
        TemporaryPassword = "temporary_password",
        /// An administrator requires a change.
        ChangeRequired = "change_required",
        /// The password outlived the policy's maximum age.
        PasswordExpired = "password_expired",
        /// The password is on the compromised list.
        PasswordCompromised = "password_compromised",
    }
}

/// A person's account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Immutable id.
    pub id: Uuid,
    /// The user's tenant.
    pub tenant_id: Uuid,
    /// Lower-case sign-in name.
    pub username: String,
    /// Name shown to people.
    pub display_name: String,
    /// Where notices go; may be empty.
    pub contact_email: String,
    /// Whether the user may sign in.
    pub state: UserState,
    /// Roles held in the tenant, sorted.
    pub roles: Vec<Role>,
    /// Must change the password at next sign-in.
    pub password_change_required: bool,
    /// When the current password was set.
    pub password_set_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Exempt from the maximum password age.
    pub password_never_expires: bool,
    /// Locked out until then, after failed sign-ins.
    pub locked_until: Option<DateTime<Utc>>,
    /// Whether they could reset a forgotten password themselves.
    pub registration: RegistrationState,
    /// Confirmed verification methods, current or not.
    pub confirmed_methods: u32,
}

/// An authenticated session.
#[derive(Clone, Debug)]
pub struct Session {
    /// Session id (not the token).
    pub id: Uuid,
    /// The user's tenant.
    pub tenant_id: Uuid,
    /// The signed-in user.
    pub user_id: Uuid,
    /// What the session may do.
    pub kind: SessionKind,
    /// Why it is change-only.
    pub change_reason: Option<ChangeReason>,
    /// When it ends.
    pub expires_at: DateTime<Utc>,
}

/// Who holds a role.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Principal {
    /// A user of the tenant.
    User(Uuid),
    /// A service, by the identity in its client certificate.
    Service(String),
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::User(id) => write!(f, "user:{id}"),
            Principal::Service(name) => write!(f, "service:{name}"),
        }
    }
}

/// A role held by a principal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleAssignment {
    /// Assignment id.
    pub id: Uuid,
    /// The tenant.
    pub tenant_id: Uuid,
    /// Who holds the role.
    pub principal: Principal,
    /// The role.
    pub role: Role,
    /// The unit the role is scoped to; `None` across the tenant.
    pub unit: Option<UnitRef>,
    /// When it was assigned.
    pub created_at: DateTime<Utc>,
}

/// An administrative unit named by id and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitRef {
    /// The unit's id.
    pub id: Uuid,
    /// The unit's name (empty when the unit is gone).
    pub name: String,
}

/// A named set of users of a tenant, over which a role may be scoped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdministrativeUnit {
    /// Immutable id.
    pub id: Uuid,
    /// The tenant.
    pub tenant_id: Uuid,
    /// Unique in the tenant, whatever the case.
    pub name: String,
    /// What the unit is for.
    pub description: String,
    /// Optimistic-concurrency version.
    pub version: i64,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change of the name or description.
    pub updated_at: DateTime<Utc>,
}

/// What the transport knows about a call: the certificate identity, the bearer token and
/// the tenant the call names.
#[derive(Clone, Debug, Default)]
pub struct Caller {
    /// Identity from the client certificate.
    pub service: Option<String>,
    /// The bearer token, when one was sent.
    pub token: Option<SessionToken>,
    /// The `gatehouse-tenant` metadata (id or name), for service principals.
    pub tenant: Option<String>,
}

/// An authenticated, authorised administrator (a person or a service) acting in one tenant.
#[derive(Clone, Debug)]
pub struct Actor {
    /// The tenant acted on.
    pub tenant_id: Uuid,
    /// Who acts.
    pub principal: Principal,
    /// Their roles across the tenant, sorted.
    pub roles: Vec<Role>,
    /// Their roles over the members of one administrative unit each.
    pub scoped: Vec<ScopedRole>,
    /// The certificate identity of the calling service, for the audit trail.
    pub service: Option<String>,
}

/// A role held over the members of one administrative unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScopedRole {
    /// The role.
    pub role: Role,
    /// The unit whose members it applies to.
    pub unit_id: Uuid,
}

impl Actor {
    /// Whether the actor holds any of `roles`, across the tenant or over some unit: enough to
    /// make the call; whether it may touch a given user is [`super::authz::may_touch`]'s.
    pub fn has_any(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
            || self.scoped.iter().any(|s| roles.contains(&s.role))
    }

    /// Whether the actor holds any of `roles` across the whole tenant.
    pub fn has_tenant_wide(&self, roles: &[Role]) -> bool {
        self.roles.iter().any(|r| roles.contains(r))
    }

    /// The units over which the actor holds some role.
    pub fn units(&self) -> Vec<Uuid> {
        let mut units: Vec<Uuid> = self.scoped.iter().map(|s| s.unit_id).collect();
        units.sort_unstable();
        units.dedup();
        units
    }
}
