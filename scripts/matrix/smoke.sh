# shellcheck shell=bash
# The smoke checks of a kernel-matrix guest: each subcommand of the built binary,
# run once for real. Sourced by guest-init.sh (needs CGSCOPE_BIN and say()).
#
# To add a check: write a function smoke_NAME that returns 0 when the check passed
# (anything it prints goes to the console log; its last line is shown as the reason
# when it fails) and add NAME to SMOKE_CHECKS. Checks run in this order, and a
# check may use what an earlier one set up (lb_status needs lb_apply).
SMOKE_CHECKS=(version trace lb_apply lb_status lb_reset proxy)

# Seconds any one command of a check may take (the guest may run without KVM).
SMOKE_CMD_TIMEOUT=180

# The lb checks: hooks attach to a cgroup made here, clients run inside a network
# namespace made here, where the service address (10.96.0.10) has no route, so
# nothing can leave even if a hook misbehaves (the guest has no NIC anyway).
SMOKE_TAG=cgscope-matrix-smoke
SMOKE_CG=/sys/fs/cgroup/$SMOKE_TAG
SMOKE_PINS=/sys/fs/bpf/$SMOKE_TAG
SMOKE_NETNS=$SMOKE_TAG
SMOKE_LB_CONFIG=$(dirname "${BASH_SOURCE[0]}")/smoke-lb.yaml

# The proxy check: a web server on 10.0.0.2 and a SOCKS5 upstream (microsocks) on
# loopback, in a network namespace of their own; curl runs there under `cgscope
# proxy run`, and the upstream's log must show the connection it made.
SMOKE_PROXY_NETNS=cgscope-matrix-proxy
SMOKE_PROXY_DIR=/tmp/smoke-proxy
SMOKE_PIDS=()  # daemons the checks started, stopped by smoke_cleanup

cgs() { timeout -k 5 "$SMOKE_CMD_TIMEOUT" "$CGSCOPE_BIN" "$@"; }

smoke_version() {
  local out
  out=$(cgs --version) || { echo "cgscope --version failed"; return 1; }
  echo "$out"
  [[ -n "$out" ]] || { echo "cgscope --version printed nothing"; return 1; }
}

smoke_trace() {
  local out=/tmp/smoke-trace.out rc=0
  cgs trace -e openat -o json -- cat /etc/hostname >"$out" || rc=$?
  cat "$out"
  [[ $rc -eq 0 ]] || { echo "cgscope trace exited $rc"; return 1; }
  grep -q '"event":"openat".*"filename":"/etc/hostname"' "$out" ||
    { echo "no openat event of /etc/hostname in the output"; return 1; }
}

# connect() from inside the lb cgroup and the netns; prints the shell's error text.
smoke_connect() {
  bash -c "echo \$\$ > $SMOKE_CG/cgroup.procs && exec ip netns exec $SMOKE_NETNS \
    timeout 10 bash -c 'exec 3<>/dev/tcp/$1/$2' 2>&1" 2>&1
}

smoke_lb_apply() {
  mkdir -p "$SMOKE_CG" || return 1
  ip netns add "$SMOKE_NETNS" && ip -n "$SMOKE_NETNS" link set lo up || return 1
  local before after
  before=$(smoke_connect 10.96.0.10 80)
  echo "connect before apply: $before"
  [[ $before == *"Network is unreachable"* ]] ||
    { echo "the netns is not as expected: 10.96.0.10 should be unreachable before apply"; return 1; }
  cgs lb apply "$SMOKE_LB_CONFIG" --cgroup "$SMOKE_CG" --pin-dir "$SMOKE_PINS" ||
    { echo "cgscope lb apply failed"; return 1; }
  # Balanced to 127.0.0.2:8080, where nothing listens: refused instead of unreachable.
  after=$(smoke_connect 10.96.0.10 80)
  echo "connect after apply: $after"
  [[ $after == *"Connection refused"* ]] ||
    { echo "a connect to the service address was not balanced (expected 'Connection refused')"; return 1; }
}

smoke_lb_status() {
  local out
  out=$(cgs lb status --pin-dir "$SMOKE_PINS") || { echo "$out"; echo "cgscope lb status failed"; return 1; }
  echo "$out"
  [[ $out == *"service smoke-web"* && $out == *"127.0.0.2"* ]] ||
    { echo "lb status does not show service smoke-web with endpoint 127.0.0.2"; return 1; }
}

smoke_lb_reset() {
  cgs lb reset --pin-dir "$SMOKE_PINS" || { echo "cgscope lb reset failed"; return 1; }
  local after
  after=$(smoke_connect 10.96.0.10 80)
  echo "connect after reset: $after"
  [[ ! -e $SMOKE_PINS ]] || { echo "$SMOKE_PINS is still there after reset"; return 1; }
  [[ $after == *"Network is unreachable"* ]] ||
    { echo "connects are still rewritten after reset"; return 1; }
}

# Runs a command in the proxy check's netns (its network only: not `ip netns
# exec`, which remounts /sys and so hides /sys/fs/cgroup).
proxy_ns() { nsenter --net="/run/netns/$SMOKE_PROXY_NETNS" "$@"; }

# wait_listening NAME ADDR PORT: until ADDR:PORT in the proxy netns takes a connect.
wait_listening() {
  local i
  for ((i = 0; i < 40; i++)); do
    proxy_ns bash -c "exec 3<>/dev/tcp/$2/$3" 2>/dev/null && return 0
    sleep 0.5
  done
  echo "$1 did not listen on $2:$3 within 20 s"
  return 1
}

smoke_proxy() {
  local d=$SMOKE_PROXY_DIR out
  mkdir -p "$d/www" && echo cgscope-proxy-smoke >"$d/www/hello.txt" || return 1
  ip netns add "$SMOKE_PROXY_NETNS" && ip -n "$SMOKE_PROXY_NETNS" link set lo up &&
    ip -n "$SMOKE_PROXY_NETNS" addr add 10.0.0.2/32 dev lo || return 1
  # Started directly (no function, no pipe) so that $! is the daemon itself.
  nsenter --net="/run/netns/$SMOKE_PROXY_NETNS" busybox httpd -f -p 10.0.0.2:8080 -h "$d/www" \
    </dev/null >"$d/httpd.log" 2>&1 &
  SMOKE_PIDS+=($!)
  nsenter --net="/run/netns/$SMOKE_PROXY_NETNS" microsocks -i 127.0.0.1 -p 1080 </dev/null >"$d/microsocks.log" 2>&1 &
  SMOKE_PIDS+=($!)
  wait_listening "busybox httpd" 10.0.0.2 8080 && wait_listening microsocks 127.0.0.1 1080 || return 1
  out=$(proxy_ns timeout -k 5 "$SMOKE_CMD_TIMEOUT" "$CGSCOPE_BIN" proxy run --via socks5://127.0.0.1:1080 -- \
    curl -s --max-time 60 http://10.0.0.2:8080/hello.txt) || { echo "$out"; echo "cgscope proxy run failed"; return 1; }
  echo "$out"
  [[ $out == cgscope-proxy-smoke ]] || { echo "curl did not get the page through cgscope proxy run"; return 1; }
  echo "microsocks: $(cat "$d/microsocks.log")"
  grep -q 'connected to 10.0.0.2:8080' "$d/microsocks.log" ||
    { echo "the connection did not go through the upstream (microsocks did not make it)"; return 1; }
}

smoke_cleanup() {
  local pid
  for pid in "${SMOKE_PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  [[ -e $SMOKE_PINS ]] && cgs lb reset --pin-dir "$SMOKE_PINS" >/dev/null 2>&1
  ip netns del "$SMOKE_NETNS" 2>/dev/null
  ip netns del "$SMOKE_PROXY_NETNS" 2>/dev/null
  rm -rf "$SMOKE_PROXY_DIR"
  rmdir "$SMOKE_CG" 2>/dev/null
  true
}

# Runs every check; one "smoke NAME ok|FAILED" line each and a summary line.
run_smoke() {
  local name ok=0 log t0 why failed=()
  for name in "${SMOKE_CHECKS[@]}"; do
    log=/tmp/smoke-$name.log
    t0=$SECONDS
    say "smoke $name start"
    if "smoke_$name" >"$log" 2>&1; then
      sed 's/^/  | /' "$log"
      say "smoke $name ok ($((SECONDS - t0))s)"
      ok=$((ok + 1))
    else
      sed 's/^/  | /' "$log"
      why=$(tail -n 1 "$log")
      say "smoke $name FAILED ($((SECONDS - t0))s): $why"
      failed+=("$name")
    fi
  done
  smoke_cleanup
  say "smoke result: ${ok}/${#SMOKE_CHECKS[@]} ok${failed:+; failed: ${failed[*]}}"
}
