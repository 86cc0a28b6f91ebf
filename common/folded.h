/*
 * folded: the text formats of /ingest (ingest-http.md §5.1) into a
 * hearth_upload with one sample type and one group without labels.
 *
 *   folded ("groups", the default):  root;frame;...;leaf<SP><count>
 *   lines (format=lines):            root;frame;...;leaf     (count 1)
 *
 * Rules, per line (lines end at '\n'; a '\r' before it is dropped):
 *  1. folded: trailing spaces/tabs are trimmed (upstream would fail on
 *     them), then the line is split at its LAST space; a line without a
 *     space is skipped. The count must be a base-10 integer (optional
 *     sign, as Go's strconv.Atoi) that fits int64 and is >= 0, or the whole
 *     body is rejected. lines: empty and blank-only lines are skipped.
 *  2. Frames are separated by ';'; empty frames are skipped. A line whose
 *     frames are all empty is a sample of the empty stack.
 *  3. Every kept frame must be valid UTF-8 without NUL bytes.
 *  4. Limits (opts, 0 = none): frames past max_stack_depth are cut on the
 *     leaf side (root-side frames kept); a frame longer than
 *     max_symbol_length keeps its LAST bytes, starting on a character
 *     boundary so that it stays UTF-8; more than max_samples distinct
 *     stacks is an error naming max_profile_stacktrace_samples.
 *  5. Identical stacks (after truncation) add up; lines with count 0 are
 *     skipped (they carry nothing and must not count against the limit).
 * There is no line-length limit: the body is in memory already.
 *
 * The legacy binary formats of the same path (format=trie, format=tree)
 * are pre-order node lists, each node a uvarint (LEB128) name length, the
 * name bytes, a uvarint value and a uvarint child count, children after
 * their parent:
 *   trie: a node's name is appended to its parent's key (names are byte
 *         strings, not whole frames); a node with a value > 0 is a sample
 *         whose stack is its key read as folded ("a;b;c"). The first node
 *         is the root and counts like any other.
 *   tree: names are frames; a node's value is its self value, a sample of
 *         the stack from the root's child down to it (a name holding ';'
 *         is split, as upstream's tree path does). The first node is a
 *         synthetic root: its name and value are not a sample.
 * Their frames obey rules 2 to 5; bytes after the last node are an error
 * (so is a node cut short). Messages say "trie: node 7: ...".
 *
 * The caller fills sample_types, period and times of the result (the
 * profile type comes from the app-name suffix, §6) and scales counts.
 * Everything is allocated in the arena; the body is not referenced after
 * the call.
 */
#ifndef HEARTH_FOLDED_H
#define HEARTH_FOLDED_H

#include "arena.h"
#include "err.h"
#include "upload.h"

#include <stddef.h>

typedef struct hearth_folded_opts {
	size_t max_stack_depth;   /* frames kept per stack; 0 = no limit */
	size_t max_symbol_length; /* bytes kept per frame; 0 = no limit */
	size_t max_samples;       /* distinct stacks; 0 = no limit */
	/* Optional counters (may be NULL), incremented per line whose stack
	 * was cut to max_stack_depth and per frame cut to
	 * max_symbol_length, for the limits' metrics. */
	size_t *truncated_stacks;
	size_t *truncated_symbols;
} hearth_folded_opts;

/* What hearth_folded_parse reads. */
enum {
	HEARTH_FOLDED_GROUPS = 0, /* folded text, the default */
	HEARTH_FOLDED_LINES  = 1,
	HEARTH_FOLDED_TRIE   = 2,
	HEARTH_FOLDED_TREE   = 3,
};

/* Parse body[0..len) as mode (HEARTH_FOLDED_*); opts may be NULL (no
 * limits). On success *out has n_sample_types == 1 with sample_types ==
 * NULL for the caller to fill. Errors: HEARTH_EINVAL with "folded: line 7:
 * count \"abc\" is not an integer" and the like (named after the mode:
 * "lines:", "trie: node 3:", "tree: node 3:"), HEARTH_ELIMIT for
 * max_samples or the arena cap. */
int hearth_folded_parse(hearth_arena *a, const char *body, size_t len,
    int mode, const hearth_folded_opts *opts, hearth_upload **out,
    hearth_err *err);

#endif
