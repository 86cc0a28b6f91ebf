/*
 * block_write: turning series into stored values (block_out, shared by the
 * flush and by compaction) and the flush itself: a cut head's tenants into
 * level-0 blocks. The head is read through head_impl.h (same folder): a
 * cut head is immutable, and copying its arrays directly is what keeps a
 * flush cheap.
 */
#include "block_impl.h"
#include "head_impl.h"

#include <stdlib.h>
#include <string.h>

int64_t
block_sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return a > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* ---- sorting samples ---------------------------------------------------- */

static void
write_swap(uint32_t *n, int64_t *v, size_t i, size_t j)
{
	uint32_t tn = n[i];
	int64_t	 tv = v[i];
	n[i]	    = n[j];
	v[i]	    = v[j];
	n[j]	    = tn;
	v[j]	    = tv;
}

/* Quicksort of parallel arrays by node, [lo, hi); recursion only into the
 * smaller side, so depth stays O(log n). */
static void
write_qsort(uint32_t *n, int64_t *v, size_t lo, size_t hi)
{
	while (hi - lo > 16) {
		size_t	 mid = lo + (hi - lo) / 2;
		/* median of three into lo */
		if (n[mid] < n[lo])
			write_swap(n, v, mid, lo);
		if (n[hi - 1] < n[lo])
			write_swap(n, v, hi - 1, lo);
		if (n[hi - 1] < n[mid])
			write_swap(n, v, hi - 1, mid);
		write_swap(n, v, lo, mid);
		uint32_t p = n[lo];
		size_t	 i = lo, j = hi;
		for (;;) {
			do
				i++;
			while (i < hi && n[i] < p);
			do
				j--;
			while (n[j] > p);
			if (i >= j)
				break;
			write_swap(n, v, i, j);
		}
		write_swap(n, v, lo, j);
		if (j - lo < hi - j - 1) {
			write_qsort(n, v, lo, j);
			lo = j + 1;
		} else {
			write_qsort(n, v, j + 1, hi);
			hi = j;
		}
	}
	for (size_t i = lo + 1; i < hi; i++)
		for (size_t j = i; j > lo && n[j - 1] > n[j]; j--)
			write_swap(n, v, j - 1, j);
}

size_t
block_sort_samples(uint32_t *nodes, int64_t *values, size_t n)
{
	size_t i = 1;
	while (i < n && nodes[i - 1] < nodes[i])
		i++;
	if (i >= n)
		return n; /* already ascending and unique: the common case */
	write_qsort(nodes, values, 0, n);
	size_t k = 0;
	for (size_t j = 0; j < n; j++) {
		if (k > 0 && nodes[k - 1] == nodes[j])
			values[k - 1] = block_sat_add(values[k - 1], values[j]);
		else {
			nodes[k]    = nodes[j];
			values[k++] = values[j];
		}
	}
	return k;
}

/* ---- block_out ---------------------------------------------------------- */

int
block_out_init(block_out *o, hearth_blocks *bs, hearth_kv_batch *b,
    const char *tenant, uint64_t id, uint32_t level, uint32_t n_nodes,
    int zlevel)
{
	memset(o, 0, sizeof(*o));
	o->bs	  = bs;
	o->b	  = b;
	o->tenant = tenant;
	o->id	  = id;
	o->level  = level;
	o->min_ns = INT64_MAX;
	o->max_ns = INT64_MIN;
	o->key	  = malloc(strlen(tenant) + BLOCK_KEY_EXTRA);
	if (o->key == NULL || block_enc_init(&o->enc, zlevel) != 0)
		goto nomem;
	if (level > 0) {
		o->acc.n_nodes = n_nodes;
		o->acc.sums    = calloc((size_t) n_nodes + 1, sizeof(int64_t));
		o->acc.touched = malloc(((size_t) n_nodes + 1) *
		    sizeof(uint32_t));
		if (o->acc.sums == NULL || o->acc.touched == NULL)
			goto nomem;
	}
	return 0;
nomem:
	block_out_fini(o);
	return HEARTH_ENOMEM;
}

static void
write_rbuf_fini(block_rbuf *rb)
{
	free(rb->rd.buckets);
	free(rb->rd.counts);
	free(rb->rd.nodes);
	free(rb->rd.values);
}

void
block_out_fini(block_out *o)
{
	block_enc_fini(&o->enc);
	free(o->key);
	free(o->acc.sums);
	free(o->acc.touched);
	write_rbuf_fini(&o->minutes);
	write_rbuf_fini(&o->hours);
	free(o->keys);
	free(o->series);
	free(o->labels);
	free(o->profs);
	free(o->digests);
	memset(o, 0, sizeof(*o));
}

void
block_out_put(block_out *o, hearth_kv_cf cf, const uint8_t *k, size_t kl,
    const uint8_t *v, size_t vl)
{
	hearth_kv_batch_put(o->b, cf, k, kl, v, vl);
	o->bytes += kl + vl;
}

/* Close the open bucket of a rollup: its touched nodes in order. A bucket
 * of profiles without samples is kept (empty): every minute with a
 * profile has a bucket, so every chunk with a profile has a value. */
static int
write_bucket(block_out *o, block_rbuf *rb, int64_t bucket)
{
	block_acc   *acc = &o->acc;
	block_rdata *rd	 = &rb->rd;
	size_t	     n	 = acc->n_touched;
	if (BLOCK_GROW(rd->buckets, rb->cap_buckets, rd->n_buckets + 1) != 0 ||
	    BLOCK_GROW(rd->counts, rb->cap_counts, rd->n_buckets + 1) != 0 ||
	    BLOCK_GROW(rd->nodes, rb->cap_nodes, rd->n_entries + n + 1) != 0 ||
	    BLOCK_GROW(rd->values, rb->cap_values, rd->n_entries + n + 1) != 0)
		return HEARTH_ENOMEM;
	/* The touched ids are distinct: sorting them with any parallel array
	 * works, the values are fetched after. */
	int64_t *scratch = rd->values + rd->n_entries;
	memset(scratch, 0, n * sizeof(*scratch));
	write_qsort(acc->touched, scratch, 0, n);
	for (size_t i = 0; i < n; i++) {
		uint32_t node			= acc->touched[i];
		rd->nodes[rd->n_entries + i]	= node;
		rd->values[rd->n_entries + i]	= acc->sums[node];
		acc->sums[node]			= 0;
	}
	rd->buckets[rd->n_buckets] = bucket;
	rd->counts[rd->n_buckets++] = (uint32_t) n;
	rd->n_entries += n;
	acc->n_touched = 0;
	return 0;
}

/* Sum groups (profiles or finer buckets) with ascending keys_ms into
 * buckets of width_ms. */
static int
write_rollup(block_out *o, block_rbuf *rb, int64_t width_ms, size_t n_groups,
    const int64_t *keys_ms, const uint32_t *counts, const uint32_t *nodes,
    const int64_t *values)
{
	block_acc *acc = &o->acc;
	int64_t	   cur = 0;
	size_t	   k   = 0;
	int	   rc;
	rb->rd.width_ms	 = width_ms;
	rb->rd.n_buckets = 0;
	rb->rd.n_entries = 0;
	for (size_t g = 0; g < n_groups; g++) {
		int64_t bucket = block_floor_div(keys_ms[g], width_ms);
		if (g > 0 && bucket != cur &&
		    (rc = write_bucket(o, rb, cur)) != 0)
			return rc;
		cur = bucket;
		for (uint32_t i = 0; i < counts[g]; i++, k++) {
			uint32_t node = nodes[k];
			if (acc->sums[node] == 0)
				acc->touched[acc->n_touched++] = node;
			acc->sums[node] = block_sat_add(acc->sums[node],
			    values[k]);
		}
	}
	return n_groups > 0 ? write_bucket(o, rb, cur) : 0;
}

static int
write_rollups(block_out *o, uint32_t idx, const block_sdata *sd)
{
	int rc;
	if (BLOCK_GROW(o->keys, o->cap_keys, (size_t) sd->n_profiles + 1) != 0)
		return HEARTH_ENOMEM;
	for (uint32_t p = 0; p < sd->n_profiles; p++)
		o->keys[p] = block_ms(sd->times[p]);
	if ((rc = write_rollup(o, &o->minutes, BLOCK_MINUTE_MS,
		 sd->n_profiles, o->keys, sd->counts, sd->nodes,
		 sd->values)) != 0)
		return rc;
	const block_rdata *m = &o->minutes.rd;
	if (BLOCK_GROW(o->keys, o->cap_keys, (size_t) m->n_buckets + 1) != 0)
		return HEARTH_ENOMEM;
	for (uint32_t i = 0; i < m->n_buckets; i++)
		o->keys[i] = m->buckets[i] * BLOCK_MINUTE_MS;
	if ((rc = write_rollup(o, &o->hours, BLOCK_HOUR_MS, m->n_buckets,
		 o->keys, m->counts, m->nodes, m->values)) != 0)
		return rc;
	/* Minute buckets in chunks of BLOCK_CHUNK_MS windows. */
	int64_t w0 = block_floor_div(block_ms(sd->times[0]), BLOCK_CHUNK_MS);
	size_t	kl, e = 0;
	for (uint32_t i = 0, j; i < m->n_buckets; i = j) {
		int64_t w = block_floor_div(m->buckets[i] * BLOCK_MINUTE_MS,
		    BLOCK_CHUNK_MS);
		size_t	n = 0;
		for (j = i; j < m->n_buckets &&
		     block_floor_div(m->buckets[j] * BLOCK_MINUTE_MS,
			 BLOCK_CHUNK_MS) == w;
		     j++)
			n += m->counts[j];
		block_rdata part = { m->width_ms, j - i, m->buckets + i,
			m->counts + i, n, m->nodes + e, m->values + e };
		e += n;
		if ((rc = block_enc_rollup(&o->enc, &part)) != 0)
			return rc;
		kl = block_key(o->key, o->tenant, o->id, BLOCK_KEY_MINUTES, idx,
		    (uint32_t) (w - w0));
		block_out_put(o, HEARTH_KV_BLOCKS, o->key, kl, o->enc.out,
		    o->enc.out_len);
	}
	if ((rc = block_enc_rollup(&o->enc, &o->hours.rd)) != 0)
		return rc;
	kl = block_key(o->key, o->tenant, o->id, BLOCK_KEY_HOURS, idx, 0);
	block_out_put(o, HEARTH_KV_BLOCKS, o->key, kl, o->enc.out,
	    o->enc.out_len);
	return 0;
}

int
block_out_series(block_out *o, const uint32_t *lnames,
    const uint32_t *lvalues, uint32_t n_labels, const block_sdata *sd,
    hearth_err *err)
{
	int rc;
	HEARTH_ASSERT(sd->n_profiles > 0);
	if (o->n_series >= UINT32_MAX ||
	    BLOCK_GROW(o->series, o->cap_series, o->n_series + 1) != 0 ||
	    BLOCK_GROW(o->labels, o->cap_labels, o->n_labels + n_labels) != 0 ||
	    BLOCK_GROW(o->profs, o->cap_profs, o->n_profs + sd->n_profiles) !=
		0)
		goto nomem;
	uint32_t idx	 = (uint32_t) o->n_series++;
	size_t	 n_span = sd->span_counts != NULL ? sd->n_span_rows : 0;
	o->series[idx] = (block_oseries) { n_labels, sd->n_profiles,
		sd->n_samples, n_span };
	o->has_spans |= n_span > 0;
	for (uint32_t i = 0; i < n_labels; i++)
		o->labels[o->n_labels++] = (block_olabel) { lnames[i],
			lvalues[i] };
	for (uint32_t p = 0; p < sd->n_profiles; p++) {
		HEARTH_ASSERT(p == 0 || sd->times[p - 1] <= sd->times[p]);
		o->profs[o->n_profs++] = (block_oprof) { sd->times[p],
			sd->totals[p] };
	}
	/* One id digest per de-duplication window of the series, in the
	 * order the header decode derives the windows from the times. */
	for (uint32_t p = 0; p < sd->n_profiles; p++) {
		int64_t	 w = hearth_dedup_window_of(block_ms(sd->times[p]));
		uint64_t d = hearth_dedup_id_hash(
		    sd->ids != NULL ? sd->ids + (size_t) p * 16 : NULL);
		if (p > 0 && w == hearth_dedup_window_of(
				      block_ms(sd->times[p - 1]))) {
			o->digests[o->n_digests - 1] += d; /* mod 2^64 */
			continue;
		}
		if (BLOCK_GROW(o->digests, o->cap_digests, o->n_digests + 1) !=
		    0)
			goto nomem;
		o->digests[o->n_digests++] = d;
	}
	if (sd->times[0] < o->min_ns)
		o->min_ns = sd->times[0];
	if (sd->times[sd->n_profiles - 1] > o->max_ns)
		o->max_ns = sd->times[sd->n_profiles - 1];
	o->samples += sd->n_samples;
	/* Samples in chunks of BLOCK_CHUNK_MS windows of profile time. */
	int64_t w0 = block_floor_div(block_ms(sd->times[0]), BLOCK_CHUNK_MS);
	size_t	off = 0, srow = 0;
	for (uint32_t p = 0, q; p < sd->n_profiles; p = q) {
		int64_t w = block_floor_div(block_ms(sd->times[p]),
		    BLOCK_CHUNK_MS);
		size_t	n = 0;
		for (q = p; q < sd->n_profiles &&
		     block_floor_div(block_ms(sd->times[q]), BLOCK_CHUNK_MS) ==
			 w;
		     q++)
			n += sd->counts[q];
		block_sdata part = { q - p, sd->times + p, sd->totals + p,
			sd->ids != NULL ? sd->ids + (size_t) p * 16 : NULL,
			sd->counts + p, n, sd->nodes + off, sd->values + off,
			NULL, 0, NULL, NULL, NULL };
		off += n;
		if ((rc = block_enc_samples(&o->enc, &part)) != 0)
			goto nomem;
		size_t kl = block_key(o->key, o->tenant, o->id,
		    BLOCK_KEY_SAMPLES, idx, (uint32_t) (w - w0));
		block_out_put(o, HEARTH_KV_BLOCKS, o->key, kl, o->enc.out,
		    o->enc.out_len);
		/* Every chunk of a series with span rows gets a Spans value
		 * (maybe empty), so a missing one means what a missing
		 * samples chunk means. */
		if (n_span > 0 &&
		    (rc = block_out_spans(o, idx, (uint32_t) (w - w0), sd, p, q,
			 &srow)) != 0)
			goto nomem;
	}
	if (o->level > 0 && (rc = write_rollups(o, idx, sd)) != 0)
		goto nomem;
	return 0;
nomem:
	return hearth_err_set(err, HEARTH_ENOMEM,
	    "block %s/%llu: out of memory writing series %zu", o->tenant,
	    (unsigned long long) o->id, o->n_series);
}

static int
write_header(block_out *o, char *const *strs, uint32_t n_strs,
    const uint32_t *parent, const uint32_t *name, uint32_t n_nodes)
{
	Hearth__Block__Header m = HEARTH__BLOCK__HEADER__INIT;
	size_t ns = o->n_series, nl = o->n_labels, np = o->n_profs;
	size_t nn = n_nodes > 0 ? n_nodes - 1 : 0;
	uint32_t *u32 = malloc((2 * nn + 2 * ns + 2 * nl + 1) * sizeof(*u32));
	uint64_t *u64 = malloc((2 * ns + 2 * np + 1) * sizeof(*u64));
	int	  rc  = HEARTH_ENOMEM;
	if (u32 == NULL || u64 == NULL)
		goto done;
	m.format	 = BLOCK_FORMAT;
	m.level		 = o->level;
	m.min_time_nanos = o->min_ns;
	m.max_time_nanos = o->max_ns;
	m.rollups	 = o->level > 0;
	m.strings	 = (char **) strs;
	m.n_strings	 = n_strs;
	m.node_parent	 = u32;
	m.node_name	 = u32 + nn;
	m.n_node_parent = m.n_node_name = nn;
	for (uint32_t i = 1; i < n_nodes; i++) {
		m.node_parent[i - 1] = i - parent[i];
		m.node_name[i - 1]   = name[i];
	}
	m.label_counts	 = u32 + 2 * nn;
	m.profile_counts = m.label_counts + ns;
	m.label_names	 = m.profile_counts + ns;
	m.label_values	 = m.label_names + nl;
	m.sample_counts	 = u64;
	m.time_deltas	 = u64 + ns;
	m.totals	 = u64 + ns + np;
	m.n_label_counts = m.n_profile_counts = m.n_sample_counts = ns;
	m.n_label_names = m.n_label_values = nl;
	m.n_time_deltas = m.n_totals = np;
	m.window_digests   = o->digests;
	m.n_window_digests = o->n_digests;
	if (o->has_spans) {
		m.span_counts	= u64 + ns + 2 * np;
		m.n_span_counts = ns;
		for (size_t i = 0; i < ns; i++)
			m.span_counts[i] = o->series[i].n_span_rows;
	}
	for (size_t i = 0; i < nl; i++) {
		m.label_names[i]  = o->labels[i].name;
		m.label_values[i] = o->labels[i].value;
	}
	size_t p = 0;
	for (size_t s = 0; s < ns; s++) {
		m.label_counts[s]   = o->series[s].n_labels;
		m.profile_counts[s] = o->series[s].n_profiles;
		m.sample_counts[s]  = o->series[s].n_samples;
		for (uint32_t i = 0; i < o->series[s].n_profiles; i++, p++) {
			int64_t prev	 = i == 0 ? o->min_ns
						  : o->profs[p - 1].time_ns;
			m.time_deltas[p] = (uint64_t) o->profs[p].time_ns -
			    (uint64_t) prev;
			m.totals[p] = (uint64_t) o->profs[p].total;
		}
	}
	if ((rc = block_enc_message(&o->enc, &m.base)) != 0)
		goto done;
	size_t kl = block_key(o->key, o->tenant, o->id, BLOCK_KEY_HEADER, 0,
	    0);
	block_out_put(o, HEARTH_KV_BLOCKS, o->key, kl, o->enc.out,
	    o->enc.out_len);
done:
	free(u32);
	free(u64);
	return rc;
}

int
block_out_finish(block_out *o, char *const *strs, uint32_t n_strs,
    const uint32_t *parent, const uint32_t *name, uint32_t n_nodes,
    block **out, hearth_err *err)
{
	Hearth__Block__Meta m = HEARTH__BLOCK__META__INIT;
	uint8_t	*mk	      = NULL;
	block	*b	      = NULL;
	HEARTH_ASSERT(o->n_series > 0);
	*out = NULL;
	if (write_header(o, strs, n_strs, parent, name, n_nodes) != 0 ||
	    (mk = malloc(strlen(o->tenant) + BLOCK_KEY_EXTRA)) == NULL ||
	    (b = block_new(o->tenant, o->id)) == NULL)
		goto nomem;
	b->level    = o->level;
	b->n_series = (uint32_t) o->n_series;
	b->min_ns   = o->min_ns;
	b->max_ns   = o->max_ns;
	b->bytes    = o->bytes;
	b->profiles = o->n_profs;
	b->samples  = o->samples;
	m.format	 = BLOCK_FORMAT;
	m.level		 = b->level;
	m.min_time_nanos = b->min_ns;
	m.max_time_nanos = b->max_ns;
	m.bytes		 = b->bytes;
	m.series	 = b->n_series;
	m.profiles	 = b->profiles;
	m.samples	 = b->samples;
	if (block_enc_message(&o->enc, &m.base) != 0)
		goto nomem;
	size_t kl = block_meta_key(mk, "bi", o->tenant, o->id);
	hearth_kv_batch_put(o->b, HEARTH_KV_META, mk, kl, o->enc.out,
	    o->enc.out_len);
	free(mk);
	*out = b;
	return 0;
nomem:
	free(mk);
	block_unref(b);
	return hearth_err_set(err, HEARTH_ENOMEM,
	    "block %s/%llu: out of memory writing the header", o->tenant,
	    (unsigned long long) o->id);
}

/* ---- flush: a head tenant into a level-0 block -------------------------- */

/* Per-flush scratch, grown to the largest series. */
typedef struct write_scratch {
	uint32_t *order; /* series ids, then profile ids */
	size_t	  cap_order;
	int64_t	 *times, *totals;
	size_t	  cap_times, cap_totals;
	uint8_t	 *ids;
	size_t	  cap_ids;
	uint32_t *counts;
	size_t	  cap_counts;
	uint32_t *nodes;
	size_t	  cap_nodes;
	int64_t	 *values;
	size_t	  cap_values;
	uint32_t *lnames, *lvalues;
	size_t	  cap_lnames, cap_lvalues;
	uint32_t *scounts, *snodes; /* span rows */
	uint64_t *sids;
	int64_t	 *svalues;
	size_t	  cap_scounts, cap_snodes, cap_sids, cap_svalues;
} write_scratch;

static void
write_scratch_fini(write_scratch *sc)
{
	free(sc->order);
	free(sc->times);
	free(sc->totals);
	free(sc->ids);
	free(sc->counts);
	free(sc->nodes);
	free(sc->values);
	free(sc->lnames);
	free(sc->lvalues);
	free(sc->scounts);
	free(sc->snodes);
	free(sc->sids);
	free(sc->svalues);
}

static int
write_label_cmp(const hearth_label *a, size_t na, const hearth_label *b,
    size_t nb)
{
	for (size_t i = 0; i < na && i < nb; i++) {
		int c = strcmp(a[i].name, b[i].name);
		if (c == 0)
			c = strcmp(a[i].value, b[i].value);
		if (c != 0)
			return c;
	}
	return na < nb ? -1 : na > nb;
}

/* qsort_r is a GNU extension with a context argument; the comparators
 * below sort index arrays by a table the context points at. */
static int
write_series_cmp(const void *a, const void *b, void *ctx)
{
	const head_tenant *t = ctx;
	const head_series *x = &t->series[*(const uint32_t *) a];
	const head_series *y = &t->series[*(const uint32_t *) b];
	return write_label_cmp(x->labels, x->n_labels, y->labels, y->n_labels);
}

static int
write_prof_cmp(const void *a, const void *b, void *ctx)
{
	const head_series *s = ctx;
	uint32_t	   i = *(const uint32_t *) a, j = *(const uint32_t *) b;
	int64_t		   x = s->profiles[i].time_ns, y = s->profiles[j].time_ns;
	if (x != y)
		return x < y ? -1 : 1;
	return i < j ? -1 : i > j; /* stable: push order among equal times */
}

/* The span rows of s's profiles in sc->order into sd's span columns,
 * sorted by (span, node) with equal pairs summed (the head keeps equal
 * nodes of a span apart; a block does not). */
static int
write_head_spans(const head_series *s, write_scratch *sc, block_sdata *sd)
{
	uint32_t np = s->n_profiles;
	size_t	 nr = (size_t) s->n_span_rows + 1, k = 0;
	if (BLOCK_GROW(sc->scounts, sc->cap_scounts, (size_t) np) != 0 ||
	    BLOCK_GROW(sc->snodes, sc->cap_snodes, nr) != 0 ||
	    BLOCK_GROW(sc->sids, sc->cap_sids, nr) != 0 ||
	    BLOCK_GROW(sc->svalues, sc->cap_svalues, nr) != 0)
		return HEARTH_ENOMEM;
	for (uint32_t i = 0; i < np; i++) {
		const head_profile *pr = &s->profiles[sc->order[i]];
		head_spans	    it;
		head_samples	    rows;
		uint64_t	    span;
		size_t		    e = k;
		head_spans_begin(&it, s, pr);
		while (head_spans_group(&it, &span, &rows))
			while (head_samples_next(&rows, sc->snodes + e,
			    sc->svalues + e))
				sc->sids[e++] = span;
		sc->scounts[i] = (uint32_t) block_span_sort(sc->sids + k,
		    sc->snodes + k, sc->svalues + k, e - k);
		k += sc->scounts[i];
	}
	sd->span_counts = sc->scounts;
	sd->n_span_rows = k;
	sd->span_ids	= sc->sids;
	sd->span_nodes	= sc->snodes;
	sd->span_values = sc->svalues;
	return 0;
}

/* The head series' profiles by time, samples by node. */
static int
write_head_series(const head_series *s, write_scratch *sc, block_sdata *sd)
{
	uint32_t np = s->n_profiles;
	if (BLOCK_GROW(sc->order, sc->cap_order, (size_t) np) != 0 ||
	    BLOCK_GROW(sc->times, sc->cap_times, (size_t) np) != 0 ||
	    BLOCK_GROW(sc->totals, sc->cap_totals, (size_t) np) != 0 ||
	    BLOCK_GROW(sc->ids, sc->cap_ids, (size_t) np * 16) != 0 ||
	    BLOCK_GROW(sc->counts, sc->cap_counts, (size_t) np) != 0 ||
	    BLOCK_GROW(sc->nodes, sc->cap_nodes, (size_t) s->n_samples + 1) !=
		0 ||
	    BLOCK_GROW(sc->values, sc->cap_values, (size_t) s->n_samples + 1) !=
		0)
		return HEARTH_ENOMEM;
	for (uint32_t i = 0; i < np; i++)
		sc->order[i] = i;
	if (!s->sorted)
		qsort_r(sc->order, np, sizeof(*sc->order), write_prof_cmp,
		    (void *) s);
	size_t k      = 0;
	int    has_id = 0;
	for (uint32_t i = 0; i < np; i++) {
		const head_profile *pr = &s->profiles[sc->order[i]];
		sc->times[i]	       = pr->time_ns;
		sc->totals[i]	       = pr->total;
		memcpy(sc->ids + (size_t) i * 16, pr->id, 16);
		for (int j = 0; j < 16 && !has_id; j++)
			has_id = pr->id[j] != 0;
		head_samples it;
		size_t	     e = k;
		head_samples_begin(&it, s, pr);
		while (head_samples_next(&it, sc->nodes + e, sc->values + e))
			e++;
		/* Already in node order (head_impl.h); this merges equal
		 * nodes. */
		sc->counts[i] = (uint32_t) block_sort_samples(sc->nodes + k,
		    sc->values + k, pr->len);
		k += sc->counts[i];
	}
	*sd = (block_sdata) { np, sc->times, sc->totals,
		has_id ? sc->ids : NULL, sc->counts, k, sc->nodes, sc->values,
		NULL, 0, NULL, NULL, NULL };
	return s->n_span_rows > 0 ? write_head_spans(s, sc, sd) : 0;
}

/* Labels of s as string ids of t (every label string is interned). */
static int
write_head_labels(const head_tenant *t, const head_series *s,
    write_scratch *sc)
{
	if (BLOCK_GROW(sc->lnames, sc->cap_lnames, (size_t) s->n_labels + 1) !=
		0 ||
	    BLOCK_GROW(sc->lvalues, sc->cap_lvalues,
		(size_t) s->n_labels + 1) != 0)
		return HEARTH_ENOMEM;
	for (uint32_t i = 0; i < s->n_labels; i++) {
		const char *n = s->labels[i].name, *v = s->labels[i].value;
		sc->lnames[i]  = head_str_find(t, n, strlen(n));
		sc->lvalues[i] = head_str_find(t, v, strlen(v));
		HEARTH_ASSERT(sc->lnames[i] != UINT32_MAX &&
		    sc->lvalues[i] != UINT32_MAX);
	}
	return 0;
}

/* Tables of t as the header wants them. */
static int
write_head_tables(const head_tenant *t, char ***strs, uint32_t **parent,
    uint32_t **name)
{
	*strs	= malloc(((size_t) t->n_strs + 1) * sizeof(**strs));
	*parent = malloc(((size_t) t->n_nodes + 1) * sizeof(**parent));
	*name	= malloc(((size_t) t->n_nodes + 1) * sizeof(**name));
	if (*strs == NULL || *parent == NULL || *name == NULL)
		return HEARTH_ENOMEM;
	for (uint32_t i = 0; i < t->n_strs; i++)
		(*strs)[i] = (char *) t->strs[i].s;
	for (uint32_t i = 0; i < t->n_nodes; i++) {
		(*parent)[i] = t->nodes[i].parent;
		(*name)[i]   = t->nodes[i].name;
	}
	return 0;
}

/* Read lock held. */
static int
write_tenant_locked(hearth_blocks *bs, const head_tenant *t,
    hearth_kv_batch *b, block **out, hearth_err *err)
{
	write_scratch sc;
	block_out     o;
	block_sdata   sd;
	char	    **strs	= NULL;
	uint32_t     *parent	= NULL, *name = NULL, *sids = NULL, n = 0;
	int	      rc;
	memset(&sc, 0, sizeof(sc));
	if ((rc = block_out_init(&o, bs, b, t->name, block_alloc_id(bs), 0,
		 t->n_nodes, BLOCK_ZLEVEL_FLUSH)) != 0 ||
	    (sids = malloc(((size_t) t->n_series + 1) * sizeof(*sids))) ==
		NULL) {
		rc = hearth_err_set(err, HEARTH_ENOMEM,
		    "flush: tenant %s: out of memory", t->name);
		goto done;
	}
	for (uint32_t i = 0; i < t->n_series; i++)
		if (t->series[i].n_profiles > 0)
			sids[n++] = i;
	qsort_r(sids, n, sizeof(*sids), write_series_cmp, (void *) t);
	for (uint32_t i = 0; i < n; i++) {
		const head_series *s = &t->series[sids[i]];
		if (write_head_series(s, &sc, &sd) != 0 ||
		    write_head_labels(t, s, &sc) != 0) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "flush: tenant %s: out of memory", t->name);
			goto done;
		}
		if ((rc = block_out_series(&o, sc.lnames, sc.lvalues,
			 s->n_labels, &sd, err)) != 0)
			goto done;
	}
	if (write_head_tables(t, &strs, &parent, &name) != 0) {
		rc = hearth_err_set(err, HEARTH_ENOMEM,
		    "flush: tenant %s: out of memory", t->name);
		goto done;
	}
	rc = block_out_finish(&o, strs, t->n_strs, parent, name, t->n_nodes,
	    out, err);
done:
	free(strs);
	free(parent);
	free(name);
	free(sids);
	write_scratch_fini(&sc);
	block_out_fini(&o);
	return rc;
}

int
hearth_blocks_prepare(hearth_blocks *bs, hearth_head *head,
    hearth_kv_batch *b, hearth_err *err)
{
	int	      rc = 0;
	head_tenant **ts = NULL;
	uint32_t      nt;
	HEARTH_ASSERT(!bs->preparing);
	bs->preparing = 1;
	/* Tenants are never removed from a head: pointers stay valid. */
	pthread_mutex_lock(&head->mu);
	nt = head->n_tenants;
	if (nt > 0 && (ts = malloc(nt * sizeof(*ts))) != NULL)
		memcpy(ts, head->tenants, nt * sizeof(*ts));
	pthread_mutex_unlock(&head->mu);
	if (nt > 0 && ts == NULL) {
		rc = hearth_err_set(err, HEARTH_ENOMEM, "flush: out of memory");
		goto fail;
	}
	for (uint32_t i = 0; i < nt; i++) {
		head_tenant *t	 = ts[i];
		block	    *blk = NULL;
		if (BLOCK_GROW(bs->pending, bs->cap_pending,
			bs->n_pending + 1) != 0) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "flush: out of memory");
			goto fail;
		}
		pthread_rwlock_rdlock(&t->lock);
		if (t->n_profiles > 0)
			rc = write_tenant_locked(bs, t, b, &blk, err);
		pthread_rwlock_unlock(&t->lock);
		if (rc != 0)
			goto fail;
		if (blk != NULL) {
			bs->pending[bs->n_pending++] = blk;
			bs->pending_bytes += blk->bytes;
		}
	}
	if ((bs->reserved = block_list_reserve(bs, bs->n_pending,
		 &bs->reserved_size)) == NULL) {
		rc = hearth_err_set(err, HEARTH_ENOMEM, "flush: out of memory");
		goto fail;
	}
	free(ts);
	return 0;
fail:
	free(ts);
	hearth_blocks_abort(bs);
	return rc;
}
