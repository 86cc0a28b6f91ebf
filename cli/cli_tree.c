#include "cli_tree.h"

#include <stdlib.h>
#include <string.h>

static int
tree_nomem(hearth_err *err)
{
	return hearth_err_set(err, HEARTH_ELIMIT,
	    "flamebearer: out of memory decoding the flame graph");
}

static const char tree_total_name[] = "total";

/* Root-only tree for an answer without levels. */
static int
tree_empty(hearth_arena *a, hearth_cli_tree *t, hearth_err *err)
{
	t->nodes = hearth_arena_calloc(a, 1, sizeof(*t->nodes));
	if (t->nodes == NULL)
		return tree_nomem(err);
	t->n_nodes         = 1;
	t->nodes[0].parent = HEARTH_CLI_NO_PARENT;
	if (t->n_names == 0) {
		t->names     = hearth_arena_calloc(a, 1, sizeof(*t->names));
		t->name_lens = hearth_arena_calloc(a, 1, sizeof(size_t));
		if (t->names == NULL || t->name_lens == NULL)
			return tree_nomem(err);
		t->names[0]     = tree_total_name;
		t->name_lens[0] = sizeof(tree_total_name) - 1;
		t->n_names      = 1;
	}
	return 0;
}

static int
tree_names(hearth_arena *a, const hearth_cli_json *names, hearth_cli_tree *t,
    hearth_err *err)
{
	t->n_names   = names->n;
	t->names     = hearth_arena_calloc(a, names->n + 1, sizeof(*t->names));
	t->name_lens = hearth_arena_calloc(a, names->n + 1, sizeof(size_t));
	if (t->names == NULL || t->name_lens == NULL)
		return tree_nomem(err);
	for (size_t i = 0; i < names->n; i++) {
		if (names->items[i].type != HEARTH_CLI_JSON_STRING)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "flamebearer: names[%zu] is not a string", i);
		t->names[i]     = names->items[i].s;
		t->name_lens[i] = names->items[i].len;
	}
	return 0;
}

/* x of every node on each side, kept while decoding to find parents. */
typedef struct tree_span {
	int64_t x[2];
} tree_span;

static int
tree_contains(const hearth_cli_tree *t, const tree_span *sp, uint32_t p,
    uint32_t c, int sides)
{
	for (int s = 0; s < sides; s++) {
		int64_t pe = sp[p].x[s] + t->nodes[p].total[s];
		int64_t ce = sp[c].x[s] + t->nodes[c].total[s];
		if (sp[c].x[s] < sp[p].x[s] || ce > pe)
			return 0;
	}
	return 1;
}

/* One group of level k: values, span, parent. */
static int
tree_group(hearth_cli_tree *t, tree_span *sp, const hearth_cli_json *g,
    size_t width, uint32_t idx, size_t k, int64_t *end, uint32_t *scan,
    uint32_t level_start, hearth_err *err)
{
	int              sides = t->diff ? 2 : 1;
	hearth_cli_node *nd    = &t->nodes[idx];
	for (size_t v = 0; v < width; v++)
		if (g[v].type != HEARTH_CLI_JSON_NUMBER || !g[v].is_int
		    || g[v].i < 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "flamebearer: level %zu holds %s where a "
			    "non-negative integer belongs",
			    k,
			    g[v].type == HEARTH_CLI_JSON_NUMBER
			        ? "a negative or non-integer number"
			        : "a non-number");
	for (int s = 0; s < sides; s++) {
		int64_t xd = g[3 * s].i, tot = g[3 * s + 1].i;
		if (__builtin_add_overflow(end[s], xd, &sp[idx].x[s])
		    || __builtin_add_overflow(sp[idx].x[s], tot, &end[s]))
			return hearth_err_set(err, HEARTH_EINVAL,
			    "flamebearer: level %zu overflows int64", k);
		nd->total[s] = tot;
		nd->self[s]  = g[3 * s + 2].i;
	}
	if ((uint64_t) g[width - 1].i >= t->n_names)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "flamebearer: level %zu names index %lld, but there are "
		    "%zu names",
		    k, (long long) g[width - 1].i, t->n_names);
	nd->name   = (uint32_t) g[width - 1].i;
	nd->depth  = (uint32_t) k;
	nd->parent = HEARTH_CLI_NO_PARENT;
	if (k == 0)
		return 0;
	while (*scan < level_start && !tree_contains(t, sp, *scan, idx, sides))
		(*scan)++;
	if (*scan == level_start)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "flamebearer: a node of level %zu (\"%.*s\") lies outside "
		    "every node of level %zu",
		    k, (int) t->name_lens[nd->name], t->names[nd->name],
		    k - 1);
	hearth_cli_node *p = &t->nodes[*scan];
	if (p->n_children == 0)
		p->first_child = idx;
	p->n_children++;
	nd->parent = *scan;
	return 0;
}

int
hearth_cli_tree_decode(hearth_arena *a, const hearth_cli_json *fb, int diff,
    hearth_cli_tree **out, hearth_err *err)
{
	size_t                 width  = diff ? 7 : 4;
	const hearth_cli_json *names  = hearth_cli_json_get(fb, "names");
	const hearth_cli_json *levels = hearth_cli_json_get(fb, "levels");
	*out                          = NULL;
	if (names == NULL || names->type != HEARTH_CLI_JSON_ARRAY
	    || levels == NULL || levels->type != HEARTH_CLI_JSON_ARRAY)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "flamebearer: the answer has no \"names\" and \"levels\" "
		    "arrays (is the URL a hearth or Pyroscope server?)");
	hearth_cli_tree *t = hearth_arena_calloc(a, 1, sizeof(*t));
	if (t == NULL)
		return tree_nomem(err);
	t->diff = diff;
	if (tree_names(a, names, t, err) != 0)
		return err->code;
	size_t n = 0;
	for (size_t k = 0; k < levels->n; k++) {
		const hearth_cli_json *lv = &levels->items[k];
		if (lv->type != HEARTH_CLI_JSON_ARRAY || lv->n % width != 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "flamebearer: level %zu is not an array of "
			    "%zu-number groups",
			    k, width);
		if (k == 0 && lv->n != width)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "flamebearer: level 0 must hold exactly the root");
		n += lv->n / width;
	}
	if (n == 0) {
		if (tree_empty(a, t, err) != 0)
			return err->code;
		*out = t;
		return 0;
	}
	if (n >= UINT32_MAX)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "flamebearer: %zu nodes are too many", n);
	t->nodes      = hearth_arena_calloc(a, n, sizeof(*t->nodes));
	tree_span *sp = hearth_arena_calloc(a, n, sizeof(*sp));
	if (t->nodes == NULL || sp == NULL)
		return tree_nomem(err);
	t->n_nodes    = n;
	uint32_t idx  = 0;
	uint32_t prev = 0; /* first node of the previous level */
	for (size_t k = 0; k < levels->n; k++) {
		const hearth_cli_json *lv     = &levels->items[k];
		int64_t                end[2] = { 0, 0 };
		uint32_t               start = idx, scan = prev;
		for (size_t g = 0; g < lv->n; g += width, idx++)
			if (tree_group(t, sp, &lv->items[g], width, idx, k,
			        end, &scan, start, err)
			    != 0)
				return err->code;
		prev = start;
	}
	*out = t;
	return 0;
}

static int64_t
tree_add(int64_t x, int64_t y)
{
	int64_t r;
	return __builtin_add_overflow(x, y, &r) ? INT64_MAX : r;
}

int
hearth_cli_tree_functions(hearth_arena *a, const hearth_cli_tree *t,
    hearth_cli_fn **out, size_t *n, hearth_err *err)
{
	*out = NULL;
	*n   = 0;
	/* fn_of[name] = 1 + index into fns; active[name] = how many
	 * ancestors on the current path have that name. */
	uint32_t *fn_of  = hearth_arena_calloc(a, t->n_names, sizeof(*fn_of));
	uint32_t *active = hearth_arena_calloc(a, t->n_names, sizeof(*active));
	hearth_cli_fn *fns
	    = hearth_arena_calloc(a, t->n_names + 1, sizeof(*fns));
	size_t    depth = t->nodes[t->n_nodes - 1].depth + 1;
	uint32_t *stk   = hearth_arena_calloc(a, depth, sizeof(*stk));
	uint32_t *next  = hearth_arena_calloc(a, depth, sizeof(*next));
	if (fn_of == NULL || active == NULL || fns == NULL || stk == NULL
	    || next == NULL)
		return tree_nomem(err);
	size_t nf = 0, sp = 1;
	stk[0]  = 0;
	next[0] = 0;
	while (sp > 0) {
		const hearth_cli_node *u = &t->nodes[stk[sp - 1]];
		if (next[sp - 1] == u->n_children) {
			if (stk[sp - 1] != 0)
				active[u->name]--;
			sp--;
			continue;
		}
		uint32_t               c  = u->first_child + next[sp - 1]++;
		const hearth_cli_node *cn = &t->nodes[c];
		if (fn_of[cn->name] == 0) {
			fns[nf].name    = t->names[cn->name];
			fns[nf].len     = t->name_lens[cn->name];
			fn_of[cn->name] = (uint32_t) ++nf;
		}
		hearth_cli_fn *f = &fns[fn_of[cn->name] - 1];
		for (int s = 0; s < 2; s++) {
			f->self[s] = tree_add(f->self[s], cn->self[s]);
			if (active[cn->name] == 0)
				f->total[s]
				    = tree_add(f->total[s], cn->total[s]);
		}
		active[cn->name]++;
		HEARTH_ASSERT(
		    sp < depth); /* invariant (1): depth grows by 1 */
		stk[sp]  = c;
		next[sp] = 0;
		sp++;
	}
	*out = fns;
	*n   = nf;
	return 0;
}

static int
tree_key_cmp(int64_t x, int64_t y)
{
	return x > y ? -1 : x < y ? 1 : 0; /* descending */
}

static int
tree_name_cmp(const hearth_cli_fn *x, const hearth_cli_fn *y)
{
	size_t m = x->len < y->len ? x->len : y->len;
	int    c = memcmp(x->name, y->name, m);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

static int
tree_cmp_self(const void *p, const void *q)
{
	const hearth_cli_fn *x = p, *y = q;
	int                  c = tree_key_cmp(x->self[0], y->self[0]);
	if (c == 0)
		c = tree_key_cmp(x->total[0], y->total[0]);
	return c != 0 ? c : tree_name_cmp(x, y);
}

static int
tree_cmp_total(const void *p, const void *q)
{
	const hearth_cli_fn *x = p, *y = q;
	int                  c = tree_key_cmp(x->total[0], y->total[0]);
	if (c == 0)
		c = tree_key_cmp(x->self[0], y->self[0]);
	return c != 0 ? c : tree_name_cmp(x, y);
}

static int
tree_cmp_self_delta(const void *p, const void *q)
{
	const hearth_cli_fn *x = p, *y = q;
	int c = tree_key_cmp(x->self[1] - x->self[0], y->self[1] - y->self[0]);
	if (c == 0)
		c = tree_key_cmp(
		    x->total[1] - x->total[0], y->total[1] - y->total[0]);
	return c != 0 ? c : tree_name_cmp(x, y);
}

static int
tree_cmp_total_delta(const void *p, const void *q)
{
	const hearth_cli_fn *x = p, *y = q;
	int                  c = tree_key_cmp(
	                     x->total[1] - x->total[0], y->total[1] - y->total[0]);
	if (c == 0)
		c = tree_key_cmp(
		    x->self[1] - x->self[0], y->self[1] - y->self[0]);
	return c != 0 ? c : tree_name_cmp(x, y);
}

void
hearth_cli_tree_sort(hearth_cli_fn *f, size_t n, int key)
{
	int (*cmp[])(const void *, const void *) = { tree_cmp_self,
		tree_cmp_total, tree_cmp_self_delta, tree_cmp_total_delta };
	HEARTH_ASSERT(key >= 0 && key < 4);
	if (n > 1)
		qsort(f, n, sizeof(*f), cmp[key]);
}

typedef struct tree_line {
	char   *s;
	size_t  len;
	int64_t value;
} tree_line;

static int
tree_line_cmp(const void *p, const void *q)
{
	const tree_line *x = p, *y = q;
	size_t           m = x->len < y->len ? x->len : y->len;
	int              c = memcmp(x->s, y->s, m);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len ? 1 : 0;
}

int
hearth_cli_tree_folded(hearth_arena *a, const hearth_cli_tree *t,
    hearth_buf *out, hearth_err *err)
{
	size_t n = 0;
	for (size_t i = 1; i < t->n_nodes; i++)
		n += t->nodes[i].self[0] != 0;
	tree_line *lines = hearth_arena_calloc(a, n + 1, sizeof(*lines));
	if (lines == NULL)
		return tree_nomem(err);
	size_t k = 0;
	for (uint32_t i = 1; i < t->n_nodes; i++) {
		if (t->nodes[i].self[0] == 0)
			continue;
		size_t len = 0;
		for (uint32_t j = i; j != 0; j = t->nodes[j].parent)
			len += t->name_lens[t->nodes[j].name] + 1;
		char *s = hearth_arena_alloc(a, len);
		if (s == NULL)
			return tree_nomem(err);
		/* Written leaf first from the end, so the root lands first. */
		size_t pos = len - 1;
		for (uint32_t j = i; j != 0; j = t->nodes[j].parent) {
			size_t nl = t->name_lens[t->nodes[j].name];
			pos -= nl;
			memcpy(s + pos, t->names[t->nodes[j].name], nl);
			if (pos > 0)
				s[--pos] = ';';
		}
		lines[k].s     = s;
		lines[k].len   = len - 1;
		lines[k].value = t->nodes[i].self[0];
		k++;
	}
	qsort(lines, k, sizeof(*lines), tree_line_cmp);
	for (size_t i = 0; i < k; i++) {
		hearth_buf_append(out, lines[i].s, lines[i].len);
		hearth_buf_putc(out, ' ');
		hearth_buf_put_i64(out, lines[i].value);
		hearth_buf_putc(out, '\n');
	}
	return 0;
}
