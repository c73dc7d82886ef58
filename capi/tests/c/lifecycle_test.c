/*
 * C test harness for the libcontainerd-ffi C ABI, run against the test bed's real containerd
 * (and under valgrind memcheck by the test command).
 *
 *   lifecycle_test SOCKET ROOTFS STATE_DIR
 *
 * Prints one line per check and ends with "N passed, N failed"; exits non-zero on failure.
 */
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
/* A string literal with embedded NULs (labels are "key\0value\0..."). */
#define LIT(str) (const uint8_t *)(str), sizeof(str) - 1

static int passed, failed;

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

static const char *socket_path, *rootfs, *state_dir;

/* Log sink: counts the records of Version requests. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_requests;

static void count_log(void *user_data, lcd_log_level level, const char *target, const char *message,
                      const lcd_log_field *fields, size_t n_fields) {
  (void)target;
  int *counter = user_data;
  if (level == LCD_LOG_TRACE && strcmp(message, "containerd request") == 0 && n_fields > 0 &&
      strcmp(fields[0].key, "method") == 0 && strstr(fields[0].value, "Version/Version") != NULL) {
    pthread_mutex_lock(&log_lock);
    (*counter)++;
    pthread_mutex_unlock(&log_lock);
  }
}

/* Whether containerd's version string is the test bed's containerd (LCD_CONTAINERD_VERSION: "1.6"
 * for Debian's package, which says "1.6.20~ds1"; "1.7.N" or "2.N.M" for the test bed's own builds,
 * which say "v1.7.N", "v2.N.M" as upstream's releases do), or without that variable any 1.x or 2.x. */
static int is_test_bed_containerd_version(const char *version) {
  const char *wanted = getenv("LCD_CONTAINERD_VERSION");
  if (!version) return 0;
  if (wanted && *wanted) {
    if (strcmp(wanted, "1.6") == 0) return strncmp(version, "1.6.", 4) == 0;
    return version[0] == 'v' && strcmp(version + 1, wanted) == 0;
  }
  if (version[0] == 'v') version++;
  return strncmp(version, "1.", 2) == 0 || strncmp(version, "2.", 2) == 0;
}

/* Checks a call's status and error object, then frees the error. Takes the address of the
 * caller's error variable so it is read after the call has written it. message_part is looked
 * for in the whole story, "context: message" (the message alone is containerd's text; what the
 * library was doing is in lcd_error_context). */
static lcd_status expect_error(lcd_status got, lcd_status want, lcd_error **errp, const char *what,
                               const char *message_part) {
  lcd_error *err = *errp;
  *errp = NULL;
  CHECK(got == want, "%s: status %d (%s: %s), expected %d", what, (int)got, err ? lcd_error_context(err) : "",
        err ? lcd_error_message(err) : "", (int)want);
  if (got != LCD_OK) {
    CHECK(err != NULL && lcd_error_status(err) == got, "%s: error object carries the status", what);
    if (message_part && err) {
      char story[4096];
      snprintf(story, sizeof story, "%s: %s", lcd_error_context(err), lcd_error_message(err));
      CHECK(strstr(story, message_part) != NULL, "%s: error '%s' lacks '%s'", what, story, message_part);
    }
  }
  lcd_error_free(err);
  return got;
}

/* A failed containerd call: the message is containerd's text as its Go client presents it (the
 * server's words and the class suffix), with nothing in front; the context says what the
 * library was doing. */
static void expect_containerd_text(lcd_status got, lcd_error **errp, const char *what, const char *message,
                                   const char *context_part) {
  lcd_error *err = *errp;
  *errp = NULL;
  CHECK(got != LCD_OK && err != NULL, "%s: fails with an error object", what);
  if (err) {
    CHECK(strcmp(lcd_error_message(err), message) == 0, "%s: message '%s', expected '%s'", what,
          lcd_error_message(err), message);
    CHECK(strstr(lcd_error_context(err), context_part) != NULL, "%s: context '%s' lacks '%s'", what,
          lcd_error_context(err), context_part);
  }
  lcd_error_free(err);
}

static lcd_container *create(lcd_client *client, const char *id, const char *args) {
  char spec[4096];
  lcd_container *container = NULL;
  lcd_error *err = NULL;
  CHECK(lcd_example_spec(spec, sizeof spec, rootfs, id, "lcd-c-test", args, false) > 0, "spec fits");
  expect_error(lcd_container_create(client, S(id), S(spec), S("io.containerd.runc.v2"), NULL, 0, NULL, 0,
                                    LIT("test\0c-harness\0"), NULL, 0, NULL, &container, &err),
               LCD_OK, &err, "create container", NULL);
  return container;
}

static lcd_event *next_event(lcd_event_stream *events) {
  lcd_event *event = NULL;
  lcd_error *err = NULL;
  lcd_cancel *deadline = lcd_cancel_new(30000);
  expect_error(lcd_event_stream_next(events, deadline, &event, &err), LCD_OK, &err, "next event", NULL);
  lcd_cancel_free(deadline);
  return event;
}

static void test_lifecycle(lcd_client *client) {
  lcd_error *err = NULL;
  lcd_event_stream *events = NULL;
  expect_error(lcd_client_subscribe(client, &events, &err), LCD_OK, &err, "subscribe", NULL);

  lcd_container *container = create(client, "c-life", "[\"sh\",\"-c\",\"echo out; echo err >&2; exit 5\"]");
  if (!container)
    return;
  lcd_task *task = NULL;
  expect_error(lcd_task_create(container, false, NULL, &task, &err), LCD_OK, &err, "create task", NULL);
  if (!task)
    return;
  CHECK(lcd_task_stdio_path(task, LCD_STDIN) == NULL, "no stdin fifo unless asked for");
  CHECK(lcd_task_stdio_path(task, LCD_STDERR) != NULL, "stderr fifo without a terminal");
  CHECK(!lcd_task_terminal(task), "no terminal");
  int out_fd = open(lcd_task_stdio_path(task, LCD_STDOUT), O_RDONLY);
  int err_fd = open(lcd_task_stdio_path(task, LCD_STDERR), O_RDONLY);
  CHECK(out_fd >= 0 && err_fd >= 0, "open fifos");
  expect_error(lcd_task_start(task, NULL, &err), LCD_OK, &err, "start task", NULL);
  uint32_t pid = lcd_task_pid(task);
  CHECK(pid > 0, "pid after start");

  char buf[256] = {0};
  ssize_t n = read(out_fd, buf, sizeof buf - 1);
  CHECK(n == 4 && strcmp(buf, "out\n") == 0, "stdout is 'out\\n', got %zd '%s'", n, buf);
  memset(buf, 0, sizeof buf);
  n = read(err_fd, buf, sizeof buf - 1);
  CHECK(n == 4 && strcmp(buf, "err\n") == 0, "stderr is 'err\\n', got %zd '%s'", n, buf);
  close(out_fd);
  close(err_fd);

  int saw_create = 0, saw_start = 0, saw_exit = 0;
  while (!saw_exit) {
    lcd_event *event = next_event(events);
    if (!event)
      break;
    if (strcmp(event->container_id, "c-life") == 0) {
      if (event->kind == LCD_EVENT_CREATE)
        saw_create = !saw_start && !saw_exit;
      if (event->kind == LCD_EVENT_START)
        saw_start = saw_create && event->pid == pid;
      if (event->kind == LCD_EVENT_EXIT) {
        saw_exit = 1;
        CHECK(event->exit_code == 5 && event->pid == pid && event->exited_at_unix_nanos > 0,
              "exit event fields: code %u pid %u", event->exit_code, event->pid);
        CHECK(strcmp(event->process_id, "c-life") == 0, "init exit names the container as process");
      }
    }
    lcd_event_free(event);
  }
  CHECK(saw_create && saw_start && saw_exit, "create, start, exit events in order");

  uint32_t code = 0;
  int64_t exited_at = 0;
  expect_error(lcd_task_wait(task, NULL, &code, &exited_at, &err), LCD_OK, &err, "wait", NULL);
  CHECK(code == 5 && exited_at > 0, "wait reports exit code 5");
  lcd_task_status status;
  expect_error(lcd_task_get_status(task, NULL, &status, &err), LCD_OK, &err, "status", NULL);
  CHECK(status.state == LCD_STATE_STOPPED && status.exit_code == 5, "status stopped with 5");
  code = 0;
  expect_error(lcd_task_delete(task, NULL, &code, NULL, &err), LCD_OK, &err, "delete task", NULL);
  CHECK(code == 5, "delete reports exit code 5");
  expect_containerd_text(lcd_task_delete(task, NULL, &code, NULL, &err), &err, "second task delete",
                         "task c-life not found: not found", "c-life");

  char bundle[512];
  snprintf(bundle, sizeof bundle, "%s", lcd_container_bundle_dir(container));
  expect_error(lcd_container_delete(container, NULL, &err), LCD_OK, &err, "delete container", NULL);
  struct stat st;
  CHECK(stat(bundle, &st) != 0, "bundle directory %s removed", bundle);

  /* Free in an unusual order: the task outlives its container and the stream. */
  lcd_container_free(container);
  lcd_event_stream_free(events);
  lcd_task_free(task);
}

static void test_kill(lcd_client *client) {
  lcd_error *err = NULL;
  lcd_container *container = create(client, "c-kill", "[\"sleep\",\"1000\"]");
  lcd_task *task = NULL;
  expect_error(lcd_task_create(container, false, NULL, &task, &err), LCD_OK, &err, "create task", NULL);
  expect_error(lcd_task_start(task, NULL, &err), LCD_OK, &err, "start", NULL);
  expect_error(lcd_task_delete(task, NULL, NULL, NULL, &err), LCD_FAILED_PRECONDITION, &err,
               "delete of a running task", NULL);
  expect_error(lcd_container_delete(container, NULL, &err), LCD_FAILED_PRECONDITION, &err,
               "delete of a container with a task", "cannot delete running task");
  lcd_stats *stats = NULL;
  uint64_t rpcs_before = lcd_client_rpc_total(client);
  expect_error(lcd_task_stats(task, NULL, &stats, &err), LCD_OK, &err, "stats", NULL);
  CHECK(lcd_client_rpc_total(client) - rpcs_before == 1, "stats is one RPC, got %llu",
        (unsigned long long)(lcd_client_rpc_total(client) - rpcs_before));
  lcd_stats_figures figures = lcd_stats_get_figures(stats);
  size_t payload_len = 0;
  CHECK(lcd_stats_payload(stats, &payload_len) != NULL && payload_len > 0, "raw metrics payload");
  CHECK(strstr(lcd_stats_type_url(stats), "io.containerd.cgroups.v") != NULL, "metrics type %s",
        lcd_stats_type_url(stats));
  CHECK(figures.cgroup_version >= 1 && figures.memory_usage_bytes > 0 && figures.pids_current >= 1,
        "stats figures: v%u mem %llu pids %llu", figures.cgroup_version,
        (unsigned long long)figures.memory_usage_bytes, (unsigned long long)figures.pids_current);
  CHECK(figures.memory_limit_bytes > 0 && figures.cpu_usage_ns > 0, "stats figures: limit %llu cpu %llu ns",
        (unsigned long long)figures.memory_limit_bytes, (unsigned long long)figures.cpu_usage_ns);
  int64_t read_age_s = (int64_t)time(NULL) - lcd_stats_read_unix_nanos(stats) / 1000000000;
  CHECK(lcd_stats_read_unix_nanos(stats) > 0 && read_age_s >= -5 && read_age_s < 60,
        "stats read time within the last minute (%lld s ago)", (long long)read_age_s);
  lcd_stats_free(stats);
  lcd_stats *untouched = (lcd_stats *)&figures;
  expect_error(lcd_task_stats(NULL, NULL, &untouched, &err), LCD_INVALID_ARGUMENT, &err, "stats of NULL task", NULL);
  expect_error(lcd_task_stats(task, NULL, NULL, &err), LCD_INVALID_ARGUMENT, &err, "stats without out", NULL);
  CHECK(untouched == (lcd_stats *)&figures, "failed stats leaves *out alone");
  lcd_cancel *short_wait = lcd_cancel_new(200);
  expect_error(lcd_task_wait(task, short_wait, NULL, NULL, &err), LCD_DEADLINE_EXCEEDED, &err,
               "wait with a deadline on a running task", NULL);
  lcd_cancel_free(short_wait);
  expect_error(lcd_task_kill(task, SIGKILL, NULL, &err), LCD_OK, &err, "kill", NULL);
  uint32_t code = 0;
  expect_error(lcd_task_wait(task, NULL, &code, NULL, &err), LCD_OK, &err, "wait", NULL);
  CHECK(code == 137, "killed task exits 137, got %u", code);
  expect_error(lcd_task_kill(task, SIGTERM, NULL, &err), LCD_NOT_FOUND, &err, "kill of an exited task", NULL);
  CHECK(lcd_stats_get_figures(NULL).cgroup_version == 0 && lcd_stats_payload(NULL, NULL) == NULL, "stats of NULL");
  expect_error(lcd_task_delete(task, NULL, NULL, NULL, &err), LCD_OK, &err, "delete task", NULL);
  expect_error(lcd_task_stats(task, NULL, &untouched, &err), LCD_NOT_FOUND, &err, "stats of a deleted task", NULL);
  CHECK(untouched == (lcd_stats *)&figures, "stats of a deleted task leaves *out alone");
  expect_error(lcd_container_delete(container, NULL, &err), LCD_OK, &err, "delete container", NULL);
  lcd_task_free(task);
  lcd_container_free(container);
}

static void *fire_later(void *cancel) {
  usleep(100 * 1000);
  lcd_cancel_fire((lcd_cancel *)cancel);
  return NULL;
}

static void test_errors(lcd_client *client) {
  lcd_error *err = NULL;
  lcd_container *container = NULL;
  char spec[4096];
  lcd_example_spec(spec, sizeof spec, rootfs, "x", "lcd-c-test", "[\"true\"]", false);

  expect_error(lcd_container_create(client, S("../x"), S(spec), S("io.containerd.runc.v2"), NULL, 0, NULL, 0,
                                    NULL, 0, NULL, 0, NULL, &container, &err),
               LCD_INVALID_ARGUMENT, &err, "invalid id", "not a valid identifier");
  expect_error(lcd_container_create(client, S("bad-json"), S("{\"process\":"), S("io.containerd.runc.v2"), NULL, 0,
                                    NULL, 0, NULL, 0, NULL, 0, NULL, &container, &err),
               LCD_INVALID_ARGUMENT, &err, "invalid JSON", "JSON");
  expect_error(lcd_container_create(client, S("bad-labels"), S(spec), S("io.containerd.runc.v2"), NULL, 0, NULL, 0,
                                    (const uint8_t *)"key", 3, NULL, 0, NULL, &container, &err),
               LCD_INVALID_ARGUMENT, &err, "unterminated labels", "labels");
  expect_error(lcd_container_create(NULL, S("x"), S(spec), S("io.containerd.runc.v2"), NULL, 0, NULL, 0, NULL, 0, NULL, 0,
                                    NULL, &container, &err),
               LCD_INVALID_ARGUMENT, &err, "NULL client", "NULL");
  expect_error(lcd_container_create(client, NULL, 5, S(spec), S("io.containerd.runc.v2"), NULL, 0, NULL, 0, NULL,
                                    0, NULL, 0, NULL, &container, &err),
               LCD_INVALID_ARGUMENT, &err, "NULL id with a length", "NULL");
  expect_error(lcd_container_create(client, S("x"), S(spec), S("io.containerd.runc.v2"), NULL, 0, NULL, 0, NULL, 0, NULL, 0,
                                    NULL, NULL, &err),
               LCD_INVALID_ARGUMENT, &err, "NULL out-parameter", "NULL");
  expect_error(lcd_container_create(client, S("bad-fields"), S(spec), S("io.containerd.runc.v2"), NULL, 0, NULL, 0,
                                    NULL, 0, (const uint8_t *)"\xff\xff", 2, NULL, &container, &err),
               LCD_INVALID_ARGUMENT, &err, "record fields that are not protobuf", "protobuf");
  CHECK(container == NULL, "out-parameters untouched on failure");
  expect_error(lcd_container_load(client, S("no-such-container"), NULL, &container, &err), LCD_NOT_FOUND, &err,
               "load unknown", "no such container");
  CHECK(lcd_error_context(NULL)[0] == '\0' && lcd_error_message(NULL)[0] == '\0', "a NULL error reads as empty");
  CHECK(lcd_container_create(client, S("x"), S(spec), S(""), NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, &container, NULL) ==
            LCD_INVALID_ARGUMENT,
        "errors can be ignored with a NULL err");

  lcd_container *first = create(client, "c-dup", "[\"true\"]");
  expect_error(lcd_container_create(client, S("c-dup"), S(spec), S("io.containerd.runc.v2"), NULL, 0, NULL, 0, NULL,
                                    0, NULL, 0, NULL, &container, &err),
               LCD_ALREADY_EXISTS, &err, "duplicate id", "id already in use");
  expect_error(lcd_container_delete(first, NULL, &err), LCD_OK, &err, "delete first", NULL);
  lcd_container_free(first);

  lcd_client *other = NULL;
  expect_error(lcd_client_connect(S("/nonexistent.sock"), S("ns"), S(state_dir), NULL, &other, &err),
               LCD_UNAVAILABLE, &err, "connect to a missing socket", "/nonexistent.sock");
  expect_error(lcd_client_connect(S(socket_path), S("bad/ns"), S(state_dir), NULL, &other, &err),
               LCD_INVALID_ARGUMENT, &err, "bad namespace", "namespace");

  /* Cancelling a blocked call from another thread. */
  lcd_event_stream *events = NULL;
  expect_error(lcd_client_subscribe(client, &events, &err), LCD_OK, &err, "subscribe", NULL);
  lcd_event_stream *second = NULL;
  expect_error(lcd_client_subscribe(client, &second, &err), LCD_ALREADY_EXISTS, &err, "second stream", NULL);
  lcd_cancel *cancel = lcd_cancel_new(0);
  pthread_t thread;
  pthread_create(&thread, NULL, fire_later, cancel);
  lcd_event *event = NULL;
  expect_error(lcd_event_stream_next(events, cancel, &event, &err), LCD_CANCELLED, &err, "cancelled next event",
               NULL);
  pthread_join(thread, NULL);
  lcd_cancel_free(cancel);

  /* Polling instead of blocking: an idle stream's descriptor is not readable and try_next
     gives no event. */
  int ready_fd = lcd_event_stream_fd(events);
  CHECK(ready_fd >= 0, "event stream descriptor: %d", ready_fd);
  struct pollfd pollfd = {.fd = ready_fd, .events = POLLIN};
  CHECK(poll(&pollfd, 1, 0) == 0, "idle stream's descriptor is not readable");
  event = (lcd_event *)1;
  expect_error(lcd_event_stream_try_next(events, &event, &err), LCD_OK, &err, "try_next on an idle stream", NULL);
  CHECK(event == NULL, "try_next on an idle stream gives no event");
  expect_error(lcd_event_stream_try_next(NULL, &event, &err), LCD_INVALID_ARGUMENT, &err, "try_next on NULL",
               "event stream");
  expect_error(lcd_event_stream_try_next(events, NULL, &err), LCD_INVALID_ARGUMENT, &err, "try_next without out",
               "out");
  CHECK(lcd_event_stream_fd(NULL) == -1, "descriptor of NULL");
  lcd_event_stream_free(events);

  /* NULL handles never crash. */
  CHECK(lcd_task_pid(NULL) == 0, "pid of NULL");
  CHECK(lcd_task_stdio_path(NULL, LCD_STDOUT) == NULL, "stdio of NULL");
  CHECK(lcd_process_stdio_path(NULL, 42) == NULL, "unknown stream");
  CHECK(strcmp(lcd_container_id(NULL), "") == 0, "id of NULL");
  CHECK(lcd_error_status(NULL) == LCD_INVALID_ARGUMENT, "status of NULL error");
  expect_error(lcd_task_kill(NULL, 9, NULL, &err), LCD_INVALID_ARGUMENT, &err, "kill NULL task", NULL);
  lcd_client_free(NULL);
  lcd_container_free(NULL);
  lcd_task_free(NULL);
  lcd_event_free(NULL);
  lcd_error_free(NULL);
  lcd_string_free(NULL);
  lcd_cancel_free(NULL);
}

static void test_exec_and_task_operations(lcd_client *client) {
  lcd_error *err = NULL;
  lcd_container *container = create(client, "c-exec", "[\"sleep\",\"1000\"]");
  lcd_task *task = NULL;
  expect_error(lcd_task_create(container, false, NULL, &task, &err), LCD_OK, &err, "create task", NULL);
  expect_error(lcd_task_start(task, NULL, &err), LCD_OK, &err, "start", NULL);

  /* An exec with stdin: cat echoes what it reads until stdin is closed. */
  const char *cat = "{\"args\":[\"cat\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\"],\"user\":{\"uid\":0,\"gid\":0}}";
  lcd_process *process = NULL;
  expect_error(lcd_task_exec(task, S("cat1"), S(cat), true, NULL, &process, &err), LCD_OK, &err, "exec", NULL);
  CHECK(strcmp(lcd_process_id(process), "cat1") == 0, "exec id");
  CHECK(lcd_process_stdio_path(process, LCD_STDIN) != NULL, "exec stdin fifo");
  lcd_process *dup = NULL;
  expect_error(lcd_task_exec(task, S("cat1"), S(cat), false, NULL, &dup, &err), LCD_ALREADY_EXISTS, &err,
               "duplicate exec id", "id already in use");
  expect_error(lcd_task_exec(task, S("../bad"), S(cat), false, NULL, &dup, &err), LCD_INVALID_ARGUMENT, &err,
               "invalid exec id", NULL);
  expect_error(lcd_task_exec(task, S("bad-json"), S("{\"args\":"), false, NULL, &dup, &err), LCD_INVALID_ARGUMENT,
               &err, "invalid process JSON", NULL);
  int out_fd = open(lcd_process_stdio_path(process, LCD_STDOUT), O_RDONLY | O_NONBLOCK);
  int err_fd = open(lcd_process_stdio_path(process, LCD_STDERR), O_RDONLY | O_NONBLOCK);
  expect_error(lcd_process_start(process, NULL, &err), LCD_OK, &err, "exec start", NULL);
  CHECK(lcd_process_pid(process) > 0, "exec pid");
  int in_fd = open(lcd_process_stdio_path(process, LCD_STDIN), O_WRONLY);
  CHECK(in_fd >= 0 && write(in_fd, "ping\n", 5) == 5, "write exec stdin");
  close(in_fd);
  expect_error(lcd_process_close_stdin(process, NULL, &err), LCD_OK, &err, "close exec stdin", NULL);
  uint32_t code = 99;
  expect_error(lcd_process_wait(process, NULL, &code, NULL, &err), LCD_OK, &err, "exec wait", NULL);
  CHECK(code == 0, "cat exits 0 after stdin closes, got %u", code);
  int flags = fcntl(out_fd, F_GETFL);
  fcntl(out_fd, F_SETFL, flags & ~O_NONBLOCK);
  char buf[64] = {0};
  CHECK(read(out_fd, buf, sizeof buf - 1) == 5 && strcmp(buf, "ping\n") == 0, "exec output '%s'", buf);
  close(out_fd);
  close(err_fd);

  /* A prepared exec: FIFOs first, then one start adds and starts it. */
  const char *echo = "{\"args\":[\"echo\",\"prepared exec\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\"],"
                     "\"user\":{\"uid\":0,\"gid\":0}}";
  lcd_process *prepared = NULL;
  expect_error(lcd_task_prepare_exec(task, S("echo1"), S(echo), false, NULL, &err), LCD_INVALID_ARGUMENT, &err,
               "prepare exec without out", "out");
  expect_error(lcd_task_prepare_exec(task, S("../bad"), S(echo), false, &prepared, &err), LCD_INVALID_ARGUMENT,
               &err, "prepare exec with a bad id", NULL);
  expect_error(lcd_task_prepare_exec(task, S("echo1"), S(echo), false, &prepared, &err), LCD_OK, &err,
               "prepare exec", NULL);
  if (prepared) {
    expect_error(lcd_process_kill(prepared, 9, NULL, &err), LCD_FAILED_PRECONDITION, &err,
                 "kill an exec not added yet", "not created yet");
    out_fd = open(lcd_process_stdio_path(prepared, LCD_STDOUT), O_RDONLY | O_NONBLOCK);
    expect_error(lcd_process_start(prepared, NULL, &err), LCD_OK, &err, "add and start the prepared exec", NULL);
    code = 99;
    expect_error(lcd_process_wait(prepared, NULL, &code, NULL, &err), LCD_OK, &err, "prepared exec wait", NULL);
    memset(buf, 0, sizeof buf);
    CHECK(code == 0 && out_fd >= 0 && read(out_fd, buf, sizeof buf - 1) == 14 && strcmp(buf, "prepared exec\n") == 0,
          "prepared exec's output '%s', code %u", buf, code);
    if (out_fd >= 0)
      close(out_fd);
    expect_error(lcd_process_delete(prepared, NULL, NULL, NULL, &err), LCD_OK, &err, "delete prepared exec", NULL);
    lcd_process_free(prepared);
  }
  lcd_task_status status;
  expect_error(lcd_process_get_status(process, NULL, &status, &err), LCD_OK, &err, "exec status", NULL);
  CHECK(status.state == LCD_STATE_STOPPED, "exec stopped");
  expect_error(lcd_process_delete(process, NULL, &code, NULL, &err), LCD_OK, &err, "exec delete", NULL);
  expect_error(lcd_process_delete(process, NULL, &code, NULL, &err), LCD_NOT_FOUND, &err, "exec delete twice", NULL);
  expect_error(lcd_process_kill(process, SIGKILL, NULL, &err), LCD_NOT_FOUND, &err, "kill deleted exec", NULL);
  lcd_process_free(process);

  /* Pause, resume, pids, update, resize. */
  expect_error(lcd_task_pause(task, NULL, &err), LCD_OK, &err, "pause", NULL);
  expect_error(lcd_task_get_status(task, NULL, &status, &err), LCD_OK, &err, "status", NULL);
  CHECK(status.state == LCD_STATE_PAUSED, "paused");
  expect_error(lcd_task_resume(task, NULL, &err), LCD_OK, &err, "resume", NULL);
  expect_error(lcd_task_get_status(task, NULL, &status, &err), LCD_OK, &err, "status", NULL);
  CHECK(status.state == LCD_STATE_RUNNING, "running again");
  lcd_pids *pids = NULL;
  expect_error(lcd_task_pids(task, NULL, &pids, &err), LCD_OK, &err, "pids", NULL);
  int found = 0;
  for (size_t i = 0; i < lcd_pids_count(pids); i++)
    found |= lcd_pids_pid(pids, i) == lcd_task_pid(task);
  CHECK(found, "pids list the task's pid");
  CHECK(lcd_pids_pid(pids, 1000) == 0 && !lcd_pids_info(pids, 1000, NULL, NULL, NULL), "index out of range");
  lcd_pids_free(pids);
  expect_error(lcd_task_update_resources(task, S("{\"pids\":{\"limit\":64}}"), NULL, &err), LCD_OK, &err, "update",
               NULL);
  expect_error(lcd_task_update_resources(task, S("not json"), NULL, &err), LCD_INVALID_ARGUMENT, &err,
               "update with bad JSON", NULL);

  /* Checkpoint: CRIU cannot dump on this kernel, so check the failure is clean. */
  char ckpt_dir[128];
  snprintf(ckpt_dir, sizeof ckpt_dir, "/tmp/lcd-c-checkpoint-%ld", (long)getpid());
  lcd_status ckpt = lcd_task_create_checkpoint(task, S(ckpt_dir), false, NULL, &err);
  CHECK(ckpt != LCD_OK && err != NULL && strstr(lcd_error_message(err), "criu") != NULL,
        "checkpoint fails with CRIU's text: %s", err ? lcd_error_message(err) : "");
  lcd_error_free(err);
  err = NULL;
  struct stat ckpt_st;
  CHECK(stat(ckpt_dir, &ckpt_st) != 0, "nothing written for a failed checkpoint");
  expect_error(lcd_task_create_checkpoint(task, S("relative"), false, NULL, &err), LCD_INVALID_ARGUMENT, &err,
               "relative checkpoint dir", NULL);
  lcd_task *restored = NULL;
  expect_error(lcd_task_create_from_checkpoint(container, false, S("/nonexistent-checkpoint"), NULL, &restored, &err),
               LCD_NOT_FOUND, &err, "restore from a missing dir", NULL);
  CHECK(restored == NULL, "no task from a missing checkpoint");

  /* Re-attach through a second handle, then force delete. */
  lcd_task *attached = NULL;
  expect_error(lcd_container_task(container, true, NULL, &attached, &err), LCD_OK, &err, "attach", NULL);
  CHECK(attached && lcd_task_pid(attached) == lcd_task_pid(task), "attached task has the pid");
  CHECK(attached && lcd_task_stdio_path(attached, LCD_STDOUT) != NULL &&
            strcmp(lcd_task_stdio_path(attached, LCD_STDOUT), lcd_task_stdio_path(task, LCD_STDOUT)) == 0,
        "attached task names the same stdout fifo");
  code = 0;
  expect_error(lcd_task_force_delete(attached, NULL, &code, NULL, &err), LCD_OK, &err, "force delete", NULL);
  CHECK(code == 137, "force delete reports SIGKILL, got %u", code);
  expect_error(lcd_task_pause(task, NULL, &err), LCD_NOT_FOUND, &err, "pause a deleted task", NULL);
  expect_error(lcd_container_delete(container, NULL, &err), LCD_OK, &err, "delete container", NULL);
  lcd_task_free(attached);
  lcd_task_free(task);
  lcd_container_free(container);
}

/* Waits in poll(2) for an _async call, as an event loop would. */
static int wait_pending(lcd_pending *pending, const char *what) {
  struct pollfd pollfd = {.fd = lcd_pending_fd(pending), .events = POLLIN};
  int ready = pollfd.fd >= 0 && poll(&pollfd, 1, 30000) == 1;
  CHECK(ready, "%s: the pending call's descriptor becomes readable", what);
  return ready;
}

static void test_async_calls(lcd_client *client) {
  lcd_error *err = NULL;
  lcd_container *container = create(client, "c-async", "[\"sh\",\"-c\",\"echo async; exit 4\"]");
  if (!container)
    return;
  lcd_pending *pending = NULL;
  expect_error(lcd_task_create_async(container, false, NULL, &pending, &err), LCD_OK, &err, "create task async",
               NULL);
  lcd_task *task = NULL;
  if (!pending || !wait_pending(pending, "create task"))
    return;
  uint32_t code = 0;
  expect_error(lcd_pending_finish_exit(pending, &code, NULL, &err), LCD_INVALID_ARGUMENT, &err,
               "finish of the wrong kind", "not an exit");
  expect_error(lcd_pending_finish_task(pending, &task, &err), LCD_OK, &err, "finish create task (kept for it)",
               NULL);
  expect_error(lcd_pending_finish_task(pending, &task, &err), LCD_FAILED_PRECONDITION, &err, "second finish",
               "already taken");
  lcd_pending_free(pending);
  if (!task)
    return;
  int out_fd = open(lcd_task_stdio_path(task, LCD_STDOUT), O_RDONLY);
  CHECK(out_fd >= 0, "open the async task's stdout");
  CHECK(!lcd_task_exited(task, NULL, NULL), "a created task has not exited");

  expect_error(lcd_task_start_async(task, NULL, &pending, &err), LCD_OK, &err, "start task async", NULL);
  if (wait_pending(pending, "start task"))
    expect_error(lcd_pending_finish(pending, &err), LCD_OK, &err, "finish start", NULL);
  lcd_pending_free(pending);
  char buf[64] = {0};
  ssize_t n = read(out_fd, buf, sizeof buf - 1);
  CHECK(n == 6 && strcmp(buf, "async\n") == 0, "async task's output, got %zd '%s'", n, buf);
  close(out_fd);
  expect_error(lcd_task_wait(task, NULL, &code, NULL, &err), LCD_OK, &err, "wait async task", NULL);
  uint32_t exited_code = 0;
  int64_t exited_time = 0;
  CHECK(lcd_task_exited(task, &exited_code, &exited_time) && exited_code == 4 && exited_time > 0,
        "after the exit event the handle knows the exit without an RPC: code %u", exited_code);
  CHECK(!lcd_task_exited(NULL, &exited_code, NULL) && !lcd_process_exited(NULL, NULL, NULL), "exited of NULL");

  expect_error(lcd_task_delete_async(task, NULL, &pending, &err), LCD_OK, &err, "delete task async", NULL);
  int64_t exited_at = 0;
  code = 0;
  if (wait_pending(pending, "delete task"))
    expect_error(lcd_pending_finish_exit(pending, &code, &exited_at, &err), LCD_OK, &err, "finish delete", NULL);
  CHECK(code == 4 && exited_at > 0, "async delete reports exit code 4, got %u", code);
  lcd_pending_free(pending);
  /* An error arrives through the pending call too, and answers any finish function. */
  expect_error(lcd_task_delete_async(task, NULL, &pending, &err), LCD_OK, &err, "second delete async", NULL);
  if (wait_pending(pending, "second delete"))
    expect_error(lcd_pending_finish(pending, &err), LCD_NOT_FOUND, &err, "second delete's error", NULL);
  lcd_pending_free(pending);

  /* Misuse. */
  expect_error(lcd_task_start_async(NULL, NULL, &pending, &err), LCD_INVALID_ARGUMENT, &err, "async on NULL",
               "task");
  expect_error(lcd_task_start_async(task, NULL, NULL, &err), LCD_INVALID_ARGUMENT, &err, "async without out",
               "out");
  expect_error(lcd_pending_finish(NULL, &err), LCD_INVALID_ARGUMENT, &err, "finish NULL", "pending");
  CHECK(lcd_pending_fd(NULL) == -1, "descriptor of NULL");
  lcd_pending_free(NULL);

  lcd_task_free(task);

  /* The container calls have twins too: load a second handle, delete through it, and find the
     container gone. */
  lcd_container *loaded = NULL;
  expect_error(lcd_container_load_async(client, S("c-async"), NULL, &pending, &err), LCD_OK, &err,
               "load container async", NULL);
  if (wait_pending(pending, "load container"))
    expect_error(lcd_pending_finish_container(pending, &loaded, &err), LCD_OK, &err, "finish load", NULL);
  lcd_pending_free(pending);
  CHECK(loaded && strcmp(lcd_container_id(loaded), "c-async") == 0, "async load gives the container");
  expect_error(lcd_container_delete_async(loaded, NULL, &pending, &err), LCD_OK, &err, "delete container async",
               NULL);
  if (wait_pending(pending, "delete container"))
    expect_error(lcd_pending_finish(pending, &err), LCD_OK, &err, "finish container delete", NULL);
  lcd_pending_free(pending);
  lcd_container_free(loaded);
  expect_error(lcd_container_load_async(client, S("c-async"), NULL, &pending, &err), LCD_OK, &err,
               "load a deleted container async", NULL);
  if (wait_pending(pending, "load deleted container"))
    expect_error(lcd_pending_finish_container(pending, &loaded, &err), LCD_NOT_FOUND, &err,
                 "a deleted container is not found", NULL);
  lcd_pending_free(pending);
  lcd_container_free(container);

  /* A spec that is not JSON fails when the call runs; argument errors come at once, with no
     pending call. */
  pending = NULL;
  expect_error(lcd_container_create_async(client, S("c-async-bad"), S("{not json"), S("io.containerd.runc.v2"), NULL,
                                          0, NULL, 0, NULL, 0, NULL, 0, NULL, &pending, &err),
               LCD_OK, &err, "async create with a bad spec starts", NULL);
  if (pending && wait_pending(pending, "create with a bad spec"))
    expect_error(lcd_pending_finish_container(pending, &loaded, &err), LCD_INVALID_ARGUMENT, &err,
                 "async create refuses a spec that is not JSON", "JSON");
  lcd_pending_free(pending);
  pending = NULL;
  expect_error(lcd_container_create_async(client, S("c-async-bad"), S("{}"), S("io.containerd.runc.v2"), NULL, 0,
                                          LIT("x"), NULL, 0, NULL, 0, NULL, &pending, &err),
               LCD_INVALID_ARGUMENT, &err, "async create refuses a runtime option without a type", NULL);
  CHECK(pending == NULL, "no pending call for refused arguments");
}

/* Reads the one byte a call sends to a notification descriptor, waiting up to timeout_ms. */
static int notified(int fd, int timeout_ms) {
  struct pollfd pollfd = {.fd = fd, .events = POLLIN};
  if (poll(&pollfd, 1, timeout_ms) != 1)
    return 0;
  char byte = 0;
  return read(fd, &byte, 1) == 1 && byte == 1;
}

/* A caller's own descriptor instead of the call's pipe: signalled once, at once when the call
   has already finished, and never after the pending handle is freed. */
static void test_pending_notify(lcd_client *client) {
  lcd_error *err = NULL;
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair) != 0) {
    CHECK(0, "socketpair");
    return;
  }
  lcd_container *container = create(client, "c-notify", "[\"sleep\",\"1000\"]");
  lcd_task *task = NULL;
  if (container)
    expect_error(lcd_task_create(container, false, NULL, &task, &err), LCD_OK, &err, "create task", NULL);
  if (!task) {
    lcd_container_free(container);
    return;
  }
  expect_error(lcd_task_start(task, NULL, &err), LCD_OK, &err, "start task", NULL);

  /* A wait that is still running when its handle is freed stays silent after the free. */
  lcd_pending *pending = NULL;
  expect_error(lcd_task_wait_async(task, NULL, &pending, &err), LCD_OK, &err, "wait async", NULL);
  expect_error(lcd_pending_notify(pending, -1, &err), LCD_INVALID_ARGUMENT, &err, "negative descriptor",
               "negative");
  expect_error(lcd_pending_notify(NULL, pair[1], &err), LCD_INVALID_ARGUMENT, &err, "notify on NULL", "pending");
  expect_error(lcd_pending_notify(pending, pair[1], &err), LCD_OK, &err, "notify", NULL);
  expect_error(lcd_pending_notify(pending, pair[1], &err), LCD_FAILED_PRECONDITION, &err, "a second notify",
               "already notifies");
  CHECK(!notified(pair[0], 0), "no byte while the call runs");
  lcd_pending_free(pending);
  expect_error(lcd_task_kill(task, SIGKILL, NULL, &err), LCD_OK, &err, "kill", NULL);
  expect_error(lcd_task_wait(task, NULL, NULL, NULL, &err), LCD_OK, &err, "wait for the exit", NULL);
  CHECK(!notified(pair[0], 200), "a freed pending call does not signal the caller's descriptor");

  /* The signal is the only thing the descriptor gets; the result waits for its finish. */
  expect_error(lcd_task_delete_async(task, NULL, &pending, &err), LCD_OK, &err, "delete async", NULL);
  expect_error(lcd_pending_notify(pending, pair[1], &err), LCD_OK, &err, "notify the delete", NULL);
  CHECK(notified(pair[0], 30000), "the finished delete sends one byte");
  CHECK(!notified(pair[0], 0), "only one");
  uint32_t code = 0;
  expect_error(lcd_pending_finish_exit(pending, &code, NULL, &err), LCD_OK, &err, "finish delete", NULL);
  CHECK(code == 137, "the delete reports the kill, got %u", code);
  lcd_pending_free(pending);

  /* Asked after the call finished: signalled at once, to a pipe as well as to a socket; the
     call's own descriptor can still be asked for as well. */
  int pipe_fds[2];
  CHECK(pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) == 0, "pipe");
  expect_error(lcd_task_delete_async(task, NULL, &pending, &err), LCD_OK, &err, "second delete async", NULL);
  if (wait_pending(pending, "second delete")) {
    expect_error(lcd_pending_notify(pending, pipe_fds[1], &err), LCD_OK, &err, "notify a finished call", NULL);
    CHECK(notified(pipe_fds[0], 0), "a finished call signals a pipe at once");
    expect_error(lcd_pending_finish(pending, &err), LCD_NOT_FOUND, &err, "the second delete's error", NULL);
  }
  lcd_pending_free(pending);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  close(pair[0]);
  close(pair[1]);
  lcd_task_free(task);
  expect_error(lcd_container_delete(container, NULL, &err), LCD_OK, &err, "delete container", NULL);
  lcd_container_free(container);
}

/* A prepared task: FIFOs first, then one start call creates and starts it. */
static void test_prepared_task(lcd_client *client) {
  lcd_error *err = NULL;
  lcd_task *task = NULL;
  expect_error(lcd_task_prepare(NULL, false, &task, &err), LCD_INVALID_ARGUMENT, &err, "prepare on NULL",
               "container");
  lcd_container *container = create(client, "c-prepared", "[\"sh\",\"-c\",\"echo prepared; exit 5\"]");
  if (!container)
    return;
  expect_error(lcd_task_prepare(container, false, NULL, &err), LCD_INVALID_ARGUMENT, &err, "prepare without out",
               "out");
  expect_error(lcd_task_prepare(container, false, &task, &err), LCD_OK, &err, "prepare task", NULL);
  if (!task) {
    lcd_container_free(container);
    return;
  }
  char stdout_path[512];
  snprintf(stdout_path, sizeof stdout_path, "%s", lcd_task_stdio_path(task, LCD_STDOUT));
  CHECK(access(stdout_path, F_OK) == 0, "prepare makes the stdout fifo %s", stdout_path);
  CHECK(lcd_task_pid(task) == 0, "no pid before the create");
  expect_error(lcd_task_kill(task, 9, NULL, &err), LCD_FAILED_PRECONDITION, &err, "kill a task not created yet",
               "not created yet");
  /* The reader is open before the task exists, as moby's callers do. */
  int out_fd = open(stdout_path, O_RDONLY | O_NONBLOCK);
  CHECK(out_fd >= 0, "open the prepared task's stdout");

  lcd_pending *pending = NULL;
  expect_error(lcd_task_start_async(task, NULL, &pending, &err), LCD_OK, &err, "create and start async", NULL);
  if (pending && wait_pending(pending, "create and start"))
    expect_error(lcd_pending_finish(pending, &err), LCD_OK, &err, "finish create and start", NULL);
  lcd_pending_free(pending);
  CHECK(lcd_task_pid(task) > 0, "the start's create gave the task a pid");
  uint32_t code = 0;
  expect_error(lcd_task_wait(task, NULL, &code, NULL, &err), LCD_OK, &err, "wait prepared task", NULL);
  CHECK(code == 5, "prepared task exits with 5, got %u", code);
  char buf[64] = {0};
  ssize_t n = out_fd >= 0 ? read(out_fd, buf, sizeof buf - 1) : -1;
  CHECK(n == 9 && strcmp(buf, "prepared\n") == 0, "prepared task's output, got %zd '%s'", n, buf);
  if (out_fd >= 0)
    close(out_fd);
  expect_error(lcd_task_delete(task, NULL, NULL, NULL, &err), LCD_OK, &err, "delete prepared task", NULL);
  lcd_task_free(task);

  /* Freeing a task that was never created leaves no FIFO behind. */
  task = NULL;
  expect_error(lcd_task_prepare(container, true, &task, &err), LCD_OK, &err, "prepare again", NULL);
  CHECK(access(stdout_path, F_OK) == 0, "the second prepare makes the fifos again");
  lcd_task_free(task);
  CHECK(access(stdout_path, F_OK) != 0, "freeing a task never created removes its fifos");
  expect_error(lcd_container_delete(container, NULL, &err), LCD_OK, &err, "delete container", NULL);
  lcd_container_free(container);
}

/* --- A start is idempotent for the caller: a second or concurrent start never kills, deletes
 * or unlinks the FIFOs of a running task or exec (issue 20 item 1). --- */

static void *start_task_thread(void *task) {
  lcd_error *err = NULL;
  lcd_status status = lcd_task_start(task, NULL, &err);
  lcd_error_free(err);
  return (void *)(intptr_t)status;
}

static void *start_process_thread(void *process) {
  lcd_error *err = NULL;
  lcd_status status = lcd_process_start(process, NULL, &err);
  lcd_error_free(err);
  return (void *)(intptr_t)status;
}

static lcd_process_state state_of_task(lcd_task *task) {
  lcd_task_status status = {0};
  lcd_error *err = NULL;
  expect_error(lcd_task_get_status(task, NULL, &status, &err), LCD_OK, &err, "task status", NULL);
  return status.state;
}

static void test_start_is_idempotent(lcd_client *client) {
  lcd_error *err = NULL;
  lcd_container *container = create(client, "c-start-twice", "[\"sleep\",\"1000\"]");
  lcd_task *task = NULL;
  expect_error(lcd_task_create(container, false, NULL, &task, &err), LCD_OK, &err, "create task", NULL);
  pthread_t threads[2];
  for (int i = 0; i < 2; i++)
    pthread_create(&threads[i], NULL, start_task_thread, task);
  for (int i = 0; i < 2; i++) {
    void *status = NULL;
    pthread_join(threads[i], &status);
    CHECK((lcd_status)(intptr_t)status == LCD_OK, "concurrent start %d of one task: status %d", i,
          (int)(intptr_t)status);
  }
  uint32_t pid = lcd_task_pid(task);
  expect_error(lcd_task_start(task, NULL, &err), LCD_OK, &err, "a second start of a started task", NULL);
  CHECK(lcd_task_pid(task) == pid && pid > 0, "the pid stays %u, got %u", pid, lcd_task_pid(task));
  CHECK(state_of_task(task) == LCD_STATE_RUNNING, "the task still runs after three starts");

  lcd_process *exec = NULL;
  const char *spec = "{\"args\":[\"sleep\",\"1000\"],\"cwd\":\"/\",\"env\":[\"PATH=/bin\"],\"user\":{\"uid\":0,\"gid\":0}}";
  expect_error(lcd_task_exec(task, S("twice"), S(spec), false, NULL, &exec, &err), LCD_OK, &err, "exec", NULL);
  for (int i = 0; i < 2; i++)
    pthread_create(&threads[i], NULL, start_process_thread, exec);
  for (int i = 0; i < 2; i++) {
    void *status = NULL;
    pthread_join(threads[i], &status);
    CHECK((lcd_status)(intptr_t)status == LCD_OK, "concurrent start %d of one exec: status %d", i,
          (int)(intptr_t)status);
  }
  expect_error(lcd_process_start(exec, NULL, &err), LCD_OK, &err, "a second start of a started exec", NULL);
  const char *stdout_path = lcd_process_stdio_path(exec, LCD_STDOUT);
  CHECK(stdout_path && access(stdout_path, F_OK) == 0, "the running exec keeps its stdout fifo");
  lcd_task_status exec_status = {0};
  expect_error(lcd_process_get_status(exec, NULL, &exec_status, &err), LCD_OK, &err, "exec status", NULL);
  CHECK(exec_status.state == LCD_STATE_RUNNING, "the exec still runs");

  expect_error(lcd_task_force_delete(task, NULL, NULL, NULL, &err), LCD_OK, &err, "force delete", NULL);
  expect_error(lcd_container_delete(container, NULL, &err), LCD_OK, &err, "delete container", NULL);
  lcd_process_free(exec);
  lcd_task_free(task);
  lcd_container_free(container);
}

/* Freeing an event stream while another thread waits in lcd_event_stream_next (the header's
   promise): the reader returns LCD_CANCELLED promptly, not at its deadline, reads no freed
   memory (valgrind), and the client can open a new stream at once. */
struct stream_reader {
  lcd_event_stream *stream;
  lcd_status status;
  double waited_s;
};

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *read_one_event(void *arg) {
  struct stream_reader *reader = arg;
  lcd_cancel *deadline = lcd_cancel_new(30000);
  lcd_event *event = NULL;
  double started = now_s();
  reader->status = lcd_event_stream_next(reader->stream, deadline, &event, NULL);
  reader->waited_s = now_s() - started;
  lcd_event_free(event);
  lcd_cancel_free(deadline);
  return NULL;
}

static void test_freeing_a_stream_wakes_its_reader(lcd_client *client) {
  lcd_error *err = NULL;
  struct stream_reader reader = {0};
  expect_error(lcd_client_subscribe(client, &reader.stream, &err), LCD_OK, &err, "subscribe for the free test", NULL);
  pthread_t thread;
  pthread_create(&thread, NULL, read_one_event, &reader);
  struct timespec wait = {.tv_sec = 0, .tv_nsec = 300 * 1000 * 1000};
  nanosleep(&wait, NULL);
  lcd_event_stream_free(reader.stream);
  pthread_join(thread, NULL);
  CHECK(reader.status == LCD_CANCELLED, "a reader of a freed stream gets LCD_CANCELLED (got %d)", reader.status);
  CHECK(reader.waited_s < 5.0, "the reader is woken by the free, not its deadline (%.1f s)", reader.waited_s);
  lcd_event_stream *next = NULL;
  expect_error(lcd_client_subscribe(client, &next, &err), LCD_OK, &err, "a new stream right after the free", NULL);
  lcd_event_stream_free(next);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: %s SOCKET ROOTFS STATE_DIR\n", argv[0]);
    return 2;
  }
  socket_path = argv[1];
  rootfs = argv[2];
  state_dir = argv[3];
  CHECK(lcd_abi_version() == LCD_ABI_VERSION, "ABI version matches the header");

  char ns[64];
  snprintf(ns, sizeof ns, "lcd-c-harness-%ld", (long)getpid());
  lcd_client *client = NULL;
  lcd_error *err = NULL;
  if (expect_error(lcd_client_connect(S(socket_path), S(ns), S(state_dir), NULL, &client, &err), LCD_OK, &err,
                   "connect", NULL) != LCD_OK) {
    printf("%d passed, %d failed\n", passed, failed);
    return 1;
  }
  lcd_set_log_sink(count_log, &log_requests, LCD_LOG_TRACE);
  char *version = NULL;
  expect_error(lcd_client_version(client, NULL, &version, NULL, &err), LCD_OK, &err, "version", NULL);
  lcd_set_log_sink(NULL, NULL, LCD_LOG_ERROR);
  CHECK(log_requests == 1, "the log sink saw the version request (%d records)", log_requests);
  CHECK(is_test_bed_containerd_version(version), "version string is the test bed's containerd (%s, LCD_CONTAINERD_VERSION=%s)",
        version ? version : "(none)", getenv("LCD_CONTAINERD_VERSION") ? getenv("LCD_CONTAINERD_VERSION") : "unset");
  lcd_string_free(version);

  test_lifecycle(client);
  test_kill(client);
  test_exec_and_task_operations(client);
  test_async_calls(client);
  test_pending_notify(client);
  test_prepared_task(client);
  test_start_is_idempotent(client);
  test_errors(client);
  test_freeing_a_stream_wakes_its_reader(client);

  lcd_client_free(client);
  printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
