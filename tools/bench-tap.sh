#!/usr/bin/env bash
# TAP benchmark (figures, not a test; needs root): bulk goodput Linux -> stack
# (sink app) and stack -> Linux (source app) over a TAP device in a namespace,
# against Linux <-> Linux TCP over a veth pair in namespaces (MTU 1500,
# offloads off, iperf3), as ratios from one run.
set -euo pipefail
cd "$(dirname "$0")/.."
tap=${TAP:-build/default/tools/tap/microtcp-tap}
[ -x "$tap" ] || { echo "bench-tap: build first" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-tap: needs root" >&2; exit 2; }
mb=${MB:-500}
ns=mtcpb-$$ na=mtcpb-a-$$ nb=mtcpb-b-$$
cleanup() {
  pkill -f "microtcp-tap --ifname tapb" 2>/dev/null || true
  for n in "$ns" "$na" "$nb"; do ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

# Linux -> stack: the stack's sink reads and discards
ip netns exec "$ns" "$tap" --ifname tapb --ip 10.9.9.2/24 --host-ip 10.9.9.1/24 --app sink --port 9 2>/dev/null &
sleep 1.5
to_stack=$(ip netns exec "$ns" /usr/bin/python3 - "$mb" <<'PY'
import socket, sys, time
mb = int(sys.argv[1]); chunk = b"\0" * (1 << 20)
s = socket.create_connection(("10.9.9.2", 9), timeout=30)
t = time.time()
for _ in range(mb): s.sendall(chunk)
s.shutdown(socket.SHUT_WR); s.recv(1)  # the sink closes after reading everything
print(mb * 8 * 1048576 / (time.time() - t))
PY
)
pkill -f "microtcp-tap --ifname tapb" || true
sleep 0.5

# stack -> Linux: the stack's source connects to a Linux reader
from_stack=$(ip netns exec "$ns" /usr/bin/python3 - "$mb" "$tap" <<'PY'
import socket, subprocess, sys, time
mb, tap = int(sys.argv[1]), sys.argv[2]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
p = subprocess.Popen([tap, "--ifname", "tapb", "--ip", "10.9.9.2/24", "--host-ip", "10.9.9.1/24",
                      "--app", "source", "--connect", "10.9.9.1:5001", "--bytes", str(mb << 20)],
                     stderr=subprocess.DEVNULL)
time.sleep(1)
srv.bind(("10.9.9.1", 5001)); srv.listen(1)
c, _ = srv.accept(); n = 0; t = time.time()
while True:
    b = c.recv(1 << 20)
    if not b: break
    n += len(b)
el = time.time() - t; c.close(); p.wait(timeout=30)
print(n * 8 / el)
PY
)

# Linux <-> Linux over veth
ip netns add "$na"; ip netns add "$nb"
ip link add vb-a-$$ netns "$na" type veth peer name vb-b-$$ netns "$nb"
ip -n "$na" addr add 10.98.0.1/24 dev vb-a-$$; ip -n "$nb" addr add 10.98.0.2/24 dev vb-b-$$
ip -n "$na" link set vb-a-$$ mtu 1500 up; ip -n "$nb" link set vb-b-$$ mtu 1500 up
ip netns exec "$na" ethtool -K vb-a-$$ tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$nb" ethtool -K vb-b-$$ tso off gso off gro off >/dev/null 2>&1 || true
ip netns exec "$nb" iperf3 -s -1 -D >/dev/null; sleep 0.5
veth=$(ip netns exec "$na" iperf3 -c 10.98.0.2 -t 5 -J | /usr/bin/python3 -c \
  'import json,sys; print(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"])')
awk -v a="$to_stack" -v b="$from_stack" -v v="$veth" 'BEGIN {
  printf "linux -> stack over TAP: %.2f Gbit/s (%.2f of veth)\n", a/1e9, a/v
  printf "stack -> linux over TAP: %.2f Gbit/s (%.2f of veth)\n", b/1e9, b/v
  printf "linux <-> linux veth (MTU 1500, offloads off): %.2f Gbit/s\n", v/1e9 }'
