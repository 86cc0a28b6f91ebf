#include "clock.h"
#include "cond.h"
#include "store_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

size_t
store_head_cost(const hearth_head *h)
{
	return hearth_head_bytes(h) + STORE_SAMPLE_COST * hearth_head_samples(h);
}

static void
store_rwlock_init(pthread_rwlock_t *l)
{
	/* Writers first: a stream of pushes (or queries) holding the lock
	 * shared must not keep a cut (or a flush commit) out for long. */
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(
	    &attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(l, &attr);
	pthread_rwlockattr_destroy(&attr);
}

void
store_wake(hearth_store *s)
{
	pthread_mutex_lock(&s->mu);
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

void
store_disk_failed(hearth_store *s, int rc)
{
	/* Only the disk (or RocksDB's view of it) needs a reopen; running
	 * out of memory does not. */
	if (rc != HEARTH_EIO && rc != HEARTH_ECORRUPT)
		return;
	if (!atomic_exchange(&s->needs_resume, 1))
		store_wake(s);
}

/* ---- configuration and metrics ---------------------------------------- */

static int
store_check_cfg(const hearth_store_cfg *c, hearth_err *err)
{
	if (c->path == NULL || c->path[0] == '\0')
		return hearth_err_set(
		    err, HEARTH_EINVAL, "storage.path is empty");
	if (c->wal_sync != HEARTH_WAL_SYNC_ALWAYS
	    && c->wal_sync != HEARTH_WAL_SYNC_INTERVAL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "storage.wal_sync must be always or interval");
	if (c->wal_sync == HEARTH_WAL_SYNC_INTERVAL
	    && c->wal_sync_interval_ms <= 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "storage.wal_sync_interval must be > 0");
	if (c->block_duration_ms <= 0)
		return hearth_err_set(
		    err, HEARTH_EINVAL, "ingester.block_duration must be > 0");
	if (c->max_head_bytes == 0)
		return hearth_err_set(
		    err, HEARTH_EINVAL, "ingester.max_head_bytes must be > 0");
	if (c->compaction_interval_ms <= 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "ingester.compaction_interval must be > 0");
	if (c->retention_interval_ms <= 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "ingester.retention_interval must be > 0");
	return 0;
}

/* RocksDB's numbers, read on every scrape. */
static void
store_collect(void *ctx, hearth_metrics *m)
{
	static const char *const lv[] = { "0", "1", "2", "3", "4", "5", "6" };
	hearth_store            *s    = ctx;
	hearth_kv_stats          st;
	(void) m;
	hearth_kv_stats_get(s->kv, &st);
	const char *k[1] = { "memtables" };
	hearth_metric_set(s->m_rocksdb_memory, k, (double) st.memtable_bytes);
	k[0] = "block_cache";
	hearth_metric_set(
	    s->m_rocksdb_memory, k, (double) st.block_cache_bytes);
	k[0] = "table_readers";
	hearth_metric_set(
	    s->m_rocksdb_memory, k, (double) st.table_readers_bytes);
	for (size_t i = 0; i < sizeof(lv) / sizeof(lv[0]); i++) {
		k[0] = lv[i];
		hearth_metric_set(
		    s->m_sst_bytes, k, (double) st.sst_bytes_per_level[i]);
	}
	hearth_metric_set(s->m_bg_errors, NULL, (double) st.background_errors);
	pthread_rwlock_rdlock(&s->view_lock);
	hearth_metric_set(s->m_flushing_heads, NULL, (double) s->n_flushing);
	pthread_rwlock_unlock(&s->view_lock);
}

static int
store_metrics(hearth_store *s, hearth_err *err)
{
	static const char *const reason[] = { "reason" };
	static const char *const kind[]   = { "kind" };
	static const char *const level[]  = { "level" };
	hearth_metrics          *m        = s->metrics;
	/* A flush writes a head of up to max_head_bytes: 10 ms .. minutes. */
	static const double buckets[] = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
		2.5, 5, 10, 30, 60, 120 };
	s->m_cuts
	    = hearth_metrics_counter(m, "hearth_ingester_head_cuts_total",
	        "Head cuts, by reason (time, size, replay, manual, shutdown).",
	        1, reason);
	s->m_flush_seconds = hearth_metrics_histogram(m,
	    "hearth_ingester_flush_duration_seconds",
	    "Time to write one cut head as blocks (the successful attempt).",
	    0, NULL, buckets, sizeof(buckets) / sizeof(buckets[0]));
	s->m_flush_failures
	    = hearth_metrics_counter(m, "hearth_ingester_flush_failures_total",
	        "Failed attempts to write a cut head as blocks (retried).", 0,
	        NULL);
	s->m_rejected = hearth_metrics_counter(m,
	    "hearth_ingester_rejected_pushes_total",
	    "Pushes refused by the ingester's storage, by reason (head_full "
	    "and series_limit: 429, wal_error and no_memory: 5xx, not_ready: "
	    "503).",
	    1, reason);
	s->m_flushing_heads
	    = hearth_metrics_gauge(m, "hearth_ingester_flushing_heads",
	        "Cut heads waiting to be written as blocks.", 0, NULL);
	s->m_rocksdb_memory = hearth_metrics_gauge(m,
	    "hearth_rocksdb_memory_bytes",
	    "RocksDB memory: memtables, block_cache (usage), table_readers.",
	    1, kind);
	s->m_sst_bytes = hearth_metrics_gauge(m, "hearth_storage_sst_bytes",
	    "Bytes of RocksDB SST files per LSM level, all column families.",
	    1, level);
	s->m_bg_errors
	    = hearth_metrics_gauge(m, "hearth_storage_background_errors",
	        "RocksDB background errors since start (a disk problem).", 0,
	        NULL);
	if (hearth_metrics_on_collect(m, store_collect, s) != 0)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "store: out of memory");
	/* Every reason shows as 0 from the start, so rate() and alerts on
	 * them work before the first event. */
	static const char *const cut_reasons[]	  = { "time", "size", "replay",
		   "manual", "shutdown" };
	static const char *const reject_reasons[] = { "head_full",
		"wal_error", "not_ready", "series_limit", "no_memory" };
	for (size_t i = 0; i < sizeof(cut_reasons) / sizeof(*cut_reasons);
	     i++) {
		const char *lv[] = { cut_reasons[i] };
		hearth_metric_add(s->m_cuts, lv, 0);
	}
	for (size_t i = 0;
	     i < sizeof(reject_reasons) / sizeof(*reject_reasons); i++) {
		const char *lv[] = { reject_reasons[i] };
		hearth_metric_add(s->m_rejected, lv, 0);
	}
	return 0;
}

static void
store_reject(hearth_store *s, const char *reason)
{
	const char *lv[1] = { reason };
	hearth_metric_add(s->m_rejected, lv, 1);
}

/* ---- lifecycle ------------------------------------------------------- */

int
hearth_store_open(const hearth_store_cfg *cfg, const hearth_log *log,
    hearth_metrics *m, hearth_store **out, hearth_err *err)
{
	int rc;
	*out = NULL;
	if ((rc = store_check_cfg(cfg, err)) != 0)
		return rc;
	hearth_store *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->path = strdup(cfg->path)) == NULL) {
		free(s);
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "store: out of memory");
	}
	s->cfg       = *cfg;
	s->cfg.path  = s->path;
	s->cut_bytes = cfg->max_head_bytes / 10 * 8;
	if (log != NULL)
		s->log = *log;
	else
		hearth_log_init(&s->log, "store", HEARTH_LOG_INFO);
	s->metrics = m;
	pthread_mutex_init(&s->work_mu, NULL);
	pthread_mutex_init(&s->settings_mu, NULL);
	pthread_mutex_init(&s->mu, NULL);
	hearth_cond_init(&s->cond);
	store_rwlock_init(&s->cut_lock);
	store_rwlock_init(&s->view_lock);
	atomic_init(&s->state, STORE_OPEN);
	atomic_init(&s->flushing_bytes, 0);
	atomic_init(&s->flushing_cost, 0);
	atomic_init(&s->cut_wanted, 0);
	atomic_init(&s->needs_resume, 0);
	atomic_init(&s->head_started_ms, 0);
	hearth_kv_opts ko
	    = { s->path, cfg->block_cache_bytes, cfg->write_buffer_bytes };
	if ((rc = hearth_kv_open(&ko, &s->kv, err)) != 0) {
		hearth_store_free(s); /* kv's message names the path */
		return rc;
	}
	char wal_dir[4200];
	snprintf(wal_dir, sizeof(wal_dir), "%s/wal", s->path);
	if ((rc = hearth_wal_open(s->kv, wal_dir, cfg->wal_sync, m, &s->wal,
	         err))
	        != 0
	    || (rc = hearth_blocks_open(s->kv, &s->log, m, &s->blocks, err))
	        != 0
	    || (rc = hearth_head_new(&s->head, err)) != 0
	    || (m != NULL && (rc = store_metrics(s, err)) != 0)) {
		hearth_err_prefix(err, "storage at %s", s->path);
		hearth_store_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int
hearth_store_start(hearth_store *s, hearth_err *err)
{
	HEARTH_ASSERT(atomic_load(&s->state) == STORE_OPEN);
	atomic_store(&s->state, STORE_REPLAYING);
	if (pthread_create(&s->thread, NULL, store_run, s) != 0) {
		atomic_store(&s->state, STORE_OPEN);
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "store: cannot start the background thread");
	}
	s->thread_started = 1;
	return 0;
}

int
hearth_store_ready(hearth_store *s, hearth_err *err)
{
	int st = atomic_load(&s->state);
	if (st == STORE_READY)
		return 1;
	if (st == STORE_FAILED) {
		if (err != NULL)
			*err = s->fail;
		return s->fail.code != 0 ? s->fail.code : HEARTH_EINTERNAL;
	}
	return 0;
}

static void
store_join(hearth_store *s)
{
	if (!s->thread_started)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->thread, NULL);
	s->thread_started = 0;
}

void
hearth_store_stop(hearth_store *s)
{
	hearth_err err;
	int        rc;
	if (s == NULL || atomic_load(&s->state) == STORE_STOPPED)
		return;
	store_join(s);
	if (atomic_load(&s->state) == STORE_READY) {
		pthread_mutex_lock(&s->work_mu);
		rc = store_cut(s, "shutdown", 0, &err);
		while (rc >= 0 && (rc = store_flush_one(s, &err)) > 0)
			;
		pthread_mutex_unlock(&s->work_mu);
		if (rc < 0)
			hearth_log_write(&s->log, HEARTH_LOG_ERROR,
			    "shutdown left heads unwritten",
			    "flushing=%zu note=\"the WAL keeps them; the next "
			    "start replays it\"",
			    s->n_flushing);
	}
	atomic_store(&s->state, STORE_STOPPED);
}

void
hearth_store_free(hearth_store *s)
{
	if (s == NULL)
		return;
	store_join(s);
	if (s->metrics != NULL)
		hearth_metrics_remove_collect(s->metrics, store_collect, s);
	for (size_t i = 0; i < s->n_flushing; i++)
		hearth_head_free(s->flushing[i].head);
	free(s->flushing);
	hearth_head_free(s->head);
	hearth_blocks_free(s->blocks);
	hearth_wal_free(s->wal);
	hearth_kv_close(s->kv);
	pthread_rwlock_destroy(&s->cut_lock);
	pthread_rwlock_destroy(&s->view_lock);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->work_mu);
	pthread_mutex_destroy(&s->settings_mu);
	free(s->path);
	free(s);
}

void
hearth_store_stats_get(hearth_store *s, hearth_store_stats *out)
{
	hearth_head_stats   hs;
	hearth_blocks_stats bst;
	memset(out, 0, sizeof(*out));
	hearth_blocks_stats_get(s->blocks, NULL, &bst);
	for (int l = 0; l < HEARTH_BLOCKS_LEVELS; l++)
		out->block_bytes += bst.bytes[l];
	pthread_rwlock_rdlock(&s->view_lock);
	hearth_head_stats_get(s->head, NULL, &hs);
	out->head_series    = hs.series;
	out->head_bytes     = hearth_head_bytes(s->head);
	out->flushing_heads = s->n_flushing;
	/* Under the lock too: a cut moves bytes from the head to the
	 * flushing list under it, and a read on either side of the move
	 * would count them twice. */
	out->flushing_bytes = atomic_load(&s->flushing_bytes);
	pthread_rwlock_unlock(&s->view_lock);
	out->wal_last_seq   = hearth_wal_last_seq(s->wal);
	if (atomic_load(&s->state) >= STORE_READY)
		out->replayed = s->replayed;
}

void
hearth_store_foreach_tenant(
    hearth_store *s, hearth_head_tenant_fn fn, void *ctx)
{
	pthread_rwlock_rdlock(&s->view_lock);
	hearth_head_foreach_tenant(s->head, fn, ctx);
	pthread_rwlock_unlock(&s->view_lock);
}

/* ---- push -------------------------------------------------------------- */

int
store_not_ready(hearth_store *s, hearth_err *err)
{
	int st = atomic_load(&s->state);
	if (st == STORE_READY)
		return 0;
	return hearth_err_set(err, HEARTH_EUNAVAIL,
	    st == STORE_FAILED
	        ? "ingester: storage failed to start (see its log)"
	        : st == STORE_STOPPED
	        ? "ingester: shutting down"
	        : "ingester: replaying its WAL, retry shortly");
}

static size_t
store_push_profiles(const Hearth__Ingester__PushRequest *req)
{
	size_t n = 0;
	for (size_t i = 0; i < req->n_batches; i++)
		n += req->batches[i]->n_profiles;
	return n;
}

int
hearth_store_push(hearth_store *s, const char *tenant,
    const Hearth__Ingester__PushRequest *req, const uint8_t *raw,
    size_t raw_len, hearth_arena *scratch, uint64_t *profiles,
    uint64_t *samples, hearth_err *err)
{
	return hearth_store_push_logged(s, tenant, req, raw, raw_len, scratch,
	    profiles, samples, NULL, err);
}

int
hearth_store_push_logged(hearth_store *s, const char *tenant,
    const Hearth__Ingester__PushRequest *req, const uint8_t *raw,
    size_t raw_len, hearth_arena *scratch, uint64_t *profiles,
    uint64_t *samples, int *logged, hearth_err *err)
{
	int rc;
	if (logged != NULL)
		*logged = 0;
	if (profiles != NULL)
		*profiles = 0;
	if (samples != NULL)
		*samples = 0;
	if ((rc = store_not_ready(s, err)) != 0) {
		store_reject(s, "not_ready");
		return rc;
	}
	/* Validation first: a WAL record must always apply. */
	if ((rc = hearth_head_validate(tenant, req, err)) != 0)
		return rc;
	if (store_push_profiles(req) == 0)
		return 0;
	pthread_rwlock_rdlock(&s->cut_lock);
	size_t used
	    = store_head_cost(s->head) + atomic_load(&s->flushing_cost);
	if (used >= s->cfg.max_head_bytes) {
		pthread_rwlock_unlock(&s->cut_lock);
		store_reject(s, "head_full");
		return hearth_err_set(err, HEARTH_EBUSY,
		    "ingester head is full (max_head_bytes: %zu): retry later",
		    s->cfg.max_head_bytes);
	}
	/* The series limit, before the WAL: a refused push leaves no
	 * record (and replay never checks limits). */
	int64_t max_series = s->cfg.max_series != NULL
	    ? s->cfg.max_series(s->cfg.max_series_ctx, tenant)
	    : 0;
	if (max_series > 0
	    && (rc = hearth_head_check_series(
	            s->head, tenant, req, (size_t) max_series, err))
	        != 0) {
		pthread_rwlock_unlock(&s->cut_lock);
		store_reject(
		    s, rc == HEARTH_EBUSY ? "series_limit" : "no_memory");
		return rc;
	}
	rc = hearth_wal_append(
	    s->wal, tenant, raw, raw_len, scratch, NULL, err);
	if (rc != 0) {
		pthread_rwlock_unlock(&s->cut_lock);
		store_reject(s, "wal_error");
		store_disk_failed(s, rc);
		if (rc == HEARTH_ENOMEM)
			return rc;
		/* Whatever the disk said, for the client it is a 5xx. */
		hearth_err_prefix(err, "ingester: cannot write the WAL");
		if (err != NULL)
			err->code = HEARTH_EIO;
		return HEARTH_EIO;
	}
	if (logged != NULL)
		*logged = 1;
	rc = hearth_head_push(s->head, tenant, req, profiles, samples, err);
	size_t hb = store_head_cost(s->head);
	pthread_rwlock_unlock(&s->cut_lock);
	if (hb >= s->cut_bytes && !atomic_exchange(&s->cut_wanted, 1))
		store_wake(s);
	return rc;
}

/* ---- queries ----------------------------------------------------------- */

int
hearth_store_select_tree(hearth_store *s, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms, hearth_arena *scratch,
    hearth_fgtree *out, hearth_err *err)
{
	int rc;
	if ((rc = store_not_ready(s, err)) != 0)
		return rc;
	pthread_rwlock_rdlock(&s->view_lock);
	rc = hearth_head_select_tree(s->head, tenant, sel, filter, start_ms,
	    end_ms, scratch, out, err);
	for (size_t i = 0; rc == 0 && i < s->n_flushing; i++)
		rc = hearth_head_select_tree(s->flushing[i].head, tenant, sel,
		    filter, start_ms, end_ms, scratch, out, err);
	if (rc == 0)
		rc = hearth_blocks_select_tree(s->blocks, tenant, sel, filter,
		    start_ms, end_ms, scratch, out, err);
	pthread_rwlock_unlock(&s->view_lock);
	return rc;
}

int
hearth_store_select_span_tree(hearth_store *s, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    const hearth_head_spans *spans, int64_t start_ms, int64_t end_ms,
    hearth_arena *scratch, hearth_fgtree *out, hearth_err *err)
{
	int rc;
	if ((rc = store_not_ready(s, err)) != 0)
		return rc;
	pthread_rwlock_rdlock(&s->view_lock);
	rc = hearth_head_select_span_tree(s->head, tenant, sel, filter, spans,
	    start_ms, end_ms, scratch, out, err);
	for (size_t i = 0; rc == 0 && i < s->n_flushing; i++)
		rc = hearth_head_select_span_tree(s->flushing[i].head, tenant,
		    sel, filter, spans, start_ms, end_ms, scratch, out, err);
	if (rc == 0)
		rc = hearth_blocks_select_span_tree(s->blocks, tenant, sel,
		    filter, spans, start_ms, end_ms, scratch, out, err);
	pthread_rwlock_unlock(&s->view_lock);
	return rc;
}

int
hearth_store_select_series(hearth_store *s, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    int64_t start_ms, int64_t end_ms,
    int64_t step_ms, const char *const *group_by, size_t n_group_by,
    hearth_arena *arena, hearth_head_series **out, size_t *n_out,
    hearth_err *err)
{
	int rc;
	*out   = NULL;
	*n_out = 0;
	if ((rc = store_not_ready(s, err)) != 0)
		return rc;
	pthread_rwlock_rdlock(&s->view_lock);
	rc = hearth_head_select_series(s->head, tenant, sel, filter, start_ms,
	    end_ms, step_ms, group_by, n_group_by, arena, out, n_out, err);
	for (size_t i = 0; rc == 0 && i < s->n_flushing; i++) {
		hearth_head_series *more;
		size_t              n_more;
		rc = hearth_head_select_series(s->flushing[i].head, tenant,
		    sel, filter, start_ms, end_ms, step_ms, group_by,
		    n_group_by, arena, &more, &n_more, err);
		if (rc == 0
		    && hearth_head_series_merge(
		           out, n_out, more, n_more, arena)
		        != 0)
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "select: the series query needs more memory than "
			    "its limit allows");
	}
	if (rc == 0)
		rc = hearth_blocks_select_series(s->blocks, tenant, sel,
		    filter, start_ms, end_ms, step_ms, group_by, n_group_by,
		    arena, out, n_out, err);
	pthread_rwlock_unlock(&s->view_lock);
	return rc;
}

int
hearth_store_labels(hearth_store *s, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    const char *name, hearth_arena *arena, const char ***out, size_t *n_out,
    hearth_err *err)
{
	int rc;
	*out   = NULL;
	*n_out = 0;
	if ((rc = store_not_ready(s, err)) != 0)
		return rc;
	pthread_rwlock_rdlock(&s->view_lock);
	rc = hearth_head_labels(s->head, tenant, sel, start_ms, end_ms, name,
	    arena, out, n_out, err);
	for (size_t i = 0; rc == 0 && i < s->n_flushing; i++) {
		const char **more;
		size_t       n_more;
		rc = hearth_head_labels(s->flushing[i].head, tenant, sel,
		    start_ms, end_ms, name, arena, &more, &n_more, err);
		if (rc == 0
		    && hearth_head_labels_merge(
		           out, n_out, more, n_more, arena)
		        != 0)
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "labels: the query needs more memory than its "
			    "limit allows");
	}
	if (rc == 0)
		rc = hearth_blocks_labels(s->blocks, tenant, sel, start_ms,
		    end_ms, name, arena, out, n_out, err);
	pthread_rwlock_unlock(&s->view_lock);
	return rc;
}

/* ---- cut and flush ----------------------------------------------------- */

int
store_cut(hearth_store *s, const char *reason, uint64_t seq, hearth_err *err)
{
	hearth_head      *nh;
	hearth_head_stats st;
	int               rc;
	if ((rc = hearth_head_new(&nh, err)) != 0)
		return rc;
	/* Queries first: waiting for a long query must not hold pushes up,
	 * and pushes (which never take view_lock) finish quickly. */
	pthread_rwlock_wrlock(&s->view_lock);
	pthread_rwlock_wrlock(&s->cut_lock);
	/* No push is running: the head and the WAL are still. */
	hearth_head_stats_get(s->head, NULL, &st);
	if (st.profiles == 0) {
		pthread_rwlock_unlock(&s->cut_lock);
		pthread_rwlock_unlock(&s->view_lock);
		hearth_head_free(nh);
		atomic_store(&s->head_started_ms, hearth_clock_mono_ms());
		return 0;
	}
	if (seq == 0)
		seq = hearth_wal_last_seq(s->wal);
	if (s->n_flushing == s->cap_flushing) {
		size_t          nc = s->cap_flushing ? s->cap_flushing * 2 : 4;
		store_flushing *nf = realloc(s->flushing, nc * sizeof(*nf));
		if (nf == NULL) {
			pthread_rwlock_unlock(&s->cut_lock);
			pthread_rwlock_unlock(&s->view_lock);
			hearth_head_free(nh);
			return hearth_err_set(
			    err, HEARTH_ENOMEM, "head cut: out of memory");
		}
		s->flushing     = nf;
		s->cap_flushing = nc;
	}
	hearth_head *old             = s->head;
	size_t cost = st.bytes + STORE_SAMPLE_COST * st.samples;
	s->flushing[s->n_flushing++]
	    = (store_flushing) { old, seq, st.bytes, cost };
	atomic_fetch_add(&s->flushing_bytes, st.bytes);
	atomic_fetch_add(&s->flushing_cost, cost);
	s->head = nh;
	pthread_rwlock_unlock(&s->cut_lock);
	pthread_rwlock_unlock(&s->view_lock);
	atomic_store(&s->head_started_ms, hearth_clock_mono_ms());
	atomic_store(&s->cut_wanted, 0);
	const char *lv[1] = { reason };
	hearth_metric_add(s->m_cuts, lv, 1);
	hearth_log_write(&s->log, HEARTH_LOG_INFO, "head cut",
	    "reason=%s seq=%llu bytes=%zu series=%zu profiles=%zu "
	    "samples=%zu",
	    reason, (unsigned long long) seq, st.bytes, st.series, st.profiles,
	    st.samples);
	return 1;
}

/* Blocks of f and the WAL trim in one batch, written synced. On success
 * the blocks are committed together with dropping f from the list. */
static int
store_write_blocks(hearth_store *s, const store_flushing *f, size_t *blocks,
    uint64_t *bytes, hearth_err *err)
{
	hearth_kv_batch *b = hearth_kv_batch_new();
	int              rc;
	if (b == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "block flush: out of memory");
	if ((rc = hearth_blocks_prepare(s->blocks, f->head, b, err)) != 0) {
		hearth_kv_batch_free(b);
		return rc;
	}
	hearth_blocks_pending(s->blocks, blocks, bytes);
	hearth_wal_trim(s->wal, b, f->seq);
	if ((rc = hearth_kv_write(s->kv, b, 1, err)) != 0) {
		hearth_kv_batch_free(b);
		hearth_blocks_abort(s->blocks);
		return rc;
	}
	hearth_kv_batch_free(b);
	/* The mark is durable: the segments it covers can go. */
	hearth_wal_trimmed(s->wal, f->seq);
	/* One step for queries: the blocks appear as the head goes. */
	pthread_rwlock_wrlock(&s->view_lock);
	hearth_blocks_commit(s->blocks);
	memmove(&s->flushing[0], &s->flushing[1],
	    (s->n_flushing - 1) * sizeof(*s->flushing));
	s->n_flushing--;
	atomic_fetch_sub(&s->flushing_bytes, f->bytes);
	atomic_fetch_sub(&s->flushing_cost, f->cost);
	pthread_rwlock_unlock(&s->view_lock);
	return 0;
}

int
store_flush_one(hearth_store *s, hearth_err *err)
{
	store_flushing f;
	size_t         blocks = 0;
	uint64_t       bytes  = 0;
	int            rc;
	/* Only this thread (work_mu) removes entries, so the oldest stays
	 * put after the lock is released. */
	pthread_rwlock_rdlock(&s->view_lock);
	if (s->n_flushing == 0) {
		pthread_rwlock_unlock(&s->view_lock);
		return 0;
	}
	f = s->flushing[0];
	pthread_rwlock_unlock(&s->view_lock);
	hearth_log_write(&s->log, HEARTH_LOG_INFO, "block flush started",
	    "seq=%llu head_bytes=%zu", (unsigned long long) f.seq, f.bytes);
	int64_t t0 = hearth_clock_mono_ms();
	if ((rc = store_write_blocks(s, &f, &blocks, &bytes, err)) != 0) {
		char q[600];
		hearth_metric_add(s->m_flush_failures, NULL, 1);
		store_disk_failed(s, rc);
		hearth_err_prefix(err, "block flush");
		hearth_log_write(&s->log, HEARTH_LOG_ERROR,
		    "block flush failed",
		    "seq=%llu err=%s note=\"the head stays in memory and is "
		    "retried\"",
		    (unsigned long long) f.seq,
		    hearth_log_quote(q, sizeof(q), err->msg));
		return rc;
	}
	hearth_head_free(f.head);
	int64_t ms = hearth_clock_mono_ms() - t0;
	hearth_metric_observe(s->m_flush_seconds, NULL, (double) ms / 1000.0);
	hearth_log_write(&s->log, HEARTH_LOG_INFO, "block flush done",
	    "seq=%llu blocks=%zu bytes=%llu duration_ms=%lld",
	    (unsigned long long) f.seq, blocks, (unsigned long long) bytes,
	    (long long) ms);
	/* Give the trimmed records' disk space back now rather than at
	 * RocksDB's leisure (the WAL column family only shrinks by
	 * compaction). Failing here loses nothing. */
	uint8_t    hi[8];
	hearth_err cerr;
	hearth_wal_key_encode(f.seq, hi);
	if (hearth_kv_compact_range(
	        s->kv, HEARTH_KV_WAL, NULL, 0, hi, sizeof(hi), &cerr)
	    != 0) {
		char q[600];
		hearth_log_write(&s->log, HEARTH_LOG_WARN,
		    "wal compaction failed", "err=%s",
		    hearth_log_quote(q, sizeof(q), cerr.msg));
	}
	return 1;
}

int
hearth_store_flush(hearth_store *s, hearth_err *err)
{
	int rc;
	if ((rc = store_not_ready(s, err)) != 0)
		return rc;
	pthread_mutex_lock(&s->work_mu);
	rc = store_cut(s, "manual", 0, err);
	while (rc >= 0 && (rc = store_flush_one(s, err)) > 0)
		;
	pthread_mutex_unlock(&s->work_mu);
	return rc < 0 ? rc : 0;
}
