// Package adapter is the logic of moby's libcontainerd client over the libcontainerd-ffi
// library (package lcd), shared by every moby version. It imports neither moby nor
// containerd's client packages, whose types differ between versions: each version's package
// (go/libcontainerd for v24, go/moby27, go/moby28, go/moby29) only converts between these
// types and its own, and tells how errors are classified (Errors) and where events go
// (EventSink).
package adapter

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/pkg/errors"
	"github.com/sirupsen/logrus"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

// Event is a task event with moby's fields; Type is the value of moby's EventType.
type Event struct {
	Type        string
	ContainerID string
	ProcessID   string
	Pid         uint32
	ExitCode    uint32
	ExitedAt    time.Time
}

// EventSink is where a client's events go, in the order containerd sent them per container.
type EventSink struct {
	// Append runs fn after the functions appended earlier for the same container (moby's
	// queue.Queue.Append).
	Append func(containerID string, fn func())
	// Process hands one event to the daemon (its Backend.ProcessEvent).
	Process func(Event) error
}

// Client is one connection to containerd in one namespace.
type Client struct {
	errs   *Errors
	logger *logrus.Entry

	// The connection and its event stream are made on first use (conn): dockerd's plugin
	// executor has a client of its own that a daemon without managed plugins never uses, and
	// moby's costs nothing there (it shares the daemon's connection). Until then the client
	// holds no descriptor, thread or containerd stream.
	address, stateDir, ns string
	eventsCtx             context.Context
	sink                  EventSink
	connected             atomic.Pointer[lcd.Client]
	connectMu             sync.Mutex
}

// SocketOf is the socket path of a containerd Go client's connection target (its dialer
// writes unix://<path>).
func SocketOf(target string) string { return strings.TrimPrefix(target, "unix://") }

// Connect prepares a client of the containerd at address, in namespace ns, with bundles under
// stateDir, that delivers task events to sink until ctx ends. The connection is made by the
// first call that needs it.
func Connect(ctx context.Context, address, stateDir, ns string, errs Errors, sink EventSink) (*Client, error) {
	forwardLogs()
	abs, err := filepath.Abs(stateDir)
	if err != nil {
		return nil, errs.Moby.InvalidParameter(err)
	}
	return &Client{errs: &errs, logger: logrus.WithField("module", "libcontainerd").WithField("namespace", ns),
		address: address, stateDir: abs, ns: ns, eventsCtx: ctx, sink: sink}, nil
}

// conn is the client's connection, made with its event subscription on first use: the
// subscription starts before that first call is made, as it did when Connect connected. A
// failed connect is tried again by the next call.
func (c *Client) conn(ctx context.Context) (*lcd.Client, error) {
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
		return nil, c.errs.toError(err)
	}
	events, err := lc.Subscribe()
	if err != nil {
		lc.Close()
		return nil, c.errs.toError(err)
	}
	go c.processEvents(c.eventsCtx, events, c.sink)
	c.connected.Store(lc)
	return lc, nil
}

// Version is containerd's version and revision.
func (c *Client) Version(ctx context.Context) (version, revision string, err error) {
	lc, err := c.conn(ctx)
	if err != nil {
		return "", "", err
	}
	v, r, err := lc.Version(ctx)
	return v, r, c.errs.toError(err)
}

// LoadContainer loads an existing container.
func (c *Client) LoadContainer(ctx context.Context, id string) (*Container, error) {
	lc, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	ctr, err := lc.LoadContainer(ctx, id)
	if err != nil {
		if lcd.StatusOf(err) == lcd.NotFound {
			return nil, errors.WithStack(c.errs.Moby.NotFound(errors.New("no such container")))
		}
		return nil, c.errs.wrapError(err)
	}
	return &Container{client: c, ctr: ctr}, nil
}

// Options are what moby's NewContainer passes besides the spec: the shim, its options and the
// record fields the caller's containerd options set.
type Options struct {
	Shim string
	// RuntimeOptions are the shim's options, encoded as a protobuf Any by the version's
	// typeurl (nil for none).
	RuntimeOptions *lcd.Any
	// Labels, Image, Snapshotter, SnapshotKey and Extensions of the container record.
	Record lcd.ContainerConfig
}

// NewContainer creates a container; an id in use is moby's conflict.
func (c *Client) NewContainer(ctx context.Context, id string, spec *specs.Spec, opts Options) (*Container, error) {
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, c.errs.invalidParameter(err, "encode runtime spec")
	}
	cfg := opts.Record
	cfg.SpecJSON, cfg.Runtime = specJSON, opts.Shim
	if opts.RuntimeOptions != nil {
		cfg.RuntimeOptionsTypeURL, cfg.RuntimeOptions = opts.RuntimeOptions.TypeURL, opts.RuntimeOptions.Value
	}
	lc, err := c.conn(ctx)
	if err != nil {
		return nil, err
	}
	ctr, err := lc.CreateContainer(ctx, id, cfg)
	if err != nil {
		return nil, c.errs.orConflict(err)
	}
	return &Container{client: c, ctr: ctr}, nil
}

// EncodeRuntimeOptions is the shim options' Any as the version's typeurl.MarshalAny makes it.
func (c *Client) EncodeRuntimeOptions(opts interface{}, marshal func(interface{}) (typeURL string, value []byte, err error)) (*lcd.Any, error) {
	if opts == nil {
		return nil, nil
	}
	typeURL, value, err := marshal(opts)
	if err != nil {
		return nil, c.errs.invalidParameter(err, "encode runtime options")
	}
	return &lcd.Any{TypeURL: typeURL, Value: value}, nil
}

// ApplyOption runs one of the caller's containerd container options on a local record (apply
// calls it with no containerd Go client). An option that needs a live client fails; that
// becomes moby's NotImplemented, not a crash.
func (c *Client) ApplyOption(apply func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = c.errs.notImplemented("libcontainerd-ffi: a container option needs a containerd Go client, which this library does not use: %v", r)
		}
	}()
	return apply()
}

func (c *Client) processEvents(ctx context.Context, events *lcd.EventStream, sink EventSink) {
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
		e := eventOf(ev)
		sink.Append(e.ContainerID, func() {
			if err := sink.Process(e); err != nil {
				c.logger.WithError(err).WithFields(logrus.Fields{"container": e.ContainerID, "event": e.Type}).Error("failed to process event")
			}
		})
	}
}

// eventOf gives the library's event moby's type name and the fields moby sets for it.
func eventOf(ev lcd.Event) Event {
	e := Event{Type: "unknown", ContainerID: ev.ContainerID}
	switch ev.Kind {
	case lcd.EventCreate:
		e.Type, e.ProcessID, e.Pid = "create", ev.ContainerID, ev.Pid
	case lcd.EventStart:
		e.Type, e.ProcessID, e.Pid = "start", ev.ContainerID, ev.Pid
	case lcd.EventExit:
		e.Type, e.ProcessID, e.Pid, e.ExitCode, e.ExitedAt = "exit", ev.ProcessID, ev.Pid, ev.ExitCode, ev.ExitedAt
	case lcd.EventOOM:
		e.Type = "oom"
	case lcd.EventExecAdded:
		e.Type, e.ProcessID = "exec-added", ev.ProcessID
	case lcd.EventExecStarted:
		e.Type, e.ProcessID, e.Pid = "exec-started", ev.ProcessID, ev.Pid
	case lcd.EventPaused:
		e.Type = "paused"
	case lcd.EventResumed:
		e.Type = "resumed"
	}
	return e
}
