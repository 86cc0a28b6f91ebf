#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "json.h"

#include <string.h>

/* Decode the literal body s; returns the code, output in out. */
static int
unescape(const char *s, unsigned flags, char *out, size_t *len, size_t *bad)
{
	return hearth_json_unescape(s, strlen(s), flags, out, len, bad);
}

static void
test_json_unescape_simple_escapes(void **state)
{
	(void) state;
	char   out[64];
	size_t len, bad;
	assert_int_equal(unescape("a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t", 0, out,
			     &len, &bad),
	    HEARTH_JSON_STR_OK);
	assert_int_equal(len, 12);
	assert_memory_equal(out, "a\"b\\c/d\b\f\n\r\t", 13);
	/* No escapes: copied as is, UTF-8 bytes included. */
	assert_int_equal(unescape("h\xc3\xa9llo", 0, out, &len, &bad),
	    HEARTH_JSON_STR_OK);
	assert_string_equal(out, "h\xc3\xa9llo");
	assert_int_equal(unescape("", 0, out, &len, &bad), HEARTH_JSON_STR_OK);
	assert_int_equal(len, 0);
	assert_int_equal(out[0], '\0');
}

/* \u of every UTF-8 length, a surrogate pair joined, lone surrogates
 * replaced (high at the end, high before a non-surrogate escape, low
 * alone), and the escape after a lone high surrogate still read. */
static void
test_json_unescape_unicode(void **state)
{
	(void) state;
	char   out[64];
	size_t len, bad;
	assert_int_equal(unescape("\\u0041\\u00e9\\u20AC\\ud83d\\ude00", 0,
			     out, &len, &bad),
	    HEARTH_JSON_STR_OK);
	assert_string_equal(out, "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	assert_int_equal(unescape("x\\ud800", 0, out, &len, &bad),
	    HEARTH_JSON_STR_OK);
	assert_string_equal(out, "x\xef\xbf\xbd");
	assert_int_equal(unescape("\\ud800\\u0041", 0, out, &len, &bad),
	    HEARTH_JSON_STR_OK);
	assert_string_equal(out, "\xef\xbf\xbd" "A");
	assert_int_equal(unescape("\\udc00y", 0, out, &len, &bad),
	    HEARTH_JSON_STR_OK);
	assert_string_equal(out, "\xef\xbf\xbdy");
	/* The output never outgrows the input. */
	const char *worst = "\\u0800\\u0800\\ud83d\\ude00";
	assert_int_equal(unescape(worst, 0, out, &len, &bad),
	    HEARTH_JSON_STR_OK);
	assert_true(len <= strlen(worst));
}

static void
test_json_unescape_nul(void **state)
{
	(void) state;
	char   out[16];
	size_t len, bad;
	assert_int_equal(unescape("a\\u0000b", 0, out, &len, &bad),
	    HEARTH_JSON_STR_OK);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "a\0b", 4);
	assert_int_equal(unescape("a\\u0000b", HEARTH_JSON_NO_NUL, out, &len,
			     &bad),
	    HEARTH_JSON_STR_NUL);
	assert_int_equal(bad, 7); /* just past the escape */
}

/* Each error and where it points. */
static void
test_json_unescape_errors(void **state)
{
	(void) state;
	char   out[32];
	size_t len, bad;
	assert_int_equal(unescape("ab\ncd", 0, out, &len, &bad),
	    HEARTH_JSON_STR_CONTROL);
	assert_int_equal(bad, 2);
	assert_int_equal(unescape("ab\\x", 0, out, &len, &bad),
	    HEARTH_JSON_STR_ESCAPE);
	assert_int_equal(bad, 3);
	assert_int_equal(unescape("ab\\", 0, out, &len, &bad),
	    HEARTH_JSON_STR_ESCAPE);
	assert_int_equal(bad, 3);
	assert_int_equal(unescape("a\\u12G4", 0, out, &len, &bad),
	    HEARTH_JSON_STR_UNICODE);
	assert_int_equal(bad, 2);
	assert_int_equal(unescape("a\\u12", 0, out, &len, &bad),
	    HEARTH_JSON_STR_UNICODE);
	assert_int_equal(bad, 2);
	/* A bad second half of a would-be pair is its own bad escape. */
	assert_int_equal(unescape("\\ud800\\uzzzz", 0, out, &len, &bad),
	    HEARTH_JSON_STR_UNICODE);
	assert_int_equal(bad, 7);
}

/* Without an output buffer the string is only checked, with the same
 * verdicts and length. */
static void
test_json_unescape_check_only(void **state)
{
	(void) state;
	size_t len, bad;
	assert_int_equal(unescape("\\ud83d\\ude00\\n", 0, NULL, &len, &bad),
	    HEARTH_JSON_STR_OK);
	assert_int_equal(len, 5);
	assert_int_equal(unescape("a\\q", 0, NULL, &len, &bad),
	    HEARTH_JSON_STR_ESCAPE);
	assert_int_equal(bad, 2);
}

static void
test_json_hex4(void **state)
{
	(void) state;
	uint32_t v;
	assert_int_equal(hearth_json_hex4("aF09", &v), 0);
	assert_int_equal(v, 0xaf09);
	assert_int_equal(hearth_json_hex4("12 4", &v), -1);
	assert_int_equal(hearth_json_hex4("12g4", &v), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_unescape_simple_escapes),
		cmocka_unit_test(test_json_unescape_unicode),
		cmocka_unit_test(test_json_unescape_nul),
		cmocka_unit_test(test_json_unescape_errors),
		cmocka_unit_test(test_json_unescape_check_only),
		cmocka_unit_test(test_json_hex4),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
