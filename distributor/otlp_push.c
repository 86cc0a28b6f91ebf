/*
 * otlp_push.c: pprofs with series labels → one ingester push
 * (hearth_otlp_acc_add, shared with Parca's WriteRaw), and the whole OTLP
 * request → push (hearth_otlp_build).
 */
#include "otlp.h"

#include "gzip.h"
#include "ingest.h"
#include "pprof.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static int
otlp_push_fail(int *status, int st, hearth_err *err)
{
	*status = st;
	return err->code != 0 ? err->code : HEARTH_EINVAL;
}

/* Control labels are input flags, never stored (model.md §3.1); the SDK
 * session label is dropped as max_sessions_per_series is 0. */
static int
otlp_push_control(const char *name)
{
	return strcmp(name, "__delta__") == 0 || strcmp(name, "__otel__") == 0
	    || strcmp(name, "__order__") == 0
	    || strcmp(name, "__session_id__") == 0;
}

/* Append the batches of push to acc->push. */
static int
otlp_push_append(hearth_arena *a, hearth_otlp_acc *acc,
    const Hearth__Ingester__PushRequest *push, hearth_err *err)
{
	if (acc->push == NULL) {
		acc->push = hearth_arena_alloc(a, sizeof(*acc->push));
		if (acc->push == NULL)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached while building the "
			    "push");
		hearth__ingester__push_request__init(acc->push);
	}
	Hearth__Ingester__PushRequest *p    = acc->push;
	size_t                         need = p->n_batches + push->n_batches;
	if (need > acc->cap_batches) {
		size_t cap = acc->cap_batches ? acc->cap_batches * 2 : 8;
		while (cap < need)
			cap *= 2;
		void *nb = hearth_arena_realloc(a, p->batches,
		    acc->cap_batches * sizeof(*p->batches),
		    cap * sizeof(*p->batches));
		if (nb == NULL)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached while building the "
			    "push");
		p->batches       = nb;
		acc->cap_batches = cap;
	}
	for (size_t i = 0; i < push->n_batches; i++)
		p->batches[p->n_batches++] = push->batches[i];
	return 0;
}

int
hearth_otlp_acc_add(hearth_arena *a, hearth_otlp_acc *acc,
    const uint8_t *pprof, size_t len, const hearth_label *labels,
    size_t n_labels, const hearth_limits *lim, int64_t now_ns, int *status,
    hearth_err *err)
{
	hearth_err_clear(err);
	*status = 400;
	if (acc->budget == 0 && acc->decoded_bytes == 0) {
		acc->budget = hearth_limits_body_bytes(lim);
		if (acc->budget == 0)
			acc->budget = HEARTH_PPROF_DEFAULT_MAX_DECOMPRESSED;
	}
	hearth_pprof_opts po = {
		.max_profile_size_bytes = (size_t) lim->max_profile_size_bytes,
		.max_samples = (size_t) lim->max_profile_stacktrace_samples,
		.max_stack_depth = (size_t) lim->max_profile_stacktrace_depth,
		.max_symbol_length
		= (size_t) lim->max_profile_symbol_value_length,
		/* 0 would mean the default cap to pprof.h */
		.max_decompressed = acc->budget > 0 ? acc->budget : 1,
	};
	hearth_pprof_result pr;
	if (hearth_pprof_decode(a, pprof, len, &po, &pr, err) != 0)
		return otlp_push_fail(
		    status, err->code == HEARTH_ETOOLARGE ? 413 : 400, err);
	if (pr.decoded_bytes > acc->budget) {
		hearth_err_set(err, HEARTH_ETOOLARGE,
		    "the decompressed profiles of this request are over the "
		    "body limit (ingestion_body_limit_mb: %lld)",
		    (long long) lim->ingestion_body_limit_mb);
		return otlp_push_fail(status, 413, err);
	}
	acc->budget -= pr.decoded_bytes;
	acc->decoded_bytes += pr.decoded_bytes;
	acc->truncated_stacks += pr.truncated_stacks;
	acc->truncated_symbols += pr.truncated_symbols;
	if (pr.upload == NULL)
		return 0;
	int64_t ts
	    = pr.upload->time_nanos > 0 ? pr.upload->time_nanos : now_ns;
	if (hearth_limits_check_time(lim, ts, now_ns, err) != 0)
		return otlp_push_fail(status, 400, err);

	hearth_label *ls = hearth_arena_calloc(a, n_labels + 1, sizeof(*ls));
	if (ls == NULL) {
		hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached while building the push");
		return otlp_push_fail(status, 413, err);
	}
	size_t n = 0;
	for (size_t i = 0; i < n_labels; i++)
		if (!otlp_push_control(labels[i].name))
			ls[n++] = labels[i];
	const char *svc = hearth_labels_get(ls, n, "service_name");
	if (svc == NULL || *svc == '\0')
		ls[n++] = (hearth_label) { "service_name", "unknown_service" };
	hearth_ingest_result res;
	if (hearth_ingest_build_upload(a, pr.upload, ls, n, ts,
	        pr.upload->duration_nanos > 0 ? pr.upload->duration_nanos : 0,
	        lim, &res, err)
	    != 0)
		return otlp_push_fail(status, 400, err);
	if (res.push == NULL)
		return 0;
	if (otlp_push_append(a, acc, res.push, err) != 0)
		return otlp_push_fail(status, 413, err);
	acc->profiles += res.profiles;
	acc->samples += res.samples;
	return 0;
}

static int
otlp_build_fail(
    hearth_otlp_result *res, int status, const char *reason, hearth_err *err)
{
	res->status = status;
	res->reason = reason;
	return err->code != 0 ? err->code : HEARTH_EINVAL;
}

int
hearth_otlp_build(hearth_arena *a, const hearth_otlp_params *p,
    const uint8_t *body, size_t len, hearth_otlp_result *res, hearth_err *err)
{
	memset(res, 0, sizeof(*res));
	hearth_err_clear(err);
	const hearth_limits *lim = p->limits;
	size_t               max = hearth_limits_body_bytes(lim);
	if (max == 0)
		max = HEARTH_PPROF_DEFAULT_MAX_DECOMPRESSED;
	const char *enc = p->content_encoding;
	if (enc != NULL && strcasecmp(enc, "gzip") == 0) {
		uint8_t *out = NULL;
		size_t   olen;
		if (hearth_gzip_decode(a, body, len, max, &out, &olen, err)
		    != 0) {
			hearth_err_prefix(err, "Content-Encoding: gzip");
			if (err->code == HEARTH_EINVAL)
				return otlp_build_fail(
				    res, 400, "parse_error", err);
			return otlp_build_fail(
			    res, 413, "body_too_large", err);
		}
		body = out;
		len  = olen;
	} else if (enc != NULL && *enc != '\0'
	    && strcasecmp(enc, "identity") != 0) {
		hearth_err_set(err, HEARTH_EINVAL,
		    "unsupported Content-Encoding \"%s\" (supported: gzip, "
		    "identity)",
		    enc);
		return otlp_build_fail(res, 415, "unsupported_encoding", err);
	}
	res->body_bytes = len;

	hearth_otlp_request *req;
	if (hearth_otlp_decode(a, body, len, p->json, &req, err) != 0)
		return otlp_build_fail(res,
		    err->code == HEARTH_ENOMEM ? 413 : 400, "parse_error",
		    err);
	hearth_otlp_pprof *pp;
	size_t             n;
	if (hearth_otlp_convert(a, req, p->now_ns,
	        (size_t) lim->max_profile_stacktrace_samples,
	        (size_t) lim->max_profile_stacktrace_depth, &pp, &n, err)
	    != 0) {
		/* A limit of the profile is the client's (400); the memory
		 * cap (ENOMEM) is the request's size (413). */
		int mem = err->code == HEARTH_ENOMEM;
		return otlp_build_fail(res, mem ? 413 : 400,
		    mem ? "body_too_large" : "invalid", err);
	}
	res->pprofs = n;
	for (size_t i = 0; i < n; i++) {
		Perftools__Profiles__Profile *prof = pp[i].profile;
		size_t                        plen
		    = perftools__profiles__profile__get_packed_size(prof);
		uint8_t *buf = hearth_arena_alloc(a, plen ? plen : 1);
		if (buf == NULL) {
			hearth_err_set(err, HEARTH_ELIMIT,
			    "otlp: request memory limit reached while "
			    "encoding "
			    "the converted profiles");
			return otlp_build_fail(
			    res, 413, "body_too_large", err);
		}
		perftools__profiles__profile__pack(prof, buf);
		int st;
		if (hearth_otlp_acc_add(a, &res->acc, buf, plen, pp[i].labels,
		        pp[i].n_labels, lim, p->now_ns, &st, err)
		    != 0) {
			/* pprof.h's positions are those of the converted
			 * profile; name the OTLP profile it came from. */
			hearth_err_prefix(err, "otlp: %s (service \"%s\")",
			    pp[i].where,
			    hearth_labels_get(
			        pp[i].labels, pp[i].n_labels, "service_name"));
			return otlp_build_fail(res, st,
			    st == 413 ? "body_too_large" : "invalid", err);
		}
	}
	return 0;
}
