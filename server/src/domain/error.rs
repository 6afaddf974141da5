//! The domain's error: a small, deliberate set that maps one-to-one onto gRPC codes.

use crate::store::StoreError;

/// One problem with one field of a request, for `google.rpc.BadRequest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, e.g. `new_password`.
    pub field: String,
    /// What is wrong, phrased so a person can fix it.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Why a domain operation did not happen. Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed or breaks a rule; each violation names its field.
    #[error("{message}")]
    InvalidArgument {
        /// A summary.
        message: String,
        /// One entry per broken rule.
        violations: Vec<FieldViolation>,
    },
    /// The named thing does not exist (or the caller may not know it does).
    #[error("{0}")]
    NotFound(String),
    /// The thing to create exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// A concurrent change won; read again and retry.
    #[error("{0}")]
    Aborted(String),
    /// The system is not in a state that allows the operation.
    #[error("{0}")]
    FailedPrecondition(String),
    /// The caller is known but not allowed.
    #[error("{0}")]
    PermissionDenied(String),
    /// The caller is not signed in, or the credentials are wrong.
    #[error("{0}")]
    Unauthenticated(String),
    /// The server is saturated; retry later.
    #[error("{0}")]
    ResourceExhausted(String),
    /// A dependency (the database) cannot be reached; retry later. Nothing was changed.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unavailable dependency; details are logged, not returned.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The answer to every failed sign-in, whatever the cause.
pub(crate) const SIGN_IN_FAILED: &str = "the username or password is incorrect";

impl Error {
    /// A single-field validation failure.
    pub fn invalid(field: &str, description: impl Into<String>) -> Error {
        let description = description.into();
        Error::InvalidArgument {
            message: format!("{field}: {description}"),
            violations: vec![FieldViolation::new(field, description)],
        }
    }

    /// Several validation failures at once (empty means none).
    pub(crate) fn from_violations(violations: Vec<FieldViolation>) -> Result<(), Error> {
        if violations.is_empty() {
            return Ok(());
        }
        let message = violations
            .iter()
            .map(|v| format!("{}: {}", v.field, v.description))
            .collect::<Vec<_>>()
            .join("; ");
        Err(Error::InvalidArgument {
            message,
            violations,
        })
    }

    pub(crate) fn sign_in_failed() -> Error {
        Error::Unauthenticated(SIGN_IN_FAILED.to_owned())
    }

    pub(crate) fn no_session() -> Error {
        Error::Unauthenticated(
            "no valid session: send `authorization: Bearer <token>` from SignIn (the session may have expired or been revoked)".to_owned(),
        )
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => Error::AlreadyExists(what),
            other if other.is_unreachable() => {
                tracing::warn!(error = %other, "the database is unreachable");
                Error::Unavailable(
                    "the database is unavailable (unreachable, busy or out of space); retry shortly"
                        .to_owned(),
                )
            }
            other => Error::Internal(Box::new(other)),
        }
    }
}
