/*
 * fgexport: the merged function-name tree (fgtree.h) in the shapes the
 * Connect querier API answers with (connect-apis.md §4):
 *  - FlameGraph / FlameGraphDiff messages (§4.3, §4.4), laid out by
 *    flamebearer.h and copied into arena memory;
 *  - tree bytes (§4.5): depth first, each node as uvarint name length,
 *    name, uvarint self, uvarint child count, children following as whole
 *    subtrees, last child (in byte order of names) first; the first node
 *    is the root with an empty name;
 *  - a pprof Profile (SelectMergeProfile): one Function and one Location
 *    per distinct frame name (function id = location id), one Mapping
 *    (id 1, has_functions), one sample per tree node with a non-zero self
 *    whose location ids are the node's path leaf first, and one sample
 *    type. Reading it with `go tool pprof -top` gives, per function, the
 *    flat and cumulative values of the flame graph it came from;
 *  - the call-site filter of StackTraceSelector (§4.2): only the stacks
 *    whose root-first frames start with the given names.
 *
 * The tree holds only function names (docs/design.md §10), so the pprof
 * has no addresses, files or line numbers.
 *
 * Pure functions; the trees are only read. Messages and bytes live in the
 * arena (or the caller's buffer); a new tree is malloc-owned by the
 * caller. Every walk is iterative, so any depth is fine.
 */
#ifndef HEARTH_FGEXPORT_H
#define HEARTH_FGEXPORT_H

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "fgtree.h"
#include "profile.pb-c.h"
#include "querier.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* Lay out t (truncated to max_nodes, <= 0: none) as a FlameGraph. */
int hearth_fgexport_flamegraph(hearth_arena *a, const hearth_fgtree *t,
    int64_t max_nodes, Querier__V1__FlameGraph **out, hearth_err *err);

/* The diff of left and right as a FlameGraphDiff (negative values:
 * HEARTH_EINVAL, as flamebearer.h). */
int hearth_fgexport_flamegraph_diff(hearth_arena *a, const hearth_fgtree *left,
    const hearth_fgtree *right, int64_t max_nodes,
    Querier__V1__FlameGraphDiff **out, hearth_err *err);

/* Append the tree bytes of t (not truncated here) to out. An empty tree
 * (root only, self 0) gives 0 bytes. 0 or HEARTH_ENOMEM. */
int hearth_fgexport_tree_bytes(const hearth_fgtree *t, hearth_buf *out);

typedef struct hearth_fgexport_pprof_opts {
	const char *sample_type; /* e.g. "cpu" */
	const char *sample_unit; /* e.g. "nanoseconds" */
	const char *period_type; /* "" = no period type */
	const char *period_unit;
	int64_t     time_nanos;
	int64_t     duration_nanos;
} hearth_fgexport_pprof_opts;

/* The pprof Profile of t. Errors: HEARTH_ELIMIT (arena cap),
 * HEARTH_EINVAL when a self value is negative. */
int hearth_fgexport_pprof(hearth_arena *a, const hearth_fgtree *t,
    const hearth_fgexport_pprof_opts *o, Perftools__Profiles__Profile **out,
    hearth_err *err);

/* A new tree with only the stacks of t whose first n frames (root first)
 * are names[0..n): the path itself (selfs of its upper nodes dropped,
 * since those stacks end above the call site) and the whole subtree under
 * its last node. No such path: a tree with only the root. n == 0: a copy.
 * HEARTH_ENOMEM / HEARTH_ELIMIT. */
int hearth_fgexport_call_site(const hearth_fgtree *t, const char *const *names,
    size_t n, hearth_fgtree **out);

#endif
