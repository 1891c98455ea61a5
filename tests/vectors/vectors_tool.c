/*
 * The C side of the cross-language test vectors.
 *
 *   vectors_tool gen <values-dir> <out-dir>
 *     For each <name>.json in values-dir (a record in the codec's JSON form,
 *     fields with defaults may be left out; the kind comes from the name:
 *     task-, event-, control-, deadletter-), writes <out-dir>/<name>.bin
 *     (single-object encoding) and <out-dir>/<name>.json (the complete
 *     value, every field present, in field order).
 *
 *   vectors_tool check <dir>
 *     For each <name>.bin in dir: decodes it (kind from the fingerprint),
 *     compares the value with <name>.json, and, when it was written with
 *     the current schema, re-encodes it and compares the bytes. Exits 0
 *     only if every vector passes and there was at least one.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/codec.h"

typedef struct kind {
  const char *prefix;
  strata_record_kind_t kind;
} kind_t;

static const kind_t kinds[] = {
    {"task-", STRATA_RECORD_TASK},
    {"event-", STRATA_RECORD_EVENT},
    {"control-", STRATA_RECORD_CONTROL},
    {"deadletter-", STRATA_RECORD_DEADLETTER},
};

/* One value of any kind, and the codec calls for it. */
typedef union anyrec {
  strata_task_t task;
  strata_event_t event;
  strata_control_t control;
  strata_deadletter_t dl;
} anyrec_t;

static void rec_init(strata_record_kind_t k, anyrec_t *r) {
  switch (k) {
  case STRATA_RECORD_TASK:
    strata_task_init(&r->task);
    break;
  case STRATA_RECORD_EVENT:
    strata_event_init(&r->event);
    break;
  case STRATA_RECORD_CONTROL:
    strata_control_init(&r->control);
    break;
  default:
    strata_deadletter_init(&r->dl);
    break;
  }
}

static void rec_clear(strata_record_kind_t k, anyrec_t *r) {
  switch (k) {
  case STRATA_RECORD_TASK:
    strata_task_clear(&r->task);
    break;
  case STRATA_RECORD_EVENT:
    strata_event_clear(&r->event);
    break;
  case STRATA_RECORD_CONTROL:
    strata_control_clear(&r->control);
    break;
  default:
    strata_deadletter_clear(&r->dl);
    break;
  }
}

static strata_err_t rec_from_json(strata_record_kind_t k, const json_t *j,
                                  anyrec_t *r, char *err, size_t n) {
  switch (k) {
  case STRATA_RECORD_TASK:
    return strata_task_from_json(j, &r->task, err, n);
  case STRATA_RECORD_EVENT:
    return strata_event_from_json(j, &r->event, err, n);
  case STRATA_RECORD_CONTROL:
    return strata_control_from_json(j, &r->control, err, n);
  default:
    return strata_deadletter_from_json(j, &r->dl, err, n);
  }
}

static json_t *rec_to_json(strata_record_kind_t k, const anyrec_t *r) {
  switch (k) {
  case STRATA_RECORD_TASK:
    return strata_task_to_json(&r->task);
  case STRATA_RECORD_EVENT:
    return strata_event_to_json(&r->event);
  case STRATA_RECORD_CONTROL:
    return strata_control_to_json(&r->control);
  default:
    return strata_deadletter_to_json(&r->dl);
  }
}

static strata_err_t rec_encode(strata_record_kind_t k, const anyrec_t *r,
                               void **out, size_t *len, char *err, size_t n) {
  switch (k) {
  case STRATA_RECORD_TASK:
    return strata_task_encode(&r->task, out, len, err, n);
  case STRATA_RECORD_EVENT:
    return strata_event_encode(&r->event, out, len, err, n);
  case STRATA_RECORD_CONTROL:
    return strata_control_encode(&r->control, out, len, err, n);
  default:
    return strata_deadletter_encode(&r->dl, out, len, err, n);
  }
}

static strata_err_t rec_decode(strata_record_kind_t k, const void *data,
                               size_t len, anyrec_t *r, char *err, size_t n) {
  switch (k) {
  case STRATA_RECORD_TASK:
    return strata_task_decode(data, len, &r->task, err, n);
  case STRATA_RECORD_EVENT:
    return strata_event_decode(data, len, &r->event, err, n);
  case STRATA_RECORD_CONTROL:
    return strata_control_decode(data, len, &r->control, err, n);
  default:
    return strata_deadletter_decode(data, len, &r->dl, err, n);
  }
}

static strata_record_kind_t kind_of_name(const char *name) {
  for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
    if (strncmp(name, kinds[i].prefix, strlen(kinds[i].prefix)) == 0)
      return kinds[i].kind;
  return STRATA_RECORD_UNKNOWN;
}

static char *path_of(const char *dir, const char *name, const char *ext) {
  size_t n = strlen(dir) + strlen(name) + strlen(ext) + 2;
  char *p = malloc(n);
  snprintf(p, n, "%s/%s%s", dir, name, ext);
  return p;
}

static uint8_t *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
  *len = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
  fclose(f);
  return buf;
}

static int write_file(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len) {
    if (f)
      fclose(f);
    return -1;
  }
  return fclose(f);
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted base names (extension stripped) of the files in dir ending in ext. */
static char **list(const char *dir, const char *ext, size_t *count) {
  DIR *d = opendir(dir);
  char **names = NULL;
  *count = 0;
  if (!d)
    return NULL;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name), x = strlen(ext);
    if (n <= x || strcmp(e->d_name + n - x, ext) != 0)
      continue;
    names = realloc(names, (*count + 1) * sizeof(*names));
    names[*count] = strndup(e->d_name, n - x);
    (*count)++;
  }
  closedir(d);
  qsort(names, *count, sizeof(*names), cmp_names);
  return names;
}

static int gen(const char *values, const char *out) {
  size_t n;
  char **names = list(values, ".json", &n);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    char err[512] = "";
    strata_record_kind_t k = kind_of_name(names[i]);
    char *in = path_of(values, names[i], ".json");
    json_error_t jerr;
    json_t *j = json_load_file(in, 0, &jerr);
    anyrec_t r;
    rec_init(k, &r);
    void *bin = NULL;
    size_t len = 0;
    if (k == STRATA_RECORD_UNKNOWN || !j ||
        rec_from_json(k, j, &r, err, sizeof(err)) ||
        rec_encode(k, &r, &bin, &len, err, sizeof(err))) {
      fprintf(stderr, "%s: %s%s\n", in, err, j ? "" : jerr.text);
      bad++;
    } else {
      char *pb = path_of(out, names[i], ".bin");
      char *pj = path_of(out, names[i], ".json");
      json_t *full = rec_to_json(k, &r);
      if (write_file(pb, bin, len) || json_dump_file(full, pj, JSON_INDENT(2)))
        bad++;
      else
        printf("%s: %zu bytes\n", names[i], len);
      json_decref(full);
      free(pb);
      free(pj);
    }
    free(bin);
    rec_clear(k, &r);
    json_decref(j);
    free(in);
    free(names[i]);
  }
  free(names);
  return bad || n == 0 ? 1 : 0;
}

static int check(const char *dir) {
  size_t n;
  char **names = list(dir, ".bin", &n);
  int bad = 0;
  for (size_t i = 0; i < n; i++) {
    char err[512] = "";
    char *pb = path_of(dir, names[i], ".bin");
    char *pj = path_of(dir, names[i], ".json");
    size_t len = 0;
    uint8_t *bin = read_file(pb, &len);
    json_t *want = json_load_file(pj, 0, NULL);
    strata_record_kind_t k =
        bin ? strata_codec_peek_kind(bin, len) : STRATA_RECORD_UNKNOWN;
    anyrec_t r;
    const char *what = NULL;
    if (!bin || !want)
      what = "missing .bin or unreadable .json";
    else if (k == STRATA_RECORD_UNKNOWN)
      what = "unknown fingerprint";
    if (!what) {
      rec_init(k, &r);
      if (rec_decode(k, bin, len, &r, err, sizeof(err))) {
        what = err;
      } else {
        json_t *got = rec_to_json(k, &r);
        if (!json_equal(got, want)) {
          char *g = json_dumps(got, JSON_COMPACT);
          fprintf(stderr, "%s: decoded value differs:\n  got  %s\n", pb, g);
          free(g);
          what = "value differs from the .json";
        }
        json_decref(got);
        uint64_t fp = 0;
        for (int b = 7; b >= 0; b--)
          fp = (fp << 8) | bin[2 + b];
        void *again = NULL;
        size_t alen = 0;
        if (!what && fp == strata_codec_fingerprint(k)) {
          if (rec_encode(k, &r, &again, &alen, err, sizeof(err)))
            what = err;
          else if (alen != len || memcmp(again, bin, len) != 0)
            what = "re-encoding gives different bytes";
        }
        free(again);
      }
      rec_clear(k, &r);
    }
    if (what) {
      fprintf(stderr, "FAIL %s: %s\n", names[i], what);
      bad++;
    } else {
      printf("ok   %s (%s, %zu bytes)\n", names[i], strata_record_kind_name(k),
             len);
    }
    json_decref(want);
    free(bin);
    free(pb);
    free(pj);
    free(names[i]);
  }
  free(names);
  printf("%zu vectors, %d failed\n", n, bad);
  return bad || n == 0 ? 1 : 0;
}

int main(int argc, char **argv) {
  char err[512];
  if (strata_codec_init(err, sizeof(err))) {
    fprintf(stderr, "%s\n", err);
    return 2;
  }
  if (argc == 4 && strcmp(argv[1], "gen") == 0)
    return gen(argv[2], argv[3]);
  if (argc == 3 && strcmp(argv[1], "check") == 0)
    return check(argv[2]);
  fprintf(stderr, "usage: %s gen <values-dir> <out-dir> | check <dir>\n",
          argv[0]);
  return 2;
}
