#!/bin/bash
# The tunnel path beside `serve`, with issue 14's method: wrk drives a stateless 2026-07-28
# `tools/call` of a route to a 23-byte JSON file (nginx as the upstream) through `harpoon serve`,
# then through `harpoon edge` and one `harpoon tunnel` replica, and reports calls per second,
# p50 and the CPU time each harpoon process spent per call, for each binary given, in turn.
#
#   benches/wrk_tunnel.sh SECONDS CONCURRENCY BINARY...
#   e.g. benches/wrk_tunnel.sh 4 16 /tmp/harpoon-before target/release/harpoon
#
# Needs wrk, nginx and curl (Debian: apt-get install wrk nginx-light curl). Everything listens
# on 127.0.0.1 (free ports), runs from a temporary directory and is stopped at the end.
set -euo pipefail
seconds=${1:?usage: $0 SECONDS CONCURRENCY BINARY...}
c=${2:?usage: $0 SECONDS CONCURRENCY BINARY...}
shift 2
[ $# -ge 1 ] || { echo "usage: $0 SECONDS CONCURRENCY BINARY..." >&2; exit 2; }
for tool in wrk nginx curl python3; do
  command -v $tool >/dev/null || { echo "$tool is missing (apt-get install wrk nginx-light curl)" >&2; exit 2; }
done
dir=$(mktemp -d)
chmod 755 "$dir" # nginx workers run as another user and must read the files
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done; echo "no 200 from $1" >&2; exit 1; }
up=$(port)
mkdir -p "$dir/www/api/items"
printf '{"id":"1","name":"w"}\n' >"$dir/www/api/items/1"
cat >"$dir/up.conf" <<CONF
worker_processes 1; daemon off; error_log $dir/up.err; pid $dir/up.pid;
events { worker_connections 1024; }
http { access_log off; default_type application/json; server { listen 127.0.0.1:$up; root $dir/www; } }
CONF
cat >"$dir/allow.yaml" <<CONF
version: 1
targets:
  - label: bench
    base_url: http://127.0.0.1:$up/api
    network: { allow_cidrs: [127.0.0.1/32] }
    dangerous: { allow_plaintext_http: true }
    limits: { concurrency: 1024, response_bytes: 1MiB, timeout: 30s }
    routes:
      - { name: get_item, method: GET, path: "/items/{id}", params: { id: { pattern: "^[0-9]{1,9}$" } } }
CONF
cat >"$dir/post.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json, text/event-stream"
wrk.headers["mcp-protocol-version"] = "2026-07-28"
wrk.headers["mcp-method"] = "tools/call"
wrk.headers["mcp-name"] = "bench_get_item"
wrk.body = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"bench_get_item","arguments":{"id":"1"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
LUA
nginx -c "$dir/up.conf" & pids+=($!)
wait_for "http://127.0.0.1:$up/api/items/1"
tunnel=tunnel_0123456789abcdef0123456789abcdef
export HARPOON_TUNNEL_TOKEN=wrk-tunnel-token
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# wrk against $1; the CPU per call of each process named after it (label=pid).
run() {
  local url=$1; shift
  local before=() out calls line p
  for p in "$@"; do before+=("$(ticks "${p#*=}")"); done
  out=$(wrk -t2 -c"$c" -d"${seconds}s" -s "$dir/post.lua" --latency "$url")
  calls=$(awk '/requests in/{print $1}' <<<"$out")
  line=$(awk '/Requests\/sec/{r=$2} /^ +50%/{p=$2} /Non-2xx/{e=" (" $0 ")"} END{printf "%s calls/s, p50 %s%s", r, p, e}' <<<"$out")
  local i=0
  for p in "$@"; do
    line="$line, ${p%%=*} $(python3 -c "print(round(($(ticks "${p#*=}") - ${before[$i]}) * 1e6 / $(getconf CLK_TCK) / $calls))") µs CPU per call"
    i=$((i + 1))
  done
  echo "$line"
}
echo "| binary | concurrency | harpoon serve | through edge + 1 tunnel replica | tunnel/serve |"
echo "|---|---|---|---|---|"
for bin in "$@"; do
  sp=$(port); ep=$(port); hp=$(port)
  "$bin" serve --allowlist "$dir/allow.yaml" --listen "127.0.0.1:$sp" >"$dir/serve.log" 2>&1 & s=$!; pids+=($s)
  "$bin" edge --listen "127.0.0.1:$ep" --tunnel $tunnel >"$dir/edge.log" 2>&1 & e=$!; pids+=($e)
  wait_for "http://127.0.0.1:$sp/readyz"
  wait_for "http://127.0.0.1:$ep/readyz"
  "$bin" tunnel --allowlist "$dir/allow.yaml" --edge "http://127.0.0.1:$ep" --tunnel-id $tunnel \
    --max-in-flight 64 --health-listen "127.0.0.1:$hp" >"$dir/tunnel.log" 2>&1 & t=$!; pids+=($t)
  wait_for "http://127.0.0.1:$hp/readyz"
  a=$(run "http://127.0.0.1:$sp/mcp" serve=$s)
  b=$(run "http://127.0.0.1:$ep/v1/mcp/$tunnel" edge=$e tunnel=$t)
  ratio=$(python3 -c "print(f'{${b%% calls/s*} / ${a%% calls/s*}:.2f}')")
  echo "| $bin | $c | $a | $b | $ratio |"
  kill $s $e $t; wait $s $e $t 2>/dev/null || true
done
