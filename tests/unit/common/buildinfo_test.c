#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "buildinfo.h"

/* Generated fields hold only what buildinfo.cmake lets through, so they
 * need no quoting in the log line, the metric labels or JSON. */
static void
assert_plain(const char *s)
{
	assert_true(strlen(s) > 0);
	for (const char *p = s; *p; p++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789._:+/-",
			*p)
		    == NULL)
			fail_msg("unexpected byte 0x%02x in \"%s\"",
			    (unsigned char) *p, s);
}

static void
test_buildinfo_fields(void **state)
{
	(void) state;
	const hearth_buildinfo *b = hearth_buildinfo_get();
	assert_string_equal(b->version, HEARTH_TEST_VERSION);
	assert_plain(b->revision);
	assert_plain(b->branch);
	assert_plain(b->date);
	/* "gcc 12.2.0", "clang 14.0.6": a name and major.minor.patch. */
	const char *v = strchr(b->compiler, ' ');
	assert_non_null(v);
	assert_true(strncmp(b->compiler, "gcc ", 4) == 0
	    || strncmp(b->compiler, "clang ", 6) == 0);
	assert_true(strspn(v + 1, "0123456789.") == strlen(v + 1));
	/* A revision is 12 hex digits (maybe "-dirty"), or "unknown". */
	if (strcmp(b->revision, "unknown") != 0) {
		assert_true(strspn(b->revision, "0123456789abcdef") == 12);
		assert_true(b->revision[12] == '\0'
		    || strcmp(b->revision + 12, "-dirty") == 0);
	}
}

static void
test_buildinfo_line(void **state)
{
	(void) state;
	const hearth_buildinfo *b = hearth_buildinfo_get();
	hearth_buf		line;
	char			want[512];
	hearth_buf_init(&line);
	assert_int_equal(hearth_buildinfo_line(&line, "hearth", NULL), 0);
	snprintf(want, sizeof(want), "hearth %s (revision %s, branch %s, %s, ",
	    b->version, b->revision, b->branch, b->date);
	assert_true(strncmp(line.data, want, strlen(want)) == 0);
	/* The compiler closes it. */
	char tail[128];
	snprintf(tail, sizeof(tail), ", %s)", b->compiler);
	assert_string_equal(line.data + line.len - strlen(tail), tail);
	assert_null(strchr(line.data, '\n'));
	hearth_buf_fini(&line);
}

/* Pyroscope's (Prometheus') shape, keys in a fixed order. */
static void
test_buildinfo_json(void **state)
{
	(void) state;
	const hearth_buildinfo *b = hearth_buildinfo_get();
	hearth_buf		j;
	char			want[512];
	hearth_buf_init(&j);
	assert_int_equal(hearth_buildinfo_json(&j), 0);
	snprintf(want, sizeof(want),
	    "{\"status\":\"success\",\"data\":{\"version\":\"%s\","
	    "\"revision\":\"%s\",\"branch\":\"%s\",\"buildUser\":\"\","
	    "\"buildDate\":\"%s\",\"goVersion\":\"",
	    b->version, b->revision, b->branch, b->date);
	assert_true(strncmp(j.data, want, strlen(want)) == 0);
	assert_string_equal(j.data + j.len - 3, "\"}}");
	hearth_buf_fini(&j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buildinfo_fields),
		cmocka_unit_test(test_buildinfo_line),
		cmocka_unit_test(test_buildinfo_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
