#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "cond.h"

#include <errno.h>
#include <time.h>

static int64_t
mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
	int64_t		t0 = mono_ms();
	struct timespec until;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += 50 * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&mu);
	int rc;
	do
		rc = pthread_cond_timedwait(&cv, &mu, &until);
	while (rc == 0); /* spurious wake-ups */
	pthread_mutex_unlock(&mu);
	assert_int_equal(rc, ETIMEDOUT);
	assert_true(mono_ms() - t0 >= 40);
	pthread_cond_destroy(&cv);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cond_timed_wait_uses_the_monotonic_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
