//! Prometheus metrics, served as OpenMetrics text on a plain-HTTP listener of their own
//! (`metrics_listen`).
//!
//! What happened (sign-ins, lock-outs, resets, codes, help requests) is counted from the
//! audit events as their transactions commit: one place, so a counter moves exactly when the
//! audit log says something happened, and never for a change that rolled back. RPCs are
//! counted by [`crate::grpc::observe`], deliveries by the dispatcher; the hashing pool, the
//! outbox backlog and the database pool are read when scraped. No label carries a user, a
//! token or any other value a caller chooses: methods outside the API are counted as
//! `other`, reasons outside the known set as `other`.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::domain::Hasher;
use crate::store::{NewAuditEvent, Store};

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    method: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabel {
    method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SignInLabels {
    outcome: String,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabel {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EventLabel {
    event: String,
}

/// Every metric of the process. Cheap to clone (shared).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

struct Inner {
    registry: Registry,
    rpcs: Family<RpcLabels, Counter>,
    rpc_seconds: Family<MethodLabel, Histogram>,
    sign_ins: Family<SignInLabels, Counter>,
    lockouts: Counter,
    resets: Family<KindLabel, Counter>,
    changes: Counter,
    codes_sent: Family<ChannelLabel, Counter>,
    codes_verified: Family<OutcomeLabel, Counter>,
    help_requests: Family<EventLabel, Counter>,
    hash_busy: Gauge,
    hash_queued: Gauge,
    outbox_pending: Family<ChannelLabel, Gauge>,
    outbox_oldest: Family<ChannelLabel, Gauge<f64, std::sync::atomic::AtomicU64>>,
    deliveries: Family<ChannelLabel, Counter>,
    delivery_failures: Family<ChannelLabel, Counter>,
    db_in_use: Gauge,
    db_open: Gauge,
}

/// Registers `metric` under `name` and hands it back.
fn add<M: prometheus_client::registry::Metric + Clone>(
    registry: &mut Registry,
    name: &str,
    help: &str,
    metric: M,
) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// Latency buckets: 0.5 ms to about 16 s, doubling.
fn seconds_buckets() -> Histogram {
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

/// A reason as it may stand in a label: the domain's fixed words (lower case and `_`), else
/// `other`.
fn reason_label(reason: &str) -> String {
    let known = !reason.is_empty()
        && reason.len() <= 40
        && reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if known { reason } else { "other" }.to_owned()
}

impl Metrics {
    /// Registers every metric; the hashing pool's own (wait time, shed calls) with them.
    pub fn new(hasher: &Hasher) -> Metrics {
        let mut registry = Registry::with_prefix("gatehouse");
        let rpcs = add(
            &mut registry,
            "rpc_requests",
            "RPCs handled, by method and gRPC code",
            Family::<RpcLabels, Counter>::default(),
        );
        let rpc_seconds = add(
            &mut registry,
            "rpc_duration_seconds",
            "Time from request to the last response message, by method",
            Family::<MethodLabel, Histogram>::new_with_constructor(seconds_buckets as fn() -> _),
        );
        let sign_ins = add(
            &mut registry,
            "sign_ins",
            "Sign-ins by outcome (success, failure) and reason (why one failed)",
            Family::<SignInLabels, Counter>::default(),
        );
        let lockouts = add(
            &mut registry,
            "lockouts",
            "Accounts locked out by wrong passwords",
            Counter::default(),
        );
        let resets = add(
            &mut registry,
            "password_resets",
            "Passwords reset, by kind (admin, bulk, invitation, self_service)",
            Family::<KindLabel, Counter>::default(),
        );
        let changes = add(
            &mut registry,
            "password_changes",
            "Passwords changed by their owner (ChangePassword)",
            Counter::default(),
        );
        let codes_sent = add(
            &mut registry,
            "reset_codes_sent",
            "Self-service reset codes sent, by channel",
            Family::<ChannelLabel, Counter>::default(),
        );
        let codes_verified = add(
            &mut registry,
            "reset_codes_verified",
            "Self-service reset codes checked, by outcome (accepted, rejected)",
            Family::<OutcomeLabel, Counter>::default(),
        );
        let help_requests = add(
            &mut registry,
            "help_requests",
            "Contact-an-administrator requests, by event (opened, resolved, dismissed)",
            Family::<EventLabel, Counter>::default(),
        );
        let hash_busy = add(
            &mut registry,
            "hash_workers_busy",
            "Hash workers hashing now",
            Gauge::default(),
        );
        let hash_queued = add(
            &mut registry,
            "hash_queue_depth",
            "Password hashes waiting for a worker",
            Gauge::default(),
        );
        let (shed, wait) = hasher.instruments();
        registry.register(
            "hash_wait_seconds",
            "Time a password hash waited for a worker",
            wait,
        );
        registry.register(
            "hash_shed",
            "Calls refused with RESOURCE_EXHAUSTED because the hash queue was full",
            shed,
        );
        let outbox_pending = add(
            &mut registry,
            "outbox_pending",
            "Messages waiting in the outbox, by channel",
            Family::<ChannelLabel, Gauge>::default(),
        );
        let outbox_oldest = add(
            &mut registry,
            "outbox_oldest_age_seconds",
            "Age of the oldest message waiting in the outbox, by channel",
            Family::<ChannelLabel, Gauge<f64, std::sync::atomic::AtomicU64>>::default(),
        );
        let deliveries = add(
            &mut registry,
            "outbox_sent",
            "Messages this process delivered, by channel",
            Family::<ChannelLabel, Counter>::default(),
        );
        let delivery_failures = add(
            &mut registry,
            "outbox_failures",
            "Delivery attempts that failed (and will be retried), by channel",
            Family::<ChannelLabel, Counter>::default(),
        );
        let db_in_use = add(
            &mut registry,
            "db_connections_in_use",
            "Database connections running a statement or transaction",
            Gauge::default(),
        );
        let db_open = add(
            &mut registry,
            "db_connections_open",
            "Database connections open (in use or idle)",
            Gauge::default(),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry,
                rpcs,
                rpc_seconds,
                sign_ins,
                lockouts,
                resets,
                changes,
                codes_sent,
                codes_verified,
                help_requests,
                hash_busy,
                hash_queued,
                outbox_pending,
                outbox_oldest,
                deliveries,
                delivery_failures,
                db_in_use,
                db_open,
            }),
        }
    }

    /// Counts one handled RPC. `method` must be one of the API's (see `grpc::observe`).
    pub fn rpc(&self, method: &str, code: &str, seconds: f64) {
        self.inner
            .rpcs
            .get_or_create(&RpcLabels {
                method: method.to_owned(),
                code: code.to_owned(),
            })
            .inc();
        self.inner
            .rpc_seconds
            .get_or_create(&MethodLabel {
                method: method.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts one delivery attempt on `channel` (`email`, `sms`).
    pub fn delivery(&self, channel: &str, delivered: bool) {
        let labels = ChannelLabel {
            channel: channel.to_owned(),
        };
        if delivered {
            self.inner.deliveries.get_or_create(&labels).inc();
        } else {
            self.inner.delivery_failures.get_or_create(&labels).inc();
        }
    }

    /// Counts what a committed audit event says happened.
    pub fn audited(&self, event: &NewAuditEvent) {
        let inner = &self.inner;
        let success = event.outcome == "success";
        let detail = |key: &str| {
            serde_json::from_str::<serde_json::Value>(&event.details)
                .ok()
                .and_then(|d| d.get(key).and_then(|v| v.as_str()).map(str::to_owned))
        };
        let count = |family: &Family<KindLabel, Counter>, kind: &str| {
            family
                .get_or_create(&KindLabel {
                    kind: kind.to_owned(),
                })
                .inc();
        };
        match event.action.as_str() {
            "session.sign_in" => {
                let reason = if success {
                    String::new()
                } else {
                    reason_label(&detail("reason").unwrap_or_default())
                };
                inner
                    .sign_ins
                    .get_or_create(&SignInLabels {
                        outcome: if success { "success" } else { "failure" }.to_owned(),
                        reason,
                    })
                    .inc();
            }
            "user.locked_out" => {
                inner.lockouts.inc();
            }
            "password.reset" if success => {
                let kind = if detail("bulk_job").is_some() {
                    "bulk"
                } else if detail("delivery").as_deref() == Some("invitation") {
                    "invitation"
                } else {
                    "admin"
                };
                count(&inner.resets, kind);
            }
            "password.self_reset" if success => count(&inner.resets, "self_service"),
            "password.change" if success => {
                inner.changes.inc();
            }
            "reset.code_sent" => {
                let channel = reason_label(&detail("kind").unwrap_or_default());
                inner
                    .codes_sent
                    .get_or_create(&ChannelLabel { channel })
                    .inc();
            }
            "reset.method_proved" | "reset.code_rejected" => {
                let outcome = if event.action == "reset.method_proved" {
                    "accepted"
                } else {
                    "rejected"
                };
                inner
                    .codes_verified
                    .get_or_create(&OutcomeLabel {
                        outcome: outcome.to_owned(),
                    })
                    .inc();
            }
            "reset_request.ask" | "reset_request.resolve" | "reset_request.dismiss" if success => {
                let what = match event.action.as_str() {
                    "reset_request.ask" => "opened",
                    "reset_request.resolve" => "resolved",
                    _ => "dismissed",
                };
                inner
                    .help_requests
                    .get_or_create(&EventLabel {
                        event: what.to_owned(),
                    })
                    .inc();
            }
            _ => {}
        }
    }

    /// The exposition: reads the gauges (the hashing pool, the outbox, the database pool)
    /// and encodes every metric.
    pub async fn render(&self, store: &Store, hasher: &Hasher) -> String {
        let inner = &self.inner;
        let load = hasher.load();
        inner.hash_busy.set(gauge_value(load.busy));
        inner.hash_queued.set(gauge_value(load.queued));
        let (open, idle) = store.pool_connections();
        inner.db_open.set(gauge_value(open));
        inner.db_in_use.set(gauge_value(open.saturating_sub(idle)));
        match store.outbox_backlog(crate::store::now()).await {
            Ok(backlog) => {
                inner.outbox_pending.clear();
                inner.outbox_oldest.clear();
                for (channel, pending, oldest_secs) in backlog {
                    let labels = ChannelLabel { channel };
                    inner
                        .outbox_pending
                        .get_or_create(&labels)
                        .set(i64::try_from(pending).unwrap_or(i64::MAX));
                    inner.outbox_oldest.get_or_create(&labels).set(oldest_secs);
                }
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the outbox backlog"),
        }
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &inner.registry) {
            tracing::error!(error = %e, "metrics: cannot encode");
        }
        text
    }
}

fn gauge_value(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Serves `GET /metrics` on `listener` until the task is dropped.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    store: Store,
    hasher: Hasher,
) {
    use http_body_util::Full;
    use hyper::service::service_fn;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: cannot accept a connection");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (metrics, store, hasher) = (metrics.clone(), store.clone(), hasher.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                let (metrics, store, hasher) = (metrics.clone(), store.clone(), hasher.clone());
                async move {
                    if request.method() != http::Method::GET {
                        http::Response::builder()
                            .status(http::StatusCode::METHOD_NOT_ALLOWED)
                            .header(http::header::ALLOW, "GET")
                            .body(Full::new(bytes::Bytes::from_static(b"GET only\n")))
                    } else if request.uri().path() != "/metrics" {
                        http::Response::builder()
                            .status(http::StatusCode::NOT_FOUND)
                            .body(Full::new(bytes::Bytes::from_static(
                                b"the metrics are at /metrics\n",
                            )))
                    } else {
                        let text = metrics.render(&store, &hasher).await;
                        http::Response::builder()
                            .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
                            .body(Full::new(bytes::Bytes::from(text)))
                    }
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(10))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "metrics: connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_outside_the_fixed_words_are_other() {
        assert_eq!(reason_label("wrong_password"), "wrong_password");
        assert_eq!(reason_label("user:0192"), "other");
        assert_eq!(reason_label("Robert'); DROP"), "other");
        assert_eq!(reason_label(""), "other");
    }
}
