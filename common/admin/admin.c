/*
 * The admin HTTP server: parses the listen address, binds the socket itself
 * (so a failure names its cause, e.g. "address already in use"), and hands it
 * to libmicrohttpd, which serves it on one internal thread. Requests are
 * dispatched to routes; /metrics is one such route over a metrics registry.
 *
 * Invariants:
 *  - A disabled server (empty listen address) has mhd == NULL and port 0;
 *    everything else behaves the same.
 *  - Routes are only ever added. The route table is read and written under
 *    `lock`; a handler is called with the lock released, so a slow handler
 *    does not block strata_admin_route().
 *  - MHD owns the listening socket from a successful MHD_start_daemon() on
 *    and closes it in MHD_stop_daemon(); before that, this file closes it.
 *  - Request bodies are read and discarded: no route takes input in a body.
 *  - At most 64 connections at once, each closed after 30 s idle, so a
 *    stuck client cannot hold the admin thread's resources for ever.
 */
#include "strata/admin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "strata/log.h"

#define ADMIN_EXPECTED_FORM                                                    \
  "expected host:port such as \"127.0.0.1:9464\", \"[::1]:9464\" or "          \
  "\":9464\" (port 0..65535)"

#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define JSON_CONTENT_TYPE "application/json"

typedef struct {
  char *path;
  size_t len;
  bool prefix;
  strata_admin_handler_fn fn;
  void *opaque;
} route_t;

struct strata_admin_s {
  struct MHD_Daemon *mhd; /* NULL when disabled */
  int port;
  pthread_mutex_t lock; /* guards routes, nroutes, cap */
  route_t *routes;
  size_t nroutes, cap;
};

struct strata_admin_request_s {
  struct MHD_Connection *conn;
  const char *method;
  const char *path;
};

/* ---- Listen address ---------------------------------------------------- */

static strata_err_t parse_port(const char *addr, const char *s, int *port,
                               char *errstr, size_t size) {
  long v = 0;

  if (!*s || strlen(s) > 5)
    goto bad;
  for (const char *p = s; *p; p++) {
    if (*p < '0' || *p > '9')
      goto bad;
    v = v * 10 + (*p - '0');
  }
  if (v > 65535)
    goto bad;
  *port = (int)v;
  return STRATA_OK;

bad:
  return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                     "admin listen address \"%s\": port \"%s\" is not a "
                     "number in 0..65535; " ADMIN_EXPECTED_FORM,
                     addr, s);
}

static strata_err_t bad_host(const char *addr, char *errstr, size_t size) {
  return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                     "admin listen address \"%s\": host is not an IPv4 "
                     "address, \"localhost\" or a bracketed IPv6 "
                     "address; " ADMIN_EXPECTED_FORM,
                     addr);
}

/*
 * Splits "host:port", "[v6]:port" or ":port" into `host` (without brackets)
 * and the port text; `bracketed` tells which form it was.
 */
static strata_err_t split_listen(const char *addr, char *host, size_t hostsize,
                                 const char **port_str, bool *bracketed,
                                 char *errstr, size_t size) {
  const char *host_start = addr, *host_end;

  *bracketed = addr[0] == '[';
  if (*bracketed) {
    host_start = addr + 1;
    host_end = strchr(addr, ']');
    if (!host_end || host_end[1] != ':')
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "admin listen address \"%s\": an IPv6 address needs "
                         "\"]:port\" after it; " ADMIN_EXPECTED_FORM,
                         addr);
    *port_str = host_end + 2;
  } else {
    host_end = strrchr(addr, ':');
    if (!host_end)
      return strata_errf(
          STRATA_ERR_CONFIG, errstr, size,
          "admin listen address \"%s\": no port; " ADMIN_EXPECTED_FORM, addr);
    if (memchr(addr, ':', (size_t)(host_end - addr)))
      return strata_errf(STRATA_ERR_CONFIG, errstr, size,
                         "admin listen address \"%s\": an IPv6 address must "
                         "be in brackets; " ADMIN_EXPECTED_FORM,
                         addr);
    *port_str = host_end + 1;
  }
  if ((size_t)(host_end - host_start) >= hostsize)
    return bad_host(addr, errstr, size);
  memcpy(host, host_start, (size_t)(host_end - host_start));
  host[host_end - host_start] = '\0';
  return STRATA_OK;
}

/* Fills `ss` and `sslen` from a listen address. */
static strata_err_t parse_listen(const char *addr, struct sockaddr_storage *ss,
                                 socklen_t *sslen, char *errstr, size_t size) {
  struct sockaddr_in *sin = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
  char host[INET6_ADDRSTRLEN];
  const char *port_str = "";
  bool bracketed, ok;
  int port = 0;
  strata_err_t err;

  err = split_listen(addr, host, sizeof(host), &port_str, &bracketed, errstr,
                     size);
  if (err)
    return err;
  err = parse_port(addr, port_str, &port, errstr, size);
  if (err)
    return err;

  memset(ss, 0, sizeof(*ss));
  if (bracketed) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((uint16_t)port);
    ok = inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1;
    *sslen = sizeof(*sin6);
  } else {
    sin->sin_family = AF_INET;
    sin->sin_port = htons((uint16_t)port);
    /* No host means loopback: exposing more must be asked for. */
    if (!host[0] || strcmp(host, "localhost") == 0) {
      sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok = true;
    } else {
      ok = inet_pton(AF_INET, host, &sin->sin_addr) == 1;
    }
    *sslen = sizeof(*sin);
  }
  return ok ? STRATA_OK : bad_host(addr, errstr, size);
}

/* A listening socket on `addr`, or -1 with errstr filled. */
static int bind_listen(const char *addr, int *port, char *errstr, size_t size) {
  struct sockaddr_storage ss;
  socklen_t sslen = 0;
  int fd, one = 1;

  if (parse_listen(addr, &ss, &sslen, errstr, size))
    return -1;
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    strata_errf(STRATA_ERR_IO, errstr, size,
                "admin listen address \"%s\": socket: %s", addr,
                strerror(errno));
    return -1;
  }
  /* A restarted program must not wait out TIME_WAIT of its last run; on
   * Linux this still refuses a port that another socket listens on. */
  (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
    int e = errno;

    close(fd);
    if (e == EADDRINUSE)
      strata_errf(STRATA_ERR_IO, errstr, size,
                  "admin listen address \"%s\": address already in use", addr);
    else
      strata_errf(STRATA_ERR_IO, errstr, size,
                  "admin listen address \"%s\": bind: %s", addr, strerror(e));
    return -1;
  }
  if (listen(fd, 64) != 0) {
    int e = errno;

    close(fd);
    strata_errf(STRATA_ERR_IO, errstr, size,
                "admin listen address \"%s\": listen: %s", addr, strerror(e));
    return -1;
  }
  sslen = sizeof(ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0) {
    int e = errno;

    close(fd);
    strata_errf(STRATA_ERR_IO, errstr, size,
                "admin listen address \"%s\": getsockname: %s", addr,
                strerror(e));
    return -1;
  }
  *port = ss.ss_family == AF_INET6
              ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
              : ntohs(((struct sockaddr_in *)&ss)->sin_port);
  return fd;
}

/* ---- Responses --------------------------------------------------------- */

/* Queues `body` (malloc'd or NULL; freed here in every case). */
static enum MHD_Result queue(struct MHD_Connection *conn, int status,
                             const char *content_type, char *body, size_t len,
                             const char *allow) {
  struct MHD_Response *r;
  enum MHD_Result ret;

  if (body)
    r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
  else
    r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!r) {
    free(body);
    return MHD_NO;
  }
  if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type) !=
          MHD_YES ||
      (allow &&
       MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
    MHD_destroy_response(r);
    return MHD_NO;
  }
  ret = MHD_queue_response(conn, (unsigned)status, r);
  MHD_destroy_response(r);
  return ret;
}

/* {"error": error, key: value}, compact; value may be any bytes (invalid
 * UTF-8 drops the pair rather than the response). */
static enum MHD_Result queue_json_error(struct MHD_Connection *conn, int status,
                                        const char *error, const char *key,
                                        const char *value, const char *allow) {
  json_t *obj = json_pack("{s:s,s:s}", "error", error, key, value);
  char *body;

  if (!obj)
    obj = json_pack("{s:s}", "error", error);
  body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
  json_decref(obj);
  return queue(conn, status, JSON_CONTENT_TYPE, body, body ? strlen(body) : 0,
               allow);
}

strata_err_t strata_admin_respond(strata_admin_response_t *resp, int status,
                                  const char *content_type, const char *body) {
  size_t len = strlen(body);

  free(resp->body);
  resp->body = malloc(len + 1);
  resp->body_len = 0;
  if (!resp->body) {
    resp->status = 500;
    return STRATA_ERR_NOMEM;
  }
  memcpy(resp->body, body, len + 1);
  resp->body_len = len;
  resp->status = status;
  resp->content_type = content_type;
  return STRATA_OK;
}

/* ---- Dispatch ---------------------------------------------------------- */

/* True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, at
 * most U+10FFFF). Paths and query values arrive percent-decoded, so any
 * bytes at all can reach a handler; handlers build JSON, which must be
 * UTF-8, so a request that is not is refused before any handler runs. */
static bool utf8_valid(const char *s) {
  const unsigned char *p = (const unsigned char *)s;
  while (*p) {
    unsigned c = *p, n;
    uint32_t cp;
    if (c < 0x80) {
      p++;
      continue;
    }
    if (c >= 0xC2 && c <= 0xDF)
      n = 1, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
      n = 2, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
      n = 3, cp = c & 0x07;
    else
      return false;
    for (unsigned i = 1; i <= n; i++) {
      if ((p[i] & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
      return false;
    p += n + 1;
  }
  return true;
}

/* MHD_KeyValueIterator over the query: stops at the first argument whose
 * name or value is not UTF-8, noting it in *bad. */
static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value) {
  bool *bad = cls;
  (void)kind;
  if ((key && !utf8_valid(key)) || (value && !utf8_valid(value))) {
    *bad = true;
    return MHD_NO;
  }
  return MHD_YES;
}

/* The route for `path`, copied out under the lock; false when none. */
static bool find_route(strata_admin_t *a, const char *path, route_t *out) {
  const route_t *best = NULL;

  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < a->nroutes; i++) {
    const route_t *r = &a->routes[i];

    if (!r->prefix) {
      if (strcmp(r->path, path) == 0) {
        best = r;
        break;
      }
    } else if (strncmp(r->path, path, r->len) == 0 &&
               (!best || (best->prefix && r->len > best->len))) {
      best = r;
    }
  }
  if (best)
    *out = *best;
  pthread_mutex_unlock(&a->lock);
  return best != NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  static int seen_headers;
  strata_admin_t *a = cls;
  strata_admin_request_t req;
  strata_admin_response_t resp;
  route_t route;
  const char *ctype;

  (void)version;
  (void)upload_data;
  /* MHD calls once after the headers, then once per body chunk, then once
   * more with no data: answer on that last call. */
  if (!*con_cls) {
    *con_cls = &seen_headers;
    return MHD_YES;
  }
  if (*upload_data_size) {
    *upload_data_size = 0;
    return MHD_YES;
  }

  {
    bool bad = false;
    if (!utf8_valid(url))
      return queue_json_error(conn, MHD_HTTP_BAD_REQUEST,
                              "the request path is not valid UTF-8 once "
                              "percent-decoded",
                              "path", "(not shown)", NULL);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_arg, &bad);
    if (bad)
      return queue_json_error(conn, MHD_HTTP_BAD_REQUEST,
                              "a query argument is not valid UTF-8 once "
                              "percent-decoded",
                              "path", url, NULL);
  }
  if (!find_route(a, url, &route))
    return queue_json_error(conn, MHD_HTTP_NOT_FOUND, "not found", "path", url,
                            NULL);
  if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
      strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
    return queue_json_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
                            "method not allowed", "method", method,
                            "GET, HEAD");

  req.conn = conn;
  req.method = method;
  req.path = url;
  resp.status = MHD_HTTP_OK;
  resp.content_type = "text/plain; charset=utf-8";
  resp.body = NULL;
  resp.body_len = 0;
  route.fn(&req, &resp, route.opaque);

  ctype = resp.content_type ? resp.content_type : "text/plain; charset=utf-8";
  if (resp.status < 100 || resp.status > 599) {
    STRATA_WARN("admin", "handler for %s returned status %d; sending 500", url,
                resp.status);
    free(resp.body);
    return queue_json_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                            "internal error", "path", url, NULL);
  }
  return queue(conn, resp.status, ctype, resp.body,
               resp.body ? resp.body_len : 0, NULL);
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap) {
  char buf[256];
  size_t n;

  (void)cls;
  vsnprintf(buf, sizeof(buf), fmt, ap);
  n = strlen(buf);
  while (n > 0 && buf[n - 1] == '\n')
    buf[--n] = '\0';
  STRATA_WARN("admin", "%s", buf);
}

/* ---- Lifecycle --------------------------------------------------------- */

strata_admin_t *strata_admin_new(const char *addr, char *errstr, size_t size) {
  strata_admin_t *a = calloc(1, sizeof(*a));
  int fd;

  if (!a) {
    strata_errf(STRATA_ERR_NOMEM, errstr, size, "admin server: out of memory");
    return NULL;
  }
  pthread_mutex_init(&a->lock, NULL);
  if (!addr || !*addr)
    return a;

  fd = bind_listen(addr, &a->port, errstr, size);
  if (fd < 0)
    goto err;
  a->mhd = MHD_start_daemon(
      MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
      on_request, a, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, a,
      MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
  if (!a->mhd) {
    close(fd);
    strata_errf(STRATA_ERR_IO, errstr, size,
                "admin listen address \"%s\": the HTTP server did not start",
                addr);
    goto err;
  }
  return a;

err:
  pthread_mutex_destroy(&a->lock);
  free(a);
  return NULL;
}

void strata_admin_destroy(strata_admin_t *a) {
  if (!a)
    return;
  if (a->mhd)
    MHD_stop_daemon(a->mhd);
  for (size_t i = 0; i < a->nroutes; i++)
    free(a->routes[i].path);
  free(a->routes);
  pthread_mutex_destroy(&a->lock);
  free(a);
}

int strata_admin_port(const strata_admin_t *a) {
  return a->port;
}

strata_err_t strata_admin_route(strata_admin_t *a, const char *path,
                                bool prefix, strata_admin_handler_fn fn,
                                void *opaque) {
  strata_err_t err = STRATA_OK;
  char *copy;

  if (!path || path[0] != '/' || !fn)
    return STRATA_ERR_INVALID_ARG;
  copy = malloc(strlen(path) + 1);
  if (!copy)
    return STRATA_ERR_NOMEM;
  strcpy(copy, path);

  pthread_mutex_lock(&a->lock);
  for (size_t i = 0; i < a->nroutes; i++) {
    if (a->routes[i].prefix == prefix && strcmp(a->routes[i].path, path) == 0) {
      err = STRATA_ERR_EXISTS;
      goto out;
    }
  }
  if (a->nroutes == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 8;
    route_t *v = realloc(a->routes, cap * sizeof(*v));

    if (!v) {
      err = STRATA_ERR_NOMEM;
      goto out;
    }
    a->routes = v;
    a->cap = cap;
  }
  a->routes[a->nroutes++] = (route_t){
      .path = copy,
      .len = strlen(copy),
      .prefix = prefix,
      .fn = fn,
      .opaque = opaque,
  };
  copy = NULL;
out:
  pthread_mutex_unlock(&a->lock);
  free(copy);
  return err;
}

static void serve_metrics(const strata_admin_request_t *req,
                          strata_admin_response_t *resp, void *opaque) {
  strata_metrics_t *reg = opaque;
  char *text;
  size_t len;

  (void)req;
  if (strata_metrics_render(reg, &text, &len) != STRATA_OK) {
    strata_admin_respond(resp, 500, "text/plain; charset=utf-8",
                         "out of memory\n");
    return;
  }
  resp->content_type = METRICS_CONTENT_TYPE;
  resp->body = text;
  resp->body_len = len;
}

strata_err_t strata_admin_serve_metrics(strata_admin_t *a,
                                        strata_metrics_t *reg) {
  return strata_admin_route(a, "/metrics", false, serve_metrics, reg);
}

/* ---- Request accessors ------------------------------------------------- */

const char *strata_admin_request_method(const strata_admin_request_t *req) {
  return req->method;
}

const char *strata_admin_request_path(const strata_admin_request_t *req) {
  return req->path;
}

const char *strata_admin_request_query(const strata_admin_request_t *req,
                                       const char *key) {
  const char *value = NULL;
  size_t len = 0;

  if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, key,
                                    strlen(key), &value, &len) != MHD_YES)
    return NULL;
  return value ? value : "";
}
