#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "cli_fmt.h"
#include "cli_json.h"
#include "cli_pprof.h"
#include "cli_tree.h"
#include "gzip.h"
#include "pprof.h"
#include "profile.pb-c.h"

/* main;work 3, main;idle 1, main;work;deep 2 at 100 Hz. */
static const char FB_SINGLE[]
    = "{\"names\":[\"total\",\"main\",\"work\",\"deep\",\"idle\"],"
      "\"levels\":[[0,60000000,0,0],[0,60000000,0,1],"
      "[0,10000000,10000000,4,0,50000000,30000000,2],"
      "[40000000,20000000,20000000,3]]}";

static hearth_cli_tree *
decode(hearth_arena *a, const char *json)
{
	hearth_cli_json *v = NULL;
	hearth_cli_tree *t = NULL;
	hearth_err       err;
	assert_int_equal(
	    hearth_cli_json_parse(a, json, strlen(json), &v, &err), 0);
	assert_int_equal(hearth_cli_tree_decode(a, v, 0, &t, &err), 0);
	return t;
}

static const char *
str(const Perftools__Profiles__Profile *p, int64_t i)
{
	assert_true(i >= 0 && (size_t) i < p->n_string_table);
	return p->string_table[i];
}

/* "frame;frame value" of sample i, frames root first. */
static void
sample_line(const Perftools__Profiles__Profile *p, size_t i, hearth_buf *b)
{
	const Perftools__Profiles__Sample *s = p->sample[i];
	for (size_t k = s->n_location_id; k-- > 0;) {
		uint64_t                             id  = s->location_id[k];
		const Perftools__Profiles__Location *loc = NULL;
		for (size_t j = 0; j < p->n_location; j++)
			if (p->location[j]->id == id)
				loc = p->location[j];
		assert_non_null(loc);
		assert_int_equal(loc->n_line, 1);
		const Perftools__Profiles__Function *fn = NULL;
		for (size_t j = 0; j < p->n_function; j++)
			if (p->function[j]->id == loc->line[0]->function_id)
				fn = p->function[j];
		assert_non_null(fn);
		hearth_buf_printf(b, "%s%s",
		    k + 1 < s->n_location_id ? ";" : "", str(p, fn->name));
	}
	assert_int_equal(s->n_value, 1);
	hearth_buf_printf(b, " %lld\n", (long long) s->value[0]);
}

static void
test_pprof_export_gzip_round_trip(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_tree *t = decode(a, FB_SINGLE);
	hearth_cli_ptype pt;
	hearth_cli_fmt_ptype(
	    "process_cpu:cpu:nanoseconds:cpu:nanoseconds{}", &pt);
	hearth_cli_pprof_meta m
	    = { &pt, 1700000000000000000LL, 3600000000000LL, 1 };
	hearth_buf out;
	hearth_err err;
	hearth_buf_init(&out);
	assert_int_equal(hearth_cli_pprof_encode(a, t, &m, &out, &err), 0);
	assert_true(hearth_gzip_is_gzip(out.data, out.len));

	uint8_t *raw;
	size_t   raw_len;
	assert_int_equal(hearth_gzip_decode(a, out.data, out.len, 1 << 20,
	                     &raw, &raw_len, &err),
	    0);
	Perftools__Profiles__Profile *p
	    = perftools__profiles__profile__unpack(NULL, raw_len, raw);
	assert_non_null(p);
	assert_int_equal(p->n_sample_type, 1);
	assert_string_equal(str(p, p->sample_type[0]->type), "cpu");
	assert_string_equal(str(p, p->sample_type[0]->unit), "nanoseconds");
	assert_non_null(p->period_type);
	assert_string_equal(str(p, p->period_type->type), "cpu");
	assert_int_equal(p->time_nanos, 1700000000000000000LL);
	assert_int_equal(p->duration_nanos, 3600000000000LL);
	/* One function per distinct frame name: main, work, deep, idle. */
	assert_int_equal(p->n_function, 4);
	assert_int_equal(p->n_location, 4);
	assert_int_equal(p->n_sample, 3);
	hearth_buf lines;
	hearth_buf_init(&lines);
	for (size_t i = 0; i < p->n_sample; i++)
		sample_line(p, i, &lines);
	/* Sample order is the writer's; compare as a set of lines. */
	assert_non_null(strstr(lines.data, "main;work 30000000\n"));
	assert_non_null(strstr(lines.data, "main;idle 10000000\n"));
	assert_non_null(strstr(lines.data, "main;work;deep 20000000\n"));
	assert_int_equal(lines.len,
	    strlen("main;work 30000000\n"
	           "main;idle 10000000\n"
	           "main;work;deep 20000000\n"));
	hearth_buf_fini(&lines);
	perftools__profiles__profile__free_unpacked(p, NULL);

	/* hearth's own decoder reads it back with the same total. */
	hearth_pprof_result res;
	assert_int_equal(
	    hearth_pprof_decode(a, out.data, out.len, NULL, &res, &err), 0);
	assert_int_equal(hearth_upload_total(res.upload, 0), 60000000);
	hearth_buf_fini(&out);
	hearth_arena_free(a);
}

static void
test_pprof_export_raw_and_count_type(void **state)
{
	(void) state;
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_tree *t = decode(a,
	    "{\"names\":[\"total\",\"a\",\"b\"],"
	    "\"levels\":[[0,8,0,0],[0,8,0,1],[0,5,0,2,0,3,3,1],[0,5,5,1]]}");
	hearth_cli_ptype pt;
	hearth_cli_fmt_ptype("goroutine:goroutine:count::{}", &pt);
	hearth_cli_pprof_meta m = { &pt, 0, 0, 0 };
	hearth_buf            out;
	hearth_err            err;
	hearth_buf_init(&out);
	assert_int_equal(hearth_cli_pprof_encode(a, t, &m, &out, &err), 0);
	assert_false(hearth_gzip_is_gzip(out.data, out.len));
	Perftools__Profiles__Profile *p = perftools__profiles__profile__unpack(
	    NULL, out.len, (const uint8_t *) out.data);
	assert_non_null(p);
	assert_string_equal(str(p, p->sample_type[0]->type), "goroutine");
	assert_string_equal(str(p, p->sample_type[0]->unit), "count");
	/* a appears at two depths (a;a and a;b;a): still one function. */
	assert_int_equal(p->n_function, 2);
	hearth_buf lines;
	hearth_buf_init(&lines);
	for (size_t i = 0; i < p->n_sample; i++)
		sample_line(p, i, &lines);
	assert_non_null(strstr(lines.data, "a;b;a 5\n"));
	assert_non_null(strstr(lines.data, "a;a 3\n"));
	assert_int_equal(p->n_sample, 2);
	hearth_buf_fini(&lines);
	perftools__profiles__profile__free_unpacked(p, NULL);
	hearth_buf_fini(&out);
	hearth_arena_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pprof_export_gzip_round_trip),
		cmocka_unit_test(test_pprof_export_raw_and_count_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
