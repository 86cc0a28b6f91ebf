/*
 * clock: the two clocks hearth reads, in milliseconds.
 *
 * Wall clock (Unix ms) for what crosses processes or reaches users:
 * RPC and query deadlines, profile and setting timestamps. Monotonic for
 * intervals measured inside one process (heartbeats, timeouts), which a
 * wall-clock step must not stretch or shrink.
 *
 * Stateless.
 */
#ifndef HEARTH_CLOCK_H
#define HEARTH_CLOCK_H

#include <stdint.h>

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t hearth_clock_unix_ms(void);

/* Milliseconds on CLOCK_MONOTONIC (an arbitrary origin). */
int64_t hearth_clock_mono_ms(void);

#endif
