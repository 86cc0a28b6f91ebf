#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* block_impl.h: the old-block fallback test rewrites a stored header. */
#include "block_impl.h"
#include "dedup.h"
#include "head.h"
#include "kv.h"
#include "store.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MS	1000000LL /* ns per ms */
#define MIN_MS	60000LL
#define HOUR_MS 3600000LL
#define DAY_MS	(24 * HOUR_MS)
#define T0_MS	(1700000000000LL - 1700000000000LL % DAY_MS) /* a UTC day */
#define N_SERIES 3
#define MAX_PROFS 512

/* ---- data --------------------------------------------------------------- */

static const char *const series_names[N_SERIES]	 = { "cpu", "cpu", "mem" };
static const char *const series_svc[N_SERIES]	 = { "api", "db", "api" };

typedef struct prof {
	int	 series;
	int64_t	 t_ns;
	uint8_t	 id[16];
	uint64_t seed;	/* sample values */
	int	 where; /* select test: 1 = A, 2 = B, 3 = both */
} prof;

typedef struct data {
	prof   p[MAX_PROFS];
	size_t n;
} data;

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Every 5 minutes from T0 + 2 min to T0 + 5 h, each series a little
 * shifted (not on minute bounds), in time order; random ids. */
static void
data_make(data *d, uint64_t seed)
{
	uint64_t r = seed;
	d->n	   = 0;
	for (int64_t t = T0_MS + 2 * MIN_MS; t < T0_MS + 5 * HOUR_MS;
	     t += 5 * MIN_MS)
		for (int s = 0; s < N_SERIES; s++) {
			prof *p	  = &d->p[d->n++];
			uint64_t a = rnd(&r), b = rnd(&r);
			p->series = s;
			p->t_ns	  = (t + s * 17123) * MS + 456789;
			memcpy(p->id, &a, 8);
			memcpy(p->id + 8, &b, 8);
			p->seed	 = rnd(&r);
			p->where = 1 + (int) (rnd(&r) % 3);
			if (s == 0)
				p->where |= 1; /* series 0: A has it all */
		}
}

static void
series_labels(int s, hearth_label *ls)
{
	ls[0] = (hearth_label) { "__name__", series_names[s] };
	ls[1] = (hearth_label) { "service_name", series_svc[s] };
}

static uint64_t
series_fp(const char *tenant, int s)
{
	hearth_label ls[2];
	series_labels(s, ls);
	return hearth_labels_fingerprint(tenant, ls, 2);
}

static int64_t
window_of_ns(int64_t t_ns)
{
	return (t_ns / MS) / HOUR_MS * HOUR_MS; /* positive times */
}

/* The push of one profile: stacks main;a main;b main;b;c main;d with
 * values from the profile's seed. raw (may be NULL) gets its encoding. */
static void
push_req(const char *tenant, const prof *p, hearth_head *h, hearth_store *st,
    hearth_arena *a)
{
	static char	       *strings[] = { "", "main", "a", "b", "c", "d" };
	static uint32_t		frames[]  = { 1, 2, 1, 3, 1, 3, 4, 1, 5 };
	static uint32_t		lens[]	  = { 2, 2, 3, 2 };
	uint32_t		stacks[4];
	int64_t			values[4];
	size_t			n = 0;
	Hearth__Ingester__Label l1 = HEARTH__INGESTER__LABEL__INIT;
	Hearth__Ingester__Label l2 = HEARTH__INGESTER__LABEL__INIT;
	for (uint32_t k = 0; k < 4; k++) {
		int64_t v = (int64_t) ((p->seed >> (8 * k)) & 7) * 10;
		if (v > 0)
			stacks[n] = k, values[n++] = v;
	}
	l1.name				= "__name__";
	l1.value			= (char *) series_names[p->series];
	l2.name				= "service_name";
	l2.value			= (char *) series_svc[p->series];
	Hearth__Ingester__Label	       *ls[] = { &l1, &l2 };
	Hearth__Ingester__SeriesProfile sp =
	    HEARTH__INGESTER__SERIES_PROFILE__INIT;
	sp.id.data			      = (uint8_t *) p->id;
	sp.id.len			      = 16;
	sp.labels			      = ls;
	sp.n_labels			      = 2;
	sp.time_nanos			      = p->t_ns;
	sp.stacks			      = stacks;
	sp.n_stacks			      = n;
	sp.values			      = values;
	sp.n_values			      = n;
	/* Span rows: each sample in one of spans 1..4 (span queries). */
	uint64_t span_ids[4];
	for (size_t k = 0; k < n; k++)
		span_ids[k] = 1 + ((p->seed >> (32 + 2 * k)) & 3);
	sp.span_stacks = stacks;
	sp.span_ids    = span_ids;
	sp.span_values = values;
	sp.n_span_stacks = sp.n_span_ids = sp.n_span_values = n;
	Hearth__Ingester__SeriesProfile *sps[] = { &sp };
	Hearth__Ingester__ProfileBatch	 b = HEARTH__INGESTER__PROFILE_BATCH__INIT;
	b.strings			     = strings;
	b.n_strings			     = 6;
	b.frames			     = frames;
	b.n_frames			     = 9;
	b.stack_lengths			     = lens;
	b.n_stack_lengths		     = 4;
	b.profiles			     = sps;
	b.n_profiles			     = 1;
	Hearth__Ingester__ProfileBatch *bs[] = { &b };
	Hearth__Ingester__PushRequest	req = HEARTH__INGESTER__PUSH_REQUEST__INIT;
	req.batches			     = bs;
	req.n_batches			     = 1;
	hearth_err err;
	int	   rc;
	if (h != NULL)
		rc = hearth_head_push(h, tenant, &req, NULL, NULL, &err);
	else {
		size_t	 len = hearth__ingester__push_request__get_packed_size(&req);
		uint8_t *raw = hearth_arena_alloc(a, len + 1);
		hearth__ingester__push_request__pack(&req, raw);
		rc = hearth_store_push(st, tenant, &req, raw, len, a, NULL, NULL,
		    &err);
	}
	if (rc != 0)
		fail_msg("push: %s", err.msg);
}

/* ---- a replica: blocks in a kv plus a current head ---------------------- */

typedef struct replica {
	char		dir[64];
	hearth_kv      *kv;
	hearth_blocks  *bs;
	hearth_head    *head;
	hearth_log	log;
	hearth_arena   *a;
	hearth_err	err;
} replica;

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void) st;
	(void) flag;
	(void) f;
	return remove(p);
}

static void
rep_open(replica *r)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->dir, "/tmp/hearth-dedup-test-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	hearth_log_init(&r->log, "dedup_test", HEARTH_LOG_ERROR);
	hearth_kv_opts o = { r->dir, 1 << 20, 1 << 20 };
	assert_int_equal(hearth_kv_open(&o, &r->kv, &r->err), 0);
	assert_int_equal(hearth_blocks_open(r->kv, &r->log, NULL, &r->bs,
			     &r->err),
	    0);
	assert_int_equal(hearth_head_new(&r->head, &r->err), 0);
	r->a = hearth_arena_new(0);
}

static void
rep_close(replica *r)
{
	hearth_head_free(r->head);
	hearth_blocks_free(r->bs);
	hearth_kv_close(r->kv);
	hearth_arena_free(r->a);
	nftw(r->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Cut: the head becomes level-0 blocks, a new head starts. */
static void
rep_cut(replica *r)
{
	hearth_kv_batch *b = hearth_kv_batch_new();
	assert_int_equal(hearth_blocks_prepare(r->bs, r->head, b, &r->err), 0);
	assert_int_equal(hearth_kv_write(r->kv, b, 1, &r->err), 0);
	hearth_blocks_commit(r->bs);
	hearth_kv_batch_free(b);
	hearth_head_free(r->head);
	assert_int_equal(hearth_head_new(&r->head, &r->err), 0);
}

static void
rep_compact(replica *r)
{
	int rc, n = 0;
	while ((rc = hearth_blocks_compact_step(r->bs, &r->err)) == 1)
		n++;
	if (rc != 0)
		fail_msg("compact: %s", r->err.msg);
	assert_true(n > 0);
}

/* Push the profiles of d that `where` selects (0: all), cutting every
 * cut_every profiles (0: never). */
static void
rep_fill(replica *r, const data *d, int where, size_t cut_every)
{
	size_t k = 0;
	for (size_t i = 0; i < d->n; i++) {
		if (where != 0 && (d->p[i].where & where) == 0)
			continue;
		push_req("t", &d->p[i], r->head, NULL, NULL);
		if (cut_every > 0 && ++k % cut_every == 0)
			rep_cut(r);
	}
}

static hearth_selector *
sel_parse(const char *s)
{
	hearth_selector *sel;
	hearth_err	 err;
	if (s == NULL || s[0] == '\0')
		return hearth_selector_new();
	if (hearth_selector_parse(s, strlen(s), &sel, &err) != 0)
		fail_msg("%s: %s", s, err.msg);
	return sel;
}

/* PLAN of the replica, packed (for byte comparisons) and decoded. */
static size_t
rep_plan(replica *r, const char *selstr, int64_t s, int64_t e, uint8_t **buf,
    Hearth__Ingester__PlanResponse *out)
{
	hearth_dedup_plan acc = { NULL, 0, 0 };
	hearth_selector	 *sel = sel_parse(selstr);
	hearth__ingester__plan_response__init(out);
	if (hearth_head_plan(r->head, "t", sel, s, e, r->a, &acc, &r->err) !=
		0 ||
	    hearth_blocks_plan(r->bs, "t", sel, s, e, &acc, &r->err) != 0 ||
	    hearth_dedup_plan_finish(&acc, r->a, out, &r->err) != 0)
		fail_msg("plan: %s", r->err.msg);
	hearth_dedup_plan_fini(&acc);
	hearth_selector_free(sel);
	size_t n = hearth__ingester__plan_response__get_packed_size(out);
	*buf	 = malloc(n + 1);
	hearth__ingester__plan_response__pack(out, *buf);
	return n;
}

static void
assert_same_plan(replica *x, replica *y, const char *sel, int64_t s,
    int64_t e)
{
	Hearth__Ingester__PlanResponse px, py;
	uint8_t			      *bx, *by;
	size_t			       nx = rep_plan(x, sel, s, e, &bx, &px);
	size_t			       ny = rep_plan(y, sel, s, e, &by, &py);
	assert_true(px.n_series > 0);
	assert_int_equal(nx, ny);
	assert_memory_equal(bx, by, nx);
	free(bx);
	free(by);
}

/* ---- tree and series answers as text ------------------------------------ */

static int
cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static char *
tree_folded(const hearth_fgtree *t)
{
	size_t n = hearth_fgtree_size(t), k = 0, total = 1;
	char **lines = calloc(n + 1, sizeof(*lines));
	for (uint32_t i = 0; i < n; i++) {
		int64_t self;
		hearth_fgtree_node(t, i, NULL, NULL, NULL, &self);
		if (self == 0)
			continue;
		uint32_t chain[64], d = 0;
		for (uint32_t c = i; c != HEARTH_FGTREE_NO_PARENT;) {
			chain[d++] = c;
			hearth_fgtree_node(t, c, &c, NULL, NULL, NULL);
		}
		char  *line = malloc(1024);
		size_t o    = 0;
		while (d-- > 0) {
			const char *nm;
			size_t	    len;
			hearth_fgtree_node(t, chain[d], NULL, &nm, &len, NULL);
			o += (size_t) snprintf(line + o, 1024 - o, "%.*s;",
			    (int) len, nm);
		}
		snprintf(line + o, 1024 - o, " %lld", (long long) self);
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

/* Add the replica's tree (head and blocks) under filter f into t. */
static void
rep_tree(replica *r, const hearth_dedup *f, int64_t s, int64_t e,
    hearth_fgtree *t)
{
	hearth_selector *sel = sel_parse("");
	if (hearth_head_select_tree(r->head, "t", sel, f, s, e, r->a, t,
		&r->err) != 0 ||
	    hearth_blocks_select_tree(r->bs, "t", sel, f, s, e, r->a, t,
		&r->err) != 0)
		fail_msg("tree: %s", r->err.msg);
	hearth_selector_free(sel);
}

/* The same over the span rows of spans 1 and 3. */
static void
rep_span_tree(replica *r, const hearth_dedup *f, int64_t s, int64_t e,
    hearth_fgtree *t)
{
	static const uint64_t ids[] = { 1, 3 };
	hearth_head_spans     sp    = { ids, 2 };
	hearth_selector	     *sel   = sel_parse("");
	if (hearth_head_select_span_tree(r->head, "t", sel, f, &sp, s, e, r->a,
		t, &r->err) != 0 ||
	    hearth_blocks_select_span_tree(r->bs, "t", sel, f, &sp, s, e,
		r->a, t, &r->err) != 0)
		fail_msg("span tree: %s", r->err.msg);
	hearth_selector_free(sel);
}

static void
rep_series(replica *r, const hearth_dedup *f, int64_t s, int64_t e,
    hearth_head_series **out, size_t *n)
{
	static const char *const by[] = { "service_name" };
	hearth_selector		*sel  = sel_parse("");
	hearth_head_series	*more;
	size_t			 n_more;
	if (hearth_head_select_series(r->head, "t", sel, f, s, e, 10 * MIN_MS,
		by, 1, r->a, &more, &n_more, &r->err) != 0 ||
	    hearth_head_series_merge(out, n, more, n_more, r->a) != 0 ||
	    hearth_blocks_select_series(r->bs, "t", sel, f, s, e, 10 * MIN_MS,
		by, 1, r->a, out, n, &r->err) != 0)
		fail_msg("series: %s", r->err.msg);
	hearth_selector_free(sel);
}

static char *
series_text(const hearth_head_series *ss, size_t n)
{
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += 64 + ss[i].n_points * 64;
	char  *out = malloc(total);
	size_t o   = 0;
	out[0]	   = '\0';
	for (size_t i = 0; i < n; i++) {
		o += (size_t) snprintf(out + o, total - o, "%s:",
		    ss[i].n_labels > 0 ? ss[i].labels[0].value : "");
		for (size_t j = 0; j < ss[i].n_points; j++)
			o += (size_t) snprintf(out + o, total - o,
			    " %lld=%lld/%lld",
			    (long long) ss[i].points[j].timestamp_ms,
			    (long long) ss[i].points[j].value,
			    (long long) ss[i].points[j].count);
		o += (size_t) snprintf(out + o, total - o, "\n");
	}
	return out;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_dedup_filter_semantics(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	hearth_err    err;
	uint8_t	      id1[16] = { 1 }, id2[16] = { 2 }, id3[16] = { 3 };
	ProtobufCBinaryData pids[] = { { 16, id2 }, { 16, id1 }, { 16, id1 } };
	int64_t	       whole[]	   = { 2 * HOUR_MS, 0 };
	Hearth__Ingester__WindowIds wi = HEARTH__INGESTER__WINDOW_IDS__INIT;
	wi.window_start_ms	       = HOUR_MS;
	wi.ids			       = pids;
	wi.n_ids		       = 3;
	Hearth__Ingester__WindowIds *wis[] = { &wi };
	Hearth__Ingester__SeriesAssign s1 = HEARTH__INGESTER__SERIES_ASSIGN__INIT;
	Hearth__Ingester__SeriesAssign s2 = HEARTH__INGESTER__SERIES_ASSIGN__INIT;
	s1.fp				  = 42;
	s1.windows			  = whole;
	s1.n_windows			  = 2;
	s1.partial			  = wis;
	s1.n_partial			  = 1;
	s2.fp				  = 7;
	s2.all				  = 1;
	Hearth__Ingester__SeriesAssign *as[] = { &s1, &s2 };
	hearth_dedup		       *d;
	assert_int_equal(hearth_dedup_new(as, 2, a, &d, &err), 0);
	assert_int_equal(hearth_dedup_count(d), 2);
	assert_null(hearth_dedup_find(d, 8));
	const hearth_dedup_series *x = hearth_dedup_find(d, 42);
	const hearth_dedup_series *y = hearth_dedup_find(d, 7);
	assert_non_null(x);
	assert_true(hearth_dedup_all(y));
	assert_int_equal(hearth_dedup_window(y, 99 * HOUR_MS),
	    HEARTH_DEDUP_WHOLE);
	assert_int_equal(hearth_dedup_window(x, 0), HEARTH_DEDUP_WHOLE);
	assert_int_equal(hearth_dedup_window(x, HOUR_MS), HEARTH_DEDUP_PARTIAL);
	assert_int_equal(hearth_dedup_window(x, 3 * HOUR_MS), HEARTH_DEDUP_NONE);
	assert_true(hearth_dedup_keep(x, 2 * HOUR_MS + 5, NULL));
	assert_true(hearth_dedup_keep(x, HOUR_MS + 1, id1));
	assert_true(hearth_dedup_keep(x, 2 * HOUR_MS - 1, id2));
	assert_false(hearth_dedup_keep(x, HOUR_MS, id3));
	assert_false(hearth_dedup_keep(x, HOUR_MS, NULL));
	assert_false(hearth_dedup_keep(x, 3 * HOUR_MS, id1));
	assert_false(hearth_dedup_keep(x, -1, id1)); /* window -1 h */
	int64_t lo, hi;
	assert_int_equal(hearth_dedup_bounds(d, &lo, &hi), 1);
	assert_int_equal(lo, 0);
	assert_int_equal(hi, 2 * HOUR_MS);
	const int64_t *ps;
	assert_int_equal(hearth_dedup_partials(x, &ps), 1);
	assert_int_equal(ps[0], HOUR_MS);

	/* A window listed whole and partial is whole, and not partial. */
	whole[1] = HOUR_MS;
	assert_int_equal(hearth_dedup_new(as, 2, a, &d, &err), 0);
	x = hearth_dedup_find(d, 42);
	assert_int_equal(hearth_dedup_window(x, HOUR_MS), HEARTH_DEDUP_WHOLE);
	assert_int_equal(hearth_dedup_partials(x, &ps), 0);
	assert_true(hearth_dedup_keep(x, HOUR_MS, id3));

	/* Errors name the entry. */
	s2.fp = 42;
	assert_int_equal(hearth_dedup_new(as, 2, a, &d, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "assign 1: series 000000000000002a is listed twice");
	s2.fp	 = 7;
	whole[1] = 5;
	assert_int_equal(hearth_dedup_new(as, 2, a, &d, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "assign 0: window start 5 is not a multiple of 3600000 ms");
	whole[1]    = 0;
	pids[1].len = 15;
	assert_int_equal(hearth_dedup_new(as, 2, a, &d, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "assign 0: id 1 is 15 bytes, want 16");

	/* Windows and spans, negative times included. */
	assert_int_equal(hearth_dedup_window_of(-1), -HOUR_MS);
	assert_int_equal(hearth_dedup_window_of(HOUR_MS), HOUR_MS);
	hearth_dedup_span(HOUR_MS + 5, 3 * HOUR_MS, &lo, &hi);
	assert_int_equal(lo, HOUR_MS);
	assert_int_equal(hi, 4 * HOUR_MS - 1);
	hearth_dedup_span(INT64_MIN, INT64_MAX, &lo, &hi);
	assert_true(lo == INT64_MIN && hi == INT64_MAX);
	hearth_arena_free(a);
}

/* The same profiles in replicas with different cuts (and compaction)
 * give byte-identical plans, with the expected counts and digests. */
static void
test_dedup_plan_same_whatever_the_cuts(void **state)
{
	(void) state;
	static data d;
	replica	    r1, r2, r3;
	data_make(&d, 0x1234567);
	rep_open(&r1);
	rep_open(&r2);
	rep_open(&r3);
	rep_fill(&r1, &d, 0, 40);
	rep_compact(&r1); /* level-1 blocks with rollups */
	rep_fill(&r2, &d, 0, 0);
	rep_fill(&r3, &d, 0, 25);

	int64_t ranges[][2] = {
		{ T0_MS, T0_MS + 6 * HOUR_MS },
		{ T0_MS + 37 * MIN_MS + 500, T0_MS + 4 * HOUR_MS + 13 * MIN_MS },
		{ T0_MS + 65 * MIN_MS, T0_MS + 110 * MIN_MS },
		/* one millisecond: one profile of series 0 */
		{ T0_MS + 3 * HOUR_MS + 2 * MIN_MS,
		    T0_MS + 3 * HOUR_MS + 2 * MIN_MS },
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		assert_same_plan(&r1, &r2, "", ranges[i][0], ranges[i][1]);
		assert_same_plan(&r3, &r2, "", ranges[i][0], ranges[i][1]);
		assert_same_plan(&r1, &r3, "{__name__=\"cpu\"}",
		    ranges[i][0], ranges[i][1]);
	}

	/* Expected values over everything: per series and window. */
	Hearth__Ingester__PlanResponse p;
	uint8_t			      *buf;
	rep_plan(&r1, "", T0_MS, T0_MS + 6 * HOUR_MS, &buf, &p);
	free(buf);
	assert_int_equal(p.window_ms, HOUR_MS);
	assert_int_equal(p.n_series, N_SERIES);
	for (int s = 0; s < N_SERIES; s++) {
		const Hearth__Ingester__PlanSeries *ps = NULL;
		for (size_t i = 0; i < p.n_series; i++)
			if (p.series[i]->fp == series_fp("t", s))
				ps = p.series[i];
		assert_non_null(ps);
		assert_int_equal(ps->n_window_start_ms, 5);
		for (size_t w = 0; w < 5; w++) {
			uint64_t count = 0, digest = 0;
			int64_t	 ws    = T0_MS + (int64_t) w * HOUR_MS;
			for (size_t i = 0; i < d.n; i++)
				if (d.p[i].series == s &&
				    window_of_ns(d.p[i].t_ns) == ws) {
					count++;
					digest += XXH3_64bits(d.p[i].id, 16);
				}
			assert_int_equal(ps->window_start_ms[w], ws);
			assert_int_equal(ps->count[w], count);
			assert_int_equal(ps->digest[w], digest);
			assert_int_equal(count, 12);
		}
	}
	rep_close(&r1);
	rep_close(&r2);
	rep_close(&r3);
}

/* A range touching a window reports the whole window; a series with no
 * profile in the range is left out even when a window it has is
 * touched. */
static void
test_dedup_plan_reports_whole_windows(void **state)
{
	(void) state;
	static data d;
	replica	    r;
	data_make(&d, 99);
	d.n = 36; /* the first hour: 12 profiles a series */
	/* Series 2 only at 00:02 (+17 s); the others every 5 minutes. */
	size_t k = 0;
	for (size_t i = 0; i < d.n; i++)
		if (d.p[i].series != 2 || i < 3)
			d.p[k++] = d.p[i];
	d.n = k;
	rep_open(&r);
	rep_fill(&r, &d, 0, 10);

	Hearth__Ingester__PlanResponse p;
	uint8_t			      *buf;
	/* 00:50 .. 00:55: two profiles of series 0 and 1 in range. */
	rep_plan(&r, "", T0_MS + 50 * MIN_MS, T0_MS + 55 * MIN_MS, &buf, &p);
	free(buf);
	assert_int_equal(p.n_series, 2);
	for (size_t i = 0; i < p.n_series; i++) {
		assert_true(p.series[i]->fp != series_fp("t", 2));
		assert_int_equal(p.series[i]->n_count, 1);
		assert_int_equal(p.series[i]->window_start_ms[0], T0_MS);
		assert_int_equal(p.series[i]->count[0], 12);
	}
	/* 00:00 .. 00:10: all three; series 2 has its single profile. */
	rep_plan(&r, "", T0_MS, T0_MS + 10 * MIN_MS, &buf, &p);
	free(buf);
	assert_int_equal(p.n_series, 3);
	for (size_t i = 0; i < p.n_series; i++)
		assert_int_equal(p.series[i]->count[0],
		    p.series[i]->fp == series_fp("t", 2) ? 1 : 12);
	/* Nothing in range: nothing reported. */
	rep_plan(&r, "", T0_MS + 2 * HOUR_MS, T0_MS + 3 * HOUR_MS, &buf, &p);
	free(buf);
	assert_int_equal(p.n_series, 0);
	assert_int_equal(hearth_head_plan(r.head, "t", NULL, 5, 4, r.a,
			     &(hearth_dedup_plan) { NULL, 0, 0 }, &r.err),
	    HEARTH_EINVAL);
	rep_close(&r);
}

static int
cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* IDS gives the sorted unique ids of whole windows, head and blocks
 * (samples of compacted blocks too). */
static void
test_dedup_ids(void **state)
{
	(void) state;
	static data d;
	replica	    r1, r2;
	data_make(&d, 77);
	rep_open(&r1);
	rep_open(&r2);
	rep_fill(&r1, &d, 0, 40);
	rep_compact(&r1);
	rep_fill(&r2, &d, 0, 0);
	/* Pushed twice (a retried push landing in another head): one id. */
	push_req("t", &d.p[1], r1.head, NULL, NULL);

	Hearth__Ingester__WindowIds w1 = HEARTH__INGESTER__WINDOW_IDS__INIT;
	Hearth__Ingester__WindowIds w2 = HEARTH__INGESTER__WINDOW_IDS__INIT;
	Hearth__Ingester__WindowIds w3 = HEARTH__INGESTER__WINDOW_IDS__INIT;
	w1.fp			       = series_fp("t", 1);
	w1.window_start_ms	       = T0_MS;
	w2.fp			       = series_fp("t", 1);
	w2.window_start_ms	       = T0_MS + 3 * HOUR_MS;
	w3.fp			       = 12345; /* unknown series */
	w3.window_start_ms	       = T0_MS;
	Hearth__Ingester__WindowIds *ws[] = { &w1, &w2, &w3 };
	uint8_t			     want[2][12][16];
	for (int w = 0; w < 2; w++) {
		size_t	k  = 0;
		int64_t wa = w == 0 ? T0_MS : T0_MS + 3 * HOUR_MS;
		for (size_t i = 0; i < d.n; i++)
			if (d.p[i].series == 1 && window_of_ns(d.p[i].t_ns) == wa)
				memcpy(want[w][k++], d.p[i].id, 16);
		assert_int_equal(k, 12);
		qsort(want[w], 12, 16, cmp_id);
	}
	replica *rs[] = { &r1, &r2 };
	for (int i = 0; i < 2; i++) {
		replica			     *r = rs[i];
		hearth_dedup		     *wanted;
		hearth_dedup_ids	      acc = { NULL, 0, 0 };
		Hearth__Ingester__IdsResponse out;
		assert_int_equal(hearth_dedup_new_wanted(ws, 3, r->a, &wanted,
				     &r->err),
		    0);
		assert_int_equal(hearth_head_ids(r->head, "t", NULL, wanted,
				     r->a, &acc, &r->err),
		    0);
		assert_int_equal(hearth_blocks_ids(r->bs, "t", NULL, wanted,
				     &acc, &r->err),
		    0);
		assert_int_equal(hearth_dedup_ids_finish(&acc, r->a, &out,
				     &r->err),
		    0);
		hearth_dedup_ids_fini(&acc);
		assert_int_equal(out.n_windows, 2);
		for (int w = 0; w < 2; w++) {
			assert_int_equal(out.windows[w]->fp, w1.fp);
			assert_int_equal(out.windows[w]->window_start_ms,
			    w == 0 ? T0_MS : T0_MS + 3 * HOUR_MS);
			assert_int_equal(out.windows[w]->n_ids, 12);
			for (int j = 0; j < 12; j++) {
				assert_int_equal(out.windows[w]->ids[j].len, 16);
				assert_memory_equal(out.windows[w]->ids[j].data,
				    want[w][j], 16);
			}
		}
	}
	rep_close(&r1);
	rep_close(&r2);
}

/* Assign every (series, window) of d the way a querier would: series 0
 * all to A; a window whole to A when A has all of it, else whole to B
 * when B has all of it, else split by ids. */
typedef struct assign_set {
	Hearth__Ingester__SeriesAssign	sa[2][N_SERIES];
	Hearth__Ingester__SeriesAssign *sp[2][N_SERIES];
	size_t				n[2];
	int64_t				wins[2][N_SERIES][8];
	Hearth__Ingester__WindowIds	part[2][N_SERIES][8];
	Hearth__Ingester__WindowIds    *pp[2][N_SERIES][8];
	ProtobufCBinaryData		ids[2][N_SERIES][8][16];
} assign_set;

static void
assign_make(const data *d, assign_set *as, int *n_partial)
{
	memset(as, 0, sizeof(*as));
	*n_partial = 0;
	for (int r = 0; r < 2; r++)
		for (int s = 0; s < N_SERIES; s++) {
			Hearth__Ingester__SeriesAssign *x = &as->sa[r][s];
			hearth__ingester__series_assign__init(x);
			x->fp	    = series_fp("t", s);
			x->windows  = as->wins[r][s];
			x->partial  = as->pp[r][s];
			x->all	    = r == 0 && s == 0;
			as->sp[r][s] = x;
		}
	for (int s = 1; s < N_SERIES; s++)
		for (int w = 0; w < 5; w++) {
			int64_t ws   = T0_MS + w * HOUR_MS;
			int	all_a = 1, all_b = 1;
			for (size_t i = 0; i < d->n; i++)
				if (d->p[i].series == s &&
				    window_of_ns(d->p[i].t_ns) == ws) {
					all_a &= (d->p[i].where & 1) != 0;
					all_b &= (d->p[i].where & 2) != 0;
				}
			if (all_a || all_b) {
				Hearth__Ingester__SeriesAssign *x =
				    &as->sa[all_a ? 0 : 1][s];
				x->windows[x->n_windows++] = ws;
				continue;
			}
			(*n_partial)++;
			for (int r = 0; r < 2; r++) {
				Hearth__Ingester__SeriesAssign *x = &as->sa[r][s];
				Hearth__Ingester__WindowIds *wi =
				    &as->part[r][s][x->n_partial];
				hearth__ingester__window_ids__init(wi);
				wi->fp		    = x->fp;
				wi->window_start_ms = ws;
				wi->ids = as->ids[r][s][x->n_partial];
				for (size_t i = 0; i < d->n; i++) {
					const prof *p = &d->p[i];
					if (p->series != s ||
					    window_of_ns(p->t_ns) != ws)
						continue;
					/* A takes what it has, B the rest. */
					if (r == 0 ? (p->where & 1) != 0
						   : (p->where & 1) == 0)
						wi->ids[wi->n_ids++] =
						    (ProtobufCBinaryData) { 16,
							    (uint8_t *) p->id };
				}
				x->partial[x->n_partial++] = wi;
			}
		}
	as->n[0] = as->n[1] = N_SERIES;
}

/* Two replicas holding overlapping parts of the data: A's assigned part
 * plus B's equals a single store holding everything, for trees and
 * series, over ranges with ragged edges; `all` everywhere equals no
 * filter; an empty assignment gives nothing. */
static void
test_dedup_select_assigned_parts_sum(void **state)
{
	(void) state;
	static data	  d;
	static assign_set as;
	replica		  ra, rb, ru, rh;
	hearth_dedup	 *fa, *fb, *fall, *fnone;
	int		  n_partial;
	data_make(&d, 4242);
	rep_open(&ra);
	rep_open(&rb);
	rep_open(&ru);
	rep_open(&rh);
	rep_fill(&rh, &d, 1, 0); /* A's profiles, head only */
	rep_fill(&ra, &d, 1, 30);
	rep_compact(&ra); /* rollups: whole windows from them */
	rep_fill(&rb, &d, 2, 45);
	rep_fill(&ru, &d, 0, 50);
	assign_make(&d, &as, &n_partial);
	assert_true(n_partial > 5); /* the id filter is exercised */
	assert_int_equal(hearth_dedup_new(as.sp[0], as.n[0], ra.a, &fa,
			     &ra.err),
	    0);
	assert_int_equal(hearth_dedup_new(as.sp[1], as.n[1], rb.a, &fb,
			     &rb.err),
	    0);
	Hearth__Ingester__SeriesAssign	all[N_SERIES], *allp[N_SERIES];
	for (int s = 0; s < N_SERIES; s++) {
		hearth__ingester__series_assign__init(&all[s]);
		all[s].fp  = series_fp("t", s);
		all[s].all = 1;
		allp[s]	   = &all[s];
	}
	assert_int_equal(hearth_dedup_new(allp, N_SERIES, ru.a, &fall, &ru.err),
	    0);
	assert_int_equal(hearth_dedup_new(NULL, 0, ru.a, &fnone, &ru.err), 0);

	int64_t ranges[][2] = {
		{ T0_MS, T0_MS + 6 * HOUR_MS },
		{ T0_MS + 37 * MIN_MS + 500, T0_MS + 4 * HOUR_MS + 13 * MIN_MS },
		{ T0_MS + 65 * MIN_MS + 17000, T0_MS + 110 * MIN_MS },
		{ T0_MS + HOUR_MS, T0_MS + 3 * HOUR_MS - 1 },
	};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		int64_t	       s = ranges[i][0], e = ranges[i][1];
		hearth_fgtree *tu = hearth_fgtree_new(), *tab = hearth_fgtree_new();
		hearth_fgtree *tall = hearth_fgtree_new(), *t0 = hearth_fgtree_new();
		hearth_fgtree *ta = hearth_fgtree_new(), *th = hearth_fgtree_new();
		/* Filtered answers: head and blocks agree. */
		rep_tree(&ra, fa, s, e, ta);
		rep_tree(&rh, fa, s, e, th);
		char *xa = tree_folded(ta), *xh = tree_folded(th);
		assert_string_equal(xa, xh);
		free(xa);
		free(xh);
		hearth_fgtree_free(ta);
		hearth_fgtree_free(th);
		rep_tree(&ru, NULL, s, e, tu);
		rep_tree(&ra, fa, s, e, tab);
		rep_tree(&rb, fb, s, e, tab);
		rep_tree(&ru, fall, s, e, tall);
		rep_tree(&ru, fnone, s, e, t0);
		char *xu = tree_folded(tu), *xab = tree_folded(tab);
		char *xall = tree_folded(tall), *x0 = tree_folded(t0);
		assert_true(strlen(xu) > 20);
		assert_string_equal(xab, xu);
		assert_string_equal(xall, xu);
		assert_string_equal(x0, "");
		free(xu);
		free(xab);
		free(xall);
		free(x0);
		hearth_fgtree_free(tu);
		hearth_fgtree_free(tab);
		hearth_fgtree_free(tall);
		hearth_fgtree_free(t0);
		/* Span trees: the same sums under the same filters. */
		tu = hearth_fgtree_new();
		tab = hearth_fgtree_new();
		tall = hearth_fgtree_new();
		t0 = hearth_fgtree_new();
		ta = hearth_fgtree_new();
		th = hearth_fgtree_new();
		rep_span_tree(&ra, fa, s, e, ta);
		rep_span_tree(&rh, fa, s, e, th);
		rep_span_tree(&ru, NULL, s, e, tu);
		rep_span_tree(&ra, fa, s, e, tab);
		rep_span_tree(&rb, fb, s, e, tab);
		rep_span_tree(&ru, fall, s, e, tall);
		rep_span_tree(&ru, fnone, s, e, t0);
		xa = tree_folded(ta);
		xh = tree_folded(th);
		xu = tree_folded(tu);
		xab = tree_folded(tab);
		xall = tree_folded(tall);
		x0 = tree_folded(t0);
		assert_string_equal(xa, xh);
		assert_true(strlen(xu) > 20);
		assert_string_equal(xab, xu);
		assert_string_equal(xall, xu);
		assert_string_equal(x0, "");
		/* spans 1 and 3 are a part of everything */
		assert_true(hearth_fgtree_total(tu) > 0);
		free(xa);
		free(xh);
		free(xu);
		free(xab);
		free(xall);
		free(x0);
		hearth_fgtree_free(tu);
		hearth_fgtree_free(tab);
		hearth_fgtree_free(tall);
		hearth_fgtree_free(t0);
		hearth_fgtree_free(ta);
		hearth_fgtree_free(th);

		hearth_head_series *su = NULL, *sab = NULL, *sall = NULL;
		size_t		    nu = 0, nab = 0, nall = 0;
		rep_series(&ru, NULL, s, e, &su, &nu);
		rep_series(&ra, fa, s, e, &sab, &nab);
		rep_series(&rb, fb, s, e, &sab, &nab);
		rep_series(&ru, fall, s, e, &sall, &nall);
		hearth_head_series *sa = NULL, *sh = NULL;
		size_t		    na = 0, nh = 0;
		rep_series(&ra, fa, s, e, &sa, &na);
		rep_series(&rh, fa, s, e, &sh, &nh);
		char *ya = series_text(sa, na), *yh = series_text(sh, nh);
		assert_string_equal(ya, yh);
		free(ya);
		free(yh);
		char *yu = series_text(su, nu), *yab = series_text(sab, nab);
		char *yall = series_text(sall, nall);
		assert_int_equal(nu, 2);
		assert_string_equal(yab, yu);
		assert_string_equal(yall, yu);
		free(yu);
		free(yab);
		free(yall);
	}
	rep_close(&ra);
	rep_close(&rb);
	rep_close(&ru);
	rep_close(&rh);
}

/* Blocks written before window digests existed: PLAN hashes their
 * samples' ids and answers the same. */
static void
test_dedup_plan_old_blocks_fallback(void **state)
{
	(void) state;
	static data d;
	replica	    r, ref;
	data_make(&d, 5);
	rep_open(&r);
	rep_open(&ref);
	rep_fill(&r, &d, 0, 20);
	rep_compact(&r);
	rep_fill(&ref, &d, 0, 0);

	/* Rewrite every header without Header.window_digests. */
	block_list *l	 = block_list_get(r.bs);
	ZSTD_DCtx  *dctx = ZSTD_createDCtx();
	block_enc   enc;
	assert_int_equal(block_enc_init(&enc, 3), 0);
	size_t stripped = 0;
	for (size_t t = 0; t < l->n; t++)
		for (size_t i = 0; i < l->tenants[t].n; i++) {
			block		 *b = l->tenants[t].blocks[i];
			uint8_t		  key[64];
			uint8_t		 *v;
			size_t		  vl;
			ProtobufCMessage *m;
			size_t kl = block_key(key, b->tenant, b->id,
			    BLOCK_KEY_HEADER, 0, 0);
			assert_int_equal(hearth_kv_get(r.kv, HEARTH_KV_BLOCKS,
					     key, kl, r.a, &v, &vl, &r.err),
			    0);
			assert_int_equal(block_dec_message(v, vl,
					     &hearth__block__header__descriptor,
					     r.a, dctx, &m, &r.err),
			    0);
			Hearth__Block__Header *h = (Hearth__Block__Header *) m;
			assert_true(h->n_window_digests > 0);
			h->n_window_digests = 0;
			assert_int_equal(block_enc_message(&enc, m), 0);
			hearth_kv_batch *wb = hearth_kv_batch_new();
			hearth_kv_batch_put(wb, HEARTH_KV_BLOCKS, key, kl,
			    enc.out, enc.out_len);
			assert_int_equal(hearth_kv_write(r.kv, wb, 1, &r.err), 0);
			hearth_kv_batch_free(wb);
			stripped++;
		}
	block_list_put(l);
	block_enc_fini(&enc);
	ZSTD_freeDCtx(dctx);
	assert_true(stripped >= 3);
	/* Reopen: no cached header with digests is left. */
	hearth_blocks_free(r.bs);
	assert_int_equal(hearth_blocks_open(r.kv, &r.log, NULL, &r.bs, &r.err),
	    0);
	block_list *l2 = block_list_get(r.bs);
	block_hdr  *h;
	assert_int_equal(block_hdr_get(r.bs, l2->tenants[0].blocks[0], 0, &h,
			     &r.err),
	    0);
	assert_null(h->win_digest);
	block_hdr_put(h);
	block_list_put(l2);
	assert_same_plan(&r, &ref, "", T0_MS, T0_MS + 6 * HOUR_MS);
	assert_same_plan(&r, &ref, "", T0_MS + 90 * MIN_MS,
	    T0_MS + 100 * MIN_MS);
	rep_close(&r);
	rep_close(&ref);
}

/* ---- the store: plan, ids, services across heads and blocks -------------- */

static hearth_store *
store_open(const char *dir, hearth_log *log)
{
	hearth_store_cfg cfg = {
		.path		      = dir,
		.wal_sync	      = HEARTH_WAL_SYNC_ALWAYS,
		.wal_sync_interval_ms = 100,
		.block_cache_bytes    = 1 << 20,
		.write_buffer_bytes   = 1 << 20,
		.block_duration_ms    = 3600 * 1000,
		.max_head_bytes	      = 64 << 20,
		.compaction_interval_ms = 3600 * 1000,
		.retention_interval_ms	= 3600 * 1000,
	};
	hearth_store *s;
	hearth_err    err;
	assert_int_equal(hearth_store_open(&cfg, log, NULL, &s, &err), 0);
	assert_int_equal(hearth_store_start(s, &err), 0);
	for (int i = 0; i < 1000 && hearth_store_ready(s, NULL) == 0; i++)
		usleep(10 * 1000);
	assert_int_equal(hearth_store_ready(s, &err), 1);
	return s;
}

static void
test_dedup_store_plan_ids_services(void **state)
{
	(void) state;
	static data   d;
	char	      dir1[64] = "/tmp/hearth-dedup-store-XXXXXX";
	char	      dir2[64] = "/tmp/hearth-dedup-store-XXXXXX";
	hearth_log    log;
	hearth_err    err;
	hearth_arena *a = hearth_arena_new(0);
	assert_non_null(mkdtemp(dir1));
	assert_non_null(mkdtemp(dir2));
	hearth_log_init(&log, "dedup_test", HEARTH_LOG_ERROR);
	hearth_store *s1 = store_open(dir1, &log), *s2 = store_open(dir2, &log);
	data_make(&d, 31337);
	for (size_t i = 0; i < d.n; i++) {
		push_req("t", &d.p[i], NULL, s1, a);
		push_req("t", &d.p[i], NULL, s2, a);
		if (i == d.n / 2)
			assert_int_equal(hearth_store_flush(s1, &err), 0);
	}
	/* Another tenant, only in the head. */
	prof other = d.p[4];
	other.series = 1;
	push_req("u", &other, NULL, s1, a);

	Hearth__Ingester__PlanResponse p1, p2;
	hearth_selector		      *sel = sel_parse("{__name__=\"cpu\"}");
	assert_int_equal(hearth_store_plan(s1, "t", sel, T0_MS + HOUR_MS + 1,
			     T0_MS + 4 * HOUR_MS, a, &p1, &err),
	    0);
	assert_int_equal(hearth_store_plan(s2, "t", sel, T0_MS + HOUR_MS + 1,
			     T0_MS + 4 * HOUR_MS, a, &p2, &err),
	    0);
	assert_int_equal(p1.n_series, 2);
	size_t	 n1 = hearth__ingester__plan_response__get_packed_size(&p1);
	size_t	 n2 = hearth__ingester__plan_response__get_packed_size(&p2);
	uint8_t *b1 = hearth_arena_alloc(a, n1), *b2 = hearth_arena_alloc(a, n2);
	hearth__ingester__plan_response__pack(&p1, b1);
	hearth__ingester__plan_response__pack(&p2, b2);
	assert_int_equal(n1, n2);
	assert_memory_equal(b1, b2, n1);
	assert_int_equal(p1.series[0]->n_count, 4); /* 01:00 .. 04:00 */

	/* IDS over the window the flush cut through. */
	Hearth__Ingester__WindowIds w = HEARTH__INGESTER__WINDOW_IDS__INIT;
	w.fp			      = series_fp("t", 0);
	w.window_start_ms	      = window_of_ns(d.p[d.n / 2].t_ns);
	Hearth__Ingester__WindowIds *ws[] = { &w };
	hearth_dedup		    *wanted;
	Hearth__Ingester__IdsResponse ids;
	assert_int_equal(hearth_dedup_new_wanted(ws, 1, a, &wanted, &err), 0);
	assert_int_equal(hearth_store_ids(s1, "t", sel, wanted, a, &ids, &err),
	    0);
	assert_int_equal(ids.n_windows, 1);
	assert_int_equal(ids.windows[0]->n_ids, 12);

	Hearth__Ingester__ServicesResponse sv;
	assert_int_equal(hearth_store_services(s1, a, &sv, &err), 0);
	assert_int_equal(sv.n_tenants, 2);
	assert_string_equal(sv.tenants[0]->tenant, "t");
	assert_int_equal(sv.tenants[0]->n_services, 2);
	assert_string_equal(sv.tenants[0]->services[0], "api");
	assert_string_equal(sv.tenants[0]->services[1], "db");
	assert_string_equal(sv.tenants[1]->tenant, "u");
	assert_int_equal(sv.tenants[1]->n_services, 1);
	assert_string_equal(sv.tenants[1]->services[0], "db");

	/* Stats for PING. */
	hearth_store_stats st;
	hearth_store_stats_get(s1, &st);
	assert_int_equal(st.head_series, N_SERIES + 1);
	assert_true(st.block_bytes > 0);

	hearth_selector_free(sel);
	hearth_store_stop(s1);
	hearth_store_stop(s2);
	hearth_store_free(s1);
	hearth_store_free(s2);
	nftw(dir1, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	nftw(dir2, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dedup_filter_semantics),
		cmocka_unit_test(test_dedup_plan_same_whatever_the_cuts),
		cmocka_unit_test(test_dedup_plan_reports_whole_windows),
		cmocka_unit_test(test_dedup_ids),
		cmocka_unit_test(test_dedup_select_assigned_parts_sum),
		cmocka_unit_test(test_dedup_plan_old_blocks_fallback),
		cmocka_unit_test(test_dedup_store_plan_ids_services),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
