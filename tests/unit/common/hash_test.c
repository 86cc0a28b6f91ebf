#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "hash.h"

#include <stdlib.h>

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
	return x < y ? -1 : x > y;
}

/* splitmix64's finaliser: known values, and dense ids (the tables' keys)
 * spread over the low bits a table masks. */
static void
test_hash_u64(void **state)
{
	(void) state;
	assert_int_equal(hearth_hash_u64(0), 0);
	assert_true(hearth_hash_u64(1) == 0x5692161d100b05e5ULL);
	enum { N = 4096 };
	uint64_t *v = malloc(N * sizeof(*v));
	size_t	  buckets[64] = { 0 };
	for (uint64_t i = 0; i < N; i++) {
		v[i] = hearth_hash_u64(i << 32 | 7); /* (parent, name) pairs */
		buckets[v[i] & 63]++;
	}
	qsort(v, N, sizeof(*v), cmp_u64);
	for (size_t i = 1; i < N; i++)
		assert_true(v[i] != v[i - 1]);
	for (size_t b = 0; b < 64; b++)
		assert_true(buckets[b] > N / 64 / 2 && buckets[b] < N / 64 * 2);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_u64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
