/*
 * The admin HTTP server on loopback with ephemeral ports: /metrics, custom
 * routes with query parameters, 404, 405, handler statuses, and the errors
 * for bad or busy listen addresses. Requests go through libcurl, which
 * returns once the response is complete, so nothing here waits or sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strata/admin.h"
#include "strata/metrics.h"

typedef struct {
  long status;
  char *body;
  size_t len;
  char content_type[128];
  char allow[64];
} http_resp_t;

static size_t on_body(char *data, size_t size, size_t n, void *p) {
  http_resp_t *r = p;
  char *grown = realloc(r->body, r->len + size * n + 1);

  if (!grown)
    return 0;
  r->body = grown;
  memcpy(r->body + r->len, data, size * n);
  r->len += size * n;
  r->body[r->len] = '\0';
  return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *p) {
  http_resp_t *r = p;
  size_t len = size * n;

  if (len > 7 && strncmp(data, "Allow: ", 7) == 0) {
    size_t vlen = len - 7;

    while (vlen > 0 &&
           (data[7 + vlen - 1] == '\r' || data[7 + vlen - 1] == '\n'))
      vlen--;
    if (vlen < sizeof(r->allow)) {
      memcpy(r->allow, data + 7, vlen);
      r->allow[vlen] = '\0';
    }
  }
  return len;
}

/* Performs one request; `method` NULL means GET. The caller frees r->body. */
static void http(const char *method, const char *url, http_resp_t *r) {
  CURL *curl = curl_easy_init();
  char *ctype = NULL;

  memset(r, 0, sizeof(*r));
  assert_non_null(curl);
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, r);
  if (method && strcmp(method, "HEAD") == 0) {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (method && strcmp(method, "POST") == 0) {
    /* A body the server must read and discard before answering. */
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "tier=critical&n=1");
  } else if (method) {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
  }
  assert_int_equal(curl_easy_perform(curl), CURLE_OK);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r->status);
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype);
  if (ctype)
    snprintf(r->content_type, sizeof(r->content_type), "%s", ctype);
  if (!r->body)
    r->body = calloc(1, 1);
  curl_easy_cleanup(curl);
}

static void url_for(char *buf, size_t size, const strata_admin_t *a,
                    const char *path) {
  snprintf(buf, size, "http://127.0.0.1:%d%s", strata_admin_port(a), path);
}

static strata_admin_t *start_loopback(void) {
  char err[256] = "";
  strata_admin_t *a = strata_admin_new("127.0.0.1:0", err, sizeof(err));

  if (!a)
    fail_msg("strata_admin_new: %s", err);
  assert_true(strata_admin_port(a) > 0);
  return a;
}

static int group_setup(void **state) {
  (void)state;
  return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state) {
  (void)state;
  curl_global_cleanup();
  return 0;
}

static void test_admin_serves_metrics_in_text_format(void **state) {
  strata_admin_t *a = start_loopback();
  strata_metrics_t *reg = strata_metrics_new();
  http_resp_t r;
  char url[128], err[256];
  (void)state;

  strata_metrics_counter_add(strata_metrics_child(strata_metrics_counter(
                                 reg, "strata_dispatched", "Tasks dispatched.",
                                 0, NULL, err, sizeof(err))),
                             7);
  assert_int_equal(strata_admin_serve_metrics(a, reg), STRATA_OK);
  url_for(url, sizeof(url), a, "/metrics");
  http(NULL, url, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.content_type,
                      "text/plain; version=0.0.4; charset=utf-8");
  assert_string_equal(r.body, "# HELP strata_dispatched_total Tasks "
                              "dispatched.\n"
                              "# TYPE strata_dispatched_total counter\n"
                              "strata_dispatched_total 7\n");
  free(r.body);

  /* HEAD: same status, no body. */
  http("HEAD", url, &r);
  assert_int_equal(r.status, 200);
  assert_int_equal(r.len, 0);
  free(r.body);

  strata_admin_destroy(a);
  strata_metrics_destroy(reg);
}

/* Writes what it saw, so the test can check the request accessors. */
static void echo_handler(const strata_admin_request_t *req,
                         strata_admin_response_t *resp, void *opaque) {
  const char *tag = opaque;
  const char *tier = strata_admin_request_query(req, "tier");
  const char *verbose = strata_admin_request_query(req, "verbose");
  const char *missing = strata_admin_request_query(req, "missing");
  char buf[512];

  snprintf(buf, sizeof(buf),
           "{\"route\":\"%s\",\"method\":\"%s\",\"path\":\"%s\","
           "\"tier\":\"%s\",\"verbose\":\"%s\",\"missing\":%s}",
           tag, strata_admin_request_method(req),
           strata_admin_request_path(req), tier ? tier : "(absent)",
           verbose ? verbose : "(absent)", missing ? "\"?\"" : "null");
  assert_int_equal(strata_admin_respond(resp, 200, "application/json", buf),
                   STRATA_OK);
}

static void test_admin_custom_route_sees_method_path_and_query(void **state) {
  strata_admin_t *a = start_loopback();
  http_resp_t r;
  char url[256];
  (void)state;

  assert_int_equal(
      strata_admin_route(a, "/tasks", false, echo_handler, (void *)"exact"),
      STRATA_OK);
  url_for(url, sizeof(url), a, "/tasks?tier=critical%20hi&verbose&x=1");
  http(NULL, url, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.content_type, "application/json");
  assert_string_equal(r.body, "{\"route\":\"exact\",\"method\":\"GET\","
                              "\"path\":\"/tasks\",\"tier\":\"critical hi\","
                              "\"verbose\":\"\",\"missing\":null}");
  free(r.body);
  strata_admin_destroy(a);
}

static void
test_admin_exact_beats_prefix_and_longest_prefix_wins(void **state) {
  strata_admin_t *a = start_loopback();
  http_resp_t r;
  char url[256];
  (void)state;

  assert_int_equal(
      strata_admin_route(a, "/tasks/", true, echo_handler, (void *)"tasks/*"),
      STRATA_OK);
  assert_int_equal(strata_admin_route(a, "/tasks/held/", true, echo_handler,
                                      (void *)"held/*"),
                   STRATA_OK);
  assert_int_equal(strata_admin_route(a, "/tasks/held/x", false, echo_handler,
                                      (void *)"exact"),
                   STRATA_OK);

  url_for(url, sizeof(url), a, "/tasks/abc");
  http(NULL, url, &r);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.body, "\"route\":\"tasks/*\""));
  assert_non_null(strstr(r.body, "\"path\":\"/tasks/abc\""));
  free(r.body);

  url_for(url, sizeof(url), a, "/tasks/held/abc");
  http(NULL, url, &r);
  assert_non_null(strstr(r.body, "\"route\":\"held/*\""));
  free(r.body);

  url_for(url, sizeof(url), a, "/tasks/held/x");
  http(NULL, url, &r);
  assert_non_null(strstr(r.body, "\"route\":\"exact\""));
  free(r.body);

  /* The prefix "/tasks/" does not cover "/tasks". */
  url_for(url, sizeof(url), a, "/tasks");
  http(NULL, url, &r);
  assert_int_equal(r.status, 404);
  free(r.body);
  strata_admin_destroy(a);
}

static void test_admin_unknown_path_is_404_with_json_body(void **state) {
  strata_admin_t *a = start_loopback();
  http_resp_t r;
  char url[128];
  (void)state;

  url_for(url, sizeof(url), a, "/nope?x=1");
  http(NULL, url, &r);
  assert_int_equal(r.status, 404);
  assert_string_equal(r.content_type, "application/json");
  assert_string_equal(r.body, "{\"error\":\"not found\",\"path\":\"/nope\"}");
  free(r.body);
  /* Also for methods that would be 405 on a routed path. */
  http("DELETE", url, &r);
  assert_int_equal(r.status, 404);
  free(r.body);
  strata_admin_destroy(a);
}

/* A handler that must never be reached by a request that is not UTF-8. */
static void echo_json(const strata_admin_request_t *req,
                      strata_admin_response_t *resp, void *opaque) {
  (void)opaque;
  strata_admin_respond(resp, 200, "application/json",
                       strata_admin_request_path(req));
}

static void test_admin_refuses_requests_that_are_not_utf8(void **state) {
  strata_admin_t *a = start_loopback();
  http_resp_t r;
  char url[128];
  const char *bad[] = {"/tasks/%ff%fe",    "/tasks?tier=%ff",
                       "/tasks?state=%ff", "/tasks/%c0%af", /* overlong "/" */
                       "/tasks/%ed%a0%80",                  /* a surrogate */
                       "/tasks?%ff=1"};
  (void)state;

  assert_int_equal(strata_admin_route(a, "/tasks", false, echo_json, NULL),
                   STRATA_OK);
  assert_int_equal(strata_admin_route(a, "/tasks/", true, echo_json, NULL),
                   STRATA_OK);
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    url_for(url, sizeof(url), a, bad[i]);
    http(NULL, url, &r);
    if (r.status != 400)
      fail_msg("%s: status %ld, expected 400", bad[i], r.status);
    assert_non_null(strstr(r.body, "not valid UTF-8"));
    free(r.body);
  }
  /* Well-formed multi-byte text still reaches the handler. */
  url_for(url, sizeof(url), a, "/tasks/caf%c3%a9?tier=%e2%82%ac");
  http(NULL, url, &r);
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body, "/tasks/caf\xc3\xa9");
  free(r.body);
  strata_admin_destroy(a);
}

static void test_admin_non_get_is_405_with_allow_header(void **state) {
  strata_admin_t *a = start_loopback();
  strata_metrics_t *reg = strata_metrics_new();
  http_resp_t r;
  char url[128];
  (void)state;

  assert_int_equal(strata_admin_serve_metrics(a, reg), STRATA_OK);
  url_for(url, sizeof(url), a, "/metrics");
  http("POST", url, &r);
  assert_int_equal(r.status, 405);
  assert_string_equal(r.allow, "GET, HEAD");
  assert_string_equal(r.content_type, "application/json");
  assert_string_equal(r.body,
                      "{\"error\":\"method not allowed\",\"method\":\"POST\"}");
  free(r.body);
  http("DELETE", url, &r);
  assert_int_equal(r.status, 405);
  assert_string_equal(r.allow, "GET, HEAD");
  free(r.body);
  /* The server still serves GET on the same path afterwards. */
  http(NULL, url, &r);
  assert_int_equal(r.status, 200);
  free(r.body);
  strata_admin_destroy(a);
  strata_metrics_destroy(reg);
}

static void status_handler(const strata_admin_request_t *req,
                           strata_admin_response_t *resp, void *opaque) {
  (void)req;
  resp->status = *(const int *)opaque;
}

static void
test_admin_handler_status_is_sent_and_invalid_becomes_500(void **state) {
  strata_admin_t *a = start_loopback();
  static int unavailable = 503, bogus = 42;
  http_resp_t r;
  char url[128];
  (void)state;

  assert_int_equal(
      strata_admin_route(a, "/ready", false, status_handler, &unavailable),
      STRATA_OK);
  assert_int_equal(
      strata_admin_route(a, "/bogus", false, status_handler, &bogus),
      STRATA_OK);
  url_for(url, sizeof(url), a, "/ready");
  http(NULL, url, &r);
  assert_int_equal(r.status, 503);
  assert_int_equal(r.len, 0);
  assert_string_equal(r.content_type, "text/plain; charset=utf-8");
  free(r.body);
  url_for(url, sizeof(url), a, "/bogus");
  http(NULL, url, &r);
  assert_int_equal(r.status, 500);
  free(r.body);
  strata_admin_destroy(a);
}

static void test_admin_route_rejects_bad_paths_and_duplicates(void **state) {
  strata_admin_t *a = strata_admin_new("", NULL, 0);
  (void)state;

  assert_non_null(a);
  assert_int_equal(strata_admin_route(a, "metrics", false, echo_handler, NULL),
                   STRATA_ERR_INVALID_ARG);
  assert_int_equal(strata_admin_route(a, "/x", false, NULL, NULL),
                   STRATA_ERR_INVALID_ARG);
  assert_int_equal(strata_admin_route(a, "/x", false, echo_handler, NULL),
                   STRATA_OK);
  assert_int_equal(strata_admin_route(a, "/x", false, echo_handler, NULL),
                   STRATA_ERR_EXISTS);
  /* The same path as a prefix is a different route. */
  assert_int_equal(strata_admin_route(a, "/x", true, echo_handler, NULL),
                   STRATA_OK);
  strata_admin_destroy(a);
}

static void test_admin_empty_listen_address_disables_serving(void **state) {
  strata_metrics_t *reg = strata_metrics_new();
  strata_admin_t *a;
  char err[256] = "";
  (void)state;

  a = strata_admin_new("", err, sizeof(err));
  assert_non_null(a);
  assert_int_equal(strata_admin_port(a), 0);
  assert_int_equal(strata_admin_serve_metrics(a, reg), STRATA_OK);
  strata_admin_destroy(a);
  a = strata_admin_new(NULL, err, sizeof(err));
  assert_non_null(a);
  assert_int_equal(strata_admin_port(a), 0);
  strata_admin_destroy(a);
  strata_admin_destroy(NULL);
  strata_metrics_destroy(reg);
}

static void test_admin_bad_addresses_give_precise_errors(void **state) {
  static const struct {
    const char *listen;
    const char *want;
  } cases[] = {
      {"127.0.0.1", "admin listen address \"127.0.0.1\": no port"},
      {"127.0.0.1:", "port \"\" is not a number in 0..65535"},
      {"127.0.0.1:65536", "port \"65536\" is not a number in 0..65535"},
      {"127.0.0.1:80x", "port \"80x\" is not a number in 0..65535"},
      {"127.0.0.1:-1", "port \"-1\" is not a number in 0..65535"},
      {"example.org:9464", "admin listen address \"example.org:9464\": host "
                           "is not an IPv4 address"},
      {"256.0.0.1:9464", "host is not an IPv4 address"},
      {"::1:9464", "an IPv6 address must be in brackets"},
      {"[::1:9464", "an IPv6 address needs \"]:port\" after it"},
      {"[::1]9464", "an IPv6 address needs \"]:port\" after it"},
      {"[::g]:9464", "host is not an IPv4 address"},
      {"[::1]:99999", "port \"99999\" is not a number in 0..65535"},
      {"a-very-long-host-name-that-is-no-address.example.org:9464",
       "host is not an IPv4 address"},
  };
  char err[512];
  (void)state;

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    err[0] = '\0';
    if (strata_admin_new(cases[i].listen, err, sizeof(err)))
      fail_msg("\"%s\" was accepted", cases[i].listen);
    if (!strstr(err, cases[i].want))
      fail_msg("\"%s\": got \"%s\", want it to contain \"%s\"", cases[i].listen,
               err, cases[i].want);
    /* Every message names the value and shows the expected form. */
    assert_non_null(strstr(err, cases[i].listen));
    assert_non_null(strstr(err, "expected host:port such as "
                                "\"127.0.0.1:9464\", \"[::1]:9464\""));
  }
}

static void test_admin_address_in_use_names_the_address(void **state) {
  strata_admin_t *a = start_loopback();
  char addr[64], want[128], err[256] = "";
  (void)state;

  snprintf(addr, sizeof(addr), "127.0.0.1:%d", strata_admin_port(a));
  assert_null(strata_admin_new(addr, err, sizeof(err)));
  snprintf(want, sizeof(want),
           "admin listen address \"%s\": address already in use", addr);
  assert_string_equal(err, want);
  strata_admin_destroy(a);
}

static void test_admin_empty_host_binds_loopback(void **state) {
  strata_admin_t *a;
  strata_metrics_t *reg = strata_metrics_new();
  http_resp_t r;
  char url[128], err[256] = "";
  (void)state;

  a = strata_admin_new(":0", err, sizeof(err));
  if (!a)
    fail_msg("strata_admin_new(\":0\"): %s", err);
  assert_int_equal(strata_admin_serve_metrics(a, reg), STRATA_OK);
  url_for(url, sizeof(url), a, "/metrics");
  http(NULL, url, &r);
  assert_int_equal(r.status, 200);
  free(r.body);
  strata_admin_destroy(a);
  strata_metrics_destroy(reg);
}

static void test_admin_serves_ipv6_loopback(void **state) {
  strata_admin_t *a;
  strata_metrics_t *reg = strata_metrics_new();
  http_resp_t r;
  char url[128], err[256] = "";
  (void)state;

  a = strata_admin_new("[::1]:0", err, sizeof(err));
  if (!a) {
    /* Containers without IPv6 cannot bind ::1; that is not a bug here. */
    strata_metrics_destroy(reg);
    if (strstr(err, "bind:") || strstr(err, "socket:"))
      skip();
    fail_msg("strata_admin_new(\"[::1]:0\"): %s", err);
  }
  assert_true(strata_admin_port(a) > 0);
  assert_int_equal(strata_admin_serve_metrics(a, reg), STRATA_OK);
  snprintf(url, sizeof(url), "http://[::1]:%d/metrics", strata_admin_port(a));
  http(NULL, url, &r);
  assert_int_equal(r.status, 200);
  free(r.body);
  strata_admin_destroy(a);
  strata_metrics_destroy(reg);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_admin_serves_metrics_in_text_format),
      cmocka_unit_test(test_admin_custom_route_sees_method_path_and_query),
      cmocka_unit_test(test_admin_exact_beats_prefix_and_longest_prefix_wins),
      cmocka_unit_test(test_admin_unknown_path_is_404_with_json_body),
      cmocka_unit_test(test_admin_non_get_is_405_with_allow_header),
      cmocka_unit_test(test_admin_refuses_requests_that_are_not_utf8),
      cmocka_unit_test(
          test_admin_handler_status_is_sent_and_invalid_becomes_500),
      cmocka_unit_test(test_admin_route_rejects_bad_paths_and_duplicates),
      cmocka_unit_test(test_admin_empty_listen_address_disables_serving),
      cmocka_unit_test(test_admin_bad_addresses_give_precise_errors),
      cmocka_unit_test(test_admin_address_in_use_names_the_address),
      cmocka_unit_test(test_admin_empty_host_binds_loopback),
      cmocka_unit_test(test_admin_serves_ipv6_loopback),
  };

  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
