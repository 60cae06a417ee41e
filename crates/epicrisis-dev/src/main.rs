//! `epicrisis-dev`: the development tools, apart from the binary a hospital runs. The
//! benchmarks (`bench`, `bench-embeddings`, `bench-retrieval`, `bench-longstay`,
//! `bench-evidence`) and the evaluations (`eval`, `eval-deid`, which also write the test
//! sets) build on the `epicrisis` library: the same settings, engines and readers as the
//! product. Exit codes as `epicrisis`'s.

mod bench;
mod bench_embed;
mod bench_evidence;
mod bench_retrieval;
mod cli;
mod eval;
mod eval_deid;
mod eval_narrative;
mod eval_validator;
mod novel_flags;

use clap::Parser;
use epicrisis::{Failure, config, embedder, engine, generate, input};
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(code) = epicrisis::cpu_supported() {
        return code;
    }
    let cli = cli::Cli::parse();
    let env_file = cli.global.env_file.as_deref();
    epicrisis::exit_code(match cli.command {
        cli::Command::Eval(args) => eval::run(args, env_file),
        cli::Command::Bench(args) => bench::run(args, env_file),
        cli::Command::BenchEmbeddings(args) => bench_embed::run(args, env_file),
        cli::Command::BenchRetrieval(args) => bench_retrieval::run(args, env_file),
        cli::Command::BenchLongstay(args) => bench_retrieval::run_longstay(args, env_file),
        cli::Command::BenchEvidence(args) => bench_evidence::run(args, env_file),
        cli::Command::EvalDeid(args) => eval_deid::run(args),
    })
}
