/*
 * json: the part of reading JSON strings every hearth JSON reader shares
 * (pbjson for protobuf JSON, stconfig for sample-type configs, the CLI's
 * reader for API answers): decoding the body of a string literal, escapes
 * and \u code points (surrogate pairs joined) into UTF-8.
 *
 * Each reader keeps its own grammar, limits and error wording; this module
 * only says what went wrong and where, so the three cannot disagree on
 * what a string means. No allocation: the caller passes the output buffer
 * (escapes never make text longer, so n + 1 bytes always suffice).
 */
#ifndef HEARTH_JSON_H
#define HEARTH_JSON_H

#include <stddef.h>
#include <stdint.h>

/* What hearth_json_unescape found wrong. */
enum {
	HEARTH_JSON_STR_OK	= 0,
	HEARTH_JSON_STR_CONTROL = 1, /* raw byte < 0x20: at the byte */
	HEARTH_JSON_STR_ESCAPE	= 2, /* \ then not one of "\/bfnrtu: at
				      * the byte after the backslash (n
				      * when the body ends in a lone \) */
	HEARTH_JSON_STR_UNICODE = 3, /* \u without 4 hex digits: at the u */
	HEARTH_JSON_STR_NUL	= 4, /* \u0000 with HEARTH_JSON_NO_NUL: just
				      * past it */
};

/* Flags of hearth_json_unescape. */
#define HEARTH_JSON_NO_NUL 1u /* \u0000 is an error (C-string readers) */

/*
 * Decode raw[0..n), the text between a string literal's quotes, into out
 * (room for n + 1 bytes), NUL-terminated; *out_len is the decoded length.
 * out may be NULL to only check the string (a reader skipping a value).
 * A lone surrogate becomes U+FFFD (as Go's encoding/json does); \u0000
 * decodes to a NUL byte unless flags has HEARTH_JSON_NO_NUL. Raw bytes are
 * copied as they are (UTF-8 validity is the caller's check). Returns
 * HEARTH_JSON_STR_OK or a code above with *bad_at, an offset into raw.
 */
int hearth_json_unescape(const char *raw, size_t n, unsigned flags,
    char *out, size_t *out_len, size_t *bad_at);

/* The four hex digits at p as a value: 0, or -1 when one is not hex. */
int hearth_json_hex4(const char *p, uint32_t *out);

#endif
