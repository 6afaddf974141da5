//! Mutual TLS: the server's rustls configuration, the accept loop that performs handshakes,
//! and the service identity read from a client certificate.
//!
//! Only TLS 1.3 is offered. A client must present a certificate that chains to the configured
//! client CA and is within its validity period; anything else fails the handshake, before a
//! single gRPC byte is read.

pub mod dev;

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use futures::Stream;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;
use x509_parser::extensions::GeneralName;

/// Builds the server's TLS 1.3 configuration that requires a client certificate from `ca`.
pub fn server_config(
    ca: &Path,
    cert: &Path,
    key: &Path,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca_cert in read_certs(ca).context("while reading the client CA (tls_client_ca)")? {
        roots
            .add(ca_cert)
            .with_context(|| format!("while adding the client CA from {}", ca.display()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .context("while building the client-certificate verifier")?;
    let chain = read_certs(cert).context("while reading the server certificate (tls_cert)")?;
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "while reading the server key (tls_key) from {}",
            key.display()
        )
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .context("while selecting TLS 1.3")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .context("the server certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

fn read_certs(path: &Path) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    if !path.exists() {
        anyhow::bail!(
            "{} does not exist (run `gatehouse serve --dev` to generate dev certificates, or set the path)",
            path.display()
        );
    }
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("while opening {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("while parsing {}", path.display()))?;
    if certs.is_empty() {
        anyhow::bail!("{} holds no PEM certificate", path.display());
    }
    Ok(certs)
}

/// Accepts TCP connections and completes TLS handshakes concurrently, yielding only
/// connections that passed mutual TLS. A slow or failing handshake never blocks the accept
/// loop. At most `max_connections` are open at once (handshakes included): one more is
/// closed as soon as it is accepted, so its client fails at once instead of waiting. The
/// loop ends when the stream is dropped.
pub fn incoming(
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
    handshake_timeout: Duration,
    max_connections: usize,
) -> impl Stream<Item = Result<Counted<TlsStream<TcpStream>>, std::io::Error>> {
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let acceptor = TlsAcceptor::from(config);
    let open = Arc::new(tokio::sync::Semaphore::new(max_connections.max(1)));
    let mut last_refusal_logged: Option<std::time::Instant> = None;
    tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = tx.closed() => break,
            };
            let (socket, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = open.clone().try_acquire_owned() else {
                drop(socket);
                // Logged at most once a second: a flood of connections must not flood the log.
                if last_refusal_logged.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                    tracing::warn!(%peer, max_connections, "connection refused: too many open connections");
                    last_refusal_logged = Some(std::time::Instant::now());
                }
                continue;
            };
            // The builder's nodelay setting does not reach sockets accepted here; without it
            // small responses wait for delayed ACKs (a ~40 ms tail).
            if let Err(e) = socket.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(handshake_timeout, acceptor.accept(socket)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx
                            .send(Ok(Counted {
                                inner: stream,
                                _permit: permit,
                            }))
                            .await;
                    }
                    Ok(Err(e)) => tracing::info!(%peer, error = %e, "tls handshake refused"),
                    Err(_) => tracing::info!(%peer, "tls handshake timed out"),
                }
            });
        }
    });
    tokio_stream::wrappers::ReceiverStream::new(rx)
}

/// A connection that holds one of the `max_connections` places until it closes.
#[derive(Debug)]
pub struct Counted<S> {
    inner: S,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl<S: Connected> Connected for Counted<S> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// The service identity of a client certificate: its first URI SAN, else its first DNS SAN,
/// else its subject common name.
pub fn identity(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        let names = &san.value.general_names;
        let uri = names.iter().find_map(|n| match n {
            GeneralName::URI(uri) => Some(*uri),
            _ => None,
        });
        let dns = names.iter().find_map(|n| match n {
            GeneralName::DNSName(dns) => Some(*dns),
            _ => None,
        });
        if let Some(name) = uri.or(dns) {
            return Some(name.to_owned());
        }
    }
    cert.subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_prefers_uri_then_dns_then_common_name() {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["svc.internal".to_owned()]).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "helpdesk");
        let dns = params.self_signed(&key).expect("cert");
        assert_eq!(identity(dns.der()).as_deref(), Some("svc.internal"));

        params.subject_alt_names.push(rcgen::SanType::URI(
            rcgen::string::Ia5String::try_from("spiffe://corp/helpdesk").expect("uri"),
        ));
        let uri = params.self_signed(&key).expect("cert");
        assert_eq!(
            identity(uri.der()).as_deref(),
            Some("spiffe://corp/helpdesk")
        );

        params.subject_alt_names.clear();
        let cn = params.self_signed(&key).expect("cert");
        assert_eq!(identity(cn.der()).as_deref(), Some("helpdesk"));
    }
}
