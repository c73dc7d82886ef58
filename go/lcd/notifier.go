package lcd

/*
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"os"
	"sync"
	"syscall"
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
}

// idleNotifiers keeps at most maxIdleNotifiers for reuse, about one per call in flight at
// the busiest moment so far; more are closed when released.
var idleNotifiers struct {
	sync.Mutex
	free []*notifier
}

const maxIdleNotifiers = 64

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
		idleNotifiers.free = append(idleNotifiers.free, n)
		n = nil
	}
	idleNotifiers.Unlock()
	if n != nil {
		n.close()
	}
}

// close frees a notifier that may hold an unread byte.
func (n *notifier) close() {
	n.ours.Close()
	syscall.Close(int(n.peer))
}
