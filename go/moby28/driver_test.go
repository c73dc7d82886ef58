package moby28

// The version's clients, moby's remote one and the adapter, as the shared scenarios
// (go/mobytest) drive them.

import (
	"context"
	"testing"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/docker/docker/libcontainerd/remote"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lcd-ffi/libcontainerd-ffi/go/mobytest"
)

type backend struct{ *mobytest.Recorder }

func (b backend) ProcessEvent(id string, et libcontainerdtypes.EventType, ei libcontainerdtypes.EventInfo) error {
	b.Record(mobytest.Event{Container: id, Type: string(et), ProcessID: ei.ProcessID, Pid: ei.Pid, ExitCode: ei.ExitCode, ExitedAt: ei.ExitedAt})
	return nil
}

type newClientFunc func(t *testing.T, ns, stateDir string, b libcontainerdtypes.Backend) libcontainerdtypes.Client

// viaContainerdClient makes a libcontainerd client the way dockerd does: from a containerd Go
// client connected to the test bed, until the test ends.
func viaContainerdClient(newClient func(context.Context, *containerd.Client, string, string, libcontainerdtypes.Backend) (libcontainerdtypes.Client, error)) newClientFunc {
	return func(t *testing.T, ns, stateDir string, b libcontainerdtypes.Backend) libcontainerdtypes.Client {
		socket, _ := mobytest.TestBed(t)
		cli, err := containerd.New(socket, containerd.WithDefaultNamespace(ns))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		c, err := newClient(ctx, cli, stateDir, ns, b)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

var (
	mobyClient = viaContainerdClient(remote.NewClient)
	ourClient  = viaContainerdClient(NewClient)
)

// stdioCallback hands the pipes of moby's DirectIO to a caller's stdio; the IO it returns
// waits for that caller's copies.
func stdioCallback(s mobytest.Stdio) libcontainerdtypes.StdioCallback {
	return func(dio *cio.DirectIO) (cio.IO, error) {
		s.Attach(dio.Stdout, dio.Stderr, dio.Stdin)
		return stdioIO{dio, s}, nil
	}
}

type stdioIO struct {
	*cio.DirectIO
	stdio mobytest.Stdio
}

func (i stdioIO) Wait() { i.stdio.Wait() }

// driver is the version's Client as the shared scenarios use it.
type driver struct{ c libcontainerdtypes.Client }

func scenarioClient(newClient newClientFunc) mobytest.NewClientFunc {
	return func(t *testing.T, ns, stateDir string, events *mobytest.Recorder) mobytest.Client {
		return driver{newClient(t, ns, stateDir, backend{events})}
	}
}

func (d driver) NewContainer(ctx context.Context, id string, spec *specs.Spec) (mobytest.Container, error) {
	ctr, err := d.c.NewContainer(ctx, id, spec, "io.containerd.runc.v2", nil)
	if err != nil {
		return nil, err
	}
	return driverContainer{ctr}, nil
}

func (d driver) LoadContainer(ctx context.Context, id string) error {
	_, err := d.c.LoadContainer(ctx, id)
	return err
}

func (driver) ErrorClass(err error) string { return errorClass(err) }
func (driver) FullClass(err error) string  { return fullClass(err) }

type driverContainer struct{ libcontainerdtypes.Container }

func (c driverContainer) Task(ctx context.Context) (mobytest.Task, error) {
	t, err := c.Container.Task(ctx)
	if err != nil {
		return nil, err
	}
	return driverTask{t}, nil
}

func (c driverContainer) AttachTask(ctx context.Context, stdio mobytest.Stdio) error {
	_, err := c.Container.AttachTask(ctx, stdioCallback(stdio))
	return err
}

type driverTask struct{ libcontainerdtypes.Task }

func (t driverTask) Status(ctx context.Context) (string, error) {
	st, err := t.Task.Status(ctx)
	return string(st.Status), err
}

func (t driverTask) Exec(ctx context.Context, id string, spec *specs.Process, withStdin bool, stdio mobytest.Stdio) (mobytest.Process, error) {
	p, err := t.Task.Exec(ctx, id, spec, withStdin, stdioCallback(stdio))
	if err != nil {
		return nil, err
	}
	return driverProcess{p}, nil
}

func (t driverTask) Delete(ctx context.Context) (uint32, error) { return exitCode(t.Task.Delete(ctx)) }

func (t driverTask) Stats(ctx context.Context) error {
	_, err := t.Task.Stats(ctx)
	return err
}

type driverProcess struct{ libcontainerdtypes.Process }

func (p driverProcess) Delete(ctx context.Context) (uint32, error) {
	return exitCode(p.Process.Delete(ctx))
}

func exitCode(es *containerd.ExitStatus, err error) (uint32, error) {
	if err != nil {
		return 0, err
	}
	return es.ExitCode(), nil
}
