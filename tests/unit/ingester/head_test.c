/* head: pushes into the tree and the series, validation, accounting (stats,
 * bytes, packed samples), tenants, concurrency. Fixture: head_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "head_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_head_tree_sums_per_stack),
		T(test_head_check_series_limit),
		T(test_head_tree_merges_into_existing),
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
