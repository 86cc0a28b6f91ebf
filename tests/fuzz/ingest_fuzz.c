/*
 * ingest_fuzz: libFuzzer target for a whole `POST /ingest` body as the
 * distributor turns it into an ingester push (distributor/ingest.h):
 * Content-Encoding gzip, the multipart form, pprof (raw or gzip), folded
 * and lines text, speedscope JSON, the trie and tree binary formats,
 * sample_type_config, labels and the per-profile limits,
 * all with small limits and a capped arena so the limit paths run too.
 *
 * The input size picks the variant (format, content type, encoding), not
 * its bytes, so real profiles in the seed corpus keep their meaning.
 * Properties: failure gives a message and a 4xx status; success gives a
 * push whose every profile has sorted labels with __name__ and
 * service_name, stack indices in range, as many values as stacks, values
 * > 0 and a 16-byte id, and which packs and unpacks again.
 */
#include "arena.h"
#include "config.h"
#include "ingest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct {
	const char *format, *content_type, *encoding;
} fuzz_variants[] = {
	{ NULL, NULL, NULL },
	{ "pprof", NULL, NULL },
	{ "lines", NULL, NULL },
	{ NULL, "multipart/form-data; boundary=B", NULL },
	{ "pprof", NULL, "gzip" },
	{ "groups", NULL, "gzip" },
	{ NULL, "multipart/form-data; boundary=B", "gzip" },
	{ "speedscope", NULL, NULL },
	{ "trie", NULL, NULL },
	{ NULL, "binary/octet-stream+tree", NULL },
};
#define FUZZ_N_VARIANTS (sizeof(fuzz_variants) / sizeof(fuzz_variants[0]))

static void
fuzz_check_push(const Hearth__Ingester__PushRequest *p)
{
	for (size_t bi = 0; bi < p->n_batches; bi++) {
		const Hearth__Ingester__ProfileBatch *b      = p->batches[bi];
		size_t                                frames = 0;
		for (size_t i = 0; i < b->n_stack_lengths; i++)
			frames += b->stack_lengths[i];
		HEARTH_ASSERT(frames == b->n_frames);
		for (size_t i = 0; i < b->n_frames; i++)
			HEARTH_ASSERT(b->frames[i] < b->n_strings);
		for (size_t pi = 0; pi < b->n_profiles; pi++) {
			const Hearth__Ingester__SeriesProfile *sp
			    = b->profiles[pi];
			int has_name = 0, has_svc = 0;
			HEARTH_ASSERT(
			    sp->n_stacks == sp->n_values && sp->id.len == 16);
			for (size_t i = 0; i < sp->n_labels; i++) {
				const char *n = sp->labels[i]->name;
				HEARTH_ASSERT(i == 0
				    || strcmp(sp->labels[i - 1]->name, n) < 0);
				has_name |= strcmp(n, "__name__") == 0;
				has_svc |= strcmp(n, "service_name") == 0;
			}
			HEARTH_ASSERT(has_name && has_svc);
			for (size_t i = 0; i < sp->n_stacks; i++) {
				HEARTH_ASSERT(
				    sp->stacks[i] < b->n_stack_lengths);
				HEARTH_ASSERT(sp->values[i] > 0);
			}
		}
	}
	size_t   len = hearth__ingester__push_request__get_packed_size(p);
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL)
		abort();
	hearth__ingester__push_request__pack(p, buf);
	Hearth__Ingester__PushRequest *back
	    = hearth__ingester__push_request__unpack(NULL, len, buf);
	HEARTH_ASSERT(back != NULL && back->n_batches == p->n_batches);
	hearth__ingester__push_request__free_unpacked(back, NULL);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static hearth_limits lim;
	static int           init;
	if (!init) {
		hearth_config_limits_defaults(&lim);
		lim.ingestion_body_limit_mb         = 4;
		lim.max_profile_size_bytes          = 1 << 20;
		lim.max_profile_stacktrace_samples  = 2000;
		lim.max_profile_stacktrace_depth    = 64;
		lim.max_profile_symbol_value_length = 256;
		lim.reject_older_than_ms            = 0;
		lim.reject_newer_than_ms            = 0;
		init                                = 1;
	}
	size_t               v = size % FUZZ_N_VARIANTS;
	hearth_ingest_params p = {
		.name         = v % 2 ? "app{env=fuzz}" : "app.cpu{env=fuzz}",
		.format       = fuzz_variants[v].format,
		.content_type = fuzz_variants[v].content_type,
		.content_encoding = fuzz_variants[v].encoding,
		.spy_name         = v == 5 ? "pyspy" : NULL,
		.now_ns           = 1700000000000000000LL,
		.limits           = &lim,
	};
	hearth_arena *a = hearth_arena_new(64u << 20);
	if (a == NULL)
		abort();
	hearth_ingest_result res;
	hearth_err           err;
	int rc = hearth_ingest_build(a, &p, data, size, &res, &err);
	if (rc != 0) {
		HEARTH_ASSERT(err.msg[0] != '\0');
		HEARTH_ASSERT(res.status >= 400 && res.status < 500);
	} else if (res.push != NULL) {
		HEARTH_ASSERT(res.profiles > 0);
		fuzz_check_push(res.push);
	}
	hearth_arena_free(a);
	return 0;
}
