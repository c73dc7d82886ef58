// Adapts the library's log callback type to the Go export (cgo exports take non-const
// pointers).
#include "libcontainerd_ffi.h"
#include "_cgo_export.h"

void lcd_go_log_trampoline(void *user_data, enum lcd_log_level level, const char *target, const char *message,
                           const struct lcd_log_field *fields, size_t n_fields) {
  (void)user_data;
  lcdGoLogSink((int)level, (char *)target, (char *)message, (struct lcd_log_field *)fields, n_fields);
}
