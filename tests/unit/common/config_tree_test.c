#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config_tree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const hearth_config_node *
parse(hearth_arena *a, const char *text, int json, hearth_err *err)
{
	const hearth_config_node *root = NULL;
	hearth_err_clear(err);
	int rc = hearth_config_tree_parse(
	    a, text, strlen(text), "t.yaml", json, &root, err);
	return rc == 0 ? root : NULL;
}

static void
test_config_tree_nested_map_list_scalar(void **state)
{
	(void) state;
	hearth_arena             *a = hearth_arena_new(0);
	hearth_err                err;
	const hearth_config_node *r = parse(a,
	    "scrape_configs:\n"
	    "  - job_name: api\n"
	    "    static_configs:\n"
	    "      - targets: [\"a:1\", b:2]\n"
	    "        labels: {env: prod}\n"
	    "    empty:\n"
	    "    quoted: \"null\"\n",
	    0, &err);
	assert_non_null(r);
	assert_int_equal(r->kind, HEARTH_CONFIG_MAP);
	assert_int_equal(r->n, 1);
	const hearth_config_node *sc
	    = hearth_config_tree_get(r, "scrape_configs");
	assert_non_null(sc);
	assert_int_equal(sc->kind, HEARTH_CONFIG_LIST);
	assert_int_equal(sc->n, 1);
	const hearth_config_node *job = &sc->items[0];
	assert_int_equal(job->line, 2);
	assert_string_equal(
	    hearth_config_tree_get(job, "job_name")->str, "api");
	const hearth_config_node *st
	    = hearth_config_tree_get(job, "static_configs");
	const hearth_config_node *t
	    = hearth_config_tree_get(&st->items[0], "targets");
	assert_int_equal(t->kind, HEARTH_CONFIG_LIST);
	assert_int_equal(t->n, 2);
	assert_string_equal(t->items[0].str, "a:1");
	assert_int_equal(t->items[0].quoted, 1);
	assert_string_equal(t->items[1].str, "b:2");
	assert_int_equal(t->items[1].quoted, 0);
	assert_int_equal(t->items[1].line, 4);
	const hearth_config_node *l
	    = hearth_config_tree_get(&st->items[0], "labels");
	assert_string_equal(hearth_config_tree_get(l, "env")->str, "prod");
	assert_int_equal(
	    hearth_config_tree_get(job, "empty")->kind, HEARTH_CONFIG_NULL);
	const hearth_config_node *q = hearth_config_tree_get(job, "quoted");
	assert_int_equal(q->kind, HEARTH_CONFIG_SCALAR);
	assert_string_equal(q->str, "null");
	assert_null(hearth_config_tree_get(job, "missing"));
	assert_null(hearth_config_tree_get(t, "targets")); /* not a map */
	hearth_arena_free(a);
}

static void
test_config_tree_duplicate_key_names_both_lines(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	hearth_err    err;
	assert_null(parse(a, "a: 1\nb: 2\na: 3\n", 0, &err));
	assert_int_equal(err.code, HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "t.yaml: line 3: key \"a\" is set twice (first on line 1)");
	hearth_arena_free(a);
}

static void
test_config_tree_syntax_error_has_line_and_column(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	hearth_err    err;
	assert_null(parse(a, "a: [1, 2\nb: 3\n", 0, &err));
	assert_int_equal(err.code, HEARTH_EINVAL);
	assert_true(strncmp(err.msg, "t.yaml: line ", 13) == 0);
	assert_non_null(strstr(err.msg, "column"));
	hearth_arena_free(a);
}

static void
test_config_tree_json_with_tabs(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	hearth_err    err;
	const char   *text = "\t[\n\t{\n\t\t\"targets\": [\"h:1\"],\n"
	                     "\t\t\"labels\": {\"k\": \"v\\tw\"}\n\t}\n]\n";
	/* As YAML a tab before the first token is an error; as JSON it is
	 * whitespace. */
	assert_null(parse(a, text, 0, &err));
	const hearth_config_node *r = parse(a, text, 1, &err);
	assert_non_null(r);
	assert_int_equal(r->kind, HEARTH_CONFIG_LIST);
	const hearth_config_node *l
	    = hearth_config_tree_get(&r->items[0], "labels");
	assert_string_equal(hearth_config_tree_get(l, "k")->str, "v\tw");
	assert_int_equal(
	    hearth_config_tree_get(&r->items[0], "targets")->line, 3);
	hearth_arena_free(a);
}

static void
test_config_tree_empty_and_second_document(void **state)
{
	(void) state;
	hearth_arena             *a = hearth_arena_new(0);
	hearth_err                err;
	const hearth_config_node *r = parse(a, "", 0, &err);
	assert_non_null(r);
	assert_int_equal(r->kind, HEARTH_CONFIG_NULL);
	assert_null(parse(a, "a: 1\n---\nb: 2\n", 0, &err));
	assert_string_equal(err.msg,
	    "t.yaml: line 3: a second YAML document starts here; the file "
	    "must hold one");
	hearth_arena_free(a);
}

static void
test_config_tree_alias_bomb_refused(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	hearth_err    err;
	/* 10 levels of 10 aliases: 10^10 nodes once expanded. */
	char text[4096];
	int  o
	    = snprintf(text, sizeof(text), "a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
	for (int i = 1; i < 10; i++)
		o += snprintf(text + o, sizeof(text) - (size_t) o,
		    "a%d: &a%d [*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,*a%d,"
		    "*a%d]\n",
		    i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1,
		    i - 1, i - 1, i - 1);
	assert_null(parse(a, text, 0, &err));
	assert_int_equal(err.code, HEARTH_EINVAL);
	assert_non_null(strstr(err.msg, "once aliases are expanded"));
	hearth_arena_free(a);
}

static void
test_config_tree_load_file_and_missing_file(void **state)
{
	(void) state;
	hearth_arena *a = hearth_arena_new(0);
	hearth_err    err;
	char          path[] = "/tmp/hearth_config_tree_test_XXXXXX";
	int           fd     = mkstemp(path);
	assert_true(fd >= 0);
	/* Larger than the first read buffer, to exercise growth. */
	FILE *f = fdopen(fd, "w");
	fputs("items:\n", f);
	for (int i = 0; i < 2000; i++)
		fprintf(f, "  - item-%d\n", i);
	fclose(f);
	const hearth_config_node *r = NULL;
	assert_int_equal(
	    hearth_config_tree_load(a, path, NULL, 0, 0, &r, &err), 0);
	const hearth_config_node *items = hearth_config_tree_get(r, "items");
	assert_int_equal(items->n, 2000);
	assert_string_equal(items->items[1999].str, "item-1999");
	assert_int_equal(items->items[1999].line, 2001);
	/* A cap below the size is refused. */
	assert_int_equal(
	    hearth_config_tree_load(a, path, "sd", 0, 100, &r, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, "sd: larger than 100 bytes");
	unlink(path);
	assert_int_equal(
	    hearth_config_tree_load(a, path, "sd", 0, 0, &r, &err),
	    HEARTH_EIO);
	assert_string_equal(
	    err.msg, "sd: cannot open: No such file or directory");
	hearth_arena_free(a);
}

static void
test_config_tree_kind_names(void **state)
{
	(void) state;
	assert_string_equal(
	    hearth_config_tree_kind_name(HEARTH_CONFIG_MAP), "a mapping");
	assert_string_equal(
	    hearth_config_tree_kind_name(HEARTH_CONFIG_LIST), "a list");
	assert_string_equal(hearth_config_tree_kind_name(HEARTH_CONFIG_SCALAR),
	    "a single value");
	assert_string_equal(
	    hearth_config_tree_kind_name(HEARTH_CONFIG_NULL), "null");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_tree_nested_map_list_scalar),
		cmocka_unit_test(
		    test_config_tree_duplicate_key_names_both_lines),
		cmocka_unit_test(
		    test_config_tree_syntax_error_has_line_and_column),
		cmocka_unit_test(test_config_tree_json_with_tabs),
		cmocka_unit_test(test_config_tree_empty_and_second_document),
		cmocka_unit_test(test_config_tree_alias_bomb_refused),
		cmocka_unit_test(test_config_tree_load_file_and_missing_file),
		cmocka_unit_test(test_config_tree_kind_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
