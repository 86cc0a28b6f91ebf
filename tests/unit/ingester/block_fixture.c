/* Shared fixture of the block unit tests (block_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "block_fixture.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- fixture ------------------------------------------------------------ */

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void) st;
	(void) flag;
	(void) f;
	return remove(p);
}

void
fx_open(fx *f)
{
	hearth_kv_opts o = { f->dir, 1 << 20, 1 << 20 };
	f->m             = hearth_metrics_new();
	assert_int_equal(hearth_kv_open(&o, &f->kv, &f->err), 0);
	assert_int_equal(
	    hearth_blocks_open(f->kv, &f->log, f->m, &f->bs, &f->err), 0);
}

void
fx_close(fx *f)
{
	hearth_blocks_free(f->bs);
	hearth_kv_close(f->kv);
	hearth_metrics_free(f->m);
	f->bs = NULL;
	f->kv = NULL;
	f->m  = NULL;
}

int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/hearth-block-test-XXXXXX"); /* mkdtemp template */
	assert_non_null(mkdtemp(f->dir));
	hearth_log_init(&f->log, "block_test", HEARTH_LOG_ERROR);
	fx_open(f);
	*state = f;
	return 0;
}

int
teardown(void **state)
{
	fx *f = *state;
	fx_close(f);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* ---- data: a pool of stacks and profiles drawn from it ------------------ */

uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

uint32_t
pool_str(pool *p, const char *s)
{
	for (size_t i = 0; i < p->n_strings; i++)
		if (strcmp(p->strings[i], s) == 0)
			return (uint32_t) i;
	assert_true(p->n_strings < 512);
	p->strings[p->n_strings] = strdup(s);
	return (uint32_t) p->n_strings++;
}

pool *
pool_new(size_t n_stacks, uint64_t seed)
{
	pool    *p = calloc(1, sizeof(*p));
	uint64_t r = seed;
	char     name[64];
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

void
pool_free(pool *p)
{
	for (size_t i = 0; i < p->n_strings; i++)
		free(p->strings[i]);
	free(p);
}

/* Push one profile of series `labels` ("k=v,k=v", sorted) at t_ns into
 * every head of hs[0..nh): `draws` samples of PERIOD_NS over the pool,
 * skewed towards low stack indexes (a few hot stacks, a long tail). With
 * n_spans > 0 about two stacks in three get span rows: a part of the
 * sample's value in span SPAN0 + (random % n_spans), sometimes a second
 * span too. */
void
push_spans(hearth_head **hs, size_t nh, const char *tenant, pool *p,
    const char *labels, int64_t t_ns, size_t draws, uint64_t *r, int with_id,
    unsigned n_spans)
{
	Hearth__Ingester__PushRequest req
	    = HEARTH__INGESTER__PUSH_REQUEST__INIT;
	Hearth__Ingester__ProfileBatch b
	    = HEARTH__INGESTER__PROFILE_BATCH__INIT;
	Hearth__Ingester__SeriesProfile sp
	    = HEARTH__INGESTER__SERIES_PROFILE__INIT;
	Hearth__Ingester__ProfileBatch  *bs[1]  = { &b };
	Hearth__Ingester__SeriesProfile *sps[1] = { &sp };
	Hearth__Ingester__Label          lab[8], *labp[8];
	char                             buf[256], *save = NULL;
	uint32_t                         stacks[1024];
	int64_t                          values[1024];
	uint8_t                          id[16];
	size_t                           n = 0;
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
	     kv       = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		*eq      = '\0';
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
	int64_t  svalues[2048];
	size_t   ns = 0;
	for (size_t i = 0; n_spans > 0 && i < n; i++) {
		if (rnd(r) % 3 == 0)
			continue;
		uint64_t cnt = (uint64_t) values[i] / PERIOD_NS;
		uint64_t k1 = rnd(r) % n_spans, part = 1 + rnd(r) % cnt;
		sstacks[ns]   = stacks[i];
		sids[ns]      = SPAN0 + k1;
		svalues[ns++] = (int64_t) part * PERIOD_NS;
		uint64_t k2   = rnd(r) % n_spans;
		if (part < cnt && k2 != k1) {
			sstacks[ns]   = stacks[i];
			sids[ns]      = SPAN0 + k2;
			svalues[ns++] = (int64_t) (cnt - part) * PERIOD_NS;
		}
	}
	sp.span_stacks   = sstacks;
	sp.span_ids      = sids;
	sp.span_values   = svalues;
	sp.n_span_stacks = sp.n_span_ids = sp.n_span_values = ns;
	if (with_id) {
		uint64_t a = rnd(r), c = rnd(r);
		memcpy(id, &a, 8);
		memcpy(id + 8, &c, 8);
		sp.id.data = id;
		sp.id.len  = 16;
	}
	b.strings         = p->strings;
	b.n_strings       = p->n_strings;
	b.frames          = p->frames;
	b.n_frames        = p->n_frames;
	b.stack_lengths   = p->lens;
	b.n_stack_lengths = p->n_stacks;
	b.profiles        = sps;
	b.n_profiles      = 1;
	req.batches       = bs;
	req.n_batches     = 1;
	for (size_t i = 0; i < nh; i++) {
		hearth_err err;
		if (hs[i] == NULL)
			continue;
		int rc
		    = hearth_head_push(hs[i], tenant, &req, NULL, NULL, &err);
		if (rc != 0)
			fail_msg("push: %s", err.msg);
	}
}

void
push(hearth_head **hs, size_t nh, const char *tenant, pool *p,
    const char *labels, int64_t t_ns, size_t draws, uint64_t *r, int with_id)
{
	push_spans(hs, nh, tenant, p, labels, t_ns, draws, r, with_id, 0);
}

/* Write head h as blocks, as the store's flush does. */
void
flush(fx *f, hearth_head *h)
{
	hearth_kv_batch *b = hearth_kv_batch_new();
	assert_int_equal(hearth_blocks_prepare(f->bs, h, b, &f->err), 0);
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_blocks_commit(f->bs);
	hearth_kv_batch_free(b);
}

hearth_head *
head_new(void)
{
	hearth_head *h;
	hearth_err   err;
	assert_int_equal(hearth_head_new(&h, &err), 0);
	return h;
}

const char *const series_labels[] = {
	"__name__=process_cpu,pod=pod-0,service_name=checkout",
	"__name__=process_cpu,pod=pod-1,service_name=checkout",
	"__name__=process_cpu,pod=pod-2,region=eu,service_name=checkout",
	"__name__=process_cpu,pod=pod-0,service_name=cart",
	"__name__=memory,pod=pod-0,service_name=cart",
};

const char *const selectors[] = {
	"{}",
	"{service_name=\"checkout\"}",
	"{pod=~\"pod-[01]\",__name__=\"process_cpu\"}",
	"{region=\"\"}",
	"{region!=\"\"}",
	"{pod!=\"pod-0\"}",
	"{service_name=~\"c.*\",region!~\"e.\"}",
	"{service_name=\"nope\"}",
};

/* ---- comparing answers -------------------------------------------------- */

static int
cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* "root;a;b self" per node with self != 0, sorted, one per line: a tree's
 * content independent of node order. Caller frees. */
char *
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
			size_t      len;
			hearth_fgtree_node(t, chain[d], NULL, &nm, &len, NULL);
			o += (size_t) snprintf(
			    line + o, 8192 - o, "%.*s;", (int) len, nm);
		}
		snprintf(line + o, 8192 - o, " %lld", (long long) self);
		lines[k++] = line;
		total += strlen(line) + 1;
	}
	qsort(lines, k, sizeof(*lines), cmp_line);
	char *out = malloc(total);
	out[0]    = '\0';
	for (size_t i = 0; i < k; i++) {
		strcat(out, lines[i]);
		strcat(out, "\n");
		free(lines[i]);
	}
	free(lines);
	return out;
}

hearth_selector *
sel_parse(const char *s)
{
	hearth_selector *sel;
	hearth_err       err;
	if (hearth_selector_parse(s, strlen(s), &sel, &err) != 0)
		fail_msg("%s: %s", s, err.msg);
	return sel;
}

/* Tree of the blocks and of head ref over [s, e] must be equal; with sp,
 * the span trees of its span ids. Returns the blocks' total. */
int64_t
same_tree_of(fx *f, hearth_head *ref, const char *tenant, const char *selstr,
    const hearth_head_spans *sp, int64_t s, int64_t e)
{
	hearth_selector *sel = sel_parse(selstr);
	hearth_arena    *a   = hearth_arena_new(0);
	hearth_fgtree   *th = hearth_fgtree_new(), *tb = hearth_fgtree_new();
	const char      *what = sp != NULL ? "span tree" : "tree";
	hearth_err       err;
	int              rc;
	rc = sp != NULL ? hearth_head_select_span_tree(
	         ref, tenant, sel, NULL, sp, s, e, a, th, &err)
	                : hearth_head_select_tree(
	                    ref, tenant, sel, NULL, s, e, a, th, &err);
	assert_int_equal(rc, 0);
	rc = sp != NULL ? hearth_blocks_select_span_tree(
	         f->bs, tenant, sel, NULL, sp, s, e, a, tb, &err)
	                : hearth_blocks_select_tree(
	                    f->bs, tenant, sel, NULL, s, e, a, tb, &err);
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

int64_t
same_tree(fx *f, hearth_head *ref, const char *tenant, const char *selstr,
    int64_t s, int64_t e)
{
	return same_tree_of(f, ref, tenant, selstr, NULL, s, e);
}

void
same_series(fx *f, hearth_head *ref, const char *tenant, const char *selstr,
    int64_t s, int64_t e, int64_t step, const char *const *by, size_t nby)
{
	hearth_selector    *sel = sel_parse(selstr);
	hearth_arena       *a   = hearth_arena_new(0);
	hearth_head_series *x = NULL, *y = NULL;
	size_t              nx = 0, ny = 0;
	hearth_err          err;
	assert_int_equal(hearth_head_select_series(ref, tenant, sel, NULL, s,
	                     e, step, by, nby, a, &x, &nx, &err),
	    0);
	if (hearth_blocks_select_series(f->bs, tenant, sel, NULL, s, e, step,
	        by, nby, a, &y, &ny, &err)
	    != 0)
		fail_msg("blocks series: %s", err.msg);
	assert_int_equal(nx, ny);
	for (size_t i = 0; i < nx; i++) {
		assert_int_equal(x[i].n_labels, y[i].n_labels);
		for (size_t j = 0; j < x[i].n_labels; j++) {
			assert_string_equal(
			    x[i].labels[j].name, y[i].labels[j].name);
			assert_string_equal(
			    x[i].labels[j].value, y[i].labels[j].value);
		}
		assert_int_equal(x[i].n_points, y[i].n_points);
		for (size_t j = 0; j < x[i].n_points; j++) {
			assert_int_equal(x[i].points[j].timestamp_ms,
			    y[i].points[j].timestamp_ms);
			assert_int_equal(
			    x[i].points[j].value, y[i].points[j].value);
			assert_int_equal(
			    x[i].points[j].count, y[i].points[j].count);
		}
	}
	hearth_arena_free(a);
	hearth_selector_free(sel);
}

void
same_labels(fx *f, hearth_head *ref, const char *tenant, const char *selstr,
    int64_t s, int64_t e, const char *name)
{
	hearth_selector *sel = sel_parse(selstr);
	hearth_arena    *a   = hearth_arena_new(0);
	const char     **x = NULL, **y = NULL;
	size_t           nx = 0, ny = 0;
	hearth_err       err;
	assert_int_equal(
	    hearth_head_labels(ref, tenant, sel, s, e, name, a, &x, &nx, &err),
	    0);
	assert_int_equal(hearth_blocks_labels(
	                     f->bs, tenant, sel, s, e, name, a, &y, &ny, &err),
	    0);
	assert_int_equal(nx, ny);
	for (size_t i = 0; i < nx; i++)
		assert_string_equal(x[i], y[i]);
	hearth_arena_free(a);
	hearth_selector_free(sel);
}

/* The i-th random query range [*s, *e] around [lo_ms, hi_ms] (an hour
 * either side). Ranges on bucket edges are the interesting ones: with
 * i % 4 == 1 it starts on a minute, with i % 4 == 2 it ends just before
 * an hour. */
void
rnd_range(
    uint64_t *r, int64_t lo_ms, int64_t hi_ms, int i, int64_t *s, int64_t *e)
{
	int64_t span = hi_ms - lo_ms + 2 * HOUR_MS;
	*s           = lo_ms - HOUR_MS + (int64_t) (rnd(r) % (uint64_t) span);
	*e           = *s + (int64_t) (rnd(r) % (uint64_t) (span / 2));
	if (i % 4 == 1)
		*s -= *s % MIN_MS;
	if (i % 4 == 2)
		*e -= *e % HOUR_MS + 1;
	if (*e < *s)
		*e = *s;
}

void
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
int64_t
same_span_tree(fx *f, hearth_head *ref, const char *tenant, const char *selstr,
    const uint64_t *ids, size_t n, int64_t s, int64_t e)
{
	hearth_head_spans sp = { ids, n };
	return same_tree_of(f, ref, tenant, selstr, &sp, s, e);
}

/* Span trees for one span, several, every one and an unknown one, over
 * the selectors and random ranges; the whole range of "{}" must find
 * something for the single span (so the checks are not vacuous). */
void
same_span_answers(fx *f, hearth_head *ref, const char *tenant,
    unsigned n_spans, int64_t lo_ms, int64_t hi_ms, uint64_t *r, int n_random)
{
	uint64_t one[1]  = { SPAN0 + 1 },
	         some[3] = { SPAN0, SPAN0 + 2, SPAN0 + n_spans - 1 }, all[64],
	         none[1] = { SPAN0 + 4096 };
	assert_true(n_spans <= 64 && n_spans > 3);
	for (unsigned k = 0; k < n_spans; k++)
		all[k] = SPAN0 + k;
	int64_t t1 = same_span_tree(
	    f, ref, tenant, "{}", one, 1, INT64_MIN, INT64_MAX);
	int64_t tall = same_span_tree(
	    f, ref, tenant, "{}", all, n_spans, INT64_MIN, INT64_MAX);
	assert_true(t1 > 0 && tall > t1);
	assert_int_equal(same_span_tree(f, ref, tenant, "{}", none, 1,
	                     INT64_MIN, INT64_MAX),
	    0);
	for (size_t i = 0; i < N_SELECTORS; i++) {
		same_span_tree(
		    f, ref, tenant, selectors[i], some, 3, lo_ms, hi_ms);
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
void
fill_spans(fx *f, hearth_head *ref, pool *p, const char *tenant,
    int64_t start_ms, int minutes, int step_s, int seg_min, uint64_t *r,
    unsigned n_spans)
{
	hearth_head *seg     = head_new();
	int64_t      seg_end = start_ms + seg_min * MIN_MS;
	for (int64_t t = start_ms; t < start_ms + minutes * MIN_MS;
	     t += step_s * 1000) {
		if (t >= seg_end) {
			flush(f, seg);
			hearth_head_free(seg);
			seg = head_new();
			seg_end += seg_min * MIN_MS;
		}
		for (size_t i = 0; i < N_SERIES; i++) {
			hearth_head *hs[2]
			    = { seg, ref }; /* ref may be NULL */
			/* ns jitter: the ms truncation must agree too */
			int64_t t_ns = t * MS + (int64_t) (rnd(r) % (2 * MS));
			push_spans(hs, 2, tenant, p, series_labels[i], t_ns,
			    10 + rnd(r) % 60, r, 1, i % 2 == 0 ? n_spans : 0);
		}
	}
	flush(f, seg);
	hearth_head_free(seg);
}

void
fill(fx *f, hearth_head *ref, pool *p, const char *tenant, int64_t start_ms,
    int minutes, int step_s, int seg_min, uint64_t *r)
{
	fill_spans(
	    f, ref, p, tenant, start_ms, minutes, step_s, seg_min, r, 0);
}

void
total_blocks(fx *f, const char *tenant, size_t *n)
{
	hearth_blocks_stats st;
	hearth_blocks_stats_get(f->bs, tenant, &st);
	n[0] = st.blocks[0];
	n[1] = st.blocks[1];
	n[2] = st.blocks[2];
}
