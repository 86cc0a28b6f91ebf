/*
 * upload builder: three open-addressing hash tables (strings, stacks, groups)
 * plus one per group (stack id -> row), all in the request arena.
 *
 * Every table stores 1-based indexes into a parallel array (0 = empty slot),
 * uses linear probing, keeps its load factor <= 1/2 and doubles when it
 * would pass it. Keys hash with XXH3; the full 64-bit hash is stored next to
 * each key so that probing compares hashes before bytes and growth rehashes
 * without touching the keys.
 */
#include "upload.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define UPLOAD_MIN_SLOTS 64
/* Sorting a handful of labels with insertion sort beats qsort's call
 * overhead; above this qsort keeps adversarial label counts O(n log n). */
#define UPLOAD_SMALL_SORT 8

typedef struct upload_group {
	hearth_upload_label *labels;
	size_t               n_labels;
	uint64_t             hash;
	uint32_t            *stacks;
	int64_t             *values;
	size_t               n_rows;
	size_t               cap_rows;
	uint32_t            *row_slots; /* row index + 1, 0 = empty */
	size_t               n_row_slots;
	/* span rows: (stack, span id) -> row, same scheme as the rows */
	uint32_t *span_stacks;
	uint64_t *span_ids;
	int64_t  *span_values;
	size_t    n_span_rows;
	size_t    cap_span_rows;
	uint32_t *span_slots;
	size_t    n_span_slots;
} upload_group;

typedef struct upload_sort_label {
	const char *name;
	const char *value;
	size_t      pos; /* input position: ties keep the last one */
} upload_sort_label;

struct hearth_upload_builder {
	hearth_arena *a;
	size_t        n_types;

	const char **strings;
	uint32_t    *string_lens;
	uint64_t    *string_hash;
	size_t       n_strings;
	size_t       cap_strings;
	uint32_t    *str_slots;
	size_t       n_str_slots;

	uint32_t *frames;
	size_t    n_frames;
	size_t    cap_frames;
	uint32_t *stack_off; /* n_stacks + 1 used entries */
	uint64_t *stack_hash;
	size_t    n_stacks;
	size_t    cap_stacks;
	uint32_t *stack_slots;
	size_t    n_stack_slots;

	upload_group *groups;
	size_t        n_groups;
	size_t        cap_groups;
	uint32_t     *group_slots;
	size_t        n_group_slots;
	size_t last_group; /* index + 1 of the group hit last, 0 = none */

	upload_sort_label *scratch; /* label sorting buffer, reused */
	size_t             cap_scratch;
};

static int
upload_nomem(hearth_upload_builder *b, hearth_err *err)
{
	return hearth_err_set(err, HEARTH_ELIMIT,
	    "request memory limit reached (%zu bytes in use while building "
	    "the profile; send smaller profiles or raise the limit)",
	    hearth_arena_used(b->a));
}

static int
upload_grow(hearth_upload_builder *b, void **arr, size_t *cap, size_t need,
    size_t elem)
{
	return hearth_arena_grow(b->a, arr, cap, need, elem);
}

static uint32_t *
upload_slots_new(hearth_upload_builder *b, size_t n)
{
	return hearth_arena_calloc(b->a, n, sizeof(uint32_t));
}

/* Rehash a table of 1-based indexes into one twice as large; hashes[i] is
 * the stored hash of entry i. */
static int
upload_rehash(hearth_upload_builder *b, uint32_t **slots, size_t *n_slots,
    const uint64_t *hashes, size_t n_entries)
{
	size_t    ns = *n_slots ? *n_slots * 2 : UPLOAD_MIN_SLOTS;
	uint32_t *s  = upload_slots_new(b, ns);
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < n_entries; i++) {
		size_t j = (size_t) hashes[i] & (ns - 1);
		while (s[j] != 0)
			j = (j + 1) & (ns - 1);
		s[j] = (uint32_t) (i + 1);
	}
	*slots   = s;
	*n_slots = ns;
	return 0;
}

int
hearth_upload_builder_new(hearth_arena *a, size_t n_sample_types,
    hearth_upload_builder **out, hearth_err *err)
{
	HEARTH_ASSERT(a != NULL && out != NULL);
	*out = NULL;
	if (n_sample_types == 0)
		return hearth_err_set(
		    err, HEARTH_EINVAL, "profile has no sample types");
	hearth_upload_builder *b = hearth_arena_calloc(a, 1, sizeof(*b));
	if (b == NULL)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached (%zu bytes in use while "
		    "building the profile)",
		    hearth_arena_used(a));
	b->a       = a;
	b->n_types = n_sample_types;
	/* strings[0] = "" (invariant of the upload; never a frame) and
	 * stack_off[0] = 0 (invariant 1). Neither is in a hash table. */
	if (upload_grow(b, (void **) &b->strings, &b->cap_strings, 1,
	        sizeof(*b->strings))
	        != 0
	    || (b->string_lens
	           = hearth_arena_calloc(a, b->cap_strings, sizeof(uint32_t)))
	        == NULL
	    || (b->string_hash
	           = hearth_arena_calloc(a, b->cap_strings, sizeof(uint64_t)))
	        == NULL
	    || upload_grow(b, (void **) &b->stack_off, &b->cap_stacks, 1,
	           sizeof(uint32_t))
	        != 0
	    || (b->stack_hash
	           = hearth_arena_calloc(a, b->cap_stacks, sizeof(uint64_t)))
	        == NULL)
		return upload_nomem(b, err);
	b->strings[0]     = "";
	b->string_lens[0] = 0;
	b->n_strings      = 1;
	b->stack_off[0]   = 0;
	*out              = b;
	return 0;
}

int
hearth_upload_builder_string(hearth_upload_builder *b, const char *s,
    size_t len, uint32_t *id, hearth_err *err)
{
	if (len == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "empty function name in a stack frame");
	if (len > UINT32_MAX)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "function name of %zu bytes is too long", len);
	uint64_t h = XXH3_64bits(s, len);
	if (b->n_str_slots > 0) {
		size_t mask = b->n_str_slots - 1;
		for (size_t j = (size_t) h & mask;; j = (j + 1) & mask) {
			uint32_t e = b->str_slots[j];
			if (e == 0)
				break;
			e--;
			if (b->string_hash[e] == h && b->string_lens[e] == len
			    && memcmp(b->strings[e], s, len) == 0) {
				*id = e;
				return 0;
			}
		}
	}
	if (b->n_strings >= UINT32_MAX - 1)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "too many distinct function names in one profile");
	/* Keep the table at most half full: entries 1..n_strings-1 plus this.
	 */
	if (b->n_strings * 2 > b->n_str_slots) {
		/* string 0 is not in the table: rehash entries from 1 */
		size_t ns
		    = b->n_str_slots ? b->n_str_slots * 2 : UPLOAD_MIN_SLOTS;
		uint32_t *sl = upload_slots_new(b, ns);
		if (sl == NULL)
			return upload_nomem(b, err);
		for (size_t i = 1; i < b->n_strings; i++) {
			size_t j = (size_t) b->string_hash[i] & (ns - 1);
			while (sl[j] != 0)
				j = (j + 1) & (ns - 1);
			sl[j] = (uint32_t) (i + 1);
		}
		b->str_slots   = sl;
		b->n_str_slots = ns;
	}
	size_t cap = b->cap_strings;
	if (b->n_strings + 1 > cap) {
		size_t c1 = cap, c2 = cap, c3 = cap;
		if (upload_grow(b, (void **) &b->strings, &c1,
		        b->n_strings + 1, sizeof(*b->strings))
		        != 0
		    || upload_grow(b, (void **) &b->string_lens, &c2,
		           b->n_strings + 1, sizeof(uint32_t))
		        != 0
		    || upload_grow(b, (void **) &b->string_hash, &c3,
		           b->n_strings + 1, sizeof(uint64_t))
		        != 0)
			return upload_nomem(b, err);
		b->cap_strings = c1;
	}
	char *copy = hearth_arena_strndup(b->a, s, len);
	if (copy == NULL)
		return upload_nomem(b, err);
	size_t e          = b->n_strings++;
	b->strings[e]     = copy;
	b->string_lens[e] = (uint32_t) len;
	b->string_hash[e] = h;
	size_t mask       = b->n_str_slots - 1;
	size_t j          = (size_t) h & mask;
	while (b->str_slots[j] != 0)
		j = (j + 1) & mask;
	b->str_slots[j] = (uint32_t) (e + 1);
	*id             = (uint32_t) e;
	return 0;
}

int
hearth_upload_builder_stack(hearth_upload_builder *b, const uint32_t *frames,
    size_t n, uint32_t *stack_id, hearth_err *err)
{
	/* Frame ids come from _string (invariant 2); checking each one here
	 * would cost more than the hash on deep stacks, so only the cheap
	 * end points are asserted. */
	HEARTH_ASSERT(n == 0
	    || (frames != NULL && frames[0] != 0 && frames[0] < b->n_strings
	        && frames[n - 1] != 0 && frames[n - 1] < b->n_strings));
	uint64_t h = XXH3_64bits(frames, n * sizeof(uint32_t));
	if (b->n_stack_slots > 0) {
		size_t mask = b->n_stack_slots - 1;
		for (size_t j = (size_t) h & mask;; j = (j + 1) & mask) {
			uint32_t e = b->stack_slots[j];
			if (e == 0)
				break;
			e--;
			size_t off = b->stack_off[e];
			size_t len = b->stack_off[e + 1] - off;
			if (b->stack_hash[e] == h && len == n
			    && (n == 0
			        || memcmp(b->frames + off, frames,
			               n * sizeof(uint32_t))
			            == 0)) {
				*stack_id = e;
				return 0;
			}
		}
	}
	if (b->n_stacks >= UINT32_MAX - 1 || b->n_frames + n > UINT32_MAX)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "too many stacks or frames in one profile");
	if ((b->n_stacks + 1) * 2 > b->n_stack_slots
	    && upload_rehash(b, &b->stack_slots, &b->n_stack_slots,
	           b->stack_hash, b->n_stacks)
	        != 0)
		return upload_nomem(b, err);
	/* stack_off needs n_stacks + 2 entries after this add. */
	if (b->n_stacks + 2 > b->cap_stacks) {
		size_t c1 = b->cap_stacks, c2 = b->cap_stacks;
		if (upload_grow(b, (void **) &b->stack_off, &c1,
		        b->n_stacks + 2, sizeof(uint32_t))
		        != 0
		    || upload_grow(b, (void **) &b->stack_hash, &c2,
		           b->n_stacks + 2, sizeof(uint64_t))
		        != 0)
			return upload_nomem(b, err);
		b->cap_stacks = c1;
	}
	if (upload_grow(b, (void **) &b->frames, &b->cap_frames,
	        b->n_frames + n, sizeof(uint32_t))
	    != 0)
		return upload_nomem(b, err);
	if (n > 0)
		memcpy(b->frames + b->n_frames, frames, n * sizeof(uint32_t));
	b->n_frames += n;
	size_t e            = b->n_stacks++;
	b->stack_hash[e]    = h;
	b->stack_off[e + 1] = (uint32_t) b->n_frames;
	size_t mask         = b->n_stack_slots - 1;
	size_t j            = (size_t) h & mask;
	while (b->stack_slots[j] != 0)
		j = (j + 1) & mask;
	b->stack_slots[j] = (uint32_t) (e + 1);
	*stack_id         = (uint32_t) e;
	return 0;
}

static int
upload_label_cmp(const void *x, const void *y)
{
	const upload_sort_label *l = x, *r = y;
	int                      c = strcmp(l->name, r->name);
	if (c != 0)
		return c;
	return l->pos < r->pos ? -1 : l->pos > r->pos;
}

/* Sort labels into b->scratch by name and drop duplicate names (the last
 * one given wins, as with repeated assignment). Returns the count, or
 * (size_t) -1 when out of memory. */
static size_t
upload_sort_labels(
    hearth_upload_builder *b, const hearth_upload_label *in, size_t n)
{
	if (upload_grow(b, (void **) &b->scratch, &b->cap_scratch, n,
	        sizeof(*b->scratch))
	    != 0)
		return (size_t) -1;
	upload_sort_label *s = b->scratch;
	for (size_t i = 0; i < n; i++) {
		s[i].name  = in[i].name;
		s[i].value = in[i].value;
		s[i].pos   = i;
	}
	if (n <= UPLOAD_SMALL_SORT) {
		for (size_t i = 1; i < n; i++) {
			upload_sort_label t = s[i];
			size_t            j = i;
			while (j > 0 && upload_label_cmp(&s[j - 1], &t) > 0) {
				s[j] = s[j - 1];
				j--;
			}
			s[j] = t;
		}
	} else {
		qsort(s, n, sizeof(*s), upload_label_cmp);
	}
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && strcmp(s[m - 1].name, s[i].name) == 0)
			s[m - 1] = s[i];
		else
			s[m++] = s[i];
	}
	return m;
}

static uint64_t
upload_labels_hash(const upload_sort_label *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;
	for (size_t i = 0; i < n; i++) {
		/* Length-prefix each string through the seed chain so that
		 * {a="bc"} and {ab="c"} differ. */
		h = XXH3_64bits_withSeed(s[i].name, strlen(s[i].name), h);
		h = XXH3_64bits_withSeed(
		    s[i].value, strlen(s[i].value), h + 1);
	}
	return h;
}

static bool
upload_group_eq(
    const upload_group *g, const upload_sort_label *s, size_t n, uint64_t h)
{
	if (g->hash != h || g->n_labels != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(g->labels[i].name, s[i].name) != 0
		    || strcmp(g->labels[i].value, s[i].value) != 0)
			return false;
	return true;
}

static int
upload_group_find(hearth_upload_builder *b, const hearth_upload_label *labels,
    size_t n_labels, upload_group **out, hearth_err *err)
{
	size_t n = upload_sort_labels(b, labels, n_labels);
	if (n == (size_t) -1)
		return upload_nomem(b, err);
	const upload_sort_label *s = b->scratch;
	uint64_t                 h = upload_labels_hash(s, n);
	/* Samples usually come in runs with the same labels. */
	if (b->last_group != 0
	    && upload_group_eq(&b->groups[b->last_group - 1], s, n, h)) {
		*out = &b->groups[b->last_group - 1];
		return 0;
	}
	if (b->n_group_slots > 0) {
		size_t mask = b->n_group_slots - 1;
		for (size_t j = (size_t) h & mask;; j = (j + 1) & mask) {
			uint32_t e = b->group_slots[j];
			if (e == 0)
				break;
			if (upload_group_eq(&b->groups[e - 1], s, n, h)) {
				b->last_group = e;
				*out          = &b->groups[e - 1];
				return 0;
			}
		}
	}
	if ((b->n_groups + 1) * 2 > b->n_group_slots) {
		size_t    ns = b->n_group_slots ? b->n_group_slots * 2 : 16;
		uint32_t *sl = upload_slots_new(b, ns);
		if (sl == NULL)
			return upload_nomem(b, err);
		for (size_t i = 0; i < b->n_groups; i++) {
			size_t j = (size_t) b->groups[i].hash & (ns - 1);
			while (sl[j] != 0)
				j = (j + 1) & (ns - 1);
			sl[j] = (uint32_t) (i + 1);
		}
		b->group_slots   = sl;
		b->n_group_slots = ns;
	}
	if (upload_grow(b, (void **) &b->groups, &b->cap_groups,
	        b->n_groups + 1, sizeof(*b->groups))
	    != 0)
		return upload_nomem(b, err);
	upload_group *g = &b->groups[b->n_groups];
	memset(g, 0, sizeof(*g));
	g->hash     = h;
	g->n_labels = n;
	if (n > 0) {
		g->labels = hearth_arena_alloc(b->a, n * sizeof(*g->labels));
		if (g->labels == NULL)
			return upload_nomem(b, err);
		for (size_t i = 0; i < n; i++) {
			g->labels[i].name
			    = hearth_arena_strdup(b->a, s[i].name);
			g->labels[i].value
			    = hearth_arena_strdup(b->a, s[i].value);
			if (g->labels[i].name == NULL
			    || g->labels[i].value == NULL)
				return upload_nomem(b, err);
		}
	}
	b->n_groups++;
	size_t mask = b->n_group_slots - 1;
	size_t j    = (size_t) h & mask;
	while (b->group_slots[j] != 0)
		j = (j + 1) & mask;
	b->group_slots[j] = (uint32_t) b->n_groups;
	b->last_group     = b->n_groups;
	*out              = g;
	return 0;
}

static inline size_t
upload_row_hash(uint32_t stack_id)
{
	/* Fibonacci hashing: stack ids are dense small integers. */
	return (size_t) (((uint64_t) stack_id * 0x9e3779b97f4a7c15ull) >> 32);
}

/* Add values to the row of stack_id in g (summed when it exists). */
static int
upload_row_add(hearth_upload_builder *b, upload_group *g, uint32_t stack_id,
    const int64_t *values, hearth_err *err)
{
	size_t n_types = b->n_types;
	if (g->n_row_slots > 0) {
		size_t mask = g->n_row_slots - 1;
		for (size_t j = upload_row_hash(stack_id) & mask;;
		     j        = (j + 1) & mask) {
			uint32_t e = g->row_slots[j];
			if (e == 0)
				break;
			if (g->stacks[e - 1] != stack_id)
				continue;
			int64_t *v = g->values + (size_t) (e - 1) * n_types;
			for (size_t t = 0; t < n_types; t++)
				if (__builtin_add_overflow(
				        v[t], values[t], &v[t]))
					return hearth_err_set(err,
					    HEARTH_EINVAL,
					    "sum of sample values for one "
					    "stack overflows a 64-bit "
					    "integer");
			return 0;
		}
	}
	if ((g->n_rows + 1) * 2 > g->n_row_slots) {
		size_t    ns = g->n_row_slots ? g->n_row_slots * 2 : 16;
		uint32_t *sl = upload_slots_new(b, ns);
		if (sl == NULL)
			return upload_nomem(b, err);
		for (size_t i = 0; i < g->n_rows; i++) {
			size_t j = upload_row_hash(g->stacks[i]) & (ns - 1);
			while (sl[j] != 0)
				j = (j + 1) & (ns - 1);
			sl[j] = (uint32_t) (i + 1);
		}
		g->row_slots   = sl;
		g->n_row_slots = ns;
	}
	if (g->n_rows + 1 > g->cap_rows) {
		size_t c1 = g->cap_rows, c2 = g->cap_rows * n_types;
		if (upload_grow(b, (void **) &g->stacks, &c1, g->n_rows + 1,
		        sizeof(uint32_t))
		        != 0
		    || upload_grow(b, (void **) &g->values, &c2, c1 * n_types,
		           sizeof(int64_t))
		        != 0)
			return upload_nomem(b, err);
		g->cap_rows = c1;
	}
	size_t r     = g->n_rows++;
	g->stacks[r] = stack_id;
	memcpy(g->values + r * n_types, values, n_types * sizeof(int64_t));
	size_t mask = g->n_row_slots - 1;
	size_t j    = upload_row_hash(stack_id) & mask;
	while (g->row_slots[j] != 0)
		j = (j + 1) & mask;
	g->row_slots[j] = (uint32_t) (r + 1);
	return 0;
}

static inline size_t
upload_span_hash(uint32_t stack_id, uint64_t span_id)
{
	return (size_t) XXH3_64bits_withSeed(&span_id, sizeof(span_id),
	    stack_id);
}

/* Add values to the span row of (stack_id, span_id) in g. The row of
 * stack_id was just given the same values without overflowing, and span
 * rows are a part of it (invariant 4), so these sums cannot overflow. */
static int
upload_span_add(hearth_upload_builder *b, upload_group *g, uint32_t stack_id,
    uint64_t span_id, const int64_t *values, hearth_err *err)
{
	size_t n_types = b->n_types;
	size_t h       = upload_span_hash(stack_id, span_id);
	if (g->n_span_slots > 0) {
		size_t mask = g->n_span_slots - 1;
		for (size_t j = h & mask;; j = (j + 1) & mask) {
			uint32_t e = g->span_slots[j];
			if (e == 0)
				break;
			if (g->span_stacks[e - 1] != stack_id
			    || g->span_ids[e - 1] != span_id)
				continue;
			int64_t *v
			    = g->span_values + (size_t) (e - 1) * n_types;
			for (size_t t = 0; t < n_types; t++)
				v[t] += values[t];
			return 0;
		}
	}
	if ((g->n_span_rows + 1) * 2 > g->n_span_slots) {
		size_t    ns = g->n_span_slots ? g->n_span_slots * 2 : 16;
		uint32_t *sl = upload_slots_new(b, ns);
		if (sl == NULL)
			return upload_nomem(b, err);
		for (size_t i = 0; i < g->n_span_rows; i++) {
			size_t j = upload_span_hash(
			               g->span_stacks[i], g->span_ids[i])
			    & (ns - 1);
			while (sl[j] != 0)
				j = (j + 1) & (ns - 1);
			sl[j] = (uint32_t) (i + 1);
		}
		g->span_slots   = sl;
		g->n_span_slots = ns;
	}
	if (g->n_span_rows + 1 > g->cap_span_rows) {
		size_t c1 = g->cap_span_rows, c2 = g->cap_span_rows;
		size_t c3 = g->cap_span_rows * n_types;
		if (upload_grow(b, (void **) &g->span_stacks, &c1,
		        g->n_span_rows + 1, sizeof(uint32_t))
		        != 0
		    || upload_grow(b, (void **) &g->span_ids, &c2, c1,
		           sizeof(uint64_t))
		        != 0
		    || upload_grow(b, (void **) &g->span_values, &c3,
		           c1 * n_types, sizeof(int64_t))
		        != 0)
			return upload_nomem(b, err);
		g->cap_span_rows = c1;
	}
	size_t r          = g->n_span_rows++;
	g->span_stacks[r] = stack_id;
	g->span_ids[r]    = span_id;
	memcpy(
	    g->span_values + r * n_types, values, n_types * sizeof(int64_t));
	size_t mask = g->n_span_slots - 1;
	size_t j    = h & mask;
	while (g->span_slots[j] != 0)
		j = (j + 1) & mask;
	g->span_slots[j] = (uint32_t) (r + 1);
	return 0;
}

int
hearth_upload_builder_group(hearth_upload_builder *b,
    const hearth_upload_label *labels, size_t n_labels, uint32_t *g,
    hearth_err *err)
{
	HEARTH_ASSERT(n_labels == 0 || labels != NULL);
	upload_group *grp = NULL;
	int           rc  = upload_group_find(b, labels, n_labels, &grp, err);
	if (rc == 0)
		*g = (uint32_t) (grp - b->groups);
	return rc;
}

int
hearth_upload_builder_add_row(hearth_upload_builder *b, uint32_t g,
    uint32_t stack_id, uint64_t span_id, const int64_t *values,
    hearth_err *err)
{
	HEARTH_ASSERT(g < b->n_groups);
	HEARTH_ASSERT(stack_id < b->n_stacks);
	for (size_t t = 0; t < b->n_types; t++)
		HEARTH_ASSERT(values[t] >= 0);
	upload_group *grp = &b->groups[g];
	int           rc  = upload_row_add(b, grp, stack_id, values, err);
	if (rc == 0 && span_id != 0)
		rc = upload_span_add(b, grp, stack_id, span_id, values, err);
	return rc;
}

int
hearth_upload_builder_add_span(hearth_upload_builder *b,
    const hearth_upload_label *labels, size_t n_labels, uint32_t stack_id,
    uint64_t span_id, const int64_t *values, hearth_err *err)
{
	uint32_t g;
	int rc = hearth_upload_builder_group(b, labels, n_labels, &g, err);
	if (rc == 0)
		rc = hearth_upload_builder_add_row(
		    b, g, stack_id, span_id, values, err);
	return rc;
}

int
hearth_upload_builder_add(hearth_upload_builder *b,
    const hearth_upload_label *labels, size_t n_labels, uint32_t stack_id,
    const int64_t *values, hearth_err *err)
{
	return hearth_upload_builder_add_span(
	    b, labels, n_labels, stack_id, 0, values, err);
}

int
hearth_upload_span_parse(const char *s, uint64_t *out)
{
	/* Hex digit value + 1 by byte, 0 = not a hex digit: one table load
	 * per character (this runs for every span-labelled sample). */
	static const uint8_t hex1[256] = {
		['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5,
		['5'] = 6, ['6'] = 7, ['7'] = 8, ['8'] = 9, ['9'] = 10,
		['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
		['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14,
		['E'] = 15, ['F'] = 16,
	};
	uint64_t v = 0;
	size_t   n = 0;
	for (; s[n] != '\0'; n++) {
		unsigned d = hex1[(unsigned char) s[n]];
		if (d == 0 || n == 16)
			return -1;
		v = v << 4 | (uint64_t) (d - 1);
	}
	if (n == 0)
		return -1;
	*out = v;
	return 0;
}

/* Drop the all-zero rows of n rows of n_types values (stacks[] and, when
 * not NULL, spans[] parallel), keeping the order; returns the count. */
static size_t
upload_compact(uint32_t *stacks, uint64_t *spans, int64_t *values,
    size_t n, size_t n_types)
{
	size_t m = 0;
	for (size_t r = 0; r < n; r++) {
		const int64_t *v    = values + r * n_types;
		bool           zero = true;
		for (size_t t = 0; t < n_types && zero; t++)
			zero = v[t] == 0;
		if (zero)
			continue;
		if (m != r) {
			stacks[m] = stacks[r];
			if (spans != NULL)
				spans[m] = spans[r];
			memmove(values + m * n_types, v,
			    n_types * sizeof(int64_t));
		}
		m++;
	}
	return m;
}

int
hearth_upload_builder_finish(
    hearth_upload_builder *b, hearth_upload **out, hearth_err *err)
{
	*out             = NULL;
	hearth_upload *u = hearth_arena_calloc(b->a, 1, sizeof(*u));
	if (u == NULL)
		return upload_nomem(b, err);
	if (b->n_groups > 0) {
		u->groups = hearth_arena_calloc(
		    b->a, b->n_groups, sizeof(*u->groups));
		if (u->groups == NULL)
			return upload_nomem(b, err);
	}
	size_t n_types = b->n_types;
	for (size_t gi = 0; gi < b->n_groups; gi++) {
		upload_group *g = &b->groups[gi];
		/* Compact in place: drop rows whose summed values are all
		 * zero (they carry no information and would make empty
		 * series). Order of the remaining rows is kept. */
		size_t m
		    = upload_compact(g->stacks, NULL, g->values, g->n_rows,
		        n_types);
		if (m == 0)
			continue; /* a group with no rows is no series */
		hearth_upload_group *ug = &u->groups[u->n_groups++];
		ug->labels              = g->labels;
		ug->n_labels            = g->n_labels;
		ug->stacks              = g->stacks;
		ug->values              = g->values;
		ug->n_rows              = m;
		/* A span row is a part of a row (invariant 4): all-zero span
		 * rows go too, and a dropped row leaves only zero ones. */
		ug->n_span_rows = upload_compact(g->span_stacks, g->span_ids,
		    g->span_values, g->n_span_rows, n_types);
		ug->span_stacks = g->span_stacks;
		ug->span_ids    = g->span_ids;
		ug->span_values = g->span_values;
	}
	u->strings        = b->strings;
	u->string_lens    = b->string_lens;
	u->n_strings      = b->n_strings;
	u->frames         = b->frames;
	u->n_frames       = b->n_frames;
	u->stack_off      = b->stack_off;
	u->n_stacks       = b->n_stacks;
	u->n_sample_types = n_types;
	u->period_type    = "";
	u->period_unit    = "";
	*out              = u;
	return 0;
}

int64_t
hearth_upload_total(const hearth_upload *u, size_t type_index)
{
	HEARTH_ASSERT(type_index < u->n_sample_types);
	int64_t sum = 0;
	for (size_t g = 0; g < u->n_groups; g++) {
		const hearth_upload_group *grp = &u->groups[g];
		for (size_t r = 0; r < grp->n_rows; r++) {
			int64_t v
			    = grp->values[r * u->n_sample_types + type_index];
			/* Saturate: a total is for display and limits, and
			 * INT64_MAX is the honest "too big" answer. */
			if (__builtin_add_overflow(sum, v, &sum))
				return INT64_MAX;
		}
	}
	return sum;
}
