package mobytest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Held is a caller that keeps the stdin writer open until the scenario closes it, the way
// dockerd's stdin copier does while `docker run -i` waits for its input.
type Held struct {
	stdin io.WriteCloser
}

// Attach drains the output and keeps the stdin writer.
func (h *Held) Attach(stdout, stderr io.Reader, stdin io.WriteCloser) {
	for _, r := range []io.Reader{stdout, stderr} {
		if r != nil {
			go func(r io.Reader) { _, _ = io.Copy(io.Discard, r) }(r)
		}
	}
	h.stdin = stdin
}

// Wait does not wait: nothing is copied that the scenario reads.
func (h *Held) Wait() {}

// CloseStdin closes the stdin writer as dockerd's copier does when the client's input ends.
func (h *Held) CloseStdin() error {
	if h.stdin == nil {
		return fmt.Errorf("no stdin was attached")
	}
	return h.stdin.Close()
}

var pidsInText = regexp.MustCompile(`\b(pid|process) [0-9]+\b`)

// Seen is one failure as dockerd sees it: its classes and its text, with the namespace and
// pids normalized.
func Seen(c Client, ns string, err error) string {
	if err == nil {
		return "ok"
	}
	text := strings.ReplaceAll(err.Error(), ns, "NS")
	text = pidsInText.ReplaceAllString(text, "$1 N")
	return c.FullClass(err) + " " + text
}

// Failures are the errors of the failure scenarios through one client, by scenario.
type Failures struct {
	Client    Client
	Namespace string
	Errors    map[string]error
}

// FailureScenarios makes every failure dockerd can meet through the client: task creates and
// execs that fail (stdin held open and closed after the failure), a process deleted and then
// its stdin closed, cancelled contexts, a duplicate id, deletes refused while the process
// lives, calls on a stopped and on a deleted task.
func FailureScenarios(t *testing.T, name string, newClient NewClientFunc) Failures {
	ctx := context.Background()
	_, rootfs := TestBed(t)
	ns := fmt.Sprintf("lcdfail-%s-%d", name, os.Getpid())
	events := NewRecorder()
	c := newClient(t, ns, filepath.Join(os.TempDir(), "lcd-diff-state", ns), events)
	got := map[string]error{}
	newContainer := func(id string, spec *specs.Spec) Container {
		t.Helper()
		ctr, err := c.NewContainer(ctx, id, spec)
		if err != nil {
			t.Fatal(err)
		}
		return ctr
	}

	// Task create failures, with stdin held open and closed after the failure (`docker run -i`).
	for _, s := range []struct {
		id   string
		spec func(*specs.Spec)
	}{
		{"missing-binary", func(s *specs.Spec) { s.Process.Args = []string{"/nonexistent"} }},
		{"not-executable", func(s *specs.Spec) { s.Process.Args = []string{"/etc/passwd"} }},
		{"bad-workdir", func(s *specs.Spec) { s.Process.Cwd = "/nonexistent-dir" }},
		{"bad-user", func(s *specs.Spec) {
			s.Process.User = specs.User{UID: 4242, GID: 4242}
			s.Process.Args = []string{"/bin/ls", "/root"}
		}},
		{"tty-missing-binary", func(s *specs.Spec) { s.Process.Args = []string{"/nonexistent"}; s.Process.Terminal = true }},
	} {
		spec := OCISpec(rootfs, s.id, "true")
		s.spec(spec)
		ctr := newContainer(s.id, spec)
		held := &Held{}
		tk, err := ctr.StartTask(ctx, true, held)
		got["start "+s.id] = err
		got["close stdin after start "+s.id] = held.CloseStdin()
		if err == nil {
			events.WaitFor(t, s.id, "exit", s.id)
			_, err = tk.Delete(ctx)
			got["delete task "+s.id] = err
		}
		got["delete container "+s.id] = ctr.Delete(ctx)
	}

	// Exec failures into a running task, with stdin held open and closed after the failure.
	ctr := newContainer("running", OCISpec(rootfs, "running", "sleep", "1000"))
	task, err := ctr.StartTask(ctx, false, &Capture{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct {
		id      string
		process specs.Process
	}{
		{"exec-missing-binary", specs.Process{Args: []string{"/nonexistent"}, Cwd: "/"}},
		{"exec-not-executable", specs.Process{Args: []string{"/etc/passwd"}, Cwd: "/"}},
		{"exec-bad-workdir", specs.Process{Args: []string{"true"}, Cwd: "/nonexistent-dir", Env: []string{"PATH=/bin"}}},
		{"exec-tty-missing-binary", specs.Process{Args: []string{"/nonexistent"}, Cwd: "/", Terminal: true}},
	} {
		s.process.Env = append(s.process.Env, "PATH=/bin")
		held := &Held{}
		p, err := task.Exec(ctx, s.id, &s.process, true, held)
		got["exec "+s.id] = err
		got["close stdin after exec "+s.id] = held.CloseStdin()
		if err == nil {
			_, _ = p.Delete(ctx)
		}
	}

	// A process deleted, then its stdin closed (dockerd's copier ends after the exit).
	held := &Held{}
	p, err := task.Exec(ctx, "exec-deleted", &specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}}, true, held)
	if err != nil {
		t.Fatal(err)
	}
	events.WaitFor(t, "running", "exit", "exec-deleted")
	_, err = p.Delete(ctx)
	got["delete exited exec"] = err
	got["close stdin after exec delete"] = held.CloseStdin()
	got["kill deleted exec"] = p.Kill(ctx, syscall.SIGKILL)
	_, err = p.Delete(ctx)
	got["delete deleted exec"] = err

	// A cancelled context and an expired deadline.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	got["kill with cancelled context"] = task.Kill(cancelled, syscall.SIGCONT)
	_, err = task.Status(cancelled)
	got["status with cancelled context"] = err
	got["load with cancelled context"] = c.LoadContainer(cancelled, "running")
	expired, cancelExpired := context.WithTimeout(ctx, time.Nanosecond)
	defer cancelExpired()
	<-expired.Done()
	got["kill with expired deadline"] = task.Kill(expired, syscall.SIGCONT)

	_, err = c.NewContainer(ctx, "running", OCISpec(rootfs, "running", "true"))
	got["duplicate container id"] = err

	// Deletes refused while the process lives, in containerd's client's words.
	_, err = task.Delete(ctx)
	got["delete running task"] = err
	live, err := task.Exec(ctx, "exec-live", &specs.Process{Args: []string{"sleep", "1000"}, Cwd: "/", Env: []string{"PATH=/bin"}}, false, &Capture{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = live.Delete(ctx)
	got["delete running exec"] = err
	if err := live.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	events.WaitFor(t, "running", "exit", "exec-live")
	_, err = live.Delete(ctx)
	got["delete killed exec"] = err

	// A stopped task (exited, not deleted): exec into it, kill it, close its stdin.
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	events.WaitFor(t, "running", "exit", "running")
	_, err = task.Exec(ctx, "exec-stopped", &specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}}, false, &Capture{})
	got["exec into stopped task"] = err
	got["kill stopped task"] = task.Kill(ctx, syscall.SIGKILL)
	got["pause stopped task"] = task.Pause(ctx)
	got["stats of stopped task"] = task.Stats(ctx)
	_, err = task.Delete(ctx)
	got["delete stopped task"] = err

	// The deleted task.
	got["kill deleted task"] = task.Kill(ctx, syscall.SIGKILL)
	_, err = task.Status(ctx)
	got["status of deleted task"] = err
	got["stats of deleted task"] = task.Stats(ctx)
	_, err = task.Delete(ctx)
	got["delete deleted task"] = err
	got["force delete deleted task"] = task.ForceDelete(ctx)
	_, err = task.Exec(ctx, "exec-deleted-task", &specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}}, false, &Capture{})
	got["exec into deleted task"] = err
	_, err = ctr.Task(ctx)
	got["task of container without one"] = err
	got["attach to task of container without one"] = ctr.AttachTask(ctx, &Capture{})
	got["delete container"] = ctr.Delete(ctx)
	got["delete deleted container"] = ctr.Delete(ctx)
	got["load deleted container"] = c.LoadContainer(ctx, "running")
	return Failures{Client: c, Namespace: ns, Errors: got}
}

// CompareFailures runs the failure scenarios through moby's remote client and through the
// adapter: each failure must read the same (classes and normalized text).
func CompareFailures(t *testing.T, moby, ours NewClientFunc) (mobyFailures, ourFailures Failures) {
	m := FailureScenarios(t, "moby", moby)
	o := FailureScenarios(t, "ours", ours)
	var keys []string
	for k := range m.Errors {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ms, os := Seen(m.Client, m.Namespace, m.Errors[k]), Seen(o.Client, o.Namespace, o.Errors[k])
		if ms != os {
			t.Errorf("%s:\n  moby: %s\n  ours: %s", k, ms, os)
		} else {
			t.Logf("%s: %s", k, ms)
		}
	}
	return m, o
}

// ClassNames names the classes among checks that err has, sorted: "[A B]"; "ok" for nil.
func ClassNames(err error, checks map[string]func(error) bool) string {
	if err == nil {
		return "ok"
	}
	var classes []string
	for name, is := range checks {
		if is(err) {
			classes = append(classes, name)
		}
	}
	sort.Strings(classes)
	return "[" + strings.Join(classes, " ") + "]"
}
