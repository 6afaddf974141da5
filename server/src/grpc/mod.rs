//! The transport: tonic handlers that decode a request, identify the caller, call the domain
//! and map its answer. No rule lives here.

mod admin;
mod caller;
pub(crate) mod checks;
mod convert;
pub mod observe;
mod self_service;
mod status;

/// Spawns work of the current call, keeping it under the call's `rpc` span (its request id).
fn spawn_in_call<F>(work: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    use tracing::Instrument as _;
    tokio::spawn(work.in_current_span())
}

pub use admin::AdminApi;
pub use self_service::SelfApi;

/// The generated `gatehouse.v1` types and service traits.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod pb {
    tonic::include_proto!("gatehouse.v1");

    use super::checks::{CheckText, Rule, Violations, field_path, indexed};
    include!(concat!(env!("OUT_DIR"), "/text_checks.rs"));

    /// The encoded descriptors of `gatehouse.v1`, served by reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("gatehouse_descriptor");
}
