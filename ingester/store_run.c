/* The store's background thread (store.h): WAL replay at start, then the
 * schedule of cuts, flushes, WAL syncs, compaction and retention, and the
 * reopening of RocksDB after the disk failed a write. */
#include "clock.h"
#include "store_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The space a reopen may need: RocksDB replays its log into memtables and
 * writes them out, up to one write buffer per column family; capped so a
 * huge buffer does not make the probe itself a burden. */
#define STORE_PROBE_MIN ((size_t) 1 << 20)
#define STORE_PROBE_MAX ((size_t) 64 << 20)
#define STORE_DEFAULT_WBUF ((size_t) 32 << 20)

/* ---- replay ------------------------------------------------------------ */

typedef struct store_replay_ctx {
	hearth_store *s;
	hearth_arena *a;
	uint64_t      skipped;
} store_replay_ctx;

static int
store_replay_record(void *ctx, uint64_t seq, const char *tenant,
    const uint8_t *push, size_t len, hearth_err *err)
{
	store_replay_ctx  *x = ctx;
	hearth_store      *s = x->s;
	hearth_err         e;
	ProtobufCAllocator pa
	    = { hearth_arena_pb_alloc, hearth_arena_pb_free, x->a };
	Hearth__Ingester__PushRequest *req
	    = hearth__ingester__push_request__unpack(&pa, len, push);
	if (req == NULL)
		return hearth_err_set(err, HEARTH_ECORRUPT,
		    "wal: record %llu holds a push that does not decode; the "
		    "WAL is damaged",
		    (unsigned long long) seq);
	int rc = hearth_head_push(s->head, tenant, req, NULL, NULL, &e);
	hearth_arena_reset(x->a);
	if (rc == HEARTH_ENOMEM)
		return hearth_err_set(err, rc,
		    "wal: out of memory replaying record %llu",
		    (unsigned long long) seq);
	if (rc != 0) {
		/* Apply is deterministic: this push failed the same way when
		 * it arrived, so it was never acknowledged. */
		char q[600];
		x->skipped++;
		hearth_log_write(&s->log, HEARTH_LOG_WARN,
		    "wal record skipped", "seq=%llu tenant=%s err=%s",
		    (unsigned long long) seq, tenant,
		    hearth_log_quote(q, sizeof(q), e.msg));
		return 0;
	}
	if (store_head_cost(s->head) < s->cut_bytes)
		return 0;
	/* The WAL can hold more than one head's worth (several heads were
	 * waiting when the process died): cut as a push would, and write
	 * the blocks now so memory stays within the budget. */
	pthread_mutex_lock(&s->work_mu);
	rc = store_cut(s, "replay", seq, &e);
	while (rc >= 0 && (rc = store_flush_one(s, &e)) > 0)
		;
	pthread_mutex_unlock(&s->work_mu);
	return 0; /* a failed flush is retried by the schedule */
}

static int
store_replay(hearth_store *s)
{
	store_replay_ctx x  = { s, hearth_arena_new(0), 0 };
	uint64_t         n  = 0;
	int64_t          t0 = hearth_clock_mono_ms();
	hearth_err       err;
	int              rc;
	hearth_err_clear(&err);
	if (x.a == NULL)
		rc = hearth_err_set(&err, HEARTH_ENOMEM, "wal: out of memory");
	else
		rc = hearth_wal_replay(
		    s->wal, store_replay_record, &x, &n, &err);
	hearth_arena_free(x.a);
	if (rc != 0) {
		char q[600];
		hearth_err_prefix(&err, "storage at %s", s->path);
		s->fail = err;
		atomic_store(&s->state, STORE_FAILED);
		hearth_log_write(&s->log, HEARTH_LOG_ERROR,
		    "wal replay failed", "records=%llu err=%s",
		    (unsigned long long) n,
		    hearth_log_quote(q, sizeof(q), err.msg));
		return rc;
	}
	s->replayed = n;
	hearth_log_write(&s->log, HEARTH_LOG_INFO, "wal replay done",
	    "records=%llu skipped=%llu head_bytes=%zu duration_ms=%lld",
	    (unsigned long long) n, (unsigned long long) x.skipped,
	    hearth_head_bytes(s->head), (long long) (hearth_clock_mono_ms() - t0));
	atomic_store(&s->state, STORE_READY);
	return 0;
}

/* ---- resume after a disk failure --------------------------------------- */

/* 1 when the storage directory takes a file of the size a reopen may
 * write. Reopening RocksDB on a disk that is still full fails and leaves
 * it closed, which would fail queries too; so only try once this works. */
static int
store_space_ok(hearth_store *s)
{
	char   p[4200];
	size_t want = s->cfg.write_buffer_bytes ? s->cfg.write_buffer_bytes
	                                        : STORE_DEFAULT_WBUF;
	if (want < STORE_PROBE_MIN)
		want = STORE_PROBE_MIN;
	if (want > STORE_PROBE_MAX)
		want = STORE_PROBE_MAX;
	snprintf(p, sizeof(p), "%s/.hearth-space-probe", s->path);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return 0;
	int r = posix_fallocate(fd, 0, (off_t) want);
	close(fd);
	unlink(p);
	return r == 0;
}

static int64_t
store_backoff(int64_t *b)
{
	*b = *b == 0 ? STORE_BACKOFF_MIN_MS : *b * 2;
	if (*b > STORE_BACKOFF_MAX_MS)
		*b = STORE_BACKOFF_MAX_MS;
	return *b;
}

static void
store_try_resume(hearth_store *s, int64_t now)
{
	hearth_err err;
	char       q[600];
	if (!store_space_ok(s)) {
		s->resume_at = now + store_backoff(&s->resume_backoff_ms);
		HEARTH_LOG_DEBUGF(&s->log, "storage still unwritable",
		    "path=%s retry_ms=%lld", s->path,
		    (long long) s->resume_backoff_ms);
		return;
	}
	if (hearth_kv_resume(s->kv, &err) != 0) {
		s->resume_at = now + store_backoff(&s->resume_backoff_ms);
		hearth_log_write(&s->log, HEARTH_LOG_WARN,
		    "storage resume failed", "retry_ms=%lld err=%s",
		    (long long) s->resume_backoff_ms,
		    hearth_log_quote(q, sizeof(q), err.msg));
		return;
	}
	atomic_store(&s->needs_resume, 0);
	s->resume_backoff_ms = 0;
	s->flush_at          = now; /* retry the pending flush at once */
	hearth_log_write(
	    &s->log, HEARTH_LOG_INFO, "storage resumed", "path=%s", s->path);
}

/* ---- the schedule ------------------------------------------------------ */

static size_t
store_n_flushing(hearth_store *s)
{
	pthread_rwlock_rdlock(&s->view_lock);
	size_t n = s->n_flushing;
	pthread_rwlock_unlock(&s->view_lock);
	return n;
}

static void
store_tick_cut(hearth_store *s, int64_t now)
{
	hearth_err  err;
	const char *reason = NULL;
	if (store_head_cost(s->head) >= s->cut_bytes)
		reason = "size";
	else if (now - atomic_load(&s->head_started_ms)
	        >= s->cfg.block_duration_ms
	    && store_n_flushing(s) == 0)
		reason = "time";
	atomic_store(&s->cut_wanted, 0);
	if (reason != NULL && store_cut(s, reason, 0, &err) < 0) {
		char q[600];
		atomic_store(
		    &s->head_started_ms, now); /* try again a block later */
		hearth_log_write(&s->log, HEARTH_LOG_ERROR, "head cut failed",
		    "reason=%s err=%s", reason,
		    hearth_log_quote(q, sizeof(q), err.msg));
	}
}

/* A background step's result: 1 = more to do now. */
static int
store_tick_step(hearth_store *s, const char *what, int rc,
    const hearth_err *err, int64_t *at, int64_t next)
{
	if (rc > 0)
		return 1;
	*at = next;
	if (rc < 0) {
		char q[600];
		store_disk_failed(s, rc);
		hearth_log_write(&s->log, HEARTH_LOG_WARN,
		    "storage step failed", "step=%s err=%s", what,
		    hearth_log_quote(q, sizeof(q), err->msg));
	}
	return 0;
}

/* Do what is due; 1 when there is more to do at once. */
static int
store_tick(hearth_store *s)
{
	hearth_err err;
	int        more = 0, rc;
	int64_t    now  = hearth_clock_mono_ms();
	pthread_mutex_lock(&s->work_mu);
	store_tick_cut(s, now);
	if (atomic_load(&s->needs_resume)) {
		if (now >= s->resume_at)
			store_try_resume(s, now);
		if (atomic_load(&s->needs_resume)) {
			/* Writes would fail until RocksDB is reopened. */
			pthread_mutex_unlock(&s->work_mu);
			return 0;
		}
	}
	if (now >= s->flush_at && store_n_flushing(s) > 0) {
		rc = store_flush_one(s, &err);
		if (rc > 0) {
			s->flush_backoff_ms = 0;
			more                = store_n_flushing(s) > 0;
		} else if (rc < 0) {
			s->flush_at
			    = now + store_backoff(&s->flush_backoff_ms);
		}
	}
	if (s->cfg.wal_sync == HEARTH_WAL_SYNC_INTERVAL && now >= s->sync_at) {
		s->sync_at = now + s->cfg.wal_sync_interval_ms;
		if ((rc = hearth_wal_sync_now(s->wal, &err)) != 0)
			store_tick_step(s, "wal_sync", rc, &err, &s->sync_at,
			    s->sync_at); /* logs; the next sync retries */
	}
	if (now >= s->compact_at) {
		rc = hearth_blocks_compact_step(s->blocks, &err);
		more |= store_tick_step(s, "compaction", rc, &err,
		    &s->compact_at, now + s->cfg.compaction_interval_ms);
	}
	if (now >= s->retention_at && s->cfg.retention_ms != NULL) {
		rc = hearth_blocks_retention_step(s->blocks, hearth_clock_unix_ms(),
		    s->cfg.retention_ms, s->cfg.retention_ctx, &err);
		more |= store_tick_step(s, "retention", rc, &err,
		    &s->retention_at, now + s->cfg.retention_interval_ms);
	}
	pthread_mutex_unlock(&s->work_mu);
	return more;
}

static int64_t
store_min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* When the next step is due (monotonic ms). Only steps that store_tick
 * would run count: a deadline it skips would be in the past at once and
 * the thread would spin. */
static int64_t
store_next_at(hearth_store *s)
{
	/* A time cut waits for pending flushes, which finishing wakes. */
	int     pending = store_n_flushing(s) > 0;
	int64_t at      = pending
	         ? INT64_MAX
	         : atomic_load(&s->head_started_ms) + s->cfg.block_duration_ms;
	/* Storage down: only cuts and the resume attempts run. */
	if (atomic_load(&s->needs_resume))
		return store_min(at, s->resume_at);
	at = store_min(at, s->compact_at);
	if (s->cfg.retention_ms != NULL)
		at = store_min(at, s->retention_at);
	if (s->cfg.wal_sync == HEARTH_WAL_SYNC_INTERVAL)
		at = store_min(at, s->sync_at);
	if (pending)
		at = store_min(at, s->flush_at);
	return at;
}

void *
store_run(void *arg)
{
	hearth_store *s = arg;
	int64_t       now;
	atomic_store(&s->head_started_ms, hearth_clock_mono_ms());
	if (store_replay(s) != 0)
		return NULL;
	now = hearth_clock_mono_ms();
	atomic_store(&s->head_started_ms, now);
	s->flush_at     = now;
	s->sync_at      = now + s->cfg.wal_sync_interval_ms;
	s->compact_at   = now + s->cfg.compaction_interval_ms;
	s->retention_at = now; /* expire what aged while we were down */
	for (;;) {
		int more = store_tick(s);
		pthread_mutex_lock(&s->mu);
		if (!more && !s->stop && !atomic_load(&s->cut_wanted)) {
			int64_t         at = store_next_at(s);
			struct timespec ts = { (time_t) (at / 1000),
				(long) (at % 1000) * 1000000 };
			if (at > hearth_clock_mono_ms())
				pthread_cond_timedwait(&s->cond, &s->mu, &ts);
		}
		int stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
	}
	return NULL;
}
