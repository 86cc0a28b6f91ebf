/* scrape_delta: cumulative scrapes → per-window differences (scrape.h,
 * "Deltas"). One state per (target, profile); the table maps the 128-bit
 * hash of a (sample labels, stack) key to the values of the cumulative
 * columns at the previous scrape. */
#include "scrape.h"

#include "buf.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct delta_table {
	size_t         cap; /* power of two, or 0 */
	size_t         n;
	XXH128_hash_t *keys;
	uint8_t       *used;
	int64_t       *vals; /* cap * n_cols */
} delta_table;

struct hearth_scrape_delta {
	int         seeded;
	uint64_t    sig;    /* hash of the cumulative (type, unit) list */
	size_t      n_cols; /* cumulative columns */
	delta_table t;
	hearth_buf  scratch; /* key text, reused */
};

hearth_scrape_delta *
hearth_scrape_delta_new(void)
{
	hearth_scrape_delta *d = calloc(1, sizeof(*d));
	if (d != NULL)
		hearth_buf_init(&d->scratch);
	return d;
}

static void
delta_table_fini(delta_table *t)
{
	free(t->keys);
	free(t->used);
	free(t->vals);
	memset(t, 0, sizeof(*t));
}

void
hearth_scrape_delta_free(hearth_scrape_delta *d)
{
	if (d == NULL)
		return;
	delta_table_fini(&d->t);
	hearth_buf_fini(&d->scratch);
	free(d);
}

size_t
hearth_scrape_delta_keys(const hearth_scrape_delta *d)
{
	return d->t.n;
}

static int
delta_table_init(delta_table *t, size_t rows, size_t n_cols)
{
	size_t cap = 16;
	while (cap < rows * 2)
		cap *= 2;
	memset(t, 0, sizeof(*t));
	t->cap  = cap;
	t->keys = malloc(cap * sizeof(*t->keys));
	t->used = calloc(cap, 1);
	t->vals = malloc(cap * (n_cols ? n_cols : 1) * sizeof(*t->vals));
	if (t->keys == NULL || t->used == NULL || t->vals == NULL) {
		delta_table_fini(t);
		return HEARTH_ENOMEM;
	}
	return 0;
}

/* Slot of key: where it is, or the empty slot where it would go. The
 * table is never more than half full, so the probe ends. */
static size_t
delta_table_slot(const delta_table *t, XXH128_hash_t k)
{
	size_t i = (size_t) k.low64 & (t->cap - 1);
	while (t->used[i] && !XXH128_isEqual(t->keys[i], k))
		i = (i + 1) & (t->cap - 1);
	return i;
}

/* The key's text: every sample label as name NUL value NUL, a 0xff byte
 * (never in UTF-8), then every frame name NUL-terminated, root first. */
static XXH128_hash_t
delta_key(hearth_buf *b, const hearth_upload *u, const hearth_upload_group *g,
    uint32_t stack)
{
	hearth_buf_reset(b);
	for (size_t i = 0; i < g->n_labels; i++) {
		hearth_buf_append(
		    b, g->labels[i].name, strlen(g->labels[i].name) + 1);
		hearth_buf_append(
		    b, g->labels[i].value, strlen(g->labels[i].value) + 1);
	}
	hearth_buf_putc(b, (char) 0xff);
	for (uint32_t f = u->stack_off[stack]; f < u->stack_off[stack + 1];
	     f++) {
		uint32_t id = u->frames[f];
		hearth_buf_append(b, u->strings[id], u->string_lens[id] + 1);
	}
	return XXH3_128bits(b->data, b->len);
}

static uint64_t
delta_signature(const hearth_upload *u, const unsigned char *cumulative)
{
	uint64_t h = 0;
	for (size_t t = 0; t < u->n_sample_types; t++) {
		if (!cumulative[t])
			continue;
		h = XXH3_64bits_withSeed(u->sample_types[t].type,
		    strlen(u->sample_types[t].type) + 1, h);
		h = XXH3_64bits_withSeed(u->sample_types[t].unit,
		    strlen(u->sample_types[t].unit) + 1, h);
	}
	return h;
}

int
hearth_scrape_delta_apply(hearth_scrape_delta *d, hearth_upload *u,
    const unsigned char *cumulative, hearth_err *err)
{
	size_t cols[64], n_cols = 0, rows = 0;
	for (size_t t = 0; t < u->n_sample_types; t++)
		if (cumulative[t]) {
			if (n_cols == sizeof(cols) / sizeof(cols[0]))
				return hearth_err_set(err, HEARTH_EINVAL,
				    "delta: more than %zu cumulative sample "
				    "types",
				    sizeof(cols) / sizeof(cols[0]));
			cols[n_cols++] = t;
		}
	if (n_cols == 0)
		return 1; /* only gauges: stored as they are */
	for (size_t g = 0; g < u->n_groups; g++)
		rows += u->groups[g].n_rows;
	uint64_t sig  = delta_signature(u, cumulative);
	int      seed = !d->seeded || sig != d->sig || n_cols != d->n_cols;

	delta_table nt;
	if (delta_table_init(&nt, rows, n_cols) != 0)
		goto nomem;
	for (size_t g = 0; g < u->n_groups; g++) {
		hearth_upload_group *grp = &u->groups[g];
		for (size_t r = 0; r < grp->n_rows; r++) {
			XXH128_hash_t k
			    = delta_key(&d->scratch, u, grp, grp->stacks[r]);
			if (hearth_buf_failed(&d->scratch)) {
				delta_table_fini(&nt);
				goto nomem;
			}
			size_t ns = delta_table_slot(&nt, k);
			if (!nt.used[ns]) {
				nt.used[ns] = 1;
				nt.keys[ns] = k;
				nt.n++;
			}
			int64_t *row  = &grp->values[r * u->n_sample_types];
			size_t   os   = seed ? 0 : delta_table_slot(&d->t, k);
			int      have = !seed && d->t.used[os];
			for (size_t c = 0; c < n_cols; c++) {
				int64_t cur = row[cols[c]];
				int64_t prev
				    = have ? d->t.vals[os * n_cols + c] : 0;
				nt.vals[ns * n_cols + c] = cur;
				/* Lower than before: this counter was
				 * reset; store nothing, re-seed from cur. */
				row[cols[c]] = seed ? 0
				    : cur >= prev   ? cur - prev
				                    : 0;
			}
		}
	}
	/* Span rows hold the cumulative values of this scrape alone: they
	 * cannot be diffed per span (a span ends between two scrapes), so a
	 * delta profile keeps none. */
	for (size_t g = 0; g < u->n_groups; g++)
		u->groups[g].n_span_rows = 0;
	delta_table_fini(&d->t);
	d->t      = nt;
	d->seeded = 1;
	d->sig    = sig;
	d->n_cols = n_cols;
	return seed ? 0 : 1;
nomem:
	/* Forget everything: the next scrape seeds again rather than
	 * diffing against a baseline that no longer matches. */
	delta_table_fini(&d->t);
	d->seeded = 0;
	return hearth_err_set(
	    err, HEARTH_ENOMEM, "delta: out of memory for %zu stacks", rows);
}
