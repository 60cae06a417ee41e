//! The `epicrisis` command line as a library: the commands a hospital runs (`generate`,
//! `validate`, `serve`, `models`, `doctor`, `export`…) and what they share (settings,
//! engine set-up, embedder, input readers). The `epicrisis` binary is its `main.rs`; the
//! development tools (`epicrisis-dev`: benchmarks, evaluations, test-set writers) build on
//! the same modules. It is the only place that reads the environment, picks backends and
//! decides exit codes; the libraries receive their settings as arguments.
//!
//! Exit codes: 0 success; 1 the validated text has errors (`validate`); 2 bad input or
//! usage (the message names the file, the JSON path or the flag); 3 an unexpected failure;
//! 4 this CPU lacks instructions the build was compiled for ([`cpu_supported`]).

pub mod audit_cmd;
pub mod backup_cmd;
pub mod batch_cmd;
pub mod cli;
pub mod cli_errors;
pub mod config;
pub mod doctor;
pub mod embedder;
pub mod engine;
pub mod export_cmd;
pub mod generate;
pub mod input;
mod intake;
pub mod logging;
mod metrics_port;
pub mod models_cmd;
pub mod search_cmd;
pub mod serve_cmd;
pub mod sources_cmd;
pub mod validate;
mod writeback;

use std::process::ExitCode;

/// An error that decides the exit code.
#[derive(Debug)]
pub enum Failure {
    /// Bad input or usage: exit 2.
    Input(String),
    /// Anything else: exit 3.
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Internal(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure::Internal(e.into())
    }
}

/// A refused import in Spanish (the file, the line, the field and what to do), then the
/// parser's English detail for whoever looks further (the types found, the limit).
impl From<epicrisis_ingest::IngestError> for Failure {
    fn from(e: epicrisis_ingest::IngestError) -> Failure {
        Failure::Input(format!(
            "{}\n  detalle técnico: {}",
            e.message_es(),
            e.message
        ))
    }
}

/// Whether this CPU can run this build (`epicrisis_llm::cpu`); when it cannot, says which
/// extensions are missing and how to build for it, and gives exit code 4. The binaries call
/// it before anything else, so the answer comes before the first vector instruction would
/// stop the process with SIGILL.
pub fn cpu_supported() -> Result<(), ExitCode> {
    epicrisis_llm::cpu::check().map_err(|e| {
        eprintln!("{e}");
        ExitCode::from(4)
    })
}

/// A command's result as the process's exit code; a failure is printed on stderr first.
pub fn exit_code(result: Result<ExitCode, Failure>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Internal(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(3)
        }
    }
}
