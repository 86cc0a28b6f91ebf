/* pbjson_encode: protobuf-c message -> proto3 JSON (see pbjson.h). */
#include "pbjson.h"

#include "pbjson_impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void pbjson_put_message(hearth_buf *b, const ProtobufCMessage *m);

/*
 * Shortest decimal that reads back as v (as float when is_float), written
 * the way Go's protojson does: plain notation, exponent notation below
 * 1e-6 and from 1e21 with at least two exponent digits, except that a
 * negative exponent's leading zero is dropped (1e-07 -> 1e-7).
 */
static void
pbjson_put_float(hearth_buf *b, double v, int is_float)
{
	if (isnan(v)) {
		hearth_buf_puts(b, "\"NaN\"");
		return;
	}
	if (isinf(v)) {
		hearth_buf_puts(b, v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
		return;
	}
	char sci[48];
	for (int prec = 0; prec < 17; prec++) {
		snprintf(sci, sizeof(sci), "%.*e", prec, v);
		double back = strtod(sci, NULL);
		if (is_float ? (float) back == (float) v : back == v)
			break;
	}
	/* sci is [-]d[.ddd]e(+|-)XX: collect the digits and the exponent. */
	const char *s   = sci;
	int         neg = *s == '-';
	if (neg)
		s++;
	char   digits[24];
	size_t nd = 0;
	for (; *s != 'e'; s++)
		if (*s != '.' && nd < sizeof(digits) - 1)
			digits[nd++] = *s;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	int    exp = atoi(s + 1);
	double av  = fabs(v);
	if (neg)
		hearth_buf_putc(b, '-');
	int sci_form = av != 0
	    && (is_float ? ((float) av < 1e-6f || (float) av >= 1e21f)
	                 : (av < 1e-6 || av >= 1e21));
	if (sci_form) {
		hearth_buf_putc(b, digits[0]);
		if (nd > 1) {
			hearth_buf_putc(b, '.');
			hearth_buf_append(b, digits + 1, nd - 1);
		}
		if (exp < 0)
			hearth_buf_printf(b, "e-%d", -exp);
		else
			hearth_buf_printf(b, "e+%02d", exp);
		return;
	}
	if (digits[0] == '0' && nd == 1) {
		hearth_buf_putc(b, '0');
		return;
	}
	if (exp < 0) {
		hearth_buf_puts(b, "0.");
		for (int i = 0; i < -exp - 1; i++)
			hearth_buf_putc(b, '0');
		hearth_buf_append(b, digits, nd);
		return;
	}
	size_t intlen = (size_t) exp + 1;
	if (nd <= intlen) {
		hearth_buf_append(b, digits, nd);
		for (size_t i = nd; i < intlen; i++)
			hearth_buf_putc(b, '0');
		return;
	}
	hearth_buf_append(b, digits, intlen);
	hearth_buf_putc(b, '.');
	hearth_buf_append(b, digits + intlen, nd - intlen);
}

static void
pbjson_put_base64(hearth_buf *b, const uint8_t *p, size_t n)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
	                          "rstuvwxyz0123456789+/";
	hearth_buf_putc(b, '"');
	if (hearth_buf_reserve(b, (n + 2) / 3 * 4 + 2) != 0)
		return;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t) p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t) p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		char q[4] = { tab[v >> 18], tab[(v >> 12) & 63],
			i + 1 < n ? tab[(v >> 6) & 63] : '=',
			i + 2 < n ? tab[v & 63] : '=' };
		hearth_buf_append(b, q, 4);
	}
	hearth_buf_putc(b, '"');
}

/* Write the value at slot (one element of field f). */
static void
pbjson_put_value(
    hearth_buf *b, const ProtobufCFieldDescriptor *f, const void *slot)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		hearth_buf_printf(b, "%" PRId32, *(const int32_t *) slot);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		hearth_buf_printf(b, "%" PRIu32, *(const uint32_t *) slot);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		hearth_buf_putc(b, '"');
		hearth_buf_put_i64(b, *(const int64_t *) slot);
		hearth_buf_putc(b, '"');
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		hearth_buf_putc(b, '"');
		hearth_buf_put_u64(b, *(const uint64_t *) slot);
		hearth_buf_putc(b, '"');
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		pbjson_put_float(b, *(const float *) slot, 1);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		pbjson_put_float(b, *(const double *) slot, 0);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		hearth_buf_puts(
		    b, *(const protobuf_c_boolean *) slot ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		int32_t                   v = *(const int32_t *) slot;
		const ProtobufCEnumValue *ev
		    = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		if (ev != NULL) {
			hearth_buf_putc(b, '"');
			hearth_buf_puts(b, ev->name);
			hearth_buf_putc(b, '"');
		} else {
			hearth_buf_printf(b, "%" PRId32, v);
		}
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) slot;
		if (s == NULL)
			s = "";
		hearth_buf_put_json_str(b, s, strlen(s));
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *bd = slot;
		pbjson_put_base64(b, bd->data, bd->len);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *m = *(ProtobufCMessage *const *) slot;
		if (m == NULL)
			hearth_buf_puts(b, "{}");
		else
			pbjson_put_message(b, m);
		break;
	}
	}
}

/* 1 when a proto3 singular value is its type's default (so protojson
 * leaves it out). */
static int
pbjson_is_default(const ProtobufCFieldDescriptor *f, const void *slot)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_FLOAT: {
		float v = *(const float *) slot;
		return v == 0 && !signbit(v);
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		double v = *(const double *) slot;
		return v == 0 && !signbit(v);
	}
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *) slot == 0;
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *) slot;
		return s == NULL || s[0] == '\0';
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *) slot)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *) slot == NULL;
	default:
		break;
	}
	if (pbjson_value_size(f) == 4)
		return *(const uint32_t *) slot == 0;
	return *(const uint64_t *) slot == 0;
}

static void
pbjson_put_key(hearth_buf *b, const ProtobufCFieldDescriptor *f, int *first)
{
	char   name[128];
	size_t n = hearth_pbjson_name(f->name, name, sizeof(name));
	if (!*first)
		hearth_buf_putc(b, ',');
	*first = 0;
	hearth_buf_put_json_str(
	    b, name, n < sizeof(name) ? n : sizeof(name) - 1);
	hearth_buf_putc(b, ':');
}

static void
pbjson_put_message(hearth_buf *b, const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *md    = m->descriptor;
	int                               first = 1;
	hearth_buf_putc(b, '{');
	for (unsigned i = 0; i < md->n_fields && !hearth_buf_failed(b); i++) {
		const ProtobufCFieldDescriptor *f    = &md->fields[i];
		const void                     *slot = pbjson_field_ptr(m, f);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *) pbjson_quant_ptr(m, f);
			if (n == 0)
				continue;
			const char *arr = *(char *const *) slot;
			size_t      esz = pbjson_value_size(f);
			pbjson_put_key(b, f, &first);
			hearth_buf_putc(b, '[');
			for (size_t k = 0; k < n; k++) {
				if (k > 0)
					hearth_buf_putc(b, ',');
				pbjson_put_value(b, f, arr + k * esz);
			}
			hearth_buf_putc(b, ']');
			continue;
		}
		if (pbjson_is_oneof(f)) {
			if (*(const uint32_t *) pbjson_quant_ptr(m, f)
			    != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL
		    && f->type != PROTOBUF_C_TYPE_MESSAGE
		    && f->type != PROTOBUF_C_TYPE_STRING) {
			if (!*(const protobuf_c_boolean *) pbjson_quant_ptr(
			        m, f))
				continue;
		} else if (pbjson_is_default(f, slot)) {
			continue;
		}
		pbjson_put_key(b, f, &first);
		pbjson_put_value(b, f, slot);
	}
	hearth_buf_putc(b, '}');
}

int
hearth_pbjson_encode(const ProtobufCMessage *m, hearth_buf *out)
{
	pbjson_put_message(out, m);
	return hearth_buf_failed(out) ? HEARTH_ENOMEM : 0;
}
