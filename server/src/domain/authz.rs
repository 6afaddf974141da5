//! The role matrix: which role may reset (or manage) whose password.
//!
//! | actor role       | may reset users whose roles are all in |
//! |------------------|----------------------------------------|
//! | `global_admin`   | anything (but never themselves)        |
//! | `user_admin`     | {none, `password_admin`, `user_admin`} |
//! | `password_admin` | {none, `password_admin`}               |
//! | `auditor`        | nobody                                 |
//!
//! A `user_admin` or `password_admin` assignment may be scoped to an administrative unit: it
//! then reaches only the unit's members, under the same matrix. Every "may this actor touch
//! this user" question — single calls, bulk resets, `RequirePasswordChange`, `CanReset`, the
//! listings of a scoped admin, the routing of help requests — is answered here, by
//! [`may_touch`] for one user and by [`reach`] for a statement over many.

use uuid::Uuid;

use super::types::{Actor, Principal, Role};
use crate::store::Reach;

/// Why the matrix refuses; the message names the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial(pub String);

/// The roles whose holders `actor_role` may reset; `None` means anyone.
fn resettable(actor_role: Role) -> Option<&'static [Role]> {
    match actor_role {
        Role::GlobalAdmin => None,
        Role::UserAdmin => Some(&[Role::PasswordAdmin, Role::UserAdmin]),
        Role::PasswordAdmin => Some(&[Role::PasswordAdmin]),
        Role::Auditor => Some(&[]),
    }
}

/// Whether an actor holding `actor_roles` may reset the password of a user holding
/// `target_roles`. `is_self` is true when the target is the actor.
pub fn may_reset(actor_roles: &[Role], target_roles: &[Role], is_self: bool) -> Result<(), Denial> {
    if is_self {
        return Err(Denial(
            "administrators cannot reset or administer their own account; use SelfService (ChangePassword)".to_owned(),
        ));
    }
    let resetters = [Role::GlobalAdmin, Role::UserAdmin, Role::PasswordAdmin];
    if !actor_roles.iter().any(|r| resetters.contains(r)) {
        return Err(Denial(
            "resetting passwords needs the global_admin, user_admin or password_admin role"
                .to_owned(),
        ));
    }
    let allowed = actor_roles.iter().any(|&actor| match resettable(actor) {
        None => true,
        Some(allowed) => {
            resetters.contains(&actor) && target_roles.iter().all(|t| allowed.contains(t))
        }
    });
    if allowed {
        return Ok(());
    }
    let blocking: Vec<&str> = target_roles.iter().map(|r| r.as_str()).collect();
    Err(Denial(format!(
        "your roles ({}) may not reset the password of a user holding {}",
        join(actor_roles),
        blocking.join(", ")
    )))
}

/// The roles whose holders an actor with `actor_roles` may not reset: a bulk statement
/// leaves them alone.
pub fn protected_roles(actor_roles: &[Role]) -> Vec<Role> {
    [
        Role::GlobalAdmin,
        Role::UserAdmin,
        Role::PasswordAdmin,
        Role::Auditor,
    ]
    .into_iter()
    .filter(|&role| may_reset(actor_roles, &[role], false).is_err())
    .collect()
}

/// A user an actor would act on: who, the roles they hold (in any scope) and their units.
#[derive(Clone, Copy, Debug)]
pub struct Target<'a> {
    /// The user.
    pub id: Uuid,
    /// Every role they hold, tenant-wide or scoped, sorted.
    pub roles: &'a [Role],
    /// The units they are a member of.
    pub units: &'a [Uuid],
}

/// What allows an actor to act on a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A role held across the tenant.
    Tenant,
    /// A role held over this unit, of which the user is a member.
    Unit(Uuid),
}

/// Whether the actor may reset (or manage) the target's password, and by which scope: a
/// tenant-wide role first, else a role scoped to a unit the target is a member of.
pub fn may_touch(actor: &Actor, target: &Target<'_>) -> Result<Scope, Denial> {
    let is_self = actor.principal == Principal::User(target.id);
    let tenant_wide = may_reset(&actor.roles, target.roles, is_self);
    if tenant_wide.is_ok() || is_self {
        return tenant_wide.map(|()| Scope::Tenant);
    }
    let covering: Vec<_> = actor
        .scoped
        .iter()
        .filter(|s| target.units.contains(&s.unit_id))
        .collect();
    if let Some(grant) = covering
        .iter()
        .find(|s| may_reset(&[s.role], target.roles, false).is_ok())
    {
        return Ok(Scope::Unit(grant.unit_id));
    }
    if covering.is_empty() && !actor.scoped.is_empty() && !has_resetter(&actor.roles) {
        return Err(Denial(
            "this user is not a member of any administrative unit over which you hold a role"
                .to_owned(),
        ));
    }
    let mut held: Vec<Role> = actor.roles.clone();
    held.extend(covering.iter().map(|s| s.role));
    held.sort_unstable();
    held.dedup();
    may_reset(&held, target.roles, false).map(|()| Scope::Tenant)
}

/// Whether the actor may read the target at all: any tenant-wide role reads everyone; a
/// scoped role reads the members of its unit.
pub fn sees(actor: &Actor, target_units: &[Uuid]) -> bool {
    !actor.roles.is_empty()
        || actor
            .scoped
            .iter()
            .any(|s| target_units.contains(&s.unit_id))
}

/// Everyone a statement over many users may touch on the actor's behalf: the users a
/// tenant-wide role may reset, and for each scoped role the members of its units it may reset.
/// Empty when the actor resets nobody. The actor themselves is left out by the caller.
pub fn reach(actor: &Actor) -> Vec<Reach> {
    let mut reach = Vec::new();
    if has_resetter(&actor.roles) {
        reach.push(Reach {
            units: None,
            protected_roles: names(&protected_roles(&actor.roles)),
        });
    }
    for role in [Role::UserAdmin, Role::PasswordAdmin] {
        let units: Vec<Uuid> = actor
            .scoped
            .iter()
            .filter(|s| s.role == role)
            .map(|s| s.unit_id)
            .collect();
        if !units.is_empty() {
            reach.push(Reach {
                units: Some(units),
                protected_roles: names(&protected_roles(&[role])),
            });
        }
    }
    reach
}

/// Everyone a reader sees: every user for a tenant-wide role, else the members of the units
/// of their scoped roles.
pub fn read_reach(actor: &Actor) -> Reach {
    Reach {
        units: (actor.roles.is_empty()).then(|| actor.units()),
        protected_roles: Vec::new(),
    }
}

fn has_resetter(roles: &[Role]) -> bool {
    roles
        .iter()
        .any(|r| matches!(r, Role::GlobalAdmin | Role::UserAdmin | Role::PasswordAdmin))
}

fn names(roles: &[Role]) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
}

fn join(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::*;

    #[test]
    fn matrix_matches_the_design() {
        let cases: &[(&[Role], &[Role], bool)] = &[
            (&[GlobalAdmin], &[], true),
            (&[GlobalAdmin], &[GlobalAdmin], true),
            (&[GlobalAdmin], &[Auditor], true),
            (&[UserAdmin], &[], true),
            (&[UserAdmin], &[PasswordAdmin], true),
            (&[UserAdmin], &[UserAdmin], true),
            (&[UserAdmin], &[GlobalAdmin], false),
            (&[UserAdmin], &[Auditor], false),
            (&[UserAdmin], &[UserAdmin, GlobalAdmin], false),
            (&[PasswordAdmin], &[], true),
            (&[PasswordAdmin], &[PasswordAdmin], true),
            (&[PasswordAdmin], &[UserAdmin], false),
            (&[PasswordAdmin], &[GlobalAdmin], false),
            (&[Auditor], &[], false),
            (&[], &[], false),
            (&[Auditor, PasswordAdmin], &[], true),
        ];
        for (actor, target, expected) in cases {
            assert_eq!(
                may_reset(actor, target, false).is_ok(),
                *expected,
                "{actor:?} resetting {target:?}"
            );
        }
    }

    fn actor(roles: &[Role], scoped: &[(Role, Uuid)]) -> Actor {
        Actor {
            tenant_id: Uuid::nil(),
            principal: Principal::User(Uuid::from_u128(1)),
            roles: roles.to_vec(),
            scoped: scoped
                .iter()
                .map(|&(role, unit_id)| super::super::types::ScopedRole { role, unit_id })
                .collect(),
            service: None,
        }
    }

    const UNIT: Uuid = Uuid::from_u128(10);
    const OTHER: Uuid = Uuid::from_u128(11);

    fn target(roles: &'static [Role], units: &'static [Uuid]) -> Target<'static> {
        Target {
            id: Uuid::from_u128(2),
            roles,
            units,
        }
    }

    #[test]
    fn a_scoped_role_reaches_members_under_the_same_matrix() {
        let helpdesk = actor(&[], &[(PasswordAdmin, UNIT)]);
        assert_eq!(
            may_touch(&helpdesk, &target(&[], &[UNIT])),
            Ok(Scope::Unit(UNIT))
        );
        let outside = may_touch(&helpdesk, &target(&[], &[OTHER])).expect_err("a non-member");
        assert!(outside.0.contains("not a member"), "{outside:?}");
        let admin_member =
            may_touch(&helpdesk, &target(&[UserAdmin], &[UNIT])).expect_err("a member admin");
        assert!(admin_member.0.contains("user_admin"), "{admin_member:?}");
        // A tenant-wide role answers first; a scoped one adds what it alone allows.
        let both = actor(&[PasswordAdmin], &[(UserAdmin, OTHER)]);
        assert_eq!(may_touch(&both, &target(&[], &[])), Ok(Scope::Tenant));
        assert_eq!(
            may_touch(&both, &target(&[UserAdmin], &[OTHER])),
            Ok(Scope::Unit(OTHER))
        );
        assert!(may_touch(&both, &target(&[UserAdmin], &[UNIT])).is_err());
    }

    #[test]
    fn reach_has_one_part_per_scope() {
        let both = actor(&[PasswordAdmin], &[(UserAdmin, OTHER), (UserAdmin, UNIT)]);
        let parts = reach(&both);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].units, None);
        assert_eq!(parts[1].units, Some(vec![OTHER, UNIT]));
        assert!(
            parts[1]
                .protected_roles
                .contains(&"global_admin".to_owned())
        );
        assert!(!parts[1].protected_roles.contains(&"user_admin".to_owned()));
        assert!(reach(&actor(&[Auditor], &[])).is_empty());
        assert_eq!(
            read_reach(&actor(&[], &[(PasswordAdmin, UNIT)])).units,
            Some(vec![UNIT])
        );
        assert_eq!(
            read_reach(&actor(&[Auditor], &[(PasswordAdmin, UNIT)])).units,
            None
        );
    }

    #[test]
    fn nobody_resets_themselves() {
        assert!(may_reset(&[GlobalAdmin], &[GlobalAdmin], true).is_err());
    }
}
