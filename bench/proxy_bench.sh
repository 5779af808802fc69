#!/usr/bin/env bash
# What `cgscope proxy` costs, as ratios to bare, in one invocation (timings on
# shared VMs drift; ratios taken minutes apart are not comparable). The test host
# is a network namespace made for the run, joined by a veth, its address routed
# on the host as a /32 into it: all traffic goes to loopback or to that address.
#
#  1. Throughput: curl -o /dev/null of a SIZE sparse file from busybox httpd on the
#     test host: bare; `cgscope proxy run --via direct`; the same with
#     `--no-relay` (the kernel logs, no relay hop); `--via socks5://` to
#     microsocks; proxychains4 (LD_PRELOAD) to the same microsocks. ROUNDS
#     interleaved rounds (bare, direct, socks, proxychains, bare, ...): MB/s the
#     medians, ratios the medians of each round's figure to that round's bare.
#  2. Connection set-up: SHORT short connections (connect, 1 byte there, 1 byte
#     back, close) by bench_proxy_client, the same four ways; µs per connection
#     and µs added to bare, medians over ROUNDS interleaved rounds (added: of
#     each round's difference to its bare). For reference,
#     the same client to a server on 127.0.0.1: what the relay's extra leg
#     (client -> relay) costs by itself. Once with everything on one CPU (the
#     table the targets are read from), once where the scheduler puts it
#     (bimodal here: see latency_table).
#  3. CONNS concurrent idle connections through `--via direct` (and bare, as a
#     control): all opened, held, each checked with a 1-byte echo; failures, and
#     the relay's memory per connection (VmRSS of the cgscope process, which
#     runs the relay, before the first connect and with all of them open). Twice:
#     opened one after another, and as a burst (all connects started at once,
#     more than the accept queue holds), where a SYN a full queue dropped makes
#     its connect slow (1 s or more: "slow").
#
# Usage (as root): bench/proxy_bench.sh
#   env: BUILD (default build: cgscope and bench_proxy_client), SIZE (default 1G,
#        as for truncate -s), ROUNDS (default 3), SHORT (default 10000), CONNS
#        (default 10000, or as many as the relay's fds allow: see the note it
#        prints), LAT_CPU (default 0: the CPU
#        of the pinned latency table), ONLY (a comma list of
#        throughput,latency,concurrent; default all three), BASELINE (another
#        cgscope binary, e.g. a build of the previous commit: its `--via direct`
#        gets a row of its own in tables 1 and 2, interleaved with the others,
#        for comparing two builds within one run)
set -euo pipefail
shopt -s inherit_errexit  # a failed command inside $(...) stops the script too
trap 'echo "bench/proxy_bench.sh: line $LINENO failed" >&2' ERR
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
CGSCOPE=$BUILD/cgscope
BASELINE=${BASELINE:-}
CLIENT=$BUILD/bench_proxy_client
SIZE=${SIZE:-1G}
ROUNDS=${ROUNDS:-3}
SHORT=${SHORT:-10000}
# The relay needs 2 fds a connection and about 64 for the rest (as cgscope
# reckons it): 10,000 unless the hard fd limit leaves room for fewer.
CONNS_DEFAULT=10000
if [ "$(ulimit -Hn)" != unlimited ] && [ $((($(ulimit -Hn) - 64) / 2 / 100 * 100)) -lt 10000 ]; then
  CONNS_DEFAULT=$((($(ulimit -Hn) - 64) / 2 / 100 * 100 - 100))
fi
CONNS=${CONNS:-$CONNS_DEFAULT}
LAT_CPU=${LAT_CPU:-0}
ONLY=${ONLY:-throughput,latency,concurrent}

die() { echo "bench/proxy_bench.sh: $*" >&2; exit 1; }
[[ $LAT_CPU =~ ^[0-9]+$ ]] && [ "$LAT_CPU" -lt "$(nproc)" ] || die "LAT_CPU must be a CPU number below $(nproc)"
for v in ROUNDS SHORT CONNS; do
  [[ ${!v} =~ ^[1-9][0-9]{0,6}$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $SIZE =~ ^[1-9][0-9]*[KMG]?$ ]] || die "SIZE must be a number of bytes, or with K, M or G (got '$SIZE')"
want() { [[ ,$ONLY, == *",$1,"* ]]; }
[ "$(id -u)" = 0 ] || die "needs root"

scripts/install-deps.sh --bench
for b in "$CGSCOPE" "$CLIENT" ${BASELINE:+"$BASELINE"}; do [ -x "$b" ] || die "missing $b: build first (scripts/build.sh, or set BUILD=...)"; done
for t in curl busybox microsocks proxychains4 ip ss truncate; do
  command -v "$t" >/dev/null || die "$t is not installed (scripts/install-deps.sh --bench installs it)"
done

TAG=cgscope-bench-$$
NS=$TAG
VETH=cgsb$$  # the host end; ${VETH}n is the namespace's (15 characters at most)
HTTP_PORT=8080
ECHO_PORT=9000
# The filesystem type is the field after " - "; the first whole-hierarchy mount, as cgscope picks it.
CGROOT=$(awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2" && $4 == "/" && m == "") m = $5; break } }
  END { print m }' /proc/self/mountinfo)
[ -n "$CGROOT" ] && [ -d "$CGROOT" ] || die "no cgroup v2 mount found"
TMP=$(mktemp -d "/tmp/$TAG.XXXX")
DAEMONS=()   # pids of the servers and microsocks
CGS_PIDS=()  # pids of the cgscope runs (their cgroups are cgscope-run-PID)
CUR=         # the measured command running now
NS_MADE=

# A sleep without a fork, for the polling loops: a read from a pipe nobody writes.
exec {SLEEP_FD}<> <(:)
nap() { read -r -t "$1" -u "$SLEEP_FD" _ || true; }

stop_pid() {  # PID: TERM, then KILL after 5 s; reaped
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    nap 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  set +e
  trap - ERR
  [ -n "$CUR" ] && stop_pid "$CUR"
  local p q i
  for p in "${DAEMONS[@]}"; do stop_pid "$p"; done
  # A cgscope run that could not clean up (killed hard) leaves its cgroup with its
  # hooks attached, refusing connects: end what is in it (our client), then reset.
  for p in "${CGS_PIDS[@]}"; do
    local cg=$CGROOT/cgscope-run-$p
    [ -d "$cg" ] || continue
    for q in $(cat "$cg/cgroup.procs" 2>/dev/null); do kill -KILL "$q" 2>/dev/null; done
    for ((i = 0; i < 50; i++)); do
      [ -s "$cg/cgroup.procs" ] || break
      nap 0.1
    done
    "$CGSCOPE" proxy reset --cgroup "/cgscope-run-$p" >/dev/null 2>&1
    rmdir "$cg" 2>/dev/null
  done
  ip link del "$VETH" 2>/dev/null
  [ -n "$NS_MADE" ] && ip netns del "$NS" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# run_bounded SECONDS OUT ERR CMD...: runs CMD with stdout to OUT and stderr to
# ERR, stopping it after SECONDS (status 124 then); its status otherwise.
run_bounded() {
  local limit=$1 out=$2 err=$3 i rc=0
  shift 3
  "$@" >"$out" 2>"$err" &
  CUR=$!
  local a
  for a in "$@"; do  # taskset and proxychains4 exec what follows: the pid is cgscope's
    if [ "$a" = "$CGSCOPE" ] || { [ -n "$BASELINE" ] && [ "$a" = "$BASELINE" ]; }; then
      CGS_PIDS+=("$CUR")
      break
    fi
  done
  for ((i = 0; i < limit * 10; i++)); do
    kill -0 "$CUR" 2>/dev/null || break
    nap 0.1
  done
  if kill -0 "$CUR" 2>/dev/null; then
    echo "timed out after ${limit} s: $*" >&2
    stop_pid "$CUR"
    CUR=
    return 124
  fi
  wait "$CUR" || rc=$?
  CUR=
  return "$rc"
}

wait_listening() {  # NETNS|"" ADDR:PORT WHAT
  local i
  for ((i = 0; i < 100; i++)); do
    if [ -n "$1" ]; then
      [ -n "$(ip netns exec "$1" ss -Hltn "src $2")" ] && return 0
    else
      [ -n "$(ss -Hltn "src $2")" ] && return 0
    fi
    nap 0.1
  done
  die "$3 did not listen on $2"
}

# Connects whose SYN a full accept queue dropped (each then waits 1 s or more
# for its retransmission), so far, in the host's network namespace or NETNS's.
listen_drops() {  # [NETNS]
  local out
  if [ -n "${1:-}" ]; then out=$(ip netns exec "$1" nstat -saz TcpExtListenDrops); else out=$(nstat -saz TcpExtListenDrops); fi
  awk '$1 == "TcpExtListenDrops" { print $2; f = 1 } END { if (!f) print 0 }' <<<"$out"
}

median() {  # of the numbers on stdin, one a line (of an even count: the mean of the middle two)
  sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.6f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
# paired ratio|diff "A1 A2 ..." "B1 B2 ...": the median over rounds of Ai/Bi or
# Ai-Bi, each figure against the one of its own round (drift between rounds
# cancels out).
paired() {
  awk -v op="$1" -v a="$2" -v b="$3" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
    for (i = 1; i <= n; i++) printf "%.6f\n", op == "ratio" ? x[i] / y[i] : x[i] - y[i] }' | median
}
field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) { print $(i + 1); exit } }'; }
kv() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

# ---- the test host ------------------------------------------------------------
# 198.18.0.0/15 is the benchmarking range; the tests take 198.18.1-250.x, so the
# bench takes the first of 198.18.254-241.x that nothing on this host routes or
# holds (every route that matches it must be a default route), with no socket
# left on it by an earlier run.
HOST_IP=""
PEER_IP=""
# (Outputs are taken whole before they are searched: with pipefail, `cmd | grep
# -q` fails when grep's early exit kills cmd with SIGPIPE.)
for n in 254 253 252 251 250 249 248 247 246 245 244 243 242 241; do
  routes=$(ip -4 route show table all to match "198.18.$n.2")
  if [ -n "$(grep -v '^default' <<<"$routes" || true)" ]; then continue; fi
  addrs=$(ip -4 -o addr show)
  if grep -qF " 198.18.$n." <<<"$addrs"; then continue; fi
  # Sockets of an earlier run (TIME_WAITs last a minute) would hold its ports.
  if [ -n "$(ss -Htan "src 198.18.$n.1")" ]; then continue; fi
  HOST_IP=198.18.$n.1 PEER_IP=198.18.$n.2
  break
done
[ -n "$PEER_IP" ] || die "every candidate 198.18.241-254.0/24 is already routed or in use on this host"
ip netns add "$NS"
NS_MADE=1
ip link add "$VETH" type veth peer name "${VETH}n" netns "$NS"
ip addr add "$HOST_IP/32" dev "$VETH"
ip link set "$VETH" up
ip route add "$PEER_IP/32" dev "$VETH" src "$HOST_IP"
ip -n "$NS" link set lo up
ip -n "$NS" addr add "$PEER_IP/32" dev "${VETH}n"
ip -n "$NS" link set "${VETH}n" up
ip -n "$NS" route add "$HOST_IP/32" dev "${VETH}n" src "$PEER_IP"
# Before any traffic: the address goes into the veth, not out of the uplink.
route=$(ip route get "$PEER_IP")
[[ $route == *"dev $VETH "* && $route != *" via "* ]] || die "$PEER_IP is not routed into $VETH: $route"

# ---- servers and the SOCKS upstream ----------------------------------------------
mkdir "$TMP/www"
truncate -s "$SIZE" "$TMP/www/f"  # sparse: no disk used
BYTES=$(stat -c %s "$TMP/www/f")
ip netns exec "$NS" busybox httpd -f -p "$PEER_IP:$HTTP_PORT" -h "$TMP/www" &
DAEMONS+=($!)
ip netns exec "$NS" "$CLIENT" serve "$PEER_IP" "$ECHO_PORT" &
SERVER_PID=$!
DAEMONS+=("$SERVER_PID")
free_port() {  # a port below the ephemeral range that nothing listens on
  local i p
  for ((i = 0; i < 50; i++)); do
    p=$((20000 + RANDOM % 10000))
    if [ -z "$(ss -Hltn "sport = :$p")" ]; then echo "$p"; return 0; fi
  done
  die "no free port found"
}
SOCKS_PORT=$(free_port)
microsocks -i 127.0.0.1 -p "$SOCKS_PORT" >"$TMP/microsocks.log" 2>&1 &
SOCKS_PID=$!
DAEMONS+=("$SOCKS_PID")
wait_listening "$NS" "$PEER_IP:$HTTP_PORT" "busybox httpd"
wait_listening "$NS" "$PEER_IP:$ECHO_PORT" "bench_proxy_client serve"
wait_listening "" "127.0.0.1:$SOCKS_PORT" microsocks
# For reference in the latency tables: the same client to a server on loopback,
# what the relay's second leg (client -> relay) costs by itself.
LOOP_PORT=$(free_port)
[ "$LOOP_PORT" != "$SOCKS_PORT" ] || LOOP_PORT=$(free_port)
"$CLIENT" serve 127.0.0.1 "$LOOP_PORT" &
LOOP_PID=$!
DAEMONS+=("$LOOP_PID")
wait_listening "" "127.0.0.1:$LOOP_PORT" "bench_proxy_client serve (loopback)"
SOCKS=socks5://127.0.0.1:$SOCKS_PORT
PCONF=$TMP/proxychains.conf
printf '%s\n' strict_chain quiet_mode "tcp_read_time_out 15000" "tcp_connect_time_out 8000" \
  "[ProxyList]" "socks5 127.0.0.1 $SOCKS_PORT" >"$PCONF"

# The four ways, by row name: the command to put in front of the client's.
ROWS=(bare direct norelay socks proxychains)
[ -z "$BASELINE" ] || ROWS+=(baseline)
declare -A LABEL=(
  [bare]="bare"
  [direct]="cgscope proxy --via direct"
  [norelay]="cgscope proxy --via direct --no-relay"
  [socks]="cgscope proxy --via socks5 (microsocks)"
  [proxychains]="proxychains4 -> microsocks"
  [loopback]="(reference) bare to 127.0.0.1"
  [baseline]="BASELINE proxy --via direct"
)
prefix() {  # ROW LOG -> the words to put before the command
  case $1 in
    bare) ;;
    direct) echo "$CGSCOPE proxy run --via direct --log $2 --" ;;
    norelay) echo "$CGSCOPE proxy run --via direct --no-relay --log $2 --" ;;
    baseline) echo "$BASELINE proxy run --via direct --log $2 --" ;;
    socks) echo "$CGSCOPE proxy run --via $SOCKS --log $2 --" ;;
    proxychains) echo "proxychains4 -q -f $PCONF" ;;
  esac
}
socks_count() { grep -c "connected to $PEER_IP:" "$TMP/microsocks.log" || true; }

# After a run: it went the way it says. cgscope: its summary counts the
# connections as proxied, none failed; proxychains: microsocks saw them.
check_path() {  # ROW ERR CONNECTIONS SOCKS_COUNT_BEFORE
  local row=$1 err=$2 n=$3 before=$4 got
  case $row in
    direct | socks | baseline)
      got=$(sed -n 's/^cgscope proxy: \([0-9]*\) connections proxied, \([0-9]*\) failed.*/\1 \2/p' "$err")
      [ "$got" = "$n 0" ] || die "$row: expected '$n connections proxied, 0 failed', got '${got:-no summary}':
$(tail -5 "$err")"
      ;;
    norelay)  # every connection watched by the kernel and logged
      got=$(sed -n 's/^cgscope proxy: \([0-9]*\) connections logged (\([0-9]*\) open at stop); kernel: \([0-9]*\) watched, \([0-9]*\) not logged.*/\1 \2 \3 \4/p' "$err")
      [ "$got" = "$n 0 $n 0" ] || die "$row: expected '$n connections logged (0 open at stop); kernel: $n watched, 0 not logged', got '${got:-no summary}':
$(tail -5 "$err")"
      ;;
  esac
  case $row in
    socks | proxychains)
      got=$(($(socks_count) - before))
      [ "$got" -eq "$n" ] || die "$row: microsocks saw $got connections, expected $n"
      ;;
  esac
}

# One row of table 3: CONNS connections opened HOW (hold|burst), bare or through
# `--via direct`, held and echoed; the row printed.
concurrent_row() {  # HOW ROW
  local how=$1 row=$2 rc=0 drops_host drops_ns drops line failed mem="" target="" b a e per
  drops_host=$(listen_drops)
  drops_ns=$(listen_drops "$NS")
  if [ "$row" = bare ]; then
    run_bounded 200 "$TMP/out" "$TMP/err" "$CLIENT" "$how" "$PEER_IP" "$ECHO_PORT" "$CONNS" || rc=$?
  else
    run_bounded 200 "$TMP/out" "$TMP/err" "$CGSCOPE" proxy run --via direct --log "$TMP/access-hold.log" -- \
      "$CLIENT" "$how" "$PEER_IP" "$ECHO_PORT" "$CONNS" parent || rc=$?
  fi
  drops=$(($(listen_drops) - drops_host + $(listen_drops "$NS") - drops_ns))
  line=$(grep '^want=' "$TMP/out" || true)
  [ -n "$line" ] || die "concurrent, $how, $row: no result (status $rc):
$(tail -5 "$TMP/err")"
  failed=$(echo "$line" | kv failed)
  if [ "$row" = direct ]; then
    [ "$(echo "$line" | kv rss_comm)" = cgscope ] || die "concurrent: the client's parent is not cgscope: $line"
    b=$(echo "$line" | kv rss_before_kb)
    a=$(echo "$line" | kv rss_after_kb)
    e=$(echo "$line" | kv echoed)
    per="?"
    [ "$e" -gt 0 ] && [ "$a" -ge 0 ] && [ "$b" -ge 0 ] && per="$(((a - b) * 1024 / e)) B/connection"
    mem=$(awk -v b="$b" -v a="$a" 'BEGIN { printf "%.1f -> %.1f MiB", b / 1024, a / 1024 }')" ($per)"
    target="0 failed: $([ "$failed" = 0 ] && echo met || echo MISSED)"
    if [ "$failed" = 0 ]; then check_path direct "$TMP/err" "$CONNS" 0; fi
  fi
  printf '%-40s %-8s %6s %7s %7s %7s %5s %7s %9s  %-18s %s\n' "${LABEL[$row]}" "$how" "$(echo "$line" | kv want)" \
    "$(echo "$line" | kv opened)" "$(echo "$line" | kv echoed)" "$failed" "$(echo "$line" | kv slow)" \
    "$(echo "$line" | kv open_s)" "$drops" "$target" "$mem"
  [ "$failed" = 0 ] || echo "   $row, $how: first failure: $(echo "$line" | kv first_error)"
}

echo
echo "cgscope proxy benchmark: $(uname -r), $(nproc) cores; test host $PEER_IP (netns $NS, via $VETH:" \
  "$(ip route get "$PEER_IP" | head -1 | sed 's/ *$//')); microsocks on 127.0.0.1:$SOCKS_PORT"

# ---- 1. throughput ------------------------------------------------------------------
if want throughput; then
  URL=http://$PEER_IP:$HTTP_PORT/f
  declare -A TP=()
  # Untimed, first: reading the file once puts it in the page cache.
  run_bounded 330 "$TMP/out" "$TMP/err" curl -s -o /dev/null --max-time 300 -w '%{http_code}\n' "$URL" ||
    die "throughput: the warm-up GET of $URL failed: $(cat "$TMP/out" "$TMP/err")"
  for ((r = 1; r <= ROUNDS; r++)); do
    for row in "${ROWS[@]}"; do
      before=$(socks_count)
      rc=0
      # shellcheck disable=SC2046 # the prefix is words on purpose
      run_bounded 330 "$TMP/out" "$TMP/err" $(prefix "$row" "$TMP/access-tp.log") \
        curl -s -o /dev/null --max-time 300 -w '%{http_code} %{size_download} %{speed_download}\n' "$URL" || rc=$?
      read -r code got speed <"$TMP/out" || true
      [ "$rc" = 0 ] && [ "${code:-}" = 200 ] && [ "${got:-}" = "$BYTES" ] ||
        die "throughput, $row: curl status $rc, HTTP ${code:-?}, ${got:-?} of $BYTES bytes:
$(tail -5 "$TMP/err")"
      check_path "$row" "$TMP/err" 1 "$before"
      TP[$row]+="$(awk -v s="$speed" 'BEGIN { printf "%.1f", s / 1e6 }') "
    done
  done
  echo
  printf '1. Throughput: GET of a %s sparse file (%s bytes) from busybox httpd on the test host, curl -o /dev/null\n' \
    "$SIZE" "$BYTES"
  printf '   %s interleaved rounds: MB/s the median (MB = 10^6 bytes), ratio the median of each round'"'"'s to its bare\n' \
    "$ROUNDS"
  printf '%-40s %9s %8s  %-34s %s\n' path MB/s ratio target "rounds (MB/s)"
  for row in "${ROWS[@]}"; do
    m=$(echo "${TP[$row]}" | tr ' ' '\n' | grep . | median)
    ratio=$(paired ratio "${TP[$row]}" "${TP[bare]}")
    case $row in
      direct | norelay) target=">= 0.95x bare: $(awk -v x="$ratio" 'BEGIN { print (x >= 0.95) ? "met" : "MISSED" }')" ;;
      socks)
        vs=$(paired ratio "${TP[socks]}" "${TP[proxychains]}")
        target=">= proxychains4: $(awk -v x="$vs" 'BEGIN { printf "%.2fx, %s", x, (x >= 1) ? "met" : "MISSED" }')"
        ;;
      *) target="" ;;
    esac
    printf '%-40s %9.1f %7.3fx  %-34s %s\n' "${LABEL[$row]}" "$m" "$ratio" "$target" "${TP[$row]% }"
  done
fi

# ---- 2. connection set-up latency -----------------------------------------------------
# Twice: everything (client, relay, echo server, microsocks) on CPU LAT_CPU, and
# where the scheduler puts it. On this VM the second is bimodal (a short
# connection takes 25 or 80 µs bare, as the two ends share a CPU or wake each
# other across CPUs, and that flips from one run to the next), so the pinned
# table is the one the targets are read from; the other shows the spread.
latency_table() {  # CPU|"" (none: the scheduler's placement)
  local cpu=$1 pin=() r row rc line fails before m p99 added target vs how part
  local -A LAT=() P99=() FAILS=() LATM=()
  local all=0-$(($(nproc) - 1))
  if [ -n "$cpu" ]; then
    pin=(taskset -c "$cpu")
    how="all on CPU $cpu"
    part=2a
  else
    how="placed by the scheduler (noisy here)"
    part=2b
  fi
  local p
  for p in "$SERVER_PID" "$SOCKS_PID" "$LOOP_PID"; do taskset -a -p -c "${cpu:-$all}" "$p" >/dev/null; done
  for ((r = 1; r <= ROUNDS; r++)); do
    for row in "${ROWS[@]}" loopback; do
      before=$(socks_count)
      rc=0
      if [ "$row" = loopback ]; then
        run_bounded 200 "$TMP/out" "$TMP/err" "${pin[@]}" "$CLIENT" short 127.0.0.1 "$LOOP_PORT" "$SHORT" || rc=$?
      else
        # shellcheck disable=SC2046 # the prefix is words on purpose
        run_bounded 200 "$TMP/out" "$TMP/err" "${pin[@]}" $(prefix "$row" "$TMP/access-lat.log") \
          "$CLIENT" short "$PEER_IP" "$ECHO_PORT" "$SHORT" || rc=$?
      fi
      line=$(grep '^conns ' "$TMP/out" || true)
      [ -n "$line" ] || die "latency, $row: no result (status $rc):
$(tail -5 "$TMP/err")"
      fails=$(echo "$line" | field failed)
      if [ "$fails" = 0 ]; then
        check_path "$row" "$TMP/err" $((SHORT + 100)) "$before"  # 100 untimed warm-up connections first
      else
        echo "latency, $row, round $r: $fails of $SHORT failed, first: $(echo "$line" | field first_error)" >&2
      fi
      LAT[$row]+="$(echo "$line" | field us_mean) "
      P99[$row]+="$(echo "$line" | field us_p99) "
      FAILS[$row]=$((${FAILS[$row]:-0} + fails))
    done
  done
  for p in "$SERVER_PID" "$SOCKS_PID" "$LOOP_PID"; do taskset -a -p -c "$all" "$p" >/dev/null; done
  echo
  printf '%s. Connection set-up, %s: %s connections, each connect + 1 byte there + 1 byte back + close,\n' \
    "$part" "$how" "$SHORT"
  printf '   to bench_proxy_client serve on the test host; %s interleaved rounds: µs/conn the median of the rounds'"'"' means,\n' \
    "$ROUNDS"
  echo "   added the median of each round's difference to its bare"
  for row in "${ROWS[@]}" loopback; do LATM[$row]=$(echo "${LAT[$row]}" | tr ' ' '\n' | grep . | median); done
  printf '%-40s %8s %8s %8s %7s  %-36s %s\n' path µs/conn added p99 failed target "rounds (µs)"
  for row in "${ROWS[@]}" loopback; do
    m=${LATM[$row]}
    p99=$(echo "${P99[$row]}" | tr ' ' '\n' | grep . | median)
    added=$(paired diff "${LAT[$row]}" "${LAT[bare]}")
    case $row in
      bare | loopback) target="" ;;
      direct | norelay) target="< 30 µs added: $(awk -v x="$added" 'BEGIN { print (x < 30) ? "met" : "MISSED" }')" ;;
      socks)
        vs=$(paired diff "${LAT[socks]}" "${LAT[proxychains]}")
        target="<= proxychains4: $(awk -v x="$vs" 'BEGIN { printf "%+.0f µs, %s", x, (x <= 0) ? "met" : "MISSED" }')"
        ;;
      *) target="" ;;
    esac
    added=$(awk -v x="$added" 'BEGIN { printf "%+.1f", x }')
    case $row in bare | loopback) added="" ;; esac
    printf '%-40s %8.1f %8s %8.1f %7s  %-36s %s\n' "${LABEL[$row]}" "$m" "$added" "$p99" "${FAILS[$row]}" "$target" \
      "${LAT[$row]% }"
  done
  echo "   (reference: a whole short connection over loopback, as the relay's leg from the client adds to each)"
}
if want latency; then
  latency_table "$LAT_CPU"
  latency_table ""
fi

# ---- 3. concurrent idle connections --------------------------------------------------------
if want concurrent; then
  hard=$(ulimit -Hn)
  echo
  printf '3. Concurrent idle connections: %s opened and held, then a 1-byte echo on each\n' "$CONNS"
  if [ "$hard" != unlimited ]; then
    room=$(((hard - 64) / 2))  # the relay: 2 fds a connection, 64 for the rest (as cgscope reckons it)
    if [ "$room" -lt 10000 ]; then
      echo "   note: 10,000 cannot be reached here: the hard RLIMIT_NOFILE is $hard (root cannot raise it" \
        "without CAP_SYS_RESOURCE) and the relay needs 2 fds a connection, room for about $room; held $CONNS (env CONNS)"
    fi
    if [ "$CONNS" -gt "$room" ]; then
      echo "   note: CONNS=$CONNS is more than the relay's room ($room): failures are expected"
    fi
  fi
  printf '%-40s %-8s %6s %7s %7s %7s %5s %7s %9s  %-18s %s\n' path opening want opened echoed failed slow open_s \
    "SYN drops" "target" "relay VmRSS before -> after (per connection)"
  for how in hold burst; do
    for row in bare direct; do
      concurrent_row "$how" "$row"
    done
  done
  echo "   (opening: hold, one connect after another; burst, all at once. VmRSS is the relay's user-space"
  echo "   memory; the kernel's socket buffers are not in it. SYN drops: connects dropped by a full accept"
  echo "   queue (TcpExtListenDrops, host + test host), each retried after 1 s or more, and so slow)"
fi
