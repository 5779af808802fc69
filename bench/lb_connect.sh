#!/bin/bash
# Connect latency through cgscope lb and through iptables DNAT (as kube-proxy does),
# as ratios to a direct connect, all in one network namespace made for the run.
# Needs root. Nothing leaves the namespace: service addresses exist only in it.
#
#   BUILD=build bench/lb_connect.sh
#   env: BUILD (dir with cgscope and bench_connect_latency),
#        LB_ROUNDS (default 100000 connects per path per run), RUNS (default 3 runs per figure),
#        ROUNDS (default 20000, split over REPEAT (default 9) alternations, for iptables),
#        LB_SIZES (default "1 1000 10000 100000"), IPT_SIZES (default "1 1000 10000"),
#        VARIANT_SIZE (default 10000: the size of the weights and affinity rows; "" skips them)
#
# cgscope lb is measured in one process that alternates 1000-connect batches between
# the hooked cgroup and an unhooked sibling (bench_connect_latency pair; 100 untimed
# connects after each switch): each ratio is the median over 100 adjacent pairs, so a
# 2% difference stands out of the drift of a busy VM. iptables rules slow every
# connection of the namespace, the direct ones too, so they are measured as separate
# runs with the rules installed around the measured run only.
set -euo pipefail
shopt -s inherit_errexit  # a failed client run inside $(...) stops the script too
trap 'echo "bench/lb_connect.sh: line $LINENO failed" >&2' ERR

BUILD=${BUILD:-build}
CGSCOPE=${CGSCOPE:-$BUILD/cgscope}
CLIENT=${CLIENT:-$BUILD/bench_connect_latency}
ROUNDS=${ROUNDS:-20000}
LB_ROUNDS=${LB_ROUNDS:-100000}
RUNS=${RUNS:-3}
REPEAT=${REPEAT:-9}
PER_RUN=$(( ROUNDS / REPEAT ))
LB_SIZES=${LB_SIZES:-"1 1000 10000 100000"}
IPT_SIZES=${IPT_SIZES:-"1 1000 10000"}
VARIANT_SIZE=${VARIANT_SIZE-10000}

[ "$(id -u)" = 0 ] || { echo "needs root" >&2; exit 1; }
for b in "$CGSCOPE" "$CLIENT"; do [ -x "$b" ] || { echo "missing $b (set BUILD=...)" >&2; exit 1; }; done

TAG=cgscope-bench-$$
NS=$TAG
# The filesystem type is the field after " - " (optional fields come before it).
CGROOT=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2" && $4 == "/") m = $5; break } }
  END { print m }' /proc/self/mountinfo)
[ -n "$CGROOT" ] && [ -d "$CGROOT" ] || { echo "no cgroup v2 mount found" >&2; exit 1; }
CG=$CGROOT/$TAG
CG_BASE=$CGROOT/$TAG-base
PIN=/sys/fs/bpf/$TAG
TMP=$(mktemp -d /tmp/$TAG.XXXX)
SERVER_PID=

cleanup() {
  set +e
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  "$CGSCOPE" lb reset --pin-dir "$PIN" >/dev/null 2>&1
  [ -d "$CG" ] && rmdir "$CG"
  [ -d "$CG_BASE" ] && rmdir "$CG_BASE"
  ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

ip netns add "$NS"
ip -n "$NS" link set lo up
# A routable home for the iptables service range, inside the namespace only.
ip -n "$NS" link add cgs0 type veth peer name cgs1
ip -n "$NS" link set cgs1 up
ip -n "$NS" link set cgs0 up
ip -n "$NS" addr add 10.97.255.254/16 dev cgs0
ip netns exec "$NS" sysctl -qw net.ipv4.conf.all.route_localnet=1
mkdir "$CG" "$CG_BASE"

ip netns exec "$NS" "$CLIENT" serve 0.0.0.0 8080 &
SERVER_PID=$!
sleep 0.3

# The client runs in the bench cgroup and the bench netns.
run_in() {  # CGROUP ADDR PORT -> ns per connect (median batch)
  sh -c 'echo $$ > "$1/cgroup.procs" && exec ip netns exec "$2" "$3" connect "$4" "$5" "$6"' \
    _ "$1" "$NS" "$CLIENT" "$2" "$3" "$PER_RUN" | awk '{ print $2 }'
}
measure() { run_in "$CG" "$@"; }          # the cgroup lb attaches to
measure_base() { run_in "$CG_BASE" "$@"; } # a sibling with no hooks

declare -a NAMES VALUES RATIOS
record() { NAMES+=("$1"); VALUES+=("$2"); RATIOS+=("$3"); }

# kube-proxy style: one DNAT rule per service, the measured service last.
iptables_rules() {  # N
  local n=$1
  {
    echo "*nat"
    echo ":CGS-SERVICES - [0:0]"
    echo "-A OUTPUT -j CGS-SERVICES"
    awk -v n="$n" 'BEGIN { for (i = n - 1; i >= 0; i--) {
      printf "-A CGS-SERVICES -d 10.97.%d.%d/32 -p tcp --dport 80 -j DNAT --to-destination 127.0.0.2:8080\n",
             int(i / 250), i % 250 + 1 } }'
    echo "COMMIT"
  } > "$TMP/ipt"
  ip netns exec "$NS" iptables-restore < "$TMP/ipt"
}

# VARIANT: "" | weights (service 0's endpoints weighted 1:2:3) | affinity (service 0 with affinity: client_ip)
lb_config() {  # N KEEP_ORIGINAL [VARIANT] -> file; service 0 is the measured one (backends 127.0.0.2-4)
  awk -v n="$1" -v keep="$2" -v variant="${3:-}" 'BEGIN {
    print "keep_original: " keep
    print "services:"
    for (i = 0; i < n; i++) {
      printf "  - name: s%d\n    addresses: [10.%d.%d.%d]\n    ports: [{port: 80, target_port: 8080}]\n",
             i, 64 + int(i / 65536), int(i / 256) % 256, i % 256
      if (i == 0 && variant == "affinity") print "    affinity: client_ip"
      if (i == 0 && variant == "weights")
        print "    endpoints: [{address: 127.0.0.2, weight: 1}, {address: 127.0.0.3, weight: 2}, {address: 127.0.0.4, weight: 3}]"
      else if (i == 0) print "    endpoints: [{address: 127.0.0.2}, {address: 127.0.0.3}, {address: 127.0.0.4}]"
      else printf "    endpoints: [{address: 127.1.%d.%d}, {address: 127.2.%d.%d}, {address: 127.3.%d.%d}]\n",
                  int(i / 256) % 256, i % 256, int(i / 256) % 256, i % 256, int(i / 256) % 256, i % 256
    } }' > "$TMP/lb.yaml"
}

# Baseline: the same client in a sibling cgroup with no hooks. Every figure is
# taken as REPEAT alternations of (direct, measured); its ratio is the median of
# the REPEAT ratios, so drift on a busy VM (10-20% between runs here) cancels out.
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# PAIR_SETUP / PAIR_TEARDOWN: commands run around each measured run, so that the
# direct run is taken without them (iptables rules slow every new connection of
# the namespace, the direct ones too).
PAIR_SETUP=:
PAIR_TEARDOWN=:
paired() {  # ADDR PORT -> "ns ratio"
  local i d m vs="" rs=""
  for i in $(seq "$REPEAT"); do
    d=$(measure_base 127.0.0.2 8080)
    $PAIR_SETUP >/dev/null
    m=$(measure "$1" "$2")
    $PAIR_TEARDOWN >/dev/null
    vs+="$m"$'\n'
    rs+=$(awk -v a="$m" -v b="$d" 'BEGIN { printf "%.4f", a / b }')$'\n'
  done
  echo "$(printf '%s' "$vs" | median) $(printf '%s' "$rs" | median | awk '{ printf "%.3f", $1 }')"
}
d=$(for i in $(seq "$REPEAT"); do measure_base 127.0.0.2 8080; done | median)
record "direct" "$d" "1.000x"

iptables_flush() {
  ip netns exec "$NS" iptables -t nat -F
  ip netns exec "$NS" iptables -t nat -X CGS-SERVICES
}
for n in $IPT_SIZES; do
  PAIR_SETUP="iptables_rules $n"
  PAIR_TEARDOWN=iptables_flush
  res=$(paired 10.97.0.1 80)
  read -r v r <<<"$res"
  record "iptables DNAT, $n rules" "$v" "${r}x"
done
PAIR_SETUP=:
PAIR_TEARDOWN=:

# In-process pairs: "ns ratio lo-hi" = the median run's ns, the median of the
# RUNS runs' ratios, and their range.
paired_lb() {  # ADDR PORT
  local i out vs="" rs=""
  for i in $(seq "$RUNS"); do
    out=$(ip netns exec "$NS" "$CLIENT" pair fd:3 127.0.0.2 8080 fd:4 "$1" "$2" "$LB_ROUNDS" \
      3>"$CG_BASE/cgroup.procs" 4>"$CG/cgroup.procs") || { echo "pair run to $1:$2 failed" >&2; return 1; }
    vs+=$(echo "$out" | awk '{ print $4 }')$'\n'
    rs+=$(echo "$out" | awk '{ print $6 }')$'\n'
  done
  local lo hi
  lo=$(printf '%s' "$rs" | sort -n | head -1)
  hi=$(printf '%s' "$rs" | sort -n | tail -1)
  echo "$(printf '%s' "$vs" | median) $(printf '%s' "$rs" | median | awk '{ printf "%.3f", $1 }')" \
    "$(awk -v a="$lo" -v b="$hi" 'BEGIN { printf "%.3f-%.3f", a, b }')"
}

APPLY_INFO=""
for n in $LB_SIZES; do
  for keep in true false; do
    lb_config "$n" "$keep"
    # Each size's first apply starts from nothing, so its time is a whole apply
    # (load, create, write N services), not a difference from the previous size.
    if [ "$keep" = true ]; then "$CGSCOPE" lb reset --pin-dir "$PIN" >/dev/null; fi
    out=$("$CGSCOPE" lb apply "$TMP/lb.yaml" --cgroup "$CG" --pin-dir "$PIN")
    ms=$(echo "$out" | sed -n 's/.* in \([0-9.]*\) ms.*/\1/p')
    if [ "$keep" = true ]; then
      mem=$("$CGSCOPE" lb status --pin-dir "$PIN" | sed -n 's/^map memory: //p')
      APPLY_INFO+=$(printf "  lb apply %6d services x 3 endpoints: %8.1f ms, map memory %s" "$n" "$ms" "$mem")$'\n'
      label="cgscope lb, $n services"
    else
      label="  same, keep_original: false"
    fi
    res=$(paired_lb 10.64.0.0 80)
    read -r v r range <<<"$res"
    record "$label" "$v" "${r}x ($range)"
  done
done
# Weights and session affinity on the measured service, against plain random
# at the same size (VARIANT_SIZE, default 10,000; "" to skip).
for variant in ${VARIANT_SIZE:+weights affinity}; do
  lb_config "$VARIANT_SIZE" true "$variant"
  "$CGSCOPE" lb apply "$TMP/lb.yaml" --cgroup "$CG" --pin-dir "$PIN" >/dev/null
  res=$(paired_lb 10.64.0.0 80)
  read -r v r range <<<"$res"
  record "cgscope lb, $VARIANT_SIZE services, $variant" "$v" "${r}x ($range)"
done
res=$(paired_lb 127.0.0.2 8080)
read -r v r range <<<"$res"
record "direct from the hooked cgroup" "$v" "${r}x ($range)"

echo
echo "connect+close latency; ratio to a direct connect from a cgroup with no hooks, in a namespace with no rules"
echo "iptables: $ROUNDS rounds in $REPEAT runs, median of (run / the direct run just before it)"
echo "cgscope: $RUNS runs of $LB_ROUNDS rounds in 1000-round pairs, median (range) of the runs' median pair ratios"
printf "%-34s %10s  %s\n" "path" "ns" "ratio"
for i in "${!NAMES[@]}"; do
  printf "%-34s %10s  %s\n" "${NAMES[$i]}" "${VALUES[$i]}" "${RATIOS[$i]}"
done
echo
printf "%s" "$APPLY_INFO"
