# The transcript part of tests/dockerd_e2e.sh (sourced by it): one docker CLI script, run the
# same way against dockerd-lcd and dockerd-stock; each step's exit code, stdout and stderr and
# dockerd's events are written under $transcript_dir, normalized by tests/dockerd_transcript.py
# and compared by `tests/dockerd_e2e.sh compare`. Steps wait on states, not on time, so that a
# transcript is the same from run to run.
#
# Uses from dockerd_e2e.sh: $project, $dir, $docker_bin, $image, $variant, $dockerd_pid,
# start_dockerd.

transcript_dir=${LCD_E2E_TRANSCRIPT_DIR:-$dir.transcript}
step_timeout=${LCD_E2E_STEP_TIMEOUT:-40}
step_count=0
step_normalize=

# --- framework ----------------------------------------------------------------------------------

# new_step DESCRIPTION COMMAND-TEXT: the directory of the next step.
new_step() {
  step_count=$((step_count + 1))
  step_path=$(printf '%s/steps/%03d' "$transcript_dir" "$step_count")
  mkdir -p "$step_path"
  printf '%s\n' "$1" >"$step_path/name"
  printf '%s\n' "$2" >"$step_path/command"
  [ -n "$step_normalize" ] && printf '%s\n' "$step_normalize" >"$step_path/normalize"
  step_normalize=
}

# The arguments as a shell would need them (for the transcript's command lines).
quoted() { local a out=; for a in "$@"; do [[ $a =~ ^[][A-Za-z0-9_./:=,{}-]+$ ]] && out+=" $a" || out+=" '${a//\'/\'\\\'\'}'"; done; echo "${out# }"; }

# step DESCRIPTION docker ARG...: one docker CLI command with no input.
# Prefix with `input TEXT` for piped input (`input TEXT step ...`), `norm RULES` for extra
# normalization (see dockerd_transcript.py).
step() {
  local description=$1
  shift
  [ "$1" = docker ] || { echo "step: not a docker command: $*" >&2; exit 1; }
  shift
  new_step "$description" "docker $(quoted "$@")"
  if [ -n "${step_input+set}" ]; then
    printf '%s' "$step_input" | timeout -k 5 "$step_timeout" "$docker_bin" "$@" >"$step_path/stdout" 2>"$step_path/stderr"
  else
    timeout -k 5 "$step_timeout" "$docker_bin" "$@" </dev/null >"$step_path/stdout" 2>"$step_path/stderr"
  fi
  echo $? >"$step_path/rc"
  unset step_input
}
input() { step_input=$1; shift; "$@"; }
norm() { step_normalize=$1; shift; "$@"; }

# tty_step DESCRIPTION [--type-after TEXT KEYS]... docker ARG...: the command on a 24x80
# terminal (tests/run_in_pty.py); what it wrote there is the step's stdout.
tty_step() {
  local description=$1
  shift
  local -a typing=()
  while [ "$1" = --type-after ]; do
    typing+=("$1" "$2" "$3")
    shift 3
  done
  shift # docker
  new_step "$description" "(on a terminal) docker $(quoted "$@")${typing:+ (typing: $(quoted "${typing[@]}"))}"
  timeout -k 5 "$step_timeout" python3 "$project/tests/run_in_pty.py" "${typing[@]}" "$docker_bin" "$@" \
    </dev/null >"$step_path/stdout" 2>"$step_path/stderr"
  echo $? >"$step_path/rc"
}

# sh_step DESCRIPTION SCRIPT: a bash script (for pipelines and timings), `docker` being the CLI.
sh_step() {
  new_step "$1" "$2"
  timeout -k 5 "$step_timeout" bash -c "docker() { \"$docker_bin\" \"\$@\"; }; $2" \
    </dev/null >"$step_path/stdout" 2>"$step_path/stderr"
  echo $? >"$step_path/rc"
}

# await CONTAINER FORMAT VALUE: waits (up to 30 s) until `docker inspect -f FORMAT` shows VALUE,
# then records what it shows as a step (a timeout shows as a difference, never as a hang).
await() {
  local _
  for _ in $(seq 1 300); do
    [ "$("$docker_bin" inspect -f "$2" "$1" 2>/dev/null)" = "$3" ] && break
    sleep 0.1
  done
  step "$1 reaches $3" docker inspect -f "$2" "$1"
}
state() { await "$1" '{{.State.Status}} {{.State.ExitCode}}' "$2"; }

# Events: `docker events` for the whole script. A marker (a volume's create event, ignored by
# the normalizer) shows that every earlier event has arrived before the recorder stops.
start_event_recorder() {
  "$docker_bin" events --format '{{json .}}' >"$transcript_dir/events.jsonl" 2>/dev/null &
  event_recorder_pid=$!
  # The recorder is subscribed once an event shows.
  local marker=lcd-e2e-start-marker _
  "$docker_bin" volume create "$marker" >/dev/null 2>&1
  for _ in $(seq 1 100); do
    grep -q "$marker" "$transcript_dir/events.jsonl" && break
    "$docker_bin" volume create "$marker" >/dev/null 2>&1
    sleep 0.1
  done
  "$docker_bin" volume rm "$marker" >/dev/null 2>&1
}

stop_event_recorder() {
  local marker=lcd-e2e-end-marker _
  if "$docker_bin" volume create "$marker" >/dev/null 2>&1; then
    for _ in $(seq 1 100); do
      grep -q "$marker" "$transcript_dir/events.jsonl" && break
      sleep 0.1
    done
    "$docker_bin" volume rm "$marker" >/dev/null 2>&1
  fi
  kill "$event_recorder_pid" 2>/dev/null
  wait "$event_recorder_pid" 2>/dev/null
}

# A step that records whether dockerd is still running (after a crash, it is started again so
# that the rest can clean up).
dockerd_alive_step() {
  new_step "dockerd is still running" "kill -0 \$dockerd_pid"
  if kill -0 "$dockerd_pid" 2>/dev/null; then
    echo 0 >"$step_path/rc"
  else
    echo 1 >"$step_path/rc"
    grep -m 1 -E '^(panic|fatal error):' "$dir/dockerd.log" >"$step_path/stderr"
    start_dockerd
    start_event_recorder_after_crash=1
  fi
}

run_transcript() {
  rm -rf "$transcript_dir"
  mkdir -p "$transcript_dir/steps"
  printf '%s\t<e2e dir>\n' "$dir" "${dir//\//%2F}" >"$transcript_dir/replace"
  start_event_recorder
  transcript_steps
  dockerd_alive_step
  [ -z "${start_event_recorder_after_crash:-}" ] && stop_event_recorder
  local ids
  ids=$("$docker_bin" ps -aq 2>/dev/null)
  [ -n "$ids" ] && "$docker_bin" rm -f $ids >/dev/null 2>&1
  "$docker_bin" image rm -f lcd-e2e-committed:1 >/dev/null 2>&1
  python3 "$project/tests/dockerd_transcript.py" normalize "$transcript_dir"
  expect_eq "the transcript has at least 150 steps" "yes" "$([ "$step_count" -ge 150 ] && echo yes || echo "no: $step_count")"
}

# The script itself: tests/dockerd_transcript_script.sh (transcript_steps).
source "$project/tests/dockerd_transcript_script.sh"
