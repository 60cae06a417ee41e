#!/usr/bin/env bash
# What the portable baseline costs: llama.cpp's own llama-bench built for x86-64-v3 (the
# CPU level release builds target, .cargo/config.toml) against the same llama-bench built
# for this machine (GGML_NATIVE, what RUSTFLAGS="-C target-cpu=native" gives), in the same
# run, on the same models, threads and lengths. Prints prompt (pp) and generation (tg at
# the prompt's depth) speeds and the ratio baseline / native; 1.0 means the baseline costs
# nothing on this CPU. Both sides keep their best of --reps runs, alternating, so a noisy
# neighbour hurts both alike.
#
#   scripts/bench-cpu.sh [--models "smollm2-135m qwen2.5-coder-0.5b"] [--prompt 512]
#                        [--gen 128] [--threads 2] [--reps 3]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
MODELS="smollm2-135m qwen2.5-coder-0.5b" PROMPT=512 GEN=128 THREADS=2 REPS=3
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
[ "$(uname -m)" = x86_64 ] || { echo "error: the x86-64-v3 baseline is an x86-64 matter" >&2; exit 2; }
BASE="$(need_llama_bench x86-64-v3)"
NATIVE="$(need_llama_bench native)"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); wide units:" \
  "$(grep -m1 -ow 'avx512f\|avx512_vnni\|avx512_bf16\|avx_vnni\|amx_tile' /proc/cpuinfo | sort -u | tr '\n' ' ')"
printf '%-22s %-11s %11s %11s %7s\n' model test x86-64-v3 native ratio
for name in $MODELS; do
  model="$(python3 tools/models/fetch.py "$name")"
  for level in base native; do : >"$OUT/$level-pp.json"; : >"$OUT/$level-tg.json"; done
  for rep in $(seq "$REPS"); do
    for level in base native; do
      bin=$BASE; [ "$level" = native ] && bin=$NATIVE
      "$bin" -m "$model" -t "$THREADS" -r 1 -p "$PROMPT" -n 0 -o jsonl >>"$OUT/$level-pp.json" 2>/dev/null
      "$bin" -m "$model" -t "$THREADS" -r 1 -p 0 -n "$GEN" -d "$PROMPT" -o jsonl >>"$OUT/$level-tg.json" 2>/dev/null
    done
  done
  python3 - "$name" "$PROMPT" "$GEN" "$OUT" <<'PY'
import json, sys
name, p, g, out = sys.argv[1:]
def best(f):
    return max(max(json.loads(l)["samples_ts"]) for l in open(f"{out}/{f}") if l.strip())
for test, kind in ((f"pp{p}", "pp"), (f"tg{g}@d{p}", "tg")):
    b, n = best(f"base-{kind}.json"), best(f"native-{kind}.json")
    print(f"{name:<22} {test:<11} {b:11.1f} {n:11.1f} {b / n:7.3f}")
PY
done
