/*
 * limits: the per-tenant limits hearth enforces (model.md §8.1), and the
 * checks that need more than a comparison (time windows, query ranges,
 * flame graph node counts).
 *
 * hearth_limits is a plain value: every field is an int64 so the config
 * table (config.h) can fill it; durations are milliseconds. 0 disables a
 * limit unless the field says otherwise. The defaults live only in the
 * config table: get them with hearth_config_limits_defaults() (config.h),
 * never by hand, so `-help`, `/config` and the code cannot disagree.
 *
 * Errors are -HEARTH_EINVAL (they become HTTP 400 / Connect
 * invalid_argument) with a message that names the limit (its YAML key)
 * and says how to get past it.
 *
 * Threading: the functions are pure; a hearth_limits may be read from any
 * number of threads while nobody writes it.
 */
/*
 * This file shares its name with the C standard <limits.h>, and common/ is
 * on the include path, so `#include <limits.h>` anywhere (including inside
 * pcre2.h, zconf.h, protobuf-c.h, xxhash.h) finds this file first. It
 * therefore always forwards to the system header, outside the include
 * guard, so every way of including it also yields INT_MAX and friends.
 * (Found relative to an includer in common/, include_next restarts at the
 * top of the include path, finds this file once more, and forwards from
 * there; clang warns about that restart, which is intended here.)
 */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wunknown-warning-option"
#pragma clang diagnostic ignored "-Winclude-next-absolute-path"
#endif
#include_next <limits.h>
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#ifndef HEARTH_LIMITS_H
#define HEARTH_LIMITS_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_limits {
	/* ingest */
	int64_t ingestion_rate_mb;               /* MiB/s per tenant (429) */
	int64_t ingestion_burst_size_mb;         /* MiB per tenant */
	int64_t ingestion_body_limit_mb;         /* raw body, MiB (413) */
	int64_t max_label_names_per_series;      /* labels per series */
	int64_t max_label_name_length;           /* bytes */
	int64_t max_label_value_length;          /* bytes */
	int64_t max_global_series_per_tenant;    /* head series (429) */
	int64_t max_profile_size_bytes;          /* uncompressed pprof */
	int64_t max_profile_stacktrace_samples;  /* samples per profile */
	int64_t max_profile_stacktrace_depth;    /* deeper: truncated */
	int64_t max_profile_symbol_value_length; /* longer: truncated */
	int64_t reject_older_than_ms;            /* ingest window, past */
	int64_t reject_newer_than_ms;            /* ingest window, future */
	/* query */
	int64_t max_query_length_ms;          /* end - start */
	int64_t max_query_lookback_ms;        /* start >= now - lookback */
	int64_t max_flamegraph_nodes_default; /* when max_nodes is 0 */
	int64_t max_flamegraph_nodes_max;     /* largest max_nodes accepted */
	int64_t query_timeout_ms;             /* whole query deadline */
	int64_t max_concurrent_queries;       /* per tenant (429) */
	/* storage */
	int64_t retention_period_ms; /* blocks older are deleted; 0 = never */
} hearth_limits;

/* ingestion_body_limit_mb in bytes (MiB = 1048576); 0 = no limit. */
size_t hearth_limits_body_bytes(const hearth_limits *l);

/* Check a profile's timestamp (Unix ns) against the ingestion window
 * [now - reject_older_than, now + reject_newer_than]. profile_ns 0 means
 * "no timestamp" (the caller uses now) and passes. 0, or -HEARTH_EINVAL
 * with e.g. "profile timestamp 2019-04-01T10:00:00Z is older than the
 * accepted window (reject_older_than: 1h); set the limit to 0 to accept
 * old profiles". */
int hearth_limits_check_time(const hearth_limits *l, int64_t profile_ns,
    int64_t now_ns, hearth_err *err);

/* Check and adjust a query range in Unix ms (model.md §8.1, connect-apis
 * §4 common rules), in this order:
 *   1. start > end                              → -HEARTH_EINVAL
 *   2. max_query_lookback: end before now - lookback → returns 1 (the
 *      caller answers empty, not an error); start before it → *start_ms
 *      is clamped up to it
 *   3. max_query_length, after clamping: end - start longer → -HEARTH_EINVAL
 * Returns 0 when the (possibly clamped) range is to be queried. Callers
 * reject or default missing (0) times before calling: what a missing time
 * means differs per endpoint. */
int hearth_limits_check_query(const hearth_limits *l, int64_t *start_ms,
    int64_t *end_ms, int64_t now_ms, hearth_err *err);

/* Effective flame graph node limit for a requested max_nodes: 0 (absent)
 * → max_flamegraph_nodes_default; negative or above
 * max_flamegraph_nodes_max (when that is not 0) → -HEARTH_EINVAL. */
int hearth_limits_max_nodes(
    const hearth_limits *l, int64_t requested, int64_t *out, hearth_err *err);

#endif
