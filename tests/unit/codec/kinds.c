/* The void * wrappers behind kind_ops[]. */
#include "kinds.h"

#define WRAP(k, T)                                                             \
  static void k##_init_w(void *o) {                                            \
    strata_##k##_init(o);                                                      \
  }                                                                            \
  static void k##_clear_w(void *o) {                                           \
    strata_##k##_clear(o);                                                     \
  }                                                                            \
  static void k##_full_w(void *o) {                                            \
    fixture_##k##_full(o);                                                     \
  }                                                                            \
  static void k##_min_w(void *o) {                                             \
    fixture_##k##_minimal(o);                                                  \
  }                                                                            \
  static strata_err_t k##_enc_w(const void *i, void **o, size_t *l, char *e,   \
                                size_t s) {                                    \
    return strata_##k##_encode(i, o, l, e, s);                                 \
  }                                                                            \
  static strata_err_t k##_dec_w(const void *d, size_t l, void *o, char *e,     \
                                size_t s) {                                    \
    return strata_##k##_decode(d, l, o, e, s);                                 \
  }                                                                            \
  static json_t *k##_tj_w(const void *o) {                                     \
    return strata_##k##_to_json(o);                                            \
  }                                                                            \
  static strata_err_t k##_fj_w(const json_t *j, void *o, char *e, size_t s) {  \
    return strata_##k##_from_json(j, o, e, s);                                 \
  }                                                                            \
  static strata_err_t k##_cp_w(void *d, const void *s, char *e, size_t n) {    \
    return strata_##k##_copy(d, s, e, n);                                      \
  }

WRAP(task, strata_task_t)
WRAP(event, strata_event_t)
WRAP(control, strata_control_t)
WRAP(deadletter, strata_deadletter_t)

#define OPS(k, T, K, nm)                                                       \
  {                                                                            \
    nm, K, sizeof(T), k##_init_w, k##_clear_w, k##_full_w, k##_min_w,          \
        k##_enc_w, k##_dec_w, k##_tj_w, k##_fj_w, k##_cp_w                     \
  }

const kind_ops_t kind_ops[4] = {
    OPS(task, strata_task_t, STRATA_RECORD_TASK, "Task"),
    OPS(event, strata_event_t, STRATA_RECORD_EVENT, "TaskEvent"),
    OPS(control, strata_control_t, STRATA_RECORD_CONTROL, "Control"),
    OPS(deadletter, strata_deadletter_t, STRATA_RECORD_DEADLETTER,
        "DeadLetter"),
};
