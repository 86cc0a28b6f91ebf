/*
 * cli_cmd: the read commands of hearth-cli (query, export, diff): build
 * the request from the flags, check the answer, hand it to cli_report or
 * cli_pprof. See cli.h for the exit codes.
 */
#include "cli_fmt.h"
#include "cli_impl.h"
#include "cli_json.h"
#include "cli_pprof.h"
#include "cli_report.h"
#include "cli_tree.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define CMD_DEFAULT_FROM "now-1h"
#define CMD_DEFAULT_UNTIL "now"
#define CMD_TOP_LIMIT 20
#define CMD_DIFF_LIMIT 10
#define CMD_MIN_PERCENT 1.0
#define CMD_SPARK_WIDTH 60
/* Parameters of one render request: query, range, maxNodes, groupBy. */
#define CMD_MAX_PARAMS (8 + HEARTH_CLI_MAX_GROUP_BY)

static int
cmd_json_output(hearth_cli_ctx *c, int *json)
{
	const char *o = c->o.output;
	*json         = o != NULL && strcmp(o, "json") == 0;
	if (o == NULL || *json || strcmp(o, "text") == 0)
		return 0;
	return hearth_cli_usage(c, "--output: \"%s\" is not text or json", o);
}

/* Check a time range given as flags; defaults apply to NULL values. */
static int
cmd_range(hearth_cli_ctx *c, const char *from_flag, const char **from,
    const char *until_flag, const char **until, int64_t *from_ns,
    int64_t *until_ns)
{
	if (*from == NULL)
		*from = CMD_DEFAULT_FROM;
	if (*until == NULL)
		*until = CMD_DEFAULT_UNTIL;
	if (hearth_cli_time(c, from_flag, *from, from_ns) != 0
	    || hearth_cli_time(c, until_flag, *until, until_ns) != 0)
		return HEARTH_CLI_EXIT_USAGE;
	if (*from_ns > *until_ns)
		return hearth_cli_usage(c, "--%s (%s) is after --%s (%s)",
		    from_flag, *from, until_flag, *until);
	return 0;
}

static int
cmd_need(hearth_cli_ctx *c, const char *v, const char *what)
{
	if (v == NULL || *v == '\0')
		return hearth_cli_usage(c, "'%s' needs %s", c->cmd_name, what);
	return 0;
}

/* --max-nodes as a request parameter (NULL: not sent). */
static int
cmd_max_nodes(hearth_cli_ctx *c, const char **out)
{
	int64_t v = 0;
	*out      = c->o.max_nodes;
	return hearth_cli_int(
	    c, "max-nodes", c->o.max_nodes, 0, INT32_MAX, &v);
}

static int
cmd_report_opts(hearth_cli_ctx *c, const char *query, size_t limit,
    hearth_cli_report_opts *ro)
{
	hearth_cli_ptype pt;
	hearth_cli_fmt_ptype(query, &pt);
	memset(ro, 0, sizeof(*ro));
	ro->unit        = hearth_cli_fmt_unit(pt.sample_unit);
	ro->min_percent = CMD_MIN_PERCENT;
	ro->normalize   = c->o.normalize;
	int64_t lim = (int64_t) limit, depth = 0;
	if (hearth_cli_int(c, "limit", c->o.limit, 0, INT32_MAX, &lim) != 0
	    || hearth_cli_int(c, "depth", c->o.depth, 0, INT32_MAX, &depth)
	        != 0
	    || hearth_cli_double(c, "min-percent", c->o.min_percent, 0, 100,
	           &ro->min_percent)
	        != 0)
		return HEARTH_CLI_EXIT_USAGE;
	ro->limit     = (size_t) lim;
	ro->max_depth = (size_t) depth;
	if (c->o.sort != NULL && strcmp(c->o.sort, "total") == 0)
		ro->by_total = 1;
	else if (c->o.sort != NULL && strcmp(c->o.sort, "self") != 0)
		return hearth_cli_usage(
		    c, "--sort: \"%s\" is not self or total", c->o.sort);
	return 0;
}

/* GET path; on success *answer is the parsed JSON body. */
static int
cmd_get_json(hearth_cli_ctx *c, const char *path,
    const hearth_cli_http_param *p, size_t n, hearth_cli_http_resp *resp,
    hearth_cli_json **answer)
{
	hearth_cli_http_req req
	    = { .method = "GET", .path = path, .params = p, .n_params = n };
	int rc = hearth_cli_call(c, &req, resp);
	if (rc != 0)
		return rc;
	hearth_err err;
	if (hearth_cli_json_parse(
	        c->arena, resp->body.data, resp->body.len, answer, &err)
	    != 0)
		return hearth_cli_fail(HEARTH_CLI_EXIT_SERVER,
		    "GET %s: the answer is not JSON: %s", path, err.msg);
	return 0;
}

/* The "flamebearer" of a render answer as a tree. */
static int
cmd_tree(hearth_cli_ctx *c, const hearth_cli_json *answer, int diff,
    hearth_cli_tree **t)
{
	hearth_err             err;
	const hearth_cli_json *fb = hearth_cli_json_get(answer, "flamebearer");
	if (hearth_cli_tree_decode(c->arena, fb, diff, t, &err) != 0)
		return hearth_cli_fail(HEARTH_CLI_EXIT_SERVER,
		    "unexpected answer from the server: %s", err.msg);
	return 0;
}

/* The body as it came, ending in a newline (for --output json). */
static void
cmd_put_body(hearth_cli_ctx *c, const hearth_buf *body)
{
	hearth_buf_append(&c->out, body->data, body->len);
	if (body->len == 0 || body->data[body->len - 1] != '\n')
		hearth_buf_putc(&c->out, '\n');
}

static int
cmd_report_fail(int rc, const hearth_err *err)
{
	return rc == 0
	    ? 0
	    : hearth_cli_fail(HEARTH_CLI_EXIT_SERVER, "%s", err->msg);
}

static int
cmd_series(hearth_cli_ctx *c, const hearth_cli_json *answer, int json,
    hearth_cli_unit unit)
{
	hearth_err             err;
	int64_t                width  = CMD_SPARK_WIDTH;
	const hearth_cli_json *groups = hearth_cli_json_get(answer, "groups");
	size_t                 n      = 1
	    + (groups != NULL && groups->type == HEARTH_CLI_JSON_OBJECT
	            ? groups->n
	            : 0);
	if (hearth_cli_int(c, "width", c->o.width, 1, 10000, &width) != 0)
		return HEARTH_CLI_EXIT_USAGE;
	hearth_cli_series *s = hearth_arena_calloc(c->arena, n, sizeof(*s));
	if (s == NULL)
		return hearth_cli_fail(
		    HEARTH_CLI_EXIT_SERVER, "out of memory");
	if (hearth_cli_report_timeline(
	        c->arena, hearth_cli_json_get(answer, "timeline"), &s[0], &err)
	    != 0)
		return hearth_cli_fail(HEARTH_CLI_EXIT_SERVER,
		    "unexpected answer from the server: %s", err.msg);
	s[0].name     = "total";
	s[0].name_len = 5;
	for (size_t k = 1; k < n; k++) {
		if (hearth_cli_report_timeline(
		        c->arena, &groups->items[k - 1], &s[k], &err)
		    != 0)
			return hearth_cli_fail(HEARTH_CLI_EXIT_SERVER,
			    "unexpected answer from the server: group %zu: %s",
			    k - 1, err.msg);
		s[k].name     = groups->keys[k - 1];
		s[k].name_len = groups->key_lens[k - 1];
	}
	if (json) {
		hearth_cli_report_series_json(s, n, &c->out);
		return 0;
	}
	return cmd_report_fail(hearth_cli_report_series(
	                           s, n, unit, (size_t) width, &c->out, &err),
	    &err);
}

static int
cmd_labels(hearth_cli_ctx *c, int json)
{
	int64_t               from_ns, until_ns;
	hearth_cli_http_param p[4];
	size_t                n = 0;
	if (c->o.from != NULL || c->o.until != NULL) {
		if (cmd_range(c, "from", &c->o.from, "until", &c->o.until,
		        &from_ns, &until_ns)
		    != 0)
			return HEARTH_CLI_EXIT_USAGE;
		p[n++] = (hearth_cli_http_param) { "from", c->o.from };
		p[n++] = (hearth_cli_http_param) { "until", c->o.until };
	}
	if (c->o.query != NULL)
		p[n++] = (hearth_cli_http_param) { "query", c->o.query };
	if (c->o.label != NULL)
		p[n++] = (hearth_cli_http_param) { "label", c->o.label };
	const char *path = c->o.label != NULL ? "/pyroscope/label-values"
	                                      : "/pyroscope/label-names";
	hearth_cli_http_resp resp;
	hearth_cli_json     *answer = NULL;
	int                  rc = cmd_get_json(c, path, p, n, &resp, &answer);
	if (rc == 0 && json)
		cmd_put_body(c, &resp.body);
	else if (rc == 0 && answer->type != HEARTH_CLI_JSON_ARRAY)
		rc = hearth_cli_fail(HEARTH_CLI_EXIT_SERVER,
		    "GET %s: expected a JSON array of strings", path);
	for (size_t i = 0; rc == 0 && !json && i < answer->n; i++) {
		const hearth_cli_json *v = &answer->items[i];
		if (v->type != HEARTH_CLI_JSON_STRING) {
			rc = hearth_cli_fail(HEARTH_CLI_EXIT_SERVER,
			    "GET %s: item %zu is not a string", path, i);
			break;
		}
		hearth_buf_append(&c->out, v->s, v->len);
		hearth_buf_putc(&c->out, '\n');
	}
	hearth_buf_fini(&resp.body);
	return rc;
}

/* Parameters of a render request from the common flags. */
static int
cmd_render_params(hearth_cli_ctx *c, hearth_cli_http_param *p, size_t *n,
    int64_t *from_ns, int64_t *until_ns)
{
	const char *max_nodes;
	if (cmd_need(c, c->o.query, "--query 'TYPE{selector}'") != 0
	    || cmd_range(c, "from", &c->o.from, "until", &c->o.until, from_ns,
	           until_ns)
	        != 0
	    || cmd_max_nodes(c, &max_nodes) != 0)
		return HEARTH_CLI_EXIT_USAGE;
	*n        = 0;
	p[(*n)++] = (hearth_cli_http_param) { "query", c->o.query };
	p[(*n)++] = (hearth_cli_http_param) { "from", c->o.from };
	p[(*n)++] = (hearth_cli_http_param) { "until", c->o.until };
	/* A series needs only the timeline: one node keeps the answer
	 * small. */
	if (c->cmd == HEARTH_CLI_CMD_SERIES)
		max_nodes = "1";
	p[(*n)++] = (hearth_cli_http_param) { "maxNodes", max_nodes };
	for (size_t i = 0; i < c->o.n_group_by; i++)
		p[(*n)++]
		    = (hearth_cli_http_param) { "groupBy", c->o.group_by[i] };
	return 0;
}

/* flamegraph (text) and top (text or JSON) from a render answer. */
static int
cmd_tree_report(hearth_cli_ctx *c, const hearth_cli_json *answer, int json,
    const hearth_cli_report_opts *ro)
{
	hearth_cli_tree *t = NULL;
	hearth_err       err;
	int              rc;
	if (cmd_tree(c, answer, 0, &t) != 0)
		return HEARTH_CLI_EXIT_SERVER;
	if (c->cmd == HEARTH_CLI_CMD_FLAME)
		rc = hearth_cli_report_tree(c->arena, t, ro, &c->out, &err);
	else if (json)
		rc = hearth_cli_report_top_json(
		    c->arena, t, ro, &c->out, &err);
	else
		rc = hearth_cli_report_top(c->arena, t, ro, &c->out, &err);
	return cmd_report_fail(rc, &err);
}

int
hearth_cli_cmd_query(hearth_cli_ctx *c)
{
	int json;
	if (cmd_json_output(c, &json) != 0)
		return HEARTH_CLI_EXIT_USAGE;
	if (c->cmd == HEARTH_CLI_CMD_LABELS)
		return cmd_labels(c, json);
	hearth_cli_http_param  p[CMD_MAX_PARAMS];
	size_t                 n;
	int64_t                from_ns, until_ns;
	hearth_cli_report_opts ro;
	if (cmd_render_params(c, p, &n, &from_ns, &until_ns) != 0
	    || cmd_report_opts(c, c->o.query, CMD_TOP_LIMIT, &ro) != 0)
		return HEARTH_CLI_EXIT_USAGE;
	hearth_cli_http_resp resp;
	hearth_cli_json     *answer = NULL;
	int rc = cmd_get_json(c, "/pyroscope/render", p, n, &resp, &answer);
	if (rc != 0) {
		hearth_buf_fini(&resp.body);
		return rc;
	}
	if (c->cmd == HEARTH_CLI_CMD_SERIES)
		rc = cmd_series(c, answer, json, ro.unit);
	else if (c->cmd == HEARTH_CLI_CMD_FLAME && json)
		cmd_put_body(c, &resp.body);
	else
		rc = cmd_tree_report(c, answer, json, &ro);
	hearth_buf_fini(&resp.body);
	return rc;
}

static int
cmd_write_file(hearth_cli_ctx *c, const char *path, const hearth_buf *data,
    const char *what)
{
	if (strcmp(path, "-") == 0) {
		hearth_buf_append(&c->out, data->data, data->len);
		return 0;
	}
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return hearth_cli_fail(HEARTH_CLI_EXIT_INPUT,
		    "cannot write %s: %s", path, strerror(errno));
	size_t w  = data->len > 0 ? fwrite(data->data, 1, data->len, f) : 0;
	int    ok = w == data->len;
	if (fclose(f) != 0)
		ok = 0;
	if (!ok)
		return hearth_cli_fail(HEARTH_CLI_EXIT_INPUT,
		    "cannot write %s: %s", path, strerror(errno));
	hearth_buf_printf(
	    &c->out, "wrote %s (%s, %zu bytes)\n", path, what, data->len);
	return 0;
}

int
hearth_cli_cmd_export(hearth_cli_ctx *c)
{
	const char *fmt  = c->o.format;
	const char *path = c->o.out_file != NULL ? c->o.out_file : "-";
	if (cmd_need(c, fmt, "--format pprof|folded|json") != 0)
		return HEARTH_CLI_EXIT_USAGE;
	if (strcmp(fmt, "pprof") != 0 && strcmp(fmt, "folded") != 0
	    && strcmp(fmt, "json") != 0)
		return hearth_cli_usage(
		    c, "--format: \"%s\" is not pprof, folded or json", fmt);
	if (strcmp(fmt, "pprof") == 0 && strcmp(path, "-") == 0
	    && isatty(STDOUT_FILENO))
		return hearth_cli_usage(c,
		    "a pprof is binary: give -o FILE "
		    "or redirect stdout");
	hearth_cli_http_param p[CMD_MAX_PARAMS];
	size_t                n;
	int64_t               from_ns, until_ns;
	if (cmd_render_params(c, p, &n, &from_ns, &until_ns) != 0)
		return HEARTH_CLI_EXIT_USAGE;
	hearth_cli_http_resp resp;
	hearth_cli_json     *answer = NULL;
	hearth_cli_tree     *t      = NULL;
	hearth_buf           data;
	hearth_err           err;
	hearth_buf_init(&data);
	int rc = cmd_get_json(c, "/pyroscope/render", p, n, &resp, &answer);
	if (rc == 0 && strcmp(fmt, "json") == 0) {
		hearth_buf_append(&data, resp.body.data, resp.body.len);
	} else if (rc == 0 && (rc = cmd_tree(c, answer, 0, &t)) == 0) {
		hearth_cli_ptype pt;
		hearth_cli_fmt_ptype(c->o.query, &pt);
		hearth_cli_pprof_meta m
		    = { &pt, from_ns, until_ns - from_ns, 1 };
		rc = cmd_report_fail(strcmp(fmt, "folded") == 0
		        ? hearth_cli_tree_folded(c->arena, t, &data, &err)
		        : hearth_cli_pprof_encode(
		            c->arena, t, &m, &data, &err),
		    &err);
	}
	if (rc == 0 && hearth_buf_failed(&data))
		rc = hearth_cli_fail(HEARTH_CLI_EXIT_SERVER, "out of memory");
	if (rc == 0)
		rc = cmd_write_file(c, path, &data, fmt);
	hearth_buf_fini(&data);
	hearth_buf_fini(&resp.body);
	return rc;
}

int
hearth_cli_cmd_diff(hearth_cli_ctx *c)
{
	hearth_cli_opts       *o  = &c->o;
	const char            *lq = o->left_query ? o->left_query : o->query;
	const char            *rq = o->right_query ? o->right_query : o->query;
	const char            *lf = o->left_from ? o->left_from : o->from;
	const char            *lu = o->left_until ? o->left_until : o->until;
	const char            *rf = o->right_from ? o->right_from : o->from;
	const char            *ru = o->right_until ? o->right_until : o->until;
	const char            *max_nodes;
	int64_t                t0, t1;
	int                    json;
	hearth_cli_report_opts ro;
	if (cmd_need(c, lq, "--left-query (or --query)") != 0
	    || cmd_need(c, rq, "--right-query (or --query)") != 0
	    || cmd_json_output(c, &json) != 0
	    || cmd_range(c, "left-from", &lf, "left-until", &lu, &t0, &t1) != 0
	    || cmd_range(c, "right-from", &rf, "right-until", &ru, &t0, &t1)
	        != 0
	    || cmd_max_nodes(c, &max_nodes) != 0
	    || cmd_report_opts(c, lq, CMD_DIFF_LIMIT, &ro) != 0)
		return HEARTH_CLI_EXIT_USAGE;
	hearth_cli_http_param p[] = {
		{ "leftQuery", lq },
		{ "leftFrom", lf },
		{ "leftUntil", lu },
		{ "rightQuery", rq },
		{ "rightFrom", rf },
		{ "rightUntil", ru },
		{ "maxNodes", max_nodes },
	};
	hearth_cli_http_resp resp;
	hearth_cli_json     *answer = NULL;
	hearth_cli_tree     *t      = NULL;
	hearth_err           err;
	int                  rc = cmd_get_json(c, "/pyroscope/render-diff", p,
	                     sizeof(p) / sizeof(p[0]), &resp, &answer);
	if (rc == 0 && (rc = cmd_tree(c, answer, 1, &t)) == 0)
		rc = cmd_report_fail(json ? hearth_cli_report_diff_json(
		                         c->arena, t, &ro, &c->out, &err)
		                          : hearth_cli_report_diff(
		                              c->arena, t, &ro, &c->out, &err),
		    &err);
	hearth_buf_fini(&resp.body);
	return rc;
}
