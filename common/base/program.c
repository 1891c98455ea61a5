/*
 * Common option handling for strata, strata-scheduler and strata-worker. The
 * configuration is built in a fixed order (defaults, every --config file, then
 * every --set, then --log-level) whatever the order on the command line, so
 * overrides always win over files.
 */
#include "strata/program.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "strata/log.h"

/* The running program's name, for strata_program_oom(). */
static const char *prog_name = "strata";

void strata_program_oom(void) {
  fprintf(stderr, "%s: out of memory\n", prog_name);
  abort();
}

void strata_program_help(const strata_program_t *prog, FILE *out) {
  fprintf(out, "%s %s: %s\n\n", prog->name, STRATA_VERSION, prog->summary);
  if (prog->usage)
    fprintf(out, "%s\n", prog->usage);
  fprintf(out, "Common options:\n"
               "  --config FILE        read key=value lines from FILE\n"
               "  --set KEY=VALUE      set one configuration key "
               "(repeatable; wins over files)\n"
               "  --log-level LEVEL    error|warn|info|debug (same as "
               "--set log.level=LEVEL)\n"
               "  --help               show this help and exit\n"
               "  --version            show the version and exit\n\n");
  strata_config_print_help(out, prog->components);
}

void strata_program_usage_error(const strata_program_t *prog, const char *fmt,
                                ...) {
  va_list ap;

  fprintf(stderr, "%s: ", prog->name);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(see %s --help)\n", prog->name);
  exit(STRATA_EXIT_USAGE);
}

/* Returns the value of option `name` at argv[*i], as "--name V" or
 * "--name=V", advancing *i; NULL when argv[*i] is not that option. */
static const char *opt_value(const strata_program_t *prog, int argc,
                             char **argv, int *i, const char *name) {
  size_t n = strlen(name);

  if (strncmp(argv[*i], name, n))
    return NULL;
  if (argv[*i][n] == '=')
    return argv[*i] + n + 1;
  if (argv[*i][n] != '\0')
    return NULL;
  if (*i + 1 >= argc)
    strata_program_usage_error(prog, "option %s needs a value", name);
  return argv[++*i];
}

int strata_program_init(const strata_program_t *prog, int argc, char **argv,
                        strata_config_t **cfg_out) {
  prog_name = prog->name;
  const char **files = calloc((size_t)argc + 1, sizeof(*files));
  const char **sets = calloc((size_t)argc + 1, sizeof(*sets));
  const char *level = NULL;
  int nfiles = 0, nsets = 0, out = 1;
  strata_config_t *cfg;
  char err[512];

  if (!files || !sets || !(cfg = strata_config_new())) {
    fprintf(stderr, "%s: out of memory\n", prog->name);
    exit(STRATA_EXIT_FAILURE);
  }
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--")) {
      /* Everything after "--" belongs to the program. */
      while (i < argc)
        argv[out++] = argv[i++];
      break;
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      strata_program_help(prog, stdout);
      exit(STRATA_EXIT_OK);
    } else if (!strcmp(argv[i], "--version")) {
      printf("%s %s\n", prog->name, STRATA_VERSION);
      exit(STRATA_EXIT_OK);
    } else if ((v = opt_value(prog, argc, argv, &i, "--config"))) {
      files[nfiles++] = v;
    } else if ((v = opt_value(prog, argc, argv, &i, "--set"))) {
      sets[nsets++] = v;
    } else if ((v = opt_value(prog, argc, argv, &i, "--log-level"))) {
      level = v;
    } else {
      argv[out++] = argv[i];
    }
  }
  argv[out] = NULL;

  for (int i = 0; i < nfiles; i++)
    if (strata_config_load_file(cfg, files[i], err, sizeof(err)))
      strata_program_usage_error(prog, "%s", err);
  for (int i = 0; i < nsets; i++)
    if (strata_config_set_kv(cfg, sets[i], err, sizeof(err)))
      strata_program_usage_error(prog, "%s", err);
  if (level && strata_config_set(cfg, "log.level", level, err, sizeof(err)))
    strata_program_usage_error(prog, "%s", err);
  free(files);
  free(sets);

  strata_log_set_level((strata_log_level_t)strata_log_level_parse(
      strata_config_get_str(cfg, "log.level")));
  *cfg_out = cfg;
  return out;
}
