/*
 * ingest: turns one legacy `POST /ingest` request (ingest-http.md) into an
 * ingester PushRequest. Pure: no I/O, no clock (the caller passes `now`),
 * so it is unit-tested without a server.
 *
 *   query params + body ──decode──▶ hearth_upload (pprof or folded/lines)
 *        ──series──▶ one SeriesProfile per (sample-label group × sample type)
 *                    with the final sorted labels of model.md §3
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
#include "limits.h"

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

#endif
