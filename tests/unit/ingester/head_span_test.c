/* head span rows: the span side table, span filters on trees, validation.
 * Fixture: head_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "head_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Give p the span rows (stacks[i], ids[i], values[i]). */
static void
tb_spans(tbatch *t, Hearth__Ingester__SeriesProfile *p,
    const uint32_t *stacks, const uint64_t *ids, const int64_t *values,
    size_t n)
{
	p->span_stacks = hearth_arena_calloc(t->a, n + 1, sizeof(uint32_t));
	p->span_ids    = hearth_arena_calloc(t->a, n + 1, sizeof(uint64_t));
	p->span_values = hearth_arena_calloc(t->a, n + 1, sizeof(int64_t));
	memcpy(p->span_stacks, stacks, n * sizeof(uint32_t));
	memcpy(p->span_ids, ids, n * sizeof(uint64_t));
	memcpy(p->span_values, values, n * sizeof(int64_t));
	p->n_span_stacks = p->n_span_ids = p->n_span_values = n;
}

/* Span tree of selector s over [start, end] for the span ids (ascending)
 * as folded text (caller frees). */
static char *
span_tree_of(fx *f, const char *s, const uint64_t *ids, size_t n,
    int64_t start, int64_t end)
{
	hearth_selector	 *se = sel(s);
	hearth_fgtree	 *t  = hearth_fgtree_new();
	hearth_head_spans sp = { ids, n };
	assert_int_equal(hearth_head_select_span_tree(f->h, "t1", se, NULL,
			     &sp, start, end, f->a, t, &f->err),
	    0);
	char *out = tree_folded(t);
	hearth_fgtree_free(t);
	hearth_selector_free(se);
	return out;
}

#define S1 0xf9666c0d6bffec33ull

#define S2 0x02e16edf43da516cull

static void
test_head_span_rows_filter_tree(void **state)
{
	fx	   *f	       = *state;
	const char *stacks[] = { "a;b", "a;c", "d", "a;b" };
	tbatch	    t;
	uint64_t    np, ns;
	size_t	    before = hearth_head_bytes(f->h);
	tb_init(&t, f->a, stacks, 4);
	Hearth__Ingester__SeriesProfile *p1 = tb_profile(&t, "svc=x", 1 * MS,
	    (uint32_t[]) { 0, 1, 2 }, (int64_t[]) { 10, 20, 5 }, 3, 1);
	/* batch stacks 0 and 3 are the same frames: one node, kept as two
	 * rows of S1 */
	tb_spans(&t, p1, (uint32_t[]) { 0, 1, 1, 0, 3 },
	    (uint64_t[]) { S1, S1, S2, S2, S1 }, (int64_t[]) { 3, 6, 14, 6, 1 },
	    5);
	Hearth__Ingester__SeriesProfile *p2 = tb_profile(&t, "svc=x", 2 * MS,
	    (uint32_t[]) { 0 }, (int64_t[]) { 7 }, 1, 2);
	tb_spans(&t, p2, (uint32_t[]) { 0 }, (uint64_t[]) { S1 },
	    (int64_t[]) { 7 }, 1);
	Hearth__Ingester__SeriesProfile *p3 = tb_profile(&t, "svc=y", 3 * MS,
	    (uint32_t[]) { 2 }, (int64_t[]) { 5 }, 1, 3);
	tb_spans(&t, p3, (uint32_t[]) { 2 }, (uint64_t[]) { S1 },
	    (int64_t[]) { 5 }, 1);
	/* a profile without span rows */
	tb_profile(&t, "svc=x", 4 * MS, (uint32_t[]) { 1 }, (int64_t[]) { 9 },
	    1, 4);
	assert_int_equal(tb_push(f->h, "t1", &t, &np, &ns, &f->err), 0);
	assert_int_equal(np, 4);
	assert_int_equal(ns, 6); /* span rows are not samples */
	assert_true(hearth_head_bytes(f->h) > before);

	/* Without spans: every sample, span rows change nothing. */
	char *x = tree_of(f, "t1", "{}", 0, 10);
	assert_string_equal(x, "a;b 17\na;c 29\nd 10");
	free(x);
	const uint64_t one[] = { S1 }, two[] = { S2 }, both[] = { S2, S1 };
	const uint64_t none[] = { 42 };
	x = span_tree_of(f, "{}", one, 1, 0, 10);
	assert_string_equal(x, "a;b 11\na;c 6\nd 5");
	free(x);
	x = span_tree_of(f, "{}", two, 1, 0, 10);
	assert_string_equal(x, "a;b 6\na;c 14");
	free(x);
	x = span_tree_of(f, "{}", both, 2, 0, 10);
	assert_string_equal(x, "a;b 17\na;c 20\nd 5");
	free(x);
	x = span_tree_of(f, "{}", none, 1, 0, 10);
	assert_string_equal(x, "");
	free(x);
	/* selection and time range as usual */
	x = span_tree_of(f, "{svc=\"x\"}", one, 1, 0, 10);
	assert_string_equal(x, "a;b 11\na;c 6");
	free(x);
	x = span_tree_of(f, "{}", one, 1, 2, 3);
	assert_string_equal(x, "a;b 7\nd 5");
	free(x);
	/* an unknown tenant adds nothing */
	hearth_selector *se = sel("{}");
	hearth_fgtree	*tr = hearth_fgtree_new();
	hearth_head_spans sp = { one, 1 };
	assert_int_equal(hearth_head_select_span_tree(f->h, "nobody", se, NULL,
			     &sp, 0, 10, f->a, tr, &f->err),
	    0);
	assert_int_equal(hearth_fgtree_size(tr), 1);
	assert_int_equal(hearth_head_select_span_tree(f->h, "t1", se, NULL,
			     &sp, 5, 4, f->a, tr, &f->err),
	    HEARTH_EINVAL);
	hearth_fgtree_free(tr);
	hearth_selector_free(se);
}

/* A span filter from a request's ids: ascending, each once, without 0;
 * it finds what it holds and nothing else. */
static void
test_head_spans_sort(void **state)
{
	(void) state;
	uint64_t ids[] = { S1, 0, 7, S2, 7, UINT64_MAX, 0, S1, 1 };
	size_t	 n     = hearth_head_spans_sort(ids, 9);
	assert_int_equal(n, 5);
	assert_int_equal(ids[0], 1);
	assert_int_equal(ids[1], 7);
	assert_int_equal(ids[2], S2);
	assert_int_equal(ids[3], S1);
	assert_int_equal(ids[4], UINT64_MAX);
	hearth_head_spans sp = { ids, n };
	assert_true(hearth_head_spans_has(&sp, 7));
	assert_true(hearth_head_spans_has(&sp, UINT64_MAX));
	assert_false(hearth_head_spans_has(&sp, 0));
	assert_false(hearth_head_spans_has(&sp, 8));
	uint64_t zero[] = { 0, 0 };
	assert_int_equal(hearth_head_spans_sort(zero, 2), 0);
	assert_int_equal(hearth_head_spans_sort(NULL, 0), 0);
}

/* Many span groups per profile and large values: the packing's varints
 * and per-span byte lengths round-trip. */
static void
test_head_span_rows_many_spans(void **state)
{
	fx	   *f	       = *state;
	const char *stacks[] = { "m;a", "m;b", "m;c" };
	tbatch	    t;
	enum { N = 300 };
	uint32_t st[N];
	uint64_t ids[N];
	int64_t	 vals[N];
	tb_init(&t, f->a, stacks, 3);
	for (int i = 0; i < N; i++) {
		st[i]	= (uint32_t) (i % 3);
		ids[i]	= 1000 + (uint64_t) (i / 3) * 0x100000001ull;
		vals[i] = (int64_t) 1 << (i % 50);
	}
	Hearth__Ingester__SeriesProfile *p = tb_profile(&t, "svc=x", MS,
	    (uint32_t[]) { 0, 1, 2 },
	    (int64_t[]) { INT64_MAX / 4, INT64_MAX / 4, INT64_MAX / 4 }, 3, 0);
	tb_spans(&t, p, st, ids, vals, N);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err), 0);
	for (int k = 0; k < N / 3; k += 17) {
		uint64_t want = 1000 + (uint64_t) k * 0x100000001ull;
		char	 exp[256];
		snprintf(exp, sizeof(exp), "m;a %lld\nm;b %lld\nm;c %lld",
		    (long long) vals[3 * k], (long long) vals[3 * k + 1],
		    (long long) vals[3 * k + 2]);
		char *x = span_tree_of(f, "{}", &want, 1, 0, 10);
		assert_string_equal(x, exp);
		free(x);
	}
}

static void
test_head_span_rows_validation(void **state)
{
	fx		 *f	     = *state;
	const char	 *stacks[] = { "a", "b" };
	tbatch		  t;
	hearth_head_stats st;
	Hearth__Ingester__SeriesProfile *p;

	tb_init(&t, f->a, stacks, 2);
	p = tb_profile(&t, "svc=x", MS, (uint32_t[]) { 0 }, (int64_t[]) { 1 },
	    1, 0);
	tb_spans(&t, p, (uint32_t[]) { 0, 1 }, (uint64_t[]) { S1, S2 },
	    (int64_t[]) { 1, 1 }, 2);
	p->n_span_ids = 1;
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: 2 span stacks, 1 span ids and 2 span values "
	    "(want as many of each)");

	tb_init(&t, f->a, stacks, 2);
	p = tb_profile(&t, "svc=x", MS, NULL, NULL, 0, 0);
	tb_spans(&t, p, (uint32_t[]) { 2 }, (uint64_t[]) { S1 },
	    (int64_t[]) { 1 }, 1);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: span row 0: stack index 2 out of range (2 "
	    "stacks)");

	tb_init(&t, f->a, stacks, 2);
	p = tb_profile(&t, "svc=x", MS, NULL, NULL, 0, 0);
	tb_spans(&t, p, (uint32_t[]) { 0, 1 }, (uint64_t[]) { S1, 0 },
	    (int64_t[]) { 1, 1 }, 2);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: span row 1 has span id 0 (0 means no span: "
	    "leave the row out)");

	tb_init(&t, f->a, stacks, 2);
	p = tb_profile(&t, "svc=x", MS, NULL, NULL, 0, 0);
	tb_spans(&t, p, (uint32_t[]) { 0 }, (uint64_t[]) { S1 },
	    (int64_t[]) { 0 }, 1);
	assert_int_equal(tb_push(f->h, "t1", &t, NULL, NULL, &f->err),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "batch 0 profile 0: span row 0 has value 0 (span values must be "
	    "> 0)");

	hearth_head_stats_get(f->h, NULL, &st);
	assert_int_equal(st.series, 0);
	assert_int_equal(st.profiles, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, setup, teardown)
		T(test_head_span_rows_filter_tree),
		T(test_head_span_rows_many_spans),
		cmocka_unit_test(test_head_spans_sort),
		T(test_head_span_rows_validation),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
