#include "cli.h"

#include "attime.h"
#include "buildinfo.h"
#include "cli_impl.h"
#include "cli_json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLI_DEFAULT_URL "http://localhost:4040"

enum { CLI_STR, CLI_BOOL, CLI_LIST };

/* Every command: each is one bit, the last is HEARTH_CLI_CMD_VERSION. */
#define CLI_ALL ((HEARTH_CLI_CMD_VERSION << 1) - 1)
#define CLI_READS                                                             \
	(HEARTH_CLI_CMD_FLAME | HEARTH_CLI_CMD_TOP | HEARTH_CLI_CMD_SERIES    \
	    | HEARTH_CLI_CMD_EXPORT)
#define OPT(f) offsetof(hearth_cli_opts, f)

/* One flag of some commands. A name may have several rows (different
 * commands, different help); lookup takes the row of the command. */
typedef struct cli_flag {
	const char *name;
	int         cmds;
	int         kind;
	size_t      off;
	const char *metavar;
	const char *help;
} cli_flag;

/* clang-format off */
static const cli_flag cli_flags[] = {
	{ "query", CLI_READS, CLI_STR, OPT(query), "Q",
	  "profile type and selector (required), e.g. "
	  "process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name=\"shop\"}" },
	{ "query", HEARTH_CLI_CMD_LABELS, CLI_STR, OPT(query), "Q",
	  "only labels of series matching this selector or profile type" },
	{ "query", HEARTH_CLI_CMD_DIFF, CLI_STR, OPT(query), "Q",
	  "query of both sides (see --left-query, --right-query)" },
	{ "left-query", HEARTH_CLI_CMD_DIFF, CLI_STR, OPT(left_query), "Q",
	  "query of the left (baseline) side" },
	{ "right-query", HEARTH_CLI_CMD_DIFF, CLI_STR, OPT(right_query), "Q",
	  "query of the right (compared) side" },
	{ "from", CLI_READS | HEARTH_CLI_CMD_LABELS | HEARTH_CLI_CMD_DIFF,
	  CLI_STR, OPT(from), "T",
	  "range start: Unix s/ms/us/ns, YYYYMMDD or now-1h (default now-1h)" },
	{ "until", CLI_READS | HEARTH_CLI_CMD_LABELS | HEARTH_CLI_CMD_DIFF,
	  CLI_STR, OPT(until), "T", "range end, same forms (default now)" },
	{ "left-from", HEARTH_CLI_CMD_DIFF, CLI_STR, OPT(left_from), "T",
	  "left range start (default --from)" },
	{ "left-until", HEARTH_CLI_CMD_DIFF, CLI_STR, OPT(left_until), "T",
	  "left range end (default --until)" },
	{ "right-from", HEARTH_CLI_CMD_DIFF, CLI_STR, OPT(right_from), "T",
	  "right range start (default --from)" },
	{ "right-until", HEARTH_CLI_CMD_DIFF, CLI_STR, OPT(right_until), "T",
	  "right range end (default --until)" },
	{ "from", HEARTH_CLI_CMD_UPLOAD, CLI_STR, OPT(from), "T",
	  "time of the profile: Unix s/ms/us/ns, YYYYMMDD or now-5m "
	  "(default: the pprof's own time, else now)" },
	{ "until", HEARTH_CLI_CMD_UPLOAD, CLI_STR, OPT(until), "T",
	  "end of the profile's period, same forms" },
	{ "max-nodes", HEARTH_CLI_CMD_FLAME | HEARTH_CLI_CMD_TOP |
	  HEARTH_CLI_CMD_EXPORT | HEARTH_CLI_CMD_DIFF, CLI_STR,
	  OPT(max_nodes), "N",
	  "flame graph nodes the server keeps; smaller ones fold into "
	  "\"other\" (default: the server's, 8192 on hearth)" },
	{ "group-by", HEARTH_CLI_CMD_SERIES, CLI_LIST, OPT(group_by), "LABEL",
	  "one timeline per value of this label (repeatable)" },
	{ "label", HEARTH_CLI_CMD_LABELS, CLI_STR, OPT(label), "NAME",
	  "list the values of this label instead of the label names" },
	{ "output", HEARTH_CLI_CMD_FLAME | HEARTH_CLI_CMD_TOP |
	  HEARTH_CLI_CMD_SERIES | HEARTH_CLI_CMD_LABELS | HEARTH_CLI_CMD_DIFF,
	  CLI_STR, OPT(output), "text|json", "output form (default text)" },
	{ "limit", HEARTH_CLI_CMD_TOP, CLI_STR, OPT(limit), "N",
	  "table rows (default 20; 0 = all; json output has every row)" },
	{ "limit", HEARTH_CLI_CMD_DIFF, CLI_STR, OPT(limit), "N",
	  "rows per table (default 10; 0 = all)" },
	{ "sort", HEARTH_CLI_CMD_TOP | HEARTH_CLI_CMD_DIFF, CLI_STR, OPT(sort),
	  "self|total", "rank functions by self or total (default self)" },
	{ "depth", HEARTH_CLI_CMD_FLAME, CLI_STR, OPT(depth), "N",
	  "levels under the root to show (default 0 = all)" },
	{ "min-percent", HEARTH_CLI_CMD_FLAME, CLI_STR, OPT(min_percent), "P",
	  "hide nodes under P% of the total (default 1)" },
	{ "width", HEARTH_CLI_CMD_SERIES, CLI_STR, OPT(width), "N",
	  "most sparkline characters (default 60)" },
	{ "normalize", HEARTH_CLI_CMD_DIFF, CLI_BOOL, OPT(normalize), NULL,
	  "scale the left side to the right side's total (compare shares)" },
	{ "name", HEARTH_CLI_CMD_UPLOAD, CLI_STR, OPT(name), "APP",
	  "application name and labels, e.g. 'shop.cpu{env=prod}' (required)" },
	{ "format", HEARTH_CLI_CMD_UPLOAD, CLI_STR, OPT(format), "F",
	  "pprof, jfr, speedscope, folded, lines, trie or tree (default: "
	  "detected per file; trie and tree are never detected)" },
	{ "spy-name", HEARTH_CLI_CMD_UPLOAD, CLI_STR, OPT(spy_name), "S",
	  "the profiler that made the file (pyspy, rbspy, ...)" },
	{ "sample-rate", HEARTH_CLI_CMD_UPLOAD, CLI_STR, OPT(sample_rate), "HZ",
	  "samples per second of folded/lines CPU data (server default 100; "
	  "0 keeps raw counts)" },
	{ "format", HEARTH_CLI_CMD_EXPORT, CLI_STR, OPT(format), "F",
	  "pprof (gzip), folded or json (required)" },
	{ "o", HEARTH_CLI_CMD_EXPORT, CLI_STR, OPT(out_file), "FILE",
	  "output file; - is stdout (default -)" },
	{ "url", CLI_ALL, CLI_STR, OPT(url), "URL",
	  "server base URL (default $HEARTH_URL, else " CLI_DEFAULT_URL ")" },
	{ "tenant", CLI_ALL, CLI_STR, OPT(tenant), "ID",
	  "tenant, sent as X-Scope-OrgID" },
	{ "token", CLI_ALL, CLI_STR, OPT(token), "TOKEN",
	  "bearer token (default $HEARTH_TOKEN)" },
	{ "timeout", CLI_ALL, CLI_STR, OPT(timeout), "D",
	  "give up after this long: 30s, 500ms, 2m (default 30s)" },
	{ "h", CLI_ALL, CLI_BOOL, OPT(help), NULL, "print this help" },
	{ "help", CLI_ALL, CLI_BOOL, OPT(help), NULL, NULL },
};

typedef struct cli_cmd {
	const char *name; /* "query top" */
	int	    cmd;
	int (*run)(hearth_cli_ctx *);
	const char *args;    /* after the name in the usage line */
	const char *summary; /* one line of the command list */
	const char *about;
} cli_cmd;

static const cli_cmd cli_cmds[] = {
	{ "upload", HEARTH_CLI_CMD_UPLOAD, hearth_cli_cmd_upload,
	  "FILE... --name APP [flags]",
	  "send pprof, JFR, folded or lines files to /ingest",
	  "Send profile files to POST /ingest, one request per file (- reads "
	  "stdin).\nThe format is detected (gzip, pprof, JFR, folded text) and the "
	  "file checked\nbefore it is sent; a bad file is skipped with exit "
	  "code 4." },
	{ "query flamegraph", HEARTH_CLI_CMD_FLAME, hearth_cli_cmd_query,
	  "--query Q [flags]", "the flame graph as an indented tree",
	  "The flame graph of a query as an indented tree: total%, total, "
	  "self, function." },
	{ "query top", HEARTH_CLI_CMD_TOP, hearth_cli_cmd_query,
	  "--query Q [flags]", "functions by self or total, as a table",
	  "Functions ranked by self (or total) value: self, self%, total, "
	  "total%.\nA recursive function counts once per stack in total." },
	{ "query series", HEARTH_CLI_CMD_SERIES, hearth_cli_cmd_query,
	  "--query Q [flags]", "the timeline as a sparkline and rows",
	  "The query's timeline (and one per --group-by value): a sparkline, "
	  "then\none row per time step." },
	{ "query labels", HEARTH_CLI_CMD_LABELS, hearth_cli_cmd_query,
	  "[--label NAME] [flags]", "label names, or the values of --label",
	  "Label names, or the values of --label, one per line." },
	{ "export", HEARTH_CLI_CMD_EXPORT, hearth_cli_cmd_export,
	  "--query Q --format pprof|folded|json [-o FILE] [flags]",
	  "write a flame graph as pprof, folded text or JSON",
	  "Write a query's flame graph as a gzip pprof (one function per "
	  "frame name,\nreadable by go tool pprof), folded text or the "
	  "server's flamebearer JSON." },
	{ "diff", HEARTH_CLI_CMD_DIFF, hearth_cli_cmd_diff,
	  "--left-query Q --right-query Q [flags]",
	  "biggest regressions and improvements between two queries",
	  "Compare two queries or time ranges: the functions that grew most "
	  "(regressions)\nand shrank most (improvements)." },
	{ "ring", HEARTH_CLI_CMD_RING, hearth_cli_cmd_ring, "[flags]",
	  "print the server's ring (GET /ring)",
	  "Print the server's ring (GET /ring) as JSON. A server without a "
	  "ring answers\n404: exit code 3." },
	{ "ready", HEARTH_CLI_CMD_READY, hearth_cli_cmd_ready, "[flags]",
	  "exit 0 when the server is ready (GET /ready)",
	  "Exit 0 when GET /ready answers 200, 2 when the server is not "
	  "ready, 3 when\nit cannot be reached." },
	{ "version", HEARTH_CLI_CMD_VERSION, hearth_cli_cmd_version, "[flags]",
	  "this client's build and the server's",
	  "Print this client's build, then the server's (GET "
	  "/api/v1/status/buildinfo).\nhearth-cli --version prints the "
	  "client's alone, without asking the server." },
};
/* clang-format on */

#define CLI_N_CMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))
#define CLI_N_FLAGS (sizeof(cli_flags) / sizeof(cli_flags[0]))

static void
cli_vprint(const char *fmt, va_list ap)
{
	fputs("hearth-cli: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int
hearth_cli_fail(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cli_vprint(fmt, ap);
	va_end(ap);
	return code;
}

int
hearth_cli_usage(hearth_cli_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	cli_vprint(fmt, ap);
	va_end(ap);
	fprintf(stderr, "(see hearth-cli %s -h)\n",
	    c->cmd_name != NULL ? c->cmd_name : "");
	return HEARTH_CLI_EXIT_USAGE;
}

int
hearth_cli_int(hearth_cli_ctx *c, const char *flag, const char *s, int64_t min,
    int64_t max, int64_t *out)
{
	if (s == NULL)
		return 0;
	char *end   = NULL;
	errno       = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0)
		return hearth_cli_usage(
		    c, "--%s: \"%s\" is not an integer", flag, s);
	if (v < min || v > max)
		return hearth_cli_usage(c,
		    "--%s: %lld is out of range (%lld..%lld)", flag, v,
		    (long long) min, (long long) max);
	*out = v;
	return 0;
}

int
hearth_cli_double(hearth_cli_ctx *c, const char *flag, const char *s,
    double min, double max, double *out)
{
	if (s == NULL)
		return 0;
	char  *end = NULL;
	double v   = strtod(s, &end);
	if (end == s || *end != '\0' || !isfinite(v))
		return hearth_cli_usage(
		    c, "--%s: \"%s\" is not a number", flag, s);
	if (v < min || v > max)
		return hearth_cli_usage(
		    c, "--%s: %g is out of range (%g..%g)", flag, v, min, max);
	*out = v;
	return 0;
}

int
hearth_cli_time(
    hearth_cli_ctx *c, const char *flag, const char *s, int64_t *out_ns)
{
	hearth_err err;
	if (hearth_attime_parse_strict(s, strlen(s), c->now_ns, out_ns, &err)
	    != 0)
		return hearth_cli_usage(c, "--%s: %s", flag, err.msg);
	return 0;
}

/* --timeout: a number of seconds or <number><ms|s|m|h>. */
static int
cli_timeout_ms(hearth_cli_ctx *c, const char *s, long *out)
{
	char  *end = NULL;
	double v   = strtod(s, &end);
	double mul = 1000;
	if (end != s && strcmp(end, "ms") == 0)
		mul = 1;
	else if (end != s && strcmp(end, "m") == 0)
		mul = 60000;
	else if (end != s && strcmp(end, "h") == 0)
		mul = 3600000;
	else if (end == s || (*end != '\0' && strcmp(end, "s") != 0))
		return hearth_cli_usage(c,
		    "--timeout: \"%s\" is not a duration (30s, 500ms, 2m, 1h)",
		    s);
	if (!isfinite(v) || v * mul < 1 || v * mul > 86400000.0 * 7)
		return hearth_cli_usage(
		    c, "--timeout: \"%s\" must be between 1ms and 7 days", s);
	*out = (long) (v * mul);
	return 0;
}

/* Words of text from column col, wrapped before column width; the
 * first line continues the current one. */
static void
cli_print_wrapped(const char *text, int col, int width, FILE *f)
{
	int pos = col;
	while (*text != '\0') {
		int n = (int) strcspn(text, " ");
		if (pos > col && pos + 1 + n > width) {
			fprintf(f, "\n%*s", col, "");
			pos = col;
		}
		fprintf(f, "%s%.*s", pos > col ? " " : "  ", n, text);
		pos += n + (pos > col ? 1 : 2);
		text += n;
		while (*text == ' ')
			text++;
	}
	fputc('\n', f);
}

static void
cli_print_flags(int cmd, FILE *f)
{
	for (size_t i = 0; i < CLI_N_FLAGS; i++) {
		const cli_flag *fl = &cli_flags[i];
		if (!(fl->cmds & cmd) || fl->help == NULL)
			continue;
		char left[64];
		snprintf(left, sizeof(left), "%s%s%s%s",
		    fl->name[1] ? "--" : "-", fl->name, fl->metavar ? " " : "",
		    fl->metavar ? fl->metavar : "");
		fprintf(f, "  %-22s", left);
		cli_print_wrapped(fl->help, 24, 79, f);
	}
}

static void
cli_print_cmd_help(const cli_cmd *cmd, FILE *f)
{
	fprintf(f, "Usage: hearth-cli %s %s\n\n%s\n\nFlags:\n", cmd->name,
	    cmd->args, cmd->about);
	cli_print_flags(cmd->cmd, f);
	fputs("\nExit codes: 0 ok, 1 usage error, 2 the server answered an "
	      "error,\n3 cannot connect or not found (404), 4 bad input or "
	      "output file.\n",
	    f);
}

static void
cli_print_usage(FILE *f)
{
	fputs("hearth-cli: command-line client of a hearth (or Pyroscope) "
	      "server.\n\nUsage: hearth-cli COMMAND [flags]\n\nCommands:\n",
	    f);
	for (size_t i = 0; i < CLI_N_CMDS; i++)
		fprintf(
		    f, "  %-18s  %s\n", cli_cmds[i].name, cli_cmds[i].summary);
	fputs(
	    "\nEvery command takes --url (default $HEARTH_URL, "
	    "else " CLI_DEFAULT_URL "),\n--tenant, --token (default "
	    "$HEARTH_TOKEN), --timeout and -h:\nhearth-cli query top -h lists "
	    "the flags of one command;\nhearth-cli --version names this "
	    "build.\n"
	    "\nExit codes: 0 ok, 1 usage error, 2 the server answered an "
	    "error,\n3 cannot connect or not found (404), 4 bad input or "
	    "output file.\n",
	    f);
}

static const cli_flag *
cli_find_flag(const char *name, size_t len, int cmd, int *other_cmd)
{
	*other_cmd = 0;
	for (size_t i = 0; i < CLI_N_FLAGS; i++) {
		const cli_flag *fl = &cli_flags[i];
		if (strlen(fl->name) != len
		    || strncmp(fl->name, name, len) != 0)
			continue;
		if (fl->cmds & cmd)
			return fl;
		*other_cmd = 1;
	}
	return NULL;
}

static int
cli_set_flag(hearth_cli_ctx *c, const cli_flag *fl, const char *value)
{
	char *base = (char *) &c->o;
	if (fl->kind == CLI_BOOL) {
		int v = value == NULL || strcmp(value, "true") == 0
		    || strcmp(value, "1") == 0;
		if (value != NULL && !v && strcmp(value, "false") != 0
		    && strcmp(value, "0") != 0)
			return hearth_cli_usage(c,
			    "--%s takes no value or true/false, not \"%s\"",
			    fl->name, value);
		*(int *) (base + fl->off) = v;
	} else if (fl->kind == CLI_LIST) {
		if (c->o.n_group_by == HEARTH_CLI_MAX_GROUP_BY)
			return hearth_cli_usage(c, "--%s: at most %d times",
			    fl->name, HEARTH_CLI_MAX_GROUP_BY);
		c->o.group_by[c->o.n_group_by++] = value;
	} else {
		*(const char **) (base + fl->off) = value;
	}
	return 0;
}

/* Flags and positional arguments from argv[i..argc). */
static int
cli_parse(hearth_cli_ctx *c, int argc, char **argv, int i)
{
	c->args = calloc((size_t) argc + 1, sizeof(*c->args));
	if (c->args == NULL)
		return hearth_cli_fail(HEARTH_CLI_EXIT_USAGE, "out of memory");
	int flags_done = 0;
	for (; i < argc; i++) {
		char *a = argv[i];
		if (flags_done || a[0] != '-' || a[1] == '\0') {
			c->args[c->n_args++] = a; /* "-" is a file: stdin */
			continue;
		}
		if (strcmp(a, "--") == 0) {
			flags_done = 1;
			continue;
		}
		const char     *name = a + (a[1] == '-' ? 2 : 1);
		const char     *eq   = strchr(name, '=');
		size_t          len = eq ? (size_t) (eq - name) : strlen(name);
		int             other;
		const cli_flag *fl = cli_find_flag(name, len, c->cmd, &other);
		if (fl == NULL)
			return hearth_cli_usage(c,
			    other ? "flag -%s%.*s does not apply to '%s'"
			          : "unknown flag -%s%.*s (for '%s')",
			    a[1] == '-' ? "-" : "", (int) len, name,
			    c->cmd_name);
		const char *value = eq ? eq + 1 : NULL;
		if (value == NULL && fl->kind != CLI_BOOL) {
			if (i + 1 >= argc)
				return hearth_cli_usage(c,
				    "flag %s needs a value (%s)", a,
				    fl->metavar);
			value = argv[++i];
		}
		if (cli_set_flag(c, fl, value) != 0)
			return HEARTH_CLI_EXIT_USAGE;
	}
	return 0;
}

/* Header values must not smuggle a line break into the request. */
static int
cli_check_header(hearth_cli_ctx *c, const char *flag, const char *v)
{
	for (const char *p = v; p != NULL && *p != '\0'; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			return hearth_cli_usage(c,
			    "--%s must not contain control characters", flag);
	return 0;
}

static int
cli_connect_opts(hearth_cli_ctx *c)
{
	hearth_cli_opts *o = &c->o;
	if (o->url == NULL)
		o->url = getenv("HEARTH_URL");
	if (o->url == NULL || *o->url == '\0')
		o->url = CLI_DEFAULT_URL;
	if (o->token == NULL)
		o->token = getenv("HEARTH_TOKEN");
	hearth_err err;
	if (hearth_cli_http_check_url(o->url, &err) != 0)
		return hearth_cli_usage(c, "%s", err.msg);
	if (cli_check_header(c, "tenant", o->tenant) != 0
	    || cli_check_header(c, "token", o->token) != 0)
		return HEARTH_CLI_EXIT_USAGE;
	c->conn.url        = o->url;
	c->conn.tenant     = o->tenant;
	c->conn.token      = o->token;
	c->conn.timeout_ms = 30000;
	if (o->timeout != NULL
	    && cli_timeout_ms(c, o->timeout, &c->conn.timeout_ms) != 0)
		return HEARTH_CLI_EXIT_USAGE;
	return 0;
}

/* The server's reason: "message" of a JSON error body, else the text. */
static void
cli_server_message(
    hearth_cli_ctx *c, const hearth_buf *body, char *msg, size_t cap)
{
	hearth_cli_json       *v = NULL;
	const hearth_cli_json *m = NULL;
	if (body->len > 0
	    && hearth_cli_json_parse(c->arena, body->data, body->len, &v, NULL)
	        == 0)
		m = hearth_cli_json_get(v, "message");
	const char *s = body->data != NULL ? body->data : "";
	size_t      n = body->len;
	if (m != NULL && m->type == HEARTH_CLI_JSON_STRING) {
		s = m->s;
		n = m->len;
	}
	while (
	    n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\r'))
		n--;
	if (n == 0) {
		snprintf(msg, cap, "(empty answer)");
		return;
	}
	size_t k = 0;
	for (size_t i = 0; i < n && k + 4 < cap; i++) {
		unsigned char ch = (unsigned char) s[i];
		msg[k++]         = ch < 0x20 || ch == 0x7f ? ' ' : (char) ch;
	}
	if (k < n && k + 4 <= cap) {
		memcpy(msg + k, "...", 3);
		k += 3;
	}
	msg[k] = '\0';
}

int
hearth_cli_call(hearth_cli_ctx *c, const hearth_cli_http_req *req,
    hearth_cli_http_resp *resp)
{
	hearth_err err;
	int        rc = hearth_cli_http_do(&c->conn, req, resp, &err);
	if (rc == HEARTH_EUNAVAIL || rc == HEARTH_ETIMEDOUT)
		return hearth_cli_fail(
		    HEARTH_CLI_EXIT_UNREACHABLE, "%s", err.msg);
	if (rc != 0)
		return hearth_cli_fail(HEARTH_CLI_EXIT_SERVER, "%s %s: %s",
		    req->method, req->path, err.msg);
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	char msg[600];
	cli_server_message(c, &resp->body, msg, sizeof(msg));
	return hearth_cli_fail(resp->status == 404
	        ? HEARTH_CLI_EXIT_UNREACHABLE
	        : HEARTH_CLI_EXIT_SERVER,
	    "%s %s: HTTP %ld: %s", req->method, req->path, resp->status, msg);
}

/* Which command argv names; *next is the first argument after it. */
static const cli_cmd *
cli_find_cmd(int argc, char **argv, int *next, int *code)
{
	*code = HEARTH_CLI_EXIT_USAGE;
	if (strcmp(argv[1], "query") != 0) {
		for (size_t i = 0; i < CLI_N_CMDS; i++)
			if (strcmp(cli_cmds[i].name, argv[1]) == 0) {
				*next = 2;
				return &cli_cmds[i];
			}
		hearth_cli_fail(HEARTH_CLI_EXIT_USAGE,
		    "unknown command \"%s\" (see hearth-cli -h)", argv[1]);
		return NULL;
	}
	const char *sub = argc > 2 ? argv[2] : "";
	for (size_t i = 0; i < CLI_N_CMDS; i++)
		if (strncmp(cli_cmds[i].name, "query ", 6) == 0
		    && strcmp(cli_cmds[i].name + 6, sub) == 0) {
			*next = 3;
			return &cli_cmds[i];
		}
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
		fputs(
		    "Usage: hearth-cli query flamegraph|top|series|labels "
		    "[flags]\n\n(hearth-cli query top -h: the flags of one)\n",
		    stdout);
		*code = HEARTH_CLI_EXIT_OK;
		return NULL;
	}
	hearth_cli_fail(HEARTH_CLI_EXIT_USAGE,
	    "query needs one of flamegraph, top, series, labels%s%s%s",
	    *sub ? " (got \"" : "", sub, *sub ? "\")" : "");
	return NULL;
}

static int
cli_flush(hearth_cli_ctx *c)
{
	if (hearth_buf_failed(&c->out))
		return hearth_cli_fail(HEARTH_CLI_EXIT_SERVER,
		    "out of memory building the output");
	if (c->out.len > 0
	    && fwrite(c->out.data, 1, c->out.len, stdout) != c->out.len)
		return hearth_cli_fail(HEARTH_CLI_EXIT_INPUT,
		    "cannot write to stdout: %s", strerror(errno));
	if (fflush(stdout) != 0)
		return hearth_cli_fail(HEARTH_CLI_EXIT_INPUT,
		    "cannot write to stdout: %s", strerror(errno));
	return 0;
}

static int
cli_run(hearth_cli_ctx *c, const cli_cmd *cmd, int argc, char **argv, int next)
{
	int rc = cli_parse(c, argc, argv, next);
	if (rc != 0)
		return rc;
	if (c->o.help) {
		cli_print_cmd_help(cmd, stdout);
		return HEARTH_CLI_EXIT_OK;
	}
	if (c->n_args > 0 && c->cmd != HEARTH_CLI_CMD_UPLOAD)
		return hearth_cli_usage(
		    c, "unexpected argument \"%s\"", c->args[0]);
	if ((rc = cli_connect_opts(c)) != 0)
		return rc;
	c->arena = hearth_arena_new(0);
	if (c->arena == NULL)
		return hearth_cli_fail(
		    HEARTH_CLI_EXIT_SERVER, "out of memory");
	hearth_err err;
	if (hearth_cli_http_global_init(&err) != 0)
		return hearth_cli_fail(HEARTH_CLI_EXIT_SERVER, "%s", err.msg);
	rc = cmd->run(c);
	int frc
	    = cli_flush(c); /* what was done before a failure still shows */
	hearth_cli_http_global_fini();
	return rc != 0 ? rc : frc;
}

int
hearth_cli_main(int argc, char **argv)
{
	if (argc < 2) {
		cli_print_usage(stderr);
		return HEARTH_CLI_EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0
	    || strcmp(argv[1], "-help") == 0 || strcmp(argv[1], "help") == 0) {
		cli_print_usage(stdout);
		return HEARTH_CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0
	    || strcmp(argv[1], "-version") == 0) {
		/* The client's own build: "hearth-cli 0.1.0 (revision …)". */
		hearth_buf line;
		hearth_buf_init(&line);
		int rc = hearth_buildinfo_line(&line, "hearth-cli", NULL);
		if (rc == 0)
			printf("%s\n", line.data);
		hearth_buf_fini(&line);
		return rc == 0 ? HEARTH_CLI_EXIT_OK : HEARTH_CLI_EXIT_INPUT;
	}
	int            next = 0, code;
	const cli_cmd *cmd  = cli_find_cmd(argc, argv, &next, &code);
	if (cmd == NULL)
		return code;
	hearth_cli_ctx c;
	memset(&c, 0, sizeof(c));
	c.cmd      = cmd->cmd;
	c.cmd_name = cmd->name;
	hearth_buf_init(&c.out);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	c.now_ns = (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
	int rc   = cli_run(&c, cmd, argc, argv, next);
	hearth_buf_fini(&c.out);
	hearth_arena_free(c.arena);
	free(c.args);
	return rc;
}
