/*
 * kv: RocksDB behind hearth types (see kv.h for the contract).
 *
 * The one subtle part is hearth_kv_resume. The 7.8 C API has no
 * rocksdb_resume, so clearing a background error means closing and
 * reopening RocksDB while other threads hold the hearth_kv handle. Every
 * call and every live iterator registers as a "user" (kv_enter/kv_leave,
 * a counter under kv->mu, not a pthread rwlock: an iterator may be freed
 * by another thread than the one that made it, which a rwlock forbids).
 * Resume waits for users == 0 without blocking new users meanwhile, so a
 * thread that holds an iterator and calls kv again can never deadlock
 * against it; once idle it sets `reopening`, which makes new users wait
 * for the short close + open.
 */
#include "kv_impl.h"
#include "cond.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#define KV_DEFAULT_CACHE ((size_t) 64 << 20)
#define KV_DEFAULT_WBUF ((size_t) 32 << 20)
#define KV_RESUME_WAIT_S 10
#define KV_LEVELS 7
/* RocksDB's InfoLogLevel::HEADER_LEVEL (above FATAL). */
#define KV_LOG_HEADER_LEVEL 5
/* Free bytes needed before (re)opening; see kv_space_check. */
#define KV_MIN_FREE ((uint64_t) 1 << 20)

/* Index = hearth_kv_cf. "default" must be RocksDB's own name for it. */
static const char *const kv_cf_names[HEARTH_KV_NCF]
    = { "default", "wal", "blocks" };

/* ------------------------------------------------------------------ */
/* Errors */

int
kv_status(hearth_err *err, char *rerr, const char *what)
{
	int code = strncmp(rerr, "Corruption", 10) == 0 ? HEARTH_ECORRUPT
	                                                : HEARTH_EIO;
	hearth_err_set(err, code, "%s: %s", what, rerr);
	rocksdb_free(rerr);
	return code;
}

/* ------------------------------------------------------------------ */
/* Users and the reopen gate */

rocksdb_t *
kv_enter(hearth_kv *kv, hearth_err *err)
{
	rocksdb_t *db;

	pthread_mutex_lock(&kv->mu);
	while (kv->reopening)
		pthread_cond_wait(&kv->cv, &kv->mu);
	kv->users++;
	db = kv->db;
	if (db == NULL)
		hearth_err_set(err, HEARTH_EIO, "%s", kv->closed_msg);
	pthread_mutex_unlock(&kv->mu);
	return db;
}

void
kv_leave(hearth_kv *kv, int failed)
{
	pthread_mutex_lock(&kv->mu);
	HEARTH_ASSERT(kv->users > 0);
	kv->users--;
	if (failed) {
		kv->failed = 1;
		kv->write_errors++;
	}
	if (kv->users == 0)
		pthread_cond_broadcast(&kv->cv);
	pthread_mutex_unlock(&kv->mu);
}

static uint64_t
kv_bg_errors(rocksdb_t *db)
{
	uint64_t v = 0;

	if (db == NULL
	    || rocksdb_property_int(db, "rocksdb.background-errors", &v) != 0)
		return 0;
	return v;
}

/* ------------------------------------------------------------------ */
/* Open / close */

/* mkdir -p: RocksDB only creates the last path component. */
static int
kv_mkdirs(const char *path, hearth_err *err)
{
	char   buf[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return hearth_err_set(err, HEARTH_EINVAL,
		    "storage path is longer than %d bytes", PATH_MAX - 1);
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != '\0')
			continue;
		char c = buf[i];
		buf[i] = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return hearth_err_set(err, HEARTH_EIO,
			    "cannot create storage directory %s: %s", buf,
			    strerror(errno));
		buf[i] = c;
	}
	return 0;
}

/* Opening writes RocksDB's LOG header, OPTIONS, MANIFEST and a new WAL.
 * If the disk fills halfway through the LOG header, the next header line
 * aborts the process (see kv_options_init), so refuse to (re)open with
 * less than KV_MIN_FREE available: the caller gets an error to act on. */
static int
kv_space_check(const char *path, hearth_err *err)
{
	struct statvfs sv;
	uint64_t       avail;

	if (statvfs(path, &sv) != 0)
		return 0; /* unknown: let RocksDB report the real problem */
	avail = (uint64_t) sv.f_bavail * sv.f_frsize;
	if (avail >= KV_MIN_FREE)
		return 0;
	return hearth_err_set(err, HEARTH_EIO,
	    "storage at %s: No space left on device (%llu KiB free, at least "
	    "%llu KiB are needed to open the database); free disk space and "
	    "retry",
	    path, (unsigned long long) (avail >> 10),
	    (unsigned long long) (KV_MIN_FREE >> 10));
}

/* Column-family options; the table options are copied into them. */
static rocksdb_options_t *
kv_cf_options(hearth_kv *kv, size_t wbuf, int bloom, size_t block_size)
{
	rocksdb_options_t                   *o = rocksdb_options_create();
	rocksdb_block_based_table_options_t *t;

	/* zstd everywhere: these are samples and symbols, compression is
	 * most of the bytes-per-sample budget; level compaction with
	 * dynamic level sizes keeps space amplification near 1.1. */
	rocksdb_options_set_compression(o, rocksdb_zstd_compression);
	rocksdb_options_set_bottommost_compression(
	    o, rocksdb_zstd_compression);
	rocksdb_options_set_compaction_style(o, rocksdb_level_compaction);
	rocksdb_options_set_level_compaction_dynamic_level_bytes(o, 1);
	rocksdb_options_set_write_buffer_size(o, wbuf);
	rocksdb_options_set_max_write_buffer_number(o, 2);

	t = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(t, kv->cache);
	/* Index and filter blocks in the cache: memory stays bounded by
	 * block_cache_bytes however many SST files there are. */
	rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
	rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(
	    t, 1);
	rocksdb_block_based_options_set_format_version(t, 5);
	rocksdb_block_based_options_set_block_size(t, block_size);
	if (bloom) /* point reads of block keys; ownership moves to t */
		rocksdb_block_based_options_set_filter_policy(
		    t, rocksdb_filterpolicy_create_bloom_full(10));
	rocksdb_options_set_block_based_table_factory(o, t);
	rocksdb_block_based_options_destroy(t);
	return o;
}

static void
kv_options_init(hearth_kv *kv, size_t cache_bytes, size_t wbuf)
{
	rocksdb_options_t *o;

	kv->cache = rocksdb_cache_create_lru(cache_bytes);
	kv->dbo = o = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(o, 1);
	rocksdb_options_set_create_missing_column_families(o, 1);
	rocksdb_options_set_max_background_jobs(o, 2);
	/* Caps the sum of all CFs' memtables (RocksDB flushes the largest
	 * past it), so memory does not grow with the number of CFs. */
	rocksdb_options_set_db_write_buffer_size(o, 2 * wbuf);
	/* Drop a torn tail record (crash mid-append) and keep everything
	 * before it: what was acknowledged after a sync is always kept. */
	rocksdb_options_set_wal_recovery_mode(
	    o, rocksdb_point_in_time_recovery);
	/* RocksDB's info LOG lives in the data directory. Debian's
	 * librocksdb 7.8 is built with assertions on, and once an append to
	 * LOG fails (disk full) the next LOG line aborts the process in
	 * WritableFileWriter (assert `sync_without_flush_called_`, seen
	 * here). So only header lines are logged, and those only while
	 * opening (kv_space_check runs first). Errors still reach callers
	 * as messages. */
	rocksdb_options_set_info_log_level(o, KV_LOG_HEADER_LEVEL);
	rocksdb_options_set_keep_log_file_num(o, 4);
	rocksdb_options_set_max_log_file_size(o, 8 << 20);

	kv->cfo[HEARTH_KV_META]   = kv_cf_options(kv, wbuf, 0, 4096);
	kv->cfo[HEARTH_KV_WAL]    = kv_cf_options(kv, wbuf, 0, 4096);
	kv->cfo[HEARTH_KV_BLOCKS] = kv_cf_options(kv, wbuf, 1, 16384);

	kv->wo_sync = rocksdb_writeoptions_create();
	rocksdb_writeoptions_set_sync(kv->wo_sync, 1);
	kv->wo_nosync = rocksdb_writeoptions_create();
	kv->ro        = rocksdb_readoptions_create();
	kv->fo        = rocksdb_flushoptions_create();
	rocksdb_flushoptions_set_wait(kv->fo, 1);
	kv->co = rocksdb_compactoptions_create();
	/* kForceOptimized (3): rewrite the bottommost level too, so range
	 * tombstones meet the data they cover and the space is returned,
	 * but not files this same compaction just wrote. Non-exclusive:
	 * automatic compactions keep running meanwhile. */
	rocksdb_compactoptions_set_bottommost_level_compaction(kv->co, 3);
	rocksdb_compactoptions_set_exclusive_manual_compaction(kv->co, 0);
}

static int
kv_is_ours(const char *name)
{
	for (int i = 0; i < HEARTH_KV_NCF; i++)
		if (strcmp(name, kv_cf_names[i]) == 0)
			return 1;
	return 0;
}

/* Open RocksDB into kv->db/cf/extra. Callers guarantee no users. */
static int
kv_db_open(hearth_kv *kv, hearth_err *err)
{
	char  *rerr     = NULL, **listed;
	size_t n_listed = 0, n_extra = 0, n;
	int    rc = 0;

	/* RocksDB refuses to open a DB without naming every CF it has. A
	 * missing DB makes the listing fail: that is fine, open creates. */
	listed = rocksdb_list_column_families(
	    kv->dbo, kv->path, &n_listed, &rerr);
	if (rerr != NULL) {
		/* It returns a malloc'd (empty) array even then. */
		rocksdb_free(rerr);
		rerr = NULL;
		if (listed != NULL)
			rocksdb_list_column_families_destroy(listed, n_listed);
		listed   = NULL;
		n_listed = 0;
	}
	for (size_t i = 0; i < n_listed; i++)
		n_extra += !kv_is_ours(listed[i]);
	n = HEARTH_KV_NCF + n_extra;

	const char                     **names = calloc(n, sizeof(*names));
	const rocksdb_options_t        **opts  = calloc(n, sizeof(*opts));
	rocksdb_column_family_handle_t **h     = calloc(n, sizeof(*h));
	rocksdb_column_family_handle_t **extra
	    = n_extra ? calloc(n_extra, sizeof(*extra)) : NULL;
	if (!names || !opts || !h || (n_extra && !extra)) {
		rc = hearth_err_set(err, HEARTH_ENOMEM,
		    "out of memory opening storage at %s", kv->path);
		goto out;
	}
	for (int i = 0; i < HEARTH_KV_NCF; i++) {
		names[i] = kv_cf_names[i];
		opts[i]  = kv->cfo[i];
	}
	for (size_t i = 0, j = HEARTH_KV_NCF; i < n_listed; i++) {
		if (kv_is_ours(listed[i]))
			continue;
		names[j]  = listed[i];
		opts[j++] = kv->cfo[HEARTH_KV_META];
	}
	kv->db = rocksdb_open_column_families(
	    kv->dbo, kv->path, (int) n, names, opts, h, &rerr);
	if (rerr != NULL) {
		char what[PATH_MAX + 64];
		snprintf(
		    what, sizeof(what), "cannot open storage at %s", kv->path);
		kv->db = NULL;
		rc     = kv_status(err, rerr, what);
		goto out;
	}
	for (int i = 0; i < HEARTH_KV_NCF; i++)
		kv->cf[i] = h[i];
	for (size_t i = 0; i < n_extra; i++)
		extra[i] = h[HEARTH_KV_NCF + i];
	kv->extra   = extra;
	kv->n_extra = n_extra;
	extra       = NULL;
out:
	free(extra);
	free(h);
	free(opts);
	free(names);
	if (listed != NULL)
		rocksdb_list_column_families_destroy(listed, n_listed);
	return rc;
}

static void
kv_db_close(hearth_kv *kv)
{
	if (kv->db == NULL)
		return;
	for (int i = 0; i < HEARTH_KV_NCF; i++) {
		rocksdb_column_family_handle_destroy(kv->cf[i]);
		kv->cf[i] = NULL;
	}
	for (size_t i = 0; i < kv->n_extra; i++)
		rocksdb_column_family_handle_destroy(kv->extra[i]);
	free(kv->extra);
	kv->extra   = NULL;
	kv->n_extra = 0;
	rocksdb_close(kv->db);
	kv->db = NULL;
}

static void
kv_free_all(hearth_kv *kv)
{
	kv_db_close(kv);
	rocksdb_compactoptions_destroy(kv->co);
	rocksdb_flushoptions_destroy(kv->fo);
	rocksdb_readoptions_destroy(kv->ro);
	rocksdb_writeoptions_destroy(kv->wo_nosync);
	rocksdb_writeoptions_destroy(kv->wo_sync);
	for (int i = 0; i < HEARTH_KV_NCF; i++)
		rocksdb_options_destroy(kv->cfo[i]);
	rocksdb_options_destroy(kv->dbo);
	rocksdb_cache_destroy(kv->cache);
	pthread_cond_destroy(&kv->cv);
	pthread_mutex_destroy(&kv->mu);
	free(kv->path);
	free(kv);
}

int
hearth_kv_open(const hearth_kv_opts *o, hearth_kv **out, hearth_err *err)
{
	hearth_kv         *kv;
	int                rc;

	HEARTH_ASSERT(o != NULL && out != NULL);
	*out = NULL;
	if (o->path == NULL || o->path[0] == '\0')
		return hearth_err_set(err, HEARTH_EINVAL,
		    "storage.path is empty: set it to a directory for the "
		    "ingester's database");
	rc = kv_mkdirs(o->path, err);
	if (rc == 0)
		rc = kv_space_check(o->path, err);
	if (rc != 0)
		return rc;
	kv = calloc(1, sizeof(*kv));
	if (kv == NULL || (kv->path = strdup(o->path)) == NULL) {
		free(kv);
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "out of memory opening storage");
	}
	pthread_mutex_init(&kv->mu, NULL);
	hearth_cond_init(&kv->cv);
	kv_options_init(kv,
	    o->block_cache_bytes ? o->block_cache_bytes : KV_DEFAULT_CACHE,
	    o->write_buffer_bytes ? o->write_buffer_bytes : KV_DEFAULT_WBUF);
	rc = kv_db_open(kv, err);
	if (rc != 0) {
		kv_free_all(kv);
		return rc;
	}
	*out = kv;
	return 0;
}

void
hearth_kv_close(hearth_kv *kv)
{
	if (kv == NULL)
		return;
	/* A live iterator here would use the closed DB: a caller bug. */
	HEARTH_ASSERT(kv->users == 0 && !kv->reopening);
	kv_free_all(kv);
}

/* ------------------------------------------------------------------ */
/* Resume */

static int
kv_wait_idle(hearth_kv *kv)
{
	struct timespec dl;

	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += KV_RESUME_WAIT_S;
	while (kv->users > 0 || kv->reopening)
		if (pthread_cond_timedwait(&kv->cv, &kv->mu, &dl) == ETIMEDOUT)
			return kv->users > 0 || kv->reopening ? -1 : 0;
	return 0;
}

int
hearth_kv_resume(hearth_kv *kv, hearth_err *err)
{
	hearth_err e;
	uint64_t   bg;
	int        rc;

	pthread_mutex_lock(&kv->mu);
	if (kv_wait_idle(kv) != 0) {
		unsigned users = kv->users;
		pthread_mutex_unlock(&kv->mu);
		return hearth_err_set(err, HEARTH_EBUSY,
		    "storage at %s: cannot reopen, %u readers or writers "
		    "still busy after %d s; retry",
		    kv->path, users, KV_RESUME_WAIT_S);
	}
	/* No users and not reopening: kv->db is stable while we hold mu. */
	bg = kv_bg_errors(kv->db);
	if (kv->db != NULL && !kv->failed && bg == 0) {
		pthread_mutex_unlock(&kv->mu);
		return 0;
	}
	/* Still full: keep the open (read-only in effect) database rather
	 * than close it and fail to reopen. */
	rc = kv_space_check(kv->path, err);
	if (rc != 0) {
		pthread_mutex_unlock(&kv->mu);
		return rc;
	}
	kv->reopening = 1;
	pthread_mutex_unlock(&kv->mu);

	/* Closing drops RocksDB's background-error state; opening replays
	 * its WAL, so every write that returned 0 is back. */
	hearth_err_clear(&e);
	kv_db_close(kv);
	rc = kv_db_open(kv, &e);

	pthread_mutex_lock(&kv->mu);
	kv->bg_errors_base += bg;
	kv->reopening = 0;
	if (rc == 0) {
		kv->failed = 0;
		kv->reopens++;
	} else {
		snprintf(kv->closed_msg, sizeof(kv->closed_msg),
		    "storage is closed after a failed reopen, retried by the "
		    "next resume: %.400s",
		    e.msg);
	}
	pthread_cond_broadcast(&kv->cv);
	pthread_mutex_unlock(&kv->mu);
	if (rc != 0)
		hearth_err_set(err, rc, "%s", e.msg);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Maintenance */

int
hearth_kv_flush_wal(hearth_kv *kv, int sync, hearth_err *err)
{
	rocksdb_t *db   = kv_enter(kv, err);
	char      *rerr = NULL;
	int        rc   = db == NULL ? HEARTH_EIO : 0;

	if (db != NULL) {
		rocksdb_flush_wal(db, sync ? 1 : 0, &rerr);
		if (rerr != NULL)
			rc = kv_status(err, rerr, "storage WAL sync failed");
	}
	kv_leave(kv, rc != 0 && db != NULL);
	return rc;
}

int
hearth_kv_flush(hearth_kv *kv, hearth_err *err)
{
	rocksdb_t *db   = kv_enter(kv, err);
	char      *rerr = NULL;
	int        rc   = db == NULL ? HEARTH_EIO : 0;

	for (int i = 0; db != NULL && rc == 0 && i < HEARTH_KV_NCF; i++) {
		rocksdb_flush_cf(db, kv->fo, kv->cf[i], &rerr);
		if (rerr != NULL)
			rc = kv_status(err, rerr, "storage flush failed");
	}
	kv_leave(kv, rc != 0 && db != NULL);
	return rc;
}

int
hearth_kv_compact_range(hearth_kv *kv, hearth_kv_cf cf, const void *begin,
    size_t bl, const void *end, size_t el, hearth_err *err)
{
	rocksdb_t *db;
	uint64_t   bg;
	int        rc = 0, failed;

	HEARTH_ASSERT((unsigned) cf < HEARTH_KV_NCF);
	db = kv_enter(kv, err);
	if (db == NULL) {
		kv_leave(kv, 0);
		return HEARTH_EIO;
	}
	/* The C API's compaction returns no status, and on a database that
	 * RocksDB stopped after an error it silently does nothing. So: no
	 * compaction while a failure is pending, and a failed one shows as
	 * a new background error. */
	pthread_mutex_lock(&kv->mu);
	failed = kv->failed;
	pthread_mutex_unlock(&kv->mu);
	bg = kv_bg_errors(db);
	if (failed || bg > 0) {
		kv_leave(kv, 0);
		return hearth_err_set(err, HEARTH_EIO,
		    "storage at %s had a failed write (disk full or "
		    "failing?); no compaction until hearth_kv_resume succeeds",
		    kv->path);
	}
	rocksdb_compact_range_cf_opt(
	    db, kv->cf[cf], kv->co, begin, begin ? bl : 0, end, end ? el : 0);
	if (kv_bg_errors(db) > bg)
		rc = hearth_err_set(err, HEARTH_EIO,
		    "storage compaction of column family %s in %s failed "
		    "with a background error (disk full or failing?); writes "
		    "return RocksDB's message until hearth_kv_resume",
		    kv_cf_names[cf], kv->path);
	kv_leave(kv, rc != 0);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Stats */

static uint64_t
kv_prop_cf(hearth_kv *kv, rocksdb_t *db, int cf, const char *name)
{
	uint64_t v = 0;

	if (rocksdb_property_int_cf(db, kv->cf[cf], name, &v) != 0)
		return 0;
	return v;
}

int
hearth_kv_stats_get(hearth_kv *kv, hearth_kv_stats *out)
{
	const rocksdb_livefiles_t *lf;
	rocksdb_t                 *db;
	uint64_t                   mem[HEARTH_KV_NCF];

	memset(out, 0, sizeof(*out));
	db = kv_enter(kv, NULL);
	pthread_mutex_lock(&kv->mu);
	out->background_errors = kv->bg_errors_base;
	out->reopens           = kv->reopens;
	out->write_errors      = kv->write_errors;
	pthread_mutex_unlock(&kv->mu);
	out->block_cache_bytes = rocksdb_cache_get_usage(kv->cache);
	if (db == NULL) {
		kv_leave(kv, 0);
		return HEARTH_EIO;
	}
	out->background_errors += kv_bg_errors(db);
	for (int i = 0; i < HEARTH_KV_NCF; i++) {
		/* size-all (not cur-size): memtables pinned by iterators
		 * or being flushed still hold memory. */
		mem[i] = kv_prop_cf(kv, db, i, "rocksdb.size-all-mem-tables");
		out->memtable_bytes += mem[i];
		out->table_readers_bytes += kv_prop_cf(
		    kv, db, i, "rocksdb.estimate-table-readers-mem");
		out->sst_bytes_total
		    += kv_prop_cf(kv, db, i, "rocksdb.total-sst-files-size");
		out->pending_compaction_bytes += kv_prop_cf(
		    kv, db, i, "rocksdb.estimate-pending-compaction-bytes");
	}
	out->wal_cf_bytes    = mem[HEARTH_KV_WAL];
	out->blocks_cf_bytes = mem[HEARTH_KV_BLOCKS];
	lf                   = rocksdb_livefiles(db);
	for (int i = 0, n = lf ? rocksdb_livefiles_count(lf) : 0; i < n; i++) {
		int         lvl  = rocksdb_livefiles_level(lf, i);
		size_t      size = rocksdb_livefiles_size(lf, i);
		const char *cf   = rocksdb_livefiles_column_family_name(lf, i);
		if (lvl < 0)
			lvl = 0;
		if (lvl >= KV_LEVELS)
			lvl = KV_LEVELS - 1;
		out->sst_bytes_per_level[lvl] += size;
		out->files_per_level[lvl]++;
		if (cf != NULL && strcmp(cf, kv_cf_names[HEARTH_KV_WAL]) == 0)
			out->wal_cf_bytes += size;
		else if (cf != NULL
		    && strcmp(cf, kv_cf_names[HEARTH_KV_BLOCKS]) == 0)
			out->blocks_cf_bytes += size;
	}
	if (lf != NULL)
		rocksdb_livefiles_destroy(lf);
	kv_leave(kv, 0);
	return 0;
}
