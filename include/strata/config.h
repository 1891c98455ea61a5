/*
 * Configuration: one table of keys (name, type, default, range, description)
 * drives parsing, validation, --help text and docs/CONFIG.md, so the three
 * never disagree. Sources, later ones winning: defaults, a Kafka-style
 * properties file (`key=value`, `#` comments), then `--set key=value`.
 * Keys starting with `kafka.` pass, without the prefix, to librdkafka;
 * `exec.<type>` and `pool.<name>` keys are read by the worker and the
 * scheduler.
 *
 * Errors name the key, the value and what is allowed, e.g.
 *   topic.partitions: "0" is out of range; allowed: integer 1..4096
 */
#ifndef STRATA_CONFIG_H
#define STRATA_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "strata/err.h"

typedef enum {
  STRATA_CFG_STRING,
  STRATA_CFG_INT,      /* 64-bit integer within [min, max] */
  STRATA_CFG_BOOL,     /* true|false|1|0|yes|no|on|off */
  STRATA_CFG_DURATION, /* integer + unit ms|s|m|h|d, stored in ms */
  STRATA_CFG_ENUM,     /* one of a '|'-separated list */
  STRATA_CFG_LIST,     /* comma-separated, non-empty items */
} strata_cfg_type_t;

/* Which programs read a key; selects the rows of each program's --help. */
enum {
  STRATA_CFG_CLI = 1 << 0,
  STRATA_CFG_SCHEDULER = 1 << 1,
  STRATA_CFG_WORKER = 1 << 2,
  STRATA_CFG_ALL = 0x7,
};

typedef struct {
  const char *name;
  strata_cfg_type_t type;
  const char *def;     /* default, in the same text form a user writes */
  int64_t min, max;    /* INT and DURATION (ms) bounds, inclusive */
  const char *choices; /* ENUM: "a|b|c" */
  unsigned components; /* STRATA_CFG_* mask */
  const char *desc;
} strata_cfg_key_t;

typedef struct strata_config_s strata_config_t;

/* The key table, terminated by a row whose name is NULL. */
const strata_cfg_key_t *strata_config_keys(void);

/* A configuration holding every key's default. Returns NULL on OOM. */
strata_config_t *strata_config_new(void);
void strata_config_destroy(strata_config_t *cfg);

/*
 * Validates and stores one value. `key` may be a table key or `kafka.<prop>`.
 * On failure returns STRATA_ERR_CONFIG and writes a message naming key, value
 * and what is allowed into errstr; the configuration is unchanged.
 */
strata_err_t strata_config_set(strata_config_t *cfg, const char *key,
                               const char *value, char *errstr, size_t size);

/* Parses "key=value" (as given to --set). */
strata_err_t strata_config_set_kv(strata_config_t *cfg, const char *kv,
                                  char *errstr, size_t size);

/* Loads a properties file; errors carry "path:line: ". */
strata_err_t strata_config_load_file(strata_config_t *cfg, const char *path,
                                     char *errstr, size_t size);

/* Getters for table keys; calling one with an unknown key or the wrong type
 * is a programming error and aborts. Strings are owned by cfg. */
const char *strata_config_get_str(const strata_config_t *cfg, const char *key);
int64_t strata_config_get_int(const strata_config_t *cfg, const char *key);
bool strata_config_get_bool(const strata_config_t *cfg, const char *key);

/*
 * Splits a LIST key into at most `max` items, copied into `out` (caller frees
 * each with free()). Returns the number of items, or -1 when there are more
 * than `max` or memory runs out.
 */
int strata_config_get_list(const strata_config_t *cfg, const char *key,
                           char **out, int max);

/* Iterates `kafka.*` entries in the order they were set (prefix stripped). */
typedef void (*strata_config_kafka_cb)(const char *prop, const char *value,
                                       void *opaque);
void strata_config_foreach_kafka(const strata_config_t *cfg,
                                 strata_config_kafka_cb cb, void *opaque);

/*
 * Iterates the entries of one namespace, "kafka.", "exec." (strata-worker's
 * exec handler: exec.<type>=command) or "pool." (resource pools:
 * pool.<name>=...), in the order they were set, with the prefix stripped.
 */
void strata_config_foreach_prefix(const strata_config_t *cfg,
                                  const char *prefix, strata_config_kafka_cb cb,
                                  void *opaque);

/* Parses a duration ("250ms", "2s", "5m", "1h", "1d"; a bare number is ms).
 * Returns false when malformed or negative. */
bool strata_parse_duration_ms(const char *s, int64_t *out_ms);

/* Prints the keys used by `components` as an aligned --help section. */
void strata_config_print_help(FILE *out, unsigned components);

/* Writes docs/CONFIG.md content. */
void strata_config_write_markdown(FILE *out);

#endif /* STRATA_CONFIG_H */
