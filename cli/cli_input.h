/*
 * cli_input: what `hearth-cli upload` checks before it sends a file, so a
 * wrong file fails on the user's machine with a reason (exit code 4)
 * instead of as a 4xx from the server.
 *
 * Sniffing (format AUTO), after gunzipping a gzip file (magic 1f 8b):
 *   - text: no byte below 0x20 other than tab, CR and LF, and no 0x7f.
 *     Text is folded ("a;b;c 12" per line, the /ingest default);
 *   - a JDK Flight Recorder recording starts with the magic "FLR\0";
 *   - anything else is taken for a pprof (perftools.profiles.Profile):
 *     its encoding always holds such bytes (field tags 0x08, 0x10, ...).
 * "lines" (one stack per line, count 1) is never guessed: a text file
 * that yields no folded sample is an error that suggests --format lines.
 * Nor are "trie" and "tree", old agents' binary formats without a magic
 * (they would be read as a pprof and fail there): --format names them.
 *
 * Validation decodes the whole file with hearth's own codecs (common/
 * pprof.h, common/jfr.h, common/folded.h, no limits: the server applies
 * its own), so
 * what passes here parses on the server too. The file itself is sent
 * unchanged (gzip included).
 *
 * Ownership: decoded data lives in the caller's arena. Stateless.
 */
#ifndef HEARTH_CLI_INPUT_H
#define HEARTH_CLI_INPUT_H

#include "arena.h"
#include "err.h"

#include <stddef.h>

/* Largest gunzipped file accepted (the server's default body limit is
 * 256 MiB; this only stops a gzip bomb on the client). */
#define HEARTH_CLI_INPUT_MAX_GUNZIP ((size_t) 1 << 30)

typedef enum hearth_cli_format {
	HEARTH_CLI_FORMAT_AUTO = 0,
	HEARTH_CLI_FORMAT_PPROF,
	HEARTH_CLI_FORMAT_FOLDED,
	HEARTH_CLI_FORMAT_LINES,
	HEARTH_CLI_FORMAT_JFR,
	HEARTH_CLI_FORMAT_SPEEDSCOPE,
	/* Old agents' binary formats: no magic, never sniffed. */
	HEARTH_CLI_FORMAT_TRIE,
	HEARTH_CLI_FORMAT_TREE
} hearth_cli_format;

typedef struct hearth_cli_input {
	hearth_cli_format format;  /* never AUTO after a check */
	int               gzip;    /* the file is gzip-compressed */
	size_t            samples; /* pprof samples, distinct text stacks,
	                            * JFR events turned into samples, or
	                            * speedscope samples / intervals */
	size_t            types;   /* sample types (1 for text; JFR: profile
	                            * kinds; speedscope: profiles) */
} hearth_cli_input;

/* "pprof", "folded", "lines", "jfr", "speedscope" or "auto". */
const char *hearth_cli_input_name(hearth_cli_format f);

/* Parse a --format value; 0, or HEARTH_EINVAL naming the choices. */
int hearth_cli_input_format(
    const char *s, hearth_cli_format *out, hearth_err *err);

/* Sniff (forced AUTO) and validate data[0..n). Errors are HEARTH_EINVAL
 * with the reason: "the file is empty", "not a valid gzip file: ...",
 * "not a pprof profile nor folded text: pprof: malformed protobuf ...",
 * "folded: line 3: count \"x\" is not an integer", "no samples: ...";
 * HEARTH_ELIMIT/ENOMEM when memory runs out. */
int hearth_cli_input_check(hearth_arena *a, const void *data, size_t n,
    hearth_cli_format forced, hearth_cli_input *out, hearth_err *err);

#endif
