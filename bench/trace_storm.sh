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
#  3. 500,000 writes of 4 KiB to a regular file: bare; under `cgscope trace -e write`
#     (every event with the file's absolute path, resolved in the kernel); under
#     `-e file_write` (one event with the sum); under bpftrace printing each write
#     with the four dentry names it can reach. Slowdown, events with the right path,
#     lost. (The issue's target: cgscope at most 1.3x bare, nothing lost.)
#  4. A getppid storm in the traced scope: the default path, -T, --summary (all
#     syscalls, and -e getppid) and strace -c -f. Slowdown, calls counted, lost.
#
# Usage (as root): bench/trace_storm.sh [BUILD_DIR]
#   env: PAIRS, CALLS, WRITES, SUMCALLS, ROUNDS; ONLY=open|filter|write|summary; PEERS=0 skips the other
#   tracers (opensnoop, bpftrace); RT=1 runs the storms
#   and the tracers at SCHED_FIFO 5 (steadier figures on a busy machine)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cgscope=$build/cgscope
storm=$build/bench_storm
pairs=${PAIRS:-500000}
calls=${CALLS:-2000000}
writes=${WRITES:-500000}
rounds=${ROUNDS:-5}
[[ -x $cgscope && -x $storm ]] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }

rt=()
[[ ${RT:-0} == 1 ]] && rt=(chrt -f 5)
work=$(mktemp -d /tmp/cgscope-bench-XXXXXX)
target=$work/target
echo x > "$target"
# The filesystem type is the field after " - " (optional fields come before it).
cg2=$(awk '{for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") { print $5; exit } break }}' \
  /proc/self/mountinfo)
[[ -n $cg2 && -d $cg2 ]] || { echo "no cgroup v2 mount found" >&2; exit 1; }
other_cg=$cg2/cgscope-bench-$$
source bench/lib.sh
cleanup() {
  stop_bg
  rmdir "$other_cg" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

report() {  # name ns captured lost (against $bare_ns)
  printf '%-34s %8.2fx %12s %10s\n' "$1" "$(echo "$2 / $bare_ns" | bc -l)" "$3" "$4"
}

only=${ONLY:-}
if [[ -z $only || $only == open ]]; then
bare_ns=$(for _ in $(seq "$rounds"); do "${rt[@]}" "$storm" open "$pairs" "$target"; done | median)
printf '%s open+close pairs of %s; bare: %.3f s (median of %s)\n\n' "$pairs" "$target" \
  "$(echo "$bare_ns / 1000000000" | bc -l)" "$rounds"
printf '%-34s %9s %12s %10s\n' "tracer" "slowdown" "captured" "lost"

# cgscope
times=()
for _ in $(seq "$rounds"); do
  start_bg "$work/cg.log" 'cgscope: tracing' "${rt[@]}" "$cgscope" trace -e openat,close -o json --output-file "$work/cg.json"
  times+=("$("${rt[@]}" "$storm" open "$pairs" "$target")")
  stop_bg
done
ns=$(printf '%s\n' "${times[@]}" | median)
cap=$(grep -c "\"filename\":\"$target\"" "$work/cg.json" || true)
lost=$(sed -n 's/.* events, \([0-9]*\) lost.*/\1/p' "$work/cg.log")
report "cgscope trace (openat+close, json)" "$ns" "$cap/$pairs" "${lost:-?}"

# libbpf-tools opensnoop
if [[ ${PEERS:-1} != 0 ]] && command -v opensnoop >/dev/null; then
  times=()
  for _ in $(seq "$rounds"); do
    start_bg "$work/os.log" 'PID' "${rt[@]}" opensnoop
    times+=("$("${rt[@]}" "$storm" open "$pairs" "$target")")
    stop_bg
  done
  ns=$(printf '%s\n' "${times[@]}" | median)
  cap=$(grep -c "$target" "$work/os.log" || true)
  lost=$( (grep -oE 'Lost [0-9]+' "$work/os.log" || true) | awk '{s+=$2} END {print s+0}')
  report "libbpf-tools opensnoop" "$ns" "$cap/$pairs" "$lost"
fi

# bpftrace opensnoop.bt
if [[ ${PEERS:-1} != 0 ]] && command -v bpftrace >/dev/null && [[ -f /usr/sbin/opensnoop.bt ]]; then
  times=()
  for _ in $(seq "$rounds"); do
    start_bg "$work/bt.log" 'Tracing open' "${rt[@]}" bpftrace /usr/sbin/opensnoop.bt
    times+=("$("${rt[@]}" "$storm" open "$pairs" "$target")")
    stop_bg
  done
  ns=$(printf '%s\n' "${times[@]}" | median)
  cap=$(grep -c "$target" "$work/bt.log" || true)
  lost=$( (grep -oE 'Lost [0-9]+' "$work/bt.log" || true) | awk '{s+=$2} END {print s+0}')
  report "bpftrace opensnoop.bt" "$ns" "$cap/$pairs" "$lost"
fi

fi

if [[ -z $only || $only == filter ]]; then
# 2. Filtered out in the kernel.
mkdir "$other_cg"
echo
bare_pp=$(for _ in $(seq "$rounds"); do "${rt[@]}" "$storm" getppid "$calls"; done | median)
times=()
for _ in $(seq "$rounds"); do
  start_bg "$work/e.log" 'cgscope: tracing' "${rt[@]}" "$cgscope" trace -e personality -o json --output-file /dev/null
  times+=("$("${rt[@]}" "$storm" getppid "$calls")")
  stop_bg
done
empty=$(printf '%s\n' "${times[@]}" | median)
times=()
for _ in $(seq "$rounds"); do
  start_bg "$work/f.log" 'cgscope: tracing' "${rt[@]}" "$cgscope" trace -e getppid -c "/cgscope-bench-$$" -o json \
    --output-file /dev/null
  times+=("$("${rt[@]}" "$storm" getppid "$calls")")
  stop_bg
done
filtered=$(printf '%s\n' "${times[@]}" | median)
printf '%s getppid calls outside the traced cgroup; bare: %.3f s\n' "$calls" "$(echo "$bare_pp / 1000000000" | bc -l)"
printf '%-44s %8.2fx\n' "hook attached, syscall not selected (empty)" "$(echo "$empty / $bare_pp" | bc -l)"
printf '%-44s %8.2fx\n' "getppid selected, other cgroup (filtered)" "$(echo "$filtered / $bare_pp" | bc -l)"
printf '%-44s %8.2fx   (target <= 1.10)\n' "filtered / empty" "$(echo "$filtered / $empty" | bc -l)"
fi

if [[ -z $only || $only == summary ]]; then
# 4. -T and --summary on a getppid storm in the traced scope (`-- CMD`), against
# the default path, and strace -c. The storm prints its own time; cgscope's start
# and end are outside it.
sumcalls=${SUMCALLS:-200000}
echo
bare_ns=$(for _ in $(seq "$rounds"); do "${rt[@]}" "$storm" getppid "$sumcalls"; done | median)
printf '%s getppid calls in the traced scope; bare: %.3f s (median of %s)\n\n' "$sumcalls" \
  "$(echo "$bare_ns / 1000000000" | bc -l)" "$rounds"
printf '%-34s %9s %12s %10s\n' "tracer" "slowdown" "counted" "lost"
# under NAME CMD...: the median storm time with CMD before the storm's own argv.
under() {
  local name=$1
  shift
  times=()
  for _ in $(seq "$rounds"); do
    times+=("$("${rt[@]}" "$@" "$storm" getppid "$sumcalls" 2>"$work/s.log")")
  done
  ns=$(printf '%s\n' "${times[@]}" | median)
  lost=$(sed -n 's/.* events, \([0-9]*\) lost.*/\1/p' "$work/s.log")
  cnt=$( (grep -o '"syscall":"getppid","calls":[0-9]*' "$work/s.out" 2>/dev/null || true) | sed 's/.*://')
  [[ -s $work/s.out && -z $cnt ]] && cnt=$(grep -c '"event":"getppid"' "$work/s.out" || true)
  [[ $name == strace* ]] && cnt=$(awk '$NF == "getppid" {print $4}' "$work/s.out")
  report "$name" "$ns" "${cnt:-?}" "${lost:--}"
  rm -f "$work/s.out"
}
under "cgscope -e getppid (json)" "$cgscope" trace -e getppid -o json --output-file "$work/s.out" --
under "cgscope -T -e getppid (json)" "$cgscope" trace -T -e getppid -o json --output-file "$work/s.out" --
under "cgscope --summary" "$cgscope" trace --summary -o json --output-file "$work/s.out" --
under "cgscope --summary -e getppid" "$cgscope" trace --summary -e getppid -o json --output-file "$work/s.out" --
if command -v strace >/dev/null; then
  under "strace -c -f" strace -c -f -qq -o "$work/s.out"
fi
fi

# 3. A write storm to a regular file, traced with paths.
[[ -z $only || $only == write ]] || exit 0
wtarget=$work/written
echo
bare_ns=$(for _ in $(seq "$rounds"); do "${rt[@]}" "$storm" write "$writes" "$wtarget"; done | median)
printf '%s writes of 4 KiB to %s; bare: %.3f s (median of %s)\n\n' "$writes" "$wtarget" \
  "$(echo "$bare_ns / 1000000000" | bc -l)" "$rounds"
printf '%-34s %9s %12s %10s\n' "tracer" "slowdown" "with path" "lost"

# storm_under NAME READY CMD...: median storm time under the tracer CMD ($work/w.log)
storm_under() {
  local ready=$1
  shift
  times=()
  for _ in $(seq "$rounds"); do
    start_bg "$work/w.log" "$ready" "${rt[@]}" "$@"
    times+=("$("${rt[@]}" "$storm" write "$writes" "$wtarget")")
    stop_bg
  done
  printf '%s\n' "${times[@]}" | median
}
cg_lost() { sed -n 's/.* events, \([0-9]*\) lost.*/\1/p' "$work/w.log"; }

ns=$(storm_under 'cgscope: tracing' "$cgscope" trace -e write -o json --output-file "$work/w.json")
cap=$(grep -c "\"path\":\"$wtarget\"" "$work/w.json" || true)
report "cgscope trace -e write (paths)" "$ns" "$cap/$writes" "$(cg_lost)"

ns=$(storm_under 'cgscope: tracing' "$cgscope" trace -e file_write -o json --output-file "$work/fw.json")
sum=$(grep "\"path\":\"$wtarget\"" "$work/fw.json" | sed -n 's/.*"bytes":\([0-9]*\).*/\1/p' | head -1)
report "cgscope trace -e file_write" "$ns" "${sum:-0} B" "$(cg_lost)"

if [[ ${PEERS:-1} != 0 ]] && command -v bpftrace >/dev/null; then
  # What bpftrace can name from a tracepoint (no bpf_d_path there): four dentry
  # names up from the file, no mount crossing; its own writes left out, as
  # cgscope's are.
  cat >"$work/writes.bt" <<'BT'
BEGIN { printf("Tracing writes\n"); }
tracepoint:syscalls:sys_enter_write /comm != "bpftrace"/
{
  $d = (*(curtask->files->fdt->fd + args->fd))->f_path.dentry;
  printf("%s %d %d %s/%s/%s/%s %d\n", comm, pid, args->fd, str($d->d_parent->d_parent->d_parent->d_name.name),
         str($d->d_parent->d_parent->d_name.name), str($d->d_parent->d_name.name), str($d->d_name.name), args->count);
}
BT
  ns=$(storm_under 'Tracing writes' bpftrace "$work/writes.bt")
  cap=$(grep -c "/${wtarget##*/} 4096" "$work/w.log" || true)
  lost=$( (grep -oE 'Lost [0-9]+' "$work/w.log" || true) | awk '{s+=$2} END {print s+0}')
  report "bpftrace (4 dentry names)" "$ns" "$cap/$writes" "$lost"
fi
