#include "block_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

int
block_grow(void *arrp, size_t *cap, size_t need, size_t elem)
{
	void *old, *p;
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap : 16;
	while (nc < need)
		nc *= 2;
	if (nc > SIZE_MAX / elem)
		return HEARTH_ENOMEM;
	/* arrp points at a typed pointer; copy it out and back rather than
	 * cast to void ** (strict aliasing). */
	memcpy(&old, arrp, sizeof(old));
	if ((p = realloc(old, nc * elem)) == NULL)
		return HEARTH_ENOMEM;
	memcpy(arrp, &p, sizeof(p));
	*cap = nc;
	return 0;
}

block *
block_new(const char *tenant, uint64_t id)
{
	block *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	if ((b->tenant = strdup(tenant)) == NULL) {
		free(b);
		return NULL;
	}
	atomic_init(&b->refs, 1);
	b->id = id;
	return b;
}

void
block_ref(block *b)
{
	atomic_fetch_add(&b->refs, 1);
}

void
block_unref(block *b)
{
	if (b == NULL || atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	/* A cached block is in the current list, which holds a reference:
	 * the last reference never goes while the header is cached. */
	HEARTH_ASSERT(b->hdr == NULL);
	free(b->tenant);
	free(b);
}

uint64_t
block_alloc_id(hearth_blocks *bs)
{
	pthread_mutex_lock(&bs->mu);
	uint64_t id = bs->next_id++;
	pthread_mutex_unlock(&bs->mu);
	return id;
}

void
block_hdr_put(block_hdr *h)
{
	if (h != NULL && atomic_fetch_sub(&h->refs, 1) == 1)
		block_hdr_free(h);
}

/* ---- lists -------------------------------------------------------------- */

/* A list is one allocation: the struct, room for cap tenants, then cap
 * block pointers, so that a commit can build it in memory reserved at
 * prepare. */
static size_t
list_size(size_t cap)
{
	return sizeof(block_list) + cap * (sizeof(block_tenant) + sizeof(block *));
}

static block **
list_area(void *mem, size_t cap)
{
	return (block **) ((char *) mem + sizeof(block_list) +
	    cap * sizeof(block_tenant));
}

static int
list_block_cmp(const void *a, const void *b)
{
	const block *x = *(block *const *) a, *y = *(block *const *) b;
	int	     c = strcmp(x->tenant, y->tenant);
	if (c != 0)
		return c;
	if (x->min_ns != y->min_ns)
		return x->min_ns < y->min_ns ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* Build a list in mem (list_size(cap) bytes) over the n <= cap blocks the
 * caller put in list_area(mem, cap), taking a reference on each. */
static block_list *
list_build(void *mem, size_t cap, size_t n)
{
	block_list   *l	   = mem;
	block_tenant *ts   = (block_tenant *) (l + 1);
	block	    **blks = list_area(mem, cap);
	HEARTH_ASSERT(n <= cap);
	memset(l, 0, sizeof(*l));
	atomic_init(&l->refs, 1);
	l->tenants = ts;
	qsort(blks, n, sizeof(*blks), list_block_cmp);
	for (size_t i = 0; i < n; i++) {
		block_ref(blks[i]);
		if (i == 0 || strcmp(blks[i]->tenant, blks[i - 1]->tenant) != 0)
			ts[l->n++] = (block_tenant) { blks[i]->tenant,
				&blks[i], 0 };
		ts[l->n - 1].n++;
	}
	return l;
}

block_list *
block_list_get(hearth_blocks *bs)
{
	pthread_mutex_lock(&bs->mu);
	block_list *l = bs->cur;
	atomic_fetch_add(&l->refs, 1);
	pthread_mutex_unlock(&bs->mu);
	return l;
}

void
block_list_put(block_list *l)
{
	if (l == NULL || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	for (size_t t = 0; t < l->n; t++)
		for (size_t i = 0; i < l->tenants[t].n; i++)
			block_unref(l->tenants[t].blocks[i]);
	free(l);
}

const block_tenant *
block_list_tenant(const block_list *l, const char *tenant)
{
	size_t lo = 0, hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int    c   = strcmp(l->tenants[mid].name, tenant);
		if (c == 0)
			return &l->tenants[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static size_t
list_count(const block_list *l)
{
	size_t n = 0;
	for (size_t t = 0; t < l->n; t++)
		n += l->tenants[t].n;
	return n;
}

static void
cache_unlink(hearth_blocks *bs, block *b)
{
	if (b->lru_prev != NULL)
		b->lru_prev->lru_next = b->lru_next;
	else
		bs->lru_head = b->lru_next;
	if (b->lru_next != NULL)
		b->lru_next->lru_prev = b->lru_prev;
	else
		bs->lru_tail = b->lru_prev;
	b->lru_prev = b->lru_next = NULL;
}

/* cache_mu held. */
static void
cache_evict(hearth_blocks *bs, block *b)
{
	if (b->hdr == NULL)
		return;
	cache_unlink(bs, b);
	bs->cache_bytes -= b->hdr->bytes;
	block_hdr_put(b->hdr);
	b->hdr = NULL;
}

void *
block_list_reserve(hearth_blocks *bs, size_t n_add, size_t *size)
{
	pthread_mutex_lock(&bs->mu);
	*size = list_size(list_count(bs->cur) + n_add);
	pthread_mutex_unlock(&bs->mu);
	return malloc(*size);
}

void
block_list_swap(hearth_blocks *bs, block *const *del, size_t n_del,
    block *const *add, size_t n_add, void *mem, size_t size)
{
	pthread_mutex_lock(&bs->mu);
	block_list *old = bs->cur;
	/* The capacity mem has room for. */
	size_t cap = (size - sizeof(block_list)) /
	    (sizeof(block_tenant) + sizeof(block *));
	HEARTH_ASSERT(list_count(old) + n_add <= cap);
	for (size_t i = 0; i < n_del; i++)
		del[i]->unlinking = 1;
	block **v = list_area(mem, cap);
	size_t	n = 0;
	for (size_t t = 0; t < old->n; t++)
		for (size_t i = 0; i < old->tenants[t].n; i++)
			if (!old->tenants[t].blocks[i]->unlinking)
				v[n++] = old->tenants[t].blocks[i];
	for (size_t i = 0; i < n_add; i++)
		v[n++] = add[i];
	for (size_t i = 0; i < n_del; i++)
		del[i]->unlinking = 0;
	bs->cur = list_build(mem, cap, n);
	pthread_mutex_unlock(&bs->mu);
	pthread_mutex_lock(&bs->cache_mu);
	for (size_t i = 0; i < n_del; i++) {
		del[i]->dead = 1;
		cache_evict(bs, del[i]);
	}
	pthread_mutex_unlock(&bs->cache_mu);
	block_list_put(old);
}

int
block_list_moved(hearth_blocks *bs, const block_list *l)
{
	/* Whoever deleted the key holds del_mu until its list is published. */
	pthread_mutex_lock(&bs->del_mu);
	pthread_mutex_unlock(&bs->del_mu);
	pthread_mutex_lock(&bs->mu);
	int moved = bs->cur != l;
	pthread_mutex_unlock(&bs->mu);
	return moved;
}

/* ---- header cache ------------------------------------------------------- */

static int
hdr_read(hearth_blocks *bs, block *b, block_hdr **out, hearth_err *err)
{
	uint8_t		  key[BLOCK_KEY_EXTRA + 256], *kp = key, *v;
	size_t		  vl, tl = strlen(b->tenant);
	ProtobufCMessage *m;
	int		  rc = HEARTH_ENOMEM;
	hearth_arena	 *a    = hearth_arena_new(0);
	ZSTD_DCtx	 *dctx = ZSTD_createDCtx();
	if (tl + BLOCK_KEY_EXTRA > sizeof(key))
		kp = malloc(tl + BLOCK_KEY_EXTRA);
	if (a == NULL || dctx == NULL || kp == NULL) {
		hearth_err_set(err, rc, "out of memory reading a block header");
		goto done;
	}
	size_t kl = block_key(kp, b->tenant, b->id, BLOCK_KEY_HEADER, 0, 0);
	rc	  = hearth_kv_get(bs->kv, HEARTH_KV_BLOCKS, kp, kl, a, &v, &vl,
	     err);
	if (rc == HEARTH_ENOTFOUND) {
		hearth_err_set(err, rc, "header missing");
		goto done;
	}
	if (rc == 0)
		rc = block_dec_message(v, vl, &hearth__block__header__descriptor,
		    a, dctx, &m, err);
	if (rc == 0)
		rc = block_hdr_decode((Hearth__Block__Header *) m, b->tenant,
		    out, err);
	if (rc == 0 && ((*out)->level != b->level ||
			   (*out)->n_series != b->n_series ||
			   (*out)->min_ns != b->min_ns ||
			   (*out)->max_ns != b->max_ns)) {
		block_hdr_put(*out);
		rc = hearth_err_set(err, HEARTH_ECORRUPT,
		    "header disagrees with the block index");
	}
done:
	if (rc != 0)
		hearth_err_prefix(err, "block %s/%llu", b->tenant,
		    (unsigned long long) b->id);
	if (kp != key)
		free(kp);
	ZSTD_freeDCtx(dctx);
	hearth_arena_free(a);
	return rc;
}

int
block_hdr_get(hearth_blocks *bs, block *b, int cache, block_hdr **out,
    hearth_err *err)
{
	block_hdr *h;
	pthread_mutex_lock(&bs->cache_mu);
	if ((h = b->hdr) != NULL) {
		atomic_fetch_add(&h->refs, 1);
		cache_unlink(bs, b); /* to the front */
		b->lru_next = bs->lru_head;
		if (bs->lru_head != NULL)
			bs->lru_head->lru_prev = b;
		bs->lru_head = b;
		if (bs->lru_tail == NULL)
			bs->lru_tail = b;
		pthread_mutex_unlock(&bs->cache_mu);
		*out = h;
		return 0;
	}
	pthread_mutex_unlock(&bs->cache_mu);
	int rc = hdr_read(bs, b, &h, err);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&bs->cache_mu);
	if (b->hdr != NULL) { /* another query decoded it meanwhile */
		block_hdr_put(h);
		h = b->hdr;
		atomic_fetch_add(&h->refs, 1);
	} else if (cache && !b->dead && h->bytes <= bs->cache_cap) {
		atomic_fetch_add(&h->refs, 1); /* the cache's */
		b->hdr	    = h;
		b->lru_next = bs->lru_head;
		if (bs->lru_head != NULL)
			bs->lru_head->lru_prev = b;
		bs->lru_head = b;
		if (bs->lru_tail == NULL)
			bs->lru_tail = b;
		bs->cache_bytes += h->bytes;
		while (bs->cache_bytes > bs->cache_cap && bs->lru_tail != b)
			cache_evict(bs, bs->lru_tail);
	}
	pthread_mutex_unlock(&bs->cache_mu);
	*out = h;
	return 0;
}

void
hearth_blocks_set_header_cache_bytes(hearth_blocks *bs, size_t bytes)
{
	pthread_mutex_lock(&bs->cache_mu);
	bs->cache_cap = bytes;
	while (bs->cache_bytes > bs->cache_cap && bs->lru_tail != NULL)
		cache_evict(bs, bs->lru_tail);
	pthread_mutex_unlock(&bs->cache_mu);
}

/* ---- commit / abort ----------------------------------------------------- */

void
hearth_blocks_pending(hearth_blocks *bs, size_t *blocks, uint64_t *bytes)
{
	*blocks = bs->n_pending;
	*bytes	= bs->pending_bytes;
}

static void
pending_clear(hearth_blocks *bs)
{
	for (size_t i = 0; i < bs->n_pending; i++)
		block_unref(bs->pending[i]);
	bs->n_pending	  = 0;
	bs->pending_bytes = 0;
	free(bs->reserved);
	bs->reserved	  = NULL;
	bs->reserved_size = 0;
	bs->preparing	  = 0;
}

void
hearth_blocks_commit(hearth_blocks *bs)
{
	HEARTH_ASSERT(bs->preparing);
	if (bs->n_pending > 0) {
		/* Cannot fail: prepare reserved the memory, and compaction and
		 * retention, which hold del_mu across their swaps, only
		 * shrink the list. */
		pthread_mutex_lock(&bs->del_mu);
		block_list_swap(bs, NULL, 0, bs->pending, bs->n_pending,
		    bs->reserved, bs->reserved_size);
		pthread_mutex_unlock(&bs->del_mu);
		bs->reserved = NULL; /* now the list's */
	}
	pending_clear(bs);
}

void
hearth_blocks_abort(hearth_blocks *bs)
{
	HEARTH_ASSERT(bs->preparing);
	pending_clear(bs);
}

/* ---- open / free -------------------------------------------------------- */

static const char *const blocks_levels[HEARTH_BLOCKS_LEVELS] = { "0", "1",
	"2" };

void
hearth_blocks_stats_get(hearth_blocks *bs, const char *tenant,
    hearth_blocks_stats *out)
{
	memset(out, 0, sizeof(*out));
	block_list *l = block_list_get(bs);
	for (size_t t = 0; t < l->n; t++) {
		const block_tenant *bt = &l->tenants[t];
		if (tenant != NULL && strcmp(bt->name, tenant) != 0)
			continue;
		for (size_t i = 0; i < bt->n; i++) {
			const block *b = bt->blocks[i];
			int first = out->blocks[0] + out->blocks[1] +
				out->blocks[2] ==
			    0;
			out->blocks[b->level]++;
			out->bytes[b->level] += b->bytes;
			out->series += b->n_series;
			out->profiles += b->profiles;
			out->samples += b->samples;
			out->level_samples[b->level] += b->samples;
			if (first || b->min_ns < out->min_time_ns)
				out->min_time_ns = b->min_ns;
			if (first || b->max_ns > out->max_time_ns)
				out->max_time_ns = b->max_ns;
		}
	}
	block_list_put(l);
	pthread_mutex_lock(&bs->cache_mu);
	out->header_cache_bytes = bs->cache_bytes;
	pthread_mutex_unlock(&bs->cache_mu);
}

static void
blocks_collect(void *ctx, hearth_metrics *m)
{
	hearth_blocks	   *bs = ctx;
	hearth_blocks_stats st;
	(void) m;
	hearth_blocks_stats_get(bs, NULL, &st);
	for (int i = 0; i < HEARTH_BLOCKS_LEVELS; i++) {
		const char *lv[1] = { blocks_levels[i] };
		hearth_metric_set(bs->m_blocks, lv, (double) st.blocks[i]);
		hearth_metric_set(bs->m_bytes, lv, (double) st.bytes[i]);
	}
	hearth_metric_set(bs->m_cache_bytes, NULL,
	    (double) st.header_cache_bytes);
}

static void
blocks_metrics(hearth_blocks *bs)
{
	static const char *const lvl[1]	    = { "level" };
	static const double	 secs[]	    = { 0.1, 0.5, 1, 2.5, 5, 10, 30, 60,
		     120, 300 };
	hearth_metrics		*m	    = bs->metrics;
	bs->m_blocks = hearth_metrics_gauge(m, "hearth_storage_blocks",
	    "Blocks on disk, by compaction level.", 1, lvl);
	bs->m_bytes = hearth_metrics_gauge(m, "hearth_storage_block_bytes",
	    "Bytes of blocks on disk (keys and compressed values), by "
	    "compaction level.",
	    1, lvl);
	bs->m_compactions = hearth_metrics_counter(m,
	    "hearth_storage_compactions_total",
	    "Block compactions completed.", 0, NULL);
	bs->m_compaction_secs = hearth_metrics_histogram(m,
	    "hearth_storage_compaction_duration_seconds",
	    "Time one block compaction took.", 0, NULL, secs,
	    sizeof(secs) / sizeof(secs[0]));
	bs->m_retention_deleted = hearth_metrics_counter(m,
	    "hearth_storage_retention_deleted_blocks_total",
	    "Blocks deleted because they passed their tenant's retention "
	    "period.",
	    0, NULL);
	bs->m_cache_bytes = hearth_metrics_gauge(m,
	    "hearth_storage_header_cache_bytes",
	    "Bytes of decoded block headers held in the header cache.", 0,
	    NULL);
	if (hearth_metrics_on_collect(m, blocks_collect, bs) != 0)
		hearth_log_write(&bs->log, HEARTH_LOG_WARN,
		    "block metrics unavailable", "err=\"out of memory\"");
}

/* One index entry into a block object. */
static int
open_entry(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
    hearth_arena *a, ZSTD_DCtx *dctx, block **out, hearth_err *err)
{
	char		 *tenant;
	uint64_t	  id;
	ProtobufCMessage *pm;
	int		  rc = block_meta_key_parse(k, kl, &tenant, &id);
	if (rc != 0)
		return hearth_err_set(err, rc, "blocks: bad index key (%zu "
					       "bytes)",
		    kl);
	rc = block_dec_message(v, vl, &hearth__block__meta__descriptor, a,
	    dctx, &pm, err);
	Hearth__Block__Meta *m = (Hearth__Block__Meta *) pm;
	if (rc == 0 && (m->format != BLOCK_FORMAT ||
			   m->level >= HEARTH_BLOCKS_LEVELS ||
			   m->min_time_nanos > m->max_time_nanos))
		rc = hearth_err_set(err, HEARTH_ECORRUPT,
		    "format %u level %u", m->format, m->level);
	if (rc == 0 && (*out = block_new(tenant, id)) == NULL)
		rc = hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
	if (rc != 0) {
		hearth_err_prefix(err, "blocks: index entry of %s/%llu", tenant,
		    (unsigned long long) id);
		free(tenant);
		return rc;
	}
	free(tenant);
	block *b    = *out;
	b->level    = m->level;
	b->min_ns   = m->min_time_nanos;
	b->max_ns   = m->max_time_nanos;
	b->bytes    = m->bytes;
	b->n_series = m->series;
	b->profiles = m->profiles;
	b->samples  = m->samples;
	return 0;
}

static int
open_index(hearth_blocks *bs, hearth_err *err)
{
	block	       **v = NULL;
	size_t		 n = 0, cap = 0;
	int		 rc = 0;
	hearth_arena	*a    = hearth_arena_new(0);
	ZSTD_DCtx	*dctx = ZSTD_createDCtx();
	hearth_kv_iter	*it   = hearth_kv_iter_new(bs->kv, HEARTH_KV_META,
	       "bi\0", 3, "bi\1", 3);
	if (a == NULL || dctx == NULL || it == NULL) {
		rc = hearth_err_set(err, HEARTH_ENOMEM, "blocks: out of memory");
		goto done;
	}
	for (; hearth_kv_iter_valid(it); hearth_kv_iter_next(it)) {
		size_t	       kl, vl;
		const uint8_t *k = hearth_kv_iter_key(it, &kl);
		const uint8_t *val = hearth_kv_iter_value(it, &vl);
		block	      *b = NULL;
		if (BLOCK_GROW(v, cap, n + 1) != 0) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "blocks: out of memory");
			goto done;
		}
		if ((rc = open_entry(k, kl, val, vl, a, dctx, &b, err)) != 0)
			goto done;
		hearth_arena_reset(a);
		v[n++] = b;
		if (b->id >= bs->next_id)
			bs->next_id = b->id + 1;
	}
	if ((rc = hearth_kv_iter_error(it, err)) != 0) {
		hearth_err_prefix(err, "blocks: reading the index");
		goto done;
	}
	void *mem = malloc(list_size(n));
	if (mem == NULL) {
		rc = hearth_err_set(err, HEARTH_ENOMEM, "blocks: out of memory");
		goto done;
	}
	if (n > 0)
		memcpy(list_area(mem, n), v, n * sizeof(*v));
	bs->cur = list_build(mem, n, n);
done:
	for (size_t i = 0; i < n; i++)
		block_unref(v[i]); /* the list has its own references */
	free(v);
	hearth_kv_iter_free(it);
	ZSTD_freeDCtx(dctx);
	hearth_arena_free(a);
	return rc;
}

int
hearth_blocks_open(hearth_kv *kv, const hearth_log *log, hearth_metrics *m,
    hearth_blocks **out, hearth_err *err)
{
	*out		  = NULL;
	hearth_blocks *bs = calloc(1, sizeof(*bs));
	if (bs == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "blocks: out of memory");
	bs->kv = kv;
	if (log != NULL)
		bs->log = *log;
	else
		hearth_log_init(&bs->log, "blocks", HEARTH_LOG_INFO);
	bs->metrics   = m;
	bs->cache_cap = HEARTH_BLOCKS_HEADER_CACHE_BYTES;
	bs->next_id   = 1;
	pthread_mutex_init(&bs->mu, NULL);
	pthread_mutex_init(&bs->del_mu, NULL);
	pthread_mutex_init(&bs->bg_mu, NULL);
	pthread_mutex_init(&bs->cache_mu, NULL);
	int rc = block_cleanup_pending(bs, err);
	if (rc == 0)
		rc = open_index(bs, err);
	if (rc != 0) {
		hearth_blocks_free(bs);
		return rc;
	}
	if (m != NULL)
		blocks_metrics(bs);
	hearth_blocks_stats st;
	hearth_blocks_stats_get(bs, NULL, &st);
	hearth_log_write(&bs->log, HEARTH_LOG_INFO, "blocks loaded",
	    "blocks=%zu bytes=%llu",
	    st.blocks[0] + st.blocks[1] + st.blocks[2],
	    (unsigned long long) (st.bytes[0] + st.bytes[1] + st.bytes[2]));
	*out = bs;
	return 0;
}

void
hearth_blocks_free(hearth_blocks *bs)
{
	if (bs == NULL)
		return;
	if (bs->metrics != NULL && bs->m_blocks != NULL)
		hearth_metrics_remove_collect(bs->metrics, blocks_collect, bs);
	if (bs->preparing)
		pending_clear(bs);
	free(bs->pending);
	pthread_mutex_lock(&bs->cache_mu);
	while (bs->lru_tail != NULL)
		cache_evict(bs, bs->lru_tail);
	pthread_mutex_unlock(&bs->cache_mu);
	block_list_put(bs->cur);
	pthread_mutex_destroy(&bs->mu);
	pthread_mutex_destroy(&bs->del_mu);
	pthread_mutex_destroy(&bs->bg_mu);
	pthread_mutex_destroy(&bs->cache_mu);
	free(bs);
}
