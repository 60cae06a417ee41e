#!/usr/bin/env bash
# Drafts per hour on one machine with 1, 2 and 4 drafts decoded together in one llama.cpp
# context (EPICRISIS_PARALLEL), against llama.cpp's own `llama-batched-bench` run the same
# way in the same run.
#
#   scripts/bench-parallel.sh [--model qwen2.5-coder-0.5b] [--episodes 12] [--max-tokens 256]
#                             [--threads 2] [--sequences "1 2 4"] [--flash-attention off|on]
#
# Ours: a fresh SQLite site per case; `epicrisis batch` imports the first --episodes compact
# records of testdata/dev/train.jsonl and drafts them with one worker at --parallel N (N
# drafting threads, one context of N sequences); the figure is the batch's wall time
# (model loading included). The reference: llama-batched-bench with N sequences of a
# 512-token prompt and 128 generated tokens each (`-npp 512 -ntg 128 -npl 1,2,4`), in the
# same KV layout (unified, `-kvu`) and flash attention (--flash-attention, both sides); its overall tokens per
# second at N over at 1 is what batching can gain on this machine at all. Our scaling over
# that one is what our own work costs it (the prompts decoded alone, the checks, the
# database). The figures go in docs/benchmarks.md.
#
# epicrisis: the release build (EPICRISIS_BIN overrides); llama-batched-bench: built like
# llama-bench in scripts/bench-llama.sh (same pinned source, same CPU level).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
MODEL=qwen2.5-coder-0.5b EPISODES=12 MAX_TOKENS=256 THREADS=2 SEQUENCES="1 2 4" FA=off
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --episodes) EPISODES="$2"; shift 2 ;;
    --max-tokens) MAX_TOKENS="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --sequences) SEQUENCES="$2"; shift 2 ;;
    --flash-attention) FA="$2"; shift 2 ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
LEVEL="$(rust_cpu_level)"
BATCHED_BENCH="$(need_llama_tool "$LEVEL" llama-batched-bench)"
need_rust
BIN="$(bench_epicrisis_bin)"
model="$(python3 tools/models/fetch.py "$MODEL")"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
head -n "$EPISODES" testdata/dev/train.jsonl >"$OUT/altas.jsonl"

# Seconds for one batch of the episodes with $1 drafts decoded together.
batch_seconds() {
  local n=$1 site="$OUT/site-$1"
  mkdir -p "$site"
  (
    cd "$site"
    export DATABASE_URL="sqlite:$site/epicrisis.db"
    echo "bench-password-123" | "$BIN" users add bench --role medico >/dev/null 2>&1
    local t0 t1
    t0=$(date +%s.%N)
    "$BIN" batch "$OUT/altas.jsonl" --as bench --engine local --model "$model" --threads "$THREADS" \
      --max-tokens "$MAX_TOKENS" --parallel "$n" --flash-attention "$FA" --report "$site/report.json" 2>"$site/batch.log" \
      || { cat "$site/batch.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    python3 -c "print(float('$t1') - float('$t0'))"
  )
}

SECS=()
for n in $SEQUENCES; do
  say "epicrisis: $EPISODES drafts at --parallel $n"
  SECS+=("$n:$(batch_seconds "$n")")
done

NPL=$(echo "$SEQUENCES" | tr ' ' ',')
MAXN=$(echo "$SEQUENCES" | tr ' ' '\n' | sort -n | tail -n1)
say "llama-batched-bench -npp 512 -ntg 128 -npl $NPL -kvu -t $THREADS"
"$BATCHED_BENCH" -m "$model" -t "$THREADS" -tb "$THREADS" -c $((MAXN * 640)) -b 512 -ub 512 -kvu -fa "$FA" \
  -npp 512 -ntg 128 -npl "$NPL" --output-format jsonl >"$OUT/ref.jsonl" 2>"$OUT/ref.log" \
  || { tail -n 20 "$OUT/ref.log" >&2; exit 1; }

python3 - "$OUT" "$EPISODES" "$MODEL" "$THREADS" "${SECS[@]}" <<'EOF'
import json, sys
out, n, model, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ours = {int(k): float(v) for k, v in (a.split(":") for a in sys.argv[5:])}
ref = {}
for path in (f"{out}/ref.jsonl", f"{out}/ref.log"):
    for line in open(path):
        line = line.strip()
        if line.startswith("{") and '"pl"' in line:
            r = json.loads(line)
            ref[r["pl"]] = r
base = min(ours)
print(f"model {model}, {n} compact records, {threads} threads, one worker")
print(f"{'sequences':>9} {'drafts/hour':>12} {'scaling':>8} {'ref tok/s':>10} {'ref tg tok/s':>13} {'ref scaling':>12} {'ours/ref':>9}")
for k in sorted(ours):
    d = n * 3600 / ours[k]
    s = ours[base] / ours[k]
    r = ref.get(k)
    if r and base in ref:
        rs = r["speed"] / ref[base]["speed"]
        print(f"{k:>9} {d:12.0f} {s:8.2f} {r['speed']:10.1f} {r['speed_tg']:13.1f} {rs:12.2f} {s / rs:9.2f}")
    else:
        print(f"{k:>9} {d:12.0f} {s:8.2f} {'-':>10}")
for k in sorted(ours):
    items = json.load(open(f"{out}/site-{k}/report.json"))["items"]
    secs = sorted(i["seconds"] for i in items if i.get("seconds") is not None)
    ready = sum(1 for i in items if i["state"] == "ready")
    med = f"{secs[len(secs) // 2]:.1f}" if secs else "-"
    print(f"--parallel {k}: {ready}/{len(items)} ready, median {med} s per draft")
EOF
