/*
 * The topic layout derived from the configuration, and `ensure`: compare it
 * with the cluster's metadata, create what is missing through the Admin API,
 * and report drift. Ensure never changes an existing topic: a partition count
 * that differs is reported, because changing it would move keys between
 * partitions and break co-partitioning.
 */
#include "strata/kafka.h"
#include "strata/task.h"
#include "strata/time.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TIERS 64
#define MAX_STEPS 64
#define MAX_QUEUE_ITEMS (STRATA_MAX_QUEUES + 1)

const char *strata_topic_status_str(strata_topic_status_t status) {
  switch (status) {
  case STRATA_TOPIC_OK:
    return "ok";
  case STRATA_TOPIC_CREATED:
    return "created";
  case STRATA_TOPIC_MISSING:
    return "missing";
  case STRATA_TOPIC_DRIFT:
    return "drift";
  case STRATA_TOPIC_FAILED:
    return "failed";
  }
  return "?";
}

bool strata_topic_part_valid(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
      return false;
  return true;
}

static strata_err_t add_topic(strata_layout_t *l, const char *prefix,
                              const char *suffix, strata_topic_role_t role,
                              int partitions, int64_t delay_ms,
                              const char *tier, const char *queue) {
  strata_topic_spec_t *t = &l->topics[l->count];
  size_t n = strlen(prefix) + strlen(suffix) + 1;

  if (!(t->name = malloc(n)))
    return STRATA_ERR_NOMEM;
  snprintf(t->name, n, "%s%s", prefix, suffix);
  t->role = role;
  t->partitions = partitions;
  t->delay_ms = delay_ms;
  t->tier = NULL;
  t->queue = NULL;
  if ((tier && !(t->tier = strdup(tier))) ||
      (queue && !(t->queue = strdup(queue)))) {
    free(t->tier);
    free(t->name);
    return STRATA_ERR_NOMEM;
  }
  l->count++;
  return STRATA_OK;
}

/* Queue names: topic-name parts within Task.queue's length, no repeats, and
 * at most STRATA_MAX_QUEUES besides the default one. */
static strata_err_t check_queues(char *const *queues, int n, char *errstr,
                                 size_t size) {
  int named = 0;

  for (int i = 0; i < n; i++) {
    if (!strata_topic_part_valid(queues[i]) ||
        strlen(queues[i]) > STRATA_QUEUE_MAX)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "queues: \"%s\" is not a valid queue name; allowed: "
                         "letters, digits, '.', '_' and '-', at most %d bytes",
                         queues[i], STRATA_QUEUE_MAX);
    for (int j = 0; j < i; j++)
      if (!strcmp(queues[i], queues[j]))
        return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                           "queues: \"%s\" appears twice", queues[i]);
    if (strcmp(queues[i], STRATA_DEFAULT_QUEUE) && ++named > STRATA_MAX_QUEUES)
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "queues: more than %d queues besides \"%s\"",
                         STRATA_MAX_QUEUES, STRATA_DEFAULT_QUEUE);
  }
  return STRATA_OK;
}

strata_err_t strata_layout_build(const strata_config_t *cfg,
                                 strata_layout_t *out, char *errstr,
                                 size_t size) {
  const char *prefix = strata_config_get_str(cfg, "topic.prefix");
  int parts = (int)strata_config_get_int(cfg, "topic.partitions");
  char *tiers[MAX_TIERS], *steps[MAX_STEPS], *queues[MAX_QUEUE_ITEMS];
  char suffix[256];
  int ntiers, nsteps = 0, nqueues = 0;
  int64_t prev = -1;
  strata_err_t err = STRATA_OK;

  memset(out, 0, sizeof(*out));
  out->replication_factor =
      (int)strata_config_get_int(cfg, "topic.replication.factor");
  if (!strata_topic_part_valid(prefix))
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "topic.prefix: \"%s\" is not allowed; allowed: "
                       "letters, digits, '.', '_' and '-'",
                       prefix);
  if ((ntiers = strata_config_get_list(cfg, "tiers", tiers, MAX_TIERS)) < 0)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "tiers: more than %d tiers", MAX_TIERS);
  if ((nsteps = strata_config_get_list(cfg, "delay.steps", steps, MAX_STEPS)) <
      0) {
    err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                      "delay.steps: more than %d steps", MAX_STEPS);
    nsteps = 0;
    goto done;
  }
  if ((nqueues = strata_config_get_list(cfg, "queues", queues,
                                        MAX_QUEUE_ITEMS)) < 0) {
    err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                      "queues: more than %d queues besides \"%s\"",
                      STRATA_MAX_QUEUES, STRATA_DEFAULT_QUEUE);
    nqueues = 0;
    goto done;
  }
  err = check_queues(queues, nqueues, errstr, size);
  for (int i = 0; i < ntiers && !err; i++) {
    if (!strata_topic_part_valid(tiers[i]))
      err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                        "tiers: \"%s\" is not a valid tier name; allowed: "
                        "letters, digits, '.', '_' and '-'",
                        tiers[i]);
    for (int j = 0; j < i && !err; j++)
      if (!strcmp(tiers[i], tiers[j]))
        err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                          "tiers: \"%s\" appears twice", tiers[i]);
  }
  for (int i = 0; i < nsteps && !err; i++) {
    int64_t ms;
    if (!strata_parse_duration_ms(steps[i], &ms) || ms <= 0)
      err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                        "delay.steps: \"%s\" is not a positive duration; "
                        "allowed: e.g. 500ms, 1s, 5m, 1h",
                        steps[i]);
    else if (ms <= prev)
      err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                        "delay.steps: \"%s\" is not longer than the step "
                        "before it; steps must be strictly ascending",
                        steps[i]);
    prev = ms;
  }
  if (err)
    goto done;
  if (!(out->topics = calloc((size_t)(ntiers + nsteps + nqueues + 5),
                             sizeof(*out->topics)))) {
    err = STRATA_ERR_NOMEM;
    goto done;
  }
  for (int i = 0; i < ntiers && !err; i++) {
    snprintf(suffix, sizeof(suffix), "tasks.%s", tiers[i]);
    err = add_topic(out, prefix, suffix, STRATA_TOPIC_TASKS, parts, 0, tiers[i],
                    NULL);
  }
  for (int i = 0; i < nsteps && !err; i++) {
    int64_t ms;
    strata_parse_duration_ms(steps[i], &ms);
    snprintf(suffix, sizeof(suffix), "delay.%s", steps[i]);
    err = add_topic(out, prefix, suffix, STRATA_TOPIC_DELAY, parts, ms, NULL,
                    NULL);
  }
  /* The default queue first (the core's lane 0), then the others in the
   * order given. */
  if (!err)
    err = add_topic(out, prefix, "dispatch", STRATA_TOPIC_DISPATCH, parts, 0,
                    NULL, STRATA_DEFAULT_QUEUE);
  for (int i = 0; i < nqueues && !err; i++) {
    if (!strcmp(queues[i], STRATA_DEFAULT_QUEUE))
      continue;
    snprintf(suffix, sizeof(suffix), "dispatch.%s", queues[i]);
    err = add_topic(out, prefix, suffix, STRATA_TOPIC_DISPATCH, parts, 0, NULL,
                    queues[i]);
  }
  if (!err)
    err = add_topic(out, prefix, "events", STRATA_TOPIC_EVENTS, parts, 0, NULL,
                    NULL);
  if (!err)
    err = add_topic(out, prefix, "control", STRATA_TOPIC_CONTROL, 1, 0, NULL,
                    NULL);
  if (!err)
    err = add_topic(out, prefix, "dlq", STRATA_TOPIC_DLQ, parts, 0, NULL, NULL);
  /* Kafka refuses a topic name over 249 characters. */
  for (int i = 0; i < out->count && !err; i++)
    if (strlen(out->topics[i].name) > 249)
      err = strata_errf(STRATA_ERR_CONFIG, errstr, size,
                        "topic.prefix, tiers, delay.steps, queues: the topic "
                        "name \"%.40s...\" is %zu characters; Kafka allows "
                        "249",
                        out->topics[i].name, strlen(out->topics[i].name));
done:
  for (int i = 0; i < nqueues; i++)
    free(queues[i]);
  for (int i = 0; i < ntiers; i++)
    free(tiers[i]);
  for (int i = 0; i < nsteps; i++)
    free(steps[i]);
  if (err)
    strata_layout_clear(out);
  return err;
}

void strata_layout_clear(strata_layout_t *layout) {
  for (int i = 0; i < layout->count; i++) {
    free(layout->topics[i].name);
    free(layout->topics[i].tier);
    free(layout->topics[i].queue);
  }
  free(layout->topics);
  memset(layout, 0, sizeof(*layout));
}

/* Partition count of `name` in `md`, or -1 when the topic is absent. */
static int md_partitions(const struct rd_kafka_metadata *md, const char *name) {
  for (int i = 0; i < md->topic_cnt; i++)
    if (!strcmp(md->topics[i].topic, name))
      return md->topics[i].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                 ? -1
                 : md->topics[i].partition_cnt;
  return -1;
}

/* True when a layout topic is present but its metadata is not settled yet
 * (e.g. LEADER_NOT_AVAILABLE right after creation, shown with 0 partitions):
 * reporting that as drift would be wrong. */
static bool unsettled(const struct rd_kafka_metadata *md,
                      const strata_layout_t *layout, bool require_all) {
  for (int i = 0; i < layout->count; i++) {
    bool found = false;
    for (int j = 0; j < md->topic_cnt; j++) {
      if (strcmp(md->topics[j].topic, layout->topics[i].name))
        continue;
      if (md->topics[j].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        break;
      if (md->topics[j].err || md->topics[j].partition_cnt == 0)
        return true;
      found = true;
    }
    if (require_all && !found)
      return true;
  }
  return false;
}

/* Cluster metadata once every layout topic that exists has settled (and,
 * with `require_all`, every one exists: a topic just created shows up in the
 * brokers' metadata a moment after CreateTopics returns), polled until
 * `timeout_ms`, then the last answer as it is. */
static rd_kafka_resp_err_t
settled_metadata(rd_kafka_t *rk, const strata_layout_t *layout,
                 bool require_all, int timeout_ms,
                 const struct rd_kafka_metadata **out) {
  strata_mono_us_t deadline = strata_mono_now_us() + (int64_t)timeout_ms * 1000;
  rd_kafka_resp_err_t kerr;

  for (;;) {
    if ((kerr = rd_kafka_metadata(rk, 1, NULL, out, timeout_ms)))
      return kerr;
    if (!unsettled(*out, layout, require_all) ||
        strata_mono_now_us() >= deadline)
      return RD_KAFKA_RESP_ERR_NO_ERROR;
    rd_kafka_metadata_destroy(*out);
    *out = NULL;
    /* Partition leaders are elected within milliseconds; ask again soon. */
    rd_kafka_poll(rk, 100);
  }
}

/* Creates the topics flagged in `missing`; fills per-topic errors. */
static strata_err_t create_missing(rd_kafka_t *rk,
                                   const strata_layout_t *layout,
                                   const bool *missing, char **errors,
                                   int timeout_ms, char *errstr, size_t size) {
  rd_kafka_NewTopic_t **nt = calloc((size_t)layout->count, sizeof(*nt));
  rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t *opts =
      rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_event_t *ev = NULL;
  strata_err_t err = STRATA_OK;
  char reason[256];
  int n = 0;

  if (!nt) {
    err = STRATA_ERR_NOMEM;
    goto done;
  }
  rd_kafka_AdminOptions_set_operation_timeout(opts, timeout_ms, reason,
                                              sizeof(reason));
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, reason,
                                            sizeof(reason));
  for (int i = 0; i < layout->count; i++) {
    if (!missing[i])
      continue;
    nt[n] = rd_kafka_NewTopic_new(
        layout->topics[i].name, layout->topics[i].partitions,
        layout->replication_factor, reason, sizeof(reason));
    if (!nt[n]) {
      err = strata_errf(STRATA_ERR_CONFIG, errstr, size, "topic %s: %s",
                        layout->topics[i].name, reason);
      goto done;
    }
    n++;
  }
  if (n == 0)
    goto done;
  rd_kafka_CreateTopics(rk, nt, (size_t)n, opts, q);
  ev = rd_kafka_queue_poll(q, timeout_ms + 5000);
  if (!ev || rd_kafka_event_error(ev)) {
    err = strata_errf(STRATA_ERR_KAFKA, errstr, size, "creating topics: %s",
                      ev ? rd_kafka_event_error_string(ev)
                         : "no answer from the cluster in time");
    goto done;
  }
  {
    const rd_kafka_CreateTopics_result_t *res =
        rd_kafka_event_CreateTopics_result(ev);
    size_t cnt;
    const rd_kafka_topic_result_t **tr =
        rd_kafka_CreateTopics_result_topics(res, &cnt);
    for (size_t j = 0; j < cnt; j++) {
      rd_kafka_resp_err_t terr = rd_kafka_topic_result_error(tr[j]);
      if (!terr || terr == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        continue;
      for (int i = 0; i < layout->count; i++)
        if (!strcmp(layout->topics[i].name, rd_kafka_topic_result_name(tr[j])))
          errors[i] = strdup(rd_kafka_topic_result_error_string(tr[j])
                                 ? rd_kafka_topic_result_error_string(tr[j])
                                 : rd_kafka_err2str(terr));
    }
  }
done:
  if (ev)
    rd_kafka_event_destroy(ev);
  if (nt)
    rd_kafka_NewTopic_destroy_array(nt, (size_t)n);
  free(nt);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_queue_destroy(q);
  return err;
}

strata_err_t strata_topics_ensure(rd_kafka_t *rk, const strata_layout_t *layout,
                                  bool create, int timeout_ms,
                                  strata_topics_report_cb report, void *opaque,
                                  char *errstr, size_t size) {
  const struct rd_kafka_metadata *md = NULL;
  bool *missing = calloc((size_t)layout->count + 1, sizeof(*missing));
  char **errors = calloc((size_t)layout->count + 1, sizeof(*errors));
  strata_err_t err = STRATA_OK;
  rd_kafka_resp_err_t kerr;
  bool any_missing = false;

  if (!missing || !errors) {
    err = STRATA_ERR_NOMEM;
    goto done;
  }
  if ((kerr = settled_metadata(rk, layout, false, timeout_ms, &md))) {
    err = strata_errf(STRATA_ERR_KAFKA, errstr, size,
                      "reading cluster metadata: %s (is the broker at "
                      "bootstrap.servers reachable?)",
                      rd_kafka_err2str(kerr));
    goto done;
  }
  for (int i = 0; i < layout->count; i++)
    any_missing |= missing[i] = md_partitions(md, layout->topics[i].name) < 0;
  if (create && any_missing) {
    if ((err = create_missing(rk, layout, missing, errors, timeout_ms, errstr,
                              size)))
      goto done;
    /* Return only once the new topics are usable, and report what the
     * cluster really has. */
    rd_kafka_metadata_destroy(md);
    md = NULL;
    if ((kerr = settled_metadata(rk, layout, true, timeout_ms, &md))) {
      err = strata_errf(STRATA_ERR_KAFKA, errstr, size,
                        "reading cluster metadata after creating topics: %s",
                        rd_kafka_err2str(kerr));
      goto done;
    }
  }

  for (int i = 0; i < layout->count; i++) {
    const strata_topic_spec_t *t = &layout->topics[i];
    int actual = md_partitions(md, t->name);
    strata_topic_status_t st;
    char detail[512] = "";

    if (missing[i] && !create) {
      st = STRATA_TOPIC_MISSING;
      snprintf(detail, sizeof(detail), "topic does not exist");
    } else if (missing[i] && errors[i]) {
      st = STRATA_TOPIC_FAILED;
      snprintf(detail, sizeof(detail), "%s", errors[i]);
    } else if (missing[i]) {
      st = STRATA_TOPIC_CREATED;
      actual = t->partitions;
    } else if (actual != t->partitions) {
      st = STRATA_TOPIC_DRIFT;
      snprintf(detail, sizeof(detail),
               "has %d partitions, expected %d (topic.partitions); "
               "recreate it or set topic.partitions=%d",
               actual, t->partitions, actual);
    } else {
      st = STRATA_TOPIC_OK;
    }
    if (st != STRATA_TOPIC_OK && st != STRATA_TOPIC_CREATED)
      err = STRATA_ERR_DRIFT;
    if (report)
      report(t, st, actual, detail, opaque);
  }
  if (err == STRATA_ERR_DRIFT)
    strata_errf(err, errstr, size,
                "the topic layout on the cluster differs from the "
                "configuration (see the lines above)");
done:
  if (md)
    rd_kafka_metadata_destroy(md);
  if (errors)
    for (int i = 0; i < layout->count; i++)
      free(errors[i]);
  free(errors);
  free(missing);
  return err;
}

const strata_topic_spec_t *
strata_layout_delay_step(const strata_layout_t *layout, int64_t remaining_ms) {
  const strata_topic_spec_t *best = NULL;
  for (int i = 0; i < layout->count; i++) {
    const strata_topic_spec_t *t = &layout->topics[i];
    if (t->role == STRATA_TOPIC_DELAY && t->delay_ms <= remaining_ms &&
        (!best || t->delay_ms > best->delay_ms))
      best = t;
  }
  return best;
}

const strata_topic_spec_t *
strata_layout_tier_topic(const strata_layout_t *layout, const char *tier) {
  for (int i = 0; i < layout->count; i++)
    if (layout->topics[i].role == STRATA_TOPIC_TASKS &&
        !strcmp(layout->topics[i].tier, tier))
      return &layout->topics[i];
  return NULL;
}

const strata_topic_spec_t *
strata_layout_dispatch_topic(const strata_layout_t *layout, const char *queue) {
  if (!queue)
    queue = STRATA_DEFAULT_QUEUE;
  for (int i = 0; i < layout->count; i++)
    if (layout->topics[i].role == STRATA_TOPIC_DISPATCH &&
        !strcmp(layout->topics[i].queue, queue))
      return &layout->topics[i];
  return NULL;
}

int strata_layout_learn(rd_kafka_t *rk, const strata_layout_t *layout,
                        rd_kafka_topic_t **keep) {
  int n = 0;

  for (int i = 0; i < layout->count; i++) {
    const struct rd_kafka_metadata *md;
    rd_kafka_topic_t *rkt =
        rd_kafka_topic_new(rk, layout->topics[i].name, NULL);
    if (!rkt)
      continue;
    if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == 0)
      rd_kafka_metadata_destroy(md);
    if (keep)
      keep[n++] = rkt;
    else
      rd_kafka_topic_destroy(rkt);
  }
  return n;
}
