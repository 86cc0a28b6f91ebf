#include "timeline.h"

#include <stdint.h>

/* render-http.md §5: the first row whose bound is >= the raw step gives
 * the step. Bounds are in nanoseconds, the unit upstream compares in; the
 * last row is exclusive upstream (< 42 d), hence the - 1. */
#define TIMELINE_MS(x) ((int64_t) (x) * 1000000)
static const struct {
	int64_t bound_ns;
	int64_t step_s;
} timeline_steps[] = {
	{ TIMELINE_MS(17500), 15 },
	{ TIMELINE_MS(25000), 20 },
	{ TIMELINE_MS(45000), 30 },
	{ TIMELINE_MS(90000), 60 },
	{ TIMELINE_MS(210000), 120 },
	{ TIMELINE_MS(450000), 300 },
	{ TIMELINE_MS(750000), 600 },
	{ TIMELINE_MS(1050000), 900 },
	{ TIMELINE_MS(1500000), 1200 },
	{ TIMELINE_MS(2700000), 1800 },
	{ TIMELINE_MS(5400000), 3600 },
	{ TIMELINE_MS(9000000), 7200 },
	{ TIMELINE_MS(16200000), 10800 },
	{ TIMELINE_MS(32400000), 21600 },
	{ TIMELINE_MS(86400000), 43200 },
	{ TIMELINE_MS(172800000), 86400 },
	{ TIMELINE_MS(604800000), 86400 },
	{ TIMELINE_MS(1814400000), 604800 },
	{ TIMELINE_MS(3628800000) - 1, 2592000 },
};

#define TIMELINE_MIN_STEP_S 15
#define TIMELINE_YEAR_S	    31536000
/* Grafana's target of points per graph. */
#define TIMELINE_RESOLUTION 1500

int64_t
hearth_timeline_step_seconds(int64_t from_ms, int64_t until_ms)
{
	int64_t diff;
	if (__builtin_sub_overflow(until_ms, from_ms, &diff))
		return until_ms > from_ms ? TIMELINE_YEAR_S
					  : TIMELINE_MIN_STEP_S;
	if (diff <= 0)
		return TIMELINE_MIN_STEP_S;
	/* Upstream divides the range in integer nanoseconds by 1500:
	 * diff * 10^6 / 1500 == diff * 2000 / 3. */
	if (diff > INT64_MAX / 2000)
		return TIMELINE_YEAR_S;
	int64_t raw_ns = diff * 2000 / 3;
	if (raw_ns < TIMELINE_MS(TIMELINE_MIN_STEP_S * 1000))
		return TIMELINE_MIN_STEP_S;
	size_t rows = sizeof(timeline_steps) / sizeof(timeline_steps[0]);
	for (size_t i = 0; i < rows; i++)
		if (raw_ns <= timeline_steps[i].bound_ns)
			return timeline_steps[i].step_s;
	return TIMELINE_YEAR_S;
}

int64_t
hearth_timeline_bucket(int64_t start_ms, int64_t step_ms, int64_t t_ms)
{
	if (step_ms <= 0)
		return t_ms;
	int64_t base;
	if (__builtin_sub_overflow(start_ms, step_ms, &base))
		base = INT64_MIN;
	if (t_ms <= base)
		return base;
	/* t - base > 0 here; compute in unsigned so extreme inputs cannot
	 * overflow, and saturate what does not fit. */
	uint64_t d = (uint64_t) t_ms - (uint64_t) base;
	uint64_t k = d / (uint64_t) step_ms + (d % (uint64_t) step_ms != 0);
	uint64_t off;
	int64_t	 r;
	if (__builtin_mul_overflow(k, (uint64_t) step_ms, &off) ||
	    off > (uint64_t) INT64_MAX ||
	    __builtin_add_overflow(base, (int64_t) off, &r))
		return INT64_MAX;
	return r;
}

/* Floor division (C's / truncates toward zero). */
static int64_t
timeline_floor(int64_t a, int64_t d)
{
	int64_t q = a / d;
	if ((a % d != 0) && ((a < 0) != (d < 0)))
		q--;
	return q;
}

typedef struct timeline_emit {
	hearth_buf *out;
	int64_t	    n; /* slots */
	int64_t	    c; /* written so far */
} timeline_emit;

static void
timeline_put(timeline_emit *e, int64_t v)
{
	if (e->c >= e->n)
		return; /* clip: upstream would overflow the range */
	if (e->c > 0)
		hearth_buf_putc(e->out, ',');
	hearth_buf_put_i64(e->out, v < 0 ? 0 : v);
	e->c++;
}

static void
timeline_zeros(timeline_emit *e, int64_t k)
{
	for (; k > 0 && e->c < e->n; k--)
		timeline_put(e, 0);
}

void
hearth_timeline_write(hearth_buf *out, int64_t from_ms, int64_t until_ms,
    int64_t step_s, const hearth_point *pts, size_t n)
{
	int64_t s = 0, e = 0, d = step_s;
	if (step_s > 0 && step_s <= INT64_MAX / 1000) {
		int64_t D = step_s * 1000;
		s	  = timeline_floor(from_ms, D) * D;
		e	  = timeline_floor(until_ms, D) * D;
	} else {
		/* no usable step: start at the range start, no slots */
		s = e = timeline_floor(from_ms, 1000) * 1000;
	}
	hearth_buf_puts(out, "{\"startTime\":");
	hearth_buf_put_i64(out, s / 1000);
	hearth_buf_puts(out, ",\"samples\":[");
	timeline_emit em = { .out = out, .n = 0, .c = 0 };
	if (s < e && d > 0)
		em.n = (e / 1000 - s / 1000) / d;
	int	first = 1;
	int64_t prev  = 0;
	for (size_t i = 0; i < n && em.n > 0; i++) {
		int64_t ts = pts[i].ts_ms;
		if (ts < s || ts >= e)
			continue;
		if (first)
			timeline_zeros(&em, (ts / 1000 - s / 1000) / d);
		else
			timeline_zeros(&em, (ts / 1000 - prev / 1000) / d - 1);
		timeline_put(&em, pts[i].value);
		prev  = ts;
		first = 0;
	}
	timeline_zeros(&em, em.n - em.c);
	hearth_buf_puts(out, "],\"durationDelta\":");
	hearth_buf_put_i64(out, d);
	hearth_buf_puts(out, ",\"watermarks\":null}");
}
