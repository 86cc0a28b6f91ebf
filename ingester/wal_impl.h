/*
 * wal_impl: the wal module's private structure and the helpers shared by
 * wal.c (open, segments, append, sync, trim) and wal_replay.c (reading
 * segments back, replay). Include only from ingester/wal*.c.
 */
#ifndef HEARTH_WAL_IMPL_H
#define HEARTH_WAL_IMPL_H

#include "wal.h"

#include <pthread.h>
#include <stdatomic.h>

#define WAL_TRIMMED_KEY "wal/trimmed"
#define WAL_HDR		24 /* seq u64, tenant_len u32, push_len u32, check u64 */
#define WAL_SEGMENT_BYTES ((size_t) 64 << 20)
#define WAL_SEGMENT_MIN	  ((size_t) 4096)
#define WAL_SUFFIX	  ".wal"
/* With the always policy appends write into zeros written ahead of them
 * in steps of this size: an fdatasync of a record that does not change
 * the file's size or block map skips the inode and block-allocation work
 * (measured here on ext4: 40 % less CPU and 35 % less time per synced
 * 25 KB append). Replay already stops at the zeros of an unwritten tail.
 * The interval policy writes no zeros: its few syncs gain little from
 * them, while copying and writing back every byte twice cost it about
 * 4 % of ingest CPU (perf under ingest_bench's load). */
#define WAL_ZERO_AHEAD ((size_t) 4 << 20)
#define WAL_ZERO_CHUNK ((size_t) 64 << 10)
#define WAL_NAME_LEN	  (16 + sizeof(WAL_SUFFIX) - 1)

struct hearth_wal {
	hearth_kv	     *kv;
	hearth_wal_sync	      sync;
	char		     *dir;
	size_t		      seg_max;
	/* The last sequence handed out; assigned under mu (so segment
	 * names and record order agree), read lock-free. */
	atomic_uint_least64_t last;

	pthread_mutex_t mu;
	pthread_cond_t	cv; /* syncing ended */
	/* --- guarded by mu --- */
	int	 fd;	    /* current segment, -1 = none (roll first) */
	uint64_t off;	    /* bytes in it */
	uint64_t zeroed;    /* file size: records, then zeros ahead */
	uint64_t base;	    /* logical position of its first byte */
	uint64_t durable;   /* logical: every byte below is synced */
	uint64_t fail_gen;  /* bumped when a sync of appends failed */
	int	 syncing;   /* a leader's fdatasync runs (fd stays open) */
	int	 need_roll; /* the current segment takes no more records */
	int	 lost;	    /* a sync of it failed: unsynced bytes given up */
	int	 dirty;	    /* interval policy: written since the sync */
	uint64_t *segs;	    /* first sequences, ascending; last = current */
	size_t	  n_segs, cap_segs;

	hearth_metric *m_records;
	hearth_metric *m_bytes;
	hearth_metric *m_sync;
};

/* One record of a segment, pointing into the mapped file. */
typedef struct wal_rec {
	uint64_t       seq;
	const uint8_t *tenant;
	uint32_t       tenant_len;
	const uint8_t *push;
	uint32_t       push_len;
} wal_rec;

/* Big-endian 8-byte key of the legacy column family / the trim mark. */
uint64_t wal_key_decode(const uint8_t *k);
/* Little-endian n-byte integer at p. */
uint64_t wal_le_get(const uint8_t *p, int n);
/* The record check: XXH3-64 of the first 16 header bytes and the
 * tenant, as the seed of XXH3-64 of the push. */
uint64_t wal_check(const uint8_t *hdr16, const void *tenant, size_t tl,
    const void *push, size_t pl);
/* <dir>/<first: 16 hex digits>.wal */
void wal_seg_path(const hearth_wal *w, uint64_t first, char *buf,
    size_t size);
/* The trim mark (0 when none). */
int wal_read_trimmed(hearth_kv *kv, uint64_t *out, hearth_err *err);

/* ---- wal_replay.c ---- */

/* 1 and *r when a whole, checked record with seq >= min_seq starts at
 * p[*off] (then *off moves past it); 0 at the end of the segment's valid
 * part. */
int wal_next(const uint8_t *p, size_t n, size_t *off, uint64_t min_seq,
    wal_rec *r);
/* Map segment first read-only (*map NULL and *len 0 for an empty file);
 * HEARTH_EIO naming the file. */
int wal_map(const hearth_wal *w, uint64_t first, const uint8_t **map,
    size_t *len, hearth_err *err);
void wal_unmap(const uint8_t *map, size_t len);

#endif
