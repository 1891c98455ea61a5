/*
 * The admin HTTP server: a small HTTP/1.1 listener (libmicrohttpd) for
 * /metrics and whatever read-only endpoints a program adds with
 * strata_admin_route().
 *
 * Requests are served on one internal thread owned by the server, never on
 * the caller's event loop. Consequence for handlers: they run concurrently
 * with every other thread of the program (though never with each other), so
 * a handler that reads program state must take that state's lock or read a
 * snapshot the program publishes; it must not block for long, since it
 * delays every other request.
 *
 * Only GET and HEAD are served (HEAD is GET without the body). A path with no
 * route gets 404, a routed path with another method gets 405 and an Allow
 * header; both with a JSON body {"error": "...", ...}.
 *
 * Thread safety: strata_admin_route() and strata_admin_serve_metrics() may be
 * called at any time from any thread, also while requests are served;
 * strata_admin_destroy() must not race with them.
 */
#ifndef STRATA_ADMIN_H
#define STRATA_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "strata/err.h"
#include "strata/metrics.h"

typedef struct strata_admin_s strata_admin_t;

/* One request, valid only during the handler call. */
typedef struct strata_admin_request_s strata_admin_request_t;

/*
 * What a handler fills in. On entry: status 200, content_type
 * "text/plain; charset=utf-8", body NULL, body_len 0. `content_type` need
 * only live until the handler returns (it is copied). `body` must be
 * malloc'd, or NULL for an empty body; the server frees it after sending.
 */
typedef struct {
  int status;
  const char *content_type;
  char *body;
  size_t body_len;
} strata_admin_response_t;

/* Handlers run on the server's thread; see the file comment. */
typedef void (*strata_admin_handler_fn)(const strata_admin_request_t *req,
                                        strata_admin_response_t *resp,
                                        void *opaque);

/*
 * Binds and starts serving. `listen_addr` is "host:port" with host an IPv4
 * literal, "localhost", or an IPv6 literal in brackets ("[::1]:9464");
 * an empty host (":9464") means 127.0.0.1, so nothing is exposed beyond the
 * machine unless asked for ("0.0.0.0:9464", "[::]:9464"). Port 0 picks a
 * free port; strata_admin_port() tells which.
 *
 * An empty or NULL `listen_addr` gives a disabled server: routes may be added,
 * nothing listens, and strata_admin_port() returns 0. This lets a program
 * set up its endpoints the same way whether or not they are served.
 *
 * Returns NULL on failure with errstr naming the address and what was wrong:
 * malformed address or port (and the expected form), address already in use,
 * or another bind/listen error. The caller owns the result.
 */
strata_admin_t *strata_admin_new(const char *listen_addr, char *errstr,
                                 size_t size);

/* Stops serving, waits for a running handler to return, frees everything;
 * accepts NULL. */
void strata_admin_destroy(strata_admin_t *a);

/* The bound TCP port, or 0 when disabled. */
int strata_admin_port(const strata_admin_t *a);

/*
 * Routes `path` (prefix == false: exactly that path; prefix == true: every
 * path starting with it) to `fn`. An exact route beats a prefix route; among
 * prefixes the longest wins. `path` is copied; `opaque` is passed to fn and
 * stays owned by the caller, who keeps it alive until strata_admin_destroy().
 * Returns STRATA_ERR_INVALID_ARG when path does not start with '/',
 * STRATA_ERR_EXISTS when the same path and kind are already routed.
 */
strata_err_t strata_admin_route(strata_admin_t *a, const char *path,
                                bool prefix, strata_admin_handler_fn fn,
                                void *opaque);

/* Serves `reg` at /metrics with content type
 * "text/plain; version=0.0.4; charset=utf-8". `reg` stays owned by the
 * caller and must outlive `a`. */
strata_err_t strata_admin_serve_metrics(strata_admin_t *a,
                                        strata_metrics_t *reg);

/* "GET" or "HEAD" (handlers see no other method). */
const char *strata_admin_request_method(const strata_admin_request_t *req);

/* The decoded path without the query string, e.g. "/tasks/abc". */
const char *strata_admin_request_path(const strata_admin_request_t *req);

/* The decoded value of query parameter `key`, "" when given without a value
 * ("?verbose"), NULL when absent. Owned by the request. */
const char *strata_admin_request_query(const strata_admin_request_t *req,
                                       const char *key);

/*
 * Convenience for handlers: sets status and content type and copies `body`
 * (NUL-terminated) into a malloc'd response body, freeing any previous one.
 * Returns STRATA_ERR_NOMEM when the copy fails; the response is then a 500.
 */
strata_err_t strata_admin_respond(strata_admin_response_t *resp, int status,
                                  const char *content_type, const char *body);

#endif /* STRATA_ADMIN_H */
