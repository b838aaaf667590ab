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
source "$(dirname "$0")/wrk_common.sh"
tunnel=tunnel_0123456789abcdef0123456789abcdef
export HARPOON_TUNNEL_TOKEN=wrk-tunnel-token
# wrk against $1; the CPU per call of each process named after it (label=pid).
run() {
  local url=$1; shift
  local before=() out calls line p i=0
  for p in "$@"; do before+=("$(cpu_ticks "${p#*=}")"); done
  out=$(wrk -t2 -c"$c" -d"${seconds}s" -s "$dir/post.lua" --latency "$url")
  calls=$(awk '/requests in/{print $1}' <<<"$out")
  line=$(summary <<<"$out")
  for p in "$@"; do
    line="$line, ${p%%=*} $(per_call "${before[$i]}" "$(cpu_ticks "${p#*=}")" "$calls") µs CPU per call"
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
