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
# Our runs pass --impair-swap: the bridge draws one decision stream per
# direction, and without the swap Linux's data frames and ours met different
# losses (in a short transfer the first loss decides most of the goodput).
# After the goodput table comes one of each sender's recovery (Linux: nstat
# TcpExt deltas in the namespace and TCP_INFO; ours: microtcp-tap's `source
# stats:` line and --counters) and one of the receivers (core/TCP.md,
# "Against Linux", reads them).
#   MB=16 SEEDS="1 2 3" DELAY_MS=5 CC=cubic tools/bench-recovery-linux.sh
# LOSSES, REORDERS: the grid (percent); PCAP_DIR: keep each run's capture;
# TAP_OPTS: extra microtcp-tap options for our sender (experiments).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build/default}
tap=$build/tools/tap/microtcp-tap
[ -x "$tap" ] || { echo "bench-recovery-linux: $tap not built (set BUILD=...)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "bench-recovery-linux: needs root (namespaces, TAP)" >&2; exit 2; }
py=/usr/bin/python3
mb=${MB:-16}
delay=${DELAY_MS:-5}
losses=${LOSSES:-0 1 3}
reorders=${REORDERS:-0 2}
seeds=${SEEDS:-1}
cc=${CC:-cubic}
# Extra microtcp-tap options for our sender only (hypothesis tests), e.g.
# TAP_OPTS="--tcp rto_min_ms=1000 --tcp rack=0"
read -r -a TAP_OPTS <<<"${TAP_OPTS:-}"
rx=()
# PCAP_DIR=dir: each run also writes what the stack saw and sent there
# (lx-L-R.pcap: Linux sends, us-L-R.pcap: ours sends).
pcap_dir=${PCAP_DIR:-}
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
g = mb * 8 * 1048576 / (time.time() - t)
# struct tcp_info (linux/tcp.h): the view of the sender at the end
import struct
ti = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232)
rto, = struct.unpack_from("I", ti, 8)
rtt, = struct.unpack_from("I", ti, 68)
ssth, cwnd = struct.unpack_from("II", ti, 76)
total_retrans, = struct.unpack_from("I", ti, 100)
segs_out, = struct.unpack_from("I", ti, 136)
dsack_dups, reord_seen = struct.unpack_from("II", ti, 216)
print(g, segs_out, total_retrans, cwnd, ssth, rtt, rto, dsack_dups, reord_seen)'
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

# Linux's TCP counters (nstat: TcpExt and Tcp MIBs of the namespace) since
# the previous call, as "name=value ..." for the names asked for.
export NSTAT_HISTORY=$tmp/nstat.history
nstat_reset() { ip netns exec "$ns" nstat -n >/dev/null; }
nstat_delta() {
  local out
  out=$(ip netns exec "$ns" nstat -z 2>/dev/null)
  for k in "$@"; do
    printf '%s=%s ' "$k" "$(awk -v k="$k" '$1 == "TcpExt" k || $1 == "Tcp" k { print $2; f = 1 } END { if (!f) print 0 }' <<<"$out")"
  done
}
# The value of name=N in a line of words (0 if absent).
field() { tr ' ;,' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2; f = 1; exit } END { if (!f) print 0 }'; }
linux_sender_mib=(RetransSegs TCPLossProbes TCPLossProbeRecovery TCPSackRecovery TCPTimeouts
  TCPSpuriousRTOs TCPDSACKUndo TCPDSACKRecv TCPFastRetrans TCPLostRetransmit TCPSACKReorder)
linux_receiver_mib=(DelayedACKs TCPDSACKOldSent TCPOFOQueue TCPSACKReneging)

linux_sends() { # impairment options...; Linux's goodput in $result, its figures in $lx_info
  ip netns exec "$ns" timeout 120 "$tap" --ifname tapr --ip 10.9.8.2/24 --host-ip 10.9.8.1/24 \
    --app discard --port 9 --max-conns 4 --buffer 1048576 --no-gso --cc "$cc" --counters \
    ${pcap_dir:+--pcap "$pcap_dir/lx-$cell.pcap"} "$@" \
    2>"$tmp/discard.err" &
  local stack=$!
  pids+=("$stack")
  wait_addr 10.9.8.1
  nstat_reset
  local out
  out=$(ip netns exec "$ns" timeout 120 $py -c "$send_py" 10.9.8.2 9 "$mb" "$linux_cc")
  lx_mib=$(nstat_delta "${linux_sender_mib[@]}")
  read -r result lx_segs lx_retr lx_cwnd lx_ssth lx_rtt lx_rto lx_dsack _ <<<"$out"
  kill "$stack"; wait "$stack" 2>/dev/null || true
  lx_stack=$(grep 'counters:' "$tmp/discard.err" || true)
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
  nstat_reset
  ip netns exec "$ns" timeout 120 "$tap" --ifname tapr --ip 10.9.8.2/24 --app source \
    --connect 10.9.8.1:5001 --bytes $((mb << 20)) --max-conns 4 --buffer 1048576 --no-gso --cc "$cc" \
    --counters ${pcap_dir:+--pcap "$pcap_dir/us-$cell.pcap"} "${TAP_OPTS[@]}" "$@" \
    2>"$tmp/source.err" || { echo "bench-recovery-linux: source failed: $(tail -n 1 "$tmp/source.err")" >&2; exit 1; }
  wait "$reader" || { echo "bench-recovery-linux: reader failed: $(tail -n 1 "$tmp/reader.err")" >&2; exit 1; }
  result=$(tail -n 1 "$tmp/reader")
  us_mib=$(nstat_delta "${linux_receiver_mib[@]}")
  us_stats=$(grep 'source stats:' "$tmp/source.err" || true)
  us_ctr=$(grep 'counters:' "$tmp/source.err" || true)
  ip -n "$ns" link del tapr
}

echo "bulk $mb MiB per run, delay ${delay} ms each way, MTU 1500, plain TAP path, seeds $seeds (medians), both senders $cc${TAP_OPTS:+, ours with ${TAP_OPTS[*]}}"
printf "%-8s %-8s %14s %14s %8s   %s\n" loss reorder "linux Mbit/s" "ours Mbit/s" ours/lx "(per seed: linux/ours)"
rows=()
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
for l in $losses; do
  for r in $reorders; do
    lxs=() uss=() per=""
    for seed in $seeds; do
      cell=$l-$r-s$seed
      opts=(--delay "$delay" --seed "$seed")
      [ "$l" = 0 ] || opts+=(--loss "$l%")
      [ "$r" = 0 ] || opts+=(--reorder "$r%")
      linux_sends "${opts[@]}"; lx=$result
      # --impair-swap: our data frames draw the decisions Linux's data frames drew
      stack_sends --impair-swap "${opts[@]}"; us=$result
      lxs+=("$lx") uss+=("$us")
      per+=$(awk -v a="$lx" -v b="$us" 'BEGIN { printf " %.1f/%.1f", a / 1e6, b / 1e6 }')
      # The recovery of each sender, side by side (the second table).
      rows+=("$(printf "%-5s %-5s %4s linux %6s %5s %4s %4s %4s %4s %4s %4s %6s %6s %5s %4s %6s" "$l%" "$r%" "$seed" \
        "$lx_segs" "$lx_retr" "$(field TCPSackRecovery "$lx_mib")" "$(field TCPTimeouts "$lx_mib")" \
        "$(field TCPLossProbes "$lx_mib")" "$(field TCPSpuriousRTOs "$lx_mib")" \
        "$(field TCPDSACKUndo "$lx_mib")" "$lx_dsack" "$((lx_cwnd * 1448))" "$((lx_ssth > 100000 ? -1 : lx_ssth * 1448))" \
        "$(awk -v x="$lx_rtt" 'BEGIN { printf "%.1f", x / 1000 }')" "$((lx_rto / 1000))" "-")")
      rows+=("$(printf "%-5s %-5s %4s ours  %6s %5s %4s %4s %4s %4s %4s %4s %6s %6s %5s %4s %6s" "" "" "" \
        "$(field segs_out "$us_stats")" "$(field retransmits "$us_stats")" \
        "$(field fast_recoveries "$us_stats")" "$(field rto_timeouts "$us_stats")" \
        "$(field tcp_tlp_probes "$us_ctr")" "-" "$(field tcp_dsack_undos "$us_ctr")" "-" \
        "$(field cwnd "$us_stats")" "$(field ssthresh "$us_stats" | awk '{ print ($1 > 2000000000 ? -1 : $1) }')" \
        "$(awk -v x="$(field srtt_us "$us_stats")" 'BEGIN { printf "%.1f", x / 1000 }')" \
        "$(( $(field rto_us "$us_stats") / 1000 ))" "$(field recovery_ms "$us_stats")")")
      rx+=("$(printf "%-5s %-5s %4s stack->Linux sender: %s segments | Linux receiving: %s" "$l%" "$r%" "$seed" \
        "$(field tcp_segments_out "$lx_stack")" "$us_mib")")
    done
    lxm=$(median <<<"${lxs[*]}") usm=$(median <<<"${uss[*]}")
    awk -v l="$l" -v r="$r" -v a="$lxm" -v b="$usm" -v per="$per" \
      'BEGIN { printf "%-8s %-8s %14.1f %14.1f %8.2f  %s\n", l "%", r "%", a / 1e6, b / 1e6, b / a, per }'
  done
done
echo
echo "recovery per sender (end of run; Linux: nstat TcpExt deltas + TCP_INFO; ours: microtcp-tap"
echo "source stats + --counters). recov = recovery episodes (TCPSackRecovery / fast_recoveries),"
echo "rto = timeouts, tlp = loss probes, spur = TCPSpuriousRTOs, undo = D-SACK undos,"
echo "dsack = D-SACKs received (tcpi_dsack_dups), cwnd/ssth bytes at the end (-1: infinite),"
echo "srtt and rto ms at the end, rec_ms = time in fast recovery"
printf "%-5s %-5s %4s %-5s %6s %5s %4s %4s %4s %4s %4s %4s %6s %6s %5s %4s %6s\n" loss reord seed who segs \
  rexmt recov rto tlp spur undo dsack cwnd ssth srtt rto rec_ms
printf '%s\n' "${rows[@]}"
echo
echo "receivers: segments the stack sent back to Linux's sender (its ACKs), and Linux's"
echo "receive-side counters (nstat) while ours sends"
printf '%s\n' "${rx[@]}"
