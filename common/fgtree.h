/*
 * fgtree: a call tree keyed by function name, the flame graph before
 * layout (connect-apis.md §4.3 step 1). Ingesters build one per query from
 * their stacks; the querier merges the partial trees and hands the result
 * to flamebearer (JSON / levels) or to the tree-bytes and pprof encoders.
 *
 * Layout: one array of nodes {parent, name id, self}; node 0 is the root,
 * whose name is "". Names are interned in a byte pool (one copy per
 * distinct name, found through an open-addressing hash of the bytes,
 * XXH3), and children are found through a second open-addressing hash on
 * (parent, name id) -> node, so adding a frame is two probes, no string
 * compare after the first intern, and no per-node child list.
 *
 * Invariants:
 *  (1) parent(i) < i for every node i > 0: a node is always added after
 *      its parent. One forward pass therefore meets parents before their
 *      children, and one backward pass folds totals up (hearth_fgtree_
 *      totals), with no recursion however deep the stacks are;
 *  (2) (parent, name) is unique: equal names under one parent are one
 *      node; the same name under different parents is different nodes;
 *  (3) name id 0 is "" (the root's name); ids are dense, 0..names-1;
 *  (4) at most HEARTH_FGTREE_MAX_NODES nodes (-HEARTH_ELIMIT beyond).
 *
 * Values: self is an int64 sum; additions saturate at INT64_MAX/INT64_MIN
 * instead of wrapping, so hostile sample values cannot flip a total's sign.
 * A node's total (self plus its children's totals) is not stored; see
 * hearth_fgtree_totals().
 *
 * Ownership and threads: the tree is malloc-owned (hearth_fgtree_free).
 * Name pointers handed out are borrowed: valid until the next call that
 * adds a node or name to the same tree. One writer at a time; any number
 * of readers when there is no writer.
 */
#ifndef HEARTH_FGTREE_H
#define HEARTH_FGTREE_H

#include <stddef.h>
#include <stdint.h>

/* Node indexes stay below 2^31 so encoders can use the top bit as a tag. */
#define HEARTH_FGTREE_MAX_NODES ((size_t) INT32_MAX)
/* What hearth_fgtree_node() reports as the root's parent. */
#define HEARTH_FGTREE_NO_PARENT UINT32_MAX

typedef struct hearth_fgtree hearth_fgtree;

/* A tree holding only the root (self 0). NULL on out of memory. */
hearth_fgtree *hearth_fgtree_new(void);
void	       hearth_fgtree_free(hearth_fgtree *t); /* NULL is a no-op */

/* Find or add the child of parent named name[0..len) (any bytes; callers
 * pass function names). *child is its index. Returns 0, -HEARTH_ENOMEM,
 * or -HEARTH_ELIMIT (invariant (4), or a name of 4 GiB or more). */
int hearth_fgtree_child(hearth_fgtree *t, uint32_t parent, const char *name,
    size_t len, uint32_t *child);

/* Find without adding: 1 and *child when present, else 0. */
int hearth_fgtree_find(const hearth_fgtree *t, uint32_t parent,
    const char *name, size_t len, uint32_t *child);

/* self(node) += v, saturating. Returns 0. */
int hearth_fgtree_add_self(hearth_fgtree *t, uint32_t node, int64_t v);

/* Add one stack: frames[0] is the root-most frame, frames[n-1] the leaf
 * that gets v. lens[i] is the length of frames[i]; lens may be NULL for
 * NUL-terminated frames. n == 0 adds v to the root's self. Errors as for
 * hearth_fgtree_child; on error the frames already added stay (with self
 * unchanged). */
int hearth_fgtree_add_stack(hearth_fgtree *t, const char *const *frames,
    const size_t *lens, size_t n, int64_t v);

/* Add every node of src into dst (dst != src): same-name paths merge and
 * selfs add. On error dst holds part of src; discard it. */
int hearth_fgtree_merge(hearth_fgtree *dst, const hearth_fgtree *src);

/* Number of nodes including the root (>= 1). */
size_t hearth_fgtree_size(const hearth_fgtree *t);

/* Node i (< size): any out pointer may be NULL. *name is borrowed and NOT
 * NUL-terminated in general; use *len. The root's parent is
 * HEARTH_FGTREE_NO_PARENT. */
void hearth_fgtree_node(const hearth_fgtree *t, uint32_t i, uint32_t *parent,
    const char **name, size_t *len, int64_t *self);

/* Interned name id of node i (invariant (3)). */
uint32_t hearth_fgtree_node_name(const hearth_fgtree *t, uint32_t i);
/* Number of distinct names (>= 1, "" included). */
size_t hearth_fgtree_name_count(const hearth_fgtree *t);
/* Bytes of name id (< name count); borrowed like node names. */
void hearth_fgtree_name(const hearth_fgtree *t, uint32_t id,
    const char **name, size_t *len);

/* Sum of every self in the tree (= the root's total), saturating. */
int64_t hearth_fgtree_total(const hearth_fgtree *t);

/* totals[i] = self(i) + totals of i's children, for every node; totals
 * has hearth_fgtree_size() entries. One backward pass, invariant (1). */
void hearth_fgtree_totals(const hearth_fgtree *t, int64_t *totals);

/* The k-th largest of v[0..n) (k >= 1), into *out; when n < k, *out is
 * the smallest value (every value then passes a ">= *out" test). n == 0
 * gives 0. O(n log k) with a k-entry heap. Returns 0 or -HEARTH_ENOMEM. */
int hearth_fgtree_kth_largest(const int64_t *v, size_t n, size_t k,
    int64_t *out);

/* The truncation of connect-apis.md §4.3 step 2 as a new tree: when the
 * tree has more than max_nodes nodes besides the root, the threshold is
 * the max_nodes-th largest node total, else 0 (max_nodes <= 0: always 0).
 * Under every kept node, children whose total is below the threshold, and
 * always a child literally named "other", are dropped and their totals
 * summed into one child "other" (self = that sum, no children), added
 * only when the sum is not 0. *out is a new tree (caller frees). */
int hearth_fgtree_truncate(const hearth_fgtree *t, int64_t max_nodes,
    hearth_fgtree **out);

#endif
