#!/usr/bin/env bash
# TAP benchmark (figures, not a test; needs root): bulk goodput
#   Linux -> stack   (a Python client into microtcp-tap's sink app)
#   stack -> Linux   (microtcp-tap's source app into a Python reader)
# over a TAP device in a network namespace, against Linux <-> Linux over a
# veth pair between two namespaces (MTU 1500, TSO/GSO/GRO off, the same Python
# client and reader), printed as ratios from this one run: the plain path
# (--no-gso, one frame per read/write) against veth with offloads off, and
# microtcp-tap's default path (--gso where the kernel has IFF_VNET_HDR: 64 KiB
# TCP frames each way) against veth with its offloads on and off. The stack gets
# 4 MiB send/receive buffers per connection, the size Linux autotunes its own
# to (tcp_wmem/tcp_rmem maximum), so neither side is window-limited by default.
# The plain path is microtcp-tap without options, or with PLAIN_OPTS when
# its default is something else (set automatically to --no-gso when
# --help lists it); the default path (no options) is then measured too.
# Linux -> stack goes to microtcp-tap's discard app (reads and drops, as the
# Python reader on veth does) where --help lists it; the sink app, which also
# checks every byte against the apps' stream (a cost Linux's reader does not
# have), is measured on the plain path too, for comparison (one more line).
# RESULTS=FILE also appends the figures (bit/s) there as key=value lines
# (tools/bench-all.sh reads them).
#   BUILD=build-tap MB=300 tools/bench-tap.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/default}
tap=$build/tools/tap/microtcp-tap
[ -x "$tap" ] || { echo "bench-tap: $tap not built (set BUILD=...)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-tap: needs root (namespaces, TAP)" >&2; exit 2; }
py=/usr/bin/python3
mb=${MB:-300}
results=${RESULTS:-/dev/null}
if [ -z "${PLAIN_OPTS+set}" ]; then
  PLAIN_OPTS=""
  if "$tap" --help 2>&1 | grep -q -- '--no-gso'; then PLAIN_OPTS=--no-gso; fi
fi
read -r -a plain_opts <<<"$PLAIN_OPTS"
to_app=sink
if "$tap" --help 2>&1 | grep -q 'discard'; then to_app=discard; fi
ns=mtcpb-$$ na=mtcpb-a-$$ nb=mtcpb-b-$$
pids=()
tmp=$(mktemp -d)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  ip -n "$ns" link del tapb 2>/dev/null || true # the persistent device of the second run
  for n in "$ns" "$na" "$nb"; do ip netns del "$n" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
for n in "$ns" "$na" "$nb"; do ip netns add "$n"; ip -n "$n" link set lo up; done

# The Linux-side programs, identical for TAP and veth so only the path differs.
send_py='
import socket, sys, time
ip, port, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
chunk = b"\0" * (1 << 20)
s = socket.create_connection((ip, port), timeout=30)
t = time.time()
for _ in range(mb): s.sendall(chunk)
s.shutdown(socket.SHUT_WR)
s.recv(1)  # returns when the receiver has read everything and closed
print(mb * 8 * 1048576 / (time.time() - t))'
recv_py='
import socket, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ip, port)); srv.listen(1); srv.settimeout(30)
print("ready", flush=True)
c, _ = srv.accept(); c.settimeout(30); n = 0; t = None
buf = bytearray(1 << 20)  # recv_into: no allocation per call, so Python costs little
while True:
    k = c.recv_into(buf)
    if not k: break
    if t is None: t = time.time()
    n += k
print(n * 8 / (time.time() - t))'
sink_py='
import socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((ip, port)); srv.listen(1)
c, _ = srv.accept(); buf = bytearray(1 << 20)
while c.recv_into(buf): pass
c.close()'
src_py='
import socket, sys, time
ip, port, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection((ip, port), timeout=30); chunk = b"\0" * (1 << 20)
for _ in range(mb): s.sendall(chunk)
s.close()'

start_reader() { # namespace, address, port: a recv_py in the background, once listening
  : >"$tmp/reader" # here, not in the background job: a stale "ready" must not be seen
  ip netns exec "$1" $py -c "$recv_py" "$2" "$3" >"$tmp/reader" 2>"$tmp/reader.err" &
  reader=$!; pids+=("$reader")
  for _ in $(seq 200); do grep -q ready "$tmp/reader" && return 0; sleep 0.05; done
  echo "bench-tap: the reader did not start" >&2; exit 1
}
reader_result() { # wait for the reader (not in a subshell: it is our child); its figure in $result
  wait "$reader" || { echo "bench-tap: the reader failed: $(tail -n 1 "$tmp/reader.err")" >&2; exit 1; }
  result=$(tail -n 1 "$tmp/reader")
}

wait_addr() { # namespace, address: wait until the device carries it
  for _ in $(seq 100); do ip -n "$1" -4 addr | grep -q "$2" && return 0; sleep 0.05; done
  echo "bench-tap: $2 did not come up" >&2; exit 1
}

# ---- Linux -> stack: the stack's sink reads (and verifies) everything ----
sink_run() { # extra microtcp-tap options; the sender's figure in $result (app: $app)
  ip netns exec "$ns" "$tap" --ifname tapb --ip 10.9.9.2/24 --host-ip 10.9.9.1/24 --app "$app" --port 9 \
    --max-conns 8 --buffer 4194304 "$@" 2>/dev/null &
  local stack=$!
  pids+=("$stack")
  wait_addr "$ns" 10.9.9.1
  result=$(ip netns exec "$ns" $py -c "$send_py" 10.9.9.2 9 "$mb")
  kill "$stack"; wait "$stack" 2>/dev/null || true
  while ip -n "$ns" link show tapb >/dev/null 2>&1; do sleep 0.05; done # the device is gone
}
app=$to_app
sink_run "${plain_opts[@]}"; to_stack=$result
to_stack_def=$to_stack
if [ ${#plain_opts[@]} -gt 0 ]; then sink_run; to_stack_def=$result; fi
sink_run --gso; to_stack_gso=$result
to_stack_sink=$to_stack
if [ "$to_app" != sink ]; then app=sink; sink_run "${plain_opts[@]}"; to_stack_sink=$result; fi

# ---- stack -> Linux: the stack's source connects to a Linux reader ----
ip netns exec "$ns" ip tuntap add tapb mode tap
ip -n "$ns" addr add 10.9.9.1/24 dev tapb; ip -n "$ns" link set tapb up
source_run() { # extra microtcp-tap options; the reader's figure in $result
  start_reader "$ns" 10.9.9.1 5001
  ip netns exec "$ns" "$tap" --ifname tapb --ip 10.9.9.2/24 --app source --connect 10.9.9.1:5001 \
    --bytes $((mb << 20)) --max-conns 8 --buffer 4194304 "$@" 2>"$tmp/source.err" ||
    { echo "bench-tap: source failed: $(cat "$tmp/source.err")" >&2; exit 1; }
  reader_result
}
source_run "${plain_opts[@]}"; from_stack=$result
from_stack_def=$from_stack
if [ ${#plain_opts[@]} -gt 0 ]; then source_run; from_stack_def=$result; fi
# the same with --gso: runs of segments handed to Linux as one 64 KiB GSO frame
source_run --gso; from_stack_gso=$result

# ---- Linux <-> Linux over veth, same MTU, offloads off, same programs ----
ip link add vb-a-$$ netns "$na" type veth peer name vb-b-$$ netns "$nb"
ip -n "$na" addr add 10.98.0.1/24 dev vb-a-$$; ip -n "$nb" addr add 10.98.0.2/24 dev vb-b-$$
veth_run() { # on|off (TSO, GSO, GRO), port base; figures in $veth_to and $veth_from
  for side in "$na vb-a-$$" "$nb vb-b-$$"; do
    # shellcheck disable=SC2086 # "namespace interface" pairs split on purpose
    set -- $side
    ip -n "$1" link set "$2" mtu 1500 up
    ip netns exec "$1" ethtool -K "$2" tso "$vo" gso "$vo" gro "$vo" >/dev/null 2>&1 || true
  done
  sleep 0.5
  ip netns exec "$nb" $py -c "$sink_py" 10.98.0.2 "$vp" & pids+=("$!")
  sleep 0.3
  veth_to=$(ip netns exec "$na" $py -c "$send_py" 10.98.0.2 "$vp" "$mb")
  start_reader "$nb" 10.98.0.2 $((vp + 1))
  ip netns exec "$na" $py -c "$src_py" 10.98.0.2 $((vp + 1)) "$mb"
  reader_result; veth_from=$result
}
vo=off vp=5100; veth_run
# and with offloads on: the fair yardstick for --gso
vt=$veth_to vf=$veth_from
vo=on vp=5200; veth_run
vto=$veth_to vfo=$veth_from veth_to=$vt veth_from=$vf
{
  echo "tap_plain_to_bps=$to_stack"; echo "tap_plain_from_bps=$from_stack"
  echo "tap_default_to_bps=$to_stack_def"; echo "tap_default_from_bps=$from_stack_def"
  echo "tap_gso_to_bps=$to_stack_gso"; echo "tap_gso_from_bps=$from_stack_gso"
  echo "tap_veth_off_to_bps=$veth_to"; echo "tap_veth_off_from_bps=$veth_from"
  echo "tap_veth_on_to_bps=$vto"; echo "tap_veth_on_from_bps=$vfo"
  echo "tap_plain_opts=${PLAIN_OPTS:-none}"; echo "tap_to_app=$to_app"
  echo "tap_plain_sink_to_bps=$to_stack_sink"
} >>"$results"

awk -v a="$to_stack" -v as="$to_stack_sink" -v app="$to_app" -v ag="$to_stack_gso" -v b="$from_stack" -v g="$from_stack_gso" -v va="$veth_to" -v vb="$veth_from" \
    -v vao="$vto" -v vbo="$vfo" -v mb="$mb" 'BEGIN {
  printf "bulk goodput, %d MiB per run, one run each (MTU 1500)\n", mb
  printf "  linux -> stack, plain (--no-gso): %6.2f Gbit/s  (%.2f x linux->linux veth %.2f Gbit/s)  [app %s]\n", a/1e9, a/va, va/1e9, app
  if (app != "sink")
    printf "  linux -> stack, plain, sink app:  %6.2f Gbit/s  (%.2f x veth; the sink checks every byte)\n", as/1e9, as/va
  printf "  linux -> stack, default (--gso):  %6.2f Gbit/s  (%.2f x veth offloads on %.2f Gbit/s; %.2f x veth offloads off)\n", ag/1e9, ag/vao, vao/1e9, ag/va
  printf "  stack -> linux, plain (--no-gso): %6.2f Gbit/s  (%.2f x linux->linux veth %.2f Gbit/s)\n", b/1e9, b/vb, vb/1e9
  printf "  stack -> linux, default (--gso):  %6.2f Gbit/s  (%.2f x veth offloads on %.2f Gbit/s; %.2f x veth offloads off)\n", g/1e9, g/vbo, vbo/1e9, g/vb }'
