/*
 * Level-gated logging, one logfmt line per event on stderr:
 *   ts=2026-11-22T13:10:49.123Z level=info comp=scheduler msg="..." k=v ...
 * STRATA_LOG() does not evaluate its arguments when the level is off.
 * librdkafka's log callback is routed here by strata_log_rdkafka_cb().
 * The scheduler core never logs: it returns what happened.
 */
#ifndef STRATA_LOG_H
#define STRATA_LOG_H

typedef enum {
  STRATA_LOG_ERROR = 0,
  STRATA_LOG_WARN = 1,
  STRATA_LOG_INFO = 2,
  STRATA_LOG_DEBUG = 3,
} strata_log_level_t;

extern strata_log_level_t strata_log_level_;

/* Sets the global level. Not thread-safe against concurrent logging calls'
 * level checks, which only ever see an old or new value. */
void strata_log_set_level(strata_log_level_t level);

/* Parses "error|warn|info|debug"; returns -1 if unknown. */
int strata_log_level_parse(const char *s);

/* Writes one line. `comp` names the component; `fmt` is the message,
 * which is quoted and escaped. Use STRATA_LOG rather than calling this. */
void strata_log_write(strata_log_level_t level, const char *comp,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define STRATA_LOG(level, comp, ...)                                           \
  do {                                                                         \
    if ((level) <= strata_log_level_)                                          \
      strata_log_write((level), (comp), __VA_ARGS__);                          \
  } while (0)

#define STRATA_ERROR(comp, ...) STRATA_LOG(STRATA_LOG_ERROR, comp, __VA_ARGS__)
#define STRATA_WARN(comp, ...) STRATA_LOG(STRATA_LOG_WARN, comp, __VA_ARGS__)
#define STRATA_INFO(comp, ...) STRATA_LOG(STRATA_LOG_INFO, comp, __VA_ARGS__)
#define STRATA_DEBUG(comp, ...) STRATA_LOG(STRATA_LOG_DEBUG, comp, __VA_ARGS__)

/* Signature-compatible with rd_kafka_conf_set_log_cb(); maps syslog levels. */
struct rd_kafka_s;
void strata_log_rdkafka_cb(const struct rd_kafka_s *rk, int level,
                           const char *fac, const char *buf);

#endif /* STRATA_LOG_H */
