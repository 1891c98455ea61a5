/*
 * The client library behind strata/producer.h. A thin layer over one
 * idempotent librdkafka producer: it fills task defaults, validates, encodes
 * and routes. Each queued record carries a small heap-allocated delivery
 * context (callback, opaque, task id) as its message opaque; librdkafka hands
 * it back exactly once in the delivery report, where it is freed, so no
 * context outlives its record and none is freed twice.
 */
#include "strata/producer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "strata/codec.h"
#include "strata/kafka.h"
#include "strata/time.h"

#define MAX_TIERS 64

struct strata_producer_s {
  rd_kafka_t *rk;
  char *prefix;
  char *tiers[MAX_TIERS];
  int ntiers;
  int nparts;             /* topic.partitions */
  strata_layout_t layout; /* for the delay ladder and the queues */
  char *queues;           /* the `queues` setting, for error messages */
};

/* Idempotent (no duplicates from internal retries, acks=all), and the
 * partitioner Java's default client uses, so every client agrees on where a
 * routing key lives. */
#define PRODUCER_DEFAULTS                                                      \
  "enable.idempotence", "true", "partitioner", "murmur2_random", "linger.ms",  \
      "5"

typedef struct {
  strata_delivery_cb cb;
  void *opaque;
  char id[]; /* task id, NUL-terminated */
} delivery_t;

void strata_task_id_generate(char buf[37]) {
  uint8_t r[16];
  size_t got = 0;

  while (got < sizeof(r)) {
    ssize_t n = getrandom(r + got, sizeof(r) - got, 0);
    if (n > 0)
      got += (size_t)n;
  }
  r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* version 4 */
  r[8] = (uint8_t)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  snprintf(buf, 37,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10],
           r[11], r[12], r[13], r[14], r[15]);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg,
                        void *opaque) {
  delivery_t *d = msg->_private;
  char errstr[256] = "";

  (void)rk;
  (void)opaque;
  if (!d)
    return;
  if (msg->err)
    snprintf(errstr, sizeof(errstr), "%s: %s", rd_kafka_topic_name(msg->rkt),
             rd_kafka_err2str(msg->err));
  if (d->cb)
    d->cb(d->id, msg->err ? STRATA_ERR_KAFKA : STRATA_OK, errstr, d->opaque);
  free(d);
}

strata_producer_t *strata_producer_new(const strata_config_t *cfg, char *errstr,
                                       size_t size) {
  strata_producer_t *p = calloc(1, sizeof(*p));
  rd_kafka_conf_t *conf = NULL;
  char reason[512], mmb[32];
  const char *const defaults[] = {PRODUCER_DEFAULTS, "message.max.bytes", mmb,
                                  NULL};

  if (!p) {
    strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
    return NULL;
  }
  if (!*strata_config_get_str(cfg, "bootstrap.servers")) {
    strata_errf(STRATA_ERR_CONFIG, errstr, size,
                "bootstrap.servers: empty; the producer needs a broker "
                "address (or strata_kafka_resolve_bootstrap() for the "
                "embedded one)");
    goto err;
  }
  if (strata_codec_init(errstr, size))
    goto err;
  if ((p->ntiers = strata_config_get_list(cfg, "tiers", p->tiers, MAX_TIERS)) <
      0) {
    p->ntiers = 0;
    strata_errf(STRATA_ERR_CONFIG, errstr, size, "tiers: more than %d",
                MAX_TIERS);
    goto err;
  }
  p->nparts = (int)strata_config_get_int(cfg, "topic.partitions");
  if (!(p->prefix = strdup(strata_config_get_str(cfg, "topic.prefix"))) ||
      !(p->queues = strdup(strata_config_get_str(cfg, "queues"))))
    goto err;
  if (strata_layout_build(cfg, &p->layout, errstr, size))
    goto err;
  /* message.max.bytes above the codec's max record size: librdkafka's
   * default (1 000 000) is below it, so a valid large task was refused. */
  snprintf(mmb, sizeof(mmb), "%zu", strata_codec_max_record_size() + 65536);
  if (!(conf = strata_kafka_conf_new(cfg, "producer", defaults, errstr, size)))
    goto err;
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  if (!(p->rk =
            rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason)))) {
    strata_errf(STRATA_ERR_KAFKA, errstr, size, "creating the producer: %s",
                reason);
    goto err;
  }
  return p;
err:
  if (conf)
    rd_kafka_conf_destroy(conf);
  strata_producer_destroy(p);
  return NULL;
}

void strata_producer_destroy(strata_producer_t *p) {
  if (!p)
    return;
  if (p->rk) {
    rd_kafka_flush(p->rk, 10000);
    rd_kafka_destroy(p->rk);
  }
  for (int i = 0; i < p->ntiers; i++)
    free(p->tiers[i]);
  free(p->prefix);
  strata_layout_clear(&p->layout);
  free(p->queues);
  free(p);
}

static bool known_tier(const strata_producer_t *p, const char *tier) {
  for (int i = 0; i < p->ntiers; i++)
    if (!strcmp(p->tiers[i], tier))
      return true;
  return false;
}

/* "critical, high, ..." into buf, for errors naming the allowed tiers. */
static const char *tier_list(const strata_producer_t *p, char *buf,
                             size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  for (int i = 0; i < p->ntiers && n < size; i++)
    n +=
        (size_t)snprintf(buf + n, size - n, "%s%s", i ? ", " : "", p->tiers[i]);
  return buf;
}

strata_err_t strata_producer_prepare(strata_producer_t *p, strata_task_t *task,
                                     strata_epoch_ms_t now_ms, char *errstr,
                                     size_t size) {
  strata_err_t err;

  if (!task->id || !*task->id) {
    char id[37];
    strata_task_id_generate(id);
    free(task->id);
    if (!(task->id = strdup(id)))
      return STRATA_ERR_NOMEM;
  }
  if (!task->created_ms)
    task->created_ms = now_ms;
  task->enqueued_ms = now_ms;
  if (task->attempt == 0)
    task->attempt = 1;
  if ((err = strata_task_validate(task, errstr, size)))
    return err;
  if (!known_tier(p, task->tier)) {
    char allowed[512];
    return strata_errf(STRATA_ERR_INVALID_TASK, errstr, size,
                       "Task.tier: \"%s\" is not a configured tier; allowed: "
                       "%s",
                       task->tier, tier_list(p, allowed, sizeof(allowed)));
  }
  if (task->queue && !strata_layout_dispatch_topic(&p->layout, task->queue))
    return strata_errf(STRATA_ERR_INVALID_TASK, errstr, size,
                       "Task.queue: \"%s\" is not a configured queue; "
                       "allowed: %s",
                       task->queue, p->queues);
  if (task->has_deadline_ms && task->deadline_ms < now_ms)
    return strata_errf(STRATA_ERR_INVALID_TASK, errstr, size,
                       "Task.deadline_ms: %" PRId64 " is %" PRId64
                       " ms in the past",
                       task->deadline_ms, now_ms - task->deadline_ms);
  return STRATA_OK;
}

/* Produces an encoded value; takes ownership of `value` in every case. */
static strata_err_t produce(strata_producer_t *p, const char *topic,
                            int32_t partition, const char *key, void *value,
                            size_t len, const char *id, strata_delivery_cb cb,
                            void *opaque, char *errstr, size_t size) {
  size_t idlen = strlen(id);
  delivery_t *d = malloc(sizeof(*d) + idlen + 1);
  rd_kafka_resp_err_t kerr;

  if (!d) {
    free(value);
    return STRATA_ERR_NOMEM;
  }
  d->cb = cb;
  d->opaque = opaque;
  memcpy(d->id, id, idlen + 1);
  /* RD_KAFKA_V_KEY casts to a non-const pointer; librdkafka copies the key
   * and never writes it. */
  union {
    const char *c;
    void *m;
  } k = {key};
  kerr = rd_kafka_producev(
      p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
      RD_KAFKA_V_KEY(k.m, strlen(key)), RD_KAFKA_V_VALUE(value, len),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_OPAQUE(d),
      RD_KAFKA_V_END);
  if (kerr) {
    free(value);
    free(d);
    return strata_errf(kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL ? STRATA_ERR_FULL
                                                             : STRATA_ERR_KAFKA,
                       errstr, size, "producing to %s: %s", topic,
                       rd_kafka_err2str(kerr));
  }
  return STRATA_OK;
}

static strata_err_t send_prepared(strata_producer_t *p,
                                  const strata_task_t *task,
                                  strata_delivery_cb cb, void *opaque,
                                  char *errstr, size_t size) {
  char topic[512];
  const char *key;
  void *buf;
  size_t len;
  strata_err_t err;

  const strata_topic_spec_t *step =
      task->has_not_before_ms
          ? strata_layout_delay_step(&p->layout,
                                     task->not_before_ms - task->enqueued_ms)
          : NULL;

  if ((err = strata_task_encode(task, &buf, &len, errstr, size)))
    return err;
  if (len > strata_record_budget()) {
    free(buf);
    return strata_errf(STRATA_ERR_INVALID_TASK, errstr, size,
                       "Task: the record is %zu bytes; at most %zu can be "
                       "dispatched (codec.max.record.bytes less 1 KiB for its "
                       "key and Kafka's record overhead)",
                       len, strata_record_budget());
  }
  /* A task delayed by at least the smallest step waits on the delay ladder
   * (the same partition number, as the key is the same); a shorter delay
   * waits in the scheduler's timers. */
  if (step)
    snprintf(topic, sizeof(topic), "%s", step->name);
  else
    snprintf(topic, sizeof(topic), "%stasks.%s", p->prefix, task->tier);
  /* The partition is the key's murmur2 hash over the configured
   * topic.partitions, not over what the topic has: partitions added to a
   * topic later are never read by the scheduler, and a task sent there
   * would never run. */
  key = task->idempotency_key ? task->idempotency_key : task->id;
  return produce(p, topic,
                 rd_kafka_msg_partitioner_murmur2_random(NULL, key, strlen(key),
                                                         p->nparts, NULL, NULL),
                 key, buf, len, task->id, cb, opaque, errstr, size);
}

strata_err_t strata_producer_submit(strata_producer_t *p, strata_task_t *task,
                                    strata_delivery_cb cb, void *opaque,
                                    char *errstr, size_t size) {
  strata_err_t err;

  if ((err = strata_producer_prepare(p, task, strata_epoch_now_ms(), errstr,
                                     size)))
    return err;
  return send_prepared(p, task, cb, opaque, errstr, size);
}

strata_err_t strata_producer_submit_batch(strata_producer_t *p,
                                          strata_task_t *tasks, size_t n,
                                          strata_delivery_cb cb, void *opaque,
                                          size_t *queued, char *errstr,
                                          size_t size) {
  strata_epoch_ms_t now = strata_epoch_now_ms();
  char inner[512];
  strata_err_t err;

  if (queued)
    *queued = 0;
  for (size_t i = 0; i < n; i++)
    if ((err =
             strata_producer_prepare(p, &tasks[i], now, inner, sizeof(inner))))
      return strata_errf(err, errstr, size, "task %zu: %s", i, inner);
  for (size_t i = 0; i < n; i++) {
    if ((err = send_prepared(p, &tasks[i], cb, opaque, errstr, size)))
      return err;
    if (queued)
      (*queued)++;
  }
  return STRATA_OK;
}

strata_err_t strata_producer_control(strata_producer_t *p,
                                     strata_control_kind_t kind,
                                     const char *target, const char *reason,
                                     strata_delivery_cb cb, void *opaque,
                                     char *errstr, size_t size) {
  strata_control_t c;
  char topic[512];
  const char *key;
  void *buf;
  size_t len;
  strata_err_t err;
  bool by_task =
      kind == STRATA_CONTROL_CANCEL || kind == STRATA_CONTROL_PREEMPT;
  bool by_tier =
      kind == STRATA_CONTROL_PAUSE_TIER || kind == STRATA_CONTROL_RESUME_TIER;

  if ((by_task || by_tier) && (!target || !*target))
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "%s: the %s is empty", strata_control_kind_name(kind),
                       by_task ? "task id" : "tier");
  if (by_tier && strcmp(target, "*") && !known_tier(p, target)) {
    char allowed[512];
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "%s: tier \"%s\" is not a configured tier; allowed: "
                       "%s, or * for every tier",
                       strata_control_kind_name(kind), target,
                       tier_list(p, allowed, sizeof(allowed)));
  }
  strata_control_init(&c);
  c.kind = kind;
  c.issued_ms = strata_epoch_now_ms();
  if ((by_task && !(c.task_id = strdup(target))) ||
      (by_tier && !(c.tier = strdup(target))) ||
      (reason && !(c.reason = strdup(reason)))) {
    strata_control_clear(&c);
    return STRATA_ERR_NOMEM;
  }
  err = strata_control_encode(&c, &buf, &len, errstr, size);
  strata_control_clear(&c);
  if (err)
    return err;
  snprintf(topic, sizeof(topic), "%scontrol", p->prefix);
  key = by_task || by_tier ? target : strata_control_kind_name(kind);
  return produce(p, topic, RD_KAFKA_PARTITION_UA, key, buf, len, key, cb,
                 opaque, errstr, size);
}

strata_err_t strata_producer_cancel(strata_producer_t *p, const char *task_id,
                                    const char *reason, strata_delivery_cb cb,
                                    void *opaque, char *errstr, size_t size) {
  if (!task_id || !*task_id)
    return strata_errf(STRATA_ERR_INVALID_ARG, errstr, size,
                       "cancel: the task id is empty");
  return strata_producer_control(p, STRATA_CONTROL_CANCEL, task_id, reason, cb,
                                 opaque, errstr, size);
}

int strata_producer_poll(strata_producer_t *p, int timeout_ms) {
  return rd_kafka_poll(p->rk, timeout_ms);
}

strata_err_t strata_producer_flush(strata_producer_t *p, int timeout_ms) {
  return rd_kafka_flush(p->rk, timeout_ms) ? STRATA_ERR_TIMEOUT : STRATA_OK;
}
