/*
 * connect: the Connect unary protocol over HTTP/1.1 POST
 * (connect-apis.md §1), on top of the HTTP server (http.h). This is what
 * Grafana, Profiles Drilldown, Alloy's pyroscope.write and the SDKs speak:
 * `POST /<package>.<Service>/<Method>` with the serialized request as the
 * whole body.
 *
 * A hearth_connect is a set of routes, each binding a full path to a
 * request message type and a handler. One request goes:
 *
 *   Content-Type ──▶ codec: application/proto (binary) or application/json
 *     │ (parameters such as charset ignored); anything else → 415 with
 *     │ Accept-Post
 *   Content-Encoding (or Connect-Content-Encoding) ──▶ gzip: inflated, at
 *     │ most opts.max_body_bytes (over → resource_exhausted);
 *     │ identity/absent: as is; anything else → unimplemented
 *   Connect-Timeout-Ms ──▶ call.deadline_unix_ms (1-10 digits, else
 *     │ invalid_argument); Connect-Protocol-Version is not required
 *   decode ──▶ protobuf-c unpack (arena) or pbjson; malformed →
 *     │ invalid_argument
 *   handler(ctx, call, req, &resp) ──▶ 0: resp encoded with the request's
 *     codec, 200, Content-Type = the codec; the HTTP server gzips it when
 *     the client offered gzip (Accept-Encoding). Negative: the error of
 *     hearth_connect_fail as {"code","message"} JSON with the code's HTTP
 *     status (table below), never compressed.
 *
 * Paths under a service registered with hearth_connect_add_service but
 * with no route (an unknown method) answer `unimplemented` (501). Other
 * HTTP methods on a route get the server's 405 with Allow: POST.
 *
 * Codes and statuses (connect-go >= 1.16):
 *   canceled 499, unknown 500, invalid_argument 400, deadline_exceeded 504,
 *   not_found 404, already_exists 409, permission_denied 403,
 *   resource_exhausted 429, failed_precondition 400, aborted 409,
 *   out_of_range 400, unimplemented 501, internal 500, unavailable 503,
 *   data_loss 500, unauthenticated 401.
 *
 * Threading: routes are added before the HTTP server starts (http.h
 * invariant (1)); handlers run concurrently on the server's threads with
 * one hearth_connect_call each.
 *
 * Ownership: a hearth_connect owns its route bindings and must outlive the
 * HTTP server's last request (free it after hearth_http_server_stop). The
 * request message, the call and everything a handler allocates from
 * call->arena live until the response is sent; a handler's response
 * message may be arena memory or static.
 */
#ifndef HEARTH_CONNECT_H
#define HEARTH_CONNECT_H

#include "arena.h"
#include "err.h"
#include "http.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Connect codes, numbered as gRPC's (so 0 is OK). */
typedef enum hearth_connect_code {
	HEARTH_CONNECT_OK                  = 0,
	HEARTH_CONNECT_CANCELED            = 1,
	HEARTH_CONNECT_UNKNOWN             = 2,
	HEARTH_CONNECT_INVALID_ARGUMENT    = 3,
	HEARTH_CONNECT_DEADLINE_EXCEEDED   = 4,
	HEARTH_CONNECT_NOT_FOUND           = 5,
	HEARTH_CONNECT_ALREADY_EXISTS      = 6,
	HEARTH_CONNECT_PERMISSION_DENIED   = 7,
	HEARTH_CONNECT_RESOURCE_EXHAUSTED  = 8,
	HEARTH_CONNECT_FAILED_PRECONDITION = 9,
	HEARTH_CONNECT_ABORTED             = 10,
	HEARTH_CONNECT_OUT_OF_RANGE        = 11,
	HEARTH_CONNECT_UNIMPLEMENTED       = 12,
	HEARTH_CONNECT_INTERNAL            = 13,
	HEARTH_CONNECT_UNAVAILABLE         = 14,
	HEARTH_CONNECT_DATA_LOSS           = 15,
	HEARTH_CONNECT_UNAUTHENTICATED     = 16
} hearth_connect_code;

/* One call, valid during the handler. Fields are read-only for handlers
 * except through hearth_connect_fail*. */
typedef struct hearth_connect_call {
	hearth_http_req *http;  /* headers (hearth_http_req_header) */
	hearth_arena    *arena; /* the request's arena */
	int              json;  /* 1: JSON codec, 0: binary */
	int64_t          deadline_unix_ms; /* Connect-Timeout-Ms; 0 = none */
	size_t           body_bytes;       /* request size after gunzip */
	int              write;            /* opts.write of the route set */
	/* the error, when the handler failed */
	hearth_connect_code code;
	char                msg[HEARTH_ERR_MSG_MAX];
} hearth_connect_call;

/* Fill *resp (arena or static memory) and return 0, or return
 * hearth_connect_fail(...)'s negative value. */
typedef int (*hearth_connect_handler)(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp);

typedef struct hearth_connect_opts {
	size_t max_body_bytes; /* after gunzip; 0 = 256 MiB */
	/* named in the resource_exhausted message; may be NULL */
	const char *max_body_setting;
	/* 1 when these routes store data (Push): hearth_connect_tenant then
	 * asks the tokens file for write access, else for read access. */
	int write;
} hearth_connect_opts;

typedef struct hearth_connect hearth_connect;

/* A route set on http (borrowed; routes are added to it). */
int  hearth_connect_new(hearth_http_server *http,
     const hearth_connect_opts *opts, hearth_connect **out, hearth_err *err);
void hearth_connect_free(hearth_connect *c); /* NULL is a no-op */

/* Serve POST path (e.g. "/querier.v1.QuerierService/LabelNames"):
 * requests decode as in, then h(ctx, ...). route_label is the metrics
 * label. 0 or HEARTH_ENOMEM. */
int hearth_connect_add(hearth_connect *c, const char *path,
    const char *route_label, const ProtobufCMessageDescriptor *in,
    hearth_connect_handler h, void *ctx);

/* Answer `unimplemented` for every path under prefix (e.g.
 * "/querier.v1.QuerierService/") that has no route of its own. */
int hearth_connect_add_service(
    hearth_connect *c, const char *prefix, const char *route_label);

/* Record the call's error and return a negative value (-code - 1000, so
 * it never collides with HEARTH_E* codes). */
int hearth_connect_fail(hearth_connect_call *call, hearth_connect_code code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* hearth_connect_fail with the code hearth_connect_code_from_err gives
 * and err's message. */
int hearth_connect_fail_err(hearth_connect_call *call, const hearth_err *err);

/* HEARTH_E* -> Connect code: EINVAL, ELIMIT invalid_argument; ENOTFOUND
 * not_found; ETOOLARGE, EBUSY, ENOMEM (a request memory cap)
 * resource_exhausted; ETIMEDOUT deadline_exceeded; EUNAVAIL unavailable;
 * ECORRUPT data_loss; else internal. */
hearth_connect_code hearth_connect_code_from_err(int code);

/* The HTTP status an ingest path chose -> Connect code, for Connect
 * endpoints sharing those paths (Push, WriteRaw): 400 invalid_argument;
 * 413, 429 resource_exhausted; 503 unavailable; 504 deadline_exceeded;
 * else internal. */
hearth_connect_code hearth_connect_code_from_status(int status);

/* "invalid_argument", ... ; "unknown" for values outside the enum. */
const char *hearth_connect_code_name(hearth_connect_code code);
/* The HTTP status of a code (table above). */
int hearth_connect_code_status(hearth_connect_code code);

/* The tenant of the call, decided by auth.h (X-Scope-OrgID, and the
 * credentials when a tokens file is in use): 0, or fails the call with
 * unauthenticated (header or credentials missing or wrong),
 * permission_denied (the credential may not use that tenant) or
 * invalid_argument (also for a|b: these APIs serve one tenant). out holds
 * at least HEARTH_TENANT_MAX + 1 bytes. */
int hearth_connect_tenant(hearth_connect_call *call, int multitenancy_enabled,
    char *out, size_t outsz);

/* Like hearth_connect_tenant, for read APIs that serve several tenants
 * at once: *out is one tenant ID, or (reads only) several sorted IDs
 * joined by '|' (X-Scope-OrgID a|b), in call->arena. */
int hearth_connect_tenants(
    hearth_connect_call *call, int multitenancy_enabled, const char **out);

/* The deadline to give RPCs: the earlier of the call's deadline and
 * now + default_ms (either may be 0 = none). */
int64_t hearth_connect_deadline(
    const hearth_connect_call *call, int64_t now_ms, int64_t default_ms);

#endif
