#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "cli_json.h"

static hearth_cli_json *
parse_ok(hearth_arena *a, const char *s)
{
	hearth_cli_json *v = NULL;
	hearth_err       err;
	int              rc = hearth_cli_json_parse(a, s, strlen(s), &v, &err);
	if (rc != 0)
		fail_msg("parse of %s failed: %s", s, err.msg);
	assert_non_null(v);
	return v;
}

static void
parse_err(const char *s, int code, const char *msg)
{
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_json *v = NULL;
	hearth_err       err;
	assert_int_equal(
	    hearth_cli_json_parse(a, s, strlen(s), &v, &err), code);
	assert_null(v);
	assert_string_equal(err.msg, msg);
	hearth_arena_free(a);
}

static void
test_json_render_answer_shape(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_json *v = parse_ok(a,
	    " {\"version\":1,\"flamebearer\":{\"names\":[\"total\",\"main\"],"
	    "\"levels\":[[0,60,0,0],[0,60,60,1]],\"numTicks\":60},"
	    "\"timeline\":null,\"ok\":true,\"no\":false} \n");
	assert_int_equal(v->type, HEARTH_CLI_JSON_OBJECT);
	assert_int_equal(v->n, 5);
	const hearth_cli_json *ver = hearth_cli_json_get(v, "version");
	assert_non_null(ver);
	assert_int_equal(ver->type, HEARTH_CLI_JSON_NUMBER);
	assert_true(ver->is_int);
	assert_int_equal(ver->i, 1);
	const hearth_cli_json *fb    = hearth_cli_json_get(v, "flamebearer");
	const hearth_cli_json *names = hearth_cli_json_get(fb, "names");
	assert_int_equal(names->type, HEARTH_CLI_JSON_ARRAY);
	assert_int_equal(names->n, 2);
	assert_string_equal(names->items[1].s, "main");
	assert_int_equal(names->items[1].len, 4);
	const hearth_cli_json *lv = hearth_cli_json_get(fb, "levels");
	assert_int_equal(lv->items[1].n, 4);
	assert_int_equal(lv->items[1].items[2].i, 60);
	assert_int_equal(
	    hearth_cli_json_get(v, "timeline")->type, HEARTH_CLI_JSON_NULL);
	assert_int_equal(hearth_cli_json_get(v, "ok")->boolean, 1);
	assert_int_equal(hearth_cli_json_get(v, "no")->boolean, 0);
	assert_null(hearth_cli_json_get(v, "missing"));
	assert_null(hearth_cli_json_get(names, "names")); /* not an object */
	assert_null(hearth_cli_json_get(NULL, "x"));
	hearth_arena_free(a);
}

static void
test_json_string_escapes_to_utf8(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_json *v = parse_ok(a,
	    "[\"a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f\", \"caf\\u00e9\", "
	    "\"\\ud83d\\ude00\", \"x\\ud800y\", \"\\u0000z\", \"\\u20AC\"]");
	assert_int_equal(v->n, 6);
	assert_string_equal(v->items[0].s, "a\"b\\c/d\n\t\r\b\f");
	assert_string_equal(v->items[1].s, "caf\xc3\xa9");
	assert_string_equal(v->items[2].s, "\xf0\x9f\x98\x80");
	/* A lone surrogate has no UTF-8 form: U+FFFD. */
	assert_string_equal(v->items[3].s, "x\xef\xbf\xbdy");
	assert_int_equal(v->items[4].len, 2);
	assert_memory_equal(v->items[4].s, "\0z", 2);
	assert_string_equal(v->items[5].s, "\xe2\x82\xac");
	hearth_arena_free(a);
}

static void
test_json_numbers_int_and_double(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_json *v = parse_ok(a,
	    "[0, -7, 9223372036854775807, 9223372036854775808, 1.5, -2e3, "
	    "1E+2]");
	assert_true(v->items[0].is_int);
	assert_int_equal(v->items[0].i, 0);
	assert_int_equal(v->items[1].i, -7);
	assert_int_equal(v->items[2].i, INT64_MAX);
	assert_false(v->items[3].is_int); /* does not fit: double only */
	assert_true(v->items[3].d > 9.2e18);
	assert_false(v->items[4].is_int);
	assert_true(v->items[4].d == 1.5);
	assert_true(v->items[5].d == -2000.0);
	assert_true(v->items[6].d == 100.0);
	hearth_arena_free(a);
}

static void
test_json_empty_containers_and_duplicates(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_json *v = parse_ok(a, "{\"a\":[],\"b\":{},\"a\":2}");
	assert_int_equal(v->n, 3);
	/* The first member of a duplicated key wins. */
	assert_int_equal(
	    hearth_cli_json_get(v, "a")->type, HEARTH_CLI_JSON_ARRAY);
	assert_int_equal(hearth_cli_json_get(v, "a")->n, 0);
	assert_int_equal(hearth_cli_json_get(v, "b")->n, 0);
	hearth_arena_free(a);
}

static void
test_json_errors_name_the_offset(void **state)
{
	(void) state;
	parse_err("", HEARTH_EINVAL,
	    "JSON: offset 0: unexpected end of input, expected a value");
	parse_err("{\"a\" 1}", HEARTH_EINVAL,
	    "JSON: offset 5: expected ':' after an object key");
	parse_err(
	    "[1 2]", HEARTH_EINVAL, "JSON: offset 3: expected ',' or ']'");
	parse_err("{\"a\":1,}", HEARTH_EINVAL,
	    "JSON: offset 7: expected '\"' starting an object key");
	parse_err("[1] x", HEARTH_EINVAL,
	    "JSON: offset 4: unexpected text after the value");
	parse_err("\"abc", HEARTH_EINVAL,
	    "JSON: offset 4: unexpected end of "
	    "input, expected '\"' closing the "
	    "string");
	parse_err("\"a\\x\"", HEARTH_EINVAL,
	    "JSON: offset 3: expected one of \\\" \\\\ \\/ \\b \\f \\n \\r "
	    "\\t "
	    "\\u");
	parse_err("\"\\u12G4\"", HEARTH_EINVAL,
	    "JSON: offset 3: expected 4 hex digits after \\u");
	parse_err("\"a\tb\"", HEARTH_EINVAL,
	    "JSON: offset 2: expected no raw control character in a string");
	parse_err("-", HEARTH_EINVAL,
	    "JSON: offset 1: unexpected end of input, expected a digit");
	parse_err("1.", HEARTH_EINVAL,
	    "JSON: offset 2: unexpected end of input, expected a digit after "
	    "'.'");
	parse_err("01", HEARTH_EINVAL,
	    "JSON: offset 1: unexpected text after the value");
	parse_err("tru", HEARTH_EINVAL, "JSON: offset 0: expected a value");
	parse_err("<html>", HEARTH_EINVAL, "JSON: offset 0: expected a value");
}

static void
test_json_depth_is_bounded(void **state)
{
	(void) state;
	size_t n = HEARTH_CLI_JSON_MAX_DEPTH + 2;
	char  *s = malloc(2 * n + 1);
	memset(s, '[', n);
	memset(s + n, ']', n);
	s[2 * n] = '\0';
	char want[128];
	snprintf(want, sizeof(want),
	    "JSON: offset %d: nesting deeper than %d levels",
	    HEARTH_CLI_JSON_MAX_DEPTH + 1, HEARTH_CLI_JSON_MAX_DEPTH);
	parse_err(s, HEARTH_ELIMIT, want);
	/* One level less parses. */
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_json *v = NULL;
	assert_int_equal(
	    hearth_cli_json_parse(a, s + 1, 2 * n - 2, &v, NULL), 0);
	hearth_arena_free(a);
	free(s);
}

static void
test_json_arena_cap_is_an_error(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(4096);
	char          s[20000];
	size_t        k = 0;
	s[k++]          = '[';
	for (int i = 0; i < 3000; i++)
		k += (size_t) snprintf(
		    s + k, sizeof(s) - k, "%s%d", i ? "," : "", i);
	s[k++]             = ']';
	hearth_cli_json *v = NULL;
	hearth_err       err;
	assert_int_equal(
	    hearth_cli_json_parse(a, s, k, &v, &err), HEARTH_ELIMIT);
	assert_non_null(strstr(err.msg, "answer too large"));
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_render_answer_shape),
		cmocka_unit_test(test_json_string_escapes_to_utf8),
		cmocka_unit_test(test_json_numbers_int_and_double),
		cmocka_unit_test(test_json_empty_containers_and_duplicates),
		cmocka_unit_test(test_json_errors_name_the_offset),
		cmocka_unit_test(test_json_depth_is_bounded),
		cmocka_unit_test(test_json_arena_cap_is_an_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
