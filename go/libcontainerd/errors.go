package libcontainerd

import (
	"context"
	"strings"

	cerrdefs "github.com/containerd/containerd/errdefs"
	"github.com/docker/docker/errdefs"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

// classError keeps the library's message word for word (dockerd matches on it to choose exit
// codes) and answers containerd's errdefs.IsXxx like an error from containerd's Go client.
type classError struct {
	message string
	class   error
}

func (e *classError) Error() string { return e.message }
func (e *classError) Unwrap() error { return e.class }

var classOf = map[lcd.Status]error{
	lcd.NotFound:           cerrdefs.ErrNotFound,
	lcd.AlreadyExists:      cerrdefs.ErrAlreadyExists,
	lcd.InvalidArgument:    cerrdefs.ErrInvalidArgument,
	lcd.FailedPrecondition: cerrdefs.ErrFailedPrecondition,
	lcd.Unavailable:        cerrdefs.ErrUnavailable,
	lcd.Unimplemented:      cerrdefs.ErrNotImplemented,
	lcd.Unknown:            cerrdefs.ErrUnknown,
	lcd.Internal:           cerrdefs.ErrUnknown,
}

// toError turns a library error into the error containerd's Go client gives for the same
// failure: the same text (the library's message is containerd's text; its context is left out)
// and the same class. A cancelled or timed-out call is Go's context error, as containerd's
// client returns it (cerrdefs.IsCanceled / IsDeadlineExceeded; not moby's errdefs classes).
func toError(err error) error {
	if err == nil {
		return nil
	}
	switch lcd.StatusOf(err) {
	case lcd.Cancelled:
		return &classError{message: err.Error(), class: context.Canceled}
	case lcd.DeadlineExceeded:
		return &classError{message: err.Error(), class: context.DeadlineExceeded}
	}
	class, ok := classOf[lcd.StatusOf(err)]
	if !ok {
		class = cerrdefs.ErrUnknown
	}
	return &classError{message: err.Error(), class: class}
}

// wrapError is moby's rule: not-found errors (by class or by text) become errdefs.NotFound,
// everything else passes unchanged.
func wrapError(err error) error {
	err = toError(err)
	switch {
	case err == nil:
		return nil
	case cerrdefs.IsNotFound(err):
		return errdefs.NotFound(err)
	}
	msg := err.Error()
	for _, s := range []string{"container does not exist", "not found", "no such container"} {
		if strings.Contains(msg, s) {
			return errdefs.NotFound(err)
		}
	}
	return err
}
