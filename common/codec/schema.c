/*
 * Avro schema text → codec_node_t tree, its Parsing Canonical Form, and the
 * CRC-64-AVRO fingerprint of that form.
 *
 * Only trusted .avsc files reach this parser (the allow-list compiled into the
 * library, or files an operator registers); record bytes never do. Still,
 * every failure is an error return, not an abort.
 *
 * Invariants: every node is owned by the schema's `nodes` list exactly once;
 * a named-type reference points at the one node that defines it, so the
 * tree may share subtrees (and may even be recursive) and is freed through the
 * list, never by walking. Names are stored as full names.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

/* ---- CRC-64-AVRO ---------------------------------------------------- */

/* The Avro specification's empty-input value, also the polynomial. */
#define CRC64_EMPTY 0xc15d213aa4d7a795ULL

static uint64_t crc64_table[256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_build(void) {
  for (int i = 0; i < 256; i++) {
    uint64_t fp = (uint64_t)i;
    for (int j = 0; j < 8; j++)
      fp = (fp >> 1) ^ (CRC64_EMPTY & (0 - (fp & 1)));
    crc64_table[i] = fp;
  }
}

uint64_t strata_codec_crc64_avro(const void *data, size_t len) {
  const uint8_t *p = data;
  uint64_t fp = CRC64_EMPTY;
  pthread_once(&crc64_once, crc64_build);
  for (size_t i = 0; i < len; i++)
    fp = (fp >> 8) ^ crc64_table[(fp ^ p[i]) & 0xff];
  return fp;
}

/* ---- parser ------------------------------------------------------------ */

typedef struct parser {
  codec_schema_t *s;
  char *errstr;
  size_t size;
  bool failed;
} parser_t;

__attribute__((format(printf, 2, 3))) static void perr(parser_t *p,
                                                       const char *fmt, ...) {
  if (p->failed)
    return;
  p->failed = true;
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  strata_errf(STRATA_ERR_CONFIG, p->errstr, p->size, "%s", msg);
}

static codec_node_t *node_new(parser_t *p, codec_avtype_t type) {
  codec_schema_t *s = p->s;
  if (s->nnodes == s->capnodes) {
    size_t cap = s->capnodes ? 2 * s->capnodes : 32;
    codec_node_t **n = realloc(s->nodes, cap * sizeof(*n));
    if (!n) {
      perr(p, "out of memory");
      return NULL;
    }
    s->nodes = n;
    s->capnodes = cap;
  }
  codec_node_t *node = calloc(1, sizeof(*node));
  if (!node) {
    perr(p, "out of memory");
    return NULL;
  }
  node->type = type;
  s->nodes[s->nnodes++] = node;
  return node;
}

static const struct {
  const char *name;
  codec_avtype_t type;
  size_t min_size;
} primitives[] = {
    {"null", CODEC_AV_NULL, 0},   {"boolean", CODEC_AV_BOOLEAN, 1},
    {"int", CODEC_AV_INT, 1},     {"long", CODEC_AV_LONG, 1},
    {"float", CODEC_AV_FLOAT, 4}, {"double", CODEC_AV_DOUBLE, 8},
    {"bytes", CODEC_AV_BYTES, 1}, {"string", CODEC_AV_STRING, 1},
};

static int primitive_index(const char *name) {
  for (size_t i = 0; i < sizeof(primitives) / sizeof(primitives[0]); i++)
    if (strcmp(primitives[i].name, name) == 0)
      return (int)i;
  return -1;
}

/* Avro names: [A-Za-z_][A-Za-z0-9_]*, dot-separated in full names. */
static bool name_valid(const char *name, bool dotted) {
  bool start = true;
  if (!*name)
    return false;
  for (const char *c = name; *c; c++) {
    if (dotted && *c == '.' && !start && c[1]) {
      start = true;
      continue;
    }
    bool alpha =
        (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || *c == '_';
    bool digit = *c >= '0' && *c <= '9';
    if (!(alpha || (digit && !start)))
      return false;
    start = false;
  }
  return true;
}

static codec_node_t *find_named(parser_t *p, const char *fullname) {
  for (size_t i = 0; i < p->s->nnodes; i++) {
    codec_node_t *n = p->s->nodes[i];
    if (n->fullname && strcmp(n->fullname, fullname) == 0)
      return n;
  }
  return NULL;
}

static char *join_name(const char *ns, const char *name) {
  size_t a = ns ? strlen(ns) : 0, b = strlen(name);
  char *out = malloc(a + b + 2);
  if (!out)
    return NULL;
  if (a && !strchr(name, '.')) {
    memcpy(out, ns, a);
    out[a] = '.';
    memcpy(out + a + 1, name, b + 1);
  } else {
    memcpy(out, name, b + 1);
  }
  return out;
}

static codec_node_t *parse_node(parser_t *p, const json_t *j, const char *ns,
                                int depth);

static codec_node_t *parse_ref(parser_t *p, const char *name, const char *ns) {
  int pi = primitive_index(name);
  if (pi >= 0) {
    codec_node_t *n = node_new(p, primitives[pi].type);
    if (n)
      n->min_size = primitives[pi].min_size;
    return n;
  }
  char *full = join_name(ns, name);
  if (!full) {
    perr(p, "out of memory");
    return NULL;
  }
  codec_node_t *n = find_named(p, full);
  if (!n)
    n = find_named(p, name);
  free(full);
  if (!n)
    perr(p, "unknown type name \"%s\"", name);
  return n;
}

/* Defines a named type: validates and registers its full name. */
static bool define_named(parser_t *p, codec_node_t *n, const json_t *j,
                         const char *ns) {
  const char *name = json_string_value(json_object_get(j, "name"));
  const char *own_ns = json_string_value(json_object_get(j, "namespace"));
  if (!name) {
    perr(p, "named type without a \"name\"");
    return false;
  }
  if (!name_valid(name, true)) {
    perr(p, "invalid type name \"%s\"", name);
    return false;
  }
  n->fullname = join_name(own_ns ? own_ns : ns, name);
  if (!n->fullname) {
    perr(p, "out of memory");
    return false;
  }
  for (size_t i = 0; i + 1 < p->s->nnodes; i++) {
    codec_node_t *o = p->s->nodes[i];
    if (o != n && o->fullname && strcmp(o->fullname, n->fullname) == 0) {
      perr(p, "type \"%s\" defined twice", n->fullname);
      return false;
    }
  }
  return true;
}

/* The namespace a named type gives to the names inside it. */
static char *inner_ns(const codec_node_t *n) {
  const char *dot = strrchr(n->fullname, '.');
  if (!dot)
    return calloc(1, 1);
  size_t len = (size_t)(dot - n->fullname);
  char *ns = malloc(len + 1);
  if (ns) {
    memcpy(ns, n->fullname, len);
    ns[len] = '\0';
  }
  return ns;
}

static codec_node_t *parse_record(parser_t *p, const json_t *j, const char *ns,
                                  int depth) {
  codec_node_t *n = node_new(p, CODEC_AV_RECORD);
  if (!n || !define_named(p, n, j, ns))
    return NULL;
  const json_t *fields = json_object_get(j, "fields");
  if (!json_is_array(fields)) {
    perr(p, "record \"%s\" has no \"fields\" array", n->fullname);
    return NULL;
  }
  char *fns = inner_ns(n);
  if (!fns) {
    perr(p, "out of memory");
    return NULL;
  }
  size_t count = json_array_size(fields);
  n->fields = calloc(count ? count : 1, sizeof(*n->fields));
  if (!n->fields) {
    free(fns);
    perr(p, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < count; i++) {
    const json_t *f = json_array_get(fields, i);
    const char *fname = json_string_value(json_object_get(f, "name"));
    if (!fname || !name_valid(fname, false)) {
      perr(p, "record \"%s\" has a field with a missing or invalid name",
           n->fullname);
      break;
    }
    for (size_t k = 0; k < n->count; k++)
      if (strcmp(n->fields[k].name, fname) == 0)
        perr(p, "field \"%s\" appears twice", fname);
    codec_field_t *cf = &n->fields[n->count];
    cf->name = strdup(fname);
    if (!cf->name) {
      perr(p, "out of memory");
      break;
    }
    n->count++;
    cf->deflt = json_object_get(f, "default");
    if (cf->deflt)
      json_incref(cf->deflt);
    cf->type = parse_node(p, json_object_get(f, "type"), fns, depth + 1);
    if (!cf->type)
      break;
    n->min_size += cf->type->min_size;
  }
  free(fns);
  return p->failed ? NULL : n;
}

static codec_node_t *parse_enum(parser_t *p, const json_t *j, const char *ns) {
  codec_node_t *n = node_new(p, CODEC_AV_ENUM);
  if (!n || !define_named(p, n, j, ns))
    return NULL;
  n->min_size = 1;
  const json_t *syms = json_object_get(j, "symbols");
  size_t count = json_array_size(syms);
  if (!json_is_array(syms) || count == 0) {
    perr(p, "enum \"%s\" needs a non-empty \"symbols\" array", n->fullname);
    return NULL;
  }
  n->symbols = calloc(count, sizeof(char *));
  if (!n->symbols) {
    perr(p, "out of memory");
    return NULL;
  }
  for (size_t i = 0; i < count; i++) {
    const char *sym = json_string_value(json_array_get(syms, i));
    if (!sym || !name_valid(sym, false)) {
      perr(p, "enum \"%s\" has an invalid symbol", n->fullname);
      return NULL;
    }
    for (size_t k = 0; k < n->count; k++)
      if (strcmp(n->symbols[k], sym) == 0) {
        perr(p, "enum symbol \"%s\" appears twice", sym);
        return NULL;
      }
    n->symbols[i] = strdup(sym);
    if (!n->symbols[i]) {
      perr(p, "out of memory");
      return NULL;
    }
    n->count++;
  }
  return n;
}

static codec_node_t *parse_union(parser_t *p, const json_t *j, const char *ns,
                                 int depth) {
  codec_node_t *n = node_new(p, CODEC_AV_UNION);
  if (!n)
    return NULL;
  size_t count = json_array_size(j);
  if (count == 0) {
    perr(p, "empty union");
    return NULL;
  }
  n->branches = calloc(count, sizeof(*n->branches));
  if (!n->branches) {
    perr(p, "out of memory");
    return NULL;
  }
  size_t min = SIZE_MAX;
  for (size_t i = 0; i < count; i++) {
    codec_node_t *b = parse_node(p, json_array_get(j, i), ns, depth + 1);
    if (!b)
      return NULL;
    if (b->type == CODEC_AV_UNION) {
      perr(p, "a union may not contain a union");
      return NULL;
    }
    n->branches[n->count++] = b;
    if (b->min_size < min)
      min = b->min_size;
  }
  n->min_size = 1 + min;
  return n;
}

static codec_node_t *parse_node(parser_t *p, const json_t *j, const char *ns,
                                int depth) {
  if (p->failed)
    return NULL;
  /* Our schemas nest a few levels; a deep one is a mistake, not a need. */
  if (depth > 32) {
    perr(p, "schema nests deeper than 32 levels");
    return NULL;
  }
  if (json_is_string(j))
    return parse_ref(p, json_string_value(j), ns);
  if (json_is_array(j))
    return parse_union(p, j, ns, depth);
  if (!json_is_object(j)) {
    perr(p, "a schema must be a string, an array or an object");
    return NULL;
  }
  const json_t *type = json_object_get(j, "type");
  if (json_is_object(type) || json_is_array(type))
    return parse_node(p, type, ns, depth + 1);
  const char *t = json_string_value(type);
  if (!t) {
    perr(p, "schema object without a \"type\"");
    return NULL;
  }
  if (strcmp(t, "record") == 0 || strcmp(t, "error") == 0)
    return parse_record(p, j, ns, depth);
  if (strcmp(t, "enum") == 0)
    return parse_enum(p, j, ns);
  if (strcmp(t, "array") == 0 || strcmp(t, "map") == 0) {
    bool arr = t[0] == 'a';
    codec_node_t *n = node_new(p, arr ? CODEC_AV_ARRAY : CODEC_AV_MAP);
    if (!n)
      return NULL;
    n->min_size = 1;
    n->items = parse_node(p, json_object_get(j, arr ? "items" : "values"), ns,
                          depth + 1);
    return n->items ? n : NULL;
  }
  if (strcmp(t, "fixed") == 0) {
    codec_node_t *n = node_new(p, CODEC_AV_FIXED);
    if (!n || !define_named(p, n, j, ns))
      return NULL;
    const json_t *sz = json_object_get(j, "size");
    if (!json_is_integer(sz) || json_integer_value(sz) < 0) {
      perr(p, "fixed \"%s\" needs a non-negative \"size\"", n->fullname);
      return NULL;
    }
    n->count = (size_t)json_integer_value(sz);
    n->min_size = n->count;
    return n;
  }
  /* {"type": "long", "logicalType": ...} and other decorated primitives. */
  return parse_ref(p, t, ns);
}

/* ---- canonical form ---------------------------------------------------- */

typedef struct strbuf {
  char *p;
  size_t len, cap;
  bool oom;
} strbuf_t;

static void sb_add(strbuf_t *b, const char *s) {
  size_t n = strlen(s);
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n + 1)
      cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np) {
      b->oom = true;
      return;
    }
    b->p = np;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n + 1);
  b->len += n;
}

static void sb_quoted(strbuf_t *b, const char *s) {
  /* Names and symbols are validated identifiers: nothing to escape. */
  sb_add(b, "\"");
  sb_add(b, s);
  sb_add(b, "\"");
}

typedef struct pcf {
  strbuf_t sb;
  const codec_node_t **seen;
  size_t nseen;
} pcf_t;

static bool pcf_seen(pcf_t *c, const codec_node_t *n) {
  for (size_t i = 0; i < c->nseen; i++)
    if (c->seen[i] == n)
      return true;
  c->seen[c->nseen++] = n;
  return false;
}

static void pcf_emit(pcf_t *c, const codec_node_t *n) {
  strbuf_t *b = &c->sb;
  switch (n->type) {
  case CODEC_AV_NULL:
  case CODEC_AV_BOOLEAN:
  case CODEC_AV_INT:
  case CODEC_AV_LONG:
  case CODEC_AV_FLOAT:
  case CODEC_AV_DOUBLE:
  case CODEC_AV_BYTES:
  case CODEC_AV_STRING:
    sb_quoted(b, primitives[n->type].name);
    return;
  case CODEC_AV_RECORD:
  case CODEC_AV_ENUM:
  case CODEC_AV_FIXED:
    if (pcf_seen(c, n)) {
      sb_quoted(b, n->fullname);
      return;
    }
    sb_add(b, "{\"name\":");
    sb_quoted(b, n->fullname);
    if (n->type == CODEC_AV_RECORD) {
      sb_add(b, ",\"type\":\"record\",\"fields\":[");
      for (size_t i = 0; i < n->count; i++) {
        sb_add(b, i ? ",{\"name\":" : "{\"name\":");
        sb_quoted(b, n->fields[i].name);
        sb_add(b, ",\"type\":");
        pcf_emit(c, n->fields[i].type);
        sb_add(b, "}");
      }
      sb_add(b, "]}");
    } else if (n->type == CODEC_AV_ENUM) {
      sb_add(b, ",\"type\":\"enum\",\"symbols\":[");
      for (size_t i = 0; i < n->count; i++) {
        if (i)
          sb_add(b, ",");
        sb_quoted(b, n->symbols[i]);
      }
      sb_add(b, "]}");
    } else {
      char num[32];
      snprintf(num, sizeof(num), "%zu", n->count);
      sb_add(b, ",\"type\":\"fixed\",\"size\":");
      sb_add(b, num);
      sb_add(b, "}");
    }
    return;
  case CODEC_AV_ARRAY:
    sb_add(b, "{\"type\":\"array\",\"items\":");
    pcf_emit(c, n->items);
    sb_add(b, "}");
    return;
  case CODEC_AV_MAP:
    sb_add(b, "{\"type\":\"map\",\"values\":");
    pcf_emit(c, n->items);
    sb_add(b, "}");
    return;
  case CODEC_AV_UNION:
    sb_add(b, "[");
    for (size_t i = 0; i < n->count; i++) {
      if (i)
        sb_add(b, ",");
      pcf_emit(c, n->branches[i]);
    }
    sb_add(b, "]");
    return;
  }
}

void codec_schema_free(codec_schema_t *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->nnodes; i++) {
    codec_node_t *n = s->nodes[i];
    free(n->fullname);
    for (size_t k = 0; n->fields && k < n->count; k++) {
      free(n->fields[k].name);
      json_decref(n->fields[k].deflt);
    }
    free(n->fields);
    for (size_t k = 0; n->symbols && k < n->count; k++)
      free(n->symbols[k]);
    free(n->symbols);
    free(n->branches);
    free(n->bind);
    free(n);
  }
  free(s->nodes);
  free(s->canonical);
  free(s);
}

codec_schema_t *codec_schema_parse(const char *json, size_t len, char *errstr,
                                   size_t size) {
  json_error_t jerr;
  json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    strata_errf(STRATA_ERR_CONFIG, errstr, size,
                "schema is not JSON: %s at line %d column %d", jerr.text,
                jerr.line, jerr.column);
    return NULL;
  }
  parser_t p = {.errstr = errstr, .size = size};
  p.s = calloc(1, sizeof(*p.s));
  if (!p.s) {
    json_decref(root);
    strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
    return NULL;
  }
  p.s->root = parse_node(&p, root, "", 0);
  json_decref(root);
  if (!p.s->root || p.failed) {
    if (!p.failed)
      strata_errf(STRATA_ERR_CONFIG, errstr, size, "schema does not parse");
    codec_schema_free(p.s);
    return NULL;
  }
  pcf_t c = {0};
  c.seen = calloc(p.s->nnodes, sizeof(*c.seen));
  if (c.seen)
    pcf_emit(&c, p.s->root);
  free(c.seen);
  if (!c.seen || c.sb.oom || !c.sb.p) {
    free(c.sb.p);
    codec_schema_free(p.s);
    strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
    return NULL;
  }
  p.s->canonical = c.sb.p;
  p.s->fingerprint = strata_codec_crc64_avro(c.sb.p, c.sb.len);
  return p.s;
}

strata_err_t strata_codec_canonical_form(const char *json, size_t len,
                                         char **canonical,
                                         uint64_t *fingerprint, char *errstr,
                                         size_t size) {
  if (canonical)
    *canonical = NULL;
  if (!json)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size, "no schema");
  codec_schema_t *s = codec_schema_parse(json, len, errstr, size);
  if (!s)
    return STRATA_ERR_CONFIG;
  if (fingerprint)
    *fingerprint = s->fingerprint;
  if (canonical) {
    *canonical = s->canonical;
    s->canonical = NULL;
  }
  codec_schema_free(s);
  return STRATA_OK;
}
