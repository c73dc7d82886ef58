/* The C harness (harness.c): the _async twins, pending calls and notification descriptors. */
#include "harness.h"

void test_async_calls(lcd_client *client) {
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

  /* Argument errors come at once, with no pending call: a configuration without a runtime. */
  pending = NULL;
  lcd_container_config *config = lcd_container_config_new();
  expect_error(lcd_container_config_set_id(config, S("c-async-bad"), &err), LCD_OK, &err, "set id", NULL);
  expect_error(lcd_container_config_set_spec_json(config, S("{}"), &err), LCD_OK, &err, "set spec", NULL);
  expect_error(lcd_container_create_async(client, config, NULL, &pending, &err), LCD_INVALID_ARGUMENT, &err,
               "async create refuses a configuration without a runtime", "no runtime");
  CHECK(pending == NULL, "no pending call for refused arguments");
  expect_error(lcd_container_create_async(client, config, NULL, NULL, &err), LCD_INVALID_ARGUMENT, &err,
               "async create without out", "out");
  lcd_container_config_free(config);
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
void test_pending_notify(lcd_client *client) {
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
