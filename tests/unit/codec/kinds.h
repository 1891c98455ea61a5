/*
 * One table row per record kind, with the codec entry points behind void *
 * wrappers, so a test can loop over all four kinds.
 */
#ifndef STRATA_TEST_CODEC_KINDS_H
#define STRATA_TEST_CODEC_KINDS_H

#include "fixtures.h"

typedef struct kind_ops {
  const char *name;
  strata_record_kind_t kind;
  size_t size;
  void (*init)(void *);
  void (*clear)(void *);
  void (*full)(void *);
  void (*minimal)(void *);
  strata_err_t (*encode)(const void *, void **, size_t *, char *, size_t);
  strata_err_t (*decode)(const void *, size_t, void *, char *, size_t);
  json_t *(*to_json)(const void *);
  strata_err_t (*from_json)(const json_t *, void *, char *, size_t);
  strata_err_t (*copy)(void *, const void *, char *, size_t);
} kind_ops_t;

extern const kind_ops_t kind_ops[4];

#endif
