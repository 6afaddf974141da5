//! The tenant's password policy and the checks a new password must pass.
//!
//! Passwords are compared and hashed after Unicode NFKC normalisation, so the same password
//! typed on two keyboards (composed or decomposed accents, full-width digits) is the same
//! password; length counts code points of the normalised text. There is no truncation and
//! no case folding, and no composition rule (NIST SP 800-63B): strength comes from length, a
//! guessability estimate (zxcvbn) and a tenant list of banned terms.

use unicode_normalization::UnicodeNormalization as _;

use super::error::{Error, FieldViolation};
use super::secret::Password;

/// A tenant's password policy. Defaults follow NIST SP 800-63B.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Fewest characters (code points after NFKC); never below 8.
    pub min_length: u32,
    /// Most characters; at least 64.
    pub max_length: u32,
    /// Lowest zxcvbn score accepted (0–4).
    pub min_strength_score: u32,
    /// Terms a password may not contain (stored lower case).
    pub banned_terms: Vec<String>,
    /// How many previous passwords may not be reused.
    pub history_count: u32,
    /// Days before a password expires; 0 = never.
    pub max_age_days: u32,
    /// Days before expiry that a reminder goes out.
    pub expiry_reminder_days: u32,
    /// Consecutive failures before a lock-out; 0 = never lock.
    pub lockout_threshold: u32,
    /// Seconds of the first lock-out.
    pub lockout_seconds: u32,
    /// Longest lock-out.
    pub lockout_max_seconds: u32,
    /// Hours a temporary password works.
    pub temporary_password_hours: u32,
    /// Hours an invitation code works.
    pub invitation_hours: u32,
    /// Minutes a reset code works.
    pub reset_code_minutes: u32,
    /// Wrong codes allowed per reset flow.
    pub reset_code_attempts: u32,
    /// Verification methods a self-service reset must prove (1 or 2).
    pub reset_methods_required: u32,
    /// Tell a person when an administrator reset their password.
    pub notify_person_on_admin_reset: bool,
    /// Tell every global admin when an administrator's password is reset or changed.
    pub notify_admins_on_admin_password_change: bool,
    /// At sign-in, turn a session whose password is on the compromised list into a change-only
    /// one (and tell the person).
    pub compromised_check_at_sign_in: bool,
    /// Make people register security info at sign-in (see `domain::registration`).
    pub require_registration: bool,
    /// How many times a person may put registering off.
    pub registration_snoozes: u32,
    /// Days a snooze lasts; 0 asks again at the next sign-in.
    pub registration_snooze_days: u32,
    /// Days a confirmation counts before the method must be confirmed again; 0 = always.
    pub reconfirm_days: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 15,
            max_length: 256,
            min_strength_score: 3,
            banned_terms: Vec::new(),
            history_count: 5,
            max_age_days: 0,
            expiry_reminder_days: 14,
            lockout_threshold: 10,
            lockout_seconds: 60,
            lockout_max_seconds: 3600,
            temporary_password_hours: 72,
            invitation_hours: 24,
            reset_code_minutes: 15,
            reset_code_attempts: 5,
            reset_methods_required: 1,
            notify_person_on_admin_reset: true,
            notify_admins_on_admin_password_change: true,
            compromised_check_at_sign_in: true,
            require_registration: false,
            registration_snoozes: 3,
            registration_snooze_days: 1,
            reconfirm_days: 0,
        }
    }
}

/// Changes to a policy; `None` keeps a setting.
#[derive(Clone, Debug, Default)]
pub struct PolicyUpdate {
    /// See [`PasswordPolicy::min_length`].
    pub min_length: Option<i32>,
    /// See [`PasswordPolicy::max_length`].
    pub max_length: Option<i32>,
    /// See [`PasswordPolicy::min_strength_score`].
    pub min_strength_score: Option<i32>,
    /// See [`PasswordPolicy::banned_terms`].
    pub banned_terms: Option<Vec<String>>,
    /// See [`PasswordPolicy::history_count`].
    pub history_count: Option<i32>,
    /// See [`PasswordPolicy::max_age_days`].
    pub max_age_days: Option<i32>,
    /// See [`PasswordPolicy::expiry_reminder_days`].
    pub expiry_reminder_days: Option<i32>,
    /// See [`PasswordPolicy::lockout_threshold`].
    pub lockout_threshold: Option<i32>,
    /// See [`PasswordPolicy::lockout_seconds`].
    pub lockout_seconds: Option<i32>,
    /// See [`PasswordPolicy::lockout_max_seconds`].
    pub lockout_max_seconds: Option<i32>,
    /// See [`PasswordPolicy::temporary_password_hours`].
    pub temporary_password_hours: Option<i32>,
    /// See [`PasswordPolicy::invitation_hours`].
    pub invitation_hours: Option<i32>,
    /// See [`PasswordPolicy::reset_code_minutes`].
    pub reset_code_minutes: Option<i32>,
    /// See [`PasswordPolicy::reset_code_attempts`].
    pub reset_code_attempts: Option<i32>,
    /// See [`PasswordPolicy::reset_methods_required`].
    pub reset_methods_required: Option<i32>,
    /// See [`PasswordPolicy::notify_person_on_admin_reset`].
    pub notify_person_on_admin_reset: Option<bool>,
    /// See [`PasswordPolicy::notify_admins_on_admin_password_change`].
    pub notify_admins_on_admin_password_change: Option<bool>,
    /// See [`PasswordPolicy::compromised_check_at_sign_in`].
    pub compromised_check_at_sign_in: Option<bool>,
    /// See [`PasswordPolicy::require_registration`].
    pub require_registration: Option<bool>,
    /// See [`PasswordPolicy::registration_snoozes`].
    pub registration_snoozes: Option<i32>,
    /// See [`PasswordPolicy::registration_snooze_days`].
    pub registration_snooze_days: Option<i32>,
    /// See [`PasswordPolicy::reconfirm_days`].
    pub reconfirm_days: Option<i32>,
}

/// Most banned terms a tenant may list.
pub const MAX_BANNED_TERMS: usize = 1000;
/// zxcvbn is quadratic in the worst case; beyond this many characters the estimate is
/// unchanged in practice, so only a prefix is scored.
const STRENGTH_PREFIX: usize = 100;

impl PasswordPolicy {
    /// Applies an update, checking every setting; all violations are reported at once.
    pub fn updated(&self, update: PolicyUpdate) -> Result<PasswordPolicy, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        let mut next = self.clone();
        let mut set = |field: &str,
                       value: Option<i32>,
                       range: std::ops::RangeInclusive<i32>,
                       slot: &mut u32| {
            if let Some(v) = value {
                if range.contains(&v) {
                    *slot = u32::try_from(v).unwrap_or(0);
                } else {
                    violations.push(FieldViolation::new(
                        format!("update.{field}"),
                        format!("must be between {} and {}", range.start(), range.end()),
                    ));
                }
            }
        };
        set(
            "min_length",
            update.min_length,
            8..=1024,
            &mut next.min_length,
        );
        set(
            "max_length",
            update.max_length,
            64..=1024,
            &mut next.max_length,
        );
        set(
            "min_strength_score",
            update.min_strength_score,
            0..=4,
            &mut next.min_strength_score,
        );
        set(
            "history_count",
            update.history_count,
            0..=24,
            &mut next.history_count,
        );
        set(
            "max_age_days",
            update.max_age_days,
            0..=3650,
            &mut next.max_age_days,
        );
        set(
            "expiry_reminder_days",
            update.expiry_reminder_days,
            0..=365,
            &mut next.expiry_reminder_days,
        );
        set(
            "lockout_threshold",
            update.lockout_threshold,
            0..=100,
            &mut next.lockout_threshold,
        );
        set(
            "lockout_seconds",
            update.lockout_seconds,
            1..=86_400,
            &mut next.lockout_seconds,
        );
        set(
            "lockout_max_seconds",
            update.lockout_max_seconds,
            1..=2_592_000,
            &mut next.lockout_max_seconds,
        );
        set(
            "temporary_password_hours",
            update.temporary_password_hours,
            1..=720,
            &mut next.temporary_password_hours,
        );
        set(
            "invitation_hours",
            update.invitation_hours,
            1..=720,
            &mut next.invitation_hours,
        );
        set(
            "reset_code_minutes",
            update.reset_code_minutes,
            1..=60,
            &mut next.reset_code_minutes,
        );
        set(
            "reset_code_attempts",
            update.reset_code_attempts,
            1..=20,
            &mut next.reset_code_attempts,
        );
        set(
            "reset_methods_required",
            update.reset_methods_required,
            1..=2,
            &mut next.reset_methods_required,
        );
        set(
            "registration_snoozes",
            update.registration_snoozes,
            0..=10,
            &mut next.registration_snoozes,
        );
        set(
            "registration_snooze_days",
            update.registration_snooze_days,
            0..=14,
            &mut next.registration_snooze_days,
        );
        set(
            "reconfirm_days",
            update.reconfirm_days,
            0..=730,
            &mut next.reconfirm_days,
        );
        if let Some(on) = update.notify_person_on_admin_reset {
            next.notify_person_on_admin_reset = on;
        }
        if let Some(on) = update.notify_admins_on_admin_password_change {
            next.notify_admins_on_admin_password_change = on;
        }
        if let Some(on) = update.compromised_check_at_sign_in {
            next.compromised_check_at_sign_in = on;
        }
        if let Some(on) = update.require_registration {
            next.require_registration = on;
        }
        if let Some(terms) = update.banned_terms {
            if terms.len() > MAX_BANNED_TERMS {
                violations.push(FieldViolation::new(
                    "update.banned_terms",
                    format!("at most {MAX_BANNED_TERMS} terms"),
                ));
            }
            let mut cleaned: Vec<String> = Vec::with_capacity(terms.len());
            for term in &terms {
                let term = term.trim().to_lowercase();
                let length = term.chars().count();
                if !(3..=64).contains(&length) {
                    violations.push(FieldViolation::new(
                        "update.banned_terms",
                        "each term must be 3 to 64 characters",
                    ));
                    break;
                }
                cleaned.push(term);
            }
            cleaned.sort_unstable();
            cleaned.dedup();
            next.banned_terms = cleaned;
        }
        if next.min_length > next.max_length {
            violations.push(FieldViolation::new(
                "update.min_length",
                format!("must not exceed max_length ({})", next.max_length),
            ));
        }
        if next.lockout_seconds > next.lockout_max_seconds {
            violations.push(FieldViolation::new(
                "update.lockout_max_seconds",
                format!(
                    "must be at least lockout_seconds ({})",
                    next.lockout_seconds
                ),
            ));
        }
        if violations.is_empty() {
            Ok(next)
        } else {
            Err(violations)
        }
    }

    /// Cheap checks that run before any hashing: an over-long password is refused without
    /// spending a hash on it.
    pub fn check_length(&self, field: &str, password: &Password) -> Vec<FieldViolation> {
        let length = normalise(password.expose()).chars().count();
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

    /// Whether a password is too long to be worth hashing at all.
    pub fn too_long(&self, password: &Password) -> bool {
        password.expose().chars().count() > self.max_length as usize * 4
            || normalise(password.expose()).chars().count() > self.max_length as usize
    }

    /// The gate in front of every check of a given password (sign-in, the current password
    /// of a change or of a method change): missing, or too long to be any password this
    /// policy allows. Refused before any hashing, so an over-long input costs no hash and
    /// no lock-out place.
    pub fn check_given(&self, field: &str, password: &Password) -> Option<FieldViolation> {
        if password.expose().is_empty() {
            Some(FieldViolation::new(field, "required"))
        } else if self.too_long(password) {
            Some(FieldViolation::new(
                field,
                format!("too long: at most {} characters", self.max_length),
            ))
        } else {
            None
        }
    }

    /// [`PasswordPolicy::check_given`] as an error, for a check with no other fields to report.
    pub(crate) fn gate(&self, field: &str, password: &Password) -> Result<(), Error> {
        Error::from_violations(self.check_given(field, password).into_iter().collect())
    }

    /// Every rule a new password must meet for this user; each broken rule is one violation.
    pub fn check_new(
        &self,
        field: &str,
        password: &Password,
        username: &str,
        display_name: &str,
    ) -> Vec<FieldViolation> {
        let mut violations = self.check_length(field, password);
        if violations
            .iter()
            .any(|v| v.description.starts_with("too long"))
        {
            return violations;
        }
        let normalised = normalise(password.expose());
        let lowered = normalised.to_lowercase();
        let local = username.split('@').next().unwrap_or(username);
        let display = display_name.trim().to_lowercase();
        let has_username = !username.is_empty() && lowered.contains(username);
        if has_username || (local.chars().count() >= 3 && lowered.contains(local)) {
            violations.push(FieldViolation::new(field, "must not contain the username"));
        }
        if display.chars().count() >= 3 && lowered.contains(&display) {
            violations.push(FieldViolation::new(
                field,
                "must not contain your display name",
            ));
        }
        let unleeted = unleet(&lowered);
        if let Some(term) = self
            .banned_terms
            .iter()
            .find(|term| unleeted.contains(&unleet(term)))
        {
            violations.push(FieldViolation::new(
                field,
                format!("contains a word this organisation does not allow (\"{term}\")"),
            ));
        }
        let prefix: String = normalised.chars().take(STRENGTH_PREFIX).collect();
        let mut inputs: Vec<&str> = vec![username, local];
        inputs.extend(display_name.split_whitespace());
        let estimate = zxcvbn::zxcvbn(&prefix, &inputs);
        let score = u32::from(u8::from(estimate.score()));
        if score < self.min_strength_score {
            let hint = estimate
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| format!(" ({w})"))
                .unwrap_or_default();
            violations.push(FieldViolation::new(
                field,
                format!("too easy to guess{hint}: use a longer phrase of unrelated words"),
            ));
        }
        violations
    }
}

/// NFKC: the form passwords are measured, compared and hashed in.
pub fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

/// Undoes common look-alike substitutions so `p@$$w0rd` matches `password`.
fn unleet(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '|' => 'l',
            '3' => 'e',
            '4' | '@' => 'a',
            '5' | '$' => 's',
            '7' => 't',
            other => other,
        })
        .collect()
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

    fn check(policy: &PasswordPolicy, password: &str) -> Vec<String> {
        policy
            .check_new(
                "p",
                &Password::new(password.into()),
                "alice@contoso.example",
                "Alice Liddell",
            )
            .into_iter()
            .map(|v| v.description)
            .collect()
    }

    #[test]
    fn generated_passwords_meet_the_default_policy_and_differ() {
        let a = generate_password();
        let b = generate_password();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().chars().count(), 24);
        assert!(check(&PasswordPolicy::default(), a.expose()).is_empty());
    }

    #[test]
    fn length_counts_code_points_after_nfkc() {
        let policy = PasswordPolicy {
            min_length: 8,
            min_strength_score: 0,
            ..Default::default()
        };
        // Seven "é" written as e + combining accent: 14 chars raw, 7 after NFKC.
        let decomposed = "e\u{301}".repeat(7);
        assert_eq!(
            check(&policy, &decomposed),
            vec!["too short: at least 8 characters"]
        );
        let long = "x".repeat(257);
        assert_eq!(
            check(&PasswordPolicy::default(), &long),
            vec!["too long: at most 256 characters"]
        );
    }

    #[test]
    fn spaces_emoji_and_other_scripts_are_fine() {
        let policy = PasswordPolicy::default();
        assert!(check(&policy, "горячий чай 🍵 под дождём ночью").is_empty());
        assert!(check(&policy, "correct horse battery staple").is_empty());
    }

    #[test]
    fn every_broken_rule_is_named() {
        let policy = PasswordPolicy {
            banned_terms: vec!["contoso".into()],
            ..Default::default()
        };
        let found = check(&policy, "alice");
        assert!(
            found.iter().any(|d| d.starts_with("too short")),
            "{found:?}"
        );
        assert!(found.iter().any(|d| d.contains("username")), "{found:?}");
        assert!(
            found.iter().any(|d| d.starts_with("too easy to guess")),
            "{found:?}"
        );
        let found = check(&policy, "C0nt0$o rules the whole wide world");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("contoso"));
        let found = check(&policy, "my friend alice liddell went home late");
        assert!(
            found.iter().any(|d| d.contains("display name")),
            "{found:?}"
        );
    }

    #[test]
    fn common_passwords_are_too_easy_to_guess() {
        let policy = PasswordPolicy {
            min_length: 8,
            ..Default::default()
        };
        for weak in ["password1234", "qwertyuiop", "iloveyou2024"] {
            assert!(
                check(&policy, weak)
                    .iter()
                    .any(|d| d.starts_with("too easy")),
                "{weak} must be refused"
            );
        }
    }

    #[test]
    fn updates_are_checked_as_a_whole() {
        let policy = PasswordPolicy::default();
        let bad = policy
            .updated(PolicyUpdate {
                min_length: Some(7),
                max_length: Some(63),
                reset_methods_required: Some(3),
                ..Default::default()
            })
            .expect_err("out of range");
        let fields: Vec<&str> = bad.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "update.min_length",
                "update.max_length",
                "update.reset_methods_required"
            ]
        );
        let good = policy
            .updated(PolicyUpdate {
                min_length: Some(12),
                banned_terms: Some(vec![
                    " Contoso ".into(),
                    "contoso".into(),
                    "Fabrikam".into(),
                ]),
                ..Default::default()
            })
            .expect("valid");
        assert_eq!(good.min_length, 12);
        assert_eq!(good.banned_terms, ["contoso", "fabrikam"]);
        assert!(
            policy
                .updated(PolicyUpdate {
                    min_length: Some(300),
                    ..Default::default()
                })
                .is_err()
        );
    }
}
