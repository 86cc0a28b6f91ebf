/* Shared fixture of the head unit tests (head_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "head_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- building push requests ------------------------------------------ */

uint32_t
tb_string(tbatch *t, const char *s, size_t len)
{
	for (size_t i = 0; i < t->b.n_strings; i++)
		if (strlen(t->b.strings[i]) == len &&
		    memcmp(t->b.strings[i], s, len) == 0)
			return (uint32_t) i;
	t->b.strings[t->b.n_strings] = hearth_arena_strndup(t->a, s, len);
	return (uint32_t) t->b.n_strings++;
}

void
tb_init(tbatch *t, hearth_arena *a, const char *const *stacks, size_t n)
{
	memset(t, 0, sizeof(*t));
	t->a = a;
	hearth__ingester__profile_batch__init(&t->b);
	t->b.strings	   = hearth_arena_calloc(a, 4096, sizeof(char *));
	t->b.frames	   = hearth_arena_calloc(a, 8192, sizeof(uint32_t));
	t->b.stack_lengths = hearth_arena_calloc(a, n + 1, sizeof(uint32_t));
	t->b.profiles	   = t->prof;
	tb_string(t, "", 0);
	for (size_t i = 0; i < n; i++) {
		const char *s = stacks[i];
		uint32_t    len = 0;
		while (*s != '\0') {
			const char *e = strchr(s, ';');
			size_t	    l = e ? (size_t) (e - s) : strlen(s);
			t->b.frames[t->b.n_frames++] = tb_string(t, s, l);
			len++;
			s += l + (e ? 1 : 0);
		}
		t->b.stack_lengths[t->b.n_stack_lengths++] = len;
	}
}

/* idbyte != 0 gives the profile the id {idbyte, 0, ...}. */
Hearth__Ingester__SeriesProfile *
tb_profile(tbatch *t, const char *labels, int64_t time_ns,
    const uint32_t *stacks, const int64_t *values, size_t n, uint8_t idbyte)
{
	Hearth__Ingester__SeriesProfile *p =
	    hearth_arena_calloc(t->a, 1, sizeof(*p));
	hearth__ingester__series_profile__init(p);
	p->labels = hearth_arena_calloc(t->a, 32, sizeof(*p->labels));
	char *dup = hearth_arena_strdup(t->a, labels), *save = NULL;
	for (char *kv = strtok_r(dup, ",", &save); kv != NULL;
	     kv = strtok_r(NULL, ",", &save)) {
		Hearth__Ingester__Label *l =
		    hearth_arena_calloc(t->a, 1, sizeof(*l));
		hearth__ingester__label__init(l);
		char *eq = strchr(kv, '=');
		*eq	 = '\0';
		l->name	 = kv;
		l->value = eq + 1;
		p->labels[p->n_labels++] = l;
	}
	p->time_nanos = time_ns;
	p->stacks     = hearth_arena_calloc(t->a, n + 1, sizeof(uint32_t));
	p->values     = hearth_arena_calloc(t->a, n + 1, sizeof(int64_t));
	if (n > 0) {
		memcpy(p->stacks, stacks, n * sizeof(uint32_t));
		memcpy(p->values, values, n * sizeof(int64_t));
	}
	p->n_stacks = p->n_values = n;
	if (idbyte != 0) {
		p->id.data    = hearth_arena_calloc(t->a, 16, 1);
		p->id.data[0] = idbyte;
		p->id.len     = 16;
	}
	t->prof[t->b.n_profiles++] = p;
	return p;
}

int
tb_push(hearth_head *h, const char *tenant, tbatch *t, uint64_t *np,
    uint64_t *ns, hearth_err *err)
{
	Hearth__Ingester__PushRequest	req = HEARTH__INGESTER__PUSH_REQUEST__INIT;
	Hearth__Ingester__ProfileBatch *bs[1] = { &t->b };
	req.batches			      = bs;
	req.n_batches			      = 1;
	hearth_err_clear(err);
	return hearth_head_push(h, tenant, &req, np, ns, err);
}

/* ---- reading results ------------------------------------------------- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* "a;b 3\na;c 2" — one line per node with self != 0, sorted. */
char *
tree_folded(const hearth_fgtree *t)
{
	size_t n     = hearth_fgtree_size(t), k = 0;
	char **lines = calloc(n, sizeof(*lines));
	for (uint32_t i = 0; i < n; i++) {
		int64_t self;
		hearth_fgtree_node(t, i, NULL, NULL, NULL, &self);
		if (self == 0)
			continue;
		char	 path[8192] = "";
		uint32_t chain[4096], d = 0;
		for (uint32_t c = i; c != 0 && c != HEARTH_FGTREE_NO_PARENT;) {
			chain[d++] = c;
			hearth_fgtree_node(t, c, &c, NULL, NULL, NULL);
		}
		size_t o = 0;
		while (d-- > 0) {
			const char *nm;
			size_t	    len;
			hearth_fgtree_node(t, chain[d], NULL, &nm, &len, NULL);
			o += (size_t) snprintf(path + o, sizeof(path) - o,
			    "%s%.*s", o ? ";" : "", (int) len, nm);
		}
		lines[k] = malloc(o + 32);
		snprintf(lines[k++], o + 32, "%s %lld", path, (long long) self);
	}
	qsort(lines, k, sizeof(*lines), cmp_str);
	size_t total = 1;
	for (size_t i = 0; i < k; i++)
		total += strlen(lines[i]) + 1;
	char *out = calloc(1, total);
	for (size_t i = 0; i < k; i++) {
		if (i)
			strcat(out, "\n");
		strcat(out, lines[i]);
		free(lines[i]);
	}
	free(lines);
	return out;
}

int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	assert_int_equal(hearth_head_new(&f->h, &f->err), 0);
	f->a   = hearth_arena_new(0);
	*state = f;
	return 0;
}

int
teardown(void **state)
{
	fx *f = *state;
	hearth_head_free(f->h);
	hearth_arena_free(f->a);
	free(f);
	return 0;
}

hearth_selector *
sel(const char *s)
{
	hearth_selector *out;
	hearth_err	 err;
	int		 rc = hearth_selector_parse(s, strlen(s), &out, &err);
	if (rc != 0)
		fail_msg("selector %s: %s", s, err.msg);
	return out;
}

/* Tree of selector s over [start, end] as folded text (caller frees). */
char *
tree_of(fx *f, const char *tenant, const char *s, int64_t start,
    int64_t end)
{
	hearth_selector *se = sel(s);
	hearth_fgtree	*t  = hearth_fgtree_new();
	int rc = hearth_head_select_tree(f->h, tenant, se, NULL, start, end, f->a,
	    t, &f->err);
	assert_int_equal(rc, 0);
	char *out = tree_folded(t);
	hearth_fgtree_free(t);
	hearth_selector_free(se);
	return out;
}

/* Labels (name NULL) or values joined with ",". */
char *
labels_of(fx *f, const char *s, const char *name, int64_t start,
    int64_t end)
{
	hearth_selector *se = sel(s);
	const char     **v;
	size_t		 n;
	assert_int_equal(hearth_head_labels(f->h, "t1", se, start, end, name,
			     f->a, &v, &n, &f->err),
	    0);
	hearth_selector_free(se);
	char *out = calloc(1, 4096);
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, v[i]);
	}
	return out;
}

/* Series as "{k=v} ts:value/count ts:value/count; {..} ...". */
char *
series_of(fx *f, const char *s, int64_t start, int64_t end, int64_t step,
    const char *const *gb, size_t ngb)
{
	hearth_selector	   *se = sel(s);
	hearth_head_series *ss;
	size_t		    n;
	int rc = hearth_head_select_series(f->h, "t1", se, NULL, start, end, step,
	    gb, ngb, f->a, &ss, &n, &f->err);
	assert_int_equal(rc, 0);
	hearth_selector_free(se);
	char  *out = calloc(1, 8192);
	size_t o   = 0;
	for (size_t i = 0; i < n; i++) {
		o += (size_t) snprintf(out + o, 8192 - o, "%s{", i ? "; " : "");
		for (size_t j = 0; j < ss[i].n_labels; j++)
			o += (size_t) snprintf(out + o, 8192 - o, "%s%s=%s",
			    j ? "," : "", ss[i].labels[j].name,
			    ss[i].labels[j].value);
		o += (size_t) snprintf(out + o, 8192 - o, "}");
		for (size_t j = 0; j < ss[i].n_points; j++)
			o += (size_t) snprintf(out + o, 8192 - o,
			    " %lld:%lld/%lld",
			    (long long) ss[i].points[j].timestamp_ms,
			    (long long) ss[i].points[j].value,
			    (long long) ss[i].points[j].count);
	}
	return out;
}

/* The standard fixture data: three series of tenant t1.
 *   A {__name__=cpu,pod=a1,service_name=shop}        t=1000ms, t=2000ms
 *   B {__name__=cpu,pod=b1,region=eu,service_name=db} t=1500ms
 *   C {__name__=mem,pod=a1,region=us,service_name=shop} t=3000ms */
void
load_std(fx *f)
{
	static const char *const stacks[] = { "main;work;hash", "main;work;sort",
		"main;idle", "", "main;work" };
	tbatch			 t;
	uint64_t		 np, ns;
	tb_init(&t, f->a, stacks, 5);
	tb_profile(&t, "__name__=cpu,pod=a1,service_name=shop", 1000 * MS,
	    (uint32_t[]) { 0, 1, 2 }, (int64_t[]) { 5, 3, 1 }, 3, 0);
	tb_profile(&t, "__name__=cpu,pod=a1,service_name=shop", 2000 * MS,
	    (uint32_t[]) { 0, 4 }, (int64_t[]) { 2, 7 }, 2, 0);
	tb_profile(&t, "__name__=cpu,pod=b1,region=eu,service_name=db",
	    1500 * MS, (uint32_t[]) { 1, 3 }, (int64_t[]) { 10, 4 }, 2, 0);
	tb_profile(&t, "__name__=mem,pod=a1,region=us,service_name=shop",
	    3000 * MS, (uint32_t[]) { 2 }, (int64_t[]) { 100 }, 1, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, &np, &ns, &f->err), 0);
	assert_int_equal(np, 4);
	assert_int_equal(ns, 8);
}
