/* span rows in blocks: through flush, compaction and reopen, the Spans
 * codec and its validation, keys and blocks written before spans. Fixture:
 * block_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "block_fixture.h"
#include "block_impl.h" /* the Spans codec */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fleet: 20 pods, one CPU profile per 15 s each with a few
 * hundred distinct stacks. Target: <= 2 bytes per sample on disk. */
/* Span rows through flush, compaction (level 1 and 2) and a reopen: span
 * trees equal the head's; the ordinary answers are unchanged. */
static void
test_block_span_rows_flush_compact_reopen(void **state)
{
	fx          *f   = *state;
	pool        *p   = pool_new(150, 17);
	hearth_head *ref = head_new();
	uint64_t     r   = 17;
	size_t       n[3];
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
	same_span_answers(
	    f, ref, "t", 8, start, start + 26 * HOUR_MS, &r, 100);
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

static uint64_t span_ids[5] = { 5, 5, 9, 9, 9 };

static uint32_t span_nodes[5] = { 1, 3, 2, 1, 4 };

static int64_t span_values[5] = { 20, 40, 60, 20, 100 };

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
	block_hdr         h;
	ProtobufCMessage *m;
	memset(&h, 0, sizeof(h));
	h.n_nodes = 5;
	if (k >= 0) {
		assert_int_equal(
		    block_dec_message(e->out, e->out_len,
		        &hearth__block__spans__descriptor, a, dctx, &m, err),
		    0);
		if ((*want = span_damage((Hearth__Block__Spans *) m, k))
		    == NULL)
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
	hearth_err    err  = { 0 };
	hearth_arena *a    = hearth_arena_new(0);
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
	assert_int_equal(
	    block_dec_message(e.out, e.out_len,
	        &hearth__block__spans__descriptor, a, dctx, &pm, &err),
	    0);
	Hearth__Block__Spans *m = (Hearth__Block__Spans *) pm;
	assert_int_equal(m->n_span_table, 2);
	assert_int_equal(m->scale, 20);
	assert_int_equal(m->nodes[1], 2); /* 3 - 1, span 5 */
	assert_int_equal(m->nodes[2], 2); /* span 9 starts afresh */
	assert_int_equal(m->nodes[3], 1); /* a new profile too */
	assert_int_equal(m->nodes[4], 3);
	const char *want = NULL;
	int         k    = 0;
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
	fx          *f   = *state;
	pool        *p   = pool_new(40, 19);
	hearth_head *ref = head_new(), *old = head_new(), *nw = head_new();
	uint64_t     r     = 19;
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
	uint64_t one[1] = { SPAN0 + 1 }, all[6];
	for (int k = 0; k < 6; k++)
		all[k] = SPAN0 + (uint64_t) k;
	hearth_head *empty = head_new();
	assert_int_equal(
	    same_span_tree(f, empty, "t", "{}", all, 6, INT64_MIN, INT64_MAX),
	    0);
	hearth_head_free(empty);
	flush(f, nw); /* block 2: series 0 with span rows, series 1 none */
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *v;
	size_t        vl;
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
	assert_true(
	    same_span_tree(f, ref, "t", "{}", all, 6, INT64_MIN, INT64_MAX)
	    > 0);
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
	assert_true(
	    same_span_tree(f, ref, "t", "{}", all, 6, INT64_MIN, INT64_MAX)
	    > 0);
	same_span_tree(
	    f, ref, "t", "{pod=\"pod-0\"}", one, 1, T0_MS, T0_MS + 7000);
	same_answers(f, ref, "t", T0_MS, T0_MS + 10000, &r, 10);
	/* The merged block is 4: drop its span rows behind the set's back. */
	sk[9]              = 4;
	hearth_kv_batch *b = hearth_kv_batch_new();
	hearth_kv_batch_delete(b, HEARTH_KV_BLOCKS, sk, sizeof(sk));
	assert_int_equal(hearth_kv_write(f->kv, b, 1, &f->err), 0);
	hearth_kv_batch_free(b);
	hearth_selector  *sel = sel_parse("{}");
	hearth_fgtree    *t   = hearth_fgtree_new();
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_block_span_rows_flush_compact_reopen, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_block_span_rows_keys_and_old_blocks, setup, teardown),
		cmocka_unit_test(test_block_span_codec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
