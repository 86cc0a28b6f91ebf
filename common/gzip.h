/*
 * gzip: sniff and decompress whole gzip bodies (RFC 1952) into arena
 * memory, with a hard cap on the decompressed size.
 *
 * Bodies here are untrusted uploads, so decoding is built around three
 * rules:
 *  (1) the output never exceeds max_out bytes: past it decoding stops with
 *      HEARTH_ETOOLARGE, whatever the stream claims;
 *  (2) no allocation size is taken from a length field: the gzip trailer's
 *      ISIZE is used only as a first-buffer hint, clamped to what deflate
 *      can possibly produce from the bytes actually present (1032:1) and to
 *      max_out; the buffer then doubles as real output arrives;
 *  (3) zlib's own state is allocated from the same arena, so the arena's
 *      byte cap bounds everything (HEARTH_ELIMIT when it is reached).
 * Concatenated members (`cat a.gz b.gz`) decode to the concatenation, like
 * gunzip and Go's gzip.Reader. Bytes after the last member that are not a
 * gzip member are an error rather than silently ignored.
 *
 * Threading: stateless; one call uses one arena, which is single-threaded.
 * Ownership: the output lives in the arena and dies with it.
 */
#ifndef HEARTH_GZIP_H
#define HEARTH_GZIP_H

#include "arena.h"
#include "err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True when p[0..n) starts with the gzip magic 1f 8b. */
bool hearth_gzip_is_gzip(const void *p, size_t n);

/*
 * Decompress the gzip body in[0..n) into arena memory: *out (not
 * NUL-terminated, may be NULL when *out_len is 0) and *out_len.
 * max_out is the hard cap on decompressed bytes (must be > 0).
 * Errors:
 *   HEARTH_EINVAL    "gzip: truncated stream" (input ends mid-member or is
 *                    empty), "gzip: corrupt data: <zlib message>" (bad
 *                    header, checksum, deflate data, or trailing bytes);
 *   HEARTH_ETOOLARGE "decompressed body exceeds <max_out> bytes";
 *   HEARTH_ELIMIT    "request memory limit reached (...)" when the arena
 *                    cap is hit.
 */
int hearth_gzip_decode(hearth_arena *a, const void *in, size_t n,
    size_t max_out, uint8_t **out, size_t *out_len, hearth_err *err);

#endif
