//! A real SMTP server for tests: it speaks enough of RFC 5321 (EHLO, MAIL, RCPT, DATA, RSET,
//! NOOP, QUIT) for an SMTP client to deliver to it, and keeps what arrives. Gatehouse talks
//! to it over TCP exactly as to a production relay.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// One delivered message.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message as sent (headers and body).
    pub data: String,
}

impl Mail {
    /// The message with quoted-printable undone (soft line breaks joined, `=XX` decoded), so
    /// a test can look for a sentence however the client wrapped it.
    pub fn text(&self) -> String {
        let joined = self.data.replace("=\r\n", "").replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if bytes[i] == b'='
                && i + 2 < bytes.len()
                && let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                i += 3;
                continue;
            }
            out.push(bytes[i]);
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// The indented line of the body (where Gatehouse puts a code), trimmed.
    pub fn indented_line(&self) -> Option<String> {
        self.data
            .lines()
            .find(|line| line.starts_with("    ") && !line.trim().is_empty())
            .map(|line| line.trim().to_owned())
    }
}

/// A running sink; stops when dropped.
pub struct SmtpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    /// A sink on a free loopback port.
    pub async fn start() -> SmtpSink {
        Self::start_on("127.0.0.1:0".parse().expect("addr")).await
    }

    /// A sink on a given address (to bring "the mail server" up later on a known port).
    pub async fn start_on(addr: SocketAddr) -> SmtpSink {
        let listener = TcpListener::bind(addr).await.expect("bind the SMTP sink");
        let addr = listener.local_addr().expect("addr");
        let mails = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let task = {
            let mails = mails.clone();
            let arrived = arrived.clone();
            tokio::spawn(async move {
                while let Ok((socket, _)) = listener.accept().await {
                    let mails = mails.clone();
                    let arrived = arrived.clone();
                    tokio::spawn(async move {
                        if let Err(e) = session(socket, mails, arrived).await {
                            eprintln!("smtp sink session ended: {e}");
                        }
                    });
                }
            })
        };
        SmtpSink {
            addr,
            mails,
            arrived,
            task,
        }
    }

    /// Points a server's email at this sink (plain SMTP) and makes its dispatcher poll
    /// often, so tests see mail quickly.
    pub fn configure(&self, config: &mut gatehouse::Config) {
        config.smtp_host = Some("127.0.0.1".into());
        config.smtp_port = self.addr.port();
        config.smtp_security = "none".into();
        config.outbox_poll_millis = 50;
    }

    /// Everything received so far.
    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().expect("lock").clone()
    }

    /// Waits until at least `count` messages arrived; panics after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Mail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            let mails = self.mails();
            if mails.len() >= count {
                return mails;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "expected {count} messages within {timeout:?}, got {}",
                    self.mails().len()
                );
            }
        }
    }
}

impl SmtpSink {
    /// Waits for the `nth` (0-based) message matching `wanted`; panics after `timeout`.
    pub async fn wait_for_match(
        &self,
        nth: usize,
        timeout: Duration,
        wanted: impl Fn(&Mail) -> bool,
    ) -> Mail {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            if let Some(mail) = self.mails().into_iter().filter(|m| wanted(m)).nth(nth) {
                return mail;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no matching message #{nth} within {timeout:?}");
            }
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(
    socket: TcpStream,
    mails: Arc<Mutex<Vec<Mail>>>,
    arrived: Arc<Notify>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP ready\r\n").await?;
    let mut to = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250-sink\r\n250 8BITMIME\r\n"
        } else if upper.starts_with("MAIL FROM") {
            to.clear();
            b"250 OK\r\n"
        } else if upper.starts_with("RCPT TO") {
            let address = line[8..]
                .trim()
                .trim_start_matches(':')
                .trim()
                .trim_matches(|c| c == '<' || c == '>');
            to.push(address.to_owned());
            b"250 OK\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
            let mut data = String::new();
            while let Some(line) = lines.next_line().await? {
                if line == "." {
                    break;
                }
                let line = line
                    .strip_prefix('.')
                    .filter(|_| line.starts_with(".."))
                    .unwrap_or(&line);
                data.push_str(line);
                data.push('\n');
            }
            mails.lock().expect("lock").push(Mail {
                to: std::mem::take(&mut to),
                data,
            });
            arrived.notify_waiters();
            b"250 OK queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 OK\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}
