/*
 * folded: one pass over the body, line by line (memchr), with a reusable
 * frame-id buffer; interning and stack de-duplication are the upload
 * builder's. The binary trie and tree formats are walked with an explicit
 * stack of (children left, key length) and each sample's key goes through
 * the same per-stack code as a folded line. Rules are in folded.h.
 */
#include "folded.h"
#include "utf8.h"

#include <stdint.h>
#include <string.h>

#define FOLDED_MSG_CUT 32 /* bytes of a bad count quoted in a message */

typedef struct folded_state {
	hearth_arena          *a;
	hearth_upload_builder *b;
	const char            *fmt; /* "folded", "lines", ... for messages */
	const char            *where; /* "line" or "node" */
	size_t                 max_depth, max_symbol, max_samples;
	size_t                *cut_stacks, *cut_symbols; /* may be NULL */
	uint32_t              *frames;
	size_t                 cap;
	size_t                 lineno; /* line, or node (binary formats) */
	const uint8_t         *in; /* binary formats: the body (offsets) */
	hearth_err            *err;
} folded_state;

static int
folded_nomem(folded_state *st)
{
	return hearth_err_set(st->err, HEARTH_ELIMIT,
	    "%s: %s %zu: request memory limit reached (%zu bytes in use); "
	    "send smaller profiles",
	    st->fmt, st->where, st->lineno, hearth_arena_used(st->a));
}

/* Base-10 integer as strconv.Atoi reads it: optional sign, then at least
 * one digit, nothing else. 0 ok, -1 not an integer, -2 out of range. */
static int
folded_atoi(const char *s, size_t n, int64_t *out)
{
	size_t i   = 0;
	int    neg = 0;
	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		neg = s[0] == '-';
		i++;
	}
	if (i == n)
		return -1;
	uint64_t v = 0, lim = neg ? (uint64_t) INT64_MAX + 1 : INT64_MAX;
	int      ovf = 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		unsigned d = (unsigned) (s[i] - '0');
		if (v > (lim - d) / 10)
			ovf = 1; /* keep scanning: a later letter is -1 */
		else
			v = v * 10 + d;
	}
	if (ovf)
		return -2;
	*out = neg ? (v == (uint64_t) INT64_MAX + 1 ? INT64_MIN : -(int64_t) v)
	           : (int64_t) v;
	return 0;
}

static int
folded_push_frame(folded_state *st, size_t n, uint32_t id)
{
	/* The size check stays here: this runs for every frame. */
	if (n >= st->cap
	    && hearth_arena_grow(st->a, (void **) &st->frames, &st->cap, n + 1,
	           sizeof(*st->frames))
	        != 0)
		return folded_nomem(st);
	st->frames[n] = id;
	return 0;
}

/* Add one sample: the stack in s[0..n) with value v > 0. */
static int
folded_sample(folded_state *st, const char *s, size_t n, int64_t v)
{
	size_t depth = 0, frame = 0;
	size_t i = 0;
	while (i <= n) {
		const char *f  = s + i;
		const char *sc = memchr(f, ';', n - i);
		size_t      fl = sc != NULL ? (size_t) (sc - f) : n - i;
		i += fl + 1;
		if (fl == 0)
			continue;
		/* Frames past the depth limit are dropped unread. */
		if (st->max_depth > 0 && depth == st->max_depth) {
			if (st->cut_stacks != NULL)
				(*st->cut_stacks)++;
			break;
		}
		frame++;
		if (!hearth_utf8_valid(f, fl))
			return hearth_err_set(st->err, HEARTH_EINVAL,
			    "%s: %s %zu: frame %zu is not valid UTF-8",
			    st->fmt, st->where, st->lineno, frame);
		/* Names become C strings downstream: a NUL would cut them. */
		if (memchr(f, '\0', fl) != NULL)
			return hearth_err_set(st->err, HEARTH_EINVAL,
			    "%s: %s %zu: frame %zu contains a NUL byte",
			    st->fmt, st->where, st->lineno, frame);
		/* Keep the tail (the most specific part of a long name, as
		 * upstream), from a character boundary. */
		size_t cut = hearth_utf8_tail(f, fl, st->max_symbol);
		if (cut > 0) {
			if (st->cut_symbols != NULL)
				(*st->cut_symbols)++;
			f += cut;
			fl -= cut;
		}
		uint32_t id;
		int      rc
		    = hearth_upload_builder_string(st->b, f, fl, &id, st->err);
		if (rc == 0)
			rc = folded_push_frame(st, depth, id);
		if (rc != 0)
			return rc;
		depth++;
	}
	uint32_t stack;
	int      rc = hearth_upload_builder_stack(
	         st->b, st->frames, depth, &stack, st->err);
	if (rc != 0)
		return rc;
	/* Stack ids are dense from 0, so id >= limit means one too many. */
	if (st->max_samples > 0 && stack >= st->max_samples)
		return hearth_err_set(st->err, HEARTH_ELIMIT,
		    "max_profile_stacktrace_samples: the profile has more "
		    "than %zu distinct stacks (limit reached at %s %zu)",
		    st->max_samples, st->where, st->lineno);
	rc = hearth_upload_builder_add(st->b, NULL, 0, stack, &v, st->err);
	if (rc != 0)
		hearth_err_prefix(st->err, "%s: %s %zu", st->fmt, st->where,
		    st->lineno);
	return rc;
}

/* One line without its '\n' (and '\r'). */
static int
folded_line(folded_state *st, const char *s, size_t n, int lines_mode)
{
	if (lines_mode) {
		size_t k = 0;
		while (k < n && (s[k] == ' ' || s[k] == '\t'))
			k++;
		return k == n ? 0 : folded_sample(st, s, n, 1);
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	size_t sp = n;
	while (sp > 0 && s[sp - 1] != ' ')
		sp--;
	if (sp == 0)
		return 0; /* no space: not a sample line */
	const char *c  = s + sp;
	size_t      cn = n - sp;
	int64_t     v  = 0;
	int         rc = folded_atoi(c, cn, &v);
	int         q  = cn > FOLDED_MSG_CUT ? FOLDED_MSG_CUT : (int) cn;
	const char *el = cn > FOLDED_MSG_CUT ? "..." : "";
	if (rc == -1)
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "folded: line %zu: count \"%.*s%s\" is not an integer",
		    st->lineno, q, c, el);
	if (rc == -2)
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "folded: line %zu: count \"%.*s%s\" is out of range",
		    st->lineno, q, c, el);
	if (v < 0)
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "folded: line %zu: count \"%.*s%s\" is negative",
		    st->lineno, q, c, el);
	if (v == 0)
		return 0;
	return folded_sample(st, s, sp - 1, v);
}

/* ---- trie and tree ---------------------------------------------------- */

/* A uvarint (LEB128, at most 64 bits) at *p < end: 0, or -1. */
static int
folded_uvarint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;
		if (shift == 63 && b > 1)
			return -1;
		x |= (uint64_t) (b & 0x7f) << shift;
		if (b < 0x80) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

typedef struct folded_node {
	const char *name;
	size_t	    name_len;
	uint64_t    value, children;
} folded_node;

static int
folded_read_node(folded_state *st, const uint8_t **p, const uint8_t *end,
    folded_node *n)
{
	uint64_t len;
	if (folded_uvarint(p, end, &len) != 0 || len > (uint64_t) (end - *p))
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "%s: node %zu: cut short or a bad name length (byte %zu)",
		    st->fmt, st->lineno, (size_t) (*p - st->in));
	n->name	    = (const char *) *p;
	n->name_len = (size_t) len;
	*p += len;
	if (folded_uvarint(p, end, &n->value) != 0 ||
	    folded_uvarint(p, end, &n->children) != 0)
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "%s: node %zu: cut short or a bad value or child count "
		    "(byte %zu)",
		    st->fmt, st->lineno, (size_t) (*p - st->in));
	if (n->value > INT64_MAX)
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "%s: node %zu: value %llu is out of range", st->fmt,
		    st->lineno, (unsigned long long) n->value);
	return 0;
}

typedef struct folded_open {
	uint64_t left;	  /* children still to read */
	size_t	 key_len; /* the key before this node's name */
} folded_open;

/* The trie or tree in body[0..len) (folded.h). */
static int
folded_binary(folded_state *st, const uint8_t *body, size_t len, int trie)
{
	const uint8_t *p = body, *end = body + len;
	char	      *key	   = NULL;
	size_t	       key_len	   = 0, key_cap = 0;
	folded_open   *open	   = NULL;
	size_t	       n_open	   = 0, cap_open = 0;
	folded_node    nd;
	int	       rc;
	st->in	   = body;
	st->lineno = 1;
	if ((rc = folded_read_node(st, &p, end, &nd)) != 0)
		return rc;
	for (;;) {
		size_t before = key_len;
		if (st->lineno > 1 || trie) {
			size_t need = key_len + 1 + nd.name_len;
			if (need > key_cap &&
			    hearth_arena_grow(st->a, (void **) &key, &key_cap,
				need, 1) != 0)
				return folded_nomem(st);
			if (!trie && key_len > 0)
				key[key_len++] = ';';
			if (nd.name_len > 0)
				memcpy(key + key_len, nd.name, nd.name_len);
			key_len += nd.name_len;
			if (nd.value > 0 &&
			    (rc = folded_sample(st, key, key_len,
				 (int64_t) nd.value)) != 0)
				return rc;
		}
		if (nd.children > 0) {
			if (hearth_arena_grow(st->a, (void **) &open,
				&cap_open, n_open + 1, sizeof(*open)) != 0)
				return folded_nomem(st);
			open[n_open++] = (folded_open) { nd.children, before };
		} else {
			key_len = before;
		}
		while (n_open > 0 && open[n_open - 1].left == 0)
			key_len = open[--n_open].key_len;
		if (n_open == 0)
			break;
		open[n_open - 1].left--;
		st->lineno++;
		if ((rc = folded_read_node(st, &p, end, &nd)) != 0)
			return rc;
	}
	if (p != end)
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "%s: %zu bytes after the last node (node %zu)", st->fmt,
		    (size_t) (end - p), st->lineno);
	return 0;
}

int
hearth_folded_parse(hearth_arena *a, const char *body, size_t len,
    int mode, const hearth_folded_opts *opts, hearth_upload **out,
    hearth_err *err)
{
	static const char *const fmts[] = { "folded", "lines", "trie",
		"tree" };
	HEARTH_ASSERT(a != NULL && out != NULL);
	HEARTH_ASSERT(len == 0 || body != NULL);
	HEARTH_ASSERT(mode >= HEARTH_FOLDED_GROUPS && mode <= HEARTH_FOLDED_TREE);
	int lines_mode	= mode == HEARTH_FOLDED_LINES;
	*out		= NULL;
	folded_state st = {
		.a     = a,
		.fmt   = fmts[mode],
		.where = mode >= HEARTH_FOLDED_TRIE ? "node" : "line",
		.err   = err,
	};
	if (opts != NULL) {
		st.max_depth   = opts->max_stack_depth;
		st.max_symbol  = opts->max_symbol_length;
		st.max_samples = opts->max_samples;
		st.cut_stacks  = opts->truncated_stacks;
		st.cut_symbols = opts->truncated_symbols;
	}
	int rc = hearth_upload_builder_new(a, 1, &st.b, err);
	if (rc != 0)
		return rc;
	if (mode >= HEARTH_FOLDED_TRIE) {
		if (len == 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s: the body is empty", st.fmt);
		rc = folded_binary(&st, (const uint8_t *) body, len,
		    mode == HEARTH_FOLDED_TRIE);
		if (rc != 0)
			return rc;
		return hearth_upload_builder_finish(st.b, out, err);
	}
	size_t i = 0;
	while (i < len) {
		const char *s  = body + i;
		const char *nl = memchr(s, '\n', len - i);
		size_t      n  = nl != NULL ? (size_t) (nl - s) : len - i;
		i += n + 1;
		st.lineno++;
		if (n > 0 && s[n - 1] == '\r')
			n--;
		rc = folded_line(&st, s, n, lines_mode);
		if (rc != 0)
			return rc;
	}
	return hearth_upload_builder_finish(st.b, out, err);
}
