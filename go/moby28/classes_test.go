package moby28

import (
	cerrdefs "github.com/containerd/errdefs"

	"github.com/lcd-ffi/libcontainerd-ffi/go/mobytest"
)

// From v28, moby's errdefs.Is* are containerd/errdefs' checks, which dockerd calls directly
// from v29 on.

func errorClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case cerrdefs.IsNotFound(err):
		return "NotFound"
	case cerrdefs.IsConflict(err):
		return "Conflict"
	case cerrdefs.IsInvalidArgument(err):
		return "InvalidParameter"
	case cerrdefs.IsFailedPrecondition(err):
		return "FailedPrecondition"
	}
	return "other"
}

// fullClass names every class dockerd branches on.
func fullClass(err error) string {
	return mobytest.ClassNames(err, map[string]func(error) bool{
		"NotFound": cerrdefs.IsNotFound, "AlreadyExists": cerrdefs.IsAlreadyExists, "Conflict": cerrdefs.IsConflict,
		"InvalidArgument": cerrdefs.IsInvalidArgument, "FailedPrecondition": cerrdefs.IsFailedPrecondition,
		"Unavailable": cerrdefs.IsUnavailable, "Canceled": cerrdefs.IsCanceled, "DeadlineExceeded": cerrdefs.IsDeadlineExceeded,
		"NotImplemented": cerrdefs.IsNotImplemented, "Internal": cerrdefs.IsInternal, "Unknown": cerrdefs.IsUnknown,
	})
}
