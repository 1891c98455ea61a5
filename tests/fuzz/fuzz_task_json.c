/*
 * libFuzzer target for strata_task_from_json(), the path the CLI's --jsonl
 * takes for user input. Whatever JSON becomes a Task must encode, decode
 * back, and have the same JSON form.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "strata/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[512];
  json_t *j = json_loadb((const char *)data, size, 0, NULL);
  if (!j)
    return 0;
  strata_task_t a, b;
  strata_task_init(&a);
  strata_task_init(&b);
  if (strata_task_from_json(j, &a, err, sizeof(err)) == STRATA_OK) {
    void *out = NULL;
    size_t len = 0;
    strata_err_t e = strata_task_encode(&a, &out, &len, err, sizeof(err));
    if (e == STRATA_OK) {
      if (strata_task_decode(out, len, &b, err, sizeof(err)) != STRATA_OK) {
        fprintf(stderr, "encoded JSON task does not decode: %s\n", err);
        abort();
      }
      json_t *ja = strata_task_to_json(&a), *jb = strata_task_to_json(&b);
      if (!json_equal(ja, jb)) {
        fprintf(stderr, "JSON task changed across encode/decode\n");
        abort();
      }
      json_decref(ja);
      json_decref(jb);
    } else if (e != STRATA_ERR_TOO_LARGE) {
      fprintf(stderr, "JSON task does not encode: %s\n", err);
      abort();
    }
    free(out);
  }
  strata_task_clear(&a);
  strata_task_clear(&b);
  json_decref(j);
  return 0;
}
