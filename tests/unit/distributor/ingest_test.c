/* Unit tests of distributor/ingest: /ingest requests → push batches. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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
	f->arena = hearth_arena_new(0);
	*state	 = f;
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

static hearth_ingest_params
params(fixture *f, const char *name)
{
	hearth_ingest_params p = { 0 };
	p.name			= name;
	p.from			= "1700000000";
	p.until			= "1700000010";
	p.now_ns		= NOW_NS;
	p.limits		= &f->cfg.limits;
	return p;
}

static const char *
label(const Hearth__Ingester__SeriesProfile *sp, const char *name)
{
	for (size_t i = 0; i < sp->n_labels; i++)
		if (strcmp(sp->labels[i]->name, name) == 0)
			return sp->labels[i]->value;
	return NULL;
}

/* Sum of a profile's values for the stack whose frames are `folded`. */
static int64_t
value_of(const Hearth__Ingester__ProfileBatch *b,
    const Hearth__Ingester__SeriesProfile *sp, const char *folded)
{
	int64_t sum = 0;
	for (size_t i = 0; i < sp->n_stacks; i++) {
		uint32_t s   = sp->stacks[i];
		size_t	 off = 0;
		for (uint32_t k = 0; k < s; k++)
			off += b->stack_lengths[k];
		char buf[512];
		size_t n = 0;
		buf[0]	 = '\0';
		for (uint32_t k = 0; k < b->stack_lengths[s]; k++)
			n += (size_t) snprintf(buf + n, sizeof(buf) - n, "%s%s",
			    k ? ";" : "", b->strings[b->frames[off + k]]);
		if (strcmp(buf, folded) == 0)
			sum += sp->values[i];
	}
	return sum;
}

static void
test_ingest_folded_cpu_scaled_and_labelled(void **state)
{
	fixture		    *f = *state;
	hearth_ingest_params p = params(f, "shop.cpu{env=prod,__secret=x}");
	const char	    *body = "main;work 3\nmain;idle 1\nmain;work 2\n";
	hearth_ingest_result r;
	hearth_err	     err;
	assert_int_equal(hearth_ingest_build(f->arena, &p,
	    (const uint8_t *) body, strlen(body), &r, &err), 0);
	assert_non_null(r.push);
	assert_int_equal(r.profiles, 1);
	Hearth__Ingester__ProfileBatch	*b  = r.push->batches[0];
	Hearth__Ingester__SeriesProfile *sp = b->profiles[0];
	assert_string_equal(label(sp, "__name__"), "process_cpu");
	assert_string_equal(label(sp, "service_name"), "shop");
	assert_string_equal(label(sp, "env"), "prod");
	assert_string_equal(label(sp, "pyroscope_spy"), "unknown");
	assert_string_equal(label(sp, "__profile_type__"),
	    "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	assert_string_equal(label(sp, "__type__"), "cpu");
	assert_string_equal(label(sp, "__unit__"), "nanoseconds");
	assert_string_equal(label(sp, "__period_type__"), "cpu");
	assert_string_equal(label(sp, "__service_name__"), "shop");
	assert_null(label(sp, "__secret"));
	assert_null(label(sp, "__delta__"));
	/* 100 Hz default: one sample is 10 ms. */
	assert_int_equal(value_of(b, sp, "main;work"), 50000000);
	assert_int_equal(value_of(b, sp, "main;idle"), 10000000);
	assert_int_equal(sp->time_nanos, 1700000000000000000LL);
	assert_int_equal(sp->duration_nanos, 10000000000LL);
	assert_int_equal(sp->id.len, 16);
	/* labels are sorted */
	for (size_t i = 1; i < sp->n_labels; i++)
		assert_true(strcmp(sp->labels[i - 1]->name, sp->labels[i]->name) < 0);
}

static void
test_ingest_folded_sample_rate_zero_is_samples_count(void **state)
{
	fixture		    *f = *state;
	hearth_ingest_params p = params(f, "shop");
	p.sample_rate	       = "0";
	hearth_ingest_result r;
	hearth_err	     err;
	assert_int_equal(hearth_ingest_build(f->arena, &p,
	    (const uint8_t *) "a;b 7\n", 6, &r, &err), 0);
	Hearth__Ingester__SeriesProfile *sp = r.push->batches[0]->profiles[0];
	assert_string_equal(label(sp, "__profile_type__"),
	    "process_cpu:samples:count::");
	assert_null(label(sp, "__period_type__"));
	assert_int_equal(value_of(r.push->batches[0], sp, "a;b"), 7);
}

static void
test_ingest_suffix_table(void **state)
{
	fixture *f = *state;
	struct {
		const char *name, *type, *service;
	} cases[] = {
		{ "app.inuse_space", "memory:inuse_space:bytes::", "app" },
		{ "app.alloc_objects", "memory:alloc_objects:count::", "app" },
		{ "my.app.mutex_duration", "mutex:delay:nanoseconds::", "my.app" },
		{ "app.goroutines", "goroutine:goroutines:count::", "app" },
		{ "app.wall", "wall:wall:nanoseconds:wall:nanoseconds", "app" },
		{ "app.exceptions", "exceptions:samples:count::", "app" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hearth_ingest_params p = params(f, cases[i].name);
		hearth_ingest_result r;
		hearth_err	     err;
		assert_int_equal(hearth_ingest_build(f->arena, &p,
		    (const uint8_t *) "x 1\n", 4, &r, &err), 0);
		Hearth__Ingester__SeriesProfile *sp =
		    r.push->batches[0]->profiles[0];
		assert_string_equal(label(sp, "__profile_type__"), cases[i].type);
		assert_string_equal(label(sp, "service_name"), cases[i].service);
	}
}

static void
test_ingest_service_name_label_wins_app_becomes_app_name(void **state)
{
	fixture		    *f = *state;
	hearth_ingest_params p = params(f, "legacy.cpu{service_name=checkout}");
	hearth_ingest_result r;
	hearth_err	     err;
	assert_int_equal(hearth_ingest_build(f->arena, &p,
	    (const uint8_t *) "x 1\n", 4, &r, &err), 0);
	Hearth__Ingester__SeriesProfile *sp = r.push->batches[0]->profiles[0];
	assert_string_equal(label(sp, "service_name"), "checkout");
	assert_string_equal(label(sp, "app_name"), "legacy");
}

static void
expect_status(fixture *f, hearth_ingest_params *p, const void *body,
    size_t len, int status, const char *msg_part)
{
	hearth_ingest_result r;
	hearth_err	     err;
	hearth_err_clear(&err);
	assert_true(hearth_ingest_build(f->arena, p, body, len, &r, &err) < 0);
	if (r.status != status || strstr(err.msg, msg_part) == NULL)
		fail_msg("expected %d with \"%s\", got %d \"%s\"", status,
		    msg_part, r.status, err.msg);
}

static void
test_ingest_errors_have_status_and_reason(void **state)
{
	fixture		    *f = *state;
	hearth_ingest_params p = params(f, "app.bogus");
	expect_status(f, &p, "x 1\n", 4, 400, "unknown profile type suffix");
	p = params(f, "");
	expect_status(f, &p, "x 1\n", 4, 400, "name");
	p = params(f, "bad name!{a=b}");
	expect_status(f, &p, "x 1\n", 4, 400, "name");
	p = params(f, "app.cpu");
	expect_status(f, &p, "", 0, 400, "empty request body");
	p	 = params(f, "app.cpu");
	p.format = "tree";
	expect_status(f, &p, "x", 1, 422, "tree: node 1: cut short");
	p	 = params(f, "app.cpu");
	p.format = "speedscope";
	expect_status(f, &p, "x", 1, 422, "speedscope: json: offset 0");
	expect_status(f, &p, "{}", 2, 422, "not a speedscope file");
	p	 = params(f, "app");
	p.format = "jfr";
	expect_status(f, &p, "x", 1, 422, "jfr: no chunk header");
	p	 = params(f, "app.cpu");
	p.format = "nonsense";
	expect_status(f, &p, "x 1", 3, 400, "unknown format");
	p = params(f, "app.cpu");
	expect_status(f, &p, "main;work abc\n", 14, 422, "not an integer");
	p		   = params(f, "app.cpu");
	p.content_encoding = "gzip";
	expect_status(f, &p, "\x1f\x8b\x08\x00", 4, 422, "gzip");
	p		   = params(f, "app.cpu");
	p.content_encoding = "br";
	expect_status(f, &p, "x 1", 3, 415, "Content-Encoding");
	p	 = params(f, "app");
	p.format = "pprof";
	expect_status(f, &p, "\x0a\xff\xff", 3, 422, "pprof");
}

static void
test_ingest_old_profile_outside_window(void **state)
{
	fixture		    *f = *state;
	hearth_ingest_params p = params(f, "app.cpu");
	p.from		       = "1600000000"; /* years before NOW_NS */
	expect_status(f, &p, "x 1\n", 4, 400, "reject_older_than");
	f->cfg.limits.reject_older_than_ms = 0; /* 0 disables the window */
	hearth_ingest_result r;
	hearth_err	     err;
	assert_int_equal(hearth_ingest_build(f->arena, &p,
	    (const uint8_t *) "x 1\n", 4, &r, &err), 0);
}

static void
test_ingest_gzip_content_encoding(void **state)
{
	fixture	     *f	   = *state;
	const char   *text = "a;b 2\na;c 1\n";
	unsigned char gz[256];
	z_stream      zs = { 0 };
	deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
	zs.next_in   = (unsigned char *) text;
	zs.avail_in  = (uInt) strlen(text);
	zs.next_out  = gz;
	zs.avail_out = sizeof(gz);
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	size_t gzlen = sizeof(gz) - zs.avail_out;
	deflateEnd(&zs);
	hearth_ingest_params p = params(f, "app.cpu");
	p.content_encoding     = "gzip";
	p.sample_rate	       = "0";
	hearth_ingest_result r;
	hearth_err	     err;
	assert_int_equal(hearth_ingest_build(f->arena, &p, gz, gzlen, &r, &err), 0);
	Hearth__Ingester__SeriesProfile *sp = r.push->batches[0]->profiles[0];
	assert_int_equal(value_of(r.push->batches[0], sp, "a;b"), 2);
	assert_int_equal(value_of(r.push->batches[0], sp, "a;c"), 1);
}

static uint8_t *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	fseek(fp, 0, SEEK_END);
	long n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t) n);
	assert_int_equal(fread(buf, 1, (size_t) n, fp), (size_t) n);
	fclose(fp);
	*len = (size_t) n;
	return buf;
}

static void
test_ingest_pprof_one_profile_per_sample_type(void **state)
{
	fixture *f = *state;
	size_t	 len;
	uint8_t *body = read_file(HEARTH_TESTDATA "/pprof/cpu.pb.gz", &len);
	f->cfg.limits.reject_older_than_ms = 0;
	f->cfg.limits.reject_newer_than_ms = 0;
	hearth_ingest_params p = params(f, "gosvc{region=eu}");
	p.format	       = "pprof";
	p.spy_name	       = "gospy";
	hearth_ingest_result r;
	hearth_err	     err;
	assert_int_equal(hearth_ingest_build(f->arena, &p, body, len, &r, &err), 0);
	assert_non_null(r.push);
	Hearth__Ingester__ProfileBatch *b = r.push->batches[0];
	assert_int_equal(b->n_profiles, 2);
	const char *types[2] = { label(b->profiles[0], "__profile_type__"),
		label(b->profiles[1], "__profile_type__") };
	assert_string_equal(types[0], "process_cpu:samples:count:cpu:nanoseconds");
	assert_string_equal(types[1],
	    "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	assert_string_equal(label(b->profiles[0], "service_name"), "gosvc");
	assert_string_equal(label(b->profiles[0], "pyroscope_spy"), "gospy");
	assert_string_equal(label(b->profiles[0], "region"), "eu");
	free(body);
}

/* The profile_id labels of cpu-exemplars become span rows of each sample
 * type's SeriesProfile: per profile they add up to the samples that had
 * one (the function=... series), span f9666c0d6bffec33 is 4 samples,
 * 40 ms. */
static void
test_ingest_pprof_span_rows_per_sample_type(void **state)
{
	fixture *f = *state;
	size_t	 len;
	uint8_t *body =
	    read_file(HEARTH_TESTDATA "/pprof/cpu-exemplars.pb.gz", &len);
	f->cfg.limits.reject_older_than_ms = 0;
	f->cfg.limits.reject_newer_than_ms = 0;
	hearth_ingest_params p = params(f, "gosvc");
	p.format	       = "pprof";
	hearth_ingest_result r;
	hearth_err	     err;
	assert_int_equal(hearth_ingest_build(f->arena, &p, body, len, &r, &err), 0);
	Hearth__Ingester__ProfileBatch *b = r.push->batches[0];
	assert_int_equal(b->n_profiles, 6); /* 3 label groups x 2 types */
	int64_t one[2] = { 0, 0 };
	for (size_t i = 0; i < b->n_profiles; i++) {
		const Hearth__Ingester__SeriesProfile *sp = b->profiles[i];
		int cpu = strcmp(label(sp, "__type__"), "cpu") == 0;
		int64_t rows = 0, spans = 0;
		assert_int_equal(sp->n_span_ids, sp->n_span_stacks);
		assert_int_equal(sp->n_span_values, sp->n_span_stacks);
		for (size_t k = 0; k < sp->n_values; k++)
			rows += sp->values[k];
		for (size_t k = 0; k < sp->n_span_values; k++) {
			assert_true(sp->span_ids[k] != 0);
			assert_true(sp->span_values[k] > 0);
			assert_true(sp->span_stacks[k] < b->n_stack_lengths);
			spans += sp->span_values[k];
			if (sp->span_ids[k] == 0xf9666c0d6bffec33ull)
				one[cpu] += sp->span_values[k];
		}
		if (label(sp, "function") != NULL)
			assert_int_equal(spans, rows);
		else
			assert_int_equal(sp->n_span_values, 0);
	}
	assert_int_equal(one[0], 4);
	assert_int_equal(one[1], 40000000);
	free(body);
}

static void
test_ingest_multipart_prev_profile_rejected(void **state)
{
	fixture	   *f	 = *state;
	const char *body = "--XX\r\n"
			   "Content-Disposition: form-data; name=\"prev_profile\"; "
			   "filename=\"p\"\r\n\r\nabc\r\n"
			   "--XX--\r\n";
	hearth_ingest_params p = params(f, "app");
	p.content_type	       = "multipart/form-data; boundary=XX";
	expect_status(f, &p, body, strlen(body), 422, "prev_profile");
	/* A form without a profile part stores nothing and succeeds. */
	const char *empty = "--XX\r\n"
			    "Content-Disposition: form-data; name=\"other\"\r\n\r\n"
			    "abc\r\n--XX--\r\n";
	hearth_ingest_result r;
	hearth_err	     err;
	assert_int_equal(hearth_ingest_build(f->arena, &p,
	    (const uint8_t *) empty, strlen(empty), &r, &err), 0);
	assert_null(r.push);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_ingest_folded_cpu_scaled_and_labelled, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ingest_folded_sample_rate_zero_is_samples_count, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ingest_suffix_table, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_ingest_service_name_label_wins_app_becomes_app_name,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ingest_errors_have_status_and_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ingest_old_profile_outside_window, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ingest_gzip_content_encoding, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_ingest_pprof_span_rows_per_sample_type, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_ingest_pprof_one_profile_per_sample_type, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_ingest_multipart_prev_profile_rejected, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
