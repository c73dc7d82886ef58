package lcd

/*
#include <stdlib.h>
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"context"
	"os"
	"syscall"
	"time"
)

// Client is a connection to one containerd namespace. Safe for concurrent use.
type Client struct {
	h         handle[*C.lcd_client]
	namespace string
}

// Connect connects to the containerd socket at socket for namespace, with bundles under the
// absolute directory stateDir, and starts the client's event subscription.
func Connect(ctx context.Context, socket, namespace, stateDir string) (*Client, error) {
	var p *C.lcd_client
	err := withCancel(ctx, func(cancel *C.lcd_cancel) error {
		var cerr *C.lcd_error
		sp, sl := stringArg(socket)
		np, nl := stringArg(namespace)
		dp, dl := stringArg(stateDir)
		return check(C.lcd_client_connect(sp, sl, np, nl, dp, dl, cancel, &p, &cerr), cerr)
	})
	if err != nil {
		return nil, err
	}
	c := &Client{namespace: namespace}
	c.h.init(p, "Client", func(p *C.lcd_client) { C.lcd_client_free(p) })
	track(c, (*Client).Close)
	return c, nil
}

// Close frees the client handle; containers, tasks and streams made from it stay usable.
// Idempotent.
func (c *Client) Close() error {
	c.h.close()
	return nil
}

// Version returns containerd's version and revision (one RPC).
func (c *Client) Version(ctx context.Context) (version, revision string, err error) {
	var v, r *C.char
	err = c.h.call(ctx, func(p *C.lcd_client, cancel *C.lcd_cancel, cerr **C.lcd_error) uint32 {
		return C.lcd_client_version(p, cancel, &v, &r, cerr)
	})
	if err != nil {
		return "", "", err
	}
	version, revision = C.GoString(v), C.GoString(r)
	C.lcd_string_free(v)
	C.lcd_string_free(r)
	return version, revision, nil
}

// RPCTotal is the number of containerd RPCs the client has sent.
func (c *Client) RPCTotal() (n uint64) {
	_ = c.h.use(func(p *C.lcd_client) error {
		n = uint64(C.lcd_client_rpc_total(p))
		return nil
	})
	return n
}

// EventKind is the kind of a task event (moby's event types).
type EventKind int

// Task event kinds.
const (
	EventCreate      EventKind = C.LCD_EVENT_CREATE
	EventStart       EventKind = C.LCD_EVENT_START
	EventExit        EventKind = C.LCD_EVENT_EXIT
	EventOOM         EventKind = C.LCD_EVENT_OOM
	EventExecAdded   EventKind = C.LCD_EVENT_EXEC_ADDED
	EventExecStarted EventKind = C.LCD_EVENT_EXEC_STARTED
	EventPaused      EventKind = C.LCD_EVENT_PAUSED
	EventResumed     EventKind = C.LCD_EVENT_RESUMED
)

// Event is one task event.
type Event struct {
	Kind        EventKind
	ContainerID string
	ProcessID   string
	Pid         uint32
	ExitCode    uint32
	ExitedAt    time.Time
}

// EventStream is the client's stream of task events in containerd's order.
//
// Waiting for an event happens in Go's poller on the stream's readiness descriptor, not in a
// blocking C call: no OS thread is held in the library while the stream is idle, and the Go
// scheduler does not have to take a processor back from a long cgo call for every wait.
type EventStream struct {
	h     handle[*C.lcd_event_stream]
	ready *os.File // a duplicate of the stream's readiness descriptor, in Go's poller
	raw   syscall.RawConn
}

// Subscribe opens the client's event stream (one at a time per client).
func (c *Client) Subscribe() (*EventStream, error) {
	var p *C.lcd_event_stream
	err := c.h.use(func(cp *C.lcd_client) error {
		var cerr *C.lcd_error
		return check(C.lcd_client_subscribe(cp, &p, &cerr), cerr)
	})
	if err != nil {
		return nil, err
	}
	ready, raw, err := pollable(C.lcd_event_stream_fd(p), "lcd-event-stream")
	if err != nil {
		C.lcd_event_stream_free(p)
		return nil, err
	}
	s := &EventStream{ready: ready, raw: raw}
	s.h.init(p, "EventStream", func(p *C.lcd_event_stream) { C.lcd_event_stream_free(p) })
	track(s, (*EventStream).Close)
	return s, nil
}

// Next waits for the next event, or until ctx ends or the stream is closed.
func (s *EventStream) Next(ctx context.Context) (ev Event, err error) {
	if err := ctx.Err(); err != nil {
		return ev, contextError(err)
	}
	// A past read deadline wakes the poller when ctx ends; clear one left by an earlier call.
	if err := s.ready.SetReadDeadline(time.Time{}); err != nil {
		return ev, streamClosed()
	}
	stop := context.AfterFunc(ctx, func() { _ = s.ready.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	got := false
	waitErr := s.raw.Read(func(uintptr) bool {
		got, err = s.tryNext(&ev)
		return got || err != nil
	})
	switch {
	case got || err != nil:
		return ev, err
	case ctx.Err() != nil:
		return ev, contextError(ctx.Err())
	case waitErr != nil:
		return ev, streamClosed()
	}
	return ev, nil
}

// tryNext takes a queued event without waiting (one short cgo call).
func (s *EventStream) tryNext(ev *Event) (got bool, err error) {
	err = s.h.use(func(p *C.lcd_event_stream) error {
		var e *C.lcd_event
		var cerr *C.lcd_error
		if err := check(C.lcd_event_stream_try_next(p, &e, &cerr), cerr); err != nil || e == nil {
			return err
		}
		*ev = Event{
			Kind:        EventKind(e.kind),
			ContainerID: C.GoString(e.container_id),
			ProcessID:   C.GoString(e.process_id),
			Pid:         uint32(e.pid),
			ExitCode:    uint32(e.exit_code),
			ExitedAt:    timeFromNanos(e.exited_at_unix_nanos),
		}
		C.lcd_event_free(e)
		got = true
		return nil
	})
	return got, err
}

func streamClosed() error {
	return &Error{Status: Unavailable, Message: "event stream closed"}
}

// Close closes the stream, waking callers waiting in Next; unread events are discarded.
// Idempotent.
func (s *EventStream) Close() error {
	_ = s.ready.Close()
	s.h.close()
	return nil
}
