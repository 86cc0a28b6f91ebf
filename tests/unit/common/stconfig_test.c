#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "stconfig.h"

typedef struct parsed {
	hearth_arena    *a;
	hearth_stconfig *c;
	hearth_err       err;
	int              rc;
} parsed;

static void
parse(parsed *p, const char *json)
{
	p->a = hearth_arena_new(0);
	p->c = NULL;
	p->rc
	    = hearth_stconfig_parse(p->a, json, strlen(json), &p->c, &p->err);
}

static void
expect_error(const char *json, const char *msg)
{
	parsed p;
	parse(&p, json);
	if (p.rc != HEARTH_EINVAL)
		fail_msg("%s: rc %d", json, p.rc);
	assert_string_equal(p.err.msg, msg);
	assert_null(p.c);
	hearth_arena_free(p.a);
}

/* The Go SDK's mutex upload, verbatim from ingest-http.md §5.2. */
static void
test_stconfig_go_mutex_example(void **state)
{
	(void) state;
	parsed p;
	parse(&p,
	    "{\"contentions\":{\"units\":\"lock_samples\",\"display-name\":"
	    "\"mutex_count\"},\"delay\":{\"units\":\"lock_nanoseconds\","
	    "\"display-name\":\"mutex_duration\"}}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.c->n, 2);
	assert_string_equal(p.c->entries[0].sample_type, "contentions");
	assert_string_equal(p.c->entries[0].units, "lock_samples");
	assert_string_equal(p.c->entries[0].display_name, "mutex_count");
	assert_null(p.c->entries[0].aggregation);
	assert_int_equal(p.c->entries[0].cumulative, 0);
	assert_string_equal(p.c->entries[1].sample_type, "delay");
	assert_string_equal(
	    hearth_stconfig_display_name(p.c, "delay"), "mutex_duration");
	assert_null(hearth_stconfig_display_name(p.c, "samples"));
	hearth_arena_free(p.a);
}

static void
test_stconfig_all_members_and_json_forms(void **state)
{
	(void) state;
	parsed p;
	parse(&p,
	    " \r\n\t{ \"inuse_space\" : { \"units\" : \"bytes\" , "
	    "\"aggregation\":\"average\", \"cumulative\": false, "
	    "\"sampled\": true, \"unknown\": [1, -2.5e+3, {\"x\": "
	    "[null, true]}, \"s\"], \"Display-Name\": null },"
	    "\"alloc_space\": {\"CUMULATIVE\": true, \"display-name\":"
	    "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\ude00"
	    "\\ud800x\"}, \"nothing\": null, \"empty\": {} } \n");
	if (p.rc != 0)
		fail_msg("%s", p.err.msg);
	assert_int_equal(p.c->n, 4);
	const hearth_stconfig_entry *e
	    = hearth_stconfig_find(p.c, "inuse_space");
	assert_non_null(e);
	assert_string_equal(e->units, "bytes");
	assert_string_equal(e->aggregation, "average");
	assert_int_equal(e->cumulative, 0);
	assert_int_equal(e->sampled, 1);
	assert_null(e->display_name);
	e = hearth_stconfig_find(p.c, "alloc_space");
	assert_int_equal(e->cumulative, 1);
	assert_string_equal(e->display_name,
	    "a\"\\/\b\f\n\r\t\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
	    "\xef\xbf\xbdx");
	e = hearth_stconfig_find(p.c, "nothing");
	assert_non_null(e);
	assert_null(e->units);
	assert_non_null(hearth_stconfig_find(p.c, "empty"));
	assert_null(hearth_stconfig_find(p.c, "absent"));
	hearth_arena_free(p.a);
}

static void
test_stconfig_repeated_key_replaces(void **state)
{
	(void) state;
	parsed p;
	parse(&p,
	    "{\"cpu\":{\"units\":\"samples\",\"display-name\":\"x\"},"
	    "\"other\":{},\"cpu\":{\"display-name\":\"y\"}}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.c->n, 2);
	assert_string_equal(p.c->entries[0].sample_type, "cpu");
	assert_string_equal(p.c->entries[0].display_name, "y");
	assert_null(p.c->entries[0].units);
	hearth_arena_free(p.a);
}

static void
test_stconfig_null_and_empty_object(void **state)
{
	(void) state;
	parsed p;
	parse(&p, "null");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.c->n, 0);
	/* An explicit (empty) config hides the default map. */
	assert_null(hearth_stconfig_display_name(p.c, "samples"));
	hearth_arena_free(p.a);
	parse(&p, "{}");
	assert_int_equal(p.rc, 0);
	assert_int_equal(p.c->n, 0);
	hearth_arena_free(p.a);
}

static void
test_stconfig_syntax_errors_with_offsets(void **state)
{
	(void) state;
	expect_error("",
	    "invalid JSON at offset 0: empty input (expected an "
	    "object)");
	expect_error("  ",
	    "invalid JSON at offset 2: empty input (expected an "
	    "object)");
	expect_error("[]", "invalid JSON at offset 0: expected an object");
	expect_error("{\"a\" {}}",
	    "invalid JSON at offset 5: expected ':' after an object key");
	expect_error("{\"a\":{},}",
	    "invalid JSON at offset 8: trailing ',' in an object");
	expect_error("{\"a\":{} \"b\":{}}",
	    "invalid JSON at offset 8: expected ',' or '}' in an object");
	expect_error("{\"a\":{}",
	    "invalid JSON at offset 7: unexpected end of "
	    "input");
	expect_error("{\"a\":",
	    "invalid JSON at offset 5: unexpected end of "
	    "input");
	expect_error("{\"a\":{}} x",
	    "invalid JSON at offset 9: unexpected data after the JSON value");
	expect_error(
	    "{a:{}}", "invalid JSON at offset 1: expected a string key");
	expect_error("{\"a\":{\"units\":\"x}}",
	    "invalid JSON at offset 14: unterminated string");
	expect_error("{\"a\":{\"units\":\"\\x\"}}",
	    "invalid JSON at offset 16: invalid escape in a string");
	expect_error("{\"a\":{\"units\":\"\\u12g4\"}}",
	    "invalid JSON at offset 16: \\u must be followed by 4 hex digits");
	expect_error("{\"a\":{\"units\":\"\\u0000\"}}",
	    "invalid JSON at offset 21: \\u0000 is not allowed in a string");
	expect_error("{\"a\":{\"units\":\"tab\there\"}}",
	    "invalid JSON at offset 18: control character in a string "
	    "(escape it)");
	expect_error("{\"a\":{\"units\":\"\xc3(\"}}",
	    "invalid JSON at offset 14: string is not valid UTF-8");
	expect_error("{\"a\":{\"x\":tru}}",
	    "invalid JSON at offset 10: invalid literal (expected true, false "
	    "or null)");
	expect_error("{\"a\":{\"x\":01}}",
	    "invalid JSON at offset 11: expected ',' or '}' in an object");
	expect_error("{\"a\":{\"x\":1.}}",
	    "invalid JSON at offset 12: expected a digit in a number");
	expect_error("{\"a\":{\"x\":-}}",
	    "invalid JSON at offset 11: expected a digit in a number");
	expect_error("{\"a\":{\"x\":[1,]}}",
	    "invalid JSON at offset 13: expected a JSON value");
	expect_error("{\"a\":{\"x\":[1 2]}}",
	    "invalid JSON at offset 13: expected ',' or ']' in an array");
	expect_error("{\"a\":{\"x\":1,}}",
	    "invalid JSON at offset 12: expected a string key");
}

static void
test_stconfig_type_errors(void **state)
{
	(void) state;
	expect_error("{\"cpu\":{\"units\":5}}",
	    "at offset 16: \"cpu\".units must be a string");
	expect_error("{\"cpu\":{\"display-name\":true}}",
	    "at offset 23: \"cpu\".display-name must be a string");
	expect_error("{\"cpu\":{\"cumulative\":\"yes\"}}",
	    "at offset 21: \"cpu\".cumulative must be true or false");
	expect_error("{\"cpu\":{\"sampled\":1}}",
	    "at offset 18: \"cpu\".sampled must be true or false");
	expect_error("{\"cpu\":\"samples\"}",
	    "at offset 7: \"cpu\" must map to an object");
	expect_error(
	    "{\"cpu\":[]}", "at offset 7: \"cpu\" must map to an object");
}

static void
test_stconfig_depth_and_entry_limits(void **state)
{
	(void) state;
	char   deep[400];
	size_t n = 0;
	n += (size_t) snprintf(deep + n, sizeof(deep) - n, "{\"a\":{\"x\":");
	for (int i = 0; i < 70; i++)
		deep[n++] = '[';
	for (int i = 0; i < 70; i++)
		deep[n++] = ']';
	memcpy(deep + n, "}}", 3);
	expect_error(deep, "invalid JSON at offset 72: nesting is too deep");

	char big[8192];
	n        = 0;
	big[n++] = '{';
	for (int i = 0; i <= HEARTH_STCONFIG_MAX_ENTRIES; i++)
		n += (size_t) snprintf(
		    big + n, sizeof(big) - n, "%s\"t%d\":{}", i ? "," : "", i);
	memcpy(big + n, "}", 2);
	expect_error(big, "more than 256 sample types");
}

static void
test_stconfig_default_map(void **state)
{
	(void) state;
	assert_string_equal(
	    hearth_stconfig_display_name(NULL, "samples"), "cpu");
	assert_string_equal(
	    hearth_stconfig_display_name(NULL, "goroutine"), "goroutines");
	assert_string_equal(
	    hearth_stconfig_display_name(NULL, "contentions"), "mutex_count");
	assert_string_equal(
	    hearth_stconfig_display_name(NULL, "delay"), "mutex_duration");
	assert_null(hearth_stconfig_display_name(NULL, "inuse_objects"));
	assert_null(hearth_stconfig_display_name(NULL, "alloc_space"));
	assert_null(hearth_stconfig_display_name(NULL, "cpu"));
	assert_int_equal(hearth_stconfig_default()->n, 8);
	assert_string_equal(
	    hearth_stconfig_find(NULL, "inuse_space")->units, "bytes");
}

static void
test_stconfig_profile_name_heuristic(void **state)
{
	(void) state;
	const char *cpu[]  = { "samples", "cpu" };
	const char *heap[] = { "alloc_objects", "alloc_space", "inuse_objects",
		"inuse_space" };
	const char *gor[]  = { "goroutine" };
	const char *mutex[]   = { "contentions", "delay" };
	const char *wall[]    = { "samples", "wall", "cpu" };
	const char *space[]   = { "space" };
	const char *objects[] = { "objects" };
	const char *other[]   = { "foo", "bar" };
	const char *dotnet[]  = { "cpu", "alloc_samples", "alloc_size" };
	assert_string_equal(
	    hearth_stconfig_profile_name(NULL, cpu, 2), "process_cpu");
	assert_string_equal(
	    hearth_stconfig_profile_name(NULL, heap, 4), "memory");
	assert_string_equal(
	    hearth_stconfig_profile_name(NULL, gor, 1), "goroutines");
	assert_string_equal(
	    hearth_stconfig_profile_name(NULL, mutex, 2), "mutex");
	assert_string_equal(
	    hearth_stconfig_profile_name(NULL, wall, 3), "wall");
	assert_string_equal(
	    hearth_stconfig_profile_name(NULL, space, 1), "memory");
	assert_string_equal(
	    hearth_stconfig_profile_name(NULL, objects, 1), "memory");
	assert_string_equal(
	    hearth_stconfig_profile_name(NULL, other, 2), "bar");
	assert_string_equal(
	    hearth_stconfig_profile_name(NULL, dotnet, 3), "process_cpu");
	assert_null(hearth_stconfig_profile_name(NULL, cpu, 0));

	/* Go SDK block profile: its config renames to block_*. */
	parsed p;
	parse(&p,
	    "{\"contentions\":{\"display-name\":\"block_count\"},"
	    "\"delay\":{\"display-name\":\"block_duration\"}}");
	assert_int_equal(p.rc, 0);
	assert_string_equal(
	    hearth_stconfig_profile_name(p.c, mutex, 2), "block");
	/* With an explicit config the default map does not apply: plain
	 * "samples" matches nothing and is the last name. */
	const char *samples[] = { "samples" };
	assert_string_equal(
	    hearth_stconfig_profile_name(p.c, samples, 1), "samples");
	hearth_arena_free(p.a);

	/* Go's goroutine leak experiment: display name is the fallback. */
	parse(&p,
	    "{\"goroutineleak\":{\"units\":\"goroutines\","
	    "\"display-name\":\"goroutine_leak\"}}");
	const char *leak[] = { "goroutineleak" };
	assert_string_equal(
	    hearth_stconfig_profile_name(p.c, leak, 1), "goroutine_leak");
	hearth_arena_free(p.a);
}

static void
test_stconfig_arena_cap_is_limit(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(1024);
	hearth_stconfig *c;
	hearth_err       err;
	assert_int_equal(
	    hearth_stconfig_parse(a, "{}", 2, &c, &err), HEARTH_ELIMIT);
	assert_string_equal(
	    err.msg, "request memory limit reached while reading JSON");
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stconfig_go_mutex_example),
		cmocka_unit_test(test_stconfig_all_members_and_json_forms),
		cmocka_unit_test(test_stconfig_repeated_key_replaces),
		cmocka_unit_test(test_stconfig_null_and_empty_object),
		cmocka_unit_test(test_stconfig_syntax_errors_with_offsets),
		cmocka_unit_test(test_stconfig_type_errors),
		cmocka_unit_test(test_stconfig_depth_and_entry_limits),
		cmocka_unit_test(test_stconfig_default_map),
		cmocka_unit_test(test_stconfig_profile_name_heuristic),
		cmocka_unit_test(test_stconfig_arena_cap_is_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
