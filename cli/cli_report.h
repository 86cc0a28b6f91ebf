/*
 * cli_report: the terminal (and --output json) forms of hearth-cli's query
 * answers, written into a hearth_buf. Pure: the input is a decoded tree
 * (cli_tree.h) or timeline, the output text is fully determined by it, so
 * tests pin it byte for byte.
 *
 *   top        a table "self  self%  total  total%  function", sorted by
 *              self (or total), --limit rows, then a note when rows were
 *              left out;
 *   tree       the flame graph as an indented tree "total%  total  self
 *              function", children by total descending, the root first;
 *              nodes under --min-percent of the root total or deeper than
 *              --depth are hidden (with their subtrees) and counted in a
 *              closing note;
 *   diff       the biggest regressions and improvements of a render-diff,
 *              "left  right  delta  change  function", by self or total,
 *              optionally with the left side scaled to the right side's
 *              total (--normalize: compares shares, not amounts);
 *   series     one sparkline per timeline, then rows "time  value..." for
 *              the total and each group;
 *   *_json     the same data for scripts, raw integers, every row.
 * Values are printed with the unit of the profile type (cli_fmt.h).
 * Names are printed as they are, except bytes below 0x20 and 0x7f, which
 * become '?' so a hostile name cannot move the cursor or break lines.
 *
 * Ownership: results go into the caller's buffer; scratch comes from the
 * caller's arena. Stateless.
 */
#ifndef HEARTH_CLI_REPORT_H
#define HEARTH_CLI_REPORT_H

#include "arena.h"
#include "buf.h"
#include "cli_fmt.h"
#include "cli_json.h"
#include "cli_tree.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_cli_report_opts {
	hearth_cli_unit unit;
	size_t          limit;       /* top/diff rows per table; 0 = all */
	int             by_total;    /* sort top/diff by total, not self */
	size_t          max_depth;   /* tree: levels under the root; 0 = all */
	double          min_percent; /* tree: hide nodes below this share */
	int             normalize;   /* diff: scale left to the right total */
} hearth_cli_report_opts;

int hearth_cli_report_top(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err);

/* [{"function":"work","self":30,"total":50},...] in the table's order. */
int hearth_cli_report_top_json(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err);

int hearth_cli_report_tree(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err);

/* t must be a diff tree. */
int hearth_cli_report_diff(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err);

/* {"leftTicks":L,"rightTicks":R,"functions":[{"function":..,"leftSelf":..,
 * "rightSelf":..,"leftTotal":..,"rightTotal":..},...]}: every function
 * with a change, biggest increase first; values are raw (never
 * normalised). */
int hearth_cli_report_diff_json(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_report_opts *o, hearth_buf *out, hearth_err *err);

/* One timeline of a render answer (render-http.md §5). */
typedef struct hearth_cli_series {
	const char    *name; /* "total" or the group's label value */
	size_t         name_len;
	int64_t        start_s; /* time of slot 0, Unix seconds */
	int64_t        step_s;  /* durationDelta, > 0 */
	const int64_t *v;
	size_t         n;
} hearth_cli_series;

/* Decode a {"startTime","samples","durationDelta"} object into *out
 * (name left for the caller). null or a missing timeline is an error
 * naming what is missing. */
int hearth_cli_report_timeline(hearth_arena *a, const hearth_cli_json *tl,
    hearth_cli_series *out, hearth_err *err);

/* s[0] is the total, s[1..n) the groups; all share start and step (the
 * rows follow s[0]'s slots). spark_width: most sparkline characters.
 * Writes "series  <sparkline>  max" lines, a blank line, then the table
 * "time  total  <group>...". 0 or HEARTH_ENOMEM. */
int hearth_cli_report_series(const hearth_cli_series *s, size_t n,
    hearth_cli_unit u, size_t spark_width, hearth_buf *out, hearth_err *err);

/* {"step":15,"timeline":[[t,v],...],"groups":{"prod":[[t,v],...]}} */
void hearth_cli_report_series_json(
    const hearth_cli_series *s, size_t n, hearth_buf *out);

#endif
