#include "head_impl.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define HEAD_NODE_SLOTS_MIN 1024

/* ---- small helpers ---------------------------------------------------- */

int64_t
head_sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return a > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

void
head_account(hearth_head *h, head_tenant *t, ptrdiff_t delta)
{
	if (t != NULL)
		t->bytes += (size_t) delta;
	/* size_t arithmetic wraps, so adding a "negative" delta subtracts. */
	atomic_fetch_add(&h->bytes, (size_t) delta);
}

int
head_grow(hearth_head *h, head_tenant *t, void *arrp, uint32_t *cap,
    uint32_t need, size_t elem)
{
	void *old, *p;
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 8;
	while (nc < need)
		nc *= 2;
	if (nc > UINT32_MAX)
		nc = UINT32_MAX;
	if (nc > SIZE_MAX / elem)
		return HEARTH_ENOMEM;
	/* arrp points at a typed pointer; copy it out and back rather than
	 * cast to void ** (strict aliasing). */
	memcpy(&old, arrp, sizeof(old));
	if ((p = realloc(old, nc * elem)) == NULL)
		return HEARTH_ENOMEM;
	memcpy(arrp, &p, sizeof(p));
	head_account(h, t, (ptrdiff_t) ((nc - *cap) * elem));
	*cap = (uint32_t) nc;
	return 0;
}

int
head_grow_bytes(hearth_head *h, head_tenant *t, uint8_t **data, uint32_t *cap,
    uint32_t need)
{
	if (need <= *cap)
		return 0;
	uint64_t nc = (uint64_t) *cap + *cap / 2;
	if (nc < 256)
		nc = 256;
	if (nc < need)
		nc = need;
	if (nc > UINT32_MAX)
		nc = UINT32_MAX;
	uint8_t *p = realloc(*data, (size_t) nc);
	if (p == NULL)
		return HEARTH_ENOMEM;
	*data = p;
	head_account(h, t, (ptrdiff_t) (nc - *cap));
	*cap = (uint32_t) nc;
	return 0;
}

int
head_grow_data(hearth_head *h, head_tenant *t, head_series *s, uint32_t need)
{
	return head_grow_bytes(h, t, &s->data, &s->cap_data, need);
}

void
head_table_put(head_table *tb, uint64_t hv, uint32_t id)
{
	size_t mask = tb->cap - 1;
	size_t i    = (size_t) hv & mask;
	while (tb->slots[i] != 0)
		i = (i + 1) & mask;
	tb->slots[i] = id + 1;
	tb->n++;
}

int
head_table_reserve(hearth_head *h, head_tenant *t, head_table *tb, size_t n,
    head_hash_fn fn, const void *ctx)
{
	if (n * 2 <= tb->cap)
		return 0;
	size_t nc = tb->cap ? tb->cap : 64;
	while (nc < n * 2)
		nc *= 2;
	uint32_t *slots = calloc(nc, sizeof(*slots));
	if (slots == NULL)
		return HEARTH_ENOMEM;
	head_table nt = { slots, nc, 0 };
	for (size_t i = 0; i < tb->cap; i++)
		if (tb->slots[i] != 0)
			head_table_put(&nt, fn(ctx, tb->slots[i] - 1),
			    tb->slots[i] - 1);
	head_account(h, t, (ptrdiff_t) ((nc - tb->cap) * sizeof(*slots)));
	free(tb->slots);
	*tb = nt;
	return 0;
}

void
head_table_free(hearth_head *h, head_tenant *t, head_table *tb)
{
	head_account(h, t, -(ptrdiff_t) (tb->cap * sizeof(*tb->slots)));
	free(tb->slots);
	memset(tb, 0, sizeof(*tb));
}

/* ---- strings ---------------------------------------------------------- */

static uint64_t
head_str_hash(const void *ctx, uint32_t id)
{
	const head_tenant *t = ctx;
	return t->strs[id].hash;
}

/* Tables mask the low bits, so the 32 stored bits of the hash suffice up
 * to 2^32 slots. */
static uint32_t
head_str_hash32(const char *s, size_t len)
{
	return (uint32_t) XXH3_64bits(s, len);
}

static uint32_t
head_str_find_h(const head_tenant *t, const char *s, size_t len, uint32_t hv)
{
	if (t->str_table.cap == 0)
		return UINT32_MAX;
	size_t mask = t->str_table.cap - 1;
	size_t i    = (size_t) hv & mask;
	for (uint32_t v; (v = t->str_table.slots[i]) != 0; i = (i + 1) & mask) {
		const head_str *e = &t->strs[v - 1];
		if (e->hash == hv && e->len == len && memcmp(e->s, s, len) == 0)
			return v - 1;
	}
	return UINT32_MAX;
}

uint32_t
head_str_find(const head_tenant *t, const char *s, size_t len)
{
	return head_str_find_h(t, s, len, head_str_hash32(s, len));
}

/* Copy s into chunk storage. Long strings get a chunk of their own, linked
 * behind the open chunk so it keeps filling. */
static const char *
head_str_store(hearth_head *h, head_tenant *t, const char *s, size_t len)
{
	head_str_chunk *c = t->chunks;
	if (c == NULL || c->size - c->used < len + 1) {
		int	big  = len + 1 > HEAD_STR_CHUNK / 4;
		size_t	size = big ? len + 1 : HEAD_STR_CHUNK;
		head_str_chunk *nc = malloc(sizeof(*nc) + size);
		if (nc == NULL)
			return NULL;
		nc->size = size;
		nc->used = 0;
		head_account(h, t, (ptrdiff_t) (sizeof(*nc) + size));
		if (big && c != NULL) {
			nc->prev = c->prev;
			c->prev	 = nc;
		} else {
			nc->prev  = c;
			t->chunks = nc;
		}
		c = nc;
	}
	char *p = c->data + c->used;
	if (len > 0)
		memcpy(p, s, len);
	p[len] = '\0';
	c->used += len + 1;
	return p;
}

int
head_str_intern(hearth_head *h, head_tenant *t, const char *s, size_t len,
    uint32_t *id)
{
	uint32_t hv    = head_str_hash32(s, len);
	uint32_t found = head_str_find_h(t, s, len, hv);
	if (found != UINT32_MAX) {
		*id = found;
		return 0;
	}
	if (len >= UINT32_MAX || t->n_strs == UINT32_MAX)
		return HEARTH_ELIMIT;
	if (HEAD_GROW(h, t, t->strs, t->cap_strs, t->n_strs + 1) != 0 ||
	    head_table_reserve(h, t, &t->str_table, (size_t) t->n_strs + 1,
		head_str_hash, t) != 0)
		return HEARTH_ENOMEM;
	const char *copy = head_str_store(h, t, s, len);
	if (copy == NULL)
		return HEARTH_ENOMEM;
	uint32_t nid  = t->n_strs++;
	t->strs[nid]  = (head_str) { copy, (uint32_t) len, hv };
	head_table_put(&t->str_table, hv, nid);
	*id = nid;
	return 0;
}

/* ---- stack tree ------------------------------------------------------- */

static uint64_t
head_node_hash(uint32_t parent, uint32_t name)
{
	return hearth_hash_u64(((uint64_t) parent << 32) | name);
}

static int
head_node_slots_grow(hearth_head *h, head_tenant *t)
{
	size_t nc = t->node_slots_cap ? t->node_slots_cap * 2
				      : HEAD_NODE_SLOTS_MIN;
	head_node_slot *ns = calloc(nc, sizeof(*ns));
	if (ns == NULL)
		return HEARTH_ENOMEM;
	for (size_t i = 0; i < t->node_slots_cap; i++) {
		head_node_slot sl = t->node_slots[i];
		if (sl.child == 0)
			continue;
		size_t j = (size_t) head_node_hash(sl.parent, sl.name) & (nc - 1);
		while (ns[j].child != 0)
			j = (j + 1) & (nc - 1);
		ns[j] = sl;
	}
	head_account(h, t,
	    (ptrdiff_t) ((nc - t->node_slots_cap) * sizeof(*ns)));
	free(t->node_slots);
	t->node_slots	  = ns;
	t->node_slots_cap = nc;
	return 0;
}

/* The child of parent named name (a string id), created when missing:
 * the one hash lookup a new stack prefix costs. */
int
head_node_child(hearth_head *h, head_tenant *t, uint32_t parent,
    uint32_t name, uint32_t *child)
{
	uint64_t hv   = head_node_hash(parent, name);
	size_t	 mask = t->node_slots_cap - 1;
	size_t	 i    = (size_t) hv & mask;
	for (; t->node_slots[i].child != 0; i = (i + 1) & mask) {
		const head_node_slot *sl = &t->node_slots[i];
		if (sl->parent == parent && sl->name == name) {
			*child = sl->child;
			return 0;
		}
	}
	if (t->n_nodes == UINT32_MAX)
		return HEARTH_ELIMIT;
	if (HEAD_GROW(h, t, t->nodes, t->cap_nodes, t->n_nodes + 1) != 0)
		return HEARTH_ENOMEM;
	/* n_nodes - 1 slots are used (the root has none); stay half full. */
	if ((size_t) t->n_nodes * 2 > t->node_slots_cap) {
		if (head_node_slots_grow(h, t) != 0)
			return HEARTH_ENOMEM;
		mask = t->node_slots_cap - 1;
		i    = (size_t) hv & mask;
		while (t->node_slots[i].child != 0)
			i = (i + 1) & mask;
	}
	uint32_t id	 = t->n_nodes++;
	t->nodes[id]	 = (head_node) { parent, name };
	t->node_slots[i] = (head_node_slot) { parent, name, id };
	*child		 = id;
	return 0;
}

/* ---- tenants ---------------------------------------------------------- */

static uint64_t
head_tenant_hash(const void *ctx, uint32_t id)
{
	const hearth_head *h = ctx;
	return XXH3_64bits(h->tenants[id]->name, strlen(h->tenants[id]->name));
}

static head_tenant *
head_tenant_lookup(hearth_head *h, const char *name, uint64_t hv)
{
	if (h->tenant_table.cap == 0)
		return NULL;
	size_t mask = h->tenant_table.cap - 1;
	size_t i    = (size_t) hv & mask;
	for (uint32_t v; (v = h->tenant_table.slots[i]) != 0; i = (i + 1) & mask)
		if (strcmp(h->tenants[v - 1]->name, name) == 0)
			return h->tenants[v - 1];
	return NULL;
}

head_tenant *
head_tenant_find(hearth_head *h, const char *tenant)
{
	uint64_t hv = XXH3_64bits(tenant, strlen(tenant));
	pthread_mutex_lock(&h->mu);
	head_tenant *t = head_tenant_lookup(h, tenant, hv);
	pthread_mutex_unlock(&h->mu);
	return t;
}

static void
head_series_fini(hearth_head *h, head_tenant *t, head_series *s)
{
	head_account(h, t,
	    -(ptrdiff_t) (s->n_labels * sizeof(*s->labels) +
		s->cap_profiles * sizeof(*s->profiles) + s->cap_data +
		s->cap_span_data));
	free(s->labels);
	free(s->profiles);
	free(s->data);
	free(s->span_data);
}

static void
head_tenant_free(hearth_head *h, head_tenant *t)
{
	for (uint32_t i = 0; i < t->n_series; i++)
		head_series_fini(h, t, &t->series[i]);
	head_index_free(h, t);
	for (head_str_chunk *c = t->chunks, *prev; c != NULL; c = prev) {
		prev = c->prev;
		head_account(h, t, -(ptrdiff_t) (sizeof(*c) + c->size));
		free(c);
	}
	head_account(h, t,
	    -(ptrdiff_t) (t->cap_strs * sizeof(*t->strs) +
		t->cap_nodes * sizeof(*t->nodes) +
		t->node_slots_cap * sizeof(*t->node_slots) +
		t->cap_series * sizeof(*t->series) +
		t->dup_cap * sizeof(*t->dup_slots) + sizeof(*t) +
		strlen(t->name) + 1));
	head_table_free(h, t, &t->str_table);
	head_table_free(h, t, &t->series_table);
	/* Invariant (5): every byte the tenant counted was given back. */
	HEARTH_ASSERT(t->bytes == 0);
	free(t->strs);
	free(t->nodes);
	free(t->node_slots);
	free(t->series);
	free(t->dup_slots);
	pthread_rwlock_destroy(&t->lock);
	free(t->name);
	free(t);
}

static head_tenant *
head_tenant_new(hearth_head *h, const char *name)
{
	pthread_rwlockattr_t attr;
	head_tenant	    *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	if ((t->name = strdup(name)) == NULL) {
		free(t);
		return NULL;
	}
	head_account(h, t, (ptrdiff_t) (sizeof(*t) + strlen(name) + 1));
	/* Writers first: a steady stream of queries must not starve pushes
	 * (glibc's default prefers readers). */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&t->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	uint32_t empty;
	if (head_str_intern(h, t, "", 0, &empty) != 0 ||
	    HEAD_GROW(h, t, t->nodes, t->cap_nodes, 1) != 0 ||
	    head_node_slots_grow(h, t) != 0) {
		head_tenant_free(h, t);
		return NULL;
	}
	HEARTH_ASSERT(empty == 0);
	t->nodes[0] = (head_node) { 0, 0 };
	t->n_nodes  = 1;
	return t;
}

int
head_tenant_get(hearth_head *h, const char *name, head_tenant **out)
{
	uint64_t hv = XXH3_64bits(name, strlen(name));
	int	 rc = 0;
	pthread_mutex_lock(&h->mu);
	head_tenant *t = head_tenant_lookup(h, name, hv);
	if (t == NULL) {
		if (HEAD_GROW(h, NULL, h->tenants, h->cap_tenants,
			h->n_tenants + 1) != 0 ||
		    head_table_reserve(h, NULL, &h->tenant_table,
			(size_t) h->n_tenants + 1, head_tenant_hash, h) != 0 ||
		    (t = head_tenant_new(h, name)) == NULL) {
			rc = HEARTH_ENOMEM;
			goto done;
		}
		h->tenants[h->n_tenants] = t;
		head_table_put(&h->tenant_table, hv, h->n_tenants);
		h->n_tenants++;
	}
	*out = t;
done:
	pthread_mutex_unlock(&h->mu);
	return rc;
}

int
hearth_head_new(hearth_head **out, hearth_err *err)
{
	hearth_head *h = calloc(1, sizeof(*h));
	if (h == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "head: out of memory");
	pthread_mutex_init(&h->mu, NULL);
	atomic_init(&h->bytes, sizeof(*h));
	atomic_init(&h->samples, 0);
	*out = h;
	return 0;
}

void
hearth_head_free(hearth_head *h)
{
	if (h == NULL)
		return;
	for (uint32_t i = 0; i < h->n_tenants; i++)
		head_tenant_free(h, h->tenants[i]);
	head_account(h, NULL,
	    -(ptrdiff_t) (h->cap_tenants * sizeof(*h->tenants)));
	head_table_free(h, NULL, &h->tenant_table);
	HEARTH_ASSERT(atomic_load(&h->bytes) == sizeof(*h)); /* (5) */
	free(h->tenants);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

/* ---- statistics ------------------------------------------------------- */

static void
head_tenant_stats(head_tenant *t, hearth_head_stats *st)
{
	pthread_rwlock_rdlock(&t->lock);
	st->series += t->n_series;
	st->profiles += t->n_profiles;
	st->samples += t->n_samples;
	st->nodes += t->n_nodes;
	st->strings += t->n_strs;
	st->bytes += t->bytes;
	pthread_rwlock_unlock(&t->lock);
}

size_t
hearth_head_bytes(const hearth_head *h)
{
	return atomic_load(&((hearth_head *) h)->bytes);
}

size_t
hearth_head_samples(const hearth_head *h)
{
	return atomic_load(&((hearth_head *) h)->samples);
}

void
hearth_head_stats_get(hearth_head *h, const char *tenant,
    hearth_head_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (tenant != NULL) {
		head_tenant *t = head_tenant_find(h, tenant);
		if (t != NULL)
			head_tenant_stats(t, out);
		return;
	}
	pthread_mutex_lock(&h->mu);
	for (uint32_t i = 0; i < h->n_tenants; i++)
		head_tenant_stats(h->tenants[i], out);
	pthread_mutex_unlock(&h->mu);
	out->bytes = hearth_head_bytes(h);
}

void
hearth_head_foreach_tenant(hearth_head *h, hearth_head_tenant_fn fn,
    void *ctx)
{
	pthread_mutex_lock(&h->mu);
	for (uint32_t i = 0; i < h->n_tenants; i++) {
		hearth_head_stats st;
		memset(&st, 0, sizeof(st));
		head_tenant_stats(h->tenants[i], &st);
		fn(ctx, h->tenants[i]->name, &st);
	}
	pthread_mutex_unlock(&h->mu);
}
