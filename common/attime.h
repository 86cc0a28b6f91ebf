/*
 * attime: the graphite-style time parameters of /ingest (`from`, `until`),
 * ingest-http.md §4.
 *
 * Input forms, after removing every '_', ',' and ' ' and trimming
 * whitespace:
 *   - all digits, 8 of them forming a valid YYYYMMDD date with year > 1900:
 *     that date at 00:00 UTC;
 *   - all digits, 13 / 16 / 19 of them: Unix milliseconds / microseconds /
 *     nanoseconds; any other count: Unix seconds;
 *   - otherwise `<ref><sign><offset>`: split at the first '+' (else the
 *     first '-'); the reference is always "now" whatever it says; the
 *     offset is one or more `<integer><unit>` groups that all take the one
 *     leading sign (`now-1h30m` = 90 minutes ago). Units go by prefix:
 *     s.. seconds, mon.. or M months (30 d), min.. or m.. minutes, h..
 *     hours, d.. days, w.. weeks, y.. years (365 d); an unknown unit
 *     counts 0.
 * Results are Unix nanoseconds and saturate at INT64_MIN/INT64_MAX instead
 * of overflowing (the ingestion window then rejects them).
 *
 * Pure functions: "now" comes from the caller, so tests are deterministic.
 * Thread-safe, no allocation.
 */
#ifndef HEARTH_ATTIME_H
#define HEARTH_ATTIME_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

/* Parse s[0..len) as upstream does: never fails, anything unparsable is
 * now_ns. s may be NULL when len is 0 (absent parameter = now). */
int64_t hearth_attime_parse(const char *s, size_t len, int64_t now_ns);

/* Same grammar, but tell the user when the input is not one of the forms
 * above: empty input, a reference other than "" or "now" (any case), an
 * offset group without digits or with an unknown unit, or a number that
 * overflows int64 nanoseconds give HEARTH_EINVAL with a message naming the
 * input. On success *out is the time. */
int hearth_attime_parse_strict(
    const char *s, size_t len, int64_t now_ns, int64_t *out, hearth_err *err);

#endif
