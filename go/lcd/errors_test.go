package lcd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

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
