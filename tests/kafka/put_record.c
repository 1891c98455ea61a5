/*
 * put_record: writes one Strata record, given as wire JSON, to an explicit
 * partition of a topic on a real broker, for the Python tests that must
 * write what only the scheduler (a dispatch record) or an operator tool (a
 * PREEMPT) would write.
 *
 *   put_record BOOTSTRAP TOPIC PARTITION KEY task|control < record.json
 *
 * KEY "=id" takes the record's "id" (a key too long for a command line).
 * The record is converted with the codec's JSON form, encoded, produced with
 * an idempotent producer and flushed; exit 0 only once the broker
 * acknowledged it.
 */
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/codec.h"

static int encode(const char *kind, const json_t *j, void **buf, size_t *len,
                  char *err, size_t size) {
  strata_err_t rc;

  if (!strcmp(kind, "task")) {
    strata_task_t t;
    strata_task_init(&t);
    if (!(rc = strata_task_from_json(j, &t, err, size)))
      rc = strata_task_encode(&t, buf, len, err, size);
    strata_task_clear(&t);
  } else if (!strcmp(kind, "control")) {
    strata_control_t c;
    strata_control_init(&c);
    if (!(rc = strata_control_from_json(j, &c, err, size)))
      rc = strata_control_encode(&c, buf, len, err, size);
    strata_control_clear(&c);
  } else {
    snprintf(err, size, "unknown kind \"%s\" (task or control)", kind);
    return -1;
  }
  return rc ? -1 : 0;
}

/* The delivery report's error; _END until one arrived. */
static rd_kafka_resp_err_t g_delivered = RD_KAFKA_RESP_ERR__END;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
  (void)rk;
  (void)opaque;
  g_delivered = m->err;
}

int main(int argc, char **argv) {
  char err[512];
  json_error_t jerr;
  json_t *j;
  void *buf = NULL;
  char *key = NULL;
  size_t len = 0;
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk;
  rd_kafka_resp_err_t kerr;
  int rc = 1;

  if (argc != 6) {
    fprintf(stderr, "usage: put_record BOOTSTRAP TOPIC PARTITION KEY "
                    "task|control < record.json\n");
    return 2;
  }
  if (strata_codec_init(err, sizeof(err))) {
    fprintf(stderr, "put_record: %s\n", err);
    return 1;
  }
  if (!(j = json_loadf(stdin, 0, &jerr))) {
    fprintf(stderr, "put_record: stdin: %s\n", jerr.text);
    return 1;
  }
  if (encode(argv[5], j, &buf, &len, err, sizeof(err))) {
    fprintf(stderr, "put_record: %s\n", err);
    json_decref(j);
    return 1;
  }
  if (!strcmp(argv[4], "=id")) {
    const char *id = json_string_value(json_object_get(j, "id"));
    if (!id || !(key = strdup(id))) {
      fprintf(stderr, "put_record: KEY =id needs an \"id\" string\n");
      json_decref(j);
      free(buf);
      return 1;
    }
  } else if (!(key = strdup(argv[4]))) {
    json_decref(j);
    free(buf);
    return 1;
  }
  json_decref(j);
  conf = rd_kafka_conf_new();
  rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
  if (rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], err, sizeof(err)) ||
      rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof(err)) ||
      rd_kafka_conf_set(conf, "message.max.bytes", "1100000", err,
                        sizeof(err)) ||
      !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err)))) {
    fprintf(stderr, "put_record: %s\n", err);
    free(buf);
    free(key);
    return 1;
  }
  kerr = rd_kafka_producev(
      rk, RD_KAFKA_V_TOPIC(argv[2]), RD_KAFKA_V_PARTITION(atoi(argv[3])),
      RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(buf, len),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  if (kerr)
    fprintf(stderr, "put_record: produce: %s\n", rd_kafka_err2str(kerr));
  else if ((kerr = rd_kafka_flush(rk, 30000)))
    fprintf(stderr, "put_record: flush: %s\n", rd_kafka_err2str(kerr));
  else if (g_delivered)
    fprintf(stderr, "put_record: not delivered: %s\n",
            rd_kafka_err2str(g_delivered));
  else
    rc = 0;
  rd_kafka_destroy(rk);
  free(buf);
  free(key);
  return rc;
}
