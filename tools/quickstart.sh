#!/usr/bin/env bash
# THE main command (README): install dependencies, build the simulator, and run
# the default simulation scenario, printing its summary. Extra arguments go to
# `microtcp-sim run` (e.g. --seed 7 --pcap run.pcap --json run.json).
set -euo pipefail
case "${1:-}" in
-h | --help)
  echo "usage: tools/quickstart.sh [microtcp-sim run options, e.g. --seed 7 --pcap run.pcap --json run.json]"
  echo "As root it first installs the build packages (tools/lib-deps.sh: MICROTCP_DEBS_BUILD); then it"
  echo "builds microtcp-sim and runs sim/scenarios/quickstart.ini (see sim/README.md)."
  echo "exit codes: 0 ok, 1 failure found (build failed, or 3/4: invariant/liveness), 2 usage error"
  exit 0 ;;
--version) echo "quickstart (microtcp) 0.1.0"; exit 0 ;;
esac
cd "$(dirname "$0")/.."
. tools/lib-deps.sh
# shellcheck disable=SC2086 # one word per package
microtcp_install_deps $MICROTCP_DEBS_BUILD
sim=build/default/sim/microtcp-sim
cmake --preset default >/dev/null
# Only the simulator (and the core it links): the main job does not wait for
# the test binaries to build.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! cmake --build --preset default -j "$(nproc 2>/dev/null || echo 2)" --target microtcp-sim >"$log" 2>&1; then
  cat "$log" >&2
  echo "quickstart: building $sim failed" >&2
  exit 1
fi
if [ ! -x "$sim" ]; then
  echo "quickstart: $sim was not built" >&2
  exit 1
fi
rm -f "$log"
trap - EXIT
exec "$sim" run sim/scenarios/quickstart.ini "$@"
