#!/usr/bin/env bash
# Find or build packetdrill (google/packetdrill; not packaged by Debian) and
# print the path of its binary on stdout. We test with it; we do not ship it.
#
#   tools/packetdrill/build-packetdrill.sh [BUILD_DIR]
#
# Looks, in order, for:
#   1. $PACKETDRILL            a packetdrill binary you built yourself
#   2. packetdrill on PATH
#   3. BUILD_DIR/packetdrill/packetdrill, built earlier by this script
#   4. $PACKETDRILL_SRC        a packetdrill source tree (its gtests/net/packetdrill,
#                              or that directory itself): built into BUILD_DIR
#   5. ../shared/third_party/packetdrill-*.tar.gz next to the project (or
#      /work/shared/third_party): unpacked and built into BUILD_DIR
# BUILD_DIR defaults to build/. Building needs gcc, make, bison and flex.
# Exit 0 with the path printed, or 1 with one line on stderr saying why not.
# exit codes: 0 ok, 1 failure found (no packetdrill, build failed), 2 usage error
set -euo pipefail
case "${1:-}" in
  --help|-h) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
  --version) echo "build-packetdrill.sh (microtcp) 0.1.0"; exit 0 ;;
  -*) echo "build-packetdrill.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=$(mkdir -p "${1:-$root/build}" && cd "${1:-$root/build}" && pwd)
out="$build_dir/packetdrill"

if [ -n "${PACKETDRILL:-}" ]; then
  [ -x "$PACKETDRILL" ] || { echo "packetdrill: \$PACKETDRILL=$PACKETDRILL is not an executable" >&2; exit 1; }
  echo "$PACKETDRILL"; exit 0
fi
if command -v packetdrill >/dev/null 2>&1; then command -v packetdrill; exit 0; fi
if [ -x "$out/packetdrill" ]; then echo "$out/packetdrill"; exit 0; fi

src=""
if [ -n "${PACKETDRILL_SRC:-}" ]; then
  for d in "$PACKETDRILL_SRC/gtests/net/packetdrill" "$PACKETDRILL_SRC"; do
    [ -f "$d/packetdrill.c" ] && src=$d && break
  done
  [ -n "$src" ] || { echo "packetdrill: \$PACKETDRILL_SRC=$PACKETDRILL_SRC has no packetdrill.c" >&2; exit 1; }
fi
if [ -z "$src" ]; then
  tarball=""
  for t in "$root"/../shared/third_party/packetdrill-*.tar.gz /work/shared/third_party/packetdrill-*.tar.gz; do
    [ -f "$t" ] && tarball=$t && break
  done
  if [ -z "$tarball" ]; then
    echo "packetdrill: not found (set \$PACKETDRILL or \$PACKETDRILL_SRC, put it on PATH, or place packetdrill-*.tar.gz in ../shared/third_party/)" >&2
    exit 1
  fi
  rm -rf "$out.src" && mkdir -p "$out.src"
  tar xzf "$tarball" -C "$out.src"
  src=$(dirname "$(find "$out.src" -name packetdrill.c -path '*gtests/net/packetdrill/*' | head -1)")
  [ -d "$src" ] || { echo "packetdrill: $tarball holds no gtests/net/packetdrill" >&2; exit 1; }
fi
for tool in gcc make bison flex; do
  command -v $tool >/dev/null 2>&1 || { echo "packetdrill: building it needs $tool (apt-get install $tool)" >&2; exit 1; }
done

# Build in a copy, so a user's source tree stays clean.
rm -rf "$out.build" && cp -r "$src" "$out.build"
log="$out.build.log"
if ! (cd "$out.build" && ./configure && make -j"$(nproc 2>/dev/null || echo 2)" packetdrill) >"$log" 2>&1; then
  echo "packetdrill: build failed, see $log" >&2
  exit 1
fi
mkdir -p "$out"
cp "$out.build/packetdrill" "$out/packetdrill"
echo "$out/packetdrill"
