/* pbjson_impl: what pbjson.c (decoder), pbjson_lex.c (its tokens) and
 * pbjson_encode.c share: the decoder state, the token functions, and
 * where protobuf-c keeps a field's value, count and presence. Only for
 * common/pbjson*.c, and for speedscope.c, which reads its JSON with the
 * same tokens. */
#ifndef HEARTH_PBJSON_IMPL_H
#define HEARTH_PBJSON_IMPL_H

#include "arena.h"
#include "err.h"

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

/* Decoder state: the input, the arena, the error and where we are. */
typedef struct hearth_pbjson_dec {
	const char   *start;
	const char   *p;
	const char   *end;
	hearth_arena *a;
	hearth_err   *err;
	unsigned      depth;
	int           bytes_hex;
	const char   *field; /* proto name of the field being read, or NULL */
} hearth_pbjson_dec;

/* A string or number token: raw bytes or (for strings) the decoded value. */
typedef struct hearth_pbjson_tok {
	const char *s;
	size_t      len;
	size_t      at; /* byte offset of the token */
} hearth_pbjson_tok;

/* Parse s[0..len) as an integer in [min, max] (unsigned when is_unsigned;
 * then min/max are ignored and umax applies). 0 or -1. */
typedef struct hearth_pbjson_int {
	int      is_unsigned;
	int64_t  min;
	int64_t  max;
	uint64_t umax;
	int64_t  i;
	uint64_t u;
} hearth_pbjson_int;

/* Fill d->err with "json: offset AT: [field "F": ]MSG"; returns
 * HEARTH_EINVAL. */
int hearth_pbjson_fail(hearth_pbjson_dec *d, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The arena cap was reached: HEARTH_ELIMIT. */
int    hearth_pbjson_nomem(hearth_pbjson_dec *d);
size_t hearth_pbjson_off(const hearth_pbjson_dec *d); /* offset of d->p */
void   hearth_pbjson_ws(hearth_pbjson_dec *d);        /* skip blanks */
/* Consume c after blanks, or fail naming what was expected. */
int hearth_pbjson_expect(hearth_pbjson_dec *d, char c, const char *what);
/* Consume lit when it is next: 1, else 0. */
int hearth_pbjson_literal(hearth_pbjson_dec *d, const char *lit);
/* The string at d->p ('"'), unescaped (NUL-terminated when it had escapes;
 * else pointing into the input), valid UTF-8. */
int hearth_pbjson_string(hearth_pbjson_dec *d, hearth_pbjson_tok *t);
/* Length of the JSON number at s[0..len), 0 when none; *plain = no
 * fraction or exponent. */
size_t hearth_pbjson_number_len(const char *s, size_t len, int *plain);
int    hearth_pbjson_strtod(
       hearth_pbjson_dec *d, const char *s, size_t len, double *out);
/* s[0..len) as an integer within r's range: 0, -1 (not one), -2 (no
 * memory, d->err set). */
int hearth_pbjson_parse_int(
    hearth_pbjson_dec *d, const char *s, size_t len, hearth_pbjson_int *r);
int hearth_pbjson_number_tok(hearth_pbjson_dec *d, hearth_pbjson_tok *t);
/* Skip one value of any type (an unknown field's). */
int hearth_pbjson_skip(hearth_pbjson_dec *d);
/* A bytes value: base64 (standard or URL-safe, padding optional) or, with
 * d->bytes_hex, an even run of hex digits. */
int hearth_pbjson_bytes(hearth_pbjson_dec *d, const hearth_pbjson_tok *t,
    ProtobufCBinaryData *out);

/* Bytes of one value of a field in a message struct (also the element
 * size of a repeated field's array). */
static inline size_t
pbjson_value_size(const ProtobufCFieldDescriptor *f)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_ENUM:
		return 4;
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

static inline void *
pbjson_field_ptr(const void *msg, const ProtobufCFieldDescriptor *f)
{
	return (char *) (uintptr_t) msg + f->offset;
}

/* Count of a repeated field, presence flag of a proto2 optional, or the
 * case of a oneof: all live at quantifier_offset. */
static inline void *
pbjson_quant_ptr(const void *msg, const ProtobufCFieldDescriptor *f)
{
	return (char *) (uintptr_t) msg + f->quantifier_offset;
}

static inline int
pbjson_is_oneof(const ProtobufCFieldDescriptor *f)
{
	return (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0;
}

#endif
