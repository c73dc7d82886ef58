/* The C harness (harness.c): refused arguments, the container configuration's setters, cancellation, NULL
   handles, and freeing a stream under its reader. */
#include "harness.h"

static void *fire_later(void *cancel) {
  usleep(100 * 1000);
  lcd_cancel_fire((lcd_cancel *)cancel);
  return NULL;
}

void test_errors(lcd_client *client) {
  lcd_error *err = NULL;
  lcd_container *container = NULL;
  char spec[4096];
  lcd_example_spec(spec, sizeof spec, rootfs, "x", "lcd-c-test", "[\"true\"]", false);

  /* Each setter refuses bad input at once, with the class and a hint, and leaves the
     configuration as it was. */
  lcd_container_config *config = lcd_container_config_new();
  expect_error(lcd_container_config_set_id(config, S("../x"), &err), LCD_INVALID_ARGUMENT, &err, "invalid id",
               "not a valid identifier");
  expect_error(lcd_container_config_set_id(config, NULL, 5, &err), LCD_INVALID_ARGUMENT, &err,
               "NULL id with a length", "NULL");
  expect_error(lcd_container_config_set_id(NULL, S("x"), &err), LCD_INVALID_ARGUMENT, &err, "NULL configuration",
               "NULL");
  expect_error(lcd_container_config_set_spec_json(config, S("{\"process\":"), &err), LCD_INVALID_ARGUMENT, &err,
               "invalid JSON", "JSON");
  expect_error(lcd_container_config_set_runtime(config, S(""), &err), LCD_INVALID_ARGUMENT, &err, "empty runtime",
               "runtime");
  expect_error(lcd_container_config_set_label(config, S(""), S("v"), &err), LCD_INVALID_ARGUMENT, &err,
               "empty label key", "label key");
  expect_error(lcd_container_config_set_label(config, (const uint8_t *)"\xff", 1, S("v"), &err),
               LCD_INVALID_ARGUMENT, &err, "label key that is not UTF-8", "UTF-8");
  expect_error(lcd_container_config_set_runtime_options(config, NULL, 0, S("x"), &err), LCD_INVALID_ARGUMENT, &err,
               "runtime options without a type URL", "type URL");
  expect_error(lcd_container_config_set_extension(config, S("e"), NULL, 0, S("x"), &err), LCD_INVALID_ARGUMENT, &err,
               "extension without a type URL", "type URL");
  expect_error(lcd_container_config_set_image(config, (const uint8_t *)"\xff\xff", 2, &err), LCD_INVALID_ARGUMENT,
               &err, "image that is not UTF-8", "UTF-8");
  expect_error(lcd_container_create(client, config, NULL, &container, &err), LCD_INVALID_ARGUMENT, &err,
               "create from an empty configuration", "no id");
  lcd_container_config_free(config);
  config = config_for("x", spec);
  expect_error(lcd_container_create(NULL, config, NULL, &container, &err), LCD_INVALID_ARGUMENT, &err, "NULL client",
               "NULL");
  expect_error(lcd_container_create(client, NULL, NULL, &container, &err), LCD_INVALID_ARGUMENT, &err,
               "NULL configuration for create", "configuration");
  expect_error(lcd_container_create(client, config, NULL, NULL, &err), LCD_INVALID_ARGUMENT, &err,
               "NULL out-parameter", "NULL");
  CHECK(container == NULL, "out-parameters untouched on failure");
  CHECK(lcd_container_config_set_runtime(config, S(""), NULL) == LCD_INVALID_ARGUMENT,
        "errors can be ignored with a NULL err");
  lcd_container_config_free(config);
  lcd_container_config_free(NULL);
  expect_error(lcd_container_load(client, S("no-such-container"), NULL, &container, &err), LCD_NOT_FOUND, &err,
               "load unknown", "no such container");
  CHECK(lcd_error_context(NULL)[0] == '\0' && lcd_error_message(NULL)[0] == '\0', "a NULL error reads as empty");

  /* A configuration is not consumed by a create: the same one gives the second create of the
     id, which containerd refuses. */
  lcd_container *first = NULL;
  config = config_for("c-dup", spec);
  expect_error(lcd_container_create(client, config, NULL, &first, &err), LCD_OK, &err, "create c-dup", NULL);
  expect_error(lcd_container_create(client, config, NULL, &container, &err), LCD_ALREADY_EXISTS, &err,
               "duplicate id", "id already in use");
  lcd_container_config_free(config);
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

/* Freeing an event stream while another thread waits in lcd_event_stream_next (the header's
   promise): the reader returns LCD_CANCELLED promptly, not at its deadline, reads no freed
   memory (valgrind), and the client can open a new stream at once. */
struct stream_reader {
  lcd_event_stream *stream;
  lcd_status status;
  double waited_s;
};

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

void test_freeing_a_stream_wakes_its_reader(lcd_client *client) {
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
