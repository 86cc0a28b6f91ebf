/*
 * block_compact: compaction, a run of blocks of one level merged into one
 * block of the next, with rollups. It runs on the background thread under
 * bg_mu (as retention does), so the blocks it reads cannot vanish under
 * it.
 */
#include "block_impl.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

static double
cmp_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* ---- merging ------------------------------------------------------------ */

typedef struct cmp_src {
	block	  *b;
	block_hdr *h;
	uint32_t  *strmap;  /* source string id -> merged */
	uint32_t  *nodemap; /* source node -> merged */
} cmp_src;

typedef struct cmp_ref {
	uint32_t src, series;
} cmp_ref;

typedef struct cmp_series {
	uint32_t  n_labels;
	uint32_t *lnames, *lvalues; /* merged string ids */
	uint64_t  hash;
	cmp_ref	 *refs;
	size_t	  n_refs, cap_refs;
} cmp_series;

typedef struct cmp_ctx {
	hearth_blocks *bs;
	const char    *tenant;
	cmp_src	      *src;
	size_t	       n_src;
	/* merged strings: pointers into the sources' headers */
	char	     **strs;
	size_t	       n_strs, cap_strs;
	uint32_t      *str_slots; /* id + 1 */
	size_t	       str_cap;
	/* merged stack tree */
	uint32_t      *parent, *name;
	size_t	       n_nodes, cap_parent, cap_name;
	uint32_t      *node_slots; /* id + 1; the root is never a child */
	size_t	       node_cap;
	/* merged series */
	cmp_series    *series;
	size_t	       n_series, cap_series;
	uint32_t      *series_slots;
	size_t	       series_cap;
} cmp_ctx;

/* Open-addressing insert into slots (id + 1) of capacity *cap (a power of
 * two, kept at most half full); rehash reads each id's hash with fn. */
typedef uint64_t (*cmp_hash_fn)(const cmp_ctx *c, uint32_t id);

static int
cmp_table_reserve(const cmp_ctx *c, uint32_t **slots, size_t *cap, size_t n,
    cmp_hash_fn fn)
{
	if (n * 2 <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 256;
	while (nc < n * 2)
		nc *= 2;
	uint32_t *ns = calloc(nc, sizeof(*ns));
	if (ns == NULL)
		return HEARTH_ENOMEM;
	for (size_t i = 0; i < *cap; i++) {
		if ((*slots)[i] == 0)
			continue;
		size_t j = (size_t) fn(c, (*slots)[i] - 1) & (nc - 1);
		while (ns[j] != 0)
			j = (j + 1) & (nc - 1);
		ns[j] = (*slots)[i];
	}
	free(*slots);
	*slots = ns;
	*cap   = nc;
	return 0;
}

static uint64_t
cmp_str_hash(const cmp_ctx *c, uint32_t id)
{
	return XXH3_64bits(c->strs[id], strlen(c->strs[id]));
}

static int
cmp_str_intern(cmp_ctx *c, char *s, uint32_t *id)
{
	if (cmp_table_reserve(c, &c->str_slots, &c->str_cap, c->n_strs + 1,
		cmp_str_hash) != 0)
		return HEARTH_ENOMEM;
	size_t len = strlen(s), mask = c->str_cap - 1;
	size_t i   = (size_t) XXH3_64bits(s, len) & mask;
	for (uint32_t v; (v = c->str_slots[i]) != 0; i = (i + 1) & mask)
		if (strcmp(c->strs[v - 1], s) == 0) {
			*id = v - 1;
			return 0;
		}
	if (c->n_strs >= UINT32_MAX ||
	    BLOCK_GROW(c->strs, c->cap_strs, c->n_strs + 1) != 0)
		return HEARTH_ENOMEM;
	c->strs[c->n_strs] = s;
	c->str_slots[i]	   = (uint32_t) c->n_strs + 1;
	*id		   = (uint32_t) c->n_strs++;
	return 0;
}

static uint64_t
cmp_node_hash(const cmp_ctx *c, uint32_t id)
{
	return hearth_hash_u64((uint64_t) c->parent[id] << 32 | c->name[id]);
}

static int
cmp_node_child(cmp_ctx *c, uint32_t parent, uint32_t name, uint32_t *out)
{
	if (cmp_table_reserve(c, &c->node_slots, &c->node_cap, c->n_nodes + 1,
		cmp_node_hash) != 0)
		return HEARTH_ENOMEM;
	size_t mask = c->node_cap - 1;
	size_t i = (size_t) hearth_hash_u64((uint64_t) parent << 32 | name) & mask;
	for (uint32_t v; (v = c->node_slots[i]) != 0; i = (i + 1) & mask)
		if (c->parent[v - 1] == parent && c->name[v - 1] == name) {
			*out = v - 1;
			return 0;
		}
	if (c->n_nodes >= UINT32_MAX ||
	    BLOCK_GROW(c->parent, c->cap_parent, c->n_nodes + 1) != 0 ||
	    BLOCK_GROW(c->name, c->cap_name, c->n_nodes + 1) != 0)
		return HEARTH_ENOMEM;
	c->parent[c->n_nodes] = parent;
	c->name[c->n_nodes]   = name;
	c->node_slots[i]      = (uint32_t) c->n_nodes + 1;
	*out		      = (uint32_t) c->n_nodes++;
	return 0;
}

static uint64_t
cmp_labels_hash(const uint32_t *n, const uint32_t *v, uint32_t k)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ k;
	for (uint32_t i = 0; i < k; i++)
		h = hearth_hash_u64(h ^ ((uint64_t) n[i] << 32 | v[i]));
	return h;
}

static uint64_t
cmp_series_hash(const cmp_ctx *c, uint32_t id)
{
	return c->series[id].hash;
}

/* The merged series of labels (merged ids) with a reference to (src, s). */
static int
cmp_series_add(cmp_ctx *c, uint32_t *ln, uint32_t *lv, uint32_t k,
    cmp_ref ref)
{
	if (cmp_table_reserve(c, &c->series_slots, &c->series_cap,
		c->n_series + 1, cmp_series_hash) != 0)
		return HEARTH_ENOMEM;
	uint64_t    hv = cmp_labels_hash(ln, lv, k);
	size_t	    mask = c->series_cap - 1, i = (size_t) hv & mask;
	cmp_series *s	 = NULL;
	for (uint32_t v; (v = c->series_slots[i]) != 0; i = (i + 1) & mask) {
		cmp_series *x = &c->series[v - 1];
		if (x->hash == hv && x->n_labels == k &&
		    memcmp(x->lnames, ln, k * sizeof(*ln)) == 0 &&
		    memcmp(x->lvalues, lv, k * sizeof(*lv)) == 0) {
			s = x;
			break;
		}
	}
	if (s == NULL) {
		if (BLOCK_GROW(c->series, c->cap_series, c->n_series + 1) != 0)
			return HEARTH_ENOMEM;
		s = &c->series[c->n_series];
		memset(s, 0, sizeof(*s));
		s->lnames  = malloc(((size_t) k + 1) * sizeof(*ln));
		s->lvalues = malloc(((size_t) k + 1) * sizeof(*lv));
		if (s->lnames == NULL || s->lvalues == NULL) {
			free(s->lnames);
			free(s->lvalues);
			return HEARTH_ENOMEM;
		}
		memcpy(s->lnames, ln, k * sizeof(*ln));
		memcpy(s->lvalues, lv, k * sizeof(*lv));
		s->n_labels	= k;
		s->hash		= hv;
		c->series_slots[i] = (uint32_t) c->n_series + 1;
		c->n_series++;
	}
	if (BLOCK_GROW(s->refs, s->cap_refs, s->n_refs + 1) != 0)
		return HEARTH_ENOMEM;
	s->refs[s->n_refs++] = ref;
	return 0;
}

static void
cmp_ctx_fini(cmp_ctx *c)
{
	for (size_t i = 0; i < c->n_src; i++) {
		block_hdr_put(c->src[i].h);
		free(c->src[i].strmap);
		free(c->src[i].nodemap);
	}
	for (size_t i = 0; i < c->n_series; i++) {
		free(c->series[i].lnames);
		free(c->series[i].lvalues);
		free(c->series[i].refs);
	}
	free(c->src);
	free(c->strs);
	free(c->str_slots);
	free(c->parent);
	free(c->name);
	free(c->node_slots);
	free(c->series);
	free(c->series_slots);
}

/* Map one source's strings, nodes and series into the merged tables. */
static int
cmp_map_source(cmp_ctx *c, uint32_t si)
{
	cmp_src	  *s = &c->src[si];
	block_hdr *h = s->h;
	uint32_t  *ln = NULL, *lv = NULL;
	int	   rc = HEARTH_ENOMEM;
	s->strmap     = malloc(((size_t) h->n_strs + 1) * sizeof(uint32_t));
	s->nodemap    = malloc(((size_t) h->n_nodes + 1) * sizeof(uint32_t));
	if (s->strmap == NULL || s->nodemap == NULL)
		return HEARTH_ENOMEM;
	for (uint32_t i = 0; i < h->n_strs; i++)
		if (cmp_str_intern(c, h->strs[i], &s->strmap[i]) != 0)
			return HEARTH_ENOMEM;
	s->nodemap[0] = 0;
	for (uint32_t i = 1; i < h->n_nodes; i++)
		if (cmp_node_child(c, s->nodemap[h->parent[i]],
			s->strmap[h->name[i]], &s->nodemap[i]) != 0)
			return HEARTH_ENOMEM;
	for (uint32_t j = 0; j < h->n_series; j++) {
		const block_hseries *hs = &h->series[j];
		free(ln);
		free(lv);
		ln = malloc(((size_t) hs->n_labels + 1) * sizeof(*ln));
		lv = malloc(((size_t) hs->n_labels + 1) * sizeof(*lv));
		if (ln == NULL || lv == NULL)
			goto done;
		for (uint32_t i = 0; i < hs->n_labels; i++) {
			/* Label strings are header strings too: interning
			 * finds the ids cmp_map_source just gave them. */
			uint32_t kn, kv;
			if (cmp_str_intern(c, (char *) hs->labels[i].name, &kn) !=
				0 ||
			    cmp_str_intern(c, (char *) hs->labels[i].value,
				&kv) != 0)
				goto done;
			ln[i] = kn;
			lv[i] = kv;
		}
		if (cmp_series_add(c, ln, lv, hs->n_labels,
			(cmp_ref) { si, j }) != 0)
			goto done;
	}
	rc = 0;
done:
	free(ln);
	free(lv);
	return rc;
}

static int
cmp_series_cmp(const void *a, const void *b, void *ctx)
{
	const cmp_ctx	 *c = ctx;
	const cmp_series *x = a, *y = b;
	for (uint32_t i = 0; i < x->n_labels && i < y->n_labels; i++) {
		int d = strcmp(c->strs[x->lnames[i]], c->strs[y->lnames[i]]);
		if (d == 0)
			d = strcmp(c->strs[x->lvalues[i]],
			    c->strs[y->lvalues[i]]);
		if (d != 0)
			return d;
	}
	return x->n_labels < y->n_labels ? -1 : x->n_labels > y->n_labels;
}

/* One profile of the merge: where it comes from. */
typedef struct cmp_prof {
	int64_t	 time;
	uint32_t ref, idx; /* ref: index into the series' refs */
} cmp_prof;

static int
cmp_prof_cmp(const void *a, const void *b)
{
	const cmp_prof *x = a, *y = b;
	if (x->time != y->time)
		return x->time < y->time ? -1 : 1;
	if (x->ref != y->ref)
		return x->ref < y->ref ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Scratch for one merged series (grown to the largest). */
typedef struct cmp_buf {
	block_sdata *sd; /* per ref */
	size_t	    *off; /* per ref: first sample offset of each profile */
	size_t	     cap_sd, cap_off;
	cmp_prof    *profs;
	size_t	     cap_profs;
	int64_t	    *times, *totals;
	size_t	     cap_times, cap_totals;
	uint8_t	    *ids;
	size_t	     cap_ids;
	uint32_t    *counts, *nodes;
	size_t	     cap_counts, cap_nodes;
	int64_t	    *values;
	size_t	     cap_values;
	/* span rows (block_sdata), soff like off */
	size_t	    *soff;
	uint32_t    *scounts, *snodes;
	uint64_t    *sids;
	int64_t	    *svalues;
	size_t	     cap_soff, cap_scounts, cap_snodes, cap_sids, cap_svalues;
} cmp_buf;

static void
cmp_buf_fini(cmp_buf *cb)
{
	free(cb->sd);
	free(cb->off);
	free(cb->profs);
	free(cb->times);
	free(cb->totals);
	free(cb->ids);
	free(cb->counts);
	free(cb->nodes);
	free(cb->values);
	free(cb->soff);
	free(cb->scounts);
	free(cb->snodes);
	free(cb->sids);
	free(cb->svalues);
}

/* Series s of src, chunk by chunk, as one sdata in arena a. */
static int
cmp_read_series(cmp_ctx *c, const cmp_src *src, uint32_t s, hearth_arena *a,
    ZSTD_DCtx *dctx, uint8_t *key, block_sdata *out, hearth_err *err)
{
	const block_hdr	    *h	   = src->h;
	const block_hseries *hs	   = &h->series[s];
	block_sdata	    *parts = NULL;
	size_t		     n_parts = 0, cap = 0, ns = 0;
	int		     rc = 0, has_id = 0;
	for (uint32_t p = 0; rc == 0 && p < hs->n_profiles;) {
		uint32_t chunk, lo, hi;
		uint8_t *v;
		size_t	 vl;
		block_hdr_chunk(h, s, p, &chunk, &lo, &hi);
		if (BLOCK_GROW(parts, cap, n_parts + 1) != 0) {
			rc = hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
			break;
		}
		size_t kl = block_key(key, src->b->tenant, src->b->id,
		    BLOCK_KEY_SAMPLES, s, chunk);
		rc = hearth_kv_get(c->bs->kv, HEARTH_KV_BLOCKS, key, kl, a, &v,
		    &vl, err);
		if (rc == HEARTH_ENOTFOUND)
			rc = hearth_err_set(err, HEARTH_ECORRUPT,
			    "samples chunk %u missing", chunk);
		if (rc == 0)
			rc = block_dec_samples(h, s, lo, hi, v, vl, a, dctx,
			    &parts[n_parts], err);
		if (rc == 0 && hs->n_span_rows > 0) {
			/* Span rows: one 'S' value per samples chunk. */
			kl = block_key(key, src->b->tenant, src->b->id,
			    BLOCK_KEY_SPANS, s, chunk);
			rc = hearth_kv_get(c->bs->kv, HEARTH_KV_BLOCKS, key,
			    kl, a, &v, &vl, err);
			if (rc == HEARTH_ENOTFOUND)
				rc = hearth_err_set(err, HEARTH_ECORRUPT,
				    "span rows chunk %u missing", chunk);
			if (rc == 0)
				rc = block_dec_spans(h, lo, hi, v, vl, a, dctx,
				    &parts[n_parts], err);
		}
		if (rc != 0)
			break;
		ns += parts[n_parts].n_samples;
		has_id |= parts[n_parts++].ids != NULL;
		p = hi;
	}
	if (rc == 0 && n_parts == 1)
		*out = parts[0];
	else if (rc == 0) {
		uint32_t np	= hs->n_profiles;
		uint32_t *counts = hearth_arena_alloc(a, (np + 1) * sizeof(*counts));
		uint32_t *nodes	= hearth_arena_alloc(a, (ns + 1) * sizeof(*nodes));
		int64_t	 *values = hearth_arena_alloc(a, (ns + 1) * sizeof(*values));
		uint8_t	 *ids	 = has_id ? hearth_arena_calloc(a, np, 16) : NULL;
		if (!counts || !nodes || !values || (has_id && ids == NULL)) {
			free(parts);
			return hearth_err_set(err, HEARTH_ENOMEM,
			    "out of memory");
		}
		size_t k = 0, q = 0;
		for (size_t i = 0; i < n_parts; i++) {
			const block_sdata *pt = &parts[i];
			memcpy(counts + q, pt->counts,
			    pt->n_profiles * sizeof(*counts));
			if (pt->ids != NULL)
				memcpy(ids + q * 16, pt->ids,
				    (size_t) pt->n_profiles * 16);
			memcpy(nodes + k, pt->nodes, pt->n_samples * sizeof(*nodes));
			memcpy(values + k, pt->values,
			    pt->n_samples * sizeof(*values));
			q += pt->n_profiles;
			k += pt->n_samples;
		}
		*out = (block_sdata) { np, h->times + hs->first,
			h->totals + hs->first, ids, counts, ns, nodes, values,
			NULL, 0, NULL, NULL, NULL };
		if (block_span_join(parts, n_parts, a, out) != 0)
			rc = hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
	}
	free(parts);
	return rc;
}

/* Decode every source part of merged series s and merge its profiles by
 * time (ties: source order, then position) into sd. */
static int
cmp_merge_series(cmp_ctx *c, const cmp_series *s, hearth_arena *a,
    ZSTD_DCtx *dctx, uint8_t *key, cmp_buf *cb, block_sdata *out,
    hearth_err *err)
{
	size_t np = 0, ns = 0, no = 0, nsr = 0;
	int    has_id = 0, rc;
	if (BLOCK_GROW(cb->sd, cb->cap_sd, s->n_refs) != 0)
		goto nomem;
	for (size_t r = 0; r < s->n_refs; r++) {
		const cmp_src *src = &c->src[s->refs[r].src];
		if ((rc = cmp_read_series(c, src, s->refs[r].series, a, dctx,
			 key, &cb->sd[r], err)) != 0)
			return hearth_err_prefix(err, "block %s/%llu series %u",
			    src->b->tenant, (unsigned long long) src->b->id,
			    s->refs[r].series);
		np += cb->sd[r].n_profiles;
		ns += cb->sd[r].n_samples;
		has_id |= cb->sd[r].ids != NULL;
		if (cb->sd[r].span_counts != NULL)
			nsr += cb->sd[r].n_span_rows;
	}
	if (np > UINT32_MAX ||
	    BLOCK_GROW(cb->profs, cb->cap_profs, np) != 0 ||
	    BLOCK_GROW(cb->off, cb->cap_off, np) != 0 ||
	    BLOCK_GROW(cb->times, cb->cap_times, np) != 0 ||
	    BLOCK_GROW(cb->totals, cb->cap_totals, np) != 0 ||
	    BLOCK_GROW(cb->ids, cb->cap_ids, np * 16) != 0 ||
	    BLOCK_GROW(cb->counts, cb->cap_counts, np) != 0 ||
	    BLOCK_GROW(cb->nodes, cb->cap_nodes, ns + 1) != 0 ||
	    BLOCK_GROW(cb->values, cb->cap_values, ns + 1) != 0 ||
	    BLOCK_GROW(cb->soff, cb->cap_soff, np) != 0 ||
	    BLOCK_GROW(cb->scounts, cb->cap_scounts, np) != 0 ||
	    BLOCK_GROW(cb->snodes, cb->cap_snodes, nsr + 1) != 0 ||
	    BLOCK_GROW(cb->sids, cb->cap_sids, nsr + 1) != 0 ||
	    BLOCK_GROW(cb->svalues, cb->cap_svalues, nsr + 1) != 0)
		goto nomem;
	for (size_t r = 0, k = 0; r < s->n_refs; r++) {
		const block_sdata *sd = &cb->sd[r];
		size_t		   o = 0, so = 0;
		for (uint32_t p = 0; p < sd->n_profiles; p++, k++, no++) {
			cb->profs[k] = (cmp_prof) { sd->times[p], (uint32_t) r,
				p };
			cb->off[no]  = o;
			cb->soff[no] = so;
			o += sd->counts[p];
			so += sd->span_counts != NULL ? sd->span_counts[p] : 0;
		}
	}
	qsort(cb->profs, np, sizeof(*cb->profs), cmp_prof_cmp);
	/* off[] is laid out ref by ref; find a ref's base once. */
	size_t	base[64], *bases = base;
	if (s->n_refs > 64 &&
	    (bases = malloc(s->n_refs * sizeof(*bases))) == NULL)
		goto nomem;
	for (size_t r = 0, b = 0; r < s->n_refs; r++) {
		bases[r] = b;
		b += cb->sd[r].n_profiles;
	}
	size_t k = 0, ks = 0;
	for (size_t i = 0; i < np; i++) {
		const cmp_prof	  *p  = &cb->profs[i];
		const block_sdata *sd = &cb->sd[p->ref];
		const uint32_t	  *nm = c->src[s->refs[p->ref].src].nodemap;
		size_t		   o  = cb->off[bases[p->ref] + p->idx];
		cb->times[i]	      = sd->times[p->idx];
		cb->totals[i]	      = sd->totals[p->idx];
		if (sd->ids != NULL)
			memcpy(cb->ids + i * 16, sd->ids + (size_t) p->idx * 16,
			    16);
		else
			memset(cb->ids + i * 16, 0, 16);
		for (uint32_t j = 0; j < sd->counts[p->idx]; j++) {
			cb->nodes[k + j]  = nm[sd->nodes[o + j]];
			cb->values[k + j] = sd->values[o + j];
		}
		cb->counts[i] = (uint32_t) block_sort_samples(cb->nodes + k,
		    cb->values + k, sd->counts[p->idx]);
		k += cb->counts[i];
		/* Span rows likewise: nodes renumbered, so sorted again. */
		uint32_t sn = sd->span_counts ? sd->span_counts[p->idx] : 0;
		size_t	 so = cb->soff[bases[p->ref] + p->idx];
		for (uint32_t j = 0; j < sn; j++) {
			cb->sids[ks + j]    = sd->span_ids[so + j];
			cb->snodes[ks + j]  = nm[sd->span_nodes[so + j]];
			cb->svalues[ks + j] = sd->span_values[so + j];
		}
		cb->scounts[i] = (uint32_t) block_span_sort(cb->sids + ks,
		    cb->snodes + ks, cb->svalues + ks, sn);
		ks += cb->scounts[i];
	}
	if (bases != base)
		free(bases);
	*out = (block_sdata) { (uint32_t) np, cb->times, cb->totals,
		has_id ? cb->ids : NULL, cb->counts, k, cb->nodes, cb->values,
		ks > 0 ? cb->scounts : NULL, ks, cb->sids, cb->snodes,
		cb->svalues };
	return 0;
nomem:
	return hearth_err_set(err, HEARTH_ENOMEM,
	    "out of memory merging a series");
}

/* ---- compaction ----------------------------------------------------------- */

/* The blocks of the first complete window, with references (caller
 * unrefs): per tenant in name order, level 0 before level 1, the earliest
 * epoch-aligned window (L1: 2 h, L2: 1 day) holding the first profile of
 * a block of that level, once the tenant has a block whose first profile
 * lies past the window (later data has arrived, so the window is done
 * unless late data trickles in, which then merges on its own). Aligned
 * windows keep old and new data apart: a merged block never spans more
 * than its window plus one source's length, so retention, which deletes
 * whole blocks, is never held back by a recent profile in an old block. */
static size_t
cmp_pick(const block_list *l, block ***out, uint32_t *level)
{
	static const int64_t win_ms[2] = { HEARTH_BLOCKS_L1_WINDOW_MS,
		HEARTH_BLOCKS_L2_WINDOW_MS };
	for (size_t t = 0; t < l->n; t++) {
		const block_tenant *bt	   = &l->tenants[t];
		int64_t		    latest = INT64_MIN;
		for (size_t i = 0; i < bt->n; i++)
			if (block_ms(bt->blocks[i]->min_ns) > latest)
				latest = block_ms(bt->blocks[i]->min_ns);
		for (uint32_t lv = 0; lv < 2; lv++) {
			int64_t best = INT64_MAX;
			size_t	n    = 0;
			for (size_t i = 0; i < bt->n; i++) {
				const block *b = bt->blocks[i];
				int64_t	     w = block_floor_div(
				    block_ms(b->min_ns), win_ms[lv]);
				if (b->level == lv && w < best &&
				    (w + 1) * win_ms[lv] <= latest)
					best = w;
			}
			if (best == INT64_MAX)
				continue;
			block **v = malloc(bt->n * sizeof(*v));
			if (v == NULL)
				return 0; /* try again next step */
			for (size_t i = 0; i < bt->n; i++) {
				block *b = bt->blocks[i];
				if (b->level == lv &&
				    block_floor_div(block_ms(b->min_ns),
					win_ms[lv]) == best) {
					block_ref(b);
					v[n++] = b;
				}
			}
			*out   = v;
			*level = lv + 1;
			return n;
		}
	}
	return 0;
}

static int
cmp_marker(hearth_kv_batch *b, const char *tenant, uint64_t id, int del)
{
	uint8_t *k = malloc(strlen(tenant) + BLOCK_KEY_EXTRA);
	if (k == NULL)
		return HEARTH_ENOMEM;
	size_t kl = block_meta_key(k, "bp", tenant, id);
	if (del)
		hearth_kv_batch_delete(b, HEARTH_KV_META, k, kl);
	else
		hearth_kv_batch_put(b, HEARTH_KV_META, k, kl, "", 0);
	free(k);
	return 0;
}

/* Write the merged block into b, writing b ahead (under a bp marker) when
 * it grows past BLOCK_CHUNK_BYTES; *marked tells whether that happened. */
static int
cmp_write(cmp_ctx *c, uint32_t level, uint64_t id, hearth_kv_batch *b,
    int *marked, block **out, hearth_err *err)
{
	block_out     o;
	cmp_buf	      cb;
	block_sdata   sd;
	hearth_arena *a	   = hearth_arena_new(0);
	ZSTD_DCtx    *dctx = ZSTD_createDCtx();
	uint8_t	     *key  = malloc(strlen(c->tenant) + BLOCK_KEY_EXTRA);
	int	      rc   = 0;
	memset(&cb, 0, sizeof(cb));
	memset(&o, 0, sizeof(o));
	if (a == NULL || dctx == NULL || key == NULL ||
	    block_out_init(&o, c->bs, b, c->tenant, id, level,
		(uint32_t) c->n_nodes, BLOCK_ZLEVEL_COMPACT) != 0) {
		rc = hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
		goto done;
	}
	qsort_r(c->series, c->n_series, sizeof(*c->series), cmp_series_cmp, c);
	for (size_t i = 0; rc == 0 && i < c->n_series; i++) {
		const cmp_series *s = &c->series[i];
		if ((rc = cmp_merge_series(c, s, a, dctx, key, &cb, &sd,
			 err)) != 0 ||
		    (rc = block_out_series(&o, s->lnames, s->lvalues,
			 s->n_labels, &sd, err)) != 0)
			break;
		hearth_arena_reset(a);
		if (hearth_kv_batch_bytes(b) < BLOCK_CHUNK_BYTES)
			continue;
		if (!*marked && cmp_marker(b, c->tenant, id, 0) != 0) {
			rc = hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
			break;
		}
		if ((rc = hearth_kv_write(c->bs->kv, b, 0, err)) != 0)
			break;
		*marked = 1;
		hearth_kv_batch_clear(b);
	}
	if (rc == 0)
		rc = block_out_finish(&o, c->strs, (uint32_t) c->n_strs,
		    c->parent, c->name, (uint32_t) c->n_nodes, out, err);
done:
	block_out_fini(&o);
	cmp_buf_fini(&cb);
	free(key);
	ZSTD_freeDCtx(dctx);
	hearth_arena_free(a);
	return rc;
}

/* Best effort after a failed compaction that had written ahead: the keys
 * go now, or at the next open (the bp marker). */
static void
cmp_undo(hearth_blocks *bs, const char *tenant, uint64_t id)
{
	hearth_err	 e;
	hearth_kv_batch *b = hearth_kv_batch_new();
	if (b == NULL)
		return;
	if (block_delete_keys(b, tenant, id) == 0 &&
	    cmp_marker(b, tenant, id, 1) == 0)
		(void) hearth_kv_write(bs->kv, b, 0, &e);
	hearth_kv_batch_free(b);
}

static int
cmp_run(hearth_blocks *bs, block **src, size_t n, uint32_t level,
    hearth_err *err)
{
	static char	 empty[1] = "";
	cmp_ctx		 c;
	block		*nb = NULL;
	hearth_kv_batch *b  = NULL;
	char		 qt[256];
	uint64_t	 in_bytes = 0, id = 0;
	int		 rc = 0, marked = 0;
	uint32_t	 root;
	double		 t0 = cmp_now();
	for (size_t i = 0; i < n; i++)
		in_bytes += src[i]->bytes;
	hearth_log_quote(qt, sizeof(qt), src[0]->tenant);
	hearth_log_write(&bs->log, HEARTH_LOG_INFO, "compaction started",
	    "tenant=%s level=%u blocks=%zu bytes=%llu", qt, level, n,
	    (unsigned long long) in_bytes);
	memset(&c, 0, sizeof(c));
	c.bs	 = bs;
	c.tenant = src[0]->tenant;
	if ((c.src = calloc(n, sizeof(*c.src))) == NULL ||
	    cmp_str_intern(&c, empty, &root) != 0 ||
	    BLOCK_GROW(c.parent, c.cap_parent, 1) != 0 ||
	    BLOCK_GROW(c.name, c.cap_name, 1) != 0) {
		rc = hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
		goto done;
	}
	c.parent[0] = c.name[0] = 0;
	c.n_nodes		= 1;
	c.n_src			= n;
	for (size_t i = 0; i < n; i++) {
		c.src[i].b = src[i];
		if ((rc = block_hdr_get(bs, src[i], 0, &c.src[i].h, err)) != 0)
			goto done;
		if ((rc = cmp_map_source(&c, (uint32_t) i)) != 0) {
			rc = hearth_err_set(err, rc, "out of memory");
			goto done;
		}
	}
	id = block_alloc_id(bs);
	if ((b = hearth_kv_batch_new()) == NULL) {
		rc = hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = cmp_write(&c, level, id, b, &marked, &nb, err)) != 0)
		goto done;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = block_delete_keys(b, src[i]->tenant, src[i]->id);
	if (rc == 0 && marked)
		rc = cmp_marker(b, c.tenant, id, 1);
	if (rc != 0) {
		rc = hearth_err_set(err, rc, "out of memory");
		goto done;
	}
	rc = block_write_and_swap(bs, b, src, n, &nb, 1, err);
done:
	if (rc != 0 && marked)
		cmp_undo(bs, c.tenant, id);
	if (rc == 0) {
		uint64_t lo_id = UINT64_MAX, hi_id = 0;
		for (size_t i = 0; i < n; i++) {
			lo_id = src[i]->id < lo_id ? src[i]->id : lo_id;
			hi_id = src[i]->id > hi_id ? src[i]->id : hi_id;
		}
		block_reclaim(bs, src[0]->tenant, lo_id, hi_id, "compaction");
		double secs = cmp_now() - t0;
		hearth_metric_add(bs->m_compactions, NULL, 1);
		hearth_metric_observe(bs->m_compaction_secs, NULL, secs);
		hearth_log_write(&bs->log, HEARTH_LOG_INFO, "compaction done",
		    "tenant=%s level=%u blocks=%zu bytes_in=%llu bytes=%llu "
		    "profiles=%llu samples=%llu duration=%.3fs",
		    qt, level, n, (unsigned long long) in_bytes,
		    (unsigned long long) nb->bytes,
		    (unsigned long long) nb->profiles,
		    (unsigned long long) nb->samples, secs);
	} else
		hearth_err_prefix(err, "compaction of %zu blocks of %s", n,
		    src[0]->tenant);
	block_unref(nb); /* the list has its own reference */
	hearth_kv_batch_free(b);
	cmp_ctx_fini(&c);
	return rc;
}

int
hearth_blocks_compact_step(hearth_blocks *bs, hearth_err *err)
{
	block  **src = NULL;
	uint32_t level;
	pthread_mutex_lock(&bs->bg_mu);
	block_list *l = block_list_get(bs);
	size_t	    n = cmp_pick(l, &src, &level);
	block_list_put(l);
	int rc = n > 0 ? cmp_run(bs, src, n, level, err) : 0;
	for (size_t i = 0; i < n; i++)
		block_unref(src[i]);
	free(src);
	pthread_mutex_unlock(&bs->bg_mu);
	return rc != 0 ? rc : n > 0;
}
