/*
 * pprof_fuzz: libFuzzer target for hearth_pprof_decode (gzip sniffing,
 * gunzip, protobuf-c unpack, validation, conversion, upload builder).
 *
 * Each input is decoded with a capped arena and small limits, the way an
 * ingest request is, so the limit and out-of-memory paths get exercised
 * too. The spy name is picked from the input size (not from its bytes) so
 * that the seed corpus (real pprof files) stays meaningful. On success the
 * upload's invariants (common/upload.h) are checked; a violation traps.
 *
 * Build: cmake -DHEARTH_FUZZ=ON with clang; run:
 *   pprof_fuzz -max_total_time=30 CORPUS_DIR shared/testdata/pprof
 */
#include "arena.h"
#include "pprof.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(int cond)
{
	if (!cond)
		__builtin_trap();
}

static void
fuzz_check_upload(const hearth_upload *u)
{
	fuzz_check(u->n_strings >= 1 && strcmp(u->strings[0], "") == 0);
	for (size_t i = 0; i < u->n_strings; i++)
		fuzz_check(strlen(u->strings[i]) == u->string_lens[i]);
	fuzz_check(u->stack_off[0] == 0);
	fuzz_check(u->stack_off[u->n_stacks] == u->n_frames);
	for (size_t i = 0; i < u->n_stacks; i++)
		fuzz_check(u->stack_off[i] <= u->stack_off[i + 1]);
	for (size_t i = 0; i < u->n_frames; i++)
		fuzz_check(u->frames[i] != 0 && u->frames[i] < u->n_strings);
	for (size_t g = 0; g < u->n_groups; g++) {
		const hearth_upload_group *grp = &u->groups[g];
		fuzz_check(grp->n_rows > 0);
		for (size_t l = 1; l < grp->n_labels; l++)
			fuzz_check(strcmp(grp->labels[l - 1].name,
			               grp->labels[l].name)
			    < 0);
		for (size_t r = 0; r < grp->n_rows; r++) {
			fuzz_check(grp->stacks[r] < u->n_stacks);
			int nonzero = 0;
			for (size_t t = 0; t < u->n_sample_types; t++) {
				int64_t v
				    = grp->values[r * u->n_sample_types + t];
				fuzz_check(v >= 0);
				nonzero |= v != 0;
			}
			fuzz_check(nonzero);
		}
	}
	for (size_t t = 0; t < u->n_sample_types; t++)
		fuzz_check(hearth_upload_total(u, t) >= 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const spies[]
	    = { NULL, "pyspy", "rbspy", "dotnetspy", "gospy" };
	hearth_arena *a = hearth_arena_new(32u << 20);
	if (a == NULL)
		return 0;
	hearth_pprof_opts o = {
		.max_profile_size_bytes = 4u << 20,
		.max_samples            = 20000,
		.max_sample_labels      = 32,
		.max_stack_depth        = 128,
		.max_symbol_length      = 256,
		.spy_name               = spies[size % 5],
		.max_decompressed       = 8u << 20,
	};
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	int rc = hearth_pprof_decode(a, data, size, &o, &res, &err);
	if (rc == 0) {
		fuzz_check(res.upload != NULL);
		fuzz_check_upload(res.upload);
	} else {
		/* every failure explains itself to the client */
		fuzz_check(err.code == rc && err.msg[0] != '\0');
		fuzz_check(res.upload == NULL);
	}
	hearth_arena_free(a);
	return 0;
}
