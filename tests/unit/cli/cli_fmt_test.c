#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cli_fmt.h"

/* Format one value and compare; every case names its expectation. */
static void
check_value(int64_t v, hearth_cli_unit u, int sign, const char *want)
{
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_cli_fmt_value(&b, v, u, sign);
	assert_string_equal(b.data, want);
	hearth_buf_fini(&b);
}

static void
test_fmt_value_nanoseconds_ladder(void **state)
{
	(void) state;
	hearth_cli_unit ns = HEARTH_CLI_UNIT_NANOSECONDS;
	check_value(0, ns, 0, "0 ns");
	check_value(999, ns, 0, "999 ns");
	check_value(1000, ns, 0, "1.00 us");
	check_value(12345, ns, 0, "12.35 us");
	check_value(30000000, ns, 0, "30.00 ms");
	check_value(1500000000, ns, 0, "1.50 s");
	check_value(59994999999LL, ns, 0, "59.99 s");
	check_value(90000000000LL, ns, 0, "1.50 min");
	check_value(7200000000000LL, ns, 0, "2.00 h");
}

static void
test_fmt_value_rounding_moves_to_next_unit(void **state)
{
	(void) state;
	/* 999.999 us rounds to 1000.00: shown as the next unit instead. */
	check_value(999999, HEARTH_CLI_UNIT_NANOSECONDS, 0, "1.00 ms");
	check_value(59999000000LL, HEARTH_CLI_UNIT_NANOSECONDS, 0, "1.00 min");
	check_value(1048575, HEARTH_CLI_UNIT_BYTES, 0, "1.00 MiB");
	check_value(999999, HEARTH_CLI_UNIT_COUNT, 0, "1.00 M");
}

static void
test_fmt_value_bytes_and_counts(void **state)
{
	(void) state;
	check_value(1023, HEARTH_CLI_UNIT_BYTES, 0, "1023 B");
	check_value(1024, HEARTH_CLI_UNIT_BYTES, 0, "1.00 KiB");
	check_value(1536, HEARTH_CLI_UNIT_BYTES, 0, "1.50 KiB");
	check_value(12582912, HEARTH_CLI_UNIT_BYTES, 0, "12.00 MiB");
	check_value(3489660928LL, HEARTH_CLI_UNIT_BYTES, 0, "3.25 GiB");
	check_value(999, HEARTH_CLI_UNIT_COUNT, 0, "999");
	check_value(1234, HEARTH_CLI_UNIT_COUNT, 0, "1.23 K");
	check_value(45678901, HEARTH_CLI_UNIT_COUNT, 0, "45.68 M");
	check_value(INT64_MAX, HEARTH_CLI_UNIT_COUNT, 0, "9223.37 P");
}

static void
test_fmt_value_signs(void **state)
{
	(void) state;
	check_value(40000000, HEARTH_CLI_UNIT_NANOSECONDS, 1, "+40.00 ms");
	check_value(-40000000, HEARTH_CLI_UNIT_NANOSECONDS, 1, "-40.00 ms");
	check_value(-5, HEARTH_CLI_UNIT_COUNT, 0, "-5");
	check_value(0, HEARTH_CLI_UNIT_COUNT, 1, "0");
	check_value(INT64_MIN, HEARTH_CLI_UNIT_COUNT, 0, "-9223.37 P");
}

static void
test_fmt_percent_and_change(void **state)
{
	(void) state;
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_cli_fmt_percent(&b, 50, 60);
	hearth_buf_putc(&b, ' ');
	hearth_cli_fmt_percent(&b, 60, 60);
	hearth_buf_putc(&b, ' ');
	hearth_cli_fmt_percent(&b, 5, 0);
	hearth_buf_putc(&b, ' ');
	hearth_cli_fmt_change(&b, 10, 50);
	hearth_buf_putc(&b, ' ');
	hearth_cli_fmt_change(&b, 40, 30);
	hearth_buf_putc(&b, ' ');
	hearth_cli_fmt_change(&b, 0, 7);
	hearth_buf_putc(&b, ' ');
	hearth_cli_fmt_change(&b, 0, 0);
	hearth_buf_putc(&b, ' ');
	hearth_cli_fmt_change(&b, 100000000, 100000001);
	assert_string_equal(
	    b.data, "83.33% 100.00% 0.00% +400.00% -25.00% new 0.00% 0.00%");
	hearth_buf_fini(&b);
}

static void
test_fmt_time_rfc3339_utc(void **state)
{
	(void) state;
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_cli_fmt_time(&b, 1700000115);
	hearth_buf_putc(&b, ' ');
	hearth_cli_fmt_time(&b, 0);
	assert_string_equal(
	    b.data, "2023-11-14T22:15:15Z 1970-01-01T00:00:00Z");
	hearth_buf_fini(&b);
}

static void
test_fmt_sparkline_levels_and_zero_gaps(void **state)
{
	(void) state;
	int64_t    v[] = { 0, 1, 2, 4, 8, 0, -3 };
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_cli_fmt_sparkline(&b, v, 7, 60);
	/* 1/8 -> U+2581, 2/8 -> U+2582, 4/8 -> U+2584, 8/8 -> U+2588. */
	assert_string_equal(b.data,
	    " \xe2\x96\x81\xe2\x96\x82\xe2\x96\x84"
	    "\xe2\x96\x88  ");
	assert_int_equal(hearth_cli_fmt_width(b.data, b.len), 7);
	hearth_buf_fini(&b);
}

static void
test_fmt_sparkline_groups_to_width(void **state)
{
	(void) state;
	int64_t v[240];
	for (int i = 0; i < 240; i++)
		v[i] = i < 120 ? 0 : 1;
	v[0] = 1; /* group 0 sums to 1 of max 4: level 2 */
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_cli_fmt_sparkline(&b, v, 240, 60);
	assert_int_equal(hearth_cli_fmt_width(b.data, b.len), 60);
	assert_memory_equal(b.data, "\xe2\x96\x82 ", 4);
	/* Column 30 onwards: groups of four ones, the full block. */
	const char *full = "\xe2\x96\x88";
	assert_memory_equal(b.data + b.len - 3, full, 3);
	hearth_buf_reset(&b);
	hearth_cli_fmt_sparkline(&b, v, 0, 60);
	assert_int_equal(b.len, 0);
	hearth_buf_fini(&b);
}

static void
test_fmt_table_aligns_by_characters(void **state)
{
	(void) state;
	const char           *hdr[] = { "self", "function" };
	hearth_cli_fmt_table *t     = hearth_cli_fmt_table_new(2, hdr, "rl");
	assert_non_null(t);
	const char *r1[] = { "30.00 ms", "work" };
	const char *r2[] = { "5 ns", "caf\xc3\xa9" };
	assert_int_equal(hearth_cli_fmt_table_add(t, r1), 0);
	assert_int_equal(hearth_cli_fmt_table_add(t, r2), 0);
	assert_int_equal(hearth_cli_fmt_table_rows(t), 2);
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_cli_fmt_table_write(t, &b);
	assert_string_equal(b.data,
	    "    self  function\n"
	    "30.00 ms  work\n"
	    "    5 ns  caf\xc3\xa9\n");
	hearth_buf_fini(&b);
	hearth_cli_fmt_table_free(t);

	const char *h3[] = { "name", "x", "y" };
	t                = hearth_cli_fmt_table_new(3, h3, "llr");
	const char *r3[] = { "\xc3\xa9t\xc3\xa9", "1", "22" };
	assert_int_equal(hearth_cli_fmt_table_add(t, r3), 0);
	hearth_buf_init(&b);
	hearth_cli_fmt_table_write(t, &b);
	assert_string_equal(b.data,
	    "name  x   y\n"
	    "\xc3\xa9t\xc3\xa9   1  22\n");
	hearth_buf_fini(&b);
	hearth_cli_fmt_table_free(t);
	hearth_cli_fmt_table_free(NULL);
}

static void
test_fmt_ptype_parts(void **state)
{
	(void) state;
	hearth_cli_ptype p;
	hearth_cli_fmt_ptype("process_cpu:cpu:nanoseconds:cpu:nanoseconds{"
	                     "service_name=\"a:b\"}",
	    &p);
	assert_string_equal(p.name, "process_cpu");
	assert_string_equal(p.sample_type, "cpu");
	assert_string_equal(p.sample_unit, "nanoseconds");
	assert_string_equal(p.period_type, "cpu");
	assert_string_equal(p.period_unit, "nanoseconds");
	assert_int_equal(
	    hearth_cli_fmt_unit(p.sample_unit), HEARTH_CLI_UNIT_NANOSECONDS);

	hearth_cli_fmt_ptype("memory:inuse_space:bytes:space:bytes", &p);
	assert_string_equal(p.sample_unit, "bytes");
	assert_string_equal(p.period_unit, "bytes");
	assert_int_equal(
	    hearth_cli_fmt_unit(p.sample_unit), HEARTH_CLI_UNIT_BYTES);

	hearth_cli_fmt_ptype("goroutine:goroutine:count::", &p);
	assert_string_equal(p.sample_unit, "count");
	assert_string_equal(p.period_type, "");
	assert_int_equal(
	    hearth_cli_fmt_unit(p.sample_unit), HEARTH_CLI_UNIT_COUNT);

	hearth_cli_fmt_ptype("{service_name=\"x\"}", &p);
	assert_string_equal(p.name, "");
	assert_string_equal(p.sample_unit, "");
	hearth_cli_fmt_ptype(NULL, &p);
	assert_string_equal(p.name, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fmt_value_nanoseconds_ladder),
		cmocka_unit_test(test_fmt_value_rounding_moves_to_next_unit),
		cmocka_unit_test(test_fmt_value_bytes_and_counts),
		cmocka_unit_test(test_fmt_value_signs),
		cmocka_unit_test(test_fmt_percent_and_change),
		cmocka_unit_test(test_fmt_time_rfc3339_utc),
		cmocka_unit_test(test_fmt_sparkline_levels_and_zero_gaps),
		cmocka_unit_test(test_fmt_sparkline_groups_to_width),
		cmocka_unit_test(test_fmt_table_aligns_by_characters),
		cmocka_unit_test(test_fmt_ptype_parts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
