# The docker CLI script of the transcript (sourced by tests/dockerd_transcript.sh, whose step,
# sh_step, tty_step, input, norm, await and state it uses): transcript_steps, run against each
# dockerd build in turn.

# --- the script -----------------------------------------------------------------------------------

# A container that runs until stopped, exits 0 on SIGTERM, and ignores other signals it does not
# handle (it is pid 1). One long sleep, so that `top` and `stats` see the same processes.
forever='trap "exit 0" TERM; while :; do sleep 1000 & wait $!; done'
# Waits until the container's terminal has the CLI's size, prints it, then gives the CLI's resize
# after the start time to arrive before the process exits: a CLI speaking API 1.42 or later sends
# the size at create already, so the size shows at once, and whether dockerd then logs the
# resize event (or the CLI's resize finds the container gone) would depend on timing.
terminal_size='for i in $(seq 50); do s=$(stty size 2>/dev/null); [ -n "$s" ] && [ "$s" != "0 0" ] && break; sleep 0.1; done; echo "$s"; sleep 2'

transcript_steps() {
  local i=$image

  # --- run: attached, stdin, terminal; failures of the process ----------------------------------
  step "run prints the output" docker run --rm --name t-hello "$i" echo hello
  step "run returns the exit code" docker run --rm --name t-exit3 "$i" sh -c 'echo out; echo err >&2; exit 3'
  input $'one\ntwo\n' step "run -i reads piped stdin" docker run --rm -i --name t-stdin "$i" wc -l
  step "run -i with stdin at its end" docker run --rm -i --name t-stdin-eof "$i" cat
  step "run -t gets a terminal" docker run --rm -t --name t-tty "$i" tty
  step "run -t: exit code" docker run --rm -t --name t-tty-exit "$i" sh -c 'exit 5'
  tty_step "run -it on a terminal gets its size" docker run --rm -it --name t-it "$i" sh -c "$terminal_size"
  tty_step "run -t on a terminal gets its size" docker run --rm -t --name t-t "$i" sh -c "$terminal_size"
  # (Exits once the CLI has resized the terminal: a resize after the exit makes the CLI complain.)
  tty_step "run -it: exit code" docker run --rm -it --name t-it-exit "$i" sh -c "$terminal_size >/dev/null; exit 6"
  step "run of a missing binary" docker run --name t-missing "$i" /nonexistent
  step "the failed container's state" docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}' t-missing
  step "run -t of a missing binary" docker run --rm -t --name t-missing-t "$i" /nonexistent
  step "run -d of a missing binary" docker run -d --name t-missing-d "$i" /nonexistent
  step "run -d --rm of a missing binary" docker run -d --rm --name t-missing-d-rm "$i" /nonexistent
  step "run of a non-executable file" docker run --rm --name t-noexec "$i" /etc/passwd
  step "run -t of a non-executable file" docker run --rm -t --name t-noexec-t "$i" /etc/passwd
  step "run of a directory" docker run --rm --name t-dir "$i" /etc
  step "run of a missing binary on PATH" docker run --rm --name t-nopath "$i" no-such-command
  step "run with a bad user" docker run --rm --name t-baduser -u no-such-user "$i" id
  step "run -t with a bad user" docker run --rm -t --name t-baduser-t -u no-such-user "$i" id
  step "run with a bad group" docker run --rm --name t-badgroup -u 0:no-such-group "$i" id
  step "run with a numeric user" docker run --rm --name t-numuser -u 4242:4343 "$i" id
  step "run with a workdir that is a file" docker run --rm --name t-badwd -w /etc/passwd "$i" pwd
  step "run -t with a workdir that is a file" docker run --rm -t --name t-badwd-t -w /etc/passwd "$i" pwd
  step "run with a new workdir" docker run --rm --name t-newwd -w /made/by/docker "$i" pwd
  step "run with a bad env var" docker run --rm --name t-badenv -e '=x' "$i" true
  step "run --init" docker run --rm --init --name t-init "$i" echo with init
  step "run -d --init" docker run -d --init --name t-init-d "$i" sleep 1000
  step "inspect --init" docker inspect -f '{{.State.Status}} {{.HostConfig.Init}}' t-init-d
  step "rm --init" docker rm -f t-init-d
  step "run with a bad --cpuset-cpus" docker run --rm --name t-badcpuset --cpuset-cpus 99 "$i" true
  step "run with a too small memory limit" docker run --rm --name t-smallmem -m 1k "$i" true
  step "run of a pid 1 that sends itself SIGKILL (ignored)" docker run --rm --name t-selfkill "$i" sh -c 'kill -9 $$'
  step "run --rm then the container is gone" docker inspect -f '{{.Name}}' t-hello

  # --- create, start, start -a, logs ---------------------------------------------------------------
  step "create" docker create --name t-created "$i" sh -c 'echo created; echo to stderr >&2'
  step "start -a" docker start -a t-created
  step "start -a again" docker start -a t-created
  step "logs of two runs" docker logs t-created
  step "logs --tail 2 (the second run's lines)" docker logs --tail 2 t-created
  norm numbers step "logs -t" docker logs -t t-created
  step "create of a missing binary" docker create --name t-created-missing "$i" /nonexistent
  step "start of a missing binary" docker start t-created-missing
  step "start -a of a missing binary" docker start -a t-created-missing
  step "its state" docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.Error}}' t-created-missing
  step "logs of a container that never ran" docker logs t-created-missing
  step "create -i" docker create -i --name t-created-i "$i" sh -c 'cat; exit 2'
  input $'fed to start -ai\n' step "start -ai" docker start -ai t-created-i
  step "create -t with a non-executable file" docker create -t --name t-created-noexec "$i" /etc/passwd
  step "start -a of a non-executable file" docker start -a t-created-noexec
  step "restart of a missing binary" docker restart t-created-missing
  step "start of a missing container" docker start t-no-such-container
  step "logs of a missing container" docker logs t-no-such-container
  step "rm of the created ones" docker rm t-created t-created-missing t-created-i t-created-noexec t-missing t-missing-d

  # --- exec ------------------------------------------------------------------------------------------
  step "run -d" docker run -d --name t-exec "$i" sh -c "$forever"
  state t-exec "running 0"
  step "exec prints the output" docker exec t-exec echo hi
  step "exec returns the exit code" docker exec t-exec sh -c 'echo out; echo err >&2; exit 7'
  input $'piped\n' step "exec -i reads piped stdin" docker exec -i t-exec cat
  step "exec -i with stdin at its end" docker exec -i t-exec cat
  step "exec -t gets a terminal" docker exec -t t-exec sh -c 'tty | cut -c1-9'
  tty_step "exec -it on a terminal gets its size" docker exec -it t-exec sh -c "$terminal_size"
  tty_step "exec -it: exit code" docker exec -it t-exec sh -c "$terminal_size >/dev/null; exit 9"
  tty_step "exec -t on a terminal gets its size" docker exec -t t-exec sh -c "$terminal_size"
  step "exec of a missing binary" docker exec t-exec /nonexistent
  step "exec -t of a missing binary" docker exec -t t-exec /nonexistent
  step "exec of a missing binary on PATH" docker exec t-exec no-such-command
  step "exec of a non-executable file" docker exec t-exec /etc/passwd
  step "exec -t of a non-executable file" docker exec -t t-exec /etc/passwd
  step "exec of a directory" docker exec t-exec /etc
  step "exec with a bad user" docker exec -u no-such-user t-exec id
  step "exec -t with a bad user" docker exec -t -u no-such-user t-exec id
  step "exec with a numeric user" docker exec -u 4242 t-exec id
  step "exec with a missing workdir" docker exec -w /no/such/dir t-exec pwd
  step "exec with a workdir that is a file" docker exec -w /etc/passwd t-exec pwd
  step "exec -t with a workdir that is a file" docker exec -t -w /etc/passwd t-exec pwd
  step "exec with env" docker exec -e FOO=bar t-exec sh -c 'echo $FOO'
  step "exec -d" docker exec -d t-exec sh -c 'echo detached > /tmp/detached'
  await t-exec '{{len .ExecIDs}}' 0
  step "exec -d wrote its file" docker exec t-exec cat /tmp/detached
  step "exec -d of a missing binary" docker exec -d t-exec /nonexistent
  step "exec -d of a non-executable file" docker exec -d t-exec /etc/passwd
  step "exec of a process that kills itself" docker exec t-exec sh -c 'kill -9 $$'
  step "exec leaving a background child without its output" docker exec t-exec sh -c 'sleep 60 >/dev/null 2>&1 </dev/null &'
  # The child holds the exec's stdout: stock dockerd ends the exec within ~2 s of its exit.
  sh_step "exec leaving a background child that holds its output returns within 5 s" \
    'start=$SECONDS; docker exec t-exec sh -c "sleep 61 & echo started"; rc=$?; [ $((SECONDS - start)) -lt 5 ] && echo "returned in time"; exit $rc'
  step "exec into a missing container" docker exec t-no-such-container true

  # --- top, stats ----------------------------------------------------------------------------------
  norm top step "top" docker top t-exec
  norm top step "top -o with ps args" docker top t-exec -o pid,comm
  step "top with a bad ps option" docker top t-exec --no-such-option
  step "top with a bad ps field" docker top t-exec -o no-such-field
  step "top of a missing container" docker top t-no-such-container
  step "stats of a running container" docker stats --no-stream --format '{{.Name}} {{.PIDs}}' t-exec
  norm numbers step "stats default table" docker stats --no-stream t-exec
  step "stats of a missing container" docker stats --no-stream t-no-such-container

  # --- pause, unpause, commit ------------------------------------------------------------------------
  step "pause" docker pause t-exec
  step "pause twice" docker pause t-exec
  step "paused state" docker inspect -f '{{.State.Status}} {{.State.Paused}}' t-exec
  step "exec into a paused container" docker exec t-exec echo hi
  step "exec -t into a paused container" docker exec -t t-exec echo hi
  input x step "exec -i into a paused container" docker exec -i t-exec cat
  tty_step "exec -it into a paused container" docker exec -it t-exec echo hi
  norm top step "top of a paused container" docker top t-exec
  step "stats of a paused container" docker stats --no-stream --format '{{.Name}} {{.PIDs}}' t-exec
  step "attach to a paused container" docker attach t-exec
  step "update of a paused container" docker update --cpu-shares 512 t-exec
  step "unpause" docker unpause t-exec
  step "unpause twice" docker unpause t-exec
  step "unpaused state" docker inspect -f '{{.State.Status}} {{.State.Paused}}' t-exec
  step "pause again" docker pause t-exec
  step "kill -s HUP to a paused container (dockerd resumes it)" docker kill -s HUP t-exec
  step "state after the kill" docker inspect -f '{{.State.Status}} {{.State.Paused}}' t-exec
  step "commit pauses the container" docker commit t-exec lcd-e2e-committed:1
  step "commit --pause=false" docker commit --pause=false t-exec lcd-e2e-committed:1
  step "still running after the commits" docker inspect -f '{{.State.Status}} {{.State.Paused}}' t-exec
  step "pause of a missing container" docker pause t-no-such-container
  step "unpause of a missing container" docker unpause t-no-such-container

  # --- update ------------------------------------------------------------------------------------------
  step "update --memory" docker update --memory 64m --memory-swap 64m t-exec
  step "the memory limit reached the cgroup" docker exec t-exec cat /sys/fs/cgroup/memory/memory.limit_in_bytes
  step "update with a too small memory limit" docker update --memory 1k t-exec
  step "update with swap below memory" docker update --memory 32m --memory-swap 16m t-exec
  step "update with too many CPUs" docker update --cpus 999 t-exec
  step "update with a missing CPU" docker update --cpuset-cpus 99 t-exec
  step "update with a bad cpuset" docker update --cpuset-cpus x t-exec
  step "update with a blkio weight out of range" docker update --blkio-weight 5 t-exec
  step "update --pids-limit" docker update --pids-limit 50 t-exec
  step "the pids limit reached the cgroup" docker exec t-exec cat /sys/fs/cgroup/pids/pids.max
  step "update --cpu-shares" docker update --cpu-shares 256 t-exec
  step "update --cpuset-cpus 0" docker update --cpuset-cpus 0 t-exec
  step "update --restart" docker update --restart on-failure:3 t-exec
  step "update of a missing container" docker update --memory 64m t-no-such-container
  step "update with nothing to update" docker update t-exec
  step "the resources in inspect" docker inspect -f '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.PidsLimit}} {{.HostConfig.RestartPolicy.Name}}' t-exec

  # --- kill --------------------------------------------------------------------------------------------
  step "kill with a bad signal name" docker kill -s SIGNOPE t-exec
  step "kill with a signal number out of range" docker kill -s 99 t-exec
  step "kill with signal 0" docker kill -s 0 t-exec
  step "kill with a negative signal" docker kill -s -1 t-exec
  step "kill -s HUP (ignored by pid 1)" docker kill -s HUP t-exec
  step "kill -s USR1 (ignored by pid 1)" docker kill -s USR1 t-exec
  step "kill -s 64" docker kill -s 64 t-exec
  step "still running after ignored signals" docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' t-exec
  step "kill of a missing container" docker kill t-no-such-container
  step "kill -s TERM (handled)" docker kill -s TERM t-exec
  step "wait after a handled TERM" docker wait t-exec
  step "kill of a stopped container" docker kill t-exec
  step "kill -s HUP of a stopped container" docker kill -s HUP t-exec

  # --- a stopped container ---------------------------------------------------------------------------
  step "exec into a stopped container" docker exec t-exec echo hi
  step "exec -t into a stopped container" docker exec -t t-exec echo hi
  input x step "exec -i into a stopped container" docker exec -i t-exec cat
  tty_step "exec -it into a stopped container" docker exec -it t-exec echo hi
  step "top of a stopped container" docker top t-exec
  step "stats of a stopped container" docker stats --no-stream --format '{{.Name}} {{.PIDs}} {{.MemUsage}} {{.CPUPerc}}' t-exec
  step "pause of a stopped container" docker pause t-exec
  step "unpause of a stopped container" docker unpause t-exec
  step "update of a stopped container" docker update --memory 32m --memory-swap 32m t-exec
  step "attach to a stopped container" docker attach t-exec
  step "stop of a stopped container" docker stop t-exec
  step "wait of a stopped container" docker wait t-exec
  step "start of the stopped container" docker start t-exec
  state t-exec "running 0"

  # --- stop, restart, wait, rm ---------------------------------------------------------------------------
  step "stop delivers SIGTERM" docker stop -t 10 t-exec
  step "its exit code" docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' t-exec
  step "run -d of a process that ignores SIGTERM" docker run -d --name t-stubborn "$i" sleep 1000
  step "stop -t 1 kills it" docker stop -t 1 t-stubborn
  step "its exit code" docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' t-stubborn
  step "restart -t 1 of a stopped container" docker restart -t 1 t-stubborn
  state t-stubborn "running 0"
  step "restart -t 1 of a running container" docker restart -t 1 t-stubborn
  state t-stubborn "running 0"
  step "run -d with an ignored stop signal" docker run -d --name t-stopsignal --stop-signal USR1 "$i" sleep 1000
  step "stop -t 1 kills it" docker stop -t 1 t-stopsignal
  step "its exit code" docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' t-stopsignal
  step "run -d with a bad stop signal" docker run -d --name t-badstopsignal --stop-signal NOPE "$i" sleep 1000
  step "restart of a missing container" docker restart t-no-such-container
  step "stop of a missing container" docker stop t-no-such-container
  step "wait of a missing container" docker wait t-no-such-container
  step "run -d of a container exiting with 5" docker run -d --name t-exits "$i" sh -c 'read x; exit 5'
  step "wait for its exit" docker wait t-exits
  step "run -d paused then rm -f" docker run -d --name t-paused-rm "$i" sleep 1000
  step "pause it" docker pause t-paused-rm
  step "rm of a running container" docker rm t-paused-rm
  step "rm -f of a paused container" docker rm -f t-paused-rm
  step "rm -f of a missing container" docker rm -f t-no-such-container
  step "run -d then restart a paused container" docker run -d --name t-paused-restart "$i" sleep 1000
  step "pause it" docker pause t-paused-restart
  step "restart -t 1 of a paused container" docker restart -t 1 t-paused-restart
  state t-paused-restart "running 0"
  step "pause it again" docker pause t-paused-restart
  step "stop -t 1 of a paused container" docker stop -t 1 t-paused-restart
  step "its state" docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.State.Paused}}' t-paused-restart
  step "rm -f of a running container" docker rm -f t-stubborn
  step "rm of stopped containers" docker rm t-exec t-exits t-paused-restart t-stopsignal

  # --- attach and detach keys -----------------------------------------------------------------------------
  step "run -dit" docker run -dit --name t-attach "$i" sh
  state t-attach "running 0"
  norm shell tty_step "attach, type, detach with ctrl-p ctrl-q" \
    --type-after '' 'echo mark$((40+2))\r' --type-after 'mark42' '\x10\x11' docker attach t-attach
  step "still running after the detach" docker inspect -f '{{.State.Status}}' t-attach
  norm shell tty_step "attach with --detach-keys ctrl-x,x" \
    --type-after '' 'echo mark$((40+3))\r' --type-after 'mark43' '\x18x' docker attach --detach-keys ctrl-x,x t-attach
  # Not here: detaching from `exec -it`. Whether dockerd then kills the exec races in stock
  # dockerd itself (the request's context against the attach's end, moby's exec.go).
  norm shell tty_step "attach, then the shell exits" \
    --type-after '' 'echo mark$((40+5))\r' --type-after 'mark45' 'exit 4\r' docker attach t-attach
  state t-attach "exited 4"
  # Typed once the shell's prompt shows: keys typed before the new shell sets up its line
  # editing are echoed by the terminal in part, as early or late as the start happens to be.
  norm shell tty_step "start -ai with a terminal, detach" \
    --type-after '# ' 'echo mark$((40+6))\r' --type-after 'mark46' '\x10\x11' docker start -ai t-attach
  step "running again" docker inspect -f '{{.State.Status}}' t-attach
  step "attach to a missing container" docker attach t-no-such-container
  # stdin stays open for 1 s after the line: when an attach's stdin ends, moby closes that
  # attach's stdout and stderr (container/stream/attach.go, unless the container was started with
  # stdin-once), so output written after the end is lost in both builds, and with the input
  # closed at once "got hello" raced that close (missing from stock's or lcd's transcript, one
  # run in two for dockerd v24 on containerd 2). The pause before the exit keeps the container
  # running until then.
  step "run -di without a terminal" docker run -di --name t-attach-i "$i" sh -c 'read line; echo "got $line"; sleep 3; exit 3'
  state t-attach-i "running 0"
  sh_step "attach with piped input, kept open for 1 s" "(printf 'hello\\n'; sleep 1) | docker attach t-attach-i"
  state t-attach-i "exited 3"
  step "logs of the attached container" docker logs t-attach-i
  step "rm -f the attached containers" docker rm -f t-attach t-attach-i

  # --- health checks -------------------------------------------------------------------------------------------
  # The timed-out probe's exec_die says 137 or 127, by a race inside dockerd (the normalizer
  # hides which, tests/dockerd_transcript.py); the probe's result below does not race.
  step "run -d with a health check that times out" docker run -d --name t-health-timeout \
    --health-cmd 'sleep 30' --health-timeout 2s --health-interval 4s --health-retries 1 "$i" sleep 1000
  await t-health-timeout '{{.State.Health.Status}}' unhealthy
  step "the probe's result" docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}{{end}}' t-health-timeout
  sh_step "exec right after a timed-out probe returns within 10 s" \
    'start=$SECONDS; docker exec t-health-timeout echo after the probe; rc=$?; [ $((SECONDS - start)) -lt 10 ] && echo "returned in time"; exit $rc'
  step "rm -f" docker rm -f t-health-timeout
  step "run -d with a health check of a missing binary" docker run -d --name t-health-missing \
    --health-cmd '/nonexistent' --health-interval 3s --health-retries 1 "$i" sleep 1000
  await t-health-missing '{{.State.Health.Status}}' unhealthy
  step "the probe's result" docker inspect -f '{{with index .State.Health.Log 0}}{{.ExitCode}} {{.Output}}{{end}}' t-health-missing
  step "rm -f" docker rm -f t-health-missing
  step "run -d with a passing health check" docker run -d --name t-health-ok \
    --health-cmd 'true' --health-interval 3s "$i" sleep 1000
  await t-health-ok '{{.State.Health.Status}}' healthy
  step "rm -f" docker rm -f t-health-ok

  # --- restart policies with failing commands ------------------------------------------------------------
  step "run -d --restart on-failure:2 of a failing command" docker run -d --name t-retry --restart on-failure:2 "$i" sh -c 'exit 4'
  await t-retry '{{.RestartCount}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}}' "2 false false 4"
  step "its logs" docker logs t-retry
  step "run --restart on-failure:2 of a missing binary" docker run --name t-retry-missing --restart on-failure:2 "$i" /nonexistent
  step "its state" docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' t-retry-missing
  step "run -d --restart always of a non-executable file" docker run -d --name t-retry-noexec --restart always "$i" /etc/passwd
  step "its state" docker inspect -f '{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}' t-retry-noexec
  step "run -d --restart on-failure:1 killed by OOM" docker run -d --name t-retry-killed --restart on-failure:1 \
    -m 16m --memory-swap 16m "$i" sh -c 'tail /dev/zero'
  await t-retry-killed '{{.RestartCount}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}} {{.State.OOMKilled}}' "1 false false 137 true"
  step "rm -f the restart policy containers" docker rm -f t-retry t-retry-missing t-retry-noexec t-retry-killed

  # --- OOM -----------------------------------------------------------------------------------------------------
  step "run over its memory limit" docker run --name t-oom -m 16m --memory-swap 16m "$i" sh -c 'tail /dev/zero'
  step "OOMKilled" docker inspect -f '{{.State.OOMKilled}} {{.State.ExitCode}}' t-oom
  step "rm" docker rm t-oom

  # --- checkpoint (CRIU cannot dump on this kernel: both must fail the same way) ------------------------------
  step "run -d for checkpoints" docker run -d --name t-ckpt "$i" sh -c "$forever"
  state t-ckpt "running 0"
  step "checkpoint create --leave-running" docker checkpoint create --leave-running t-ckpt c1
  step "running after the failed checkpoint" docker inspect -f '{{.State.Status}} {{.State.Paused}}' t-ckpt
  step "checkpoint create (with exit)" docker checkpoint create t-ckpt c2
  step "running after the failed checkpoint with exit" docker inspect -f '{{.State.Status}} {{.State.Paused}}' t-ckpt
  step "pause" docker pause t-ckpt
  step "checkpoint create of a paused container" docker checkpoint create --leave-running t-ckpt c3
  step "still paused" docker inspect -f '{{.State.Status}} {{.State.Paused}}' t-ckpt
  step "unpause" docker unpause t-ckpt
  step "checkpoint ls" docker checkpoint ls t-ckpt
  step "checkpoint rm of a missing checkpoint" docker checkpoint rm t-ckpt c1
  step "stop" docker stop t-ckpt
  step "checkpoint create of a stopped container" docker checkpoint create t-ckpt c4
  step "start --checkpoint of a missing checkpoint" docker start --checkpoint c1 t-ckpt
  step "its state" docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' t-ckpt
  step "rm" docker rm -f t-ckpt

  # --- last: the failures with an open stdin, which crashed dockerd-lcd (issue 19, item 1) -------------------
  step "run -d for the stdin failures" docker run -d --name t-last "$i" sh -c "$forever"
  state t-last "running 0"
  sh_step "run -i of a missing binary with a slow stdin" "sleep 3 | docker run -i --rm --name t-last-run-i $i /nonexistent"
  sh_step "run -i of a non-executable file with a slow stdin" "sleep 3 | docker run -i --rm --name t-last-run-i-noexec $i /etc/passwd"
  tty_step "run -it of a missing binary on a terminal" docker run -it --rm --name t-last-run-it "$i" /nonexistent
  sh_step "exec -i of a missing binary with a slow stdin" "sleep 3 | docker exec -i t-last /nonexistent"
  sh_step "exec -i of a non-executable file with a slow stdin" "sleep 3 | docker exec -i t-last /etc/passwd"
  tty_step "exec -it of a missing binary on a terminal" docker exec -it t-last /nonexistent
  step "exec -i of a bad user with stdin at its end" docker exec -i -u no-such-user t-last id
  step "the container still runs" docker inspect -f '{{.State.Status}}' t-last
  step "rm -f" docker rm -f t-last
}
