#include "cli_json.h"

#include "json.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct json_parser {
	hearth_arena *a;
	const char   *s;
	size_t        n;
	size_t        pos;
	hearth_err   *err;
} json_parser;

static int json_value(json_parser *p, hearth_cli_json *out, int depth);

static int
json_fail(json_parser *p, const char *what)
{
	if (p->pos >= p->n)
		return hearth_err_set(p->err, HEARTH_EINVAL,
		    "JSON: offset %zu: unexpected end of input, expected %s",
		    p->pos, what);
	return hearth_err_set(p->err, HEARTH_EINVAL,
	    "JSON: offset %zu: expected %s", p->pos, what);
}

static int
json_nomem(json_parser *p)
{
	return hearth_err_set(p->err, HEARTH_ELIMIT,
	    "JSON: out of memory at offset %zu (answer too large)", p->pos);
}

static void
json_ws(json_parser *p)
{
	while (p->pos < p->n
	    && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t'
	        || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
		p->pos++;
}

static int
json_literal(json_parser *p, const char *word)
{
	size_t len = strlen(word);
	if (p->n - p->pos < len || memcmp(p->s + p->pos, word, len) != 0)
		return json_fail(p, "a value");
	p->pos += len;
	return 0;
}

/* A string starting at the opening quote. Escapes never make the text
 * longer (\uXXXX is 6 bytes for at most 4 of UTF-8, a surrogate pair 12
 * for 4), so the raw length bounds the result. */
static int
json_string(json_parser *p, const char **out, size_t *out_len)
{
	p->pos++; /* the '"' */
	size_t end = p->pos;
	while (end < p->n && p->s[end] != '"') {
		if (p->s[end] == '\\')
			end++;
		end++;
	}
	if (end >= p->n) {
		p->pos = p->n;
		return json_fail(p, "'\"' closing the string");
	}
	char *dst = hearth_arena_alloc(p->a, end - p->pos + 1);
	if (dst == NULL)
		return json_nomem(p);
	size_t len, bad;
	switch (hearth_json_unescape(
	    p->s + p->pos, end - p->pos, 0, dst, &len, &bad)) {
	case HEARTH_JSON_STR_OK:
		break;
	case HEARTH_JSON_STR_CONTROL:
		p->pos += bad;
		return json_fail(p, "no raw control character in a string");
	case HEARTH_JSON_STR_UNICODE:
		p->pos += bad + 1; /* the digits */
		return json_fail(p, "4 hex digits after \\u");
	default:
		p->pos += bad;
		return json_fail(
		    p, "one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u");
	}
	p->pos   = end + 1;
	*out     = dst;
	*out_len = len;
	return 0;
}

static int
json_digits(json_parser *p)
{
	size_t start = p->pos;
	while (p->pos < p->n && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
		p->pos++;
	return p->pos > start;
}

static int
json_number(json_parser *p, hearth_cli_json *out)
{
	size_t start  = p->pos;
	int    is_int = 1;
	if (p->s[p->pos] == '-')
		p->pos++;
	if (p->pos < p->n && p->s[p->pos] == '0')
		p->pos++;
	else if (!json_digits(p))
		return json_fail(p, "a digit");
	if (p->pos < p->n && p->s[p->pos] == '.') {
		p->pos++;
		is_int = 0;
		if (!json_digits(p))
			return json_fail(p, "a digit after '.'");
	}
	if (p->pos < p->n && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
		p->pos++;
		is_int = 0;
		if (p->pos < p->n
		    && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
			p->pos++;
		if (!json_digits(p))
			return json_fail(p, "a digit in the exponent");
	}
	char   tmp[64];
	size_t len = p->pos - start;
	char  *num
	    = len < sizeof(tmp) ? tmp : hearth_arena_alloc(p->a, len + 1);
	if (num == NULL)
		return json_nomem(p);
	memcpy(num, p->s + start, len);
	num[len]  = '\0';
	out->type = HEARTH_CLI_JSON_NUMBER;
	out->d    = strtod(num, NULL);
	if (is_int) {
		errno       = 0;
		long long v = strtoll(num, NULL, 10);
		if (errno == 0) {
			out->is_int = 1;
			out->i      = (int64_t) v;
		}
	}
	return 0;
}

/* Members of an array or object, collected in a growing arena array. */
typedef struct json_list {
	hearth_cli_json *items;
	const char     **keys;
	size_t          *key_lens;
	size_t           n, cap;
} json_list;

static int
json_list_push(json_parser *p, json_list *l, int with_keys)
{
	if (l->n < l->cap)
		return 0;
	size_t ncap = l->cap ? l->cap * 2 : 8;
	l->items    = hearth_arena_realloc(p->a, l->items,
	       l->cap * sizeof(*l->items), ncap * sizeof(*l->items));
	if (l->items == NULL)
		return json_nomem(p);
	if (with_keys) {
		l->keys     = hearth_arena_realloc(p->a, l->keys,
		        l->cap * sizeof(*l->keys), ncap * sizeof(*l->keys));
		l->key_lens = hearth_arena_realloc(p->a, l->key_lens,
		    l->cap * sizeof(*l->key_lens),
		    ncap * sizeof(*l->key_lens));
		if (l->keys == NULL || l->key_lens == NULL)
			return json_nomem(p);
	}
	l->cap = ncap;
	return 0;
}

static int
json_container(json_parser *p, hearth_cli_json *out, int depth, int object)
{
	char      close = object ? '}' : ']';
	json_list l     = { 0 };
	p->pos++; /* '[' or '{' */
	json_ws(p);
	if (p->pos < p->n && p->s[p->pos] == close) {
		p->pos++;
	} else {
		for (;;) {
			json_ws(p);
			if (json_list_push(p, &l, object) != 0)
				return p->err->code;
			if (object) {
				if (p->pos >= p->n || p->s[p->pos] != '"')
					return json_fail(p,
					    "'\"' starting "
					    "an object key");
				if (json_string(
				        p, &l.keys[l.n], &l.key_lens[l.n])
				    != 0)
					return p->err->code;
				json_ws(p);
				if (p->pos >= p->n || p->s[p->pos] != ':')
					return json_fail(p,
					    "':' after an "
					    "object key");
				p->pos++;
			}
			memset(&l.items[l.n], 0, sizeof(l.items[l.n]));
			if (json_value(p, &l.items[l.n], depth + 1) != 0)
				return p->err->code;
			l.n++;
			json_ws(p);
			if (p->pos < p->n && p->s[p->pos] == ',') {
				p->pos++;
				continue;
			}
			if (p->pos < p->n && p->s[p->pos] == close) {
				p->pos++;
				break;
			}
			return json_fail(
			    p, object ? "',' or '}'" : "',' or ']'");
		}
	}
	out->type  = object ? HEARTH_CLI_JSON_OBJECT : HEARTH_CLI_JSON_ARRAY;
	out->n     = l.n;
	out->items = l.items;
	out->keys  = l.keys;
	out->key_lens = l.key_lens;
	return 0;
}

static int
json_value(json_parser *p, hearth_cli_json *out, int depth)
{
	if (depth > HEARTH_CLI_JSON_MAX_DEPTH)
		return hearth_err_set(p->err, HEARTH_ELIMIT,
		    "JSON: offset %zu: nesting deeper than %d levels", p->pos,
		    HEARTH_CLI_JSON_MAX_DEPTH);
	json_ws(p);
	if (p->pos >= p->n)
		return json_fail(p, "a value");
	switch (p->s[p->pos]) {
	case '{':
		return json_container(p, out, depth, 1);
	case '[':
		return json_container(p, out, depth, 0);
	case '"':
		out->type = HEARTH_CLI_JSON_STRING;
		return json_string(p, &out->s, &out->len);
	case 't':
		out->type    = HEARTH_CLI_JSON_BOOL;
		out->boolean = 1;
		return json_literal(p, "true");
	case 'f':
		out->type = HEARTH_CLI_JSON_BOOL;
		return json_literal(p, "false");
	case 'n':
		out->type = HEARTH_CLI_JSON_NULL;
		return json_literal(p, "null");
	default:
		if (p->s[p->pos] == '-'
		    || (p->s[p->pos] >= '0' && p->s[p->pos] <= '9'))
			return json_number(p, out);
		return json_fail(p, "a value");
	}
}

int
hearth_cli_json_parse(hearth_arena *a, const char *s, size_t n,
    hearth_cli_json **out, hearth_err *err)
{
	hearth_err       scratch;
	json_parser      p = { a, s, n, 0, err != NULL ? err : &scratch };
	hearth_cli_json *v = hearth_arena_calloc(a, 1, sizeof(*v));
	*out               = NULL;
	if (v == NULL)
		return json_nomem(&p);
	if (json_value(&p, v, 0) != 0)
		return p.err->code;
	json_ws(&p);
	if (p.pos != n)
		return hearth_err_set(p.err, HEARTH_EINVAL,
		    "JSON: offset %zu: unexpected text after the value",
		    p.pos);
	*out = v;
	return 0;
}

const hearth_cli_json *
hearth_cli_json_get(const hearth_cli_json *v, const char *key)
{
	if (v == NULL || v->type != HEARTH_CLI_JSON_OBJECT)
		return NULL;
	size_t len = strlen(key);
	for (size_t i = 0; i < v->n; i++)
		if (v->key_lens[i] == len && memcmp(v->keys[i], key, len) == 0)
			return &v->items[i];
	return NULL;
}
