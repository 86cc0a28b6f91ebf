/*
 * ingest: turns one legacy `POST /ingest` request (ingest-http.md) into an
 * ingester PushRequest. Pure: no I/O, no clock (the caller passes `now`),
 * so it is unit-tested without a server.
 *
 *   query params + body ──decode──▶ hearth_upload (pprof or folded/lines)
 *        ──series──▶ one SeriesProfile per (sample-label group × sample type)
 *                    with the final sorted labels of model.md §3
 *
 * hearth_ingest_build_upload is the second arrow alone, for uploads that
 * were decoded elsewhere (scraped profiles, scrape.h), so pulled and
 * pushed profiles become series the same way.
 *
 * Profile types: folded/lines take theirs from the app-name suffix
 * (ingest-http.md §6); pprof from its sample types with one `__name__` per
 * upload (§7). Each SeriesProfile gets a fresh random 16-byte id.
 *
 * Errors carry the HTTP status to answer with (`status`): 400 for a bad
 * `name`, suffix, format or parameter; 413 for sizes; 422 for bodies that
 * fail to parse or validate (upstream's convention); the message says why.
 *
 * Memory: everything, including the returned request, lives in the arena.
 */
#ifndef HEARTH_DISTRIBUTOR_INGEST_H
#define HEARTH_DISTRIBUTOR_INGEST_H

#include "arena.h"
#include "err.h"
#include "ingester.pb-c.h"
#include "labels.h"
#include "limits.h"
#include "upload.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_ingest_params {
	const char *name;	      /* required */
	const char *from;	      /* NULL = now */
	const char *until;	      /* NULL = now */
	const char *format;	      /* NULL = dispatch on content type */
	const char *spy_name;	      /* NULL = "unknown" */
	const char *sample_rate;      /* NULL = 100 */
	const char *content_type;     /* request header, may be NULL */
	const char *content_encoding; /* request header, may be NULL */
	int64_t	    now_ns;
	const hearth_limits *limits;
} hearth_ingest_params;

typedef struct hearth_ingest_result {
	Hearth__Ingester__PushRequest *push; /* NULL when nothing to store */
	size_t	profiles;		     /* series profiles built */
	size_t	samples;		     /* (stack, value) pairs */
	size_t	decoded_bytes;		     /* body size after gunzip */
	size_t	truncated_stacks;  /* cut to max_profile_stacktrace_depth */
	size_t	truncated_symbols; /* cut to max_profile_symbol_value_length */
	size_t	unresolved_samples; /* JFR: left out, their stack trace in no
				     * constant pool of the recording */
	int	status;			     /* HTTP status on error */
	const char *reason;		     /* short metric label on error */
} hearth_ingest_result;

/* Build the push request. On error returns a negative code, fills err and
 * res->status/res->reason. A body that holds nothing to store (empty
 * profile, all-zero samples, multipart without `profile`) succeeds with
 * res->push == NULL, as upstream answers 200. */
int hearth_ingest_build(hearth_arena *a, const hearth_ingest_params *p,
    const uint8_t *body, size_t len, hearth_ingest_result *res,
    hearth_err *err);

/* Build the push request for an upload that is already decoded (a
 * scraped pprof, scrape.h) exactly as hearth_ingest_build does for a
 * pushed one: one SeriesProfile per (sample-label group × sample type)
 * with a value > 0, labelled with the group's labels, then `labels` (which
 * win over group labels of the same name), then the profile type labels
 * derived from __name__ and the sample type; each with a fresh random id,
 * at time_ns for duration_ns. labels need not be sorted and must include
 * service_name and __name__. Label errors (HEARTH_EINVAL, HEARTH_ELIMIT)
 * start with "invalid series labels" and set res->status 422. An upload
 * with nothing to store succeeds with res->push == NULL. */
int hearth_ingest_build_upload(hearth_arena *a, const hearth_upload *u,
    const hearth_label *labels, size_t n_labels, int64_t time_ns,
    int64_t duration_ns, const hearth_limits *limits,
    hearth_ingest_result *res, hearth_err *err);

#endif
