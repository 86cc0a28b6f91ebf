/*
 * block: the ingester's immutable on-disk blocks (DESIGN §6, docs/design.md
 * §11) — format, writer from a cut head, reader and queries, compaction with
 * rollups, retention. One hearth_blocks is the set of every tenant's blocks
 * in one RocksDB (common/kv.h).
 *
 * A block is one tenant's serialised head segment (proto/block.proto):
 *
 *   blocks CF  <tenant>\0<id: u64 BE>\0h               Header: time range,
 *                                     level, strings, stack tree as parent/
 *                                     name columns, series labels, every
 *                                     profile's time and total
 *              <tenant>\0<id>\0s<series: u32 BE><chunk: u32 BE>  Samples of
 *                                     one 10-minute chunk: profile ids, per
 *                                     profile ascending (node, value)
 *              <tenant>\0<id>\0S<series><chunk>       Span rows of the
 *                                     same profiles (only series with span
 *                                     rows; Header.span_counts)
 *              <tenant>\0<id>\0m<series><chunk>       Minute rollup chunk
 *              <tenant>\0<id>\0H<series>              Hour rollup
 *                                     (rollups: level >= 1; node sums per
 *                                     bucket)
 *   meta CF    bi\0<tenant>\0<id>                      Meta: the block index
 *              bp\0<tenant>\0<id>                      a compaction output
 *                                     being written in several batches; at
 *                                     open its keys are deleted
 * Every value is zstd-compressed here (small values compress better alone
 * than inside RocksDB's 4 KiB blocks). A block id is never reused while the
 * process runs, so a key always names the same bytes.
 *
 * Levels: 0 is a head cut (~block_duration); compaction merges the level-0
 * blocks whose first profile lies in one 2-hour window (epoch-aligned)
 * into a level-1 block, and the level-1 blocks of one day into a level-2
 * block, each once a block of a later window exists (10 min -> 2 h ->
 * 1 day). Windows rather than runs keep old and recent data in different
 * blocks, so retention (whole blocks) is never held back by them. Level
 * >= 1 blocks carry rollups; a tree query takes whole hours from the hour
 * rollup, whole minutes at the edges from the minute rollup and the
 * profiles of the remaining partial minutes from the samples, so every
 * answer is exact. Samples and minute rollups are stored in 10-minute
 * chunks per series (the key's chunk number), so the edges of a range
 * decode minutes of data, not days.
 *
 * Invariants:
 *  (1) the in-memory list (loaded from the index at open) holds exactly the
 *      blocks whose index entry and keys are written; a change to the list
 *      follows the successful write of the batch that made it;
 *  (2) within a block a node's parent id is smaller than its own, series
 *      are sorted by labels, a series' profiles by time and a profile's
 *      samples by node (unique nodes, values > 0);
 *  (3) queries give exactly what the head would have given for the same
 *      data: same selection, same millisecond time filter, values summed
 *      per stack node with saturation (all values are > 0, so the order of
 *      additions cannot change a saturated sum).
 *
 * Threading: every function is thread-safe. The list is a refcounted
 * immutable snapshot: a query takes a reference (one mutex acquisition)
 * and never blocks flushes, compaction or retention, which publish a new
 * list. A query that finds a block deleted under it (compacted or expired
 * after it took its snapshot) starts over with the new list, so it never
 * counts a block twice or half. Compaction and retention are serialised
 * with each other (one background thread is expected); prepare / commit /
 * abort are one sequence at a time (the flush thread).
 *
 * Decoded headers are cached (LRU, bounded by bytes: 64 MiB by default,
 * hearth_blocks_set_header_cache_bytes), shared by concurrent queries.
 *
 * Memory: queries decode into private buffers freed before they return;
 * results go to the caller's arena (series, labels) or tree. The set owns
 * everything else.
 *
 * Metrics (registered at open; gauges refreshed on every scrape):
 *   hearth_storage_blocks{level}                   gauge
 *   hearth_storage_block_bytes{level}              gauge
 *   hearth_storage_compactions_total               counter
 *   hearth_storage_compaction_duration_seconds     histogram
 *   hearth_storage_retention_deleted_blocks_total  counter
 *   hearth_storage_header_cache_bytes              gauge
 */
#ifndef HEARTH_BLOCK_H
#define HEARTH_BLOCK_H

#include "arena.h"
#include "dedup.h"
#include "err.h"
#include "fgtree.h"
#include "head.h"
#include "kv.h"
#include "log.h"
#include "metrics.h"
#include "selector.h"

#include <stddef.h>
#include <stdint.h>

#define HEARTH_BLOCKS_LEVELS 3
/* Compaction windows (aligned to the epoch, UTC): level-0 blocks whose
 * first profile falls in one L1 window merge into a level-1 block, level-1
 * blocks of one L2 window into a level-2 block. */
#define HEARTH_BLOCKS_L1_WINDOW_MS ((int64_t) 2 * 3600 * 1000)
#define HEARTH_BLOCKS_L2_WINDOW_MS ((int64_t) 24 * 3600 * 1000)
#define HEARTH_BLOCKS_HEADER_CACHE_BYTES ((size_t) 64 << 20)

typedef struct hearth_blocks hearth_blocks;

typedef struct hearth_blocks_stats {
	size_t	 blocks[HEARTH_BLOCKS_LEVELS];
	uint64_t bytes[HEARTH_BLOCKS_LEVELS]; /* keys + values on disk */
	uint64_t series;		      /* summed over blocks */
	uint64_t profiles;
	uint64_t samples;
	uint64_t level_samples[HEARTH_BLOCKS_LEVELS];
	int64_t	 min_time_ns; /* over all blocks; 0 when there are none */
	int64_t	 max_time_ns;
	size_t	 header_cache_bytes; /* whole set, every tenant */
} hearth_blocks_stats;

/* Load the block index from kv's meta CF and finish what a crash left
 * (deletes the keys of half-written compaction outputs). kv, log and m are
 * borrowed and must outlive the set; log NULL: component "blocks", info;
 * m NULL: no metrics. HEARTH_EIO / HEARTH_ECORRUPT with the key and
 * RocksDB's message, HEARTH_ENOMEM. */
int hearth_blocks_open(hearth_kv *kv, const hearth_log *log,
    hearth_metrics *m, hearth_blocks **out, hearth_err *err);
/* NULL is a no-op. No other thread may use the set any more; a prepared
 * but uncommitted flush is aborted. */
void hearth_blocks_free(hearth_blocks *bs);

/* Bound of the decoded-header cache (bytes, 0 = cache nothing). */
void hearth_blocks_set_header_cache_bytes(hearth_blocks *bs, size_t bytes);

/* Serialise every tenant of head (which no one may push to any more) as
 * one level-0 block each into batch b: values, index entries, nothing
 * visible yet. The caller adds the WAL trim to the same batch, writes it,
 * then calls hearth_blocks_commit (write succeeded: the blocks join the
 * list) or hearth_blocks_abort (it failed: they are forgotten; their ids
 * are not reused). Tenants without profiles get no block. One prepare at a
 * time (asserted). HEARTH_ENOMEM; on error nothing is pending and b holds
 * a part of the blocks: discard it. */
int hearth_blocks_prepare(hearth_blocks *bs, hearth_head *head,
    hearth_kv_batch *b, hearth_err *err);
/* Blocks and bytes (keys + values) of the prepared flush, for logs. */
void hearth_blocks_pending(hearth_blocks *bs, size_t *blocks, uint64_t *bytes);
void hearth_blocks_commit(hearth_blocks *bs);
void hearth_blocks_abort(hearth_blocks *bs);

/* Queries: the contracts of the hearth_head_* functions of the same name
 * (selection, [start_ms, end_ms] on millisecond-truncated profile times,
 * errors), over the tenant's blocks, with results MERGED into the
 * outputs:
 *  - select_tree adds into out (scratch is unused: blocks decode into
 *    private buffers, reused per value and freed before returning);
 *  - select_series merges with *out / *n_out (which must be a valid
 *    answer, NULL / 0 for none) by group labels and bucket, as
 *    hearth_head_series_merge does;
 *  - labels unions with *out / *n_out (NULL / 0 for none).
 * Outputs are unchanged on error, except that a tree whose merge into out
 * passes the node limit leaves out partly merged (discard it, as with the
 * head). Extra errors: HEARTH_EIO (RocksDB),
 * HEARTH_ECORRUPT (a block failed its checks: the message names it),
 * HEARTH_EUNAVAIL (blocks kept changing under the query).
 * filter (dedup.h, NULL = none) as for the head: a series it does not
 * list adds nothing; `all` and whole windows keep the rollup fast path
 * (a window never splits a rollup bucket); only the profiles of partial
 * windows are read from the samples, with their ids. */
int hearth_blocks_select_tree(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms, hearth_arena *scratch,
    hearth_fgtree *out, hearth_err *err);
/* hearth_head_select_span_tree over the tenant's blocks: the span rows
 * (key kind 'S' above) of the wanted spans, never rollups; contract and
 * errors of select_tree. Blocks written before span rows existed add
 * nothing. */
int hearth_blocks_select_span_tree(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    const hearth_head_spans *spans, int64_t start_ms, int64_t end_ms,
    hearth_arena *scratch, hearth_fgtree *out, hearth_err *err);
int hearth_blocks_select_series(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms,
    int64_t step_ms, const char *const *group_by, size_t n_group_by,
    hearth_arena *arena, hearth_head_series **out, size_t *n_out,
    hearth_err *err);
int hearth_blocks_labels(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    const char *name, hearth_arena *arena, const char ***out, size_t *n_out,
    hearth_err *err);

/* Replica de-duplication (dedup.h), with the contracts of hearth_head_plan
 * and hearth_head_ids over the tenant's blocks. PLAN reads headers only
 * (the cached per-window digests; a block written without them hashes the
 * ids of its samples instead). IDS decodes the sample chunks of the
 * wanted windows. Extra errors as for the queries above. */
int hearth_blocks_plan(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    hearth_dedup_plan *acc, hearth_err *err);
int hearth_blocks_ids(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *wanted,
    hearth_dedup_ids *acc, hearth_err *err);
/* Tenants that have blocks, sorted, arena copies. HEARTH_ENOMEM. */
int hearth_blocks_tenants(hearth_blocks *bs, hearth_arena *arena,
    const char ***out, size_t *n_out);

/* Background work (one scheduler thread); each returns 1 when it did
 * something, 0 when there was nothing to do, or a negative error.
 *
 * compact_step: at most one merge: the first tenant (in name order) with
 * a complete L1 window of level-0 blocks (else a complete L2 window of
 * level-1 blocks) gets them merged into one block of the next level, with
 * rollups; the new block, the deletion of the sources' keys and index
 * entries are one batch (a very large output is written ahead
 * under a bp marker, see above). Logs msg="compaction started" and
 * msg="compaction done" (tenant, level, blocks, bytes, duration). */
int hearth_blocks_compact_step(hearth_blocks *bs, hearth_err *err);
/* retention_step: delete every block whose latest profile is older than
 * now_ms - retention_ms(ctx, tenant) (0 = keep the tenant's blocks
 * forever): range deletion of its keys and its index entry in one batch,
 * then a RocksDB compaction of the deleted key span so the disk space
 * returns. Logs msg="retention deleted blocks" (blocks, tenant) once per
 * tenant. */
int hearth_blocks_retention_step(hearth_blocks *bs, int64_t now_ms,
    int64_t (*retention_ms)(void *ctx, const char *tenant), void *ctx,
    hearth_err *err);

/* Statistics of one tenant's blocks (tenant NULL: all tenants). */
void hearth_blocks_stats_get(hearth_blocks *bs, const char *tenant,
    hearth_blocks_stats *out);

#endif
