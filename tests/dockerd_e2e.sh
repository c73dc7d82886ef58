#!/usr/bin/env bash
# End-to-end test of a dockerd build through the real docker CLI.
#
#   LCD_DOCKERD_VERSION=24|27|28|29 tests/dockerd_e2e.sh lcd|stock
#
# lcd runs build/dockerd/bin/dockerd-VERSION-lcd (libcontainerd-ffi linked in), stock the
# unpatched build of the same moby version (LCD_DOCKERD_VERSION=VERSION dockerd/build.sh makes
# both, and the docker CLI; VERSION defaults to 24). Needs the test bed's containerd: run it as
# `tests/testbed.sh run -- tests/dockerd_e2e.sh lcd`, or with LCD_CONTAINERD_SOCKET and
# LCD_TEST_ROOTFS set. dockerd gets private directories and sockets under LCD_E2E_DIR (default
# /tmp/lcd-dockerd-e2e-VARIANT), no iptables and no bridge, the vfs graph driver (so the
# containerd image store, v29's default, is off: daemon.json's "features"; so are v29's time
# namespaces, which the test bed's runc 1.1.5 cannot make) and live-restore.
# The busybox image is built from the test bed's root filesystem and loaded as a docker-archive.
#
#   tests/dockerd_e2e.sh compare
#
# runs both, one after the other on the same containerd, each in LCD_E2E_DIR-vVERSION-VARIANT
# (default /tmp/lcd-dockerd-e2e-vVERSION-VARIANT), then compares their transcripts
# (tests/dockerd_transcript.sh: the same docker CLI script against each, exit codes, stdout,
# stderr and dockerd's events normalized): any difference fails, and the differing steps are
# printed.
set -uo pipefail

variant=${1:?usage: $0 lcd|stock|compare}
project=$(cd "$(dirname "$0")/.." && pwd)
dockerd_version=${LCD_DOCKERD_VERSION:-24}

if [ "$variant" = compare ]; then
  base=${LCD_E2E_DIR:-/tmp/lcd-dockerd-e2e}-v$dockerd_version
  status=0
  for v in lcd stock; do
    SECONDS=0
    LCD_E2E_DIR=$base-$v LCD_E2E_TRANSCRIPT_DIR=$base-transcripts/$v bash "$0" "$v" || status=1
    echo "dockerd-$dockerd_version-$v: checks and transcript took $SECONDS s"
  done
  echo "--- transcripts: stock ($base-transcripts/stock/transcript.txt) against lcd ($base-transcripts/lcd/transcript.txt)"
  python3 "$project/tests/dockerd_transcript.py" diff "$base-transcripts/stock/transcript.txt" "$base-transcripts/lcd/transcript.txt" || status=1
  exit $status
fi
bin=${LCD_DOCKERD_BUILD:-$project/build/dockerd}/bin
dockerd_bin=$bin/dockerd-$dockerd_version-$variant
docker_bin=$bin/docker
dir=${LCD_E2E_DIR:-/tmp/lcd-dockerd-e2e-$variant}
socket=${LCD_CONTAINERD_SOCKET:?LCD_CONTAINERD_SOCKET is not set (run under tests/testbed.sh run --)}
rootfs=${LCD_TEST_ROOTFS:?LCD_TEST_ROOTFS is not set}
image=busybox:lcd-e2e
# The exit code of an exec whose binary is missing, as each moby version sets it (the same for
# both builds of a version): up to v27 a failed exec start always gave 126; from v28 on
# daemon/exec.go keeps the code its start error maps to, 127 for a missing command.
if [ "$dockerd_version" -ge 28 ]; then exec_missing_rc=127; else exec_missing_rc=126; fi
export DOCKER_HOST=unix://$dir/docker.sock
# The library's FIFOs and bundles live under the exec root, as moby's do.
state_dir=$dir/exec/containerd

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; }

expect_eq() { # description expected actual
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: expected '$2', got '$3'"; fi
}
expect_match() { # description extended-regex actual
  if [[ $3 =~ $2 ]]; then pass "$1"; else fail "$1: '$3' does not match /$2/"; fi
}

docker() { "$docker_bin" "$@"; }
# Output of a docker command without the daemon's warnings (no bridge: "IPv4 forwarding ...").
out() { "$docker_bin" "$@" 2>/dev/null; }
inspect() { out inspect -f "$1" "$2"; }
# The CLI on a 24x80 pseudo-terminal; prints what appeared there.
in_a_terminal() { python3 "$project/tests/run_in_pty.py" "$docker_bin" "$@" | tr -d '\r'; }
# The size a container's terminal gets once the CLI has sent it (the CLI resizes after the start).
terminal_size='for i in $(seq 50); do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; sleep 0.1; done; echo "$s"'


start_dockerd() {
  "$dockerd_bin" --containerd="$socket" --data-root="$dir/data" --exec-root="$dir/exec" \
    --pidfile="$dir/docker.pid" -H "$DOCKER_HOST" --config-file="$dir/daemon.json" \
    --iptables=false --ip6tables=false --ip-masq=false --bridge=none --userland-proxy=false \
    --storage-driver=vfs --live-restore >>"$dir/dockerd.log" 2>&1 &
  dockerd_pid=$!
  local _
  for _ in $(seq 1 300); do
    "$docker_bin" version >/dev/null 2>&1 && return 0
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "dockerd-$variant did not start; its log:" >&2
  tail -n 30 "$dir/dockerd.log" >&2
  exit 1
}

stop_dockerd() {
  kill -TERM "$dockerd_pid" 2>/dev/null || return 0
  local _
  for _ in $(seq 1 300); do
    kill -0 "$dockerd_pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$dockerd_pid" 2>/dev/null
}

cleanup() {
  if [ -n "${dockerd_pid:-}" ] && kill -0 "$dockerd_pid" 2>/dev/null; then
    local ids
    ids=$("$docker_bin" ps -aq 2>/dev/null)
    [ -n "$ids" ] && "$docker_bin" rm -f $ids >/dev/null 2>&1
    stop_dockerd
  fi
  # What a crashed dockerd left in containerd (the checks above report it) must not reach the
  # next run on the same containerd: containers this run's dockerd made (they are in the
  # transcript's events), nothing else.
  local leftover
  for leftover in $(ctr --address "$socket" --namespace moby containers list --quiet 2>/dev/null); do
    grep -q "\"$leftover\"" "${transcript_dir:-/nonexistent}/events.jsonl" 2>/dev/null || continue
    ctr --address "$socket" --namespace moby tasks kill -s SIGKILL "$leftover" >/dev/null 2>&1
    ctr --address "$socket" --namespace moby tasks delete -f "$leftover" >/dev/null 2>&1
    ctr --address "$socket" --namespace moby containers delete "$leftover" >/dev/null 2>&1
  done
  # dockerd bind-mounts its data root onto itself (and may leave netns or shm mounts).
  awk -v dir="$dir/" 'index($5, dir) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    xargs -r -n 1 umount -l
  rm -rf "$dir"
}

[ -x "$dockerd_bin" ] && [ -x "$docker_bin" ] || {
  echo "missing $dockerd_bin or $docker_bin: run dockerd/build.sh first" >&2
  exit 1
}
rm -rf "$dir"
mkdir -p "$dir"
# Experimental: `docker checkpoint` needs it. "features" (older versions ignore what they do not
# know): the graph drivers' image store (vfs), not containerd's (the default from v29 on); and no
# time namespace, which v29 gives containers when the kernel has them but runc before 1.2 cannot
# make (the test bed's runc is Debian's 1.1.5; v29's release ships runc 1.5.1).
echo '{"experimental": true, "features": {"containerd-snapshotter": false, "time-namespaces": false}}' >"$dir/daemon.json"
trap cleanup EXIT
start_dockerd
echo "dockerd-$dockerd_version-$variant: $(out version -f '{{.Server.Version}}') (API $(out version -f '{{.Server.APIVersion}}'), CLI $(out version -f '{{.Client.Version}}')) on $socket"
python3 "$project/dockerd/busybox_image.py" "$rootfs" "$dir/busybox.tar" "$image"
expect_match "docker load of the docker-archive" "Loaded image: $image" "$(out load -i "$dir/busybox.tar")"

# --- run: attached, detached, stdin, terminal -------------------------------------------------
expect_eq "run attached prints the output" "hello" "$(out run --rm "$image" echo hello)"
out run --rm "$image" sh -c 'exit 3'
expect_eq "run attached returns the exit code" "3" "$?"
out run -d --name logger "$image" sh -c 'i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done' >/dev/null
sleep 0.5
expect_eq "run -d then logs" "line0" "$(out logs logger | head -n 1)"
expect_eq "run -i reads piped stdin to its end" "2" "$(printf 'one\ntwo\n' | out run --rm -i "$image" wc -l)"
expect_eq "run -t gets a terminal" "/dev/pts/0" "$(out run --rm -t "$image" tty | tr -d '\r')"
expect_eq "run -it in a terminal gets the terminal's size" "24 80" \
  "$(in_a_terminal run --rm -it "$image" sh -c "$terminal_size")"

# --- exec ---------------------------------------------------------------------------------------
expect_eq "exec prints the output" "hi" "$(out exec logger echo hi)"
out exec logger sh -c 'exit 7'
expect_eq "exec returns the exit code" "7" "$?"
expect_eq "exec -i reads piped stdin" "piped" "$(echo piped | out exec -i logger cat)"
expect_match "exec -t gets a terminal" '^/dev/pts/[0-9]+$' "$(out exec -t logger tty | tr -d '\r')"
expect_eq "exec -it in a terminal gets the terminal's size" "24 80" \
  "$(in_a_terminal exec -it logger sh -c "$terminal_size")"
python3 "$project/tests/run_in_pty.py" "$docker_bin" exec -it logger sh -c 'exit 9' >/dev/null
expect_eq "exec -it returns the exit code" "9" "$?"
exec_error=$(docker exec logger no-such-binary 2>&1) # the CLI prints this one on stdout
expect_eq "exec of a missing binary exits $exec_missing_rc" "$exec_missing_rc" "$?"
expect_match "exec of a missing binary says why" 'exec: "no-such-binary": executable file not found' "$exec_error"

# --- pause, stats, top, update ---------------------------------------------------------------------
out pause logger >/dev/null
expect_eq "pause shows in inspect" "paused true" "$(inspect '{{.State.Status}} {{.State.Paused}}' logger)"
out unpause logger >/dev/null
expect_eq "unpause shows in inspect" "running false" "$(inspect '{{.State.Status}} {{.State.Paused}}' logger)"
stats=$(out stats --no-stream --format '{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}' logger)
expect_match "stats --no-stream has real memory, pids and CPU figures" \
  '^[1-9][0-9.]*[KMG]i?B / [0-9.]+[KMG]i?B\|[1-9][0-9]*\|[0-9.]+%$' "$stats"
expect_match "top lists the container's processes" "i=\\\$\\(\\(i\\+1\\)\\)" "$(out top logger)"
out update --memory 64m --memory-swap 64m logger >/dev/null
expect_eq "update --memory shows in inspect" "67108864" "$(inspect '{{.HostConfig.Memory}}' logger)"
expect_eq "update --memory reaches the cgroup" "67108864" \
  "$(out exec logger cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null ||
    out exec logger cat /sys/fs/cgroup/memory.max)"
out run --name oom -m 16m "$image" sh -c 'tail /dev/zero'
expect_eq "a container over its memory limit is killed" "137" "$?"
expect_eq "the OOM kill shows as OOMKilled" "true 137" "$(inspect '{{.State.OOMKilled}} {{.State.ExitCode}}' oom)"

# --- kill, stop, restart, wait, rm -----------------------------------------------------------------
out run -d --name killed "$image" sleep 1000 >/dev/null
out kill killed >/dev/null
expect_eq "kill then wait gives 137" "137" "$(out wait killed)"
out run -d --name stopped "$image" sh -c 'trap "exit 0" TERM; while true; do sleep 0.1; done' >/dev/null
out stop -t 10 stopped >/dev/null
expect_eq "stop delivers SIGTERM to a process that handles it" "0" "$(out wait stopped)"
out run -d --name stubborn "$image" sleep 1000 >/dev/null
out stop -t 1 stubborn >/dev/null
expect_eq "stop kills a process that ignores SIGTERM" "137" "$(inspect '{{.State.ExitCode}}' stubborn)"
out run -d --name restarted "$image" sleep 1000 >/dev/null
pid_before=$(inspect '{{.State.Pid}}' restarted)
out restart -t 1 restarted >/dev/null
expect_eq "restart runs the container again" "true" "$(inspect '{{.State.Running}}' restarted)"
pid_after=$(inspect '{{.State.Pid}}' restarted)
[ "$pid_after" != "$pid_before" ] && [ "$pid_after" != 0 ] &&
  pass "restart gives a new process" || fail "restart gives a new process: $pid_before -> $pid_after"
out run -d --name exits "$image" sh -c 'sleep 0.3; exit 5' >/dev/null
expect_eq "wait on a container that exits on its own" "5" "$(out wait exits)"
out run -d --name retried --restart on-failure:2 "$image" sh -c 'exit 4' >/dev/null
for _ in $(seq 1 100); do
  [ "$(inspect '{{.RestartCount}} {{.State.Running}} {{.State.Restarting}}' retried)" = "2 false false" ] && break
  sleep 0.1
done
expect_eq "restart policy on-failure:2 restarts twice" "exited 4 2" \
  "$(inspect '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' retried)"
out rm -f restarted >/dev/null
expect_eq "rm -f removes a running container" "" "$(out ps -aq --filter name=restarted)"

# === failure paths and stdio (issue 19): dockerd survives, error text and timing as stock =========
# A separate block: each check holds for stock dockerd as well (run both variants).
dockerd_alive() { kill -0 "$dockerd_pid" 2>/dev/null && "$docker_bin" version >/dev/null 2>&1; }
# The daemon's error line as the CLI prints it (stderr for run, stdout for exec).
daemon_error() { tr -d '\r' | grep -m 1 -E '(Error response from daemon|OCI runtime)' | sed -E 's/[[:space:]]+$//; s/\.$//'; }
# runc's error ends in ": unknown" (its gRPC code) unless dockerd's containerd client and the
# containerd server are both containerd 2 (moby v28 on, containerd 2.x): containerd 1.x adds the
# code to the text when it converts an error, containerd 2's errgrpc keeps the text as it is.
oci_unknown=": unknown"
if [ "$dockerd_version" -ge 28 ] && [[ ${LCD_CONTAINERD_VERSION:-2} == 2* ]]; then oci_unknown=; fi
missing_create="failed to create task for container: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: \"/nonexistent\": stat /nonexistent: no such file or directory$oci_unknown"
missing_exec="OCI runtime exec failed: exec failed: unable to start container process: exec: \"/nonexistent\": stat /nonexistent: no such file or directory$oci_unknown"

run_error=$( (sleep 3 | "$docker_bin" run -i --rm "$image" /nonexistent) 2>&1 >/dev/null)
expect_eq "run -i of a missing binary with stdin still open exits 127" "127" "$?"
expect_eq "run -i of a missing binary: moby's error text" "docker: Error response from daemon: $missing_create" \
  "$(daemon_error <<<"$run_error")"
dockerd_alive && pass "dockerd survives run -i of a missing binary" || fail "dockerd survives run -i of a missing binary"
in_a_terminal run --rm -it "$image" /nonexistent >/dev/null
expect_eq "run -it of a missing binary in an idle terminal exits 127" "127" "$?"
dockerd_alive && pass "dockerd survives run -it of a missing binary" || fail "dockerd survives run -it of a missing binary"
out run -d --name failpaths "$image" sleep 1000 >/dev/null
exec_error=$( (sleep 3 | "$docker_bin" exec -i failpaths /nonexistent) 2>&1)
expect_eq "exec -i of a missing binary with stdin still open exits $exec_missing_rc" "$exec_missing_rc" "$?"
expect_eq "exec -i of a missing binary: moby's error text" "$missing_exec" "$(daemon_error <<<"$exec_error")"
dockerd_alive && pass "dockerd survives exec -i of a missing binary" || fail "dockerd survives exec -i of a missing binary"
in_a_terminal exec -it failpaths /nonexistent >/dev/null
expect_eq "exec -it of a missing binary in an idle terminal exits $exec_missing_rc" "$exec_missing_rc" "$?"
dockerd_alive && pass "dockerd survives exec -it of a missing binary" || fail "dockerd survives exec -it of a missing binary"
exec_error=$(docker exec failpaths /etc/passwd 2>&1)
expect_eq "exec of a non-executable file exits 126" "126" "$?"
expect_eq "exec of a non-executable file: moby's error text" \
  "OCI runtime exec failed: exec failed: unable to start container process: exec: \"/etc/passwd\": permission denied$oci_unknown" \
  "$(daemon_error <<<"$exec_error")"
# An exec leaving a background child: the shim closes the exec's FIFOs when it is deleted
# (after at most ~2 s), so the CLI returns long before the child ends. (Stock leaves the exec's
# FIFO files until the child ends; the library removes them at the delete: the Go test
# TestExecDeleteWithBackgroundChildEndsWithinSeconds checks that.)
began=$(date +%s%N)
expect_eq "exec leaving a background child prints its output" "bg" "$(out exec failpaths sh -c 'echo bg; sleep 15 &')"
took_ms=$((($(date +%s%N) - began) / 1000000))
[ "$took_ms" -lt 6000 ] && pass "exec leaving a background child returns in ${took_ms} ms (< 6 s)" ||
  fail "exec leaving a background child returns in ${took_ms} ms, not < 6 s"
out rm -f failpaths >/dev/null
expect_eq "dockerd's log shows no panic and none of the library's own error texts" "" \
  "$(grep -E 'panic|used after Close|was deleted|operation cancelled|start process [^ ]+ of container|create task for container [0-9a-f]{64}' "$dir/dockerd.log")"
# === end of the failure-path block =================================================================

# --- live-restore: dockerd restarts while containers run -------------------------------------------
out run -d --name survivor "$image" sh -c 'trap "exit 0" TERM; i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.1; done' >/dev/null
sleep 0.3
logger_pid=$(inspect '{{.State.Pid}}' logger)
stop_dockerd
sleep 1 # the containers keep writing while no dockerd reads
start_dockerd
expect_eq "after a dockerd restart the container still runs" "running $logger_pid" \
  "$(inspect '{{.State.Status}} {{.State.Pid}}' logger)"
sleep 0.5
lines=$(out logs logger)
last=$(tail -n 1 <<<"$lines")
expect_eq "logs continue across the restart without a gap" "line$(($(wc -l <<<"$lines") - 1))" "$last"
sleep 0.3
expect_match "logs keep growing after the restart" "^line[0-9]+$" "$(out logs --tail 1 logger)"
[ "$(out logs logger | wc -l)" -gt "$(wc -l <<<"$lines")" ] &&
  pass "new log lines arrive after the restart" || fail "new log lines arrive after the restart"
expect_eq "exec after the restart" "still here" "$(out exec logger echo still here)"
out stop -t 10 survivor >/dev/null
expect_eq "stop after the restart" "0" "$(out wait survivor)"
out kill logger >/dev/null
expect_eq "kill and wait after the restart" "137" "$(out wait logger)"
out rm -f $(out ps -aq) >/dev/null
expect_eq "rm after the restart leaves no containers" "" "$(out ps -aq)"
expect_eq "nothing is left in containerd" "" \
  "$(ctr --address "$socket" --namespace moby containers list --quiet)"
expect_eq "no task state (bundles, FIFOs) is left in the exec root" "" "$(ls -A "$state_dir" 2>/dev/null)"

# --- the transcript (compared with the other build's by `compare`) ----------------------------------
source "$project/tests/dockerd_transcript.sh"
run_transcript
expect_eq "after the transcript no containers are left" "" "$(out ps -aq)"
expect_eq "after the transcript nothing is left in containerd" "" \
  "$(ctr --address "$socket" --namespace moby containers list --quiet)"
expect_eq "after the transcript no task state is left in the exec root" "" "$(ls -A "$state_dir" 2>/dev/null)"

echo "dockerd-$dockerd_version-$variant: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
