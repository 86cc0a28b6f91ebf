#include "wal.h"

#include "ingester.pb-c.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAL_TRIMMED_KEY "wal/trimmed"

struct hearth_wal {
	hearth_kv      *kv;
	hearth_wal_sync sync;
	/* The last sequence handed out; appends take the next one with one
	 * atomic add, so concurrent appends never share a sequence. */
	atomic_uint_least64_t last;
	/* Appends since the last sync (interval policy). */
	atomic_int     dirty;
	hearth_metric *m_records;
	hearth_metric *m_bytes;
	hearth_metric *m_sync;
};

void
hearth_wal_key_encode(uint64_t seq, uint8_t key[8])
{
	for (int i = 7; i >= 0; i--) {
		key[i] = (uint8_t) (seq & 0xff);
		seq >>= 8;
	}
}

static uint64_t
wal_key_decode(const uint8_t *k)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = (v << 8) | k[i];
	return v;
}

static double
wal_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* The highest sequence in the WAL (0 when empty). */
static int
wal_find_last(hearth_kv *kv, uint64_t *out, hearth_err *err)
{
	hearth_kv_iter *it
	    = hearth_kv_iter_new(kv, HEARTH_KV_WAL, NULL, 0, NULL, 0);
	int rc = 0;
	*out   = 0;
	if (it == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "wal: out of memory");
	hearth_kv_iter_seek_last(it);
	if (hearth_kv_iter_valid(it)) {
		size_t         kl;
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

static int
wal_read_trimmed(hearth_kv *kv, uint64_t *out, hearth_err *err)
{
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *v;
	size_t        vl;
	int           rc;
	*out = 0;
	if (a == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "wal: out of memory");
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
	w->m_records
	    = hearth_metrics_counter(m, "hearth_ingester_wal_records_total",
	        "Records (pushes) written to the ingester's WAL.", 0, NULL);
	w->m_bytes
	    = hearth_metrics_counter(m, "hearth_ingester_wal_bytes_total",
	        "Bytes of records written to the ingester's WAL.", 0, NULL);
	w->m_sync = hearth_metrics_histogram(m,
	    "hearth_ingester_wal_sync_duration_seconds",
	    "Time to make WAL writes durable (one synced write, or one "
	    "periodic fsync with -storage.wal-sync=interval).",
	    0, NULL, buckets, sizeof(buckets) / sizeof(buckets[0]));
}

int
hearth_wal_open(hearth_kv *kv, hearth_wal_sync sync, hearth_metrics *m,
    hearth_wal **out, hearth_err *err)
{
	uint64_t last, trimmed;
	int      rc;
	*out = NULL;
	if ((rc = wal_find_last(kv, &last, err)) != 0
	    || (rc = wal_read_trimmed(kv, &trimmed, err)) != 0)
		return rc;
	hearth_wal *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "wal: out of memory");
	w->kv   = kv;
	w->sync = sync;
	atomic_init(&w->last, last > trimmed ? last : trimmed);
	atomic_init(&w->dirty, 0);
	wal_metrics(w, m);
	*out = w;
	return 0;
}

void
hearth_wal_free(hearth_wal *w)
{
	free(w);
}

int
hearth_wal_append(hearth_wal *w, const char *tenant, const uint8_t *push,
    size_t len, hearth_arena *scratch, uint64_t *seq, hearth_err *err)
{
	Hearth__Ingester__WalRecord rec = HEARTH__INGESTER__WAL_RECORD__INIT;
	uint8_t                     key[8];
	int                         rc;
	rec.tenant    = (char *) tenant;
	rec.push.data = (uint8_t *) push;
	rec.push.len  = len;
	size_t   n    = hearth__ingester__wal_record__get_packed_size(&rec);
	uint8_t *val  = hearth_arena_alloc(scratch, n + 1);
	if (val == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "wal: a record of %zu bytes does not fit the request "
		    "memory cap",
		    n);
	hearth__ingester__wal_record__pack(&rec, val);
	hearth_kv_batch *b = hearth_kv_batch_new();
	if (b == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "wal: out of memory");
	uint64_t s = atomic_fetch_add(&w->last, 1) + 1;
	hearth_wal_key_encode(s, key);
	hearth_kv_batch_put(b, HEARTH_KV_WAL, key, sizeof(key), val, n);
	int    do_sync = w->sync == HEARTH_WAL_SYNC_ALWAYS;
	double t0      = do_sync ? wal_now_s() : 0;
	rc             = hearth_kv_write(w->kv, b, do_sync, err);
	hearth_kv_batch_free(b);
	if (rc != 0)
		return hearth_err_prefix(err,
		    "wal: write of record %llu failed",
		    (unsigned long long) s);
	if (do_sync)
		hearth_metric_observe(w->m_sync, NULL, wal_now_s() - t0);
	else
		atomic_store(&w->dirty, 1);
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

int
hearth_wal_sync_now(hearth_wal *w, hearth_err *err)
{
	/* Cleared before the sync: an append racing with it sets it again
	 * and is synced next time. */
	if (!atomic_exchange(&w->dirty, 0))
		return 0;
	double t0 = wal_now_s();
	int    rc = hearth_kv_flush_wal(w->kv, 1, err);
	if (rc != 0) {
		atomic_store(&w->dirty, 1);
		return hearth_err_prefix(err, "wal: sync failed");
	}
	hearth_metric_observe(w->m_sync, NULL, wal_now_s() - t0);
	return 0;
}

/* Decode one record and hand it to fn. */
static int
wal_replay_one(hearth_kv_iter *it, hearth_arena *a, hearth_wal_replay_fn fn,
    void *ctx, hearth_err *err)
{
	size_t         kl, vl;
	const uint8_t *k = hearth_kv_iter_key(it, &kl);
	const uint8_t *v = hearth_kv_iter_value(it, &vl);
	if (kl != 8)
		return hearth_err_set(err, HEARTH_ECORRUPT,
		    "wal: a record key is %zu bytes, want 8", kl);
	uint64_t           seq = wal_key_decode(k);
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
hearth_wal_replay(hearth_wal *w, hearth_wal_replay_fn fn, void *ctx,
    uint64_t *records, hearth_err *err)
{
	uint64_t        n  = 0;
	int             rc = 0;
	hearth_arena   *a  = hearth_arena_new(0);
	hearth_kv_iter *it
	    = hearth_kv_iter_new(w->kv, HEARTH_KV_WAL, NULL, 0, NULL, 0);
	if (records != NULL)
		*records = 0;
	if (a == NULL || it == NULL) {
		rc = hearth_err_set(err, HEARTH_ENOMEM, "wal: out of memory");
		goto done;
	}
	for (; hearth_kv_iter_valid(it); hearth_kv_iter_next(it)) {
		if ((rc = wal_replay_one(it, a, fn, ctx, err)) != 0)
			goto done;
		hearth_arena_reset(a);
		n++;
	}
	rc = hearth_kv_iter_error(it, err);
done:
	hearth_kv_iter_free(it);
	hearth_arena_free(a);
	if (records != NULL)
		*records = n;
	return rc;
}
