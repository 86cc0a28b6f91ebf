/*
 * libFuzzer target for the proto3 JSON mapper (common/pbjson.h).
 *
 * The first input byte picks a message type (every request hearth decodes
 * from JSON, plus a pprof Profile for the numeric types), the rest is the
 * JSON body. Checks, for every input: decoding either succeeds or fails
 * with a "json: " message and -HEARTH_EINVAL/-HEARTH_ELIMIT; a decoded
 * message encodes to JSON that decodes again, and both decodings pack to
 * the same protobuf bytes (the mapping round-trips exactly).
 * Seeds: JSON request bodies prefixed with one selector byte.
 */
#include "pbjson.h"
#include "profile.pb-c.h"
#include "push.pb-c.h"
#include "querier.pb-c.h"
#include "types.pb-c.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const ProtobufCMessageDescriptor *const fuzz_types[] = {
	&push__v1__push_request__descriptor,
	&querier__v1__select_merge_stacktraces_request__descriptor,
	&querier__v1__select_series_request__descriptor,
	&querier__v1__diff_request__descriptor,
	&querier__v1__series_request__descriptor,
	&types__v1__label_values_request__descriptor,
	&querier__v1__select_merge_stacktraces_response__descriptor,
	&perftools__profiles__profile__descriptor,
	&types__v1__series__descriptor,
};

static uint8_t *
fuzz_pack(const ProtobufCMessage *m, size_t *len)
{
	*len       = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(*len + 1);
	HEARTH_ASSERT(b != NULL);
	protobuf_c_message_pack(m, b);
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	size_t n = sizeof(fuzz_types) / sizeof(fuzz_types[0]);
	const ProtobufCMessageDescriptor *d = fuzz_types[data[0] % n];
	hearth_pbjson_opts o = { .bytes_hex = (data[0] / n) & 1 };
	hearth_arena      *a = hearth_arena_new((size_t) 64 << 20);
	HEARTH_ASSERT(a != NULL);
	hearth_err        err;
	ProtobufCMessage *m  = NULL;
	int               rc = hearth_pbjson_decode(
	                  a, d, (const char *) data + 1, size - 1, &o, &m, &err);
	if (rc != 0) {
		HEARTH_ASSERT(m == NULL);
		HEARTH_ASSERT(rc == HEARTH_EINVAL || rc == HEARTH_ELIMIT);
		HEARTH_ASSERT(err.code == rc);
		HEARTH_ASSERT(strncmp(err.msg, "json: ", 6) == 0);
		hearth_arena_free(a);
		return 0;
	}
	hearth_buf js;
	hearth_buf_init(&js);
	HEARTH_ASSERT(hearth_pbjson_encode(m, &js) == 0);
	ProtobufCMessage *m2 = NULL;
	/* bytes are written as base64: read them back without hex */
	rc = hearth_pbjson_decode(a, d, js.data, js.len, NULL, &m2, &err);
	HEARTH_ASSERT(rc == 0);
	size_t   l1, l2;
	uint8_t *b1 = fuzz_pack(m, &l1);
	uint8_t *b2 = fuzz_pack(m2, &l2);
	HEARTH_ASSERT(l1 == l2 && memcmp(b1, b2, l1) == 0);
	free(b1);
	free(b2);
	hearth_buf_fini(&js);
	hearth_arena_free(a);
	return 0;
}
