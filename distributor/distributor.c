#include "distributor.h"

#include "ingest.h"
#include "rpc.h"
#include "tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hearth_distributor {
	hearth_distributor_cfg	cfg;
	hearth_distributor_deps deps;
	hearth_rpc_client      *ingester;
	hearth_metric	       *m_profiles;	/* {tenant} */
	hearth_metric	       *m_bytes;	/* {tenant} compressed body */
	hearth_metric	       *m_decoded;	/* {tenant} */
	hearth_metric	       *m_samples;	/* {tenant} */
	hearth_metric	       *m_rejected;	/* {tenant,reason} */
	hearth_metric	       *m_push_seconds;
};

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

static void
distributor_reject(hearth_distributor *d, const char *tenant,
    const char *reason)
{
	const char *lv[] = { tenant, reason };
	hearth_metric_add(d->m_rejected, lv, 1);
}

static void
distributor_handle_ingest(void *ctx, hearth_http_req *req,
    hearth_http_resp *resp)
{
	hearth_distributor *d = ctx;
	hearth_err	    err;
	char		    tenant[256];
	hearth_err_clear(&err);

	int rc = hearth_tenant_resolve(
	    hearth_http_req_header(req, "X-Scope-OrgID"),
	    d->cfg.multitenancy_enabled, tenant, sizeof(tenant), &err);
	if (rc != 0) {
		hearth_http_resp_error(resp, rc == HEARTH_ENOTFOUND ? 401 : 400,
		    "%s", err.msg);
		return;
	}
	hearth_arena *a = hearth_http_req_arena(req);
	size_t	      len;
	const uint8_t *body = hearth_http_req_body(req, &len);
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
		.limits		  = d->cfg.limits,
	};
	hearth_ingest_result res;
	const char *tl[] = { tenant };
	hearth_metric_add(d->m_bytes, tl, (double) len);
	if (hearth_ingest_build(a, &p, body, len, &res, &err) != 0) {
		distributor_reject(d, tenant, res.reason ? res.reason : "invalid");
		hearth_http_resp_error(resp, res.status ? res.status : 400, "%s",
		    err.msg);
		return;
	}
	hearth_metric_add(d->m_decoded, tl, (double) res.decoded_bytes);
	if (res.push == NULL) {
		resp->status = 200;
		return;
	}
	size_t	 plen = hearth__ingester__push_request__get_packed_size(res.push);
	uint8_t *pbuf = hearth_arena_alloc(a, plen ? plen : 1);
	if (pbuf == NULL) {
		distributor_reject(d, tenant, "request_memory");
		hearth_http_resp_error(resp, 413,
		    "request memory limit reached while encoding the push");
		return;
	}
	hearth__ingester__push_request__pack(res.push, pbuf);
	char	reqid[40];
	snprintf(reqid, sizeof(reqid), "%016llx",
	    (unsigned long long) p.now_ns);
	hearth_rpc_meta meta = {
		.tenant		  = tenant,
		.request_id	  = reqid,
		.deadline_unix_ms = p.now_ns / 1000000 + d->cfg.rpc_timeout_ms,
	};
	const uint8_t *rbody = NULL;
	size_t	       rlen  = 0;
	double	       t0    = distributor_mono_s();
	rc = hearth_rpc_call(d->ingester, HEARTH_RPC_PUSH, &meta, pbuf, plen, a,
	    &rbody, &rlen, &err);
	hearth_metric_observe(d->m_push_seconds, NULL, distributor_mono_s() - t0);
	if (rc != 0) {
		distributor_reject(d, tenant, "ingester_error");
		int status = hearth_http_status_from_err(rc);
		if (status < 500 && rc != HEARTH_EBUSY && rc != HEARTH_EINVAL &&
		    rc != HEARTH_ELIMIT)
			status = 500;
		char q[600];
		hearth_log_write(d->deps.log, HEARTH_LOG_WARN,
		    "ingester push failed", "tenant=%s err=%s", tenant,
		    hearth_log_quote(q, sizeof(q), err.msg));
		hearth_http_resp_error(resp, status, "push to ingester failed: %s",
		    err.msg);
		return;
	}
	hearth_metric_add(d->m_profiles, tl, (double) res.profiles);
	hearth_metric_add(d->m_samples, tl, (double) res.samples);
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
	if (d->m_profiles == NULL || d->m_bytes == NULL || d->m_decoded == NULL ||
	    d->m_samples == NULL || d->m_rejected == NULL ||
	    d->m_push_seconds == NULL) {
		free(d);
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "distributor: cannot register metrics");
	}
	*out = d;
	return 0;
}

int
hearth_distributor_start(hearth_distributor *d, hearth_err *err)
{
	int rc = hearth_rpc_client_new(d->cfg.ingester_url,
	    d->cfg.rpc_max_message_bytes, &d->ingester, err);
	if (rc != 0)
		return rc;
	if (hearth_http_route(d->deps.http, "POST", "/ingest", 0, "ingest",
	        distributor_handle_ingest, d) != 0 ||
	    hearth_http_route(d->deps.http, "POST", "/pyroscope/ingest", 0,
	        "ingest", distributor_handle_ingest, d) != 0)
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "distributor: cannot register HTTP routes");
	return 0;
}

void
hearth_distributor_stop(hearth_distributor *d)
{
	(void) d; /* requests finish when the HTTP server stops */
}

void
hearth_distributor_free(hearth_distributor *d)
{
	if (d == NULL)
		return;
	hearth_rpc_client_free(d->ingester);
	free(d);
}
