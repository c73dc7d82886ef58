/*
 * Runs one busybox container through the libcontainerd-ffi C ABI and prints what happens:
 * containerd's version, the container's output, the task events, and the exit code.
 *
 *   run_container SOCKET ROOTFS STATE_DIR [NAMESPACE]
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libcontainerd_ffi.h"
#include "busybox_spec.h"

#define S(str) (const uint8_t *)(str), strlen(str)
/* A string literal with embedded NULs (labels are "key\0value\0..."). */
#define LIT(str) (const uint8_t *)(str), sizeof(str) - 1

static const char *event_name(lcd_event_type kind) {
  switch (kind) {
  case LCD_EVENT_CREATE: return "create";
  case LCD_EVENT_START: return "start";
  case LCD_EVENT_EXIT: return "exit";
  case LCD_EVENT_OOM: return "oom";
  case LCD_EVENT_EXEC_ADDED: return "exec-added";
  case LCD_EVENT_EXEC_STARTED: return "exec-started";
  case LCD_EVENT_PAUSED: return "paused";
  case LCD_EVENT_RESUMED: return "resumed";
  }
  return "?";
}

static int fail(const char *what, lcd_error *err) {
  fprintf(stderr, "run_container: %s failed (status %d): %s\n", what, (int)lcd_error_status(err),
          lcd_error_message(err));
  lcd_error_free(err);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s SOCKET ROOTFS STATE_DIR [NAMESPACE]\n", argv[0]);
    return 2;
  }
  const char *socket = argv[1], *rootfs = argv[2], *state_dir = argv[3];
  const char *ns = argc > 4 ? argv[4] : "lcd-demo";
  lcd_error *err = NULL;
  lcd_client *client = NULL;
  lcd_event_stream *events = NULL;
  lcd_container *container = NULL;
  lcd_task *task = NULL;
  int rc = 1;

  if (lcd_abi_version() != LCD_ABI_VERSION) {
    fprintf(stderr, "library ABI %u does not match header ABI %u\n", lcd_abi_version(), LCD_ABI_VERSION);
    return 1;
  }
  if (lcd_client_connect(S(socket), S(ns), S(state_dir), NULL, &client, &err) != LCD_OK)
    return fail("connect", err);
  char *version = NULL, *revision = NULL;
  if (lcd_client_version(client, NULL, &version, &revision, &err) != LCD_OK) {
    rc = fail("version", err);
    goto out;
  }
  printf("containerd %s (revision %s), namespace %s\n", version, revision, ns);
  lcd_string_free(version);
  lcd_string_free(revision);

  if (lcd_client_subscribe(client, &events, &err) != LCD_OK) {
    rc = fail("subscribe", err);
    goto out;
  }

  char id[64];
  snprintf(id, sizeof id, "demo-%ld", (long)getpid());
  char spec[4096];
  const char *args = "[\"sh\",\"-c\",\"echo hello from $(hostname); echo running as pid $$; exit 3\"]";
  if (lcd_example_spec(spec, sizeof spec, rootfs, id, "lcd-demo", args, false) < 0) {
    fprintf(stderr, "cannot make the container's spec\n");
    goto out;
  }
  if (lcd_container_create(client, S(id), S(spec), S("io.containerd.runc.v2"), NULL, 0, NULL, 0,
                           LIT("demo\0yes\0"), NULL, 0, NULL, &container, &err) != LCD_OK) {
    rc = fail("create container", err);
    goto out;
  }
  printf("created container %s, bundle %s\n", lcd_container_id(container), lcd_container_bundle_dir(container));

  if (lcd_task_create(container, false, NULL, &task, &err) != LCD_OK) {
    rc = fail("create task", err);
    goto out;
  }
  /* The shim holds the FIFOs' write ends from task create on, so this open does not block. */
  int out_fd = open(lcd_task_stdio_path(task, LCD_STDOUT), O_RDONLY);
  if (out_fd < 0) {
    perror("open stdout fifo");
    goto out;
  }
  if (lcd_task_start(task, NULL, &err) != LCD_OK) {
    close(out_fd);
    rc = fail("start task", err);
    goto out;
  }
  printf("started task, pid %u\n--- container output ---\n", lcd_task_pid(task));
  fflush(stdout);
  char buf[4096];
  ssize_t n;
  while ((n = read(out_fd, buf, sizeof buf)) > 0)
    fwrite(buf, 1, (size_t)n, stdout);
  close(out_fd);
  printf("--- end of output ---\n");

  for (;;) {
    lcd_event *event = NULL;
    lcd_cancel *deadline = lcd_cancel_new(30000);
    lcd_status status = lcd_event_stream_next(events, deadline, &event, &err);
    lcd_cancel_free(deadline);
    if (status != LCD_OK) {
      rc = fail("next event", err);
      goto out;
    }
    int done = event->kind == LCD_EVENT_EXIT && strcmp(event->container_id, id) == 0;
    printf("event %-6s container=%s process=%s pid=%u", event_name(event->kind), event->container_id,
           event->process_id, event->pid);
    if (event->kind == LCD_EVENT_EXIT)
      printf(" exit_code=%u", event->exit_code);
    printf("\n");
    lcd_event_free(event);
    if (done)
      break;
  }

  uint32_t exit_code = 0;
  if (lcd_task_delete(task, NULL, &exit_code, NULL, &err) != LCD_OK) {
    rc = fail("delete task", err);
    goto out;
  }
  printf("deleted task, exit code %u\n", exit_code);
  if (lcd_container_delete(container, NULL, &err) != LCD_OK) {
    rc = fail("delete container", err);
    goto out;
  }
  printf("deleted container; %llu containerd RPCs in all (event subscription included)\n",
         (unsigned long long)lcd_client_rpc_total(client));
  rc = 0;

out:
  lcd_task_free(task);
  lcd_container_free(container);
  lcd_event_stream_free(events);
  lcd_client_free(client);
  return rc;
}
