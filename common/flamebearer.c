#include "flamebearer.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define FB_NONE	 UINT32_MAX
/* Work items are view node indexes; the top bit marks the synthetic
 * "other" child of that node (node indexes stay below 2^31). */
#define FB_OTHER 0x80000000u

/* One input tree with what the layout needs: node totals and children
 * sorted by name (CSR: children of i are kids[off[i] .. off[i+1])). */
typedef struct fb_side {
	const hearth_fgtree *t;
	int64_t		    *tot;
	uint32_t	    *off;
	uint32_t	    *kids;
} fb_side;

/* The tree being laid out. For a single graph it is the fgtree itself
 * (idx NULL = identity, children from the side's CSR). For a diff it is
 * the union of both trees: view node u stands for idx[0][u] on the left
 * and idx[1][u] on the right (FB_NONE = absent, an empty node), and its
 * children are the contiguous range off[u] .. off[u+1] (kids NULL). */
typedef struct fb_view {
	int	  sides;
	fb_side	  s[2];
	size_t	  n;
	uint32_t *idx[2];
	uint32_t *off;
	uint32_t *kids;
	int64_t	  thr;
	uint32_t  other_id; /* single: name id of a literal "other" */
} fb_view;

/* Output names: the strings and a hash set over them. */
typedef struct fb_names {
	const char **p;
	size_t	    *len;
	size_t	     n, cap;
	uint32_t    *slots; /* index + 1, 0 = empty; load <= 1/2 */
	size_t	     mask;
} fb_names;

static int64_t
fb_sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* Byte order, shorter first on a common prefix (Go's string order). */
static int
fb_name_cmp(const char *a, size_t la, const char *b, size_t lb)
{
	int c = memcmp(a, b, la < lb ? la : lb);
	if (c != 0)
		return c;
	return la < lb ? -1 : la > lb;
}

typedef struct fb_sname {
	const char *p;
	size_t	    len;
	uint32_t    id;
} fb_sname;

static int
fb_sname_cmp(const void *a, const void *b)
{
	const fb_sname *x = a, *y = b;
	return fb_name_cmp(x->p, x->len, y->p, y->len);
}

static int
fb_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

static void
fb_side_fini(fb_side *s)
{
	free(s->tot);
	free(s->off);
	free(s->kids);
}

/* Totals and name-sorted children of t. Names are ranked once (sorting
 * the distinct names), so each parent's children sort as plain integers
 * (rank << 32 | node) with no comparison context. */
static int
fb_side_init(fb_side *s, const hearth_fgtree *t)
{
	memset(s, 0, sizeof(*s));
	s->t		= t;
	size_t	  n	= hearth_fgtree_size(t);
	size_t	  nn	= hearth_fgtree_name_count(t);
	int	  rc	= HEARTH_ENOMEM;
	fb_sname *order = malloc(nn * sizeof(*order));
	uint32_t *rank	= malloc(nn * sizeof(*rank));
	uint32_t *cur	= malloc(n * sizeof(*cur));
	uint64_t *keys	= malloc(n * sizeof(*keys));
	s->tot		= malloc(n * sizeof(*s->tot));
	s->off		= calloc(n + 1, sizeof(*s->off));
	s->kids		= malloc(n * sizeof(*s->kids));
	if (order == NULL || rank == NULL || cur == NULL || keys == NULL ||
	    s->tot == NULL || s->off == NULL || s->kids == NULL)
		goto out;
	hearth_fgtree_totals(t, s->tot);
	for (uint32_t id = 0; id < nn; id++) {
		hearth_fgtree_name(t, id, &order[id].p, &order[id].len);
		order[id].id = id;
	}
	qsort(order, nn, sizeof(*order), fb_sname_cmp);
	for (uint32_t r = 0; r < nn; r++)
		rank[order[r].id] = r;
	for (uint32_t i = 1; i < n; i++) {
		uint32_t p;
		hearth_fgtree_node(t, i, &p, NULL, NULL, NULL);
		s->off[p + 1]++;
	}
	for (size_t i = 0; i < n; i++) {
		s->off[i + 1] += s->off[i];
		cur[i] = s->off[i];
	}
	for (uint32_t i = 1; i < n; i++) {
		uint32_t p;
		hearth_fgtree_node(t, i, &p, NULL, NULL, NULL);
		keys[cur[p]++] =
		    ((uint64_t) rank[hearth_fgtree_node_name(t, i)] << 32) | i;
	}
	for (size_t i = 0; i < n; i++) {
		size_t k = s->off[i + 1] - s->off[i];
		if (k > 1)
			qsort(keys + s->off[i], k, sizeof(*keys), fb_u64_cmp);
	}
	for (size_t j = 0; j + 1 < n; j++)
		s->kids[j] = (uint32_t) keys[j];
	rc = 0;
out:
	free(order);
	free(rank);
	free(cur);
	free(keys);
	return rc;
}

static inline uint32_t
fb_tnode(const fb_view *v, int side, uint32_t u)
{
	return v->idx[side] != NULL ? v->idx[side][u] : u;
}

static inline uint32_t
fb_nkids(const fb_view *v, uint32_t u)
{
	return v->off[u + 1] - v->off[u];
}

static inline uint32_t
fb_kid(const fb_view *v, uint32_t u, uint32_t j)
{
	return v->kids != NULL ? v->kids[v->off[u] + j] : v->off[u] + j;
}

static int64_t
fb_tot(const fb_view *v, int side, uint32_t u)
{
	if (side >= v->sides)
		return 0;
	uint32_t i = fb_tnode(v, side, u);
	return i == FB_NONE ? 0 : v->s[side].tot[i];
}

static int64_t
fb_self(const fb_view *v, int side, uint32_t u)
{
	if (side >= v->sides)
		return 0;
	uint32_t i    = fb_tnode(v, side, u);
	int64_t	 self = 0;
	if (i != FB_NONE)
		hearth_fgtree_node(v->s[side].t, i, NULL, NULL, NULL, &self);
	return self;
}

static void
fb_name(const fb_view *v, uint32_t u, const char **p, size_t *len)
{
	uint32_t i = fb_tnode(v, 0, u);
	if (i != FB_NONE)
		hearth_fgtree_node(v->s[0].t, i, NULL, p, len, NULL);
	else
		hearth_fgtree_node(v->s[1].t, fb_tnode(v, 1, u), NULL, p, len,
		    NULL);
}

/* Truncation key: the larger total of the pair (single: the total). */
static int64_t
fb_key(const fb_view *v, uint32_t u)
{
	int64_t a = fb_tot(v, 0, u), b = fb_tot(v, 1, u);
	return a > b ? a : b;
}

static int
fb_kept(const fb_view *v, uint32_t c)
{
	if (fb_key(v, c) < v->thr)
		return 0;
	return v->other_id == FB_NONE ||
	    hearth_fgtree_node_name(v->s[0].t, c) != v->other_id;
}

/* Sums of u's dropped children per side; 1 when an "other" is emitted. */
static int
fb_other(const fb_view *v, uint32_t u, int64_t sum[2])
{
	sum[0] = sum[1] = 0;
	for (uint32_t j = 0, k = fb_nkids(v, u); j < k; j++) {
		uint32_t c = fb_kid(v, u, j);
		if (fb_kept(v, c))
			continue;
		sum[0] = fb_sat_add(sum[0], fb_tot(v, 0, c));
		sum[1] = fb_sat_add(sum[1], fb_tot(v, 1, c));
	}
	return sum[0] != 0 || sum[1] != 0;
}

/* Make the diff view: walk both trees breadth-first from the roots,
 * merging each pair's name-sorted child lists. Breadth-first numbering
 * keeps each node's children contiguous and in name order. */
static int
fb_union(fb_view *v)
{
	size_t nl = hearth_fgtree_size(v->s[0].t);
	size_t nr = hearth_fgtree_size(v->s[1].t);
	size_t cap = nl + nr - 1; /* every union node but the root has a
				   * node on at least one side */
	if (cap >= FB_OTHER)
		return HEARTH_ELIMIT;
	v->idx[0] = malloc(cap * sizeof(uint32_t));
	v->idx[1] = malloc(cap * sizeof(uint32_t));
	v->off	  = malloc((cap + 1) * sizeof(uint32_t));
	if (v->idx[0] == NULL || v->idx[1] == NULL || v->off == NULL)
		return HEARTH_ENOMEM;
	const fb_side *L = &v->s[0], *R = &v->s[1];
	v->idx[0][0] = v->idx[1][0] = 0;
	size_t n		     = 1;
	for (size_t u = 0; u < n; u++) {
		v->off[u]   = (uint32_t) n;
		uint32_t l  = v->idx[0][u], r = v->idx[1][u];
		uint32_t i  = l == FB_NONE ? 0 : L->off[l];
		uint32_t ie = l == FB_NONE ? 0 : L->off[l + 1];
		uint32_t j  = r == FB_NONE ? 0 : R->off[r];
		uint32_t je = r == FB_NONE ? 0 : R->off[r + 1];
		while (i < ie || j < je) {
			int c;
			if (i == ie) {
				c = 1;
			} else if (j == je) {
				c = -1;
			} else {
				const char *a, *b;
				size_t	    la, lb;
				hearth_fgtree_node(L->t, L->kids[i], NULL, &a,
				    &la, NULL);
				hearth_fgtree_node(R->t, R->kids[j], NULL, &b,
				    &lb, NULL);
				c = fb_name_cmp(a, la, b, lb);
			}
			v->idx[0][n] = c <= 0 ? L->kids[i++] : FB_NONE;
			v->idx[1][n] = c >= 0 ? R->kids[j++] : FB_NONE;
			n++;
		}
	}
	v->off[n] = (uint32_t) n;
	v->n	  = n;
	return 0;
}

/* Threshold of the module comment: keys over `from`..n, counted against
 * max_nodes (single counts without the root, diff with it). */
static int
fb_threshold(fb_view *v, int64_t max_nodes, size_t from)
{
	v->thr = 0;
	if (max_nodes <= 0 || v->n - from <= (uint64_t) max_nodes)
		return 0;
	int64_t *keys = malloc((v->n - from) * sizeof(*keys));
	if (keys == NULL)
		return HEARTH_ENOMEM;
	for (size_t u = from; u < v->n; u++)
		keys[u - from] = fb_key(v, (uint32_t) u);
	int rc = hearth_fgtree_kth_largest(keys, v->n - from,
	    (size_t) max_nodes, &v->thr);
	free(keys);
	return rc;
}

static int
fb_names_add(fb_names *nm, const char *p, size_t len, uint32_t *idx)
{
	uint64_t h = XXH3_64bits(p, len);
	size_t	 i = (size_t) h & nm->mask;
	for (uint32_t s; (s = nm->slots[i]) != 0; i = (i + 1) & nm->mask) {
		if (nm->len[s - 1] == len &&
		    (len == 0 || memcmp(nm->p[s - 1], p, len) == 0)) {
			*idx = s - 1;
			return 0;
		}
	}
	if (nm->n == nm->cap) {
		size_t	     cap = nm->cap * 2;
		const char **np	 = realloc(nm->p, cap * sizeof(*np));
		if (np == NULL)
			return HEARTH_ENOMEM;
		nm->p	    = np;
		size_t *nl  = realloc(nm->len, cap * sizeof(*nl));
		if (nl == NULL)
			return HEARTH_ENOMEM;
		nm->len = nl;
		nm->cap = cap;
	}
	if ((nm->n + 1) * 2 > nm->mask + 1) {
		size_t	  slots = (nm->mask + 1) * 2;
		uint32_t *s	= calloc(slots, sizeof(*s));
		if (s == NULL)
			return HEARTH_ENOMEM;
		for (size_t k = 0; k < nm->n; k++) {
			size_t j = (size_t) XXH3_64bits(nm->p[k], nm->len[k]) &
			    (slots - 1);
			while (s[j] != 0)
				j = (j + 1) & (slots - 1);
			s[j] = (uint32_t) k + 1;
		}
		free(nm->slots);
		nm->slots = s;
		nm->mask  = slots - 1;
		i	  = (size_t) h & nm->mask;
		while (nm->slots[i] != 0)
			i = (i + 1) & nm->mask;
	}
	nm->p[nm->n]   = p;
	nm->len[nm->n] = len;
	nm->slots[i]   = (uint32_t) nm->n + 1;
	*idx	       = (uint32_t) nm->n++;
	return 0;
}

/* Pass 1: depth-first, last child first (a stack: children pushed in
 * order, "other" last, so "other" pops first). Assigns name indexes in
 * that visit order (connect-apis.md §4.3 step 5), counts the emitted
 * nodes and the levels. */
static int
fb_pass_names(const fb_view *v, fb_names *nm, uint32_t *nidx,
    uint32_t *other_idx, size_t *count, size_t *levels)
{
	/* Each emitted node is pushed exactly once: at most n nodes plus n
	 * "other"s. */
	uint32_t *code	= malloc(2 * v->n * sizeof(*code));
	uint32_t *depth = malloc(2 * v->n * sizeof(*depth));
	int	  rc	= HEARTH_ENOMEM;
	if (code == NULL || depth == NULL)
		goto out;
	size_t	 sp = 0, e = 0, maxd = 0;
	uint32_t ix;
	if ((rc = fb_names_add(nm, "total", 5, &ix)) != 0)
		goto out;
	code[sp]    = 0;
	depth[sp++] = 0;
	while (sp > 0) {
		uint32_t c = code[--sp], d = depth[sp];
		e++;
		if (d > maxd)
			maxd = d;
		if (c & FB_OTHER) {
			if ((rc = fb_names_add(nm, "other", 5, other_idx)) != 0)
				goto out;
			continue;
		}
		if (c == 0) {
			nidx[0] = 0;
		} else {
			const char *p;
			size_t	    len;
			fb_name(v, c, &p, &len);
			if ((rc = fb_names_add(nm, p, len, &nidx[c])) != 0)
				goto out;
		}
		for (uint32_t j = 0, k = fb_nkids(v, c); j < k; j++) {
			uint32_t kid = fb_kid(v, c, j);
			if (fb_kept(v, kid)) {
				code[sp]    = kid;
				depth[sp++] = d + 1;
			}
		}
		int64_t sum[2];
		if (fb_other(v, c, sum)) {
			code[sp]    = c | FB_OTHER;
			depth[sp++] = d + 1;
		}
	}
	*count	= e;
	*levels = maxd + 1;
	rc	= 0;
out:
	free(code);
	free(depth);
	return rc;
}

/* Pass 2: breadth-first with children enqueued in x order, so the queue
 * is the output: level by level, ascending x within a level. x values are
 * absolute here and delta-encoded at the end. */
static void
fb_pass_levels(const fb_view *v, const uint32_t *nidx, uint32_t other_idx,
    hearth_flamebearer *fb, uint32_t *queue, size_t count)
{
	size_t	 w    = fb->width;
	int64_t *vals = fb->values;
	size_t	 head = 0, tail = 1, level = 0, level_end = 1;
	queue[0]	  = 0;
	vals[0]		  = 0;
	if (fb->diff)
		vals[3] = 0;
	fb->level_off[0]  = 0;
	fb->max_self	  = 0;
	for (; head < tail; head++) {
		if (head == level_end) {
			fb->level_off[++level] = head;
			level_end	       = tail;
		}
		uint32_t c = queue[head];
		int64_t *g = &vals[head * w];
		int64_t	 tot[2], self[2];
		if (c & FB_OTHER) {
			fb_other(v, c & ~FB_OTHER, tot);
			self[0] = tot[0];
			self[1] = tot[1];
		} else {
			for (int s = 0; s < 2; s++) {
				tot[s]	= fb_tot(v, s, c);
				self[s] = fb_self(v, s, c);
			}
		}
		for (int s = 0; s < 2; s++)
			if (self[s] > fb->max_self)
				fb->max_self = self[s];
		g[1] = tot[0];
		g[2] = self[0];
		if (fb->diff) {
			g[4] = tot[1];
			g[5] = self[1];
		}
		g[w - 1] = (c & FB_OTHER) ? other_idx : nidx[c];
		if (c & FB_OTHER)
			continue;
		int64_t x0 = fb_sat_add(g[0], self[0]);
		int64_t x1 = fb->diff ? fb_sat_add(g[3], self[1]) : 0;
		for (uint32_t j = 0, k = fb_nkids(v, c); j <= k; j++) {
			uint32_t kid;
			int64_t	 sum[2];
			if (j < k) {
				kid = fb_kid(v, c, j);
				if (!fb_kept(v, kid))
					continue;
			} else if (fb_other(v, c, sum)) {
				kid = c | FB_OTHER;
			} else {
				break;
			}
			HEARTH_ASSERT(tail < count);
			queue[tail]	   = kid;
			vals[tail * w]	   = x0;
			if (fb->diff)
				vals[tail * w + 3] = x1;
			tail++;
			if (kid & FB_OTHER)
				break;
			x0 = fb_sat_add(x0, fb_tot(v, 0, kid));
			x1 = fb_sat_add(x1, fb_tot(v, 1, kid));
		}
	}
	HEARTH_ASSERT(tail == count && level + 1 == fb->n_levels);
	fb->level_off[level + 1] = tail;
	/* Delta-encode x per level and per side (§4.3 step 6). */
	for (size_t k = 0; k < fb->n_levels; k++) {
		int64_t end[2] = { 0, 0 };
		for (size_t i = fb->level_off[k]; i < fb->level_off[k + 1];
		     i++) {
			int64_t *g = &vals[i * w];
			for (int s = 0; s <= fb->diff; s++) {
				int64_t *x = &g[s * 3];
				int64_t	 a = *x;
				*x	   = a - end[s];
				end[s]	   = fb_sat_add(a, x[1]);
			}
		}
	}
}

static int
fb_layout(fb_view *v, hearth_flamebearer **out)
{
	int		    rc	      = HEARTH_ENOMEM;
	uint32_t	   *nidx      = malloc(v->n * sizeof(*nidx));
	uint32_t	   *queue     = NULL;
	uint32_t	    other_idx = 0;
	size_t		    count = 0, levels = 0;
	fb_names	    nm	      = { 0 };
	hearth_flamebearer *fb	      = calloc(1, sizeof(*fb));
	nm.cap	 = 16;
	nm.p	 = malloc(nm.cap * sizeof(*nm.p));
	nm.len	 = malloc(nm.cap * sizeof(*nm.len));
	nm.slots = calloc(32, sizeof(*nm.slots));
	nm.mask	 = 31;
	if (nidx == NULL || fb == NULL || nm.p == NULL || nm.len == NULL ||
	    nm.slots == NULL)
		goto out;
	if ((rc = fb_pass_names(v, &nm, nidx, &other_idx, &count, &levels)) !=
	    0)
		goto out;
	rc	      = HEARTH_ENOMEM;
	fb->diff      = v->sides == 2;
	fb->width     = fb->diff ? 7 : 4;
	fb->n_levels  = levels;
	fb->level_off = malloc((levels + 1) * sizeof(*fb->level_off));
	fb->values    = malloc(count * fb->width * sizeof(*fb->values));
	queue	      = malloc(count * sizeof(*queue));
	if (fb->level_off == NULL || fb->values == NULL || queue == NULL)
		goto out;
	fb_pass_levels(v, nidx, other_idx, fb, queue, count);
	fb->n_names   = nm.n;
	fb->names     = nm.p;
	fb->name_lens = nm.len;
	nm.p	      = NULL;
	nm.len	      = NULL;
	*out	      = fb;
	fb	      = NULL;
	rc	      = 0;
out:
	hearth_flamebearer_free(fb);
	free(nm.p);
	free(nm.len);
	free(nm.slots);
	free(nidx);
	free(queue);
	return rc;
}

static int
fb_fail(hearth_err *err, int rc, size_t nodes)
{
	if (rc == HEARTH_ELIMIT)
		return hearth_err_set(err, rc,
		    "flame graph: %zu nodes are more than a flame graph can "
		    "lay out (%u); lower max_nodes upstream or narrow the "
		    "query",
		    nodes, (unsigned) (FB_OTHER - 1));
	return hearth_err_set(err, rc, "flame graph: out of memory");
}

int
hearth_flamebearer_new(const hearth_fgtree *t, int64_t max_nodes,
    hearth_flamebearer **out, hearth_err *err)
{
	*out	  = NULL;
	fb_view v = { 0 };
	v.sides	  = 1;
	v.n	  = hearth_fgtree_size(t);
	int rc	  = fb_side_init(&v.s[0], t);
	if (rc == 0) {
		v.off	   = v.s[0].off;
		v.kids	   = v.s[0].kids;
		v.other_id = FB_NONE;
		/* A literal "other" is folded by name id (module comment). */
		for (uint32_t id = 0; id < hearth_fgtree_name_count(t); id++) {
			const char *p;
			size_t	    len;
			hearth_fgtree_name(t, id, &p, &len);
			if (len == 5 && memcmp(p, "other", 5) == 0) {
				v.other_id = id;
				break;
			}
		}
		rc = fb_threshold(&v, max_nodes, 1);
	}
	if (rc == 0)
		rc = fb_layout(&v, out);
	if (rc == 0)
		(*out)->total = v.s[0].tot[0];
	fb_side_fini(&v.s[0]);
	return rc == 0 ? 0 : fb_fail(err, rc, v.n);
}

/* Index of a node with a negative self, or FB_NONE. */
static uint32_t
fb_find_negative(const hearth_fgtree *t)
{
	for (uint32_t i = 0; i < hearth_fgtree_size(t); i++) {
		int64_t self;
		hearth_fgtree_node(t, i, NULL, NULL, NULL, &self);
		if (self < 0)
			return i;
	}
	return FB_NONE;
}

int
hearth_flamebearer_new_diff(const hearth_fgtree *left,
    const hearth_fgtree *right, int64_t max_nodes, hearth_flamebearer **out,
    hearth_err *err)
{
	*out = NULL;
	for (int s = 0; s < 2; s++) {
		const hearth_fgtree *t = s == 0 ? left : right;
		uint32_t	     i = fb_find_negative(t);
		if (i == FB_NONE)
			continue;
		const char *p;
		size_t	    len;
		int64_t	    self;
		hearth_fgtree_node(t, i, NULL, &p, &len, &self);
		return hearth_err_set(err, HEARTH_EINVAL,
		    "flame graph diff: the %s profile has a negative value "
		    "(%lld at \"%.*s\"); a diff needs values >= 0",
		    s == 0 ? "left" : "right", (long long) self,
		    len > 64 ? 64 : (int) len, p);
	}
	fb_view v = { 0 };
	v.sides	  = 2;
	v.other_id = FB_NONE;
	int rc	  = fb_side_init(&v.s[0], left);
	if (rc == 0)
		rc = fb_side_init(&v.s[1], right);
	if (rc == 0)
		rc = fb_union(&v);
	if (rc == 0)
		rc = fb_threshold(&v, max_nodes, 0);
	if (rc == 0)
		rc = fb_layout(&v, out);
	if (rc == 0) {
		(*out)->left_ticks  = v.s[0].tot[0];
		(*out)->right_ticks = v.s[1].tot[0];
		(*out)->total =
		    fb_sat_add((*out)->left_ticks, (*out)->right_ticks);
	}
	size_t nodes = hearth_fgtree_size(left) + hearth_fgtree_size(right);
	fb_side_fini(&v.s[0]);
	fb_side_fini(&v.s[1]);
	free(v.idx[0]);
	free(v.idx[1]);
	free(v.off);
	return rc == 0 ? 0 : fb_fail(err, rc, nodes);
}

void
hearth_flamebearer_free(hearth_flamebearer *fb)
{
	if (fb == NULL)
		return;
	free(fb->names);
	free(fb->name_lens);
	free(fb->level_off);
	free(fb->values);
	free(fb);
}

int
hearth_flamebearer_write_json(const hearth_flamebearer *fb, hearth_buf *out)
{
	hearth_buf_puts(out, "{\"names\":[");
	for (size_t i = 0; i < fb->n_names; i++) {
		if (i > 0)
			hearth_buf_putc(out, ',');
		hearth_buf_put_json_str(out, fb->names[i], fb->name_lens[i]);
	}
	hearth_buf_puts(out, "],\"levels\":[");
	for (size_t k = 0; k < fb->n_levels; k++) {
		if (k > 0)
			hearth_buf_putc(out, ',');
		hearth_buf_putc(out, '[');
		for (size_t i = fb->level_off[k] * fb->width;
		     i < fb->level_off[k + 1] * fb->width; i++) {
			if (i > fb->level_off[k] * fb->width)
				hearth_buf_putc(out, ',');
			hearth_buf_put_i64(out, fb->values[i]);
		}
		hearth_buf_putc(out, ']');
	}
	hearth_buf_puts(out, "],\"numTicks\":");
	hearth_buf_put_i64(out, fb->total);
	hearth_buf_puts(out, ",\"maxSelf\":");
	hearth_buf_put_i64(out, fb->max_self);
	hearth_buf_putc(out, '}');
	return hearth_buf_failed(out) ? HEARTH_ENOMEM : 0;
}

int
hearth_flamebearer_single(const hearth_fgtree *t, int64_t max_nodes,
    hearth_buf *out, hearth_err *err)
{
	hearth_flamebearer *fb;
	int		    rc = hearth_flamebearer_new(t, max_nodes, &fb, err);
	if (rc != 0)
		return rc;
	rc = hearth_flamebearer_write_json(fb, out);
	hearth_flamebearer_free(fb);
	if (rc != 0)
		return hearth_err_set(err, rc,
		    "flame graph: out of memory writing JSON");
	return 0;
}

int
hearth_flamebearer_diff(const hearth_fgtree *left, const hearth_fgtree *right,
    int64_t max_nodes, hearth_buf *out, int64_t *left_ticks,
    int64_t *right_ticks, hearth_err *err)
{
	hearth_flamebearer *fb;
	int rc = hearth_flamebearer_new_diff(left, right, max_nodes, &fb, err);
	if (rc != 0)
		return rc;
	if (left_ticks != NULL)
		*left_ticks = fb->left_ticks;
	if (right_ticks != NULL)
		*right_ticks = fb->right_ticks;
	rc = hearth_flamebearer_write_json(fb, out);
	hearth_flamebearer_free(fb);
	if (rc != 0)
		return hearth_err_set(err, rc,
		    "flame graph: out of memory writing JSON");
	return 0;
}
