/*
 * admit: per-tenant admission control — a token bucket for the ingestion
 * rate and a counter of queries in flight (DESIGN §8, model.md §8.1).
 *
 *   table: tenant -> { tokens (bytes, <= burst), last refill time,
 *                      queries in flight }
 *
 * Token bucket (ingestion_rate_mb / ingestion_burst_size_mb): a tenant's
 * bucket holds at most `burst` bytes and refills at `rate` bytes a second.
 * A request of `cost` bytes passes when the bucket holds at least cost,
 * and then takes it; otherwise nothing is taken and the answer says how
 * long until it would pass (Retry-After). A request larger than the burst
 * can never pass (Pyroscope answers it the same way); it is told so. The
 * rate and burst come with every call (the tenant's current limits), so
 * an overrides reload applies at once; a bucket above a lowered burst is
 * cut down to it. A new tenant starts with a full bucket.
 *
 * Query slots (max_concurrent_queries): enter takes one of the tenant's
 * max slots or fails; leave returns it.
 *
 * Invariants:
 *  (1) 0 <= tokens <= burst of the last call;
 *  (2) an entry is dropped only when it is indistinguishable from a new
 *      one (bucket full again, no query in flight), so forgetting never
 *      grants more than a new tenant gets;
 *  (3) at most HEARTH_ADMIT_MAX_TENANTS entries exist; when the table is
 *      full even after (2), a further tenant is admitted as new without
 *      an entry (fail open: availability over precision; with
 *      authentication on, tenants are not the client's to invent).
 *
 * Threading: every function is thread-safe (one mutex; each call is a
 * hash lookup and a little arithmetic). Times are CLOCK_MONOTONIC ns,
 * passed in so tests control the clock.
 */
#ifndef HEARTH_ADMIT_H
#define HEARTH_ADMIT_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define HEARTH_ADMIT_MAX_TENANTS 65536

typedef struct hearth_admit hearth_admit;

int  hearth_admit_new(hearth_admit **out, hearth_err *err);
void hearth_admit_free(hearth_admit *a); /* NULL is a no-op */

/* Take cost bytes from tenant's bucket. rate <= 0 means no limit (always
 * 0). Returns 0 when admitted; HEARTH_EBUSY when the bucket is short,
 * with *retry_after_ms the wait until it would hold cost (>= 1);
 * HEARTH_ELIMIT when cost > burst (never admitted; *retry_after_ms 0). */
int hearth_admit_rate(hearth_admit *a, const char *tenant, double rate,
    double burst, double cost, int64_t now_ns, int64_t *retry_after_ms);

/* Take one of tenant's max query slots (max <= 0: no limit, always 0).
 * HEARTH_EBUSY when all max are taken; *in_flight (may be NULL) gets how
 * many the tenant holds after the call. Every 0 return must be paired
 * with one hearth_admit_leave. */
int hearth_admit_enter(
    hearth_admit *a, const char *tenant, int64_t max, int64_t *in_flight);
/* Give a slot back (a no-op when max was <= 0 at enter: pass the same
 * max). */
void hearth_admit_leave(hearth_admit *a, const char *tenant, int64_t max);

/* Entries in the table (for tests and metrics). */
size_t hearth_admit_size(hearth_admit *a);

#endif
