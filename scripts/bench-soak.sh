#!/usr/bin/env bash
# Soak benchmark of `epicrisis serve` on loopback (issue 17, item 7): 50 simulated
# clinicians, each on an episode of their own, open the page, validate while typing and
# save, for 10 minutes, while drafts queue; then `audit verify` and `versions verify`.
# Prints p50/p99 per kind of request, every error, and the server's memory over time.
#
#   scripts/bench-soak.sh [--clinicians 50] [--seconds 600] [--engine deterministic|local] [--model FILE] [--grow]
#
# Each save edits the first draft again (fixed-size texts); --grow appends to the latest
# version instead, so the text and the work per request grow all run.
#
# Uses target/release/epicrisis when present (else the debug build); EPICRISIS_BIN overrides.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/common.sh
need_packages curl python3
T="${CARGO_TARGET_DIR:-$HOME/.cache/epicrisis/target}"
BIN="${EPICRISIS_BIN:-}"
[ -z "$BIN" ] && { [ -x "$T/release/epicrisis" ] && BIN="$T/release/epicrisis" || BIN="$T/debug/epicrisis"; }
N=50
SECONDS_RUN=600
ARGS=(--engine deterministic)
GROW=()
while [ $# -gt 0 ]; do
  case "$1" in
    --clinicians) N="$2"; shift 2 ;;
    --seconds) SECONDS_RUN="$2"; shift 2 ;;
    --engine) ARGS=(--engine "$2"); shift 2 ;;
    --model) ARGS+=(--model "$2"); shift 2 ;;
    --grow) GROW=(--grow); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
W=$(mktemp -d)
trap 'kill $SRV 2>/dev/null || true; rm -rf "$W"' EXIT
export EPICRISIS_QUEUE_SIZE=100 EMBEDDINGS_TYPE=none
bench_server "$W/db/soak.db" soak "$W/serve.log" "${ARGS[@]}"
# N copies of the example episode under their own ids, each with a first draft, and 5
# more for the drafting queue (a draft is a new version: on a clinician's episode it
# would make their next save a 409, rightly).
IDS=()
DRAFT_IDS=()
for i in $(seq "$((N + 5))"); do
  ID=$((9000000 + i))
  python3 -c 'import json,sys;d=json.load(open(sys.argv[1]));d["id_atencion"]=int(sys.argv[2]);print(json.dumps(d))' \
    testdata/episodes/episodio_1416169.json "$ID" > "$W/ep.json"
  curl -fs -H "$AUTH" --data-binary @"$W/ep.json" "$URL/api/v1/episodes" >/dev/null
  EV=$(curl -fs -H "$AUTH" -X POST "$URL/api/v1/episodes/$ID/drafts" | python3 -c 'import json,sys;print(json.load(sys.stdin)["eventsUrl"])')
  curl -fs -N -H "$AUTH" --max-time 600 "$URL$EV" >/dev/null
  if [ "$i" -le "$N" ]; then IDS+=("$ID"); else DRAFT_IDS+=("$ID"); fi
done
echo "== binary: $BIN; engine: ${ARGS[*]}; $(nproc) cores; $N clinicians for ${SECONDS_RUN}s"
python3 tools/bench/soak.py --url "$URL" --token="$TOKEN" --pid "$SRV" --seconds "$SECONDS_RUN" \
  --episodes "$(IFS=,; echo "${IDS[*]}")" --draft-episodes "$(IFS=,; echo "${DRAFT_IDS[*]}")" "${GROW[@]}"
kill "$SRV"; wait "$SRV" 2>/dev/null || true
echo "== after the run"
"$BIN" audit verify | head -n 5
"$BIN" versions verify | tail -n 1
grep -c '^aviso' "$W/serve.log" | sed 's/^/warnings in the server log: /' || true
