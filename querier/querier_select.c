/*
 * querier_select: asking every ingester and merging what they answer
 * (querier_impl.h). The legacy render API and the Connect querier.v1
 * service both go through these functions, so a flame graph, a render
 * timeline and a SelectSeries answer over the same range always agree.
 */
#include "querier_impl.h"

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "ingester.pb-c.h"
#include "tenant.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
hearth_querier_query_build(hearth_arena *a, const char *what,
    const char *profile_type, const hearth_selector *sel,
    const hearth_matcher *skip, hearth_querier_query *out, hearth_err *err)
{
	/* Split the id at ':'; exactly 5 parts, or 6 with the last ignored
	 * (model.md §1). */
	const char *parts[7];
	size_t      lens[7];
	size_t      np = 0;
	const char *s  = profile_type != NULL ? profile_type : "";
	for (;;) {
		const char *c = strchr(s, ':');
		if (np == 6) {
			np = 7;
			break;
		}
		parts[np]  = s;
		lens[np++] = c != NULL ? (size_t) (c - s) : strlen(s);
		if (c == NULL)
			break;
		s = c + 1;
	}
	if (np != 5 && np != 6)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: profile type \"%s\" must have 5 parts "
		    "name:sample_type:sample_unit:period_type:period_unit",
		    what, profile_type != NULL ? profile_type : "");
	size_t idlen      = (size_t) (parts[4] + lens[4] - parts[0]);
	out->profile_type = hearth_arena_strndup(a, parts[0], idlen);
	out->name         = hearth_arena_strndup(a, parts[0], lens[0]);
	out->sample_type  = hearth_arena_strndup(a, parts[1], lens[1]);
	out->sample_unit  = hearth_arena_strndup(a, parts[2], lens[2]);
	out->period_type  = hearth_arena_strndup(a, parts[3], lens[3]);
	out->period_unit  = hearth_arena_strndup(a, parts[4], lens[4]);
	if (out->profile_type == NULL || out->name == NULL
	    || out->sample_type == NULL || out->sample_unit == NULL
	    || out->period_type == NULL || out->period_unit == NULL)
		return hearth_err_set(
		    err, HEARTH_ELIMIT, "request memory limit reached");
	/* The profile type becomes the stored __profile_type__ label; the
	 * other matchers are copied into a fresh selector (never edited in
	 * place: a matcher owns its compiled regex). */
	hearth_selector *rpc = hearth_selector_new();
	int              rc  = rpc == NULL
	                  ? hearth_err_set(err, HEARTH_ENOMEM, "out of memory")
	                  : hearth_selector_add(rpc, HEARTH_MATCH_EQ, "__profile_type__",
	                      out->profile_type, err);
	for (size_t i = 0; rc == 0 && sel != NULL && i < sel->n; i++)
		if (&sel->matchers[i] != skip)
			rc = hearth_selector_add(rpc, sel->matchers[i].op,
			    sel->matchers[i].name, sel->matchers[i].value,
			    err);
	hearth_buf b;
	hearth_buf_init(&b);
	if (rc == 0
	    && (hearth_selector_format(rpc, &b) != 0 || hearth_buf_failed(&b)))
		rc = hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
	hearth_selector_free(rpc);
	if (rc == 0
	    && (out->selector = hearth_arena_strndup(a, b.data, b.len))
	        == NULL)
		rc = hearth_err_set(
		    err, HEARTH_ELIMIT, "request memory limit reached");
	hearth_buf_fini(&b);
	return rc;
}

/* hearth_querier_limits walks a hearth_limits as an array of int64. */
_Static_assert(sizeof(hearth_limits) % sizeof(int64_t) == 0,
    "hearth_limits holds only int64 fields");

/* The stricter of two limits where 0 means "no limit". */
static int64_t
querier_select_stricter(int64_t a, int64_t b)
{
	if (a <= 0)
		return b;
	if (b <= 0)
		return a;
	return a < b ? a : b;
}

void
hearth_querier_limits(
    hearth_querier *q, const char *tenants, hearth_limits *out)
{
	char one[HEARTH_TENANT_MAX + 1];
	int  first = 1;
	for (const char *p = tenants;; p++) {
		size_t        len = strcspn(p, "|");
		hearth_limits l;
		snprintf(one, sizeof(one), "%.*s", (int) len, p);
		if (q->deps.overrides != NULL)
			hearth_overrides_get(q->deps.overrides, one, &l);
		else
			l = *q->cfg.limits;
		if (first) {
			*out  = l;
			first = 0;
		} else {
			/* Every int64 of hearth_limits is such a limit; the
			 * default node count is the smaller one too. */
			int64_t       *o = (int64_t *) out;
			const int64_t *n = (const int64_t *) &l;
			for (size_t i = 0; i < sizeof(l) / sizeof(int64_t);
			     i++)
				o[i] = querier_select_stricter(o[i], n[i]);
		}
		p += len;
		if (*p == '\0')
			break;
	}
}

void
hearth_querier_limit_hit(
    hearth_querier *q, const char *tenants, const hearth_err *err)
{
	const char *limit = hearth_config_limit_named(err->msg);
	if (limit == NULL)
		return;
	const char *lv[] = { tenants, limit };
	hearth_metric_add(q->m_limit_rejections, lv, 1);
}

int
hearth_querier_range(hearth_querier *q, const char *tenants,
    hearth_querier_query *out, hearth_err *err)
{
	hearth_limits l;
	if (out->from_ms > out->until_ms)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "invalid time range: start (%lld ms) is after end "
		    "(%lld ms)",
		    (long long) out->from_ms, (long long) out->until_ms);
	hearth_querier_limits(q, tenants, &l);
	int64_t start = out->from_ms;
	int     rc    = hearth_limits_check_query(
	           &l, &out->from_ms, &out->until_ms, hearth_clock_unix_ms(), err);
	if (rc < 0) {
		hearth_querier_limit_hit(q, tenants, err);
		return rc;
	}
	out->empty        = rc == 1;
	out->lookback_cut = rc == 0 && out->from_ms != start;
	if (out->empty || out->lookback_cut) {
		const char *lv[] = { tenants, "max_query_lookback" };
		hearth_metric_add(q->m_truncations, lv, 1);
	}
	return 0;
}

/* Take one query slot of every tenant in tenants, or none. */
static int
querier_select_enter(hearth_querier *q, const char *tenants, hearth_err *err)
{
	char   one[HEARTH_TENANT_MAX + 1];
	size_t done = 0;
	int    rc   = 0;
	if (q->deps.admit == NULL)
		return 0;
	for (const char *p = tenants; rc == 0;) {
		size_t        len = strcspn(p, "|");
		hearth_limits l;
		int64_t       held;
		snprintf(one, sizeof(one), "%.*s", (int) len, p);
		hearth_querier_limits(q, one, &l);
		rc = hearth_admit_enter(
		    q->deps.admit, one, l.max_concurrent_queries, &held);
		if (rc != 0) {
			hearth_err_set(err, HEARTH_EBUSY,
			    "tenant \"%s\" has %lld queries running, the "
			    "limit "
			    "(max_concurrent_queries: %lld); retry when one "
			    "has finished",
			    one, (long long) held,
			    (long long) l.max_concurrent_queries);
			break;
		}
		done++;
		p += len;
		if (*p++ == '\0')
			break;
	}
	if (rc == 0)
		return 0;
	/* Give back the slots taken before the one that was full. */
	for (const char *p = tenants; done > 0; done--) {
		size_t        len = strcspn(p, "|");
		hearth_limits l;
		snprintf(one, sizeof(one), "%.*s", (int) len, p);
		hearth_querier_limits(q, one, &l);
		hearth_admit_leave(
		    q->deps.admit, one, l.max_concurrent_queries);
		p += len + 1;
	}
	return rc;
}

static void
querier_select_leave(hearth_querier *q, const char *tenants)
{
	char one[HEARTH_TENANT_MAX + 1];
	if (q->deps.admit == NULL)
		return;
	for (const char *p = tenants;;) {
		size_t        len = strcspn(p, "|");
		hearth_limits l;
		snprintf(one, sizeof(one), "%.*s", (int) len, p);
		hearth_querier_limits(q, one, &l);
		hearth_admit_leave(
		    q->deps.admit, one, l.max_concurrent_queries);
		p += len;
		if (*p++ == '\0')
			break;
	}
}

/* One tenant's fan-out. */
static int
querier_select_fanout_one(hearth_querier *q, const char *tenant,
    uint32_t method, const uint8_t *req, size_t len, hearth_arena *a,
    int64_t deadline_ms, hearth_querier_each_fn fn, void *ctx, hearth_err *err)
{
	return hearth_querier_fanout_tenant(
	    q, tenant, method, req, len, a, deadline_ms, fn, ctx, err);
}

int
hearth_querier_fanout(hearth_querier *q, const char *tenant, uint32_t method,
    const uint8_t *req, size_t len, hearth_arena *a, int64_t deadline_ms,
    hearth_querier_each_fn fn, void *ctx, hearth_err *err)
{
	hearth_limits l;
	char          one[HEARTH_TENANT_MAX + 1], lim[32];
	int           rc;
	hearth_querier_limits(q, tenant, &l);
	if (deadline_ms <= 0 && l.query_timeout_ms > 0)
		deadline_ms = hearth_clock_unix_ms() + l.query_timeout_ms;
	if ((rc = querier_select_enter(q, tenant, err)) != 0) {
		hearth_querier_limit_hit(q, tenant, err);
		return rc;
	}
	for (const char *p = tenant;;) {
		size_t n = strcspn(p, "|");
		snprintf(one, sizeof(one), "%.*s", (int) n, p);
		rc = querier_select_fanout_one(q, one, method, req, len, a,
		    deadline_ms > 0 ? deadline_ms : 0, fn, ctx, err);
		p += n;
		if (rc != 0 || *p++ == '\0')
			break;
	}
	querier_select_leave(q, tenant);
	if (rc == HEARTH_ETIMEDOUT) {
		hearth_config_duration_format(
		    l.query_timeout_ms, lim, sizeof(lim));
		/* The ingesters still silent, when the fan-out named them. */
		char who[sizeof(err->msg) / 2];
		who[0] = '\0';
		if (strncmp(err->msg, HEARTH_QUERIER_SILENT_PREFIX,
		        strlen(HEARTH_QUERIER_SILENT_PREFIX))
		    == 0)
			snprintf(who, sizeof(who), " (%.*s)",
			    (int) sizeof(who) - 4, err->msg);
		/* Named after the limit even when a Connect client's own
		 * shorter deadline was the one missed: that is rare, and the
		 * client knows it set one. */
		hearth_err_set(err, HEARTH_ETIMEDOUT,
		    "the query did not finish in time (query_timeout: %s); "
		    "query a shorter range or fewer series%s",
		    lim, who);
		hearth_querier_limit_hit(q, tenant, err);
	}
	return rc;
}

/* ---- series ----------------------------------------------------------- */

static int
querier_select_label_cmp(
    const hearth_label *a, size_t na, const hearth_label *b, size_t nb)
{
	for (size_t i = 0; i < na && i < nb; i++) {
		int c = strcmp(a[i].name, b[i].name);
		if (c == 0)
			c = strcmp(a[i].value, b[i].value);
		if (c != 0)
			return c;
	}
	return na < nb ? -1 : na > nb ? 1 : 0;
}

/* Merge n points (ts ascending) into s, summing equal timestamps. */
static int
querier_select_merge_points(hearth_arena *a, hearth_querier_series *s,
    const int64_t *ts, const int64_t *sum, const int64_t *count, size_t n)
{
	size_t   cap = s->n + n;
	int64_t *nt  = hearth_arena_alloc(a, (cap ? cap : 1) * sizeof(*nt));
	int64_t *ns  = hearth_arena_alloc(a, (cap ? cap : 1) * sizeof(*ns));
	int64_t *nc  = hearth_arena_alloc(a, (cap ? cap : 1) * sizeof(*nc));
	if (nt == NULL || ns == NULL || nc == NULL)
		return HEARTH_ELIMIT;
	size_t i = 0, j = 0, k = 0;
	while (i < s->n || j < n) {
		if (j == n || (i < s->n && s->ts[i] < ts[j])) {
			nt[k]   = s->ts[i];
			ns[k]   = s->sum[i];
			nc[k++] = s->count[i++];
		} else if (i == s->n || ts[j] < s->ts[i]) {
			nt[k]   = ts[j];
			ns[k]   = sum[j];
			nc[k++] = count[j++];
		} else {
			nt[k] = s->ts[i];
			/* saturate: hostile totals must not wrap */
			if (__builtin_add_overflow(s->sum[i], sum[j], &ns[k]))
				ns[k] = INT64_MAX;
			nc[k++] = s->count[i++] + count[j++];
		}
	}
	s->ts    = nt;
	s->sum   = ns;
	s->count = nc;
	s->n     = k;
	return 0;
}

/* The series of acc with these labels, created (in sorted position) when
 * new. labels must stay valid (arena). */
static hearth_querier_series *
querier_select_series_find(hearth_arena *a, hearth_querier_select_acc *acc,
    hearth_label *labels, size_t n)
{
	size_t lo = 0, hi = acc->n_series;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int    c   = querier_select_label_cmp(acc->series[mid].labels,
		         acc->series[mid].n_labels, labels, n);
		if (c == 0)
			return &acc->series[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (acc->n_series == acc->cap_series) {
		size_t cap = acc->cap_series ? acc->cap_series * 2 : 8;
		void  *ns  = hearth_arena_realloc(a, acc->series,
		      acc->n_series * sizeof(*acc->series),
		      cap * sizeof(*acc->series));
		if (ns == NULL)
			return NULL;
		acc->series     = ns;
		acc->cap_series = cap;
	}
	memmove(&acc->series[lo + 1], &acc->series[lo],
	    (acc->n_series - lo) * sizeof(*acc->series));
	acc->n_series++;
	hearth_querier_series *s = &acc->series[lo];
	memset(s, 0, sizeof(*s));
	s->labels   = labels;
	s->n_labels = n;
	return s;
}

static int
querier_select_add_series(hearth_arena *a, hearth_querier_select_acc *acc,
    Hearth__Ingester__Series *rs, hearth_err *err)
{
	hearth_label *ls
	    = hearth_arena_calloc(a, rs->n_labels + 1, sizeof(*ls));
	int64_t *ts = hearth_arena_alloc(a, (rs->n_points + 1) * 8);
	int64_t *sm = hearth_arena_alloc(a, (rs->n_points + 1) * 8);
	int64_t *ct = hearth_arena_alloc(a, (rs->n_points + 1) * 8);
	if (ls == NULL || ts == NULL || sm == NULL || ct == NULL)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached while merging series");
	for (size_t i = 0; i < rs->n_labels; i++) {
		ls[i].name  = rs->labels[i]->name;
		ls[i].value = rs->labels[i]->value;
	}
	size_t nl = hearth_labels_sort(ls, rs->n_labels);
	for (size_t i = 0; i < rs->n_points; i++) {
		if (i > 0
		    && rs->points[i]->timestamp_ms
		        <= rs->points[i - 1]->timestamp_ms)
			return hearth_err_set(err, HEARTH_ECORRUPT,
			    "series points from ingester are not ascending");
		ts[i] = rs->points[i]->timestamp_ms;
		sm[i] = rs->points[i]->value;
		ct[i] = rs->points[i]->count;
	}
	hearth_querier_series *s = querier_select_series_find(a, acc, ls, nl);
	if (s == NULL
	    || querier_select_merge_points(a, s, ts, sm, ct, rs->n_points)
	        != 0)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached while merging series");
	return 0;
}

/* ---- trees ------------------------------------------------------------ */

static int
querier_select_add_tree(hearth_arena *a, hearth_fgtree *tree,
    const Hearth__Ingester__Tree *t, hearth_err *err)
{
	if (t == NULL || t->n_parent == 0)
		return 0;
	if (t->n_name != t->n_parent || t->n_self != t->n_parent)
		return hearth_err_set(
		    err, HEARTH_ECORRUPT, "inconsistent tree from ingester");
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
		int         rc = hearth_fgtree_child(
		            tree, map[t->parent[i]], nm, strlen(nm), &map[i]);
		if (rc != 0)
			return hearth_err_set(
			    err, rc, "out of memory merging trees");
	}
	for (size_t i = 0; i < t->n_parent; i++)
		if (t->self[i] != 0
		    && hearth_fgtree_add_self(tree, map[i], t->self[i]) != 0)
			return hearth_err_set(
			    err, HEARTH_ENOMEM, "out of memory merging trees");
	return 0;
}

static int
querier_select_on_select(void *ctx, const uint8_t *body, size_t len,
    hearth_arena *a, hearth_err *err)
{
	hearth_querier_select_acc *acc = ctx;
	ProtobufCAllocator         alloc
	    = { hearth_arena_pb_alloc, hearth_arena_pb_free, a };
	Hearth__Ingester__SelectResponse *r
	    = hearth__ingester__select_response__unpack(&alloc, len, body);
	if (r == NULL)
		return hearth_err_set(err, HEARTH_ECORRUPT,
		    "malformed select response from ingester");
	if (acc->tree != NULL
	    && querier_select_add_tree(a, acc->tree, r->tree, err) != 0)
		return err->code;
	for (size_t i = 0; acc->want_series && i < r->n_series; i++)
		if (querier_select_add_series(a, acc, r->series[i], err) != 0)
			return err->code;
	return 0;
}

int
hearth_querier_select(hearth_querier *q, const char *tenant, hearth_arena *a,
    const hearth_querier_query *qq, int64_t deadline_ms,
    hearth_querier_select_acc *acc, hearth_err *err)
{
	if (qq->empty)
		return 0;
	Hearth__Ingester__SelectRequest sr;
	hearth__ingester__select_request__init(&sr);
	sr.selector    = qq->selector;
	sr.start_ms    = qq->from_ms;
	sr.end_ms      = qq->until_ms;
	sr.want_tree   = acc->tree != NULL;
	sr.want_series = acc->want_series;
	sr.step_ms     = acc->step_ms;
	sr.n_group_by  = acc->n_group_by;
	sr.group_by    = (char **) acc->group_by;
	sr.n_span_ids  = qq->n_span_ids;
	sr.span_ids    = qq->span_ids;
	size_t   len = hearth__ingester__select_request__get_packed_size(&sr);
	uint8_t *buf = hearth_arena_alloc(a, len ? len : 1);
	if (buf == NULL)
		return hearth_err_set(
		    err, HEARTH_ELIMIT, "request memory limit reached");
	hearth__ingester__select_request__pack(&sr, buf);
	return hearth_querier_fanout(q, tenant, HEARTH_RPC_SELECT, buf, len, a,
	    deadline_ms, querier_select_on_select, acc, err);
}

int
hearth_querier_series_group(hearth_arena *a, const hearth_querier_series *in,
    size_t n, const char *label, hearth_querier_series **out, size_t *n_out)
{
	hearth_querier_select_acc acc = { 0 };
	for (size_t i = 0; i < n; i++) {
		hearth_label *key = NULL;
		size_t        nk  = 0;
		if (label != NULL) {
			const char *v = hearth_labels_get(
			    in[i].labels, in[i].n_labels, label);
			if ((key = hearth_arena_alloc(a, sizeof(*key)))
			    == NULL)
				return HEARTH_ELIMIT;
			key->name  = label;
			key->value = v != NULL ? v : "";
			nk         = 1;
		}
		hearth_querier_series *s
		    = querier_select_series_find(a, &acc, key, nk);
		if (s == NULL
		    || querier_select_merge_points(
		           a, s, in[i].ts, in[i].sum, in[i].count, in[i].n)
		        != 0)
			return HEARTH_ELIMIT;
	}
	*out   = acc.series;
	*n_out = acc.n_series;
	return 0;
}

/* ---- label lists ------------------------------------------------------ */

typedef struct querier_select_labels {
	const char **v;
	size_t       n;
	size_t       cap;
} querier_select_labels;

static int
querier_select_cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *) x, *(const char *const *) y);
}

static int
querier_select_on_labels(void *ctx, const uint8_t *body, size_t len,
    hearth_arena *a, hearth_err *err)
{
	querier_select_labels *ql = ctx;
	ProtobufCAllocator     alloc
	    = { hearth_arena_pb_alloc, hearth_arena_pb_free, a };
	Hearth__Ingester__LabelsResponse *r
	    = hearth__ingester__labels_response__unpack(&alloc, len, body);
	if (r == NULL)
		return hearth_err_set(err, HEARTH_ECORRUPT,
		    "malformed labels response from ingester");
	if (ql->n + r->n_values > ql->cap) {
		size_t       cap = (ql->n + r->n_values) * 2;
		const char **nv  = hearth_arena_realloc(
		     a, ql->v, ql->n * sizeof(char *), cap * sizeof(char *));
		if (nv == NULL)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached");
		ql->v   = nv;
		ql->cap = cap;
	}
	for (size_t i = 0; i < r->n_values; i++)
		ql->v[ql->n++] = r->values[i];
	return 0;
}

int
hearth_querier_labels(hearth_querier *q, const char *tenant, hearth_arena *a,
    const char *selector, int64_t start_ms, int64_t end_ms, const char *name,
    int64_t deadline_ms, const char ***out, size_t *n_out, hearth_err *err)
{
	Hearth__Ingester__LabelsRequest lr;
	hearth__ingester__labels_request__init(&lr);
	lr.selector              = (char *) (selector != NULL ? selector : "");
	lr.start_ms              = start_ms;
	lr.end_ms                = end_ms;
	lr.name                  = (char *) (name != NULL ? name : "");
	querier_select_labels ql = { 0 };
	size_t   len = hearth__ingester__labels_request__get_packed_size(&lr);
	uint8_t *buf = hearth_arena_alloc(a, len ? len : 1);
	if (buf == NULL)
		return hearth_err_set(
		    err, HEARTH_ELIMIT, "request memory limit reached");
	hearth__ingester__labels_request__pack(&lr, buf);
	int rc = hearth_querier_fanout(q, tenant, HEARTH_RPC_LABELS, buf, len,
	    a, deadline_ms, querier_select_on_labels, &ql, err);
	if (rc != 0)
		return rc;
	if (ql.n > 1)
		qsort(ql.v, ql.n, sizeof(char *), querier_select_cmp_str);
	size_t k = 0;
	for (size_t i = 0; i < ql.n; i++)
		if (k == 0 || strcmp(ql.v[i], ql.v[k - 1]) != 0)
			ql.v[k++] = ql.v[i];
	*out   = ql.v;
	*n_out = k;
	return 0;
}
