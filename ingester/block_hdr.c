/*
 * block_hdr: a block's Header value checked and decoded into the form
 * queries use (block_impl.h block_hdr): strings, stack tree, series,
 * profile times and totals, postings; selection of series by a selector
 * and of profiles and chunks by time.
 */
#include "block_impl.h"

#include <stdlib.h>
#include <string.h>

#define CORRUPT(err, ...) hearth_err_set((err), HEARTH_ECORRUPT, __VA_ARGS__)

/* ---- header ------------------------------------------------------------- */

void
block_hdr_free(block_hdr *h)
{
	if (h == NULL)
		return;
	free(h->strs);
	free(h->str_lens);
	free(h->pool);
	free(h->parent);
	free(h->name);
	free(h->series);
	free(h->labels);
	free(h->times);
	free(h->totals);
	free(h->lnames);
	free(h->pairs);
	free(h->pair_ids);
	free(h->win_start);
	free(h->win_first);
	free(h->win_digest);
	free(h);
}

static void *
codec_alloc(block_hdr *h, size_t n, size_t size)
{
	void *p = calloc(n + 1, size); /* + 1: never a zero-size request */
	if (p != NULL)
		h->bytes += (n + 1) * size;
	return p;
}

static int
codec_hdr_strings(block_hdr *h, const Hearth__Block__Header *m,
    hearth_err *err)
{
	size_t pool = 0;
	if (m->n_strings == 0 || m->n_strings > UINT32_MAX ||
	    m->strings[0][0] != '\0')
		return CORRUPT(err, "header: string 0 must be \"\"");
	for (size_t i = 0; i < m->n_strings; i++)
		pool += strlen(m->strings[i]) + 1;
	h->n_strs   = (uint32_t) m->n_strings;
	h->strs	    = codec_alloc(h, h->n_strs, sizeof(*h->strs));
	h->str_lens = codec_alloc(h, h->n_strs, sizeof(*h->str_lens));
	h->pool	    = codec_alloc(h, pool, 1);
	if (!h->strs || !h->str_lens || !h->pool)
		return HEARTH_ENOMEM;
	char *p = h->pool;
	for (uint32_t i = 0; i < h->n_strs; i++) {
		size_t len = strlen(m->strings[i]);
		if (len > UINT32_MAX)
			return CORRUPT(err, "header: string %u too long", i);
		memcpy(p, m->strings[i], len + 1);
		h->strs[i]     = p;
		h->str_lens[i] = (uint32_t) len;
		p += len + 1;
	}
	return 0;
}

static int
codec_hdr_nodes(block_hdr *h, const Hearth__Block__Header *m,
    hearth_err *err)
{
	if (m->n_node_parent != m->n_node_name ||
	    m->n_node_parent >= UINT32_MAX)
		return CORRUPT(err, "header: %zu node parents, %zu names",
		    m->n_node_parent, m->n_node_name);
	h->n_nodes = (uint32_t) m->n_node_parent + 1;
	h->parent  = codec_alloc(h, h->n_nodes, sizeof(*h->parent));
	h->name	   = codec_alloc(h, h->n_nodes, sizeof(*h->name));
	if (h->parent == NULL || h->name == NULL)
		return HEARTH_ENOMEM;
	for (uint32_t i = 1; i < h->n_nodes; i++) {
		uint32_t d = m->node_parent[i - 1], nm = m->node_name[i - 1];
		if (d == 0 || d > i || nm >= h->n_strs)
			return CORRUPT(err, "header: node %u has parent delta "
					    "%u, name %u",
			    i, d, nm);
		h->parent[i] = i - d; /* < i: invariant (2) of block.h */
		h->name[i]   = nm;
	}
	return 0;
}

static int
codec_hdr_series(block_hdr *h, const Hearth__Block__Header *m,
    hearth_err *err)
{
	size_t ns = m->n_label_counts, nl = 0, np = 0;
	if (ns >= UINT32_MAX || m->n_profile_counts != ns ||
	    m->n_sample_counts != ns ||
	    (m->n_span_counts != 0 && m->n_span_counts != ns))
		return CORRUPT(err, "header: series columns disagree");
	for (size_t i = 0; i < ns; i++) {
		nl += m->label_counts[i];
		np += m->profile_counts[i];
	}
	if (nl != m->n_label_names || nl != m->n_label_values ||
	    np != m->n_time_deltas || np != m->n_totals || np >= UINT32_MAX)
		return CORRUPT(err, "header: %zu labels / %zu profiles, columns "
				    "disagree",
		    nl, np);
	h->n_series   = (uint32_t) ns;
	h->n_profiles = (uint32_t) np;
	h->series     = codec_alloc(h, ns, sizeof(*h->series));
	h->labels     = codec_alloc(h, nl, sizeof(*h->labels));
	h->times      = codec_alloc(h, np, sizeof(*h->times));
	h->totals     = codec_alloc(h, np, sizeof(*h->totals));
	if (!h->series || !h->labels || !h->times || !h->totals)
		return HEARTH_ENOMEM;
	size_t l = 0, p = 0;
	for (uint32_t s = 0; s < ns; s++) {
		block_hseries *hs = &h->series[s];
		hs->labels	  = &h->labels[l];
		hs->n_labels	  = m->label_counts[s];
		hs->first	  = (uint32_t) p;
		hs->n_profiles	  = m->profile_counts[s];
		hs->n_samples	  = m->sample_counts[s];
		/* No column: a block from before span rows, which has none. */
		hs->n_span_rows = m->n_span_counts != 0 ? m->span_counts[s] : 0;
		for (uint32_t i = 0; i < hs->n_labels; i++, l++) {
			uint32_t kn = m->label_names[l], kv = m->label_values[l];
			if (kn >= h->n_strs || kv >= h->n_strs || kn == 0 ||
			    kv == 0 ||
			    (i > 0 && strcmp(h->strs[kn],
					  hs->labels[i - 1].name) <= 0))
				return CORRUPT(err, "header: series %u label %u "
						    "is empty or out of order",
				    s, i);
			h->labels[l] = (hearth_label) { h->strs[kn],
				h->strs[kv] };
		}
		int64_t t = m->min_time_nanos;
		for (uint32_t i = 0; i < hs->n_profiles; i++, p++) {
			if (m->time_deltas[p] > INT64_MAX ||
			    __builtin_add_overflow(t,
				(int64_t) m->time_deltas[p], &t) ||
			    t > m->max_time_nanos || m->totals[p] > INT64_MAX)
				return CORRUPT(err, "header: series %u profile "
						    "%u time or total out of "
						    "range",
				    s, i);
			h->times[p]  = t;
			h->totals[p] = (int64_t) m->totals[p];
		}
	}
	return 0;
}

/* Windows of every series (their profiles are sorted: one run each) and
 * the stored digests, which must be one per window or none at all (a
 * block written before they existed). */
static int
codec_hdr_windows(block_hdr *h, const Hearth__Block__Header *m,
    const char *tenant, hearth_err *err)
{
	size_t nw = 0;
	for (uint32_t s = 0; s < h->n_series; s++) {
		block_hseries *hs = &h->series[s];
		hs->fp = hearth_labels_fingerprint(tenant, hs->labels,
		    hs->n_labels);
		for (uint32_t i = 0; i < hs->n_profiles; i++)
			if (i == 0 ||
			    hearth_dedup_window_of(
				block_ms(h->times[hs->first + i])) !=
				hearth_dedup_window_of(
				    block_ms(h->times[hs->first + i - 1])))
				nw++;
	}
	if (nw >= UINT32_MAX)
		return CORRUPT(err, "header: %zu windows", nw);
	if (m->n_window_digests != 0 && m->n_window_digests != nw)
		return CORRUPT(err, "header: %zu window digests for %zu windows",
		    m->n_window_digests, nw);
	h->n_wins     = (uint32_t) nw;
	h->win_start  = codec_alloc(h, nw, sizeof(*h->win_start));
	h->win_first  = codec_alloc(h, nw, sizeof(*h->win_first));
	if (h->win_start == NULL || h->win_first == NULL)
		return HEARTH_ENOMEM;
	if (m->n_window_digests != 0) {
		h->win_digest = codec_alloc(h, nw, sizeof(*h->win_digest));
		if (h->win_digest == NULL)
			return HEARTH_ENOMEM;
		memcpy(h->win_digest, m->window_digests,
		    nw * sizeof(*h->win_digest));
	}
	size_t k = 0;
	for (uint32_t s = 0; s < h->n_series; s++) {
		block_hseries *hs = &h->series[s];
		hs->first_win	  = (uint32_t) k;
		for (uint32_t i = 0; i < hs->n_profiles; i++) {
			int64_t w = hearth_dedup_window_of(
			    block_ms(h->times[hs->first + i]));
			if (i > 0 && w == h->win_start[k - 1])
				continue;
			h->win_start[k]	  = w;
			h->win_first[k++] = i;
		}
		hs->n_win = (uint32_t) k - hs->first_win;
	}
	return 0;
}

/* Postings, built once per decode: (name, value) pairs with their series,
 * names sorted by bytes, each name's values sorted by bytes. */
typedef struct codec_trip {
	uint32_t name, value, series;
} codec_trip;

static int
codec_trip_cmp(const void *a, const void *b)
{
	const codec_trip *x = a, *y = b;
	if (x->name != y->name)
		return x->name < y->name ? -1 : 1;
	if (x->value != y->value)
		return x->value < y->value ? -1 : 1;
	return x->series < y->series ? -1 : x->series > y->series;
}

static int
codec_pair_cmp(const void *a, const void *b)
{
	const block_pair *x = a, *y = b;
	return strcmp(x->value, y->value);
}

static int
codec_lname_cmp(const void *a, const void *b)
{
	const block_lname *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int
codec_hdr_postings(block_hdr *h, hearth_err *err)
{
	size_t	    nl = 0, k = 0;
	(void) err;
	for (uint32_t s = 0; s < h->n_series; s++)
		nl += h->series[s].n_labels;
	codec_trip *tr = malloc((nl + 1) * sizeof(*tr));
	h->pair_ids    = codec_alloc(h, nl, sizeof(*h->pair_ids));
	if (tr == NULL || h->pair_ids == NULL) {
		free(tr);
		return HEARTH_ENOMEM;
	}
	/* Label strings point into the pool, so their offset is an id that
	 * is equal exactly for equal strings (the table is unique). */
	for (uint32_t s = 0; s < h->n_series; s++)
		for (uint32_t i = 0; i < h->series[s].n_labels; i++)
			tr[k++] = (codec_trip) {
				(uint32_t) (h->series[s].labels[i].name - h->pool),
				(uint32_t) (h->series[s].labels[i].value - h->pool),
				s
			};
	qsort(tr, nl, sizeof(*tr), codec_trip_cmp);
	size_t n_pairs = 0, n_names = 0;
	for (size_t i = 0; i < nl; i++) {
		if (i == 0 || tr[i].name != tr[i - 1].name)
			n_names++;
		if (i == 0 || tr[i].name != tr[i - 1].name ||
		    tr[i].value != tr[i - 1].value)
			n_pairs++;
	}
	h->pairs  = codec_alloc(h, n_pairs, sizeof(*h->pairs));
	h->lnames = codec_alloc(h, n_names, sizeof(*h->lnames));
	if (h->pairs == NULL || h->lnames == NULL) {
		free(tr);
		return HEARTH_ENOMEM;
	}
	size_t pi = 0, ni = 0;
	for (size_t i = 0; i < nl; i++) {
		int new_name = i == 0 || tr[i].name != tr[i - 1].name;
		if (new_name || tr[i].value != tr[i - 1].value) {
			if (new_name)
				h->lnames[ni++] = (block_lname) {
					h->pool + tr[i].name, (uint32_t) pi, 0
				};
			const char *v = h->pool + tr[i].value;
			h->pairs[pi++] = (block_pair) { v, (uint32_t) strlen(v),
				(uint32_t) i, 0 };
			h->lnames[ni - 1].n++;
		}
		h->pairs[pi - 1].n++;
		h->pair_ids[i] = tr[i].series; /* ascending within a pair */
	}
	free(tr);
	for (size_t i = 0; i < ni; i++)
		qsort(h->pairs + h->lnames[i].first, h->lnames[i].n,
		    sizeof(*h->pairs), codec_pair_cmp);
	qsort(h->lnames, ni, sizeof(*h->lnames), codec_lname_cmp);
	h->n_lnames = (uint32_t) ni;
	return 0;
}

int
block_hdr_decode(const Hearth__Block__Header *m, const char *tenant,
    block_hdr **out, hearth_err *err)
{
	int	   rc;
	block_hdr *h = calloc(1, sizeof(*h));
	*out	     = NULL;
	if (h == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
	atomic_init(&h->refs, 1);
	h->bytes = sizeof(*h);
	if (m->format != BLOCK_FORMAT) {
		rc = CORRUPT(err, "header: format %u, this build reads %u",
		    m->format, BLOCK_FORMAT);
		goto fail;
	}
	if (m->level >= HEARTH_BLOCKS_LEVELS ||
	    m->min_time_nanos > m->max_time_nanos) {
		rc = CORRUPT(err, "header: level %u, time range %lld..%lld",
		    m->level, (long long) m->min_time_nanos,
		    (long long) m->max_time_nanos);
		goto fail;
	}
	h->level   = m->level;
	h->rollups = m->rollups;
	h->min_ns  = m->min_time_nanos;
	h->max_ns  = m->max_time_nanos;
	if ((rc = codec_hdr_strings(h, m, err)) != 0 ||
	    (rc = codec_hdr_nodes(h, m, err)) != 0 ||
	    (rc = codec_hdr_series(h, m, err)) != 0 ||
	    (rc = codec_hdr_windows(h, m, tenant, err)) != 0 ||
	    (rc = codec_hdr_postings(h, err)) != 0)
		goto fail;
	*out = h;
	return 0;
fail:
	block_hdr_free(h);
	if (rc == HEARTH_ENOMEM)
		return hearth_err_set(err, rc, "out of memory decoding a "
					       "block header");
	return rc;
}

/* ---- selection ---------------------------------------------------------- */

static const block_lname *
codec_find_name(const block_hdr *h, const char *name)
{
	uint32_t lo = 0, hi = h->n_lnames;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int	 c   = strcmp(h->lnames[mid].name, name);
		if (c == 0)
			return &h->lnames[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static const block_pair *
codec_find_value(const block_hdr *h, const block_lname *ln, const char *v)
{
	uint32_t lo = 0, hi = ln->n;
	while (lo < hi) {
		uint32_t	  mid = lo + (hi - lo) / 2;
		const block_pair *p   = &h->pairs[ln->first + mid];
		int		  c   = strcmp(p->value, v);
		if (c == 0)
			return p;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void
codec_bits_pair(uint64_t *bits, const block_hdr *h, const block_pair *p,
    int set)
{
	for (uint32_t k = p->off; k < p->off + p->n; k++) {
		uint64_t bit = (uint64_t) 1 << (h->pair_ids[k] % 64);
		if (set)
			bits[h->pair_ids[k] / 64] |= bit;
		else
			bits[h->pair_ids[k] / 64] &= ~bit;
	}
}

/* One bitmap per matcher, ANDed: a matcher that matches "" starts from
 * every series and removes those whose value fails it (series without
 * the label have "" and stay: selector.h semantics (1)); any other
 * matcher starts empty and adds the series of the values it matches.
 * Each distinct value is tested once, however many series carry it. */
int
block_hdr_select(const block_hdr *h, const hearth_selector *sel,
    hearth_arena *a, uint32_t **ids, size_t *n, hearth_err *err)
{
	size_t	  words = ((size_t) h->n_series + 63) / 64, nm = sel ? sel->n : 0;
	uint64_t *cand	= hearth_arena_alloc(a, (words + 1) * sizeof(*cand));
	uint64_t *bm	= hearth_arena_alloc(a, (words + 1) * sizeof(*bm));
	*ids		= NULL;
	*n		= 0;
	if (cand == NULL || bm == NULL)
		goto nomem;
	memset(cand, 0xff, words * sizeof(*cand));
	if (h->n_series % 64 != 0)
		cand[words - 1] = ((uint64_t) 1 << (h->n_series % 64)) - 1;
	for (size_t i = 0; i < nm; i++) {
		const hearth_matcher *m	    = &sel->matchers[i];
		const block_lname    *ln    = codec_find_name(h, m->name);
		int		      empty = hearth_matcher_matches_empty(m);
		memset(bm, empty ? 0xff : 0, words * sizeof(*bm));
		if (ln != NULL && !empty && m->op == HEARTH_MATCH_EQ) {
			const block_pair *p = codec_find_value(h, ln, m->value);
			if (p != NULL)
				codec_bits_pair(bm, h, p, 1);
		} else if (ln != NULL)
			for (uint32_t k = 0; k < ln->n; k++) {
				const block_pair *p = &h->pairs[ln->first + k];
				int ok = hearth_matcher_match(m, p->value, p->len);
				if (ok != empty)
					codec_bits_pair(bm, h, p, ok);
			}
		for (size_t w = 0; w < words; w++)
			cand[w] &= bm[w];
	}
	size_t total = 0;
	for (size_t w = 0; w < words; w++)
		total += (size_t) __builtin_popcountll(cand[w]);
	uint32_t *out = hearth_arena_alloc(a, (total + 1) * sizeof(*out));
	if (out == NULL)
		goto nomem;
	for (size_t w = 0; w < words; w++)
		for (uint64_t b = cand[w]; b != 0; b &= b - 1)
			out[(*n)++] = (uint32_t) (w * 64 +
			    (size_t) __builtin_ctzll(b));
	*ids = out;
	return 0;
nomem:
	return hearth_err_set(err, HEARTH_ENOMEM,
	    "select: the query needs more memory than its limit allows (%u "
	    "series in a block)",
	    h->n_series);
}

/* First profile of series s (sorted) whose ms time is >= ms. */
static uint32_t
codec_lower(const block_hdr *h, const block_hseries *hs, int64_t ms)
{
	uint32_t lo = 0, hi = hs->n_profiles;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (block_ms(h->times[hs->first + mid]) < ms)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int64_t
block_hdr_chunk_of(const block_hdr *h, uint32_t s, int64_t ms)
{
	int64_t first = block_ms(h->times[h->series[s].first]);
	return block_floor_div(ms, BLOCK_CHUNK_MS) -
	    block_floor_div(first, BLOCK_CHUNK_MS);
}

void
block_hdr_chunk(const block_hdr *h, uint32_t s, uint32_t p, uint32_t *chunk,
    uint32_t *lo, uint32_t *hi)
{
	const block_hseries *hs = &h->series[s];
	int64_t w = block_floor_div(block_ms(h->times[hs->first + p]),
	    BLOCK_CHUNK_MS);
	*chunk	  = (uint32_t) block_hdr_chunk_of(h, s, w * BLOCK_CHUNK_MS);
	*lo	  = codec_lower(h, hs, w * BLOCK_CHUNK_MS);
	*hi	  = codec_lower(h, hs, (w + 1) * BLOCK_CHUNK_MS);
}

void
block_hdr_range(const block_hdr *h, uint32_t s, int64_t start_ms,
    int64_t end_ms, uint32_t *lo, uint32_t *hi)
{
	const block_hseries *hs = &h->series[s];
	*lo			= codec_lower(h, hs, start_ms);
	*hi			= codec_lower(h, hs, end_ms);
	if (*hi < *lo)
		*hi = *lo;
}
