/*
 * otlp: OpenTelemetry profiles ingestion (otlp-profiles.md), pinned to
 * opentelemetry-proto v1.10.0 (proto/otlp_profiles.proto says how the pin
 * was verified). An ExportProfilesServiceRequest becomes pprof Profiles
 * built in memory, which then take the same road as a pushed pprof:
 *
 *   body ──gunzip──▶ bytes ──protobuf or proto3 JSON──▶ request
 *     ──hearth_otlp_convert──▶ pprof Profile + series labels, one per
 *        (profile × per-sample service.name)          (spec §4 steps 1-6)
 *     ──pack, hearth_pprof_decode with the tenant's limits (pprof.h),
 *        hearth_ingest_build_upload (ingest.h)──▶ one ingester push
 *
 * Building pprof and decoding it again costs a serialisation, and buys
 * the one validation, normalisation and limits path every other ingest
 * route uses (stack depth, symbol length, sample counts, profile size).
 *
 * Conversion (hearth_otlp_convert), for every profile of every scope of
 * every resource:
 *  1. samples are grouped by their own `service.name` attribute; samples
 *     without one form the resource-level group. Each group is one pprof;
 *  2. sample type, period type and period are copied; time 0 becomes
 *     now_ns and duration 0 becomes 10 s;
 *  3. stack_index → stack_table → location_table → lines →
 *     function_table → string_table become pprof Locations, Functions and
 *     Mappings, de-duplicated, id = position + 1; a mapping's has_* flags
 *     are true only when every location of it has that information;
 *     mapping_index 0 and link_index 0 mean "none". A sample's value is
 *     its one value, or the number of its timestamps when it has no
 *     values. Stacks deeper than max_stack_depth + 1 locations keep their
 *     root side only (pprof.h then cuts them to max_stack_depth frames
 *     and counts them: the extra location makes sure it sees the cut);
 *  4. sample attributes other than service.name (string or integer
 *     values, or a one-element array of those) become pprof string
 *     labels, which become series labels as on every route; a link
 *     becomes the labels span_id (16 hex digits, 8-byte ids) and trace_id
 *     (32 hex digits, 16-byte ids), which pprof.h keeps out of the series
 *     (the span id becomes the sample's span row, upload.h; the trace id
 *     is dropped);
 *  5. __name__: sample type samples/count with period type
 *     cpu/nanoseconds and a period > 0 → sample type cpu/nanoseconds, values ×
 *     period, "process_cpu" (the eBPF profiler); off_cpu/nanoseconds (or
 *     events/nanoseconds, its older name) with no period → "off_cpu";
 *     else the period type's name when there is one; else "process_cpu";
 *  6. series labels: __delta__="false", __otel__="true", __name__, the
 *     resource attributes, the scope attributes (first occurrence of a key
 *     wins; string and integer values only, or one-element arrays), then
 *     service_name = the group's service.name, else the resource's, else
 *     "unknown_service:<process.executable.name>", else
 *     "unknown_service". Keys keep their dots.
 *
 * Errors (err->msg is what the client reads; HTTP status in the result of
 * hearth_otlp_build): 400 for a body that does not decode, a missing
 * dictionary, any index out of range ("otlp: resource_profiles[0]
 * .scope_profiles[0].profiles[0].samples[3]: stack_index 9 out of range
 * (stack_table has 4 entries)"), a sample without values, invalid labels
 * or a profile refused by pprof.h's validation or limits; 413 when a body
 * or the request's generated profiles pass ingestion_body_limit_mb or the
 * request memory cap (HEARTH_ENOMEM from decode and convert); 415 for a
 * Content-Encoding other than gzip.
 *
 * Threading: pure functions (no clock: the caller passes now_ns).
 * Memory: everything, results included, lives in the caller's arena.
 */
#ifndef HEARTH_DISTRIBUTOR_OTLP_H
#define HEARTH_DISTRIBUTOR_OTLP_H

#include "arena.h"
#include "err.h"
#include "ingester.pb-c.h"
#include "labels.h"
#include "limits.h"
#include "otlp_profiles.pb-c.h"
#include "profile.pb-c.h"

#include <stddef.h>
#include <stdint.h>

typedef Opentelemetry__Proto__Profiles__V1development__ExportProfilesServiceRequest
    hearth_otlp_request;

/* One converted group: a pprof and the labels of its series. */
typedef struct hearth_otlp_pprof {
	Perftools__Profiles__Profile *profile;
	hearth_label *labels; /* sorted by name, unique names */
	size_t        n_labels;
	char          where[128]; /* "resource_profiles[0]...profiles[2]" */
} hearth_otlp_pprof;

/* Decode body[0..len) (already gunzipped) as protobuf, or proto3 JSON
 * when json (camelCase or original names; trace and span ids in hex or
 * base64). HEARTH_EINVAL "otlp: ..." when it does not decode. */
int hearth_otlp_decode(hearth_arena *a, const uint8_t *body, size_t len,
    int json, hearth_otlp_request **out, hearth_err *err);

/* Steps 1-6 of the header comment. max_samples and max_stack_depth are
 * the tenant's max_profile_stacktrace_samples and _depth (0 = none): a
 * group with more samples is refused before it is built (HEARTH_ELIMIT
 * naming the limit), deeper stacks are cut as step 3 says. On success
 * *out is an arena array of *n groups (0 when no profile has samples). */
int hearth_otlp_convert(hearth_arena *a, const hearth_otlp_request *req,
    int64_t now_ns, size_t max_samples, size_t max_stack_depth,
    hearth_otlp_pprof **out, size_t *n, hearth_err *err);

/* Pprofs with their series labels gathered into one ingester push: what
 * OTLP and Parca's WriteRaw hand to hearth_distributor_send. Zero it
 * before the first add. */
typedef struct hearth_otlp_acc {
	Hearth__Ingester__PushRequest *push; /* NULL while nothing to store */
	size_t                         cap_batches;
	size_t budget; /* decompressed bytes left (ingestion_body_limit_mb) */
	size_t decoded_bytes;
	size_t profiles; /* series profiles */
	size_t samples;
	size_t truncated_stacks;
	size_t truncated_symbols;
} hearth_otlp_acc;

/* Decode pprof[0..len) (gzip or raw) with the limits (pprof.h), check its
 * timestamp against the ingestion window (0 = now_ns), and add its series,
 * labelled with labels (need not be sorted; the control labels __delta__,
 * __otel__, __order__ and __session_id__ are dropped, service_name
 * defaults to "unknown_service", __name__ is required), to acc. The first
 * add sets acc->budget from ingestion_body_limit_mb. On error *status is
 * 400 or 413 and err says why. */
int hearth_otlp_acc_add(hearth_arena *a, hearth_otlp_acc *acc,
    const uint8_t *pprof, size_t len, const hearth_label *labels,
    size_t n_labels, const hearth_limits *lim, int64_t now_ns, int *status,
    hearth_err *err);

typedef struct hearth_otlp_params {
	int                  json;             /* body is application/json */
	const char          *content_encoding; /* NULL, identity or gzip */
	int64_t              now_ns;
	const hearth_limits *limits; /* the tenant's */
} hearth_otlp_params;

typedef struct hearth_otlp_result {
	hearth_otlp_acc acc;        /* acc.push: NULL = nothing to store */
	size_t          pprofs;     /* groups converted */
	size_t          body_bytes; /* request size after gunzip */
	int             status;     /* HTTP status on error */
	const char     *reason;     /* short metric label on error */
} hearth_otlp_result;

/* The whole request: gunzip, decode, convert, build the push. */
int hearth_otlp_build(hearth_arena *a, const hearth_otlp_params *p,
    const uint8_t *body, size_t len, hearth_otlp_result *res, hearth_err *err);

/* Serve POST /v1development/profiles and the OTLP/gRPC method path (with
 * the same HTTP bodies) on the distributor's HTTP server (otlp_http.c). */
struct hearth_distributor;
int hearth_otlp_routes(struct hearth_distributor *d, hearth_err *err);

#endif
