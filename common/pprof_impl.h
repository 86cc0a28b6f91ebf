/*
 * pprof_impl: state shared by pprof.c (decode and conversion) and
 * pprof_check.c (validation, id maps). Include only from common/pprof*.c.
 *
 * The decoder keeps one pprof_ctx per call, in the arena. After
 * pprof_check_profile() succeeds these hold:
 *  (1) every string index used by the conversion is < n_strings, and
 *      str_len[i] == strlen(strings[i]), each string valid UTF-8;
 *  (2) fn_map / loc_map map every Function / Location id to its position,
 *      ids are non-zero and unique;
 *  (3) every Line's function_id is in fn_map (ln_fn caches the position).
 */
#ifndef HEARTH_PPROF_IMPL_H
#define HEARTH_PPROF_IMPL_H

#include "pprof.h"
#include "profile.pb-c.h"

#include <stdbool.h>

#define PPROF_NONE UINT32_MAX

/* id -> position. Dense array when ids are compact (the common
 * id = position + 1 case), else an open-addressing hash table. */
typedef struct pprof_idmap {
	uint32_t *dense; /* dense[id] = position or PPROF_NONE */
	uint64_t  dense_n;
	uint64_t *keys; /* hash mode: 0 = empty slot (ids are non-zero) */
	uint32_t *vals;
	size_t    n_slots;
} pprof_idmap;

typedef struct pprof_ctx {
	hearth_arena                 *a;
	const hearth_pprof_opts      *o;
	Perftools__Profiles__Profile *p;
	hearth_pprof_result          *res;
	hearth_err                   *err;

	const char **strings; /* = p->string_table */
	size_t       n_strings;
	uint32_t    *str_len;

	pprof_idmap fn_map;
	pprof_idmap loc_map;
	uint32_t  **ln_fn; /* ln_fn[loc][line] = function position */

	int spy; /* PPROF_SPY_* */
} pprof_ctx;

enum {
	PPROF_SPY_NONE,
	PPROF_SPY_SCRIPTING,
	PPROF_SPY_PYSPY,
	PPROF_SPY_DOTNET
};

/* Position of id in m, or PPROF_NONE. */
static inline uint32_t
pprof_idmap_get(const pprof_idmap *m, uint64_t id)
{
	if (m->dense != NULL)
		return id < m->dense_n ? m->dense[id] : PPROF_NONE;
	if (id == 0 || m->n_slots == 0)
		return PPROF_NONE;
	size_t mask = m->n_slots - 1;
	for (size_t j = (size_t) (id * 0x9e3779b97f4a7c15ull >> 20) & mask;;
	     j        = (j + 1) & mask) {
		if (m->keys[j] == id)
			return m->vals[j];
		if (m->keys[j] == 0)
			return PPROF_NONE;
	}
}

/* Validate the unpacked profile (model.md §8.2) and build the id maps;
 * fills ctx->str_len, fn_map, loc_map, ln_fn. Applies the dotnetspy
 * function-id and sample-type fixes first when ctx->spy says so. */
int pprof_check_profile(pprof_ctx *ctx);

/* Check one string index; where names the field for the message
 * ("function 3 name"). */
int pprof_check_str(pprof_ctx *ctx, int64_t idx, const char *what, size_t pos,
    const char *field);

int pprof_nomem(pprof_ctx *ctx);

#endif
