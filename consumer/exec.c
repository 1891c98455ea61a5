/*
 * The built-in exec handler: runs `/bin/sh -c <command>` for each task of a
 * type configured as `exec.<type>=<command>`.
 *
 * Contract with the command (docs/ARCHITECTURE.md, "Workers"): the payload on
 * stdin; STRATA_TASK_ID, STRATA_TASK_TYPE, STRATA_TIER, STRATA_ATTEMPT,
 * STRATA_IDEMPOTENCY_KEY, STRATA_WORKER_ID, STRATA_DEADLINE_MS (when the task
 * has a deadline) and STRATA_HEADER_<KEY> per header in its environment; exit
 * 0 succeeds, 65 (EX_DATAERR) fails for good, any other exit or a signal
 * fails retryably; the last worker.stderr.tail bytes of stderr go into the
 * failure's error text.
 *
 * Checkpoints: each run gets a private directory under $TMPDIR (default
 * /tmp). STRATA_CHECKPOINT_FILE names a file there holding the state the task
 * was dispatched with (only when it has one); STRATA_CHECKPOINT_OUT names
 * where the command may write new state. On PREEMPT the group gets SIGUSR1;
 * exit 75 (EX_TEMPFAIL) means "yielded": the file at STRATA_CHECKPOINT_OUT,
 * if written (bounded by worker.checkpoint.max.bytes), becomes the
 * checkpoint, and the attempt yields. A command killed by the SIGUSR1 it was
 * sent yields too, without new state. The directory is removed after the
 * command ends, whatever happened.
 *
 * Heartbeats: for a task with timeouts.heartbeat_ms the runtime writes none
 * on its own, and a command cannot call the C API, so this handler
 * heartbeats while the command runs, every min(worker.heartbeat.interval,
 * heartbeat_ms / 3): the timeout then catches a wedged or lost worker.
 *
 * The child leads its own process group, so cancellation (user request,
 * start_to_close timeout, worker stop) reaches everything it started: SIGTERM
 * to the group, SIGKILL after worker.kill.grace. Pipes are close-on-exec, so
 * concurrent spawns never inherit each other's ends (a leaked stdin write end
 * would keep a sibling's stdin from ever reaching EOF).
 *
 * Exit: the wait polls a pidfd of the child beside its pipes, so the attempt
 * ends as soon as the child does; without one (Linux before 5.3) a child that
 * exits just after its stderr closes is noticed at the next IO_TICK_MS.
 */
#define _GNU_SOURCE /* pipe2 */
#include "worker_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "strata/log.h"

extern char **environ;

#define EXIT_PERMANENT 65 /* EX_DATAERR: the input is wrong, do not retry */
#define EXIT_YIELDED 75   /* EX_TEMPFAIL: stopped to resume later */
#define IO_TICK_MS 50

typedef struct {
  char *command;
} exec_cmd_t;

typedef struct {
  char *types; /* "a, b, c" */
} exec_unknown_t;

/* ---- environment ---------------------------------------------------- */

typedef struct {
  char **v;
  size_t n, cap;
  bool oom;
} envv_t;

static void env_add(envv_t *e, char *entry) {
  if (!entry) {
    e->oom = true;
    return;
  }
  if (e->n + 2 > e->cap) {
    size_t cap = e->cap ? e->cap * 2 : 64;
    char **v = realloc(e->v, cap * sizeof(*v));
    if (!v) {
      free(entry);
      e->oom = true;
      return;
    }
    e->v = v;
    e->cap = cap;
  }
  e->v[e->n++] = entry;
  e->v[e->n] = NULL;
}

static char *env_entry(const char *name, const char *value) {
  size_t n = strlen(name) + strlen(value) + 2;
  char *s = malloc(n);
  if (s)
    snprintf(s, n, "%s=%s", name, value);
  return s;
}

static void env_free(envv_t *e) {
  for (size_t i = 0; i < e->n; i++)
    free(e->v[i]);
  free(e->v);
}

/* True when `entry` ("NAME=value") is one the handler sets itself. */
static bool env_is_ours(const char *entry) {
  static const char *const names[] = {"STRATA_TASK_ID",
                                      "STRATA_TASK_TYPE",
                                      "STRATA_TIER",
                                      "STRATA_ATTEMPT",
                                      "STRATA_DEADLINE_MS",
                                      "STRATA_WORKER_ID",
                                      "STRATA_IDEMPOTENCY_KEY",
                                      "STRATA_CHECKPOINT_FILE",
                                      "STRATA_CHECKPOINT_OUT",
                                      NULL};
  const char *eq = strchr(entry, '=');
  size_t len = eq ? (size_t)(eq - entry) : strlen(entry);

  if (!strncmp(entry, "STRATA_HEADER_", 14))
    return true;
  for (int i = 0; names[i]; i++)
    if (strlen(names[i]) == len && !strncmp(entry, names[i], len))
      return true;
  return false;
}

static void build_env(const strata_job_t *job, const char *ckpt_in,
                      const char *ckpt_out, envv_t *e) {
  const strata_task_t *t = strata_job_task(job);
  char num[32];

  for (char **p = environ; p && *p; p++)
    if (!env_is_ours(*p))
      env_add(e, strdup(*p));
  env_add(e, env_entry("STRATA_TASK_ID", t->id ? t->id : ""));
  env_add(e, env_entry("STRATA_TASK_TYPE", t->type ? t->type : "default"));
  env_add(e, env_entry("STRATA_TIER", t->tier ? t->tier : ""));
  snprintf(num, sizeof(num), "%d", (int)t->attempt);
  env_add(e, env_entry("STRATA_ATTEMPT", num));
  env_add(e,
          env_entry("STRATA_IDEMPOTENCY_KEY", strata_job_idempotency_key(job)));
  env_add(e, env_entry("STRATA_WORKER_ID", strata_worker_id(job->w)));
  if (t->has_deadline_ms) {
    snprintf(num, sizeof(num), "%lld", (long long)t->deadline_ms);
    env_add(e, env_entry("STRATA_DEADLINE_MS", num));
  }
  if (ckpt_in)
    env_add(e, env_entry("STRATA_CHECKPOINT_FILE", ckpt_in));
  env_add(e, env_entry("STRATA_CHECKPOINT_OUT", ckpt_out));
  for (size_t i = 0; i < t->headers_count; i++) {
    size_t klen = strlen(t->headers[i].key);
    char *name = malloc(14 + klen + 1);
    if (!name) {
      e->oom = true;
      continue;
    }
    memcpy(name, "STRATA_HEADER_", 14);
    for (size_t k = 0; k < klen; k++) {
      unsigned char c = (unsigned char)t->headers[i].key[k];
      name[14 + k] = isalnum(c) && c < 128 ? (char)toupper(c) : '_';
    }
    name[14 + klen] = '\0';
    env_add(e, env_entry(name, t->headers[i].value));
    free(name);
  }
}

/* ---- stderr tail ------------------------------------------------------ */

typedef struct {
  char *buf;
  size_t cap, len;
  size_t total; /* bytes read in all */
} tail_t;

static void tail_append(tail_t *t, const char *data, size_t n) {
  t->total += n;
  if (t->cap == 0)
    return;
  if (n >= t->cap) {
    memcpy(t->buf, data + (n - t->cap), t->cap);
    t->len = t->cap;
    return;
  }
  if (t->len + n > t->cap) {
    size_t drop = t->len + n - t->cap;
    memmove(t->buf, t->buf + drop, t->len - drop);
    t->len -= drop;
  }
  memcpy(t->buf + t->len, data, n);
  t->len += n;
}

/* Reads what `fd` has now; returns false at EOF or on an error. */
static bool tail_read(tail_t *t, int fd) {
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof(chunk));
    if (n > 0) {
      tail_append(t, chunk, (size_t)n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      return true;
    return false;
  }
}

/* ---- checkpoint files --------------------------------------------------- */

/* A run's private directory and the paths in it. */
typedef struct {
  char dir[4096];
  char in[4200], out[4200];
  bool made, has_in;
} ckpt_files_t;

/* Creates the directory and writes the resume state, if any. */
static strata_err_t ckpt_files_make(ckpt_files_t *c, const strata_job_t *job,
                                    char *errstr, size_t size) {
  const char *tmp = getenv("TMPDIR");
  size_t len;
  const void *state = strata_job_resume_state(job, &len);
  FILE *fp;

  if (!tmp || !*tmp)
    tmp = "/tmp";
  snprintf(c->dir, sizeof(c->dir), "%s/strata-exec-XXXXXX", tmp);
  if (!mkdtemp(c->dir))
    return strata_errf(STRATA_ERR_IO, errstr, size, "mkdtemp %s: %s", c->dir,
                       strerror(errno));
  c->made = true;
  snprintf(c->in, sizeof(c->in), "%s/checkpoint.in", c->dir);
  snprintf(c->out, sizeof(c->out), "%s/checkpoint.out", c->dir);
  if (!strata_job_task(job)->has_checkpoint)
    return STRATA_OK;
  if (!(fp = fopen(c->in, "wb")) || (len && fwrite(state, 1, len, fp) != len) ||
      fclose(fp)) {
    int e = errno;
    return strata_errf(STRATA_ERR_IO, errstr, size, "writing %s: %s", c->in,
                       strerror(e));
  }
  c->has_in = true;
  return STRATA_OK;
}

/* Removes the directory and whatever the command left in it. */
static void ckpt_files_remove(ckpt_files_t *c) {
  DIR *d;
  struct dirent *de;
  char path[8300];

  if (!c->made)
    return;
  if ((d = opendir(c->dir))) {
    while ((de = readdir(d)))
      if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
        snprintf(path, sizeof(path), "%s/%s", c->dir, de->d_name);
        if (unlink(path))
          STRATA_WARN("worker", "exec: cannot remove %s: %s", path,
                      strerror(errno));
      }
    closedir(d);
  }
  if (rmdir(c->dir))
    STRATA_WARN("worker", "exec: cannot remove %s: %s", c->dir,
                strerror(errno));
  c->made = false;
}

/*
 * Saves what the command wrote to STRATA_CHECKPOINT_OUT as the job's
 * checkpoint. STRATA_ERR_NOT_FOUND when it wrote nothing; otherwise the
 * error (errstr filled), e.g. a file over worker.checkpoint.max.bytes.
 */
static strata_err_t ckpt_collect(ckpt_files_t *c, strata_job_t *job,
                                 char *errstr, size_t size) {
  size_t max = worker_checkpoint_max(job->w);
  FILE *fp = fopen(c->out, "rb");
  char *buf;
  size_t n;
  strata_err_t err;

  if (!fp)
    return errno == ENOENT
               ? STRATA_ERR_NOT_FOUND
               : strata_errf(STRATA_ERR_IO, errstr, size, "reading %s: %s",
                             c->out, strerror(errno));
  /* One byte more than allowed tells "too large" without reading it all. */
  if (!(buf = malloc(max + 1))) {
    fclose(fp);
    return strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
  }
  n = fread(buf, 1, max + 1, fp);
  if (ferror(fp))
    err = strata_errf(STRATA_ERR_IO, errstr, size, "reading %s", c->out);
  else if (n > max)
    err = strata_errf(STRATA_ERR_TOO_LARGE, errstr, size,
                      "the checkpoint the command wrote exceeds "
                      "worker.checkpoint.max.bytes (%zu)",
                      max);
  else if ((err = strata_job_checkpoint(job, buf, n)))
    strata_errf(err, errstr, size,
                "the checkpoint the command wrote (%zu "
                "bytes) cannot be saved: %s",
                n, strata_err2str(err));
  fclose(fp);
  free(buf);
  return err;
}

/* ---- the handler ------------------------------------------------------ */

static strata_mono_us_t mono_ms(void) {
  return strata_mono_now_us() / 1000;
}

static void close_fd(int *fd) {
  if (*fd >= 0)
    close(*fd);
  *fd = -1;
}

/* Swallows a SIGPIPE raised by writing to a dead child's stdin; it is
 * blocked on handler threads, so it is pending rather than delivered. */
static void clear_sigpipe(void) {
  sigset_t set;
  struct timespec zero = {0, 0};
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  while (sigtimedwait(&set, NULL, &zero) == SIGPIPE)
    ;
}

static int spawn_child(const char *command, envv_t *env, int in_r, int err_w,
                       pid_t *pid) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  sigset_t empty, defs;
  char *argv[] = {"sh", "-c", (char *)(uintptr_t)command, NULL};
  static const int defsigs[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP,
                                SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2};
  int rc;

  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
  posix_spawnattr_init(&attr);
  sigemptyset(&empty);
  sigemptyset(&defs);
  for (size_t i = 0; i < sizeof(defsigs) / sizeof(defsigs[0]); i++)
    sigaddset(&defs, defsigs[i]);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defs);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  rc = posix_spawn(pid, "/bin/sh", &fa, &attr, argv, env->v);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return rc;
}

/* A descriptor that turns readable when `pid` exits, or -1. */
static int pidfd_of(pid_t pid) {
#ifdef SYS_pidfd_open
  int fd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0)
    fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
#else
  (void)pid;
  return -1;
#endif
}

static const char *signal_name(int sig) {
  switch (sig) {
  case SIGKILL:
    return "SIGKILL";
  case SIGTERM:
    return "SIGTERM";
  case SIGINT:
    return "SIGINT";
  case SIGSEGV:
    return "SIGSEGV";
  case SIGABRT:
    return "SIGABRT";
  case SIGPIPE:
    return "SIGPIPE";
  case SIGUSR1:
    return "SIGUSR1";
  default:
    return "signal";
  }
}

static strata_handler_status_t exec_run(strata_job_t *job, void *opaque) {
  const exec_cmd_t *cmd = opaque;
  const strata_task_t *t = strata_job_task(job);
  size_t tail_cap = worker_stderr_tail(job->w);
  int64_t grace_ms = worker_kill_grace_ms(job->w);
  envv_t env = {0};
  tail_t tail = {0};
  int in[2] = {-1, -1}, err[2] = {-1, -1}, pidfd = -1;
  size_t written = 0;
  pid_t pid = -1;
  int status = 0, rc;
  bool exited = false, cancelled = false, preempted = false;
  int64_t kill_at = -1; /* when SIGKILL is due, ms monotonic; -1: not yet */
  int64_t hb_every = -1, hb_next = 0; /* heartbeats on the command's behalf */
  strata_handler_status_t result = STRATA_HANDLER_FAILED;
  ckpt_files_t ck = {0};
  char why[512];

  if (t->timeouts.has_heartbeat_ms) {
    hb_every = worker_heartbeat_interval_ms(job->w);
    if (t->timeouts.heartbeat_ms / 3 < hb_every)
      hb_every = t->timeouts.heartbeat_ms / 3;
    hb_next = mono_ms() + hb_every;
  }
  if (ckpt_files_make(&ck, job, why, sizeof(why))) {
    strata_job_fail(job, true, "exec: %s", why);
    goto out;
  }
  build_env(job, ck.has_in ? ck.in : NULL, ck.out, &env);
  if (env.oom || (tail_cap && !(tail.buf = malloc(tail_cap)))) {
    strata_job_fail(job, true, "exec: out of memory");
    goto out;
  }
  tail.cap = tail_cap;
  if (pipe2(in, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    strata_job_fail(job, true, "exec: pipe: %s", strerror(errno));
    goto out;
  }
  if ((rc = spawn_child(cmd->command, &env, in[0], err[1], &pid))) {
    strata_job_fail(job, true, "exec: cannot start /bin/sh: %s", strerror(rc));
    pid = -1;
    goto out;
  }
  pidfd = pidfd_of(pid);
  close_fd(&in[0]);
  close_fd(&err[1]);
  fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
  fcntl(err[0], F_SETFL, fcntl(err[0], F_GETFL) | O_NONBLOCK);
  if (t->payload_len == 0)
    close_fd(&in[1]);

  while (!exited) {
    struct pollfd pfd[3];
    int nfd = 0;
    pid_t r;

    if (pidfd >= 0)
      pfd[nfd++] = (struct pollfd){pidfd, POLLIN, 0};
    if (in[1] >= 0)
      pfd[nfd++] = (struct pollfd){in[1], POLLOUT, 0};
    if (err[0] >= 0)
      pfd[nfd++] = (struct pollfd){err[0], POLLIN, 0};
    if (poll(pfd, (nfds_t)nfd, IO_TICK_MS) < 0 && errno != EINTR)
      break;
    if (in[1] >= 0) {
      ssize_t n = write(in[1], t->payload + written, t->payload_len - written);
      if (n > 0)
        written += (size_t)n;
      if ((n < 0 && errno != EAGAIN && errno != EINTR) ||
          written == t->payload_len) {
        if (n < 0 && errno == EPIPE)
          clear_sigpipe();
        close_fd(&in[1]); /* EOF for the child, or it stopped reading */
      }
    }
    if (err[0] >= 0 && !tail_read(&tail, err[0]))
      close_fd(&err[0]);
    if ((r = waitpid(pid, &status, WNOHANG)) == pid)
      exited = true;
    else if (r < 0 && errno != EINTR)
      break;
    if (!exited && !cancelled && strata_job_cancel_requested(job)) {
      cancelled = true;
      kill(-pid, SIGTERM);
      kill_at = mono_ms() + grace_ms;
    }
    if (!exited && !cancelled && !preempted && strata_job_should_yield(job)) {
      preempted = true; /* asked once; the command decides when to stop */
      kill(-pid, SIGUSR1);
    }
    if (!exited && hb_every >= 0 && mono_ms() >= hb_next) {
      strata_job_heartbeat(job);
      hb_next = mono_ms() + hb_every;
    }
    if (!exited && kill_at >= 0 && mono_ms() >= kill_at) {
      kill(-pid, SIGKILL);
      kill_at = -1;
    }
  }
  /* Whatever is left in the pipe now; a grandchild that keeps stderr open
   * is not waited for. */
  if (err[0] >= 0)
    tail_read(&tail, err[0]);
  if (cancelled)
    kill(-pid, SIGKILL); /* leftovers of the group, if any */

  if (!exited) {
    strata_job_fail(job, true, "exec: lost track of child %ld: %s", (long)pid,
                    strerror(errno));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    result = STRATA_HANDLER_SUCCEEDED;
  } else if (!cancelled && WIFEXITED(status) &&
             WEXITSTATUS(status) == EXIT_YIELDED) {
    strata_err_t e = ckpt_collect(&ck, job, why, sizeof(why));
    if (e == STRATA_OK || e == STRATA_ERR_NOT_FOUND)
      result = STRATA_HANDLER_YIELDED;
    else
      strata_job_fail(job, true, "command exited with code %d (yield) but %s",
                      EXIT_YIELDED, why);
  } else if (!cancelled && preempted && WIFSIGNALED(status) &&
             WTERMSIG(status) == SIGUSR1) {
    /* A command that does not trap SIGUSR1 dies of it: still a yield, from
     * the state it was started with. */
    result = STRATA_HANDLER_YIELDED;
  } else if (cancelled) {
    result = STRATA_HANDLER_CANCELLED;
    /* The runtime reports TIMED_OUT or hands back when it asked for the
     * stop; only a user's cancel is a CANCELLED outcome. */
    if (atomic_load(&job->cancel_reason) != JOB_CANCEL_USER)
      result = STRATA_HANDLER_FAILED;
  } else {
    char what[96];
    bool retryable = true;
    if (WIFEXITED(status)) {
      snprintf(what, sizeof(what), "exited with code %d", WEXITSTATUS(status));
      retryable = WEXITSTATUS(status) != EXIT_PERMANENT;
    } else {
      snprintf(what, sizeof(what), "was killed by %s (%d)",
               signal_name(WTERMSIG(status)), WTERMSIG(status));
    }
    if (tail.total == 0)
      strata_job_fail(job, retryable, "command %s; stderr was empty", what);
    else if (tail.total > tail.len)
      strata_job_fail(job, retryable,
                      "command %s; last %zu of %zu stderr bytes: %.*s", what,
                      tail.len, tail.total, (int)tail.len, tail.buf);
    else
      strata_job_fail(job, retryable, "command %s; stderr: %.*s", what,
                      (int)tail.len, tail.buf);
  }
  if (result == STRATA_HANDLER_FAILED && !exited && pid > 0) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
out:
  close_fd(&pidfd);
  close_fd(&in[0]);
  close_fd(&in[1]);
  close_fd(&err[0]);
  close_fd(&err[1]);
  ckpt_files_remove(&ck);
  free(tail.buf);
  env_free(&env);
  return result;
}

static strata_handler_status_t exec_unknown(strata_job_t *job, void *opaque) {
  const exec_unknown_t *u = opaque;
  const char *type = strata_job_task(job)->type;

  if (!type)
    type = "default";
  strata_job_fail(job, false,
                  "no exec command for task type \"%s\" on worker %s; "
                  "configured types: %s (set exec.%s=<command>)",
                  type, strata_worker_id(job->w), u->types, type);
  return STRATA_HANDLER_FAILED;
}

static void free_cmd(void *p) {
  exec_cmd_t *c = p;
  if (c)
    free(c->command);
  free(c);
}

static void free_unknown(void *p) {
  exec_unknown_t *u = p;
  if (u)
    free(u->types);
  free(u);
}

typedef struct {
  strata_worker_t *w;
  strata_err_t err;
  char *errstr;
  size_t size;
  int count;
  bool has_fallback;
  char types[2048];
  size_t used;
} register_ctx_t;

typedef struct {
  strata_err_t err;
  char *errstr;
  size_t size;
  int count;
} check_ctx_t;

static void check_one(const char *type, const char *command, void *opaque) {
  check_ctx_t *ctx = opaque;

  if (ctx->err)
    return;
  if (!*command)
    ctx->err = strata_errf(STRATA_ERR_CONFIG, ctx->errstr, ctx->size,
                           "exec.%s: the command is empty", type);
  ctx->count++;
}

strata_err_t strata_worker_check_exec(const strata_config_t *cfg, char *errstr,
                                      size_t size) {
  check_ctx_t ctx = {.errstr = errstr, .size = size};

  strata_config_foreach_prefix(cfg, "exec.", check_one, &ctx);
  if (ctx.err)
    return ctx.err;
  if (ctx.count == 0)
    return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                       "no exec.<type>=<command> is configured; add one per "
                       "task type, e.g. --set 'exec.report=./report.sh'");
  return STRATA_OK;
}

static void register_one(const char *type, const char *command, void *opaque) {
  register_ctx_t *ctx = opaque;
  exec_cmd_t *c;
  strata_err_t err;

  if (ctx->err)
    return;
  if (!(c = calloc(1, sizeof(*c))) || !(c->command = strdup(command))) {
    free(c);
    ctx->err =
        strata_errf(STRATA_ERR_NOMEM, ctx->errstr, ctx->size, "out of memory");
    return;
  }
  err = worker_register_owned(ctx->w, type, exec_run, c, free_cmd);
  if (err == STRATA_ERR_EXISTS) {
    /* A later --set of the same key replaces the command. */
    free_cmd(c);
    ctx->err = strata_errf(err, ctx->errstr, ctx->size,
                           "exec.%s: a handler for type \"%s\" is already "
                           "registered",
                           type, type);
    return;
  }
  if (err) {
    free_cmd(c);
    ctx->err = strata_errf(err, ctx->errstr, ctx->size, "exec.%s: %s", type,
                           strata_err2str(err));
    return;
  }
  ctx->count++;
  if (!strcmp(type, "*"))
    ctx->has_fallback = true;
  else if (ctx->used < sizeof(ctx->types))
    ctx->used +=
        (size_t)snprintf(ctx->types + ctx->used, sizeof(ctx->types) - ctx->used,
                         "%s%s", ctx->used ? ", " : "", type);
}

strata_err_t strata_worker_register_exec(strata_worker_t *w,
                                         const strata_config_t *cfg,
                                         char *errstr, size_t size) {
  register_ctx_t ctx = {.w = w, .errstr = errstr, .size = size};
  exec_unknown_t *u;
  strata_err_t err;

  if ((err = strata_worker_check_exec(cfg, errstr, size)))
    return err;
  strata_config_foreach_prefix(cfg, "exec.", register_one, &ctx);
  if (ctx.err)
    return ctx.err;
  if (ctx.has_fallback)
    return STRATA_OK;
  if (!(u = calloc(1, sizeof(*u))) ||
      !(u->types = strdup(ctx.used ? ctx.types : "(none)"))) {
    free(u);
    return strata_errf(STRATA_ERR_NOMEM, errstr, size, "out of memory");
  }
  err = worker_register_owned(w, "*", exec_unknown, u, free_unknown);
  if (err == STRATA_ERR_EXISTS) {
    free_unknown(u); /* the caller's own fallback handles unknown types */
    return STRATA_OK;
  }
  if (err)
    free_unknown(u);
  return err ? strata_errf(err, errstr, size, "%s", strata_err2str(err))
             : STRATA_OK;
}
