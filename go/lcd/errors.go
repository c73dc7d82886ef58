package lcd

// Status codes and errors: the library's lcd_status and lcd_error objects as Go errors, and a
// call ended by its context in Go's words.

/*
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
)

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

// contextError is a call that ended with its context, in Go's words (containerd's client
// answers so); the library's own cancelled calls read the same.
func contextError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: DeadlineExceeded, Message: context.DeadlineExceeded.Error(), Context: "operation timed out"}
	}
	return &Error{Status: Cancelled, Message: context.Canceled.Error(), Context: "operation cancelled"}
}
