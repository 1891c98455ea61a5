/*
 * One Kafka transaction per turn (kafka_txn.h): begin, offsets, records,
 * commit, with one error rule and a deadline on every blocking call, so a
 * broker stall ends the step with a result instead of freezing its loop.
 *
 * Order: the offsets are sent before the records are produced. Until the
 * coordinator has finished the previous transaction it answers
 * CONCURRENT_TRANSACTIONS, which librdkafka 2.0.2 retries after
 * retry.backoff.ms for AddOffsetsToTxn (sent by send_offsets_to_transaction)
 * but after a fixed 20 ms for AddPartitionsToTxn (sent on the first record
 * to a partition). Once the offsets are in, the partitions are added at
 * once. The order within a transaction changes nothing about what commits
 * together. The group metadata carries the consumer's current generation
 * and member id, so it is taken afresh for every attempt (KIP-447 fencing:
 * a member that lost its partitions in a rebalance cannot commit for them).
 *
 * Errors are classified as librdkafka's examples/transactions.c does: fatal
 * (or a fenced producer) first, then "requires abort", then retriable; an
 * error of none of these classes is treated as fatal, since the producer's
 * transactional state is then unknown and only a new producer is certain to
 * be usable.
 */
#include "kafka_txn.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "strata/time.h"

/* Pause between retries of a retriable error (the producer is polled
 * meanwhile, which serves its delivery reports). */
#define TXN_RETRY_POLL_MS 10

typedef enum { VERDICT_RETRY, VERDICT_ABORT, VERDICT_FATAL } verdict_t;

static verdict_t classify(const rd_kafka_error_t *e) {
  rd_kafka_resp_err_t code = rd_kafka_error_code(e);

  if (rd_kafka_error_is_fatal(e) || code == RD_KAFKA_RESP_ERR__FENCED ||
      code == RD_KAFKA_RESP_ERR_PRODUCER_FENCED)
    return VERDICT_FATAL;
  if (rd_kafka_error_txn_requires_abort(e))
    return VERDICT_ABORT;
  if (rd_kafka_error_is_retriable(e))
    return VERDICT_RETRY;
  return VERDICT_FATAL;
}

/* Milliseconds left until `until`, rounded up; 0 once it has passed. */
static int remaining_ms(strata_mono_us_t until) {
  strata_mono_us_t now = strata_mono_now_us();
  int64_t ms;

  if (now >= until)
    return 0;
  ms = (until - now + 999) / 1000;
  return ms > INT_MAX ? INT_MAX : (int)ms;
}

static void backoff(rd_kafka_t *rk, strata_mono_us_t until) {
  int ms = remaining_ms(until);
  rd_kafka_poll(rk, ms < TXN_RETRY_POLL_MS ? ms : TXN_RETRY_POLL_MS);
}

static void appendf(char *err, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void appendf(char *err, size_t size, const char *fmt, ...) {
  size_t used = size ? strnlen(err, size) : 0;
  va_list ap;

  if (used + 1 >= size)
    return;
  va_start(ap, fmt);
  vsnprintf(err + used, size - used, fmt, ap);
  va_end(ap);
}

/* Runs a transactional call that librdkafka lets the caller resume or
 * repeat after a retriable error, until `until`. Returns NULL on success, or
 * the last error (caller destroys it) with *v its verdict; a retriable error
 * at the deadline is VERDICT_ABORT. */
typedef rd_kafka_error_t *(*txn_call_fn)(rd_kafka_t *producer,
                                         rd_kafka_t *consumer, const void *arg,
                                         int timeout_ms);

static rd_kafka_error_t *with_retries(txn_call_fn call, rd_kafka_t *producer,
                                      rd_kafka_t *consumer, const void *arg,
                                      strata_mono_us_t until, verdict_t *v,
                                      bool *deadline_passed) {
  *deadline_passed = false;
  for (;;) {
    int ms = remaining_ms(until);
    rd_kafka_error_t *e;

    if (ms == 0) {
      *deadline_passed = true;
      *v = VERDICT_ABORT;
      return rd_kafka_error_new(RD_KAFKA_RESP_ERR__TIMED_OUT,
                                "deadline passed");
    }
    if (!(e = call(producer, consumer, arg, ms)))
      return NULL;
    if ((*v = classify(e)) != VERDICT_RETRY)
      return e;
    if (remaining_ms(until) == 0) {
      *deadline_passed = true;
      *v = VERDICT_ABORT;
      return e;
    }
    rd_kafka_error_destroy(e);
    backoff(producer, until);
  }
}

static rd_kafka_error_t *call_send_offsets(rd_kafka_t *producer,
                                           rd_kafka_t *consumer,
                                           const void *arg, int timeout_ms) {
  rd_kafka_consumer_group_metadata_t *g =
      consumer ? rd_kafka_consumer_group_metadata(consumer) : NULL;
  rd_kafka_error_t *e;

  if (!consumer)
    return rd_kafka_error_new(RD_KAFKA_RESP_ERR__INVALID_ARG,
                              "offsets without a consumer");
  if (!g)
    return rd_kafka_error_new(RD_KAFKA_RESP_ERR__INVALID_ARG,
                              "no consumer group metadata (%s is not a "
                              "group consumer)",
                              rd_kafka_name(consumer));
  e = rd_kafka_send_offsets_to_transaction(producer, arg, g, timeout_ms);
  rd_kafka_consumer_group_metadata_destroy(g);
  return e;
}

static rd_kafka_error_t *call_commit(rd_kafka_t *producer, rd_kafka_t *consumer,
                                     const void *arg, int timeout_ms) {
  (void)consumer;
  (void)arg;
  return rd_kafka_commit_transaction(producer, timeout_ms);
}

static rd_kafka_error_t *call_abort(rd_kafka_t *producer, rd_kafka_t *consumer,
                                    const void *arg, int timeout_ms) {
  rd_kafka_error_t *e;

  (void)consumer;
  (void)arg;
  e = rd_kafka_abort_transaction(producer, timeout_ms);
  /* Another call (a commit that timed out) is still in progress: retrying
   * cannot help before it ends, and its outcome is unknown here. */
  if (e && rd_kafka_error_code(e) == RD_KAFKA_RESP_ERR__CONFLICT) {
    rd_kafka_error_t *f = rd_kafka_error_new(RD_KAFKA_RESP_ERR__CONFLICT, "%s",
                                             rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return f; /* not retriable */
  }
  return e;
}

/* Produces `r`, polling while librdkafka's queue is full, until `until`. */
static rd_kafka_resp_err_t produce(rd_kafka_t *producer, const txn_record_t *r,
                                   strata_mono_us_t until) {
  /* librdkafka takes non-const pointers; with F_COPY it only reads them. */
  union {
    const void *c;
    void *m;
  } key = {r->key}, value = {r->value};
  for (;;) {
    rd_kafka_resp_err_t kerr = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(r->topic),
        RD_KAFKA_V_PARTITION(r->partition), RD_KAFKA_V_KEY(key.m, r->keylen),
        RD_KAFKA_V_VALUE(value.m, r->len), RD_KAFKA_V_TIMESTAMP(r->timestamp),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL || remaining_ms(until) == 0)
      return kerr;
    backoff(producer, until);
  }
}

txn_result_t txn_commit_timed(rd_kafka_t *producer, rd_kafka_t *consumer,
                              const rd_kafka_topic_partition_list_t *offsets,
                              const txn_record_t *recs, size_t nrecs,
                              int timeout_ms, txn_timing_t *timing, char *err,
                              size_t size) {
  strata_mono_us_t start = strata_mono_now_us(), t_commit;
  strata_mono_us_t end = start + (int64_t)timeout_ms * 1000;
  strata_mono_us_t deadline = start + (int64_t)timeout_ms * 750;
  rd_kafka_error_t *e;
  verdict_t v;
  bool late;

  if (size)
    err[0] = '\0';
  if (timing)
    timing->commit_us = 0;

  if ((e = rd_kafka_begin_transaction(producer))) {
    v = classify(e);
    appendf(err, size, "begin: %s", rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    /* Nothing was begun unless librdkafka says there is a transaction to
     * abort. */
    if (v != VERDICT_ABORT)
      return TXN_FATAL;
    goto abort;
  }

  if (offsets && offsets->cnt > 0) {
    if ((e = with_retries(call_send_offsets, producer, consumer, offsets,
                          deadline, &v, &late))) {
      appendf(err, size, "send offsets: %s%s", rd_kafka_error_string(e),
              late ? " (deadline of the step passed)" : "");
      rd_kafka_error_destroy(e);
      if (v == VERDICT_FATAL)
        return TXN_FATAL;
      goto abort;
    }
  }

  for (size_t i = 0; i < nrecs; i++) {
    rd_kafka_resp_err_t kerr = produce(producer, &recs[i], deadline);
    if (kerr) {
      char fatal[256];
      appendf(err, size, "produce to %s [%d]: %s%s", recs[i].topic,
              (int)recs[i].partition, rd_kafka_err2str(kerr),
              kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL
                  ? " (deadline of the step passed)"
                  : "");
      if (rd_kafka_fatal_error(producer, fatal, sizeof(fatal))) {
        appendf(err, size, "; fatal: %s", fatal);
        return TXN_FATAL;
      }
      goto abort;
    }
  }

  t_commit = strata_mono_now_us();
  if ((e = with_retries(call_commit, producer, NULL, NULL, deadline, &v,
                        &late))) {
    appendf(err, size, "commit: %s%s", rd_kafka_error_string(e),
            late ? " (deadline of the step passed)" : "");
    rd_kafka_error_destroy(e);
    if (v == VERDICT_FATAL)
      return TXN_FATAL;
    goto abort;
  }
  if (timing)
    timing->commit_us = strata_mono_now_us() - t_commit;
  return TXN_OK;

abort:
  /* At least a moment, even when a step overran its share. */
  if (end < strata_mono_now_us() + 1000)
    end = strata_mono_now_us() + 1000;
  if ((e = with_retries(call_abort, producer, NULL, NULL, end, &v, &late))) {
    appendf(err, size, "; abort: %s%s", rd_kafka_error_string(e),
            late ? " (deadline passed)" : "");
    rd_kafka_error_destroy(e);
    return TXN_FATAL;
  }
  appendf(err, size, "; aborted");
  return TXN_ABORTED;
}

txn_result_t txn_commit(rd_kafka_t *producer, rd_kafka_t *consumer,
                        const rd_kafka_topic_partition_list_t *offsets,
                        const txn_record_t *recs, size_t nrecs, int timeout_ms,
                        char *err, size_t size) {
  return txn_commit_timed(producer, consumer, offsets, recs, nrecs, timeout_ms,
                          NULL, err, size);
}

rd_kafka_t *txn_producer_new(rd_kafka_conf_t *conf, int timeout_ms, char *err,
                             size_t size) {
  strata_mono_us_t end = strata_mono_now_us() + (int64_t)timeout_ms * 1000;
  char why[512], txid[256] = "?";
  size_t txid_size = sizeof(txid);
  rd_kafka_t *rk;

  if (size)
    err[0] = '\0';
  rd_kafka_conf_get(conf, "transactional.id", txid, &txid_size);
  if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why)))) {
    rd_kafka_conf_destroy(conf);
    appendf(err, size, "transactional producer %s: %s", txid, why);
    return NULL;
  }
  for (;;) {
    int ms = remaining_ms(end);
    rd_kafka_error_t *e = rd_kafka_init_transactions(rk, ms > 0 ? ms : 1);
    if (!e)
      return rk;
    if (classify(e) != VERDICT_RETRY || remaining_ms(end) == 0) {
      appendf(err, size, "init_transactions (transactional.id %s): %s", txid,
              rd_kafka_error_string(e));
      rd_kafka_error_destroy(e);
      rd_kafka_destroy(rk);
      return NULL;
    }
    rd_kafka_error_destroy(e);
    backoff(rk, end);
  }
}
