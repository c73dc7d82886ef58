/*
 * C test harness for the libcontainerd-ffi C ABI, run against the test bed's real containerd
 * (and under valgrind memcheck by the test command).
 *
 *   lifecycle_test SOCKET ROOTFS STATE_DIR
 *
 * This file has main and the shared helpers (harness.h); the tests are in lifecycle.c, exec.c,
 * async.c and errors.c, by topic.
 *
 * Prints one line per check and ends with "N passed, N failed"; exits non-zero on failure.
 */
#include "harness.h"

int passed, failed;
const char *socket_path, *rootfs, *state_dir;

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
lcd_status expect_error(lcd_status got, lcd_status want, lcd_error **errp, const char *what,
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
void expect_containerd_text(lcd_status got, lcd_error **errp, const char *what, const char *message,
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

/* A container configuration with the id, spec and runc runtime set (each setter checked). */
lcd_container_config *config_for(const char *id, const char *spec) {
  lcd_error *err = NULL;
  lcd_container_config *config = lcd_container_config_new();
  CHECK(config != NULL, "a new configuration");
  expect_error(lcd_container_config_set_id(config, S(id), &err), LCD_OK, &err, "set id", NULL);
  expect_error(lcd_container_config_set_spec_json(config, S(spec), &err), LCD_OK, &err, "set spec", NULL);
  expect_error(lcd_container_config_set_runtime(config, S("io.containerd.runc.v2"), &err), LCD_OK, &err,
               "set runtime", NULL);
  return config;
}

lcd_container *create(lcd_client *client, const char *id, const char *args) {
  char spec[4096];
  lcd_container *container = NULL;
  lcd_error *err = NULL;
  CHECK(lcd_example_spec(spec, sizeof spec, rootfs, id, "lcd-c-test", args, false) > 0, "spec fits");
  lcd_container_config *config = config_for(id, spec);
  expect_error(lcd_container_config_set_label(config, S("test"), S("c-harness"), &err), LCD_OK, &err, "set label",
               NULL);
  expect_error(lcd_container_create(client, config, NULL, &container, &err), LCD_OK, &err, "create container", NULL);
  lcd_container_config_free(config);
  return container;
}

lcd_event *next_event(lcd_event_stream *events) {
  lcd_event *event = NULL;
  lcd_error *err = NULL;
  lcd_cancel *deadline = lcd_cancel_new(30000);
  expect_error(lcd_event_stream_next(events, deadline, &event, &err), LCD_OK, &err, "next event", NULL);
  lcd_cancel_free(deadline);
  return event;
}

/* Waits in poll(2) for an _async call, as an event loop would. */
int wait_pending(lcd_pending *pending, const char *what) {
  struct pollfd pollfd = {.fd = lcd_pending_fd(pending), .events = POLLIN};
  int ready = pollfd.fd >= 0 && poll(&pollfd, 1, 30000) == 1;
  CHECK(ready, "%s: the pending call's descriptor becomes readable", what);
  return ready;
}

double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
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
