/*
 * The delay ladder stage: each delay step topic has one fixed delay, so a
 * record written to step S at time T (its Kafka timestamp) is due at T + S
 * and the records of one partition are ordered by due time. Each owned
 * delay partition is read head-first from its own queue: a record is taken
 * only when the one in front is due, so a waiting head never forces a pause
 * (which would drop prefetched records) or a spin.
 */
#include <inttypes.h>

#include "sched_int.h"
#include "strata/log.h"

#define COMP "scheduler"

static int nslots(const sched_t *s) {
  return (s->ninputs - s->ntiers) * s->nparts;
}

void ladder_drop(sched_t *s) {
  for (int i = 0; s->dq && i < nslots(s); i++) {
    if (s->dhead[i])
      rd_kafka_message_destroy(s->dhead[i]);
    s->dhead[i] = NULL;
    if (s->dq[i])
      rd_kafka_queue_destroy(s->dq[i]);
    s->dq[i] = NULL;
  }
}

void ladder_take(sched_t *s, int32_t p) {
  for (int in = s->ntiers; in < s->ninputs; in++) {
    int slot = (in - s->ntiers) * s->nparts + p;
    if (s->dq[slot])
      continue;
    s->dq[slot] = rd_kafka_queue_get_partition(s->in, s->topic_tasks[in], p);
    if (s->dq[slot])
      rd_kafka_queue_forward(s->dq[slot], NULL);
  }
}

/* The head of one delay partition queue, or NULL when it has none. */
static rd_kafka_message_t *head(sched_t *s, int in, int slot) {
  rd_kafka_message_t *m;
  while (!s->dhead[slot]) {
    if (!(m = rd_kafka_consume_queue(s->dq[slot], 0)))
      return NULL;
    if (m->err) {
      if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        STRATA_WARN(COMP, "%s: %s", s->topic_tasks[in],
                    rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    s->dhead[slot] = m;
  }
  return s->dhead[slot];
}

int ladder_turn(sched_t *s, strata_epoch_ms_t now, strata_epoch_ms_t *wake) {
  int taken = 0;
  for (int in = s->ntiers; in < s->ninputs; in++) {
    for (int p = 0; p < s->nparts; p++) {
      int slot = (in - s->ntiers) * s->nparts + p;
      rd_kafka_message_t *m;
      if (!decide_owns(s->decide, p) || decide_recovering(s->decide, p) ||
          !s->dq[slot])
        continue;
      while (!decide_is_full(s->decide) && (m = head(s, in, slot))) {
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        int64_t due = ts < 0 ? now : ts + s->in_delay_ms[in];
        if (due > now) {
          if (due < *wake)
            *wake = due;
          break;
        }
        STRATA_DEBUG(COMP, "%s[%d]@%" PRId64 ": due %" PRId64 " ms ago",
                     s->topic_tasks[in], p, m->offset, now - due);
        decide_task(
            s->decide,
            &(decide_record_t){in, m->partition, m->offset, m->payload, m->len},
            now);
        rd_kafka_message_destroy(m);
        s->dhead[slot] = NULL;
        taken++;
      }
    }
  }
  return taken;
}
