/*
 * Reading one Strata topic whole, for the subcommands that inspect topics
 * (`read`, `dlq`): every partition from its beginning with a read_committed
 * consumer that never commits, until each partition has reached its end once.
 * Counting each partition once means records written while reading cannot
 * keep the command running, and a partition that reaches its end twice cannot
 * stand in for one that has not reached it yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "strata/kafka.h"

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
  if (!(at_end = calloc((size_t)nparts + 1, sizeof(*at_end)))) {
    fprintf(stderr, "strata: out of memory\n");
    goto done;
  }
  parts = rd_kafka_topic_partition_list_new(nparts);
  for (int p = 0; p < nparts; p++)
    rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);

  rc = STRATA_EXIT_OK;
  while (!(stop && *stop) && (follow || ended < nparts)) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
    int enough = 0;
    if (!m)
      continue;
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
  if (parts)
    rd_kafka_topic_partition_list_destroy(parts);
  if (md)
    rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return rc;
}
