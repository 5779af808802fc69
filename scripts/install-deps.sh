#!/usr/bin/env bash
# Installs what cgscope needs to build and test, from Debian's packages only.
# Idempotent: packages already present are skipped, so a second run costs a few
# dpkg queries and no network.
#   scripts/install-deps.sh          build + test dependencies
#   scripts/install-deps.sh --bench  also the peers that bench/ compares against
set -euo pipefail

build_pkgs=(
  build-essential cmake pkg-config git
  clang llvm bpftool libbpf-dev libelf-dev zlib1g-dev
  libcli11-dev libyaml-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libseccomp-dev
  libgtest-dev libgmock-dev libbenchmark-dev libclang-rt-14-dev
  iproute2 procps
  microsocks tinyproxy dante-server curl busybox-static
  graphviz  # trace --flows -o dot: the tests render the graph with dot -Tsvg
  docker.io  # proxy_docker_test: a real `docker build --cgroup-parent` (the test runs its own dockerd)
  python3    # proxy_test: a Python client with no proxy setting, and a quiet client for the idle timeout
  strace     # trace_strace_test: the same programs under strace and cgscope trace, counts and names compared
)
bench_pkgs=(
  bpftrace libbpf-tools stress-ng iptables wrk iperf3 hyperfine bc
  proxychains4  # bench/proxy_bench.sh: the LD_PRELOAD peer of cgscope proxy
  tcpdump       # bench/trace_flows.sh: the packet-capture peer of trace --flows
)

want=("${build_pkgs[@]}")
[[ "${1:-}" == "--bench" ]] && want+=("${bench_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "install-deps: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The test peers (tinyproxy, danted, dockerd and containerd) are daemons: their
  # packages must not start them. The tests start their own and stop them after.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
