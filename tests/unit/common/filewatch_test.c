#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "filewatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct seen {
	char text[64];
	int  calls;
} seen;

/* Takes any content except text starting with "bad". */
static int
apply(void *ctx, const char *data, size_t len, hearth_err *err)
{
	seen *s = ctx;
	s->calls++;
	if (len >= 3 && memcmp(data, "bad", 3) == 0)
		return hearth_err_set(
		    err, HEARTH_EINVAL, "line 1: bad content");
	snprintf(s->text, sizeof(s->text), "%.*s", (int) len, data);
	return 0;
}

static void
put(const char *path, const char *text)
{
	char tmp[128];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static void
test_filewatch_poll_sees_changes_and_keeps_last_good(void **state)
{
	(void) state;
	char path[64] = "/tmp/hearth-filewatch-test-XXXXXX";
	int  fd       = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	put(path, "one");
	seen              s = { { 0 }, 0 };
	hearth_filewatch *w;
	hearth_err        err;
	hearth_metrics   *m = hearth_metrics_new();
	assert_int_equal(hearth_filewatch_new(path, "test", 1000, 1024, apply,
	                     &s, NULL, m, &w, &err),
	    0);
	assert_string_equal(s.text, "one");
	assert_int_equal(hearth_filewatch_poll(w, &err), 0); /* unchanged */
	assert_int_equal(s.calls, 1);
	put(path, "two");
	assert_int_equal(hearth_filewatch_poll(w, &err), 1);
	assert_string_equal(s.text, "two");
	put(path, "bad three");
	assert_int_equal(hearth_filewatch_poll(w, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "line 1: bad content");
	assert_string_equal(s.text, "two");
	/* the same bad version is not retried on every poll */
	assert_int_equal(hearth_filewatch_poll(w, &err), 0);
	assert_int_equal(s.calls, 3);
	/* a file that is gone keeps the last version */
	unlink(path);
	assert_int_equal(hearth_filewatch_poll(w, &err), 0);
	put(path, "four");
	assert_int_equal(hearth_filewatch_poll(w, &err), 1);
	assert_string_equal(s.text, "four");

	hearth_buf b;
	hearth_buf_init(&b);
	assert_int_equal(hearth_metrics_write(m, &b), 0);
	assert_non_null(strstr(b.data,
	    "hearth_runtime_file_reloads_total{what=\"test\",result="
	    "\"success\"} 2\n"));
	assert_non_null(strstr(b.data,
	    "hearth_runtime_file_reloads_total{what=\"test\",result="
	    "\"failure\"} 1\n"));
	assert_non_null(strstr(b.data,
	    "hearth_runtime_file_last_reload_successful{what=\"test\"} 1\n"));
	hearth_buf_fini(&b);
	hearth_filewatch_free(w);
	hearth_metrics_free(m);
	unlink(path);
}

static void
test_filewatch_size_cap_and_missing_file(void **state)
{
	(void) state;
	char path[64] = "/tmp/hearth-filewatch-test-XXXXXX";
	int  fd       = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	put(path, "0123456789abcdef");
	seen              s = { { 0 }, 0 };
	hearth_filewatch *w = NULL;
	hearth_err        err;
	assert_int_equal(hearth_filewatch_new(path, "tokens", 1000, 8, apply,
	                     &s, NULL, NULL, &w, &err),
	    HEARTH_EINVAL);
	assert_null(w);
	char want[160];
	snprintf(
	    want, sizeof(want), "tokens file %s: larger than 8 bytes", path);
	assert_string_equal(err.msg, want);
	unlink(path);
	assert_int_equal(hearth_filewatch_new(path, "tokens", 1000, 8, apply,
	                     &s, NULL, NULL, &w, &err),
	    HEARTH_EIO);
	snprintf(want, sizeof(want),
	    "tokens file %s: cannot open: No such file or directory", path);
	assert_string_equal(err.msg, want);
	assert_int_equal(s.calls, 0);
}

static void
test_filewatch_thread_reloads(void **state)
{
	(void) state;
	char path[64] = "/tmp/hearth-filewatch-test-XXXXXX";
	int  fd       = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	put(path, "a");
	seen              s = { { 0 }, 0 };
	hearth_filewatch *w;
	hearth_err        err;
	assert_int_equal(hearth_filewatch_new(path, "t", 10, 64, apply, &s,
	                     NULL, NULL, &w, &err),
	    0);
	assert_int_equal(hearth_filewatch_start(w, &err), 0);
	put(path, "b");
	for (int i = 0; i < 400 && strcmp(s.text, "b") != 0; i++)
		usleep(10000);
	hearth_filewatch_stop(w);
	assert_string_equal(s.text, "b");
	hearth_filewatch_stop(w); /* idempotent */
	hearth_filewatch_free(w);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_filewatch_poll_sees_changes_and_keeps_last_good),
		cmocka_unit_test(test_filewatch_size_cap_and_missing_file),
		cmocka_unit_test(test_filewatch_thread_reloads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
