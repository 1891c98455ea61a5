/*
 * Message text for strata_err_t, generated from the same X-macro list as the
 * enum, and the errstr helper every constructor uses.
 */
#include "strata/err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const err_text[] = {
#define STRATA_ERR_TEXT_(name, text) text,
    STRATA_ERRORS(STRATA_ERR_TEXT_)
#undef STRATA_ERR_TEXT_
};

static const char *const err_names[] = {
#define STRATA_ERR_NAME_(name, text) #name,
    STRATA_ERRORS(STRATA_ERR_NAME_)
#undef STRATA_ERR_NAME_
};

const char *strata_err2str(strata_err_t err) {
  if ((int)err < 0 || err >= STRATA_ERR__END)
    return "unknown error";
  return err_text[err];
}

const char *strata_err_name(strata_err_t err) {
  if ((int)err < 0 || err >= STRATA_ERR__END)
    return "STRATA_ERR_UNKNOWN";
  return err_names[err];
}

strata_err_t strata_errf(strata_err_t err, char *errstr, size_t size,
                         const char *fmt, ...) {
  va_list ap;

  if (!errstr || size == 0)
    return err;
  va_start(ap, fmt);
  vsnprintf(errstr, size, fmt, ap);
  va_end(ap);
  return err;
}
