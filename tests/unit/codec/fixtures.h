/*
 * Records with every field set, and with only the required ones, shared by
 * the codec tests; plus a tiny Avro writer for hand-made (often hostile)
 * record bodies.
 */
#ifndef STRATA_TEST_CODEC_FIXTURES_H
#define STRATA_TEST_CODEC_FIXTURES_H

#include <stddef.h>
#include <stdint.h>

#include "strata/codec.h"

void fixture_task_full(strata_task_t *t);
void fixture_task_minimal(strata_task_t *t);
void fixture_event_full(strata_event_t *e);
void fixture_event_minimal(strata_event_t *e);
void fixture_control_full(strata_control_t *c);
void fixture_control_minimal(strata_control_t *c);
void fixture_deadletter_full(strata_deadletter_t *d);
void fixture_deadletter_minimal(strata_deadletter_t *d);

/* A growable byte buffer for hand-made records. */
typedef struct tbuf {
  uint8_t b[4096];
  size_t n;
} tbuf_t;

void tb_header(tbuf_t *b, uint64_t fingerprint);
void tb_long(tbuf_t *b, int64_t v);
void tb_str(tbuf_t *b, const char *s);
void tb_raw(tbuf_t *b, const void *p, size_t n);

/*
 * Writes a Task header and the body fields in schema order with minimal
 * values, stopping before the field named `stop` (NULL: write them all).
 */
void tb_task_until(tbuf_t *b, const char *stop);

/* True when both records have equal JSON forms. */
int same_json(json_t *a, json_t *b);

#endif
