/*
 * JSON form of the records, driven by the same desc rows as the binary
 * codec: one object per record with the Avro field names, null for absent
 * optionals, enum symbols as strings, maps as objects, bytes as standard
 * padded base64, longs as JSON integers.
 *
 * Invariants: to_json emits every field; from_json accepts an object whose
 * keys are all known fields, fills missing fields that have a schema
 * default from _init(), and rejects a missing required field, a wrong JSON
 * type, an int out of range, an unknown enum symbol or bad base64, naming
 * the field. The output struct is always either complete or cleared.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

#define AT(obj, off, T) ((T *)(void *)((char *)(obj) + (off)))
#define CAT(obj, off, T)                                                       \
  ((T const *)(const void *)((const char *)(obj) + (off)))

/* ---- base64 ------------------------------------------------------------- */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static json_t *b64_encode(const uint8_t *p, size_t n) {
  size_t olen = 4 * ((n + 2) / 3);
  char *o = malloc(olen + 1);
  if (!o)
    return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n)
      v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n)
      v |= p[i + 2];
    o[k++] = b64[(v >> 18) & 63];
    o[k++] = b64[(v >> 12) & 63];
    o[k++] = i + 1 < n ? b64[(v >> 6) & 63] : '=';
    o[k++] = i + 2 < n ? b64[v & 63] : '=';
  }
  json_t *j = json_stringn(o, k);
  free(o);
  return j;
}

static int b64_val(char c) {
  const char *f = c ? strchr(b64, c) : NULL;
  return f ? (int)(f - b64) : -1;
}

/* Strict: length a multiple of 4, padding only at the end. */
static bool b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen) {
  *out = NULL;
  *outlen = 0;
  if (n % 4)
    return false;
  if (n == 0)
    return true;
  uint8_t *o = malloc(n / 4 * 3);
  if (!o)
    return false;
  size_t k = 0;
  for (size_t i = 0; i < n; i += 4) {
    int v[4];
    int pad = 0;
    for (int q = 0; q < 4; q++) {
      if (s[i + q] == '=' && i + 4 == n && q >= 2) {
        v[q] = 0;
        pad++;
      } else if (pad || (v[q] = b64_val(s[i + q])) < 0) {
        free(o);
        return false;
      }
    }
    uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                 (uint32_t)v[2] << 6 | (uint32_t)v[3];
    o[k++] = (uint8_t)(w >> 16);
    if (pad < 2)
      o[k++] = (uint8_t)(w >> 8);
    if (pad < 1)
      o[k++] = (uint8_t)w;
  }
  *out = o;
  *outlen = k;
  return true;
}

/* ---- to JSON ------------------------------------------------------------ */

static json_t *str_or_null(const char *s) {
  return s ? json_string(s) : json_null();
}

static json_t *row_to_json(const codec_row_t *r, const void *obj) {
  switch (r->kind) {
  case CODEC_F_STRING: {
    const char *s = *CAT(obj, r->off, char *);
    return json_string(s ? s : r->str_default ? r->str_default : "");
  }
  case CODEC_F_OPT_STRING:
    return str_or_null(*CAT(obj, r->off, char *));
  case CODEC_F_INT:
    return json_integer(*CAT(obj, r->off, int32_t));
  case CODEC_F_LONG:
    return json_integer(*CAT(obj, r->off, int64_t));
  case CODEC_F_OPT_LONG:
    return *CAT(obj, r->aux, bool) ? json_integer(*CAT(obj, r->off, int64_t))
                                   : json_null();
  case CODEC_F_BOOL:
    return json_boolean(*CAT(obj, r->off, bool));
  case CODEC_F_OPT_BYTES:
    if (!*CAT(obj, r->aux2, bool))
      return json_null();
    /* fall through */
  case CODEC_F_BYTES:
    return b64_encode(*CAT(obj, r->off, uint8_t *), *CAT(obj, r->aux, size_t));
  case CODEC_F_ENUM: {
    int v = *CAT(obj, r->off, int);
    return v >= 0 && (size_t)v < r->nsymbols ? json_string(r->symbols[v])
                                             : json_null();
  }
  case CODEC_F_MAP_LONG:
  case CODEC_F_MAP_STRING: {
    json_t *o = json_object();
    size_t n = *CAT(obj, r->aux, size_t);
    for (size_t i = 0; o && i < n; i++) {
      const char *key;
      json_t *v;
      if (r->kind == CODEC_F_MAP_LONG) {
        const strata_kv_long_t *kv = *CAT(obj, r->off, strata_kv_long_t *) + i;
        key = kv->key;
        v = json_integer(kv->value);
      } else {
        const strata_kv_str_t *kv = *CAT(obj, r->off, strata_kv_str_t *) + i;
        key = kv->key;
        v = str_or_null(kv->value);
      }
      if (!key || !v || json_object_set_new(o, key, v)) {
        json_decref(o);
        return NULL;
      }
    }
    return o;
  }
  case CODEC_F_ARRAY_STRING:
  case CODEC_F_ARRAY_RECORD: {
    json_t *a = json_array();
    size_t n = *CAT(obj, r->aux, size_t);
    for (size_t i = 0; a && i < n; i++) {
      json_t *v = r->kind == CODEC_F_ARRAY_STRING
                      ? str_or_null((*CAT(obj, r->off, char **))[i])
                      : codec_to_json(r->sub, *CAT(obj, r->off, char *) +
                                                  i * r->sub->size);
      if (json_array_append_new(a, v)) {
        json_decref(a);
        return NULL;
      }
    }
    return a;
  }
  case CODEC_F_RECORD:
    return codec_to_json(r->sub, CAT(obj, r->off, char));
  case CODEC_F_OPT_RECORD: {
    const void *sub = *CAT(obj, r->off, void *);
    return sub ? codec_to_json(r->sub, sub) : json_null();
  }
  }
  return NULL;
}

json_t *codec_to_json(const codec_desc_t *desc, const void *obj) {
  if (!obj)
    return NULL;
  json_t *o = json_object();
  for (size_t i = 0; o && i < desc->nrows; i++) {
    json_t *v = row_to_json(&desc->rows[i], obj);
    if (!v || json_object_set_new(o, desc->rows[i].name, v)) {
      json_decref(o);
      return NULL;
    }
  }
  return o;
}

/* ---- from JSON ----------------------------------------------------------- */

typedef struct jctx {
  char *errstr;
  size_t size;
  strata_err_t err;
  char path[256];
} jctx_t;

__attribute__((format(printf, 2, 3))) static strata_err_t
jfail(jctx_t *c, const char *fmt, ...) {
  if (c->err)
    return c->err;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  c->err = strata_errf(STRATA_ERR_INVALID_ARG, c->errstr, c->size, "%s: %s",
                       c->path, msg);
  return c->err;
}

static strata_err_t jnomem(jctx_t *c) {
  if (!c->err)
    c->err = strata_errf(STRATA_ERR_NOMEM, c->errstr, c->size,
                         "%s: out of memory", c->path);
  return c->err;
}

static strata_err_t obj_from_json(jctx_t *c, const codec_desc_t *desc,
                                  const json_t *j, void *obj);

static strata_err_t str_from_json(jctx_t *c, const json_t *v, char **out) {
  if (!json_is_string(v))
    return jfail(c, "expected a string");
  size_t n = json_string_length(v), bad;
  if (!codec_utf8_valid((const uint8_t *)json_string_value(v), n, &bad))
    return jfail(c, "string holds a NUL byte at %zu", bad);
  *out = strdup(json_string_value(v));
  return *out ? STRATA_OK : jnomem(c);
}

static strata_err_t int_from_json(jctx_t *c, const json_t *v, int64_t lo,
                                  int64_t hi, int64_t *out) {
  if (!json_is_integer(v))
    return jfail(c, "expected an integer");
  json_int_t x = json_integer_value(v);
  if (x < lo || x > hi)
    return jfail(c, "%lld is out of range", (long long)x);
  *out = (int64_t)x;
  return STRATA_OK;
}

static strata_err_t row_from_json(jctx_t *c, const codec_row_t *r,
                                  const json_t *v, void *obj) {
  int64_t x = 0;
  bool null = json_is_null(v);
  switch (r->kind) {
  case CODEC_F_OPT_STRING:
    if (null)
      return STRATA_OK;
    /* fall through */
  case CODEC_F_STRING:
    return str_from_json(c, v, AT(obj, r->off, char *));
  case CODEC_F_INT:
    if (int_from_json(c, v, INT32_MIN, INT32_MAX, &x))
      return c->err;
    *AT(obj, r->off, int32_t) = (int32_t)x;
    return STRATA_OK;
  case CODEC_F_OPT_LONG:
    *AT(obj, r->aux, bool) = !null;
    if (null)
      return STRATA_OK;
    /* fall through */
  case CODEC_F_LONG:
    return int_from_json(c, v, INT64_MIN, INT64_MAX, AT(obj, r->off, int64_t));
  case CODEC_F_BOOL:
    if (!json_is_boolean(v))
      return jfail(c, "expected true or false");
    *AT(obj, r->off, bool) = json_is_true(v);
    return STRATA_OK;
  case CODEC_F_OPT_BYTES:
    *AT(obj, r->aux2, bool) = !null;
    if (null)
      return STRATA_OK;
    /* fall through */
  case CODEC_F_BYTES:
    if (!json_is_string(v))
      return jfail(c, "expected a base64 string");
    if (!b64_decode(json_string_value(v), json_string_length(v),
                    AT(obj, r->off, uint8_t *), AT(obj, r->aux, size_t)))
      return jfail(c, "not valid padded base64 (or out of memory)");
    return STRATA_OK;
  case CODEC_F_ENUM: {
    const char *s = json_string_value(v);
    for (size_t i = 0; s && i < r->nsymbols; i++)
      if (strcmp(s, r->symbols[i]) == 0) {
        *AT(obj, r->off, int) = (int)i;
        return STRATA_OK;
      }
    return jfail(c, "expected one of the symbols %s ... %s", r->symbols[0],
                 r->symbols[r->nsymbols - 1]);
  }
  case CODEC_F_MAP_LONG:
  case CODEC_F_MAP_STRING: {
    if (!json_is_object(v))
      return jfail(c, "expected an object");
    size_t n = json_object_size(v);
    if (n == 0)
      return STRATA_OK;
    bool longs = r->kind == CODEC_F_MAP_LONG;
    void *arr =
        calloc(n, longs ? sizeof(strata_kv_long_t) : sizeof(strata_kv_str_t));
    if (!arr)
      return jnomem(c);
    *AT(obj, r->off, void *) = arr;
    size_t *count = AT(obj, r->aux, size_t);
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)(uintptr_t)v, key, val) {
      char *k = strdup(key);
      if (!k)
        return jnomem(c);
      if (longs) {
        strata_kv_long_t *kv = (strata_kv_long_t *)arr + *count;
        kv->key = k;
        (*count)++;
        if (int_from_json(c, val, INT64_MIN, INT64_MAX, &kv->value))
          return c->err;
      } else {
        strata_kv_str_t *kv = (strata_kv_str_t *)arr + *count;
        kv->key = k;
        (*count)++;
        if (str_from_json(c, val, &kv->value))
          return c->err;
      }
    }
    return STRATA_OK;
  }
  case CODEC_F_ARRAY_STRING:
  case CODEC_F_ARRAY_RECORD: {
    if (!json_is_array(v))
      return jfail(c, "expected an array");
    size_t n = json_array_size(v);
    if (n == 0)
      return STRATA_OK;
    size_t elem =
        r->kind == CODEC_F_ARRAY_STRING ? sizeof(char *) : r->sub->size;
    char *arr = calloc(n, elem);
    if (!arr)
      return jnomem(c);
    *AT(obj, r->off, char *) = arr;
    size_t *count = AT(obj, r->aux, size_t);
    for (size_t i = 0; i < n; i++) {
      char *slot = arr + i * elem;
      if (r->kind == CODEC_F_ARRAY_RECORD)
        r->sub->init(slot);
      (*count)++;
      strata_err_t err =
          r->kind == CODEC_F_ARRAY_STRING
              ? str_from_json(c, json_array_get(v, i), (char **)(void *)slot)
              : obj_from_json(c, r->sub, json_array_get(v, i), slot);
      if (err)
        return err;
    }
    return STRATA_OK;
  }
  case CODEC_F_RECORD:
    return obj_from_json(c, r->sub, v, AT(obj, r->off, char));
  case CODEC_F_OPT_RECORD: {
    if (null)
      return STRATA_OK;
    void *sub = malloc(r->sub->size);
    if (!sub)
      return jnomem(c);
    r->sub->init(sub);
    *AT(obj, r->off, void *) = sub;
    return obj_from_json(c, r->sub, v, sub);
  }
  }
  return jfail(c, "unsupported field");
}

static strata_err_t obj_from_json(jctx_t *c, const codec_desc_t *desc,
                                  const json_t *j, void *obj) {
  if (!json_is_object(j))
    return jfail(c, "expected an object");
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)(uintptr_t)j, key, val) {
    size_t k;
    for (k = 0; k < desc->nrows; k++)
      if (strcmp(desc->rows[k].name, key) == 0)
        break;
    if (k == desc->nrows) {
      size_t at = strlen(c->path);
      snprintf(c->path + at, sizeof(c->path) - at, ".%s", key);
      return jfail(c, "no such field in %s", desc->name);
    }
  }
  for (size_t k = 0; k < desc->nrows; k++) {
    const codec_row_t *r = &desc->rows[k];
    size_t at = strlen(c->path);
    snprintf(c->path + at, sizeof(c->path) - at, ".%s", r->name);
    const json_t *v = json_object_get(j, r->name);
    if (!v && r->required)
      return jfail(c, "missing, and the field has no default");
    if (v && row_from_json(c, r, v, obj))
      return c->err;
    c->path[at] = '\0';
  }
  return STRATA_OK;
}

strata_err_t codec_from_json(const codec_desc_t *desc, const json_t *j,
                             void *obj, char *errstr, size_t size) {
  jctx_t c = {.errstr = errstr, .size = size};
  snprintf(c.path, sizeof(c.path), "%s", desc->name);
  codec_obj_clear(desc, obj);
  if (obj_from_json(&c, desc, j, obj))
    codec_obj_clear(desc, obj);
  return c.err;
}

json_t *strata_task_to_json(const strata_task_t *t) {
  return codec_to_json(&codec_task_desc, t);
}
strata_err_t strata_task_from_json(const json_t *j, strata_task_t *out,
                                   char *errstr, size_t size) {
  return codec_from_json(&codec_task_desc, j, out, errstr, size);
}
json_t *strata_event_to_json(const strata_event_t *e) {
  return codec_to_json(&codec_event_desc, e);
}
strata_err_t strata_event_from_json(const json_t *j, strata_event_t *out,
                                    char *errstr, size_t size) {
  return codec_from_json(&codec_event_desc, j, out, errstr, size);
}
json_t *strata_control_to_json(const strata_control_t *c) {
  return codec_to_json(&codec_control_desc, c);
}
strata_err_t strata_control_from_json(const json_t *j, strata_control_t *out,
                                      char *errstr, size_t size) {
  return codec_from_json(&codec_control_desc, j, out, errstr, size);
}
json_t *strata_deadletter_to_json(const strata_deadletter_t *d) {
  return codec_to_json(&codec_deadletter_desc, d);
}
strata_err_t strata_deadletter_from_json(const json_t *j,
                                         strata_deadletter_t *out, char *errstr,
                                         size_t size) {
  return codec_from_json(&codec_deadletter_desc, j, out, errstr, size);
}
