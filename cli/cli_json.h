/*
 * cli_json: a small JSON reader (RFC 8259) for the answers hearth-cli gets
 * from a server: flamebearer renders, diffs, label lists and error bodies.
 *
 * The whole document is parsed into a tree of hearth_cli_json values that
 * live in the caller's arena. Objects keep their members in document
 * order (duplicate keys are kept; hearth_cli_json_get finds the first).
 * Strings are unescaped to UTF-8 and NUL-terminated (\u0000 is kept as a
 * byte, so use len); lone surrogates become U+FFFD. Numbers keep both an
 * exact int64 (when the literal is an integer that fits) and a double.
 *
 * Bounds: nesting deeper than HEARTH_CLI_JSON_MAX_DEPTH is an error, so a
 * hostile answer cannot exhaust the C stack; sizes are bounded by the
 * arena's cap. Anything after the value except whitespace is an error.
 *
 * Threading: stateless. Ownership: everything is in the arena.
 */
#ifndef HEARTH_CLI_JSON_H
#define HEARTH_CLI_JSON_H

#include "arena.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define HEARTH_CLI_JSON_MAX_DEPTH 256

typedef enum hearth_cli_json_type {
	HEARTH_CLI_JSON_NULL = 0,
	HEARTH_CLI_JSON_BOOL,
	HEARTH_CLI_JSON_NUMBER,
	HEARTH_CLI_JSON_STRING,
	HEARTH_CLI_JSON_ARRAY,
	HEARTH_CLI_JSON_OBJECT
} hearth_cli_json_type;

typedef struct hearth_cli_json hearth_cli_json;
struct hearth_cli_json {
	hearth_cli_json_type type;
	int                  boolean; /* BOOL */
	int                  is_int;  /* NUMBER: i is exact */
	int64_t              i;       /* NUMBER, when is_int */
	double               d;       /* NUMBER */
	const char          *s;       /* STRING */
	size_t               len;     /* STRING bytes */
	size_t               n;       /* ARRAY / OBJECT: members */
	hearth_cli_json     *items;   /* ARRAY / OBJECT: the values */
	const char         **keys;    /* OBJECT: the keys, unescaped */
	size_t              *key_lens;
};

/* Parse s[0..n). Errors: HEARTH_EINVAL "JSON: offset 17: expected ':'
 * after an object key" and the like, HEARTH_ELIMIT for the depth bound or
 * the arena cap, HEARTH_ENOMEM. */
int hearth_cli_json_parse(hearth_arena *a, const char *s, size_t n,
    hearth_cli_json **out, hearth_err *err);

/* The first member named key of an object; NULL when v is not an object
 * or has no such member. */
const hearth_cli_json *hearth_cli_json_get(
    const hearth_cli_json *v, const char *key);

#endif
