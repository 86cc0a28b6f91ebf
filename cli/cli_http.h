/*
 * cli_http: hearth-cli's HTTP client, the CLI's only libcurl user. (The
 * server's is common/fetch: GET-only transfers on a multi loop for the
 * scraper. The CLI needs POST bodies, tenant/token/encoding headers and
 * the body of every non-2xx answer, and must not pull the CLI into the
 * server binary, hence its own small wrapper.)
 *
 * One blocking request per call (curl easy handle, created and freed per
 * request: the CLI makes one or two calls per run). The tenant goes in
 * X-Scope-OrgID, the token in "Authorization: Bearer"; neither is ever
 * written to an error message. The base URL may carry a path prefix
 * (http://proxy/pyroscope) that every request path is appended to.
 *
 * Results: 0 whenever the server answered, whatever the status (the
 * caller decides what a 4xx means); HEARTH_EUNAVAIL when no answer came
 * (refused, DNS, TLS, reset), HEARTH_ETIMEDOUT when the deadline passed,
 * HEARTH_ETOOLARGE when the answer passed max_body. err->msg then names
 * the URL and curl's reason.
 *
 * hearth_cli_http_global_init must be called once before any request,
 * while the process has one thread (curl_global_init's rule), and
 * hearth_cli_http_global_fini at exit.
 *
 * Ownership: the response body is a hearth_buf owned by the caller
 * (hearth_buf_fini). Requests only read their inputs.
 */
#ifndef HEARTH_CLI_HTTP_H
#define HEARTH_CLI_HTTP_H

#include "buf.h"
#include "err.h"

#include <stddef.h>

typedef struct hearth_cli_http_conn {
	const char *url;    /* http:// or https:// base, no query */
	const char *tenant; /* NULL or "": no X-Scope-OrgID */
	const char *token;  /* NULL or "": no Authorization */
	long        timeout_ms;
	size_t      max_body; /* largest answer accepted; 0 = 1 GiB */
} hearth_cli_http_conn;

typedef struct hearth_cli_http_param {
	const char *key;
	const char *value; /* NULL: the parameter is left out */
} hearth_cli_http_param;

typedef struct hearth_cli_http_req {
	const char                  *method; /* "GET" or "POST" */
	const char                  *path;   /* "/pyroscope/render" */
	const hearth_cli_http_param *params;
	size_t                       n_params;
	const void                  *body; /* POST body */
	size_t                       body_len;
	const char                  *content_type;     /* NULL: none */
	const char                  *content_encoding; /* NULL: none */
	const char                  *accept;           /* NULL: none */
} hearth_cli_http_req;

typedef struct hearth_cli_http_resp {
	long       status; /* HTTP status */
	hearth_buf body;   /* init'd by the request */
} hearth_cli_http_resp;

int  hearth_cli_http_global_init(hearth_err *err);
void hearth_cli_http_global_fini(void);

/* Check a base URL: scheme http or https, a host, no query or fragment,
 * no control characters. 0 or HEARTH_EINVAL with the reason. */
int hearth_cli_http_check_url(const char *url, hearth_err *err);

/* Append base (without its trailing '/'), path and the parameters, each
 * key and value percent-encoded (RFC 3986 unreserved characters kept).
 * Pure; used by hearth_cli_http_do and by tests. */
void hearth_cli_http_url(const char *base, const char *path,
    const hearth_cli_http_param *params, size_t n, hearth_buf *out);

/* Perform req; resp->body is initialised here and must be finalised by
 * the caller whatever the result. */
int hearth_cli_http_do(const hearth_cli_http_conn *c,
    const hearth_cli_http_req *req, hearth_cli_http_resp *resp,
    hearth_err *err);

#endif
