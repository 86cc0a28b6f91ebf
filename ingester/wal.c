#include "wal_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

void
hearth_wal_key_encode(uint64_t seq, uint8_t key[8])
{
	for (int i = 7; i >= 0; i--) {
		key[i] = (uint8_t) (seq & 0xff);
		seq >>= 8;
	}
}

uint64_t
wal_key_decode(const uint8_t *k)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | k[i];
	return v;
}

static void
wal_le_put(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (uint8_t) v;
}

uint64_t
wal_le_get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Seeded chain, so nothing has to be copied together first. */
uint64_t
wal_check(const uint8_t *hdr16, const void *tenant, size_t tl,
    const void *push, size_t pl)
{
	uint64_t h = XXH3_64bits(hdr16, 16);
	h	   = XXH3_64bits_withSeed(tenant, tl, h);
	return XXH3_64bits_withSeed(push, pl, h);
}

static double
wal_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
wal_seg_path(const hearth_wal *w, uint64_t first, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%016llx" WAL_SUFFIX, w->dir,
	    (unsigned long long) first);
}

/* fsync a directory, so entries created in it survive a machine crash. */
static int
wal_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	close(fd);
	return r;
}

/* ---- legacy column family, trim mark ------------------------------------ */

/* The highest sequence in the WAL column family (0 when empty). */
static int
wal_find_last(hearth_kv *kv, uint64_t *out, hearth_err *err)
{
	hearth_kv_iter *it
	    = hearth_kv_iter_new(kv, HEARTH_KV_WAL, NULL, 0, NULL, 0);
	int rc = 0;
	*out   = 0;
	if (it == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "wal: out of memory");
	hearth_kv_iter_seek_last(it);
	if (hearth_kv_iter_valid(it)) {
		size_t	       kl;
		const uint8_t *k = hearth_kv_iter_key(it, &kl);
		if (kl != 8)
			rc = hearth_err_set(err, HEARTH_ECORRUPT,
			    "wal: a record key is %zu bytes, want 8: the "
			    "storage directory holds something that is not "
			    "hearth's",
			    kl);
		else
			*out = wal_key_decode(k);
	} else {
		rc = hearth_kv_iter_error(it, err);
	}
	hearth_kv_iter_free(it);
	return rc;
}

int
wal_read_trimmed(hearth_kv *kv, uint64_t *out, hearth_err *err)
{
	hearth_arena *a = hearth_arena_new(0);
	uint8_t	     *v;
	size_t	      vl;
	int	      rc;
	*out = 0;
	if (a == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "wal: out of memory");
	rc = hearth_kv_get(kv, HEARTH_KV_META, WAL_TRIMMED_KEY,
	    strlen(WAL_TRIMMED_KEY), a, &v, &vl, err);
	if (rc == HEARTH_ENOTFOUND)
		rc = 0;
	else if (rc == 0 && vl != 8)
		rc = hearth_err_set(err, HEARTH_ECORRUPT,
		    "wal: the trim mark is %zu bytes, want 8", vl);
	else if (rc == 0)
		*out = wal_key_decode(v);
	hearth_arena_free(a);
	return rc;
}

static void
wal_metrics(hearth_wal *w, hearth_metrics *m)
{
	/* fsync latency: from ~50 us (page cache, fast NVMe) to seconds (a
	 * struggling disk). */
	static const double buckets[] = { 0.0001, 0.00025, 0.0005, 0.001,
		0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
	if (m == NULL)
		return;
	w->m_records = hearth_metrics_counter(m,
	    "hearth_ingester_wal_records_total",
	    "Records (pushes) written to the ingester's WAL.", 0, NULL);
	w->m_bytes = hearth_metrics_counter(m, "hearth_ingester_wal_bytes_total",
	    "Bytes of records written to the ingester's WAL.", 0, NULL);
	w->m_sync = hearth_metrics_histogram(m,
	    "hearth_ingester_wal_sync_duration_seconds",
	    "Time to make WAL writes durable (one fdatasync for a group of "
	    "appends, or one periodic fdatasync with "
	    "-storage.wal-sync=interval).",
	    0, NULL, buckets, sizeof(buckets) / sizeof(buckets[0]));
}

/* ---- segments (mu held) ------------------------------------------------- */

/* fdatasync the current segment as the leader: mu is released for the
 * call (syncing keeps the fd open meanwhile). On failure with cut (the
 * always policy) every byte not yet durable is lost: waiters see fail_gen
 * move, the bytes are cut off (best effort) and the next append starts a
 * new segment. */
static int
wal_sync_locked(hearth_wal *w, int cut, hearth_err *err)
{
	int	 fd	= w->fd;
	uint64_t target = w->base + w->off;
	w->syncing	= 1;
	pthread_mutex_unlock(&w->mu);
	double t0 = wal_now_s();
	int    r  = fdatasync(fd);
	int    e  = errno;
	double dt = wal_now_s() - t0;
	pthread_mutex_lock(&w->mu);
	w->syncing = 0;
	pthread_cond_broadcast(&w->cv);
	if (r == 0) {
		if (target > w->durable)
			w->durable = target;
		hearth_metric_observe(w->m_sync, NULL, dt);
		return 0;
	}
	if (cut) {
		w->fail_gen++;
		uint64_t keep = w->durable > w->base ? w->durable - w->base : 0;
		if (keep < w->off && ftruncate(w->fd, (off_t) keep) == 0) {
			w->off	  = keep;
			w->zeroed = keep;
		}
		w->need_roll = 1;
		w->lost	     = 1;
	}
	return hearth_err_set(err, HEARTH_EIO,
	    "IO error: %s (fdatasync of the WAL segment in %s)", strerror(e),
	    w->dir);
}

/* The current segment must be replaced before the next append. */
static int
wal_must_roll(const hearth_wal *w)
{
	return w->fd < 0 || w->need_roll || w->off >= w->seg_max;
}

/* When wal_must_roll: close the current segment (synced first when it
 * holds unsynced records that are still wanted) and create the next one,
 * named after the next sequence. 0 also when another thread rolled
 * meanwhile. HEARTH_EIO / HEARTH_ENOMEM leave no current segment (the
 * next append tries again). */
static int
wal_roll_locked(hearth_wal *w, hearth_err *err)
{
	char path[4200];
	for (;;) {
		while (w->syncing)
			pthread_cond_wait(&w->cv, &w->mu);
		if (!wal_must_roll(w))
			return 0;
		int unsynced = w->sync == HEARTH_WAL_SYNC_ALWAYS
		    ? w->durable < w->base + w->off
		    : w->dirty;
		if (w->fd < 0 || w->lost || !unsynced)
			break;
		/* Records of waiting appends (or acknowledged ones, with the
		 * interval policy) are synced before their segment is left.
		 * Unlocks: the loop looks again afterwards. */
		int rc = wal_sync_locked(w, w->sync == HEARTH_WAL_SYNC_ALWAYS,
		    err);
		if (rc != 0)
			return rc;
		w->dirty = 0;
	}
	if (w->fd >= 0) {
		close(w->fd);
		w->fd = -1;
		w->base += w->off;
		w->off = 0;
		/* Below base everything is durable, or lost and known lost
		 * to its waiters by fail_gen. */
		w->durable = w->base;
		w->dirty   = 0;
	}
	uint64_t first = atomic_load(&w->last) + 1;
	wal_seg_path(w, first, path, sizeof(path));
	/* A file with this name can only be an earlier segment that got no
	 * record (every record of it would be >= first): reuse it. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return hearth_err_set(err, HEARTH_EIO,
		    "IO error: %s (creating WAL segment %s)", strerror(errno),
		    path);
	if (wal_sync_dir(w->dir) != 0) {
		int e = errno;
		close(fd);
		return hearth_err_set(err, HEARTH_EIO,
		    "IO error: %s (syncing the WAL directory %s)", strerror(e),
		    w->dir);
	}
	if (w->n_segs == 0 || w->segs[w->n_segs - 1] != first) {
		if (w->n_segs == w->cap_segs) {
			size_t	  nc = w->cap_segs ? w->cap_segs * 2 : 16;
			uint64_t *ns = realloc(w->segs, nc * sizeof(*ns));
			if (ns == NULL) {
				close(fd);
				return hearth_err_set(err, HEARTH_ENOMEM,
				    "wal: out of memory");
			}
			w->segs	    = ns;
			w->cap_segs = nc;
		}
		w->segs[w->n_segs++] = first;
	}
	w->fd	     = fd;
	w->zeroed    = 0;
	w->need_roll = 0;
	w->lost	     = 0;
	return 0;
}

/* Delete the segments (not the current one) whose records are all
 * <= seq: segment i holds only sequences below segs[i + 1]. */
static void
wal_delete_upto_locked(hearth_wal *w, uint64_t seq)
{
	char   path[4200];
	size_t k = 0;
	while (k + 1 < w->n_segs && w->segs[k + 1] - 1 <= seq) {
		wal_seg_path(w, w->segs[k], path, sizeof(path));
		unlink(path);
		k++;
	}
	if (k > 0) {
		memmove(w->segs, w->segs + k, (w->n_segs - k) * sizeof(*w->segs));
		w->n_segs -= k;
	}
}

/* ---- open --------------------------------------------------------------- */

static int
wal_u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

/* The segments in the directory (created when missing), ascending. */
static int
wal_list(hearth_wal *w, hearth_err *err)
{
	if (mkdir(w->dir, 0755) == 0) {
		/* The new directory's entry must survive a crash too. */
		char parent[4200];
		snprintf(parent, sizeof(parent), "%s/..", w->dir);
		wal_sync_dir(parent);
	} else if (errno != EEXIST) {
		return hearth_err_set(err, HEARTH_EIO,
		    "wal: cannot create %s: %s", w->dir, strerror(errno));
	}
	DIR *d = opendir(w->dir);
	if (d == NULL)
		return hearth_err_set(err, HEARTH_EIO, "wal: cannot read %s: %s",
		    w->dir, strerror(errno));
	struct dirent *de;
	int	       rc = 0;
	while ((de = readdir(d)) != NULL) {
		const char *n = de->d_name;
		char	   *end;
		if (strlen(n) != WAL_NAME_LEN ||
		    strcmp(n + 16, WAL_SUFFIX) != 0)
			continue;
		unsigned long long v = strtoull(n, &end, 16);
		if (end != n + 16 || v == 0)
			continue;
		if (w->n_segs == w->cap_segs) {
			size_t	  nc = w->cap_segs ? w->cap_segs * 2 : 16;
			uint64_t *ns = realloc(w->segs, nc * sizeof(*ns));
			if (ns == NULL) {
				rc = hearth_err_set(err, HEARTH_ENOMEM,
				    "wal: out of memory");
				break;
			}
			w->segs	    = ns;
			w->cap_segs = nc;
		}
		w->segs[w->n_segs++] = v;
	}
	closedir(d);
	if (rc == 0 && w->n_segs > 1)
		qsort(w->segs, w->n_segs, sizeof(*w->segs), wal_u64_cmp);
	return rc;
}

/* The highest sequence of the last segment's valid records (or the one
 * before its name when it has none). */
static int
wal_last_in_segments(hearth_wal *w, uint64_t *out, hearth_err *err)
{
	const uint8_t *map;
	size_t	       len, off = 0;
	wal_rec	       r;
	*out = 0;
	if (w->n_segs == 0)
		return 0;
	uint64_t first = w->segs[w->n_segs - 1];
	int	 rc    = wal_map(w, first, &map, &len, err);
	if (rc != 0)
		return rc;
	*out = first - 1;
	while (wal_next(map, len, &off, *out + 1, &r))
		*out = r.seq;
	wal_unmap(map, len);
	return 0;
}

int
hearth_wal_open(hearth_kv *kv, const char *dir, hearth_wal_sync sync,
    hearth_metrics *m, hearth_wal **out, hearth_err *err)
{
	uint64_t last_cf, trimmed, last_seg;
	int	 rc;
	*out = NULL;
	if ((rc = wal_find_last(kv, &last_cf, err)) != 0 ||
	    (rc = wal_read_trimmed(kv, &trimmed, err)) != 0)
		return rc;
	hearth_wal *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->dir = strdup(dir)) == NULL) {
		free(w);
		return hearth_err_set(err, HEARTH_ENOMEM, "wal: out of memory");
	}
	w->kv		   = kv;
	w->sync		   = sync;
	w->seg_max	   = WAL_SEGMENT_BYTES;
	w->fd		   = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if ((rc = wal_list(w, err)) != 0 ||
	    (rc = wal_last_in_segments(w, &last_seg, err)) != 0) {
		hearth_wal_free(w);
		return rc;
	}
	uint64_t last = last_cf > trimmed ? last_cf : trimmed;
	if (last_seg > last)
		last = last_seg;
	atomic_init(&w->last, last);
	/* Segments the mark covers, the last one included when all its
	 * records are trimmed (a new one starts below anyway). */
	wal_delete_upto_locked(w, trimmed);
	if (w->n_segs == 1 && last_seg <= trimmed) {
		char path[4200];
		wal_seg_path(w, w->segs[0], path, sizeof(path));
		unlink(path);
		w->n_segs = 0;
	}
	wal_metrics(w, m);
	pthread_mutex_lock(&w->mu);
	rc = wal_roll_locked(w, err);
	pthread_mutex_unlock(&w->mu);
	if (rc != 0) {
		hearth_err_prefix(err, "wal: cannot start a segment");
		hearth_wal_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void
hearth_wal_set_segment_bytes(hearth_wal *w, size_t bytes)
{
	pthread_mutex_lock(&w->mu);
	w->seg_max = bytes < WAL_SEGMENT_MIN ? WAL_SEGMENT_MIN : bytes;
	pthread_mutex_unlock(&w->mu);
}

void
hearth_wal_free(hearth_wal *w)
{
	if (w == NULL)
		return;
	if (w->fd >= 0)
		close(w->fd);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w->segs);
	free(w->dir);
	free(w);
}

/* ---- append, sync --------------------------------------------------------- */

static int
wal_write_all(int fd, struct iovec *iov, int n, uint64_t off)
{
	while (n > 0) {
		ssize_t k = pwritev(fd, iov, n, (off_t) off);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += (uint64_t) k;
		while (n > 0 && (size_t) k >= iov->iov_len) {
			k -= (ssize_t) iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *) iov->iov_base + k;
			iov->iov_len -= (size_t) k;
		}
	}
	return 0;
}

/* Make the file hold at least end bytes by writing zeros after its
 * current end, rounded up to WAL_ZERO_AHEAD: records are then written
 * over zeros (see WAL_ZERO_AHEAD). -1 with errno on a failed write; the
 * zeros that did land are harmless (an unwritten tail). */
static int
wal_zero_ahead_locked(hearth_wal *w, uint64_t end)
{
	static const uint8_t zeros[WAL_ZERO_CHUNK];
	if (end <= w->zeroed)
		return 0;
	uint64_t to = (end + WAL_ZERO_AHEAD - 1) / WAL_ZERO_AHEAD
	    * WAL_ZERO_AHEAD;
	while (w->zeroed < to) {
		struct iovec iov[16];
		int	     n = 0;
		for (uint64_t o = w->zeroed; o < to && n < 16;
		     o += WAL_ZERO_CHUNK, n++) {
			iov[n].iov_base = (void *) zeros;
			iov[n].iov_len	= (size_t) (to - o < WAL_ZERO_CHUNK
				 ? to - o
				 : WAL_ZERO_CHUNK);
		}
		size_t bytes = 0;
		for (int i = 0; i < n; i++)
			bytes += iov[i].iov_len;
		if (wal_write_all(w->fd, iov, n, w->zeroed) != 0)
			return -1;
		w->zeroed += bytes;
	}
	return 0;
}

/* Always policy: wait until the record ending at logical byte end is
 * durable, leading an fdatasync when none runs (group commit: one sync
 * covers every record written before it started). */
static int
wal_wait_durable_locked(hearth_wal *w, uint64_t end, uint64_t gen,
    uint64_t seq, hearth_err *err)
{
	for (;;) {
		if (w->fail_gen != gen)
			return hearth_err_set(err, HEARTH_EIO,
			    "IO error: the sync covering record %llu failed "
			    "(WAL in %s)",
			    (unsigned long long) seq, w->dir);
		if (w->durable >= end)
			return 0;
		if (w->syncing) {
			pthread_cond_wait(&w->cv, &w->mu);
			continue;
		}
		int rc = wal_sync_locked(w, 1, err);
		if (rc != 0)
			return rc;
	}
}

int
hearth_wal_append(hearth_wal *w, const char *tenant, const uint8_t *push,
    size_t len, hearth_arena *scratch, uint64_t *seq, hearth_err *err)
{
	uint8_t hdr[WAL_HDR];
	size_t	tl = strlen(tenant);
	int	rc = 0;
	(void) scratch;
	if (tl > UINT32_MAX || len > UINT32_MAX)
		return hearth_err_set(err, HEARTH_ETOOLARGE,
		    "wal: a record of %zu bytes is too large", tl + len);
	pthread_mutex_lock(&w->mu);
	while (wal_must_roll(w))
		if ((rc = wal_roll_locked(w, err)) != 0)
			break;
	if (rc != 0) {
		pthread_mutex_unlock(&w->mu);
		return hearth_err_prefix(err,
		    "wal: write of record %llu failed",
		    (unsigned long long) atomic_load(&w->last) + 1);
	}
	uint64_t s = atomic_load(&w->last) + 1;
	atomic_store(&w->last, s);
	wal_le_put(hdr, s, 8);
	wal_le_put(hdr + 8, tl, 4);
	wal_le_put(hdr + 12, len, 4);
	wal_le_put(hdr + 16, wal_check(hdr, tenant, tl, push, len), 8);
	struct iovec iov[3] = { { hdr, WAL_HDR }, { (void *) tenant, tl },
		{ (void *) push, len } };
	size_t n = WAL_HDR + tl + len;
	if ((w->sync == HEARTH_WAL_SYNC_ALWAYS
	        && wal_zero_ahead_locked(w, w->off + n) != 0)
	    || wal_write_all(w->fd, iov, 3, w->off) != 0) {
		int e = errno;
		/* Cut the partial record off, or never write after it. */
		if (ftruncate(w->fd, (off_t) w->off) != 0)
			w->need_roll = 1;
		w->zeroed = w->off;
		pthread_mutex_unlock(&w->mu);
		return hearth_err_set(err, HEARTH_EIO,
		    "wal: write of record %llu failed: IO error: %s (WAL in "
		    "%s)",
		    (unsigned long long) s, strerror(e), w->dir);
	}
	w->off += n;
	if (w->sync == HEARTH_WAL_SYNC_ALWAYS)
		rc = wal_wait_durable_locked(w, w->base + w->off, w->fail_gen,
		    s, err);
	else
		w->dirty = 1;
	pthread_mutex_unlock(&w->mu);
	if (rc != 0)
		return hearth_err_prefix(err, "wal: write of record %llu failed",
		    (unsigned long long) s);
	hearth_metric_add(w->m_records, NULL, 1);
	hearth_metric_add(w->m_bytes, NULL, (double) n);
	if (seq != NULL)
		*seq = s;
	return 0;
}

uint64_t
hearth_wal_last_seq(const hearth_wal *w)
{
	return atomic_load(&((hearth_wal *) w)->last);
}

int
hearth_wal_sync_now(hearth_wal *w, hearth_err *err)
{
	int rc = 0;
	pthread_mutex_lock(&w->mu);
	while (w->syncing)
		pthread_cond_wait(&w->cv, &w->mu);
	if (w->dirty && w->fd >= 0) {
		/* Cleared before the sync: an append racing with it sets it
		 * again and is synced next time. */
		w->dirty = 0;
		if ((rc = wal_sync_locked(w, 0, err)) != 0) {
			w->dirty = 1;
			hearth_err_prefix(err, "wal: sync failed");
		}
	}
	pthread_mutex_unlock(&w->mu);
	return rc;
}

/* ---- trim ------------------------------------------------------------------ */

void
hearth_wal_trim(hearth_wal *w, hearth_kv_batch *b, uint64_t seq)
{
	uint8_t lo[8], hi[8], mark[8];
	(void) w;
	if (seq == 0)
		return;
	/* [0, seq + 1): seq < UINT64_MAX always (sequences are counted). */
	hearth_wal_key_encode(0, lo);
	hearth_wal_key_encode(seq + 1, hi);
	hearth_wal_key_encode(seq, mark);
	hearth_kv_batch_delete_range(
	    b, HEARTH_KV_WAL, lo, sizeof(lo), hi, sizeof(hi));
	hearth_kv_batch_put(b, HEARTH_KV_META, WAL_TRIMMED_KEY,
	    strlen(WAL_TRIMMED_KEY), mark, sizeof(mark));
}

void
hearth_wal_trimmed(hearth_wal *w, uint64_t seq)
{
	hearth_err err;
	if (seq == 0)
		return;
	pthread_mutex_lock(&w->mu);
	/* The current segment holds nothing newer than the mark: start a
	 * new one so that it can go too. */
	if (w->fd >= 0 && w->off > 0 && atomic_load(&w->last) <= seq) {
		w->need_roll = 1;
		if (wal_roll_locked(w, &err) != 0)
			w->need_roll = 1; /* the next append retries */
	}
	wal_delete_upto_locked(w, seq);
	pthread_mutex_unlock(&w->mu);
}
