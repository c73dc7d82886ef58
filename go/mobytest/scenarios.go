package mobytest

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Client is a moby version's libcontainerd client as the scenarios use it; each version's
// tests implement it over that version's types, for moby's remote client and for the adapter.
type Client interface {
	NewContainer(ctx context.Context, id string, spec *specs.Spec) (Container, error)
	LoadContainer(ctx context.Context, id string) error
	// ErrorClass names the class dockerd sees (moby's and containerd's errdefs of the version).
	ErrorClass(err error) string
	// FullClass names every moby and containerd errdefs class the error has.
	FullClass(err error) string
}

// Stdio is the caller's side of a process's stdio: the version's stdio callback hands it the
// pipes, and the IO it returns waits with Wait.
type Stdio interface {
	Attach(stdout, stderr io.Reader, stdin io.WriteCloser)
	Wait()
}

// Container is a version's Container.
type Container interface {
	// StartTask creates and starts the task with stdio attached (v24: Start; from v25:
	// NewTask, then Start).
	StartTask(ctx context.Context, withStdin bool, stdio Stdio) (Task, error)
	Task(ctx context.Context) (Task, error)
	AttachTask(ctx context.Context, stdio Stdio) error
	Delete(ctx context.Context) error
}

// Task is a version's Task.
type Task interface {
	Process
	Status(ctx context.Context) (string, error)
	Exec(ctx context.Context, id string, spec *specs.Process, withStdin bool, stdio Stdio) (Process, error)
	Pause(ctx context.Context) error
	Stats(ctx context.Context) error
	ForceDelete(ctx context.Context) error
}

// Process is a version's Process.
type Process interface {
	Pid() uint32
	Kill(ctx context.Context, signal syscall.Signal) error
	Delete(ctx context.Context) (exitCode uint32, err error)
}

// NewClientFunc makes a client in namespace ns, with bundles under stateDir, whose events
// go to events.
type NewClientFunc func(t *testing.T, ns, stateDir string, events *Recorder) Client

// Observation is what a caller sees in one run of the scenarios.
type Observation struct {
	Output, ExecOutput     string
	ExitCode, ExecExitCode uint32
	Events                 []string
	Errors                 map[string]string
	FilesAfterStart        []string
	FilesAfterTaskDelete   []string
	BundleGoneAfterDelete  bool
	StatusWhileRunning     string
	// A task whose create fails (the executable is missing): the error as dockerd sees it, and
	// what is left in the bundle.
	FailedCreate           string
	FilesAfterFailedCreate []string
}

// ScenarioRPCs are the RPCs containerd served per scenario.
type ScenarioRPCs struct{ Lifecycle, Exec, Errors map[string]int }

// RunScenarios runs the differential scenarios through one client: a lifecycle with output,
// an exec with stdin, misuses, a failed create.
func RunScenarios(t *testing.T, name string, newClient NewClientFunc) (Observation, ScenarioRPCs) {
	ctx := context.Background()
	_, rootfs := TestBed(t)
	ns := fmt.Sprintf("lcddiff-%s-%d", name, os.Getpid())
	events := NewRecorder()
	stateDir := filepath.Join(os.TempDir(), "lcd-diff-state", ns)
	c := newClient(t, ns, stateDir, events)
	obs := Observation{Errors: map[string]string{}}
	var rpcs ScenarioRPCs
	bundle := filepath.Join(stateDir, "c1")
	failedCreate := func(err error) string {
		if err == nil {
			return "ok"
		}
		return c.ErrorClass(err) + " " + err.Error()
	}

	// Lifecycle: create, start with output, wait for the exit event, delete task and container.
	before := RPCCounts(t)
	ctr, err := c.NewContainer(ctx, "c1", OCISpec(rootfs, "c1", "sh", "-c", "echo out; echo err >&2; exit 3"))
	if err != nil {
		t.Fatal(err)
	}
	out := &Capture{}
	tk, err := ctr.StartTask(ctx, false, out)
	if err != nil {
		t.Fatal(err)
	}
	obs.FilesAfterStart = BundleFiles(bundle)
	for _, e := range events.WaitFor(t, "c1", "exit", "c1") {
		obs.Events = append(obs.Events, fmt.Sprintf("%s %s pid=%t code=%d", e.Type, e.ProcessID, e.Pid == tk.Pid(), e.ExitCode))
	}
	obs.ExitCode, err = tk.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	obs.Output = out.Stdout.String() + "|" + out.Stderr.String()
	obs.FilesAfterTaskDelete = BundleFiles(bundle)
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	_, statErr := os.Stat(bundle)
	obs.BundleGoneAfterDelete = os.IsNotExist(statErr)
	rpcs.Lifecycle = Delta(before, RPCCounts(t))

	// Exec with stdin on a running container.
	ctr, err = c.NewContainer(ctx, "c2", OCISpec(rootfs, "c2", "sleep", "1000"))
	if err != nil {
		t.Fatal(err)
	}
	task, err := ctr.StartTask(ctx, false, &Capture{})
	if err != nil {
		t.Fatal(err)
	}
	obs.StatusWhileRunning, _ = task.Status(ctx)
	before = RPCCounts(t)
	execOut := &Capture{Stdin: []byte("ping\n")}
	proc, err := task.Exec(ctx, "e1", &specs.Process{Args: []string{"cat"}, Cwd: "/", Env: []string{"PATH=/bin"}}, true, execOut)
	if err != nil {
		t.Fatal(err)
	}
	events.WaitFor(t, "c2", "exit", "e1")
	obs.ExecExitCode, err = proc.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	obs.ExecOutput = execOut.Stdout.String()
	rpcs.Exec = Delta(before, RPCCounts(t))

	// Errors.
	before = RPCCounts(t)
	obs.Errors["load missing"] = c.ErrorClass(c.LoadContainer(ctx, "missing"))
	_, err = c.NewContainer(ctx, "c2", OCISpec(rootfs, "c2", "true"))
	obs.Errors["duplicate id"] = c.ErrorClass(err)
	obs.Errors["delete container with task"] = c.ErrorClass(ctr.Delete(ctx))
	_, err = task.Delete(ctx)
	obs.Errors["delete running task"] = c.ErrorClass(err)
	obs.Errors["force delete"] = c.ErrorClass(task.ForceDelete(ctx))
	obs.Errors["kill deleted task"] = c.ErrorClass(task.Kill(ctx, syscall.SIGKILL))
	_, err = ctr.Task(ctx)
	obs.Errors["task of container without one"] = c.ErrorClass(err)
	obs.Errors["delete container"] = c.ErrorClass(ctr.Delete(ctx))
	ctr, err = c.NewContainer(ctx, "c3", OCISpec(rootfs, "c3", "/nonexistent"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ctr.StartTask(ctx, false, &Capture{})
	obs.FailedCreate = failedCreate(err)
	obs.FilesAfterFailedCreate = BundleFiles(filepath.Join(stateDir, "c3"))
	obs.Errors["delete container after failed create"] = c.ErrorClass(ctr.Delete(ctx))
	rpcs.Errors = Delta(before, RPCCounts(t))
	return obs, rpcs
}

// CompareWithMoby runs the scenarios through moby's remote client and through the adapter:
// the observations must be equal, and the adapter must not make more RPCs in any scenario.
func CompareWithMoby(t *testing.T, moby, ours NewClientFunc) {
	mobyObs, mobyRPCs := RunScenarios(t, "moby", moby)
	ourObs, ourRPCs := RunScenarios(t, "ours", ours)
	if !reflect.DeepEqual(mobyObs, ourObs) {
		t.Errorf("observations differ:\nmoby: %+v\nours: %+v", mobyObs, ourObs)
	}
	for _, s := range []struct {
		name       string
		moby, ours map[string]int
	}{{"lifecycle", mobyRPCs.Lifecycle, ourRPCs.Lifecycle}, {"exec", mobyRPCs.Exec, ourRPCs.Exec}, {"errors", mobyRPCs.Errors, ourRPCs.Errors}} {
		t.Logf("%-9s RPCs: moby %2d %v", s.name, Total(s.moby), s.moby)
		t.Logf("%-9s RPCs: ours %2d %v", s.name, Total(s.ours), s.ours)
		if Total(s.ours) > Total(s.moby) {
			t.Errorf("%s: %d RPCs, more than moby's %d", s.name, Total(s.ours), Total(s.moby))
		}
	}
}
