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
  else if (!strcmp(arg, "queue:" STRATA_DEFAULT_QUEUE))
    snprintf(out, size, "%sdispatch", prefix);
  else if (!strncmp(arg, "queue:", 6))
    snprintf(out, size, "%sdispatch.%s", prefix, arg + 6);
  else if (!strncmp(arg, "delay:", 6))
    snprintf(out, size, "%sdelay.%s", prefix, arg + 6);
  else if (!strcmp(arg, "dispatch") || !strcmp(arg, "events") ||
           !strcmp(arg, "control") || !strcmp(arg, "dlq"))
    snprintf(out, size, "%s%s", prefix, arg);
  else
    snprintf(out, size, "%s", arg);
}

typedef struct {
  const char *topic;
  long max, printed;
} print_ctx_t;

/* Prints one record as a JSON line; stops after --max records. */
static int print_record(const rd_kafka_message_t *m, void *opaque) {
  print_ctx_t *c = opaque;
  json_t *line, *value;
  char err[512], *text;

  line = json_pack("{s:s, s:i, s:I, s:s%}", "topic", c->topic, "partition",
                   (int)m->partition, "offset", (json_int_t)m->offset, "key",
                   m->key ? (const char *)m->key : "", m->key ? m->key_len : 0);
  if ((value = decode_value(m->payload, m->len, err, sizeof(err))))
    json_object_set_new(line, "value", value);
  else
    json_object_set_new(line, "error", json_string(err));
  text = json_dumps(line, JSON_COMPACT);
  printf("%s\n", text);
  free(text);
  json_decref(line);
  return c->max >= 0 && ++c->printed >= c->max;
}

int cli_cmd_read(const strata_program_t *prog, strata_config_t *cfg, int argc,
                 char **argv) {
  const char *what = NULL;
  strata_mock_t *mock = NULL;
  bool follow = false;
  char topic[512], err[512];
  print_ctx_t ctx = {topic, -1, 0};
  struct sigaction sa;
  int rc;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--follow"))
      follow = true;
    else if (!strcmp(argv[i], "--max") && i + 1 < argc)
      ctx.max = strtol(argv[++i], NULL, 10);
    else if (!what && argv[i][0] != '-')
      what = argv[i];
    else
      strata_program_usage_error(
          prog, "usage: strata read TOPIC [--max N] [--follow]; TOPIC: "
                "tier:<tier>, delay:<step>, dispatch, queue:<queue>, events, "
                "control, dlq "
                "or a topic name");
  }
  if (!what)
    strata_program_usage_error(prog, "read: missing TOPIC");
  topic_name(cfg, what, topic, sizeof(topic));
  if (strata_kafka_resolve_bootstrap(cfg, &mock, err, sizeof(err))) {
    fprintf(stderr, "strata: %s\n", err);
    return STRATA_EXIT_USAGE;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  rc = ctx.max == 0 ? STRATA_EXIT_OK
                    : cli_read_topic(cfg, "read", topic, follow, &read_stop,
                                     print_record, &ctx);
  strata_mock_destroy(mock);
  return rc;
}
