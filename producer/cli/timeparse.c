/*
 * Time arguments of the command line: a relative duration ("90s", "2m") taken
 * from now, or an RFC 3339 timestamp ("2026-11-22T13:00:00Z",
 * "2026-11-22T14:00:00.250+01:00").
 */
/* strptime() is an X/Open function. */
#define _XOPEN_SOURCE 700

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"

static bool parse_rfc3339(const char *s, strata_epoch_ms_t *out) {
  struct tm tm;
  const char *p;
  int64_t ms = 0, off_min = 0;
  time_t secs;

  memset(&tm, 0, sizeof(tm));
  if (!(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)))
    return false;
  if (*p == '.') {
    int digits = 0;
    for (p++; isdigit((unsigned char)*p); p++, digits++)
      if (digits < 3)
        ms = ms * 10 + (*p - '0');
    if (digits == 0)
      return false;
    for (; digits < 3; digits++)
      ms *= 10;
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int hh, mm;
    if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || strlen(p) != 6)
      return false;
    off_min = (hh * 60 + mm) * (*p == '+' ? 1 : -1);
    p += 6;
  } else {
    return false;
  }
  if (*p)
    return false;
  secs = timegm(&tm);
  *out = ((int64_t)secs - off_min * 60) * 1000 + ms;
  return true;
}

bool cli_parse_time(const char *s, strata_epoch_ms_t now,
                    strata_epoch_ms_t *out) {
  int64_t ms;

  if (strata_parse_duration_ms(s, &ms)) {
    *out = now + ms;
    return true;
  }
  return parse_rfc3339(s, out);
}
