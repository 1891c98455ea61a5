/*
 * The tier intake: each owned tier partition is read from its own queue,
 * the tiers in turn, so a critical record never waits behind a backlog.
 *
 * The consumer's own queue would hand over records in fetch order, and
 * librdkafka prefetches up to queued.max.messages.kbytes of each partition:
 * behind a deep background backlog, a critical task just fetched waited for
 * every prefetched background record ahead of it in that one queue (2-4 s
 * with 250 000 queued, measured with `strata-bench priority`). Here a turn
 * takes one record from each tier partition in turn, the most urgent tier
 * first, so a record waits for at most one round (tiers x partitions
 * records) once it is fetched. The order of one partition is kept.
 *
 * The partition queues signal the loop's wake pipe when they become
 * non-empty (as does the consumer queue, for rebalances), so an idle loop
 * sleeps in poll() and wakes on a record of any tier.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched_int.h"
#include "strata/log.h"

#define COMP "scheduler"

int tierq_open(sched_t *s, char *err, size_t size) {
  if (pipe(s->wake) || fcntl(s->wake[0], F_SETFL, O_NONBLOCK) ||
      fcntl(s->wake[1], F_SETFL, O_NONBLOCK)) {
    snprintf(err, size, "the intake's wake pipe: %s", strerror(errno));
    return -1;
  }
  if (!(s->tq = calloc((size_t)(s->ntiers * s->nparts) + 1, sizeof(*s->tq)))) {
    snprintf(err, size, "out of memory");
    return -1;
  }
  s->cq = rd_kafka_queue_get_consumer(s->in);
  rd_kafka_queue_io_event_enable(s->cq, s->wake[1], "c", 1);
  return 0;
}

void tierq_close(sched_t *s) {
  tierq_drop(s);
  free(s->tq);
  s->tq = NULL;
  if (s->cq) {
    rd_kafka_queue_io_event_enable(s->cq, -1, NULL, 0);
    rd_kafka_queue_destroy(s->cq);
    s->cq = NULL;
  }
  for (int i = 0; i < 2; i++)
    if (s->wake[i] >= 0) {
      close(s->wake[i]);
      s->wake[i] = -1;
    }
}

void tierq_take(sched_t *s, int32_t p) {
  for (int t = 0; t < s->ntiers; t++) {
    rd_kafka_queue_t **q = &s->tq[t * s->nparts + p];
    if (*q || !(*q = rd_kafka_queue_get_partition(s->in, s->topic_tasks[t], p)))
      continue;
    /* Out of the consumer queue, before the partition is assigned. */
    rd_kafka_queue_forward(*q, NULL);
    rd_kafka_queue_io_event_enable(*q, s->wake[1], "t", 1);
  }
}

void tierq_drop(sched_t *s) {
  for (int i = 0; s->tq && i < s->ntiers * s->nparts; i++) {
    if (!s->tq[i])
      continue;
    rd_kafka_queue_io_event_enable(s->tq[i], -1, NULL, 0);
    rd_kafka_queue_destroy(s->tq[i]);
    s->tq[i] = NULL;
  }
}

/* One record off a queue, NULL when it has none; errors are logged. */
static rd_kafka_message_t *next_record(rd_kafka_queue_t *q) {
  rd_kafka_message_t *m;
  while ((m = rd_kafka_consume_queue(q, 0))) {
    if (!m->err)
      return m;
    if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
      STRATA_WARN(COMP, "tiers: %s", rd_kafka_message_errstr(m));
    rd_kafka_message_destroy(m);
  }
  return NULL;
}

int tierq_read(sched_t *s, int max, strata_epoch_ms_t now) {
  int taken = 0;
  bool more = true;

  while (more && taken < max && !decide_is_full(s->decide)) {
    more = false;
    for (int i = 0; i < s->ntiers * s->nparts && taken < max; i++) {
      rd_kafka_message_t *m;
      if (!s->tq[i] || !(m = next_record(s->tq[i])))
        continue;
      decide_task(s->decide,
                  &(decide_record_t){i / s->nparts, m->partition, m->offset,
                                     m->payload, m->len},
                  now);
      rd_kafka_message_destroy(m);
      taken++;
      more = true;
    }
  }
  return taken;
}

void tierq_wait(sched_t *s, int64_t wait_ms) {
  struct pollfd pfd = {s->wake[0], POLLIN, 0};
  char buf[64];

  if (wait_ms > 0 && poll(&pfd, 1, (int)wait_ms) <= 0)
    return;
  while (read(s->wake[0], buf, sizeof(buf)) > 0)
    ;
}
