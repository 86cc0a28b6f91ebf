/* libFuzzer target: hearth_speedscope_parse. The first byte picks small
 * limits so that truncation and the stack limit are exercised; on success
 * every profile's upload keeps the invariants of upload.h. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "speedscope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t		       ctl = data[0];
	size_t		       cut_stacks = 0, cut_symbols = 0;
	hearth_speedscope_opts o = {
		.max_stack_depth   = (ctl & 0x02) ? 3 : 0,
		.max_symbol_length = (ctl & 0x04) ? 5 : 0,
		.max_samples	   = (ctl & 0x08) ? 4 : 0,
		.truncated_stacks  = &cut_stacks,
		.truncated_symbols = &cut_symbols,
	};
	hearth_arena		*a = hearth_arena_new(64u << 20);
	hearth_err		 err;
	hearth_speedscope_result r;
	if (a == NULL)
		abort();
	int rc = hearth_speedscope_parse(a, (const char *) data + 1, size - 1,
	    (ctl & 0x10) ? NULL : &o, &r, &err);
	if (rc == 0) {
		HEARTH_ASSERT(r.n_profiles <= HEARTH_SPEEDSCOPE_MAX_PROFILES);
		for (size_t i = 0; i < r.n_profiles; i++) {
			const hearth_upload *u = r.profiles[i].upload;
			HEARTH_ASSERT(r.profiles[i].name != NULL &&
			    r.profiles[i].unit_name != NULL);
			HEARTH_ASSERT(u->n_groups <= 1);
			HEARTH_ASSERT(u->stack_off[0] == 0 &&
			    u->stack_off[u->n_stacks] == u->n_frames);
			for (size_t f = 0; f < u->n_frames; f++)
				HEARTH_ASSERT(u->frames[f] != 0 &&
				    u->frames[f] < u->n_strings &&
				    u->string_lens[u->frames[f]] > 0);
			for (size_t g = 0; g < u->n_groups; g++)
				for (size_t k = 0; k < u->groups[g].n_rows; k++)
					HEARTH_ASSERT(
					    u->groups[g].values[k] > 0 &&
					    u->groups[g].stacks[k] < u->n_stacks);
			if (!(ctl & 0x10) && o.max_samples > 0)
				HEARTH_ASSERT(u->n_stacks <= o.max_samples);
			if (!(ctl & 0x10) && o.max_stack_depth > 0)
				for (size_t s = 0; s < u->n_stacks; s++)
					HEARTH_ASSERT(u->stack_off[s + 1] -
						u->stack_off[s] <=
					    o.max_stack_depth);
		}
	} else {
		HEARTH_ASSERT(err.code == rc &&
		    strncmp(err.msg, "speedscope: ", 12) == 0);
	}
	hearth_arena_free(a);
	return 0;
}
