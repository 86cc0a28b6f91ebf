#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "head.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000LL /* ns per ms */

/* ---- building push requests ------------------------------------------ */

/* A batch built in arena memory: stacks given as "a;b;c" (root first, ""
 * is the empty stack), profiles with labels "k=v,k2=v2" (sorted). */
typedef struct tbatch {
	hearth_arena			*a;
	Hearth__Ingester__ProfileBatch	 b;
	Hearth__Ingester__SeriesProfile *prof[64];
} tbatch;

static uint32_t
tb_string(tbatch *t, const char *s, size_t len)
{
	for (size_t i = 0; i < t->b.n_strings; i++)
		if (strlen(t->b.strings[i]) == len &&
		    memcmp(t->b.strings[i], s, len) == 0)
			return (uint32_t) i;
	t->b.strings[t->b.n_strings] = hearth_arena_strndup(t->a, s, len);
	return (uint32_t) t->b.n_strings++;
}

static void
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
static Hearth__Ingester__SeriesProfile *
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

static int
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
static char *
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

typedef struct fx {
	hearth_head  *h;
	hearth_arena *a;
	hearth_err    err;
} fx;

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	assert_int_equal(hearth_head_new(&f->h, &f->err), 0);
	f->a   = hearth_arena_new(0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	hearth_head_free(f->h);
	hearth_arena_free(f->a);
	free(f);
	return 0;
}

static hearth_selector *
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
static char *
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
static char *
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
static char *
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

#define ASSERT_STR_FREE(expr, want)                                           \
	do {                                                                  \
		char *got_ = (expr);                                          \
		assert_string_equal(got_, want);                              \
		free(got_);                                                   \
	} while (0)

/* The standard fixture data: three series of tenant t1.
 *   A {__name__=cpu,pod=a1,service_name=shop}        t=1000ms, t=2000ms
 *   B {__name__=cpu,pod=b1,region=eu,service_name=db} t=1500ms
 *   C {__name__=mem,pod=a1,region=us,service_name=shop} t=3000ms */
static void
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

/* ---- tests ----------------------------------------------------------- */

static void
test_head_tree_sums_per_stack(void **state)
{
	fx *f = *state;
	load_std(f);
	ASSERT_STR_FREE(tree_of(f, "t1", "{service_name=\"shop\"}", 0, 10000),
	    "main;idle 101\nmain;work 7\nmain;work;hash 7\nmain;work;sort 3");
	ASSERT_STR_FREE(tree_of(f, "t1", "{}", 0, 10000),
	    " 4\nmain;idle 101\nmain;work 7\nmain;work;hash 7\n"
	    "main;work;sort 13");
	/* Time range is inclusive at both ends, in ms. */
	ASSERT_STR_FREE(tree_of(f, "t1", "{__name__=\"cpu\"}", 1000, 1500),
	    " 4\nmain;idle 1\nmain;work;hash 5\nmain;work;sort 13");
	ASSERT_STR_FREE(tree_of(f, "t1", "{__name__=\"cpu\"}", 1001, 1999),
	    " 4\nmain;work;sort 10");
	/* Unknown tenant or nothing selected: empty tree, no error. */
	ASSERT_STR_FREE(tree_of(f, "nobody", "{}", 0, 10000), "");
	ASSERT_STR_FREE(tree_of(f, "t1", "{pod=\"zz\"}", 0, 10000), "");
	ASSERT_STR_FREE(tree_of(f, "t1", "{nolabel=\"x\"}", 0, 10000), "");
}

/* load_std stores 3 series for t1 (shop/a1 cpu, db/b1 cpu, shop/a1 mem). */
static void
test_head_check_series_limit(void **state)
{
	fx *f = *state;
	load_std(f);
	static const char *const stacks[] = { "main" };
	tbatch			 t;
	tb_init(&t, f->a, stacks, 1);
	/* one known series, two new ones (twice the same new one) */
	tb_profile(&t, "__name__=cpu,pod=a1,service_name=shop", 5000 * MS,
	    (uint32_t[]) { 0 }, (int64_t[]) { 1 }, 1, 0);
	tb_profile(&t, "__name__=cpu,pod=c1,service_name=shop", 5000 * MS,
	    (uint32_t[]) { 0 }, (int64_t[]) { 1 }, 1, 0);
	tb_profile(&t, "__name__=cpu,pod=c1,service_name=shop", 6000 * MS,
	    (uint32_t[]) { 0 }, (int64_t[]) { 1 }, 1, 0);
	tb_profile(&t, "__name__=cpu,pod=d1,service_name=shop", 5000 * MS,
	    (uint32_t[]) { 0 }, (int64_t[]) { 1 }, 1, 0);
	Hearth__Ingester__PushRequest	req = HEARTH__INGESTER__PUSH_REQUEST__INIT;
	Hearth__Ingester__ProfileBatch *bs[1] = { &t.b };
	req.batches			      = bs;
	req.n_batches			      = 1;
	assert_int_equal(hearth_head_check_series(f->h, "t1", &req, 5, &f->err),
	    0);
	assert_int_equal(hearth_head_check_series(f->h, "t1", &req, 0, &f->err),
	    0);
	assert_int_equal(hearth_head_check_series(f->h, "t1", &req, 4, &f->err),
	    HEARTH_EBUSY);
	assert_string_equal(f->err.msg,
	    "tenant \"t1\" has 3 series in the ingester and this push would "
	    "add 2 more, over the limit (max_global_series_per_tenant: 4); "
	    "the limit frees up as the head is cut, or raise it");
	/* another tenant has none yet: all three label sets are new */
	assert_int_equal(hearth_head_check_series(f->h, "t2", &req, 3, &f->err),
	    0);
	assert_int_equal(hearth_head_check_series(f->h, "t2", &req, 2, &f->err),
	    HEARTH_EBUSY);
	hearth_head_stats st;
	hearth_head_stats_get(f->h, "t1", &st);
	assert_int_equal(st.series, 3); /* checking stores nothing */
}

static void
test_head_tree_merges_into_existing(void **state)
{
	fx		*f  = *state;
	hearth_selector *se = sel("{pod=\"b1\"}");
	hearth_fgtree	*t  = hearth_fgtree_new();
	load_std(f);
	assert_int_equal(hearth_fgtree_add_stack(t,
			     (const char *const[]) { "main", "work", "sort" },
			     NULL, 3, 1),
	    0);
	assert_int_equal(hearth_head_select_tree(f->h, "t1", se, NULL, 0, 5000, f->a,
			     t, &f->err),
	    0);
	ASSERT_STR_FREE(tree_folded(t), " 4\nmain;work;sort 11");
	hearth_fgtree_free(t);
	hearth_selector_free(se);
}

static void
test_head_matcher_eq_neq(void **state)
{
	fx *f = *state;
	load_std(f);
	ASSERT_STR_FREE(labels_of(f, "{pod=\"a1\"}", "service_name", 0, 9999),
	    "shop");
	ASSERT_STR_FREE(labels_of(f, "{pod!=\"a1\"}", "pod", 0, 9999), "b1");
	ASSERT_STR_FREE(labels_of(f, "{pod=\"a1\",__name__=\"mem\"}", "region",
			    0, 9999),
	    "us");
	/* Several matchers on the same name are ANDed. */
	ASSERT_STR_FREE(labels_of(f, "{pod=\"a1\",pod=\"b1\"}", "pod", 0, 9999),
	    "");
	ASSERT_STR_FREE(labels_of(f, "{pod!=\"a1\",pod!=\"b1\"}", "pod", 0,
			    9999),
	    "");
}

static void
test_head_matcher_regex(void **state)
{
	fx *f = *state;
	load_std(f);
	/* Fully anchored: "a" alone matches nothing. */
	ASSERT_STR_FREE(labels_of(f, "{pod=~\"a\"}", "pod", 0, 9999), "");
	ASSERT_STR_FREE(labels_of(f, "{pod=~\"a.*|b1\"}", "pod", 0, 9999),
	    "a1,b1");
	ASSERT_STR_FREE(labels_of(f, "{service_name=~\"sh.p\"}", "__name__", 0,
			    9999),
	    "cpu,mem");
	ASSERT_STR_FREE(labels_of(f, "{pod!~\"a.*\"}", "pod", 0, 9999), "b1");
	ASSERT_STR_FREE(labels_of(f, "{region!~\"e.\"}", "service_name", 0,
			    9999),
	    "shop");
	/* Regex combined with an equality (postings intersection). */
	ASSERT_STR_FREE(labels_of(f, "{__name__=\"cpu\",pod=~\"[ab]1\"}",
			    "service_name", 0, 9999),
	    "db,shop");
}

static void
test_head_matcher_missing_label_is_empty(void **state)
{
	fx *f = *state;
	load_std(f);
	/* Only A lacks region. */
	ASSERT_STR_FREE(labels_of(f, "{region=\"\"}", "pod", 0, 9999), "a1");
	ASSERT_STR_FREE(labels_of(f, "{region=\"\"}", "__name__", 0, 9999),
	    "cpu");
	ASSERT_STR_FREE(labels_of(f, "{region!=\"\"}", "service_name", 0, 9999),
	    "db,shop");
	ASSERT_STR_FREE(labels_of(f, "{region=~\".*\"}", "pod", 0, 9999),
	    "a1,b1");
	ASSERT_STR_FREE(labels_of(f, "{region=~\".+\"}", "region", 0, 9999),
	    "eu,us");
	ASSERT_STR_FREE(labels_of(f, "{region=~\"eu|\"}", "service_name", 0,
			    9999),
	    "db,shop");
	ASSERT_STR_FREE(tree_of(f, "t1", "{region=~\"eu|\"}", 0, 9999),
	    " 4\nmain;idle 1\nmain;work 7\nmain;work;hash 7\n"
	    "main;work;sort 13");
	ASSERT_STR_FREE(labels_of(f, "{region!~\".*\"}", "pod", 0, 9999), "");
}

static void
test_head_matcher_profile_type(void **state)
{
	fx	     *f = *state;
	tbatch	      t;
	static const char *const stacks[] = { "a;b" };
	uint64_t      np, ns;
	tb_init(&t, f->a, stacks, 1);
	tb_profile(&t,
	    "__name__=process_cpu,__profile_type__=process_cpu:cpu:"
	    "nanoseconds:cpu:nanoseconds,service_name=x",
	    1000 * MS, (uint32_t[]) { 0 }, (int64_t[]) { 9 }, 1, 0);
	tb_profile(&t,
	    "__name__=process_cpu,__profile_type__=process_cpu:samples:"
	    "count:cpu:nanoseconds,service_name=x",
	    1000 * MS, (uint32_t[]) { 0 }, (int64_t[]) { 1 }, 1, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, &np, &ns, &f->err), 0);
	ASSERT_STR_FREE(tree_of(f, "t1",
			    "{__profile_type__=\"process_cpu:cpu:nanoseconds:"
			    "cpu:nanoseconds\",service_name=\"x\"}",
			    0, 5000),
	    "a;b 9");
	ASSERT_STR_FREE(tree_of(f, "t1",
			    "process_cpu{__profile_type__=~\".*:samples:.*\"}",
			    0, 5000),
	    "a;b 1");
}

static void
test_head_labels_names_and_values(void **state)
{
	fx *f = *state;
	load_std(f);
	ASSERT_STR_FREE(labels_of(f, "{}", NULL, 0, 9999),
	    "__name__,pod,region,service_name");
	ASSERT_STR_FREE(labels_of(f, "{}", "", 0, 1200),
	    "__name__,pod,service_name");
	ASSERT_STR_FREE(labels_of(f, "{}", "pod", 0, 9999), "a1,b1");
	ASSERT_STR_FREE(labels_of(f, "{}", "region", 1400, 1600), "eu");
	ASSERT_STR_FREE(labels_of(f, "{}", "region", 3000, 3000), "us");
	ASSERT_STR_FREE(labels_of(f, "{}", "region", 3001, 9999), "");
	ASSERT_STR_FREE(labels_of(f, "{}", "nolabel", 0, 9999), "");
	assert_int_equal(hearth_head_labels(f->h, "t1", NULL, 5, 4, NULL, f->a,
			     &(const char **) { NULL }, &(size_t) { 0 },
			     &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "select: start 5 is after end 4");
}

static void
test_head_series_buckets_right_edge(void **state)
{
	fx	     *f = *state;
	tbatch	      t;
	static const char *const stacks[] = { "x" };
	uint64_t      np, ns;
	tb_init(&t, f->a, stacks, 1);
	/* start 1000, step 1000: anchors 0, 1000, 2000, 3000, ... */
	int64_t times[] = { 1000, 1001, 2000, 2500, 3999, 4000 };
	for (int i = 0; i < 6; i++)
		tb_profile(&t, "service_name=s", times[i] * MS,
		    (uint32_t[]) { 0 }, (int64_t[]) { i + 1 }, 1, 0);
	/* Sub-ms time truncates: 999.9 ms is before start. */
	tb_profile(&t, "service_name=s", 999 * MS + 900000, (uint32_t[]) { 0 },
	    (int64_t[]) { 100 }, 1, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, &np, &ns, &f->err), 0);
	ASSERT_STR_FREE(series_of(f, "{}", 1000, 4000, 1000, NULL, 0),
	    "{} 1000:1/1 2000:5/2 3000:4/1 4000:11/2");
	/* End bound inclusive, and exact anchors with an offset start. */
	ASSERT_STR_FREE(series_of(f, "{}", 999, 2000, 500, NULL, 0),
	    "{} 999:100/1 1499:3/2 2499:3/1");
	ASSERT_STR_FREE(series_of(f, "{}", 5000, 6000, 1000, NULL, 0), "");
}

static void
test_head_series_group_by(void **state)
{
	fx *f = *state;
	load_std(f);
	static const char *const by_svc[] = { "service_name" };
	ASSERT_STR_FREE(series_of(f, "{}", 0, 9999, 1000, by_svc, 1),
	    "{service_name=db} 2000:14/1; {service_name=shop} 1000:9/1 "
	    "2000:9/1 3000:100/1");
	/* Missing labels are left out of the group's labels; names are
	 * sorted and duplicates count once. */
	static const char *const by_region_pod[] = { "region", "pod",
		"region" };
	ASSERT_STR_FREE(series_of(f, "{}", 0, 9999, 10000, by_region_pod, 3),
	    "{pod=a1} 10000:18/2; {pod=a1,region=us} 10000:100/1; "
	    "{pod=b1,region=eu} 10000:14/1");
	ASSERT_STR_FREE(series_of(f, "{__name__=\"cpu\"}", 0, 9999, 10000,
			    NULL, 0),
	    "{} 10000:32/3");
	hearth_head_series *ss;
	size_t		    n;
	assert_int_equal(hearth_head_select_series(f->h, "t1", NULL, NULL, 0, 10, 0,
			     NULL, 0, f->a, &ss, &n, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "select: step must be > 0, got 0 ms");
}

static void
test_head_validation_rejects_and_stores_nothing(void **state)
{
	fx		 *f = *state;
	static const char *const stacks[] = { "a;b", "c" };
	tbatch	 t;
	uint64_t np = 99, ns = 99;
	hearth_head_stats st;

	/* Out-of-range stack index. */
	tb_init(&t, f->a, stacks, 2);
	tb_profile(&t, "service_name=s", MS, (uint32_t[]) { 0 },
	    (int64_t[]) { 1 }, 1, 0);
	tb_profile(&t, "service_name=s", MS, (uint32_t[]) { 0, 2 },
	    (int64_t[]) { 1, 1 }, 2, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, &np, &ns, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 1: stack index 2 out of range (2 stacks)");
	assert_int_equal(np, 0);
	assert_int_equal(ns, 0);
	hearth_head_stats_get(f->h, NULL, &st);
	assert_int_equal(st.series, 0);
	assert_int_equal(st.profiles, 0);

	/* Negative value. */
	tb_init(&t, f->a, stacks, 2);
	tb_profile(&t, "service_name=s", MS, (uint32_t[]) { 0, 1 },
	    (int64_t[]) { 1, -4 }, 2, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: value -4 of sample 1 is negative");

	/* Overflowing total. */
	tb_init(&t, f->a, stacks, 2);
	tb_profile(&t, "service_name=s", MS, (uint32_t[]) { 0, 1 },
	    (int64_t[]) { INT64_MAX, 1 }, 2, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: values add up to more than 2^63-1");

	/* Unsorted labels, empty value, no labels. */
	tb_init(&t, f->a, stacks, 2);
	tb_profile(&t, "service_name=s,pod=x", MS, NULL, NULL, 0, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: labels must be sorted by name and unique, "
	    "\"pod\" follows \"service_name\"");
	tb_init(&t, f->a, stacks, 2);
	tb_profile(&t, "pod=x,pod=y", MS, NULL, NULL, 0, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: labels must be sorted by name and unique, "
	    "\"pod\" follows \"pod\"");
	tb_init(&t, f->a, stacks, 2);
	tb_profile(&t, "pod=", MS, NULL, NULL, 0, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: label \"pod\" has an empty value");
	tb_init(&t, f->a, stacks, 2);
	tb_profile(&t, "", MS, NULL, NULL, 0, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "batch 0 profile 0: no labels");

	/* Stacks/values mismatch and a bad id length. */
	tb_init(&t, f->a, stacks, 2);
	tb_profile(&t, "service_name=s", MS, (uint32_t[]) { 0, 1 },
	    (int64_t[]) { 1, 1 }, 2, 0)->n_values = 1;
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: 2 stacks but 1 values");
	tb_init(&t, f->a, stacks, 2);
	tb_profile(&t, "service_name=s", MS, NULL, NULL, 0, 7)->id.len = 8;
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: id is 8 bytes, want 16 (or none)");

	/* Batch structure: frames vs stack_lengths, frame string index. */
	tb_init(&t, f->a, stacks, 2);
	t.b.stack_lengths[1] = 2;
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0: stack_lengths add up to 4 frames but frames has 3");
	tb_init(&t, f->a, stacks, 2);
	t.b.frames[2] = 9;
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0: frame 2 names string 9 but the batch has 4 strings");
	assert_int_equal(tb_push(f->h, "", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "push: empty tenant");

	hearth_head_stats_get(f->h, NULL, &st);
	assert_int_equal(st.series, 0);
	assert_int_equal(st.profiles, 0);
	assert_int_equal(st.samples, 0);
}

static void
test_head_duplicate_profile_id_counted_once(void **state)
{
	fx	     *f = *state;
	tbatch	      t;
	static const char *const stacks[] = { "a;b" };
	uint64_t      np, ns;
	tb_init(&t, f->a, stacks, 1);
	tb_profile(&t, "service_name=s", 1000 * MS, (uint32_t[]) { 0 },
	    (int64_t[]) { 5 }, 1, 1);
	tb_profile(&t, "service_name=s", 2000 * MS, (uint32_t[]) { 0 },
	    (int64_t[]) { 6 }, 1, 2);
	/* Same id on another series is another profile. */
	tb_profile(&t, "service_name=z", 2000 * MS, (uint32_t[]) { 0 },
	    (int64_t[]) { 7 }, 1, 2);
	/* No id: never de-duplicated. */
	tb_profile(&t, "service_name=s", 3000 * MS, (uint32_t[]) { 0 },
	    (int64_t[]) { 1 }, 1, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, &np, &ns, &f->err), 0);
	assert_int_equal(np, 4);
	/* The retry of the same push stores only the id-less profile. */
	assert_int_equal(tb_push(f->h, "t1", &t, &np, &ns, &f->err), 0);
	assert_int_equal(np, 1);
	assert_int_equal(ns, 1);
	ASSERT_STR_FREE(tree_of(f, "t1", "{service_name=\"s\"}", 0, 9999),
	    "a;b 13");
	ASSERT_STR_FREE(tree_of(f, "t1", "{service_name=\"z\"}", 0, 9999),
	    "a;b 7");
}

static void
test_head_stats_and_bytes(void **state)
{
	fx		 *f = *state;
	hearth_head_stats st;
	size_t		  empty = hearth_head_bytes(f->h);
	assert_true(empty > 0);
	load_std(f);
	hearth_head_stats_get(f->h, "t1", &st);
	assert_int_equal(st.series, 3);
	assert_int_equal(st.profiles, 4);
	assert_int_equal(st.samples, 8);
	/* root, main, work, hash, sort, idle */
	assert_int_equal(st.nodes, 6);
	assert_true(st.bytes > 0);
	size_t after = hearth_head_bytes(f->h);
	assert_true(after > empty);
	/* The head's total covers its tenants plus the head itself. */
	assert_true(after > st.bytes);
	hearth_head_stats all;
	hearth_head_stats_get(f->h, NULL, &all);
	assert_int_equal(all.bytes, after);
	assert_int_equal(all.series, 3);
	hearth_head_stats_get(f->h, "nobody", &st);
	assert_int_equal(st.series, 0);
	assert_int_equal(st.bytes, 0);
}

/* Samples are packed per profile (node deltas, values / their gcd):
 * every value must come back exactly, whatever its size, order, gcd or
 * repeated stack. */
static void
test_head_samples_packed_exactly(void **state)
{
	fx		 *f	    = *state;
	const char *const stacks[] = { "a;c", "a;b", "x", "a;b", "a" };
	tbatch		  tb;
	uint64_t	  np, ns;
	tb_init(&tb, f->a, stacks, 5);
	/* Out of node order, a repeated stack index (1) and a repeated
	 * stack (3 = 1), values with gcd 10^7. */
	const uint32_t s1[] = { 2, 1, 0, 1, 3, 4 };
	const int64_t  v1[] = { 50000000, 10000000, 30000000, 20000000,
		 40000000, 60000000 };
	tb_profile(&tb, "service_name=p", 1 * MS, s1, v1, 6, 0);
	/* gcd 1, a value needing a 10-byte varint (2^63 - 2^40 - 8) and a
	 * zero value (not stored). */
	const uint32_t s2[] = { 0, 2, 4, 1 };
	const int64_t  v2[] = { 7, INT64_MAX - (1LL << 40) - 7, 0,
		 (1LL << 40) };
	tb_profile(&tb, "service_name=p", 2 * MS, s2, v2, 4, 0);
	/* One sample: its value is its own unit. */
	const uint32_t s3[] = { 4 };
	const int64_t  v3[] = { 6917529027641081856LL };
	tb_profile(&tb, "service_name=p", 3 * MS, s3, v3, 1, 0);
	assert_int_equal(tb_push(f->h, "t1", &tb, &np, &ns, &f->err), 0);
	assert_int_equal(np, 3);
	assert_int_equal(ns, 6 + 3 + 1);
	ASSERT_STR_FREE(tree_of(f, "t1", "{service_name=\"p\"}", 1, 1),
	    "a 60000000\na;b 70000000\na;c 30000000\nx 50000000");
	ASSERT_STR_FREE(tree_of(f, "t1", "{service_name=\"p\"}", 2, 2),
	    "a;b 1099511627776\na;c 7\nx 9223370937343148024");
	ASSERT_STR_FREE(tree_of(f, "t1", "{service_name=\"p\"}", 3, 3),
	    "a 6917529027641081856");
	/* Totals (series) are kept beside the packed samples. */
	ASSERT_STR_FREE(series_of(f, "{}", 0, 3, 1, NULL, 0),
	    "{} 1:210000000/1 2:9223372036854775807/1 "
	    "3:6917529027641081856/1");
}

/* A profile long enough for the packing's quicksort (more than 16
 * samples), stacks in scrambled order with repeats. */
static void
test_head_samples_packed_long_profile(void **state)
{
	fx	   *f = *state;
	const char *stacks[40];
	char	    names[40][8];
	uint32_t    st[300];
	int64_t	    v[300], want[40] = { 0 };
	tbatch	    tb;
	uint64_t    np, ns;
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "f%02d", i);
		stacks[i] = names[i];
	}
	tb_init(&tb, f->a, stacks, 40);
	for (uint32_t i = 0; i < 300; i++) {
		st[i] = (i * 37 + 11) % 40;
		v[i]  = 3 * (int64_t) (i % 7 + 1);
		want[st[i]] += v[i];
	}
	tb_profile(&tb, "service_name=q", 5 * MS, st, v, 300, 0);
	assert_int_equal(tb_push(f->h, "t1", &tb, &np, &ns, &f->err), 0);
	assert_int_equal(ns, 300);
	char   expect[2048];
	size_t o = 0;
	for (int i = 0; i < 40; i++)
		o += (size_t) snprintf(expect + o, sizeof(expect) - o, "%s%s %lld",
		    i ? "\n" : "", names[i], (long long) want[i]);
	ASSERT_STR_FREE(tree_of(f, "t1", "{service_name=\"q\"}", 0, 9), expect);
}

static void
count_tenant(void *ctx, const char *tenant, const hearth_head_stats *st)
{
	char *out = ctx;
	sprintf(out + strlen(out), "%s:%zu:%zu ", tenant, st->series,
	    st->profiles);
}

static void
test_head_tenants_are_isolated(void **state)
{
	fx	     *f = *state;
	tbatch	      t;
	static const char *const stacks[] = { "a" };
	tb_init(&t, f->a, stacks, 1);
	tb_profile(&t, "service_name=s", 1000 * MS, (uint32_t[]) { 0 },
	    (int64_t[]) { 5 }, 1, 0);
	assert_int_equal(tb_push(f->h, "t2", &t, NULL, NULL, &f->err), 0);
	load_std(f);
	ASSERT_STR_FREE(tree_of(f, "t2", "{}", 0, 9999), "a 5");
	ASSERT_STR_FREE(labels_of(f, "{}", "service_name", 0, 9999),
	    "db,shop");
	char buf[256] = "";
	hearth_head_foreach_tenant(f->h, count_tenant, buf);
	assert_string_equal(buf, "t2:1:1 t1:3:4 ");
}

static void
test_head_shared_prefixes_stored_once(void **state)
{
	fx	     *f = *state;
	tbatch	      t;
	static const char *const stacks[] = { "a;b;c", "a;b;d", "a;b;c",
		"a", "x;b;c" };
	hearth_head_stats st;
	tb_init(&t, f->a, stacks, 5);
	tb_profile(&t, "service_name=s", MS, (uint32_t[]) { 0, 1, 2, 3, 4 },
	    (int64_t[]) { 1, 2, 3, 4, 5 }, 5, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err), 0);
	hearth_head_stats_get(f->h, "t1", &st);
	/* root, a, a;b, a;b;c, a;b;d, x, x;b, x;b;c */
	assert_int_equal(st.nodes, 8);
	ASSERT_STR_FREE(tree_of(f, "t1", "{}", 0, 9999),
	    "a 4\na;b;c 4\na;b;d 2\nx;b;c 5");
	/* A second batch with the same stacks adds no node. */
	tb_init(&t, f->a, stacks, 5);
	tb_profile(&t, "service_name=s", 2 * MS, (uint32_t[]) { 4 },
	    (int64_t[]) { 1 }, 1, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err), 0);
	hearth_head_stats_get(f->h, "t1", &st);
	assert_int_equal(st.nodes, 8);
}

static void
test_head_zero_values_and_empty_stack(void **state)
{
	fx	     *f = *state;
	tbatch	      t;
	static const char *const stacks[] = { "", "a" };
	uint64_t      np, ns;
	tb_init(&t, f->a, stacks, 2);
	tb_profile(&t, "service_name=s", MS, (uint32_t[]) { 0, 1, 1 },
	    (int64_t[]) { 3, 0, 2 }, 3, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, &np, &ns, &f->err), 0);
	assert_int_equal(np, 1);
	assert_int_equal(ns, 2);
	ASSERT_STR_FREE(tree_of(f, "t1", "{}", 0, 9999), " 3\na 2");
}

static void
test_head_deep_stack_no_recursion(void **state)
{
	fx	     *f = *state;
	enum { DEPTH = 3000 };
	char	     *s = malloc(DEPTH * 8);
	size_t	      o = 0;
	for (int i = 0; i < DEPTH; i++)
		o += (size_t) sprintf(s + o, "%sf%d", i ? ";" : "", i % 7);
	tbatch t;
	memset(&t, 0, sizeof(t));
	t.a = f->a;
	hearth__ingester__profile_batch__init(&t.b);
	t.b.strings	  = hearth_arena_calloc(f->a, 16, sizeof(char *));
	t.b.frames	  = hearth_arena_calloc(f->a, DEPTH, sizeof(uint32_t));
	t.b.stack_lengths = hearth_arena_calloc(f->a, 1, sizeof(uint32_t));
	t.b.profiles	  = t.prof;
	tb_string(&t, "", 0);
	for (int i = 0; i < DEPTH; i++) {
		char nm[8];
		snprintf(nm, sizeof(nm), "f%d", i % 7);
		t.b.frames[t.b.n_frames++] = tb_string(&t, nm, strlen(nm));
	}
	t.b.stack_lengths[0] = DEPTH;
	t.b.n_stack_lengths  = 1;
	tb_profile(&t, "service_name=s", MS, (uint32_t[]) { 0 },
	    (int64_t[]) { 42 }, 1, 0);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err), 0);
	hearth_selector *se = sel("{}");
	hearth_fgtree	*tr = hearth_fgtree_new();
	assert_int_equal(hearth_head_select_tree(f->h, "t1", se, NULL, 0, 9, f->a,
			     tr, &f->err),
	    0);
	assert_int_equal(hearth_fgtree_size(tr), DEPTH + 1);
	int64_t self;
	hearth_fgtree_node(tr, DEPTH, NULL, NULL, NULL, &self);
	assert_int_equal(self, 42);
	assert_int_equal(hearth_fgtree_total(tr), 42);
	hearth_fgtree_free(tr);
	hearth_selector_free(se);
	free(s);
}

static void
test_head_out_of_order_profiles(void **state)
{
	fx	     *f = *state;
	tbatch	      t;
	static const char *const stacks[] = { "a" };
	tb_init(&t, f->a, stacks, 1);
	int64_t times[] = { 5000, 1000, 3000, 2000, 4000 };
	for (int i = 0; i < 5; i++)
		tb_profile(&t, "service_name=s", times[i] * MS,
		    (uint32_t[]) { 0 }, (int64_t[]) { times[i] / 1000 }, 1,
		    0);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err), 0);
	ASSERT_STR_FREE(tree_of(f, "t1", "{}", 2000, 4000), "a 9");
	ASSERT_STR_FREE(series_of(f, "{}", 1000, 5000, 2000, NULL, 0),
	    "{} 1000:1/1 3000:5/2 5000:9/2");
}

typedef struct conc {
	hearth_head *h;
	int	     id;
	int	     fails;
} conc;

static void *
conc_pusher(void *p)
{
	conc	     *c = p;
	hearth_arena *a = hearth_arena_new(0);
	static const char *const stacks[] = { "m;a", "m;b", "m;c;d" };
	for (int i = 0; i < 200; i++) {
		tbatch	   t;
		hearth_err err;
		char	   lab[64];
		tb_init(&t, a, stacks, 3);
		snprintf(lab, sizeof(lab), "pod=p%d,service_name=s", i % 10);
		tb_profile(&t, lab, (int64_t) (i + 1) * MS,
		    (uint32_t[]) { 0, 1, 2 }, (int64_t[]) { 1, 2, 3 }, 3, 0);
		if (tb_push(c->h, "t1", &t, NULL, NULL, &err) != 0)
			c->fails++;
		hearth_arena_reset(a);
	}
	hearth_arena_free(a);
	return NULL;
}

static void *
conc_reader(void *p)
{
	conc	     *c = p;
	hearth_arena *a = hearth_arena_new(0);
	hearth_selector *se;
	hearth_err	 err;
	assert_int_equal(hearth_selector_parse("{service_name=\"s\"}", 18, &se,
			     &err),
	    0);
	for (int i = 0; i < 100; i++) {
		hearth_fgtree *t = hearth_fgtree_new();
		if (hearth_head_select_tree(c->h, "t1", se, NULL, 0, 1000000, a, t,
			&err) != 0 ||
		    hearth_fgtree_total(t) % 6 != 0)
			c->fails++;
		hearth_fgtree_free(t);
		hearth_arena_reset(a);
	}
	hearth_selector_free(se);
	hearth_arena_free(a);
	return NULL;
}

static void
test_head_concurrent_push_and_select(void **state)
{
	fx	 *f = *state;
	pthread_t th[6];
	conc	  c[6];
	for (int i = 0; i < 6; i++) {
		c[i] = (conc) { f->h, i, 0 };
		pthread_create(&th[i], NULL, i < 3 ? conc_pusher : conc_reader,
		    &c[i]);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(c[i].fails, 0);
	}
	ASSERT_STR_FREE(tree_of(f, "t1", "{}", 0, 1000000),
	    "m;a 600\nm;b 1200\nm;c;d 1800");
	hearth_head_stats st;
	hearth_head_stats_get(f->h, "t1", &st);
	assert_int_equal(st.series, 10);
	assert_int_equal(st.profiles, 600);
}

static void
test_head_many_series_and_strings(void **state)
{
	/* Enough series, strings and nodes to grow every table several
	 * times; results stay exact. */
	fx *f = *state;
	enum { N = 3000 };
	static char names[N][16];
	static const char *stacks[N];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "r;fn%d", i);
		stacks[i] = names[i];
	}
	tbatch t;
	tb_init(&t, f->a, stacks, 0);
	t.b.strings = hearth_arena_calloc(f->a, N + 8, sizeof(char *));
	t.b.n_strings = 0;
	t.b.frames = hearth_arena_calloc(f->a, 2 * N, sizeof(uint32_t));
	t.b.stack_lengths = hearth_arena_calloc(f->a, N, sizeof(uint32_t));
	t.b.strings[t.b.n_strings++] = "";
	t.b.strings[t.b.n_strings++] = "r";
	for (int i = 0; i < N; i++) {
		t.b.strings[t.b.n_strings] = names[i] + 2;
		t.b.frames[t.b.n_frames++] = 1;
		t.b.frames[t.b.n_frames++] = (uint32_t) t.b.n_strings++;
		t.b.stack_lengths[t.b.n_stack_lengths++] = 2;
	}
	uint64_t np = 0;
	for (int g = 0; g < N / 50; g++) {
		t.b.n_profiles = 0;
		for (int i = 0; i < 50; i++) {
			char lab[64];
			int  k = g * 50 + i;
			snprintf(lab, sizeof(lab), "pod=p%05d,service_name=s%d",
			    k, k % 3);
			tb_profile(&t, lab, MS, (uint32_t[]) { (uint32_t) k },
			    (int64_t[]) { 1 }, 1, 0);
		}
		uint64_t n;
		assert_int_equal(tb_push(f->h, "t1", &t, &n, NULL, &f->err), 0);
		np += n;
	}
	assert_int_equal(np, N);
	hearth_head_stats st;
	hearth_head_stats_get(f->h, "t1", &st);
	assert_int_equal(st.series, N);
	assert_int_equal(st.nodes, N + 2);
	hearth_selector *se = sel("{service_name=\"s1\",pod=~\"p0.*5\"}");
	hearth_fgtree	*tr = hearth_fgtree_new();
	assert_int_equal(hearth_head_select_tree(f->h, "t1", se, NULL, 0, 9, f->a,
			     tr, &f->err),
	    0);
	/* k % 3 == 1 and k ends in 5 (k < 10000): k = 25, 55, 85, ... */
	int64_t want = 0;
	for (int k = 0; k < N; k++)
		want += k % 3 == 1 && k % 10 == 5;
	assert_int_equal(hearth_fgtree_total(tr), want);
	hearth_fgtree_free(tr);
	hearth_selector_free(se);
}

static void
test_head_series_merge_sums_equal_labels(void **state)
{
	fx		  *f = *state;
	hearth_label	   la[] = { { "service_name", "a" } };
	hearth_label	   lb[] = { { "service_name", "b" } };
	hearth_label	   lc[] = { { "service_name", "c" } };
	hearth_head_point  pa[] = { { 10, 1, 1 }, { 30, 3, 1 } };
	hearth_head_point  pb[] = { { 20, 2, 2 } };
	hearth_head_point  pa2[] = { { 20, 5, 1 }, { 30, 4, 2 },
		 { 40, INT64_MAX, 1 } };
	hearth_head_point  pc[] = { { 10, 7, 1 } };
	hearth_head_series x[] = { { la, 1, pa, 2 }, { lb, 1, pb, 1 } };
	hearth_head_series y[] = { { la, 1, pa2, 3 }, { lc, 1, pc, 1 } };
	hearth_head_series *out = x;
	size_t		    n	= 2;
	assert_int_equal(hearth_head_series_merge(&out, &n, y, 2, f->a), 0);
	assert_int_equal(n, 3);
	assert_string_equal(out[0].labels[0].value, "a");
	assert_int_equal(out[0].n_points, 4);
	int64_t want[][3] = { { 10, 1, 1 }, { 20, 5, 1 }, { 30, 7, 3 },
		{ 40, INT64_MAX, 1 } };
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(out[0].points[i].timestamp_ms, want[i][0]);
		assert_int_equal(out[0].points[i].value, want[i][1]);
		assert_int_equal(out[0].points[i].count, want[i][2]);
	}
	assert_string_equal(out[1].labels[0].value, "b");
	assert_int_equal(out[1].n_points, 1);
	assert_string_equal(out[2].labels[0].value, "c");
	assert_int_equal(out[2].points[0].value, 7);
	/* The inputs are unchanged. */
	assert_int_equal(x[0].n_points, 2);
	assert_int_equal(pa[1].value, 3);
	/* Merging nothing keeps the answer; into nothing copies. */
	assert_int_equal(hearth_head_series_merge(&out, &n, NULL, 0, f->a), 0);
	assert_int_equal(n, 3);
	hearth_head_series *empty = NULL;
	size_t		    ne	  = 0;
	assert_int_equal(hearth_head_series_merge(&empty, &ne, y, 2, f->a), 0);
	assert_int_equal(ne, 2);
	assert_int_equal(empty[0].points[2].value, INT64_MAX);
	/* Saturation: INT64_MAX + 1 stays INT64_MAX. */
	hearth_head_point  p1[] = { { 40, 1, 1 } };
	hearth_head_series z[]	= { { la, 1, p1, 1 } };
	assert_int_equal(hearth_head_series_merge(&empty, &ne, z, 1, f->a), 0);
	assert_int_equal(empty[0].points[2].value, INT64_MAX);
	assert_int_equal(empty[0].points[2].count, 2);
}

static void
test_head_labels_merge_union(void **state)
{
	fx	    *f	 = *state;
	const char *x[] = { "a", "c", "e" };
	const char *y[] = { "b", "c", "f" };
	const char **out = x;
	size_t	     n	 = 3;
	assert_int_equal(hearth_head_labels_merge(&out, &n, y, 3, f->a), 0);
	assert_int_equal(n, 5);
	const char *want[] = { "a", "b", "c", "e", "f" };
	for (size_t i = 0; i < n; i++)
		assert_string_equal(out[i], want[i]);
	const char **none = NULL;
	size_t	     nn	  = 0;
	assert_int_equal(hearth_head_labels_merge(&none, &nn, y, 3, f->a), 0);
	assert_int_equal(nn, 3);
	assert_string_equal(none[2], "f");
}

/* ---- span rows -------------------------------------------------------- */

/* Give p the span rows (stacks[i], ids[i], values[i]). */
static void
tb_spans(tbatch *t, Hearth__Ingester__SeriesProfile *p,
    const uint32_t *stacks, const uint64_t *ids, const int64_t *values,
    size_t n)
{
	p->span_stacks = hearth_arena_calloc(t->a, n + 1, sizeof(uint32_t));
	p->span_ids    = hearth_arena_calloc(t->a, n + 1, sizeof(uint64_t));
	p->span_values = hearth_arena_calloc(t->a, n + 1, sizeof(int64_t));
	memcpy(p->span_stacks, stacks, n * sizeof(uint32_t));
	memcpy(p->span_ids, ids, n * sizeof(uint64_t));
	memcpy(p->span_values, values, n * sizeof(int64_t));
	p->n_span_stacks = p->n_span_ids = p->n_span_values = n;
}

/* Span tree of selector s over [start, end] for the span ids (ascending)
 * as folded text (caller frees). */
static char *
span_tree_of(fx *f, const char *s, const uint64_t *ids, size_t n,
    int64_t start, int64_t end)
{
	hearth_selector	 *se = sel(s);
	hearth_fgtree	 *t  = hearth_fgtree_new();
	hearth_head_spans sp = { ids, n };
	assert_int_equal(hearth_head_select_span_tree(f->h, "t1", se, NULL,
			     &sp, start, end, f->a, t, &f->err),
	    0);
	char *out = tree_folded(t);
	hearth_fgtree_free(t);
	hearth_selector_free(se);
	return out;
}

#define S1 0xf9666c0d6bffec33ull
#define S2 0x02e16edf43da516cull

static void
test_head_span_rows_filter_tree(void **state)
{
	fx	   *f	       = *state;
	const char *stacks[] = { "a;b", "a;c", "d", "a;b" };
	tbatch	    t;
	uint64_t    np, ns;
	size_t	    before = hearth_head_bytes(f->h);
	tb_init(&t, f->a, stacks, 4);
	Hearth__Ingester__SeriesProfile *p1 = tb_profile(&t, "svc=x", 1 * MS,
	    (uint32_t[]) { 0, 1, 2 }, (int64_t[]) { 10, 20, 5 }, 3, 1);
	/* batch stacks 0 and 3 are the same frames: one node, kept as two
	 * rows of S1 */
	tb_spans(&t, p1, (uint32_t[]) { 0, 1, 1, 0, 3 },
	    (uint64_t[]) { S1, S1, S2, S2, S1 }, (int64_t[]) { 3, 6, 14, 6, 1 },
	    5);
	Hearth__Ingester__SeriesProfile *p2 = tb_profile(&t, "svc=x", 2 * MS,
	    (uint32_t[]) { 0 }, (int64_t[]) { 7 }, 1, 2);
	tb_spans(&t, p2, (uint32_t[]) { 0 }, (uint64_t[]) { S1 },
	    (int64_t[]) { 7 }, 1);
	Hearth__Ingester__SeriesProfile *p3 = tb_profile(&t, "svc=y", 3 * MS,
	    (uint32_t[]) { 2 }, (int64_t[]) { 5 }, 1, 3);
	tb_spans(&t, p3, (uint32_t[]) { 2 }, (uint64_t[]) { S1 },
	    (int64_t[]) { 5 }, 1);
	/* a profile without span rows */
	tb_profile(&t, "svc=x", 4 * MS, (uint32_t[]) { 1 }, (int64_t[]) { 9 },
	    1, 4);
	assert_int_equal(tb_push(f->h, "t1", &t, &np, &ns, &f->err), 0);
	assert_int_equal(np, 4);
	assert_int_equal(ns, 6); /* span rows are not samples */
	assert_true(hearth_head_bytes(f->h) > before);

	/* Without spans: every sample, span rows change nothing. */
	char *x = tree_of(f, "t1", "{}", 0, 10);
	assert_string_equal(x, "a;b 17\na;c 29\nd 10");
	free(x);
	const uint64_t one[] = { S1 }, two[] = { S2 }, both[] = { S2, S1 };
	const uint64_t none[] = { 42 };
	x = span_tree_of(f, "{}", one, 1, 0, 10);
	assert_string_equal(x, "a;b 11\na;c 6\nd 5");
	free(x);
	x = span_tree_of(f, "{}", two, 1, 0, 10);
	assert_string_equal(x, "a;b 6\na;c 14");
	free(x);
	x = span_tree_of(f, "{}", both, 2, 0, 10);
	assert_string_equal(x, "a;b 17\na;c 20\nd 5");
	free(x);
	x = span_tree_of(f, "{}", none, 1, 0, 10);
	assert_string_equal(x, "");
	free(x);
	/* selection and time range as usual */
	x = span_tree_of(f, "{svc=\"x\"}", one, 1, 0, 10);
	assert_string_equal(x, "a;b 11\na;c 6");
	free(x);
	x = span_tree_of(f, "{}", one, 1, 2, 3);
	assert_string_equal(x, "a;b 7\nd 5");
	free(x);
	/* an unknown tenant adds nothing */
	hearth_selector *se = sel("{}");
	hearth_fgtree	*tr = hearth_fgtree_new();
	hearth_head_spans sp = { one, 1 };
	assert_int_equal(hearth_head_select_span_tree(f->h, "nobody", se, NULL,
			     &sp, 0, 10, f->a, tr, &f->err),
	    0);
	assert_int_equal(hearth_fgtree_size(tr), 1);
	assert_int_equal(hearth_head_select_span_tree(f->h, "t1", se, NULL,
			     &sp, 5, 4, f->a, tr, &f->err),
	    HEARTH_EINVAL);
	hearth_fgtree_free(tr);
	hearth_selector_free(se);
}

/* A span filter from a request's ids: ascending, each once, without 0;
 * it finds what it holds and nothing else. */
static void
test_head_spans_sort(void **state)
{
	(void) state;
	uint64_t ids[] = { S1, 0, 7, S2, 7, UINT64_MAX, 0, S1, 1 };
	size_t	 n     = hearth_head_spans_sort(ids, 9);
	assert_int_equal(n, 5);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 7);
	assert_int_equal(ids[2], S2);
	assert_int_equal(ids[3], S1);
	assert_int_equal(ids[4], UINT64_MAX);
	hearth_head_spans sp = { ids, n };
	assert_true(hearth_head_spans_has(&sp, 7));
	assert_true(hearth_head_spans_has(&sp, UINT64_MAX));
	assert_false(hearth_head_spans_has(&sp, 0));
	assert_false(hearth_head_spans_has(&sp, 8));
	uint64_t zero[] = { 0, 0 };
	assert_int_equal(hearth_head_spans_sort(zero, 2), 0);
	assert_int_equal(hearth_head_spans_sort(NULL, 0), 0);
}

/* Many span groups per profile and large values: the packing's varints
 * and per-span byte lengths round-trip. */
static void
test_head_span_rows_many_spans(void **state)
{
	fx	   *f	       = *state;
	const char *stacks[] = { "m;a", "m;b", "m;c" };
	tbatch	    t;
	enum { N = 300 };
	uint32_t st[N];
	uint64_t ids[N];
	int64_t	 vals[N];
	tb_init(&t, f->a, stacks, 3);
	for (int i = 0; i < N; i++) {
		st[i]	= (uint32_t) (i % 3);
		ids[i]	= 1000 + (uint64_t) (i / 3) * 0x100000001ull;
		vals[i] = (int64_t) 1 << (i % 50);
	}
	Hearth__Ingester__SeriesProfile *p = tb_profile(&t, "svc=x", MS,
	    (uint32_t[]) { 0, 1, 2 },
	    (int64_t[]) { INT64_MAX / 4, INT64_MAX / 4, INT64_MAX / 4 }, 3, 0);
	tb_spans(&t, p, st, ids, vals, N);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err), 0);
	for (int k = 0; k < N / 3; k += 17) {
		uint64_t want = 1000 + (uint64_t) k * 0x100000001ull;
		char	 exp[256];
		snprintf(exp, sizeof(exp), "m;a %lld\nm;b %lld\nm;c %lld",
		    (long long) vals[3 * k], (long long) vals[3 * k + 1],
		    (long long) vals[3 * k + 2]);
		char *x = span_tree_of(f, "{}", &want, 1, 0, 10);
		assert_string_equal(x, exp);
		free(x);
	}
}

static void
test_head_span_rows_validation(void **state)
{
	fx		 *f	     = *state;
	const char	 *stacks[] = { "a", "b" };
	tbatch		  t;
	hearth_head_stats st;
	Hearth__Ingester__SeriesProfile *p;

	tb_init(&t, f->a, stacks, 2);
	p = tb_profile(&t, "svc=x", MS, (uint32_t[]) { 0 }, (int64_t[]) { 1 },
	    1, 0);
	tb_spans(&t, p, (uint32_t[]) { 0, 1 }, (uint64_t[]) { S1, S2 },
	    (int64_t[]) { 1, 1 }, 2);
	p->n_span_ids = 1;
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: 2 span stacks, 1 span ids and 2 span values "
	    "(want as many of each)");

	tb_init(&t, f->a, stacks, 2);
	p = tb_profile(&t, "svc=x", MS, NULL, NULL, 0, 0);
	tb_spans(&t, p, (uint32_t[]) { 2 }, (uint64_t[]) { S1 },
	    (int64_t[]) { 1 }, 1);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: span row 0: stack index 2 out of range (2 "
	    "stacks)");

	tb_init(&t, f->a, stacks, 2);
	p = tb_profile(&t, "svc=x", MS, NULL, NULL, 0, 0);
	tb_spans(&t, p, (uint32_t[]) { 0, 1 }, (uint64_t[]) { S1, 0 },
	    (int64_t[]) { 1, 1 }, 2);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: span row 1 has span id 0 (0 means no span: "
	    "leave the row out)");

	tb_init(&t, f->a, stacks, 2);
	p = tb_profile(&t, "svc=x", MS, NULL, NULL, 0, 0);
	tb_spans(&t, p, (uint32_t[]) { 0 }, (uint64_t[]) { S1 },
	    (int64_t[]) { 0 }, 1);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: span row 0 has value 0 (span values must be "
	    "> 0)");

	hearth_head_stats_get(f->h, NULL, &st);
	assert_int_equal(st.series, 0);
	assert_int_equal(st.profiles, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_head_span_rows_filter_tree),
		T(test_head_span_rows_many_spans),
		cmocka_unit_test(test_head_spans_sort),
		T(test_head_span_rows_validation),
		T(test_head_tree_sums_per_stack),
		T(test_head_series_merge_sums_equal_labels),
		T(test_head_labels_merge_union),
		T(test_head_check_series_limit),
		T(test_head_tree_merges_into_existing),
		T(test_head_matcher_eq_neq),
		T(test_head_matcher_regex),
		T(test_head_matcher_missing_label_is_empty),
		T(test_head_matcher_profile_type),
		T(test_head_labels_names_and_values),
		T(test_head_series_buckets_right_edge),
		T(test_head_series_group_by),
		T(test_head_validation_rejects_and_stores_nothing),
		T(test_head_duplicate_profile_id_counted_once),
		T(test_head_stats_and_bytes),
		T(test_head_samples_packed_exactly),
		T(test_head_samples_packed_long_profile),
		T(test_head_tenants_are_isolated),
		T(test_head_shared_prefixes_stored_once),
		T(test_head_zero_values_and_empty_stack),
		T(test_head_deep_stack_no_recursion),
		T(test_head_out_of_order_profiles),
		T(test_head_concurrent_push_and_select),
		T(test_head_many_series_and_strings),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
