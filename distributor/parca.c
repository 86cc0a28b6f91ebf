/*
 * parca.c: WriteRaw (parca.h).
 */
#include "parca.h"

#include "distributor_impl.h"
#include "otlp.h"
#include "parca_profilestore.pb-c.h"
#include "tenant.h"

#include <string.h>
#include <time.h>

static int64_t
parca_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The series labels of series si (parca.h): as sent, service_name from
 * job when absent. */
static int
parca_labels(hearth_connect_call *call, size_t si,
    const Parca__Profilestore__V1alpha1__RawProfileSeries *s,
    hearth_label **out, size_t *n_out)
{
	size_t        nl = s->labels != NULL ? s->labels->n_labels : 0;
	hearth_label *ls
	    = hearth_arena_calloc(call->arena, nl + 1, sizeof(*ls));
	if (ls == NULL)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
		    "request memory limit reached");
	size_t n = 0;
	for (size_t i = 0; i < nl; i++) {
		const Parca__Profilestore__V1alpha1__Label *l
		    = s->labels->labels[i];
		if (l->name == NULL || *l->name == '\0')
			continue;
		ls[n].name    = l->name;
		ls[n++].value = l->value != NULL ? l->value : "";
	}
	n                = hearth_labels_sort(ls, n);
	const char *name = hearth_labels_get(ls, n, "__name__");
	if (name == NULL || *name == '\0')
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "series %zu: the __name__ label is required: it names the "
		    "profile (Parca agents send e.g. parca_agent)",
		    si);
	const char *svc = hearth_labels_get(ls, n, "service_name");
	const char *job = hearth_labels_get(ls, n, "job");
	if ((svc == NULL || *svc == '\0') && job != NULL && *job != '\0') {
		ls[n].name    = "service_name";
		ls[n++].value = job;
		n             = hearth_labels_sort(ls, n);
	}
	*out   = ls;
	*n_out = n;
	return 0;
}

static int
parca_handle(void *ctx, hearth_connect_call *call, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	hearth_distributor                                   *d = ctx;
	const Parca__Profilestore__V1alpha1__WriteRawRequest *r
	    = (const void *) req;
	char tenant[HEARTH_TENANT_MAX + 1];
	int  rc = hearth_connect_tenant(
	     call, d->cfg.multitenancy_enabled, tenant, sizeof(tenant));
	if (rc != 0)
		return rc;
	const char *tl[] = { tenant };
	size_t      len;
	hearth_http_req_body(call->http, &len);
	hearth_metric_add(d->m_bytes, tl, (double) len);
	if (r->n_series == 0) {
		hearth_distributor_reject(d, tenant, "empty");
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT, "no profiles received");
	}
	hearth_limits lim;
	hearth_distributor_limits(d, tenant, &lim);
	int64_t         now = parca_now_ns();
	hearth_otlp_acc acc = { 0 };
	hearth_err      err;
	for (size_t i = 0; i < r->n_series; i++) {
		const Parca__Profilestore__V1alpha1__RawProfileSeries *s
		    = r->series[i];
		hearth_label *ls = NULL;
		size_t        n  = 0;
		if ((rc = parca_labels(call, i, s, &ls, &n)) != 0) {
			hearth_distributor_reject(d, tenant, "invalid_labels");
			return rc;
		}
		for (size_t k = 0; k < s->n_samples; k++) {
			const ProtobufCBinaryData *raw
			    = &s->samples[k]->raw_profile;
			int status;
			if (raw->len == 0)
				continue; /* nothing to store, as on Push */
			if (hearth_otlp_acc_add(call->arena, &acc, raw->data,
			        raw->len, ls, n, &lim, now, &status, &err)
			    != 0) {
				hearth_distributor_reject(d, tenant,
				    status == 413 ? "body_too_large"
				                  : "invalid");
				hearth_distributor_limit_hit(d, tenant, &err);
				return hearth_connect_fail(call,
				    hearth_connect_code_from_status(status),
				    "series %zu sample %zu: %s", i, k,
				    err.msg);
			}
		}
	}
	hearth_metric_add(d->m_decoded, tl, (double) acc.decoded_bytes);
	if (acc.push != NULL) {
		int status;
		if (hearth_distributor_send(
		        d, tenant, acc.push, call->arena, now, &status, &err)
		    != 0)
			return hearth_connect_fail(
			    call, hearth_connect_code_from_status(status), "%s", err.msg);
		hearth_metric_add(d->m_profiles, tl, (double) acc.profiles);
		hearth_metric_add(d->m_samples, tl, (double) acc.samples);
	}
	Parca__Profilestore__V1alpha1__WriteRawResponse *out
	    = hearth_arena_alloc(call->arena, sizeof(*out));
	if (out == NULL)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_RESOURCE_EXHAUSTED,
		    "request memory limit reached");
	parca__profilestore__v1alpha1__write_raw_response__init(out);
	*resp = &out->base;
	return 0;
}

int
hearth_parca_routes(hearth_distributor *d, hearth_err *err)
{
	if (d->connect == NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "distributor: Parca routes need the Connect route set");
	if (hearth_connect_add(d->connect,
	        "/parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw",
	        "parca_write_raw",
	        &parca__profilestore__v1alpha1__write_raw_request__descriptor,
	        parca_handle, d)
	        != 0
	    || hearth_connect_add_service(d->connect,
	           "/parca.profilestore.v1alpha1.ProfileStoreService/",
	           "parca_unimplemented")
	        != 0)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "distributor: cannot register the Parca routes");
	return 0;
}
