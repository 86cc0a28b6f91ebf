/*
 * connect_querier: querier.v1.QuerierService over Connect
 * (connect-apis.md §4), what Grafana's Pyroscope data source, Profiles
 * Drilldown and Pyroscope's own UI call. Every method fans out through
 * querier_select.c, so answers agree with /pyroscope/render.
 *
 * Common rules (§4.1): start/end are Unix ms, both non-zero and start <=
 * end (invalid_argument otherwise; ProfileTypes with both zero and the
 * label methods with both zero use the last hour, a hearth leniency for
 * hand-written clients); the tenant's lookback and query-length limits
 * apply; profile_typeID has 5 (or 6) parts and is ANDed with
 * label_selector as a __profile_type__ matcher; matchers of
 * LabelNames/LabelValues/Series are a union (Prometheus match[]).
 *
 * Span selectors (SelectMergeSpanProfile, and span_selector of
 * SelectMergeStacktraces and Diff): each is 16 hex digits (else
 * invalid_argument naming it), at most HEARTH_CONNECT_QUERIER_MAX_SPANS
 * per query; the ingesters build the tree from the span rows they keep
 * next to the samples (the samples that carried a pprof span_id label,
 * profile_id renamed; docs/design.md "Span side table"). An unknown span
 * id gives an empty graph.
 *
 * Not served, with the reason in the error (unimplemented): trace-id
 * selectors (trace_id sample labels are not stored, only span ids) and
 * profile-id selectors (no per-sample profile ids a query could filter
 * on), a stack_trace_selector on SelectSeries (totals are stored per
 * profile, not per stack and bucket), format=DOT, SelectHeatmap (its
 * bucketing is not specified: connect_querier_select_heatmap).
 *
 * Beside it, what Drilldown and Pyroscope's UI ask of the other services
 * (connect-apis.md §5): settings.v1 (connect_querier_settings.c),
 * version.v1 Version (QuerierAPI 1, the querier.v1 API served here) and
 * capabilities.v1 GetFeatureFlags (none).
 */
#include "connect_querier_impl.h"

#include "capabilities.pb-c.h"
#include "clock.h"
#include "config.h"
#include "fgexport.h"
#include "querier.pb-c.h"
#include "settings.pb-c.h"
#include "tenant.h"
#include "types.pb-c.h"
#include "upload.h"
#include "version.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CONNECT_QUERIER_HOUR_MS 3600000LL

void *
hearth_connect_querier_new(hearth_connect_call *call, size_t size)
{
	return hearth_arena_calloc(call->arena, 1, size);
}

int
hearth_connect_querier_nomem(hearth_connect_call *call)
{
	return hearth_connect_fail(call, HEARTH_CONNECT_RESOURCE_EXHAUSTED,
	    "request memory limit reached while building the answer");
}

int
hearth_connect_querier_begin(hearth_connect_querier_ctx *c, void *q,
    hearth_connect_call *call, const char *kind)
{
	c->q    = q;
	c->call = call;
	int rc  = hearth_connect_tenants(
	     call, c->q->cfg.multitenancy_enabled, &c->tenant);
	if (rc != 0)
		return rc;
	const char *lv[] = { c->tenant, kind };
	hearth_metric_add(c->q->m_queries, lv, 1);
	hearth_querier_limits(c->q, c->tenant, &c->lim);
	c->deadline = hearth_connect_deadline(
	    call, hearth_clock_unix_ms(), c->lim.query_timeout_ms);
	return 0;
}

int
hearth_connect_querier_late(hearth_connect_querier_ctx *c)
{
	char	   lim[32];
	hearth_err err;
	if (c->deadline <= 0 || hearth_clock_unix_ms() <= c->deadline)
		return 0;
	hearth_err_set(&err, HEARTH_ETIMEDOUT,
	    "the query did not finish in time (query_timeout: %s); query a "
	    "shorter range or fewer series",
	    hearth_config_duration_format(c->lim.query_timeout_ms, lim,
	        sizeof(lim)));
	hearth_querier_limit_hit(c->q, c->tenant, &err);
	return hearth_connect_querier_fail(c, &err);
}

int
hearth_connect_querier_fail(
    hearth_connect_querier_ctx *c, const hearth_err *err)
{
	return hearth_connect_fail_err(c->call, err);
}

/* The range of a call into qq: start/end must both be set unless
 * default_last_hour allows both to be zero. */
int
hearth_connect_querier_range(hearth_connect_querier_ctx *c, int64_t start,
    int64_t end, int default_last_hour, hearth_querier_query *qq)
{
	if (start == 0 && end == 0 && default_last_hour) {
		end   = hearth_clock_unix_ms();
		start = end - CONNECT_QUERIER_HOUR_MS;
	}
	if (start == 0 || end == 0)
		return hearth_connect_fail(c->call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "missing time range in the query: set start and end "
		    "(Unix milliseconds)");
	qq->from_ms  = start;
	qq->until_ms = end;
	hearth_err err;
	hearth_err_clear(&err);
	if (hearth_querier_range(c->q, c->tenant, qq, &err) != 0)
		return hearth_connect_querier_fail(c, &err);
	return 0;
}

/* profile_typeID + label_selector + range into qq. */
int
hearth_connect_querier_query(hearth_connect_querier_ctx *c,
    const char *profile_type, const char *label_selector, int64_t start,
    int64_t end, hearth_querier_query *qq)
{
	hearth_err err;
	hearth_err_clear(&err);
	const char      *ls = label_selector != NULL && *label_selector != '\0'
	         ? label_selector
	         : "{}";
	hearth_selector *sel = NULL;
	if (hearth_selector_parse(ls, strlen(ls), &sel, &err) != 0) {
		hearth_err_prefix(&err, "label_selector");
		return hearth_connect_querier_fail(c, &err);
	}
	int rc = hearth_querier_query_build(c->call->arena, "profile_typeID",
	    profile_type, sel, NULL, qq, &err);
	hearth_selector_free(sel);
	if (rc != 0)
		return hearth_connect_querier_fail(c, &err);
	return hearth_connect_querier_range(c, start, end, 0, qq);
}

/* max_nodes: absent or 0 → the tenant default; validated. */
int
hearth_connect_querier_max_nodes(hearth_connect_querier_ctx *c, int present,
    int64_t requested, int64_t *out)
{
	hearth_err err;
	hearth_err_clear(&err);
	if (hearth_limits_max_nodes(
	        &c->lim, present ? requested : 0, out, &err)
	    != 0) {
		hearth_querier_limit_hit(c->q, c->tenant, &err);
		return hearth_connect_querier_fail(c, &err);
	}
	return 0;
}

/* Selectors hearth cannot honour: say so rather than answer wrongly. */
int
hearth_connect_querier_no_selectors(hearth_connect_querier_ctx *c,
    size_t n_profile_ids, size_t n_trace_ids, size_t n_spans)
{
	if (n_trace_ids > 0 && n_spans > 0)
		return hearth_connect_fail(c->call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "trace_id_selector and span_selector cannot be combined");
	if (n_profile_ids > 0)
		return hearth_connect_fail(c->call,
		    HEARTH_CONNECT_UNIMPLEMENTED,
		    "profile_id_selector is not supported by hearth: profiles "
		    "are not indexed by their client ids");
	if (n_trace_ids > 0)
		return hearth_connect_fail(c->call,
		    HEARTH_CONNECT_UNIMPLEMENTED,
		    "trace_id_selector is not supported by hearth: trace_id "
		    "sample labels are not stored (span ids are: use "
		    "span_selector)");
	return 0;
}

int
hearth_connect_querier_spans(hearth_connect_querier_ctx *c,
    char *const *spans, size_t n, hearth_querier_query *qq)
{
	if (n == 0)
		return 0;
	if (n > HEARTH_CONNECT_QUERIER_MAX_SPANS)
		return hearth_connect_fail(c->call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "span_selector has %zu span ids, more than the limit of "
		    "%d per query",
		    n, HEARTH_CONNECT_QUERIER_MAX_SPANS);
	qq->span_ids = hearth_arena_alloc(c->call->arena,
	    n * sizeof(*qq->span_ids));
	if (qq->span_ids == NULL)
		return hearth_connect_querier_nomem(c->call);
	for (size_t i = 0; i < n; i++) {
		/* Exactly 16 hex digits, as upstream: the pprof label side
		 * (hearth_upload_span_parse) reads the same big-endian
		 * number, so equal text means equal ids. */
		if (strlen(spans[i]) != 16 ||
		    hearth_upload_span_parse(spans[i], &qq->span_ids[i]) != 0)
			return hearth_connect_fail(c->call,
			    HEARTH_CONNECT_INVALID_ARGUMENT,
			    "span_selector[%zu]: \"%.64s\" is not a span id "
			    "(want 16 hex digits, e.g. f9666c0d6bffec33)",
			    i, spans[i]);
	}
	qq->n_span_ids = n;
	return 0;
}

/* Merged tree of a query, narrowed to a call site when asked. *out is
 * malloc-owned by the caller. */
int
hearth_connect_querier_tree(hearth_connect_querier_ctx *c,
    const hearth_querier_query *qq, const Types__V1__StackTraceSelector *sts,
    hearth_fgtree **out)
{
	hearth_err err;
	hearth_err_clear(&err);
	hearth_querier_select_acc acc = { .tree = hearth_fgtree_new() };
	*out                          = NULL;
	if (acc.tree == NULL)
		return hearth_connect_querier_nomem(c->call);
	if (hearth_querier_select(
	        c->q, c->tenant, c->call->arena, qq, c->deadline, &acc, &err)
	    != 0) {
		hearth_fgtree_free(acc.tree);
		return hearth_connect_querier_fail(c, &err);
	}
	if (sts == NULL || sts->n_call_site == 0) {
		*out = acc.tree;
		return 0;
	}
	const char **names = hearth_arena_alloc(
	    c->call->arena, sts->n_call_site * sizeof(char *));
	if (names == NULL) {
		hearth_fgtree_free(acc.tree);
		return hearth_connect_querier_nomem(c->call);
	}
	for (size_t i = 0; i < sts->n_call_site; i++)
		names[i] = sts->call_site[i]->name != NULL
		    ? sts->call_site[i]->name
		    : "";
	int rc = hearth_fgexport_call_site(
	    acc.tree, names, sts->n_call_site, out);
	hearth_fgtree_free(acc.tree);
	return rc != 0 ? hearth_connect_querier_nomem(c->call) : 0;
}

/* ---- ProfileTypes, LabelNames, LabelValues, Series -------------------- */

static int
connect_querier_profile_types(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Querier__V1__ProfileTypesRequest *r = (const void *) req;
	hearth_connect_querier_ctx              c;
	hearth_querier_query                    qq = { 0 };
	int rc = hearth_connect_querier_begin(&c, ctx, call, "profile_types");
	if (rc != 0
	    || (rc = hearth_connect_querier_range(
	            &c, r->start, r->end, 1, &qq))
	        != 0)
		return rc;
	const char **ids = NULL;
	size_t       n   = 0;
	hearth_err   err;
	if (!qq.empty
	    && hearth_querier_labels(c.q, c.tenant, call->arena, "",
	           qq.from_ms, qq.until_ms, "__profile_type__", c.deadline,
	           &ids, &n, &err)
	        != 0)
		return hearth_connect_querier_fail(&c, &err);
	Querier__V1__ProfileTypesResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	Types__V1__ProfileType *pt
	    = hearth_arena_calloc(call->arena, n + 1, sizeof(*pt));
	Types__V1__ProfileType **pp
	    = hearth_arena_calloc(call->arena, n + 1, sizeof(*pp));
	if (out == NULL || pt == NULL || pp == NULL)
		return hearth_connect_querier_nomem(call);
	querier__v1__profile_types_response__init(out);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		hearth_querier_query p = { 0 };
		if (hearth_querier_query_build(
		        call->arena, "", ids[i], NULL, NULL, &p, &err)
		    != 0)
			continue; /* not a 5-part id: not a profile type */
		types__v1__profile_type__init(&pt[k]);
		pt[k].id          = (char *) ids[i];
		pt[k].name        = (char *) p.name;
		pt[k].sample_type = (char *) p.sample_type;
		pt[k].sample_unit = (char *) p.sample_unit;
		pt[k].period_type = (char *) p.period_type;
		pt[k].period_unit = (char *) p.period_unit;
		pp[k]             = &pt[k];
		k++;
	}
	out->n_profile_types = k;
	out->profile_types   = pp;
	*resp                = &out->base;
	return 0;
}

/* Validated matcher texts ({} when none was given). */
static int
connect_querier_matchers(hearth_connect_querier_ctx *c, char **in, size_t n,
    const char ***out, size_t *n_out)
{
	static const char *all[] = { "{}" };
	if (n == 0) {
		*out   = all;
		*n_out = 1;
		return 0;
	}
	const char **m
	    = hearth_arena_alloc(c->call->arena, n * sizeof(char *));
	if (m == NULL)
		return hearth_connect_querier_nomem(c->call);
	for (size_t i = 0; i < n; i++) {
		const char *s = in[i] != NULL && *in[i] != '\0' ? in[i] : "{}";
		hearth_selector *sel = NULL;
		hearth_err       err;
		if (hearth_selector_parse(s, strlen(s), &sel, &err) != 0) {
			hearth_err_prefix(&err, "matchers[%zu]", i);
			return hearth_connect_querier_fail(c, &err);
		}
		hearth_selector_free(sel);
		m[i] = s;
	}
	*out   = m;
	*n_out = n;
	return 0;
}

/* Union of the label names or values over every matcher. */
static int
connect_querier_label_union(hearth_connect_querier_ctx *c, char **matchers,
    size_t n_matchers, int64_t start, int64_t end, const char *name,
    const char ***out, size_t *n_out)
{
	hearth_querier_query qq = { 0 };
	const char         **ms;
	size_t               nm;
	int rc = hearth_connect_querier_range(c, start, end, 1, &qq);
	if (rc != 0
	    || (rc = connect_querier_matchers(
	            c, matchers, n_matchers, &ms, &nm))
	        != 0)
		return rc;
	*out   = NULL;
	*n_out = 0;
	if (qq.empty)
		return 0;
	for (size_t i = 0; i < nm; i++) {
		const char **v;
		size_t       n;
		hearth_err   err;
		if (hearth_querier_labels(c->q, c->tenant, c->call->arena,
		        ms[i], qq.from_ms, qq.until_ms, name, c->deadline, &v,
		        &n, &err)
		    != 0)
			return hearth_connect_querier_fail(c, &err);
		if (i == 0) {
			*out   = v;
			*n_out = n;
			continue;
		}
		/* merge two sorted unique lists */
		const char **m = hearth_arena_alloc(
		    c->call->arena, (*n_out + n + 1) * sizeof(char *));
		if (m == NULL)
			return hearth_connect_querier_nomem(c->call);
		size_t a = 0, b = 0, k = 0;
		while (a < *n_out || b < n) {
			int cmp = a == *n_out ? 1
			    : b == n          ? -1
			                      : strcmp((*out)[a], v[b]);
			if (cmp <= 0)
				m[k++] = (*out)[a++];
			else
				m[k++] = v[b++];
			if (cmp == 0)
				b++;
		}
		*out   = m;
		*n_out = k;
	}
	return 0;
}

/* Prometheus' legacy label name rule: [a-zA-Z_][a-zA-Z0-9_]*. */
static int
connect_querier_legacy_name(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
	        || *s == '_'))
		return 0;
	for (s++; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
		        || *s == '_' || (*s >= '0' && *s <= '9')))
			return 0;
	return 1;
}

static int
connect_querier_label_names(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Types__V1__LabelNamesRequest *r = (const void *) req;
	hearth_connect_querier_ctx          c;
	const char                        **v;
	size_t                              n;
	int rc = hearth_connect_querier_begin(&c, ctx, call, "label_names");
	if (rc != 0
	    || (rc = connect_querier_label_union(&c, r->matchers,
	            r->n_matchers, r->start, r->end, "", &v, &n))
	        != 0)
		return rc;
	/* Names that are not legacy Prometheus names are hidden unless the
	 * client says it can take them (connect-apis.md §4.2). */
	const char *accept = hearth_http_req_header(call->http, "Accept");
	int         utf8   = accept != NULL
	    && strstr(accept, "allow-utf8-labelnames=true") != NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (utf8 || connect_querier_legacy_name(v[i]))
			v[k++] = v[i];
	Types__V1__LabelNamesResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	if (out == NULL)
		return hearth_connect_querier_nomem(call);
	types__v1__label_names_response__init(out);
	out->n_names = k;
	out->names   = (char **) v;
	*resp        = &out->base;
	return 0;
}

static int
connect_querier_label_values(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Types__V1__LabelValuesRequest *r = (const void *) req;
	hearth_connect_querier_ctx           c;
	const char                         **v;
	size_t                               n;
	int rc = hearth_connect_querier_begin(&c, ctx, call, "label_values");
	if (rc != 0)
		return rc;
	if (r->name == NULL || r->name[0] == '\0')
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "name: the label whose values are wanted is required");
	if ((rc = connect_querier_label_union(&c, r->matchers, r->n_matchers,
	         r->start, r->end, r->name, &v, &n))
	    != 0)
		return rc;
	Types__V1__LabelValuesResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	if (out == NULL)
		return hearth_connect_querier_nomem(call);
	types__v1__label_values_response__init(out);
	out->n_names = n;
	out->names   = (char **) v;
	*resp        = &out->base;
	return 0;
}

/* Series: one SelectSeries per matcher with the requested label names as
 * group-by and one bucket over the whole range; the distinct label sets
 * are the answer. No label names means every label name. */
static int
connect_querier_series(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Querier__V1__SeriesRequest *r = (const void *) req;
	hearth_connect_querier_ctx        c;
	hearth_querier_query              qq = { 0 };
	const char                      **ms;
	size_t                            nm;
	int rc = hearth_connect_querier_begin(&c, ctx, call, "series");
	if (rc != 0
	    || (rc = hearth_connect_querier_range(
	            &c, r->start, r->end, 1, &qq))
	        != 0
	    || (rc = connect_querier_matchers(
	            &c, r->matchers, r->n_matchers, &ms, &nm))
	        != 0)
		return rc;
	hearth_querier_select_acc acc = {
		.want_series = 1,
		.step_ms     = qq.until_ms - qq.from_ms + 1,
	};
	for (size_t i = 0; i < nm && !qq.empty; i++) {
		hearth_err           err;
		hearth_querier_query mq = qq;
		mq.selector             = (char *) ms[i];
		acc.group_by            = (const char *const *) r->label_names;
		acc.n_group_by          = r->n_label_names;
		if (r->n_label_names == 0) {
			const char **names;
			size_t       nn;
			if (hearth_querier_labels(c.q, c.tenant, call->arena,
			        ms[i], qq.from_ms, qq.until_ms, "", c.deadline,
			        &names, &nn, &err)
			    != 0)
				return hearth_connect_querier_fail(&c, &err);
			if (nn == 0)
				continue;
			acc.group_by   = names;
			acc.n_group_by = nn;
		}
		if (hearth_querier_select(c.q, c.tenant, call->arena, &mq,
		        c.deadline, &acc, &err)
		    != 0)
			return hearth_connect_querier_fail(&c, &err);
	}
	Querier__V1__SeriesResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	Types__V1__Labels *ls
	    = hearth_arena_calloc(call->arena, acc.n_series + 1, sizeof(*ls));
	Types__V1__Labels **lp
	    = hearth_arena_calloc(call->arena, acc.n_series + 1, sizeof(*lp));
	if (out == NULL || ls == NULL || lp == NULL)
		return hearth_connect_querier_nomem(call);
	querier__v1__series_response__init(out);
	for (size_t i = 0; i < acc.n_series; i++) {
		const hearth_querier_series *s = &acc.series[i];
		types__v1__labels__init(&ls[i]);
		Types__V1__LabelPair *pv = hearth_arena_calloc(
		    call->arena, s->n_labels + 1, sizeof(*pv));
		Types__V1__LabelPair **pp = hearth_arena_calloc(
		    call->arena, s->n_labels + 1, sizeof(*pp));
		if (pv == NULL || pp == NULL)
			return hearth_connect_querier_nomem(call);
		for (size_t k = 0; k < s->n_labels; k++) {
			types__v1__label_pair__init(&pv[k]);
			pv[k].name  = (char *) s->labels[k].name;
			pv[k].value = (char *) s->labels[k].value;
			pp[k]       = &pv[k];
		}
		ls[i].n_labels = s->n_labels;
		ls[i].labels   = pp;
		lp[i]          = &ls[i];
	}
	out->n_labels_set = acc.n_series;
	out->labels_set   = lp;
	*resp             = &out->base;
	return 0;
}

/* SelectHeatmap: decoded (so a malformed body is still invalid_argument)
 * and refused with the reason, rather than a heatmap whose bucketing
 * differs from upstream's in ways the spec cannot tell. */
static int
connect_querier_select_heatmap(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	(void) ctx;
	(void) req;
	(void) resp;
	return hearth_connect_fail(call, HEARTH_CONNECT_UNIMPLEMENTED,
	    "SelectHeatmap is not served by hearth: how Pyroscope buckets "
	    "heatmap values (y_min, counts) is not specified, and a heatmap "
	    "that differs from Pyroscope's would mislead; SelectSeries gives "
	    "the same profiles' totals over time");
}

/* The querier API version (version.v1): 1 is the querier.v1 API of
 * querier.proto, the one Pyroscope's queriers report; a client checks it
 * before relying on a later change of that API. */
#define CONNECT_QUERIER_API_VERSION 1

static int
connect_querier_version(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	hearth_connect_querier_ctx c;
	(void) req;
	int rc = hearth_connect_querier_begin(&c, ctx, call, "version");
	if (rc != 0)
		return rc;
	Version__V1__VersionResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	if (out == NULL)
		return hearth_connect_querier_nomem(call);
	version__v1__version_response__init(out);
	out->querierapi = CONNECT_QUERIER_API_VERSION;
	*resp		= &out->base;
	return 0;
}

/* capabilities.v1 GetFeatureFlags: no optional feature is announced, so
 * clients keep their defaults. */
static int
connect_querier_feature_flags(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	hearth_connect_querier_ctx c;
	(void) req;
	int rc = hearth_connect_querier_begin(&c, ctx, call, "feature_flags");
	if (rc != 0)
		return rc;
	Capabilities__V1__GetFeatureFlagsResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	if (out == NULL)
		return hearth_connect_querier_nomem(call);
	capabilities__v1__get_feature_flags_response__init(out);
	*resp = &out->base;
	return 0;
}

int
hearth_querier_connect_routes(hearth_querier *q, hearth_err *err)
{
	static const struct {
		const char                       *method;
		const char                       *label;
		const ProtobufCMessageDescriptor *in;
		hearth_connect_handler            h;
	} routes[] = {
		{ "ProfileTypes", "connect_profile_types",
		    &querier__v1__profile_types_request__descriptor,
		    connect_querier_profile_types },
		{ "LabelNames", "connect_label_names",
		    &types__v1__label_names_request__descriptor,
		    connect_querier_label_names },
		{ "LabelValues", "connect_label_values",
		    &types__v1__label_values_request__descriptor,
		    connect_querier_label_values },
		{ "Series", "connect_series",
		    &querier__v1__series_request__descriptor,
		    connect_querier_series },
		{ "SelectMergeStacktraces", "connect_select_merge_stacktraces",
		    &querier__v1__select_merge_stacktraces_request__descriptor,
		    hearth_connect_querier_select_merge_stacktraces },
		{ "SelectMergeSpanProfile",
		    "connect_select_merge_span_profile",
		    &querier__v1__select_merge_span_profile_request__descriptor,
		    hearth_connect_querier_select_merge_span_profile },
		{ "SelectMergeProfile", "connect_select_merge_profile",
		    &querier__v1__select_merge_profile_request__descriptor,
		    hearth_connect_querier_select_merge_profile },
		{ "SelectSeries", "connect_select_series",
		    &querier__v1__select_series_request__descriptor,
		    hearth_connect_querier_select_series },
		{ "Diff", "connect_diff",
		    &querier__v1__diff_request__descriptor,
		    hearth_connect_querier_diff },
		{ "GetProfileStats", "connect_get_profile_stats",
		    &types__v1__get_profile_stats_request__descriptor,
		    hearth_connect_querier_profile_stats },
		{ "AnalyzeQuery", "connect_analyze_query",
		    &querier__v1__analyze_query_request__descriptor,
		    hearth_connect_querier_analyze_query },
		{ "SelectHeatmap", "connect_select_heatmap",
		    &querier__v1__select_heatmap_request__descriptor,
		    connect_querier_select_heatmap },
	};
	hearth_connect_opts o = {
		/* query requests are small; the body limit still applies */
		.max_body_bytes   = hearth_limits_body_bytes(q->cfg.limits),
		.max_body_setting = "limits.ingestion_body_limit_mb",
	};
	int rc = hearth_connect_new(q->deps.http, &o, &q->connect, err);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		char path[128];
		snprintf(path, sizeof(path), "/querier.v1.QuerierService/%s",
		    routes[i].method);
		if (hearth_connect_add(q->connect, path, routes[i].label,
		        routes[i].in, routes[i].h, q)
		    != 0)
			return hearth_err_set(err, HEARTH_ENOMEM,
			    "querier: cannot register %s", path);
	}
	if (hearth_connect_add_service(q->connect,
	        "/querier.v1.QuerierService/", "connect_unimplemented")
	        != 0
	    || hearth_connect_add(q->connect,
	           "/settings.v1.SettingsService/Get", "connect_settings",
	           &settings__v1__get_settings_request__descriptor,
	           hearth_connect_querier_settings_get, q)
	        != 0
	    || hearth_connect_add(q->connect,
	           "/settings.v1.SettingsService/Set", "connect_settings",
	           &settings__v1__set_settings_request__descriptor,
	           hearth_connect_querier_settings_set, q)
	        != 0
	    || hearth_connect_add(q->connect,
	           "/settings.v1.SettingsService/Delete", "connect_settings",
	           &settings__v1__delete_settings_request__descriptor,
	           hearth_connect_querier_settings_delete, q)
	        != 0
	    || hearth_connect_add_service(q->connect,
	           "/settings.v1.SettingsService/", "connect_unimplemented")
	        != 0
	    || hearth_connect_add(q->connect, "/version.v1.Version/Version",
	           "connect_version", &version__v1__version_request__descriptor,
	           connect_querier_version, q)
	        != 0
	    || hearth_connect_add(q->connect,
	           "/capabilities.v1.FeatureFlagsService/GetFeatureFlags",
	           "connect_feature_flags",
	           &capabilities__v1__get_feature_flags_request__descriptor,
	           connect_querier_feature_flags, q)
	        != 0)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "querier: cannot register the querier service");
	return 0;
}
