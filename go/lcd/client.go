package lcd

/*
#include <stdlib.h>
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"context"
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
