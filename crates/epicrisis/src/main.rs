//! `epicrisis`: the command line a hospital runs; the commands live in the library
//! (`lib.rs`), this file only dispatches. Exit codes: see the library.

use epicrisis::{
    audit_cmd, cli, doctor, export_cmd, generate, models_cmd, search_cmd, serve_cmd, validate,
};
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(code) = epicrisis::cpu_supported() {
        return code;
    }
    let cli: cli::Cli = epicrisis::cli_errors::parse();
    let env_file = cli.global.env_file.as_deref();
    // Where the libraries' events go (EPICRISIS_LOG, EPICRISIS_LOG_FORMAT).
    epicrisis::logging::install(env_file);
    epicrisis::exit_code(match cli.command {
        cli::Command::Generate(args) => generate::run(args, env_file),
        cli::Command::Validate(args) => validate::run(args),
        cli::Command::Search(args) => search_cmd::run(args, env_file),
        cli::Command::Doctor(args) => doctor::run(args, env_file),
        cli::Command::Models(cmd) => models_cmd::run(cmd, env_file),
        cli::Command::Export(args) => export_cmd::run(args, env_file),
        cli::Command::Serve(args) => serve_cmd::serve(args, env_file),
        cli::Command::Worker(args) => serve_cmd::worker(args, env_file),
        cli::Command::Batch(args) => epicrisis::batch_cmd::batch(args, env_file),
        cli::Command::Pull(args) => epicrisis::sources_cmd::pull(args, env_file),
        cli::Command::Sources(cmd) => epicrisis::sources_cmd::sources(cmd, env_file),
        cli::Command::Users(cmd) => serve_cmd::users(cmd, env_file),
        cli::Command::Tokens(cmd) => serve_cmd::tokens(cmd, env_file),
        cli::Command::Audit(cmd) => audit_cmd::audit(cmd, env_file),
        cli::Command::Versions(cmd) => serve_cmd::versions(cmd, env_file),
        cli::Command::Backup(args) => epicrisis::backup_cmd::backup(args, env_file),
        cli::Command::Restore(args) => epicrisis::backup_cmd::restore(args, env_file),
    })
}
