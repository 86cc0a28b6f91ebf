#include "querier.h"

#include "attime.h"
#include "buf.h"
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

#define QUERIER_MAX_INGESTERS 64

struct hearth_querier {
	hearth_querier_cfg  cfg;
	hearth_querier_deps deps;
	hearth_rpc_client  *clients[QUERIER_MAX_INGESTERS];
	size_t		    n_clients;
	hearth_metric	   *m_queries; /* {tenant,kind} */
};

/* One parsed query: the selector sent to ingesters (profile type folded
 * into a __profile_type__ matcher) and the profile type's parts. */
typedef struct querier_query {
	char	   *selector;	/* arena, canonical text */
	const char *profile_type; /* arena, 5 parts */
	const char *sample_type;
	const char *sample_unit;
	int64_t	    from_ms;
	int64_t	    until_ms;
	int	    empty;	/* whole range before the lookback limit */
} querier_query;

static int64_t
querier_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Resolve the tenant; on failure the response is written. */
static int
querier_tenant(hearth_querier *q, hearth_http_req *req,
    hearth_http_resp *resp, char *tenant, size_t sz)
{
	hearth_err err;
	hearth_err_clear(&err);
	int rc = hearth_tenant_resolve(
	    hearth_http_req_header(req, "X-Scope-OrgID"),
	    q->cfg.multitenancy_enabled, tenant, sz, &err);
	if (rc != 0) {
		hearth_http_resp_error(resp, rc == HEARTH_ENOTFOUND ? 401 : 400,
		    "%s", err.msg);
		return rc;
	}
	return 0;
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
    querier_query *out, hearth_err *err)
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
	/* Split the id at ':'; exactly 5 parts, or 6 with the last ignored. */
	const char *parts[6];
	size_t	    lens[6];
	size_t	    np = 0;
	const char *s  = pt->value;
	for (;;) {
		const char *c = strchr(s, ':');
		if (np == 6) {
			np = 7;
			break;
		}
		parts[np] = s;
		lens[np++] = c != NULL ? (size_t) (c - s) : strlen(s);
		if (c == NULL)
			break;
		s = c + 1;
	}
	if (np != 5 && np != 6) {
		hearth_err_set(err, HEARTH_EINVAL,
		    "%s: profile type \"%s\" must have 5 parts "
		    "name:sample_type:sample_unit:period_type:period_unit",
		    what, pt->value);
		hearth_selector_free(sel);
		return HEARTH_EINVAL;
	}
	size_t idlen = (size_t) (parts[4] + lens[4] - parts[0]);
	out->profile_type = hearth_arena_strndup(a, parts[0], idlen);
	out->sample_type  = hearth_arena_strndup(a, parts[1], lens[1]);
	out->sample_unit  = hearth_arena_strndup(a, parts[2], lens[2]);
	if (out->profile_type == NULL || out->sample_type == NULL ||
	    out->sample_unit == NULL) {
		hearth_selector_free(sel);
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached");
	}
	/* __name__ becomes the stored __profile_type__ label; the other
	 * matchers are copied into a fresh selector (never edited in place:
	 * a matcher owns its compiled regex). */
	hearth_selector *rpc = hearth_selector_new();
	rc = rpc == NULL ? hearth_err_set(err, HEARTH_ENOMEM, "out of memory")
			 : hearth_selector_add(rpc, HEARTH_MATCH_EQ,
			       "__profile_type__", out->profile_type, err);
	for (size_t i = 0; rc == 0 && i < sel->n; i++)
		if (&sel->matchers[i] != pt)
			rc = hearth_selector_add(rpc, sel->matchers[i].op,
			    sel->matchers[i].name, sel->matchers[i].value, err);
	hearth_selector_free(sel);
	sel = rpc;
	if (rc != 0) {
		hearth_selector_free(sel);
		return rc;
	}
	hearth_buf b;
	hearth_buf_init(&b);
	rc = hearth_selector_format(sel, &b);
	hearth_selector_free(sel);
	if (rc != 0 || hearth_buf_failed(&b)) {
		hearth_buf_fini(&b);
		return hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
	}
	out->selector = hearth_arena_strndup(a, b.data, b.len);
	hearth_buf_fini(&b);
	if (out->selector == NULL)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached");
	return 0;
}

static int
querier_parse_range(hearth_querier *q, const char *from, const char *until,
    querier_query *out, hearth_err *err)
{
	int64_t now_ns = querier_now_ns();
	out->from_ms   = querier_time_ms(from, now_ns);
	out->until_ms  = querier_time_ms(until, now_ns);
	if (out->from_ms > out->until_ms)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "invalid time range: from (%lld ms) is after until "
		    "(%lld ms)",
		    (long long) out->from_ms, (long long) out->until_ms);
	int rc = hearth_limits_check_query(q->cfg.limits, &out->from_ms,
	    &out->until_ms, now_ns / 1000000, err);
	if (rc < 0)
		return rc;
	out->empty = rc == 1;
	return 0;
}

/* maxNodes wins over max-nodes when both are valid (render-http.md §2.3). */
static int
querier_max_nodes(hearth_querier *q, hearth_http_req *req, int64_t *out,
    hearth_err *err)
{
	const char *names[] = { "maxNodes", "max-nodes" };
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
		*out = q->cfg.limits->max_flamegraph_nodes_default;
	if (q->cfg.limits->max_flamegraph_nodes_max > 0 &&
	    *out > q->cfg.limits->max_flamegraph_nodes_max)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "max nodes %lld is over the limit "
		    "(max_flamegraph_nodes_max: %lld)",
		    (long long) *out,
		    (long long) q->cfg.limits->max_flamegraph_nodes_max);
	return 0;
}

/* Ask every ingester; calls fn on each successful response body. */
typedef int (*querier_each_fn)(void *ctx, const uint8_t *body, size_t len,
    hearth_arena *a, hearth_err *err);

static int
querier_fanout(hearth_querier *q, const char *tenant, uint32_t method,
    const uint8_t *req, size_t len, hearth_arena *a, querier_each_fn fn,
    void *ctx, hearth_err *err)
{
	int64_t now_ms = querier_now_ns() / 1000000;
	hearth_rpc_meta meta = {
		.tenant		  = tenant,
		.request_id	  = "",
		.deadline_unix_ms = now_ms + q->cfg.limits->query_timeout_ms,
	};
	for (size_t i = 0; i < q->n_clients; i++) {
		const uint8_t *resp = NULL;
		size_t	       rlen = 0;
		int rc = hearth_rpc_call(q->clients[i], method, &meta, req, len,
		    a, &resp, &rlen, err);
		if (rc != 0) {
			hearth_err_prefix(err, "ingester %s",
			    q->cfg.ingester_urls[i]);
			return rc;
		}
		rc = fn(ctx, resp, rlen, a, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Accumulates SELECT answers: the merged tree and series points. */
typedef struct querier_acc {
	hearth_fgtree *tree;
	/* series merged by labels: key = joined group-by values */
	struct querier_series {
		char	     *key; /* arena */
		hearth_point *pts; /* arena, sorted by ts, merged */
		int64_t	     *counts;
		size_t	      n;
	} *series;
	size_t n_series;
	size_t cap_series;
	const char *group_label; /* first groupBy label or NULL */
} querier_acc;

static int
querier_merge_points(hearth_arena *a, struct querier_series *s,
    Hearth__Ingester__Point **pts, size_t n)
{
	size_t	      cap = s->n + n;
	hearth_point *np  = hearth_arena_alloc(a, (cap ? cap : 1) * sizeof(*np));
	int64_t	     *nc  = hearth_arena_alloc(a, (cap ? cap : 1) * sizeof(*nc));
	if (np == NULL || nc == NULL)
		return HEARTH_ELIMIT;
	size_t i = 0, j = 0, k = 0;
	while (i < s->n || j < n) {
		if (j == n || (i < s->n && s->pts[i].ts_ms < pts[j]->timestamp_ms)) {
			np[k]	= s->pts[i];
			nc[k++] = s->counts[i++];
		} else if (i == s->n || pts[j]->timestamp_ms < s->pts[i].ts_ms) {
			np[k].ts_ms   = pts[j]->timestamp_ms;
			np[k].value   = pts[j]->value;
			nc[k++]	      = pts[j]->count;
			j++;
		} else {
			np[k].ts_ms = s->pts[i].ts_ms;
			np[k].value = s->pts[i].value + pts[j]->value;
			nc[k++]	    = s->counts[i++] + pts[j++]->count;
		}
	}
	s->pts	  = np;
	s->counts = nc;
	s->n	  = k;
	return 0;
}

static int
querier_on_select(void *ctx, const uint8_t *body, size_t len,
    hearth_arena *a, hearth_err *err)
{
	querier_acc *qs = ctx;
	ProtobufCAllocator alloc = { hearth_arena_pb_alloc, hearth_arena_pb_free,
		a };
	Hearth__Ingester__SelectResponse *r =
	    hearth__ingester__select_response__unpack(&alloc, len, body);
	if (r == NULL)
		return hearth_err_set(err, HEARTH_ECORRUPT,
		    "malformed select response from ingester");
	Hearth__Ingester__Tree *t = r->tree;
	if (qs->tree != NULL && t != NULL && t->n_parent > 0) {
		if (t->n_name != t->n_parent || t->n_self != t->n_parent)
			return hearth_err_set(err, HEARTH_ECORRUPT,
			    "inconsistent tree from ingester");
		uint32_t *map = hearth_arena_alloc(a, t->n_parent * sizeof(*map));
		if (map == NULL)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached while merging trees");
		map[0] = 0;
		for (size_t i = 1; i < t->n_parent; i++) {
			if (t->parent[i] >= i || t->name[i] >= t->n_names)
				return hearth_err_set(err, HEARTH_ECORRUPT,
				    "inconsistent tree from ingester");
			const char *nm = t->names[t->name[i]];
			int rc = hearth_fgtree_child(qs->tree, map[t->parent[i]], nm,
			    strlen(nm), &map[i]);
			if (rc != 0)
				return hearth_err_set(err, rc,
				    "out of memory merging trees");
		}
		for (size_t i = 0; i < t->n_parent; i++)
			if (t->self[i] != 0 &&
			    hearth_fgtree_add_self(qs->tree, map[i], t->self[i]) != 0)
				return hearth_err_set(err, HEARTH_ENOMEM,
				    "out of memory merging trees");
	}
	for (size_t i = 0; i < r->n_series; i++) {
		Hearth__Ingester__Series *s = r->series[i];
		const char *key = "*";
		for (size_t l = 0; qs->group_label != NULL && l < s->n_labels; l++)
			if (strcmp(s->labels[l]->name, qs->group_label) == 0)
				key = s->labels[l]->value;
		struct querier_series *dst = NULL;
		for (size_t k = 0; k < qs->n_series; k++)
			if (strcmp(qs->series[k].key, key) == 0)
				dst = &qs->series[k];
		if (dst == NULL) {
			if (qs->n_series == qs->cap_series) {
				size_t cap = qs->cap_series ? qs->cap_series * 2 : 8;
				void *ns = hearth_arena_realloc(a, qs->series,
				    qs->n_series * sizeof(*qs->series),
				    cap * sizeof(*qs->series));
				if (ns == NULL)
					return hearth_err_set(err, HEARTH_ELIMIT,
					    "request memory limit reached");
				qs->series     = ns;
				qs->cap_series = cap;
			}
			dst = &qs->series[qs->n_series++];
			memset(dst, 0, sizeof(*dst));
			dst->key = hearth_arena_strdup(a, key);
			if (dst->key == NULL)
				return hearth_err_set(err, HEARTH_ELIMIT,
				    "request memory limit reached");
		}
		if (querier_merge_points(a, dst, s->points, s->n_points) != 0)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached");
	}
	return 0;
}

static int
querier_select(hearth_querier *q, const char *tenant, hearth_arena *a,
    const querier_query *qq, int want_series, int64_t step_s,
    const char *const *group_by, size_t n_group_by, querier_acc *out,
    hearth_err *err)
{
	if (qq->empty)
		return 0;
	Hearth__Ingester__SelectRequest sr;
	hearth__ingester__select_request__init(&sr);
	sr.selector    = qq->selector;
	sr.start_ms    = qq->from_ms;
	sr.end_ms      = qq->until_ms;
	sr.want_tree   = out->tree != NULL;
	sr.want_series = want_series;
	sr.step_ms     = step_s * 1000;
	sr.n_group_by  = n_group_by;
	sr.group_by    = (char **) group_by;
	size_t	 len   = hearth__ingester__select_request__get_packed_size(&sr);
	uint8_t *buf   = hearth_arena_alloc(a, len ? len : 1);
	if (buf == NULL)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached");
	hearth__ingester__select_request__pack(&sr, buf);
	return querier_fanout(q, tenant, HEARTH_RPC_SELECT, buf, len, a,
	    querier_on_select, out, err);
}

/* render-http.md §4 metadata */
static void
querier_write_metadata(hearth_buf *b, const querier_query *qq,
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

static void
querier_fail(hearth_http_resp *resp, const hearth_err *err)
{
	hearth_http_resp_error(resp, hearth_http_status_from_err(err->code),
	    "%s", err->msg);
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

static void
querier_handle_render(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_querier *q = ctx;
	hearth_arena   *a = hearth_http_req_arena(req);
	hearth_err	err;
	char		tenant[256];
	hearth_err_clear(&err);
	if (querier_tenant(q, req, resp, tenant, sizeof(tenant)) != 0)
		return;
	querier_count(q, tenant, "render");
	querier_query qq = { 0 };
	int64_t	      max_nodes;
	if (querier_parse_query(a, hearth_http_req_query(req, "query"), "query",
	        &qq, &err) != 0 ||
	    querier_parse_range(q, hearth_http_req_query(req, "from"),
	        hearth_http_req_query(req, "until"), &qq, &err) != 0 ||
	    querier_max_nodes(q, req, &max_nodes, &err) != 0) {
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

	querier_acc qs = { 0 };
	qs.tree		  = hearth_fgtree_new();
	qs.group_label	  = n_group > 0 ? group_by[0] : NULL;
	if (qs.tree == NULL) {
		hearth_http_resp_error(resp, 500, "out of memory");
		return;
	}
	if (querier_select(q, tenant, a, &qq, 1, step_s, group_by, n_group, &qs,
	        &err) != 0) {
		hearth_fgtree_free(qs.tree);
		querier_fail(resp, &err);
		return;
	}
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_buf_puts(&b, "{\"version\":1,\"flamebearer\":");
	if (hearth_flamebearer_single(qs.tree, max_nodes, &b, &err) != 0) {
		hearth_fgtree_free(qs.tree);
		hearth_buf_fini(&b);
		querier_fail(resp, &err);
		return;
	}
	hearth_fgtree_free(qs.tree);
	hearth_buf_putc(&b, ',');
	querier_write_metadata(&b, &qq, "single");

	/* The timeline sums every returned series (upstream shows zeros
	 * unless exactly one series came back; the sum is what a user
	 * expects when groupBy is set). */
	struct querier_series all = { 0 };
	for (size_t i = 0; i < qs.n_series; i++) {
		Hearth__Ingester__Point  *pv = hearth_arena_calloc(a,
		     qs.series[i].n ? qs.series[i].n : 1, sizeof(*pv));
		Hearth__Ingester__Point **pp = hearth_arena_calloc(a,
		    qs.series[i].n ? qs.series[i].n : 1, sizeof(*pp));
		if (pv == NULL || pp == NULL)
			break;
		for (size_t k = 0; k < qs.series[i].n; k++) {
			pv[k].timestamp_ms = qs.series[i].pts[k].ts_ms;
			pv[k].value	   = qs.series[i].pts[k].value;
			pv[k].count	   = qs.series[i].counts[k];
			pp[k]		   = &pv[k];
		}
		querier_merge_points(a, &all, pp, qs.series[i].n);
	}
	if (avg) {
		for (size_t k = 0; k < all.n; k++)
			if (all.counts[k] > 0)
				all.pts[k].value /= all.counts[k];
		for (size_t i = 0; i < qs.n_series; i++)
			for (size_t k = 0; k < qs.series[i].n; k++)
				if (qs.series[i].counts[k] > 0)
					qs.series[i].pts[k].value /=
					    qs.series[i].counts[k];
	}
	hearth_buf_puts(&b, ",\"timeline\":");
	hearth_timeline_write(&b, qq.from_ms, qq.until_ms, step_s, all.pts,
	    all.n);
	hearth_buf_puts(&b, ",\"groups\":");
	if (n_group == 0) {
		hearth_buf_puts(&b, "null");
	} else {
		hearth_buf_putc(&b, '{');
		for (size_t i = 0; i < qs.n_series; i++) {
			if (i > 0)
				hearth_buf_putc(&b, ',');
			hearth_buf_put_json_str(&b, qs.series[i].key,
			    strlen(qs.series[i].key));
			hearth_buf_putc(&b, ':');
			hearth_timeline_write(&b, qq.from_ms, qq.until_ms, step_s,
			    qs.series[i].pts, qs.series[i].n);
		}
		hearth_buf_putc(&b, '}');
	}
	hearth_buf_puts(&b, ",\"heatmap\":null}");
	querier_json_done(resp, &b);
}

static void
querier_handle_diff(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_querier *q = ctx;
	hearth_arena   *a = hearth_http_req_arena(req);
	hearth_err	err;
	char		tenant[256];
	hearth_err_clear(&err);
	if (querier_tenant(q, req, resp, tenant, sizeof(tenant)) != 0)
		return;
	querier_count(q, tenant, "render_diff");
	querier_query l = { 0 }, r = { 0 };
	int64_t	      max_nodes;
	if (querier_parse_query(a, hearth_http_req_query(req, "leftQuery"),
	        "leftQuery", &l, &err) != 0 ||
	    querier_parse_query(a, hearth_http_req_query(req, "rightQuery"),
	        "rightQuery", &r, &err) != 0 ||
	    querier_parse_range(q, hearth_http_req_query(req, "leftFrom"),
	        hearth_http_req_query(req, "leftUntil"), &l, &err) != 0 ||
	    querier_parse_range(q, hearth_http_req_query(req, "rightFrom"),
	        hearth_http_req_query(req, "rightUntil"), &r, &err) != 0 ||
	    querier_max_nodes(q, req, &max_nodes, &err) != 0) {
		querier_fail(resp, &err);
		return;
	}
	if (strcmp(l.profile_type, r.profile_type) != 0) {
		hearth_http_resp_error(resp, 400,
		    "profile types must match: left is \"%s\", right is \"%s\"",
		    l.profile_type, r.profile_type);
		return;
	}
	querier_acc ls = { 0 }, rs = { 0 };
	ls.tree = hearth_fgtree_new();
	rs.tree = hearth_fgtree_new();
	hearth_buf b;
	hearth_buf_init(&b);
	int64_t lt = 0, rt = 0;
	int	rc = HEARTH_ENOMEM;
	if (ls.tree == NULL || rs.tree == NULL)
		hearth_err_set(&err, rc, "out of memory");
	else if ((rc = querier_select(q, tenant, a, &l, 0, 0, NULL, 0, &ls,
		      &err)) == 0 &&
	    (rc = querier_select(q, tenant, a, &r, 0, 0, NULL, 0, &rs, &err)) ==
		0) {
		hearth_buf_puts(&b, "{\"version\":1,\"flamebearer\":");
		rc = hearth_flamebearer_diff(ls.tree, rs.tree, max_nodes, &b, &lt,
		    &rt, &err);
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
	querier_json_done(resp, &b);
}

/* Union of sorted string lists from every ingester. */
typedef struct querier_labels {
	char  **v;
	size_t	n;
	size_t	cap;
} querier_labels;

static int
querier_cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *) x, *(char *const *) y);
}

static int
querier_on_labels(void *ctx, const uint8_t *body, size_t len,
    hearth_arena *a, hearth_err *err)
{
	querier_labels	  *ql	 = ctx;
	ProtobufCAllocator alloc = { hearth_arena_pb_alloc, hearth_arena_pb_free,
		a };
	Hearth__Ingester__LabelsResponse *r =
	    hearth__ingester__labels_response__unpack(&alloc, len, body);
	if (r == NULL)
		return hearth_err_set(err, HEARTH_ECORRUPT,
		    "malformed labels response from ingester");
	if (ql->n + r->n_values > ql->cap) {
		size_t cap = (ql->n + r->n_values) * 2;
		char **nv  = hearth_arena_realloc(a, ql->v, ql->n * sizeof(char *),
		     cap * sizeof(char *));
		if (nv == NULL)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached");
		ql->v	= nv;
		ql->cap = cap;
	}
	for (size_t i = 0; i < r->n_values; i++)
		ql->v[ql->n++] = r->values[i];
	return 0;
}

static void
querier_labels_common(hearth_querier *q, hearth_http_req *req,
    hearth_http_resp *resp, const char *name)
{
	hearth_arena *a = hearth_http_req_arena(req);
	hearth_err    err;
	char	      tenant[256];
	hearth_err_clear(&err);
	if (querier_tenant(q, req, resp, tenant, sizeof(tenant)) != 0)
		return;
	querier_count(q, tenant, name[0] ? "label_values" : "label_names");
	/* Default range: the last hour (render-http.md §7). */
	int64_t	    now_ns = querier_now_ns();
	const char *from   = hearth_http_req_query(req, "from");
	const char *until  = hearth_http_req_query(req, "until");
	querier_query qq   = { 0 };
	if (querier_parse_range(q, from != NULL ? from : "now-1h", until, &qq,
	        &err) != 0) {
		querier_fail(resp, &err);
		return;
	}
	(void) now_ns;
	const char *query = hearth_http_req_query(req, "query");
	const char *sel	  = "{}";
	if (query != NULL && *query != '\0') {
		/* A profile type in the metric-name position narrows the
		 * answer to that type, as in render; a plain selector is
		 * used as it is. */
		querier_query tq = { 0 };
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
	Hearth__Ingester__LabelsRequest lr;
	hearth__ingester__labels_request__init(&lr);
	lr.selector = (char *) sel;
	lr.start_ms = qq.from_ms;
	lr.end_ms   = qq.until_ms;
	lr.name	    = (char *) name;
	querier_labels ql = { 0 };
	if (!qq.empty) {
		size_t	 len = hearth__ingester__labels_request__get_packed_size(&lr);
		uint8_t *buf = hearth_arena_alloc(a, len ? len : 1);
		if (buf == NULL) {
			hearth_http_resp_error(resp, 413,
			    "request memory limit reached");
			return;
		}
		hearth__ingester__labels_request__pack(&lr, buf);
		if (querier_fanout(q, tenant, HEARTH_RPC_LABELS, buf, len, a,
		        querier_on_labels, &ql, &err) != 0) {
			querier_fail(resp, &err);
			return;
		}
	}
	if (ql.n > 1)
		qsort(ql.v, ql.n, sizeof(char *), querier_cmp_str);
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_buf_putc(&b, '[');
	for (size_t i = 0, k = 0; i < ql.n; i++) {
		if (i > 0 && strcmp(ql.v[i], ql.v[i - 1]) == 0)
			continue;
		if (k++ > 0)
			hearth_buf_putc(&b, ',');
		hearth_buf_put_json_str(&b, ql.v[i], strlen(ql.v[i]));
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
	if (cfg->n_ingesters == 0 || cfg->n_ingesters > QUERIER_MAX_INGESTERS)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "querier: between 1 and %d ingesters are supported, got %zu",
		    QUERIER_MAX_INGESTERS, cfg->n_ingesters);
	hearth_querier *q = calloc(1, sizeof(*q));
	if (q == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "querier: out of memory");
	q->cfg	= *cfg;
	q->deps = *deps;
	static const char *const ql[] = { "tenant", "kind" };
	q->m_queries = hearth_metrics_counter(deps->metrics,
	    "hearth_querier_queries_total", "Queries received, by kind.", 2, ql);
	if (q->m_queries == NULL) {
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
	for (size_t i = 0; i < q->cfg.n_ingesters; i++) {
		int rc = hearth_rpc_client_new(q->cfg.ingester_urls[i],
		    q->cfg.rpc_max_message_bytes, &q->clients[i], err);
		if (rc != 0)
			return rc;
		q->n_clients++;
	}
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
	return 0;
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
	for (size_t i = 0; i < q->n_clients; i++)
		hearth_rpc_client_free(q->clients[i]);
	free(q);
}
