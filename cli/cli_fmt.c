#include "cli_fmt.h"

#include "err.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
hearth_cli_fmt_ptype(const char *query, hearth_cli_ptype *out)
{
	memset(out, 0, sizeof(*out));
	if (query == NULL)
		return;
	char  *parts[5] = { out->name, out->sample_type, out->sample_unit,
		 out->period_type, out->period_unit };
	size_t end      = strcspn(query, "{");
	size_t i = 0, part = 0;
	while (i <= end && part < 5) {
		size_t n = strcspn(query + i, ":{");
		if (i + n > end)
			n = end - i;
		if (n < HEARTH_CLI_TYPE_PART_MAX) {
			memcpy(parts[part], query + i, n);
			parts[part][n] = '\0';
		}
		part++;
		i += n + 1; /* past the ':' (or past the end) */
	}
}

hearth_cli_unit
hearth_cli_fmt_unit(const char *sample_unit)
{
	if (sample_unit == NULL)
		return HEARTH_CLI_UNIT_COUNT;
	if (strcmp(sample_unit, "nanoseconds") == 0)
		return HEARTH_CLI_UNIT_NANOSECONDS;
	if (strcmp(sample_unit, "bytes") == 0)
		return HEARTH_CLI_UNIT_BYTES;
	return HEARTH_CLI_UNIT_COUNT;
}

/* One step of a unit ladder: divide by div and print name while the
 * rounded number stays under next (0: the last step, no limit). */
typedef struct fmt_step {
	double      div;
	const char *name;
	double      next;
} fmt_step;

static const fmt_step fmt_ns_steps[] = {
	{ 1e3, " us", 1000 },
	{ 1e6, " ms", 1000 },
	{ 1e9, " s", 60 },
	{ 60e9, " min", 60 },
	{ 3600e9, " h", 0 },
};
static const fmt_step fmt_byte_steps[] = {
	{ 1024.0, " KiB", 1024 },
	{ 1048576.0, " MiB", 1024 },
	{ 1073741824.0, " GiB", 1024 },
	{ 1099511627776.0, " TiB", 1024 },
	{ 1125899906842624.0, " PiB", 0 },
};
static const fmt_step fmt_count_steps[] = {
	{ 1e3, " K", 1000 },
	{ 1e6, " M", 1000 },
	{ 1e9, " G", 1000 },
	{ 1e12, " T", 1000 },
	{ 1e15, " P", 0 },
};

void
hearth_cli_fmt_value(
    hearth_buf *b, int64_t v, hearth_cli_unit u, int with_sign)
{
	/* |INT64_MIN| does not fit int64: take the magnitude unsigned. */
	uint64_t m = v < 0 ? (uint64_t) (-(v + 1)) + 1 : (uint64_t) v;
	if (v < 0)
		hearth_buf_putc(b, '-');
	else if (v > 0 && with_sign)
		hearth_buf_putc(b, '+');
	const fmt_step *steps      = fmt_count_steps;
	uint64_t        exact      = 1000;
	const char     *exact_name = "";
	if (u == HEARTH_CLI_UNIT_NANOSECONDS) {
		steps      = fmt_ns_steps;
		exact_name = " ns";
	} else if (u == HEARTH_CLI_UNIT_BYTES) {
		steps      = fmt_byte_steps;
		exact      = 1024;
		exact_name = " B";
	}
	if (m < exact) {
		hearth_buf_put_u64(b, m);
		hearth_buf_puts(b, exact_name);
		return;
	}
	for (size_t i = 0;; i++) {
		double r
		    = floor((double) m / steps[i].div * 100.0 + 0.5) / 100.0;
		if (steps[i].next == 0 || r < steps[i].next) {
			hearth_buf_printf(b, "%.2f%s", r, steps[i].name);
			return;
		}
	}
}

void
hearth_cli_fmt_percent(hearth_buf *b, int64_t part, int64_t whole)
{
	double p = whole > 0 ? (double) part * 100.0 / (double) whole : 0.0;
	hearth_buf_printf(b, "%.2f%%", p);
}

void
hearth_cli_fmt_change(hearth_buf *b, int64_t old_v, int64_t new_v)
{
	if (old_v == 0) {
		hearth_buf_puts(b, new_v == 0 ? "0.00%" : "new");
		return;
	}
	double c
	    = ((double) new_v - (double) old_v) * 100.0 / fabs((double) old_v);
	/* Keep "-0.00%" and "+0.00%" out: a change that rounds to zero is
	 * written without a sign. */
	if (fabs(c) < 0.005)
		hearth_buf_puts(b, "0.00%");
	else
		hearth_buf_printf(b, "%+.2f%%", c);
}

void
hearth_cli_fmt_time(hearth_buf *b, int64_t unix_s)
{
	time_t    t = (time_t) unix_s;
	struct tm tm;
	char      s[64];
	if (gmtime_r(&t, &tm) == NULL
	    || strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
		hearth_buf_put_i64(b, unix_s); /* out of struct tm's range */
		return;
	}
	hearth_buf_puts(b, s);
}

void
hearth_cli_fmt_sparkline(
    hearth_buf *b, const int64_t *v, size_t n, size_t width)
{
	if (n == 0)
		return;
	if (width == 0 || width > n)
		width = n;
	size_t  group = (n + width - 1) / width;
	size_t  cols  = (n + group - 1) / group;
	int64_t max   = 0;
	for (size_t c = 0; c < cols; c++) {
		int64_t sum = 0;
		for (size_t i = c * group; i < n && i < (c + 1) * group; i++)
			if (v[i] > 0)
				sum = v[i] > INT64_MAX - sum ? INT64_MAX
				                             : sum + v[i];
		if (sum > max)
			max = sum;
	}
	for (size_t c = 0; c < cols; c++) {
		int64_t sum = 0;
		for (size_t i = c * group; i < n && i < (c + 1) * group; i++)
			if (v[i] > 0)
				sum = v[i] > INT64_MAX - sum ? INT64_MAX
				                             : sum + v[i];
		if (sum <= 0) {
			hearth_buf_putc(b, ' ');
			continue;
		}
		int lvl = (int) ceil((double) sum * 8.0 / (double) max);
		if (lvl < 1)
			lvl = 1;
		if (lvl > 8)
			lvl = 8;
		/* U+2581 LOWER ONE EIGHTH BLOCK .. U+2588 FULL BLOCK */
		char block[3]
		    = { (char) 0xE2, (char) 0x96, (char) (0x80 + lvl) };
		hearth_buf_append(b, block, 3);
	}
}

size_t
hearth_cli_fmt_width(const char *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char) s[i] & 0xC0) != 0x80)
			w++;
	return w;
}

struct hearth_cli_fmt_table {
	size_t n_cols;
	char  *align; /* n_cols letters */
	char **cells; /* (rows + 1) * n_cols; row 0 is the header */
	size_t rows;  /* header included */
	size_t cap;   /* rows allocated */
};

static int
fmt_table_push(hearth_cli_fmt_table *t, const char *const *cells)
{
	if (t->rows == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 16;
		char **nc = realloc(t->cells, ncap * t->n_cols * sizeof(*nc));
		if (nc == NULL)
			return HEARTH_ENOMEM;
		t->cells = nc;
		t->cap   = ncap;
	}
	char **row = t->cells + t->rows * t->n_cols;
	for (size_t c = 0; c < t->n_cols; c++) {
		row[c] = strdup(cells[c] != NULL ? cells[c] : "");
		if (row[c] == NULL) {
			while (c-- > 0)
				free(row[c]);
			return HEARTH_ENOMEM;
		}
	}
	t->rows++;
	return 0;
}

hearth_cli_fmt_table *
hearth_cli_fmt_table_new(
    size_t n_cols, const char *const *headers, const char *align)
{
	HEARTH_ASSERT(n_cols > 0 && strlen(align) == n_cols);
	hearth_cli_fmt_table *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->n_cols = n_cols;
	t->align  = strdup(align);
	if (t->align == NULL || fmt_table_push(t, headers) != 0) {
		hearth_cli_fmt_table_free(t);
		return NULL;
	}
	return t;
}

void
hearth_cli_fmt_table_free(hearth_cli_fmt_table *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->rows * t->n_cols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->align);
	free(t);
}

int
hearth_cli_fmt_table_add(hearth_cli_fmt_table *t, const char *const *cells)
{
	return fmt_table_push(t, cells);
}

size_t
hearth_cli_fmt_table_rows(const hearth_cli_fmt_table *t)
{
	return t->rows - 1;
}

static void
fmt_pad(hearth_buf *out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hearth_buf_putc(out, ' ');
}

void
hearth_cli_fmt_table_write(const hearth_cli_fmt_table *t, hearth_buf *out)
{
	size_t *w = calloc(t->n_cols, sizeof(*w));
	if (w == NULL) {
		out->failed = 1; /* reported by hearth_buf_failed() */
		return;
	}
	for (size_t r = 0; r < t->rows; r++)
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *s  = t->cells[r * t->n_cols + c];
			size_t      cw = hearth_cli_fmt_width(s, strlen(s));
			if (cw > w[c])
				w[c] = cw;
		}
	for (size_t r = 0; r < t->rows; r++) {
		for (size_t c = 0; c < t->n_cols; c++) {
			const char *s    = t->cells[r * t->n_cols + c];
			size_t      len  = strlen(s);
			size_t      pad  = w[c] - hearth_cli_fmt_width(s, len);
			int         last = c + 1 == t->n_cols;
			if (c > 0)
				hearth_buf_puts(out, "  ");
			if (t->align[c] == 'r')
				fmt_pad(out, pad);
			hearth_buf_append(out, s, len);
			if (t->align[c] != 'r' && !last)
				fmt_pad(out, pad);
		}
		hearth_buf_putc(out, '\n');
	}
	free(w);
}
