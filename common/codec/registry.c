/*
 * The allow-list of writer schemas, keyed by fingerprint, and the binding of
 * each writer record to the C layout it is read into.
 *
 * Built once from the schema files compiled into the library: every
 * schemas/<kind>.avsc is the current schema of its record kind (chosen by the
 * top-level record name) and is also a writer; the files in schemas/history/
 * are writers only. Building the registry checks that each current schema and
 * its desc rows agree (names, order, types, enum symbols, and the _init()
 * values against the schema defaults) and that every writer resolves to the
 * current reader. A failure there is a build mistake and is reported by
 * strata_codec_init() and every codec call.
 *
 * Concurrency: entries are append-only. Writers (init and
 * strata_codec_register_schema) hold a mutex; readers load the entry count
 * with acquire ordering and never see a half-built entry. Entries live until
 * the process exits.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"

#define MAX_ENTRIES 64

static codec_entry_t *entries[MAX_ENTRIES];
static atomic_size_t nentries;
static const codec_entry_t *current[5];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t reg_once = PTHREAD_ONCE_INIT;
static strata_err_t init_err;
static char init_errstr[512];
static atomic_size_t max_record = STRATA_CODEC_DEFAULT_MAX_RECORD;

static const struct {
  strata_record_kind_t kind;
  const char *fullname;
  const char *name;
  const codec_desc_t *desc;
} kinds[] = {
    {STRATA_RECORD_TASK, "io.strata.Task", "Task", &codec_task_desc},
    {STRATA_RECORD_EVENT, "io.strata.TaskEvent", "TaskEvent",
     &codec_event_desc},
    {STRATA_RECORD_CONTROL, "io.strata.Control", "Control",
     &codec_control_desc},
    {STRATA_RECORD_DEADLETTER, "io.strata.DeadLetter", "DeadLetter",
     &codec_deadletter_desc},
};
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

const codec_desc_t *codec_kind_desc(strata_record_kind_t kind) {
  for (size_t i = 0; i < NKINDS; i++)
    if (kinds[i].kind == kind)
      return kinds[i].desc;
  return NULL;
}

const char *strata_record_kind_name(strata_record_kind_t kind) {
  for (size_t i = 0; i < NKINDS; i++)
    if (kinds[i].kind == kind)
      return kinds[i].name;
  return "unknown";
}

/* ---- UTF-8 ------------------------------------------------------------- */

bool codec_utf8_valid(const uint8_t *s, size_t len, size_t *bad_at) {
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    size_t n;
    uint32_t cp;
    if (c == 0)
      goto bad;
    if (c < 0x80) {
      i++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      goto bad;
    }
    if (len - i <= n)
      goto bad;
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        goto bad;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      goto bad;
    i += n + 1;
  }
  return true;
bad:
  if (bad_at)
    *bad_at = i;
  return false;
}

/* ---- binding ----------------------------------------------------------- */

static bool is_any(const codec_node_t *w, codec_avtype_t a, codec_avtype_t b) {
  if (w->type == CODEC_AV_UNION) {
    for (size_t i = 0; i < w->count; i++)
      if (w->branches[i]->type == a || w->branches[i]->type == b)
        return true;
    return false;
  }
  return w->type == a || w->type == b;
}

bool codec_row_accepts(const codec_row_t *r, const codec_node_t *w) {
  codec_avtype_t t = w->type;
  bool null = t == CODEC_AV_NULL;
  switch (r->kind) {
  case CODEC_F_OPT_STRING:
    return null || t == CODEC_AV_STRING || t == CODEC_AV_BYTES;
  case CODEC_F_STRING:
    return t == CODEC_AV_STRING || t == CODEC_AV_BYTES;
  case CODEC_F_INT:
    return t == CODEC_AV_INT;
  case CODEC_F_OPT_LONG:
    return null || t == CODEC_AV_INT || t == CODEC_AV_LONG;
  case CODEC_F_LONG:
    return t == CODEC_AV_INT || t == CODEC_AV_LONG;
  case CODEC_F_BOOL:
    return t == CODEC_AV_BOOLEAN;
  case CODEC_F_OPT_BYTES:
    return null || t == CODEC_AV_BYTES || t == CODEC_AV_STRING;
  case CODEC_F_BYTES:
    return t == CODEC_AV_BYTES || t == CODEC_AV_STRING;
  case CODEC_F_ENUM:
    return t == CODEC_AV_ENUM;
  case CODEC_F_MAP_LONG:
    return t == CODEC_AV_MAP && is_any(w->items, CODEC_AV_INT, CODEC_AV_LONG);
  case CODEC_F_MAP_STRING:
    return t == CODEC_AV_MAP &&
           is_any(w->items, CODEC_AV_STRING, CODEC_AV_BYTES);
  case CODEC_F_ARRAY_STRING:
    return t == CODEC_AV_ARRAY &&
           is_any(w->items, CODEC_AV_STRING, CODEC_AV_BYTES);
  case CODEC_F_ARRAY_RECORD:
    return t == CODEC_AV_ARRAY &&
           is_any(w->items, CODEC_AV_RECORD, CODEC_AV_RECORD);
  case CODEC_F_RECORD:
    return t == CODEC_AV_RECORD;
  case CODEC_F_OPT_RECORD:
    return null || t == CODEC_AV_RECORD;
  }
  return false;
}

/* Binds the record nodes a field of kind `r` may hold to r->sub. */
static strata_err_t bind_nested(const codec_row_t *r, codec_node_t *w,
                                char *errstr, size_t size) {
  if (r->kind == CODEC_F_ARRAY_RECORD)
    w = w->items;
  if (w->type == CODEC_AV_RECORD)
    return codec_bind(w, r->sub, errstr, size);
  for (size_t i = 0; w->type == CODEC_AV_UNION && i < w->count; i++)
    if (w->branches[i]->type == CODEC_AV_RECORD) {
      strata_err_t err = codec_bind(w->branches[i], r->sub, errstr, size);
      if (err)
        return err;
    }
  return STRATA_OK;
}

strata_err_t codec_bind(codec_node_t *w, const codec_desc_t *desc, char *errstr,
                        size_t size) {
  if (w->type != CODEC_AV_RECORD)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "%s: the writer schema is not a record", desc->name);
  if (w->desc == desc)
    return STRATA_OK;
  if (w->desc)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "writer record %s would be read as both %s and %s",
                       w->fullname, w->desc->name, desc->name);
  w->desc = desc;
  w->bind = malloc((w->count ? w->count : 1) * sizeof(int));
  if (!w->bind)
    return strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
  for (size_t i = 0; i < w->count; i++) {
    codec_field_t *f = &w->fields[i];
    w->bind[i] = -1;
    for (size_t k = 0; k < desc->nrows; k++) {
      const codec_row_t *r = &desc->rows[k];
      if (strcmp(r->name, f->name) != 0)
        continue;
      bool ok = false;
      if (f->type->type == CODEC_AV_UNION) {
        for (size_t b = 0; b < f->type->count; b++)
          ok = ok || codec_row_accepts(r, f->type->branches[b]);
      } else {
        ok = codec_row_accepts(r, f->type);
      }
      if (!ok)
        return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                           "%s.%s: the writer's type cannot be read by this "
                           "reader",
                           desc->name, f->name);
      if (r->sub) {
        strata_err_t err = bind_nested(r, f->type, errstr, size);
        if (err)
          return err;
      }
      w->bind[i] = (int)k;
    }
  }
  for (size_t k = 0; k < desc->nrows; k++) {
    bool seen = false;
    for (size_t i = 0; i < w->count; i++)
      seen = seen || w->bind[i] == (int)k;
    if (!seen && desc->rows[k].required)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "%s.%s: the writer lacks this field and the reader "
                         "has no default for it",
                         desc->name, desc->rows[k].name);
  }
  return STRATA_OK;
}

/* ---- checking the current schema against the C layout ------------------ */

static const codec_node_t *record_of(const codec_node_t *w) {
  if (w->type == CODEC_AV_ARRAY)
    w = w->items;
  if (w->type == CODEC_AV_RECORD)
    return w;
  for (size_t i = 0; w->type == CODEC_AV_UNION && i < w->count; i++)
    if (w->branches[i]->type == CODEC_AV_RECORD)
      return w->branches[i];
  return NULL;
}

/* An Avro JSON default in the codec's JSON form (bytes become base64). */
static json_t *default_as_codec_json(const codec_row_t *r, json_t *deflt) {
  bool bytes = r->kind == CODEC_F_BYTES || r->kind == CODEC_F_OPT_BYTES;
  if (bytes && json_is_string(deflt) && json_string_length(deflt) == 0)
    return json_string("");
  if (bytes && !json_is_null(deflt))
    return NULL; /* non-empty bytes defaults are not used by our schemas */
  return json_incref(deflt);
}

static strata_err_t check_current(const codec_node_t *w,
                                  const codec_desc_t *desc, char *errstr,
                                  size_t size) {
  if (w->count != desc->nrows)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "%s: the schema has %zu fields, the C layout %zu",
                       desc->name, w->count, desc->nrows);
  void *obj = malloc(desc->size);
  if (!obj)
    return strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
  desc->init(obj);
  json_t *init_json = codec_to_json(desc, obj);
  codec_obj_clear(desc, obj);
  free(obj);
  if (!init_json)
    return strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
  strata_err_t err = STRATA_OK;
  for (size_t i = 0; i < w->count && !err; i++) {
    const codec_field_t *f = &w->fields[i];
    const codec_row_t *r = &desc->rows[i];
    if (w->bind[i] != (int)i) {
      err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                        "%s.%s: schema field %zu is not C row %zu (%s)",
                        desc->name, f->name, i, i, r->name);
      break;
    }
    if (r->required != (f->deflt == NULL)) {
      err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                        "%s.%s: the schema %s a default, the C layout says "
                        "the field is %s",
                        desc->name, f->name, f->deflt ? "has" : "lacks",
                        r->required ? "required" : "optional");
      break;
    }
    if (r->kind == CODEC_F_ENUM) {
      bool same =
          f->type->type == CODEC_AV_ENUM && f->type->count == r->nsymbols;
      for (size_t k = 0; same && k < r->nsymbols; k++)
        same = strcmp(f->type->symbols[k], r->symbols[k]) == 0;
      if (!same) {
        err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                          "%s.%s: the enum symbols differ from the C enum",
                          desc->name, f->name);
        break;
      }
    }
    if (f->deflt) {
      json_t *want = default_as_codec_json(r, f->deflt);
      json_t *have = json_object_get(init_json, f->name);
      bool same = want && have && json_equal(want, have);
      json_decref(want);
      if (!same) {
        err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                          "%s.%s: the schema default differs from what "
                          "_init() sets",
                          desc->name, f->name);
        break;
      }
    }
    if (r->sub) {
      const codec_node_t *sub = record_of(f->type);
      err = sub ? check_current(sub, r->sub, errstr, size)
                : strata_errf(STRATA_ERR_CONFIG, errstr, size,
                              "%s.%s: no record type", desc->name, f->name);
    }
  }
  json_decref(init_json);
  return err;
}

/* ---- building ---------------------------------------------------------- */

static strata_err_t add_locked(const char *json, size_t len, bool is_current,
                               const char *origin, char *errstr, size_t size) {
  char err1[384];
  codec_schema_t *s = codec_schema_parse(json, len, err1, sizeof(err1));
  if (!s)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size, "%s: %s", origin, err1);
  size_t n = atomic_load_explicit(&nentries, memory_order_relaxed);
  for (size_t i = 0; i < n; i++)
    if (entries[i]->fingerprint == s->fingerprint) {
      bool same = strcmp(entries[i]->schema->canonical, s->canonical) == 0;
      codec_schema_free(s);
      if (same)
        return STRATA_OK;
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "%s: fingerprint collision with another schema",
                         origin);
    }
  strata_record_kind_t kind = STRATA_RECORD_UNKNOWN;
  const codec_desc_t *desc = NULL;
  for (size_t i = 0; i < NKINDS; i++)
    if (s->root->fullname &&
        strcmp(s->root->fullname, kinds[i].fullname) == 0) {
      kind = kinds[i].kind;
      desc = kinds[i].desc;
    }
  strata_err_t err = STRATA_OK;
  if (!desc)
    err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                      "%s: top-level type %s is not a Strata record kind",
                      origin, s->root->fullname ? s->root->fullname : "?");
  if (!err && n == MAX_ENTRIES)
    err = strata_errf(STRATA_ERR_FULL, errstr, size,
                      "%s: the allow-list holds %d schemas already", origin,
                      MAX_ENTRIES);
  if (!err && (err = codec_bind(s->root, desc, err1, sizeof(err1))))
    strata_errf(err, errstr, size, "%s: %s", origin, err1);
  if (!err && is_current &&
      (err = check_current(s->root, desc, err1, sizeof(err1))))
    strata_errf(err, errstr, size, "%s: %s", origin, err1);
  codec_entry_t *e = NULL;
  if (!err && !(e = calloc(1, sizeof(*e))))
    err = strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
  if (err || !e) {
    codec_schema_free(s);
    return err;
  }
  e->kind = kind;
  e->current = is_current;
  e->fingerprint = s->fingerprint;
  e->schema = s;
  e->json = json;
  entries[n] = e;
  if (is_current)
    current[kind] = e;
  atomic_store_explicit(&nentries, n + 1, memory_order_release);
  return STRATA_OK;
}

static void registry_build(void) {
  pthread_mutex_lock(&reg_lock);
  for (size_t i = 0; i < codec_embedded_count && !init_err; i++) {
    const codec_embedded_t *em = &codec_embedded[i];
    init_err = add_locked(em->json, em->len, em->current, em->path, init_errstr,
                          sizeof(init_errstr));
  }
  for (size_t i = 0; i < NKINDS && !init_err; i++)
    if (!current[kinds[i].kind])
      init_err =
          strata_errf(STRATA_ERR_CONFIG, init_errstr, sizeof(init_errstr),
                      "no current schema for %s among the embedded "
                      "schema files",
                      kinds[i].name);
  pthread_mutex_unlock(&reg_lock);
}

strata_err_t codec_registry_ready(char *errstr, size_t size) {
  pthread_once(&reg_once, registry_build);
  if (init_err)
    return strata_errf(init_err, errstr, size, "codec: %s", init_errstr);
  return STRATA_OK;
}

strata_err_t strata_codec_init(char *errstr, size_t size) {
  return codec_registry_ready(errstr, size);
}

const codec_entry_t *codec_registry_find(uint64_t fingerprint) {
  size_t n = atomic_load_explicit(&nentries, memory_order_acquire);
  for (size_t i = 0; i < n; i++)
    if (entries[i]->fingerprint == fingerprint)
      return entries[i];
  return NULL;
}

const codec_entry_t *codec_registry_current(strata_record_kind_t kind) {
  if (codec_registry_ready(NULL, 0) || (int)kind <= 0 || (int)kind >= 5)
    return NULL;
  return current[kind];
}

strata_err_t strata_codec_register_schema(const char *json, size_t len,
                                          char *errstr, size_t size) {
  strata_err_t err = codec_registry_ready(errstr, size);
  if (err)
    return err;
  if (!json)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size, "no schema");
  /* The entry keeps pointing at the text; keep a private copy. */
  char *copy = malloc(len + 1);
  if (!copy)
    return strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
  memcpy(copy, json, len);
  copy[len] = '\0';
  pthread_mutex_lock(&reg_lock);
  size_t before = atomic_load_explicit(&nentries, memory_order_relaxed);
  err = add_locked(copy, len, false, "registered schema", errstr, size);
  bool kept = atomic_load_explicit(&nentries, memory_order_relaxed) > before;
  pthread_mutex_unlock(&reg_lock);
  if (!kept)
    free(copy);
  return err;
}

/* ---- small public queries ------------------------------------------------ */

void strata_codec_set_max_record_size(size_t bytes) {
  atomic_store(&max_record, bytes ? bytes : STRATA_CODEC_DEFAULT_MAX_RECORD);
}

size_t strata_codec_max_record_size(void) {
  return atomic_load(&max_record);
}

strata_record_kind_t strata_codec_peek_kind(const void *data, size_t len) {
  const uint8_t *p = data;
  if (!p || len < STRATA_CODEC_HEADER_LEN || p[0] != 0xC3 || p[1] != 0x01)
    return STRATA_RECORD_UNKNOWN;
  if (codec_registry_ready(NULL, 0))
    return STRATA_RECORD_UNKNOWN;
  uint64_t fp = 0;
  for (int i = 7; i >= 0; i--)
    fp = (fp << 8) | p[2 + i];
  const codec_entry_t *e = codec_registry_find(fp);
  return e ? e->kind : STRATA_RECORD_UNKNOWN;
}

uint64_t strata_codec_fingerprint(strata_record_kind_t kind) {
  const codec_entry_t *e = codec_registry_current(kind);
  return e ? e->fingerprint : 0;
}

const char *strata_codec_schema_json(strata_record_kind_t kind) {
  const codec_entry_t *e = codec_registry_current(kind);
  return e ? e->json : NULL;
}
