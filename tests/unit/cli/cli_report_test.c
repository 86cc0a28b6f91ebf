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
#include "cli_report.h"
#include "cli_tree.h"

/* main;work 3, main;idle 1, main;work;deep 2 at 100 Hz, as hearth's
 * /pyroscope/render answers it. */
static const char FB_SINGLE[]
    = "{\"names\":[\"total\",\"main\",\"work\",\"deep\",\"idle\"],"
      "\"levels\":[[0,60000000,0,0],[0,60000000,0,1],"
      "[0,10000000,10000000,4,0,50000000,30000000,2],"
      "[40000000,20000000,20000000,3]],"
      "\"numTicks\":60000000,\"maxSelf\":30000000}";

/* left main{a 6, b 4}, right main{a 3, b 9, c{d 2}} */
static const char FB_DIFF[]
    = "{\"names\":[\"total\",\"main\",\"a\",\"b\",\"c\",\"d\"],"
      "\"levels\":[[0,10,0,0,14,0,0],[0,10,0,0,14,0,1],"
      "[0,6,6,0,3,3,2,0,4,4,0,9,9,3,0,0,0,0,2,0,4],"
      "[10,0,0,12,2,2,5]]}";

typedef struct fixture {
	hearth_arena    *a;
	hearth_cli_tree *single;
	hearth_cli_tree *diff;
	hearth_buf       out;
} fixture;

static hearth_cli_tree *
decode(hearth_arena *a, const char *json, int diff)
{
	hearth_cli_json *v = NULL;
	hearth_cli_tree *t = NULL;
	hearth_err       err;
	assert_int_equal(
	    hearth_cli_json_parse(a, json, strlen(json), &v, &err), 0);
	assert_int_equal(hearth_cli_tree_decode(a, v, diff, &t, &err), 0);
	return t;
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->a       = hearth_arena_new(0);
	f->single  = decode(f->a, FB_SINGLE, 0);
	f->diff    = decode(f->a, FB_DIFF, 1);
	hearth_buf_init(&f->out);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	hearth_buf_fini(&f->out);
	hearth_arena_free(f->a);
	free(f);
	return 0;
}

static hearth_cli_report_opts
opts(hearth_cli_unit u)
{
	hearth_cli_report_opts o
	    = { .unit = u, .limit = 20, .min_percent = 1 };
	return o;
}

static void
test_report_top_table_by_self(void **state)
{
	fixture               *f = *state;
	hearth_cli_report_opts o = opts(HEARTH_CLI_UNIT_NANOSECONDS);
	hearth_err             err;
	assert_int_equal(
	    hearth_cli_report_top(f->a, f->single, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    "    self   self%     total   total%  function\n"
	    "30.00 ms  50.00%  50.00 ms   83.33%  work\n"
	    "20.00 ms  33.33%  20.00 ms   33.33%  deep\n"
	    "10.00 ms  16.67%  10.00 ms   16.67%  idle\n"
	    "    0 ns   0.00%  60.00 ms  100.00%  main\n");
}

static void
test_report_top_by_total_with_limit(void **state)
{
	fixture               *f = *state;
	hearth_cli_report_opts o = opts(HEARTH_CLI_UNIT_NANOSECONDS);
	hearth_err             err;
	o.limit    = 2;
	o.by_total = 1;
	assert_int_equal(
	    hearth_cli_report_top(f->a, f->single, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    "    self   self%     total   total%  function\n"
	    "    0 ns   0.00%  60.00 ms  100.00%  main\n"
	    "30.00 ms  50.00%  50.00 ms   83.33%  work\n"
	    "(2 of 4 functions shown; --limit 0 shows all)\n");
	hearth_buf_reset(&f->out);
	/* JSON has every row, whatever the limit. */
	assert_int_equal(
	    hearth_cli_report_top_json(f->a, f->single, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    "[{\"function\":\"main\",\"self\":0,\"total\":60000000},"
	    "{\"function\":\"work\",\"self\":30000000,\"total\":50000000},"
	    "{\"function\":\"deep\",\"self\":20000000,\"total\":20000000},"
	    "{\"function\":\"idle\",\"self\":10000000,\"total\":10000000}]\n");
}

static void
test_report_top_of_nothing(void **state)
{
	fixture               *f = *state;
	hearth_cli_report_opts o = opts(HEARTH_CLI_UNIT_COUNT);
	hearth_err             err;
	hearth_cli_tree *t = decode(f->a, "{\"names\":[],\"levels\":[]}", 0);
	assert_int_equal(hearth_cli_report_top(f->a, t, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    "no samples: the query matched no "
	    "profiles in this time range\n");
	hearth_buf_reset(&f->out);
	assert_int_equal(
	    hearth_cli_report_top_json(f->a, t, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data, "[]\n");
}

static void
test_report_tree_indented_by_total(void **state)
{
	fixture               *f = *state;
	hearth_cli_report_opts o = opts(HEARTH_CLI_UNIT_NANOSECONDS);
	hearth_err             err;
	assert_int_equal(
	    hearth_cli_report_tree(f->a, f->single, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    " total%     total      self  function\n"
	    "100.00%  60.00 ms         -  total\n"
	    "100.00%  60.00 ms         -    main\n"
	    " 83.33%  50.00 ms  30.00 ms      work\n"
	    " 33.33%  20.00 ms  20.00 ms        deep\n"
	    " 16.67%  10.00 ms  10.00 ms      idle\n");
}

static void
test_report_tree_min_percent_and_depth_hide(void **state)
{
	fixture               *f = *state;
	hearth_cli_report_opts o = opts(HEARTH_CLI_UNIT_NANOSECONDS);
	hearth_err             err;
	o.min_percent = 20;
	assert_int_equal(
	    hearth_cli_report_tree(f->a, f->single, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    " total%     total      self  function\n"
	    "100.00%  60.00 ms         -  total\n"
	    "100.00%  60.00 ms         -    main\n"
	    " 83.33%  50.00 ms  30.00 ms      work\n"
	    " 33.33%  20.00 ms  20.00 ms        deep\n"
	    "(1 more node: raise --depth or lower --min-percent to see it)\n");
	hearth_buf_reset(&f->out);
	o.min_percent = 0;
	o.max_depth   = 1;
	assert_int_equal(
	    hearth_cli_report_tree(f->a, f->single, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    " total%     total  self  function\n"
	    "100.00%  60.00 ms     -  total\n"
	    "100.00%  60.00 ms     -    main\n"
	    "(3 more nodes: raise --depth or lower --min-percent to see "
	    "them)\n");
}

static void
test_report_tree_sanitises_names(void **state)
{
	fixture               *f = *state;
	hearth_cli_report_opts o = opts(HEARTH_CLI_UNIT_COUNT);
	hearth_err             err;
	hearth_cli_tree       *t = decode(f->a,
	          "{\"names\":[\"total\",\"a\\u001b[2Jb\\n\"],"
	                "\"levels\":[[0,2,0,0],[0,2,2,1]]}",
	          0);
	assert_int_equal(
	    hearth_cli_report_tree(f->a, t, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    " total%  total  self  function\n"
	    "100.00%      2     -  total\n"
	    "100.00%      2     2    a?[2Jb?\n");
}

static void
test_report_diff_regressions_and_improvements(void **state)
{
	fixture               *f = *state;
	hearth_cli_report_opts o = opts(HEARTH_CLI_UNIT_COUNT);
	hearth_err             err;
	o.limit = 10;
	assert_int_equal(
	    hearth_cli_report_diff(f->a, f->diff, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    "total: left 10, right 14 (+40.00%)\n"
	    "regressions (right > left, by self):\n"
	    "left  right  delta    change  function\n"
	    "   4      9     +5  +125.00%  b\n"
	    "   0      2     +2       new  d\n"
	    "improvements (right < left, by self):\n"
	    "left  right  delta   change  function\n"
	    "   6      3     -3  -50.00%  a\n");
}

static void
test_report_diff_normalised_and_limited(void **state)
{
	fixture               *f = *state;
	hearth_cli_report_opts o = opts(HEARTH_CLI_UNIT_COUNT);
	hearth_err             err;
	o.limit     = 1;
	o.normalize = 1;
	assert_int_equal(
	    hearth_cli_report_diff(f->a, f->diff, &o, &f->out, &err), 0);
	/* Left scaled by 14/10: b 4 -> 6 (rounded 5.6), a 6 -> 8 (8.4). */
	assert_string_equal(f->out.data,
	    "total: left 10, right 14 (+40.00%)\n"
	    "left values scaled by 1.4000 to the right total (--normalize)\n"
	    "regressions (right > left, by self):\n"
	    "left  right  delta   change  function\n"
	    "   6      9     +3  +50.00%  b\n"
	    "(1 of 2 shown; --limit 0 shows all)\n"
	    "improvements (right < left, by self):\n"
	    "left  right  delta   change  function\n"
	    "   8      3     -5  -62.50%  a\n");
	hearth_buf_reset(&f->out);
	/* JSON values stay raw even with --normalize. */
	assert_int_equal(
	    hearth_cli_report_diff_json(f->a, f->diff, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    "{\"leftTicks\":10,\"rightTicks\":14,\"functions\":["
	    "{\"function\":\"b\",\"leftSelf\":4,\"rightSelf\":9,\"leftTotal\":"
	    "4,"
	    "\"rightTotal\":9},"
	    "{\"function\":\"d\",\"leftSelf\":0,\"rightSelf\":2,\"leftTotal\":"
	    "0,"
	    "\"rightTotal\":2},"
	    "{\"function\":\"main\",\"leftSelf\":0,\"rightSelf\":0,"
	    "\"leftTotal\":10,\"rightTotal\":14},"
	    "{\"function\":\"c\",\"leftSelf\":0,\"rightSelf\":0,\"leftTotal\":"
	    "0,"
	    "\"rightTotal\":2},"
	    "{\"function\":\"a\",\"leftSelf\":6,\"rightSelf\":3,\"leftTotal\":"
	    "6,"
	    "\"rightTotal\":3}]}\n");
}

static void
test_report_diff_by_total_and_no_change(void **state)
{
	fixture               *f = *state;
	hearth_cli_report_opts o = opts(HEARTH_CLI_UNIT_COUNT);
	hearth_err             err;
	o.by_total = 1;
	o.limit    = 2;
	assert_int_equal(
	    hearth_cli_report_diff(f->a, f->diff, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    "total: left 10, right 14 (+40.00%)\n"
	    "regressions (right > left, by total):\n"
	    "left  right  delta    change  function\n"
	    "   4      9     +5  +125.00%  b\n"
	    "  10     14     +4   +40.00%  main\n"
	    "(2 of 4 shown; --limit 0 shows all)\n"
	    "improvements (right < left, by total):\n"
	    "left  right  delta   change  function\n"
	    "   6      3     -3  -50.00%  a\n");
	hearth_buf_reset(&f->out);
	hearth_cli_tree *same = decode(f->a,
	    "{\"names\":[\"total\",\"x\"],\"levels\":[[0,5,0,0,5,0,0],"
	    "[0,5,5,0,5,5,1]]}",
	    1);
	assert_int_equal(
	    hearth_cli_report_diff(f->a, same, &o, &f->out, &err), 0);
	assert_string_equal(f->out.data,
	    "total: left 5, right 5 (0.00%)\n"
	    "regressions (right > left, by total): none\n"
	    "improvements (right < left, by total): none\n");
	/* A single graph is not a diff. */
	assert_int_equal(
	    hearth_cli_report_diff(f->a, f->single, &o, &f->out, &err),
	    HEARTH_EINVAL);
}

static void
test_report_series_worked_example(void **state)
{
	fixture *f = *state;
	/* render-http.md §4.1: profiles at ...110 s (30) and ...140 s (70). */
	hearth_cli_json *v = NULL;
	hearth_err       err;
	const char *tl = "{\"startTime\":1700000100,\"samples\":[0,30,0,70],"
	                 "\"durationDelta\":15,\"watermarks\":null}";
	assert_int_equal(
	    hearth_cli_json_parse(f->a, tl, strlen(tl), &v, &err), 0);
	hearth_cli_series s[2];
	assert_int_equal(hearth_cli_report_timeline(f->a, v, &s[0], &err), 0);
	s[0].name      = "total";
	s[0].name_len  = 5;
	int64_t prod[] = { 0, 30, 0, 0 };
	s[1]           = s[0];
	s[1].name      = "prod";
	s[1].name_len  = 4;
	s[1].v         = prod;
	assert_int_equal(hearth_cli_report_series(
	                     s, 2, HEARTH_CLI_UNIT_COUNT, 60, &f->out, &err),
	    0);
	assert_string_equal(f->out.data,
	    "series        max\n"
	    "total    \xe2\x96\x84 \xe2\x96\x88  70\n"
	    "prod     \xe2\x96\x88    30\n"
	    "\n"
	    "time                  total  prod\n"
	    "2023-11-14T22:15:00Z      0     0\n"
	    "2023-11-14T22:15:15Z     30    30\n"
	    "2023-11-14T22:15:30Z      0     0\n"
	    "2023-11-14T22:15:45Z     70     0\n");
	hearth_buf_reset(&f->out);
	hearth_cli_report_series_json(s, 2, &f->out);
	assert_string_equal(f->out.data,
	    "{\"step\":15,\"timeline\":[[1700000100,0],[1700000115,30],"
	    "[1700000130,0],[1700000145,70]],\"groups\":{\"prod\":"
	    "[[1700000100,0],[1700000115,30],[1700000130,0],[1700000145,0]]}}"
	    "\n");
}

static void
test_report_timeline_missing_fields(void **state)
{
	fixture          *f = *state;
	hearth_cli_json  *v = NULL;
	hearth_cli_series s;
	hearth_err        err;
	assert_int_equal(
	    hearth_cli_report_timeline(f->a, NULL, &s, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "timeline: the answer has no startTime, "
	    "samples and positive durationDelta");
	const char *tl = "{\"startTime\":1,\"samples\":[1,\"x\"],"
	                 "\"durationDelta\":15}";
	assert_int_equal(
	    hearth_cli_json_parse(f->a, tl, strlen(tl), &v, &err), 0);
	assert_int_equal(
	    hearth_cli_report_timeline(f->a, v, &s, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "timeline: samples[1] is not an integer");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_report_top_table_by_self, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_top_by_total_with_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_top_of_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_tree_indented_by_total, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_tree_min_percent_and_depth_hide, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_tree_sanitises_names, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_diff_regressions_and_improvements, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_diff_normalised_and_limited, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_diff_by_total_and_no_change, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_series_worked_example, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_report_timeline_missing_fields, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
