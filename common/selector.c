#define PCRE2_CODE_UNIT_WIDTH 8

#include "selector_impl.h"
#include "utf8.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits of semantics (4) in selector.h. The depth limit only affects the
 * interpreter; JIT code is bounded by the match limit and its stack. */
#define SELECTOR_MATCH_LIMIT	1000000u
#define SELECTOR_DEPTH_LIMIT	10000u
#define SELECTOR_HEAP_LIMIT_KIB 16384u
/* Grafana's "All" of a multi-value variable becomes one long alternation,
 * so patterns may be large; 1 MiB still bounds compile time and memory. */
#define SELECTOR_MAX_PATTERN (1024u * 1024u)

/* RE2 compatibility: ANCHORED|ENDANCHORED instead of wrapping the pattern
 * in ^(?:...)$, because a pattern like `a)|(b` would break out of the
 * wrapper; DOTALL as Prometheus's (?s:...); $ only at the very end; no \C,
 * which could split a UTF-8 character. */
#define SELECTOR_RE_OPTIONS                                                   \
	(PCRE2_UTF | PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL |      \
	    PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C)

/* Patterns common enough (Grafana's "All" is `.*`) to skip PCRE2. */
enum { SELECTOR_RX_PCRE, SELECTOR_RX_ANY, SELECTOR_RX_NONEMPTY };

typedef struct selector_rx {
	pcre2_match_context *mctx;
	int		     kind;
} selector_rx;

/* ------------------------------------------------------------------ */
/* Matchers                                                            */

static void
selector_matcher_fini(hearth_matcher *m)
{
	selector_rx *rx = m->priv;
	if (rx != NULL) {
		pcre2_match_context_free(rx->mctx);
		free(rx);
	}
	pcre2_code_free(m->re);
	free(m->name);
	free(m->value);
	memset(m, 0, sizeof(*m));
}

/* Compile m->value for RE/NRE. On a bad pattern returns -HEARTH_EINVAL with
 * PCRE2's reason in why. */
static int
selector_compile(hearth_matcher *m, size_t vlen, char *why, size_t whylen)
{
	selector_rx *rx = calloc(1, sizeof(*rx));
	if (rx == NULL)
		return HEARTH_ENOMEM;
	m->priv = rx;
	if (strcmp(m->value, ".*") == 0)
		rx->kind = SELECTOR_RX_ANY;
	else if (strcmp(m->value, ".+") == 0)
		rx->kind = SELECTOR_RX_NONEMPTY;

	pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
	if (cc == NULL)
		return HEARTH_ENOMEM;
	pcre2_set_max_pattern_length(cc, SELECTOR_MAX_PATTERN);
	int	    ec;
	PCRE2_SIZE eo;
	m->re = pcre2_compile((PCRE2_SPTR) m->value, vlen, SELECTOR_RE_OPTIONS,
	    &ec, &eo, cc);
	pcre2_compile_context_free(cc);
	if (m->re == NULL) {
		if (ec == PCRE2_ERROR_HEAP_FAILED)
			return HEARTH_ENOMEM;
		if (pcre2_get_error_message(ec, (PCRE2_UCHAR *) why, whylen) <
		    0)
			snprintf(why, whylen, "PCRE2 error %d", ec);
		return HEARTH_EINVAL;
	}
	/* JIT is an optimisation only: if the platform refuses executable
	 * memory the interpreter runs the same pattern. */
	(void) pcre2_jit_compile(m->re, PCRE2_JIT_COMPLETE);
	rx->mctx = pcre2_match_context_create(NULL);
	if (rx->mctx == NULL)
		return HEARTH_ENOMEM;
	pcre2_set_match_limit(rx->mctx, SELECTOR_MATCH_LIMIT);
	pcre2_set_depth_limit(rx->mctx, SELECTOR_DEPTH_LIMIT);
	pcre2_set_heap_limit(rx->mctx, SELECTOR_HEAP_LIMIT_KIB);
	return 0;
}

int
hearth_selector_push(hearth_selector *s, hearth_match_op op, const char *name,
    size_t nlen, const char *value, size_t vlen, char *why, size_t whylen)
{
	if (s->n == s->cap) {
		size_t		cap = s->cap ? s->cap * 2 : 4;
		hearth_matcher *p   = realloc(s->matchers, cap * sizeof(*p));
		if (p == NULL)
			return HEARTH_ENOMEM;
		s->matchers = p;
		s->cap	    = cap;
	}
	hearth_matcher *m = &s->matchers[s->n];
	memset(m, 0, sizeof(*m));
	m->op	 = op;
	m->name	 = malloc(nlen + 1);
	m->value = malloc(vlen + 1);
	if (m->name == NULL || m->value == NULL) {
		selector_matcher_fini(m);
		return HEARTH_ENOMEM;
	}
	memcpy(m->name, name, nlen);
	m->name[nlen] = '\0';
	memcpy(m->value, value, vlen);
	m->value[vlen] = '\0';
	if (op == HEARTH_MATCH_RE || op == HEARTH_MATCH_NRE) {
		int rc = selector_compile(m, vlen, why, whylen);
		if (rc != 0) {
			selector_matcher_fini(m);
			return rc;
		}
	}
	s->n++;
	return 0;
}

hearth_selector *
hearth_selector_new(void)
{
	return calloc(1, sizeof(hearth_selector));
}

void
hearth_selector_free(hearth_selector *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		selector_matcher_fini(&s->matchers[i]);
	free(s->matchers);
	free(s);
}

int
hearth_selector_add(hearth_selector *s, hearth_match_op op, const char *name,
    const char *value, hearth_err *err)
{
	HEARTH_ASSERT(s != NULL && name != NULL && value != NULL);
	size_t nlen = strlen(name);
	size_t vlen = strlen(value);
	int    q    = (int) (nlen > SELECTOR_MSG_QUOTE ? SELECTOR_MSG_QUOTE
						     : nlen);
	if (nlen == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "selector: empty label name");
	if (!hearth_utf8_valid(name, nlen))
		return hearth_err_set(err, HEARTH_EINVAL,
		    "selector: label name is not valid UTF-8");
	if (!hearth_utf8_valid(value, vlen))
		return hearth_err_set(err, HEARTH_EINVAL,
		    "selector: value for label \"%.*s\" is not valid UTF-8", q,
		    name);
	char why[256];
	int  rc = hearth_selector_push(s, op, name, nlen, value, vlen, why,
	     sizeof(why));
	if (rc == HEARTH_EINVAL)
		return hearth_err_set(err, rc,
		    "selector: invalid regex \"%.*s\" for label \"%.*s\": %s",
		    vlen > SELECTOR_MSG_QUOTE ? SELECTOR_MSG_QUOTE : (int) vlen,
		    value, q, name, why);
	if (rc != 0)
		return hearth_err_set(err, rc, "selector: out of memory");
	return 0;
}

static int
selector_re_match(const hearth_matcher *m, const char *v, size_t len)
{
	const selector_rx *rx = m->priv;
	if (rx->kind == SELECTOR_RX_ANY)
		return 1;
	if (rx->kind == SELECTOR_RX_NONEMPTY)
		return len > 0;
	if (v == NULL)
		v = "";
	/* Per-call match data keeps matchers shareable between threads. An
	 * allocation failure counts as no match (header semantics (4)). */
	pcre2_match_data *md = pcre2_match_data_create(1, NULL);
	if (md == NULL)
		return 0;
	int rc = pcre2_match(m->re, (PCRE2_SPTR) v, len, 0, 0, md, rx->mctx);
	/* The JIT runs on a fixed 32 KiB stack; long values with many
	 * backtracking points can need more. The interpreter keeps its state
	 * on the heap (bounded by the heap limit), so retry there. */
	if (rc == PCRE2_ERROR_JIT_STACKLIMIT)
		rc = pcre2_match(m->re, (PCRE2_SPTR) v, len, 0, PCRE2_NO_JIT,
		    md, rx->mctx);
	pcre2_match_data_free(md);
	return rc >= 0;
}

int
hearth_matcher_match(const hearth_matcher *m, const char *value, size_t len)
{
	switch (m->op) {
	case HEARTH_MATCH_EQ:
		return strlen(m->value) == len &&
		    (len == 0 || memcmp(m->value, value, len) == 0);
	case HEARTH_MATCH_NEQ:
		return !(strlen(m->value) == len &&
		    (len == 0 || memcmp(m->value, value, len) == 0));
	case HEARTH_MATCH_RE:
		return selector_re_match(m, value, len);
	case HEARTH_MATCH_NRE:
		return !selector_re_match(m, value, len);
	}
	return 0;
}

int
hearth_matcher_matches_empty(const hearth_matcher *m)
{
	return hearth_matcher_match(m, "", 0);
}

int
hearth_selector_match(const hearth_selector *s, const hearth_label *ls,
    size_t n)
{
	for (size_t i = 0; i < s->n; i++) {
		const hearth_matcher *m	 = &s->matchers[i];
		const char	     *v	 = "";
		size_t		      lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int    c   = strcmp(ls[mid].name, m->name);
			if (c == 0) {
				v = ls[mid].value;
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!hearth_matcher_match(m, v, strlen(v)))
			return 0;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* Canonical text form                                                 */

static int
selector_is_bare_name(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		*s == '_'))
		return 0;
	for (s++; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* A Go double-quoted string literal: what the parser reads back. */
static void
selector_put_quoted(hearth_buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	hearth_buf_putc(out, '"');
	for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
		switch (*p) {
		case '"': hearth_buf_puts(out, "\\\""); break;
		case '\\': hearth_buf_puts(out, "\\\\"); break;
		case '\n': hearth_buf_puts(out, "\\n"); break;
		case '\r': hearth_buf_puts(out, "\\r"); break;
		case '\t': hearth_buf_puts(out, "\\t"); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				char e[4] = { '\\', 'x', hex[*p >> 4],
					hex[*p & 15] };
				hearth_buf_append(out, e, 4);
			} else {
				hearth_buf_putc(out, (char) *p);
			}
		}
	}
	hearth_buf_putc(out, '"');
}

int
hearth_selector_format(const hearth_selector *s, hearth_buf *out)
{
	static const char *const ops[] = { "=", "!=", "=~", "!~" };
	hearth_buf_putc(out, '{');
	for (size_t i = 0; i < s->n; i++) {
		const hearth_matcher *m = &s->matchers[i];
		if (i > 0)
			hearth_buf_putc(out, ',');
		if (selector_is_bare_name(m->name))
			hearth_buf_puts(out, m->name);
		else
			selector_put_quoted(out, m->name);
		hearth_buf_puts(out, ops[m->op]);
		selector_put_quoted(out, m->value);
	}
	hearth_buf_putc(out, '}');
	return hearth_buf_failed(out) ? HEARTH_ENOMEM : 0;
}

