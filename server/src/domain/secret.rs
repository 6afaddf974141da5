//! Secrets as types whose `Debug` never shows the value.

use secrecy::{ExposeSecret, SecretString};

/// A password in clear, as typed or generated. `Debug` prints a redaction.
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Wraps a password.
    pub fn new(value: String) -> Self {
        Password(SecretString::from(value))
    }

    /// The password itself, for hashing or for the one response that shows it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A session bearer token in clear. Only its SHA-256 is stored. `Debug` prints a redaction.
#[derive(Clone)]
pub struct SessionToken(SecretString);

impl SessionToken {
    /// Wraps a token received from a caller.
    pub fn new(value: String) -> Self {
        SessionToken(SecretString::from(value))
    }

    /// A new random 256-bit token, base64url without padding.
    pub(crate) fn generate() -> Self {
        use base64::Engine as _;
        let mut bytes = [0u8; 32];
        rand::fill(&mut bytes);
        SessionToken::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The token itself, for the one response that hands it out.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// Hex SHA-256 of the token: what the database keeps.
    pub(crate) fn digest(&self) -> String {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(self.expose().as_bytes()))
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_hides_secrets() {
        let password = Password::new("correct horse battery staple".into());
        let token = SessionToken::generate();
        let shown = format!("{password:?} {token:?} {:?}", Some(&password));
        assert!(!shown.contains("horse"), "{shown}");
        assert!(!shown.contains(token.expose()), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn tokens_are_random_and_digested() {
        let a = SessionToken::generate();
        let b = SessionToken::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 43);
        assert_eq!(a.digest().len(), 64);
        assert_ne!(a.digest(), a.expose());
    }
}
