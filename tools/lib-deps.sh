# Sourced by tools/run-tests.sh and tools/quickstart.sh: installs the Debian
# packages the project needs, when run as root and something is missing (one
# apt-get update, then one apt-get install). The package list lives only here.
MICROTCP_DEBS="build-essential cmake ninja-build clang llvm libclang-rt-14-dev gcc-arm-none-eabi
libnewlib-arm-none-eabi libpcap-dev libinih-dev libcjson-dev tshark tcpdump python3-pytest
python3-scapy afl++ iproute2 iperf3 ethtool iputils-ping curl"

microtcp_install_deps() {
  local missing=""
  for p in $MICROTCP_DEBS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    # Not fatal: the build or a test says what it lacks (live tests skip
    # without root anyway).
    echo "warning: missing Debian packages:$missing (run as root to install them)" >&2
    return 0
  fi
  echo "installing:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer no.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null
}
