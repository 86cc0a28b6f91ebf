#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "upload.h"

static uint32_t
intern(hearth_upload_builder *b, const char *s)
{
	uint32_t   id;
	hearth_err err = { 0 };
	assert_int_equal(
	    hearth_upload_builder_string(b, s, strlen(s), &id, &err), 0);
	return id;
}

static void
test_upload_strings_interned_once(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 1, &b, &err), 0);
	uint32_t x = intern(b, "main");
	uint32_t y = intern(b, "runtime.goexit");
	assert_int_equal(x, 1);
	assert_int_equal(y, 2);
	assert_int_equal(intern(b, "main"), 1);
	/* prefix of an existing string is a different string */
	assert_int_equal(intern(b, "mai"), 3);
	uint32_t id;
	assert_int_equal(
	    hearth_upload_builder_string(b, "", 0, &id, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "empty function name in a stack frame");
	hearth_upload *u;
	assert_int_equal(hearth_upload_builder_finish(b, &u, &err), 0);
	assert_int_equal(u->n_strings, 4);
	assert_string_equal(u->strings[0], "");
	assert_string_equal(u->strings[1], "main");
	assert_string_equal(u->strings[3], "mai");
	assert_int_equal(u->string_lens[2], 14);
	assert_int_equal(u->n_groups, 0);
	hearth_arena_free(a);
}

static void
test_upload_many_strings_survive_rehash(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 1, &b, &err), 0);
	char buf[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof(buf), "fn%d", i);
		assert_int_equal(intern(b, buf), (uint32_t) i + 1);
	}
	for (int i = 4999; i >= 0; i--) {
		snprintf(buf, sizeof(buf), "fn%d", i);
		assert_int_equal(intern(b, buf), (uint32_t) i + 1);
	}
	hearth_arena_free(a);
}

static void
test_upload_stacks_dedup_by_frames(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 1, &b, &err), 0);
	uint32_t m = intern(b, "main"), f = intern(b, "foo"),
	         g    = intern(b, "bar");
	uint32_t s1[] = { m, f }, s2[] = { m, f, g }, s3[] = { m, f };
	uint32_t id1, id2, id3, id4;
	assert_int_equal(hearth_upload_builder_stack(b, s1, 2, &id1, &err), 0);
	assert_int_equal(hearth_upload_builder_stack(b, s2, 3, &id2, &err), 0);
	assert_int_equal(hearth_upload_builder_stack(b, s3, 2, &id3, &err), 0);
	assert_int_equal(
	    hearth_upload_builder_stack(b, NULL, 0, &id4, &err), 0);
	assert_int_equal(id1, 0);
	assert_int_equal(id2, 1);
	assert_int_equal(id3, 0);
	assert_int_equal(id4, 2);
	hearth_upload *u;
	assert_int_equal(hearth_upload_builder_finish(b, &u, &err), 0);
	assert_int_equal(u->n_stacks, 3);
	assert_int_equal(u->n_frames, 5);
	uint32_t off[] = { 0, 2, 5, 5 };
	assert_memory_equal(u->stack_off, off, sizeof(off));
	uint32_t fr[] = { m, f, m, f, g };
	assert_memory_equal(u->frames, fr, sizeof(fr));
	hearth_arena_free(a);
}

static void
test_upload_rows_summed_per_group_and_stack(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 2, &b, &err), 0);
	uint32_t f = intern(b, "f"), g = intern(b, "g");
	uint32_t sf, sg;
	assert_int_equal(hearth_upload_builder_stack(b, &f, 1, &sf, &err), 0);
	assert_int_equal(hearth_upload_builder_stack(b, &g, 1, &sg, &err), 0);

	hearth_upload_label l1[] = { { "region", "eu" }, { "pod", "a" } };
	hearth_upload_label l2[] = { { "pod", "a" }, { "region", "eu" } };
	hearth_upload_label l3[] = { { "pod", "b" } };
	int64_t v1[] = { 1, 10 }, v2[] = { 2, 20 }, v3[] = { 0, 0 },
	        v4[] = { 5, 0 };
	assert_int_equal(hearth_upload_builder_add(b, l1, 2, sf, v1, &err), 0);
	assert_int_equal(hearth_upload_builder_add(b, l2, 2, sf, v2, &err), 0);
	assert_int_equal(hearth_upload_builder_add(b, l3, 1, sf, v3, &err), 0);
	assert_int_equal(
	    hearth_upload_builder_add(b, NULL, 0, sg, v4, &err), 0);
	assert_int_equal(hearth_upload_builder_add(b, l2, 2, sg, v3, &err), 0);
	assert_int_equal(
	    hearth_upload_builder_add(b, NULL, 0, sg, v1, &err), 0);
	hearth_upload *u;
	assert_int_equal(hearth_upload_builder_finish(b, &u, &err), 0);
	/* group {pod=b} had only an all-zero row and disappears */
	assert_int_equal(u->n_groups, 2);
	const hearth_upload_group *g0 = &u->groups[0];
	assert_int_equal(g0->n_labels, 2);
	assert_string_equal(g0->labels[0].name, "pod");
	assert_string_equal(g0->labels[0].value, "a");
	assert_string_equal(g0->labels[1].name, "region");
	assert_string_equal(g0->labels[1].value, "eu");
	/* rows: sf {3,30}; sg {0,0} dropped */
	assert_int_equal(g0->n_rows, 1);
	assert_int_equal(g0->stacks[0], sf);
	assert_int_equal(g0->values[0], 3);
	assert_int_equal(g0->values[1], 30);
	const hearth_upload_group *g1 = &u->groups[1];
	assert_int_equal(g1->n_labels, 0);
	assert_int_equal(g1->n_rows, 1);
	assert_int_equal(g1->stacks[0], sg);
	assert_int_equal(g1->values[0], 6);
	assert_int_equal(g1->values[1], 10);
	assert_int_equal(hearth_upload_total(u, 0), 9);
	assert_int_equal(hearth_upload_total(u, 1), 40);
	hearth_arena_free(a);
}

static void
test_upload_duplicate_label_names_last_wins(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 1, &b, &err), 0);
	uint32_t f = intern(b, "f"), sf;
	assert_int_equal(hearth_upload_builder_stack(b, &f, 1, &sf, &err), 0);
	/* more than the insertion-sort threshold, to take the qsort path */
	hearth_upload_label l[] = { { "k", "1" }, { "z", "z" }, { "y", "y" },
		{ "x", "x" }, { "w", "w" }, { "v", "v" }, { "u", "u" },
		{ "t", "t" }, { "k", "2" } };
	hearth_upload_label m[]
	    = { { "t", "t" }, { "u", "u" }, { "v", "v" }, { "w", "w" },
		      { "x", "x" }, { "y", "y" }, { "z", "z" }, { "k", "2" } };
	int64_t v = 1;
	assert_int_equal(hearth_upload_builder_add(b, l, 9, sf, &v, &err), 0);
	assert_int_equal(hearth_upload_builder_add(b, m, 8, sf, &v, &err), 0);
	hearth_upload *u;
	assert_int_equal(hearth_upload_builder_finish(b, &u, &err), 0);
	assert_int_equal(u->n_groups, 1);
	assert_int_equal(u->groups[0].n_labels, 8);
	assert_string_equal(u->groups[0].labels[0].name, "k");
	assert_string_equal(u->groups[0].labels[0].value, "2");
	assert_string_equal(u->groups[0].labels[7].name, "z");
	assert_int_equal(u->groups[0].values[0], 2);
	hearth_arena_free(a);
}

static void
test_upload_label_boundaries_distinct(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 1, &b, &err), 0);
	uint32_t f = intern(b, "f"), sf;
	assert_int_equal(hearth_upload_builder_stack(b, &f, 1, &sf, &err), 0);
	hearth_upload_label l1[] = { { "a", "bc" } }, l2[] = { { "ab", "c" } };
	int64_t             v = 1;
	assert_int_equal(hearth_upload_builder_add(b, l1, 1, sf, &v, &err), 0);
	assert_int_equal(hearth_upload_builder_add(b, l2, 1, sf, &v, &err), 0);
	hearth_upload *u;
	assert_int_equal(hearth_upload_builder_finish(b, &u, &err), 0);
	assert_int_equal(u->n_groups, 2);
	hearth_arena_free(a);
}

static void
test_upload_many_rows_and_groups(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 1, &b, &err), 0);
	char     buf[32];
	uint32_t st[1000];
	for (int i = 0; i < 1000; i++) {
		snprintf(buf, sizeof(buf), "f%d", i);
		uint32_t id = intern(b, buf);
		assert_int_equal(
		    hearth_upload_builder_stack(b, &id, 1, &st[i], &err), 0);
	}
	for (int rep = 0; rep < 3; rep++)
		for (int i = 0; i < 1000; i++) {
			snprintf(buf, sizeof(buf), "%d", i % 50);
			hearth_upload_label l = { "shard", buf };
			int64_t             v = i;
			assert_int_equal(hearth_upload_builder_add(
			                     b, &l, 1, st[i], &v, &err),
			    0);
		}
	hearth_upload *u;
	assert_int_equal(hearth_upload_builder_finish(b, &u, &err), 0);
	assert_int_equal(u->n_groups, 50);
	size_t rows = 0;
	for (size_t g = 0; g < u->n_groups; g++)
		rows += u->groups[g].n_rows;
	assert_int_equal(rows, 999); /* stack 0 had value 0 */
	assert_int_equal(hearth_upload_total(u, 0), 3 * 999 * 1000 / 2);
	hearth_arena_free(a);
}

static void
test_upload_arena_cap_is_limit_error(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(4096);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 1, &b, &err), 0);
	char buf[64];
	int  rc = 0;
	for (int i = 0; i < 10000 && rc == 0; i++) {
		uint32_t id;
		snprintf(buf, sizeof(buf), "a-long-function-name-%d", i);
		rc = hearth_upload_builder_string(
		    b, buf, strlen(buf), &id, &err);
	}
	assert_int_equal(rc, HEARTH_ELIMIT);
	assert_int_equal(err.code, HEARTH_ELIMIT);
	assert_non_null(strstr(err.msg, "request memory limit reached ("));
	hearth_arena_free(a);
}

static void
test_upload_sum_overflow_rejected(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 1, &b, &err), 0);
	uint32_t f = intern(b, "f"), sf;
	assert_int_equal(hearth_upload_builder_stack(b, &f, 1, &sf, &err), 0);
	int64_t v = INT64_MAX;
	assert_int_equal(
	    hearth_upload_builder_add(b, NULL, 0, sf, &v, &err), 0);
	assert_int_equal(hearth_upload_builder_add(b, NULL, 0, sf, &v, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "sum of sample values for one stack "
	    "overflows a 64-bit integer");
	hearth_arena_free(a);
}

static void
test_upload_total_saturates(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 1, &b, &err), 0);
	uint32_t f = intern(b, "f"), g = intern(b, "g"), sf, sg;
	assert_int_equal(hearth_upload_builder_stack(b, &f, 1, &sf, &err), 0);
	assert_int_equal(hearth_upload_builder_stack(b, &g, 1, &sg, &err), 0);
	int64_t v = INT64_MAX;
	assert_int_equal(
	    hearth_upload_builder_add(b, NULL, 0, sf, &v, &err), 0);
	assert_int_equal(
	    hearth_upload_builder_add(b, NULL, 0, sg, &v, &err), 0);
	hearth_upload *u;
	assert_int_equal(hearth_upload_builder_finish(b, &u, &err), 0);
	assert_int_equal(hearth_upload_total(u, 0), INT64_MAX);
	hearth_arena_free(a);
}

static void
test_upload_zero_sample_types_rejected(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(
	    hearth_upload_builder_new(a, 0, &b, &err), HEARTH_EINVAL);
	assert_null(b);
	hearth_arena_free(a);
}

/* Span rows: summed per (stack, span) beside the rows, which include
 * them; all-zero span rows dropped; span 0 adds no span row. */
static void
test_upload_span_rows_side_table(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 2, &b, &err), 0);
	uint32_t f = intern(b, "f"), g = intern(b, "g");
	uint32_t sf, sg;
	assert_int_equal(hearth_upload_builder_stack(b, &f, 1, &sf, &err), 0);
	assert_int_equal(hearth_upload_builder_stack(b, &g, 1, &sg, &err), 0);
	hearth_upload_label l[] = { { "pod", "a" } };
	int64_t v1[] = { 1, 10 }, v2[] = { 2, 20 }, v0[] = { 0, 0 };
	const uint64_t s1 = 0xf9666c0d6bffec33ull, s2 = 7;
	assert_int_equal(
	    hearth_upload_builder_add_span(b, l, 1, sf, s1, v1, &err), 0);
	assert_int_equal(
	    hearth_upload_builder_add_span(b, l, 1, sf, s1, v2, &err), 0);
	assert_int_equal(
	    hearth_upload_builder_add_span(b, l, 1, sf, s2, v1, &err), 0);
	assert_int_equal(
	    hearth_upload_builder_add_span(b, l, 1, sg, s2, v2, &err), 0);
	assert_int_equal(
	    hearth_upload_builder_add_span(b, l, 1, sg, 0, v1, &err), 0);
	assert_int_equal(
	    hearth_upload_builder_add_span(b, l, 1, sg, s1, v0, &err), 0);
	/* 40 stacks x 2 spans grow the span table past its first size */
	char     name[16];
	uint32_t many[40];
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "h%d", i);
		uint32_t h = intern(b, name);
		assert_int_equal(
		    hearth_upload_builder_stack(b, &h, 1, &many[i], &err), 0);
		for (uint64_t sp = 100; sp < 102; sp++)
			assert_int_equal(hearth_upload_builder_add_span(b,
			                     NULL, 0, many[i], sp, v1, &err),
			    0);
	}
	hearth_upload *u;
	assert_int_equal(hearth_upload_builder_finish(b, &u, &err), 0);
	assert_int_equal(u->n_groups, 2);
	const hearth_upload_group *g0 = &u->groups[0];
	/* rows hold every sample: sf {4,40}, sg {3,30} */
	assert_int_equal(g0->n_rows, 2);
	assert_int_equal(g0->values[0], 4);
	assert_int_equal(g0->values[1], 40);
	assert_int_equal(g0->values[2], 3);
	assert_int_equal(g0->values[3], 30);
	/* span rows: (sf,s1) {3,30}, (sf,s2) {1,10}, (sg,s2) {2,20}; the
	 * all-zero (sg,s1) is gone and span 0 made none */
	assert_int_equal(g0->n_span_rows, 3);
	assert_int_equal(g0->span_stacks[0], sf);
	assert_true(g0->span_ids[0] == s1);
	assert_int_equal(g0->span_values[0], 3);
	assert_int_equal(g0->span_values[1], 30);
	assert_int_equal(g0->span_stacks[1], sf);
	assert_true(g0->span_ids[1] == s2);
	assert_int_equal(g0->span_values[2], 1);
	assert_int_equal(g0->span_stacks[2], sg);
	assert_true(g0->span_ids[2] == s2);
	assert_int_equal(g0->span_values[5], 20);
	const hearth_upload_group *g1 = &u->groups[1];
	assert_int_equal(g1->n_rows, 40);
	assert_int_equal(g1->n_span_rows, 80);
	for (size_t r = 0; r < 80; r++) {
		assert_int_equal(g1->span_stacks[r], many[r / 2]);
		assert_true(g1->span_ids[r] == 100 + r % 2);
		assert_int_equal(g1->span_values[2 * r + 1], 10);
	}
	/* totals read the rows only */
	assert_int_equal(hearth_upload_total(u, 0), 4 + 3 + 40 * 2);
	hearth_arena_free(a);
}

/* _group + _add_row is _add_span in two steps: the same labels in any
 * order give the same index, indexes stay valid while groups are added
 * (slot table rehashes), and rows and span rows land in that group. */
static void
test_upload_group_then_add_row(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(0);
	hearth_upload_builder *b;
	hearth_err             err = { 0 };
	assert_int_equal(hearth_upload_builder_new(a, 1, &b, &err), 0);
	uint32_t f = intern(b, "f"), sf;
	assert_int_equal(hearth_upload_builder_stack(b, &f, 1, &sf, &err), 0);
	hearth_upload_label l1[] = { { "region", "eu" }, { "pod", "a" } };
	hearth_upload_label l2[] = { { "pod", "a" }, { "region", "eu" } };
	uint32_t g1, g2, g;
	assert_int_equal(hearth_upload_builder_group(b, l1, 2, &g1, &err), 0);
	char vals[100][8];
	for (int i = 0; i < 100; i++) {
		snprintf(vals[i], sizeof(vals[i]), "p%d", i);
		hearth_upload_label l[] = { { "pod", vals[i] } };
		assert_int_equal(
		    hearth_upload_builder_group(b, l, 1, &g, &err), 0);
		assert_int_equal(g, (uint32_t) i + 1);
	}
	assert_int_equal(hearth_upload_builder_group(b, l2, 2, &g2, &err), 0);
	assert_int_equal(g2, g1);
	int64_t v1[] = { 3 }, v2[] = { 4 };
	assert_int_equal(
	    hearth_upload_builder_add_row(b, g1, sf, 0, v1, &err), 0);
	assert_int_equal(
	    hearth_upload_builder_add_row(b, g2, sf, 0xab, v2, &err), 0);
	hearth_upload *u;
	assert_int_equal(hearth_upload_builder_finish(b, &u, &err), 0);
	assert_int_equal(u->n_groups, 1); /* the others have no rows */
	assert_string_equal(u->groups[0].labels[0].value, "a");
	assert_int_equal(u->groups[0].n_rows, 1);
	assert_int_equal(u->groups[0].values[0], 7);
	assert_int_equal(u->groups[0].n_span_rows, 1);
	assert_true(u->groups[0].span_ids[0] == 0xab);
	assert_int_equal(u->groups[0].span_values[0], 4);
	hearth_arena_free(a);
}

static void
test_upload_span_parse(void **state)
{
	(void) state;
	uint64_t v = 1;
	assert_int_equal(hearth_upload_span_parse("f9666c0d6bffec33", &v), 0);
	assert_true(v == 0xf9666c0d6bffec33ull);
	assert_int_equal(hearth_upload_span_parse("F9666C0D6BFFEC33", &v), 0);
	assert_true(v == 0xf9666c0d6bffec33ull);
	assert_int_equal(hearth_upload_span_parse("ab", &v), 0);
	assert_true(v == 0xab);
	assert_int_equal(hearth_upload_span_parse("00000000000000ab", &v), 0);
	assert_true(v == 0xab);
	assert_int_equal(hearth_upload_span_parse("0", &v), 0);
	assert_true(v == 0);
	v = 5;
	assert_int_equal(hearth_upload_span_parse("", &v), -1);
	assert_int_equal(hearth_upload_span_parse("f9666c0d6bffec330", &v), -1);
	assert_int_equal(hearth_upload_span_parse("xyz", &v), -1);
	assert_int_equal(hearth_upload_span_parse("12 4", &v), -1);
	assert_int_equal(hearth_upload_span_parse("-1", &v), -1);
	assert_true(v == 5); /* untouched on error */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upload_strings_interned_once),
		cmocka_unit_test(test_upload_many_strings_survive_rehash),
		cmocka_unit_test(test_upload_stacks_dedup_by_frames),
		cmocka_unit_test(test_upload_rows_summed_per_group_and_stack),
		cmocka_unit_test(test_upload_duplicate_label_names_last_wins),
		cmocka_unit_test(test_upload_label_boundaries_distinct),
		cmocka_unit_test(test_upload_many_rows_and_groups),
		cmocka_unit_test(test_upload_arena_cap_is_limit_error),
		cmocka_unit_test(test_upload_sum_overflow_rejected),
		cmocka_unit_test(test_upload_total_saturates),
		cmocka_unit_test(test_upload_zero_sample_types_rejected),
		cmocka_unit_test(test_upload_span_rows_side_table),
		cmocka_unit_test(test_upload_group_then_add_row),
		cmocka_unit_test(test_upload_span_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
