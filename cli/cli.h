/*
 * cli: hearth-cli, the command-line client of a hearth (or Pyroscope)
 * server. cmd/hearth-cli/main.c only calls hearth_cli_main.
 *
 *   hearth-cli upload FILE... --name 'app.cpu{k=v}'   POST /ingest
 *   hearth-cli query flamegraph|top|series|labels     GET /pyroscope/render,
 *                                                     label-names/-values
 *   hearth-cli export --format pprof|folded|json -o F GET /pyroscope/render
 *   hearth-cli diff --left-query Q --right-query Q    GET
 * /pyroscope/render-diff hearth-cli ring                                   GET
 * /ring hearth-cli ready                                  GET /ready
 *
 * Every command takes --url (default $HEARTH_URL, else
 * http://localhost:4040), --tenant (X-Scope-OrgID), --token (Bearer;
 * default $HEARTH_TOKEN), --timeout and -h. Flags are `--name value` or
 * `--name=value` (one dash works too); `--` ends them.
 *
 * Exit codes (HEARTH_CLI_EXIT_*), so scripts can tell failures apart:
 *   0 ok; 1 usage error (bad flag or value: nothing was sent);
 *   2 the server answered with an error (its message is printed);
 *   3 the server cannot be reached, or answered 404 (no such endpoint or
 *     thing); 4 a bad input file (missing, unreadable, not a profile) or
 *     an output file that cannot be written.
 * Results go to stdout; errors go to stderr as "hearth-cli: <reason>".
 *
 * Layout of the module: cli.c parses flags and dispatches, cli_cmd.c runs
 * the commands; the pieces they use are separate modules with their own
 * tests: cli_http (libcurl), cli_json (answers), cli_tree (flame graphs),
 * cli_report (text and JSON output), cli_fmt (units, tables), cli_pprof
 * (export), cli_input (upload sniffing and validation).
 *
 * Threading: single-threaded; one call per process (libcurl's global init
 * happens inside).
 */
#ifndef HEARTH_CLI_H
#define HEARTH_CLI_H

enum {
	HEARTH_CLI_EXIT_OK          = 0,
	HEARTH_CLI_EXIT_USAGE       = 1,
	HEARTH_CLI_EXIT_SERVER      = 2,
	HEARTH_CLI_EXIT_UNREACHABLE = 3,
	HEARTH_CLI_EXIT_INPUT       = 4
};

/* Run hearth-cli with main()'s arguments; returns the exit code. */
int hearth_cli_main(int argc, char **argv);

#endif
