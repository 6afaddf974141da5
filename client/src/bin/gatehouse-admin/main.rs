//! `gatehouse-admin`: the administrators' command line for a Gatehouse server.

#![forbid(unsafe_code)]

mod args;
mod bulk;
mod commands;
mod config;
mod output;
mod session;

use std::process::ExitCode;

use clap::Parser as _;

use crate::output::Failure;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return report(Failure::other(format!("cannot start: {error}"))),
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => report(failure),
    }
}

fn report(failure: Failure) -> ExitCode {
    // Messages can quote the server, which can quote what someone else typed.
    eprintln!("error: {}", output::escape(&failure.to_string()));
    if let Some(hint) = failure.hint() {
        eprintln!("hint: {}", output::escape(hint));
    }
    ExitCode::from(failure.exit_code())
}
