//! The tenant's password policy and the checks a new password must pass.

use super::error::FieldViolation;
use super::secret::Password;

/// A tenant's password policy. Defaults follow NIST SP 800-63B.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (Unicode code points); never below 8.
    pub min_length: u32,
    /// Most characters; at least 64.
    pub max_length: u32,
    /// How many previous passwords may not be reused.
    pub history_count: u32,
    /// Days before a password expires; 0 = never.
    pub max_age_days: u32,
    /// Consecutive failures before a lock-out.
    pub lockout_threshold: u32,
    /// Seconds of the first lock-out.
    pub lockout_seconds: u32,
    /// Hours a temporary password works.
    pub temporary_password_hours: u32,
    /// Minutes a reset code works.
    pub reset_code_minutes: u32,
    /// Wrong codes allowed per reset flow.
    pub reset_code_attempts: u32,
    /// Verification methods a self-service reset must prove (1 or 2).
    pub reset_methods_required: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 15,
            max_length: 256,
            history_count: 5,
            max_age_days: 0,
            lockout_threshold: 10,
            lockout_seconds: 60,
            temporary_password_hours: 72,
            reset_code_minutes: 15,
            reset_code_attempts: 5,
            reset_methods_required: 1,
        }
    }
}

impl PasswordPolicy {
    /// Cheap checks that run before any hashing: an over-long password is refused without
    /// spending a hash on it.
    pub fn check_length(&self, field: &str, password: &Password) -> Vec<FieldViolation> {
        let length = password.expose().chars().count();
        let mut violations = Vec::new();
        if length < self.min_length as usize {
            violations.push(FieldViolation::new(
                field,
                format!("too short: at least {} characters", self.min_length),
            ));
        }
        if length > self.max_length as usize {
            violations.push(FieldViolation::new(
                field,
                format!("too long: at most {} characters", self.max_length),
            ));
        }
        violations
    }

    /// Every rule a new password must meet for this user.
    pub fn check_new(
        &self,
        field: &str,
        password: &Password,
        username: &str,
    ) -> Vec<FieldViolation> {
        let mut violations = self.check_length(field, password);
        let lowered = password.expose().to_lowercase();
        let local = username.split('@').next().unwrap_or(username);
        if local.chars().count() >= 3 && lowered.contains(local) {
            violations.push(FieldViolation::new(field, "must not contain the username"));
        }
        violations
    }
}

/// Characters of generated passwords: no look-alikes (0/O, 1/l/I) so they can be read aloud
/// or typed from a screen.
const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A strong random password: 20 characters of a 57-symbol alphabet (about 116 bits),
/// grouped in fours for readability.
pub fn generate_password() -> Password {
    let mut out = String::with_capacity(24);
    for i in 0..20 {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        out.push(ALPHABET[rand::random_range(0..ALPHABET.len())] as char);
    }
    Password::new(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_meet_the_default_policy_and_differ() {
        let policy = PasswordPolicy::default();
        let a = generate_password();
        let b = generate_password();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().chars().count(), 24);
        assert!(
            policy
                .check_new("password", &a, "alice@contoso.example")
                .is_empty()
        );
    }

    #[test]
    fn length_is_counted_in_characters() {
        let policy = PasswordPolicy {
            min_length: 8,
            ..Default::default()
        };
        assert!(
            policy
                .check_length("p", &Password::new("ééééééé".into()))
                .len()
                == 1
        );
        assert!(
            policy
                .check_length("p", &Password::new("éééééééé".into()))
                .is_empty()
        );
        let long = Password::new("x".repeat(257));
        let violations = PasswordPolicy::default().check_length("p", &long);
        assert_eq!(
            violations[0].description,
            "too long: at most 256 characters"
        );
    }

    #[test]
    fn the_username_may_not_be_inside_the_password() {
        let violations = PasswordPolicy::default().check_new(
            "new_password",
            &Password::new("my name is alice and this is long".into()),
            "alice@contoso.example",
        );
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "new_password");
    }
}
