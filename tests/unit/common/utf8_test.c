#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "utf8.h"

#include <string.h>

/* Every length of UTF-8, and what hearth_utf8_valid says of the result:
 * the two agree for every scalar value (surrogates excluded). */
static void
test_utf8_put_round_trips_through_valid(void **state)
{
	(void) state;
	char o[4];
	assert_int_equal(hearth_utf8_put(o, 0x41), 1);
	assert_int_equal(o[0], 'A');
	assert_int_equal(hearth_utf8_put(o, 0x7f), 1);
	assert_int_equal(hearth_utf8_put(o, 0x80), 2);
	assert_memory_equal(o, "\xc2\x80", 2);
	assert_int_equal(hearth_utf8_put(o, 0x20ac), 3);
	assert_memory_equal(o, "\xe2\x82\xac", 3);
	assert_int_equal(hearth_utf8_put(o, 0xffff), 3);
	assert_int_equal(hearth_utf8_put(o, 0x10ffff), 4);
	assert_memory_equal(o, "\xf4\x8f\xbf\xbf", 4);
	for (uint32_t cp = 0; cp <= 0x10ffff; cp += cp < 0x1000 ? 1 : 97) {
		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		size_t n = hearth_utf8_put(o, cp);
		assert_true(hearth_utf8_valid(o, n));
	}
}

static void
test_utf8_valid_rejects_bad_forms(void **state)
{
	(void) state;
	assert_true(hearth_utf8_valid("", 0));
	assert_true(hearth_utf8_valid("h\xc3\xa9", 3));
	assert_false(hearth_utf8_valid("\xc0\xaf", 2));	      /* overlong */
	assert_false(hearth_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
	assert_false(hearth_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	assert_false(hearth_utf8_valid("\xe2\x82", 2));	      /* cut short */
	assert_false(hearth_utf8_valid("\x80", 1));		      /* lone tail */
}

static void
test_hex_digit(void **state)
{
	(void) state;
	assert_int_equal(hearth_hex_digit('0'), 0);
	assert_int_equal(hearth_hex_digit('9'), 9);
	assert_int_equal(hearth_hex_digit('a'), 10);
	assert_int_equal(hearth_hex_digit('F'), 15);
	assert_int_equal(hearth_hex_digit('g'), -1);
	assert_int_equal(hearth_hex_digit('/'), -1);
	assert_int_equal(hearth_hex_digit('\0'), -1);
}

/* The tail a symbol limit keeps starts on a character boundary, and is
 * never empty: a limit inside the last character keeps that character. */
static void
test_utf8_tail(void **state)
{
	(void) state;
	const char *s = "a\xc3\xa9" "b\xe2\x82\xac"; /* a é b €: 1+2+1+3 */
	size_t	    n = strlen(s);
	assert_int_equal(hearth_utf8_tail(s, n, 0), 0);
	assert_int_equal(hearth_utf8_tail(s, n, n), 0);
	assert_int_equal(hearth_utf8_tail(s, n, 4), 3);	/* "b€" */
	assert_int_equal(hearth_utf8_tail(s, n, 5), 3);	/* not inside é */
	assert_int_equal(hearth_utf8_tail(s, n, 3), 4);	/* "€" */
	assert_int_equal(hearth_utf8_tail(s, n, 2), 4);	/* all of "€" */
	assert_int_equal(hearth_utf8_tail(s, n, 1), 4);
	assert_int_equal(hearth_utf8_tail("abc", 3, 1), 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_put_round_trips_through_valid),
		cmocka_unit_test(test_utf8_valid_rejects_bad_forms),
		cmocka_unit_test(test_hex_digit),
		cmocka_unit_test(test_utf8_tail),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
