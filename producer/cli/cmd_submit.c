/*
 * `strata submit`: every Task field as a flag, or one task per line of JSON
 * (--jsonl); and the control commands `strata cancel`, `strata tier` and
 * `strata drain`. Records are sent through the client library and their ids
 * (or targets) printed only once Kafka has acknowledged them, so a printed id
 * is a durably accepted task. Exit 0 when all were accepted, 1 when any
 * delivery failed, 2 for bad arguments or an invalid task.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "cli_int.h"
#include "strata/codec.h"
#include "strata/kafka.h"
#include "strata/producer.h"

#define SUBMIT_USAGE                                                           \
  "usage: strata submit [flags] | strata submit --jsonl FILE|-\n"              \
  "  --id ID                 task id (default: a random UUID)\n"               \
  "  --type T                handler name (default: default)\n"                \
  "  --tier T                tier (default: normal)\n"                         \
  "  --queue Q               queue of workers that run it (default: "          \
  "default)\n"                                                                 \
  "  --priority N            priority within the tier, higher first\n"         \
  "  --deadline 2s|RFC3339   deadline, relative or absolute\n"                 \
  "  --hard                  the deadline is hard\n"                           \
  "  --expiry dead-letter|drop  fate of an expired hard-deadline task\n"       \
  "  --delay 5s|RFC3339      do not start before this\n"                       \
  "  --estimate 3s           expected run time\n"                              \
  "  --demand POOL=N         resource demand (repeatable)\n"                   \
  "  --after ID              depend on task ID (repeatable)\n"                 \
  "  --retry max=N,backoff=fixed|exponential|jitter,base=1s,cap=5m\n"          \
  "  --schedule-to-start D, --start-to-close D, --heartbeat D   timeouts\n"    \
  "  --idempotency-key K     duplicate submissions with K run once\n"          \
  "  --header K=V            header (repeatable)\n"                            \
  "  --payload @FILE|-|TEXT  payload bytes (default: empty)\n"                 \
  "  --jsonl FILE|-          submit one JSON task per line (wire JSON; "       \
  "\"deadline\" and \"delay\" may be given as 2s or RFC3339 strings)"

typedef struct {
  int failed, ok;
} delivery_tally_t;

static void on_delivered(const char *task_id, strata_err_t err,
                         const char *errstr, void *opaque) {
  delivery_tally_t *t = opaque;
  if (err) {
    /* The same broker error tends to hit every task of a bulk load: show the
     * first few, count the rest. */
    if (++t->failed <= 10)
      fprintf(stderr, "strata: task %s not accepted: %s\n", task_id, errstr);
    else if (t->failed == 11)
      fprintf(stderr, "strata: more tasks not accepted; counting them\n");
  } else {
    t->ok++;
    printf("%s\n", task_id);
  }
}

static bool read_all(FILE *f, uint8_t **out, size_t *len) {
  size_t cap = 4096, n = 0, got;
  uint8_t *buf = malloc(cap);
  while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      uint8_t *nb = realloc(buf, cap *= 2);
      if (!nb) {
        free(buf);
        return false;
      }
      buf = nb;
    }
  }
  if (!buf || ferror(f)) {
    free(buf);
    return false;
  }
  *out = buf;
  *len = n;
  return true;
}

static void set_payload(const strata_program_t *prog, strata_task_t *t,
                        const char *arg) {
  FILE *f = NULL;
  free(t->payload);
  t->payload = NULL;
  if (!strcmp(arg, "-"))
    f = stdin;
  else if (arg[0] == '@' && !(f = fopen(arg + 1, "rb")))
    strata_program_usage_error(prog, "--payload %s: cannot open", arg);
  if (f) {
    bool ok = read_all(f, &t->payload, &t->payload_len);
    if (f != stdin)
      fclose(f);
    if (!ok)
      strata_program_usage_error(prog, "--payload %s: cannot read", arg);
  } else {
    t->payload_len = strlen(arg);
    t->payload = (uint8_t *)strdup(arg);
  }
}

static int64_t duration_arg(const strata_program_t *prog, const char *flag,
                            const char *v) {
  int64_t ms;
  if (!strata_parse_duration_ms(v, &ms))
    strata_program_usage_error(prog,
                               "%s: \"%s\" is not a duration; allowed: e.g. "
                               "250ms, 5s, 2m, 1h",
                               flag, v);
  return ms;
}

static void parse_retry(const strata_program_t *prog, strata_retry_policy_t *r,
                        const char *arg) {
  char *copy = strdup(arg), *save = NULL;
  for (char *tok = strtok_r(copy, ",", &save); tok;
       tok = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(tok, '=');
    if (!eq)
      strata_program_usage_error(prog, "--retry: \"%s\" is not key=value", tok);
    *eq++ = '\0';
    if (!strcmp(tok, "max")) {
      char *end;
      long v = strtol(eq, &end, 10);
      if (*end || v < 1 || v > 1000000)
        strata_program_usage_error(
            prog, "--retry max: \"%s\"; allowed: 1..1000000", eq);
      r->max_attempts = (int32_t)v;
    } else if (!strcmp(tok, "backoff")) {
      if (!strcasecmp(eq, "fixed"))
        r->backoff = STRATA_BACKOFF_FIXED;
      else if (!strcasecmp(eq, "exponential"))
        r->backoff = STRATA_BACKOFF_EXPONENTIAL;
      else if (!strcasecmp(eq, "jitter"))
        r->backoff = STRATA_BACKOFF_EXPONENTIAL_FULL_JITTER;
      else
        strata_program_usage_error(prog,
                                   "--retry backoff: \"%s\"; allowed: "
                                   "fixed|exponential|jitter",
                                   eq);
    } else if (!strcmp(tok, "base")) {
      r->base_ms = duration_arg(prog, "--retry base", eq);
    } else if (!strcmp(tok, "cap")) {
      r->cap_ms = duration_arg(prog, "--retry cap", eq);
    } else {
      strata_program_usage_error(prog,
                                 "--retry: unknown key \"%s\"; allowed: "
                                 "max, backoff, base, cap",
                                 tok);
    }
  }
  free(copy);
}

/* Splits "K=V" (for --demand and --header); exits 2 when there is no '='. */
static char *split_kv(const strata_program_t *prog, const char *flag,
                      char *arg) {
  char *eq = strchr(arg, '=');
  if (!eq || eq == arg)
    strata_program_usage_error(prog, "%s: \"%s\" is not KEY=VALUE", flag, arg);
  *eq = '\0';
  return eq + 1;
}

/* Replaces a convenience string key ("deadline": "30s") by its wire field. */
static bool convenience_time(json_t *obj, const char *key, const char *field,
                             strata_epoch_ms_t now, char *err, size_t size) {
  json_t *v = json_object_get(obj, key);
  strata_epoch_ms_t t;
  if (!v)
    return true;
  if (!json_is_string(v) || !cli_parse_time(json_string_value(v), now, &t)) {
    snprintf(err, size, "\"%s\": expected a duration (30s) or an RFC 3339 time",
             key);
    return false;
  }
  json_object_set_new(obj, field, json_integer(t));
  json_object_del(obj, key);
  return true;
}

static int submit_jsonl(const strata_program_t *prog, strata_producer_t *p,
                        const char *path, delivery_tally_t *tally) {
  FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
  char *line = NULL, err[512];
  size_t cap = 0;
  int lineno = 0, rc = STRATA_EXIT_OK;
  ssize_t n;

  if (!f)
    strata_program_usage_error(prog, "--jsonl %s: cannot open", path);
  while ((n = getline(&line, &cap, f)) > 0) {
    strata_epoch_ms_t now = strata_epoch_now_ms();
    json_error_t jerr;
    strata_task_t t;
    json_t *obj;

    lineno++;
    if (strspn(line, " \t\r\n") == (size_t)n)
      continue;
    if (!(obj = json_loads(line, 0, &jerr)) || !json_is_object(obj)) {
      fprintf(stderr, "strata: %s:%d: not a JSON object: %s\n", path, lineno,
              obj ? "another JSON type" : jerr.text);
      json_decref(obj);
      rc = STRATA_EXIT_USAGE;
      break;
    }
    /* Fields the library fills in may be left out of a line. */
    if (!json_object_get(obj, "id"))
      json_object_set_new(obj, "id", json_string(""));
    if (!json_object_get(obj, "tier"))
      json_object_set_new(obj, "tier", json_string("normal"));
    if (!json_object_get(obj, "created_ms"))
      json_object_set_new(obj, "created_ms", json_integer(0));
    if (!json_object_get(obj, "enqueued_ms"))
      json_object_set_new(obj, "enqueued_ms", json_integer(0));
    strata_task_init(&t);
    if (!convenience_time(obj, "deadline", "deadline_ms", now, err,
                          sizeof(err)) ||
        !convenience_time(obj, "delay", "not_before_ms", now, err,
                          sizeof(err)) ||
        strata_task_from_json(obj, &t, err, sizeof(err)) ||
        strata_producer_submit(p, &t, on_delivered, tally, err, sizeof(err))) {
      fprintf(stderr, "strata: %s:%d: %s\n", path, lineno, err);
      rc = STRATA_EXIT_USAGE;
    }
    strata_task_clear(&t);
    json_decref(obj);
    strata_producer_poll(p, 0);
    if (rc)
      break;
  }
  free(line);
  if (f != stdin)
    fclose(f);
  return rc;
}

static strata_producer_t *open_producer(const strata_program_t *prog,
                                        strata_config_t *cfg,
                                        strata_mock_t **mock) {
  strata_producer_t *p;
  char err[512];
  if (strata_kafka_resolve_bootstrap(cfg, mock, err, sizeof(err)) ||
      !(p = strata_producer_new(cfg, err, sizeof(err)))) {
    fprintf(stderr, "%s: %s\n", prog->name, err);
    exit(STRATA_EXIT_USAGE);
  }
  return p;
}

static int finish(strata_producer_t *p, strata_mock_t *mock,
                  delivery_tally_t *tally, int rc) {
  if (strata_producer_flush(p, 30000)) {
    fprintf(stderr, "strata: not every task was acknowledged within 30 s\n");
    rc = rc ? rc : STRATA_EXIT_FAILURE;
  }
  strata_producer_destroy(p);
  strata_mock_destroy(mock);
  if (tally->failed)
    fprintf(stderr, "strata: %d task(s) not accepted, %d accepted\n",
            tally->failed, tally->ok);
  if (!rc && tally->failed)
    rc = STRATA_EXIT_FAILURE;
  return rc;
}

int cli_cmd_submit(const strata_program_t *prog, strata_config_t *cfg, int argc,
                   char **argv) {
  static const struct option opts[] = {
      {"id", required_argument, NULL, 'i'},
      {"type", required_argument, NULL, 'y'},
      {"tier", required_argument, NULL, 't'},
      {"queue", required_argument, NULL, 'q'},
      {"priority", required_argument, NULL, 'p'},
      {"deadline", required_argument, NULL, 'd'},
      {"hard", no_argument, NULL, 'H'},
      {"expiry", required_argument, NULL, 'x'},
      {"delay", required_argument, NULL, 'D'},
      {"estimate", required_argument, NULL, 'e'},
      {"demand", required_argument, NULL, 'm'},
      {"after", required_argument, NULL, 'a'},
      {"retry", required_argument, NULL, 'r'},
      {"schedule-to-start", required_argument, NULL, 'S'},
      {"start-to-close", required_argument, NULL, 'C'},
      {"heartbeat", required_argument, NULL, 'B'},
      {"idempotency-key", required_argument, NULL, 'k'},
      {"header", required_argument, NULL, 'h'},
      {"payload", required_argument, NULL, 'P'},
      {"jsonl", required_argument, NULL, 'J'},
      {NULL, 0, NULL, 0},
  };
  strata_epoch_ms_t now = strata_epoch_now_ms();
  delivery_tally_t tally = {0, 0};
  const char *jsonl = NULL;
  strata_mock_t *mock = NULL;
  strata_producer_t *p;
  strata_task_t t;
  char err[512];
  int c, rc = STRATA_EXIT_OK;

  strata_task_init(&t);
  t.tier = strdup("normal");
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    char *end;
    switch (c) {
    case 'i':
      free(t.id);
      t.id = strdup(optarg);
      break;
    case 'y':
      free(t.type);
      t.type = strdup(optarg);
      break;
    case 't':
      free(t.tier);
      t.tier = strdup(optarg);
      break;
    case 'q':
      free(t.queue);
      t.queue = strdup(optarg);
      break;
    case 'p':
      t.priority = (int32_t)strtol(optarg, &end, 10);
      if (*end || !*optarg)
        strata_program_usage_error(prog,
                                   "--priority: \"%s\" is not an "
                                   "integer",
                                   optarg);
      break;
    case 'd':
      if (!cli_parse_time(optarg, now, &t.deadline_ms))
        strata_program_usage_error(prog,
                                   "--deadline: \"%s\" is neither a duration "
                                   "(30s) nor an RFC 3339 time",
                                   optarg);
      t.has_deadline_ms = true;
      break;
    case 'H':
      t.deadline_hard = true;
      break;
    case 'x':
      if (!strcmp(optarg, "dead-letter"))
        t.expiry_policy = STRATA_EXPIRY_DEAD_LETTER;
      else if (!strcmp(optarg, "drop"))
        t.expiry_policy = STRATA_EXPIRY_DROP;
      else
        strata_program_usage_error(prog,
                                   "--expiry: \"%s\"; allowed: "
                                   "dead-letter|drop",
                                   optarg);
      break;
    case 'D':
      if (!cli_parse_time(optarg, now, &t.not_before_ms))
        strata_program_usage_error(prog,
                                   "--delay: \"%s\" is neither a duration "
                                   "(30s) nor an RFC 3339 time",
                                   optarg);
      t.has_not_before_ms = true;
      break;
    case 'e':
      t.estimate_ms = duration_arg(prog, "--estimate", optarg);
      t.has_estimate_ms = true;
      break;
    case 'm': {
      char *v = split_kv(prog, "--demand", optarg);
      long long amount = strtoll(v, &end, 10);
      if (*end || !*v)
        strata_program_usage_error(prog,
                                   "--demand %s: \"%s\" is not an "
                                   "integer amount",
                                   optarg, v);
      strata_task_add_demand(&t, optarg, amount);
      break;
    }
    case 'a':
      strata_task_add_dependency(&t, optarg);
      break;
    case 'r':
      parse_retry(prog, &t.retry, optarg);
      break;
    case 'S':
      t.timeouts.schedule_to_start_ms =
          duration_arg(prog, "--schedule-to-start", optarg);
      t.timeouts.has_schedule_to_start_ms = true;
      break;
    case 'C':
      t.timeouts.start_to_close_ms =
          duration_arg(prog, "--start-to-close", optarg);
      t.timeouts.has_start_to_close_ms = true;
      break;
    case 'B':
      t.timeouts.heartbeat_ms = duration_arg(prog, "--heartbeat", optarg);
      t.timeouts.has_heartbeat_ms = true;
      break;
    case 'k':
      free(t.idempotency_key);
      t.idempotency_key = strdup(optarg);
      break;
    case 'h': {
      char *v = split_kv(prog, "--header", optarg);
      strata_task_add_header(&t, optarg, v);
      break;
    }
    case 'P':
      set_payload(prog, &t, optarg);
      break;
    case 'J':
      jsonl = optarg;
      break;
    default:
      strata_program_usage_error(prog,
                                 "submit: unknown or incomplete option "
                                 "\"%s\"\n" SUBMIT_USAGE,
                                 argv[optind - 1]);
    }
  }
  if (optind < argc)
    strata_program_usage_error(prog, "submit: unexpected argument \"%s\"",
                               argv[optind]);

  p = open_producer(prog, cfg, &mock);
  if (jsonl) {
    rc = submit_jsonl(prog, p, jsonl, &tally);
  } else if (strata_producer_submit(p, &t, on_delivered, &tally, err,
                                    sizeof(err))) {
    fprintf(stderr, "strata: %s\n", err);
    rc = STRATA_EXIT_USAGE;
  }
  strata_task_clear(&t);
  return finish(p, mock, &tally, rc);
}

int cli_cmd_cancel(const strata_program_t *prog, strata_config_t *cfg, int argc,
                   char **argv) {
  delivery_tally_t tally = {0, 0};
  strata_mock_t *mock = NULL;
  strata_producer_t *p;
  const char *reason = NULL;
  char err[512];
  int rc = STRATA_EXIT_OK;

  if (argc == 4 && !strcmp(argv[2], "--reason"))
    reason = argv[3];
  else if (argc != 2)
    strata_program_usage_error(prog, "usage: strata cancel ID [--reason R]");
  p = open_producer(prog, cfg, &mock);
  if (strata_producer_cancel(p, argv[1], reason, on_delivered, &tally, err,
                             sizeof(err))) {
    fprintf(stderr, "strata: %s\n", err);
    rc = STRATA_EXIT_USAGE;
  }
  return finish(p, mock, &tally, rc);
}

int cli_cmd_tier(const strata_program_t *prog, strata_config_t *cfg, int argc,
                 char **argv) {
  delivery_tally_t tally = {0, 0};
  strata_mock_t *mock = NULL;
  strata_producer_t *p;
  const char *reason = NULL, *tier;
  strata_control_kind_t kind;
  char err[512];
  int rc = STRATA_EXIT_OK;

  if ((argc != 3 && !(argc == 5 && !strcmp(argv[3], "--reason"))) ||
      (strcmp(argv[1], "pause") && strcmp(argv[1], "resume")))
    strata_program_usage_error(
        prog, "usage: strata tier pause|resume TIER|--all [--reason R]");
  kind = !strcmp(argv[1], "pause") ? STRATA_CONTROL_PAUSE_TIER
                                   : STRATA_CONTROL_RESUME_TIER;
  tier = !strcmp(argv[2], "--all") ? "*" : argv[2];
  if (argc == 5)
    reason = argv[4];
  p = open_producer(prog, cfg, &mock);
  if (strata_producer_control(p, kind, tier, reason, on_delivered, &tally, err,
                              sizeof(err))) {
    fprintf(stderr, "strata: %s\n", err);
    rc = STRATA_EXIT_USAGE;
  }
  return finish(p, mock, &tally, rc);
}

/* Polls /healthz until it reports "drained" or `wait_ms` passes. */
static int wait_drained(const strata_config_t *cfg, int64_t wait_ms) {
  strata_mono_us_t end = strata_mono_now_us() + wait_ms * 1000;
  const char *last = "unknown";
  char seen[32] = "";

  for (;;) {
    long status;
    char *body;
    json_t *j;
    if (cli_admin_get(cfg, "drain", "/healthz", &status, &body))
      return STRATA_EXIT_FAILURE;
    j = json_loads(body, 0, NULL);
    free(body);
    last = j ? json_string_value(json_object_get(j, "status")) : NULL;
    snprintf(seen, sizeof(seen), "%s", last ? last : "unknown");
    json_decref(j);
    if (!strcmp(seen, "drained")) {
      printf("drained\n");
      return STRATA_EXIT_OK;
    }
    if (strata_mono_now_us() >= end)
      break;
    struct timespec ts = {0, 200 * 1000000L};
    nanosleep(&ts, NULL); /* poll interval, not a wait for an event */
  }
  fprintf(stderr,
          "strata: drain: not drained after %" PRId64 " ms (status \"%s\")\n",
          wait_ms, seen);
  return STRATA_EXIT_FAILURE;
}

int cli_cmd_drain(const strata_program_t *prog, strata_config_t *cfg, int argc,
                  char **argv) {
  delivery_tally_t tally = {0, 0};
  strata_mock_t *mock = NULL;
  strata_producer_t *p;
  const char *reason = NULL;
  int64_t wait_ms = -1;
  char err[512];
  int rc = STRATA_EXIT_OK;

  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--reason") && i + 1 < argc)
      reason = argv[++i];
    else if (!strcmp(argv[i], "--wait") && i + 1 < argc)
      wait_ms = duration_arg(prog, "--wait", argv[++i]);
    else
      strata_program_usage_error(
          prog, "usage: strata drain [--reason R] [--wait DURATION]");
  }
  p = open_producer(prog, cfg, &mock);
  if (strata_producer_control(p, STRATA_CONTROL_DRAIN, NULL, reason,
                              on_delivered, &tally, err, sizeof(err))) {
    fprintf(stderr, "strata: %s\n", err);
    rc = STRATA_EXIT_USAGE;
  }
  rc = finish(p, mock, &tally, rc);
  if (rc == STRATA_EXIT_OK && wait_ms >= 0)
    rc = wait_drained(cfg, wait_ms);
  return rc;
}
