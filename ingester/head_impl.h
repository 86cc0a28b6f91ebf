/*
 * head_impl: the head's private structures, shared by head.c (tenant map,
 * strings, stack tree, statistics), head_push.c (validation, apply),
 * head_span.c (span rows: validation, packing, id sort), head_index.c
 * (postings, series and label queries) and head_tree.c (tree queries).
 * Include only from ingester/head*.c.
 *
 * Every id is a dense uint32 index into its table's arrays, assigned in
 * insertion order and never reused while the head lives:
 *   string id  -> strs[]           (0 is "")
 *   node id    -> nodes[]          (0 is the root; parent id < child id)
 *   series id  -> series[]         (postings list ids in ascending order)
 *   posting id -> postings[]       (one per distinct label name=value)
 *   name id    -> names[]          (one per distinct label name)
 * Hash tables are open-addressing with linear probing, power-of-two sized,
 * at most half full; a slot holds id + 1 so that 0 means empty.
 */
#ifndef HEARTH_HEAD_IMPL_H
#define HEARTH_HEAD_IMPL_H

#include "hash.h"
#include "head.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Strings live in chunks that never move, so a `const char *` into them
 * stays valid for the tenant's life. */
#define HEAD_STR_CHUNK ((size_t) 64 * 1024)

typedef struct head_str_chunk {
	struct head_str_chunk *prev;
	size_t		       size;
	size_t		       used;
	char		       data[];
} head_str_chunk;

typedef struct head_str {
	const char *s;	  /* NUL-terminated, in a chunk */
	uint32_t    len;
	uint32_t    hash; /* low 32 bits of XXH3: cheap rehash and compare */
} head_str;

typedef struct head_node {
	uint32_t parent;
	uint32_t name; /* string id */
} head_node;

/* id table: slots hold id + 1. */
typedef struct head_table {
	uint32_t *slots;
	size_t	  cap; /* power of two, or 0 */
	size_t	  n;
} head_table;

/* The stack tree's (parent, name) -> child table keeps the key in the slot
 * so a probe touches one cache line; child == 0 means empty (the root is
 * never a child). */
typedef struct head_node_slot {
	uint32_t parent;
	uint32_t name;
	uint32_t child;
} head_node_slot;

typedef struct head_profile {
	int64_t	 time_ns;
	int64_t	 total; /* sum of values, for series queries */
	uint32_t off;	/* first byte of its samples in the series' data */
	uint32_t len;	/* samples */
	uint32_t span_off; /* first byte of its span rows in span_data */
	uint32_t span_len; /* bytes of them; 0 = no span rows */
	uint8_t	 id[16]; /* all zero: no id (no de-duplication) */
} head_profile;

/* A profile's samples are packed into the series' data bytes, because
 * they are most of the head (a plain (uint32 node, int64 value) array
 * costs 12 bytes a sample, 16-24 with the array's growth slack):
 *
 *   varint unit                      gcd of the profile's values (>= 1)
 *   len x { varint node - prev node, varint value / unit }
 *
 * Samples are in ascending node order (prev starts at 0; equal nodes are
 * kept, delta 0), so a delta is mostly one byte; CPU profiles' values are
 * multiples of the sampling period, so value / unit is a small count.
 * Varints are LEB128 (7 bits a byte, low group first). Decode with
 * head_samples_begin / head_samples_next. */
typedef struct head_series {
	uint64_t      fp;
	hearth_label *labels; /* sorted; strings interned */
	uint32_t      n_labels;
	uint32_t      n_profiles, cap_profiles;
	head_profile *profiles;
	uint8_t	     *data; /* packed samples of all profiles, appended */
	uint32_t      n_data, cap_data;
	uint32_t      n_samples;
	int64_t	      min_ns, max_ns;
	int	      sorted; /* profiles in nondecreasing time order */
	/* Span rows of all profiles, packed and appended (below); NULL
	 * until a profile of the series has some. */
	uint8_t	     *span_data;
	uint32_t      n_span_data, cap_span_data;
	uint32_t      n_span_rows;
} head_series;

/* Longest LEB128 encoding of a uint64. */
#define HEAD_VARINT_MAX 10

/* Cursor over one profile's packed samples. */
typedef struct head_samples {
	const uint8_t *p;
	uint32_t       left;
	uint32_t       node;
	uint64_t       unit;
} head_samples;

static inline uint64_t
head_varint_get(const uint8_t **pp)
{
	const uint8_t *p = *pp;
	uint64_t       v = *p & 0x7f;
	for (unsigned sh = 7; *p++ & 0x80; sh += 7)
		v |= (uint64_t) (*p & 0x7f) << sh;
	*pp = p;
	return v;
}

/* Write v at p (at most HEAD_VARINT_MAX bytes); returns the byte after. */
static inline uint8_t *
head_varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t) v;
	return p;
}

/* Bytes head_varint_put writes for v. */
static inline size_t
head_varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* gcd(a, b), gcd(a, 0) = a: a profile's unit is the gcd of its values. */
static inline uint64_t
head_gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t r = a % b;
		a	   = b;
		b	   = r;
	}
	return a;
}

static inline void
head_samples_begin(head_samples *it, const head_series *s,
    const head_profile *pr)
{
	it->p	 = s->data + pr->off;
	it->left = pr->len;
	it->node = 0;
	it->unit = pr->len > 0 ? head_varint_get(&it->p) : 1;
}

/* The next sample: 1 with *node / *value set, 0 at the end. */
static inline int
head_samples_next(head_samples *it, uint32_t *node, int64_t *value)
{
	if (it->left == 0)
		return 0;
	it->left--;
	it->node += (uint32_t) head_varint_get(&it->p);
	*node  = it->node;
	*value = (int64_t) (head_varint_get(&it->p) * it->unit);
	return 1;
}

/* A profile's span rows (SeriesProfile.span_*: the samples that carried a
 * span id, a side table next to the samples, which include them) are
 * packed into the series' span_data bytes, grouped by span so that a span
 * query skips the groups of other spans without decoding them:
 *
 *   varint unit                       gcd of the profile's span values
 *   per span id, ascending:
 *     8 bytes span id (little endian)
 *     varint n                        rows of this span (>= 1)
 *     varint bytes                    length of the rows below
 *     n x { varint node - prev node, varint value / unit }
 *
 * Within a span the rows are in ascending node order (prev starts at 0
 * per span; equal nodes are kept, delta 0). Decode with head_spans_begin /
 * head_spans_group / head_samples_next on the group's rows. */
typedef struct head_spans {
	const uint8_t *p, *end;
	uint64_t       unit;
} head_spans;

static inline void
head_spans_begin(head_spans *it, const head_series *s, const head_profile *pr)
{
	it->p = it->end = NULL;
	it->unit	= 1;
	if (pr->span_len == 0)
		return;
	it->p	 = s->span_data + pr->span_off;
	it->end	 = it->p + pr->span_len;
	it->unit = head_varint_get(&it->p);
}

/* The next span group: 1 with *span set and *rows ready for
 * head_samples_next, 0 at the end. */
static inline int
head_spans_group(head_spans *it, uint64_t *span, head_samples *rows)
{
	if (it->p == it->end)
		return 0;
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | it->p[i];
	it->p += 8;
	*span	   = v;
	rows->left = (uint32_t) head_varint_get(&it->p);
	uint64_t n = head_varint_get(&it->p);
	rows->p	   = it->p;
	rows->node = 0;
	rows->unit = it->unit;
	it->p += n;
	return 1;
}

typedef struct head_posting {
	uint32_t  name;	 /* string id */
	uint32_t  value; /* string id */
	uint32_t *ids;	 /* series ids, ascending */
	uint32_t  n, cap;
} head_posting;

typedef struct head_name {
	uint32_t  name;	    /* string id */
	uint32_t *postings; /* posting ids of this name's values */
	uint32_t  n, cap;
} head_name;

/* Duplicate detection: (series, profile) of every profile with an id. */
typedef struct head_dup_slot {
	uint32_t series1; /* series id + 1; 0 = empty */
	uint32_t profile;
} head_dup_slot;

typedef struct head_tenant {
	char		*name;
	pthread_rwlock_t lock;
	/* --- everything below is guarded by lock --- */
	head_str_chunk *chunks;
	head_str       *strs;
	uint32_t	n_strs, cap_strs;
	head_table	str_table;

	head_node      *nodes;
	uint32_t	n_nodes, cap_nodes;
	head_node_slot *node_slots;
	size_t		node_slots_cap;

	head_series *series;
	uint32_t     n_series, cap_series;
	head_table   series_table;

	head_posting *postings;
	uint32_t      n_postings, cap_postings;
	head_table    posting_table;
	head_name    *names;
	uint32_t      n_names, cap_names;
	head_table    name_table;

	head_dup_slot *dup_slots;
	size_t	       dup_cap, n_dup;

	size_t n_profiles, n_samples;
	size_t bytes;
} head_tenant;

struct hearth_head {
	/* mu guards the tenant map (not the tenants): tenants in creation
	 * order, and a table of their indexes keyed by name hash. A tenant
	 * is never removed while the head lives, so a pointer found under mu
	 * stays valid after it is released. */
	pthread_mutex_t mu;
	head_tenant   **tenants;
	uint32_t	n_tenants, cap_tenants;
	head_table	tenant_table;
	atomic_size_t	bytes;	 /* invariant (5) of head.h */
	atomic_size_t	samples; /* stored in every tenant */
};

/* ---- head.c ---- */

/* Grow the array *arrp (a pointer to any object pointer) to hold need
 * elements (doubling); adds the growth to t->bytes and the head's total.
 * HEARTH_ENOMEM on failure (array kept). */
int head_grow(hearth_head *h, head_tenant *t, void *arrp, uint32_t *cap,
    uint32_t need, size_t elem);
#define HEAD_GROW(h, t, arr, cap, need)                                       \
	head_grow((h), (t), &(arr), &(cap), (need), sizeof(*(arr)))
/* Grow s->data to hold need bytes, by half its size at a time (the
 * packed samples are the head's largest arrays: doubling would leave a
 * third of them unused on average). HEARTH_ENOMEM (data kept). */
int head_grow_data(hearth_head *h, head_tenant *t, head_series *s,
    uint32_t need);
/* The same for any byte array (*data, *cap): s->span_data. */
int head_grow_bytes(hearth_head *h, head_tenant *t, uint8_t **data,
    uint32_t *cap, uint32_t need);
/* Account bytes allocated outside head_grow (t may be NULL: head only). */
void head_account(hearth_head *h, head_tenant *t, ptrdiff_t delta);
/* Make room for n ids in tb (at most half full), rehashing with fn.
 * HEARTH_ENOMEM. */
typedef uint64_t (*head_hash_fn)(const void *ctx, uint32_t id);
int head_table_reserve(hearth_head *h, head_tenant *t, head_table *tb,
    size_t n, head_hash_fn fn, const void *ctx);
/* Insert id (known absent) with hash hv; room must be reserved. */
void head_table_put(head_table *tb, uint64_t hv, uint32_t id);
void head_table_free(hearth_head *h, head_tenant *t, head_table *tb);
/* String id of s[0..len), or UINT32_MAX when not interned. */
uint32_t head_str_find(const head_tenant *t, const char *s, size_t len);
/* Find or add; HEARTH_ENOMEM. */
int head_str_intern(hearth_head *h, head_tenant *t, const char *s,
    size_t len, uint32_t *id);
/* The child of parent named name (string id), created when missing:
 * HEARTH_ELIMIT past 2^32 nodes, HEARTH_ENOMEM. Write lock held. */
int head_node_child(hearth_head *h, head_tenant *t, uint32_t parent,
    uint32_t name, uint32_t *child);
/* Find or create a tenant; HEARTH_ENOMEM. */
int head_tenant_get(hearth_head *h, const char *name, head_tenant **out);
/* Find a tenant (read side); NULL when it never pushed. */
head_tenant *head_tenant_find(hearth_head *h, const char *tenant);
int64_t	     head_sat_add(int64_t a, int64_t b);

/* ---- head_span.c ---- */

/* Check the span rows of profile pi of batch bi (n_stacks batch stacks):
 * equal column lengths, stacks in range, span ids != 0, values > 0.
 * HEARTH_EINVAL naming what is wrong. */
int head_span_check(const Hearth__Ingester__SeriesProfile *p, size_t bi,
    size_t pi, size_t n_stacks, hearth_err *err);
/* Sort key of one span row while packing. */
typedef struct head_span_key {
	uint64_t span;
	uint32_t node;
	uint32_t row; /* index into the profile's span columns */
} head_span_key;
/* Bytes head_span_pack may write for n rows. */
#define HEAD_SPAN_ENC_MAX(n) (HEAD_VARINT_MAX + (size_t) (n) * 48)
/* Pack n span rows (keys[i].node/.row set; .span is filled here from
 * span_ids) of values as head_spans describes into enc; returns the
 * length. Sorts keys. */
size_t head_span_pack(head_span_key *keys, size_t n, const uint64_t *span_ids,
    const int64_t *values, uint8_t *enc);

/* ---- head_index.c ---- */

/* Make sure a posting exists for every label of a new series and has room
 * for one more id (HEARTH_ENOMEM); then head_index_add cannot fail. Split
 * so that running out of memory never leaves a series half indexed. */
int  head_index_reserve(hearth_head *h, head_tenant *t, size_t n,
     const uint32_t *name_ids, const uint32_t *value_ids);
void head_index_add(head_tenant *t, uint32_t id, size_t n,
    const uint32_t *name_ids, const uint32_t *value_ids);
/* Series ids matching sel, ascending, in arena memory. */
int head_index_select(const head_tenant *t, const hearth_selector *sel,
    hearth_arena *a, uint32_t **ids, size_t *n, hearth_err *err);
/* Index range [*lo, *hi) of s's profiles within [start_ms, end_ms]; for
 * unsorted series the whole list (callers filter each profile). */
void head_profile_range(const head_series *s, int64_t start_ms,
    int64_t end_ms, uint32_t *lo, uint32_t *hi);
int  head_in_range(int64_t time_ns, int64_t start_ms, int64_t end_ms);
/* floor(time_ns / 1e6): a profile's millisecond time. */
int64_t head_ms(int64_t time_ns);
void head_index_free(hearth_head *h, head_tenant *t);
/* Check start_ms <= end_ms (HEARTH_EINVAL naming both). */
int head_check_range(int64_t start_ms, int64_t end_ms, hearth_err *err);

#endif
