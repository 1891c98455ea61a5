/*
 * add_partitions: grows a topic to COUNT partitions on a real broker (the
 * Admin API's CreatePartitions), for the test of partitions added at run
 * time. Exit 0 once the broker has done it.
 *
 *   add_partitions BOOTSTRAP TOPIC COUNT
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
  char err[512];
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  rd_kafka_NewPartitions_t *np;
  rd_kafka_queue_t *q;
  rd_kafka_event_t *ev;
  int rc = 1;

  if (argc != 4) {
    fprintf(stderr, "usage: add_partitions BOOTSTRAP TOPIC COUNT\n");
    return 2;
  }
  conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err)) ||
      !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
    fprintf(stderr, "add_partitions: %s\n", err);
    return 1;
  }
  np = rd_kafka_NewPartitions_new(argv[2], (size_t)atoi(argv[3]), err,
                                  sizeof(err));
  q = rd_kafka_queue_new(rk);
  rd_kafka_CreatePartitions(rk, &np, 1, NULL, q);
  if (!(ev = rd_kafka_queue_poll(q, 30000))) {
    fprintf(stderr, "add_partitions: no answer within 30 s\n");
  } else if (rd_kafka_event_error(ev)) {
    fprintf(stderr, "add_partitions: %s\n", rd_kafka_event_error_string(ev));
  } else {
    const rd_kafka_CreatePartitions_result_t *res =
        rd_kafka_event_CreatePartitions_result(ev);
    size_t n;
    const rd_kafka_topic_result_t **tr =
        rd_kafka_CreatePartitions_result_topics(res, &n);
    if (n == 1 && rd_kafka_topic_result_error(tr[0]))
      fprintf(stderr, "add_partitions: %s: %s\n", argv[2],
              rd_kafka_topic_result_error_string(tr[0]));
    else
      rc = 0;
  }
  if (ev)
    rd_kafka_event_destroy(ev);
  rd_kafka_NewPartitions_destroy(np);
  rd_kafka_queue_destroy(q);
  rd_kafka_destroy(rk);
  return rc;
}
