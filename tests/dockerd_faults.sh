#!/usr/bin/env bash
# containerd crashes and an outage under load, through dockerd (issue 21):
#  1. for LCD_FAULT_LOAD_SECS (40) s, LCD_FAULT_WORKERS (3) loops run containers through the docker
#     CLI (`run -d` of a container that exits with its own code after a second, and of one that
#     sleeps, which gets an `exec`, a `stop -t 1` and an `rm -f`), while containerd is killed -9
#     and restarted at random moments (every 1-5 s, at least LCD_FAULT_KILLS (10) times);
#  2. LCD_FAULT_OUTAGE_CONTAINERS (5) containers that exit 1-3 s in, and two execs (codes 42 and
#     43) in a container that keeps running, with containerd stopped for LCD_FAULT_OUTAGE_SECS
#     (30) s meanwhile.
# Then, every docker command having run under a timeout:
#  - hung: commands that did not end within their timeout (must be 0);
#  - lost exits: containers whose `docker run -d` succeeded and that exit on their own, for
#    which `docker wait` does not return their code (must be 0); an exit that containerd
#    itself discarded at its boot (its log says it cleaned the task's shim as leaked; docker
#    then shows 255) is counted apart, as "discarded_by_containerd"; the outage's execs must
#    show their codes (Engine API exec inspect);
#  - orphans, once every container is removed: containerd containers and tasks, shims, bundle
#    folders under the exec root and shim state folders that docker does not know (must be 0);
#    a shim that containerd itself forgot at its boot is counted apart (see tests/dockerd_probe.sh);
#  - dockerd's descriptors and goroutines back to their baseline, measured after a warm-up
#    (slack: 3 descriptors, 10 goroutines; 60 s to settle);
#  - dockerd-lcd only: after each containerd boot, how long until the library logs "task event
#    stream is back" (must be within LCD_FAULT_STREAM_BACK_SECS (5) s, unless containerd was
#    killed again before).
# Every wait has a deadline, and the whole run one more (LCD_FAULT_DEADLINE_SECS, 600 s): the
# script always ends with a line "RESULT variant ..." (with "FAILED (why)" when it could not
# finish) and leaves the test bed's containerd running.
#
#   bash tests/testbed.sh run -- bash tests/dockerd_faults.sh lcd|stock
#
# Exits 0 when all checks passed. Stock dockerd v24.0.9 is expected to lose exits; dockerd-lcd
# must pass. Uses LCD_E2E_DIR (default /tmp/lcd-dockerd-faults-VARIANT); the test bed's messages
# go to its testbed.log.
set -uo pipefail

variant=${1:?usage: $0 lcd|stock}
project=$(cd "$(dirname "$0")/.." && pwd)
dir=${LCD_E2E_DIR:-/tmp/lcd-dockerd-faults-$variant}
load_secs=${LCD_FAULT_LOAD_SECS:-40}
workers=${LCD_FAULT_WORKERS:-3}
min_kills=${LCD_FAULT_KILLS:-10}
outage_secs=${LCD_FAULT_OUTAGE_SECS:-30}
outage_containers=${LCD_FAULT_OUTAGE_CONTAINERS:-5}
deadline_secs=${LCD_FAULT_DEADLINE_SECS:-600}
stream_back_secs=${LCD_FAULT_STREAM_BACK_SECS:-5}
testbed_dir=${LCD_TESTBED_DIR:-/tmp/lcd-testbed}
containerd_log=$testbed_dir/containerd.log
# shellcheck source=tests/dockerd_probe.sh
source "$project/tests/dockerd_probe.sh"
log=$dir/commands.log # one line per docker command: worker, exit code, command
expect=$dir/expected  # one line per container that must exit on its own: id code

start=$SECONDS
started_at=$(date -u +%Y-%m-%dT%H:%M:%S)
say() { echo "[$((SECONDS - start)) s] $*"; }
testbed() { bash "$project/tests/testbed.sh" "$@" >>"$dir/testbed.log" 2>&1; }

# The numbers so far, "?" until measured; the RESULT line is printed once, whatever happens.
kills="?" restart_failures="?" commands="?" hung="?" lost="?" discarded="?" orphan_count="?"
left="" settle="" stream_back="" failure="" result_printed=
result() {
  [ -n "$result_printed" ] && return
  result_printed=1
  echo "RESULT $variant${failure:+ FAILED ($failure)} kills=$kills restart_failures=$restart_failures commands=$commands hung=$hung lost=$lost discarded_by_containerd=$discarded orphans=$orphan_count${left:+ ($left)}${settle:+ $settle}${stream_back:+ stream_back: $stream_back} duration=$((SECONDS - start))s"
}

# Background jobs: the watchdog, the containerd killer, the load's workers.
watchdog_pid="" killer_pid="" worker_pids=()
cleanup() {
  local rc=$?
  [ -n "$failure" ] || [ -n "$result_printed" ] || failure="ended early (status $rc)"
  result
  local pid
  for pid in $watchdog_pid $killer_pid "${worker_pids[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in $watchdog_pid $killer_pid "${worker_pids[@]}"; do wait "$pid" 2>/dev/null; done
  stop_dockerd
  # Leave the test bed's containerd running (the next suites use it).
  testbed up || testbed up || echo "the test bed's containerd did not come back: see $dir/testbed.log"
}
trap cleanup EXIT
trap 'failure=${failure:-interrupted}; exit 130' INT
trap 'failure=${failure:-"deadline of $deadline_secs s reached, or terminated"}; exit 124' TERM
rm -rf "$dir" && mkdir -p "$dir"
# (a second at a time: killed, it leaves no long sleep behind holding the output)
( while [ $((SECONDS - start)) -lt "$deadline_secs" ]; do sleep 1; done; echo "[$deadline_secs s] deadline reached"; kill -TERM $$ ) & watchdog_pid=$!

# containerd up (again), answering; fails after three attempts.
containerd_up() {
  local i
  for i in 1 2 3; do
    testbed up && return 0
    say "containerd did not come back (attempt $i):"
    grep '^testbed:' "$dir/testbed.log" | tail -n 15 | sed 's/^/  /'
  done
  failure="containerd did not come back"
  return 1
}

start_dockerd || { failure="dockerd did not start"; exit 1; }
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
say "baseline: fds $base_fds goroutines $base_gor"

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
  local kills=0 failures=0 end=$((SECONDS + load_secs))
  while [ $SECONDS -lt $end ] || [ $kills -lt "$min_kills" ]; do
    sleep "$(( (RANDOM % 4) + 1 )).$(( RANDOM % 10 ))"
    if ! testbed restart; then
      failures=$((failures + 1))
      say "containerd restart failed:"
      grep '^testbed:' "$dir/testbed.log" | tail -n 15 | sed 's/^/  /'
    fi
    kills=$((kills + 1))
  done
  echo "$kills $failures" >"$dir/kills"
}

say "load: $workers workers for $load_secs s, containerd killed -9 every 1-5 s (at least $min_kills times)"
killer & killer_pid=$!
for w in $(seq 1 "$workers"); do worker "$w" & worker_pids+=($!); done
wait "${worker_pids[@]}"; worker_pids=()
wait "$killer_pid"; killer_pid=
read -r kills restart_failures <"$dir/kills"
say "containerd killed $kills times ($restart_failures restarts failed)"
containerd_up || exit 1
for _ in $(seq 1 30); do dk run --rm "$image" true >/dev/null 2>&1 && break; sleep 1; done

say "outage: $outage_containers containers exit while containerd is down for $outage_secs s"
for i in $(seq 1 "$outage_containers"); do
  code=$((60 + i))
  id=$(logged o run -d --name "outage-$i" "$image" sh -c "sleep $(( (i % 3) + 1 )); exit $code") && echo "$id $code" >>"$dir/w/o.expect"
done
# And execs in a container that keeps running: containerd keeps that task's shim at its boot,
# so their codes must come back (through the Engine API: the CLI does not tell a detached
# exec's id).
api() { # method path [json]
  curl -s --max-time 20 --unix-socket "$dir/docker.sock" -X "$1" ${3:+-H 'Content-Type: application/json' -d "$3"} "http://localhost$2"
}
execs=()
if logged o run -d --name outage-host "$image" sleep 1000 >/dev/null; then
  for code in 42 43; do
    eid=$(api POST /containers/outage-host/exec "{\"Cmd\":[\"sh\",\"-c\",\"sleep $((code - 41)); exit $code\"]}" | sed -n 's/.*"Id":"\([0-9a-f]*\)".*/\1/p')
    [ -n "$eid" ] && api POST "/exec/$eid/start" '{"Detach":true}' >/dev/null && execs+=("$eid $code")
  done
fi
[ ${#execs[@]} -eq 2 ] || say "could not start the outage's execs (${#execs[@]} of 2 started)"
testbed down || { failure="could not stop containerd"; exit 1; }
sleep "$outage_secs"
containerd_up || exit 1
say "containerd is back"

cat "$dir"/w/*.log >"$log"
cat "$dir"/w/*.expect >"$expect" 2>/dev/null
commands=$(wc -l <"$log")
hung=$(awk '$2 == 124 || $2 == 137' "$log" | wc -l)
failed=$(awk '$2 != 0' "$log" | wc -l)
say "commands: $commands, failed (containerd away): $failed, hung (timed out): $hung"
awk '$2 == 124 || $2 == 137 {print "  hung: " $0}' "$log" | head -n 20

# Exits: up to 60 s for every container to be seen exited (one inspect for all), then a
# `docker wait` of each (at most 8 at a time, 15 s each: one that exited returns at once).
ids=$(cut -d' ' -f1 "$expect")
for _ in $(seq 1 60); do
  # shellcheck disable=SC2086
  running=$(DK_TIMEOUT=20 dk inspect -f '{{.State.Running}}' $ids 2>/dev/null | grep -c true)
  [ "$running" = 0 ] && break
  sleep 1
done
say "exits: $(wc -l <"$expect") containers to exit on their own, ${running:-?} still running after the wait for them"
waits=()
while read -r id code; do
  { echo "$id $code $(DK_TIMEOUT=15 dk wait "$id" 2>&1 | head -c 120 | tr '\n' ' ')" >"$dir/w/wait.$id"; } &
  waits+=($!)
  [ ${#waits[@]} -ge 8 ] && { wait "${waits[@]}"; waits=(); }
done <"$expect"
[ ${#waits[@]} -eq 0 ] || wait "${waits[@]}"
lost=0 discarded=0
while read -r id code got; do
  if [ "$got" = 255 ] && grep -q "cleaning leaked shim process.* id=$id" "$containerd_log" 2>/dev/null; then
    # containerd (from 1.7) deleted, at its boot, the shim of a task whose processes had all
    # exited while it was down (containerd#6860: it cannot tell it from a shim whose task was
    # never created), with the exit code, before any client could subscribe: nothing can learn
    # the code any more. docker shows the exit, with 255 as for a task that vanished. Counted
    # apart from the losses.
    discarded=$((discarded + 1))
    echo "  exit discarded by containerd's boot: ${id:0:12} expected $code, docker wait gave 255"
  elif [ "$got" != "$code" ]; then
    lost=$((lost + 1))
    echo "  lost exit: ${id:0:12} expected $code, docker wait gave '$got' ($(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id" 2>&1 | head -c 100))"
  fi
done < <(cat "$dir"/w/wait.* 2>/dev/null)
# The execs' codes (the containers' exits were waited for above: theirs are in by now).
for e in "${execs[@]}"; do
  read -r eid code <<<"$e"
  got=$(api GET "/exec/$eid/json")
  if ! [[ $got == *'"Running":false'* && $got == *"\"ExitCode\":$code,"* ]]; then
    lost=$((lost + 1))
    echo "  lost exec exit: ${eid:0:12} expected $code, got $(echo "$got" | grep -o '"Running":[a-z]*,"ExitCode":[-0-9a-z]*' | head -c 100)"
  fi
done
say "exits: ${#execs[@]} execs exited during the outage; $lost exits lost in all, $discarded discarded by containerd's boot"

ids=$(dk ps -aq)
# shellcheck disable=SC2086
[ -n "$ids" ] && DK_TIMEOUT=120 dk rm -f $ids >/dev/null 2>&1
# The library completes the cleanups the crashes interrupted once containerd is back; let
# the shims of removed containers exit (up to 60 s).
for _ in $(seq 1 30); do
  left=$(orphans)
  [ "${left% shims-forgotten-by-containerd *}" = "containers 0 tasks 0 shims 0 bundles 0 task-state 0" ] && break
  sleep 2
done
orphan_count=$(echo "$left" | awk '{print $2 + $4 + $6 + $8 + $10}')
say "orphans: $left"
if [ "$orphan_count" -gt 0 ]; then
  "$ctr_bin" -a "$socket" -n "$ns" tasks ls 2>/dev/null | head -n 10
  "$ctr_bin" -a "$socket" -n "$ns" containers ls -q 2>/dev/null | head -n 10 | sed 's/^/  containerd container: /'
fi
settle=$(settled_to_baseline 60 "$base_fds" "$base_gor" 3 10); settled=$?
say "after: $settle"

# When the library said the stream was back, after each containerd boot of this run.
stream_ok=0
if [ "$variant" = lcd ]; then
  stream_back=$(python3 - "$containerd_log" "$dir/dockerd.log" "$ns" "$started_at" "$stream_back_secs" <<'PY'
import re, sys
from datetime import datetime
clog, dlog, ns, since, limit = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], float(sys.argv[5])
def when(line):
    m = re.search(r'time="(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?Z"', line)
    return datetime.fromisoformat(m.group(1)).timestamp() + float("0" + (m.group(2) or "")) if m else None
boots = [t for t in (when(l) for l in open(clog, errors="replace") if "containerd successfully booted" in l)
         if t and t >= datetime.fromisoformat(since).timestamp()]
backs = [t for t in (when(l) for l in open(dlog, errors="replace")
                     if "task event stream is back" in l and f"namespace={ns} " in l) if t]
delays, skipped = [], 0
for i, boot in enumerate(boots):
    nxt = boots[i + 1] if i + 1 < len(boots) else float("inf")
    back = next((b for b in backs if boot <= b < nxt), None)
    if back is None:
        skipped += 1  # killed again before the stream came back
    else:
        delays.append(back - boot)
delays.sort()
late = sum(d > limit for d in delays)
print(f"{len(boots)} boots, back after {len(delays)} (median {delays[len(delays) // 2] if delays else 0:.2f} s, "
      f"max {delays[-1] if delays else 0:.2f} s, {late} later than {limit:g} s), {skipped} killed before")
sys.exit(1 if late or not delays else 0)
PY
  ); stream_ok=$?
  say "stream back: $stream_back"
fi

result
[ "$hung" -eq 0 ] && [ "$lost" -eq 0 ] && [ "$orphan_count" -eq 0 ] && [ $settled -eq 0 ] && [ $stream_ok -eq 0 ]
