package lcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lcd-ffi/libcontainerd-ffi/go/internal/busybox"
)

// The test bed (tests/testbed.sh) names the private containerd and the busybox root
// filesystem; `make test-go` runs these tests inside it.
func testbed(t *testing.T) (socket, rootfs string) {
	socket, rootfs = os.Getenv("LCD_CONTAINERD_SOCKET"), os.Getenv("LCD_TEST_ROOTFS")
	if socket == "" || rootfs == "" {
		t.Fatal("LCD_CONTAINERD_SOCKET and LCD_TEST_ROOTFS must name the test bed: run `make test-go`")
	}
	return socket, rootfs
}

func connect(t *testing.T, name string) *Client {
	socket, _ := testbed(t)
	ns := fmt.Sprintf("lcdgo-%s-%d", name, os.Getpid())
	c, err := Connect(context.Background(), socket, ns, filepath.Join(os.TempDir(), "lcd-go-state", ns))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// spec is the busybox spec of every test (tests/fixtures/busybox_spec.json) running args.
func spec(t *testing.T, id string, args []string, terminal bool) []byte {
	_, rootfs := testbed(t)
	b, err := json.Marshal(busybox.Spec(rootfs, args, terminal, id, "/lcd-test/go-"+id))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func create(t *testing.T, c *Client, id string, args ...string) *Container {
	ctr, err := c.CreateContainer(context.Background(), id, ContainerConfig{
		SpecJSON: spec(t, id, args, false), Runtime: "io.containerd.runc.v2", Labels: map[string]string{"test": "go"},
	})
	if err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return ctr
}

// sleepingTask creates container id running `sleep 1000` and starts its task.
func sleepingTask(t *testing.T, c *Client, id string) (*Container, *Task) {
	ctr := create(t, c, id, "sleep", "1000")
	task, err := ctr.NewTask(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ctr, task
}

func readAll(path string) chan string {
	out := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(path)
		out <- string(b)
	}()
	return out
}

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

func TestErrorsCarryStatusAndContainerdText(t *testing.T) {
	ctx := context.Background()
	c := connect(t, "errors")
	_, err := c.LoadContainer(ctx, "missing")
	if StatusOf(err) != NotFound || !errors.Is(err, &Error{Status: NotFound}) || !strings.Contains(err.Error(), "no such container") {
		t.Fatalf("load missing: %v", err)
	}
	var le *Error
	if _, err := c.CreateContainer(ctx, "../x", ContainerConfig{SpecJSON: []byte("{}"), Runtime: "r"}); StatusOf(err) != InvalidArgument || !errors.As(err, &le) || le.FromServer {
		t.Fatalf("bad id: %v (a local error has no server text: %+v)", err, le)
	}
	ctr := create(t, c, "dup", "true")
	defer ctr.Delete(ctx)
	// A containerd reply's error keeps the server's own text apart (containerd 2's client
	// shows it as it is); the message is that text with the class, as containerd 1.x's.
	if _, err := c.CreateContainer(ctx, "dup", ContainerConfig{SpecJSON: spec(t, "dup", []string{"true"}, false), Runtime: "io.containerd.runc.v2"}); StatusOf(err) != AlreadyExists {
		t.Fatalf("duplicate: %v", err)
	}
	_, err = ctr.Task(ctx, false)
	if StatusOf(err) != NotFound || !errors.As(err, &le) || !le.FromServer ||
		!strings.HasPrefix(le.ServerMessage, "no running task found: ") || !strings.HasPrefix(le.Message, le.ServerMessage) ||
		!strings.HasSuffix(le.Message, "not found") {
		t.Fatalf("task of a container without one: %v, server text %q", err, le.ServerMessage)
	}
}

// A wrapper used after Close answers FailedPrecondition (IsClosed), never a panic: dockerd's
// goroutines (its stdin copier) may outlive the object they call.
func TestUseAfterCloseIsAnErrorNeverAPanic(t *testing.T) {
	ctx := context.Background()
	c := connect(t, "closed")
	ctr, task := sleepingTask(t, c, "closed")
	defer func() {
		if _, err := ctr.Task(ctx, false); err == nil {
			t2, _ := ctr.Task(ctx, false)
			_, _ = t2.ForceDelete(ctx)
		}
		_ = ctr.Delete(ctx)
	}()
	proc, err := task.PrepareExec("closed-exec", []byte(`{"args":["true"],"cwd":"/","env":["PATH=/bin"]}`), true)
	if err != nil {
		t.Fatal(err)
	}
	proc.Close()
	task.Close()
	spare, err := c.LoadContainer(ctx, "closed")
	if err != nil {
		t.Fatal(err)
	}
	spare.Close()
	closedClient, err := Connect(ctx, os.Getenv("LCD_CONTAINERD_SOCKET"), "lcdgo-closed-client", filepath.Join(os.TempDir(), "lcd-go-state", "closed-client"))
	if err != nil {
		t.Fatal(err)
	}
	closedClient.Close()
	calls := map[string]func() error{
		"Task.CloseStdin":       func() error { return task.CloseStdin(ctx) },
		"Task.Kill":             func() error { return task.Kill(ctx, 0) },
		"Task.Start":            func() error { return task.Start(ctx) },
		"Task.Delete":           func() error { _, err := task.Delete(ctx); return err },
		"Task.Wait":             func() error { _, err := task.Wait(ctx); return err },
		"Task.Status":           func() error { _, err := task.Status(ctx); return err },
		"Process.CloseStdin":    func() error { return proc.CloseStdin(ctx) },
		"Process.Start":         func() error { return proc.Start(ctx) },
		"Process.Kill":          func() error { return proc.Kill(ctx, 0) },
		"Process.Resize":        func() error { return proc.Resize(ctx, 80, 24) },
		"Container.Task":        func() error { _, err := spare.Task(ctx, false); return err },
		"Container.PrepareTask": func() error { _, err := spare.PrepareTask(false); return err },
		"Client.Version":        func() error { _, _, err := closedClient.Version(ctx); return err },
		"Client.LoadContainer":  func() error { _, err := closedClient.LoadContainer(ctx, "closed"); return err },
	}
	for name, call := range calls {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("%s after Close panicked: %v", name, p)
				}
			}()
			if err := call(); !IsClosed(err) || StatusOf(err) != FailedPrecondition {
				t.Errorf("%s after Close: %v, want a FailedPrecondition IsClosed error", name, err)
			}
		}()
	}
	if pid := task.Pid(); pid != 0 {
		t.Errorf("Pid of a closed task: %d", pid)
	}
	if _, exited := proc.Exited(); exited {
		t.Error("a closed process that was never started reports an exit")
	}
}

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

func TestContextCancellationAndDeadlineEndBlockingCalls(t *testing.T) {
	c := connect(t, "cancel")
	events, err := c.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	if _, err := events.Next(ctx); StatusOf(err) != Cancelled {
		t.Fatalf("cancelled next: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("cancellation was not prompt")
	}
	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	if _, err := events.Next(dctx); StatusOf(err) != DeadlineExceeded {
		t.Fatalf("deadline next: %v", err)
	}
	done, dc := context.WithCancel(context.Background())
	dc()
	if _, _, err := c.Version(done); StatusOf(err) != Cancelled {
		t.Fatalf("already cancelled: %v", err)
	}

	// The stream still delivers after cancelled waits (the poller's deadline is cleared).
	ctr := create(t, c, "after-cancel", "true")
	task, err := ctr.NewTask(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := events.Next(context.Background()); err != nil || ev.Kind != EventCreate || ev.ContainerID != "after-cancel" {
		t.Fatalf("event after cancelled waits: %+v, %v", ev, err)
	}
	if _, err := task.Delete(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := ctr.Delete(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Close wakes a caller waiting in Next.
	waiting := make(chan error, 1)
	go func() {
		for {
			if _, err := events.Next(context.Background()); err != nil {
				waiting <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	events.Close()
	select {
	case err := <-waiting:
		if StatusOf(err) != Unavailable {
			t.Fatalf("next after close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the waiting Next")
	}
}

func TestLogSinkReceivesLibraryRecords(t *testing.T) {
	var mu sync.Mutex
	var seen []map[string]string
	SetLogSink(func(level LogLevel, target, message string, fields map[string]string) {
		if message == "containerd request" {
			mu.Lock()
			seen = append(seen, fields)
			mu.Unlock()
		}
	}, LogTrace)
	defer SetLogSink(nil, LogError)
	c := connect(t, "logging")
	if _, _, err := c.Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, f := range seen {
		if strings.HasSuffix(f["method"], "Version/Version") {
			return
		}
	}
	t.Fatalf("no Version record among %v", seen)
}

func TestConcurrentLifecyclesFromGoroutines(t *testing.T) {
	ctx := context.Background()
	c := connect(t, "concurrent")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("g%d", i)
			ctr, err := c.CreateContainer(ctx, id, ContainerConfig{SpecJSON: spec(t, id, []string{"true"}, false), Runtime: "io.containerd.runc.v2"})
			if err != nil {
				errs <- err
				return
			}
			defer ctr.Close()
			// Half create the task and then start it, half prepare it and start it in one call.
			var task *Task
			if i%2 == 0 {
				task, err = ctr.NewTask(ctx, false)
			} else {
				task, err = ctr.PrepareTask(false)
			}
			if err != nil {
				errs <- err
				return
			}
			defer task.Close()
			go readAll(task.Stdio().Stdout)
			go readAll(task.Stdio().Stderr)
			if err := task.Start(ctx); err != nil {
				errs <- err
				return
			}
			if _, err := task.Wait(ctx); err != nil {
				errs <- err
				return
			}
			if _, err := task.Delete(ctx); err != nil {
				errs <- err
				return
			}
			if err := ctr.Delete(ctx); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// openDescriptors counts the process's open file descriptors.
func openDescriptors(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestAsyncCallsReuseTheirNotifiersAndMakeNoDescriptorEach(t *testing.T) {
	c := connect(t, "notifier")
	ctx := context.Background()
	ctr, task := sleepingTask(t, c, "notifier")
	if _, err := task.Status(ctx); err != nil {
		t.Fatal(err)
	}
	before := openDescriptors(t)
	for i := 0; i < 20; i++ {
		if st, err := task.Status(ctx); err != nil || st.State != StateRunning {
			t.Fatalf("status %d: %+v, %v", i, st, err)
		}
	}
	// A call in flight uses the pooled notifier: no pipe, duplicate or socket of its own. A
	// call ended by its context's deadline gives the notifier back too: its byte comes when
	// the library finishes the call as cancelled.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	waited := make(chan error, 1)
	go func() {
		_, err := task.Wait(short)
		waited <- err
	}()
	time.Sleep(100 * time.Millisecond)
	during := openDescriptors(t)
	if err := <-waited; StatusOf(err) != DeadlineExceeded {
		t.Fatalf("wait with a deadline: %v", err)
	}
	// Only more descriptors count against the call: the process may close one of its own
	// meanwhile (a connection of an earlier test's client going away).
	if during > before {
		t.Fatalf("a waiting asynchronous call changed the open descriptors from %d to %d: it should wait on the pooled notifier", before, during)
	}
	if after := openDescriptors(t); after > before {
		t.Fatalf("21 sequential asynchronous calls changed the open descriptors from %d to %d: each should reuse the pooled notifier", before, after)
	}
	if err := task.Kill(ctx, 9); err != nil {
		t.Fatal(err)
	}
	if exit, err := task.Wait(ctx); err != nil || exit.Code != 137 {
		t.Fatalf("wait: %+v, %v", exit, err)
	}
	if _, err := task.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// Blocking calls made back to back pass through the scheduler once per yieldEvery, no more
// often: often enough that sysmon never sees the goroutine as running too long, rarely enough
// that the wake-up a yield costs does not add up.
func TestBlockingCallsYieldToTheSchedulerAtMostOncePerInterval(t *testing.T) {
	sinceStart := func() int64 { return int64(time.Since(processStart)) }

	recent := sinceStart()
	lastYield.Store(recent)
	yieldBeforeBlocking()
	if got := lastYield.Load(); got != recent {
		t.Fatalf("yielded %v after the last yield; want no yield within %v", time.Duration(got-recent), yieldEvery)
	}

	overdue := sinceStart() - int64(2*yieldEvery)
	lastYield.Store(overdue)
	before := sinceStart()
	yieldBeforeBlocking()
	if got := lastYield.Load(); got < before {
		t.Fatalf("no yield %v after the last one; want a yield once %v has passed", time.Duration(before-overdue), yieldEvery)
	}
}
