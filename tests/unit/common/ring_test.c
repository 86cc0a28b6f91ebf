#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ring.h"

#include <stdio.h>
#include <string.h>

/* splitmix64: reproducible "random" fingerprints. */
static uint64_t
next_fp(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z          = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z          = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static hearth_ring *
mk(const char *const *ids, size_t n, unsigned tokens)
{
	hearth_ring *r;
	hearth_err   err;
	assert_int_equal(hearth_ring_new(ids, n, tokens, &r, &err), 0);
	return r;
}

static void
test_ring_deterministic_any_order(void **state)
{
	(void) state;
	const char  *a[] = { "ing-0", "ing-1", "ing-2", "ing-3", "ing-4" };
	const char  *b[] = { "ing-3", "ing-0", "ing-4", "ing-2", "ing-1" };
	hearth_ring *x = mk(a, 5, 128), *y = mk(b, 5, 128);
	assert_int_equal(hearth_ring_size(x), 5);
	for (size_t i = 0; i < 5; i++) {
		assert_string_equal(hearth_ring_id(x, i), a[i]);
		assert_string_equal(hearth_ring_id(y, i), a[i]);
		assert_int_equal(hearth_ring_find(y, a[i]), (long) i);
		assert_true(hearth_ring_ownership(x, i)
		    == hearth_ring_ownership(y, i));
	}
	assert_int_equal(hearth_ring_find(x, "ing-9"), -1);
	uint64_t s = 1;
	for (int i = 0; i < 2000; i++) {
		uint64_t fp = next_fp(&s);
		uint32_t o1[3], o2[3];
		char     svc[32];
		snprintf(svc, sizeof(svc), "svc-%d", i % 17);
		size_t k1
		    = hearth_ring_replicas(x, "acme", svc, fp, 3, 3, NULL, o1);
		size_t k2
		    = hearth_ring_replicas(y, "acme", svc, fp, 3, 3, NULL, o2);
		assert_int_equal(k1, 3);
		assert_int_equal(k2, 3);
		assert_memory_equal(o1, o2, sizeof(o1));
	}
	hearth_ring_free(x);
	hearth_ring_free(y);
}

static void
test_ring_shard_bounds_replicas(void **state)
{
	(void) state;
	const char *ids[10];
	char        names[10][16];
	for (int i = 0; i < 10; i++) {
		snprintf(names[i], sizeof(names[i]), "ingester-%d", i);
		ids[i] = names[i];
	}
	hearth_ring *r        = mk(ids, 10, 128);
	uint64_t     s        = 7;
	size_t       used[10] = { 0 };
	for (int t = 0; t < 50; t++) {
		char     svc[32];
		uint32_t shard[10], rep[3];
		snprintf(svc, sizeof(svc), "service-%d", t);
		size_t ns = hearth_ring_shard(r, "t1", svc, 4, shard);
		assert_int_equal(ns, 4);
		for (size_t i = 0; i < ns; i++) {
			used[shard[i]]++;
			for (size_t j = 0; j < i; j++)
				assert_int_not_equal(shard[i], shard[j]);
		}
		for (int i = 0; i < 200; i++) {
			size_t k = hearth_ring_replicas(
			    r, "t1", svc, next_fp(&s), 4, 3, NULL, rep);
			assert_int_equal(k, 3);
			for (size_t a = 0; a < k; a++) {
				int in = 0;
				for (size_t b = 0; b < ns; b++)
					in |= rep[a] == shard[b];
				assert_true(in);
				for (size_t b = 0; b < a; b++)
					assert_int_not_equal(rep[a], rep[b]);
			}
		}
	}
	/* Shards spread over the ring: every member is in some shard. */
	for (int i = 0; i < 10; i++)
		assert_true(used[i] > 0);
	/* shard_size 0 and >= members: everyone, in walk order. */
	uint32_t all[10];
	assert_int_equal(hearth_ring_shard(r, "t1", "x", 0, all), 10);
	assert_int_equal(hearth_ring_shard(r, "t1", "x", 99, all), 10);
	/* Tenant and service boundary matters. */
	uint32_t s1[4], s2[4];
	int      differ = 0;
	for (int i = 0; i < 20 && !differ; i++) {
		char t1[16], t2[16];
		snprintf(t1, sizeof(t1), "a%d", i);
		snprintf(t2, sizeof(t2), "a%d", i);
		hearth_ring_shard(r, t1, "bc", 4, s1);
		hearth_ring_shard(r, strcat(t2, "b"), "c", 4, s2);
		differ = memcmp(s1, s2, sizeof(s1)) != 0;
	}
	assert_true(differ);
	hearth_ring_free(r);
}

static void
test_ring_rf_distinct_and_capped(void **state)
{
	(void) state;
	const char  *ids[] = { "a", "b" };
	hearth_ring *r     = mk(ids, 2, 16);
	uint32_t     out[3];
	assert_int_equal(
	    hearth_ring_replicas(r, "t", "s", 42, 0, 3, NULL, out), 2);
	assert_int_not_equal(out[0], out[1]);
	assert_int_equal(
	    hearth_ring_replicas(r, "t", "s", 42, 0, 0, NULL, out), 0);
	hearth_ring_free(r);
}

static void
test_ring_unhealthy_replaced_in_shard_then_outside(void **state)
{
	(void) state;
	const char *ids[8];
	char        names[8][8];
	for (int i = 0; i < 8; i++) {
		snprintf(names[i], sizeof(names[i]), "m%d", i);
		ids[i] = names[i];
	}
	hearth_ring *r = mk(ids, 8, 64);
	uint64_t     s = 99;
	for (int it = 0; it < 300; it++) {
		uint64_t fp = next_fp(&s);
		uint32_t w[8], full[8], rep[3];
		uint8_t  healthy[8];
		uint32_t shard[4];
		/* The shard's own walk order from fp (all 4, all healthy). */
		assert_int_equal(
		    hearth_ring_replicas(r, "t", "svc", fp, 4, 4, NULL, w), 4);
		assert_int_equal(
		    hearth_ring_shard(r, "t", "svc", 4, shard), 4);
		/* The whole circle's walk order from fp. */
		assert_int_equal(
		    hearth_ring_replicas(r, "t", "svc", fp, 0, 8, NULL, full),
		    8);
		memset(healthy, 1, sizeof(healthy));
		healthy[w[0]] = 0;
		assert_int_equal(hearth_ring_replicas(
		                     r, "t", "svc", fp, 4, 3, healthy, rep),
		    3);
		assert_int_equal(rep[0], w[1]);
		assert_int_equal(rep[1], w[2]);
		assert_int_equal(rep[2], w[3]);
		/* Two down in the shard: the third replica is the first
		 * healthy member outside the shard clockwise from fp. */
		healthy[w[1]]    = 0;
		uint32_t outside = 99;
		for (int i = 0; i < 8 && outside == 99; i++) {
			int in = 0;
			for (int j = 0; j < 4; j++)
				in |= full[i] == shard[j];
			if (!in)
				outside = full[i];
		}
		assert_int_equal(hearth_ring_replicas(
		                     r, "t", "svc", fp, 4, 3, healthy, rep),
		    3);
		assert_int_equal(rep[0], w[2]);
		assert_int_equal(rep[1], w[3]);
		assert_int_equal(rep[2], outside);
	}
	/* Not enough healthy members anywhere: fewer than rf. */
	uint8_t  healthy[8] = { 0 };
	uint32_t rep[3];
	healthy[5] = 1;
	assert_int_equal(
	    hearth_ring_replicas(r, "t", "svc", 1, 4, 3, healthy, rep), 1);
	assert_int_equal(rep[0], 5);
	hearth_ring_free(r);
}

static void
test_ring_balance_three_members(void **state)
{
	(void) state;
	const char  *ids[]    = { "ingester-a", "ingester-b", "ingester-c" };
	hearth_ring *r        = mk(ids, 3, HEARTH_RING_DEFAULT_TOKENS);
	size_t       count[3] = { 0 };
	uint64_t     s        = 12345;
	for (int i = 0; i < 100000; i++) {
		uint32_t m;
		assert_int_equal(hearth_ring_replicas(
		                     r, "t", "s", next_fp(&s), 0, 1, NULL, &m),
		    1);
		count[m]++;
	}
	double sum = 0;
	for (int i = 0; i < 3; i++) {
		double share = (double) count[i] / 100000.0;
		double own   = hearth_ring_ownership(r, i);
		assert_true(share >= 0.20 && share <= 0.47);
		/* The ownership /ring shows predicts what fps measure. */
		assert_true(own - share < 0.02 && share - own < 0.02);
		sum += own;
	}
	assert_true(sum > 0.999999 && sum < 1.000001);
	hearth_ring_free(r);
}

static void
test_ring_member_added_moves_few_series(void **state)
{
	(void) state;
	const char  *ids4[] = { "i0", "i1", "i2", "i3" };
	const char  *ids5[] = { "i0", "i1", "i2", "i3", "i4" };
	hearth_ring *a = mk(ids4, 4, 128), *b = mk(ids5, 5, 128);
	uint64_t     s     = 5;
	size_t       moved = 0, n = 50000;
	for (size_t i = 0; i < n; i++) {
		uint64_t fp = next_fp(&s);
		uint32_t x, y;
		hearth_ring_replicas(a, "t", "s", fp, 0, 1, NULL, &x);
		hearth_ring_replicas(b, "t", "s", fp, 0, 1, NULL, &y);
		if (x != y) {
			moved++;
			/* A series only ever moves to the new member. */
			assert_string_equal(hearth_ring_id(b, y), "i4");
		}
	}
	double frac = (double) moved / (double) n;
	assert_true(frac > 0.10 && frac < 0.30); /* ~1/5 */
	hearth_ring_free(a);
	hearth_ring_free(b);
}

static void
test_ring_empty_and_single(void **state)
{
	(void) state;
	hearth_ring *r = mk(NULL, 0, 128);
	uint32_t     out[3];
	assert_int_equal(hearth_ring_size(r), 0);
	assert_int_equal(hearth_ring_find(r, "x"), -1);
	assert_int_equal(hearth_ring_shard(r, "t", "s", 4, out), 0);
	assert_int_equal(
	    hearth_ring_replicas(r, "t", "s", 1, 4, 3, NULL, out), 0);
	assert_int_equal(hearth_ring_quorum(r, 3), 1);
	hearth_ring_free(r);
	const char *one[] = { "solo" };
	r                 = mk(one, 1, 1);
	assert_true(hearth_ring_ownership(r, 0) == 1.0);
	assert_int_equal(
	    hearth_ring_replicas(r, "t", "s", 1, 4, 3, NULL, out), 1);
	assert_int_equal(out[0], 0);
	hearth_ring_free(r);
	hearth_ring_free(NULL);
}

static void
test_ring_quorum(void **state)
{
	(void) state;
	const char  *ids[] = { "a", "b", "c", "d", "e" };
	hearth_ring *r5 = mk(ids, 5, 4), *r2 = mk(ids, 2, 4);
	assert_int_equal(hearth_ring_quorum(r5, 3), 2);
	assert_int_equal(hearth_ring_quorum(r5, 1), 1);
	assert_int_equal(hearth_ring_quorum(r5, 5), 3);
	assert_int_equal(hearth_ring_quorum(r2, 3), 2);
	hearth_ring_free(r5);
	hearth_ring_free(r2);
}

static void
test_ring_new_errors(void **state)
{
	(void) state;
	hearth_ring *r = (hearth_ring *) 1;
	hearth_err   err;
	const char  *dup[]   = { "x", "y", "x" };
	const char  *empty[] = { "x", "" };
	assert_int_equal(hearth_ring_new(dup, 3, 8, &r, &err), HEARTH_EINVAL);
	assert_null(r);
	assert_string_equal(err.msg, "ring: duplicate member id \"x\"");
	assert_int_equal(
	    hearth_ring_new(empty, 2, 8, &r, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "ring: member 1 has an empty id");
	assert_int_equal(hearth_ring_new(dup, 1, 0, &r, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "ring: tokens per member must be > 0");
	assert_int_equal(
	    hearth_ring_new(dup, HEARTH_RING_MAX_MEMBERS + 1, 8, &r, &err),
	    HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "ring: 1025 members is more than the maximum of 1024");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_deterministic_any_order),
		cmocka_unit_test(test_ring_shard_bounds_replicas),
		cmocka_unit_test(test_ring_rf_distinct_and_capped),
		cmocka_unit_test(
		    test_ring_unhealthy_replaced_in_shard_then_outside),
		cmocka_unit_test(test_ring_balance_three_members),
		cmocka_unit_test(test_ring_member_added_moves_few_series),
		cmocka_unit_test(test_ring_empty_and_single),
		cmocka_unit_test(test_ring_quorum),
		cmocka_unit_test(test_ring_new_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
