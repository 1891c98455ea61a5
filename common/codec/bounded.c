/*
 * Dead letters that always fit. A dead letter carries the record it gives
 * up on twice over (the original bytes and the decoded task), so a record
 * near the maximum size makes a dead letter above it; one that cannot be
 * encoded is one that is lost. strata_deadletter_encode_bounded() steps
 * down until the dead letter fits `max`: without the decoded task, then
 * with long texts and ids shortened, then with only a prefix of the
 * original (original_truncated), keeping the reason, the id (or a prefix
 * and hash of it) and where the original is (topic, partition, offset).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"
#include "strata/codec.h"

/* Texts (detail, last error, attempt errors) in a shortened dead letter. */
#define TEXT_MAX 2048
/* Attempts kept in a shortened dead letter: the last ones. */
#define ATTEMPTS_MAX 16

/* Length of at most `max` bytes of `s`, cut on a UTF-8 boundary. */
static size_t utf8_cut(const char *s, size_t max) {
  size_t n = strlen(s);
  if (n <= max)
    return n;
  while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
    max--;
  return max;
}

size_t strata_record_budget(void) {
  size_t max = strata_codec_max_record_size();
  return max > 4096 ? max - 1024 : max;
}

const char *strata_deadletter_key(const char *task_id, char *buf, size_t size) {
  size_t n, cut;

  if (!task_id)
    return "";
  n = strlen(task_id);
  if (n <= STRATA_DLQ_ID_MAX || size < STRATA_DLQ_ID_MAX + 1)
    return task_id;
  /* A prefix and a hash of the whole id: still one key per task. */
  cut = utf8_cut(task_id, STRATA_DLQ_ID_MAX - 24);
  snprintf(buf, size, "%.*s...#%016" PRIx64, (int)cut, task_id,
           strata_codec_crc64_avro(task_id, n));
  return buf;
}

/* A copy of `s` cut to `max` bytes with a marker, or `s` itself when it
 * fits; *owned is set when a copy was made. */
static char *shorten(char *s, size_t max, bool *owned) {
  size_t n;
  char *c;

  *owned = false;
  if (!s || strlen(s) <= max)
    return s;
  n = utf8_cut(s, max - 16);
  if (!(c = malloc(n + 20)))
    return s;
  snprintf(c, n + 20, "%.*s... (cut)", (int)n, s);
  *owned = true;
  return c;
}

static strata_err_t encode_bounded(const strata_deadletter_t *in, size_t max,
                                   void **out, size_t *outlen, char *errstr,
                                   size_t size) {
  strata_deadletter_t b = *in;
  strata_attempt_record_t att[ATTEMPTS_MAX];
  char idbuf[STRATA_DLQ_ID_MAX + 1];
  bool own_detail = false, own_error = false, own_att[ATTEMPTS_MAX] = {0};
  size_t first = 0, fixed;
  strata_err_t err;

  if (!max || max > strata_record_budget())
    max = strata_record_budget();
  err = strata_deadletter_encode(&b, out, outlen, errstr, size);
  if (err != STRATA_ERR_TOO_LARGE && !(err == STRATA_OK && *outlen > max))
    return err;
  if (!err)
    free(*out);

  /* Smaller: no decoded task, short texts and id, the last attempts. */
  b.task = NULL;
  b.task_id = b.task_id ? (char *)(uintptr_t)strata_deadletter_key(
                              b.task_id, idbuf, sizeof(idbuf))
                        : NULL;
  b.detail = shorten(b.detail, TEXT_MAX, &own_detail);
  b.last_error = shorten(b.last_error, TEXT_MAX, &own_error);
  if (b.attempts_count > ATTEMPTS_MAX)
    first = b.attempts_count - ATTEMPTS_MAX;
  for (size_t i = first; i < b.attempts_count; i++) {
    att[i - first] = b.attempts[i];
    att[i - first].error = shorten(b.attempts[i].error, STRATA_HISTORY_TEXT_MAX,
                                   &own_att[i - first]);
  }
  b.attempts = b.attempts_count ? att : NULL;
  b.attempts_count -= first;
  err = strata_deadletter_encode(&b, out, outlen, errstr, size);
  if (err == STRATA_OK && *outlen > max) {
    free(*out);
    err = STRATA_ERR_TOO_LARGE;
  }
  if (err == STRATA_ERR_TOO_LARGE) {
    /* Then only a prefix of the original: what is left of `max` once the
     * rest is encoded (with room for the longer length prefix). */
    b.original_truncated = true;
    b.original_len = 0;
    if ((err = strata_deadletter_encode(&b, out, outlen, errstr, size)) ==
        STRATA_OK) {
      fixed = *outlen + 16;
      free(*out);
      b.original_len = fixed < max ? max - fixed : 0;
      if (b.original_len > in->original_len)
        b.original_len = in->original_len;
      err = strata_deadletter_encode(&b, out, outlen, errstr, size);
    }
  }
  if (own_detail)
    free(b.detail);
  if (own_error)
    free(b.last_error);
  for (size_t i = 0; i < b.attempts_count; i++)
    if (own_att[i])
      free(att[i].error);
  return err;
}

/* A copy of `s` with every byte that is not part of valid UTF-8 replaced by
 * '?' (NULL when memory is short); `s` itself, unowned, when it is valid or
 * NULL. */
static char *utf8_fixed(char *s, bool *owned) {
  size_t n, bad;
  char *c;

  *owned = false;
  if (!s || codec_utf8_valid((const uint8_t *)s, n = strlen(s), &bad))
    return s;
  if (!(c = strdup(s)))
    return NULL;
  while (!codec_utf8_valid((const uint8_t *)c, n, &bad))
    c[bad] = '?';
  *owned = true;
  return c;
}

/* Texts Strata writes into a dead letter (details, errors) come from many
 * places, some cut by a fixed-size buffer in the middle of a character:
 * a dead letter the encoder refuses for one would be a record lost, so
 * they are repaired and the encoding tried again. */
strata_err_t strata_deadletter_encode_bounded(const strata_deadletter_t *in,
                                              size_t max, void **out,
                                              size_t *outlen, char *errstr,
                                              size_t size) {
  strata_deadletter_t c = *in;
  strata_attempt_record_t *att = NULL;
  bool own_d = false, own_e = false, *own_a = NULL;
  strata_err_t err = encode_bounded(in, max, out, outlen, errstr, size);

  if (err != STRATA_ERR_ENCODE)
    return err;
  if (in->attempts_count &&
      (!(att = calloc(in->attempts_count, sizeof(*att))) ||
       !(own_a = calloc(in->attempts_count, sizeof(*own_a))))) {
    free(att);
    return strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
  }
  c.detail = utf8_fixed(in->detail, &own_d);
  c.last_error = utf8_fixed(in->last_error, &own_e);
  err = (in->detail && !c.detail) || (in->last_error && !c.last_error)
            ? STRATA_ERR_NOMEM
            : STRATA_OK;
  for (size_t i = 0; i < in->attempts_count; i++) {
    att[i] = in->attempts[i];
    att[i].error = utf8_fixed(in->attempts[i].error, &own_a[i]);
    if (in->attempts[i].error && !att[i].error)
      err = STRATA_ERR_NOMEM;
  }
  c.attempts = att;
  if (err)
    strata_errf(err, errstr, size, "out of memory");
  else
    err = encode_bounded(&c, max, out, outlen, errstr, size);
  if (own_d)
    free(c.detail);
  if (own_e)
    free(c.last_error);
  for (size_t i = 0; i < in->attempts_count; i++)
    if (own_a[i])
      free(att[i].error);
  free(att);
  free(own_a);
  return err;
}
