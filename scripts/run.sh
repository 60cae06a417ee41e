#!/usr/bin/env bash
# The main job: builds epicrisis and drafts the epicrisis of the bundled example episode
# with a local language model, validated against its data.
# Usage: bash scripts/run.sh [EPISODE.json]
# The model is LOCAL_LLM_PATH when set; otherwise Qwen2.5-Coder-1.5B-Instruct Q4_K_M is
# fetched on first use (cached under ~/.cache/epicrisis/models).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_rust
cd "$ROOT"
say "building epicrisis (release)"
cargo build --release --locked -q -p epicrisis
BIN="$CARGO_TARGET_DIR/release/epicrisis"
EPISODE="${1:-testdata/episodes/episodio_1416169.json}"
if [ -z "${LOCAL_LLM_PATH:-}" ]; then
  say "fetching the default local model (first run only)"
  LOCAL_LLM_PATH="$(fetch_model qwen2.5-coder-1.5b)"
  export LOCAL_LLM_PATH
fi
say "drafting the epicrisis of $EPISODE with $(basename "$LOCAL_LLM_PATH")"
"$BIN" generate "$EPISODE" --engine local --layout sections
