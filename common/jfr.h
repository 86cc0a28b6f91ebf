/*
 * jfr: JDK Flight Recorder recordings to uploads (ingest-http.md §5.4: what
 * pyroscope-java and Alloy's Java profiling send with format=jfr).
 *
 * A recording is one or more chunks. A chunk has a header (times, the
 * ticks-per-second of its clock), one metadata event that describes every
 * type (classes, their fields and field types), checkpoint events holding
 * constant pools (symbols, classes, methods, stack traces; events refer to
 * them by key), and the events. The reader is driven by the metadata: it
 * never assumes a field's position, so a JDK or async-profiler that adds or
 * reorders fields is read the same way, and anything it does not use is
 * skipped by its declared type.
 *
 * Each kind of event becomes one profile (model.md §2, Java):
 *
 *   event                              __name__     sample types
 *   jdk.ExecutionSample                process_cpu  cpu:nanoseconds
 *   profiler.WallClockSample           wall         wall:nanoseconds
 *   jdk.ObjectAllocationInNewTLAB      memory       alloc_in_new_tlab_objects:count, alloc_in_new_tlab_bytes:bytes
 *   jdk.ObjectAllocationOutsideTLAB    memory       alloc_outside_tlab_objects:count, alloc_outside_tlab_bytes:bytes
 *   jdk.ObjectAllocationSample         memory       alloc_sample_objects:count, alloc_sample_bytes:bytes
 *   profiler.LiveObject                memory       live:count
 *   jdk.JavaMonitorEnter               mutex        contentions:count, delay:nanoseconds
 *   jdk.ThreadPark                     block        contentions:count, delay:nanoseconds
 *   profiler.Malloc                    memory       malloc_objects:count, malloc_bytes:bytes
 *
 * cpu and wall samples are worth 1e9 / sample_rate nanoseconds each; the
 * byte counts are the events' tlabSize, allocationSize, weight and size
 * fields, delays their durations in nanoseconds. The recording's
 * async-profiler "event" setting (jdk.ActiveSetting) is reported too. Frames are
 * "<class>.<method>" with the class name as the JVM writes it
 * ("java/lang/Thread.run"), root first. An event's contextId (async-
 * profiler's, set by pyroscope-java's dynamic labels) selects the labels
 * of the upload's `labels` part: samples with the same labels form one
 * group, i.e. one series.
 *
 * Limits: the recording is untrusted. Every read is bounds-checked, nested
 * values are at most JFR_MAX_DEPTH deep, array counts cannot exceed the
 * bytes left, and max_samples / max_stack_depth / max_symbol_length apply
 * as they do to pprof (pprof.h). Errors are HEARTH_EINVAL "jfr: ..." with
 * the offset, or HEARTH_ELIMIT naming the limit.
 *
 * Memory: everything (profiles, uploads, strings) lives in the arena.
 */
#ifndef HEARTH_JFR_H
#define HEARTH_JFR_H

#include "arena.h"
#include "err.h"
#include "upload.h"

#include <stddef.h>
#include <stdint.h>

/* The labels of every context id, from the `labels` part. */
typedef struct hearth_jfr_contexts hearth_jfr_contexts;

/* Decode a LabelsSnapshot (protobuf, gzip'd or not). HEARTH_EINVAL when
 * it is not one, or names a string id it does not hold. */
int hearth_jfr_contexts_decode(hearth_arena *a, const uint8_t *data,
    size_t len, size_t max_decompressed, hearth_jfr_contexts **out,
    hearth_err *err);

typedef struct hearth_jfr_opts {
	int64_t sample_rate; /* Hz of cpu and wall sampling; <= 0: 100 */
	size_t	max_samples; /* events of one kind; 0 = no limit */
	size_t	max_stack_depth;
	size_t	max_symbol_length;
	size_t	max_decompressed; /* gunzip output cap; 0 = 256 MiB */
	const hearth_jfr_contexts *contexts; /* NULL: no labels part */
} hearth_jfr_opts;

typedef struct hearth_jfr_profile {
	const char    *event; /* JFR event type, e.g. "jdk.ExecutionSample" */
	const char    *name;  /* __name__ */
	hearth_upload *upload;
	size_t	       samples; /* events stored (upload rows are distinct
				   stacks per label set) */
} hearth_jfr_profile;

typedef struct hearth_jfr_result {
	hearth_jfr_profile *profiles; /* kinds with at least one sample */
	size_t		    n_profiles;
	size_t		    decoded_bytes; /* recording size after gunzip */
	/* The profiler's "event" setting (async-profiler's -e: "cpu",
	 * "itimer", "wall", ...; a jdk.ActiveSetting event), or NULL: a JDK
	 * recording has none. Upstream's jfr_event label. */
	const char *event_mode;
	size_t		    truncated_stacks;
	size_t		    truncated_symbols;
	/* What no constant pool resolved (a recording cut while written):
	 * samples whose stack trace is in none, frames whose method is in
	 * none. Left out, as upstream's reader does. */
	size_t dropped_samples;
	size_t dropped_frames;
} hearth_jfr_result;

/* Decode a recording (gzip'd or not) into one profile per event kind
 * present. Time and duration of every upload are the chunks' span. */
int hearth_jfr_decode(hearth_arena *a, const uint8_t *data, size_t len,
    const hearth_jfr_opts *o, hearth_jfr_result *res, hearth_err *err);

#endif
