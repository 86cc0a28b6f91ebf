/*
 * wal: the ingester's write-ahead log (docs/design.md §11), records in the
 * kv `wal` column family:
 *
 *   wal  / <seq: u64 big-endian, 8 bytes>  = WalRecord{tenant, push}
 *   meta / "wal/trimmed"                   = <seq: u64 big-endian>
 *
 * A record holds one push exactly as it arrived (the encoded PushRequest),
 * so replay applies the same bytes that were acknowledged. Big-endian keys
 * sort in sequence order, so replay is one forward scan and a trim is one
 * range tombstone. Sequences start at 1 and only grow, also across
 * restarts: "wal/trimmed" remembers the last trimmed sequence, written in
 * the same batch as the trim, so an empty WAL still knows where it was.
 *
 * Durability: with HEARTH_WAL_SYNC_ALWAYS every append fsyncs RocksDB's
 * log before returning (RocksDB groups concurrent synced writes into one
 * fsync); with HEARTH_WAL_SYNC_INTERVAL appends only write to the OS
 * (a killed process loses nothing, a machine crash loses what came after
 * the last hearth_wal_sync) and the owner calls hearth_wal_sync on a timer.
 *
 * Invariants:
 *  (1) every sequence handed out is > every sequence in the WAL or
 *      trimmed when the WAL was opened, and is handed out once;
 *  (2) a failed append stores nothing (its sequence is simply skipped).
 *
 * Threading: append, sync, last_seq and trim may be called from any
 * number of threads; replay once, before the first append (the owner's
 * start-up), from one thread.
 *
 * Metrics (when a registry is given):
 *   hearth_ingester_wal_records_total              counter
 *   hearth_ingester_wal_bytes_total                counter (value bytes)
 *   hearth_ingester_wal_sync_duration_seconds      histogram (synced
 *                                                  appends and syncs)
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

/* Open the log kept in kv: reads the highest sequence present and the
 * trim mark. HEARTH_ENOMEM, HEARTH_EIO/HEARTH_ECORRUPT from kv (with
 * RocksDB's message), HEARTH_ECORRUPT for a key or mark that is not 8
 * bytes. */
int hearth_wal_open(hearth_kv *kv, hearth_wal_sync sync, hearth_metrics *m,
    hearth_wal **out, hearth_err *err);
/* NULL is a no-op. */
void hearth_wal_free(hearth_wal *w);

/* Write one record {tenant, push[0..len)} under a new sequence (*seq, may
 * be NULL), durably per the sync policy. scratch holds the encoded record
 * (len + a few bytes). HEARTH_ENOMEM when scratch is full; HEARTH_EIO with
 * RocksDB's message ("IO error: No space left on device...") when the
 * write failed, in which case nothing was stored. */
int hearth_wal_append(hearth_wal *w, const char *tenant, const uint8_t *push,
    size_t len, hearth_arena *scratch, uint64_t *seq, hearth_err *err);

/* The highest sequence handed out so far (0 before the first). A caller
 * that excludes appends (the head cut) reads the sequence that covers
 * everything already written. */
uint64_t hearth_wal_last_seq(const hearth_wal *w);

/* Add to b the deletion of every record with sequence <= seq and the new
 * trim mark; the caller writes b (with the blocks that now hold those
 * records, so both happen or neither). */
void hearth_wal_trim(hearth_wal *w, hearth_kv_batch *b, uint64_t seq);

/* fsync RocksDB's log if anything was appended without a sync since the
 * last call (interval policy); otherwise does nothing. HEARTH_EIO. */
int hearth_wal_sync_now(hearth_wal *w, hearth_err *err);

/* Called by hearth_wal_replay for each record, in sequence order.
 * tenant and push are valid for the call only. A non-zero return stops
 * the replay and is returned by it (fill err). */
typedef int (*hearth_wal_replay_fn)(void *ctx, uint64_t seq,
    const char *tenant, const uint8_t *push, size_t len, hearth_err *err);

/* Call fn for every record in the WAL, oldest first; *records (may be
 * NULL) gets how many were passed to fn. A record that does not decode is
 * HEARTH_ECORRUPT naming its sequence; iteration errors are kv's. */
int hearth_wal_replay(hearth_wal *w, hearth_wal_replay_fn fn, void *ctx,
    uint64_t *records, hearth_err *err);

/* The 8-byte key of seq (big-endian). */
void hearth_wal_key_encode(uint64_t seq, uint8_t key[8]);

#endif
