#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "overrides.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static hearth_overrides *
new_plain(void)
{
	hearth_limits     d;
	hearth_overrides *o;
	hearth_err        err;
	hearth_config_limits_defaults(&d);
	assert_int_equal(
	    hearth_overrides_new(&d, "", 1000, NULL, NULL, &o, &err), 0);
	return o;
}

static void
test_overrides_without_file_gives_defaults(void **state)
{
	(void) state;
	hearth_overrides *o = new_plain();
	hearth_limits     l, d;
	hearth_config_limits_defaults(&d);
	hearth_overrides_get(o, "anyone", &l);
	assert_memory_equal(&l, &d, sizeof(l));
	assert_int_equal(l.ingestion_rate_mb, 4);
	assert_int_equal(l.ingestion_burst_size_mb, 2);
	assert_int_equal(l.max_global_series_per_tenant, 5000);
	assert_int_equal(hearth_overrides_count(o), 0);
	hearth_overrides_free(o);
}

static void
test_overrides_replace_only_listed_keys(void **state)
{
	(void) state;
	hearth_overrides *o = new_plain();
	hearth_err        err;
	const char       *y = "overrides:\n"
	                      "  team-b:\n"
	                      "    ingestion_rate_mb: 16\n"
	                      "    max_query_length: 7d\n"
	                      "    max_concurrent_queries: 2\n"
	                      "  team-a:\n"
	                      "    max_label_names_per_series: 10\n"
	                      "    query_timeout:\n"
	                      "  empty:\n";
	assert_int_equal(hearth_overrides_load(o, y, strlen(y), "f", &err), 0);
	assert_int_equal(hearth_overrides_count(o), 3);
	hearth_limits a, b, c, d;
	hearth_config_limits_defaults(&d);
	hearth_overrides_get(o, "team-a", &a);
	hearth_overrides_get(o, "team-b", &b);
	hearth_overrides_get(o, "team-c", &c);
	assert_int_equal(a.max_label_names_per_series, 10);
	assert_int_equal(a.query_timeout_ms, 60000); /* null keeps default */
	assert_int_equal(a.ingestion_rate_mb, 4);
	assert_int_equal(b.ingestion_rate_mb, 16);
	assert_int_equal(b.max_query_length_ms, 7 * 86400000LL);
	assert_int_equal(b.max_concurrent_queries, 2);
	assert_int_equal(b.max_label_names_per_series, 30);
	assert_memory_equal(&c, &d, sizeof(c));
	hearth_overrides_get(o, "empty", &c);
	assert_memory_equal(&c, &d, sizeof(c));
	hearth_overrides_free(o);
}

static void
test_overrides_errors_keep_previous_version(void **state)
{
	(void) state;
	hearth_overrides *o = new_plain();
	hearth_err        err;
	const char       *good = "overrides: {t1: {ingestion_rate_mb: 9}}\n";
	assert_int_equal(
	    hearth_overrides_load(o, good, strlen(good), "f", &err), 0);
	struct {
		const char *yaml;
		const char *msg;
	} cases[] = {
		{ "overrides:\n  t1:\n    ingestion_rate: 3\n",
		    "f: line 3: tenant \"t1\": unknown limit "
		    "\"ingestion_rate\" "
		    "(the keys are those of the limits: section, e.g. "
		    "ingestion_rate_mb)" },
		{ "overrides:\n  t1:\n    max_query_length: soon\n",
		    "f: line 3: tenant \"t1\": max_query_length: expected a "
		    "number at \"soon\" in duration \"soon\"" },
		{ "overrides:\n  t1:\n    ingestion_rate_mb: -1\n",
		    "f: line 3: tenant \"t1\": ingestion_rate_mb: -1 is out "
		    "of "
		    "range [0, 9223372036854775807]" },
		{ "overrides:\n  \"a b\":\n    ingestion_rate_mb: 1\n", NULL },
		{ "overrides:\n  t1: 5\n",
		    "f: line 2: tenant \"t1\": expected a mapping of limits "
		    "(e.g. ingestion_rate_mb: 8), got a single value" },
		{ "limits: {}\n",
		    "f: line 1: unknown key \"limits\" (the file holds one "
		    "key, "
		    "overrides:)" },
		{ "- a\n",
		    "f: line 1: expected a mapping with the key "
		    "overrides:, got a list" },
		{ "overrides:\n  t1: {}\n  t1: {}\n", NULL },
		{ "overrides: [\n", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hearth_err_clear(&err);
		assert_int_equal(hearth_overrides_load(o, cases[i].yaml,
		                     strlen(cases[i].yaml), "f", &err),
		    HEARTH_EINVAL);
		if (cases[i].msg != NULL)
			assert_string_equal(err.msg, cases[i].msg);
		else
			assert_true(strncmp(err.msg, "f: line ", 8) == 0);
		hearth_limits l;
		hearth_overrides_get(o, "t1", &l);
		assert_int_equal(l.ingestion_rate_mb, 9);
	}
	/* an empty file removes every override */
	assert_int_equal(hearth_overrides_load(o, "", 0, "f", &err), 0);
	assert_int_equal(hearth_overrides_count(o), 0);
	hearth_overrides_free(o);
}

static void
test_overrides_file_is_loaded_and_reloaded(void **state)
{
	(void) state;
	char path[64] = "/tmp/hearth-overrides-test-XXXXXX";
	int  fd       = mkstemp(path);
	assert_true(fd >= 0);
	const char *v1
	    = "overrides:\n  t: {max_global_series_per_tenant: 7}\n";
	assert_int_equal(write(fd, v1, strlen(v1)), (ssize_t) strlen(v1));
	close(fd);
	hearth_limits     d, l;
	hearth_overrides *o;
	hearth_err        err;
	hearth_config_limits_defaults(&d);
	assert_int_equal(
	    hearth_overrides_new(&d, path, 10, NULL, NULL, &o, &err), 0);
	hearth_overrides_get(o, "t", &l);
	assert_int_equal(l.max_global_series_per_tenant, 7);
	assert_int_equal(hearth_overrides_start(o, &err), 0);
	/* replace the file by rename, as config managers do */
	char tmp[80];
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	FILE *f = fopen(tmp, "w");
	fputs("overrides:\n  t: {max_global_series_per_tenant: 8}\n", f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
	for (int i = 0; i < 400; i++) { /* up to 4 s */
		hearth_overrides_get(o, "t", &l);
		if (l.max_global_series_per_tenant == 8)
			break;
		usleep(10000);
	}
	assert_int_equal(l.max_global_series_per_tenant, 8);
	hearth_overrides_stop(o);
	hearth_overrides_free(o);
	unlink(path);
	/* a missing file at start is an error naming it */
	assert_int_equal(
	    hearth_overrides_new(&d, path, 10, NULL, NULL, &o, &err),
	    HEARTH_EIO);
	assert_non_null(strstr(err.msg, "overrides file "));
	assert_non_null(strstr(err.msg, "cannot open"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_overrides_without_file_gives_defaults),
		cmocka_unit_test(test_overrides_replace_only_listed_keys),
		cmocka_unit_test(test_overrides_errors_keep_previous_version),
		cmocka_unit_test(test_overrides_file_is_loaded_and_reloaded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
