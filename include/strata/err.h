/*
 * Strata's one error enum. STRATA_OK is 0; every other value names a class of
 * failure, and strata_err2str() gives its message text. The enum and its
 * strings come from one X-macro list, so they cannot drift apart.
 *
 * Functions that fail for a reason a person must see also fill a caller-owned
 * `errstr` buffer naming the thing that was wrong (config key, field, byte
 * offset) and what would be right.
 */
#ifndef STRATA_ERR_H
#define STRATA_ERR_H

#include <stddef.h>

#define STRATA_ERRORS(X)                                                       \
  X(STRATA_OK, "success")                                                      \
  X(STRATA_ERR_INVALID_ARG, "invalid argument")                                \
  X(STRATA_ERR_NOMEM, "out of memory")                                         \
  X(STRATA_ERR_CONFIG, "invalid configuration")                                \
  X(STRATA_ERR_DECODE, "record does not decode")                               \
  X(STRATA_ERR_ENCODE, "record does not encode")                               \
  X(STRATA_ERR_UNKNOWN_SCHEMA, "unknown writer schema fingerprint")            \
  X(STRATA_ERR_TOO_LARGE, "input exceeds a size limit")                        \
  X(STRATA_ERR_INVALID_TASK, "task is invalid")                                \
  X(STRATA_ERR_NOT_FOUND, "not found")                                         \
  X(STRATA_ERR_EXISTS, "already exists")                                       \
  X(STRATA_ERR_FULL, "capacity reached")                                       \
  X(STRATA_ERR_CYCLE, "dependency cycle")                                      \
  X(STRATA_ERR_STATE, "operation not valid in the current state")              \
  X(STRATA_ERR_KAFKA, "Kafka error")                                           \
  X(STRATA_ERR_FENCED, "fenced by a newer instance")                           \
  X(STRATA_ERR_TIMEOUT, "timed out")                                           \
  X(STRATA_ERR_IO, "I/O error")                                                \
  X(STRATA_ERR_DRIFT, "topic layout differs from the expected one")            \
  X(STRATA_ERR_UNSUPPORTED, "not supported")

typedef enum {
#define STRATA_ERR_ENUM_(name, text) name,
  STRATA_ERRORS(STRATA_ERR_ENUM_)
#undef STRATA_ERR_ENUM_
      STRATA_ERR__END
} strata_err_t;

/* Returns a static, never-NULL message for `err`. */
const char *strata_err2str(strata_err_t err);

/* Returns the enum's name as a string ("STRATA_ERR_CONFIG"), static. */
const char *strata_err_name(strata_err_t err);

/*
 * printf-style fill of a caller-owned error buffer; safe with errstr == NULL or
 * size == 0. Always NUL-terminates. Returns `err` so callers can write
 * `return strata_errf(STRATA_ERR_CONFIG, errstr, size, "...", ...);`.
 */
strata_err_t strata_errf(strata_err_t err, char *errstr, size_t size,
                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif /* STRATA_ERR_H */
