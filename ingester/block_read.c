/*
 * block_read: the query context shared by every query over blocks, and
 * tree queries (block.h). Each query works on one list snapshot and
 * accumulates privately; only a complete answer is merged into the
 * caller's output, so that a retry (a block deleted under the query,
 * block.h) starts from a clean slate. A tree query over a block with
 * rollups reads whole hours from the hour rollup, whole minutes from the
 * minute-rollup chunks and only the partial minutes at the edges from the
 * sample chunks; a span-filtered tree query takes the same path over the
 * span rows of every profile in range instead (block_span.c).
 */
#include "block_impl.h"

#include <stdlib.h>
#include <string.h>

int
block_read_begin(block_rctx *c, hearth_blocks *bs, const char *tenant,
    hearth_err *err)
{
	memset(c, 0, sizeof(*c));
	c->bs	= bs;
	c->tmp	= hearth_arena_new(0);
	c->blk	= hearth_arena_new(0);
	c->dctx = ZSTD_createDCtx();
	c->key	= malloc(strlen(tenant) + BLOCK_KEY_EXTRA);
	if (c->tmp == NULL || c->blk == NULL || c->dctx == NULL ||
	    c->key == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "select: out of memory");
	return 0;
}

void
block_read_end(block_rctx *c)
{
	block_list_put(c->l);
	hearth_arena_free(c->tmp);
	hearth_arena_free(c->blk);
	ZSTD_freeDCtx(c->dctx);
	free(c->key);
	free(c->sums);
	free(c->map);
	free(c->ids);
	memset(c, 0, sizeof(*c));
}

/* A missing key: the block was deleted after our snapshot (retry) or the
 * store is inconsistent. */
int
block_read_missing(block_rctx *c, const block *b, const char *what, hearth_err *err)
{
	if (block_list_moved(c->bs, c->l))
		return BLOCK_RETRY;
	return hearth_err_set(err, HEARTH_ECORRUPT,
	    "block %s/%llu: %s missing", b->tenant, (unsigned long long) b->id,
	    what);
}

/* The block's header; also starts the block's scratch. */
int
block_read_hdr(block_rctx *c, block *b, block_hdr **h, hearth_err *err)
{
	hearth_arena_reset(c->blk);
	int rc = block_hdr_get(c->bs, b, 1, h, err);
	return rc == HEARTH_ENOTFOUND ? block_read_missing(c, b, "header", err) : rc;
}

int
block_read_value(block_rctx *c, block *b, int kind, uint32_t s,
    uint32_t chunk, uint8_t **v, size_t *vl, hearth_err *err)
{
	size_t kl = block_key(c->key, b->tenant, b->id, kind, s, chunk);
	int    rc = hearth_kv_get(c->bs->kv, HEARTH_KV_BLOCKS, c->key, kl,
	       c->tmp, v, vl, err);
	if (rc == HEARTH_ENOTFOUND)
		return block_read_missing(c, b, kind == BLOCK_KEY_SAMPLES ? "samples"
					  : kind == BLOCK_KEY_SPANS ? "span rows"
					  : kind == BLOCK_KEY_MINUTES
					      ? "minute rollup"
					      : "hour rollup",
		    err);
	if (rc == HEARTH_ENOMEM)
		return hearth_err_set(err, rc, "select: out of memory");
	return rc;
}

int
block_read_corrupt(const block *b, uint32_t s, int rc, hearth_err *err)
{
	if (rc == HEARTH_ECORRUPT)
		hearth_err_prefix(err, "block %s/%llu series %u", b->tenant,
		    (unsigned long long) b->id, s);
	return rc;
}

int
block_read_check_range(int64_t start_ms, int64_t end_ms, hearth_err *err)
{
	if (start_ms > end_ms)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "select: start %lld is after end %lld",
		    (long long) start_ms, (long long) end_ms);
	return 0;
}

int
block_read_overlaps(const block *b, int64_t start_ms, int64_t end_ms)
{
	return block_ms(b->max_ns) >= start_ms && block_ms(b->min_ns) <= end_ms;
}

int
block_read_ids(block_rctx *c, block *b, const block_hdr *h, uint32_t s,
    uint32_t lo, uint32_t hi, uint8_t *out, hearth_err *err)
{
	for (uint32_t q = lo; q < hi;) {
		uint32_t    chunk, a, z;
		uint8_t	   *v;
		size_t	    vl;
		block_sdata sd;
		block_hdr_chunk(h, s, q, &chunk, &a, &z);
		hearth_arena_reset(c->tmp);
		int rc = block_read_value(c, b, BLOCK_KEY_SAMPLES, s, chunk, &v, &vl,
		    err);
		if (rc == 0)
			rc = block_dec_samples(h, s, a, z, v, vl, c->tmp,
			    c->dctx, &sd, err);
		if (rc != 0)
			return block_read_corrupt(b, s, rc, err);
		for (uint32_t end = hi < z ? hi : z; q < end; q++) {
			uint8_t *dst = out + (size_t) (q - lo) * 16;
			if (sd.ids != NULL)
				memcpy(dst, sd.ids + (size_t) (q - a) * 16, 16);
			else
				memset(dst, 0, 16);
		}
	}
	hearth_arena_reset(c->tmp);
	return 0;
}

/* ---- tree --------------------------------------------------------------- */

typedef struct read_span {
	int64_t a, b; /* [a, b) in ms */
} read_span;

/* Where a series' [start, end] comes from: whole hours from the hour
 * rollup, whole minutes from the minute rollup, the rest from samples. */
typedef struct read_plan {
	read_span raw[4], min[2], hour;
	int	  n_raw, n_min, has_hour;
} read_plan;

static int64_t
read_down(int64_t x, int64_t w)
{
	return block_floor_div(x, w) * w;
}

static int64_t
read_up(int64_t x, int64_t w)
{
	return -block_floor_div(-x, w) * w;
}

static void
read_plan_part(read_plan *p, int64_t x, int64_t y)
{
	if (x >= y)
		return;
	int64_t m0 = read_up(x, BLOCK_MINUTE_MS), m1 = read_down(y, BLOCK_MINUTE_MS);
	if (m0 >= m1) {
		p->raw[p->n_raw++] = (read_span) { x, y };
		return;
	}
	p->min[p->n_min++] = (read_span) { m0, m1 };
	if (x < m0)
		p->raw[p->n_raw++] = (read_span) { x, m0 };
	if (m1 < y)
		p->raw[p->n_raw++] = (read_span) { m1, y };
}

/* smin/smax: the series' first and last ms. The range is clamped to the
 * hours around the data first, which keeps every bound far from int64
 * overflow and loses no whole bucket that holds data. */
static void
read_plan_make(read_plan *p, int rollups, int64_t smin, int64_t smax,
    int64_t start_ms, int64_t end_ms)
{
	memset(p, 0, sizeof(*p));
	if (!rollups) {
		int64_t a = start_ms > smin ? start_ms : smin;
		int64_t z = end_ms < smax ? end_ms : smax;
		if (a <= z)
			p->raw[p->n_raw++] = (read_span) { a, z + 1 };
		return;
	}
	int64_t lo = read_down(smin, BLOCK_HOUR_MS);
	int64_t hi = read_down(smax, BLOCK_HOUR_MS) + BLOCK_HOUR_MS; /* excl */
	int64_t a  = start_ms > lo ? start_ms : lo;
	int64_t b  = end_ms < hi - 1 ? end_ms + 1 : hi;
	if (a >= b)
		return;
	int64_t h0 = read_up(a, BLOCK_HOUR_MS), h1 = read_down(b, BLOCK_HOUR_MS);
	if (h0 < h1) {
		p->hour	    = (read_span) { h0, h1 };
		p->has_hour = 1;
		read_plan_part(p, a, h0);
		read_plan_part(p, h1, b);
	} else
		read_plan_part(p, a, b);
}

static void
read_add(block_rctx *c, uint32_t node, int64_t v)
{
	c->sums[node] = block_sat_add(c->sums[node], v);
}

/* Samples of the profiles in spans[0..n), chunk by chunk (the spans
 * ascend, so a chunk shared by two spans is decoded once); with ds, only
 * the profiles it keeps (dedup.h). */
static int
read_tree_raw(block_rctx *c, block *b, const block_hdr *h, uint32_t s,
    const read_span *spans, int n, const hearth_dedup_series *ds,
    hearth_err *err)
{
	block_sdata sd;
	uint32_t    have = UINT32_MAX, clo = 0;
	int	    rc	 = 0;
	for (int i = 0; rc == 0 && i < n; i++) {
		uint32_t lo, hi;
		block_hdr_range(h, s, spans[i].a, spans[i].b, &lo, &hi);
		for (uint32_t q = lo; q < hi;) {
			uint32_t chunk, a, z;
			uint8_t *v;
			size_t	 vl, k = 0;
			block_hdr_chunk(h, s, q, &chunk, &a, &z);
			if (chunk != have) {
				hearth_arena_reset(c->tmp);
				rc = block_read_value(c, b, BLOCK_KEY_SAMPLES, s,
				    chunk, &v, &vl, err);
				if (rc == 0)
					rc = block_dec_samples(h, s, a, z, v, vl,
					    c->tmp, c->dctx, &sd, err);
				if (rc != 0)
					return block_read_corrupt(b, s, rc, err);
				have = chunk;
				clo  = a;
			}
			for (uint32_t x = clo; x < q; x++)
				k += sd.counts[x - clo];
			for (uint32_t end = hi < z ? hi : z; q < end; q++) {
				if (ds != NULL &&
				    !hearth_dedup_keep(ds,
					block_ms(sd.times[q - clo]),
					sd.ids != NULL
					    ? sd.ids + (size_t) (q - clo) * 16
					    : NULL)) {
					k += sd.counts[q - clo];
					continue;
				}
				for (uint32_t j = 0; j < sd.counts[q - clo];
				     j++, k++)
					read_add(c, sd.nodes[k], sd.values[k]);
			}
		}
	}
	hearth_arena_reset(c->tmp);
	return rc;
}

/* Add the buckets of one rollup value that start in [a, z); with ds,
 * only those of whole windows (a bucket never straddles a window,
 * dedup.h). */
static int
read_tree_rollup(block_rctx *c, block *b, const block_hdr *h, uint32_t s,
    int kind, uint32_t chunk, int64_t a, int64_t z,
    const hearth_dedup_series *ds, hearth_err *err)
{
	uint8_t	   *v;
	size_t	    vl, k = 0;
	block_rdata rd;
	int	    rc = block_read_value(c, b, kind, s, chunk, &v, &vl, err);
	if (rc == 0)
		rc = block_dec_rollup(h, v, vl, c->tmp, c->dctx, &rd, err);
	if (rc == 0 && rd.width_ms != (kind == BLOCK_KEY_MINUTES
					       ? BLOCK_MINUTE_MS
					       : BLOCK_HOUR_MS))
		rc = hearth_err_set(err, HEARTH_ECORRUPT,
		    "rollup of the wrong width");
	if (rc != 0)
		return block_read_corrupt(b, s, rc, err);
	for (uint32_t i = 0; i < rd.n_buckets; i++) {
		int64_t t = rd.buckets[i] * rd.width_ms;
		if (t >= a && t < z &&
		    (ds == NULL ||
			hearth_dedup_window(ds, hearth_dedup_window_of(t)) ==
			    HEARTH_DEDUP_WHOLE))
			for (uint32_t j = 0; j < rd.counts[i]; j++)
				read_add(c, rd.nodes[k + j], rd.values[k + j]);
		k += rd.counts[i];
	}
	hearth_arena_reset(c->tmp);
	return 0;
}

/* Whole minutes: the minute-rollup chunks of each span that hold a
 * profile of it. */
static int
read_tree_minutes(block_rctx *c, block *b, const block_hdr *h, uint32_t s,
    const read_plan *p, const hearth_dedup_series *ds, hearth_err *err)
{
	for (int i = 0; i < p->n_min; i++) {
		int64_t m0 = p->min[i].a, m1 = p->min[i].b;
		for (int64_t w = block_floor_div(m0, BLOCK_CHUNK_MS);
		     w * BLOCK_CHUNK_MS < m1; w++) {
			int64_t	 wa = w * BLOCK_CHUNK_MS, wz = wa + BLOCK_CHUNK_MS;
			uint32_t lo, hi;
			wa = wa > m0 ? wa : m0;
			wz = wz < m1 ? wz : m1;
			block_hdr_range(h, s, wa, wz, &lo, &hi);
			/* A chunk lies in one window: skip it unless whole. */
			if (lo >= hi ||
			    (ds != NULL &&
				hearth_dedup_window(ds,
				    hearth_dedup_window_of(wa)) !=
				    HEARTH_DEDUP_WHOLE))
				continue;
			int rc = read_tree_rollup(c, b, h, s, BLOCK_KEY_MINUTES,
			    (uint32_t) block_hdr_chunk_of(h, s, wa), wa, wz, ds,
			    err);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

static int
read_tree_hours(block_rctx *c, block *b, const block_hdr *h, uint32_t s,
    const read_plan *p, const hearth_dedup_series *ds, hearth_err *err)
{
	uint32_t lo, hi;
	int	 whole = ds == NULL || hearth_dedup_all(ds);
	if (!p->has_hour)
		return 0;
	block_hdr_range(h, s, p->hour.a, p->hour.b, &lo, &hi);
	for (int64_t w = hearth_dedup_window_of(p->hour.a);
	     !whole && lo < hi && w < p->hour.b; w += HEARTH_DEDUP_WINDOW_MS)
		whole = hearth_dedup_window(ds, w) == HEARTH_DEDUP_WHOLE;
	if (lo >= hi || !whole)
		return 0;
	return read_tree_rollup(c, b, h, s, BLOCK_KEY_HOURS, 0, p->hour.a,
	    p->hour.b, ds, err);
}

/* The profiles of ds's partial windows that p takes from rollups (which
 * cannot filter by id) come from the samples instead: each rollup span
 * of p cut by each partial window. Disjoint from p's raw spans, so
 * nothing is counted twice. */
static int
read_tree_partial(block_rctx *c, block *b, const block_hdr *h, uint32_t s,
    const read_plan *p, const hearth_dedup_series *ds, hearth_err *err)
{
	const int64_t *ws;
	size_t	       nw = hearth_dedup_partials(ds, &ws);
	read_span      roll[3];
	int	       nr = 0, rc = 0;
	for (int i = 0; i < p->n_min; i++)
		roll[nr++] = p->min[i];
	if (p->has_hour)
		roll[nr++] = p->hour;
	for (size_t i = 0; rc == 0 && i < nw; i++) {
		read_span cut[3];
		int	  nc = 0;
		int64_t	  wa = ws[i], wz = ws[i] + HEARTH_DEDUP_WINDOW_MS;
		for (int j = 0; j < nr; j++) {
			int64_t a = roll[j].a > wa ? roll[j].a : wa;
			int64_t z = roll[j].b < wz ? roll[j].b : wz;
			if (a < z)
				cut[nc++] = (read_span) { a, z };
		}
		rc = read_tree_raw(c, b, h, s, cut, nc, ds, err);
	}
	return rc;
}

/* Node sums -> tree, as head_tree_emit does: a backward pass marks the
 * nodes on a path to a non-zero sum, a forward pass adds them parents
 * first (block.h invariant (2)). */
int
block_read_tree_map(block_rctx *c, const block_hdr *h, hearth_fgtree *acc,
    hearth_err *err)
{
	uint32_t nn = h->n_nodes, *map = c->map;
	int64_t *sums = c->sums;
	memset(map, 0, nn * sizeof(*map));
	for (uint32_t i = nn - 1; i > 0; i--)
		if (sums[i] != 0 || map[i] != 0) {
			map[i]		   = 1;
			map[h->parent[i]] = 1;
		}
	map[0] = 0;
	if (sums[0] != 0)
		hearth_fgtree_add_self(acc, 0, sums[0]);
	for (uint32_t i = 1; i < nn; i++) {
		if (map[i] == 0)
			continue;
		uint32_t nm = h->name[i], ch;
		int rc = hearth_fgtree_child(acc, map[h->parent[i]], h->strs[nm],
		    h->str_lens[nm], &ch);
		if (rc != 0)
			return hearth_err_set(err, rc,
			    "select: the flame graph passed its node limit "
			    "(%zu nodes)",
			    hearth_fgtree_size(acc));
		map[i] = ch;
		if (sums[i] != 0)
			hearth_fgtree_add_self(acc, ch, sums[i]);
	}
	return 0;
}

/* spans: only the span rows of those spans (block_span.c), else all
 * samples, from rollups where they serve. */
static int
read_tree_block(block_rctx *c, block *b, const hearth_selector *sel,
    const hearth_dedup *filter, const hearth_head_spans *spans,
    int64_t start_ms, int64_t end_ms, hearth_fgtree *acc, hearth_err *err)
{
	block_hdr *h;
	uint32_t  *ids;
	size_t	   n;
	int	   rc = block_read_hdr(c, b, &h, err);
	if (rc != 0)
		return rc;
	if ((rc = block_hdr_select(h, sel, c->blk, &ids, &n, err)) != 0 ||
	    n == 0)
		goto done;
	if (BLOCK_GROW(c->sums, c->cap_sums, h->n_nodes) != 0 ||
	    BLOCK_GROW(c->map, c->cap_map, h->n_nodes) != 0) {
		rc = hearth_err_set(err, HEARTH_ENOMEM,
		    "select: out of memory (%u stack nodes)", h->n_nodes);
		goto done;
	}
	memset(c->sums, 0, h->n_nodes * sizeof(*c->sums));
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const block_hseries	  *hs = &h->series[ids[i]];
		const hearth_dedup_series *ds = NULL;
		read_plan		   p;
		if (hs->n_profiles == 0 ||
		    (spans != NULL && hs->n_span_rows == 0) ||
		    (filter != NULL &&
			(ds = hearth_dedup_find(filter, hs->fp)) == NULL))
			continue;
		if (ds != NULL && hearth_dedup_all(ds))
			ds = NULL; /* the unfiltered path, as fast */
		/* Rollups know nothing of spans: span rows come from the
		 * Spans chunks of every profile in range. */
		read_plan_make(&p, h->rollups && spans == NULL,
		    block_ms(h->times[hs->first]),
		    block_ms(h->times[hs->first + hs->n_profiles - 1]),
		    start_ms, end_ms);
		if (spans != NULL) {
			if (p.n_raw > 0)
				rc = block_span_tree_series(c, b, h, ids[i],
				    p.raw[0].a, p.raw[0].b, ds, spans, err);
			continue;
		}
		rc = read_tree_raw(c, b, h, ids[i], p.raw, p.n_raw, ds, err);
		if (rc == 0)
			rc = read_tree_minutes(c, b, h, ids[i], &p, ds, err);
		if (rc == 0)
			rc = read_tree_hours(c, b, h, ids[i], &p, ds, err);
		if (rc == 0 && ds != NULL)
			rc = read_tree_partial(c, b, h, ids[i], &p, ds, err);
	}
	if (rc == 0)
		rc = block_read_tree_map(c, h, acc, err);
done:
	block_hdr_put(h);
	return rc;
}

int
block_read_tree(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    const hearth_head_spans *spans, int64_t start_ms, int64_t end_ms,
    hearth_fgtree *out, hearth_err *err)
{
	int rc;
	if ((rc = block_read_check_range(start_ms, end_ms, err)) != 0)
		return rc;
	for (int attempt = 0; attempt < BLOCK_MAX_ATTEMPTS; attempt++) {
		block_rctx       c;
		hearth_fgtree *acc = NULL;
		if ((rc = block_read_begin(&c, bs, tenant, err)) != 0) {
			block_read_end(&c);
			return rc;
		}
		c.l		       = block_list_get(bs);
		const block_tenant *bt = block_list_tenant(c.l, tenant);
		for (size_t i = 0; rc == 0 && bt != NULL && i < bt->n; i++) {
			if (!block_read_overlaps(bt->blocks[i], start_ms, end_ms))
				continue;
			if (acc == NULL && (acc = hearth_fgtree_new()) == NULL)
				rc = hearth_err_set(err, HEARTH_ENOMEM,
				    "select: out of memory");
			else
				rc = read_tree_block(&c, bt->blocks[i], sel,
				    filter, spans, start_ms, end_ms, acc, err);
		}
		block_read_end(&c);
		if (rc == 0 && acc != NULL &&
		    (rc = hearth_fgtree_merge(out, acc)) != 0)
			rc = hearth_err_set(err, rc,
			    "select: the flame graph passed its node limit "
			    "(%zu nodes)",
			    hearth_fgtree_size(out));
		hearth_fgtree_free(acc);
		if (rc != BLOCK_RETRY)
			return rc;
	}
	return hearth_err_set(err, HEARTH_EUNAVAIL,
	    "select: blocks kept changing during the query; retry it");
}

int
hearth_blocks_select_tree(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms, hearth_arena *scratch,
    hearth_fgtree *out, hearth_err *err)
{
	/* Blocks are decoded one value at a time into private buffers that
	 * are reused and freed before returning: a query over a thousand
	 * blocks must not pile them up in the request's arena. */
	(void) scratch;
	return block_read_tree(bs, tenant, sel, filter, NULL, start_ms, end_ms,
	    out, err);
}
