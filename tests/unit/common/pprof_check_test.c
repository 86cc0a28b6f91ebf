/* pprof validation: every malformed profile is refused with a message
 * naming what broke, bytes that are not a pprof, repeated fields as raw
 * bytes, the limits and the arena cap. Fixture: pprof_fixture.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pprof_fixture.h"

#include "gzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static void
test_pprof_validation_errors(void **state)
{
	(void) state;
	tprof t;

	tprof_init(&t);
	t.p.n_sample_type = 0;
	expect_error(
	    &t, NULL, HEARTH_EINVAL, "pprof: empty profile: no sample types");

	tprof_init(&t);
	t.s[1].n_value = 1;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: sample 1 has 1 values, expected 2 (one per sample_type)");

	tprof_init(&t);
	t.locid[2][1] = 99;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: sample 2 references location id 99 which does not exist");

	tprof_init(&t);
	t.f[2].name = 700;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: string index 700 out of range (string_table has 15 "
	    "entries) in function 2 name");

	tprof_init(&t);
	t.f[0].filename = -1;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: string index -1 out of range (string_table has 15 "
	    "entries) in function 0 filename");

	tprof_init(&t);
	t.st[1].unit = 15;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: string index 15 out of range (string_table has 15 "
	    "entries) in sample_type 1 unit");

	tprof_init(&t);
	t.pt.type = 20;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: string index 20 out of range (string_table has 15 "
	    "entries) in period_type type");

	tprof_init(&t);
	t.lb[3][1].str = 16;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: string index 16 out of range (string_table has 15 "
	    "entries) in sample 3 label 1 str");

	tprof_init(&t);
	Perftools__Profiles__Mapping m   = PERFTOOLS__PROFILES__MAPPING__INIT,
	                             *mp = &m;
	m.id                             = 1;
	m.build_id                       = 33;
	t.p.mapping                      = &mp;
	t.p.n_mapping                    = 1;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: string index 33 out of range (string_table has 15 "
	    "entries) in mapping 0 build_id");

	tprof_init(&t);
	t.str[5] = "b\xffr";
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: invalid UTF-8 in string_table[5]");
	t.str[5] = "\xed\xa0\x80"; /* UTF-16 surrogate */
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: invalid UTF-8 in string_table[5]");
	t.str[5] = "\xc0\xaf"; /* overlong '/' */
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: invalid UTF-8 in string_table[5]");
	t.str[5] = "\xe2\x82"; /* truncated */
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: invalid UTF-8 in string_table[5]");

	tprof_init(&t);
	t.str[0] = "x";
	expect_error(
	    &t, NULL, HEARTH_EINVAL, "pprof: string_table[0] must be \"\"");
	t.p.n_string_table = 0;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: string_table is empty (entry 0 must be \"\")");

	tprof_init(&t);
	t.str[1] = "alloc-space";
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: sample type name \"alloc-space\" contains '-'");

	tprof_init(&t);
	t.l[2].id = 0;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: location 2 has id 0 (ids must be non-zero)");

	tprof_init(&t);
	t.f[2].id = 1;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: duplicate function id 1 (function 0 and 2)");

	tprof_init(&t);
	t.ln[2][1].function_id = 9;
	expect_error(&t, NULL, HEARTH_EINVAL,
	    "pprof: location id 3 references function id 9 which does not "
	    "exist");
}

static void
test_pprof_malformed_protobuf(void **state)
{
	(void) state;
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	const char *msg = "pprof: malformed protobuf (truncated or not "
	                  "a pprof)";

	const uint8_t garbage[] = "this is not a protobuf at all";
	assert_int_equal(hearth_pprof_decode(a, garbage, sizeof(garbage) - 1,
	                     NULL, &res, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, msg);

	/* every proper prefix of a valid profile that cuts a field fails */
	tprof t;
	tprof_init(&t);
	size_t   n;
	uint8_t *b      = tprof_pack(&t, &n);
	size_t   cuts[] = { n - 1, n - 2, n / 2, 1 };
	for (size_t i = 0; i < 4; i++) {
		hearth_err_clear(&err);
		int rc = hearth_pprof_decode(a, b, cuts[i], NULL, &res, &err);
		assert_int_equal(rc, HEARTH_EINVAL);
		assert_non_null(strstr(err.msg, "pprof: "));
	}
	/* cutting inside the last string: a length prefix past the end */
	assert_int_equal(
	    hearth_pprof_decode(a, b, n - 1, NULL, &res, &err), HEARTH_EINVAL);
	free(b);

	/* field 2 (sample) as a length-delimited field claiming 100 bytes */
	const uint8_t trunc[] = { 0x12, 0x64, 0x0a, 0x01 };
	assert_int_equal(
	    hearth_pprof_decode(a, trunc, sizeof(trunc), NULL, &res, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, msg);

	/* an empty body is a valid empty Profile with no sample types */
	assert_int_equal(
	    hearth_pprof_decode(a, "", 0, NULL, &res, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "pprof: empty profile: no sample types");

	/* a corrupt gzip body reports the gzip error */
	const uint8_t badgz[] = { 0x1f, 0x8b, 0x08, 0x00, 0x00 };
	assert_int_equal(
	    hearth_pprof_decode(a, badgz, sizeof(badgz), NULL, &res, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "gzip: truncated stream");
	hearth_arena_free(a);
}

/* Raw bytes as Go's encoder writes short repeated fields: unpacked. */
static void
test_pprof_raw_bytes_unpacked_repeated(void **state)
{
	(void) state;
	const uint8_t raw[] = {
		/* string_table: "", "cpu", "ns", "f" */
		0x32,
		0x00,
		0x32,
		0x03,
		'c',
		'p',
		'u',
		0x32,
		0x02,
		'n',
		's',
		0x32,
		0x01,
		'f',
		/* sample_type {type 1, unit 2} */
		0x0a,
		0x04,
		0x08,
		0x01,
		0x10,
		0x02,
		/* function {id 1, name 3} */
		0x2a,
		0x04,
		0x08,
		0x01,
		0x10,
		0x03,
		/* location {id 7, line {function_id 1}} */
		0x22,
		0x06,
		0x08,
		0x07,
		0x22,
		0x02,
		0x08,
		0x01,
		/* sample {location_id 7 (unpacked), location_id 7,
		 *         value 5 (unpacked)} */
		0x12,
		0x06,
		0x08,
		0x07,
		0x08,
		0x07,
		0x10,
		0x05,
		/* sample {location_id [7] packed, value [3] packed} */
		0x12,
		0x06,
		0x0a,
		0x01,
		0x07,
		0x12,
		0x01,
		0x03,
		/* time_nanos 1 */
		0x48,
		0x01,
	};
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(
	    hearth_pprof_decode(a, raw, sizeof(raw), NULL, &res, &err), 0);
	const hearth_upload *u = res.upload;
	assert_int_equal(u->time_nanos, 1);
	assert_int_equal(row_value(u, 0, "f;f", 0), 5);
	assert_int_equal(row_value(u, 0, "f", 0), 3);
	hearth_arena_free(a);
}

static void
test_pprof_limits(void **state)
{
	(void) state;
	tprof t;
	tprof_init(&t);
	size_t   n;
	uint8_t *b = tprof_pack(&t, &n);
	char     want[256];

	hearth_pprof_opts o = { .max_samples = 3 };
	expect_error(&t, &o, HEARTH_ELIMIT,
	    "pprof: the profile exceeds the samples count limit "
	    "(max_profile_stacktrace_samples, actual: 4, limit: 3)");
	o.max_samples         = 4;
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(&t, &o, a, &res, &err), 0);

	hearth_pprof_opts o2 = { .max_sample_labels = 2 };
	expect_error(&t, &o2, HEARTH_ELIMIT,
	    "pprof: the profile exceeds the sample labels limit "
	    "(max_profile_stacktrace_sample_labels, actual: 3, limit: 2)");

	hearth_pprof_opts o3 = { .max_profile_size_bytes = n - 1 };
	snprintf(want, sizeof(want),
	    "pprof: the profile exceeds the size limit "
	    "(max_profile_size_bytes, actual: %zu, limit: %zu)",
	    n, n - 1);
	expect_error(&t, &o3, HEARTH_ELIMIT, want);
	o3.max_profile_size_bytes = n;
	assert_int_equal(tprof_decode(&t, &o3, a, &res, &err), 0);

	/* gzip body: decompression stops at the size limit */
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
	                     Z_DEFAULT_STRATEGY),
	    Z_OK);
	uint8_t gz[1024];
	zs.next_in   = b;
	zs.avail_in  = (uInt) n;
	zs.next_out  = gz;
	zs.avail_out = sizeof(gz);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t gn = sizeof(gz) - zs.avail_out;
	deflateEnd(&zs);
	hearth_pprof_opts o4 = { .max_profile_size_bytes = 10 };
	assert_int_equal(
	    hearth_pprof_decode(a, gz, gn, &o4, &res, &err), HEARTH_ELIMIT);
	assert_string_equal(err.msg,
	    "pprof: the profile exceeds the size limit "
	    "(max_profile_size_bytes, actual: more than 10, limit: 10)");
	hearth_pprof_opts o5 = { .max_decompressed = 10 };
	assert_int_equal(
	    hearth_pprof_decode(a, gz, gn, &o5, &res, &err), HEARTH_ETOOLARGE);
	assert_string_equal(err.msg, "decompressed body exceeds 10 bytes");
	assert_int_equal(hearth_pprof_decode(a, gz, gn, NULL, &res, &err), 0);
	assert_int_equal(hearth_upload_total(res.upload, 1), 70);
	hearth_arena_free(a);
	free(b);
}

static void
test_pprof_arena_cap_is_limit_error(void **state)
{
	(void) state;
	size_t   n;
	uint8_t *body = read_file("heap.pb", &n);
	/* The arena use of a full decode is deterministic: exactly that
	 * much succeeds, anything less is a limit error, never a crash. */
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(hearth_pprof_decode(a, body, n, NULL, &res, &err), 0);
	size_t used = hearth_arena_used(a);
	hearth_arena_free(a);
	size_t caps[]
	    = { 16, 4096, used / 16, used / 4, used / 2, used - 1, used };
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		a = hearth_arena_new(caps[i]);
		hearth_err_clear(&err);
		int rc = hearth_pprof_decode(a, body, n, NULL, &res, &err);
		if (caps[i] == used) {
			assert_int_equal(rc, 0);
		} else {
			assert_int_equal(rc, HEARTH_ELIMIT);
			assert_non_null(
			    strstr(err.msg, "request memory limit reached ("));
		}
		hearth_arena_free(a);
	}
	free(body);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pprof_validation_errors),
		cmocka_unit_test(test_pprof_malformed_protobuf),
		cmocka_unit_test(test_pprof_raw_bytes_unpacked_repeated),
		cmocka_unit_test(test_pprof_limits),
		cmocka_unit_test(test_pprof_arena_cap_is_limit_error),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
