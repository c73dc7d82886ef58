package libcontainerd

import (
	cerrdefs "github.com/containerd/containerd/errdefs"
	"github.com/docker/docker/errdefs"

	"github.com/lcd-ffi/libcontainerd-ffi/go/mobytest"
)

// dockerd v24 (and v27, whose copy go/moby28/generate.sh writes) branches on moby's errdefs
// (its own interface checks) and containerd's.

func errorClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errdefs.IsNotFound(err):
		return "NotFound"
	case errdefs.IsConflict(err):
		return "Conflict"
	case errdefs.IsInvalidParameter(err) || cerrdefs.IsInvalidArgument(err):
		return "InvalidParameter"
	case cerrdefs.IsFailedPrecondition(err):
		return "FailedPrecondition"
	case cerrdefs.IsNotFound(err):
		return "containerd NotFound"
	}
	return "other"
}

// fullClass names every class dockerd branches on, moby's and containerd's.
func fullClass(err error) string {
	return mobytest.ClassNames(err, map[string]func(error) bool{
		"NotFound": errdefs.IsNotFound, "Conflict": errdefs.IsConflict, "InvalidParameter": errdefs.IsInvalidParameter,
		"Cancelled": errdefs.IsCancelled, "Deadline": errdefs.IsDeadline, "System": errdefs.IsSystem,
		"Unavailable": errdefs.IsUnavailable, "NotImplemented": errdefs.IsNotImplemented,
		"c.NotFound": cerrdefs.IsNotFound, "c.AlreadyExists": cerrdefs.IsAlreadyExists,
		"c.InvalidArgument": cerrdefs.IsInvalidArgument, "c.FailedPrecondition": cerrdefs.IsFailedPrecondition,
		"c.Unavailable": cerrdefs.IsUnavailable, "c.Canceled": cerrdefs.IsCanceled,
		"c.DeadlineExceeded": cerrdefs.IsDeadlineExceeded, "c.NotImplemented": cerrdefs.IsNotImplemented,
	})
}
