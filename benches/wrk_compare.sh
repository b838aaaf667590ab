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
for tool in wrk nginx curl python3; do
  command -v $tool >/dev/null || { echo "$tool is missing (apt-get install wrk nginx-light curl)" >&2; exit 2; }
done
dir=$(mktemp -d)
chmod 755 "$dir" # nginx workers run as another user and must read the files
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up=$(port); proxy=$(port)
mkdir -p "$dir/www/api/items"
printf '{"id":"1","name":"w"}\n' >"$dir/www/api/items/1"
head -c 2097152 /dev/zero | tr '\0' x >"$dir/www/api/big"
cat >"$dir/up.conf" <<EOF
worker_processes 1; daemon off; error_log $dir/up.err; pid $dir/up.pid;
events { worker_connections 1024; }
http { access_log off; default_type application/json;
  server { listen 127.0.0.1:$up; root $dir/www; location = /api/big { default_type text/plain; } } }
EOF
cat >"$dir/proxy.conf" <<EOF
worker_processes 1; daemon off; error_log $dir/proxy.err; pid $dir/proxy.pid;
events { worker_connections 1024; }
http { access_log off; upstream up { server 127.0.0.1:$up; keepalive 128; }
  server { listen 127.0.0.1:$proxy; location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
EOF
cat >"$dir/allow.yaml" <<EOF
version: 1
targets:
  - label: bench
    base_url: http://127.0.0.1:$up/api
    network: { allow_cidrs: [127.0.0.1/32] }
    dangerous: { allow_plaintext_http: true }
    limits: { concurrency: 1024, response_bytes: 1MiB, timeout: 30s }
    routes:
      - { name: get_item, method: GET, path: "/items/{id}", params: { id: { pattern: "^[0-9]{1,9}$" } } }
      - { name: big, method: GET, path: /big }
EOF
call() { # the JSON-RPC body of a tools/call of $1 with arguments $2
  printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s","arguments":%s,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}' "$1" "$2"
}
cat >"$dir/post.lua" <<EOF
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json, text/event-stream"
wrk.headers["mcp-protocol-version"] = "2026-07-28"
wrk.headers["mcp-method"] = "tools/call"
wrk.headers["mcp-name"] = "bench_get_item"
wrk.body = '$(call bench_get_item '{"id":"1"}')'
EOF
nginx -c "$dir/up.conf" & pids+=($!)
nginx -c "$dir/proxy.conf" & pids+=($!)
wait_for() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no 200 from $1" >&2; exit 1; }
wait_for "http://127.0.0.1:$up/api/items/1"
wait_for "http://127.0.0.1:$proxy/api/items/1"
# wrk's requests/s and p50 of one run.
summary() { awk '/Requests\/sec/{r=$2} /^ +50%/{p=$2} /Non-2xx/{e=$0} END{printf "%s calls/s, p50 %s%s", r, p, (e ? " (" e ")" : "")}'; }
measure() { wrk "$@" --latency | summary; }
# CPU time (user + system, in clock ticks) a process has used: its CPU per call is the
# difference over a run divided by the calls of the run.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
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
  echo "$(summary <<<"$out"), $(python3 -c "print(round(($cpu1 - $cpu0) * 1e6 / $(getconf CLK_TCK) / $calls))") µs CPU per call"
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
