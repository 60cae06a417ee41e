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
# sha256, built once with the flags the crate uses here (Release, OpenMP, native CPU
# kernels) and cached under ~/.cache/epicrisis/llama-bench/. epicrisis: the release build
# of `epicrisis-dev bench` (EPICRISIS_DEV_BIN overrides).
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

LCP_VERSION=0.3.36
LCP_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
BENCH_DIR="$CACHE/llama-bench/$LCP_VERSION"
LLAMA_BENCH="$BENCH_DIR/build/bin/llama-bench"

build_llama_bench() {
  need_packages build-essential cmake python3-pip
  local sdist="$BENCH_DIR/llama_cpp_python-$LCP_VERSION.tar.gz"
  mkdir -p "$BENCH_DIR"
  if [ ! -f "$sdist" ] || ! echo "$LCP_SHA256  $sdist" | sha256sum -c --quiet 2>/dev/null; then
    say "fetching llama-cpp-python $LCP_VERSION (source package, for llama.cpp's llama-bench)"
    python3 -m pip download --quiet --no-deps --no-binary :all: --no-build-isolation \
      "llama-cpp-python==$LCP_VERSION" -d "$BENCH_DIR" 2>/dev/null \
      || python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$LCP_VERSION" -d "$BENCH_DIR"
    echo "$LCP_SHA256  $sdist" | sha256sum -c --quiet \
      || { echo "error: $sdist does not have the pinned sha256 $LCP_SHA256" >&2; exit 2; }
  fi
  rm -rf "$BENCH_DIR/src" && mkdir -p "$BENCH_DIR/src"
  tar -xzf "$sdist" -C "$BENCH_DIR/src" --strip-components=1
  # The crate builds ggml with GGML_NATIVE when rustc targets the native CPU (see
  # .cargo/config.toml). On CPUs that advertise AMX tiles a native build crashed in the
  # first decode (docs/benchmarks.md): there, name the same instruction sets one by one.
  local cpu=(-DGGML_NATIVE=ON)
  if grep -qw amx_tile /proc/cpuinfo; then
    cpu=(-DGGML_NATIVE=OFF)
    for f in avx avx2 fma f16c avx512f avx512_vbmi avx512_vnni avx512_bf16 avx_vnni bmi2; do
      grep -qw "$f" /proc/cpuinfo && cpu+=("-DGGML_$(echo "$f" | tr a-z A-Z | sed 's/AVX512F/AVX512/')=ON")
    done
  fi
  say "building llama-bench (Release, OpenMP, ${cpu[*]}): a few minutes, once"
  cmake -S "$BENCH_DIR/src/vendor/llama.cpp" -B "$BENCH_DIR/build" -DCMAKE_BUILD_TYPE=Release \
    -DGGML_OPENMP=ON "${cpu[@]}" -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
  cmake --build "$BENCH_DIR/build" --target llama-bench -j "$(nproc)" >/dev/null
}

[ -x "$LLAMA_BENCH" ] || build_llama_bench
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
