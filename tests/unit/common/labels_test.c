#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "labels.h"
#include "utf8.h"

/* ---- sort, drop_empty, get, equal ---- */

static void
test_labels_sort_basic_and_last_duplicate_wins(void **state)
{
	(void) state;
	hearth_label ls[] = { { "zone", "a" }, { "env", "dev" },
		{ "app", "x" }, { "env", "prod" }, { "zone", "b" } };
	size_t       n    = hearth_labels_sort(ls, 5);
	assert_int_equal(n, 3);
	assert_string_equal(ls[0].name, "app");
	assert_string_equal(ls[0].value, "x");
	assert_string_equal(ls[1].name, "env");
	assert_string_equal(ls[1].value, "prod");
	assert_string_equal(ls[2].name, "zone");
	assert_string_equal(ls[2].value, "b");
	assert_int_equal(hearth_labels_sort(NULL, 0), 0);
}

/* Against a reference answer for every size up to 300 (crosses the
 * insertion-run length and several merge widths): names from a small set
 * so that duplicates are frequent and far apart. */
static void
test_labels_sort_matches_reference_all_sizes(void **state)
{
	(void) state;
	static char  names[40][8];
	static char  values[300][8];
	hearth_label ls[300];
	for (int i = 0; i < 40; i++)
		snprintf(names[i], sizeof(names[i]), "n%02d", (i * 17) % 40);
	for (int i = 0; i < 300; i++)
		snprintf(values[i], sizeof(values[i]), "v%d", i);
	uint32_t rnd = 12345;
	for (size_t n = 0; n <= 300; n++) {
		int last[40];
		for (int k = 0; k < 40; k++)
			last[k] = -1;
		for (size_t i = 0; i < n; i++) {
			rnd         = rnd * 1103515245u + 12345u;
			int k       = (int) ((rnd >> 16) % 40);
			ls[i].name  = names[k];
			ls[i].value = values[i];
			last[k]     = (int) i;
		}
		size_t m    = hearth_labels_sort(ls, n);
		size_t want = 0;
		for (int k = 0; k < 40; k++)
			want += last[k] >= 0;
		assert_int_equal(m, want);
		for (size_t i = 1; i < m; i++)
			assert_true(strcmp(ls[i - 1].name, ls[i].name) < 0);
		for (size_t i = 0; i < m; i++) {
			int k = -1;
			for (int j = 0; j < 40; j++)
				if (strcmp(names[j], ls[i].name) == 0)
					k = j;
			assert_true(k >= 0);
			assert_string_equal(ls[i].value, values[last[k]]);
		}
	}
}

static void
test_labels_drop_empty_keeps_order(void **state)
{
	(void) state;
	hearth_label ls[] = { { "a", "" }, { "b", "1" }, { "c", "" },
		{ "d", "2" }, { "e", NULL } };
	size_t       n    = hearth_labels_drop_empty(ls, 5);
	assert_int_equal(n, 2);
	assert_string_equal(ls[0].name, "b");
	assert_string_equal(ls[1].name, "d");
}

static void
test_labels_get_unsorted_last_wins(void **state)
{
	(void) state;
	hearth_label ls[] = { { "b", "1" }, { "a", "2" }, { "b", "3" } };
	assert_string_equal(hearth_labels_get(ls, 3, "b"), "3");
	assert_string_equal(hearth_labels_get(ls, 3, "a"), "2");
	assert_null(hearth_labels_get(ls, 3, "c"));
	assert_null(hearth_labels_get(ls, 0, "a"));
}

static void
test_labels_equal(void **state)
{
	(void) state;
	hearth_label a[] = { { "a", "1" }, { "b", "2" } };
	hearth_label b[] = { { "a", "1" }, { "b", "2" } };
	hearth_label c[] = { { "a", "1" }, { "b", "3" } };
	assert_int_equal(hearth_labels_equal(a, 2, b, 2), 1);
	assert_int_equal(hearth_labels_equal(a, 2, c, 2), 0);
	assert_int_equal(hearth_labels_equal(a, 2, b, 1), 0);
	assert_int_equal(hearth_labels_equal(a, 0, c, 0), 1);
}

/* ---- fingerprint ---- */

static void
test_labels_fingerprint_layout(void **state)
{
	(void) state;
	hearth_label ls[]   = { { "app", "x" }, { "env", "prod" } };
	const char   want[] = "acme\xff"
	                      "app\xffx\xff"
	                      "env\xffprod\xff";
	assert_int_equal(hearth_labels_fingerprint("acme", ls, 2),
	    XXH3_64bits(want, sizeof(want) - 1));
	assert_int_equal(
	    hearth_labels_fingerprint("", NULL, 0), XXH3_64bits("\xff", 1));
}

static void
test_labels_fingerprint_separates_fields(void **state)
{
	(void) state;
	hearth_label x[] = { { "a", "bc" } };
	hearth_label y[] = { { "ab", "c" } };
	hearth_label z[] = { { "a", "b" }, { "c", "" } };
	uint64_t     fx  = hearth_labels_fingerprint("t", x, 1);
	assert_true(fx != hearth_labels_fingerprint("t", y, 1));
	assert_true(fx != hearth_labels_fingerprint("t", z, 2));
	assert_true(fx != hearth_labels_fingerprint("u", x, 1));
	assert_true(fx != hearth_labels_fingerprint("ta", x, 1));
	assert_int_equal(fx, hearth_labels_fingerprint("t", x, 1));
}

/* ---- UTF-8 ---- */

static void
test_labels_utf8_valid_cases(void **state)
{
	(void) state;
	static const struct {
		const char *s;
		int         ok;
	} cases[] = {
		{ "plain ascii", 1 }, { "caf\xc3\xa9", 1 }, /* é */
		{ "\xe2\x82\xac", 1 },                      /* € */
		{ "\xf0\x9f\x94\xa5", 1 },                  /* U+1F525 */
		{ "\xf4\x8f\xbf\xbf", 1 },                  /* U+10FFFF */
		{ "\xed\x9f\xbf", 1 },                      /* U+D7FF */
		{ "\xc0\x80", 0 },                          /* overlong NUL */
		{ "\xc1\xbf", 0 },                          /* overlong */
		{ "\xe0\x9f\xbf", 0 },     /* overlong 3-byte */
		{ "\xf0\x8f\xbf\xbf", 0 }, /* overlong 4-byte */
		{ "\xed\xa0\x80", 0 },     /* surrogate D800 */
		{ "\xf4\x90\x80\x80", 0 }, /* U+110000 */
		{ "\xf5\x80\x80\x80", 0 }, /* bad lead */
		{ "\x80", 0 },             /* lone continuation */
		{ "\xc3", 0 },             /* truncated */
		{ "\xe2\x82", 0 },         /* truncated */
		{ "\xe2\x28\xa1", 0 },     /* bad continuation */
		{ "ok\xf0\x9f\x94", 0 },   /* truncated at end */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(
		    hearth_utf8_valid(cases[i].s, strlen(cases[i].s)),
		    cases[i].ok);
	assert_int_equal(hearth_utf8_valid("a\0b", 3), 1);
	assert_int_equal(hearth_utf8_valid(NULL, 0), 1);
}

/* ---- validate ---- */

static const hearth_labels_limits lim_default = { 30, 1024, 2048 };

static void
test_labels_validate_ok(void **state)
{
	(void) state;
	hearth_err   err;
	hearth_label ls[] = { { "__name__", "process_cpu" },
		{ "process.runtime.name", "go" },
		{ "service_name", "checkout" } };
	assert_int_equal(hearth_labels_validate(ls, 3, &lim_default, &err), 0);
	assert_int_equal(hearth_labels_validate(ls, 3, NULL, &err), 0);
}

static void
test_labels_validate_errors(void **state)
{
	(void) state;
	hearth_err   err;
	hearth_label none[1] = { { "a", "b" } };
	assert_int_equal(hearth_labels_validate(none, 0, &lim_default, &err),
	    HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "labels: a series needs at least one label");

	hearth_label noname[] = { { "service_name", "s" } };
	assert_int_equal(hearth_labels_validate(noname, 1, &lim_default, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "labels: __name__ (the profile name) is missing or empty");

	hearth_label nosvc[] = { { "__name__", "cpu" }, { "pod", "p" } };
	assert_int_equal(hearth_labels_validate(nosvc, 2, &lim_default, &err),
	    HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "labels: service_name is missing or empty");

	hearth_label badname[]
	    = { { "__name__", "cpu\xff" }, { "service_name", "s" } };
	assert_int_equal(
	    hearth_labels_validate(badname, 2, &lim_default, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "labels: __name__ is not valid UTF-8");

	hearth_label badval[] = { { "__name__", "cpu" }, { "pod", "\xc3(" },
		{ "service_name", "s" } };
	assert_int_equal(hearth_labels_validate(badval, 3, &lim_default, &err),
	    HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "labels: value of label \"pod\" is not valid UTF-8");

	hearth_label dup[] = { { "__name__", "cpu" }, { "pod", "a" },
		{ "pod", "b" }, { "service_name", "s" } };
	assert_int_equal(
	    hearth_labels_validate(dup, 4, &lim_default, &err), HEARTH_EINVAL);
	assert_string_equal(
	    err.msg, "duplicate_label_names: label \"pod\" appears twice");

	hearth_label empty[]
	    = { { "", "x" }, { "__name__", "cpu" }, { "service_name", "s" } };
	assert_int_equal(hearth_labels_validate(empty, 3, &lim_default, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "labels: empty label name");
}

static void
test_labels_validate_limits(void **state)
{
	(void) state;
	hearth_err err;
	char       big[3001];
	memset(big, 'v', 3000);
	big[3000]         = '\0';
	hearth_label ls[] = { { "__name__", "cpu" }, { "pod", big },
		{ "service_name", "s" } };
	assert_int_equal(
	    hearth_labels_validate(ls, 3, &lim_default, &err), HEARTH_ELIMIT);
	assert_int_equal(err.code, HEARTH_ELIMIT);
	assert_string_equal(err.msg,
	    "max_label_value_length: label \"pod\" value is 3000 bytes, "
	    "limit 2048");

	hearth_labels_limits small = { 2, 4, 0 };
	assert_int_equal(
	    hearth_labels_validate(ls, 3, &small, &err), HEARTH_ELIMIT);
	assert_string_equal(err.msg,
	    "max_label_names_per_series: series has 3 labels, limit 2");

	small.max_label_names_per_series = 0;
	assert_int_equal(
	    hearth_labels_validate(ls, 3, &small, &err), HEARTH_ELIMIT);
	assert_string_equal(err.msg,
	    "max_label_name_length: label name \"__name__...\" is 8 bytes, "
	    "limit 4");
}

/* ---- /ingest name grammar ---- */

typedef struct name_case {
	const char *in;
	const char *app;
	size_t      n;
	const char *kv[8]; /* name, value, name, value ... */
} name_case;

static void
test_labels_name_grammar_valid(void **state)
{
	(void) state;
	static const name_case cases[] = {
		{ "myapp.cpu", "myapp.cpu", 0, { NULL } },
		{ "myapp{env=prod,region=eu}", "myapp", 2,
		    { "env", "prod", "region", "eu" } },
		{ "  my-app/x_1.cpu  { env = prod , region= eu-west }",
		    "my-app/x_1.cpu", 2,
		    { "env", "prod", "region", "eu-west" } },
		{ "app{}", "app", 0, { NULL } },
		{ "app{ }", "app", 0, { NULL } },
		{ "app{a=b,}", "app", 1, { "a", "b" } },
		{ "app{a=1,b=2,a=3}", "app", 2, { "a", "3", "b", "2" } },
		{ "app{__session_id__=0123456789abcdef,__name__=x,__foo=1,"
		  "_x=2}",
		    "app", 2,
		    { "__session_id__", "0123456789abcdef", "_x", "2" } },
		{ "app{url=http://h:80/a b?c}", "app", 1,
		    { "url", "http://h:80/a b?c" } },
		{ "app{a=b=c}", "app", 1, { "a", "b=c" } },
		{ "app{a={x}", "app", 1, { "a", "{x" } },
		{ "app{a=}", "app", 1, { "a", "" } },
		{ "app{a=1}trailing junk {", "app", 1, { "a", "1" } },
		{ "app{k.with.dots=caf\xc3\xa9}", "app", 1,
		    { "k.with.dots", "caf\xc3\xa9" } },
		{ "A9_.-/{Z9_.=v}", "A9_.-/", 1, { "Z9_.", "v" } },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		hearth_arena *a = hearth_arena_new(0);
		hearth_err    err;
		const char   *app = NULL;
		hearth_label *ls  = NULL;
		size_t        n   = 99;
		int           rc  = hearth_labels_parse_ingest_name(
		               a, cases[c].in, strlen(cases[c].in), &app, &ls, &n, &err);
		if (rc != 0)
			fail_msg("case %zu (%s): %s", c, cases[c].in, err.msg);
		assert_string_equal(app, cases[c].app);
		assert_int_equal(n, cases[c].n);
		for (size_t i = 0; i < n; i++) {
			assert_string_equal(ls[i].name, cases[c].kv[2 * i]);
			assert_string_equal(
			    ls[i].value, cases[c].kv[2 * i + 1]);
		}
		hearth_arena_free(a);
	}
}

/* What the Go SDK sends (ingest-http.md §9.1), normalized and sorted. */
static void
test_labels_name_go_sdk(void **state)
{
	(void) state;
	const char   *in = "checkout{__session_id__=9f2c41d07ab3e655,env=prod,"
	                   "otel.scope.name=com.grafana.pyroscope/go,"
	                   "otel.scope.version=1.2.0,process.runtime.name=go,"
	                   "process.runtime.version=go1.22.4}";
	hearth_arena *a  = hearth_arena_new(0);
	hearth_err    err;
	const char   *app;
	hearth_label *ls;
	size_t        n;
	assert_int_equal(hearth_labels_parse_ingest_name(
	                     a, in, strlen(in), &app, &ls, &n, &err),
	    0);
	assert_string_equal(app, "checkout");
	assert_int_equal(n, 6);
	assert_string_equal(ls[0].name, "__session_id__");
	assert_string_equal(ls[2].name, "otel.scope.name");
	assert_string_equal(ls[2].value, "com.grafana.pyroscope/go");
	assert_string_equal(ls[5].value, "go1.22.4");
	hearth_arena_free(a);
}

typedef struct name_err_case {
	const char *in;
	size_t      len; /* 0 = strlen */
	const char *msg;
} name_err_case;

static void
test_labels_name_grammar_errors_with_offsets(void **state)
{
	(void) state;
	static const name_err_case cases[] = {
		{ "", 0,
		    "name: the application name is empty (expected e.g. "
		    "myapp.cpu{env=prod})" },
		{ "   {a=b}", 0,
		    "name: the application name is empty (expected e.g. "
		    "myapp.cpu{env=prod})" },
		{ "my app", 0,
		    "name: application name \"my app\" has character 0x20 at "
		    "offset 2 that is not allowed (allowed: A-Z a-z 0-9 _ . - "
		    "/)" },
		{ "app\xc3\xa9{a=1}", 0,
		    "name: application name \"app\xc3\xa9\" has character "
		    "0xc3 "
		    "at offset 3 that is not allowed (allowed: A-Z a-z 0-9 _ "
		    ". - /)" },
		{ "a:b", 0,
		    "name: application name \"a:b\" has character ':' at "
		    "offset 1 that is not allowed (allowed: A-Z a-z 0-9 _ . - "
		    "/)" },
		{ "app{", 0,
		    "name: missing closing '}' (labels opened at offset 3)" },
		{ "app{a=1", 0,
		    "name: missing closing '}' after the value of label \"a\" "
		    "(labels opened at offset 3)" },
		{ "app{a=1,b", 0,
		    "name: label \"b\" at offset 8 has no value (expected "
		    "key=value)" },
		{ "app{a}", 0,
		    "name: label \"a\" at offset 4 has no value (expected "
		    "key=value)" },
		{ "app{ ab ,c=1}", 0,
		    "name: label \"ab\" at offset 5 has no value (expected "
		    "key=value)" },
		{ "app{a-b=1}", 0,
		    "name: label key \"a-b\" has character '-' at offset 5 "
		    "that is not allowed (allowed: A-Z a-z 0-9 _ .)" },
		{ "app{a b=1}", 0,
		    "name: label key \"a b\" has character 0x20 at offset 5 "
		    "that is not allowed (allowed: A-Z a-z 0-9 _ .)" },
		{ "app{=1}", 0,
		    "name: empty label key before '=' at offset 4" },
		{ "app{a=1,,b=2}", 0,
		    "name: empty label at offset 8 (expected key=value)" },
		{ "app{,}", 0,
		    "name: empty label at offset 4 (expected key=value)" },
		{ "app{a=x\0y}", 10,
		    "name: NUL byte at offset 7 in the value of label \"a\"" },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		hearth_arena *a = hearth_arena_new(0);
		hearth_err    err;
		const char   *app = "x";
		hearth_label *ls  = (hearth_label *) 1;
		size_t        n   = 99;
		size_t len = cases[c].len ? cases[c].len : strlen(cases[c].in);
		int    rc  = hearth_labels_parse_ingest_name(
		        a, cases[c].in, len, &app, &ls, &n, &err);
		if (rc != HEARTH_EINVAL)
			fail_msg("case %zu (%s): rc %d", c, cases[c].in, rc);
		assert_string_equal(err.msg, cases[c].msg);
		assert_null(app);
		assert_null(ls);
		assert_int_equal(n, 0);
		hearth_arena_free(a);
	}
}

static void
test_labels_name_arena_cap_is_limit(void **state)
{
	(void) state;
	char   in[4096];
	size_t len = (size_t) snprintf(in, sizeof(in), "app{");
	for (int i = 0; i < 200; i++)
		len += (size_t) snprintf(
		    in + len, sizeof(in) - len, "k%d=value%d,", i, i);
	in[len - 1]     = '}';
	hearth_arena *a = hearth_arena_new(256);
	hearth_err    err;
	const char   *app;
	hearth_label *ls;
	size_t        n;
	assert_int_equal(
	    hearth_labels_parse_ingest_name(a, in, len, &app, &ls, &n, &err),
	    HEARTH_ELIMIT);
	assert_string_equal(err.msg,
	    "name: request memory limit reached while parsing labels");
	hearth_arena_free(a);

	a = hearth_arena_new(0);
	assert_int_equal(
	    hearth_labels_parse_ingest_name(a, in, len, &app, &ls, &n, &err),
	    0);
	assert_int_equal(n, 200);
	assert_string_equal(ls[199].name, "k199");
	assert_string_equal(ls[199].value, "value199");
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_labels_sort_basic_and_last_duplicate_wins),
		cmocka_unit_test(test_labels_sort_matches_reference_all_sizes),
		cmocka_unit_test(test_labels_drop_empty_keeps_order),
		cmocka_unit_test(test_labels_get_unsorted_last_wins),
		cmocka_unit_test(test_labels_equal),
		cmocka_unit_test(test_labels_fingerprint_layout),
		cmocka_unit_test(test_labels_fingerprint_separates_fields),
		cmocka_unit_test(test_labels_utf8_valid_cases),
		cmocka_unit_test(test_labels_validate_ok),
		cmocka_unit_test(test_labels_validate_errors),
		cmocka_unit_test(test_labels_validate_limits),
		cmocka_unit_test(test_labels_name_grammar_valid),
		cmocka_unit_test(test_labels_name_go_sdk),
		cmocka_unit_test(test_labels_name_grammar_errors_with_offsets),
		cmocka_unit_test(test_labels_name_arena_cap_is_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
