/*
 * wal_replay: reading the WAL back (wal.h): segment records (mapped,
 * checked record by record) and the legacy column family, in sequence
 * order, for hearth_wal_replay and the open-time scan of wal.c.
 */
#include "wal_impl.h"

#include "ingester.pb-c.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* 1 and *r when a whole, checked record with seq >= min_seq starts at
 * p[*off]; 0 at the end of the segment's valid part (end of file, the
 * zeros of an unwritten tail, or a torn or damaged record). */
int
wal_next(const uint8_t *p, size_t n, size_t *off, uint64_t min_seq,
    wal_rec *r)
{
	size_t o = *off;
	if (n - o < WAL_HDR)
		return 0;
	const uint8_t *h = p + o;
	r->seq		 = wal_le_get(h, 8);
	r->tenant_len	 = (uint32_t) wal_le_get(h + 8, 4);
	r->push_len	 = (uint32_t) wal_le_get(h + 12, 4);
	if (r->seq == 0 || r->seq < min_seq ||
	    (uint64_t) r->tenant_len + r->push_len > n - o - WAL_HDR)
		return 0;
	r->tenant = h + WAL_HDR;
	r->push	  = r->tenant + r->tenant_len;
	if (wal_check(h, r->tenant, r->tenant_len, r->push, r->push_len) !=
	    wal_le_get(h + 16, 8))
		return 0;
	*off = o + WAL_HDR + r->tenant_len + r->push_len;
	return 1;
}

/* Map segment first (read-only); *len 0 and *map NULL for an empty
 * file. */
int
wal_map(const hearth_wal *w, uint64_t first, const uint8_t **map,
    size_t *len, hearth_err *err)
{
	char	    path[4200];
	struct stat st;
	*map = NULL;
	*len = 0;
	wal_seg_path(w, first, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return hearth_err_set(err, HEARTH_EIO,
		    "wal: cannot read %s: %s", path, strerror(e));
	}
	if (st.st_size > 0) {
		void *m = mmap(NULL, (size_t) st.st_size, PROT_READ, MAP_PRIVATE,
		    fd, 0);
		if (m == MAP_FAILED) {
			int e = errno;
			close(fd);
			return hearth_err_set(err, HEARTH_EIO,
			    "wal: cannot map %s: %s", path, strerror(e));
		}
		madvise(m, (size_t) st.st_size, MADV_SEQUENTIAL);
		*map = m;
		*len = (size_t) st.st_size;
	}
	close(fd);
	return 0;
}

void
wal_unmap(const uint8_t *map, size_t len)
{
	if (map != NULL)
		munmap((void *) map, len);
}

/* Decode one legacy column-family record and hand it to fn. */
int
wal_replay_cf_one(hearth_kv_iter *it, hearth_arena *a, hearth_wal_replay_fn fn,
    void *ctx, hearth_err *err)
{
	size_t	       kl, vl;
	const uint8_t *k = hearth_kv_iter_key(it, &kl);
	const uint8_t *v = hearth_kv_iter_value(it, &vl);
	if (kl != 8)
		return hearth_err_set(err, HEARTH_ECORRUPT,
		    "wal: a record key is %zu bytes, want 8", kl);
	uint64_t	   seq = wal_key_decode(k);
	ProtobufCAllocator pa
	    = { hearth_arena_pb_alloc, hearth_arena_pb_free, a };
	Hearth__Ingester__WalRecord *rec
	    = hearth__ingester__wal_record__unpack(&pa, vl, v);
	if (rec == NULL || rec->tenant == NULL || rec->tenant[0] == '\0')
		return hearth_err_set(err, HEARTH_ECORRUPT,
		    "wal: record %llu (%zu bytes) does not decode; the WAL "
		    "is damaged",
		    (unsigned long long) seq, vl);
	return fn(ctx, seq, rec->tenant, rec->push.data, rec->push.len, err);
}

int
wal_replay_cf(hearth_wal *w, hearth_arena *a, hearth_wal_replay_fn fn,
    void *ctx, uint64_t *n, hearth_err *err)
{
	int		rc = 0;
	hearth_kv_iter *it
	    = hearth_kv_iter_new(w->kv, HEARTH_KV_WAL, NULL, 0, NULL, 0);
	if (it == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "wal: out of memory");
	for (; hearth_kv_iter_valid(it); hearth_kv_iter_next(it)) {
		if ((rc = wal_replay_cf_one(it, a, fn, ctx, err)) != 0)
			break;
		hearth_arena_reset(a);
		(*n)++;
	}
	if (rc == 0)
		rc = hearth_kv_iter_error(it, err);
	hearth_kv_iter_free(it);
	return rc;
}

int
wal_replay_segment(hearth_wal *w, uint64_t first, uint64_t trimmed,
    hearth_arena *a, hearth_wal_replay_fn fn, void *ctx, uint64_t *n,
    hearth_err *err)
{
	const uint8_t *map;
	size_t	       len, off = 0;
	wal_rec	       r;
	int	       rc = wal_map(w, first, &map, &len, err);
	if (rc != 0)
		return rc;
	uint64_t min = first;
	while (rc == 0 && wal_next(map, len, &off, min, &r)) {
		min = r.seq + 1;
		if (r.seq <= trimmed)
			continue;
		if (r.tenant_len == 0) {
			rc = hearth_err_set(err, HEARTH_ECORRUPT,
			    "wal: record %llu has no tenant; the WAL is "
			    "damaged",
			    (unsigned long long) r.seq);
			break;
		}
		char *tenant = hearth_arena_strndup(a, (const char *) r.tenant,
		    r.tenant_len);
		if (tenant == NULL) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "wal: out of memory");
			break;
		}
		rc = fn(ctx, r.seq, tenant, r.push, r.push_len, err);
		hearth_arena_reset(a);
		if (rc == 0)
			(*n)++;
	}
	wal_unmap(map, len);
	return rc;
}

int
hearth_wal_replay(hearth_wal *w, hearth_wal_replay_fn fn, void *ctx,
    uint64_t *records, hearth_err *err)
{
	uint64_t      n = 0, trimmed;
	int	      rc = 0;
	hearth_arena *a	 = hearth_arena_new(0);
	if (records != NULL)
		*records = 0;
	if (a == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "wal: out of memory");
	/* Segments may still hold records the mark covers. */
	rc = wal_read_trimmed(w->kv, &trimmed, err);
	/* An older hearth's records are older than every segment's. */
	if (rc == 0)
		rc = wal_replay_cf(w, a, fn, ctx, &n, err);
	/* At start-up the current segment (started by open) is empty. */
	for (size_t i = 0; rc == 0 && i < w->n_segs; i++)
		rc = wal_replay_segment(w, w->segs[i], trimmed, a, fn, ctx, &n,
		    err);
	hearth_arena_free(a);
	if (records != NULL)
		*records = n;
	return rc;
}
