/* pbjson_lex: the JSON tokens of pbjson's decoder (pbjson_impl.h):
 * blanks, punctuation, strings with escapes, numbers and integers in the
 * JSON grammar, base64/hex bytes, and skipping unknown values. */
#include "pbjson_impl.h"

#include "json.h"
#include "utf8.h"
#include "pbjson.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
hearth_pbjson_fail(hearth_pbjson_dec *d, size_t at, const char *fmt, ...)
{
	char    msg[HEARTH_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (d->field != NULL)
		return hearth_err_set(d->err, HEARTH_EINVAL,
		    "json: offset %zu: field \"%s\": %s", at, d->field, msg);
	return hearth_err_set(
	    d->err, HEARTH_EINVAL, "json: offset %zu: %s", at, msg);
}

int
hearth_pbjson_nomem(hearth_pbjson_dec *d)
{
	return hearth_err_set(d->err, HEARTH_ELIMIT,
	    "json: request memory limit reached while decoding");
}

size_t
hearth_pbjson_off(const hearth_pbjson_dec *d)
{
	return (size_t) (d->p - d->start);
}

void
hearth_pbjson_ws(hearth_pbjson_dec *d)
{
	while (d->p < d->end
	    && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n'
	        || *d->p == '\r'))
		d->p++;
}

/* Consume c (after blanks) or fail naming what was expected. */
int
hearth_pbjson_expect(hearth_pbjson_dec *d, char c, const char *what)
{
	hearth_pbjson_ws(d);
	if (d->p < d->end && *d->p == c) {
		d->p++;
		return 0;
	}
	if (d->p >= d->end)
		return hearth_pbjson_fail(d, hearth_pbjson_off(d),
		    "unexpected end of input, expected %s", what);
	return hearth_pbjson_fail(d, hearth_pbjson_off(d),
	    "expected %s, found '%c'", what,
	    isprint((unsigned char) *d->p) ? *d->p : '?');
}

int
hearth_pbjson_literal(hearth_pbjson_dec *d, const char *lit)
{
	size_t n = strlen(lit);
	if ((size_t) (d->end - d->p) >= n && memcmp(d->p, lit, n) == 0) {
		d->p += n;
		return 1;
	}
	return 0;
}

/*
 * A JSON string at d->p (which is '"'), decoded into arena memory
 * (NUL-terminated). Escapes never make the text longer, so the raw length
 * bounds the output. Lone surrogates become U+FFFD, as Go's decoder does.
 */
int
hearth_pbjson_string(hearth_pbjson_dec *d, hearth_pbjson_tok *t)
{
	t->at           = hearth_pbjson_off(d);
	const char *q   = d->p + 1;
	const char *raw = q;
	int         esc = 0;
	while (q < d->end && *q != '"') {
		if ((unsigned char) *q < 0x20)
			return hearth_pbjson_fail(d, (size_t) (q - d->start),
			    "control character 0x%02x in a string",
			    (unsigned) (unsigned char) *q);
		if (*q == '\\') {
			esc = 1;
			q++;
		}
		q++;
	}
	if (q >= d->end)
		return hearth_pbjson_fail(d, t->at, "unterminated string");
	size_t rawlen = (size_t) (q - raw);
	d->p          = q + 1;
	if (!esc) {
		if (!hearth_utf8_valid(raw, rawlen))
			return hearth_pbjson_fail(
			    d, t->at, "invalid UTF-8 in a string");
		t->s   = raw;
		t->len = rawlen;
		return 0;
	}
	char *o = hearth_arena_alloc(d->a, rawlen + 1);
	if (o == NULL)
		return hearth_pbjson_nomem(d);
	size_t n, bad;
	switch (hearth_json_unescape(raw, rawlen, 0, o, &n, &bad)) {
	case HEARTH_JSON_STR_OK:
		break;
	case HEARTH_JSON_STR_UNICODE:
		return hearth_pbjson_fail(d, (size_t) (raw + bad + 1 - d->start),
		    "invalid \\u escape");
	default: /* the scan above let no control character through */
		return hearth_pbjson_fail(d, (size_t) (raw + bad - d->start),
		    "invalid escape \\%c",
		    isprint((unsigned char) raw[bad]) ? raw[bad] : '?');
	}
	if (!hearth_utf8_valid(o, n))
		return hearth_pbjson_fail(
		    d, t->at, "invalid UTF-8 in a string");
	t->s   = o;
	t->len = n;
	return 0;
}

/* The JSON number grammar at s[0..len): -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
 * Returns the length of the number, 0 when there is none. *plain is 1
 * when it has neither fraction nor exponent. */
size_t
hearth_pbjson_number_len(const char *s, size_t len, int *plain)
{
	size_t i = 0;
	*plain   = 1;
	if (i < len && s[i] == '-')
		i++;
	if (i >= len || !isdigit((unsigned char) s[i]))
		return 0;
	if (s[i] == '0')
		i++;
	else
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
	if (i < len && s[i] == '.') {
		*plain = 0;
		i++;
		if (i >= len || !isdigit((unsigned char) s[i]))
			return 0;
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
	}
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		*plain = 0;
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || !isdigit((unsigned char) s[i]))
			return 0;
		while (i < len && isdigit((unsigned char) s[i]))
			i++;
	}
	return i;
}

/* strtod of s[0..len) (a valid JSON number). */
int
hearth_pbjson_strtod(
    hearth_pbjson_dec *d, const char *s, size_t len, double *out)
{
	char  small[64];
	char *buf = small;
	if (len >= sizeof(small)
	    && (buf = hearth_arena_alloc(d->a, len + 1)) == NULL)
		return hearth_pbjson_nomem(d);
	memcpy(buf, s, len);
	buf[len] = '\0';
	*out     = strtod(buf, NULL);
	return 0;
}

int
hearth_pbjson_parse_int(
    hearth_pbjson_dec *d, const char *s, size_t len, hearth_pbjson_int *r)
{
	int    plain;
	size_t n = hearth_pbjson_number_len(s, len, &plain);
	if (n == 0 || n != len)
		return -1;
	if (plain) {
		int      neg = s[0] == '-';
		uint64_t v   = 0;
		for (size_t i = neg ? 1 : 0; i < len; i++) {
			unsigned dg = (unsigned) (s[i] - '0');
			if (v > (UINT64_MAX - dg) / 10)
				return -1;
			v = v * 10 + dg;
		}
		if (r->is_unsigned) {
			if (neg && v != 0)
				return -1;
			if (v > r->umax)
				return -1;
			r->u = v;
			return 0;
		}
		if (neg) {
			if (v > (uint64_t) INT64_MAX + 1)
				return -1;
			r->i = v == (uint64_t) INT64_MAX + 1 ? INT64_MIN
			                                     : -(int64_t) v;
		} else {
			if (v > (uint64_t) INT64_MAX)
				return -1;
			r->i = (int64_t) v;
		}
		return r->i < r->min || r->i > r->max ? -1 : 0;
	}
	double v = 0; /* set by strtod on success; gcc -O3 cannot see it */
	if (hearth_pbjson_strtod(d, s, len, &v) != 0)
		return -2;
	if (!isfinite(v) || floor(v) != v)
		return -1;
	if (r->is_unsigned) {
		if (v < 0 || v >= 18446744073709551616.0
		    || (uint64_t) v > r->umax)
			return -1;
		r->u = (uint64_t) v;
		return 0;
	}
	if (v < -9223372036854775808.0 || v >= 9223372036854775808.0)
		return -1;
	r->i = (int64_t) v;
	return r->i < r->min || r->i > r->max ? -1 : 0;
}

/* A number token (no leading blanks). */
int
hearth_pbjson_number_tok(hearth_pbjson_dec *d, hearth_pbjson_tok *t)
{
	int plain;
	t->at = hearth_pbjson_off(d);
	t->s  = d->p;
	t->len
	    = hearth_pbjson_number_len(d->p, (size_t) (d->end - d->p), &plain);
	if (t->len == 0)
		return hearth_pbjson_fail(d, t->at, "invalid number");
	d->p += t->len;
	return 0;
}

static int
pbjson_lex_skip_container(hearth_pbjson_dec *d, char open)
{
	char close = open == '{' ? '}' : ']';
	if (++d->depth > HEARTH_PBJSON_MAX_DEPTH)
		return hearth_pbjson_fail(d, hearth_pbjson_off(d),
		    "nesting deeper than %d levels", HEARTH_PBJSON_MAX_DEPTH);
	d->p++;
	hearth_pbjson_ws(d);
	if (d->p < d->end && *d->p == close) {
		d->p++;
		d->depth--;
		return 0;
	}
	for (;;) {
		if (open == '{') {
			hearth_pbjson_tok k;
			hearth_pbjson_ws(d);
			if (d->p >= d->end || *d->p != '"')
				return hearth_pbjson_expect(
				    d, '"', "a key string");
			if (hearth_pbjson_string(d, &k) != 0
			    || hearth_pbjson_expect(d, ':', "':'") != 0)
				return d->err->code;
		}
		if (hearth_pbjson_skip(d) != 0)
			return d->err->code;
		hearth_pbjson_ws(d);
		if (d->p < d->end && *d->p == ',') {
			d->p++;
			continue;
		}
		if (hearth_pbjson_expect(
		        d, close, open == '{' ? "',' or '}'" : "',' or ']'")
		    != 0)
			return d->err->code;
		d->depth--;
		return 0;
	}
}

/* Skip any value (an unknown field's). */
int
hearth_pbjson_skip(hearth_pbjson_dec *d)
{
	hearth_pbjson_tok t;
	hearth_pbjson_ws(d);
	if (d->p >= d->end)
		return hearth_pbjson_fail(d, hearth_pbjson_off(d),
		    "unexpected end of input, expected a value");
	switch (*d->p) {
	case '{':
	case '[':
		return pbjson_lex_skip_container(d, *d->p);
	case '"':
		return hearth_pbjson_string(d, &t);
	case 't':
	case 'f':
	case 'n':
		if (hearth_pbjson_literal(d, "true")
		    || hearth_pbjson_literal(d, "false")
		    || hearth_pbjson_literal(d, "null"))
			return 0;
		break;
	default:
		if (*d->p == '-' || isdigit((unsigned char) *d->p))
			return hearth_pbjson_number_tok(d, &t);
	}
	return hearth_pbjson_fail(d, hearth_pbjson_off(d), "invalid value");
}

static int
pbjson_lex_b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/* bytes: base64 (standard or URL-safe, padding optional) or, with the
 * bytes_hex option, an even run of hex digits. */
int
hearth_pbjson_bytes(
    hearth_pbjson_dec *d, const hearth_pbjson_tok *t, ProtobufCBinaryData *out)
{
	const char *s   = t->s;
	size_t      len = t->len;
	int         hex = d->bytes_hex && len % 2 == 0;
	for (size_t i = 0; hex && i < len; i++)
		hex = hearth_hex_digit(s[i]) >= 0;
	uint8_t *o = hearth_arena_alloc(d->a, len / 4 * 3 + 3 + len / 2);
	if (o == NULL)
		return hearth_pbjson_nomem(d);
	size_t n = 0;
	if (hex) {
		for (size_t i = 0; i < len; i += 2)
			o[n++] = (uint8_t) (hearth_hex_digit(s[i]) << 4
			    | hearth_hex_digit(s[i + 1]));
		out->data = o;
		out->len  = n;
		return 0;
	}
	while (len > 0 && s[len - 1] == '=')
		len--;
	if (t->len - len > 2 || len % 4 == 1)
		return hearth_pbjson_fail(d, t->at, "invalid base64");
	uint32_t acc  = 0;
	int      bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = pbjson_lex_b64_val(s[i]);
		if (v < 0)
			return hearth_pbjson_fail(
			    d, t->at, "invalid base64 character");
		acc = acc << 6 | (uint32_t) v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[n++] = (uint8_t) (acc >> bits);
		}
	}
	out->data = o;
	out->len  = n;
	return 0;
}
