#!/usr/bin/env bash
# The shared real-containerd test bed: a private containerd of a chosen version with its own
# root, state directory, sockets, opt directory and loopback metrics address, the CRI plugins
# disabled, and a busybox root filesystem for test containers.
#
#   testbed.sh start         start (or reuse) it; prints LCD_* variables for the tests
#   testbed.sh stop          stop it, its shims and their containers; unmount what they left
#   testbed.sh restart       kill -9 containerd (not the shims) and start it again
#   testbed.sh down | up     the two halves of restart, for tests that act while it is down
#   testbed.sh env           print the LCD_* variables of the running test bed
#   testbed.sh run -- CMD    start, run CMD with the variables exported, stop; CMD's exit code
#
# LCD_TESTBED_DIR (default /tmp/lcd-testbed; no whitespace) holds everything: config.toml,
# root/, state/, opt/, containerd.sock(.ttrpc), containerd.log, containerd.pid, env, rootfs/.
# LCD_TESTBED_METRICS_PORT (default 13338) is the metrics port on 127.0.0.1.
# LCD_CONTAINERD_VERSION picks containerd (see tests/containerd_build.sh): "1.6" is Debian's
# package (/usr/bin), "1.7" and "2" the pinned newest of those lines, built once from their Go
# module with their own containerd-shim-runc-v2 and ctr and cached; default "2". A test bed keeps
# the version it was started with: restart/up reuse it, and start with another version stops it
# and starts afresh with an empty root and state (containerd's metadata does not go back).
# With LCD_CONTAINERD_ADDRESS set to a running containerd's socket, no containerd is started or
# stopped: that one is used (and LCD_CONTAINERD_METRICS is passed on if set).
#
# Only the env lines go to stdout; messages go to stderr. A system containerd is never touched:
# processes are found by their exact arguments (--config $DIR/config.toml, -address $SOCK).
set -euo pipefail
shopt -s inherit_errexit # also inside $(...)

DIR=${LCD_TESTBED_DIR:-/tmp/lcd-testbed}
METRICS_PORT=${LCD_TESTBED_METRICS_PORT:-13338}
SOCK=$DIR/containerd.sock
CONFIG=$DIR/config.toml
ROOTFS=$DIR/rootfs
PIDFILE=$DIR/containerd.pid
LOG=$DIR/containerd.log

log() { echo "testbed: $*" >&2; }
die() { log "$*"; exit 1; }

[[ $DIR == /* && $DIR != *[[:space:]]* ]] || die "LCD_TESTBED_DIR must be an absolute path without whitespace: $DIR"
[[ $METRICS_PORT =~ ^[0-9]+$ ]] || die "LCD_TESTBED_METRICS_PORT must be a port number: $METRICS_PORT"

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VERSION_FILE=$DIR/containerd-version
# The exact containerd version asked for (1.6, 1.7.N, 2.N.M); its binaries are found (or built)
# only when a containerd is to be started.
WANTED_VERSION=$(bash "$HERE/containerd_build.sh" resolve "${LCD_CONTAINERD_VERSION:-2}")
BINDIR=
CONTAINERD=
CTR=ctr

# Sets BINDIR, CONTAINERD and CTR for a version, building it the first time.
use_version() {
  BINDIR=$(bash "$HERE/containerd_build.sh" bindir "$1")
  CONTAINERD=$BINDIR/containerd
  CTR=$BINDIR/ctr
}

# The version the test bed in $DIR was started with, if any.
recorded_version() { [[ -s $VERSION_FILE ]] && cat "$VERSION_FILE"; }

external() { [[ -n ${LCD_CONTAINERD_ADDRESS:-} ]]; }

socket() { echo "${LCD_CONTAINERD_ADDRESS:-$SOCK}"; }

answers() { "$CTR" --address "$(socket)" --timeout 2s version >/dev/null 2>&1; }

# Serialises start/stop/restart of one test bed (concurrent test processes may call start).
# The lock's descriptor is closed for containerd, which must not keep it.
locked() {
  mkdir -p "$DIR"
  (
    flock -w 60 9 || die "could not lock $DIR/lock"
    "$@"
  ) 9>"$DIR/lock"
}

# Finding the test bed's processes by their arguments, whether they are gone, and who holds
# containerd's database lock.
# shellcheck source=tests/testbed_processes.sh
. "$HERE/testbed_processes.sh"

build_rootfs() {
  [[ -x $ROOTFS/bin/busybox && -L $ROOTFS/bin/sh && -f $ROOTFS/etc/passwd ]] && return 0
  [[ -x /bin/busybox ]] || die "/bin/busybox is missing: run tests/setup.sh (busybox-static)"
  log "building the busybox root filesystem in $ROOTFS"
  local tmp=$ROOTFS.tmp.$$ applet
  rm -rf "$tmp"
  mkdir -p "$tmp"/{bin,dev,etc,proc,sys,tmp,root,run} # run: a mount point of the default spec
  chmod 1777 "$tmp/tmp"
  chmod 0700 "$tmp/root"
  cp /bin/busybox "$tmp/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [[ $applet == busybox ]] || ln -sf busybox "$tmp/bin/$applet"
  done
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$tmp/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' >"$tmp/etc/group"
  rm -rf "$ROOTFS"
  mv "$tmp" "$ROOTFS"
}

write_config() {
  local version=$1 config_version disabled
  mkdir -p "$DIR/root" "$DIR/state" "$DIR/opt"
  if [[ $version == 1.* ]]; then
    config_version=2
    disabled='"io.containerd.grpc.v1.cri"'
  else
    # containerd 2.x: config version 3 (2.4 reads it too, migrating it to its version 4 in
    # memory, with a warning: version 4 moves [grpc], [ttrpc] and [metrics] into plugin
    # sections), and CRI split into three plugins.
    config_version=3
    disabled='"io.containerd.grpc.v1.cri", "io.containerd.cri.v1.images", "io.containerd.cri.v1.runtime"'
  fi
  cat >"$CONFIG" <<CONFIG
# Written by tests/testbed.sh for containerd $version; rewritten at every start.
version = $config_version
root = "$DIR/root"
state = "$DIR/state"
disabled_plugins = [$disabled]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[metrics]
  address = "127.0.0.1:$METRICS_PORT"
  grpc_histogram = false

# Not /opt/containerd, which a system containerd owns.
[plugins."io.containerd.internal.v1.opt"]
  path = "$DIR/opt"
CONFIG
}

print_env() {
  {
    echo "LCD_CONTAINERD_SOCKET=$(socket)"
    echo "LCD_TEST_ROOTFS=$ROOTFS"
    if ! external; then
      echo "LCD_CONTAINERD_VERSION=$(recorded_version)"
      echo "LCD_CONTAINERD_BIN=$BINDIR"
      echo "LCD_CONTAINERD_METRICS=127.0.0.1:$METRICS_PORT"
    elif [[ -n ${LCD_CONTAINERD_METRICS:-} ]]; then
      echo "LCD_CONTAINERD_METRICS=$LCD_CONTAINERD_METRICS"
    fi
  } >"$DIR/env.tmp"
  mv "$DIR/env.tmp" "$DIR/env"
  cat "$DIR/env"
}

# The live containerd of this test bed, if any (pid file first, then by its arguments).
running_pid() {
  local pid
  if [[ -s $PIDFILE ]]; then
    pid=$(<"$PIDFILE")
    if [[ $pid =~ ^[0-9]+$ ]] && [[ " $(containerd_pids | tr '\n' ' ') " == *" $pid "* ]]; then
      echo "$pid"
      return 0
    fi
  fi
  local -a pids
  mapfile -t pids < <(containerd_pids)
  ((${#pids[@]})) || return 1
  echo "${pids[0]}" >"$PIDFILE"
  echo "${pids[0]}"
}

# Starts containerd of the given version (default: the one the test bed was started with).
start_containerd() {
  local version=${1:-$(recorded_version || true)}
  [[ -n $version ]] || version=$WANTED_VERSION
  use_version "$version"
  [[ -x $CONTAINERD ]] || die "$CONTAINERD is missing: run tests/setup.sh"
  [[ -x $CTR ]] || die "$CTR is missing: run tests/setup.sh"
  write_config "$version"
  echo "$version" >"$VERSION_FILE"
  rm -f "$SOCK" "$SOCK.ttrpc"
  # A killed containerd keeps the database locked until its last thread has left the kernel:
  # starting another one before would only make it wait for the lock.
  local holder waited=0
  for holder in $(bolt_lock_holders); do
    if ! wait_gone "$holder" 600; then
      log "the bolt database is still locked by pid $holder after 60 s"
      diagnose_bolt
      return 1
    fi
    waited=1
  done
  ((waited == 0)) || log "waited for the previous containerd to release the bolt database"
  log "starting containerd $version ($CONTAINERD) on $SOCK (log: $LOG)"
  echo "=== $(date '+%F %T') testbed.sh starts containerd $version" >>"$LOG"
  # In its own session, immune to the caller's hangup, with no descriptor of the caller's. Its
  # shims are found on PATH: the version's own containerd-shim-runc-v2 comes first.
  PATH="$BINDIR:$PATH" setsid nohup "$CONTAINERD" --config "$CONFIG" </dev/null >>"$LOG" 2>&1 9>&- &
  local pid=$! deadline=$((SECONDS + 20))
  echo "$pid" >"$PIDFILE"
  while ((SECONDS < deadline)) && alive "$pid"; do
    if [[ -S $SOCK ]] && answers; then
      # setsid execs containerd in place (a background job is no process group leader), so
      # $! is containerd; make sure anyway.
      running_pid >/dev/null || die "containerd answers on $SOCK but its process was not found"
      return 0
    fi
    sleep 0.1
  done
  if alive "$pid"; then
    log "containerd did not answer on $SOCK within 20 s"
    diagnose_bolt
    log "last log lines:"
  else
    log "containerd exited; last log lines:"
  fi
  tail -n 20 "$LOG" >&2
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$PIDFILE"
  return 1
}

do_start() {
  build_rootfs
  if external; then
    answers || die "no containerd answers on LCD_CONTAINERD_ADDRESS=$LCD_CONTAINERD_ADDRESS"
  elif [[ $(recorded_version || true) == "$WANTED_VERSION" ]] && running_pid >/dev/null && { use_version "$WANTED_VERSION"; answers; }; then
    log "containerd $WANTED_VERSION already running on $SOCK (pid $(<"$PIDFILE"))"
  else
    local was
    was=$(recorded_version || true)
    if [[ $was != "$WANTED_VERSION" && (-n $was || -d $DIR/root) ]]; then
      log "the test bed ran containerd ${was:-of an unknown version}; starting $WANTED_VERSION on an empty root and state"
      do_stop
      rm -rf "$DIR/root" "$DIR/state" "$DIR/opt"
    fi
    do_down
    start_containerd "$WANTED_VERSION" || return 1
  fi
  print_env
}

# kill -9 containerd only: shims and containers keep running.
do_down() {
  local pid
  for pid in $(containerd_pids); do
    kill -KILL "$pid" 2>/dev/null || true
    wait_killed "$pid" || die "containerd $pid survived SIGKILL"
  done
  rm -f "$PIDFILE"
}

# Up to 10 s for a killed process to be gone, every thread of it; says so when its main thread
# was gone before the others (which keep its descriptors and locks meanwhile).
wait_killed() { # pid
  local i stat noted=
  for ((i = 0; i < 100; i++)); do
    alive "$1" || return 0
    if [[ -z $noted ]] && { read -r stat <"/proc/$1/stat"; } 2>/dev/null && stat=${stat##*) } && [[ ${stat:0:1} == [ZX] ]]; then
      log "killed containerd $1: its main thread has exited, other threads have not yet:"
      describe_pid "$1"
      noted=1
    fi
    sleep 0.1
  done
  log "killed containerd $1 still has threads after 10 s:"
  describe_pid "$1"
  return 1
}

do_restart() {
  do_down
  start_containerd || return 1
}

do_stop() {
  local pid mnt
  local -a pids
  for pid in $(containerd_pids); do
    log "stopping containerd $pid"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" 100; then
      log "containerd $pid ignored SIGTERM for 10 s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 50 || true
    fi
  done
  rm -f "$PIDFILE"
  # Containers still running under this test bed, then their shims. Containers first: a dead
  # shim's children would be re-parented out of reach.
  mapfile -t pids < <(shim_pids)
  if ((${#pids[@]})); then
    log "killing ${#pids[@]} shim(s) and their containers"
    local -a kids
    mapfile -t kids < <(descendants "${pids[@]}")
    for pid in "${kids[@]}"; do
      kill -KILL "$pid" 2>/dev/null || true
    done
    # Give the shims a moment to reap them, rather than leaving zombies to PID 1.
    local i left
    for ((i = 0; i < 20; i++)); do
      left=0
      for pid in "${kids[@]}"; do
        [[ -e /proc/$pid ]] && left=1 && break
      done
      ((left)) || break
      sleep 0.1
    done
    for pid in "${pids[@]}"; do
      kill -KILL "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
      wait_gone "$pid" 50 || log "shim $pid still alive"
    done
  fi
  # Whatever is still mounted under the test bed (deepest first).
  while read -r mnt; do
    log "unmounting $mnt"
    umount "$mnt" 2>/dev/null || umount -l "$mnt" 2>/dev/null || log "could not unmount $mnt"
  done < <(awk -v d="$DIR/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
  rm -f "$SOCK" "$SOCK.ttrpc"
}

cmd_start() { locked do_start; }

cmd_stop() {
  if external; then
    log "LCD_CONTAINERD_ADDRESS is set: leaving that containerd alone"
    return 0
  fi
  [[ -d $DIR ]] || return 0
  locked do_stop
}

cmd_down() {
  external && die "LCD_CONTAINERD_ADDRESS is set: cannot stop a containerd the test bed did not start"
  locked do_down
}

# Starts containerd unless it is running and answers (one that does not answer is killed first).
do_up() {
  if running_pid >/dev/null; then
    use_version "$(recorded_version)"
    if answers; then
      log "containerd already running on $SOCK (pid $(<"$PIDFILE"))"
      return 0
    fi
    do_down
  fi
  start_containerd
}

cmd_up() {
  external && die "LCD_CONTAINERD_ADDRESS is set: cannot start a containerd the test bed does not own"
  locked do_up
}

cmd_restart() {
  external && die "LCD_CONTAINERD_ADDRESS is set: cannot restart a containerd the test bed did not start"
  locked do_restart
}

cmd_env() {
  [[ -f $DIR/env ]] || die "not started (no $DIR/env)"
  if external; then
    answers || die "no containerd answers on LCD_CONTAINERD_ADDRESS=$LCD_CONTAINERD_ADDRESS"
  else
    { running_pid >/dev/null && answers; } || die "the test bed in $DIR is not running"
  fi
  cat "$DIR/env"
}

# INT,QUIT minus what this script inherited as ignored (read before any trap is set).
IGNORED_AT_ENTRY=$(awk '$1 == "SigIgn:" { print $2 }' /proc/$$/status)
default_signals() {
  local ignored=$((16#${IGNORED_AT_ENTRY:-0})) list=()
  ((ignored & (1 << 1))) || list+=(INT)  # SIGINT is 2
  ((ignored & (1 << 2))) || list+=(QUIT) # SIGQUIT is 3
  local IFS=,
  echo "${list[*]}"
}

cmd_run() {
  [[ ${1:-} == -- ]] && shift
  (($#)) || { log "run needs a command: run -- CMD..."; exit 2; }
  trap 'cmd_stop || true' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  local lines
  lines=$(cmd_start) # fails the run when the test bed does not start
  set -a
  eval "$lines"
  set +a
  # CMD runs in the background so that a signal to this script is handled at once (bash defers
  # traps while a foreground command runs): it is passed on to CMD, whose exit ends the run.
  # Bash starts background commands with SIGINT and SIGQUIT ignored and stdin on /dev/null;
  # CMD gets this script's stdin, and those two signals back unless they were ignored already.
  local rc=0 child reset
  reset=$(default_signals)
  if [[ -n $reset ]] && env --default-signal=INT true 2>/dev/null; then
    env --default-signal="$reset" "$@" <&0 &
  else
    "$@" <&0 &
  fi
  child=$!
  trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM HUP
  while :; do
    rc=0
    wait "$child" || rc=$?
    kill -0 "$child" 2>/dev/null || break # else wait was interrupted by a signal
  done
  ((rc == 0)) || log "command exited with status $rc"
  exit "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_restart ;;
  down) cmd_down ;;
  up) cmd_up ;;
  env) cmd_env ;;
  run) shift; cmd_run "$@" ;;
  *)
    echo "usage: $0 start|stop|restart|down|up|env|run -- CMD..." >&2
    exit 2
    ;;
esac
