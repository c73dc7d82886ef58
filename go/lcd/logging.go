package lcd

/*
#include "libcontainerd_ffi.h"
void lcd_go_log_trampoline(void *user_data, enum lcd_log_level level, const char *target, const char *message,
                           const struct lcd_log_field *fields, size_t n_fields);
*/
import "C"

import (
	"sync/atomic"
	"unsafe"
)

// LogLevel is the severity of a library log record.
type LogLevel int

// Log levels, most severe first.
const (
	LogError LogLevel = C.LCD_LOG_ERROR
	LogWarn  LogLevel = C.LCD_LOG_WARN
	LogInfo  LogLevel = C.LCD_LOG_INFO
	LogDebug LogLevel = C.LCD_LOG_DEBUG
	LogTrace LogLevel = C.LCD_LOG_TRACE
)

// LogSink receives the library's log records. It may be called from library threads and
// concurrently; it must not block for long or call back into blocking library functions.
type LogSink func(level LogLevel, target, message string, fields map[string]string)

var logSink atomic.Pointer[LogSink]

// SetLogSink routes the library's records at minLevel or more severe to sink; nil silences the
// library again (the default). The sink is process-wide.
func SetLogSink(sink LogSink, minLevel LogLevel) {
	if sink == nil {
		C.lcd_set_log_sink(nil, nil, C.int32_t(minLevel))
		logSink.Store(nil)
		return
	}
	logSink.Store(&sink)
	C.lcd_set_log_sink(C.lcd_log_fn(C.lcd_go_log_trampoline), nil, C.int32_t(minLevel))
}

//export lcdGoLogSink
func lcdGoLogSink(level C.int, target, message *C.char, fields *C.struct_lcd_log_field, n C.size_t) {
	sink := logSink.Load()
	if sink == nil {
		return
	}
	defer func() { _ = recover() }() // a panicking sink must not unwind into Rust
	kv := make(map[string]string, int(n))
	for _, f := range unsafe.Slice(fields, int(n)) {
		kv[C.GoString(f.key)] = C.GoString(f.value)
	}
	(*sink)(LogLevel(level), C.GoString(target), C.GoString(message), kv)
}
