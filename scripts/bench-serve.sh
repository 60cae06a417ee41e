#!/usr/bin/env bash
# Load benchmark of `epicrisis serve` on loopback (bounded in count and time):
# requests/s and latency (p50/p99) for live validation and for the episode page with 50
# concurrent clients (wrk), then 20 generation jobs for 20 episodes arriving at once (how many are
# queued, how many get 429, whether every accepted job finishes and the server lives).
#
#   scripts/bench-serve.sh [--engine deterministic|local] [--model FILE.gguf] [--seconds 10]
#
# Uses target/release/epicrisis when present (else the debug build); EPICRISIS_BIN overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
need_packages wrk curl python3
T="${CARGO_TARGET_DIR:-$HOME/.cache/epicrisis/target}"
BIN="${EPICRISIS_BIN:-}"
[ -z "$BIN" ] && { [ -x "$T/release/epicrisis" ] && BIN="$T/release/epicrisis" || BIN="$T/debug/epicrisis"; }
SECONDS_RUN=10
ARGS=(--engine deterministic)
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) SECONDS_RUN="$2"; shift 2 ;;
    --engine) ARGS=(--engine "$2"); shift 2 ;;
    --model) ARGS+=(--model "$2"); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
W=$(mktemp -d)
trap 'kill $SRV 2>/dev/null || true; rm -rf "$W"' EXIT
export EPICRISIS_QUEUE_SIZE=8
bench_server "$W/db/bench.db" bench "$W/serve.log" "${ARGS[@]}"
curl -fs -H "$AUTH" --data-binary @testdata/episodes/episodio_1416169.json "$URL/api/v1/episodes" >/dev/null
JOB=$(curl -fs -H "$AUTH" -X POST "$URL/api/v1/episodes/1416169/drafts" | python3 -c 'import json,sys;print(json.load(sys.stdin)["eventsUrl"])')
curl -fs -N -H "$AUTH" "$URL$JOB" >/dev/null
TEXT=$(curl -fs -H "$AUTH" "$URL/api/v1/episodes/1416169/versions" | python3 -c 'import json,sys;print(json.load(sys.stdin)["versions"][-1]["id"])')
curl -fs -H "$AUTH" "$URL/api/v1/versions/$TEXT" | python3 -c 'import json,sys;print(json.dumps({"text":json.load(sys.stdin)["text"]}))' > "$W/body.json"
cat > "$W/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $TOKEN"
local f = io.open("$W/body.json", "r"); wrk.body = f:read("*a"); f:close()
LUA
cat > "$W/get.lua" <<LUA
wrk.headers["Authorization"] = "Bearer $TOKEN"
LUA
echo "== binary: $BIN; engine: ${ARGS[*]}; $(nproc) cores"
echo "== live validation (POST /api/v1/episodes/:id/validate, $(wc -c < "$W/body.json") bytes), 50 clients, ${SECONDS_RUN}s"
wrk -t2 -c50 -d"${SECONDS_RUN}s" --latency -s "$W/post.lua" "$URL/api/v1/episodes/1416169/validate" | grep -E "Requests/sec|50%|99%|Non-2xx|errors"
echo "== episode page (GET /episodios/:id, audited), 50 clients, ${SECONDS_RUN}s"
wrk -t2 -c50 -d"${SECONDS_RUN}s" --latency -s "$W/get.lua" "$URL/episodios/1416169" | grep -E "Requests/sec|50%|99%|Non-2xx|errors"
echo "== 20 generation jobs at once, for 20 episodes (queue size 8)"
# One draft job per episode at a time (a second request gets the running one back), so
# the burst needs 20 episodes: the same data under 20 ids.
for i in $(seq 20); do
  curl -fs -H "$AUTH" --data-binary @testdata/episodes/episodio_1416169.json "$URL/api/v1/episodes?id=burst-$i" >/dev/null
done
PIDS=()
for i in $(seq 20); do
  curl -s -o "$W/job$i.json" -w "%{http_code}\n" -H "$AUTH" -X POST "$URL/api/v1/episodes/burst-$i/drafts" > "$W/code$i" &
  PIDS+=($!)
done
wait "${PIDS[@]}"
ACCEPTED=$(cat "$W"/code* | grep -c '^202$' || true)
REFUSED=$(cat "$W"/code* | grep -c '^429$' || true)
echo "accepted (202): $ACCEPTED; refused with 429 + Retry-After: $REFUSED; other: $((20 - ACCEPTED - REFUSED))"
T0=$(date +%s.%N)
DONE=0
for i in $(seq 20); do
  if grep -q eventsUrl "$W/job$i.json"; then
    EV=$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))["eventsUrl"])' "$W/job$i.json")
    curl -s -N -H "$AUTH" --max-time 600 "$URL$EV" | grep -q '"done"\|"status":"done"' && DONE=$((DONE + 1))
  fi
done
echo "accepted jobs finished: $DONE/$ACCEPTED in $(python3 -c "import sys;print(round(float(sys.argv[2])-float(sys.argv[1]),2))" "$T0" "$(date +%s.%N)") s after the burst"
curl -fs "$URL/api/health" >/dev/null && echo "server alive: yes" || echo "server alive: NO"
