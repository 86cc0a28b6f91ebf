#include "fgtree.h"

#include "err.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct fgtree_node {
	uint32_t parent; /* HEARTH_FGTREE_NO_PARENT for the root */
	uint32_t name;	 /* interned name id */
	int64_t	 self;
} fgtree_node;

typedef struct fgtree_name {
	size_t	 off; /* into pool */
	size_t	 len;
	uint64_t hash; /* XXH3 of the bytes, kept so growth needs no rehash */
} fgtree_name;

/* Both hash tables are open addressing with linear probing, a power-of-two
 * size and a load factor of at most 1/2. A slot holds 0 for empty: name
 * slots store id + 1, child slots store the node index (the root is
 * nobody's child, so 0 is free to mean empty). */
struct hearth_fgtree {
	fgtree_node *nodes;
	size_t	     n, cap;
	char	    *pool;
	size_t	     pool_len, pool_cap;
	fgtree_name *names;
	size_t	     n_names, names_cap;
	uint32_t    *name_slots;
	size_t	     name_mask;
	uint32_t    *child_slots;
	size_t	     child_mask;
};

#define FGTREE_NONE UINT32_MAX

static int64_t
fgtree_sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* splitmix64's finaliser: parent and name ids are small dense integers,
 * so they need a real mixer before masking. */
static size_t
fgtree_child_hash(uint32_t parent, uint32_t name)
{
	uint64_t h = ((uint64_t) parent << 32) | name;
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return (size_t) h;
}

/* Grow a malloc'd array to hold need elements (doubling). */
static int
fgtree_grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need) {
		if (c > SIZE_MAX / 2 / elem)
			return HEARTH_ENOMEM;
		c *= 2;
	}
	void *q = realloc(*p, c * elem);
	if (q == NULL)
		return HEARTH_ENOMEM;
	*p   = q;
	*cap = c;
	return 0;
}

static int
fgtree_rehash_names(hearth_fgtree *t, size_t slots)
{
	uint32_t *s = calloc(slots, sizeof(*s));
	if (s == NULL)
		return HEARTH_ENOMEM;
	size_t mask = slots - 1;
	for (size_t id = 0; id < t->n_names; id++) {
		size_t i = (size_t) t->names[id].hash & mask;
		while (s[i] != 0)
			i = (i + 1) & mask;
		s[i] = (uint32_t) id + 1;
	}
	free(t->name_slots);
	t->name_slots = s;
	t->name_mask  = mask;
	return 0;
}

static int
fgtree_rehash_children(hearth_fgtree *t, size_t slots)
{
	uint32_t *s = calloc(slots, sizeof(*s));
	if (s == NULL)
		return HEARTH_ENOMEM;
	size_t mask = slots - 1;
	for (size_t k = 1; k < t->n; k++) {
		size_t i = fgtree_child_hash(t->nodes[k].parent,
			       t->nodes[k].name) &
		    mask;
		while (s[i] != 0)
			i = (i + 1) & mask;
		s[i] = (uint32_t) k;
	}
	free(t->child_slots);
	t->child_slots = s;
	t->child_mask  = mask;
	return 0;
}

/* Look name up; 1 and *id when interned. */
static int
fgtree_lookup_name(const hearth_fgtree *t, const char *name, size_t len,
    uint64_t h, uint32_t *id)
{
	size_t i = (size_t) h & t->name_mask;
	for (uint32_t s; (s = t->name_slots[i]) != 0;
	     i = (i + 1) & t->name_mask) {
		const fgtree_name *nm = &t->names[s - 1];
		if (nm->hash == h && nm->len == len &&
		    (len == 0 || memcmp(t->pool + nm->off, name, len) == 0)) {
			*id = s - 1;
			return 1;
		}
	}
	return 0;
}

static int
fgtree_intern(hearth_fgtree *t, const char *name, size_t len, uint32_t *id)
{
	uint64_t h = XXH3_64bits(name, len);
	if (fgtree_lookup_name(t, name, len, h, id))
		return 0;
	if (len >= UINT32_MAX || t->n_names >= HEARTH_FGTREE_MAX_NODES)
		return HEARTH_ELIMIT;
	/* name may point into our own pool (a part of an interned name);
	 * remember it as an offset across the realloc. */
	int    own = t->pool != NULL && name >= t->pool &&
	    name < t->pool + t->pool_len;
	size_t own_off = own ? (size_t) (name - t->pool) : 0;
	int    rc;
	if ((rc = fgtree_grow((void **) &t->pool, &t->pool_cap,
		 t->pool_len + len + 1, 1)) != 0 ||
	    (rc = fgtree_grow((void **) &t->names, &t->names_cap,
		 t->n_names + 1, sizeof(fgtree_name))) != 0)
		return rc;
	if ((t->n_names + 1) * 2 > t->name_mask + 1 &&
	    (rc = fgtree_rehash_names(t, (t->name_mask + 1) * 2)) != 0)
		return rc;
	if (own)
		name = t->pool + own_off;
	fgtree_name *nm = &t->names[t->n_names];
	nm->off		= t->pool_len;
	nm->len		= len;
	nm->hash	= h;
	if (len > 0)
		memmove(t->pool + t->pool_len, name, len);
	t->pool_len += len;
	t->pool[t->pool_len++] = '\0'; /* handy when debugging */
	size_t i	       = (size_t) h & t->name_mask;
	while (t->name_slots[i] != 0)
		i = (i + 1) & t->name_mask;
	t->name_slots[i] = (uint32_t) t->n_names + 1;
	*id		 = (uint32_t) t->n_names++;
	return 0;
}

static uint32_t
fgtree_find_child(const hearth_fgtree *t, uint32_t parent, uint32_t name)
{
	size_t i = fgtree_child_hash(parent, name) & t->child_mask;
	for (uint32_t s; (s = t->child_slots[i]) != 0;
	     i = (i + 1) & t->child_mask)
		if (t->nodes[s].parent == parent && t->nodes[s].name == name)
			return s;
	return 0;
}

/* Find or add the child (parent, name id). */
static int
fgtree_child_id(hearth_fgtree *t, uint32_t parent, uint32_t name,
    uint32_t *child)
{
	uint32_t c = fgtree_find_child(t, parent, name);
	if (c != 0) {
		*child = c;
		return 0;
	}
	if (t->n >= HEARTH_FGTREE_MAX_NODES)
		return HEARTH_ELIMIT;
	int rc = fgtree_grow((void **) &t->nodes, &t->cap, t->n + 1,
	    sizeof(fgtree_node));
	if (rc != 0)
		return rc;
	if ((t->n + 1) * 2 > t->child_mask + 1 &&
	    (rc = fgtree_rehash_children(t, (t->child_mask + 1) * 2)) != 0)
		return rc;
	uint32_t k  = (uint32_t) t->n++;
	t->nodes[k] = (fgtree_node) { .parent = parent, .name = name };
	size_t i    = fgtree_child_hash(parent, name) & t->child_mask;
	while (t->child_slots[i] != 0)
		i = (i + 1) & t->child_mask;
	t->child_slots[i] = k;
	*child		  = k;
	return 0;
}

hearth_fgtree *
hearth_fgtree_new(void)
{
	hearth_fgtree *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	uint32_t id;
	if (fgtree_rehash_names(t, 64) != 0 ||
	    fgtree_rehash_children(t, 64) != 0 ||
	    fgtree_grow((void **) &t->nodes, &t->cap, 32,
		sizeof(fgtree_node)) != 0 ||
	    fgtree_intern(t, "", 0, &id) != 0) {
		hearth_fgtree_free(t);
		return NULL;
	}
	t->nodes[0] = (fgtree_node) { .parent = HEARTH_FGTREE_NO_PARENT,
		.name = id };
	t->n	    = 1;
	return t;
}

void
hearth_fgtree_free(hearth_fgtree *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t->pool);
	free(t->names);
	free(t->name_slots);
	free(t->child_slots);
	free(t);
}

int
hearth_fgtree_child(hearth_fgtree *t, uint32_t parent, const char *name,
    size_t len, uint32_t *child)
{
	HEARTH_ASSERT(parent < t->n);
	uint32_t id;
	int	 rc = fgtree_intern(t, name, len, &id);
	if (rc != 0)
		return rc;
	return fgtree_child_id(t, parent, id, child);
}

int
hearth_fgtree_find(const hearth_fgtree *t, uint32_t parent, const char *name,
    size_t len, uint32_t *child)
{
	HEARTH_ASSERT(parent < t->n);
	uint32_t id;
	if (!fgtree_lookup_name(t, name, len, XXH3_64bits(name, len), &id))
		return 0;
	uint32_t c = fgtree_find_child(t, parent, id);
	if (c == 0)
		return 0;
	*child = c;
	return 1;
}

int
hearth_fgtree_add_self(hearth_fgtree *t, uint32_t node, int64_t v)
{
	HEARTH_ASSERT(node < t->n);
	t->nodes[node].self = fgtree_sat_add(t->nodes[node].self, v);
	return 0;
}

int
hearth_fgtree_add_stack(hearth_fgtree *t, const char *const *frames,
    const size_t *lens, size_t n, int64_t v)
{
	uint32_t node = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = lens != NULL ? lens[i] : strlen(frames[i]);
		int    rc  = hearth_fgtree_child(t, node, frames[i], len,
		       &node);
		if (rc != 0)
			return rc;
	}
	return hearth_fgtree_add_self(t, node, v);
}

int
hearth_fgtree_merge(hearth_fgtree *dst, const hearth_fgtree *src)
{
	HEARTH_ASSERT(dst != src);
	int	  rc   = 0;
	uint32_t *nmap = malloc(src->n_names * sizeof(*nmap));
	uint32_t *map  = malloc(src->n * sizeof(*map));
	if (nmap == NULL || map == NULL) {
		rc = HEARTH_ENOMEM;
		goto out;
	}
	/* Intern each distinct name once, then nodes only need id probes. */
	for (size_t id = 0; id < src->n_names; id++) {
		const fgtree_name *nm = &src->names[id];
		if ((rc = fgtree_intern(dst, src->pool + nm->off, nm->len,
			 &nmap[id])) != 0)
			goto out;
	}
	map[0] = 0;
	for (size_t i = 1; i < src->n; i++) {
		const fgtree_node *s = &src->nodes[i];
		if ((rc = fgtree_child_id(dst, map[s->parent], nmap[s->name],
			 &map[i])) != 0)
			goto out;
	}
	for (size_t i = 0; i < src->n; i++)
		dst->nodes[map[i]].self =
		    fgtree_sat_add(dst->nodes[map[i]].self, src->nodes[i].self);
out:
	free(nmap);
	free(map);
	return rc;
}

size_t
hearth_fgtree_size(const hearth_fgtree *t)
{
	return t->n;
}

void
hearth_fgtree_node(const hearth_fgtree *t, uint32_t i, uint32_t *parent,
    const char **name, size_t *len, int64_t *self)
{
	HEARTH_ASSERT(i < t->n);
	const fgtree_node *nd = &t->nodes[i];
	if (parent != NULL)
		*parent = nd->parent;
	if (name != NULL || len != NULL)
		hearth_fgtree_name(t, nd->name, name, len);
	if (self != NULL)
		*self = nd->self;
}

uint32_t
hearth_fgtree_node_name(const hearth_fgtree *t, uint32_t i)
{
	HEARTH_ASSERT(i < t->n);
	return t->nodes[i].name;
}

size_t
hearth_fgtree_name_count(const hearth_fgtree *t)
{
	return t->n_names;
}

void
hearth_fgtree_name(const hearth_fgtree *t, uint32_t id, const char **name,
    size_t *len)
{
	HEARTH_ASSERT(id < t->n_names);
	if (name != NULL)
		*name = t->pool + t->names[id].off;
	if (len != NULL)
		*len = t->names[id].len;
}

int64_t
hearth_fgtree_total(const hearth_fgtree *t)
{
	int64_t sum = 0;
	for (size_t i = 0; i < t->n; i++)
		sum = fgtree_sat_add(sum, t->nodes[i].self);
	return sum;
}

void
hearth_fgtree_totals(const hearth_fgtree *t, int64_t *totals)
{
	for (size_t i = 0; i < t->n; i++)
		totals[i] = t->nodes[i].self;
	for (size_t i = t->n - 1; i > 0; i--) {
		uint32_t p = t->nodes[i].parent;
		totals[p]  = fgtree_sat_add(totals[p], totals[i]);
	}
}

int
hearth_fgtree_kth_largest(const int64_t *v, size_t n, size_t k, int64_t *out)
{
	HEARTH_ASSERT(k >= 1);
	if (n == 0) {
		*out = 0;
		return 0;
	}
	if (n < k) {
		int64_t m = v[0];
		for (size_t i = 1; i < n; i++)
			if (v[i] < m)
				m = v[i];
		*out = m;
		return 0;
	}
	/* A min-heap of the k largest seen so far; its top is the answer. */
	int64_t *h = malloc(k * sizeof(*h));
	if (h == NULL)
		return HEARTH_ENOMEM;
	size_t hn = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t x = v[i];
		size_t	j;
		if (hn < k) {
			for (j = hn++; j > 0 && h[(j - 1) / 2] > x;
			     j = (j - 1) / 2)
				h[j] = h[(j - 1) / 2];
			h[j] = x;
			continue;
		}
		if (x <= h[0])
			continue;
		for (j = 0;;) {
			size_t c = 2 * j + 1;
			if (c >= k)
				break;
			if (c + 1 < k && h[c + 1] < h[c])
				c++;
			if (h[c] >= x)
				break;
			h[j] = h[c];
			j    = c;
		}
		h[j] = x;
	}
	*out = h[0];
	free(h);
	return 0;
}

int
hearth_fgtree_truncate(const hearth_fgtree *t, int64_t max_nodes,
    hearth_fgtree **out)
{
	*out		 = NULL;
	size_t	       n = t->n;
	int	       rc;
	int64_t	      *tot   = malloc(n * sizeof(*tot));
	int64_t	      *other = calloc(n, sizeof(*other));
	uint32_t      *map   = malloc(n * sizeof(*map));
	hearth_fgtree *o     = hearth_fgtree_new();
	if (tot == NULL || other == NULL || map == NULL || o == NULL) {
		rc = HEARTH_ENOMEM;
		goto fail;
	}
	hearth_fgtree_totals(t, tot);
	int64_t thr = 0;
	if (max_nodes > 0 && n - 1 > (uint64_t) max_nodes &&
	    (rc = hearth_fgtree_kth_largest(tot + 1, n - 1, (size_t) max_nodes,
		 &thr)) != 0)
		goto fail;
	uint32_t other_id = FGTREE_NONE;
	(void) fgtree_lookup_name(t, "other", 5, XXH3_64bits("other", 5),
	    &other_id);

	/* Forward pass (invariant (1)): a node is kept when its parent is
	 * kept and it passes the threshold; a dropped node's total goes to
	 * its parent's "other", and its subtree is skipped with it. */
	map[0]	       = 0;
	o->nodes[0].self = t->nodes[0].self;
	for (size_t i = 1; i < n; i++) {
		const fgtree_node *nd = &t->nodes[i];
		map[i]		      = FGTREE_NONE;
		if (map[nd->parent] == FGTREE_NONE)
			continue;
		if (tot[i] < thr || nd->name == other_id) {
			other[nd->parent] =
			    fgtree_sat_add(other[nd->parent], tot[i]);
			continue;
		}
		const fgtree_name *nm = &t->names[nd->name];
		if ((rc = hearth_fgtree_child(o, map[nd->parent],
			 t->pool + nm->off, nm->len, &map[i])) != 0)
			goto fail;
		o->nodes[map[i]].self = nd->self;
	}
	for (size_t p = 0; p < n; p++) {
		if (other[p] == 0 || map[p] == FGTREE_NONE)
			continue;
		uint32_t c;
		if ((rc = hearth_fgtree_child(o, map[p], "other", 5, &c)) != 0)
			goto fail;
		o->nodes[c].self = other[p];
	}
	*out = o;
	o    = NULL;
	rc   = 0;
fail:
	hearth_fgtree_free(o);
	free(tot);
	free(other);
	free(map);
	return rc;
}
