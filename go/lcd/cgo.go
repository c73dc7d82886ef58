// Package lcd is the low-level Go binding of libcontainerd-ffi's C ABI: one Go type per C
// handle, Go-native values, context.Context for cancellation and deadlines. It imports
// nothing of moby or containerd; the adapter package builds moby's interfaces on it.
//
// The Rust static library is linked by its full path (target/release/libcontainerd_ffi.a,
// built by `make lib`), so a binary using this package is self-contained.
package lcd

/*
#cgo CFLAGS: -I${SRCDIR}/../../capi/include
#cgo LDFLAGS: ${SRCDIR}/../../target/release/libcontainerd_ffi.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
#include <stdlib.h>
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

func init() {
	if got := uint32(C.lcd_abi_version()); got != C.LCD_ABI_VERSION {
		panic(fmt.Sprintf("lcd: library ABI version %d does not match header version %d", got, C.LCD_ABI_VERSION))
	}
}

// Status is the library's status code (lcd_status).
type Status int

// The status codes of the C ABI.
const (
	OK                 Status = C.LCD_OK
	NotFound           Status = C.LCD_NOT_FOUND
	AlreadyExists      Status = C.LCD_ALREADY_EXISTS
	InvalidArgument    Status = C.LCD_INVALID_ARGUMENT
	FailedPrecondition Status = C.LCD_FAILED_PRECONDITION
	Unavailable        Status = C.LCD_UNAVAILABLE
	DeadlineExceeded   Status = C.LCD_DEADLINE_EXCEEDED
	Cancelled          Status = C.LCD_CANCELLED
	Unimplemented      Status = C.LCD_UNIMPLEMENTED
	Internal           Status = C.LCD_INTERNAL
	Unknown            Status = C.LCD_UNKNOWN
)

var statusNames = map[Status]string{
	OK: "ok", NotFound: "not found", AlreadyExists: "already exists", InvalidArgument: "invalid argument",
	FailedPrecondition: "failed precondition", Unavailable: "unavailable", DeadlineExceeded: "deadline exceeded",
	Cancelled: "cancelled", Unimplemented: "unimplemented", Internal: "internal", Unknown: "unknown",
}

func (s Status) String() string {
	if name, ok := statusNames[s]; ok {
		return name
	}
	return fmt.Sprintf("status %d", int(s))
}

// Error is a failed library call: its status, the message (containerd's own text word for
// word, as containerd's Go client presents it, for a failed containerd call) and the library's
// context apart from it.
type Error struct {
	Status  Status
	Message string
	// Context is what the library was doing (lcd_error_context), kept apart from Message so
	// that Message reads exactly as containerd's Go client would present the failure.
	Context string
	// ServerMessage is, when FromServer, containerd's server's own text of the failure as its
	// reply carried it (lcd_error_server_message): containerd 2's Go client presents this
	// text, without appending the class as Message (containerd 1.x's presentation) does.
	ServerMessage string
	FromServer    bool
	closed        bool
}

// IsClosed reports an error from a call on a handle already freed by Close.
func IsClosed(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.closed
}

// Error is the message alone: the text moby's client would show for the same failure. Use
// Context (or Detail) for what the library was doing.
func (e *Error) Error() string { return e.Message }

// Detail is the context and the message, for logs.
func (e *Error) Detail() string {
	if e.Context == "" {
		return e.Message
	}
	return e.Context + ": " + e.Message
}

// Is matches another *Error with the same status, so errors.Is(err, &lcd.Error{Status: lcd.NotFound}) works.
func (e *Error) Is(target error) bool {
	var other *Error
	return errors.As(target, &other) && other.Status == e.Status && other.Message == ""
}

// StatusOf returns the status of an error from this package, Unknown for others, OK for nil.
func StatusOf(err error) Status {
	if err == nil {
		return OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return Unknown
}

// check turns a status and error object into a Go error, freeing the object.
func check(status uint32, cerr *C.lcd_error) error {
	if status == C.LCD_OK {
		return nil
	}
	e := &Error{Status: Status(status), Message: fmt.Sprintf("libcontainerd: %s", Status(status))}
	if cerr != nil {
		e.Message = C.GoString(C.lcd_error_message(cerr))
		e.Context = C.GoString(C.lcd_error_context(cerr))
		if server := C.lcd_error_server_message(cerr); server != nil {
			e.ServerMessage, e.FromServer = C.GoString(server), true
		}
		C.lcd_error_free(cerr)
	}
	return e
}

// bytesArg passes Go memory as (pointer, length) without copying: the library copies what it
// keeps and does not retain the pointer past the call.
func bytesArg(b []byte) (*C.uint8_t, C.size_t) {
	if len(b) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.SliceData(b))), C.size_t(len(b))
}

func stringArg(s string) (*C.uint8_t, C.size_t) {
	if len(s) == 0 {
		return nil, 0
	}
	return (*C.uint8_t)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

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

// pollable duplicates a library-owned non-blocking descriptor into an *os.File in Go's poller
// (the library keeps and closes its own).
func pollable(fd C.int, name string) (*os.File, syscall.RawConn, error) {
	dup, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_DUPFD_CLOEXEC, 0)
	if errno != 0 {
		return nil, nil, &Error{Status: Internal, Message: "duplicate the " + name + " descriptor: " + errno.Error()}
	}
	f := os.NewFile(dup, name)
	raw, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, nil, &Error{Status: Internal, Message: "poll the " + name + " descriptor: " + err.Error()}
	}
	return f, raw, nil
}

// contextError is a call that ended with its context, in Go's words (containerd's client
// answers so); the library's own cancelled calls read the same.
func contextError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: DeadlineExceeded, Message: context.DeadlineExceeded.Error(), Context: "operation timed out"}
	}
	return &Error{Status: Cancelled, Message: context.Canceled.Error(), Context: "operation cancelled"}
}

func timeFromNanos(n C.int64_t) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}
