#!/usr/bin/env bash
# What `cgscope trace --flows` costs a UDP sender, as ratios to bare in one
# invocation (timings on shared VMs drift; ratios taken minutes apart are not
# comparable). The storm: DGRAMS datagrams of 64 bytes on loopback from a
# connected socket to a bound one (bench_storm udp), every one passing the
# cgroup_skb hooks twice (send and receive).
#
#   bare          the storm alone
#   in scope      `cgscope trace --flows -- bench_storm udp N`: every datagram
#                 counted in the kernel; the flow line must say N datagrams sent
#   out of scope  the storm outside the cgroup that `trace --flows -c` watches:
#                 what every other socket of the machine pays (the hooks sit at
#                 the cgroup v2 root)
#   tcpdump       bare, with `tcpdump -i lo -w /dev/null udp` capturing: the
#                 packet-capture way of seeing who talks to whom
#
# ROUNDS interleaved rounds; each row the median of its round-by-round ratio to
# that round's bare.
#
# Usage (as root): bench/trace_flows.sh [BUILD_DIR]
#   env: DGRAMS (default 1000000), ROUNDS (default 5), PEERS=0 skips tcpdump
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cgscope=$build/cgscope
storm=$build/bench_storm
dgrams=${DGRAMS:-1000000}
rounds=${ROUNDS:-5}
[[ -x $cgscope && -x $storm ]] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }
[[ $dgrams =~ ^[1-9][0-9]{0,8}$ && $rounds =~ ^[1-9][0-9]?$ ]] || { echo "DGRAMS and ROUNDS must be positive integers" >&2; exit 1; }
peers=${PEERS:-1}
if [[ $peers != 0 ]] && ! command -v tcpdump >/dev/null; then
  scripts/install-deps.sh --bench >/dev/null
fi

work=$(mktemp -d /tmp/cgscope-bench-flows-XXXXXX)
cg2=$(awk '{for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2" && $4 == "/") { print $5; exit } break }}' \
  /proc/self/mountinfo)
[[ -n $cg2 && -d $cg2 ]] || { echo "no cgroup v2 mount found" >&2; exit 1; }
watched=cgscope-bench-flows-$$
source bench/lib.sh
cleanup() {
  set +e
  stop_bg
  rmdir "$cg2/$watched" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
mkdir "$cg2/$watched"

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -A ns
rows=(bare "in scope" "out of scope")
[[ $peers != 0 ]] && rows+=(tcpdump)
for ((r = 1; r <= rounds; r++)); do
  ns[bare]+="$("$storm" udp "$dgrams") "

  out=$work/flows.json
  t=$("$cgscope" trace --flows -o json --output-file "$out" -- "$storm" udp "$dgrams" 2>"$work/err")
  sent=$(grep -o '"datagrams_sent":[0-9]*' "$out" | head -1 | cut -d: -f2)
  [[ $sent == "$dgrams" ]] || { echo "in scope: the flow says ${sent:-nothing} datagrams sent, not $dgrams:" >&2; cat "$out" "$work/err" >&2; exit 1; }
  grep -q ", 0 lost" "$work/err" || { echo "in scope: events lost:" >&2; cat "$work/err" >&2; exit 1; }
  ns["in scope"]+="$t "

  start_bg "$work/out.log" "cgscope: tracing" "$cgscope" trace --flows -o json --output-file /dev/null -c "/$watched"
  ns["out of scope"]+="$("$storm" udp "$dgrams") "
  stop_bg

  if [[ $peers != 0 ]]; then
    start_bg "$work/tcpdump.log" "listening on" tcpdump -i lo -n -w /dev/null udp
    ns[tcpdump]+="$("$storm" udp "$dgrams") "
    stop_bg
  fi
done

echo
echo "cgscope trace --flows: $dgrams UDP datagrams of 64 B on loopback, $rounds interleaved rounds ($(uname -r), $(nproc) cores)"
printf '%-14s %12s %10s\n' "run" "median s" "vs bare"
read -ra bare <<<"${ns[bare]}"
for row in "${rows[@]}"; do
  read -ra v <<<"${ns[$row]}"
  secs=$(printf '%s\n' "${v[@]}" | awk '{print $1 / 1e9}' | median)
  ratio=$(for ((i = 0; i < ${#v[@]}; i++)); do echo "${v[$i]} / ${bare[$i]}" | bc -l; done | median)
  printf '%-14s %12.3f %9.2fx\n' "$row" "$secs" "$ratio"
done
