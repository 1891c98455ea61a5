/*
 * Helpers shared by the benchmark subcommands: latency samples and their
 * percentiles, and deleting the topics a run created.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

void bench_samples_push(bench_samples_t *s, int64_t v) {
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4096;
    int64_t *nv = realloc(s->v, cap * sizeof(*nv));
    if (!nv)
      return; /* a lost sample under OOM; the count shows it */
    s->v = nv;
    s->cap = cap;
  }
  s->v[s->n++] = v;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

void bench_samples_sort(bench_samples_t *s) {
  if (s->n)
    qsort(s->v, s->n, sizeof(int64_t), cmp_i64);
}

double bench_samples_pct_ms(const bench_samples_t *s, double q) {
  size_t k;
  if (!s->n)
    return -1;
  k = (size_t)(q * (double)s->n + 0.999999);
  k = k < 1 ? 1 : k > s->n ? s->n : k;
  return (double)s->v[k - 1] / 1000.0;
}

void bench_samples_free(bench_samples_t *s) {
  free(s->v);
  s->v = NULL;
  s->n = s->cap = 0;
}

void bench_delete_topics(rd_kafka_t *rk, const char *const *names, size_t n,
                         const char *who) {
  rd_kafka_DeleteTopic_t **dt = calloc(n ? n : 1, sizeof(*dt));
  rd_kafka_AdminOptions_t *o =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DELETETOPICS);
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  rd_kafka_event_t *ev;
  char err[256];

  if (!dt) {
    fprintf(stderr, "%s: out of memory deleting the bench topics\n", who);
    goto done;
  }
  for (size_t i = 0; i < n; i++)
    dt[i] = rd_kafka_DeleteTopic_new(names[i]);
  rd_kafka_AdminOptions_set_operation_timeout(o, 30000, err, sizeof(err));
  rd_kafka_DeleteTopics(rk, dt, n, o, q);
  if (!(ev = rd_kafka_queue_poll(q, 40000))) {
    fprintf(stderr, "%s: deleting the bench topics timed out\n", who);
  } else {
    size_t nres = 0;
    const rd_kafka_topic_result_t **res = rd_kafka_DeleteTopics_result_topics(
        rd_kafka_event_DeleteTopics_result(ev), &nres);
    if (rd_kafka_event_error(ev))
      fprintf(stderr, "%s: deleting the bench topics: %s\n", who,
              rd_kafka_event_error_string(ev));
    for (size_t i = 0; i < nres; i++)
      if (rd_kafka_topic_result_error(res[i]) &&
          rd_kafka_topic_result_error(res[i]) !=
              RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        fprintf(stderr, "%s: deleting %s: %s\n", who,
                rd_kafka_topic_result_name(res[i]),
                rd_kafka_topic_result_error_string(res[i]));
    rd_kafka_event_destroy(ev);
  }
  for (size_t i = 0; i < n; i++)
    rd_kafka_DeleteTopic_destroy(dt[i]);
done:
  free(dt);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(o);
}
