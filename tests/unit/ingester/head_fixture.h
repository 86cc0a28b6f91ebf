/*
 * head_fixture: what the head unit tests (head_test.c: push and
 * accounting; head_query_test.c: selectors, labels and series;
 * head_span_test.c: span rows) share: push requests built from folded
 * stacks in arena memory, the standard three-series data set, and
 * readers that turn answers into comparable text.
 *
 * Include after <cmocka.h> (ASSERT_STR_FREE uses its asserts). Strings
 * returned by tree_folded, tree_of, labels_of and series_of are malloc'd
 * (the caller frees them, ASSERT_STR_FREE does); everything else lives in
 * the fixture's arena.
 */
#ifndef HEARTH_TESTS_HEAD_FIXTURE_H
#define HEARTH_TESTS_HEAD_FIXTURE_H

#include "fgtree.h"
#include "head.h"
#include "selector.h"

#include <stddef.h>
#include <stdint.h>

#define MS 1000000LL /* ns per ms */

/* A batch built in arena memory: stacks given as "a;b;c" (root first, ""
 * is the empty stack), profiles with labels "k=v,k2=v2" (sorted). */
typedef struct tbatch {
	hearth_arena			*a;
	Hearth__Ingester__ProfileBatch	 b;
	Hearth__Ingester__SeriesProfile *prof[64];
} tbatch;

uint32_t tb_string(tbatch *t, const char *s, size_t len);
/* stacks: "a;b;c" root first, "" the empty stack. */
void tb_init(tbatch *t, hearth_arena *a, const char *const *stacks, size_t n);
/* labels "k=v,k2=v2" (sorted); idbyte != 0 gives the profile the id
 * {idbyte, 0, ...}. */
Hearth__Ingester__SeriesProfile *tb_profile(tbatch *t, const char *labels,
    int64_t time_ns, const uint32_t *stacks, const int64_t *values, size_t n,
    uint8_t idbyte);
int tb_push(hearth_head *h, const char *tenant, tbatch *t, uint64_t *np,
    uint64_t *ns, hearth_err *err);

/* "a;b 3\na;c 2": one line per node with self != 0, sorted. */
char *tree_folded(const hearth_fgtree *t);

typedef struct fx {
	hearth_head  *h;
	hearth_arena *a;
	hearth_err    err;
} fx;

/* cmocka setup/teardown: a new head and arena in *state (an fx). */
int setup(void **state);
int teardown(void **state);

hearth_selector *sel(const char *s);
/* Tree of selector s over [start, end] as folded text. */
char *tree_of(fx *f, const char *tenant, const char *s, int64_t start,
    int64_t end);
/* Label names (name NULL) or values of tenant t1, joined with ",". */
char *labels_of(fx *f, const char *s, const char *name, int64_t start,
    int64_t end);
/* Series of t1 as "{k=v} ts:value/count ...; {..} ...". */
char *series_of(fx *f, const char *s, int64_t start, int64_t end,
    int64_t step, const char *const *gb, size_t ngb);

#define ASSERT_STR_FREE(expr, want)                                           \
	do {                                                                  \
		char *got_ = (expr);                                          \
		assert_string_equal(got_, want);                              \
		free(got_);                                                   \
	} while (0)


/* The standard data: three series of tenant t1.
 *   A {__name__=cpu,pod=a1,service_name=shop}        t=1000ms, t=2000ms
 *   B {__name__=cpu,pod=b1,region=eu,service_name=db} t=1500ms
 *   C {__name__=mem,pod=a1,region=us,service_name=shop} t=3000ms */
void load_std(fx *f);

#endif
