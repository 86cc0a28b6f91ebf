#include "delta_impl.h"

#include "dedup.h"
#include "head.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* One delta profile of the push, in request order, and its outcome. */
typedef struct delta_prof {
	uint64_t  hi, lo;
	int       result;
	uint32_t *stacks; /* DELTA_STORED: the rewritten samples */
	int64_t  *values;
	size_t    n;
} delta_prof;

/* Per batch: memoised frame-name hashes and stack keys (0 = not yet). */
typedef struct delta_batch {
	const Hearth__Ingester__ProfileBatch *b;
	size_t                               *stack_off;
	uint64_t                             *str_hash;
	uint64_t                             *stack_key;
	uint64_t                             *frames; /* one stack's hashes */
} delta_batch;

static int
delta_key_cmp(const void *a, const void *b)
{
	const delta_touch *x = a, *y = b;
	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* XXH3-128 of tenant and the sorted labels, 0xff-separated (no UTF-8
 * string holds that byte). */
static int
delta_series_key(const char *tenant, const Hearth__Ingester__SeriesProfile *p,
    hearth_arena *a, uint64_t *hi, uint64_t *lo)
{
	size_t len = strlen(tenant) + 1;
	for (size_t i = 0; i < p->n_labels; i++)
		len += strlen(p->labels[i]->name) + strlen(p->labels[i]->value)
		    + 2;
	char *buf = hearth_arena_alloc(a, len);
	if (buf == NULL)
		return HEARTH_ENOMEM;
	size_t o = strlen(tenant);
	memcpy(buf, tenant, o);
	buf[o++] = '\xff';
	for (size_t i = 0; i < p->n_labels; i++) {
		size_t nl = strlen(p->labels[i]->name);
		size_t vl = strlen(p->labels[i]->value);
		memcpy(buf + o, p->labels[i]->name, nl);
		o += nl;
		buf[o++] = '\xff';
		memcpy(buf + o, p->labels[i]->value, vl);
		o += vl;
		buf[o++] = '\xff';
	}
	XXH128_hash_t h = XXH3_128bits(buf, o);
	*hi             = h.high64;
	*lo             = h.low64;
	return 0;
}

static int
delta_batch_init(
    delta_batch *db, const Hearth__Ingester__ProfileBatch *b, hearth_arena *a)
{
	size_t ns = b->n_stack_lengths, depth = 1, off = 0;
	for (size_t i = 0; i < ns; i++)
		if (b->stack_lengths[i] > depth)
			depth = b->stack_lengths[i];
	db->b         = b;
	db->stack_off = hearth_arena_alloc(a, (ns + 1) * sizeof(size_t));
	db->stack_key = hearth_arena_calloc(a, ns + 1, sizeof(uint64_t));
	db->str_hash
	    = hearth_arena_calloc(a, b->n_strings + 1, sizeof(uint64_t));
	db->frames = hearth_arena_alloc(a, depth * sizeof(uint64_t));
	if (!db->stack_off || !db->stack_key || !db->str_hash || !db->frames)
		return HEARTH_ENOMEM;
	for (size_t i = 0; i < ns; i++) {
		db->stack_off[i] = off;
		off += b->stack_lengths[i];
	}
	return 0;
}

/* XXH3-64 of the stack's frame-name hashes, root first; never 0. The
 * batch was validated (hearth_head_validate): every index is in range. */
static uint64_t
delta_stack_key(delta_batch *db, uint32_t k)
{
	if (db->stack_key[k] != 0)
		return db->stack_key[k];
	const Hearth__Ingester__ProfileBatch *b = db->b;
	const uint32_t                       *f = b->frames + db->stack_off[k];
	size_t                                len = b->stack_lengths[k];
	for (size_t i = 0; i < len; i++) {
		uint64_t *h = &db->str_hash[f[i]];
		if (*h == 0) {
			const char *s = b->strings[f[i]];
			*h            = XXH3_64bits(s, strlen(s));
			*h += *h == 0;
		}
		db->frames[i] = *h;
	}
	uint64_t h = XXH3_64bits(db->frames, len * sizeof(uint64_t));
	h += h == 0;
	return db->stack_key[k] = h;
}

static int
delta_ids_has(const delta_ids *ids, const uint8_t *id)
{
	for (size_t i = 0; i < ids->n; i++)
		if (memcmp(ids->id[i], id, 16) == 0)
			return 1;
	return 0;
}

static void
delta_ids_add(delta_ids *ids, const uint8_t *id)
{
	memcpy(ids->id[ids->next], id, 16);
	ids->next = (uint8_t) ((ids->next + 1) % HEARTH_DELTA_IDS);
	if (ids->n < HEARTH_DELTA_IDS)
		ids->n++;
}

/* The rule of delta.h's table for one profile of series t. agg holds the
 * profile's values summed per stack key; first[0..nu) the first batch
 * stack of each key, in order. */
static int
delta_decide(delta_touch *t, delta_batch *db, delta_map *agg,
    const uint32_t *first, size_t nu, hearth_arena *a, delta_prof *o)
{
	const delta_map *base  = t->has_pending ? &t->pending : &t->st->map;
	int              reset = 0;
	for (size_t j = 0; t->seeded && j < nu && !reset; j++) {
		uint64_t       k   = delta_stack_key(db, first[j]);
		const int64_t *old = delta_map_find(base, k);
		reset = old != NULL && *delta_map_find(agg, k) < *old;
	}
	if (!t->seeded || reset) {
		/* The profile's values become the state as they are. */
		if (t->has_pending)
			delta_map_fini(&t->pending);
		t->pending     = *agg;
		t->has_pending = 1;
		t->seeded      = 1;
		memset(agg, 0, sizeof(*agg));
		o->result = reset ? DELTA_RESET : DELTA_SEEDED;
		return 0;
	}
	o->stacks = hearth_arena_alloc(a, (nu + 1) * sizeof(*o->stacks));
	o->values = hearth_arena_alloc(a, (nu + 1) * sizeof(*o->values));
	if (o->stacks == NULL || o->values == NULL)
		return HEARTH_ENOMEM;
	/* Differences first: base may be the pending map updated below. */
	for (size_t j = 0; j < nu; j++) {
		uint64_t       k   = delta_stack_key(db, first[j]);
		const int64_t *old = delta_map_find(base, k);
		int64_t v = *delta_map_find(agg, k) - (old != NULL ? *old : 0);
		if (v > 0) {
			o->stacks[o->n]   = first[j];
			o->values[o->n++] = v;
		}
	}
	if (!t->has_pending) {
		if (delta_map_clone(&t->pending, &t->st->map) != 0)
			return HEARTH_ENOMEM;
		t->has_pending = 1;
	}
	for (size_t j = 0; j < nu; j++) {
		uint64_t k = delta_stack_key(db, first[j]);
		if (delta_map_set(&t->pending, k, *delta_map_find(agg, k))
		    != 0)
			return HEARTH_ENOMEM;
	}
	o->result = DELTA_STORED;
	return 0;
}

static int
delta_profile(delta_touch *t, delta_batch *db,
    const Hearth__Ingester__SeriesProfile *p, hearth_arena *a, delta_prof *o)
{
	int has_id = hearth_dedup_id_set(&p->id);
	if (has_id && delta_ids_has(&t->ids, p->id.data)) {
		o->result = DELTA_DUPLICATE;
		return 0;
	}
	delta_map agg = { 0 };
	uint32_t *first
	    = hearth_arena_alloc(a, (p->n_values + 1) * sizeof(*first));
	size_t nu = 0;
	int    rc = first != NULL ? 0 : HEARTH_ENOMEM;
	for (size_t i = 0; rc == 0 && i < p->n_values; i++) {
		int added;
		if (p->values[i] == 0)
			continue;
		rc = delta_map_add(&agg, delta_stack_key(db, p->stacks[i]),
		    p->values[i], &added);
		if (rc == 0 && added)
			first[nu++] = p->stacks[i];
	}
	if (rc == 0)
		rc = delta_decide(t, db, &agg, first, nu, a, o);
	delta_map_fini(&agg);
	if (rc == 0 && has_id)
		delta_ids_add(&t->ids, p->id.data);
	return rc;
}

/* Span rows of a cumulative profile are cumulative too; subtracting them
 * per (stack, span) would mean nothing since span ids change with every
 * request: they are dropped (delta.h). */
static void
delta_drop_spans(Hearth__Ingester__SeriesProfile *p)
{
	p->n_span_stacks = 0;
	p->n_span_ids    = 0;
	p->n_span_values = 0;
}

/* The delta profiles of req in request order with their series keys, and
 * the transaction's unique sorted keys. */
static int
delta_plan(const char *tenant, const Hearth__Ingester__PushRequest *req,
    size_t n, hearth_arena *a, delta_prof **profs, hearth_delta_txn **out)
{
	delta_prof       *dp  = hearth_arena_calloc(a, n, sizeof(*dp));
	hearth_delta_txn *txn = hearth_arena_calloc(a, 1, sizeof(*txn));
	delta_touch      *t   = hearth_arena_calloc(a, n, sizeof(*t));
	if (dp == NULL || txn == NULL || t == NULL)
		return HEARTH_ENOMEM;
	size_t k = 0;
	for (size_t bi = 0; bi < req->n_batches; bi++)
		for (size_t pi = 0; pi < req->batches[bi]->n_profiles; pi++) {
			const Hearth__Ingester__SeriesProfile *p
			    = req->batches[bi]->profiles[pi];
			if (!p->delta)
				continue;
			if (delta_series_key(
			        tenant, p, a, &dp[k].hi, &dp[k].lo)
			    != 0)
				return HEARTH_ENOMEM;
			t[k].hi = dp[k].hi;
			t[k].lo = dp[k].lo;
			k++;
		}
	qsort(t, n, sizeof(*t), delta_key_cmp);
	for (size_t i = 0; i < n; i++)
		if (txn->n == 0 || delta_key_cmp(&t[txn->n - 1], &t[i]) != 0)
			t[txn->n++] = t[i];
	txn->t = t;
	*profs = dp;
	*out   = txn;
	return 0;
}

/* Decide every delta profile (states busy). */
static int
delta_run(hearth_delta_txn *txn, const Hearth__Ingester__PushRequest *req,
    delta_prof *dp, hearth_arena *a)
{
	size_t k = 0;
	for (size_t bi = 0; bi < req->n_batches; bi++) {
		const Hearth__Ingester__ProfileBatch *b = req->batches[bi];
		delta_batch                           db;
		int                                   ready = 0, rc;
		for (size_t pi = 0; pi < b->n_profiles; pi++) {
			if (!b->profiles[pi]->delta)
				continue;
			if (!ready && (rc = delta_batch_init(&db, b, a)) != 0)
				return rc;
			ready            = 1;
			delta_touch  key = { .hi = dp[k].hi, .lo = dp[k].lo };
			delta_touch *t   = bsearch(&key, txn->t, txn->n,
			      sizeof(*txn->t), delta_key_cmp);
			HEARTH_ASSERT(t != NULL);
			if ((rc = delta_profile(
			         t, &db, b->profiles[pi], a, &dp[k]))
			    != 0)
				return rc;
			txn->results[dp[k].result]++;
			k++;
		}
	}
	return 0;
}

/* Rewrite req from the decisions; nothing here can fail. */
static void
delta_rewrite(Hearth__Ingester__PushRequest *req, const delta_prof *dp)
{
	size_t k = 0;
	for (size_t bi = 0; bi < req->n_batches; bi++) {
		Hearth__Ingester__ProfileBatch *b = req->batches[bi];
		size_t                          w = 0;
		for (size_t pi = 0; pi < b->n_profiles; pi++) {
			Hearth__Ingester__SeriesProfile *p = b->profiles[pi];
			if (p->delta) {
				const delta_prof *o = &dp[k++];
				if (o->result != DELTA_STORED)
					continue;
				p->stacks   = o->stacks;
				p->values   = o->values;
				p->n_stacks = p->n_values = o->n;
				p->delta                  = 0;
				delta_drop_spans(p);
			}
			b->profiles[w++] = p;
		}
		b->n_profiles = w;
	}
}

int
hearth_delta_begin(hearth_delta *d, const char *tenant,
    Hearth__Ingester__PushRequest *req, int64_t now_ms, hearth_arena *arena,
    hearth_delta_txn **out, hearth_err *err)
{
	size_t            n = 0;
	delta_prof       *dp;
	hearth_delta_txn *txn;
	int               rc;
	*out = NULL;
	for (size_t bi = 0; bi < req->n_batches; bi++)
		for (size_t pi = 0; pi < req->batches[bi]->n_profiles; pi++)
			n += req->batches[bi]->profiles[pi]->delta != 0;
	if (n == 0)
		return 0;
	if ((rc = hearth_head_validate(tenant, req, err)) != 0)
		return rc;
	if ((rc = delta_plan(tenant, req, n, arena, &dp, &txn)) != 0)
		return hearth_err_set(err, rc,
		    "delta: out of memory: the push does not fit the request "
		    "memory cap");
	if ((rc = delta_acquire(d, txn, now_ms)) != 0) {
		delta_release(d, txn, 0);
		return hearth_err_set(
		    err, rc, "delta: out of memory for a new series state");
	}
	if ((rc = delta_run(txn, req, dp, arena)) != 0) {
		delta_release(d, txn, 0);
		return hearth_err_set(
		    err, rc, "delta: out of memory while computing deltas");
	}
	delta_rewrite(req, dp);
	*out = txn;
	return 0;
}
