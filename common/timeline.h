/*
 * timeline: the time axis of a render response (render-http.md §5) and
 * the bucketing of SelectSeries (connect-apis.md §4.2).
 *
 * Three pure functions, no state, callable from any thread:
 *  - the step for a range: (until - from) / 1500 rounded with Grafana's
 *    interval table, at least 15 s;
 *  - the bucket of a profile: buckets are anchored at start - step and
 *    then every step; a profile at t belongs to the first anchor >= t,
 *    which is also the point's timestamp (the bucket's RIGHT edge). So with
 *    start 100 s and step 15 s a profile at 100 s lands on 100 s, one at
 *    100.001 s .. 115 s on 115 s;
 *  - the JSON object {"startTime":S,"samples":[...],"durationDelta":D,
 *    "watermarks":null}: slots of D seconds from the range start snapped
 *    down to a multiple of D, filled from ascending points exactly as
 *    upstream does (zeros between points from the gaps between consecutive
 *    points), values below 0 written as 0. Upstream writes past the end
 *    when points overflow the range; hearth clips to the slot count.
 *
 * Worked example (render-http.md §4.1): from 1700000100000, until
 * 1700000160000 -> step 15 s; profiles at ...110000 (30) and ...140000
 * (70) bucket to points ...115000 and ...145000, which write
 * {"startTime":1700000100,"samples":[0,30,0,70],"durationDelta":15,
 * "watermarks":null}.
 */
#ifndef HEARTH_TIMELINE_H
#define HEARTH_TIMELINE_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_point {
	int64_t ts_ms; /* Unix ms: a bucket's right edge */
	int64_t value;
} hearth_point;

/* Step in seconds for a query range in ms (15 s .. 1 year, from the
 * table of render-http.md §5). from >= until gives 15. */
int64_t hearth_timeline_step_seconds(int64_t from_ms, int64_t until_ms);

/* Right edge of the bucket of a profile at t_ms: the first anchor >= t_ms
 * among start_ms - step_ms + k * step_ms, k >= 0. step_ms must be > 0
 * (callers reject smaller steps as invalid_argument); a non-positive step
 * returns t_ms unchanged. Saturates instead of overflowing. */
int64_t hearth_timeline_bucket(int64_t start_ms, int64_t step_ms,
    int64_t t_ms);

/* Append the timeline object for points pts[0..n) (ascending ts_ms) over
 * [from_ms, until_ms] with step_s seconds (from
 * hearth_timeline_step_seconds, which keeps the slot count near 1500;
 * the output has (until - from) / step slots). A non-positive step gives
 * "samples":[]. Memory failures show in hearth_buf_failed(out). */
void hearth_timeline_write(hearth_buf *out, int64_t from_ms,
    int64_t until_ms, int64_t step_s, const hearth_point *pts, size_t n);

#endif
