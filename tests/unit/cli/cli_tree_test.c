#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "cli_json.h"
#include "cli_tree.h"

/* The render answer for main;work 3, main;idle 1, main;work;deep 2 at
 * 100 Hz, exactly as hearth's /pyroscope/render writes it. */
static const char FB_SINGLE[]
    = "{\"names\":[\"total\",\"main\",\"work\",\"deep\",\"idle\"],"
      "\"levels\":[[0,60000000,0,0],[0,60000000,0,1],"
      "[0,10000000,10000000,4,0,50000000,30000000,2],"
      "[40000000,20000000,20000000,3]],"
      "\"numTicks\":60000000,\"maxSelf\":30000000}";

/* a;b;a 5 and a;c 3: a recursive function. */
static const char FB_RECURSIVE[]
    = "{\"names\":[\"total\",\"a\",\"b\",\"c\"],"
      "\"levels\":[[0,8,0,0],[0,8,0,1],[0,5,0,2,0,3,3,3],[0,5,5,1]]}";

/* Diff: left main{a 6, b 4}, right main{a 3, b 9, c 2{d 2}}: c and d
 * exist on the right only (zero width on the left). */
static const char FB_DIFF[]
    = "{\"names\":[\"total\",\"main\",\"a\",\"b\",\"c\",\"d\"],"
      "\"levels\":[[0,10,0,0,14,0,0],[0,10,0,0,14,0,1],"
      "[0,6,6,0,3,3,2,0,4,4,0,9,9,3,0,0,0,0,2,0,4],"
      "[10,0,0,12,2,2,5]]}";

static hearth_cli_tree *
decode(hearth_arena *a, const char *json, int diff)
{
	hearth_cli_json *v = NULL;
	hearth_cli_tree *t = NULL;
	hearth_err       err;
	assert_int_equal(
	    hearth_cli_json_parse(a, json, strlen(json), &v, &err), 0);
	if (hearth_cli_tree_decode(a, v, diff, &t, &err) != 0)
		fail_msg("decode: %s", err.msg);
	return t;
}

static void
decode_err(const char *json, int diff, const char *want)
{
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_json *v = NULL;
	hearth_cli_tree *t = NULL;
	hearth_err       err;
	assert_int_equal(
	    hearth_cli_json_parse(a, json, strlen(json), &v, &err), 0);
	assert_int_equal(
	    hearth_cli_tree_decode(a, v, diff, &t, &err), HEARTH_EINVAL);
	assert_null(t);
	assert_string_equal(err.msg, want);
	hearth_arena_free(a);
}

static const char *
name_of(const hearth_cli_tree *t, uint32_t i)
{
	return t->names[t->nodes[i].name];
}

static void
test_tree_decode_single_parents_and_spans(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_tree *t = decode(a, FB_SINGLE, 0);
	assert_int_equal(t->n_nodes, 5);
	assert_string_equal(name_of(t, 0), "total");
	assert_int_equal(t->nodes[0].parent, HEARTH_CLI_NO_PARENT);
	assert_int_equal(t->nodes[0].total[0], 60000000);
	assert_int_equal(t->nodes[0].first_child, 1);
	assert_int_equal(t->nodes[0].n_children, 1);
	/* main has idle then work (layout order), deep is under work. */
	assert_int_equal(t->nodes[1].n_children, 2);
	assert_int_equal(t->nodes[1].first_child, 2);
	assert_string_equal(name_of(t, 2), "idle");
	assert_string_equal(name_of(t, 3), "work");
	assert_int_equal(t->nodes[3].self[0], 30000000);
	assert_string_equal(name_of(t, 4), "deep");
	assert_int_equal(t->nodes[4].parent, 3);
	assert_int_equal(t->nodes[4].depth, 3);
	assert_int_equal(t->nodes[2].n_children, 0);
	hearth_arena_free(a);
}

static void
test_tree_functions_count_recursion_once(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_tree *t = decode(a, FB_RECURSIVE, 0);
	hearth_cli_fn   *f;
	size_t           n;
	hearth_err       err;
	assert_int_equal(hearth_cli_tree_functions(a, t, &f, &n, &err), 0);
	assert_int_equal(n, 3);
	hearth_cli_tree_sort(f, n, HEARTH_CLI_SORT_TOTAL);
	/* a: total 8, not 8 + 5 for the nested a; self 5 from the leaf. */
	assert_string_equal(f[0].name, "a");
	assert_int_equal(f[0].total[0], 8);
	assert_int_equal(f[0].self[0], 5);
	assert_string_equal(f[1].name, "b");
	assert_int_equal(f[1].total[0], 5);
	assert_int_equal(f[1].self[0], 0);
	assert_string_equal(f[2].name, "c");
	assert_int_equal(f[2].total[0], 3);
	assert_int_equal(f[2].self[0], 3);
	hearth_cli_tree_sort(f, n, HEARTH_CLI_SORT_SELF);
	assert_string_equal(f[0].name, "a");
	assert_string_equal(f[1].name, "c");
	assert_string_equal(f[2].name, "b");
	hearth_arena_free(a);
}

static void
test_tree_sort_ties_by_name(void **state)
{
	(void) state;
	hearth_cli_fn f[] = {
		{ "zeta", 4, { 5, 0 }, { 5, 0 } },
		{ "alpha", 5, { 5, 0 }, { 5, 0 } },
		{ "al", 2, { 5, 0 }, { 5, 0 } },
		{ "big", 3, { 1, 0 }, { 9, 0 } },
	};
	hearth_cli_tree_sort(f, 4, HEARTH_CLI_SORT_SELF);
	assert_string_equal(f[0].name, "al");
	assert_string_equal(f[1].name, "alpha");
	assert_string_equal(f[2].name, "zeta");
	assert_string_equal(f[3].name, "big");
	hearth_cli_tree_sort(f, 4, HEARTH_CLI_SORT_TOTAL);
	assert_string_equal(f[0].name, "big");
}

static void
test_tree_decode_diff_places_one_sided_nodes(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_tree *t = decode(a, FB_DIFF, 1);
	assert_int_equal(t->n_nodes, 6);
	assert_int_equal(t->nodes[0].total[0], 10);
	assert_int_equal(t->nodes[0].total[1], 14);
	assert_string_equal(name_of(t, 5), "d");
	/* d has zero width on the left at x = 10, the end of b and the
	 * start of c; the right side puts it under c. */
	assert_int_equal(t->nodes[5].parent, 4);
	assert_string_equal(name_of(t, 4), "c");
	hearth_cli_fn *f;
	size_t         n;
	hearth_err     err;
	assert_int_equal(hearth_cli_tree_functions(a, t, &f, &n, &err), 0);
	hearth_cli_tree_sort(f, n, HEARTH_CLI_SORT_SELF_DELTA);
	const char *order[] = { "b", "d", "main", "c", "a" };
	int64_t     delta[] = { 5, 2, 0, 0, -3 };
	assert_int_equal(n, 5);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(f[i].name, order[i]);
		assert_int_equal(f[i].self[1] - f[i].self[0], delta[i]);
	}
	hearth_cli_tree_sort(f, n, HEARTH_CLI_SORT_TOTAL_DELTA);
	assert_string_equal(f[0].name, "b");
	assert_string_equal(f[1].name, "main"); /* +4 */
	hearth_arena_free(a);
}

static void
test_tree_folded_sorted_lines(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_tree *t = decode(a, FB_SINGLE, 0);
	hearth_buf       b;
	hearth_err       err;
	hearth_buf_init(&b);
	assert_int_equal(hearth_cli_tree_folded(a, t, &b, &err), 0);
	assert_string_equal(b.data,
	    "main;idle 10000000\n"
	    "main;work 30000000\n"
	    "main;work;deep 20000000\n");
	hearth_buf_reset(&b);
	t = decode(a, FB_RECURSIVE, 0);
	assert_int_equal(hearth_cli_tree_folded(a, t, &b, &err), 0);
	assert_string_equal(b.data, "a;b;a 5\na;c 3\n");
	hearth_buf_fini(&b);
	hearth_arena_free(a);
}

static void
test_tree_empty_answer_is_root_only(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_tree *t = decode(a, "{\"names\":[],\"levels\":[]}", 0);
	assert_int_equal(t->n_nodes, 1);
	assert_int_equal(t->nodes[0].total[0], 0);
	assert_string_equal(name_of(t, 0), "total");
	hearth_cli_fn *f;
	size_t         n;
	hearth_err     err;
	assert_int_equal(hearth_cli_tree_functions(a, t, &f, &n, &err), 0);
	assert_int_equal(n, 0);
	hearth_buf b;
	hearth_buf_init(&b);
	assert_int_equal(hearth_cli_tree_folded(a, t, &b, &err), 0);
	assert_int_equal(b.len, 0);
	hearth_buf_fini(&b);
	hearth_arena_free(a);
}

static void
test_tree_decode_rejects_malformed_levels(void **state)
{
	(void) state;
	decode_err("{\"levels\":[]}", 0,
	    "flamebearer: the answer has no \"names\" and \"levels\" arrays "
	    "(is the URL a hearth or Pyroscope server?)");
	decode_err("{\"names\":[\"total\"],\"levels\":[[0,1,0]]}", 0,
	    "flamebearer: level 0 is not an array of 4-number groups");
	decode_err("{\"names\":[\"total\"],\"levels\":[[0,1,0,0,0,1,0,0]]}", 0,
	    "flamebearer: level 0 must hold exactly the root");
	decode_err("{\"names\":[\"total\"],\"levels\":[[0,1,0,3]]}", 0,
	    "flamebearer: level 0 names index 3, but there are 1 names");
	decode_err("{\"names\":[\"total\",\"x\"],\"levels\":[[0,5,0,0],"
	           "[4,2,2,1]]}",
	    0,
	    "flamebearer: a node of level 1 (\"x\") lies outside every node "
	    "of level 0");
	decode_err("{\"names\":[\"total\"],\"levels\":[[0,-1,0,0]]}", 0,
	    "flamebearer: level 0 holds a negative or non-integer number "
	    "where "
	    "a non-negative integer belongs");
	decode_err("{\"names\":[\"total\"],\"levels\":[[0,\"1\",0,0]]}", 0,
	    "flamebearer: level 0 holds a non-number where a non-negative "
	    "integer belongs");
	decode_err("{\"names\":[1],\"levels\":[]}", 0,
	    "flamebearer: names[0] is not a string");
	decode_err(
	    "{\"names\":[\"total\",\"x\"],\"levels\":[[0,9223372036854775807,"
	    "0,0],[9223372036854775807,1,1,1]]}",
	    0, "flamebearer: level 1 overflows int64");
	/* A single answer read as a diff has the wrong group width. */
	decode_err(FB_SINGLE, 1,
	    "flamebearer: level 0 is not an array of 7-number groups");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_decode_single_parents_and_spans),
		cmocka_unit_test(test_tree_functions_count_recursion_once),
		cmocka_unit_test(test_tree_sort_ties_by_name),
		cmocka_unit_test(test_tree_decode_diff_places_one_sided_nodes),
		cmocka_unit_test(test_tree_folded_sorted_lines),
		cmocka_unit_test(test_tree_empty_answer_is_root_only),
		cmocka_unit_test(test_tree_decode_rejects_malformed_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
