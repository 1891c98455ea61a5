/*
 * Configuration store and parser over the key table of config_keys.c.
 *
 * Invariants: every table key always holds a valid value (the default until a
 * set succeeds), so getters never fail; a failed set leaves the old value.
 * Namespaced entries (`kafka.*`, `exec.*`, `pool.*`) are kept in insertion
 * order with their full key, a later set of the same key replacing the
 * earlier value in place; their meaning is their reader's business.
 */
#include "strata/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  char *prop; /* the full key, e.g. "kafka.linger.ms" */
  char *value;
} kafka_entry_t;

struct strata_config_s {
  int nkeys;
  char **text;   /* per key, the value as text (owned) */
  int64_t *ival; /* per key, INT/DURATION value or BOOL as 0/1 */
  kafka_entry_t *kafka;
  int nkafka, capkafka;
};

static int key_index(const char *name) {
  const strata_cfg_key_t *k = strata_config_keys();
  for (int i = 0; k[i].name; i++)
    if (!strcmp(k[i].name, name))
      return i;
  return -1;
}

bool strata_parse_duration_ms(const char *s, int64_t *out_ms) {
  static const struct {
    const char *unit;
    int64_t ms;
  } units[] = {
      {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}};
  char *end;
  long long v;

  if (!s || !isdigit((unsigned char)*s))
    return false;
  errno = 0;
  v = strtoll(s, &end, 10);
  if (errno || v < 0)
    return false;
  /* A unit is required ("30" could mean seconds as well as milliseconds),
   * except for zero, which means the same in every unit. */
  if (!*end && v == 0) {
    *out_ms = 0;
    return true;
  }
  for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
    if (!strcmp(end, units[i].unit)) {
      if (v > INT64_MAX / units[i].ms)
        return false;
      *out_ms = (int64_t)v * units[i].ms;
      return true;
    }
  }
  return false;
}

/* Exactly "true" or "false": a setting that reads "yes", "on" or "TRUE"
 * in one tool and something else in another is a trap. */
static bool parse_bool(const char *s, int64_t *out) {
  if (!strcmp(s, "true") || !strcmp(s, "false")) {
    *out = !strcmp(s, "true");
    return true;
  }
  return false;
}

static bool enum_has(const char *choices, const char *s) {
  size_t n = strlen(s);
  const char *p = choices;
  while (*p) {
    const char *bar = strchr(p, '|');
    size_t len = bar ? (size_t)(bar - p) : strlen(p);
    if (len == n && !strncmp(p, s, n))
      return true;
    if (!bar)
      break;
    p = bar + 1;
  }
  return false;
}

/* Checks `value` against row `k`; fills *ival for numeric kinds. */
static strata_err_t validate(const strata_cfg_key_t *k, const char *value,
                             int64_t *ival, char *errstr, size_t size) {
  char *end;
  long long v;

  *ival = 0;
  switch (k->type) {
  case STRATA_CFG_STRING:
    return STRATA_OK;
  case STRATA_CFG_INT:
    errno = 0;
    v = strtoll(value, &end, 10);
    if (!*value || *end || errno)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "%s: \"%s\" is not an integer; allowed: integer "
                         "%" PRId64 "..%" PRId64,
                         k->name, value, k->min, k->max);
    if (v < k->min || v > k->max)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "%s: \"%s\" is out of range; allowed: integer "
                         "%" PRId64 "..%" PRId64,
                         k->name, value, k->min, k->max);
    *ival = v;
    return STRATA_OK;
  case STRATA_CFG_DURATION:
    if (!strata_parse_duration_ms(value, ival))
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "%s: \"%s\" is not a duration; allowed: a number "
                         "with unit ms, s, m, h or d (e.g. 250ms, 5s)",
                         k->name, value);
    if (*ival < k->min || *ival > k->max)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "%s: \"%s\" is out of range; allowed: %" PRId64
                         "ms..%" PRId64 "ms",
                         k->name, value, k->min, k->max);
    return STRATA_OK;
  case STRATA_CFG_BOOL:
    if (!parse_bool(value, ival))
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "%s: \"%s\" is not a boolean; allowed: true|false",
                         k->name, value);
    return STRATA_OK;
  case STRATA_CFG_ENUM:
    if (!enum_has(k->choices, value))
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "%s: \"%s\" is not allowed; allowed: %s", k->name,
                         value, k->choices);
    return STRATA_OK;
  case STRATA_CFG_LIST: {
    /* Non-empty items only: "a,,b" and "" are errors. */
    const char *p = value;
    if (!*p)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "%s: the list is empty; allowed: comma-separated "
                         "non-empty items",
                         k->name);
    for (;;) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      if (len == 0)
        return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                           "%s: \"%s\" has an empty item; allowed: "
                           "comma-separated non-empty items",
                           k->name, value);
      if (!comma)
        break;
      p = comma + 1;
    }
    return STRATA_OK;
  }
  }
  return STRATA_ERR_CONFIG;
}

strata_config_t *strata_config_new(void) {
  const strata_cfg_key_t *k = strata_config_keys();
  strata_config_t *cfg = calloc(1, sizeof(*cfg));
  char err[256];

  if (!cfg)
    return NULL;
  while (k[cfg->nkeys].name)
    cfg->nkeys++;
  cfg->text = calloc((size_t)cfg->nkeys, sizeof(*cfg->text));
  cfg->ival = calloc((size_t)cfg->nkeys, sizeof(*cfg->ival));
  if (!cfg->text || !cfg->ival)
    goto err;
  for (int i = 0; i < cfg->nkeys; i++) {
    /* A default that fails its own validation is a bug in the table. */
    if (validate(&k[i], k[i].def, &cfg->ival[i], err, sizeof(err)) !=
        STRATA_OK) {
      fprintf(stderr, "strata: bad default in key table: %s\n", err);
      abort();
    }
    if (!(cfg->text[i] = strdup(k[i].def)))
      goto err;
  }
  return cfg;
err:
  strata_config_destroy(cfg);
  return NULL;
}

void strata_config_destroy(strata_config_t *cfg) {
  if (!cfg)
    return;
  if (cfg->text)
    for (int i = 0; i < cfg->nkeys; i++)
      free(cfg->text[i]);
  free(cfg->text);
  free(cfg->ival);
  for (int i = 0; i < cfg->nkafka; i++) {
    free(cfg->kafka[i].prop);
    free(cfg->kafka[i].value);
  }
  free(cfg->kafka);
  free(cfg);
}

/* Key namespaces passed through to their readers, with what they hold. */
static const struct {
  const char *prefix, *what;
} namespaces[] = {
    {"kafka.", "a librdkafka property"},
    {"exec.", "a task type (exec.<type>=command for strata-worker)"},
    {"pool.", "a resource pool name (pool.<name>=...)"},
};

static const char *namespace_of(const char *key) {
  for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++)
    if (!strncmp(key, namespaces[i].prefix, strlen(namespaces[i].prefix)))
      return namespaces[i].what;
  return NULL;
}

/* librdkafka properties Strata sets itself because its guarantees rest on
 * them (exactly-once dispatch, outcomes committed with their offsets): a
 * user value would silently defeat them. The value each must keep, or NULL
 * when no user value is accepted at all. */
static const struct {
  const char *prop, *keep, *why;
} guarded[] = {
    {"kafka.isolation.level", "read_committed",
     "every consumer must read only committed records (aborted dispatches "
     "and outcomes would otherwise run or count)"},
    {"kafka.transactional.id", NULL,
     "each process derives its own from scheduler.instance.id or "
     "worker.instance.id; a shared one fences processes against each other"},
    {"kafka.enable.idempotence", "true",
     "transactions and duplicate-free producing need the idempotent "
     "producer"},
    {"kafka.acks", "all",
     "a record acknowledged by fewer than the in-sync replicas can be lost"},
    {"kafka.enable.auto.commit", "false",
     "offsets are committed in the transactions that consume them"},
    {"kafka.group.id", NULL,
     "set scheduler.group.id or worker.group.id instead"},
};

static strata_err_t check_guarded(const char *prop, const char *value,
                                  char *errstr, size_t size) {
  for (size_t i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
    if (strcmp(prop, guarded[i].prop))
      continue;
    if (guarded[i].keep && !strcmp(value, guarded[i].keep))
      return STRATA_OK;
    if (guarded[i].keep)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "%s: \"%s\" is refused; only %s is allowed, because "
                         "%s",
                         prop, value, guarded[i].keep, guarded[i].why);
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "%s: refused (\"%s\"), because %s", prop, value,
                       guarded[i].why);
  }
  return STRATA_OK;
}

static strata_err_t set_kafka(strata_config_t *cfg, const char *prop,
                              const char *value, char *errstr, size_t size) {
  const char *dot = strchr(prop, '.');
  strata_err_t err;
  char *v;

  if (!dot[1])
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "%s: missing %s after \"%.*s\"", prop,
                       namespace_of(prop), (int)(dot - prop + 1), prop);
  if ((err = check_guarded(prop, value, errstr, size)))
    return err;
  if (!(v = strdup(value)))
    return STRATA_ERR_NOMEM;
  for (int i = 0; i < cfg->nkafka; i++) {
    if (!strcmp(cfg->kafka[i].prop, prop)) {
      free(cfg->kafka[i].value);
      cfg->kafka[i].value = v;
      return STRATA_OK;
    }
  }
  if (cfg->nkafka == cfg->capkafka) {
    int cap = cfg->capkafka ? cfg->capkafka * 2 : 8;
    kafka_entry_t *n = realloc(cfg->kafka, (size_t)cap * sizeof(*n));
    if (!n) {
      free(v);
      return STRATA_ERR_NOMEM;
    }
    cfg->kafka = n;
    cfg->capkafka = cap;
  }
  if (!(cfg->kafka[cfg->nkafka].prop = strdup(prop))) {
    free(v);
    return STRATA_ERR_NOMEM;
  }
  cfg->kafka[cfg->nkafka++].value = v;
  return STRATA_OK;
}

strata_err_t strata_config_set(strata_config_t *cfg, const char *key,
                               const char *value, char *errstr, size_t size) {
  const strata_cfg_key_t *k = strata_config_keys();
  int64_t ival;
  strata_err_t err;
  char *copy;
  int i;

  if (namespace_of(key))
    return set_kafka(cfg, key, value, errstr, size);
  if ((i = key_index(key)) < 0)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "%s: unknown configuration key; see --help for the "
                       "keys, or kafka.<property> for librdkafka, "
                       "exec.<type>, pool.<name>",
                       key);
  if ((err = validate(&k[i], value, &ival, errstr, size)) != STRATA_OK)
    return err;
  if (!(copy = strdup(value)))
    return STRATA_ERR_NOMEM;
  free(cfg->text[i]);
  cfg->text[i] = copy;
  cfg->ival[i] = ival;
  return STRATA_OK;
}

static char *trim(char *s) {
  char *e;
  while (isspace((unsigned char)*s))
    s++;
  e = s + strlen(s);
  while (e > s && isspace((unsigned char)e[-1]))
    *--e = '\0';
  return s;
}

strata_err_t strata_config_set_kv(strata_config_t *cfg, const char *kv,
                                  char *errstr, size_t size) {
  char *copy, *eq;
  strata_err_t err;

  if (!(copy = strdup(kv)))
    return STRATA_ERR_NOMEM;
  if (!(eq = strchr(copy, '='))) {
    err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                      "\"%s\": expected key=value", kv);
  } else {
    *eq = '\0';
    err = strata_config_set(cfg, trim(copy), trim(eq + 1), errstr, size);
  }
  free(copy);
  return err;
}

strata_err_t strata_config_load_file(strata_config_t *cfg, const char *path,
                                     char *errstr, size_t size) {
  FILE *f = fopen(path, "r");
  char line[4096], inner[512];
  strata_err_t err = STRATA_OK;
  int lineno = 0;

  if (!f)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size, "%s: cannot open: %s",
                       path, strerror(errno));
  while (fgets(line, sizeof(line), f)) {
    char *s = trim(line);
    lineno++;
    if (!*s || *s == '#' || *s == '!')
      continue;
    if ((err = strata_config_set_kv(cfg, s, inner, sizeof(inner))) !=
        STRATA_OK) {
      strata_errf(err, errstr, size, "%s:%d: %s", path, lineno, inner);
      break;
    }
  }
  /* A directory opens, then fails to read (EISDIR): never "no settings". */
  if (!err && ferror(f))
    err = strata_errf(STRATA_ERR_CONFIG, errstr, size, "%s: cannot read: %s",
                      path, strerror(errno));
  fclose(f);
  return err;
}

static int checked_index(const char *key, strata_cfg_type_t want, int want2) {
  const strata_cfg_key_t *k = strata_config_keys();
  int i = key_index(key);
  if (i < 0 || (k[i].type != want && (int)k[i].type != want2)) {
    fprintf(stderr, "strata: config getter misuse for key \"%s\"\n", key);
    abort();
  }
  return i;
}

const char *strata_config_get_str(const strata_config_t *cfg, const char *key) {
  int i = key_index(key);
  if (i < 0) {
    fprintf(stderr, "strata: unknown config key \"%s\"\n", key);
    abort();
  }
  return cfg->text[i];
}

int64_t strata_config_get_int(const strata_config_t *cfg, const char *key) {
  return cfg->ival[checked_index(key, STRATA_CFG_INT, STRATA_CFG_DURATION)];
}

bool strata_config_get_bool(const strata_config_t *cfg, const char *key) {
  return cfg->ival[checked_index(key, STRATA_CFG_BOOL, -1)] != 0;
}

int strata_config_get_list(const strata_config_t *cfg, const char *key,
                           char **out, int max) {
  const char *p = cfg->text[checked_index(key, STRATA_CFG_LIST, -1)];
  int n = 0;

  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    if (n == max || !(out[n] = strndup(p, len))) {
      while (n > 0)
        free(out[--n]);
      return -1;
    }
    n++;
    if (!comma)
      return n;
    p = comma + 1;
  }
}

void strata_config_foreach_prefix(const strata_config_t *cfg,
                                  const char *prefix, strata_config_kafka_cb cb,
                                  void *opaque) {
  size_t n = strlen(prefix);
  for (int i = 0; i < cfg->nkafka; i++)
    if (!strncmp(cfg->kafka[i].prop, prefix, n))
      cb(cfg->kafka[i].prop + n, cfg->kafka[i].value, opaque);
}

void strata_config_foreach_kafka(const strata_config_t *cfg,
                                 strata_config_kafka_cb cb, void *opaque) {
  strata_config_foreach_prefix(cfg, "kafka.", cb, opaque);
}

static const char *type_name(const strata_cfg_key_t *k, char *buf,
                             size_t size) {
  switch (k->type) {
  case STRATA_CFG_STRING:
    return "string";
  case STRATA_CFG_INT:
    snprintf(buf, size, "int %" PRId64 "..%" PRId64, k->min, k->max);
    return buf;
  case STRATA_CFG_BOOL:
    return "bool";
  case STRATA_CFG_DURATION:
    snprintf(buf, size, "duration %" PRId64 "ms..%" PRId64 "ms", k->min,
             k->max);
    return buf;
  case STRATA_CFG_ENUM:
    return k->choices;
  case STRATA_CFG_LIST:
    return "list";
  }
  return "?";
}

void strata_config_print_help(FILE *out, unsigned components) {
  const strata_cfg_key_t *k = strata_config_keys();
  char buf[96];

  fprintf(out, "Configuration keys (--config FILE, --set key=value; "
               "kafka.<property> goes to librdkafka):\n");
  for (int i = 0; k[i].name; i++) {
    if (!(k[i].components & components))
      continue;
    fprintf(out, "  %-26s %s (default \"%s\")\n      %s\n", k[i].name,
            type_name(&k[i], buf, sizeof(buf)), k[i].def, k[i].desc);
  }
}

/* Writes `s` with '|' escaped, so it can stand in a Markdown table cell. */
static void md_cell(FILE *out, const char *s) {
  for (; *s; s++) {
    if (*s == '|')
      fputc('\\', out);
    fputc(*s, out);
  }
}

void strata_config_write_markdown(FILE *out) {
  const strata_cfg_key_t *k = strata_config_keys();
  char buf[96];

  fprintf(out,
          "# Configuration keys\n\n"
          "Generated by `strata config docs` from the key table in "
          "`common/base/config_keys.c`; do not edit by hand.\n\n"
          "Every program reads a Kafka-style properties file (`--config "
          "FILE`, `key=value` lines, `#` comments) and `--set key=value` "
          "overrides, later ones winning. Keys starting with `kafka.` pass, "
          "without the prefix, to librdkafka. A bad key or value exits with "
          "code 2 and a message naming the key, the value and what is "
          "allowed. `strata-scheduler --check` and `strata-worker --check` "
          "refuse a bad key, pool, tier list or exec command exactly as a "
          "start does, before connecting to Kafka, then check the topic "
          "layout on the cluster. Booleans are exactly `true` or `false`; "
          "durations need a unit (`250ms`, `5s`, `2m`, `1h`, `1d`; `0` "
          "alone is allowed).\n\n"
          "librdkafka properties Strata's guarantees rest on are refused "
          "with another value: `kafka.isolation.level` (only "
          "`read_committed`), `kafka.enable.idempotence` (only `true`), "
          "`kafka.acks` (only `all`), `kafka.enable.auto.commit` (only "
          "`false`); `kafka.transactional.id` and `kafka.group.id` are "
          "refused whatever their value (each process derives its "
          "transactional id from its instance id; the groups are "
          "`scheduler.group.id` and `worker.group.id`).\n\n"
          "Namespaced keys, any number of each:\n\n"
          "| namespace | read by | value |\n|---|---|---|\n"
          "| `kafka.<property>` | all | a librdkafka property, e.g. "
          "`kafka.security.protocol=ssl` |\n"
          "| `exec.<type>` | strata-worker | the command (run by `/bin/sh "
          "-c`) of the built-in exec handler for tasks of that type |\n"
          "| `pool.<name>` | strata-scheduler | a resource pool: "
          "`rate:<N>/<duration>[,burst:<M>]` (token bucket) or "
          "`concurrency:<N>` |\n\n"
          "| key | type | default | programs | description |\n"
          "|---|---|---|---|---|\n");
  for (int i = 0; k[i].name; i++) {
    unsigned c = k[i].components;
    fprintf(out, "| `%s` | ", k[i].name);
    md_cell(out, type_name(&k[i], buf, sizeof(buf)));
    fprintf(out, " | `%s` | %s%s%s | %s |\n", k[i].def,
            (c & STRATA_CFG_CLI) ? "strata " : "",
            (c & STRATA_CFG_SCHEDULER) ? "strata-scheduler " : "",
            (c & STRATA_CFG_WORKER) ? "strata-worker" : "", k[i].desc);
  }
}
