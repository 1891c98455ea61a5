/*
 * librdkafka settings of strata-scheduler's tier consumer and transactional
 * producer, as property/value pairs to splice into a defaults list for
 * strata_kafka_conf_new(). Kept apart so that `strata-bench e2e` gives its
 * reference relay exactly the scheduler's settings and the comparison cannot
 * drift. The per-instance values (group.id, group.instance.id,
 * transactional.id) are added by each user, and so is the delivery report
 * callback below.
 */
#ifndef STRATA_SCHED_KAFKA_H
#define STRATA_SCHED_KAFKA_H

#include <librdkafka/rdkafka.h>

/* Manual, transactional offset commits; co-partitioning needs the range
 * assignor; a session timeout short enough for a dead instance's partitions
 * to move within seconds. */
#define STRATA_SCHED_CONSUMER_SETTINGS                                         \
  "enable.auto.commit", "false", "enable.auto.offset.store", "false",          \
      "isolation.level", "read_committed", "auto.offset.reset", "earliest",    \
      "partition.assignment.strategy", "range", "session.timeout.ms", "10000"

/* message.timeout.ms must stay below transaction.timeout.ms. A transaction
 * begun right after a commit gets CONCURRENT_TRANSACTIONS until the
 * coordinator has written the previous one's markers, which takes a
 * millisecond or two on an idle broker; the request is retried after
 * retry.backoff.ms, so the backoff is the granularity of every turn's wait
 * (100 ms by default, 10 ms gave about 8 ms of idle wait per turn, measured).
 * Produce retries also back off 2 ms; they stay idempotent and bounded by
 * message.timeout.ms. The price: while a coordinator is loading after a
 * broker restart, its retries come every 2 ms instead of every 100. */
#define STRATA_SCHED_TX_SETTINGS                                               \
  "enable.idempotence", "true", "transaction.timeout.ms", "10000",             \
      "message.timeout.ms", "9000", "linger.ms", "1", "retry.backoff.ms", "2"

/* The transactional producer's delivery report callback. It does nothing
 * (a failed delivery fails the commit, which reports it), but it must exist:
 * without one, librdkafka 2.0.2's flush inside commit_transaction is not
 * woken by deliveries and sleeps in 10 ms polls, adding 0-10 ms to every
 * commit (measured in isolation: commit p50 11 -> 3 ms). */
static inline void strata_sched_tx_delivered(rd_kafka_t *rk,
                                             const rd_kafka_message_t *m,
                                             void *opaque) {
  (void)rk;
  (void)m;
  (void)opaque;
}

#endif /* STRATA_SCHED_KAFKA_H */
