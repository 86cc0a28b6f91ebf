/*
 * upload: one decoded, validated and normalised profile upload, the common
 * form every ingest codec (pprof, folded/lines) produces and the
 * distributor turns into ingester push batches.
 *
 *   strings[]      function names; strings[0] == "" (never a frame)
 *   stacks         frames[stack_off[i] .. stack_off[i+1]) are string ids,
 *                  ROOT FIRST; identical frame sequences are one stack id
 *                  (the builder de-duplicates them), so a stack id is a
 *                  stack's identity within the upload
 *   sample_types[] what each value column measures (type, unit)
 *   groups[]       samples sharing one set of string sample labels (pprof
 *                  labels other than trace_id/span_id); each group becomes
 *                  its own series. Within a group a stack appears at most
 *                  once (values are summed) and rows whose values are all
 *                  zero are dropped; values are >= 0.
 *   span rows      per group, a side table of the samples that carried a
 *                  span id (pprof label span_id, or profile_id renamed):
 *                  (stack, span id, values) summed per (stack, span id),
 *                  all-zero rows dropped. They are a breakdown of the
 *                  group's rows, not extra samples: a sample with a span
 *                  id is added to both, so totals read only the rows.
 *
 * Invariants: (1) stack_off[0] == 0, stack_off[n_stacks] == n_frames;
 * (2) every frame id < n_strings and != 0; (3) group row r has values
 * values[r * n_sample_types .. +n_sample_types), span row r likewise in
 * span_values; (4) span ids are != 0, and for every stack and sample type
 * the span rows' values sum to at most the group row's value.
 *
 * Ownership: everything lives in the arena passed to the builder; an upload
 * is request-scoped and dies with the arena.
 */
#ifndef HEARTH_UPLOAD_H
#define HEARTH_UPLOAD_H

#include "arena.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_upload_label {
	const char *name;
	const char *value;
} hearth_upload_label;

typedef struct hearth_upload_group {
	hearth_upload_label *labels; /* sorted by name, unique names */
	size_t		     n_labels;
	uint32_t	    *stacks; /* n_rows stack ids */
	int64_t		    *values; /* n_rows * n_sample_types */
	size_t		     n_rows;
	uint32_t	    *span_stacks; /* n_span_rows stack ids */
	uint64_t	    *span_ids;	  /* n_span_rows, != 0 */
	int64_t		    *span_values; /* n_span_rows * n_sample_types */
	size_t		     n_span_rows;
} hearth_upload_group;

typedef struct hearth_upload_type {
	const char *type; /* e.g. "cpu" */
	const char *unit; /* e.g. "nanoseconds" */
} hearth_upload_type;

typedef struct hearth_upload {
	const char **strings;
	uint32_t    *string_lens;
	size_t	     n_strings;

	uint32_t *frames;
	size_t	  n_frames;
	uint32_t *stack_off; /* n_stacks + 1 entries */
	size_t	  n_stacks;

	hearth_upload_type *sample_types;
	size_t		    n_sample_types;
	const char	   *period_type; /* "" when the profile has none */
	const char	   *period_unit;
	int64_t		    period;

	int64_t time_nanos; /* 0 = not given by the format */
	int64_t duration_nanos;

	hearth_upload_group *groups;
	size_t		     n_groups;
} hearth_upload;

/* Sum of one sample type's values over every group; saturates at
 * INT64_MAX. */
int64_t hearth_upload_total(const hearth_upload *u, size_t type_index);

/*
 * Builder: codecs intern strings, add stacks and rows, then finish.
 * All memory comes from the arena; an allocation failure or the arena cap
 * turns into HEARTH_ELIMIT with a message naming the cap.
 */
typedef struct hearth_upload_builder hearth_upload_builder;

int hearth_upload_builder_new(hearth_arena *a, size_t n_sample_types,
    hearth_upload_builder **out, hearth_err *err);
/* Intern s[0..len) as a function name; returns its id (> 0) in *id.
 * An empty name is HEARTH_EINVAL "empty function name in a stack frame":
 * id 0 is reserved for "" and never a frame. */
int hearth_upload_builder_string(hearth_upload_builder *b, const char *s,
    size_t len, uint32_t *id, hearth_err *err);
/* Intern a root-first frame sequence (string ids from _string); returns
 * the stack id. n may be 0 (an empty stack is kept as its own stack). */
int hearth_upload_builder_stack(hearth_upload_builder *b,
    const uint32_t *frames, size_t n, uint32_t *stack_id, hearth_err *err);
/* Add values (n_sample_types of them, all >= 0) for a stack to the group
 * with these sample labels (labels need not be sorted; they are copied;
 * of repeated names the last one wins). Rows for the same (group, stack)
 * are summed; a sum past INT64_MAX is HEARTH_EINVAL. */
int hearth_upload_builder_add(hearth_upload_builder *b,
    const hearth_upload_label *labels, size_t n_labels, uint32_t stack_id,
    const int64_t *values, hearth_err *err);
/* hearth_upload_builder_add with the sample's span id (0 = none: then it
 * is exactly _add). A span id also adds the values to the group's span
 * row of (stack_id, span_id). */
int hearth_upload_builder_add_span(hearth_upload_builder *b,
    const hearth_upload_label *labels, size_t n_labels, uint32_t stack_id,
    uint64_t span_id, const int64_t *values, hearth_err *err);
/* The two halves of _add_span, for codecs that can tell two samples have
 * the same labels more cheaply than by the strings (pprof: the same
 * string-table indexes): _group finds or creates the group of these
 * labels and returns its index (stable until _finish); _add_row adds the
 * row (and span row) to group index g, as _add_span would. */
int hearth_upload_builder_group(hearth_upload_builder *b,
    const hearth_upload_label *labels, size_t n_labels, uint32_t *g,
    hearth_err *err);
int hearth_upload_builder_add_row(hearth_upload_builder *b, uint32_t g,
    uint32_t stack_id, uint64_t span_id, const int64_t *values,
    hearth_err *err);
/* A span id label value: 1 to 16 hex digits (either case) parsed as a
 * big-endian number into *out (so "00000000000000ab" and "ab" are the
 * same span). 0 when valid, -1 otherwise (empty, more than 16 digits or
 * not hex): the caller then treats the sample as having no span, since
 * no span selector (16 hex digits) could name such a value. "0" parses to
 * 0, which is "no span" too. */
int hearth_upload_span_parse(const char *s, uint64_t *out);
/* Produce the upload. All-zero rows are dropped, and so are groups left
 * with no rows. The caller then fills sample_types, period and times (the
 * builder leaves them zero/empty, period_type/unit ""). */
int hearth_upload_builder_finish(hearth_upload_builder *b,
    hearth_upload **out, hearth_err *err);

#endif
