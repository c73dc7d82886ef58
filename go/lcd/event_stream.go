package lcd

/*
#include <stdint.h>
#include <stdlib.h>
#include "libcontainerd_ffi.h"
void lcdGoEventStreamReady(void *user_data);
*/
import "C"

import (
	"context"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"unsafe"
)

// EventStream is the client's stream of task events in containerd's order.
//
// Waiting for an event happens in Go, on a channel the library's ready callback signals: no OS
// thread is held in the library while the stream is idle, and no descriptor either (a
// readiness descriptor in Go's poller, and the duplicate of it the poller needs, were two of
// the descriptors dockerd-lcd kept open beyond stock's).
type EventStream struct {
	h handle[*C.lcd_event_stream]
	// ready gets a token whenever the library may have an event for tryNext (capacity 1:
	// Next always looks at the queue before it waits, so one pending token is enough).
	ready chan struct{}
	// waiting counts the callers in Next: one that takes an event while others wait passes a
	// token on. A waiter woken by the token of a second event can find the queue busy (the
	// library's try_next gives nothing while another caller holds the queue) and wait again,
	// with that event left queued and its token spent.
	waiting atomic.Int32
	// closed is closed by Close, waking callers waiting in Next.
	closed    chan struct{}
	closeOnce sync.Once
	// readyHandle finds ready from the callback; readyArg is the C memory holding it, the
	// callback's user data.
	readyHandle cgo.Handle
	readyArg    *C.uintptr_t
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
	s := &EventStream{ready: make(chan struct{}, 1), closed: make(chan struct{})}
	// The handle holds the channel, not the stream, so an unclosed stream can still be
	// collected and its finalizer close it.
	s.readyHandle = cgo.NewHandle(s.ready)
	s.readyArg = (*C.uintptr_t)(C.malloc(C.sizeof_uintptr_t))
	*s.readyArg = C.uintptr_t(s.readyHandle)
	var cerr *C.lcd_error
	if err := check(C.lcd_event_stream_set_ready_callback(p, C.lcd_event_ready_fn(C.lcdGoEventStreamReady), unsafe.Pointer(s.readyArg), &cerr), cerr); err != nil {
		C.lcd_event_stream_free(p)
		s.releaseReady()
		return nil, err
	}
	s.h.init(p, "EventStream", func(p *C.lcd_event_stream) { C.lcd_event_stream_free(p) })
	track(s, (*EventStream).Close)
	return s, nil
}

//export lcdGoEventStreamReady
func lcdGoEventStreamReady(userData unsafe.Pointer) {
	signal(cgo.Handle(*(*C.uintptr_t)(userData)).Value().(chan struct{}))
}

// signal leaves a token in ready unless one is pending already.
func signal(ready chan struct{}) {
	select {
	case ready <- struct{}{}:
	default:
	}
}

// Next waits for the next event, or until ctx ends or the stream is closed.
func (s *EventStream) Next(ctx context.Context) (ev Event, err error) {
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	for {
		if err := ctx.Err(); err != nil {
			return ev, contextError(err)
		}
		if got, err := s.tryNext(&ev); got || err != nil {
			if got && s.waiting.Load() > 1 {
				signal(s.ready) // more may be queued for the others
			}
			if IsClosed(err) {
				return ev, streamClosed()
			}
			return ev, err
		}
		select {
		case <-s.ready:
		case <-ctx.Done():
			return ev, contextError(ctx.Err())
		case <-s.closed:
			return ev, streamClosed()
		}
	}
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
	s.closeOnce.Do(func() {
		close(s.closed)
		// After the free the library no longer calls the ready callback: its user data can go.
		s.h.close()
		s.releaseReady()
	})
	return nil
}

func (s *EventStream) releaseReady() {
	s.readyHandle.Delete()
	C.free(unsafe.Pointer(s.readyArg))
}
