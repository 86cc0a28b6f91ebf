/*
 * labels: sorting, hashing, validation and the /ingest `name` parser.
 *
 * The sort must be stable (a later duplicate wins) and must not allocate
 * (the API has no arena and no error path), yet label counts come from
 * clients, so quadratic insertion sort alone would let one request burn
 * seconds. Hence: insertion sort on short runs, then bottom-up merging of
 * runs in place with rotations (O(n log^2 n) moves, no buffer).
 */
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include "labels.h"
#include "utf8.h"

#include <stdint.h>
#include <string.h>
#include <xxhash.h>

#define LABELS_RUN 16       /* insertion-sorted run length before merging */
#define LABELS_MSG_NAME 128 /* longest excerpt of input in a message */

/* Length of a quoted excerpt in a message: one hostile key cannot crowd
 * out the rest. */
static int
labels_cut(size_t n)
{
	return n > LABELS_MSG_NAME ? LABELS_MSG_NAME : (int) n;
}

static int
labels_less(const hearth_label *x, const hearth_label *y)
{
	return strcmp(x->name, y->name) < 0;
}

static void
labels_reverse(hearth_label *ls, size_t lo, size_t hi)
{
	while (lo + 1 < hi) {
		hearth_label t = ls[lo];
		ls[lo]         = ls[hi - 1];
		ls[hi - 1]     = t;
		lo++;
		hi--;
	}
}

/* [lo, mid) [mid, hi) -> [mid, hi) [lo, mid) */
static void
labels_rotate(hearth_label *ls, size_t lo, size_t mid, size_t hi)
{
	labels_reverse(ls, lo, mid);
	labels_reverse(ls, mid, hi);
	labels_reverse(ls, lo, hi);
}

/* Merge the sorted ranges [lo, mid) and [mid, hi) in place, stably: split
 * the longer range at its middle, find where that element belongs in the
 * other range (lower bound on the right side, upper bound on the left, so
 * equal names keep their input order), rotate the two inner pieces into
 * place and recurse on both halves. Depth is O(log n). */
static void
labels_merge(hearth_label *ls, size_t lo, size_t mid, size_t hi)
{
	if (lo == mid || mid == hi)
		return;
	if (hi - lo == 2) {
		if (labels_less(&ls[mid], &ls[lo])) {
			hearth_label t = ls[lo];
			ls[lo]         = ls[mid];
			ls[mid]        = t;
		}
		return;
	}
	size_t cut1, cut2;
	if (mid - lo > hi - mid) {
		cut1     = lo + (mid - lo) / 2;
		size_t a = mid, b = hi; /* first in [mid,hi) not < ls[cut1] */
		while (a < b) {
			size_t m = a + (b - a) / 2;
			if (labels_less(&ls[m], &ls[cut1]))
				a = m + 1;
			else
				b = m;
		}
		cut2 = a;
	} else {
		cut2     = mid + (hi - mid) / 2;
		size_t a = lo, b = mid; /* first in [lo,mid) > ls[cut2] */
		while (a < b) {
			size_t m = a + (b - a) / 2;
			if (labels_less(&ls[cut2], &ls[m]))
				b = m;
			else
				a = m + 1;
		}
		cut1 = a;
	}
	labels_rotate(ls, cut1, mid, cut2);
	size_t nmid = cut1 + (cut2 - mid);
	labels_merge(ls, lo, cut1, nmid);
	labels_merge(ls, nmid, cut2, hi);
}

size_t
hearth_labels_sort(hearth_label *ls, size_t n)
{
	HEARTH_ASSERT(n == 0 || ls != NULL);
	for (size_t lo = 0; lo < n; lo += LABELS_RUN) {
		size_t hi = lo + LABELS_RUN < n ? lo + LABELS_RUN : n;
		for (size_t i = lo + 1; i < hi; i++) {
			hearth_label t = ls[i];
			size_t       j = i;
			while (j > lo && labels_less(&t, &ls[j - 1])) {
				ls[j] = ls[j - 1];
				j--;
			}
			ls[j] = t;
		}
	}
	for (size_t w = LABELS_RUN; w < n; w *= 2)
		for (size_t lo = 0; lo + w < n; lo += 2 * w) {
			size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			labels_merge(ls, lo, lo + w, hi);
		}
	/* Equal names are adjacent and in input order: keep the last. */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && strcmp(ls[m - 1].name, ls[i].name) == 0)
			ls[m - 1] = ls[i];
		else
			ls[m++] = ls[i];
	}
	return m;
}

size_t
hearth_labels_drop_empty(hearth_label *ls, size_t n)
{
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (ls[i].value != NULL && ls[i].value[0] != '\0')
			ls[m++] = ls[i];
	return m;
}

const char *
hearth_labels_get(const hearth_label *ls, size_t n, const char *name)
{
	/* Scan backwards: in an unsorted set the last assignment wins, as in
	 * hearth_labels_sort. */
	for (size_t i = n; i > 0; i--)
		if (strcmp(ls[i - 1].name, name) == 0)
			return ls[i - 1].value;
	return NULL;
}

uint64_t
hearth_labels_fingerprint(const char *tenant, const hearth_label *ls, size_t n)
{
	static const unsigned char sep = 0xff;
	XXH3_state_t               st;
	XXH3_INITSTATE(&st);
	XXH3_64bits_reset(&st);
	XXH3_64bits_update(&st, tenant, strlen(tenant));
	XXH3_64bits_update(&st, &sep, 1);
	for (size_t i = 0; i < n; i++) {
		XXH3_64bits_update(&st, ls[i].name, strlen(ls[i].name));
		XXH3_64bits_update(&st, &sep, 1);
		XXH3_64bits_update(&st, ls[i].value, strlen(ls[i].value));
		XXH3_64bits_update(&st, &sep, 1);
	}
	return XXH3_64bits_digest(&st);
}

int
hearth_labels_equal(
    const hearth_label *a, size_t na, const hearth_label *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (strcmp(a[i].name, b[i].name) != 0
		    || strcmp(a[i].value, b[i].value) != 0)
			return 0;
	return 1;
}

int
hearth_labels_validate(const hearth_label *ls, size_t n,
    const hearth_labels_limits *lim, hearth_err *err)
{
	static const hearth_labels_limits unlimited = { 0, 0, 0 };
	if (lim == NULL)
		lim = &unlimited;
	if (n == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "labels: a series needs at least one label");
	if (lim->max_label_names_per_series > 0
	    && n > lim->max_label_names_per_series)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "max_label_names_per_series: series has %zu labels, "
		    "limit %zu",
		    n, lim->max_label_names_per_series);
	const char *metric = hearth_labels_get(ls, n, "__name__");
	if (metric == NULL || metric[0] == '\0')
		return hearth_err_set(err, HEARTH_EINVAL,
		    "labels: __name__ (the profile name) is missing or empty");
	if (!hearth_utf8_valid(metric, strlen(metric)))
		return hearth_err_set(
		    err, HEARTH_EINVAL, "labels: __name__ is not valid UTF-8");
	const char *svc = hearth_labels_get(ls, n, "service_name");
	if (svc == NULL || svc[0] == '\0')
		return hearth_err_set(err, HEARTH_EINVAL,
		    "labels: service_name is missing or empty");
	for (size_t i = 0; i < n; i++) {
		const char *name = ls[i].name, *value = ls[i].value;
		size_t      nl = strlen(name), vl = strlen(value);
		int         cut = labels_cut(nl);
		if (lim->max_label_name_length > 0
		    && nl > lim->max_label_name_length)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "max_label_name_length: label name \"%.*s...\" is "
			    "%zu bytes, limit %zu",
			    cut, name, nl, lim->max_label_name_length);
		if (lim->max_label_value_length > 0
		    && vl > lim->max_label_value_length)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "max_label_value_length: label \"%.*s\" value is "
			    "%zu bytes, limit %zu",
			    cut, name, vl, lim->max_label_value_length);
		if (nl == 0)
			return hearth_err_set(
			    err, HEARTH_EINVAL, "labels: empty label name");
		if (!hearth_utf8_valid(name, nl))
			return hearth_err_set(err, HEARTH_EINVAL,
			    "labels: label name \"%.*s\" is not valid UTF-8",
			    cut, name);
		if (!hearth_utf8_valid(value, vl))
			return hearth_err_set(err, HEARTH_EINVAL,
			    "labels: value of label \"%.*s\" is not valid "
			    "UTF-8",
			    cut, name);
		if (i > 0 && strcmp(ls[i - 1].name, name) == 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "duplicate_label_names: label \"%.*s\" appears "
			    "twice",
			    cut, name);
	}
	return 0;
}

/* ---- /ingest `name` (ingest-http.md §3) ---- */

static int
labels_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v'
	    || c == '\f';
}

static int
labels_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
	    || (c >= '0' && c <= '9');
}

/* Trim [*lo, *hi) of ASCII whitespace. */
static void
labels_trim(const char *s, size_t *lo, size_t *hi)
{
	while (*lo < *hi && labels_space(s[*lo]))
		(*lo)++;
	while (*hi > *lo && labels_space(s[*hi - 1]))
		(*hi)--;
}

/* A character for an error message: printable ASCII as 'c', anything
 * else as 0xNN, so the message stays readable and valid UTF-8. */
static const char *
labels_show(char c, char buf[8])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char     u     = (unsigned char) c;
	if (u >= 0x21 && u < 0x7f && u != '"' && u != '\\') {
		buf[0] = '\'';
		buf[1] = c;
		buf[2] = '\'';
		buf[3] = '\0';
	} else {
		buf[0] = '0';
		buf[1] = 'x';
		buf[2] = hex[u >> 4];
		buf[3] = hex[u & 15];
		buf[4] = '\0';
	}
	return buf;
}

typedef struct labels_parse {
	hearth_arena *a;
	const char   *s;
	hearth_label *ls;
	size_t        n, cap;
	hearth_err   *err;
} labels_parse;

static int
labels_nomem(labels_parse *p)
{
	return hearth_err_set(p->err, HEARTH_ELIMIT,
	    "name: request memory limit reached while parsing labels");
}

/* Add key=value (offsets into s); a repeated key overwrites the earlier
 * value in place so the input order of first appearance is kept. */
static int
labels_put(labels_parse *p, size_t k0, size_t k1, size_t v0, size_t v1)
{
	size_t      kl = k1 - k0;
	const char *k  = p->s + k0;
	/* __* keys are SDK-internal; only the session id survives (§3). */
	if (kl >= 2 && k[0] == '_' && k[1] == '_'
	    && !(kl == 14 && memcmp(k, "__session_id__", 14) == 0))
		return 0;
	char *value = hearth_arena_strndup(p->a, p->s + v0, v1 - v0);
	if (value == NULL)
		return labels_nomem(p);
	for (size_t i = 0; i < p->n; i++)
		if (strlen(p->ls[i].name) == kl
		    && memcmp(p->ls[i].name, k, kl) == 0) {
			p->ls[i].value = value;
			return 0;
		}
	if (p->n == p->cap) {
		size_t        nc = p->cap ? p->cap * 2 : 8;
		hearth_label *nl = hearth_arena_realloc(
		    p->a, p->ls, p->cap * sizeof(*nl), nc * sizeof(*nl));
		if (nl == NULL)
			return labels_nomem(p);
		p->ls  = nl;
		p->cap = nc;
	}
	char *name = hearth_arena_strndup(p->a, k, kl);
	if (name == NULL)
		return labels_nomem(p);
	p->ls[p->n].name    = name;
	p->ls[p->n++].value = value;
	return 0;
}

/* Parse the `{...}` part; s[open] == '{'. */
static int
labels_parse_braces(labels_parse *p, size_t open, size_t len)
{
	const char *s = p->s;
	size_t      i = open + 1;
	char        cb[8];
	for (;;) {
		size_t k0 = i;
		while (i < len && s[i] != '=' && s[i] != ',' && s[i] != '}')
			i++;
		size_t k1 = i;
		labels_trim(s, &k0, &k1);
		int kc = labels_cut(k1 - k0);
		if (i == len && k0 == k1)
			return hearth_err_set(p->err, HEARTH_EINVAL,
			    "name: missing closing '}' (labels opened at "
			    "offset %zu)",
			    open);
		if (i == len || (s[i] != '=' && k0 != k1))
			return hearth_err_set(p->err, HEARTH_EINVAL,
			    "name: label \"%.*s\" at offset %zu has no value "
			    "(expected key=value)",
			    kc, s + k0, k0);
		if (s[i] == '}')
			return 0; /* `{}` or a trailing `,}` */
		if (s[i] == ',')
			return hearth_err_set(p->err, HEARTH_EINVAL,
			    "name: empty label at offset %zu (expected "
			    "key=value)",
			    i);
		if (k0 == k1)
			return hearth_err_set(p->err, HEARTH_EINVAL,
			    "name: empty label key before '=' at offset %zu",
			    i);
		for (size_t j = k0; j < k1; j++)
			if (!labels_alnum(s[j]) && s[j] != '_' && s[j] != '.')
				return hearth_err_set(p->err, HEARTH_EINVAL,
				    "name: label key \"%.*s\" has character "
				    "%s "
				    "at offset %zu that is not allowed "
				    "(allowed: A-Z a-z 0-9 _ .)",
				    kc, s + k0, labels_show(s[j], cb), j);
		i++; /* '=': the value is everything up to ',' or '}' */
		size_t v0 = i;
		while (i < len && s[i] != ',' && s[i] != '}') {
			if (s[i] == '\0')
				return hearth_err_set(p->err, HEARTH_EINVAL,
				    "name: NUL byte at offset %zu in the "
				    "value "
				    "of label \"%.*s\"",
				    i, kc, s + k0);
			i++;
		}
		if (i == len)
			return hearth_err_set(p->err, HEARTH_EINVAL,
			    "name: missing closing '}' after the value of "
			    "label \"%.*s\" (labels opened at offset %zu)",
			    kc, s + k0, open);
		size_t v1 = i;
		labels_trim(s, &v0, &v1);
		int rc = labels_put(p, k0, k1, v0, v1);
		if (rc != 0)
			return rc;
		if (s[i++] == '}')
			return 0; /* text after '}' is ignored, as upstream */
	}
}

int
hearth_labels_parse_ingest_name(hearth_arena *a, const char *s, size_t len,
    const char **app, hearth_label **labels, size_t *n, hearth_err *err)
{
	HEARTH_ASSERT(a != NULL && app != NULL && labels != NULL && n != NULL);
	*app        = NULL;
	*labels     = NULL;
	*n          = 0;
	size_t open = 0;
	while (open < len && s[open] != '{')
		open++;
	size_t lo = 0, hi = open;
	labels_trim(s, &lo, &hi);
	if (lo == hi)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "name: the application name is empty (expected e.g. "
		    "myapp.cpu{env=prod})");
	char cb[8];
	for (size_t i = lo; i < hi; i++) {
		char c = s[i];
		if (!labels_alnum(c) && c != '_' && c != '.' && c != '-'
		    && c != '/')
			return hearth_err_set(err, HEARTH_EINVAL,
			    "name: application name \"%.*s\" has character %s "
			    "at offset %zu that is not allowed (allowed: A-Z "
			    "a-z 0-9 _ . - /)",
			    labels_cut(hi - lo), s + lo, labels_show(c, cb),
			    i);
	}
	labels_parse p = { .a = a, .s = s, .err = err };
	if (open < len) {
		int rc = labels_parse_braces(&p, open, len);
		if (rc != 0)
			return rc;
	}
	char *name = hearth_arena_strndup(a, s + lo, hi - lo);
	if (name == NULL)
		return labels_nomem(&p);
	*app    = name;
	*labels = p.ls;
	*n      = p.n;
	return 0;
}
