/*
 * block_retain: retention (whole blocks past their tenant's horizon
 * deleted, then the key span compacted so the space returns), the
 * open-time cleanup of half-written compaction outputs, and the write +
 * list swap that every deletion of blocks goes through.
 */
#include "block_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- open-time cleanup -------------------------------------------------- */

int
block_cleanup_pending(hearth_blocks *bs, hearth_err *err)
{
	hearth_kv_batch *b  = hearth_kv_batch_new();
	hearth_kv_iter	*it = hearth_kv_iter_new(bs->kv, HEARTH_KV_META,
	     "bp\0", 3, "bp\1", 3);
	size_t		 n  = 0;
	int		 rc = 0;
	if (b == NULL || it == NULL) {
		rc = hearth_err_set(err, HEARTH_ENOMEM, "blocks: out of memory");
		goto done;
	}
	for (; hearth_kv_iter_valid(it); hearth_kv_iter_next(it)) {
		size_t	       kl;
		const uint8_t *k = hearth_kv_iter_key(it, &kl);
		char	      *tenant;
		uint64_t       id;
		if (block_meta_key_parse(k, kl, &tenant, &id) != 0) {
			rc = hearth_err_set(err, HEARTH_ECORRUPT,
			    "blocks: bad pending-compaction key (%zu bytes)",
			    kl);
			goto done;
		}
		uint8_t *lo = malloc(strlen(tenant) + BLOCK_KEY_EXTRA);
		uint8_t *hi = malloc(strlen(tenant) + BLOCK_KEY_EXTRA);
		if (lo != NULL && hi != NULL) {
			size_t ll = block_key(lo, tenant, id, 0, 0, 0);
			size_t hl = block_key(hi, tenant, id, 1, 0, 0);
			hearth_kv_batch_delete_range(b, HEARTH_KV_BLOCKS, lo,
			    ll, hi, hl);
			hearth_kv_batch_delete(b, HEARTH_KV_META, k, kl);
			n++;
		}
		free(lo);
		free(hi);
		free(tenant);
		if (lo == NULL || hi == NULL) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "blocks: out of memory");
			goto done;
		}
	}
	if ((rc = hearth_kv_iter_error(it, err)) != 0) {
		hearth_err_prefix(err, "blocks: reading pending compactions");
		goto done;
	}
	if (n > 0) {
		if ((rc = hearth_kv_write(bs->kv, b, 1, err)) != 0) {
			hearth_err_prefix(err, "blocks: removing %zu "
					       "half-written compaction "
					       "outputs",
			    n);
			goto done;
		}
		hearth_log_write(&bs->log, HEARTH_LOG_INFO,
		    "removed unfinished compaction outputs", "blocks=%zu", n);
	}
done:
	hearth_kv_iter_free(it);
	hearth_kv_batch_free(b);
	return rc;
}

/* Add the deletion of block (tenant, id): all its keys and its index
 * entry. */
int
block_delete_keys(hearth_kv_batch *b, const char *tenant, uint64_t id)
{
	size_t	 tl = strlen(tenant);
	uint8_t *lo = malloc(tl + BLOCK_KEY_EXTRA);
	uint8_t *hi = malloc(tl + BLOCK_KEY_EXTRA);
	if (lo == NULL || hi == NULL) {
		free(lo);
		free(hi);
		return HEARTH_ENOMEM;
	}
	size_t ll = block_key(lo, tenant, id, 0, 0, 0);
	size_t hl = block_key(hi, tenant, id, 1, 0, 0);
	hearth_kv_batch_delete_range(b, HEARTH_KV_BLOCKS, lo, ll, hi, hl);
	ll = block_meta_key(lo, "bi", tenant, id);
	hearth_kv_batch_delete(b, HEARTH_KV_META, lo, ll);
	free(lo);
	free(hi);
	return 0;
}

/* Write b (sync) and publish the list minus del plus add, atomically with
 * respect to queries that find keys missing (del_mu) and to flush commits
 * (which take del_mu too, so the list cannot grow in between and the
 * memory reserved here always suffices). */
int
block_write_and_swap(hearth_blocks *bs, hearth_kv_batch *b, block *const *del,
    size_t n_del, block *const *add, size_t n_add, hearth_err *err)
{
	size_t size;
	pthread_mutex_lock(&bs->del_mu);
	void *mem = block_list_reserve(bs, n_add, &size);
	int   rc  = mem == NULL ? hearth_err_set(err, HEARTH_ENOMEM,
				      "out of memory")
				: hearth_kv_write(bs->kv, b, 1, err);
	if (rc == 0)
		block_list_swap(bs, del, n_del, add, n_add, mem, size);
	else
		free(mem);
	pthread_mutex_unlock(&bs->del_mu);
	return rc;
}

/* ---- retention ------------------------------------------------------------ */

static int
ret_delete(hearth_blocks *bs, const char *tenant, block **v, size_t n,
    hearth_err *err)
{
	hearth_kv_batch *b = hearth_kv_batch_new();
	uint64_t	 lo_id = UINT64_MAX, hi_id = 0;
	int		 rc    = b == NULL ? HEARTH_ENOMEM : 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = block_delete_keys(b, tenant, v[i]->id);
		if (v[i]->id < lo_id)
			lo_id = v[i]->id;
		if (v[i]->id > hi_id)
			hi_id = v[i]->id;
	}
	if (rc != 0) {
		hearth_kv_batch_free(b);
		return hearth_err_set(err, rc, "retention: out of memory");
	}
	rc = block_write_and_swap(bs, b, v, n, NULL, 0, err);
	hearth_kv_batch_free(b);
	if (rc != 0)
		return hearth_err_prefix(err, "retention: tenant %s", tenant);
	char qt[256];
	hearth_log_quote(qt, sizeof(qt), tenant);
	hearth_metric_add(bs->m_retention_deleted, NULL, (double) n);
	hearth_log_write(&bs->log, HEARTH_LOG_INFO, "retention deleted blocks",
	    "blocks=%zu tenant=%s", n, qt);
	block_reclaim(bs, tenant, lo_id, hi_id, "retention");
	return 0;
}

void
block_reclaim(hearth_blocks *bs, const char *tenant, uint64_t lo_id,
    uint64_t hi_id, const char *why)
{
	/* Range tombstones hide the data; compacting the span drops it and
	 * gives the disk space back. */
	char	 qt[256];
	uint8_t *klo = malloc(strlen(tenant) + BLOCK_KEY_EXTRA);
	uint8_t *khi = malloc(strlen(tenant) + BLOCK_KEY_EXTRA);
	hearth_log_quote(qt, sizeof(qt), tenant);
	if (klo != NULL && khi != NULL) {
		size_t ll = block_key(klo, tenant, lo_id, 0, 0, 0);
		size_t hl = block_key(khi, tenant, hi_id, 1, 0, 0);
		hearth_err e;
		if (hearth_kv_compact_range(bs->kv, HEARTH_KV_BLOCKS, klo, ll,
			khi, hl, &e) != 0)
			hearth_log_write(&bs->log, HEARTH_LOG_WARN,
			    "disk space reclaim failed", "after=%s tenant=%s err=%s",
			    why, qt, e.msg);
	}
	free(klo);
	free(khi);
}

int
hearth_blocks_retention_step(hearth_blocks *bs, int64_t now_ms,
    int64_t (*retention_ms)(void *ctx, const char *tenant), void *ctx,
    hearth_err *err)
{
	int	rc = 0, did = 0;
	block **v  = NULL;
	pthread_mutex_lock(&bs->bg_mu);
	block_list *l = block_list_get(bs);
	for (size_t t = 0; rc == 0 && t < l->n; t++) {
		const block_tenant *bt = &l->tenants[t];
		int64_t		    r  = retention_ms(ctx, bt->name), horizon;
		size_t		    n  = 0;
		if (r <= 0 || __builtin_sub_overflow(now_ms, r, &horizon))
			continue;
		free(v);
		if ((v = malloc(bt->n * sizeof(*v))) == NULL) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "retention: out of memory");
			break;
		}
		for (size_t i = 0; i < bt->n; i++)
			if (block_ms(bt->blocks[i]->max_ns) < horizon)
				v[n++] = bt->blocks[i];
		if (n > 0 && (rc = ret_delete(bs, bt->name, v, n, err)) == 0)
			did = 1;
	}
	free(v);
	block_list_put(l);
	pthread_mutex_unlock(&bs->bg_mu);
	return rc != 0 ? rc : did;
}
