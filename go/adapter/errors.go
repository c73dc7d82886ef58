package adapter

import (
	"context"
	"fmt"
	"strings"

	"github.com/pkg/errors"

	"github.com/lcd-ffi/libcontainerd-ffi/go/lcd"
)

// ContainerdClasses are the error values of the containerd errdefs package a moby version
// tests with (errors.Is targets; from errdefs v0.3 on they also carry the class methods that
// the interface checks of moby's and containerd's errdefs look for).
type ContainerdClasses struct {
	NotFound, AlreadyExists, InvalidArgument, FailedPrecondition, Unavailable, NotImplemented, Unknown error
}

// MobyClasses are the wrappers of the moby version's own errdefs package.
type MobyClasses struct {
	NotFound, Conflict, InvalidParameter, NotImplemented func(error) error
}

// Errors is how one moby version classifies the library's errors.
type Errors struct {
	Containerd ContainerdClasses
	Moby       MobyClasses
	// WrapNotFound is moby's remote client's wrapError (v24 to v28): errors of containerd's
	// not-found class, or whose text says so, become moby's NotFound. v29's client dropped it
	// and passes containerd's errors on as they are.
	WrapNotFound bool
	// ServerText is containerd 2's client (moby v28 on): a failure reads as the server's own
	// text, without the class suffix that containerd 1.x's client appends when the server's
	// text lacks it. Cancelled and timed-out calls read as in 1.x (Go's context errors have no
	// message of their own to replace).
	ServerText bool
}

// classError keeps the library's message word for word (dockerd matches on it to choose exit
// codes) and answers containerd's errdefs checks like an error from containerd's Go client.
type classError struct {
	message string
	class   error
}

func (e *classError) Error() string { return e.message }
func (e *classError) Unwrap() error { return e.class }

func (e *Errors) classOf(status lcd.Status) error {
	c := e.Containerd
	switch status {
	case lcd.NotFound:
		return c.NotFound
	case lcd.AlreadyExists:
		return c.AlreadyExists
	case lcd.InvalidArgument:
		return c.InvalidArgument
	case lcd.FailedPrecondition:
		return c.FailedPrecondition
	case lcd.Unavailable:
		return c.Unavailable
	case lcd.Unimplemented:
		return c.NotImplemented
	case lcd.Cancelled:
		// containerd's client returns Go's context errors (cerrdefs.IsCanceled /
		// IsDeadlineExceeded; not moby's errdefs classes).
		return context.Canceled
	case lcd.DeadlineExceeded:
		return context.DeadlineExceeded
	}
	return c.Unknown
}

// toError turns a library error into the error containerd's Go client gives for the same
// failure: the same text (the library's message is containerd's text; its context is left out)
// and the same class.
func (e *Errors) toError(err error) error {
	if err == nil {
		return nil
	}
	status := lcd.StatusOf(err)
	return &classError{message: e.text(err, status), class: e.classOf(status)}
}

// text is the failure's text as the version's containerd client presents it.
func (e *Errors) text(err error, status lcd.Status) string {
	var le *lcd.Error
	if !e.ServerText || status == lcd.Cancelled || status == lcd.DeadlineExceeded ||
		!errors.As(err, &le) || !le.FromServer || le.ServerMessage == "" {
		return err.Error()
	}
	return le.ServerMessage
}

// wrapError is moby's rule where the version has it: not-found errors (by class or by text)
// become moby's NotFound, everything else passes unchanged.
func (e *Errors) wrapError(err error) error {
	err = e.toError(err)
	if err == nil || !e.WrapNotFound {
		return err
	}
	if errors.Is(err, e.Containerd.NotFound) {
		return e.Moby.NotFound(err)
	}
	msg := err.Error()
	for _, s := range []string{"container does not exist", "not found", "no such container"} {
		if strings.Contains(msg, s) {
			return e.Moby.NotFound(err)
		}
	}
	return err
}

// idInUse is moby's error for an id containerd already has.
func (e *Errors) idInUse() error {
	return errors.WithStack(e.Moby.Conflict(errors.New("id already in use")))
}

// orConflict is moby's error for a failed create or exec: a used id is a conflict.
func (e *Errors) orConflict(err error) error {
	if lcd.StatusOf(err) == lcd.AlreadyExists {
		return e.idInUse()
	}
	return e.wrapError(err)
}

func (e *Errors) invalidParameter(err error, what string) error {
	return e.Moby.InvalidParameter(errors.Wrap(err, what))
}

func (e *Errors) notImplemented(format string, args ...interface{}) error {
	return e.Moby.NotImplemented(fmt.Errorf(format, args...))
}
