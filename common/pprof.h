/*
 * pprof: decode a pprof body (perftools.profiles.Profile, gzip or raw)
 * into a hearth_upload (common/upload.h): validated as model.md §8.2,
 * normalised as model.md §9.3, with the /ingest spyName adjustments of
 * ingest-http.md §5.3.
 *
 * Pipeline (one call, everything in the request arena):
 *   body --gunzip if 1f 8b (gzip.h, hard cap max_decompressed)-->
 *   bytes --size limit--> protobuf-c unpack (arena allocator) -->
 *   spy fixes --> validation --> samples --> upload builder --> upload
 *
 * Frames. A sample lists location ids leaf first; the upload wants root
 * first. So locations are walked from the last id (root) to the first
 * (leaf), and within a location its lines from the LAST one (the function
 * the code was inlined into) to line[0] (the innermost inlined function).
 * Each line is one frame named by its Function's name, or system_name when
 * name is empty. Two hearth choices, so that nothing shows up blank:
 *   - a Location with no lines (unsymbolized) is one frame named
 *     "0x<address>" in lowercase hex ("0x0" when the address is 0);
 *   - a Line whose function has neither name nor system_name gets the
 *     same "0x<address>" name of its location.
 * Names longer than max_symbol_length keep their LAST bytes (the end of a
 * qualified name is the informative part), moved forward to a UTF-8
 * character boundary so the result stays valid UTF-8 (when the limit is
 * smaller than the last character, that one character is kept). The
 * "0x<address>" names count too. Stacks deeper than
 * max_stack_depth FRAMES (the flame graph's depth, inlined frames count)
 * keep the root-side frames.
 *
 * Samples. Values must be one per sample type. A sample with any negative
 * value, or with all values zero, is dropped (counted in the result).
 * Only string labels (str != 0) are kept, with non-empty key and value;
 * key "profile_id" is renamed to "span_id", and "trace_id"/"span_id" are
 * left out of the grouping labels (they identify spans, not series). A
 * span_id value of 1 to 16 hex digits becomes the sample's span id in the
 * upload's span rows (upload.h); any other value is ignored as a span (no
 * 16-hex-digit span selector could match it). trace_id is dropped.
 * Samples with equal stacks and labels are summed by the builder.
 *
 * spy_name adjustments (ingest-http.md §5.3; NULL or any other name: none):
 *   "pyspy", "rbspy", "scripting": each frame is "<filename> <name>" (one
 *     space); with "pyspy" a function whose filename is an absolute path
 *     ("/...") keeps its plain name;
 *   "dotnetspy": when every Function has id 0 and there are as many
 *     functions as locations, function[i].id = location[i].id; and '-' in
 *     sample type names becomes '_'. (The /ingest rule "spyName unknown and
 *     sample_type_config has an inuse-space key" is the caller's to detect:
 *     it passes "dotnetspy" then.)
 *
 * Errors (err->msg is what the client reads in the 4xx body):
 *   HEARTH_EINVAL  malformed: "pprof: malformed protobuf (truncated or not a
 *                  pprof)", "pprof: empty profile: no sample types",
 *                  "pprof: string index 700 out of range (string_table has
 *                  40 entries) in function 3 name", "pprof: invalid UTF-8
 *                  in string_table[5]", "pprof: sample 3 has 1 values,
 *                  expected 2 (one per sample_type)", "pprof: sample 12
 *                  references location id 99 which does not exist", ...
 *                  (and the gzip.h messages for a bad gzip body);
 *   HEARTH_ELIMIT  a §8.1 limit, named as in §8.2: "pprof: the profile
 *                  exceeds the samples count limit
 *                  (max_profile_stacktrace_samples, actual: N, limit: M)"
 *                  (also max_profile_size_bytes, where a gzip body stops
 *                  decompressing at the limit and says "actual: more than
 *                  M", and max_profile_stacktrace_sample_labels);
 *                  or the arena cap ("request memory limit reached (...)");
 *   HEARTH_ETOOLARGE the gunzipped body passed max_decompressed.
 * Positions in messages ("sample 3", "function 3", "string_table[5]") are
 * 0-based positions in the Profile's lists; "id N" is an id field.
 *
 * Threading: stateless; one call uses one arena (single-threaded).
 * Ownership: the result's upload and every string in it live in the arena.
 * The input body is only read and may be freed after the call.
 */
#ifndef HEARTH_PPROF_H
#define HEARTH_PPROF_H

#include "arena.h"
#include "err.h"
#include "upload.h"

#include <stddef.h>
#include <stdint.h>

/* Hard gunzip cap used when opts.max_decompressed is 0: the default
 * ingestion_body_limit_mb (256 MiB). */
#define HEARTH_PPROF_DEFAULT_MAX_DECOMPRESSED ((size_t) 256 << 20)

typedef struct hearth_pprof_opts {
	/* model.md §8.1 limits; 0 disables each. */
	size_t max_profile_size_bytes; /* decompressed size
	                                  (max_profile_size_bytes) */
	size_t max_samples;            /* max_profile_stacktrace_samples */
	size_t max_sample_labels; /* max_profile_stacktrace_sample_labels */
	size_t max_stack_depth;   /* max_profile_stacktrace_depth (frames) */
	size_t max_symbol_length; /* max_profile_symbol_value_length (bytes) */
	const char *spy_name;     /* /ingest spyName, NULL = none */
	size_t max_decompressed;  /* hard gunzip cap; 0 = the default above */
} hearth_pprof_opts;

typedef struct hearth_pprof_result {
	/* The profile: sample types, period type/unit/period, time_nanos and
	 * duration_nanos are filled from the pprof (period_type/unit "" when
	 * absent; time_nanos 0 when absent: the caller applies "0 = now"). */
	hearth_upload *upload;
	size_t         decoded_bytes;     /* protobuf size after gunzip */
	size_t         n_samples;         /* samples in the pprof */
	size_t         dropped_negative;  /* samples with a value < 0 */
	size_t         dropped_zero;      /* samples whose values are all 0 */
	size_t         truncated_stacks;  /* samples cut to max_stack_depth */
	size_t         truncated_symbols; /* distinct names cut */
} hearth_pprof_result;

/*
 * Decode body[0..n) (gzip detected by magic, else raw protobuf) with opts
 * (NULL = no limits, no spy) into *res. On error *res is all zero and
 * err says why.
 */
int hearth_pprof_decode(hearth_arena *a, const void *body, size_t n,
    const hearth_pprof_opts *opts, hearth_pprof_result *res, hearth_err *err);

#endif
