#!/usr/bin/env bash
# Checks the C libraries as a C user gets them (make test-lib):
# - the shared library exports exactly the functions the header declares, no more, no fewer;
# - the archive was built with the release profile's whole-program optimisation (clib/): with
#   it, every Rust function is internal to the one optimised object; without it, each crate's
#   functions stay global symbols (about 16,000), and the library costs 10-30 % more CPU.
set -euo pipefail
header=$1 static=$2 shared=$3

fail() { echo "check_libraries: $*" >&2; exit 1; }

declared=$(grep -oE '\blcd_[a-z0-9_]+\(' "$header" | tr -d '(' | sort -u)
exported=$(nm -D --defined-only "$shared" | awk '{print $3}' | sort -u)
if [ "$declared" != "$exported" ]; then
  diff <(echo "$declared") <(echo "$exported") | sed 's/^</  only declared:/; s/^>/  only exported:/' | grep only >&2 || true
  fail "$shared does not export exactly the functions $header declares"
fi
echo "$shared exports the $(echo "$declared" | wc -l) functions $header declares, and nothing else"

rust_globals=$(nm -g --defined-only "$static" 2>/dev/null | grep -cE ' T (_ZN|_R)' || true)
[ "$rust_globals" -eq 0 ] ||
  fail "$static has $rust_globals global Rust functions: it was not built with link-time optimisation (see clib/Cargo.toml)"
echo "$static is one whole-program-optimised object: no Rust function is global"
