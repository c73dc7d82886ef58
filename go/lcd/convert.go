package lcd

// Values across the boundary: Go bytes and strings passed as (pointer, length) arguments, and
// the library's times (Unix nanoseconds) as time.Time.

/*
#include "libcontainerd_ffi.h"
*/
import "C"

import (
	"time"
	"unsafe"
)

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

// timeFromNanos is a time the library gives in Unix nanoseconds; 0 is none (the zero Time).
func timeFromNanos(n C.int64_t) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}
