/*
 * head_span: the head's span rows (head_impl.h head_spans): validation of
 * a pushed profile's span columns, packing, and span-filtered tree
 * queries. Storing them is head_push.c's (head_apply_profile), so that a
 * profile and its span rows are committed together.
 */
#include "head_impl.h"

#include <stdlib.h>
#include <string.h>

#define HEAD_BAD(err, ...) hearth_err_set((err), HEARTH_EINVAL, __VA_ARGS__)

int
head_span_check(const Hearth__Ingester__SeriesProfile *p, size_t bi,
    size_t pi, size_t n_stacks, hearth_err *err)
{
	size_t n = p->n_span_stacks;
	if (p->n_span_ids != n || p->n_span_values != n)
		return HEAD_BAD(err,
		    "batch %zu profile %zu: %zu span stacks, %zu span ids and "
		    "%zu span values (want as many of each)",
		    bi, pi, n, p->n_span_ids, p->n_span_values);
	for (size_t i = 0; i < n; i++) {
		if (p->span_stacks[i] >= n_stacks)
			return HEAD_BAD(err,
			    "batch %zu profile %zu: span row %zu: stack index "
			    "%u out of range (%zu stacks)",
			    bi, pi, i, p->span_stacks[i], n_stacks);
		if (p->span_ids[i] == 0)
			return HEAD_BAD(err,
			    "batch %zu profile %zu: span row %zu has span id 0 "
			    "(0 means no span: leave the row out)",
			    bi, pi, i);
		if (p->span_values[i] <= 0)
			return HEAD_BAD(err,
			    "batch %zu profile %zu: span row %zu has value "
			    "%lld (span values must be > 0)",
			    bi, pi, i, (long long) p->span_values[i]);
	}
	return 0;
}

/* x < y by (span, node): unique within a profile (one row per stack and
 * span, and a profile's stacks are distinct nodes). */
static inline int
head_span_key_less(const head_span_key *x, const head_span_key *y)
{
	return x->span != y->span ? x->span < y->span : x->node < y->node;
}

/* Quicksort with insertion sort for short runs, inline like the samples'
 * head_sort_keys: qsort's comparator calls were 3 % of the ingest path's
 * CPU with one span-labelled file in seven. */
static void
head_span_sort(head_span_key *k, size_t n)
{
	while (n > 16) {
		head_span_key pivot = k[n / 2];
		size_t	      i = 0, j = n - 1;
		for (;;) {
			while (head_span_key_less(&k[i], &pivot))
				i++;
			while (head_span_key_less(&pivot, &k[j]))
				j--;
			if (i >= j)
				break;
			head_span_key x = k[i];
			k[i++]		= k[j];
			k[j--]		= x;
		}
		/* Recurse on the smaller side, loop on the larger. */
		size_t left = j + 1;
		if (left < n - left) {
			head_span_sort(k, left);
			k += left;
			n -= left;
		} else {
			head_span_sort(k + left, n - left);
			n = left;
		}
	}
	for (size_t i = 1; i < n; i++) {
		head_span_key x = k[i];
		size_t	      j = i;
		for (; j > 0 && head_span_key_less(&x, &k[j - 1]); j--)
			k[j] = k[j - 1];
		k[j] = x;
	}
}

static uint8_t *
head_span_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	return p;
}

static size_t
head_span_varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint64_t
head_span_gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t r = a % b;
		a	   = b;
		b	   = r;
	}
	return a;
}

size_t
head_span_pack(head_span_key *keys, size_t n, const uint64_t *span_ids,
    const int64_t *values, uint8_t *enc)
{
	uint64_t unit = 0;
	HEARTH_ASSERT(n > 0);
	for (size_t i = 0; i < n; i++) {
		keys[i].span = span_ids[keys[i].row];
		if (unit != 1)
			unit = head_span_gcd((uint64_t) values[keys[i].row],
			    unit);
	}
	head_span_sort(keys, n);
	uint8_t *p = head_span_varint(enc, unit);
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t span = keys[i].span;
		size_t	 bytes = 0;
		uint32_t prev  = 0;
		for (j = i; j < n && keys[j].span == span; j++) {
			bytes += head_span_varint_len(keys[j].node - prev);
			bytes += head_span_varint_len(
			    (uint64_t) values[keys[j].row] / unit);
			prev = keys[j].node;
		}
		for (int b = 0; b < 8; b++)
			*p++ = (uint8_t) (span >> (8 * b));
		p    = head_span_varint(p, j - i);
		p    = head_span_varint(p, bytes);
		prev = 0;
		for (size_t k = i; k < j; k++) {
			p = head_span_varint(p, keys[k].node - prev);
			p = head_span_varint(p,
			    (uint64_t) values[keys[k].row] / unit);
			prev = keys[k].node;
		}
	}
	return (size_t) (p - enc);
}

/* ---- span-filtered tree --------------------------------------------------- */

/* Sum the wanted span rows per stack node, then emit as head_tree_build
 * does. */
static int
head_span_tree_build(const head_tenant *t, const uint32_t *ids, size_t n_ids,
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
		if (s->n_span_rows == 0 ||
		    (filter != NULL &&
			(ds = hearth_dedup_find(filter, s->fp)) == NULL))
			continue;
		if (ds != NULL && hearth_dedup_all(ds))
			ds = NULL;
		head_profile_range(s, start_ms, end_ms, &lo, &hi);
		for (uint32_t p = lo; p < hi; p++) {
			const head_profile *pr = &s->profiles[p];
			if (pr->span_len == 0 ||
			    !head_in_range(pr->time_ns, start_ms, end_ms) ||
			    (ds != NULL &&
				!hearth_dedup_keep(ds, head_ms(pr->time_ns),
				    pr->id)))
				continue;
			head_spans   it;
			head_samples rows;
			uint64_t     span;
			uint32_t     node;
			int64_t	     v;
			head_spans_begin(&it, s, pr);
			while (head_spans_group(&it, &span, &rows)) {
				if (!hearth_head_spans_has(spans, span))
					continue;
				while (head_samples_next(&rows, &node, &v))
					sums[node] = head_sat_add(sums[node],
					    v);
			}
		}
	}
	return head_tree_emit(t, sums, map, out, err);
}

int
hearth_head_select_span_tree(hearth_head *h, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    const hearth_head_spans *spans, int64_t start_ms, int64_t end_ms,
    hearth_arena *scratch, hearth_fgtree *out, hearth_err *err)
{
	uint32_t *ids;
	size_t	  n;
	int	  rc;
	HEARTH_ASSERT(spans != NULL && spans->n > 0);
	if ((rc = head_check_range(start_ms, end_ms, err)) != 0)
		return rc;
	head_tenant *t = head_tenant_find(h, tenant);
	if (t == NULL)
		return 0;
	pthread_rwlock_rdlock(&t->lock);
	rc = head_index_select(t, sel, scratch, &ids, &n, err);
	if (rc == 0 && n > 0)
		rc = head_span_tree_build(t, ids, n, filter, spans, start_ms,
		    end_ms, scratch, out, err);
	pthread_rwlock_unlock(&t->lock);
	return rc;
}
