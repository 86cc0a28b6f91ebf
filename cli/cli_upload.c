/*
 * cli_upload: the write and status commands of hearth-cli: upload (check
 * each file with cli_input, then POST /ingest), ring, ready and version.
 */
#include "buildinfo.h"
#include "cli_impl.h"
#include "cli_input.h"
#include "cli_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Read a whole file ("-" = stdin) into b; 0 or an errno value. */
static int
upload_read(const char *path, hearth_buf *b)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL)
		return errno;
	char   chunk[65536];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		hearth_buf_append(b, chunk, n);
	int rc = ferror(f) ? (errno ? errno : EIO) : 0;
	if (f != stdin)
		fclose(f);
	if (rc == 0 && hearth_buf_failed(b))
		rc = ENOMEM;
	return rc;
}

/* Upload one file; returns an exit code. */
static int
upload_one(hearth_cli_ctx *c, const char *path, hearth_cli_format forced)
{
	hearth_buf       data;
	hearth_err       err;
	hearth_cli_input in;
	hearth_buf_init(&data);
	int e = upload_read(path, &data);
	if (e != 0) {
		hearth_buf_fini(&data);
		return hearth_cli_fail(HEARTH_CLI_EXIT_INPUT,
		    "cannot read %s: %s", path, strerror(e));
	}
	/* Decoding scratch is per file: many files must not add up. */
	hearth_arena_reset(c->arena);
	if (hearth_cli_input_check(
	        c->arena, data.data, data.len, forced, &in, &err)
	    != 0) {
		hearth_buf_fini(&data);
		return hearth_cli_fail(
		    HEARTH_CLI_EXIT_INPUT, "%s: %s", path, err.msg);
	}
	int text = in.format == HEARTH_CLI_FORMAT_FOLDED
	    || in.format == HEARTH_CLI_FORMAT_LINES
	    || in.format == HEARTH_CLI_FORMAT_SPEEDSCOPE;
	/* The server sniffs gzip only in pprof and JFR bodies. */
	int declare_gzip = in.gzip && in.format != HEARTH_CLI_FORMAT_PPROF
	    && in.format != HEARTH_CLI_FORMAT_JFR;
	hearth_cli_http_param p[]  = {
		 { "name", c->o.name },
		 { "format", hearth_cli_input_name(in.format) },
		 { "from", c->o.from },
		 { "until", c->o.until },
		 { "spyName", c->o.spy_name },
		 { "sampleRate", c->o.sample_rate },
	};
	/* gzip text, trie and tree need the header, which every /ingest
	 * body honours. */
	hearth_cli_http_req req = {
		.method   = "POST",
		.path     = "/ingest",
		.params   = p,
		.n_params = sizeof(p) / sizeof(p[0]),
		.body     = data.data,
		.body_len = data.len,
		.content_type
		= text ? "text/plain" : "application/octet-stream",
		.content_encoding = declare_gzip ? "gzip" : NULL,
	};
	hearth_cli_http_resp resp;
	int                  rc = hearth_cli_call(c, &req, &resp);
	if (rc == 0)
		hearth_buf_printf(&c->out,
		    "%s: uploaded (%s%s, %zu %s%s, %zu samples, "
		    "%zu bytes)\n",
		    path, hearth_cli_input_name(in.format),
		    in.gzip ? ", gzip" : "", in.types,
		    in.format == HEARTH_CLI_FORMAT_JFR	    ? "event kind"
		    : in.format == HEARTH_CLI_FORMAT_SPEEDSCOPE ? "profile"
								: "sample type",
		    in.types == 1 ? "" : "s", in.samples, data.len);
	hearth_buf_fini(&resp.body);
	hearth_buf_fini(&data);
	return rc;
}

int
hearth_cli_cmd_upload(hearth_cli_ctx *c)
{
	hearth_cli_format forced = HEARTH_CLI_FORMAT_AUTO;
	hearth_err        err;
	int64_t           ns, rate = 0;
	if (c->n_args == 0)
		return hearth_cli_usage(c, "upload needs at least one FILE");
	if (c->o.name == NULL || *c->o.name == '\0')
		return hearth_cli_usage(
		    c, "upload needs --name APP (e.g. 'shop.cpu{env=prod}')");
	if (c->o.format != NULL
	    && hearth_cli_input_format(c->o.format, &forced, &err) != 0)
		return hearth_cli_usage(c, "--format: %s", err.msg);
	if ((c->o.from != NULL
	        && hearth_cli_time(c, "from", c->o.from, &ns) != 0)
	    || (c->o.until != NULL
	        && hearth_cli_time(c, "until", c->o.until, &ns) != 0)
	    || hearth_cli_int(
	           c, "sample-rate", c->o.sample_rate, 0, INT32_MAX, &rate)
	        != 0)
		return HEARTH_CLI_EXIT_USAGE;
	/* Every file is tried; the first failure decides the exit code,
	 * except that an unreachable server stops at once. */
	int first = 0;
	for (size_t i = 0; i < c->n_args; i++) {
		int rc = upload_one(c, c->args[i], forced);
		if (rc != 0 && first == 0)
			first = rc;
		if (rc == HEARTH_CLI_EXIT_UNREACHABLE)
			break;
	}
	return first;
}

int
hearth_cli_cmd_ring(hearth_cli_ctx *c)
{
	hearth_cli_http_req  req = { .method = "GET", .path = "/ring",
		 .accept = "application/json" };
	hearth_cli_http_resp resp;
	int                  rc = hearth_cli_call(c, &req, &resp);
	if (rc == 0) {
		hearth_buf_append(&c->out, resp.body.data, resp.body.len);
		if (resp.body.len == 0
		    || resp.body.data[resp.body.len - 1] != '\n')
			hearth_buf_putc(&c->out, '\n');
	} else if (resp.status == 404) {
		hearth_cli_fail(rc,
		    "this server has no ring: it is an ingester without "
		    "etcd membership (ask a distributor or querier)");
	}
	hearth_buf_fini(&resp.body);
	return rc;
}

int
hearth_cli_cmd_ready(hearth_cli_ctx *c)
{
	hearth_cli_http_req  req = { .method = "GET", .path = "/ready" };
	hearth_cli_http_resp resp;
	int                  rc = hearth_cli_call(c, &req, &resp);
	if (rc == 0)
		hearth_buf_puts(&c->out, "ready\n");
	hearth_buf_fini(&resp.body);
	return rc;
}

/* A string member of the buildinfo answer, or "?" when it has none. */
static const char *
cli_buildinfo_field(const hearth_cli_json *data, const char *key)
{
	const hearth_cli_json *v = hearth_cli_json_get(data, key);
	return v != NULL && v->type == HEARTH_CLI_JSON_STRING && v->len > 0
	    ? v->s
	    : "?";
}

int
hearth_cli_cmd_version(hearth_cli_ctx *c)
{
	/* The client's line first: it is worth having when the server is
	 * down, which is when this command is run. */
	if (hearth_buildinfo_line(&c->out, "client: hearth-cli", NULL) != 0)
		return hearth_cli_fail(HEARTH_CLI_EXIT_INPUT, "out of memory");
	hearth_buf_putc(&c->out, '\n');
	hearth_cli_http_req  req = { .method = "GET",
		 .path = "/api/v1/status/buildinfo",
		 .accept = "application/json" };
	hearth_cli_http_resp resp;
	int		     rc = hearth_cli_call(c, &req, &resp);
	if (rc != 0) {
		hearth_buf_fini(&resp.body);
		return rc;
	}
	hearth_cli_json *doc;
	hearth_err	 err;
	const hearth_cli_json *data = NULL;
	if (hearth_cli_json_parse(
	        c->arena, resp.body.data, resp.body.len, &doc, &err)
	        == 0)
		data = hearth_cli_json_get(doc, "data");
	hearth_buf_fini(&resp.body);
	if (data == NULL || data->type != HEARTH_CLI_JSON_OBJECT)
		return hearth_cli_fail(HEARTH_CLI_EXIT_SERVER,
		    "GET /api/v1/status/buildinfo: the answer has no \"data\" "
		    "object");
	/* Pyroscope's server answers the same shape (goVersion: its Go). */
	const hearth_buildinfo server = {
		.version  = cli_buildinfo_field(data, "version"),
		.revision = cli_buildinfo_field(data, "revision"),
		.branch	  = cli_buildinfo_field(data, "branch"),
		.date	  = cli_buildinfo_field(data, "buildDate"),
		.compiler = cli_buildinfo_field(data, "goVersion"),
	};
	hearth_buildinfo_line(&c->out, "server:", &server);
	hearth_buf_putc(&c->out, '\n');
	return 0;
}
