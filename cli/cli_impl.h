/*
 * cli_impl: what cli.c (flags, dispatch, HTTP error handling) shares with
 * the command files cli_cmd.c and cli_upload.c. Private to cli/.
 *
 * A run owns one hearth_cli_ctx: the parsed flags (strings borrowed from
 * argv or the environment), the connection, an arena for everything
 * request-sized, and the stdout buffer written once at the end (so an
 * error never leaves half a table on the screen).
 */
#ifndef HEARTH_CLI_IMPL_H
#define HEARTH_CLI_IMPL_H

#include "arena.h"
#include "buf.h"
#include "cli.h"
#include "cli_http.h"

#include <stddef.h>
#include <stdint.h>

/* Commands as bits, so a flag row can list the commands it belongs to. */
enum {
	HEARTH_CLI_CMD_UPLOAD = 1 << 0,
	HEARTH_CLI_CMD_FLAME  = 1 << 1,
	HEARTH_CLI_CMD_TOP    = 1 << 2,
	HEARTH_CLI_CMD_SERIES = 1 << 3,
	HEARTH_CLI_CMD_LABELS = 1 << 4,
	HEARTH_CLI_CMD_EXPORT = 1 << 5,
	HEARTH_CLI_CMD_DIFF   = 1 << 6,
	HEARTH_CLI_CMD_RING   = 1 << 7,
	HEARTH_CLI_CMD_READY  = 1 << 8,
	HEARTH_CLI_CMD_VERSION = 1 << 9
};

#define HEARTH_CLI_MAX_GROUP_BY 16

/* Flag values as given (NULL = not given); commands parse and check the
 * ones they use. */
typedef struct hearth_cli_opts {
	const char *url, *tenant, *token, *timeout;
	const char *query, *from, *until, *max_nodes, *label, *output;
	const char *group_by[HEARTH_CLI_MAX_GROUP_BY];
	size_t      n_group_by;
	const char *limit, *sort, *depth, *min_percent, *width;
	const char *name, *format, *spy_name, *sample_rate;
	const char *out_file;
	const char *left_query, *right_query, *left_from, *left_until;
	const char *right_from, *right_until;
	int         normalize;
	int         help;
} hearth_cli_opts;

typedef struct hearth_cli_ctx {
	int                  cmd;      /* one HEARTH_CLI_CMD_* bit */
	const char          *cmd_name; /* "query top", for messages */
	hearth_cli_opts      o;
	char               **args; /* positional arguments */
	size_t               n_args;
	hearth_cli_http_conn conn;
	hearth_arena        *arena;
	hearth_buf           out; /* stdout, written by hearth_cli_main */
	int64_t              now_ns;
} hearth_cli_ctx;

/* Print "hearth-cli: <msg>" and "(see hearth-cli <cmd> -h)" to stderr;
 * returns HEARTH_CLI_EXIT_USAGE. */
int hearth_cli_usage(hearth_cli_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Print "hearth-cli: <msg>" to stderr and return code. */
int hearth_cli_fail(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parse a flag value; on error print a usage message and return
 * HEARTH_CLI_EXIT_USAGE. s NULL leaves *out unchanged and returns 0. */
int hearth_cli_int(hearth_cli_ctx *c, const char *flag, const char *s,
    int64_t min, int64_t max, int64_t *out);
int hearth_cli_double(hearth_cli_ctx *c, const char *flag, const char *s,
    double min, double max, double *out);
/* A time flag (attime.h forms: Unix s/ms/us/ns, YYYYMMDD, now-1h). */
int hearth_cli_time(
    hearth_cli_ctx *c, const char *flag, const char *s, int64_t *out_ns);

/* Send req. 0 when the server answered 2xx (resp holds the body);
 * otherwise the reason is printed and the exit code returned (2 server
 * error, 3 unreachable or 404). resp->body must be finalised either way. */
int hearth_cli_call(hearth_cli_ctx *c, const hearth_cli_http_req *req,
    hearth_cli_http_resp *resp);

/* The commands; each returns an exit code. */
int hearth_cli_cmd_upload(hearth_cli_ctx *c);
int hearth_cli_cmd_query(hearth_cli_ctx *c); /* flamegraph top series labels */
int hearth_cli_cmd_export(hearth_cli_ctx *c);
int hearth_cli_cmd_diff(hearth_cli_ctx *c);
int hearth_cli_cmd_ring(hearth_cli_ctx *c);
int hearth_cli_cmd_ready(hearth_cli_ctx *c);
int hearth_cli_cmd_version(hearth_cli_ctx *c);

#endif
