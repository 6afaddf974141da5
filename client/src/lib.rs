//! Client of the Gatehouse gRPC API.
//!
//! [`pb`] holds the generated `gatehouse.v1` messages and stubs. [`ClientBuilder`] connects
//! over mutual TLS and hands out stubs that attach the session token to every call. On top of
//! the stubs, [`Client`] has methods for the common flows that return typed results and a
//! [`CallError`] (the gRPC code, the message and the broken fields), and [`Client::calls`]
//! offers every unary RPC the same way. Those retry, with exponential back-off, only what is
//! safe to send twice (see [`retry`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use gatehouse_client::{ClientBuilder, pb};
//!
//! let client = ClientBuilder::new("https://127.0.0.1:50051")
//!     .ca_pem_file("gatehouse-data/certs/ca.pem")?
//!     .identity_pem_files("gatehouse-data/certs/client.pem", "gatehouse-data/certs/client.key")?
//!     .connect()
//!     .await?;
//! let signed_in = client.sign_in("admin@gatehouse.example", "…").await?;
//! let admin = client.with_session_token(&signed_in.token);
//!
//! // The generated stub, as is…
//! let users = admin.admin().list_users(pb::ListUsersRequest::default()).await?;
//! // …or with a typed error and retries of safe calls.
//! let users = admin.calls().list_users(pb::ListUsersRequest::default()).await?;
//! let reset = admin
//!     .reset_password(pb::UserRef::by_username("bob@contoso.example"))
//!     .await?;
//! if let Some(password) = &reset.temporary_password {
//!     println!("hand this to Bob once: {}", password.expose());
//! }
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]

mod audit_feed;
mod calls;
mod error;
mod flows;
mod redact;
pub mod retry;
mod secret;

pub use audit_feed::AuditFeed;
pub use calls::Calls;
pub use error::{CallError, FieldViolation, code_phrase};
pub use flows::{BulkEvent, BulkItem, BulkResetStream, PasswordChanged, PasswordReset, SignedIn};
pub use retry::RetryPolicy;
pub use secret::{SessionToken, TemporaryPassword};
pub use tonic::Code;

use std::path::Path;
use std::time::Duration;

use secrecy::{ExposeSecret as _, SecretString};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// The generated `gatehouse.v1` messages and client stubs.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    tonic::include_proto!("gatehouse.v1");
}

/// Why a client could not be built or connected.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A PEM file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Something required was not given.
    #[error("{0}")]
    Missing(&'static str),
    /// The endpoint or TLS settings are invalid, or the server cannot be reached. The message
    /// names each cause (`tcp connect error: Connection refused`, `invalid peer certificate:
    /// UnknownIssuer`, …), so the error has no separate source.
    #[error("cannot connect: {}", transport_text(.0))]
    Transport(tonic::transport::Error),
}

impl From<tonic::transport::Error> for ConnectError {
    fn from(error: tonic::transport::Error) -> ConnectError {
        ConnectError::Transport(error)
    }
}

fn transport_text(error: &tonic::transport::Error) -> String {
    let causes = error::causes(std::error::Error::source(error), "");
    if causes.is_empty() {
        error.to_string()
    } else {
        causes.join(": ")
    }
}

/// Builds an mTLS connection to a Gatehouse server. Its `Debug` says whether a CA and an
/// identity are set, never what they hold (the identity carries the private key).
#[derive(Clone)]
pub struct ClientBuilder {
    endpoint: String,
    ca_pem: Option<Vec<u8>>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    domain: Option<String>,
    connect_timeout: Duration,
    request_timeout: Option<Duration>,
    keep_alive: Option<KeepAlive>,
    retry: RetryPolicy,
}

/// HTTP/2 pings on an open connection; see [`ClientBuilder::keep_alive`].
#[derive(Clone, Copy, Debug)]
struct KeepAlive {
    interval: Duration,
    timeout: Duration,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: bool| if v { "<set>" } else { "<not set>" };
        f.debug_struct("ClientBuilder")
            .field("endpoint", &self.endpoint)
            .field("ca", &set(self.ca_pem.is_some()))
            .field("identity", &set(self.identity.is_some()))
            .field("domain", &self.domain)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("keep_alive", &self.keep_alive)
            .field("retry", &self.retry)
            .finish()
    }
}

impl ClientBuilder {
    /// A builder for `endpoint`, e.g. `https://127.0.0.1:50051`.
    pub fn new(endpoint: impl Into<String>) -> Self {
        ClientBuilder {
            endpoint: endpoint.into(),
            ca_pem: None,
            identity: None,
            domain: None,
            connect_timeout: Duration::from_secs(10),
            request_timeout: None,
            keep_alive: None,
            retry: RetryPolicy::default(),
        }
    }

    /// The CA that signed the server certificate, as PEM.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// The CA that signed the server certificate, from a PEM file.
    pub fn ca_pem_file(self, path: impl AsRef<Path>) -> Result<Self, ConnectError> {
        let pem = read(path.as_ref())?;
        Ok(self.ca_pem(pem))
    }

    /// The client certificate and key, as PEM.
    pub fn identity_pem(mut self, cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        self.identity = Some((cert.into(), key.into()));
        self
    }

    /// The client certificate and key, from PEM files.
    pub fn identity_pem_files(
        self,
        cert: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, ConnectError> {
        let cert = read(cert.as_ref())?;
        let key = read(key.as_ref())?;
        Ok(self.identity_pem(cert, key))
    }

    /// The name the server certificate must carry, when it differs from the endpoint's host
    /// (the dev certificate names `localhost` and `127.0.0.1`).
    pub fn domain_name(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// How long to wait for the connection (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// A deadline for every call: for a unary call, until its answer; for a streamed one
    /// (`BulkResetPasswords`), until the stream opens (a long stream is watched by
    /// [`ClientBuilder::keep_alive`] instead).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    /// Sends an HTTP/2 ping every `interval`, even between calls, and drops the connection
    /// when one is not answered within `timeout`: calls on it then fail `UNAVAILABLE` instead
    /// of waiting forever for a peer that vanished (a server that lost power, a network that
    /// dropped its state). Off by default.
    pub fn keep_alive(mut self, interval: Duration, timeout: Duration) -> Self {
        self.keep_alive = Some(KeepAlive { interval, timeout });
        self
    }

    /// How the typed methods ([`Client::calls`] and the flows) retry safe calls (default:
    /// [`RetryPolicy::default`]; [`RetryPolicy::none`] turns retries off). The raw stubs
    /// never retry.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// Connects now; fails when the server cannot be reached or TLS fails.
    pub async fn connect(self) -> Result<Client, ConnectError> {
        let retry = self.retry;
        let endpoint = self.endpoint()?;
        Ok(Client {
            channel: endpoint.connect().await?,
            token: None,
            retry,
        })
    }

    /// A client that connects on first use (and reconnects after a lost connection).
    pub fn connect_lazy(self) -> Result<Client, ConnectError> {
        let retry = self.retry;
        let endpoint = self.endpoint()?;
        Ok(Client {
            channel: endpoint.connect_lazy(),
            token: None,
            retry,
        })
    }

    fn endpoint(self) -> Result<Endpoint, ConnectError> {
        let ca = self.ca_pem.ok_or(ConnectError::Missing(
            "a CA certificate (ca_pem) is required",
        ))?;
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
        if let Some((cert, key)) = self.identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        if let Some(domain) = self.domain {
            tls = tls.domain_name(domain);
        }
        let mut endpoint = Endpoint::from_shared(self.endpoint)?
            .tls_config(tls)?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true);
        if let Some(timeout) = self.request_timeout {
            endpoint = endpoint.timeout(timeout);
        }
        if let Some(keep_alive) = self.keep_alive {
            endpoint = endpoint
                .http2_keep_alive_interval(keep_alive.interval)
                .keep_alive_timeout(keep_alive.timeout)
                .keep_alive_while_idle(true);
        }
        Ok(endpoint)
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ConnectError> {
    std::fs::read(path).map_err(|source| ConnectError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// A connection, optionally with a session. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    channel: Channel,
    token: Option<SecretString>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("session", &self.token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// Adds `authorization: Bearer <token>` to every call. A token that cannot travel as
/// metadata fails the call rather than silently going without a session (which would make
/// the call act as the certificate's service identity instead).
#[derive(Clone)]
pub struct SessionAuth {
    header: Result<Option<MetadataValue<Ascii>>, ()>,
}

impl Interceptor for SessionAuth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        match &self.header {
            Ok(Some(header)) => {
                request
                    .metadata_mut()
                    .insert("authorization", header.clone());
            }
            Ok(None) => {}
            Err(()) => {
                return Err(tonic::Status::unauthenticated(
                    "the session token is not valid ASCII metadata; use the token SignIn returned",
                ));
            }
        }
        Ok(request)
    }
}

/// An AdminService stub that sends the client's session.
pub type AdminClient =
    pb::admin_service_client::AdminServiceClient<InterceptedService<Channel, SessionAuth>>;
/// A SelfService stub that sends the client's session.
pub type SelfClient =
    pb::self_service_client::SelfServiceClient<InterceptedService<Channel, SessionAuth>>;

impl Client {
    /// The same connection, sending `token` as the session on every call.
    pub fn with_session(&self, token: impl Into<String>) -> Client {
        Client {
            channel: self.channel.clone(),
            token: Some(SecretString::from(token.into())),
            retry: self.retry,
        }
    }

    /// The same connection, sending `token` as the session on every call.
    pub fn with_session_token(&self, token: &SessionToken) -> Client {
        self.with_session(token.expose())
    }

    /// The same connection without a session.
    pub fn without_session(&self) -> Client {
        Client {
            channel: self.channel.clone(),
            token: None,
            retry: self.retry,
        }
    }

    /// The AdminService stub.
    pub fn admin(&self) -> AdminClient {
        pb::admin_service_client::AdminServiceClient::with_interceptor(
            self.channel.clone(),
            self.auth(),
        )
    }

    /// The SelfService stub.
    pub fn self_service(&self) -> SelfClient {
        pb::self_service_client::SelfServiceClient::with_interceptor(
            self.channel.clone(),
            self.auth(),
        )
    }

    /// The underlying channel, for other services (health, reflection).
    pub fn channel(&self) -> Channel {
        self.channel.clone()
    }

    fn auth(&self) -> SessionAuth {
        SessionAuth {
            header: self
                .token
                .as_ref()
                .map(|t| {
                    format!("Bearer {}", t.expose_secret())
                        .parse()
                        .map_err(|_| ())
                })
                .transpose(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_debug_names_the_endpoint_and_never_prints_the_key() {
        let builder = ClientBuilder::new("https://gatehouse.internal:50051")
            .ca_pem("-----BEGIN CERTIFICATE-----\nCA-BYTES\n")
            .identity_pem(
                "-----BEGIN CERTIFICATE-----\nCERT-BYTES\n",
                "-----BEGIN PRIVATE KEY-----\nKEY-BYTES\n",
            );
        let printed = format!("{builder:?}");
        assert!(
            printed.contains("https://gatehouse.internal:50051"),
            "{printed}"
        );
        assert!(printed.contains("identity: \"<set>\""), "{printed}");
        for secret in ["KEY-BYTES", "PRIVATE", "CERT-BYTES", "CA-BYTES", "45, 45"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        let bare = format!("{:?}", ClientBuilder::new("https://127.0.0.1:50051"));
        assert!(bare.contains("identity: \"<not set>\""), "{bare}");
    }

    #[tokio::test]
    async fn a_refused_connection_says_why() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let error = ClientBuilder::new(format!("https://{addr}"))
            .ca_pem("")
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .expect_err("nothing listens");
        let text = error.to_string();
        assert!(text.starts_with("cannot connect: "), "{text}");
        assert!(text.contains("refused"), "{text}");
    }
}
