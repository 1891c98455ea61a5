/*
 * What the real-broker benchmarks share: the topics of a run's fresh prefix,
 * the strata-scheduler child process (started with the run's settings,
 * stopped by PID, also on failure) and monotonic sleeps for pacing.
 */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strata/kafka.h"

extern char **environ;

#define BASE_SETS 7

void bench_sleep_us(int64_t us) {
  struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
  nanosleep(&ts, NULL);
}

void bench_sleep_until_us(strata_mono_us_t t_us, volatile sig_atomic_t *stop) {
  struct timespec ts = {(time_t)(t_us / 1000000),
                        (long)(t_us % 1000000) * 1000};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR &&
         !*stop)
    ;
}

int bench_topics(const strata_config_t *cfg, bool create, const char *who,
                 char *err, size_t size) {
  strata_layout_t layout = {0};
  rd_kafka_conf_t *conf;
  rd_kafka_t *rk = NULL;
  int rc = -1;

  if (strata_layout_build(cfg, &layout, err, size))
    return -1;
  if (!(conf = strata_kafka_conf_new(cfg, "bench-admin", NULL, err, size)))
    goto done;
  if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, size))) {
    rd_kafka_conf_destroy(conf);
    goto done;
  }
  if (!create) {
    /* A run's topics are fresh and would otherwise pile up on the broker. */
    const char **names = calloc((size_t)layout.count + 1, sizeof(*names));
    for (int i = 0; names && i < layout.count; i++)
      names[i] = layout.topics[i].name;
    if (names)
      bench_delete_topics(rk, names, (size_t)layout.count, who);
    free(names);
  } else if (strata_topics_ensure(rk, &layout, true, 30000, NULL, NULL, err,
                                  size)) {
    goto done;
  }
  rc = 0;
done:
  if (rk)
    rd_kafka_destroy(rk);
  strata_layout_clear(&layout);
  return rc;
}

int bench_sched_spawn(bench_sched_t *s, const char *bindir,
                      const char *bootstrap, const char *prefix, int partitions,
                      char *const *sets, int nsets, char *err, size_t size) {
  char path[PATH_MAX + 32], base[BASE_SETS][320];
  char **argv =
      calloc((size_t)(2 + 2 * (BASE_SETS + nsets) + 1), sizeof(*argv));
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  int argc = 0, rc;

  s->pid = 0;
  if (!argv) {
    snprintf(err, size, "out of memory");
    return -1;
  }
  snprintf(path, sizeof(path), "%s/strata-scheduler", bindir);
  if (access(path, X_OK)) {
    snprintf(err, size, "%.400s: %s (build it, or give --bin)", path,
             strerror(errno));
    free(argv);
    return -1;
  }
  snprintf(s->log, sizeof(s->log), "/tmp/%sscheduler.log", prefix);
  snprintf(base[0], sizeof(base[0]), "bootstrap.servers=%s", bootstrap);
  snprintf(base[1], sizeof(base[1]), "topic.prefix=%s", prefix);
  snprintf(base[2], sizeof(base[2]), "topic.partitions=%d", partitions);
  snprintf(base[3], sizeof(base[3]), "scheduler.group.id=%ssched", prefix);
  snprintf(base[4], sizeof(base[4]), "scheduler.instance.id=%sinst", prefix);
  snprintf(base[5], sizeof(base[5]), "admin.listen=127.0.0.1:0");
  snprintf(base[6], sizeof(base[6]), "log.level=info");
  argv[argc++] = path;
  for (int i = 0; i < BASE_SETS; i++) {
    argv[argc++] = (char *)"--set";
    argv[argc++] = base[i];
  }
  for (int i = 0; i < nsets; i++) {
    argv[argc++] = (char *)"--set";
    argv[argc++] = sets[i];
  }
  argv[argc] = NULL;

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, s->log, O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_init(&attr);
  /* Its own process group: a Ctrl-C reaches the bench, which stops it. */
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  rc = posix_spawn(&s->pid, path, &fa, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  free(argv);
  if (rc) {
    s->pid = 0;
    snprintf(err, size, "spawning %.400s: %s", path, strerror(rc));
    return -1;
  }
  return 0;
}

bool bench_sched_alive(bench_sched_t *s, const char *who) {
  int status;
  if (s->pid <= 0)
    return false;
  if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
    fprintf(stderr, "%s: strata-scheduler exited (status %d); see %s\n", who,
            status, s->log);
    s->pid = 0;
    return false;
  }
  return true;
}

void bench_sched_stop(bench_sched_t *s) {
  strata_mono_us_t deadline = strata_mono_now_us() + 15000000;
  if (s->pid <= 0)
    return;
  kill(s->pid, SIGTERM);
  while (strata_mono_now_us() < deadline) {
    if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
      s->pid = 0;
      return;
    }
    bench_sleep_us(20000);
  }
  kill(s->pid, SIGKILL);
  waitpid(s->pid, NULL, 0);
  s->pid = 0;
}
