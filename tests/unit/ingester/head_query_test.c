/* head queries: matchers, label names and values, series buckets and
 * group-by, merging equal label sets. Fixture: head_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "head_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The last step of every series answer (head and blocks): group_by names
 * sorted and unique; points in any order become one ascending point per
 * bucket (values added saturating, counts added), a group without a
 * label value gets no such label, and series come in label order. */
static void
test_head_series_emit_groups_and_buckets(void **state)
{
	fx	   *f	  = *state;
	const char *by[] = { "region", "env", "region" };
	const char **names;
	size_t	    ng;
	assert_int_equal(hearth_head_group_names(by, 3, f->a, &names, &ng), 0);
	assert_int_equal(ng, 2);
	assert_string_equal(names[0], "env");
	assert_string_equal(names[1], "region");
	assert_ptr_not_equal(names[0], by[1]); /* arena copies */
	/* group 0: env=prod region=eu; group 1: env=dev, no region;
	 * group 2: no points (no series). */
	const char *vals[] = { "prod", "eu", "dev", NULL, "x", "y" };
	hearth_head_series_pt pts[] = {
		{ 0, 20, 5, 1 },
		{ 1, 10, 1, 1 },
		{ 0, 10, 2, 1 },
		{ 0, 20, INT64_MAX, 2 },
		{ 1, 10, 3, 4 },
	};
	hearth_head_series *out;
	size_t		    n;
	assert_int_equal(hearth_head_series_emit(names, ng, vals, 3, pts, 5,
			     f->a, &out, &n),
	    0);
	assert_int_equal(n, 2);
	/* "dev" < "prod": group 1 first, with only its env label. */
	assert_int_equal(out[0].n_labels, 1);
	assert_string_equal(out[0].labels[0].name, "env");
	assert_string_equal(out[0].labels[0].value, "dev");
	assert_int_equal(out[0].n_points, 1);
	assert_int_equal(out[0].points[0].timestamp_ms, 10);
	assert_int_equal(out[0].points[0].value, 4);
	assert_int_equal(out[0].points[0].count, 5);
	assert_int_equal(out[1].n_labels, 2);
	assert_string_equal(out[1].labels[1].value, "eu");
	assert_int_equal(out[1].n_points, 2);
	assert_int_equal(out[1].points[0].timestamp_ms, 10);
	assert_int_equal(out[1].points[0].value, 2);
	assert_int_equal(out[1].points[1].timestamp_ms, 20);
	assert_int_equal(out[1].points[1].value, INT64_MAX);
	assert_int_equal(out[1].points[1].count, 3);
	/* No points: no series. */
	assert_int_equal(hearth_head_series_emit(names, ng, vals, 3, pts, 0,
			     f->a, &out, &n),
	    0);
	assert_int_equal(n, 0);
}

/* ---- span rows -------------------------------------------------------- */

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_head_series_merge_sums_equal_labels),
		T(test_head_series_emit_groups_and_buckets),
		T(test_head_labels_merge_union),
		T(test_head_matcher_eq_neq),
		T(test_head_matcher_regex),
		T(test_head_matcher_missing_label_is_empty),
		T(test_head_matcher_profile_type),
		T(test_head_labels_names_and_values),
		T(test_head_series_buckets_right_edge),
		T(test_head_series_group_by),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
