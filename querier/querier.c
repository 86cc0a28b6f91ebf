#include "querier.h"

#include "querier_impl.h"
#include "querier_ui.h"

#include "attime.h"
#include "auth.h"
#include "buf.h"
#include "config.h"
#include "fgtree.h"
#include "flamebearer.h"
#include "ingester.pb-c.h"
#include "rpc.h"
#include "selector.h"
#include "tenant.h"
#include "timeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t
querier_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The tenants of a read (auth.h): one ID, or several joined by '|' for a
 * cross-tenant query (sorted, unique; the fan-out asks each); NULL when
 * the response is written (401, 403, 400). */
static const char *
querier_tenant(hearth_querier *q, hearth_http_req *req,
    hearth_http_resp *resp)
{
	hearth_err   err;
	const char **ids;
	size_t	     n, len = 0;
	hearth_err_clear(&err);
	if (hearth_auth_request(req, q->cfg.multitenancy_enabled,
	        HEARTH_AUTH_READ, &ids, &n, &err) != 0) {
		hearth_auth_fail(hearth_http_req_auth(req), resp, &err);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		len += strlen(ids[i]) + 1;
	char *joined = hearth_arena_alloc(hearth_http_req_arena(req), len);
	if (joined == NULL) {
		hearth_http_resp_error(resp, 413, "request memory limit reached");
		return NULL;
	}
	joined[0] = '\0';
	for (size_t i = 0, o = 0; i < n; i++)
		o += (size_t) sprintf(joined + o, "%s%s", i ? "|" : "", ids[i]);
	return joined;
}

/* When the lookback limit cut a query's range, say so (RFC 7234 Warning
 * 299: the answer is right, for a shorter range than asked). */
static void
querier_lookback_warning(hearth_querier *q, const char *tenant,
    const hearth_querier_query *qq, hearth_http_resp *resp)
{
	hearth_limits l;
	char	      lim[32], hv[200];
	if (!qq->empty && !qq->lookback_cut)
		return;
	hearth_querier_limits(q, tenant, &l);
	hearth_config_duration_format(l.max_query_lookback_ms, lim, sizeof(lim));
	snprintf(hv, sizeof(hv),
	    "299 hearth \"%s (max_query_lookback: %s)\"",
	    qq->empty ? "the whole range is older than the query lookback "
			"limit, nothing was queried"
		      : "the range was cut to start at the query lookback "
			"limit",
	    lim);
	hearth_http_resp_header(resp, "Warning", hv);
}

static int64_t
querier_time_ms(const char *s, int64_t now_ns)
{
	int64_t ns = hearth_attime_parse(s, s != NULL ? strlen(s) : 0, now_ns);
	return ns / 1000000; /* render-http.md §2.2: truncated to ms */
}

/*
 * Parse `query` (render-http.md §2.1): a selector whose metric name (or
 * __name__ matcher) holds the 5- or 6-part profile type id.
 */
static int
querier_parse_query(hearth_arena *a, const char *text, const char *what,
    hearth_querier_query *out, hearth_err *err)
{
	if (text == NULL || *text == '\0')
		return hearth_err_set(err, HEARTH_EINVAL,
		    "\"%s\" is required", what);
	hearth_selector *sel = NULL;
	int rc = hearth_selector_parse(text, strlen(text), &sel, err);
	if (rc != 0) {
		hearth_err_prefix(err, "%s", what);
		return rc;
	}
	hearth_matcher *pt = NULL;
	for (size_t i = 0; i < sel->n; i++)
		if (strcmp(sel->matchers[i].name, "__name__") == 0)
			pt = &sel->matchers[i];
	if (pt == NULL) {
		hearth_selector_free(sel);
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: must contain a profile-type selection, e.g. "
		    "process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"x\"}",
		    what);
	}
	rc = hearth_querier_query_build(a, what, pt->value, sel, pt, out, err);
	hearth_selector_free(sel);
	return rc;
}

static int
querier_parse_range(hearth_querier *q, const char *tenant, const char *from,
    const char *until, hearth_querier_query *out, hearth_err *err)
{
	int64_t now_ns = querier_now_ns();
	out->from_ms   = querier_time_ms(from, now_ns);
	out->until_ms  = querier_time_ms(until, now_ns);
	return hearth_querier_range(q, tenant, out, err);
}

/* maxNodes wins over max-nodes when both are valid (render-http.md §2.3). */
static int
querier_max_nodes(hearth_querier *q, const char *tenant, hearth_http_req *req,
    int64_t *out, hearth_err *err)
{
	const char   *names[] = { "maxNodes", "max-nodes" };
	hearth_limits l;
	hearth_querier_limits(q, tenant, &l);
	*out = 0;
	for (int i = 0; i < 2 && *out == 0; i++) {
		const char *s = hearth_http_req_query(req, names[i]);
		if (s == NULL || *s == '\0')
			continue;
		char	 *end = NULL;
		long long v   = strtoll(s, &end, 10);
		if (end == s || *end != '\0')
			continue; /* non-integer → default, as upstream */
		if (v < 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s must not be negative (got %lld)", names[i], v);
		*out = v;
	}
	if (*out == 0)
		*out = l.max_flamegraph_nodes_default;
	if (l.max_flamegraph_nodes_max > 0 && *out > l.max_flamegraph_nodes_max) {
		hearth_err_set(err, HEARTH_EINVAL,
		    "max nodes %lld is over the limit "
		    "(max_flamegraph_nodes_max: %lld)",
		    (long long) *out, (long long) l.max_flamegraph_nodes_max);
		hearth_querier_limit_hit(q, tenant, err);
		return HEARTH_EINVAL;
	}
	return 0;
}

/* render-http.md §4 metadata */
static void
querier_write_metadata(hearth_buf *b, const hearth_querier_query *qq,
    const char *format)
{
	const char *t	  = qq->sample_type;
	const char *units = qq->sample_unit;
	if (strcmp(t, "cpu") == 0)
		units = "samples";
	else if (strcmp(t, "inuse_objects") == 0 ||
	    strcmp(t, "alloc_objects") == 0 || strcmp(t, "goroutine") == 0 ||
	    strcmp(t, "samples") == 0)
		units = "objects";
	hearth_buf_printf(b,
	    "\"metadata\":{\"format\":\"%s\",\"spyName\":\"\",\"sampleRate\":%s,"
	    "\"units\":",
	    format, strcmp(t, "cpu") == 0 ? "1000000000" : "100");
	hearth_buf_put_json_str(b, units, strlen(units));
	hearth_buf_puts(b, ",\"name\":");
	hearth_buf_put_json_str(b, t, strlen(t));
	hearth_buf_putc(b, '}');
}

/* A query answered after its deadline (merging and rendering happen
 * after the fan-out) is a timeout too: query_timeout bounds the whole
 * query. 0 when there is time left or no deadline. */
static int
querier_late(hearth_querier *q, const char *tenant, int64_t deadline_ms,
    hearth_err *err)
{
	char lim[32];
	if (deadline_ms <= 0 || querier_now_ns() / 1000000 <= deadline_ms)
		return 0;
	hearth_limits l;
	hearth_querier_limits(q, tenant, &l);
	hearth_err_set(err, HEARTH_ETIMEDOUT,
	    "the query did not finish in time (query_timeout: %s); query a "
	    "shorter range or fewer series",
	    hearth_config_duration_format(l.query_timeout_ms, lim, sizeof(lim)));
	hearth_querier_limit_hit(q, tenant, err);
	return HEARTH_ETIMEDOUT;
}

/* The deadline of a legacy query: now + query_timeout, 0 = none. */
static int64_t
querier_deadline(hearth_querier *q, const char *tenant)
{
	hearth_limits l;
	hearth_querier_limits(q, tenant, &l);
	return l.query_timeout_ms > 0
	    ? querier_now_ns() / 1000000 + l.query_timeout_ms
	    : 0;
}

static void
querier_fail(hearth_http_resp *resp, const hearth_err *err)
{
	hearth_http_resp_error(resp, hearth_http_status_from_err(err->code),
	    "%s", err->msg);
	/* max_concurrent_queries: a slot frees when a query ends, which is
	 * usually within seconds. */
	if (err->code == HEARTH_EBUSY)
		hearth_http_resp_header(resp, "Retry-After", "1");
}

static void
querier_json_done(hearth_http_resp *resp, hearth_buf *b)
{
	if (hearth_buf_failed(b)) {
		hearth_buf_fini(b);
		hearth_http_resp_error(resp, 500,
		    "out of memory while writing the response");
		return;
	}
	hearth_buf_putc(b, '\n');
	hearth_buf_fini(&resp->body);
	resp->body	   = *b;
	resp->status	   = 200;
	resp->content_type = "application/json";
}

static void
querier_count(hearth_querier *q, const char *tenant, const char *kind)
{
	const char *lv[] = { tenant, kind };
	hearth_metric_add(q->m_queries, lv, 1);
}

/* One timeline object from a merged series; with avg each point is the
 * mean of its bucket's profile totals. */
static void
querier_timeline(hearth_buf *b, hearth_arena *a,
    const hearth_querier_query *qq, int64_t step_s,
    const hearth_querier_series *s, int avg)
{
	size_t	      n	  = s != NULL ? s->n : 0;
	hearth_point *pts = hearth_arena_alloc(a, (n ? n : 1) * sizeof(*pts));
	if (pts == NULL) {
		b->failed = 1;
		return;
	}
	for (size_t k = 0; k < n; k++) {
		pts[k].ts_ms = s->ts[k];
		pts[k].value = avg && s->count[k] > 0 ? s->sum[k] / s->count[k]
						      : s->sum[k];
	}
	hearth_timeline_write(b, qq->from_ms, qq->until_ms, step_s, pts, n);
}

static void
querier_handle_render(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_querier *q = ctx;
	hearth_arena   *a = hearth_http_req_arena(req);
	hearth_err	err;
	hearth_err_clear(&err);
	const char *tenant = querier_tenant(q, req, resp);
	if (tenant == NULL)
		return;
	querier_count(q, tenant, "render");
	hearth_querier_query qq = { 0 };
	int64_t		     max_nodes;
	if (querier_parse_query(a, hearth_http_req_query(req, "query"), "query",
	        &qq, &err) != 0 ||
	    querier_parse_range(q, tenant, hearth_http_req_query(req, "from"),
	        hearth_http_req_query(req, "until"), &qq, &err) != 0 ||
	    querier_max_nodes(q, tenant, req, &max_nodes, &err) != 0) {
		querier_fail(resp, &err);
		return;
	}
	const char *fmt = hearth_http_req_query(req, "format");
	if (fmt != NULL && strcmp(fmt, "dot") == 0) {
		hearth_http_resp_error(resp, 400,
		    "format=dot is not supported by hearth; use json");
		return;
	}
	const char *group_by[16];
	size_t n_group = hearth_http_req_query_all(req, "groupBy", group_by, 16);
	const char *agg = hearth_http_req_query(req, "aggregation");
	int	    avg = agg != NULL && strcmp(agg, "avg") == 0;
	int64_t step_s = hearth_timeline_step_seconds(qq.from_ms, qq.until_ms);

	/* Tree and series in one fan-out, through the same select as the
	 * Connect API (SelectMergeStacktraces + SelectSeries). */
	hearth_querier_select_acc acc = {
		.tree	     = hearth_fgtree_new(),
		.want_series = 1,
		.step_ms     = step_s * 1000,
		.group_by    = group_by,
		.n_group_by  = n_group,
	};
	if (acc.tree == NULL) {
		hearth_http_resp_error(resp, 500, "out of memory");
		return;
	}
	int64_t deadline = querier_deadline(q, tenant);
	if (hearth_querier_select(q, tenant, a, &qq, deadline, &acc, &err) !=
	    0) {
		hearth_fgtree_free(acc.tree);
		querier_fail(resp, &err);
		return;
	}
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_buf_puts(&b, "{\"version\":1,\"flamebearer\":");
	if (hearth_flamebearer_single(acc.tree, max_nodes, &b, &err) != 0) {
		hearth_fgtree_free(acc.tree);
		hearth_buf_fini(&b);
		querier_fail(resp, &err);
		return;
	}
	hearth_fgtree_free(acc.tree);
	hearth_buf_putc(&b, ',');
	querier_write_metadata(&b, &qq, "single");

	/* The timeline sums every returned series (upstream shows zeros
	 * unless exactly one series came back; the sum is what a user
	 * expects when groupBy is set). groups are keyed by the first
	 * groupBy label, "*" for series without it. */
	hearth_querier_series *all = NULL, *groups = NULL;
	size_t		       n_all = 0, n_groups = 0;
	if (hearth_querier_series_group(a, acc.series, acc.n_series, NULL, &all,
	        &n_all) != 0 ||
	    (n_group > 0 &&
		hearth_querier_series_group(a, acc.series, acc.n_series,
		    group_by[0], &groups, &n_groups) != 0)) {
		hearth_buf_fini(&b);
		hearth_http_resp_error(resp, 413,
		    "request memory limit reached while merging series");
		return;
	}
	hearth_buf_puts(&b, ",\"timeline\":");
	querier_timeline(&b, a, &qq, step_s, n_all > 0 ? &all[0] : NULL, avg);
	hearth_buf_puts(&b, ",\"groups\":");
	if (n_group == 0) {
		hearth_buf_puts(&b, "null");
	} else {
		hearth_buf_putc(&b, '{');
		for (size_t i = 0; i < n_groups; i++) {
			const char *key = groups[i].labels[0].value;
			if (*key == '\0')
				key = "*";
			if (i > 0)
				hearth_buf_putc(&b, ',');
			hearth_buf_put_json_str(&b, key, strlen(key));
			hearth_buf_putc(&b, ':');
			querier_timeline(&b, a, &qq, step_s, &groups[i], avg);
		}
		hearth_buf_putc(&b, '}');
	}
	hearth_buf_puts(&b, ",\"heatmap\":null}");
	if (querier_late(q, tenant, deadline, &err) != 0) {
		hearth_buf_fini(&b);
		querier_fail(resp, &err);
		return;
	}
	querier_lookback_warning(q, tenant, &qq, resp);
	querier_json_done(resp, &b);
}

static void
querier_handle_diff(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_querier *q = ctx;
	hearth_arena   *a = hearth_http_req_arena(req);
	hearth_err	err;
	hearth_err_clear(&err);
	const char *tenant = querier_tenant(q, req, resp);
	if (tenant == NULL)
		return;
	querier_count(q, tenant, "render_diff");
	hearth_querier_query l = { 0 }, r = { 0 };
	int64_t		     max_nodes;
	if (querier_parse_query(a, hearth_http_req_query(req, "leftQuery"),
	        "leftQuery", &l, &err) != 0 ||
	    querier_parse_query(a, hearth_http_req_query(req, "rightQuery"),
	        "rightQuery", &r, &err) != 0 ||
	    querier_parse_range(q, tenant, hearth_http_req_query(req, "leftFrom"),
	        hearth_http_req_query(req, "leftUntil"), &l, &err) != 0 ||
	    querier_parse_range(q, tenant, hearth_http_req_query(req, "rightFrom"),
	        hearth_http_req_query(req, "rightUntil"), &r, &err) != 0 ||
	    querier_max_nodes(q, tenant, req, &max_nodes, &err) != 0) {
		querier_fail(resp, &err);
		return;
	}
	if (strcmp(l.profile_type, r.profile_type) != 0) {
		hearth_http_resp_error(resp, 400,
		    "profile types must match: left is \"%s\", right is \"%s\"",
		    l.profile_type, r.profile_type);
		return;
	}
	hearth_querier_select_acc ls = { .tree = hearth_fgtree_new() };
	hearth_querier_select_acc rs = { .tree = hearth_fgtree_new() };
	hearth_buf		  b;
	hearth_buf_init(&b);
	int64_t lt = 0, rt = 0;
	int	rc	 = HEARTH_ENOMEM;
	int64_t deadline = querier_deadline(q, tenant);
	if (ls.tree == NULL || rs.tree == NULL)
		hearth_err_set(&err, rc, "out of memory");
	else if ((rc = hearth_querier_select(q, tenant, a, &l, deadline, &ls,
		      &err)) == 0 &&
	    (rc = hearth_querier_select(q, tenant, a, &r, deadline, &rs,
		 &err)) == 0) {
		hearth_buf_puts(&b, "{\"version\":1,\"flamebearer\":");
		rc = hearth_flamebearer_diff(ls.tree, rs.tree, max_nodes, &b, &lt,
		    &rt, &err);
		if (rc == 0)
			rc = querier_late(q, tenant, deadline, &err);
	}
	hearth_fgtree_free(ls.tree);
	hearth_fgtree_free(rs.tree);
	if (rc != 0) {
		hearth_buf_fini(&b);
		querier_fail(resp, &err);
		return;
	}
	hearth_buf_putc(&b, ',');
	querier_write_metadata(&b, &l, "double");
	hearth_buf_puts(&b,
	    ",\"timeline\":null,\"groups\":null,\"heatmap\":null");
	if (lt != 0)
		hearth_buf_printf(&b, ",\"leftTicks\":%lld", (long long) lt);
	if (rt != 0)
		hearth_buf_printf(&b, ",\"rightTicks\":%lld", (long long) rt);
	hearth_buf_putc(&b, '}');
	querier_lookback_warning(q, tenant, l.empty || l.lookback_cut ? &l : &r,
	    resp);
	querier_json_done(resp, &b);
}

static void
querier_labels_common(hearth_querier *q, hearth_http_req *req,
    hearth_http_resp *resp, const char *name)
{
	hearth_arena *a = hearth_http_req_arena(req);
	hearth_err    err;
	hearth_err_clear(&err);
	const char *tenant = querier_tenant(q, req, resp);
	if (tenant == NULL)
		return;
	querier_count(q, tenant, name[0] ? "label_values" : "label_names");
	/* Default range: the last hour (render-http.md §7). */
	const char	    *from  = hearth_http_req_query(req, "from");
	const char	    *until = hearth_http_req_query(req, "until");
	hearth_querier_query qq	   = { 0 };
	if (querier_parse_range(q, tenant, from != NULL ? from : "now-1h", until, &qq,
	        &err) != 0) {
		querier_fail(resp, &err);
		return;
	}
	const char *query = hearth_http_req_query(req, "query");
	const char *sel	  = "{}";
	if (query != NULL && *query != '\0') {
		/* A profile type in the metric-name position narrows the
		 * answer to that type, as in render; a plain selector is
		 * used as it is. */
		hearth_querier_query tq = { 0 };
		if (querier_parse_query(a, query, "query", &tq, &err) == 0) {
			sel = tq.selector;
		} else {
			hearth_selector *s = NULL;
			hearth_err_clear(&err);
			if (hearth_selector_parse(query, strlen(query), &s,
			        &err) != 0) {
				hearth_err_prefix(&err, "query");
				querier_fail(resp, &err);
				return;
			}
			hearth_selector_free(s);
			sel = query;
		}
	}
	const char **vals = NULL;
	size_t	     n	  = 0;
	if (!qq.empty &&
	    hearth_querier_labels(q, tenant, a, sel, qq.from_ms, qq.until_ms,
	        name, 0, &vals, &n, &err) != 0) {
		querier_fail(resp, &err);
		return;
	}
	/* The default "last hour" is a default, not a cut: warn only when
	 * the client asked for the range. */
	if (from != NULL)
		querier_lookback_warning(q, tenant, &qq, resp);
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_buf_putc(&b, '[');
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			hearth_buf_putc(&b, ',');
		hearth_buf_put_json_str(&b, vals[i], strlen(vals[i]));
	}
	hearth_buf_putc(&b, ']');
	querier_json_done(resp, &b);
}

static void
querier_handle_label_names(void *ctx, hearth_http_req *req,
    hearth_http_resp *resp)
{
	querier_labels_common(ctx, req, resp, "");
}

static void
querier_handle_label_values(void *ctx, hearth_http_req *req,
    hearth_http_resp *resp)
{
	const char *label = hearth_http_req_query(req, "label");
	if (label == NULL || *label == '\0') {
		hearth_http_resp_error(resp, 400, "label parameter is required");
		return;
	}
	/* label=__name__ lists profile type ids (render-http.md §7). */
	if (strcmp(label, "__name__") == 0)
		label = "__profile_type__";
	querier_labels_common(ctx, req, resp, label);
}

int
hearth_querier_new(const hearth_querier_cfg *cfg,
    const hearth_querier_deps *deps, hearth_querier **out, hearth_err *err)
{
	if (deps->cluster == NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "querier: no ingester ring to ask");
	hearth_querier *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "querier: out of memory");
	q->cfg	= *cfg;
	q->deps = *deps;
	static const char *const ql[] = { "tenant", "kind" };
	static const char *const ll[] = { "tenant", "limit" };
	q->m_queries = hearth_metrics_counter(deps->metrics,
	    "hearth_querier_queries_total", "Queries received, by kind.", 2, ql);
	/* The same families as the distributor's (metrics.h invariant (1)):
	 * one name for every refusal, ingest or query. */
	q->m_limit_rejections = hearth_metrics_counter(deps->metrics,
	    "hearth_limit_rejections_total",
	    "Requests refused because a per-tenant limit was reached, by the "
	    "limit's YAML key.",
	    2, ll);
	q->m_truncations = hearth_metrics_counter(deps->metrics,
	    "hearth_limit_truncations_total",
	    "What a per-tenant limit cut short instead of refusing (stacks "
	    "and symbols of accepted profiles, query ranges), by the "
	    "limit's YAML key.",
	    2, ll);
	static const char *const hl[] = { "tenant", "answered" };
	q->m_hedges = hearth_metrics_counter(deps->metrics,
	    "hearth_querier_select_hedges_total",
	    "Selects sent to a second ingester holding the same windows "
	    "because the first was still running after the grace, by which "
	    "copy answered first (original, hedge or neither).",
	    2, hl);
	if (q->m_queries == NULL || q->m_limit_rejections == NULL ||
	    q->m_truncations == NULL || q->m_hedges == NULL ||
	    hearth_querier_services_new(&q->services, err) != 0) {
		free(q);
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "querier: cannot register metrics");
	}
	*out = q;
	return 0;
}

int
hearth_querier_start(hearth_querier *q, hearth_err *err)
{
	struct {
		const char	   *path;
		const char	   *label;
		hearth_http_handler h;
	} routes[] = {
		{ "/pyroscope/render", "render", querier_handle_render },
		{ "/pyroscope/render-diff", "render_diff", querier_handle_diff },
		{ "/pyroscope/label-names", "label_names",
		    querier_handle_label_names },
		{ "/pyroscope/label-values", "label_values",
		    querier_handle_label_values },
	};
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (hearth_http_route(q->deps.http, "GET", routes[i].path, 0,
		        routes[i].label, routes[i].h, q) != 0)
			return hearth_err_set(err, HEARTH_EINTERNAL,
			    "querier: cannot register route %s", routes[i].path);
	if (hearth_querier_ui_routes(q->deps.http, err) != 0)
		return HEARTH_EINTERNAL;
	return hearth_querier_connect_routes(q, err);
}

void
hearth_querier_stop(hearth_querier *q)
{
	(void) q; /* requests finish when the HTTP server stops */
}

void
hearth_querier_free(hearth_querier *q)
{
	if (q == NULL)
		return;
	hearth_connect_free(q->connect);
	hearth_querier_services_free(q->services);
	free(q);
}
