/* The C harness (harness.c): a container's life, kill and stats, a prepared task, idempotent starts. */
#include "harness.h"

#include <stdatomic.h>

/* Counts the stream's ready callbacks (they run on library threads). */
static void count_ready(void *user_data) { atomic_fetch_add((atomic_int *)user_data, 1); }

void test_lifecycle(lcd_client *client) {
  lcd_error *err = NULL;
  lcd_event_stream *events = NULL;
  expect_error(lcd_client_subscribe(client, &events, &err), LCD_OK, &err, "subscribe", NULL);
  static atomic_int ready_calls;
  expect_error(lcd_event_stream_set_ready_callback(events, count_ready, &ready_calls, &err), LCD_OK, &err,
               "set the ready callback", NULL);

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
  CHECK(atomic_load(&ready_calls) >= 3, "the ready callback ran for each event: %d calls", atomic_load(&ready_calls));
  expect_error(lcd_event_stream_set_ready_callback(events, NULL, NULL, &err), LCD_OK, &err,
               "remove the ready callback", NULL);
  expect_error(lcd_event_stream_set_ready_callback(NULL, count_ready, &ready_calls, &err), LCD_INVALID_ARGUMENT, &err,
               "ready callback of NULL", "event stream");

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

void test_kill(lcd_client *client) {
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

/* A prepared task: FIFOs first, then one start call creates and starts it. */
void test_prepared_task(lcd_client *client) {
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

void test_start_is_idempotent(lcd_client *client) {
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
