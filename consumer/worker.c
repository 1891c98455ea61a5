/*
 * The worker runtime: one consume loop (the thread inside
 * strata_worker_run()) and a pool of handler threads.
 *
 * Flow control: every assigned partition's fetch queue is forwarded to one
 * private queue (`msgq`) instead of the consumer queue, so the consumer queue
 * carries only rebalances and errors. The loop polls the consumer queue on
 * every turn, saturated or not (which serves rebalances and keeps
 * max.poll.interval.ms satisfied), and takes a record from `msgq` only when a
 * handler slot is free. A record never waits in this process outside
 * librdkafka, and librdkafka stops fetching once `msgq` holds
 * queued.max.messages.kbytes, so a large backlog stays in Kafka. The record
 * count threshold (queued.min.messages) is left far above any handler
 * backlog: librdkafka 2.0.2 backs a partition's fetcher off for about a
 * second once its queue crosses either threshold, and as every partition
 * forwards to `msgq` they all see its length, so a count near the
 * concurrency stalled all fetching after each small burst. Nothing is
 * paused, so no prefetched record is dropped and refetched.
 *
 * Output: one transactional producer, used by one transaction at a time,
 * which the committer thread runs while the loop goes on taking records and
 * starting handlers (txn_prepare/txn_apply below: a loop that waited for
 * each commit left every slot that finished meanwhile idle). A rebalance,
 * a producer failure and the end of run() first wait for the transaction in
 * flight. Each transaction writes (txn_commit(), common/kafka_txn.c) the
 * STARTED/HEARTBEAT events handler threads queued, the terminal records of
 * the jobs that finished (event, retry record or dead letter: outcome.c)
 * and, per partition, the lowest unfinished dispatch offset
 * (common/offset_tracker.c), sent with the consumer's group metadata taken
 * afresh (KIP-447). An outcome, its retry and its offset therefore commit
 * together. The step is bounded by the producer's transaction.timeout.ms
 * (a transaction cannot outlive it anyway), so a broker stall never freezes
 * the loop. An aborted turn rewinds every assigned partition to its
 * committed offset: in-flight bookkeeping is dropped, the jobs of the old
 * generation are handed back (their outcomes are never written), and the
 * records run again. A fatal error of the producer (a broker restart can
 * cause one) does the same and re-creates the producer first: no record is
 * taken until a new producer has initialised (which completes the old one's
 * open transaction) and the rewind has been sent, both retried every
 * RECOVER_BACKOFF_MS while the loop keeps serving.
 *
 * Cancellation: the loop reads <prefix>control (assigned, never committed;
 * from now − idempotency.window) and remembers each cancelled task id for
 * that window (cancels.c). A running or queued job of the task is asked to
 * stop; a dispatch record of it that arrives later is reported CANCELLED
 * without running. A PREEMPT there asks the running or queued jobs of its
 * task to yield and is not remembered: a queued one is requeued without
 * running, a running one yields when its handler returns YIELDED.
 *
 * Invariants: at most `concurrency` jobs are queued or running while holding
 * a slot (`busy`); jobs that released theirs run beside them, each on a
 * thread of its own (worker_int.h); the
 * loop's wake pipe is written by librdkafka (queue non-empty), by handler
 * threads (a slot freed, an event queued) and by strata_worker_stop(); a job
 * whose partition generation changed is stale and writes nothing.
 */
#include "worker_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka_txn.h"
#include "strata/backoff.h"
#include "strata/codec.h"
#include "strata/kafka.h"
#include "strata/log.h"

#define LOOP_TICK_MS 100
#define CONTROL_CATCHUP_MS 15000
/* init_transactions of the first producer, and of each re-created one. */
#define PRODUCER_INIT_TIMEOUT_MS 30000
#define PRODUCER_REINIT_TIMEOUT_MS 10000
/* Reading committed offsets for a rewind. */
#define COMMITTED_TIMEOUT_MS 10000
/* Between attempts at re-creating the producer or rewinding. */
#define RECOVER_BACKOFF_MS 1000
/* The transaction step's bound when transaction.timeout.ms cannot be read
 * (librdkafka's default is 60000; the worker sets 10000). */
#define TXN_TIMEOUT_FALLBACK_MS 10000

static void free_handlers(strata_worker_t *w) {
  for (int i = 0; i < w->nhandlers; i++) {
    if (w->handlers[i].free_opaque)
      w->handlers[i].free_opaque(w->handlers[i].opaque);
    free(w->handlers[i].type);
  }
  free(w->handlers);
  w->handlers = NULL;
  w->nhandlers = 0;
}

void worker_wake(strata_worker_t *w) {
  char c = 'w';
  ssize_t n = write(w->wake[1], &c, 1);
  (void)n; /* a full pipe already means "wake up" */
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque);

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

/* Makes the transactional producer from a copy of producer_conf and wires
 * its queue to the wake pipe. STRATA_ERR_KAFKA with errstr on failure. */
static strata_err_t producer_make(strata_worker_t *w, int timeout_ms,
                                  char *errstr, size_t size) {
  rd_kafka_conf_t *conf = rd_kafka_conf_dup(w->producer_conf);
  char why[1024];

  if (!(w->producer = txn_producer_new(conf, timeout_ms, why, sizeof(why))))
    return strata_errf(STRATA_ERR_KAFKA, errstr, size, "%s", why);
  w->producer_q = rd_kafka_queue_get_main(w->producer);
  rd_kafka_queue_io_event_enable(w->producer_q, w->wake[1], "p", 1);
  /* Outcomes go to events, dlq, tier and delay topics: learn them now, so
   * the first retry does not wait for librdkafka's topic scan. */
  strata_layout_learn(w->producer, &w->layout, NULL);
  return STRATA_OK;
}

/* Destroys the producer, if any, without waiting for records still queued
 * (an open transaction is aborted, or left to the next producer's
 * init_transactions). */
static void producer_drop(strata_worker_t *w) {
  if (w->producer_q) {
    rd_kafka_queue_io_event_enable(w->producer_q, -1, NULL, 0);
    rd_kafka_queue_destroy(w->producer_q);
    w->producer_q = NULL;
  }
  if (w->producer) {
    rd_kafka_purge(w->producer,
                   RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(w->producer);
    w->producer = NULL;
  }
}

static int set_nonblock(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK))
    return -1;
  /* Not inherited by exec'd commands. */
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static char *topic_name(const char *prefix, const char *name) {
  size_t n = strlen(prefix) + strlen(name) + 1;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%s%s", prefix, name);
  return s;
}

strata_worker_t *strata_worker_new(const strata_config_t *cfg, char *errstr,
                                   size_t size) {
  strata_worker_t *w = calloc(1, sizeof(*w));
  const char *prefix = strata_config_get_str(cfg, "topic.prefix");
  const char *instance = strata_config_get_str(cfg, "worker.instance.id");
  const char *queue;
  const strata_topic_spec_t *dq;
  rd_kafka_conf_t *conf = NULL;
  char host[256], cgroup[300];
  char reason[512];

  if (!w) {
    strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
    return NULL;
  }
  w->wake[0] = w->wake[1] = -1;
  pthread_mutex_init(&w->lock, NULL);
  pthread_cond_init(&w->cond, NULL);
  pthread_cond_init(&w->slot_cond, NULL);
  pthread_mutex_init(&w->clock, NULL);
  pthread_cond_init(&w->ccond, NULL);
  atomic_init(&w->stop, 0);
  atomic_init(&w->running, 0);
  atomic_init(&w->fatal, 0);
  cancels_init(&w->cancels);
  strata_prng_seed(&w->prng);
  w->concurrency = (int)strata_config_get_int(cfg, "worker.concurrency");
  w->hb_interval_ms = strata_config_get_int(cfg, "worker.heartbeat.interval");
  w->shutdown_ms = strata_config_get_int(cfg, "worker.shutdown.timeout");
  w->kill_grace_ms = strata_config_get_int(cfg, "worker.kill.grace");
  w->stderr_tail = (size_t)strata_config_get_int(cfg, "worker.stderr.tail");
  w->cancel_window_ms = strata_config_get_int(cfg, "idempotency.window");
  w->ckpt_max =
      (size_t)strata_config_get_int(cfg, "worker.checkpoint.max.bytes");
  if (gethostname(host, sizeof(host)))
    snprintf(host, sizeof(host), "unknown");
  host[sizeof(host) - 1] = '\0';
  snprintf(w->worker_id, sizeof(w->worker_id), "%s:%ld", host, (long)getpid());
  snprintf(w->txid, sizeof(w->txid), "strata-worker-%s",
           *instance ? instance : w->worker_id);
  if (strata_layout_build(cfg, &w->layout, errstr, size))
    goto err;
  /* A checkpoint travels inside a TaskEvent and a Task, which must decode. */
  if (w->ckpt_max + 4096 >
      (size_t)strata_config_get_int(cfg, "codec.max.record.bytes")) {
    strata_errf(
        STRATA_ERR_CONFIG, errstr, size,
        "worker.checkpoint.max.bytes (%zu) must be at least 4096 "
        "below codec.max.record.bytes (%lld)",
        w->ckpt_max,
        (long long)strata_config_get_int(cfg, "codec.max.record.bytes"));
    goto err;
  }
  queue = strata_config_get_str(cfg, "worker.queue");
  if (!(dq = strata_layout_dispatch_topic(&w->layout, queue))) {
    strata_errf(STRATA_ERR_CONFIG, errstr, size,
                "worker.queue: \"%s\" is not one of queues (%s)", queue,
                strata_config_get_str(cfg, "queues"));
    goto err;
  }
  if (!(w->dispatch_topic = strdup(dq->name)) ||
      !(w->events_topic = topic_name(prefix, "events")) ||
      !(w->control_topic = topic_name(prefix, "control")) ||
      !(w->dlq_topic = topic_name(prefix, "dlq")) ||
      !(w->slots = calloc((size_t)w->concurrency, sizeof(*w->slots)))) {
    strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
    goto err;
  }
  if (pipe(w->wake) || set_nonblock(w->wake[0]) || set_nonblock(w->wake[1])) {
    strata_errf(STRATA_ERR_IO, errstr, size, "wake pipe: %s", strerror(errno));
    goto err;
  }

  /* Output: transactional (and so idempotent). Transactions last one loop
   * turn, so a short transaction timeout bounds how long a crashed worker's
   * open transaction can hold back read_committed readers when no successor
   * with the same worker.instance.id fences it sooner. */
  {
    /* Above every record it writes (librdkafka's default, 1 000 000, is
     * below the codec's 1 MiB). */
    char mmb[32];
    snprintf(mmb, sizeof(mmb), "%zu", strata_codec_max_record_size() + 65536);
    const char *const defaults[] = {"transactional.id",
                                    w->txid,
                                    "enable.idempotence",
                                    "true",
                                    "transaction.timeout.ms",
                                    "10000",
                                    "message.timeout.ms",
                                    "9000",
                                    "linger.ms",
                                    "5",
                                    "retry.backoff.ms",
                                    "10",
                                    "message.max.bytes",
                                    mmb,
                                    NULL};
    char tmo[32];
    size_t tmo_size = sizeof(tmo);
    if (!(w->producer_conf =
              strata_kafka_conf_new(cfg, "worker", defaults, errstr, size)))
      goto err;
    rd_kafka_conf_set_dr_msg_cb(w->producer_conf, dr_cb);
    rd_kafka_conf_set_opaque(w->producer_conf, w);
    /* The producer itself is made by strata_worker_run(), from a copy, so a
     * fatal error can be followed by a new one with the same settings. */
    w->txn_timeout_ms = TXN_TIMEOUT_FALLBACK_MS;
    if (rd_kafka_conf_get(w->producer_conf, "transaction.timeout.ms", tmo,
                          &tmo_size) == RD_KAFKA_CONF_OK &&
        atoi(tmo) > 0)
      w->txn_timeout_ms = atoi(tmo);
  }

  /* Consumer of dispatch: offsets go through the producer's transactions
   * only; the prefetch is bounded in bytes, not records (see the top of this
   * file for why). */
  {
    const char *const defaults[] = {
        "group.id",
        strata_config_get_str(cfg, "worker.group.id"),
        "enable.auto.commit",
        "false",
        "enable.auto.offset.store",
        "false",
        "auto.offset.reset",
        "earliest",
        "isolation.level",
        "read_committed",
        "queued.min.messages",
        "100000",
        "queued.max.messages.kbytes",
        "4096",
        NULL};
    if (!(conf = strata_kafka_conf_new(cfg, "worker", defaults, errstr, size)))
      goto err;
    rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
    rd_kafka_conf_set_opaque(conf, w);
    if (!(w->consumer =
              rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof(reason)))) {
      strata_errf(STRATA_ERR_KAFKA, errstr, size, "dispatch consumer: %s",
                  reason);
      goto err;
    }
    conf = NULL;
    rd_kafka_poll_set_consumer(w->consumer);
    w->msgq = rd_kafka_queue_new(w->consumer);
  }

  /* Reader of control: assigned the one partition, never commits, so the
   * group id only names it in the broker's logs. */
  {
    snprintf(cgroup, sizeof(cgroup), "%s-control",
             strata_config_get_str(cfg, "worker.group.id"));
    const char *const defaults[] = {"group.id",
                                    cgroup,
                                    "enable.auto.commit",
                                    "false",
                                    "enable.auto.offset.store",
                                    "false",
                                    "enable.partition.eof",
                                    "true",
                                    "auto.offset.reset",
                                    "latest",
                                    "isolation.level",
                                    "read_committed",
                                    NULL};
    if (!(conf = strata_kafka_conf_new(cfg, "worker", defaults, errstr, size)))
      goto err;
    if (!(w->ctl =
              rd_kafka_new(RD_KAFKA_CONSUMER, conf, reason, sizeof(reason)))) {
      strata_errf(STRATA_ERR_KAFKA, errstr, size, "control consumer: %s",
                  reason);
      goto err;
    }
    conf = NULL;
    rd_kafka_poll_set_consumer(w->ctl);
  }
  return w;
err:
  if (conf)
    rd_kafka_conf_destroy(conf);
  strata_worker_destroy(w);
  return NULL;
}

static void free_outs(out_t *o) {
  while (o) {
    out_t *next = o->next;
    out_free(o);
    o = next;
  }
}

static void free_jobs(strata_job_t *j) {
  while (j) {
    strata_job_t *next = j->next;
    job_destroy(j);
    j = next;
  }
}

void strata_worker_destroy(strata_worker_t *w) {
  if (!w)
    return;
  if (w->msgq)
    rd_kafka_queue_destroy(w->msgq);
  if (w->consumer)
    rd_kafka_destroy(w->consumer);
  if (w->ctl) {
    rd_kafka_consumer_close(w->ctl);
    rd_kafka_destroy(w->ctl);
  }
  producer_drop(w);
  if (w->producer_conf)
    rd_kafka_conf_destroy(w->producer_conf);
  for (int i = 0; i < w->nparts; i++)
    tracker_clear(&w->parts[i].tracker);
  free(w->parts);
  free_handlers(w);
  free_outs(w->out_head);
  free_jobs(w->done_head);
  free(w->slots);
  free(w->dispatch_topic);
  free(w->events_topic);
  free(w->control_topic);
  free(w->dlq_topic);
  strata_layout_clear(&w->layout);
  cancels_clear(&w->cancels);
  if (w->wake[0] >= 0)
    close(w->wake[0]);
  if (w->wake[1] >= 0)
    close(w->wake[1]);
  pthread_cond_destroy(&w->cond);
  pthread_cond_destroy(&w->slot_cond);
  pthread_mutex_destroy(&w->clock);
  pthread_cond_destroy(&w->ccond);
  pthread_mutex_destroy(&w->lock);
  free(w);
}

strata_err_t worker_register_owned(strata_worker_t *w, const char *type,
                                   strata_handler_fn fn, void *opaque,
                                   void (*free_opaque)(void *)) {
  handler_entry_t *h;

  if (!type || !*type || !fn)
    return STRATA_ERR_INVALID_ARG;
  if (atomic_load(&w->running))
    return STRATA_ERR_STATE;
  for (int i = 0; i < w->nhandlers; i++)
    if (!strcmp(w->handlers[i].type, type))
      return STRATA_ERR_EXISTS;
  h = realloc(w->handlers, (size_t)(w->nhandlers + 1) * sizeof(*h));
  if (!h)
    return STRATA_ERR_NOMEM;
  w->handlers = h;
  if (!(h[w->nhandlers].type = strdup(type)))
    return STRATA_ERR_NOMEM;
  h[w->nhandlers].fn = fn;
  h[w->nhandlers].opaque = opaque;
  h[w->nhandlers].free_opaque = free_opaque;
  w->nhandlers++;
  return STRATA_OK;
}

strata_err_t strata_worker_register(strata_worker_t *w, const char *type,
                                    strata_handler_fn fn, void *opaque) {
  return worker_register_owned(w, type, fn, opaque, NULL);
}

static const handler_entry_t *find_handler(const strata_worker_t *w,
                                           const char *type) {
  const handler_entry_t *fallback = NULL;

  for (int i = 0; i < w->nhandlers; i++) {
    if (!strcmp(w->handlers[i].type, type))
      return &w->handlers[i];
    if (!strcmp(w->handlers[i].type, "*"))
      fallback = &w->handlers[i];
  }
  return fallback;
}

void strata_worker_stop(strata_worker_t *w) {
  atomic_store(&w->stop, 1);
  worker_wake(w);
}

strata_err_t strata_worker_cancel_task(strata_worker_t *w,
                                       const char *task_id) {
  strata_err_t err = STRATA_ERR_NOT_FOUND;

  pthread_mutex_lock(&w->lock);
  for (strata_job_t *j = w->qhead; j; j = j->next)
    if (!strcmp(j->task.id, task_id)) {
      job_request_stop(j, JOB_CANCEL_USER, true);
      err = STRATA_OK;
    }
  for (int i = 0; i < w->nthreads; i++) {
    strata_job_t *j = w->slots[i];
    if (j && !strcmp(j->task.id, task_id)) {
      job_request_stop(j, JOB_CANCEL_USER, false);
      err = STRATA_OK;
    }
  }
  pthread_mutex_unlock(&w->lock);
  return err;
}

/* Marks `j` as asked to yield; the first reason stays. Caller holds the
 * lock. */
static void request_yield(strata_job_t *j, const char *reason) {
  if (!atomic_load(&j->yield_requested) && reason && *reason)
    j->yield_reason = strdup(reason); /* on OOM the default reason is used */
  atomic_store(&j->yield_requested, true);
  pthread_cond_broadcast(&j->w->slot_cond);
}

strata_err_t worker_preempt_task(strata_worker_t *w, const char *task_id,
                                 const char *reason) {
  strata_err_t err = STRATA_ERR_NOT_FOUND;

  pthread_mutex_lock(&w->lock);
  for (strata_job_t *j = w->qhead; j; j = j->next)
    if (!strcmp(j->task.id, task_id)) {
      request_yield(j, reason);
      err = STRATA_OK;
    }
  for (int i = 0; i < w->nthreads; i++) {
    strata_job_t *j = w->slots[i];
    if (j && !strcmp(j->task.id, task_id)) {
      request_yield(j, reason);
      err = STRATA_OK;
    }
  }
  pthread_mutex_unlock(&w->lock);
  return err;
}

void strata_worker_stats(const strata_worker_t *w, strata_worker_stats_t *out) {
  strata_worker_t *mw = (strata_worker_t *)(uintptr_t)w;
  pthread_mutex_lock(&mw->lock);
  *out = w->stats;
  pthread_mutex_unlock(&mw->lock);
}

const char *strata_worker_id(const strata_worker_t *w) {
  return w->worker_id;
}

size_t worker_stderr_tail(const strata_worker_t *w) {
  return w->stderr_tail;
}

int64_t worker_kill_grace_ms(const strata_worker_t *w) {
  return w->kill_grace_ms;
}

int64_t worker_heartbeat_interval_ms(const strata_worker_t *w) {
  return w->hb_interval_ms;
}

size_t worker_checkpoint_max(const strata_worker_t *w) {
  return w->ckpt_max;
}

/* Records the first fatal error and stops run(). Caller holds the lock. */
static void set_fatal_locked(strata_worker_t *w, const char *msg) {
  if (atomic_load(&w->fatal))
    return;
  snprintf(w->fatal_msg, sizeof(w->fatal_msg), "%s", msg);
  atomic_store(&w->fatal, 1);
  atomic_store(&w->stop, 1);
}

/* ---- handler threads ------------------------------------------------ */

typedef struct {
  strata_worker_t *w;
  int slot;
} thread_arg_t;

/* A job of an unknown type: fail it, naming the registered types. */
static void fail_unknown_type(strata_job_t *job) {
  strata_worker_t *w = job->w;
  char types[1024] = "";
  size_t used = 0;

  for (int i = 0; i < w->nhandlers && used < sizeof(types); i++)
    used += (size_t)snprintf(types + used, sizeof(types) - used, "%s%s",
                             used ? ", " : "", w->handlers[i].type);
  strata_job_fail(job, false,
                  "no handler for task type \"%s\" on worker %s; handled "
                  "types: %s",
                  job->task.type ? job->task.type : "default", w->worker_id,
                  used ? types : "(none)");
}

/* Hands a finished job to the loop, which writes its outcome in the next
 * transaction, or drops a handed-back one. Caller holds the lock; returns
 * false when the caller must destroy the job. */
static bool finish_job(strata_job_t *job, strata_handler_status_t status) {
  strata_worker_t *w = job->w;
  int reason = atomic_load(&job->cancel_reason);

  if (status != STRATA_HANDLER_SUCCEEDED && reason == JOB_CANCEL_STOP) {
    w->stats.handed_back++;
    STRATA_INFO("worker",
                "task %s attempt %d handed back (worker stopping or "
                "partition rewound); its offset %s [%d] %" PRId64
                " stays uncommitted",
                job->task.id, job->task.attempt, w->dispatch_topic,
                (int)job->partition, job->offset);
    return false;
  }
  job->status = status;
  job->ended_ms = strata_epoch_now_ms();
  job->next = NULL;
  if (w->done_tail)
    w->done_tail->next = job;
  else
    w->done_head = job;
  w->done_tail = job;
  return true;
}

static void *handler_thread(void *arg) {
  thread_arg_t *ta = arg;
  strata_worker_t *w = ta->w;
  int slot = ta->slot;

  free(ta);
  pthread_mutex_lock(&w->lock);
  for (;;) {
    strata_job_t *job;
    strata_handler_status_t status;

    while (!w->qhead && !w->quit)
      pthread_cond_wait(&w->cond, &w->lock);
    if (!w->qhead)
      break;
    job = w->qhead;
    if (!(w->qhead = job->next))
      w->qtail = NULL;
    job->next = NULL;
    if (atomic_load(&job->cancel_reason) == JOB_CANCEL_STOP) {
      /* Stopping before it began: hand it back untouched. */
      w->stats.handed_back++;
      w->busy--;
      pthread_mutex_unlock(&w->lock);
      job_destroy(job);
      worker_wake(w);
      pthread_mutex_lock(&w->lock);
      continue;
    }
    if (atomic_load(&job->cancel_reason) == JOB_CANCEL_USER) {
      /* Cancelled while queued: never started, so no STARTED event. */
      job->precancelled = true;
      job->state = JOB_FINISHED;
      w->busy--;
      pthread_cond_broadcast(&w->slot_cond);
      finish_job(job, STRATA_HANDLER_CANCELLED);
      worker_wake(w);
      continue;
    }
    if (atomic_load(&job->yield_requested)) {
      /* Preempted while queued: requeued as it came, never started
       * (started_ms stays 0). */
      job->state = JOB_FINISHED;
      w->busy--;
      pthread_cond_broadcast(&w->slot_cond);
      finish_job(job, STRATA_HANDLER_YIELDED);
      worker_wake(w);
      continue;
    }
    w->slots[slot] = job;
    job->state = JOB_RUNNING;
    job->last_hb_us = strata_mono_now_us();
    job->started_ms = strata_epoch_now_ms();
    if (job->task.timeouts.has_start_to_close_ms)
      job->deadline_us =
          job->last_hb_us + job->task.timeouts.start_to_close_ms * 1000;
    w->stats.started++;
    job_emit(job, STRATA_EVENT_STARTED);
    pthread_mutex_unlock(&w->lock);

    if (job->handler) {
      status = job->handler->fn(job, job->handler->opaque);
    } else {
      fail_unknown_type(job);
      status = STRATA_HANDLER_FAILED;
    }

    pthread_mutex_lock(&w->lock);
    job->state = JOB_FINISHED;
    w->slots[slot] = NULL;
    if (job->slot_released)
      w->released--;
    else
      w->busy--;
    pthread_cond_broadcast(&w->slot_cond);
    bool queued = finish_job(job, status);
    pthread_mutex_unlock(&w->lock);
    if (!queued)
      job_destroy(job);
    worker_wake(w);
    pthread_mutex_lock(&w->lock);
  }
  pthread_mutex_unlock(&w->lock);
  return NULL;
}

int worker_grow_threads(strata_worker_t *w, int n) {
  sigset_t all, old;
  int ret = 0;

  if (w->quit || n <= w->nthreads)
    return 0;
  if (n > w->threads_cap) {
    int cap = n > w->threads_cap * 2 ? n : w->threads_cap * 2;
    pthread_t *t = realloc(w->threads, (size_t)cap * sizeof(*t));
    strata_job_t **sl;
    if (t)
      w->threads = t;
    if (!t || !(sl = realloc(w->slots, (size_t)cap * sizeof(*sl)))) {
      STRATA_ERROR("worker", "out of memory starting handler threads");
      return -1;
    }
    memset(sl + w->threads_cap, 0,
           (size_t)(cap - w->threads_cap) * sizeof(*sl));
    w->slots = sl;
    w->threads_cap = cap;
  }
  /* Handler threads take no signals: SIGINT/SIGTERM belong to the program's
   * main thread, and a write to a dead child's stdin gives EPIPE instead of
   * SIGPIPE killing the process. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  while (w->nthreads < n) {
    thread_arg_t *ta = malloc(sizeof(*ta));
    if (ta) {
      ta->w = w;
      ta->slot = w->nthreads;
    }
    if (!ta ||
        pthread_create(&w->threads[w->nthreads], NULL, handler_thread, ta)) {
      free(ta);
      STRATA_ERROR("worker", "cannot start handler thread %d", w->nthreads);
      ret = -1;
      break;
    }
    w->nthreads++;
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  return ret;
}

static strata_err_t start_threads(strata_worker_t *w, char *errstr,
                                  size_t size) {
  int rc;

  pthread_mutex_lock(&w->lock);
  rc = worker_grow_threads(w, w->concurrency);
  pthread_mutex_unlock(&w->lock);
  if (rc)
    return strata_errf(STRATA_ERR_NOMEM, errstr, size,
                       "cannot start %d handler threads", w->concurrency);
  return STRATA_OK;
}

static void join_threads(strata_worker_t *w) {
  pthread_mutex_lock(&w->lock);
  w->quit = true;
  pthread_cond_broadcast(&w->cond);
  pthread_mutex_unlock(&w->lock);
  /* No thread is started once `quit` is set. */
  for (int i = 0; i < w->nthreads; i++)
    pthread_join(w->threads[i], NULL);
  free(w->threads);
  w->threads = NULL;
  w->nthreads = 0;
  w->threads_cap = 0;
}

/* ---- partitions and commits (consume-loop thread only) -------------- */

static worker_part_t *part_get(strata_worker_t *w, int32_t p, bool grow) {
  if (p < 0)
    return NULL;
  if (p >= w->nparts) {
    worker_part_t *v;
    if (!grow)
      return NULL;
    if (!(v = realloc(w->parts, (size_t)(p + 1) * sizeof(*v))))
      return NULL;
    for (int i = w->nparts; i <= p; i++) {
      memset(&v[i], 0, sizeof(v[i]));
      tracker_init(&v[i].tracker);
      v[i].committed = -1;
    }
    w->parts = v;
    w->nparts = p + 1;
  }
  return &w->parts[p];
}

/* A job of a partition generation that no longer exists (revoked, lost or
 * rewound) is stale: its record runs again elsewhere or here, so it writes
 * nothing, or a retry could be written twice. */
static bool job_current(strata_worker_t *w, const strata_job_t *job) {
  worker_part_t *part = part_get(w, job->partition, false);
  return part && part->assigned && part->gen == job->gen;
}

/*
 * After an aborted transaction, or a producer that failed: every assigned
 * partition starts a new generation with nothing tracked, and every job
 * queued or running is asked to stop and handed back, exactly as for a
 * revoked partition: its outcome was not committed and its record will be
 * delivered again after the rewind, so whatever it returns is not written
 * (the generation check in txn_turn drops it). The seek itself is
 * rewind_seek(); until it has been sent no record is taken.
 */
static void hand_back_all(strata_worker_t *w) {
  for (int p = 0; p < w->nparts; p++) {
    worker_part_t *part = &w->parts[p];
    if (!part->assigned)
      continue;
    part->gen++;
    part->committed = -1;
    tracker_clear(&part->tracker);
  }
  pthread_mutex_lock(&w->lock);
  for (strata_job_t *j = w->qhead; j; j = j->next)
    job_request_stop(j, JOB_CANCEL_STOP, true);
  for (int i = 0; i < w->nthreads; i++)
    if (w->slots[i])
      job_request_stop(w->slots[i], JOB_CANCEL_STOP, true);
  pthread_mutex_unlock(&w->lock);
  w->rewind_pending = true;
}

/* Seeks every assigned partition to its committed offset (librdkafka
 * discards what was prefetched before the seek). Leaves rewind_pending set,
 * to be tried again, when the committed offsets cannot be read. */
static void rewind_seek(strata_worker_t *w) {
  rd_kafka_topic_partition_list_t *list =
      rd_kafka_topic_partition_list_new(w->nparts ? w->nparts : 1);
  rd_kafka_resp_err_t kerr;
  rd_kafka_error_t *error;

  for (int p = 0; p < w->nparts; p++)
    if (w->parts[p].assigned)
      rd_kafka_topic_partition_list_add(list, w->dispatch_topic, p);
  if (list->cnt > 0 &&
      (kerr = rd_kafka_committed(w->consumer, list, COMMITTED_TIMEOUT_MS))) {
    STRATA_WARN("worker",
                "cannot read the committed offsets of %s to rewind to: %s; "
                "trying again in %d ms",
                w->dispatch_topic, rd_kafka_err2str(kerr), RECOVER_BACKOFF_MS);
    rd_kafka_topic_partition_list_destroy(list);
    return;
  }
  for (int i = 0; i < list->cnt; i++)
    if (list->elems[i].offset < 0)
      list->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
  /* Asynchronous: librdkafka 2.0.2 mis-scales the seek timeout. */
  if (list->cnt > 0 &&
      (error = rd_kafka_seek_partitions(w->consumer, list, 0))) {
    STRATA_ERROR("worker", "rewind of %s: %s", w->dispatch_topic,
                 rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  }
  STRATA_WARN("worker",
              "%d partition(s) of %s rewound to their committed offsets; "
              "running tasks handed back",
              list->cnt, w->dispatch_topic);
  w->rewind_pending = false;
  rd_kafka_topic_partition_list_destroy(list);
}

/* The producer failed for good (fenced, a fatal idempotence error, an abort
 * that did not finish): drop it and everything not committed; recover()
 * makes a new one and rewinds. */
static void producer_failed(strata_worker_t *w, const char *why) {
  STRATA_ERROR("worker",
               "transactional producer %s failed: %s; re-creating it and "
               "rewinding to the committed offsets",
               w->txid, why);
  producer_drop(w);
  hand_back_all(w);
  w->recover_at_us = 0;
  pthread_mutex_lock(&w->lock);
  w->stats.producer_restarts++;
  pthread_mutex_unlock(&w->lock);
}

/* True while no record may be taken: the producer is being re-created or a
 * rewind is still to be sent. */
static bool recovering(const strata_worker_t *w) {
  return !w->producer || w->rewind_pending;
}

/* One attempt (every RECOVER_BACKOFF_MS) at the producer, then the rewind.
 * The new producer's init_transactions completes the old one's open
 * transaction, so the committed offsets read after it say how that ended. */
static void recover(strata_worker_t *w) {
  strata_mono_us_t now = strata_mono_now_us();
  char why[1024];

  if (!recovering(w) || now < w->recover_at_us)
    return;
  w->recover_at_us = now + RECOVER_BACKOFF_MS * 1000LL;
  if (!w->producer) {
    if (producer_make(w, PRODUCER_REINIT_TIMEOUT_MS, why, sizeof(why))) {
      STRATA_WARN("worker", "%s; trying again in %d ms", why,
                  RECOVER_BACKOFF_MS);
      return;
    }
    STRATA_INFO("worker", "transactional producer %s re-created", w->txid);
  }
  rewind_seek(w);
}

/*
 * The output step, in three parts. txn_prepare() (loop thread) gathers one
 * transaction: the queued events, the outcomes of the finished jobs and the
 * dispatch offsets that moved. The committer thread runs it (txn_commit()),
 * so the loop goes on taking records and starting handlers while the broker
 * commits: a commit takes several milliseconds, and a loop that waited for
 * it left every slot whose handler ended meanwhile idle until it returned
 * (with 1 ms handlers, most of the time). txn_apply() (loop thread) acts on
 * the result. Records taken while a commit is in flight go into the next
 * one; only one is in flight at a time, so commits stay in order.
 */
typedef struct txn_batch {
  rd_kafka_topic_partition_list_t *offsets;
  txn_record_t *recs;
  size_t nrecs;
  out_t *outs;
  strata_job_t *done;
  txn_result_t result;
  char why[1024];
} txn_batch_t;

static void batch_free(txn_batch_t *b) {
  if (!b)
    return;
  free(b->recs);
  if (b->offsets)
    rd_kafka_topic_partition_list_destroy(b->offsets);
  free_outs(b->outs);
  free_jobs(b->done);
  free(b);
}

/* The next transaction, or NULL with *ret: 0 when there is nothing to write
 * (or no producer to write with), -1 when memory ran out (rewound), -2 on
 * an unrecoverable error. */
static txn_batch_t *txn_prepare(strata_worker_t *w, int *ret) {
  out_t *head, *tail, *o;
  strata_job_t *done, *j;
  txn_batch_t *b;
  strata_epoch_ms_t now = strata_epoch_now_ms();
  char why[1024];
  size_t n = 0;

  *ret = 0;
  if (atomic_load(&w->fatal)) {
    *ret = -2;
    return NULL;
  }
  if (!w->producer)
    return NULL; /* the outbox and done list wait for the new producer */
  pthread_mutex_lock(&w->lock);
  head = w->out_head;
  tail = w->out_tail;
  done = w->done_head;
  w->out_head = w->out_tail = NULL;
  w->done_head = w->done_tail = NULL;
  pthread_mutex_unlock(&w->lock);
  if (!head && !done && !w->commit_dirty)
    return NULL;

  for (j = done; j; j = j->next) {
    worker_part_t *part = part_get(w, j->partition, false);
    if (!job_current(w, j)) {
      STRATA_INFO("worker",
                  "outcome of task %s attempt %d dropped: partition %s [%d] "
                  "changed hands or was rewound, so the record runs again",
                  j->task.id, j->task.attempt, w->dispatch_topic,
                  (int)j->partition);
      continue;
    }
    if (outcome_build(w, j, now, &head, &tail)) {
      snprintf(why, sizeof(why), "cannot build the outcome of task %s",
               j->task.id);
      pthread_mutex_lock(&w->lock);
      set_fatal_locked(w, why);
      pthread_mutex_unlock(&w->lock);
      free_outs(head);
      free_jobs(done);
      *ret = -2;
      return NULL;
    }
    tracker_done_offset(&part->tracker, j->offset);
    w->commit_dirty = true;
  }
  if (!(b = calloc(1, sizeof(*b))))
    goto oom;
  b->outs = head;
  b->done = done;
  head = NULL;
  done = NULL;
  b->offsets = rd_kafka_topic_partition_list_new(w->nparts ? w->nparts : 1);
  for (int p = 0; p < w->nparts; p++) {
    worker_part_t *part = &w->parts[p];
    int64_t at;
    if (!part->assigned)
      continue;
    at = tracker_commit_offset(&part->tracker);
    if (at >= 0 && at > part->committed)
      rd_kafka_topic_partition_list_add(b->offsets, w->dispatch_topic, p)
          ->offset = at;
  }
  w->commit_dirty = false;
  for (o = b->outs; o; o = o->next)
    n++;
  if (n == 0 && b->offsets->cnt == 0) {
    batch_free(b);
    return NULL;
  }
  if (n > 0 && !(b->recs = calloc(n, sizeof(*b->recs))))
    goto oom;
  for (o = b->outs; o; o = o->next)
    b->recs[b->nrecs++] = (txn_record_t){.topic = o->topic,
                                         .partition = o->partition,
                                         .key = o->key,
                                         .keylen = strlen(o->key),
                                         .value = o->value,
                                         .len = o->len};
  return b;
oom:
  STRATA_ERROR("worker", "out of memory writing a transaction; rewinding");
  free_outs(head);
  free_jobs(done);
  batch_free(b);
  hand_back_all(w);
  rewind_seek(w);
  *ret = -1;
  return NULL;
}

static void txn_run(strata_worker_t *w, txn_batch_t *b) {
  b->result = txn_commit(w->producer, w->consumer, b->offsets, b->recs,
                         b->nrecs, w->txn_timeout_ms, b->why, sizeof(b->why));
}

/* What a committed (or failed) transaction means for the loop: 0 committed,
 * -1 aborted and rewound, -2 the producer failed (recover() takes over). */
static int txn_apply(strata_worker_t *w, txn_batch_t *b) {
  int ret = 0;

  switch (b->result) {
  case TXN_OK:
    for (int i = 0; i < b->offsets->cnt; i++) {
      worker_part_t *part = part_get(w, b->offsets->elems[i].partition, false);
      if (part)
        part->committed = b->offsets->elems[i].offset;
    }
    if (b->offsets->cnt > 0) {
      pthread_mutex_lock(&w->lock);
      w->stats.committed++;
      pthread_mutex_unlock(&w->lock);
    }
    break;
  case TXN_ABORTED:
    STRATA_WARN("worker", "transaction (transactional.id %s): %s", w->txid,
                b->why);
    pthread_mutex_lock(&w->lock);
    w->stats.aborted++;
    pthread_mutex_unlock(&w->lock);
    hand_back_all(w);
    rewind_seek(w);
    ret = -1;
    break;
  case TXN_FATAL:
    producer_failed(w, b->why);
    ret = -2;
    break;
  }
  batch_free(b);
  return ret;
}

static void *committer_thread(void *arg) {
  strata_worker_t *w = arg;
  txn_batch_t *b;

  pthread_mutex_lock(&w->clock);
  for (;;) {
    while (!w->cpending && !w->cquit)
      pthread_cond_wait(&w->ccond, &w->clock);
    if (!w->cpending)
      break;
    b = w->cpending;
    pthread_mutex_unlock(&w->clock);
    txn_run(w, b);
    pthread_mutex_lock(&w->clock);
    w->cpending = NULL;
    w->cdone = b;
    pthread_cond_broadcast(&w->ccond);
    worker_wake(w);
  }
  pthread_mutex_unlock(&w->clock);
  return NULL;
}

/* Waits for the transaction in flight, if any, and applies its result. */
static int txn_wait(strata_worker_t *w) {
  txn_batch_t *b;

  pthread_mutex_lock(&w->clock);
  while (w->cpending)
    pthread_cond_wait(&w->ccond, &w->clock);
  b = w->cdone;
  w->cdone = NULL;
  pthread_mutex_unlock(&w->clock);
  return b ? txn_apply(w, b) : 0;
}

static int txn_sync(strata_worker_t *w);

/* The loop's step: applies a finished transaction and hands the next one
 * to the committer when it is idle. Never waits for the broker. */
static int txn_turn(strata_worker_t *w) {
  txn_batch_t *b, *next;
  bool busy;
  int ret = 0;

  if (!w->cstarted)
    return txn_sync(w);
  pthread_mutex_lock(&w->clock);
  busy = w->cpending != NULL;
  b = w->cdone;
  w->cdone = NULL;
  pthread_mutex_unlock(&w->clock);
  if (b && (ret = txn_apply(w, b)) < 0)
    return ret;
  if (busy || !(next = txn_prepare(w, &ret)))
    return ret;
  pthread_mutex_lock(&w->clock);
  w->cpending = next;
  pthread_cond_signal(&w->ccond);
  pthread_mutex_unlock(&w->clock);
  return 0;
}

/* Ends the committer thread (after the transaction in flight). */
static void stop_committer(strata_worker_t *w) {
  if (!w->cstarted)
    return;
  pthread_mutex_lock(&w->clock);
  w->cquit = true;
  pthread_cond_broadcast(&w->ccond);
  pthread_mutex_unlock(&w->clock);
  pthread_join(w->committer, NULL);
  w->cstarted = false;
}

/* Everything finished so far, committed before returning (a revocation, the
 * end of run()): the transaction in flight, then one more on this thread. */
static int txn_sync(strata_worker_t *w) {
  txn_batch_t *b;
  int ret = txn_wait(w);

  if (ret < 0 || !(b = txn_prepare(w, &ret)))
    return ret;
  txn_run(w, b);
  return txn_apply(w, b);
}

/* Delivery reports: a record that failed makes its transaction's commit fail
 * (and abort); this only says which. */
static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque) {
  (void)rk;
  (void)opaque;
  if (msg->err)
    STRATA_WARN("worker", "record to %s [%d] not delivered: %s",
                rd_kafka_topic_name(msg->rkt), (int)msg->partition,
                rd_kafka_err2str(msg->err));
}

/* Cancels from <prefix>control: remember each for the window, stop the
 * task if it runs or waits here. Returns true at the end of the partition. */
static bool serve_control(strata_worker_t *w, int wait_ms) {
  rd_kafka_message_t *m;
  strata_epoch_ms_t now = strata_epoch_now_ms();
  bool eof = false;
  char err[256];

  while ((m = rd_kafka_consumer_poll(w->ctl, wait_ms))) {
    strata_control_t c;
    wait_ms = 0;
    if (m->err) {
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
        eof = true;
      else
        STRATA_WARN("worker", "control: %s", rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
      continue;
    }
    strata_control_init(&c);
    if (strata_control_decode(m->payload, m->len, &c, err, sizeof(err))) {
      STRATA_WARN("worker",
                  "%s@%" PRId64 ": undecodable control record "
                  "ignored: %s",
                  w->control_topic, m->offset, err);
    } else if (c.kind == STRATA_CONTROL_CANCEL && c.task_id &&
               c.issued_ms >= now - w->cancel_window_ms) {
      if (cancels_add(&w->cancels, c.task_id, c.issued_ms))
        STRATA_ERROR("worker", "out of memory remembering cancel of %s",
                     c.task_id);
      if (strata_worker_cancel_task(w, c.task_id) == STRATA_OK)
        STRATA_INFO("worker", "cancelling task %s (running or queued here)",
                    c.task_id);
    } else if (c.kind == STRATA_CONTROL_PREEMPT && c.task_id) {
      /* Applies to what is here now only: a later dispatch of the task is
       * the requeued attempt itself, which must run. */
      if (worker_preempt_task(w, c.task_id, c.reason) == STRATA_OK)
        STRATA_INFO("worker",
                    "asking task %s to yield (running or queued "
                    "here): %s",
                    c.task_id, c.reason ? c.reason : "no reason");
    }
    strata_control_clear(&c);
    rd_kafka_message_destroy(m);
  }
  if (now - w->cancels_expired_ms >= 1000) {
    cancels_expire(&w->cancels, now - w->cancel_window_ms);
    w->cancels_expired_ms = now;
  }
  return eof;
}

/* Heartbeats and start_to_close timeouts of running jobs. A task with a
 * heartbeat timeout gets no heartbeats from the runtime: its handler must
 * show progress itself, or the timeout would never catch a wedged one. */
static void tick_jobs(strata_worker_t *w, strata_mono_us_t now) {
  pthread_mutex_lock(&w->lock);
  for (int i = 0; i < w->nthreads; i++) {
    strata_job_t *j = w->slots[i];
    if (!j || j->state != JOB_RUNNING)
      continue;
    if (!j->task.timeouts.has_heartbeat_ms &&
        now - j->last_hb_us >= w->hb_interval_ms * 1000) {
      j->last_hb_us = now;
      job_emit(j, STRATA_EVENT_HEARTBEAT);
    }
    if (j->deadline_us && now >= j->deadline_us)
      job_request_stop(j, JOB_CANCEL_TIMEOUT, false);
  }
  pthread_mutex_unlock(&w->lock);
}

/* Serves Kafka callbacks, control commands, the running jobs and one
 * transaction, then waits up to `wait_ms`, waking early on any activity. */
static void serve(strata_worker_t *w, int wait_ms) {
  struct pollfd pfd = {w->wake[0], POLLIN, 0};
  char buf[64];

  if (w->producer)
    rd_kafka_poll(w->producer, 0);
  serve_control(w, 0);
  tick_jobs(w, strata_mono_now_us());
  txn_turn(w);
  if (recovering(w) && wait_ms > RECOVER_BACKOFF_MS)
    wait_ms = RECOVER_BACKOFF_MS;
  if (wait_ms > 0 && poll(&pfd, 1, wait_ms) > 0)
    while (read(w->wake[0], buf, sizeof(buf)) > 0)
      ;
  if (w->producer)
    rd_kafka_poll(w->producer, 0);
}

static bool parts_busy(strata_worker_t *w,
                       const rd_kafka_topic_partition_list_t *list) {
  for (int i = 0; i < list->cnt; i++) {
    worker_part_t *part = part_get(w, list->elems[i].partition, false);
    if (strcmp(list->elems[i].topic, w->dispatch_topic))
      continue;
    if (part && part->assigned && tracker_inflight(&part->tracker) > 0)
      return true;
  }
  return false;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *list, void *opaque) {
  strata_worker_t *w = opaque;
  rd_kafka_error_t *error = NULL;
  rd_kafka_resp_err_t kerr = RD_KAFKA_RESP_ERR_NO_ERROR;

  w->cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
  /* A transaction in flight carries offsets of the assignment that is
   * changing: it ends first. */
  txn_wait(w);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    for (int i = 0; i < list->cnt; i++) {
      const char *topic = list->elems[i].topic;
      int32_t p = list->elems[i].partition;
      worker_part_t *part = part_get(w, p, true);
      rd_kafka_queue_t *pq;
      if (strcmp(topic, w->dispatch_topic) || !part)
        continue;
      tracker_clear(&part->tracker);
      part->assigned = true;
      part->gen++;
      part->committed = -1;
      /* Forward before assigning, so no record reaches the consumer queue. */
      if ((pq = rd_kafka_queue_get_partition(rk, topic, p))) {
        rd_kafka_queue_forward(pq, w->msgq);
        rd_kafka_queue_destroy(pq);
      }
    }
    STRATA_INFO("worker", "assigned %d partition(s) of %s", list->cnt,
                w->dispatch_topic);
    if (w->cooperative)
      error = rd_kafka_incremental_assign(rk, list);
    else
      kerr = rd_kafka_assign(rk, list);
  } else {
    bool lost = rd_kafka_assignment_lost(rk);
    if (!lost) {
      strata_mono_us_t deadline =
          strata_mono_now_us() + (w->stopping ? 0 : w->shutdown_ms * 1000);
      while (parts_busy(w, list) && strata_mono_now_us() < deadline)
        serve(w, LOOP_TICK_MS);
      txn_sync(w); /* outcomes and offsets of what finished */
    }
    /* Still running: handed back, since the next owner runs the record
     * again and a second outcome (or retry) must not be written. */
    pthread_mutex_lock(&w->lock);
    for (strata_job_t *j = w->qhead; j; j = j->next)
      if (rd_kafka_topic_partition_list_find(list, w->dispatch_topic,
                                             j->partition))
        job_request_stop(j, JOB_CANCEL_STOP, true);
    for (int i = 0; i < w->nthreads; i++) {
      strata_job_t *j = w->slots[i];
      if (j && rd_kafka_topic_partition_list_find(list, w->dispatch_topic,
                                                  j->partition))
        job_request_stop(j, JOB_CANCEL_STOP, true);
    }
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < list->cnt; i++) {
      worker_part_t *part = part_get(w, list->elems[i].partition, false);
      if (strcmp(list->elems[i].topic, w->dispatch_topic) || !part)
        continue;
      if (tracker_inflight(&part->tracker) > 0)
        STRATA_WARN("worker",
                    "partition %s [%d] revoked with %zu record(s) "
                    "unfinished; they are handed back and the next owner "
                    "runs them again",
                    w->dispatch_topic, (int)list->elems[i].partition,
                    tracker_inflight(&part->tracker));
      part->assigned = false;
      tracker_clear(&part->tracker);
    }
    STRATA_INFO("worker", "%s %d partition(s) of %s", lost ? "lost" : "revoked",
                list->cnt, w->dispatch_topic);
    if (w->cooperative)
      error = rd_kafka_incremental_unassign(rk, list);
    else
      kerr = rd_kafka_assign(rk, NULL);
  }
  if (error) {
    STRATA_ERROR("worker", "rebalance: %s", rd_kafka_error_string(error));
    rd_kafka_error_destroy(error);
  } else if (kerr) {
    STRATA_ERROR("worker", "rebalance: %s", rd_kafka_err2str(kerr));
  }
}

/* ---- records ---------------------------------------------------------- */

static void note_fatal(strata_worker_t *w, rd_kafka_t *rk) {
  char reason[300], msg[450];

  rd_kafka_fatal_error(rk, reason, sizeof(reason));
  snprintf(msg, sizeof(msg), "%s: %s", rd_kafka_name(rk), reason);
  pthread_mutex_lock(&w->lock);
  set_fatal_locked(w, msg);
  pthread_mutex_unlock(&w->lock);
}

/* Takes one record from librdkafka; frees it. */
static void take_record(strata_worker_t *w, rd_kafka_message_t *m) {
  const char *topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "?";
  worker_part_t *part;
  strata_job_t *job;
  uint64_t seq;
  char err[512];

  if (m->err) {
    if (m->err == RD_KAFKA_RESP_ERR__FATAL)
      note_fatal(w, w->consumer);
    else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
      STRATA_WARN("worker", "consumer: %s [%d]: %s", topic, (int)m->partition,
                  rd_kafka_message_errstr(m));
    goto out;
  }
  part = part_get(w, m->partition, false);
  if (strcmp(topic, w->dispatch_topic) || !part || !part->assigned)
    goto out; /* left over from a revoked assignment */
  if (recovering(w))
    goto out; /* fetched again after the rewind */
  seq = tracker_push(&part->tracker, m->offset, 0);
  if (seq == TRACKER_STALE)
    goto out; /* a refetched duplicate; the original is tracked */
  if (seq == TRACKER_NOMEM) {
    STRATA_ERROR("worker", "out of memory tracking %s [%d] %" PRId64, topic,
                 (int)m->partition, m->offset);
    goto out;
  }
  pthread_mutex_lock(&w->lock);
  w->stats.received++;
  pthread_mutex_unlock(&w->lock);
  if (!(job = job_new(w)) ||
      strata_task_decode(m->payload, m->len, &job->task, err, sizeof(err))) {
    /* The scheduler dead-letters bad input before dispatch; a record that
     * still fails here is skipped, counted and committed past. */
    STRATA_ERROR(
        "worker",
        "undecodable dispatch record %s [%d] at offset %" PRId64 " skipped: %s",
        topic, (int)m->partition, m->offset, job ? err : "out of memory");
    job_destroy(job);
    tracker_done(&part->tracker, seq);
    w->commit_dirty = true;
    pthread_mutex_lock(&w->lock);
    w->stats.undecodable++;
    pthread_mutex_unlock(&w->lock);
    goto out;
  }
  job->partition = m->partition;
  job->offset = m->offset;
  job->gen = part->gen;
  if (m->len && (job->orig = malloc(m->len)))
    memcpy(job->orig, m->payload, m->len);
  job->orig_len = job->orig ? m->len : 0;
  if (m->key && m->key_len)
    job->routing_key = strndup(m->key, m->key_len);
  else
    job->routing_key = strdup(strata_job_idempotency_key(job));
  if (!job->routing_key) {
    STRATA_ERROR("worker", "out of memory");
    job_destroy(job);
    goto out; /* left unfinished: not committed, run by the next owner */
  }
  job->handler = find_handler(w, job->task.type ? job->task.type : "default");
  if (cancels_has(&w->cancels, job->task.id)) {
    /* Cancellation wins over a later dispatch: reported, never run. */
    STRATA_INFO("worker",
                "task %s attempt %d was cancelled before its dispatch "
                "arrived; not running it",
                job->task.id, job->task.attempt);
    job->precancelled = true;
    job->state = JOB_FINISHED;
    pthread_mutex_lock(&w->lock);
    finish_job(job, STRATA_HANDLER_CANCELLED);
    pthread_mutex_unlock(&w->lock);
    goto out;
  }
  job->state = JOB_QUEUED;
  pthread_mutex_lock(&w->lock);
  if (w->qtail)
    w->qtail->next = job;
  else
    w->qhead = job;
  w->qtail = job;
  w->busy++;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->lock);
out:
  rd_kafka_message_destroy(m);
}

/* A handler taking its slot back goes before a new record. */
static bool slot_free(strata_worker_t *w) {
  bool free_slot;
  pthread_mutex_lock(&w->lock);
  free_slot = w->busy + w->acquiring < w->concurrency;
  pthread_mutex_unlock(&w->lock);
  return free_slot;
}

/* Jobs queued or running, with or without a slot. */
static int busy_count(strata_worker_t *w) {
  int n;
  pthread_mutex_lock(&w->lock);
  n = w->busy + w->released;
  pthread_mutex_unlock(&w->lock);
  return n;
}

/* Drains the consumer queue: rebalances and errors (records normally arrive
 * through msgq, but one that came here is handled alike). */
static void serve_consumer(strata_worker_t *w) {
  rd_kafka_message_t *m;
  while ((m = rd_kafka_consumer_poll(w->consumer, 0)))
    take_record(w, m);
}

/* Waits up to `ms` for busy jobs to return, serving everything meanwhile. */
static void wait_idle(strata_worker_t *w, int64_t ms) {
  strata_mono_us_t deadline = strata_mono_now_us() + ms * 1000;
  while (busy_count(w) > 0 && strata_mono_now_us() < deadline) {
    serve_consumer(w);
    serve(w, LOOP_TICK_MS);
  }
}

/*
 * Before the first dispatch record: the transactional producer is
 * initialised (fencing a predecessor with the same transactional.id and
 * aborting its open transaction), and the control partition is read from
 * now − idempotency.window to its end, so a cancel issued before this worker
 * started still wins over a dispatch it is about to receive.
 */
static strata_err_t init_output(strata_worker_t *w, char *errstr, size_t size) {
  rd_kafka_topic_partition_list_t *l;
  strata_mono_us_t deadline;
  int64_t from = RD_KAFKA_OFFSET_END;
  strata_err_t rc;

  if ((rc = producer_make(w, PRODUCER_INIT_TIMEOUT_MS, errstr, size)))
    return rc;
  l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, w->control_topic, 0)->offset =
      strata_epoch_now_ms() - w->cancel_window_ms;
  if (rd_kafka_offsets_for_times(w->ctl, l, 10000) == 0 &&
      l->elems[0].err == 0 && l->elems[0].offset >= 0)
    from = l->elems[0].offset;
  rd_kafka_topic_partition_list_destroy(l);
  l = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(l, w->control_topic, 0)->offset = from;
  rd_kafka_assign(w->ctl, l);
  rd_kafka_topic_partition_list_destroy(l);
  deadline = strata_mono_now_us() + CONTROL_CATCHUP_MS * 1000LL;
  while (!serve_control(w, 100) && !atomic_load(&w->stop))
    if (strata_mono_now_us() >= deadline) {
      STRATA_WARN("worker",
                  "%s not read to its end within %d ms; cancels issued "
                  "before this start may be missed",
                  w->control_topic, CONTROL_CATCHUP_MS);
      break;
    }
  return STRATA_OK;
}

strata_err_t strata_worker_run(strata_worker_t *w, char *errstr, size_t size) {
  rd_kafka_topic_partition_list_t *sub;
  rd_kafka_queue_t *cq, *ctlq;
  rd_kafka_resp_err_t kerr;
  strata_err_t ret = STRATA_OK;
  int expected = 0;

  if (!atomic_compare_exchange_strong(&w->running, &expected, 1))
    return strata_errf(STRATA_ERR_STATE, errstr, size,
                       "strata_worker_run: already running");
  if ((ret = init_output(w, errstr, size)))
    goto out;
  if ((ret = start_threads(w, errstr, size))) {
    join_threads(w);
    goto out;
  }
  if (pthread_create(&w->committer, NULL, committer_thread, w)) {
    ret = strata_errf(STRATA_ERR_IO, errstr, size,
                      "starting the committer thread failed");
    join_threads(w);
    goto out;
  }
  w->cstarted = true;
  /* librdkafka writes to the wake pipe when a queue becomes non-empty. */
  cq = rd_kafka_queue_get_consumer(w->consumer);
  rd_kafka_queue_io_event_enable(cq, w->wake[1], "c", 1);
  rd_kafka_queue_io_event_enable(w->msgq, w->wake[1], "m", 1);
  ctlq = rd_kafka_queue_get_consumer(w->ctl);
  rd_kafka_queue_io_event_enable(ctlq, w->wake[1], "k", 1);

  sub = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(sub, w->dispatch_topic,
                                    RD_KAFKA_PARTITION_UA);
  kerr = rd_kafka_subscribe(w->consumer, sub);
  rd_kafka_topic_partition_list_destroy(sub);
  if (kerr) {
    ret = strata_errf(STRATA_ERR_KAFKA, errstr, size, "subscribe to %s: %s",
                      w->dispatch_topic, rd_kafka_err2str(kerr));
    atomic_store(&w->stop, 1);
  } else {
    STRATA_INFO("worker", "worker %s joining group on %s, concurrency %d",
                w->worker_id, w->dispatch_topic, w->concurrency);
  }

  while (!atomic_load(&w->stop)) {
    rd_kafka_message_t *m;
    serve_consumer(w);
    recover(w);
    while (!atomic_load(&w->stop) && !recovering(w) && slot_free(w) &&
           (m = rd_kafka_consume_queue(w->msgq, 0)))
      take_record(w, m);
    if (w->producer) {
      char why[512];
      /* The committer may be using the producer: its transaction ends
       * first (and may report the failure itself). */
      if (rd_kafka_fatal_error(w->producer, why, sizeof(why)) &&
          txn_wait(w) != -2 && w->producer)
        producer_failed(w, why);
    }
    serve(w, LOOP_TICK_MS);
  }

  /* Stopping: give running tasks their time, then hand back the rest. */
  if (!atomic_load(&w->fatal)) {
    STRATA_INFO("worker",
                "stopping: waiting up to %" PRId64 " ms for %d running task(s)",
                w->shutdown_ms, busy_count(w));
    wait_idle(w, w->shutdown_ms);
  }
  pthread_mutex_lock(&w->lock);
  for (strata_job_t *j = w->qhead; j; j = j->next)
    job_request_stop(j, JOB_CANCEL_STOP, true);
  for (int i = 0; i < w->nthreads; i++)
    if (w->slots[i])
      job_request_stop(w->slots[i], JOB_CANCEL_STOP, true);
  pthread_mutex_unlock(&w->lock);
  wait_idle(w, w->kill_grace_ms + 2000);
  w->stopping = true;
  txn_sync(w);
  stop_committer(w);
  if (!atomic_load(&w->fatal))
    rd_kafka_consumer_close(w->consumer);
  join_threads(w);
  rd_kafka_queue_io_event_enable(cq, -1, NULL, 0);
  rd_kafka_queue_io_event_enable(w->msgq, -1, NULL, 0);
  rd_kafka_queue_io_event_enable(ctlq, -1, NULL, 0);
  rd_kafka_queue_destroy(cq);
  rd_kafka_queue_destroy(ctlq);
  if (atomic_load(&w->fatal))
    ret = strata_errf(STRATA_ERR_KAFKA, errstr, size, "%s", w->fatal_msg);
out:
  return ret;
}
