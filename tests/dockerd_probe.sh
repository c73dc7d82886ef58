# Sourced by the dockerd fault and leak tests: starts a dockerd build on the test bed's
# containerd in a directory of its own, and measures it (descriptors, goroutines, memory) and
# what it left in containerd and on disk. Needs: variant (lcd|stock), project, dir;
# LCD_DOCKERD_VERSION picks the dockerd version (default 24, as dockerd/build.sh).
bin=${LCD_DOCKERD_BUILD:-$project/build/dockerd}/bin
dockerd_bin=$bin/dockerd-${LCD_DOCKERD_VERSION:-24}-$variant
docker_bin=$bin/docker
socket=${LCD_CONTAINERD_SOCKET:?LCD_CONTAINERD_SOCKET is not set (run under tests/testbed.sh run --)}
rootfs=${LCD_TEST_ROOTFS:?LCD_TEST_ROOTFS is not set}
ctr_bin=${LCD_CONTAINERD_BIN:+$LCD_CONTAINERD_BIN/}ctr
image=busybox:lcd-e2e
# A containerd namespace of this run's own: what earlier runs left on the test bed is not counted.
ns=${LCD_DOCKERD_NAMESPACE:-lcd-$(basename "$dir")-$$}
export DOCKER_HOST=unix://$dir/docker.sock

# A docker command that cannot hang the test: 124 when it did not end in time.
dk() { timeout -k 5 "${DK_TIMEOUT:-90}" "$docker_bin" "$@"; }

# Starts dockerd (debug mode, for its goroutine profile) and loads the busybox image.
start_dockerd() {
  rm -rf "$dir" && mkdir -p "$dir"
  echo '{}' >"$dir/daemon.json"
  "$dockerd_bin" --debug --containerd="$socket" --data-root="$dir/data" --exec-root="$dir/exec" \
    --pidfile="$dir/docker.pid" -H "$DOCKER_HOST" --config-file="$dir/daemon.json" \
    --iptables=false --ip6tables=false --ip-masq=false --bridge=none --userland-proxy=false \
    --storage-driver=vfs --live-restore --containerd-namespace="$ns" --containerd-plugins-namespace="$ns-plugins" >>"$dir/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 1 300); do
    "$docker_bin" version >/dev/null 2>&1 && break
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -n 30 "$dir/dockerd.log"; return 1; }
    sleep 0.1
  done
  python3 "$project/dockerd/busybox_image.py" "$rootfs" "$dir/busybox.tar" "$image"
  dk load -i "$dir/busybox.tar" >/dev/null || { echo "docker load failed"; return 1; }
}

stop_dockerd() {
  [ -n "${dockerd_pid:-}" ] || return 0
  local ids
  ids=$("$docker_bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && timeout 60 "$docker_bin" rm -f $ids >/dev/null 2>&1
  kill -TERM "$dockerd_pid" 2>/dev/null
  # Up to 30 s for its shutdown, then killed (with containerd away it may wait for it).
  for _ in $(seq 1 300); do dockerd_running || break; sleep 0.1; done
  dockerd_running && { echo "dockerd did not stop within 30 s; killing it"; kill -KILL "$dockerd_pid"; }
  wait "$dockerd_pid" 2>/dev/null
  dockerd_pid=
}

# Whether dockerd runs (a zombie awaiting this script's wait does not).
dockerd_running() {
  local state
  state=$(awk '{print $3}' "/proc/$dockerd_pid/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ]
}

dockerd_fds() { ls "/proc/$dockerd_pid/fd" 2>/dev/null | wc -l; }
dockerd_rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$dockerd_pid/status"; }
# From dockerd's debug endpoint (served with --debug): "goroutine profile: total N".
dockerd_goroutines() {
  curl -s --max-time 10 --unix-socket "$dir/docker.sock" "http://localhost/debug/pprof/goroutine?debug=1" |
    sed -n '1s/^goroutine profile: total \([0-9]*\).*/\1/p'
}

# Polls until fds and goroutines are at most the baseline plus a slack, for up to $1 seconds;
# prints "fds F (baseline B) goroutines G (baseline H)" and fails when they did not settle.
settled_to_baseline() { # seconds base_fds base_goroutines fd_slack goroutine_slack
  local end=$((SECONDS + $1)) fds gor
  while :; do
    fds=$(dockerd_fds); gor=$(dockerd_goroutines)
    if [ "$fds" -le $(($2 + $4)) ] && [ "${gor:-999999}" -le $(($3 + $5)) ]; then break; fi
    [ $SECONDS -ge $end ] && break
    sleep 1
  done
  echo "fds $fds (baseline $2) goroutines $gor (baseline $3)"
  [ "$fds" -le $(($2 + $4)) ] && [ "${gor:-999999}" -le $(($3 + $5)) ]
}

# What docker no longer knows but containerd or the disk still has, in dockerd's namespace
# ($ns): containerd containers and tasks, shims of this containerd serving that namespace,
# bundle (exec-root) folders, and the shims' task state folders (one line; the last field,
# shims containerd forgot at its boot, is not an orphan of dockerd's).
orphans() {
  local known c t s b st
  known=$("$docker_bin" ps -aq --no-trunc 2>/dev/null | sort)
  c=$("$ctr_bin" -a "$socket" -n "$ns" containers ls -q 2>/dev/null | sort | comm -23 - <(echo "$known") | wc -l)
  t=$("$ctr_bin" -a "$socket" -n "$ns" tasks ls -q 2>/dev/null | sort | comm -23 - <(echo "$known") | wc -l)
  # A shim that containerd itself forgot: killed while the shim was starting, containerd at its
  # boot fails to load it ("failed to load shim .../<ns>/<id>") and removes its state, but the
  # shim process stays, serving no task. No client was ever told of it (the create failed with
  # containerd away); counted apart.
  local lost=0 pid id
  s=0
  for pid in $(pgrep -f -- "containerd-shim-runc-v2 -namespace $ns .*-address $socket( |$)"); do
    id=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | sed -n 's/.* -id \([^ ]*\) .*/\1/p')
    if [ -n "$id" ] && grep -q "failed to load shim [^ ]*/$ns/$id\"" "${LCD_TESTBED_DIR:-/tmp/lcd-testbed}/containerd.log" 2>/dev/null; then
      lost=$((lost + 1))
    else
      s=$((s + 1))
    fi
  done
  b=$(ls "$dir/exec/containerd" 2>/dev/null | grep -v '^daemon$' | sort | comm -23 - <(echo "$known") | wc -l)
  st=$(ls "${LCD_TESTBED_DIR:-/tmp/lcd-testbed}/state/io.containerd.runtime.v2.task/$ns" 2>/dev/null | sort | comm -23 - <(echo "$known") | wc -l)
  echo "containers $c tasks $t shims $s bundles $b task-state $st shims-forgotten-by-containerd $lost"
}
