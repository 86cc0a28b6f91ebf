/* libFuzzer target: multipart.h. The input up to the first '\n' is the
 * Content-Type header, the rest the body; the body is also parsed with a
 * fixed boundary so that body parsing is reached without a valid header. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
multipart_fuzz_parse(const char *body, size_t len, const char *b, size_t bl)
{
	hearth_arena          *a = hearth_arena_new(64u << 20);
	hearth_err             err;
	hearth_multipart_part *parts = NULL;
	size_t                 n     = 0;
	if (a == NULL)
		abort();
	int rc = hearth_multipart_parse(a, body, len, b, bl, &parts, &n, &err);
	if (rc == 0) {
		HEARTH_ASSERT(n <= HEARTH_MULTIPART_MAX_PARTS);
		for (size_t i = 0; i < n; i++) {
			HEARTH_ASSERT(parts[i].name != NULL);
			HEARTH_ASSERT(parts[i].data >= body
			    && parts[i].data + parts[i].len <= body + len);
		}
	} else {
		HEARTH_ASSERT(parts == NULL && n == 0 && err.msg[0] != '\0');
	}
	hearth_arena_free(a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s  = (const char *) data;
	const char *nl = memchr(s, '\n', size);
	size_t      hl = nl != NULL ? (size_t) (nl - s) : size;
	char       *ct = malloc(hl + 1);
	if (ct == NULL)
		abort();
	memcpy(ct, s, hl);
	ct[hl]           = '\0';
	const char *body = nl != NULL ? nl + 1 : s + size;
	size_t      blen = size - (size_t) (body - s);
	const char *b    = NULL;
	size_t      bl   = 0;
	hearth_err  err;
	if (hearth_multipart_boundary(ct, &b, &bl, &err) == 0) {
		HEARTH_ASSERT(bl > 0 && bl <= HEARTH_MULTIPART_MAX_BOUNDARY);
		HEARTH_ASSERT(b >= ct && b + bl <= ct + hl);
		multipart_fuzz_parse(body, blen, b, bl);
	}
	multipart_fuzz_parse(body, blen, "B", 1);
	free(ct);
	return 0;
}
