/* fgexport: FlameGraph messages, tree bytes, pprof and call-site
 * filtering from an fgtree (see fgexport.h). */
#include "fgexport.h"

#include "flamebearer.h"

#include <stdlib.h>
#include <string.h>

static int
fgexport_nomem(hearth_err *err)
{
	return hearth_err_set(err, HEARTH_ELIMIT,
	    "request memory limit reached while building the answer");
}

/* names[] and levels[] of a laid-out graph as arena message parts. */
static int
fgexport_copy_layout(hearth_arena *a, const hearth_flamebearer *fb,
    char ***names, Querier__V1__Level ***levels, hearth_err *err)
{
	*names  = hearth_arena_alloc(a, fb->n_names * sizeof(char *));
	*levels = hearth_arena_alloc(a, fb->n_levels * sizeof(**levels));
	Querier__V1__Level *lv
	    = hearth_arena_alloc(a, fb->n_levels * sizeof(*lv));
	size_t   w    = fb->width;
	int64_t *vals = hearth_arena_alloc(
	    a, (fb->level_off[fb->n_levels] * w + 1) * sizeof(int64_t));
	if (*names == NULL || *levels == NULL || lv == NULL || vals == NULL)
		return fgexport_nomem(err);
	for (size_t i = 0; i < fb->n_names; i++)
		if (((*names)[i] = hearth_arena_strndup(
		         a, fb->names[i], fb->name_lens[i]))
		    == NULL)
			return fgexport_nomem(err);
	/* level_off counts groups of `width` values */
	memcpy(vals, fb->values,
	    fb->level_off[fb->n_levels] * w * sizeof(int64_t));
	for (size_t k = 0; k < fb->n_levels; k++) {
		querier__v1__level__init(&lv[k]);
		lv[k].n_values = (fb->level_off[k + 1] - fb->level_off[k]) * w;
		lv[k].values   = vals + fb->level_off[k] * w;
		(*levels)[k]   = &lv[k];
	}
	return 0;
}

int
hearth_fgexport_flamegraph(hearth_arena *a, const hearth_fgtree *t,
    int64_t max_nodes, Querier__V1__FlameGraph **out, hearth_err *err)
{
	hearth_flamebearer *fb = NULL;
	int rc = hearth_flamebearer_new(t, max_nodes, &fb, err);
	if (rc != 0)
		return rc;
	Querier__V1__FlameGraph *g = hearth_arena_alloc(a, sizeof(*g));
	if (g == NULL) {
		hearth_flamebearer_free(fb);
		return fgexport_nomem(err);
	}
	querier__v1__flame_graph__init(g);
	rc          = fgexport_copy_layout(a, fb, &g->names, &g->levels, err);
	g->n_names  = fb->n_names;
	g->n_levels = fb->n_levels;
	g->total    = fb->total;
	g->max_self = fb->max_self;
	hearth_flamebearer_free(fb);
	if (rc != 0)
		return rc;
	*out = g;
	return 0;
}

int
hearth_fgexport_flamegraph_diff(hearth_arena *a, const hearth_fgtree *left,
    const hearth_fgtree *right, int64_t max_nodes,
    Querier__V1__FlameGraphDiff **out, hearth_err *err)
{
	hearth_flamebearer *fb = NULL;
	int rc = hearth_flamebearer_new_diff(left, right, max_nodes, &fb, err);
	if (rc != 0)
		return rc;
	Querier__V1__FlameGraphDiff *g = hearth_arena_alloc(a, sizeof(*g));
	if (g == NULL) {
		hearth_flamebearer_free(fb);
		return fgexport_nomem(err);
	}
	querier__v1__flame_graph_diff__init(g);
	rc           = fgexport_copy_layout(a, fb, &g->names, &g->levels, err);
	g->n_names   = fb->n_names;
	g->n_levels  = fb->n_levels;
	g->total     = fb->total;
	g->max_self  = fb->max_self;
	g->leftticks = fb->left_ticks;
	g->rightticks = fb->right_ticks;
	hearth_flamebearer_free(fb);
	if (rc != 0)
		return rc;
	*out = g;
	return 0;
}

/* ---- tree bytes ------------------------------------------------------- */

static void
fgexport_uvarint(hearth_buf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t  n = 0;
	while (v >= 0x80) {
		tmp[n++] = (uint8_t) (v | 0x80);
		v >>= 7;
	}
	tmp[n++] = (uint8_t) v;
	hearth_buf_append(b, tmp, n);
}

typedef struct fgexport_kid {
	const char *p;
	size_t      len;
	uint32_t    id;
} fgexport_kid;

/* Byte order, shorter first on a common prefix (Go's string order). */
static int
fgexport_kid_cmp(const void *x, const void *y)
{
	const fgexport_kid *a = x, *b = y;
	int c = memcmp(a->p, b->p, a->len < b->len ? a->len : b->len);
	if (c != 0)
		return c;
	return a->len < b->len ? -1 : a->len > b->len;
}

/* Children of every node in byte order of their names, as CSR: children
 * of i are kids[off[i] .. off[i+1]). malloc'd; 0 or HEARTH_ENOMEM. */
static int
fgexport_children(
    const hearth_fgtree *t, uint32_t **off_out, fgexport_kid **kids_out)
{
	size_t        n    = hearth_fgtree_size(t);
	uint32_t     *off  = calloc(n + 1, sizeof(*off));
	fgexport_kid *kids = malloc((n > 1 ? n - 1 : 1) * sizeof(*kids));
	uint32_t     *fill = malloc(n * sizeof(*fill));
	if (off == NULL || kids == NULL || fill == NULL) {
		free(off);
		free(kids);
		free(fill);
		return HEARTH_ENOMEM;
	}
	for (uint32_t i = 1; i < n; i++) {
		uint32_t parent;
		hearth_fgtree_node(t, i, &parent, NULL, NULL, NULL);
		off[parent + 1]++;
	}
	for (size_t i = 0; i < n; i++)
		off[i + 1] += off[i];
	memcpy(fill, off, n * sizeof(*fill));
	for (uint32_t i = 1; i < n; i++) {
		uint32_t     parent;
		fgexport_kid k = { .id = i };
		hearth_fgtree_node(t, i, &parent, &k.p, &k.len, NULL);
		kids[fill[parent]++] = k;
	}
	for (size_t i = 0; i < n; i++)
		if (off[i + 1] - off[i] > 1)
			qsort(kids + off[i], off[i + 1] - off[i],
			    sizeof(*kids), fgexport_kid_cmp);
	free(fill);
	*off_out  = off;
	*kids_out = kids;
	return 0;
}

int
hearth_fgexport_tree_bytes(const hearth_fgtree *t, hearth_buf *out)
{
	size_t  n = hearth_fgtree_size(t);
	int64_t root_self;
	hearth_fgtree_node(t, 0, NULL, NULL, NULL, &root_self);
	if (n == 1 && root_self == 0)
		return 0;
	uint32_t     *off;
	fgexport_kid *kids;
	if (fgexport_children(t, &off, &kids) != 0)
		return HEARTH_ENOMEM;
	uint32_t *stack = malloc(n * sizeof(*stack));
	if (stack == NULL) {
		free(off);
		free(kids);
		return HEARTH_ENOMEM;
	}
	/* Pop a node, write it, push its children in name order: the last
	 * child is popped (written with its whole subtree) first. */
	size_t sp   = 0;
	stack[sp++] = 0;
	while (sp > 0 && !hearth_buf_failed(out)) {
		uint32_t    i = stack[--sp];
		const char *name;
		size_t      len;
		int64_t     self;
		hearth_fgtree_node(t, i, NULL, &name, &len, &self);
		fgexport_uvarint(out, len);
		hearth_buf_append(out, name, len);
		fgexport_uvarint(out, (uint64_t) (self > 0 ? self : 0));
		fgexport_uvarint(out, off[i + 1] - off[i]);
		for (uint32_t k = off[i]; k < off[i + 1]; k++)
			stack[sp++] = kids[k].id;
	}
	free(stack);
	free(off);
	free(kids);
	return hearth_buf_failed(out) ? HEARTH_ENOMEM : 0;
}

/* ---- pprof ------------------------------------------------------------ */

int
hearth_fgexport_pprof(hearth_arena *a, const hearth_fgtree *t,
    const hearth_fgexport_pprof_opts *o, Perftools__Profiles__Profile **out,
    hearth_err *err)
{
	size_t n  = hearth_fgtree_size(t);
	size_t nn = hearth_fgtree_name_count(t);
	/* string table: "", the 4 type strings, then name id i at 4 + i
	 * (name id 0 is the root's "", never a frame). */
	size_t                        ns = 5 + nn;
	Perftools__Profiles__Profile *p  = hearth_arena_alloc(a, sizeof(*p));
	char    **strs  = hearth_arena_alloc(a, ns * sizeof(char *));
	uint32_t *depth = hearth_arena_alloc(a, n * sizeof(*depth));
	if (p == NULL || strs == NULL || depth == NULL)
		return fgexport_nomem(err);
	perftools__profiles__profile__init(p);
	strs[0] = "";
	strs[1] = (char *) (o->sample_type != NULL ? o->sample_type : "");
	strs[2] = (char *) (o->sample_unit != NULL ? o->sample_unit : "");
	strs[3] = (char *) (o->period_type != NULL ? o->period_type : "");
	strs[4] = (char *) (o->period_unit != NULL ? o->period_unit : "");
	for (uint32_t i = 0; i < nn; i++) {
		const char *s;
		size_t      len;
		hearth_fgtree_name(t, i, &s, &len);
		if ((strs[5 + i] = hearth_arena_strndup(a, s, len)) == NULL)
			return fgexport_nomem(err);
	}
	p->n_string_table = ns;
	p->string_table   = strs;

	Perftools__Profiles__ValueType *vt
	    = hearth_arena_alloc(a, 2 * sizeof(*vt));
	Perftools__Profiles__ValueType **vtp
	    = hearth_arena_alloc(a, sizeof(*vtp));
	if (vt == NULL || vtp == NULL)
		return fgexport_nomem(err);
	perftools__profiles__value_type__init(&vt[0]);
	vt[0].type       = 1;
	vt[0].unit       = 2;
	vtp[0]           = &vt[0];
	p->n_sample_type = 1;
	p->sample_type   = vtp;
	if (strs[3][0] != '\0' || strs[4][0] != '\0') {
		perftools__profiles__value_type__init(&vt[1]);
		vt[1].type     = 3;
		vt[1].unit     = 4;
		p->period_type = &vt[1];
	}
	p->time_nanos     = o->time_nanos;
	p->duration_nanos = o->duration_nanos;

	Perftools__Profiles__Mapping  *m  = hearth_arena_alloc(a, sizeof(*m));
	Perftools__Profiles__Mapping **mp = hearth_arena_alloc(a, sizeof(*mp));
	if (m == NULL || mp == NULL)
		return fgexport_nomem(err);
	perftools__profiles__mapping__init(m);
	m->id            = 1;
	m->has_functions = 1;
	mp[0]            = m;
	p->n_mapping     = 1;
	p->mapping       = mp;

	/* One Function and one Location per name id >= 1, both with id = the
	 * name id, so a frame's location id is its name id. */
	size_t                         nf = nn > 0 ? nn - 1 : 0;
	Perftools__Profiles__Function *fn
	    = hearth_arena_alloc(a, (nf + 1) * sizeof(*fn));
	Perftools__Profiles__Function **fnp
	    = hearth_arena_alloc(a, (nf + 1) * sizeof(*fnp));
	Perftools__Profiles__Location *lc
	    = hearth_arena_alloc(a, (nf + 1) * sizeof(*lc));
	Perftools__Profiles__Location **lcp
	    = hearth_arena_alloc(a, (nf + 1) * sizeof(*lcp));
	Perftools__Profiles__Line *ln
	    = hearth_arena_alloc(a, (nf + 1) * sizeof(*ln));
	Perftools__Profiles__Line **lnp
	    = hearth_arena_alloc(a, (nf + 1) * sizeof(*lnp));
	if (fn == NULL || fnp == NULL || lc == NULL || lcp == NULL
	    || ln == NULL || lnp == NULL)
		return fgexport_nomem(err);
	for (size_t i = 0; i < nf; i++) {
		uint64_t id = i + 1;
		perftools__profiles__function__init(&fn[i]);
		fn[i].id          = id;
		fn[i].name        = (int64_t) (5 + id);
		fn[i].system_name = (int64_t) (5 + id);
		fnp[i]            = &fn[i];
		perftools__profiles__line__init(&ln[i]);
		ln[i].function_id = id;
		lnp[i]            = &ln[i];
		perftools__profiles__location__init(&lc[i]);
		lc[i].id         = id;
		lc[i].mapping_id = 1;
		lc[i].n_line     = 1;
		lc[i].line       = &lnp[i];
		lcp[i]           = &lc[i];
	}
	p->n_function = nf;
	p->function   = fnp;
	p->n_location = nf;
	p->location   = lcp;

	/* Samples: every node with a self value, path leaf first. */
	size_t n_samples = 0, n_ids = 0;
	depth[0] = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t parent;
		int64_t  self;
		hearth_fgtree_node(t, i, &parent, NULL, NULL, &self);
		if (i > 0)
			depth[i] = depth[parent] + 1;
		if (self < 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "negative value %lld in the merged tree",
			    (long long) self);
		if (self > 0) {
			n_samples++;
			n_ids += depth[i];
		}
	}
	Perftools__Profiles__Sample *sm
	    = hearth_arena_alloc(a, (n_samples + 1) * sizeof(*sm));
	Perftools__Profiles__Sample **smp
	    = hearth_arena_alloc(a, (n_samples + 1) * sizeof(*smp));
	uint64_t *ids = hearth_arena_alloc(a, (n_ids + 1) * sizeof(*ids));
	int64_t *vals = hearth_arena_alloc(a, (n_samples + 1) * sizeof(*vals));
	if (sm == NULL || smp == NULL || ids == NULL || vals == NULL)
		return fgexport_nomem(err);
	size_t k = 0, used = 0;
	for (uint32_t i = 0; i < n; i++) {
		int64_t self;
		hearth_fgtree_node(t, i, NULL, NULL, NULL, &self);
		if (self <= 0)
			continue;
		perftools__profiles__sample__init(&sm[k]);
		sm[k].n_location_id = depth[i];
		sm[k].location_id   = ids + used;
		for (uint32_t j = i, d = 0; j != 0; d++) {
			uint32_t parent;
			hearth_fgtree_node(t, j, &parent, NULL, NULL, NULL);
			ids[used + d] = hearth_fgtree_node_name(t, j);
			j             = parent;
		}
		used += depth[i];
		vals[k]       = self;
		sm[k].n_value = 1;
		sm[k].value   = &vals[k];
		smp[k]        = &sm[k];
		k++;
	}
	p->n_sample = n_samples;
	p->sample   = smp;
	*out        = p;
	return 0;
}

/* ---- call site -------------------------------------------------------- */

int
hearth_fgexport_call_site(const hearth_fgtree *t, const char *const *names,
    size_t n, hearth_fgtree **out)
{
	hearth_fgtree *o = hearth_fgtree_new();
	if (o == NULL)
		return HEARTH_ENOMEM;
	*out = o;
	if (n == 0) {
		int rc = hearth_fgtree_merge(o, t);
		if (rc != 0) {
			hearth_fgtree_free(o);
			*out = NULL;
		}
		return rc;
	}
	uint32_t at = 0, oat = 0;
	for (size_t i = 0; i < n; i++)
		if (!hearth_fgtree_find(
		        t, at, names[i], strlen(names[i]), &at))
			return 0; /* no such call site: an empty tree */
	for (size_t i = 0; i < n; i++) {
		int rc = hearth_fgtree_child(
		    o, oat, names[i], strlen(names[i]), &oat);
		if (rc != 0) {
			hearth_fgtree_free(o);
			*out = NULL;
			return rc;
		}
	}
	/* Copy the subtree under `at`: parents come before children
	 * (fgtree invariant (1)), so one forward pass maps every node. */
	size_t    size = hearth_fgtree_size(t);
	uint32_t *map  = malloc(size * sizeof(*map));
	if (map == NULL) {
		hearth_fgtree_free(o);
		*out = NULL;
		return HEARTH_ENOMEM;
	}
	for (size_t i = 0; i < size; i++)
		map[i] = UINT32_MAX;
	map[at] = oat;
	int64_t self;
	hearth_fgtree_node(t, at, NULL, NULL, NULL, &self);
	hearth_fgtree_add_self(o, oat, self);
	int rc = 0;
	for (uint32_t i = at + 1; i < size && rc == 0; i++) {
		uint32_t    parent;
		const char *name;
		size_t      len;
		hearth_fgtree_node(t, i, &parent, &name, &len, &self);
		if (map[parent] == UINT32_MAX)
			continue;
		rc = hearth_fgtree_child(o, map[parent], name, len, &map[i]);
		if (rc == 0 && self != 0)
			hearth_fgtree_add_self(o, map[i], self);
	}
	free(map);
	if (rc != 0) {
		hearth_fgtree_free(o);
		*out = NULL;
	}
	return rc;
}
