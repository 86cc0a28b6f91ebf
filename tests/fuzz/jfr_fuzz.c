/* libFuzzer target: the JFR reader (jfr.h), the same bytes also read as a
 * LabelsSnapshot. On success every upload must hold its invariants: one
 * or two sample types, frame ids naming strings, valid UTF-8 names, and
 * non-negative totals. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "jfr.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	hearth_arena *a = hearth_arena_new(256u << 20);
	if (a == NULL)
		abort();
	hearth_err	     err;
	hearth_jfr_contexts *ctx = NULL;
	if (hearth_jfr_contexts_decode(a, data, size, 1u << 20, &ctx, &err) != 0)
		HEARTH_ASSERT(ctx == NULL && err.msg[0] != '\0');
	hearth_jfr_opts	  o = { .sample_rate = 100, .max_stack_depth = 64,
		  .max_symbol_length = 256, .max_decompressed = 16u << 20,
		  .contexts = ctx };
	hearth_jfr_result r;
	if (hearth_jfr_decode(a, data, size, &o, &r, &err) == 0) {
		for (size_t i = 0; i < r.n_profiles; i++) {
			const hearth_upload *u = r.profiles[i].upload;
			HEARTH_ASSERT(u->n_sample_types >= 1
			    && u->n_sample_types <= 2);
			for (size_t f = 0; f < u->n_frames; f++)
				HEARTH_ASSERT(u->frames[f] > 0
				    && u->frames[f] < u->n_strings);
			for (size_t s = 1; s < u->n_strings; s++)
				HEARTH_ASSERT(hearth_utf8_valid(u->strings[s],
				                  u->string_lens[s])
				    && u->string_lens[s] <= 256);
			for (size_t s = 0; s < u->n_stacks; s++)
				HEARTH_ASSERT(u->stack_off[s + 1]
				        - u->stack_off[s]
				    <= 64);
			for (size_t t = 0; t < u->n_sample_types; t++)
				HEARTH_ASSERT(hearth_upload_total(u, t) >= 0);
		}
	} else {
		HEARTH_ASSERT(r.n_profiles == 0 && err.msg[0] != '\0');
	}
	hearth_arena_free(a);
	return 0;
}
