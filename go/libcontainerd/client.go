// Package libcontainerd implements moby v24.0.9's libcontainerd/types.Client on top of the
// libcontainerd-ffi library (package lcd), as a drop-in for moby's libcontainerd/remote.
package libcontainerd

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/containerd/containerd"
	"github.com/containerd/containerd/containers"
	"github.com/containerd/typeurl"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/libcontainerd/queue"
	libcontainerdtypes "github.com/docker/docker/libcontainerd/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/pkg/errors"
	"github.com/sirupsen/logrus"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

var (
	_ libcontainerdtypes.Client    = (*client)(nil)
	_ libcontainerdtypes.Container = (*container)(nil)
	_ libcontainerdtypes.Task      = (*task)(nil)
	_ libcontainerdtypes.Process   = (*process)(nil)
)

type client struct {
	backend libcontainerdtypes.Backend
	logger  *logrus.Entry
	q       queue.Queue

	// The connection and its event stream are made on first use (conn): dockerd's plugin
	// executor has a client of its own that a daemon without managed plugins never uses, and
	// moby's costs nothing there (it shares the daemon's connection). Until then the client
	// holds no descriptor, thread or containerd stream.
	address, stateDir, ns string
	eventsCtx             context.Context
	connected             atomic.Pointer[lcd.Client]
	connectMu             sync.Mutex
}

// NewClient has the shape of moby's remote.NewClient: it talks to the containerd that cli is
// connected to, in namespace ns, with bundles under stateDir, and delivers task events to b
// until ctx ends.
func NewClient(ctx context.Context, cli *containerd.Client, stateDir, ns string, b libcontainerdtypes.Backend) (libcontainerdtypes.Client, error) {
	// containerd's dialer writes the target as unix://<path>.
	address := strings.TrimPrefix(cli.Conn().Target(), "unix://")
	return NewClientWithAddress(ctx, address, stateDir, ns, b)
}

// NewClientWithAddress is NewClient for a containerd socket path.
func NewClientWithAddress(ctx context.Context, address, stateDir, ns string, b libcontainerdtypes.Backend) (libcontainerdtypes.Client, error) {
	forwardLogs()
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, errdefs.InvalidParameter(err)
	}
	return &client{backend: b, logger: logrus.WithField("module", "libcontainerd").WithField("namespace", ns),
		address: address, stateDir: abs, ns: ns, eventsCtx: ctx}, nil
}

// conn is the client's connection, made with its event subscription on first use: the
// subscription starts before that first call is made, as it did when NewClient connected. A
// failed connect is tried again by the next call.
func (c *client) conn(ctx context.Context) (*lcd.Client, error) {
	if lc := c.connected.Load(); lc != nil {
		return lc, nil
	}
	c.connectMu.Lock()
	defer c.connectMu.Unlock()
	if lc := c.connected.Load(); lc != nil {
		return lc, nil
	}
	lc, err := lcd.Connect(ctx, c.address, c.ns, c.stateDir)
	if err != nil {
		return nil, toError(err)
	}
	events, err := lc.Subscribe()
	if err != nil {
		lc.Close()
		return nil, toError(err)
	}
	go c.processEvents(c.eventsCtx, events)
	c.connected.Store(lc)
	return lc, nil
}

func (c *client) Version(ctx context.Context) (containerd.Version, error) {
	lc, err := c.conn(ctx)
	if err != nil {
		return containerd.Version{}, err
	}
	v, r, err := lc.Version(ctx)
	if err != nil {
		return containerd.Version{}, toError(err)
	}
	return containerd.Version{Version: v, Revision: r}, nil
}

func (c *client) LoadContainer(ctx context.Context, id string) (libcontainerdtypes.Container, error) {
	lc, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	ctr, err := lc.LoadContainer(ctx, id)
	if err != nil {
		if lcd.StatusOf(err) == lcd.NotFound {
			return nil, errors.WithStack(errdefs.NotFound(errors.New("no such container")))
		}
		return nil, wrapError(err)
	}
	return &container{client: c, ctr: ctr}, nil
}

func (c *client) NewContainer(ctx context.Context, id string, spec *specs.Spec, shim string, runtimeOptions interface{}, opts ...containerd.NewContainerOpts) (libcontainerdtypes.Container, error) {
	record := containers.Container{ID: id, Labels: map[string]string{}}
	for _, opt := range opts {
		if err := applyOpt(ctx, opt, &record); err != nil {
			return nil, err
		}
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, errdefs.InvalidParameter(errors.Wrap(err, "encode runtime spec"))
	}
	cfg := lcd.ContainerConfig{
		SpecJSON: specJSON, Runtime: shim, Labels: record.Labels,
		Image: record.Image, Snapshotter: record.Snapshotter, SnapshotKey: record.SnapshotKey,
	}
	if len(record.Extensions) > 0 {
		cfg.Extensions = make(map[string]lcd.Any, len(record.Extensions))
		for name, ext := range record.Extensions {
			cfg.Extensions[name] = lcd.Any{TypeURL: ext.GetTypeUrl(), Value: ext.GetValue()}
		}
	}
	if runtimeOptions != nil {
		anyOpts, err := typeurl.MarshalAny(runtimeOptions)
		if err != nil {
			return nil, errdefs.InvalidParameter(errors.Wrap(err, "encode runtime options"))
		}
		cfg.RuntimeOptionsTypeURL, cfg.RuntimeOptions = anyOpts.TypeUrl, anyOpts.Value
	}
	lc, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	ctr, err := lc.CreateContainer(ctx, id, cfg)
	if err != nil {
		if lcd.StatusOf(err) == lcd.AlreadyExists {
			return nil, errors.WithStack(errdefs.Conflict(errors.New("id already in use")))
		}
		return nil, wrapError(err)
	}
	return &container{client: c, ctr: ctr}, nil
}

// applyOpt runs one caller option on the local record. Options that need a live containerd
// Go client get nil and fail; that becomes an error, not a crash.
func applyOpt(ctx context.Context, opt containerd.NewContainerOpts, record *containers.Container) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errdefs.NotImplemented(fmt.Errorf("libcontainerd-ffi: a container option needs a containerd Go client, which this library does not use: %v", r))
		}
	}()
	return opt(ctx, nil, record)
}

func (c *client) processEvents(ctx context.Context, events *lcd.EventStream) {
	defer events.Close()
	for {
		ev, err := events.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The library only fails a read when its client is gone.
			c.logger.WithError(err).Error("task event stream ended")
			return
		}
		et, ei := eventInfo(ev)
		c.q.Append(ev.ContainerID, func() {
			if err := c.backend.ProcessEvent(ev.ContainerID, et, ei); err != nil {
				c.logger.WithError(err).WithFields(logrus.Fields{"container": ev.ContainerID, "event": et}).Error("failed to process event")
			}
		})
	}
}

func eventInfo(ev lcd.Event) (libcontainerdtypes.EventType, libcontainerdtypes.EventInfo) {
	ei := libcontainerdtypes.EventInfo{ContainerID: ev.ContainerID}
	switch ev.Kind {
	case lcd.EventCreate:
		ei.ProcessID, ei.Pid = ev.ContainerID, ev.Pid
		return libcontainerdtypes.EventCreate, ei
	case lcd.EventStart:
		ei.ProcessID, ei.Pid = ev.ContainerID, ev.Pid
		return libcontainerdtypes.EventStart, ei
	case lcd.EventExit:
		ei.ProcessID, ei.Pid, ei.ExitCode, ei.ExitedAt = ev.ProcessID, ev.Pid, ev.ExitCode, ev.ExitedAt
		return libcontainerdtypes.EventExit, ei
	case lcd.EventOOM:
		return libcontainerdtypes.EventOOM, ei
	case lcd.EventExecAdded:
		ei.ProcessID = ev.ProcessID
		return libcontainerdtypes.EventExecAdded, ei
	case lcd.EventExecStarted:
		ei.ProcessID, ei.Pid = ev.ProcessID, ev.Pid
		return libcontainerdtypes.EventExecStarted, ei
	case lcd.EventPaused:
		return libcontainerdtypes.EventPaused, ei
	case lcd.EventResumed:
		return libcontainerdtypes.EventResumed, ei
	}
	return libcontainerdtypes.EventUnknown, ei
}
