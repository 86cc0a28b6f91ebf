/*
 * stconfig: the `sample_type_config` multipart part of /ingest
 * (ingest-http.md §5.2) and the `__name__` heuristic of the pprof path
 * (§7).
 *
 * The part is a JSON object keyed by pprof sample-type name:
 *   {"contentions":{"units":"lock_samples","display-name":"mutex_count"},
 *    "delay":{"units":"lock_nanoseconds","display-name":"mutex_duration"}}
 * Each value is an object (or null = all members absent) with optional
 * members units, display-name, aggregation (strings or null) and
 * cumulative, sampled (true, false or null). Member names match
 * case-insensitively and unknown members are skipped, as Go's
 * encoding/json does; a member of the wrong type is an error (Go fails the
 * whole upload too). A repeated sample type replaces the earlier entry.
 * Top-level null is an empty config. Only display-name has an effect
 * today (it feeds the heuristic).
 *
 * The JSON reader is strict RFC 8259: no trailing commas, comments or
 * garbage after the value; strings may not hold raw control characters or
 * invalid UTF-8; \uXXXX escapes (surrogate pairs combined, a lone
 * surrogate becomes U+FFFD as in Go) except \u0000; nesting deeper than
 * HEARTH_STCONFIG_MAX_DEPTH is an error; at most
 * HEARTH_STCONFIG_MAX_ENTRIES sample types. Errors are HEARTH_EINVAL with
 * the byte offset, e.g. "invalid JSON at offset 12: expected ':' after an
 * object key"; callers prefix the part name.
 *
 * A parsed config lives in the arena. The built-in default (used when the
 * part is absent) is static constant data. Thread-safe.
 */
#ifndef HEARTH_STCONFIG_H
#define HEARTH_STCONFIG_H

#include "arena.h"
#include "err.h"

#include <stddef.h>

#define HEARTH_STCONFIG_MAX_DEPTH 64
#define HEARTH_STCONFIG_MAX_ENTRIES 256

typedef struct hearth_stconfig_entry {
	const char *sample_type;
	const char *units;        /* NULL when absent */
	const char *display_name; /* NULL when absent */
	const char *aggregation;  /* NULL when absent ("sum", "average") */
	int         cumulative;   /* 0 when absent */
	int         sampled;      /* 0 when absent */
} hearth_stconfig_entry;

typedef struct hearth_stconfig {
	const hearth_stconfig_entry *entries; /* in first-appearance order */
	size_t                       n;
} hearth_stconfig;

/* Parse json[0..len) into an arena config. */
int hearth_stconfig_parse(hearth_arena *a, const char *json, size_t len,
    hearth_stconfig **out, hearth_err *err);

/* The built-in map used when an upload has no sample_type_config:
 * samples -> cpu, goroutine -> goroutines, contentions -> mutex_count,
 * delay -> mutex_duration; inuse_objects, alloc_objects, inuse_space,
 * alloc_space without display name (units as the Go SDK sends them). */
const hearth_stconfig *hearth_stconfig_default(void);

/* Entry of sample_type in c (c NULL = the default map), or NULL. */
const hearth_stconfig_entry *hearth_stconfig_find(
    const hearth_stconfig *c, const char *sample_type);

/* display-name of sample_type in c, or in the default map when c is NULL;
 * NULL when there is none. */
const char *hearth_stconfig_display_name(
    const hearth_stconfig *c, const char *sample_type);

/* `__name__` of a pprof upload from its sample types (ingest-http.md §7):
 * "wall" if any type is wall; else the first (display) name that
 * contains "cpu" -> "process_cpu", contains "alloc_" or "inuse_" or is
 * "space" or "objects" -> "memory", contains "mutex_" -> "mutex",
 * "block_" -> "block", "goroutines" -> "goroutines"; else the (display)
 * name of the last type. NULL when n == 0. The result is a string
 * literal or borrowed from c or sample_types. */
const char *hearth_stconfig_profile_name(
    const hearth_stconfig *c, const char *const *sample_types, size_t n);

#endif
