/*
 * The consume → decide → transact step shared by strata-scheduler,
 * the worker runtime and strata-bench: one Kafka transaction holding a turn's
 * input offsets and output records, bounded in time, with one rule for what
 * an error means and what the caller does next.
 */
#ifndef STRATA_KAFKA_TXN_H
#define STRATA_KAFKA_TXN_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* One record to write in the transaction. Nothing here is owned by the
 * transaction: txn_commit() copies what it produces. */
typedef struct {
  const char *topic;
  int32_t partition;
  const void *key;
  size_t keylen;
  const void *value;
  size_t len;
  int64_t timestamp; /* Kafka timestamp, epoch ms; 0: when produced */
} txn_record_t;

typedef enum { TXN_OK = 0, TXN_ABORTED, TXN_FATAL } txn_result_t;

/* Where txn_commit_timed() spent its time, monotonic µs. */
typedef struct {
  int64_t commit_us; /* commit_transaction alone (0 unless it succeeded) */
} txn_timing_t;

/*
 * One transaction: begin; the offsets (when `offsets` has any) with
 * `consumer`'s group metadata taken afresh; the records (copied: the caller
 * keeps ownership); commit. The whole step is bounded by timeout_ms. Rule: a
 * retriable error is retried until the deadline; an abortable error
 * (rd_kafka_error_txn_requires_abort), a produce error, or the deadline
 * passing aborts the transaction: TXN_ABORTED, the caller rewinds its
 * consumer to the committed offsets and rebuilds its state; a fatal error
 * (rd_kafka_error_is_fatal, a fenced producer) or a failed abort: TXN_FATAL,
 * the caller destroys the producer, makes a new one (txn_producer_new),
 * rewinds and rebuilds. `err` names the step (begin / send offsets / produce
 * to <topic> / commit / abort) and librdkafka's message.
 *
 * Time: the steps up to the commit get three quarters of timeout_ms, so
 * that an abort still has the last quarter; an abort that does not finish
 * in it is a failed abort. A commit that timed out may still complete in
 * the background: librdkafka then refuses the abort (a conflicting call in
 * progress), which makes the result TXN_FATAL, and the caller's rewind to
 * the committed offsets finds out which way it went.
 *
 * `producer` must have completed init_transactions and have no transaction
 * open; it is left with none open unless the result is TXN_FATAL. Both
 * handles stay the caller's; `offsets` is only read. A record with a NULL
 * key is produced without one. Not thread-safe for one producer.
 */
txn_result_t txn_commit(rd_kafka_t *producer, rd_kafka_t *consumer,
                        const rd_kafka_topic_partition_list_t *offsets,
                        const txn_record_t *recs, size_t nrecs, int timeout_ms,
                        char *err, size_t size);

/* txn_commit() that also reports where the time went (benchmarks); `timing`
 * may be NULL. */
txn_result_t txn_commit_timed(rd_kafka_t *producer, rd_kafka_t *consumer,
                              const rd_kafka_topic_partition_list_t *offsets,
                              const txn_record_t *recs, size_t nrecs,
                              int timeout_ms, txn_timing_t *timing, char *err,
                              size_t size);

/*
 * rd_kafka_new(RD_KAFKA_PRODUCER, conf) and init_transactions, retrying
 * retriable init errors until timeout_ms. Takes `conf` (destroyed on
 * failure). NULL + err on failure. init_transactions fences any older
 * producer with the same transactional.id, and the coordinator completes
 * that producer's open transaction (aborts it, or finishes a commit already
 * decided) first, so committed offsets read after a successful return say
 * how it ended. The caller owns the producer (rd_kafka_destroy).
 */
rd_kafka_t *txn_producer_new(rd_kafka_conf_t *conf, int timeout_ms, char *err,
                             size_t size);

#endif /* STRATA_KAFKA_TXN_H */
