#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "delta.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SPACE "__name__=memory,__type__=alloc_space,service_name=svc"
#define OBJECTS "__name__=memory,__type__=alloc_objects,service_name=svc"
#define INUSE "__name__=memory,__type__=inuse_space,service_name=svc"

/* ---- building push requests ------------------------------------------ */

/* One request with one batch; every sample gets its own batch stack, so
 * two samples with the same frames are two stacks with the same names. */
typedef struct treq {
	hearth_arena                    *a;
	Hearth__Ingester__PushRequest    r;
	Hearth__Ingester__ProfileBatch   b;
	Hearth__Ingester__ProfileBatch  *bs[1];
	Hearth__Ingester__SeriesProfile *prof[16];
} treq;

static uint32_t
tr_string(treq *t, const char *s, size_t len)
{
	for (size_t i = 0; i < t->b.n_strings; i++)
		if (strlen(t->b.strings[i]) == len
		    && memcmp(t->b.strings[i], s, len) == 0)
			return (uint32_t) i;
	t->b.strings[t->b.n_strings] = hearth_arena_strndup(t->a, s, len);
	return (uint32_t) t->b.n_strings++;
}

/* prefix: names interned first, in this order (";"-separated), so two
 * requests can number the same names differently. */
static void
tr_init(treq *t, hearth_arena *a, const char *prefix)
{
	memset(t, 0, sizeof(*t));
	t->a = a;
	hearth__ingester__push_request__init(&t->r);
	hearth__ingester__profile_batch__init(&t->b);
	t->b.strings       = hearth_arena_calloc(a, 256, sizeof(char *));
	t->b.frames        = hearth_arena_calloc(a, 1024, sizeof(uint32_t));
	t->b.stack_lengths = hearth_arena_calloc(a, 256, sizeof(uint32_t));
	t->b.profiles      = t->prof;
	t->bs[0]           = &t->b;
	t->r.batches       = t->bs;
	t->r.n_batches     = 1;
	tr_string(t, "", 0);
	for (const char *s = prefix; s != NULL && *s != '\0';) {
		const char *e = strchr(s, ';');
		size_t      l = e ? (size_t) (e - s) : strlen(s);
		tr_string(t, s, l);
		s += l + (e ? 1 : 0);
	}
}

static uint32_t
tr_stack(treq *t, const char *s, size_t len)
{
	uint32_t n = 0;
	while (len > 0) {
		const char *e                = memchr(s, ';', len);
		size_t      l                = e ? (size_t) (e - s) : len;
		t->b.frames[t->b.n_frames++] = tr_string(t, s, l);
		n++;
		s += l + (e ? 1 : 0);
		len -= l + (e ? 1 : 0);
	}
	t->b.stack_lengths[t->b.n_stack_lengths] = n;
	return (uint32_t) t->b.n_stack_lengths++;
}

/* samples: "a;b=10 a;c=5". idbyte != 0 gives the id {idbyte, 0, ...}. */
static Hearth__Ingester__SeriesProfile *
tr_profile(treq *t, const char *labels, int delta, uint8_t idbyte,
    const char *samples)
{
	Hearth__Ingester__SeriesProfile *p
	    = hearth_arena_calloc(t->a, 1, sizeof(*p));
	hearth__ingester__series_profile__init(p);
	p->labels = hearth_arena_calloc(t->a, 16, sizeof(*p->labels));
	char *dup = hearth_arena_strdup(t->a, labels), *save = NULL;
	for (char *kv = strtok_r(dup, ",", &save); kv != NULL;
	     kv       = strtok_r(NULL, ",", &save)) {
		Hearth__Ingester__Label *l
		    = hearth_arena_calloc(t->a, 1, sizeof(*l));
		hearth__ingester__label__init(l);
		char *eq                 = strchr(kv, '=');
		*eq                      = '\0';
		l->name                  = kv;
		l->value                 = eq + 1;
		p->labels[p->n_labels++] = l;
	}
	p->stacks = hearth_arena_calloc(t->a, 64, sizeof(uint32_t));
	p->values = hearth_arena_calloc(t->a, 64, sizeof(int64_t));
	for (const char *s = samples; *s != '\0';) {
		while (*s == ' ')
			s++;
		const char *eq = strchr(s, '=');
		char       *end;
		p->stacks[p->n_stacks++] = tr_stack(t, s, (size_t) (eq - s));
		p->values[p->n_values++] = strtoll(eq + 1, &end, 10);
		s                        = end;
	}
	p->time_nanos = 1000000000LL;
	p->delta      = delta;
	if (idbyte != 0) {
		p->id.data    = hearth_arena_calloc(t->a, 16, 1);
		p->id.data[0] = idbyte;
		p->id.len     = 16;
	}
	t->prof[t->b.n_profiles++] = p;
	return p;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* A profile's samples as "a;b=5 a;d=2", sorted; "" when it has none. */
static const char *
folded(const treq *t, const Hearth__Ingester__SeriesProfile *p)
{
	static char out[4096];
	char       *lines[64];
	size_t      off[257] = { 0 };
	for (size_t i = 0; i < t->b.n_stack_lengths; i++)
		off[i + 1] = off[i] + t->b.stack_lengths[i];
	for (size_t i = 0; i < p->n_stacks; i++) {
		char   buf[512] = "";
		size_t o        = 0;
		for (size_t f = off[p->stacks[i]]; f < off[p->stacks[i] + 1];
		     f++)
			o += (size_t) snprintf(buf + o, sizeof(buf) - o,
			    "%s%s", o ? ";" : "",
			    t->b.strings[t->b.frames[f]]);
		snprintf(buf + o, sizeof(buf) - o, "=%lld",
		    (long long) p->values[i]);
		lines[i] = strdup(buf);
	}
	qsort(lines, p->n_stacks, sizeof(*lines), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < p->n_stacks; i++) {
		if (i > 0)
			strcat(out, " ");
		strcat(out, lines[i]);
		free(lines[i]);
	}
	return out;
}

/* ---- fixture ---------------------------------------------------------- */

typedef struct fx {
	hearth_delta   *d;
	hearth_metrics *m;
	hearth_arena   *a;
	hearth_err      err;
} fx;

static fx *
fx_new(size_t max_series, int64_t idle_ms)
{
	fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	hearth_delta_cfg cfg = { max_series, idle_ms };
	assert_non_null(f->m = hearth_metrics_new());
	assert_non_null(f->a = hearth_arena_new(0));
	assert_int_equal(hearth_delta_new(&cfg, f->m, &f->d, &f->err), 0);
	return f;
}

static void
fx_free(fx *f)
{
	hearth_delta_free(f->d);
	hearth_metrics_free(f->m);
	hearth_arena_free(f->a);
	free(f);
}

/* t: a request with one delta profile (tr_profile); returns it. */
static Hearth__Ingester__SeriesProfile *
tr_one(treq *t, hearth_arena *a, const char *labels, uint8_t id,
    const char *samples)
{
	tr_init(t, a, NULL);
	return tr_profile(t, labels, 1, id, samples);
}

/* hearth_delta_begin on t's request for tenant at now_ms, which must
 * succeed; the transaction (NULL when t holds no delta profile). */
static hearth_delta_txn *
begin_at(fx *f, treq *t, const char *tenant, int64_t now_ms)
{
	hearth_delta_txn *txn = (void *) 1;
	assert_int_equal(
	    hearth_delta_begin(f->d, tenant, &t->r, now_ms, f->a, &txn, &f->err),
	    0);
	return txn;
}

static hearth_delta_txn *
begin(fx *f, treq *t, const char *tenant)
{
	return begin_at(f, t, tenant, 1000);
}

/* begin and commit: t's profiles are then what the store gets. */
static void
apply(fx *f, treq *t, const char *tenant)
{
	hearth_delta_commit(f->d, begin(f, t, tenant));
}

/* Push one profile of series labels for tenant "t" at time now_ms and
 * commit; the rewritten profile's samples, or NULL when it was dropped. */
static const char *
push_at(
    fx *f, const char *labels, uint8_t id, const char *samples, int64_t now_ms)
{
	static treq                      t;
	Hearth__Ingester__SeriesProfile *p
	    = tr_one(&t, f->a, labels, id, samples);
	hearth_delta_txn *txn = begin_at(f, &t, "t", now_ms);
	assert_non_null(txn);
	hearth_delta_commit(f->d, txn);
	if (t.b.n_profiles == 0)
		return NULL;
	assert_int_equal(t.b.n_profiles, 1);
	assert_ptr_equal(t.b.profiles[0], p);
	assert_false(p->delta); /* cleared: the WAL holds stored values */
	return folded(&t, p);
}

static const char *
push(fx *f, const char *labels, uint8_t id, const char *samples)
{
	return push_at(f, labels, id, samples, 1000);
}

static hearth_delta_stats
stats(fx *f)
{
	hearth_delta_stats st;
	hearth_delta_stats_get(f->d, &st);
	return st;
}

/* ---- tests ------------------------------------------------------------ */

static void
test_delta_first_profile_seeds_and_is_not_stored(void **state)
{
	(void) state;
	fx *f = fx_new(0, 0);
	assert_null(push(f, SPACE, 1, "a;b=10 a;c=5"));
	hearth_delta_stats st = stats(f);
	assert_int_equal(st.series, 1);
	assert_int_equal(st.seeded, 1);
	assert_int_equal(st.stored, 0);
	assert_true(st.bytes > 0);
	fx_free(f);
}

static void
test_delta_later_profiles_store_differences(void **state)
{
	(void) state;
	fx *f = fx_new(0, 0);
	assert_null(push(f, SPACE, 1, "a;b=10 a;c=5"));
	/* a;c did not grow: left out; a;d is new: all of it counts. */
	assert_string_equal(
	    push(f, SPACE, 2, "a;b=15 a;c=5 a;d=2"), "a;b=5 a;d=2");
	/* a;d absent is not a reset: it keeps its 2. */
	assert_string_equal(push(f, SPACE, 3, "a;b=20 a;c=7"), "a;b=5 a;c=2");
	assert_string_equal(push(f, SPACE, 4, "a;d=3"), "a;d=1");
	/* Nothing grew: a profile without samples (0 allocated). */
	assert_string_equal(push(f, SPACE, 5, "a;b=20"), "");
	hearth_delta_stats st = stats(f);
	assert_int_equal(st.seeded, 1);
	assert_int_equal(st.stored, 4);
	assert_int_equal(st.reset, 0);
	fx_free(f);
}

static void
test_delta_counter_reset_reseeds(void **state)
{
	(void) state;
	fx *f = fx_new(0, 0);
	assert_null(push(f, SPACE, 1, "a;b=10 a;c=5"));
	assert_string_equal(push(f, SPACE, 2, "a;b=12 a;c=6"), "a;b=2 a;c=1");
	/* The process restarted: a;b went down. Not stored, re-seeded with
	 * exactly this profile (a;c forgotten). */
	assert_null(push(f, SPACE, 3, "a;b=4 a;c=100"));
	assert_string_equal(
	    push(f, SPACE, 4, "a;b=6 a;c=101 a;x=1"), "a;b=2 a;c=1 a;x=1");
	assert_null(push(f, SPACE, 5, "a;b=1"));
	assert_string_equal(push(f, SPACE, 6, "a;b=3 a;c=7"), "a;b=2 a;c=7");
	hearth_delta_stats st = stats(f);
	assert_int_equal(st.seeded, 1);
	assert_int_equal(st.reset, 2);
	assert_int_equal(st.stored, 3);
	fx_free(f);
}

static void
test_delta_resent_id_is_not_counted_twice(void **state)
{
	(void) state;
	fx *f = fx_new(0, 0);
	assert_null(push(f, SPACE, 1, "a;b=10"));
	assert_string_equal(push(f, SPACE, 2, "a;b=15"), "a;b=5");
	/* The same profile again (a retried RPC): dropped, not a 0 delta
	 * stored under the same id. */
	assert_null(push(f, SPACE, 2, "a;b=15"));
	/* An older one arriving late must not look like a counter reset. */
	assert_null(push(f, SPACE, 1, "a;b=10"));
	assert_string_equal(push(f, SPACE, 3, "a;b=21"), "a;b=6");
	/* A profile without id is never a duplicate. */
	assert_string_equal(push(f, SPACE, 0, "a;b=22"), "a;b=1");
	assert_string_equal(push(f, SPACE, 0, "a;b=22"), "");
	hearth_delta_stats st = stats(f);
	assert_int_equal(st.duplicate, 2);
	assert_int_equal(st.reset, 0);
	assert_int_equal(st.stored, 4);
	fx_free(f);
}

static void
test_delta_abort_leaves_the_state_unchanged(void **state)
{
	(void) state;
	fx               *f = fx_new(0, 0);
	treq              t;
	hearth_delta_txn *txn;
	assert_null(push(f, SPACE, 1, "a;b=10"));
	/* The WAL append failed: abort. The retry (same values, new id as a
	 * client re-push gets) sees the old state. */
	tr_one(&t, f->a, SPACE, 2, "a;b=15");
	txn = begin(f, &t, "t");
	assert_string_equal(folded(&t, t.b.profiles[0]), "a;b=5");
	hearth_delta_abort(f->d, txn);
	assert_string_equal(push(f, SPACE, 3, "a;b=15"), "a;b=5");
	/* The aborted id was not remembered either. */
	assert_string_equal(push(f, SPACE, 2, "a;b=16"), "a;b=1");
	/* An aborted seed seeds again. */
	tr_one(&t, f->a, OBJECTS, 9, "a;b=1");
	txn = begin(f, &t, "t");
	assert_int_equal(t.b.n_profiles, 0);
	hearth_delta_abort(f->d, txn);
	assert_null(push(f, OBJECTS, 10, "a;b=1"));
	assert_string_equal(push(f, OBJECTS, 11, "a;b=4"), "a;b=3");
	hearth_delta_stats st = stats(f);
	assert_int_equal(st.seeded, 2); /* aborted ones are not counted */
	assert_int_equal(st.stored, 3);
	fx_free(f);
}

static void
test_delta_non_delta_profiles_untouched(void **state)
{
	(void) state;
	fx               *f = fx_new(0, 0);
	treq              t;
	hearth_delta_txn *txn;
	/* No delta profile at all: no transaction, no state. */
	tr_init(&t, f->a, NULL);
	Hearth__Ingester__SeriesProfile *p
	    = tr_profile(&t, INUSE, 0, 1, "a;b=10");
	int64_t *vals = p->values;
	txn = begin(f, &t, "t");
	assert_null(txn);
	hearth_delta_commit(f->d, txn); /* NULL is accepted */
	assert_int_equal(t.b.n_profiles, 1);
	assert_ptr_equal(p->values, vals);
	assert_int_equal(stats(f).series, 0);
	/* Mixed: the delta one is seeded and dropped, the others stay in
	 * order with their values. */
	for (int round = 0; round < 2; round++) {
		tr_init(&t, f->a, NULL);
		Hearth__Ingester__SeriesProfile *p1
		    = tr_profile(&t, INUSE, 0, 1, "a;b=10");
		tr_profile(&t, SPACE, 1, (uint8_t) (2 + round),
		    round ? "a;b=30" : "a;b=20");
		Hearth__Ingester__SeriesProfile *p3 = tr_profile(&t,
		    "__name__=memory,__type__=alloc_space,service_name=other",
		    0, 4, "a;c=7");
		txn = begin(f, &t, "t");
		assert_non_null(txn);
		hearth_delta_commit(f->d, txn);
		assert_int_equal(t.b.n_profiles, round ? 3 : 2);
		assert_ptr_equal(t.b.profiles[0], p1);
		assert_string_equal(folded(&t, p1), "a;b=10");
		if (round)
			assert_string_equal(
			    folded(&t, t.b.profiles[1]), "a;b=10");
		assert_ptr_equal(t.b.profiles[round ? 2 : 1], p3);
		assert_string_equal(folded(&t, p3), "a;c=7");
	}
	assert_int_equal(stats(f).series, 1);
	fx_free(f);
}

static void
test_delta_stacks_keyed_by_frame_names(void **state)
{
	(void) state;
	fx  *f = fx_new(0, 0);
	treq t;
	assert_null(push(f, SPACE, 1, "main;alloc=10 main;grow=4"));
	/* Another batch numbers the strings the other way round, and has
	 * main;alloc twice (two lines of one function): summed to 13. */
	tr_init(&t, f->a, "grow;alloc;main");
	tr_profile(&t, SPACE, 1, 2, "main;alloc=6 main;grow=5 main;alloc=7");
	apply(f, &t, "t");
	assert_int_equal(t.b.n_profiles, 1);
	assert_string_equal(
	    folded(&t, t.b.profiles[0]), "main;alloc=3 main;grow=1");
	/* Frame order matters: alloc;main is another stack. */
	assert_string_equal(
	    push(f, SPACE, 3, "alloc;main=2 main;alloc=13"), "alloc;main=2");
	fx_free(f);
}

static void
test_delta_series_are_per_tenant_and_type(void **state)
{
	(void) state;
	fx  *f = fx_new(0, 0);
	treq t;
	assert_null(push(f, SPACE, 1, "a=10"));
	assert_null(push(f, OBJECTS, 2, "a=1"));
	assert_string_equal(push(f, SPACE, 3, "a=11"), "a=1");
	assert_string_equal(push(f, OBJECTS, 4, "a=3"), "a=2");
	/* Another tenant with the same labels seeds its own state. */
	tr_one(&t, f->a, SPACE, 5, "a=50");
	apply(f, &t, "u");
	assert_int_equal(t.b.n_profiles, 0);
	assert_int_equal(stats(f).series, 3);
	fx_free(f);
}

static void
test_delta_two_profiles_of_one_series_in_one_push(void **state)
{
	(void) state;
	fx  *f = fx_new(0, 0);
	treq t;
	/* Seed, then a delta against the seed of the same push. */
	tr_init(&t, f->a, NULL);
	tr_profile(&t, SPACE, 1, 1, "a=10");
	tr_profile(&t, SPACE, 1, 2, "a=14");
	tr_profile(&t, SPACE, 1, 3, "a=15 b=1");
	apply(f, &t, "t");
	assert_int_equal(t.b.n_profiles, 2);
	assert_string_equal(folded(&t, t.b.profiles[0]), "a=4");
	assert_string_equal(folded(&t, t.b.profiles[1]), "a=1 b=1");
	assert_string_equal(push(f, SPACE, 4, "a=16 b=1"), "a=1");
	assert_int_equal(stats(f).series, 1);
	fx_free(f);
}

static void
test_delta_lru_eviction_over_max_series(void **state)
{
	(void) state;
	fx *f = fx_new(2, 0);
	assert_null(
	    push(f, "__name__=memory,__type__=alloc_space,s=a", 1, "x=1"));
	assert_null(
	    push(f, "__name__=memory,__type__=alloc_space,s=b", 2, "x=1"));
	/* a is used again: b is now the least recently used. */
	assert_string_equal(
	    push(f, "__name__=memory,__type__=alloc_space,s=a", 3, "x=2"),
	    "x=1");
	assert_null(
	    push(f, "__name__=memory,__type__=alloc_space,s=c", 4, "x=1"));
	hearth_delta_stats st = stats(f);
	assert_int_equal(st.series, 2);
	assert_int_equal(st.evicted_lru, 1);
	assert_string_equal(
	    push(f, "__name__=memory,__type__=alloc_space,s=a", 5, "x=4"),
	    "x=2");
	/* b was forgotten: it seeds again (and evicts c). */
	assert_null(
	    push(f, "__name__=memory,__type__=alloc_space,s=b", 6, "x=5"));
	st = stats(f);
	assert_int_equal(st.series, 2);
	assert_int_equal(st.evicted_lru, 2);
	assert_int_equal(st.seeded, 4);
	fx_free(f);
}

static void
test_delta_idle_state_dropped(void **state)
{
	(void) state;
	fx *f = fx_new(0, 1000);
	assert_null(push_at(f, SPACE, 1, "a=10", 0));
	assert_null(push_at(f, OBJECTS, 2, "a=10", 900));
	assert_string_equal(push_at(f, SPACE, 3, "a=11", 1000), "a=1");
	/* 1001 ms after their last use both are idle; SPACE is taken again
	 * by this push, after the expiry: it seeds again. */
	/* At 2001 ms both are idle (SPACE for 1001 ms, OBJECTS for
	 * 1101 ms): dropped, and SPACE seeds again. */
	assert_null(push_at(f, SPACE, 4, "a=12", 2001));
	hearth_delta_stats st = stats(f);
	assert_int_equal(st.evicted_idle, 2);
	assert_int_equal(st.series, 1);
	assert_string_equal(push_at(f, SPACE, 5, "a=13", 3001), "a=1");
	assert_null(push_at(f, INUSE, 6, "a=1", 5000)); /* any series */
	st = stats(f);
	assert_int_equal(st.evicted_idle, 3);
	assert_int_equal(st.series, 1);
	assert_int_equal(st.bytes > 0, 1);
	fx_free(f);
}

static void
test_delta_invalid_push_refused(void **state)
{
	(void) state;
	fx               *f = fx_new(0, 0);
	treq              t;
	hearth_delta_txn *txn = (void *) 1;
	Hearth__Ingester__SeriesProfile *p = tr_one(&t, f->a, SPACE, 1, "a=10");
	p->stacks[0] = 99; /* out of range: must not be read */
	assert_int_equal(
	    hearth_delta_begin(f->d, "t", &t.r, 1000, f->a, &txn, &f->err),
	    HEARTH_EINVAL);
	assert_null(txn);
	assert_non_null(strstr(f->err.msg, "stack index 99 out of range"));
	assert_int_equal(t.b.n_profiles, 1);
	assert_int_equal(stats(f).series, 0);
	fx_free(f);
}

static void
test_delta_span_rows_dropped_from_stored_profiles(void **state)
{
	(void) state;
	fx             *f = fx_new(0, 0);
	treq            t;
	static uint32_t ss[1] = { 0 };
	static uint64_t si[1] = { 0x1234 };
	static int64_t  sv[1] = { 3 };
	assert_null(push(f, SPACE, 1, "a=10"));
	Hearth__Ingester__SeriesProfile *p = tr_one(&t, f->a, SPACE, 2, "a=14");
	p->span_stacks   = ss;
	p->span_ids      = si;
	p->span_values   = sv;
	p->n_span_stacks = p->n_span_ids = p->n_span_values = 1;
	apply(f, &t, "t");
	assert_int_equal(t.b.n_profiles, 1);
	assert_string_equal(folded(&t, p), "a=4");
	assert_int_equal(p->n_span_stacks, 0);
	assert_int_equal(p->n_span_ids, 0);
	assert_int_equal(p->n_span_values, 0);
	fx_free(f);
}

static void
test_delta_metrics(void **state)
{
	(void) state;
	fx        *f = fx_new(1, 0);
	hearth_buf b;
	assert_null(push(f, SPACE, 1, "a=10"));
	assert_string_equal(push(f, SPACE, 2, "a=12"), "a=2");
	assert_null(push(f, SPACE, 2, "a=12"));
	assert_null(push(f, SPACE, 3, "a=1"));
	assert_null(push(f, OBJECTS, 4, "a=1")); /* evicts SPACE */
	hearth_buf_init(&b);
	assert_int_equal(hearth_metrics_write(f->m, &b), 0);
	/* clang-format off */
	const char *want[] = {
		"hearth_ingester_delta_profiles_total{result=\"seeded\"} 2\n",
		"hearth_ingester_delta_profiles_total{result=\"stored\"} 1\n",
		"hearth_ingester_delta_profiles_total{result=\"reset\"} 1\n",
		"hearth_ingester_delta_profiles_total{result=\"duplicate\"} 1\n",
		"hearth_ingester_delta_series 1\n",
		"hearth_ingester_delta_evictions_total{reason=\"lru\"} 1\n",
		"hearth_ingester_delta_evictions_total{reason=\"idle\"} 0\n",
	};
	/* clang-format on */
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (strstr(b.data, want[i]) == NULL)
			fail_msg("missing %s in:\n%s", want[i], b.data);
	char line[128];
	snprintf(line, sizeof(line), "hearth_ingester_delta_bytes %zu\n",
	    stats(f).bytes);
	assert_non_null(strstr(b.data, line));
	hearth_buf_fini(&b);
	fx_free(f);
}

/* Two pushes of one series at once: the second waits until the first is
 * committed and then computes against it. */
typedef struct racer {
	fx             *f;
	treq            t;
	int             done;
	const char     *got;
	pthread_mutex_t mu;
} racer;

static void *
racer_run(void *arg)
{
	racer            *r = arg;
	hearth_arena     *a = hearth_arena_new(0);
	hearth_delta_txn *txn;
	hearth_err        err;
	tr_one(&r->t, a, SPACE, 3, "a=20");
	assert_int_equal(
	    hearth_delta_begin(r->f->d, "t", &r->t.r, 1000, a, &txn, &err), 0);
	hearth_delta_commit(r->f->d, txn);
	pthread_mutex_lock(&r->mu);
	r->got
	    = r->t.b.n_profiles ? strdup(folded(&r->t, r->t.prof[0])) : NULL;
	r->done = 1;
	pthread_mutex_unlock(&r->mu);
	hearth_arena_free(a);
	return NULL;
}

static void
test_delta_concurrent_pushes_of_one_series_serialise(void **state)
{
	(void) state;
	fx               *f = fx_new(0, 0);
	treq              t;
	hearth_delta_txn *txn;
	racer             r = { .f = f };
	pthread_t         th;
	pthread_mutex_init(&r.mu, NULL);
	assert_null(push(f, SPACE, 1, "a=10"));
	tr_one(&t, f->a, SPACE, 2, "a=15");
	txn = begin(f, &t, "t");
	assert_int_equal(pthread_create(&th, NULL, racer_run, &r), 0);
	struct timespec ts = { 0, 100 * 1000000L };
	nanosleep(&ts, NULL);
	pthread_mutex_lock(&r.mu);
	int done = r.done;
	pthread_mutex_unlock(&r.mu);
	assert_false(done); /* still waiting for our series */
	hearth_delta_commit(f->d, txn);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_string_equal(folded(&t, t.b.profiles[0]), "a=5");
	assert_non_null(r.got);
	assert_string_equal(r.got, "a=5"); /* 20 - 15, not 20 - 10 */
	free((void *) r.got);
	pthread_mutex_destroy(&r.mu);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_delta_first_profile_seeds_and_is_not_stored),
		cmocka_unit_test(test_delta_later_profiles_store_differences),
		cmocka_unit_test(test_delta_counter_reset_reseeds),
		cmocka_unit_test(test_delta_resent_id_is_not_counted_twice),
		cmocka_unit_test(test_delta_abort_leaves_the_state_unchanged),
		cmocka_unit_test(test_delta_non_delta_profiles_untouched),
		cmocka_unit_test(test_delta_stacks_keyed_by_frame_names),
		cmocka_unit_test(test_delta_series_are_per_tenant_and_type),
		cmocka_unit_test(
		    test_delta_two_profiles_of_one_series_in_one_push),
		cmocka_unit_test(test_delta_lru_eviction_over_max_series),
		cmocka_unit_test(test_delta_idle_state_dropped),
		cmocka_unit_test(test_delta_invalid_push_refused),
		cmocka_unit_test(
		    test_delta_span_rows_dropped_from_stored_profiles),
		cmocka_unit_test(test_delta_metrics),
		cmocka_unit_test(
		    test_delta_concurrent_pushes_of_one_series_serialise),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
