/*
 * pprof_check: structural validation of an unpacked pprof (model.md §8.2,
 * §9.2) and the id -> position maps the conversion relies on. Everything
 * the conversion dereferences by index or id is checked here once, so the
 * per-sample loop in pprof.c needs no further bounds checks on symbols.
 */
#include "pprof_impl.h"

#include "utf8.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

int
pprof_nomem(pprof_ctx *ctx)
{
	return hearth_err_set(ctx->err, HEARTH_ELIMIT,
	    "request memory limit reached (%zu bytes in use while decoding "
	    "the profile)",
	    hearth_arena_used(ctx->a));
}

int
pprof_check_str(pprof_ctx *ctx, int64_t idx, const char *what, size_t pos,
    const char *field)
{
	if (idx >= 0 && (uint64_t) idx < ctx->n_strings)
		return 0;
	char where[96];
	if (pos == SIZE_MAX)
		snprintf(where, sizeof(where), "%s %s", what, field);
	else
		snprintf(where, sizeof(where), "%s %zu %s", what, pos, field);
	return hearth_err_set(ctx->err, HEARTH_EINVAL,
	    "pprof: string index %" PRId64 " out of range (string_table has "
	    "%zu entries) in %s",
	    idx, ctx->n_strings, where);
}

static int
pprof_dup(
    pprof_ctx *ctx, const char *kind, uint64_t id, size_t first, size_t second)
{
	return hearth_err_set(ctx->err, HEARTH_EINVAL,
	    "pprof: duplicate %s id %" PRIu64 " (%s %zu and %zu)", kind, id,
	    kind, first, second);
}

static int
pprof_idmap_build(pprof_ctx *ctx, pprof_idmap *m, const uint64_t *ids,
    size_t n, const char *kind)
{
	memset(m, 0, sizeof(*m));
	uint64_t max = 0;
	for (size_t i = 0; i < n; i++) {
		if (ids[i] == 0)
			return hearth_err_set(ctx->err, HEARTH_EINVAL,
			    "pprof: %s %zu has id 0 (ids must be non-zero)",
			    kind, i);
		if (ids[i] > max)
			max = ids[i];
	}
	/* Dense when it costs at most ~4 slots per entry: producers almost
	 * always use id = position + 1. */
	if (max <= (uint64_t) n * 4 + 1024) {
		m->dense_n = max + 1;
		m->dense   = hearth_arena_alloc(
		      ctx->a, (size_t) m->dense_n * sizeof(uint32_t));
		if (m->dense == NULL)
			return pprof_nomem(ctx);
		memset(m->dense, 0xff, (size_t) m->dense_n * sizeof(uint32_t));
		for (size_t i = 0; i < n; i++) {
			if (m->dense[ids[i]] != PPROF_NONE)
				return pprof_dup(
				    ctx, kind, ids[i], m->dense[ids[i]], i);
			m->dense[ids[i]] = (uint32_t) i;
		}
		return 0;
	}
	size_t ns = 16;
	while (ns < n * 2)
		ns *= 2;
	m->n_slots = ns;
	m->keys    = hearth_arena_calloc(ctx->a, ns, sizeof(uint64_t));
	m->vals    = hearth_arena_alloc(ctx->a, ns * sizeof(uint32_t));
	if (m->keys == NULL || m->vals == NULL)
		return pprof_nomem(ctx);
	for (size_t i = 0; i < n; i++) {
		uint64_t id = ids[i];
		size_t   j
		    = (size_t) (id * 0x9e3779b97f4a7c15ull >> 20) & (ns - 1);
		while (m->keys[j] != 0) {
			if (m->keys[j] == id)
				return pprof_dup(ctx, kind, id, m->vals[j], i);
			j = (j + 1) & (ns - 1);
		}
		m->keys[j] = id;
		m->vals[j] = (uint32_t) i;
	}
	return 0;
}

static int
pprof_check_strings(pprof_ctx *ctx)
{
	Perftools__Profiles__Profile *p = ctx->p;
	if (p->n_string_table == 0)
		return hearth_err_set(ctx->err, HEARTH_EINVAL,
		    "pprof: string_table is empty (entry 0 must be \"\")");
	if (p->string_table[0][0] != '\0')
		return hearth_err_set(ctx->err, HEARTH_EINVAL,
		    "pprof: string_table[0] must be \"\"");
	ctx->strings   = (const char **) p->string_table;
	ctx->n_strings = p->n_string_table;
	ctx->str_len
	    = hearth_arena_alloc(ctx->a, p->n_string_table * sizeof(uint32_t));
	if (ctx->str_len == NULL)
		return pprof_nomem(ctx);
	for (size_t i = 0; i < p->n_string_table; i++) {
		/* protobuf-c hands strings out NUL-terminated; a string with
		 * an embedded NUL is cut there. */
		size_t len = strlen(p->string_table[i]);
		if (len > UINT32_MAX)
			return hearth_err_set(ctx->err, HEARTH_EINVAL,
			    "pprof: string_table[%zu] is longer than 4 GiB",
			    i);
		if (!hearth_utf8_valid(p->string_table[i], len))
			return hearth_err_set(ctx->err, HEARTH_EINVAL,
			    "pprof: invalid UTF-8 in string_table[%zu]", i);
		ctx->str_len[i] = (uint32_t) len;
	}
	return 0;
}

/* dotnetspy (ingest-http.md §5.3): old .NET agents leave every function id
 * 0 and emit functions parallel to locations. */
static int
pprof_dotnet_fix(pprof_ctx *ctx)
{
	Perftools__Profiles__Profile *p = ctx->p;
	if (p->n_function == p->n_location) {
		bool all_zero = true;
		for (size_t i = 0; i < p->n_function && all_zero; i++)
			all_zero = p->function[i]->id == 0;
		if (all_zero)
			for (size_t i = 0; i < p->n_function; i++)
				p->function[i]->id = p->location[i]->id;
	}
	/* '-' -> '_' on copies appended to the string table: the same entry
	 * may also be a function or label name, which must stay as sent. */
	size_t n_fix = 0;
	for (size_t i = 0; i < p->n_sample_type; i++) {
		int64_t t = p->sample_type[i]->type;
		if (t > 0 && (uint64_t) t < ctx->n_strings
		    && strchr(ctx->strings[t], '-') != NULL)
			n_fix++;
	}
	if (n_fix == 0)
		return 0;
	size_t       n = ctx->n_strings;
	const char **ns
	    = hearth_arena_alloc(ctx->a, (n + n_fix) * sizeof(char *));
	uint32_t *nl
	    = hearth_arena_alloc(ctx->a, (n + n_fix) * sizeof(uint32_t));
	if (ns == NULL || nl == NULL)
		return pprof_nomem(ctx);
	memcpy(ns, ctx->strings, n * sizeof(char *));
	memcpy(nl, ctx->str_len, n * sizeof(uint32_t));
	for (size_t i = 0; i < p->n_sample_type; i++) {
		int64_t t = p->sample_type[i]->type;
		if (t <= 0 || (uint64_t) t >= n
		    || strchr(ctx->strings[t], '-') == NULL)
			continue;
		char *c = hearth_arena_strndup(
		    ctx->a, ctx->strings[t], ctx->str_len[t]);
		if (c == NULL)
			return pprof_nomem(ctx);
		for (char *q = c; *q != '\0'; q++)
			if (*q == '-')
				*q = '_';
		ns[ctx->n_strings]      = c;
		nl[ctx->n_strings]      = ctx->str_len[t];
		p->sample_type[i]->type = (int64_t) ctx->n_strings++;
	}
	ctx->strings = ns;
	ctx->str_len = nl;
	return 0;
}

static int
pprof_check_types(pprof_ctx *ctx)
{
	Perftools__Profiles__Profile *p = ctx->p;
	int                           rc;
	for (size_t i = 0; i < p->n_sample_type; i++) {
		const Perftools__Profiles__ValueType *vt = p->sample_type[i];
		if ((rc = pprof_check_str(
		         ctx, vt->type, "sample_type", i, "type"))
		        != 0
		    || (rc = pprof_check_str(
		            ctx, vt->unit, "sample_type", i, "unit"))
		        != 0)
			return rc;
		/* Upstream rejects it (model.md §8.2); only the dotnetspy
		 * fix above rewrites it. */
		if (strchr(ctx->strings[vt->type], '-') != NULL)
			return hearth_err_set(ctx->err, HEARTH_EINVAL,
			    "pprof: sample type name \"%s\" contains '-'",
			    ctx->strings[vt->type]);
	}
	if (p->period_type != NULL
	    && ((rc = pprof_check_str(ctx, p->period_type->type, "period_type",
	             SIZE_MAX, "type"))
	            != 0
	        || (rc = pprof_check_str(ctx, p->period_type->unit,
	                "period_type", SIZE_MAX, "unit"))
	            != 0))
		return rc;
	return 0;
}

static int
pprof_check_symbols(pprof_ctx *ctx)
{
	Perftools__Profiles__Profile *p = ctx->p;
	int                           rc;
	size_t                        n_ids
	    = p->n_function > p->n_location ? p->n_function : p->n_location;
	uint64_t *ids
	    = hearth_arena_alloc(ctx->a, (n_ids + 1) * sizeof(uint64_t));
	if (ids == NULL)
		return pprof_nomem(ctx);

	for (size_t i = 0; i < p->n_function; i++) {
		const Perftools__Profiles__Function *f = p->function[i];
		if ((rc = pprof_check_str(ctx, f->name, "function", i, "name"))
		        != 0
		    || (rc = pprof_check_str(
		            ctx, f->system_name, "function", i, "system_name"))
		        != 0
		    || (rc = pprof_check_str(
		            ctx, f->filename, "function", i, "filename"))
		        != 0)
			return rc;
		ids[i] = f->id;
	}
	if ((rc = pprof_idmap_build(
	         ctx, &ctx->fn_map, ids, p->n_function, "function"))
	    != 0)
		return rc;

	for (size_t i = 0; i < p->n_mapping; i++) {
		const Perftools__Profiles__Mapping *m = p->mapping[i];
		if ((rc = pprof_check_str(
		         ctx, m->filename, "mapping", i, "filename"))
		        != 0
		    || (rc = pprof_check_str(
		            ctx, m->build_id, "mapping", i, "build_id"))
		        != 0)
			return rc;
	}

	size_t n_lines = 0;
	for (size_t i = 0; i < p->n_location; i++) {
		ids[i] = p->location[i]->id;
		n_lines += p->location[i]->n_line;
	}
	if ((rc = pprof_idmap_build(
	         ctx, &ctx->loc_map, ids, p->n_location, "location"))
	    != 0)
		return rc;
	ctx->ln_fn = hearth_arena_alloc(
	    ctx->a, (p->n_location + 1) * sizeof(uint32_t *));
	uint32_t *all
	    = hearth_arena_alloc(ctx->a, (n_lines + 1) * sizeof(uint32_t));
	if (ctx->ln_fn == NULL || all == NULL)
		return pprof_nomem(ctx);
	for (size_t i = 0; i < p->n_location; i++) {
		const Perftools__Profiles__Location *l = p->location[i];
		ctx->ln_fn[i]                          = all;
		for (size_t k = 0; k < l->n_line; k++) {
			uint64_t fid = l->line[k]->function_id;
			uint32_t pos = pprof_idmap_get(&ctx->fn_map, fid);
			if (pos == PPROF_NONE)
				return hearth_err_set(ctx->err, HEARTH_EINVAL,
				    "pprof: location id %" PRIu64
				    " references function id %" PRIu64
				    " which does not exist",
				    l->id, fid);
			all[k] = pos;
		}
		all += l->n_line;
	}
	return 0;
}

int
pprof_check_profile(pprof_ctx *ctx)
{
	Perftools__Profiles__Profile *p = ctx->p;
	int                           rc;
	if (p->n_sample_type == 0)
		return hearth_err_set(ctx->err, HEARTH_EINVAL,
		    "pprof: empty profile: no sample types");
	if ((rc = pprof_check_strings(ctx)) != 0)
		return rc;
	if (ctx->spy == PPROF_SPY_DOTNET && (rc = pprof_dotnet_fix(ctx)) != 0)
		return rc;
	if ((rc = pprof_check_types(ctx)) != 0)
		return rc;
	return pprof_check_symbols(ctx);
}
