/*
 * Single-object encoding: C3 01, the current schema's fingerprint, then the
 * Avro binary body written by walking the current schema's fields through
 * the record's desc rows.
 *
 * Invariants: the output never exceeds the max record size (TOO_LARGE, not
 * a truncated record); every string written is UTF-8 without NUL bytes, so
 * any Avro implementation can read it back; blocks are written with
 * positive counts only (one block per non-empty map or array), which is the
 * form Python and Java writers produce, so the bytes are identical across
 * implementations for the same value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

typedef struct enc {
  uint8_t *p;
  size_t len, cap, max;
  const char *path[40];
  int npath;
  const char *root;
  char *errstr;
  size_t errsize;
  strata_err_t err;
} enc_t;

__attribute__((format(printf, 3, 4))) static strata_err_t
efail(enc_t *e, strata_err_t err, const char *fmt, ...) {
  if (e->err)
    return e->err;
  char path[384];
  size_t n = (size_t)snprintf(path, sizeof(path), "%s", e->root);
  for (int i = 0; i < e->npath && i < 40 && n < sizeof(path); i++)
    n += (size_t)snprintf(path + n, sizeof(path) - n, ".%s", e->path[i]);
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  strata_errf(err, e->errstr, e->errsize, "%s: %s", path, msg);
  e->err = err;
  return err;
}

static void put(enc_t *e, const void *data, size_t n) {
  if (e->err)
    return;
  if (n > e->max - e->len) {
    efail(e, STRATA_ERR_TOO_LARGE,
          "the record would exceed the maximum record size of %zu bytes",
          e->max);
    return;
  }
  if (e->len + n > e->cap) {
    size_t cap = e->cap ? e->cap : 256;
    while (cap < e->len + n)
      cap *= 2;
    uint8_t *np = realloc(e->p, cap);
    if (!np) {
      efail(e, STRATA_ERR_NOMEM, "out of memory");
      return;
    }
    e->p = np;
    e->cap = cap;
  }
  if (n)
    memcpy(e->p + e->len, data, n);
  e->len += n;
}

static void put_long(enc_t *e, int64_t v) {
  uint8_t b[10];
  size_t n = 0;
  uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
  while (z > 0x7f) {
    b[n++] = (uint8_t)((z & 0x7f) | 0x80);
    z >>= 7;
  }
  b[n++] = (uint8_t)z;
  put(e, b, n);
}

static void put_string(enc_t *e, const char *s) {
  size_t n = strlen(s), bad;
  if (!codec_utf8_valid((const uint8_t *)s, n, &bad)) {
    efail(e, STRATA_ERR_ENCODE, "string is not valid UTF-8 at byte %zu", bad);
    return;
  }
  put_long(e, (int64_t)n);
  put(e, s, n);
}

static void put_bytes(enc_t *e, const uint8_t *p, size_t n) {
  if (!p && n) {
    efail(e, STRATA_ERR_ENCODE, "NULL buffer with length %zu", n);
    return;
  }
  put_long(e, (int64_t)n);
  put(e, p, n);
}

#define CAT(obj, off, T)                                                       \
  ((T const *)(const void *)((const char *)(obj) + (off)))

static void enc_record(enc_t *e, const codec_node_t *w,
                       const codec_desc_t *desc, const void *obj);

static bool row_present(const codec_row_t *r, const void *obj) {
  switch (r->kind) {
  case CODEC_F_OPT_STRING:
  case CODEC_F_OPT_RECORD:
    return *CAT(obj, r->off, void *) != NULL;
  case CODEC_F_OPT_LONG:
    return *CAT(obj, r->aux, bool);
  case CODEC_F_OPT_BYTES:
    return *CAT(obj, r->aux2, bool);
  default:
    return true;
  }
}

static void enc_field(enc_t *e, const codec_node_t *w, const codec_row_t *r,
                      const void *obj) {
  bool present = row_present(r, obj);
  if (w->type == CODEC_AV_UNION) {
    size_t i;
    for (i = 0; i < w->count; i++) {
      const codec_node_t *b = w->branches[i];
      if (present ? b->type != CODEC_AV_NULL && codec_row_accepts(r, b)
                  : b->type == CODEC_AV_NULL)
        break;
    }
    if (i == w->count) {
      efail(e, STRATA_ERR_ENCODE, "no union branch fits the value");
      return;
    }
    put_long(e, (int64_t)i);
    w = w->branches[i];
  }
  if (!present)
    return;
  switch (r->kind) {
  case CODEC_F_STRING:
  case CODEC_F_OPT_STRING: {
    const char *s = *CAT(obj, r->off, char *);
    put_string(e, s ? s : r->str_default ? r->str_default : "");
    return;
  }
  case CODEC_F_INT:
    put_long(e, *CAT(obj, r->off, int32_t));
    return;
  case CODEC_F_LONG:
  case CODEC_F_OPT_LONG:
    put_long(e, *CAT(obj, r->off, int64_t));
    return;
  case CODEC_F_BOOL: {
    uint8_t b = *CAT(obj, r->off, bool) ? 1 : 0;
    put(e, &b, 1);
    return;
  }
  case CODEC_F_BYTES:
  case CODEC_F_OPT_BYTES:
    put_bytes(e, *CAT(obj, r->off, uint8_t *), *CAT(obj, r->aux, size_t));
    return;
  case CODEC_F_ENUM: {
    int v = *CAT(obj, r->off, int);
    if (v < 0 || (size_t)v >= r->nsymbols) {
      efail(e, STRATA_ERR_ENCODE, "enum value %d is not a known symbol", v);
      return;
    }
    /* The current schema lists the symbols in C enum order (checked at
     * init), so the C value is the Avro index. */
    put_long(e, v);
    return;
  }
  case CODEC_F_MAP_LONG:
  case CODEC_F_MAP_STRING:
  case CODEC_F_ARRAY_STRING:
  case CODEC_F_ARRAY_RECORD: {
    size_t n = *CAT(obj, r->aux, size_t);
    const char *arr = *CAT(obj, r->off, char *);
    if (n && !arr) {
      efail(e, STRATA_ERR_ENCODE, "NULL array with %zu entries", n);
      return;
    }
    if (n)
      put_long(e, (int64_t)n);
    for (size_t i = 0; i < n && !e->err; i++) {
      switch (r->kind) {
      case CODEC_F_MAP_LONG: {
        const strata_kv_long_t *kv =
            (const strata_kv_long_t *)(const void *)arr + i;
        if (!kv->key) {
          efail(e, STRATA_ERR_ENCODE, "entry %zu has a NULL key", i);
          break;
        }
        put_string(e, kv->key);
        put_long(e, kv->value);
        break;
      }
      case CODEC_F_MAP_STRING: {
        const strata_kv_str_t *kv =
            (const strata_kv_str_t *)(const void *)arr + i;
        if (!kv->key || !kv->value) {
          efail(e, STRATA_ERR_ENCODE, "entry %zu has a NULL key or value", i);
          break;
        }
        put_string(e, kv->key);
        put_string(e, kv->value);
        break;
      }
      case CODEC_F_ARRAY_STRING: {
        const char *s = ((char *const *)(const void *)arr)[i];
        if (!s) {
          efail(e, STRATA_ERR_ENCODE, "entry %zu is NULL", i);
          break;
        }
        put_string(e, s);
        break;
      }
      default:
        enc_record(e, w->items, r->sub, arr + i * r->sub->size);
        break;
      }
    }
    put_long(e, 0);
    return;
  }
  case CODEC_F_RECORD:
    enc_record(e, w, r->sub, CAT(obj, r->off, char));
    return;
  case CODEC_F_OPT_RECORD:
    enc_record(e, w, r->sub, *CAT(obj, r->off, void *));
    return;
  }
}

static void enc_record(enc_t *e, const codec_node_t *w,
                       const codec_desc_t *desc, const void *obj) {
  for (size_t i = 0; i < w->count && !e->err; i++) {
    e->path[e->npath < 40 ? e->npath : 39] = w->fields[i].name;
    e->npath++;
    enc_field(e, w->fields[i].type, &desc->rows[w->bind[i]], obj);
    e->npath--;
  }
}

strata_err_t codec_encode(strata_record_kind_t kind, const void *obj,
                          void **out, size_t *outlen, char *errstr,
                          size_t size) {
  const codec_desc_t *desc = codec_kind_desc(kind);
  if (out)
    *out = NULL;
  if (outlen)
    *outlen = 0;
  if (!desc || !obj || !out || !outlen)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "encode: missing record or output");
  strata_err_t err = codec_registry_ready(errstr, size);
  if (err)
    return err;
  const codec_entry_t *cur = codec_registry_current(kind);
  enc_t e = {.max = strata_codec_max_record_size(),
             .root = desc->name,
             .errstr = errstr,
             .errsize = size};
  uint8_t hdr[STRATA_CODEC_HEADER_LEN] = {0xC3, 0x01};
  for (int i = 0; i < 8; i++)
    hdr[2 + i] = (uint8_t)(cur->fingerprint >> (8 * i));
  put(&e, hdr, sizeof(hdr));
  enc_record(&e, cur->schema->root, desc, obj);
  if (e.err) {
    free(e.p);
    return e.err;
  }
  *out = e.p;
  *outlen = e.len;
  return STRATA_OK;
}

strata_err_t strata_task_encode(const strata_task_t *in, void **out,
                                size_t *outlen, char *errstr, size_t size) {
  return codec_encode(STRATA_RECORD_TASK, in, out, outlen, errstr, size);
}
strata_err_t strata_event_encode(const strata_event_t *in, void **out,
                                 size_t *outlen, char *errstr, size_t size) {
  return codec_encode(STRATA_RECORD_EVENT, in, out, outlen, errstr, size);
}
strata_err_t strata_control_encode(const strata_control_t *in, void **out,
                                   size_t *outlen, char *errstr, size_t size) {
  return codec_encode(STRATA_RECORD_CONTROL, in, out, outlen, errstr, size);
}
strata_err_t strata_deadletter_encode(const strata_deadletter_t *in, void **out,
                                      size_t *outlen, char *errstr,
                                      size_t size) {
  return codec_encode(STRATA_RECORD_DEADLETTER, in, out, outlen, errstr, size);
}
