#!/usr/bin/env bash
# Simulator benchmark (figures, not a test):
#  1. two hosts, 1 GiB bulk transfer, MTU 1500, no loss: simulated goodput per
#     wall-clock second (one core);
#  2. Linux TCP over a veth pair between two network namespaces (MTU 1500,
#     offloads off, iperf3 for 5 s), when root and `ip netns` are available,
#     and the ratio of the two, measured in the same run;
#  3. events per second and peak resident memory of the 1,000-host /
#     10,000-connection scenario.
# Knobs (tools/bench-all.sh uses them): SIM_BYTES (bulk size, default 1GiB),
# SIM_RUNS (bulk runs, the median wall time counts; default 3),
# IPERF_SECONDS (default 5), RESULTS=FILE (also append the figures there as
# key=value lines).
set -euo pipefail
cd "$(dirname "$0")/.."
sim=${SIM:-build/default/sim/microtcp-sim}
[ -x "$sim" ] || { echo "bench-sim: build first (cmake --preset default && cmake --build --preset default)" >&2; exit 2; }
sim_bytes=${SIM_BYTES:-1GiB}
iperf_s=${IPERF_SECONDS:-5}
sim_runs=${SIM_RUNS:-3}
case "$sim_runs" in ''|*[!0-9]*|0) echo "bench-sim: SIM_RUNS must be a positive integer" >&2; exit 2 ;; esac
results=${RESULTS:-/dev/null}
tmp=$(mktemp -d)
ns_a=mtcpbench-a-$$ ns_b=mtcpbench-b-$$
cleanup() {
  # the iperf3 server we started (if the client failed it would still be waiting)
  for n in "$ns_a" "$ns_b"; do
    for pid in $(ip netns pids "$n" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
  done
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

cat > "$tmp/bulk.ini" <<INI
[sim]
seed = 1
duration = 600s
[defaults]
link.latency = 50us
link.bandwidth = 40gbit
link.queue = 4MiB
sndbuf = 4MiB
rcvbuf = 4MiB
frames = 1024
max_tcp = 2
[host a]
ip = 10.0.0.1
[host b]
ip = 10.0.0.2
[flow bulk]
type = tcp-bulk
client = a
server = b
port = 5001
bytes = $sim_bytes
INI
# The same run sim_runs times (each one whole process, as a user runs it):
# the median wall time, since on a shared machine one run can lose a
# quarter of its time to other work.
walls=()
for _ in $(seq "$sim_runs"); do
  start=$(date +%s.%N)
  "$sim" run "$tmp/bulk.ini" --json "$tmp/bulk.json" --quiet
  end=$(date +%s.%N)
  walls+=("$(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.4f", b-a}')")
done
sim_bps=$(/usr/bin/python3 - "$tmp/bulk.json" "${walls[@]}" <<'PY'
import json, statistics, sys
d = json.load(open(sys.argv[1])); walls = sorted(float(w) for w in sys.argv[2:])
wall = statistics.median(walls)
f = d["flows"][0]
sim_s = (f["finished_us"] - f["start_us"]) / 1e6
print(f"{f['bytes'] * 8 / wall:.0f}")
runs = f"median of {len(walls)} runs, " if len(walls) > 1 else ""
print(f"simulator: {f['bytes'] / 2**30:.2f} GiB in {wall:.2f} s wall ({runs}{sim_s:.3f} s simulated): "
      f"{f['bytes'] * 8 / wall / 1e9:.2f} Gbit/s simulated goodput per wall second", file=sys.stderr)
PY
)

linux_bps=""
if [ "$(id -u)" = 0 ] && command -v iperf3 >/dev/null && ip netns add "$ns_a" 2>/dev/null; then
  ip netns add "$ns_b"
  ip link add veth-a-$$ netns "$ns_a" type veth peer name veth-b-$$ netns "$ns_b"
  ip -n "$ns_a" addr add 10.99.0.1/24 dev veth-a-$$
  ip -n "$ns_b" addr add 10.99.0.2/24 dev veth-b-$$
  for n in "$ns_a" "$ns_b"; do ip -n "$n" link set lo up; done
  ip -n "$ns_a" link set veth-a-$$ mtu 1500 up
  ip -n "$ns_b" link set veth-b-$$ mtu 1500 up
  if command -v ethtool >/dev/null; then
    ip netns exec "$ns_a" ethtool -K veth-a-$$ tso off gso off gro off >/dev/null 2>&1 || true
    ip netns exec "$ns_b" ethtool -K veth-b-$$ tso off gso off gro off >/dev/null 2>&1 || true
  fi
  ip netns exec "$ns_b" iperf3 -s -1 -D >/dev/null
  sleep 0.5
  linux_bps=$(ip netns exec "$ns_a" iperf3 -c 10.99.0.2 -t "$iperf_s" -J | /usr/bin/python3 -c \
    'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))')
  echo "linux veth (MTU 1500, offloads off, iperf3 $iperf_s s): $(echo "$linux_bps" | awk '{printf "%.2f", $1/1e9}') Gbit/s" >&2
  echo "ratio simulator / linux veth: $(awk -v a="$sim_bps" -v b="$linux_bps" 'BEGIN{printf "%.2f", a/b}')" >&2
  echo "veth_bps=$linux_bps" >>"$results"
else
  echo "linux veth: skipped (needs root, iperf3 and ip netns)" >&2
fi

echo "sim_bulk_bps=$sim_bps" >>"$results"

start=$(date +%s.%N)
/usr/bin/python3 tools/bench/measure.py --out "$tmp/scale.mem" --name scale1000 -- \
  "$sim" run sim/scenarios/scale-1000.ini --json "$tmp/scale.json" --quiet
end=$(date +%s.%N)
cat "$tmp/scale.mem" >>"$results"
/usr/bin/python3 - "$tmp/scale.json" "$start" "$end" "$tmp/scale.mem" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); wall = float(sys.argv[3]) - float(sys.argv[2])
done = sum(f["status"] == "done" for f in d["flows"])
rss = dict(l.strip().split("=") for l in open(sys.argv[4]))["scale1000_maxrss_kib"]
print(f"1000 hosts / 10000 connections: {d['events']} events in {wall:.2f} s wall = "
      f"{d['events'] / wall:,.0f} events/s ({done}/{len(d['flows'])} flows done), "
      f"peak RSS {int(rss) / 1024:.0f} MiB", file=sys.stderr)
PY
