/*
 * delta_impl: what delta.c (maps, the state table, taking and releasing
 * series) and delta_txn.c (deciding and rewriting profiles) share. Only
 * for ingester/delta*.c; the contract is delta.h.
 */
#ifndef HEARTH_DELTA_IMPL_H
#define HEARTH_DELTA_IMPL_H

#include "delta.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

/* Stack key -> value. Open addressing, linear probing. Keys are XXH3
 * hashes (0 is remapped to 1 and marks an empty slot), so their low bits
 * index directly. Heap memory (a state outlives requests). */
typedef struct delta_map {
	uint64_t *keys;
	int64_t  *vals;
	size_t    cap; /* 0 or a power of two */
	size_t    n;
} delta_map;

size_t delta_map_bytes(const delta_map *m);
void   delta_map_fini(delta_map *m); /* back to empty */
/* The value of k, or NULL. */
int64_t *delta_map_find(const delta_map *m, uint64_t k);
/* Room for n keys at a load of at most 3/4. HEARTH_ENOMEM. */
int delta_map_reserve(delta_map *m, size_t n);
/* Add v to k's value (a new key starts at 0); *added = 1 for a new key. */
int delta_map_add(delta_map *m, uint64_t k, int64_t v, int *added);
/* Set k to v, k new or not. */
int delta_map_set(delta_map *m, uint64_t k, int64_t v);
/* dst = a copy of src (dst's old content is not freed). */
int delta_map_clone(delta_map *dst, const delta_map *src);

/* The last HEARTH_DELTA_IDS profile ids applied to a series, a ring. */
typedef struct delta_ids {
	uint8_t id[HEARTH_DELTA_IDS][16];
	uint8_t n;    /* ids held, <= HEARTH_DELTA_IDS */
	uint8_t next; /* slot the next id overwrites */
} delta_ids;

typedef struct delta_state {
	uint64_t            hi, lo; /* series key */
	struct delta_state *chain;  /* next in the table bucket */
	struct delta_state *prev;   /* LRU: more recently used */
	struct delta_state *next;   /* LRU: less recently used */
	delta_map           map;
	delta_ids           ids;
	int64_t             last_ms; /* last begin that took it */
	uint8_t             seeded;
	uint8_t             busy; /* owned by a transaction (invariant (2)) */
} delta_state;

/* What happened to one profile (delta.h's table). */
enum { DELTA_SEEDED, DELTA_STORED, DELTA_RESET, DELTA_DUPLICATE, DELTA_N };

extern const char *const delta_result_names[DELTA_N];

struct hearth_delta {
	hearth_delta_cfg cfg;
	pthread_mutex_t  mu;       /* everything below, and busy flags */
	pthread_cond_t   released; /* a busy state became free */
	delta_state    **buckets;
	size_t           n_buckets; /* power of two */
	size_t           n_states;
	delta_state     *lru_head, *lru_tail;
	size_t           bytes; /* invariant (3) */
	uint64_t         results[DELTA_N];
	uint64_t         evicted_lru, evicted_idle;
	hearth_metric   *m_profiles, *m_series, *m_bytes, *m_evictions;
};

/* One series of a push: its state (busy while the transaction is open)
 * and what the transaction will install. */
typedef struct delta_touch {
	uint64_t     hi, lo;
	delta_state *st; /* NULL until acquired */
	delta_map    pending;
	int          has_pending; /* pending replaces st->map on commit */
	uint8_t      seeded;
	delta_ids    ids;
} delta_touch;

struct hearth_delta_txn {
	delta_touch *t; /* sorted by key, unique */
	size_t       n;
	uint64_t     results[DELTA_N];
};

/* Take every series of txn busy, in key order (no cycle of waiters: a
 * push waits only for series ordered after those it holds), creating
 * states as needed, after dropping idle ones. HEARTH_ENOMEM: release with
 * delta_release(d, txn, 0). */
int delta_acquire(hearth_delta *d, hearth_delta_txn *txn, int64_t now_ms);
/* Install (commit) or drop the pending states and free the series. */
void delta_release(hearth_delta *d, hearth_delta_txn *txn, int commit);

#endif
