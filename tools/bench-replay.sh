#!/usr/bin/env bash
# Feed-mode benchmark of microtcp-replay (a figure, not a test): writes a
# capture of FRAMES frames (default 1,000,000: 4 TCP connections streaming
# 64-byte segments into a sink, an ICMP echo request every 8th frame, an ARP
# request every 1000th; see tools/replay/make-bench-capture.py), then feeds it
# RUNS times (default 3) and prints frames/s of each run and the best, by
# wall clock and per CPU second of the process.
#
#   tools/bench-replay.sh            # 1M frames, 3 runs
#   FRAMES=5000000 RUNS=1 tools/bench-replay.sh
set -euo pipefail
cd "$(dirname "$0")/.."
replay=${REPLAY:-build/default/tools/replay/microtcp-replay}
frames=${FRAMES:-1000000}
runs=${RUNS:-3}
[ -x "$replay" ] || { echo "bench-replay: build first (cmake --preset default && cmake --build --preset default)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 tools/replay/make-bench-capture.py --replay "$replay" --frames "$frames" "$tmp/bench.pcap"
best=0 best_cpu=0
for i in $(seq 1 "$runs"); do
  "$replay" --feed --no-sidecar --as 10.0.0.2 --app sink --port 80 "$tmp/bench.pcap" > "$tmp/out.txt"
  grep -q '^PASS' "$tmp/out.txt" || { cat "$tmp/out.txt"; echo "bench-replay: the feed run failed" >&2; exit 1; }
  line=$(head -1 "$tmp/out.txt")
  rate=$(sed -n 's/.*(\([0-9]*\) frames\/s;.*/\1/p' <<<"$line")
  cpu_rate=$(sed -n 's/.* \([0-9]*\) frames per CPU second.*/\1/p' <<<"$line")
  echo "run $i: $line"
  [ "$rate" -gt "$best" ] && best=$rate
  [ "$cpu_rate" -gt "$best_cpu" ] && best_cpu=$cpu_rate
done
# Wall-clock frames/s depends on what else runs on the machine; frames per
# CPU second (the process's own CPU time) much less so. Both are printed.
# The same file read and written by tcpdump (libpcap only, no stack), for a
# ratio measured in this run on this machine.
if command -v tcpdump >/dev/null 2>&1; then
  TIMEFORMAT='%U %S %R'
  t=$( { time tcpdump -r "$tmp/bench.pcap" -w /dev/null 2>/dev/null; } 2>&1 | tail -1)
  read -r u s w <<<"$t"
  cpu=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.3f", u + s }')
  td_rate=$(awk -v n="$frames" -v c="$cpu" 'BEGIN { if (c > 0) printf "%d", n / c; else printf "0" }')
  ratio=$(awk -v a="$best_cpu" -v b="$td_rate" 'BEGIN { if (b > 0) printf "%.3f", a / b; else printf "n/a" }')
  echo "tcpdump -r FILE -w /dev/null: ${cpu} s CPU, ${w} s wall: $td_rate frames per CPU second;" \
       "replay --feed / tcpdump (per CPU second) = $ratio"
else
  echo "tcpdump not installed: no comparison (apt-get install tcpdump)"
fi
echo "best: $best frames/s wall clock, $best_cpu frames per CPU second, over $frames frames" \
     "($(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
