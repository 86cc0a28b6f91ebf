/*
 * otlp_http.c: OTLP/HTTP profiles export on the distributor's HTTP server
 * (otlp-profiles.md §1):
 *
 *   POST /v1development/profiles
 *   POST
 * /opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export
 *
 * both taking OTLP/HTTP bodies (hearth's server is HTTP/1.1: OTLP/gRPC,
 * which needs HTTP/2, is not served; a gRPC content type gets a 415 that
 * says so). The tenant is decided by hearth_auth_request like on every
 * data path (401 as JSON, as everywhere); everything else answers as
 * Pyroscope's handler does: 200 with Content-Type application/x-protobuf
 * and an empty ExportProfilesServiceResponse (0 bytes, whatever the
 * request codec), errors as plain text: 400 undecodable or invalid, 413
 * too large, 415 other content types or encodings, 429 ingestion limits,
 * 5xx when the ingesters did not store it (503/504 when they were
 * unavailable or late: statuses OTLP exporters retry, unlike 500).
 *
 * All profiles of a request become one push: it is validated whole
 * before anything is stored, then stored or refused whole.
 */
#include "distributor_impl.h"

#include "auth.h"
#include "config.h"
#include "otlp.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int64_t
otlp_http_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Go's http.Error: the message and a newline, as text. */
static void
otlp_http_error(hearth_http_resp *resp, int status, const char *msg)
{
	resp->status       = status;
	resp->content_type = "text/plain; charset=utf-8";
	hearth_buf_reset(&resp->body);
	hearth_buf_printf(&resp->body, "%s\n", msg);
	hearth_http_resp_header(resp, "X-Content-Type-Options", "nosniff");
}

/* 1 when the media type of ct (before ';', blanks trimmed) is want. */
static int
otlp_http_media(const char *ct, const char *want)
{
	while (*ct == ' ' || *ct == '\t')
		ct++;
	size_t n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

/* Count what the limits cut and say so in a Warning header, as /ingest
 * does (RFC 7234 299: stored, but not all of it as sent). */
static void
otlp_http_truncations(hearth_distributor *d, const char *tenant,
    const hearth_limits *l, const hearth_otlp_acc *acc, hearth_http_resp *resp)
{
	if (acc->truncated_stacks == 0 && acc->truncated_symbols == 0)
		return;
	const char *ls[] = { tenant, "max_profile_stacktrace_depth" };
	const char *ly[] = { tenant, "max_profile_symbol_value_length" };
	hearth_metric_add(
	    d->m_truncations, ls, (double) acc->truncated_stacks);
	hearth_metric_add(
	    d->m_truncations, ly, (double) acc->truncated_symbols);
	char hv[300];
	snprintf(hv, sizeof(hv),
	    "299 hearth \"%zu stacks cut to %lld frames "
	    "(max_profile_stacktrace_depth); %zu symbols cut to their last "
	    "%lld bytes (max_profile_symbol_value_length)\"",
	    acc->truncated_stacks, (long long) l->max_profile_stacktrace_depth,
	    acc->truncated_symbols,
	    (long long) l->max_profile_symbol_value_length);
	hearth_http_resp_header(resp, "Warning", hv);
}

static void
otlp_http_handle(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_distributor *d = ctx;
	hearth_err          err;
	const char        **ids;
	size_t              n_ids;
	hearth_limits       lim;
	hearth_err_clear(&err);
	if (hearth_auth_request(req, d->cfg.multitenancy_enabled,
	        HEARTH_AUTH_WRITE, &ids, &n_ids, &err)
	    != 0) {
		hearth_auth_fail(hearth_http_req_auth(req), resp, &err);
		return;
	}
	const char *tenant = ids[0];
	const char *tl[]   = { tenant };
	hearth_distributor_limits(d, tenant, &lim);
	size_t         len;
	const uint8_t *body = hearth_http_req_body(req, &len);
	hearth_metric_add(d->m_bytes, tl, (double) len);

	const char *ct = hearth_http_req_header(req, "Content-Type");
	int json       = ct != NULL && otlp_http_media(ct, "application/json");
	if (!json
	    && (ct == NULL
	        || (!otlp_http_media(ct, "application/x-protobuf")
	            && !otlp_http_media(ct, "application/protobuf")))) {
		char msg[400];
		snprintf(msg, sizeof(msg),
		    "unsupported Content-Type \"%s\": send "
		    "application/x-protobuf, application/protobuf or "
		    "application/json (OTLP/HTTP; OTLP/gRPC needs HTTP/2, "
		    "which "
		    "this server does not speak: use an otlphttp exporter)",
		    ct != NULL ? ct : "");
		hearth_distributor_reject(d, tenant, "unsupported_media_type");
		otlp_http_error(resp, 415, msg);
		return;
	}
	/* The server enforced the default body limit while reading; a
	 * tenant's own lower limit is checked now. */
	size_t body_max = hearth_limits_body_bytes(&lim);
	if (body_max > 0 && len > body_max) {
		hearth_err_set(&err, HEARTH_ETOOLARGE,
		    "request body is %zu bytes, larger than the limit of %zu "
		    "bytes (limits.ingestion_body_limit_mb: %lld)",
		    len, body_max, (long long) lim.ingestion_body_limit_mb);
		hearth_distributor_reject(d, tenant, "body_too_large");
		hearth_distributor_limit_hit(d, tenant, &err);
		otlp_http_error(resp, 413, err.msg);
		return;
	}
	hearth_otlp_params p = {
		.json = json,
		.content_encoding
		= hearth_http_req_header(req, "Content-Encoding"),
		.now_ns = otlp_http_now_ns(),
		.limits = &lim,
	};
	hearth_otlp_result res;
	if (hearth_otlp_build(
	        hearth_http_req_arena(req), &p, body, len, &res, &err)
	    != 0) {
		hearth_distributor_reject(
		    d, tenant, res.reason != NULL ? res.reason : "invalid");
		hearth_distributor_limit_hit(d, tenant, &err);
		otlp_http_error(resp, res.status ? res.status : 400, err.msg);
		return;
	}
	hearth_metric_add(d->m_decoded, tl, (double) res.body_bytes);
	if (res.acc.push != NULL) {
		int status;
		if (hearth_distributor_send(d, tenant, res.acc.push,
		        hearth_http_req_arena(req), p.now_ns, &status, &err)
		    != 0) {
			otlp_http_error(resp, status, err.msg);
			return;
		}
		hearth_metric_add(
		    d->m_profiles, tl, (double) res.acc.profiles);
		hearth_metric_add(d->m_samples, tl, (double) res.acc.samples);
		otlp_http_truncations(d, tenant, &lim, &res.acc, resp);
	}
	resp->status       = 200;
	resp->content_type = "application/x-protobuf";
}

int
hearth_otlp_routes(hearth_distributor *d, hearth_err *err)
{
	static const char *const paths[] = {
		"/v1development/profiles",
		"/opentelemetry.proto.collector.profiles.v1development."
		"ProfilesService/Export",
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (hearth_http_route(d->deps.http, "POST", paths[i], 0,
		        "otlp", otlp_http_handle, d)
		    != 0)
			return hearth_err_set(err, HEARTH_ENOMEM,
			    "distributor: cannot register the OTLP routes");
	return 0;
}
