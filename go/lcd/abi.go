package lcd

/*
#include "libcontainerd_ffi.h"
*/
import "C"

import "fmt"

// abiVersion is the version of the C ABI this binding's code is written for. The header it is
// built with must declare the same LCD_ABI_VERSION (and the library report it, checked in
// cgo.go): version 2 creates containers from an lcd_container_config.
const abiVersion = 2

func init() {
	if C.LCD_ABI_VERSION != abiVersion {
		panic(fmt.Sprintf("lcd: the header's ABI version %d is not the binding's %d", C.LCD_ABI_VERSION, abiVersion))
	}
}
