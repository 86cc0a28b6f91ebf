/*
 * head_tree: flame-graph (tree) queries over the head: the samples of the
 * selected series' profiles in range, or only their span rows of some
 * spans (head_impl.h head_spans), summed per stack node and emitted as a
 * tree. Runs under the tenant's read lock; sums and map live in the
 * query's arena.
 */
#include "head_impl.h"

/* Add the nodes with a non-zero sum in sums[0..t->n_nodes) to out, keyed
 * by function name: a backward pass marks the nodes on a path to a
 * non-zero sum, a forward pass adds them parents first (head.h invariant
 * (1)); no recursion at any depth. map (t->n_nodes entries, zeroed) is
 * scratch. */
static int
head_tree_emit(const head_tenant *t, const int64_t *sums, uint32_t *map,
    hearth_fgtree *out, hearth_err *err)
{
	uint32_t nn = t->n_nodes;
	/* map[i] != 0: node i is needed (before the forward pass). */
	for (uint32_t i = nn - 1; i > 0; i--)
		if (sums[i] != 0 || map[i] != 0) {
			map[i]		       = 1;
			map[t->nodes[i].parent] = 1;
		}
	map[0] = 0; /* the tree's root */
	if (sums[0] != 0)
		hearth_fgtree_add_self(out, 0, sums[0]);
	for (uint32_t i = 1; i < nn; i++) {
		if (map[i] == 0)
			continue;
		const head_str *nm = &t->strs[t->nodes[i].name];
		uint32_t	c;
		int rc = hearth_fgtree_child(out, map[t->nodes[i].parent],
		    nm->s, nm->len, &c);
		if (rc != 0)
			return hearth_err_set(err, rc,
			    "select: the flame graph passed its node limit "
			    "(%zu nodes)",
			    hearth_fgtree_size(out));
		map[i] = c;
		if (sums[i] != 0)
			hearth_fgtree_add_self(out, c, sums[i]);
	}
	return 0;
}

/* Add the samples (or one span's rows) that it walks to sums. */
static inline void
head_tree_add(int64_t *sums, head_samples *it)
{
	uint32_t node;
	int64_t	 v;
	while (head_samples_next(it, &node, &v))
		sums[node] = head_sat_add(sums[node], v);
}

/* Sum the samples of the profiles in range per stack node (with spans,
 * only the rows of those spans), then emit. */
static int
head_tree_build(const head_tenant *t, const uint32_t *ids, size_t n_ids,
    const hearth_dedup *filter, const hearth_head_spans *spans,
    int64_t start_ms, int64_t end_ms, hearth_arena *a, hearth_fgtree *out,
    hearth_err *err)
{
	uint32_t  nn   = t->n_nodes;
	int64_t	 *sums = hearth_arena_calloc(a, nn, sizeof(*sums));
	uint32_t *map  = hearth_arena_calloc(a, nn, sizeof(*map));
	if (sums == NULL || map == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "select: the query needs more memory than its limit "
		    "allows (%u stack nodes)",
		    nn);
	for (size_t i = 0; i < n_ids; i++) {
		const head_series	  *s  = &t->series[ids[i]];
		const hearth_dedup_series *ds = NULL;
		uint32_t		   lo, hi;
		if ((spans != NULL && s->n_span_rows == 0) ||
		    (filter != NULL &&
			(ds = hearth_dedup_find(filter, s->fp)) == NULL))
			continue;
		if (ds != NULL && hearth_dedup_all(ds))
			ds = NULL; /* every profile: the unfiltered loop */
		head_profile_range(s, start_ms, end_ms, &lo, &hi);
		for (uint32_t p = lo; p < hi; p++) {
			const head_profile *pr = &s->profiles[p];
			if (!head_in_range(pr->time_ns, start_ms, end_ms) ||
			    (ds != NULL &&
				!hearth_dedup_keep(ds, head_ms(pr->time_ns),
				    pr->id)))
				continue;
			head_samples it;
			head_spans   sp;
			uint64_t     span;
			if (spans == NULL) {
				head_samples_begin(&it, s, pr);
				head_tree_add(sums, &it);
				continue;
			}
			/* Rows come grouped by span: test each group once. */
			head_spans_begin(&sp, s, pr);
			while (head_spans_group(&sp, &span, &it))
				if (hearth_head_spans_has(spans, span))
					head_tree_add(sums, &it);
		}
	}
	return head_tree_emit(t, sums, map, out, err);
}

static int
head_select_tree(hearth_head *h, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    const hearth_head_spans *spans, int64_t start_ms, int64_t end_ms,
    hearth_arena *scratch, hearth_fgtree *out, hearth_err *err)
{
	uint32_t *ids;
	size_t	  n;
	int	  rc;
	if ((rc = head_check_range(start_ms, end_ms, err)) != 0)
		return rc;
	head_tenant *t = head_tenant_find(h, tenant);
	if (t == NULL)
		return 0;
	pthread_rwlock_rdlock(&t->lock);
	rc = head_index_select(t, sel, scratch, &ids, &n, err);
	if (rc == 0 && n > 0)
		rc = head_tree_build(t, ids, n, filter, spans, start_ms, end_ms,
		    scratch, out, err);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}

int
hearth_head_select_tree(hearth_head *h, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms, hearth_arena *scratch,
    hearth_fgtree *out, hearth_err *err)
{
	return head_select_tree(h, tenant, sel, filter, NULL, start_ms, end_ms,
	    scratch, out, err);
}

int
hearth_head_select_span_tree(hearth_head *h, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    const hearth_head_spans *spans, int64_t start_ms, int64_t end_ms,
    hearth_arena *scratch, hearth_fgtree *out, hearth_err *err)
{
	HEARTH_ASSERT(spans != NULL && spans->n > 0);
	return head_select_tree(h, tenant, sel, filter, spans, start_ms, end_ms,
	    scratch, out, err);
}
