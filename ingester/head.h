/*
 * head: the ingester's in-memory head (DESIGN §3, §6), per tenant.
 *
 *   hearth_head ── tenant list (mutex) ──▶ head_tenant (one rwlock each)
 *      strings      interned function names and label strings
 *      stack tree   (parent node, name string) -> node; node 0 is the root,
 *                   a stack is one node id and shared prefixes are stored
 *                   once
 *      series       fingerprint -> series (collisions resolved by comparing
 *                   labels); each series has sorted interned labels and an
 *                   append-only list of profiles (time, 16-byte id, total,
 *                   a slice of the series' sample arrays of
 *                   (stack node uint32, value int64), and a slice of its
 *                   span rows (span id uint64, stack node, value): the
 *                   samples that carried a span id, which the samples
 *                   include too; only span queries read them)
 *      postings     label name -> value -> ascending series ids
 *
 * Invariants:
 *  (1) a node's parent id is smaller than its own id (nodes are created
 *      root first), so one ascending pass visits parents before children
 *      and one descending pass children before parents: no recursion, for
 *      any stack depth;
 *  (2) every sample value is > 0 and every profile total is the sum of its
 *      samples (checked on push, so sums never see a negative);
 *  (3) postings lists are ascending (series ids are assigned in order);
 *  (4) within a series, a non-zero profile id appears at most once: a
 *      re-sent push is not counted twice;
 *  (5) hearth_head_bytes() is the sum of every allocation the head made
 *      (arrays by capacity, string chunks, tables), for a memory budget.
 *
 * A push is validated completely before anything is stored (an invalid
 * batch changes nothing). Only running out of memory can leave a push
 * half applied; by (4) a retry then adds only what is missing.
 *
 * Threading: every function is thread-safe. A push holds its tenant's
 * write lock while it stores; queries hold the read lock while they scan
 * (writers are preferred, so a stream of queries cannot starve pushes).
 * Tenants never block each other.
 *
 * Ownership: the head owns all of its memory. Query results are copied
 * into the caller's arena and stay valid after the head changes or is
 * freed. The push request is only read.
 */
#ifndef HEARTH_HEAD_H
#define HEARTH_HEAD_H

#include "arena.h"
#include "dedup.h"
#include "err.h"
#include "fgtree.h"
#include "ingester.pb-c.h"
#include "labels.h"
#include "selector.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_head hearth_head;

typedef struct hearth_head_stats {
	size_t series;
	size_t profiles;
	size_t samples;
	size_t nodes;	/* stack tree nodes, root included */
	size_t strings; /* interned strings */
	size_t bytes;
} hearth_head_stats;

/* One point of a series query: the bucket's right edge (ms), the sum of
 * the totals of its profiles, and how many profiles there were. */
typedef struct hearth_head_point {
	int64_t timestamp_ms;
	int64_t value;
	int64_t count;
} hearth_head_point;

typedef struct hearth_head_series {
	hearth_label	  *labels; /* the group-by labels, sorted by name */
	size_t		   n_labels;
	hearth_head_point *points; /* ascending timestamp_ms */
	size_t		   n_points;
} hearth_head_series;

int  hearth_head_new(hearth_head **out, hearth_err *err);
/* NULL is a no-op. No other thread may use the head any more. */
void hearth_head_free(hearth_head *h);

/* Store every profile of req for tenant. *profiles / *samples (either may
 * be NULL) receive what was stored (duplicates by (4) and zero values are
 * not). Errors: HEARTH_EINVAL with what is wrong and where, e.g.
 *   "batch 0 profile 2: stack index 7 out of range (5 stacks)";
 * HEARTH_ELIMIT when a series passes 2^32 samples; HEARTH_ENOMEM. */
int hearth_head_push(hearth_head *h, const char *tenant,
    const Hearth__Ingester__PushRequest *req, uint64_t *profiles,
    uint64_t *samples, hearth_err *err);

/* Check tenant and req exactly as hearth_head_push does, storing nothing:
 * when this returns 0, a push of req fails only for lack of memory or a
 * 2^32 limit (so a write-ahead log never holds a record that is invalid).
 * Same errors and messages as hearth_head_push. Needs no head. */
int hearth_head_validate(const char *tenant,
    const Hearth__Ingester__PushRequest *req, hearth_err *err);

/* The per-tenant series limit (max_global_series_per_tenant): 0 when a
 * push of req (validated) would leave tenant with at most max series,
 * else HEARTH_EBUSY (HTTP 429: the limit frees up when the head is cut)
 * with a message naming the limit, its value and the counts. Only reads
 * (the tenant's read lock); pushes running at the same time may each
 * pass it once. max 0 = no limit. HEARTH_ENOMEM. */
int hearth_head_check_series(hearth_head *h, const char *tenant,
    const Hearth__Ingester__PushRequest *req, size_t max, hearth_err *err);

/* Add to out the call tree of every profile of the series matching sel
 * with time in [start_ms, end_ms] (profile time truncated to ms): values
 * summed per stack, then keyed by function name. out may already hold a
 * tree (e.g. from blocks); this merges into it. scratch holds the
 * per-node sums (12 bytes a node) and is not released by the call.
 * An unknown tenant adds nothing. filter (dedup.h; NULL = none) keeps
 * only what it assigns: a series whose fingerprint it does not list adds
 * nothing, the others only the profiles hearth_dedup_keep keeps. */
int hearth_head_select_tree(hearth_head *h, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms, hearth_arena *scratch,
    hearth_fgtree *out, hearth_err *err);

/* A span filter: span ids ascending and unique (n > 0). */
typedef struct hearth_head_spans {
	const uint64_t *ids;
	size_t		n;
} hearth_head_spans;

/* Sort ids[0..n) ascending, dropping duplicates and 0 (which names no
 * span); returns how many are left: with ids, a span filter. */
size_t hearth_head_spans_sort(uint64_t *ids, size_t n);

/* 1 when id is one of sp's. */
static inline int
hearth_head_spans_has(const hearth_head_spans *sp, uint64_t id)
{
	size_t lo = 0, hi = sp->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (sp->ids[mid] == id)
			return 1;
		if (sp->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* hearth_head_select_tree over the span rows instead of the samples:
 * only the rows whose span id is one of spans' add to out (a profile
 * pushed without span rows adds nothing). Same selection, time range,
 * filter and errors. */
int hearth_head_select_span_tree(hearth_head *h, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    const hearth_head_spans *spans, int64_t start_ms, int64_t end_ms,
    hearth_arena *scratch, hearth_fgtree *out, hearth_err *err);

/* Time series of profile totals for the series matching sel: one output
 * series per distinct combination of the group_by labels (labels the
 * series lacks are left out; duplicate names count once), sorted by
 * labels. Points: each profile in [start_ms, end_ms] goes to the first
 * anchor >= its time, anchors at start_ms - step_ms + k * step_ms
 * (connect-apis.md SelectSeries); empty buckets are omitted. Everything in
 * arena memory. step_ms must be > 0 and start_ms <= end_ms (EINVAL).
 * filter as for hearth_head_select_tree. */
int hearth_head_select_series(hearth_head *h, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms,
    int64_t step_ms, const char *const *group_by, size_t n_group_by,
    hearth_arena *arena, hearth_head_series **out, size_t *n_out,
    hearth_err *err);

/* Replica de-duplication (dedup.h). PLAN: for every series matching sel
 * and every window overlapping [start_ms, end_ms] where the series has a
 * profile, add to acc the count and id digest of the head's profiles of
 * the WHOLE window, flagged in_range when one of them lies in
 * [start_ms, end_ms] (hearth_dedup_plan_finish keeps a series only when
 * some source flagged one of its windows). scratch holds the selection.
 * EINVAL when start_ms > end_ms, ENOMEM. */
int hearth_head_plan(hearth_head *h, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    hearth_arena *scratch, hearth_dedup_plan *acc, hearth_err *err);
/* IDS: for every series matching sel whose fingerprint wanted lists, the
 * ids of its head profiles in the windows wanted lists (whole windows)
 * into acc. */
int hearth_head_ids(hearth_head *h, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *wanted,
    hearth_arena *scratch, hearth_dedup_ids *acc, hearth_err *err);
/* Names of the tenants that have a series in the head, arena copies, in
 * creation order. ENOMEM. */
int hearth_head_tenants(hearth_head *h, hearth_arena *arena,
    const char ***out, size_t *n_out);

/* Label names (name NULL or "") or the values of label `name` over the
 * series matching sel that have a profile in [start_ms, end_ms]; sorted
 * (byte order), unique, arena copies. Series without the label add no
 * value. */
int hearth_head_labels(hearth_head *h, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    const char *name, hearth_arena *arena, const char ***out, size_t *n_out,
    hearth_err *err);

/* Merge b[0..nb) into *a / *na, both as hearth_head_select_series returns
 * them (sorted by labels, points ascending): series with equal labels get
 * their points summed per timestamp (value saturating, count added), the
 * others are inserted in order. The result is new arena memory that may
 * share label and string pointers with both inputs; neither input is
 * changed. For answers made of several heads (or heads and blocks).
 * HEARTH_ENOMEM. */
int hearth_head_series_merge(hearth_head_series **a, size_t *na,
    const hearth_head_series *b, size_t nb, hearth_arena *arena);

/* The two steps every series answer (head and blocks) ends with.
 * hearth_head_group_names: group_by sorted, de-duplicated and copied into
 * the arena: the label names of the answer's series. HEARTH_ENOMEM. */
int hearth_head_group_names(const char *const *group_by, size_t n,
    hearth_arena *arena, const char ***names, size_t *ng);

/* One bucket's contribution of one group: profiles' totals and count. */
typedef struct hearth_head_series_pt {
	uint32_t group;
	int64_t	 ts; /* bucket right edge, ms */
	int64_t	 value;
	int64_t	 count;
} hearth_head_series_pt;

/* Points -> series: one series per group that has points, labelled with
 * its values of names[0..ng) (vals[group * ng + j], NULL = the series has
 * no such label), points ascending with one point per bucket (values
 * added, saturating; counts added), series in hearth_head_select_series'
 * order. pts is sorted in place; strings are shared, not copied.
 * HEARTH_ENOMEM. */
int hearth_head_series_emit(const char *const *names, size_t ng,
    const char *const *vals, size_t n_groups, hearth_head_series_pt *pts,
    size_t n_pts, hearth_arena *arena, hearth_head_series **out,
    size_t *n_out);

/* Union of the sorted unique string arrays *a / *na and b[0..nb) into new
 * arena memory (the strings themselves are shared, not copied), sorted
 * and unique like hearth_head_labels' output. HEARTH_ENOMEM. */
int hearth_head_labels_merge(const char ***a, size_t *na,
    const char *const *b, size_t nb, hearth_arena *arena);

/* Bytes held by the whole head (invariant (5)); lock-free. */
size_t hearth_head_bytes(const hearth_head *h);
/* Samples stored in the whole head, all tenants; lock-free. */
size_t hearth_head_samples(const hearth_head *h);
/* Statistics of one tenant (zeros when unknown), or of all tenants when
 * tenant is NULL. */
void hearth_head_stats_get(hearth_head *h, const char *tenant,
    hearth_head_stats *out);
/* fn(ctx, tenant, stats) once per tenant, in creation order. fn must not
 * call back into the head. */
typedef void (*hearth_head_tenant_fn)(void *ctx, const char *tenant,
    const hearth_head_stats *st);
void hearth_head_foreach_tenant(hearth_head *h, hearth_head_tenant_fn fn,
    void *ctx);

#endif
