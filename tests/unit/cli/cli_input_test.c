#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "arena.h"
#include "cli_input.h"

static uint8_t *
read_path(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t) len);
	assert_int_equal(fread(p, 1, (size_t) len, f), (size_t) len);
	fclose(f);
	*n = (size_t) len;
	return p;
}

static uint8_t *
read_testdata(const char *name, size_t *n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/pprof/%s", HEARTH_TESTDATA, name);
	return read_path(path, n);
}

/* gzip of s (windowBits 15 + 16: gzip framing). */
static uint8_t *
gzip_of(const char *s, size_t *n)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	assert_int_equal(
	    deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	size_t   cap = deflateBound(&z, strlen(s));
	uint8_t *out = malloc(cap);
	z.next_in    = (Bytef *) s;
	z.avail_in   = (uInt) strlen(s);
	z.next_out   = out;
	z.avail_out  = (uInt) cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	*n = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

static void
check_ok(const void *data, size_t n, hearth_cli_format forced,
    hearth_cli_format want, int gz, size_t samples, size_t types)
{
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_input in;
	hearth_err       err;
	if (hearth_cli_input_check(a, data, n, forced, &in, &err) != 0)
		fail_msg("check failed: %s", err.msg);
	assert_int_equal(in.format, want);
	assert_int_equal(in.gzip, gz);
	assert_int_equal(in.samples, samples);
	assert_int_equal(in.types, types);
	hearth_arena_free(a);
}

static void
check_err(
    const void *data, size_t n, hearth_cli_format forced, const char *want)
{
	hearth_arena    *a = hearth_arena_new(0);
	hearth_cli_input in;
	hearth_err       err;
	assert_int_equal(hearth_cli_input_check(a, data, n, forced, &in, &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg, want);
	hearth_arena_free(a);
}

static void
test_input_sniffs_gzip_and_raw_pprof(void **state)
{
	(void) state;
	size_t   n;
	uint8_t *p = read_testdata("cpu.pb.gz", &n);
	check_ok(
	    p, n, HEARTH_CLI_FORMAT_AUTO, HEARTH_CLI_FORMAT_PPROF, 1, 7, 2);
	free(p);
	p = read_testdata("heap.pb", &n);
	check_ok(
	    p, n, HEARTH_CLI_FORMAT_AUTO, HEARTH_CLI_FORMAT_PPROF, 0, 1150, 4);
	free(p);
}

/* A JFR recording (magic "FLR\0" after gunzip) is sent as format=jfr;
 * the fixture's four event kinds are its "types". */
static void
test_input_sniffs_jfr(void **state)
{
	(void) state;
	size_t	 len;
	uint8_t *p = read_path(HEARTH_TEST_DATA "/jfr/burn.jfr.gz", &len);
	hearth_arena	*a = hearth_arena_new(0);
	hearth_cli_input in;
	hearth_err	 err;
	assert_int_equal(hearth_cli_input_check(a, p, len,
			     HEARTH_CLI_FORMAT_AUTO, &in, &err),
	    0);
	assert_int_equal(in.format, HEARTH_CLI_FORMAT_JFR);
	assert_int_equal(in.gzip, 1);
	assert_int_equal(in.types, 4);
	assert_true(in.samples > 0);
	assert_string_equal(hearth_cli_input_name(in.format), "jfr");
	/* Cut short: the reason is JFR's. */
	p[len / 2] ^= 0xff;
	assert_int_not_equal(hearth_cli_input_check(a, p, 200,
				 HEARTH_CLI_FORMAT_JFR, &in, &err),
	    0);
	hearth_arena_free(a);
	free(p);
}

static void
test_input_sniffs_folded_text_plain_and_gzip(void **state)
{
	(void) state;
	const char *text
	    = "main;work 3\r\nmain;idle 1\nmain;work 2\n\tx;y 0\n";
	check_ok(text, strlen(text), HEARTH_CLI_FORMAT_AUTO,
	    HEARTH_CLI_FORMAT_FOLDED, 0, 2, 1);
	size_t   n;
	uint8_t *gz = gzip_of(text, &n);
	check_ok(
	    gz, n, HEARTH_CLI_FORMAT_AUTO, HEARTH_CLI_FORMAT_FOLDED, 1, 2, 1);
	free(gz);
}

static void
test_input_lines_only_when_asked(void **state)
{
	(void) state;
	const char *text = "main;work\nmain;work\nmain;idle\n";
	check_err(text, strlen(text), HEARTH_CLI_FORMAT_AUTO,
	    "no samples: folded lines look like \"a;b;c 12\" (stack, space, "
	    "count above 0); use --format lines for one stack per line "
	    "without counts");
	check_ok(text, strlen(text), HEARTH_CLI_FORMAT_LINES,
	    HEARTH_CLI_FORMAT_LINES, 0, 2, 1);
	check_err("\n\n", 2, HEARTH_CLI_FORMAT_LINES,
	    "no samples: the file has no stack lines");
}

static void
test_input_rejects_garbage_with_reason(void **state)
{
	(void) state;
	check_err("", 0, HEARTH_CLI_FORMAT_AUTO, "the file is empty");
	const uint8_t junk[] = { 0xff, 0x00, 0x13, 0x37, 0x42, 0x99, 0x01 };
	check_err(junk, sizeof(junk), HEARTH_CLI_FORMAT_AUTO,
	    "not a pprof profile nor folded text: pprof: malformed protobuf "
	    "(truncated or not a pprof)");
	const uint8_t bad_gz[] = { 0x1f, 0x8b, 0x08, 0x00, 0x01 };
	check_err(bad_gz, sizeof(bad_gz), HEARTH_CLI_FORMAT_AUTO,
	    "not a valid gzip file: gzip: truncated stream");
	const char *text = "hello world\n";
	check_err(text, strlen(text), HEARTH_CLI_FORMAT_AUTO,
	    "folded: line 1: count \"world\" is not an integer");
	/* Forcing pprof on text gives the decoder's reason unprefixed. */
	check_err(text, strlen(text), HEARTH_CLI_FORMAT_PPROF,
	    "pprof: malformed protobuf (truncated or not a pprof)");
}

/* A JSON object naming speedscope's schema is sent as format=speedscope,
 * plain or gzip'd; samples are its weighted samples, types its profiles. */
static void
test_input_sniffs_speedscope(void **state)
{
	(void) state;
	const char *json =
	    " {\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
	    "\"shared\":{\"frames\":[{\"name\":\"main\"},{\"name\":\"w\"}]},"
	    "\"profiles\":[{\"type\":\"sampled\",\"name\":\"a\",\"unit\":"
	    "\"none\",\"samples\":[[0,1],[0],[0,1]],\"weights\":[1,2,0]},"
	    "{\"type\":\"sampled\",\"name\":\"b\",\"unit\":\"bytes\","
	    "\"samples\":[[0]],\"weights\":[8]}]}";
	check_ok(json, strlen(json), HEARTH_CLI_FORMAT_AUTO,
	    HEARTH_CLI_FORMAT_SPEEDSCOPE, 0, 3, 2);
	size_t	 n;
	uint8_t *gz = gzip_of(json, &n);
	check_ok(gz, n, HEARTH_CLI_FORMAT_AUTO, HEARTH_CLI_FORMAT_SPEEDSCOPE, 1,
	    3, 2);
	free(gz);
	/* Forced on text that is not one: the parser's reason. */
	check_err("main;w 1\n", 9, HEARTH_CLI_FORMAT_SPEEDSCOPE,
	    "speedscope: json: offset 0: expected '{', found 'm'");
}

/* Old agents' trie and tree bodies are read when named (never sniffed:
 * a trie would be taken for a pprof); samples are nodes with a value. */
static void
test_input_trie_and_tree_when_asked(void **state)
{
	(void) state;
	/* uvarint name length, name, value, child count; pre-order. */
	static const uint8_t trie[] = { 0, 0, 2,	       /* root */
		5, 'm', 'a', 'i', 'n', ';', 0, 2,	       /* "main;" */
		1, 'a', 3, 0,				       /* "main;a" 3 */
		1, 'b', 0x80, 0x01, 0,			       /* "main;b" 128 */
		2, 'g', 'c', 1, 0 };			       /* "gc" 1 */
	static const uint8_t tree[] = { 0, 9, 1,	       /* root, value ignored */
		4, 'm', 'a', 'i', 'n', 2, 2,		       /* main 2 */
		1, 'a', 3, 0, 1, 'b', 0, 0 };		       /* main;a 3, main;b 0 */
	check_ok(trie, sizeof(trie), HEARTH_CLI_FORMAT_TRIE,
	    HEARTH_CLI_FORMAT_TRIE, 0, 3, 1);
	check_ok(tree, sizeof(tree), HEARTH_CLI_FORMAT_TREE,
	    HEARTH_CLI_FORMAT_TREE, 0, 2, 1);
	check_err(trie, sizeof(trie) - 1, HEARTH_CLI_FORMAT_TRIE,
	    "trie: node 5: cut short or a bad value or child count (byte 24)");
	static const uint8_t empty[] = { 0, 0, 1, 1, 'm', 0, 0 };
	check_err(empty, sizeof(empty), HEARTH_CLI_FORMAT_TREE,
	    "no samples: the tree holds no node with a value above 0");
	/* Not sniffed: without --format a trie is read as a pprof. */
	check_err(trie, sizeof(trie), HEARTH_CLI_FORMAT_AUTO,
	    "not a pprof profile nor folded text: pprof: malformed protobuf "
	    "(truncated or not a pprof)");
}

static void
test_input_format_names(void **state)
{
	(void) state;
	hearth_cli_format f;
	hearth_err        err;
	assert_int_equal(hearth_cli_input_format("lines", &f, &err), 0);
	assert_int_equal(f, HEARTH_CLI_FORMAT_LINES);
	assert_int_equal(hearth_cli_input_format("auto", &f, &err), 0);
	assert_int_equal(f, HEARTH_CLI_FORMAT_AUTO);
	assert_int_equal(hearth_cli_input_format("jfr", &f, &err), 0);
	assert_int_equal(f, HEARTH_CLI_FORMAT_JFR);
	assert_int_equal(hearth_cli_input_format("trie", &f, &err), 0);
	assert_int_equal(f, HEARTH_CLI_FORMAT_TRIE);
	assert_int_equal(hearth_cli_input_format("tree", &f, &err), 0);
	assert_int_equal(f, HEARTH_CLI_FORMAT_TREE);
	assert_int_equal(
	    hearth_cli_input_format("collapsed", &f, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "unknown format \"collapsed\" (choose pprof, jfr, speedscope, "
	    "folded, lines, trie, tree or auto)");
	assert_int_equal(hearth_cli_input_format("speedscope", &f, &err), 0);
	assert_int_equal(f, HEARTH_CLI_FORMAT_SPEEDSCOPE);
	assert_string_equal(
	    hearth_cli_input_name(HEARTH_CLI_FORMAT_PPROF), "pprof");
	assert_string_equal(
	    hearth_cli_input_name(HEARTH_CLI_FORMAT_FOLDED), "folded");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_input_sniffs_gzip_and_raw_pprof),
		cmocka_unit_test(test_input_sniffs_jfr),
		cmocka_unit_test(test_input_sniffs_folded_text_plain_and_gzip),
		cmocka_unit_test(test_input_lines_only_when_asked),
		cmocka_unit_test(test_input_rejects_garbage_with_reason),
		cmocka_unit_test(test_input_format_names),
		cmocka_unit_test(test_input_sniffs_speedscope),
		cmocka_unit_test(test_input_trie_and_tree_when_asked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
