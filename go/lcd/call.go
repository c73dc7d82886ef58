package lcd

// Making calls: a blocking C call with a context's cancellation and deadline, and a call made
// through its _async variant and waited for in Go's poller.

/*
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"
)

// yieldEvery bounds how long a goroutine making blocking C calls back to back goes without
// passing through the scheduler; half the 10 ms after which the runtime treats it as running
// too long.
const yieldEvery = 5 * time.Millisecond

// lastYield is when yieldBeforeBlocking last yielded, in nanoseconds on the monotonic clock
// since processStart.
var (
	lastYield    atomic.Int64
	processStart = time.Now()
)

// yieldBeforeBlocking lets the scheduler run, at most once per yieldEvery, before a C call that
// blocks. Why: a goroutine that makes blocking cgo calls back to back never passes through the
// scheduler, so its processor's scheduling tick stops moving. After 10 ms the runtime's monitor
// (sysmon) takes that for a goroutine running too long and, the goroutine being in a C call,
// takes its processor away on every later call that lasts more than one monitor tick (20 µs):
// each call then wakes a second thread for nothing and comes back without a processor, about
// three extra context switches per call (measured in BENCHMARKS.md, change 19; Go 1.24 to
// 1.26 alike). One runtime.Gosched moves the tick and ends that; it costs one wake-up of an
// idle thread, so it is rationed.
func yieldBeforeBlocking() {
	now := int64(time.Since(processStart))
	last := lastYield.Load()
	if now-last >= int64(yieldEvery) && lastYield.CompareAndSwap(last, now) {
		runtime.Gosched()
	}
}

// withCancel runs a blocking C call with a cancel token that carries ctx's deadline and is
// fired when ctx is done (by a context.AfterFunc callback, which the call outlives).
func withCancel(ctx context.Context, call func(cancel *C.lcd_cancel) error) error {
	if err := ctx.Err(); err != nil {
		return contextError(err)
	}
	done := ctx.Done()
	var timeoutMs C.uint64_t
	if deadline, ok := ctx.Deadline(); ok {
		left := time.Until(deadline)
		if left <= 0 {
			return contextError(context.DeadlineExceeded)
		}
		timeoutMs = C.uint64_t((left + time.Millisecond - 1) / time.Millisecond)
	}
	if done == nil && timeoutMs == 0 {
		return call(nil) // context.Background(): nothing to watch
	}
	token := C.lcd_cancel_new(timeoutMs)
	defer C.lcd_cancel_free(token)
	var err error
	if done != nil {
		// No goroutine per call: the context runs the callback only if it ends first.
		fired := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			C.lcd_cancel_fire(token)
			close(fired)
		})
		err = call(token)
		if !stop() {
			<-fired // the callback started: let it finish with the token before it is freed
		}
	} else {
		err = call(token)
	}
	if StatusOf(err) == Cancelled && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The deadline closed ctx.Done() too, and the callback got there first.
		return contextError(context.DeadlineExceeded)
	}
	return err
}

// call runs one blocking C call on the handle with ctx's cancellation and deadline.
func (h *handle[P]) call(ctx context.Context, f func(p P, cancel *C.lcd_cancel, cerr **C.lcd_error) uint32) error {
	yieldBeforeBlocking()
	return h.use(func(p P) error {
		return withCancel(ctx, func(cancel *C.lcd_cancel) error {
			var cerr *C.lcd_error
			return check(f(p, cancel, &cerr), cerr)
		})
	})
}

// asyncCall runs a library call through its _async variant: start launches it and gives its
// pending handle, the goroutine waits in Go's poller until the call has finished, and finish
// collects the result. Every call that waits for containerd goes this way, so no goroutine
// sits in a cgo call while containerd works: while one does, Go's monitor thread stays awake
// polling every 20 µs to 10 ms, and after 10 ms it takes the processor back (see
// capi/src/pending.rs and BENCHMARKS.md). Cancelling ctx fires the call's token, which
// finishes the call with LCD_CANCELLED. The wait is on a pooled notifier (lcd_pending_notify),
// not a new descriptor per call.
func (h *handle[P]) asyncCall(ctx context.Context,
	start func(p P, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32,
	finish func(pending *C.lcd_pending, cerr **C.lcd_error) uint32) error {
	return h.use(func(p P) error {
		return withCancel(ctx, func(cancel *C.lcd_cancel) error {
			n, err := takeNotifier()
			if err != nil {
				return err
			}
			var pending *C.lcd_pending
			var cerr *C.lcd_error
			if err := check(start(p, cancel, &pending, &cerr), cerr); err != nil {
				n.release()
				return err
			}
			signalled := false
			err = func() error {
				if err := check(C.lcd_pending_notify(pending, n.peer, &cerr), cerr); err != nil {
					return err
				}
				if err := n.wait(); err != nil {
					return err
				}
				signalled = true
				return check(finish(pending, &cerr), cerr)
			}()
			// After the free the library no longer writes to the notifier, so it can go back to
			// the pool once its byte was read.
			C.lcd_pending_free(pending)
			if signalled {
				n.release()
			} else {
				n.close()
			}
			return err
		})
	})
}

// asyncExitCall is asyncCall for a call that reports an exit code and time.
func (h *handle[P]) asyncExitCall(ctx context.Context,
	start func(p P, cancel *C.lcd_cancel, out **C.lcd_pending, cerr **C.lcd_error) uint32) (exit Exit, err error) {
	err = h.asyncCall(ctx, start, func(pending *C.lcd_pending, cerr **C.lcd_error) uint32 {
		var code C.uint32_t
		var at C.int64_t
		rc := C.lcd_pending_finish_exit(pending, &code, &at, cerr)
		exit = Exit{Code: uint32(code), ExitedAt: timeFromNanos(at)}
		return rc
	})
	return exit, err
}
