#include "block_impl.h"

#include <stdlib.h>
#include <string.h>

/* Values below this are stored without compression: zstd's frame header
 * would make them bigger. */
#define BLOCK_RAW_BELOW 64

enum { BLOCK_CODEC_RAW = 0, BLOCK_CODEC_ZSTD = 1 };

/* ---- keys and time ------------------------------------------------------ */

static void
codec_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t) v;
}

static uint64_t
codec_get_u64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

size_t
block_key(uint8_t *out, const char *tenant, uint64_t id, int kind,
    uint32_t series, uint32_t chunk)
{
	size_t tl = strlen(tenant), n = 0;
	memcpy(out, tenant, tl);
	n	 = tl;
	out[n++] = 0;
	codec_put_u64(out + n, id);
	n += 8;
	if (kind == 0 || kind == 1) {
		out[n++] = (uint8_t) kind;
		return n;
	}
	out[n++] = 0;
	out[n++] = (uint8_t) kind;
	if (kind != BLOCK_KEY_HEADER)
		for (int i = 3; i >= 0; i--)
			out[n++] = (uint8_t) (series >> (8 * i));
	if (kind == BLOCK_KEY_SAMPLES || kind == BLOCK_KEY_MINUTES ||
	    kind == BLOCK_KEY_SPANS)
		for (int i = 3; i >= 0; i--)
			out[n++] = (uint8_t) (chunk >> (8 * i));
	return n;
}

size_t
block_meta_key(uint8_t *out, const char *prefix, const char *tenant,
    uint64_t id)
{
	size_t tl = strlen(tenant);
	out[0]	  = (uint8_t) prefix[0];
	out[1]	  = (uint8_t) prefix[1];
	out[2]	  = 0;
	memcpy(out + 3, tenant, tl);
	out[3 + tl] = 0;
	codec_put_u64(out + 4 + tl, id);
	return 12 + tl;
}

int
block_meta_key_parse(const uint8_t *k, size_t kl, char **tenant,
    uint64_t *id)
{
	*tenant = NULL;
	if (kl < 13 || k[2] != 0 || k[kl - 9] != 0 ||
	    memchr(k + 3, 0, kl - 12) != NULL)
		return HEARTH_ECORRUPT;
	if ((*tenant = strndup((const char *) k + 3, kl - 12)) == NULL)
		return HEARTH_ENOMEM;
	*id = codec_get_u64(k + kl - 8);
	return 0;
}

int64_t
block_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && a < 0) ? q - 1 : q;
}

int64_t
block_ms(int64_t ns)
{
	return block_floor_div(ns, 1000000);
}

/* ---- encoding ----------------------------------------------------------- */

int
block_enc_init(block_enc *e, int level)
{
	memset(e, 0, sizeof(*e));
	e->level = level;
	e->cctx	 = ZSTD_createCCtx();
	return e->cctx != NULL ? 0 : HEARTH_ENOMEM;
}

void
block_enc_fini(block_enc *e)
{
	ZSTD_freeCCtx(e->cctx);
	free(e->raw);
	free(e->out);
	free(e->u32);
	free(e->u64);
	free(e->i64);
	free(e->u32b);
	free(e->u64b);
	memset(e, 0, sizeof(*e));
}

int
block_enc_message(block_enc *e, const ProtobufCMessage *m)
{
	size_t n     = protobuf_c_message_get_packed_size(m);
	size_t bound = ZSTD_compressBound(n);
	if (BLOCK_GROW(e->raw, e->raw_cap, n + 1) != 0 ||
	    BLOCK_GROW(e->out, e->out_cap, bound + 1) != 0)
		return HEARTH_ENOMEM;
	protobuf_c_message_pack(m, e->raw);
	if (n >= BLOCK_RAW_BELOW) {
		size_t r = ZSTD_compressCCtx(e->cctx, e->out + 1, bound, e->raw,
		    n, e->level);
		if (ZSTD_isError(r))
			return HEARTH_ENOMEM; /* the only way zstd fails here */
		if (r < n) {
			e->out[0]  = BLOCK_CODEC_ZSTD;
			e->out_len = r + 1;
			return 0;
		}
	}
	e->out[0] = BLOCK_CODEC_RAW;
	memcpy(e->out + 1, e->raw, n);
	e->out_len = n + 1;
	return 0;
}

static uint64_t
codec_gcd(uint64_t a, uint64_t b)
{
	while (b != 0) {
		uint64_t t = a % b;
		a	   = b;
		b	   = t;
	}
	return a;
}

/* Values are multiples of a sampling period far more often than not (CPU
 * time in 10 ms steps), so dividing by their gcd turns 4-byte varints
 * into 1-byte ones. */
int
block_enc_columns(block_enc *e, size_t n_groups, const uint32_t *counts,
    size_t n, const uint32_t *nodes, const int64_t *values,
    const uint64_t *runs, uint64_t *scale)
{
	uint64_t g = 0;
	if (BLOCK_GROW(e->u32, e->u32_cap, n + 1) != 0 ||
	    BLOCK_GROW(e->u64, e->u64_cap, n + 1) != 0)
		return HEARTH_ENOMEM;
	for (size_t i = 0; i < n && g != 1; i++)
		g = codec_gcd((uint64_t) values[i], g);
	if (g == 0)
		g = 1;
	size_t k = 0;
	for (size_t p = 0; p < n_groups; p++)
		for (uint32_t i = 0; i < counts[p]; i++, k++) {
			int run = i > 0 &&
			    (runs == NULL || runs[k] == runs[k - 1]);
			e->u32[k] = run ? nodes[k] - nodes[k - 1] : nodes[k];
			e->u64[k] = (uint64_t) values[k] / g;
		}
	HEARTH_ASSERT(k == n);
	*scale = g;
	return 0;
}

int
block_enc_samples(block_enc *e, const block_sdata *sd)
{
	Hearth__Block__Samples m = HEARTH__BLOCK__SAMPLES__INIT;
	int rc = block_enc_columns(e, sd->n_profiles, sd->counts, sd->n_samples,
	    sd->nodes, sd->values, NULL, &m.scale);
	if (rc != 0)
		return rc;
	if (sd->ids != NULL) {
		m.ids.data = (uint8_t *) sd->ids;
		m.ids.len  = (size_t) sd->n_profiles * 16;
	}
	m.counts   = sd->counts;
	m.n_counts = sd->n_profiles;
	m.nodes	   = e->u32;
	m.n_nodes  = sd->n_samples;
	m.values   = e->u64;
	m.n_values = sd->n_samples;
	return block_enc_message(e, &m.base);
}

int
block_enc_rollup(block_enc *e, const block_rdata *rd)
{
	Hearth__Block__Rollup m = HEARTH__BLOCK__ROLLUP__INIT;
	int rc = block_enc_columns(e, rd->n_buckets, rd->counts, rd->n_entries,
	    rd->nodes, rd->values, NULL, &m.scale);
	if (rc != 0)
		return rc;
	if (BLOCK_GROW(e->i64, e->i64_cap, (size_t) rd->n_buckets + 1) != 0)
		return HEARTH_ENOMEM;
	for (uint32_t i = 0; i < rd->n_buckets; i++)
		e->i64[i] = i == 0 ? rd->buckets[0]
				   : rd->buckets[i] - rd->buckets[i - 1];
	m.width_ms  = rd->width_ms;
	m.buckets   = e->i64;
	m.n_buckets = rd->n_buckets;
	m.counts    = rd->counts;
	m.n_counts  = rd->n_buckets;
	m.nodes	    = e->u32;
	m.n_nodes   = rd->n_entries;
	m.values    = e->u64;
	m.n_values  = rd->n_entries;
	return block_enc_message(e, &m.base);
}

/* ---- decoding ----------------------------------------------------------- */

#define CORRUPT(err, ...) hearth_err_set((err), HEARTH_ECORRUPT, __VA_ARGS__)

/* protobuf-c allocator over an arena that remembers a failure, so that
 * "over the memory cap" and "malformed" get different answers. */
typedef struct codec_pballoc {
	ProtobufCAllocator pb;
	hearth_arena	  *a;
	int		   failed;
} codec_pballoc;

static void *
codec_pb_alloc(void *data, size_t size)
{
	codec_pballoc *pa = data;
	void	      *p  = hearth_arena_alloc(pa->a, size);
	if (p == NULL)
		pa->failed = 1;
	return p;
}

static void
codec_pb_free(void *data, void *ptr)
{
	(void) data;
	(void) ptr;
}

int
block_dec_message(const uint8_t *v, size_t vl,
    const ProtobufCMessageDescriptor *d, hearth_arena *a, ZSTD_DCtx *dctx,
    ProtobufCMessage **out, hearth_err *err)
{
	const uint8_t *p;
	size_t	       n;
	if (vl == 0)
		return CORRUPT(err, "empty %s value", d->short_name);
	if (v[0] == BLOCK_CODEC_RAW) {
		p = v + 1;
		n = vl - 1;
	} else if (v[0] == BLOCK_CODEC_ZSTD) {
		unsigned long long sz = ZSTD_getFrameContentSize(v + 1, vl - 1);
		if (sz == ZSTD_CONTENTSIZE_ERROR ||
		    sz == ZSTD_CONTENTSIZE_UNKNOWN || sz > BLOCK_MAX_VALUE)
			return CORRUPT(err, "%s value: bad zstd frame",
			    d->short_name);
		uint8_t *buf = hearth_arena_alloc(a, (size_t) sz + 1);
		if (buf == NULL)
			return hearth_err_set(err, HEARTH_ENOMEM,
			    "%s value of %llu bytes does not fit the query "
			    "memory cap",
			    d->short_name, sz);
		size_t r = ZSTD_decompressDCtx(dctx, buf, (size_t) sz, v + 1,
		    vl - 1);
		if (ZSTD_isError(r) || r != sz)
			return CORRUPT(err, "%s value: zstd: %s", d->short_name,
			    ZSTD_isError(r) ? ZSTD_getErrorName(r)
					    : "short frame");
		p = buf;
		n = (size_t) sz;
	} else
		return CORRUPT(err, "%s value: unknown codec %u", d->short_name,
		    v[0]);
	codec_pballoc pa = { { codec_pb_alloc, codec_pb_free, NULL }, a, 0 };
	pa.pb.allocator_data = &pa;
	*out = protobuf_c_message_unpack(d, &pa.pb, n, p);
	if (*out != NULL)
		return 0;
	if (pa.failed)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "%s value of %zu bytes does not fit the query memory cap",
		    d->short_name, n);
	return CORRUPT(err, "%s value: malformed protobuf (%zu bytes)",
	    d->short_name, n);
}

int
block_dec_columns(size_t n_groups, const uint32_t *counts, size_t n_counts,
    uint32_t *nodes, size_t n_nodes_col, uint64_t *values, size_t n_values,
    const uint32_t *runs, uint64_t scale, uint32_t n_nodes, const char *what,
    hearth_err *err)
{
	size_t total = 0;
	if (n_counts != n_groups)
		return CORRUPT(err, "%s: %zu counts for %zu groups", what,
		    n_counts, n_groups);
	for (size_t i = 0; i < n_groups; i++)
		total += counts[i];
	if (total != n_nodes_col || total != n_values)
		return CORRUPT(err, "%s: counts add up to %zu, %zu nodes, %zu "
				    "values",
		    what, total, n_nodes_col, n_values);
	if (scale == 0 || scale > INT64_MAX)
		return CORRUPT(err, "%s: scale %llu", what,
		    (unsigned long long) scale);
	size_t k = 0;
	for (size_t g = 0; g < n_groups; g++) {
		uint64_t prev = 0;
		for (uint32_t i = 0; i < counts[g]; i++, k++) {
			int run = i > 0 &&
			    (runs == NULL || runs[k] == runs[k - 1]);
			uint64_t node = run ? prev + nodes[k] : nodes[k];
			if ((run && nodes[k] == 0) || node >= n_nodes)
				return CORRUPT(err,
				    "%s: node %llu out of order or range (%u "
				    "nodes)",
				    what, (unsigned long long) node, n_nodes);
			nodes[k] = (uint32_t) node;
			prev	 = node;
			uint64_t v;
			if (values[k] == 0 ||
			    __builtin_mul_overflow(values[k], scale, &v) ||
			    v > INT64_MAX)
				return CORRUPT(err, "%s: value out of range",
				    what);
			values[k] = v;
		}
	}
	return 0;
}

int
block_dec_samples(const block_hdr *h, uint32_t s, uint32_t lo,
    uint32_t hi, const uint8_t *v, size_t vl, hearth_arena *a,
    ZSTD_DCtx *dctx, block_sdata *sd, hearth_err *err)
{
	ProtobufCMessage *pm;
	int rc = block_dec_message(v, vl, &hearth__block__samples__descriptor,
	    a, dctx, &pm, err);
	if (rc != 0)
		return rc;
	Hearth__Block__Samples *m  = (Hearth__Block__Samples *) pm;
	const block_hseries    *hs = &h->series[s];
	uint32_t		np = hi - lo;
	HEARTH_ASSERT(lo <= hi && hi <= hs->n_profiles);
	if (m->ids.len != 0 && m->ids.len != (size_t) np * 16)
		return CORRUPT(err, "samples: %zu id bytes for %u profiles",
		    m->ids.len, np);
	if ((rc = block_dec_columns(np, m->counts, m->n_counts, m->nodes,
		 m->n_nodes, m->values, m->n_values, NULL, m->scale,
		 h->n_nodes, "samples", err)) != 0)
		return rc;
	memset(sd, 0, sizeof(*sd)); /* no span rows: block_dec_spans */
	sd->n_profiles = np;
	sd->times      = h->times + hs->first + lo;
	sd->totals     = h->totals + hs->first + lo;
	sd->ids	       = m->ids.len != 0 ? m->ids.data : NULL;
	sd->counts     = m->counts;
	sd->n_samples  = m->n_nodes;
	sd->nodes      = m->nodes;
	/* Same object, signed view: the values were checked <= INT64_MAX. */
	sd->values = (int64_t *) m->values;
	return 0;
}

int
block_dec_rollup(const block_hdr *h, const uint8_t *v, size_t vl,
    hearth_arena *a, ZSTD_DCtx *dctx, block_rdata *rd, hearth_err *err)
{
	ProtobufCMessage *pm;
	int rc = block_dec_message(v, vl, &hearth__block__rollup__descriptor,
	    a, dctx, &pm, err);
	if (rc != 0)
		return rc;
	Hearth__Block__Rollup *m = (Hearth__Block__Rollup *) pm;
	if (m->width_ms != BLOCK_MINUTE_MS && m->width_ms != BLOCK_HOUR_MS)
		return CORRUPT(err, "rollup: width %lld ms",
		    (long long) m->width_ms);
	for (size_t i = 1; i < m->n_buckets; i++) {
		if (m->buckets[i] <= 0 ||
		    __builtin_add_overflow(m->buckets[i - 1], m->buckets[i],
			&m->buckets[i]))
			return CORRUPT(err, "rollup: buckets out of order");
	}
	if ((rc = block_dec_columns(m->n_buckets, m->counts, m->n_counts,
		 m->nodes, m->n_nodes, m->values, m->n_values, NULL, m->scale,
		 h->n_nodes, "rollup", err)) != 0)
		return rc;
	rd->width_ms  = m->width_ms;
	rd->n_buckets = (uint32_t) m->n_buckets;
	rd->buckets   = m->buckets;
	rd->counts    = m->counts;
	rd->n_entries = m->n_nodes;
	rd->nodes     = m->nodes;
	rd->values    = (int64_t *) m->values;
	return 0;
}
