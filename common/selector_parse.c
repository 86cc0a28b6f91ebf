/* The selector text parser (grammar in selector.h); matchers are built
 * through hearth_selector_push() in selector.c. */
#include "selector_impl.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct selector_scan {
	const char *s;
	size_t	    len;
	size_t	    pos;
	hearth_err *err;
	hearth_buf  tmp;	  /* the last decoded string */
	int	    has_metric;	  /* metric name given before { or quoted */
	int	    has_name_eq;  /* a __name__ matcher was written */
} selector_scan;

static int
selector_fail(selector_scan *sc, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
selector_fail(selector_scan *sc, size_t pos, const char *fmt, ...)
{
	char	msg[HEARTH_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return hearth_err_set(sc->err, HEARTH_EINVAL,
	    "selector: position %zu: %s", pos, msg);
}

/* A short description of the byte at pos for "got ..." messages. */
static const char *
selector_what(const selector_scan *sc, size_t pos, char *out, size_t cap)
{
	if (pos >= sc->len)
		return "end of input";
	unsigned char c = (unsigned char) sc->s[pos];
	if (c == '"' || c == '\\')
		snprintf(out, cap, "'%c'", c);
	else if (c > 0x20 && c < 0x7f)
		snprintf(out, cap, "\"%c\"", c);
	else if (c == ' ')
		snprintf(out, cap, "a space");
	else
		snprintf(out, cap, "byte 0x%02x", c);
	return out;
}

static void
selector_skip_ws(selector_scan *sc)
{
	while (sc->pos < sc->len) {
		char c = sc->s[sc->pos];
		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		sc->pos++;
	}
}

static void
selector_put_utf8(hearth_buf *b, uint32_t cp)
{
	char u[4];
	hearth_buf_append(b, u, hearth_utf8_put(u, cp));
}

/* Decode the escape at sc->s[*i] (the backslash) inside a string quoted
 * with q, append its bytes to sc->tmp and advance *i past it. */
static int
selector_escape(selector_scan *sc, size_t *i, char q, size_t start)
{
	const char *s	= sc->s;
	size_t	    at	= *i;
	size_t	    rem = sc->len - at; /* bytes from the backslash on */
	if (rem < 2)
		return hearth_err_set(sc->err, HEARTH_EINVAL,
		    "selector: unterminated string starting at position %zu",
		    start);
	char c	    = s[at + 1];
	int  simple = -1;
	switch (c) {
	case 'a': simple = '\a'; break;
	case 'b': simple = '\b'; break;
	case 'f': simple = '\f'; break;
	case 'n': simple = '\n'; break;
	case 'r': simple = '\r'; break;
	case 't': simple = '\t'; break;
	case 'v': simple = '\v'; break;
	case '\\': simple = '\\'; break;
	case '\'':
	case '"':
		/* Go allows \" only in "..." and \' only in '...'. */
		if (c == q)
			simple = c;
		break;
	default: break;
	}
	if (simple >= 0) {
		hearth_buf_putc(&sc->tmp, (char) simple);
		*i = at + 2;
		return 0;
	}
	if (c >= '0' && c <= '7') {
		unsigned v = 0;
		for (size_t k = 1; k <= 3; k++) {
			if (k >= rem || s[at + k] < '0' || s[at + k] > '7')
				return selector_fail(sc, at,
				    "invalid escape: an octal escape has "
				    "exactly 3 digits (\\000 to \\377)");
			v = v * 8 + (unsigned) (s[at + k] - '0');
		}
		if (v > 255)
			return selector_fail(sc, at,
			    "invalid escape \"\\%.3s\": octal value above "
			    "\\377",
			    s + at + 1);
		hearth_buf_putc(&sc->tmp, (char) v);
		*i = at + 4;
		return 0;
	}
	size_t ndig = c == 'x' ? 2 : c == 'u' ? 4 : c == 'U' ? 8 : 0;
	if (ndig == 0) {
		char w[16];
		if ((unsigned char) c > 0x20 && (unsigned char) c < 0x7f)
			snprintf(w, sizeof(w), "\\%c", c);
		else
			snprintf(w, sizeof(w), "\\ + byte 0x%02x",
			    (unsigned char) c);
		return selector_fail(sc, at,
		    "invalid escape \"%s\" in string (valid: \\a \\b \\f \\n "
		    "\\r \\t \\v \\\\ \\%c \\xHH \\ooo \\uHHHH \\UHHHHHHHH)",
		    w, q);
	}
	uint32_t v = 0;
	for (size_t k = 0; k < ndig; k++) {
		int h = 2 + k < rem ? hearth_hex_digit(s[at + 2 + k]) : -1;
		if (h < 0)
			return selector_fail(sc, at,
			    "invalid escape: \\%c must be followed by %zu hex "
			    "digits",
			    c, ndig);
		v = v * 16 + (uint32_t) h;
	}
	if (c == 'x') {
		hearth_buf_putc(&sc->tmp, (char) v);
	} else {
		if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
			return selector_fail(sc, at,
			    "invalid escape \"\\%c%.*s\": not a Unicode code "
			    "point",
			    c, (int) ndig, s + at + 2);
		selector_put_utf8(&sc->tmp, v);
	}
	*i = at + 2 + ndig;
	return 0;
}

/* Decode the string token at sc->pos ("...", '...' or `...`) into sc->tmp
 * and move past it. */
static int
selector_string(selector_scan *sc)
{
	size_t start = sc->pos;
	char   q     = sc->s[start];
	size_t i     = start + 1;
	hearth_buf_reset(&sc->tmp);
	if (q == '`') {
		const char *end = memchr(sc->s + i, '`', sc->len - i);
		if (end == NULL)
			return hearth_err_set(sc->err, HEARTH_EINVAL,
			    "selector: unterminated string starting at "
			    "position %zu",
			    start);
		hearth_buf_append(&sc->tmp, sc->s + i,
		    (size_t) (end - (sc->s + i)));
		i = (size_t) (end - sc->s) + 1;
	} else {
		for (;;) {
			if (i >= sc->len)
				return hearth_err_set(sc->err, HEARTH_EINVAL,
				    "selector: unterminated string starting "
				    "at position %zu",
				    start);
			char c = sc->s[i];
			if (c == q) {
				i++;
				break;
			}
			if (c == '\n')
				return selector_fail(sc, i,
				    "newline in the string starting at "
				    "position %zu (write \\n, or use a "
				    "`raw` string)",
				    start);
			if (c == '\\') {
				int rc = selector_escape(sc, &i, q, start);
				if (rc != 0)
					return rc;
				continue;
			}
			/* Copy the run up to the next quote, escape or
			 * newline in one append. */
			size_t j = i + 1;
			while (j < sc->len && sc->s[j] != q &&
			    sc->s[j] != '\\' && sc->s[j] != '\n')
				j++;
			hearth_buf_append(&sc->tmp, sc->s + i, j - i);
			i = j;
		}
	}
	if (hearth_buf_failed(&sc->tmp))
		return hearth_err_set(sc->err, HEARTH_ENOMEM,
		    "selector: out of memory");
	if (sc->tmp.len > 0 && memchr(sc->tmp.data, '\0', sc->tmp.len))
		return selector_fail(sc, start,
		    "the string contains a NUL byte, which no label name "
		    "or value can hold");
	if (sc->tmp.len > 0 && !hearth_utf8_valid(sc->tmp.data, sc->tmp.len))
		return selector_fail(sc, start,
		    "the string is not valid UTF-8");
	sc->pos = i;
	return 0;
}

static int
selector_twice(selector_scan *sc, size_t pos)
{
	return selector_fail(sc, pos,
	    "the metric name is set twice (once as a name before \"{\" or a "
	    "lone quoted name, once as a __name__ matcher)");
}

/* Append a parsed matcher; regex errors point at the value's position. */
static int
selector_parse_push(selector_scan *sc, hearth_selector *sel,
    hearth_match_op op, const char *name, size_t nlen, const char *value,
    size_t vlen, size_t vpos)
{
	char why[256];
	int  rc = hearth_selector_push(sel, op, name, nlen, value, vlen, why,
	     sizeof(why));
	if (rc == HEARTH_EINVAL)
		return selector_fail(sc, vpos, "invalid regex \"%.*s\": %s",
		    vlen > SELECTOR_MSG_QUOTE ? SELECTOR_MSG_QUOTE : (int) vlen,
		    value, why);
	if (rc != 0)
		return hearth_err_set(sc->err, rc, "selector: out of memory");
	return 0;
}

static int
selector_is_label_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static int
selector_is_label_char(char c)
{
	return selector_is_label_start(c) || (c >= '0' && c <= '9');
}

/* One `name op "value"` (or a lone quoted metric name) at sc->pos. */
static int
selector_matcher(selector_scan *sc, hearth_selector *sel)
{
	char   what[24];
	size_t npos = sc->pos;
	char   c    = sc->s[npos];
	char  *name;
	size_t nlen;
	int    quoted = 0;
	if (selector_is_label_start(c)) {
		size_t e = npos + 1;
		while (e < sc->len && selector_is_label_char(sc->s[e]))
			e++;
		nlen	= e - npos;
		name	= malloc(nlen + 1);
		sc->pos = e;
		if (name != NULL)
			memcpy(name, sc->s + npos, nlen);
	} else if (c == '"' || c == '\'') {
		int rc = selector_string(sc);
		if (rc != 0)
			return rc;
		quoted = 1;
		nlen   = sc->tmp.len;
		name   = malloc(nlen + 1);
		if (name != NULL && nlen > 0)
			memcpy(name, sc->tmp.data, nlen);
	} else {
		return selector_fail(sc, npos,
		    "expected a label name or \"}\", got %s",
		    selector_what(sc, npos, what, sizeof(what)));
	}
	if (name == NULL)
		return hearth_err_set(sc->err, HEARTH_ENOMEM,
		    "selector: out of memory");
	name[nlen] = '\0';
	int q = (int) (nlen > SELECTOR_MSG_QUOTE ? SELECTOR_MSG_QUOTE
						   : nlen);

	int rc = 0;
	selector_skip_ws(sc);
	size_t opos = sc->pos;
	if (quoted && (opos >= sc->len || sc->s[opos] == ',' ||
			  sc->s[opos] == '}')) {
		/* Prometheus 3: {"metric.name", ...} names the metric. */
		if (sc->has_metric || sc->has_name_eq) {
			rc = selector_twice(sc, npos);
			goto out;
		}
		sc->has_metric = 1;
		rc = selector_parse_push(sc, sel, HEARTH_MATCH_EQ,
		    "__name__", 8, name, nlen, npos);
		goto out;
	}
	if (nlen == 0) {
		rc = selector_fail(sc, npos, "empty label name");
		goto out;
	}
	hearth_match_op op;
	const char     *opstr;
	char		c0 = opos < sc->len ? sc->s[opos] : '\0';
	char		c1 = opos + 1 < sc->len ? sc->s[opos + 1] : '\0';
	if (c0 == '=' && c1 == '~') {
		op    = HEARTH_MATCH_RE;
		opstr = "=~";
	} else if (c0 == '=') {
		op    = HEARTH_MATCH_EQ;
		opstr = "=";
	} else if (c0 == '!' && c1 == '=') {
		op    = HEARTH_MATCH_NEQ;
		opstr = "!=";
	} else if (c0 == '!' && c1 == '~') {
		op    = HEARTH_MATCH_NRE;
		opstr = "!~";
	} else {
		rc = selector_fail(sc, opos,
		    "expected \"=\", \"!=\", \"=~\" or \"!~\" after label name "
		    "\"%.*s\"",
		    q, name);
		goto out;
	}
	sc->pos += strlen(opstr);
	selector_skip_ws(sc);
	size_t vpos = sc->pos;
	c	    = vpos < sc->len ? sc->s[vpos] : '\0';
	if (vpos >= sc->len || (c != '"' && c != '\'' && c != '`')) {
		rc = selector_fail(sc, vpos,
		    "expected a quoted string after \"%s\" for label \"%.*s\", "
		    "got %s",
		    opstr, q, name,
		    selector_what(sc, vpos, what, sizeof(what)));
		goto out;
	}
	if ((rc = selector_string(sc)) != 0)
		goto out;
	if (strcmp(name, "__name__") == 0) {
		if (sc->has_metric) {
			rc = selector_twice(sc, npos);
			goto out;
		}
		sc->has_name_eq = 1;
	}
	rc = selector_parse_push(sc, sel, op, name, nlen,
	    sc->tmp.len ? sc->tmp.data : "", sc->tmp.len, vpos);
out:
	free(name);
	return rc;
}

static int
selector_parse_all(selector_scan *sc, hearth_selector *sel)
{
	char what[24];
	int  rc;
	selector_skip_ws(sc);
	size_t start = sc->pos;
	if (start < sc->len &&
	    (selector_is_label_start(sc->s[start]) || sc->s[start] == ':')) {
		size_t e = start + 1;
		while (e < sc->len &&
		    (selector_is_label_char(sc->s[e]) || sc->s[e] == ':'))
			e++;
		sc->pos = e;
		rc = selector_parse_push(sc, sel, HEARTH_MATCH_EQ, "__name__",
		    8, sc->s + start, e - start, start);
		if (rc != 0)
			return rc;
		sc->has_metric = 1;
		selector_skip_ws(sc);
		if (sc->pos == sc->len)
			return 0;
		if (sc->s[sc->pos] != '{')
			return selector_fail(sc, sc->pos,
			    "expected \"{\" or the end after metric name "
			    "\"%.*s\", got %s",
			    (int) (e - start > SELECTOR_MSG_QUOTE
				    ? SELECTOR_MSG_QUOTE
				    : e - start),
			    sc->s + start,
			    selector_what(sc, sc->pos, what, sizeof(what)));
	} else if (start >= sc->len || sc->s[start] != '{') {
		return selector_fail(sc, start,
		    "expected a metric name or \"{\", got %s",
		    selector_what(sc, start, what, sizeof(what)));
	}
	sc->pos++; /* '{' */
	for (;;) {
		selector_skip_ws(sc);
		if (sc->pos >= sc->len)
			return selector_fail(sc, sc->pos,
			    "expected a label name or \"}\", got end of input");
		if (sc->s[sc->pos] == '}')
			break;
		if ((rc = selector_matcher(sc, sel)) != 0)
			return rc;
		selector_skip_ws(sc);
		if (sc->pos < sc->len && sc->s[sc->pos] == ',') {
			sc->pos++;
			continue;
		}
		if (sc->pos < sc->len && sc->s[sc->pos] == '}')
			break;
		return selector_fail(sc, sc->pos,
		    "expected \",\" or \"}\" after a matcher, got %s",
		    selector_what(sc, sc->pos, what, sizeof(what)));
	}
	sc->pos++; /* '}' */
	selector_skip_ws(sc);
	if (sc->pos < sc->len)
		return selector_fail(sc, sc->pos, "unexpected %s after \"}\"",
		    selector_what(sc, sc->pos, what, sizeof(what)));
	return 0;
}

int
hearth_selector_parse(const char *s, size_t len, hearth_selector **out,
    hearth_err *err)
{
	*out = NULL;
	if (s == NULL)
		s = "";
	hearth_selector *sel = hearth_selector_new();
	if (sel == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "selector: out of memory");
	selector_scan sc;
	memset(&sc, 0, sizeof(sc));
	sc.s   = s;
	sc.len = len;
	sc.err = err;
	hearth_buf_init(&sc.tmp);
	int rc = selector_parse_all(&sc, sel);
	hearth_buf_fini(&sc.tmp);
	if (rc != 0) {
		hearth_selector_free(sel);
		return rc;
	}
	*out = sel;
	return 0;
}
