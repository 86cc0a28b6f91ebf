#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "cond.h"

#include <errno.h>
#include <time.h>

/* A deadline built from CLOCK_MONOTONIC is honoured: the wait ends with
 * ETIMEDOUT, not at once (a realtime-clock condition variable would read
 * this small monotonic time as long past) and not never. */
static void
test_cond_timed_wait_uses_the_monotonic_clock(void **state)
{
	(void) state;
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t	cv;
	assert_int_equal(hearth_cond_init(&cv), 0);
	int64_t		t0    = hearth_clock_mono_ms();
	struct timespec until = hearth_cond_deadline(50);
	pthread_mutex_lock(&mu);
	int rc;
	do
		rc = pthread_cond_timedwait(&cv, &mu, &until);
	while (rc == 0); /* spurious wake-ups */
	pthread_mutex_unlock(&mu);
	assert_int_equal(rc, ETIMEDOUT);
	assert_true(hearth_clock_mono_ms() - t0 >= 40);
	pthread_cond_destroy(&cv);
}

/* A deadline is now + ms on the monotonic clock, normalised (whole
 * seconds carried out of tv_nsec) for any ms. */
static void
test_cond_deadline_adds_ms_to_the_monotonic_clock(void **state)
{
	(void) state;
	static const int64_t ms[] = { 0, 1, 999, 1000, 1999, 86400001 };
	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		int64_t		before = hearth_clock_mono_ms();
		struct timespec d      = hearth_cond_deadline(ms[i]);
		int64_t		after  = hearth_clock_mono_ms();
		int64_t at = (int64_t) d.tv_sec * 1000 + d.tv_nsec / 1000000;
		assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
		assert_true(at >= before + ms[i]);
		assert_true(at <= after + ms[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cond_timed_wait_uses_the_monotonic_clock),
		cmocka_unit_test(
		    test_cond_deadline_adds_ms_to_the_monotonic_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
