/*
 * `strata read`: prints the records of one Strata topic as JSON lines, decoded
 * by their schema fingerprint, from the beginning up to the end the topic had
 * when reading started (or forever with --follow). A record that does not
 * decode is printed as an error object naming its offset, never skipped
 * silently. Reads with isolation.level=read_committed, like every Strata
 * component.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "strata/codec.h"
#include "strata/kafka.h"

static volatile sig_atomic_t read_stop;

static void on_sigint(int sig) {
  (void)sig;
  read_stop = 1;
}

static json_t *decode_value(const void *data, size_t len, char *err,
                            size_t size) {
  json_t *j = NULL;
  switch (strata_codec_peek_kind(data, len)) {
  case STRATA_RECORD_TASK: {
    strata_task_t t;
    strata_task_init(&t);
    if (!strata_task_decode(data, len, &t, err, size))
      j = strata_task_to_json(&t);
    strata_task_clear(&t);
    break;
  }
  case STRATA_RECORD_EVENT: {
    strata_event_t e;
    strata_event_init(&e);
    if (!strata_event_decode(data, len, &e, err, size))
      j = strata_event_to_json(&e);
    strata_event_clear(&e);
    break;
  }
  case STRATA_RECORD_CONTROL: {
    strata_control_t c;
    strata_control_init(&c);
    if (!strata_control_decode(data, len, &c, err, size))
      j = strata_control_to_json(&c);
    strata_control_clear(&c);
    break;
  }
  case STRATA_RECORD_DEADLETTER: {
    strata_deadletter_t d;
    strata_deadletter_init(&d);
    if (!strata_deadletter_decode(data, len, &d, err, size))
      j = strata_deadletter_to_json(&d);
    strata_deadletter_clear(&d);
    break;
  }
  case STRATA_RECORD_UNKNOWN:
    snprintf(err, size,
             "no known Strata schema fingerprint in the first %d "
             "bytes",
             STRATA_CODEC_HEADER_LEN);
    break;
  }
  return j;
}

/* Topic name from a role shortcut or a full name. */
static void topic_name(const strata_config_t *cfg, const char *arg, char *out,
                       size_t size) {
  const char *prefix = strata_config_get_str(cfg, "topic.prefix");
  if (!strncmp(arg, "tier:", 5))
    snprintf(out, size, "%stasks.%s", prefix, arg + 5);
  else if (!strncmp(arg, "delay:", 6))
    snprintf(out, size, "%sdelay.%s", prefix, arg + 6);
  else if (!strcmp(arg, "dispatch") || !strcmp(arg, "events") ||
           !strcmp(arg, "control") || !strcmp(arg, "dlq"))
    snprintf(out, size, "%s%s", prefix, arg);
  else
    snprintf(out, size, "%s", arg);
}

int cli_cmd_read(const strata_program_t *prog, strata_config_t *cfg, int argc,
                 char **argv) {
  static const char *const defaults[] = {
      "group.id", "strata-cli-read",      "enable.auto.commit",
      "false",    "enable.partition.eof", "true",
      NULL};
  const struct rd_kafka_metadata *md = NULL;
  rd_kafka_topic_partition_list_t *parts = NULL;
  const char *what = NULL;
  strata_mock_t *mock = NULL;
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk = NULL;
  rd_kafka_topic_t *rkt = NULL;
  bool follow = false;
  long max = -1, printed = 0;
  int eofs = 0, nparts = 0, rc = STRATA_EXIT_FAILURE;
  char topic[512], err[512];
  struct sigaction sa;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--follow"))
      follow = true;
    else if (!strcmp(argv[i], "--max") && i + 1 < argc)
      max = strtol(argv[++i], NULL, 10);
    else if (!what && argv[i][0] != '-')
      what = argv[i];
    else
      strata_program_usage_error(
          prog, "usage: strata read TOPIC [--max N] [--follow]; TOPIC: "
                "tier:<tier>, delay:<step>, dispatch, events, control, dlq "
                "or a topic name");
  }
  if (!what)
    strata_program_usage_error(prog, "read: missing TOPIC");
  topic_name(cfg, what, topic, sizeof(topic));
  if (strata_kafka_resolve_bootstrap(cfg, &mock, err, sizeof(err)) ||
      !(conf =
            strata_kafka_conf_new(cfg, "read", defaults, err, sizeof(err)))) {
    fprintf(stderr, "strata: %s\n", err);
    rc = STRATA_EXIT_USAGE;
    goto done;
  }
  if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err)))) {
    rd_kafka_conf_destroy(conf);
    fprintf(stderr, "strata: %s\n", err);
    goto done;
  }
  rkt = rd_kafka_topic_new(rk, topic, NULL);
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) || md->topic_cnt != 1 ||
      md->topics[0].err) {
    fprintf(stderr, "strata: read: topic %s: %s\n", topic,
            md && md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
                                     : "no metadata from the cluster");
    goto done;
  }
  nparts = md->topics[0].partition_cnt;
  parts = rd_kafka_topic_partition_list_new(nparts);
  for (int p = 0; p < nparts; p++)
    rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_assign(rk, parts);
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);

  while (!read_stop && (follow || eofs < nparts) &&
         (max < 0 || printed < max)) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
    json_t *line, *value;
    if (!m)
      continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      eofs++;
    } else if (m->err) {
      fprintf(stderr, "strata: read: %s\n", rd_kafka_message_errstr(m));
    } else {
      line = json_pack("{s:s, s:i, s:I, s:s%}", "topic", topic, "partition",
                       (int)m->partition, "offset", (json_int_t)m->offset,
                       "key", m->key ? (const char *)m->key : "",
                       m->key ? m->key_len : 0);
      if ((value = decode_value(m->payload, m->len, err, sizeof(err))))
        json_object_set_new(line, "value", value);
      else
        json_object_set_new(line, "error", json_string(err));
      char *text = json_dumps(line, JSON_COMPACT);
      printf("%s\n", text);
      free(text);
      json_decref(line);
      printed++;
    }
    rd_kafka_message_destroy(m);
  }
  rc = STRATA_EXIT_OK;
done:
  if (parts)
    rd_kafka_topic_partition_list_destroy(parts);
  if (md)
    rd_kafka_metadata_destroy(md);
  if (rkt)
    rd_kafka_topic_destroy(rkt);
  if (rk) {
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
  }
  strata_mock_destroy(mock);
  return rc;
}
