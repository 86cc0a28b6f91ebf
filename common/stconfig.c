/*
 * stconfig: a small recursive-descent JSON reader specialised to the one
 * shape it must read (object of objects) plus a generic skipper for
 * members it does not know. Strings are decoded into the arena in two
 * passes (find the end, then decode into an exactly sized buffer, as a
 * decoded string is never longer than its source).
 */
#include "stconfig.h"
#include "json.h"
#include "utf8.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

typedef struct js {
	hearth_arena *a;
	const char   *s;
	size_t        n, i;
	int           depth;
	hearth_err   *err;
} js;

static int
js_fail(js *j, const char *what)
{
	return hearth_err_set(j->err, HEARTH_EINVAL,
	    "invalid JSON at offset %zu: %s", j->i, what);
}

static int
js_nomem(js *j)
{
	return hearth_err_set(j->err, HEARTH_ELIMIT,
	    "request memory limit reached while reading JSON");
}

static void
js_ws(js *j)
{
	while (j->i < j->n
	    && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n'
	        || j->s[j->i] == '\r'))
		j->i++;
}

/* Next non-blank byte without consuming it; -1 at the end. */
static int
js_peek(js *j)
{
	js_ws(j);
	return j->i < j->n ? (unsigned char) j->s[j->i] : -1;
}

/* A string at j->i (which holds '"'). With out != NULL the decoded,
 * NUL-terminated copy is stored there. */
static int
js_string(js *j, char **out)
{
	size_t start = j->i + 1, k = start;
	while (k < j->n && j->s[k] != '"')
		k += j->s[k] == '\\' ? 2 : 1;
	/* These two report the offset of the opening quote. */
	if (k >= j->n)
		return js_fail(j, "unterminated string");
	if (!hearth_utf8_valid(j->s + start, k - start))
		return js_fail(j, "string is not valid UTF-8");
	char *o = NULL;
	if (out != NULL && (o = hearth_arena_alloc(j->a, k - start + 1)) == NULL)
		return js_nomem(j);
	size_t m, bad;
	switch (hearth_json_unescape(
	    j->s + start, k - start, HEARTH_JSON_NO_NUL, o, &m, &bad)) {
	case HEARTH_JSON_STR_OK:
		break;
	case HEARTH_JSON_STR_CONTROL:
		j->i = start + bad;
		return js_fail(j, "control character in a string (escape it)");
	case HEARTH_JSON_STR_UNICODE:
		j->i = start + bad;
		return js_fail(j, "\\u must be followed by 4 hex digits");
	case HEARTH_JSON_STR_NUL:
		j->i = start + bad;
		return js_fail(j, "\\u0000 is not allowed in a string");
	default:
		j->i = start + bad;
		return js_fail(j, "invalid escape in a string");
	}
	j->i = k + 1;
	if (out != NULL)
		*out = o;
	return 0;
}

static int
js_literal(js *j, const char *lit)
{
	size_t l = strlen(lit);
	if (j->n - j->i < l || memcmp(j->s + j->i, lit, l) != 0)
		return js_fail(j,
		    "invalid literal (expected true, false or "
		    "null)");
	j->i += l;
	return 0;
}

static int
js_digits(js *j)
{
	size_t s = j->i;
	while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
		j->i++;
	return j->i > s ? 0 : js_fail(j, "expected a digit in a number");
}

/* RFC 8259 number grammar; the value itself is never needed. */
static int
js_number(js *j)
{
	int rc;
	if (j->s[j->i] == '-')
		j->i++;
	if (j->i < j->n && j->s[j->i] == '0')
		j->i++;
	else if ((rc = js_digits(j)) != 0)
		return rc;
	if (j->i < j->n && j->s[j->i] == '.') {
		j->i++;
		if ((rc = js_digits(j)) != 0)
			return rc;
	}
	if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
		j->i++;
		if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-'))
			j->i++;
		if ((rc = js_digits(j)) != 0)
			return rc;
	}
	return 0;
}

static int js_skip(js *j);

/* Object or array at j->i: members/elements skipped one by one. */
static int
js_skip_container(js *j, char open)
{
	char close = open == '{' ? '}' : ']';
	int  rc;
	if (++j->depth > HEARTH_STCONFIG_MAX_DEPTH)
		return js_fail(j, "nesting is too deep");
	j->i++;
	if (js_peek(j) == close) {
		j->i++;
		j->depth--;
		return 0;
	}
	for (;;) {
		if (open == '{') {
			if (js_peek(j) != '"')
				return js_fail(j, "expected a string key");
			if ((rc = js_string(j, NULL)) != 0)
				return rc;
			if (js_peek(j) != ':')
				return js_fail(j,
				    "expected ':' after an object "
				    "key");
			j->i++;
		}
		if ((rc = js_skip(j)) != 0)
			return rc;
		int c = js_peek(j);
		j->i++;
		if (c == close)
			break;
		if (c != ',') {
			j->i--;
			return js_fail(j,
			    open == '{' ? "expected ',' or '}' in an object"
			                : "expected ',' or ']' in an array");
		}
	}
	j->depth--;
	return 0;
}

/* Any value. */
static int
js_skip(js *j)
{
	int c = js_peek(j);
	if (c == '{' || c == '[')
		return js_skip_container(j, (char) c);
	if (c == '"')
		return js_string(j, NULL);
	if (c == 't')
		return js_literal(j, "true");
	if (c == 'f')
		return js_literal(j, "false");
	if (c == 'n')
		return js_literal(j, "null");
	if (c == '-' || (c >= '0' && c <= '9'))
		return js_number(j);
	return js_fail(
	    j, c < 0 ? "unexpected end of input" : "expected a JSON value");
}

/* Message for a member of the wrong type: names the entry and member. */
static int
js_type_error(js *j, const char *st, const char *member, const char *want)
{
	return hearth_err_set(j->err, HEARTH_EINVAL,
	    "at offset %zu: \"%.64s\".%s must be %s", j->i, st, member, want);
}

static int
js_member_string(js *j, const char *st, const char *member, const char **dst)
{
	int c = js_peek(j);
	if (c == 'n') {
		*dst = NULL; /* null leaves the field unset, as in Go */
		return js_literal(j, "null");
	}
	if (c != '"')
		return js_type_error(j, st, member, "a string");
	char *v;
	int   rc;
	if ((rc = js_string(j, &v)) != 0)
		return rc;
	*dst = v;
	return 0;
}

static int
js_member_bool(js *j, const char *st, const char *member, int *dst)
{
	int c = js_peek(j);
	if (c == 'n')
		return js_literal(j, "null");
	if (c != 't' && c != 'f')
		return js_type_error(j, st, member, "true or false");
	*dst = c == 't';
	return js_literal(j, c == 't' ? "true" : "false");
}

/* One sample type's object (j->i at '{'). */
static int
js_entry(js *j, hearth_stconfig_entry *e)
{
	j->depth++;
	j->i++;
	if (js_peek(j) == '}') {
		j->i++;
		j->depth--;
		return 0;
	}
	for (;;) {
		if (js_peek(j) != '"')
			return js_fail(j, "expected a string key");
		char *key;
		int   rc;
		if ((rc = js_string(j, &key)) != 0)
			return rc;
		if (js_peek(j) != ':')
			return js_fail(j, "expected ':' after an object key");
		j->i++;
		const char *st = e->sample_type;
		if (strcasecmp(key, "units") == 0)
			rc = js_member_string(j, st, "units", &e->units);
		else if (strcasecmp(key, "display-name") == 0)
			rc = js_member_string(
			    j, st, "display-name", &e->display_name);
		else if (strcasecmp(key, "aggregation") == 0)
			rc = js_member_string(
			    j, st, "aggregation", &e->aggregation);
		else if (strcasecmp(key, "cumulative") == 0)
			rc = js_member_bool(
			    j, st, "cumulative", &e->cumulative);
		else if (strcasecmp(key, "sampled") == 0)
			rc = js_member_bool(j, st, "sampled", &e->sampled);
		else
			rc = js_skip(j);
		if (rc != 0)
			return rc;
		int c = js_peek(j);
		j->i++;
		if (c == '}')
			break;
		if (c != ',') {
			j->i--;
			return js_fail(j, "expected ',' or '}' in an object");
		}
	}
	j->depth--;
	return 0;
}

/* Add or replace (a repeated key starts from scratch, as Go decodes each
 * map value into a fresh struct). */
static hearth_stconfig_entry *
js_slot(js *j, hearth_stconfig_entry *v, size_t *n, char *key)
{
	for (size_t k = 0; k < *n; k++)
		if (strcmp(v[k].sample_type, key) == 0) {
			memset(&v[k], 0, sizeof(v[k]));
			v[k].sample_type = key;
			return &v[k];
		}
	if (*n == HEARTH_STCONFIG_MAX_ENTRIES) {
		hearth_err_set(j->err, HEARTH_EINVAL,
		    "more than %d sample types", HEARTH_STCONFIG_MAX_ENTRIES);
		return NULL;
	}
	v[*n].sample_type = key;
	return &v[(*n)++];
}

/* The top-level object (j->i at '{') into c. */
static int
js_top(js *j, hearth_stconfig *c)
{
	hearth_stconfig_entry *v = hearth_arena_calloc(
	    j->a, HEARTH_STCONFIG_MAX_ENTRIES, sizeof(*v));
	if (v == NULL)
		return js_nomem(j);
	size_t n = 0;
	j->depth = 1;
	j->i++;
	int ch = js_peek(j);
	while (ch != '}') {
		char *key;
		int   rc;
		if (ch != '"')
			return js_fail(j,
			    ch < 0 ? "unexpected end of input"
			           : "expected a string key");
		if ((rc = js_string(j, &key)) != 0)
			return rc;
		if (js_peek(j) != ':')
			return js_fail(j, "expected ':' after an object key");
		j->i++;
		hearth_stconfig_entry *e = js_slot(j, v, &n, key);
		if (e == NULL)
			return HEARTH_EINVAL;
		ch = js_peek(j);
		if (ch == '{')
			rc = js_entry(j, e);
		else if (ch == 'n')
			rc = js_literal(j, "null");
		else if (ch < 0)
			rc = js_fail(j, "unexpected end of input");
		else
			rc = hearth_err_set(j->err, HEARTH_EINVAL,
			    "at offset %zu: \"%.64s\" must map to an object",
			    j->i, key);
		if (rc != 0)
			return rc;
		ch = js_peek(j);
		if (ch == ',') {
			j->i++;
			if ((ch = js_peek(j)) == '}')
				return js_fail(j, "trailing ',' in an object");
		} else if (ch != '}') {
			return js_fail(j,
			    ch < 0 ? "unexpected end of input"
			           : "expected ',' or '}' in an "
			             "object");
		}
	}
	j->i++;
	c->entries = v;
	c->n       = n;
	return 0;
}

int
hearth_stconfig_parse(hearth_arena *a, const char *json, size_t len,
    hearth_stconfig **out, hearth_err *err)
{
	HEARTH_ASSERT(a != NULL && out != NULL);
	HEARTH_ASSERT(len == 0 || json != NULL);
	*out               = NULL;
	js               j = { .a = a, .s = json, .n = len, .err = err };
	hearth_stconfig *c = hearth_arena_calloc(a, 1, sizeof(*c));
	if (c == NULL)
		return js_nomem(&j);
	int ch = js_peek(&j), rc;
	if (ch == 'n')
		rc = js_literal(&j, "null"); /* null: an empty config */
	else if (ch == '{')
		rc = js_top(&j, c);
	else
		rc = js_fail(&j,
		    ch < 0 ? "empty input (expected an object)"
		           : "expected an object");
	if (rc != 0)
		return rc;
	if (js_peek(&j) >= 0)
		return js_fail(&j, "unexpected data after the JSON value");
	*out = c;
	return 0;
}

/* clang-format off */
static const hearth_stconfig_entry stconfig_defaults[] = {
	{ "samples", "samples", "cpu", "sum", 0, 0 },
	{ "inuse_objects", "objects", NULL, "average", 0, 0 },
	{ "alloc_objects", "objects", NULL, "sum", 0, 0 },
	{ "inuse_space", "bytes", NULL, "average", 0, 0 },
	{ "alloc_space", "bytes", NULL, "sum", 0, 0 },
	{ "goroutine", "goroutines", "goroutines", "average", 0, 0 },
	{ "contentions", "lock_samples", "mutex_count", "sum", 0, 0 },
	{ "delay", "lock_nanoseconds", "mutex_duration", "sum", 0, 0 },
};
/* clang-format on */

static const hearth_stconfig stconfig_default_map = {
	stconfig_defaults,
	sizeof(stconfig_defaults) / sizeof(stconfig_defaults[0]),
};

const hearth_stconfig *
hearth_stconfig_default(void)
{
	return &stconfig_default_map;
}

const hearth_stconfig_entry *
hearth_stconfig_find(const hearth_stconfig *c, const char *sample_type)
{
	if (c == NULL)
		c = &stconfig_default_map;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->entries[i].sample_type, sample_type) == 0)
			return &c->entries[i];
	return NULL;
}

const char *
hearth_stconfig_display_name(const hearth_stconfig *c, const char *sample_type)
{
	const hearth_stconfig_entry *e = hearth_stconfig_find(c, sample_type);
	return e != NULL ? e->display_name : NULL;
}

const char *
hearth_stconfig_profile_name(
    const hearth_stconfig *c, const char *const *sample_types, size_t n)
{
	if (n == 0)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(sample_types[i], "wall") == 0)
			return "wall";
	const char *name = NULL;
	for (size_t i = 0; i < n; i++) {
		name = hearth_stconfig_display_name(c, sample_types[i]);
		if (name == NULL)
			name = sample_types[i];
		if (strstr(name, "cpu") != NULL)
			return "process_cpu";
		if (strstr(name, "alloc_") != NULL
		    || strstr(name, "inuse_") != NULL
		    || strcmp(name, "space") == 0
		    || strcmp(name, "objects") == 0)
			return "memory";
		if (strstr(name, "mutex_") != NULL)
			return "mutex";
		if (strstr(name, "block_") != NULL)
			return "block";
		if (strstr(name, "goroutines") != NULL)
			return "goroutines";
	}
	return name; /* the (display) name of the last sample type */
}
