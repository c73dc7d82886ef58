package libcontainerd

// The differential suite: the same scenarios through moby v24.0.9's own libcontainerd/remote
// client and through this adapter, against the same containerd, comparing what a caller
// observes and counting the RPCs containerd served for each (its metrics endpoint).

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/containerd/containerd"
	cerrdefs "github.com/containerd/containerd/errdefs"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/libcontainerd/remote"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

type newClientFunc func(t *testing.T, ns string, b libcontainerdtypes.Backend) libcontainerdtypes.Client

func mobyClient(t *testing.T, ns string, b libcontainerdtypes.Backend) libcontainerdtypes.Client {
	cli, err := containerd.New(os.Getenv("LCD_CONTAINERD_SOCKET"), containerd.WithDefaultNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := remote.NewClient(ctx, cli, filepath.Join(os.TempDir(), "lcd-diff-state", ns), ns, b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ourClient(t *testing.T, ns string, b libcontainerdtypes.Backend) libcontainerdtypes.Client {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := NewClientWithAddress(ctx, os.Getenv("LCD_CONTAINERD_SOCKET"), filepath.Join(os.TempDir(), "lcd-diff-state", ns), ns, b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rpcCounts reads grpc_server_handled_total by method from containerd's metrics endpoint.
func rpcCounts(t *testing.T) map[string]int {
	addr := os.Getenv("LCD_CONTAINERD_METRICS")
	if addr == "" {
		t.Fatal("LCD_CONTAINERD_METRICS must name the test bed's metrics address: run `make test-go`")
	}
	resp, err := http.Get("http://" + addr + "/v1/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line := regexp.MustCompile(`^grpc_server_handled_total\{.*grpc_method="([^"]+)".*grpc_service="([^"]+)".*\} (\d+)`)
	counts := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			n, _ := strconv.Atoi(m[3])
			service := m[2][strings.LastIndex(m[2], ".")+1:]
			counts[service+"/"+m[1]] += n
		}
	}
	return counts
}

func delta(before, after map[string]int) map[string]int {
	d := map[string]int{}
	for k, v := range after {
		if n := v - before[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}

func total(m map[string]int) (n int) {
	for _, v := range m {
		n += v
	}
	return n
}

func errorClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errdefs.IsNotFound(err):
		return "NotFound"
	case errdefs.IsConflict(err):
		return "Conflict"
	case errdefs.IsInvalidParameter(err) || cerrdefs.IsInvalidArgument(err):
		return "InvalidParameter"
	case cerrdefs.IsFailedPrecondition(err):
		return "FailedPrecondition"
	case cerrdefs.IsNotFound(err):
		return "containerd NotFound"
	}
	return "other"
}

// failedCreate is what dockerd sees of a failed task create: the class and the whole text
// (moby's wrapping around the shim's text).
func failedCreate(err error) string {
	if err == nil {
		return "ok"
	}
	return errorClass(err) + " " + err.Error()
}

func bundleFiles(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// observation is what a caller sees in one run of the scenarios.
type observation struct {
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

type scenarioRPCs struct{ lifecycle, exec, errors map[string]int }

func runScenarios(t *testing.T, name string, newClient newClientFunc) (observation, scenarioRPCs) {
	ctx := context.Background()
	_, rootfs := os.Getenv("LCD_CONTAINERD_SOCKET"), os.Getenv("LCD_TEST_ROOTFS")
	ns := fmt.Sprintf("lcddiff-%s-%d", name, os.Getpid())
	b := newBackend()
	c := newClient(t, ns, b)
	obs := observation{Errors: map[string]string{}}
	var rpcs scenarioRPCs
	bundle := filepath.Join(os.TempDir(), "lcd-diff-state", ns, "c1")

	// Lifecycle: create, start with output, wait for the exit event, delete task and container.
	before := rpcCounts(t)
	ctr, err := c.NewContainer(ctx, "c1", ociSpec(rootfs, "c1", "sh", "-c", "echo out; echo err >&2; exit 3"), "io.containerd.runc.v2", nil)
	if err != nil {
		t.Fatal(err)
	}
	out := &capture{}
	tk, err := ctr.Start(ctx, "", false, out.attach)
	if err != nil {
		t.Fatal(err)
	}
	obs.FilesAfterStart = bundleFiles(bundle)
	for _, e := range b.waitFor(t, "c1", libcontainerdtypes.EventExit, "c1") {
		obs.Events = append(obs.Events, fmt.Sprintf("%s %s pid=%t code=%d", e.Type, e.Info.ProcessID, e.Info.Pid == tk.Pid(), e.Info.ExitCode))
	}
	es, err := tk.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	obs.ExitCode = es.ExitCode()
	obs.Output = out.stdout.String() + "|" + out.stderr.String()
	obs.FilesAfterTaskDelete = bundleFiles(bundle)
	if err := ctr.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	_, statErr := os.Stat(bundle)
	obs.BundleGoneAfterDelete = os.IsNotExist(statErr)
	rpcs.lifecycle = delta(before, rpcCounts(t))

	// Exec with stdin on a running container.
	ctr, err = c.NewContainer(ctx, "c2", ociSpec(rootfs, "c2", "sleep", "1000"), "io.containerd.runc.v2", nil)
	if err != nil {
		t.Fatal(err)
	}
	tk, err = ctr.Start(ctx, "", false, (&capture{}).attach)
	if err != nil {
		t.Fatal(err)
	}
	task := tk.(libcontainerdtypes.Task)
	st, _ := task.Status(ctx)
	obs.StatusWhileRunning = string(st.Status)
	before = rpcCounts(t)
	execOut := &capture{stdin: []byte("ping\n")}
	proc, err := task.Exec(ctx, "e1", &specs.Process{Args: []string{"cat"}, Cwd: "/", Env: []string{"PATH=/bin"}}, true, execOut.attach)
	if err != nil {
		t.Fatal(err)
	}
	b.waitFor(t, "c2", libcontainerdtypes.EventExit, "e1")
	es, err = proc.Delete(ctx)
	if err != nil {
		t.Fatal(err)
	}
	obs.ExecExitCode, obs.ExecOutput = es.ExitCode(), execOut.stdout.String()
	rpcs.exec = delta(before, rpcCounts(t))

	// Errors.
	before = rpcCounts(t)
	_, err = c.LoadContainer(ctx, "missing")
	obs.Errors["load missing"] = errorClass(err)
	_, err = c.NewContainer(ctx, "c2", ociSpec(rootfs, "c2", "true"), "io.containerd.runc.v2", nil)
	obs.Errors["duplicate id"] = errorClass(err)
	obs.Errors["delete container with task"] = errorClass(ctr.Delete(ctx))
	_, err = task.Delete(ctx)
	obs.Errors["delete running task"] = errorClass(err)
	obs.Errors["force delete"] = errorClass(task.ForceDelete(ctx))
	obs.Errors["kill deleted task"] = errorClass(task.Kill(ctx, syscall.SIGKILL))
	_, err = ctr.Task(ctx)
	obs.Errors["task of container without one"] = errorClass(err)
	obs.Errors["delete container"] = errorClass(ctr.Delete(ctx))
	ctr, err = c.NewContainer(ctx, "c3", ociSpec(rootfs, "c3", "/nonexistent"), "io.containerd.runc.v2", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ctr.Start(ctx, "", false, (&capture{}).attach)
	obs.FailedCreate = failedCreate(err)
	obs.FilesAfterFailedCreate = bundleFiles(filepath.Join(filepath.Dir(bundle), "c3"))
	obs.Errors["delete container after failed create"] = errorClass(ctr.Delete(ctx))
	rpcs.errors = delta(before, rpcCounts(t))
	return obs, rpcs
}

func TestDifferentialAgainstMobysRemoteClient(t *testing.T) {
	moby, mobyRPCs := runScenarios(t, "moby", mobyClient)
	ours, ourRPCs := runScenarios(t, "ours", ourClient)
	if !reflect.DeepEqual(moby, ours) {
		t.Errorf("observations differ:\nmoby: %+v\nours: %+v", moby, ours)
	}
	for _, s := range []struct {
		name       string
		moby, ours map[string]int
	}{{"lifecycle", mobyRPCs.lifecycle, ourRPCs.lifecycle}, {"exec", mobyRPCs.exec, ourRPCs.exec}, {"errors", mobyRPCs.errors, ourRPCs.errors}} {
		t.Logf("%-9s RPCs: moby %2d %v", s.name, total(s.moby), s.moby)
		t.Logf("%-9s RPCs: ours %2d %v", s.name, total(s.ours), s.ours)
		if total(s.ours) > total(s.moby) {
			t.Errorf("%s: %d RPCs, more than moby's %d", s.name, total(s.ours), total(s.moby))
		}
	}
}
