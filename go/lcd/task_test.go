package lcd

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestLifecycleWithOutputEventsAndExit(t *testing.T) {
	ctx := context.Background()
	c := connect(t, "life")
	if v, _, err := c.Version(ctx); err != nil || !isTestBedContainerdVersion(v) {
		t.Fatalf("version %q: %v", v, err)
	}
	events, err := c.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	ctr := create(t, c, "life", "sh", "-c", "echo hello from go; exit 3")
	task, err := ctr.NewTask(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	out := readAll(task.Stdio().Stdout)
	if err := task.Start(ctx); err != nil {
		t.Fatal(err)
	}
	exit, err := task.Wait(ctx)
	if err != nil || exit.Code != 3 || exit.ExitedAt.IsZero() {
		t.Fatalf("wait: %+v %v", exit, err)
	}
	if got := <-out; got != "hello from go\n" {
		t.Fatalf("output %q", got)
	}
	var kinds []EventKind
	for len(kinds) < 3 {
		ev, err := events.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.ContainerID == "life" {
			kinds = append(kinds, ev.Kind)
		}
	}
	if kinds[0] != EventCreate || kinds[1] != EventStart || kinds[2] != EventExit {
		t.Fatalf("events %v", kinds)
	}
	pid := task.Pid()
	if exit, err := task.Delete(ctx); err != nil || exit.Code != 3 {
		t.Fatalf("delete: %+v %v", exit, err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ctr.BundleDir()); !os.IsNotExist(err) {
		t.Fatalf("bundle left: %v", err)
	}
	checkRetiredAfterDelete(t, c, task.h.afterDelete() != nil, pid, task.Pid, task.Exited, task.Wait,
		func() error { return task.Kill(ctx, 9) }, "task life not found: not found")
	checkRetiredAfterDelete(t, c, ctr.h.afterDelete() != nil, 0, func() uint32 { return 0 }, nil, nil,
		func() error { return ctr.Delete(ctx) }, "container \"life\" in namespace \""+c.namespace+"\": not found")
	task.Close()
	ctr.Close()
}

// checkRetiredAfterDelete checks what a handle answers once a successful delete freed it: the
// pid and exit it knew, and NotFound in containerd's words for the object, with no RPC, for
// anything else.
func checkRetiredAfterDelete(t *testing.T, c *Client, retired bool, pid uint32, pidOf func() uint32,
	exited func() (Exit, bool), wait func(context.Context) (Exit, error), call func() error, notFound string) {
	t.Helper()
	if !retired {
		t.Fatalf("%s: the handle is still held after a successful delete", notFound)
	}
	rpcs := c.RPCTotal()
	if got := pidOf(); got != pid {
		t.Fatalf("%s: pid %d after delete, want %d", notFound, got, pid)
	}
	if exited != nil {
		if exit, ok := exited(); !ok || exit.ExitedAt.IsZero() {
			t.Fatalf("%s: exited after delete: %+v %v", notFound, exit, ok)
		}
		if exit, err := wait(context.Background()); err != nil || exit.ExitedAt.IsZero() {
			t.Fatalf("%s: wait after delete: %+v %v", notFound, exit, err)
		}
	}
	if err := call(); StatusOf(err) != NotFound || !strings.Contains(err.Error(), notFound) {
		t.Fatalf("call after delete: %v, want NotFound %q", err, notFound)
	}
	if c.RPCTotal() != rpcs {
		t.Fatalf("%s: calls on a deleted object made %d RPCs", notFound, c.RPCTotal()-rpcs)
	}
}
