#!/usr/bin/env bash
# THE main command (README): install dependencies, build the simulator, and run
# the default simulation scenario, printing its summary. Extra arguments go to
# `microtcp-sim run` (e.g. --seed 7 --pcap run.pcap --json run.json).
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lib-deps.sh
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
