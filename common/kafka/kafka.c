/*
 * librdkafka configuration from the Strata configuration, and the embedded
 * mock cluster. The mock cluster lives inside a private rd_kafka_t handle that
 * only owns it; clients connect to it through its loopback bootstrap address,
 * exactly as they would to a real broker, so nothing else in Strata knows it
 * is talking to the mock.
 */
#include "strata/kafka.h"

#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>
#include <string.h>

#include "strata/log.h"

struct strata_mock_s {
  rd_kafka_t *rk;
  rd_kafka_mock_cluster_t *mcluster;
  char *bootstraps;
};

strata_err_t strata_kafka_conf_set(rd_kafka_conf_t *conf, const char *prop,
                                   const char *value, char *errstr,
                                   size_t size) {
  char reason[256];

  if (rd_kafka_conf_set(conf, prop, value, reason, sizeof(reason)) !=
      RD_KAFKA_CONF_OK)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size, "kafka.%s: %s", prop,
                       reason);
  return STRATA_OK;
}

typedef struct {
  rd_kafka_conf_t *conf;
  char *errstr;
  size_t size;
  strata_err_t err;
} apply_ctx_t;

static void apply_kafka(const char *prop, const char *value, void *opaque) {
  apply_ctx_t *ctx = opaque;

  if (ctx->err == STRATA_OK)
    ctx->err =
        strata_kafka_conf_set(ctx->conf, prop, value, ctx->errstr, ctx->size);
}

rd_kafka_conf_t *strata_kafka_conf_new(const strata_config_t *cfg,
                                       const char *role,
                                       const char *const *defaults,
                                       char *errstr, size_t size) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  apply_ctx_t ctx = {conf, errstr, size, STRATA_OK};
  const char *bootstrap = strata_config_get_str(cfg, "bootstrap.servers");
  char client_id[64];

  snprintf(client_id, sizeof(client_id), "strata-%s", role);
  rd_kafka_conf_set_log_cb(conf, strata_log_rdkafka_cb);
  if ((*bootstrap && strata_kafka_conf_set(conf, "bootstrap.servers", bootstrap,
                                           errstr, size)) ||
      strata_kafka_conf_set(conf, "client.id", client_id, errstr, size))
    goto err;
  for (; defaults && defaults[0]; defaults += 2)
    if (strata_kafka_conf_set(conf, defaults[0], defaults[1], errstr, size))
      goto err;
  strata_config_foreach_kafka(cfg, apply_kafka, &ctx);
  if (ctx.err)
    goto err;
  return conf;
err:
  rd_kafka_conf_destroy(conf);
  return NULL;
}

strata_mock_t *strata_mock_new(const strata_config_t *cfg, char *errstr,
                               size_t size) {
  strata_mock_t *mock = calloc(1, sizeof(*mock));
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  strata_layout_t layout = {0};
  char reason[256];

  if (!mock)
    goto err;
  rd_kafka_conf_set_log_cb(conf, strata_log_rdkafka_cb);
  /* The owner handle never connects anywhere; silence its warning about the
   * missing bootstrap.servers. */
  rd_kafka_conf_set(conf, "log_level", "3", reason, sizeof(reason));
  if (!(mock->rk =
            rd_kafka_new(RD_KAFKA_PRODUCER, conf, reason, sizeof(reason)))) {
    strata_errf(STRATA_ERR_KAFKA, errstr, size,
                "embedded broker: cannot create its handle: %s", reason);
    conf = NULL; /* rd_kafka_new() owns conf only on success */
    goto err;
  }
  conf = NULL;
  if (!(mock->mcluster = rd_kafka_mock_cluster_new(mock->rk, 1))) {
    strata_errf(STRATA_ERR_KAFKA, errstr, size,
                "embedded broker: rd_kafka_mock_cluster_new failed");
    goto err;
  }
  if (!(mock->bootstraps =
            strdup(rd_kafka_mock_cluster_bootstraps(mock->mcluster))))
    goto err;
  if (strata_layout_build(cfg, &layout, errstr, size))
    goto err;
  for (int i = 0; i < layout.count; i++) {
    rd_kafka_resp_err_t kerr = rd_kafka_mock_topic_create(
        mock->mcluster, layout.topics[i].name, layout.topics[i].partitions, 1);
    if (kerr) {
      strata_errf(STRATA_ERR_KAFKA, errstr, size,
                  "embedded broker: creating topic %s: %s",
                  layout.topics[i].name, rd_kafka_err2str(kerr));
      goto err;
    }
  }
  strata_layout_clear(&layout);
  return mock;
err:
  if (conf)
    rd_kafka_conf_destroy(conf);
  strata_layout_clear(&layout);
  strata_mock_destroy(mock);
  return NULL;
}

const char *strata_mock_bootstraps(const strata_mock_t *mock) {
  return mock->bootstraps;
}

void strata_mock_destroy(strata_mock_t *mock) {
  if (!mock)
    return;
  if (mock->mcluster)
    rd_kafka_mock_cluster_destroy(mock->mcluster);
  if (mock->rk)
    rd_kafka_destroy(mock->rk);
  free(mock->bootstraps);
  free(mock);
}

strata_err_t strata_kafka_resolve_bootstrap(strata_config_t *cfg,
                                            strata_mock_t **mock_out,
                                            char *errstr, size_t size) {
  strata_mock_t *mock;

  *mock_out = NULL;
  if (*strata_config_get_str(cfg, "bootstrap.servers"))
    return STRATA_OK;
  if (!(mock = strata_mock_new(cfg, errstr, size)))
    return STRATA_ERR_KAFKA;
  STRATA_WARN("kafka",
              "bootstrap.servers is not set: using the EMBEDDED MOCK Kafka "
              "cluster at %s. It is for development only: no real "
              "transactions, nothing survives this process. Set "
              "bootstrap.servers for a real broker.",
              strata_mock_bootstraps(mock));
  if (strata_config_set(cfg, "bootstrap.servers", strata_mock_bootstraps(mock),
                        errstr, size)) {
    strata_mock_destroy(mock);
    return STRATA_ERR_CONFIG;
  }
  *mock_out = mock;
  return STRATA_OK;
}
