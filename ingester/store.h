/*
 * store: the ingester's storage engine (docs/design.md §11): one RocksDB
 * (common/kv.h) holding the WAL (wal.h) and the blocks (block.h), the
 * current head, the heads being flushed, and one background thread that
 * replays, cuts, flushes, syncs, compacts and expires.
 *
 *        push ──▶ validate ──▶ budget ──▶ WAL append ──▶ head apply ──▶ ack
 *                 (EINVAL)     (EBUSY)    (EIO)
 *
 *   current head ──cut──▶ flushing heads (FIFO) ──flush──▶ blocks
 *   (pushes go here)      (read-only, queried)    one batch: the blocks +
 *                                                 WAL trim [0, S]
 *
 * A cut happens every block_duration (when the head is not empty and no
 * flush is pending), when the head's cost passes 80 % of max_head_bytes
 * (cost: its bytes plus 12 per sample, the size of its samples while
 * they are written as blocks; store_impl.h STORE_SAMPLE_COST), on
 * hearth_store_flush and at shutdown. It swaps in an empty head and notes
 * S, the last WAL sequence the old head holds. A flush writes the oldest
 * flushing head's blocks and deletes WAL records <= S in one atomic batch;
 * only after that write the blocks become visible and the head is dropped,
 * in one step as far as queries are concerned. A failed flush (disk full)
 * keeps the head queryable and is retried with backoff (1 s doubling to
 * 30 s); pushes then meet the budget and get HEARTH_EBUSY (429), never an
 * acknowledgement without a WAL record.
 *
 * Locks, in the order they may be taken:
 *  work_mu    serialises cuts, flushes, compaction and retention steps
 *             and kv resumes (the background thread, hearth_store_flush,
 *             shutdown);
 *  view_lock  rwlock: queries hold it shared across head, flushing heads
 *             and blocks; the swap and the flush commit hold it
 *             exclusively, so a query sees every profile exactly once;
 *  cut_lock   rwlock: pushes hold it shared from the budget check to the
 *             head apply; a cut holds it exclusively to swap heads, so S
 *             covers exactly the records in the old head (taken after
 *             view_lock, so a long query delays a cut but not pushes);
 *  mu         the background thread's wake-up state.
 * Both rwlocks prefer writers. Neither is held across hearth_kv_resume,
 * which waits for every kv reader and writer to finish.
 *
 * Invariants:
 *  (1) every acknowledged push is in the WAL (trimmed only together with
 *      the blocks that hold it) and in the current or a flushing head or
 *      a committed block;
 *  (2) flushing heads are in cut order and are flushed oldest first, so a
 *      trim [0, S] never removes a record of a head still in memory;
 *  (3) head cost + flushing head cost < max_head_bytes when a push is
 *      admitted (concurrent pushes may pass it by one push each).
 *
 * States:  open ──start──▶ REPLAYING ──replay done──▶ READY ──stop──▶ STOPPED
 *                              └──replay failed──▶ FAILED
 * Pushes and queries are refused with HEARTH_EUNAVAIL outside READY.
 *
 * Threading: push and the queries from any number of threads; open,
 * start, stop and free from the owner's thread; hearth_store_flush from
 * any thread. Logs (logfmt, constant msg): "wal replay done" records=N,
 * "head cut" reason=time|size|replay|manual|shutdown, "block flush
 * started", "block flush done" blocks=N bytes=N, "block flush failed".
 *
 * Metrics (when a registry is given; the WAL's are in wal.h, the blocks'
 * in block.h):
 *   hearth_ingester_head_cuts_total{reason}        counter
 *   hearth_ingester_flush_duration_seconds         histogram
 *   hearth_ingester_flush_failures_total           counter
 *   hearth_ingester_rejected_pushes_total{reason}  counter (head_full,
 *                                                  wal_error, not_ready,
 *                                                  series_limit)
 *   hearth_ingester_flushing_heads                 gauge
 *   hearth_rocksdb_memory_bytes{kind}              gauge (memtables,
 *                                                  block_cache,
 *                                                  table_readers)
 *   hearth_storage_sst_bytes{level}                gauge
 *   hearth_storage_background_errors               gauge
 *
 * Ownership: the store owns the kv, the WAL, the blocks and every head.
 * Query results are arena copies. log and metrics are borrowed.
 */
#ifndef HEARTH_STORE_H
#define HEARTH_STORE_H

#include "arena.h"
#include "dedup.h"
#include "err.h"
#include "fgtree.h"
#include "head.h"
#include "ingester.pb-c.h"
#include "log.h"
#include "metrics.h"
#include "selector.h"
#include "wal.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_store_cfg {
	const char     *path; /* RocksDB directory (created) */
	hearth_wal_sync wal_sync;
	int64_t         wal_sync_interval_ms;   /* > 0 (interval policy) */
	size_t          block_cache_bytes;      /* 0 = kv's default */
	size_t          write_buffer_bytes;     /* 0 = kv's default */
	int64_t         block_duration_ms;      /* > 0 */
	size_t          max_head_bytes;         /* > 0 */
	int64_t         compaction_interval_ms; /* > 0 */
	int64_t         retention_interval_ms;  /* > 0 */
	/* Retention of a tenant's blocks in ms, 0 = forever; NULL: keep
	 * every block forever. Called from the background thread. */
	int64_t (*retention_ms)(void *ctx, const char *tenant);
	void *retention_ctx;
	/* Series limit of a tenant's current head (head.h
	 * hearth_head_check_series), 0 = none; NULL: no limit. Called on
	 * every push, from the pushing thread. */
	int64_t (*max_series)(void *ctx, const char *tenant);
	void *max_series_ctx;
} hearth_store_cfg;

typedef struct hearth_store hearth_store;

typedef struct hearth_store_stats {
	size_t   head_bytes;     /* current head */
	size_t   head_series;    /* current head, all tenants */
	uint64_t block_bytes;    /* every block on disk (keys + values) */
	size_t   flushing_bytes; /* heads waiting to be written */
	size_t   flushing_heads;
	uint64_t wal_last_seq;
	uint64_t replayed; /* WAL records replayed at start */
} hearth_store_stats;

/* Check cfg (HEARTH_EINVAL naming the setting), open the database (kv),
 * the WAL and the blocks. Nothing is replayed yet. cfg is copied (path
 * too). log NULL: component "store", info. Errors from kv and blocks keep
 * RocksDB's message, prefixed with the path. */
int hearth_store_open(const hearth_store_cfg *cfg, const hearth_log *log,
    hearth_metrics *m, hearth_store **out, hearth_err *err);

/* Start the background thread, which replays the WAL into the head
 * (cutting and flushing on the way when it passes 80 % of the budget),
 * logs "wal replay done", then runs the schedule. HEARTH_ENOMEM when the
 * thread cannot be created. */
int hearth_store_start(hearth_store *s, hearth_err *err);

/* 1 when READY, 0 while replaying (or before start), or the replay's
 * error code (< 0, err filled) when it FAILED. */
int hearth_store_ready(hearth_store *s, hearth_err *err);

/* Store one push for tenant: req is the decoded request, raw[0..raw_len)
 * its encoding (what the WAL keeps); scratch holds the WAL record.
 * *profiles / *samples (may be NULL) get what the head stored.
 * Errors: the head's HEARTH_EINVAL (nothing written);
 * HEARTH_EBUSY "ingester head is full (max_head_bytes: N): retry later",
 * or the series limit (cfg.max_series, nothing written);
 * HEARTH_EIO "ingester: cannot write the WAL: ..." (nothing stored);
 * HEARTH_EUNAVAIL when not READY; HEARTH_ENOMEM / HEARTH_ELIMIT from the
 * apply (the record is in the WAL: a retry is de-duplicated by profile
 * id). */
int hearth_store_push(hearth_store *s, const char *tenant,
    const Hearth__Ingester__PushRequest *req, const uint8_t *raw,
    size_t raw_len, hearth_arena *scratch, uint64_t *profiles,
    uint64_t *samples, hearth_err *err);
/* hearth_store_push that also says whether the push's WAL record was
 * written (*logged = 1, when logged is not NULL): a push that failed after
 * that (HEARTH_ENOMEM / HEARTH_ELIMIT from the head apply) is still
 * stored by the next replay, so state derived from it (delta.h) must be
 * kept, while any other failure wrote nothing. */
int hearth_store_push_logged(hearth_store *s, const char *tenant,
    const Hearth__Ingester__PushRequest *req, const uint8_t *raw,
    size_t raw_len, hearth_arena *scratch, uint64_t *profiles,
    uint64_t *samples, int *logged, hearth_err *err);

/* Queries over the current head, the flushing heads and the blocks, with
 * the contracts of the hearth_head_* functions of the same name (tree:
 * added into out; series and labels: new arena answers; filter: dedup.h,
 * NULL = none). Also HEARTH_EUNAVAIL when not READY and the blocks'
 * HEARTH_EIO / HEARTH_ECORRUPT. */
int hearth_store_select_tree(hearth_store *s, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms, hearth_arena *scratch,
    hearth_fgtree *out, hearth_err *err);
/* hearth_head_select_span_tree over the heads and the blocks (block.h
 * hearth_blocks_select_span_tree). */
int hearth_store_select_span_tree(hearth_store *s, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    const hearth_head_spans *spans, int64_t start_ms, int64_t end_ms,
    hearth_arena *scratch, hearth_fgtree *out, hearth_err *err);
int hearth_store_select_series(hearth_store *s, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms,
    int64_t step_ms, const char *const *group_by, size_t n_group_by,
    hearth_arena *arena, hearth_head_series **out, size_t *n_out,
    hearth_err *err);
int hearth_store_labels(hearth_store *s, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    const char *name, hearth_arena *arena, const char ***out, size_t *n_out,
    hearth_err *err);

/* Replica de-duplication (dedup.h, docs/design.md §13), over the current
 * head, the flushing heads and the blocks, under one view (every profile
 * counted once, whatever cuts and flushes run):
 *  plan: per series matching sel with a profile in [start_ms, end_ms], per
 *        window overlapping the range that holds one of its profiles, the
 *        count and id digest of the WHOLE window (out in arena);
 *  ids:  the sorted unique ids of each wanted (fp, window) of a series
 *        matching sel (whole windows);
 *  services: per tenant (sorted) the sorted unique service_name values of
 *        every series held, all time (label index and block headers).
 * Errors as for the queries. */
int hearth_store_plan(hearth_store *s, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    hearth_arena *arena, Hearth__Ingester__PlanResponse *out,
    hearth_err *err);
int hearth_store_ids(hearth_store *s, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *wanted,
    hearth_arena *arena, Hearth__Ingester__IdsResponse *out,
    hearth_err *err);
int hearth_store_services(hearth_store *s, hearth_arena *arena,
    Hearth__Ingester__ServicesResponse *out, hearth_err *err);

/* Clients' settings of tenant (settings.v1; store_settings.c), kept in
 * the meta column family, key "st" tenant \0 name, value an encoded
 * Setting. put (may be NULL) is stored first unless the stored one of its
 * name is newer (hearth_setting_newer, common/setting.h), so every replica ends with the same
 * one whatever order writes arrive in; deletes stay as tombstones. out
 * gets every setting of the tenant as stored after it, tombstones
 * included, in name order (arena memory; put's entry points at put's
 * strings). The write is synced before the answer.
 * HEARTH_ELIMIT past HEARTH_SETTINGS_MAX names per tenant or
 * HEARTH_SETTINGS_MAX_BYTES in a name plus value (setting.h);
 * HEARTH_EUNAVAIL when not READY; HEARTH_EIO from the disk. */
int hearth_store_settings(hearth_store *s, const char *tenant,
    const Hearth__Ingester__Setting *put, hearth_arena *arena,
    Hearth__Ingester__SettingsResponse *out, hearth_err *err);

/* Cut the current head now (if it holds anything) and write every
 * flushing head as blocks, oldest first, on the calling thread. 0 when
 * nothing is left in flushing heads; else the first flush error (the
 * heads stay queryable and the background thread retries). HEARTH_EUNAVAIL
 * when not READY. */
int hearth_store_flush(hearth_store *s, hearth_err *err);

/* Clean shutdown: stop the background thread, cut and flush (errors are
 * logged: the WAL still holds what could not be written). No push may be
 * running or start. Idempotent. */
void hearth_store_stop(hearth_store *s);

/* Free everything and close RocksDB. Without hearth_store_stop first this
 * is an unclean close: the background thread is stopped, nothing is cut
 * or flushed, and the next open replays the WAL, as after a crash. NULL is
 * a no-op. */
void hearth_store_free(hearth_store *s);

void hearth_store_stats_get(hearth_store *s, hearth_store_stats *out);

/* fn(ctx, tenant, stats) for every tenant of the current head (per-tenant
 * gauges); fn must not call into the store. */
void hearth_store_foreach_tenant(
    hearth_store *s, hearth_head_tenant_fn fn, void *ctx);

#endif
