#include "cli_report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_MAX_COLS 6

static int
report_nomem(hearth_err *err)
{
	return hearth_err_set(
	    err, HEARTH_ENOMEM, "out of memory while writing the report");
}

/* Names go to a terminal: control bytes would move the cursor. */
static void
report_name(hearth_buf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char) s[i];
		hearth_buf_putc(b, c < 0x20 || c == 0x7f ? '?' : (char) c);
	}
}

/* A row's cells are built in REPORT_MAX_COLS reusable buffers. */
typedef struct report_row {
	hearth_buf  cell[REPORT_MAX_COLS];
	const char *ptr[REPORT_MAX_COLS];
} report_row;

static void
report_row_init(report_row *r)
{
	for (int i = 0; i < REPORT_MAX_COLS; i++)
		hearth_buf_init(&r->cell[i]);
}

static void
report_row_reset(report_row *r)
{
	for (int i = 0; i < REPORT_MAX_COLS; i++)
		hearth_buf_reset(&r->cell[i]);
}

static void
report_row_fini(report_row *r)
{
	for (int i = 0; i < REPORT_MAX_COLS; i++)
		hearth_buf_fini(&r->cell[i]);
}

/* Add the row to the table; 0 or HEARTH_ENOMEM. */
static int
report_row_add(report_row *r, hearth_cli_fmt_table *t, size_t n_cols)
{
	for (size_t i = 0; i < n_cols; i++) {
		if (hearth_buf_failed(&r->cell[i]))
			return HEARTH_ENOMEM;
		r->ptr[i] = r->cell[i].data != NULL ? r->cell[i].data : "";
	}
	return hearth_cli_fmt_table_add(t, r->ptr);
}

static int
report_table_done(hearth_cli_fmt_table *t, report_row *r, int rc,
    hearth_buf *out, hearth_err *err)
{
	if (rc == 0)
		hearth_cli_fmt_table_write(t, out);
	hearth_cli_fmt_table_free(t);
	report_row_fini(r);
	return rc == 0 ? 0 : report_nomem(err);
}

int
hearth_cli_report_top(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err)
{
	hearth_cli_fn *f;
	size_t         n;
	if (hearth_cli_tree_functions(a, t, &f, &n, err) != 0)
		return err->code;
	if (n == 0) {
		hearth_buf_puts(out,
		    "no samples: the query matched no "
		    "profiles in this time range\n");
		return 0;
	}
	hearth_cli_tree_sort(
	    f, n, o->by_total ? HEARTH_CLI_SORT_TOTAL : HEARTH_CLI_SORT_SELF);
	int64_t     all   = t->nodes[0].total[0];
	const char *hdr[] = { "self", "self%", "total", "total%", "function" };
	hearth_cli_fmt_table *tab = hearth_cli_fmt_table_new(5, hdr, "rrrrl");
	size_t     rows = o->limit == 0 || o->limit > n ? n : o->limit;
	report_row r;
	int        rc = tab == NULL ? HEARTH_ENOMEM : 0;
	report_row_init(&r);
	for (size_t i = 0; i < rows && rc == 0; i++) {
		report_row_reset(&r);
		hearth_cli_fmt_value(&r.cell[0], f[i].self[0], o->unit, 0);
		hearth_cli_fmt_percent(&r.cell[1], f[i].self[0], all);
		hearth_cli_fmt_value(&r.cell[2], f[i].total[0], o->unit, 0);
		hearth_cli_fmt_percent(&r.cell[3], f[i].total[0], all);
		report_name(&r.cell[4], f[i].name, f[i].len);
		rc = report_row_add(&r, tab, 5);
	}
	if (report_table_done(tab, &r, rc, out, err) != 0)
		return err->code;
	if (rows < n)
		hearth_buf_printf(out,
		    "(%zu of %zu functions shown; --limit 0 shows all)\n",
		    rows, n);
	return 0;
}

int
hearth_cli_report_top_json(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err)
{
	hearth_cli_fn *f;
	size_t         n;
	if (hearth_cli_tree_functions(a, t, &f, &n, err) != 0)
		return err->code;
	hearth_cli_tree_sort(
	    f, n, o->by_total ? HEARTH_CLI_SORT_TOTAL : HEARTH_CLI_SORT_SELF);
	hearth_buf_putc(out, '[');
	for (size_t i = 0; i < n; i++) {
		hearth_buf_puts(out, i ? ",{\"function\":" : "{\"function\":");
		hearth_buf_put_json_str(out, f[i].name, f[i].len);
		hearth_buf_printf(out, ",\"self\":%lld,\"total\":%lld}",
		    (long long) f[i].self[0], (long long) f[i].total[0]);
	}
	hearth_buf_puts(out, "]\n");
	return 0;
}

/* Children of a node, by total descending, then by name. */
static int
report_child_cmp(const void *p, const void *q, void *ctx)
{
	const hearth_cli_tree *t = ctx;
	const hearth_cli_node *x = &t->nodes[*(const uint32_t *) p];
	const hearth_cli_node *y = &t->nodes[*(const uint32_t *) q];
	if (x->total[0] != y->total[0])
		return x->total[0] > y->total[0] ? -1 : 1;
	size_t xl = t->name_lens[x->name], yl = t->name_lens[y->name];
	int    c
	    = memcmp(t->names[x->name], t->names[y->name], xl < yl ? xl : yl);
	if (c != 0)
		return c;
	return xl < yl ? -1 : xl > yl ? 1 : 0;
}

static void
report_tree_row(report_row *r, const hearth_cli_tree *t, uint32_t i,
    const hearth_cli_report_opts *o)
{
	const hearth_cli_node *nd = &t->nodes[i];
	report_row_reset(r);
	hearth_cli_fmt_percent(
	    &r->cell[0], nd->total[0], t->nodes[0].total[0]);
	hearth_cli_fmt_value(&r->cell[1], nd->total[0], o->unit, 0);
	if (nd->self[0] != 0)
		hearth_cli_fmt_value(&r->cell[2], nd->self[0], o->unit, 0);
	else
		hearth_buf_putc(&r->cell[2], '-');
	for (uint32_t d = 0; d < nd->depth; d++)
		hearth_buf_puts(&r->cell[3], "  ");
	report_name(&r->cell[3], t->names[nd->name], t->name_lens[nd->name]);
}

static int
report_visible(
    const hearth_cli_tree *t, uint32_t c, const hearth_cli_report_opts *o)
{
	const hearth_cli_node *nd = &t->nodes[c];
	if (o->max_depth > 0 && nd->depth > o->max_depth)
		return 0;
	return (double) nd->total[0] * 100.0
	    >= o->min_percent * (double) t->nodes[0].total[0];
}

int
hearth_cli_report_tree(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err)
{
	size_t    n    = t->n_nodes;
	uint32_t *size = hearth_arena_calloc(a, n, sizeof(*size));
	uint32_t *kids = hearth_arena_calloc(a, n, sizeof(*kids));
	uint32_t *stk  = hearth_arena_calloc(a, n, sizeof(*stk));
	if (size == NULL || kids == NULL || stk == NULL)
		return report_nomem(err);
	/* Subtree sizes, for the count of hidden nodes (parent < child). */
	for (size_t i = n; i-- > 0;) {
		size[i] += 1;
		if (i > 0)
			size[t->nodes[i].parent] += size[i];
	}
	/* kids[] holds every node's children sorted, at first_child's
	 * offset - 1 (the root has no slot), so one array serves all. */
	for (uint32_t i = 0; i < n; i++) {
		const hearth_cli_node *nd = &t->nodes[i];
		for (uint32_t c = 0; c < nd->n_children; c++)
			kids[nd->first_child - 1 + c] = nd->first_child + c;
		if (nd->n_children > 1)
			qsort_r(kids + nd->first_child - 1, nd->n_children,
			    sizeof(*kids), report_child_cmp, (void *) t);
	}
	const char *hdr[]         = { "total%", "total", "self", "function" };
	hearth_cli_fmt_table *tab = hearth_cli_fmt_table_new(4, hdr, "rrrl");
	report_row            r;
	int                   rc     = tab == NULL ? HEARTH_ENOMEM : 0;
	size_t                hidden = 0, sp = 0;
	report_row_init(&r);
	/* Pre-order walk: pushing children in reverse pops them in order. */
	stk[sp++] = 0;
	while (sp > 0 && rc == 0) {
		uint32_t               i  = stk[--sp];
		const hearth_cli_node *nd = &t->nodes[i];
		report_tree_row(&r, t, i, o);
		rc = report_row_add(&r, tab, 4);
		for (uint32_t c = nd->n_children; c-- > 0;) {
			uint32_t k = kids[nd->first_child - 1 + c];
			if (report_visible(t, k, o))
				stk[sp++] = k;
			else
				hidden += size[k];
		}
	}
	if (report_table_done(tab, &r, rc, out, err) != 0)
		return err->code;
	if (hidden > 0)
		hearth_buf_printf(out,
		    "(%zu more node%s: raise --depth or lower --min-percent "
		    "to see %s)\n",
		    hidden, hidden == 1 ? "" : "s",
		    hidden == 1 ? "it" : "them");
	return 0;
}

/* Functions of a diff tree, the left side scaled when normalising. */
static int
report_diff_fns(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, int scale, hearth_cli_fn **f, size_t *n,
    hearth_err *err)
{
	if (!t->diff)
		return hearth_err_set(
		    err, HEARTH_EINVAL, "diff report of a single flame graph");
	if (hearth_cli_tree_functions(a, t, f, n, err) != 0)
		return err->code;
	int64_t l = t->nodes[0].total[0], r = t->nodes[0].total[1];
	if (scale && o->normalize && l > 0)
		for (size_t i = 0; i < *n; i++)
			for (int k = 0; k < 2; k++) {
				int64_t *v
				    = k ? &(*f)[i].total[0] : &(*f)[i].self[0];
				*v = (int64_t) llround(
				    (double) *v * (double) r / (double) l);
			}
	hearth_cli_tree_sort(*f, *n,
	    o->by_total ? HEARTH_CLI_SORT_TOTAL_DELTA
	                : HEARTH_CLI_SORT_SELF_DELTA);
	return 0;
}

static int
report_diff_section(const char *title, const hearth_cli_fn *f, size_t n,
    int up, const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		const int64_t *v = o->by_total ? f[i].total : f[i].self;
		total += up ? v[1] > v[0] : v[1] < v[0];
	}
	hearth_buf_printf(out, "%s (%s, by %s):", title,
	    up ? "right > left" : "right < left",
	    o->by_total ? "total" : "self");
	if (total == 0) {
		hearth_buf_puts(out, " none\n");
		return 0;
	}
	hearth_buf_putc(out, '\n');
	const char *hdr[] = { "left", "right", "delta", "change", "function" };
	hearth_cli_fmt_table *tab = hearth_cli_fmt_table_new(5, hdr, "rrrrl");
	size_t     rows = o->limit == 0 || o->limit > total ? total : o->limit;
	report_row r;
	int        rc = tab == NULL ? HEARTH_ENOMEM : 0;
	report_row_init(&r);
	/* Sorted by delta descending: regressions from the front,
	 * improvements (most negative first) from the back. */
	for (size_t k = 0; k < rows && rc == 0; k++) {
		const hearth_cli_fn *fn = up ? &f[k] : &f[n - 1 - k];
		const int64_t       *v  = o->by_total ? fn->total : fn->self;
		report_row_reset(&r);
		hearth_cli_fmt_value(&r.cell[0], v[0], o->unit, 0);
		hearth_cli_fmt_value(&r.cell[1], v[1], o->unit, 0);
		hearth_cli_fmt_value(&r.cell[2], v[1] - v[0], o->unit, 1);
		hearth_cli_fmt_change(&r.cell[3], v[0], v[1]);
		report_name(&r.cell[4], fn->name, fn->len);
		rc = report_row_add(&r, tab, 5);
	}
	if (report_table_done(tab, &r, rc, out, err) != 0)
		return err->code;
	if (rows < total)
		hearth_buf_printf(out,
		    "(%zu of %zu shown; --limit 0 shows all)\n", rows, total);
	return 0;
}

int
hearth_cli_report_diff(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err)
{
	hearth_cli_fn *f;
	size_t         n;
	if (report_diff_fns(a, t, o, 1, &f, &n, err) != 0)
		return err->code;
	int64_t l = t->nodes[0].total[0], r = t->nodes[0].total[1];
	hearth_buf_puts(out, "total: left ");
	hearth_cli_fmt_value(out, l, o->unit, 0);
	hearth_buf_puts(out, ", right ");
	hearth_cli_fmt_value(out, r, o->unit, 0);
	hearth_buf_puts(out, " (");
	hearth_cli_fmt_change(out, l, r);
	hearth_buf_puts(out, ")\n");
	if (o->normalize && l > 0)
		hearth_buf_printf(out,
		    "left values scaled by %.4f to the right total "
		    "(--normalize)\n",
		    (double) r / (double) l);
	if (report_diff_section("regressions", f, n, 1, o, out, err) != 0)
		return err->code;
	return report_diff_section("improvements", f, n, 0, o, out, err);
}

int
hearth_cli_report_diff_json(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err)
{
	hearth_cli_fn *f;
	size_t         n;
	if (report_diff_fns(a, t, o, 0, &f, &n, err) != 0)
		return err->code;
	hearth_buf_printf(out,
	    "{\"leftTicks\":%lld,\"rightTicks\":%lld,"
	    "\"functions\":[",
	    (long long) t->nodes[0].total[0],
	    (long long) t->nodes[0].total[1]);
	int first = 1;
	for (size_t i = 0; i < n; i++) {
		if (f[i].self[0] == f[i].self[1]
		    && f[i].total[0] == f[i].total[1])
			continue;
		hearth_buf_puts(
		    out, first ? "{\"function\":" : ",{\"function\":");
		first = 0;
		hearth_buf_put_json_str(out, f[i].name, f[i].len);
		hearth_buf_printf(out,
		    ",\"leftSelf\":%lld,\"rightSelf\":%lld,\"leftTotal\":%lld,"
		    "\"rightTotal\":%lld}",
		    (long long) f[i].self[0], (long long) f[i].self[1],
		    (long long) f[i].total[0], (long long) f[i].total[1]);
	}
	hearth_buf_puts(out, "]}\n");
	return 0;
}

int
hearth_cli_report_timeline(hearth_arena *a, const hearth_cli_json *tl,
    hearth_cli_series *out, hearth_err *err)
{
	const hearth_cli_json *st = hearth_cli_json_get(tl, "startTime");
	const hearth_cli_json *sa = hearth_cli_json_get(tl, "samples");
	const hearth_cli_json *dd = hearth_cli_json_get(tl, "durationDelta");
	if (st == NULL || !st->is_int || sa == NULL
	    || sa->type != HEARTH_CLI_JSON_ARRAY || dd == NULL || !dd->is_int
	    || dd->i <= 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "timeline: the answer has no startTime, samples and "
		    "positive durationDelta");
	int64_t *v = hearth_arena_calloc(a, sa->n + 1, sizeof(*v));
	if (v == NULL)
		return report_nomem(err);
	for (size_t i = 0; i < sa->n; i++) {
		if (!sa->items[i].is_int)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "timeline: samples[%zu] is not an integer", i);
		v[i] = sa->items[i].i;
	}
	out->start_s = st->i;
	out->step_s  = dd->i;
	out->v       = v;
	out->n       = sa->n;
	return 0;
}

/* Cells of one row of any width (the series table has a column per
 * group). */
typedef struct report_wide {
	size_t       n;
	hearth_buf  *cell;
	const char **ptr;
} report_wide;

static int
report_wide_init(report_wide *w, size_t n)
{
	w->n    = n;
	w->cell = calloc(n, sizeof(*w->cell));
	w->ptr  = calloc(n, sizeof(*w->ptr));
	if (w->cell == NULL || w->ptr == NULL)
		return HEARTH_ENOMEM;
	for (size_t i = 0; i < n; i++)
		hearth_buf_init(&w->cell[i]);
	return 0;
}

static void
report_wide_fini(report_wide *w)
{
	if (w->cell != NULL)
		for (size_t i = 0; i < w->n; i++)
			hearth_buf_fini(&w->cell[i]);
	free(w->cell);
	free(w->ptr);
}

/* Point ptr[] at the cells; HEARTH_ENOMEM when one failed. */
static int
report_wide_ptrs(report_wide *w)
{
	for (size_t i = 0; i < w->n; i++) {
		if (hearth_buf_failed(&w->cell[i]))
			return HEARTH_ENOMEM;
		w->ptr[i] = w->cell[i].data != NULL ? w->cell[i].data : "";
	}
	return 0;
}

static int
report_sparks(const hearth_cli_series *s, size_t n, hearth_cli_unit u,
    size_t spark_width, report_wide *w, hearth_buf *out)
{
	const char           *hdr[] = { "series", "", "max" };
	hearth_cli_fmt_table *tab   = hearth_cli_fmt_table_new(3, hdr, "lll");
	int                   rc    = tab == NULL ? HEARTH_ENOMEM : 0;
	for (size_t k = 0; k < n && rc == 0; k++) {
		int64_t max = 0;
		for (size_t i = 0; i < s[k].n; i++)
			if (s[k].v[i] > max)
				max = s[k].v[i];
		for (size_t c = 0; c < 3; c++)
			hearth_buf_reset(&w->cell[c]);
		report_name(&w->cell[0], s[k].name, s[k].name_len);
		hearth_cli_fmt_sparkline(
		    &w->cell[1], s[k].v, s[k].n, spark_width);
		hearth_cli_fmt_value(&w->cell[2], max, u, 0);
		rc = report_wide_ptrs(w);
		if (rc == 0)
			rc = hearth_cli_fmt_table_add(tab, w->ptr);
	}
	if (rc == 0)
		hearth_cli_fmt_table_write(tab, out);
	hearth_cli_fmt_table_free(tab);
	return rc;
}

int
hearth_cli_report_series(const hearth_cli_series *s, size_t n,
    hearth_cli_unit u, size_t spark_width, hearth_buf *out, hearth_err *err)
{
	HEARTH_ASSERT(n >= 1);
	report_wide  w     = { 0 };
	char        *align = calloc(n + 2, 1);
	const char **hdr   = calloc(n + 1, sizeof(*hdr));
	int          rc    = align == NULL || hdr == NULL
                || report_wide_init(&w, n + 1 < 3 ? 3 : n + 1) != 0
	                ? HEARTH_ENOMEM
	                : 0;
	if (rc == 0)
		rc = report_sparks(s, n, u, spark_width, &w, out);
	hearth_cli_fmt_table *tab = NULL;
	if (rc == 0) {
		hearth_buf_putc(out, '\n');
		/* Header cells are the series names, sanitised like any
		 * name; they live in their cells until the table copied
		 * them. */
		for (size_t c = 0; c < w.n; c++)
			hearth_buf_reset(&w.cell[c]);
		hdr[0]   = "time";
		align[0] = 'l';
		for (size_t k = 0; k < n; k++) {
			report_name(&w.cell[k + 1], s[k].name, s[k].name_len);
			align[k + 1] = 'r';
		}
		rc = report_wide_ptrs(&w);
		for (size_t k = 0; k < n; k++)
			hdr[k + 1] = w.ptr[k + 1];
		if (rc == 0
		    && (tab = hearth_cli_fmt_table_new(n + 1, hdr, align))
		        == NULL)
			rc = HEARTH_ENOMEM;
	}
	for (size_t i = 0; rc == 0 && i < s[0].n; i++) {
		for (size_t c = 0; c < w.n; c++)
			hearth_buf_reset(&w.cell[c]);
		hearth_cli_fmt_time(
		    &w.cell[0], s[0].start_s + (int64_t) i * s[0].step_s);
		for (size_t k = 0; k < n; k++)
			if (i < s[k].n)
				hearth_cli_fmt_value(
				    &w.cell[k + 1], s[k].v[i], u, 0);
		rc = report_wide_ptrs(&w);
		if (rc == 0)
			rc = hearth_cli_fmt_table_add(tab, w.ptr);
	}
	if (rc == 0)
		hearth_cli_fmt_table_write(tab, out);
	hearth_cli_fmt_table_free(tab);
	report_wide_fini(&w);
	free(align);
	free(hdr);
	return rc == 0 ? 0 : report_nomem(err);
}

static void
report_points(const hearth_cli_series *s, hearth_buf *out)
{
	hearth_buf_putc(out, '[');
	for (size_t i = 0; i < s->n; i++)
		hearth_buf_printf(out, "%s[%lld,%lld]", i ? "," : "",
		    (long long) (s->start_s + (int64_t) i * s->step_s),
		    (long long) s->v[i]);
	hearth_buf_putc(out, ']');
}

void
hearth_cli_report_series_json(
    const hearth_cli_series *s, size_t n, hearth_buf *out)
{
	hearth_buf_printf(
	    out, "{\"step\":%lld,\"timeline\":", (long long) s[0].step_s);
	report_points(&s[0], out);
	hearth_buf_puts(out, ",\"groups\":{");
	for (size_t k = 1; k < n; k++) {
		if (k > 1)
			hearth_buf_putc(out, ',');
		hearth_buf_put_json_str(out, s[k].name, s[k].name_len);
		hearth_buf_putc(out, ':');
		report_points(&s[k], out);
	}
	hearth_buf_puts(out, "}}\n");
}
