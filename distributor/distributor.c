#include "distributor.h"

#include "distributor_impl.h"

#include "auth.h"
#include "config.h"
#include "ingest.h"
#include "otlp.h"
#include "parca.h"
#include "rpc.h"
#include "tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t
distributor_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static double
distributor_mono_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int64_t
distributor_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
hearth_distributor_limits(hearth_distributor *d, const char *tenant,
    hearth_limits *out)
{
	if (d->deps.overrides != NULL)
		hearth_overrides_get(d->deps.overrides, tenant, out);
	else
		*out = *d->cfg.limits;
}

void
hearth_distributor_limit_hit(hearth_distributor *d, const char *tenant,
    const hearth_err *err)
{
	const char *limit = hearth_config_limit_named(err->msg);
	if (limit == NULL)
		return;
	const char *lv[] = { tenant, limit };
	hearth_metric_add(d->m_limit_rejections, lv, 1);
}

/* The tenant's ingestion rate (admit.h): 0, or 429 with err naming the
 * limit and *retry_ms the wait (0 when waiting cannot help). */
static int
distributor_rate(hearth_distributor *d, const char *tenant, size_t cost,
    int *status, int64_t *retry_ms, hearth_err *err)
{
	hearth_limits l;
	*retry_ms = 0;
	if (d->deps.admit == NULL)
		return 0;
	hearth_distributor_limits(d, tenant, &l);
	if (l.ingestion_rate_mb <= 0)
		return 0;
	int rc = hearth_admit_rate(d->deps.admit, tenant,
	    (double) l.ingestion_rate_mb * 1048576.0,
	    (double) l.ingestion_burst_size_mb * 1048576.0, (double) cost,
	    distributor_mono_ns(), retry_ms);
	if (rc == 0)
		return 0;
	*status = 429;
	if (rc == HEARTH_ELIMIT) {
		hearth_distributor_reject(d, tenant, "rate_limited");
		hearth_err_set(err, HEARTH_EBUSY,
		    "tenant \"%s\": this push of %zu bytes is larger than the "
		    "ingestion burst (ingestion_burst_size_mb: %lld MiB) and can "
		    "never be accepted; send smaller profiles or raise the "
		    "limit",
		    tenant, cost, (long long) l.ingestion_burst_size_mb);
	} else {
		hearth_distributor_reject(d, tenant, "rate_limited");
		hearth_err_set(err, HEARTH_EBUSY,
		    "tenant \"%s\" is over its ingestion rate limit "
		    "(ingestion_rate_mb: %lld MiB/s, ingestion_burst_size_mb: "
		    "%lld MiB); retry in %.1f s",
		    tenant, (long long) l.ingestion_rate_mb,
		    (long long) l.ingestion_burst_size_mb,
		    (double) *retry_ms / 1000.0);
	}
	hearth_distributor_limit_hit(d, tenant, err);
	return HEARTH_EBUSY;
}

void
hearth_distributor_reject(hearth_distributor *d, const char *tenant,
    const char *reason)
{
	const char *lv[] = { tenant, reason };
	hearth_metric_add(d->m_rejected, lv, 1);
}

/* hearth_distributor_send; *retry_ms (may be NULL) gets the wait a 429
 * for the rate limit asks for (0 otherwise). */
static int
distributor_send(hearth_distributor *d, const char *tenant,
    const Hearth__Ingester__PushRequest *push, hearth_arena *a,
    int64_t now_ns, int *status, int64_t *retry_ms, hearth_err *err)
{
	size_t	 plen = hearth__ingester__push_request__get_packed_size(push);
	int64_t	 wait = 0;
	int	 rc   = distributor_rate(d, tenant, plen, status, &wait, err);
	if (retry_ms != NULL)
		*retry_ms = wait;
	if (rc != 0)
		return rc;
	uint8_t *pbuf = hearth_arena_alloc(a, plen ? plen : 1);
	if (pbuf == NULL) {
		hearth_distributor_reject(d, tenant, "request_memory");
		*status = 413;
		return hearth_err_set(err, HEARTH_ETOOLARGE,
		    "request memory limit reached while encoding the push");
	}
	hearth__ingester__push_request__pack(push, pbuf);
	char reqid[40];
	snprintf(reqid, sizeof(reqid), "%016llx", (unsigned long long) now_ns);
	hearth_rpc_meta meta = {
		.tenant		  = tenant,
		.request_id	  = reqid,
		.deadline_unix_ms = now_ns / 1000000 + d->cfg.rpc_timeout_ms,
	};
	double t0 = distributor_mono_s();
	rc = hearth_distributor_replicate(d, tenant, push, pbuf, plen, &meta,
	    a, err);
	hearth_metric_observe(d->m_push_seconds, NULL, distributor_mono_s() - t0);
	if (rc != 0) {
		hearth_distributor_reject(d, tenant, "ingester_error");
		*status = hearth_http_status_from_err(rc);
		if (*status < 500 && rc != HEARTH_EBUSY && rc != HEARTH_EINVAL &&
		    rc != HEARTH_ELIMIT)
			*status = 500;
		char q[600];
		hearth_log_write(d->deps.log, HEARTH_LOG_WARN,
		    "ingester push failed", "tenant=%s err=%s", tenant,
		    hearth_log_quote(q, sizeof(q), err->msg));
		hearth_distributor_limit_hit(d, tenant, err);
		hearth_err_prefix(err, "push to ingester failed");
		return rc;
	}
	return 0;
}

int
hearth_distributor_send(hearth_distributor *d, const char *tenant,
    const Hearth__Ingester__PushRequest *push, hearth_arena *a,
    int64_t now_ns, int *status, hearth_err *err)
{
	return distributor_send(d, tenant, push, a, now_ns, status, NULL, err);
}

/* Count what the limits cut from an accepted upload, and tell the client
 * in a Warning header (RFC 7234 code 299, "miscellaneous persistent
 * warning"): the request succeeded, but not all of it was kept as sent
 * (also JFR samples left out as unresolvable). */
static void
distributor_truncations(hearth_distributor *d, const char *tenant,
    const hearth_limits *l, const hearth_ingest_result *res,
    hearth_http_resp *resp)
{
	char msg[256];
	int  o = 0;
	if (res->truncated_stacks > 0) {
		const char *lv[] = { tenant, "max_profile_stacktrace_depth" };
		hearth_metric_add(
		    d->m_truncations, lv, (double) res->truncated_stacks);
		o += snprintf(msg + o, sizeof(msg) - (size_t) o,
		    "%s%zu stacks cut to %lld frames "
		    "(max_profile_stacktrace_depth)",
		    o ? "; " : "", res->truncated_stacks,
		    (long long) l->max_profile_stacktrace_depth);
	}
	if (res->truncated_symbols > 0 && o < (int) sizeof(msg)) {
		const char *lv[] = { tenant, "max_profile_symbol_value_length" };
		hearth_metric_add(
		    d->m_truncations, lv, (double) res->truncated_symbols);
		o += snprintf(msg + o, sizeof(msg) - (size_t) o,
		    "%s%zu symbols cut to their last %lld bytes "
		    "(max_profile_symbol_value_length)",
		    o ? "; " : "", res->truncated_symbols,
		    (long long) l->max_profile_symbol_value_length);
	}
	/* Not a limit: the recording named stack traces it did not hold. */
	if (res->unresolved_samples > 0) {
		const char *lv[] = { tenant, "jfr" };
		hearth_metric_add(
		    d->m_unresolved, lv, (double) res->unresolved_samples);
	}
	if (res->unresolved_samples > 0 && o < (int) sizeof(msg))
		snprintf(msg + o, sizeof(msg) - (size_t) o,
		    "%s%zu JFR samples left out (their stack trace is in no "
		    "constant pool of the recording)",
		    o ? "; " : "", res->unresolved_samples);
	if (res->truncated_stacks > 0 || res->truncated_symbols > 0
	    || res->unresolved_samples > 0) {
		char hv[300];
		snprintf(hv, sizeof(hv), "299 hearth \"%s\"", msg);
		hearth_http_resp_header(resp, "Warning", hv);
	}
}

static void
distributor_handle_ingest(void *ctx, hearth_http_req *req,
    hearth_http_resp *resp)
{
	hearth_distributor *d = ctx;
	hearth_err	    err;
	const char	  **ids;
	size_t		    n_ids;
	hearth_limits	    lim;
	hearth_err_clear(&err);

	if (hearth_auth_request(req, d->cfg.multitenancy_enabled,
	        HEARTH_AUTH_WRITE, &ids, &n_ids, &err) != 0) {
		hearth_auth_fail(hearth_http_req_auth(req), resp, &err);
		return;
	}
	const char *tenant = ids[0];
	hearth_distributor_limits(d, tenant, &lim);
	hearth_arena *a = hearth_http_req_arena(req);
	size_t	      len;
	const uint8_t *body = hearth_http_req_body(req, &len);
	/* The server enforces the default body limit while reading; a
	 * tenant's own lower limit can only be checked now. */
	size_t body_max = hearth_limits_body_bytes(&lim);
	if (body_max > 0 && len > body_max) {
		hearth_err_set(&err, HEARTH_ETOOLARGE,
		    "request body is %zu bytes, larger than the limit of %zu "
		    "bytes (limits.ingestion_body_limit_mb: %lld)",
		    len, body_max, (long long) lim.ingestion_body_limit_mb);
		hearth_distributor_reject(d, tenant, "body_too_large");
		hearth_distributor_limit_hit(d, tenant, &err);
		hearth_http_resp_error(resp, 413, "%s", err.msg);
		return;
	}
	hearth_ingest_params p = {
		.name		  = hearth_http_req_query(req, "name"),
		.from		  = hearth_http_req_query(req, "from"),
		.until		  = hearth_http_req_query(req, "until"),
		.format		  = hearth_http_req_query(req, "format"),
		.spy_name	  = hearth_http_req_query(req, "spyName"),
		.sample_rate	  = hearth_http_req_query(req, "sampleRate"),
		.content_type	  = hearth_http_req_header(req, "Content-Type"),
		.content_encoding = hearth_http_req_header(req,
		    "Content-Encoding"),
		.now_ns		  = distributor_now_ns(),
		.limits		  = &lim,
	};
	hearth_ingest_result res;
	const char *tl[] = { tenant };
	hearth_metric_add(d->m_bytes, tl, (double) len);
	if (hearth_ingest_build(a, &p, body, len, &res, &err) != 0) {
		hearth_distributor_reject(d, tenant, res.reason ? res.reason : "invalid");
		hearth_distributor_limit_hit(d, tenant, &err);
		hearth_http_resp_error(resp, res.status ? res.status : 400, "%s",
		    err.msg);
		return;
	}
	hearth_metric_add(d->m_decoded, tl, (double) res.decoded_bytes);
	if (res.push == NULL) {
		resp->status = 200;
		return;
	}
	int	status;
	int64_t retry_ms;
	if (distributor_send(d, tenant, res.push, a, p.now_ns, &status,
	        &retry_ms, &err) != 0) {
		hearth_http_resp_error(resp, status, "%s", err.msg);
		if (retry_ms > 0) {
			char ra[32]; /* whole seconds, rounded up (RFC 9110) */
			snprintf(ra, sizeof(ra), "%lld",
			    (long long) ((retry_ms + 999) / 1000));
			hearth_http_resp_header(resp, "Retry-After", ra);
		}
		return;
	}
	hearth_metric_add(d->m_profiles, tl, (double) res.profiles);
	hearth_metric_add(d->m_samples, tl, (double) res.samples);
	distributor_truncations(d, tenant, &lim, &res, resp);
	resp->status = 200;
}

int
hearth_distributor_new(const hearth_distributor_cfg *cfg,
    const hearth_distributor_deps *deps, hearth_distributor **out,
    hearth_err *err)
{
	hearth_distributor *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "distributor: out of memory");
	d->cfg	= *cfg;
	d->deps = *deps;
	static const char *const tenant_l[] = { "tenant" };
	static const char *const rej_l[]    = { "tenant", "reason" };
	static const char *const lim_l[]    = { "tenant", "limit" };
	d->m_profiles = hearth_metrics_counter(deps->metrics,
	    "hearth_distributor_received_profiles_total",
	    "Profiles (one per series and sample type) accepted for storage.",
	    1, tenant_l);
	d->m_bytes = hearth_metrics_counter(deps->metrics,
	    "hearth_distributor_received_compressed_bytes_total",
	    "Request body bytes received on ingest paths, as sent.", 1,
	    tenant_l);
	d->m_decoded = hearth_metrics_counter(deps->metrics,
	    "hearth_distributor_received_decompressed_bytes_total",
	    "Ingest body bytes after Content-Encoding was removed.", 1,
	    tenant_l);
	d->m_samples = hearth_metrics_counter(deps->metrics,
	    "hearth_distributor_received_samples_total",
	    "Stack samples accepted for storage.", 1, tenant_l);
	d->m_rejected = hearth_metrics_counter(deps->metrics,
	    "hearth_distributor_rejected_requests_total",
	    "Ingest requests rejected, by reason.", 2, rej_l);
	d->m_push_seconds = hearth_metrics_histogram(deps->metrics,
	    "hearth_distributor_push_duration_seconds",
	    "Time to push one request to the ingester and get its ack.", 0,
	    NULL, NULL, 0);
	d->m_limit_rejections = hearth_metrics_counter(deps->metrics,
	    "hearth_limit_rejections_total",
	    "Requests refused because a per-tenant limit was reached, by the "
	    "limit's YAML key.",
	    2, lim_l);
	d->m_truncations = hearth_metrics_counter(deps->metrics,
	    "hearth_limit_truncations_total",
	    "What a per-tenant limit cut short instead of refusing (stacks "
	    "and symbols of accepted profiles, query ranges), by the "
	    "limit's YAML key.",
	    2, lim_l);
	static const char *const unres_l[] = { "tenant", "format" };
	d->m_unresolved = hearth_metrics_counter(deps->metrics,
	    "hearth_distributor_unresolved_samples_total",
	    "Samples left out of accepted uploads because the upload refers "
	    "to data it does not hold (JFR: a stack trace or method in no "
	    "constant pool of the recording), by upload format.",
	    2, unres_l);
	if (d->m_profiles == NULL || d->m_bytes == NULL || d->m_decoded == NULL ||
	    d->m_samples == NULL || d->m_rejected == NULL ||
	    d->m_push_seconds == NULL || d->m_unresolved == NULL) {
		free(d);
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "distributor: cannot register metrics");
	}
	*out = d;
	return 0;
}

/* Scraped profiles take the /ingest path's last step: the same send and
 * the same per-tenant counters (scrape.h). Called from scrape workers. */
static int
distributor_scrape_push(void *ctx, const char *tenant,
    const hearth_ingest_result *res, hearth_arena *a, hearth_err *err)
{
	hearth_distributor *d = ctx;
	int		    status;
	int rc = hearth_distributor_send(d, tenant, res->push, a,
	    distributor_now_ns(), &status, err);
	if (rc != 0)
		return rc;
	const char *tl[] = { tenant };
	hearth_metric_add(d->m_profiles, tl, (double) res->profiles);
	hearth_metric_add(d->m_samples, tl, (double) res->samples);
	return 0;
}

static void
distributor_scrape_limits(void *ctx, const char *tenant, hearth_limits *out)
{
	hearth_distributor_limits(ctx, tenant, out);
}

static int
distributor_scrape_start(hearth_distributor *d, hearth_err *err)
{
	static const hearth_scrape_config none = { 0 };
	hearth_scrape_opts o = {
		.config		      = d->cfg.scrape != NULL ? d->cfg.scrape : &none,
		.limits		      = d->cfg.limits,
		.limits_for	      = distributor_scrape_limits,
		.multitenancy_enabled = d->cfg.multitenancy_enabled,
		.workers	      = d->cfg.scrape_workers,
		.dump_dir	      = d->cfg.scrape_dump_dir,
		.dump_keep	      = d->cfg.scrape_dump_keep,
		.arena_cap	      = d->cfg.scrape_arena_cap,
		.push		      = distributor_scrape_push,
		.push_ctx	      = d,
		.http		      = d->deps.http,
		.metrics	      = d->deps.metrics,
		.log		      = d->deps.log,
	};
	int rc = hearth_scrape_new(&o, &d->scrape, err);
	return rc != 0 ? rc : hearth_scrape_start(d->scrape, err);
}

int
hearth_distributor_start(hearth_distributor *d, hearth_err *err)
{
	int rc;
	if (d->deps.cluster == NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "distributor: no ingester ring to write to");
	if (hearth_http_route(d->deps.http, "POST", "/ingest", 0, "ingest",
	        distributor_handle_ingest, d) != 0 ||
	    hearth_http_route(d->deps.http, "POST", "/pyroscope/ingest", 0,
	        "ingest", distributor_handle_ingest, d) != 0)
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "distributor: cannot register HTTP routes");
	if ((rc = hearth_distributor_push_routes(d, err)) != 0 ||
	    (rc = hearth_parca_routes(d, err)) != 0 ||
	    (rc = hearth_otlp_routes(d, err)) != 0)
		return rc;
	return distributor_scrape_start(d, err);
}

void
hearth_distributor_stop(hearth_distributor *d)
{
	/* Requests finish when the HTTP server stops; scrapes stop here,
	 * before the RPC client they push through goes away. */
	if (d->scrape != NULL)
		hearth_scrape_stop(d->scrape);
}

void
hearth_distributor_free(hearth_distributor *d)
{
	if (d == NULL)
		return;
	hearth_scrape_free(d->scrape);
	hearth_connect_free(d->connect);
	free(d);
}
