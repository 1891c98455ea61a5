/*
 * Turns a simulation result into the two outputs of strata-sim: a table for
 * people and one line of JSON for programs. Both are pure functions of the
 * result, and every number is printed with a fixed format (integers as
 * integers, reals with 4 significant digits), so equal results always print as
 * equal bytes.
 */
#include <stdlib.h>

#include <jansson.h>

#include "sim.h"

static double ratio(uint64_t num, uint64_t den) {
  return den ? (double)num / (double)den : 0.0;
}

static int64_t max_of(strata_sim_samples_t *s) {
  return strata_sim_samples_pct(s, 100);
}

static json_t *tier_json(strata_sim_tier_result_t *t, uint64_t all_dispatched,
                         int with_weight) {
  json_t *o = json_object();
  json_t *w, *u;

  if (!o)
    return NULL;
  w = json_pack("{sIsIsI}", "p50",
                (json_int_t)strata_sim_samples_pct(&t->wait, 50), "p99",
                (json_int_t)strata_sim_samples_pct(&t->wait, 99), "max",
                (json_int_t)max_of(&t->wait));
  u = json_pack("{sIsIsIsI}", "n", (json_int_t)t->unblock.n, "p50",
                (json_int_t)strata_sim_samples_pct(&t->unblock, 50), "p99",
                (json_int_t)strata_sim_samples_pct(&t->unblock, 99), "max",
                (json_int_t)max_of(&t->unblock));
  json_object_set_new(o, "name", json_string(t->name));
  if (with_weight)
    json_object_set_new(o, "weight", json_integer(t->weight));
  json_object_set_new(o, "submitted", json_integer((json_int_t)t->submitted));
  json_object_set_new(o, "with_deadline",
                      json_integer((json_int_t)t->with_deadline));
  json_object_set_new(o, "dispatched", json_integer((json_int_t)t->dispatched));
  json_object_set_new(o, "completed", json_integer((json_int_t)t->completed));
  json_object_set_new(o, "misses_hard",
                      json_integer((json_int_t)t->misses_hard));
  json_object_set_new(o, "misses_soft",
                      json_integer((json_int_t)t->misses_soft));
  json_object_set_new(o, "late", json_integer((json_int_t)t->late));
  json_object_set_new(o, "expired", json_integer((json_int_t)t->expired));
  json_object_set_new(o, "dep_failed", json_integer((json_int_t)t->dep_failed));
  json_object_set_new(o, "failed", json_integer((json_int_t)t->failed));
  json_object_set_new(o, "pending", json_integer((json_int_t)t->pending));
  json_object_set_new(o, "aged", json_integer((json_int_t)t->aged));
  json_object_set_new(o, "retried", json_integer((json_int_t)t->retried));
  json_object_set_new(
      o, "miss_rate",
      json_real(ratio(t->misses_hard + t->misses_soft, t->with_deadline)));
  json_object_set_new(o, "dispatch_share",
                      json_real(ratio(t->dispatched, all_dispatched)));
  json_object_set_new(o, "wait_ms", w ? w : json_null());
  json_object_set_new(o, "unblock_ms", u ? u : json_null());
  /* Added fields, after the original ones so a reader of the old order
   * finds what it always found. */
  w = json_pack("{sIsIsI}", "p50",
                (json_int_t)strata_sim_samples_pct(&t->wait_censored, 50),
                "p99",
                (json_int_t)strata_sim_samples_pct(&t->wait_censored, 99),
                "max", (json_int_t)max_of(&t->wait_censored));
  json_object_set_new(o, "wait_censored_ms", w ? w : json_null());
  json_object_set_new(o, "lent", json_integer((json_int_t)t->lent));
  json_object_set_new(o, "urgent", json_integer((json_int_t)t->urgent));
  json_object_set_new(o, "backlogged_work_s",
                      json_real((double)t->backlog_ms / 1000.0));
  json_object_set_new(o, "backlogged_share",
                      json_real(ratio(t->backlog_run_ms, t->backlog_ms)));
  return o;
}

char *strata_sim_result_json(strata_sim_result_t *res) {
  json_t *root = json_object();
  json_t *tiers = json_array();
  char *out = NULL;

  if (!root || !tiers)
    goto done;
  json_object_set_new(root, "workload", json_string(res->workload));
  json_object_set_new(root, "policy",
                      json_string(strata_sim_policy_name(res->policy)));
  json_object_set_new(root, "seed", json_integer((json_int_t)res->seed));
  json_object_set_new(root, "duration_ms",
                      json_integer((json_int_t)res->duration_ms));
  json_object_set_new(root, "end_ms", json_integer((json_int_t)res->end_ms));
  json_object_set_new(root, "workers", json_integer(res->workers));
  json_object_set_new(root, "utilisation", json_real(res->utilisation));
  json_object_set_new(root, "busy",
                      json_real(res->end_ms > 0
                                    ? (double)res->busy_ms /
                                          ((double)res->end_ms * res->workers)
                                    : 0.0));
  json_object_set_new(root, "weighted_misses",
                      json_integer((json_int_t)res->weighted_misses));
  for (size_t i = 0; i < res->ntiers; i++)
    json_array_append_new(
        tiers, tier_json(&res->tiers[i], res->overall.dispatched, 1));
  json_object_set_new(root, "tiers", tiers);
  tiers = NULL;
  json_object_set_new(root, "overall",
                      tier_json(&res->overall, res->overall.dispatched, 0));
  out = json_dumps(root,
                   JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(4));
done:
  json_decref(tiers);
  json_decref(root);
  return out;
}

static void row(FILE *fp, strata_sim_tier_result_t *t,
                uint64_t all_dispatched) {
  fprintf(fp,
          "%-12s %8llu %8llu %6llu %6llu %6llu %6llu %6llu %6llu %6llu "
          "%6.1f%% %7lld %7lld %8lld %6.1f%% %7lld %7lld\n",
          t->name, (unsigned long long)t->submitted,
          (unsigned long long)t->completed, (unsigned long long)t->misses_hard,
          (unsigned long long)t->misses_soft, (unsigned long long)t->expired,
          (unsigned long long)t->dep_failed, (unsigned long long)t->failed,
          (unsigned long long)t->retried, (unsigned long long)t->pending,
          100.0 * ratio(t->misses_hard + t->misses_soft, t->with_deadline),
          (long long)strata_sim_samples_pct(&t->wait, 50),
          (long long)strata_sim_samples_pct(&t->wait, 99),
          (long long)max_of(&t->wait),
          100.0 * ratio(t->dispatched, all_dispatched),
          (long long)strata_sim_samples_pct(&t->unblock, 50),
          (long long)strata_sim_samples_pct(&t->unblock, 99));
}

void strata_sim_result_print(strata_sim_result_t *res, FILE *fp) {
  fprintf(fp,
          "workload %s, policy %s, seed %llu: %u workers, offered "
          "utilisation %.2f, arrivals for %.1f s, stopped at %.1f s, "
          "workers busy %.1f%%\n",
          res->workload, strata_sim_policy_name(res->policy),
          (unsigned long long)res->seed, res->workers, res->utilisation,
          (double)res->duration_ms / 1000.0, (double)res->end_ms / 1000.0,
          res->end_ms > 0 ? 100.0 * (double)res->busy_ms /
                                ((double)res->end_ms * res->workers)
                          : 0.0);
  fprintf(fp,
          "%-12s %8s %8s %6s %6s %6s %6s %6s %6s %6s %7s %7s %7s %8s %7s %7s "
          "%7s\n",
          "tier", "submit", "done", "hard", "soft", "expir", "depf", "fail",
          "retry", "pend", "miss", "w.p50", "w.p99", "w.max", "share", "ub.p50",
          "ub.p99");
  for (size_t i = 0; i < res->ntiers; i++)
    row(fp, &res->tiers[i], res->overall.dispatched);
  row(fp, &res->overall, res->overall.dispatched);
  fprintf(fp, "weighted misses (sum of tier weight x hard+soft misses): %llu\n",
          (unsigned long long)res->weighted_misses);
}
