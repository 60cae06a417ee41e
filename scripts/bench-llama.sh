#!/usr/bin/env bash
# Decode speed of epicrisis against llama.cpp's own `llama-bench`, measured in the same run
# on the same model files, threads and lengths; prints both figures and their ratio.
#
#   scripts/bench-llama.sh [--models "smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b"]
#                          [--prompt 512] [--gen 128] [--threads 2] [--reps 3]
#
# epicrisis first (`epicrisis-dev bench --records 0`: a prompt of about --prompt tokens through
# the whole generator, then --gen tokens right after it); then llama-bench at the prompt
# length epicrisis measured: `-p P` (prompt on an empty cache) and `-n G -d P` (generation
# at that depth). Each side keeps its best of --reps runs (this machine is shared and
# noisy: compare ratios, not absolute figures). llama-bench runs twice: with the flash
# attention epicrisis chose for the model (EPICRISIS_FLASH_ATTENTION; the same computation,
# so the ratio is our overhead), and with llama.cpp's own default (`-fa auto`, what a user
# of llama.cpp gets).
#
# The reference: llama-bench from the llama-cpp-python source package on PyPI (its
# vendor/llama.cpp; the llama-cpp-sys-2 crate ships llama.cpp without the tools), pinned by
# sha256, built once with the flags the crate uses here (Release, OpenMP, the same CPU
# level: need_llama_bench in scripts/common.sh) and cached under ~/.cache/epicrisis/.
# epicrisis: the release build of `epicrisis-dev bench` (EPICRISIS_DEV_BIN overrides).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
MODELS="smollm2-135m qwen2.5-coder-0.5b qwen2.5-coder-1.5b"
PROMPT=512 GEN=128 THREADS=2 REPS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --models) MODELS="$2"; shift 2 ;;
    --prompt) PROMPT="$2"; shift 2 ;;
    --gen) GEN="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --reps) REPS="$2"; shift 2 ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done

# llama-bench for the CPU level epicrisis was built for: the baseline (.cargo/config.toml),
# or native when RUSTFLAGS asks for it, so the ratio is our overhead, not the kernels'.
LEVEL="$(rust_cpu_level)"
LLAMA_BENCH="$(need_llama_bench "$LEVEL")"
need_rust
BIN="${EPICRISIS_DEV_BIN:-$CARGO_TARGET_DIR/release/epicrisis-dev}"
if [ -z "${EPICRISIS_DEV_BIN:-}" ]; then
  say "building epicrisis-dev (release)"
  cargo build --release --locked -q -p epicrisis-dev
fi

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
printf '%-22s %-11s %-7s %9s %10s %7s\n' model test flash llama-bench epicrisis ratio
for name in $MODELS; do
  model="$(python3 tools/models/fetch.py "$name")"
  # Drafts off: this compares plain decoding (drafts: `epicrisis-dev eval … --draft-tokens`).
  "$BIN" bench --records 0 --model "$model" --threads "$THREADS" --reps "$REPS" --draft-tokens 0 \
    --prompt-tokens "$PROMPT" --gen-tokens "$GEN" --format json >"$OUT/ours.json"
  n=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["speed"]["prompt_tokens"])' "$OUT/ours.json")
  # The flash attention epicrisis used: "on", "off…" or "auto…" (llama.cpp's choice).
  fa=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["model"].get("flash_attention","auto").split()[0])' "$OUT/ours.json")
  for mode in $(printf '%s\n' "$fa" auto | sort -u); do
    "$LLAMA_BENCH" -m "$model" -t "$THREADS" -r "$REPS" -fa "$mode" -p "$n" -n 0 -o json >"$OUT/pp-$mode.json" 2>/dev/null
    "$LLAMA_BENCH" -m "$model" -t "$THREADS" -r "$REPS" -fa "$mode" -p 0 -n "$GEN" -d "$n" -o json >"$OUT/tg-$mode.json" 2>/dev/null
  done
  python3 - "$name" "$n" "$GEN" "$OUT" "$fa" <<'EOF'
import json, sys
name, n, gen, out, fa = sys.argv[1:]
best = lambda f: max(json.load(open(f"{out}/{f}"))[0]["samples_ts"])
ours = json.load(open(f"{out}/ours.json"))["speed"]
rows = [(f"pp{n}", "pp", ours["prompt_tokens_per_s"]),
        (f"tg{gen}@d{n}", "tg", ours["generation_tokens_per_s"])]
for test, kind, mine in rows:
    same, default = best(f"{kind}-{fa}.json"), best(f"{kind}-auto.json")
    print(f"{name:<22} {test:<11} fa {fa:<4} {same:9.1f} {mine:10.1f} {mine / same:7.3f}"
          f"   llama.cpp default (fa auto) {default:.1f}: {mine / default:.3f}")
EOF
done
