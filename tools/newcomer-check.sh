#!/usr/bin/env bash
# The newcomer check (issue 19): what a new user does, scripted. In a fresh
# Debian 12 (minbase) chroot, as root and without sudo: clone this repository
# (its committed HEAD), run the README's first command (tools/quickstart.sh:
# it must install what it needs and print "result: ok"), then, unless
# --quick, the README's second command with CI=true (tools/run-tests.sh: it
# installs the rest, runs every test including every runnable README block,
# tests/test_readme_commands.py, and fails on any skip for a missing package).
#
# usage: tools/newcomer-check.sh [--quick] [--keep] [DIR]
#   DIR     where the chroot lives (default /tmp/microtcp-newcomer; made by
#           debootstrap when missing, reused otherwise)
#   --quick only the quickstart: checks that the build package list suffices
#   --keep  keep DIR afterwards (default: remove a chroot this run created)
# Needs root, debootstrap and network access to deb.debian.org.
# exit codes: 0 ok, 1 failure found, 2 usage error or missing prerequisite
set -euo pipefail
quick=0 keep=0 dir=/tmp/microtcp-newcomer
for a in "$@"; do
  case "$a" in
  -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  --version) echo "newcomer-check (microtcp) 0.1.0"; exit 0 ;;
  --quick) quick=1 ;;
  --keep) keep=1 ;;
  -*) echo "newcomer-check: unknown option: $a (see --help)" >&2; exit 2 ;;
  *) dir=$a ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "newcomer-check: needs root (chroot, mounts)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "newcomer-check: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/.." && pwd)

created=0
if [ ! -x "$dir/bin/bash" ]; then
  echo "== debootstrap --variant=minbase bookworm $dir" >&2
  debootstrap --variant=minbase bookworm "$dir" http://deb.debian.org/debian >"$dir.debootstrap.log" 2>&1 ||
    { tail -20 "$dir.debootstrap.log" >&2; echo "newcomer-check: debootstrap failed" >&2; exit 2; }
  created=1
fi
mounts=("$dir")
# The chroot's / must be a mount point: `ip netns exec` remounts it
# (mount --make-rslave /), and the live tests run everything through it.
mount --bind "$dir" "$dir"
cleanup() {
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount -l "${mounts[i]}" 2>/dev/null || true; done
  if [ "$created" = 1 ] && [ "$keep" = 0 ]; then rm -rf --one-file-system "$dir" "$dir.debootstrap.log"; fi
}
trap cleanup EXIT
for m in proc sys dev dev/pts run; do
  mkdir -p "$dir/$m"
  case $m in
  proc) mount -t proc proc "$dir/proc" ;;
  run) mount -t tmpfs tmpfs "$dir/run" ;; # ip netns needs /run/netns
  *) mount --bind "/$m" "$dir/$m" ;;
  esac
  mounts+=("$dir/$m")
done
cp /etc/resolv.conf "$dir/etc/resolv.conf"
# Tools we test with but do not ship (packetdrill's source) sit next to the
# project as ../shared/third_party; give the chroot's clone the same neighbour.
for tp in "$repo/../shared/third_party" /work/shared/third_party; do
  if [ -d "$tp" ]; then
    mkdir -p "$dir/root/shared/third_party"
    mount --bind -o ro "$tp" "$dir/root/shared/third_party"
    mounts+=("$dir/root/shared/third_party")
    break
  fi
done
rm -rf "$dir/root/microtcp"
git clone -q --no-hardlinks "$repo" "$dir/root/microtcp"
echo "== as root in the chroot: tools/quickstart.sh" >&2
out=$(chroot "$dir" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  /bin/bash -c 'cd /root/microtcp && command -v sudo >/dev/null && echo "sudo is installed"; tools/quickstart.sh' 2>&1) ||
  { echo "$out" | tail -40 >&2; echo "newcomer-check: tools/quickstart.sh failed" >&2; exit 1; }
echo "$out" | tail -5 >&2
grep -q '^result: ok$' <<<"$out" || { echo "newcomer-check: no 'result: ok' from the quickstart" >&2; exit 1; }
if grep -q "sudo is installed" <<<"$out"; then echo "newcomer-check: the chroot has sudo: not a minbase" >&2; exit 1; fi
if [ "$quick" = 1 ]; then
  echo "newcomer-check: quickstart ok (--quick: the test command was not run)" >&2
  exit 0
fi
echo "== as root in the chroot: CI=true tools/run-tests.sh" >&2
chroot "$dir" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin CI=true \
  /bin/bash -c 'cd /root/microtcp && tools/run-tests.sh' ||
  { echo "newcomer-check: tools/run-tests.sh failed in the chroot" >&2; exit 1; }
echo "newcomer-check: ok" >&2
