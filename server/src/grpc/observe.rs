//! Around every call, before routing: a request id (the caller's `x-request-id`, or a new
//! one) carried by the `rpc` span that every log line of the call is under, and returned in
//! the response metadata; and the call counted and timed in the metrics, by method and gRPC
//! code, when its last message has gone (or the caller hung up: `Cancelled`).

use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http::HeaderValue;
use http_body::{Body, Frame, SizeHint};
use prost::Message as _;
use tracing::Instrument as _;

use crate::metrics::Metrics;

/// The metadata key of the request id.
pub const REQUEST_ID: &str = "x-request-id";
/// The longest request id taken from a caller; a longer or non-printable one is replaced.
const MAX_REQUEST_ID: usize = 128;
/// The method label of a path that is not one of the API's.
const OTHER: &str = "other";

/// Builds [`Observe`] around the routes.
#[derive(Clone, Debug)]
pub struct ObserveLayer {
    metrics: Metrics,
    methods: Arc<HashSet<String>>,
}

impl ObserveLayer {
    /// Counts into `metrics`; a method label is one of the served services' methods, or
    /// `other`, so no caller can grow the label set.
    pub fn new(metrics: Metrics) -> ObserveLayer {
        let mut methods = HashSet::new();
        for set in [
            super::pb::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ] {
            let Ok(files) = prost_types::FileDescriptorSet::decode(set) else {
                continue;
            };
            for file in files.file {
                for service in &file.service {
                    for method in &service.method {
                        methods.insert(format!(
                            "{}.{}/{}",
                            file.package(),
                            service.name(),
                            method.name()
                        ));
                    }
                }
            }
        }
        for reflection in ["grpc.reflection.v1", "grpc.reflection.v1alpha"] {
            methods.insert(format!(
                "{reflection}.ServerReflection/ServerReflectionInfo"
            ));
        }
        ObserveLayer {
            metrics,
            methods: Arc::new(methods),
        }
    }
}

impl<S> tower_layer::Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`ObserveLayer`] builds.
#[derive(Clone, Debug)]
pub struct Observe<S> {
    inner: S,
    layer: ObserveLayer,
}

impl<S, B, R> tower_service::Service<http::Request<B>> for Observe<S>
where
    S: tower_service::Service<http::Request<B>, Response = http::Response<R>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Observed<R>>;
    type Error = S::Error;
    type Future =
        Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send + 'static>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let started = Instant::now();
        let path = request.uri().path().trim_start_matches('/');
        let method = if self.layer.methods.contains(path) {
            path.to_owned()
        } else {
            OTHER.to_owned()
        };
        let request_id =
            given_request_id(request.headers()).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let span = tracing::info_span!(
            "rpc",
            rpc = %method,
            request_id = %request_id,
            caller_service = tracing::field::Empty,
        );
        // The clone that was made ready is the one called (tower's rule); the fresh clone
        // stays for the next call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.layer.metrics.clone();
        let call_span = span.clone();
        Box::pin(
            async move {
                let mut response = inner.call(request).await?;
                if let Ok(value) = HeaderValue::from_str(&request_id) {
                    response.headers_mut().insert(REQUEST_ID, value);
                }
                // A call refused before any message ends in its headers (trailers-only).
                let code = response.headers().get("grpc-status").map(code_label);
                Ok(response.map(|inner| Observed {
                    inner,
                    code,
                    finish: Some(Finish {
                        metrics,
                        method,
                        started,
                        span: call_span,
                    }),
                }))
            }
            .instrument(span),
        )
    }
}

/// The caller's request id, when it is one we may repeat in logs and metadata.
fn given_request_id(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(REQUEST_ID)?.to_str().ok()?;
    let fits = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value.bytes().all(|b| b.is_ascii_graphic());
    fits.then(|| value.to_owned())
}

/// The gRPC code of a `grpc-status` value, as the gRPC metrics conventions name it.
fn code_label(value: &HeaderValue) -> &'static str {
    let code = value
        .to_str()
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Unknown, tonic::Code::from_i32);
    code_name(code)
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Records a call once it is over.
struct Finish {
    metrics: Metrics,
    method: String,
    started: Instant,
    span: tracing::Span,
}

/// A response body that records the call when its trailers pass (or when it is dropped
/// before them: the caller hung up).
pub struct Observed<B> {
    inner: B,
    code: Option<&'static str>,
    finish: Option<Finish>,
}

impl<B> Observed<B> {
    fn finish(&mut self) {
        if let Some(finish) = self.finish.take() {
            let code = self.code.unwrap_or("Canceled");
            let elapsed = finish.started.elapsed();
            finish
                .metrics
                .rpc(&finish.method, code, elapsed.as_secs_f64());
            tracing::debug!(
                parent: &finish.span,
                code,
                duration_ms = elapsed.as_secs_f64() * 1000.0,
                "rpc finished"
            );
        }
    }
}

impl<B> Drop for Observed<B> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<B> Body for Observed<B>
where
    B: Body<Error = tonic::Status> + Unpin,
{
    type Data = B::Data;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(status) = frame.trailers_ref().and_then(|t| t.get("grpc-status")) {
                    this.code = Some(code_label(status));
                    this.finish();
                }
            }
            Poll::Ready(Some(Err(status))) => {
                this.code = Some(code_name(status.code()));
                this.finish();
            }
            Poll::Ready(None) => this.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_taken_only_when_printable_and_short() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(given_request_id(&headers), None);
        headers.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(given_request_id(&headers).as_deref(), Some("abc-123"));
        headers.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        assert_eq!(given_request_id(&headers), None);
        let long = "x".repeat(MAX_REQUEST_ID + 1);
        headers.insert(REQUEST_ID, HeaderValue::from_str(&long).expect("value"));
        assert_eq!(given_request_id(&headers), None);
    }

    #[test]
    fn the_methods_are_those_of_the_served_services() {
        let hasher = crate::domain::Hasher::new(crate::domain::HashSettings {
            memory_kib: 1024,
            iterations: 1,
            parallelism: 1,
            workers: 1,
            queue: 1,
        })
        .expect("hasher");
        let layer = ObserveLayer::new(Metrics::new(&hasher));
        assert!(layer.methods.contains("gatehouse.v1.AdminService/GetUser"));
        assert!(layer.methods.contains("gatehouse.v1.SelfService/SignIn"));
        assert!(layer.methods.contains("grpc.health.v1.Health/Check"));
        assert!(!layer.methods.contains("gatehouse.v1.AdminService/Nope"));
    }
}
