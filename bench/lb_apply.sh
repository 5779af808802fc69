#!/bin/bash
# How long `cgscope lb apply` takes and how much memory it needs, for the large
# changes of issue 11: 100,000 services replaced by 100,000 others (other names,
# addresses and backends: the maps cannot hold both sets, so the writes go in
# the order that removes first), and one service with 100,000 endpoints (applied,
# then every endpoint replaced). Targets: each under 5 s, and the apply's peak
# memory (max RSS) under twice the maps' own (fdinfo memlock, as `lb status`
# reports it). Needs root; the hooks go on a cgroup made for the run, with no
# process in it, so nothing is balanced.
#
#   BUILD=build bench/lb_apply.sh
#   env: BUILD (dir with cgscope), RUNS (default 3: each row is the median run)
set -euo pipefail
shopt -s inherit_errexit
trap 'echo "bench/lb_apply.sh: line $LINENO failed" >&2' ERR

BUILD=${BUILD:-build}
CGSCOPE=${CGSCOPE:-$BUILD/cgscope}
RUNS=${RUNS:-3}
[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
[ -x "$CGSCOPE" ] || { echo "missing $CGSCOPE (set BUILD=...)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time; Debian package time)" >&2; exit 1; }

TAG=cgscope-lbapply-$$
CGROOT=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2" && $4 == "/") m = $5; break } }
  END { print m }' /proc/self/mountinfo)
[ -n "$CGROOT" ] && [ -d "$CGROOT" ] || { echo "no cgroup v2 mount found" >&2; exit 1; }
CG=$CGROOT/$TAG
PIN=/sys/fs/bpf/$TAG
TMP=$(mktemp -d /tmp/$TAG.XXXX)
cleanup() {
  set +e
  "$CGSCOPE" lb reset --pin-dir "$PIN" >/dev/null 2>&1
  [ -d "$CG" ] && rmdir "$CG"
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
mkdir "$CG"

services() {  # PREFIX BLOCK N -> N services, one endpoint each; two blocks share no address
  awk -v p="$1" -v b="$2" -v n="$3" 'BEGIN {
    print "services:"
    for (i = 0; i < n; i++) {
      hi = 2 * b + int(i / 65536); mid = int(i / 256) % 256; lo = i % 256
      printf "  - {name: %s%d, addresses: [10.%d.%d.%d], ports: [80], endpoints: [{address: 127.%d.%d.%d}]}\n",
             p, i, 64 + hi, mid, lo, 1 + hi, mid, lo
    } }'
}
endpoints() {  # BLOCK N -> one service with N endpoints
  awk -v b="$1" -v n="$2" 'BEGIN {
    print "services:\n  - name: big\n    addresses: [10.96.0.10]\n    ports: [80]\n    endpoints:"
    for (i = 0; i < n; i++)
      printf "      - {address: 127.%d.%d.%d}\n", 1 + 2 * b + int(i / 65536), int(i / 256) % 256, i % 256
  }'
}
services a 0 100000 > "$TMP/a.yaml"
services b 1 100000 > "$TMP/b.yaml"
endpoints 0 100000 > "$TMP/e1.yaml"
endpoints 1 100000 > "$TMP/e2.yaml"

apply() {  # FILE -> "wall_s cpu_s maxrss_kib"
  /usr/bin/time -f "%e %U %S %M" -o "$TMP/time" "$CGSCOPE" lb apply "$1" --cgroup "$CG" --pin-dir "$PIN" >"$TMP/out"
  grep -q "map writes\|no change" "$TMP/out" || { cat "$TMP/out" >&2; return 1; }
  awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$TMP/time"
}
map_kib() { "$CGSCOPE" lb status --pin-dir "$PIN" | sed -n 's/^map memory: \([0-9.]*\) KiB/\1/p'; }
median() { sort -n | awk '{ a[NR] = $0 } END { print a[int((NR + 1) / 2)] }'; }

declare -a ROWS
row() {  # NAME SETUP_FILE FILE: apply SETUP_FILE (from nothing), then time FILE; RUNS times
  local name=$1 setup=$2 file=$3 i res walls="" lines=""
  for i in $(seq "$RUNS"); do
    "$CGSCOPE" lb reset --pin-dir "$PIN" >/dev/null
    # The kernel frees the maps a reset let go of in a worker, after an RCU grace
    # period: 100,000 services take it seconds of CPU, which would be counted
    # against the next apply's wall time.
    sleep 3
    if [ -n "$setup" ]; then apply "$setup" >/dev/null; fi
    res=$(apply "$file")
    lines+="$res $(map_kib)"$'\n'
  done
  # The median run by wall time.
  local med
  med=$(printf '%s' "$lines" | sort -n | awk -v r="$RUNS" 'NR == int((r + 1) / 2)')
  read -r wall cpu rss maps <<<"$med"
  ROWS+=("$(awk -v n="$name" -v w="$wall" -v c="$cpu" -v r="$rss" -v m="$maps" 'BEGIN {
    printf "%-46s %7.2f s %7.2f s %8.1f MiB %8.1f MiB %6.2fx  %s\n", n, w, c, r / 1024, m / 1024, r / m,
           (w < 5 && r < 2 * m) ? "ok" : "OVER" }')")
}

row "100,000 services, first apply" "" "$TMP/a.yaml"
row "100,000 services replaced by 100,000 others" "$TMP/a.yaml" "$TMP/b.yaml"
row "1 service with 100,000 endpoints, first apply" "" "$TMP/e1.yaml"
row "  the same, all 100,000 endpoints replaced" "$TMP/e1.yaml" "$TMP/e2.yaml"

echo
echo "lb apply, median of $RUNS runs; targets: under 5 s, peak memory under 2x the maps' own"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (wall time grows with it; CPU time much less)"
printf "%-46s %9s %9s %12s %12s %7s\n" "change" "wall" "cpu" "max rss" "maps" "rss/maps"
printf "%s\n" "${ROWS[@]}"
