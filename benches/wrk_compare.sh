#!/bin/bash
# Compares harpoon builds side by side with the issue 14 method: wrk against nginx serving a
# 23-byte JSON file (direct), nginx as a reverse proxy with upstream keep-alive in front of it,
# the floor of harpoon's own stack (examples/bare_proxy.rs: tokio, hyper and hyper-util's pooled
# client answering each POST with the file, nothing else) and each harpoon binary's `tools/call`
# (stateless 2026-07-28 POST) of a route to that file, with the CPU time the floor and harpoon
# spent per call; then each binary's memory for 100 concurrent calls cut at a 1 MiB cap.
#
#   benches/wrk_compare.sh SECONDS BINARY...
#   e.g. benches/wrk_compare.sh 5 /tmp/harpoon-before target/release/harpoon
#
# The floor is target/release/examples/bare_proxy (cargo build --release --example bare_proxy),
# or the binary BARE_PROXY names; without it that column says so.
#
# Needs wrk, nginx and curl (Debian: apt-get install wrk nginx-light curl). Everything listens
# on 127.0.0.1 (free ports), runs from a temporary directory and is stopped at the end.
set -euo pipefail
seconds=${1:?usage: $0 SECONDS BINARY...}
shift
[ $# -ge 1 ] || { echo "usage: $0 SECONDS BINARY..." >&2; exit 2; }
source "$(dirname "$0")/wrk_common.sh"
proxy=$(port)
cat >"$dir/proxy.conf" <<EOF
worker_processes 1; daemon off; error_log $dir/proxy.err; pid $dir/proxy.pid;
events { worker_connections 1024; }
http { access_log off; upstream up { server 127.0.0.1:$up; keepalive 128; }
  server { listen 127.0.0.1:$proxy; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
EOF
nginx -c "$dir/proxy.conf" & pids+=($!)
wait_for "http://127.0.0.1:$proxy/api/items/1"
measure() { wrk "$@" --latency | summary; }
# Starts `$1 serve` on a free port: sets $hp (its port) and $h (its pid).
start_serve() {
  hp=$(port)
  "$1" serve --allowlist "$dir/allow.yaml" --listen "127.0.0.1:$hp" >"$dir/serve.log" 2>&1 &
  h=$!
  pids+=($h)
  wait_for "http://127.0.0.1:$hp/readyz"
}
# wrk's summary of a POST run against $2, with the CPU time process $1 spent per call.
measure_cpu() {
  local pid=$1 url=$2; shift 2
  local cpu0 cpu1 out calls
  cpu0=$(cpu_ticks "$pid")
  out=$(wrk "$@" -s "$dir/post.lua" --latency "$url")
  cpu1=$(cpu_ticks "$pid")
  calls=$(awk '/requests in/{print $1}' <<<"$out")
  echo "$(summary <<<"$out"), $(per_call "$cpu0" "$cpu1" "$calls") µs CPU per call"
}
bare=${BARE_PROXY:-target/release/examples/bare_proxy}
bp=
if [ -x "$bare" ]; then
  bp=$(port)
  "$bare" "127.0.0.1:$bp" "http://127.0.0.1:$up/api/items/1" >"$dir/bare.log" 2>&1 &
  bpid=$!
  pids+=($bpid)
  wait_for "http://127.0.0.1:$bp/"
fi
echo "| run | concurrency | direct | nginx reverse proxy | floor: bare hyper proxy | harpoon |"
echo "|---|---|---|---|---|---|"
for bin in "$@"; do
  start_serve "$bin"
  for c in 1 64; do
    t=$([ $c = 1 ] && echo 1 || echo 2)
    d=$(measure -t$t -c$c -d${seconds}s "http://127.0.0.1:$up/api/items/1")
    n=$(measure -t$t -c$c -d${seconds}s "http://127.0.0.1:$proxy/api/items/1")
    if [ -n "$bp" ]; then
      b=$(measure_cpu "$bpid" "http://127.0.0.1:$bp/mcp" -t$t -c$c -d${seconds}s)
    else
      b="not built: cargo build --release --example bare_proxy"
    fi
    m=$(measure_cpu "$h" "http://127.0.0.1:$hp/mcp" -t$t -c$c -d${seconds}s)
    echo "| $bin | $c | $d | $n | $b | $m |"
  done
  kill $h; wait $h 2>/dev/null || true
done
echo
echo "| run | 100 calls cut at 1 MiB: idle RSS | peak RSS | growth per call |"
echo "|---|---|---|---|"
for bin in "$@"; do
  start_serve "$bin"
  idle=$(awk '/VmRSS/{print $2}' /proc/$h/status)
  body=$(call bench_big '{}')
  calls=()
  for _ in $(seq 100); do
    curl -s -o /dev/null -X POST -H 'content-type: application/json' \
      -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2026-07-28' \
      -H 'mcp-method: tools/call' -H 'mcp-name: bench_big' --data "$body" "http://127.0.0.1:$hp/mcp" &
    calls+=($!)
  done
  wait "${calls[@]}"
  peak=$(awk '/VmHWM/{print $2}' /proc/$h/status)
  kill $h; wait $h 2>/dev/null || true
  echo "| $bin | $((idle / 1024)) MiB | $((peak / 1024)) MiB | $(python3 -c "print(f'{($peak - $idle) / 1024 / 100:.2f}')") MiB |"
done
