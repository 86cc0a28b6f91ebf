/*
 * wal: the ingester's write-ahead log (docs/design.md §11): append-only
 * segment files in their own directory (the store uses <storage>/wal),
 * plus a trim mark in the kv:
 *
 *   <dir>/<first seq: 16 hex digits>.wal    records, in sequence order
 *   meta / "wal/trimmed"                    = <seq: u64 big-endian>
 *
 * A record is one push exactly as it arrived (the encoded PushRequest), so
 * replay applies the same bytes that were acknowledged:
 *
 *   u64 seq | u32 tenant_len | u32 push_len | u64 check | tenant | push
 *
 * little-endian; check is XXH3-64 of the first 16 header bytes and the
 * tenant, used as the seed of XXH3-64 of the push. A segment is named
 * after the first sequence it may hold; every record in it is below the
 * next segment's name. Replay reads the segments in name order and each
 * up to its first record that is short, zero or fails its check (a torn
 * tail of a killed process), skipping sequences <= the trim mark.
 *
 * Why files and not RocksDB (as before): a WAL record is written once,
 * read only after a crash and dropped at the next head cut. Through a
 * RocksDB column family every record was also copied into a memtable,
 * flushed to an SST with zstd and compacted before its trim: about 12 %
 * of the ingester's CPU at full ingest rate. A file costs one write and,
 * with the always policy, one fdatasync shared by concurrent appends.
 *
 * Trim: hearth_wal_trim adds the new mark to the caller's batch (written
 * with the blocks that now hold those records, so both happen or
 * neither); after that write, hearth_wal_trimmed deletes the segments
 * whose records are all <= the mark (and starts a new segment when the
 * current one holds nothing else, so the disk holds only what the heads
 * hold). A crash in between only leaves files the next trim or open
 * deletes. Sequences start at 1 and only grow, also across restarts: the
 * mark and the segment names remember where the log was. A WAL column
 * family left by an older hearth is still replayed (first) and trimmed.
 *
 * Durability: with HEARTH_WAL_SYNC_ALWAYS an append returns after an
 * fdatasync that covers its record; appends arriving while one runs share
 * the next (group commit). With HEARTH_WAL_SYNC_INTERVAL appends only
 * write to the OS (a killed process loses nothing, a machine crash loses
 * what came after the last hearth_wal_sync_now). Each open starts a new
 * segment (never appending after a possibly torn tail); its directory
 * entry is synced before any record is acknowledged. Records are written
 * over zeros laid down ahead of them 4 MiB at a time, so most syncs
 * change neither the file's size nor its blocks (cheaper fdatasync); a
 * segment file is therefore up to 4 MiB longer than its records.
 *
 * Invariants:
 *  (1) every sequence handed out is > every sequence in the WAL or
 *      trimmed when the WAL was opened, and is handed out once;
 *  (2) a failed append stores nothing (its sequence is simply skipped):
 *      a failed write is cut off the segment again; when a synced
 *      append's fdatasync fails, every record not yet known durable is
 *      refused and cut off, and the next append starts a new segment;
 *  (3) within a segment, records are in ascending sequence order.
 *
 * Threading: append, sync_now, last_seq, trim and trimmed may be called
 * from any number of threads; replay once, before the first append (the
 * owner's start-up), from one thread.
 *
 * Metrics (when a registry is given):
 *   hearth_ingester_wal_records_total              counter
 *   hearth_ingester_wal_bytes_total                counter (record bytes,
 *                                                  header included)
 *   hearth_ingester_wal_sync_duration_seconds      histogram (fdatasyncs:
 *                                                  one per group of synced
 *                                                  appends, or periodic)
 *
 * Ownership: the kv and the registry are borrowed and must outlive the
 * wal; everything an append or replay is given is only read.
 */
#ifndef HEARTH_WAL_H
#define HEARTH_WAL_H

#include "arena.h"
#include "err.h"
#include "kv.h"
#include "metrics.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
	HEARTH_WAL_SYNC_ALWAYS   = 0,
	HEARTH_WAL_SYNC_INTERVAL = 1
} hearth_wal_sync;

typedef struct hearth_wal hearth_wal;

/* Open the log: its segments in dir (created, with its parent synced,
 * when missing) and the trim mark (and any legacy WAL column family) in
 * kv. Deletes segments the mark covers and starts a new segment.
 * HEARTH_ENOMEM; HEARTH_EIO naming the file for file errors; kv's
 * HEARTH_EIO/HEARTH_ECORRUPT (with RocksDB's message); HEARTH_ECORRUPT
 * for a legacy key or a mark that is not 8 bytes. */
int hearth_wal_open(hearth_kv *kv, const char *dir, hearth_wal_sync sync,
    hearth_metrics *m, hearth_wal **out, hearth_err *err);
/* Segment size at which appends move to a new file (default 64 MiB; at
 * least 4 KiB). For tests. */
void hearth_wal_set_segment_bytes(hearth_wal *w, size_t bytes);
/* NULL is a no-op. */
void hearth_wal_free(hearth_wal *w);

/* Write one record {tenant, push[0..len)} under a new sequence (*seq, may
 * be NULL), durably per the sync policy. scratch is not used (kept for
 * callers; records are written from the caller's bytes). HEARTH_EIO
 * "wal: write of record N failed: IO error: No space left on device
 * (...)" when the write or its sync failed, in which case nothing was
 * stored (invariant (2)). */
int hearth_wal_append(hearth_wal *w, const char *tenant, const uint8_t *push,
    size_t len, hearth_arena *scratch, uint64_t *seq, hearth_err *err);

/* The highest sequence handed out so far (0 before the first). A caller
 * that excludes appends (the head cut) reads the sequence that covers
 * everything already written. */
uint64_t hearth_wal_last_seq(const hearth_wal *w);

/* Add to b the new trim mark (and the deletion of legacy column-family
 * records <= seq); the caller writes b (with the blocks that now hold
 * those records, so both happen or neither). seq 0 is a no-op. */
void hearth_wal_trim(hearth_wal *w, hearth_kv_batch *b, uint64_t seq);

/* After b of hearth_wal_trim was written: delete the segments whose
 * records are all <= seq. Failures are harmless (the files are deleted by
 * a later trim or open) and not reported. */
void hearth_wal_trimmed(hearth_wal *w, uint64_t seq);

/* fdatasync the current segment if anything was appended without a sync
 * since the last call (interval policy); otherwise does nothing.
 * HEARTH_EIO. */
int hearth_wal_sync_now(hearth_wal *w, hearth_err *err);

/* Called by hearth_wal_replay for each record, in sequence order.
 * tenant and push are valid for the call only. A non-zero return stops
 * the replay and is returned by it (fill err). */
typedef int (*hearth_wal_replay_fn)(void *ctx, uint64_t seq,
    const char *tenant, const uint8_t *push, size_t len, hearth_err *err);

/* Call fn for every record in the WAL above the trim mark, oldest first;
 * *records (may be NULL) gets how many were passed to fn. A legacy record
 * that does not decode, or a checked record without a tenant, is
 * HEARTH_ECORRUPT naming its sequence; HEARTH_EIO naming the file when a
 * segment cannot be read; iteration errors are kv's. */
int hearth_wal_replay(hearth_wal *w, hearth_wal_replay_fn fn, void *ctx,
    uint64_t *records, hearth_err *err);

/* The 8-byte key of seq (big-endian): legacy WAL column-family keys and
 * the trim mark. */
void hearth_wal_key_encode(uint64_t seq, uint8_t key[8]);

#endif
