//! Following the audit log with `AdminService/WatchAuditEvents`, across reconnects.

use std::time::Duration;

use crate::{CallError, Client, Code, pb};

/// How long [`AuditFeed`] waits before it connects again after the stream broke.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// The tenant's audit events as they commit, in chain order. When the stream breaks (the
/// server restarts, the connection drops) it connects again and continues after the last
/// event it returned, so a caller loses nothing and sees nothing twice. Only a refusal
/// (`PERMISSION_DENIED`, `UNAUTHENTICATED`, …) ends it. Get one from [`Client::audit_feed`].
pub struct AuditFeed {
    client: Client,
    /// The last sequence number returned; `None` until then when the feed started from now.
    after: Option<i64>,
    stream: Option<tonic::Streaming<pb::WatchAuditEventsResponse>>,
}

impl std::fmt::Debug for AuditFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditFeed")
            .field("after", &self.after)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Follows the audit log: from the event after `after_sequence` (0: the first kept), or,
    /// with `None`, from the first event committed from now on. A break before the first
    /// event of a feed started from now continues from "now" again; start from a sequence
    /// number when no event may be missed.
    pub fn audit_feed(&self, after_sequence: Option<i64>) -> AuditFeed {
        AuditFeed {
            client: self.clone(),
            after: after_sequence,
            stream: None,
        }
    }
}

impl AuditFeed {
    /// The next event, waiting for it to be committed.
    pub async fn next(&mut self) -> Result<pb::AuditEvent, CallError> {
        loop {
            let stream = match &mut self.stream {
                Some(stream) => stream,
                None => match self.open().await {
                    Ok(stream) => self.stream.insert(stream),
                    Err(e) if broken(&e) => {
                        tokio::time::sleep(RECONNECT_AFTER).await;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            match stream.message().await {
                Ok(Some(pb::WatchAuditEventsResponse { event: Some(event) })) => {
                    self.after = Some(event.sequence);
                    return Ok(event);
                }
                // A message of a newer server this client does not know: skip it.
                Ok(Some(_)) => {}
                // The server ended the stream (it is shutting down): connect again.
                Ok(None) => {
                    self.stream = None;
                    tokio::time::sleep(RECONNECT_AFTER).await;
                }
                Err(status) => {
                    let error = CallError::from(status);
                    if !broken(&error) {
                        return Err(error);
                    }
                    self.stream = None;
                    tokio::time::sleep(RECONNECT_AFTER).await;
                }
            }
        }
    }

    /// The sequence number of the last event returned, if any.
    pub fn last_sequence(&self) -> Option<i64> {
        self.after
    }

    async fn open(&self) -> Result<tonic::Streaming<pb::WatchAuditEventsResponse>, CallError> {
        let request = pb::WatchAuditEventsRequest {
            after_sequence: self.after.unwrap_or_default(),
            from_now: self.after.is_none(),
        };
        Ok(self
            .client
            .admin()
            .watch_audit_events(request)
            .await?
            .into_inner())
    }
}

/// Whether the stream broke underneath (worth connecting again) rather than being refused.
fn broken(error: &CallError) -> bool {
    matches!(
        error.code(),
        Code::Unavailable | Code::Unknown | Code::Cancelled
    )
}
