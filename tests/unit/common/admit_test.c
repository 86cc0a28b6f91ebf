#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "admit.h"

#include <stdio.h>

#define S 1000000000LL /* ns */

static hearth_admit *
new_admit(void)
{
	hearth_admit *a;
	hearth_err    err;
	assert_int_equal(hearth_admit_new(&a, &err), 0);
	return a;
}

static void
test_admit_bucket_starts_full_then_refills(void **state)
{
	(void) state;
	hearth_admit *a = new_admit();
	int64_t       r;
	/* rate 100 B/s, burst 300 B */
	assert_int_equal(
	    hearth_admit_rate(a, "t", 100, 300, 200, 1 * S, &r), 0);
	assert_int_equal(
	    hearth_admit_rate(a, "t", 100, 300, 100, 1 * S, &r), 0);
	/* empty: 50 bytes need 0.5 s */
	assert_int_equal(
	    hearth_admit_rate(a, "t", 100, 300, 50, 1 * S, &r), HEARTH_EBUSY);
	assert_int_equal(r, 500);
	/* nothing was taken by the refusal: after 0.5 s it passes */
	assert_int_equal(
	    hearth_admit_rate(a, "t", 100, 300, 50, 1 * S + S / 2, &r), 0);
	/* a long pause refills to the burst only */
	assert_int_equal(
	    hearth_admit_rate(a, "t", 100, 300, 300, 100 * S, &r), 0);
	assert_int_equal(
	    hearth_admit_rate(a, "t", 100, 300, 1, 100 * S, &r), HEARTH_EBUSY);
	assert_int_equal(r, 10);
	/* another tenant is independent */
	assert_int_equal(
	    hearth_admit_rate(a, "u", 100, 300, 300, 100 * S, &r), 0);
	hearth_admit_free(a);
}

static void
test_admit_larger_than_burst_never_passes(void **state)
{
	(void) state;
	hearth_admit *a = new_admit();
	int64_t       r = -1;
	assert_int_equal(hearth_admit_rate(a, "t", 100, 300, 301, 1 * S, &r),
	    HEARTH_ELIMIT);
	assert_int_equal(r, 0);
	/* no limit */
	assert_int_equal(hearth_admit_rate(a, "t", 0, 0, 1e12, 1 * S, &r), 0);
	assert_int_equal(hearth_admit_size(a), 0);
	hearth_admit_free(a);
}

static void
test_admit_lowered_burst_cuts_bucket(void **state)
{
	(void) state;
	hearth_admit *a = new_admit();
	int64_t       r;
	assert_int_equal(hearth_admit_rate(a, "t", 10, 1000, 1, 1 * S, &r), 0);
	/* burst lowered to 100 by an overrides reload: at most 100 left */
	assert_int_equal(
	    hearth_admit_rate(a, "t", 10, 100, 100, 1 * S, &r), 0);
	assert_int_equal(
	    hearth_admit_rate(a, "t", 10, 100, 10, 1 * S, &r), HEARTH_EBUSY);
	assert_int_equal(r, 1000);
	hearth_admit_free(a);
}

static void
test_admit_query_slots(void **state)
{
	(void) state;
	hearth_admit *a = new_admit();
	int64_t       n;
	assert_int_equal(hearth_admit_enter(a, "t", 2, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(hearth_admit_enter(a, "t", 2, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(hearth_admit_enter(a, "t", 2, &n), HEARTH_EBUSY);
	assert_int_equal(n, 2);
	assert_int_equal(hearth_admit_enter(a, "u", 2, &n), 0);
	hearth_admit_leave(a, "t", 2);
	assert_int_equal(hearth_admit_enter(a, "t", 2, &n), 0);
	hearth_admit_leave(a, "t", 2);
	hearth_admit_leave(a, "t", 2);
	hearth_admit_leave(a, "u", 2);
	/* entries holding nothing are forgotten (invariant (2)) */
	assert_int_equal(hearth_admit_size(a), 0);
	/* max 0 is no limit and keeps no entry */
	for (int i = 0; i < 100; i++)
		assert_int_equal(hearth_admit_enter(a, "t", 0, NULL), 0);
	assert_int_equal(hearth_admit_size(a), 0);
	hearth_admit_free(a);
}

static void
test_admit_table_is_bounded(void **state)
{
	(void) state;
	hearth_admit *a = new_admit();
	int64_t       r;
	char          name[32];
	/* full buckets are forgotten when the table fills up */
	for (int i = 0; i < HEARTH_ADMIT_MAX_TENANTS + 100; i++) {
		snprintf(name, sizeof(name), "t%d", i);
		assert_int_equal(
		    hearth_admit_rate(a, name, 1e9, 10, 1, 1 * S, &r), 0);
	}
	assert_true(hearth_admit_size(a) <= HEARTH_ADMIT_MAX_TENANTS);
	/* 100 s later all refilled: a sweep empties the table */
	for (int i = 0; i < HEARTH_ADMIT_MAX_TENANTS; i++) {
		snprintf(name, sizeof(name), "u%d", i);
		hearth_admit_rate(a, name, 1e9, 10, 1, 100 * S, &r);
	}
	assert_true(hearth_admit_size(a) <= HEARTH_ADMIT_MAX_TENANTS);
	hearth_admit_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_admit_bucket_starts_full_then_refills),
		cmocka_unit_test(test_admit_larger_than_burst_never_passes),
		cmocka_unit_test(test_admit_lowered_burst_cuts_bucket),
		cmocka_unit_test(test_admit_query_slots),
		cmocka_unit_test(test_admit_table_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
