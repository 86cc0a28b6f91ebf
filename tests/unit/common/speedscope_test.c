#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "speedscope.h"
#include "upload_render.h"

#define SCHEMA "\"$schema\":\"" HEARTH_SPEEDSCOPE_SCHEMA "\""
#define FRAMES                                                             \
	"\"shared\":{\"frames\":[{\"name\":\"main\"},{\"name\":\"a\","    \
	"\"file\":\"a.py\",\"line\":3},{\"name\":\"b\"},{\"name\":\"\"}]}"

static hearth_speedscope_result
parse_ok(hearth_arena *a, const char *json, const hearth_speedscope_opts *o)
{
	hearth_speedscope_result r;
	hearth_err		 err;
	int rc = hearth_speedscope_parse(a, json, strlen(json), o, &r, &err);
	if (rc != 0)
		fail_msg("parse failed: %s", err.msg);
	return r;
}

static void
assert_profile(const hearth_speedscope_profile *p, const char *name,
    hearth_speedscope_unit unit, const char *want)
{
	assert_string_equal(p->name, name);
	assert_int_equal(p->unit, unit);
	char *got = upload_render(p->upload);
	assert_string_equal(got, want);
	free(got);
}

static void
assert_error(const char *json, const hearth_speedscope_opts *o, int want_rc,
    const char *want_msg)
{
	hearth_arena		*a = hearth_arena_new(0);
	hearth_speedscope_result r;
	hearth_err		 err;
	int rc = hearth_speedscope_parse(a, json, strlen(json), o, &r, &err);
	if (rc == 0)
		fail_msg("accepted: %s", json);
	assert_int_equal(rc, want_rc);
	assert_int_equal(r.n_profiles, 0);
	if (strstr(err.msg, want_msg) == NULL)
		fail_msg("message \"%s\" does not contain \"%s\"", err.msg,
		    want_msg);
	hearth_arena_free(a);
}

/* Sampled milliseconds become nanoseconds (fractions kept), equal stacks
 * add up, an empty frame name is "unknown". */
static void
test_speedscope_sampled(void **state)
{
	(void) state;
	hearth_arena		*a = hearth_arena_new(0);
	hearth_speedscope_result r = parse_ok(a,
	    "{" SCHEMA "," FRAMES ",\"profiles\":[{\"type\":\"sampled\","
	    "\"name\":\"t1\",\"unit\":\"milliseconds\",\"startValue\":0,"
	    "\"endValue\":5,\"samples\":[[0,1],[0,2],[0,1],[0,3]],"
	    "\"weights\":[1.5,2,0.5,0.25]}],\"exporter\":\"x\"}",
	    NULL);
	assert_int_equal(r.n_profiles, 1);
	assert_string_equal(r.profiles[0].unit_name, "milliseconds");
	assert_profile(&r.profiles[0], "t1", HEARTH_SPEEDSCOPE_MILLISECONDS,
	    "main;a 2000000\nmain;b 2000000\nmain;unknown 250000\n");
	hearth_arena_free(a);
}

/* Evented: the time between two events is the open stack's, from
 * startValue; frames still open at the end count nothing more. */
static void
test_speedscope_evented(void **state)
{
	(void) state;
	hearth_arena		*a = hearth_arena_new(0);
	hearth_speedscope_result r = parse_ok(a,
	    "{\"profiles\":[{\"type\":\"evented\",\"name\":\"e\",\"unit\":"
	    "\"microseconds\",\"startValue\":0,\"endValue\":20,\"events\":["
	    "{\"type\":\"O\",\"frame\":0,\"at\":0},"
	    "{\"type\":\"O\",\"frame\":1,\"at\":1},"
	    "{\"at\":3,\"type\":\"C\",\"frame\":1},"
	    "{\"type\":\"O\",\"frame\":2,\"at\":3},"
	    "{\"type\":\"C\",\"frame\":2,\"at\":4},"
	    "{\"type\":\"C\",\"frame\":0,\"at\":10},"
	    "{\"type\":\"O\",\"frame\":0,\"at\":12}]}]," FRAMES "," SCHEMA "}",
	    NULL);
	assert_int_equal(r.n_profiles, 1);
	assert_profile(&r.profiles[0], "e", HEARTH_SPEEDSCOPE_MICROSECONDS,
	    "main 7000\nmain;a 2000\nmain;b 1000\n");
	hearth_arena_free(a);
}

/* Profiles of the same name and unit are one; others stay apart, in
 * order of appearance; none and bytes weights are taken as they are. */
static void
test_speedscope_merge_and_units(void **state)
{
	(void) state;
	hearth_arena		*a = hearth_arena_new(0);
	hearth_speedscope_result r = parse_ok(a,
	    "{" SCHEMA "," FRAMES ",\"profiles\":["
	    "{\"type\":\"sampled\",\"name\":\"t\",\"unit\":\"none\","
	    "\"samples\":[[0]],\"weights\":[3]},"
	    "{\"type\":\"sampled\",\"name\":\"heap\",\"unit\":\"bytes\","
	    "\"samples\":[[0,1]],\"weights\":[4096]},"
	    "{\"type\":\"sampled\",\"name\":\"t\",\"unit\":\"none\","
	    "\"startValue\":7,\"samples\":[[0],[0,2]],\"weights\":[1,1]},"
	    "{\"type\":\"sampled\",\"name\":\"t\",\"unit\":\"seconds\","
	    "\"samples\":[[2]],\"weights\":[2]}]}",
	    NULL);
	assert_int_equal(r.n_profiles, 3);
	assert_profile(&r.profiles[0], "t", HEARTH_SPEEDSCOPE_NONE,
	    "main 4\nmain;b 1\n");
	assert_profile(&r.profiles[1], "heap", HEARTH_SPEEDSCOPE_BYTES,
	    "main;a 4096\n");
	assert_profile(&r.profiles[2], "t", HEARTH_SPEEDSCOPE_SECONDS,
	    "b 2000000000\n");
	assert_true(hearth_speedscope_unit_is_time(HEARTH_SPEEDSCOPE_SECONDS));
	assert_false(hearth_speedscope_unit_is_time(HEARTH_SPEEDSCOPE_BYTES));
	/* No profiles at all: nothing, no error. */
	r = parse_ok(a, "{" SCHEMA ",\"profiles\":[]}", NULL);
	assert_int_equal(r.n_profiles, 0);
	hearth_arena_free(a);
}

/* Stack depth keeps the root side, names keep their tail, and the
 * distinct stacks of a profile are limited. */
static void
test_speedscope_limits(void **state)
{
	(void) state;
	hearth_arena		*a = hearth_arena_new(0);
	size_t			 cut_stacks = 0, cut_symbols = 0;
	hearth_speedscope_opts	 o = { .max_stack_depth = 2,
		      .max_symbol_length			   = 3,
		      .truncated_stacks				   = &cut_stacks,
		      .truncated_symbols			   = &cut_symbols };
	hearth_speedscope_result r = parse_ok(a,
	    "{" SCHEMA ",\"shared\":{\"frames\":[{\"name\":\"main\"},"
	    "{\"name\":\"handler\"},{\"name\":\"leaf\"}]},\"profiles\":[{"
	    "\"type\":\"sampled\",\"unit\":\"none\",\"samples\":[[0,1,2],"
	    "[0,1]],\"weights\":[1,1]}]}",
	    &o);
	assert_profile(&r.profiles[0], "", HEARTH_SPEEDSCOPE_NONE,
	    "ain;ler 2\n");
	assert_int_equal(cut_stacks, 1);
	assert_int_equal(cut_symbols, 2); /* once per name */
	hearth_speedscope_opts few = { .max_samples = 1 };
	assert_error("{" SCHEMA "," FRAMES ",\"profiles\":[{\"type\":"
		     "\"sampled\",\"unit\":\"none\",\"samples\":[[0],[1]],"
		     "\"weights\":[1,1]}]}",
	    &few, HEARTH_ELIMIT, "max_profile_stacktrace_samples (limit: 1)");
	hearth_arena_free(a);
}

#define P(x) "{" SCHEMA "," FRAMES ",\"profiles\":[" x "]}"

static void
test_speedscope_bad_input(void **state)
{
	(void) state;
	assert_error("{\"profiles\":[]}", NULL, HEARTH_EINVAL,
	    "speedscope: \"$schema\" is not");
	assert_error("{\"$schema\":\"https://example.com/x.json\"}", NULL,
	    HEARTH_EINVAL, "not a speedscope file");
	assert_error("[1]", NULL, HEARTH_EINVAL,
	    "speedscope: json: offset 0: expected '{'");
	assert_error("{" SCHEMA "} x", NULL, HEARTH_EINVAL,
	    "unexpected data after the top-level object");
	assert_error("{" SCHEMA ",", NULL, HEARTH_EINVAL,
	    "unexpected end of input");
	assert_error(P("{\"type\":\"sampled\",\"unit\":\"hours\","
		       "\"samples\":[],\"weights\":[]}"),
	    NULL, HEARTH_EINVAL, "profile 0: unit \"hours\" is not one of");
	assert_error(P("{\"type\":\"sampled\"}"), NULL, HEARTH_EINVAL,
	    "profile 0: unit \"\" is not one of");
	assert_error(P("{\"type\":\"flat\",\"unit\":\"none\"}"), NULL,
	    HEARTH_EINVAL, "type \"flat\" is not sampled or evented");
	assert_error(P("{\"type\":\"sampled\",\"unit\":\"none\","
		       "\"samples\":[[0]]}"),
	    NULL, HEARTH_EINVAL, "profile 0 is sampled but has no weights");
	assert_error(P("{\"type\":\"sampled\",\"unit\":\"none\","
		       "\"samples\":[[0],[1]],\"weights\":[1]}"),
	    NULL, HEARTH_EINVAL, "profile 0 has more samples than weights");
	assert_error(P("{\"type\":\"sampled\",\"unit\":\"none\","
		       "\"samples\":[[4]],\"weights\":[1]}"),
	    NULL, HEARTH_EINVAL,
	    "frame index 4 is not one of the 4 shared frames");
	assert_error(P("{\"type\":\"sampled\",\"unit\":\"none\","
		       "\"samples\":[[0.5]],\"weights\":[1]}"),
	    NULL, HEARTH_EINVAL, "frame index 0.5 is not one of");
	assert_error(P("{\"type\":\"sampled\",\"unit\":\"none\","
		       "\"samples\":[[0]],\"weights\":[-1]}"),
	    NULL, HEARTH_EINVAL, "negative weight -1");
	assert_error(P("{\"type\":\"sampled\",\"unit\":\"none\","
		       "\"samples\":[[0]],\"weights\":[\"1\"]}"),
	    NULL, HEARTH_EINVAL, "a weight must be a number");
	assert_error(P("{\"type\":\"sampled\",\"unit\":\"seconds\","
		       "\"samples\":[[0]],\"weights\":[1e300]}"),
	    NULL, HEARTH_EINVAL, "does not fit 64 bits");
	assert_error(P("{\"type\":\"evented\",\"unit\":\"none\"}"), NULL,
	    HEARTH_EINVAL, "profile 0 is evented but has no events");
	assert_error(P("{\"type\":\"evented\",\"unit\":\"none\",\"events\":["
		       "{\"type\":\"O\",\"frame\":0,\"at\":5},"
		       "{\"type\":\"C\",\"frame\":0,\"at\":4}]}"),
	    NULL, HEARTH_EINVAL, "events out of order (at 4 after 5)");
	assert_error(P("{\"type\":\"evented\",\"unit\":\"none\",\"events\":["
		       "{\"type\":\"O\",\"frame\":0,\"at\":0},"
		       "{\"type\":\"C\",\"frame\":1,\"at\":1}]}"),
	    NULL, HEARTH_EINVAL,
	    "closing frame 1, which is not the innermost open frame");
	assert_error(P("{\"type\":\"evented\",\"unit\":\"none\",\"events\":["
		       "{\"type\":\"X\",\"frame\":0,\"at\":0}]}"),
	    NULL, HEARTH_EINVAL, "an event needs \"type\" \"O\" or \"C\"");
	assert_error("{" SCHEMA ",\"shared\":{\"frames\":[{\"name\":"
		     "\"a\\u0000b\"}]}}",
	    NULL, HEARTH_EINVAL, "frame 0: its name contains a NUL");
	assert_error("{" SCHEMA ",\"shared\":{\"frames\":[{\"name\":7}]}}",
	    NULL, HEARTH_EINVAL, "a frame's name must be a string");
}

/* Every prefix of a valid file fails cleanly (no crash, no profile). */
static void
test_speedscope_every_prefix_fails(void **state)
{
	(void) state;
	const char *json = P("{\"type\":\"evented\",\"name\":\"e\",\"unit\":"
			     "\"none\",\"events\":[{\"type\":\"O\",\"frame\":"
			     "0,\"at\":0},{\"type\":\"C\",\"frame\":0,\"at\":"
			     "2}]},{\"type\":\"sampled\",\"unit\":\"bytes\","
			     "\"samples\":[[0,1]],\"weights\":[9]}");
	size_t n = strlen(json);
	for (size_t i = 0; i < n; i++) {
		hearth_arena		*a = hearth_arena_new(0);
		hearth_speedscope_result r;
		hearth_err		 err;
		assert_int_not_equal(
		    hearth_speedscope_parse(a, json, i, NULL, &r, &err), 0);
		assert_int_equal(r.n_profiles, 0);
		assert_non_null(strstr(err.msg, "speedscope"));
		hearth_arena_free(a);
	}
	hearth_arena		*a = hearth_arena_new(0);
	hearth_speedscope_result r = parse_ok(a, json, NULL);
	assert_int_equal(r.n_profiles, 2);
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_speedscope_sampled),
		cmocka_unit_test(test_speedscope_evented),
		cmocka_unit_test(test_speedscope_merge_and_units),
		cmocka_unit_test(test_speedscope_limits),
		cmocka_unit_test(test_speedscope_bad_input),
		cmocka_unit_test(test_speedscope_every_prefix_fails),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
