#include "delta_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- stack key -> value map ------------------------------------------- */

size_t
delta_map_bytes(const delta_map *m)
{
	return m->cap * (sizeof(*m->keys) + sizeof(*m->vals));
}

void
delta_map_fini(delta_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

static size_t
delta_map_slot(const delta_map *m, uint64_t k)
{
	size_t mask = m->cap - 1, i = (size_t) k & mask;
	while (m->keys[i] != 0 && m->keys[i] != k)
		i = (i + 1) & mask;
	return i;
}

int64_t *
delta_map_find(const delta_map *m, uint64_t k)
{
	if (m->cap == 0)
		return NULL;
	size_t i = delta_map_slot(m, k);
	return m->keys[i] == k ? &m->vals[i] : NULL;
}

int
delta_map_reserve(delta_map *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 16;
	while (n > cap / 4 * 3) {
		if (cap > SIZE_MAX / 2 / sizeof(uint64_t))
			return HEARTH_ENOMEM;
		cap *= 2;
	}
	if (cap == m->cap)
		return 0;
	delta_map nm = { calloc(cap, sizeof(uint64_t)),
		malloc(cap * sizeof(int64_t)), cap, 0 };
	if (nm.keys == NULL || nm.vals == NULL) {
		delta_map_fini(&nm);
		return HEARTH_ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i] != 0) {
			size_t j   = delta_map_slot(&nm, m->keys[i]);
			nm.keys[j] = m->keys[i];
			nm.vals[j] = m->vals[i];
			nm.n++;
		}
	delta_map_fini(m);
	*m = nm;
	return 0;
}

int
delta_map_add(delta_map *m, uint64_t k, int64_t v, int *added)
{
	int rc = delta_map_reserve(m, m->n + 1);
	if (rc != 0)
		return rc;
	size_t i = delta_map_slot(m, k);
	*added   = m->keys[i] == 0;
	if (*added) {
		m->keys[i] = k;
		m->vals[i] = 0;
		m->n++;
	}
	m->vals[i] += v;
	return 0;
}

int
delta_map_set(delta_map *m, uint64_t k, int64_t v)
{
	int rc = delta_map_reserve(m, m->n + 1);
	if (rc != 0)
		return rc;
	size_t i = delta_map_slot(m, k);
	if (m->keys[i] == 0) {
		m->keys[i] = k;
		m->n++;
	}
	m->vals[i] = v;
	return 0;
}

int
delta_map_clone(delta_map *dst, const delta_map *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->cap == 0)
		return 0;
	dst->keys = malloc(src->cap * sizeof(*dst->keys));
	dst->vals = malloc(src->cap * sizeof(*dst->vals));
	if (dst->keys == NULL || dst->vals == NULL) {
		delta_map_fini(dst);
		return HEARTH_ENOMEM;
	}
	memcpy(dst->keys, src->keys, src->cap * sizeof(*dst->keys));
	memcpy(dst->vals, src->vals, src->cap * sizeof(*dst->vals));
	dst->cap = src->cap;
	dst->n   = src->n;
	return 0;
}

/* ---- states and the table --------------------------------------------- */

const char *const delta_result_names[DELTA_N]
    = { "seeded", "stored", "reset", "duplicate" };

static size_t
delta_state_bytes(const delta_state *st)
{
	return sizeof(*st) + delta_map_bytes(&st->map);
}

static delta_state **
delta_bucket(hearth_delta *d, uint64_t lo)
{
	return &d->buckets[(size_t) lo & (d->n_buckets - 1)];
}

static delta_state *
delta_find(hearth_delta *d, uint64_t hi, uint64_t lo)
{
	for (delta_state *st = *delta_bucket(d, lo); st != NULL;
	     st              = st->chain)
                if (st->hi == hi && st->lo == lo)
                        return st;
	return NULL;
}

static void
delta_lru_unlink(hearth_delta *d, delta_state *st)
{
	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		d->lru_head = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
	else
		d->lru_tail = st->prev;
	st->prev = st->next = NULL;
}

static void
delta_lru_front(hearth_delta *d, delta_state *st)
{
	st->prev = NULL;
	st->next = d->lru_head;
	if (d->lru_head != NULL)
		d->lru_head->prev = st;
	d->lru_head = st;
	if (d->lru_tail == NULL)
		d->lru_tail = st;
}

static void
delta_gauges(hearth_delta *d)
{
	hearth_metric_set(d->m_series, NULL, (double) d->n_states);
	hearth_metric_set(d->m_bytes, NULL, (double) d->bytes);
}

/* Remove a state that is not busy; d->mu held. */
static void
delta_evict(hearth_delta *d, delta_state *st, int idle)
{
	HEARTH_ASSERT(!st->busy); /* invariant (1) */
	delta_state **pp = delta_bucket(d, st->lo);
	while (*pp != st)
		pp = &(*pp)->chain;
	*pp = st->chain;
	delta_lru_unlink(d, st);
	d->bytes -= delta_state_bytes(st);
	d->n_states--;
	delta_map_fini(&st->map);
	free(st);
	const char *lv[1] = { idle ? "idle" : "lru" };
	hearth_metric_add(d->m_evictions, lv, 1);
	if (idle)
		d->evicted_idle++;
	else
		d->evicted_lru++;
}

/* Drop states unused for idle_ms. The LRU list is ordered by last use, so
 * the walk stops at the first recent one. */
static void
delta_expire(hearth_delta *d, int64_t now_ms)
{
	delta_state *st = d->lru_tail;
	while (st != NULL && now_ms - st->last_ms > d->cfg.idle_ms) {
		delta_state *prev = st->prev;
		if (!st->busy)
			delta_evict(d, st, 1);
		st = prev;
	}
}

/* Double the bucket array when states outnumber buckets. Failing to grow
 * only lengthens the chains. */
static void
delta_table_grow(hearth_delta *d)
{
	if (d->n_states < d->n_buckets)
		return;
	size_t        nb = d->n_buckets * 2;
	delta_state **b  = calloc(nb, sizeof(*b));
	if (b == NULL)
		return;
	for (size_t i = 0; i < d->n_buckets; i++)
		for (delta_state *st = d->buckets[i], *nx; st != NULL;
		     st              = nx) {
			nx               = st->chain;
			delta_state **pp = &b[(size_t) st->lo & (nb - 1)];
			st->chain        = *pp;
			*pp              = st;
		}
	free(d->buckets);
	d->buckets   = b;
	d->n_buckets = nb;
}

/* A new, unseeded state for the key, making room first (invariant (1):
 * the least recently used state that is not busy goes). */
static delta_state *
delta_create(hearth_delta *d, uint64_t hi, uint64_t lo)
{
	if (d->n_states >= d->cfg.max_series) {
		delta_state *v = d->lru_tail;
		while (v != NULL && v->busy)
			v = v->prev;
		if (v != NULL)
			delta_evict(d, v, 0);
	}
	delta_state *st = calloc(1, sizeof(*st));
	if (st == NULL)
		return NULL;
	st->hi           = hi;
	st->lo           = lo;
	delta_state **pp = delta_bucket(d, lo);
	st->chain        = *pp;
	*pp              = st;
	delta_lru_front(d, st);
	d->n_states++;
	d->bytes += delta_state_bytes(st);
	delta_table_grow(d);
	return st;
}

int
hearth_delta_new(const hearth_delta_cfg *cfg, hearth_metrics *m,
    hearth_delta **out, hearth_err *err)
{
	static const char *const result[] = { "result" };
	static const char *const reason[] = { "reason" };
	hearth_delta            *d        = calloc(1, sizeof(*d));
	*out                              = NULL;
	if (d == NULL
	    || (d->buckets = calloc(1024, sizeof(*d->buckets))) == NULL) {
		free(d);
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "delta: out of memory");
	}
	d->n_buckets      = 1024;
	d->cfg.max_series = cfg != NULL && cfg->max_series > 0
	    ? cfg->max_series
	    : HEARTH_DELTA_DEFAULT_MAX_SERIES;
	d->cfg.idle_ms    = cfg != NULL && cfg->idle_ms > 0
	       ? cfg->idle_ms
	       : HEARTH_DELTA_DEFAULT_IDLE_MS;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->released, NULL);
	if (m != NULL) {
		d->m_profiles = hearth_metrics_counter(m,
		    "hearth_ingester_delta_profiles_total",
		    "Cumulative allocation profiles (Push, __name__ memory, "
		    "alloc_*) by what the server-side delta did: seeded and "
		    "reset ones are not stored, duplicate ones were applied "
		    "before.",
		    1, result);
		d->m_series
		    = hearth_metrics_gauge(m, "hearth_ingester_delta_series",
		        "Series with server-side delta state (bounded by "
		        "ingester.delta_max_series).",
		        0, NULL);
		d->m_bytes
		    = hearth_metrics_gauge(m, "hearth_ingester_delta_bytes",
		        "Bytes held by the server-side delta state.", 0, NULL);
		d->m_evictions = hearth_metrics_counter(m,
		    "hearth_ingester_delta_evictions_total",
		    "Delta states dropped: lru (over "
		    "ingester.delta_max_series) or idle (unused for "
		    "ingester.delta_idle_timeout); the series seeds again.",
		    1, reason);
		for (int i = 0; i < DELTA_N; i++) {
			const char *lv[1] = { delta_result_names[i] };
			hearth_metric_add(d->m_profiles, lv, 0);
		}
		const char *lru[1] = { "lru" }, *idle[1] = { "idle" };
		hearth_metric_add(d->m_evictions, lru, 0);
		hearth_metric_add(d->m_evictions, idle, 0);
	}
	*out = d;
	return 0;
}

void
hearth_delta_free(hearth_delta *d)
{
	if (d == NULL)
		return;
	for (delta_state *st = d->lru_head, *nx; st != NULL; st = nx) {
		nx = st->next;
		HEARTH_ASSERT(!st->busy);
		delta_map_fini(&st->map);
		free(st);
	}
	pthread_cond_destroy(&d->released);
	pthread_mutex_destroy(&d->mu);
	free(d->buckets);
	free(d);
}

void
hearth_delta_stats_get(hearth_delta *d, hearth_delta_stats *out)
{
	pthread_mutex_lock(&d->mu);
	out->series       = d->n_states;
	out->bytes        = d->bytes;
	out->seeded       = d->results[DELTA_SEEDED];
	out->stored       = d->results[DELTA_STORED];
	out->reset        = d->results[DELTA_RESET];
	out->duplicate    = d->results[DELTA_DUPLICATE];
	out->evicted_lru  = d->evicted_lru;
	out->evicted_idle = d->evicted_idle;
	pthread_mutex_unlock(&d->mu);
}

/* ---- transactions: taking and releasing series ------------------------ */

int
delta_acquire(hearth_delta *d, hearth_delta_txn *txn, int64_t now_ms)
{
	pthread_mutex_lock(&d->mu);
	delta_expire(d, now_ms);
	for (size_t i = 0; i < txn->n; i++) {
		delta_touch *t = &txn->t[i];
		delta_state *st;
		for (;;) {
			/* Looked up again after every wait: the state may
			 * have been evicted meanwhile. */
			st = delta_find(d, t->hi, t->lo);
			if (st == NULL) {
				st = delta_create(d, t->hi, t->lo);
				break;
			}
			if (!st->busy) {
				delta_lru_unlink(d, st);
				delta_lru_front(d, st);
				break;
			}
			pthread_cond_wait(&d->released, &d->mu);
		}
		if (st == NULL) {
			pthread_mutex_unlock(&d->mu);
			return HEARTH_ENOMEM;
		}
		st->busy    = 1;
		st->last_ms = now_ms;
		t->st       = st;
		t->seeded   = st->seeded;
		t->ids      = st->ids;
	}
	delta_gauges(d);
	pthread_mutex_unlock(&d->mu);
	return 0;
}

void
delta_release(hearth_delta *d, hearth_delta_txn *txn, int commit)
{
	pthread_mutex_lock(&d->mu);
	for (size_t i = 0; i < txn->n; i++) {
		delta_touch *t  = &txn->t[i];
		delta_state *st = t->st;
		if (st != NULL && commit) {
			if (t->has_pending) {
				d->bytes -= delta_map_bytes(&st->map);
				delta_map_fini(&st->map);
				st->map        = t->pending;
				t->has_pending = 0;
				d->bytes += delta_map_bytes(&st->map);
			}
			st->seeded = t->seeded;
			st->ids    = t->ids;
		}
		if (t->has_pending)
			delta_map_fini(&t->pending);
		t->has_pending = 0;
		if (st != NULL)
			st->busy = 0;
		t->st = NULL;
	}
	for (int r = 0; commit && r < DELTA_N; r++) {
		const char *lv[1] = { delta_result_names[r] };
		d->results[r] += txn->results[r];
		if (txn->results[r] > 0)
			hearth_metric_add(
			    d->m_profiles, lv, (double) txn->results[r]);
	}
	delta_gauges(d);
	pthread_cond_broadcast(&d->released);
	pthread_mutex_unlock(&d->mu);
}

void
hearth_delta_commit(hearth_delta *d, hearth_delta_txn *txn)
{
	if (txn != NULL)
		delta_release(d, txn, 1);
}

void
hearth_delta_abort(hearth_delta *d, hearth_delta_txn *txn)
{
	if (txn != NULL)
		delta_release(d, txn, 0);
}
