#!/bin/bash
# PID 1 of a kernel-matrix guest (scripts/kernel-matrix.sh boots it with
# init=/opt/cgscope-matrix/guest-init.sh). It mounts only what any init would (proc,
# sysfs, devtmpfs, cgroup2): no tracefs and no bpffs, because cgscope must cope
# without them. Then it runs the smoke checks (smoke.sh) and the root integration
# tests, prints each result on the console as a "cgscope-matrix: ..." line for the
# host to read, and powers the machine off.
#
# /opt/cgscope-matrix/config (written by the host) sets:
#   CGSCOPE_BIN          the binary under test
#   INTEGRATION_BIN      the gtest binary, empty to skip the integration tests
#   INTEGRATION_FILTER   a --gtest_filter pattern, empty for every test
#   INTEGRATION_TIMEOUT  seconds the integration tests (or GUEST_CMD) may take
#   GUEST_CMD            if set, run only this (bash -c), for investigating
# Never uses `set -e`: PID 1 must reach the power-off whatever fails.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LANG=C.UTF-8 HOME=/root TERM=dumb
here=/opt/cgscope-matrix
# shellcheck source=/dev/null
. "$here/config"
export CGSCOPE_BIN  # for GUEST_CMD

say() { echo "cgscope-matrix: $*"; }

power_off() {
  sync
  echo o >/proc/sysrq-trigger
  sleep 30  # the power-off is asynchronous; PID 1 must not exit meanwhile (panic)
}

# The initramfs usually moved its proc, sys and dev here already: mount what is missing.
mount_basics() {
  mountpoint -q /proc || mount -t proc proc /proc
  mountpoint -q /sys || mount -t sysfs sysfs /sys
  mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
  mountpoint -q /sys/fs/cgroup || mount -t cgroup2 cgroup2 /sys/fs/cgroup
}

# What the kernel offers that cgscope depends on, so a log explains a failure.
describe_guest() {
  say "kernel $(uname -r) ($(nproc) cpus, $(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) MiB)"
  local fs
  fs=$(awk '{print $2 "(" $3 ")"}' /proc/mounts | tr '\n' ' ')
  say "mounts: $fs"
  if [[ -e /sys/kernel/btf/vmlinux ]]; then say "btf: yes"; else say "btf: NO (/sys/kernel/btf/vmlinux missing)"; fi
  grep -qw tracefs /proc/mounts && say "warning: tracefs is mounted, the guest proves nothing about mounting it"
  grep -qw bpf /proc/mounts && say "warning: bpffs is mounted, the guest proves nothing about mounting it"
}

# Runs the gtest binary with a bound on its time; prints one summary line.
run_integration() {
  local t0=$SECONDS log=/tmp/integration.log rc
  say "integration start: $INTEGRATION_BIN (bound ${INTEGRATION_TIMEOUT}s)"
  # Into a file, not a pipe: a process a test leaves behind may hold a pipe open.
  local args=(--gtest_color=no)
  [[ -n $INTEGRATION_FILTER ]] && args+=("--gtest_filter=$INTEGRATION_FILTER")
  (cd /tmp && exec timeout -k 10 "$INTEGRATION_TIMEOUT" "$INTEGRATION_BIN" "${args[@]}") </dev/null >"$log" 2>&1
  rc=$?
  cat "$log"
  local passed failed skipped
  # Counted per test, so that a run cut short still says how far it got.
  passed=$(grep -c '^\[       OK \] .* ([0-9]* ms)$' "$log")
  failed=$(grep -c '^\[  FAILED  \] .* ([0-9]* ms)$' "$log")
  skipped=$(grep -c '^\[  SKIPPED \] .* ([0-9]* ms)$' "$log")
  local how=finished
  [[ $rc -eq 124 || $rc -eq 137 ]] && how="timed out after ${INTEGRATION_TIMEOUT}s"
  grep -q '^\[==========\] .* ran\.' "$log" || [[ $how != finished ]] || how="crashed"
  # The names of the failed tests, one per line, for the host's report.
  sed -n 's/^\[  FAILED  \] \([A-Za-z0-9_/.]*\)\(, where.*\| (.*\)\?$/\1/p' "$log" | sort -u |
    while read -r t; do say "integration failed test: $t"; done
  [[ $how == "timed out"* ]] && say "integration last test started: $(grep '^\[ RUN      \]' "$log" | tail -n 1 | cut -c14-)"
  report_leftovers
  say "integration result: passed=${passed:-0} failed=${failed:-0} skipped=${skipped:-0} rc=$rc how=$how secs=$((SECONDS - t0))"
}

# Processes still running after the tests (other than this shell and kernel
# threads): a test that leaves one behind is worth knowing about.
report_leftovers() {
  local pid ppid args
  while read -r pid ppid args; do
    [[ $pid == "$$" || $pid == 2 || $ppid == 2 || $args == "ps -e"* ]] && continue
    say "left running after the tests: pid $pid (parent $ppid): $args"
  done < <(ps -e -o pid=,ppid=,args=)
}

main() {
  mount_basics
  hostname cgscope-matrix
  # The open-file limits systemd gives a host's services (1024 soft, 524288 hard),
  # not the kernel's 1024/4096: tests with thousands of sockets raise the soft one.
  ulimit -Hn 524288
  ip link set lo up
  say "guest up after $(cut -d' ' -f1 /proc/uptime)s"
  describe_guest
  if [[ -n $GUEST_CMD ]]; then
    say "guest-cmd start: $GUEST_CMD"
    (cd /tmp && exec timeout -k 10 "$INTEGRATION_TIMEOUT" bash -c "$GUEST_CMD") </dev/null
    say "guest-cmd result: rc=$?"
  else
    # shellcheck source=scripts/matrix/smoke.sh
    . "$here/smoke.sh"
    run_smoke
    [[ -n $INTEGRATION_BIN ]] && run_integration
  fi
  say "done after $(cut -d' ' -f1 /proc/uptime)s"
  power_off
}

main "$@" 2>&1
