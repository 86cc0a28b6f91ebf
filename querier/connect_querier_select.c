/*
 * connect_querier_select: the querier.v1 methods that select profile data
 * (connect_querier.c has the service overview): SelectMergeStacktraces,
 * SelectMergeSpanProfile, SelectMergeProfile, SelectSeries, Diff,
 * GetProfileStats and AnalyzeQuery.
 */
#include "connect_querier_impl.h"

#include "fgexport.h"
#include "querier.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- flame graphs ----------------------------------------------------- */

/* The response of SelectMergeStacktraces / SelectMergeSpanProfile in the
 * requested format (FLAMEGRAPH when unspecified). */
static int
connect_querier_merge_answer(hearth_connect_querier_ctx *c,
    const hearth_fgtree *t, int64_t max_nodes, int format,
    Querier__V1__FlameGraph **fg, ProtobufCBinaryData *tree)
{
	hearth_err err;
	hearth_err_clear(&err);
	if (format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE) {
		hearth_fgtree *tr = NULL;
		hearth_buf     b;
		hearth_buf_init(&b);
		if (hearth_fgtree_truncate(t, max_nodes, &tr) != 0
		    || hearth_fgexport_tree_bytes(tr, &b) != 0) {
			hearth_fgtree_free(tr);
			hearth_buf_fini(&b);
			return hearth_connect_querier_nomem(c->call);
		}
		hearth_fgtree_free(tr);
		size_t len = b.len;
		tree->len  = len;
		tree->data = b.len > 0 ? (uint8_t *) hearth_arena_strndup(
		                 c->call->arena, b.data, b.len)
		                       : NULL;
		hearth_buf_fini(&b);
		if (len > 0 && tree->data == NULL)
			return hearth_connect_querier_nomem(c->call);
		return 0;
	}
	if (hearth_fgexport_flamegraph(c->call->arena, t, max_nodes, fg, &err)
	    != 0)
		return hearth_connect_querier_fail(c, &err);
	return 0;
}

int
hearth_connect_querier_select_merge_stacktraces(void *ctx,
    hearth_connect_call *call, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	const Querier__V1__SelectMergeStacktracesRequest *r
	    = (const void *) req;
	hearth_connect_querier_ctx c;
	hearth_querier_query       qq = { 0 };
	int64_t                    max_nodes;
	int                        rc = hearth_connect_querier_begin(
	                           &c, ctx, call, "select_merge_stacktraces");
	if (rc != 0
	    || (rc = hearth_connect_querier_query(&c, r->profile_typeid,
	            r->label_selector, r->start, r->end, &qq))
	        != 0
	    || (rc = hearth_connect_querier_max_nodes(
	            &c, r->_max_nodes_case != 0, r->max_nodes, &max_nodes))
	        != 0
	    || (rc = hearth_connect_querier_no_selectors(&c,
	            r->n_profile_id_selector, r->n_trace_id_selector,
	            r->n_span_selector))
	        != 0
	    || (rc = hearth_connect_querier_spans(
	            &c, r->span_selector, r->n_span_selector, &qq))
	        != 0)
		return rc;
	if (r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_DOT)
		return hearth_connect_fail(call, HEARTH_CONNECT_UNIMPLEMENTED,
		    "format PROFILE_FORMAT_DOT is not supported by hearth; "
		    "use "
		    "FLAMEGRAPH, TREE or PPROF");
	hearth_fgtree *t;
	if ((rc = hearth_connect_querier_tree(
	         &c, &qq, r->stack_trace_selector, &t))
	    != 0)
		return rc;
	Querier__V1__SelectMergeStacktracesResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	if (out == NULL) {
		hearth_fgtree_free(t);
		return hearth_connect_querier_nomem(call);
	}
	querier__v1__select_merge_stacktraces_response__init(out);
	if (r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_PPROF) {
		hearth_err                 err;
		hearth_fgtree             *tr = NULL;
		Querier__V1__PprofProfile *pp
		    = hearth_connect_querier_new(call, sizeof(*pp));
		hearth_fgexport_pprof_opts o = { .sample_type = qq.sample_type,
			.sample_unit                          = qq.sample_unit,
			.period_type                          = qq.period_type,
			.period_unit                          = qq.period_unit,
			.time_nanos = qq.from_ms * 1000000,
			.duration_nanos
			= (qq.until_ms - qq.from_ms) * 1000000 };
		if (pp == NULL
		    || hearth_fgtree_truncate(t, max_nodes, &tr) != 0) {
			hearth_fgtree_free(t);
			return hearth_connect_querier_nomem(call);
		}
		querier__v1__pprof_profile__init(pp);
		rc = hearth_fgexport_pprof(
		    call->arena, tr, &o, &pp->profile, &err);
		hearth_fgtree_free(tr);
		hearth_fgtree_free(t);
		if (rc != 0)
			return hearth_connect_querier_fail(&c, &err);
		out->pprof = pp;
		if ((rc = hearth_connect_querier_late(&c)) != 0)
			return rc;
		*resp = &out->base;
		return 0;
	}
	rc = connect_querier_merge_answer(
	    &c, t, max_nodes, r->format, &out->flamegraph, &out->tree);
	hearth_fgtree_free(t);
	if (rc != 0 || (rc = hearth_connect_querier_late(&c)) != 0)
		return rc;
	*resp = &out->base;
	return 0;
}

int
hearth_connect_querier_select_merge_span_profile(void *ctx,
    hearth_connect_call *call, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	const Querier__V1__SelectMergeSpanProfileRequest *r
	    = (const void *) req;
	hearth_connect_querier_ctx c;
	hearth_querier_query       qq = { 0 };
	int64_t                    max_nodes;
	int                        rc = hearth_connect_querier_begin(
	                           &c, ctx, call, "select_merge_span_profile");
	if (rc != 0
	    || (rc = hearth_connect_querier_query(&c, r->profile_typeid,
	            r->label_selector, r->start, r->end, &qq))
	        != 0
	    || (rc = hearth_connect_querier_max_nodes(
	            &c, r->_max_nodes_case != 0, r->max_nodes, &max_nodes))
	        != 0
	    || (rc = hearth_connect_querier_spans(
	            &c, r->span_selector, r->n_span_selector, &qq))
	        != 0)
		return rc;
	/* No span selects no sample: an empty graph, no fan-out. */
	hearth_fgtree *t = NULL;
	if (r->n_span_selector == 0)
		t = hearth_fgtree_new();
	else if ((rc = hearth_connect_querier_tree(&c, &qq, NULL, &t)) != 0)
		return rc;
	Querier__V1__SelectMergeSpanProfileResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	if (t == NULL || out == NULL) {
		hearth_fgtree_free(t);
		return hearth_connect_querier_nomem(call);
	}
	querier__v1__select_merge_span_profile_response__init(out);
	rc = connect_querier_merge_answer(&c, t, max_nodes,
	    r->format == QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_TREE
	        ? r->format
	        : QUERIER__V1__PROFILE_FORMAT__PROFILE_FORMAT_FLAMEGRAPH,
	    &out->flamegraph, &out->tree);
	hearth_fgtree_free(t);
	if (rc != 0 || (rc = hearth_connect_querier_late(&c)) != 0)
		return rc;
	*resp = &out->base;
	return 0;
}

int
hearth_connect_querier_select_merge_profile(void *ctx,
    hearth_connect_call *call, const ProtobufCMessage *req,
    ProtobufCMessage **resp)
{
	const Querier__V1__SelectMergeProfileRequest *r = (const void *) req;
	hearth_connect_querier_ctx                    c;
	hearth_querier_query                          qq        = { 0 };
	int64_t                                       max_nodes = 0;
	int rc = hearth_connect_querier_begin(
	    &c, ctx, call, "select_merge_profile");
	if (rc != 0
	    || (rc = hearth_connect_querier_query(&c, r->profile_typeid,
	            r->label_selector, r->start, r->end, &qq))
	        != 0
	    || (rc = hearth_connect_querier_no_selectors(
	            &c, r->n_profile_id_selector, r->n_trace_id_selector, 0))
	        != 0)
		return rc;
	/* max_nodes applies only when given (connect-apis.md §4.1). */
	if (r->_max_nodes_case != 0 && r->max_nodes != 0
	    && (rc = hearth_connect_querier_max_nodes(
	            &c, 1, r->max_nodes, &max_nodes))
	        != 0)
		return rc;
	hearth_fgtree *t;
	if ((rc = hearth_connect_querier_tree(
	         &c, &qq, r->stack_trace_selector, &t))
	    != 0)
		return rc;
	hearth_fgtree *tr = NULL;
	if (max_nodes > 0) {
		if (hearth_fgtree_truncate(t, max_nodes, &tr) != 0) {
			hearth_fgtree_free(t);
			return hearth_connect_querier_nomem(call);
		}
		hearth_fgtree_free(t);
		t = tr;
	}
	hearth_fgexport_pprof_opts    o = { .sample_type = qq.sample_type,
		   .sample_unit                          = qq.sample_unit,
		   .period_type                          = qq.period_type,
		   .period_unit                          = qq.period_unit,
		   .time_nanos     = qq.from_ms * 1000000,
		   .duration_nanos = (qq.until_ms - qq.from_ms) * 1000000 };
	Perftools__Profiles__Profile *p = NULL;
	hearth_err                    err;
	rc = hearth_fgexport_pprof(call->arena, t, &o, &p, &err);
	hearth_fgtree_free(t);
	if (rc != 0)
		return hearth_connect_querier_fail(&c, &err);
	*resp = &p->base;
	return 0;
}

/* ---- SelectSeries ----------------------------------------------------- */

static int64_t
connect_querier_series_total(const hearth_querier_series *s)
{
	int64_t t = 0;
	for (size_t k = 0; k < s->n; k++)
		if (__builtin_add_overflow(t, s->sum[k], &t))
			return INT64_MAX;
	return t;
}

int
hearth_connect_querier_select_series(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Querier__V1__SelectSeriesRequest *r = (const void *) req;
	hearth_connect_querier_ctx              c;
	hearth_querier_query                    qq = { 0 };
	int rc = hearth_connect_querier_begin(&c, ctx, call, "select_series");
	if (rc != 0
	    || (rc = hearth_connect_querier_query(&c, r->profile_typeid,
	            r->label_selector, r->start, r->end, &qq))
	        != 0)
		return rc;
	if (!(r->step >= 0.001) || r->step > 1e9)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "step must be at least 0.001 seconds (and at most 1e9), "
		    "got %g",
		    r->step);
	if (r->stack_trace_selector != NULL
	    && r->stack_trace_selector->n_call_site > 0)
		return hearth_connect_fail(call, HEARTH_CONNECT_UNIMPLEMENTED,
		    "stack_trace_selector on SelectSeries is not supported by "
		    "hearth: totals are kept per profile, not per stack");
	if (r->_limit_case != 0 && r->limit < 0)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "limit must not be negative (got %lld)",
		    (long long) r->limit);
	int avg = r->_aggregation_case != 0
	    && r->aggregation
	        == TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE;
	hearth_querier_select_acc acc = {
		.want_series = 1,
		.step_ms     = (int64_t) (r->step * 1000),
		.group_by    = (const char *const *) r->group_by,
		.n_group_by  = r->n_group_by,
	};
	if (acc.step_ms < 1)
		acc.step_ms = 1;
	hearth_err err;
	if (hearth_querier_select(
	        c.q, c.tenant, call->arena, &qq, c.deadline, &acc, &err)
	    != 0)
		return hearth_connect_querier_fail(&c, &err);
	/* limit: keep the top N series by total (ties: the first in label
	 * order), still in label order. */
	size_t n = acc.n_series;
	if (r->_limit_case != 0 && r->limit > 0 && (size_t) r->limit < n) {
		size_t   lim = (size_t) r->limit;
		int64_t *tot
		    = hearth_arena_alloc(call->arena, n * sizeof(*tot));
		int64_t thr;
		if (tot == NULL)
			return hearth_connect_querier_nomem(call);
		for (size_t i = 0; i < n; i++)
			tot[i] = connect_querier_series_total(&acc.series[i]);
		if (hearth_fgtree_kth_largest(tot, n, lim, &thr) != 0)
			return hearth_connect_querier_nomem(call);
		size_t above = 0;
		for (size_t i = 0; i < n; i++)
			above += tot[i] > thr;
		size_t k = 0, ties = lim - above;
		for (size_t i = 0; i < n; i++) {
			if (tot[i] > thr || (tot[i] == thr && ties > 0)) {
				ties -= tot[i] == thr;
				acc.series[k++] = acc.series[i];
			}
		}
		n = k;
	}
	Querier__V1__SelectSeriesResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	Types__V1__Series **sp
	    = hearth_arena_calloc(call->arena, n + 1, sizeof(*sp));
	if (out == NULL || sp == NULL)
		return hearth_connect_querier_nomem(call);
	querier__v1__select_series_response__init(out);
	for (size_t i = 0; i < n; i++) {
		const hearth_querier_series *s = &acc.series[i];
		Types__V1__Series           *ts
		    = hearth_connect_querier_new(call, sizeof(*ts));
		Types__V1__LabelPair *lv = hearth_arena_calloc(
		    call->arena, s->n_labels + 1, sizeof(*lv));
		Types__V1__LabelPair **lp = hearth_arena_calloc(
		    call->arena, s->n_labels + 1, sizeof(*lp));
		Types__V1__Point *pv
		    = hearth_arena_calloc(call->arena, s->n + 1, sizeof(*pv));
		Types__V1__Point **pp
		    = hearth_arena_calloc(call->arena, s->n + 1, sizeof(*pp));
		if (ts == NULL || lv == NULL || lp == NULL || pv == NULL
		    || pp == NULL)
			return hearth_connect_querier_nomem(call);
		types__v1__series__init(ts);
		for (size_t k = 0; k < s->n_labels; k++) {
			types__v1__label_pair__init(&lv[k]);
			lv[k].name  = (char *) s->labels[k].name;
			lv[k].value = (char *) s->labels[k].value;
			lp[k]       = &lv[k];
		}
		for (size_t k = 0; k < s->n; k++) {
			types__v1__point__init(&pv[k]);
			pv[k].timestamp = s->ts[k];
			pv[k].value     = avg && s->count[k] > 0
			        ? (double) s->sum[k] / (double) s->count[k]
			        : (double) s->sum[k];
			pp[k]           = &pv[k];
		}
		ts->n_labels = s->n_labels;
		ts->labels   = lp;
		ts->n_points = s->n;
		ts->points   = pp;
		sp[i]        = ts;
	}
	out->n_series = n;
	out->series   = sp;
	*resp         = &out->base;
	return 0;
}

/* ---- Diff ------------------------------------------------------------- */

int
hearth_connect_querier_diff(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Querier__V1__DiffRequest *r = (const void *) req;
	hearth_connect_querier_ctx      c;
	hearth_querier_query            lq = { 0 }, rq = { 0 };
	int64_t                         max_nodes;
	int rc = hearth_connect_querier_begin(&c, ctx, call, "diff");
	if (rc != 0)
		return rc;
	if (r->left == NULL || r->right == NULL)
		return hearth_connect_fail(call,
		    HEARTH_CONNECT_INVALID_ARGUMENT,
		    "left and right queries are both required");
	const Querier__V1__SelectMergeStacktracesRequest *L = r->left,
	                                                 *R = r->right;
	/* the larger max_nodes of the two, then validated (§4.2) */
	int64_t want = 0;
	if (L->_max_nodes_case != 0)
		want = L->max_nodes;
	if (R->_max_nodes_case != 0 && R->max_nodes > want)
		want = R->max_nodes;
	if ((rc = hearth_connect_querier_query(&c, L->profile_typeid,
	         L->label_selector, L->start, L->end, &lq))
	        != 0
	    || (rc = hearth_connect_querier_query(&c, R->profile_typeid,
	            R->label_selector, R->start, R->end, &rq))
	        != 0
	    || (rc = hearth_connect_querier_max_nodes(&c, 1, want, &max_nodes))
	        != 0
	    || (rc = hearth_connect_querier_no_selectors(&c,
	            L->n_profile_id_selector, L->n_trace_id_selector,
	            L->n_span_selector))
	        != 0
	    || (rc = hearth_connect_querier_no_selectors(&c,
	            R->n_profile_id_selector, R->n_trace_id_selector,
	            R->n_span_selector))
	        != 0
	    || (rc = hearth_connect_querier_spans(
	            &c, L->span_selector, L->n_span_selector, &lq))
	        != 0
	    || (rc = hearth_connect_querier_spans(
	            &c, R->span_selector, R->n_span_selector, &rq))
	        != 0)
		return rc;
	hearth_fgtree *lt, *rt;
	if ((rc = hearth_connect_querier_tree(
	         &c, &lq, L->stack_trace_selector, &lt))
	    != 0)
		return rc;
	if ((rc = hearth_connect_querier_tree(
	         &c, &rq, R->stack_trace_selector, &rt))
	    != 0) {
		hearth_fgtree_free(lt);
		return rc;
	}
	Querier__V1__DiffResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	hearth_err err;
	if (out == NULL) {
		rc = hearth_connect_querier_nomem(call);
	} else {
		querier__v1__diff_response__init(out);
		if (hearth_fgexport_flamegraph_diff(
		        call->arena, lt, rt, max_nodes, &out->flamegraph, &err)
		    != 0)
			rc = hearth_connect_querier_fail(&c, &err);
	}
	hearth_fgtree_free(lt);
	hearth_fgtree_free(rt);
	if (rc != 0)
		return rc;
	*resp = &out->base;
	return 0;
}

/* ---- GetProfileStats, AnalyzeQuery ------------------------------------ */

/* The oldest (newest = 0) or newest profile time of the tenant in [lo, hi]
 * by repeated SelectSeries: about 1024 buckets over the range, then the
 * same inside the bucket that holds the first (last) point, until buckets
 * are 1 ms wide. A point at p with step s means a profile in (p - s, p]
 * (buckets are right-edged), so each round narrows the range ~1000-fold:
 * about five rounds for the whole epoch, with no ingester support beyond
 * series selects. *found 0 when the tenant has no data. */
static int
connect_querier_edge(hearth_connect_querier_ctx *c, int newest, int64_t lo,
    int64_t hi, int64_t *out, int *found)
{
	hearth_querier_query qq = { .selector = "" };
	*found                  = 0;
	for (;;) {
		int64_t span = hi - lo + 1;
		int64_t step = span / 1024 + (span % 1024 != 0);
		if (step < 1)
			step = 1;
		hearth_querier_select_acc acc
		    = { .want_series = 1, .step_ms = step };
		qq.from_ms  = lo;
		qq.until_ms = hi;
		hearth_err err;
		if (hearth_querier_select(c->q, c->tenant, c->call->arena, &qq,
		        c->deadline, &acc, &err)
		    != 0)
			return hearth_connect_querier_fail(c, &err);
		int     have = 0;
		int64_t p    = 0;
		for (size_t i = 0; i < acc.n_series; i++) {
			const hearth_querier_series *s = &acc.series[i];
			if (s->n == 0)
				continue;
			int64_t v = newest ? s->ts[s->n - 1] : s->ts[0];
			if (!have || (newest ? v > p : v < p))
				p = v;
			have = 1;
		}
		if (!have)
			return 0;
		if (step == 1) {
			*out   = p;
			*found = 1;
			return 0;
		}
		if (p - step + 1 > lo)
			lo = p - step + 1;
		if (p < hi)
			hi = p;
	}
}

int
hearth_connect_querier_profile_stats(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	(void) req;
	hearth_connect_querier_ctx c;
	int rc = hearth_connect_querier_begin(&c, ctx, call, "profile_stats");
	if (rc != 0)
		return rc;
	Types__V1__GetProfileStatsResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	if (out == NULL)
		return hearth_connect_querier_nomem(call);
	types__v1__get_profile_stats_response__init(out);
	const int64_t lo = 1, hi = (int64_t) 1 << 52; /* year ~144,000 */
	int           found;
	if ((rc = connect_querier_edge(
	         &c, 0, lo, hi, &out->oldest_profile_time, &found))
	    != 0)
		return rc;
	if (found
	    && (rc = connect_querier_edge(&c, 1, out->oldest_profile_time, hi,
	            &out->newest_profile_time, &found))
	        != 0)
		return rc;
	out->data_ingested = found;
	if (!found)
		out->oldest_profile_time = out->newest_profile_time = 0;
	*resp = &out->base;
	return 0;
}

/* AnalyzeQuery: the query is checked; the cost estimate is the fan-out
 * (one scope, the ingesters asked). Upstream accepts an empty analysis. */
int
hearth_connect_querier_analyze_query(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Querier__V1__AnalyzeQueryRequest *r = (const void *) req;
	hearth_connect_querier_ctx              c;
	int rc = hearth_connect_querier_begin(&c, ctx, call, "analyze_query");
	if (rc != 0)
		return rc;
	const char *text
	    = r->query != NULL && *r->query != '\0' ? r->query : "{}";
	hearth_selector *sel = NULL;
	hearth_err       err;
	if (hearth_selector_parse(text, strlen(text), &sel, &err) != 0) {
		hearth_err_prefix(&err, "query");
		return hearth_connect_querier_fail(&c, &err);
	}
	hearth_selector_free(sel);
	Querier__V1__AnalyzeQueryResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	Querier__V1__QueryScope *sc
	    = hearth_connect_querier_new(call, sizeof(*sc));
	Querier__V1__QueryScope **scp
	    = hearth_connect_querier_new(call, sizeof(*scp));
	Querier__V1__QueryImpact *im
	    = hearth_connect_querier_new(call, sizeof(*im));
	if (out == NULL || sc == NULL || scp == NULL || im == NULL)
		return hearth_connect_querier_nomem(call);
	querier__v1__analyze_query_response__init(out);
	querier__v1__query_scope__init(sc);
	querier__v1__query_impact__init(im);
	sc->component_type  = "ingester";
	hearth_cluster_view *v = hearth_cluster_acquire(c.q->deps.cluster);
	sc->component_count    = v->n;
	hearth_cluster_release(v);
	scp[0]              = sc;
	out->n_query_scopes = 1;
	out->query_scopes   = scp;
	out->query_impact   = im;
	*resp               = &out->base;
	return 0;
}
