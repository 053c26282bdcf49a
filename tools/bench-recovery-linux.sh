#!/usr/bin/env bash
# Loss recovery against Linux (figures, not a test; needs root): the same
# impaired path, once with Linux's TCP as the sender and once with ours.
#
# microtcp-tap bridges a TAP device in a network namespace and applies its
# impairments (--loss, --reorder, --delay; tools/tap/impair.c, both
# directions, seeded) between Linux and the stack. For each cell of a small
# grid it measures bulk goodput of
#   Linux -> stack   Linux's sender (its RACK-TLP, PRR, CUBIC, ...) into the
#                    stack's discard app, and
#   stack -> Linux   the stack's sender (tools/tap's source app, our defaults:
#                    NewReno, SACK, RACK-TLP, D-SACK undo, PRR, HyStart++)
#                    into a Linux reader,
# and prints ours / Linux's. The receivers differ (ours vs Linux's), the
# path and its faults do not; the sender's recovery decides goodput here.
# Both senders use the same congestion control, CC=cubic (default) or
# CC=newreno (Linux: reno), set on Linux's socket with TCP_CONGESTION (this
# machine's default is bbr, which does not treat random loss as congestion
# and is not what the stack implements).
# The kernel has no netem, so this is the "impairments injected by
# microtcp-tap's bridge" comparison of issue 18.
#   MB=4 DELAY_MS=5 CC=cubic tools/bench-recovery-linux.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/default}
tap=$build/tools/tap/microtcp-tap
[ -x "$tap" ] || { echo "bench-recovery-linux: $tap not built (set BUILD=...)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-recovery-linux: needs root (namespaces, TAP)" >&2; exit 2; }
py=/usr/bin/python3
mb=${MB:-4}
delay=${DELAY_MS:-5}
losses=${LOSSES:-0 1 3}
reorders=${REORDERS:-0 2}
cc=${CC:-cubic}
case "$cc" in
  cubic) linux_cc=cubic ;;
  newreno) linux_cc=reno ;;
  *) echo "bench-recovery-linux: CC must be cubic or newreno" >&2; exit 2 ;;
esac
ns=mtcprl-$$
pids=()
tmp=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip -n "$ns" link del tapr 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up

send_py='
import socket, sys, time
ip, port, mb, cc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
chunk = b"\0" * (1 << 20)
s = socket.socket()
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CONGESTION, cc.encode())
s.settimeout(60)
s.connect((ip, port))
t = time.time()
for _ in range(mb): s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
s.recv(1)  # returns when the receiver has read everything and closed
print(mb * 8 * 1048576 / (time.time() - t))'
recv_py='
import socket, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ip, port)); srv.listen(1); srv.settimeout(60)
print("ready", flush=True)
c, _ = srv.accept(); c.settimeout(60); n = 0; t = time.time()
buf = bytearray(1 << 20)
while True:
    k = c.recv_into(buf)
    if not k: break
    n += k
print(n * 8 / (time.time() - t))'

wait_addr() {
  for _ in $(seq 100); do ip -n "$ns" -4 addr | grep -q "$1" && return 0; sleep 0.05; done
  echo "bench-recovery-linux: $1 did not come up" >&2; exit 1
}

linux_sends() { # impairment options...; Linux's goodput in $result
  ip netns exec "$ns" timeout 120 "$tap" --ifname tapr --ip 10.9.8.2/24 --host-ip 10.9.8.1/24 \
    --app discard --port 9 --max-conns 4 --buffer 1048576 --no-gso --cc "$cc" "$@" 2>/dev/null &
  local stack=$!
  pids+=("$stack")
  wait_addr 10.9.8.1
  result=$(ip netns exec "$ns" timeout 120 $py -c "$send_py" 10.9.8.2 9 "$mb" "$linux_cc")
  kill "$stack"; wait "$stack" 2>/dev/null || true
  while ip -n "$ns" link show tapr >/dev/null 2>&1; do sleep 0.05; done
}

stack_sends() { # impairment options...; our goodput in $result
  ip netns exec "$ns" ip tuntap add tapr mode tap
  ip -n "$ns" addr add 10.9.8.1/24 dev tapr; ip -n "$ns" link set tapr up
  : >"$tmp/reader"
  ip netns exec "$ns" timeout 120 $py -c "$recv_py" 10.9.8.1 5001 >"$tmp/reader" 2>"$tmp/reader.err" &
  local reader=$!
  pids+=("$reader")
  for _ in $(seq 200); do grep -q ready "$tmp/reader" && break; sleep 0.05; done
  ip netns exec "$ns" timeout 120 "$tap" --ifname tapr --ip 10.9.8.2/24 --app source \
    --connect 10.9.8.1:5001 --bytes $((mb << 20)) --max-conns 4 --buffer 1048576 --no-gso --cc "$cc" "$@" \
    2>"$tmp/source.err" || { echo "bench-recovery-linux: source failed: $(tail -n 1 "$tmp/source.err")" >&2; exit 1; }
  wait "$reader" || { echo "bench-recovery-linux: reader failed: $(tail -n 1 "$tmp/reader.err")" >&2; exit 1; }
  result=$(tail -n 1 "$tmp/reader")
  ip -n "$ns" link del tapr
}

echo "bulk $mb MiB per run, delay ${delay} ms each way, MTU 1500, plain TAP path, seed 1, both senders $cc"
printf "%-8s %-8s %14s %14s %8s\n" loss reorder "linux Mbit/s" "ours Mbit/s" ours/lx
for l in $losses; do
  for r in $reorders; do
    opts=(--delay "$delay" --seed 1)
    [ "$l" = 0 ] || opts+=(--loss "$l%")
    [ "$r" = 0 ] || opts+=(--reorder "$r%")
    linux_sends "${opts[@]}"; lx=$result
    stack_sends "${opts[@]}"; us=$result
    awk -v l="$l" -v r="$r" -v a="$lx" -v b="$us" \
      'BEGIN { printf "%-8s %-8s %14.1f %14.1f %8.2f\n", l "%", r "%", a / 1e6, b / 1e6, b / a }'
  done
done
