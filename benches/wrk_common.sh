# Shared by benches/wrk_compare.sh and benches/wrk_tunnel.sh (sourced, not run): the tools they
# need, a temporary directory removed at exit together with every process listed in `pids`, and
# nginx on a free loopback port (`$up`) serving the upstream: a 23-byte JSON file at
# /api/items/1 and 2 MiB of text at /api/big. It writes the allowlist both use
# (`$dir/allow.yaml`: tools `bench_get_item` and `bench_big`) and wrk's script for a stateless
# 2026-07-28 `tools/call` of `bench_get_item` (`$dir/post.lua`).
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
# CPU time (user + system, in clock ticks) a process has used: its CPU per call is the
# difference over a run divided by the calls of the run (`per_call BEFORE AFTER CALLS`, in µs).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_call() { python3 -c "print(round(($2 - $1) * 1e6 / $(getconf CLK_TCK) / $3))"; }
# wrk's requests/s and p50 of one run, read from its output.
summary() { awk '/Requests\/sec/{r=$2} /^ +50%/{p=$2} /Non-2xx/{e=$0} END{printf "%s calls/s, p50 %s%s", r, p, (e ? " (" e ")" : "")}'; }
up=$(port)
mkdir -p "$dir/www/api/items"
printf '{"id":"1","name":"w"}\n' >"$dir/www/api/items/1"
head -c 2097152 /dev/zero | tr '\0' x >"$dir/www/api/big"
cat >"$dir/up.conf" <<CONF
worker_processes 1; daemon off; error_log $dir/up.err; pid $dir/up.pid;
events { worker_connections 1024; }
http { access_log off; default_type application/json;
  server { listen 127.0.0.1:$up; root $dir/www; location = /api/big { default_type text/plain; } } }
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
      - { name: big, method: GET, path: /big }
CONF
call() { # the JSON-RPC body of a tools/call of $1 with arguments $2
  printf '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"%s","arguments":%s,"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}' "$1" "$2"
}
cat >"$dir/post.lua" <<CONF
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["accept"] = "application/json, text/event-stream"
wrk.headers["mcp-protocol-version"] = "2026-07-28"
wrk.headers["mcp-method"] = "tools/call"
wrk.headers["mcp-name"] = "bench_get_item"
wrk.body = '$(call bench_get_item '{"id":"1"}')'
CONF
nginx -c "$dir/up.conf" & pids+=($!)
wait_for "http://127.0.0.1:$up/api/items/1"
