/* blocks: a flushed head answers the same, key layout, reopen, aborted and
 * pending writes, corrupt values, the header cache, query errors, bytes per
 * sample. Fixture: block_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "block_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
test_block_flush_matches_head(void **state)
{
	fx          *f     = *state;
	pool        *p     = pool_new(200, 7);
	hearth_head *ref   = head_new();
	uint64_t     r     = 42;
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
	fx          *f     = *state;
	pool        *p     = pool_new(20, 1);
	hearth_head *h     = head_new();
	uint64_t     r     = 1;
	hearth_head *hs[1] = { h };
	push(hs, 1, "acme", p, series_labels[0], T0_MS * MS, 10, &r, 1);
	push(hs, 1, "acme", p, series_labels[1], T0_MS * MS, 10, &r, 1);
	flush(f, h);
	/* blocks CF: acme\0<id 1 BE>\0h, then \0s<series u32 BE><chunk u32
	 * BE> (a chunk is 10 minutes of a series' profiles) */
	static const uint8_t hk[]
	    = { 'a', 'c', 'm', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 'h' };
	uint8_t sk[] = { 'a', 'c', 'm', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 's',
		0, 0, 0, 1, 0, 0, 0, 0 };
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *v;
	size_t        vl;
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
	static const uint8_t ik[]
	    = { 'b', 'i', 0, 'a', 'c', 'm', 'e', 0, 0, 0, 0, 0, 0, 0, 0, 1 };
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_META, ik, sizeof(ik),
	                     a, &v, &vl, &f->err),
	    0);
	hearth_blocks_stats st;
	hearth_blocks_stats_get(f->bs, "acme", &st);
	assert_int_equal(st.blocks[0], 1);
	assert_int_equal(st.series, 2);
	assert_int_equal(st.profiles, 2);
	assert_int_equal(st.min_time_ns, T0_MS * MS);
	assert_int_equal(st.max_time_ns, T0_MS * MS);
	size_t   nb;
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
	fx          *f   = *state;
	pool        *p   = pool_new(100, 3);
	hearth_head *ref = head_new();
	uint64_t     r   = 5;
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
	fx              *f     = *state;
	pool            *p     = pool_new(20, 2);
	hearth_head     *h     = head_new();
	uint64_t         r     = 2;
	hearth_head     *hs[1] = { h };
	hearth_kv_batch *b     = hearth_kv_batch_new();
	size_t           nb;
	uint64_t         bytes;
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
test_block_corrupt_value_reported(void **state)
{
	fx          *f     = *state;
	pool        *p     = pool_new(20, 23);
	hearth_head *h     = head_new();
	uint64_t     r     = 23;
	hearth_head *hs[1] = { h };
	push(hs, 1, "t", p, series_labels[0], T0_MS * MS, 10, &r, 1);
	flush(f, h);
	static const uint8_t sk[]   = { 't', 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 's',
		  0, 0, 0, 0, 0, 0, 0, 0 };
	static const uint8_t junk[] = { 1, 0x28, 0xb5, 0x2f, 0xfd, 0xff };
	hearth_kv_batch     *b      = hearth_kv_batch_new();
	hearth_kv_batch_put(
	    b, HEARTH_KV_BLOCKS, sk, sizeof(sk), junk, sizeof(junk));
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	hearth_selector *sel = hearth_selector_new();
	hearth_arena    *a   = hearth_arena_new(0);
	hearth_fgtree   *t   = hearth_fgtree_new();
	assert_int_equal(hearth_blocks_select_tree(f->bs, "t", sel, NULL,
	                     INT64_MIN, INT64_MAX, a, t, &f->err),
	    HEARTH_ECORRUPT);
	assert_non_null(strstr(f->err.msg, "block t/1 series 0"));
	assert_int_equal(hearth_fgtree_size(t), 1); /* out untouched */
	/* Series and labels need only the header: they still work. */
	const char **vals = NULL;
	size_t       nv   = 0;
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
	static const uint8_t mk[]
	    = { 'b', 'p', 0, 't', 0, 0, 0, 0, 0, 0, 0, 0, 77 };
	static const uint8_t sk[] = { 't', 0, 0, 0, 0, 0, 0, 0, 0, 77, 0, 's',
		0, 0, 0, 0, 0, 0, 0, 0 };
	hearth_kv_batch     *b    = hearth_kv_batch_new();
	hearth_kv_batch_put(b, HEARTH_KV_META, mk, sizeof(mk), "", 0);
	hearth_kv_batch_put(b, HEARTH_KV_BLOCKS, sk, sizeof(sk), "x", 1);
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	fx_close(f);
	fx_open(f);
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *v;
	size_t        vl;
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_BLOCKS, sk, sizeof(sk),
	                     a, &v, &vl, &f->err),
	    HEARTH_ENOTFOUND);
	assert_int_equal(hearth_kv_get(f->kv, HEARTH_KV_META, mk, sizeof(mk),
	                     a, &v, &vl, &f->err),
	    HEARTH_ENOTFOUND);
	hearth_arena_free(a);
}

static void
test_block_header_cache_bounded(void **state)
{
	fx                 *f   = *state;
	pool               *p   = pool_new(100, 29);
	hearth_head        *ref = head_new();
	uint64_t            r   = 29;
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
	assert_non_null(
	    strstr(out.data, "hearth_storage_blocks{level=\"0\"} 6\n"));
	assert_non_null(
	    strstr(out.data, "hearth_storage_blocks{level=\"1\"} 0\n"));
	assert_non_null(
	    strstr(out.data, "hearth_storage_block_bytes{level=\"0\"} "));
	assert_non_null(
	    strstr(out.data, "hearth_storage_header_cache_bytes "));
	assert_non_null(
	    strstr(out.data, "hearth_storage_compactions_total 0\n"));
	assert_non_null(strstr(
	    out.data, "hearth_storage_retention_deleted_blocks_total 0\n"));
	assert_non_null(strstr(
	    out.data, "hearth_storage_compaction_duration_seconds_count 0\n"));
	hearth_buf_fini(&out);
	hearth_head_free(ref);
	pool_free(p);
}

static void
test_block_query_errors(void **state)
{
	fx                 *f   = *state;
	hearth_selector    *sel = hearth_selector_new();
	hearth_arena       *a   = hearth_arena_new(0);
	hearth_fgtree      *t   = hearth_fgtree_new();
	hearth_head_series *ss  = NULL;
	size_t              n   = 0;
	assert_int_equal(hearth_blocks_select_tree(
	                     f->bs, "t", sel, NULL, 5, 4, a, t, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "select: start 5 is after end 4");
	assert_int_equal(hearth_blocks_select_series(f->bs, "t", sel, NULL, 0,
	                     4, 0, NULL, 0, a, &ss, &n, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg, "select: step must be > 0, got 0 ms");
	hearth_fgtree_free(t);
	hearth_arena_free(a);
	hearth_selector_free(sel);
}

static void
test_block_bytes_per_sample_fleet(void **state)
{
	fx                 *f   = *state;
	pool               *p   = pool_new(600, 31);
	uint64_t            r   = 31;
	hearth_head        *seg = head_new();
	hearth_blocks_stats st;
	int64_t             start = DAY0_MS, seg_end;
	char                labels[128];
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
	print_message(
	    "fleet level 1 (rollups included): %.3f bytes/sample\n", l1);
	assert_true(l1 <= 2.0);
	pool_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_block_flush_matches_head, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_keys_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_reopen_same_answers, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_abort_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_corrupt_value_reported, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_pending_output_removed_at_open, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_header_cache_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_query_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_bytes_per_sample_fleet, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
