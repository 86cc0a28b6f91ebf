/*
 * store_impl: the store's private state, shared by store.c (lifecycle,
 * push, queries, cut, flush) and store_run.c (the background thread:
 * replay, schedule, resume). Include only from ingester/store*.c.
 * The locks and what they guard are described in store.h.
 */
#ifndef HEARTH_STORE_IMPL_H
#define HEARTH_STORE_IMPL_H

#include "block.h"
#include "kv.h"
#include "store.h"

#include <pthread.h>
#include <stdatomic.h>

enum {
	STORE_OPEN = 0,  /* opened, thread not started */
	STORE_REPLAYING, /* thread replaying the WAL */
	STORE_READY,
	STORE_FAILED, /* replay failed: s->fail says why */
	STORE_STOPPED
};

/* Flush retry backoff: first retry after 1 s, doubling to 30 s. */
#define STORE_BACKOFF_MIN_MS 1000
#define STORE_BACKOFF_MAX_MS 30000

/* A head waiting to be written as blocks. */
typedef struct store_flushing {
	hearth_head *head;
	uint64_t     seq;   /* last WAL sequence the head holds */
	size_t       bytes; /* its size, constant once cut */
	size_t       cost;  /* its cost (store_head_cost), likewise */
} store_flushing;

/* What a head costs against max_head_bytes: its bytes plus
 * STORE_SAMPLE_COST per sample. Samples are packed in the head (a few
 * bytes each), but writing a head as blocks, and compacting blocks,
 * handles them as (uint32 node, int64 value) arrays: a head is admitted
 * at its peak cost, so a budget-sized head still flushes within the
 * budget (and blocks stay the size they had before samples were packed).
 * The head's own RAM is its bytes only. */
#define STORE_SAMPLE_COST 12

struct hearth_store {
	hearth_store_cfg cfg;
	char            *path;      /* cfg.path points here */
	size_t           cut_bytes; /* 80 % of max_head_bytes */
	hearth_log       log;
	hearth_metrics  *metrics;
	hearth_kv       *kv;
	hearth_wal      *wal;
	hearth_blocks   *blocks;

	pthread_mutex_t  work_mu;
	pthread_mutex_t  settings_mu; /* store_settings.c: read-compare-write */
	pthread_rwlock_t cut_lock;
	pthread_rwlock_t view_lock;
	/* Replaced under cut_lock and view_lock, both exclusive: read it
	 * holding either one. */
	hearth_head *head;
	/* Oldest first (invariant (2) of store.h); changed under view_lock
	 * exclusive, and only by a thread holding work_mu. */
	store_flushing *flushing;
	size_t          n_flushing, cap_flushing;
	atomic_size_t   flushing_bytes; /* sum of flushing[].bytes */
	atomic_size_t   flushing_cost;  /* sum of flushing[].cost */

	atomic_int state;
	hearth_err fail;     /* written before state becomes FAILED */
	uint64_t   replayed; /* written before state becomes READY */

	/* Background thread. mu guards stop and the wake-up. */
	pthread_mutex_t mu;
	pthread_cond_t  cond; /* CLOCK_MONOTONIC */
	int             stop;
	pthread_t       thread;
	int             thread_started;
	atomic_int      cut_wanted;   /* a push saw the head past cut_bytes */
	atomic_int      needs_resume; /* a write failed on the disk */
	/* When the current head began (monotonic ms): set by cuts (under
	 * work_mu, from any thread), read by the thread's wait. */
	atomic_int_least64_t head_started_ms;
	/* Schedule, monotonic ms; the background thread only. */
	int64_t flush_at, flush_backoff_ms;
	int64_t resume_at, resume_backoff_ms;
	int64_t sync_at, compact_at, retention_at;

	hearth_metric *m_cuts;
	hearth_metric *m_flush_seconds;
	hearth_metric *m_flush_failures;
	hearth_metric *m_rejected;
	hearth_metric *m_flushing_heads;
	hearth_metric *m_rocksdb_memory;
	hearth_metric *m_sst_bytes;
	hearth_metric *m_bg_errors;
};

/* ---- store.c ---- */

/* Lock-free; see STORE_SAMPLE_COST. */
size_t store_head_cost(const hearth_head *h);
/* 0 when READY, else HEARTH_EUNAVAIL saying why. */
int store_not_ready(hearth_store *s, hearth_err *err);
/* Cut the current head (work_mu held): 1 when cut, 0 when it was empty.
 * seq: the last WAL sequence the head holds; 0 = the WAL's last (pushes
 * are excluded while it is read). HEARTH_ENOMEM. */
int store_cut(
    hearth_store *s, const char *reason, uint64_t seq, hearth_err *err);
/* Write the oldest flushing head (work_mu held): 1 when written, 0 when
 * none is pending, or the error (logged here). */
int store_flush_one(hearth_store *s, hearth_err *err);
/* Remember that the disk failed a write, so the thread resumes kv. */
void store_disk_failed(hearth_store *s, int rc);
/* Wake the background thread. */
void store_wake(hearth_store *s);

/* ---- store_run.c ---- */

void *store_run(void *arg);

/* 0 when READY, else HEARTH_EUNAVAIL saying why (store.c). */
int store_not_ready(hearth_store *s, hearth_err *err);

#endif
