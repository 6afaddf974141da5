//! The typed error of a failed call.

use std::fmt;

use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// One rule a request broke, from the `google.rpc.BadRequest` details of an
/// `INVALID_ARGUMENT` answer: which field, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, e.g. `new_password`.
    pub field: String,
    /// Why it was refused, for people, e.g. `too short: at least 15 characters`.
    pub description: String,
}

/// Why a call failed: the gRPC code, the server's message and, for a refused request, the
/// fields it broke.
///
/// Its `Display` is meant for people: `invalid argument: the new password does not meet the
/// password policy (new_password: too short: at least 15 characters)`.
#[derive(Clone, Debug)]
pub struct CallError {
    code: Code,
    message: String,
    violations: Vec<FieldViolation>,
    never_sent: bool,
    /// What the transport said underneath, when the call failed before or outside the server
    /// (`Connection refused`, a certificate the CA did not sign…).
    causes: Vec<String>,
}

impl CallError {
    /// An error with a code and message and no details.
    pub fn new(code: Code, message: impl Into<String>) -> CallError {
        CallError {
            code,
            message: message.into(),
            violations: Vec::new(),
            never_sent: false,
            causes: Vec::new(),
        }
    }

    /// The error a status carries, with its field violations decoded.
    pub fn from_status(status: &Status) -> CallError {
        let violations = status
            .get_details_bad_request()
            .map(|bad| {
                bad.field_violations
                    .into_iter()
                    .map(|v| FieldViolation {
                        field: v.field,
                        description: v.description,
                    })
                    .collect()
            })
            .unwrap_or_default();
        CallError {
            code: status.code(),
            message: status.message().to_owned(),
            violations,
            never_sent: crate::retry::never_sent(status),
            causes: causes(std::error::Error::source(status), status.message()),
        }
    }

    /// The gRPC status code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The server's message (or the transport's, when the call never reached the server).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The transport's reasons under [`CallError::message`], outermost first, when the call
    /// failed in the transport (no connection, a TLS failure, a lost peer); empty for an
    /// answer of the server.
    pub fn causes(&self) -> &[String] {
        &self.causes
    }

    /// The fields the request broke (empty unless the code is `INVALID_ARGUMENT`).
    pub fn field_violations(&self) -> &[FieldViolation] {
        &self.violations
    }

    /// True when the request never reached the server (no connection could be made), so
    /// nothing it asked for happened.
    pub fn never_sent(&self) -> bool {
        self.never_sent
    }

    /// `NOT_FOUND`.
    pub fn is_not_found(&self) -> bool {
        self.code == Code::NotFound
    }

    /// `UNAUTHENTICATED` or `PERMISSION_DENIED`: not signed in, or not allowed.
    pub fn is_denied(&self) -> bool {
        matches!(self.code, Code::Unauthenticated | Code::PermissionDenied)
    }
}

impl From<Status> for CallError {
    fn from(status: Status) -> CallError {
        CallError::from_status(&status)
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = code_phrase(self.code);
        if self.message.is_empty() {
            f.write_str(what)?;
        } else {
            write!(f, "{what}: {}", self.message)?;
        }
        for cause in &self.causes {
            write!(f, ": {cause}")?;
        }
        // Servers often repeat the violations in the message already; say them once.
        let repeated = self
            .violations
            .iter()
            .all(|v| self.message.contains(&v.description));
        if !self.violations.is_empty() && !repeated {
            f.write_str(" (")?;
            for (i, v) in self.violations.iter().enumerate() {
                if i > 0 {
                    f.write_str("; ")?;
                }
                write!(f, "{}: {}", v.field, v.description)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl std::error::Error for CallError {}

/// The messages of `source` and the errors under it, leaving out those that say nothing new:
/// wrappers that repeat their cause's message, or repeat `said` (what the caller already
/// prints), and tonic's bare "transport error".
pub(crate) fn causes(
    source: Option<&(dyn std::error::Error + 'static)>,
    said: &str,
) -> Vec<String> {
    let mut causes: Vec<String> = Vec::new();
    let mut next = source;
    while let Some(error) = next {
        let text = error.to_string();
        let known = text.is_empty()
            || text == "transport error"
            || said.contains(&text)
            || causes.iter().any(|c| c.contains(&text));
        if !known {
            causes.push(text);
        }
        next = error.source();
    }
    causes
}

/// The code as a person would say it.
pub fn code_phrase(code: Code) -> &'static str {
    match code {
        Code::Ok => "ok",
        Code::Cancelled => "cancelled",
        Code::Unknown => "unknown error",
        Code::InvalidArgument => "invalid argument",
        Code::DeadlineExceeded => "timed out",
        Code::NotFound => "not found",
        Code::AlreadyExists => "already exists",
        Code::PermissionDenied => "permission denied",
        Code::ResourceExhausted => "server busy",
        Code::FailedPrecondition => "not possible now",
        Code::Aborted => "conflict",
        Code::OutOfRange => "out of range",
        Code::Unimplemented => "not supported by this server",
        Code::Internal => "server error",
        Code::Unavailable => "server unavailable",
        Code::DataLoss => "data loss",
        Code::Unauthenticated => "not signed in",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::ErrorDetails;

    #[test]
    fn display_names_the_code_the_message_and_each_broken_field() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "the new password does not meet the password policy",
            ErrorDetails::with_bad_request(vec![
                tonic_types::FieldViolation::new("new_password", "too short (min 12)"),
                tonic_types::FieldViolation::new("new_password", "too common"),
            ]),
        );
        let error = CallError::from(status);
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(error.field_violations().len(), 2);
        assert_eq!(
            error.to_string(),
            "invalid argument: the new password does not meet the password policy \
             (new_password: too short (min 12); new_password: too common)"
        );
        assert!(!error.never_sent());
    }

    #[test]
    fn violations_the_message_already_names_are_not_repeated() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "new_password: too short: at least 15 characters",
            ErrorDetails::with_bad_request(vec![tonic_types::FieldViolation::new(
                "new_password",
                "too short: at least 15 characters",
            )]),
        );
        assert_eq!(
            CallError::from(status).to_string(),
            "invalid argument: new_password: too short: at least 15 characters"
        );
    }

    #[test]
    fn a_status_without_details_has_no_violations() {
        let error = CallError::from(Status::not_found("no such user"));
        assert!(error.is_not_found());
        assert!(error.field_violations().is_empty());
        assert_eq!(error.to_string(), "not found: no such user");
    }
}
