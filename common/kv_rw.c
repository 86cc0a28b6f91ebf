/*
 * kv_rw: write batches, writes, point reads and iterators (kv.h).
 *
 * A hearth_kv_batch records operations in its own buffer and is turned
 * into a RocksDB batch only inside hearth_kv_write: RocksDB batches name
 * column families by handle, and handles change when resume reopens.
 */
#include "kv_impl.h"

#include <stdlib.h>
#include <string.h>

enum { KV_OP_PUT = 1, KV_OP_DEL = 2, KV_OP_DEL_RANGE = 3 };

typedef struct kv_op {
	uint8_t type;
	uint8_t cf;
	size_t  off; /* key (or range begin) at data + off, then value/end */
	size_t  kl;
	size_t  vl;
} kv_op;

struct hearth_kv_batch {
	kv_op   *ops;
	size_t   n_ops, cap_ops;
	uint8_t *data;
	size_t   len, cap;
	int      error; /* HEARTH_ENOMEM / HEARTH_ETOOLARGE from an adder */
};

struct hearth_kv_iter {
	hearth_kv             *kv;
	rocksdb_iterator_t    *it; /* NULL when RocksDB was closed */
	rocksdb_readoptions_t *ro;
	char                  *lower, *upper; /* owned copies of the bounds */
	int                    rc;            /* error when it == NULL */
	char                   msg[HEARTH_ERR_MSG_MAX];
};

/* ------------------------------------------------------------------ */
/* Batches */

hearth_kv_batch *
hearth_kv_batch_new(void)
{
	return calloc(1, sizeof(hearth_kv_batch));
}

void
hearth_kv_batch_free(hearth_kv_batch *b)
{
	if (b == NULL)
		return;
	free(b->ops);
	free(b->data);
	free(b);
}

void
hearth_kv_batch_clear(hearth_kv_batch *b)
{
	b->n_ops = 0;
	b->len   = 0;
	b->error = 0;
}

/* Append one operation with two byte strings; failures stick in b->error
 * so the void adders stay void and hearth_kv_write reports them. */
static void
kv_batch_add(hearth_kv_batch *b, int type, hearth_kv_cf cf, const void *k,
    size_t kl, const void *v, size_t vl)
{
	HEARTH_ASSERT(b != NULL && (unsigned) cf < HEARTH_KV_NCF);
	HEARTH_ASSERT((k != NULL || kl == 0) && (v != NULL || vl == 0));
	if (b->error != 0)
		return;
	/* RocksDB's WriteBatch rejects > 4 GiB keys/values with a status
	 * the C API drops; refuse them here instead of losing them. */
	if (kl > UINT32_MAX || vl > UINT32_MAX) {
		b->error = HEARTH_ETOOLARGE;
		return;
	}
	if (b->n_ops == b->cap_ops) {
		size_t nc = b->cap_ops ? 2 * b->cap_ops : 16;
		kv_op *no = realloc(b->ops, nc * sizeof(*no));
		if (no == NULL) {
			b->error = HEARTH_ENOMEM;
			return;
		}
		b->ops     = no;
		b->cap_ops = nc;
	}
	if (kl + vl > b->cap - b->len) {
		size_t nc = b->cap ? b->cap : 256;
		while (nc - b->len < kl + vl)
			nc *= 2;
		uint8_t *nd = realloc(b->data, nc);
		if (nd == NULL) {
			b->error = HEARTH_ENOMEM;
			return;
		}
		b->data = nd;
		b->cap  = nc;
	}
	kv_op *op = &b->ops[b->n_ops++];
	op->type  = (uint8_t) type;
	op->cf    = (uint8_t) cf;
	op->off   = b->len;
	op->kl    = kl;
	op->vl    = vl;
	if (kl > 0)
		memcpy(b->data + b->len, k, kl);
	if (vl > 0)
		memcpy(b->data + b->len + kl, v, vl);
	b->len += kl + vl;
}

void
hearth_kv_batch_put(hearth_kv_batch *b, hearth_kv_cf cf, const void *k,
    size_t kl, const void *v, size_t vl)
{
	kv_batch_add(b, KV_OP_PUT, cf, k, kl, v, vl);
}

void
hearth_kv_batch_delete(
    hearth_kv_batch *b, hearth_kv_cf cf, const void *k, size_t kl)
{
	kv_batch_add(b, KV_OP_DEL, cf, k, kl, NULL, 0);
}

void
hearth_kv_batch_delete_range(hearth_kv_batch *b, hearth_kv_cf cf,
    const void *begin, size_t bl, const void *end, size_t el)
{
	kv_batch_add(b, KV_OP_DEL_RANGE, cf, begin, bl, end, el);
}

size_t
hearth_kv_batch_bytes(const hearth_kv_batch *b)
{
	return b->len;
}

size_t
hearth_kv_batch_count(const hearth_kv_batch *b)
{
	return b->n_ops;
}

/* Translate b into a new RocksDB batch. Built per write (not when ops
 * are added) because column family handles change when resume reopens.
 * Caller destroys it. */
static rocksdb_writebatch_t *
kv_batch_build(hearth_kv *kv, const hearth_kv_batch *b)
{
	rocksdb_writebatch_t *wb = rocksdb_writebatch_create();

	for (size_t i = 0; i < b->n_ops; i++) {
		const kv_op *op = &b->ops[i];
		const char  *k  = (const char *) b->data + op->off;
		rocksdb_column_family_handle_t *h = kv->cf[op->cf];
		switch (op->type) {
		case KV_OP_PUT:
			rocksdb_writebatch_put_cf(
			    wb, h, k, op->kl, k + op->kl, op->vl);
			break;
		case KV_OP_DEL:
			rocksdb_writebatch_delete_cf(wb, h, k, op->kl);
			break;
		default:
			rocksdb_writebatch_delete_range_cf(
			    wb, h, k, op->kl, k + op->kl, op->vl);
			break;
		}
	}
	return wb;
}

int
hearth_kv_write(hearth_kv *kv, hearth_kv_batch *b, int sync, hearth_err *err)
{
	rocksdb_writebatch_t *wb;
	rocksdb_t            *db;
	char                 *rerr = NULL;
	int                   rc   = 0;

	HEARTH_ASSERT(kv != NULL && b != NULL);
	if (b->error == HEARTH_ENOMEM)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "out of memory building a storage write batch");
	if (b->error != 0)
		return hearth_err_set(err, b->error,
		    "storage write batch holds a key or value over 4 GiB");
	if (b->n_ops == 0)
		return 0;
	db = kv_enter(kv, err);
	if (db == NULL) {
		kv_leave(kv, 0);
		return HEARTH_EIO;
	}
	/* A second copy of the bytes for the duration of the write only:
	 * a big block batch is doubled briefly, never kept doubled. */
	wb = kv_batch_build(kv, b);
	rocksdb_write(db, sync ? kv->wo_sync : kv->wo_nosync, wb, &rerr);
	rocksdb_writebatch_destroy(wb);
	if (rerr != NULL)
		rc = kv_status(err, rerr, "storage write failed");
	kv_leave(kv, rc != 0);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Reads */

int
hearth_kv_get(hearth_kv *kv, hearth_kv_cf cf, const void *k, size_t kl,
    hearth_arena *a, uint8_t **v, size_t *vl, hearth_err *err)
{
	rocksdb_t               *db;
	rocksdb_pinnableslice_t *ps;
	char                    *rerr = NULL;
	int                      rc   = 0;

	HEARTH_ASSERT(kv != NULL && a != NULL && v != NULL && vl != NULL);
	HEARTH_ASSERT((unsigned) cf < HEARTH_KV_NCF);
	*v  = NULL;
	*vl = 0;
	db  = kv_enter(kv, err);
	if (db == NULL) {
		kv_leave(kv, 0);
		return HEARTH_EIO;
	}
	ps = rocksdb_get_pinned_cf(db, kv->ro, kv->cf[cf], k, kl, &rerr);
	if (rerr != NULL) {
		rc = kv_status(err, rerr, "storage read failed");
	} else if (ps == NULL) {
		rc = HEARTH_ENOTFOUND;
	} else {
		size_t      n;
		const char *p = rocksdb_pinnableslice_value(ps, &n);
		uint8_t    *dst
		    = n < SIZE_MAX ? hearth_arena_alloc(a, n + 1) : NULL;
		if (dst == NULL) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "a stored value of %zu bytes does not fit the "
			    "request's memory limit",
			    n);
		} else {
			if (n > 0)
				memcpy(dst, p, n);
			dst[n] = 0;
			*v     = dst;
			*vl    = n;
		}
		rocksdb_pinnableslice_destroy(ps);
	}
	kv_leave(kv, 0);
	return rc;
}

static char *
kv_dup_bytes(const void *p, size_t n)
{
	char *d = malloc(n ? n : 1);

	if (d != NULL && n > 0)
		memcpy(d, p, n);
	return d;
}

hearth_kv_iter *
hearth_kv_iter_new(hearth_kv *kv, hearth_kv_cf cf, const void *lower,
    size_t ll, const void *upper, size_t ul)
{
	hearth_kv_iter *it;
	hearth_err      e;
	rocksdb_t      *db;

	HEARTH_ASSERT(kv != NULL && (unsigned) cf < HEARTH_KV_NCF);
	it = calloc(1, sizeof(*it));
	if (it == NULL)
		return NULL;
	it->kv = kv;
	if ((lower != NULL && (it->lower = kv_dup_bytes(lower, ll)) == NULL)
	    || (upper != NULL
	        && (it->upper = kv_dup_bytes(upper, ul)) == NULL)) {
		free(it->lower);
		free(it);
		return NULL;
	}
	it->ro = rocksdb_readoptions_create();
	/* RocksDB keeps pointers to the bound bytes (it does not copy
	 * them): ours live as long as the iterator. */
	if (it->lower != NULL)
		rocksdb_readoptions_set_iterate_lower_bound(
		    it->ro, it->lower, ll);
	if (it->upper != NULL)
		rocksdb_readoptions_set_iterate_upper_bound(
		    it->ro, it->upper, ul);

	hearth_err_clear(&e);
	/* The iterator stays a user until _iter_free (kv.h threading). */
	db = kv_enter(kv, &e);
	if (db == NULL) {
		it->rc = e.code;
		memcpy(it->msg, e.msg, sizeof(it->msg));
		return it;
	}
	it->it = rocksdb_create_iterator_cf(db, it->ro, kv->cf[cf]);
	rocksdb_iter_seek_to_first(it->it);
	return it;
}

int
hearth_kv_iter_valid(hearth_kv_iter *it)
{
	return it->it != NULL && rocksdb_iter_valid(it->it);
}

void
hearth_kv_iter_next(hearth_kv_iter *it)
{
	HEARTH_ASSERT(hearth_kv_iter_valid(it));
	rocksdb_iter_next(it->it);
}

void
hearth_kv_iter_prev(hearth_kv_iter *it)
{
	HEARTH_ASSERT(hearth_kv_iter_valid(it));
	rocksdb_iter_prev(it->it);
}

void
hearth_kv_iter_seek(hearth_kv_iter *it, const void *k, size_t kl)
{
	if (it->it != NULL)
		rocksdb_iter_seek(it->it, k, kl);
}

void
hearth_kv_iter_seek_last(hearth_kv_iter *it)
{
	if (it->it != NULL)
		rocksdb_iter_seek_to_last(it->it);
}

const uint8_t *
hearth_kv_iter_key(hearth_kv_iter *it, size_t *kl)
{
	HEARTH_ASSERT(hearth_kv_iter_valid(it));
	return (const uint8_t *) rocksdb_iter_key(it->it, kl);
}

const uint8_t *
hearth_kv_iter_value(hearth_kv_iter *it, size_t *vl)
{
	HEARTH_ASSERT(hearth_kv_iter_valid(it));
	return (const uint8_t *) rocksdb_iter_value(it->it, vl);
}

int
hearth_kv_iter_error(hearth_kv_iter *it, hearth_err *err)
{
	char *rerr = NULL;

	if (it->it == NULL)
		return hearth_err_set(err, it->rc, "%s", it->msg);
	rocksdb_iter_get_error(it->it, &rerr);
	if (rerr != NULL)
		return kv_status(err, rerr, "storage read failed");
	return 0;
}

void
hearth_kv_iter_free(hearth_kv_iter *it)
{
	if (it == NULL)
		return;
	if (it->it != NULL)
		rocksdb_iter_destroy(it->it);
	/* Also a user when RocksDB was closed: kv_enter counted it. */
	kv_leave(it->kv, 0);
	rocksdb_readoptions_destroy(it->ro);
	free(it->lower);
	free(it->upper);
	free(it);
}
