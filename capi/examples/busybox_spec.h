/*
 * A runtime-spec document for a busybox container whose root filesystem is a host directory.
 * Shared by the example program and the C test harness.
 */
#ifndef LCD_EXAMPLE_BUSYBOX_SPEC_H
#define LCD_EXAMPLE_BUSYBOX_SPEC_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Writes the spec into buf. args_json is a JSON array of strings, e.g. ["sh","-c","echo hi"].
 * Returns the length written, or -1 when buf is too small.
 */
static inline int lcd_example_spec(char *buf, size_t size, const char *rootfs, const char *id,
                                   const char *cgroup_parent, const char *args_json, bool terminal) {
  int n = snprintf(
      buf, size,
      "{\"ociVersion\":\"1.0.2\","
      "\"process\":{\"terminal\":%s,\"user\":{\"uid\":0,\"gid\":0},\"args\":%s,"
      "\"env\":[\"PATH=/bin\",\"TERM=xterm\"],\"cwd\":\"/\",\"noNewPrivileges\":true},"
      "\"root\":{\"path\":\"%s\",\"readonly\":true},"
      "\"hostname\":\"%s\","
      "\"mounts\":["
      "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
      "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
      "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\",\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\"]},"
      "{\"destination\":\"/tmp\",\"type\":\"tmpfs\",\"source\":\"tmpfs\",\"options\":[\"nosuid\",\"nodev\",\"size=16m\"]}],"
      "\"linux\":{\"cgroupsPath\":\"/%s/%s\","
      "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},{\"type\":\"mount\"}],"
      "\"maskedPaths\":[\"/proc/kcore\",\"/proc/keys\",\"/proc/timer_list\"],"
      "\"readonlyPaths\":[\"/proc/sys\",\"/proc/sysrq-trigger\"]}}",
      terminal ? "true" : "false", args_json, rootfs, id, cgroup_parent, id);
  return (n < 0 || (size_t)n >= size) ? -1 : n;
}

#endif
