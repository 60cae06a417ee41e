#!/usr/bin/env bash
# Checks every synthetic episode in this folder with an already-built epicrisis binary:
#   1. `generate --engine deterministic` must not refuse the episode (exit 0 or 1, never 2);
#      the data warnings it prints ("aviso sobre los datos: ...") are counted;
#   2. `validate` of the .reference.txt against its episode must report 0 errors.
# Columns: gen = exit code of generate; warn = data warnings printed by generate;
# ref_err = errors reported on the reference; ref_unsup = "Unsupported" warnings on it
# (omission warnings are not counted: a reference is only the evolution narrative).
# Usage: testdata/rich/check.sh path/to/epicrisis [-v]
#   -v  also print the warnings and the reference errors under each line.
# Exit status: 0 when every episode is read and every reference has 0 errors, else 1.
set -u
bin=${1:?usage: check.sh path/to/epicrisis [-v]}
verbose=${2:-}
dir=$(cd "$(dirname "$0")" && pwd)
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-44s %4s %5s %7s %8s\n' file gen warn ref_err ref_unsup
for ep in "$dir"/sint-*.json; do
  name=$(basename "$ep" .json)
  ref="$dir/$name.reference.txt"
  "$bin" generate --engine deterministic "$ep" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  warns=$(grep -c '^aviso sobre los datos' "$tmp/out" "$tmp/err" | awk -F: '{s+=$NF} END {print s+0}')
  if [ -f "$ref" ]; then
    "$bin" validate "$ep" "$ref" >"$tmp/val" 2>&1
    vrc=$?
    errs=$(grep -c '^error' "$tmp/val")
    unsup=$(grep -c '^advertencia.*Unsupported' "$tmp/val")
    if [ "$vrc" -ge 2 ]; then errs="rc$vrc"; fi
  else
    errs="noref"; unsup="-"
  fi
  printf '%-44s %4s %5s %7s %8s\n' "$name" "$rc" "$warns" "$errs" "$unsup"
  if [ "$rc" -ge 2 ] || [ "$errs" != 0 ]; then fail=1; fi
  if [ "$verbose" = "-v" ]; then
    grep -h '^aviso sobre los datos' "$tmp/out" "$tmp/err" | sed 's/^/    /'
    [ -f "$tmp/val" ] && grep -E '^error|^advertencia.*Unsupported' "$tmp/val" | sed 's/^/    /'
    if [ "$rc" -ge 2 ]; then sed 's/^/    /' "$tmp/err"; fi
  fi
  rm -f "$tmp/val"
done
exit $fail
