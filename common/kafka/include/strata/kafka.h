/*
 * Kafka plumbing shared by the programs: client configuration built from the
 * Strata configuration, the embedded mock cluster used when no
 * bootstrap.servers is configured, and the topic layout (names, partition
 * counts) with an idempotent "ensure" that reports drift.
 */
#ifndef STRATA_KAFKA_H
#define STRATA_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>

#include "strata/config.h"
#include "strata/err.h"

/*
 * A librdkafka configuration with bootstrap.servers, client.id
 * ("strata-<role>"), the log callback routed into strata's log, then the
 * component's `defaults` (NULL-terminated list of property, value pairs; may
 * be NULL), then every kafka.* key, so a user's kafka.* setting wins over a
 * component default. On a property librdkafka rejects, returns NULL with
 * errstr naming "kafka.<prop>" and librdkafka's reason. Caller owns the
 * result.
 */
rd_kafka_conf_t *strata_kafka_conf_new(const strata_config_t *cfg,
                                       const char *role,
                                       const char *const *defaults,
                                       char *errstr, size_t size);

/* Sets one librdkafka property or fails with a message naming it. */
strata_err_t strata_kafka_conf_set(rd_kafka_conf_t *conf, const char *prop,
                                   const char *value, char *errstr,
                                   size_t size);

/* The embedded broker: librdkafka's mock cluster on a loopback port. */
typedef struct strata_mock_s strata_mock_t;

/*
 * Starts a mock cluster with one broker and creates the topic layout of `cfg`
 * on it. Returns NULL with errstr on failure. The bootstrap address stays
 * valid until strata_mock_destroy().
 */
strata_mock_t *strata_mock_new(const strata_config_t *cfg, char *errstr,
                               size_t size);
const char *strata_mock_bootstraps(const strata_mock_t *mock);
void strata_mock_destroy(strata_mock_t *mock);

/*
 * If bootstrap.servers is empty, starts an embedded mock cluster, points
 * cfg's bootstrap.servers at it and warns loudly that this is the
 * development broker. *mock_out receives the cluster (NULL when a real
 * broker is configured); the caller destroys it after its clients.
 */
strata_err_t strata_kafka_resolve_bootstrap(strata_config_t *cfg,
                                            strata_mock_t **mock_out,
                                            char *errstr, size_t size);

/* ---- Topic layout -------------------------------------------------- */

/* True when `s` is non-empty and holds only what a Kafka topic name may:
 * letters, digits, '.', '_' and '-' (a prefix, a tier, a delay step). */
bool strata_topic_part_valid(const char *s);

typedef enum {
  STRATA_TOPIC_TASKS,
  STRATA_TOPIC_DELAY,
  STRATA_TOPIC_DISPATCH,
  STRATA_TOPIC_EVENTS,
  STRATA_TOPIC_CONTROL,
  STRATA_TOPIC_DLQ,
} strata_topic_role_t;

typedef struct {
  char *name;
  strata_topic_role_t role;
  int partitions;
  int64_t delay_ms; /* DELAY topics: the step; else 0 */
  char *tier;       /* TASKS topics: the tier; else NULL */
  char *queue;      /* DISPATCH topics: the queue; else NULL */
} strata_topic_spec_t;

typedef struct {
  strata_topic_spec_t *topics;
  int count;
  int replication_factor;
} strata_layout_t;

/*
 * Derives the layout from tiers, delay.steps, queues, topic.prefix and
 * topic.partitions. DISPATCH topics come in the order of `queues`, the
 * default queue's first. The tier, delay, dispatch and events topics share one
 * partition count (co-partitioning); control has one partition (a total order
 * every scheduler instance reads whole); dlq has topic.partitions.
 */
strata_err_t strata_layout_build(const strata_config_t *cfg,
                                 strata_layout_t *out, char *errstr,
                                 size_t size);
void strata_layout_clear(strata_layout_t *layout);

/*
 * The delay-ladder step for a task that must wait `remaining_ms` more: the
 * DELAY topic with the longest step not longer than `remaining_ms`, or NULL
 * when `remaining_ms` is shorter than the smallest step (then the task goes to
 * its tier topic and waits in the scheduler's timers). Never early: a record
 * emerges from a step after at most `remaining_ms`.
 */
const strata_topic_spec_t *
strata_layout_delay_step(const strata_layout_t *layout, int64_t remaining_ms);

/* The name of the default queue: tasks that name no queue run there, and its
 * dispatch topic is <prefix>dispatch (the others: <prefix>dispatch.<queue>). */
#define STRATA_DEFAULT_QUEUE "default"
/* Queues besides the default one (the scheduler core's lanes). */
#define STRATA_MAX_QUEUES 15

/* The DISPATCH topic of `queue` (NULL: the default queue), or NULL when the
 * queue is not configured. */
const strata_topic_spec_t *
strata_layout_dispatch_topic(const strata_layout_t *layout, const char *queue);

/* The TASKS topic of `tier`, or NULL when the tier is not configured. */
const strata_topic_spec_t *
strata_layout_tier_topic(const strata_layout_t *layout, const char *tier);

/* Outcome of strata_topics_ensure() for one topic. */
typedef enum {
  STRATA_TOPIC_OK,      /* present with the expected partitions */
  STRATA_TOPIC_CREATED, /* was missing, now created */
  STRATA_TOPIC_MISSING, /* missing and not created (check only) */
  STRATA_TOPIC_DRIFT,   /* present with another partition count */
  STRATA_TOPIC_FAILED,  /* creation failed */
} strata_topic_status_t;

typedef void (*strata_topics_report_cb)(const strata_topic_spec_t *spec,
                                        strata_topic_status_t status,
                                        int actual_partitions,
                                        const char *detail, void *opaque);

/*
 * Checks every topic of `layout` on the cluster reached by `rk` and, when
 * `create` is true, creates the missing ones through the Admin API. Calls
 * `report` once per topic. Returns STRATA_OK when every topic ends up as
 * expected, STRATA_ERR_DRIFT when any is missing, failed or has a different
 * partition count, STRATA_ERR_KAFKA when the cluster cannot be reached.
 */
strata_err_t strata_topics_ensure(rd_kafka_t *rk, const strata_layout_t *layout,
                                  bool create, int timeout_ms,
                                  strata_topics_report_cb report, void *opaque,
                                  char *errstr, size_t size);

const char *strata_topic_status_str(strata_topic_status_t status);

/*
 * Fetches, with producer `rk`, the metadata of every topic of `layout`, so
 * that the first record to each needs no lookup: librdkafka 2.0.2 looks up a
 * topic it has not produced to before only at its next one-second topic
 * scan, and a transaction that first writes it waits for that (measured: up
 * to ~1 s on a first retry, dead letter or delay hop). The topic handles are
 * stored in `keep` (room for layout->count; destroy them before `rk`), or
 * released at once when `keep` is NULL. Returns how many were stored.
 */
int strata_layout_learn(rd_kafka_t *rk, const strata_layout_t *layout,
                        rd_kafka_topic_t **keep);

#endif /* STRATA_KAFKA_H */
