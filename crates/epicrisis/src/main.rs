//! `epicrisis`: the command line. It is the only place that reads the environment, picks
//! backends and decides exit codes; the libraries receive their settings as arguments.
//!
//! Exit codes: 0 success; 1 the validated text has errors (`validate`); 2 bad input or
//! usage (the message names the file, the JSON path or the flag); 3 an unexpected failure.

mod bench;
mod bench_embed;
mod bench_evidence;
mod bench_retrieval;
mod cli;
mod config;
mod doctor;
mod embedder;
mod engine;
mod eval;
mod eval_deid;
mod eval_narrative;
mod eval_validator;
mod export_cmd;
mod generate;
mod input;
mod models_cmd;
mod novel_flags;
mod search_cmd;
mod serve_cmd;
mod validate;

use clap::Parser;
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

impl From<epicrisis_ingest::IngestError> for Failure {
    fn from(e: epicrisis_ingest::IngestError) -> Failure {
        Failure::Input(e.to_string())
    }
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let env_file = cli.env_file.as_deref();
    let result = match cli.command {
        cli::Command::Generate(args) => generate::run(args, env_file),
        cli::Command::Validate(args) => validate::run(args),
        cli::Command::Eval(args) => eval::run(args, env_file),
        cli::Command::Bench(args) => bench::run(args, env_file),
        cli::Command::BenchEmbeddings(args) => bench_embed::run(args, env_file),
        cli::Command::BenchRetrieval(args) => bench_retrieval::run(args, env_file),
        cli::Command::BenchLongstay(args) => bench_retrieval::run_longstay(args, env_file),
        cli::Command::BenchEvidence(args) => bench_evidence::run(args, env_file),
        cli::Command::Search(args) => search_cmd::run(args, env_file),
        cli::Command::EvalDeid(args) => eval_deid::run(args),
        cli::Command::Doctor(args) => doctor::run(args, env_file),
        cli::Command::Models(cmd) => models_cmd::run(cmd, env_file),
        cli::Command::Export(args) => export_cmd::run(args, env_file),
        cli::Command::Serve(args) => serve_cmd::serve(args, env_file),
        cli::Command::Users(cmd) => serve_cmd::users(cmd, env_file),
        cli::Command::Tokens(cmd) => serve_cmd::tokens(cmd, env_file),
        cli::Command::Audit(cmd) => serve_cmd::audit(cmd, env_file),
        cli::Command::Versions(cmd) => serve_cmd::versions(cmd, env_file),
    };
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
