#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Write the registry and compare with the exact expected exposition. */
static void
expect_output(hearth_metrics *m, const char *want)
{
	hearth_buf b;
	hearth_buf_init(&b);
	assert_int_equal(hearth_metrics_write(m, &b), 0);
	assert_string_equal(b.data != NULL ? b.data : "", want);
	hearth_buf_fini(&b);
}

static void
test_metrics_empty_registry_writes_nothing(void **state)
{
	(void) state;
	hearth_metrics *m = hearth_metrics_new();
	assert_non_null(m);
	/* the dropped-series counter has a label, so it stays hidden */
	expect_output(m, "");
	hearth_metrics_free(m);
}

static void
test_metrics_counter_and_gauge_exact_text(void **state)
{
	(void) state;
	hearth_metrics   *m    = hearth_metrics_new();
	const char *const ln[] = { "route", "status" };
	hearth_metric    *req  = hearth_metrics_counter(
	        m, "hearth_requests_total", "Requests served.", 2, ln);
	hearth_metric *up
	    = hearth_metrics_gauge(m, "hearth_up", "1 when running.", 0, NULL);
	const char *const a200[] = { "ingest", "200" };
	const char *const a400[] = { "ingest", "400" };
	const char *const r200[] = { "render", "200" };
	hearth_metric_add(req, r200, 1);
	hearth_metric_add(req, a200, 2);
	hearth_metric_add(req, a200, 3);
	hearth_metric_add(req, a400, 1);
	hearth_metric_add(req, a400, -5); /* counters only go up */
	hearth_metric_set(up, NULL, 1);
	expect_output(m,
	    "# HELP hearth_requests_total Requests served.\n"
	    "# TYPE hearth_requests_total counter\n"
	    "hearth_requests_total{route=\"ingest\",status=\"200\"} 5\n"
	    "hearth_requests_total{route=\"ingest\",status=\"400\"} 1\n"
	    "hearth_requests_total{route=\"render\",status=\"200\"} 1\n"
	    "# HELP hearth_up 1 when running.\n"
	    "# TYPE hearth_up gauge\n"
	    "hearth_up 1\n");
	hearth_metrics_free(m);
}

static void
test_metrics_families_sorted_by_name(void **state)
{
	(void) state;
	hearth_metrics *m = hearth_metrics_new();
	hearth_metrics_gauge(m, "zeta", "z", 0, NULL);
	hearth_metrics_counter(m, "alpha_total", "a", 0, NULL);
	hearth_metrics_gauge(m, "mid", "m", 0, NULL);
	expect_output(m,
	    "# HELP alpha_total a\n# TYPE alpha_total counter\n"
	    "alpha_total 0\n"
	    "# HELP mid m\n# TYPE mid gauge\nmid 0\n"
	    "# HELP zeta z\n# TYPE zeta gauge\nzeta 0\n");
	hearth_metrics_free(m);
}

static void
test_metrics_histogram_default_buckets(void **state)
{
	(void) state;
	hearth_metrics   *m    = hearth_metrics_new();
	const char *const ln[] = { "route" };
	hearth_metric    *h    = hearth_metrics_histogram(
	          m, "req_seconds", "Latency.", 1, ln, NULL, 0);
	const char *const v[] = { "x" };
	hearth_metric_observe(h, v, 0.003);
	hearth_metric_observe(h, v, 0.01); /* le is inclusive */
	hearth_metric_observe(h, v, 0.7);
	hearth_metric_observe(h, v, 30);
	hearth_metric_observe(h, v, NAN); /* ignored */
	expect_output(m,
	    "# HELP req_seconds Latency.\n"
	    "# TYPE req_seconds histogram\n"
	    "req_seconds_bucket{route=\"x\",le=\"0.005\"} 1\n"
	    "req_seconds_bucket{route=\"x\",le=\"0.01\"} 2\n"
	    "req_seconds_bucket{route=\"x\",le=\"0.025\"} 2\n"
	    "req_seconds_bucket{route=\"x\",le=\"0.05\"} 2\n"
	    "req_seconds_bucket{route=\"x\",le=\"0.1\"} 2\n"
	    "req_seconds_bucket{route=\"x\",le=\"0.25\"} 2\n"
	    "req_seconds_bucket{route=\"x\",le=\"0.5\"} 2\n"
	    "req_seconds_bucket{route=\"x\",le=\"1\"} 3\n"
	    "req_seconds_bucket{route=\"x\",le=\"2.5\"} 3\n"
	    "req_seconds_bucket{route=\"x\",le=\"5\"} 3\n"
	    "req_seconds_bucket{route=\"x\",le=\"10\"} 3\n"
	    "req_seconds_bucket{route=\"x\",le=\"+Inf\"} 4\n"
	    "req_seconds_sum{route=\"x\"} 30.713\n"
	    "req_seconds_count{route=\"x\"} 4\n");
	hearth_metrics_free(m);
}

static void
test_metrics_histogram_custom_buckets_no_labels(void **state)
{
	(void) state;
	hearth_metrics *m   = hearth_metrics_new();
	const double    b[] = { 1024, 1048576, INFINITY };
	hearth_metric  *h   = hearth_metrics_histogram(
	       m, "body_bytes", "Body size.", 0, NULL, b, 3);
	hearth_metric_observe(h, NULL, 100);
	hearth_metric_observe(h, NULL, 5000);
	expect_output(m,
	    "# HELP body_bytes Body size.\n"
	    "# TYPE body_bytes histogram\n"
	    "body_bytes_bucket{le=\"1024\"} 1\n"
	    "body_bytes_bucket{le=\"1048576\"} 2\n"
	    "body_bytes_bucket{le=\"+Inf\"} 2\n"
	    "body_bytes_sum 5100\n"
	    "body_bytes_count 2\n");
	hearth_metrics_free(m);
}

static void
test_metrics_escaping_of_help_and_label_values(void **state)
{
	(void) state;
	hearth_metrics   *m    = hearth_metrics_new();
	const char *const ln[] = { "path" };
	hearth_metric    *g    = hearth_metrics_gauge(
	          m, "esc", "back\\slash and\nnewline \"quoted\"", 1, ln);
	const char *const v[] = { "a\"b\\c\nd" };
	hearth_metric_set(g, v, -2.5);
	expect_output(m,
	    "# HELP esc back\\\\slash and\\nnewline \"quoted\"\n"
	    "# TYPE esc gauge\n"
	    "esc{path=\"a\\\"b\\\\c\\nd\"} -2.5\n");
	hearth_metrics_free(m);
}

static void
test_metrics_number_formats(void **state)
{
	(void) state;
	hearth_metrics   *m       = hearth_metrics_new();
	const char *const ln[]    = { "k" };
	hearth_metric    *g       = hearth_metrics_gauge(m, "n", "h", 1, ln);
	const char *const k[7][1] = { { "a" }, { "b" }, { "c" }, { "d" },
		{ "e" }, { "f" }, { "g" } };
	hearth_metric_set(g, k[0], 0.1);
	hearth_metric_set(g, k[1], 1e300);
	hearth_metric_set(g, k[2], INFINITY);
	hearth_metric_set(g, k[3], -INFINITY);
	hearth_metric_set(g, k[4], NAN);
	hearth_metric_set(g, k[5], 123456789012.0);
	hearth_metric_set(g, k[6], 1.0 / 3.0);
	expect_output(m,
	    "# HELP n h\n# TYPE n gauge\n"
	    "n{k=\"a\"} 0.1\n"
	    "n{k=\"b\"} 1e+300\n"
	    "n{k=\"c\"} +Inf\n"
	    "n{k=\"d\"} -Inf\n"
	    "n{k=\"e\"} NaN\n"
	    "n{k=\"f\"} 123456789012\n"
	    "n{k=\"g\"} 0.3333333333333333\n");
	hearth_metrics_free(m);
}

static void
test_metrics_register_twice_returns_same_family(void **state)
{
	(void) state;
	hearth_metrics   *m    = hearth_metrics_new();
	const char *const ln[] = { "tenant" };
	hearth_metric    *a    = hearth_metrics_gauge(m, "g", "h", 1, ln);
	hearth_metric *b = hearth_metrics_gauge(m, "g", "other help", 1, ln);
	assert_ptr_equal(a, b);
	hearth_metrics_free(m);
}

static void
test_metrics_cardinality_cap_drops_and_counts(void **state)
{
	(void) state;
	hearth_metrics   *m    = hearth_metrics_new();
	const char *const ln[] = { "id" };
	hearth_metric    *c = hearth_metrics_counter(m, "c_total", "h", 1, ln);
	char              id[32];
	for (int i = 0; i < HEARTH_METRICS_MAX_SERIES + 5; i++) {
		snprintf(id, sizeof(id), "%d", i);
		const char *v[1] = { id };
		hearth_metric_add(c, v, 1);
	}
	/* existing series keep counting after the cap */
	const char *v0[1] = { "0" };
	hearth_metric_add(c, v0, 1);
	hearth_buf b;
	hearth_buf_init(&b);
	assert_int_equal(hearth_metrics_write(m, &b), 0);
	assert_non_null(strstr(b.data, "c_total{id=\"0\"} 2\n"));
	assert_non_null(strstr(b.data, "c_total{id=\"9999\"} 1\n"));
	assert_null(strstr(b.data, "c_total{id=\"10000\"}"));
	assert_non_null(strstr(b.data,
	    "# TYPE hearth_metrics_dropped_series_total counter\n"
	    "hearth_metrics_dropped_series_total{metric=\"c_total\"} 5\n"));
	size_t lines = 0;
	for (size_t i = 0; i < b.len; i++)
		lines += b.data[i] == '\n';
	/* 2 header lines per family, one line per series */
	assert_int_equal(lines, 4 + HEARTH_METRICS_MAX_SERIES + 1);
	hearth_buf_fini(&b);
	hearth_metrics_free(m);
}

static void
test_metrics_del_and_reset(void **state)
{
	(void) state;
	hearth_metrics   *m    = hearth_metrics_new();
	const char *const ln[] = { "tenant" };
	hearth_metric    *g    = hearth_metrics_gauge(m, "series", "h", 1, ln);
	const char *const a[] = { "a" }, *bb[] = { "b" }, *c[] = { "c" };
	hearth_metric_set(g, a, 1);
	hearth_metric_set(g, bb, 2);
	hearth_metric_set(g, c, 3);
	hearth_metric_del(g, bb);
	hearth_metric_del(g, bb); /* absent: no-op */
	hearth_metric_add(g, c, 1);
	expect_output(m,
	    "# HELP series h\n# TYPE series gauge\n"
	    "series{tenant=\"a\"} 1\nseries{tenant=\"c\"} 4\n");
	hearth_metric_reset(g);
	expect_output(m, "");
	hearth_metric_set(g, bb, 7);
	expect_output(m,
	    "# HELP series h\n# TYPE series gauge\nseries{tenant=\"b\"} 7\n");
	hearth_metrics_free(m);
}

typedef struct collect_ctx {
	hearth_metric *g;
	int            calls;
} collect_ctx;

static void
collect_cb(void *ctx, hearth_metrics *m)
{
	collect_ctx *c = ctx;
	c->calls++;
	if (c->g == NULL)
		c->g = hearth_metrics_gauge(
		    m, "late", "registered late", 0, NULL);
	hearth_metric_set(c->g, NULL, c->calls * 10);
}

static void
test_metrics_collect_callback_runs_before_write(void **state)
{
	(void) state;
	hearth_metrics *m = hearth_metrics_new();
	collect_ctx     c = { NULL, 0 };
	assert_int_equal(hearth_metrics_on_collect(m, collect_cb, &c), 0);
	expect_output(m,
	    "# HELP late registered late\n# TYPE late gauge\n"
	    "late 10\n");
	expect_output(m,
	    "# HELP late registered late\n# TYPE late gauge\n"
	    "late 20\n");
	hearth_metrics_remove_collect(m, collect_cb, &c);
	expect_output(m,
	    "# HELP late registered late\n# TYPE late gauge\n"
	    "late 20\n");
	assert_int_equal(c.calls, 2);
	hearth_metrics_free(m);
}

typedef struct thread_arg {
	hearth_metric *c;
	hearth_metric *h;
} thread_arg;

static void *
hammer(void *p)
{
	thread_arg       *a   = p;
	const char *const v[] = { "same" };
	for (int i = 0; i < 10000; i++) {
		hearth_metric_add(a->c, v, 1);
		hearth_metric_observe(a->h, NULL, 0.2);
	}
	return NULL;
}

static void
test_metrics_concurrent_updates_are_exact(void **state)
{
	(void) state;
	hearth_metrics   *m    = hearth_metrics_new();
	const char *const ln[] = { "k" };
	thread_arg        a    = {
		          hearth_metrics_counter(m, "c_total", "h", 1, ln),
		          hearth_metrics_histogram(m, "h", "h", 0, NULL, NULL, 0),
	};
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, hammer, &a);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	hearth_buf b;
	hearth_buf_init(&b);
	assert_int_equal(hearth_metrics_write(m, &b), 0);
	assert_non_null(strstr(b.data, "c_total{k=\"same\"} 40000\n"));
	assert_non_null(strstr(b.data, "h_bucket{le=\"0.25\"} 40000\n"));
	assert_non_null(strstr(b.data, "h_count 40000\n"));
	hearth_buf_fini(&b);
	hearth_metrics_free(m);
}

static void
test_metrics_null_family_is_ignored(void **state)
{
	(void) state;
	hearth_metric_add(NULL, NULL, 1);
	hearth_metric_set(NULL, NULL, 1);
	hearth_metric_observe(NULL, NULL, 1);
	hearth_metric_del(NULL, NULL);
	hearth_metric_reset(NULL);
	hearth_metrics_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_empty_registry_writes_nothing),
		cmocka_unit_test(test_metrics_counter_and_gauge_exact_text),
		cmocka_unit_test(test_metrics_families_sorted_by_name),
		cmocka_unit_test(test_metrics_histogram_default_buckets),
		cmocka_unit_test(
		    test_metrics_histogram_custom_buckets_no_labels),
		cmocka_unit_test(
		    test_metrics_escaping_of_help_and_label_values),
		cmocka_unit_test(test_metrics_number_formats),
		cmocka_unit_test(
		    test_metrics_register_twice_returns_same_family),
		cmocka_unit_test(
		    test_metrics_cardinality_cap_drops_and_counts),
		cmocka_unit_test(test_metrics_del_and_reset),
		cmocka_unit_test(
		    test_metrics_collect_callback_runs_before_write),
		cmocka_unit_test(test_metrics_concurrent_updates_are_exact),
		cmocka_unit_test(test_metrics_null_family_is_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
