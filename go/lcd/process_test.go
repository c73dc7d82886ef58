package lcd

import (
	"context"
	"encoding/json"
	"os"
	"testing"
)

func TestExecStdinCloseAndTaskOperations(t *testing.T) {
	ctx := context.Background()
	c := connect(t, "exec")
	ctr, task := sleepingTask(t, c, "host")
	procSpec, _ := json.Marshal(map[string]any{"args": []string{"cat"}, "cwd": "/", "env": []string{"PATH=/bin"}, "user": map[string]int{"uid": 0, "gid": 0}})
	proc, err := task.Exec(ctx, "cat", procSpec, true)
	if err != nil {
		t.Fatal(err)
	}
	out := readAll(proc.Stdio().Stdout)
	go readAll(proc.Stdio().Stderr)
	if err := proc.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(proc.Stdio().Stdin, []byte("via go\n"), 0); err != nil {
		t.Fatal(err)
	}
	if err := proc.CloseStdin(ctx); err != nil {
		t.Fatal(err)
	}
	if exit, err := proc.Wait(ctx); err != nil || exit.Code != 0 {
		t.Fatalf("exec wait %+v %v", exit, err)
	}
	if got := <-out; got != "via go\n" {
		t.Fatalf("exec output %q", got)
	}
	execPid := proc.Pid()
	if _, err := proc.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	checkRetiredAfterDelete(t, c, proc.h.afterDelete() != nil, execPid, proc.Pid, proc.Exited, proc.Wait,
		func() error { return proc.Kill(ctx, 9) }, "process does not exist cat: not found")
	if err := task.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if st, err := task.Status(ctx); err != nil || st.State != StatePaused || st.State.String() != "paused" {
		t.Fatalf("status %+v %v", st, err)
	}
	if err := task.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	pids, err := task.Pids(ctx)
	if err != nil || len(pids) == 0 || pids[0].Pid == 0 {
		t.Fatalf("pids %+v %v", pids, err)
	}
	stats, err := task.Stats(ctx)
	if err != nil || len(stats.Payload) == 0 || stats.Figures.PidsCurrent == 0 {
		t.Fatalf("stats %+v %v", stats.Figures, err)
	}
	if exit, err := task.ForceDelete(ctx); err != nil || exit.Code != 137 {
		t.Fatalf("force delete %+v %v", exit, err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}
