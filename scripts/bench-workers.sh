#!/usr/bin/env bash
# Drafts per hour with one and with two drafting processes, each with a core of its own
# (one thread), against llama.cpp's own llama-bench run the same way in the same run.
#
#   scripts/bench-workers.sh [--model qwen2.5-coder-0.5b] [--episodes 12] [--max-tokens 256]
#
# Ours: a fresh SQLite site per case; `epicrisis batch` imports the first --episodes
# compact records of testdata/dev/train.jsonl and drafts them with its own worker, with
# one more `epicrisis worker` process beside it in the second case; the figure is the
# batch's wall time (model loading included). The reference: llama-bench `-pg 512,128 -t 1`
# alone, then two llama-bench processes at once; their summed speed over the single one is
# what two processes can gain on this machine's cores and memory at all. Our ratio over
# that one is what our own work costs the scaling (the database, the queue, the checks).
# On a machine with more cores, drafts per hour with N workers ≈ N × (one worker's figure)
# × the reference's scaling for N processes (run llama-bench the same way there).
#
# epicrisis: the release build (EPICRISIS_BIN overrides); llama-bench: as in
# scripts/bench-llama.sh (same CPU level). The machine must be quiet.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
MODEL=qwen2.5-coder-0.5b EPISODES=12 MAX_TOKENS=256
while [ $# -gt 0 ]; do
  case "$1" in
    --model) MODEL="$2"; shift 2 ;;
    --episodes) EPISODES="$2"; shift 2 ;;
    --max-tokens) MAX_TOKENS="$2"; shift 2 ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
LEVEL="$(rust_cpu_level)"
LLAMA_BENCH="$(need_llama_bench "$LEVEL")"
need_rust
BIN="$(bench_epicrisis_bin)"
model="$(python3 tools/models/fetch.py "$MODEL")"
OUT=$(mktemp -d)
PIDS=()
trap 'for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; rm -rf "$OUT"' EXIT
head -n "$EPISODES" testdata/dev/train.jsonl >"$OUT/altas.jsonl"
DRAFT=(--engine local --model "$model" --threads 1 --max-tokens "$MAX_TOKENS")

# Seconds for one batch of the episodes with $1 drafting processes.
batch_seconds() {
  local n=$1 site="$OUT/site-$1"
  mkdir -p "$site"
  (
    cd "$site"
    export DATABASE_URL="sqlite:$site/epicrisis.db"
    echo "bench-password-123" | "$BIN" users add bench --role medico >/dev/null 2>&1
    local extra=()
    for _ in $(seq 2 "$n"); do
      "$BIN" worker "${DRAFT[@]}" 2>"$site/worker.log" &
      extra+=("$!")
    done
    local t0 t1
    t0=$(date +%s.%N)
    "$BIN" batch "$OUT/altas.jsonl" --as bench "${DRAFT[@]}" --report "$site/report.json" 2>"$site/batch.log" \
      || { cat "$site/batch.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    for p in "${extra[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
    python3 -c "print(float('$t1') - float('$t0'))"
  )
}

say "epicrisis: $EPISODES drafts with 1 worker, then with 2 (one thread each)"
one=$(batch_seconds 1)
two=$(batch_seconds 2)

say "llama-bench -pg 512,128 -t 1: one process, then two at once"
LB=("$LLAMA_BENCH" -m "$model" -t 1 -p 0 -n 0 -pg 512,128 -r 2 -o json)
"${LB[@]}" >"$OUT/lb-1.json" 2>/dev/null
"${LB[@]}" >"$OUT/lb-2a.json" 2>/dev/null & a=$!
"${LB[@]}" >"$OUT/lb-2b.json" 2>/dev/null & b=$!
wait "$a" "$b"

python3 - "$OUT" "$EPISODES" "$one" "$two" "$MODEL" <<'EOF'
import json, sys
out, n, one, two, model = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ts = lambda f: json.load(open(f"{out}/{f}"))[0]["avg_ts"]
ref1, ref2 = ts("lb-1.json"), ts("lb-2a.json") + ts("lb-2b.json")
d1, d2 = n * 3600 / one, n * 3600 / two
print(f"model {model}, {n} compact records, one thread per process")
print(f"{'':28} {'1 process':>10} {'2 processes':>12} {'scaling':>8}")
print(f"{'epicrisis drafts/hour':28} {d1:10.0f} {d2:12.0f} {d2 / d1:8.2f}")
print(f"{'llama-bench pp512+tg128 t/s':28} {ref1:10.1f} {ref2:12.1f} {ref2 / ref1:8.2f}")
print(f"our scaling over llama.cpp's: {(d2 / d1) / (ref2 / ref1):.2f}")
for case in ("site-1", "site-2"):
    items = json.load(open(f"{out}/{case}/report.json"))["items"]
    secs = sorted(i["seconds"] for i in items if i.get("seconds") is not None)
    ready = sum(1 for i in items if i["state"] == "ready")
    print(f"{case}: {ready}/{len(items)} ready, median {secs[len(secs) // 2]:.1f} s per draft")
EOF
