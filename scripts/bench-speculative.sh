#!/usr/bin/env bash
# Does speculative decoding pay on this machine? Asked of llama.cpp itself, on the narrative
# task's kind of prompt: the bundled episode's notes, then «write the evolution», in the
# target model's chat format. Prints, for the target model, generation tokens/s
#   - plain (llama-bench `-n G -d P`, at the prompt's depth),
#   - with a draft model (llama-speculative-simple, greedy, exact acceptance) for each
#     --draft-max,
#   - with prompt-lookup drafts (llama-lookup, n-grams of the prompt),
# and each one's ratio to plain. The same pinned llama.cpp source, CPU level and threads as
# scripts/bench-llama.sh (need_llama_tool in scripts/common.sh; built once, cached).
#
#   scripts/bench-speculative.sh [--target qwen2.5-coder-1.5b] [--draft qwen2.5-coder-0.5b]
#                                [--gen 128] [--threads 2] [--draft-max "4 8"]
#
# What it answers for epicrisis: whether a draft-model option (issue #15, item 3) can beat
# the prompt-lookup drafts the generator already has, before anyone builds one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT"
TARGET=qwen2.5-coder-1.5b DRAFT=qwen2.5-coder-0.5b GEN=128 THREADS=2 DRAFT_MAX="4 8"
while [ $# -gt 0 ]; do
  case "$1" in
    --target) TARGET="$2"; shift 2 ;;
    --draft) DRAFT="$2"; shift 2 ;;
    --gen) GEN="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --draft-max) DRAFT_MAX="$2"; shift 2 ;;
    *) echo "unknown argument $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
LEVEL="$(rust_cpu_level)"
BENCH="$(need_llama_bench "$LEVEL")"
SPEC="$(need_llama_tool "$LEVEL" llama-speculative-simple)"
LOOKUP="$(need_llama_tool "$LEVEL" llama-lookup)"
target="$(python3 tools/models/fetch.py "$TARGET")"
draft="$(python3 tools/models/fetch.py "$DRAFT")"

OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# The prompt: the example episode's daily notes (synthetic/de-identified test data) and the
# instruction, in ChatML (Qwen's format; llama.cpp parses the special tokens).
python3 - testdata/episodes/episodio_1416169.json "$OUT/prompt.txt" <<'PY'
import json, sys
ep = json.load(open(sys.argv[1], encoding="utf-8"))
notes = ep.get("evolucion_resumen") or []
lines = []
for n in notes:
    if isinstance(n, dict):
        lines.append(" ".join(str(v) for v in n.values() if isinstance(v, (str, int))))
    else:
        lines.append(str(n))
user = ("Notas de evolución de la hospitalización:\n" + "\n".join(lines) +
        "\n\nRedacta en un párrafo, en español clínico, la evolución del paciente durante la "
        "hospitalización, usando solo lo que dicen las notas.")
open(sys.argv[2], "w", encoding="utf-8").write(
    "<|im_start|>system\nEres un médico que redacta epicrisis.<|im_end|>\n"
    f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
PY

# A failed run: llama.cpp's error lines only (its log echoes the prompt, the notes).
fail() { echo "error: $(basename "$1" .log) failed:" >&2; grep -E ' E |error' "$1" | tail -5 >&2; exit 1; }
common=(-t "$THREADS" -c 8192 -n "$GEN" --temp 0 -f "$OUT/prompt.txt")
# The prompt's length in target tokens, from the lookup run's «encoded N tokens».
"$LOOKUP" -m "$target" "${common[@]}" --spec-draft-n-max 8 >"$OUT/lookup.log" 2>&1 || fail "$OUT/lookup.log"
speed() { sed -n 's/.*decoded *[0-9]* tokens in *[0-9.]* seconds, speed: *\([0-9.]*\) t\/s.*/\1/p' "$1" | tail -1; }
field() { sed -n "s/.*$2 *= *\([0-9.]*\).*/\1/p" "$1" | tail -1; }
depth=$(sed -n 's/.*encoded *\([0-9]*\) tokens.*/\1/p' "$OUT/lookup.log" | tail -1)
"$BENCH" -m "$target" -t "$THREADS" -r 2 -p 0 -n "$GEN" -d "$depth" -o json >"$OUT/plain.json" 2>/dev/null
plain=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(round(max(x["avg_ts"] for x in r), 2))' "$OUT/plain.json")

printf 'target %s, draft %s, prompt %s tokens, %s generated, %s threads\n' "$TARGET" "$DRAFT" "$depth" "$GEN" "$THREADS"
printf '%-34s %9s %7s %10s\n' how tok/s ratio accepted
printf '%-34s %9s %7s %10s\n' "plain (llama-bench -d $depth)" "$plain" 1.00 -
# One row from a speculative run's log: its speed, the ratio to plain, the share accepted.
row() {
  local s; s=$(speed "$2")
  printf '%-34s %9s %7s %9s%%\n' "$1" "$s" "$(python3 -c "print(f'{$s/$plain:.2f}')")" "$(field "$2" accept)"
}
for k in $DRAFT_MAX; do
  "$SPEC" -m "$target" -md "$draft" "${common[@]}" --spec-type draft-simple --spec-draft-n-max "$k" --spec-draft-n-min 0 >"$OUT/spec-$k.log" 2>&1 \
    || fail "$OUT/spec-$k.log"
  row "draft model, up to $k" "$OUT/spec-$k.log"
done
row "prompt lookup, up to 8" "$OUT/lookup.log"
