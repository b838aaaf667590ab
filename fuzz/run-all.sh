#!/usr/bin/env bash
# Builds every fuzz target with nightly, then runs each for a bounded time, one after another.
# Fails on any crash, property violation (a panic), hang (-timeout) or memory blow-up
# (-rss_limit_mb), leaving the input in fuzz/artifacts/<target>/ and printing how to replay it.
#
#   fuzz/run-all.sh [SECONDS_PER_TARGET] [TARGET...]     (default 40 s, every target)
#
# Needs a nightly toolchain and cargo-fuzz (see fuzz/README.md); FUZZ_TOOLCHAIN names the
# toolchain (default: nightly; CI may pin a dated one). Set FUZZ_SANITIZER=address to
# build with AddressSanitizer (slower; the library itself forbids unsafe code). On a machine
# where builds must not overlap, FUZZ_LOCK=/path/to/lockfile holds that lock for the build only,
# not for the runs.
set -euo pipefail
cd "$(dirname "$0")"

secs="${1:-40}"
shift || true
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(ls fuzz_targets | sed 's/\.rs$//' | sort)
fi
sanitizer="${FUZZ_SANITIZER:-none}"
toolchain="${FUZZ_TOOLCHAIN:-nightly}"

if ! cargo "+$toolchain" fuzz --version >/dev/null 2>&1; then
  echo "run-all.sh: needs 'cargo +$toolchain fuzz': rustup toolchain install $toolchain --profile minimal && cargo install cargo-fuzz --locked" >&2
  exit 2
fi

echo "=== building ${#targets[@]} fuzz targets ($toolchain, sanitizer: $sanitizer) ==="
lock=()
if [ -n "${FUZZ_LOCK:-}" ]; then lock=(flock "$FUZZ_LOCK"); fi
"${lock[@]}" cargo "+$toolchain" fuzz build --sanitizer "$sanitizer"
triple="$(rustc "+$toolchain" -vV | sed -n 's/^host: //p')"
bin="target/$triple/release"

# Longest input: an allowlist is text and a few KiB; every other target reads choice bytes and
# short texts, for which 4 KiB is plenty.
max_len() { if [ "$1" = allowlist ]; then echo 16384; else echo 4096; fi; }

# Fewest executions a target must reach in its time: a target that runs far fewer is stuck
# (a slow property, a startup that never ends) and checks too little to count as a pass.
min_execs="${FUZZ_MIN_EXECS:-1000}"

status=0
summary=()
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="artifacts/$t/run.log"
  echo "=== $t: ${secs}s ==="
  # The corpus directory comes first: libFuzzer starts from the committed seeds and adds what it
  # finds there (ignored by git; only seed-* files are committed).
  set +e
  "$bin/$t" "corpus/$t" \
    -max_total_time="$secs" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")"
  if [ "$rc" -ne 0 ]; then
    status=1
    summary+=("$t: FAILED (exit $rc)")
    echo "--- $t failed; the end of its log:"
    tail -n 40 "$log"
    for a in "artifacts/$t"/crash-* "artifacts/$t"/timeout-* "artifacts/$t"/oom-* "artifacts/$t"/leak-*; do
      [ -e "$a" ] || continue
      echo "--- replay: (cd fuzz && cargo +$toolchain fuzz run -s $sanitizer $t $a)"
      echo "--- keep as a regression test: cp fuzz/$a fuzz/corpus/$t/seed-regression-<what>"
    done
  elif [ -z "$execs" ] || [ "$execs" -lt "$min_execs" ]; then
    status=1
    summary+=("$t: FAILED (only ${execs:-no} runs in ${secs}s; at least $min_execs needed)")
    echo "--- $t ran ${execs:-no} inputs in ${secs}s, fewer than $min_execs: it checked too little"
    tail -n 20 "$log"
  else
    summary+=("$t: ok, ${execs} runs, ${rate:-?}/s")
  fi
done

echo "=== fuzz summary ==="
printf '%s\n' "${summary[@]}"
exit "$status"
