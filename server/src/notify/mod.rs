//! Delivery of the outbox: a dispatcher per server claims due messages atomically, sends
//! them and marks them sent, retrying failures with exponential back-off. Email goes over
//! SMTP (`lettre`), SMS to the provider's HTTP webhook (`reqwest`); with nothing configured in
//! dev mode, messages are written as files under the data directory (`.eml`, `.sms.txt`) so a
//! person trying Gatehouse locally can read them. A message whose channel has no transport
//! waits in the outbox, unclaimed, until one is configured.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor};
use uuid::Uuid;

use crate::domain::SecretKey;
use crate::store::{OutboxRow, Store};

/// How long a claim lasts before another server may take the message: longer than one
/// delivery can take (the SMTP timeout), short enough that the claims of a server that died
/// mid-delivery free up soon. A dispatcher claims only as many as it can start at once.
const CLAIM: Duration = Duration::from_secs(30);
/// How long one SMTP delivery or webhook call may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest wait between two attempts of one message.
const MAX_BACKOFF_SECS: i64 = 3600;

/// Where email goes.
#[derive(Clone)]
pub enum Transport {
    /// An SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a directory (dev mode without SMTP).
    Files(PathBuf),
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Transport::Smtp(_) => f.write_str("Transport::Smtp"),
            Transport::Files(dir) => write!(f, "Transport::Files({})", dir.display()),
        }
    }
}

/// Where SMS goes.
#[derive(Clone)]
pub enum SmsTransport {
    /// The provider's HTTP gateway.
    Webhook(Webhook),
    /// `.sms.txt` files in a directory (dev mode without a gateway).
    Files(PathBuf),
}

impl std::fmt::Debug for SmsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // The host only: a URL may carry credentials.
            SmsTransport::Webhook(hook) => write!(
                f,
                "SmsTransport::Webhook({})",
                hook.url.host_str().unwrap_or("?")
            ),
            SmsTransport::Files(dir) => write!(f, "SmsTransport::Files({})", dir.display()),
        }
    }
}

/// An SMS gateway reached by `POST`ing JSON: `{"id": …, "to": "+12015550142", "text": …}`,
/// with `Authorization: Bearer <token>` when a token is set and `Idempotency-Key: <id>` (the
/// outbox message id, stable across retries, so the gateway can drop a duplicate). Any 2xx
/// answer is a delivery; anything else is retried with back-off.
#[derive(Clone)]
pub struct Webhook {
    client: reqwest::Client,
    url: reqwest::Url,
    token: Option<String>,
}

impl Webhook {
    /// A webhook at `url` (HTTPS, or plain HTTP to a loopback address only).
    pub fn new(url: &str, token: Option<String>) -> Result<Webhook, String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        let loopback = url.host_str().is_some_and(|host| {
            host == "localhost"
                || host
                    .trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        });
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            _ => return Err("use https (plain http only to a loopback address)".to_owned()),
        }
        let client = reqwest::Client::builder()
            .timeout(SMTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Webhook { client, url, token })
    }

    async fn send(&self, id: Uuid, to: &str, text: &str) -> Result<(), String> {
        let mut request = self
            .client
            .post(self.url.clone())
            .header("Idempotency-Key", id.to_string())
            .json(&serde_json::json!({ "id": id, "to": to, "text": text }));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        // The error text names the URL and the status, never the body (it carries a code).
        let response = request
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the SMS gateway answered {status}"))
        }
    }
}

/// Every transport a dispatcher may use; a channel without one is not claimed.
#[derive(Clone, Debug)]
pub struct Transports {
    /// Email, with its From address.
    pub email: Option<(Transport, Mailbox)>,
    /// SMS.
    pub sms: Option<SmsTransport>,
}

impl Transports {
    /// The outbox channels these transports deliver.
    pub fn channels(&self) -> Vec<&'static str> {
        let mut channels = Vec::new();
        if self.email.is_some() {
            channels.push("email");
        }
        if self.sms.is_some() {
            channels.push("sms");
        }
        channels
    }
}

/// How the SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// Plain text (a local relay or a test sink only).
    None,
    /// STARTTLS on a plain connection.
    StartTls,
    /// TLS from the first byte.
    Tls,
}

/// SMTP settings.
#[derive(Clone)]
pub struct SmtpSettings {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Transport security.
    pub security: SmtpSecurity,
    /// User and password, when the server wants them.
    pub credentials: Option<(String, String)>,
}

impl Transport {
    /// An SMTP transport.
    pub fn smtp(settings: SmtpSettings) -> Result<Transport, lettre::transport::smtp::Error> {
        let builder = match settings.security {
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&settings.host)?
            }
            SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&settings.host)?,
        };
        let mut builder = builder.port(settings.port).timeout(Some(SMTP_TIMEOUT));
        if let Some((user, password)) = settings.credentials {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(Transport::Smtp(builder.build()))
    }
}

/// Sends the outbox until the task is dropped, up to `concurrency` deliveries at once (each
/// on its own SMTP connection or webhook call, so one slow delivery does not hold up the
/// rest). Messages are claimed as deliveries free up, never more than can start now, so a
/// claim never waits long behind others. Bodies are stored sealed under the server's key;
/// `key` opens them just before delivery.
pub async fn run_dispatcher(
    store: Store,
    transports: Transports,
    key: SecretKey,
    poll: Duration,
    concurrency: usize,
    metrics: crate::metrics::Metrics,
) {
    let worker = Uuid::new_v4().to_string();
    let channels = transports.channels();
    let concurrency = concurrency.max(1);
    let mut deliveries = tokio::task::JoinSet::new();
    loop {
        let free = concurrency - deliveries.len();
        let batch = if free == 0 {
            Vec::new()
        } else {
            let now = crate::store::now();
            let until = now
                + chrono::Duration::from_std(CLAIM)
                    .unwrap_or_else(|_| chrono::Duration::seconds(60));
            let limit = u64::try_from(free).unwrap_or(1);
            match store
                .claim_messages(&worker, &channels, limit, now, until)
                .await
            {
                Ok(batch) => batch,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the outbox");
                    Vec::new()
                }
            }
        };
        let claimed = batch.len();
        for message in batch {
            let (store, transports, key, worker, metrics) = (
                store.clone(),
                transports.clone(),
                key.clone(),
                worker.clone(),
                metrics.clone(),
            );
            deliveries.spawn(async move {
                let channel = message.channel.clone();
                let delivered =
                    deliver_and_record(&store, &transports, &key, &worker, message).await;
                metrics.delivery(&channel, delivered);
            });
        }
        if claimed > 0 && claimed == free {
            // Every slot was filled: wait for one to free up before claiming more.
            deliveries.join_next().await;
        } else if deliveries.is_empty() {
            tokio::time::sleep(poll).await;
        } else {
            // Some in flight and the outbox had no more: claim again when one finishes or
            // after the poll interval, whichever comes first.
            let _ = tokio::time::timeout(poll, deliveries.join_next()).await;
        }
    }
}

/// Delivers one claimed message and records the outcome: sent, or failed with the next try
/// after an exponential back-off. Returns whether it was delivered.
async fn deliver_and_record(
    store: &Store,
    transports: &Transports,
    key: &SecretKey,
    worker: &str,
    message: OutboxRow,
) -> bool {
    let id = message.id;
    let attempts = message.attempts;
    let delivered = match open(key, message) {
        Ok(message) => deliver(transports, message).await,
        Err(error) => Err(error),
    };
    match delivered {
        Ok(()) => {
            if let Err(e) = store.message_sent(id, worker, crate::store::now()).await {
                tracing::error!(error = %e, message = %id, "sent, but could not mark the message sent");
            } else {
                tracing::info!(message = %id, "message delivered");
            }
            true
        }
        Err(error) => {
            let backoff = 5i64
                .saturating_mul(1i64 << attempts.clamp(0, 20))
                .min(MAX_BACKOFF_SECS);
            let retry_at = crate::store::now() + chrono::Duration::seconds(backoff);
            tracing::warn!(message = %id, attempts = attempts + 1, %error, retry_in_secs = backoff, "delivery failed");
            if let Err(e) = store.message_failed(id, worker, &error, retry_at).await {
                tracing::error!(error = %e, message = %id, "could not record a failed delivery");
            }
            false
        }
    }
}

/// The message with its body opened.
fn open(key: &SecretKey, mut message: OutboxRow) -> Result<OutboxRow, String> {
    message.body = key
        .open_message(&message.channel, &message.recipient, &message.body)
        .map_err(|e| match e {
            crate::domain::Error::Internal(inner) => inner.to_string(),
            other => other.to_string(),
        })?;
    Ok(message)
}

async fn deliver(transports: &Transports, message: OutboxRow) -> Result<(), String> {
    match (message.channel.as_str(), &transports.email, &transports.sms) {
        ("email", Some((transport, from)), _) => send_email(transport, from, message).await,
        ("sms", _, Some(SmsTransport::Webhook(hook))) => {
            hook.send(message.id, &message.recipient, &message.body)
                .await
        }
        ("sms", _, Some(SmsTransport::Files(dir))) => {
            let contents = format!("To: {}\n\n{}\n", message.recipient, message.body);
            write_file(dir, &format!("{}.sms.txt", message.id), &contents)
        }
        (channel, _, _) => Err(format!("no transport for channel `{channel}`")),
    }
}

fn write_file(dir: &std::path::Path, name: &str, contents: &str) -> Result<(), String> {
    crate::tls::dev::create_private_dir(dir).map_err(|e| e.to_string())?;
    crate::tls::dev::write(&dir.join(name), contents, true).map_err(|e| e.to_string())
}

async fn send_email(
    transport: &Transport,
    from: &Mailbox,
    message: OutboxRow,
) -> Result<(), String> {
    let to: Mailbox = message
        .recipient
        .parse()
        .map_err(|e| format!("invalid recipient: {e}"))?;
    let email = Message::builder()
        .from(from.clone())
        .to(to)
        .subject(message.subject)
        // Stable per outbox message: a receiver can drop a duplicate after a crash between
        // sending and recording it.
        .message_id(Some(format!("<{}@gatehouse>", message.id)))
        .header(ContentType::TEXT_PLAIN)
        .body(message.body)
        .map_err(|e| format!("cannot build the message: {e}"))?;
    match transport {
        Transport::Smtp(smtp) => smtp.send(email).await.map(drop).map_err(|e| e.to_string()),
        Transport::Files(dir) => {
            let contents = String::from_utf8_lossy(&email.formatted()).into_owned();
            write_file(dir, &format!("{}.eml", message.id), &contents)
        }
    }
}
