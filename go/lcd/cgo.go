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

import "fmt"

func init() {
	if got := uint32(C.lcd_abi_version()); got != C.LCD_ABI_VERSION {
		panic(fmt.Sprintf("lcd: library ABI version %d does not match header version %d", got, C.LCD_ABI_VERSION))
	}
}
