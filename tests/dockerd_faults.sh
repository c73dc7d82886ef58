#!/usr/bin/env bash
# containerd crashes and an outage under load, through dockerd (issue 21):
#  1. for LCD_FAULT_LOAD_SECS (60) s, LCD_FAULT_WORKERS (3) loops run containers through the docker
#     CLI (`run -d` of a container that exits with its own code after a second, and of one that
#     sleeps, which gets an `exec`, a `stop -t 1` and an `rm -f`), while containerd is killed -9
#     and restarted at random moments (every 2-6 s, at least LCD_FAULT_KILLS (10) times);
#  2. LCD_FAULT_OUTAGE_CONTAINERS (5) containers that exit 1-3 s in, with containerd stopped for
#     LCD_FAULT_OUTAGE_SECS (30) s meanwhile.
# Then, every docker command having run under a timeout:
#  - hung: commands that did not end within their timeout (must be 0);
#  - lost exits: containers whose `docker run -d` succeeded and that exit on their own, for
#    which `docker wait` (60 s) does not return their code (must be 0); an exit that containerd
#    itself discarded at its boot (its log says it cleaned the task's shim as leaked; docker
#    then shows 255) is counted apart, as "discarded_by_containerd";
#  - orphans, once every container is removed: containerd containers and tasks, shims, bundle
#    folders under the exec root and shim state folders that docker does not know (must be 0);
#  - dockerd's descriptors and goroutines back to their baseline, measured after a warm-up
#    (slack: 3 descriptors, 10 goroutines; 60 s to settle).
#
#   bash tests/testbed.sh run -- bash tests/dockerd_faults.sh lcd|stock
#
# Prints the numbers and "RESULT variant hung=H lost=L orphans=O fds=... goroutines=...";
# exits 0 when all checks passed. Stock dockerd v24.0.9 is expected to lose exits; dockerd-lcd
# must pass. Uses LCD_E2E_DIR (default /tmp/lcd-dockerd-faults-VARIANT).
set -uo pipefail

variant=${1:?usage: $0 lcd|stock}
project=$(cd "$(dirname "$0")/.." && pwd)
dir=${LCD_E2E_DIR:-/tmp/lcd-dockerd-faults-$variant}
load_secs=${LCD_FAULT_LOAD_SECS:-60}
workers=${LCD_FAULT_WORKERS:-3}
min_kills=${LCD_FAULT_KILLS:-10}
outage_secs=${LCD_FAULT_OUTAGE_SECS:-30}
outage_containers=${LCD_FAULT_OUTAGE_CONTAINERS:-5}
# shellcheck source=tests/dockerd_probe.sh
source "$project/tests/dockerd_probe.sh"
log=$dir/commands.log # one line per docker command: worker, exit code, command
expect=$dir/expected  # one line per container that must exit on its own: id code

cleanup() { stop_dockerd; [ -n "${killer_pid:-}" ] && kill "$killer_pid" 2>/dev/null; bash "$project/tests/testbed.sh" up >/dev/null 2>&1; }
trap cleanup EXIT
trap 'exit 130' INT TERM
start_dockerd || exit 1
mkdir -p "$dir/w"

# A docker command run under a timeout and logged; its output on stdout.
logged() { # worker args...
  local w=$1 out rc; shift
  out=$(dk "$@" 2>>"$dir/w/$w.err"); rc=$?
  echo "$w $rc $*" >>"$dir/w/$w.log"
  printf '%s' "$out"
  return $rc
}

# Warm-up, then the baseline.
dk run --rm "$image" true >/dev/null
dk run -d --name warm "$image" sleep 100 >/dev/null && dk exec warm true && dk rm -f warm >/dev/null
sleep 2
base_fds=$(dockerd_fds); base_gor=$(dockerd_goroutines)
echo "baseline: fds $base_fds goroutines $base_gor"

worker() { # number
  local w=$1 i=0 id code
  local end=$((SECONDS + load_secs))
  while [ $SECONDS -lt $end ]; do
    i=$((i + 1))
    code=$(( (RANDOM % 50) + 1 ))
    if id=$(logged "$w" run -d --name "f$w-$i-exit" "$image" sh -c "sleep 1; exit $code"); then
      echo "$id $code" >>"$dir/w/$w.expect"
    fi
    if logged "$w" run -d --name "f$w-$i-sleep" "$image" sleep 100 >/dev/null; then
      logged "$w" exec "f$w-$i-sleep" true >/dev/null
      logged "$w" stop -t 1 "f$w-$i-sleep" >/dev/null
    fi
    logged "$w" rm -f "f$w-$i-sleep" >/dev/null
  done
}

killer() {
  local kills=0 end=$((SECONDS + load_secs))
  while [ $SECONDS -lt $end ] || [ $kills -lt "$min_kills" ]; do
    sleep "$(( (RANDOM % 5) + 2 )).$(( RANDOM % 10 ))"
    bash "$project/tests/testbed.sh" restart >/dev/null 2>&1 || echo "testbed restart failed"
    kills=$((kills + 1))
  done
  echo "$kills" >"$dir/kills"
}

echo "load: $workers workers for $load_secs s, containerd killed -9 every 2-6 s (at least $min_kills times)"
killer & killer_pid=$!
worker_pids=()
for w in $(seq 1 "$workers"); do worker "$w" & worker_pids+=($!); done
wait "${worker_pids[@]}"
wait "$killer_pid"; killer_pid=
bash "$project/tests/testbed.sh" up >/dev/null 2>&1
echo "containerd killed $(cat "$dir/kills") times"
for _ in $(seq 1 30); do dk run --rm "$image" true >/dev/null 2>&1 && break; sleep 1; done

echo "outage: $outage_containers containers exit while containerd is down for $outage_secs s"
for i in $(seq 1 "$outage_containers"); do
  code=$((60 + i))
  id=$(logged o run -d --name "outage-$i" "$image" sh -c "sleep $(( (i % 3) + 1 )); exit $code") && echo "$id $code" >>"$dir/w/o.expect"
done
bash "$project/tests/testbed.sh" down >/dev/null 2>&1
sleep "$outage_secs"
bash "$project/tests/testbed.sh" up >/dev/null 2>&1

cat "$dir"/w/*.log >"$log"
cat "$dir"/w/*.expect >"$expect" 2>/dev/null
commands=$(wc -l <"$log")
hung=$(awk '$2 == 124 || $2 == 137' "$log" | wc -l)
failed=$(awk '$2 != 0' "$log" | wc -l)
echo "commands: $commands, failed (containerd away): $failed, hung (timed out): $hung"
awk '$2 == 124 || $2 == 137 {print "  hung: " $0}' "$log" | head -n 20

lost=0 discarded=0
containerd_log=${LCD_TESTBED_DIR:-/tmp/lcd-testbed}/containerd.log
while read -r id code; do
  got=$(DK_TIMEOUT=60 dk wait "$id" 2>&1)
  if [ "$got" = 255 ] && grep -q "cleaning leaked shim process\" id=$id" "$containerd_log" 2>/dev/null; then
    # containerd (from 1.7) deleted, at its boot, the shim of a task whose processes had all
    # exited while it was down (containerd#6860), with the exit code, before any client could
    # subscribe: nothing can learn the code any more. docker shows the exit, with 255 as moby's
    # restore records a task that vanished so. Counted apart from the losses.
    discarded=$((discarded + 1))
    echo "  exit discarded by containerd's boot: ${id:0:12} expected $code, docker wait gave 255"
  elif [ "$got" != "$code" ]; then
    lost=$((lost + 1))
    echo "  lost exit: ${id:0:12} expected $code, docker wait gave '${got:0:120}' ($(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id" 2>&1 | head -c 100))"
  fi
done <"$expect"
echo "exits: $(wc -l <"$expect") containers to exit on their own, $lost lost, $discarded discarded by containerd's boot"

ids=$(dk ps -aq)
[ -n "$ids" ] && DK_TIMEOUT=120 dk rm -f $ids >/dev/null 2>&1
# The library completes the cleanups the crashes interrupted once containerd is back; let
# the shims of removed containers exit.
sleep 5
left=""
for _ in $(seq 1 12); do
  left=$(orphans)
  [ "${left% shims-forgotten-by-containerd *}" = "containers 0 tasks 0 shims 0 bundles 0 task-state 0" ] && break
  sleep 5
done
orphan_count=$(echo "$left" | awk '{print $2 + $4 + $6 + $8 + $10}')
echo "orphans: $left"
if [ "$orphan_count" -gt 0 ]; then
  "$ctr_bin" -a "$socket" -n "$ns" tasks ls 2>/dev/null | head -n 10
  "$ctr_bin" -a "$socket" -n "$ns" containers ls -q 2>/dev/null | head -n 10 | sed 's/^/  containerd container: /'
fi
settle=$(settled_to_baseline 60 "$base_fds" "$base_gor" 3 10); settled=$?
echo "after: $settle"
echo "RESULT $variant kills=$(cat "$dir/kills") commands=$commands hung=$hung lost=$lost discarded_by_containerd=$discarded orphans=$orphan_count ($left) $settle"
[ "$hung" -eq 0 ] && [ "$lost" -eq 0 ] && [ "$orphan_count" -eq 0 ] && [ $settled -eq 0 ]
