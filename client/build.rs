//! Compiles `proto/gatehouse/v1` with the pure-Rust `protox` compiler (no `protoc` needed)
//! and generates the client stubs.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "gatehouse/v1/common.proto",
    "gatehouse/v1/admin.proto",
    "gatehouse/v1/self_service.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());
    let fds = protox::compile(PROTOS, [&proto_root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .compile_fds(fds)?;
    Ok(())
}
