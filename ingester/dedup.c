#include "dedup.h"

#include "hash.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Rollup buckets (1 min, 1 h, epoch aligned) must nest in windows. */
_Static_assert(HEARTH_DEDUP_WINDOW_MS % ((int64_t) 3600 * 1000) == 0,
    "a dedup window must be a whole number of hours");

struct hearth_dedup_series {
	uint64_t       fp;
	int	       all;
	int64_t	      *whole; /* ascending, unique */
	size_t	       n_whole;
	int64_t	      *partial; /* ascending, unique */
	size_t	       n_partial;
	const uint8_t **ids;	/* per partial window: 16 bytes an id, sorted */
	size_t	      *n_ids;
};

struct hearth_dedup {
	hearth_dedup_series *series;
	size_t		     n;
	uint32_t	    *slots; /* series index + 1; 0 = empty */
	size_t		     cap;   /* power of two, >= 2 n */
};

int64_t
hearth_dedup_window_of(int64_t ms)
{
	int64_t q = ms / HEARTH_DEDUP_WINDOW_MS;
	if (ms % HEARTH_DEDUP_WINDOW_MS < 0)
		q--;
	return q * HEARTH_DEDUP_WINDOW_MS;
}

void
hearth_dedup_span(int64_t start_ms, int64_t end_ms, int64_t *lo, int64_t *hi)
{
	/* Near the ends of int64 there is no data; clamp instead of
	 * overflowing. */
	*lo = start_ms < INT64_MIN + HEARTH_DEDUP_WINDOW_MS
	    ? INT64_MIN
	    : hearth_dedup_window_of(start_ms);
	*hi = end_ms > INT64_MAX - HEARTH_DEDUP_WINDOW_MS
	    ? INT64_MAX
	    : hearth_dedup_window_of(end_ms) + HEARTH_DEDUP_WINDOW_MS - 1;
}

uint64_t
hearth_dedup_id_hash(const uint8_t *id)
{
	static const uint8_t zero[16];
	return XXH3_64bits(id != NULL ? id : zero, 16);
}

/* ---- filter ------------------------------------------------------------- */

static int
dedup_cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
	return x < y ? -1 : x > y;
}

static int
dedup_cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

static size_t
dedup_unique_i64(int64_t *v, size_t n)
{
	size_t k = 0;
	if (n > 1)
		qsort(v, n, sizeof(*v), dedup_cmp_i64);
	for (size_t i = 0; i < n; i++)
		if (k == 0 || v[k - 1] != v[i])
			v[k++] = v[i];
	return k;
}

static size_t dedup_search(const int64_t *v, size_t n, int64_t w);

static int
dedup_table(hearth_dedup *d, size_t n, hearth_arena *a)
{
	d->cap = 16;
	while (d->cap < n * 2)
		d->cap *= 2;
	d->slots  = hearth_arena_calloc(a, d->cap, sizeof(*d->slots));
	d->series = hearth_arena_calloc(a, n + 1, sizeof(*d->series));
	return d->slots != NULL && d->series != NULL ? 0 : HEARTH_ENOMEM;
}

/* Slot of fp: its entry, or the empty slot where it belongs. */
static size_t
dedup_slot(const hearth_dedup *d, uint64_t fp)
{
	/* Mixed: a querier may send crafted fingerprints. */
	size_t mask = d->cap - 1, i = (size_t) hearth_hash_u64(fp) & mask;
	while (d->slots[i] != 0 && d->series[d->slots[i] - 1].fp != fp)
		i = (i + 1) & mask;
	return i;
}

static int
dedup_check_window(int64_t w, const char *what, size_t i, hearth_err *err)
{
	if (w % HEARTH_DEDUP_WINDOW_MS != 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s %zu: window start %lld is not a multiple of %lld ms",
		    what, i, (long long) w,
		    (long long) HEARTH_DEDUP_WINDOW_MS);
	return 0;
}

/* One partial window's ids, sorted and unique, into a. */
static int
dedup_partial_ids(const Hearth__Ingester__WindowIds *w, size_t i,
    hearth_arena *a, const uint8_t **out, size_t *n_out, hearth_err *err)
{
	uint8_t *ids = hearth_arena_alloc(a, w->n_ids * 16 + 1);
	size_t	 k   = 0;
	if (ids == NULL)
		return HEARTH_ENOMEM;
	for (size_t j = 0; j < w->n_ids; j++) {
		if (w->ids[j].len != 16)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "assign %zu: id %zu is %zu bytes, want 16", i, j,
			    w->ids[j].len);
		memcpy(ids + j * 16, w->ids[j].data, 16);
	}
	if (w->n_ids > 1)
		qsort(ids, w->n_ids, 16, dedup_cmp_id);
	for (size_t j = 0; j < w->n_ids; j++)
		if (k == 0 || memcmp(ids + (k - 1) * 16, ids + j * 16, 16) != 0)
			memmove(ids + k++ * 16, ids + j * 16, 16);
	*out   = ids;
	*n_out = k;
	return 0;
}

static int
dedup_cmp_partial(const void *a, const void *b)
{
	const Hearth__Ingester__WindowIds *x = *(void *const *) a;
	const Hearth__Ingester__WindowIds *y = *(void *const *) b;
	return x->window_start_ms < y->window_start_ms ? -1
	    : x->window_start_ms > y->window_start_ms;
}

static int
dedup_fill(hearth_dedup_series *s, const Hearth__Ingester__SeriesAssign *as,
    size_t i, hearth_arena *a, hearth_err *err)
{
	int rc;
	s->fp  = as->fp;
	s->all = as->all;
	s->whole = hearth_arena_alloc(a, (as->n_windows + 1) * sizeof(int64_t));
	if (s->whole == NULL)
		return HEARTH_ENOMEM;
	for (size_t j = 0; j < as->n_windows; j++) {
		if ((rc = dedup_check_window(as->windows[j], "assign", i,
			 err)) != 0)
			return rc;
		s->whole[j] = as->windows[j];
	}
	s->n_whole = dedup_unique_i64(s->whole, as->n_windows);
	if (as->n_partial == 0)
		return 0;
	/* Partial windows by start; the same window twice joins its ids. */
	Hearth__Ingester__WindowIds **ps = hearth_arena_alloc(a,
	    as->n_partial * sizeof(*ps));
	s->partial = hearth_arena_alloc(a, as->n_partial * sizeof(int64_t));
	s->ids	   = hearth_arena_alloc(a, as->n_partial * sizeof(*s->ids));
	s->n_ids   = hearth_arena_alloc(a, as->n_partial * sizeof(size_t));
	if (ps == NULL || s->partial == NULL || s->ids == NULL ||
	    s->n_ids == NULL)
		return HEARTH_ENOMEM;
	memcpy(ps, as->partial, as->n_partial * sizeof(*ps));
	qsort(ps, as->n_partial, sizeof(*ps), dedup_cmp_partial);
	for (size_t j = 0; j < as->n_partial;) {
		size_t z = j, total = 0;
		while (z < as->n_partial &&
		    ps[z]->window_start_ms == ps[j]->window_start_ms)
			total += ps[z++]->n_ids;
		if ((rc = dedup_check_window(ps[j]->window_start_ms, "assign",
			 i, err)) != 0)
			return rc;
		Hearth__Ingester__WindowIds joined =
		    HEARTH__INGESTER__WINDOW_IDS__INIT;
		ProtobufCBinaryData *all = hearth_arena_alloc(a,
		    (total + 1) * sizeof(*all));
		if (all == NULL)
			return HEARTH_ENOMEM;
		for (size_t k = j, m = 0; k < z; k++)
			for (size_t q = 0; q < ps[k]->n_ids; q++)
				all[m++] = ps[k]->ids[q];
		joined.ids   = all;
		joined.n_ids = total;
		size_t pi    = s->n_partial++;
		s->partial[pi] = ps[j]->window_start_ms;
		if ((rc = dedup_partial_ids(&joined, i, a, &s->ids[pi],
			 &s->n_ids[pi], err)) != 0)
			return rc;
		j = z;
	}
	/* A window both whole and partial is whole: keep it out of the
	 * partial list, which readers use to re-read rollup spans from the
	 * samples (it would count twice). */
	size_t k = 0;
	for (size_t j = 0; j < s->n_partial; j++) {
		if (dedup_search(s->whole, s->n_whole, s->partial[j]) <
		    s->n_whole)
			continue;
		s->partial[k] = s->partial[j];
		s->ids[k]     = s->ids[j];
		s->n_ids[k++] = s->n_ids[j];
	}
	s->n_partial = k;
	return 0;
}

int
hearth_dedup_new(Hearth__Ingester__SeriesAssign *const *assign, size_t n,
    hearth_arena *a, hearth_dedup **out, hearth_err *err)
{
	hearth_dedup *d = hearth_arena_calloc(a, 1, sizeof(*d));
	int	      rc;
	*out		= NULL;
	if (d == NULL || dedup_table(d, n, a) != 0)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		size_t slot = dedup_slot(d, assign[i]->fp);
		if (d->slots[slot] != 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "assign %zu: series %016llx is listed twice", i,
			    (unsigned long long) assign[i]->fp);
		rc = dedup_fill(&d->series[d->n], assign[i], i, a, err);
		if (rc == HEARTH_ENOMEM)
			goto nomem;
		if (rc != 0)
			return rc;
		d->slots[slot] = (uint32_t) ++d->n;
	}
	*out = d;
	return 0;
nomem:
	return hearth_err_set(err, HEARTH_ENOMEM,
	    "select: %zu series assignments do not fit the request memory "
	    "cap",
	    n);
}

int
hearth_dedup_new_wanted(Hearth__Ingester__WindowIds *const *wanted, size_t n,
    hearth_arena *a, hearth_dedup **out, hearth_err *err)
{
	hearth_dedup *d = hearth_arena_calloc(a, 1, sizeof(*d));
	int64_t	     *ws = hearth_arena_alloc(a, (n + 1) * sizeof(*ws));
	int	      rc;
	*out		= NULL;
	if (d == NULL || ws == NULL || dedup_table(d, n, a) != 0)
		goto nomem;
	/* Count the windows of each series first (slots point at entries),
	 * then hand out slices of one array. */
	for (size_t i = 0; i < n; i++) {
		if ((rc = dedup_check_window(wanted[i]->window_start_ms,
			 "wanted", i, err)) != 0)
			return rc;
		size_t slot = dedup_slot(d, wanted[i]->fp);
		if (d->slots[slot] == 0) {
			d->series[d->n].fp = wanted[i]->fp;
			d->slots[slot]	   = (uint32_t) ++d->n;
		}
		d->series[d->slots[slot] - 1].n_whole++;
	}
	size_t off = 0;
	for (size_t i = 0; i < d->n; i++) {
		d->series[i].whole = ws + off;
		off += d->series[i].n_whole;
		d->series[i].n_whole = 0;
	}
	for (size_t i = 0; i < n; i++) {
		hearth_dedup_series *s =
		    &d->series[d->slots[dedup_slot(d, wanted[i]->fp)] - 1];
		s->whole[s->n_whole++] = wanted[i]->window_start_ms;
	}
	for (size_t i = 0; i < d->n; i++)
		d->series[i].n_whole = dedup_unique_i64(d->series[i].whole,
		    d->series[i].n_whole);
	*out = d;
	return 0;
nomem:
	return hearth_err_set(err, HEARTH_ENOMEM,
	    "ids: %zu wanted windows do not fit the request memory cap", n);
}

const hearth_dedup_series *
hearth_dedup_find(const hearth_dedup *d, uint64_t fp)
{
	size_t slot = dedup_slot(d, fp);
	return d->slots[slot] != 0 ? &d->series[d->slots[slot] - 1] : NULL;
}

size_t
hearth_dedup_count(const hearth_dedup *d)
{
	return d->n;
}

int
hearth_dedup_bounds(const hearth_dedup *d, int64_t *min_start,
    int64_t *max_start)
{
	int any	   = 0;
	*min_start = *max_start = 0;
	for (size_t i = 0; i < d->n; i++) {
		const hearth_dedup_series *s = &d->series[i];
		int64_t			   lo = INT64_MAX, hi = INT64_MIN;
		if (s->n_whole > 0) {
			lo = s->whole[0];
			hi = s->whole[s->n_whole - 1];
		}
		if (s->n_partial > 0) {
			lo = s->partial[0] < lo ? s->partial[0] : lo;
			hi = s->partial[s->n_partial - 1] > hi
			    ? s->partial[s->n_partial - 1]
			    : hi;
		}
		if (lo > hi)
			continue;
		if (!any || lo < *min_start)
			*min_start = lo;
		if (!any || hi > *max_start)
			*max_start = hi;
		any = 1;
	}
	return any;
}

int
hearth_dedup_all(const hearth_dedup_series *s)
{
	return s->all;
}

/* Index of w in v[0..n) (ascending), or n. */
static size_t
dedup_search(const int64_t *v, size_t n, int64_t w)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < w)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && v[lo] == w ? lo : n;
}

int
hearth_dedup_window(const hearth_dedup_series *s, int64_t window_start_ms)
{
	if (s->all || dedup_search(s->whole, s->n_whole, window_start_ms) <
		s->n_whole)
		return HEARTH_DEDUP_WHOLE;
	if (dedup_search(s->partial, s->n_partial, window_start_ms) <
	    s->n_partial)
		return HEARTH_DEDUP_PARTIAL;
	return HEARTH_DEDUP_NONE;
}

int
hearth_dedup_keep(const hearth_dedup_series *s, int64_t ms, const uint8_t *id)
{
	static const uint8_t zero[16];
	if (s->all)
		return 1;
	int64_t w = hearth_dedup_window_of(ms);
	if (dedup_search(s->whole, s->n_whole, w) < s->n_whole)
		return 1;
	size_t p = dedup_search(s->partial, s->n_partial, w);
	if (p == s->n_partial)
		return 0;
	if (id == NULL)
		id = zero;
	const uint8_t *ids = s->ids[p];
	size_t	       lo = 0, hi = s->n_ids[p];
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int    c   = memcmp(ids + mid * 16, id, 16);
		if (c == 0)
			return 1;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

size_t
hearth_dedup_partials(const hearth_dedup_series *s, const int64_t **starts)
{
	*starts = s->partial;
	return s->n_partial;
}

/* ---- PLAN accumulator --------------------------------------------------- */

int
hearth_dedup_plan_add(hearth_dedup_plan *p, uint64_t fp, int64_t window_ms,
    uint64_t count, uint64_t digest, int in_range)
{
	if (p->n > 0) {
		hearth_dedup_win *last = &p->v[p->n - 1];
		if (last->fp == fp && last->window_ms == window_ms) {
			last->count += count;
			last->digest += digest; /* mod 2^64 */
			last->in_range |= in_range != 0;
			return 0;
		}
	}
	if (p->n == p->cap) {
		size_t		  nc = p->cap ? p->cap * 2 : 256;
		hearth_dedup_win *nv = realloc(p->v, nc * sizeof(*nv));
		if (nv == NULL)
			return HEARTH_ENOMEM;
		p->v   = nv;
		p->cap = nc;
	}
	p->v[p->n++] = (hearth_dedup_win) { fp, window_ms, count, digest,
		in_range != 0 };
	return 0;
}

void
hearth_dedup_plan_fini(hearth_dedup_plan *p)
{
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static int
dedup_cmp_win(const void *a, const void *b)
{
	const hearth_dedup_win *x = a, *y = b;
	if (x->fp != y->fp)
		return x->fp < y->fp ? -1 : 1;
	return x->window_ms < y->window_ms ? -1 : x->window_ms > y->window_ms;
}

int
hearth_dedup_plan_finish(hearth_dedup_plan *p, hearth_arena *a,
    Hearth__Ingester__PlanResponse *out, hearth_err *err)
{
	size_t k = 0, ns = 0;
	hearth__ingester__plan_response__init(out);
	out->window_ms = HEARTH_DEDUP_WINDOW_MS;
	if (p->n > 1)
		qsort(p->v, p->n, sizeof(*p->v), dedup_cmp_win);
	/* Combine the parts of each window, then drop series without a
	 * profile in range (a window only touched by the widened span). */
	for (size_t i = 0; i < p->n; i++) {
		if (k > 0 && p->v[k - 1].fp == p->v[i].fp &&
		    p->v[k - 1].window_ms == p->v[i].window_ms) {
			p->v[k - 1].count += p->v[i].count;
			p->v[k - 1].digest += p->v[i].digest;
			p->v[k - 1].in_range |= p->v[i].in_range;
		} else
			p->v[k++] = p->v[i];
	}
	size_t w = 0;
	for (size_t i = 0; i < k;) {
		size_t z = i;
		int    in = 0;
		while (z < k && p->v[z].fp == p->v[i].fp)
			in |= p->v[z++].in_range;
		if (in) {
			memmove(&p->v[w], &p->v[i], (z - i) * sizeof(*p->v));
			w += z - i;
			ns++;
		}
		i = z;
	}
	p->n = w;
	if (ns == 0)
		return 0;
	Hearth__Ingester__PlanSeries **ss = hearth_arena_alloc(a,
	    ns * sizeof(*ss));
	Hearth__Ingester__PlanSeries *sv = hearth_arena_alloc(a,
	    ns * sizeof(*sv));
	int64_t	 *starts  = hearth_arena_alloc(a, w * sizeof(*starts));
	uint64_t *counts  = hearth_arena_alloc(a, w * sizeof(*counts));
	uint64_t *digests = hearth_arena_alloc(a, w * sizeof(*digests));
	if (!ss || !sv || !starts || !counts || !digests)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "plan: %zu series, %zu windows do not fit the request "
		    "memory cap",
		    ns, w);
	size_t si = 0;
	for (size_t i = 0; i < w;) {
		Hearth__Ingester__PlanSeries *s = &sv[si];
		hearth__ingester__plan_series__init(s);
		s->fp		   = p->v[i].fp;
		s->window_start_ms = starts + i;
		s->count	   = counts + i;
		s->digest	   = digests + i;
		size_t z	   = i;
		for (; z < w && p->v[z].fp == p->v[i].fp; z++) {
			starts[z]  = p->v[z].window_ms;
			counts[z]  = p->v[z].count;
			digests[z] = p->v[z].digest;
		}
		s->n_window_start_ms = s->n_count = s->n_digest = z - i;
		ss[si++]				       = s;
		i					       = z;
	}
	out->series   = ss;
	out->n_series = ns;
	return 0;
}

/* ---- IDS accumulator ---------------------------------------------------- */

int
hearth_dedup_ids_add(hearth_dedup_ids *s, uint64_t fp, int64_t window_ms,
    const uint8_t *id)
{
	if (s->n == s->cap) {
		size_t		 nc = s->cap ? s->cap * 2 : 256;
		hearth_dedup_id *nv = realloc(s->v, nc * sizeof(*nv));
		if (nv == NULL)
			return HEARTH_ENOMEM;
		s->v   = nv;
		s->cap = nc;
	}
	hearth_dedup_id *e = &s->v[s->n++];
	e->fp		   = fp;
	e->window_ms	   = window_ms;
	if (id != NULL)
		memcpy(e->id, id, 16);
	else
		memset(e->id, 0, 16);
	return 0;
}

void
hearth_dedup_ids_fini(hearth_dedup_ids *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int
dedup_cmp_eid(const void *a, const void *b)
{
	const hearth_dedup_id *x = a, *y = b;
	if (x->fp != y->fp)
		return x->fp < y->fp ? -1 : 1;
	if (x->window_ms != y->window_ms)
		return x->window_ms < y->window_ms ? -1 : 1;
	return memcmp(x->id, y->id, 16);
}

int
hearth_dedup_ids_finish(hearth_dedup_ids *s, hearth_arena *a,
    Hearth__Ingester__IdsResponse *out, hearth_err *err)
{
	size_t k = 0, nw = 0;
	hearth__ingester__ids_response__init(out);
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), dedup_cmp_eid);
	for (size_t i = 0; i < s->n; i++) {
		if (k > 0 && dedup_cmp_eid(&s->v[k - 1], &s->v[i]) == 0)
			continue;
		if (k == 0 || s->v[k - 1].fp != s->v[i].fp ||
		    s->v[k - 1].window_ms != s->v[i].window_ms)
			nw++;
		s->v[k++] = s->v[i];
	}
	s->n = k;
	if (nw == 0)
		return 0;
	Hearth__Ingester__WindowIds **ws = hearth_arena_alloc(a,
	    nw * sizeof(*ws));
	Hearth__Ingester__WindowIds *wv = hearth_arena_alloc(a,
	    nw * sizeof(*wv));
	ProtobufCBinaryData *ids = hearth_arena_alloc(a, k * sizeof(*ids));
	uint8_t		    *raw = hearth_arena_alloc(a, k * 16);
	if (!ws || !wv || !ids || !raw)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "ids: %zu ids do not fit the request memory cap", k);
	size_t wi = 0;
	for (size_t i = 0; i < k;) {
		Hearth__Ingester__WindowIds *w = &wv[wi];
		hearth__ingester__window_ids__init(w);
		w->fp		   = s->v[i].fp;
		w->window_start_ms = s->v[i].window_ms;
		w->ids		   = ids + i;
		size_t z	   = i;
		for (; z < k && s->v[z].fp == w->fp &&
		     s->v[z].window_ms == w->window_start_ms;
		     z++) {
			memcpy(raw + z * 16, s->v[z].id, 16);
			ids[z].data = raw + z * 16;
			ids[z].len  = 16;
		}
		w->n_ids  = z - i;
		ws[wi++] = w;
		i	  = z;
	}
	out->windows   = ws;
	out->n_windows = nw;
	return 0;
}
