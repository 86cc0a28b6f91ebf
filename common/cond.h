/*
 * cond: condition variables whose timed waits count CLOCK_MONOTONIC, so
 * that a wall-clock step (NTP, an operator) neither cuts a wait short nor
 * stretches it. Callers build their deadlines from
 * clock_gettime(CLOCK_MONOTONIC).
 *
 * Ownership: the caller owns the pthread_cond_t and destroys it with
 * pthread_cond_destroy as usual.
 */
#ifndef HEARTH_COND_H
#define HEARTH_COND_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* pthread_cond_init with the monotonic clock; its return value. */
int hearth_cond_init(pthread_cond_t *c);
/* The absolute CLOCK_MONOTONIC time ms milliseconds from now (ms >= 0),
 * for pthread_cond_timedwait on such a condition variable. */
struct timespec hearth_cond_deadline(int64_t ms);

#endif
