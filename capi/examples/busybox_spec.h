/*
 * The runtime-spec document of a busybox container whose root filesystem is a host directory:
 * tests/fixtures/busybox_spec.json, the one spec of every test, example and benchmark, read at
 * run time with its variable fields filled in. Shared by the example program and the C test
 * harness.
 *
 * LCD_BUSYBOX_SPEC_JSON is the fixture's path: the Makefile's CFLAGS give it absolute; without
 * it, the path relative to the checkout's root (where make runs the programs).
 */
#ifndef LCD_EXAMPLE_BUSYBOX_SPEC_H
#define LCD_EXAMPLE_BUSYBOX_SPEC_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#ifndef LCD_BUSYBOX_SPEC_JSON
#define LCD_BUSYBOX_SPEC_JSON "tests/fixtures/busybox_spec.json"
#endif

/* Output of bounded length: len counts what would have been written. */
struct lcd_example_out {
  char *buf;
  size_t size, len;
};

static inline void lcd_example_put(struct lcd_example_out *out, const char *s, size_t n) {
  if (out->len < out->size) {
    size_t room = out->size - out->len;
    memcpy(out->buf + out->len, s, n < room ? n : room);
  }
  out->len += n;
}

static inline void lcd_example_puts(struct lcd_example_out *out, const char *s) { lcd_example_put(out, s, strlen(s)); }

/*
 * Writes the spec into buf, compact (no whitespace outside strings). args_json is a JSON array
 * of strings, e.g. ["sh","-c","echo hi"]; it replaces the fixture's ["@ARGS@"]. rootfs replaces
 * "@ROOTFS@", id "@HOSTNAME@", "/<cgroup_parent>/<id>" "@CGROUPS_PATH@", and terminal the
 * fixture's "terminal":false (strings are put in as they are, unescaped). Returns the length
 * written, or -1 when buf is too small or the fixture cannot be read or lacks a marker (said on
 * stderr).
 */
static inline int lcd_example_spec(char *buf, size_t size, const char *rootfs, const char *id,
                                   const char *cgroup_parent, const char *args_json, bool terminal) {
  char fixture[4096];
  FILE *f = fopen(LCD_BUSYBOX_SPEC_JSON, "r");
  if (f == NULL) {
    fprintf(stderr, "busybox_spec.h: cannot open %s: %s\n", LCD_BUSYBOX_SPEC_JSON, strerror(errno));
    return -1;
  }
  size_t n = fread(fixture, 1, sizeof fixture - 1, f);
  bool whole = feof(f) && !ferror(f);
  fclose(f);
  if (!whole) {
    fprintf(stderr, "busybox_spec.h: cannot read %s whole into %zu bytes\n", LCD_BUSYBOX_SPEC_JSON, sizeof fixture - 1);
    return -1;
  }
  fixture[n] = '\0';

  /* Compact in place: drop the whitespace outside strings. */
  size_t w = 0;
  bool in_string = false;
  for (size_t r = 0; r < n; r++) {
    char c = fixture[r];
    if (in_string && c == '\\' && r + 1 < n) {
      fixture[w++] = c;
      fixture[w++] = fixture[++r];
      continue;
    }
    if (c == '"') in_string = !in_string;
    if (in_string || (c != ' ' && c != '\n' && c != '\t' && c != '\r')) fixture[w++] = c;
  }
  fixture[w] = '\0';

  /* Fill the markers (none of which can occur inside a string of the compact text). */
  static const char *const markers[] = {"[\"@ARGS@\"]", "\"@ROOTFS@\"", "\"@HOSTNAME@\"", "\"@CGROUPS_PATH@\"", "\"terminal\":false"};
  enum { MARKERS = sizeof markers / sizeof markers[0] };
  int found[MARKERS] = {0};
  struct lcd_example_out out = {buf, size, 0};
  for (const char *p = fixture; *p != '\0';) {
    int m = 0;
    while (m < MARKERS && strncmp(p, markers[m], strlen(markers[m])) != 0) m++;
    if (m == MARKERS) {
      lcd_example_put(&out, p++, 1);
      continue;
    }
    found[m]++;
    p += strlen(markers[m]);
    switch (m) {
    case 0: lcd_example_puts(&out, args_json); break;
    case 1: lcd_example_puts(&out, "\""); lcd_example_puts(&out, rootfs); lcd_example_puts(&out, "\""); break;
    case 2: lcd_example_puts(&out, "\""); lcd_example_puts(&out, id); lcd_example_puts(&out, "\""); break;
    case 3:
      lcd_example_puts(&out, "\"/");
      lcd_example_puts(&out, cgroup_parent);
      lcd_example_puts(&out, "/");
      lcd_example_puts(&out, id);
      lcd_example_puts(&out, "\"");
      break;
    default: lcd_example_puts(&out, terminal ? "\"terminal\":true" : "\"terminal\":false"); break;
    }
  }
  for (int m = 0; m < MARKERS; m++) {
    if (found[m] != 1) {
      fprintf(stderr, "busybox_spec.h: %s has %d of the marker %s, not 1\n", LCD_BUSYBOX_SPEC_JSON, found[m], markers[m]);
      return -1;
    }
  }
  if (out.len >= size) return -1;
  buf[out.len] = '\0';
  return (int)out.len;
}

#endif
