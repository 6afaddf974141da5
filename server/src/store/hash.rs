//! A stored password hash (a PHC string). Not a password, but still a secret: an offline
//! guessing attack starts from it, so its `Debug` prints a redaction.

use sea_orm::DeriveValueType;

/// An Argon2id PHC string as stored.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string.
    pub fn new(phc: String) -> Self {
        PasswordHash(phc)
    }

    /// The PHC string, for verification.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_hash() {
        let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned());
        let row = crate::store::CredentialRow {
            user_id: uuid::Uuid::nil(),
            tenant_id: uuid::Uuid::nil(),
            hash: hash.clone(),
            set_at: crate::store::now(),
            expires_at: None,
            must_change: false,
            temporary: false,
            failed_attempts: 0,
            locked_until: None,
            lockout_count: 0,
            recent_failures: String::new(),
            reminder_sent_for: None,
            attempts_in_flight: 0,
            attempts_lease_until: None,
            compromised_at: None,
        };
        let shown = format!("{hash:?} {row:?}");
        assert!(!shown.contains("argon2"), "{shown}");
    }
}
