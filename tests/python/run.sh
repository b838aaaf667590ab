#!/usr/bin/env bash
# The official Python MCP SDK (mcp 2.x) against `harpoon serve`, `harpoon stdio`, and the tunnel
# path (MCP client -> harpoon edge -> harpoon tunnel -> upstream), in each of its three modes
# (auto, legacy, 2026-07-28): list tools, a read, a write, denials, an oversize response,
# list_targets, an unknown tool, progress notifications (relayed through the tunnel as SSE events).
# Then the SDK with a bearer token against `harpoon serve` as an OAuth 2.1 resource server, its
# test issuer, keys and tokens made by the script (oauth_client_check.py).
#
#   HARPOON=target/debug/harpoon PYTHON=.venv/bin/python tests/python/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
HARPOON=${HARPOON:-target/debug/harpoon}
PYTHON=${PYTHON:-python3}
PORT=${PORT:-18788}
EDGE_PORT=${EDGE_PORT:-18791}
TUNNEL_HEALTH=${TUNNEL_HEALTH:-18792}
OUT=${OUT:-target/python-client}
mkdir -p "$OUT"
# The demo API (127.0.0.1:8789) and `harpoon stdio` share this token.
export HARPOON_DEMO_TOKEN=python-sdk-test-token
export HARPOON_TUNNEL_TOKEN=python-sdk-tunnel-token
# The tunnel would take an OpenAI key from the environment first; these runs use the edge's.
unset CONTROL_PLANE_API_KEY OPENAI_API_KEY

# A port must be free before a server of ours takes it: otherwise a stale server left on it
# would answer the readiness check and the run would test the wrong process. SO_REUSEADDR, as
# harpoon's own bind sets it, so connections of earlier tests in TIME_WAIT do not count.
require_free() {
  python3 -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)' "$1" 2>/dev/null \
    || { echo "port $1 on 127.0.0.1 is taken: stop whatever listens there${2:+, or set $2 to another port}"; exit 1; }
}
require_free 8789  # the demo API's port is fixed
require_free "$PORT" PORT
require_free "$EDGE_PORT" EDGE_PORT
require_free "$TUNNEL_HEALTH" TUNNEL_HEALTH

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$HARPOON" serve --demo --listen "127.0.0.1:$PORT" >"$OUT/serve.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "harpoon serve --demo did not become ready"; cat "$OUT/serve.log"; exit 1; }
TUNNEL_ID=tunnel_0123456789abcdef0123456789abcdef
"$HARPOON" edge --listen "127.0.0.1:$EDGE_PORT" --tunnel "$TUNNEL_ID" >"$OUT/edge.log" 2>&1 & pids+=($!)
"$HARPOON" tunnel --allowlist allowlists/demo.yaml --edge "http://127.0.0.1:$EDGE_PORT" --tunnel-id "$TUNNEL_ID" \
  --health-listen "127.0.0.1:$TUNNEL_HEALTH" >"$OUT/tunnel.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$TUNNEL_HEALTH/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$TUNNEL_HEALTH/readyz" >/dev/null || { echo "harpoon tunnel did not become ready"; cat "$OUT/edge.log" "$OUT/tunnel.log"; exit 1; }

passed=0; failed=0
run() {
  local name=$1; shift
  if "$PYTHON" tests/python/mcp_client_check.py "$@" --spec tests/python/demo.json >"$OUT/$name.log" 2>&1; then
    echo "ok: $name ($(tail -n 1 "$OUT/$name.log"))"; passed=$((passed + 1))
  else
    echo "FAILED: $name"; cat "$OUT/$name.log"; failed=$((failed + 1))
  fi
}
for mode in auto legacy 2026-07-28; do
  version=$([ "$mode" = legacy ] && echo 2025-11-25 || echo 2026-07-28)
  run "http-$mode" --transport http --url "http://127.0.0.1:$PORT/mcp" --mode "$mode" --expect-version "$version"
  run "stdio-$mode" --transport stdio --command "$HARPOON stdio --allowlist allowlists/demo.yaml --log warn" \
    --env "HARPOON_DEMO_TOKEN=$HARPOON_DEMO_TOKEN" --mode "$mode" --expect-version "$version"
  run "tunnel-$mode" --transport http --url "http://127.0.0.1:$EDGE_PORT/v1/mcp/$TUNNEL_ID" --mode "$mode" \
    --expect-version "$version"
done
# `harpoon tunnel` against an independent Python model of OpenAI's tunnel service, then against
# `harpoon edge`: every command type, a malformed batch, 429 and 401 (tunnel_service_check.py).
for against in model edge; do
  if "$PYTHON" tests/python/tunnel_service_check.py --harpoon "$HARPOON" --python "$PYTHON" --against "$against" \
      >"$OUT/service-$against.log" 2>&1; then
    echo "ok: service-$against ($(tail -n 1 "$OUT/service-$against.log"))"; passed=$((passed + 1))
  else
    echo "FAILED: service-$against"; cat "$OUT/service-$against.log"; failed=$((failed + 1))
  fi
done
# The SDK with a bearer token: 401 and its challenge, scopes filtering tools/list, 403
# insufficient_scope, ES256/RS256/PS256 tokens from a loopback issuer, and opaque tokens through
# its RFC 7662 introspection endpoint; against serve, then through edge and tunnel
# (oauth_client_check.py, which starts and stops its own servers on free loopback ports).
if "$PYTHON" tests/python/oauth_client_check.py --harpoon "$HARPOON" --log "$OUT/oauth-serve.log" \
    >"$OUT/oauth.log" 2>&1; then
  echo "ok: oauth ($(tail -n 1 "$OUT/oauth.log"))"; passed=$((passed + 1))
else
  echo "FAILED: oauth"; cat "$OUT/oauth.log" "$OUT/oauth-serve.log"; failed=$((failed + 1))
fi
echo "python sdk client runs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
