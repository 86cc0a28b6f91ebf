/*
 * block_fixture: what the block unit tests (block_test.c: writing and
 * reading blocks; block_compact_test.c: compaction, rollups, retention;
 * block_span_test.c: span rows in blocks) share: a kv + blocks store in a
 * temporary directory, a seeded pool of stacks with profiles drawn from
 * it (pushed into heads, flushed into blocks), and comparisons of every
 * query answer between blocks and a reference head.
 *
 * Include after <cmocka.h> (the helpers assert). The fixture owns its
 * directory (removed by teardown); pools are malloc'd (pool_free).
 */
#ifndef HEARTH_TESTS_BLOCK_FIXTURE_H
#define HEARTH_TESTS_BLOCK_FIXTURE_H

#include "block.h"
#include "head.h"
#include "kv.h"
#include "selector.h"

#include <stddef.h>
#include <stdint.h>

#define MS 1000000LL /* ns per ms */
#define MIN_MS 60000LL
#define HOUR_MS 3600000LL
#define T0_MS 1700000000000LL /* 2023-11-14 22:13:20 UTC */
#define DAY_MS (24 * HOUR_MS)
#define DAY0_MS (T0_MS - T0_MS % DAY_MS) /* 2023-11-14 00:00 UTC */
#define PERIOD_NS 10000000LL             /* 10 ms: CPU sample weight */

/* ---- fixture ------------------------------------------------------------ */

typedef struct fx {
	char            dir[64];
	hearth_kv      *kv;
	hearth_blocks  *bs;
	hearth_metrics *m;
	hearth_log      log;
	hearth_err      err;
} fx;

void fx_open(fx *f);

void fx_close(fx *f);

int setup(void **state);

int teardown(void **state);

/* ---- data: a pool of stacks and profiles drawn from it ------------------ */

uint64_t rnd(uint64_t *s);

/* Stacks share prefixes as real ones do: frame d is one of a few names of
 * depth d. Stack 0 is empty (its value lands on the root). */
typedef struct pool {
	char    *strings[512];
	size_t   n_strings;
	uint32_t frames[32 * 1024];
	size_t   n_frames;
	uint32_t lens[1024];
	size_t   n_stacks;
	uint32_t counts[1024]; /* per-draw scratch */
} pool;

uint32_t pool_str(pool *p, const char *s);

pool *pool_new(size_t n_stacks, uint64_t seed);

void pool_free(pool *p);

/* Span ids of push_spans: SPAN0 + k for k < n_spans. */
#define SPAN0 0x1000000000000000ull

/* Push one profile of series `labels` ("k=v,k=v", sorted) at t_ns into
 * every head of hs[0..nh): `draws` samples of PERIOD_NS over the pool,
 * skewed towards low stack indexes (a few hot stacks, a long tail). With
 * n_spans > 0 about two stacks in three get span rows: a part of the
 * sample's value in span SPAN0 + (random % n_spans), sometimes a second
 * span too. */
void push_spans(hearth_head **hs, size_t nh, const char *tenant, pool *p,
    const char *labels, int64_t t_ns, size_t draws, uint64_t *r, int with_id,
    unsigned n_spans);

void push(hearth_head **hs, size_t nh, const char *tenant, pool *p,
    const char *labels, int64_t t_ns, size_t draws, uint64_t *r, int with_id);

/* Write head h as blocks, as the store's flush does. */
void flush(fx *f, hearth_head *h);

hearth_head *head_new(void);

extern const char *const series_labels[5];
#define N_SERIES 5

extern const char *const selectors[8];
#define N_SELECTORS 8

/* ---- comparing answers -------------------------------------------------- */

/* "root;a;b self" per node with self != 0, sorted, one per line: a tree's
 * content independent of node order. Caller frees. */
char *tree_folded(const hearth_fgtree *t);

hearth_selector *sel_parse(const char *s);

/* Tree of the blocks and of head ref over [s, e] must be equal; with sp,
 * the span trees of its span ids. Returns the blocks' total. */
int64_t same_tree_of(fx *f, hearth_head *ref, const char *tenant,
    const char *selstr, const hearth_head_spans *sp, int64_t s, int64_t e);

int64_t same_tree(fx *f, hearth_head *ref, const char *tenant,
    const char *selstr, int64_t s, int64_t e);

void same_series(fx *f, hearth_head *ref, const char *tenant,
    const char *selstr, int64_t s, int64_t e, int64_t step,
    const char *const *by, size_t nby);

void same_labels(fx *f, hearth_head *ref, const char *tenant,
    const char *selstr, int64_t s, int64_t e, const char *name);

/* The i-th random query range [*s, *e] around [lo_ms, hi_ms] (an hour
 * either side). Ranges on bucket edges are the interesting ones: with
 * i % 4 == 1 it starts on a minute, with i % 4 == 2 it ends just before
 * an hour. */
void rnd_range(
    uint64_t *r, int64_t lo_ms, int64_t hi_ms, int i, int64_t *s, int64_t *e);

void same_answers(fx *f, hearth_head *ref, const char *tenant, int64_t lo_ms,
    int64_t hi_ms, uint64_t *r, int n_random);

/* same_tree for the span ids ids[0..n) (ascending). */
int64_t same_span_tree(fx *f, hearth_head *ref, const char *tenant,
    const char *selstr, const uint64_t *ids, size_t n, int64_t s, int64_t e);

/* Span trees for one span, several, every one and an unknown one, over
 * the selectors and random ranges; the whole range of "{}" must find
 * something for the single span (so the checks are not vacuous). */
void same_span_answers(fx *f, hearth_head *ref, const char *tenant,
    unsigned n_spans, int64_t lo_ms, int64_t hi_ms, uint64_t *r, int n_random);

/* Push `minutes` of every series (a profile per step_s per series) from
 * start_ms into ref and cut a block every seg_min minutes; with n_spans,
 * series whose index is even get span rows (push_spans). */
void fill_spans(fx *f, hearth_head *ref, pool *p, const char *tenant,
    int64_t start_ms, int minutes, int step_s, int seg_min, uint64_t *r,
    unsigned n_spans);

void fill(fx *f, hearth_head *ref, pool *p, const char *tenant,
    int64_t start_ms, int minutes, int step_s, int seg_min, uint64_t *r);

void total_blocks(fx *f, const char *tenant, size_t *n);

#endif
