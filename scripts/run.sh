#!/usr/bin/env bash
# The main job: builds epicrisis and drafts the epicrisis of the bundled example episode,
# validated against its data. Usage: bash scripts/run.sh [EPISODE.json]
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_rust
cd "$ROOT"
say "building epicrisis (release)"
cargo build --release --locked -q -p epicrisis
BIN="$CARGO_TARGET_DIR/release/epicrisis"
EPISODE="${1:-testdata/episodes/episodio_1416169.json}"
say "drafting the epicrisis of $EPISODE (deterministic engine)"
"$BIN" generate "$EPISODE" --layout sections
