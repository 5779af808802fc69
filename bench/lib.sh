# Shared by the bench scripts (sourced, not run): a tracer or capture in the
# background while a storm runs.

bench_bg=""  # the pid of what start_bg started; "" for none

# start_bg LOG READY_REGEX CMD...: starts CMD in the background (stdout and
# stderr to LOG) and waits until LOG matches READY_REGEX; after 30 s it shows
# LOG and fails.
start_bg() {
  local log=$1 ready=$2 i
  shift 2
  "$@" >"$log" 2>&1 &
  bench_bg=$!
  for ((i = 0; i < 300; i++)); do
    grep -qE "$ready" "$log" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "did not start: $*" >&2
  cat "$log" >&2
  return 1
}

# stop_bg: SIGINT to it (a tracer then writes its summary), and waits for it.
stop_bg() {
  [[ -n $bench_bg ]] || return 0
  kill -INT "$bench_bg" 2>/dev/null || true
  wait "$bench_bg" 2>/dev/null || true
  bench_bg=""
}
