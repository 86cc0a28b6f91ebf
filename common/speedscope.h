/*
 * speedscope: speedscope's JSON file format (ingest-http.md §5.1, the
 * schema at https://www.speedscope.app/file-format-schema.json) into one
 * hearth_upload per profile, for POST /ingest?format=speedscope.
 *
 *   { "$schema": "https://www.speedscope.app/file-format-schema.json",
 *     "shared": { "frames": [ { "name": "main" }, ... ] },
 *     "profiles": [
 *       { "type": "sampled", "name": "...", "unit": "milliseconds",
 *         "startValue": 0, "endValue": 10,
 *         "samples": [ [0, 1], [0, 2] ],    frame indexes, root first
 *         "weights": [ 4, 6 ] },
 *       { "type": "evented", ..., "events": [
 *           { "type": "O", "frame": 0, "at": 0 },
 *           { "type": "C", "frame": 0, "at": 10 } ] } ] }
 *
 * Rules:
 *  1. $schema must be the speedscope schema URL (else not a speedscope
 *     file). Keys may come in any order; unknown keys are skipped.
 *  2. Units: nanoseconds, microseconds, milliseconds and seconds are time:
 *     values become nanoseconds (rounded); "none" weights are sample
 *     counts and "bytes" bytes, both rounded. Weights must be >= 0.
 *  3. sampled: samples[i] is a stack of frame indexes, root first, with
 *     weight weights[i]; both arrays have the same length.
 *     evented: events in order of "at" ("O" opens a frame on top of the
 *     stack, "C" closes the frame on top); the time between two events
 *     is the open stack's, counted from startValue. Frames still open at
 *     the end count nothing more (as upstream).
 *  4. Profiles with the same name and unit are merged into one (upstream
 *     merges those; stored apart they would be the same series at the
 *     same time). At most HEARTH_SPEEDSCOPE_MAX_PROFILES remain.
 *  5. A frame with an empty name is "unknown" (as JFR's unnamed
 *     methods). Limits (opts, 0 = none): stacks deeper than
 *     max_stack_depth keep their root side; longer names keep their last
 *     max_symbol_length bytes (hearth_utf8_tail); more than max_samples
 *     distinct stacks in a profile is HEARTH_ELIMIT naming
 *     max_profile_stacktrace_samples.
 * Errors are HEARTH_EINVAL "speedscope: ..." (JSON errors with their byte
 * offset), HEARTH_ELIMIT for a limit or the arena cap.
 *
 * Memory: the uploads, names and strings live in the arena; the input is
 * not referenced after the call. The caller fills each upload's
 * sample_types, period and times (the profile type comes from the app
 * name's suffix, ingest-http.md §6).
 */
#ifndef HEARTH_SPEEDSCOPE_H
#define HEARTH_SPEEDSCOPE_H

#include "arena.h"
#include "err.h"
#include "upload.h"

#include <stddef.h>

#define HEARTH_SPEEDSCOPE_SCHEMA \
	"https://www.speedscope.app/file-format-schema.json"
#define HEARTH_SPEEDSCOPE_MAX_PROFILES 1024

typedef enum hearth_speedscope_unit {
	HEARTH_SPEEDSCOPE_NONE,
	HEARTH_SPEEDSCOPE_NANOSECONDS,
	HEARTH_SPEEDSCOPE_MICROSECONDS,
	HEARTH_SPEEDSCOPE_MILLISECONDS,
	HEARTH_SPEEDSCOPE_SECONDS,
	HEARTH_SPEEDSCOPE_BYTES,
} hearth_speedscope_unit;

typedef struct hearth_speedscope_opts {
	size_t	max_stack_depth;   /* frames kept per stack; 0 = no limit */
	size_t	max_symbol_length; /* bytes kept per name; 0 = no limit */
	size_t	max_samples;	   /* distinct stacks a profile; 0 = none */
	size_t *truncated_stacks;  /* optional counters, incremented */
	size_t *truncated_symbols;
} hearth_speedscope_opts;

typedef struct hearth_speedscope_profile {
	const char	      *name; /* the profile's "name", "" when none */
	hearth_speedscope_unit unit;
	const char	      *unit_name; /* as in the file: "milliseconds" */
	/* One sample type, one group without labels; values in
	 * nanoseconds for time units, else as weighed (rule 2). */
	hearth_upload *upload;
	size_t	       samples; /* weighted samples, or evented intervals,
				   that carried a value */
} hearth_speedscope_profile;

typedef struct hearth_speedscope_result {
	hearth_speedscope_profile *profiles; /* in order of first appearance */
	size_t			   n_profiles;
} hearth_speedscope_result;

/* 1 when unit u measures time (values are nanoseconds). */
int hearth_speedscope_unit_is_time(hearth_speedscope_unit u);

/* Parse json[0..len); opts may be NULL (no limits). */
int hearth_speedscope_parse(hearth_arena *a, const char *json, size_t len,
    const hearth_speedscope_opts *opts, hearth_speedscope_result *res,
    hearth_err *err);

#endif
