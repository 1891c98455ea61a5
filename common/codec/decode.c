/*
 * Single-object decoding: header check, writer-schema lookup by fingerprint,
 * and a schema-driven reader that walks the writer schema over the body and
 * fills the C struct through the reader's desc rows (the binding made by the
 * registry). Fields the writer lacks keep the _init() values, which are the
 * schema defaults; fields the reader lacks are skipped.
 *
 * Why not avro-c's reader: avro-c 1.11.1 allocates string and bytes lengths
 * read from the input before checking them, leaks on a failed read, does
 * not bound array/map block counts, and its resolved reader cannot fill
 * reader fields that are missing from the writer (defaults are a TODO
 * there), which is exactly what schema evolution needs.
 *
 * Invariants, for any input of N bytes:
 *  - every length prefix and block count is checked against the bytes that
 *    remain before anything is allocated or looped over;
 *  - allocations are counted against a budget of 48 * N + 64 KiB (each
 *    charged 16 bytes of allocator overhead) and fail with TOO_LARGE past it;
 *  - the total of array/map elements is at most N, so zero-size items cannot
 *    make a few bytes loop for long;
 *  - whatever was decoded is always reachable from the output struct, so on
 *    any error one clear frees everything;
 *  - the first error wins and names the field path and the byte offset.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

#define MAX_DEPTH 32
#define ALLOC_OVERHEAD 16

typedef struct frame {
  const char *name; /* NULL for an array index frame */
  size_t index;
} frame_t;

typedef struct dec {
  const uint8_t *buf;
  size_t len;
  size_t pos;
  size_t budget;
  size_t elems;
  const char *root;
  frame_t frames[MAX_DEPTH * 2 + 4];
  int nframes;
  int depth;
  char *errstr;
  size_t errsize;
  strata_err_t err;
} dec_t;

static const char *const avtype_names[] = {
    "null",   "boolean", "int",  "long",  "float", "double", "bytes",
    "string", "record",  "enum", "array", "map",   "union",  "fixed"};

__attribute__((format(printf, 3, 4))) static strata_err_t
dfail(dec_t *d, strata_err_t err, const char *fmt, ...) {
  if (d->err)
    return d->err;
  char path[384];
  size_t n = (size_t)snprintf(path, sizeof(path), "%s", d->root);
  for (int i = 0; i < d->nframes && n < sizeof(path); i++) {
    const frame_t *f = &d->frames[i];
    if (f->name)
      n += (size_t)snprintf(path + n, sizeof(path) - n, ".%s", f->name);
    else
      n += (size_t)snprintf(path + n, sizeof(path) - n, "[%zu]", f->index);
  }
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  strata_errf(err, d->errstr, d->errsize, "%s: %s", path, msg);
  d->err = err;
  return err;
}

static void push(dec_t *d, const char *name, size_t index) {
  if (d->nframes < (int)(sizeof(d->frames) / sizeof(d->frames[0]))) {
    d->frames[d->nframes].name = name;
    d->frames[d->nframes].index = index;
  }
  d->nframes++;
}

static void pop(dec_t *d) {
  d->nframes--;
}

static size_t left(const dec_t *d) {
  return d->len - d->pos;
}

static strata_err_t charge(dec_t *d, size_t bytes) {
  if (bytes > d->budget)
    return dfail(d, STRATA_ERR_TOO_LARGE,
                 "allocation budget of the record exhausted at offset %zu "
                 "(%zu more bytes wanted)",
                 d->pos, bytes);
  d->budget -= bytes;
  return STRATA_OK;
}

static void *dalloc(dec_t *d, size_t bytes) {
  if (charge(d, bytes + ALLOC_OVERHEAD))
    return NULL;
  void *p = malloc(bytes ? bytes : 1);
  if (!p)
    dfail(d, STRATA_ERR_NOMEM, "out of memory at offset %zu", d->pos);
  return p;
}

/* Grows an array to hold `need` elements; `most` bounds the final count. */
static strata_err_t grow(dec_t *d, void **arr, size_t *cap, size_t need,
                         size_t most, size_t elem) {
  if (need <= *cap)
    return STRATA_OK;
  size_t ncap = *cap * 2;
  if (ncap > most)
    ncap = most;
  if (ncap < need)
    ncap = need;
  if (charge(d, (ncap - *cap) * elem + ALLOC_OVERHEAD))
    return d->err;
  void *n = realloc(*arr, ncap * elem);
  if (!n)
    return dfail(d, STRATA_ERR_NOMEM, "out of memory at offset %zu", d->pos);
  *arr = n;
  *cap = ncap;
  return STRATA_OK;
}

/* ---- primitives --------------------------------------------------------- */

static strata_err_t rd_long(dec_t *d, int64_t *out, const char *what) {
  size_t at = d->pos;
  uint64_t v = 0;
  for (int shift = 0; shift <= 63; shift += 7) {
    if (d->pos >= d->len)
      return dfail(d, STRATA_ERR_DECODE, "%s truncated at offset %zu", what,
                   at);
    uint8_t b = d->buf[d->pos++];
    if (shift == 63 && (b & 0xfe))
      return dfail(d, STRATA_ERR_DECODE,
                   "%s varint overflows 64 bits at offset %zu", what, at);
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = (int64_t)((v >> 1) ^ (0 - (v & 1)));
      return STRATA_OK;
    }
  }
  return dfail(d, STRATA_ERR_DECODE,
               "%s varint overflows 64 bits at offset %zu", what, at);
}

static strata_err_t rd_int(dec_t *d, int32_t *out, const char *what) {
  size_t at = d->pos;
  int64_t v = 0;
  if (rd_long(d, &v, what))
    return d->err;
  if (v < INT32_MIN || v > INT32_MAX)
    return dfail(d, STRATA_ERR_DECODE,
                 "%s %lld is out of the int range at offset %zu", what,
                 (long long)v, at);
  *out = (int32_t)v;
  return STRATA_OK;
}

static strata_err_t rd_bool(dec_t *d, bool *out) {
  if (d->pos >= d->len)
    return dfail(d, STRATA_ERR_DECODE, "boolean truncated at offset %zu",
                 d->pos);
  uint8_t b = d->buf[d->pos];
  if (b > 1)
    return dfail(d, STRATA_ERR_DECODE,
                 "boolean byte 0x%02x is neither 0 nor 1 at offset %zu", b,
                 d->pos);
  d->pos++;
  *out = b == 1;
  return STRATA_OK;
}

static strata_err_t rd_len(dec_t *d, const char *what, size_t *out) {
  size_t at = d->pos;
  int64_t n = 0;
  if (rd_long(d, &n, what))
    return d->err;
  if (n < 0)
    return dfail(d, STRATA_ERR_DECODE,
                 "%s length %lld is negative at offset %zu", what, (long long)n,
                 at);
  if ((uint64_t)n > left(d))
    return dfail(d, STRATA_ERR_DECODE,
                 "%s length %lld exceeds the %zu bytes left at offset %zu",
                 what, (long long)n, left(d), at);
  *out = (size_t)n;
  return STRATA_OK;
}

static strata_err_t rd_string(dec_t *d, char **out) {
  size_t n = 0;
  if (rd_len(d, "string", &n))
    return d->err;
  size_t bad;
  if (!codec_utf8_valid(d->buf + d->pos, n, &bad))
    return dfail(d, STRATA_ERR_DECODE,
                 "string is not UTF-8 or holds a NUL byte at offset %zu",
                 d->pos + bad);
  char *s = dalloc(d, n + 1);
  if (!s)
    return d->err;
  memcpy(s, d->buf + d->pos, n);
  s[n] = '\0';
  d->pos += n;
  *out = s;
  return STRATA_OK;
}

static strata_err_t rd_bytes(dec_t *d, uint8_t **out, size_t *outlen) {
  size_t n;
  if (rd_len(d, "bytes", &n))
    return d->err;
  *out = NULL;
  *outlen = 0;
  if (n == 0)
    return STRATA_OK;
  uint8_t *p = dalloc(d, n);
  if (!p)
    return d->err;
  memcpy(p, d->buf + d->pos, n);
  d->pos += n;
  *out = p;
  *outlen = n;
  return STRATA_OK;
}

/* Resolves a writer union to the branch the data names. */
static strata_err_t rd_branch(dec_t *d, const codec_node_t **w) {
  if ((*w)->type != CODEC_AV_UNION)
    return STRATA_OK;
  size_t at = d->pos;
  int64_t idx = 0;
  if (rd_long(d, &idx, "union branch index"))
    return d->err;
  if (idx < 0 || (uint64_t)idx >= (*w)->count)
    return dfail(d, STRATA_ERR_DECODE,
                 "union branch %lld is out of range (%zu branches) at offset "
                 "%zu",
                 (long long)idx, (*w)->count, at);
  *w = (*w)->branches[idx];
  return STRATA_OK;
}

/*
 * Reads an array/map block header. `*count` is 0 at the end of the blocks.
 * A count must fit the bytes left at the fewest bytes an item can take
 * (at least one), and all counts together must fit the record length.
 */
static strata_err_t rd_block(dec_t *d, const codec_node_t *w, size_t *count) {
  const char *what = w->type == CODEC_AV_MAP ? "map" : "array";
  size_t at = d->pos;
  int64_t n = 0;
  if (rd_long(d, &n,
              w->type == CODEC_AV_MAP ? "map block count"
                                      : "array block count"))
    return d->err;
  if (n < 0) {
    /* A negative count is followed by the block's size in bytes. */
    if (n == INT64_MIN)
      return dfail(d, STRATA_ERR_DECODE,
                   "%s block count %lld is invalid at offset %zu", what,
                   (long long)n, at);
    n = -n;
    size_t bytes;
    if (rd_len(d, "block size", &bytes))
      return d->err;
  }
  size_t per = w->items->min_size + (w->type == CODEC_AV_MAP ? 1 : 0);
  if (per == 0)
    per = 1;
  if ((uint64_t)n > left(d) / per)
    return dfail(d, STRATA_ERR_DECODE,
                 "%s block count %lld exceeds the %zu bytes left at offset %zu",
                 what, (long long)n, left(d), at);
  if ((uint64_t)n > d->elems)
    return dfail(d, STRATA_ERR_DECODE,
                 "%s block count %lld exceeds what a %zu-byte record can hold "
                 "at offset %zu",
                 what, (long long)n, d->len, at);
  d->elems -= (size_t)n;
  *count = (size_t)n;
  return STRATA_OK;
}

/* ---- skipping fields the reader does not know ------------------------- */

static strata_err_t skip(dec_t *d, const codec_node_t *w) {
  int64_t v;
  size_t n;
  if (++d->depth > MAX_DEPTH)
    return dfail(d, STRATA_ERR_DECODE, "nesting deeper than %d at offset %zu",
                 MAX_DEPTH, d->pos);
  switch (w->type) {
  case CODEC_AV_NULL:
    break;
  case CODEC_AV_BOOLEAN: {
    bool b;
    rd_bool(d, &b);
    break;
  }
  case CODEC_AV_INT: {
    int32_t i;
    rd_int(d, &i, "int");
    break;
  }
  case CODEC_AV_LONG:
    rd_long(d, &v, "long");
    break;
  case CODEC_AV_FLOAT:
  case CODEC_AV_DOUBLE:
  case CODEC_AV_FIXED:
    n = w->type == CODEC_AV_FLOAT    ? 4
        : w->type == CODEC_AV_DOUBLE ? 8
                                     : w->count;
    if (n > left(d))
      dfail(d, STRATA_ERR_DECODE, "%s of %zu bytes truncated at offset %zu",
            avtype_names[w->type], n, d->pos);
    else
      d->pos += n;
    break;
  case CODEC_AV_BYTES:
  case CODEC_AV_STRING:
    if (!rd_len(d, avtype_names[w->type], &n))
      d->pos += n;
    break;
  case CODEC_AV_ENUM: {
    size_t at = d->pos;
    if (!rd_long(d, &v, "enum index") && (v < 0 || (uint64_t)v >= w->count))
      dfail(d, STRATA_ERR_DECODE,
            "enum index %lld is out of range (%zu symbols) at offset %zu",
            (long long)v, w->count, at);
    break;
  }
  case CODEC_AV_UNION: {
    const codec_node_t *b = w;
    if (!rd_branch(d, &b))
      skip(d, b);
    break;
  }
  case CODEC_AV_RECORD:
    for (size_t i = 0; i < w->count && !d->err; i++) {
      push(d, w->fields[i].name, 0);
      skip(d, w->fields[i].type);
      pop(d);
    }
    break;
  case CODEC_AV_ARRAY:
  case CODEC_AV_MAP:
    for (size_t idx = 0; !d->err;) {
      size_t count;
      if (rd_block(d, w, &count) || count == 0)
        break;
      for (size_t i = 0; i < count && !d->err; i++, idx++) {
        push(d, NULL, idx);
        if (w->type == CODEC_AV_MAP && !rd_len(d, "map key", &n))
          d->pos += n;
        if (!d->err)
          skip(d, w->items);
        pop(d);
      }
    }
    break;
  }
  d->depth--;
  return d->err;
}

/* ---- reading into the C struct ---------------------------------------- */

#define AT(obj, off, T) ((T *)(void *)((char *)(obj) + (off)))

static strata_err_t mismatch(dec_t *d, const codec_node_t *w,
                             const char *want) {
  return dfail(d, STRATA_ERR_DECODE,
               "writer sent %s where the reader needs %s at offset %zu",
               avtype_names[w->type], want, d->pos);
}

static strata_err_t rd_any_long(dec_t *d, const codec_node_t *w, int64_t *v) {
  if (rd_branch(d, &w))
    return d->err;
  if (w->type == CODEC_AV_INT) {
    int32_t i = 0;
    if (rd_int(d, &i, "int"))
      return d->err;
    *v = i;
    return STRATA_OK;
  }
  if (w->type == CODEC_AV_LONG)
    return rd_long(d, v, "long");
  return mismatch(d, w, "a long");
}

static strata_err_t rd_any_string(dec_t *d, const codec_node_t *w, char **s) {
  if (rd_branch(d, &w))
    return d->err;
  if (w->type == CODEC_AV_STRING || w->type == CODEC_AV_BYTES)
    return rd_string(d, s);
  return mismatch(d, w, "a string");
}

static strata_err_t rd_record(dec_t *d, const codec_node_t *w,
                              const codec_desc_t *desc, void *obj);

/* Reads one map or array of the C kinds that hold a pointer and a count. */
static strata_err_t rd_container(dec_t *d, const codec_node_t *w,
                                 const codec_row_t *r, void *obj) {
  bool is_map = r->kind == CODEC_F_MAP_LONG || r->kind == CODEC_F_MAP_STRING;
  if (w->type != (is_map ? CODEC_AV_MAP : CODEC_AV_ARRAY))
    return mismatch(d, w, is_map ? "a map" : "an array");
  size_t elem = r->kind == CODEC_F_MAP_LONG       ? sizeof(strata_kv_long_t)
                : r->kind == CODEC_F_MAP_STRING   ? sizeof(strata_kv_str_t)
                : r->kind == CODEC_F_ARRAY_STRING ? sizeof(char *)
                                                  : r->sub->size;
  size_t per = w->items->min_size + (is_map ? 1 : 0);
  if (per == 0)
    per = 1;
  void **arr = AT(obj, r->off, void *);
  size_t *count = AT(obj, r->aux, size_t);
  size_t cap = 0;
  for (;;) {
    size_t n;
    if (rd_block(d, w, &n))
      return d->err;
    if (n == 0)
      return STRATA_OK;
    if (grow(d, arr, &cap, *count + n, *count + n + left(d) / per, elem))
      return d->err;
    for (size_t i = 0; i < n; i++) {
      size_t k = *count;
      char *slot = (char *)*arr + k * elem;
      memset(slot, 0, elem);
      if (r->kind == CODEC_F_ARRAY_RECORD)
        r->sub->init(slot);
      /* Counted before filling, so a failure midway is still freed. */
      (*count)++;
      push(d, NULL, k);
      switch (r->kind) {
      case CODEC_F_MAP_LONG: {
        strata_kv_long_t *kv = (strata_kv_long_t *)(void *)slot;
        if (!rd_string(d, &kv->key))
          rd_any_long(d, w->items, &kv->value);
        break;
      }
      case CODEC_F_MAP_STRING: {
        strata_kv_str_t *kv = (strata_kv_str_t *)(void *)slot;
        if (!rd_string(d, &kv->key))
          rd_any_string(d, w->items, &kv->value);
        break;
      }
      case CODEC_F_ARRAY_STRING:
        rd_any_string(d, w->items, (char **)(void *)slot);
        break;
      default: {
        const codec_node_t *item = w->items;
        if (!rd_branch(d, &item)) {
          if (item->type == CODEC_AV_RECORD)
            rd_record(d, item, r->sub, slot);
          else
            mismatch(d, item, "a record");
        }
        break;
      }
      }
      pop(d);
      if (d->err)
        return d->err;
    }
  }
}

static strata_err_t rd_field(dec_t *d, const codec_node_t *w,
                             const codec_row_t *r, void *obj) {
  if (rd_branch(d, &w))
    return d->err;
  bool null = w->type == CODEC_AV_NULL;
  switch (r->kind) {
  case CODEC_F_OPT_STRING:
    if (null)
      return STRATA_OK;
    /* fall through */
  case CODEC_F_STRING:
    if (w->type != CODEC_AV_STRING && w->type != CODEC_AV_BYTES)
      return mismatch(d, w, "a string");
    return rd_string(d, AT(obj, r->off, char *));
  case CODEC_F_INT:
    if (w->type != CODEC_AV_INT)
      return mismatch(d, w, "an int");
    return rd_int(d, AT(obj, r->off, int32_t), "int");
  case CODEC_F_OPT_LONG:
    *AT(obj, r->aux, bool) = !null;
    if (null)
      return STRATA_OK;
    /* fall through */
  case CODEC_F_LONG:
    return rd_any_long(d, w, AT(obj, r->off, int64_t));
  case CODEC_F_BOOL:
    if (w->type != CODEC_AV_BOOLEAN)
      return mismatch(d, w, "a boolean");
    return rd_bool(d, AT(obj, r->off, bool));
  case CODEC_F_OPT_BYTES:
    *AT(obj, r->aux2, bool) = !null;
    if (null)
      return STRATA_OK;
    /* fall through */
  case CODEC_F_BYTES:
    if (w->type != CODEC_AV_BYTES && w->type != CODEC_AV_STRING)
      return mismatch(d, w, "bytes");
    return rd_bytes(d, AT(obj, r->off, uint8_t *), AT(obj, r->aux, size_t));
  case CODEC_F_ENUM: {
    if (w->type != CODEC_AV_ENUM)
      return mismatch(d, w, "an enum");
    size_t at = d->pos;
    int64_t v;
    if (rd_long(d, &v, "enum index"))
      return d->err;
    if (v < 0 || (uint64_t)v >= w->count)
      return dfail(d, STRATA_ERR_DECODE,
                   "enum index %lld is out of range (%zu symbols) at offset "
                   "%zu",
                   (long long)v, w->count, at);
    const char *sym = w->symbols[v];
    for (size_t i = 0; i < r->nsymbols; i++)
      if (strcmp(r->symbols[i], sym) == 0) {
        *AT(obj, r->off, int) = (int)i;
        return STRATA_OK;
      }
    return dfail(d, STRATA_ERR_DECODE,
                 "enum symbol %s is unknown to this reader at offset %zu", sym,
                 at);
  }
  case CODEC_F_MAP_LONG:
  case CODEC_F_MAP_STRING:
  case CODEC_F_ARRAY_STRING:
  case CODEC_F_ARRAY_RECORD:
    return rd_container(d, w, r, obj);
  case CODEC_F_RECORD:
    if (w->type != CODEC_AV_RECORD)
      return mismatch(d, w, "a record");
    return rd_record(d, w, r->sub, AT(obj, r->off, char));
  case CODEC_F_OPT_RECORD: {
    if (null)
      return STRATA_OK;
    if (w->type != CODEC_AV_RECORD)
      return mismatch(d, w, "a record");
    void *sub = dalloc(d, r->sub->size);
    if (!sub)
      return d->err;
    r->sub->init(sub);
    *AT(obj, r->off, void *) = sub;
    return rd_record(d, w, r->sub, sub);
  }
  }
  return mismatch(d, w, "a known field kind");
}

static strata_err_t rd_record(dec_t *d, const codec_node_t *w,
                              const codec_desc_t *desc, void *obj) {
  if (++d->depth > MAX_DEPTH)
    return dfail(d, STRATA_ERR_DECODE, "nesting deeper than %d at offset %zu",
                 MAX_DEPTH, d->pos);
  /* The registry bound every allow-listed writer record; a mismatch here is
   * a registry bug, reported rather than trusted. */
  if (w->desc != desc || !w->bind)
    return dfail(d, STRATA_ERR_DECODE,
                 "writer record %s is not bound to the reader %s", w->fullname,
                 desc->name);
  for (size_t i = 0; i < w->count; i++) {
    push(d, w->fields[i].name, 0);
    int ri = w->bind[i];
    if (ri < 0)
      skip(d, w->fields[i].type);
    else
      rd_field(d, w->fields[i].type, &desc->rows[ri], obj);
    pop(d);
    if (d->err)
      return d->err;
  }
  d->depth--;
  return STRATA_OK;
}

/* ---- entry point --------------------------------------------------------- */

strata_err_t codec_decode(strata_record_kind_t kind, const void *data,
                          size_t len, void *obj, char *errstr, size_t size) {
  const codec_desc_t *desc = codec_kind_desc(kind);
  if (!desc || !obj)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "decode: no record kind or no output");
  codec_obj_clear(desc, obj);
  strata_err_t err = codec_registry_ready(errstr, size);
  if (err)
    return err;
  const uint8_t *p = data;
  if (!p && len)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "%s: NULL data with length %zu", desc->name, len);
  size_t max = strata_codec_max_record_size();
  if (len > max)
    return strata_errf(STRATA_ERR_TOO_LARGE, errstr, size,
                       "%s: record of %zu bytes exceeds the maximum record "
                       "size of %zu bytes",
                       desc->name, len, max);
  if (len < 2 || p[0] != 0xC3 || p[1] != 0x01)
    return strata_errf(STRATA_ERR_DECODE, errstr, size,
                       "%s: bad magic at offset 0: expected C3 01 (Avro "
                       "single-object encoding), found %s%02X %02X",
                       desc->name, len < 2 ? "only " : "", len > 0 ? p[0] : 0,
                       len > 1 ? p[1] : 0);
  if (len < STRATA_CODEC_HEADER_LEN)
    return strata_errf(STRATA_ERR_DECODE, errstr, size,
                       "%s: header truncated: %zu bytes, the fingerprint needs "
                       "%d",
                       desc->name, len, STRATA_CODEC_HEADER_LEN);
  uint64_t fp = 0;
  for (int i = 7; i >= 0; i--)
    fp = (fp << 8) | p[2 + i];
  const codec_entry_t *e = codec_registry_find(fp);
  if (!e || e->kind != kind) {
    /* Fingerprints are shown in wire byte order, as a hex dump and the
     * Python and Java libraries show them. Formatted on this path only:
     * every record goes through here. */
    char fphex[17];
    for (int i = 0; i < 8; i++)
      snprintf(fphex + 2 * i, 3, "%02x", p[2 + i]);
    if (!e)
      return strata_errf(STRATA_ERR_UNKNOWN_SCHEMA, errstr, size,
                         "%s: unknown writer schema fingerprint %s at offset "
                         "2 (not in the allow-list)",
                         desc->name, fphex);
    return strata_errf(STRATA_ERR_UNKNOWN_SCHEMA, errstr, size,
                       "%s: the record is a %s (fingerprint %s), not a %s",
                       desc->name, strata_record_kind_name(e->kind), fphex,
                       desc->name);
  }
  dec_t d = {
      .buf = p,
      .len = len,
      .pos = STRATA_CODEC_HEADER_LEN,
      .budget = 48 * len + 64 * 1024,
      .elems = len,
      .root = desc->name,
      .errstr = errstr,
      .errsize = size,
  };
  if (!rd_record(&d, e->schema->root, desc, obj) && d.pos != len)
    dfail(&d, STRATA_ERR_DECODE,
          "%zu trailing bytes after the record at offset %zu", len - d.pos,
          d.pos);
  if (d.err)
    codec_obj_clear(desc, obj);
  return d.err;
}

strata_err_t strata_task_decode(const void *data, size_t len,
                                strata_task_t *out, char *errstr, size_t size) {
  return codec_decode(STRATA_RECORD_TASK, data, len, out, errstr, size);
}
strata_err_t strata_event_decode(const void *data, size_t len,
                                 strata_event_t *out, char *errstr,
                                 size_t size) {
  return codec_decode(STRATA_RECORD_EVENT, data, len, out, errstr, size);
}
strata_err_t strata_control_decode(const void *data, size_t len,
                                   strata_control_t *out, char *errstr,
                                   size_t size) {
  return codec_decode(STRATA_RECORD_CONTROL, data, len, out, errstr, size);
}
strata_err_t strata_deadletter_decode(const void *data, size_t len,
                                      strata_deadletter_t *out, char *errstr,
                                      size_t size) {
  return codec_decode(STRATA_RECORD_DEADLETTER, data, len, out, errstr, size);
}
