/*
 * block_impl: the private structures of the block set, shared by block.c
 * (set, list snapshots, index, header cache, metrics), block_codec.c (keys,
 * compression, value encode/decode), block_hdr.c (header decode,
 * postings, selection, time ranges and chunks), block_write.c (writing a
 * block: from a head or from compaction), block_read.c (query context,
 * tree queries), block_series.c (series and label queries),
 * block_compact.c (compaction), block_retain.c (retention, deletion,
 * open-time cleanup) and block_span.c (span rows: codec, span queries).
 * Include only from ingester/block*.c.
 *
 * Object graph and lifetimes:
 *
 *   hearth_blocks ──cur──▶ block_list (refcounted, immutable once published)
 *                              └─ block_tenant[] (by name) ─▶ block* (refcounted)
 *                                                               └─ hdr ─▶ block_hdr
 *                                                                  (cache; refcounted)
 *
 * A list holds one reference on each of its blocks; a query holds one
 * reference on the list it started with. A block's decoded header hangs on
 * the block while it is in the LRU cache (cache_mu guards block.hdr, the
 * LRU links, block.dead and the byte count); every user holds its own
 * header reference, so eviction never frees a header in use. A block that
 * left the list is marked dead and is never cached again.
 */
#ifndef HEARTH_BLOCK_IMPL_H
#define HEARTH_BLOCK_IMPL_H

#include "block.h"
#include "block.pb-c.h"
#include "dedup.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <zstd.h>

#define BLOCK_FORMAT	   1
#define BLOCK_MINUTE_MS	   ((int64_t) 60 * 1000)
#define BLOCK_HOUR_MS	   ((int64_t) 3600 * 1000)
/* zstd levels: a flush runs on the cut path and must be quick; compaction
 * output is written once and read for weeks. */
#define BLOCK_ZLEVEL_FLUSH   3
#define BLOCK_ZLEVEL_COMPACT 9
/* A stored value never inflates beyond this: a bigger claim is corrupt. */
#define BLOCK_MAX_VALUE ((size_t) 1 << 31)
/* Compaction writes its output ahead (under a bp marker) past this. */
#define BLOCK_CHUNK_BYTES ((size_t) 32 << 20)
/* Samples and minute rollups of a series are stored in chunks of this
 * window (aligned to the epoch), so that the edges of a range decode a few
 * minutes of data, not a day of it. */
#define BLOCK_CHUNK_MS ((int64_t) 10 * 60 * 1000)
/* A query restarts at most this often when blocks change under it. */
#define BLOCK_MAX_ATTEMPTS 16
/* Internal: the block a query read was deleted; retry with the new list. */
#define BLOCK_RETRY 1

/* Key kinds after <tenant>\0<id>\0. */
enum {
	BLOCK_KEY_HEADER  = 'h',
	BLOCK_KEY_SAMPLES = 's',
	BLOCK_KEY_MINUTES = 'm',
	BLOCK_KEY_HOURS	  = 'H',
	/* Span rows of a samples chunk (series + chunk, like 's'); only
	 * for series with span rows, so older blocks have none. */
	BLOCK_KEY_SPANS = 'S'
};
/* Bytes a key needs besides the tenant: \0 id \0 kind series chunk, or
 * the meta prefix "bi\0" + \0 id. */
#define BLOCK_KEY_EXTRA 20

typedef struct block_hdr block_hdr;

typedef struct block {
	atomic_uint refs;
	char	   *tenant;
	uint64_t    id;
	uint32_t    level;
	uint32_t    n_series;
	int64_t	    min_ns, max_ns;
	uint64_t    bytes, profiles, samples;
	int	    unlinking; /* guarded by hearth_blocks.mu; swap only */
	/* --- guarded by hearth_blocks.cache_mu --- */
	int	      dead;
	block_hdr    *hdr;
	struct block *lru_prev, *lru_next;
} block;

typedef struct block_tenant {
	const char *name;   /* blocks[0]->tenant */
	block	  **blocks; /* sorted by (min_ns, id) */
	size_t	    n;
} block_tenant;

typedef struct block_list {
	atomic_uint   refs;
	block_tenant *tenants; /* sorted by name */
	size_t	      n;
} block_list;

/* ---- decoded header ---------------------------------------------------- */

typedef struct block_hseries {
	hearth_label *labels; /* sorted by name; strings in the header pool */
	uint32_t      n_labels;
	uint32_t      first; /* first profile in block_hdr.times/totals */
	uint32_t      n_profiles;
	uint64_t      n_samples;
	uint64_t      fp;	  /* hearth_labels_fingerprint(tenant, labels) */
	uint32_t      first_win; /* first window in block_hdr.win_* */
	uint32_t      n_win;	 /* distinct dedup windows of its profiles */
	uint64_t      n_span_rows; /* 0: no 'S' values */
} block_hseries;

/* Postings: one per distinct label name=value. */
typedef struct block_pair {
	const char *value;
	uint32_t    len;
	uint32_t    off, n; /* series ids in pair_ids[off .. off + n) */
} block_pair;

typedef struct block_lname {
	const char *name;
	uint32_t    first, n; /* pairs[first .. first + n), by value bytes */
} block_lname;

struct block_hdr {
	atomic_uint    refs;
	size_t	       bytes; /* malloc'd, for the cache bound */
	uint32_t       level;
	int	       rollups;
	int64_t	       min_ns, max_ns;
	uint32_t       n_strs;
	char	     **strs; /* NUL-terminated, in pool */
	uint32_t      *str_lens;
	char	      *pool;
	uint32_t       n_nodes; /* root included */
	uint32_t      *parent;  /* parent[0] == 0 */
	uint32_t      *name;
	uint32_t       n_series;
	block_hseries *series;
	hearth_label  *labels;
	uint32_t       n_profiles;
	int64_t	      *times; /* ns, ascending within a series */
	int64_t	      *totals;
	/* De-duplication windows (dedup.h), series by series, ascending: the
	 * window's start (ms), its first profile (index within the series)
	 * and the digest of its ids (win_digest NULL: a block written before
	 * digests were stored; readers hash the samples' ids). */
	uint32_t  n_wins;
	int64_t	 *win_start;
	uint32_t *win_first;
	uint64_t *win_digest;
	uint32_t       n_lnames;
	block_lname   *lnames; /* by name bytes */
	block_pair    *pairs;
	uint32_t      *pair_ids;
};

/* ---- the set ------------------------------------------------------------ */

struct hearth_blocks {
	hearth_kv      *kv;
	hearth_log	log;
	hearth_metrics *metrics;
	hearth_metric  *m_blocks, *m_bytes, *m_compactions, *m_compaction_secs,
	    *m_retention_deleted, *m_cache_bytes;

	pthread_mutex_t mu; /* guards cur and next_id */
	block_list     *cur;
	uint64_t	next_id;

	/* Held by whoever deletes block keys, across the write and the list
	 * swap: a query that found a key missing waits on it once, then
	 * knows whether the list moved on (retry) or the block is corrupt. */
	pthread_mutex_t del_mu;
	/* Serialises compaction and retention. */
	pthread_mutex_t bg_mu;

	/* prepare -> commit | abort, the flush thread only */
	int	 preparing;
	block  **pending;
	size_t	 n_pending, cap_pending;
	uint64_t pending_bytes;

	void  *reserved; /* memory for the list commit publishes */
	size_t reserved_size;

	pthread_mutex_t cache_mu;
	size_t		cache_cap, cache_bytes;
	block	       *lru_head, *lru_tail; /* most recently used first */
};

/* Column view of one series' profiles in block order (sorted by time). */
typedef struct block_sdata {
	uint32_t       n_profiles;
	const int64_t *times; /* ns */
	const int64_t *totals;
	const uint8_t *ids;   /* 16 bytes a profile, NULL when none has one */
	uint32_t      *counts; /* samples per profile */
	size_t	       n_samples;
	uint32_t      *nodes;  /* ascending, unique within a profile */
	int64_t	      *values; /* > 0 */
	/* Span rows (span_counts NULL: none): per profile, sorted by (span
	 * id, node), unique pairs, values > 0. */
	uint32_t      *span_counts; /* span rows per profile */
	size_t	       n_span_rows;
	uint64_t      *span_ids; /* != 0 */
	uint32_t      *span_nodes;
	int64_t	      *span_values;
} block_sdata;

/* One rollup: per bucket (ascending), entries sorted by node. */
typedef struct block_rdata {
	int64_t	  width_ms;
	uint32_t  n_buckets;
	int64_t	 *buckets; /* bucket numbers: start ms / width_ms */
	uint32_t *counts;  /* entries per bucket */
	size_t	  n_entries;
	uint32_t *nodes;
	int64_t	 *values;
} block_rdata;

/* ---- block.c -------------------------------------------------------------- */

/* Grow *arrp (a pointer to any object pointer) to hold need elements.
 * HEARTH_ENOMEM (array kept). */
int block_grow(void *arrp, size_t *cap, size_t need, size_t elem);
#define BLOCK_GROW(arr, cap, need)                                            \
	block_grow(&(arr), &(cap), (need), sizeof(*(arr)))

block *block_new(const char *tenant, uint64_t id);
void   block_ref(block *b);
void   block_unref(block *b);
uint64_t block_alloc_id(hearth_blocks *bs);
/* The current list with a reference; give it back with block_list_put. */
block_list *block_list_get(hearth_blocks *bs);
void	    block_list_put(block_list *l);
/* Blocks of tenant in l, or NULL. */
const block_tenant *block_list_tenant(const block_list *l, const char *tenant);
/* Memory for the list that a swap adding n_add blocks will build (size
 * in *size), or NULL. Reserve it before writing, so that once the write
 * succeeded the swap cannot fail (invariant (1) of block.h); the list
 * must not grow between the two (whoever swaps holds del_mu). */
void *block_list_reserve(hearth_blocks *bs, size_t n_add, size_t *size);
/* Publish cur minus del[0..n_del) plus add[0..n_add) (the new list takes
 * its own references) in mem, which the list then owns. Deleted blocks
 * are marked dead and leave the header cache. */
void block_list_swap(hearth_blocks *bs, block *const *del, size_t n_del,
    block *const *add, size_t n_add, void *mem, size_t size);
/* The decoded header of b with a reference (cached when possible); put it
 * back with block_hdr_put. HEARTH_ENOTFOUND when the block's header key is
 * gone, HEARTH_EIO, HEARTH_ECORRUPT, HEARTH_ENOMEM. */
int  block_hdr_get(hearth_blocks *bs, block *b, int cache, block_hdr **out,
     hearth_err *err);
void block_hdr_put(block_hdr *h);
/* After a key of b turned out missing: 1 when the list moved on since l
 * was taken (retry), else 0 (the block is corrupt). */
int block_list_moved(hearth_blocks *bs, const block_list *l);

/* ---- block_codec.c -------------------------------------------------------- */

/* Key of block (tenant, id): kind 0 gives the block's prefix
 * <tenant>\0<id>\0, kind 1 the end of its range (<tenant>\0<id>\1);
 * samples and minute rollups take a chunk number (the chunk's window
 * minus the window of the series' first profile), hour rollups a series.
 * out has strlen(tenant) + BLOCK_KEY_EXTRA bytes; returns the length. */
size_t block_key(uint8_t *out, const char *tenant, uint64_t id, int kind,
    uint32_t series, uint32_t chunk);
/* meta CF keys: prefix "bi" (index) or "bp" (pending compaction output). */
size_t block_meta_key(uint8_t *out, const char *prefix, const char *tenant,
    uint64_t id);
/* Parse a meta key of the given 2-byte prefix: the tenant (a copy, caller
 * frees) and id. 0, HEARTH_ECORRUPT, HEARTH_ENOMEM. */
int block_meta_key_parse(const uint8_t *k, size_t kl, char **tenant,
    uint64_t *id);
int64_t block_ms(int64_t ns);		      /* floor(ns / 1e6) */
int64_t block_floor_div(int64_t a, int64_t b); /* b > 0 */

typedef struct block_enc {
	ZSTD_CCtx *cctx;
	int	   level;
	uint8_t	  *raw; /* packed protobuf */
	size_t	   raw_cap;
	uint8_t	  *out; /* codec byte + payload: what is stored */
	size_t	   out_cap, out_len;
	uint32_t  *u32;
	size_t	   u32_cap;
	uint64_t  *u64;
	size_t	   u64_cap;
	int64_t	  *i64;
	size_t	   i64_cap;
	uint32_t  *u32b; /* a second column (block_span.c) */
	size_t	   u32b_cap;
	uint64_t  *u64b;
	size_t	   u64b_cap;
} block_enc;

int  block_enc_init(block_enc *e, int level);
void block_enc_fini(block_enc *e);
/* Pack and compress m into e->out / e->out_len. HEARTH_ENOMEM. */
int block_enc_message(block_enc *e, const ProtobufCMessage *m);
int block_enc_samples(block_enc *e, const block_sdata *sd);
int block_enc_rollup(block_enc *e, const block_rdata *rd);
/* The node and value columns of samples, rollups and span rows: n rows in
 * groups of counts[0..n_groups), nodes ascending within a run (a group,
 * or with runs, the rows of a group with equal runs[k]) and
 * delta-encoded within it into e->u32; values divided by their gcd
 * (*scale) into e->u64. HEARTH_ENOMEM. */
int block_enc_columns(block_enc *e, size_t n_groups, const uint32_t *counts,
    size_t n, const uint32_t *nodes, const int64_t *values,
    const uint64_t *runs, uint64_t *scale);
/* Undo block_enc_columns in place (runs: n_nodes_col entries, or NULL as
 * encoded): deltas to nodes (checked ascending within a run and
 * < n_nodes), scaled values to values (checked > 0, no overflow).
 * HEARTH_ECORRUPT naming what. */
int block_dec_columns(size_t n_groups, const uint32_t *counts,
    size_t n_counts, uint32_t *nodes, size_t n_nodes_col, uint64_t *values,
    size_t n_values, const uint32_t *runs, uint64_t scale, uint32_t n_nodes,
    const char *what, hearth_err *err);
/* Decompress and unpack a stored value into arena a. HEARTH_ECORRUPT with
 * what is wrong, HEARTH_ENOMEM when a's cap was hit. */
int block_dec_message(const uint8_t *v, size_t vl,
    const ProtobufCMessageDescriptor *d, hearth_arena *a, ZSTD_DCtx *dctx,
    ProtobufCMessage **out, hearth_err *err);
/* Decode the Samples value of series s of h holding its profiles
 * [lo, hi) (one chunk) into sd (arena memory; times and totals point into
 * h; no span rows). */
int block_dec_samples(const block_hdr *h, uint32_t s, uint32_t lo,
    uint32_t hi, const uint8_t *v, size_t vl, hearth_arena *a,
    ZSTD_DCtx *dctx, block_sdata *sd, hearth_err *err);
int block_dec_rollup(const block_hdr *h, const uint8_t *v, size_t vl,
    hearth_arena *a, ZSTD_DCtx *dctx, block_rdata *rd, hearth_err *err);

/* ---- block_hdr.c ---------------------------------------------------------- */

/* Check a Header and build the decoded form (refs 1); tenant gives the
 * series fingerprints. */
int  block_hdr_decode(const Hearth__Block__Header *m, const char *tenant,
     block_hdr **out, hearth_err *err);
void block_hdr_free(block_hdr *h);
/* Series of h matching sel, ascending, in arena memory. */
int block_hdr_select(const block_hdr *h, const hearth_selector *sel,
    hearth_arena *a, uint32_t **ids, size_t *n, hearth_err *err);
/* The chunk of series s holding its profile p: number and profile range
 * [*lo, *hi). */
void block_hdr_chunk(const block_hdr *h, uint32_t s, uint32_t p,
    uint32_t *chunk, uint32_t *lo, uint32_t *hi);
/* Chunk number of time ms in series s (which must have a profile). */
int64_t block_hdr_chunk_of(const block_hdr *h, uint32_t s, int64_t ms);
/* Profile index range [*lo, *hi) of series s with ms time in
 * [start_ms, end_ms). */
void block_hdr_range(const block_hdr *h, uint32_t s, int64_t start_ms,
    int64_t end_ms, uint32_t *lo, uint32_t *hi);

/* ---- block_write.c -------------------------------------------------------- */

/* Dense per-node accumulator for rollups and merges. */
typedef struct block_acc {
	int64_t	 *sums; /* n_nodes, all 0 between uses */
	uint32_t *touched;
	size_t	  n_touched, n_nodes;
} block_acc;

/* Rollup being built (arrays grown as needed). */
typedef struct block_rbuf {
	block_rdata rd;
	size_t	    cap_buckets, cap_counts, cap_nodes, cap_values;
} block_rbuf;

typedef struct block_oseries {
	uint32_t n_labels, n_profiles;
	uint64_t n_samples;
	uint64_t n_span_rows;
} block_oseries;

typedef struct block_olabel {
	uint32_t name, value; /* string ids */
} block_olabel;

typedef struct block_oprof {
	int64_t time_ns, total;
} block_oprof;

/* A block being written into a batch: values go in as series come, the
 * header and the index entry at the end. */
typedef struct block_out {
	hearth_blocks	*bs;
	hearth_kv_batch *b;
	const char	*tenant;
	uint64_t	 id;
	uint32_t	 level;
	block_enc	 enc;
	uint8_t		*key;
	block_acc	 acc;
	block_rbuf	 minutes, hours;
	int64_t		*keys; /* group keys (ms) for rollups */
	size_t		 cap_keys;
	block_oseries	*series;
	size_t		 n_series, cap_series;
	block_olabel	*labels;
	size_t		 n_labels, cap_labels;
	block_oprof	*profs;
	size_t		 n_profs, cap_profs;
	uint64_t	*digests; /* Header.window_digests */
	size_t		 n_digests, cap_digests;
	int		 has_spans; /* a series has span rows */
	int64_t		 min_ns, max_ns;
	uint64_t	 bytes, samples;
} block_out;

/* n_nodes: the block's stack tree size (rollups need it, level >= 1). */
int  block_out_init(block_out *o, hearth_blocks *bs, hearth_kv_batch *b,
     const char *tenant, uint64_t id, uint32_t level, uint32_t n_nodes,
     int zlevel);
void block_out_fini(block_out *o);
/* Add the next series (callers go in label order). */
int block_out_series(block_out *o, const uint32_t *lnames,
    const uint32_t *lvalues, uint32_t n_labels, const block_sdata *sd,
    hearth_err *err);
/* Write header + index entry; *out is the new block (refs 1). */
int block_out_finish(block_out *o, char *const *strs, uint32_t n_strs,
    const uint32_t *parent, const uint32_t *name, uint32_t n_nodes,
    block **out, hearth_err *err);
/* Put a key + value into o's batch, counting bytes. */
void block_out_put(block_out *o, hearth_kv_cf cf, const uint8_t *k, size_t kl,
    const uint8_t *v, size_t vl);
/* Sort one profile's samples by node, summing equal nodes (saturating);
 * returns the new count. */
size_t block_sort_samples(uint32_t *nodes, int64_t *values, size_t n);
int64_t block_sat_add(int64_t a, int64_t b);

/* ---- block_read.c --------------------------------------------------------- */

/* One query's state over one list snapshot. */
typedef struct block_rctx {
	hearth_blocks *bs;
	block_list    *l;
	hearth_arena  *tmp; /* one stored value at a time; reset after use */
	hearth_arena  *blk; /* one block at a time (selection); reset per block */
	ZSTD_DCtx     *dctx;
	uint8_t	      *key;
	int64_t	      *sums; /* per node of the block at hand */
	uint32_t      *map;
	size_t	       cap_sums, cap_map;
	uint8_t	      *ids; /* profile ids of one chunk (block_span.c) */
	size_t	       cap_ids;
} block_rctx;

int  block_read_begin(block_rctx *c, hearth_blocks *bs, const char *tenant,
     hearth_err *err);
void block_read_end(block_rctx *c);
/* b's header; starts the block's scratch (c->blk). BLOCK_RETRY when the
 * block was deleted after c->l was taken. */
int block_read_hdr(block_rctx *c, block *b, block_hdr **h, hearth_err *err);
/* A key of b is missing: BLOCK_RETRY or HEARTH_ECORRUPT naming it. */
int block_read_missing(block_rctx *c, const block *b, const char *what,
    hearth_err *err);
int block_read_check_range(int64_t start_ms, int64_t end_ms, hearth_err *err);
/* The ids of profiles [lo, hi) of series s of b (header h) into
 * out[0 .. 16 (hi - lo)) (zeros for profiles without one), decoding the
 * sample chunks that hold them (c->tmp is reset). BLOCK_RETRY, errors as
 * for any read. */
int block_read_ids(block_rctx *c, block *b, const block_hdr *h, uint32_t s,
    uint32_t lo, uint32_t hi, uint8_t *out, hearth_err *err);
int block_read_overlaps(const block *b, int64_t start_ms, int64_t end_ms);
/* The value of key kind/series/chunk of b into c->tmp: BLOCK_RETRY or
 * HEARTH_ECORRUPT when it is missing (block_read_missing). */
int block_read_value(block_rctx *c, block *b, int kind, uint32_t s,
    uint32_t chunk, uint8_t **v, size_t *vl, hearth_err *err);
/* Prefix an HEARTH_ECORRUPT err with the block and series; returns rc. */
int block_read_corrupt(const block *b, uint32_t s, int rc, hearth_err *err);
/* c->sums (h->n_nodes entries) into acc keyed by function name; c->map is
 * scratch. */
int block_read_tree_map(block_rctx *c, const block_hdr *h, hearth_fgtree *acc,
    hearth_err *err);
/* hearth_blocks_select_tree, or with spans (not NULL)
 * hearth_blocks_select_span_tree. */
int block_read_tree(hearth_blocks *bs, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *filter,
    const hearth_head_spans *spans, int64_t start_ms, int64_t end_ms,
    hearth_fgtree *out, hearth_err *err);

/* ---- block_span.c ---------------------------------------------------------- */

/* Sort one profile's span rows by (span id, node), summing equal pairs
 * (saturating); returns the new count. */
size_t block_span_sort(uint64_t *ids, uint32_t *nodes, int64_t *values,
    size_t n);
/* Encode the span rows of sd (span_counts set) as a Spans value into
 * e->out / e->out_len. HEARTH_ENOMEM. */
int block_enc_spans(block_enc *e, const block_sdata *sd);
/* Decode the Spans value of series s of h for its profiles [lo, hi) (one
 * chunk) into sd's span columns (arena memory). */
int block_dec_spans(const block_hdr *h, uint32_t lo, uint32_t hi,
    const uint8_t *v, size_t vl, hearth_arena *a, ZSTD_DCtx *dctx,
    block_sdata *sd, hearth_err *err);
/* Write the Spans value of chunk (profiles [p, q) of sd, whose span rows
 * start at row *row, which is advanced) of series idx into o's batch. */
int block_out_spans(block_out *o, uint32_t idx, uint32_t chunk,
    const block_sdata *sd, uint32_t p, uint32_t q, size_t *row);
/* Concatenate the span columns of parts[0..n) (consecutive chunks of one
 * series) into out's, in arena a. HEARTH_ENOMEM. */
int block_span_join(const block_sdata *parts, size_t n, hearth_arena *a,
    block_sdata *out);
/* Add to c->sums the rows of spans in the profiles of series s of h in
 * [a_ms, z_ms), chunk by chunk; with ds, only the profiles it keeps (the
 * ids are read from the samples chunk into c->ids when the chunk's window
 * is partial). */
int block_span_tree_series(block_rctx *c, block *b, const block_hdr *h,
    uint32_t s, int64_t a_ms, int64_t z_ms, const hearth_dedup_series *ds,
    const hearth_head_spans *spans, hearth_err *err);

/* ---- block_retain.c ------------------------------------------------------- */

/* Write b (synced) and publish the list minus del plus add, holding
 * del_mu across both. HEARTH_EIO etc. from the write (nothing changed),
 * HEARTH_ENOMEM. */
int block_write_and_swap(hearth_blocks *bs, hearth_kv_batch *b,
    block *const *del, size_t n_del, block *const *add, size_t n_add,
    hearth_err *err);
/* Add to b the deletion of block (tenant, id): all its keys (one range
 * tombstone) and its index entry. HEARTH_ENOMEM. */
int block_delete_keys(hearth_kv_batch *b, const char *tenant, uint64_t id);
/* Compact the key span of blocks lo_id..hi_id of tenant after their keys
 * were deleted (retention, or the sources of a compaction merge), so the
 * disk space returns now rather than whenever RocksDB gets to it. A
 * failure is logged (msg="disk space reclaim failed", after=why). */
void block_reclaim(hearth_blocks *bs, const char *tenant, uint64_t lo_id,
    uint64_t hi_id, const char *why);
/* Remove the keys of pending compaction outputs (bp markers) at open. */
int block_cleanup_pending(hearth_blocks *bs, hearth_err *err);

#endif
