#!/usr/bin/env bash
# Side-by-side cost of tracing a syscall storm, in one invocation (ratios only:
# timings on shared VMs are noisy, ratios taken minutes apart are not comparable).
#
#  1. 500,000 open+close pairs: bare; under `cgscope trace -e openat,close -o json
#     --output-file`; under libbpf-tools opensnoop; under bpftrace opensnoop.bt.
#     Prints each one's slowdown against bare and the events it captured / lost.
#  2. Events filtered out in the kernel: a getppid storm outside the traced cgroup,
#     with cgscope attached but selecting no syscall the storm makes (the empty
#     hook), and with cgscope selecting getppid for another cgroup (filtered by
#     cgroup in the kernel). The second should cost at most 1.1x the first.
#
# Usage (as root): bench/trace_storm.sh [BUILD_DIR]   (env: PAIRS, CALLS, ROUNDS; ONLY=open|filter)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cgscope=$build/cgscope
storm=$build/bench_storm
pairs=${PAIRS:-500000}
calls=${CALLS:-2000000}
rounds=${ROUNDS:-5}
[[ -x $cgscope && -x $storm ]] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }

work=$(mktemp -d /tmp/cgscope-bench-XXXXXX)
target=$work/target
echo x > "$target"
# The filesystem type is the field after " - " (optional fields come before it).
cg2=$(awk '{for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break }}' \
  /proc/self/mountinfo)
[[ -n $cg2 && -d $cg2 ]] || { echo "no cgroup v2 mount found" >&2; exit 1; }
other_cg=$cg2/cgscope-bench-$$
bg=""
cleanup() {
  [[ -n $bg ]] && kill -INT "$bg" 2>/dev/null && wait "$bg" 2>/dev/null || true
  rmdir "$other_cg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# start_tracer LOG READY_REGEX CMD... : starts CMD in the background, waits until
# LOG (its stdout+stderr) matches READY_REGEX.
start_tracer() {
  local log=$1 ready=$2
  shift 2
  "$@" >"$log" 2>&1 &
  bg=$!
  for _ in $(seq 1 300); do
    grep -qE "$ready" "$log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "tracer did not start: $*" >&2
  cat "$log" >&2
  return 1
}
stop_tracer() {
  kill -INT "$bg" 2>/dev/null || true
  wait "$bg" 2>/dev/null || true
  bg=""
}

only=${ONLY:-}
if [[ $only != filter ]]; then
bare_ns=$(for _ in $(seq "$rounds"); do "$storm" open "$pairs" "$target"; done | median)
printf '%s open+close pairs of %s; bare: %.3f s (median of %s)\n\n' "$pairs" "$target" \
  "$(echo "$bare_ns / 1000000000" | bc -l)" "$rounds"
printf '%-34s %9s %12s %10s\n' "tracer" "slowdown" "captured" "lost"

report() {  # name ns captured lost
  printf '%-34s %8.2fx %12s %10s\n' "$1" "$(echo "$2 / $bare_ns" | bc -l)" "$3" "$4"
}

# cgscope
times=()
for _ in $(seq "$rounds"); do
  start_tracer "$work/cg.log" 'cgscope: tracing' "$cgscope" trace -e openat,close -o json --output-file "$work/cg.json"
  times+=("$("$storm" open "$pairs" "$target")")
  stop_tracer
done
ns=$(printf '%s\n' "${times[@]}" | median)
cap=$(grep -c "\"filename\":\"$target\"" "$work/cg.json" || true)
lost=$(sed -n 's/.* events, \([0-9]*\) lost.*/\1/p' "$work/cg.log")
report "cgscope trace (openat+close, json)" "$ns" "$cap/$pairs" "${lost:-?}"

# libbpf-tools opensnoop
if command -v opensnoop >/dev/null; then
  times=()
  for _ in $(seq "$rounds"); do
    start_tracer "$work/os.log" 'PID' opensnoop
    times+=("$("$storm" open "$pairs" "$target")")
    stop_tracer
  done
  ns=$(printf '%s\n' "${times[@]}" | median)
  cap=$(grep -c "$target" "$work/os.log" || true)
  lost=$( (grep -oE 'Lost [0-9]+' "$work/os.log" || true) | awk '{s+=$2} END {print s+0}')
  report "libbpf-tools opensnoop" "$ns" "$cap/$pairs" "$lost"
fi

# bpftrace opensnoop.bt
if command -v bpftrace >/dev/null && [[ -f /usr/sbin/opensnoop.bt ]]; then
  times=()
  for _ in $(seq "$rounds"); do
    start_tracer "$work/bt.log" 'Tracing open' bpftrace /usr/sbin/opensnoop.bt
    times+=("$("$storm" open "$pairs" "$target")")
    stop_tracer
  done
  ns=$(printf '%s\n' "${times[@]}" | median)
  cap=$(grep -c "$target" "$work/bt.log" || true)
  lost=$( (grep -oE 'Lost [0-9]+' "$work/bt.log" || true) | awk '{s+=$2} END {print s+0}')
  report "bpftrace opensnoop.bt" "$ns" "$cap/$pairs" "$lost"
fi

fi
[[ $only == open ]] && exit 0

# 2. Filtered out in the kernel.
mkdir "$other_cg"
echo
bare_pp=$(for _ in $(seq "$rounds"); do "$storm" getppid "$calls"; done | median)
times=()
for _ in $(seq "$rounds"); do
  start_tracer "$work/e.log" 'cgscope: tracing' "$cgscope" trace -e personality -o json --output-file /dev/null
  times+=("$("$storm" getppid "$calls")")
  stop_tracer
done
empty=$(printf '%s\n' "${times[@]}" | median)
times=()
for _ in $(seq "$rounds"); do
  start_tracer "$work/f.log" 'cgscope: tracing' "$cgscope" trace -e getppid -c "/cgscope-bench-$$" -o json \
    --output-file /dev/null
  times+=("$("$storm" getppid "$calls")")
  stop_tracer
done
filtered=$(printf '%s\n' "${times[@]}" | median)
printf '%s getppid calls outside the traced cgroup; bare: %.3f s\n' "$calls" "$(echo "$bare_pp / 1000000000" | bc -l)"
printf '%-44s %8.2fx\n' "hook attached, syscall not selected (empty)" "$(echo "$empty / $bare_pp" | bc -l)"
printf '%-44s %8.2fx\n' "getppid selected, other cgroup (filtered)" "$(echo "$filtered / $bare_pp" | bc -l)"
printf '%-44s %8.2fx   (target <= 1.10)\n' "filtered / empty" "$(echo "$filtered / $empty" | bc -l)"
