//! The role matrix: which role may reset (or manage) whose password.
//!
//! | actor role       | may reset users whose roles are all in |
//! |------------------|----------------------------------------|
//! | `global_admin`   | anything (but never themselves)        |
//! | `user_admin`     | {none, `password_admin`, `user_admin`} |
//! | `password_admin` | {none, `password_admin`}               |
//! | `auditor`        | nobody                                 |

use super::types::Role;

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

    #[test]
    fn nobody_resets_themselves() {
        assert!(may_reset(&[GlobalAdmin], &[GlobalAdmin], true).is_err());
    }
}
