#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "folded.h"
#include "upload_render.h"

/* Parse body and compare the rendering; want NULL = expect an error with
 * message want_err and code want_rc. */
static void
check(const char *body, size_t len, int mode,
    const hearth_folded_opts *o, const char *want, int want_rc,
    const char *want_err)
{
	hearth_arena  *a = hearth_arena_new(0);
	hearth_err     err;
	hearth_upload *u = (hearth_upload *) 1;
	int rc = hearth_folded_parse(a, body, len, mode, o, &u, &err);
	if (want != NULL) {
		if (rc != 0)
			fail_msg("unexpected error: %s", err.msg);
		char *got = upload_render(u);
		assert_string_equal(got, want);
		free(got);
	} else {
		assert_int_equal(rc, want_rc);
		assert_int_equal(err.code, want_rc);
		assert_string_equal(err.msg, want_err);
		assert_null(u);
	}
	hearth_arena_free(a);
}

#define OK(body, want) check(body, strlen(body), 0, NULL, want, 0, NULL)
#define BAD(body, rc, msg) check(body, strlen(body), 0, NULL, NULL, rc, msg)

static void
test_folded_sums_identical_stacks(void **state)
{
	(void) state;
	OK("main;work;leaf 3\nmain;work 2\nmain;work;leaf 4\n",
	    "main;work 2\nmain;work;leaf 7\n");
}

static void
test_folded_upload_shape(void **state)
{
	(void) state;
	hearth_arena  *a = hearth_arena_new(0);
	hearth_err     err;
	hearth_upload *u;
	const char    *b = "a;b 1\na;c 2\n";
	assert_int_equal(
	    hearth_folded_parse(a, b, strlen(b), 0, NULL, &u, &err), 0);
	assert_int_equal(u->n_strings, 4); /* "", a, b, c */
	assert_string_equal(u->strings[0], "");
	assert_int_equal(u->n_stacks, 2);
	assert_int_equal(u->n_frames, 4);
	assert_int_equal(u->stack_off[0], 0);
	assert_int_equal(u->stack_off[2], 4);
	assert_int_equal(u->frames[0], u->frames[2]); /* root "a" shared */
	assert_null(u->sample_types);
	assert_int_equal(u->time_nanos, 0);
	assert_int_equal(hearth_upload_total(u, 0), 3);
	hearth_arena_free(a);
}

static void
test_folded_line_endings_and_blank_lines(void **state)
{
	(void) state;
	OK("a;b 1\r\nc 2\r\n\r\n\nd 3", "a;b 1\nc 2\nd 3\n");
	OK("a 1", "a 1\n"); /* no final newline */
	OK("", "");
	OK("\n\n\r\n", "");
}

static void
test_folded_split_at_last_space(void **state)
{
	(void) state;
	OK("java.lang.Thread.run (Thread.java);foo bar 5\n",
	    "java.lang.Thread.run (Thread.java);foo bar 5\n");
	/* Trailing blanks are trimmed before the split (upstream would fail
	 * on "5 "). */
	OK("a;b 5  \t\r\n", "a;b 5\n");
}

static void
test_folded_lines_without_space_skipped(void **state)
{
	(void) state;
	OK("just-a-frame\na;b 1\nno;count;here\n", "a;b 1\n");
	OK("a;b\t5\n", ""); /* a tab is not the separator */
}

static void
test_folded_empty_frames_skipped(void **state)
{
	(void) state;
	OK(";a;;b; 5\na;b 1\n", "a;b 6\n");
	OK(" 5\n;; 2\n", " 7\n"); /* the empty stack */
}

static void
test_folded_count_forms(void **state)
{
	(void) state;
	OK("a +5\n", "a 5\n");
	OK("a 007\n", "a 7\n");
	OK("a 0\nb -0\n", ""); /* zero counts carry nothing */
	OK("a 9223372036854775807\n", "a 9223372036854775807\n");
}

static void
test_folded_count_errors(void **state)
{
	(void) state;
	BAD("a 1\nb 2\nc 3\nd 4\ne 5\nf 6\ng abc\n", HEARTH_EINVAL,
	    "folded: line 7: count \"abc\" is not an integer");
	BAD("a 5x\n", HEARTH_EINVAL,
	    "folded: line 1: count \"5x\" is not an integer");
	BAD("a 1.5\n", HEARTH_EINVAL,
	    "folded: line 1: count \"1.5\" is not an integer");
	BAD("a +\n", HEARTH_EINVAL,
	    "folded: line 1: count \"+\" is not an integer");
	BAD("a 1\nb -5\n", HEARTH_EINVAL,
	    "folded: line 2: count \"-5\" is negative");
	BAD("a 9223372036854775808\n", HEARTH_EINVAL,
	    "folded: line 1: count \"9223372036854775808\" is out of range");
	BAD("a -9223372036854775808\n", HEARTH_EINVAL,
	    "folded: line 1: count \"-9223372036854775808\" is negative");
	BAD("a 99999999999999999999999999999999999999x\n", HEARTH_EINVAL,
	    "folded: line 1: count \"99999999999999999999999999999999...\" "
	    "is not an integer");
	BAD("a;b 9223372036854775807\r\na;b 1\r\n", HEARTH_EINVAL,
	    "folded: line 2: sum of sample values for one stack overflows a "
	    "64-bit integer");
}

static void
test_folded_utf8_and_nul_errors(void **state)
{
	(void) state;
	BAD("ok 1\na;\xff;b 1\n", HEARTH_EINVAL,
	    "folded: line 2: frame 2 is not valid UTF-8");
	BAD("a;;\xc3 1\n", HEARTH_EINVAL,
	    "folded: line 1: frame 2 is not valid UTF-8");
	OK("caf\xc3\xa9;\xe2\x82\xac 1\n", "caf\xc3\xa9;\xe2\x82\xac 1\n");
	check("a;b\0c 1\n", 8, 0, NULL, NULL, HEARTH_EINVAL,
	    "folded: line 1: frame 2 contains a NUL byte");
}

static void
test_folded_max_stack_depth_keeps_root(void **state)
{
	(void) state;
	hearth_folded_opts o = { .max_stack_depth = 2 };
	const char        *b = "a;b;c;d 1\na;b;x 2\nq 4\n";
	check(b, strlen(b), 0, &o, "a;b 3\nq 4\n", 0, NULL);
	/* Frames past the limit are not even read. */
	const char *bad = "a;b;\xff 1\n";
	check(bad, strlen(bad), 0, &o, "a;b 1\n", 0, NULL);
}

static void
test_folded_max_symbol_length_keeps_tail(void **state)
{
	(void) state;
	hearth_folded_opts o = { .max_symbol_length = 4 };
	const char        *b = "abcdefgh;xy 1\nzzzzefgh;xy 2\n";
	check(b, strlen(b), 0, &o, "efgh;xy 3\n", 0, NULL);
	/* "ééé" is 6 bytes; the last 3 start inside a character, so only
	 * the last "é" is kept. */
	o.max_symbol_length = 3;
	const char *u       = "\xc3\xa9\xc3\xa9\xc3\xa9 1\n";
	check(u, strlen(u), 0, &o, "\xc3\xa9 1\n", 0, NULL);
}

static void
test_folded_max_samples(void **state)
{
	(void) state;
	hearth_folded_opts o  = { .max_samples = 2 };
	const char        *ok = "a 1\nb 1\na 1\nz 0\n";
	check(ok, strlen(ok), 0, &o, "a 2\nb 1\n", 0, NULL);
	const char *b = "a 1\nb 1\na 1\nc 1\n";
	check(b, strlen(b), 0, &o, NULL, HEARTH_ELIMIT,
	    "max_profile_stacktrace_samples: the profile has more than 2 "
	    "distinct stacks (limit reached at line 4)");
}

static void
test_folded_lines_mode(void **state)
{
	(void) state;
	const char *b = "a;b\na;b\n\n   \nc\r\nx y;z\n";
	check(b, strlen(b), 1, NULL, "a;b 2\nc 1\nx y;z 1\n", 0, NULL);
	const char *bad = "a\n\xfe\n";
	check(bad, strlen(bad), 1, NULL, NULL, HEARTH_EINVAL,
	    "lines: line 2: frame 1 is not valid UTF-8");
	/* A count-looking suffix is part of the frame in lines mode. */
	const char *num = "a;b 5\n";
	check(num, strlen(num), 1, NULL, "a;b 5 1\n", 0, NULL);
}

static void
test_folded_no_line_length_limit(void **state)
{
	(void) state;
	size_t n    = 200000;
	char  *body = malloc(n + 16);
	memset(body, 'f', n);
	body[1000] = ';';
	memcpy(body + n, " 3\n", 4);
	hearth_arena  *a = hearth_arena_new(0);
	hearth_err     err;
	hearth_upload *u;
	assert_int_equal(
	    hearth_folded_parse(a, body, n + 3, 0, NULL, &u, &err), 0);
	assert_int_equal(u->n_stacks, 1);
	assert_int_equal(u->n_frames, 2);
	assert_int_equal(u->string_lens[u->frames[1]], n - 1001);
	assert_int_equal(hearth_upload_total(u, 0), 3);
	hearth_arena_free(a);
	free(body);
}

static void
test_folded_arena_cap_is_limit(void **state)
{
	(void) state;
	hearth_buf b;
	hearth_buf_init(&b);
	for (int i = 0; i < 2000; i++)
		hearth_buf_printf(&b, "main;fn%d;leaf%d 1\n", i, i);
	hearth_arena  *a = hearth_arena_new(16 * 1024);
	hearth_err     err;
	hearth_upload *u;
	assert_int_equal(
	    hearth_folded_parse(a, b.data, b.len, 0, NULL, &u, &err),
	    HEARTH_ELIMIT);
	assert_int_equal(err.code, HEARTH_ELIMIT);
	assert_non_null(strstr(err.msg, "memory limit"));
	hearth_arena_free(a);
	hearth_buf_fini(&b);
}

/* ---- trie and tree ---------------------------------------------------- */

/* Append one binary node (name, value, children) to b. */
static void
node(hearth_buf *b, const char *name, uint64_t value, uint64_t children)
{
	uint64_t v[3] = { strlen(name), value, children };
	for (int i = 0; i < 3; i++) {
		uint64_t x = v[i];
		while (x >= 0x80) {
			hearth_buf_putc(b, (char) (x | 0x80));
			x >>= 7;
		}
		hearth_buf_putc(b, (char) x);
		if (i == 0)
			hearth_buf_puts(b, name);
	}
}

/* A trie's names are pieces of keys; values at any node are samples. */
static void
test_folded_trie(void **state)
{
	(void) state;
	hearth_buf b;
	hearth_buf_init(&b);
	node(&b, "", 0, 2);	  /* root */
	node(&b, "main;", 0, 2);  /* key "main;" */
	node(&b, "wo", 0, 1);	  /*   "main;wo" */
	node(&b, "rk", 3, 1);	  /*     "main;work" = 3 */
	node(&b, ";leaf", 300, 0); /*      "main;work;leaf" = 300 */
	node(&b, "idle", 2, 0);	  /*   "main;idle" = 2 */
	node(&b, "gc", 1, 0);	  /* "gc" = 1 */
	check(b.data, b.len, HEARTH_FOLDED_TRIE, NULL,
	    "gc 1\nmain;idle 2\nmain;work 3\nmain;work;leaf 300\n", 0, NULL);
	/* Cut short anywhere: an error naming the node, never a crash. */
	for (size_t i = 1; i < b.len; i++) {
		hearth_arena  *a = hearth_arena_new(0);
		hearth_err     err;
		hearth_upload *u = NULL;
		assert_int_equal(hearth_folded_parse(a, b.data, i,
				     HEARTH_FOLDED_TRIE, NULL, &u, &err),
		    HEARTH_EINVAL);
		assert_non_null(strstr(err.msg, "trie: node "));
		hearth_arena_free(a);
	}
	hearth_buf_putc(&b, 'x');
	check(b.data, b.len, HEARTH_FOLDED_TRIE, NULL, NULL, HEARTH_EINVAL,
	    "trie: 1 bytes after the last node (node 7)");
	hearth_buf_fini(&b);
}

/* A tree's names are frames, values are self values, and the first node
 * is a synthetic root whose value is no sample. */
static void
test_folded_tree(void **state)
{
	(void) state;
	hearth_buf b;
	hearth_buf_init(&b);
	node(&b, "", 99, 2);
	node(&b, "main", 1, 2);
	node(&b, "work", 5, 1);
	node(&b, "a;b", 2, 0); /* split like upstream: main;work;a;b */
	node(&b, "idle", 0, 0);
	node(&b, "gc", 4, 0);
	hearth_folded_opts o = { .max_stack_depth = 3 };
	check(b.data, b.len, HEARTH_FOLDED_TREE, NULL,
	    "gc 4\nmain 1\nmain;work 5\nmain;work;a;b 2\n", 0, NULL);
	check(b.data, b.len, HEARTH_FOLDED_TREE, &o,
	    "gc 4\nmain 1\nmain;work 5\nmain;work;a 2\n", 0, NULL);
	hearth_buf_fini(&b);
	hearth_buf_init(&b);
	node(&b, "", 0, 1);
	node(&b, "main", 0, 1);
	node(&b, "bad\xff", 1, 0);
	check(b.data, b.len, HEARTH_FOLDED_TREE, NULL, NULL, HEARTH_EINVAL,
	    "tree: node 3: frame 2 is not valid UTF-8");
	hearth_buf_fini(&b);
	hearth_buf_init(&b);
	node(&b, "", 0, 3); /* claims three children, has one */
	node(&b, "main", 1, 0);
	check(b.data, b.len, HEARTH_FOLDED_TREE, NULL, NULL, HEARTH_EINVAL,
	    "tree: node 3: cut short or a bad name length (byte 10)");
	check("", 0, HEARTH_FOLDED_TREE, NULL, NULL, HEARTH_EINVAL,
	    "tree: the body is empty");
	/* A uvarint over 64 bits. */
	check("\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 10,
	    HEARTH_FOLDED_TREE, NULL, NULL, HEARTH_EINVAL,
	    "tree: node 1: cut short or a bad name length (byte 10)");
	hearth_buf_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded_sums_identical_stacks),
		cmocka_unit_test(test_folded_upload_shape),
		cmocka_unit_test(test_folded_line_endings_and_blank_lines),
		cmocka_unit_test(test_folded_split_at_last_space),
		cmocka_unit_test(test_folded_lines_without_space_skipped),
		cmocka_unit_test(test_folded_empty_frames_skipped),
		cmocka_unit_test(test_folded_count_forms),
		cmocka_unit_test(test_folded_count_errors),
		cmocka_unit_test(test_folded_utf8_and_nul_errors),
		cmocka_unit_test(test_folded_max_stack_depth_keeps_root),
		cmocka_unit_test(test_folded_max_symbol_length_keeps_tail),
		cmocka_unit_test(test_folded_max_samples),
		cmocka_unit_test(test_folded_lines_mode),
		cmocka_unit_test(test_folded_no_line_length_limit),
		cmocka_unit_test(test_folded_arena_cap_is_limit),
		cmocka_unit_test(test_folded_trie),
		cmocka_unit_test(test_folded_tree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
