#include "limits.h"

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

/* Saturating arithmetic: limits come from config (a "100y" window is
 * legal) and timestamps from clients, so plain int64 math could wrap. */
static int64_t
limits_sat_mul(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return r;
}

static int64_t
limits_sat_add(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b < 0 ? INT64_MIN : INT64_MAX;
	return r;
}

static int64_t
limits_sat_sub(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_sub_overflow(a, b, &r))
		return b > 0 ? INT64_MIN : INT64_MAX;
	return r;
}

/* RFC 3339 UTC with second precision, e.g. 2019-04-01T10:00:00Z. */
static const char *
limits_format_time(int64_t unix_s, char *out, size_t outsz)
{
	time_t    t = (time_t) unix_s;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, outsz, "%" PRId64 "s", unix_s);
		return out;
	}
	strftime(out, outsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return out;
}

/* Floor division, so -1 ns is 1969-12-31T23:59:59Z, not 1970-01-01. */
static int64_t
limits_ns_to_s(int64_t ns)
{
	int64_t s = ns / 1000000000;
	if (ns % 1000000000 < 0)
		s--;
	return s;
}

size_t
hearth_limits_body_bytes(const hearth_limits *l)
{
	if (l->ingestion_body_limit_mb <= 0)
		return 0;
	if ((uint64_t) l->ingestion_body_limit_mb > SIZE_MAX / 1048576)
		return SIZE_MAX;
	return (size_t) l->ingestion_body_limit_mb * 1048576;
}

int
hearth_limits_check_time(const hearth_limits *l, int64_t profile_ns,
    int64_t now_ns, hearth_err *err)
{
	char when[64], lim[32];
	if (profile_ns == 0)
		return 0;
	/* A window too wide for int64 nanoseconds (over 292 years) cannot
	 * reject anything representable: skip it. */
	if (l->reject_older_than_ms > 0
	    && l->reject_older_than_ms <= INT64_MAX / 1000000) {
		int64_t oldest = limits_sat_sub(
		    now_ns, limits_sat_mul(l->reject_older_than_ms, 1000000));
		if (profile_ns < oldest)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "profile timestamp %s is older than the accepted "
			    "window (reject_older_than: %s); set the limit to "
			    "0 to accept old profiles",
			    limits_format_time(limits_ns_to_s(profile_ns),
			        when, sizeof(when)),
			    hearth_config_duration_format(
			        l->reject_older_than_ms, lim, sizeof(lim)));
	}
	if (l->reject_newer_than_ms > 0
	    && l->reject_newer_than_ms <= INT64_MAX / 1000000) {
		int64_t newest = limits_sat_add(
		    now_ns, limits_sat_mul(l->reject_newer_than_ms, 1000000));
		if (profile_ns > newest)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "profile timestamp %s is too far in the future "
			    "(reject_newer_than: %s); check the sender's "
			    "clock, or set the limit to 0 to accept future "
			    "profiles",
			    limits_format_time(limits_ns_to_s(profile_ns),
			        when, sizeof(when)),
			    hearth_config_duration_format(
			        l->reject_newer_than_ms, lim, sizeof(lim)));
	}
	return 0;
}

int
hearth_limits_check_query(const hearth_limits *l, int64_t *start_ms,
    int64_t *end_ms, int64_t now_ms, hearth_err *err)
{
	char a[64], b[64];
	if (*start_ms > *end_ms)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "query start time is after end time (start %s, end %s)",
		    limits_format_time(
		        limits_ns_to_s(limits_sat_mul(*start_ms, 1000000)), a,
		        sizeof(a)),
		    limits_format_time(
		        limits_ns_to_s(limits_sat_mul(*end_ms, 1000000)), b,
		        sizeof(b)));
	if (l->max_query_lookback_ms > 0) {
		int64_t oldest
		    = limits_sat_sub(now_ms, l->max_query_lookback_ms);
		if (*end_ms < oldest)
			return 1;
		if (*start_ms < oldest)
			*start_ms = oldest;
	}
	if (l->max_query_length_ms > 0) {
		int64_t len = limits_sat_sub(*end_ms, *start_ms);
		if (len > l->max_query_length_ms)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "the query time range exceeds the limit "
			    "(max_query_length, actual: %s, limit: %s); "
			    "query a shorter range or raise the limit",
			    hearth_config_duration_format(len, a, sizeof(a)),
			    hearth_config_duration_format(
			        l->max_query_length_ms, b, sizeof(b)));
	}
	return 0;
}

int
hearth_limits_max_nodes(
    const hearth_limits *l, int64_t requested, int64_t *out, hearth_err *err)
{
	int64_t max = l->max_flamegraph_nodes_max;
	if (requested < 0 || (max > 0 && requested > max))
		return hearth_err_set(err, HEARTH_EINVAL,
		    "max_nodes %" PRId64 " is out of range "
		    "(max_flamegraph_nodes_max: %" PRId64
		    "); use a value from 1 to the limit, or 0 for the "
		    "default of %" PRId64,
		    requested, max, l->max_flamegraph_nodes_default);
	if (requested == 0) {
		requested = l->max_flamegraph_nodes_default;
		if (max > 0 && requested > max)
			requested = max;
	}
	*out = requested;
	return 0;
}
