/*
 * head_span: the head's span rows (head_impl.h head_spans): validation of
 * a pushed profile's span columns and packing; and the span id sort that
 * span filters and block span tables share. Storing them is
 * head_push.c's (head_apply_profile), so that a profile and its span rows
 * are committed together; span-filtered tree queries are head_tree.c's.
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

static int
head_span_id_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

size_t
hearth_head_spans_sort(uint64_t *ids, size_t n)
{
	size_t k = 0;
	if (n > 1)
		qsort(ids, n, sizeof(*ids), head_span_id_cmp);
	for (size_t i = 0; i < n; i++)
		if (ids[i] != 0 && (k == 0 || ids[k - 1] != ids[i]))
			ids[k++] = ids[i];
	return k;
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

size_t
head_span_pack(head_span_key *keys, size_t n, const uint64_t *span_ids,
    const int64_t *values, uint8_t *enc)
{
	uint64_t unit = 0;
	HEARTH_ASSERT(n > 0);
	for (size_t i = 0; i < n; i++) {
		keys[i].span = span_ids[keys[i].row];
		if (unit != 1)
			unit = head_gcd((uint64_t) values[keys[i].row],
			    unit);
	}
	head_span_sort(keys, n);
	uint8_t *p = head_varint_put(enc, unit);
	for (size_t i = 0, j; i < n; i = j) {
		uint64_t span = keys[i].span;
		size_t	 bytes = 0;
		uint32_t prev  = 0;
		for (j = i; j < n && keys[j].span == span; j++) {
			bytes += head_varint_len(keys[j].node - prev);
			bytes += head_varint_len(
			    (uint64_t) values[keys[j].row] / unit);
			prev = keys[j].node;
		}
		for (int b = 0; b < 8; b++)
			*p++ = (uint8_t) (span >> (8 * b));
		p    = head_varint_put(p, j - i);
		p    = head_varint_put(p, bytes);
		prev = 0;
		for (size_t k = i; k < j; k++) {
			p = head_varint_put(p, keys[k].node - prev);
			p = head_varint_put(p,
			    (uint64_t) values[keys[k].row] / unit);
			prev = keys[k].node;
		}
	}
	return (size_t) (p - enc);
}
