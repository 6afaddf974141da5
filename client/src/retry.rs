//! When a failed call may be sent again.
//!
//! A call is retried only when repeating it cannot do anything twice: when the request never
//! reached the server (no connection could be made), or when the server answered
//! `UNAVAILABLE` to a read that changes nothing. A write that reached the server is never
//! repeated here, whatever the answer: the caller decides (a bulk reset, for example, is made
//! safe to repeat by its idempotency key, not by this layer).

use std::time::Duration;

use tonic::{Code, Status};

/// Reads that change nothing, by full gRPC method name. A method not listed is treated as
/// a write. `SelfService/VerifyResetCode` is not here although its name says "verify": each
/// call spends one of the flow's tries.
const IDEMPOTENT_READS: &[&str] = &[
    "/gatehouse.v1.AdminService/GetUser",
    "/gatehouse.v1.AdminService/ListUsers",
    "/gatehouse.v1.AdminService/ListRoleAssignments",
    "/gatehouse.v1.AdminService/GetPasswordPolicy",
    "/gatehouse.v1.AdminService/CanReset",
    "/gatehouse.v1.AdminService/ListAuditEvents",
    "/gatehouse.v1.AdminService/VerifyAuditChain",
    "/gatehouse.v1.AdminService/GetBulkJob",
    "/gatehouse.v1.AdminService/ListResetRequests",
    "/gatehouse.v1.AdminService/ListUserVerificationMethods",
    "/gatehouse.v1.AdminService/ListTenants",
    "/gatehouse.v1.AdminService/ListAdministrativeUnits",
    "/gatehouse.v1.AdminService/ListUnitMembers",
    "/gatehouse.v1.AdminService/GetPasswordActivityReport",
    "/gatehouse.v1.SelfService/GetMe",
    "/gatehouse.v1.SelfService/ListVerificationMethods",
];

/// Whether `method` (a full gRPC method name such as `/gatehouse.v1.AdminService/GetUser`)
/// only reads, so that sending it twice does no harm.
pub fn is_idempotent_read(method: &str) -> bool {
    IDEMPOTENT_READS.contains(&method)
}

/// The retry decision: may a call of `method` that failed with `code` be sent again?
/// `never_sent` says that the request did not reach the server (see [`never_sent`]).
pub fn should_retry(method: &str, code: Code, never_sent: bool) -> bool {
    // Checked first: a connect failure is UNAVAILABLE too, but safe for any method.
    if never_sent {
        return true;
    }
    code == Code::Unavailable && is_idempotent_read(method)
}

/// True when `status` comes from failing to connect, so the request was never sent.
///
/// tonic reports a connect failure as `UNAVAILABLE` and keeps the transport error as the
/// status's source; an `UNAVAILABLE` from the server (or a connection lost mid-call) has no
/// `tonic::ConnectError` in its chain.
pub fn never_sent(status: &Status) -> bool {
    if status.code() != Code::Unavailable {
        return false;
    }
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if error.is::<tonic::ConnectError>() {
            return true;
        }
        source = error.source();
    }
    false
}

/// How often and how patiently a safe call is retried: exponential back-off from
/// `initial_backoff`, doubling up to `max_backoff`, for at most `max_attempts` attempts in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 means no retry.
    pub max_attempts: u32,
    /// The wait before the first retry.
    pub initial_backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Four attempts, waiting 100 ms, 200 ms and 400 ms in between.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Never retry.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait after failed attempt number `attempt` (counted from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }

    /// Runs `call` (which sends `method`) until it succeeds, fails in a way that must not be
    /// retried, or the attempts run out.
    pub(crate) async fn run<T, F, Fut>(&self, method: &str, mut call: F) -> Result<T, Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(status)
                    if attempt < self.max_attempts
                        && should_retry(method, status.code(), never_sent(&status)) =>
                {
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(status) => return Err(status),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = "/gatehouse.v1.AdminService/";
    const SELF: &str = "/gatehouse.v1.SelfService/";

    #[test]
    fn unavailable_reads_are_retried() {
        for read in [
            "GetUser",
            "ListUsers",
            "ListRoleAssignments",
            "GetPasswordPolicy",
            "CanReset",
            "ListAuditEvents",
            "VerifyAuditChain",
            "GetBulkJob",
            "ListResetRequests",
            "ListUserVerificationMethods",
            "ListTenants",
            "ListAdministrativeUnits",
            "ListUnitMembers",
        ] {
            let method = format!("{ADMIN}{read}");
            assert!(should_retry(&method, Code::Unavailable, false), "{method}");
        }
        assert!(should_retry(
            &format!("{SELF}GetMe"),
            Code::Unavailable,
            false
        ));
    }

    #[test]
    fn writes_that_reached_the_server_are_never_retried() {
        for write in [
            format!("{ADMIN}CreateUser"),
            format!("{ADMIN}ResetPassword"),
            format!("{ADMIN}BulkResetPasswords"),
            format!("{ADMIN}RequirePasswordChange"),
            format!("{ADMIN}DeleteUser"),
            format!("{ADMIN}AssignRole"),
            format!("{ADMIN}ResolveResetRequest"),
            format!("{ADMIN}CreateTenant"),
            format!("{SELF}SignIn"),
            format!("{SELF}ChangePassword"),
            format!("{SELF}SignOut"),
            // Spends one of the flow's tries, despite its name.
            format!("{SELF}VerifyResetCode"),
        ] {
            for code in [
                Code::Unavailable,
                Code::Internal,
                Code::DeadlineExceeded,
                Code::Unknown,
            ] {
                assert!(!should_retry(&write, code, false), "{write} {code:?}");
            }
        }
    }

    #[test]
    fn any_call_that_never_reached_the_server_is_retried() {
        for method in [
            format!("{ADMIN}ResetPassword"),
            format!("{ADMIN}GetUser"),
            format!("{SELF}SignIn"),
        ] {
            assert!(should_retry(&method, Code::Unavailable, true), "{method}");
        }
    }

    #[test]
    fn reads_are_not_retried_for_answers_other_than_unavailable() {
        for code in [
            Code::NotFound,
            Code::PermissionDenied,
            Code::Unauthenticated,
            Code::InvalidArgument,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Internal,
        ] {
            assert!(!should_retry(&format!("{ADMIN}GetUser"), code, false));
        }
    }

    #[test]
    fn a_server_sent_unavailable_is_not_a_connect_failure() {
        assert!(!never_sent(&Status::unavailable("draining")));
    }

    #[test]
    fn back_off_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
        };
        let waits: Vec<_> = (1..=5).map(|a| policy.backoff(a).as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 500, 500]);
    }

    #[tokio::test]
    async fn a_refused_connection_is_never_sent_and_retried_for_a_write() {
        // A port that nothing listens on: bind, note it, close it.
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            probe.local_addr().expect("addr").port()
        };
        let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .expect("endpoint")
            .connect_lazy();
        let policy = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(1),
        };
        let mut attempts = 0;
        let result = policy
            .run("/gatehouse.v1.AdminService/ResetPassword", || {
                attempts += 1;
                let mut stub =
                    crate::pb::admin_service_client::AdminServiceClient::new(channel.clone());
                async move {
                    stub.reset_password(crate::pb::ResetPasswordRequest::default())
                        .await
                }
            })
            .await;
        let status = result.expect_err("nothing listens");
        assert_eq!(status.code(), Code::Unavailable);
        assert!(never_sent(&status), "{status:?}");
        assert_eq!(attempts, 3);
    }
}
