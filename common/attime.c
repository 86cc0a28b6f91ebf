/*
 * attime: one evaluator computes the lenient (upstream) value and, on the
 * side, the first reason the input is not well-formed; the two public
 * functions differ only in what they do with that reason. The input is
 * never copied: a cursor walks it and skips the removed characters.
 */
#include "attime.h"

#include <stdint.h>

#define ATTIME_NS_PER_S INT64_C(1000000000)
#define ATTIME_NS_PER_DAY (INT64_C(86400) * ATTIME_NS_PER_S)

/* Characters removed anywhere before parsing (ingest-http.md §4 rule 1). */
static int
attime_removed(char c)
{
	return c == '_' || c == ',' || c == ' ';
}

static int
attime_space(char c)
{
	return c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int
attime_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Next kept character at or after *i below hi, or -1. */
static int
attime_next(const char *s, size_t *i, size_t hi)
{
	while (*i < hi && attime_removed(s[*i]))
		(*i)++;
	return *i < hi ? (unsigned char) s[*i] : -1;
}

static int64_t
attime_add_sat(int64_t a, int64_t b)
{
	int64_t r;
	if (__builtin_add_overflow(a, b, &r))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return r;
}

/* a >= 0, b > 0; *ovf set when the product does not fit. */
static int64_t
attime_mul_sat(int64_t a, int64_t b, int *ovf)
{
	int64_t r;
	if (__builtin_mul_overflow(a, b, &r)) {
		*ovf = 1;
		return INT64_MAX;
	}
	return r;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (the usual
 * era-based conversion: eras of 400 years have a fixed day count). */
static int64_t
attime_days(int64_t y, int64_t m, int64_t d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int
attime_date_valid(int64_t y, int64_t m, int64_t d)
{
	static const int mdays[12]
	    = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	if (y <= 1900 || m < 1 || m > 12 || d < 1)
		return 0;
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return d <= mdays[m - 1] + (m == 2 && leap);
}

/* All-digit input of nd digits in [lo, hi). */
static int64_t
attime_number(const char *s, size_t lo, size_t hi, size_t nd, const char **why)
{
	int64_t v = 0, ymd[3] = { 0, 0, 0 };
	int     ovf = 0;
	size_t  k   = 0;
	for (size_t i = lo; attime_next(s, &i, hi) >= 0; i++, k++) {
		int64_t dg = s[i] - '0';
		if (nd == 8)
			ymd[k < 4       ? 0
			        : k < 6 ? 1
			                : 2]
			    = ymd[k < 4       ? 0
			              : k < 6 ? 1
			                      : 2]
			        * 10
			    + dg;
		v = attime_mul_sat(v, 10, &ovf);
		if (__builtin_add_overflow(v, dg, &v)) {
			ovf = 1;
			v   = INT64_MAX;
		}
	}
	if (nd == 8 && attime_date_valid(ymd[0], ymd[1], ymd[2]))
		return attime_days(ymd[0], ymd[1], ymd[2]) * ATTIME_NS_PER_DAY;
	int64_t mul = nd == 13 ? 1000000
	    : nd == 16         ? 1000
	    : nd == 19         ? 1
	                       : ATTIME_NS_PER_S;
	v           = attime_mul_sat(v, mul, &ovf);
	if (ovf && *why == NULL)
		*why = "is out of range for a Unix time in nanoseconds";
	return ovf ? INT64_MAX : v;
}

/* Nanoseconds per unit, chosen by prefix of u[0..n); 0 when unknown.
 * Order matters: "mon" before "m", "s" first (so "sec" is seconds). */
static int64_t
attime_unit(const char *u, size_t n)
{
	if (n >= 1 && u[0] == 's')
		return ATTIME_NS_PER_S;
	if ((n >= 3 && u[0] == 'm' && u[1] == 'o' && u[2] == 'n')
	    || (n >= 1 && u[0] == 'M'))
		return 30 * ATTIME_NS_PER_DAY;
	if (n >= 1 && u[0] == 'm')
		return 60 * ATTIME_NS_PER_S;
	if (n >= 1 && u[0] == 'h')
		return 3600 * ATTIME_NS_PER_S;
	if (n >= 1 && u[0] == 'd')
		return ATTIME_NS_PER_DAY;
	if (n >= 1 && u[0] == 'w')
		return 7 * ATTIME_NS_PER_DAY;
	if (n >= 1 && u[0] == 'y')
		return 365 * ATTIME_NS_PER_DAY;
	return 0;
}

/* Offset groups in the kept characters of [i, hi), after the sign. The
 * unit prefix test needs at most 3 kept characters, gathered into u. */
static int64_t
attime_offset(const char *s, size_t i, size_t hi, const char **why)
{
	int64_t total = 0;
	if (attime_next(s, &i, hi) < 0 && *why == NULL)
		*why = "has a sign but no offset after it";
	while (attime_next(s, &i, hi) >= 0) {
		int64_t num = 0;
		int     ovf = 0, nd = 0;
		while (attime_next(s, &i, hi) >= 0 && attime_digit(s[i])) {
			num = attime_mul_sat(num, 10, &ovf);
			if (__builtin_add_overflow(num, s[i] - '0', &num)) {
				ovf = 1;
				num = INT64_MAX;
			}
			nd++;
			i++;
		}
		char   u[3];
		size_t un = 0;
		while (attime_next(s, &i, hi) >= 0 && !attime_digit(s[i])) {
			if (un < sizeof(u))
				u[un] = s[i];
			un++;
			i++;
		}
		int64_t unit = attime_unit(u, un < sizeof(u) ? un : sizeof(u));
		if (*why == NULL && nd == 0)
			*why
			    = "has an offset group without a number (expected "
			      "e.g. now-1h30m)";
		if (*why == NULL && unit == 0)
			*why = "has an offset with a missing or unknown unit "
			       "(use s, m/min, h, d, w, M/mon, y)";
		if (unit == 0)
			continue;
		int64_t d = attime_mul_sat(num, unit, &ovf);
		if (ovf && *why == NULL)
			*why = "has an offset that is out of range";
		total = attime_add_sat(total, d);
	}
	return total;
}

static int
attime_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* The lenient value of s[0..len); *why gets the first reason the input
 * is malformed (NULL when well-formed). */
static int64_t
attime_eval(const char *s, size_t len, int64_t now_ns, const char **why)
{
	*why      = NULL;
	size_t lo = 0, hi = len;
	while (lo < hi && (attime_removed(s[lo]) || attime_space(s[lo])))
		lo++;
	while (
	    hi > lo && (attime_removed(s[hi - 1]) || attime_space(s[hi - 1])))
		hi--;
	if (lo == hi) {
		*why = "is empty";
		return now_ns;
	}
	size_t nd = 0, plus = hi, minus = hi;
	int    digits = 1;
	for (size_t i = lo; attime_next(s, &i, hi) >= 0; i++) {
		nd++;
		if (!attime_digit(s[i]))
			digits = 0;
		if (s[i] == '+' && plus == hi)
			plus = i;
		if (s[i] == '-' && minus == hi)
			minus = i;
	}
	if (digits)
		return attime_number(s, lo, hi, nd, why);
	size_t sign = plus < hi ? plus : minus;
	/* The reference part must say "now" (or nothing) to be well-formed;
	 * upstream reads any reference as now. */
	static const char now[] = "now";
	size_t            k     = 0;
	for (size_t i = lo; attime_next(s, &i, sign) >= 0; i++, k++)
		if (k >= 3 || attime_lower((unsigned char) s[i]) != now[k])
			k = 4;
	if (k != 0 && k != 3)
		*why
		    = "is neither a Unix timestamp nor a time relative to now "
		      "(e.g. now-1h)";
	if (sign == hi)
		return now_ns;
	int64_t off = attime_offset(s, sign + 1, hi, why);
	return attime_add_sat(now_ns, s[sign] == '-' ? -off : off);
}

int64_t
hearth_attime_parse(const char *s, size_t len, int64_t now_ns)
{
	const char *why;
	if (len == 0)
		return now_ns;
	return attime_eval(s, len, now_ns, &why);
}

int
hearth_attime_parse_strict(
    const char *s, size_t len, int64_t now_ns, int64_t *out, hearth_err *err)
{
	const char *why = "is empty";
	int64_t     v = len == 0 ? now_ns : attime_eval(s, len, now_ns, &why);
	if (why != NULL)
		return hearth_err_set(err, HEARTH_EINVAL, "time \"%.*s%s\" %s",
		    len > 64 ? 64 : (int) len, len == 0 ? "" : s,
		    len > 64 ? "..." : "", why);
	*out = v;
	return 0;
}
