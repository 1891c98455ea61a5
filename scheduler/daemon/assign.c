/*
 * The assignment stage: what the scheduler does in Kafka when it is given
 * tier partitions, loses them, or rewinds after an aborted transaction.
 *
 * On an assignment, the committed offsets of the tier partitions are read
 * with their commit metadata ("m=<events offset>", the mark); the tier
 * partitions start paused, and the aux consumer re-reads each events
 * partition from its mark (or the start of the idempotency window, if
 * earlier) up to its end as of now, so the decision layer learns what was
 * already decided above the committed offsets before it takes a record.
 * What the scan means is the decision layer's business (decide.h); this
 * file only positions the consumers.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched_int.h"
#include "strata/log.h"
#include "strata/program.h"

#define COMP "scheduler"

int sched_input_of_topic(const sched_t *s, const char *topic) {
  for (int i = 0; i < s->ninputs; i++)
    if (!strcmp(s->topic_tasks[i], topic))
      return i;
  return -1;
}

void sched_report_partitions(sched_t *s) {
  int assigned = 0, recovering = 0;
  for (int p = 0; p < s->nparts; p++) {
    assigned += decide_owns(s->decide, p);
    recovering += decide_recovering(s->decide, p);
  }
  if (s->views)
    views_partitions(s->views, assigned, recovering);
}

/* Re-points the aux consumer: events partitions of `from` (>= 0) start
 * there, the others keep their position; control keeps its position. */
static void aux_reassign(sched_t *s, const int64_t *from) {
  rd_kafka_topic_partition_list_t *cur = NULL, *next;

  rd_kafka_assignment(s->aux, &cur);
  rd_kafka_position(s->aux, cur);
  next = rd_kafka_topic_partition_list_new(cur->cnt);
  for (int i = 0; i < cur->cnt; i++) {
    rd_kafka_topic_partition_t *tp = &cur->elems[i];
    rd_kafka_topic_partition_t *n =
        rd_kafka_topic_partition_list_add(next, tp->topic, tp->partition);
    /* No position yet: events start at the end (their history comes from
     * `from`), control at its start (its history is the operator state). */
    n->offset = tp->offset >= 0 ? tp->offset
                : !strcmp(tp->topic, s->topic_control)
                    ? RD_KAFKA_OFFSET_BEGINNING
                    : RD_KAFKA_OFFSET_END;
    if (!strcmp(tp->topic, s->topic_events) && from[tp->partition] >= 0)
      n->offset = from[tp->partition];
  }
  rd_kafka_assign(s->aux, next);
  rd_kafka_topic_partition_list_destroy(next);
  rd_kafka_topic_partition_list_destroy(cur);
}

/* For each owned events partition p, the offset of the first event at or
 * after `ts` (a time, or RD_KAFKA_OFFSET_BEGINNING / _END for the low and
 * high watermarks) into out[p]; -1 where unknown. One ListOffsets round trip
 * for all partitions: right after a broker restart each round trip can take
 * a second, and a query per partition made recovery wait for each in turn. */
static void events_offsets(sched_t *s, const bool *mine, int64_t ts,
                           int64_t *out) {
  rd_kafka_topic_partition_list_t *l =
      rd_kafka_topic_partition_list_new(s->nparts);
  rd_kafka_resp_err_t kerr;
  for (int p = 0; p < s->nparts; p++) {
    out[p] = -1;
    if (mine[p])
      rd_kafka_topic_partition_list_add(l, s->topic_events, p)->offset = ts;
  }
  if (l->cnt && (kerr = rd_kafka_offsets_for_times(s->aux, l, 10000)))
    STRATA_WARN(COMP, "listing offsets of %s: %s", s->topic_events,
                rd_kafka_err2str(kerr));
  else
    for (int i = 0; i < l->cnt; i++)
      if (!l->elems[i].err && l->elems[i].offset >= 0)
        out[l->elems[i].partition] = l->elems[i].offset;
  rd_kafka_topic_partition_list_destroy(l);
}

/* The mark in a committed offset's metadata: -1 when nothing was
 * committed, 0 (scan everything) when it was committed without one. */
static int64_t mark_of(const rd_kafka_topic_partition_t *tp) {
  char buf[32];
  size_t n;
  if (tp->offset < 0)
    return -1;
  if (!tp->metadata || tp->metadata_size <= 2 || strncmp(tp->metadata, "m=", 2))
    return 0;
  n = tp->metadata_size < sizeof(buf) - 1 ? tp->metadata_size : sizeof(buf) - 1;
  memcpy(buf, tp->metadata, n);
  buf[n] = '\0';
  return strtoll(buf + 2, NULL, 10);
}

/* Reads the committed offsets of `parts` into `start` [input * nparts + p]
 * and the earliest mark per partition into `from`. */
static void read_committed(sched_t *s, rd_kafka_topic_partition_list_t *parts,
                           int64_t *start, int64_t *from, bool *mine) {
  rd_kafka_resp_err_t kerr = rd_kafka_committed(s->in, parts, 30000);
  if (kerr)
    STRATA_WARN(COMP,
                "fetching committed offsets: %s; starting from the earliest "
                "offsets",
                rd_kafka_err2str(kerr));
  int unread = 0;
  for (int i = 0; i < parts->cnt; i++) {
    rd_kafka_topic_partition_t *tp = &parts->elems[i];
    int32_t p = tp->partition;
    int in = sched_input_of_topic(s, tp->topic);
    int64_t mark = mark_of(tp);
    if (p >= s->nparts) {
      /* Partitions added to a topic after the layout: co-partitioning
       * (events, dispatch) and idempotency need every topic at one count,
       * so they are not read. Loud, since their tasks would never run. */
      STRATA_ERROR(COMP,
                   "%s has partition %d but topic.partitions is %d: its "
                   "records are never read. Tasks written there by a client "
                   "that partitions over the topic's own count do not run; "
                   "Strata's clients write only to the configured "
                   "partitions. Remedy: a new layout (topic.prefix) with the "
                   "count wanted, and the backlog replayed onto it",
                   tp->topic, (int)p, s->nparts);
      unread++;
      continue;
    }
    mine[p] = true;
    if (mark >= 0 && (from[p] < 0 || mark < from[p]))
      from[p] = mark;
    if (tp->offset < 0)
      tp->offset = RD_KAFKA_OFFSET_BEGINNING;
    else if (in >= 0)
      start[in * s->nparts + p] = tp->offset;
  }
  views_unread_partitions(s->views, unread);
}

/* Where the recovery scan of partition p starts and ends, from its
 * earliest mark `*from`, the start of the idempotency window `w` and the
 * watermarks. A scan that has nothing to read gets from = until = -1. */
static void scan_bounds(int32_t p, int64_t w, int64_t lo, int64_t hi,
                        int64_t *from, int64_t *until) {
  /* Idempotency keys of the window live in the events partition too. */
  if (w >= 0 && (*from < 0 || w < *from))
    *from = w;
  if (lo < 0)
    lo = 0;
  if (hi < 0)
    hi = 0;
  if (*from < 0 || hi <= *from) {
    *from = -1;
    *until = -1;
    return;
  }
  if (*from < lo)
    *from = lo;
  *until = hi;
  STRATA_INFO(COMP,
              "partition %d: re-reading events %" PRId64 "..%" PRId64
              " before consuming its tiers",
              p, *from, hi);
}

static void pause_recovering(sched_t *s,
                             const rd_kafka_topic_partition_list_t *parts) {
  rd_kafka_topic_partition_list_t *pause =
      rd_kafka_topic_partition_list_new(parts->cnt);
  for (int i = 0; i < parts->cnt; i++)
    if (decide_recovering(s->decide, parts->elems[i].partition))
      rd_kafka_topic_partition_list_add(pause, parts->elems[i].topic,
                                        parts->elems[i].partition);
  if (pause->cnt)
    rd_kafka_pause_partitions(s->in, pause);
  rd_kafka_topic_partition_list_destroy(pause);
}

/* A new assignment (or a rewind to the committed offsets of the current
 * one). */
static void on_assign(sched_t *s, rd_kafka_topic_partition_list_t *parts) {
  size_t np = (size_t)s->nparts, nstart = (size_t)s->ninputs * np;
  int64_t *from = malloc(np * sizeof(*from));
  int64_t *start = malloc(nstart * sizeof(*start));
  int64_t *pstart = malloc((size_t)s->ninputs * sizeof(*pstart));
  int64_t *w = malloc(np * sizeof(*w)), *lo = malloc(np * sizeof(*lo));
  int64_t *hi = malloc(np * sizeof(*hi));
  bool *mine = calloc(np, sizeof(*mine));
  strata_epoch_ms_t now = strata_epoch_now_ms();

  if (!from || !start || !pstart || !w || !lo || !hi || !mine ||
      decide_reset(s->decide) != STRATA_OK) {
    strata_program_oom();
  }
  ladder_drop(s);
  s->paused_full = false;
  for (size_t i = 0; i < np; i++)
    from[i] = -1;
  for (size_t i = 0; i < nstart; i++)
    start[i] = -1;
  read_committed(s, parts, start, from, mine);
  events_offsets(s, mine, now - s->window_ms, w);
  events_offsets(s, mine, RD_KAFKA_OFFSET_BEGINNING, lo);
  events_offsets(s, mine, RD_KAFKA_OFFSET_END, hi);
  for (int p = 0; p < s->nparts; p++) {
    int64_t until;
    if (!mine[p])
      continue;
    scan_bounds(p, w[p], lo[p], hi[p], &from[p], &until);
    for (int in = 0; in < s->ninputs; in++)
      pstart[in] = start[in * s->nparts + p];
    decide_assign(s->decide, p, pstart, from[p], until);
    ladder_take(s, p);
  }
  rd_kafka_assign(s->in, parts);
  pause_recovering(s, parts);
  aux_reassign(s, from);
  free(from);
  free(start);
  free(pstart);
  free(w);
  free(lo);
  free(hi);
  free(mine);
  sched_report_partitions(s);
}

void sched_recovered(sched_t *s, int32_t p) {
  rd_kafka_topic_partition_list_t *l =
      rd_kafka_topic_partition_list_new(s->ninputs);
  for (int t = 0; t < s->ninputs; t++)
    rd_kafka_topic_partition_list_add(l, s->topic_tasks[t], p);
  if (!s->paused_full)
    rd_kafka_resume_partitions(s->in, l);
  rd_kafka_topic_partition_list_destroy(l);
  STRATA_INFO(COMP,
              "partition %d: recovered; consuming its tiers (%zu attempts "
              "running)",
              p, decide_running(s->decide));
  sched_report_partitions(s);
}

void sched_on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                        rd_kafka_topic_partition_list_t *parts, void *opaque) {
  sched_t *s = opaque;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    STRATA_INFO(COMP, "assigned %d tier partitions", parts->cnt);
    on_assign(s, parts);
  } else {
    STRATA_INFO(COMP, "revoked %d tier partitions", parts->cnt);
    rd_kafka_assign(rk, NULL);
    ladder_drop(s);
    s->paused_full = false;
    if (decide_reset(s->decide) != STRATA_OK) {
      strata_program_oom();
    }
    sched_report_partitions(s);
  }
}

void sched_rewind(sched_t *s) {
  rd_kafka_topic_partition_list_t *cur = NULL;
  if (rd_kafka_assignment(s->in, &cur) == 0 && cur) {
    rd_kafka_topic_partition_list_t *copy =
        rd_kafka_topic_partition_list_copy(cur);
    on_assign(s, copy);
    rd_kafka_topic_partition_list_destroy(copy);
    rd_kafka_topic_partition_list_destroy(cur);
  }
}
