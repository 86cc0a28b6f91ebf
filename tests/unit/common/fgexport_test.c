#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "fgexport.h"

#include <stdlib.h>
#include <string.h>

static void
add(hearth_fgtree *t, const char *folded, int64_t v)
{
	const char *frames[16];
	size_t      lens[16], n = 0;
	const char *s = folded;
	while (*s != '\0') {
		const char *e = strchr(s, ';');
		size_t      l = e != NULL ? (size_t) (e - s) : strlen(s);
		frames[n]     = s;
		lens[n++]     = l;
		s += l + (e != NULL);
	}
	assert_int_equal(hearth_fgtree_add_stack(t, frames, lens, n, v), 0);
}

/* connect-apis.md §4.3 worked example. */
static hearth_fgtree *
example_tree(void)
{
	hearth_fgtree *t = hearth_fgtree_new();
	add(t, "main;work;compute", 60);
	add(t, "main;work", 20);
	add(t, "main;idle", 10);
	add(t, "gc", 10);
	return t;
}

static void
assert_level(const Querier__V1__Level *l, const int64_t *want, size_t n)
{
	assert_int_equal(l->n_values, n);
	assert_memory_equal(l->values, want, n * sizeof(int64_t));
}

static void
test_fgexport_flamegraph_worked_example(void **state)
{
	(void) state;
	hearth_arena            *a = hearth_arena_new(0);
	hearth_fgtree           *t = example_tree();
	hearth_err               err;
	Querier__V1__FlameGraph *g = NULL;
	assert_int_equal(hearth_fgexport_flamegraph(a, t, 0, &g, &err), 0);
	const char *names[]
	    = { "total", "main", "work", "compute", "idle", "gc" };
	assert_int_equal(g->n_names, 6);
	for (size_t i = 0; i < 6; i++)
		assert_string_equal(g->names[i], names[i]);
	assert_int_equal(g->n_levels, 4);
	assert_level(g->levels[0], (int64_t[]) { 0, 100, 0, 0 }, 4);
	assert_level(
	    g->levels[1], (int64_t[]) { 0, 10, 10, 5, 0, 90, 0, 1 }, 8);
	assert_level(
	    g->levels[2], (int64_t[]) { 10, 10, 10, 4, 0, 80, 20, 2 }, 8);
	assert_level(g->levels[3], (int64_t[]) { 40, 60, 60, 3 }, 4);
	assert_int_equal(g->total, 100);
	assert_int_equal(g->max_self, 60);
	hearth_fgtree_free(t);
	/* An empty tree: only the root. */
	t = hearth_fgtree_new();
	assert_int_equal(hearth_fgexport_flamegraph(a, t, 8192, &g, &err), 0);
	assert_int_equal(g->n_names, 1);
	assert_string_equal(g->names[0], "total");
	assert_int_equal(g->n_levels, 1);
	assert_level(g->levels[0], (int64_t[]) { 0, 0, 0, 0 }, 4);
	assert_int_equal(g->total, 0);
	hearth_fgtree_free(t);
	hearth_arena_free(a);
}

/* connect-apis.md §4.4 example. */
static void
test_fgexport_diff_worked_example(void **state)
{
	(void) state;
	hearth_arena  *a = hearth_arena_new(0);
	hearth_fgtree *l = hearth_fgtree_new(), *r = hearth_fgtree_new();
	add(l, "main;a", 10);
	add(l, "main;b", 5);
	add(r, "main;a", 4);
	add(r, "main;c", 6);
	hearth_err                   err;
	Querier__V1__FlameGraphDiff *g = NULL;
	assert_int_equal(
	    hearth_fgexport_flamegraph_diff(a, l, r, 0, &g, &err), 0);
	const char *names[] = { "total", "main", "c", "b", "a" };
	assert_int_equal(g->n_names, 5);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(g->names[i], names[i]);
	assert_level(g->levels[0], (int64_t[]) { 0, 15, 0, 0, 10, 0, 0 }, 7);
	assert_level(g->levels[1], (int64_t[]) { 0, 15, 0, 0, 10, 0, 1 }, 7);
	assert_level(g->levels[2],
	    (int64_t[]) { 0, 10, 10, 0, 4, 4, 4, 0, 5, 5, 0, 0, 0, 3, 0, 0, 0,
	        0, 6, 6, 2 },
	    21);
	assert_int_equal(g->total, 25);
	assert_int_equal(g->leftticks, 15);
	assert_int_equal(g->rightticks, 10);
	assert_int_equal(g->max_self, 10);
	hearth_fgtree_free(l);
	hearth_fgtree_free(r);
	hearth_arena_free(a);
}

static void
test_fgexport_tree_bytes(void **state)
{
	(void) state;
	hearth_fgtree *t = hearth_fgtree_new();
	add(t, "main;b", 3);
	add(t, "main;a", 200);
	add(t, "main", 1);
	hearth_buf b;
	hearth_buf_init(&b);
	assert_int_equal(hearth_fgexport_tree_bytes(t, &b), 0);
	/* root "" self 0, 1 child; main self 1, 2 children; then the LAST
	 * child b (self 3, 0 children), then a (self 200 = c8 01). */
	const uint8_t want[] = { 0, 0, 1, 4, 'm', 'a', 'i', 'n', 1, 2, 1, 'b',
		3, 0, 1, 'a', 0xc8, 0x01, 0 };
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	hearth_buf_fini(&b);
	hearth_fgtree_free(t);
	/* empty tree: 0 bytes */
	t = hearth_fgtree_new();
	hearth_buf_init(&b);
	assert_int_equal(hearth_fgexport_tree_bytes(t, &b), 0);
	assert_int_equal(b.len, 0);
	hearth_buf_fini(&b);
	hearth_fgtree_free(t);
}

static const char *
str(const Perftools__Profiles__Profile *p, int64_t i)
{
	assert_true(i >= 0 && (size_t) i < p->n_string_table);
	return p->string_table[i];
}

static const char *
loc_name(const Perftools__Profiles__Profile *p, uint64_t id)
{
	for (size_t i = 0; i < p->n_location; i++) {
		if (p->location[i]->id != id)
			continue;
		assert_int_equal(p->location[i]->n_line, 1);
		uint64_t fid = p->location[i]->line[0]->function_id;
		for (size_t f = 0; f < p->n_function; f++)
			if (p->function[f]->id == fid)
				return str(p, p->function[f]->name);
	}
	fail_msg("location %llu not found", (unsigned long long) id);
	return NULL;
}

static void
test_fgexport_pprof_round_trip(void **state)
{
	(void) state;
	hearth_arena                 *a = hearth_arena_new(0);
	hearth_fgtree                *t = example_tree();
	hearth_err                    err;
	hearth_fgexport_pprof_opts    o = { .sample_type = "cpu",
		   .sample_unit                          = "nanoseconds",
		   .period_type                          = "cpu",
		   .period_unit                          = "nanoseconds",
		   .time_nanos                           = 5,
		   .duration_nanos                       = 7 };
	Perftools__Profiles__Profile *p = NULL;
	assert_int_equal(hearth_fgexport_pprof(a, t, &o, &p, &err), 0);
	/* pack and unpack: a valid protobuf */
	size_t   len = perftools__profiles__profile__get_packed_size(p);
	uint8_t *buf = malloc(len);
	perftools__profiles__profile__pack(p, buf);
	Perftools__Profiles__Profile *q
	    = perftools__profiles__profile__unpack(NULL, len, buf);
	assert_non_null(q);
	assert_string_equal(str(q, 0), "");
	assert_int_equal(q->n_sample_type, 1);
	assert_string_equal(str(q, q->sample_type[0]->type), "cpu");
	assert_string_equal(str(q, q->sample_type[0]->unit), "nanoseconds");
	assert_non_null(q->period_type);
	assert_string_equal(str(q, q->period_type->type), "cpu");
	assert_int_equal(q->time_nanos, 5);
	assert_int_equal(q->duration_nanos, 7);
	assert_int_equal(q->n_mapping, 1);
	assert_int_equal(q->n_function, 5); /* main work compute idle gc */
	assert_int_equal(q->n_location, 5);
	/* samples as folded stacks (root first) */
	assert_int_equal(q->n_sample, 4);
	int64_t total = 0, seen = 0;
	for (size_t i = 0; i < q->n_sample; i++) {
		char folded[128] = "";
		for (size_t k = q->sample[i]->n_location_id; k > 0; k--) {
			if (folded[0] != '\0')
				strcat(folded, ";");
			strcat(folded,
			    loc_name(q, q->sample[i]->location_id[k - 1]));
		}
		int64_t v = q->sample[i]->value[0];
		total += v;
		if (strcmp(folded, "main;work;compute") == 0 && v == 60)
			seen |= 1;
		else if (strcmp(folded, "main;work") == 0 && v == 20)
			seen |= 2;
		else if (strcmp(folded, "main;idle") == 0 && v == 10)
			seen |= 4;
		else if (strcmp(folded, "gc") == 0 && v == 10)
			seen |= 8;
		else
			fail_msg("unexpected sample %s %lld", folded,
			    (long long) v);
	}
	assert_int_equal(seen, 15);
	assert_int_equal(total, 100);
	perftools__profiles__profile__free_unpacked(q, NULL);
	free(buf);
	/* No period type: none written. */
	o.period_type = "";
	o.period_unit = "";
	assert_int_equal(hearth_fgexport_pprof(a, t, &o, &p, &err), 0);
	assert_null(p->period_type);
	hearth_fgtree_free(t);
	hearth_arena_free(a);
}

static void
test_fgexport_call_site(void **state)
{
	(void) state;
	hearth_fgtree *t    = example_tree();
	hearth_fgtree *o    = NULL;
	const char    *cs[] = { "main", "work" };
	assert_int_equal(hearth_fgexport_call_site(t, cs, 2, &o), 0);
	/* main (self 0) -> work (20) -> compute (60): 80 in all */
	assert_int_equal(hearth_fgtree_total(o), 80);
	uint32_t m, w, c;
	assert_true(hearth_fgtree_find(o, 0, "main", 4, &m));
	assert_true(hearth_fgtree_find(o, m, "work", 4, &w));
	assert_true(hearth_fgtree_find(o, w, "compute", 7, &c));
	assert_false(hearth_fgtree_find(o, m, "idle", 4, &c));
	assert_false(hearth_fgtree_find(o, 0, "gc", 2, &c));
	hearth_fgtree_free(o);
	const char *none[] = { "main", "nope" };
	assert_int_equal(hearth_fgexport_call_site(t, none, 2, &o), 0);
	assert_int_equal(hearth_fgtree_size(o), 1);
	assert_int_equal(hearth_fgtree_total(o), 0);
	hearth_fgtree_free(o);
	assert_int_equal(hearth_fgexport_call_site(t, NULL, 0, &o), 0);
	assert_int_equal(hearth_fgtree_total(o), 100);
	assert_int_equal(hearth_fgtree_size(o), hearth_fgtree_size(t));
	hearth_fgtree_free(o);
	hearth_fgtree_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fgexport_flamegraph_worked_example),
		cmocka_unit_test(test_fgexport_diff_worked_example),
		cmocka_unit_test(test_fgexport_tree_bytes),
		cmocka_unit_test(test_fgexport_pprof_round_trip),
		cmocka_unit_test(test_fgexport_call_site),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
