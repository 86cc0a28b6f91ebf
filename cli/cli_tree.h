/*
 * cli_tree: a flame graph as hearth-cli reads it back from a server's
 * flamebearer answer (render-http.md §4, §6; the layout is written by
 * common/flamebearer.h), plus what the CLI computes from it: per-function
 * totals (the top table, diffs) and folded lines (export).
 *
 * Decoding. `levels` holds one array per depth; a group is
 * [x_delta, total, self, name] (single) or [xL_delta, totalL, selfL,
 * xR_delta, totalR, selfR, name] (diff), x delta-encoded against the end
 * of the previous group of the same level. A node spans [x, x + total) on
 * each side and lies inside its parent's span on every side; groups of a
 * level are in ascending x, so the children of one parent are consecutive
 * and one forward walk over two adjacent levels pairs every node with its
 * parent. A node of zero width on one side (a diff node present on the
 * other side only) is placed by the side where it has width.
 *
 * Invariants of a decoded tree:
 *  (1) node 0 is the root ("total" in names[0]); parent(i) < i for i > 0
 *      (level order), and nodes[i].depth = nodes[parent].depth + 1;
 *  (2) the children of node i are nodes[first_child .. first_child +
 *      n_children), in the answer's layout order (by name);
 *  (3) totals and selves are >= 0 (negative values are rejected).
 * A single graph uses side 0 only; a diff has left = side 0, right = 1.
 *
 * Per-function totals count a function once per stack, so a recursive
 * function (a;b;a) is not counted twice; selves add up everywhere.
 *
 * Ownership: everything lives in the caller's arena; names point into the
 * parsed JSON (same arena or one that outlives the tree). Stateless.
 */
#ifndef HEARTH_CLI_TREE_H
#define HEARTH_CLI_TREE_H

#include "arena.h"
#include "buf.h"
#include "cli_json.h"
#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define HEARTH_CLI_NO_PARENT UINT32_MAX

typedef struct hearth_cli_node {
	uint32_t parent; /* HEARTH_CLI_NO_PARENT for the root */
	uint32_t name;   /* index into names */
	uint32_t depth;  /* root 0 */
	uint32_t first_child;
	uint32_t n_children;
	int64_t  total[2]; /* [0] single or left, [1] right */
	int64_t  self[2];
} hearth_cli_node;

typedef struct hearth_cli_tree {
	int              diff; /* 1: two sides */
	size_t           n_names;
	const char     **names;
	size_t          *name_lens;
	size_t           n_nodes; /* >= 1 */
	hearth_cli_node *nodes;
} hearth_cli_tree;

/* Decode the "flamebearer" object of a render (diff = 0) or render-diff
 * (diff = 1) answer. An answer without levels gives a root-only tree with
 * zero totals. Errors: HEARTH_EINVAL "flamebearer: level 3 has 10 numbers,
 * not a multiple of 4" and the like, HEARTH_ELIMIT for the arena cap. */
int hearth_cli_tree_decode(hearth_arena *a, const hearth_cli_json *fb,
    int diff, hearth_cli_tree **out, hearth_err *err);

/* One function (a distinct name) of a tree. */
typedef struct hearth_cli_fn {
	const char *name;
	size_t      len;
	int64_t     self[2];
	int64_t     total[2];
} hearth_cli_fn;

/* Sort keys of hearth_cli_tree_sort. */
enum {
	HEARTH_CLI_SORT_SELF = 0,   /* self of side 0, descending */
	HEARTH_CLI_SORT_TOTAL,      /* total of side 0, descending */
	HEARTH_CLI_SORT_SELF_DELTA, /* self[1] - self[0], descending */
	HEARTH_CLI_SORT_TOTAL_DELTA /* total[1] - total[0], descending */
};

/* Every function of the tree except the root (in no particular order);
 * *n may be 0. Functions named like the root ("total") or "other" are
 * ordinary functions here. */
int hearth_cli_tree_functions(hearth_arena *a, const hearth_cli_tree *t,
    hearth_cli_fn **out, size_t *n, hearth_err *err);

/* Sort by key; ties by the other value of the same side (total for self
 * and the reverse), then by name bytes ascending, so the order is fixed. */
void hearth_cli_tree_sort(hearth_cli_fn *f, size_t n, int key);

/* Append side 0 as folded text: one "root;...;leaf value" line per node
 * with a non-zero self, sorted by bytes. The root's own self (samples of
 * the empty stack) has no folded form and is left out. */
int hearth_cli_tree_folded(hearth_arena *a, const hearth_cli_tree *t,
    hearth_buf *out, hearth_err *err);

#endif
