#include "head_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- push: validation ------------------------------------------------- */

#define HEAD_BAD(err, ...) hearth_err_set((err), HEARTH_EINVAL, __VA_ARGS__)

static int
head_check_profile(const Hearth__Ingester__SeriesProfile *p, size_t bi,
    size_t pi, size_t n_stacks, hearth_err *err)
{
	if (p->n_labels == 0)
		return HEAD_BAD(err, "batch %zu profile %zu: no labels", bi, pi);
	for (size_t i = 0; i < p->n_labels; i++) {
		const Hearth__Ingester__Label *l = p->labels[i];
		if (l->name == NULL || l->name[0] == '\0')
			return HEAD_BAD(err,
			    "batch %zu profile %zu: label %zu has an empty name",
			    bi, pi, i);
		if (l->value == NULL || l->value[0] == '\0')
			return HEAD_BAD(err,
			    "batch %zu profile %zu: label \"%s\" has an empty "
			    "value",
			    bi, pi, l->name);
		if (i > 0 && strcmp(p->labels[i - 1]->name, l->name) >= 0)
			return HEAD_BAD(err,
			    "batch %zu profile %zu: labels must be sorted by "
			    "name and unique, \"%s\" follows \"%s\"",
			    bi, pi, l->name, p->labels[i - 1]->name);
	}
	if (p->id.len != 0 && p->id.len != 16)
		return HEAD_BAD(err,
		    "batch %zu profile %zu: id is %zu bytes, want 16 (or none)",
		    bi, pi, p->id.len);
	if (p->n_stacks != p->n_values)
		return HEAD_BAD(err,
		    "batch %zu profile %zu: %zu stacks but %zu values", bi, pi,
		    p->n_stacks, p->n_values);
	int64_t total = 0;
	for (size_t i = 0; i < p->n_stacks; i++) {
		if (p->stacks[i] >= n_stacks)
			return HEAD_BAD(err,
			    "batch %zu profile %zu: stack index %u out of "
			    "range (%zu stacks)",
			    bi, pi, p->stacks[i], n_stacks);
		if (p->values[i] < 0)
			return HEAD_BAD(err,
			    "batch %zu profile %zu: value %lld of sample %zu is "
			    "negative",
			    bi, pi, (long long) p->values[i], i);
		if (__builtin_add_overflow(total, p->values[i], &total))
			return HEAD_BAD(err,
			    "batch %zu profile %zu: values add up to more than "
			    "2^63-1",
			    bi, pi);
	}
	return head_span_check(p, bi, pi, n_stacks, err);
}

/* Everything the apply step relies on, so an invalid push stores nothing.
 * *max_labels / *max_depth size the per-batch scratch. */
static int
head_check(const Hearth__Ingester__PushRequest *req, size_t *max_labels,
    hearth_err *err)
{
	*max_labels = 0;
	for (size_t bi = 0; bi < req->n_batches; bi++) {
		const Hearth__Ingester__ProfileBatch *b = req->batches[bi];
		size_t				      frames = 0;
		for (size_t i = 0; i < b->n_strings; i++)
			if (b->strings[i] == NULL)
				return HEAD_BAD(err,
				    "batch %zu: string %zu is missing", bi, i);
		for (size_t i = 0; i < b->n_stack_lengths; i++)
			frames += b->stack_lengths[i];
		if (frames != b->n_frames)
			return HEAD_BAD(err,
			    "batch %zu: stack_lengths add up to %zu frames but "
			    "frames has %zu",
			    bi, frames, b->n_frames);
		for (size_t i = 0; i < b->n_frames; i++)
			if (b->frames[i] >= b->n_strings)
				return HEAD_BAD(err,
				    "batch %zu: frame %zu names string %u but "
				    "the batch has %zu strings",
				    bi, i, b->frames[i], b->n_strings);
		for (size_t pi = 0; pi < b->n_profiles; pi++) {
			const Hearth__Ingester__SeriesProfile *p =
			    b->profiles[pi];
			int rc = head_check_profile(p, bi, pi,
			    b->n_stack_lengths, err);
			if (rc != 0)
				return rc;
			if (p->n_labels > *max_labels)
				*max_labels = p->n_labels;
		}
	}
	return 0;
}

/* ---- push: apply ------------------------------------------------------ */

/* Per-batch scratch, allocated before the write lock is taken. */
typedef struct head_scratch {
	size_t	     *stack_off; /* first frame of each batch stack */
	uint32_t     *memo;	 /* node of each batch stack, or UINT32_MAX */
	uint32_t     *strmap;	 /* tenant string id per batch string */
	uint32_t     *path;	 /* nodes of the last resolved stack */
	size_t	      prev;	 /* that stack's index, or SIZE_MAX */
	uint64_t     *keys;	 /* node << 32 | sample, one profile */
	uint8_t	     *enc;	 /* its packed samples (head_impl.h) */
	head_span_key *skeys;	 /* its span rows (head_span.c) */
	uint8_t	      *senc;	 /* their packed bytes */
	hearth_label *labels;
	uint32_t     *name_ids;
	uint32_t     *value_ids;
} head_scratch;

static void
head_scratch_free(head_scratch *sc)
{
	free(sc->stack_off);
	free(sc->memo);
	free(sc->strmap);
	free(sc->path);
	free(sc->keys);
	free(sc->enc);
	free(sc->skeys);
	free(sc->senc);
	free(sc->labels);
	free(sc->name_ids);
	free(sc->value_ids);
}

static int
head_scratch_init(head_scratch *sc, const Hearth__Ingester__ProfileBatch *b,
    size_t max_labels)
{
	size_t ns = b->n_stack_lengths, depth = 1, off = 0, nv = 1, nsp = 1;
	memset(sc, 0, sizeof(*sc));
	for (size_t i = 0; i < ns; i++)
		if (b->stack_lengths[i] > depth)
			depth = b->stack_lengths[i];
	for (size_t i = 0; i < b->n_profiles; i++) {
		if (b->profiles[i]->n_values > nv)
			nv = b->profiles[i]->n_values;
		if (b->profiles[i]->n_span_values > nsp)
			nsp = b->profiles[i]->n_span_values;
	}
	if (nv > (SIZE_MAX - HEAD_VARINT_MAX) / (2 * HEAD_VARINT_MAX) ||
	    nsp > (SIZE_MAX - HEAD_VARINT_MAX) / 48)
		return HEARTH_ENOMEM;
	sc->skeys = malloc(nsp * sizeof(*sc->skeys));
	sc->senc  = malloc(HEAD_SPAN_ENC_MAX(nsp));
	sc->keys = malloc(nv * sizeof(*sc->keys));
	sc->enc	 = malloc(HEAD_VARINT_MAX + nv * 2 * HEAD_VARINT_MAX);
	sc->stack_off = malloc((ns + 1) * sizeof(*sc->stack_off));
	sc->memo      = malloc((ns + 1) * sizeof(*sc->memo));
	sc->strmap    = malloc((b->n_strings + 1) * sizeof(*sc->strmap));
	sc->path      = malloc(depth * sizeof(*sc->path));
	sc->labels    = malloc((max_labels + 1) * sizeof(*sc->labels));
	sc->name_ids  = malloc((max_labels + 1) * sizeof(*sc->name_ids));
	sc->value_ids = malloc((max_labels + 1) * sizeof(*sc->value_ids));
	if (!sc->stack_off || !sc->memo || !sc->strmap || !sc->path ||
	    !sc->keys || !sc->enc || !sc->labels || !sc->name_ids ||
	    !sc->value_ids || !sc->skeys || !sc->senc) {
		head_scratch_free(sc);
		return HEARTH_ENOMEM;
	}
	for (size_t i = 0; i < ns; i++) {
		sc->stack_off[i] = off;
		off += b->stack_lengths[i];
	}
	memset(sc->memo, 0xff, ns * sizeof(*sc->memo));
	memset(sc->strmap, 0xff, b->n_strings * sizeof(*sc->strmap));
	sc->prev = SIZE_MAX;
	return 0;
}

/* Node of batch stack k. Stacks in a batch usually come in an order that
 * shares prefixes with the previous one, so the shared prefix is taken
 * from the previous stack's path and only the new frames cost a lookup;
 * each batch stack is resolved once (memo). */
static int
head_resolve(hearth_head *h, head_tenant *t,
    const Hearth__Ingester__ProfileBatch *b, head_scratch *sc, size_t k,
    uint32_t *node)
{
	if (sc->memo[k] != UINT32_MAX) {
		*node = sc->memo[k];
		return 0;
	}
	const uint32_t *f   = b->frames + sc->stack_off[k];
	size_t		len = b->stack_lengths[k], c = 0;
	if (sc->prev != SIZE_MAX) {
		const uint32_t *pf = b->frames + sc->stack_off[sc->prev];
		size_t		pl = b->stack_lengths[sc->prev];
		size_t		m  = len < pl ? len : pl;
		while (c < m && pf[c] == f[c])
			c++;
	}
	uint32_t n = c > 0 ? sc->path[c - 1] : 0;
	for (size_t d = c; d < len; d++) {
		uint32_t sid = sc->strmap[f[d]];
		int	 rc;
		if (sid == UINT32_MAX) {
			const char *s = b->strings[f[d]];
			if ((rc = head_str_intern(h, t, s, strlen(s), &sid)) !=
			    0)
				return rc;
			sc->strmap[f[d]] = sid;
		}
		if ((rc = head_node_child(h, t, n, sid, &n)) != 0)
			return rc;
		sc->path[d] = n;
	}
	sc->prev    = k;
	sc->memo[k] = n;
	*node	    = n;
	return 0;
}

static uint64_t
head_series_hash(const void *ctx, uint32_t id)
{
	const head_tenant *t = ctx;
	return t->series[id].fp;
}

/* Find the series of p's labels or create it (strings interned, postings
 * added). All allocations come before the commit, so ENOMEM leaves no
 * half-made series. */
static int
head_series_get(hearth_head *h, head_tenant *t, const char *tenant,
    const Hearth__Ingester__SeriesProfile *p, head_scratch *sc, uint32_t *sid)
{
	size_t n = p->n_labels;
	for (size_t i = 0; i < n; i++)
		sc->labels[i] = (hearth_label) { p->labels[i]->name,
			p->labels[i]->value };
	uint64_t fp = hearth_labels_fingerprint(tenant, sc->labels, n);
	if (t->series_table.cap > 0) {
		size_t mask = t->series_table.cap - 1;
		size_t i    = (size_t) fp & mask;
		for (uint32_t v; (v = t->series_table.slots[i]) != 0;
		     i = (i + 1) & mask) {
			const head_series *s = &t->series[v - 1];
			if (s->fp == fp &&
			    hearth_labels_equal(s->labels, s->n_labels,
				sc->labels, n)) {
				*sid = v - 1;
				return 0;
			}
		}
	}
	if (t->n_series == UINT32_MAX)
		return HEARTH_ELIMIT;
	for (size_t i = 0; i < n; i++) {
		const char *nm = sc->labels[i].name, *va = sc->labels[i].value;
		if (head_str_intern(h, t, nm, strlen(nm), &sc->name_ids[i]) ||
		    head_str_intern(h, t, va, strlen(va), &sc->value_ids[i]))
			return HEARTH_ENOMEM;
	}
	hearth_label *ls = malloc(n * sizeof(*ls));
	if (ls == NULL ||
	    HEAD_GROW(h, t, t->series, t->cap_series, t->n_series + 1) != 0 ||
	    head_table_reserve(h, t, &t->series_table,
		(size_t) t->n_series + 1, head_series_hash, t) != 0 ||
	    head_index_reserve(h, t, n, sc->name_ids, sc->value_ids) != 0) {
		free(ls);
		return HEARTH_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		ls[i] = (hearth_label) { t->strs[sc->name_ids[i]].s,
			t->strs[sc->value_ids[i]].s };
	head_account(h, t, (ptrdiff_t) (n * sizeof(*ls)));
	uint32_t     id = t->n_series;
	head_series *s	= &t->series[id];
	memset(s, 0, sizeof(*s));
	s->fp	    = fp;
	s->labels   = ls;
	s->n_labels = (uint32_t) n;
	s->min_ns   = INT64_MAX;
	s->max_ns   = INT64_MIN;
	s->sorted   = 1;
	head_index_add(t, id, n, sc->name_ids, sc->value_ids);
	head_table_put(&t->series_table, fp, id);
	t->n_series++;
	*sid = id;
	return 0;
}

static uint64_t
head_dup_hash(uint32_t sid, const uint8_t *id)
{
	uint64_t a, b;
	memcpy(&a, id, 8);
	memcpy(&b, id + 8, 8);
	return hearth_hash_u64(a ^ hearth_hash_u64(b ^ sid));
}

/* Slot index where (sid, id) is, or the empty slot where it would go. */
static size_t
head_dup_probe(const head_tenant *t, uint32_t sid, const uint8_t *id,
    int *found)
{
	size_t mask = t->dup_cap - 1;
	size_t i    = (size_t) head_dup_hash(sid, id) & mask;
	*found	    = 0;
	for (; t->dup_slots[i].series1 != 0; i = (i + 1) & mask) {
		const head_dup_slot *d = &t->dup_slots[i];
		if (d->series1 == sid + 1 &&
		    memcmp(t->series[sid].profiles[d->profile].id, id, 16) ==
			0) {
			*found = 1;
			break;
		}
	}
	return i;
}

static int
head_dup_reserve(hearth_head *h, head_tenant *t)
{
	if ((t->n_dup + 1) * 2 <= t->dup_cap)
		return 0;
	size_t	       nc = t->dup_cap ? t->dup_cap * 2 : 256;
	head_dup_slot *ns = calloc(nc, sizeof(*ns));
	if (ns == NULL)
		return HEARTH_ENOMEM;
	for (size_t i = 0; i < t->dup_cap; i++) {
		head_dup_slot d = t->dup_slots[i];
		if (d.series1 == 0)
			continue;
		const uint8_t *id =
		    t->series[d.series1 - 1].profiles[d.profile].id;
		size_t j = (size_t) head_dup_hash(d.series1 - 1, id) & (nc - 1);
		while (ns[j].series1 != 0)
			j = (j + 1) & (nc - 1);
		ns[j] = d;
	}
	head_account(h, t, (ptrdiff_t) ((nc - t->dup_cap) * sizeof(*ns)));
	free(t->dup_slots);
	t->dup_slots = ns;
	t->dup_cap   = nc;
	return 0;
}

/* Ascending sort of distinct keys: quicksort on the middle element with
 * insertion sort for short runs, inline (no comparator calls: this runs
 * for every stored profile). */
static void
head_sort_keys(uint64_t *k, size_t n)
{
	while (n > 16) {
		uint64_t pivot = k[n / 2];
		size_t	 i = 0, j = n - 1;
		for (;;) {
			while (k[i] < pivot)
				i++;
			while (k[j] > pivot)
				j--;
			if (i >= j)
				break;
			uint64_t x = k[i];
			k[i++]	   = k[j];
			k[j--]	   = x;
		}
		/* [0, j] <= pivot <= [j + 1, n): recurse on the smaller
		 * side, loop on the larger (depth stays O(log n)). */
		size_t left = j + 1;
		if (left < n - left) {
			head_sort_keys(k, left);
			k += left;
			n -= left;
		} else {
			head_sort_keys(k + left, n - left);
			n = left;
		}
	}
	for (size_t i = 1; i < n; i++) {
		uint64_t x = k[i];
		size_t	 j = i;
		for (; j > 0 && k[j - 1] > x; j--)
			k[j] = k[j - 1];
		k[j] = x;
	}
}

/* Pack the n samples whose keys (node << 32 | index into values) are in
 * sc->keys into sc->enc, as head_impl.h describes; returns the length. */
static size_t
head_pack_samples(head_scratch *sc, size_t n, const int64_t *values)
{
	uint64_t unit = (uint64_t) values[(uint32_t) sc->keys[0]];
	for (size_t i = 1; i < n && unit > 1; i++) {
		uint64_t v = (uint64_t) values[(uint32_t) sc->keys[i]];
		if (v % unit != 0) /* one division in the common case */
			unit = head_gcd(v, unit);
	}
	head_sort_keys(sc->keys, n);
	uint8_t *p    = head_varint_put(sc->enc, unit);
	uint32_t prev = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t node = (uint32_t) (sc->keys[i] >> 32);
		p	      = head_varint_put(p, node - prev);
		p = head_varint_put(p,
		    (uint64_t) values[(uint32_t) sc->keys[i]] / unit);
		prev = node;
	}
	return (size_t) (p - sc->enc);
}

/* Store one validated profile; *stored_samples = samples kept (0 with
 * *stored 0 for a duplicate). */
static int
head_apply_profile(hearth_head *h, head_tenant *t, const char *tenant,
    const Hearth__Ingester__ProfileBatch *b,
    const Hearth__Ingester__SeriesProfile *p, head_scratch *sc, int *stored,
    size_t *stored_samples)
{
	uint32_t sid;
	int	 rc, dup = 0, has_id = hearth_dedup_id_set(&p->id);
	*stored		= 0;
	*stored_samples = 0;
	if ((rc = head_series_get(h, t, tenant, p, sc, &sid)) != 0)
		return rc;
	if (has_id && t->dup_cap > 0) {
		head_dup_probe(t, sid, p->id.data, &dup);
		if (dup)
			return 0;
	}
	head_series *s = &t->series[sid];
	size_t	     n = 0;
	int64_t	     total = 0;
	if ((size_t) s->n_samples + p->n_values > UINT32_MAX ||
	    s->n_profiles == UINT32_MAX)
		return HEARTH_ELIMIT;
	/* Nodes first (the only step that adds to the tree), then the
	 * packed bytes; the series changes only at the commit below, so a
	 * failure leaves it as it was. */
	for (size_t i = 0; i < p->n_values; i++) {
		if (p->values[i] == 0)
			continue;
		uint32_t node;
		if ((rc = head_resolve(h, t, b, sc, p->stacks[i], &node)) != 0)
			return rc;
		sc->keys[n++] = (uint64_t) node << 32 | (uint32_t) i;
		total += p->values[i]; /* no overflow: head_check_profile */
	}
	size_t len = n > 0 ? head_pack_samples(sc, n, p->values) : 0;
	/* Span rows: their stacks are the samples' (already resolved, so
	 * memo hits), packed on the side (head_impl.h head_spans). */
	size_t slen = 0, nsr = p->n_span_values;
	for (size_t i = 0; i < nsr; i++) {
		sc->skeys[i].row = (uint32_t) i;
		if ((rc = head_resolve(h, t, b, sc, p->span_stacks[i],
			 &sc->skeys[i].node)) != 0)
			return rc;
	}
	if (nsr > 0)
		slen = head_span_pack(sc->skeys, nsr, p->span_ids,
		    p->span_values, sc->senc);
	if ((size_t) s->n_data + len > UINT32_MAX ||
	    (size_t) s->n_span_data + slen > UINT32_MAX ||
	    (size_t) s->n_span_rows + nsr > UINT32_MAX)
		return HEARTH_ELIMIT;
	if (head_grow_data(h, t, s, s->n_data + (uint32_t) len) != 0 ||
	    head_grow_bytes(h, t, &s->span_data, &s->cap_span_data,
		s->n_span_data + (uint32_t) slen) != 0 ||
	    HEAD_GROW(h, t, s->profiles, s->cap_profiles,
		s->n_profiles + 1) != 0 ||
	    (has_id && head_dup_reserve(h, t) != 0))
		return HEARTH_ENOMEM;
	if (len > 0)
		memcpy(s->data + s->n_data, sc->enc, len);
	if (slen > 0)
		memcpy(s->span_data + s->n_span_data, sc->senc, slen);
	head_profile *pr = &s->profiles[s->n_profiles];
	memset(pr, 0, sizeof(*pr));
	pr->time_ns = p->time_nanos;
	pr->total   = total;
	pr->off	    = s->n_data;
	pr->len	    = (uint32_t) n;
	pr->span_off = s->n_span_data;
	pr->span_len = (uint32_t) slen;
	if (has_id)
		memcpy(pr->id, p->id.data, 16);
	if (s->n_profiles > 0 && p->time_nanos < s->max_ns)
		s->sorted = 0;
	if (p->time_nanos < s->min_ns)
		s->min_ns = p->time_nanos;
	if (p->time_nanos > s->max_ns)
		s->max_ns = p->time_nanos;
	s->n_data += (uint32_t) len;
	s->n_samples += (uint32_t) n;
	s->n_span_data += (uint32_t) slen;
	s->n_span_rows += (uint32_t) nsr;
	s->n_profiles++;
	if (has_id) {
		size_t i = head_dup_probe(t, sid, pr->id, &dup);
		t->dup_slots[i] = (head_dup_slot) { sid + 1, s->n_profiles - 1 };
		t->n_dup++;
	}
	t->n_profiles++;
	t->n_samples += n;
	atomic_fetch_add(&h->samples, n);
	*stored		= 1;
	*stored_samples = n;
	return 0;
}

int
hearth_head_validate(const char *tenant,
    const Hearth__Ingester__PushRequest *req, hearth_err *err)
{
	size_t max_labels;
	if (tenant == NULL || tenant[0] == '\0')
		return HEAD_BAD(err, "push: empty tenant");
	return head_check(req, &max_labels, err);
}

/* 1 when t has a series with p's labels; t's lock is held. */
static int
head_series_known(const head_tenant *t, const char *tenant,
    const Hearth__Ingester__SeriesProfile *p, hearth_label *ls, uint64_t *fp)
{
	for (size_t i = 0; i < p->n_labels; i++)
		ls[i] = (hearth_label) { p->labels[i]->name, p->labels[i]->value };
	*fp = hearth_labels_fingerprint(tenant, ls, p->n_labels);
	if (t == NULL || t->series_table.cap == 0)
		return 0;
	size_t mask = t->series_table.cap - 1;
	for (size_t i = (size_t) *fp & mask; t->series_table.slots[i] != 0;
	     i = (i + 1) & mask) {
		const head_series *s = &t->series[t->series_table.slots[i] - 1];
		if (s->fp == *fp &&
		    hearth_labels_equal(s->labels, s->n_labels, ls, p->n_labels))
			return 1;
	}
	return 0;
}

static int
head_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

int
hearth_head_check_series(hearth_head *h, const char *tenant,
    const Hearth__Ingester__PushRequest *req, size_t max, hearth_err *err)
{
	size_t n_prof = 0, max_labels = 0, n_new = 0;
	if (max == 0)
		return 0;
	for (size_t bi = 0; bi < req->n_batches; bi++)
		for (size_t pi = 0; pi < req->batches[bi]->n_profiles; pi++) {
			const Hearth__Ingester__SeriesProfile *p =
			    req->batches[bi]->profiles[pi];
			n_prof++;
			if (p->n_labels > max_labels)
				max_labels = p->n_labels;
		}
	uint64_t     *fps = malloc((n_prof + 1) * sizeof(*fps));
	hearth_label *ls  = malloc((max_labels + 1) * sizeof(*ls));
	if (fps == NULL || ls == NULL) {
		free(fps);
		free(ls);
		return hearth_err_set(err, HEARTH_ENOMEM, "push: out of memory");
	}
	head_tenant *t = head_tenant_find(h, tenant);
	if (t != NULL)
		pthread_rwlock_rdlock(&t->lock);
	size_t have = t != NULL ? t->n_series : 0;
	for (size_t bi = 0; bi < req->n_batches; bi++)
		for (size_t pi = 0; pi < req->batches[bi]->n_profiles; pi++) {
			uint64_t fp;
			if (!head_series_known(t, tenant,
				req->batches[bi]->profiles[pi], ls, &fp))
				fps[n_new++] = fp;
		}
	if (t != NULL)
		pthread_rwlock_unlock(&t->lock);
	/* New series of one push are counted once each (by fingerprint:
	 * two label sets sharing one only undercount, by one). */
	qsort(fps, n_new, sizeof(*fps), head_u64_cmp);
	size_t distinct = 0;
	for (size_t i = 0; i < n_new; i++)
		distinct += i == 0 || fps[i] != fps[i - 1];
	free(fps);
	free(ls);
	if (distinct == 0 || have + distinct <= max)
		return 0;
	return hearth_err_set(err, HEARTH_EBUSY,
	    "tenant \"%s\" has %zu series in the ingester and this push "
	    "would add %zu more, over the limit (max_global_series_per_tenant: "
	    "%zu); the limit frees up as the head is cut, or raise it",
	    tenant, have, distinct, max);
}

int
hearth_head_push(hearth_head *h, const char *tenant,
    const Hearth__Ingester__PushRequest *req, uint64_t *profiles,
    uint64_t *samples, hearth_err *err)
{
	size_t	     max_labels, n_prof = 0, n_samp = 0;
	head_tenant *t;
	int	     rc;

	if (profiles != NULL)
		*profiles = 0;
	if (samples != NULL)
		*samples = 0;
	if (tenant == NULL || tenant[0] == '\0')
		return HEAD_BAD(err, "push: empty tenant");
	if ((rc = head_check(req, &max_labels, err)) != 0)
		return rc;
	if (req->n_batches == 0)
		return 0;
	if ((rc = head_tenant_get(h, tenant, &t)) != 0)
		return hearth_err_set(err, rc, "push: out of memory");
	for (size_t bi = 0; bi < req->n_batches && rc == 0; bi++) {
		const Hearth__Ingester__ProfileBatch *b = req->batches[bi];
		head_scratch			      sc;
		if (b->n_profiles == 0)
			continue;
		if ((rc = head_scratch_init(&sc, b, max_labels)) != 0)
			break;
		pthread_rwlock_wrlock(&t->lock);
		for (size_t pi = 0; pi < b->n_profiles && rc == 0; pi++) {
			int    stored;
			size_t ns;
			rc = head_apply_profile(h, t, tenant, b,
			    b->profiles[pi], &sc, &stored, &ns);
			n_prof += (size_t) stored;
			n_samp += ns;
		}
		pthread_rwlock_unlock(&t->lock);
		head_scratch_free(&sc);
	}
	if (profiles != NULL)
		*profiles = n_prof;
	if (samples != NULL)
		*samples = n_samp;
	if (rc == HEARTH_ELIMIT)
		return hearth_err_set(err, rc,
		    "push: tenant %s: a series passed 2^32 samples (or 4 GiB "
		    "of packed samples) or the head passed 2^32 strings, "
		    "nodes or series",
		    tenant);
	if (rc != 0)
		return hearth_err_set(err, rc, "push: out of memory");
	return 0;
}
