#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "block.h"
#include "block_impl.h" /* the Spans codec */
#include "kv.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MS	  1000000LL	  /* ns per ms */
#define MIN_MS	  60000LL
#define HOUR_MS	  3600000LL
#define T0_MS	  1700000000000LL /* 2023-11-14 22:13:20 UTC */
#define DAY_MS	  (24 * HOUR_MS)
#define DAY0_MS	  (T0_MS - T0_MS % DAY_MS) /* 2023-11-14 00:00 UTC */
#define PERIOD_NS 10000000LL	  /* 10 ms: CPU sample weight */

/* ---- fixture ------------------------------------------------------------ */

typedef struct fx {
	char		dir[64];
	hearth_kv      *kv;
	hearth_blocks  *bs;
	hearth_metrics *m;
	hearth_log	log;
	hearth_err	err;
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
fx_open(fx *f)
{
	hearth_kv_opts o = { f->dir, 1 << 20, 1 << 20 };
	f->m		 = hearth_metrics_new();
	assert_int_equal(hearth_kv_open(&o, &f->kv, &f->err), 0);
	assert_int_equal(hearth_blocks_open(f->kv, &f->log, f->m, &f->bs,
			     &f->err),
	    0);
}

static void
fx_close(fx *f)
{
	hearth_blocks_free(f->bs);
	hearth_kv_close(f->kv);
	hearth_metrics_free(f->m);
	f->bs = NULL;
	f->kv = NULL;
	f->m  = NULL;
}

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/hearth-block-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	hearth_log_init(&f->log, "block_test", HEARTH_LOG_ERROR);
	fx_open(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fx *f = *state;
	fx_close(f);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- data: a pool of stacks and profiles drawn from it ------------------ */

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Stacks share prefixes as real ones do: frame d is one of a few names of
 * depth d. Stack 0 is empty (its value lands on the root). */
typedef struct pool {
	char	*strings[512];
	size_t	 n_strings;
	uint32_t frames[32 * 1024];
	size_t	 n_frames;
	uint32_t lens[1024];
	size_t	 n_stacks;
	uint32_t counts[1024]; /* per-draw scratch */
} pool;

static uint32_t
pool_str(pool *p, const char *s)
{
	for (size_t i = 0; i < p->n_strings; i++)
		if (strcmp(p->strings[i], s) == 0)
			return (uint32_t) i;
	assert_true(p->n_strings < 512);
	p->strings[p->n_strings] = strdup(s);
	return (uint32_t) p->n_strings++;
}

static pool *
pool_new(size_t n_stacks, uint64_t seed)
{
	pool	*p = calloc(1, sizeof(*p));
	uint64_t r = seed;
	char	 name[64];
	pool_str(p, "");
	p->lens[p->n_stacks++] = 0;
	while (p->n_stacks < n_stacks) {
		size_t depth = 1 + rnd(&r) % 24;
		for (size_t d = 0; d < depth; d++) {
			snprintf(name, sizeof(name), "pkg%zu.fn%llu", d,
			    (unsigned long long) (rnd(&r) % (2 + d / 3)));
			p->frames[p->n_frames++] = pool_str(p, name);
		}
		p->lens[p->n_stacks++] = (uint32_t) depth;
	}
	return p;
}

static void
pool_free(pool *p)
{
	for (size_t i = 0; i < p->n_strings; i++)
		free(p->strings[i]);
	free(p);
}

/* Span ids of push_spans: SPAN0 + k for k < n_spans. */
#define SPAN0 0x1000000000000000ull

/* Push one profile of series `labels` ("k=v,k=v", sorted) at t_ns into
 * every head of hs[0..nh): `draws` samples of PERIOD_NS over the pool,
 * skewed towards low stack indexes (a few hot stacks, a long tail). With
 * n_spans > 0 about two stacks in three get span rows: a part of the
 * sample's value in span SPAN0 + (random % n_spans), sometimes a second
 * span too. */
static void
push_spans(hearth_head **hs, size_t nh, const char *tenant, pool *p,
    const char *labels, int64_t t_ns, size_t draws, uint64_t *r, int with_id,
    unsigned n_spans)
{
	Hearth__Ingester__PushRequest	req = HEARTH__INGESTER__PUSH_REQUEST__INIT;
	Hearth__Ingester__ProfileBatch	b   = HEARTH__INGESTER__PROFILE_BATCH__INIT;
	Hearth__Ingester__SeriesProfile sp = HEARTH__INGESTER__SERIES_PROFILE__INIT;
	Hearth__Ingester__ProfileBatch *bs[1] = { &b };
	Hearth__Ingester__SeriesProfile *sps[1] = { &sp };
	Hearth__Ingester__Label		 lab[8], *labp[8];
	char				 buf[256], *save = NULL;
	uint32_t			 stacks[1024];
	int64_t				 values[1024];
	uint8_t				 id[16];
	size_t				 n = 0;
	memset(p->counts, 0, sizeof(p->counts));
	for (size_t i = 0; i < draws; i++) {
		double u = (double) (rnd(r) % 1000000) / 1e6;
		p->counts[(size_t) ((double) p->n_stacks * u * u * u)]++;
	}
	for (size_t i = 0; i < p->n_stacks; i++)
		if (p->counts[i] > 0) {
			stacks[n]   = (uint32_t) i;
			values[n++] = p->counts[i] * PERIOD_NS;
		}
	snprintf(buf, sizeof(buf), "%s", labels);
	for (char *kv = strtok_r(buf, ",", &save); kv != NULL;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		*eq	 = '\0';
		hearth__ingester__label__init(&lab[sp.n_labels]);
		lab[sp.n_labels].name  = kv;
		lab[sp.n_labels].value = eq + 1;
		labp[sp.n_labels]      = &lab[sp.n_labels];
		sp.n_labels++;
	}
	sp.labels     = labp;
	sp.time_nanos = t_ns;
	sp.stacks     = stacks;
	sp.values     = values;
	sp.n_stacks = sp.n_values = n;
	uint32_t sstacks[2048];
	uint64_t sids[2048];
	int64_t	 svalues[2048];
	size_t	 ns = 0;
	for (size_t i = 0; n_spans > 0 && i < n; i++) {
		if (rnd(r) % 3 == 0)
			continue;
		uint64_t cnt = (uint64_t) values[i] / PERIOD_NS;
		uint64_t k1 = rnd(r) % n_spans, part = 1 + rnd(r) % cnt;
		sstacks[ns] = stacks[i];
		sids[ns]    = SPAN0 + k1;
		svalues[ns++] = (int64_t) part * PERIOD_NS;
		uint64_t k2 = rnd(r) % n_spans;
		if (part < cnt && k2 != k1) {
			sstacks[ns]   = stacks[i];
			sids[ns]      = SPAN0 + k2;
			svalues[ns++] = (int64_t) (cnt - part) * PERIOD_NS;
		}
	}
	sp.span_stacks = sstacks;
	sp.span_ids    = sids;
	sp.span_values = svalues;
	sp.n_span_stacks = sp.n_span_ids = sp.n_span_values = ns;
	if (with_id) {
		uint64_t a = rnd(r), c = rnd(r);
		memcpy(id, &a, 8);
		memcpy(id + 8, &c, 8);
		sp.id.data = id;
		sp.id.len  = 16;
	}
	b.strings	  = p->strings;
	b.n_strings	  = p->n_strings;
	b.frames	  = p->frames;
	b.n_frames	  = p->n_frames;
	b.stack_lengths	  = p->lens;
	b.n_stack_lengths = p->n_stacks;
	b.profiles	  = sps;
	b.n_profiles	  = 1;
	req.batches	  = bs;
	req.n_batches	  = 1;
	for (size_t i = 0; i < nh; i++) {
		hearth_err err;
		if (hs[i] == NULL)
			continue;
		int rc = hearth_head_push(hs[i], tenant, &req, NULL, NULL, &err);
		if (rc != 0)
			fail_msg("push: %s", err.msg);
	}
}

static void
push(hearth_head **hs, size_t nh, const char *tenant, pool *p,
    const char *labels, int64_t t_ns, size_t draws, uint64_t *r, int with_id)
{
	push_spans(hs, nh, tenant, p, labels, t_ns, draws, r, with_id, 0);
}

/* Write head h as blocks, as the store's flush does. */
static void
flush(fx *f, hearth_head *h)
{
	hearth_kv_batch *b = hearth_kv_batch_new();
	assert_int_equal(hearth_blocks_prepare(f->bs, h, b, &f->err), 0);
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_blocks_commit(f->bs);
	hearth_kv_batch_free(b);
}

static hearth_head *
head_new(void)
{
	hearth_head *h;
	hearth_err   err;
	assert_int_equal(hearth_head_new(&h, &err), 0);
	return h;
}

static const char *const series_labels[] = {
	"__name__=process_cpu,pod=pod-0,service_name=checkout",
	"__name__=process_cpu,pod=pod-1,service_name=checkout",
	"__name__=process_cpu,pod=pod-2,region=eu,service_name=checkout",
	"__name__=process_cpu,pod=pod-0,service_name=cart",
	"__name__=memory,pod=pod-0,service_name=cart",
};
#define N_SERIES (sizeof(series_labels) / sizeof(series_labels[0]))

static const char *const selectors[] = {
	"{}",
	"{service_name=\"checkout\"}",
	"{pod=~\"pod-[01]\",__name__=\"process_cpu\"}",
	"{region=\"\"}",
	"{region!=\"\"}",
	"{pod!=\"pod-0\"}",
	"{service_name=~\"c.*\",region!~\"e.\"}",
	"{service_name=\"nope\"}",
};
#define N_SELECTORS (sizeof(selectors) / sizeof(selectors[0]))

/* ---- comparing answers -------------------------------------------------- */

static int
cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* "root;a;b self" per node with self != 0, sorted, one per line: a tree's
 * content independent of node order. Caller frees. */
static char *
tree_folded(const hearth_fgtree *t)
{
	size_t n = hearth_fgtree_size(t), k = 0, total = 1;
	char **lines = calloc(n, sizeof(*lines));
	for (uint32_t i = 0; i < n; i++) {
		int64_t self;
		hearth_fgtree_node(t, i, NULL, NULL, NULL, &self);
		if (self == 0)
			continue;
		uint32_t chain[256], d = 0;
		for (uint32_t c = i; c != HEARTH_FGTREE_NO_PARENT;) {
			chain[d++] = c;
			hearth_fgtree_node(t, c, &c, NULL, NULL, NULL);
		}
		char  *line = malloc(8192);
		size_t o    = 0;
		while (d-- > 0) {
			const char *nm;
			size_t	    len;
			hearth_fgtree_node(t, chain[d], NULL, &nm, &len, NULL);
			o += (size_t) snprintf(line + o, 8192 - o, "%.*s;",
			    (int) len, nm);
		}
		snprintf(line + o, 8192 - o, " %lld", (long long) self);
		lines[k++] = line;
		total += strlen(line) + 1;
	}
	qsort(lines, k, sizeof(*lines), cmp_line);
	char *out = malloc(total);
	out[0]	  = '\0';
	for (size_t i = 0; i < k; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
		free(lines[i]);
	}
	free(lines);
	return out;
}

static hearth_selector *
sel_parse(const char *s)
{
	hearth_selector *sel;
	hearth_err	 err;
	if (hearth_selector_parse(s, strlen(s), &sel, &err) != 0)
		fail_msg("%s: %s", s, err.msg);
	return sel;
}

/* Tree of the blocks and of head ref over [s, e] must be equal; with sp,
 * the span trees of its span ids. Returns the blocks' total. */
static int64_t
same_tree_of(fx *f, hearth_head *ref, const char *tenant, const char *selstr,
    const hearth_head_spans *sp, int64_t s, int64_t e)
{
	hearth_selector *sel = sel_parse(selstr);
	hearth_arena	*a   = hearth_arena_new(0);
	hearth_fgtree	*th = hearth_fgtree_new(), *tb = hearth_fgtree_new();
	const char	*what = sp != NULL ? "span tree" : "tree";
	hearth_err	 err;
	int		 rc;
	rc = sp != NULL ? hearth_head_select_span_tree(ref, tenant, sel, NULL,
			      sp, s, e, a, th, &err)
			: hearth_head_select_tree(ref, tenant, sel, NULL, s, e,
			      a, th, &err);
	assert_int_equal(rc, 0);
	rc = sp != NULL ? hearth_blocks_select_span_tree(f->bs, tenant, sel,
			      NULL, sp, s, e, a, tb, &err)
			: hearth_blocks_select_tree(f->bs, tenant, sel, NULL, s,
			      e, a, tb, &err);
	if (rc != 0)
		fail_msg("blocks %s %s [%lld, %lld]: %s", what, selstr,
		    (long long) s, (long long) e, err.msg);
	char *x = tree_folded(th), *y = tree_folded(tb);
	if (strcmp(x, y) != 0)
		fail_msg("%s %s [%lld, %lld] differs:\nhead:\n%.2000s\n"
			 "blocks:\n%.2000s",
		    what, selstr, (long long) s, (long long) e, x, y);
	int64_t total = hearth_fgtree_total(tb);
	assert_int_equal(total, hearth_fgtree_total(th));
	free(x);
	free(y);
	hearth_fgtree_free(th);
	hearth_fgtree_free(tb);
	hearth_arena_free(a);
	hearth_selector_free(sel);
	return total;
}

static int64_t
same_tree(fx *f, hearth_head *ref, const char *tenant, const char *selstr,
    int64_t s, int64_t e)
{
	return same_tree_of(f, ref, tenant, selstr, NULL, s, e);
}

static void
same_series(fx *f, hearth_head *ref, const char *tenant, const char *selstr,
    int64_t s, int64_t e, int64_t step, const char *const *by, size_t nby)
{
	hearth_selector	   *sel = sel_parse(selstr);
	hearth_arena	   *a	= hearth_arena_new(0);
	hearth_head_series *x = NULL, *y = NULL;
	size_t		    nx = 0, ny = 0;
	hearth_err	    err;
	assert_int_equal(hearth_head_select_series(ref, tenant, sel, NULL, s, e, step,
			     by, nby, a, &x, &nx, &err),
	    0);
	if (hearth_blocks_select_series(f->bs, tenant, sel, NULL, s, e, step, by,
		nby, a, &y, &ny, &err) != 0)
		fail_msg("blocks series: %s", err.msg);
	assert_int_equal(nx, ny);
	for (size_t i = 0; i < nx; i++) {
		assert_int_equal(x[i].n_labels, y[i].n_labels);
		for (size_t j = 0; j < x[i].n_labels; j++) {
			assert_string_equal(x[i].labels[j].name,
			    y[i].labels[j].name);
			assert_string_equal(x[i].labels[j].value,
			    y[i].labels[j].value);
		}
		assert_int_equal(x[i].n_points, y[i].n_points);
		for (size_t j = 0; j < x[i].n_points; j++) {
			assert_int_equal(x[i].points[j].timestamp_ms,
			    y[i].points[j].timestamp_ms);
			assert_int_equal(x[i].points[j].value,
			    y[i].points[j].value);
			assert_int_equal(x[i].points[j].count,
			    y[i].points[j].count);
		}
	}
	hearth_arena_free(a);
	hearth_selector_free(sel);
}

static void
same_labels(fx *f, hearth_head *ref, const char *tenant, const char *selstr,
    int64_t s, int64_t e, const char *name)
{
	hearth_selector *sel = sel_parse(selstr);
	hearth_arena	*a   = hearth_arena_new(0);
	const char     **x = NULL, **y = NULL;
	size_t		 nx = 0, ny = 0;
	hearth_err	 err;
	assert_int_equal(hearth_head_labels(ref, tenant, sel, s, e, name, a,
			     &x, &nx, &err),
	    0);
	assert_int_equal(hearth_blocks_labels(f->bs, tenant, sel, s, e, name,
			     a, &y, &ny, &err),
	    0);
	assert_int_equal(nx, ny);
	for (size_t i = 0; i < nx; i++)
		assert_string_equal(x[i], y[i]);
	hearth_arena_free(a);
	hearth_selector_free(sel);
}

/* Every query kind over a set of ranges and selectors. */
/* The i-th random query range [*s, *e] around [lo_ms, hi_ms] (an hour
 * either side). Ranges on bucket edges are the interesting ones: with
 * i % 4 == 1 it starts on a minute, with i % 4 == 2 it ends just before
 * an hour. */
static void
rnd_range(uint64_t *r, int64_t lo_ms, int64_t hi_ms, int i, int64_t *s,
    int64_t *e)
{
	int64_t span = hi_ms - lo_ms + 2 * HOUR_MS;
	*s = lo_ms - HOUR_MS + (int64_t) (rnd(r) % (uint64_t) span);
	*e = *s + (int64_t) (rnd(r) % (uint64_t) (span / 2));
	if (i % 4 == 1)
		*s -= *s % MIN_MS;
	if (i % 4 == 2)
		*e -= *e % HOUR_MS + 1;
	if (*e < *s)
		*e = *s;
}

static void
same_answers(fx *f, hearth_head *ref, const char *tenant, int64_t lo_ms,
    int64_t hi_ms, uint64_t *r, int n_random)
{
	static const char *const by[] = { "pod", "service_name" };
	for (size_t i = 0; i < N_SELECTORS; i++) {
		same_tree(f, ref, tenant, selectors[i], INT64_MIN, INT64_MAX);
		same_tree(f, ref, tenant, selectors[i], lo_ms, hi_ms);
		same_series(f, ref, tenant, selectors[i], lo_ms, hi_ms,
		    7 * MIN_MS, by, 2);
		same_series(f, ref, tenant, selectors[i], lo_ms - 1, hi_ms,
		    HOUR_MS, NULL, 0);
		same_labels(f, ref, tenant, selectors[i], lo_ms, hi_ms, NULL);
		same_labels(f, ref, tenant, selectors[i], lo_ms, hi_ms, "pod");
	}
	for (int i = 0; i < n_random; i++) {
		int64_t s, e;
		rnd_range(r, lo_ms, hi_ms, i, &s, &e);
		const char *sel = selectors[rnd(r) % N_SELECTORS];
		same_tree(f, ref, tenant, sel, s, e);
		if (i % 8 == 0) {
			same_series(f, ref, tenant, sel, s, e,
			    1 + (int64_t) (rnd(r) % (3 * HOUR_MS)), NULL, 0);
			same_labels(f, ref, tenant, sel, s, e, "service_name");
		}
	}
}

/* same_tree for the span ids ids[0..n) (ascending). */
static int64_t
same_span_tree(fx *f, hearth_head *ref, const char *tenant,
    const char *selstr, const uint64_t *ids, size_t n, int64_t s, int64_t e)
{
	hearth_head_spans sp = { ids, n };
	return same_tree_of(f, ref, tenant, selstr, &sp, s, e);
}

/* Span trees for one span, several, every one and an unknown one, over
 * the selectors and random ranges; the whole range of "{}" must find
 * something for the single span (so the checks are not vacuous). */
static void
same_span_answers(fx *f, hearth_head *ref, const char *tenant,
    unsigned n_spans, int64_t lo_ms, int64_t hi_ms, uint64_t *r, int n_random)
{
	uint64_t one[1] = { SPAN0 + 1 }, some[3] = { SPAN0, SPAN0 + 2,
		SPAN0 + n_spans - 1 }, all[64], none[1] = { SPAN0 + 4096 };
	assert_true(n_spans <= 64 && n_spans > 3);
	for (unsigned k = 0; k < n_spans; k++)
		all[k] = SPAN0 + k;
	int64_t t1 = same_span_tree(f, ref, tenant, "{}", one, 1, INT64_MIN,
	    INT64_MAX);
	int64_t tall = same_span_tree(f, ref, tenant, "{}", all, n_spans,
	    INT64_MIN, INT64_MAX);
	assert_true(t1 > 0 && tall > t1);
	assert_int_equal(same_span_tree(f, ref, tenant, "{}", none, 1,
			     INT64_MIN, INT64_MAX),
	    0);
	for (size_t i = 0; i < N_SELECTORS; i++) {
		same_span_tree(f, ref, tenant, selectors[i], some, 3, lo_ms,
		    hi_ms);
		same_span_tree(f, ref, tenant, selectors[i], one, 1, INT64_MIN,
		    INT64_MAX);
	}
	for (int i = 0; i < n_random; i++) {
		int64_t s, e;
		rnd_range(r, lo_ms, hi_ms, i, &s, &e);
		const char *sel = selectors[rnd(r) % N_SELECTORS];
		same_span_tree(f, ref, tenant, sel, i % 2 ? one : some,
		    i % 2 ? 1 : 3, s, e);
	}
}

/* Push `minutes` of every series (a profile per step_s per series) from
 * start_ms into ref and cut a block every seg_min minutes; with n_spans,
 * series whose index is even get span rows (push_spans). */
static void
fill_spans(fx *f, hearth_head *ref, pool *p, const char *tenant,
    int64_t start_ms, int minutes, int step_s, int seg_min, uint64_t *r,
    unsigned n_spans)
{
	hearth_head *seg = head_new();
	int64_t	     seg_end = start_ms + seg_min * MIN_MS;
	for (int64_t t = start_ms; t < start_ms + minutes * MIN_MS;
	     t += step_s * 1000) {
		if (t >= seg_end) {
			flush(f, seg);
			hearth_head_free(seg);
			seg = head_new();
			seg_end += seg_min * MIN_MS;
		}
		for (size_t i = 0; i < N_SERIES; i++) {
			hearth_head *hs[2] = { seg, ref }; /* ref may be NULL */
			/* ns jitter: the ms truncation must agree too */
			int64_t t_ns = t * MS + (int64_t) (rnd(r) % (2 * MS));
			push_spans(hs, 2, tenant, p, series_labels[i], t_ns,
			    10 + rnd(r) % 60, r, 1, i % 2 == 0 ? n_spans : 0);
		}
	}
	flush(f, seg);
	hearth_head_free(seg);
}

static void
fill(fx *f, hearth_head *ref, pool *p, const char *tenant, int64_t start_ms,
    int minutes, int step_s, int seg_min, uint64_t *r)
{
	fill_spans(f, ref, p, tenant, start_ms, minutes, step_s, seg_min, r, 0);
}

static void
total_blocks(fx *f, const char *tenant, size_t *n)
{
	hearth_blocks_stats st;
	hearth_blocks_stats_get(f->bs, tenant, &st);
	n[0] = st.blocks[0];
	n[1] = st.blocks[1];
	n[2] = st.blocks[2];
}

/* ---- tests -------------------------------------------------------------- */

static void
test_block_flush_matches_head(void **state)
{
	fx	    *f	 = *state;
	pool	    *p	 = pool_new(200, 7);
	hearth_head *ref = head_new();
	uint64_t     r	 = 42;
	hearth_head *hs[1] = { ref };
	for (int k = 0; k < 40; k++)
		for (size_t i = 0; i < N_SERIES; i++)
			push(hs, 1, "t1", p, series_labels[i],
			    (T0_MS + k * 15000) * MS + k, 50, &r, k % 3 != 0);
	/* Out-of-order profiles and one at a negative ms-truncated time. */
	push(hs, 1, "t1", p, series_labels[0], (T0_MS - 5000) * MS, 30, &r, 1);
	push(hs, 1, "t1", p, series_labels[1], -1, 30, &r, 1);
	push(hs, 1, "t2", p, series_labels[2], T0_MS * MS, 30, &r, 1);
	flush(f, ref);
	size_t n[3];
	total_blocks(f, NULL, n);
	assert_int_equal(n[0], 2); /* one per tenant */
	same_answers(f, ref, "t1", T0_MS, T0_MS + 10 * MIN_MS, &r, 200);
	same_answers(f, ref, "t2", T0_MS, T0_MS + 10 * MIN_MS, &r, 10);
	same_tree(f, ref, "t1", "{}", -1, 0); /* the profile at -1 ns: ms -1 */
	/* Unknown tenant: nothing, no error. */
	same_answers(f, ref, "t3", T0_MS, T0_MS + 10 * MIN_MS, &r, 2);
	hearth_head_free(ref);
	pool_free(p);
}

static void
test_block_keys_layout(void **state)
{
	fx	    *f	  = *state;
	pool	    *p	  = pool_new(20, 1);
	hearth_head *h	  = head_new();
	uint64_t     r	  = 1;
	hearth_head *hs[1] = { h };
	push(hs, 1, "acme", p, series_labels[0], T0_MS * MS, 10, &r, 1);
	push(hs, 1, "acme", p, series_labels[1], T0_MS * MS, 10, &r, 1);
	flush(f, h);
	/* blocks CF: acme\0<id 1 BE>\0h, then \0s<series u32 BE><chunk u32
	 * BE> (a chunk is 10 minutes of a series' profiles) */
	static const uint8_t hk[] = { 'a', 'c', 'm', 'e', 0, 0, 0, 0, 0, 0, 0,
		0, 1, 0, 'h' };
	uint8_t sk[] = { 'a', 'c', 'm', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 's',
		0, 0, 0, 1, 0, 0, 0, 0 };
	hearth_arena *a = hearth_arena_new(0);
	uint8_t	     *v;
	size_t	      vl;
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_BLOCKS, hk, sizeof(hk),
			     a, &v, &vl, &f->err),
	    0);
	assert_true(vl > 1 && v[0] <= 1); /* codec byte: raw or zstd */
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_BLOCKS, sk, sizeof(sk),
			     a, &v, &vl, &f->err),
	    0);
	sk[18] = 2; /* only two series */
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_BLOCKS, sk, sizeof(sk),
			     a, &v, &vl, &f->err),
	    HEARTH_ENOTFOUND);
	/* meta CF: bi\0acme\0<id> */
	static const uint8_t ik[] = { 'b', 'i', 0, 'a', 'c', 'm', 'e', 0, 0, 0,
		0, 0, 0, 0, 0, 1 };
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_META, ik, sizeof(ik), a,
			     &v, &vl, &f->err),
	    0);
	hearth_blocks_stats st;
	hearth_blocks_stats_get(f->bs, "acme", &st);
	assert_int_equal(st.blocks[0], 1);
	assert_int_equal(st.series, 2);
	assert_int_equal(st.profiles, 2);
	assert_int_equal(st.min_time_ns, T0_MS * MS);
	assert_int_equal(st.max_time_ns, T0_MS * MS);
	size_t	 nb;
	uint64_t bytes;
	hearth_blocks_pending(f->bs, &nb, &bytes);
	assert_int_equal(nb, 0);
	hearth_arena_free(a);
	hearth_head_free(h);
	pool_free(p);
}

static void
test_block_reopen_same_answers(void **state)
{
	fx	    *f	 = *state;
	pool	    *p	 = pool_new(100, 3);
	hearth_head *ref = head_new();
	uint64_t     r	 = 5;
	fill(f, ref, p, "t", T0_MS, 30, 15, 10, &r);
	same_answers(f, ref, "t", T0_MS, T0_MS + 30 * MIN_MS, &r, 20);
	fx_close(f);
	fx_open(f);
	size_t n[3];
	total_blocks(f, "t", n);
	assert_int_equal(n[0], 3);
	same_answers(f, ref, "t", T0_MS, T0_MS + 30 * MIN_MS, &r, 50);
	hearth_head_free(ref);
	pool_free(p);
}

static void
test_block_abort_leaves_nothing(void **state)
{
	fx		*f  = *state;
	pool		*p  = pool_new(20, 2);
	hearth_head	*h  = head_new();
	uint64_t	 r  = 2;
	hearth_head	*hs[1] = { h };
	hearth_kv_batch *b     = hearth_kv_batch_new();
	size_t		 nb;
	uint64_t	 bytes;
	push(hs, 1, "t", p, series_labels[0], T0_MS * MS, 10, &r, 1);
	push(hs, 1, "u", p, series_labels[0], T0_MS * MS, 10, &r, 1);
	assert_int_equal(hearth_blocks_prepare(f->bs, h, b, &f->err), 0);
	hearth_blocks_pending(f->bs, &nb, &bytes);
	assert_int_equal(nb, 2);
	assert_true(bytes > 0 && bytes <= hearth_kv_batch_bytes(b));
	hearth_blocks_abort(f->bs); /* the batch is never written */
	size_t n[3];
	total_blocks(f, NULL, n);
	assert_int_equal(n[0], 0);
	/* A second prepare works and the set still answers nothing for the
	 * aborted blocks until this one commits. */
	hearth_kv_batch_clear(b);
	assert_int_equal(hearth_blocks_prepare(f->bs, h, b, &f->err), 0);
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_blocks_commit(f->bs);
	total_blocks(f, NULL, n);
	assert_int_equal(n[0], 2);
	same_answers(f, h, "t", T0_MS, T0_MS, &r, 2);
	hearth_kv_batch_free(b);
	hearth_head_free(h);
	pool_free(p);
}

static void
test_block_compaction_levels_and_rollups(void **state)
{
	fx	    *f	 = *state;
	pool	    *p	 = pool_new(150, 11);
	hearth_head *ref = head_new();
	uint64_t     r	 = 9;
	size_t	     n[3];
	/* 27 h from 00:17, a profile per series every 5 min, blocks of 30
	 * min: each 2-hour window holds the first profiles of 4 blocks. */
	int64_t start = DAY0_MS + 17 * MIN_MS;
	fill(f, ref, p, "t", start, 27 * 60, 300, 30, &r);
	total_blocks(f, "t", n);
	assert_int_equal(n[0], 54);
	int steps = 0, rc;
	while ((rc = hearth_blocks_compact_step(f->bs, &f->err)) == 1)
		steps++;
	assert_int_equal(rc, 0);
	/* Windows [0, 2 h) .. [24 h, 26 h) are complete (a block starts at
	 * 26:17): 13 level-1 blocks; the 12 of day 0 become one level-2
	 * block (day 1 has begun); window [26 h, 28 h) and day 1 are open. */
	assert_int_equal(steps, 14);
	total_blocks(f, "t", n);
	assert_int_equal(n[0], 2);
	assert_int_equal(n[1], 1);
	assert_int_equal(n[2], 1);
	same_answers(f, ref, "t", start, start + 27 * HOUR_MS, &r, 400);
	/* Still the same after a reopen (decoded from disk again). */
	fx_close(f);
	fx_open(f);
	same_answers(f, ref, "t", start, start + 27 * HOUR_MS, &r, 100);
	hearth_head_free(ref);
	pool_free(p);
}

/* With the samples of compacted blocks deleted behind the set's back,
 * whole-hour and whole-minute ranges still answer (rollups only) and a
 * range with a partial minute fails: proof that rollups are used. */
static void
test_block_rollups_serve_whole_buckets(void **state)
{
	fx	    *f	 = *state;
	pool	    *p	 = pool_new(100, 13);
	hearth_head *ref = head_new();
	uint64_t     r	 = 13;
	int64_t	     start = DAY0_MS; /* 2-hour windows: [0, 2 h), [2 h, 4 h) */
	fill(f, ref, p, "t", start, 4 * 60, 20, 60, &r);
	while (hearth_blocks_compact_step(f->bs, &f->err) == 1)
		;
	size_t n[3];
	total_blocks(f, "t", n);
	assert_int_equal(n[1], 1);
	assert_int_equal(n[0], 2); /* window [2 h, 4 h) is still open */
	/* Blocks 1 and 2 (each 1 h less 20 s) merged into block 5. */
	int64_t full = same_tree(f, ref, "t", "{}", start, start + 2 * HOUR_MS - 1);
	hearth_kv_batch *b  = hearth_kv_batch_new();
	hearth_kv_iter	*it = hearth_kv_iter_new(f->kv, HEARTH_KV_BLOCKS, NULL,
	     0, NULL, 0);
	size_t		 deleted = 0;
	for (; hearth_kv_iter_valid(it); hearth_kv_iter_next(it)) {
		size_t	       kl;
		const uint8_t *k = hearth_kv_iter_key(it, &kl);
		/* t\0<id: 8>\0s<series: 4><chunk: 4> of block 5 */
		if (kl == 20 && k[11] == 's' && k[9] == 5) {
			hearth_kv_batch_delete(b, HEARTH_KV_BLOCKS, k, kl);
			deleted++;
		}
	}
	hearth_kv_iter_free(it);
	assert_int_equal(deleted, N_SERIES * 12); /* 2 h of 10-min chunks */
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	/* Whole hours, whole minutes: rollups only. */
	assert_int_equal(same_tree(f, ref, "t", "{}", start,
			     start + 2 * HOUR_MS - 1),
	    full);
	same_tree(f, ref, "t", "{pod=\"pod-1\"}", start + 7 * MIN_MS,
	    start + 93 * MIN_MS - 1);
	/* A partial minute needs samples. */
	hearth_selector *sel = sel_parse("{}");
	hearth_arena	*a   = hearth_arena_new(0);
	hearth_fgtree	*t   = hearth_fgtree_new();
	assert_int_equal(hearth_blocks_select_tree(f->bs, "t", sel, NULL,
			     start + 30 * 1000, start + HOUR_MS, a, t, &f->err),
	    HEARTH_ECORRUPT);
	assert_non_null(strstr(f->err.msg, "samples missing"));
	assert_non_null(strstr(f->err.msg, "block t/"));
	hearth_fgtree_free(t);
	hearth_arena_free(a);
	hearth_selector_free(sel);
	hearth_head_free(ref);
	pool_free(p);
}

static int64_t
retention_1d(void *ctx, const char *tenant)
{
	(void) ctx;
	return strcmp(tenant, "keep") == 0 ? 0 : 24 * HOUR_MS;
}

static void
test_block_retention_deletes_blocks_and_space(void **state)
{
	fx	    *f	  = *state;
	pool	    *p	  = pool_new(300, 17);
	hearth_head *old  = head_new(), *cur = head_new();
	uint64_t     r	  = 17;
	int64_t	     now  = T0_MS + 40 * HOUR_MS;
	hearth_head *ho[2] = { old, NULL }, *hc[1] = { cur };
	/* A lot of old data (so the space is measurable), a little new. */
	for (int k = 0; k < 400; k++)
		for (size_t i = 0; i < N_SERIES; i++)
			push(ho, 1, "t", p, series_labels[i],
			    (T0_MS + k * 10000) * MS, 400, &r, 1);
	push(ho, 1, "keep", p, series_labels[0], T0_MS * MS, 10, &r, 1);
	push(hc, 1, "t", p, series_labels[0], (now - HOUR_MS) * MS, 10, &r, 1);
	flush(f, old);
	flush(f, cur);
	assert_int_equal(hearth_kv_flush(f->kv, &f->err), 0);
	hearth_kv_stats before, after;
	assert_int_equal(hearth_kv_stats_get(f->kv, &before), 0);
	/* Nothing expires while the newest old profile is exactly at the
	 * horizon. */
	assert_int_equal(hearth_blocks_retention_step(f->bs,
			     T0_MS + 3990 * 1000 + 24 * HOUR_MS, retention_1d,
			     NULL, &f->err),
	    0);
	assert_int_equal(hearth_blocks_retention_step(f->bs, now,
			     retention_1d, NULL, &f->err),
	    1);
	size_t n[3];
	total_blocks(f, "t", n);
	assert_int_equal(n[0], 1);
	total_blocks(f, "keep", n);
	assert_int_equal(n[0], 1);
	assert_int_equal(hearth_blocks_retention_step(f->bs, now,
			     retention_1d, NULL, &f->err),
	    0);
	/* Gone from queries ... */
	same_tree(f, cur, "t", "{}", INT64_MIN, INT64_MAX);
	/* ... and from disk. */
	assert_int_equal(hearth_kv_flush(f->kv, &f->err), 0);
	assert_int_equal(hearth_kv_stats_get(f->kv, &after), 0);
	assert_true(after.blocks_cf_bytes * 4 < before.blocks_cf_bytes);
	hearth_arena *a = hearth_arena_new(0);
	uint8_t	     *v;
	size_t	      vl;
	static const uint8_t hk[] = { 't', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 'h' };
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_BLOCKS, hk, sizeof(hk),
			     a, &v, &vl, &f->err),
	    HEARTH_ENOTFOUND);
	hearth_arena_free(a);
	/* Still gone after a reopen. */
	fx_close(f);
	fx_open(f);
	total_blocks(f, "t", n);
	assert_int_equal(n[0], 1);
	same_tree(f, cur, "t", "{}", INT64_MIN, INT64_MAX);
	hearth_head_free(old);
	hearth_head_free(cur);
	pool_free(p);
}

/* Old data and recent data never end up in one block: compaction before
 * retention must not keep the old profiles alive. */
static void
test_block_compaction_keeps_old_data_expirable(void **state)
{
	fx	    *f	 = *state;
	pool	    *p	 = pool_new(50, 37);
	hearth_head *ref = head_new();
	uint64_t     r	 = 37;
	int64_t	     now = T0_MS;
	size_t	     n[3];
	fill(f, NULL, p, "t", now - 2 * DAY_MS, 20, 60, 10, &r);
	fill(f, ref, p, "t", now - 30 * MIN_MS, 20, 60, 10, &r);
	int steps = 0;
	while (hearth_blocks_compact_step(f->bs, &f->err) == 1)
		steps++;
	/* The old 20 min: their 2-hour window, then their day, are done. */
	assert_int_equal(steps, 2);
	total_blocks(f, "t", n);
	assert_int_equal(n[2], 1);
	assert_int_equal(hearth_blocks_retention_step(f->bs, now, retention_1d,
			     NULL, &f->err),
	    1);
	total_blocks(f, "t", n);
	assert_int_equal(n[0], 2); /* the recent window is still open */
	assert_int_equal(n[1], 0);
	assert_int_equal(n[2], 0);
	same_answers(f, ref, "t", now - HOUR_MS, now, &r, 10);
	hearth_head_free(ref);
	pool_free(p);
}

typedef struct qthread {
	fx	*f;
	int64_t	 want;
	int	*stop;
	int	 queries;
	int	 bad;
} qthread;

static void *
query_loop(void *arg)
{
	qthread		*q   = arg;
	hearth_selector *sel = hearth_selector_new();
	while (!__atomic_load_n(q->stop, __ATOMIC_ACQUIRE) || q->queries < 3) {
		hearth_arena  *a = hearth_arena_new(0);
		hearth_fgtree *t = hearth_fgtree_new();
		hearth_err     err;
		if (hearth_blocks_select_tree(q->f->bs, "t", sel, NULL, INT64_MIN,
			INT64_MAX, a, t, &err) != 0 ||
		    hearth_fgtree_total(t) != q->want)
			q->bad++;
		q->queries++;
		hearth_fgtree_free(t);
		hearth_arena_free(a);
	}
	hearth_selector_free(sel);
	return NULL;
}

static void
test_block_queries_during_compaction(void **state)
{
	fx	    *f	 = *state;
	pool	    *p	 = pool_new(100, 19);
	hearth_head *ref = head_new();
	uint64_t     r	 = 19;
	int	     stop = 0;
	fill(f, ref, p, "t", DAY0_MS + 13 * MIN_MS, 5 * 60, 60, 20, &r);
	int64_t	  want = same_tree(f, ref, "t", "{}", INT64_MIN, INT64_MAX);
	qthread	  q[3];
	pthread_t th[3];
	/* A small cache, so that queries also read headers from disk. */
	hearth_blocks_set_header_cache_bytes(f->bs, 4096);
	for (int i = 0; i < 3; i++) {
		q[i] = (qthread) { f, want, &stop, 0, 0 };
		pthread_create(&th[i], NULL, query_loop, &q[i]);
	}
	while (hearth_blocks_compact_step(f->bs, &f->err) == 1)
		;
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(q[i].bad, 0);
		assert_true(q[i].queries >= 3);
	}
	size_t n[3];
	total_blocks(f, "t", n);
	assert_int_equal(n[1], 2);
	same_answers(f, ref, "t", DAY0_MS, DAY0_MS + 6 * HOUR_MS, &r, 20);
	hearth_head_free(ref);
	pool_free(p);
}

static void
test_block_corrupt_value_reported(void **state)
{
	fx	    *f	  = *state;
	pool	    *p	  = pool_new(20, 23);
	hearth_head *h	  = head_new();
	uint64_t     r	  = 23;
	hearth_head *hs[1] = { h };
	push(hs, 1, "t", p, series_labels[0], T0_MS * MS, 10, &r, 1);
	flush(f, h);
	static const uint8_t sk[] = { 't', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 's',
		0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t junk[] = { 1, 0x28, 0xb5, 0x2f, 0xfd, 0xff };
	hearth_kv_batch	    *b	    = hearth_kv_batch_new();
	hearth_kv_batch_put(b, HEARTH_KV_BLOCKS, sk, sizeof(sk), junk,
	    sizeof(junk));
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	hearth_selector *sel = hearth_selector_new();
	hearth_arena	*a   = hearth_arena_new(0);
	hearth_fgtree	*t   = hearth_fgtree_new();
	assert_int_equal(hearth_blocks_select_tree(f->bs, "t", sel, NULL, INT64_MIN,
			     INT64_MAX, a, t, &f->err),
	    HEARTH_ECORRUPT);
	assert_non_null(strstr(f->err.msg, "block t/1 series 0"));
	assert_int_equal(hearth_fgtree_size(t), 1); /* out untouched */
	/* Series and labels need only the header: they still work. */
	const char **vals = NULL;
	size_t	     nv   = 0;
	assert_int_equal(hearth_blocks_labels(f->bs, "t", sel, INT64_MIN,
			     INT64_MAX, "pod", a, &vals, &nv, &f->err),
	    0);
	assert_int_equal(nv, 1);
	assert_string_equal(vals[0], "pod-0");
	hearth_fgtree_free(t);
	hearth_arena_free(a);
	hearth_selector_free(sel);
	hearth_head_free(h);
	pool_free(p);
}

static void
test_block_pending_output_removed_at_open(void **state)
{
	fx *f = *state;
	/* What a crash in the middle of a big compaction leaves: a marker
	 * and values of a block that has no index entry. */
	static const uint8_t mk[] = { 'b', 'p', 0, 't', 0, 0, 0, 0, 0, 0, 0, 0,
		77 };
	static const uint8_t sk[] = { 't', 0, 0, 0, 0, 0, 0, 0, 0, 77, 0, 's',
		0, 0, 0, 0, 0, 0, 0, 0 };
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_kv_batch_put(b, HEARTH_KV_META, mk, sizeof(mk), "", 0);
	hearth_kv_batch_put(b, HEARTH_KV_BLOCKS, sk, sizeof(sk), "x", 1);
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	fx_close(f);
	fx_open(f);
	hearth_arena *a = hearth_arena_new(0);
	uint8_t	     *v;
	size_t	      vl;
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_BLOCKS, sk, sizeof(sk),
			     a, &v, &vl, &f->err),
	    HEARTH_ENOTFOUND);
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_META, mk, sizeof(mk), a,
			     &v, &vl, &f->err),
	    HEARTH_ENOTFOUND);
	hearth_arena_free(a);
}

static void
test_block_header_cache_bounded(void **state)
{
	fx		   *f	= *state;
	pool		   *p	= pool_new(100, 29);
	hearth_head	   *ref = head_new();
	uint64_t	    r	= 29;
	hearth_blocks_stats st;
	fill(f, ref, p, "t", T0_MS, 60, 30, 10, &r);
	hearth_blocks_set_header_cache_bytes(f->bs, 0);
	same_tree(f, ref, "t", "{}", INT64_MIN, INT64_MAX);
	hearth_blocks_stats_get(f->bs, NULL, &st);
	assert_int_equal(st.header_cache_bytes, 0);
	hearth_blocks_set_header_cache_bytes(f->bs, 1 << 20);
	same_tree(f, ref, "t", "{}", INT64_MIN, INT64_MAX);
	hearth_blocks_stats_get(f->bs, NULL, &st);
	size_t all = st.header_cache_bytes;
	assert_true(all > 0);
	/* Room for about two headers: the bound holds. */
	hearth_blocks_set_header_cache_bytes(f->bs, all / 3);
	same_tree(f, ref, "t", "{}", INT64_MIN, INT64_MAX);
	hearth_blocks_stats_get(f->bs, NULL, &st);
	assert_true(st.header_cache_bytes > 0);
	assert_true(st.header_cache_bytes <= all / 3);
	hearth_buf out;
	hearth_buf_init(&out);
	assert_int_equal(hearth_metrics_write(f->m, &out), 0);
	assert_non_null(strstr(out.data, "hearth_storage_blocks{level=\"0\"} 6\n"));
	assert_non_null(strstr(out.data, "hearth_storage_blocks{level=\"1\"} 0\n"));
	assert_non_null(strstr(out.data, "hearth_storage_block_bytes{level=\"0\"} "));
	assert_non_null(strstr(out.data, "hearth_storage_header_cache_bytes "));
	assert_non_null(strstr(out.data, "hearth_storage_compactions_total 0\n"));
	assert_non_null(strstr(out.data,
	    "hearth_storage_retention_deleted_blocks_total 0\n"));
	assert_non_null(strstr(out.data,
	    "hearth_storage_compaction_duration_seconds_count 0\n"));
	hearth_buf_fini(&out);
	hearth_head_free(ref);
	pool_free(p);
}

static void
test_block_query_errors(void **state)
{
	fx		   *f	= *state;
	hearth_selector	   *sel = hearth_selector_new();
	hearth_arena	   *a	= hearth_arena_new(0);
	hearth_fgtree	   *t	= hearth_fgtree_new();
	hearth_head_series *ss	= NULL;
	size_t		    n	= 0;
	assert_int_equal(hearth_blocks_select_tree(f->bs, "t", sel, NULL, 5, 4, a, t,
			     &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "select: start 5 is after end 4");
	assert_int_equal(hearth_blocks_select_series(f->bs, "t", sel, NULL, 0, 4, 0,
			     NULL, 0, a, &ss, &n, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "select: step must be > 0, got 0 ms");
	hearth_fgtree_free(t);
	hearth_arena_free(a);
	hearth_selector_free(sel);
}

/* The fleet: 20 pods, one CPU profile per 15 s each with a few
 * hundred distinct stacks. Target: <= 2 bytes per sample on disk. */
/* Span rows through flush, compaction (level 1 and 2) and a reopen: span
 * trees equal the head's; the ordinary answers are unchanged. */
static void
test_block_span_rows_flush_compact_reopen(void **state)
{
	fx	    *f	 = *state;
	pool	    *p	 = pool_new(150, 17);
	hearth_head *ref = head_new();
	uint64_t     r	 = 17;
	size_t	     n[3];
	/* 26 h from 00:17, blocks of 30 min: day 0 compacts to level 2 */
	int64_t start = DAY0_MS + 17 * MIN_MS;
	fill_spans(f, ref, p, "t", start, 26 * 60, 600, 30, &r, 8);
	same_span_answers(f, ref, "t", 8, start, start + 26 * HOUR_MS, &r, 60);
	same_answers(f, ref, "t", start, start + 26 * HOUR_MS, &r, 20);
	while (hearth_blocks_compact_step(f->bs, &f->err) == 1)
		;
	total_blocks(f, "t", n);
	assert_int_equal(n[2], 1);
	assert_true(n[0] >= 1); /* day 1 is still open */
	same_span_answers(f, ref, "t", 8, start, start + 26 * HOUR_MS, &r, 100);
	same_answers(f, ref, "t", start, start + 26 * HOUR_MS, &r, 40);
	fx_close(f);
	fx_open(f);
	same_span_answers(f, ref, "t", 8, start, start + 26 * HOUR_MS, &r, 40);
	hearth_head_free(ref);
	pool_free(p);
}

/* Two profiles' span rows: profile 0 has spans 5 (nodes 1, 3) and 9
 * (node 2), profile 1 span 9 (nodes 1, 4). */
static uint32_t span_counts[2] = { 3, 2 };
static uint64_t span_ids[5]    = { 5, 5, 9, 9, 9 };
static uint32_t span_nodes[5]  = { 1, 3, 2, 1, 4 };
static int64_t	span_values[5] = { 20, 40, 60, 20, 100 };

/* Damage k (0, 1, ...) to the decoded Spans message m of those rows
 * (span index column [0, 0, 1, 1, 1] into the table [5, 9]); returns the
 * error it must cause, NULL past the last. */
static const char *
span_damage(Hearth__Block__Spans *m, int k)
{
	switch (k) {
	case 0:
		m->nodes[1] = 0; /* same span, node delta 0 */
		return "spans: node 1 out of order or range";
	case 1:
		m->spans[1] = 1;
		m->spans[2] = 0;
		return "spans: row 2 out of order or range";
	case 2:
		m->spans[4] = 2;
		return "spans: row 4 out of order or range";
	case 3:
		m->n_spans = 4;
		return "spans: 4 spans for 5 nodes";
	case 4:
		m->values[3] = 0;
		return "spans: value out of range";
	case 5:
		m->span_table[0] = 10;
		return "spans: span table out of order";
	case 6:
		m->nodes[2] = 5; /* a new span: absolute, and the tree has 5 */
		return "spans: node 5 out of order or range";
	}
	return NULL;
}

/* Decode the Spans value e holds, after damage k (-1: none) re-encoded
 * into e: 0 with sd set, or the error (message in err); *want: the error
 * damage k must cause. */
static int
span_decode(block_enc *e, int k, const char **want, hearth_arena *a,
    ZSTD_DCtx *dctx, block_sdata *sd, hearth_err *err)
{
	block_hdr	  h;
	ProtobufCMessage *m;
	memset(&h, 0, sizeof(h));
	h.n_nodes = 5;
	if (k >= 0) {
		assert_int_equal(block_dec_message(e->out, e->out_len,
				     &hearth__block__spans__descriptor, a, dctx,
				     &m, err),
		    0);
		if ((*want = span_damage((Hearth__Block__Spans *) m, k)) == NULL)
			return 0;
		assert_int_equal(block_enc_message(e, m), 0);
	}
	memset(sd, 0, sizeof(*sd));
	return block_dec_spans(&h, 0, 2, e->out, e->out_len, a, dctx, sd, err);
}

/* The Spans value round-trips (nodes delta-encoded within a run of one
 * span, values scaled by their gcd) and each kind of damage is reported
 * as corruption naming what is wrong. */
static void
test_block_span_codec(void **state)
{
	(void) state;
	block_enc     e;
	block_sdata   in, out;
	hearth_err    err = { 0 };
	hearth_arena *a	  = hearth_arena_new(0);
	ZSTD_DCtx    *dctx = ZSTD_createDCtx();
	assert_int_equal(block_enc_init(&e, 3), 0);
	memset(&in, 0, sizeof(in));
	in.n_profiles  = 2;
	in.span_counts = span_counts;
	in.n_span_rows = 5;
	in.span_ids    = span_ids;
	in.span_nodes  = span_nodes;
	in.span_values = span_values;
	assert_int_equal(block_enc_spans(&e, &in), 0);
	assert_int_equal(span_decode(&e, -1, NULL, a, dctx, &out, &err), 0);
	assert_int_equal(out.n_span_rows, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(out.span_ids[i], span_ids[i]);
		assert_int_equal(out.span_nodes[i], span_nodes[i]);
		assert_int_equal(out.span_values[i], span_values[i]);
	}
	/* What went over the wire: 2 table entries, deltas within a run,
	 * values in units of 20. */
	ProtobufCMessage *pm;
	assert_int_equal(block_dec_message(e.out, e.out_len,
			     &hearth__block__spans__descriptor, a, dctx, &pm,
			     &err),
	    0);
	Hearth__Block__Spans *m = (Hearth__Block__Spans *) pm;
	assert_int_equal(m->n_span_table, 2);
	assert_int_equal(m->scale, 20);
	assert_int_equal(m->nodes[1], 2); /* 3 - 1, span 5 */
	assert_int_equal(m->nodes[2], 2); /* span 9 starts afresh */
	assert_int_equal(m->nodes[3], 1); /* a new profile too */
	assert_int_equal(m->nodes[4], 3);
	const char *want = NULL;
	int	    k	 = 0;
	for (;; k++) {
		assert_int_equal(block_enc_spans(&e, &in), 0);
		int rc = span_decode(&e, k, &want, a, dctx, &out, &err);
		if (want == NULL)
			break;
		assert_int_equal(rc, HEARTH_ECORRUPT);
		if (strstr(err.msg, want) == NULL)
			fail_msg("damage %d: \"%s\", want \"%s\"", k, err.msg,
			    want);
	}
	assert_int_equal(k, 7); /* every damage was tried */
	block_enc_fini(&e);
	ZSTD_freeDCtx(dctx);
	hearth_arena_free(a);
}

/* 'S' keys only for series with span rows; a block without any (what
 * blocks written before span rows look like: no Header.span_counts)
 * answers span queries with nothing, alone and merged with one that has
 * them; a missing 'S' value is reported as corruption. */
static void
test_block_span_rows_keys_and_old_blocks(void **state)
{
	fx	    *f	 = *state;
	pool	    *p	 = pool_new(40, 19);
	hearth_head *ref = head_new(), *old = head_new(), *nw = head_new();
	uint64_t     r	 = 19;
	hearth_head *ho[2] = { old, ref }, *hn[2] = { nw, ref };
	for (int k = 0; k < 4; k++) {
		push(ho, 2, "t", p, series_labels[0], (T0_MS + k * 1000) * MS,
		    40, &r, 1);
		push_spans(hn, 2, "t", p, series_labels[0],
		    (T0_MS + 5000 + k * 1000) * MS, 40, &r, 1, 6);
		push(hn, 2, "t", p, series_labels[1], (T0_MS + k * 1000) * MS,
		    40, &r, 1);
	}
	flush(f, old); /* block 1: no span rows at all */
	uint64_t     one[1] = { SPAN0 + 1 }, all[6];
	for (int k = 0; k < 6; k++)
		all[k] = SPAN0 + (uint64_t) k;
	hearth_head *empty = head_new();
	assert_int_equal(same_span_tree(f, empty, "t", "{}", all, 6, INT64_MIN,
			     INT64_MAX),
	    0);
	hearth_head_free(empty);
	flush(f, nw); /* block 2: series 0 with span rows, series 1 none */
	hearth_arena *a = hearth_arena_new(0);
	uint8_t	     *v;
	size_t	      vl;
	/* t\0<id 2>\0S<series u32><chunk u32> */
	uint8_t sk[] = { 't', 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 'S', 0, 0, 0, 0, 0,
		0, 0, 0 };
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_BLOCKS, sk, sizeof(sk),
			     a, &v, &vl, &f->err),
	    0);
	sk[15] = 1;
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_BLOCKS, sk, sizeof(sk),
			     a, &v, &vl, &f->err),
	    HEARTH_ENOTFOUND);
	sk[9]  = 1;
	sk[15] = 0;
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_BLOCKS, sk, sizeof(sk),
			     a, &v, &vl, &f->err),
	    HEARTH_ENOTFOUND);
	assert_true(same_span_tree(f, ref, "t", "{}", all, 6, INT64_MIN,
			INT64_MAX) > 0);
	same_span_tree(f, ref, "t", "{}", one, 1, T0_MS, T0_MS + 6500);
	/* Merge both (a later block closes their window). */
	hearth_head *later = head_new(), *hl[2] = { later, ref };
	push(hl, 2, "t", p, series_labels[2], (T0_MS + 3 * HOUR_MS) * MS, 10,
	    &r, 1);
	flush(f, later);
	hearth_head_free(later);
	assert_int_equal(hearth_blocks_compact_step(f->bs, &f->err), 1);
	size_t n[3];
	total_blocks(f, "t", n);
	assert_int_equal(n[1], 1);
	assert_true(same_span_tree(f, ref, "t", "{}", all, 6, INT64_MIN,
			INT64_MAX) > 0);
	same_span_tree(f, ref, "t", "{pod=\"pod-0\"}", one, 1, T0_MS,
	    T0_MS + 7000);
	same_answers(f, ref, "t", T0_MS, T0_MS + 10000, &r, 10);
	/* The merged block is 4: drop its span rows behind the set's back. */
	sk[9] = 4;
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_kv_batch_delete(b, HEARTH_KV_BLOCKS, sk, sizeof(sk));
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	hearth_selector	 *sel = sel_parse("{}");
	hearth_fgtree	 *t   = hearth_fgtree_new();
	hearth_head_spans sp  = { all, 6 };
	assert_int_equal(hearth_blocks_select_span_tree(f->bs, "t", sel, NULL,
			     &sp, INT64_MIN, INT64_MAX, a, t, &f->err),
	    HEARTH_ECORRUPT);
	assert_non_null(strstr(f->err.msg, "span rows missing"));
	/* ordinary queries do not read span rows */
	same_tree(f, ref, "t", "{}", INT64_MIN, INT64_MAX);
	hearth_fgtree_free(t);
	hearth_selector_free(sel);
	hearth_arena_free(a);
	hearth_head_free(old);
	hearth_head_free(nw);
	hearth_head_free(ref);
	pool_free(p);
}

static void
test_block_bytes_per_sample_fleet(void **state)
{
	fx		   *f = *state;
	pool		   *p = pool_new(600, 31);
	uint64_t	    r = 31;
	hearth_head	   *seg = head_new();
	hearth_blocks_stats st;
	int64_t		    start = DAY0_MS, seg_end;
	char		    labels[128];
	seg_end = start + 10 * MIN_MS;
	for (int64_t t = start; t < start + 130 * MIN_MS; t += 15000) {
		if (t >= seg_end) {
			flush(f, seg);
			hearth_head_free(seg);
			seg = head_new();
			seg_end += 10 * MIN_MS;
		}
		for (int pod = 0; pod < 20; pod++) {
			hearth_head *hs[1] = { seg };
			snprintf(labels, sizeof(labels),
			    "__name__=process_cpu,pod=pod-%d,"
			    "service_name=checkout",
			    pod);
			/* 15 s of one core at 100 Hz */
			push(hs, 1, "fleet", p, labels,
			    t * MS + (int64_t) (rnd(&r) % (1000 * MS)), 1500,
			    &r, 1);
		}
	}
	flush(f, seg);
	hearth_head_free(seg);
	hearth_blocks_stats_get(f->bs, "fleet", &st);
	double l0 = (double) st.bytes[0] / (double) st.samples;
	print_message("fleet level 0: %llu samples, %.3f bytes/sample, "
		      "%.1f samples/profile\n",
	    (unsigned long long) st.samples, l0,
	    (double) st.samples / (double) st.profiles);
	assert_true(l0 <= 2.0);
	assert_int_equal(hearth_blocks_compact_step(f->bs, &f->err), 1);
	hearth_blocks_stats_get(f->bs, "fleet", &st);
	assert_int_equal(st.blocks[1], 1); /* the 12 blocks of [0, 2 h) */
	double l1 = (double) st.bytes[1] / (double) st.level_samples[1];
	print_message("fleet level 1 (rollups included): %.3f bytes/sample\n",
	    l1);
	assert_true(l1 <= 2.0);
	pool_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_block_flush_matches_head,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_keys_layout, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_block_reopen_same_answers,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_abort_leaves_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_compaction_levels_and_rollups, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_rollups_serve_whole_buckets, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_retention_deletes_blocks_and_space, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_compaction_keeps_old_data_expirable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_queries_during_compaction, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_corrupt_value_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_pending_output_removed_at_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_block_header_cache_bounded,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_span_rows_flush_compact_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_span_rows_keys_and_old_blocks, setup, teardown),
		cmocka_unit_test(test_block_span_codec),
		cmocka_unit_test_setup_teardown(test_block_query_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_bytes_per_sample_fleet, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
