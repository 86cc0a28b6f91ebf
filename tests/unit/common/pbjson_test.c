#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pbjson.h"
#include "push.pb-c.h"
#include "querier.pb-c.h"
#include "types.pb-c.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
	hearth_arena *a;
	hearth_err    err;
	hearth_buf    out;
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	f->a       = hearth_arena_new(0);
	hearth_buf_init(&f->out);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	hearth_buf_fini(&f->out);
	hearth_arena_free(f->a);
	free(f);
	return 0;
}

static void *
decode(fixture *f, const ProtobufCMessageDescriptor *d, const char *json)
{
	ProtobufCMessage *m  = NULL;
	int               rc = hearth_pbjson_decode(
	                  f->a, d, json, strlen(json), NULL, &m, &f->err);
	if (rc != 0)
		fail_msg("decode failed: %s", f->err.msg);
	return m;
}

static int
decode_err(fixture *f, const ProtobufCMessageDescriptor *d, const char *json)
{
	ProtobufCMessage *m  = NULL;
	int               rc = hearth_pbjson_decode(
	                  f->a, d, json, strlen(json), NULL, &m, &f->err);
	assert_null(m == NULL ? NULL : m);
	return rc;
}

static const char *
encode(fixture *f, const void *m)
{
	hearth_buf_reset(&f->out);
	assert_int_equal(hearth_pbjson_encode(m, &f->out), 0);
	return f->out.data;
}

/* Grafana Profiles Drilldown mixes proto names and JSON names in one
 * object (connect-apis.md §1.5). */
static void
test_pbjson_mixed_names(void **state)
{
	fixture                                    *f = *state;
	Querier__V1__SelectMergeStacktracesRequest *r = decode(f,
	    &querier__v1__select_merge_stacktraces_request__descriptor,
	    "{\"profile_typeID\":\"process_cpu:cpu:nanoseconds:cpu:"
	    "nanoseconds\","
	    "\"label_selector\":\"{service_name=\\\"x\\\"}\","
	    "\"stackTraceSelector\":{\"call_site\":[{\"name\":\"main\"}]},"
	    "\"maxNodes\":16384,\"start\":1700000000000,\"end\":"
	    "\"1700000060000\"}");
	assert_string_equal(
	    r->profile_typeid, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	assert_string_equal(r->label_selector, "{service_name=\"x\"}");
	assert_int_equal(r->_max_nodes_case,
	    QUERIER__V1__SELECT_MERGE_STACKTRACES_REQUEST___MAX_NODES_MAX_NODES);
	assert_int_equal(r->max_nodes, 16384);
	assert_int_equal(r->start, 1700000000000LL);
	assert_int_equal(r->end, 1700000060000LL);
	assert_non_null(r->stack_trace_selector);
	assert_int_equal(r->stack_trace_selector->n_call_site, 1);
	assert_string_equal(
	    r->stack_trace_selector->call_site[0]->name, "main");
}

static void
test_pbjson_int64_forms(void **state)
{
	fixture                       *f = *state;
	Types__V1__LabelValuesRequest *r
	    = decode(f, &types__v1__label_values_request__descriptor,
	        "{\"name\":\"a\",\"start\":\"-9223372036854775808\","
	        "\"end\":9223372036854775807}");
	assert_true(r->start == INT64_MIN);
	assert_true(r->end == INT64_MAX);
	r = decode(f, &types__v1__label_values_request__descriptor,
	    "{\"start\":1e3,\"end\":\"2.0E1\"}");
	assert_int_equal(r->start, 1000);
	assert_int_equal(r->end, 20);
	/* fractions, overflow and junk are errors naming the field */
	assert_int_equal(
	    decode_err(f, &types__v1__label_values_request__descriptor,
	        "{\"start\":1.5}"),
	    HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "json: offset 9: field \"start\": "
	    "\"1.5\" is not an integer in the field's range");
	assert_int_equal(
	    decode_err(f, &types__v1__label_values_request__descriptor,
	        "{\"end\":\"9223372036854775808\"}"),
	    HEARTH_EINVAL);
	assert_int_equal(
	    decode_err(f, &types__v1__label_values_request__descriptor,
	        "{\"end\":\"12x\"}"),
	    HEARTH_EINVAL);
	assert_int_equal(
	    decode_err(f, &types__v1__label_values_request__descriptor,
	        "{\"end\":\" 12\"}"),
	    HEARTH_EINVAL);
}

static void
test_pbjson_int32_and_unsigned(void **state)
{
	fixture          *f = *state;
	Types__V1__GoPGO *g = decode(f, &types__v1__go_pgo__descriptor,
	    "{\"keepLocations\":4294967295,\"aggregate_callees\":true}");
	assert_int_equal(g->keep_locations, 4294967295u);
	assert_true(g->aggregate_callees);
	assert_int_equal(decode_err(f, &types__v1__go_pgo__descriptor,
	                     "{\"keepLocations\":4294967296}"),
	    HEARTH_EINVAL);
	assert_int_equal(decode_err(f, &types__v1__go_pgo__descriptor,
	                     "{\"keepLocations\":-1}"),
	    HEARTH_EINVAL);
	assert_int_equal(decode_err(f, &types__v1__go_pgo__descriptor,
	                     "{\"aggregateCallees\":\"true\"}"),
	    HEARTH_EINVAL);
	Types__V1__BlockCompaction *c
	    = decode(f, &types__v1__block_compaction__descriptor,
	        "{\"level\":\"-2147483648\"}");
	assert_int_equal(c->level, INT32_MIN);
	assert_int_equal(
	    decode_err(f, &types__v1__block_compaction__descriptor,
	        "{\"level\":2147483648}"),
	    HEARTH_EINVAL);
}

static void
test_pbjson_enums(void **state)
{
	fixture                          *f = *state;
	Querier__V1__SelectSeriesRequest *r
	    = decode(f, &querier__v1__select_series_request__descriptor,
	        "{\"aggregation\":\"TIME_SERIES_AGGREGATION_TYPE_AVERAGE\","
	        "\"exemplarType\":2,\"step\":15,\"groupBy\":[\"pod\","
	        "\"region\"]}");
	assert_int_equal(r->_aggregation_case,
	    QUERIER__V1__SELECT_SERIES_REQUEST___AGGREGATION_AGGREGATION);
	assert_int_equal(r->aggregation,
	    TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE);
	assert_int_equal(r->exemplar_type,
	    TYPES__V1__EXEMPLAR_TYPE__EXEMPLAR_TYPE_INDIVIDUAL);
	assert_true(r->step == 15.0);
	assert_int_equal(r->n_group_by, 2);
	assert_string_equal(r->group_by[1], "region");
	/* An explicit SUM (0) is present; an unknown name leaves it unset. */
	r = decode(f, &querier__v1__select_series_request__descriptor,
	    "{\"aggregation\":0}");
	assert_int_equal(r->_aggregation_case,
	    QUERIER__V1__SELECT_SERIES_REQUEST___AGGREGATION_AGGREGATION);
	r = decode(f, &querier__v1__select_series_request__descriptor,
	    "{\"aggregation\":\"TIME_SERIES_AGGREGATION_TYPE_MEDIAN\"}");
	assert_int_equal(r->_aggregation_case, 0);
}

static void
test_pbjson_null_unknown_and_empty(void **state)
{
	fixture                                    *f = *state;
	Querier__V1__SelectMergeStacktracesRequest *r = decode(f,
	    &querier__v1__select_merge_stacktraces_request__descriptor,
	    " {\"maxNodes\":null,\"unknown\":{\"a\":[1,2,{\"b\":null}],\"c\":"
	    "\"\\u00e9\"},"
	    "\"spanSelector\":null,\"start\":5, \"x\":true} ");
	assert_int_equal(r->_max_nodes_case, 0);
	assert_int_equal(r->n_span_selector, 0);
	assert_int_equal(r->start, 5);
	r = decode(f,
	    &querier__v1__select_merge_stacktraces_request__descriptor, "  ");
	assert_int_equal(r->start, 0);
	assert_string_equal(r->label_selector, "");
	r = decode(f,
	    &querier__v1__select_merge_stacktraces_request__descriptor, "{}");
	assert_int_equal(r->_max_nodes_case, 0);
}

static void
test_pbjson_bytes_base64_variants(void **state)
{
	fixture    *f        = *state;
	const char *bodies[] = {
		"{\"rawProfile\":\"+/8=\",\"ID\":\"x\"}",
		"{\"raw_profile\":\"-_8\"}",
		"{\"rawProfile\":\"+/8\"}",
	};
	for (size_t i = 0; i < 3; i++) {
		Push__V1__RawSample *s
		    = decode(f, &push__v1__raw_sample__descriptor, bodies[i]);
		assert_int_equal(s->raw_profile.len, 2);
		assert_int_equal(s->raw_profile.data[0], 0xfb);
		assert_int_equal(s->raw_profile.data[1], 0xff);
	}
	assert_int_equal(decode_err(f, &push__v1__raw_sample__descriptor,
	                     "{\"rawProfile\":\"a\"}"),
	    HEARTH_EINVAL);
	assert_int_equal(decode_err(f, &push__v1__raw_sample__descriptor,
	                     "{\"rawProfile\":\"ab*d\"}"),
	    HEARTH_EINVAL);
	/* hex only on request (OTLP/JSON ids) */
	ProtobufCMessage  *m;
	hearth_pbjson_opts o = { .bytes_hex = 1 };
	const char        *j = "{\"rawProfile\":\"0aff\"}";
	assert_int_equal(
	    hearth_pbjson_decode(f->a, &push__v1__raw_sample__descriptor, j,
	        strlen(j), &o, &m, &f->err),
	    0);
	Push__V1__RawSample *s = (Push__V1__RawSample *) m;
	assert_int_equal(s->raw_profile.len, 2);
	assert_int_equal(s->raw_profile.data[0], 0x0a);
	assert_int_equal(s->raw_profile.data[1], 0xff);
}

static void
test_pbjson_strings_escapes(void **state)
{
	fixture              *f = *state;
	Types__V1__LabelPair *p = decode(f, &types__v1__label_pair__descriptor,
	    "{\"name\":\"a\\\"b\\\\c\\/"
	    "\\n\",\"value\":\"\\u00e9\\ud83d\\ude00\\ud800x\"}");
	assert_string_equal(p->name, "a\"b\\c/\n");
	assert_string_equal(p->value, "\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbdx");
	assert_int_equal(decode_err(f, &types__v1__label_pair__descriptor,
	                     "{\"name\":\"a\\u0000b\"}"),
	    HEARTH_EINVAL);
	assert_int_equal(decode_err(f, &types__v1__label_pair__descriptor,
	                     "{\"name\":\"\xff\"}"),
	    HEARTH_EINVAL);
	assert_int_equal(decode_err(f, &types__v1__label_pair__descriptor,
	                     "{\"name\":\"a\nb\"}"),
	    HEARTH_EINVAL);
	assert_int_equal(decode_err(f, &types__v1__label_pair__descriptor,
	                     "{\"name\":\"\\x\"}"),
	    HEARTH_EINVAL);
	assert_int_equal(
	    decode_err(f, &types__v1__label_pair__descriptor, "{\"name\":5}"),
	    HEARTH_EINVAL);
}

static void
test_pbjson_structural_errors(void **state)
{
	fixture                          *f = *state;
	const ProtobufCMessageDescriptor *d
	    = &querier__v1__select_merge_stacktraces_request__descriptor;
	const char *bad[] = {
		"[]",
		"{",
		"{\"start\":}",
		"{\"start\":1,}",
		"{\"start\" 1}",
		"{\"start\":1} x",
		"{\"start\":01}",
		"{\"start\":-}",
		"{\"spanSelector\":\"a\"}",
		"{\"spanSelector\":[\"a\",null]}",
		"{\"stackTraceSelector\":[]}",
		"{\"x\":tru}",
		"{\"x\":[1,]}",
		"{\"start\":1,\"start\":2}",
		"{\"start\":1,\"start\":2}",
		"{\"label_selector\":\"a\",\"labelSelector\":\"b\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ProtobufCMessage *m  = NULL;
		int               rc = hearth_pbjson_decode(
		                  f->a, d, bad[i], strlen(bad[i]), NULL, &m, &f->err);
		if (rc != HEARTH_EINVAL)
			fail_msg("accepted %s", bad[i]);
		assert_null(m);
		assert_memory_equal(f->err.msg, "json: offset ", 13);
	}
	assert_int_equal(
	    decode_err(f, d, "{\"start\":1,\"start\":2}"), HEARTH_EINVAL);
	assert_string_equal(f->err.msg,
	    "json: offset 11: field \"start\": the field appears twice");
}

static void
test_pbjson_depth_limit(void **state)
{
	fixture *f = *state;
	char     buf[4096];
	size_t   n = 0;
	n += (size_t) snprintf(buf + n, sizeof(buf) - n, "{\"x\":");
	for (int i = 0; i < 200; i++)
		buf[n++] = '[';
	buf[n] = '\0';
	assert_int_equal(
	    decode_err(f, &types__v1__label_pair__descriptor, buf),
	    HEARTH_EINVAL);
	assert_non_null(strstr(f->err.msg, "nesting deeper than 64 levels"));
}

static void
test_pbjson_oneof_conflict(void **state)
{
	fixture *f = *state;
	/* Two JSON names of one field count as the same field. */
	assert_int_equal(
	    decode_err(f,
	        &querier__v1__select_merge_stacktraces_request__descriptor,
	        "{\"max_nodes\":1,\"maxNodes\":2}"),
	    HEARTH_EINVAL);
}

/* connect-apis.md §4.3 worked example: JSON of level 1. */
static void
test_pbjson_encode_level_worked_example(void **state)
{
	fixture           *f   = *state;
	int64_t            v[] = { 0, 10, 10, 5, 0, 90, 0, 1 };
	Querier__V1__Level l   = QUERIER__V1__LEVEL__INIT;
	l.n_values             = 8;
	l.values               = v;
	assert_string_equal(encode(f, &l),
	    "{\"values\":[\"0\",\"10\",\"10\",\"5\",\"0\",\"90\",\"0\",\"1\"]"
	    "}");
}

static void
test_pbjson_encode_defaults_omitted(void **state)
{
	fixture                *f       = *state;
	Querier__V1__FlameGraph fg      = QUERIER__V1__FLAME_GRAPH__INIT;
	char                   *names[] = { "total" };
	fg.n_names                      = 1;
	fg.names                        = names;
	assert_string_equal(encode(f, &fg), "{\"names\":[\"total\"]}");
	fg.max_self = 7;
	assert_string_equal(
	    encode(f, &fg), "{\"names\":[\"total\"],\"maxSelf\":\"7\"}");
	Push__V1__PushResponse pr = PUSH__V1__PUSH_RESPONSE__INIT;
	assert_string_equal(encode(f, &pr), "{}");
	Querier__V1__FlameGraphDiff d = QUERIER__V1__FLAME_GRAPH_DIFF__INIT;
	d.leftticks                   = 15;
	d.rightticks                  = 10;
	d.total                       = 25;
	assert_string_equal(encode(f, &d),
	    "{\"total\":\"25\",\"leftTicks\":\"15\",\"rightTicks\":\"10\"}");
}

/* A set oneof member is written even when zero; enums by name. */
static void
test_pbjson_encode_oneof_and_enum(void **state)
{
	fixture                         *f = *state;
	Querier__V1__SelectSeriesRequest r
	    = QUERIER__V1__SELECT_SERIES_REQUEST__INIT;
	r._limit_case = QUERIER__V1__SELECT_SERIES_REQUEST___LIMIT_LIMIT;
	r.limit       = 0;
	r._aggregation_case
	    = QUERIER__V1__SELECT_SERIES_REQUEST___AGGREGATION_AGGREGATION;
	r.aggregation
	    = TYPES__V1__TIME_SERIES_AGGREGATION_TYPE__TIME_SERIES_AGGREGATION_TYPE_AVERAGE;
	r.exemplar_type  = 7; /* no name: written as a number */
	r.profile_typeid = "a:b:c:d:e";
	assert_string_equal(encode(f, &r),
	    "{\"profileTypeID\":\"a:b:c:d:e\","
	    "\"aggregation\":\"TIME_SERIES_AGGREGATION_TYPE_AVERAGE\","
	    "\"limit\":\"0\",\"exemplarType\":7}");
}

static const char *
fmt_double(fixture *f, double v)
{
	Types__V1__Point p = TYPES__V1__POINT__INIT;
	p.value            = v;
	const char *s      = encode(f, &p);
	static char out[64];
	/* {"value":X} -> X */
	if (strncmp(s, "{\"value\":", 9) != 0)
		return s;
	snprintf(out, sizeof(out), "%.*s", (int) (strlen(s) - 10), s + 9);
	return out;
}

static void
test_pbjson_encode_doubles_like_go(void **state)
{
	fixture *f = *state;
	assert_string_equal(fmt_double(f, 12345), "12345");
	assert_string_equal(fmt_double(f, 0.5), "0.5");
	assert_string_equal(fmt_double(f, -2.25), "-2.25");
	assert_string_equal(fmt_double(f, 0.1), "0.1");
	assert_string_equal(fmt_double(f, 1.0 / 3), "0.3333333333333333");
	assert_string_equal(fmt_double(f, 1e20), "100000000000000000000");
	assert_string_equal(fmt_double(f, 1e21), "1e+21");
	assert_string_equal(fmt_double(f, 1.5e300), "1.5e+300");
	assert_string_equal(fmt_double(f, 0.000001), "0.000001");
	assert_string_equal(fmt_double(f, 1e-7), "1e-7");
	assert_string_equal(fmt_double(f, 1.25e-10), "1.25e-10");
	assert_string_equal(fmt_double(f, 123.456), "123.456");
	assert_string_equal(fmt_double(f, NAN), "\"NaN\"");
	assert_string_equal(fmt_double(f, -INFINITY), "\"-Infinity\"");
	assert_string_equal(
	    encode(f, &(Types__V1__Point) TYPES__V1__POINT__INIT), "{}");
	/* doubles come back from numbers and strings */
	Types__V1__Point *p = decode(f, &types__v1__point__descriptor,
	    "{\"value\":\"Infinity\",\"timestamp\":\"1\"}");
	assert_true(isinf(p->value) && p->value > 0);
	p = decode(f, &types__v1__point__descriptor, "{\"value\":\"2.5e1\"}");
	assert_true(p->value == 25.0);
	assert_int_equal(
	    decode_err(f, &types__v1__point__descriptor, "{\"value\":1e999}"),
	    HEARTH_EINVAL);
	assert_int_equal(decode_err(f, &types__v1__point__descriptor,
	                     "{\"value\":\"inf\"}"),
	    HEARTH_EINVAL);
}

/* Everything the encoder writes, the decoder reads back to the same
 * binary encoding. */
static void
test_pbjson_round_trip_binary_equal(void **state)
{
	fixture    *f = *state;
	const char *json
	    = "{\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":"
	      "\"process_cpu\"},"
	      "{\"name\":\"service_name\",\"value\":\"caf\\u00e9\"}],"
	      "\"samples\":[{\"rawProfile\":\"H4sIAAAAAAAA/"
	      "w==\",\"ID\":\"0b9c\"},"
	      "{\"rawProfile\":\"AA==\"}]}]}";
	Push__V1__PushRequest *r
	    = decode(f, &push__v1__push_request__descriptor, json);
	size_t   n1 = push__v1__push_request__get_packed_size(r);
	uint8_t *b1 = malloc(n1);
	push__v1__push_request__pack(r, b1);
	const char *again = encode(f, r);
	assert_string_equal(again,
	    "{\"series\":[{\"labels\":[{\"name\":\"__name__\",\"value\":"
	    "\"process_cpu\"},{\"name\":\"service_name\",\"value\":"
	    "\"caf\xc3\xa9\"}],"
	    "\"samples\":[{\"rawProfile\":\"H4sIAAAAAAAA/"
	    "w==\",\"ID\":\"0b9c\"},"
	    "{\"rawProfile\":\"AA==\"}]}]}");
	char                  *copy = strdup(again);
	Push__V1__PushRequest *r2
	    = decode(f, &push__v1__push_request__descriptor, copy);
	size_t   n2 = push__v1__push_request__get_packed_size(r2);
	uint8_t *b2 = malloc(n2);
	push__v1__push_request__pack(r2, b2);
	assert_int_equal(n1, n2);
	assert_memory_equal(b1, b2, n1);
	free(b1);
	free(b2);
	free(copy);
}

static void
test_pbjson_name(void **state)
{
	(void) state;
	char buf[64];
	assert_int_equal(
	    hearth_pbjson_name("profile_typeID", buf, sizeof(buf)), 13);
	assert_string_equal(buf, "profileTypeID");
	hearth_pbjson_name("labels_set", buf, sizeof(buf));
	assert_string_equal(buf, "labelsSet");
	hearth_pbjson_name("y_min", buf, sizeof(buf));
	assert_string_equal(buf, "yMin");
	hearth_pbjson_name("QuerierAPI", buf, sizeof(buf));
	assert_string_equal(buf, "QuerierAPI");
	assert_int_equal(hearth_pbjson_name("max_self", buf, 4), 7);
	assert_string_equal(buf, "max");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_pbjson_mixed_names, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_int64_forms, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_int32_and_unsigned, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_enums, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_null_unknown_and_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_bytes_base64_variants, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_strings_escapes, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_structural_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_depth_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_oneof_conflict, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_encode_level_worked_example, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_encode_defaults_omitted, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_encode_oneof_and_enum, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_encode_doubles_like_go, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pbjson_round_trip_binary_equal, setup, teardown),
		cmocka_unit_test(test_pbjson_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
