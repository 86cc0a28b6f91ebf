#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "kv.h"
#include "setting.h"
#include "store.h"

#include <dirent.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL           /* ns per ms */
#define END_MS 4102444800000LL /* 2100-01-01 */

/* ---- fixture ---------------------------------------------------------- */

typedef struct fx {
	char             dir[64];
	hearth_store_cfg cfg;
	hearth_store    *s;
	hearth_metrics  *m;
	hearth_arena    *a;
	hearth_log       log;
	hearth_err       err;
	uint32_t         next_id; /* profile ids, unique per test */
} fx;

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void) st;
	(void) flag;
	(void) f;
	return remove(p);
}

static int
setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	strcpy(f->dir, "/tmp/hearth-store-test-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->cfg = (hearth_store_cfg) {
		.path                   = f->dir,
		.wal_sync               = HEARTH_WAL_SYNC_ALWAYS,
		.wal_sync_interval_ms   = 100,
		.block_cache_bytes      = 1 << 20,
		.write_buffer_bytes     = 1 << 20,
		.block_duration_ms      = 3600 * 1000,
		.max_head_bytes         = 64 << 20,
		.compaction_interval_ms = 3600 * 1000,
		.retention_interval_ms  = 3600 * 1000,
	};
	hearth_log_init(&f->log, "store_test", HEARTH_LOG_ERROR);
	f->a       = hearth_arena_new(0);
	f->next_id = 1;
	*state     = f;
	return 0;
}

/* Open (and start, waiting for the replay) a store with f->cfg. */
static void
fx_open(fx *f)
{
	f->m = hearth_metrics_new();
	assert_int_equal(
	    hearth_store_open(&f->cfg, &f->log, f->m, &f->s, &f->err), 0);
	assert_int_equal(hearth_store_start(f->s, &f->err), 0);
	for (int i = 0; i < 1000 && hearth_store_ready(f->s, NULL) == 0; i++)
		usleep(10 * 1000);
	assert_int_equal(hearth_store_ready(f->s, &f->err), 1);
}

/* Close without stop: what a crash leaves (the WAL is not trimmed). */
static void
fx_crash(fx *f)
{
	hearth_store_free(f->s);
	hearth_metrics_free(f->m);
	f->s = NULL;
	f->m = NULL;
}

static void
fx_stop(fx *f)
{
	hearth_store_stop(f->s);
	fx_crash(f);
}

static int
teardown(void **state)
{
	fx *f = *state;
	fx_crash(f);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	hearth_arena_free(f->a);
	free(f);
	return 0;
}

/* ---- pushes ----------------------------------------------------------- */

/* One profile of series {__name__=cpu, service_name=svc} at t_ms with
 * main;a = va and main;b;c = vb (zero values are left out), under a new
 * profile id; a (one per thread) holds the encoding. */
static int
push_in(fx *f, hearth_arena *a, const char *tenant, const char *svc,
    int64_t t_ms, int64_t va, int64_t vb, hearth_err *err)
{
	static char    *strings[] = { "", "main", "a", "b", "c" };
	static uint32_t frames[]  = { 1, 2, 1, 3, 4 };
	static uint32_t lens[]    = { 2, 3 };
	uint32_t        stacks[2];
	int64_t         values[2];
	size_t          n      = 0;
	uint8_t         id[16] = { 0 };
	if (va > 0)
		stacks[n] = 0, values[n++] = va;
	if (vb > 0)
		stacks[n] = 1, values[n++] = vb;
	uint32_t idn = __atomic_fetch_add(&f->next_id, 1, __ATOMIC_RELAXED);
	memcpy(id, &idn, sizeof(idn));
	Hearth__Ingester__Label l1           = HEARTH__INGESTER__LABEL__INIT;
	Hearth__Ingester__Label l2           = HEARTH__INGESTER__LABEL__INIT;
	l1.name                              = "__name__";
	l1.value                             = "cpu";
	l2.name                              = "service_name";
	l2.value                             = (char *) svc;
	Hearth__Ingester__Label        *ls[] = { &l1, &l2 };
	Hearth__Ingester__SeriesProfile p
	    = HEARTH__INGESTER__SERIES_PROFILE__INIT;
	p.id.data                             = id;
	p.id.len                              = 16;
	p.labels                              = ls;
	p.n_labels                            = 2;
	p.time_nanos                          = t_ms * MS;
	p.stacks                              = stacks;
	p.n_stacks                            = n;
	p.values                              = values;
	p.n_values                            = n;
	Hearth__Ingester__SeriesProfile *ps[] = { &p };
	Hearth__Ingester__ProfileBatch   b
	    = HEARTH__INGESTER__PROFILE_BATCH__INIT;
	b.strings                            = strings;
	b.n_strings                          = 5;
	b.frames                             = frames;
	b.n_frames                           = 5;
	b.stack_lengths                      = lens;
	b.n_stack_lengths                    = 2;
	b.profiles                           = ps;
	b.n_profiles                         = 1;
	Hearth__Ingester__ProfileBatch *bs[] = { &b };
	Hearth__Ingester__PushRequest   req
	    = HEARTH__INGESTER__PUSH_REQUEST__INIT;
	req.batches   = bs;
	req.n_batches = 1;
	size_t   len  = hearth__ingester__push_request__get_packed_size(&req);
	uint8_t *raw  = hearth_arena_alloc(a, len + 1);
	hearth__ingester__push_request__pack(&req, raw);
	return hearth_store_push(
	    f->s, tenant, &req, raw, len, a, NULL, NULL, err);
}

static int
push(fx *f, const char *tenant, const char *svc, int64_t t_ms, int64_t va,
    int64_t vb, hearth_err *err)
{
	return push_in(f, f->a, tenant, svc, t_ms, va, vb, err);
}

static void
push_ok(fx *f, const char *tenant, const char *svc, int64_t t_ms, int64_t va,
    int64_t vb)
{
	hearth_err err;
	int        rc = push(f, tenant, svc, t_ms, va, vb, &err);
	if (rc != 0)
		fail_msg("push: %s", err.msg);
}

/* ---- answers as text, for exact comparisons ---------------------------- */

static int
cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The tree as sorted folded lines "main;a 3\n". */
static void
tree_text(const hearth_fgtree *t, char *out, size_t outsz)
{
	size_t n = hearth_fgtree_size(t), k = 0;
	char **lines = calloc(n + 1, sizeof(*lines));
	for (uint32_t i = 1; i < n; i++) {
		uint32_t parent, path[64], d = 0;
		int64_t  self;
		hearth_fgtree_node(t, i, &parent, NULL, NULL, &self);
		if (self == 0)
			continue;
		for (uint32_t j = i; j != 0 && d < 64;) {
			path[d++] = j;
			hearth_fgtree_node(t, j, &j, NULL, NULL, NULL);
		}
		char line[512] = "";
		while (d > 0) {
			const char *s;
			size_t      len;
			hearth_fgtree_name(t,
			    hearth_fgtree_node_name(t, path[--d]), &s, &len);
			snprintf(line + strlen(line),
			    sizeof(line) - strlen(line), "%.*s%s", (int) len,
			    s, d > 0 ? ";" : "");
		}
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
		    " %lld\n", (long long) self);
		lines[k++] = strdup(line);
	}
	qsort(lines, k, sizeof(*lines), cmp_line);
	out[0] = '\0';
	for (size_t i = 0; i < k; i++) {
		snprintf(
		    out + strlen(out), outsz - strlen(out), "%s", lines[i]);
		free(lines[i]);
	}
	free(lines);
}

/* Tree, series (by service, 1 s steps) and label names of tenant. */
static void
answer(fx *f, const char *tenant, char *out, size_t outsz)
{
	hearth_selector    *sel = hearth_selector_new();
	hearth_fgtree      *t   = hearth_fgtree_new();
	hearth_head_series *ss;
	const char        **names;
	size_t              n;
	const char         *by[] = { "service_name" };
	assert_int_equal(hearth_store_select_tree(
	                     f->s, tenant, sel, NULL, 0, END_MS, f->a, t, &f->err),
	    0);
	tree_text(t, out, outsz);
	assert_int_equal(hearth_store_select_series(f->s, tenant, sel, NULL, 0,
	                     END_MS, 1000, by, 1, f->a, &ss, &n, &f->err),
	    0);
	for (size_t i = 0; i < n; i++) {
		snprintf(out + strlen(out), outsz - strlen(out),
		    "%s:", ss[i].labels[0].value);
		for (size_t j = 0; j < ss[i].n_points; j++)
			snprintf(out + strlen(out), outsz - strlen(out),
			    " %lld=%lld/%lld",
			    (long long) ss[i].points[j].timestamp_ms,
			    (long long) ss[i].points[j].value,
			    (long long) ss[i].points[j].count);
		snprintf(out + strlen(out), outsz - strlen(out), "\n");
	}
	assert_int_equal(hearth_store_labels(f->s, tenant, sel, 0, END_MS,
	                     "service_name", f->a, &names, &n, &f->err),
	    0);
	for (size_t i = 0; i < n; i++)
		snprintf(
		    out + strlen(out), outsz - strlen(out), "%s ", names[i]);
	hearth_fgtree_free(t);
	hearth_selector_free(sel);
}

static void
count_profiles(void *ctx, const char *tenant, const hearth_head_stats *st)
{
	(void) tenant;
	*(size_t *) ctx += st->profiles;
}

static size_t
current_head_profiles(fx *f)
{
	size_t n = 0;
	hearth_store_foreach_tenant(f->s, count_profiles, &n);
	return n;
}

static int
metrics_has(fx *f, const char *line)
{
	hearth_buf out;
	hearth_buf_init(&out);
	hearth_metrics_write(f->m, &out);
	int found = strstr(out.data, line) != NULL;
	hearth_buf_fini(&out);
	return found;
}

/* Three profiles, two tenants, two services. */
static void
push_three(fx *f)
{
	push_ok(f, "acme", "shop", 1000, 3, 4);
	push_ok(f, "acme", "cart", 2500, 0, 5);
	push_ok(f, "beta", "shop", 1000, 7, 0);
}

#define WANT_ACME                                                             \
	"main;a 3\nmain;b;c 9\n"                                              \
	"cart: 3000=5/1\n"                                                    \
	"shop: 1000=7/1\n"                                                    \
	"cart shop "

/* ---- tests ------------------------------------------------------------ */

static void
test_store_refuses_until_replayed(void **state)
{
	fx *f = *state;
	f->m  = hearth_metrics_new();
	assert_int_equal(
	    hearth_store_open(&f->cfg, &f->log, f->m, &f->s, &f->err), 0);
	assert_int_equal(hearth_store_ready(f->s, NULL), 0);
	assert_int_equal(
	    push(f, "acme", "shop", 1000, 1, 1, &f->err), HEARTH_EUNAVAIL);
	assert_string_equal(
	    f->err.msg, "ingester: replaying its WAL, retry shortly");
	assert_true(metrics_has(f,
	    "hearth_ingester_rejected_pushes_total{reason=\"not_ready\"} "
	    "1\n"));
}

static void
test_store_cut_keeps_answers_identical(void **state)
{
	fx  *f = *state;
	char before[4096], after[4096], beta[4096];
	fx_open(f);
	push_three(f);
	answer(f, "acme", before, sizeof(before));
	assert_string_equal(before, WANT_ACME);
	answer(f, "beta", beta, sizeof(beta));
	assert_int_equal(current_head_profiles(f), 3);

	assert_int_equal(hearth_store_flush(f->s, &f->err), 0);
	hearth_store_stats st;
	hearth_store_stats_get(f->s, &st);
	assert_int_equal(st.flushing_heads, 0);
	assert_int_equal(st.flushing_bytes, 0);
	assert_int_equal(current_head_profiles(f), 0);
	answer(f, "acme", after, sizeof(after));
	assert_string_equal(after, before);
	answer(f, "beta", after, sizeof(after));
	assert_string_equal(after, beta);
	assert_string_equal(beta, "main;a 7\nshop: 1000=7/1\nshop ");
	assert_true(metrics_has(
	    f, "hearth_ingester_head_cuts_total{reason=\"manual\"} 1\n"));

	/* Head and blocks together: the same bucket sums across both. */
	push_ok(f, "acme", "shop", 1000, 1, 0);
	answer(f, "acme", after, sizeof(after));
	assert_string_equal(after,
	    "main;a 4\nmain;b;c 9\ncart: 3000=5/1\nshop: 1000=8/2\ncart "
	    "shop ");
	/* A flush of an empty head cuts nothing. */
	assert_int_equal(hearth_store_flush(f->s, &f->err), 0);
	assert_int_equal(hearth_store_flush(f->s, &f->err), 0);
	assert_true(metrics_has(
	    f, "hearth_ingester_head_cuts_total{reason=\"manual\"} 2\n"));
}

static void
test_store_replays_after_unclean_close(void **state)
{
	fx  *f = *state;
	char before[4096], after[4096];
	fx_open(f);
	push_three(f);
	answer(f, "acme", before, sizeof(before));
	fx_crash(f);
	fx_open(f);
	hearth_store_stats st;
	hearth_store_stats_get(f->s, &st);
	assert_int_equal(st.replayed, 3);
	assert_int_equal(st.wal_last_seq, 3);
	assert_int_equal(current_head_profiles(f), 3);
	answer(f, "acme", after, sizeof(after));
	assert_string_equal(after, before);
	/* Replaying twice (another crash) counts nothing twice. */
	fx_crash(f);
	fx_open(f);
	answer(f, "acme", after, sizeof(after));
	assert_string_equal(after, before);
}

static void
test_store_replays_only_what_no_block_holds(void **state)
{
	fx  *f = *state;
	char out[4096];
	fx_open(f);
	push_ok(f, "acme", "shop", 1000, 3, 4);
	push_ok(f, "acme", "cart", 2500, 0, 5);
	assert_int_equal(hearth_store_flush(f->s, &f->err), 0);
	push_ok(f, "beta", "shop", 1000, 7, 0);
	fx_crash(f);
	fx_open(f);
	hearth_store_stats st;
	hearth_store_stats_get(f->s, &st);
	assert_int_equal(st.replayed, 1);
	assert_int_equal(st.wal_last_seq, 3);
	answer(f, "acme", out, sizeof(out));
	assert_string_equal(out, WANT_ACME);
	answer(f, "beta", out, sizeof(out));
	assert_string_equal(out, "main;a 7\nshop: 1000=7/1\nshop ");
	/* Sequences keep growing after the trim. */
	push_ok(f, "beta", "shop", 1000, 1, 0);
	hearth_store_stats_get(f->s, &st);
	assert_int_equal(st.wal_last_seq, 4);
}

static void
test_store_clean_stop_flushes_everything(void **state)
{
	fx  *f = *state;
	char before[4096], after[4096];
	fx_open(f);
	push_three(f);
	answer(f, "acme", before, sizeof(before));
	fx_stop(f);
	fx_open(f);
	hearth_store_stats st;
	hearth_store_stats_get(f->s, &st);
	assert_int_equal(st.replayed, 0);
	assert_int_equal(current_head_profiles(f), 0);
	answer(f, "acme", after, sizeof(after));
	assert_string_equal(after, before);
}

static void
test_store_head_full_is_ebusy_and_writes_nothing(void **state)
{
	fx *f                 = *state;
	f->cfg.max_head_bytes = 1; /* an empty head is already more */
	fx_open(f);
	assert_int_equal(
	    push(f, "acme", "shop", 1000, 1, 1, &f->err), HEARTH_EBUSY);
	assert_string_equal(f->err.msg,
	    "ingester head is full (max_head_bytes: 1): retry later");
	hearth_store_stats st;
	hearth_store_stats_get(f->s, &st);
	assert_int_equal(st.wal_last_seq, 0);
	assert_true(metrics_has(f,
	    "hearth_ingester_rejected_pushes_total{reason=\"head_full\"} "
	    "1\n"));
	/* Invalid pushes are refused before the budget: same as the head. */
	assert_int_equal(
	    push(f, "", "shop", 1000, 1, 1, &f->err), HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "push: empty tenant");
}

static void
test_store_time_cut_flushes_in_background(void **state)
{
	fx  *f = *state;
	char before[4096], after[4096];
	f->cfg.block_duration_ms = 200;
	fx_open(f);
	push_three(f);
	answer(f, "acme", before, sizeof(before));
	for (int i = 0; i < 500
	     && (current_head_profiles(f) != 0
	         || !metrics_has(f,
	             "hearth_ingester_flush_duration_"
	             "seconds_count 1\n"));
	     i++)
		usleep(10 * 1000);
	assert_int_equal(current_head_profiles(f), 0);
	assert_true(metrics_has(
	    f, "hearth_ingester_head_cuts_total{reason=\"time\"} 1\n"));
	answer(f, "acme", after, sizeof(after));
	assert_string_equal(after, before);
	/* Nothing left to replay. */
	fx_crash(f);
	fx_open(f);
	hearth_store_stats st;
	hearth_store_stats_get(f->s, &st);
	assert_int_equal(st.replayed, 0);
	answer(f, "acme", after, sizeof(after));
	assert_string_equal(after, before);
}

#define STORE_TEST_SIZE_PUSHES 8000

static void
test_store_size_cut_keeps_memory_bounded(void **state)
{
	fx     *f    = *state;
	int64_t want = 0, busy = 0;
	size_t  peak          = 0;
	f->cfg.max_head_bytes = 256 * 1024;
	fx_open(f);
	for (int i = 0; i < STORE_TEST_SIZE_PUSHES; i++) {
		char       svc[16];
		hearth_err err;
		int        rc;
		snprintf(svc, sizeof(svc), "svc%d", i % 200);
		while ((rc = push(f, "acme", svc, 1000 + i, 2, 3, &err))
		    == HEARTH_EBUSY) {
			busy++;
			usleep(1000);
		}
		assert_int_equal(rc, 0);
		want += 5;
		hearth_store_stats st;
		hearth_store_stats_get(f->s, &st);
		if (st.head_bytes + st.flushing_bytes > peak)
			peak = st.head_bytes + st.flushing_bytes;
	}
	/* Admitted below the budget, so at most one push over it. One push
	 * can still add tens of KiB when it makes a hash table of the head
	 * double (they stay at most half full), which happens or not
	 * before a cut depending on when the background flush ran: half
	 * the budget covers it (without the budget these pushes peak at
	 * ~4x the budget). */
	size_t bound = f->cfg.max_head_bytes + f->cfg.max_head_bytes / 2;
	if (peak >= bound)
		fprintf(stderr, "peak %zu, bound %zu, busy %lld\n", peak,
		    bound, (long long) busy);
	assert_true(peak < bound);
	assert_true(metrics_has(
	    f, "hearth_ingester_head_cuts_total{reason=\"size\"}"));
	char             out[4096];
	hearth_selector *sel = hearth_selector_new();
	hearth_fgtree   *t   = hearth_fgtree_new();
	assert_int_equal(hearth_store_select_tree(
	                     f->s, "acme", sel, NULL, 0, END_MS, f->a, t, &f->err),
	    0);
	assert_int_equal(hearth_fgtree_total(t), want);
	tree_text(t, out, sizeof(out));
	assert_string_equal(out, "main;a 16000\nmain;b;c 24000\n");
	hearth_fgtree_free(t);
	hearth_selector_free(sel);
	(void) busy;
}

static void
test_store_replay_failure_is_reported(void **state)
{
	fx            *f = *state;
	hearth_kv     *kv;
	hearth_kv_opts o      = { f->dir, 1 << 20, 1 << 20 };
	uint8_t        key[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	assert_int_equal(hearth_kv_open(&o, &kv, &f->err), 0);
	hearth_kv_batch *b = hearth_kv_batch_new();
	/* A WalRecord whose push is not a PushRequest. */
	hearth_kv_batch_put(
	    b, HEARTH_KV_WAL, key, 8, "\x0a\x01t\x12\x03\xff\xff\xff", 8);
	assert_int_equal(hearth_kv_write(kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	hearth_kv_close(kv);

	f->m = hearth_metrics_new();
	assert_int_equal(
	    hearth_store_open(&f->cfg, &f->log, f->m, &f->s, &f->err), 0);
	assert_int_equal(hearth_store_start(f->s, &f->err), 0);
	int rc = 0;
	for (int i = 0;
	     i < 1000 && (rc = hearth_store_ready(f->s, &f->err)) == 0; i++)
		usleep(10 * 1000);
	assert_int_equal(rc, HEARTH_ECORRUPT);
	char want[256];
	snprintf(want, sizeof(want),
	    "storage at %s: wal: record 1 holds a push that does not "
	    "decode; the WAL is damaged",
	    f->dir);
	assert_string_equal(f->err.msg, want);
	assert_int_equal(
	    push(f, "acme", "shop", 1000, 1, 1, &f->err), HEARTH_EUNAVAIL);
	assert_string_equal(
	    f->err.msg, "ingester: storage failed to start (see its log)");
}

#define PUSHERS 3
#define PER_PUSHER 300

static void *
pusher(void *arg)
{
	fx           *f = arg;
	hearth_arena *a = hearth_arena_new(0);
	hearth_err    err;
	for (int i = 0; i < PER_PUSHER; i++) {
		if (push_in(f, a, "acme", "shop", 1000 + i, 1, 2, &err) != 0)
			abort();
		hearth_arena_reset(a);
	}
	hearth_arena_free(a);
	return NULL;
}

typedef struct watcher {
	fx     *f;
	int     stop;
	int64_t last, max, queries;
	int     bad; /* a total went down or past everything pushed */
} watcher;

static void *
watch(void *arg)
{
	watcher         *w   = arg;
	hearth_arena    *a   = hearth_arena_new(0);
	hearth_selector *sel = hearth_selector_new();
	hearth_err       err;
	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		hearth_fgtree *t = hearth_fgtree_new();
		if (hearth_store_select_tree(
		        w->f->s, "acme", sel, NULL, 0, END_MS, a, t, &err)
		    != 0)
			abort();
		int64_t total = hearth_fgtree_total(t);
		if (total < w->last || total > w->max)
			w->bad = 1;
		w->last = total;
		w->queries++;
		hearth_fgtree_free(t);
		hearth_arena_reset(a);
	}
	hearth_selector_free(sel);
	hearth_arena_free(a);
	return NULL;
}

static void
test_store_queries_count_once_across_concurrent_cuts(void **state)
{
	fx       *f = *state;
	pthread_t th[PUSHERS], wt;
	watcher   w = { f, 0, 0, PUSHERS * PER_PUSHER * 3, 0, 0 };
	fx_open(f);
	pthread_create(&wt, NULL, watch, &w);
	for (int i = 0; i < PUSHERS; i++)
		pthread_create(&th[i], NULL, pusher, f);
	/* Cut and flush while pushes and queries run: each profile must be
	 * seen once, in the head, a flushing head or a block. */
	for (int i = 0; i < 20; i++) {
		assert_int_equal(hearth_store_flush(f->s, &f->err), 0);
		usleep(2000);
	}
	for (int i = 0; i < PUSHERS; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(hearth_store_flush(f->s, &f->err), 0);
	__atomic_store_n(&w.stop, 1, __ATOMIC_RELEASE);
	pthread_join(wt, NULL);
	assert_false(w.bad);
	assert_true(w.queries > 0);
	char             out[256];
	hearth_selector *sel = hearth_selector_new();
	hearth_fgtree   *t   = hearth_fgtree_new();
	assert_int_equal(hearth_store_select_tree(
	                     f->s, "acme", sel, NULL, 0, END_MS, f->a, t, &f->err),
	    0);
	tree_text(t, out, sizeof(out));
	assert_string_equal(out, "main;a 900\nmain;b;c 1800\n");
	hearth_fgtree_free(t);
	hearth_selector_free(sel);
	/* And the same after a crash: no WAL record is left. */
	fx_crash(f);
	fx_open(f);
	hearth_store_stats st;
	hearth_store_stats_get(f->s, &st);
	assert_int_equal(st.replayed, 0);
}

static void
test_store_config_errors_name_the_setting(void **state)
{
	fx              *f = *state;
	hearth_store    *s = NULL;
	hearth_store_cfg c;
	c      = f->cfg;
	c.path = "";
	assert_int_equal(
	    hearth_store_open(&c, NULL, NULL, &s, &f->err), HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "storage.path is empty");
	c                   = f->cfg;
	c.block_duration_ms = 0;
	assert_int_equal(
	    hearth_store_open(&c, NULL, NULL, &s, &f->err), HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "ingester.block_duration must be > 0");
	c                = f->cfg;
	c.max_head_bytes = 0;
	assert_int_equal(
	    hearth_store_open(&c, NULL, NULL, &s, &f->err), HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "ingester.max_head_bytes must be > 0");
	c                      = f->cfg;
	c.wal_sync             = HEARTH_WAL_SYNC_INTERVAL;
	c.wal_sync_interval_ms = 0;
	assert_int_equal(
	    hearth_store_open(&c, NULL, NULL, &s, &f->err), HEARTH_EINVAL);
	assert_string_equal(
	    f->err.msg, "storage.wal_sync_interval must be > 0");
	assert_null(s);
}

/* ---- disk failure: the WAL file cannot grow ---------------------------- */

/* Size of the largest RocksDB log (*.log) in dir: RLIMIT_FSIZE at that
 * size makes the next write to it fail, as a full disk would. */
static off_t
largest_log(const char *dir)
{
	DIR           *d   = opendir(dir);
	off_t          max = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		size_t      n = strlen(e->d_name);
		char        p[512];
		struct stat st;
		if (n < 4 || strcmp(e->d_name + n - 4, ".log") != 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (stat(p, &st) == 0 && st.st_size > max)
			max = st.st_size;
	}
	closedir(d);
	return max;
}

static void
test_store_failed_flush_keeps_data_and_recovers(void **state)
{
	fx           *f = *state;
	char          before[4096], during[4096], after[4096];
	struct rlimit old, lim;
	signal(SIGXFSZ, SIG_IGN); /* EFBIG instead of a kill */
	fx_open(f);
	push_three(f);
	answer(f, "acme", before, sizeof(before));

	getrlimit(RLIMIT_FSIZE, &old);
	lim          = old;
	lim.rlim_cur = (rlim_t) largest_log(f->dir);
	setrlimit(RLIMIT_FSIZE, &lim);
	int rc = hearth_store_flush(f->s, &f->err);
	assert_int_equal(rc, HEARTH_EIO);
	assert_non_null(strstr(f->err.msg, "block flush: "));
	hearth_store_stats st;
	hearth_store_stats_get(f->s, &st);
	assert_int_equal(st.flushing_heads, 1);
	assert_true(st.flushing_bytes > 0);
	/* Queries keep answering from the head being flushed. */
	answer(f, "acme", during, sizeof(during));
	assert_string_equal(during, before);
	/* Pushes fail as a whole: 5xx, never acknowledged. */
	assert_int_equal(
	    push(f, "acme", "shop", 1000, 100, 0, &f->err), HEARTH_EIO);
	assert_non_null(
	    strstr(f->err.msg, "ingester: cannot write the WAL: "));
	assert_true(metrics_has(f,
	    "hearth_ingester_rejected_pushes_total{reason=\"wal_error\"} "
	    "1\n"));
	assert_true(
	    metrics_has(f, "hearth_ingester_flush_failures_total 1\n"));

	/* Space returns: the store reopens RocksDB and retries by itself. */
	setrlimit(RLIMIT_FSIZE, &old);
	for (int i = 0; i < 1000; i++) {
		hearth_store_stats_get(f->s, &st);
		if (st.flushing_heads == 0)
			break;
		usleep(10 * 1000);
	}
	assert_int_equal(st.flushing_heads, 0);
	answer(f, "acme", after, sizeof(after));
	assert_string_equal(after, before);
	push_ok(f, "acme", "shop", 1000, 1, 0);

	/* Nothing was lost or doubled: after a crash the same answer. */
	fx_crash(f);
	fx_open(f);
	answer(f, "acme", after, sizeof(after));
	assert_string_equal(after,
	    "main;a 4\nmain;b;c 9\ncart: 3000=5/1\nshop: 1000=8/2\ncart "
	    "shop ");
	signal(SIGXFSZ, SIG_DFL);
}

/* ---- clients' settings -------------------------------------------------- */

/* Put (name, value, t, deleted) or nothing (name NULL); the tenant's list
 * as "name=value@t" or "name-@t" (a delete), space-separated, into out. */
static int
settings(fx *f, const char *tenant, const char *name, const char *value,
    int64_t t, int deleted, char *out, size_t size)
{
	Hearth__Ingester__Setting put = HEARTH__INGESTER__SETTING__INIT;
	put.name		      = (char *) name;
	put.value		      = (char *) (value != NULL ? value : "");
	put.modified_at_ms	      = t;
	put.deleted		      = deleted;
	Hearth__Ingester__SettingsResponse r
	    = HEARTH__INGESTER__SETTINGS_RESPONSE__INIT;
	int rc = hearth_store_settings(
	    f->s, tenant, name != NULL ? &put : NULL, f->a, &r, &f->err);
	size_t n = 0;
	out[0]	 = '\0';
	for (size_t i = 0; rc == 0 && i < r.n_settings; i++) {
		const Hearth__Ingester__Setting *x = r.settings[i];
		n += (size_t) snprintf(out + n, size - n, "%s%s%s%s@%lld",
		    i ? " " : "", x->name, x->deleted ? "-" : "=",
		    x->deleted ? "" : x->value, (long long) x->modified_at_ms);
		assert_true(n < size);
	}
	return rc;
}

/* Newest wins whatever the order writes arrive in; deletes stay as
 * versions; tenants are apart; everything survives a crash. */
static void
test_store_settings_newest_wins_and_persist(void **state)
{
	fx  *f = *state;
	char l[512];
	fx_open(f);
	assert_int_equal(settings(f, "acme", NULL, NULL, 0, 0, l, sizeof(l)), 0);
	assert_string_equal(l, "");
	assert_int_equal(settings(f, "acme", "b", "one", 10, 0, l, sizeof(l)), 0);
	assert_int_equal(settings(f, "acme", "a", "x", 5, 0, l, sizeof(l)), 0);
	assert_string_equal(l, "a=x@5 b=one@10");
	/* Older loses, newer wins, a tie goes to the greater value. */
	assert_int_equal(settings(f, "acme", "b", "old", 9, 0, l, sizeof(l)), 0);
	assert_string_equal(l, "a=x@5 b=one@10");
	assert_int_equal(settings(f, "acme", "b", "two", 11, 0, l, sizeof(l)), 0);
	assert_int_equal(settings(f, "acme", "b", "abc", 11, 0, l, sizeof(l)), 0);
	assert_string_equal(l, "a=x@5 b=two@11");
	/* A delete is a version: an older write cannot bring the value back,
	 * a newer one can. */
	assert_int_equal(settings(f, "acme", "a", NULL, 6, 1, l, sizeof(l)), 0);
	assert_string_equal(l, "a-@6 b=two@11");
	assert_int_equal(settings(f, "acme", "a", "y", 6, 0, l, sizeof(l)), 0);
	assert_string_equal(l, "a-@6 b=two@11");
	assert_int_equal(settings(f, "acme", "a", "z", 7, 0, l, sizeof(l)), 0);
	assert_string_equal(l, "a=z@7 b=two@11");
	/* Another tenant, and a tenant that is a prefix of it, see nothing
	 * of acme's. */
	assert_int_equal(settings(f, "acm", "a", "q", 1, 0, l, sizeof(l)), 0);
	assert_string_equal(l, "a=q@1");
	assert_int_equal(settings(f, "other", NULL, NULL, 0, 0, l, sizeof(l)), 0);
	assert_string_equal(l, "");
	fx_crash(f);
	fx_open(f);
	assert_int_equal(settings(f, "acme", NULL, NULL, 0, 0, l, sizeof(l)), 0);
	assert_string_equal(l, "a=z@7 b=two@11");
}

static void
test_store_settings_limits(void **state)
{
	fx  *f = *state;
	char l[64], name[32];
	fx_open(f);
	assert_int_equal(settings(f, "acme", "", "x", 1, 0, l, sizeof(l)),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "settings: a setting needs a name");
	char *big = malloc(HEARTH_SETTINGS_MAX_BYTES + 1);
	memset(big, 'v', HEARTH_SETTINGS_MAX_BYTES);
	big[HEARTH_SETTINGS_MAX_BYTES] = '\0';
	assert_int_equal(settings(f, "acme", "n", big, 1, 0, l, sizeof(l)),
	    HEARTH_ELIMIT);
	free(big);
	for (int i = 0; i < HEARTH_SETTINGS_MAX; i++) {
		snprintf(name, sizeof(name), "s%04d", i);
		Hearth__Ingester__Setting put = HEARTH__INGESTER__SETTING__INIT;
		put.name		      = name;
		put.value		      = "v";
		put.modified_at_ms	      = 1;
		Hearth__Ingester__SettingsResponse r
		    = HEARTH__INGESTER__SETTINGS_RESPONSE__INIT;
		hearth_arena_reset(f->a);
		assert_int_equal(
		    hearth_store_settings(f->s, "acme", &put, f->a, &r, &f->err),
		    0);
	}
	hearth_arena_reset(f->a);
	assert_int_equal(settings(f, "acme", "one-more", "v", 1, 0, l, sizeof(l)),
	    HEARTH_ELIMIT);
	assert_non_null(strstr(f->err.msg, "has 1000 settings"));
	/* A known name may still change. */
	hearth_arena_reset(f->a);
	Hearth__Ingester__Setting put = HEARTH__INGESTER__SETTING__INIT;
	put.name		      = "s0000";
	put.value		      = "w";
	put.modified_at_ms	      = 2;
	Hearth__Ingester__SettingsResponse r
	    = HEARTH__INGESTER__SETTINGS_RESPONSE__INIT;
	assert_int_equal(
	    hearth_store_settings(f->s, "acme", &put, f->a, &r, &f->err), 0);
	assert_int_equal(r.n_settings, HEARTH_SETTINGS_MAX);
	assert_string_equal(r.settings[0]->value, "w");
}

int
main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_store_refuses_until_replayed),
		T(test_store_cut_keeps_answers_identical),
		T(test_store_replays_after_unclean_close),
		T(test_store_replays_only_what_no_block_holds),
		T(test_store_clean_stop_flushes_everything),
		T(test_store_head_full_is_ebusy_and_writes_nothing),
		T(test_store_time_cut_flushes_in_background),
		T(test_store_size_cut_keeps_memory_bounded),
		T(test_store_replay_failure_is_reported),
		T(test_store_queries_count_once_across_concurrent_cuts),
		T(test_store_config_errors_name_the_setting),
		T(test_store_failed_flush_keeps_data_and_recovers),
		T(test_store_settings_newest_wins_and_persist),
		T(test_store_settings_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
