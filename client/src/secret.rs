//! Secrets the server hands out, wrapped so that `Debug` never prints them.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};

macro_rules! secret_string {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(SecretString);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                $name(SecretString::from(value.into()))
            }

            /// The value itself. Show it only where it is meant to be seen.
            pub fn expose(&self) -> &str {
                self.0.expose_secret()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

secret_string!(
    /// A password an administrator's reset generated: shown once, to be handed to the person
    /// and changed at their next sign-in.
    TemporaryPassword
);

secret_string!(
    /// A session's bearer token (see [`crate::Client::with_session`]).
    SessionToken
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_secret() {
        let password = TemporaryPassword::new("Abcd-Efgh-Jkmn-Pqrs-Tuvw");
        let token = SessionToken::new("0123456789abcdef");
        let printed = format!("{password:?} {token:?} {:?}", Some(&password));
        assert!(!printed.contains("Abcd"), "{printed}");
        assert!(!printed.contains("0123"), "{printed}");
        assert!(printed.contains("<redacted>"));
        assert_eq!(password.expose(), "Abcd-Efgh-Jkmn-Pqrs-Tuvw");
    }
}
