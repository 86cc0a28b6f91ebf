/* pbjson: proto3 JSON -> protobuf-c message (see pbjson.h). A recursive
 * descent parser that fills the message while it reads, so no JSON tree
 * is ever built; unknown keys are skipped with hearth_pbjson_skip. */
#include "pbjson.h"

#include "pbjson_impl.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int pbjson_message(hearth_pbjson_dec *d,
    const ProtobufCMessageDescriptor *md, ProtobufCMessage **out);

static int
pbjson_enum(hearth_pbjson_dec *d, const ProtobufCFieldDescriptor *f,
    const hearth_pbjson_tok *t, int is_string, int *val, int *known)
{
	const ProtobufCEnumDescriptor *ed = f->descriptor;
	*known                            = 1;
	if (is_string) {
		for (unsigned i = 0; i < ed->n_values; i++)
			if (strlen(ed->values[i].name) == t->len
			    && memcmp(ed->values[i].name, t->s, t->len) == 0) {
				*val = ed->values[i].value;
				return 0;
			}
		/* DiscardUnknown: an unknown name leaves the field unset. */
		*known = 0;
		return 0;
	}
	hearth_pbjson_int r = { .min = INT32_MIN, .max = INT32_MAX };
	if (hearth_pbjson_parse_int(d, t->s, t->len, &r) != 0)
		return hearth_pbjson_fail(d, t->at,
		    "\"%.*s\" is not an enum value",
		    (int) (t->len > 40 ? 40 : t->len), t->s);
	*val = (int) r.i;
	return 0;
}

/* Read one scalar or message value of field f into dst (a slot of
 * pbjson_value_size(f) bytes). *set is 0 when the value was null or an
 * unknown enum name (nothing to store). */
static int
pbjson_value(hearth_pbjson_dec *d, const ProtobufCFieldDescriptor *f,
    void *dst, int *set)
{
	hearth_pbjson_tok t;
	hearth_pbjson_ws(d);
	*set = 1;
	if (d->p >= d->end)
		return hearth_pbjson_fail(d, hearth_pbjson_off(d),
		    "unexpected end of input, expected a value");
	if (hearth_pbjson_literal(d, "null")) {
		*set = 0;
		return 0;
	}
	if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		if (*d->p != '{')
			return hearth_pbjson_fail(
			    d, hearth_pbjson_off(d), "expected an object");
		return pbjson_message(d, f->descriptor, dst);
	}
	if (f->type == PROTOBUF_C_TYPE_BOOL) {
		if (hearth_pbjson_literal(d, "true"))
			*(protobuf_c_boolean *) dst = 1;
		else if (hearth_pbjson_literal(d, "false"))
			*(protobuf_c_boolean *) dst = 0;
		else
			return hearth_pbjson_fail(
			    d, hearth_pbjson_off(d), "expected true or false");
		return 0;
	}
	int is_string = *d->p == '"';
	if (is_string) {
		if (hearth_pbjson_string(d, &t) != 0)
			return d->err->code;
	} else if (*d->p == '-' || isdigit((unsigned char) *d->p)) {
		if (hearth_pbjson_number_tok(d, &t) != 0)
			return d->err->code;
	} else {
		return hearth_pbjson_fail(
		    d, hearth_pbjson_off(d), "invalid value");
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		if (!is_string)
			return hearth_pbjson_fail(
			    d, t.at, "expected a string");
		if (memchr(t.s, '\0', t.len) != NULL)
			return hearth_pbjson_fail(
			    d, t.at, "strings may not contain U+0000");
		char *s = (char *) t.s;
		if (t.s[t.len] != '\0'
		    && (s = hearth_arena_strndup(d->a, t.s, t.len)) == NULL)
			return hearth_pbjson_nomem(d);
		*(char **) dst = s;
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES:
		if (!is_string)
			return hearth_pbjson_fail(
			    d, t.at, "expected a base64 string");
		return hearth_pbjson_bytes(d, &t, dst);
	case PROTOBUF_C_TYPE_ENUM: {
		int v = 0, known;
		if (pbjson_enum(d, f, &t, is_string, &v, &known) != 0)
			return d->err->code;
		*set = known;
		if (known)
			*(int32_t *) dst = v;
		return 0;
	}
	case PROTOBUF_C_TYPE_FLOAT:
	case PROTOBUF_C_TYPE_DOUBLE: {
		double v;
		int    plain;
		if (is_string && t.len == 3 && memcmp(t.s, "NaN", 3) == 0)
			v = NAN;
		else if (is_string && t.len == 8
		    && memcmp(t.s, "Infinity", 8) == 0)
			v = INFINITY;
		else if (is_string && t.len == 9
		    && memcmp(t.s, "-Infinity", 9) == 0)
			v = -INFINITY;
		else if (hearth_pbjson_number_len(t.s, t.len, &plain) != t.len
		    || t.len == 0)
			return hearth_pbjson_fail(d, t.at,
			    "\"%.*s\" is not a number",
			    (int) (t.len > 40 ? 40 : t.len), t.s);
		else if (hearth_pbjson_strtod(d, t.s, t.len, &v) != 0)
			return d->err->code;
		else if (!isfinite(v)
		    || (f->type == PROTOBUF_C_TYPE_FLOAT && fabs(v) > FLT_MAX))
			return hearth_pbjson_fail(
			    d, t.at, "number out of range");
		if (f->type == PROTOBUF_C_TYPE_FLOAT)
			*(float *) dst = (float) v;
		else
			*(double *) dst = v;
		return 0;
	}
	default:
		break;
	}
	hearth_pbjson_int r = { 0 };
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		r.min = INT32_MIN;
		r.max = INT32_MAX;
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		r.is_unsigned = 1;
		r.umax        = UINT32_MAX;
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		r.is_unsigned = 1;
		r.umax        = UINT64_MAX;
		break;
	default:
		r.min = INT64_MIN;
		r.max = INT64_MAX;
	}
	int rc = hearth_pbjson_parse_int(d, t.s, t.len, &r);
	if (rc == -2)
		return d->err->code;
	if (rc != 0)
		return hearth_pbjson_fail(d, t.at,
		    "\"%.*s\" is not an integer in the field's range",
		    (int) (t.len > 40 ? 40 : t.len), t.s);
	if (pbjson_value_size(f) == 4) {
		if (r.is_unsigned)
			*(uint32_t *) dst = (uint32_t) r.u;
		else
			*(int32_t *) dst = (int32_t) r.i;
	} else if (r.is_unsigned) {
		*(uint64_t *) dst = r.u;
	} else {
		*(int64_t *) dst = r.i;
	}
	return 0;
}

/* A JSON array for a repeated field: the elements are read into an arena
 * array that doubles as it fills. */
static int
pbjson_repeated(
    hearth_pbjson_dec *d, const ProtobufCFieldDescriptor *f, void *msg)
{
	size_t  esz    = pbjson_value_size(f);
	size_t *countp = pbjson_quant_ptr(msg, f);
	void  **arrp   = pbjson_field_ptr(msg, f);
	hearth_pbjson_ws(d);
	if (hearth_pbjson_literal(d, "null"))
		return 0;
	if (d->p >= d->end || *d->p != '[')
		return hearth_pbjson_fail(
		    d, hearth_pbjson_off(d), "expected an array");
	if (++d->depth > HEARTH_PBJSON_MAX_DEPTH)
		return hearth_pbjson_fail(d, hearth_pbjson_off(d),
		    "nesting deeper than %d levels", HEARTH_PBJSON_MAX_DEPTH);
	d->p++;
	char  *arr = NULL;
	size_t n = 0, cap = 0;
	hearth_pbjson_ws(d);
	if (d->p < d->end && *d->p == ']') {
		d->p++;
	} else {
		for (;;) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				char  *na   = hearth_arena_realloc(
				       d->a, arr, cap * esz, ncap * esz);
				if (na == NULL)
					return hearth_pbjson_nomem(d);
				arr = na;
				cap = ncap;
			}
			int set;
			memset(arr + n * esz, 0, esz);
			if (pbjson_value(d, f, arr + n * esz, &set) != 0)
				return d->err->code;
			/* null elements are refused by protojson, except
			 * that an unknown enum name is dropped. */
			if (!set && f->type != PROTOBUF_C_TYPE_ENUM)
				return hearth_pbjson_fail(d,
				    hearth_pbjson_off(d),
				    "null is not allowed in a list");
			if (set)
				n++;
			hearth_pbjson_ws(d);
			if (d->p < d->end && *d->p == ',') {
				d->p++;
				continue;
			}
			if (hearth_pbjson_expect(d, ']', "',' or ']'") != 0)
				return d->err->code;
			break;
		}
	}
	d->depth--;
	*countp = n;
	*arrp   = n > 0 ? arr : NULL;
	return 0;
}

/* Does key[0..len) name field f, by proto name or JSON name? */
static int
pbjson_key_is(const ProtobufCFieldDescriptor *f, const char *key, size_t len)
{
	const char *n = f->name;
	if (strlen(n) == len && memcmp(n, key, len) == 0)
		return 1;
	size_t i  = 0;
	int    up = 0;
	for (; *n != '\0'; n++) {
		if (*n == '_') {
			up = 1;
			continue;
		}
		char c = up ? (char) toupper((unsigned char) *n) : *n;
		up     = 0;
		if (i >= len || key[i] != c)
			return 0;
		i++;
	}
	return i == len;
}

static int
pbjson_message(hearth_pbjson_dec *d, const ProtobufCMessageDescriptor *md,
    ProtobufCMessage **out)
{
	if (++d->depth > HEARTH_PBJSON_MAX_DEPTH)
		return hearth_pbjson_fail(d, hearth_pbjson_off(d),
		    "nesting deeper than %d levels", HEARTH_PBJSON_MAX_DEPTH);
	ProtobufCMessage *m = hearth_arena_alloc(d->a, md->sizeof_message);
	uint8_t *seen = hearth_arena_calloc(d->a, md->n_fields / 8 + 1, 1);
	if (m == NULL || seen == NULL)
		return hearth_pbjson_nomem(d);
	md->message_init(m);
	const char *outer = d->field;
	if (hearth_pbjson_expect(d, '{', "'{'") != 0)
		return d->err->code;
	hearth_pbjson_ws(d);
	if (d->p < d->end && *d->p == '}') {
		d->p++;
		goto done;
	}
	for (;;) {
		hearth_pbjson_tok k;
		hearth_pbjson_ws(d);
		if (d->p >= d->end || *d->p != '"')
			return hearth_pbjson_expect(d, '"', "a key string");
		if (hearth_pbjson_string(d, &k) != 0
		    || hearth_pbjson_expect(d, ':', "':'") != 0)
			return d->err->code;
		const ProtobufCFieldDescriptor *f  = NULL;
		unsigned                        fi = 0;
		for (; fi < md->n_fields; fi++)
			if (pbjson_key_is(&md->fields[fi], k.s, k.len)) {
				f = &md->fields[fi];
				break;
			}
		if (f == NULL) {
			if (hearth_pbjson_skip(d) != 0)
				return d->err->code;
		} else {
			d->field = f->name;
			if (seen[fi / 8] & (1u << (fi % 8)))
				return hearth_pbjson_fail(
				    d, k.at, "the field appears twice");
			seen[fi / 8] |= (uint8_t) (1u << (fi % 8));
			if (f->label == PROTOBUF_C_LABEL_REPEATED) {
				if (pbjson_repeated(d, f, m) != 0)
					return d->err->code;
			} else {
				int   set;
				void *slot = pbjson_field_ptr(m, f);
				if (pbjson_value(d, f, slot, &set) != 0)
					return d->err->code;
				uint32_t *q = pbjson_quant_ptr(m, f);
				if (set && pbjson_is_oneof(f)) {
					if (*q != 0 && *q != f->id)
						return hearth_pbjson_fail(d,
						    k.at,
						    "another member of the "
						    "same oneof is already "
						    "set");
					*q = f->id;
				} else if (set
				    && f->label == PROTOBUF_C_LABEL_OPTIONAL
				    && f->type != PROTOBUF_C_TYPE_MESSAGE
				    && f->type != PROTOBUF_C_TYPE_STRING) {
					*(protobuf_c_boolean *) q = 1;
				}
			}
			d->field = outer;
		}
		hearth_pbjson_ws(d);
		if (d->p < d->end && *d->p == ',') {
			d->p++;
			continue;
		}
		if (hearth_pbjson_expect(d, '}', "',' or '}'") != 0)
			return d->err->code;
		break;
	}
done:
	d->depth--;
	*out = m;
	return 0;
}

int
hearth_pbjson_decode(hearth_arena *a, const ProtobufCMessageDescriptor *md,
    const char *json, size_t len, const hearth_pbjson_opts *opts,
    ProtobufCMessage **out, hearth_err *err)
{
	hearth_pbjson_dec d = {
		.start     = json,
		.p         = json,
		.end       = json + len,
		.a         = a,
		.err       = err,
		.bytes_hex = opts != NULL && opts->bytes_hex,
	};
	*out = NULL;
	hearth_err_clear(err);
	hearth_pbjson_ws(&d);
	if (d.p == d.end) {
		/* An empty body is the empty message (pbjson.h). */
		ProtobufCMessage *m
		    = hearth_arena_alloc(a, md->sizeof_message);
		if (m == NULL)
			return hearth_pbjson_nomem(&d);
		md->message_init(m);
		*out = m;
		return 0;
	}
	if (*d.p != '{')
		return hearth_pbjson_fail(&d, hearth_pbjson_off(&d),
		    "the body must be a JSON object");
	ProtobufCMessage *m;
	if (pbjson_message(&d, md, &m) != 0)
		return err->code;
	hearth_pbjson_ws(&d);
	if (d.p != d.end)
		return hearth_pbjson_fail(&d, hearth_pbjson_off(&d),
		    "unexpected data after the object");
	*out = m;
	return 0;
}

size_t
hearth_pbjson_name(const char *field, char *out, size_t outsz)
{
	size_t n  = 0;
	int    up = 0;
	for (; *field != '\0'; field++) {
		if (*field == '_') {
			up = 1;
			continue;
		}
		char c = up ? (char) toupper((unsigned char) *field) : *field;
		up     = 0;
		if (n + 1 < outsz)
			out[n] = c;
		n++;
	}
	if (outsz > 0)
		out[n < outsz ? n : outsz - 1] = '\0';
	return n;
}
