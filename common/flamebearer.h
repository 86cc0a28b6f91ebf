/*
 * flamebearer: lays an fgtree out as flame graph levels (connect-apis.md
 * §4.3 single, §4.4 diff) and writes the flamebearer JSON of
 * render-http.md §4 and §6.
 *
 * A hearth_flamebearer is the laid-out graph, in the shape of the Connect
 * FlameGraph / FlameGraphDiff messages:
 *  - names: distinct strings, index 0 = "total", in first-visit order of a
 *    depth-first pre-order walk that visits the LAST child first;
 *  - values: every level's groups back to back, level k being
 *    values[level_off[k] .. level_off[k+1]); a group is
 *    [x_delta, total, self, name_index] (width 4) or, for a diff,
 *    [xL_delta, totalL, selfL, xR_delta, totalR, selfR, name_index]
 *    (width 7); groups of a level are in ascending x, x delta-encoded
 *    against the end of the previous group of the same level;
 *  - layout: a node spans [x, x + total); its own self comes first, then
 *    its children in byte order of their names;
 *  - level 0 is the synthetic root "total" (its self is the tree root's
 *    self, normally 0).
 *
 * Truncation (max_nodes > 0; <= 0 means none):
 *  - single: when the tree has more than max_nodes nodes besides the root,
 *    the threshold is the max_nodes-th largest node total, else 0. Under
 *    every node, children below the threshold and, always, a child
 *    literally named "other" (upstream does this so an already-truncated
 *    tree folds again cleanly) are replaced by one child "other" with
 *    self = total = their summed totals, placed after the kept children,
 *    emitted when that sum is not 0;
 *  - diff: the two trees are first made structurally identical (a name on
 *    one side only gets an empty node on the other); when the union tree
 *    (root included) has more than max_nodes nodes, the threshold is the
 *    max_nodes-th largest max(totalL, totalR); a pair is kept when either
 *    side reaches it, dropped pairs are summed per side into an "other"
 *    pair, emitted when either sum is not 0. A real "other" is not folded
 *    specially here (upstream's diff does not).
 * The result can slightly exceed max_nodes (ties, "other" nodes).
 *
 * Everything is iterative (explicit stack and queue), so stacks of any
 * depth are fine. Cost: O(n log n) for sorting children by name, then
 * O(n). Memory: about 50 bytes of scratch per tree node while building
 * (twice that for a diff's union), and 36 (single) or 60 (diff) bytes per
 * emitted node in the result. A 100k-node tree lays out in ~15 ms.
 *
 * Ownership: a hearth_flamebearer is malloc-owned (hearth_flamebearer_
 * free). names[] point into the trees it was built from (or to static
 * "total"/"other"): the trees must outlive it and stay unchanged.
 * Building only reads the trees, so several threads may lay out the same
 * tree at once.
 */
#ifndef HEARTH_FLAMEBEARER_H
#define HEARTH_FLAMEBEARER_H

#include "buf.h"
#include "err.h"
#include "fgtree.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_flamebearer {
	int	     diff;	 /* 0: width 4, 1: width 7 */
	size_t	     width;	 /* int64 values per group: 4 or 7 */
	size_t	     n_names;
	const char **names;	 /* borrowed, not NUL-terminated */
	size_t	    *name_lens;
	size_t	     n_levels;	 /* >= 1 */
	size_t	    *level_off;	 /* n_levels + 1 offsets into values */
	int64_t	    *values;
	int64_t	     total;	 /* single: root total; diff: left + right */
	int64_t	     max_self;	 /* max self over emitted nodes, >= 0 */
	int64_t	     left_ticks; /* diff only (0 for single) */
	int64_t	     right_ticks;
} hearth_flamebearer;

/* Lay out one tree. -HEARTH_ENOMEM, or -HEARTH_ELIMIT when the tree is
 * too large to lay out (more than 2^31 nodes). */
int hearth_flamebearer_new(const hearth_fgtree *t, int64_t max_nodes,
    hearth_flamebearer **out, hearth_err *err);

/* Lay out the diff of two trees. Negative values in either tree give
 * -HEARTH_EINVAL (a diff of negative values has no layout). */
int hearth_flamebearer_new_diff(const hearth_fgtree *left,
    const hearth_fgtree *right, int64_t max_nodes, hearth_flamebearer **out,
    hearth_err *err);

void hearth_flamebearer_free(hearth_flamebearer *fb); /* NULL is a no-op */

/* Append {"names":[...],"levels":[[...],...],"numTicks":N,"maxSelf":M}
 * (numbers as JSON numbers). 0 or -HEARTH_ENOMEM when out failed. */
int hearth_flamebearer_write_json(const hearth_flamebearer *fb,
    hearth_buf *out);

/* new + write_json + free, for render (render-http.md §4). */
int hearth_flamebearer_single(const hearth_fgtree *t, int64_t max_nodes,
    hearth_buf *out, hearth_err *err);

/* new_diff + write_json + free, for render-diff (render-http.md §6); the
 * caller writes leftTicks/rightTicks at the top level from the out
 * parameters (either may be NULL). */
int hearth_flamebearer_diff(const hearth_fgtree *left,
    const hearth_fgtree *right, int64_t max_nodes, hearth_buf *out,
    int64_t *left_ticks, int64_t *right_ticks, hearth_err *err);

#endif
