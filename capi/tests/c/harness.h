/*
 * What the C harness's files share (every .c file in capi/tests/c, built into one binary,
 * lifecycle_test): the check macro and its counters, the test bed's paths, the helpers that
 * check a call's error, make a container or wait for a pending call, and each file's tests.
 */
#ifndef LCD_HARNESS_H
#define LCD_HARNESS_H

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "libcontainerd_ffi.h"
#include "../../examples/busybox_spec.h"

#define S(str) (const uint8_t *)(str), strlen(str)

/* The number of checks that passed and failed (harness.c prints them). */
extern int passed, failed;

#define CHECK(cond, ...)                                                                           \
  do {                                                                                             \
    if (cond) {                                                                                    \
      passed++;                                                                                    \
    } else {                                                                                       \
      failed++;                                                                                    \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                         \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fprintf(stderr, "\n");                                                                       \
    }                                                                                              \
  } while (0)

/* The command line: containerd's socket, the busybox root filesystem, the state directory. */
extern const char *socket_path, *rootfs, *state_dir;

/* harness.c: checking calls, making containers, reading events, waiting for pending calls. */
lcd_status expect_error(lcd_status got, lcd_status want, lcd_error **errp, const char *what, const char *message_part);
void expect_containerd_text(lcd_status got, lcd_error **errp, const char *what, const char *message,
                            const char *context_part);
lcd_container_config *config_for(const char *id, const char *spec);
lcd_container *create(lcd_client *client, const char *id, const char *args);
lcd_event *next_event(lcd_event_stream *events);
int wait_pending(lcd_pending *pending, const char *what);
double now_s(void);

/* lifecycle.c: a container's life, kill and stats, a prepared task, idempotent starts. */
void test_lifecycle(lcd_client *client);
void test_kill(lcd_client *client);
void test_prepared_task(lcd_client *client);
void test_start_is_idempotent(lcd_client *client);
/* exec.c: execs, prepared execs, pause/resume, pids, update, checkpoint, re-attach. */
void test_exec_and_task_operations(lcd_client *client);
/* async.c: the _async twins, pending calls and notification descriptors. */
void test_async_calls(lcd_client *client);
void test_pending_notify(lcd_client *client);
/* errors.c: refused arguments, the container configuration's setters, cancellation, NULL
   handles, and freeing a stream under its reader. */
void test_errors(lcd_client *client);
void test_freeing_a_stream_wakes_its_reader(lcd_client *client);

#endif
