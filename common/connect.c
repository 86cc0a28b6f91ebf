/* connect: Connect unary calls on the HTTP server (see connect.h). */
#include "connect.h"

#include "auth.h"
#include "clock.h"
#include "gzip.h"
#include "pbjson.h"
#include "tenant.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define CONNECT_DEFAULT_MAX_BODY ((size_t) 256 << 20)

typedef struct connect_route {
	struct hearth_connect            *owner;
	const ProtobufCMessageDescriptor *in; /* NULL: unimplemented */
	hearth_connect_handler            h;
	void                             *ctx;
	struct connect_route             *next;
} connect_route;

struct hearth_connect {
	hearth_http_server *http;
	size_t              max_body;
	char               *max_body_setting; /* NULL or a copy */
	int                 write;            /* opts.write */
	connect_route      *routes;           /* owned list */
};

static const struct {
	const char *name;
	int         status;
} connect_codes[] = {
	[HEARTH_CONNECT_OK]                  = { "ok", 200 },
	[HEARTH_CONNECT_CANCELED]            = { "canceled", 499 },
	[HEARTH_CONNECT_UNKNOWN]             = { "unknown", 500 },
	[HEARTH_CONNECT_INVALID_ARGUMENT]    = { "invalid_argument", 400 },
	[HEARTH_CONNECT_DEADLINE_EXCEEDED]   = { "deadline_exceeded", 504 },
	[HEARTH_CONNECT_NOT_FOUND]           = { "not_found", 404 },
	[HEARTH_CONNECT_ALREADY_EXISTS]      = { "already_exists", 409 },
	[HEARTH_CONNECT_PERMISSION_DENIED]   = { "permission_denied", 403 },
	[HEARTH_CONNECT_RESOURCE_EXHAUSTED]  = { "resource_exhausted", 429 },
	[HEARTH_CONNECT_FAILED_PRECONDITION] = { "failed_precondition", 400 },
	[HEARTH_CONNECT_ABORTED]             = { "aborted", 409 },
	[HEARTH_CONNECT_OUT_OF_RANGE]        = { "out_of_range", 400 },
	[HEARTH_CONNECT_UNIMPLEMENTED]       = { "unimplemented", 501 },
	[HEARTH_CONNECT_INTERNAL]            = { "internal", 500 },
	[HEARTH_CONNECT_UNAVAILABLE]         = { "unavailable", 503 },
	[HEARTH_CONNECT_DATA_LOSS]           = { "data_loss", 500 },
	[HEARTH_CONNECT_UNAUTHENTICATED]     = { "unauthenticated", 401 },
};

const char *
hearth_connect_code_name(hearth_connect_code code)
{
	if ((unsigned) code > HEARTH_CONNECT_UNAUTHENTICATED)
		return "unknown";
	return connect_codes[code].name;
}

int
hearth_connect_code_status(hearth_connect_code code)
{
	if ((unsigned) code > HEARTH_CONNECT_UNAUTHENTICATED)
		return 500;
	return connect_codes[code].status;
}

hearth_connect_code
hearth_connect_code_from_err(int code)
{
	switch (code) {
	case HEARTH_EINVAL:
	case HEARTH_ELIMIT:
		return HEARTH_CONNECT_INVALID_ARGUMENT;
	case HEARTH_ENOTFOUND:
		return HEARTH_CONNECT_NOT_FOUND;
	case HEARTH_ETOOLARGE:
	case HEARTH_EBUSY:
	case HEARTH_ENOMEM:
		return HEARTH_CONNECT_RESOURCE_EXHAUSTED;
	case HEARTH_ETIMEDOUT:
		return HEARTH_CONNECT_DEADLINE_EXCEEDED;
	case HEARTH_EUNAVAIL:
		return HEARTH_CONNECT_UNAVAILABLE;
	case HEARTH_ECORRUPT:
		return HEARTH_CONNECT_DATA_LOSS;
	default:
		return HEARTH_CONNECT_INTERNAL;
	}
}

hearth_connect_code
hearth_connect_code_from_status(int status)
{
	switch (status) {
	case 400:
		return HEARTH_CONNECT_INVALID_ARGUMENT;
	case 413:
	case 429:
		return HEARTH_CONNECT_RESOURCE_EXHAUSTED;
	case 503:
		return HEARTH_CONNECT_UNAVAILABLE;
	case 504:
		return HEARTH_CONNECT_DEADLINE_EXCEEDED;
	default:
		return HEARTH_CONNECT_INTERNAL;
	}
}

int
hearth_connect_fail(
    hearth_connect_call *call, hearth_connect_code code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(call->msg, sizeof(call->msg), fmt, ap);
	va_end(ap);
	if (code == HEARTH_CONNECT_OK)
		code = HEARTH_CONNECT_UNKNOWN;
	call->code = code;
	return -(int) code - 1000;
}

int
hearth_connect_fail_err(hearth_connect_call *call, const hearth_err *err)
{
	return hearth_connect_fail(call,
	    hearth_connect_code_from_err(err->code), "%s",
	    err->msg[0] != '\0' ? err->msg : hearth_strerror(err->code));
}

int
hearth_connect_tenant(hearth_connect_call *call, int multitenancy_enabled,
    char *out, size_t outsz)
{
	hearth_err   err;
	const char **ids;
	size_t       n;
	HEARTH_ASSERT(outsz > HEARTH_TENANT_MAX);
	hearth_err_clear(&err);
	int rc = hearth_auth_request(call->http, multitenancy_enabled,
	    call->write ? HEARTH_AUTH_WRITE : HEARTH_AUTH_READ, &ids, &n,
	    &err);
	if (rc == 0 && n > 1)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "X-Scope-OrgID names %zu tenants; this API serves one "
		    "tenant at a time",
		    n);
	if (rc == 0) {
		snprintf(out, outsz, "%s", ids[0]);
		return 0;
	}
	return hearth_connect_fail(call,
	    rc == HEARTH_EUNAUTH       ? HEARTH_CONNECT_UNAUTHENTICATED
	        : rc == HEARTH_EDENIED ? HEARTH_CONNECT_PERMISSION_DENIED
	        : rc == HEARTH_ELIMIT  ? HEARTH_CONNECT_RESOURCE_EXHAUSTED
	                               : HEARTH_CONNECT_INVALID_ARGUMENT,
	    "%s", err.msg);
}

int
hearth_connect_tenants(
    hearth_connect_call *call, int multitenancy_enabled, const char **out)
{
	hearth_err   err;
	const char **ids;
	size_t       n, len = 0;
	hearth_err_clear(&err);
	*out   = NULL;
	int rc = hearth_auth_request(call->http, multitenancy_enabled,
	    call->write ? HEARTH_AUTH_WRITE : HEARTH_AUTH_READ, &ids, &n,
	    &err);
	if (rc != 0)
		return hearth_connect_fail(call,
		    rc == HEARTH_EUNAUTH ? HEARTH_CONNECT_UNAUTHENTICATED
		        : rc == HEARTH_EDENIED
		        ? HEARTH_CONNECT_PERMISSION_DENIED
		        : rc == HEARTH_ELIMIT
		        ? HEARTH_CONNECT_RESOURCE_EXHAUSTED
		        : HEARTH_CONNECT_INVALID_ARGUMENT,
		    "%s", err.msg);
	for (size_t i = 0; i < n; i++)
		len += strlen(ids[i]) + 1;
	char *j = hearth_arena_alloc(call->arena, len);
	if (j == NULL)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
		    "request memory limit reached");
	j[0] = '\0';
	for (size_t i = 0, o = 0; i < n; i++)
		o += (size_t) sprintf(j + o, "%s%s", i ? "|" : "", ids[i]);
	*out = j;
	return 0;
}

int64_t
hearth_connect_deadline(
    const hearth_connect_call *call, int64_t now_ms, int64_t default_ms)
{
	int64_t d = default_ms > 0 ? now_ms + default_ms : 0;
	if (call->deadline_unix_ms > 0
	    && (d == 0 || call->deadline_unix_ms < d))
		d = call->deadline_unix_ms;
	return d;
}

/* 1 when the media type of a Content-Type header (before ';', blanks
 * trimmed, case-insensitive) is want. */
static int
connect_media_is(const char *ct, const char *want)
{
	if (ct == NULL)
		return 0;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

static void
connect_send_error(hearth_http_resp *resp, const hearth_connect_call *call)
{
	hearth_http_resp_error_code(resp,
	    hearth_connect_code_status(call->code),
	    hearth_connect_code_name(call->code), "%s", call->msg);
}

/* Arena-backed protobuf allocator that notes a failed allocation, so a
 * request over the memory cap is not reported as malformed. */
typedef struct connect_pballoc {
	ProtobufCAllocator pb;
	hearth_arena      *arena;
	int                failed;
} connect_pballoc;

static void *
connect_pb_alloc(void *data, size_t size)
{
	connect_pballoc *a = data;
	void            *p = hearth_arena_alloc(a->arena, size);
	if (p == NULL)
		a->failed = 1;
	return p;
}

static void
connect_pb_free(void *data, void *ptr)
{
	(void) data;
	(void) ptr;
}

static int
connect_decode(hearth_connect_call *call, const ProtobufCMessageDescriptor *d,
    const uint8_t *body, size_t len, ProtobufCMessage **out)
{
	if (call->json) {
		hearth_err err;
		if (hearth_pbjson_decode(call->arena, d, (const char *) body,
		        len, NULL, out, &err)
		    != 0)
			return hearth_connect_fail_err(call, &err);
		return 0;
	}
	connect_pballoc a
	    = { { connect_pb_alloc, connect_pb_free, NULL }, call->arena, 0 };
	a.pb.allocator_data = &a;
	*out                = protobuf_c_message_unpack(d, &a.pb, len, body);
	if (*out != NULL)
		return 0;
	if (a.failed)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
		    "the %s message (%zu bytes) does not fit the request "
		    "memory limit",
		    d->name, len);
	return hearth_connect_fail(call, HEARTH_CONNECT_INVALID_ARGUMENT,
	    "malformed protobuf: the body (%zu bytes) is not a %s message",
	    len, d->name);
}

static int
connect_encode(hearth_connect_call *call, const ProtobufCMessage *m,
    hearth_http_resp *resp)
{
	hearth_buf_reset(&resp->body);
	if (call->json) {
		if (hearth_pbjson_encode(m, &resp->body) != 0)
			return hearth_connect_fail(call,
			    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
			    "out of memory writing the response");
		resp->content_type = "application/json";
		return 0;
	}
	size_t n = protobuf_c_message_get_packed_size(m);
	if (hearth_buf_reserve(&resp->body, n) != 0)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
		    "out of memory writing the %zu-byte response", n);
	protobuf_c_message_pack(m, (uint8_t *) resp->body.data);
	resp->body.len     = n;
	resp->body.data[n] = '\0';
	resp->content_type = "application/proto";
	return 0;
}

/* Headers and body to a decoded request; on failure call holds the
 * error. 415 is answered directly (it is not a Connect error). */
static int
connect_read(hearth_connect *c, const connect_route *r,
    hearth_connect_call *call, hearth_http_resp *resp, ProtobufCMessage **msg)
{
	hearth_http_req *req = call->http;
	const char      *ct  = hearth_http_req_header(req, "Content-Type");
	if (connect_media_is(ct, "application/json")) {
		call->json = 1;
	} else if (!connect_media_is(ct, "application/proto")) {
		hearth_http_resp_error(resp, 415,
		    "unsupported Content-Type \"%s\": send application/proto "
		    "or "
		    "application/json",
		    ct != NULL ? ct : "");
		hearth_http_resp_header(resp, "Accept-Post",
		    "application/json, application/proto");
		return -1;
	}
	const char *tmo = hearth_http_req_header(req, "Connect-Timeout-Ms");
	if (tmo != NULL) {
		size_t n = strlen(tmo);
		if (n == 0 || n > 10 || strspn(tmo, "0123456789") != n)
			return hearth_connect_fail(call,
			    HEARTH_CONNECT_INVALID_ARGUMENT,
			    "Connect-Timeout-Ms: \"%s\" is not 1 to 10 digits",
			    tmo);
		call->deadline_unix_ms
		    = hearth_clock_unix_ms() + strtoll(tmo, NULL, 10);
	}
	size_t         len;
	const uint8_t *body = hearth_http_req_body(req, &len);
	const char    *enc  = hearth_http_req_header(req, "Content-Encoding");
	if (enc == NULL || *enc == '\0')
		enc = hearth_http_req_header(req, "Connect-Content-Encoding");
	if (enc != NULL && strcasecmp(enc, "gzip") == 0) {
		uint8_t   *out  = NULL;
		size_t     olen = 0;
		hearth_err err;
		if (hearth_gzip_decode(
		        call->arena, body, len, c->max_body, &out, &olen, &err)
		    != 0) {
			if (err.code == HEARTH_ETOOLARGE)
				return hearth_connect_fail(call,
				    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
				    "the decompressed request is over %zu "
				    "bytes%s%s%s",
				    c->max_body,
				    c->max_body_setting ? " (" : "",
				    c->max_body_setting ? c->max_body_setting
				                        : "",
				    c->max_body_setting ? ")" : "");
			if (err.code == HEARTH_ELIMIT)
				return hearth_connect_fail_err(call, &err);
			return hearth_connect_fail(call,
			    HEARTH_CONNECT_INVALID_ARGUMENT,
			    "Content-Encoding: gzip: %s", err.msg);
		}
		body = out;
		len  = olen;
	} else if (enc != NULL && *enc != '\0'
	    && strcasecmp(enc, "identity") != 0) {
		return hearth_connect_fail(call, HEARTH_CONNECT_UNIMPLEMENTED,
		    "unsupported Content-Encoding \"%s\" (supported: gzip, "
		    "identity)",
		    enc);
	}
	call->body_bytes = len;
	return connect_decode(call, r->in, body, len, msg);
}

static void
connect_dispatch(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	const connect_route *r    = ctx;
	hearth_connect_call  call = {
		 .http  = req,
		 .arena = hearth_http_req_arena(req),
		 .write = r->owner->write,
	};
	ProtobufCMessage *in  = NULL;
	ProtobufCMessage *out = NULL;
	if (r->in == NULL) {
		hearth_connect_fail(&call, HEARTH_CONNECT_UNIMPLEMENTED,
		    "%s is not implemented by hearth",
		    hearth_http_req_path(req));
		connect_send_error(resp, &call);
		return;
	}
	int rc = connect_read(r->owner, r, &call, resp, &in);
	if (rc == -1)
		return; /* 415, already written */
	if (rc == 0)
		rc = r->h(r->ctx, &call, in, &out);
	if (rc == 0 && out == NULL)
		rc = hearth_connect_fail(&call, HEARTH_CONNECT_INTERNAL,
		    "the handler produced no response");
	if (rc == 0)
		rc = connect_encode(&call, out, resp);
	if (rc != 0) {
		if (call.code == HEARTH_CONNECT_OK)
			hearth_connect_fail(&call, HEARTH_CONNECT_INTERNAL,
			    "request failed (%d)", rc);
		connect_send_error(resp, &call);
		return;
	}
	resp->status = 200;
}

int
hearth_connect_new(hearth_http_server *http, const hearth_connect_opts *opts,
    hearth_connect **out, hearth_err *err)
{
	hearth_connect *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "connect: out of memory");
	c->http     = http;
	c->write    = opts != NULL && opts->write;
	c->max_body = opts != NULL && opts->max_body_bytes > 0
	    ? opts->max_body_bytes
	    : CONNECT_DEFAULT_MAX_BODY;
	if (opts != NULL && opts->max_body_setting != NULL
	    && (c->max_body_setting = strdup(opts->max_body_setting))
	        == NULL) {
		free(c);
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "connect: out of memory");
	}
	*out = c;
	return 0;
}

void
hearth_connect_free(hearth_connect *c)
{
	if (c == NULL)
		return;
	while (c->routes != NULL) {
		connect_route *n = c->routes->next;
		free(c->routes);
		c->routes = n;
	}
	free(c->max_body_setting);
	free(c);
}

static connect_route *
connect_route_new(hearth_connect *c)
{
	connect_route *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->owner  = c;
	r->next   = c->routes;
	c->routes = r;
	return r;
}

int
hearth_connect_add(hearth_connect *c, const char *path,
    const char *route_label, const ProtobufCMessageDescriptor *in,
    hearth_connect_handler h, void *ctx)
{
	HEARTH_ASSERT(in != NULL && h != NULL);
	connect_route *r = connect_route_new(c);
	if (r == NULL)
		return HEARTH_ENOMEM;
	r->in  = in;
	r->h   = h;
	r->ctx = ctx;
	return hearth_http_route(
	    c->http, "POST", path, 0, route_label, connect_dispatch, r);
}

int
hearth_connect_add_service(
    hearth_connect *c, const char *prefix, const char *route_label)
{
	connect_route *r = connect_route_new(c);
	if (r == NULL)
		return HEARTH_ENOMEM;
	return hearth_http_route(
	    c->http, NULL, prefix, 1, route_label, connect_dispatch, r);
}
