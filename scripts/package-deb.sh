#!/usr/bin/env bash
# The Debian package of epicrisis: builds the release binary, then packages it with
# Debian's own dpkg-deb from a staged tree (no cargo-deb to compile). Everything the
# package holds comes from packaging/ (units, settings file, maintainer scripts, control);
# this script only stages it. Prints the .deb's path on the last line.
#
# Usage: bash scripts/package-deb.sh [--binary FILE] [--out DIR] [--compression xz|zstd|gzip|none] [--revision N]
#   --binary FILE   package this binary instead of building the release one (the tests
#                   package the debug build they already have)
#   --out DIR       where the .deb goes (default: $CARGO_TARGET_DIR/debian)
#   --compression   dpkg-deb's -Z (default xz)
#   --revision N    the Debian revision (default 1): epicrisis_<version>-<N>_<arch>.deb
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PKG="$ROOT/packaging"

BIN="" OUT="" COMPRESSION=xz REVISION=1
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BIN="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --compression) COMPRESSION="$2"; shift 2 ;;
    --revision) REVISION="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "error: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ -z "$BIN" ]; then
  source "$ROOT/scripts/common.sh"
  need_rust
  say "building epicrisis (release; about 20 minutes on 2 cores from scratch)"
  (cd "$ROOT" && cargo build --release --locked -q -p epicrisis)
  BIN="$CARGO_TARGET_DIR/release/epicrisis"
fi
[ -x "$BIN" ] || { echo "error: $BIN is not an executable file" >&2; exit 2; }
for tool in dpkg-deb md5sum; do
  command -v "$tool" >/dev/null 2>&1 || { echo "error: $tool is missing (a Debian system has it: dpkg, coreutils)" >&2; exit 2; }
done
OUT="${OUT:-${CARGO_TARGET_DIR:-$ROOT/target}/debian}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

# The version of the workspace ([workspace.package] in Cargo.toml).
VERSION="$(awk '/^\[workspace.package\]/{p=1;next} /^\[/{p=0} p && $1=="version"{gsub(/"/,"",$3); print $3; exit}' "$ROOT/Cargo.toml")"
[ -n "$VERSION" ] || { echo "error: no version in $ROOT/Cargo.toml [workspace.package]" >&2; exit 2; }
ARCH="$(dpkg --print-architecture)"

# Staged as debian/epicrisis under a work folder: where dpkg-shlibdeps expects a package.
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
STAGE="$WORK/debian/epicrisis"
umask 022
install -d "$STAGE/DEBIAN" "$STAGE/usr/bin" "$STAGE/lib/systemd/system" \
  "$STAGE/etc/epicrisis" "$STAGE/usr/share/doc/epicrisis"
# Debug information is left out (symbols stay: backtraces name functions); the release
# binary keeps line tables for a local build's backtraces, not for a package.
if command -v objcopy >/dev/null 2>&1; then
  objcopy --strip-debug "$BIN" "$STAGE/usr/bin/epicrisis"
else
  cp "$BIN" "$STAGE/usr/bin/epicrisis"
fi
chmod 0755 "$STAGE/usr/bin/epicrisis"
install -m 0644 "$PKG/systemd/epicrisis.service" "$PKG/systemd/epicrisis-worker.service" "$STAGE/lib/systemd/system/"
install -m 0640 "$PKG/epicrisis.env" "$STAGE/etc/epicrisis/epicrisis.env"
install -m 0644 "$PKG/debian/copyright" "$STAGE/usr/share/doc/epicrisis/copyright"
install -m 0644 "$ROOT/docs/operations.md" "$ROOT/README.md" "$STAGE/usr/share/doc/epicrisis/"
install -m 0644 "$ROOT/.env.example" "$STAGE/usr/share/doc/epicrisis/env.example"
install -m 0755 "$PKG/debian/postinst" "$PKG/debian/prerm" "$PKG/debian/postrm" "$STAGE/DEBIAN/"
install -m 0644 "$PKG/debian/conffiles" "$STAGE/DEBIAN/"

# The shared libraries the binary links (libc, libstdc++, libgomp for llama.cpp's OpenMP,
# OpenBLAS for the embeddings) with their versions, from dpkg-shlibdeps (dpkg-dev, part of build-essential); without
# it, bookworm's versions.
DEPENDS=""
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
  mkdir -p "$WORK/debian"
  printf 'Source: epicrisis\n\nPackage: epicrisis\nArchitecture: any\n' >"$WORK/debian/control"
  DEPENDS="$(cd "$WORK" && dpkg-shlibdeps -O debian/epicrisis/usr/bin/epicrisis 2>/dev/null | sed -n 's/^shlibs:Depends=//p')"
fi
DEPENDS="${DEPENDS:-libc6 (>= 2.35), libgcc-s1 (>= 4.2), libgomp1 (>= 6), libopenblas0, libstdc++6 (>= 11)}, passwd"
SIZE="$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)"
sed -e "s/@VERSION@/$VERSION-$REVISION/" -e "s/@ARCH@/$ARCH/" -e "s/@SIZE@/$SIZE/" \
  -e "s/@DEPENDS@/$DEPENDS/" "$PKG/debian/control" >"$STAGE/DEBIAN/control"
(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs -d '\n' md5sum) \
  >"$STAGE/DEBIAN/md5sums"

DEB="$OUT/epicrisis_${VERSION}-${REVISION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Z"$COMPRESSION" --build "$STAGE" "$DEB" >&2
echo "$DEB"
