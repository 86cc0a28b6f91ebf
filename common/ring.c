#include "ring.h"

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include <stdlib.h>
#include <string.h>

typedef struct ring_token {
	uint64_t token;
	uint32_t member;
} ring_token;

struct hearth_ring {
	size_t      n;    /* members */
	char      **ids;  /* [n], sorted */
	ring_token *toks; /* [nt], sorted by (token, member) */
	size_t      nt;
	double     *own; /* [n] fraction of the circle */
};

static int
ring_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int
ring_cmp_tok(const void *a, const void *b)
{
	const ring_token *x = a, *y = b;
	if (x->token != y->token)
		return x->token < y->token ? -1 : 1;
	return x->member < y->member ? -1 : x->member > y->member;
}

/* Index of the first token >= h, wrapping to 0 past the end. */
static size_t
ring_search(const hearth_ring *r, uint64_t h)
{
	size_t lo = 0, hi = r->nt;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->toks[mid].token < h)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo == r->nt ? 0 : lo;
}

/* Each member's share: the arcs from the previous token (clockwise) to
 * each of its tokens. In exact 64-bit modular arithmetic the arcs sum to
 * 2^64, so the shares sum to 1; a single token is the whole circle. */
static void
ring_ownership_compute(hearth_ring *r)
{
	if (r->nt == 1) {
		r->own[0] = 1.0;
		return;
	}
	for (size_t i = 0; i < r->nt; i++) {
		uint64_t prev = r->toks[i == 0 ? r->nt - 1 : i - 1].token;
		uint64_t arc  = r->toks[i].token - prev;
		r->own[r->toks[i].member]
		    += (double) arc / 18446744073709551616.0;
	}
}

int
hearth_ring_new(const char *const *ids, size_t n, unsigned tokens,
    hearth_ring **out, hearth_err *err)
{
	HEARTH_ASSERT(out != NULL && (n == 0 || ids != NULL));
	*out = NULL;
	if (tokens == 0)
		return hearth_err_set(
		    err, HEARTH_EINVAL, "ring: tokens per member must be > 0");
	if (n > HEARTH_RING_MAX_MEMBERS)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "ring: %zu members is more than the maximum of %d", n,
		    HEARTH_RING_MAX_MEMBERS);
	for (size_t i = 0; i < n; i++)
		if (ids[i] == NULL || ids[i][0] == '\0')
			return hearth_err_set(err, HEARTH_EINVAL,
			    "ring: member %zu has an empty id", i);
	hearth_ring *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "ring: out of memory");
	r->n    = n;
	r->nt   = n * (size_t) tokens;
	r->ids  = calloc(n + 1, sizeof(*r->ids));
	r->own  = calloc(n + 1, sizeof(*r->own));
	r->toks = calloc(r->nt + 1, sizeof(*r->toks));
	if (r->ids == NULL || r->own == NULL || r->toks == NULL)
		goto nomem;
	for (size_t i = 0; i < n; i++)
		if ((r->ids[i] = strdup(ids[i])) == NULL)
			goto nomem;
	qsort(r->ids, n, sizeof(*r->ids), ring_cmp_str);
	for (size_t i = 1; i < n; i++)
		if (strcmp(r->ids[i - 1], r->ids[i]) == 0) {
			hearth_err_set(err, HEARTH_EINVAL,
			    "ring: duplicate member id \"%s\"", r->ids[i]);
			hearth_ring_free(r);
			return HEARTH_EINVAL;
		}
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(r->ids[i]);
		for (unsigned k = 0; k < tokens; k++) {
			ring_token *t = &r->toks[i * tokens + k];
			t->token  = XXH3_64bits_withSeed(r->ids[i], len, k);
			t->member = (uint32_t) i;
		}
	}
	qsort(r->toks, r->nt, sizeof(*r->toks), ring_cmp_tok);
	ring_ownership_compute(r);
	*out = r;
	return 0;
nomem:
	hearth_ring_free(r);
	return hearth_err_set(err, HEARTH_ENOMEM, "ring: out of memory");
}

void
hearth_ring_free(hearth_ring *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; r->ids != NULL && i < r->n; i++)
		free(r->ids[i]);
	free(r->ids);
	free(r->toks);
	free(r->own);
	free(r);
}

size_t
hearth_ring_size(const hearth_ring *r)
{
	return r->n;
}

const char *
hearth_ring_id(const hearth_ring *r, size_t i)
{
	HEARTH_ASSERT(i < r->n);
	return r->ids[i];
}

long
hearth_ring_find(const hearth_ring *r, const char *id)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int    c   = strcmp(r->ids[mid], id);
		if (c == 0)
			return (long) mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The hash of (tenant, service) a shard walk starts from: 0xff cannot
 * occur in UTF-8, so ("a", "bc") and ("ab", "c") differ. The streaming
 * state lives on the stack: this runs once per pushed series. */
static uint64_t
ring_shard_hash(const char *tenant, const char *service)
{
	XXH3_state_t st;
	const char   sep = (char) 0xff;
	if (tenant == NULL)
		tenant = "";
	if (service == NULL)
		service = "";
	XXH3_INITSTATE(&st);
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, tenant, strlen(tenant));
	XXH3_64bits_update(&st, &sep, 1);
	XXH3_64bits_update(&st, service, strlen(service));
	return XXH3_64bits_digest(&st);
}

/* Walk clockwise from h, collecting distinct members for which
 * allow[m] is set (NULL: all) and taken[m] is not, until want are found.
 * Marks what it takes in taken and appends to out[*k]. */
static void
ring_walk(const hearth_ring *r, uint64_t h, const uint8_t *allow,
    uint8_t *taken, size_t want, uint32_t *out, size_t *k)
{
	if (r->nt == 0 || *k >= want)
		return;
	size_t start = ring_search(r, h);
	for (size_t j = 0; j < r->nt && *k < want; j++) {
		size_t   idx = start + j;
		uint32_t m = r->toks[idx >= r->nt ? idx - r->nt : idx].member;
		if (taken[m] || (allow != NULL && !allow[m]))
			continue;
		taken[m]    = 1;
		out[(*k)++] = m;
	}
}

size_t
hearth_ring_shard(const hearth_ring *r, const char *tenant,
    const char *service, size_t shard_size, uint32_t *out)
{
	uint8_t taken[HEARTH_RING_MAX_MEMBERS];
	size_t  k = 0;
	if (shard_size == 0 || shard_size > r->n)
		shard_size = r->n;
	memset(taken, 0, r->n);
	ring_walk(r, ring_shard_hash(tenant, service), NULL, taken, shard_size,
	    out, &k);
	return k;
}

size_t
hearth_ring_replicas(const hearth_ring *r, const char *tenant,
    const char *service, uint64_t fp, size_t shard_size, size_t rf,
    const uint8_t *healthy, uint32_t *out)
{
	uint8_t  allow[HEARTH_RING_MAX_MEMBERS];
	uint8_t  taken[HEARTH_RING_MAX_MEMBERS];
	uint32_t shard[HEARTH_RING_MAX_MEMBERS];
	size_t   k = 0;

	if (r->n == 0 || rf == 0)
		return 0;
	if (rf > r->n)
		rf = r->n;
	memset(allow, 0, r->n);
	memset(taken, 0, r->n);
	size_t ns = hearth_ring_shard(r, tenant, service, shard_size, shard);
	for (size_t i = 0; i < ns; i++)
		if (healthy == NULL || healthy[shard[i]])
			allow[shard[i]] = 1;
	ring_walk(r, fp, allow, taken, rf, out, &k);
	if (k < rf) {
		/* Not enough healthy members in the shard: extend to the
		 * next healthy ones on the whole circle. */
		for (size_t i = 0; i < r->n; i++)
			allow[i] = healthy == NULL || healthy[i];
		ring_walk(r, fp, allow, taken, rf, out, &k);
	}
	return k;
}

double
hearth_ring_ownership(const hearth_ring *r, size_t i)
{
	HEARTH_ASSERT(i < r->n);
	return r->own[i];
}

size_t
hearth_ring_quorum(const hearth_ring *r, size_t rf)
{
	size_t m = rf < r->n ? rf : r->n;
	return m / 2 + 1;
}
