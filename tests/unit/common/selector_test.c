#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "selector.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static hearth_selector *
parse_ok(const char *s)
{
	hearth_selector *sel = NULL;
	hearth_err	 err;
	hearth_err_clear(&err);
	int rc = hearth_selector_parse(s, strlen(s), &sel, &err);
	if (rc != 0)
		fail_msg("parse of %s failed: %s", s, err.msg);
	assert_non_null(sel);
	return sel;
}

static void
expect_matcher(const hearth_selector *s, size_t i, hearth_match_op op,
    const char *name, const char *value)
{
	assert_true(i < s->n);
	assert_int_equal(s->matchers[i].op, op);
	assert_string_equal(s->matchers[i].name, name);
	assert_string_equal(s->matchers[i].value, value);
	if (op == HEARTH_MATCH_RE || op == HEARTH_MATCH_NRE)
		assert_non_null(s->matchers[i].re);
	else
		assert_null(s->matchers[i].re);
}

static void
expect_error(const char *s, size_t len, const char *msg)
{
	hearth_selector *sel = (hearth_selector *) 1;
	hearth_err	 err;
	hearth_err_clear(&err);
	int rc = hearth_selector_parse(s, len, &sel, &err);
	if (rc == 0)
		fail_msg("parse of %s unexpectedly succeeded", s);
	assert_int_equal(rc, HEARTH_EINVAL);
	assert_int_equal(err.code, HEARTH_EINVAL);
	assert_null(sel);
	assert_string_equal(err.msg, msg);
}

#define EXPECT_ERROR(s, msg) expect_error((s), sizeof(s) - 1, (msg))

static int
m1(const char *sel_text, const char *value)
{
	hearth_selector *s = parse_ok(sel_text);
	assert_int_equal(s->n, 1);
	int r = hearth_matcher_match(&s->matchers[0], value, strlen(value));
	hearth_selector_free(s);
	return r;
}

/* ---- parser ---- */

static void
test_selector_parse_metric_only(void **state)
{
	(void) state;
	hearth_selector *s =
	    parse_ok("process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	assert_int_equal(s->n, 1);
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "__name__",
	    "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	hearth_selector_free(s);
	s = parse_ok("  :x_1:  ");
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "__name__", ":x_1:");
	hearth_selector_free(s);
}

static void
test_selector_parse_render_query(void **state)
{
	(void) state;
	hearth_selector *s = parse_ok(
	    "process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="
	    "\"checkout\",env=~\"prod|staging\"}");
	assert_int_equal(s->n, 3);
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "__name__",
	    "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	expect_matcher(s, 1, HEARTH_MATCH_EQ, "service_name", "checkout");
	expect_matcher(s, 2, HEARTH_MATCH_RE, "env", "prod|staging");
	hearth_selector_free(s);
}

static void
test_selector_parse_empty_braces(void **state)
{
	(void) state;
	hearth_selector *s = parse_ok("{}");
	assert_int_equal(s->n, 0);
	assert_true(hearth_selector_match(s, NULL, 0));
	hearth_selector_free(s);
	s = parse_ok(" \t{ \n } \r\n");
	assert_int_equal(s->n, 0);
	hearth_selector_free(s);
	s = parse_ok("up{}");
	assert_int_equal(s->n, 1);
	hearth_selector_free(s);
}

static void
test_selector_parse_all_ops(void **state)
{
	(void) state;
	hearth_selector *s =
	    parse_ok("{a=\"1\",b!=\"2\",c=~\"3\",d!~\"4\",a=\"5\"}");
	assert_int_equal(s->n, 5);
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "a", "1");
	expect_matcher(s, 1, HEARTH_MATCH_NEQ, "b", "2");
	expect_matcher(s, 2, HEARTH_MATCH_RE, "c", "3");
	expect_matcher(s, 3, HEARTH_MATCH_NRE, "d", "4");
	expect_matcher(s, 4, HEARTH_MATCH_EQ, "a", "5");
	hearth_selector_free(s);
}

static void
test_selector_parse_whitespace_and_trailing_comma(void **state)
{
	(void) state;
	hearth_selector *s = parse_ok(
	    " foo \t{ a = \"b\" ,\n c !=  'd' , e=~`f` , g !~ \"h\",  } ");
	assert_int_equal(s->n, 5);
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "__name__", "foo");
	expect_matcher(s, 1, HEARTH_MATCH_EQ, "a", "b");
	expect_matcher(s, 2, HEARTH_MATCH_NEQ, "c", "d");
	expect_matcher(s, 3, HEARTH_MATCH_RE, "e", "f");
	expect_matcher(s, 4, HEARTH_MATCH_NRE, "g", "h");
	hearth_selector_free(s);
	/* Drilldown's shape. */
	s = parse_ok("{service_name=\"x\", }");
	assert_int_equal(s->n, 1);
	hearth_selector_free(s);
}

static void
test_selector_parse_quoted_label_names(void **state)
{
	(void) state;
	hearth_selector *s = parse_ok(
	    "{\"process.runtime.name\"=\"go\", 'k 8s'!=\"x\", \"_ok\"=\"y\"}");
	assert_int_equal(s->n, 3);
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "process.runtime.name", "go");
	expect_matcher(s, 1, HEARTH_MATCH_NEQ, "k 8s", "x");
	expect_matcher(s, 2, HEARTH_MATCH_EQ, "_ok", "y");
	hearth_selector_free(s);
	/* A lone quoted string is the metric name (Prometheus 3). */
	s = parse_ok("{\"my.metric\", a=\"b\"}");
	assert_int_equal(s->n, 2);
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "__name__", "my.metric");
	expect_matcher(s, 1, HEARTH_MATCH_EQ, "a", "b");
	hearth_selector_free(s);
	s = parse_ok("{\"only\"}");
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "__name__", "only");
	hearth_selector_free(s);
}

static void
test_selector_parse_go_escapes(void **state)
{
	(void) state;
	hearth_selector *s = parse_ok(
	    "{a=\"q\\\"b\\\\n\\n\\t\\r\\a\\b\\f\\v\\x41\\101\\u00e9"
	    "\\U0001F600\"}");
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "a",
	    "q\"b\\n\n\t\r\a\b\f\vAA\xc3\xa9\xf0\x9f\x98\x80");
	hearth_selector_free(s);
	s = parse_ok("{a='it\\'s \"x\"'}");
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "a", "it's \"x\"");
	hearth_selector_free(s);
	/* Raw strings keep backslashes and quotes, and may span lines. */
	s = parse_ok("{a=`C:\\dir\\\"x\"\n'y'`}");
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "a", "C:\\dir\\\"x\"\n'y'");
	hearth_selector_free(s);
	/* Literal UTF-8 and the empty string. */
	s = parse_ok("{a=\"h\xc3\xa9llo\",b=\"\",c=''}");
	expect_matcher(s, 0, HEARTH_MATCH_EQ, "a", "h\xc3\xa9llo");
	expect_matcher(s, 1, HEARTH_MATCH_EQ, "b", "");
	expect_matcher(s, 2, HEARTH_MATCH_EQ, "c", "");
	hearth_selector_free(s);
}

/* ---- matching ---- */

static void
test_selector_match_eq_neq(void **state)
{
	(void) state;
	assert_true(m1("{a=\"checkout\"}", "checkout"));
	assert_false(m1("{a=\"checkout\"}", "checkou"));
	assert_false(m1("{a=\"checkout\"}", "checkouts"));
	assert_false(m1("{a=\"checkout\"}", ""));
	assert_true(m1("{a!=\"checkout\"}", "checkouts"));
	assert_false(m1("{a!=\"checkout\"}", "checkout"));
	assert_true(m1("{a!=\"checkout\"}", ""));
	/* value compared by length, not as a C prefix */
	hearth_selector *s = parse_ok("{a=\"ab\"}");
	assert_true(hearth_matcher_match(&s->matchers[0], "abc", 2));
	assert_false(hearth_matcher_match(&s->matchers[0], "abc", 3));
	hearth_selector_free(s);
}

static void
test_selector_regex_anchored(void **state)
{
	(void) state;
	assert_true(m1("{r=~\"us-.*\"}", "us-east-1"));
	assert_false(m1("{r=~\"us-.*\"}", "eu-us-east-1"));
	assert_false(m1("{r=~\"east\"}", "us-east-1"));
	assert_true(m1("{r=~\"x|y\"}", "y"));
	assert_false(m1("{r=~\"x|y\"}", "xy"));
	/* end anchoring must backtrack into the longer alternative */
	assert_true(m1("{r=~\"a|ab\"}", "ab"));
	assert_true(m1("{r=~\"prod|staging\"}", "staging"));
	assert_false(m1("{r=~\"prod|staging\"}", "production"));
	assert_true(m1("{r!~\"us-.*\"}", "eu-west-1"));
	assert_false(m1("{r!~\"us-.*\"}", "us-west-1"));
	assert_true(m1("{r!~\"east\"}", "us-east-1"));
	/* RE2 semantics: . matches newline, $ only at the very end */
	assert_true(m1("{r=~\"a.b\"}", "a\nb"));
	assert_false(m1("{r=~\"a$\"}", "a\n"));
	assert_true(m1("{r=~\"(?i)CHECK.*\"}", "checkout"));
	assert_true(m1("{r=~\"caf\\u00e9.\"}", "caf\xc3\xa9\xe2\x82\xac"));
	assert_true(m1("{r=~\"\\\\d+\"}", "12345"));
	assert_false(m1("{r=~\"\\\\d+\"}", "12a45"));
	assert_true(m1("{r=~\"\"}", ""));
	assert_false(m1("{r=~\"\"}", "x"));
}

static void
test_selector_missing_label_semantics(void **state)
{
	(void) state;
	hearth_label with[]    = { { "a", "1" }, { "l", "v" }, { "z", "2" } };
	hearth_label without[] = { { "a", "1" }, { "z", "2" } };
	struct {
		const char *sel;
		int	    with, without, empty;
	} cases[] = {
		{ "{l=\"\"}", 0, 1, 1 },
		{ "{l!=\"\"}", 1, 0, 0 },
		{ "{l=~\".*\"}", 1, 1, 1 },
		{ "{l=~\".+\"}", 1, 0, 0 },
		{ "{l!~\".+\"}", 0, 1, 1 },
		{ "{l!~\".*\"}", 0, 0, 0 },
		{ "{l=\"v\"}", 1, 0, 0 },
		{ "{l!=\"v\"}", 0, 1, 1 },
		{ "{l=~\"v|\"}", 1, 1, 1 },
		{ "{l!~\"w\"}", 1, 1, 1 },
		{ "{l=~\"v?\"}", 1, 1, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hearth_selector *s = parse_ok(cases[i].sel);
		if (hearth_selector_match(s, with, 3) != cases[i].with ||
		    hearth_selector_match(s, without, 2) != cases[i].without ||
		    hearth_matcher_matches_empty(&s->matchers[0]) !=
			cases[i].empty)
			fail_msg("case %s", cases[i].sel);
		hearth_selector_free(s);
	}
}

static void
test_selector_match_label_set(void **state)
{
	(void) state;
	hearth_label ls[] = {
		{ "__name__", "process_cpu" },
		{ "env", "prod" },
		{ "region", "us-east-1" },
		{ "service_name", "checkout" },
	};
	hearth_selector *s = parse_ok(
	    "process_cpu{service_name=\"checkout\",region=~\"us-.*\","
	    "env!=\"dev\",pod=\"\"}");
	assert_true(hearth_selector_match(s, ls, 4));
	hearth_selector_free(s);
	s = parse_ok("{service_name=\"checkout\",region=~\"eu-.*\"}");
	assert_false(hearth_selector_match(s, ls, 4));
	hearth_selector_free(s);
	s = parse_ok("{service_name=\"checkout\",service_name!=\"checkout\"}");
	assert_false(hearth_selector_match(s, ls, 4));
	hearth_selector_free(s);
	/* every position of the binary search */
	const char *names[] = { "__name__", "env", "region", "service_name" };
	for (size_t i = 0; i < 4; i++) {
		hearth_selector *t = hearth_selector_new();
		assert_int_equal(hearth_selector_add(t, HEARTH_MATCH_EQ,
				     names[i], ls[i].value, NULL),
		    0);
		assert_true(hearth_selector_match(t, ls, 4));
		assert_false(hearth_selector_match(t, ls + 1, 0));
		hearth_selector_free(t);
	}
}

static void
test_selector_add(void **state)
{
	(void) state;
	hearth_selector *s = parse_ok("{service_name=\"x\"}");
	hearth_err	 err;
	hearth_err_clear(&err);
	assert_int_equal(hearth_selector_add(s, HEARTH_MATCH_EQ,
			     "__profile_type__",
			     "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
			     &err),
	    0);
	assert_int_equal(hearth_selector_add(s, HEARTH_MATCH_NRE, "pod",
			     "canary-.*", &err),
	    0);
	assert_int_equal(s->n, 3);
	expect_matcher(s, 2, HEARTH_MATCH_NRE, "pod", "canary-.*");
	assert_int_equal(hearth_selector_add(s, HEARTH_MATCH_RE, "x", "(",
			     &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "selector: invalid regex \"(\" for label \"x\": missing closing "
	    "parenthesis");
	assert_int_equal(s->n, 3);
	assert_int_equal(hearth_selector_add(s, HEARTH_MATCH_EQ, "", "v",
			     &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "selector: empty label name");
	assert_int_equal(hearth_selector_add(s, HEARTH_MATCH_EQ, "a",
			     "\xff", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "selector: value for label \"a\" is not valid UTF-8");
	assert_int_equal(s->n, 3);
	/* many adds force the matcher array to grow */
	for (int i = 0; i < 40; i++)
		assert_int_equal(hearth_selector_add(s, HEARTH_MATCH_RE, "r",
				     "a+", NULL),
		    0);
	assert_int_equal(s->n, 43);
	expect_matcher(s, 42, HEARTH_MATCH_RE, "r", "a+");
	hearth_selector_free(s);
	hearth_selector_free(NULL);
}

static void
test_selector_hostile_regex_is_bounded(void **state)
{
	(void) state;
	char subject[64];
	memset(subject, 'a', 40);
	memcpy(subject + 40, "bx", 3);
	hearth_selector *s = parse_ok("{r=~\"(a|aa)+b\", r!~\"(a|aa)+b\"}");
	struct timespec	 t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(hearth_matcher_match(&s->matchers[0], subject, 42));
	assert_true(hearth_matcher_match(&s->matchers[1], subject, 42));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double) (t1.tv_sec - t0.tv_sec) +
	    (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 2.0);
	hearth_selector_free(s);
	/* Backreference blow-up, also cut by the limits. */
	s = parse_ok("{r=~\"(.*)(.*)(.*)(.*)(.*)\\\\1\\\\2\\\\3z\"}");
	char big[2049];
	memset(big, 'q', 2048);
	big[2048] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(hearth_matcher_match(&s->matchers[0], big, 2048));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double) (t1.tv_sec - t0.tv_sec) +
	    (double) (t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 2.0);
	hearth_selector_free(s);
}

static void
test_selector_regex_long_value(void **state)
{
	(void) state;
	/* 2048-byte value (the label value limit) through a pattern with a
	 * backtracking point per character. */
	char v[2050];
	for (int i = 0; i < 2048; i++)
		v[i] = (i & 1) ? 'b' : 'a';
	v[2048] = 'c';
	v[2049] = '\0';
	assert_true(m1("{r=~\"(a|b)*c\"}", v));
	assert_true(m1("{r=~\"(?:a|b)*c\"}", v));
	v[2048] = 'd';
	assert_false(m1("{r=~\"(a|b)*c\"}", v));
}

typedef struct thread_arg {
	const hearth_selector *s;
	int		       ok;
} thread_arg;

static void *
thread_main(void *p)
{
	thread_arg  *a	  = p;
	hearth_label ls[] = { { "env", "prod" }, { "region", "us-east-1" } };
	hearth_label no[] = { { "env", "prod" }, { "region", "eu-west-1" } };
	a->ok		  = 1;
	for (int i = 0; i < 20000; i++) {
		if (!hearth_selector_match(a->s, ls, 2) ||
		    hearth_selector_match(a->s, no, 2))
			a->ok = 0;
	}
	return NULL;
}

static void
test_selector_match_concurrent(void **state)
{
	(void) state;
	hearth_selector *s =
	    parse_ok("{env=~\"prod|staging\",region=~\"us-[a-z]+-\\\\d\"}");
	pthread_t  th[4];
	thread_arg args[4];
	for (int i = 0; i < 4; i++) {
		args[i].s = s;
		assert_int_equal(pthread_create(&th[i], NULL, thread_main,
				     &args[i]),
		    0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_true(args[i].ok);
	}
	hearth_selector_free(s);
}

/* ---- canonical form ---- */

static void
test_selector_format_canonical(void **state)
{
	(void) state;
	hearth_selector *s = parse_ok(
	    "foo:bar { a = 'b', 'c'=~\"x\\ny\", \"d.e\"!~`C:\\dir`, "
	    "f!=\"q\\\"\\t"
	    "\\x01\\u00e9\", }");
	hearth_buf b;
	hearth_buf_init(&b);
	assert_int_equal(hearth_selector_format(s, &b), 0);
	assert_string_equal(b.data,
	    "{__name__=\"foo:bar\",a=\"b\",c=~\"x\\ny\",\"d.e\"!~\"C:\\\\dir\","
	    "f!=\"q\\\"\\t\\x01\xc3\xa9\"}");
	hearth_selector_free(s);
	hearth_buf_reset(&b);
	s = parse_ok("{}");
	assert_int_equal(hearth_selector_format(s, &b), 0);
	assert_string_equal(b.data, "{}");
	hearth_selector_free(s);
	hearth_buf_fini(&b);
}

static void
test_selector_format_roundtrip(void **state)
{
	(void) state;
	const char *inputs[] = {
		"{}",
		("process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="
		 "\"checkout\",env=~\"prod|staging\"}"),
		"{\"a b\"=\"\\\"\\\\\", x!~'\\x7f\\r', y=`\n`}",
		"{\"my.metric\", \"we\\u00efrd\\nname\"=\"v\"}",
		"{__name__=~\"a.*\", a=\"\", b=\"\\U0001F600\"}",
	};
	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		hearth_selector *a = parse_ok(inputs[i]);
		hearth_buf	 b;
		hearth_buf_init(&b);
		assert_int_equal(hearth_selector_format(a, &b), 0);
		hearth_selector *c = parse_ok(b.data);
		assert_int_equal(a->n, c->n);
		for (size_t k = 0; k < a->n; k++)
			expect_matcher(c, k, a->matchers[k].op,
			    a->matchers[k].name, a->matchers[k].value);
		/* and formatting is a fixed point */
		hearth_buf b2;
		hearth_buf_init(&b2);
		assert_int_equal(hearth_selector_format(c, &b2), 0);
		assert_string_equal(b.data, b2.data);
		hearth_buf_fini(&b2);
		hearth_buf_fini(&b);
		hearth_selector_free(a);
		hearth_selector_free(c);
	}
}

/* ---- errors ---- */

static void
test_selector_error_structure(void **state)
{
	(void) state;
	EXPECT_ERROR("", "selector: position 0: expected a metric name or "
			 "\"{\", got end of input");
	EXPECT_ERROR("   ", "selector: position 3: expected a metric name or "
			    "\"{\", got end of input");
	EXPECT_ERROR("%{}", "selector: position 0: expected a metric name "
			    "or \"{\", got \"%\"");
	EXPECT_ERROR("foo bar", "selector: position 4: expected \"{\" or the "
				"end after metric name \"foo\", got \"b\"");
	EXPECT_ERROR("{", "selector: position 1: expected a label name or "
			  "\"}\", got end of input");
	EXPECT_ERROR("{,}", "selector: position 1: expected a label name or "
			    "\"}\", got \",\"");
	EXPECT_ERROR("{a=\"b\",,}", "selector: position 7: expected a label "
				    "name or \"}\", got \",\"");
	EXPECT_ERROR("{1a=\"b\"}", "selector: position 1: expected a label "
				   "name or \"}\", got \"1\"");
	EXPECT_ERROR("{pod=\"xy\", env}",
	    "selector: position 14: expected \"=\", \"!=\", \"=~\" or \"!~\" "
	    "after label name \"env\"");
	EXPECT_ERROR("{a!\"b\"}", "selector: position 2: expected \"=\", "
				  "\"!=\", \"=~\" or \"!~\" after label name "
				  "\"a\"");
	EXPECT_ERROR("{\"a.b\" \"c\"}",
	    "selector: position 7: expected \"=\", \"!=\", \"=~\" or \"!~\" "
	    "after label name \"a.b\"");
	EXPECT_ERROR("{a=b}", "selector: position 3: expected a quoted string "
			      "after \"=\" for label \"a\", got \"b\"");
	EXPECT_ERROR("{a=~ }", "selector: position 5: expected a quoted "
			       "string after \"=~\" for label \"a\", got "
			       "\"}\"");
	EXPECT_ERROR("{a=\"b\"", "selector: position 6: expected \",\" or "
				 "\"}\" after a matcher, got end of input");
	EXPECT_ERROR("{a=\"b\" c=\"d\"}",
	    "selector: position 7: expected \",\" or \"}\" after a matcher, "
	    "got \"c\"");
	EXPECT_ERROR("{a=\"b\"} x", "selector: position 8: unexpected \"x\" "
				    "after \"}\"");
	EXPECT_ERROR("{a=\"b\"}}", "selector: position 7: unexpected \"}\" "
				   "after \"}\"");
	EXPECT_ERROR("{\"\"=\"x\"}", "selector: position 1: empty label name");
	EXPECT_ERROR("foo{__name__=\"bar\"}",
	    "selector: position 4: the metric name is set twice (once as a "
	    "name before \"{\" or a lone quoted name, once as a __name__ "
	    "matcher)");
	EXPECT_ERROR("{__name__=~\"b.*\", \"foo\"}",
	    "selector: position 18: the metric name is set twice (once as a "
	    "name before \"{\" or a lone quoted name, once as a __name__ "
	    "matcher)");
	EXPECT_ERROR("{a=\"b\"\x01}", "selector: position 6: expected \",\" "
				      "or \"}\" after a matcher, got byte "
				      "0x01");
}

static void
test_selector_error_strings(void **state)
{
	(void) state;
	EXPECT_ERROR("{service_name=\"abc",
	    "selector: unterminated string starting at position 14");
	EXPECT_ERROR("{a='b}",
	    "selector: unterminated string starting at position 3");
	EXPECT_ERROR("{a=`b}",
	    "selector: unterminated string starting at position 3");
	EXPECT_ERROR("{a=\"b\\\"}",
	    "selector: unterminated string starting at position 3");
	EXPECT_ERROR("{a=\"b\\",
	    "selector: unterminated string starting at position 3");
	EXPECT_ERROR("{\"name",
	    "selector: unterminated string starting at position 1");
	EXPECT_ERROR("{a=\"\\q\"}",
	    "selector: position 4: invalid escape \"\\q\" in string (valid: "
	    "\\a \\b \\f \\n \\r \\t \\v \\\\ \\\" \\xHH \\ooo \\uHHHH "
	    "\\UHHHHHHHH)");
	EXPECT_ERROR("{a=\"\\'\"}",
	    "selector: position 4: invalid escape \"\\'\" in string (valid: "
	    "\\a \\b \\f \\n \\r \\t \\v \\\\ \\\" \\xHH \\ooo \\uHHHH "
	    "\\UHHHHHHHH)");
	EXPECT_ERROR("{a='\\\"'}",
	    "selector: position 4: invalid escape \"\\\"\" in string (valid: "
	    "\\a \\b \\f \\n \\r \\t \\v \\\\ \\' \\xHH \\ooo \\uHHHH "
	    "\\UHHHHHHHH)");
	EXPECT_ERROR("{a=\"\\x4\"}", "selector: position 4: invalid escape: "
				     "\\x must be followed by 2 hex digits");
	EXPECT_ERROR("{a=\"\\u12\"}", "selector: position 4: invalid escape: "
				      "\\u must be followed by 4 hex digits");
	EXPECT_ERROR("{a=\"\\12\"}", "selector: position 4: invalid escape: "
				     "an octal escape has exactly 3 digits "
				     "(\\000 to \\377)");
	EXPECT_ERROR("{a=\"\\400\"}", "selector: position 4: invalid escape "
				      "\"\\400\": octal value above \\377");
	EXPECT_ERROR("{a=\"\\ud800\"}", "selector: position 4: invalid "
					"escape \"\\ud800\": not a Unicode "
					"code point");
	EXPECT_ERROR("{a=\"\\U00110000\"}",
	    "selector: position 4: invalid escape \"\\U00110000\": not a "
	    "Unicode code point");
	EXPECT_ERROR("{a=\"x\ny\"}",
	    "selector: position 5: newline in the string starting at "
	    "position 3 (write \\n, or use a `raw` string)");
	EXPECT_ERROR("{a=\"\\x00\"}",
	    "selector: position 3: the string contains a NUL byte, which no "
	    "label name or value can hold");
	EXPECT_ERROR("{a=\"\\xff\"}",
	    "selector: position 3: the string is not valid UTF-8");
	EXPECT_ERROR("{a=\"\xc3(\"}",
	    "selector: position 3: the string is not valid UTF-8");
	EXPECT_ERROR("{a=`\xed\xa0\x80`}",
	    "selector: position 3: the string is not valid UTF-8");
	/* embedded NUL in the input text itself */
	expect_error("{a=\"b\0\"}", 8,
	    "selector: position 3: the string contains a NUL byte, which no "
	    "label name or value can hold");
}

static void
test_selector_error_regex(void **state)
{
	(void) state;
	EXPECT_ERROR("{a=~\"(\"}", "selector: position 4: invalid regex "
				   "\"(\": missing closing parenthesis");
	EXPECT_ERROR("{service_name=\"x\", env=~\"(\"}",
	    "selector: position 24: invalid regex \"(\": missing closing "
	    "parenthesis");
	EXPECT_ERROR("{a!~\"[z-a]\"}", "selector: position 4: invalid regex "
				       "\"[z-a]\": range out of order in "
				       "character class");
	EXPECT_ERROR("{a=~\"*x\"}", "selector: position 4: invalid regex "
				    "\"*x\": quantifier does not follow a "
				    "repeatable item");
	EXPECT_ERROR("{a=~\"a\\\\C\"}", "selector: position 4: invalid regex "
					"\"a\\C\": using \\C is disabled by "
					"the application");
	/* the same pattern is fine as an equality value */
	hearth_selector *s = parse_ok("{a=\"(\"}");
	assert_true(hearth_matcher_match(&s->matchers[0], "(", 1));
	hearth_selector_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selector_parse_metric_only),
		cmocka_unit_test(test_selector_parse_render_query),
		cmocka_unit_test(test_selector_parse_empty_braces),
		cmocka_unit_test(test_selector_parse_all_ops),
		cmocka_unit_test(
		    test_selector_parse_whitespace_and_trailing_comma),
		cmocka_unit_test(test_selector_parse_quoted_label_names),
		cmocka_unit_test(test_selector_parse_go_escapes),
		cmocka_unit_test(test_selector_match_eq_neq),
		cmocka_unit_test(test_selector_regex_anchored),
		cmocka_unit_test(test_selector_missing_label_semantics),
		cmocka_unit_test(test_selector_match_label_set),
		cmocka_unit_test(test_selector_add),
		cmocka_unit_test(test_selector_hostile_regex_is_bounded),
		cmocka_unit_test(test_selector_regex_long_value),
		cmocka_unit_test(test_selector_match_concurrent),
		cmocka_unit_test(test_selector_format_canonical),
		cmocka_unit_test(test_selector_format_roundtrip),
		cmocka_unit_test(test_selector_error_structure),
		cmocka_unit_test(test_selector_error_strings),
		cmocka_unit_test(test_selector_error_regex),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
