#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "timeline.h"

#include <string.h>

static void
expect_timeline(int64_t from, int64_t until, int64_t step_s,
    const hearth_point *pts, size_t n, const char *want)
{
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_timeline_write(&b, from, until, step_s, pts, n);
	assert_false(hearth_buf_failed(&b));
	assert_string_equal(b.data, want);
	hearth_buf_fini(&b);
}

/* render-http.md §4.1: the profiles that produce the example's points. */
static void
test_timeline_worked_example(void **state)
{
	(void) state;
	int64_t from = 1700000100000, until = 1700000160000;
	int64_t step = hearth_timeline_step_seconds(from, until);
	assert_int_equal(step, 15);
	/* SelectSeries: a profile at t goes to the first anchor >= t of
	 * from - step + k * step; 110 s -> 115 s and 140 s -> 145 s. */
	hearth_point pts[2];
	pts[0].ts_ms = hearth_timeline_bucket(from, step * 1000, 1700000110000);
	pts[0].value = 30;
	pts[1].ts_ms = hearth_timeline_bucket(from, step * 1000, 1700000140000);
	pts[1].value = 70;
	assert_int_equal(pts[0].ts_ms, 1700000115000);
	assert_int_equal(pts[1].ts_ms, 1700000145000);
	expect_timeline(from, until, step, pts, 2,
	    "{\"startTime\":1700000100,\"samples\":[0,30,0,70],"
	    "\"durationDelta\":15,\"watermarks\":null}");
}

static void
test_timeline_step_table(void **state)
{
	(void) state;
	struct {
		int64_t diff_ms, step;
	} cases[] = {
		{ 0, 15 },
		{ -5000, 15 },
		{ 3600000, 15 },	/* 1 h: raw 2.4 s */
		{ 22500000, 15 },	/* raw exactly 15 s */
		{ 26250000, 15 },	/* raw exactly 17.5 s: <= bound */
		{ 26250001, 20 },	/* just above */
		{ 37500000, 20 },	/* raw 25 s */
		{ 37500002, 30 },
		{ 86400000, 60 },	/* 24 h: raw 57.6 s */
		{ 604800000, 300 },	/* 7 d: raw 403.2 s */
		{ 2592000000, 1800 },	/* 30 d: raw 1728 s */
		{ 31536000000, 21600 }, /* 1 y: raw 21024 s */
		{ 129600000000, 43200 },  /* raw 86400 s */
		{ 129600000002, 86400 },  /* raw just above 1 d */
		{ 907200000000, 86400 },  /* raw exactly 1 week */
		{ 907200000002, 604800 }, /* raw just above 1 week */
		{ 2721600000000, 604800 }, /* raw exactly 3 weeks */
		{ 2721600000002, 2592000 },
		{ 5443199999999, 2592000 }, /* raw just below 42 d */
		{ 5443200000000, 31536000 }, /* raw 42 d: not < 42 d */
		{ INT64_MAX / 1000, 31536000 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = hearth_timeline_step_seconds(1000,
		    1000 + cases[i].diff_ms);
		if (got != cases[i].step)
			fail_msg("diff %lld: step %lld, want %lld",
			    (long long) cases[i].diff_ms, (long long) got,
			    (long long) cases[i].step);
	}
	assert_int_equal(hearth_timeline_step_seconds(INT64_MIN, INT64_MAX),
	    31536000);
	assert_int_equal(hearth_timeline_step_seconds(INT64_MAX, INT64_MIN),
	    15);
}

static void
test_timeline_bucket_right_edge(void **state)
{
	(void) state;
	int64_t s = 100000, st = 15000;
	assert_int_equal(hearth_timeline_bucket(s, st, 100000), 100000);
	assert_int_equal(hearth_timeline_bucket(s, st, 100001), 115000);
	assert_int_equal(hearth_timeline_bucket(s, st, 114999), 115000);
	assert_int_equal(hearth_timeline_bucket(s, st, 115000), 115000);
	assert_int_equal(hearth_timeline_bucket(s, st, 115001), 130000);
	assert_int_equal(hearth_timeline_bucket(s, st, 90000), 100000);
	assert_int_equal(hearth_timeline_bucket(s, st, 85000), 85000);
	assert_int_equal(hearth_timeline_bucket(s, st, 10), 85000);
	/* unaligned start: anchors stay on start's grid */
	assert_int_equal(hearth_timeline_bucket(107000, st, 108000), 122000);
	assert_int_equal(hearth_timeline_bucket(-30000, 10000, -25000),
	    -20000);
	/* degenerate and extreme inputs */
	assert_int_equal(hearth_timeline_bucket(s, 0, 12345), 12345);
	assert_int_equal(hearth_timeline_bucket(s, -5, 12345), 12345);
	assert_int_equal(hearth_timeline_bucket(s, st, INT64_MAX), INT64_MAX);
	assert_int_equal(hearth_timeline_bucket(INT64_MIN + 5, 10, INT64_MIN),
	    INT64_MIN);
}

static void
test_timeline_empty_and_no_points(void **state)
{
	(void) state;
	expect_timeline(1700000100000, 1700000100000, 15, NULL, 0,
	    "{\"startTime\":1700000100,\"samples\":[],\"durationDelta\":15,"
	    "\"watermarks\":null}");
	/* from and until inside one slot */
	expect_timeline(1700000101000, 1700000114000, 15, NULL, 0,
	    "{\"startTime\":1700000100,\"samples\":[],\"durationDelta\":15,"
	    "\"watermarks\":null}");
	expect_timeline(1700000100000, 1700000160000, 15, NULL, 0,
	    "{\"startTime\":1700000100,\"samples\":[0,0,0,0],"
	    "\"durationDelta\":15,\"watermarks\":null}");
	expect_timeline(1700000100000, 1700000160000, 0, NULL, 0,
	    "{\"startTime\":1700000100,\"samples\":[],\"durationDelta\":0,"
	    "\"watermarks\":null}");
}

static void
test_timeline_unaligned_range(void **state)
{
	(void) state;
	int64_t from = 1700000107000, until = 1700000167000;
	/* both ends snap down: slots start at ...100 s, 4 slots */
	hearth_point pts[] = {
		{ hearth_timeline_bucket(from, 15000, 1700000108000), 5 },
		{ hearth_timeline_bucket(from, 15000, 1700000150000), 9 },
	};
	assert_int_equal(pts[0].ts_ms, 1700000122000);
	assert_int_equal(pts[1].ts_ms, 1700000152000);
	expect_timeline(from, until, 15, pts, 2,
	    "{\"startTime\":1700000100,\"samples\":[0,5,0,9],"
	    "\"durationDelta\":15,\"watermarks\":null}");
}

static void
test_timeline_clips_and_filters(void **state)
{
	(void) state;
	int64_t	     s	   = 1700000100000;
	hearth_point pts[] = {
		{ s - 15000, 111 }, /* before the range: dropped */
		{ s, 1 },
		{ s + 1000, 2 }, /* same slot: upstream puts it next */
		{ s + 2000, -3 }, /* negative -> 0 */
		{ s + 3000, 4 },
		{ s + 4000, 5 }, /* would overflow 4 slots: clipped */
		{ s + 60000, 6 }, /* at the end: outside */
	};
	expect_timeline(s, s + 60000, 15, pts, 7,
	    "{\"startTime\":1700000100,\"samples\":[1,2,0,4],"
	    "\"durationDelta\":15,\"watermarks\":null}");
	/* a gap of several steps between points */
	hearth_point gap[] = { { s + 15000, 7 }, { s + 75000, 8 } };
	expect_timeline(s, s + 120000, 15, gap, 2,
	    "{\"startTime\":1700000100,\"samples\":[0,7,0,0,0,8,0,0],"
	    "\"durationDelta\":15,\"watermarks\":null}");
	/* large values keep full precision */
	hearth_point big[] = { { s, INT64_MAX } };
	expect_timeline(s, s + 15000, 15, big, 1,
	    "{\"startTime\":1700000100,\"samples\":[9223372036854775807],"
	    "\"durationDelta\":15,\"watermarks\":null}");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timeline_worked_example),
		cmocka_unit_test(test_timeline_step_table),
		cmocka_unit_test(test_timeline_bucket_right_edge),
		cmocka_unit_test(test_timeline_empty_and_no_points),
		cmocka_unit_test(test_timeline_unaligned_range),
		cmocka_unit_test(test_timeline_clips_and_filters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
