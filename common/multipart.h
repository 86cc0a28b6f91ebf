/*
 * multipart: multipart/form-data (RFC 7578 over RFC 2046) over a whole
 * in-memory body, as the /ingest pprof and JFR paths receive it
 * (ingest-http.md §5.2, §5.4, §9).
 *
 *   [preamble]
 *   --B CRLF headers CRLF CRLF data CRLF
 *   --B CRLF headers CRLF CRLF data CRLF
 *   --B-- [epilogue]
 *
 * What is accepted: CRLF or bare LF line endings (also mixed); transport
 * padding (spaces, tabs) after a delimiter; a preamble before the first
 * delimiter and an epilogue after the closing one (both ignored); a
 * delimiter straight after the header block (an empty part, as Go's
 * reader allows); folded (continued) header lines; header names in any
 * case. A "--B" inside the data that is not followed by "--", blanks and a
 * line end is data, not a delimiter.
 *
 * What is rejected (HEARTH_EINVAL, messages start with "multipart: "): no
 * delimiter at all, a body that ends before the closing delimiter
 * ("multipart: missing closing boundary"), a header block without its
 * empty line or over HEARTH_MULTIPART_MAX_HEADER bytes, a header line
 * without ':', a part without Content-Disposition or without a name
 * parameter, more than HEARTH_MULTIPART_MAX_PARTS parts.
 *
 * Ownership: part data points into the caller's body (zero-copy, valid as
 * long as the body); names, filenames and content types are arena copies.
 * Pure functions, thread-safe.
 */
#ifndef HEARTH_MULTIPART_H
#define HEARTH_MULTIPART_H

#include "arena.h"
#include "err.h"

#include <stddef.h>

#define HEARTH_MULTIPART_MAX_PARTS 64
#define HEARTH_MULTIPART_MAX_HEADER (16 * 1024) /* bytes per part */
/* RFC 2046 says 70; Go's reader (what upstream runs) takes longer ones. */
#define HEARTH_MULTIPART_MAX_BOUNDARY 200

typedef struct hearth_multipart_part {
	const char *name;         /* Content-Disposition name, never NULL */
	const char *filename;     /* NULL when there is no filename param */
	const char *content_type; /* NULL when there is no Content-Type */
	const char *data;         /* into the body; not NUL-terminated */
	size_t      len;
} hearth_multipart_part;

/* The boundary parameter of a Content-Type header such as
 * `multipart/form-data; boundary=abc` or `...; boundary="a b:c"`.
 * *boundary points into content_type (zero-copy) with length *len. Errors
 * (HEARTH_EINVAL): content_type NULL or not multipart/..., malformed
 * parameters, no boundary parameter, empty or longer than
 * HEARTH_MULTIPART_MAX_BOUNDARY, a quoted boundary with a backslash
 * escape or a control character. */
int hearth_multipart_boundary(const char *content_type, const char **boundary,
    size_t *len, hearth_err *err);

/* Parse body[0..len) with the given boundary into an arena array of parts
 * in body order (*parts NULL and *n 0 for a body with no parts, i.e. only
 * a closing delimiter). HEARTH_ELIMIT when the arena cap is reached. */
int hearth_multipart_parse(hearth_arena *a, const char *body, size_t len,
    const char *boundary, size_t blen, hearth_multipart_part **parts,
    size_t *n, hearth_err *err);

#endif
