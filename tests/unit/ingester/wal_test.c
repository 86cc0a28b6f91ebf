#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ingester.pb-c.h"
#include "kv.h"
#include "wal.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- fixture: a fresh RocksDB in a temporary directory ---------------- */

typedef struct fx {
	char            dir[64];
	char            wdir[80]; /* dir/wal: the segments */
	hearth_kv      *kv;
	hearth_wal     *wal;
	hearth_metrics *m;
	hearth_arena   *a;
	hearth_err      err;
} fx;

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void) st;
	(void) flag;
	(void) f;
	return remove(p);
}

static void
fx_open_kv(fx *f)
{
	hearth_kv_opts o = { f->dir, 1 << 20, 1 << 20 };
	assert_int_equal(hearth_kv_open(&o, &f->kv, &f->err), 0);
}

static void
fx_open(fx *f, hearth_wal_sync sync)
{
	fx_open_kv(f);
	assert_int_equal(
	    hearth_wal_open(f->kv, f->wdir, sync, f->m, &f->wal, &f->err), 0);
}

static void
fx_close(fx *f)
{
	hearth_wal_free(f->wal);
	hearth_kv_close(f->kv);
	f->wal = NULL;
	f->kv  = NULL;
}

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/hearth-wal-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->wdir, sizeof(f->wdir), "%s/wal", f->dir);
	f->m   = hearth_metrics_new();
	f->a   = hearth_arena_new(0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	fx_close(f);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	hearth_metrics_free(f->m);
	hearth_arena_free(f->a);
	free(f);
	return 0;
}

/* ---- replay collector ------------------------------------------------- */

#define MAX_SEEN 512

typedef struct seen {
	size_t   n;
	uint64_t seq[MAX_SEEN];
	char     tenant[MAX_SEEN][16];
	char     push[MAX_SEEN][32];
	size_t   stop_at; /* fail on this record (1-based); 0 = never */
} seen;

static int
collect(void *ctx, uint64_t seq, const char *tenant, const uint8_t *push,
    size_t len, hearth_err *err)
{
	seen *s = ctx;
	if (s->stop_at != 0 && s->n + 1 == s->stop_at)
		return hearth_err_set(
		    err, HEARTH_EINVAL, "stop at %zu", s->stop_at);
	assert_true(s->n < MAX_SEEN);
	if (len >= sizeof(s->push[0])) /* long pushes: the head only */
		len = sizeof(s->push[0]) - 1;
	s->seq[s->n] = seq;
	snprintf(s->tenant[s->n], sizeof(s->tenant[0]), "%s", tenant);
	if (len > 0) /* an empty push decodes as NULL */
		memcpy(s->push[s->n], push, len);
	s->push[s->n][len] = '\0';
	s->n++;
	return 0;
}

static void
append(fx *f, const char *tenant, const char *push, uint64_t want_seq)
{
	uint64_t seq = 0;
	assert_int_equal(
	    hearth_wal_append(f->wal, tenant, (const uint8_t *) push,
	        strlen(push), f->a, &seq, &f->err),
	    0);
	assert_int_equal(seq, want_seq);
}

static void
trim(fx *f, uint64_t seq)
{
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_wal_trim(f->wal, b, seq);
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	hearth_wal_trimmed(f->wal, seq);
}

/* ---- tests ------------------------------------------------------------ */

static void
test_wal_key_is_big_endian(void **state)
{
	(void) state;
	uint8_t k[8], lo[8], hi[8];
	hearth_wal_key_encode(0x0102030405060708ULL, k);
	for (int i = 0; i < 8; i++)
		assert_int_equal(k[i], i + 1);
	/* Byte order is sequence order, also across a byte boundary. */
	hearth_wal_key_encode(255, lo);
	hearth_wal_key_encode(256, hi);
	assert_true(memcmp(lo, hi, 8) < 0);
}

static void
test_wal_append_then_replay_in_order(void **state)
{
	fx *f = *state;
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	assert_int_equal(hearth_wal_last_seq(f->wal), 0);
	append(f, "acme", "one", 1);
	append(f, "beta", "two", 2);
	append(f, "acme", "", 3); /* an empty push is still a record */
	assert_int_equal(hearth_wal_last_seq(f->wal), 3);
	fx_close(f);

	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	assert_int_equal(hearth_wal_last_seq(f->wal), 3);
	seen     s = { 0 };
	uint64_t n = 99;
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, &s, &n, &f->err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.seq[1], 2);
	assert_int_equal(s.seq[2], 3);
	assert_string_equal(s.tenant[0], "acme");
	assert_string_equal(s.tenant[1], "beta");
	assert_string_equal(s.tenant[2], "acme");
	assert_string_equal(s.push[0], "one");
	assert_string_equal(s.push[1], "two");
	assert_string_equal(s.push[2], "");
	/* Sequences go on after the last one. */
	append(f, "acme", "four", 4);
}

static void
test_wal_trim_keeps_sequences_growing(void **state)
{
	fx *f = *state;
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	append(f, "t", "a", 1);
	append(f, "t", "b", 2);
	append(f, "t", "c", 3);
	trim(f, 2);
	seen s = { 0 };
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, &s, NULL, &f->err), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seq[0], 3);
	assert_string_equal(s.push[0], "c");
	/* Trim everything: the mark, not the (empty) WAL, gives the next
	 * sequence after a restart. */
	trim(f, 3);
	fx_close(f);
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	assert_int_equal(hearth_wal_last_seq(f->wal), 3);
	memset(&s, 0, sizeof(s));
	uint64_t n = 99;
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, &s, &n, &f->err), 0);
	assert_int_equal(n, 0);
	append(f, "t", "d", 4);
	/* Trimming 0 is a no-op, not a deletion of everything. */
	trim(f, 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, &s, NULL, &f->err), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seq[0], 4);
}

static void
test_wal_replay_stops_at_callback_error(void **state)
{
	fx *f = *state;
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	append(f, "t", "a", 1);
	append(f, "t", "b", 2);
	append(f, "t", "c", 3);
	seen     s = { .stop_at = 2 };
	uint64_t n = 99;
	assert_int_equal(hearth_wal_replay(f->wal, collect, &s, &n, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "stop at 2");
	assert_int_equal(n, 1);
	assert_int_equal(s.n, 1);
}

static void
test_wal_corrupt_record_is_named(void **state)
{
	fx     *f = *state;
	uint8_t key[8];
	fx_open_kv(f);
	/* A value that is not a WalRecord (field 1 announces 100 bytes). */
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_wal_key_encode(7, key);
	hearth_kv_batch_put(b, HEARTH_KV_WAL, key, 8, "\x0a\x64xx", 4);
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	assert_int_equal(hearth_wal_open(f->kv, f->wdir,
	                     HEARTH_WAL_SYNC_ALWAYS, NULL, &f->wal, &f->err),
	    0);
	assert_int_equal(hearth_wal_last_seq(f->wal), 7);
	seen s = { 0 };
	assert_int_equal(hearth_wal_replay(f->wal, collect, &s, NULL, &f->err),
	    HEARTH_ECORRUPT);
	assert_string_equal(f->err.msg,
	    "wal: record 7 (4 bytes) does not decode; the WAL is damaged");
}

static void
test_wal_bad_key_refuses_to_open(void **state)
{
	fx *f = *state;
	fx_open_kv(f);
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_kv_batch_put(b, HEARTH_KV_WAL, "abc", 3, "x", 1);
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	assert_int_equal(hearth_wal_open(f->kv, f->wdir,
	                     HEARTH_WAL_SYNC_ALWAYS, NULL, &f->wal, &f->err),
	    HEARTH_ECORRUPT);
	assert_string_equal(f->err.msg,
	    "wal: a record key is 3 bytes, want 8: the storage directory "
	    "holds something that is not hearth's");
}

/* Names of the segment files, sorted; returns how many. */
static size_t
segments(fx *f, char names[][32], size_t max)
{
	DIR	      *d = opendir(f->wdir);
	struct dirent *de;
	size_t	       n = 0;
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.' && n < max)
			snprintf(names[n++], 32, "%.31s", de->d_name);
	closedir(d);
	qsort(names, n, 32, (int (*)(const void *, const void *)) strcmp);
	return n;
}

static size_t
file_size(fx *f, const char *name)
{
	char	    p[160];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", f->wdir, name);
	assert_int_equal(stat(p, &st), 0);
	return (size_t) st.st_size;
}

static void
file_edit(fx *f, const char *name, size_t truncate_to, long flip_at)
{
	char p[160];
	snprintf(p, sizeof(p), "%s/%s", f->wdir, name);
	int fd = open(p, O_RDWR);
	assert_true(fd >= 0);
	if (flip_at >= 0) {
		uint8_t b;
		assert_int_equal(pread(fd, &b, 1, flip_at), 1);
		b ^= 0x40;
		assert_int_equal(pwrite(fd, &b, 1, flip_at), 1);
	} else {
		assert_int_equal(ftruncate(fd, (off_t) truncate_to), 0);
	}
	close(fd);
}

static void
test_wal_records_hold_tenant_and_push(void **state)
{
	fx     *f = *state;
	char	names[8][32];
	uint8_t want[24 + 4 + 7], got[sizeof(want)];
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	append(f, "acme", "payload", 1);
	/* One segment, named after its first sequence, holding exactly
	 * seq | tenant_len | push_len | check | tenant | push (LE). */
	assert_int_equal(segments(f, names, 8), 1);
	assert_string_equal(names[0], "0000000000000001.wal");
	/* Zeros are written ahead of the records, 4 MiB at a time. */
	assert_int_equal(file_size(f, names[0]), (size_t) 4 << 20);
	memset(want, 0, sizeof(want));
	want[0]	 = 1;
	want[8]	 = 4;
	want[12] = 7;
	uint64_t h = XXH3_64bits(want, 16);
	h	   = XXH3_64bits_withSeed("acme", 4, h);
	h	   = XXH3_64bits_withSeed("payload", 7, h);
	for (int i = 0; i < 8; i++)
		want[16 + i] = (uint8_t) (h >> (8 * i));
	memcpy(want + 24, "acme", 4);
	memcpy(want + 28, "payload", 7);
	char p[160];
	snprintf(p, sizeof(p), "%s/%s", f->wdir, names[0]);
	FILE *fp = fopen(p, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(got, 1, sizeof(got), fp), sizeof(got));
	uint8_t tail[4096], zero[4096] = { 0 };
	assert_int_equal(fread(tail, 1, sizeof(tail), fp), sizeof(tail));
	fclose(fp);
	assert_memory_equal(got, want, sizeof(want));
	assert_memory_equal(tail, zero, sizeof(tail));
}

/* Overwrite n bytes at off with zeros (data that never reached the disk
 * inside the zeros written ahead). */
static void
file_zero(fx *f, const char *name, size_t off, size_t n)
{
	char	p[160];
	uint8_t z[64] = { 0 };
	snprintf(p, sizeof(p), "%s/%s", f->wdir, name);
	int fd = open(p, O_RDWR);
	assert_true(fd >= 0 && n <= sizeof(z));
	assert_int_equal(pwrite(fd, z, n, (off_t) off), (ssize_t) n);
	close(fd);
}

static void
wal_torn_tail_is_dropped(fx *f, int torn_as_zeros)
{
	char names[8][32];
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	append(f, "t", "first", 1);
	append(f, "t", "second", 2);
	append(f, "t", "third", 3);
	fx_close(f);
	/* A kill in the middle of the third record's write: its last two
	 * bytes never reached the disk (records of 24 + 1 + 5, 24 + 1 + 6
	 * and 24 + 1 + 5 bytes end at 91). */
	assert_int_equal(segments(f, names, 8), 1);
	if (torn_as_zeros)
		file_zero(f, names[0], 89, 2);
	else
		file_edit(f, names[0], 89, -1);
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	/* 3 was never whole: it is handed out again, in a new segment. */
	assert_int_equal(hearth_wal_last_seq(f->wal), 2);
	seen s = { 0 };
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, &s, NULL, &f->err), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.push[1], "second");
	append(f, "t", "again", 3);
	fx_close(f);
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	memset(&s, 0, sizeof(s));
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, &s, NULL, &f->err), 0);
	assert_int_equal(s.n, 3);
	assert_int_equal(s.seq[2], 3);
	assert_string_equal(s.push[2], "again");
}

static void
test_wal_torn_tail_is_dropped(void **state)
{
	wal_torn_tail_is_dropped(*state, 0);
}

static void
test_wal_torn_tail_in_zeros_is_dropped(void **state)
{
	wal_torn_tail_is_dropped(*state, 1);
}

static void
test_wal_damaged_record_ends_its_segment(void **state)
{
	fx  *f = *state;
	char names[8][32];
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	append(f, "t", "a", 1);
	append(f, "t", "b", 2);
	fx_close(f);
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	append(f, "t", "c", 3);
	fx_close(f);
	/* Flip a bit in record 2's push: its check fails, the rest of the
	 * first segment is ignored, the next segment still replays. */
	assert_int_equal(segments(f, names, 8), 2);
	file_edit(f, names[0], 0, (long) (2 * (24 + 1 + 1) - 1));
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	seen s = { 0 };
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, &s, NULL, &f->err), 0);
	assert_int_equal(s.n, 2);
	assert_int_equal(s.seq[0], 1);
	assert_int_equal(s.seq[1], 3);
	assert_int_equal(hearth_wal_last_seq(f->wal), 3);
}

static void
test_wal_segments_roll_and_trim_deletes_them(void **state)
{
	fx	*f = *state;
	char	 names[64][32], body[1001];
	uint64_t seq;
	fx_open(f, HEARTH_WAL_SYNC_INTERVAL);
	hearth_wal_set_segment_bytes(f->wal, 4096);
	memset(body, 'x', 1000);
	body[1000] = '\0';
	for (uint64_t i = 1; i <= 10; i++)
		append(f, "t", body, i);
	/* 4 records (4 x 1026 bytes) reach 4096: a new segment each 4. */
	assert_int_equal(segments(f, names, 64), 3);
	assert_string_equal(names[0], "0000000000000001.wal");
	assert_string_equal(names[1], "0000000000000005.wal");
	assert_string_equal(names[2], "0000000000000009.wal");
	/* Trim 6: the first segment (1..4) goes, 5..8 holds 7 and 8. */
	trim(f, 6);
	assert_int_equal(segments(f, names, 64), 2);
	assert_string_equal(names[0], "0000000000000005.wal");
	seen s = { 0 };
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, &s, NULL, &f->err), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.seq[0], 7);
	fx_close(f);
	fx_open(f, HEARTH_WAL_SYNC_INTERVAL);
	memset(&s, 0, sizeof(s));
	uint64_t n = 0;
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, &s, &n, &f->err), 0);
	assert_int_equal(n, 4);
	assert_int_equal(s.seq[0], 7);
	assert_int_equal(s.seq[3], 10);
	/* Trim everything: only the segment started by this open stays,
	 * and the next append starts a new one (the current one held only
	 * trimmed records). */
	append(f, "t", "y", 11);
	trim(f, 11);
	assert_int_equal(segments(f, names, 64), 1);
	assert_string_equal(names[0], "000000000000000c.wal");
	assert_int_equal(file_size(f, names[0]), 0);
	assert_int_equal(hearth_wal_append(f->wal, "t", (const uint8_t *) "z",
			     1, f->a, &seq, &f->err),
	    0);
	assert_int_equal(seq, 12);
	assert_int_equal(hearth_wal_sync_now(f->wal, &f->err), 0);
	fx_close(f);
	fx_open(f, HEARTH_WAL_SYNC_INTERVAL);
	memset(&s, 0, sizeof(s));
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, &s, NULL, &f->err), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.seq[0], 12);
}

static void
test_wal_unwritable_dir_fails_open_with_the_path(void **state)
{
	fx *f = *state;
	fx_open_kv(f);
	/* A file where the directory should be. */
	FILE *fp = fopen(f->wdir, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(hearth_wal_open(f->kv, f->wdir,
			     HEARTH_WAL_SYNC_ALWAYS, NULL, &f->wal, &f->err),
	    HEARTH_EIO);
	char want[160];
	snprintf(want, sizeof(want), "wal: cannot read %s: Not a directory",
	    f->wdir);
	assert_string_equal(f->err.msg, want);
}

static void
test_wal_metrics_count_records_bytes_and_syncs(void **state)
{
	fx        *f = *state;
	hearth_buf out;
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	append(f, "acme", "payload", 1); /* 35 bytes, see above */
	append(f, "acme", "x", 2);       /* 29 bytes */
	hearth_buf_init(&out);
	assert_int_equal(hearth_metrics_write(f->m, &out), 0);
	assert_non_null(
	    strstr(out.data, "\nhearth_ingester_wal_records_total 2\n"));
	assert_non_null(
	    strstr(out.data, "\nhearth_ingester_wal_bytes_total 64\n"));
	assert_non_null(strstr(out.data,
	    "\nhearth_ingester_wal_sync_duration_seconds_count 2\n"));
	hearth_buf_fini(&out);
}

static void
test_wal_interval_policy_syncs_only_when_dirty(void **state)
{
	fx        *f = *state;
	hearth_buf out;
	char	   names[4][32];
	fx_open(f, HEARTH_WAL_SYNC_INTERVAL);
	assert_int_equal(hearth_wal_sync_now(f->wal, &f->err), 0); /* clean */
	append(f, "t", "a", 1);
	append(f, "t", "b", 2);
	/* No zeros ahead with this policy: the segment is its two records
	 * (24-byte header, tenant, push). */
	assert_int_equal(segments(f, names, 4), 1);
	assert_int_equal(file_size(f, names[0]), 2 * (24 + 1 + 1));
	assert_int_equal(hearth_wal_sync_now(f->wal, &f->err), 0);
	assert_int_equal(hearth_wal_sync_now(f->wal, &f->err), 0); /* clean */
	hearth_buf_init(&out);
	assert_int_equal(hearth_metrics_write(f->m, &out), 0);
	/* Two unsynced appends, one sync. */
	assert_non_null(strstr(out.data,
	    "\nhearth_ingester_wal_sync_duration_seconds_count 1\n"));
	assert_non_null(
	    strstr(out.data, "\nhearth_ingester_wal_records_total 2\n"));
	hearth_buf_fini(&out);
}

#define THREADS 4
#define PER_THREAD 50

static void *
append_many(void *arg)
{
	hearth_wal   *w = arg;
	hearth_arena *a = hearth_arena_new(0);
	hearth_err    err;
	for (int i = 0; i < PER_THREAD; i++) {
		char p[16];
		snprintf(p, sizeof(p), "p%d", i);
		if (hearth_wal_append(
		        w, "t", (const uint8_t *) p, strlen(p), a, NULL, &err)
		    != 0)
			abort();
	}
	hearth_arena_free(a);
	return NULL;
}

/* THREADS writers of PER_THREAD records each; then every record is
 * replayed once, in sequence order. */
static void
append_concurrently_and_replay(fx *f)
{
	pthread_t th[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, append_many, f->wal);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(hearth_wal_last_seq(f->wal), THREADS * PER_THREAD);
	seen *s = calloc(1, sizeof(*s));
	assert_int_equal(
	    hearth_wal_replay(f->wal, collect, s, NULL, &f->err), 0);
	assert_int_equal(s->n, THREADS * PER_THREAD);
	for (size_t i = 0; i < s->n; i++)
		assert_int_equal(s->seq[i], i + 1);
	free(s);
}

static void
test_wal_concurrent_appends_get_distinct_sequences(void **state)
{
	fx *f = *state;
	fx_open(f, HEARTH_WAL_SYNC_INTERVAL);
	append_concurrently_and_replay(f);
}

/* The always policy with four writers: one sync covers the records of
 * those waiting for it (group commit), across segment rolls; every
 * record is there once, in order, and no append returned before a sync
 * (the sync count is at least one and at most one per record). */
static void
test_wal_concurrent_always_appends_sync_and_roll(void **state)
{
	fx *f = *state;
	fx_open(f, HEARTH_WAL_SYNC_ALWAYS);
	hearth_wal_set_segment_bytes(f->wal, 4096);
	append_concurrently_and_replay(f);
	hearth_buf out;
	hearth_buf_init(&out);
	assert_int_equal(hearth_metrics_write(f->m, &out), 0);
	const char *c = strstr(
	    out.data, "\nhearth_ingester_wal_sync_duration_seconds_count ");
	assert_non_null(c);
	long syncs = strtol(c + strlen("\nhearth_ingester_wal_sync_duration_"
				       "seconds_count "),
	    NULL, 10);
	assert_true(syncs >= 1 && syncs <= THREADS * PER_THREAD);
	hearth_buf_fini(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wal_key_is_big_endian),
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_wal_append_then_replay_in_order),
		T(test_wal_trim_keeps_sequences_growing),
		T(test_wal_replay_stops_at_callback_error),
		T(test_wal_corrupt_record_is_named),
		T(test_wal_bad_key_refuses_to_open),
		T(test_wal_records_hold_tenant_and_push),
		T(test_wal_torn_tail_is_dropped),
		T(test_wal_torn_tail_in_zeros_is_dropped),
		T(test_wal_damaged_record_ends_its_segment),
		T(test_wal_segments_roll_and_trim_deletes_them),
		T(test_wal_unwritable_dir_fails_open_with_the_path),
		T(test_wal_metrics_count_records_bytes_and_syncs),
		T(test_wal_interval_policy_syncs_only_when_dirty),
		T(test_wal_concurrent_appends_get_distinct_sequences),
		T(test_wal_concurrent_always_appends_sync_and_roll),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
