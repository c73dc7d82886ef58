package lcd

/*
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"os"
	"sync"
	"syscall"
	"time"
)

// notifier is a socket pair that tells a goroutine in Go's poller that a pending library call
// has finished: the library sends one byte to peer (lcd_pending_notify) and the goroutine
// reads it from the end registered in the poller. Notifiers are pooled, so a call costs no
// descriptor, poller registration or close of its own; per call that was a pipe, its
// duplicate, two epoll_ctl calls and three closes, 7–9 % of the client's CPU per container
// lifecycle (change 16 in BENCHMARKS.md). A socket pair and not a pipe: the library's send
// cannot block or raise SIGPIPE.
type notifier struct {
	ours *os.File
	raw  syscall.RawConn
	peer C.int
	// idleSince is when it last went back to the pool.
	idleSince time.Time
}

// idleNotifiers keeps at most maxIdleNotifiers for reuse, about one per call in flight at the
// busiest moment of the last notifierIdleTimeout; more are closed when released. free is a
// stack: calls take the most recently released, so the bottom holds the longest idle, which a
// timer closes once idle for notifierIdleTimeout (else a daemon would keep two descriptors per
// call of its busiest moment for ever).
var idleNotifiers struct {
	sync.Mutex
	free      []*notifier
	trimArmed bool
}

const maxIdleNotifiers = 64

// notifierIdleTimeout: a notifier unused for this long is closed. Making one again costs a
// socket pair and a poller registration, a few microseconds, so only a process idle this long
// pays it.
const notifierIdleTimeout = 2 * time.Second

// takeNotifier gives an idle notifier, or makes one.
func takeNotifier() (*notifier, error) {
	idleNotifiers.Lock()
	if last := len(idleNotifiers.free) - 1; last >= 0 {
		n := idleNotifiers.free[last]
		idleNotifiers.free = idleNotifiers.free[:last]
		idleNotifiers.Unlock()
		return n, nil
	}
	idleNotifiers.Unlock()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, &Error{Status: Internal, Message: "make a notifier for a pending call: " + err.Error()}
	}
	ours := os.NewFile(uintptr(fds[0]), "lcd-pending")
	raw, err := ours.SyscallConn()
	if err != nil {
		ours.Close()
		syscall.Close(fds[1])
		return nil, &Error{Status: Internal, Message: "poll a notifier for a pending call: " + err.Error()}
	}
	return &notifier{ours: ours, raw: raw, peer: C.int(fds[1])}, nil
}

// wait blocks in Go's poller until the library's byte arrives, and reads it.
func (n *notifier) wait() error {
	var buf [8]byte
	var readErr error
	if err := n.raw.Read(func(fd uintptr) bool {
		var got int
		got, readErr = syscall.Read(int(fd), buf[:])
		if readErr == nil && got == 0 {
			readErr = syscall.EPIPE
		}
		return readErr != syscall.EAGAIN
	}); err != nil {
		return &Error{Status: Internal, Message: "wait for a pending call: " + err.Error()}
	}
	if readErr != nil {
		return &Error{Status: Internal, Message: "wait for a pending call: " + readErr.Error()}
	}
	return nil
}

// release returns a notifier whose byte was read, and whose call's pending handle was freed,
// to the pool.
func (n *notifier) release() {
	idleNotifiers.Lock()
	if len(idleNotifiers.free) < maxIdleNotifiers {
		n.idleSince = time.Now()
		idleNotifiers.free = append(idleNotifiers.free, n)
		n = nil
		if !idleNotifiers.trimArmed {
			idleNotifiers.trimArmed = true
			time.AfterFunc(notifierIdleTimeout, trimIdleNotifiers)
		}
	}
	idleNotifiers.Unlock()
	if n != nil {
		n.close()
	}
}

// trimIdleNotifiers closes the notifiers idle for notifierIdleTimeout and runs again when the
// next one will be.
func trimIdleNotifiers() {
	now := time.Now()
	idleNotifiers.Lock()
	free := idleNotifiers.free
	stale := 0
	for stale < len(free) && now.Sub(free[stale].idleSince) >= notifierIdleTimeout {
		stale++
	}
	closing := append([]*notifier(nil), free[:stale]...)
	idleNotifiers.free = append(free[:0], free[stale:]...)
	if len(idleNotifiers.free) > 0 {
		time.AfterFunc(notifierIdleTimeout-now.Sub(idleNotifiers.free[0].idleSince), trimIdleNotifiers)
	} else {
		idleNotifiers.trimArmed = false
	}
	idleNotifiers.Unlock()
	for _, n := range closing {
		n.close()
	}
}

// close frees a notifier that may hold an unread byte.
func (n *notifier) close() {
	n.ours.Close()
	syscall.Close(int(n.peer))
}
