/*
 * multipart: a delimiter is "\n--B" plus a valid tail (see
 * multipart_tail); memmem finds candidates, so a body is scanned once
 * however large its parts are. Header blocks are walked line by line and
 * only Content-Disposition and Content-Type are decoded.
 */
#include "multipart.h"

#include <string.h>
#include <strings.h>

#define MP_MSG_CUT 200 /* bytes of a header value quoted in a message */

static int
mp_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* RFC 2045 token character: no CTLs, space or tspecials. */
static int
mp_token(char c)
{
	unsigned char u = (unsigned char) c;
	return u > 0x20 && u < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

typedef struct mp_param {
	const char *name, *val;
	size_t      nlen, vlen;
	int         quoted;  /* val is the inside of a quoted-string */
	int         escaped; /* ... and it holds backslash escapes */
} mp_param;

/* Next `; name=value` of s[0..n) from *i: 1 = got one, 0 = end, -1 =
 * malformed. Unquoted values run to ';' or a blank (more lenient than a
 * token, as some clients put '/' or '=' in them); a trailing ';' is fine. */
static int
mp_param_next(const char *s, size_t n, size_t *i, mp_param *p)
{
	size_t k = *i;
	while (k < n && mp_blank(s[k]))
		k++;
	if (k == n)
		return 0;
	if (s[k++] != ';')
		return -1;
	while (k < n && mp_blank(s[k]))
		k++;
	if (k == n)
		return 0;
	size_t n0 = k;
	while (k < n && mp_token(s[k]))
		k++;
	p->name = s + n0;
	p->nlen = k - n0;
	while (k < n && mp_blank(s[k]))
		k++;
	if (p->nlen == 0 || k == n || s[k++] != '=')
		return -1;
	while (k < n && mp_blank(s[k]))
		k++;
	p->quoted = p->escaped = 0;
	size_t v0              = k;
	if (k < n && s[k] == '"') {
		v0 = ++k;
		while (k < n && s[k] != '"') {
			if (s[k] == '\\') {
				p->escaped = 1;
				k++;
			}
			k++;
		}
		if (k >= n)
			return -1; /* unterminated quoted-string */
		p->quoted = 1;
		p->val    = s + v0;
		p->vlen   = k++ - v0;
	} else {
		while (k < n && s[k] != ';' && !mp_blank(s[k]) && s[k] != '"')
			k++;
		if (k == v0)
			return -1;
		p->val  = s + v0;
		p->vlen = k - v0;
	}
	*i = k;
	return 1;
}

static int
mp_is(const mp_param *p, const char *name)
{
	return p->nlen == strlen(name)
	    && strncasecmp(p->name, name, p->nlen) == 0;
}

int
hearth_multipart_boundary(const char *content_type, const char **boundary,
    size_t *len, hearth_err *err)
{
	HEARTH_ASSERT(boundary != NULL && len != NULL);
	*boundary = NULL;
	*len      = 0;
	if (content_type == NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "multipart: no Content-Type header (expected "
		    "multipart/form-data; boundary=...)");
	const char *s = content_type;
	size_t      n = strlen(s), i = 0;
	int         cut = n > MP_MSG_CUT ? MP_MSG_CUT : (int) n;
	while (i < n && mp_blank(s[i]))
		i++;
	if (n - i < 10 || strncasecmp(s + i, "multipart/", 10) != 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "multipart: Content-Type \"%.*s\" is not multipart", cut,
		    s);
	while (i < n && s[i] != ';' && !mp_blank(s[i]))
		i++;
	mp_param p;
	int      rc;
	while ((rc = mp_param_next(s, n, &i, &p)) == 1) {
		if (!mp_is(&p, "boundary"))
			continue;
		if (p.vlen == 0 || p.vlen > HEARTH_MULTIPART_MAX_BOUNDARY)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "multipart: boundary of %zu bytes in Content-Type "
			    "(must be 1 to %d)",
			    p.vlen, HEARTH_MULTIPART_MAX_BOUNDARY);
		/* Zero-copy needs no escapes; RFC 2046 boundary characters
		 * never need one, so rejecting them loses no real client. */
		for (size_t k = 0; k < p.vlen; k++)
			if (p.val[k] == '\\' || (unsigned char) p.val[k] < 0x20
			    || p.val[k] == 0x7f)
				return hearth_err_set(err, HEARTH_EINVAL,
				    "multipart: boundary in Content-Type has "
				    "a "
				    "backslash or control character at offset "
				    "%zu",
				    (size_t) (p.val + k - s));
		*boundary = p.val;
		*len      = p.vlen;
		return 0;
	}
	if (rc < 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "multipart: malformed parameters in Content-Type \"%.*s\" "
		    "at offset %zu",
		    cut, s, i);
	return hearth_err_set(err, HEARTH_EINVAL,
	    "multipart: Content-Type \"%.*s\" has no boundary parameter", cut,
	    s);
}

typedef struct mp_state {
	hearth_arena *a;
	const char   *body;
	size_t        len;
	const char   *pat; /* "\n--" boundary */
	size_t        plen;
	hearth_err   *err;
} mp_state;

static int
mp_nomem(mp_state *st)
{
	return hearth_err_set(
	    st->err, HEARTH_ELIMIT, "multipart: request memory limit reached");
}

/* The body continues at k right after "--B". 1 = closing delimiter
 * ("--", blanks, then line end or end of body), 2 = part delimiter
 * (blanks, line end; *next = first byte after it), 0 = not a delimiter. */
static int
mp_tail(const mp_state *st, size_t k, size_t *next)
{
	const char *s       = st->body;
	size_t      n       = st->len;
	int         closing = 0;
	if (n - k >= 2 && s[k] == '-' && s[k + 1] == '-') {
		closing = 1;
		k += 2;
	}
	while (k < n && mp_blank(s[k]))
		k++;
	if (k < n && s[k] == '\r' && k + 1 < n && s[k + 1] == '\n')
		k++;
	if (k < n && s[k] == '\n')
		*next = k + 1;
	else if (closing && k == n)
		*next = n;
	else
		return 0;
	return closing ? 1 : 2;
}

/* Copy a header value [v0, v1) (which may span folded lines) into the
 * arena with line breaks turned into spaces and blanks trimmed. */
static char *
mp_header_value(mp_state *st, size_t v0, size_t v1)
{
	const char *s = st->body;
	while (v0 < v1 && mp_blank(s[v0]))
		v0++;
	char *out = hearth_arena_strndup(st->a, s + v0, v1 - v0);
	if (out == NULL)
		return NULL;
	size_t m = v1 - v0;
	for (size_t i = 0; i < m; i++)
		if (out[i] == '\r' || out[i] == '\n')
			out[i] = ' ';
	while (m > 0 && mp_blank(out[m - 1]))
		out[--m] = '\0';
	return out;
}

/* Copy a parameter value, resolving quoted-string escapes. */
static char *
mp_param_value(mp_state *st, const mp_param *p)
{
	char *out = hearth_arena_strndup(st->a, p->val, p->vlen);
	if (out == NULL || !p->escaped)
		return out;
	size_t m = 0;
	for (size_t i = 0; i < p->vlen; i++) {
		if (p->val[i] == '\\' && i + 1 < p->vlen)
			i++;
		out[m++] = p->val[i];
	}
	out[m] = '\0';
	return out;
}

static int
mp_disposition(
    mp_state *st, hearth_multipart_part *part, size_t no, const char *v)
{
	size_t n = strlen(v), i = 0;
	int    cut = n > MP_MSG_CUT ? MP_MSG_CUT : (int) n;
	while (i < n && mp_token(v[i]))
		i++;
	mp_param p;
	int      rc = i == 0 ? -1 : 1; /* the disposition type is required */
	while (rc == 1 && (rc = mp_param_next(v, n, &i, &p)) == 1) {
		const char **dst = mp_is(&p, "name") ? &part->name
		    : mp_is(&p, "filename")          ? &part->filename
		                                     : NULL;
		if (dst == NULL || *dst != NULL)
			continue; /* other params; repeats: first wins */
		if ((*dst = mp_param_value(st, &p)) == NULL)
			return mp_nomem(st);
	}
	if (rc < 0)
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "multipart: part %zu: malformed Content-Disposition "
		    "\"%.*s\"",
		    no, cut, v);
	if (part->name == NULL)
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "multipart: part %zu: Content-Disposition \"%.*s\" has no "
		    "name parameter",
		    no, cut, v);
	return 0;
}

/* One logical header [h0, h1): dispatch on its name. */
static int
mp_header(mp_state *st, hearth_multipart_part *part, size_t no, size_t h0,
    size_t h1, int *have_cd)
{
	const char *s     = st->body;
	const char *colon = memchr(s + h0, ':', h1 - h0);
	if (colon == NULL || colon == s + h0)
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "multipart: part %zu: malformed header line at offset %zu "
		    "(expected Name: value)",
		    no, h0);
	size_t nl = (size_t) (colon - (s + h0)), v0 = h0 + nl + 1;
	while (nl > 0 && mp_blank(s[h0 + nl - 1]))
		nl--;
	if (nl == 19 && strncasecmp(s + h0, "Content-Disposition", 19) == 0) {
		if (*have_cd)
			return 0; /* the first one counts, as in Go */
		*have_cd = 1;
		char *v  = mp_header_value(st, v0, h1);
		return v == NULL ? mp_nomem(st)
		                 : mp_disposition(st, part, no, v);
	}
	if (nl == 12 && strncasecmp(s + h0, "Content-Type", 12) == 0
	    && part->content_type == NULL) {
		part->content_type = mp_header_value(st, v0, h1);
		if (part->content_type == NULL)
			return mp_nomem(st);
	}
	return 0;
}

/* Header block of part no starting at *pos; on return *pos is the first
 * data byte. */
static int
mp_headers(mp_state *st, hearth_multipart_part *part, size_t no, size_t *pos)
{
	const char *s = st->body;
	/* The pending logical header is [cur, have); have == 0 means none
	 * (a header line is never empty, so its end is never 0). */
	size_t p = *pos, h0 = p, cur = p, have = 0;
	int    have_cd = 0;
	for (;;) {
		const char *eol = memchr(s + p, '\n', st->len - p);
		size_t      end = eol != NULL ? (size_t) (eol - s) : st->len;
		if (end + 1 - h0 > HEARTH_MULTIPART_MAX_HEADER)
			return hearth_err_set(st->err, HEARTH_EINVAL,
			    "multipart: part %zu: header block is larger than "
			    "%d bytes",
			    no, HEARTH_MULTIPART_MAX_HEADER);
		if (eol == NULL)
			return hearth_err_set(st->err, HEARTH_EINVAL,
			    "multipart: part %zu: headers are not ended by an "
			    "empty line",
			    no);
		size_t le = end > p && s[end - 1] == '\r' ? end - 1 : end;
		/* A line starting with a blank continues the header before
		 * it (obsolete folding, still legal in MIME). */
		int cont = le > p && mp_blank(s[p]) && have;
		if (!cont && have) {
			int rc = mp_header(st, part, no, cur, have, &have_cd);
			if (rc != 0)
				return rc;
			have = 0;
		}
		if (le == p) {
			*pos = end + 1;
			break;
		}
		if (!cont)
			cur = p;
		have = le; /* logical header runs [cur, have) */
		p    = end + 1;
	}
	if (!have_cd)
		return hearth_err_set(st->err, HEARTH_EINVAL,
		    "multipart: part %zu has no Content-Disposition header",
		    no);
	return 0;
}

int
hearth_multipart_parse(hearth_arena *a, const char *body, size_t len,
    const char *boundary, size_t blen, hearth_multipart_part **parts,
    size_t *n, hearth_err *err)
{
	HEARTH_ASSERT(a != NULL && parts != NULL && n != NULL);
	HEARTH_ASSERT(boundary != NULL && blen > 0);
	HEARTH_ASSERT(len == 0 || body != NULL);
	*parts       = NULL;
	*n           = 0;
	mp_state st  = { .a = a, .body = body, .len = len, .err = err };
	char    *pat = hearth_arena_alloc(a, blen + 3);
	if (pat == NULL)
		return mp_nomem(&st);
	memcpy(pat, "\n--", 3);
	memcpy(pat + 3, boundary, blen);
	st.pat  = pat;
	st.plen = blen + 3;

	/* First delimiter: at the very start or after a preamble line. */
	size_t next = 0, from = 0;
	int    kind = 0;
	if (len >= st.plen - 1 && memcmp(body, pat + 1, st.plen - 1) == 0)
		kind = mp_tail(&st, st.plen - 1, &next);
	while (kind == 0) {
		const char *m = len > from
		    ? memmem(body + from, len - from, pat, st.plen)
		    : NULL;
		if (m == NULL)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "multipart: the body has no delimiter line for "
			    "the boundary given in Content-Type");
		size_t at = (size_t) (m - body);
		kind      = mp_tail(&st, at + st.plen, &next);
		from      = at + 1;
	}
	hearth_multipart_part *v = NULL;
	if (kind == 2) {
		v = hearth_arena_calloc(
		    a, HEARTH_MULTIPART_MAX_PARTS, sizeof(*v));
		if (v == NULL)
			return mp_nomem(&st);
	}
	size_t np = 0;
	while (kind == 2) {
		if (np == HEARTH_MULTIPART_MAX_PARTS)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "multipart: more than %d parts",
			    HEARTH_MULTIPART_MAX_PARTS);
		hearth_multipart_part *part = &v[np++];
		size_t                 pos  = next;
		int                    rc   = mp_headers(&st, part, np, &pos);
		if (rc != 0)
			return rc;
		size_t dend = pos;
		kind        = 0;
		/* An empty part may put its delimiter right after the
		 * header block, without a line break of its own. */
		if (len - pos >= st.plen - 1
		    && memcmp(body + pos, pat + 1, st.plen - 1) == 0)
			kind = mp_tail(&st, pos + st.plen - 1, &next);
		for (from = pos; kind == 0; from = dend + 1) {
			const char *m = len > from
			    ? memmem(body + from, len - from, pat, st.plen)
			    : NULL;
			if (m == NULL)
				return hearth_err_set(err, HEARTH_EINVAL,
				    "multipart: missing closing boundary");
			dend = (size_t) (m - body);
			kind = mp_tail(&st, dend + st.plen, &next);
		}
		/* The line break before the delimiter belongs to it. */
		size_t dl
		    = dend > pos && body[dend - 1] == '\r' ? dend - 1 : dend;
		part->data = body + pos;
		part->len  = dl - pos;
	}
	*parts = v;
	*n     = np;
	return 0;
}
