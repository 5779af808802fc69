#!/usr/bin/env bash
# How many events a second `cgscope trace` writes, and how many it loses, at the
# default ring buffer: a getppid storm (the cheapest syscall, so the tracer's own
# drain path is what is measured) traced to JSON and to a table in a file, with one
# storm thread (the tracer has a core of its own on two) and with two (the tracer
# competes for the CPUs). The issue's targets: nothing lost in either format, and at
# least 2M events/s written with one thread.
#
# Each row: the storm's elapsed time under the tracer, events written / s over that
# time, events lost, and cgscope's own CPU time per event written (user+system of
# the cgscope process alone, from /proc/PID/stat at its end, less what a run of one
# call costs it: loading and attaching; the storm's CPU is not in it). Rows are
# medians of ROUNDS runs, interleaved.
#
# Usage (as root): bench/trace_rate.sh [BUILD_DIR]
#   env: CALLS (default 4000000), ROUNDS (default 3), THREADS (default "1 2"),
#        FORMATS (default "json table"), BASELINE=<another cgscope binary> adds its
#        rows (marked "base"), interleaved with this build's
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
cgscope=$build/cgscope
storm=$build/bench_storm
calls=${CALLS:-4000000}
rounds=${ROUNDS:-3}
threads_list=${THREADS:-1 2}
formats=${FORMATS:-json table}
[[ -x $cgscope && -x $storm ]] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }

work=$(mktemp -d /tmp/cgscope-rate-XXXXXX)
trap 'rm -rf "$work"' EXIT
ticks=$(getconf CLK_TCK)

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# one BINARY FORMAT THREADS: prints "storm_ns written lost cpu_s".
one() {
  local bin=$1 fmt=$2 threads=$3 out=$work/out err=$work/err ns pid cpu line written lost
  # cgscope runs the storm as its `-- CMD`; its pid is the background job's, and its
  # CPU is read from /proc just before it is reaped (a zombie's stat still has it).
  "$bin" trace -e getppid -o "$fmt" --output-file "$out" -- "$storm" getppid "$calls" "$threads" \
    >"$work/ns" 2>"$err" &
  pid=$!
  cpu=0
  while kill -0 "$pid" 2>/dev/null; do
    if [[ -r /proc/$pid/stat ]]; then
      read -r -a st < "/proc/$pid/stat" || true
      # utime and stime are fields 14 and 15 (1-based), after the (comm) field.
      [[ ${#st[@]} -gt 15 ]] && cpu=$(( st[13] + st[14] ))
      [[ ${st[2]:-} == Z ]] && break  # exited, not yet reaped: its final times
    fi
    sleep 0.05
  done
  wait "$pid" || { echo "cgscope trace failed:" >&2; cat "$err" >&2; return 1; }
  ns=$(tail -n 1 "$work/ns")
  line=$(grep -E '^cgscope: [0-9]+ events' "$err" | tail -n 1)
  written=$(sed -E 's/^cgscope: ([0-9]+) events.*/\1/' <<<"$line")
  lost=$(sed -E 's/.*, ([0-9]+) lost.*/\1/' <<<"$line")
  echo "$ns $written $lost $(echo "$cpu / $ticks" | bc -l)"
}

bins=("$cgscope")
if [[ -n ${BASELINE:-} ]]; then
  [[ -x $BASELINE ]] || { echo "BASELINE $BASELINE is not an executable" >&2; exit 1; }
  bins+=("$BASELINE")
fi

# The CPU a run costs cgscope whatever it traces (load, attach, /proc walk, exit).
declare -A setup=()
for b in "${!bins[@]}"; do
  for fmt in $formats; do
    setup[$fmt.$b]=$(for ((r = 0; r < rounds; r++)); do calls=1 one "${bins[$b]}" "$fmt" 1 | awk '{print $4}'; done | median)
  done
done

printf '%-13s %-7s %12s %14s %10s %16s\n' format threads "storm (s)" "written/s" lost "cgscope ns/event"
for threads in $threads_list; do
  declare -A rows=()
  for ((r = 0; r < rounds; r++)); do
    for fmt in $formats; do
      for b in "${!bins[@]}"; do
        rows[$fmt.$b]+="$(one "${bins[$b]}" "$fmt" "$threads")"$'\n'
      done
    done
  done
  for fmt in $formats; do
    for b in "${!bins[@]}"; do
      r=${rows[$fmt.$b]}
      ns=$(awk 'NF {print $1}' <<<"$r" | median)
      rate=$(awk 'NF {printf "%.0f\n", $2 / ($1 / 1e9)}' <<<"$r" | median)
      lost=$(awk 'NF {print $3}' <<<"$r" | median)
      per=$(awk -v s="${setup[$fmt.$b]}" 'NF && $2 > 0 {printf "%.0f\n", ($4 - s) * 1e9 / $2}' <<<"$r" | median)
      label=$fmt
      ((b > 0)) && label="$fmt (base)"
      printf '%-13s %-7s %12.3f %14s %10s %16s\n' "$label" "$threads" "$(awk -v n="$ns" 'BEGIN {print n / 1e9}')" \
        "$rate" "$lost" "$per"
    done
  done
  unset rows
done
echo "($rounds rounds of $calls getppid calls each; medians)"
