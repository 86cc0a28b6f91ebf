/*
 * kv: the ingester's one RocksDB database (the only file that includes
 * <rocksdb/c.h>; docs/design.md §11).
 *
 * A hearth_kv is one RocksDB directory opened with three column families:
 *
 *   HEARTH_KV_META   "default"  small metadata: block index, state
 *   HEARTH_KV_WAL    "wal"      push records, range-deleted at each cut
 *   HEARTH_KV_BLOCKS "blocks"   immutable block headers and series values
 *
 * Options: zstd compression (bottommost too), level compaction, 2
 * background jobs, one LRU block cache of block_cache_bytes shared by all
 * column families (index and filter blocks live in it, so it bounds them
 * too), a bloom filter on the blocks CF, memtables of write_buffer_bytes
 * (at most 2 per CF, and at most 2 x write_buffer_bytes summed over all
 * CFs, after which RocksDB flushes the largest). RocksDB's own WAL is on:
 * it is what makes a synced hearth_kv_write durable. RocksDB's info LOG
 * gets only its open-time header: Debian's librocksdb has assertions on
 * and aborts on the second LOG line after a failed one (disk full).
 *
 * Errors: every failure comes back as a HEARTH_E* code with RocksDB's own
 * message in err->msg ("IO error: No space left on device: ..."); RocksDB
 * "Corruption" statuses map to HEARTH_ECORRUPT, everything else that the
 * disk or the library reports to HEARTH_EIO. A failed write applies
 * nothing (a batch is atomic). After a disk error RocksDB may stop taking
 * writes (reads keep working); hearth_kv_resume() reopens the database
 * once the cause is gone.
 *
 * Invariants:
 *  (1) the handle stays valid from hearth_kv_open to hearth_kv_close, also
 *      across hearth_kv_resume (which closes and reopens RocksDB inside);
 *  (2) a hearth_kv_write either applies the whole batch or none of it;
 *  (3) an iterator sees one consistent snapshot taken at _iter_new.
 *
 * Threading: every function may be called from any number of threads at
 * once, except that one batch and one iterator are used by one thread at a
 * time (they may move between threads). Each call and each live iterator
 * counts as a user of the database; hearth_kv_resume waits until there
 * are no users (readers first: it never blocks a call while it waits, so
 * a thread holding an iterator may keep calling kv), and gives up with
 * HEARTH_EBUSY after 10 s. So: never call hearth_kv_resume (it would
 * wait 10 s and fail) or hearth_kv_close (it asserts) while the calling
 * thread holds an iterator.
 *
 * Ownership: hearth_kv owns RocksDB and everything it allocated. Batches
 * copy keys and values when they are added. Values from hearth_kv_get are
 * copied into the caller's arena. Keys and values from an iterator are
 * borrowed and valid until the next move of that iterator.
 */
#ifndef HEARTH_KV_H
#define HEARTH_KV_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "err.h"

typedef struct hearth_kv hearth_kv;

typedef enum {
	HEARTH_KV_META   = 0,
	HEARTH_KV_WAL    = 1,
	HEARTH_KV_BLOCKS = 2
} hearth_kv_cf;

#define HEARTH_KV_NCF 3

typedef struct hearth_kv_opts {
	const char *path;               /* directory; created (with parents) */
	size_t      block_cache_bytes;  /* LRU cache for all CFs; 0 = 64 MiB */
	size_t      write_buffer_bytes; /* one memtable; 0 = 32 MiB */
} hearth_kv_opts;

/* Open (creating the directory, the database and missing column families)
 * the database at o->path. Column families that exist on disk but are not
 * hearth's are opened too (RocksDB refuses otherwise) and left alone.
 * HEARTH_EINVAL for an empty path, HEARTH_EIO (RocksDB's message) when the
 * directory cannot be created, has less than 1 MiB free, or RocksDB refuses
 * to open (e.g. another process holds its LOCK). */
int hearth_kv_open(const hearth_kv_opts *o, hearth_kv **out, hearth_err *err);

/* Close RocksDB (no flush needed: its WAL holds the memtables) and free
 * the handle. No iterator may be alive. NULL is a no-op. */
void hearth_kv_close(hearth_kv *kv);

/* --- Write batches: a list of operations applied atomically. --- */
typedef struct hearth_kv_batch hearth_kv_batch;

/* NULL on out of memory. */
hearth_kv_batch *hearth_kv_batch_new(void);
void             hearth_kv_batch_free(hearth_kv_batch *b); /* NULL no-op */
/* Forget every operation, keeping the memory for reuse. */
void hearth_kv_batch_clear(hearth_kv_batch *b);
/* Adders copy k and v. An allocation failure is remembered and reported
 * by hearth_kv_write as HEARTH_ENOMEM (nothing written). */
void hearth_kv_batch_put(hearth_kv_batch *b, hearth_kv_cf cf, const void *k,
    size_t kl, const void *v, size_t vl);
void hearth_kv_batch_delete(
    hearth_kv_batch *b, hearth_kv_cf cf, const void *k, size_t kl);
/* Delete every key in [begin, end) (bytewise order) with one tombstone. */
void hearth_kv_batch_delete_range(hearth_kv_batch *b, hearth_kv_cf cf,
    const void *begin, size_t bl, const void *end, size_t el);
/* Bytes of keys and values added so far (what the write will carry). */
size_t hearth_kv_batch_bytes(const hearth_kv_batch *b);
/* Number of operations added so far. */
size_t hearth_kv_batch_count(const hearth_kv_batch *b);

/* Apply b atomically; sync = 1 fsyncs RocksDB's WAL before returning (the
 * write is then durable; concurrent synced writes share one fsync). b is
 * not consumed: the caller frees or clears it. HEARTH_EIO with RocksDB's
 * message on failure, in which case nothing of b was applied. Memory: the
 * batch's bytes are copied once more into RocksDB's batch for the length
 * of the call (a block flush briefly needs twice its size). */
int hearth_kv_write(
    hearth_kv *kv, hearth_kv_batch *b, int sync, hearth_err *err);

/* Copy the value of key k into arena a (NUL-terminated for convenience,
 * the terminator not counted in *vl). HEARTH_ENOTFOUND (err untouched)
 * when absent, HEARTH_ENOMEM when the arena is full, HEARTH_EIO. */
int hearth_kv_get(hearth_kv *kv, hearth_kv_cf cf, const void *k, size_t kl,
    hearth_arena *a, uint8_t **v, size_t *vl, hearth_err *err);

/* --- Iterators: ascending bytewise key order within [lower, upper). --- */
typedef struct hearth_kv_iter hearth_kv_iter;

/* New iterator over cf, positioned at the first key >= lower. The bounds
 * are copied; NULL (or length 0 with NULL) means open on that side. NULL
 * only on out of memory; if RocksDB is unusable the iterator is invalid
 * and hearth_kv_iter_error reports why. */
hearth_kv_iter *hearth_kv_iter_new(hearth_kv *kv, hearth_kv_cf cf,
    const void *lower, size_t ll, const void *upper, size_t ul);
int  hearth_kv_iter_valid(hearth_kv_iter *it); /* 1 = positioned on a key */
void hearth_kv_iter_next(hearth_kv_iter *it);  /* requires valid */
void hearth_kv_iter_prev(hearth_kv_iter *it);  /* requires valid */
/* Position at the first key >= k (still inside the bounds). */
void hearth_kv_iter_seek(hearth_kv_iter *it, const void *k, size_t kl);
/* Position at the last key < upper (e.g. the highest WAL sequence). */
void hearth_kv_iter_seek_last(hearth_kv_iter *it);
/* Borrowed until the next move; requires valid. */
const uint8_t *hearth_kv_iter_key(hearth_kv_iter *it, size_t *kl);
const uint8_t *hearth_kv_iter_value(hearth_kv_iter *it, size_t *vl);
/* After the iterator turns invalid: 0 if it simply ran out of keys, else
 * HEARTH_EIO/HEARTH_ECORRUPT with RocksDB's message. */
int  hearth_kv_iter_error(hearth_kv_iter *it, hearth_err *err);
void hearth_kv_iter_free(hearth_kv_iter *it); /* NULL is a no-op */

/* --- Maintenance. --- */

/* Write RocksDB's WAL buffer to the file and, with sync = 1, fsync it
 * (the `storage.wal_sync: interval` mode calls this periodically). */
int hearth_kv_flush_wal(hearth_kv *kv, int sync, hearth_err *err);

/* Compact cf's keys in [begin, end] (NULL = open side) down to the
 * bottommost level, waiting for it to finish: data covered by deletes
 * and range deletes is dropped and its disk space returned. HEARTH_EIO
 * without compacting while a failure awaits hearth_kv_resume. */
int hearth_kv_compact_range(hearth_kv *kv, hearth_kv_cf cf, const void *begin,
    size_t bl, const void *end, size_t el, hearth_err *err);

/* Write every CF's memtables to SST files, waiting for it to finish. */
int hearth_kv_flush(hearth_kv *kv, hearth_err *err);

/* Clear a background error (e.g. after ENOSPC) by closing and reopening
 * RocksDB, which replays its WAL: nothing acknowledged is lost. Does
 * nothing (returns 0) when no failure was seen since the last open.
 * HEARTH_EIO without touching the open database while the disk has less
 * than 1 MiB free. Waits for all users (calls, iterators) to finish,
 * HEARTH_EBUSY after 10 s. If the reopen itself fails the handle stays
 * valid, every call returns HEARTH_EIO saying so, and a later resume
 * tries again. Callers typically retry it every few seconds while writes
 * fail. */
int hearth_kv_resume(hearth_kv *kv, hearth_err *err);

typedef struct hearth_kv_stats {
	uint64_t memtable_bytes;         /* all CFs, incl. pinned/flushing */
	uint64_t block_cache_bytes;      /* shared cache usage */
	uint64_t table_readers_bytes;    /* SST readers outside the cache */
	uint64_t sst_bytes_total;        /* all SST files of all CFs */
	uint64_t sst_bytes_per_level[7]; /* live SST bytes, all CFs */
	uint64_t files_per_level[7];     /* live SST files, all CFs */
	uint64_t wal_cf_bytes;           /* live SST + memtables of "wal" */
	uint64_t blocks_cf_bytes;        /* live SST + memtables of "blocks" */
	uint64_t pending_compaction_bytes; /* RocksDB's estimate, all CFs */
	uint64_t background_errors;        /* since hearth_kv_open */
	uint64_t reopens;                  /* successful resumes */
	/* Failed writes, WAL syncs, flushes and compactions since open. */
	uint64_t write_errors;
} hearth_kv_stats;

/* Fill *out (zeroed first). HEARTH_EIO when RocksDB is closed after a
 * failed resume (the counters that do not need it are still filled). */
int hearth_kv_stats_get(hearth_kv *kv, hearth_kv_stats *out);

#endif
