/*
 * libFuzzer target for one record kind's decoder, chosen at build time with
 * -DFUZZ_KIND=1..4 (strata_record_kind_t). Besides "no crash, no leak, no
 * allocation beyond -malloc_limit_mb", it checks a property: whatever
 * decodes must re-encode, and the re-encoded bytes must decode to the same
 * value (the JSON forms are equal).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/codec.h"

#ifndef FUZZ_KIND
#error "define FUZZ_KIND"
#endif

typedef union anyrec {
  strata_task_t task;
  strata_event_t event;
  strata_control_t control;
  strata_deadletter_t dl;
} anyrec_t;

static void rec_init(anyrec_t *r) {
  switch (FUZZ_KIND) {
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

static void rec_clear(anyrec_t *r) {
  switch (FUZZ_KIND) {
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

static strata_err_t rec_decode(const void *d, size_t n, anyrec_t *r, char *e,
                               size_t es) {
  switch (FUZZ_KIND) {
  case STRATA_RECORD_TASK:
    return strata_task_decode(d, n, &r->task, e, es);
  case STRATA_RECORD_EVENT:
    return strata_event_decode(d, n, &r->event, e, es);
  case STRATA_RECORD_CONTROL:
    return strata_control_decode(d, n, &r->control, e, es);
  default:
    return strata_deadletter_decode(d, n, &r->dl, e, es);
  }
}

static strata_err_t rec_encode(const anyrec_t *r, void **o, size_t *n, char *e,
                               size_t es) {
  switch (FUZZ_KIND) {
  case STRATA_RECORD_TASK:
    return strata_task_encode(&r->task, o, n, e, es);
  case STRATA_RECORD_EVENT:
    return strata_event_encode(&r->event, o, n, e, es);
  case STRATA_RECORD_CONTROL:
    return strata_control_encode(&r->control, o, n, e, es);
  default:
    return strata_deadletter_encode(&r->dl, o, n, e, es);
  }
}

static json_t *rec_json(const anyrec_t *r) {
  switch (FUZZ_KIND) {
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  anyrec_t a, b;
  rec_init(&a);
  rec_init(&b);
  strata_err_t e = rec_decode(data, size, &a, err, sizeof(err));
  if (e == STRATA_OK) {
    void *out = NULL;
    size_t outlen = 0;
    e = rec_encode(&a, &out, &outlen, err, sizeof(err));
    if (e != STRATA_OK && e != STRATA_ERR_TOO_LARGE) {
      fprintf(stderr, "decoded but does not re-encode: %s\n", err);
      abort();
    }
    if (e == STRATA_OK) {
      if (rec_decode(out, outlen, &b, err, sizeof(err)) != STRATA_OK) {
        fprintf(stderr, "re-encoded bytes do not decode: %s\n", err);
        abort();
      }
      json_t *ja = rec_json(&a), *jb = rec_json(&b);
      if (!json_equal(ja, jb)) {
        fprintf(stderr, "value changed across a re-encode\n");
        abort();
      }
      json_decref(ja);
      json_decref(jb);
    }
    free(out);
  } else if (err[0] == '\0') {
    fprintf(stderr, "error %d without a message\n", (int)e);
    abort();
  }
  rec_clear(&a);
  rec_clear(&b);
  return 0;
}
