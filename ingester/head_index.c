#include "head_impl.h"
#include "timeline.h"

#include <stdlib.h>
#include <string.h>

/* ---- postings --------------------------------------------------------- */

static uint64_t
head_pkey_hash(uint32_t name, uint32_t value)
{
	return hearth_hash_u64(((uint64_t) name << 32) | value);
}

static uint64_t
head_posting_hash(const void *ctx, uint32_t id)
{
	const head_tenant *t = ctx;
	return head_pkey_hash(t->postings[id].name, t->postings[id].value);
}

static uint64_t
head_name_hash(const void *ctx, uint32_t id)
{
	const head_tenant *t = ctx;
	return hearth_hash_u64(t->names[id].name);
}

static uint32_t
head_posting_find(const head_tenant *t, uint32_t name, uint32_t value)
{
	if (t->posting_table.cap == 0)
		return UINT32_MAX;
	size_t mask = t->posting_table.cap - 1;
	size_t i    = (size_t) head_pkey_hash(name, value) & mask;
	for (uint32_t v; (v = t->posting_table.slots[i]) != 0;
	     i = (i + 1) & mask)
		if (t->postings[v - 1].name == name &&
		    t->postings[v - 1].value == value)
			return v - 1;
	return UINT32_MAX;
}

static uint32_t
head_name_find(const head_tenant *t, uint32_t name)
{
	if (t->name_table.cap == 0)
		return UINT32_MAX;
	size_t mask = t->name_table.cap - 1;
	size_t i    = (size_t) hearth_hash_u64(name) & mask;
	for (uint32_t v; (v = t->name_table.slots[i]) != 0; i = (i + 1) & mask)
		if (t->names[v - 1].name == name)
			return v - 1;
	return UINT32_MAX;
}

/* Each step allocates first and commits after; what a failure leaves
 * behind (an empty name entry or posting, spare capacity) is harmless. */
int
head_index_reserve(hearth_head *h, head_tenant *t, size_t n,
    const uint32_t *name_ids, const uint32_t *value_ids)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t nm = head_name_find(t, name_ids[i]);
		if (nm == UINT32_MAX) {
			if (HEAD_GROW(h, t, t->names, t->cap_names,
				t->n_names + 1) != 0 ||
			    head_table_reserve(h, t, &t->name_table,
				(size_t) t->n_names + 1, head_name_hash, t) != 0)
				return HEARTH_ENOMEM;
			nm	     = t->n_names++;
			t->names[nm] = (head_name) { name_ids[i], NULL, 0, 0 };
			head_table_put(&t->name_table,
			    hearth_hash_u64(name_ids[i]), nm);
		}
		uint32_t pid = head_posting_find(t, name_ids[i], value_ids[i]);
		if (pid == UINT32_MAX) {
			head_name *ne = &t->names[nm];
			if (HEAD_GROW(h, t, ne->postings, ne->cap,
				ne->n + 1) != 0 ||
			    HEAD_GROW(h, t, t->postings, t->cap_postings,
				t->n_postings + 1) != 0 ||
			    head_table_reserve(h, t, &t->posting_table,
				(size_t) t->n_postings + 1, head_posting_hash,
				t) != 0)
				return HEARTH_ENOMEM;
			pid		= t->n_postings++;
			t->postings[pid] = (head_posting) { name_ids[i],
				value_ids[i], NULL, 0, 0 };
			head_table_put(&t->posting_table,
			    head_pkey_hash(name_ids[i], value_ids[i]), pid);
			ne->postings[ne->n++] = pid;
		}
		head_posting *p = &t->postings[pid];
		if (HEAD_GROW(h, t, p->ids, p->cap, p->n + 1) != 0)
			return HEARTH_ENOMEM;
	}
	return 0;
}

void
head_index_add(head_tenant *t, uint32_t id, size_t n,
    const uint32_t *name_ids, const uint32_t *value_ids)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t pid = head_posting_find(t, name_ids[i], value_ids[i]);
		HEARTH_ASSERT(pid != UINT32_MAX);
		head_posting *p = &t->postings[pid];
		HEARTH_ASSERT(p->n < p->cap);
		HEARTH_ASSERT(p->n == 0 || p->ids[p->n - 1] < id); /* (3) */
		p->ids[p->n++] = id;
	}
}

void
head_index_free(hearth_head *h, head_tenant *t)
{
	size_t bytes = 0;
	for (uint32_t i = 0; i < t->n_postings; i++) {
		bytes += t->postings[i].cap * sizeof(uint32_t);
		free(t->postings[i].ids);
	}
	for (uint32_t i = 0; i < t->n_names; i++) {
		bytes += t->names[i].cap * sizeof(uint32_t);
		free(t->names[i].postings);
	}
	bytes += t->cap_postings * sizeof(*t->postings) +
	    t->cap_names * sizeof(*t->names);
	head_account(h, t, -(ptrdiff_t) bytes);
	free(t->postings);
	free(t->names);
	head_table_free(h, t, &t->posting_table);
	head_table_free(h, t, &t->name_table);
	t->postings = NULL;
	t->names    = NULL;
}

/* ---- time ranges ------------------------------------------------------ */

int64_t
head_ms(int64_t time_ns)
{
	int64_t ms = time_ns / 1000000;
	return time_ns % 1000000 < 0 ? ms - 1 : ms; /* floor */
}

int
head_in_range(int64_t time_ns, int64_t start_ms, int64_t end_ms)
{
	int64_t ms = head_ms(time_ns);
	return ms >= start_ms && ms <= end_ms;
}

/* First profile index in [0, n) whose ms time is >= ms (sorted series). */
static uint32_t
head_lower(const head_series *s, int64_t ms)
{
	uint32_t lo = 0, hi = s->n_profiles;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (head_ms(s->profiles[mid].time_ns) < ms)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void
head_profile_range(const head_series *s, int64_t start_ms, int64_t end_ms,
    uint32_t *lo, uint32_t *hi)
{
	*lo = *hi = 0;
	if (s->n_profiles == 0 || head_ms(s->max_ns) < start_ms ||
	    head_ms(s->min_ns) > end_ms)
		return;
	if (!s->sorted) {
		*hi = s->n_profiles;
		return;
	}
	*lo = head_lower(s, start_ms);
	*hi = end_ms == INT64_MAX ? s->n_profiles : head_lower(s, end_ms + 1);
}

static int
head_series_in_range(const head_series *s, int64_t start_ms, int64_t end_ms)
{
	uint32_t lo, hi;
	head_profile_range(s, start_ms, end_ms, &lo, &hi);
	for (uint32_t i = lo; i < hi; i++)
		if (head_in_range(s->profiles[i].time_ns, start_ms, end_ms))
			return 1;
	return 0;
}

/* ---- selection -------------------------------------------------------- */

/* Series ids carrying label name with a value matching m (m does not match
 * ""), ascending, into *out. A union over the name's postings through a
 * bitmap: O(series / 64 + hits), no sort. */
static int
head_match_ids(const head_tenant *t, const hearth_matcher *m,
    hearth_arena *a, uint32_t **out, size_t *n)
{
	*out	    = NULL;
	*n	    = 0;
	uint32_t ns = head_str_find(t, m->name, strlen(m->name));
	uint32_t nm = ns == UINT32_MAX ? UINT32_MAX : head_name_find(t, ns);
	if (nm == UINT32_MAX)
		return 0;
	if (m->op == HEARTH_MATCH_EQ) {
		uint32_t vs = head_str_find(t, m->value, strlen(m->value));
		uint32_t p  = vs == UINT32_MAX ? UINT32_MAX
					       : head_posting_find(t, ns, vs);
		if (p != UINT32_MAX) {
			*out = t->postings[p].ids; /* read-only use */
			*n   = t->postings[p].n;
		}
		return 0;
	}
	const head_name *ne    = &t->names[nm];
	size_t		 words = ((size_t) t->n_series + 63) / 64, total = 0;
	uint64_t	*bits  = hearth_arena_calloc(a, words, sizeof(*bits));
	if (bits == NULL)
		return HEARTH_ENOMEM;
	for (uint32_t i = 0; i < ne->n; i++) {
		const head_posting *p = &t->postings[ne->postings[i]];
		const head_str	   *v = &t->strs[p->value];
		if (p->n == 0 || !hearth_matcher_match(m, v->s, v->len))
			continue;
		for (uint32_t k = 0; k < p->n; k++)
			bits[p->ids[k] / 64] |= (uint64_t) 1 << (p->ids[k] % 64);
		total += p->n;
	}
	if (total == 0)
		return 0;
	uint32_t *ids = hearth_arena_alloc(a, total * sizeof(*ids));
	if (ids == NULL)
		return HEARTH_ENOMEM;
	for (size_t w = 0; w < words; w++)
		for (uint64_t b = bits[w]; b != 0; b &= b - 1)
			ids[(*n)++] = (uint32_t) (w * 64 +
			    (size_t) __builtin_ctzll(b));
	*out = ids;
	return 0;
}

static size_t
head_intersect(uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
	size_t i = 0, j = 0, k = 0;
	while (i < na && j < nb) {
		if (a[i] < b[j])
			i++;
		else if (a[i] > b[j])
			j++;
		else {
			a[k++] = a[i++];
			j++;
		}
	}
	return k;
}

int
head_index_select(const head_tenant *t, const hearth_selector *sel,
    hearth_arena *a, uint32_t **ids, size_t *n, hearth_err *err)
{
	uint32_t *cand = NULL;
	size_t	  nc = 0, nm = sel != NULL ? sel->n : 0, n_empty = 0;
	int	  have = 0;
	*ids	       = NULL;
	*n	       = 0;
	/* Which matchers accept a missing label: evaluated once, not per
	 * series (it may run a regex). */
	uint8_t *empty = hearth_arena_alloc(a, nm + 1);
	if (empty == NULL)
		goto nomem;
	/* Matchers that need the label present narrow through postings. */
	for (size_t i = 0; i < nm; i++) {
		const hearth_matcher *m = &sel->matchers[i];
		uint32_t	     *l;
		size_t		      nl;
		if ((empty[i] = (uint8_t) hearth_matcher_matches_empty(m))) {
			n_empty++;
			continue;
		}
		if (head_match_ids(t, m, a, &l, &nl) != 0)
			goto nomem;
		if (!have) {
			cand = hearth_arena_alloc(a, (nl + 1) * sizeof(*cand));
			if (cand == NULL)
				goto nomem;
			if (nl > 0)
				memcpy(cand, l, nl * sizeof(*cand));
			nc   = nl;
			have = 1;
		} else
			nc = head_intersect(cand, nc, l, nl);
		if (nc == 0)
			return 0;
	}
	if (!have) {
		cand = hearth_arena_alloc(a, ((size_t) t->n_series + 1) *
			sizeof(*cand));
		if (cand == NULL)
			goto nomem;
		for (uint32_t k = 0; k < t->n_series; k++)
			cand[k] = k;
		nc = t->n_series;
	}
	/* Matchers that accept a missing label check each candidate. */
	size_t k = 0;
	for (size_t c = 0; c < nc; c++) {
		const head_series *s  = &t->series[cand[c]];
		int		   ok = 1;
		for (size_t i = 0; ok && n_empty > 0 && i < nm; i++) {
			const hearth_matcher *m = &sel->matchers[i];
			if (!empty[i])
				continue;
			const char *v =
			    hearth_labels_get(s->labels, s->n_labels, m->name);
			ok = hearth_matcher_match(m, v ? v : "",
			    v ? strlen(v) : 0);
		}
		if (ok)
			cand[k++] = cand[c];
	}
	*ids = cand;
	*n   = k;
	return 0;
nomem:
	return hearth_err_set(err, HEARTH_ENOMEM,
	    "select: the query needs more memory than its limit allows "
	    "(%u series in the head)",
	    t->n_series);
}

/* ---- queries ---------------------------------------------------------- */

int
head_check_range(int64_t start_ms, int64_t end_ms, hearth_err *err)
{
	if (start_ms > end_ms)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "select: start %lld is after end %lld",
		    (long long) start_ms, (long long) end_ms);
	return 0;
}

typedef struct head_groups {
	size_t	      ng;     /* group-by names */
	const char  **names;  /* sorted, unique */
	const char  **vals;   /* n * ng values of the groups, NULL = absent */
	uint32_t     *slots;  /* group + 1 */
	size_t	      cap, n;
} head_groups;

static uint64_t
head_group_hash(const char *const *vals, size_t ng)
{
	/* Values are interned, so equal strings are equal pointers. */
	uint64_t hv = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < ng; i++)
		hv = hearth_hash_u64(hv ^ (uint64_t) (uintptr_t) vals[i]);
	return hv;
}

static int
head_group_get(head_groups *g, const char *const *vals, uint32_t *out)
{
	size_t mask = g->cap - 1;
	size_t i    = (size_t) head_group_hash(vals, g->ng) & mask;
	for (uint32_t v; (v = g->slots[i]) != 0; i = (i + 1) & mask)
		if (memcmp(&g->vals[(v - 1) * g->ng], vals,
			g->ng * sizeof(*vals)) == 0) {
			*out = v - 1;
			return 0;
		}
	memcpy(&g->vals[g->n * g->ng], vals, g->ng * sizeof(*vals));
	g->slots[i] = (uint32_t) g->n + 1;
	*out	    = (uint32_t) g->n++;
	return 0;
}

/* Scan under the read lock: one point per profile in range, groups keyed
 * by interned value pointers (copied to the arena before unlocking). */
static int
head_series_scan(const head_tenant *t, const uint32_t *ids, size_t n_ids,
    const hearth_dedup *filter, int64_t start_ms, int64_t end_ms,
    int64_t step_ms, head_groups *g, hearth_arena *a, hearth_head_series_pt **pts,
    size_t *n_pts)
{
	size_t total = 0, k = 0;
	for (size_t i = 0; i < n_ids; i++) {
		uint32_t lo, hi;
		head_profile_range(&t->series[ids[i]], start_ms, end_ms, &lo,
		    &hi);
		total += hi - lo;
	}
	g->cap	 = 16;
	while (g->cap < n_ids * 2)
		g->cap *= 2;
	g->slots = hearth_arena_calloc(a, g->cap, sizeof(*g->slots));
	g->vals	 = hearth_arena_alloc(a, (n_ids + 1) * (g->ng + 1) *
		 sizeof(*g->vals));
	const char **key = hearth_arena_alloc(a, (g->ng + 1) * sizeof(*key));
	*pts		 = hearth_arena_alloc(a, (total + 1) * sizeof(**pts));
	if (g->slots == NULL || g->vals == NULL || key == NULL || *pts == NULL)
		return HEARTH_ENOMEM;
	for (size_t i = 0; i < n_ids; i++) {
		const head_series	  *s  = &t->series[ids[i]];
		const hearth_dedup_series *ds = NULL;
		uint32_t		   lo, hi, grp;
		if (filter != NULL &&
		    (ds = hearth_dedup_find(filter, s->fp)) == NULL)
			continue;
		if (ds != NULL && hearth_dedup_all(ds))
			ds = NULL;
		head_profile_range(s, start_ms, end_ms, &lo, &hi);
		if (lo == hi)
			continue;
		for (size_t j = 0; j < g->ng; j++)
			key[j] = hearth_labels_get(s->labels, s->n_labels,
			    g->names[j]);
		head_group_get(g, key, &grp);
		for (uint32_t p = lo; p < hi; p++) {
			const head_profile *pr = &s->profiles[p];
			if (!head_in_range(pr->time_ns, start_ms, end_ms) ||
			    (ds != NULL &&
				!hearth_dedup_keep(ds, head_ms(pr->time_ns),
				    pr->id)))
				continue;
			(*pts)[k++] = (hearth_head_series_pt) { grp,
				hearth_timeline_bucket(start_ms, step_ms,
				    head_ms(pr->time_ns)),
				pr->total, 1 };
		}
	}
	*n_pts = k;
	/* Group values point into the head: copy before the lock goes. */
	for (size_t i = 0; i < g->n * g->ng; i++)
		if (g->vals[i] != NULL &&
		    (g->vals[i] = hearth_arena_strdup(a, g->vals[i])) == NULL)
			return HEARTH_ENOMEM;
	return 0;
}

int
hearth_head_select_series(hearth_head *h, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms,
    int64_t step_ms, const char *const *group_by, size_t n_group_by,
    hearth_arena *arena, hearth_head_series **out, size_t *n_out,
    hearth_err *err)
{
	head_groups g;
	hearth_head_series_pt *pts;
	uint32_t   *ids;
	size_t	    n, n_pts;
	int	    rc;
	*out   = NULL;
	*n_out = 0;
	if ((rc = head_check_range(start_ms, end_ms, err)) != 0)
		return rc;
	if (step_ms <= 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "select: step must be > 0, got %lld ms",
		    (long long) step_ms);
	memset(&g, 0, sizeof(g));
	if (hearth_head_group_names(group_by, n_group_by, arena, &g.names,
		&g.ng) != 0)
		goto nomem;
	head_tenant *t = head_tenant_find(h, tenant);
	if (t == NULL)
		return 0;
	pthread_rwlock_rdlock(&t->lock);
	int scan_rc = 0;
	rc = head_index_select(t, sel, arena, &ids, &n, err);
	if (rc == 0 && n > 0)
		scan_rc = head_series_scan(t, ids, n, filter, start_ms,
		    end_ms, step_ms, &g, arena, &pts, &n_pts);
	pthread_rwlock_unlock(&t->lock);
	if (scan_rc != 0)
		goto nomem;
	if (rc != 0 || n == 0)
		return rc;
	if (hearth_head_series_emit(g.names, g.ng, g.vals, g.n, pts, n_pts,
		arena, out, n_out) != 0)
		goto nomem;
	return 0;
nomem:
	return hearth_err_set(err, HEARTH_ENOMEM,
	    "select: the series query needs more memory than its limit "
	    "allows");
}

static int
head_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A set of interned string pointers (arena). */
typedef struct head_ptrset {
	const char **slots;
	size_t	     cap, n;
} head_ptrset;

static int
head_ptrset_add(head_ptrset *ps, hearth_arena *a, const char *s)
{
	if ((ps->n + 1) * 2 > ps->cap) {
		size_t	     nc = ps->cap ? ps->cap * 2 : 64;
		const char **ns = hearth_arena_calloc(a, nc, sizeof(*ns));
		if (ns == NULL)
			return HEARTH_ENOMEM;
		for (size_t i = 0; i < ps->cap; i++) {
			if (ps->slots[i] == NULL)
				continue;
			size_t j = (size_t) hearth_hash_u64(
				       (uintptr_t) ps->slots[i]) & (nc - 1);
			while (ns[j] != NULL)
				j = (j + 1) & (nc - 1);
			ns[j] = ps->slots[i];
		}
		ps->slots = ns;
		ps->cap	  = nc;
	}
	size_t i = (size_t) hearth_hash_u64((uintptr_t) s) & (ps->cap - 1);
	for (; ps->slots[i] != NULL; i = (i + 1) & (ps->cap - 1))
		if (ps->slots[i] == s)
			return 0;
	ps->slots[i] = s;
	ps->n++;
	return 0;
}

int
hearth_head_labels(hearth_head *h, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    const char *name, hearth_arena *arena, const char ***out, size_t *n_out,
    hearth_err *err)
{
	head_ptrset ps = { NULL, 0, 0 };
	uint32_t   *ids;
	size_t	    n;
	int	    rc;
	*out   = NULL;
	*n_out = 0;
	if ((rc = head_check_range(start_ms, end_ms, err)) != 0)
		return rc;
	head_tenant *t = head_tenant_find(h, tenant);
	if (t == NULL)
		return 0;
	int   want_names = name == NULL || name[0] == '\0';
	char **res	 = NULL;
	pthread_rwlock_rdlock(&t->lock);
	if ((rc = head_index_select(t, sel, arena, &ids, &n, err)) != 0) {
		pthread_rwlock_unlock(&t->lock);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const head_series *s = &t->series[ids[i]];
		if (!head_series_in_range(s, start_ms, end_ms))
			continue;
		if (!want_names) {
			const char *v =
			    hearth_labels_get(s->labels, s->n_labels, name);
			if (v != NULL)
				rc = head_ptrset_add(&ps, arena, v);
			continue;
		}
		for (uint32_t l = 0; rc == 0 && l < s->n_labels; l++)
			rc = head_ptrset_add(&ps, arena, s->labels[l].name);
	}
	if (rc == 0 && ps.n > 0 &&
	    (res = hearth_arena_alloc(arena, ps.n * sizeof(*res))) == NULL)
		rc = HEARTH_ENOMEM;
	for (size_t i = 0, k = 0; rc == 0 && i < ps.cap; i++)
		if (ps.slots[i] != NULL &&
		    (res[k++] = hearth_arena_strdup(arena, ps.slots[i])) ==
			NULL)
			rc = HEARTH_ENOMEM;
	pthread_rwlock_unlock(&t->lock);
	if (rc != 0)
		return hearth_err_set(err, rc,
		    "labels: the query needs more memory than its limit "
		    "allows");
	if (ps.n > 1)
		qsort(res, ps.n, sizeof(*res), head_cmp_str);
	*out   = (const char **) res;
	*n_out = ps.n;
	return 0;
}
