#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "flamebearer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
add_folded(hearth_fgtree *t, const char *stack, int64_t v)
{
	const char *frames[64];
	size_t	    lens[64];
	size_t	    n = 0;
	const char *p = stack;
	while (*p != '\0') {
		const char *e = strchr(p, ';');
		size_t	    l = e ? (size_t) (e - p) : strlen(p);
		frames[n]     = p;
		lens[n++]     = l;
		p += l;
		if (*p == ';')
			p++;
	}
	assert_int_equal(hearth_fgtree_add_stack(t, frames, lens, n, v), 0);
}

static void
expect_single(const hearth_fgtree *t, int64_t max_nodes, const char *json)
{
	hearth_buf b;
	hearth_err err;
	hearth_buf_init(&b);
	hearth_err_clear(&err);
	assert_int_equal(hearth_flamebearer_single(t, max_nodes, &b, &err), 0);
	assert_string_equal(b.data, json);
	hearth_buf_fini(&b);
}

static void
expect_diff(const hearth_fgtree *l, const hearth_fgtree *r, int64_t max_nodes,
    const char *json, int64_t lt, int64_t rt)
{
	hearth_buf b;
	hearth_err err;
	int64_t	   gl = -1, gr = -1;
	hearth_buf_init(&b);
	hearth_err_clear(&err);
	assert_int_equal(hearth_flamebearer_diff(l, r, max_nodes, &b, &gl, &gr,
			     &err),
	    0);
	assert_string_equal(b.data, json);
	assert_int_equal(gl, lt);
	assert_int_equal(gr, rt);
	hearth_buf_fini(&b);
}

static hearth_fgtree *
example_tree(void)
{
	hearth_fgtree *t = hearth_fgtree_new();
	add_folded(t, "main;work;compute", 60);
	add_folded(t, "main;work", 20);
	add_folded(t, "main;idle", 10);
	add_folded(t, "gc", 10);
	return t;
}

/* render-http.md §4.1 / connect-apis.md §4.3, byte for byte. */
static void
test_flamebearer_single_worked_example(void **state)
{
	(void) state;
	hearth_fgtree *t = example_tree();
	const char    *want =
	    "{\"names\":[\"total\",\"main\",\"work\",\"compute\",\"idle\","
	    "\"gc\"],\"levels\":[[0,100,0,0],[0,10,10,5,0,90,0,1],"
	    "[10,10,10,4,0,80,20,2],[40,60,60,3]],\"numTicks\":100,"
	    "\"maxSelf\":60}";
	expect_single(t, 0, want);
	/* limits that do not bite leave it unchanged */
	expect_single(t, 5, want);
	expect_single(t, 8192, want);
	expect_single(t, -1, want);
	hearth_fgtree_free(t);
}

/* render-http.md §6.1 / connect-apis.md §4.4, byte for byte. */
static void
test_flamebearer_diff_worked_example(void **state)
{
	(void) state;
	hearth_fgtree *l = hearth_fgtree_new();
	hearth_fgtree *r = hearth_fgtree_new();
	add_folded(l, "main;a", 10);
	add_folded(l, "main;b", 5);
	add_folded(r, "main;a", 4);
	add_folded(r, "main;c", 6);
	const char *want =
	    "{\"names\":[\"total\",\"main\",\"c\",\"b\",\"a\"],\"levels\":"
	    "[[0,15,0,0,10,0,0],[0,15,0,0,10,0,1],"
	    "[0,10,10,0,4,4,4,0,5,5,0,0,0,3,0,0,0,0,6,6,2]],"
	    "\"numTicks\":25,\"maxSelf\":10}";
	expect_diff(l, r, 0, want, 15, 10);
	expect_diff(l, r, 5, want, 15, 10);
	hearth_fgtree_free(l);
	hearth_fgtree_free(r);
}

static void
test_flamebearer_structured_result(void **state)
{
	(void) state;
	hearth_fgtree	   *t = example_tree();
	hearth_flamebearer *fb;
	hearth_err	    err;
	assert_int_equal(hearth_flamebearer_new(t, 0, &fb, &err), 0);
	assert_int_equal(fb->diff, 0);
	assert_int_equal(fb->width, 4);
	assert_int_equal(fb->n_names, 6);
	assert_int_equal(fb->name_lens[3], 7);
	assert_memory_equal(fb->names[3], "compute", 7);
	assert_int_equal(fb->n_levels, 4);
	size_t want_off[] = { 0, 1, 3, 5, 6 };
	for (int i = 0; i < 5; i++)
		assert_int_equal(fb->level_off[i], want_off[i]);
	int64_t want[] = { 0, 100, 0, 0, 0, 10, 10, 5, 0, 90, 0, 1, 10, 10,
		10, 4, 0, 80, 20, 2, 40, 60, 60, 3 };
	assert_memory_equal(fb->values, want, sizeof(want));
	assert_int_equal(fb->total, 100);
	assert_int_equal(fb->max_self, 60);
	assert_int_equal(fb->left_ticks, 0);
	hearth_flamebearer_free(fb);
	hearth_flamebearer_free(NULL);
	hearth_fgtree_free(t);
}

static void
test_flamebearer_empty_tree(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	expect_single(t, 0, "{\"names\":[\"total\"],\"levels\":[[0,0,0,0]],"
			    "\"numTicks\":0,\"maxSelf\":0}");
	expect_single(t, 1, "{\"names\":[\"total\"],\"levels\":[[0,0,0,0]],"
			    "\"numTicks\":0,\"maxSelf\":0}");
	expect_diff(t, t, 0,
	    "{\"names\":[\"total\"],\"levels\":[[0,0,0,0,0,0,0]],"
	    "\"numTicks\":0,\"maxSelf\":0}",
	    0, 0);
	hearth_fgtree_free(t);
}

static void
test_flamebearer_truncation(void **state)
{
	(void) state;
	hearth_fgtree *t = example_tree();
	/* 5 nodes besides the root; the 3rd largest total is 60: gc and
	 * idle fold into "other" under their parents. */
	expect_single(t, 3,
	    "{\"names\":[\"total\",\"other\",\"main\",\"work\",\"compute\"],"
	    "\"levels\":[[0,100,0,0],[0,90,0,2,0,10,10,1],"
	    "[0,80,20,3,0,10,10,1],[20,60,60,4]],\"numTicks\":100,"
	    "\"maxSelf\":60}");
	/* max 1: only main (90) passes. */
	expect_single(t, 1,
	    "{\"names\":[\"total\",\"other\",\"main\"],\"levels\":"
	    "[[0,100,0,0],[0,90,0,2,0,10,10,1],[0,90,90,1]],"
	    "\"numTicks\":100,\"maxSelf\":90}");
	/* Ties: max 4 -> threshold 10 keeps all four nodes of total >= 10,
	 * i.e. everything (5 nodes, more than asked). */
	expect_single(t, 4,
	    "{\"names\":[\"total\",\"main\",\"work\",\"compute\",\"idle\","
	    "\"gc\"],\"levels\":[[0,100,0,0],[0,10,10,5,0,90,0,1],"
	    "[10,10,10,4,0,80,20,2],[40,60,60,3]],\"numTicks\":100,"
	    "\"maxSelf\":60}");
	hearth_fgtree_free(t);
}

static void
test_flamebearer_literal_other_is_folded(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	add_folded(t, "main;other;x", 5);
	add_folded(t, "main;a", 3);
	add_folded(t, "other", 2);
	add_folded(t, "main;zero", 0);
	/* Without truncation: real "other" nodes become leaves named
	 * "other" with their totals; the zero-total node stays. */
	expect_single(t, 0,
	    "{\"names\":[\"total\",\"other\",\"main\",\"zero\",\"a\"],"
	    "\"levels\":[[0,10,0,0],[0,8,0,2,0,2,2,1],"
	    "[0,3,3,4,0,0,0,3,0,5,5,1]],\"numTicks\":10,\"maxSelf\":5}");
	/* With truncation, small nodes and the literal share one "other";
	 * a zero-sum "other" is not emitted. */
	expect_single(t, 2,
	    "{\"names\":[\"total\",\"other\",\"main\"],\"levels\":"
	    "[[0,10,0,0],[0,8,0,2,0,2,2,1],[0,8,8,1]],\"numTicks\":10,"
	    "\"maxSelf\":8}");
	hearth_fgtree_free(t);
}

static void
test_flamebearer_diff_truncation(void **state)
{
	(void) state;
	hearth_fgtree *l = hearth_fgtree_new();
	hearth_fgtree *r = hearth_fgtree_new();
	add_folded(l, "main;a", 10);
	add_folded(l, "main;b", 5);
	add_folded(r, "main;a", 4);
	add_folded(r, "main;c", 6);
	/* union: root, main, a, b, c (5 > 3); keys 15 15 10 5 6 -> 10. */
	expect_diff(l, r, 3,
	    "{\"names\":[\"total\",\"main\",\"other\",\"a\"],\"levels\":"
	    "[[0,15,0,0,10,0,0],[0,15,0,0,10,0,1],"
	    "[0,10,10,0,4,4,3,0,5,5,0,6,6,2]],\"numTicks\":25,"
	    "\"maxSelf\":10}",
	    15, 10);
	/* a real "other" is an ordinary node in a diff */
	add_folded(l, "main;other", 1);
	expect_diff(l, r, 0,
	    "{\"names\":[\"total\",\"main\",\"other\",\"c\",\"b\",\"a\"],"
	    "\"levels\":[[0,16,0,0,10,0,0],[0,16,0,0,10,0,1],"
	    "[0,10,10,0,4,4,5,0,5,5,0,0,0,4,0,0,0,0,6,6,3,0,1,1,0,0,0,2]],"
	    "\"numTicks\":26,\"maxSelf\":10}",
	    16, 10);
	hearth_fgtree_free(l);
	hearth_fgtree_free(r);
}

static void
test_flamebearer_diff_negative_rejected(void **state)
{
	(void) state;
	hearth_fgtree *l = hearth_fgtree_new();
	hearth_fgtree *r = hearth_fgtree_new();
	add_folded(l, "main;a", 10);
	add_folded(r, "main;b", -3);
	hearth_buf b;
	hearth_err err;
	hearth_buf_init(&b);
	assert_int_equal(hearth_flamebearer_diff(l, r, 0, &b, NULL, NULL, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "flame graph diff: the right profile has a negative value (-3 at "
	    "\"b\"); a diff needs values >= 0");
	assert_int_equal(b.len, 0);
	hearth_buf_fini(&b);
	hearth_fgtree_free(l);
	hearth_fgtree_free(r);
}

static void
test_flamebearer_names_byte_order_and_escaping(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	add_folded(t, "a", 1);
	add_folded(t, "_", 1);
	add_folded(t, "ab", 1);
	add_folded(t, "B", 1);
	add_folded(t, "q\"\\x", 1);
	add_folded(t, "\xc3\xa9", 1);
	add_folded(t, "total", 1);
	/* Children order: B _ a ab q"\x total é (bytes); names are assigned
	 * last child first, and a real "total" shares index 0. */
	expect_single(t, 0,
	    "{\"names\":[\"total\",\"\xc3\xa9\",\"q\\\"\\\\x\",\"ab\",\"a\","
	    "\"_\",\"B\"],\"levels\":[[0,7,0,0],[0,1,1,6,0,1,1,5,0,1,1,4,0,"
	    "1,1,3,0,1,1,2,0,1,1,0,0,1,1,1]],\"numTicks\":7,\"maxSelf\":1}");
	hearth_fgtree_free(t);
}

static void
test_flamebearer_root_self(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	add_folded(t, "a", 3);
	assert_int_equal(hearth_fgtree_add_stack(t, NULL, NULL, 0, 2), 0);
	expect_single(t, 0,
	    "{\"names\":[\"total\",\"a\"],\"levels\":[[0,5,2,0],[2,3,3,1]],"
	    "\"numTicks\":5,\"maxSelf\":3}");
	hearth_fgtree_free(t);
}

/* 1 when [x, x + total) lies in the child area [px + self, px + total)
 * of group p of level k. */
static int
geometry_inside(const hearth_flamebearer *fb, size_t k, size_t p, int64_t px,
    int64_t x, int64_t total, size_t o)
{
	const int64_t *pg = &fb->values[(fb->level_off[k] + p) * fb->width];
	return px + pg[o + 2] <= x && x + total <= px + pg[o + 1];
}

/* Decode a laid-out graph and check its geometry: every node of level k
 * lies inside the child area [x + self, x + total) of one node of level
 * k - 1, nodes of a level do not overlap, and children never sum to more
 * than the parent. Returns the number of groups. */
static size_t
check_geometry(const hearth_flamebearer *fb, int side)
{
	size_t	 w = fb->width, groups = 0;
	size_t	 o = (size_t) side * 3;
	int64_t *prev_x = NULL, *cur_x = NULL;
	size_t	 prev_n = 0;
	for (size_t k = 0; k < fb->n_levels; k++) {
		size_t lo = fb->level_off[k], hi = fb->level_off[k + 1];
		assert_true(hi > lo);
		cur_x	    = malloc((hi - lo) * sizeof(*cur_x));
		int64_t end = 0;
		size_t	p   = 0;
		for (size_t i = lo; i < hi; i++) {
			const int64_t *g = &fb->values[i * w];
			assert_true(g[o] >= 0);
			int64_t x	  = end + g[o];
			cur_x[i - lo]	  = x;
			end		  = x + g[o + 1];
			assert_true(g[o + 2] <= g[o + 1]);
			assert_true((size_t) g[w - 1] < fb->n_names);
			if (k == 0)
				continue;
			/* parents come in x order like their children, so
			 * the parent pointer only moves forward */
			while (p + 1 < prev_n &&
			    !geometry_inside(fb, k - 1, p, prev_x[p], x,
				g[o + 1], o))
				p++;
			assert_true(geometry_inside(fb, k - 1, p, prev_x[p], x,
			    g[o + 1], o));
		}
		groups += hi - lo;
		free(prev_x);
		prev_x = cur_x;
		prev_n = hi - lo;
	}
	free(prev_x);
	return groups;
}

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static hearth_fgtree *
big_tree(uint32_t seed)
{
	hearth_fgtree *t = hearth_fgtree_new();
	char	       a[32], b[32], c[32];
	const char    *frames[3] = { a, b, c };
	uint32_t       x	 = seed;
	/* 1000 x 100 = 100k leaves under 1000 mid nodes (~101k nodes). */
	for (int i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "pkg.fn%04d", i);
		for (int j = 0; j < 100; j++) {
			x = x * 1103515245u + 12345u;
			snprintf(b, sizeof(b), "pkg.callee%03d", j);
			assert_int_equal(hearth_fgtree_add_stack(t, frames,
					     NULL, 2, (int64_t) (x >> 20)),
			    0);
		}
	}
	(void) c;
	return t;
}

static void
test_flamebearer_100k_nodes(void **state)
{
	(void) state;
	hearth_fgtree *t = big_tree(1);
	hearth_fgtree *u = big_tree(7);
	size_t	       n = hearth_fgtree_size(t);
	assert_int_equal(n, 1 + 1000 + 100000);
	hearth_flamebearer *fb;
	hearth_err	    err;
	double		    t0 = now_s();
	assert_int_equal(hearth_flamebearer_new(t, 0, &fb, &err), 0);
	double t1 = now_s();
	assert_int_equal(check_geometry(fb, 0), n);
	assert_int_equal(fb->n_levels, 3);
	assert_int_equal(fb->total, hearth_fgtree_total(t));
	hearth_buf b;
	hearth_buf_init(&b);
	assert_int_equal(hearth_flamebearer_write_json(fb, &b), 0);
	assert_true(b.len > 1000000);
	hearth_buf_fini(&b);
	hearth_flamebearer_free(fb);

	assert_int_equal(hearth_flamebearer_new(t, 8192, &fb, &err), 0);
	size_t groups = check_geometry(fb, 0);
	assert_true(groups >= 8192 && groups <= 8192 + 1100);
	assert_int_equal(fb->total, hearth_fgtree_total(t));
	hearth_flamebearer_free(fb);

	double t2 = now_s();
	assert_int_equal(hearth_flamebearer_new_diff(t, u, 8192, &fb, &err),
	    0);
	double t3 = now_s();
	groups	  = check_geometry(fb, 0);
	assert_int_equal(check_geometry(fb, 1), groups);
	assert_true(groups >= 8192 && groups <= 8192 + 1100);
	assert_int_equal(fb->left_ticks, hearth_fgtree_total(t));
	assert_int_equal(fb->right_ticks, hearth_fgtree_total(u));
	hearth_flamebearer_free(fb);
	print_message("100k nodes: single %.1f ms, diff %.1f ms\n",
	    (t1 - t0) * 1e3, (t3 - t2) * 1e3);
	/* generous: sanitizer builds are several times slower */
	assert_true(t1 - t0 < 5.0 && t3 - t2 < 5.0);
	hearth_fgtree_free(t);
	hearth_fgtree_free(u);
}

static void
test_flamebearer_deep_stack(void **state)
{
	(void) state;
	enum { DEPTH = 20000 };
	const char   **frames = malloc(DEPTH * sizeof(*frames));
	hearth_fgtree *t      = hearth_fgtree_new();
	for (int i = 0; i < DEPTH; i++)
		frames[i] = (i % 3 == 0) ? "a" : (i % 3 == 1) ? "b" : "c";
	assert_int_equal(hearth_fgtree_add_stack(t, frames, NULL, DEPTH, 5),
	    0);
	assert_int_equal(hearth_fgtree_add_stack(t, frames, NULL, DEPTH / 2,
			     1),
	    0);
	hearth_flamebearer *fb;
	hearth_err	    err;
	assert_int_equal(hearth_flamebearer_new(t, 0, &fb, &err), 0);
	assert_int_equal(fb->n_levels, DEPTH + 1);
	assert_int_equal(check_geometry(fb, 0), DEPTH + 1);
	assert_int_equal(fb->total, 6);
	hearth_flamebearer_free(fb);
	/* Truncated: the 10th largest total is 6 (the shared first half),
	 * so the deeper half (total 5) folds into one "other" below it. */
	assert_int_equal(hearth_flamebearer_new_diff(t, t, 10, &fb, &err), 0);
	assert_int_equal(fb->n_levels, DEPTH / 2 + 2);
	assert_int_equal(check_geometry(fb, 1), DEPTH / 2 + 2);
	const int64_t *last = &fb->values[fb->level_off[DEPTH / 2 + 1] * 7];
	assert_int_equal(last[1], 5);
	assert_int_equal(last[2], 5);
	assert_int_equal(last[4], 5);
	assert_memory_equal(fb->names[last[6]], "other", 5);
	hearth_flamebearer_free(fb);
	free(frames);
	hearth_fgtree_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flamebearer_single_worked_example),
		cmocka_unit_test(test_flamebearer_diff_worked_example),
		cmocka_unit_test(test_flamebearer_structured_result),
		cmocka_unit_test(test_flamebearer_empty_tree),
		cmocka_unit_test(test_flamebearer_truncation),
		cmocka_unit_test(test_flamebearer_literal_other_is_folded),
		cmocka_unit_test(test_flamebearer_diff_truncation),
		cmocka_unit_test(test_flamebearer_diff_negative_rejected),
		cmocka_unit_test(
		    test_flamebearer_names_byte_order_and_escaping),
		cmocka_unit_test(test_flamebearer_root_self),
		cmocka_unit_test(test_flamebearer_100k_nodes),
		cmocka_unit_test(test_flamebearer_deep_stack),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
