/*
 * kv_impl.h: what kv.c and kv_rw.c share; included only by them.
 *
 * The users gate (kv_enter/kv_leave) is what lets hearth_kv_resume close
 * and reopen RocksDB under callers: see the comment at the top of kv.c.
 */
#ifndef HEARTH_KV_IMPL_H
#define HEARTH_KV_IMPL_H

#include <pthread.h>
#include <rocksdb/c.h>

#include "kv.h"

struct hearth_kv {
	pthread_mutex_t mu;
	pthread_cond_t  cv; /* users or reopening changed; MONOTONIC */
	/* Under mu. */
	unsigned users;
	int      reopening;
	int      failed;       /* a write/flush/compaction failed since open */
	uint64_t write_errors; /* such failures since hearth_kv_open */
	uint64_t bg_errors_base; /* background errors of earlier opens */
	uint64_t reopens;
	char     closed_msg[HEARTH_ERR_MSG_MAX]; /* why db is NULL */

	/* Changed only while reopening (users == 0); read by users. */
	rocksdb_t                       *db;
	rocksdb_column_family_handle_t  *cf[HEARTH_KV_NCF];
	rocksdb_column_family_handle_t **extra; /* CFs that are not ours */
	size_t                           n_extra;

	/* Immutable after open. RocksDB keeps pointers into the options
	 * (table factory, cache), so they live until the last close. */
	char                     *path;
	rocksdb_options_t        *dbo;
	rocksdb_options_t        *cfo[HEARTH_KV_NCF];
	rocksdb_cache_t          *cache;
	rocksdb_writeoptions_t   *wo_sync, *wo_nosync;
	rocksdb_readoptions_t    *ro;
	rocksdb_flushoptions_t   *fo;
	rocksdb_compactoptions_t *co;
};

/* Convert a RocksDB errptr string (freed here) into a hearth error:
 * "Corruption..." -> HEARTH_ECORRUPT, anything else -> HEARTH_EIO, with
 * "<what>: <RocksDB's message>". Returns the code. */
int kv_status(hearth_err *err, char *rerr, const char *what);

/* Register a user; returns the open db, or NULL (err filled, HEARTH_EIO)
 * when RocksDB is closed after a failed resume. kv_leave must follow in
 * both cases. Waits while a resume is closing and reopening. */
rocksdb_t *kv_enter(hearth_kv *kv, hearth_err *err);
/* failed = 1 records a write-path failure (write, WAL sync, flush,
 * compaction) that hearth_kv_resume should clear by reopening. */
void kv_leave(hearth_kv *kv, int failed);

#endif
