//! A real HTTP listener standing in for an SMS provider's gateway: it reads HTTP/1.1
//! requests over TCP, keeps each one with the status it answered, and answers with a status
//! the test chooses (to play a gateway that is down, then back).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One request the gateway received.
#[derive(Clone, Debug)]
pub struct Hit {
    /// `POST /send`, say.
    pub method: String,
    /// The request path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// The body, parsed as JSON (`Null` when it was not JSON).
    pub json: serde_json::Value,
    /// The status the sink answered.
    pub status: u16,
}

impl Hit {
    /// The `to` field of the JSON body.
    pub fn to(&self) -> &str {
        self.json["to"].as_str().unwrap_or_default()
    }

    /// The `text` field of the JSON body.
    pub fn text(&self) -> &str {
        self.json["text"].as_str().unwrap_or_default()
    }

    /// The first run of eight or more digits in the text: the code.
    pub fn code(&self) -> Option<String> {
        self.text()
            .split(|c: char| !c.is_ascii_digit())
            .find(|run| run.len() >= 8)
            .map(str::to_owned)
    }

    /// Whether the sink answered 2xx (a delivery, for the sender).
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A running gateway; stops when dropped.
pub struct WebhookSink {
    /// Where it listens.
    pub addr: SocketAddr,
    hits: Arc<Mutex<Vec<Hit>>>,
    status: Arc<AtomicU16>,
    arrived: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookSink {
    /// A gateway on a free loopback port, answering 200.
    pub async fn start() -> WebhookSink {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the webhook sink");
        let addr = listener.local_addr().expect("addr");
        let hits = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let arrived = Arc::new(Notify::new());
        let task = {
            let (hits, status, arrived) = (hits.clone(), status.clone(), arrived.clone());
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    let (hits, status, arrived) = (hits.clone(), status.clone(), arrived.clone());
                    tokio::spawn(async move {
                        if let Err(e) = connection(socket, hits, status, arrived).await {
                            eprintln!("webhook sink connection ended: {e}");
                        }
                    });
                }
            })
        };
        WebhookSink {
            addr,
            hits,
            status,
            arrived,
            task,
        }
    }

    /// The URL to configure as `sms_webhook_url`.
    pub fn url(&self) -> String {
        format!("http://{}/send", self.addr)
    }

    /// Answers every following request with `status`.
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Every request so far, answered or refused.
    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().expect("lock").clone()
    }

    /// Waits for the `nth` (0-based) request matching `wanted`; panics after `timeout`.
    pub async fn wait_for_match(
        &self,
        nth: usize,
        timeout: Duration,
        wanted: impl Fn(&Hit) -> bool,
    ) -> Hit {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            if let Some(hit) = self.hits().into_iter().filter(|h| wanted(h)).nth(nth) {
                return hit;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no matching request #{nth} within {timeout:?}; got {:?}",
                    self.hits()
                );
            }
        }
    }
}

impl Drop for WebhookSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one keep-alive connection: request line, headers, a `Content-Length` body.
async fn connection(
    socket: TcpStream,
    hits: Arc<Mutex<Vec<Hit>>>,
    status: Arc<AtomicU16>,
    arrived: Arc<Notify>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut reader = BufReader::new(read);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = BTreeMap::new();
        loop {
            let mut header = String::new();
            reader.read_line(&mut header).await?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await?;
        let answer = status.load(Ordering::SeqCst);
        hits.lock().expect("lock").push(Hit {
            method,
            path,
            headers,
            json: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            status: answer,
        });
        arrived.notify_waiters();
        write
            .write_all(format!("HTTP/1.1 {answer} Sink\r\ncontent-length: 0\r\n\r\n").as_bytes())
            .await?;
    }
}
