/*
 * labels: Prometheus-style label sets for series (DESIGN §3, model.md §3-4).
 *
 * A label set is an array of hearth_label {name, value}, both
 * NUL-terminated strings. After hearth_labels_sort() it is sorted by name
 * (byte order) with unique names (a later duplicate wins). The module never
 * owns the strings: callers keep them in an arena or in interned storage.
 *
 * It also parses the legacy /ingest `name` parameter
 * (`app.name{key=value,...}`, ingest-http.md §3) into an app name and
 * labels, and computes the series fingerprint (XXH3-64 of tenant and the
 * sorted labels).
 */
#ifndef HEARTH_LABELS_H
#define HEARTH_LABELS_H

#include "arena.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_label {
	const char *name;
	const char *value;
} hearth_label;

/* Sort by name; for duplicate names keep the LAST occurrence in input
 * order. Returns the new count. */
size_t hearth_labels_sort(hearth_label *ls, size_t n);
/* Remove labels whose value is empty (Prometheus: an empty value is the
 * same as no label, model.md §4 step 6), keeping the order of the rest.
 * Returns the new count. */
size_t hearth_labels_drop_empty(hearth_label *ls, size_t n);
/* Value of name in a sorted or unsorted set, or NULL. */
const char *hearth_labels_get(
    const hearth_label *ls, size_t n, const char *name);
/* Fingerprint of a sorted set for a tenant: XXH3-64 over tenant, then
 * each name and value with separators that cannot occur in UTF-8 (0xff). */
uint64_t hearth_labels_fingerprint(
    const char *tenant, const hearth_label *ls, size_t n);
/* 1 when two sorted sets are equal. */
int hearth_labels_equal(
    const hearth_label *a, size_t na, const hearth_label *b, size_t nb);

typedef struct hearth_labels_limits {
	size_t max_label_names_per_series; /* 0 = no limit */
	size_t max_label_name_length;
	size_t max_label_value_length;
} hearth_labels_limits;

/* Validate a sorted set per model.md §4: non-empty, count limit, __name__
 * non-empty, service_name non-empty, name/value lengths, names non-empty
 * valid UTF-8, values valid UTF-8, no duplicate names. lim NULL = no
 * limits. Limit violations return HEARTH_ELIMIT, the rest HEARTH_EINVAL
 * (both are the client's fault: 4xx). err names the label and the limit,
 * e.g. "max_label_value_length: label \"pod\" value is 3000 bytes, limit
 * 2048". */
int hearth_labels_validate(const hearth_label *ls, size_t n,
    const hearth_labels_limits *lim, hearth_err *err);

/* Parse an /ingest `name` (ingest-http.md §3). On success *app is the
 * trimmed app name (arena copy) and *labels, *n the labels in input order
 * (a later duplicate key overwrites the earlier value in place; __* keys
 * other than __session_id__ dropped; values trimmed, possibly empty), all
 * arena-allocated. Text after the closing '}' is ignored, as upstream.
 * Errors (HEARTH_EINVAL; HEARTH_ELIMIT when the arena cap is hit) start
 * with "name: " and give the 0-based byte offset of the problem: empty or
 * invalid app name, key with invalid characters, empty key, key without
 * '=value' (`app{a}`, which upstream silently drops), empty pair
 * (`{a=1,,b=2}`), missing '}' (upstream drops the unterminated pair), NUL
 * byte in a value. Values are not checked for UTF-8 here; that is
 * hearth_labels_validate's job. */
int hearth_labels_parse_ingest_name(hearth_arena *a, const char *s, size_t len,
    const char **app, hearth_label **labels, size_t *n, hearth_err *err);

#endif
