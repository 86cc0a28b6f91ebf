/*
 * kv_test: the RocksDB wrapper against a real RocksDB in temporary
 * directories. The disk-full cases mount a 4 MiB tmpfs (needs root); they
 * skip with the reason when mounting is not allowed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kv.h"

/* ------------------------------------------------------------------ */
/* Helpers */

typedef struct fixture {
	char dir[64]; /* mkdtemp directory, removed afterwards */
	char mnt[96]; /* tmpfs mount point inside dir, if mounted */
	int  mounted;
} fixture;

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void) st;
	(void) flag;
	(void) f;
	return remove(p);
}

static int
setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	strcpy(fx->dir, "/tmp/hearth-kv-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	fixture *fx = *state;
	if (fx->mounted)
		umount2(fx->mnt, MNT_DETACH);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

/* Mount a tmpfs of `size` at fx->mnt, or skip the test saying why. */
static void
mount_tmpfs_or_skip(fixture *fx, const char *size)
{
	char opt[32];

	snprintf(fx->mnt, sizeof(fx->mnt), "%s/mnt", fx->dir);
	assert_int_equal(mkdir(fx->mnt, 0755), 0);
	snprintf(opt, sizeof(opt), "size=%s", size);
	if (mount("tmpfs", fx->mnt, "tmpfs", 0, opt) != 0) {
		print_message(
		    "kv_test: skipping disk-full case: mount -t tmpfs "
		    "-o %s failed: %s (needs root)\n",
		    opt, strerror(errno));
		skip();
	}
	fx->mounted = 1;
}

static hearth_kv *
open_at(const char *path, size_t wbuf)
{
	hearth_kv_opts o  = { path, 1 << 20, wbuf };
	hearth_kv     *kv = NULL;
	hearth_err     e;

	hearth_err_clear(&e);
	int rc = hearth_kv_open(&o, &kv, &e);
	if (rc != 0)
		fail_msg("hearth_kv_open(%s): %d %s", path, rc, e.msg);
	return kv;
}

static void
put1(hearth_kv *kv, hearth_kv_cf cf, const char *k, const char *v)
{
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_err       e;

	hearth_kv_batch_put(b, cf, k, strlen(k), v, strlen(v));
	if (hearth_kv_write(kv, b, 0, &e) != 0)
		fail_msg("write %s: %s", k, e.msg);
	hearth_kv_batch_free(b);
}

/* Value of k as a NUL-terminated string in a, or NULL when absent. */
static const char *
get_str(hearth_kv *kv, hearth_kv_cf cf, const char *k, hearth_arena *a)
{
	uint8_t   *v;
	size_t     vl;
	hearth_err e;

	hearth_err_clear(&e);
	int rc = hearth_kv_get(kv, cf, k, strlen(k), a, &v, &vl, &e);
	if (rc == HEARTH_ENOTFOUND)
		return NULL;
	if (rc != 0)
		fail_msg("get %s: %d %s", k, rc, e.msg);
	return (const char *) v;
}

static size_t
count_keys(hearth_kv *kv, hearth_kv_cf cf, const char *lo, const char *hi)
{
	hearth_kv_iter *it = hearth_kv_iter_new(
	    kv, cf, lo, lo ? strlen(lo) : 0, hi, hi ? strlen(hi) : 0);
	size_t     n = 0;
	hearth_err e;

	assert_non_null(it);
	for (; hearth_kv_iter_valid(it); hearth_kv_iter_next(it))
		n++;
	assert_int_equal(hearth_kv_iter_error(it, &e), 0);
	hearth_kv_iter_free(it);
	return n;
}

/* Deterministic incompressible bytes (xorshift64) for value i. */
static void
fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t) (x >> 24);
	}
}

static uint64_t
free_bytes(const char *path)
{
	struct statvfs sv;
	assert_int_equal(statvfs(path, &sv), 0);
	return (uint64_t) sv.f_bavail * sv.f_frsize;
}

/* ------------------------------------------------------------------ */
/* Open, column families, errors */

static void
test_kv_open_creates_dirs_and_column_families(void **state)
{
	fixture      *fx = *state;
	char          path[128];
	hearth_arena *a = hearth_arena_new(0);

	snprintf(path, sizeof(path), "%s/a/b/db", fx->dir);
	hearth_kv *kv = open_at(path, 0);
	/* The same key in each CF is three different records. */
	put1(kv, HEARTH_KV_META, "k", "meta");
	put1(kv, HEARTH_KV_WAL, "k", "wal");
	put1(kv, HEARTH_KV_BLOCKS, "k", "blocks");
	assert_string_equal(get_str(kv, HEARTH_KV_META, "k", a), "meta");
	assert_string_equal(get_str(kv, HEARTH_KV_WAL, "k", a), "wal");
	assert_string_equal(get_str(kv, HEARTH_KV_BLOCKS, "k", a), "blocks");
	hearth_kv_close(kv);

	kv = open_at(path, 0);
	assert_string_equal(get_str(kv, HEARTH_KV_META, "k", a), "meta");
	assert_string_equal(get_str(kv, HEARTH_KV_WAL, "k", a), "wal");
	assert_string_equal(get_str(kv, HEARTH_KV_BLOCKS, "k", a), "blocks");
	hearth_kv_close(kv);
	hearth_arena_free(a);
}

static void
test_kv_open_errors(void **state)
{
	fixture       *fx = *state;
	char           path[128];
	hearth_kv     *kv = NULL, *kv2 = NULL;
	hearth_err     e;
	hearth_kv_opts o = { "", 0, 0 };

	assert_int_equal(hearth_kv_open(&o, &kv, &e), HEARTH_EINVAL);
	assert_non_null(strstr(e.msg, "storage.path is empty"));
	assert_null(kv);
	o.path = NULL;
	assert_int_equal(hearth_kv_open(&o, &kv, &e), HEARTH_EINVAL);

	/* A regular file where a directory must go. */
	snprintf(path, sizeof(path), "%s/file", fx->dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/file/db", fx->dir);
	o.path = path;
	assert_int_equal(hearth_kv_open(&o, &kv, &e), HEARTH_EIO);
	assert_non_null(strstr(e.msg, "cannot create storage directory"));
	assert_non_null(strstr(e.msg, "Not a directory"));

	/* RocksDB's LOCK: a second open of the same directory fails. */
	snprintf(path, sizeof(path), "%s/db", fx->dir);
	kv = open_at(path, 0);
	assert_int_equal(hearth_kv_open(&o, &kv2, &e), HEARTH_EIO);
	assert_null(kv2);
	assert_non_null(strstr(e.msg, "cannot open storage at"));
	assert_non_null(strstr(e.msg, "LOCK"));
	hearth_kv_close(kv);
	hearth_kv_close(NULL);
}

static void
test_kv_open_keeps_unknown_column_families(void **state)
{
	fixture *fx = *state;
	char     path[128];
	char    *rerr = NULL;

	/* A database that has a CF hearth does not know (e.g. written by a
	 * newer version): RocksDB refuses to open it unless every CF is
	 * named, so kv must list and open it too, and leave it alone. */
	snprintf(path, sizeof(path), "%s/db", fx->dir);
	rocksdb_options_t *o = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(o, 1);
	rocksdb_options_set_create_missing_column_families(o, 1);
	const char                     *names[2] = { "default", "legacy" };
	const rocksdb_options_t        *opts[2]  = { o, o };
	rocksdb_column_family_handle_t *h[2];
	rocksdb_t                      *db
	    = rocksdb_open_column_families(o, path, 2, names, opts, h, &rerr);
	assert_null(rerr);
	rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
	rocksdb_put_cf(db, wo, h[1], "x", 1, "old", 3, &rerr);
	assert_null(rerr);
	rocksdb_writeoptions_destroy(wo);
	rocksdb_column_family_handle_destroy(h[0]);
	rocksdb_column_family_handle_destroy(h[1]);
	rocksdb_close(db);

	hearth_arena *a  = hearth_arena_new(0);
	hearth_kv    *kv = open_at(path, 0);
	put1(kv, HEARTH_KV_BLOCKS, "b", "1");
	assert_string_equal(get_str(kv, HEARTH_KV_BLOCKS, "b", a), "1");
	assert_null(get_str(kv, HEARTH_KV_META, "x", a));
	hearth_kv_close(kv);

	/* Still there, untouched. */
	size_t n    = 0;
	char **list = rocksdb_list_column_families(o, path, &n, &rerr);
	assert_null(rerr);
	assert_int_equal(n, 4);
	int seen = 0;
	for (size_t i = 0; i < n; i++)
		seen += strcmp(list[i], "legacy") == 0;
	assert_int_equal(seen, 1);
	rocksdb_list_column_families_destroy(list, n);
	rocksdb_options_destroy(o);
	hearth_arena_free(a);
}

/* ------------------------------------------------------------------ */
/* Batches and reads */

static void
test_kv_batch_sizes_and_clear(void **state)
{
	(void) state;
	hearth_kv_batch *b = hearth_kv_batch_new();

	assert_int_equal(hearth_kv_batch_bytes(b), 0);
	hearth_kv_batch_put(b, HEARTH_KV_META, "a", 1, "xyz", 3);
	assert_int_equal(hearth_kv_batch_bytes(b), 4);
	assert_int_equal(hearth_kv_batch_count(b), 1);
	hearth_kv_batch_delete(b, HEARTH_KV_WAL, "bb", 2);
	assert_int_equal(hearth_kv_batch_bytes(b), 6);
	hearth_kv_batch_delete_range(b, HEARTH_KV_WAL, "c", 1, "dd", 2);
	assert_int_equal(hearth_kv_batch_bytes(b), 9);
	assert_int_equal(hearth_kv_batch_count(b), 3);
	/* Growth past the initial buffer keeps earlier bytes intact. */
	uint8_t big[5000];
	fill_random(big, sizeof(big), 1);
	hearth_kv_batch_put(b, HEARTH_KV_BLOCKS, "big", 3, big, sizeof(big));
	assert_int_equal(hearth_kv_batch_bytes(b), 9 + 3 + 5000);
	hearth_kv_batch_clear(b);
	assert_int_equal(hearth_kv_batch_bytes(b), 0);
	assert_int_equal(hearth_kv_batch_count(b), 0);
	hearth_kv_batch_free(b);
	hearth_kv_batch_free(NULL);
}

static void
test_kv_batch_put_delete_range_atomic(void **state)
{
	fixture         *fx = *state;
	char             path[128], k[16], v[16];
	hearth_err       e;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_kv_batch *b = hearth_kv_batch_new();

	snprintf(path, sizeof(path), "%s/db", fx->dir);
	hearth_kv *kv = open_at(path, 0);
	for (int i = 0; i < 1000; i++) {
		snprintf(k, sizeof(k), "k%04d", i);
		snprintf(v, sizeof(v), "v%d", i);
		hearth_kv_batch_put(b, HEARTH_KV_WAL, k, 5, v, strlen(v));
	}
	assert_int_equal(hearth_kv_write(kv, b, 1, &e), 0);
	assert_int_equal(count_keys(kv, HEARTH_KV_WAL, NULL, NULL), 1000);

	/* One batch: a range delete [k0200, k0400), a delete, a put. */
	hearth_kv_batch_clear(b);
	hearth_kv_batch_delete_range(b, HEARTH_KV_WAL, "k0200", 5, "k0400", 5);
	hearth_kv_batch_delete(b, HEARTH_KV_WAL, "k0999", 5);
	hearth_kv_batch_put(b, HEARTH_KV_WAL, "k1000", 5, "new", 3);
	assert_int_equal(hearth_kv_write(kv, b, 0, &e), 0);
	assert_int_equal(count_keys(kv, HEARTH_KV_WAL, NULL, NULL), 800);
	assert_string_equal(get_str(kv, HEARTH_KV_WAL, "k0199", a), "v199");
	assert_null(get_str(kv, HEARTH_KV_WAL, "k0200", a));
	assert_null(get_str(kv, HEARTH_KV_WAL, "k0399", a));
	assert_string_equal(get_str(kv, HEARTH_KV_WAL, "k0400", a), "v400");
	assert_null(get_str(kv, HEARTH_KV_WAL, "k0999", a));
	assert_string_equal(get_str(kv, HEARTH_KV_WAL, "k1000", a), "new");

	/* An empty batch is a successful no-op. */
	hearth_kv_batch_clear(b);
	assert_int_equal(hearth_kv_write(kv, b, 1, &e), 0);
	hearth_kv_batch_free(b);
	hearth_kv_close(kv);
	hearth_arena_free(a);
}

static void
test_kv_get_copies_into_arena(void **state)
{
	fixture   *fx = *state;
	char       path[128];
	uint8_t   *v  = NULL;
	size_t     vl = 99;
	hearth_err e;

	snprintf(path, sizeof(path), "%s/db", fx->dir);
	hearth_kv    *kv = open_at(path, 0);
	hearth_arena *a  = hearth_arena_new(0);
	put1(kv, HEARTH_KV_META, "key", "value");
	put1(kv, HEARTH_KV_META, "empty", "");

	assert_int_equal(
	    hearth_kv_get(kv, HEARTH_KV_META, "key", 3, a, &v, &vl, &e), 0);
	assert_int_equal(vl, 5);
	assert_memory_equal(v, "value", 6); /* NUL-terminated */

	assert_int_equal(
	    hearth_kv_get(kv, HEARTH_KV_META, "empty", 5, a, &v, &vl, &e), 0);
	assert_int_equal(vl, 0);
	assert_non_null(v);
	assert_int_equal(v[0], 0);

	/* Absent: ENOTFOUND, outputs cleared, err untouched. */
	hearth_err_clear(&e);
	assert_int_equal(
	    hearth_kv_get(kv, HEARTH_KV_WAL, "key", 3, a, &v, &vl, &e),
	    HEARTH_ENOTFOUND);
	assert_null(v);
	assert_int_equal(vl, 0);
	assert_int_equal(e.code, 0);

	/* A value larger than the arena's cap. */
	char big[200];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put1(kv, HEARTH_KV_META, "big", big);
	hearth_arena *small = hearth_arena_new(64);
	assert_int_equal(
	    hearth_kv_get(kv, HEARTH_KV_META, "big", 3, small, &v, &vl, &e),
	    HEARTH_ENOMEM);
	assert_non_null(strstr(e.msg, "199 bytes"));
	hearth_arena_free(small);
	hearth_arena_free(a);
	hearth_kv_close(kv);
}

static void
test_kv_iter_bounds_are_copied(void **state)
{
	fixture   *fx = *state;
	char       path[128], k[8], lo[4], hi[4];
	size_t     kl, vl;
	hearth_err e;

	snprintf(path, sizeof(path), "%s/db", fx->dir);
	hearth_kv *kv = open_at(path, 0);
	for (int i = 0; i < 10; i++) {
		snprintf(k, sizeof(k), "k%02d", i);
		put1(kv, HEARTH_KV_META, k, k + 1);
	}
	memcpy(lo, "k02", 3);
	memcpy(hi, "k05", 3);
	hearth_kv_iter *it
	    = hearth_kv_iter_new(kv, HEARTH_KV_META, lo, 3, hi, 3);
	/* RocksDB would follow these bytes; kv copied them. */
	memset(lo, 0xff, sizeof(lo));
	memset(hi, 0x00, sizeof(hi));
	const char *want[] = { "k02", "k03", "k04" };
	size_t      n      = 0;
	for (; hearth_kv_iter_valid(it); hearth_kv_iter_next(it), n++) {
		const uint8_t *key = hearth_kv_iter_key(it, &kl);
		const uint8_t *val = hearth_kv_iter_value(it, &vl);
		assert_true(n < 3);
		assert_int_equal(kl, 3);
		assert_memory_equal(key, want[n], 3);
		assert_int_equal(vl, 2);
		assert_memory_equal(val, want[n] + 1, 2);
	}
	assert_int_equal(n, 3);
	assert_int_equal(hearth_kv_iter_error(it, &e), 0);

	/* Seeking below the lower bound lands on it. */
	hearth_kv_iter_seek(it, "k00", 3);
	assert_true(hearth_kv_iter_valid(it));
	assert_memory_equal(hearth_kv_iter_key(it, &kl), "k02", 3);
	hearth_kv_iter_seek(it, "k04", 3);
	assert_memory_equal(hearth_kv_iter_key(it, &kl), "k04", 3);
	hearth_kv_iter_next(it);
	assert_false(hearth_kv_iter_valid(it));
	/* Last key below the upper bound, then backwards. */
	hearth_kv_iter_seek_last(it);
	assert_true(hearth_kv_iter_valid(it));
	assert_memory_equal(hearth_kv_iter_key(it, &kl), "k04", 3);
	hearth_kv_iter_prev(it);
	assert_memory_equal(hearth_kv_iter_key(it, &kl), "k03", 3);
	hearth_kv_iter_free(it);

	/* Open bounds see everything; an iterator is a snapshot. */
	it = hearth_kv_iter_new(kv, HEARTH_KV_META, NULL, 0, NULL, 0);
	put1(kv, HEARTH_KV_META, "k10", "10");
	assert_memory_equal(hearth_kv_iter_key(it, &kl), "k00", 3);
	hearth_kv_iter_seek_last(it);
	assert_memory_equal(hearth_kv_iter_key(it, &kl), "k09", 3);
	hearth_kv_iter_free(it);
	assert_int_equal(count_keys(kv, HEARTH_KV_META, NULL, NULL), 11);
	assert_int_equal(count_keys(kv, HEARTH_KV_META, "k05", NULL), 6);
	assert_int_equal(count_keys(kv, HEARTH_KV_META, NULL, "k05"), 5);
	assert_int_equal(count_keys(kv, HEARTH_KV_BLOCKS, NULL, NULL), 0);
	hearth_kv_iter_free(NULL);
	hearth_kv_close(kv);
}

/* ------------------------------------------------------------------ */
/* Flush, compaction, stats */

static void
test_kv_range_delete_and_compaction_return_disk_space(void **state)
{
	fixture         *fx = *state;
	char             path[128], k[16];
	uint8_t          v[1024];
	hearth_err       e;
	hearth_kv_stats  st;
	hearth_kv_batch *b = hearth_kv_batch_new();

	snprintf(path, sizeof(path), "%s/db", fx->dir);
	hearth_kv *kv = open_at(path, 4 << 20);
	for (int i = 0; i < 2000; i++) {
		snprintf(k, sizeof(k), "k%05d", i);
		fill_random(v, sizeof(v), (uint64_t) i);
		hearth_kv_batch_put(b, HEARTH_KV_BLOCKS, k, 6, v, sizeof(v));
		if (i % 100 == 99) {
			assert_int_equal(hearth_kv_write(kv, b, 0, &e), 0);
			hearth_kv_batch_clear(b);
		}
	}
	put1(kv, HEARTH_KV_WAL, "w", "x");
	assert_int_equal(hearth_kv_stats_get(kv, &st), 0);
	/* 2000 x 1 KiB in the memtable, nothing on disk yet. */
	assert_true(st.memtable_bytes > 2000 * 1024);
	assert_true(st.blocks_cf_bytes > 2000 * 1024);
	assert_true(st.wal_cf_bytes > 0);
	assert_int_equal(st.sst_bytes_total, 0);

	assert_int_equal(hearth_kv_flush(kv, &e), 0);
	assert_int_equal(hearth_kv_stats_get(kv, &st), 0);
	uint64_t files = 0, lvl_bytes = 0;
	for (int l = 0; l < 7; l++) {
		files += st.files_per_level[l];
		lvl_bytes += st.sst_bytes_per_level[l];
	}
	/* Random bytes do not compress: >= 2 MB of SST. One L0 file per
	 * CF that held data (wal and blocks; meta is empty). */
	assert_int_equal(files, 2);
	assert_int_equal(st.files_per_level[0], 2);
	assert_true(st.sst_bytes_total >= 2000 * 1024);
	assert_int_equal(lvl_bytes, st.sst_bytes_total);
	assert_true(st.blocks_cf_bytes >= 2000 * 1024);
	assert_true(st.block_cache_bytes > 0); /* index/filter blocks */
	assert_int_equal(st.background_errors, 0);
	assert_int_equal(st.write_errors, 0);

	/* Delete everything, then compact: the space comes back. */
	hearth_kv_batch_clear(b);
	hearth_kv_batch_delete_range(b, HEARTH_KV_BLOCKS, "k", 1, "l", 1);
	assert_int_equal(hearth_kv_write(kv, b, 1, &e), 0);
	assert_int_equal(count_keys(kv, HEARTH_KV_BLOCKS, NULL, NULL), 0);
	assert_int_equal(hearth_kv_compact_range(
	                     kv, HEARTH_KV_BLOCKS, NULL, 0, NULL, 0, &e),
	    0);
	assert_int_equal(hearth_kv_stats_get(kv, &st), 0);
	/* No SST left in blocks (what remains is its empty memtable); the
	 * one file left is the wal CF's "w". */
	files = 0;
	for (int l = 0; l < 7; l++)
		files += st.files_per_level[l];
	assert_int_equal(files, 1);
	assert_int_equal(st.files_per_level[0], 1);
	assert_true(st.blocks_cf_bytes < 4096);
	assert_true(st.sst_bytes_total < 2048);
	assert_int_equal(st.sst_bytes_per_level[0], st.sst_bytes_total);
	assert_int_equal(hearth_kv_flush_wal(kv, 1, &e), 0);
	hearth_kv_batch_free(b);
	hearth_kv_close(kv);
}

/* ------------------------------------------------------------------ */
/* Concurrency */

typedef struct writer_arg {
	hearth_kv *kv;
	int        id;
	int        errors;
} writer_arg;

static void *
writer_main(void *p)
{
	writer_arg      *w = p;
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_err       e;
	char             k[32];

	for (int i = 0; i < 250; i++) {
		int n = snprintf(k, sizeof(k), "t%d-%04d", w->id, i);
		hearth_kv_batch_clear(b);
		hearth_kv_batch_put(
		    b, HEARTH_KV_WAL, k, (size_t) n, k, (size_t) n);
		w->errors += hearth_kv_write(w->kv, b, 1, &e) != 0;
		if (i % 50 == 0) /* iterators and writes interleave */
			(void) count_keys(w->kv, HEARTH_KV_WAL, NULL, NULL);
	}
	hearth_kv_batch_free(b);
	return NULL;
}

static void
test_kv_concurrent_synced_writers(void **state)
{
	fixture        *fx = *state;
	char            path[128];
	pthread_t       th[4];
	writer_arg      w[4];
	hearth_kv_stats st;

	snprintf(path, sizeof(path), "%s/db", fx->dir);
	hearth_kv *kv = open_at(path, 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (writer_arg) { kv, i, 0 };
		assert_int_equal(
		    pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].errors, 0);
	}
	assert_int_equal(count_keys(kv, HEARTH_KV_WAL, NULL, NULL), 1000);
	assert_int_equal(count_keys(kv, HEARTH_KV_WAL, "t2-", "t3-"), 250);
	/* Healthy: resume has nothing to clear and does not reopen. */
	hearth_err e;
	assert_int_equal(hearth_kv_resume(kv, &e), 0);
	assert_int_equal(hearth_kv_stats_get(kv, &st), 0);
	assert_int_equal(st.reopens, 0);
	hearth_kv_close(kv);
}

/* ------------------------------------------------------------------ */
/* Crash: SIGKILL while writing synced batches */

#define CRASH_VAL 100

static void
crash_value(char *v, int i)
{
	fill_random((uint8_t *) v, CRASH_VAL, (uint64_t) i + 7);
}

/* Child process (this binary re-executed with --crash-child, so RocksDB
 * starts fresh: after a bare fork its background thread pool would have
 * no threads): synced writes of c000000, c000001, ... from `start`,
 * reporting each acknowledged index on fd, until it is killed. */
static void
crash_child(const char *path, int start, int fd)
{
	hearth_kv_opts   o  = { path, 1 << 20, 64 << 10 };
	hearth_kv       *kv = NULL;
	hearth_kv_batch *b  = hearth_kv_batch_new();
	hearth_err       e;
	char             k[16], v[CRASH_VAL];

	if (hearth_kv_open(&o, &kv, &e) != 0)
		_exit(2);
	for (int i = start; i < start + 100000; i++) {
		snprintf(k, sizeof(k), "c%06d", i);
		crash_value(v, i);
		hearth_kv_batch_clear(b);
		/* Two CFs in one batch: both or neither after the crash. */
		hearth_kv_batch_put(b, HEARTH_KV_WAL, k, 7, v, sizeof(v));
		hearth_kv_batch_put(b, HEARTH_KV_META, k, 7, "m", 1);
		if (hearth_kv_write(kv, b, 1, &e) != 0)
			_exit(3);
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(4);
	}
	_exit(5);
}

static void
test_kv_synced_writes_survive_sigkill(void **state)
{
	fixture      *fx = *state;
	char          path[128], k[16], v[CRASH_VAL];
	hearth_arena *a     = hearth_arena_new(0);
	int           start = 0;

	snprintf(path, sizeof(path), "%s/db", fx->dir);
	for (int round = 0; round < 3; round++) {
		int fds[2], acked = -1, got, st;
		assert_int_equal(pipe(fds), 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			char s_start[16], s_fd[16];
			close(fds[0]);
			snprintf(s_start, sizeof(s_start), "%d", start);
			snprintf(s_fd, sizeof(s_fd), "%d", fds[1]);
			execl("/proc/self/exe", "kv_test", "--crash-child",
			    path, s_start, s_fd, (char *) NULL);
			_exit(127);
		}
		close(fds[1]);
		/* Kill at a different point each round, mid-stream; 64 KiB
		 * memtables mean flushes run while it is killed. */
		int kill_after = 300 + 400 * round;
		while (read(fds[0], &got, sizeof(got)) == sizeof(got)) {
			acked = got;
			if (got - start == kill_after)
				kill(pid, SIGKILL);
		}
		close(fds[0]);
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
		assert_true(acked >= start + kill_after);

		/* Every acknowledged write is there, byte for byte; what is
		 * there beyond it is a gap-free prefix, never half a batch. */
		hearth_kv *kv = open_at(path, 0);
		int        n  = 0;
		for (;; n++) {
			snprintf(k, sizeof(k), "c%06d", n);
			const char *wv = get_str(kv, HEARTH_KV_WAL, k, a);
			const char *mv = get_str(kv, HEARTH_KV_META, k, a);
			assert_true((wv == NULL) == (mv == NULL));
			if (wv == NULL)
				break;
			crash_value(v, n);
			assert_memory_equal(wv, v, CRASH_VAL);
			assert_string_equal(mv, "m");
		}
		assert_true(n > acked);
		assert_int_equal(
		    count_keys(kv, HEARTH_KV_WAL, NULL, NULL), (size_t) n);
		assert_int_equal(
		    count_keys(kv, HEARTH_KV_META, NULL, NULL), (size_t) n);
		hearth_kv_close(kv);
		start = n;
		hearth_arena_reset(a);
	}
	hearth_arena_free(a);
}

/* ------------------------------------------------------------------ */
/* Disk full */

#define FULL_VAL 8192

static void
full_value(uint8_t *v, int i)
{
	fill_random(v, FULL_VAL, (uint64_t) i + 1000);
}

/* Fill the filesystem with a file until `leave` bytes are left. */
static void
fill_disk(const char *mnt, const char *name, uint64_t leave)
{
	char    buf[65536], path[160];
	ssize_t w;

	snprintf(path, sizeof(path), "%s/%s", mnt, name);
	int fd = open(path, O_CREAT | O_WRONLY | O_APPEND, 0644);
	assert_true(fd >= 0);
	memset(buf, 'f', sizeof(buf));
	while (free_bytes(mnt) > leave) {
		uint64_t room = free_bytes(mnt) - leave;
		size_t   n = room < sizeof(buf) ? (size_t) room : sizeof(buf);
		w          = write(fd, buf, n);
		if (w <= 0)
			break;
	}
	close(fd);
}

/* Synced two-CF batches a00000.. until one fails; returns how many were
 * acknowledged and leaves the failure in *e. */
static int
write_until_full(hearth_kv *kv, hearth_err *e, int *rc)
{
	hearth_kv_batch *b = hearth_kv_batch_new();
	uint8_t          v[FULL_VAL];
	char             k[16];
	int              i;

	for (i = 0; i < 4000; i++) {
		snprintf(k, sizeof(k), "a%05d", i);
		full_value(v, i);
		hearth_kv_batch_clear(b);
		hearth_kv_batch_put(b, HEARTH_KV_WAL, k, 6, v, sizeof(v));
		hearth_kv_batch_put(b, HEARTH_KV_META, k, 6, k, 6);
		*rc = hearth_kv_write(kv, b, 1, e);
		if (*rc != 0)
			break;
	}
	hearth_kv_batch_free(b);
	return i;
}

/* Every acknowledged batch is whole; the failed one (index `acked`) is
 * whole or absent; nothing else exists. */
static void
check_full_data(hearth_kv *kv, int acked)
{
	hearth_arena *a = hearth_arena_new(0);
	uint8_t       v[FULL_VAL];
	char          k[16];

	for (int i = 0; i < acked; i++) {
		snprintf(k, sizeof(k), "a%05d", i);
		const char *wv = get_str(kv, HEARTH_KV_WAL, k, a);
		assert_non_null(wv);
		full_value(v, i);
		assert_memory_equal(wv, v, FULL_VAL);
		assert_string_equal(get_str(kv, HEARTH_KV_META, k, a), k);
		hearth_arena_reset(a);
	}
	snprintf(k, sizeof(k), "a%05d", acked);
	int w = get_str(kv, HEARTH_KV_WAL, k, a) != NULL;
	int m = get_str(kv, HEARTH_KV_META, k, a) != NULL;
	assert_int_equal(w, m);
	assert_int_equal(
	    count_keys(kv, HEARTH_KV_WAL, "a", "b"), (size_t) (acked + w));
	assert_int_equal(
	    count_keys(kv, HEARTH_KV_META, "a", "b"), (size_t) (acked + m));
	hearth_arena_free(a);
}

typedef struct reader_arg {
	hearth_kv  *kv;
	atomic_int *stop;
	int         errors;
	int         loops;
} reader_arg;

static void *
reader_main(void *p)
{
	reader_arg   *r = p;
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *v;
	size_t        vl;
	hearth_err    e;

	while (!atomic_load(r->stop)) {
		if (hearth_kv_get(
		        r->kv, HEARTH_KV_META, "a00000", 6, a, &v, &vl, &e)
		        != 0
		    || vl != 6 || memcmp(v, "a00000", 6) != 0)
			r->errors++;
		hearth_kv_iter *it = hearth_kv_iter_new(
		    r->kv, HEARTH_KV_META, "a", 1, "b", 1);
		int n = 0;
		for (; hearth_kv_iter_valid(it); hearth_kv_iter_next(it))
			n++;
		if (hearth_kv_iter_error(it, &e) != 0 || n == 0)
			r->errors++;
		hearth_kv_iter_free(it);
		hearth_arena_reset(a);
		r->loops++;
		usleep(200);
	}
	hearth_arena_free(a);
	return NULL;
}

static void
test_kv_disk_full_fails_writes_keeps_reads_and_resumes(void **state)
{
	fixture        *fx = *state;
	char            db[160], filler[160];
	hearth_err      e;
	hearth_kv_stats st;
	int             rc = 0;

	mount_tmpfs_or_skip(fx, "4m");
	snprintf(db, sizeof(db), "%s/db", fx->mnt);
	hearth_kv *kv = open_at(db, 256 << 10);
	/* Leave 1.5 MiB for RocksDB, then let it fill that up. */
	fill_disk(fx->mnt, "filler", 1536 << 10);
	int acked = write_until_full(kv, &e, &rc);
	assert_int_equal(rc, HEARTH_EIO);
	assert_non_null(strstr(e.msg, "storage write failed: IO error: "));
	assert_non_null(strstr(e.msg, "No space left on device"));
	assert_true(acked > 20);

	/* RocksDB now refuses writes; reads keep working. */
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_kv_batch_put(b, HEARTH_KV_META, "z", 1, "z", 1);
	assert_int_equal(hearth_kv_write(kv, b, 0, &e), HEARTH_EIO);
	check_full_data(kv, acked);
	assert_int_equal(hearth_kv_stats_get(kv, &st), 0);
	assert_true(st.write_errors >= 2);

	/* Still full: resume refuses and leaves the database open. */
	hearth_err_clear(&e);
	assert_int_equal(hearth_kv_resume(kv, &e), HEARTH_EIO);
	assert_non_null(strstr(e.msg, "No space left on device"));
	assert_non_null(strstr(e.msg, "free disk space and retry"));
	check_full_data(kv, acked);

	/* Space returns; resume while readers are busy. */
	atomic_int stop = 0;
	reader_arg r[2];
	pthread_t  th[2];
	for (int i = 0; i < 2; i++) {
		r[i] = (reader_arg) { kv, &stop, 0, 0 };
		assert_int_equal(
		    pthread_create(&th[i], NULL, reader_main, &r[i]), 0);
	}
	snprintf(filler, sizeof(filler), "%s/filler", fx->mnt);
	assert_int_equal(unlink(filler), 0);
	usleep(20000);
	hearth_err_clear(&e);
	rc = hearth_kv_resume(kv, &e);
	if (rc != 0)
		fail_msg("resume: %s", e.msg);
	usleep(20000);
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(r[i].errors, 0);
		assert_true(r[i].loops > 0);
	}
	assert_int_equal(hearth_kv_stats_get(kv, &st), 0);
	assert_int_equal(st.reopens, 1);

	/* Writes work again; nothing acknowledged was lost or torn. */
	assert_int_equal(hearth_kv_write(kv, b, 1, &e), 0);
	check_full_data(kv, acked);
	hearth_arena *a = hearth_arena_new(0);
	assert_string_equal(get_str(kv, HEARTH_KV_META, "z", a), "z");
	assert_int_equal(hearth_kv_flush(kv, &e), 0);
	hearth_kv_close(kv);

	kv = open_at(db, 256 << 10);
	check_full_data(kv, acked);
	assert_string_equal(get_str(kv, HEARTH_KV_META, "z", a), "z");
	hearth_kv_close(kv);
	hearth_arena_free(a);
	hearth_kv_batch_free(b);
}

static void
test_kv_flush_on_full_disk_fails_then_resumes(void **state)
{
	fixture         *fx = *state;
	char             db[160], filler[160], k[16];
	uint8_t          v[4096];
	hearth_err       e;
	hearth_kv_stats  st;
	hearth_kv_batch *b = hearth_kv_batch_new();

	mount_tmpfs_or_skip(fx, "4m");
	snprintf(db, sizeof(db), "%s/db", fx->mnt);
	snprintf(filler, sizeof(filler), "%s/filler", fx->mnt);
	/* 4 MiB memtables: everything stays in memory until the flush. */
	hearth_kv *kv = open_at(db, 4 << 20);
	for (int i = 0; i < 150; i++) {
		snprintf(k, sizeof(k), "k%05d", i);
		fill_random(v, sizeof(v), (uint64_t) i);
		hearth_kv_batch_clear(b);
		hearth_kv_batch_put(b, HEARTH_KV_BLOCKS, k, 6, v, sizeof(v));
		assert_int_equal(hearth_kv_write(kv, b, 0, &e), 0);
	}
	fill_disk(fx->mnt, "filler", 0);

	/* The SST cannot be written: EIO with RocksDB's reason, and from
	 * then on RocksDB refuses writes and kv refuses compactions. */
	assert_int_equal(hearth_kv_flush(kv, &e), HEARTH_EIO);
	assert_non_null(strstr(e.msg, "storage flush failed: IO error: "));
	assert_non_null(strstr(e.msg, "No space left on device"));
	assert_int_equal(hearth_kv_write(kv, b, 1, &e), HEARTH_EIO);
	assert_int_equal(hearth_kv_compact_range(
	                     kv, HEARTH_KV_BLOCKS, NULL, 0, NULL, 0, &e),
	    HEARTH_EIO);
	assert_non_null(strstr(e.msg, "no compaction until hearth_kv_resume"));
	assert_int_equal(count_keys(kv, HEARTH_KV_BLOCKS, NULL, NULL), 150);
	assert_int_equal(hearth_kv_stats_get(kv, &st), 0);
	assert_int_equal(st.background_errors, 1);
	assert_int_equal(st.write_errors, 2);

	assert_int_equal(unlink(filler), 0);
	int rc = hearth_kv_resume(kv, &e);
	if (rc != 0)
		fail_msg("resume: %s", e.msg);
	assert_int_equal(hearth_kv_flush(kv, &e), 0);
	assert_int_equal(hearth_kv_compact_range(
	                     kv, HEARTH_KV_BLOCKS, NULL, 0, NULL, 0, &e),
	    0);
	assert_int_equal(hearth_kv_stats_get(kv, &st), 0);
	assert_int_equal(st.reopens, 1);
	assert_int_equal(st.background_errors, 1); /* kept across reopen */
	assert_true(st.blocks_cf_bytes >= 150 * 4096);
	hearth_kv_close(kv);

	kv              = open_at(db, 4 << 20);
	hearth_arena *a = hearth_arena_new(0);
	for (int i = 0; i < 150; i++) {
		uint8_t *got;
		size_t   gl;
		snprintf(k, sizeof(k), "k%05d", i);
		fill_random(v, sizeof(v), (uint64_t) i);
		assert_int_equal(hearth_kv_get(kv, HEARTH_KV_BLOCKS, k, 6, a,
		                     &got, &gl, &e),
		    0);
		assert_int_equal(gl, sizeof(v));
		assert_memory_equal(got, v, sizeof(v));
		hearth_arena_reset(a);
	}
	hearth_arena_free(a);
	hearth_kv_close(kv);
	hearth_kv_batch_free(b);
}

static void
test_kv_failed_reopen_keeps_handle_usable(void **state)
{
	fixture        *fx = *state;
	char            db[160], moved[160], filler[160];
	hearth_err      e;
	hearth_kv_stats st;
	uint8_t        *v;
	size_t          vl;
	int             rc = 0;

	mount_tmpfs_or_skip(fx, "4m");
	snprintf(db, sizeof(db), "%s/db", fx->mnt);
	snprintf(moved, sizeof(moved), "%s/db.moved", fx->mnt);
	snprintf(filler, sizeof(filler), "%s/filler", fx->mnt);
	hearth_kv *kv = open_at(db, 256 << 10);
	fill_disk(fx->mnt, "filler", 1536 << 10);
	int acked = write_until_full(kv, &e, &rc);
	assert_int_equal(rc, HEARTH_EIO);

	/* Make the reopen fail: a file where the database was. */
	assert_int_equal(rename(db, moved), 0);
	FILE *f = fopen(db, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(unlink(filler), 0);
	assert_int_equal(hearth_kv_resume(kv, &e), HEARTH_EIO);
	assert_non_null(strstr(e.msg, "cannot open storage at"));

	/* Closed inside, but every call answers with an error. */
	hearth_arena *a = hearth_arena_new(0);
	assert_int_equal(
	    hearth_kv_get(kv, HEARTH_KV_META, "a00000", 6, a, &v, &vl, &e),
	    HEARTH_EIO);
	assert_non_null(
	    strstr(e.msg, "storage is closed after a failed reopen"));
	hearth_kv_iter *it
	    = hearth_kv_iter_new(kv, HEARTH_KV_META, NULL, 0, NULL, 0);
	assert_non_null(it);
	assert_false(hearth_kv_iter_valid(it));
	hearth_kv_iter_seek(it, "a", 1);
	hearth_kv_iter_seek_last(it);
	assert_false(hearth_kv_iter_valid(it));
	assert_int_equal(hearth_kv_iter_error(it, &e), HEARTH_EIO);
	assert_non_null(
	    strstr(e.msg, "storage is closed after a failed reopen"));
	hearth_kv_iter_free(it);
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_kv_batch_put(b, HEARTH_KV_META, "z", 1, "z", 1);
	assert_int_equal(hearth_kv_write(kv, b, 1, &e), HEARTH_EIO);
	assert_int_equal(hearth_kv_flush(kv, &e), HEARTH_EIO);
	assert_int_equal(hearth_kv_flush_wal(kv, 1, &e), HEARTH_EIO);
	assert_int_equal(
	    hearth_kv_compact_range(kv, HEARTH_KV_META, NULL, 0, NULL, 0, &e),
	    HEARTH_EIO);
	assert_int_equal(hearth_kv_stats_get(kv, &st), HEARTH_EIO);
	assert_int_equal(st.reopens, 0);

	/* The cause goes away: the next resume brings everything back. */
	assert_int_equal(unlink(db), 0);
	assert_int_equal(rename(moved, db), 0);
	rc = hearth_kv_resume(kv, &e);
	if (rc != 0)
		fail_msg("resume: %s", e.msg);
	assert_int_equal(hearth_kv_stats_get(kv, &st), 0);
	assert_int_equal(st.reopens, 1);
	check_full_data(kv, acked);
	assert_int_equal(hearth_kv_write(kv, b, 1, &e), 0);
	assert_string_equal(get_str(kv, HEARTH_KV_META, "z", a), "z");
	hearth_kv_close(kv);

	kv = open_at(db, 256 << 10);
	check_full_data(kv, acked);
	hearth_kv_close(kv);
	hearth_kv_batch_free(b);
	hearth_arena_free(a);
}

int
main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--crash-child") == 0)
		crash_child(argv[2], atoi(argv[3]), atoi(argv[4]));
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_kv_open_creates_dirs_and_column_families, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_kv_open_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kv_open_keeps_unknown_column_families, setup,
		    teardown),
		cmocka_unit_test(test_kv_batch_sizes_and_clear),
		cmocka_unit_test_setup_teardown(
		    test_kv_batch_put_delete_range_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kv_get_copies_into_arena, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kv_iter_bounds_are_copied, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kv_range_delete_and_compaction_return_disk_space,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kv_concurrent_synced_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kv_synced_writes_survive_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kv_disk_full_fails_writes_keeps_reads_and_resumes,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_kv_flush_on_full_disk_fails_then_resumes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_kv_failed_reopen_keeps_handle_usable, setup,
		    teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
