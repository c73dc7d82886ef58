package main

/*
#include <malloc.h>
*/
import "C"

import (
	"runtime"
	"runtime/debug"
)

// memorySample splits the process's memory so that growth can be put where it happens.
type memorySample struct {
	rssMiB float64
	// cHeapKiB is what the C allocator has handed out and not had back (glibc's mallinfo2:
	// arena and mmapped bytes in use). In ours that is the library; moby's client has none.
	cHeapKiB float64
	// goHeapKiB is the Go heap's live objects right after a collection.
	goHeapKiB float64
}

// sampleMemory collects garbage and returns freed Go memory to the OS first, so that the
// figures show what is kept, not what the collector has yet to reclaim.
func sampleMemory() memorySample {
	debug.FreeOSMemory()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	info := C.mallinfo2()
	return memorySample{
		rssMiB:    rssMiB(),
		cHeapKiB:  float64(info.uordblks+info.hblkhd) / 1024,
		goHeapKiB: float64(m.HeapAlloc) / 1024,
	}
}

// slopePer1000 is the least-squares slope of ys against xs (lifecycles), per 1,000 lifecycles:
// steady growth shows as a slope well above zero, a one-time settling or noise does not.
func slopePer1000(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
		sxx += xs[i] * xs[i]
		sxy += xs[i] * ys[i]
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den * 1000
}
