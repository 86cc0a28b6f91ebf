#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "attime.h"

/* 2023-11-14T22:13:20.123456789Z */
#define NOW INT64_C(1700000000123456789)
#define S INT64_C(1000000000)
#define MIN (60 * S)
#define H (3600 * S)
#define D (86400 * S)

static int64_t
p(const char *s)
{
	return hearth_attime_parse(s, strlen(s), NOW);
}

static void
test_attime_absent_and_empty_is_now(void **state)
{
	(void) state;
	assert_int_equal(hearth_attime_parse(NULL, 0, NOW), NOW);
	assert_int_equal(p(""), NOW);
	assert_int_equal(p("   "), NOW);
	assert_int_equal(p("_,_"), NOW);
}

static void
test_attime_dates_yyyymmdd(void **state)
{
	(void) state;
	assert_int_equal(p("20240102"), INT64_C(1704153600) * S);
	assert_int_equal(p("20240229"), INT64_C(1709164800) * S); /* leap */
	assert_int_equal(p("19010101"), INT64_C(-2177452800) * S);
	assert_int_equal(p("19700101"), 0);
	assert_int_equal(p("20000301"), INT64_C(951868800) * S);
	/* Not a valid date, or year <= 1900: Unix seconds. */
	assert_int_equal(p("19000101"), INT64_C(19000101) * S);
	assert_int_equal(p("20230229"), INT64_C(20230229) * S);
	assert_int_equal(p("20241301"), INT64_C(20241301) * S);
	assert_int_equal(p("20240100"), INT64_C(20240100) * S);
	assert_int_equal(p("20240431"), INT64_C(20240431) * S);
	assert_int_equal(p("21000229"), INT64_C(21000229) * S); /* not leap */
	assert_int_equal(p("2024_01_02"), INT64_C(1704153600) * S);
}

static void
test_attime_unix_by_digit_count(void **state)
{
	(void) state;
	assert_int_equal(p("1700000000"), INT64_C(1700000000) * S);
	assert_int_equal(p("1700000000123"), INT64_C(1700000000123000000));
	assert_int_equal(p("1700000000123456"), INT64_C(1700000000123456000));
	assert_int_equal(
	    p("1700000000123456789"), INT64_C(1700000000123456789));
	assert_int_equal(p("0"), 0);
	assert_int_equal(p("01700000000"), INT64_C(1700000000) * S); /* 11 */
	assert_int_equal(p("17000000001"), INT64_MAX); /* 11: overflow */
	/* 15 digits are seconds: 1.7e14 s does not fit in ns. */
	assert_int_equal(p("170000000012345"), INT64_MAX);
	assert_int_equal(p("1_700_000_000"), INT64_C(1700000000) * S);
	assert_int_equal(p("1,700,000,000"), INT64_C(1700000000) * S);
	assert_int_equal(p(" 1700000000 "), INT64_C(1700000000) * S);
	assert_int_equal(p("\t1700000000\r\n"), INT64_C(1700000000) * S);
	assert_int_equal(p("17 00 00 00 00"), INT64_C(1700000000) * S);
}

static void
test_attime_overflow_saturates(void **state)
{
	(void) state;
	assert_int_equal(p("9223372036854775807"), INT64_MAX);
	assert_int_equal(p("9223372036854775808"), INT64_MAX);
	assert_int_equal(p("99999999999999999999"), INT64_MAX);
	assert_int_equal(p("9223372036854775"), INT64_C(9223372036854775000));
	assert_int_equal(p("9223372036854776"), INT64_MAX); /* 16: us */
	assert_int_equal(p("now+99999999999999999999y"), INT64_MAX);
	assert_int_equal(p("now-99999999999y"), NOW - INT64_MAX);
}

static void
test_attime_relative_offsets(void **state)
{
	(void) state;
	assert_int_equal(p("now"), NOW);
	assert_int_equal(p("now-1h"), NOW - H);
	assert_int_equal(p("now-1h30m"), NOW - H - 30 * MIN);
	assert_int_equal(p("now+2d"), NOW + 2 * D);
	assert_int_equal(p("-1h"), NOW - H);
	assert_int_equal(p("x-1h"), NOW - H); /* any reference is now */
	assert_int_equal(p("now - 1 h"), NOW - H);
	assert_int_equal(p("now-10s"), NOW - 10 * S);
	assert_int_equal(p("now-10sec"), NOW - 10 * S);
	assert_int_equal(p("now-10seconds"), NOW - 10 * S);
	assert_int_equal(p("now-5min"), NOW - 5 * MIN);
	assert_int_equal(p("now-5m"), NOW - 5 * MIN);
	assert_int_equal(p("now-5ms"), NOW - 5 * MIN); /* prefix m */
	assert_int_equal(p("now-1mon"), NOW - 30 * D);
	assert_int_equal(p("now-1months"), NOW - 30 * D);
	assert_int_equal(p("now-1M"), NOW - 30 * D);
	assert_int_equal(p("now-1w"), NOW - 7 * D);
	assert_int_equal(p("now-1y"), NOW - 365 * D);
	assert_int_equal(p("now-2hours"), NOW - 2 * H);
	assert_int_equal(p("now-1d12h"), NOW - D - 12 * H);
	/* Every group takes the one leading sign. */
	assert_int_equal(p("now-1h-30m"), NOW - H - 30 * MIN);
	/* '+' is looked for first: the reference "now-1h" reads as now. */
	assert_int_equal(p("now-1h+30m"), NOW + 30 * MIN);
}

static void
test_attime_unparsable_is_now(void **state)
{
	(void) state;
	assert_int_equal(p("garbage"), NOW);
	assert_int_equal(p("now-5"), NOW);  /* no unit: 0 */
	assert_int_equal(p("now-1q"), NOW); /* unknown unit: 0 */
	assert_int_equal(p("now-h"), NOW);  /* no number: 0 */
	assert_int_equal(p("now-1S"), NOW); /* units are case-sensitive */
	assert_int_equal(p("now-"), NOW);
	assert_int_equal(p("-1700000000"), NOW);
	assert_int_equal(p("2024-01-02T10:00:00Z"), NOW); /* no ISO 8601 */
	assert_int_equal(p("1700000000.5"), NOW);
	assert_int_equal(p("now-1q2h"), NOW - 2 * H);
}

static void
test_attime_strict_accepts_forms(void **state)
{
	(void) state;
	hearth_err err;
	int64_t    v = 0;
	assert_int_equal(
	    hearth_attime_parse_strict("now", 3, NOW, &v, &err), 0);
	assert_int_equal(v, NOW);
	assert_int_equal(
	    hearth_attime_parse_strict("NOW-1h30m", 9, NOW, &v, &err), 0);
	assert_int_equal(v, NOW - H - 30 * MIN);
	assert_int_equal(
	    hearth_attime_parse_strict("-15m", 4, NOW, &v, &err), 0);
	assert_int_equal(v, NOW - 15 * MIN);
	assert_int_equal(
	    hearth_attime_parse_strict("1700000000123", 13, NOW, &v, &err), 0);
	assert_int_equal(v, INT64_C(1700000000123000000));
	assert_int_equal(
	    hearth_attime_parse_strict("20240102", 8, NOW, &v, &err), 0);
	assert_int_equal(v, INT64_C(1704153600) * S);
	assert_int_equal(hearth_attime_parse_strict(
	                     "9223372036854775807", 19, NOW, &v, &err),
	    0);
	assert_int_equal(v, INT64_MAX);
}

static void
test_attime_strict_errors(void **state)
{
	(void) state;
	static const struct {
		const char *in;
		const char *msg;
	} cases[] = {
		{ "", "time \"\" is empty" },
		{ "  ", "time \"  \" is empty" },
		{ "garbage",
		    "time \"garbage\" is neither a Unix timestamp nor a time "
		    "relative to now (e.g. now-1h)" },
		{ "2024-01-02",
		    "time \"2024-01-02\" is neither a Unix timestamp nor a "
		    "time "
		    "relative to now (e.g. now-1h)" },
		{ "nowx-1h",
		    "time \"nowx-1h\" is neither a Unix timestamp nor a time "
		    "relative to now (e.g. now-1h)" },
		{ "no-1h",
		    "time \"no-1h\" is neither a Unix timestamp nor a time "
		    "relative to now (e.g. now-1h)" },
		{ "now-", "time \"now-\" has a sign but no offset after it" },
		{ "now-h",
		    "time \"now-h\" has an offset group without a number "
		    "(expected e.g. now-1h30m)" },
		{ "now-5",
		    "time \"now-5\" has an offset with a missing or unknown "
		    "unit (use s, m/min, h, d, w, M/mon, y)" },
		{ "now-1h2q",
		    "time \"now-1h2q\" has an offset with a missing or "
		    "unknown "
		    "unit (use s, m/min, h, d, w, M/mon, y)" },
		{ "9223372036854775808",
		    "time \"9223372036854775808\" is out of range for a Unix "
		    "time in nanoseconds" },
		{ "now-99999999999y",
		    "time \"now-99999999999y\" has an offset that is out of "
		    "range" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hearth_err err;
		int64_t    v  = 42;
		int        rc = hearth_attime_parse_strict(
		           cases[i].in, strlen(cases[i].in), NOW, &v, &err);
		if (rc != HEARTH_EINVAL)
			fail_msg("case %s: rc %d", cases[i].in, rc);
		assert_string_equal(err.msg, cases[i].msg);
		assert_int_equal(v, 42);
	}
	hearth_err err;
	int64_t    v;
	assert_int_equal(
	    hearth_attime_parse_strict(NULL, 0, NOW, &v, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "time \"\" is empty");
	char long_in[100];
	memset(long_in, 'x', sizeof(long_in));
	assert_int_equal(hearth_attime_parse_strict(
	                     long_in, sizeof(long_in), NOW, &v, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "time "
	    "\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxx...\" is neither a Unix timestamp nor a time relative to "
	    "now (e.g. now-1h)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_attime_absent_and_empty_is_now),
		cmocka_unit_test(test_attime_dates_yyyymmdd),
		cmocka_unit_test(test_attime_unix_by_digit_count),
		cmocka_unit_test(test_attime_overflow_saturates),
		cmocka_unit_test(test_attime_relative_offsets),
		cmocka_unit_test(test_attime_unparsable_is_now),
		cmocka_unit_test(test_attime_strict_accepts_forms),
		cmocka_unit_test(test_attime_strict_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
