//! Who is calling: the identity of the client certificate and the bearer token.

use tonic::{Request, Status};

use crate::domain::{Caller, SessionToken};
use crate::tls;

/// Metadata naming the tenant a service principal acts on.
const TENANT_HEADER: &str = "gatehouse-tenant";

/// Reads the caller from a request's connection and metadata.
pub(crate) fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    let service = request
        .peer_certs()
        .and_then(|certs| certs.first().and_then(tls::identity));
    if let Some(service) = &service {
        // On the call's `rpc` span (see `observe`), so every later line names the caller.
        tracing::Span::current().record("caller_service", service.as_str());
    }
    let token = match request.metadata().get("authorization") {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| Status::unauthenticated("the authorization metadata is not text"))?;
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or_else(|| {
                    Status::unauthenticated("authorization must be `Bearer <session token>`")
                })?;
            Some(SessionToken::new(token.to_owned()))
        }
    };
    let tenant = request
        .metadata()
        .get(TENANT_HEADER)
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| Status::invalid_argument("the gatehouse-tenant metadata is not text"))
        })
        .transpose()?;
    Ok(Caller {
        service,
        token,
        tenant,
    })
}
