#!/usr/bin/env bash
# Runs one fuzz target (built by `cargo fuzz build`, see the Makefile's `fuzz` targets) for a
# number of seconds over its committed corpus, fuzz/corpus/TARGET. New inputs go to a scratch
# directory; with `merge` they are then minimized into the committed corpus. Fails on any crash,
# sanitizer report, leak or input slower than the timeout, and prints the executions done.
#   fuzz/run.sh TARGET SECONDS [merge]
# c_abi_sequences needs the test bed (run it under `tests/testbed.sh run`).
set -euo pipefail
cd "$(dirname "$0")"
target=$1 seconds=$2 mode=${3:-}
binary=target/x86_64-unknown-linux-gnu/release/$target
[ -x "$binary" ] || { echo "fuzz/run.sh: $binary is not built (make fuzz-build)" >&2; exit 1; }
corpus=corpus/$target
mkdir -p "$corpus"
extra=()
[ "$target" = spec_json ] && extra+=(../tests/fixtures/spec_corpus)
[ -d "seeds/$target" ] && extra+=("seeds/$target")
timeout=10
[ "$target" = c_abi_sequences ] && timeout=120
scratch=$(mktemp -d "/tmp/lcd-fuzz-$target.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/new" "$scratch/artifacts"
# checkpoint_tar drops to uid 65534 before its first input: what libFuzzer writes must be its.
[ "$target" = checkpoint_tar ] && [ "$(id -u)" = 0 ] && chown -R 65534:65534 "$scratch" && chmod 0755 "$scratch"
log=$scratch/log
status=0
"$binary" -max_total_time="$seconds" -timeout="$timeout" -print_final_stats=1 -artifact_prefix="$scratch/artifacts/" \
  "$scratch/new" "$corpus" "${extra[@]}" >"$log" 2>&1 || status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
if [ "$status" != 0 ] || ls "$scratch/artifacts" | grep -q .; then
  tail -n 60 "$log" >&2
  for a in "$scratch"/artifacts/*; do [ -e "$a" ] && cp "$a" "/tmp/lcd-fuzz-artifact-$target-$(basename "$a")" && echo "kept /tmp/lcd-fuzz-artifact-$target-$(basename "$a")" >&2; done
  echo "fuzz $target: FAILED (exit $status) after ${execs:-?} executions" >&2
  exit 1
fi
echo "fuzz $target: ${seconds} s, ${execs} executions, 0 crashes, $(ls "$scratch/new" | wc -l) new inputs"
if [ "$mode" = merge ]; then
  merged=$scratch/merged
  mkdir -p "$merged" && chmod 0777 "$merged"
  "$binary" -merge=1 -timeout="$timeout" "$merged" "$corpus" "$scratch/new" "${extra[@]}" >"$scratch/merge.log" 2>&1 || { tail -n 30 "$scratch/merge.log" >&2; exit 1; }
  rm -rf "$corpus" && mkdir -p "$corpus" && cp "$merged"/* "$corpus"/ 2>/dev/null || true
  echo "fuzz $target: corpus minimized to $(ls "$corpus" | wc -l) inputs, $(du -sk "$corpus" | cut -f1) KiB"
fi
