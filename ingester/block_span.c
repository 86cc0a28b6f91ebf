/*
 * block_span: span rows in blocks (block.h): the Spans value of a samples
 * chunk (proto/block.proto, key kind 'S'), written next to every samples
 * chunk of a series that has span rows and carried through compaction;
 * and span-filtered tree queries. Rollups know nothing of spans, so a
 * span query reads the Spans chunks of the profiles in range, at every
 * level. Blocks written before span rows existed have no span_counts in
 * their header: their series have none, and a span query adds nothing
 * from them.
 */
#include "block_impl.h"

#include <string.h>

#define CORRUPT(err, ...) hearth_err_set((err), HEARTH_ECORRUPT, __VA_ARGS__)

/* ---- sorting -------------------------------------------------------------- */

static int
span_before(const uint64_t *ids, const uint32_t *nodes, size_t i, size_t j)
{
	return ids[i] < ids[j] || (ids[i] == ids[j] && nodes[i] < nodes[j]);
}

static void
span_swap(uint64_t *ids, uint32_t *nodes, int64_t *values, size_t i,
    size_t j)
{
	uint64_t ti = ids[i];
	uint32_t tn = nodes[i];
	int64_t	 tv = values[i];
	ids[i]	    = ids[j];
	nodes[i]    = nodes[j];
	values[i]   = values[j];
	ids[j]	    = ti;
	nodes[j]    = tn;
	values[j]   = tv;
}

/* Heapsort of the parallel arrays by (id, node): O(n log n) whatever the
 * input, no recursion, no scratch. Span rows are sorted already when
 * they come from the head or a block, so this runs only after a merge
 * remapped nodes. */
static void
span_sift(uint64_t *ids, uint32_t *nodes, int64_t *values, size_t i,
    size_t n)
{
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			return;
		if (c + 1 < n && span_before(ids, nodes, c, c + 1))
			c++;
		if (!span_before(ids, nodes, i, c))
			return;
		span_swap(ids, nodes, values, i, c);
		i = c;
	}
}

size_t
block_span_sort(uint64_t *ids, uint32_t *nodes, int64_t *values, size_t n)
{
	size_t i = 1;
	while (i < n && span_before(ids, nodes, i - 1, i))
		i++;
	if (i < n) {
		for (size_t k = n / 2; k-- > 0;)
			span_sift(ids, nodes, values, k, n);
		for (size_t k = n; k-- > 1;) {
			span_swap(ids, nodes, values, 0, k);
			span_sift(ids, nodes, values, 0, k);
		}
	} else
		return n; /* ascending and unique: the common case */
	size_t m = 0;
	for (size_t j = 0; j < n; j++) {
		if (m > 0 && ids[m - 1] == ids[j] && nodes[m - 1] == nodes[j])
			values[m - 1] = block_sat_add(values[m - 1], values[j]);
		else {
			ids[m]	    = ids[j];
			nodes[m]    = nodes[j];
			values[m++] = values[j];
		}
	}
	return m;
}

/* ---- codec ---------------------------------------------------------------- */

/* Index of id in the ascending table t[0..n) (present). */
static uint32_t
span_index(const uint64_t *t, size_t n, uint64_t id)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	HEARTH_ASSERT(lo < n && t[lo] == id);
	return (uint32_t) lo;
}

int
block_enc_spans(block_enc *e, const block_sdata *sd)
{
	Hearth__Block__Spans m = HEARTH__BLOCK__SPANS__INIT;
	size_t		     n = sd->n_span_rows, nt;
	/* Nodes are delta-encoded within a run of one span id (rows are
	 * sorted by (span, node) per profile). */
	int rc = block_enc_columns(e, sd->n_profiles, sd->span_counts, n,
	    sd->span_nodes, sd->span_values, sd->span_ids, &m.scale);
	if (rc != 0)
		return rc;
	if (BLOCK_GROW(e->u32b, e->u32b_cap, n + 1) != 0 ||
	    BLOCK_GROW(e->u64b, e->u64b_cap, n + 1) != 0)
		return HEARTH_ENOMEM;
	/* A chunk holds few distinct spans and many rows of each: a table
	 * and small indexes instead of 8 bytes a row (span ids are != 0). */
	if (n > 0)
		memcpy(e->u64b, sd->span_ids, n * sizeof(*e->u64b));
	nt = hearth_head_spans_sort(e->u64b, n);
	for (size_t k = 0; k < n; k++)
		e->u32b[k] = span_index(e->u64b, nt, sd->span_ids[k]);
	m.counts       = sd->span_counts;
	m.n_counts     = sd->n_profiles;
	m.span_table   = e->u64b;
	m.n_span_table = nt;
	m.spans	       = e->u32b;
	m.n_spans      = n;
	m.nodes	       = e->u32;
	m.n_nodes      = n;
	m.values       = e->u64;
	m.n_values     = n;
	return block_enc_message(e, &m.base);
}

int
block_dec_spans(const block_hdr *h, uint32_t lo, uint32_t hi,
    const uint8_t *v, size_t vl, hearth_arena *a, ZSTD_DCtx *dctx,
    block_sdata *sd, hearth_err *err)
{
	ProtobufCMessage *pm;
	int rc = block_dec_message(v, vl, &hearth__block__spans__descriptor, a,
	    dctx, &pm, err);
	if (rc != 0)
		return rc;
	Hearth__Block__Spans *m	 = (Hearth__Block__Spans *) pm;
	uint32_t	      np = hi - lo;
	size_t		      n	 = m->n_nodes;
	if (m->n_spans != n)
		return CORRUPT(err, "spans: %zu spans for %zu nodes", m->n_spans,
		    n);
	if ((rc = block_dec_columns(np, m->counts, m->n_counts, m->nodes, n,
		 m->values, m->n_values, m->spans, m->scale, h->n_nodes,
		 "spans", err)) != 0)
		return rc;
	for (size_t i = 0; i < m->n_span_table; i++)
		if (m->span_table[i] == 0 ||
		    (i > 0 && m->span_table[i] <= m->span_table[i - 1]))
			return CORRUPT(err, "spans: span table out of order");
	uint64_t *ids = hearth_arena_alloc(a, (n + 1) * sizeof(*ids));
	if (ids == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "spans: %zu rows do not fit the query memory cap", n);
	size_t k = 0;
	for (uint32_t p = 0; p < np; p++)
		for (uint32_t i = 0; i < m->counts[p]; i++, k++) {
			uint32_t x = m->spans[k];
			if (x >= m->n_span_table ||
			    (i > 0 && x < m->spans[k - 1]))
				return CORRUPT(err, "spans: row %zu out of "
						    "order or range",
				    k);
			ids[k] = m->span_table[x];
		}
	sd->span_counts = m->counts;
	sd->n_span_rows = n;
	sd->span_ids	= ids;
	sd->span_nodes	= m->nodes;
	/* Same object, signed view: checked <= INT64_MAX above. */
	sd->span_values = (int64_t *) m->values;
	return 0;
}

int
block_out_spans(block_out *o, uint32_t idx, uint32_t chunk,
    const block_sdata *sd, uint32_t p, uint32_t q, size_t *row)
{
	block_sdata part;
	size_t	    n = 0;
	for (uint32_t i = p; i < q; i++)
		n += sd->span_counts[i];
	memset(&part, 0, sizeof(part));
	part.n_profiles	 = q - p;
	part.span_counts = sd->span_counts + p;
	part.n_span_rows = n;
	part.span_ids	 = sd->span_ids + *row;
	part.span_nodes	 = sd->span_nodes + *row;
	part.span_values = sd->span_values + *row;
	*row += n;
	int rc = block_enc_spans(&o->enc, &part);
	if (rc != 0)
		return rc;
	size_t kl = block_key(o->key, o->tenant, o->id, BLOCK_KEY_SPANS, idx,
	    chunk);
	block_out_put(o, HEARTH_KV_BLOCKS, o->key, kl, o->enc.out,
	    o->enc.out_len);
	return 0;
}

int
block_span_join(const block_sdata *parts, size_t n, hearth_arena *a,
    block_sdata *out)
{
	size_t np = 0, nr = 0;
	int    any = 0;
	for (size_t i = 0; i < n; i++) {
		np += parts[i].n_profiles;
		nr += parts[i].span_counts != NULL ? parts[i].n_span_rows : 0;
		any |= parts[i].span_counts != NULL;
	}
	out->span_counts = NULL;
	out->n_span_rows = 0;
	if (!any)
		return 0;
	uint32_t *counts = hearth_arena_calloc(a, np + 1, sizeof(*counts));
	uint64_t *ids	 = hearth_arena_alloc(a, (nr + 1) * sizeof(*ids));
	uint32_t *nodes	 = hearth_arena_alloc(a, (nr + 1) * sizeof(*nodes));
	int64_t	 *values = hearth_arena_alloc(a, (nr + 1) * sizeof(*values));
	if (counts == NULL || ids == NULL || nodes == NULL || values == NULL)
		return HEARTH_ENOMEM;
	size_t q = 0, k = 0;
	for (size_t i = 0; i < n; i++) {
		const block_sdata *pt = &parts[i];
		if (pt->span_counts != NULL && pt->n_span_rows > 0) {
			memcpy(counts + q, pt->span_counts,
			    pt->n_profiles * sizeof(*counts));
			memcpy(ids + k, pt->span_ids,
			    pt->n_span_rows * sizeof(*ids));
			memcpy(nodes + k, pt->span_nodes,
			    pt->n_span_rows * sizeof(*nodes));
			memcpy(values + k, pt->span_values,
			    pt->n_span_rows * sizeof(*values));
			k += pt->n_span_rows;
		}
		q += pt->n_profiles;
	}
	out->span_counts = counts;
	out->n_span_rows = k;
	out->span_ids	 = ids;
	out->span_nodes	 = nodes;
	out->span_values = values;
	return 0;
}

/* ---- span-filtered tree ----------------------------------------------------- */

int
block_span_tree_series(block_rctx *c, block *b, const block_hdr *h,
    uint32_t s, int64_t a_ms, int64_t z_ms, const hearth_dedup_series *ds,
    const hearth_head_spans *spans, hearth_err *err)
{
	const block_hseries *hs = &h->series[s];
	uint32_t	     lo, hi;
	block_hdr_range(h, s, a_ms, z_ms, &lo, &hi);
	for (uint32_t q = lo; q < hi;) {
		uint32_t    chunk, a, z;
		uint8_t	   *v;
		size_t	    vl, k = 0;
		block_sdata sd;
		const uint8_t *ids = NULL;
		int	       rc;
		block_hdr_chunk(h, s, q, &chunk, &a, &z);
		uint32_t end = hi < z ? hi : z, q0 = q;
		/* A chunk lies in one window (dedup.h). */
		if (ds != NULL &&
		    hearth_dedup_window(ds,
			hearth_dedup_window_of(block_ms(
			    h->times[hs->first + q]))) ==
			HEARTH_DEDUP_PARTIAL) {
			if (BLOCK_GROW(c->ids, c->cap_ids,
				(size_t) (end - q) * 16 + 1) != 0)
				return hearth_err_set(err, HEARTH_ENOMEM,
				    "select: out of memory");
			if ((rc = block_read_ids(c, b, h, s, q, end, c->ids,
				 err)) != 0)
				return rc;
			ids = c->ids;
		}
		memset(&sd, 0, sizeof(sd));
		hearth_arena_reset(c->tmp);
		rc = block_read_value(c, b, BLOCK_KEY_SPANS, s, chunk, &v, &vl,
		    err);
		if (rc == 0)
			rc = block_dec_spans(h, a, z, v, vl, c->tmp, c->dctx,
			    &sd, err);
		if (rc != 0)
			return block_read_corrupt(b, s, rc, err);
		for (uint32_t x = a; x < q; x++)
			k += sd.span_counts[x - a];
		/* Rows come in runs of one span: test each run once. */
		uint64_t last = 0;
		int	 want = 0;
		for (; q < end; q++) {
			uint32_t cnt = sd.span_counts[q - a];
			if (ds != NULL &&
			    !hearth_dedup_keep(ds,
				block_ms(h->times[hs->first + q]),
				ids != NULL ? ids + (size_t) (q - q0) * 16
					    : NULL)) {
				k += cnt;
				continue;
			}
			for (uint32_t j = 0; j < cnt; j++, k++) {
				if (sd.span_ids[k] != last) {
					last = sd.span_ids[k];
					want = hearth_head_spans_has(spans, last);
				}
				if (want)
					c->sums[sd.span_nodes[k]] =
					    block_sat_add(
						c->sums[sd.span_nodes[k]],
						sd.span_values[k]);
			}
		}
		hearth_arena_reset(c->tmp);
	}
	return 0;
}

int
hearth_blocks_select_span_tree(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    const hearth_head_spans *spans, int64_t start_ms, int64_t end_ms,
    hearth_arena *scratch, hearth_fgtree *out, hearth_err *err)
{
	(void) scratch; /* private buffers, as hearth_blocks_select_tree */
	HEARTH_ASSERT(spans != NULL && spans->n > 0);
	return block_read_tree(bs, tenant, sel, filter, spans, start_ms, end_ms,
	    out, err);
}
