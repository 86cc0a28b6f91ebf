#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "limits.h"

#include <string.h>

#define NS_PER_MS 1000000LL
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define DAY_MS 86400000LL

/* 2019-04-01T10:00:00Z */
#define T2019_S 1554112800LL

static hearth_limits
defaults(void)
{
	hearth_limits l;
	hearth_config_limits_defaults(&l);
	return l;
}

static void
test_limits_body_bytes(void **state)
{
	(void) state;
	hearth_limits l = defaults();
	assert_int_equal(hearth_limits_body_bytes(&l), 256u * 1048576u);
	l.ingestion_body_limit_mb = 0;
	assert_int_equal(hearth_limits_body_bytes(&l), 0);
}

static void
test_limits_time_inside_window_passes(void **state)
{
	(void) state;
	hearth_limits l   = defaults();
	int64_t       now = (T2019_S + 7200) * 1000000000LL;
	hearth_err    err;
	assert_int_equal(hearth_limits_check_time(&l, now, now, &err), 0);
	/* exactly at both edges is still inside */
	assert_int_equal(
	    hearth_limits_check_time(&l, now - HOUR_MS * NS_PER_MS, now, &err),
	    0);
	assert_int_equal(hearth_limits_check_time(
	                     &l, now + 10 * MIN_MS * NS_PER_MS, now, &err),
	    0);
	/* 0 = no timestamp: the caller stamps it with now */
	assert_int_equal(hearth_limits_check_time(&l, 0, now, &err), 0);
}

static void
test_limits_time_too_old_message(void **state)
{
	(void) state;
	hearth_limits l   = defaults();
	int64_t       now = (T2019_S + 7200) * 1000000000LL;
	hearth_err    err;
	assert_int_equal(hearth_limits_check_time(
	                     &l, T2019_S * 1000000000LL + 123, now, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "profile timestamp 2019-04-01T10:00:00Z is older than the "
	    "accepted window (reject_older_than: 1h); set the limit to 0 to "
	    "accept old profiles");
	assert_int_equal(err.code, HEARTH_EINVAL);
	l.reject_older_than_ms = 0; /* disabled */
	assert_int_equal(
	    hearth_limits_check_time(&l, 1000000000LL, now, &err), 0);
}

static void
test_limits_time_too_new_message(void **state)
{
	(void) state;
	hearth_limits l   = defaults();
	int64_t       now = T2019_S * 1000000000LL;
	hearth_err    err;
	int64_t       ts = now + 11 * MIN_MS * NS_PER_MS;
	assert_int_equal(
	    hearth_limits_check_time(&l, ts, now, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "profile timestamp 2019-04-01T10:11:00Z is too far in the future "
	    "(reject_newer_than: 10m); check the sender's clock, or set the "
	    "limit to 0 to accept future profiles");
	l.reject_newer_than_ms = 0;
	assert_int_equal(
	    hearth_limits_check_time(&l, INT64_MAX, now, &err), 0);
}

static void
test_limits_time_extreme_values_do_not_overflow(void **state)
{
	(void) state;
	hearth_limits l = defaults();
	hearth_err    err;
	l.reject_older_than_ms = INT64_MAX; /* "accept everything" */
	l.reject_newer_than_ms = INT64_MAX;
	assert_int_equal(
	    hearth_limits_check_time(&l, INT64_MIN, 1000000000LL, &err), 0);
	assert_int_equal(
	    hearth_limits_check_time(&l, INT64_MAX, 1000000000LL, &err), 0);
	l = defaults();
	/* before 1970: floor division keeps the second right */
	assert_int_equal(
	    hearth_limits_check_time(&l, -1, 1000000000LL * 100000, &err),
	    HEARTH_EINVAL);
	assert_non_null(strstr(err.msg, "1969-12-31T23:59:59Z"));
}

static void
test_limits_query_lookback_clamps_start(void **state)
{
	(void) state;
	hearth_limits l     = defaults();
	int64_t       now   = 100 * DAY_MS;
	int64_t       start = now - 20 * DAY_MS, end = now - DAY_MS;
	hearth_err    err;
	assert_int_equal(
	    hearth_limits_check_query(&l, &start, &end, now, &err), 0);
	assert_int_equal(start, now - 14 * DAY_MS);
	assert_int_equal(end, now - DAY_MS);
}

static void
test_limits_query_entirely_before_lookback_is_empty(void **state)
{
	(void) state;
	hearth_limits l     = defaults();
	int64_t       now   = 100 * DAY_MS;
	int64_t       start = now - 30 * DAY_MS, end = now - 15 * DAY_MS;
	hearth_err    err;
	assert_int_equal(
	    hearth_limits_check_query(&l, &start, &end, now, &err), 1);
	l.max_query_lookback_ms = 0; /* no lookback limit: query it all */
	assert_int_equal(
	    hearth_limits_check_query(&l, &start, &end, now, &err), 0);
	assert_int_equal(start, now - 30 * DAY_MS);
}

static void
test_limits_query_length_checked_after_clamp(void **state)
{
	(void) state;
	hearth_limits l   = defaults();
	int64_t       now = 100 * DAY_MS;
	hearth_err    err;
	l.max_query_length_ms = DAY_MS;
	int64_t start = now - 2 * DAY_MS - 30 * MIN_MS, end = now;
	assert_int_equal(
	    hearth_limits_check_query(&l, &start, &end, now, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "the query time range exceeds the limit (max_query_length, "
	    "actual: 2d30m, limit: 1d); query a shorter range or raise the "
	    "limit");
	/* 3 days asked, lookback cuts it to 1 day, which fits */
	l.max_query_lookback_ms = DAY_MS;
	start                   = now - 3 * DAY_MS;
	end                     = now;
	assert_int_equal(
	    hearth_limits_check_query(&l, &start, &end, now, &err), 0);
	assert_int_equal(start, now - DAY_MS);
}

static void
test_limits_query_start_after_end(void **state)
{
	(void) state;
	hearth_limits l     = defaults();
	int64_t       start = T2019_S * 1000 + 1000, end = T2019_S * 1000;
	hearth_err    err;
	assert_int_equal(
	    hearth_limits_check_query(&l, &start, &end, T2019_S * 1000, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "query start time is after end time (start 2019-04-01T10:00:01Z, "
	    "end 2019-04-01T10:00:00Z)");
}

static void
test_limits_max_nodes(void **state)
{
	(void) state;
	hearth_limits l = defaults();
	hearth_err    err;
	int64_t       n = -1;
	assert_int_equal(hearth_limits_max_nodes(&l, 0, &n, &err), 0);
	assert_int_equal(n, 8192);
	assert_int_equal(hearth_limits_max_nodes(&l, 100, &n, &err), 0);
	assert_int_equal(n, 100);
	assert_int_equal(hearth_limits_max_nodes(&l, 1048576, &n, &err), 0);
	assert_int_equal(n, 1048576);
	assert_int_equal(
	    hearth_limits_max_nodes(&l, 1048577, &n, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "max_nodes 1048577 is out of range (max_flamegraph_nodes_max: "
	    "1048576); use a value from 1 to the limit, or 0 for the default "
	    "of 8192");
	assert_int_equal(
	    hearth_limits_max_nodes(&l, -1, &n, &err), HEARTH_EINVAL);
	/* a default above the max is held to the max */
	l.max_flamegraph_nodes_max = 1000;
	assert_int_equal(hearth_limits_max_nodes(&l, 0, &n, &err), 0);
	assert_int_equal(n, 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limits_body_bytes),
		cmocka_unit_test(test_limits_time_inside_window_passes),
		cmocka_unit_test(test_limits_time_too_old_message),
		cmocka_unit_test(test_limits_time_too_new_message),
		cmocka_unit_test(
		    test_limits_time_extreme_values_do_not_overflow),
		cmocka_unit_test(test_limits_query_lookback_clamps_start),
		cmocka_unit_test(
		    test_limits_query_entirely_before_lookback_is_empty),
		cmocka_unit_test(test_limits_query_length_checked_after_clamp),
		cmocka_unit_test(test_limits_query_start_after_end),
		cmocka_unit_test(test_limits_max_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
