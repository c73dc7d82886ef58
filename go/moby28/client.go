package moby28

import (
	"context"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/libcontainerd/queue"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/lcd-ffi/libcontainerd-ffi/go/adapter"
	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

var (
	_ libcontainerdtypes.Client    = (*client)(nil)
	_ libcontainerdtypes.Container = container{}
	_ libcontainerdtypes.Task      = task{}
	_ libcontainerdtypes.Process   = process{}
)

// mobyErrors are the version's classes: containerd/errdefs values, moby's errdefs wrappers,
// and whether the remote client applies wrapError.
var mobyErrors = adapter.Errors{
	Containerd: adapter.ContainerdClasses{
		NotFound: cerrdefs.ErrNotFound, AlreadyExists: cerrdefs.ErrAlreadyExists,
		InvalidArgument: cerrdefs.ErrInvalidArgument, FailedPrecondition: cerrdefs.ErrFailedPrecondition,
		Unavailable: cerrdefs.ErrUnavailable, NotImplemented: cerrdefs.ErrNotImplemented, Unknown: cerrdefs.ErrUnknown,
	},
	Moby: adapter.MobyClasses{
		NotFound: errdefs.NotFound, Conflict: errdefs.Conflict,
		InvalidParameter: errdefs.InvalidParameter, NotImplemented: errdefs.NotImplemented,
	},
	WrapNotFound: wrapNotFound,
	ServerText:   serverText,
}

type client struct {
	*adapter.Client
	q queue.Queue
}

// NewClient has the signature of the moby version's libcontainerd.NewClient: it talks to the
// containerd that cli is connected to, in namespace ns, with bundles under stateDir, and
// delivers task events to b until ctx ends.
func NewClient(ctx context.Context, cli *containerd.Client, stateDir, ns string, b libcontainerdtypes.Backend) (libcontainerdtypes.Client, error) {
	address, err := mobyErrors.SocketOfConn(cli.Conn())
	if err != nil {
		return nil, err
	}
	return NewClientWithAddress(ctx, address, stateDir, ns, b)
}

// NewClientWithAddress is NewClient for a containerd socket path.
func NewClientWithAddress(ctx context.Context, address, stateDir, ns string, b libcontainerdtypes.Backend) (libcontainerdtypes.Client, error) {
	c := &client{}
	ac, err := adapter.Connect(ctx, address, stateDir, ns, mobyErrors, adapter.EventSink{
		Append: c.q.Append,
		Process: func(e adapter.Event) error {
			return b.ProcessEvent(e.ContainerID, libcontainerdtypes.EventType(e.Type), libcontainerdtypes.EventInfo{
				ContainerID: e.ContainerID, ProcessID: e.ProcessID, Pid: e.Pid, ExitCode: e.ExitCode, ExitedAt: e.ExitedAt,
			})
		},
	})
	if err != nil {
		return nil, err
	}
	c.Client = ac
	return c, nil
}

func (c *client) Version(ctx context.Context) (containerd.Version, error) {
	v, r, err := c.Client.Version(ctx)
	return containerd.Version{Version: v, Revision: r}, err
}

func (c *client) LoadContainer(ctx context.Context, id string) (libcontainerdtypes.Container, error) {
	return containerOf(c.Client.LoadContainer(ctx, id))
}

type container struct{ *adapter.Container }

func containerOf(c *adapter.Container, err error) (libcontainerdtypes.Container, error) {
	if err != nil {
		return nil, err
	}
	return container{c}, nil
}

func (c container) Task(ctx context.Context) (libcontainerdtypes.Task, error) {
	return taskOf(c.Container.Task(ctx))
}

func (c container) AttachTask(ctx context.Context, attachStdio libcontainerdtypes.StdioCallback) (libcontainerdtypes.Task, error) {
	return taskOf(c.Container.AttachTask(ctx, attachWith(attachStdio)))
}

// attachWith gives the caller's callback a cio.DirectIO over the pipes: the output read ends
// as they are, the stdin writer opened by cio's fifo package.
func attachWith(attachStdio libcontainerdtypes.StdioCallback) adapter.AttachFunc {
	return func(ctx context.Context, p adapter.Pipes) (adapter.IO, error) {
		dio, err := cio.NewDirectIO(ctx, cio.NewFIFOSet(cio.Config{Terminal: p.Terminal, Stdin: p.StdinPath}, nil))
		if err != nil {
			return nil, err
		}
		dio.Stdout, dio.Stderr = p.Stdout, p.Stderr
		if dio.Stdin != nil {
			dio.Stdin = p.WrapStdin(dio.Stdin)
		}
		rio, err := attachStdio(dio)
		if err != nil {
			dio.Cancel()
			_ = dio.Close()
			return nil, err
		}
		return rio, nil
	}
}

type task struct{ *adapter.Task }

func taskOf(t *adapter.Task, err error) (libcontainerdtypes.Task, error) {
	if err != nil {
		return nil, err
	}
	return task{t}, nil
}

func (t task) Delete(ctx context.Context) (*containerd.ExitStatus, error) {
	return exitStatus(t.Task.Delete(ctx))
}

func (t task) Status(ctx context.Context) (containerd.Status, error) {
	st, err := t.Task.Status(ctx)
	if err != nil {
		return containerd.Status{}, err
	}
	return containerd.Status{Status: containerd.ProcessStatus(st.State.String()), ExitStatus: st.ExitCode, ExitTime: st.ExitedAt}, nil
}

func (t task) Stats(ctx context.Context) (*libcontainerdtypes.Stats, error) {
	read, metrics, err := t.Metrics(ctx)
	if err != nil {
		return nil, err
	}
	return libcontainerdtypes.InterfaceToStats(read, metrics), nil
}

// Summary is empty per process on Linux, as in moby.
func (t task) Summary(ctx context.Context) ([]libcontainerdtypes.Summary, error) {
	pids, err := t.Task.Pids(ctx)
	if err != nil {
		return nil, err
	}
	return make([]libcontainerdtypes.Summary, len(pids)), nil
}

func (t task) Exec(ctx context.Context, processID string, spec *specs.Process, withStdin bool, attachStdio libcontainerdtypes.StdioCallback) (libcontainerdtypes.Process, error) {
	p, err := t.Task.Exec(ctx, processID, spec, withStdin, attachWith(attachStdio))
	if err != nil {
		return nil, err
	}
	return process{p}, nil
}

type process struct{ *adapter.Process }

func (p process) Delete(ctx context.Context) (*containerd.ExitStatus, error) {
	return exitStatus(p.Process.Delete(ctx))
}

func exitStatus(exit lcd.Exit, err error) (*containerd.ExitStatus, error) {
	if err != nil {
		return nil, err
	}
	return containerd.NewExitStatus(exit.Code, exit.ExitedAt, nil), nil
}
