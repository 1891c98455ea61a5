/*
 * Reading one Strata topic whole, for the subcommands that inspect topics
 * (`read`, `dlq`): every partition from its beginning with a read_committed
 * consumer that never commits, until each partition has reached its end once.
 * Counting each partition once means records written while reading cannot
 * keep the command running, and a partition that reaches its end twice cannot
 * stand in for one that has not reached it yet.
 *
 * A partition's end is whichever comes first: an end-of-partition event, or
 * the consumer's position passing the high watermark the partition had when
 * reading began. The second matters for read_committed: while producers keep
 * a transaction open on a partition (a worker heartbeating every few hundred
 * ms), the position never meets the moving high watermark and no
 * end-of-partition event comes, although every record that was there at the
 * start has been read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "strata/kafka.h"
#include "strata/time.h"

/* Partition p is at its end once `next` (the next offset to read) reaches
 * `end`, its high watermark when reading began (-1: unknown). */
static void mark_end(bool *at_end, int *ended, int p, int64_t end,
                     int64_t next) {
  if (!at_end[p] && end >= 0 && next >= end) {
    at_end[p] = true;
    (*ended)++;
  }
}

int cli_read_topic(const strata_config_t *cfg, const char *who,
                   const char *topic, bool follow,
                   const volatile sig_atomic_t *stop, cli_record_fn fn,
                   void *opaque) {
  static const char *const defaults[] = {
      "group.id",        "strata-cli-read",      "enable.auto.commit",
      "false",           "enable.partition.eof", "true",
      "isolation.level", "read_committed",       NULL};
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_topic_partition_list_t *parts = NULL;
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  rd_kafka_topic_t *rkt;
  bool *at_end = NULL;
  int64_t *end = NULL;
  strata_mono_us_t checked = 0;
  int nparts, ended = 0, rc = STRATA_EXIT_FAILURE;
  char err[512];

  if (!(conf =
            strata_kafka_conf_new(cfg, "read", defaults, err, sizeof(err)))) {
    fprintf(stderr, "strata: %s: %s\n", who, err);
    return STRATA_EXIT_USAGE;
  }
  if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)))) {
    rd_kafka_conf_destroy(conf);
    fprintf(stderr, "strata: %s: %s\n", who, err);
    return STRATA_EXIT_FAILURE;
  }
  rkt = rd_kafka_topic_new(rk, topic, NULL);
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 ||
      md->topics[0].err) {
    fprintf(stderr, "strata: %s: topic %s: %s\n", who, topic,
            md && md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
                                     : "no metadata from the cluster");
    goto done;
  }
  nparts = md->topics[0].partition_cnt;
  if (!(at_end = calloc((size_t)nparts + 1, sizeof(*at_end))) ||
      !(end = calloc((size_t)nparts + 1, sizeof(*end)))) {
    fprintf(stderr, "strata: out of memory\n");
    goto done;
  }
  parts = rd_kafka_topic_partition_list_new(nparts);
  for (int p = 0; p < nparts; p++) {
    int64_t lo;
    rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &end[p], 10000))
      end[p] = -1; /* unknown: wait for the end-of-partition event */
  }
  rd_kafka_assign(rk, parts);

  rc = STRATA_EXIT_OK;
  while (!(stop && *stop) && (follow || ended < nparts)) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
    int enough = 0;
    /* A partition whose last records were transaction markers shows its end
     * only in the position, which steps over them: look when idle, and at
     * most every 200 ms while records flow. */
    if (!follow && (!m || strata_mono_now_us() - checked > 200000)) {
      rd_kafka_position(rk, parts);
      for (int p = 0; p < nparts; p++)
        mark_end(at_end, &ended, p, end[p], parts->elems[p].offset);
      checked = strata_mono_now_us();
    }
    if (!m)
      continue;
    if (!follow && !m->err && m->partition >= 0 && m->partition < nparts)
      mark_end(at_end, &ended, m->partition, end[m->partition], m->offset + 1);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (m->partition >= 0 && m->partition < nparts && !at_end[m->partition]) {
        at_end[m->partition] = true;
        ended++;
      }
    } else if (m->err) {
      fprintf(stderr, "strata: %s: %s: %s\n", who, topic,
              rd_kafka_message_errstr(m));
    } else {
      enough = fn(m, opaque);
    }
    rd_kafka_message_destroy(m);
    if (enough)
      break;
  }
done:
  free(at_end);
  free(end);
  if (parts)
    rd_kafka_topic_partition_list_destroy(parts);
  if (md)
    rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return rc;
}
