/* block compaction: levels and rollups, whole buckets from rollups,
 * retention and disk space, queries while compacting. Fixture:
 * block_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "block_fixture.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_block_compaction_levels_and_rollups(void **state)
{
	fx          *f   = *state;
	pool        *p   = pool_new(150, 11);
	hearth_head *ref = head_new();
	uint64_t     r   = 9;
	size_t       n[3];
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
	fx          *f   = *state;
	pool        *p   = pool_new(100, 13);
	hearth_head *ref = head_new();
	uint64_t     r   = 13;
	int64_t start    = DAY0_MS; /* 2-hour windows: [0, 2 h), [2 h, 4 h) */
	fill(f, ref, p, "t", start, 4 * 60, 20, 60, &r);
	while (hearth_blocks_compact_step(f->bs, &f->err) == 1)
		;
	size_t n[3];
	total_blocks(f, "t", n);
	assert_int_equal(n[1], 1);
	assert_int_equal(n[0], 2); /* window [2 h, 4 h) is still open */
	/* Blocks 1 and 2 (each 1 h less 20 s) merged into block 5. */
	int64_t full
	    = same_tree(f, ref, "t", "{}", start, start + 2 * HOUR_MS - 1);
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_kv_iter  *it
	    = hearth_kv_iter_new(f->kv, HEARTH_KV_BLOCKS, NULL, 0, NULL, 0);
	size_t deleted = 0;
	for (; hearth_kv_iter_valid(it); hearth_kv_iter_next(it)) {
		size_t         kl;
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
	assert_int_equal(
	    same_tree(f, ref, "t", "{}", start, start + 2 * HOUR_MS - 1),
	    full);
	same_tree(f, ref, "t", "{pod=\"pod-1\"}", start + 7 * MIN_MS,
	    start + 93 * MIN_MS - 1);
	/* A partial minute needs samples. */
	hearth_selector *sel = sel_parse("{}");
	hearth_arena    *a   = hearth_arena_new(0);
	hearth_fgtree   *t   = hearth_fgtree_new();
	assert_int_equal(
	    hearth_blocks_select_tree(f->bs, "t", sel, NULL, start + 30 * 1000,
	        start + HOUR_MS, a, t, &f->err),
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
	fx          *f   = *state;
	pool        *p   = pool_new(300, 17);
	hearth_head *old = head_new(), *cur = head_new();
	uint64_t     r     = 17;
	int64_t      now   = T0_MS + 40 * HOUR_MS;
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
	assert_int_equal(hearth_blocks_retention_step(
	                     f->bs, now, retention_1d, NULL, &f->err),
	    1);
	size_t n[3];
	total_blocks(f, "t", n);
	assert_int_equal(n[0], 1);
	total_blocks(f, "keep", n);
	assert_int_equal(n[0], 1);
	assert_int_equal(hearth_blocks_retention_step(
	                     f->bs, now, retention_1d, NULL, &f->err),
	    0);
	/* Gone from queries ... */
	same_tree(f, cur, "t", "{}", INT64_MIN, INT64_MAX);
	/* ... and from disk. */
	assert_int_equal(hearth_kv_flush(f->kv, &f->err), 0);
	assert_int_equal(hearth_kv_stats_get(f->kv, &after), 0);
	assert_true(after.blocks_cf_bytes * 4 < before.blocks_cf_bytes);
	hearth_arena        *a = hearth_arena_new(0);
	uint8_t             *v;
	size_t               vl;
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
	fx          *f   = *state;
	pool        *p   = pool_new(50, 37);
	hearth_head *ref = head_new();
	uint64_t     r   = 37;
	int64_t      now = T0_MS;
	size_t       n[3];
	fill(f, NULL, p, "t", now - 2 * DAY_MS, 20, 60, 10, &r);
	fill(f, ref, p, "t", now - 30 * MIN_MS, 20, 60, 10, &r);
	int steps = 0;
	while (hearth_blocks_compact_step(f->bs, &f->err) == 1)
		steps++;
	/* The old 20 min: their 2-hour window, then their day, are done. */
	assert_int_equal(steps, 2);
	total_blocks(f, "t", n);
	assert_int_equal(n[2], 1);
	assert_int_equal(hearth_blocks_retention_step(
	                     f->bs, now, retention_1d, NULL, &f->err),
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
	fx     *f;
	int64_t want;
	int    *stop;
	int     queries;
	int     bad;
} qthread;

static void *
query_loop(void *arg)
{
	qthread         *q   = arg;
	hearth_selector *sel = hearth_selector_new();
	while (!__atomic_load_n(q->stop, __ATOMIC_ACQUIRE) || q->queries < 3) {
		hearth_arena  *a = hearth_arena_new(0);
		hearth_fgtree *t = hearth_fgtree_new();
		hearth_err     err;
		if (hearth_blocks_select_tree(q->f->bs, "t", sel, NULL,
		        INT64_MIN, INT64_MAX, a, t, &err)
		        != 0
		    || hearth_fgtree_total(t) != q->want)
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
	fx          *f    = *state;
	pool        *p    = pool_new(100, 19);
	hearth_head *ref  = head_new();
	uint64_t     r    = 19;
	int          stop = 0;
	fill(f, ref, p, "t", DAY0_MS + 13 * MIN_MS, 5 * 60, 60, 20, &r);
	int64_t   want = same_tree(f, ref, "t", "{}", INT64_MIN, INT64_MAX);
	qthread   q[3];
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
