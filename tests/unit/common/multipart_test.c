#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "multipart.h"

/* Go's multipart.Writer: 30 random bytes as 60 hex digits. */
#define GO_B "9c5e3f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829304"

/* Exactly what pyroscope-go sends (ingest-http.md §9.1): CreateFormFile
 * twice (headers sorted by name), first delimiter without a leading CRLF,
 * then "\r\n--B\r\n" between parts and "\r\n--B--\r\n" at the end. The
 * profile bytes contain CR, LF, "--" and a boundary prefix on purpose. */
static const char go_body[]
    = "--" GO_B "\r\n"
      "Content-Disposition: form-data; name=\"profile\"; "
      "filename=\"profile.pprof\"\r\n"
      "Content-Type: application/octet-stream\r\n"
      "\r\n"
      "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\r\n--" GO_B "x\n--\r\n\x00\x01"
      "\r\n--" GO_B "\r\n"
      "Content-Disposition: form-data; name=\"sample_type_config\"; "
      "filename=\"sample_type_config.json\"\r\n"
      "Content-Type: application/octet-stream\r\n"
      "\r\n"
      "{\"contentions\":{\"units\":\"lock_samples\",\"display-name\":"
      "\"mutex_count\"}}"
      "\r\n--" GO_B "--\r\n";

static const char go_profile[]
    = "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff\r\n--" GO_B
      "x\n--\r\n\x00\x01";

typedef struct mp_result {
	hearth_arena          *a;
	hearth_multipart_part *parts;
	size_t                 n;
	hearth_err             err;
	int                    rc;
} mp_result;

static void
parse(mp_result *r, const char *body, size_t len, const char *b)
{
	r->a     = hearth_arena_new(0);
	r->parts = NULL;
	r->n     = 99;
	r->rc    = hearth_multipart_parse(
	       r->a, body, len, b, strlen(b), &r->parts, &r->n, &r->err);
}

static void
expect_error(const char *body, size_t len, const char *b, const char *msg)
{
	mp_result r;
	parse(&r, body, len, b);
	assert_int_equal(r.rc, HEARTH_EINVAL);
	assert_string_equal(r.err.msg, msg);
	assert_null(r.parts);
	assert_int_equal(r.n, 0);
	hearth_arena_free(r.a);
}

static void
test_multipart_go_writer_body(void **state)
{
	(void) state;
	mp_result r;
	parse(&r, go_body, sizeof(go_body) - 1, GO_B);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.parts[0].name, "profile");
	assert_string_equal(r.parts[0].filename, "profile.pprof");
	assert_string_equal(
	    r.parts[0].content_type, "application/octet-stream");
	assert_int_equal(r.parts[0].len, sizeof(go_profile) - 1);
	assert_memory_equal(
	    r.parts[0].data, go_profile, sizeof(go_profile) - 1);
	/* zero-copy: the slice points into the body */
	assert_true(r.parts[0].data > go_body
	    && r.parts[0].data < go_body + sizeof(go_body));
	assert_string_equal(r.parts[1].name, "sample_type_config");
	assert_string_equal(r.parts[1].filename, "sample_type_config.json");
	const char *json = "{\"contentions\":{\"units\":\"lock_samples\","
	                   "\"display-name\":\"mutex_count\"}}";
	assert_int_equal(r.parts[1].len, strlen(json));
	assert_memory_equal(r.parts[1].data, json, strlen(json));
	hearth_arena_free(r.a);
}

static void
test_multipart_boundary_forms(void **state)
{
	(void) state;
	static const struct {
		const char *ct;
		const char *want;
	} cases[] = {
		{ "multipart/form-data; boundary=" GO_B, GO_B },
		{ "multipart/form-data; boundary=\"a b:c\"", "a b:c" },
		{ "Multipart/Form-Data; charset=utf-8; BOUNDARY=xyz", "xyz" },
		{ "multipart/"
		  "form-data;boundary=----formdata-undici-0324188431",
		    "----formdata-undici-0324188431" },
		{ "  multipart/mixed ; boundary = abc ; x=\"y;z\"", "abc" },
		{ "multipart/form-data; a=\"q\\\"uoted\"; boundary=b1", "b1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hearth_err  err;
		const char *b = NULL;
		size_t      n = 0;
		int rc = hearth_multipart_boundary(cases[i].ct, &b, &n, &err);
		if (rc != 0)
			fail_msg("case %zu: %s", i, err.msg);
		assert_int_equal(n, strlen(cases[i].want));
		assert_memory_equal(b, cases[i].want, n);
		assert_true(b > cases[i].ct); /* zero-copy */
	}
}

static void
test_multipart_boundary_errors(void **state)
{
	(void) state;
	char long_ct[300];
	snprintf(long_ct, sizeof(long_ct),
	    "multipart/form-data; boundary=%0201d", 7);
	const struct {
		const char *ct;
		const char *msg;
	} cases[] = {
		{ NULL,
		    "multipart: no Content-Type header (expected "
		    "multipart/form-data; boundary=...)" },
		{ "text/plain; boundary=x",
		    "multipart: Content-Type \"text/plain; boundary=x\" is "
		    "not "
		    "multipart" },
		{ "multipart/form-data",
		    "multipart: Content-Type \"multipart/form-data\" has no "
		    "boundary parameter" },
		{ "multipart/form-data;",
		    "multipart: Content-Type \"multipart/form-data;\" has no "
		    "boundary parameter" },
		{ "multipart/form-data; boundary=",
		    "multipart: malformed parameters in Content-Type "
		    "\"multipart/form-data; boundary=\" at offset 19" },
		{ "multipart/form-data; boundary=\"\"",
		    "multipart: boundary of 0 bytes in Content-Type (must be "
		    "1 "
		    "to 200)" },
		{ "multipart/form-data; boundary=\"abc",
		    "multipart: malformed parameters in Content-Type "
		    "\"multipart/form-data; boundary=\"abc\" at offset 19" },
		{ "multipart/form-data; boundary=\"a\\\"b\"",
		    "multipart: boundary in Content-Type has a backslash or "
		    "control character at offset 32" },
		{ "multipart/form-data x",
		    "multipart: malformed parameters in Content-Type "
		    "\"multipart/form-data x\" at offset 19" },
		{ long_ct,
		    "multipart: boundary of 201 bytes in Content-Type (must "
		    "be "
		    "1 to 200)" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hearth_err  err;
		const char *b = "x";
		size_t      n = 9;
		int rc = hearth_multipart_boundary(cases[i].ct, &b, &n, &err);
		if (rc != HEARTH_EINVAL)
			fail_msg("case %zu: rc %d", i, rc);
		assert_string_equal(err.msg, cases[i].msg);
		assert_null(b);
		assert_int_equal(n, 0);
	}
}

static void
test_multipart_lf_only_preamble_epilogue(void **state)
{
	(void) state;
	const char *body = "This is a preamble.\n--B\n"
	                   "content-disposition: form-data; name=a\n"
	                   "CONTENT-TYPE:text/plain\n"
	                   "\n"
	                   "line1\nline2\n"
	                   "--B\t \n"
	                   "Content-Disposition: form-data; name=\"b\"\n"
	                   "\n"
	                   "x\r\n"
	                   "--B--  \n"
	                   "epilogue --B\n";
	mp_result   r;
	parse(&r, body, strlen(body), "B");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.parts[0].name, "a");
	assert_null(r.parts[0].filename);
	assert_string_equal(r.parts[0].content_type, "text/plain");
	assert_int_equal(r.parts[0].len, 11);
	assert_memory_equal(r.parts[0].data, "line1\nline2", 11);
	assert_string_equal(r.parts[1].name, "b");
	assert_null(r.parts[1].content_type);
	assert_int_equal(r.parts[1].len, 1);
	assert_memory_equal(r.parts[1].data, "x", 1);
	hearth_arena_free(r.a);
}

static void
test_multipart_empty_parts_and_only_closing(void **state)
{
	(void) state;
	/* Part 1: CRLF of its own before the delimiter; part 2: delimiter
	 * straight after the header block; closing at end of body without
	 * a final line break. */
	const char *body = "--B\r\n"
	                   "Content-Disposition: form-data; name=\"e1\"\r\n"
	                   "\r\n"
	                   "\r\n--B\r\n"
	                   "Content-Disposition: form-data; name=\"e2\"\r\n"
	                   "\r\n"
	                   "--B--";
	mp_result   r;
	parse(&r, body, strlen(body), "B");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.n, 2);
	assert_int_equal(r.parts[0].len, 0);
	assert_int_equal(r.parts[1].len, 0);
	assert_string_equal(r.parts[1].name, "e2");
	hearth_arena_free(r.a);

	parse(&r, "--B--\r\n", 7, "B");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.n, 0);
	assert_null(r.parts);
	hearth_arena_free(r.a);
}

static void
test_multipart_header_details(void **state)
{
	(void) state;
	const char *body
	    = "--B\r\n"
	      "X-Other: 1\r\n"
	      "Content-Disposition: form-data;\r\n"
	      "\tname=\"folded\";\r\n"
	      " filename=\"a\\\"b.txt\"\r\n"
	      "Content-Disposition: form-data; name=\"second\"\r\n"
	      "Content-Type :  application/json \r\n"
	      "\r\n"
	      "{}\r\n"
	      "--B--\r\n";
	mp_result r;
	parse(&r, body, strlen(body), "B");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.parts[0].name, "folded");
	assert_string_equal(r.parts[0].filename, "a\"b.txt");
	assert_string_equal(r.parts[0].content_type, "application/json");
	assert_int_equal(r.parts[0].len, 2);
	hearth_arena_free(r.a);
}

static void
test_multipart_missing_closing_boundary(void **state)
{
	(void) state;
	/* The Go body cut before its closing delimiter. */
	size_t cut = sizeof(go_body) - 1 - strlen("\r\n--" GO_B "--\r\n");
	expect_error(
	    go_body, cut, GO_B, "multipart: missing closing boundary");
	/* A delimiter with junk after it is data, not the end. */
	const char *junk = "--B\r\nContent-Disposition: form-data; name=a\r\n"
	                   "\r\nxx\r\n--B--junk\r\n";
	expect_error(
	    junk, strlen(junk), "B", "multipart: missing closing boundary");
	const char *bare = "--B\r\nContent-Disposition: form-data; name=a\r\n"
	                   "\r\nxx\r\n--B";
	expect_error(
	    bare, strlen(bare), "B", "multipart: missing closing boundary");
}

static void
test_multipart_header_errors(void **state)
{
	(void) state;
	expect_error("nothing here", 12, "B",
	    "multipart: the body has no delimiter line for the boundary given "
	    "in Content-Type");
	expect_error("--Bx\r\n--By--", 12, "B",
	    "multipart: the body has no delimiter line for the boundary given "
	    "in Content-Type");
	const char *no_cd
	    = "--B\r\nContent-Type: text/plain\r\n\r\nx\r\n--B--";
	expect_error(no_cd, strlen(no_cd), "B",
	    "multipart: part 1 has no Content-Disposition header");
	const char *no_name = "--B\r\nContent-Disposition: form-data; "
	                      "filename=\"x\"\r\n\r\nx\r\n--B--";
	expect_error(no_name, strlen(no_name), "B",
	    "multipart: part 1: Content-Disposition \"form-data; "
	    "filename=\"x\"\" has no name parameter");
	const char *bad_cd = "--B\r\nContent-Disposition: form-data; name\r\n"
	                     "\r\nx\r\n--B--";
	expect_error(bad_cd, strlen(bad_cd), "B",
	    "multipart: part 1: malformed Content-Disposition \"form-data; "
	    "name\"");
	const char *bad_line = "--B\r\nContent-Disposition: form-data; "
	                       "name=a\r\ngarbage\r\n\r\nx\r\n--B--";
	expect_error(bad_line, strlen(bad_line), "B",
	    "multipart: part 1: malformed header line at offset 45 (expected "
	    "Name: value)");
	const char *unterminated = "--B\r\nContent-Disposition: form-data; "
	                           "name=a\r\n";
	expect_error(unterminated, strlen(unterminated), "B",
	    "multipart: part 1: headers are not ended by an empty line");
	const char *second
	    = "--B\r\nContent-Disposition: form-data; name=a\r\n"
	      "\r\n1\r\n--B\r\nX: y\r\n\r\n2\r\n--B--";
	expect_error(second, strlen(second), "B",
	    "multipart: part 2 has no Content-Disposition header");
}

static void
test_multipart_header_block_limit(void **state)
{
	(void) state;
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_buf_puts(
	    &b, "--B\r\nContent-Disposition: form-data; name=a\r\n");
	for (int i = 0; i < 200; i++) {
		hearth_buf_puts(&b, "X-Pad: ");
		for (int k = 0; k < 80; k++)
			hearth_buf_putc(&b, 'p');
		hearth_buf_puts(&b, "\r\n");
	}
	hearth_buf_puts(&b, "\r\nx\r\n--B--\r\n");
	expect_error(b.data, b.len, "B",
	    "multipart: part 1: header block is larger than 16384 bytes");
	/* A single endless header line hits the same limit. */
	hearth_buf_reset(&b);
	hearth_buf_puts(&b, "--B\r\nX: ");
	for (int k = 0; k < 20000; k++)
		hearth_buf_putc(&b, 'p');
	expect_error(b.data, b.len, "B",
	    "multipart: part 1: header block is larger than 16384 bytes");
	hearth_buf_fini(&b);
}

static void
test_multipart_part_count_limit(void **state)
{
	(void) state;
	hearth_buf b;
	hearth_buf_init(&b);
	for (int i = 0; i < HEARTH_MULTIPART_MAX_PARTS; i++)
		hearth_buf_printf(&b,
		    "--B\r\nContent-Disposition: form-data; name=p%d\r\n\r\n"
		    "%d\r\n",
		    i, i);
	hearth_buf_puts(&b, "--B--\r\n");
	mp_result r;
	parse(&r, b.data, b.len, "B");
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.n, 64);
	assert_string_equal(r.parts[63].name, "p63");
	assert_memory_equal(r.parts[63].data, "63", 2);
	hearth_arena_free(r.a);

	hearth_buf_reset(&b);
	for (int i = 0; i <= HEARTH_MULTIPART_MAX_PARTS; i++)
		hearth_buf_printf(&b,
		    "--B\r\nContent-Disposition: form-data; name=p%d\r\n\r\n"
		    "%d\r\n",
		    i, i);
	hearth_buf_puts(&b, "--B--\r\n");
	expect_error(b.data, b.len, "B", "multipart: more than 64 parts");
	hearth_buf_fini(&b);
}

static void
test_multipart_arena_cap_is_limit(void **state)
{
	(void) state;
	hearth_arena          *a = hearth_arena_new(64);
	hearth_err             err;
	hearth_multipart_part *parts;
	size_t                 n;
	assert_int_equal(
	    hearth_multipart_parse(a, go_body, sizeof(go_body) - 1, GO_B,
	        strlen(GO_B), &parts, &n, &err),
	    HEARTH_ELIMIT);
	assert_string_equal(
	    err.msg, "multipart: request memory limit reached");
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_multipart_go_writer_body),
		cmocka_unit_test(test_multipart_boundary_forms),
		cmocka_unit_test(test_multipart_boundary_errors),
		cmocka_unit_test(test_multipart_lf_only_preamble_epilogue),
		cmocka_unit_test(test_multipart_empty_parts_and_only_closing),
		cmocka_unit_test(test_multipart_header_details),
		cmocka_unit_test(test_multipart_missing_closing_boundary),
		cmocka_unit_test(test_multipart_header_errors),
		cmocka_unit_test(test_multipart_header_block_limit),
		cmocka_unit_test(test_multipart_part_count_limit),
		cmocka_unit_test(test_multipart_arena_cap_is_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
