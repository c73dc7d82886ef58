package lcd

import (
	"runtime"
	"sync"
)

// handle owns one C handle (P is the C pointer type). Calls hold a read lock for their whole
// duration, so Close (which takes the write lock) never frees a handle a call is still using:
// Close waits for calls in flight, so cancel their contexts first. A successful delete frees
// the handle at once (retire); a finalizer frees handles that were never closed.
type handle[P any] struct {
	mu      sync.RWMutex
	p       P
	open    bool
	retired *retired
	name    string
	free    func(P)
}

// retired is what a handle still answers after its object was deleted and the handle freed.
type retired struct {
	notFound string // containerd's not-found text for the deleted object: later calls fail with it
	// serverText is that failure's text as containerd's server sends it (without the class
	// suffix where the server's own text has none).
	serverText string
	pid        uint32
	exit       Exit
}

func (h *handle[P]) init(p P, name string, free func(P)) {
	h.p, h.open, h.name, h.free = p, true, name, free
}

// use runs f with the C handle. Using a handle retired by a delete fails with NotFound and no
// RPC, in containerd's words for the deleted object. Using one closed by Close fails with
// FailedPrecondition (IsClosed): never a panic, because the caller is often a goroutine that
// outlived the object (dockerd's stdin copier closing the stdin of a process that failed).
func (h *handle[P]) use(f func(p P) error) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.open {
		if h.retired != nil {
			return &Error{Status: NotFound, Message: h.retired.notFound, ServerMessage: h.retired.serverText, FromServer: true}
		}
		return &Error{Status: FailedPrecondition, Message: "lcd: " + h.name + " used after Close", closed: true}
	}
	if debugGC {
		runtime.GC()
	}
	return f(h.p)
}

// close frees the C handle once; later calls do nothing.
func (h *handle[P]) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.open {
		h.free(h.p)
		h.open = false
	}
}

// retire frees the handle of an object just deleted in containerd, so its native memory does not
// wait for a garbage collection to run the finalizer. pid, if given, reads the pid the object
// keeps answering. A call still in flight on another goroutine keeps the handle alive: the
// finalizer frees it later.
func (h *handle[P]) retire(r retired, pid func(P) uint32) {
	if !h.mu.TryLock() {
		return
	}
	defer h.mu.Unlock()
	if h.open {
		if pid != nil {
			r.pid = pid(h.p)
		}
		h.free(h.p)
		h.open, h.retired = false, &r
	}
}

// afterDelete is what the handle answers once retired, or nil while it is not (open, or
// closed without a delete). Its methods answer a nil *retired with zero values.
func (h *handle[P]) afterDelete() *retired {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.retired
}

func (r *retired) pidAfter() uint32 {
	if r == nil {
		return 0
	}
	return r.pid
}

func (r *retired) exitAfter() (Exit, bool) {
	if r == nil {
		return Exit{}, false
	}
	return r.exit, true
}

// track sets the finalizer backstop of an owner whose close method frees its handle.
func track[O any](owner *O, closeFn func(*O) error) {
	runtime.SetFinalizer(owner, func(o *O) { _ = closeFn(o) })
}
