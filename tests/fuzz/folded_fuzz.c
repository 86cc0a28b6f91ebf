/* libFuzzer target: hearth_folded_parse. The first byte picks the mode
 * (bits 0 and 5: folded, lines, trie, tree) and small limits so that
 * truncation and the sample limit are exercised; on success the upload
 * invariants of upload.h are checked. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "folded.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	uint8_t            ctl = data[0];
	hearth_folded_opts o   = {
		  .max_stack_depth   = (ctl & 0x02) ? 3 : 0,
		  .max_symbol_length = (ctl & 0x04) ? 5 : 0,
		  .max_samples       = (ctl & 0x08) ? 4 : 0,
	};
	hearth_arena  *a = hearth_arena_new(64u << 20);
	hearth_err     err;
	hearth_upload *u = NULL;
	if (a == NULL)
		abort();
	int mode = (ctl & 0x01) | ((ctl & 0x20) >> 4);
	int rc	 = hearth_folded_parse(a, (const char *) data + 1, size - 1,
	      mode, (ctl & 0x10) ? NULL : &o, &u, &err);
	if (rc == 0) {
		HEARTH_ASSERT(u->n_sample_types == 1 && u->n_groups <= 1);
		HEARTH_ASSERT(u->stack_off[0] == 0
		    && u->stack_off[u->n_stacks] == u->n_frames);
		for (size_t f = 0; f < u->n_frames; f++)
			HEARTH_ASSERT(
			    u->frames[f] != 0 && u->frames[f] < u->n_strings);
		for (size_t g = 0; g < u->n_groups; g++)
			for (size_t r = 0; r < u->groups[g].n_rows; r++) {
				HEARTH_ASSERT(u->groups[g].values[r] > 0);
				HEARTH_ASSERT(
				    u->groups[g].stacks[r] < u->n_stacks);
			}
		if (!(ctl & 0x10) && o.max_samples > 0)
			HEARTH_ASSERT(u->n_stacks <= o.max_samples);
	} else {
		HEARTH_ASSERT(
		    u == NULL && err.code == rc && err.msg[0] != '\0');
	}
	hearth_arena_free(a);
	return 0;
}
