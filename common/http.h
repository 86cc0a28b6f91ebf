/*
 * http: hearth's HTTP server, the only place libmicrohttpd (MHD) is used.
 *
 * A server is a route table plus an MHD daemon (epoll, internal thread
 * pool). Each request goes through these states; the function that makes
 * each step is on the arrow:
 *
 *   headers in ──http_begin──▶ ROUTED ──http_body (per chunk)──▶ ROUTED
 *      │ no route, wrong method, headers too big, body too big (below) │
 *      ▼                                              body done      ▼
 *   REJECTED: the JSON error is queued at once when a  http_dispatch:
 *      │ body is announced (MHD then closes without    handler runs,
 *      │ reading it), else on the next call            response queued
 *      │ (REJECT_PENDING), which keeps keep-alive
 *      │
 *      │   TOO_LARGE, when a streamed body passes max_body_bytes, or when
 *      │   Content-Length is over it by less than HTTP_DISCARD_MAX (16 MiB)
 *      │   and the client does not wait for 100 Continue: chunks are
 *      │   dropped and 413 is sent at the end, so the client reads it
 *      │   instead of a reset connection; one that sends more than
 *      │   HTTP_DISCARD_MAX past the limit is disconnected
 *      ▼
 *   http_completed (MHD_OPTION_NOTIFY_COMPLETED): metrics, arena and
 *   body freed
 *
 * (MHD 0.9.75 cannot queue a response while a body is still arriving, so
 * a streamed body that is too large is read to the end and dropped; it is
 * never buffered.)
 *
 * Slow clients (http_conn.c). MHD is event driven, so a client that sends
 * one byte a second holds a connection, not a thread; what it can exhaust
 * is connections. Three bounds keep them available: max_connections
 * (more wait in the listen backlog), max_connections_per_ip (more are
 * closed at once), and read_timeout_ms: a connection that has not
 * delivered a whole request (headers and body) that long after it opened
 * or after its previous response is shut down, however steadily it
 * trickles bytes (MHD's own connection_timeout only fires on silence).
 * While a handler runs or an answer is sent, the deadline does not apply.
 *
 * Invariants:
 *  (1) routes are added before hearth_http_server_start and never after,
 *      so request threads read the table without locks;
 *  (2) a request's body is at most max_body_bytes (when not 0) in memory;
 *  (3) every request MHD hands us is counted exactly once in
 *      hearth_http_requests_total, when it completes (status 499 when
 *      the client left before any answer was queued).
 *
 * Routing: an exact route beats a prefix route, a longer prefix beats a
 * shorter one; among routes with that same path the method must match
 * (NULL = any, HEAD also matches GET), else 405 with Allow. No route → 404.
 * Errors are JSON bodies {"code":"…","message":"…"} (ingest-http.md §8).
 *
 * Responses: the handler fills hearth_http_resp; the server sends it with
 * Content-Length. A 2xx body over 1 KiB is gzipped when the client sends
 * Accept-Encoding: gzip (and the handler set no Content-Encoding).
 *
 * Threading: handlers run on MHD's pool threads (opts.threads of them),
 * many at once. A handler that blocks (an RPC to ingesters) holds its
 * thread and delays the other connections that thread serves, so size the
 * pool for the slow requests expected at once. Handler ctx must be
 * thread-safe.
 *
 * Ownership: the server copies route paths, labels and the address; it
 * borrows the metrics registry and the log (both must outlive the server).
 * A hearth_http_req and everything it returns (path, query values, header
 * values, body, arena memory) is valid only during the handler call.
 */
#ifndef HEARTH_HTTP_H
#define HEARTH_HTTP_H

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "log.h"
#include "metrics.h"

#include <stddef.h>
#include <stdint.h>

#define HEARTH_HTTP_MAX_RESP_HEADERS 8

typedef struct hearth_http_server hearth_http_server;
typedef struct hearth_http_req    hearth_http_req; /* valid in the handler */

typedef struct hearth_http_resp {
	int status; /* default 200 */
	/* 1: a 5xx that reports a state rather than a failure (/ready while
	 * starting): not logged as "request failed". */
	int quiet;
	/* default "text/plain; charset=utf-8"; a literal or something that
	 * outlives the handler call */
	const char *content_type;
	hearth_buf  body;
	/* private: extra headers set with hearth_http_resp_header */
	size_t n_headers;
	char  *header_names[HEARTH_HTTP_MAX_RESP_HEADERS];
	char  *header_values[HEARTH_HTTP_MAX_RESP_HEADERS];
} hearth_http_resp;

typedef void (*hearth_http_handler)(
    void *ctx, hearth_http_req *req, hearth_http_resp *resp);

typedef struct hearth_http_opts {
	const char *address;              /* NULL or "" = 0.0.0.0 */
	uint16_t    port;                 /* 0 = ephemeral */
	unsigned    threads;              /* MHD thread pool size; 0 = 1 */
	size_t      max_body_bytes;       /* larger → 413; 0 = no limit */
	const char *max_body_setting;     /* named in 413 bodies; may be NULL */
	unsigned    connection_timeout_s; /* idle close; 0 = never */
	unsigned    max_connections;      /* 0 = MHD's default */
	size_t      max_request_header_bytes; /* larger → 431; 0 = MHD's */
	size_t      request_arena_cap;        /* per request; 0 = no cap */
	unsigned    max_connections_per_ip;   /* more are closed; 0 = off */
	/* Most time a client may take to send one request (headers and
	 * body), from its connection or its previous response; slower
	 * connections are shut down. 0 = no limit. */
	int64_t read_timeout_ms;
} hearth_http_opts;

/* Create a stopped server. m may be NULL (no metrics). log is copied.
 * Errors: -HEARTH_EINVAL (bad address), -HEARTH_ENOMEM. */
int hearth_http_server_new(const hearth_http_opts *o, hearth_metrics *m,
    const hearth_log *log, hearth_http_server **out, hearth_err *err);

/* Add a route (invariant (1)). method: "GET", "POST", ... or NULL for any.
 * path: exact, or a prefix when is_prefix. route_label: the bounded
 * `route` label of the request metrics. 0 or HEARTH_ENOMEM. */
int hearth_http_route(hearth_http_server *s, const char *method,
    const char *path, int is_prefix, const char *route_label,
    hearth_http_handler h, void *ctx);

/* The tokens file checker of every request (auth.h), or NULL (the
 * default: no built-in authentication). Borrowed; set before start.
 * The server only carries it, so that every handler, whatever role or
 * protocol registered it, reaches the same one through its request. */
struct hearth_auth;
void hearth_http_server_set_auth(hearth_http_server *s, struct hearth_auth *a);
struct hearth_auth *hearth_http_req_auth(const hearth_http_req *r);

/* Listen and serve. -HEARTH_EIO with MHD's reason when it cannot listen
 * (e.g. the port is taken). */
int hearth_http_server_start(hearth_http_server *s, hearth_err *err);
/* The bound port (the real one when opts.port was 0); 0 when stopped. */
uint16_t hearth_http_server_port(const hearth_http_server *s);
/* Stop accepting, let in-flight requests finish (waiting at most the
 * connection timeout, or 30 s when that is 0), then close everything.
 * Safe to call twice. */
void hearth_http_server_stop(hearth_http_server *s);
/* Stop if running and free; NULL is a no-op. */
void hearth_http_server_free(hearth_http_server *s);

/* Request accessors; valid during the handler call. */
const char *hearth_http_req_method(const hearth_http_req *r);
const char *hearth_http_req_path(const hearth_http_req *r); /* decoded */
/* First value of a query parameter ('+' and %XX decoded), "" for a bare
 * `?name`, NULL when absent. */
const char *hearth_http_req_query(const hearth_http_req *r, const char *name);
/* Up to max values of a repeated parameter, in request order; returns how
 * many were stored in vals (never more than max). */
size_t hearth_http_req_query_all(
    const hearth_http_req *r, const char *name, const char **vals, size_t max);
/* Request header (case-insensitive name), NULL when absent. */
const char *hearth_http_req_header(const hearth_http_req *r, const char *name);
/* The whole body (NUL-terminated for convenience, not counted in *len);
 * never NULL. */
const uint8_t *hearth_http_req_body(const hearth_http_req *r, size_t *len);
/* The request's arena (freed after the response is sent). */
hearth_arena *hearth_http_req_arena(hearth_http_req *r);

/* Initialise / release a response (the server does this around each
 * handler call; tests of handlers can use them directly). */
void hearth_http_resp_init(hearth_http_resp *resp);
void hearth_http_resp_fini(hearth_http_resp *resp);

/* Set a response header (copied; an existing one with the same name,
 * case-insensitive, is replaced). At most HEARTH_HTTP_MAX_RESP_HEADERS.
 * Values with CR or LF are refused (header injection) and dropped. */
void hearth_http_resp_header(
    hearth_http_resp *resp, const char *name, const char *value);

/* Replace the body with {"code":"<from status>","message":"<fmt>"} and
 * Content-Type application/json. Codes as ingest-http.md §8 maps them:
 * 400 invalid_argument, 401 unauthenticated, 403 permission_denied,
 * 404 unimplemented, 413 invalid_argument, 429 resource_exhausted,
 * 499 canceled, 502/503 unavailable, 504 deadline_exceeded, else unknown. */
void hearth_http_resp_error(hearth_http_resp *resp, int status,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Same with an explicit Connect code (e.g. 404 "not_found"). */
void hearth_http_resp_error_code(
    hearth_http_resp *resp, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* hearth_http_resp_error(resp, hearth_http_status_from_err(err->code),
 * "%s", err->msg). */
void hearth_http_resp_err(hearth_http_resp *resp, const hearth_err *err);

/* HEARTH_E* → HTTP status: EINVAL 400, ELIMIT 400, ETOOLARGE 413,
 * EBUSY 429, ETIMEDOUT 504, EUNAVAIL 503, ENOTFOUND 404, EUNAUTH 401,
 * EDENIED 403, else 500. */
int hearth_http_status_from_err(int code);
/* The Connect/JSON error code ingest-http.md §8 derives from a status. */
const char *hearth_http_code_from_status(int status);

#endif
