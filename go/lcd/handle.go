package lcd

import (
	"runtime"
	"sync"
)

// handle owns one C handle (P is the C pointer type). Calls hold a read lock for their whole
// duration, so Close (which takes the write lock) never frees a handle a call is still using:
// Close waits for calls in flight, so cancel their contexts first. A finalizer frees handles
// that were never closed.
type handle[P any] struct {
	mu   sync.RWMutex
	p    P
	open bool
	name string
	free func(P)
}

func (h *handle[P]) init(p P, name string, free func(P)) {
	h.p, h.open, h.name, h.free = p, true, name, free
}

// use runs f with the C handle; using a closed handle is a programming error and panics.
func (h *handle[P]) use(f func(p P) error) error {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.open {
		panic("lcd: " + h.name + " used after Close")
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

// track sets the finalizer backstop of an owner whose close method frees its handle.
func track[O any](owner *O, closeFn func(*O) error) {
	runtime.SetFinalizer(owner, func(o *O) { _ = closeFn(o) })
}
