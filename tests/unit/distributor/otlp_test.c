/* Unit tests of distributor/otlp: OTLP profiles → pprof + series labels →
 * push. Requests are written as OTLP/JSON literals (field names of
 * opentelemetry-proto v1.10.0), so each case reads as the wire data. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "otlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_NS 1700000000000000000LL

typedef struct fixture {
	hearth_config cfg;
	hearth_arena *arena;
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	hearth_config_defaults(&f->cfg);
	f->cfg.limits.reject_older_than_ms = 0;
	f->cfg.limits.reject_newer_than_ms = 0;
	f->arena                           = hearth_arena_new(0);
	*state                             = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	hearth_arena_free(f->arena);
	free(f);
	return 0;
}

/* A dictionary shared by the cases: functions main(1) work(2) read(3),
 * locations 1..3 (one line each; location 3 in mapping 1), location 4
 * without lines; stacks 1 = main;work, 2 = main;read, 3 = main;work;4
 * (leaf first on the wire). Strings 1..4 = samples count cpu nanoseconds. */
#define DICT                                                                  \
	"\"dictionary\":{"                                                    \
	"\"stringTable\":[\"\",\"samples\",\"count\",\"cpu\","                \
	"\"nanoseconds\","                                                    \
	"\"main\",\"work\",\"read\",\"app.go\",\"thread\",\"t1\","            \
	"\"service.name\",\"svc-b\",\"/bin/app\","                            \
	"\"process.executable.build_id.gnu\",\"off_cpu\"],"                   \
	"\"functionTable\":[{},{\"nameStrindex\":5,\"filenameStrindex\":8},"  \
	"{\"nameStrindex\":6,\"filenameStrindex\":8},"                        \
	"{\"nameStrindex\":7,\"filenameStrindex\":8}],"                       \
	"\"mappingTable\":[{},{\"memoryStart\":\"4096\",\"memoryLimit\":"     \
	"\"8192\",\"filenameStrindex\":13,\"attributeIndices\":[3]}],"        \
	"\"locationTable\":[{},{\"lines\":[{\"functionIndex\":1,\"line\":3}]" \
	"},"                                                                  \
	"{\"lines\":[{\"functionIndex\":2,\"line\":7}]},"                     \
	"{\"mappingIndex\":1,\"address\":\"4100\",\"lines\":[{"               \
	"\"functionIndex\":3,\"line\":9}]},"                                  \
	"{\"mappingIndex\":1,\"address\":\"4660\"}],"                         \
	"\"stackTable\":[{},{\"locationIndices\":[2,1]},"                     \
	"{\"locationIndices\":[3,1]},{\"locationIndices\":[4,2,1]}],"         \
	"\"attributeTable\":[{},{\"keyStrindex\":9,\"value\":{"               \
	"\"stringValue\":\"t1\"}},"                                           \
	"{\"keyStrindex\":11,\"value\":{\"stringValue\":\"svc-b\"}},"         \
	"{\"keyStrindex\":14,\"value\":{\"stringValue\":\"abc123\"}}],"       \
	"\"linkTable\":[{},{\"traceId\":"                                     \
	"\"0102030405060708090a0b0c0d0e0f10\","                               \
	"\"spanId\":\"a1a2a3a4a5a6a7a8\"}]}"

/* samples/count with period cpu/nanoseconds 1000 (the eBPF shape). */
#define EBPF_PROFILE(samples)                                                 \
	"{\"sampleType\":{\"typeStrindex\":1,\"unitStrindex\":2},"            \
	"\"periodType\":{\"typeStrindex\":3,\"unitStrindex\":4},"             \
	"\"period\":\"1000\",\"timeUnixNano\":\"1600000000000000000\","       \
	"\"samples\":[" samples "]}"

static hearth_otlp_request *
decode(fixture *f, const char *json)
{
	hearth_otlp_request *req = NULL;
	hearth_err           err;
	int                  rc = hearth_otlp_decode(
	                     f->arena, (const uint8_t *) json, strlen(json), 1, &req, &err);
	if (rc != 0)
		fail_msg("decode: %s", err.msg);
	return req;
}

static const char *
lbl(const hearth_otlp_pprof *p, const char *name)
{
	return hearth_labels_get(p->labels, p->n_labels, name);
}

static const char *
pstr(const Perftools__Profiles__Profile *p, int64_t i)
{
	assert_true(i >= 0 && (size_t) i < p->n_string_table);
	return p->string_table[i];
}

static void
test_otlp_decode_json_hex_ids(void **state)
{
	hearth_otlp_request *req = decode(*state, "{" DICT "}");
	const Opentelemetry__Proto__Profiles__V1development__Link *lk
	    = req->dictionary->link_table[1];
	static const uint8_t trace[16]
	    = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	static const uint8_t span[8]
	    = { 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8 };
	assert_int_equal(lk->trace_id.len, 16);
	assert_memory_equal(lk->trace_id.data, trace, 16);
	assert_int_equal(lk->span_id.len, 8);
	assert_memory_equal(lk->span_id.data, span, 8);
	assert_int_equal(req->dictionary->n_stack_table, 4);
}

static void
test_otlp_decode_protobuf_field_numbers(void **state)
{
	fixture *f = *state;
	/* ExportProfilesServiceRequest{dictionary(2){string_table(5) "x",
	 * stack_table(7){location_indices(1) [3,1]}}} */
	static const uint8_t body[] = { 0x12, 0x09, 0x2a, 0x01, 'x', 0x3a,
		0x04, 0x0a, 0x02, 0x03, 0x01 };
	hearth_otlp_request *req;
	hearth_err           err;
	assert_int_equal(
	    hearth_otlp_decode(f->arena, body, sizeof(body), 0, &req, &err),
	    0);
	assert_int_equal(req->dictionary->n_string_table, 1);
	assert_string_equal(req->dictionary->string_table[0], "x");
	assert_int_equal(
	    req->dictionary->stack_table[0]->n_location_indices, 2);
	assert_int_equal(
	    req->dictionary->stack_table[0]->location_indices[0], 3);
	static const uint8_t junk[] = { 0x12, 0x7f, 0x00 };
	assert_int_equal(
	    hearth_otlp_decode(f->arena, junk, sizeof(junk), 0, &req, &err),
	    HEARTH_EINVAL);
	assert_non_null(strstr(err.msg, "malformed protobuf"));
}

static void
test_otlp_convert_ebpf_rule_and_labels(void **state)
{
	fixture             *f   = *state;
	hearth_otlp_request *req = decode(f,
	    "{\"resourceProfiles\":[{\"resource\":{\"attributes\":["
	    "{\"key\":\"host.name\",\"value\":{\"stringValue\":\"h1\"}},"
	    "{\"key\":\"team\",\"value\":{\"stringValue\":\"first\"}},"
	    "{\"key\":\"team\",\"value\":{\"stringValue\":\"second\"}},"
	    "{\"key\":\"n\",\"value\":{\"intValue\":\"42\"}},"
	    "{\"key\":\"d\",\"value\":{\"doubleValue\":1.5}},"
	    "{\"key\":\"process.executable.name\",\"value\":{\"stringValue\":"
	    "\"app\"}}]},"
	    "\"scopeProfiles\":[{\"scope\":{\"attributes\":["
	    "{\"key\":\"team\",\"value\":{\"stringValue\":\"scope\"}},"
	    "{\"key\":\"lib\",\"value\":{\"arrayValue\":{\"values\":[{"
	    "\"stringValue\":\"l\"}]}}}]},"
	    "\"profiles\":[" EBPF_PROFILE("{\"stackIndex\":1,\"values\":["
	                                  "\"5\"]},"
	                                  "{\"stackIndex\":2,"
	                                  "\"timestampsUnixNano\":[\"1\","
	                                  "\"2\"]}") "]}]}]," DICT "}");
	hearth_otlp_pprof   *out;
	size_t               n;
	hearth_err           err;
	assert_int_equal(
	    hearth_otlp_convert(f->arena, req, NOW_NS, 0, 0, &out, &n, &err),
	    0);
	assert_int_equal(n, 1);
	static const char *const want[][2] = {
		{ "__delta__", "false" },
		{ "__name__", "process_cpu" },
		{ "__otel__", "true" },
		{ "host.name", "h1" },
		{ "lib", "l" },
		{ "n", "42" },
		{ "process.executable.name", "app" },
		{ "service_name", "unknown_service:app" },
		{ "team", "first" },
	};
	assert_int_equal(out[0].n_labels, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < out[0].n_labels; i++) {
		assert_string_equal(out[0].labels[i].name, want[i][0]);
		assert_string_equal(out[0].labels[i].value, want[i][1]);
	}
	const Perftools__Profiles__Profile *p = out[0].profile;
	assert_string_equal(pstr(p, p->sample_type[0]->type), "cpu");
	assert_string_equal(pstr(p, p->sample_type[0]->unit), "nanoseconds");
	assert_string_equal(pstr(p, p->period_type->type), "cpu");
	assert_int_equal(p->period, 1000);
	assert_int_equal(p->time_nanos, 1600000000000000000LL);
	assert_int_equal(p->duration_nanos, 10000000000LL); /* 0 → 10 s */
	assert_int_equal(p->n_sample, 2);
	assert_int_equal(p->sample[0]->value[0], 5000);
	assert_int_equal(p->sample[1]->value[0], 2000); /* 2 timestamps */
	/* main;work leaf first, ids = position + 1 */
	assert_int_equal(p->sample[0]->n_location_id, 2);
	assert_int_equal(p->sample[0]->location_id[0], 1);
	assert_int_equal(p->sample[0]->location_id[1], 2);
	assert_int_equal(p->sample[1]->location_id[1], 2); /* main again */
	assert_int_equal(p->n_location, 3);
	assert_string_equal(out[0].where,
	    "resource_profiles[0].scope_profiles[0].profiles[0]");
}

static void
test_otlp_convert_groups_by_sample_service(void **state)
{
	fixture             *f   = *state;
	hearth_otlp_request *req = decode(f,
	    "{\"resourceProfiles\":[{\"resource\":{\"attributes\":["
	    "{\"key\":\"service.name\",\"value\":{\"stringValue\":\"svc-a\"}}]"
	    "},"
	    "\"scopeProfiles\":[{\"profiles\":[" EBPF_PROFILE(
	        "{\"stackIndex\":1,\"values\":[1]},"
	        "{\"stackIndex\":2,\"values\":[2],\"attributeIndices\":[2,1]},"
	        "{\"stackIndex\":1,\"values\":[3]}") "]}]}]," DICT "}");
	hearth_otlp_pprof   *out;
	size_t               n;
	hearth_err           err;
	assert_int_equal(
	    hearth_otlp_convert(f->arena, req, NOW_NS, 0, 0, &out, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_string_equal(lbl(&out[0], "service_name"), "svc-a");
	assert_int_equal(out[0].profile->n_sample, 2);
	assert_int_equal(out[0].profile->sample[1]->value[0], 3000);
	assert_string_equal(lbl(&out[1], "service_name"), "svc-b");
	const Perftools__Profiles__Profile *p = out[1].profile;
	assert_int_equal(p->n_sample, 1);
	/* service.name is the group, not a label; thread=t1 is */
	assert_int_equal(p->sample[0]->n_label, 1);
	assert_string_equal(pstr(p, p->sample[0]->label[0]->key), "thread");
	assert_string_equal(pstr(p, p->sample[0]->label[0]->str), "t1");
	/* the group's own pprof: its locations only, renumbered */
	assert_int_equal(p->n_location, 2);
	assert_int_equal(p->sample[0]->location_id[0], 1);
}

static void
test_otlp_convert_links_mappings_and_depth(void **state)
{
	fixture             *f   = *state;
	hearth_otlp_request *req = decode(f,
	    "{\"resourceProfiles\":[{\"scopeProfiles\":[{\"profiles\":"
	    "[" EBPF_PROFILE(
	        "{\"stackIndex\":3,\"values\":[1],\"linkIndex\":1},"
	        "{\"stackIndex\":2,\"values\":[1]}") "]}]}]," DICT "}");
	hearth_otlp_pprof   *out;
	size_t               n;
	hearth_err           err;
	/* depth 1: stacks keep 2 locations (1 + 1 so pprof.h sees the cut) */
	assert_int_equal(
	    hearth_otlp_convert(f->arena, req, NOW_NS, 0, 1, &out, &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_string_equal(lbl(&out[0], "service_name"), "unknown_service");
	const Perftools__Profiles__Profile *p = out[0].profile;
	const Perftools__Profiles__Sample  *s = p->sample[0];
	assert_int_equal(s->n_location_id, 2); /* work, main: root side */
	assert_string_equal(
	    pstr(p,
	        p->function
	            [p->location[s->location_id[0] - 1]->line[0]->function_id
	                - 1]
	                ->name),
	    "work");
	assert_int_equal(s->n_label, 2);
	assert_string_equal(pstr(p, s->label[0]->key), "span_id");
	assert_string_equal(pstr(p, s->label[0]->str), "a1a2a3a4a5a6a7a8");
	assert_string_equal(pstr(p, s->label[1]->key), "trace_id");
	assert_string_equal(
	    pstr(p, s->label[1]->str), "0102030405060708090a0b0c0d0e0f10");
	/* location 3 (read, symbolized) is in mapping 1, with its build id */
	assert_int_equal(p->n_mapping, 1);
	const Perftools__Profiles__Mapping *m = p->mapping[0];
	assert_int_equal(m->id, 1);
	assert_int_equal(m->memory_start, 4096);
	assert_string_equal(pstr(p, m->filename), "/bin/app");
	assert_string_equal(pstr(p, m->build_id), "abc123");
	assert_true(
	    m->has_functions && m->has_filenames && m->has_line_numbers);

	/* with the whole stack 3, location 4 (no lines) joins mapping 1 */
	assert_int_equal(
	    hearth_otlp_convert(f->arena, req, NOW_NS, 0, 0, &out, &n, &err),
	    0);
	m = out[0].profile->mapping[0];
	assert_int_equal(out[0].profile->sample[0]->n_location_id, 3);
	assert_false(m->has_functions || m->has_filenames
	    || m->has_line_numbers || m->has_inline_frames);
}

static void
test_otlp_convert_naming_rules(void **state)
{
	fixture *f = *state;
	static const struct {
		const char *type; /* "sampleType":{...},"periodType"... */
		const char *name;
		const char *stype;
	} cases[] = {
		{ "\"sampleType\":{\"typeStrindex\":15,\"unitStrindex\":4}",
		    "off_cpu", "off_cpu" },
		{ "\"sampleType\":{\"typeStrindex\":3,\"unitStrindex\":4},"
		  "\"periodType\":{\"typeStrindex\":3,\"unitStrindex\":4},"
		  "\"period\":\"10\"",
		    "cpu", "cpu" },
		{ "\"sampleType\":{\"typeStrindex\":1,\"unitStrindex\":2}",
		    "process_cpu", "samples" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[4096];
		snprintf(json, sizeof(json),
		    "{\"resourceProfiles\":[{\"scopeProfiles\":[{\"profiles\":"
		    "["
		    "{%s,\"samples\":[{\"stackIndex\":1,\"values\":[7]}]}]}]}]"
		    ","
		    "%s}",
		    cases[i].type, DICT);
		hearth_otlp_request *req = decode(f, json);
		hearth_otlp_pprof   *out;
		size_t               n;
		hearth_err           err;
		assert_int_equal(hearth_otlp_convert(f->arena, req, NOW_NS, 0,
		                     0, &out, &n, &err),
		    0);
		assert_string_equal(lbl(&out[0], "__name__"), cases[i].name);
		const Perftools__Profiles__Profile *p = out[0].profile;
		assert_string_equal(
		    pstr(p, p->sample_type[0]->type), cases[i].stype);
		assert_int_equal(p->sample[0]->value[0], 7);
		assert_int_equal(p->time_nanos, NOW_NS); /* 0 → now */
	}
}

static void
test_otlp_convert_errors_name_the_place(void **state)
{
	fixture   *f = *state;
	hearth_err err;
	static const struct {
		const char *samples;
		const char *msg;
	} cases[] = {
		{ "{\"stackIndex\":4,\"values\":[1]}",
		    "otlp: resource_profiles[0].scope_profiles[0].profiles[0]"
		    ".samples[0]: stack_index 4 out of range (stack_table has "
		    "4 "
		    "entries)" },
		{ "{\"stackIndex\":1,\"values\":[1]},{\"stackIndex\":1,"
		  "\"values\":[1],\"attributeIndices\":[9]}",
		    "otlp: resource_profiles[0].scope_profiles[0].profiles[0]"
		    ".samples[1]: attribute index 9 out of range "
		    "(attribute_table has 4 entries)" },
		{ "{\"stackIndex\":1,\"values\":[1],\"linkIndex\":-1}",
		    "otlp: resource_profiles[0].scope_profiles[0].profiles[0]"
		    ".samples[0]: link_index -1 out of range (link_table has "
		    "2 "
		    "entries)" },
		{ "{\"stackIndex\":1,\"values\":[1,2]}",
		    "otlp: resource_profiles[0].scope_profiles[0].profiles[0]"
		    ".samples[0]: the sample has 2 values; a profile has one "
		    "sample_type in this OTLP version (v1.10.0), so one value "
		    "is "
		    "expected" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[4096];
		snprintf(json, sizeof(json),
		    "{\"resourceProfiles\":[{\"scopeProfiles\":[{\"profiles\":"
		    "["
		    "{\"sampleType\":{\"typeStrindex\":1,\"unitStrindex\":2},"
		    "\"samples\":[%s]}]}]}],%s}",
		    cases[i].samples, DICT);
		hearth_otlp_request *req = decode(f, json);
		hearth_otlp_pprof   *out;
		size_t               n;
		assert_int_equal(hearth_otlp_convert(f->arena, req, NOW_NS, 0,
		                     0, &out, &n, &err),
		    HEARTH_EINVAL);
		assert_string_equal(err.msg, cases[i].msg);
	}
	/* no dictionary */
	hearth_otlp_request *req = decode(f, "{\"resourceProfiles\":[]}");
	hearth_otlp_pprof   *out;
	size_t               n;
	assert_int_equal(
	    hearth_otlp_convert(f->arena, req, NOW_NS, 0, 0, &out, &n, &err),
	    HEARTH_EINVAL);
	assert_non_null(strstr(err.msg, "no dictionary"));
	/* more samples than max_profile_stacktrace_samples */
	req = decode(f,
	    "{\"resourceProfiles\":[{\"scopeProfiles\":[{\"profiles\":"
	    "[" EBPF_PROFILE("{\"stackIndex\":1,\"values\":[1]},"
	                     "{\"stackIndex\":1,\"values\":[1]}") "]}]}]," DICT
	                                                          "}");
	assert_int_equal(
	    hearth_otlp_convert(f->arena, req, NOW_NS, 1, 0, &out, &n, &err),
	    HEARTH_ELIMIT);
	assert_non_null(strstr(
	    err.msg, "(max_profile_stacktrace_samples, actual: 2, limit: 1)"));
}

static void
test_otlp_build_push_and_statuses(void **state)
{
	fixture           *f = *state;
	hearth_otlp_result res;
	hearth_err         err;
	hearth_otlp_params p
	    = { .json = 1, .now_ns = NOW_NS, .limits = &f->cfg.limits };
	const char *json = "{\"resourceProfiles\":[{\"resource\":{"
	                   "\"attributes\":["
	                   "{\"key\":\"service.name\",\"value\":{"
	                   "\"stringValue\":\"s\"}}]},"
	                   "\"scopeProfiles\":[{\"profiles\":[" EBPF_PROFILE(
	                       "{\"stackIndex\":1,\"values\":[2]},"
	                       "{\"stackIndex\":2,\"values\":[3],"
	                       "\"attributeIndices\":[1]}") "]}]}]," DICT "}";
	assert_int_equal(hearth_otlp_build(f->arena, &p,
	                     (const uint8_t *) json, strlen(json), &res, &err),
	    0);
	assert_int_equal(res.pprofs, 1);
	assert_non_null(res.acc.push);
	/* thread=t1 makes a second series: two profiles, one batch */
	assert_int_equal(res.acc.profiles, 2);
	assert_int_equal(res.acc.samples, 2);
	assert_int_equal(res.acc.push->n_batches, 1);
	const Hearth__Ingester__SeriesProfile *sp
	    = res.acc.push->batches[0]->profiles[0];
	for (size_t i = 0; i < sp->n_labels; i++) {
		assert_string_not_equal(sp->labels[i]->name, "__delta__");
		assert_string_not_equal(sp->labels[i]->name, "__otel__");
	}
	assert_int_equal(sp->time_nanos, 1600000000000000000LL);
	assert_int_equal(sp->duration_nanos, 10000000000LL);

	p.content_encoding = "br";
	assert_int_not_equal(
	    hearth_otlp_build(f->arena, &p, (const uint8_t *) json,
	        strlen(json), &res, &err),
	    0);
	assert_int_equal(res.status, 415);
	p.content_encoding = "gzip";
	assert_int_not_equal(
	    hearth_otlp_build(f->arena, &p, (const uint8_t *) json,
	        strlen(json), &res, &err),
	    0);
	assert_int_equal(res.status, 400);
	p.content_encoding = NULL;
	assert_int_not_equal(hearth_otlp_build(f->arena, &p,
	                         (const uint8_t *) "{\"x\":", 5, &res, &err),
	    0);
	assert_int_equal(res.status, 400);
	assert_true(strncmp(err.msg, "otlp: json: ", 12) == 0);
	/* a timestamp outside the ingestion window is the client's 400 */
	f->cfg.limits.reject_older_than_ms = 3600000;
	assert_int_not_equal(
	    hearth_otlp_build(f->arena, &p, (const uint8_t *) json,
	        strlen(json), &res, &err),
	    0);
	assert_int_equal(res.status, 400);
	assert_non_null(strstr(err.msg, "reject_older_than"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_otlp_decode_json_hex_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_otlp_decode_protobuf_field_numbers, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_otlp_convert_ebpf_rule_and_labels, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_otlp_convert_groups_by_sample_service, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_otlp_convert_links_mappings_and_depth, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_otlp_convert_naming_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_otlp_convert_errors_name_the_place, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_otlp_build_push_and_statuses, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
