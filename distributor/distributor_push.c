/*
 * distributor_push: push.v1.PusherService/Push (connect-apis.md §2), what
 * Grafana Alloy's pyroscope.write and the newer SDKs send. Each RawSample
 * is one pprof; it is decoded and validated like an /ingest pprof
 * (pprof.h), turned into series with the series' own labels
 * (hearth_ingest_build_upload) and sent to the ingester through the same
 * hearth_distributor_send as /ingest, one sample at a time. Series are
 * independent: when one fails the call fails, and what came before it
 * stays stored (no atomicity, as upstream).
 *
 * Labels (model.md §3, §3.1, §5): used as sent, plus service_name =
 * "unknown_service" when absent; __name__ is required. The control labels
 * __delta__, __otel__, __order__ and the SDK's __session_id__ are dropped
 * (max_sessions_per_series is 0). Upstream's default relabel rule runs
 * first: __name__ godeltaprof_X becomes X with __name_replaced__ keeping
 * the original. A pprof refused as invalid is decoded once more with
 * /ingest's dotnetspy repairs (function ids, '-' in sample types), so the
 * .NET agent's profiles are accepted here too. Annotations are dropped;
 * RawSample.ID is not used as the profile id (a fresh random id per stored
 * profile, as on /ingest: a client that reuses ids must not lose data).
 *
 * Server-side delta (model.md §5): a series without __delta__="false"
 * and not renamed from godeltaprof_ (which upstream marks
 * __delta__="false") has its profiles of __name__ memory and __type__
 * alloc_objects / alloc_space sent with SeriesProfile.delta = true; the
 * ingester keeps the per-series state and stores differences
 * (ingester/delta.h), since distributors are stateless and a series may
 * go through any of them.
 *
 * Errors: validation (labels, pprof, timestamps, per-profile limits) →
 * invalid_argument 400 (model.md §4: Push answers 400 where /ingest
 * answers 422); more than ingestion_body_limit_mb decompressed in one
 * request → resource_exhausted; ingester back-pressure →
 * resource_exhausted; ingester down → unavailable.
 */
#include "distributor_impl.h"

#include "connect.h"
#include "ingest.h"
#include "labels.h"
#include "pprof.h"
#include "push.pb-c.h"
#include "tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t
distributor_push_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The series labels of one RawProfileSeries, ready for
 * hearth_ingest_build_upload: control labels dropped, defaults and the
 * godeltaprof rename applied. *may_delta: 0 when the series opted out of
 * the server-side delta (__delta__="false", or a godeltaprof_ name, which
 * upstream's relabel rule gives __delta__="false"). */
static int
distributor_push_labels(hearth_connect_call *call, size_t si,
    const Push__V1__RawProfileSeries *s, hearth_label **out, size_t *n_out,
    int *may_delta)
{
	hearth_label *ls
	    = hearth_arena_calloc(call->arena, s->n_labels + 3, sizeof(*ls));
	if (ls == NULL)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
		    "request memory limit reached");
	size_t n   = 0;
	*may_delta = 1;
	for (size_t i = 0; i < s->n_labels; i++) {
		const Types__V1__LabelPair *p = s->labels[i];
		if (p == NULL || p->name == NULL)
			continue;
		if (strcmp(p->name, "__delta__") == 0 && p->value != NULL
		    && strcmp(p->value, "false") == 0)
			*may_delta = 0;
		if (strcmp(p->name, "__delta__") == 0
		    || strcmp(p->name, "__otel__") == 0
		    || strcmp(p->name, "__order__") == 0
		    || strcmp(p->name, "__session_id__") == 0)
			continue;
		ls[n].name    = p->name;
		ls[n++].value = p->value != NULL ? p->value : "";
	}
	n                = hearth_labels_sort(ls, n);
	const char *name = hearth_labels_get(ls, n, "__name__");
	if (name == NULL || *name == '\0')
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "series %zu: the __name__ label is required: it names the "
		    "profile type (e.g. process_cpu, memory)",
		    si);
	const char *svc = hearth_labels_get(ls, n, "service_name");
	if (svc == NULL || *svc == '\0') {
		ls[n].name    = "service_name";
		ls[n++].value = "unknown_service";
	}
	if (strncmp(name, "godeltaprof_", 12) == 0 && name[12] != '\0') {
		*may_delta    = 0;
		ls[n].name    = "__name_replaced__";
		ls[n++].value = name;
		ls[n].name    = "__name__";
		ls[n++].value = name + 12;
	}
	*out   = ls;
	*n_out = hearth_labels_sort(ls, n);
	return 0;
}

/* Mark the profiles the ingester turns from cumulative into deltas
 * (model.md §5): __name__ memory with __type__ alloc_objects or
 * alloc_space, the final labels of each profile. */
static void
distributor_push_mark_delta(Hearth__Ingester__PushRequest *push)
{
	for (size_t b = 0; b < push->n_batches; b++)
		for (size_t i = 0; i < push->batches[b]->n_profiles; i++) {
			Hearth__Ingester__SeriesProfile *sp
			    = push->batches[b]->profiles[i];
			const char *name = NULL, *type = NULL;
			for (size_t j = 0; j < sp->n_labels; j++) {
				const char *ln = sp->labels[j]->name;
				if (strcmp(ln, "__name__") == 0)
					name = sp->labels[j]->value;
				else if (strcmp(ln, "__type__") == 0)
					type = sp->labels[j]->value;
			}
			sp->delta = name != NULL && type != NULL
			    && strcmp(name, "memory") == 0
			    && (strcmp(type, "alloc_objects") == 0
			        || strcmp(type, "alloc_space") == 0);
		}
}

/* One RawSample: decode, build, send. *budget is what is left of the
 * request's decompressed-bytes limit. */
static int
distributor_push_sample(hearth_distributor *d, hearth_connect_call *call,
    const char *tenant, size_t si, size_t k, const Push__V1__RawSample *rs,
    const hearth_label *ls, size_t n, int may_delta, size_t *budget)
{
	hearth_limits        tenant_limits;
	const hearth_limits *lim = &tenant_limits;
	hearth_err           err;
	hearth_distributor_limits(d, tenant, &tenant_limits);
	hearth_err_clear(&err);
	const char       *tl[] = { tenant };
	hearth_pprof_opts po   = {
		  .max_profile_size_bytes = (size_t) lim->max_profile_size_bytes,
		  .max_samples = (size_t) lim->max_profile_stacktrace_samples,
		  .max_stack_depth = (size_t) lim->max_profile_stacktrace_depth,
		  .max_symbol_length
		  = (size_t) lim->max_profile_symbol_value_length,
		  .max_decompressed = *budget,
	};
	hearth_pprof_result pr;
	if (rs->raw_profile.len == 0)
		return 0; /* nothing to store, as an empty /ingest pprof */
	int rc = hearth_pprof_decode(call->arena, rs->raw_profile.data,
	    rs->raw_profile.len, &po, &pr, &err);
	if (rc == HEARTH_EINVAL) {
		/* The .NET agent's pprof (every function id 0, functions
		 * parallel to locations) is invalid as sent; /ingest repairs
		 * it for spyName=dotnetspy. Push has no spy name, so the
		 * repair is tried when the profile is otherwise refused. */
		hearth_err          err2;
		hearth_pprof_result pr2;
		po.spy_name = "dotnetspy";
		if (hearth_pprof_decode(call->arena, rs->raw_profile.data,
		        rs->raw_profile.len, &po, &pr2, &err2)
		    == 0) {
			pr = pr2;
			rc = 0;
		}
	}
	if (rc != 0) {
		hearth_distributor_reject(d, tenant,
		    err.code == HEARTH_ETOOLARGE ? "body_too_large"
		                                 : "invalid");
		hearth_distributor_limit_hit(d, tenant, &err);
		if (err.code == HEARTH_ETOOLARGE)
			return hearth_connect_fail(call,
			    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
			    "series %zu sample %zu: the decompressed profiles "
			    "of this request are over the body limit "
			    "(ingestion_body_limit_mb)",
			    si, k);
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "series %zu sample %zu: %s", si, k, err.msg);
	}
	if (pr.decoded_bytes > *budget) {
		hearth_distributor_reject(d, tenant, "body_too_large");
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
		    "series %zu sample %zu: the decompressed profiles of this "
		    "request are over the body limit "
		    "(ingestion_body_limit_mb)",
		    si, k);
	}
	*budget -= pr.decoded_bytes;
	if (*budget == 0)
		*budget = 1; /* 0 would mean "the default cap" to pprof.h */
	hearth_metric_add(d->m_decoded, tl, (double) pr.decoded_bytes);
	int64_t now = distributor_push_now_ns();
	int64_t ts  = pr.upload != NULL && pr.upload->time_nanos > 0
	     ? pr.upload->time_nanos
	     : now;
	if (hearth_limits_check_time(lim, ts, now, &err) != 0) {
		hearth_distributor_reject(
		    d, tenant, "not_in_ingestion_window");
		hearth_distributor_limit_hit(d, tenant, &err);
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "series %zu sample %zu: %s", si, k, err.msg);
	}
	hearth_ingest_result res;
	if (hearth_ingest_build_upload(call->arena, pr.upload, ls, n, ts,
	        pr.upload != NULL && pr.upload->duration_nanos > 0
	            ? pr.upload->duration_nanos
	            : 0,
	        lim, &res, &err)
	    != 0) {
		hearth_distributor_reject(
		    d, tenant, res.reason != NULL ? res.reason : "invalid");
		hearth_distributor_limit_hit(d, tenant, &err);
		return hearth_connect_fail(call,
		    err.code == HEARTH_ENOMEM
		        ? HEARTH_CONNECT_RESOURCE_EXHAUSTED
		        : HEARTH_CONNECT_INVALID_ARGUMENT,
		    "series %zu sample %zu: %s", si, k, err.msg);
	}
	if (res.push == NULL)
		return 0;
	if (may_delta)
		distributor_push_mark_delta(res.push);
	int status;
	if (hearth_distributor_send(
	        d, tenant, res.push, call->arena, now, &status, &err)
	    != 0)
		return hearth_connect_fail(call,
		    hearth_connect_code_from_status(status),
		    "series %zu sample %zu: %s", si, k, err.msg);
	hearth_metric_add(d->m_profiles, tl, (double) res.profiles);
	hearth_metric_add(d->m_samples, tl, (double) res.samples);
	return 0;
}

static int
distributor_push_handle(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	hearth_distributor          *d = ctx;
	const Push__V1__PushRequest *r = (const void *) req;
	char                         tenant[HEARTH_TENANT_MAX + 1];
	int                          rc = hearth_connect_tenant(
	                             call, d->cfg.multitenancy_enabled, tenant, sizeof(tenant));
	if (rc != 0)
		return rc;
	size_t len;
	hearth_http_req_body(call->http, &len);
	const char *tl[] = { tenant };
	hearth_metric_add(d->m_bytes, tl, (double) len);
	if (r->n_series == 0) {
		hearth_distributor_reject(d, tenant, "empty");
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT, "no profiles received");
	}
	size_t budget = hearth_limits_body_bytes(d->cfg.limits);
	if (budget == 0)
		budget = HEARTH_PPROF_DEFAULT_MAX_DECOMPRESSED;
	for (size_t i = 0; i < r->n_series; i++) {
		const Push__V1__RawProfileSeries *s  = r->series[i];
		hearth_label                     *ls = NULL;
		size_t                            n  = 0;
		int                               may_delta = 1;
		if ((rc = distributor_push_labels(call, i, s, &ls, &n,
		         &may_delta))
		    != 0) {
			hearth_distributor_reject(d, tenant, "invalid_labels");
			return rc;
		}
		for (size_t k = 0; k < s->n_samples; k++)
			if ((rc = distributor_push_sample(d, call, tenant, i,
			         k, s->samples[k], ls, n, may_delta, &budget))
			    != 0)
				return rc;
	}
	Push__V1__PushResponse *out
	    = hearth_arena_alloc(call->arena, sizeof(*out));
	if (out == NULL)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
		    "request memory limit reached");
	push__v1__push_response__init(out);
	*resp = &out->base;
	return 0;
}

int
hearth_distributor_push_routes(hearth_distributor *d, hearth_err *err)
{
	hearth_connect_opts o = {
		.max_body_bytes   = hearth_limits_body_bytes(d->cfg.limits),
		.max_body_setting = "limits.ingestion_body_limit_mb",
		.write            = 1, /* credentials need write access */
	};
	int rc = hearth_connect_new(d->deps.http, &o, &d->connect, err);
	if (rc != 0)
		return rc;
	if (hearth_connect_add(d->connect, "/push.v1.PusherService/Push",
	        "push", &push__v1__push_request__descriptor,
	        distributor_push_handle, d)
	        != 0
	    || hearth_connect_add_service(
	           d->connect, "/push.v1.PusherService/", "push_unimplemented")
	        != 0)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "distributor: cannot register the Push routes");
	return 0;
}
