#!/usr/bin/env bash
# dockerd's memory, descriptors and goroutines after many failing `docker run -i` / `exec -i`
# commands (issue 19): LCD_LEAK_FAILURES (default 1000) commands that fail in the runtime or
# before it, in turn: run -i of a missing binary (127), of a non-executable file (126), with a
# bad user, with a bad working directory; exec -i of a missing binary, of a non-executable file,
# with a bad user. Each gets a stdin that stays open (a `sleep 1` behind it), runs under a timeout and
# must fail (not succeed, not time out).
#
# Baseline after a warm-up of each kind; afterwards (up to 60 s to settle, the Go heap
# collected through dockerd's debug endpoint) descriptors at most baseline + 3, goroutines at
# most baseline + 10, resident memory at most baseline + LCD_LEAK_RSS_SLACK_MIB (default 40).
#
#   bash tests/testbed.sh run -- bash tests/dockerd_leaks.sh lcd|stock
#
# Prints "RESULT variant failures=N unexpected=U fds A->B goroutines C->D rss_kib E->F
# heap_inuse G->H"; exits 0 when every check passed. Uses LCD_E2E_DIR (default
# /tmp/lcd-dockerd-leaks-VARIANT).
set -uo pipefail

variant=${1:?usage: $0 lcd|stock}
project=$(cd "$(dirname "$0")/.." && pwd)
dir=${LCD_E2E_DIR:-/tmp/lcd-dockerd-leaks-$variant}
failures=${LCD_LEAK_FAILURES:-1000}
rss_slack_mib=${LCD_LEAK_RSS_SLACK_MIB:-40}
# shellcheck source=tests/dockerd_probe.sh
source "$project/tests/dockerd_probe.sh"

trap stop_dockerd EXIT
trap 'exit 130' INT TERM
start_dockerd || exit 1
DK_TIMEOUT=60

# Go's heap in use after a collection (the heap profile with gc=1 collects first).
heap_inuse() {
  curl -s --max-time 20 --unix-socket "$dir/docker.sock" "http://localhost/debug/pprof/heap?gc=1&debug=1" |
    sed -n 's/^# HeapInuse = \([0-9]*\).*/\1/p'
}

dk run -d --name leak-host "$image" sleep 100000 >/dev/null || { echo "cannot start the exec host"; exit 1; }
# One failing command of kind $1 (0-6); its exit code.
fail_once() {
  case $1 in
    0) dk run -i --rm "$image" /nonexistent < <(sleep 1) ;;
    1) dk run -i --rm "$image" /etc/passwd < <(sleep 1) ;;
    2) dk run -i --rm -u nosuchuser "$image" true < <(sleep 1) ;;
    3) dk run -i --rm -w /etc/passwd "$image" true < <(sleep 1) ;;
    4) dk exec -i leak-host /nonexistent < <(sleep 1) ;;
    5) dk exec -i leak-host /etc/passwd < <(sleep 1) ;;
    6) dk exec -i -u nosuchuser leak-host true < <(sleep 1) ;;
  esac >/dev/null 2>>"$dir/stderr"
}
for kind in 0 1 2 3 4 5 6 0 1 2 3 4 5 6; do fail_once $kind; done
sleep 3
base_fds=$(dockerd_fds); base_gor=$(dockerd_goroutines); base_heap=$(heap_inuse); base_rss=$(dockerd_rss_kib)
echo "baseline: fds $base_fds goroutines $base_gor heap_inuse $base_heap rss_kib $base_rss"

unexpected=0
declare -A codes
start=$SECONDS
for i in $(seq 1 "$failures"); do
  fail_once $((i % 7)); rc=$?
  codes[$rc]=$(( ${codes[$rc]:-0} + 1 ))
  if [ $rc -eq 0 ] || [ $rc -eq 124 ] || [ $rc -eq 137 ]; then unexpected=$((unexpected + 1)); fi
done
echo "$failures failing commands in $((SECONDS - start)) s; exit codes: $(for c in "${!codes[@]}"; do printf '%s x%s ' "$c" "${codes[$c]}"; done)"
dk rm -f leak-host >/dev/null
dk run -d --name leak-host "$image" sleep 100000 >/dev/null # the baseline had one running

settle=$(settled_to_baseline 60 "$base_fds" "$base_gor" 3 10); settled=$?
heap=$(heap_inuse); rss=$(dockerd_rss_kib)
echo "after: $settle heap_inuse $heap rss_kib $rss"
rss_ok=0; [ "$rss" -le $((base_rss + rss_slack_mib * 1024)) ] || rss_ok=1
[ $rss_ok -eq 0 ] || echo "FAIL resident memory grew by $(( (rss - base_rss) / 1024 )) MiB (limit $rss_slack_mib MiB)"
[ $settled -eq 0 ] || echo "FAIL descriptors or goroutines not back to baseline"
[ $unexpected -eq 0 ] || echo "FAIL $unexpected commands did not fail (or timed out)"
echo "RESULT $variant failures=$failures unexpected=$unexpected fds $base_fds->$(dockerd_fds) goroutines $base_gor->$(dockerd_goroutines) rss_kib $base_rss->$rss heap_inuse $base_heap->$heap"
[ $unexpected -eq 0 ] && [ $settled -eq 0 ] && [ $rss_ok -eq 0 ]
