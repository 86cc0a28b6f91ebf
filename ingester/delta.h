/*
 * delta: server-side deltas of cumulative allocation profiles pushed
 * through push.v1 Push (model.md §5, docs/design.md §11.3).
 *
 * The distributor marks a SeriesProfile `delta = true` when upstream's v1
 * rule applies (`__delta__` absent or not "false", `__name__` memory,
 * `__type__` alloc_objects or alloc_space). For every such series the
 * ingester remembers the highest value seen per stack and rewrites each
 * profile before it reaches the WAL:
 *
 *   state of the series     profile (values summed per stack key)  result
 *   none (new, evicted,     any                                    SEEDED:
 *   restarted)                                                     state :=
 *                                                                  values,
 *                                                                  dropped
 *   seeded                  some stack below its remembered value  RESET:
 *                                                                  same
 *   seeded                  every stack >= remembered (a stack     STORED:
 *                           not remembered counts as 0)            value -
 *                                                                  remembered
 *                                                                  per stack
 *                                                                  (zeros
 *                                                                  left out),
 *                                                                  state :=
 *                                                                  max
 *   any                     id among the series' last             DUPLICATE:
 *                           HEARTH_DELTA_IDS applied ids           dropped
 *
 * Stacks absent from a profile keep their remembered value (not a reset).
 * Stored profiles leave with delta = false and their span rows
 * (span_stacks, span_ids, span_values) cleared: span rows of a cumulative
 * profile are cumulative too, and span ids change from one request to
 * the next, so there is nothing to subtract them from.
 *
 *   hearth_delta ── mutex ──▶ table: 128-bit series key -> state
 *                             LRU list of states (most recent first)
 *                  state:     stack key (XXH3-64 of the stack's frame
 *                             NAMES, root first: batches number their
 *                             strings differently) -> highest value,
 *                             seeded flag, the last HEARTH_DELTA_IDS
 *                             applied profile ids, busy flag
 *
 * The series key is XXH3-128 of the tenant and the profile's sorted labels
 * (the full label set, __type__ included).
 *
 * Transactions: hearth_delta_begin computes every rewrite of one push
 * while holding its series BUSY (taken in key order, so two pushes never
 * wait on each other in a cycle; a second push of a busy series waits
 * for it). The new state of each series is kept aside until
 * hearth_delta_commit installs it (call it once the push's WAL record is
 * written) or hearth_delta_abort drops it (nothing was written: the
 * client's retry recomputes against the unchanged state). So two pushes of
 * one series are applied one after the other, and a state never runs
 * ahead of what the WAL holds.
 *
 * Invariants:
 *  (1) states <= max_series, except for states busy at the moment (a
 *      busy state is never evicted);
 *  (2) a busy state is owned by exactly one transaction, which alone
 *      reads or changes its map, seeded flag and ids;
 *  (3) bytes (the metric) is the sum over states of their allocations.
 *
 * Bounds: at most max_series states (the least recently used one, busy
 * ones excepted, is evicted for a new one); a state unused for idle_ms is
 * dropped (checked on every begin). An evicted or dropped series seeds
 * again on its next profile, as after a restart: state lives in memory
 * only.
 *
 * Metrics (when a registry is given):
 *   hearth_ingester_delta_profiles_total{result}   counter (seeded,
 *                                                  stored, reset,
 *                                                  duplicate)
 *   hearth_ingester_delta_series                   gauge
 *   hearth_ingester_delta_bytes                    gauge
 *   hearth_ingester_delta_evictions_total{reason}  counter (lru, idle)
 *
 * Threading: begin/commit/abort from any number of threads; new and free
 * from the owner (no transaction may be open at free). A transaction is
 * used by one thread.
 *
 * Ownership: the delta object owns its states. The request given to begin
 * is changed in place; new arrays come from the caller's arena, as does
 * the transaction, which must be committed or aborted before the arena
 * is released.
 */
#ifndef HEARTH_DELTA_H
#define HEARTH_DELTA_H

#include "arena.h"
#include "err.h"
#include "ingester.pb-c.h"
#include "metrics.h"

#include <stddef.h>
#include <stdint.h>

#define HEARTH_DELTA_DEFAULT_MAX_SERIES 100000
#define HEARTH_DELTA_DEFAULT_IDLE_MS ((int64_t) 3600 * 1000)
/* Profile ids remembered per series to recognise a re-sent profile. */
#define HEARTH_DELTA_IDS 4

typedef struct hearth_delta_cfg {
	size_t  max_series; /* states kept; 0: the default */
	int64_t idle_ms;    /* drop states unused this long; 0: default */
} hearth_delta_cfg;

typedef struct hearth_delta     hearth_delta;
typedef struct hearth_delta_txn hearth_delta_txn;

typedef struct hearth_delta_stats {
	size_t   series;
	size_t   bytes;
	uint64_t seeded, stored, reset, duplicate; /* profiles, committed */
	uint64_t evicted_lru, evicted_idle;
} hearth_delta_stats;

/* New empty delta table; cfg NULL or its zero fields take the defaults.
 * m (may be NULL) gets the metrics above. HEARTH_ENOMEM. */
int hearth_delta_new(const hearth_delta_cfg *cfg, hearth_metrics *m,
    hearth_delta **out, hearth_err *err);
/* NULL is a no-op. No transaction may be open. */
void hearth_delta_free(hearth_delta *d);

/* Apply the delta rule to every profile of req with delta set, for
 * tenant: seeded, reset and duplicate profiles are removed from their
 * batch, stored ones get their delta stacks and values (arena arrays).
 * Profiles without delta are left alone. now_ms is a monotonic clock
 * (idle expiry, LRU). *out is the open transaction, or NULL when req had
 * no delta profile (nothing to commit). Errors (req is then unchanged and
 * no state is held): the head's HEARTH_EINVAL (hearth_head_validate: the
 * push is checked first so that a malformed one cannot be read out of
 * bounds), HEARTH_ENOMEM "delta: out of memory ..." for a state or the
 * arena. */
int hearth_delta_begin(hearth_delta *d, const char *tenant,
    Hearth__Ingester__PushRequest *req, int64_t now_ms, hearth_arena *arena,
    hearth_delta_txn **out, hearth_err *err);
/* Install the states computed by begin and release the series. */
void hearth_delta_commit(hearth_delta *d, hearth_delta_txn *txn);
/* Forget them (the states stay as before begin) and release. */
void hearth_delta_abort(hearth_delta *d, hearth_delta_txn *txn);

void hearth_delta_stats_get(hearth_delta *d, hearth_delta_stats *out);

#endif
