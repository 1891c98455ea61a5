/*
 * The metrics registry: families of counters, gauges and histograms, their
 * labelled children, and the text exposition format 0.0.4 renderer.
 *
 * Invariants:
 *  - Families and children are allocated once and never moved or freed
 *    before strata_metrics_destroy(), so callers may keep their pointers.
 *    The registry's and families' arrays hold pointers and may grow.
 *  - Counter and gauge values are doubles stored as their bit patterns in an
 *    _Atomic uint64_t; additions are compare-and-swap loops. They are never
 *    under a lock, so the hot path is one atomic operation.
 *  - A histogram child keeps per-bucket (not cumulative) counts, sum and
 *    count under its own mutex, so a render sees a consistent snapshot in
 *    which the +Inf bucket equals _count.
 *  - Lock order: render_lock, then the registry's lock, then a family's lock,
 *    then a histogram child's lock. The collect callback runs holding only
 *    render_lock, so it may create families and look up children.
 *  - A family without labels has its one child from creation, so it renders
 *    0 before anything happened; a family with labels but no children yet
 *    renders nothing.
 */
#include "strata/metrics.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
  METRIC_COUNTER,
  METRIC_GAUGE,
  METRIC_HISTOGRAM,
} metric_type_t;

struct strata_metrics_child_s {
  strata_metrics_family_t *fam;
  char **values;         /* fam->nlabels copies */
  _Atomic uint64_t bits; /* counter or gauge value, as a double's bits */
  /* Histograms only. */
  pthread_mutex_t lock;
  uint64_t *counts; /* fam->nbounds + 1 buckets, the last one +Inf */
  double sum;
  uint64_t count;
};

struct strata_metrics_family_s {
  metric_type_t type;
  char *name;
  char *help;
  size_t nlabels;
  char **labels;
  size_t nbounds;
  double *bounds;
  pthread_mutex_t lock; /* guards children, nchildren, cap */
  strata_metrics_child_t **children;
  size_t nchildren, cap;
};

struct strata_metrics_s {
  pthread_mutex_t render_lock; /* serializes collect + render */
  pthread_mutex_t lock;        /* guards everything below */
  strata_metrics_family_t **families;
  size_t nfamilies, cap;
  strata_metrics_collect_fn collect;
  void *collect_opaque;
};

static uint64_t double_bits(double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof(u));
  return u;
}

static double bits_double(uint64_t u) {
  double v;
  memcpy(&v, &u, sizeof(v));
  return v;
}

static void atomic_add_double(_Atomic uint64_t *a, double v) {
  uint64_t old = atomic_load_explicit(a, memory_order_relaxed);
  uint64_t next;

  do {
    next = double_bits(bits_double(old) + v);
  } while (!atomic_compare_exchange_weak_explicit(
      a, &old, next, memory_order_relaxed, memory_order_relaxed));
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);

  if (p)
    memcpy(p, s, n);
  return p;
}

static void free_strv(char **v, size_t n) {
  if (!v)
    return;
  for (size_t i = 0; i < n; i++)
    free(v[i]);
  free(v);
}

/* NULL when memory runs out; a partial copy is freed. */
static char **dup_strv(const char *const *v, size_t n) {
  char **out = calloc(n ? n : 1, sizeof(*out));

  if (!out)
    return NULL;
  for (size_t i = 0; i < n; i++) {
    out[i] = dup_str(v[i]);
    if (!out[i]) {
      free_strv(out, i);
      return NULL;
    }
  }
  return out;
}

/* ---- Registry ---------------------------------------------------------- */

strata_metrics_t *strata_metrics_new(void) {
  strata_metrics_t *reg = calloc(1, sizeof(*reg));

  if (!reg)
    return NULL;
  pthread_mutex_init(&reg->render_lock, NULL);
  pthread_mutex_init(&reg->lock, NULL);
  return reg;
}

static void child_free(strata_metrics_child_t *c, size_t nlabels) {
  if (!c)
    return;
  if (c->counts) {
    pthread_mutex_destroy(&c->lock);
    free(c->counts);
  }
  free_strv(c->values, nlabels);
  free(c);
}

static void family_free(strata_metrics_family_t *fam) {
  if (!fam)
    return;
  for (size_t i = 0; i < fam->nchildren; i++)
    child_free(fam->children[i], fam->nlabels);
  free(fam->children);
  pthread_mutex_destroy(&fam->lock);
  free_strv(fam->labels, fam->nlabels);
  free(fam->bounds);
  free(fam->help);
  free(fam->name);
  free(fam);
}

void strata_metrics_destroy(strata_metrics_t *reg) {
  if (!reg)
    return;
  for (size_t i = 0; i < reg->nfamilies; i++)
    family_free(reg->families[i]);
  free(reg->families);
  pthread_mutex_destroy(&reg->lock);
  pthread_mutex_destroy(&reg->render_lock);
  free(reg);
}

void strata_metrics_set_collect(strata_metrics_t *reg,
                                strata_metrics_collect_fn fn, void *opaque) {
  pthread_mutex_lock(&reg->lock);
  reg->collect = fn;
  reg->collect_opaque = fn ? opaque : NULL;
  pthread_mutex_unlock(&reg->lock);
}

/* ---- Validation -------------------------------------------------------- */

static bool is_alpha_(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* when colon_ok, else [a-zA-Z_][a-zA-Z0-9_]*. */
static bool valid_name(const char *s, bool colon_ok) {
  if (!s || !*s)
    return false;
  if (!is_alpha_(s[0]) && !(colon_ok && s[0] == ':'))
    return false;
  for (const char *p = s + 1; *p; p++)
    if (!is_alpha_(*p) && !is_digit(*p) && !(colon_ok && *p == ':'))
      return false;
  return true;
}

static strata_err_t check_names(const char *name, metric_type_t type,
                                size_t nlabels, const char *const *labels,
                                char *errstr, size_t size) {
  if (!valid_name(name, true))
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "metric name \"%s\": must match "
                       "[a-zA-Z_:][a-zA-Z0-9_:]*",
                       name ? name : "(null)");
  if (nlabels > STRATA_METRICS_MAX_LABELS)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "metric \"%s\": %zu label names; at most %d allowed",
                       name, nlabels, STRATA_METRICS_MAX_LABELS);
  if (nlabels > 0 && !labels)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "metric \"%s\": %zu label names declared but none "
                       "given",
                       name, nlabels);
  for (size_t i = 0; i < nlabels; i++) {
    const char *l = labels[i];

    if (!valid_name(l, false))
      return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                         "label name \"%s\" of metric \"%s\": must match "
                         "[a-zA-Z_][a-zA-Z0-9_]*",
                         l ? l : "(null)", name);
    if (l[0] == '_' && l[1] == '_')
      return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                         "label name \"%s\" of metric \"%s\": names "
                         "starting with \"__\" are reserved",
                         l, name);
    if (type == METRIC_HISTOGRAM && strcmp(l, "le") == 0)
      return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                         "label name \"le\" of histogram \"%s\": reserved "
                         "for bucket bounds",
                         name);
    for (size_t j = 0; j < i; j++)
      if (strcmp(labels[j], l) == 0)
        return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                           "label name \"%s\" of metric \"%s\": given twice", l,
                           name);
  }
  return STRATA_OK;
}

/* ---- Families and children --------------------------------------------- */

static strata_metrics_child_t *child_new(strata_metrics_family_t *fam,
                                         const char *const *values) {
  strata_metrics_child_t *c = calloc(1, sizeof(*c));

  if (!c)
    return NULL;
  c->fam = fam;
  atomic_init(&c->bits, double_bits(0.0));
  c->values = dup_strv(values, fam->nlabels);
  if (!c->values)
    goto err;
  if (fam->type == METRIC_HISTOGRAM) {
    c->counts = calloc(fam->nbounds + 1, sizeof(*c->counts));
    if (!c->counts)
      goto err;
    pthread_mutex_init(&c->lock, NULL);
  }
  return c;

err:
  free_strv(c->values, fam->nlabels);
  free(c);
  return NULL;
}

/* Appends c to fam's children; the caller holds fam->lock. */
static bool family_append_child(strata_metrics_family_t *fam,
                                strata_metrics_child_t *c) {
  if (fam->nchildren == fam->cap) {
    size_t cap = fam->cap ? fam->cap * 2 : 4;
    strata_metrics_child_t **v =
        realloc(fam->children, cap * sizeof(*fam->children));

    if (!v)
      return false;
    fam->children = v;
    fam->cap = cap;
  }
  fam->children[fam->nchildren++] = c;
  return true;
}

static strata_metrics_family_t *
family_new(strata_metrics_t *reg, metric_type_t type, const char *name,
           const char *help, size_t nlabels, const char *const *labels,
           size_t nbounds, const double *bounds, char *errstr, size_t size) {
  strata_metrics_family_t *fam = NULL;
  strata_err_t err;
  size_t namelen;
  bool add_total;

  err = check_names(name, type, nlabels, labels, errstr, size);
  if (err)
    return NULL;

  fam = calloc(1, sizeof(*fam));
  if (!fam)
    goto oom;
  pthread_mutex_init(&fam->lock, NULL);
  fam->type = type;
  namelen = strlen(name);
  add_total = type == METRIC_COUNTER &&
              !(namelen >= 6 && strcmp(name + namelen - 6, "_total") == 0);
  fam->name = malloc(namelen + (add_total ? 6 : 0) + 1);
  if (!fam->name)
    goto oom;
  memcpy(fam->name, name, namelen + 1);
  if (add_total)
    memcpy(fam->name + namelen, "_total", 7);
  fam->help = dup_str(help ? help : "");
  if (!fam->help)
    goto oom;
  fam->nlabels = nlabels;
  fam->labels = dup_strv(labels, nlabels);
  if (!fam->labels)
    goto oom;
  if (type == METRIC_HISTOGRAM) {
    fam->nbounds = nbounds;
    fam->bounds = malloc((nbounds ? nbounds : 1) * sizeof(*fam->bounds));
    if (!fam->bounds)
      goto oom;
    if (nbounds)
      memcpy(fam->bounds, bounds, nbounds * sizeof(*bounds));
  }
  if (nlabels == 0) {
    strata_metrics_child_t *c = child_new(fam, NULL);

    if (!c || !family_append_child(fam, c)) {
      child_free(c, 0);
      goto oom;
    }
  }

  pthread_mutex_lock(&reg->lock);
  for (size_t i = 0; i < reg->nfamilies; i++) {
    if (strcmp(reg->families[i]->name, fam->name) == 0) {
      pthread_mutex_unlock(&reg->lock);
      strata_errf(STRATA_ERR_EXISTS, errstr, size,
                  "metric name \"%s\": already registered", fam->name);
      family_free(fam);
      return NULL;
    }
  }
  if (reg->nfamilies == reg->cap) {
    size_t cap = reg->cap ? reg->cap * 2 : 8;
    strata_metrics_family_t **v =
        realloc(reg->families, cap * sizeof(*reg->families));

    if (!v) {
      pthread_mutex_unlock(&reg->lock);
      goto oom;
    }
    reg->families = v;
    reg->cap = cap;
  }
  reg->families[reg->nfamilies++] = fam;
  pthread_mutex_unlock(&reg->lock);
  return fam;

oom:
  family_free(fam);
  strata_errf(STRATA_ERR_NOMEM, errstr, size, "metric \"%s\": out of memory",
              name);
  return NULL;
}

strata_metrics_family_t *strata_metrics_counter(
    strata_metrics_t *reg, const char *name, const char *help, size_t nlabels,
    const char *const *label_names, char *errstr, size_t size) {
  return family_new(reg, METRIC_COUNTER, name, help, nlabels, label_names, 0,
                    NULL, errstr, size);
}

strata_metrics_family_t *strata_metrics_gauge(strata_metrics_t *reg,
                                              const char *name,
                                              const char *help, size_t nlabels,
                                              const char *const *label_names,
                                              char *errstr, size_t size) {
  return family_new(reg, METRIC_GAUGE, name, help, nlabels, label_names, 0,
                    NULL, errstr, size);
}

strata_metrics_family_t *
strata_metrics_histogram(strata_metrics_t *reg, const char *name,
                         const char *help, size_t nlabels,
                         const char *const *label_names, size_t nbounds,
                         const double *bounds, char *errstr, size_t size) {
  if (nbounds > 0 && !bounds) {
    strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                "histogram \"%s\": %zu bucket bounds declared but none given",
                name ? name : "(null)", nbounds);
    return NULL;
  }
  /* +Inf is always the last bucket; accept it spelled out. */
  if (nbounds > 0 && isinf(bounds[nbounds - 1]) && bounds[nbounds - 1] > 0)
    nbounds--;
  for (size_t i = 0; i < nbounds; i++) {
    if (!isfinite(bounds[i])) {
      strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                  "histogram \"%s\": bucket bound %zu is not finite",
                  name ? name : "(null)", i);
      return NULL;
    }
    if (i > 0 && !(bounds[i] > bounds[i - 1])) {
      strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                  "histogram \"%s\": bucket bounds must increase strictly; "
                  "bound %zu (%g) follows %g",
                  name ? name : "(null)", i, bounds[i], bounds[i - 1]);
      return NULL;
    }
  }
  return family_new(reg, METRIC_HISTOGRAM, name, help, nlabels, label_names,
                    nbounds, bounds, errstr, size);
}

const char *strata_metrics_family_name(const strata_metrics_family_t *fam) {
  return fam->name;
}

strata_metrics_child_t *strata_metrics_childv(strata_metrics_family_t *fam,
                                              const char *const *values) {
  strata_metrics_child_t *c = NULL;

  for (size_t i = 0; i < fam->nlabels; i++)
    if (!values || !values[i])
      return NULL;

  pthread_mutex_lock(&fam->lock);
  for (size_t i = 0; i < fam->nchildren; i++) {
    strata_metrics_child_t *cand = fam->children[i];
    size_t j = 0;

    while (j < fam->nlabels && strcmp(cand->values[j], values[j]) == 0)
      j++;
    if (j == fam->nlabels) {
      c = cand;
      goto out;
    }
  }
  c = child_new(fam, values);
  if (c && !family_append_child(fam, c)) {
    child_free(c, fam->nlabels);
    c = NULL;
  }
out:
  pthread_mutex_unlock(&fam->lock);
  return c;
}

strata_metrics_child_t *strata_metrics_child(strata_metrics_family_t *fam,
                                             ...) {
  const char *values[STRATA_METRICS_MAX_LABELS];
  va_list ap;

  va_start(ap, fam);
  for (size_t i = 0; i < fam->nlabels; i++)
    values[i] = va_arg(ap, const char *);
  va_end(ap);
  return strata_metrics_childv(fam, values);
}

/* ---- Hot path ---------------------------------------------------------- */

void strata_metrics_counter_add(strata_metrics_child_t *c, double v) {
  assert(c->fam->type == METRIC_COUNTER);
  if (!(v >= 0)) /* also rejects NaN */
    return;
  atomic_add_double(&c->bits, v);
}

void strata_metrics_gauge_set(strata_metrics_child_t *c, double v) {
  assert(c->fam->type == METRIC_GAUGE);
  atomic_store_explicit(&c->bits, double_bits(v), memory_order_relaxed);
}

void strata_metrics_gauge_add(strata_metrics_child_t *c, double v) {
  assert(c->fam->type == METRIC_GAUGE);
  atomic_add_double(&c->bits, v);
}

void strata_metrics_histogram_observe(strata_metrics_child_t *c, double v) {
  const strata_metrics_family_t *fam = c->fam;
  size_t b = 0;

  assert(fam->type == METRIC_HISTOGRAM);
  /* NaN compares false everywhere, so it lands in +Inf, as in Prometheus's
   * own clients. */
  while (b < fam->nbounds && !(v <= fam->bounds[b]))
    b++;
  pthread_mutex_lock(&c->lock);
  c->counts[b]++;
  c->count++;
  c->sum += v;
  pthread_mutex_unlock(&c->lock);
}

double strata_metrics_value(strata_metrics_child_t *c) {
  double v;

  if (c->fam->type != METRIC_HISTOGRAM)
    return bits_double(atomic_load_explicit(&c->bits, memory_order_relaxed));
  pthread_mutex_lock(&c->lock);
  v = (double)c->count;
  pthread_mutex_unlock(&c->lock);
  return v;
}

/* ---- Rendering --------------------------------------------------------- */

/* A growable string; after one failed allocation every append is a no-op
 * and `oom` stays set. */
typedef struct {
  char *p;
  size_t len, cap;
  bool oom;
} sbuf_t;

static void sb_reserve(sbuf_t *sb, size_t extra) {
  size_t cap;
  char *p;

  if (sb->oom || sb->len + extra + 1 <= sb->cap)
    return;
  cap = sb->cap ? sb->cap : 1024;
  while (cap < sb->len + extra + 1)
    cap *= 2;
  p = realloc(sb->p, cap);
  if (!p) {
    sb->oom = true;
    return;
  }
  sb->p = p;
  sb->cap = cap;
}

static void sb_putn(sbuf_t *sb, const char *s, size_t n) {
  sb_reserve(sb, n);
  if (sb->oom)
    return;
  memcpy(sb->p + sb->len, s, n);
  sb->len += n;
  sb->p[sb->len] = '\0';
}

static void sb_puts(sbuf_t *sb, const char *s) {
  sb_putn(sb, s, strlen(s));
}

/* Escapes backslash and newline, and the double quote when `quote`: label
 * values escape all three, HELP text only the first two. */
static void sb_put_escaped(sbuf_t *sb, const char *s, bool quote) {
  for (; *s; s++) {
    if (*s == '\\')
      sb_puts(sb, "\\\\");
    else if (*s == '\n')
      sb_puts(sb, "\\n");
    else if (quote && *s == '"')
      sb_puts(sb, "\\\"");
    else
      sb_putn(sb, s, 1);
  }
}

/*
 * The shortest decimal that reads back as the same double, so 0.1 prints as
 * "0.1" rather than "0.10000000000000001"; integral values below 2^53 print
 * without an exponent, so a counter reads 1000000, not 1e+06.
 */
static void format_double(char *buf, size_t size, double v) {
  if (isnan(v)) {
    snprintf(buf, size, "NaN");
    return;
  }
  if (isinf(v)) {
    snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (v == floor(v) && fabs(v) < 9007199254740992.0) {
    snprintf(buf, size, "%.0f", v);
    return;
  }
  for (int prec = 1; prec <= 17; prec++) {
    snprintf(buf, size, "%.*g", prec, v);
    if (strtod(buf, NULL) == v)
      return;
  }
}

static void sb_put_double(sbuf_t *sb, double v) {
  char buf[40];

  format_double(buf, sizeof(buf), v);
  sb_puts(sb, buf);
}

static void sb_put_u64(sbuf_t *sb, uint64_t v) {
  char buf[24];

  snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
  sb_puts(sb, buf);
}

/* `{a="x",le="0.5"}`; nothing at all when there are no labels and no le. */
static void sb_put_labels(sbuf_t *sb, const strata_metrics_family_t *fam,
                          const strata_metrics_child_t *c, const char *le) {
  bool first = true;

  if (fam->nlabels == 0 && !le)
    return;
  sb_puts(sb, "{");
  for (size_t i = 0; i < fam->nlabels; i++) {
    if (!first)
      sb_puts(sb, ",");
    first = false;
    sb_puts(sb, fam->labels[i]);
    sb_puts(sb, "=\"");
    sb_put_escaped(sb, c->values[i], true);
    sb_puts(sb, "\"");
  }
  if (le) {
    if (!first)
      sb_puts(sb, ",");
    sb_puts(sb, "le=\"");
    sb_puts(sb, le);
    sb_puts(sb, "\"");
  }
  sb_puts(sb, "}");
}

static void render_histogram_child(sbuf_t *sb,
                                   const strata_metrics_family_t *fam,
                                   strata_metrics_child_t *c) {
  uint64_t cumulative = 0;
  char le[40];

  pthread_mutex_lock(&c->lock);
  for (size_t b = 0; b <= fam->nbounds; b++) {
    cumulative += c->counts[b];
    if (b < fam->nbounds)
      format_double(le, sizeof(le), fam->bounds[b]);
    else
      snprintf(le, sizeof(le), "+Inf");
    sb_puts(sb, fam->name);
    sb_puts(sb, "_bucket");
    sb_put_labels(sb, fam, c, le);
    sb_puts(sb, " ");
    sb_put_u64(sb, cumulative);
    sb_puts(sb, "\n");
  }
  sb_puts(sb, fam->name);
  sb_puts(sb, "_sum");
  sb_put_labels(sb, fam, c, NULL);
  sb_puts(sb, " ");
  sb_put_double(sb, c->sum);
  sb_puts(sb, "\n");
  sb_puts(sb, fam->name);
  sb_puts(sb, "_count");
  sb_put_labels(sb, fam, c, NULL);
  sb_puts(sb, " ");
  sb_put_u64(sb, c->count);
  sb_puts(sb, "\n");
  pthread_mutex_unlock(&c->lock);
}

static void render_family(sbuf_t *sb, strata_metrics_family_t *fam) {
  static const char *const type_names[] = {"counter", "gauge", "histogram"};

  pthread_mutex_lock(&fam->lock);
  if (fam->nchildren == 0)
    goto out;
  if (fam->help[0]) {
    sb_puts(sb, "# HELP ");
    sb_puts(sb, fam->name);
    sb_puts(sb, " ");
    sb_put_escaped(sb, fam->help, false);
    sb_puts(sb, "\n");
  }
  sb_puts(sb, "# TYPE ");
  sb_puts(sb, fam->name);
  sb_puts(sb, " ");
  sb_puts(sb, type_names[fam->type]);
  sb_puts(sb, "\n");
  for (size_t i = 0; i < fam->nchildren; i++) {
    strata_metrics_child_t *c = fam->children[i];

    if (fam->type == METRIC_HISTOGRAM) {
      render_histogram_child(sb, fam, c);
      continue;
    }
    sb_puts(sb, fam->name);
    sb_put_labels(sb, fam, c, NULL);
    sb_puts(sb, " ");
    sb_put_double(
        sb, bits_double(atomic_load_explicit(&c->bits, memory_order_relaxed)));
    sb_puts(sb, "\n");
  }
out:
  pthread_mutex_unlock(&fam->lock);
}

strata_err_t strata_metrics_render(strata_metrics_t *reg, char **out,
                                   size_t *len) {
  sbuf_t sb = {0};
  strata_metrics_collect_fn collect;
  void *opaque;

  *out = NULL;
  *len = 0;
  pthread_mutex_lock(&reg->render_lock);
  pthread_mutex_lock(&reg->lock);
  collect = reg->collect;
  opaque = reg->collect_opaque;
  pthread_mutex_unlock(&reg->lock);
  if (collect)
    collect(reg, opaque);

  pthread_mutex_lock(&reg->lock);
  sb_reserve(&sb, 0); /* an empty registry renders "", not NULL */
  for (size_t i = 0; i < reg->nfamilies; i++)
    render_family(&sb, reg->families[i]);
  pthread_mutex_unlock(&reg->lock);
  pthread_mutex_unlock(&reg->render_lock);

  if (sb.oom) {
    free(sb.p);
    return STRATA_ERR_NOMEM;
  }
  sb.p[sb.len] = '\0';
  *out = sb.p;
  *len = sb.len;
  return STRATA_OK;
}
