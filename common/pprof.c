/*
 * pprof: gunzip, unpack, then convert samples into an upload. Validation
 * of the symbol tables lives in pprof_check.c; this file holds the decode
 * entry point and the per-sample conversion (the hot path).
 *
 * Hot-path rules: no malloc per sample (all scratch arrays are per call
 * and only grow), a Function's frame name is interned once (fn_sid) and a
 * Location's frame run once (loc_first/loc_off/loc_n into lframes), id
 * lookups are a dense array or a hash probe (pprof_idmap), and a sample's
 * location ids are looked up and turned into frames in one pass.
 */
#include "pprof_impl.h"

#include "gzip.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* loc_first value of a resolved location with several frames (frame ids
 * stay below UINT32_MAX - 1, see upload.c). */
#define PPROF_MULTI UINT32_MAX

typedef struct pprof_alloc {
	hearth_arena *a;
	bool          failed; /* tells "arena cap hit" from "bad bytes" */
} pprof_alloc;

typedef struct pprof_conv {
	pprof_ctx             *ctx;
	hearth_upload_builder *b;
	uint32_t              *fn_sid; /* per function: name id, 0 = not yet */
	uint32_t              *loc_first; /* 1-frame location: the frame; else
	                                     PPROF_MULTI; 0 = not resolved */
	uint32_t            *loc_off;     /* per location: run in lframes */
	uint32_t            *loc_n;       /* frames in that run (>= 1) */
	/* With dense location ids: loc_first by id (0 = not resolved yet),
	 * so a resolved one-frame location costs one random load, not
	 * two dependent ones (dense, then loc_first). */
	uint32_t *id_first;
	uint32_t            *lframes; /* root-first frames of each location */
	size_t               n_lframes, cap_lframes;
	uint32_t            *frames; /* per-sample scratch */
	size_t               cap_frames;
	hearth_upload_label *labels;
	size_t               cap_labels;
	char                *name_buf; /* "<filename> <name>" */
	size_t               cap_name_buf;
	uint8_t *key_kind; /* per string: PPROF_KEY_*, 0 = not looked at */
	/* per string used as a span id value: 0 not parsed yet, 1 valid
	 * (span_val holds it), 2 not a span id. A span id repeats on every
	 * sample of its span: parsed once. */
	uint8_t  *span_state;
	uint64_t *span_val;
	/* The sample's grouping labels as string-table indexes (key, str
	 * per label, in the sample's order) and the group of recent label
	 * index lists, so a sample whose labels repeat an earlier sample's
	 * finds its group without sorting, hashing or comparing strings. */
	uint32_t          *pairs;
	size_t             cap_pairs;
	struct pprof_gent *gcache; /* PPROF_GCACHE entries, lazily */
} pprof_conv;

/* Group cache entries: direct-mapped by a hash of the index list; lists
 * of more than PPROF_GCACHE_LABELS labels are not cached. */
#define PPROF_GCACHE	    64
#define PPROF_GCACHE_LABELS 8
typedef struct pprof_gent {
	uint32_t n; /* labels; UINT32_MAX = empty entry */
	uint32_t group;
	uint32_t pairs[2 * PPROF_GCACHE_LABELS];
} pprof_gent;

/* What a sample label key is, decided once per string-table entry rather
 * than by string compares for every label of every sample. */
enum { PPROF_KEY_LABEL = 1, PPROF_KEY_SPAN = 2, PPROF_KEY_TRACE = 3 };

static void *
pprof_pb_alloc(void *data, size_t size)
{
	pprof_alloc *s = data;
	void        *p = hearth_arena_alloc(s->a, size);
	if (p == NULL)
		s->failed = true;
	return p;
}

static void
pprof_pb_free(void *data, void *ptr)
{
	(void) data;
	(void) ptr; /* released with the arena */
}

/* Grow an arena scratch array to at least need elements (doubling). */
static int
pprof_reserve(pprof_conv *c, void **arr, size_t *cap, size_t need, size_t elem)
{
	return hearth_arena_grow(c->ctx->a, arr, cap, need, elem) == 0
	    ? 0
	    : pprof_nomem(c->ctx);
}

/* Intern a frame name, applying max_symbol_length (keep the last bytes,
 * starting on a UTF-8 character boundary). */
static int
pprof_intern(pprof_conv *c, const char *s, size_t len, uint32_t *id)
{
	size_t start = hearth_utf8_tail(s, len, c->ctx->o->max_symbol_length);
	if (start > 0) {
		s += start;
		len -= start;
		c->ctx->res->truncated_symbols++;
	}
	return hearth_upload_builder_string(c->b, s, len, id, c->ctx->err);
}

static int
pprof_addr_name(pprof_conv *c, uint64_t addr, uint32_t *id)
{
	char buf[24];
	int  n = snprintf(buf, sizeof(buf), "0x%" PRIx64, addr);
	return pprof_intern(c, buf, (size_t) n, id);
}

/* Frame name of a function (cached), or the location's address when the
 * function has no name at all (not cached: it depends on the location). */
static int
pprof_fn_name(pprof_conv *c, uint32_t fpos, uint64_t addr, uint32_t *id)
{
	if (c->fn_sid[fpos] != 0) {
		*id = c->fn_sid[fpos];
		return 0;
	}
	pprof_ctx                           *ctx = c->ctx;
	const Perftools__Profiles__Function *f   = ctx->p->function[fpos];
	int64_t                              ni  = f->name;
	if (ctx->str_len[ni] == 0)
		ni = f->system_name;
	if (ctx->str_len[ni] == 0)
		return pprof_addr_name(c, addr, id);
	const char *name = ctx->strings[ni];
	size_t      len  = ctx->str_len[ni];
	if (ctx->spy == PPROF_SPY_SCRIPTING || ctx->spy == PPROF_SPY_PYSPY) {
		const char *file = ctx->strings[f->filename];
		size_t      flen = ctx->str_len[f->filename];
		if (!(ctx->spy == PPROF_SPY_PYSPY && file[0] == '/')) {
			int rc = pprof_reserve(c, (void **) &c->name_buf,
			    &c->cap_name_buf, flen + 1 + len, 1);
			if (rc != 0)
				return rc;
			memcpy(c->name_buf, file, flen);
			c->name_buf[flen] = ' ';
			memcpy(c->name_buf + flen + 1, name, len);
			name = c->name_buf;
			len += flen + 1;
		}
	}
	int rc = pprof_intern(c, name, len, id);
	if (rc == 0)
		c->fn_sid[fpos] = *id;
	return rc;
}

/* Resolve location lpos once: its root-first frames are its lines from the
 * last (the caller the code was inlined into) to line[0], or
 * "0x<address>" when it has none. Sets loc_first/loc_off/loc_n. */
static int
pprof_loc_resolve(pprof_conv *c, uint32_t lpos)
{
	const Perftools__Profiles__Location *l = c->ctx->p->location[lpos];
	size_t                               k = l->n_line > 0 ? l->n_line : 1;
	int rc = pprof_reserve(c, (void **) &c->lframes, &c->cap_lframes,
	    c->n_lframes + k, sizeof(uint32_t));
	if (rc != 0)
		return rc;
	uint32_t *out = c->lframes + c->n_lframes;
	if (l->n_line == 0) {
		rc = pprof_addr_name(c, l->address, &out[0]);
	} else {
		const uint32_t *fpos = c->ctx->ln_fn[lpos];
		for (size_t j = 0; j < l->n_line && rc == 0; j++)
			rc = pprof_fn_name(
			    c, fpos[l->n_line - 1 - j], l->address, &out[j]);
	}
	if (rc != 0)
		return rc;
	c->loc_off[lpos]   = (uint32_t) c->n_lframes;
	c->loc_n[lpos]     = (uint32_t) k;
	c->loc_first[lpos] = k == 1 ? out[0] : PPROF_MULTI;
	c->n_lframes += k;
	return 0;
}

/* Collect the grouping labels of sample si into c->labels (model.md §3
 * step 3) and its span id into *span (0 = none); checks every string
 * index the labels use. */
static int
pprof_sample_labels(pprof_conv *c, size_t si,
    const Perftools__Profiles__Sample *s, size_t *n_out, uint64_t *span)
{
	pprof_ctx *ctx = c->ctx;
	size_t     n   = 0;
	int        rc  = pprof_reserve(c, (void **) &c->labels, &c->cap_labels,
	            s->n_label, sizeof(*c->labels));
	if (rc == 0)
		rc = pprof_reserve(c, (void **) &c->pairs, &c->cap_pairs,
		    2 * s->n_label, sizeof(*c->pairs));
	if (rc != 0)
		return rc;
	for (size_t k = 0; k < s->n_label; k++) {
		const Perftools__Profiles__Label *lb = s->label[k];
		const int64_t idx[3] = { lb->key, lb->str, lb->num_unit };
		static const char *const field[3]
		    = { "key", "str", "num_unit" };
		for (int f = 0; f < 3; f++) {
			if (idx[f] >= 0 && (uint64_t) idx[f] < ctx->n_strings)
				continue;
			char what[64];
			snprintf(
			    what, sizeof(what), "label %zu %s", k, field[f]);
			return pprof_check_str(
			    ctx, idx[f], "sample", si, what);
		}
		/* Numeric labels (str == 0) are not series labels; empty
		 * keys or values cannot be label pairs. */
		if (lb->str == 0 || ctx->str_len[lb->key] == 0
		    || ctx->str_len[lb->str] == 0)
			continue;
		const char *key = ctx->strings[lb->key];
		/* profile_id is renamed to span_id, and span_id/trace_id
		 * stay on samples only: none of the three groups. A span id
		 * goes to the upload's span rows (the last valid one when a
		 * sample has several); a value that is not 1-16 hex digits
		 * is no span (upload.h hearth_upload_span_parse). Trace ids
		 * are not kept. */
		if (c->key_kind == NULL
		    && (c->key_kind = hearth_arena_calloc(
		            ctx->a, ctx->n_strings, sizeof(uint8_t)))
		        == NULL)
			return pprof_nomem(ctx);
		uint8_t kind = c->key_kind[lb->key];
		if (kind == 0) {
			kind = strcmp(key, "span_id") == 0
			        || strcmp(key, "profile_id") == 0
			    ? PPROF_KEY_SPAN
			    : strcmp(key, "trace_id") == 0 ? PPROF_KEY_TRACE
			                                   : PPROF_KEY_LABEL;
			c->key_kind[lb->key] = kind;
		}
		if (kind == PPROF_KEY_SPAN) {
			if (c->span_state == NULL
			    && ((c->span_state = hearth_arena_calloc(ctx->a,
			             ctx->n_strings, sizeof(uint8_t)))
			            == NULL
			        || (c->span_val = hearth_arena_alloc(ctx->a,
			                ctx->n_strings * sizeof(uint64_t)))
			            == NULL))
				return pprof_nomem(ctx);
			uint8_t *st = &c->span_state[lb->str];
			if (*st == 0)
				*st = hearth_upload_span_parse(ctx->strings[lb->str],
				          &c->span_val[lb->str])
				        == 0
				    ? 1
				    : 2;
			if (*st == 1)
				*span = c->span_val[lb->str];
			continue;
		}
		if (kind == PPROF_KEY_TRACE)
			continue;
		c->labels[n].name     = key;
		c->labels[n].value    = ctx->strings[lb->str];
		c->pairs[2 * n]     = (uint32_t) lb->key;
		c->pairs[2 * n + 1] = (uint32_t) lb->str;
		n++;
	}
	*n_out = n;
	return 0;
}

static int
pprof_no_location(pprof_ctx *ctx, size_t si, uint64_t id)
{
	return hearth_err_set(ctx->err, HEARTH_EINVAL,
	    "pprof: sample %zu references location id %" PRIu64
	    " which does not exist",
	    si, id);
}

/* Check that every location id of sample si exists (for dropped samples
 * and for the ids past a depth cut). */
static int
pprof_sample_check_ids(pprof_ctx *ctx, size_t si,
    const Perftools__Profiles__Sample *s, size_t end)
{
	for (size_t j = 0; j < end; j++)
		if (pprof_idmap_get(&ctx->loc_map, s->location_id[j])
		    == PPROF_NONE)
			return pprof_no_location(ctx, si, s->location_id[j]);
	return 0;
}

/* Look up the sample's location ids (leaf first) and write its root-first
 * frames into c->frames, cut to max_stack_depth. Lookup and copy share
 * one pass: this loop is where decoding spends its time on deep stacks,
 * so the common case (one line, already resolved, dense ids) is one load
 * from id_first and a store, with the arrays held in locals so stores to
 * frames cannot force reloads. */
static int
pprof_sample_frames(pprof_conv *c, size_t si,
    const Perftools__Profiles__Sample *s, size_t *n_out)
{
	pprof_ctx         *ctx   = c->ctx;
	const pprof_idmap *m     = &ctx->loc_map;
	const uint32_t    *dense = m->dense;
	const uint64_t     dn    = m->dense_n;
	const uint32_t    *first = c->loc_first;
	uint32_t          *idf   = c->id_first;
	size_t             n     = s->n_location_id;
	size_t             max   = ctx->o->max_stack_depth;
	size_t             lim   = max > 0 ? max : SIZE_MAX;
	size_t             nf    = 0;
	int                rc;
	/* every location gives at least one frame */
	if ((rc = pprof_reserve(c, (void **) &c->frames, &c->cap_frames,
	         n < lim ? n : lim, sizeof(uint32_t)))
	    != 0)
		return rc;
	uint32_t *frames = c->frames;
	size_t    j      = n;
	/* Fast pass for the common case, with nothing else live so it all
	 * stays in registers (mixed with the slow path below, the compiler
	 * spilled the loop's state to the stack on every id): dense ids
	 * whose location is resolved and has one frame. The first other id
	 * hands over to the general loop at the same place. */
	if (idf != NULL) {
		const uint64_t *ids = s->location_id;
		size_t          end = n < lim ? n : lim;
		while (nf < end) {
			uint64_t id = ids[j - 1];
			if (id >= dn)
				break;
			uint32_t f = idf[id];
			if (f == 0 || f == PPROF_MULTI)
				break;
			frames[nf++] = f;
			j--;
		}
	}
	while (j-- > 0) {
		uint64_t id = s->location_id[j];
		if (idf != NULL && id < dn && nf < lim) {
			uint32_t f = idf[id];
			if (f != 0 && f != PPROF_MULTI) {
				frames[nf++] = f;
				continue;
			}
		}
		uint32_t lpos = dense != NULL
		    ? (id < dn ? dense[id] : PPROF_NONE)
		    : pprof_idmap_get(m, id);
		if (lpos == PPROF_NONE)
			return pprof_no_location(ctx, si, id);
		if (nf == lim) {
			/* cut: keep the root side, still validate the rest */
			ctx->res->truncated_stacks++;
			if ((rc = pprof_sample_check_ids(ctx, si, s, j + 1))
			    != 0)
				return rc;
			break;
		}
		uint32_t f = first[lpos];
		if (f == 0) {
			if ((rc = pprof_loc_resolve(c, lpos)) != 0)
				return rc;
			f = first[lpos];
		}
		if (idf != NULL)
			idf[id] = f;
		if (f != PPROF_MULTI) {
			frames[nf++] = f;
			continue;
		}
		size_t k = c->loc_n[lpos];
		if (nf + k > lim) {
			k = lim - nf;
			ctx->res->truncated_stacks++;
			if ((rc = pprof_sample_check_ids(ctx, si, s, j)) != 0)
				return rc;
			j = 0; /* ends the loop after this copy */
		}
		/* room for this run and one frame per remaining location */
		size_t need = nf + k + j;
		if ((rc = pprof_reserve(c, (void **) &c->frames,
		         &c->cap_frames, need < lim ? need : lim,
		         sizeof(uint32_t)))
		    != 0)
			return rc;
		frames = c->frames;
		memcpy(frames + nf, c->lframes + c->loc_off[lpos],
		    k * sizeof(uint32_t));
		nf += k;
	}
	*n_out = nf;
	return 0;
}

/* The upload group of the sample's labels (c->labels / c->pairs, n of
 * them): from the cache when an earlier sample had the same index list,
 * else from the builder (which compares the strings), then cached. */
static int
pprof_sample_group(pprof_conv *c, size_t n, uint32_t *g)
{
	if (n > PPROF_GCACHE_LABELS)
		return hearth_upload_builder_group(
		    c->b, c->labels, n, g, c->ctx->err);
	if (c->gcache == NULL) {
		c->gcache = hearth_arena_alloc(
		    c->ctx->a, PPROF_GCACHE * sizeof(*c->gcache));
		if (c->gcache == NULL)
			return pprof_nomem(c->ctx);
		for (size_t i = 0; i < PPROF_GCACHE; i++)
			c->gcache[i].n = UINT32_MAX;
	}
	uint64_t h = n;
	for (size_t i = 0; i < 2 * n; i++)
		h = (h ^ c->pairs[i]) * 0x9e3779b97f4a7c15ull;
	pprof_gent *e = &c->gcache[h >> 58]; /* 64 entries */
	if (e->n == n
	    && (n == 0
	        || memcmp(e->pairs, c->pairs, 2 * n * sizeof(uint32_t))
	            == 0)) {
		*g = e->group;
		return 0;
	}
	int rc = hearth_upload_builder_group(c->b, c->labels, n, g, c->ctx->err);
	if (rc == 0) {
		e->n     = (uint32_t) n;
		e->group = *g;
		if (n > 0)
			memcpy(e->pairs, c->pairs, 2 * n * sizeof(uint32_t));
	}
	return rc;
}

static int
pprof_convert_sample(pprof_conv *c, size_t si)
{
	pprof_ctx                         *ctx = c->ctx;
	const Perftools__Profiles__Sample *s   = ctx->p->sample[si];
	size_t                             nt  = ctx->p->n_sample_type;
	int                                rc;

	if (s->n_value != nt)
		return hearth_err_set(ctx->err, HEARTH_EINVAL,
		    "pprof: sample %zu has %zu values, expected %zu (one per "
		    "sample_type)",
		    si, s->n_value, nt);
	size_t max_labels = ctx->o->max_sample_labels;
	if (max_labels > 0 && s->n_label > max_labels)
		return hearth_err_set(ctx->err, HEARTH_ELIMIT,
		    "pprof: the profile exceeds the sample labels limit "
		    "(max_profile_stacktrace_sample_labels, actual: %zu, "
		    "limit: %zu)",
		    s->n_label, max_labels);
	size_t   n_labels = 0;
	uint64_t span     = 0;
	if ((rc = pprof_sample_labels(c, si, s, &n_labels, &span)) != 0)
		return rc;

	/* Normalisation (model.md §9.3). A dropped sample is still fully
	 * validated (its location ids below), but interns no names. */
	bool neg = false, zero = true;
	for (size_t t = 0; t < nt; t++) {
		neg  = neg || s->value[t] < 0;
		zero = zero && s->value[t] == 0;
	}
	if (neg || zero) {
		if ((rc = pprof_sample_check_ids(ctx, si, s, s->n_location_id))
		    != 0)
			return rc;
	}
	if (neg) {
		ctx->res->dropped_negative++;
		return 0;
	}
	if (zero) {
		ctx->res->dropped_zero++;
		return 0;
	}
	size_t   nf    = 0;
	uint32_t stack = 0;
	if ((rc = pprof_sample_frames(c, si, s, &nf)) != 0
	    || (rc = hearth_upload_builder_stack(
	            c->b, c->frames, nf, &stack, ctx->err))
	        != 0)
		return rc;
	uint32_t g;
	if ((rc = pprof_sample_group(c, n_labels, &g)) != 0)
		return rc;
	return hearth_upload_builder_add_row(
	    c->b, g, stack, span, s->value, ctx->err);
}

static int
pprof_convert(pprof_ctx *ctx)
{
	Perftools__Profiles__Profile *p = ctx->p;
	pprof_conv                    c = { .ctx = ctx };
	int                           rc;
	rc = hearth_upload_builder_new(
	    ctx->a, p->n_sample_type, &c.b, ctx->err);
	if (rc != 0)
		return rc;
	c.fn_sid
	    = hearth_arena_calloc(ctx->a, p->n_function + 1, sizeof(uint32_t));
	c.loc_first
	    = hearth_arena_calloc(ctx->a, p->n_location + 1, sizeof(uint32_t));
	c.loc_off = hearth_arena_alloc(
	    ctx->a, (p->n_location + 1) * sizeof(uint32_t));
	c.loc_n = hearth_arena_alloc(
	    ctx->a, (p->n_location + 1) * sizeof(uint32_t));
	if (ctx->loc_map.dense != NULL)
		c.id_first = hearth_arena_calloc(
		    ctx->a, (size_t) ctx->loc_map.dense_n, sizeof(uint32_t));
	if (c.fn_sid == NULL || c.loc_first == NULL || c.loc_off == NULL
	    || c.loc_n == NULL
	    || (ctx->loc_map.dense != NULL && c.id_first == NULL))
		return pprof_nomem(ctx);

	for (size_t i = 0; i < p->n_sample; i++)
		if ((rc = pprof_convert_sample(&c, i)) != 0)
			return rc;

	hearth_upload *u;
	if ((rc = hearth_upload_builder_finish(c.b, &u, ctx->err)) != 0)
		return rc;
	u->sample_types = hearth_arena_alloc(
	    ctx->a, p->n_sample_type * sizeof(*u->sample_types));
	if (u->sample_types == NULL)
		return pprof_nomem(ctx);
	for (size_t i = 0; i < p->n_sample_type; i++) {
		u->sample_types[i].type
		    = ctx->strings[p->sample_type[i]->type];
		u->sample_types[i].unit
		    = ctx->strings[p->sample_type[i]->unit];
	}
	u->n_sample_types = p->n_sample_type;
	if (p->period_type != NULL) {
		u->period_type = ctx->strings[p->period_type->type];
		u->period_unit = ctx->strings[p->period_type->unit];
	}
	u->period         = p->period;
	u->time_nanos     = p->time_nanos;
	u->duration_nanos = p->duration_nanos;
	ctx->res->upload  = u;
	return 0;
}

static int
pprof_spy(const char *name)
{
	if (name == NULL)
		return PPROF_SPY_NONE;
	if (strcmp(name, "pyspy") == 0)
		return PPROF_SPY_PYSPY;
	if (strcmp(name, "rbspy") == 0 || strcmp(name, "scripting") == 0)
		return PPROF_SPY_SCRIPTING;
	if (strcmp(name, "dotnetspy") == 0)
		return PPROF_SPY_DOTNET;
	return PPROF_SPY_NONE;
}

/* Gunzip when the body is gzip. With a profile size limit below the hard
 * cap, decompression stops right past the limit: a zip bomb costs at
 * most max_profile_size_bytes of work. */
static int
pprof_gunzip(pprof_ctx *ctx, const void *body, size_t n, const uint8_t **data,
    size_t *len)
{
	size_t cap = ctx->o->max_decompressed;
	size_t lim = ctx->o->max_profile_size_bytes;
	if (cap == 0)
		cap = HEARTH_PPROF_DEFAULT_MAX_DECOMPRESSED;
	bool     by_limit = lim > 0 && lim < cap;
	uint8_t *out      = NULL;
	int      rc;
	rc = hearth_gzip_decode(
	    ctx->a, body, n, by_limit ? lim : cap, &out, len, ctx->err);
	if (rc == HEARTH_ETOOLARGE && by_limit)
		return hearth_err_set(ctx->err, HEARTH_ELIMIT,
		    "pprof: the profile exceeds the size limit "
		    "(max_profile_size_bytes, actual: more than %zu, limit: "
		    "%zu)",
		    lim, lim);
	*data = out;
	return rc;
}

int
hearth_pprof_decode(hearth_arena *a, const void *body, size_t n,
    const hearth_pprof_opts *opts, hearth_pprof_result *res, hearth_err *err)
{
	static const hearth_pprof_opts no_opts;
	HEARTH_ASSERT(a != NULL && res != NULL);
	HEARTH_ASSERT(body != NULL || n == 0);
	memset(res, 0, sizeof(*res));
	pprof_ctx ctx = { .a = a,
		.o           = opts != NULL ? opts : &no_opts,
		.res         = res,
		.err         = err };
	ctx.spy       = pprof_spy(ctx.o->spy_name);

	const uint8_t *data = body;
	size_t         len  = n;
	int            rc   = 0;
	if (hearth_gzip_is_gzip(body, n)
	    && (rc = pprof_gunzip(&ctx, body, n, &data, &len)) != 0)
		goto fail;
	size_t lim = ctx.o->max_profile_size_bytes;
	if (lim > 0 && len > lim) {
		rc = hearth_err_set(err, HEARTH_ELIMIT,
		    "pprof: the profile exceeds the size limit "
		    "(max_profile_size_bytes, actual: %zu, limit: %zu)",
		    len, lim);
		goto fail;
	}
	res->decoded_bytes = len;

	pprof_alloc        st  = { .a = a };
	ProtobufCAllocator pba = { .alloc = pprof_pb_alloc,
		.free                     = pprof_pb_free,
		.allocator_data           = &st };
	ctx.p = perftools__profiles__profile__unpack(&pba, len, data);
	if (ctx.p == NULL) {
		if (st.failed)
			rc = pprof_nomem(&ctx);
		else
			rc = hearth_err_set(err, HEARTH_EINVAL,
			    "pprof: malformed protobuf (truncated or not a "
			    "pprof)");
		goto fail;
	}
	/* Limits before validation: rejecting is cheaper. */
	size_t max_s = ctx.o->max_samples;
	if (max_s > 0 && ctx.p->n_sample > max_s) {
		rc = hearth_err_set(err, HEARTH_ELIMIT,
		    "pprof: the profile exceeds the samples count limit "
		    "(max_profile_stacktrace_samples, actual: %zu, limit: "
		    "%zu)",
		    ctx.p->n_sample, max_s);
		goto fail;
	}
	res->n_samples = ctx.p->n_sample;
	if ((rc = pprof_check_profile(&ctx)) != 0
	    || (rc = pprof_convert(&ctx)) != 0)
		goto fail;
	return 0;
fail:
	memset(res, 0, sizeof(*res));
	return rc;
}
