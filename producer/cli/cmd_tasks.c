/*
 * `strata tasks`: the scheduler's pending-task view (its /tasks admin
 * endpoint) as a table, in dispatch order within each tier and state.
 */
#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_int.h"

typedef struct {
  char *data;
  size_t len;
} buf_t;

static size_t on_body(char *ptr, size_t size, size_t n, void *opaque) {
  buf_t *b = opaque;
  char *d = realloc(b->data, b->len + size * n + 1);
  if (!d)
    return 0;
  memcpy(d + b->len, ptr, size * n);
  b->len += size * n;
  d[b->len] = '\0';
  b->data = d;
  return size * n;
}

/* "in 12.3s" / "4.1s ago" relative to now. */
static void rel(char *out, size_t size, int64_t t, int64_t now) {
  double d = (double)(t - now) / 1000.0;
  if (d >= 0)
    snprintf(out, size, "in %.1fs", d);
  else
    snprintf(out, size, "%.1fs ago", -d);
}

int cli_admin_get(const strata_config_t *cfg, const char *what,
                  const char *path, long *status, char **body) {
  const char *listen = strata_config_get_str(cfg, "admin.listen");
  char url[512], err[CURL_ERROR_SIZE] = "";
  buf_t b = {NULL, 0};
  CURL *curl;
  CURLcode cc;

  *body = NULL;
  *status = 0;
  if (!*listen) {
    fprintf(stderr,
            "strata: %s: admin.listen is empty; set it to the scheduler's "
            "admin address\n",
            what);
    return -1;
  }
  snprintf(url, sizeof(url), "http://%s%s%s",
           listen[0] == ':' ? "127.0.0.1" : "", listen, path);
  if (!(curl = curl_easy_init()))
    return -1;
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  cc = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
  curl_easy_cleanup(curl);
  if (cc != CURLE_OK) {
    fprintf(stderr,
            "strata: %s: cannot reach the scheduler at %s (admin.listen): "
            "%s\n",
            what, listen, *err ? err : curl_easy_strerror(cc));
    free(b.data);
    return -1;
  }
  *body = b.data ? b.data : strdup("");
  return 0;
}

int cli_cmd_tasks(const strata_program_t *prog, strata_config_t *cfg, int argc,
                  char **argv) {
  const char *listen = strata_config_get_str(cfg, "admin.listen");
  const char *tier = NULL, *state = NULL, *limit = "100";
  bool json_out = false;
  char url[512];
  buf_t body = {NULL, 0};
  long status = 0;
  json_t *doc, *tasks;
  json_error_t jerr;
  int rc = STRATA_EXIT_FAILURE;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--tier") && i + 1 < argc)
      tier = argv[++i];
    else if (!strcmp(argv[i], "--state") && i + 1 < argc)
      state = argv[++i];
    else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
      limit = argv[++i];
    else if (!strcmp(argv[i], "--json"))
      json_out = true;
    else
      strata_program_usage_error(
          prog, "usage: strata tasks [--tier T] [--state "
                "ready|blocked|delayed|running] [--limit N] [--json]; the "
                "scheduler is reached at admin.listen");
  }
  if (!*listen)
    strata_program_usage_error(prog, "tasks: admin.listen is empty; set it "
                                     "to the scheduler's admin address");
  snprintf(url, sizeof(url), "/tasks?limit=%s%s%s%s%s", limit,
           tier ? "&tier=" : "", tier ? tier : "", state ? "&state=" : "",
           state ? state : "");
  if (cli_admin_get(cfg, "tasks", url, &status, &body.data))
    goto done;
  if (!(doc = json_loads(body.data ? body.data : "", 0, &jerr))) {
    fprintf(stderr, "strata: tasks: %s answered with non-JSON: %s\n", url,
            jerr.text);
    goto done;
  }
  if (status != 200) {
    fprintf(stderr, "strata: tasks: %s\n",
            json_string_value(json_object_get(doc, "error"))
                ? json_string_value(json_object_get(doc, "error"))
                : "the scheduler refused the request");
    json_decref(doc);
    rc = STRATA_EXIT_USAGE;
    goto done;
  }
  if (json_out) {
    printf("%s\n", body.data);
  } else {
    size_t i;
    json_t *t;
    struct timespec ts;
    int64_t now;
    clock_gettime(CLOCK_REALTIME, &ts);
    now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    tasks = json_object_get(doc, "tasks");
    printf("%-38s %-11s %-8s %4s %-9s %-14s %-14s %s\n", "ID", "TIER", "STATE",
           "PRIO", "DEADLINE", "DUE", "SINCE", "DEPS");
    json_array_foreach(tasks, i, t) {
      char due[32], since[32];
      rel(due, sizeof(due),
          json_integer_value(json_object_get(t, "deadline_ms")), now);
      rel(since, sizeof(since),
          json_integer_value(json_object_get(t, "since_ms")), now);
      printf("%-38s %-11s %-8s %4d %-9s %-14s %-14s %d\n",
             json_string_value(json_object_get(t, "id")),
             json_string_value(json_object_get(t, "tier")),
             json_string_value(json_object_get(t, "state")),
             (int)json_integer_value(json_object_get(t, "priority")),
             json_string_value(json_object_get(t, "deadline_kind")), due, since,
             (int)json_integer_value(json_object_get(t, "deps_waiting")));
    }
    printf("%zu task(s)%s\n", json_array_size(tasks),
           json_is_true(json_object_get(doc, "truncated"))
               ? " (more: raise --limit)"
               : "");
  }
  json_decref(doc);
  rc = STRATA_EXIT_OK;
done:
  free(body.data);
  return rc;
}
