package libcontainerd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup1/stats"
	statsv2 "github.com/containerd/cgroups/v3/cgroup2/stats"
	"github.com/containerd/containerd"
	"github.com/containerd/containerd/cio"
	"github.com/containerd/containerd/containers"
	cerrdefs "github.com/containerd/containerd/errdefs"
	"github.com/docker/docker/errdefs"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	prototypes "github.com/gogo/protobuf/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lcd-ffi/libcontainerd-ffi/go/mobytest"
)

// newBackend records events as dockerd's daemon would receive them.
func newBackend() *backend { return &backend{mobytest.NewRecorder()} }

// waitFor returns the events of container id once one of type et for process pid arrived.
func (b *backend) waitFor(t *testing.T, id string, et libcontainerdtypes.EventType, processID string) []mobytest.Event {
	t.Helper()
	return b.WaitFor(t, id, string(et), processID)
}

func testClient(t *testing.T, name string) (libcontainerdtypes.Client, *backend, string) {
	socket, rootfs := mobytest.TestBed(t)
	ns := fmt.Sprintf("lcdmoby-%s-%d", name, os.Getpid())
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	b := newBackend()
	c, err := NewClientWithAddress(ctx, socket, filepath.Join(os.TempDir(), "lcd-moby-state", ns), ns, b)
	if err != nil {
		t.Fatal(err)
	}
	return c, b, rootfs
}

var ociSpec = mobytest.OCISpec

// capture copies a process's output and writes its stdin, as dockerd's stdio callback does.
type capture struct{ mobytest.Capture }

func (c *capture) attach(dio *cio.DirectIO) (cio.IO, error) { return stdioCallback(&c.Capture)(dio) }

func TestLifecycleThroughMobysInterface(t *testing.T) {
	ctx := context.Background()
	c, b, rootfs := testClient(t, "life")
	if v, err := c.Version(ctx); err != nil || !isTestBedContainerdVersion(v.Version) {
		t.Fatalf("version %+v %v", v, err)
	}
	// 200 KB of output must all arrive: Delete drains the IO before the delete RPC.
	ctr, err := c.NewContainer(ctx, "big", ociSpec(rootfs, "big", "sh", "-c", "i=0; while [ $i -lt 4000 ]; do echo 0123456789012345678901234567890123456789012345678; i=$((i+1)); done; exit 7"), "io.containerd.runc.v2", nil)
	if err != nil {
		t.Fatal(err)
	}
	out := &capture{}
	task, err := ctr.Start(ctx, "", false, out.attach)
	if err != nil {
		t.Fatal(err)
	}
	events := b.waitFor(t, "big", libcontainerdtypes.EventExit, "big")
	if len(events) != 3 || events[0].Type != string(libcontainerdtypes.EventCreate) || events[1].Type != string(libcontainerdtypes.EventStart) {
		t.Fatalf("events %+v", events)
	}
	exit := events[2]
	if exit.ExitCode != 7 || exit.Pid != task.Pid() || exit.ExitedAt.IsZero() {
		t.Fatalf("exit event %+v", exit)
	}
	st, err := task.(libcontainerdtypes.Task).Status(ctx)
	if err != nil || st.Status != containerd.Stopped || st.ExitStatus != 7 {
		t.Fatalf("status %+v %v", st, err)
	}
	es, err := task.Delete(ctx)
	if err != nil || es.ExitCode() != 7 {
		t.Fatalf("delete %+v %v", es, err)
	}
	if got := out.Stdout.Len(); got != 4000*50 {
		t.Fatalf("output cut short: %d bytes", got)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestNewClientTakesTheSocketOfAContainerdGoClient(t *testing.T) {
	socket := os.Getenv("LCD_CONTAINERD_SOCKET")
	cli, err := containerd.New(socket)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := NewClient(ctx, cli, t.TempDir(), fmt.Sprintf("lcdmoby-newclient-%d", os.Getpid()), newBackend())
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Version(ctx); err != nil || v.Version == "" {
		t.Fatalf("version %+v %v", v, err)
	}
}

func TestContainerOptionsReachTheContainerdRecord(t *testing.T) {
	ctx := context.Background()
	c, _, rootfs := testClient(t, "opts")
	ns := fmt.Sprintf("lcdmoby-opts-%d", os.Getpid())
	setImage := func(_ context.Context, _ *containerd.Client, r *containers.Container) error {
		r.Image = "example.test/busybox:latest"
		return nil
	}
	ctr, err := c.NewContainer(ctx, "opts", ociSpec(rootfs, "opts", "true"), "io.containerd.runc.v2", nil,
		setImage, containerd.WithSnapshotter("overlayfs"),
		containerd.WithContainerExtension("lcd.test/ext", &prototypes.StringValue{Value: "x"}),
		containerd.WithContainerLabels(map[string]string{"from": "opts"}))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := containerd.New(os.Getenv("LCD_CONTAINERD_SOCKET"), containerd.WithDefaultNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	loaded, err := cli.LoadContainer(ctx, "opts")
	if err != nil {
		t.Fatal(err)
	}
	info, err := loaded.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Image != "example.test/busybox:latest" || info.Snapshotter != "overlayfs" || info.Labels["from"] != "opts" {
		t.Fatalf("record %+v", info)
	}
	if _, ok := info.Extensions["lcd.test/ext"]; !ok {
		t.Fatalf("extensions %+v", info.Extensions)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestTerminalResizeKillAndCheckpointPaths(t *testing.T) {
	ctx := context.Background()
	c, b, rootfs := testClient(t, "tty")
	spec := ociSpec(rootfs, "tty", "sleep", "1000")
	spec.Process.Terminal = true
	ctr, err := c.NewContainer(ctx, "tty", spec, "io.containerd.runc.v2", nil)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ctr.Start(ctx, "", false, (&capture{}).attach)
	if err != nil {
		t.Fatal(err)
	}
	task := tk.(libcontainerdtypes.Task)
	if err := task.Resize(ctx, 100, 30); err != nil {
		t.Fatal(err)
	}
	proc, err := task.Exec(ctx, "sh", &specs.Process{Terminal: true, Args: []string{"sleep", "1000"}, Cwd: "/", Env: []string{"PATH=/bin"}}, false, (&capture{}).attach)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Resize(ctx, 80, 24); err != nil {
		t.Fatal(err)
	}
	if err := proc.Kill(ctx, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if events := b.waitFor(t, "tty", libcontainerdtypes.EventExit, "sh"); events[len(events)-1].ExitCode != 137 {
		t.Fatalf("exec exit %+v", events[len(events)-1])
	}
	if es, err := proc.Delete(ctx); err != nil || es.ExitCode() != 137 {
		t.Fatalf("exec delete %+v %v", es, err)
	}
	// CRIU cannot dump on the test kernel: the error carries its text and nothing is written.
	dir := filepath.Join(t.TempDir(), "checkpoint")
	if err := task.CreateCheckpoint(ctx, dir, false); err == nil || !strings.Contains(err.Error(), "criu") {
		t.Fatalf("checkpoint: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("checkpoint dir written: %v", err)
	}
	if err := task.ForceDelete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := ctr.Start(ctx, "/nonexistent-checkpoint", false, (&capture{}).attach); !errdefs.IsNotFound(err) {
		t.Fatalf("start from a missing checkpoint: %v", err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestErrorClassesMatchMobysRemoteClient(t *testing.T) {
	ctx := context.Background()
	c, _, rootfs := testClient(t, "errors")
	if _, err := c.LoadContainer(ctx, "missing"); !errdefs.IsNotFound(err) {
		t.Fatalf("load missing: %v", err)
	}
	ctr, err := c.NewContainer(ctx, "one", ociSpec(rootfs, "one", "sleep", "1000"), "io.containerd.runc.v2", nil,
		containerd.WithContainerLabels(map[string]string{"from": "opts"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.NewContainer(ctx, "one", ociSpec(rootfs, "one", "true"), "io.containerd.runc.v2", nil); !errdefs.IsConflict(err) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := c.NewContainer(ctx, "../x", ociSpec(rootfs, "x", "true"), "io.containerd.runc.v2", nil); !cerrdefs.IsInvalidArgument(err) {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := c.NewContainer(ctx, "snap", ociSpec(rootfs, "snap", "true"), "io.containerd.runc.v2", nil, containerd.WithNewSnapshot("snap", nil)); err == nil || !errdefs.IsNotImplemented(err) {
		t.Fatalf("an option that needs a client: %v", err)
	}
	if _, err := ctr.Task(ctx); !errdefs.IsNotFound(err) || !strings.Contains(err.Error(), "no running task found") {
		t.Fatalf("task of a container without one: %v", err)
	}
	task, err := ctr.Start(ctx, "", false, (&capture{}).attach)
	if err != nil {
		t.Fatal(err)
	}
	if err := ctr.Delete(ctx); !cerrdefs.IsFailedPrecondition(err) {
		t.Fatalf("delete with a task: %v", err)
	}
	if _, err := task.Delete(ctx); !cerrdefs.IsFailedPrecondition(err) {
		t.Fatalf("delete of a running task: %v", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	// containerd's client answers Go's context.Canceled (not one of moby's errdefs classes).
	if _, err := c.LoadContainer(cancelled, "one"); !cerrdefs.IsCanceled(err) || err.Error() != "context canceled" {
		t.Fatalf("cancelled: %v", err)
	}
	if err := task.(libcontainerdtypes.Task).ForceDelete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := task.Kill(ctx, syscall.SIGKILL); !errdefs.IsNotFound(err) {
		t.Fatalf("kill of a deleted task: %v", err)
	}
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}

// startSleeper creates and starts container id running a long sleep.
func startSleeper(t *testing.T, c libcontainerdtypes.Client, rootfs, id string) (libcontainerdtypes.Container, libcontainerdtypes.Task) {
	t.Helper()
	ctx := context.Background()
	ctr, err := c.NewContainer(ctx, id, ociSpec(rootfs, id, "sleep", "1000"), "io.containerd.runc.v2", nil)
	if err != nil {
		t.Fatal(err)
	}
	tk, err := ctr.Start(ctx, "", false, (&capture{}).attach)
	if err != nil {
		t.Fatal(err)
	}
	return ctr, tk.(libcontainerdtypes.Task)
}

func TestExecStatsPidsPauseAndRestore(t *testing.T) {
	ctx := context.Background()
	c, b, rootfs := testClient(t, "exec")
	_, task := startSleeper(t, c, rootfs, "host")
	out := &capture{mobytest.Capture{Stdin: []byte("through moby's stdin\n")}}
	proc, err := task.Exec(ctx, "cat", &specs.Process{Args: []string{"cat"}, Cwd: "/", Env: []string{"PATH=/bin"}}, true, out.attach)
	if err != nil {
		t.Fatal(err)
	}
	events := b.waitFor(t, "host", libcontainerdtypes.EventExit, "cat")
	if last := events[len(events)-1]; last.ExitCode != 0 || last.Pid != proc.Pid() {
		t.Fatalf("exec exit %+v", last)
	}
	if es, err := proc.Delete(ctx); err != nil || es.ExitCode() != 0 {
		t.Fatalf("exec delete %+v %v", es, err)
	}
	if got := out.Stdout.String(); got != "through moby's stdin\n" {
		t.Fatalf("exec output %q", got)
	}
	if _, err := task.Exec(ctx, "host", &specs.Process{Args: []string{"true"}, Cwd: "/"}, false, (&capture{}).attach); err == nil {
		t.Fatal("an exec id equal to a live process id should fail")
	}

	s, err := task.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	switch m := s.Metrics.(type) {
	case *stats.Metrics:
		if m.Memory == nil || m.Memory.Usage == nil || m.Memory.Usage.Usage == 0 || m.Pids.Current == 0 {
			t.Fatalf("cgroup v1 metrics %+v", m)
		}
	case *statsv2.Metrics:
		if m.Memory == nil || m.Memory.Usage == 0 {
			t.Fatalf("cgroup v2 metrics %+v", m)
		}
	default:
		t.Fatalf("metrics type %T", s.Metrics)
	}
	pids, err := task.Pids(ctx)
	if err != nil || len(pids) == 0 || pids[0].Pid == 0 {
		t.Fatalf("pids %+v %v", pids, err)
	}
	if sums, err := task.Summary(ctx); err != nil || len(sums) != len(pids) {
		t.Fatalf("summary %v %v", sums, err)
	}
	if err := task.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := task.Status(ctx); st.Status != containerd.Paused {
		t.Fatalf("status %+v", st)
	}
	if err := task.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	res := &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: 99}}
	if err := task.UpdateResources(ctx, res); err != nil {
		t.Fatal(err)
	}

	// A restarted daemon: load the container, re-attach, keep managing it.
	loaded, err := c.LoadContainer(ctx, "host")
	if err != nil {
		t.Fatal(err)
	}
	attached, err := loaded.AttachTask(ctx, (&capture{}).attach)
	if err != nil || attached.Pid() != task.Pid() {
		t.Fatalf("attach %v", err)
	}
	if err := attached.(libcontainerdtypes.Task).ForceDelete(ctx); err != nil {
		t.Fatal(err)
	}
	if err := loaded.Delete(ctx); err != nil {
		t.Fatal(err)
	}
}
