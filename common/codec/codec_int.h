/*
 * Internals shared by the codec's files: the parsed Avro schema tree, the
 * per-record C layout tables ("descs") that drive encode, decode, JSON,
 * clear and copy, and the schema registry.
 *
 * One desc row per Avro field, in schema order, says where the field lives in
 * the C struct and what C shape it has. The registry checks each row against
 * the current schema at start-up (names, order, types, enum symbols, defaults
 * against the _init() values), so the .avsc stays the one source of truth and
 * a drift between it and task.h fails loudly at init and in the unit tests.
 */
#ifndef STRATA_CODEC_INT_H
#define STRATA_CODEC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "strata/codec.h"

typedef enum {
  CODEC_AV_NULL,
  CODEC_AV_BOOLEAN,
  CODEC_AV_INT,
  CODEC_AV_LONG,
  CODEC_AV_FLOAT,
  CODEC_AV_DOUBLE,
  CODEC_AV_BYTES,
  CODEC_AV_STRING,
  CODEC_AV_RECORD,
  CODEC_AV_ENUM,
  CODEC_AV_ARRAY,
  CODEC_AV_MAP,
  CODEC_AV_UNION,
  CODEC_AV_FIXED,
} codec_avtype_t;

struct codec_desc;
typedef struct codec_node codec_node_t;

typedef struct codec_field {
  char *name;
  codec_node_t *type;
  json_t *deflt; /* owned reference; NULL when the field has no default */
} codec_field_t;

struct codec_node {
  codec_avtype_t type;
  char *fullname;          /* record, enum, fixed */
  size_t count;            /* fields, symbols, branches, or fixed size */
  codec_field_t *fields;   /* record */
  char **symbols;          /* enum */
  codec_node_t **branches; /* union */
  codec_node_t *items;     /* array items, map values */
  size_t min_size;         /* fewest bytes an encoded value takes */
  /* Records only: the C layout this writer record reads into, and for each
   * writer field the desc row it fills (-1: not known to the reader, skip). */
  const struct codec_desc *desc;
  int *bind;
};

typedef struct codec_schema {
  codec_node_t *root;
  codec_node_t **nodes; /* every node, for freeing; references share */
  size_t nnodes, capnodes;
  char *canonical;
  uint64_t fingerprint;
} codec_schema_t;

/* Parses .avsc text. Returns NULL and fills errstr on failure. */
codec_schema_t *codec_schema_parse(const char *json, size_t len, char *errstr,
                                   size_t size);
void codec_schema_free(codec_schema_t *s);

/* The C shapes a field can take. */
typedef enum {
  CODEC_F_STRING,       /* char *                                   */
  CODEC_F_OPT_STRING,   /* char *, NULL = null                      */
  CODEC_F_INT,          /* int32_t                                  */
  CODEC_F_LONG,         /* int64_t                                  */
  CODEC_F_OPT_LONG,     /* int64_t + bool at aux                    */
  CODEC_F_BOOL,         /* bool                                     */
  CODEC_F_BYTES,        /* uint8_t * + size_t at aux                */
  CODEC_F_OPT_BYTES,    /* uint8_t * + size_t at aux + bool at aux2 */
  CODEC_F_ENUM,         /* an int-sized C enum                      */
  CODEC_F_MAP_LONG,     /* strata_kv_long_t * + size_t at aux       */
  CODEC_F_MAP_STRING,   /* strata_kv_str_t * + size_t at aux        */
  CODEC_F_ARRAY_STRING, /* char ** + size_t at aux                  */
  CODEC_F_RECORD,       /* embedded struct of desc sub              */
  CODEC_F_OPT_RECORD,   /* pointer to malloc'd struct of sub        */
  CODEC_F_ARRAY_RECORD, /* pointer to array of sub + size_t at aux  */
} codec_fkind_t;

typedef struct codec_row {
  const char *name;
  codec_fkind_t kind;
  size_t off;
  size_t aux;
  size_t aux2;
  bool required;              /* the schema field has no default */
  const char *str_default;    /* CODEC_F_STRING: written when NULL */
  const char *const *symbols; /* CODEC_F_ENUM */
  size_t nsymbols;
  const struct codec_desc *sub; /* record kinds */
} codec_row_t;

typedef struct codec_desc {
  const char *name; /* Avro short name, also the root of error paths */
  const char *fullname;
  size_t size;
  const codec_row_t *rows;
  size_t nrows;
  void (*init)(void *obj);
} codec_desc_t;

extern const codec_desc_t codec_task_desc;
extern const codec_desc_t codec_event_desc;
extern const codec_desc_t codec_control_desc;
extern const codec_desc_t codec_deadletter_desc;

/* Frees every member of `obj` and re-initialises it. */
void codec_obj_clear(const codec_desc_t *desc, void *obj);
/* Deep copy into `dst` (initialised or not; it is overwritten). */
strata_err_t codec_obj_copy(const codec_desc_t *desc, void *dst,
                            const void *src, char *errstr, size_t size);

/* Registry. */
typedef struct codec_entry {
  strata_record_kind_t kind;
  bool current;
  uint64_t fingerprint;
  codec_schema_t *schema;
  const char *json; /* the .avsc text (static for embedded schemas) */
} codec_entry_t;

/* Lazily initialises; returns STRATA_OK or the init error. */
strata_err_t codec_registry_ready(char *errstr, size_t size);
const codec_entry_t *codec_registry_find(uint64_t fingerprint);
const codec_entry_t *codec_registry_current(strata_record_kind_t kind);
const codec_desc_t *codec_kind_desc(strata_record_kind_t kind);

/* Binds a writer record to `desc` (see codec_node.bind); checks resolution. */
strata_err_t codec_bind(codec_node_t *writer, const codec_desc_t *desc,
                        char *errstr, size_t size);

/* Whether a field of C shape `r` can hold a value of writer type `w` (a
 * non-union node); decode and encode pick union branches with it. */
bool codec_row_accepts(const codec_row_t *r, const codec_node_t *w);

/* Encode / decode one record kind (header included). */
strata_err_t codec_encode(strata_record_kind_t kind, const void *obj,
                          void **out, size_t *outlen, char *errstr,
                          size_t size);
strata_err_t codec_decode(strata_record_kind_t kind, const void *data,
                          size_t len, void *obj, char *errstr, size_t size);

/* JSON. */
json_t *codec_to_json(const codec_desc_t *desc, const void *obj);
strata_err_t codec_from_json(const codec_desc_t *desc, const json_t *j,
                             void *obj, char *errstr, size_t size);

/* Strings: valid UTF-8 without NUL bytes (C strings cannot carry NUL). */
bool codec_utf8_valid(const uint8_t *s, size_t len, size_t *bad_at);

/* The schema files compiled into the library (generated at build time). */
typedef struct codec_embedded {
  const char *path; /* relative to schemas/ */
  bool current;     /* schemas/<x>.avsc, not schemas/history/ */
  const char *json;
  size_t len;
} codec_embedded_t;
extern const codec_embedded_t codec_embedded[];
extern const size_t codec_embedded_count;

#endif /* STRATA_CODEC_INT_H */
