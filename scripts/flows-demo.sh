#!/usr/bin/env bash
# The README's "who talks to whom" example, runnable: three docker-named cgroups
# under /flowdemo, each with a network namespace on one bridge (198.18.77.0/24,
# checked free first), a web server in B, a TCP listener and a small DNS server
# in C, and a client in A that fetches from B three times, writes to C's
# listener and looks a name up in C's DNS. `cgscope trace --flows` watches
# /flowdemo meanwhile; its output is printed, and with -o dot FILE.png drawn.
# Everything made here is removed at the end, whatever happens.
#
# Usage (as root): scripts/flows-demo.sh [BUILD_DIR] [table|json|dot PNG]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
form=${2:-table}
png=${3:-}
cgscope=$build/cgscope
[[ -x $cgscope ]] || { echo "build first: scripts/build.sh" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 1; }
[[ $form != dot || -n $png ]] || { echo "-o dot needs a PNG file to draw" >&2; exit 1; }
for t in busybox python3 ip; do command -v "$t" >/dev/null || { echo "$t is not installed" >&2; exit 1; }; done
[[ $form != dot ]] || command -v dot >/dev/null || { echo "dot (graphviz) is not installed" >&2; exit 1; }
route=$(ip -o route get 198.18.77.2)
[[ $route == *" via "* && $route != *local* ]] || { echo "198.18.77.0/24 is in use here: $route" >&2; exit 1; }

cg2=$(awk '{for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2" && $4 == "/") { print $5; exit } break }}' \
  /proc/self/mountinfo)
ids=(3f1c0a9e5b7d 9b8a7c6d5e4f 77aa88bb99cc)
work=$(mktemp -d /tmp/cgscope-flowdemo-XXXXXX)
pids=()
tracer=""
cleanup() {
  set +e
  [[ -n $tracer ]] && kill -INT "$tracer" 2>/dev/null && wait "$tracer" 2>/dev/null
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for i in 0 1 2; do ip netns del "cgsdemo$i" 2>/dev/null; done
  ip link del cgsdemobr 2>/dev/null
  for i in 0 1 2; do rmdir "$cg2/flowdemo/docker-${ids[$i]}$(printf '%052d' 0).scope" 2>/dev/null; done
  rmdir "$cg2/flowdemo" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

mkdir "$cg2/flowdemo"
ip link add cgsdemobr type bridge
ip link set cgsdemobr up
for i in 0 1 2; do
  mkdir "$cg2/flowdemo/docker-${ids[$i]}$(printf '%052d' 0).scope"
  ip netns add "cgsdemo$i"
  ip link add "cgsdemo$i" type veth peer name eth0 netns "cgsdemo$i"
  ip link set "cgsdemo$i" master cgsdemobr up
  ip -n "cgsdemo$i" addr add "198.18.77.$((i + 1))/24" dev eth0
  ip -n "cgsdemo$i" link set eth0 up
  ip -n "cgsdemo$i" link set lo up
done
# run_in N CMD...: CMD in container N's cgroup and namespace, in the background.
run_in() {
  local n=$1
  shift
  sh -c 'echo $$ > "$1/cgroup.procs"; shift; exec "$@"' _ "$cg2/flowdemo/docker-${ids[$n]}$(printf '%052d' 0).scope" \
    ip netns exec "cgsdemo$n" "$@" &
  pids+=($!)
}
head -c 20000 /dev/urandom > "$work/index.html"
run_in 1 busybox httpd -f -p 8080 -h "$work"
run_in 2 busybox nc -ll -p 6379 -e cat
# A DNS server that answers every A query with 198.18.77.2 and anything else with no record.
cat > "$work/dns.py" <<'EOF'
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
while True:
    q, peer = s.recvfrom(512)
    end = q.index(b"\0", 12) + 5
    qtype = struct.unpack("!H", q[end - 4:end - 2])[0]
    answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + socket.inet_aton("198.18.77.2") if qtype == 1 else b""
    s.sendto(q[:2] + b"\x81\x80" + q[4:6] + struct.pack("!HHH", 1 if answer else 0, 0, 0) + q[12:end] + answer, peer)
EOF
run_in 2 python3 "$work/dns.py"
sleep 1

out=$work/flows
"$cgscope" trace --flows -o "$form" --output-file "$out" -c /flowdemo 2>"$work/err" &
tracer=$!
for _ in $(seq 1 100); do grep -q "cgscope: tracing" "$work/err" && break; sleep 0.1; done
for _ in 1 2 3; do run_in 0 busybox wget -q -O /dev/null http://198.18.77.2:8080/index.html; wait "${pids[-1]}"; done
run_in 0 sh -c 'echo PING | busybox nc -w 1 198.18.77.3 6379 >/dev/null'
wait "${pids[-1]}" || true
run_in 0 sh -c 'busybox nslookup web.demo 198.18.77.3 >/dev/null'
wait "${pids[-1]}" >/dev/null || true
sleep 0.5
kill -INT "$tracer" 2>/dev/null || { echo "the trace ended early:" >&2; cat "$work/err" >&2; }
wait "$tracer" || true
tracer=""
if [[ $form == dot ]]; then
  dot -Tpng -o "$png" "$out"
  echo "drew $png"
else
  cat "$out"
fi
grep -v "^cgscope: tracing" "$work/err" >&2 || true
