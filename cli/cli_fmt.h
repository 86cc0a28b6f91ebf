/*
 * cli_fmt: how hearth-cli writes numbers, times and tables for a terminal.
 * Pure functions over hearth_buf; nothing here talks to the network.
 *
 * Units. A profile type id is name:sample_type:sample_unit:period_type:
 * period_unit (model.md §1); the sample unit decides how values print:
 *   nanoseconds  1234 ns, 12.35 us, 12.35 ms, 12.35 s, 12.35 min, 1.20 h
 *   bytes        512 B, 1.50 KiB, 12.00 MiB, 3.25 GiB, 1.00 TiB, PiB
 *   anything     999, 1.23 K, 45.68 M, 1.20 G, 3.00 T, P (counts, objects,
 *   else         goroutines, and types whose unit is unknown)
 * Values below the first step print exactly as integers; larger ones with
 * two decimals in the largest unit that keeps the rounded number under the
 * next step (999999 ns is "1.00 ms", never "1000.00 us").
 *
 * Tables. A hearth_cli_fmt_table collects rows of cells (copied), then
 * writes them with every column as wide as its widest cell, counted in
 * UTF-8 characters so function names with accents stay aligned. Columns
 * are separated by two spaces; 'r' columns are right-aligned, 'l' columns
 * left-aligned, and the last column is never padded (no trailing blanks).
 *
 * Ownership: tables are malloc-owned (hearth_cli_fmt_table_free). Strings
 * returned point into the caller's buffers. Not thread-safe per object;
 * the functions hold no state.
 */
#ifndef HEARTH_CLI_FMT_H
#define HEARTH_CLI_FMT_H

#include "buf.h"

#include <stddef.h>
#include <stdint.h>

typedef enum hearth_cli_unit {
	HEARTH_CLI_UNIT_COUNT = 0,
	HEARTH_CLI_UNIT_NANOSECONDS,
	HEARTH_CLI_UNIT_BYTES
} hearth_cli_unit;

/* The five parts of a profile type id, each NUL-terminated; all empty
 * when the query names no type ("{service_name=\"x\"}"). */
#define HEARTH_CLI_TYPE_PART_MAX 128
typedef struct hearth_cli_ptype {
	char name[HEARTH_CLI_TYPE_PART_MAX];
	char sample_type[HEARTH_CLI_TYPE_PART_MAX];
	char sample_unit[HEARTH_CLI_TYPE_PART_MAX];
	char period_type[HEARTH_CLI_TYPE_PART_MAX];
	char period_unit[HEARTH_CLI_TYPE_PART_MAX];
} hearth_cli_ptype;

/* Split the profile type in front of a query's '{' (or the whole string
 * when it has none) at ':'. Parts that are missing or longer than
 * HEARTH_CLI_TYPE_PART_MAX - 1 bytes are left empty. */
void hearth_cli_fmt_ptype(const char *query, hearth_cli_ptype *out);

/* The unit of a sample unit name: "nanoseconds" and "bytes" are known,
 * everything else counts. */
hearth_cli_unit hearth_cli_fmt_unit(const char *sample_unit);

/* Append v in unit u as described above. with_sign prefixes "+" to
 * positive values (diffs); negative values always get "-". */
void hearth_cli_fmt_value(
    hearth_buf *b, int64_t v, hearth_cli_unit u, int with_sign);

/* Append part / whole as a percentage with two decimals: "83.33%".
 * whole <= 0 gives "0.00%". */
void hearth_cli_fmt_percent(hearth_buf *b, int64_t part, int64_t whole);

/* Append the relative change from old to new: "+400.00%", "-25.00%",
 * "0.00%"; "new" when old is 0 and new is not. */
void hearth_cli_fmt_change(hearth_buf *b, int64_t old_v, int64_t new_v);

/* Append Unix seconds as RFC 3339 UTC: "2026-11-26T11:35:45Z". */
void hearth_cli_fmt_time(hearth_buf *b, int64_t unix_s);

/* Append a sparkline of v[0..n) with at most width characters: when n is
 * larger, consecutive values are summed in groups of ceil(n / width).
 * Each character is one of the eight blocks U+2581..U+2588 scaled to the
 * largest (group) value; zero and negative values are a space, so an
 * empty stretch looks empty. n == 0 appends nothing. */
void hearth_cli_fmt_sparkline(
    hearth_buf *b, const int64_t *v, size_t n, size_t width);

/* Display width of s[0..n): UTF-8 characters (bytes that are not
 * continuation bytes). */
size_t hearth_cli_fmt_width(const char *s, size_t n);

typedef struct hearth_cli_fmt_table hearth_cli_fmt_table;

/* A table with n_cols columns, header cells (copied) and align, a string
 * of n_cols letters 'l' or 'r'. NULL on out of memory. */
hearth_cli_fmt_table *hearth_cli_fmt_table_new(
    size_t n_cols, const char *const *headers, const char *align);
void hearth_cli_fmt_table_free(hearth_cli_fmt_table *t); /* NULL: no-op */

/* Add one row of n_cols NUL-terminated cells (copied). 0 or
 * -HEARTH_ENOMEM. */
int hearth_cli_fmt_table_add(
    hearth_cli_fmt_table *t, const char *const *cells);

/* Rows added so far (the header not counted). */
size_t hearth_cli_fmt_table_rows(const hearth_cli_fmt_table *t);

/* Append the header and every row, each line ending in '\n'. */
void hearth_cli_fmt_table_write(
    const hearth_cli_fmt_table *t, hearth_buf *out);

#endif
