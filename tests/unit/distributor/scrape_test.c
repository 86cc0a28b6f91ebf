#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "scrape.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers ---------------------------------------------------------- */

static int
parse_cfg(const char *yaml, hearth_scrape_config **out, hearth_err *err)
{
	hearth_arena             *a    = hearth_arena_new(0);
	const hearth_config_node *root = NULL;
	hearth_err_clear(err);
	int rc = hearth_config_tree_parse(
	    a, yaml, strlen(yaml), "h.yaml", 0, &root, err);
	if (rc == 0)
		rc = hearth_scrape_config_parse(
		    hearth_config_tree_get(root, "scrape_configs"), "h.yaml",
		    "/etc/hearth", out, err);
	hearth_arena_free(a);
	return rc;
}

/* Parse and expect an error with exactly this message. */
static void
expect_error(const char *yaml, const char *msg)
{
	hearth_scrape_config *c = NULL;
	hearth_err            err;
	assert_int_equal(parse_cfg(yaml, &c, &err), HEARTH_EINVAL);
	assert_null(c);
	assert_string_equal(err.msg, msg);
}

static const hearth_scrape_profile *
profile(const hearth_scrape_job *j, const char *name)
{
	for (size_t i = 0; i < j->n_profiles; i++)
		if (strcmp(j->profiles[i].name, name) == 0)
			return &j->profiles[i];
	return NULL;
}

static char *
write_temp(const char *text, const char *suffix)
{
	static char path[128];
	snprintf(
	    path, sizeof(path), "/tmp/hearth_scrape_test_XXXXXX%s", suffix);
	int fd = mkstemps(path, (int) strlen(suffix));
	assert_true(fd >= 0);
	assert_int_equal(
	    write(fd, text, strlen(text)), (ssize_t) strlen(text));
	close(fd);
	return path;
}

/* ---- configuration ----------------------------------------------------- */

static void
test_scrape_config_defaults(void **state)
{
	(void) state;
	hearth_scrape_config *c = NULL;
	hearth_err            err;
	assert_int_equal(parse_cfg("scrape_configs:\n"
	                           "  - job_name: api\n"
	                           "    static_configs:\n"
	                           "      - targets: [\"127.0.0.1:6060\"]\n",
	                     &c, &err),
	    0);
	assert_int_equal(c->n_jobs, 1);
	const hearth_scrape_job *j = &c->jobs[0];
	assert_string_equal(j->name, "api");
	assert_int_equal(j->interval_ms, 15000);
	assert_int_equal(j->timeout_ms, 15000); /* = interval */
	assert_string_equal(j->scheme, "http");
	assert_string_equal(j->tenant, "anonymous");
	assert_int_equal(j->line, 2);
	assert_int_equal(j->n_groups, 1);
	assert_int_equal(j->groups[0].n_targets, 1);
	assert_string_equal(j->groups[0].targets[0], "127.0.0.1:6060");
	assert_int_equal(j->n_profiles, 5);
	const hearth_scrape_profile *cpu = profile(j, "process_cpu");
	assert_string_equal(cpu->path, "/debug/pprof/profile");
	assert_int_equal(cpu->cpu_seconds, 1);
	assert_int_equal(cpu->delta, 0);
	const hearth_scrape_profile *mem = profile(j, "memory");
	assert_string_equal(mem->path, "/debug/pprof/heap");
	assert_int_equal(mem->delta, 1);
	assert_int_equal(profile(j, "goroutine")->delta, 0);
	assert_int_equal(profile(j, "mutex")->delta, 1);
	assert_int_equal(profile(j, "block")->delta, 1);
	hearth_scrape_config_free(c);
}

static void
test_scrape_config_every_key(void **state)
{
	(void) state;
	char *pw = strdup(write_temp("s3cret\n", ".txt"));
	char  yaml[2048];
	snprintf(yaml, sizeof(yaml),
	    "scrape_configs:\n"
	    "  - job_name: shop\n"
	    "    scrape_interval: 10s\n"
	    "    scrape_timeout: 4s\n"
	    "    scheme: https\n"
	    "    tenant_id: team-a\n"
	    "    body_size_limit: 16MiB\n"
	    "    basic_auth: {username: u, password_file: %s}\n"
	    "    tls_config: {insecure_skip_verify: true}\n"
	    "    static_configs:\n"
	    "      - targets: [a:1, \"[::1]:6060\", host]\n"
	    "        labels: {env: prod, service_name: checkout}\n"
	    "    file_sd_configs:\n"
	    "      - files: [sd/*.json, /abs/t.yaml]\n"
	    "        refresh_interval: 30s\n"
	    "    profiling_config:\n"
	    "      process_cpu: {delta: false}\n"
	    "      goroutine: {enabled: false}\n"
	    "      memory: {path: /debug/pprof/allocs}\n"
	    "      custom:\n"
	    "        - {name: fgprof, path: \"/debug/fgprof?format=pprof\"}\n"
	    "        - {name: alloc.deltas, path: /x, delta: true}\n",
	    pw);
	hearth_scrape_config *c = NULL;
	hearth_err            err;
	assert_int_equal(parse_cfg(yaml, &c, &err), 0);
	const hearth_scrape_job *j = &c->jobs[0];
	assert_int_equal(j->interval_ms, 10000);
	assert_int_equal(j->timeout_ms, 4000);
	assert_string_equal(j->scheme, "https");
	assert_string_equal(j->tenant, "team-a");
	assert_int_equal(j->body_size_limit, 16 << 20);
	assert_string_equal(j->username, "u");
	assert_string_equal(j->password_file, pw);
	assert_int_equal(j->insecure_skip_verify, 1);
	assert_int_equal(j->groups[0].n_targets, 3);
	assert_string_equal(j->groups[0].targets[1], "[::1]:6060");
	/* Labels come sorted. */
	assert_int_equal(j->groups[0].n_labels, 2);
	assert_string_equal(j->groups[0].labels[0].name, "env");
	assert_string_equal(j->groups[0].labels[1].name, "service_name");
	assert_string_equal(j->groups[0].labels[1].value, "checkout");
	assert_int_equal(j->n_sd, 1);
	assert_int_equal(j->sd[0].refresh_ms, 30000);
	assert_string_equal(j->sd[0].files[0], "/etc/hearth/sd/*.json");
	assert_string_equal(j->sd[0].files[1], "/abs/t.yaml");
	/* goroutine off; process_cpu without seconds; two custom. */
	assert_int_equal(j->n_profiles, 6);
	assert_null(profile(j, "goroutine"));
	assert_int_equal(profile(j, "process_cpu")->cpu_seconds, 0);
	assert_string_equal(profile(j, "memory")->path, "/debug/pprof/allocs");
	const hearth_scrape_profile *f = profile(j, "fgprof");
	assert_string_equal(f->path, "/debug/fgprof?format=pprof");
	assert_int_equal(f->delta, 0);
	assert_int_equal(f->custom, 1);
	assert_int_equal(profile(j, "alloc.deltas")->delta, 1);

	/* /config shows it, secrets hidden. */
	hearth_buf b;
	hearth_buf_init(&b);
	assert_int_equal(hearth_scrape_config_dump(c, &b), 0);
	assert_non_null(strstr(b.data,
	    "scrape_configs:\n  - job_name: \"shop\"\n"
	    "    scrape_interval: 10s\n"
	    "    scrape_timeout: 4s\n"));
	assert_non_null(strstr(b.data, "      goroutine: {enabled: false}\n"));
	assert_non_null(strstr(b.data,
	    "        - {name: \"fgprof\", path: "
	    "\"/debug/fgprof?format=pprof\", "
	    "delta: false}\n"));
	assert_non_null(
	    strstr(b.data, "        labels:\n          env: \"prod\"\n"));
	hearth_buf_fini(&b);
	hearth_scrape_config_free(c);
	unlink(pw);
	free(pw);
}

static void
test_scrape_config_secrets_not_dumped(void **state)
{
	(void) state;
	hearth_scrape_config *c = NULL;
	hearth_err            err;
	assert_int_equal(
	    parse_cfg("scrape_configs:\n"
	              "  - job_name: a\n"
	              "    authorization: {credentials: tok3n}\n"
	              "  - job_name: b\n"
	              "    basic_auth: {username: u, password: pw}\n",
	        &c, &err),
	    0);
	assert_string_equal(c->jobs[0].auth_type, "Bearer");
	assert_string_equal(c->jobs[0].credentials, "tok3n");
	hearth_buf b;
	hearth_buf_init(&b);
	assert_int_equal(hearth_scrape_config_dump(c, &b), 0);
	assert_null(strstr(b.data, "tok3n"));
	assert_null(strstr(b.data, "\"pw\""));
	assert_non_null(strstr(b.data, "      credentials: \"<secret>\"\n"));
	assert_non_null(strstr(b.data, "      password: \"<secret>\"\n"));
	hearth_buf_fini(&b);
	hearth_scrape_config_free(c);
}

static void
test_scrape_config_empty(void **state)
{
	(void) state;
	hearth_scrape_config *c = NULL;
	hearth_err            err;
	assert_int_equal(parse_cfg("server: {}\n", &c, &err), 0);
	assert_int_equal(c->n_jobs, 0);
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_scrape_config_dump(c, &b);
	assert_string_equal(b.data, "scrape_configs: []\n");
	hearth_buf_fini(&b);
	hearth_scrape_config_free(c);
	assert_int_equal(hearth_scrape_config_load(NULL, &c, &err), 0);
	assert_int_equal(c->n_jobs, 0);
	hearth_scrape_config_free(c);
}

static void
test_scrape_config_errors_name_key_and_line(void **state)
{
	(void) state;
	expect_error(
	    "scrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n",
	    "h.yaml: line 3: scrape_configs[0] (job \"a\").scrape_intervall: "
	    "unknown key (did you mean \"scrape_interval\"?)");
	expect_error("scrape_configs:\n  - job_name: a\n"
	             "    scrape_interval: 5s\n    scrape_timeout: 6s\n",
	    "h.yaml: line 4: scrape_configs[0] (job \"a\"): scrape_timeout 6s "
	    "is longer than scrape_interval 5s");
	expect_error("scrape_configs:\n  - job_name: a\n    static_configs:\n"
	             "      - targets:\n          - ok:1\n"
	             "          - http://h:1/debug\n",
	    "h.yaml: line 6: scrape_configs[0] (job \"a\").static_configs[0]"
	    ".targets[1]: \"http://h:1/debug\": a target is host:port without "
	    "a scheme (set scheme: https for TLS)");
	expect_error("scrape_configs:\n  - job_name: a\n    static_configs:\n"
	             "      - targets: [h:99999]\n",
	    "h.yaml: line 4: scrape_configs[0] (job \"a\").static_configs[0]"
	    ".targets[0]: \"h:99999\": the port must be a number from 1 to "
	    "65535");
	expect_error("scrape_configs:\n  - job_name: a\n  - job_name: a\n",
	    "h.yaml: line 3: scrape_configs[1]: job_name \"a\" is used twice "
	    "(first on line 2)");
	expect_error("scrape_configs:\n  - scrape_interval: 5s\n",
	    "h.yaml: line 2: scrape_configs[0]: job_name: required");
	expect_error("scrape_configs:\n  - job_name: a\n    static_configs:\n"
	             "      - labels: {__x: y}\n        targets: [h:1]\n",
	    "h.yaml: line 4: scrape_configs[0] (job \"a\").static_configs[0]"
	    ".labels.__x: label names starting with __ are reserved");
	expect_error("scrape_configs:\n  - job_name: a\n    static_configs:\n"
	             "      - labels: {env: x}\n",
	    "h.yaml: line 4: scrape_configs[0] (job \"a\").static_configs[0]"
	    ".targets: missing: list the host:port targets");
	expect_error("scrape_configs:\n  - job_name: a\n"
	             "    basic_auth: {username: u}\n"
	             "    authorization: {credentials: t}\n",
	    "h.yaml: line 4: scrape_configs[0] (job \"a\").authorization: use "
	    "basic_auth or authorization, not both");
	expect_error(
	    "scrape_configs:\n  - job_name: a\n"
	    "    basic_auth: {username: u, password_file: nope.txt}\n",
	    "h.yaml: line 3: scrape_configs[0] (job \"a\").basic_auth"
	    ".password_file: cannot read /etc/hearth/nope.txt: No such file "
	    "or directory");
	expect_error("scrape_configs:\n  - job_name: a\n"
	             "    profiling_config:\n      custom:\n"
	             "        - {name: \"a:b\", path: /x}\n",
	    "h.yaml: line 5: scrape_configs[0] (job \"a\").profiling_config"
	    ".custom[0]: name: required, letters, digits, _ - . only (it "
	    "becomes __name__ and part of the profile type id)");
	expect_error("scrape_configs:\n  - job_name: a\n"
	             "    profiling_config:\n      custom:\n"
	             "        - {name: memory, path: /x}\n",
	    "h.yaml: line 5: scrape_configs[0] (job \"a\").profiling_config"
	    ".custom[0]: profile name \"memory\" is used twice in this job");
	expect_error("scrape_configs:\n  - job_name: a\n"
	             "    scrape_interval: 1s\n",
	    "h.yaml: line 2: scrape_configs[0] (job \"a\"): scrape_timeout "
	    "must be at least 2s with process_cpu enabled: the CPU profile "
	    "runs for the timeout minus 1s");
	expect_error("scrape_configs:\n  - job_name: a\n    scheme: ftp\n",
	    "h.yaml: line 3: scrape_configs[0] (job \"a\"): scheme: expected "
	    "http or https, got \"ftp\"");
	expect_error(
	    "scrape_configs:\n  - job_name: a\n    scrape_interval: 5\n",
	    "h.yaml: line 3: scrape_configs[0] (job \"a\").scrape_interval: "
	    "missing unit in duration \"5\" (use ms, s, m, h, d, w or y, e.g. "
	    "30s or 1h30m)");
	expect_error("scrape_configs: {job_name: a}\n",
	    "h.yaml: line 1: scrape_configs: expected a list (lines starting "
	    "with \"- \"), got a mapping");
}

static void
test_scrape_config_load_file_relative_paths(void **state)
{
	(void) state;
	char *path = strdup(write_temp("server: {http_listen_port: 1}\n"
	                               "scrape_configs:\n"
	                               "  - job_name: a\n"
	                               "    file_sd_configs:\n"
	                               "      - files: [targets.json]\n",
	    ".yaml"));
	hearth_scrape_config *c = NULL;
	hearth_err            err;
	int                   rc = hearth_scrape_config_load(path, &c, &err);
	if (rc != 0)
		fail_msg("rc=%d %s", rc, err.msg);
	assert_string_equal(c->jobs[0].sd[0].files[0], "/tmp/targets.json");
	assert_int_equal(c->jobs[0].sd[0].refresh_ms, 300000);
	hearth_scrape_config_free(c);
	unlink(path);
	free(path);
}

static void
test_scrape_sd_parse_json_and_yaml(void **state)
{
	(void) state;
	hearth_arena        *a = hearth_arena_new(0);
	hearth_scrape_group *g = NULL;
	size_t               n = 0;
	hearth_err           err;
	const char          *json
	    = "[\n\t{\"targets\": [\"h1:1\", \"h2:2\"],\n"
	      "\t \"labels\": {\"zone\": \"b\", \"app\": \"x\"}},\n"
	      "\t{\"targets\": [\"h3:3\"]}\n]\n";
	assert_int_equal(hearth_scrape_sd_parse(a, json, strlen(json),
	                     "sd.json", 1, &g, &n, &err),
	    0);
	assert_int_equal(n, 2);
	assert_int_equal(g[0].n_targets, 2);
	assert_string_equal(g[0].targets[1], "h2:2");
	assert_string_equal(g[0].labels[0].name, "app");
	assert_string_equal(g[0].labels[1].value, "b");
	assert_int_equal(g[1].n_labels, 0);
	const char *yaml = "- targets: [h:1]\n  label: {a: b}\n";
	assert_int_equal(hearth_scrape_sd_parse(a, yaml, strlen(yaml),
	                     "sd.yaml", 0, &g, &n, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "sd.yaml: line 2: [0].label: unknown key "
	    "(did you mean \"labels\"?)");
	const char *obj = "{\"targets\": [\"h:1\"]}";
	assert_int_equal(hearth_scrape_sd_parse(
	                     a, obj, strlen(obj), "sd.json", 1, &g, &n, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "sd.json: line 1: expected a list of target groups "
	    "([{\"targets\": [...], \"labels\": {...}}]), got a mapping");
	assert_int_equal(
	    hearth_scrape_sd_parse(a, "", 0, "e", 1, &g, &n, &err), 0);
	assert_int_equal(n, 0);
	hearth_arena_free(a);
}

/* ---- deltas ------------------------------------------------------------ */

/* An upload with types (alloc_objects, inuse_space) and rows given as
 * {frames "a;b", label value or NULL, v0, v1}. */
typedef struct row {
	const char *stack;
	const char *pod;
	int64_t     v0, v1;
} row;

static hearth_upload *
make_upload(hearth_arena *a, const row *rows, size_t n)
{
	hearth_upload_builder *b;
	hearth_err             err;
	assert_int_equal(hearth_upload_builder_new(a, 2, &b, &err), 0);
	for (size_t i = 0; i < n; i++) {
		uint32_t    frames[8], nf = 0, id;
		const char *s = rows[i].stack;
		while (*s) {
			const char *e = strchr(s, ';');
			size_t      l = e ? (size_t) (e - s) : strlen(s);
			assert_int_equal(
			    hearth_upload_builder_string(b, s, l, &id, &err),
			    0);
			frames[nf++] = id;
			s += l + (e != NULL);
		}
		uint32_t sid;
		assert_int_equal(
		    hearth_upload_builder_stack(b, frames, nf, &sid, &err), 0);
		hearth_upload_label lab  = { "pod", rows[i].pod };
		int64_t             v[2] = { rows[i].v0, rows[i].v1 };
		/* rows of a pod carry a span id too (span rows) */
		assert_int_equal(hearth_upload_builder_add_span(b, &lab,
		                     rows[i].pod ? 1 : 0, sid,
		                     rows[i].pod ? 0x42 : 0, v, &err),
		    0);
	}
	hearth_upload *u;
	assert_int_equal(hearth_upload_builder_finish(b, &u, &err), 0);
	hearth_upload_type *t = hearth_arena_calloc(a, 2, sizeof(*t));
	t[0].type             = "alloc_objects";
	t[0].unit             = "count";
	t[1].type             = "inuse_space";
	t[1].unit             = "bytes";
	u->sample_types       = t;
	u->n_sample_types     = 2;
	return u;
}

/* Value of column col for stack (and pod) in u; -1 when absent. */
static int64_t
value_of(const hearth_upload *u, const char *stack, const char *pod, int col)
{
	for (size_t g = 0; g < u->n_groups; g++) {
		const hearth_upload_group *grp = &u->groups[g];
		const char *gp = grp->n_labels ? grp->labels[0].value : NULL;
		if ((gp == NULL) != (pod == NULL)
		    || (gp != NULL && pod != NULL && strcmp(gp, pod) != 0))
			continue;
		for (size_t r = 0; r < grp->n_rows; r++) {
			char     buf[128] = "";
			uint32_t s        = grp->stacks[r];
			for (uint32_t f = u->stack_off[s];
			     f < u->stack_off[s + 1]; f++) {
				if (f > u->stack_off[s])
					strcat(buf, ";");
				strcat(buf, u->strings[u->frames[f]]);
			}
			if (strcmp(buf, stack) == 0)
				return grp->values[r * u->n_sample_types
				    + (size_t) col];
		}
	}
	return -1;
}

static const unsigned char CUM[2] = { 1, 0 }; /* alloc yes, inuse no */

static void
test_scrape_delta_first_scrape_seeds_only(void **state)
{
	(void) state;
	hearth_arena        *a = hearth_arena_new(0);
	hearth_scrape_delta *d = hearth_scrape_delta_new();
	hearth_err           err;
	row                  r1[]
	    = { { "main;alloc", NULL, 100, 4096 }, { "main;x", NULL, 7, 0 } };
	hearth_upload *u = make_upload(a, r1, 2);
	assert_int_equal(hearth_scrape_delta_apply(d, u, CUM, &err), 0);
	/* Cumulative column zeroed, gauge column kept. */
	assert_int_equal(value_of(u, "main;alloc", NULL, 0), 0);
	assert_int_equal(value_of(u, "main;alloc", NULL, 1), 4096);
	assert_int_equal(value_of(u, "main;x", NULL, 0), 0);
	assert_int_equal(hearth_scrape_delta_keys(d), 2);
	hearth_scrape_delta_free(d);
	hearth_arena_free(a);
}

static void
test_scrape_delta_differences_reset_and_new_keys(void **state)
{
	(void) state;
	hearth_arena        *a = hearth_arena_new(0);
	hearth_scrape_delta *d = hearth_scrape_delta_new();
	hearth_err           err;
	row                  r1[] = { { "main;alloc", NULL, 100, 10 },
		                 { "main;alloc", "p1", 50, 0 }, { "main;gone", NULL, 9, 0 } };
	assert_int_equal(
	    hearth_scrape_delta_apply(d, make_upload(a, r1, 3), CUM, &err), 0);
	/* Second scrape: +30, +0 (same), a new stack, one key lower. */
	row            r2[] = { { "main;alloc", NULL, 130, 20 },
		           { "main;alloc", "p1", 50, 1 }, { "main;new", NULL, 5, 0 },
		           { "main;gone", NULL, 4, 0 } };
	hearth_upload *u    = make_upload(a, r2, 4);
	size_t         span_rows = 0;
	for (size_t g = 0; g < u->n_groups; g++)
		span_rows += u->groups[g].n_span_rows;
	assert_int_equal(span_rows, 1);
	assert_int_equal(hearth_scrape_delta_apply(d, u, CUM, &err), 1);
	/* cumulative span values cannot be diffed: none are kept */
	for (size_t g = 0; g < u->n_groups; g++)
		assert_int_equal(u->groups[g].n_span_rows, 0);
	assert_int_equal(value_of(u, "main;alloc", NULL, 0), 30);
	assert_int_equal(value_of(u, "main;alloc", NULL, 1), 20); /* gauge */
	assert_int_equal(value_of(u, "main;alloc", "p1", 0), 0);  /* labels */
	assert_int_equal(value_of(u, "main;new", NULL, 0), 5);  /* new: all */
	assert_int_equal(value_of(u, "main;gone", NULL, 0), 0); /* reset */
	/* Third: the reset key diffs from its new, lower baseline. */
	row r3[]
	    = { { "main;alloc", NULL, 131, 0 }, { "main;gone", NULL, 6, 0 } };
	u = make_upload(a, r3, 2);
	assert_int_equal(hearth_scrape_delta_apply(d, u, CUM, &err), 1);
	assert_int_equal(value_of(u, "main;alloc", NULL, 0), 1);
	assert_int_equal(value_of(u, "main;gone", NULL, 0), 2);
	assert_int_equal(hearth_scrape_delta_keys(d), 2);
	hearth_scrape_delta_free(d);
	hearth_arena_free(a);
}

static void
test_scrape_delta_type_change_reseeds(void **state)
{
	(void) state;
	hearth_arena        *a = hearth_arena_new(0);
	hearth_scrape_delta *d = hearth_scrape_delta_new();
	hearth_err           err;
	row                  r[] = { { "main;a", NULL, 10, 1 } };
	assert_int_equal(
	    hearth_scrape_delta_apply(d, make_upload(a, r, 1), CUM, &err), 0);
	hearth_upload *u        = make_upload(a, r, 1);
	u->sample_types[0].type = "alloc_space"; /* another profile shape */
	assert_int_equal(hearth_scrape_delta_apply(d, u, CUM, &err), 0);
	assert_int_equal(value_of(u, "main;a", NULL, 0), 0);
	/* Only gauges: nothing to do, stored as is. */
	static const unsigned char none[2] = { 0, 0 };
	u                                  = make_upload(a, r, 1);
	assert_int_equal(hearth_scrape_delta_apply(d, u, none, &err), 1);
	assert_int_equal(value_of(u, "main;a", NULL, 0), 10);
	hearth_scrape_delta_free(d);
	hearth_arena_free(a);
}

/* ---- the manager against a real HTTP server --------------------------- */

typedef struct pushed {
	pthread_mutex_t mu;
	int             attempts; /* every call of the push callback */
	int             refuse;   /* the first `refuse` calls fail ... */
	int             refuse_code; /* ... with this code */
	int             pushes;
	int  types[4]; /* alloc_objects alloc_space inuse_o inuse_s */
	char service[64], job[64], instance[64], name[64];
} pushed;

static const char *
label(const Hearth__Ingester__SeriesProfile *sp, const char *name)
{
	for (size_t i = 0; i < sp->n_labels; i++)
		if (strcmp(sp->labels[i]->name, name) == 0)
			return sp->labels[i]->value;
	return "";
}

static int
fake_push(void *ctx, const char *tenant, const hearth_ingest_result *res,
    hearth_arena *a, hearth_err *err)
{
	(void) a;
	pushed *p = ctx;
	assert_string_equal(tenant, "anonymous");
	pthread_mutex_lock(&p->mu);
	if (p->attempts++ < p->refuse) {
		pthread_mutex_unlock(&p->mu);
		return hearth_err_set(err, p->refuse_code,
		    "only 0 healthy ingesters can take this series, a write "
		    "needs 1 (replication factor 1, 1 members); retry later");
	}
	p->pushes++;
	static const char *const names[] = { "alloc_objects", "alloc_space",
		"inuse_objects", "inuse_space" };
	for (size_t b = 0; b < res->push->n_batches; b++)
		for (size_t i = 0; i < res->push->batches[b]->n_profiles;
		     i++) {
			const Hearth__Ingester__SeriesProfile *sp
			    = res->push->batches[b]->profiles[i];
			for (int t = 0; t < 4; t++)
				p->types[t]
				    += strcmp(label(sp, "__type__"), names[t])
				    == 0;
			snprintf(p->service, sizeof(p->service), "%s",
			    label(sp, "service_name"));
			snprintf(
			    p->job, sizeof(p->job), "%s", label(sp, "job"));
			snprintf(p->instance, sizeof(p->instance), "%s",
			    label(sp, "instance"));
			snprintf(p->name, sizeof(p->name), "%s",
			    label(sp, "__name__"));
		}
	pthread_mutex_unlock(&p->mu);
	return 0;
}

static hearth_buf heap_body;

static void
h_heap(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	hearth_buf_append(&resp->body, heap_body.data, heap_body.len);
	resp->content_type = "application/octet-stream";
}

static void
h_fail(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	resp->status = 500;
	hearth_buf_puts(&resp->body, "broken");
}

/* A scrape manager pushing into p (its refuse settings), scraping a
 * local target every second: /debug/pprof/heap answers heap.pb, /bad a
 * 500. labels and custom are YAML spliced into the job (may be ""). */
typedef struct scrape_run {
	hearth_metrics       *m;
	hearth_log            log;
	hearth_http_server   *http, *targets;
	hearth_scrape_config *c;
	hearth_scrape        *s;
} scrape_run;

static void
scrape_run_start(
    scrape_run *r, pushed *p, const char *labels, const char *custom)
{
	FILE *f = fopen(HEARTH_TESTDATA "/pprof/heap.pb", "rb");
	assert_non_null(f);
	hearth_buf_init(&heap_body);
	char   chunk[4096];
	size_t got;
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
		hearth_buf_append(&heap_body, chunk, got);
	fclose(f);

	r->m = hearth_metrics_new();
	hearth_log_init(&r->log, "scrape_test", HEARTH_LOG_ERROR);
	hearth_http_opts ho = { .address = "127.0.0.1", .threads = 2 };
	hearth_err       err;
	assert_int_equal(
	    hearth_http_server_new(&ho, r->m, &r->log, &r->targets, &err), 0);
	hearth_http_route(
	    r->targets, "GET", "/debug/pprof/heap", 0, "h", h_heap, NULL);
	hearth_http_route(r->targets, "GET", "/bad", 0, "b", h_fail, NULL);
	assert_int_equal(hearth_http_server_start(r->targets, &err), 0);
	assert_int_equal(
	    hearth_http_server_new(&ho, NULL, &r->log, &r->http, &err), 0);
	char yaml[1024];
	snprintf(yaml, sizeof(yaml),
	    "scrape_configs:\n"
	    "  - job_name: heapjob\n"
	    "    scrape_interval: 1s\n"
	    "    static_configs: [{targets: [\"127.0.0.1:%u\"]%s}]\n"
	    "    profiling_config:\n"
	    "      process_cpu: {enabled: false}\n"
	    "      goroutine: {enabled: false}\n"
	    "      mutex: {enabled: false}\n"
	    "      block: {enabled: false}\n"
	    "%s",
	    hearth_http_server_port(r->targets), labels, custom);
	assert_int_equal(parse_cfg(yaml, &r->c, &err), 0);
	static hearth_limits lim = { .ingestion_body_limit_mb = 16,
		.max_label_names_per_series                   = 30,
		.max_label_name_length                        = 1024,
		.max_label_value_length                       = 2048 };
	hearth_scrape_opts   o   = { .config = r->c,
		    .limits                  = &lim,
		    .workers                 = 1,
		    .push                    = fake_push,
		    .push_ctx                = p,
		    .http                    = r->http,
		    .metrics                 = r->m,
		    .log                     = &r->log };
	assert_int_equal(hearth_scrape_new(&o, &r->s, &err), 0);
	assert_int_equal(hearth_scrape_start(r->s, &err), 0);
}

/* Wait (at most 6 s) until `stored` pushes were stored or `attempts`
 * calls made, then stop scraping. */
static void
scrape_run_until(scrape_run *r, pushed *p, int stored, int attempts)
{
	for (int i = 0; i < 60; i++) {
		pthread_mutex_lock(&p->mu);
		int done = p->pushes >= stored || p->attempts >= attempts;
		pthread_mutex_unlock(&p->mu);
		if (done)
			break;
		usleep(100 * 1000);
	}
	hearth_scrape_stop(r->s);
}

/* The metrics text (caller frees). */
static char *
scrape_run_metrics(scrape_run *r)
{
	hearth_buf js;
	hearth_buf_init(&js);
	assert_int_equal(hearth_metrics_write(r->m, &js), 0);
	return hearth_buf_take(&js, NULL);
}

static void
scrape_run_free(scrape_run *r)
{
	hearth_scrape_free(r->s);
	hearth_scrape_config_free(r->c);
	hearth_http_server_free(r->http);
	hearth_http_server_free(r->targets);
	hearth_metrics_free(r->m);
	hearth_buf_fini(&heap_body);
}

/* Scrape until `stored` pushes or `attempts` calls; the metrics text. */
static char *
scrape_heap_until(pushed *p, int stored, int attempts)
{
	scrape_run r;
	scrape_run_start(&r, p, "", "");
	scrape_run_until(&r, p, stored, attempts);
	char *out = scrape_run_metrics(&r);
	scrape_run_free(&r);
	return out;
}

/* A push refused because no ingester is healthy yet (hearth starting:
 * the ring has not pinged its ingesters) is tried again: the first scrape
 * is stored, not lost, and counts as no failure. */
static void
test_scrape_push_retried_while_no_ingester_is_healthy(void **state)
{
	(void) state;
	pushed p = { .mu = PTHREAD_MUTEX_INITIALIZER,
		.refuse      = 2,
		.refuse_code = HEARTH_EUNAVAIL };
	char  *metrics = scrape_heap_until(&p, 1, 100);
	assert_int_equal(p.pushes >= 1, 1);
	assert_int_equal(p.attempts, p.pushes + 2);
	assert_true(p.types[2] >= 1); /* inuse of the first scrape */
	assert_null(strstr(metrics, "reason=\"push\""));
	free(metrics);
}

/* Other refusals (a rate limit, a bad profile) are not retried: the
 * scrape fails at once with reason push. */
static void
test_scrape_push_not_retried_when_refused_for_good(void **state)
{
	(void) state;
	pushed p = { .mu = PTHREAD_MUTEX_INITIALIZER,
		.refuse      = 1,
		.refuse_code = HEARTH_ELIMIT };
	char  *metrics = scrape_heap_until(&p, 1, 100);
	assert_true(p.pushes >= 1); /* the next scrape, a second later */
	assert_non_null(strstr(metrics, "reason=\"push\"} 1\n"));
	free(metrics);
}

static void
test_scrape_manager_scrapes_and_reports(void **state)
{
	(void) state;
	pushed     p = { .mu = PTHREAD_MUTEX_INITIALIZER };
	scrape_run r;
	scrape_run_start(&r, &p, ", labels: {service_name: svc}",
	    "      custom: [{name: broken, path: /bad}]\n");
	/* Two scrapes of each slot take at most ~2 s (1 s interval). */
	scrape_run_until(&r, &p, 2, 1000);
	hearth_scrape *s = r.s;
	if (getenv("SCRAPE_TEST_DEBUG") != NULL) {
		hearth_buf dbg;
		hearth_buf_init(&dbg);
		hearth_scrape_status_json(s, &dbg);
		fprintf(stderr, "%s\n", dbg.data);
		hearth_buf_fini(&dbg);
	}
	/* The same body twice: the first seeds (inuse stored, alloc not),
	 * the second has alloc deltas of 0, so again only inuse. */
	assert_true(p.pushes >= 2);
	assert_int_equal(p.types[0], 0);
	assert_int_equal(p.types[1], 0);
	assert_true(p.types[2] >= 2);
	assert_true(p.types[3] >= 2);
	assert_string_equal(p.service, "svc");
	assert_string_equal(p.job, "heapjob");
	assert_string_equal(p.name, "memory");

	hearth_buf js;
	hearth_buf_init(&js);
	assert_int_equal(hearth_scrape_status_json(s, &js), 0);
	assert_non_null(
	    strstr(js.data, "\"profile\":\"broken\",\"labels\":{"));
	assert_non_null(strstr(js.data, "\"health\":\"down\""));
	assert_non_null(strstr(js.data,
	    "\"last_error\":\"HTTP 500: broken\","
	    "\"last_error_reason\":\"http_status\""));
	assert_non_null(strstr(js.data, "\"health\":\"up\""));
	hearth_buf_reset(&js);
	assert_int_equal(hearth_scrape_status_html(s, &js), 0);
	assert_non_null(strstr(js.data, "<td class=\"down\">down</td>"));
	assert_non_null(strstr(js.data, "http_status: HTTP 500: broken"));
	hearth_buf_reset(&js);
	assert_int_equal(hearth_metrics_write(r.m, &js), 0);
	assert_non_null(strstr(js.data,
	    "hearth_scrape_failures_total{job=\"heapjob\",instance=\"127.0.0."
	    "1:"));
	assert_non_null(
	    strstr(js.data, "profile=\"broken\",reason=\"http_status\"}"));
	assert_non_null(strstr(js.data, "profile=\"memory\"} 1\n"));
	hearth_buf_fini(&js);
	scrape_run_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrape_config_defaults),
		cmocka_unit_test(test_scrape_config_every_key),
		cmocka_unit_test(test_scrape_config_secrets_not_dumped),
		cmocka_unit_test(test_scrape_config_empty),
		cmocka_unit_test(test_scrape_config_errors_name_key_and_line),
		cmocka_unit_test(test_scrape_config_load_file_relative_paths),
		cmocka_unit_test(test_scrape_sd_parse_json_and_yaml),
		cmocka_unit_test(test_scrape_delta_first_scrape_seeds_only),
		cmocka_unit_test(
		    test_scrape_delta_differences_reset_and_new_keys),
		cmocka_unit_test(test_scrape_delta_type_change_reseeds),
		cmocka_unit_test(test_scrape_manager_scrapes_and_reports),
		cmocka_unit_test(
		    test_scrape_push_retried_while_no_ingester_is_healthy),
		cmocka_unit_test(
		    test_scrape_push_not_retried_when_refused_for_good),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
