#!/usr/bin/env bash
# The shared real-containerd test bed: a private containerd (Debian's package) with its own
# root, state directory, sockets and loopback metrics address, the CRI plugin disabled, and a
# busybox root filesystem for test containers.
#
#   testbed.sh start         start (or reuse) it; prints LCD_* variables for the tests
#   testbed.sh stop          stop it, its shims, and unmount what they left
#   testbed.sh restart       kill -9 containerd (not the shims) and start it again
#   testbed.sh down | up     the two halves of restart, for tests that act while it is down
#   testbed.sh env           print the LCD_* variables of the running test bed
#   testbed.sh run -- CMD    start, run CMD with the variables exported, stop; CMD's exit code
#
# LCD_TESTBED_DIR (default /tmp/lcd-testbed) holds everything. LCD_TESTBED_METRICS_PORT
# (default 13338) is the metrics port. With LCD_CONTAINERD_ADDRESS set to a running
# containerd's socket, no containerd is started or stopped: that one is used.
set -euo pipefail

DIR=${LCD_TESTBED_DIR:-/tmp/lcd-testbed}
METRICS_PORT=${LCD_TESTBED_METRICS_PORT:-13338}
SOCK=$DIR/containerd.sock
ROOTFS=$DIR/rootfs
PIDFILE=$DIR/containerd.pid

log() { echo "testbed: $*" >&2; }

socket() { echo "${LCD_CONTAINERD_ADDRESS:-$SOCK}"; }

answers() { ctr --address "$(socket)" version >/dev/null 2>&1; }

running_pid() {
  [[ -f $PIDFILE ]] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

build_rootfs() {
  [[ -x $ROOTFS/bin/busybox && -e $ROOTFS/bin/sh ]] && return 0
  log "building busybox root filesystem in $ROOTFS"
  local tmp=$ROOTFS.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"/{bin,dev,etc,proc,sys,tmp,root}
  chmod 1777 "$tmp/tmp"
  cp /bin/busybox "$tmp/bin/busybox"
  local applet
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$tmp/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$tmp/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$tmp/etc/group"
  rm -rf "$ROOTFS"
  mv "$tmp" "$ROOTFS"
}

write_config() {
  mkdir -p "$DIR/root" "$DIR/state"
  cat >"$DIR/config.toml" <<CONFIG
version = 2
root = "$DIR/root"
state = "$DIR/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[metrics]
  address = "127.0.0.1:$METRICS_PORT"
  grpc_histogram = false
CONFIG
}

print_env() {
  local lines
  lines="LCD_CONTAINERD_SOCKET=$(socket)
LCD_TEST_ROOTFS=$ROOTFS"
  [[ -n ${LCD_CONTAINERD_ADDRESS:-} ]] || lines+="
LCD_CONTAINERD_METRICS=127.0.0.1:$METRICS_PORT"
  echo "$lines" | tee "$DIR/env"
}

start_containerd() {
  write_config
  log "starting containerd on $SOCK (log: $DIR/containerd.log)"
  rm -f "$SOCK" "$SOCK.ttrpc"
  setsid nohup containerd --config "$DIR/config.toml" >>"$DIR/containerd.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local i
  for i in $(seq 200); do
    answers && return 0
    kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break
    sleep 0.1
  done
  log "containerd did not come up; last log lines:"
  tail -n 20 "$DIR/containerd.log" >&2
  return 1
}

cmd_start() {
  mkdir -p "$DIR"
  build_rootfs
  if [[ -n ${LCD_CONTAINERD_ADDRESS:-} ]]; then
    answers || { log "no containerd answers on LCD_CONTAINERD_ADDRESS=$LCD_CONTAINERD_ADDRESS"; return 1; }
  elif running_pid >/dev/null && answers; then
    : # already running: reuse it
  else
    start_containerd
  fi
  print_env
}

# Shims of this test bed: started with `-address $SOCK`.
shim_pids() {
  pgrep -f "containerd-shim.*-address $SOCK( |$)" || true
}

cmd_stop() {
  [[ -n ${LCD_CONTAINERD_ADDRESS:-} ]] && return 0
  local pid i
  if pid=$(running_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  # Containers still running under this test bed die with their shims.
  for pid in $(shim_pids); do
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  done
  local mnt
  for mnt in $(awk -v d="$DIR/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r); do
    umount -l "$mnt" 2>/dev/null || true
  done
}

cmd_down() {
  [[ -z ${LCD_CONTAINERD_ADDRESS:-} ]] || { log "cannot stop a containerd the test bed did not start"; return 1; }
  local pid
  if pid=$(running_pid); then
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
}

cmd_restart() {
  cmd_down
  start_containerd
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_restart >/dev/null ;;
  down) cmd_down ;;
  up) start_containerd >/dev/null ;;
  env) [[ -f $DIR/env ]] && cat "$DIR/env" || { log "not started"; exit 1; } ;;
  run)
    shift
    [[ ${1:-} == -- ]] && shift
    (($#)) || { log "run needs a command"; exit 2; }
    trap cmd_stop EXIT
    set -a
    # shellcheck disable=SC1090
    source <(cmd_start)
    set +a
    rc=0
    "$@" || rc=$?
    exit "$rc"
    ;;
  *)
    echo "usage: $0 start|stop|restart|env|run -- CMD..." >&2
    exit 2
    ;;
esac
