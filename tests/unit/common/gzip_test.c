#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "gzip.h"

/* gzip-compress src into a malloc'd buffer (test helper, independent of
 * the decoder under test). */
static uint8_t *
gz(const void *src, size_t n, size_t *out_n)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
	                     Z_DEFAULT_STRATEGY),
	    Z_OK);
	size_t   cap = deflateBound(&zs, n) + 64;
	uint8_t *out = malloc(cap);
	zs.next_in   = (Bytef *) (uintptr_t) src;
	zs.avail_in  = (uInt) n;
	zs.next_out  = out;
	zs.avail_out = (uInt) cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_n = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

static uint8_t *
read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t) sz + 1);
	assert_int_equal(fread(p, 1, (size_t) sz, f), (size_t) sz);
	fclose(f);
	*n = (size_t) sz;
	return p;
}

static void
test_gzip_magic_sniff(void **state)
{
	(void) state;
	const uint8_t g[] = { 0x1f, 0x8b, 0x08 }, r[] = { 0x0a, 0x04 };
	assert_true(hearth_gzip_is_gzip(g, 3));
	assert_true(hearth_gzip_is_gzip(g, 2));
	assert_false(hearth_gzip_is_gzip(g, 1));
	assert_false(hearth_gzip_is_gzip(r, 2));
	assert_false(hearth_gzip_is_gzip(NULL, 0));
}

static void
test_gzip_roundtrip_small(void **state)
{
	(void) state;
	const char   *msg = "hello, hearth";
	size_t        zn;
	uint8_t      *z = gz(msg, strlen(msg), &zn);
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *out;
	size_t        n;
	hearth_err    err = { 0 };
	assert_int_equal(
	    hearth_gzip_decode(a, z, zn, 1 << 20, &out, &n, &err), 0);
	assert_int_equal(n, strlen(msg));
	assert_memory_equal(out, msg, n);
	free(z);
	hearth_arena_free(a);
}

static void
test_gzip_roundtrip_large_grows_buffer(void **state)
{
	(void) state;
	size_t   len = 3u << 20;
	uint8_t *src = malloc(len);
	uint32_t x   = 12345;
	for (size_t i = 0; i < len; i++) {
		x      = x * 1103515245u + 12345u;
		src[i] = (uint8_t) ((x >> 16)
		    % 7); /* compressible, not trivial */
	}
	/* A big member followed by a 1-byte one: the trailer hint (last
	 * member's ISIZE) is 1, so the decoder must grow many times. */
	size_t   n1, n2;
	uint8_t *z1 = gz(src, len, &n1), *z2 = gz("!", 1, &n2);
	uint8_t *z = malloc(n1 + n2);
	memcpy(z, z1, n1);
	memcpy(z + n1, z2, n2);
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *out;
	size_t        n;
	hearth_err    err = { 0 };
	assert_int_equal(
	    hearth_gzip_decode(a, z, n1 + n2, 64u << 20, &out, &n, &err), 0);
	assert_int_equal(n, len + 1);
	assert_memory_equal(out, src, len);
	assert_int_equal(out[len], '!');
	free(z);
	free(z1);
	free(z2);
	free(src);
	hearth_arena_free(a);
}

static void
test_gzip_concatenated_members(void **state)
{
	(void) state;
	size_t   n1, n2;
	uint8_t *z1 = gz("abc", 3, &n1), *z2 = gz("defgh", 5, &n2);
	uint8_t *cat = malloc(n1 + n2);
	memcpy(cat, z1, n1);
	memcpy(cat + n1, z2, n2);
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *out;
	size_t        n;
	hearth_err    err = { 0 };
	assert_int_equal(
	    hearth_gzip_decode(a, cat, n1 + n2, 100, &out, &n, &err), 0);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "abcdefgh", 8);
	free(z1);
	free(z2);
	free(cat);
	hearth_arena_free(a);
}

static void
test_gzip_truncated_stream(void **state)
{
	(void) state;
	const char   *msg = "the quick brown fox jumps over the lazy dog";
	size_t        zn;
	uint8_t      *z = gz(msg, strlen(msg), &zn);
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *out;
	size_t        n;
	hearth_err    err = { 0 };
	/* cut inside the trailer, inside the data, inside the header */
	size_t cuts[] = { zn - 1, zn - 8, zn / 2, 5 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		hearth_err_clear(&err);
		assert_int_equal(
		    hearth_gzip_decode(a, z, cuts[i], 1000, &out, &n, &err),
		    HEARTH_EINVAL);
		assert_string_equal(err.msg, "gzip: truncated stream");
		assert_null(out);
		assert_int_equal(n, 0);
	}
	assert_int_equal(
	    hearth_gzip_decode(a, z, 0, 1000, &out, &n, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "gzip: truncated stream");
	free(z);
	hearth_arena_free(a);
}

static void
test_gzip_corrupt_data(void **state)
{
	(void) state;
	const char   *msg = "the quick brown fox jumps over the lazy dog";
	size_t        zn;
	uint8_t      *z = gz(msg, strlen(msg), &zn);
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *out;
	size_t        n;
	hearth_err    err = { 0 };

	z[zn - 6] ^= 0xff; /* CRC32 */
	assert_int_equal(
	    hearth_gzip_decode(a, z, zn, 1000, &out, &n, &err), HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "gzip: corrupt data: incorrect data check");
	z[zn - 6] ^= 0xff;

	z[2] = 7; /* compression method other than deflate */
	assert_int_equal(
	    hearth_gzip_decode(a, z, zn, 1000, &out, &n, &err), HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "gzip: corrupt data: unknown compression method");
	z[2] = 8;

	z[10] = 0xff; /* first deflate block header: reserved type 3 */
	assert_int_equal(
	    hearth_gzip_decode(a, z, zn, 1000, &out, &n, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "gzip: corrupt data: invalid block type");

	const uint8_t plain[] = "not gzip at all";
	assert_int_equal(
	    hearth_gzip_decode(a, plain, sizeof(plain), 1000, &out, &n, &err),
	    HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "gzip: corrupt data: incorrect header check");
	free(z);
	hearth_arena_free(a);
}

static void
test_gzip_trailing_garbage(void **state)
{
	(void) state;
	size_t   zn;
	uint8_t *z   = gz("abc", 3, &zn);
	uint8_t *buf = malloc(zn + 3);
	memcpy(buf, z, zn);
	memcpy(buf + zn, "xyz", 3);
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *out;
	size_t        n;
	hearth_err    err = { 0 };
	assert_int_equal(
	    hearth_gzip_decode(a, buf, zn + 3, 1000, &out, &n, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "gzip: corrupt data: 3 unexpected bytes "
	    "after the end of the gzip stream");
	free(z);
	free(buf);
	hearth_arena_free(a);
}

static void
test_gzip_output_cap(void **state)
{
	(void) state;
	size_t   len = 100000;
	uint8_t *src = calloc(1, len);
	size_t   zn;
	uint8_t *z
	    = gz(src, len, &zn); /* ~100 bytes: a zip bomb in miniature */
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *out;
	size_t        n;
	hearth_err    err = { 0 };
	assert_int_equal(hearth_gzip_decode(a, z, zn, len - 1, &out, &n, &err),
	    HEARTH_ETOOLARGE);
	assert_string_equal(err.msg, "decompressed body exceeds 99999 bytes");
	assert_null(out);
	/* exactly at the cap is fine */
	assert_int_equal(hearth_gzip_decode(a, z, zn, len, &out, &n, &err), 0);
	assert_int_equal(n, len);
	/* a tiny cap with the zlib state itself over the arena cap */
	free(z);
	free(src);
	hearth_arena_free(a);
}

static void
test_gzip_lying_isize_bounded(void **state)
{
	(void) state;
	size_t   zn;
	uint8_t *z = gz("abc", 3, &zn);
	/* ISIZE = 4 GiB - 1 from a 23-byte body: must not size the buffer */
	z[zn - 4] = z[zn - 3] = z[zn - 2] = z[zn - 1] = 0xff;
	hearth_arena *a                               = hearth_arena_new(0);
	uint8_t      *out;
	size_t        n;
	hearth_err    err = { 0 };
	assert_int_equal(
	    hearth_gzip_decode(a, z, zn, (size_t) 1 << 40, &out, &n, &err),
	    HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "gzip: corrupt data: incorrect length check");
	/* zlib state (~40 KiB) plus the 64 KiB minimum buffer */
	assert_true(hearth_arena_used(a) < 256 * 1024);
	free(z);
	hearth_arena_free(a);
}

static void
test_gzip_arena_cap_is_limit_error(void **state)
{
	(void) state;
	size_t        len = 1u << 20;
	uint8_t      *src = calloc(1, len);
	size_t        zn;
	uint8_t      *z = gz(src, len, &zn);
	hearth_arena *a = hearth_arena_new(200 * 1024);
	uint8_t      *out;
	size_t        n;
	hearth_err    err = { 0 };
	assert_int_equal(
	    hearth_gzip_decode(a, z, zn, 8u << 20, &out, &n, &err),
	    HEARTH_ELIMIT);
	assert_non_null(strstr(err.msg, "request memory limit reached ("));
	free(z);
	free(src);
	hearth_arena_free(a);
}

static void
test_gzip_testdata_cpu_profile(void **state)
{
	(void) state;
	size_t   zn;
	uint8_t *z = read_file(HEARTH_TESTDATA "/pprof/cpu.pb.gz", &zn);
	assert_true(hearth_gzip_is_gzip(z, zn));
	uint32_t isize = (uint32_t) z[zn - 4] | (uint32_t) z[zn - 3] << 8
	    | (uint32_t) z[zn - 2] << 16 | (uint32_t) z[zn - 1] << 24;
	hearth_arena *a = hearth_arena_new(0);
	uint8_t      *out;
	size_t        n;
	hearth_err    err = { 0 };
	assert_int_equal(
	    hearth_gzip_decode(a, z, zn, 64u << 20, &out, &n, &err), 0);
	assert_int_equal(n, isize);
	/* Go's encoder writes time_nanos (field 9, varint) first: tag 0x48 */
	assert_int_equal(out[0], 0x48);
	free(z);
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gzip_magic_sniff),
		cmocka_unit_test(test_gzip_roundtrip_small),
		cmocka_unit_test(test_gzip_roundtrip_large_grows_buffer),
		cmocka_unit_test(test_gzip_concatenated_members),
		cmocka_unit_test(test_gzip_truncated_stream),
		cmocka_unit_test(test_gzip_corrupt_data),
		cmocka_unit_test(test_gzip_trailing_garbage),
		cmocka_unit_test(test_gzip_output_cap),
		cmocka_unit_test(test_gzip_lying_isize_bounded),
		cmocka_unit_test(test_gzip_arena_cap_is_limit_error),
		cmocka_unit_test(test_gzip_testdata_cpu_profile),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
