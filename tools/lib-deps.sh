# shellcheck shell=bash
# Sourced by tools/quickstart.sh and tools/run-tests.sh: installs the Debian
# packages each needs, when run as root and something is missing (one apt-get
# update, then one apt-get install). The package lists live only here.
#
# MICROTCP_DEBS_BUILD: what the quickstart needs to build and run the
#   simulator (configure + build of the default preset: gcc, CMake, Ninja,
#   pkg-config and the three libraries the simulator, replay and tap link).
# MICROTCP_DEBS_TEST: everything else any test needs, installed by the test
#   command on top of the build list:
#     clang llvm libclang-rt-14-dev   fuzz preset (libFuzzer, ASan/UBSan), gcc/clang
#                                     identity test, public headers under clang
#     gcc-arm-none-eabi libnewlib-arm-none-eabi   contract.arm_size
#     afl++                           fuzz/README AFL++ build
#     tshark tcpdump                  pcap checks in tests/sim, tests/replay
#     python3-pytest python3-scapy python3-numpy   the pytest suites (numpy: live
#                                     tests' stream generator; scapy: pcap-corpus)
#     iproute2 iperf3 ethtool iputils-ping curl util-linux netcat-openbsd   live tests,
#                                     bench-tap, the README examples (nc)
#     bison flex                      building packetdrill (tools/packetdrill)
#     (package) shellcheck            contract.shellcheck (every tools/*.sh)
#     zip                             the OSS-Fuzz seed-corpus zips (fuzz/README)
#     parallel                        GNU parallel: the swarm sharding test (sim/README)
#     liblwip-dev                     lwIP, the reference of tools/bench-all.sh's back-to-back
#                                     figure (tools/bench/lwip-b2b, tests/test_bench.py)
#     chromium                        headless browser: tests/sim/test_report.py renders the
#                                     run reports (--report) and checks SVG, console, screenshot
# A test that needs a package not listed here fails under CI=true (see
# tests/conftest.py), so a missing entry cannot hide.
# shellcheck disable=SC2034 # used by the scripts that source this file
MICROTCP_DEBS_BUILD="build-essential cmake ninja-build pkg-config libpcap-dev libinih-dev libcjson-dev"
# shellcheck disable=SC2034
MICROTCP_DEBS_TEST="clang llvm libclang-rt-14-dev gcc-arm-none-eabi libnewlib-arm-none-eabi afl++
tshark tcpdump python3-pytest python3-scapy python3-numpy iproute2 iperf3 ethtool iputils-ping curl
util-linux netcat-openbsd bison flex zip parallel shellcheck liblwip-dev chromium"

# microtcp_install_deps PACKAGE...: installs those of PACKAGE that are missing.
microtcp_install_deps() {
  local missing=""
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    # Not fatal: the build or a test says what it lacks (and under CI=true a
    # test skipped for a missing package is a failure).
    echo "warning: missing Debian packages:$missing (run this command as root to install them)" >&2
    return 0
  fi
  echo "installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  # shellcheck disable=SC2086 # one word per package
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
