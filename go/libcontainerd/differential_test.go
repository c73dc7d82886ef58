package libcontainerd

// The differential suite: the same scenarios through moby v24.0.9's own libcontainerd/remote
// client and through this adapter, against the same containerd, comparing what a caller
// observes and counting the RPCs containerd served for each (its metrics endpoint).

import (
	"context"
	"os"
	"testing"

	"github.com/containerd/containerd"
	cerrdefs "github.com/containerd/containerd/errdefs"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/libcontainerd/remote"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lcd-ffi/libcontainerd-ffi/go/mobytest"
)

type newClientFunc func(t *testing.T, ns, stateDir string, b libcontainerdtypes.Backend) libcontainerdtypes.Client

func mobyClient(t *testing.T, ns, stateDir string, b libcontainerdtypes.Backend) libcontainerdtypes.Client {
	cli, err := containerd.New(os.Getenv("LCD_CONTAINERD_SOCKET"), containerd.WithDefaultNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := remote.NewClient(ctx, cli, stateDir, ns, b)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ourClient(t *testing.T, ns, stateDir string, b libcontainerdtypes.Backend) libcontainerdtypes.Client {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c, err := NewClientWithAddress(ctx, os.Getenv("LCD_CONTAINERD_SOCKET"), stateDir, ns, b)
	if err != nil {
		t.Fatal(err)
	}
	return c
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

// driver is v24's Client as the shared scenarios use it (moby's remote client or ours).
type driver struct{ c libcontainerdtypes.Client }

func scenarioClient(newClient newClientFunc) mobytest.NewClientFunc {
	return func(t *testing.T, ns, stateDir string, events *mobytest.Recorder) mobytest.Client {
		return driver{newClient(t, ns, stateDir, &backend{events})}
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

func (c driverContainer) StartTask(ctx context.Context, withStdin bool, stdio mobytest.Stdio) (mobytest.Task, error) {
	return driverTaskOf(c.Start(ctx, "", withStdin, stdioCallback(stdio)))
}

func (c driverContainer) Task(ctx context.Context) (mobytest.Task, error) {
	return driverTaskOf(c.Container.Task(ctx))
}

func (c driverContainer) AttachTask(ctx context.Context, stdio mobytest.Stdio) error {
	_, err := c.Container.AttachTask(ctx, stdioCallback(stdio))
	return err
}

type driverTask struct{ libcontainerdtypes.Task }

func driverTaskOf(t libcontainerdtypes.Task, err error) (mobytest.Task, error) {
	if err != nil {
		return nil, err
	}
	return driverTask{t}, nil
}

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

func TestDifferentialAgainstMobysRemoteClient(t *testing.T) {
	mobytest.CompareWithMoby(t, scenarioClient(mobyClient), scenarioClient(ourClient))
}
