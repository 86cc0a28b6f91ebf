#include "cond.h"

#include <time.h>

int
hearth_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t ca;
	int		   rc;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}
