//! The one place a domain error becomes a gRPC status.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::domain::Error;

/// Maps a domain error. Validation failures carry `google.rpc.BadRequest` field violations;
/// internal errors are logged here and reach the caller only as "internal error".
pub(crate) fn to_status(error: Error) -> Status {
    match error {
        Error::InvalidArgument {
            message,
            violations,
        } => {
            let details = ErrorDetails::with_bad_request(
                violations
                    .into_iter()
                    .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                    .collect::<Vec<_>>(),
            );
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        Error::NotFound(m) => Status::not_found(m),
        Error::AlreadyExists(m) => Status::already_exists(m),
        Error::Aborted(m) => Status::aborted(m),
        Error::FailedPrecondition(m) => Status::failed_precondition(m),
        Error::PermissionDenied(m) => Status::permission_denied(m),
        Error::Unauthenticated(m) => Status::unauthenticated(m),
        Error::ResourceExhausted(m) => Status::resource_exhausted(m),
        Error::Unavailable(m) => Status::unavailable(m),
        Error::Internal(source) => {
            tracing::error!(error = %source, "internal error");
            Status::internal("internal error")
        }
    }
}
