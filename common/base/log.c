/*
 * logfmt writer behind STRATA_LOG(). Each call formats into a stack buffer and
 * emits the whole line with one fwrite, so lines from several threads do not
 * interleave mid-line. Messages longer than the buffer are truncated.
 */
#include "strata/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

strata_log_level_t strata_log_level_ = STRATA_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void strata_log_set_level(strata_log_level_t level) {
  strata_log_level_ = level;
}

int strata_log_level_parse(const char *s) {
  for (int i = 0; i < 4; i++)
    if (!strcasecmp(s, level_names[i]))
      return i;
  return -1;
}

/* Appends `src` to `dst` as the body of a logfmt quoted value. */
static size_t append_escaped(char *dst, size_t cap, size_t len,
                             const char *src) {
  for (; *src && len + 2 < cap; src++) {
    char c = *src;
    if (c == '"' || c == '\\') {
      dst[len++] = '\\';
      dst[len++] = c;
    } else if (c == '\n') {
      dst[len++] = '\\';
      dst[len++] = 'n';
    } else {
      dst[len++] = c;
    }
  }
  return len;
}

void strata_log_write(strata_log_level_t level, const char *comp,
                      const char *fmt, ...) {
  char msg[1024], line[2300];
  struct timespec ts;
  struct tm tm;
  va_list ap;
  size_t len;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  len = strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
  len += (size_t)snprintf(
      line + len, sizeof(line) - len, ".%03ldZ level=%s comp=%s msg=\"",
      ts.tv_nsec / 1000000L, level_names[level > 3 ? 3 : level], comp);
  len = append_escaped(line, sizeof(line) - 2, len, msg);
  line[len++] = '"';
  line[len++] = '\n';
  fwrite(line, 1, len, stderr);
}

void strata_log_rdkafka_cb(const struct rd_kafka_s *rk, int level,
                           const char *fac, const char *buf) {
  strata_log_level_t l = level <= 3   ? STRATA_LOG_ERROR
                         : level == 4 ? STRATA_LOG_WARN
                         : level <= 6 ? STRATA_LOG_INFO
                                      : STRATA_LOG_DEBUG;
  (void)rk;
  STRATA_LOG(l, "rdkafka", "%s: %s", fac, buf);
}
