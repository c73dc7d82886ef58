# Sourced by tests/testbed.sh: the test bed's processes, found by their exact arguments (never a
# system containerd), whether they are gone, and who holds containerd's metadata database lock.
# Uses testbed.sh's DIR, CONFIG, SOCK and log.

# PIDs of the processes whose executable's name matches the pattern $1 and whose arguments
# contain the adjacent pair "$2" "$3", compared exactly.
pids_with_args() {
  local name=$1 flag=$2 value=$3 proc i
  local -a args
  for proc in /proc/[0-9]*; do
    { mapfile -d '' -t args <"$proc/cmdline"; } 2>/dev/null || continue
    ((${#args[@]} > 2)) || continue
    # shellcheck disable=SC2053 # $name is a pattern
    [[ ${args[0]##*/} == $name ]] || continue
    for ((i = 1; i < ${#args[@]} - 1; i++)); do
      if [[ ${args[i]} == "$flag" && ${args[i + 1]} == "$value" ]]; then
        echo "${proc#/proc/}"
        break
      fi
    done
  done
}

# The test bed's containerd processes: by their exact --config argument (this also finds one
# whose pid file was lost).
containerd_pids() { pids_with_args containerd --config "$CONFIG"; }

# The test bed's shims: containerd starts them with `-address $SOCK`.
shim_pids() { pids_with_args 'containerd-shim*' -address "$SOCK"; }

# All descendants of the given PIDs (containers and execs are children of their shim, which is
# their subreaper), deepest last.
descendants() {
  local -A children=()
  local stat pid ppid rest _
  for stat in /proc/[0-9]*/stat; do
    { read -r rest <"$stat"; } 2>/dev/null || continue
    pid=${rest%% *}
    rest=${rest##*) } # after the command name, which may hold spaces and parentheses
    read -r _ ppid _ <<<"$rest"
    children[$ppid]+=" $pid"
  done
  local -a queue=("$@")
  while ((${#queue[@]})); do
    pid=${queue[0]}
    queue=("${queue[@]:1}")
    for rest in ${children[$pid]:-}; do
      echo "$rest"
      queue+=("$rest")
    done
  done
}

# Whether a process exists and is not a zombie (daemons here are children of PID 1, which may be
# slow to reap them). Every thread counts: after a SIGKILL the thread-group leader shows as a
# zombie while another thread is still finishing a system call in the kernel, and the process
# keeps its descriptors (and containerd its bolt database lock) until the last thread is gone.
alive() {
  local stat task
  for task in "/proc/$1/task/"*/stat; do
    { read -r stat <"$task"; } 2>/dev/null || continue
    stat=${stat##*) }
    [[ ${stat:0:1} != [ZX] ]] && return 0
  done
  return 1
}

wait_gone() { # pid, tenths of a second
  local i
  for ((i = 0; i < $2; i++)); do
    alive "$1" || return 0
    sleep 0.1
  done
  return 1
}

# containerd's metadata database: one containerd at a time holds its lock (bolt's flock); a
# second one waits for it ("waiting for response from boltdb open").
BOLT_DB=$DIR/root/io.containerd.metadata.v1.bolt/meta.db

# The PIDs that hold a lock on the bolt database, from /proc/locks ("N: FLOCK ADVISORY WRITE
# PID MAJ:MIN:INODE START END").
bolt_lock_holders() {
  local inode
  inode=$(stat -c %i "$BOLT_DB" 2>/dev/null) || return 0
  awk -v ino="$inode" '{ n = split($0, f, " "); for (i = 1; i <= n; i++) if (f[i] ~ /^[0-9a-f]+:[0-9a-f]+:[0-9]+$/) { split(f[i], d, ":"); if (d[3] == ino) print f[i - 1] } }' /proc/locks | sort -u
}

# A process and each of its threads (state, kernel wait channel, kernel stack), to stderr.
describe_pid() {
  local pid=$1 task stat
  log "  pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)"
  for task in "/proc/$pid/task/"*; do
    [[ -d $task ]] || continue
    { read -r stat <"$task/stat"; } 2>/dev/null || continue
    stat=${stat##*) }
    log "    thread ${task##*/}: state ${stat:0:1} wchan $(cat "$task/wchan" 2>/dev/null)$(
      [[ ${stat:0:1} == D ]] && { cat "$task/stack" 2>/dev/null | head -n 6 | awk '{printf " | %s", $2}'; })"
  done
}

# Why a containerd cannot take its database: who holds the lock, and the test bed's containerd
# processes still around.
diagnose_bolt() {
  local pid holders
  holders=$(bolt_lock_holders | tr '\n' ' ')
  log "bolt database $BOLT_DB locked by: ${holders:-nobody}"
  for pid in $holders $(containerd_pids); do describe_pid "$pid"; done
}
