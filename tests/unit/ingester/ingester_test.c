#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "clock.h"
#include "ingester.h"
#include "rpc.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_MSG (1 << 20)

typedef struct fx {
	hearth_ingester	  *ing;
	hearth_metrics	  *metrics;
	hearth_rpc_client *cli;
	hearth_rpc_local  *reg; /* inproc: in-process calls, as -target=all */
	hearth_arena	  *a;
	hearth_log	   log;
	hearth_err	   err;
	char		   dir[64]; /* storage */
} fx;

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void) st;
	(void) flag;
	(void) f;
	return remove(p);
}

/* Storage in dir (a new temporary directory) with small RocksDB buffers. */
static hearth_store_cfg
store_cfg(char *dir)
{
	strcpy(dir, "/tmp/hearth-ingester-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return (hearth_store_cfg) {
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
}

static void
fx_start(fx *f, const char *url)
{
	char url2[64];
	memset(f, 0, sizeof(*f));
	hearth_log_init(&f->log, "ingester_test", HEARTH_LOG_WARN);
	f->metrics		  = hearth_metrics_new();
	hearth_ingester_cfg  cfg  = { url, MAX_MSG, 2, store_cfg(f->dir), NULL,
		"ingester-1", 0, 0 };
	if (strncmp(url, "inproc://", 9) == 0)
		assert_int_equal(hearth_rpc_local_new(&f->reg, &f->err), 0);
	hearth_ingester_deps deps = { .log = &f->log, .metrics = f->metrics,
		.rpc_local = f->reg };
	assert_int_equal(hearth_ingester_new(&cfg, &deps, &f->ing, &f->err), 0);
	assert_int_equal(hearth_ingester_start(f->ing, &f->err), 0);
	for (int i = 0; i < 1000 && hearth_ingester_ready(f->ing, NULL) == 0;
	     i++)
		usleep(10 * 1000);
	assert_int_equal(hearth_ingester_ready(f->ing, &f->err), 1);
	if (strncmp(url, "tcp", 3) == 0) {
		snprintf(url2, sizeof(url2), "tcp://127.0.0.1:%d",
		    hearth_ingester_port(f->ing));
		url = url2;
	}
	assert_int_equal(hearth_rpc_client_new(url, MAX_MSG, &f->cli, &f->err),
	    0);
	hearth_rpc_client_set_local(f->cli, f->reg);
	f->a = hearth_arena_new(0);
}

static void
fx_stop(fx *f)
{
	hearth_rpc_client_free(f->cli);
	hearth_ingester_stop(f->ing);
	hearth_ingester_free(f->ing);
	hearth_rpc_local_free(f->reg);
	hearth_metrics_free(f->metrics);
	hearth_arena_free(f->a);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Call method with message m (NULL = empty body). */
static int
call(fx *f, const char *tenant, uint32_t method, const ProtobufCMessage *m,
    const uint8_t **resp, size_t *len)
{
	uint8_t *body = NULL;
	size_t	 n    = 0;
	if (m != NULL) {
		n    = protobuf_c_message_get_packed_size(m);
		body = hearth_arena_alloc(f->a, n + 1);
		protobuf_c_message_pack(m, body);
	}
	hearth_rpc_meta meta = { tenant, "test", hearth_clock_unix_ms() + 5000, NULL };
	hearth_err_clear(&f->err);
	return hearth_rpc_call(f->cli, method, &meta, body, n, f->a, resp, len,
	    &f->err);
}

/* One batch: stacks main;a and main;b; two profiles of one series. */
static int
push_sample(fx *f, const char *tenant, Hearth__Ingester__PushResponse **pr)
{
	static char	    *strings[] = { "", "main", "a", "b" };
	static uint32_t	     frames[]  = { 1, 2, 1, 3 };
	static uint32_t	     lens[]    = { 2, 2 };
	static uint32_t	     st1[] = { 0, 1 }, st2[] = { 0 };
	static int64_t	     v1[] = { 3, 4 }, v2[] = { 1 };
	Hearth__Ingester__Label l1 = HEARTH__INGESTER__LABEL__INIT;
	Hearth__Ingester__Label l2 = HEARTH__INGESTER__LABEL__INIT;
	l1.name			  = "__name__";
	l1.value		  = "cpu";
	l2.name			  = "service_name";
	l2.value		  = "shop";
	Hearth__Ingester__Label *ls[] = { &l1, &l2 };
	Hearth__Ingester__SeriesProfile p1 =
	    HEARTH__INGESTER__SERIES_PROFILE__INIT;
	Hearth__Ingester__SeriesProfile p2 =
	    HEARTH__INGESTER__SERIES_PROFILE__INIT;
	p1.labels     = p2.labels   = ls;
	p1.n_labels   = p2.n_labels = 2;
	p1.time_nanos = 1000 * 1000000LL;
	p2.time_nanos = 2000 * 1000000LL;
	p1.stacks     = st1;
	p1.n_stacks   = 2;
	p1.values     = v1;
	p1.n_values   = 2;
	p2.stacks     = st2;
	p2.n_stacks   = 1;
	p2.values     = v2;
	p2.n_values   = 1;
	Hearth__Ingester__SeriesProfile *ps[] = { &p1, &p2 };
	Hearth__Ingester__ProfileBatch	 b = HEARTH__INGESTER__PROFILE_BATCH__INIT;
	b.strings			   = strings;
	b.n_strings			   = 4;
	b.frames			   = frames;
	b.n_frames			   = 4;
	b.stack_lengths			   = lens;
	b.n_stack_lengths		   = 2;
	b.profiles			   = ps;
	b.n_profiles			   = 2;
	Hearth__Ingester__ProfileBatch *bs[] = { &b };
	Hearth__Ingester__PushRequest	req  = HEARTH__INGESTER__PUSH_REQUEST__INIT;
	req.batches			     = bs;
	req.n_batches			     = 1;
	const uint8_t *r;
	size_t	       n;
	int rc = call(f, tenant, HEARTH_RPC_PUSH, &req.base, &r, &n);
	if (rc == 0 && pr != NULL)
		*pr = hearth__ingester__push_response__unpack(NULL, n, r);
	return rc;
}

static void
test_ingester_push_select_labels_over_rpc(void **state)
{
	(void) state;
	fx				f;
	Hearth__Ingester__PushResponse *pr;
	const uint8_t		       *r;
	size_t				n;
	fx_start(&f, "inproc://ingester_test_rpc");
	assert_int_equal(push_sample(&f, "acme", &pr), 0);
	assert_int_equal(pr->profiles, 2);
	assert_int_equal(pr->samples, 3);
	hearth__ingester__push_response__free_unpacked(pr, NULL);

	Hearth__Ingester__SelectRequest sq =
	    HEARTH__INGESTER__SELECT_REQUEST__INIT;
	char *gb[]     = { "service_name" };
	sq.selector    = "{service_name=\"shop\"}";
	sq.start_ms    = 0;
	sq.end_ms      = 5000;
	sq.want_tree   = 1;
	sq.want_series = 1;
	sq.step_ms     = 1000;
	sq.group_by    = gb;
	sq.n_group_by  = 1;
	assert_int_equal(call(&f, "acme", HEARTH_RPC_SELECT, &sq.base, &r, &n),
	    0);
	Hearth__Ingester__SelectResponse *sr =
	    hearth__ingester__select_response__unpack(NULL, n, r);
	assert_non_null(sr);
	assert_non_null(sr->tree);
	const Hearth__Ingester__Tree *t = sr->tree;
	assert_int_equal(t->n_names, 4);
	assert_string_equal(t->names[0], "");
	assert_string_equal(t->names[1], "main");
	assert_string_equal(t->names[2], "a");
	assert_string_equal(t->names[3], "b");
	assert_int_equal(t->n_parent, 4);
	uint32_t want_parent[] = { 0, 0, 1, 1 }, want_name[] = { 0, 1, 2, 3 };
	int64_t	 want_self[]   = { 0, 0, 4, 4 };
	assert_memory_equal(t->parent, want_parent, sizeof(want_parent));
	assert_memory_equal(t->name, want_name, sizeof(want_name));
	assert_memory_equal(t->self, want_self, sizeof(want_self));
	assert_int_equal(sr->n_series, 1);
	assert_int_equal(sr->series[0]->n_labels, 1);
	assert_string_equal(sr->series[0]->labels[0]->name, "service_name");
	assert_string_equal(sr->series[0]->labels[0]->value, "shop");
	assert_int_equal(sr->series[0]->n_points, 2);
	assert_int_equal(sr->series[0]->points[0]->timestamp_ms, 1000);
	assert_int_equal(sr->series[0]->points[0]->value, 7);
	assert_int_equal(sr->series[0]->points[0]->count, 1);
	assert_int_equal(sr->series[0]->points[1]->timestamp_ms, 2000);
	assert_int_equal(sr->series[0]->points[1]->value, 1);
	hearth__ingester__select_response__free_unpacked(sr, NULL);

	/* Tree only, other tenant: empty tree, no series. */
	sq.want_series = 0;
	assert_int_equal(call(&f, "other", HEARTH_RPC_SELECT, &sq.base, &r, &n),
	    0);
	sr = hearth__ingester__select_response__unpack(NULL, n, r);
	assert_int_equal(sr->tree->n_parent, 1);
	assert_int_equal(sr->n_series, 0);
	hearth__ingester__select_response__free_unpacked(sr, NULL);

	Hearth__Ingester__LabelsRequest lq =
	    HEARTH__INGESTER__LABELS_REQUEST__INIT;
	lq.selector = "";
	lq.start_ms = 0;
	lq.end_ms   = 5000;
	lq.name	    = "";
	assert_int_equal(call(&f, "acme", HEARTH_RPC_LABELS, &lq.base, &r, &n),
	    0);
	Hearth__Ingester__LabelsResponse *lr =
	    hearth__ingester__labels_response__unpack(NULL, n, r);
	assert_int_equal(lr->n_values, 2);
	assert_string_equal(lr->values[0], "__name__");
	assert_string_equal(lr->values[1], "service_name");
	hearth__ingester__labels_response__free_unpacked(lr, NULL);
	lq.selector = "{__name__=\"cpu\"}";
	lq.name	    = "service_name";
	lq.start_ms = 1500;
	assert_int_equal(call(&f, "acme", HEARTH_RPC_LABELS, &lq.base, &r, &n),
	    0);
	lr = hearth__ingester__labels_response__unpack(NULL, n, r);
	assert_int_equal(lr->n_values, 1);
	assert_string_equal(lr->values[0], "shop");
	hearth__ingester__labels_response__free_unpacked(lr, NULL);

	/* PING needs no tenant and describes the member for /ring. */
	assert_int_equal(call(&f, "", HEARTH_RPC_PING, NULL, &r, &n), 0);
	Hearth__Ingester__PingResponse *pg =
	    hearth__ingester__ping_response__unpack(NULL, n, r);
	assert_non_null(pg);
	assert_string_equal(pg->member_id, "ingester-1");
	assert_int_equal(pg->series, 1);
	assert_true(pg->head_bytes > 0);
	assert_int_equal(pg->block_bytes, 0);
	assert_true(pg->ready);
	hearth__ingester__ping_response__free_unpacked(pg, NULL);
	fx_stop(&f);
}

static void
test_ingester_errors_reach_the_caller(void **state)
{
	(void) state;
	fx	       f;
	const uint8_t *r;
	size_t	       n;
	fx_start(&f, "inproc://ingester_test_errors");
	assert_int_equal(push_sample(&f, "", NULL), HEARTH_EINVAL);
	assert_string_equal(f.err.msg, "ingester: request without a tenant");
	assert_int_equal(call(&f, "acme", 77, NULL, &r, &n), HEARTH_EINVAL);
	assert_string_equal(f.err.msg, "ingester: unknown method 77");

	hearth_rpc_meta meta = { "acme", "x", hearth_clock_unix_ms() + 5000, NULL };
	assert_int_equal(hearth_rpc_call(f.cli, HEARTH_RPC_PUSH, &meta,
			     (const uint8_t *) "\x0a\xff\x01", 3, f.a, &r, &n,
			     &f.err),
	    HEARTH_EINVAL);
	assert_string_equal(f.err.msg,
	    "ingester: malformed PushRequest (3 bytes)");

	Hearth__Ingester__SelectRequest sq =
	    HEARTH__INGESTER__SELECT_REQUEST__INIT;
	sq.selector  = "{service_name=}";
	sq.want_tree = 1;
	assert_int_equal(call(&f, "acme", HEARTH_RPC_SELECT, &sq.base, &r, &n),
	    HEARTH_EINVAL);
	assert_true(strncmp(f.err.msg, "selector: ", 10) == 0);
	sq.selector    = "{}";
	sq.end_ms      = 10;
	sq.want_series = 1;
	sq.step_ms     = 0;
	assert_int_equal(call(&f, "acme", HEARTH_RPC_SELECT, &sq.base, &r, &n),
	    HEARTH_EINVAL);
	assert_string_equal(f.err.msg, "select: step must be > 0, got 0 ms");

	/* A push the head rejects keeps the head's message. */
	Hearth__Ingester__Label		l = HEARTH__INGESTER__LABEL__INIT;
	Hearth__Ingester__Label	       *ls[] = { &l };
	Hearth__Ingester__SeriesProfile p =
	    HEARTH__INGESTER__SERIES_PROFILE__INIT;
	uint32_t st[] = { 3 };
	int64_t	 v[]  = { 1 };
	l.name	      = "service_name";
	l.value	      = "x";
	p.labels      = ls;
	p.n_labels    = 1;
	p.stacks      = st;
	p.n_stacks    = 1;
	p.values      = v;
	p.n_values    = 1;
	Hearth__Ingester__SeriesProfile *ps[] = { &p };
	Hearth__Ingester__ProfileBatch	 b = HEARTH__INGESTER__PROFILE_BATCH__INIT;
	b.profiles			   = ps;
	b.n_profiles			   = 1;
	Hearth__Ingester__ProfileBatch *bs[] = { &b };
	Hearth__Ingester__PushRequest	req  = HEARTH__INGESTER__PUSH_REQUEST__INIT;
	req.batches			     = bs;
	req.n_batches			     = 1;
	assert_int_equal(call(&f, "acme", HEARTH_RPC_PUSH, &req.base, &r, &n),
	    HEARTH_EINVAL);
	assert_string_equal(f.err.msg,
	    "batch 0 profile 0: stack index 3 out of range (0 stacks)");
	fx_stop(&f);
}

static void
test_ingester_metrics_exported(void **state)
{
	(void) state;
	fx	   f;
	hearth_buf out;
	fx_start(&f, "tcp://127.0.0.1:0");
	assert_int_equal(push_sample(&f, "acme", NULL), 0);
	assert_int_equal(push_sample(&f, "beta", NULL), 0);
	assert_int_equal(push_sample(&f, "beta", NULL), 0);
	hearth_buf_init(&out);
	assert_int_equal(hearth_metrics_write(f.metrics, &out), 0);
	const char *want[] = {
		"hearth_ingester_head_series{tenant=\"acme\"} 1\n",
		"hearth_ingester_head_series{tenant=\"beta\"} 1\n",
		"hearth_ingester_head_profiles{tenant=\"acme\"} 2\n",
		"hearth_ingester_head_profiles{tenant=\"beta\"} 4\n",
		"hearth_ingester_profiles_ingested_total{tenant=\"acme\"} 2\n",
		"hearth_ingester_profiles_ingested_total{tenant=\"beta\"} 4\n",
		"hearth_ingester_samples_ingested_total{tenant=\"beta\"} 6\n",
		"# TYPE hearth_ingester_head_bytes gauge\n",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(out.data, want[i]) == NULL)
			fail_msg("missing %s in:\n%s", want[i], out.data);
	char		   line[96];
	hearth_store_stats st;
	hearth_store_stats_get(hearth_ingester_store(f.ing), &st);
	snprintf(line, sizeof(line), "hearth_ingester_head_bytes %zu\n",
	    st.head_bytes + st.flushing_bytes);
	assert_non_null(strstr(out.data, line));
	hearth_buf_fini(&out);
	fx_stop(&f);
}

/* One cumulative alloc_space profile of series shop (stacks main;a and
 * main;b) marked for the server-side delta, as the distributor sends
 * Push memory profiles; *stored = PushResponse.profiles. */
static void
delta_push(fx *f, uint8_t id, int64_t t_ms, int64_t va, int64_t vb,
    uint64_t *stored)
{
	static char	*strings[] = { "", "main", "a", "b" };
	static uint32_t	 frames[]  = { 1, 2, 1, 3 };
	static uint32_t	 lens[]	   = { 2, 2 };
	static uint32_t	 st[]	   = { 0, 1 };
	int64_t		 v[]	   = { va, vb };
	uint8_t		 idb[16]   = { id };
	Hearth__Ingester__Label l[3] = { HEARTH__INGESTER__LABEL__INIT,
		HEARTH__INGESTER__LABEL__INIT, HEARTH__INGESTER__LABEL__INIT };
	l[0].name			= "__name__";
	l[0].value			= "memory";
	l[1].name			= "__type__";
	l[1].value			= "alloc_space";
	l[2].name			= "service_name";
	l[2].value			= "shop";
	Hearth__Ingester__Label *ls[]	= { &l[0], &l[1], &l[2] };
	Hearth__Ingester__SeriesProfile p =
	    HEARTH__INGESTER__SERIES_PROFILE__INIT;
	p.labels     = ls;
	p.n_labels   = 3;
	p.time_nanos = t_ms * 1000000LL;
	p.stacks     = st;
	p.n_stacks   = 2;
	p.values     = v;
	p.n_values   = 2;
	p.id.data    = idb;
	p.id.len     = 16;
	p.delta	     = 1;
	Hearth__Ingester__SeriesProfile *ps[] = { &p };
	Hearth__Ingester__ProfileBatch	 b = HEARTH__INGESTER__PROFILE_BATCH__INIT;
	b.strings			   = strings;
	b.n_strings			   = 4;
	b.frames			   = frames;
	b.n_frames			   = 4;
	b.stack_lengths			   = lens;
	b.n_stack_lengths		   = 2;
	b.profiles			   = ps;
	b.n_profiles			   = 1;
	Hearth__Ingester__ProfileBatch *bs[] = { &b };
	Hearth__Ingester__PushRequest	req  = HEARTH__INGESTER__PUSH_REQUEST__INIT;
	req.batches			     = bs;
	req.n_batches			     = 1;
	const uint8_t *r;
	size_t	       n;
	assert_int_equal(call(f, "acme", HEARTH_RPC_PUSH, &req.base, &r, &n),
	    0);
	Hearth__Ingester__PushResponse *pr =
	    hearth__ingester__push_response__unpack(NULL, n, r);
	assert_non_null(pr);
	*stored = pr->profiles;
	hearth__ingester__push_response__free_unpacked(pr, NULL);
}

/* The series of shop as "t:v t:v" (1 s buckets) and its tree's self of
 * main;a and main;b as "a=N b=N". */
static void
delta_select(fx *f, char *points, char *tree)
{
	Hearth__Ingester__SelectRequest sq =
	    HEARTH__INGESTER__SELECT_REQUEST__INIT;
	const uint8_t *r;
	size_t	       n, o = 0;
	sq.selector    = "{service_name=\"shop\",__type__=\"alloc_space\"}";
	sq.start_ms    = 0;
	sq.end_ms      = 10000;
	sq.want_tree   = 1;
	sq.want_series = 1;
	sq.step_ms     = 1000;
	assert_int_equal(call(f, "acme", HEARTH_RPC_SELECT, &sq.base, &r, &n),
	    0);
	Hearth__Ingester__SelectResponse *sr =
	    hearth__ingester__select_response__unpack(NULL, n, r);
	assert_non_null(sr);
	points[0] = '\0';
	for (size_t i = 0; i < sr->n_series; i++)
		for (size_t j = 0; j < sr->series[i]->n_points; j++)
			o += (size_t) sprintf(points + o, "%s%lld:%lld",
			    o ? " " : "",
			    (long long) sr->series[i]->points[j]->timestamp_ms,
			    (long long) sr->series[i]->points[j]->value);
	int64_t a = 0, b = 0;
	for (size_t i = 0; i < sr->tree->n_name; i++) {
		const char *nm = sr->tree->names[sr->tree->name[i]];
		if (strcmp(nm, "a") == 0)
			a += sr->tree->self[i];
		if (strcmp(nm, "b") == 0)
			b += sr->tree->self[i];
	}
	sprintf(tree, "a=%lld b=%lld", (long long) a, (long long) b);
	hearth__ingester__select_response__free_unpacked(sr, NULL);
}

static void
test_ingester_delta_before_wal_replay_reproduces(void **state)
{
	(void) state;
	fx	 f;
	uint64_t stored;
	char	 pts[256], tree[64];
	fx_start(&f, "inproc://ingester_test_delta");
	delta_push(&f, 1, 1000, 10, 5, &stored);
	assert_int_equal(stored, 0); /* seeds the state only */
	delta_push(&f, 2, 2000, 15, 5, &stored);
	assert_int_equal(stored, 1);
	delta_push(&f, 3, 3000, 18, 9, &stored);
	assert_int_equal(stored, 1);
	delta_push(&f, 3, 3000, 18, 9, &stored); /* re-sent: not again */
	assert_int_equal(stored, 0);
	delta_push(&f, 4, 4000, 2, 9, &stored); /* reset: re-seeds */
	assert_int_equal(stored, 0);
	delta_push(&f, 5, 5000, 3, 9, &stored);
	assert_int_equal(stored, 1);
	delta_select(&f, pts, tree);
	assert_string_equal(pts, "2000:5 3000:7 5000:1");
	assert_string_equal(tree, "a=9 b=4");

	/* Crash (no stop: nothing flushed) and replay the WAL: it holds the
	 * stored differences, and replay computes no delta. */
	hearth_rpc_client_free(f.cli);
	hearth_ingester_free(f.ing);
	char dir[64];
	strcpy(dir, f.dir);
	hearth_store_cfg sc = store_cfg(f.dir); /* makes a dir not needed */
	rmdir(f.dir);
	strcpy(f.dir, dir);
	sc.path			= f.dir;
	hearth_ingester_cfg cfg = { "inproc://ingester_test_delta", MAX_MSG, 2,
		sc, NULL, "ingester-1", 0, 0 };
	hearth_ingester_deps deps = { .log = &f.log, .metrics = f.metrics,
		.rpc_local = f.reg };
	assert_int_equal(hearth_ingester_new(&cfg, &deps, &f.ing, &f.err), 0);
	assert_int_equal(hearth_ingester_start(f.ing, &f.err), 0);
	for (int i = 0; i < 1000 && hearth_ingester_ready(f.ing, NULL) == 0;
	     i++)
		usleep(10 * 1000);
	assert_int_equal(hearth_ingester_ready(f.ing, &f.err), 1);
	assert_int_equal(hearth_rpc_client_new("inproc://ingester_test_delta",
			     MAX_MSG, &f.cli, &f.err),
	    0);
	hearth_rpc_client_set_local(f.cli, f.reg);
	delta_select(&f, pts, tree);
	assert_string_equal(pts, "2000:5 3000:7 5000:1");
	assert_string_equal(tree, "a=9 b=4");
	/* The state lived in memory only: the next profile seeds again. */
	delta_push(&f, 6, 6000, 5, 9, &stored);
	assert_int_equal(stored, 0);
	delta_push(&f, 7, 7000, 6, 10, &stored);
	assert_int_equal(stored, 1);
	delta_select(&f, pts, tree);
	assert_string_equal(pts, "2000:5 3000:7 5000:1 7000:2");
	fx_stop(&f);
}

static void
test_ingester_config_errors(void **state)
{
	(void) state;
	hearth_ingester	   *ing;
	hearth_err	    err;
	char		    dir[64];
	hearth_ingester_cfg cfg = { "", MAX_MSG, 2, store_cfg(dir), NULL, NULL,
		0, 0 };
	assert_int_equal(hearth_ingester_new(&cfg, NULL, &ing, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "ingester: rpc listen URL is empty");
	cfg.rpc_url	  = "inproc://x";
	cfg.max_msg_bytes = 0;
	assert_int_equal(hearth_ingester_new(&cfg, NULL, &ing, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "ingester: max message bytes must be > 0");
	cfg.max_msg_bytes = MAX_MSG;
	cfg.workers	  = 0;
	assert_int_equal(hearth_ingester_new(&cfg, NULL, &ing, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "ingester: workers must be >= 1");
	/* Bad URL: caught at start, prefixed with the role. */
	cfg.rpc_url = "nope://x";
	cfg.workers = 1;
	assert_int_equal(hearth_ingester_new(&cfg, NULL, &ing, &err), 0);
	assert_int_equal(hearth_ingester_start(ing, &err), HEARTH_EINVAL);
	assert_true(strncmp(err.msg,
			"ingester: rpc: invalid listen address nope://x", 46) ==
	    0);
	hearth_ingester_free(ing);
	hearth_ingester_free(NULL);
	/* Storage settings are checked too, naming the setting. */
	cfg.rpc_url		   = "inproc://y";
	cfg.store.max_head_bytes = 0;
	assert_int_equal(hearth_ingester_new(&cfg, NULL, &ing, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "ingester.max_head_bytes must be > 0");
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ingester_push_select_labels_over_rpc),
		cmocka_unit_test(test_ingester_errors_reach_the_caller),
		cmocka_unit_test(test_ingester_metrics_exported),
		cmocka_unit_test(test_ingester_delta_before_wal_replay_reproduces),
		cmocka_unit_test(test_ingester_config_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
