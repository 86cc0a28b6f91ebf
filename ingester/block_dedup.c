/*
 * block_dedup: replica de-duplication over a tenant's blocks (block.h
 * hearth_blocks_plan, hearth_blocks_ids, hearth_blocks_tenants; dedup.h).
 * PLAN is answered from decoded (cached) headers: the windows of a series
 * and their profile counts follow from the profile times, the digests are
 * stored per window (Header.window_digests). Blocks written before the
 * digests existed are hashed from their samples' ids. Same snapshot-and-
 * retry scheme as block_read.c; each attempt accumulates privately and
 * only a complete answer joins the caller's accumulator.
 */
#include "block_impl.h"

#include <stdlib.h>
#include <string.h>

/* Ids of one window, grown to the largest. */
typedef struct dedup_buf {
	uint8_t *ids;
	size_t	 cap;
} dedup_buf;

/* Profiles [*pa, *pz) of series s (indexes within the series) that make
 * its window k. */
static void
dedup_win_range(const block_hdr *h, const block_hseries *hs, uint32_t k,
    uint32_t *pa, uint32_t *pz)
{
	*pa = h->win_first[k];
	*pz = k + 1 < hs->first_win + hs->n_win ? h->win_first[k + 1]
						: hs->n_profiles;
}

static int
dedup_read_ids(block_rctx *c, block *b, const block_hdr *h, uint32_t s,
    uint32_t pa, uint32_t pz, dedup_buf *buf, hearth_err *err)
{
	if (BLOCK_GROW(buf->ids, buf->cap, (size_t) (pz - pa) * 16 + 1) != 0)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "plan: out of memory reading %u ids", pz - pa);
	return block_read_ids(c, b, h, s, pa, pz, buf->ids, err);
}

static int
dedup_plan_block(block_rctx *c, block *b, const hearth_selector *sel,
    int64_t start_ms, int64_t end_ms, int64_t lo_ms, int64_t hi_ms,
    hearth_dedup_plan *acc, dedup_buf *buf, hearth_err *err)
{
	block_hdr *h;
	uint32_t  *ids;
	size_t	   n;
	int	   rc = block_read_hdr(c, b, &h, err);
	if (rc != 0)
		return rc;
	if ((rc = block_hdr_select(h, sel, c->blk, &ids, &n, err)) != 0)
		goto done;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const block_hseries *hs = &h->series[ids[i]];
		for (uint32_t k = hs->first_win;
		     rc == 0 && k < hs->first_win + hs->n_win; k++) {
			int64_t	 w = h->win_start[k];
			uint32_t pa, pz, a, z;
			uint64_t digest = 0;
			if (w < lo_ms || w > hi_ms)
				continue;
			dedup_win_range(h, hs, k, &pa, &pz);
			if (h->win_digest != NULL)
				digest = h->win_digest[k];
			else if ((rc = dedup_read_ids(c, b, h, ids[i], pa, pz,
				      buf, err)) != 0)
				break;
			else
				for (uint32_t p = 0; p < pz - pa; p++)
					digest += hearth_dedup_id_hash(
					    buf->ids + (size_t) p * 16);
			/* Window times stay far from the int64 edges (they
			 * come from nanosecond times). */
			int64_t e = w + HEARTH_DEDUP_WINDOW_MS - 1;
			int	in = w >= start_ms && e <= end_ms;
			if (!in) {
				block_hdr_range(h, ids[i],
				    w > start_ms ? w : start_ms,
				    (e < end_ms ? e : end_ms) + 1, &a, &z);
				in = a < z;
			}
			if (hearth_dedup_plan_add(acc, hs->fp, w, pz - pa,
				digest, in) != 0)
				rc = hearth_err_set(err, HEARTH_ENOMEM,
				    "plan: the query needs more memory than its "
				    "limit allows");
		}
	}
done:
	block_hdr_put(h);
	return rc;
}

int
hearth_blocks_plan(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    hearth_dedup_plan *acc, hearth_err *err)
{
	int64_t lo_ms, hi_ms;
	int	rc;
	if ((rc = block_read_check_range(start_ms, end_ms, err)) != 0)
		return rc;
	hearth_dedup_span(start_ms, end_ms, &lo_ms, &hi_ms);
	for (int attempt = 0; attempt < BLOCK_MAX_ATTEMPTS; attempt++) {
		block_rctx	  c;
		hearth_dedup_plan mine = { NULL, 0, 0 };
		dedup_buf	  buf  = { NULL, 0 };
		if ((rc = block_read_begin(&c, bs, tenant, err)) != 0) {
			block_read_end(&c);
			return rc;
		}
		c.l		       = block_list_get(bs);
		const block_tenant *bt = block_list_tenant(c.l, tenant);
		for (size_t i = 0; rc == 0 && bt != NULL && i < bt->n; i++)
			if (block_read_overlaps(bt->blocks[i], lo_ms, hi_ms))
				rc = dedup_plan_block(&c, bt->blocks[i], sel,
				    start_ms, end_ms, lo_ms, hi_ms, &mine, &buf,
				    err);
		block_read_end(&c);
		for (size_t i = 0; rc == 0 && i < mine.n; i++)
			if (hearth_dedup_plan_add(acc, mine.v[i].fp,
				mine.v[i].window_ms, mine.v[i].count,
				mine.v[i].digest, mine.v[i].in_range) != 0)
				rc = hearth_err_set(err, HEARTH_ENOMEM,
				    "plan: the query needs more memory than "
				    "its limit allows");
		hearth_dedup_plan_fini(&mine);
		free(buf.ids);
		if (rc != BLOCK_RETRY)
			return rc;
	}
	return hearth_err_set(err, HEARTH_EUNAVAIL,
	    "plan: blocks kept changing during the query; retry it");
}

static int
dedup_ids_block(block_rctx *c, block *b, const hearth_selector *sel,
    const hearth_dedup *wanted, hearth_dedup_ids *acc, dedup_buf *buf,
    hearth_err *err)
{
	block_hdr *h;
	uint32_t  *ids;
	size_t	   n;
	int	   rc = block_read_hdr(c, b, &h, err);
	if (rc != 0)
		return rc;
	if ((rc = block_hdr_select(h, sel, c->blk, &ids, &n, err)) != 0)
		goto done;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const block_hseries	  *hs = &h->series[ids[i]];
		const hearth_dedup_series *ds = hearth_dedup_find(wanted, hs->fp);
		for (uint32_t k = hs->first_win;
		     ds != NULL && rc == 0 && k < hs->first_win + hs->n_win;
		     k++) {
			uint32_t pa, pz;
			if (hearth_dedup_window(ds, h->win_start[k]) !=
			    HEARTH_DEDUP_WHOLE)
				continue;
			dedup_win_range(h, hs, k, &pa, &pz);
			if ((rc = dedup_read_ids(c, b, h, ids[i], pa, pz, buf,
				 err)) != 0)
				break;
			for (uint32_t p = 0; rc == 0 && p < pz - pa; p++)
				if (hearth_dedup_ids_add(acc, hs->fp,
					h->win_start[k],
					buf->ids + (size_t) p * 16) != 0)
					rc = hearth_err_set(err, HEARTH_ENOMEM,
					    "ids: the query needs more memory "
					    "than its limit allows");
		}
	}
done:
	block_hdr_put(h);
	return rc;
}

int
hearth_blocks_ids(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *wanted,
    hearth_dedup_ids *acc, hearth_err *err)
{
	int64_t wmin, wmax;
	int	rc = 0;
	if (!hearth_dedup_bounds(wanted, &wmin, &wmax))
		return 0;
	int64_t hi_ms = wmax > INT64_MAX - HEARTH_DEDUP_WINDOW_MS
	    ? INT64_MAX
	    : wmax + (HEARTH_DEDUP_WINDOW_MS - 1);
	for (int attempt = 0; attempt < BLOCK_MAX_ATTEMPTS; attempt++) {
		block_rctx	 c;
		hearth_dedup_ids mine = { NULL, 0, 0 };
		dedup_buf	 buf  = { NULL, 0 };
		if ((rc = block_read_begin(&c, bs, tenant, err)) != 0) {
			block_read_end(&c);
			return rc;
		}
		c.l		       = block_list_get(bs);
		const block_tenant *bt = block_list_tenant(c.l, tenant);
		for (size_t i = 0; rc == 0 && bt != NULL && i < bt->n; i++)
			if (block_read_overlaps(bt->blocks[i], wmin, hi_ms))
				rc = dedup_ids_block(&c, bt->blocks[i], sel,
				    wanted, &mine, &buf, err);
		block_read_end(&c);
		for (size_t i = 0; rc == 0 && i < mine.n; i++)
			if (hearth_dedup_ids_add(acc, mine.v[i].fp,
				mine.v[i].window_ms, mine.v[i].id) != 0)
				rc = hearth_err_set(err, HEARTH_ENOMEM,
				    "ids: the query needs more memory than its "
				    "limit allows");
		hearth_dedup_ids_fini(&mine);
		free(buf.ids);
		if (rc != BLOCK_RETRY)
			return rc;
	}
	return hearth_err_set(err, HEARTH_EUNAVAIL,
	    "ids: blocks kept changing during the query; retry it");
}

int
hearth_blocks_tenants(hearth_blocks *bs, hearth_arena *arena,
    const char ***out, size_t *n_out)
{
	block_list  *l	= block_list_get(bs);
	const char **v	= hearth_arena_alloc(arena, (l->n + 1) * sizeof(*v));
	int	     rc = v == NULL ? HEARTH_ENOMEM : 0;
	*out		= NULL;
	*n_out		= 0;
	for (size_t i = 0; rc == 0 && i < l->n; i++)
		if ((v[i] = hearth_arena_strdup(arena, l->tenants[i].name)) ==
		    NULL)
			rc = HEARTH_ENOMEM;
	if (rc == 0) {
		*out   = v;
		*n_out = l->n;
	}
	block_list_put(l);
	return rc;
}
