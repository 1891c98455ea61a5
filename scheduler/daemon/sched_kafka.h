/*
 * librdkafka settings of strata-scheduler's tier consumer and transactional
 * producer, as property/value pairs to splice into a defaults list for
 * strata_kafka_conf_new(). Kept apart so that `strata-bench e2e` gives its
 * reference relay exactly the scheduler's settings and the comparison cannot
 * drift. The per-instance values (group.id, group.instance.id,
 * transactional.id) are added by each user.
 */
#ifndef STRATA_SCHED_KAFKA_H
#define STRATA_SCHED_KAFKA_H

/* Manual, transactional offset commits; co-partitioning needs the range
 * assignor; a session timeout short enough for a dead instance's partitions
 * to move within seconds. */
#define STRATA_SCHED_CONSUMER_SETTINGS                                         \
  "enable.auto.commit", "false", "enable.auto.offset.store", "false",          \
      "isolation.level", "read_committed", "auto.offset.reset", "earliest",    \
      "partition.assignment.strategy", "range", "session.timeout.ms", "10000"

/* message.timeout.ms must stay below transaction.timeout.ms. A transaction
 * begun right after a commit gets CONCURRENT_TRANSACTIONS until the
 * coordinator has written the markers; the 100 ms default backoff made every
 * turn wait that long for its retry. */
#define STRATA_SCHED_TX_SETTINGS                                               \
  "enable.idempotence", "true", "transaction.timeout.ms", "10000",             \
      "message.timeout.ms", "9000", "linger.ms", "1", "retry.backoff.ms", "10"

#endif /* STRATA_SCHED_KAFKA_H */
