#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <time.h>

#include "clock.h"

/* The wall clock is Unix milliseconds; the monotonic one never goes back. */
static void
test_clock_units_and_order(void **state)
{
	(void) state;
	int64_t s  = (int64_t) time(NULL);
	int64_t ms = hearth_clock_unix_ms();
	assert_true(ms / 1000 >= s - 1 && ms / 1000 <= s + 1);
	int64_t m0 = hearth_clock_mono_ms();
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	nanosleep(&nap, NULL);
	int64_t m1 = hearth_clock_mono_ms();
	assert_true(m1 - m0 >= 19 && m1 - m0 < 10000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_units_and_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
