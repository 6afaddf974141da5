//! Compiles `proto/gatehouse/v1` with the pure-Rust `protox` compiler (no `protoc` needed)
//! and generates the client stubs.

use std::path::PathBuf;

const PROTOS: &[&str] = &[
    "gatehouse/v1/common.proto",
    "gatehouse/v1/admin.proto",
    "gatehouse/v1/self_service.proto",
];

/// Messages that carry a password, a token, a code, a reset flow id (it completes the reset
/// once the codes are proved) or an authenticator secret: their `Debug` is written by hand in
/// `src/redact.rs` and prints a redaction instead.
const SECRET_MESSAGES: &[&str] = &[
    ".gatehouse.v1.SignInRequest",
    ".gatehouse.v1.SignInResponse",
    ".gatehouse.v1.ChangePasswordRequest",
    ".gatehouse.v1.ChangePasswordResponse",
    ".gatehouse.v1.CompletePasswordResetRequest",
    ".gatehouse.v1.StartPasswordResetResponse",
    ".gatehouse.v1.SendResetCodeRequest",
    ".gatehouse.v1.VerifyResetCodeRequest",
    ".gatehouse.v1.AddVerificationMethodRequest",
    ".gatehouse.v1.AddVerificationMethodResponse",
    ".gatehouse.v1.ConfirmVerificationMethodRequest",
    ".gatehouse.v1.ResetPasswordRequest",
    ".gatehouse.v1.ResetPasswordResponse",
    ".gatehouse.v1.BulkResetResult",
    ".gatehouse.v1.ResolveResetRequestResponse",
    ".gatehouse.v1.CreateTenantResponse",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../proto");
    println!("cargo:rerun-if-changed={}", proto_root.display());
    let fds = protox::compile(PROTOS, [&proto_root])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .skip_debug(SECRET_MESSAGES)
        .compile_fds(fds)?;
    Ok(())
}
