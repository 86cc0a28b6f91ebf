#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "arena.h"

#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define ARENA_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ARENA_TEST_ASAN 1
#endif
#endif
#ifdef ARENA_TEST_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define MIB (1024 * 1024)

/* Allocations of mixed sizes stay 16-byte aligned, never overlap, and
 * keep their contents while later chunks are opened. */
static void
test_arena_allocations_are_aligned_and_kept(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	assert_non_null(a);
	enum { N = 2000 };
	uint8_t *p[N];
	size_t   len[N];
	for (size_t i = 0; i < N; i++) {
		len[i] = 1 + (i * 37) % 3000;
		p[i]   = hearth_arena_alloc(a, len[i]);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t) p[i] % 16, 0);
		memset(p[i], (int) (i & 0xff), len[i]);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t k = 0; k < len[i]; k++)
			assert_int_equal(p[i][k], i & 0xff);
	assert_true(hearth_arena_used(a) >= N);
	assert_true(hearth_arena_reserved(a) >= hearth_arena_used(a));
	hearth_arena_free(a);
}

/* The cap refuses the allocation that would pass it, and only that one. */
static void
test_arena_cap_refuses_growth_past_it(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(64 * 1024);
	assert_non_null(a);
	assert_non_null(hearth_arena_alloc(a, 60 * 1024));
	assert_null(hearth_arena_alloc(a, 8 * 1024));
	assert_non_null(hearth_arena_alloc(a, 1024));
	assert_true(hearth_arena_used(a) <= 64 * 1024);
	hearth_arena_free(a);
}

/* The same work after a reset is served from the chunks the first run
 * opened: nothing more is reserved from malloc. */
static void
test_arena_reset_reuses_its_chunks(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	assert_non_null(a);
	size_t reserved = 0;
	for (int run = 0; run < 3; run++) {
		for (int i = 0; i < 200; i++) /* 1.4 MB */
			assert_non_null(hearth_arena_alloc(a, 7000));
		if (run == 0)
			reserved = hearth_arena_reserved(a);
		else
			assert_int_equal(hearth_arena_reserved(a), reserved);
		hearth_arena_reset(a);
		assert_int_equal(hearth_arena_used(a), 0);
		/* everything under the retention limit is kept */
		assert_int_equal(hearth_arena_reserved(a), reserved);
	}
	hearth_arena_free(a);
}

/* A reset after a big request keeps at most 2 MiB of spare chunks (plus
 * the first one): one large query must not pin its memory for good. */
static void
test_arena_reset_returns_memory_past_the_retention_limit(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	assert_non_null(a);
	for (int i = 0; i < 40; i++)
		assert_non_null(hearth_arena_alloc(a, 512 * 1024));
	assert_true(hearth_arena_reserved(a) >= 20 * MIB);
	hearth_arena_reset(a);
	assert_true(hearth_arena_reserved(a) <= 2 * MIB + 64 * 1024);
	/* and it still works, spares and new chunks mixed */
	for (int i = 0; i < 40; i++)
		assert_non_null(hearth_arena_alloc(a, 512 * 1024));
	hearth_arena_free(a);
}

/* Memory handed out again after a reset holds the previous request's
 * bytes; calloc must still return zeros. */
static void
test_arena_calloc_zeroes_reused_memory(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	assert_non_null(a);
	for (int i = 0; i < 64; i++)
		memset(hearth_arena_alloc(a, 4096), 0xff, 4096);
	hearth_arena_reset(a);
	for (int i = 0; i < 64; i++) {
		const uint8_t *z = hearth_arena_calloc(a, 512, 8);
		assert_non_null(z);
		for (size_t k = 0; k < 4096; k++)
			assert_int_equal(z[k], 0);
	}
	assert_null(hearth_arena_calloc(a, SIZE_MAX / 4, 8)); /* overflow */
	hearth_arena_free(a);
}

/* A request bigger than the next spare chunk gets a chunk of its own and
 * leaves the spares for later allocations. */
static void
test_arena_large_allocation_after_reset(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	assert_non_null(a);
	for (int i = 0; i < 20; i++)
		assert_non_null(hearth_arena_alloc(a, 8000));
	hearth_arena_reset(a);
	size_t   before = hearth_arena_reserved(a);
	uint8_t *big	= hearth_arena_alloc(a, 3 * MIB);
	assert_non_null(big);
	memset(big, 1, 3 * MIB);
	assert_int_equal(hearth_arena_reserved(a), before + 3 * MIB);
	for (int i = 0; i < 20; i++)
		assert_non_null(hearth_arena_alloc(a, 8000));
	assert_int_equal(big[3 * MIB - 1], 1);
	hearth_arena_free(a);
}

/* The newest allocation grows in place while its chunk has room; any
 * other is copied, and the old copy stays readable. */
static void
test_arena_realloc_grows_the_newest_allocation_in_place(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	assert_non_null(a);
	char *p = hearth_arena_alloc(a, 32);
	assert_non_null(p);
	memcpy(p, "0123456789abcdef0123456789abcde", 32);
	char *q = hearth_arena_realloc(a, p, 32, 256);
	assert_ptr_equal(q, p);
	assert_memory_equal(q, "0123456789abcdef0123456789abcde", 32);
	size_t used = hearth_arena_used(a);
	assert_int_equal(used, 256);

	char *other = hearth_arena_alloc(a, 16);
	assert_non_null(other);
	char *r = hearth_arena_realloc(a, q, 256, 512);
	assert_non_null(r);
	assert_ptr_not_equal(r, q);
	assert_memory_equal(r, "0123456789abcdef0123456789abcde", 32);
	assert_memory_equal(q, "0123456789abcdef0123456789abcde", 32);

	/* growing past the chunk opens a new one and copies */
	char *s = hearth_arena_realloc(a, r, 512, 64 * 1024);
	assert_non_null(s);
	assert_memory_equal(s, "0123456789abcdef0123456789abcde", 32);
	/* shrinking is a copy too, never a write past the new size */
	char *t = hearth_arena_realloc(a, s, 64 * 1024, 8);
	assert_non_null(t);
	assert_memory_equal(t, "01234567", 8);
	assert_non_null(hearth_arena_realloc(a, NULL, 0, 100));
	hearth_arena_free(a);
}

/* In-place growth honours the cap like any allocation. */
static void
test_arena_realloc_in_place_honours_the_cap(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(4096);
	assert_non_null(a);
	char *p = hearth_arena_alloc(a, 1024);
	assert_non_null(p);
	assert_ptr_equal(hearth_arena_realloc(a, p, 1024, 4096), p);
	assert_null(hearth_arena_realloc(a, p, 4096, 4112));
	assert_int_equal(hearth_arena_used(a), 4096);
	hearth_arena_free(a);
}

/* Under ASan, memory of a reset arena is poisoned until handed out
 * again: a pointer kept past its request still faults although the chunk
 * is reused, not freed. (Without ASan there is nothing to check.) */
static void
test_arena_reset_memory_is_poisoned_under_asan(void **state)
{
	(void) state;
#ifdef ARENA_TEST_ASAN
	hearth_arena *a = hearth_arena_new(0);
	assert_non_null(a);
	char *small = hearth_arena_alloc(a, 64);
	char *big   = NULL;
	for (int i = 0; i < 10; i++)
		big = hearth_arena_alloc(a, 20000);
	assert_false(__asan_address_is_poisoned(small));
	assert_false(__asan_address_is_poisoned(big + 19999));
	hearth_arena_reset(a);
	assert_true(__asan_address_is_poisoned(small));
	assert_true(__asan_address_is_poisoned(big));
	char *again = hearth_arena_alloc(a, 64);
	assert_ptr_equal(again, small);
	assert_false(__asan_address_is_poisoned(again + 63));
	assert_true(__asan_address_is_poisoned(again + 64));
	hearth_arena_free(a);
#else
	skip();
#endif
}

static void
test_arena_strndup_terminates(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	assert_non_null(a);
	char *s = hearth_arena_strndup(a, "profiles", 4);
	assert_string_equal(s, "prof");
	assert_string_equal(hearth_arena_strdup(a, ""), "");
	hearth_arena_free(a);
	hearth_arena_free(NULL);
	hearth_arena_reset(NULL);
}

/* The growable-array helper every codec uses: capacity doubles from 16,
 * contents survive, an impossible size fails and leaves the array. */
static void
test_arena_grow(void **state)
{
	(void) state;
	hearth_arena *a	  = hearth_arena_new(1 << 20);
	uint32_t     *v	  = NULL;
	size_t	      cap = 0;
	assert_int_equal(hearth_arena_grow(a, (void **) &v, &cap, 3, sizeof(*v)), 0);
	assert_int_equal(cap, 16);
	for (uint32_t i = 0; i < 16; i++)
		v[i] = i;
	assert_int_equal(hearth_arena_grow(a, (void **) &v, &cap, 16, sizeof(*v)), 0);
	assert_int_equal(cap, 16); /* enough already */
	assert_int_equal(hearth_arena_grow(a, (void **) &v, &cap, 100, sizeof(*v)), 0);
	assert_int_equal(cap, 128);
	for (uint32_t i = 0; i < 16; i++)
		assert_int_equal(v[i], i);
	uint32_t *keep = v;
	assert_int_equal(hearth_arena_grow(a, (void **) &v, &cap, SIZE_MAX / 2,
			     sizeof(*v)),
	    -1);
	assert_int_equal(hearth_arena_grow(a, (void **) &v, &cap, 1 << 20,
			     sizeof(*v)),
	    -1); /* over the arena's 1 MiB cap */
	assert_ptr_equal(v, keep);
	assert_int_equal(cap, 128);
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arena_grow),
		cmocka_unit_test(test_arena_allocations_are_aligned_and_kept),
		cmocka_unit_test(test_arena_cap_refuses_growth_past_it),
		cmocka_unit_test(test_arena_reset_reuses_its_chunks),
		cmocka_unit_test(
		    test_arena_reset_returns_memory_past_the_retention_limit),
		cmocka_unit_test(test_arena_calloc_zeroes_reused_memory),
		cmocka_unit_test(test_arena_large_allocation_after_reset),
		cmocka_unit_test(
		    test_arena_realloc_grows_the_newest_allocation_in_place),
		cmocka_unit_test(test_arena_realloc_in_place_honours_the_cap),
		cmocka_unit_test(test_arena_reset_memory_is_poisoned_under_asan),
		cmocka_unit_test(test_arena_strndup_terminates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
