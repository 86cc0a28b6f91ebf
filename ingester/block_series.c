/*
 * block_series: series and label queries over a tenant's blocks (block.h).
 * Both need only block headers (profile times and totals are there), so
 * they never read samples. Same snapshot-and-retry scheme as block_read.c.
 */
#include "block_impl.h"
#include "timeline.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- series ------------------------------------------------------------- */

/* Output groups keyed by the contents of their group-by values (blocks do
 * not share strings). */
typedef struct read_groups {
	size_t	      ng;
	const char  **names; /* sorted, unique */
	const char  **vals;  /* n * ng, arena copies, NULL = absent */
	uint64_t     *hashes;
	uint32_t     *slots; /* group + 1 */
	size_t	      cap, n, cap_vals;
} read_groups;

static uint64_t
read_group_hash(const char *const *vals, size_t ng)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL;
	for (size_t i = 0; i < ng; i++) {
		/* An absent label and "" must differ. */
		uint64_t v = vals[i] == NULL ? 0x5bd1e995ULL
					     : XXH3_64bits(vals[i],
						   strlen(vals[i]));
		h = XXH3_64bits_withSeed(&v, sizeof(v), h);
	}
	return h;
}

static int
read_group_eq(const char *const *a, const char *const *b, size_t ng)
{
	for (size_t i = 0; i < ng; i++) {
		if ((a[i] == NULL) != (b[i] == NULL))
			return 0;
		if (a[i] != NULL && strcmp(a[i], b[i]) != 0)
			return 0;
	}
	return 1;
}

static int
read_group_get(read_groups *g, hearth_arena *a, const char *const *vals,
    uint32_t *out)
{
	if ((g->n + 1) * 2 > g->cap) {
		size_t	  nc = g->cap ? g->cap * 2 : 64;
		uint32_t *ns = hearth_arena_calloc(a, nc, sizeof(*ns));
		if (ns == NULL)
			return HEARTH_ENOMEM;
		for (size_t i = 0; i < g->n; i++) {
			size_t j = (size_t) g->hashes[i] & (nc - 1);
			while (ns[j] != 0)
				j = (j + 1) & (nc - 1);
			ns[j] = (uint32_t) i + 1;
		}
		g->slots = ns;
		g->cap	 = nc;
	}
	uint64_t hv = read_group_hash(vals, g->ng);
	size_t	 i  = (size_t) hv & (g->cap - 1);
	for (uint32_t v; (v = g->slots[i]) != 0; i = (i + 1) & (g->cap - 1))
		if (g->hashes[v - 1] == hv &&
		    read_group_eq(&g->vals[(v - 1) * g->ng], vals, g->ng)) {
			*out = v - 1;
			return 0;
		}
	if (g->n + 1 > g->cap_vals) {
		size_t	     nc = g->cap_vals ? g->cap_vals * 2 : 32;
		const char **nv = hearth_arena_alloc(a,
		    nc * (g->ng + 1) * sizeof(*nv));
		uint64_t    *nh = hearth_arena_alloc(a, nc * sizeof(*nh));
		if (nv == NULL || nh == NULL)
			return HEARTH_ENOMEM;
		if (g->n > 0) {
			memcpy(nv, g->vals, g->n * g->ng * sizeof(*nv));
			memcpy(nh, g->hashes, g->n * sizeof(*nh));
		}
		g->vals	    = nv;
		g->hashes   = nh;
		g->cap_vals = nc;
	}
	for (size_t j = 0; j < g->ng; j++) {
		const char *v = vals[j];
		if (v != NULL && (v = hearth_arena_strdup(a, v)) == NULL)
			return HEARTH_ENOMEM;
		g->vals[g->n * g->ng + j] = v;
	}
	g->hashes[g->n] = hv;
	g->slots[i]	= (uint32_t) g->n + 1;
	*out		= (uint32_t) g->n++;
	return 0;
}

typedef struct read_pts {
	hearth_head_series_pt *v;
	size_t	 n, cap;
} read_pts;

/* With a filter that gives series s partial windows, the ids of the
 * profiles [lo, hi) of those windows (the header has no ids): *ids is
 * 16 bytes a profile of [lo, hi) in c->blk, meaningful only for profiles
 * of partial windows; NULL when there is none. */
static int
read_series_ids(block_rctx *c, block *b, const block_hdr *h, uint32_t s,
    const hearth_dedup_series *ds, uint32_t lo, uint32_t hi, uint8_t **ids,
    hearth_err *err)
{
	const block_hseries *hs = &h->series[s];
	*ids			= NULL;
	for (uint32_t k = hs->first_win; k < hs->first_win + hs->n_win; k++) {
		uint32_t a = h->win_first[k];
		uint32_t z = k + 1 < hs->first_win + hs->n_win
		    ? h->win_first[k + 1]
		    : hs->n_profiles;
		a	   = a > lo ? a : lo;
		z	   = z < hi ? z : hi;
		if (a >= z ||
		    hearth_dedup_window(ds, h->win_start[k]) !=
			HEARTH_DEDUP_PARTIAL)
			continue;
		if (*ids == NULL &&
		    (*ids = hearth_arena_alloc(c->blk,
			 (size_t) (hi - lo) * 16)) == NULL)
			return hearth_err_set(err, HEARTH_ENOMEM,
			    "select: out of memory");
		int rc = block_read_ids(c, b, h, s, a, z,
		    *ids + (size_t) (a - lo) * 16, err);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
read_series_block(block_rctx *c, block *b, const hearth_selector *sel,
    const hearth_dedup *filter, int64_t start_ms, int64_t end_ms,
    int64_t step_ms, read_groups *g, hearth_arena *arena, read_pts *pts,
    hearth_err *err)
{
	block_hdr   *h;
	uint32_t    *ids;
	size_t	     n;
	const char **key = NULL;
	int	     rc	 = block_read_hdr(c, b, &h, err);
	if (rc != 0)
		return rc;
	if ((rc = block_hdr_select(h, sel, c->blk, &ids, &n, err)) != 0)
		goto done;
	if ((key = hearth_arena_alloc(c->blk, (g->ng + 1) * sizeof(*key))) ==
	    NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const block_hseries	  *hs = &h->series[ids[i]];
		const hearth_dedup_series *ds = NULL;
		uint8_t			  *pids = NULL;
		uint32_t		   lo, hi, grp;
		if (hs->n_profiles == 0 ||
		    (filter != NULL &&
			(ds = hearth_dedup_find(filter, hs->fp)) == NULL))
			continue;
		if (ds != NULL && hearth_dedup_all(ds))
			ds = NULL;
		int64_t smax = block_ms(h->times[hs->first + hs->n_profiles - 1]);
		block_hdr_range(h, ids[i], start_ms,
		    (end_ms < smax ? end_ms : smax) + 1, &lo, &hi);
		if (lo >= hi)
			continue;
		if (ds != NULL &&
		    (rc = read_series_ids(c, b, h, ids[i], ds, lo, hi, &pids,
			 err)) != 0)
			goto done;
		for (size_t j = 0; j < g->ng; j++)
			key[j] = hearth_labels_get(hs->labels, hs->n_labels,
			    g->names[j]);
		if (read_group_get(g, arena, key, &grp) != 0)
			goto nomem;
		for (uint32_t p = lo; p < hi; p++) {
			if (ds != NULL &&
			    !hearth_dedup_keep(ds,
				block_ms(h->times[hs->first + p]),
				pids != NULL ? pids + (size_t) (p - lo) * 16
					     : NULL))
				continue;
			int64_t ts = hearth_timeline_bucket(start_ms, step_ms,
			    block_ms(h->times[hs->first + p]));
			int64_t v  = h->totals[hs->first + p];
			/* Profiles are sorted: runs share a bucket. */
			if (pts->n > 0 && pts->v[pts->n - 1].group == grp &&
			    pts->v[pts->n - 1].ts == ts) {
				hearth_head_series_pt *last = &pts->v[pts->n - 1];
				last->value   = block_sat_add(last->value, v);
				last->count++;
				continue;
			}
			if (BLOCK_GROW(pts->v, pts->cap, pts->n + 1) != 0)
				goto nomem;
			pts->v[pts->n++] = (hearth_head_series_pt) { grp, ts, v, 1 };
		}
	}
	goto done;
nomem:
	rc = hearth_err_set(err, HEARTH_ENOMEM,
	    "select: the series query needs more memory than its limit "
	    "allows");
done:
	block_hdr_put(h);
	return rc;
}

int
hearth_blocks_select_series(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms,
    int64_t step_ms, const char *const *group_by, size_t n_group_by,
    hearth_arena *arena, hearth_head_series **out, size_t *n_out,
    hearth_err *err)
{
	int rc;
	if ((rc = block_read_check_range(start_ms, end_ms, err)) != 0)
		return rc;
	if (step_ms <= 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "select: step must be > 0, got %lld ms",
		    (long long) step_ms);
	for (int attempt = 0; attempt < BLOCK_MAX_ATTEMPTS; attempt++) {
		block_rctx    c;
		read_groups g;
		read_pts    pts = { NULL, 0, 0 };
		memset(&g, 0, sizeof(g));
		if ((rc = block_read_begin(&c, bs, tenant, err)) == 0 &&
		    hearth_head_group_names(group_by, n_group_by, arena,
			&g.names, &g.ng) != 0)
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "select: out of memory");
		if (rc != 0) {
			block_read_end(&c);
			return rc;
		}
		c.l		       = block_list_get(bs);
		const block_tenant *bt = block_list_tenant(c.l, tenant);
		for (size_t i = 0; rc == 0 && bt != NULL && i < bt->n; i++)
			if (block_read_overlaps(bt->blocks[i], start_ms, end_ms))
				rc = read_series_block(&c, bt->blocks[i], sel,
				    filter, start_ms, end_ms, step_ms, &g, arena,
				    &pts, err);
		block_read_end(&c);
		if (rc == 0 && pts.n > 0) {
			hearth_head_series *mine;
			size_t		    n_mine;
			if (hearth_head_series_emit(g.names, g.ng, g.vals, g.n,
				pts.v, pts.n, arena, &mine, &n_mine) != 0 ||
			    hearth_head_series_merge(out, n_out, mine, n_mine,
				arena) != 0)
				rc = hearth_err_set(err, HEARTH_ENOMEM,
				    "select: the series query needs more "
				    "memory than its limit allows");
		}
		free(pts.v);
		if (rc != BLOCK_RETRY)
			return rc;
	}
	return hearth_err_set(err, HEARTH_EUNAVAIL,
	    "select: blocks kept changing during the query; retry it");
}

/* ---- labels ------------------------------------------------------------- */

static int
read_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* A set of strings by content (arena). */
typedef struct read_strset {
	const char **slots;
	size_t	     cap, n;
} read_strset;

static int
read_strset_add(read_strset *ss, hearth_arena *a, const char *s)
{
	if ((ss->n + 1) * 2 > ss->cap) {
		size_t	     nc = ss->cap ? ss->cap * 2 : 64;
		const char **ns = hearth_arena_calloc(a, nc, sizeof(*ns));
		if (ns == NULL)
			return HEARTH_ENOMEM;
		for (size_t i = 0; i < ss->cap; i++) {
			if (ss->slots[i] == NULL)
				continue;
			size_t j = (size_t) XXH3_64bits(ss->slots[i],
				       strlen(ss->slots[i])) & (nc - 1);
			while (ns[j] != NULL)
				j = (j + 1) & (nc - 1);
			ns[j] = ss->slots[i];
		}
		ss->slots = ns;
		ss->cap	  = nc;
	}
	size_t len = strlen(s);
	size_t i   = (size_t) XXH3_64bits(s, len) & (ss->cap - 1);
	for (; ss->slots[i] != NULL; i = (i + 1) & (ss->cap - 1))
		if (strcmp(ss->slots[i], s) == 0)
			return 0;
	if ((ss->slots[i] = hearth_arena_strndup(a, s, len)) == NULL)
		return HEARTH_ENOMEM;
	ss->n++;
	return 0;
}

static int
read_labels_block(block_rctx *c, block *b, const hearth_selector *sel,
    int64_t start_ms, int64_t end_ms, const char *name, hearth_arena *arena,
    read_strset *set, hearth_err *err)
{
	block_hdr *h;
	uint32_t  *ids;
	size_t	   n;
	int	   want_names = name == NULL || name[0] == '\0';
	int	   rc	      = block_read_hdr(c, b, &h, err);
	if (rc != 0)
		return rc;
	if ((rc = block_hdr_select(h, sel, c->blk, &ids, &n, err)) != 0)
		goto done;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const block_hseries *hs = &h->series[ids[i]];
		uint32_t	     lo, hi;
		if (hs->n_profiles == 0)
			continue;
		int64_t smax = block_ms(h->times[hs->first + hs->n_profiles - 1]);
		block_hdr_range(h, ids[i], start_ms,
		    (end_ms < smax ? end_ms : smax) + 1, &lo, &hi);
		if (lo >= hi)
			continue;
		if (!want_names) {
			const char *v = hearth_labels_get(hs->labels,
			    hs->n_labels, name);
			if (v != NULL)
				rc = read_strset_add(set, arena, v);
			continue;
		}
		for (uint32_t l = 0; rc == 0 && l < hs->n_labels; l++)
			rc = read_strset_add(set, arena, hs->labels[l].name);
	}
	if (rc != 0)
		rc = hearth_err_set(err, rc,
		    "labels: the query needs more memory than its limit "
		    "allows");
done:
	block_hdr_put(h);
	return rc;
}

int
hearth_blocks_labels(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    const char *name, hearth_arena *arena, const char ***out, size_t *n_out,
    hearth_err *err)
{
	int rc;
	if ((rc = block_read_check_range(start_ms, end_ms, err)) != 0)
		return rc;
	for (int attempt = 0; attempt < BLOCK_MAX_ATTEMPTS; attempt++) {
		block_rctx    c;
		read_strset set = { NULL, 0, 0 };
		if ((rc = block_read_begin(&c, bs, tenant, err)) != 0) {
			block_read_end(&c);
			return rc;
		}
		c.l		       = block_list_get(bs);
		const block_tenant *bt = block_list_tenant(c.l, tenant);
		for (size_t i = 0; rc == 0 && bt != NULL && i < bt->n; i++)
			if (block_read_overlaps(bt->blocks[i], start_ms, end_ms))
				rc = read_labels_block(&c, bt->blocks[i], sel,
				    start_ms, end_ms, name, arena, &set, err);
		block_read_end(&c);
		if (rc == 0 && set.n > 0) {
			const char **res = hearth_arena_alloc(arena,
			    set.n * sizeof(*res));
			if (res == NULL)
				rc = HEARTH_ENOMEM;
			for (size_t i = 0, k = 0; rc == 0 && i < set.cap; i++)
				if (set.slots[i] != NULL)
					res[k++] = set.slots[i];
			if (rc == 0) {
				qsort(res, set.n, sizeof(*res), read_cmp_str);
				rc = hearth_head_labels_merge(out, n_out, res,
				    set.n, arena);
			}
			if (rc != 0)
				rc = hearth_err_set(err, rc,
				    "labels: the query needs more memory than "
				    "its limit allows");
		}
		if (rc != BLOCK_RETRY)
			return rc;
	}
	return hearth_err_set(err, HEARTH_EUNAVAIL,
	    "labels: blocks kept changing during the query; retry it");
}
