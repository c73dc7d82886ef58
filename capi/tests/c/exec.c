/* The C harness (harness.c): execs, prepared execs, pause/resume, pids, update, checkpoint, re-attach. */
#include "harness.h"

void test_exec_and_task_operations(lcd_client *client) {
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
