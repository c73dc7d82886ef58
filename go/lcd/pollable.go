package lcd

/*
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"os"
	"syscall"
)

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
