#!/usr/bin/env bash
# THE main command (README): install dependencies, build, and run the default
# simulation scenario, printing its summary.
set -euo pipefail
cd "$(dirname "$0")/.."
. tools/lib-deps.sh
microtcp_install_deps
cmake --preset default >/dev/null
cmake --build --preset default -j "$(nproc 2>/dev/null || echo 2)" >/dev/null
sim=build/default/sim/microtcp-sim
if [ ! -x "$sim" ]; then
  echo "quickstart: $sim was not built" >&2
  exit 1
fi
exec "$sim" run sim/scenarios/quickstart.ini "$@"
