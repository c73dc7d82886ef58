package libcontainerd

// The differential suite's failure paths: each scenario fails the same way through moby
// v24.0.9's remote client and through this adapter, on the same containerd, and what dockerd
// would read of the error (err.Error(), with the namespace and pids normalized, and its error
// class) must be the same. dockerd shows this text to users and matches on it.

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/cio"
	cerrdefs "github.com/containerd/containerd/errdefs"
	"github.com/docker/docker/errdefs"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"google.golang.org/grpc/status"
)

// heldIO is a caller that keeps the stdin writer open until the scenario closes it, the way
// dockerd's stdin copier does while `docker run -i` waits for its input.
type heldIO struct {
	*cio.DirectIO
}

func (h *heldIO) attach(dio *cio.DirectIO) (cio.IO, error) {
	h.DirectIO = dio
	for _, r := range []io.ReadCloser{dio.Stdout, dio.Stderr} {
		if r != nil {
			go func(r io.Reader) { _, _ = io.Copy(io.Discard, r) }(r)
		}
	}
	return h, nil
}

// closeStdin closes the stdin writer as dockerd's copier does when the client's input ends.
func (h *heldIO) closeStdin() error {
	if h.DirectIO == nil || h.Stdin == nil {
		return fmt.Errorf("no stdin was attached")
	}
	return h.Stdin.Close()
}

// fullClass names every class dockerd branches on, moby's and containerd's.
func fullClass(err error) string {
	if err == nil {
		return "ok"
	}
	var classes []string
	for name, is := range map[string]func(error) bool{
		"NotFound": errdefs.IsNotFound, "Conflict": errdefs.IsConflict, "InvalidParameter": errdefs.IsInvalidParameter,
		"Cancelled": errdefs.IsCancelled, "Deadline": errdefs.IsDeadline, "System": errdefs.IsSystem,
		"Unavailable": errdefs.IsUnavailable, "NotImplemented": errdefs.IsNotImplemented,
		"c.NotFound": cerrdefs.IsNotFound, "c.AlreadyExists": cerrdefs.IsAlreadyExists,
		"c.InvalidArgument": cerrdefs.IsInvalidArgument, "c.FailedPrecondition": cerrdefs.IsFailedPrecondition,
		"c.Unavailable": cerrdefs.IsUnavailable, "c.Canceled": cerrdefs.IsCanceled,
		"c.DeadlineExceeded": cerrdefs.IsDeadlineExceeded, "c.NotImplemented": cerrdefs.IsNotImplemented,
	} {
		if is(err) {
			classes = append(classes, name)
		}
	}
	sort.Strings(classes)
	return "[" + strings.Join(classes, " ") + "]"
}

var pidsInText = regexp.MustCompile(`\b(pid|process) [0-9]+\b`)

// seen is one failure as dockerd sees it: class and text, normalized.
func seen(ns string, err error) string {
	if err == nil {
		return "ok"
	}
	text := strings.ReplaceAll(err.Error(), ns, "NS")
	text = pidsInText.ReplaceAllString(text, "$1 N")
	return fullClass(err) + " " + text
}

func failureScenarios(t *testing.T, name string, newClient newClientFunc) (string, map[string]error) {
	ctx := context.Background()
	rootfs := os.Getenv("LCD_TEST_ROOTFS")
	ns := fmt.Sprintf("lcdfail-%s-%d", name, os.Getpid())
	b := newBackend()
	c := newClient(t, ns, b)
	got := map[string]error{}
	newContainer := func(id string, spec *specs.Spec) libcontainerdtypes.Container {
		t.Helper()
		ctr, err := c.NewContainer(ctx, id, spec, "io.containerd.runc.v2", nil)
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
		spec := ociSpec(rootfs, s.id, "true")
		s.spec(spec)
		ctr := newContainer(s.id, spec)
		held := &heldIO{}
		tk, err := ctr.Start(ctx, "", true, held.attach)
		got["start "+s.id] = err
		got["close stdin after start "+s.id] = held.closeStdin()
		if err == nil {
			b.waitFor(t, s.id, libcontainerdtypes.EventExit, s.id)
			_, err = tk.Delete(ctx)
			got["delete task "+s.id] = err
		}
		got["delete container "+s.id] = ctr.Delete(ctx)
	}

	// Exec failures into a running task, with stdin held open and closed after the failure.
	ctr := newContainer("running", ociSpec(rootfs, "running", "sleep", "1000"))
	tk, err := ctr.Start(ctx, "", false, (&capture{}).attach)
	if err != nil {
		t.Fatal(err)
	}
	task := tk.(libcontainerdtypes.Task)
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
		held := &heldIO{}
		p, err := task.Exec(ctx, s.id, &s.process, true, held.attach)
		got["exec "+s.id] = err
		got["close stdin after exec "+s.id] = held.closeStdin()
		if err == nil {
			_, _ = p.Delete(ctx)
		}
	}

	// A process deleted, then its stdin closed (dockerd's copier ends after the exit).
	held := &heldIO{}
	p, err := task.Exec(ctx, "exec-deleted", &specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}}, true, held.attach)
	if err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, "running", libcontainerdtypes.EventExit, "exec-deleted")
	_, err = p.Delete(ctx)
	got["delete exited exec"] = err
	got["close stdin after exec delete"] = held.closeStdin()
	got["kill deleted exec"] = p.Kill(ctx, syscall.SIGKILL)
	_, err = p.Delete(ctx)
	got["delete deleted exec"] = err

	// A cancelled context and an expired deadline.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	got["kill with cancelled context"] = task.Kill(cancelled, syscall.SIGCONT)
	_, err = task.Status(cancelled)
	got["status with cancelled context"] = err
	_, err = c.LoadContainer(cancelled, "running")
	got["load with cancelled context"] = err
	expired, cancelExpired := context.WithTimeout(ctx, time.Nanosecond)
	defer cancelExpired()
	<-expired.Done()
	got["kill with expired deadline"] = task.Kill(expired, syscall.SIGCONT)

	_, err = c.NewContainer(ctx, "running", ociSpec(rootfs, "running", "true"), "io.containerd.runc.v2", nil)
	got["duplicate container id"] = err

	// Deletes refused while the process lives, in containerd's client's words.
	_, err = task.Delete(ctx)
	got["delete running task"] = err
	live, err := task.Exec(ctx, "exec-live", &specs.Process{Args: []string{"sleep", "1000"}, Cwd: "/", Env: []string{"PATH=/bin"}}, false, (&capture{}).attach)
	if err != nil {
		t.Fatal(err)
	}
	_, err = live.Delete(ctx)
	got["delete running exec"] = err
	if err := live.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, "running", libcontainerdtypes.EventExit, "exec-live")
	_, err = live.Delete(ctx)
	got["delete killed exec"] = err

	// A stopped task (exited, not deleted): exec into it, kill it, close its stdin.
	if err := task.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, "running", libcontainerdtypes.EventExit, "running")
	_, err = task.Exec(ctx, "exec-stopped", &specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}}, false, (&capture{}).attach)
	got["exec into stopped task"] = err
	got["kill stopped task"] = task.Kill(ctx, syscall.SIGKILL)
	got["pause stopped task"] = task.Pause(ctx)
	_, err = task.Stats(ctx)
	got["stats of stopped task"] = err
	_, err = task.Delete(ctx)
	got["delete stopped task"] = err

	// The deleted task.
	got["kill deleted task"] = task.Kill(ctx, syscall.SIGKILL)
	_, err = task.Status(ctx)
	got["status of deleted task"] = err
	_, err = task.Stats(ctx)
	got["stats of deleted task"] = err
	_, err = task.Delete(ctx)
	got["delete deleted task"] = err
	got["force delete deleted task"] = task.ForceDelete(ctx)
	_, err = task.Exec(ctx, "exec-deleted-task", &specs.Process{Args: []string{"true"}, Cwd: "/", Env: []string{"PATH=/bin"}}, false, (&capture{}).attach)
	got["exec into deleted task"] = err
	_, err = ctr.Task(ctx)
	got["task of container without one"] = err
	_, err = ctr.AttachTask(ctx, (&capture{}).attach)
	got["attach to task of container without one"] = err
	got["delete container"] = ctr.Delete(ctx)
	got["delete deleted container"] = ctr.Delete(ctx)
	_, err = c.LoadContainer(ctx, "running")
	got["load deleted container"] = err
	return ns, got
}

// dockerdBranches is every place in dockerd v24.0.9 (daemon/, container/, plugin/,
// libcontainerd/) that branches on an error coming from libcontainerd, found by a scan of its
// source for strings.Contains(err.Error(), ...), errdefs.Is*, cerrdefs.Is* and errors.Is, with
// the failure scenarios that reach it and what the branch reads of the error. Our error must
// give the same reading as moby's in each. Not listed, because the error does not come from
// libcontainerd: daemon/attach.go:181 (errors.Is context.Canceled on the stream copy),
// daemon/update.go:87 (IsConflict of GetRunningTask), daemon/delete.go:148 and
// plugin/fetch_linux.go:251 (containerd's leases and content services), daemon/list.go,
// daemon/names.go, daemon/daemon_unix.go:1366/1379 (the container store).
var dockerdBranches = []struct {
	site      string
	scenarios []string
	reads     func(error) string
}{
	{"daemon/errors.go:137 setExitCodeFromError, from daemon/start.go:182,194, start_unix.go:20 and exec.go:291: " +
		"status.Convert(err).Message() searched for EACCES, EISDIR, ENOTDIR and not-found texts (exit codes 126/127/128)",
		[]string{"start missing-binary", "start not-executable", "start tty-missing-binary", "exec exec-missing-binary",
			"exec exec-not-executable", "exec exec-tty-missing-binary", "exec into stopped task", "exec into deleted task"},
		func(err error) string { s := status.Convert(err); return s.Code().String() + " " + s.Message() }},
	{"daemon/kill.go:101 (task.Kill) and kill.go:184 killPossiblyDeadProcess: errdefs.IsNotFound",
		[]string{"kill stopped task", "kill deleted task", "kill deleted exec", "kill with cancelled context", "kill with expired deadline"},
		isNotFound},
	{"daemon/monitor.go:227 (LoadContainer on a start event): errdefs.IsNotFound",
		[]string{"load deleted container", "load with cancelled context"}, isNotFound},
	{"daemon/monitor.go:240 (ctr.Task on a start event): errdefs.IsNotFound",
		[]string{"task of container without one"}, isNotFound},
	{"daemon/daemon.go:352 RestoreTask via container/container.go:772 (AttachTask): !errdefs.IsNotFound",
		[]string{"attach to task of container without one"}, isNotFound},
	{"daemon/daemon.go:369 (tsk.Delete of a dead task at restore): !errdefs.IsNotFound",
		[]string{"delete deleted task", "delete stopped task", "delete running task"}, isNotFound},
	{"daemon/daemon.go:375 shutdownContainer (kill): !errdefs.IsNotFound",
		[]string{"kill deleted task", "kill stopped task"}, isNotFound},
	{"daemon/stats_unix.go:43 (task.Stats): strings.Contains(err.Error(), \"container not found\")",
		[]string{"stats of stopped task", "stats of deleted task"},
		func(err error) string {
			return fmt.Sprint(err != nil && strings.Contains(err.Error(), "container not found"))
		}},
	{"libcontainerd/replace.go:22 (NewContainer): errdefs.IsConflict",
		[]string{"duplicate container id"}, func(err error) string { return fmt.Sprint(errdefs.IsConflict(err)) }},
	{"libcontainerd/replace.go:30 (LoadContainer), :40 (ctr.Task), :50 (ForceDelete), :57 (ctr.Delete): errdefs.IsNotFound",
		[]string{"load deleted container", "task of container without one", "force delete deleted task", "delete deleted container"},
		isNotFound},
	{"plugin/executor/containerd/containerd.go:64 (ForceDelete), :69 (ctr.Delete), :102 (LoadContainer), :109 (AttachTask), " +
		":117 (tsk.Status): errdefs.IsNotFound",
		[]string{"force delete deleted task", "delete deleted container", "load deleted container",
			"attach to task of container without one", "status of deleted task"}, isNotFound},
	{"libcontainerd/remote/client.go:565 closeStdin: strings.Contains(err.Error(), \"transport is closing\") " +
		"(the adapter's stdinCloser keeps it); container/stream logs the rest",
		[]string{"close stdin after exec delete", "close stdin after exec exec-missing-binary", "close stdin after start missing-binary"},
		func(err error) string {
			return fmt.Sprint(err != nil && strings.Contains(err.Error(), "transport is closing"), err)
		}},
}

func isNotFound(err error) string { return fmt.Sprint(errdefs.IsNotFound(err)) }

func TestDifferentialFailurePathsErrorText(t *testing.T) {
	mobyNS, moby := failureScenarios(t, "moby", mobyClient)
	ourNS, ours := failureScenarios(t, "ours", ourClient)
	var keys []string
	for k := range moby {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		m, o := seen(mobyNS, moby[k]), seen(ourNS, ours[k])
		if m != o {
			t.Errorf("%s:\n  moby: %s\n  ours: %s", k, m, o)
		} else {
			t.Logf("%s: %s", k, m)
		}
	}
	for _, b := range dockerdBranches {
		for _, scenario := range b.scenarios {
			mErr, ok := moby[scenario]
			if !ok {
				t.Fatalf("%s: no scenario %q", b.site, scenario)
			}
			m := strings.ReplaceAll(b.reads(mErr), mobyNS, "NS")
			o := strings.ReplaceAll(b.reads(ours[scenario]), ourNS, "NS")
			if m != o {
				t.Errorf("dockerd branch %s\n  scenario %q reads %q with moby's error, %q with ours", b.site, scenario, m, o)
			}
		}
	}
}
