/*
 * config: hearth's configuration, one table-driven struct (STYLE rule 11).
 *
 * Every setting is one row of a static table in config.c: YAML path
 * ("server.http_listen_port"), flag ("server.http-listen-port"), type,
 * offset into hearth_config, default text, help, range and flags. Defaults
 * exist only in that table; defaults, YAML loading, flags, -help, the
 * /config dump and limits defaults all walk it, so they cannot disagree.
 *
 * Sources, later wins:  table defaults → YAML file (-config.file) → flags.
 *
 * Types: string (copied into a fixed char array; too long is an error),
 * int (int64, decimal, checked against the row's range), bool (true/false,
 * also 1/0, yes/no, on/off; a bare flag -x means true), duration (stored
 * as int64 milliseconds; Go/Prometheus syntax: "0", "500ms", "30s",
 * "1h30m", "1.5h", "14d", "2w", "1y"; units ms s m h d w y).
 *
 * YAML: one document whose top level is a mapping; sections (server,
 * storage, ingester, rpc, limits) are mappings of scalar values. Unknown
 * keys, duplicate keys and type mismatches are errors that name the key
 * path and the 1-based line. A plain null (`key:`, `~`, `null`) keeps the
 * current value. Merge keys (<<) are not supported (libyaml does not
 * resolve them). Top-level lists the table cannot hold (`scrape_configs:`)
 * are only checked to be lists here; their owner reads them from `file`
 * through config_tree.h.
 *
 * Ownership and threading: hearth_config is a plain value with no pointers;
 * parse it once at start-up on one thread, then share it read-only.
 */
#ifndef HEARTH_CONFIG_H
#define HEARTH_CONFIG_H

#include "buf.h"
#include "err.h"
#include "limits.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct hearth_config {
	char target[256]; /* comma list of roles, "all" = every role */
	/* -config.file as given ("" = none); not a row. Set by
	 * hearth_config_parse_args so that list-valued sections
	 * (scrape_configs) can be read from the same file. */
	char file[4096];
	struct {
		char    http_listen_address[256];
		int64_t http_listen_port;
		int64_t http_threads;
		int64_t http_connection_timeout_ms;
		int64_t http_max_connections;
		char    log_level[16];
		int64_t http_read_timeout_ms;
		int64_t http_max_connections_per_ip;
		int64_t http_max_header_bytes;
	} server;
	struct {
		char    path[4096];
		char    wal_sync[16]; /* "always" or "interval" */
		int64_t wal_sync_interval_ms;
		int64_t block_cache_bytes;
		int64_t write_buffer_bytes;
	} storage;
	struct {
		int64_t block_duration_ms;
		int64_t max_head_bytes;
		int64_t compaction_interval_ms;
		int64_t retention_interval_ms;
		int64_t delta_max_series;
		int64_t delta_idle_timeout_ms;
	} ingester;
	struct {
		int64_t max_message_bytes;
		int64_t timeout_ms;
	} rpc;
	struct {
		/* The ingester's RPC endpoint in split roles: listens here,
		 * and advertises instance_addr (default: listen address, or
		 * the host name when it listens on 0.0.0.0). */
		char    listen_address[256];
		int64_t listen_port;
		char    instance_id[256];   /* "" = host name */
		char    instance_addr[256]; /* host[:port] others dial */
		char    members[4096];      /* static "id=host:port,..." */
		char    dns[512];           /* dns+NAME:PORT / dnssrv+NAME */
		int64_t dns_refresh_ms;
		char    etcd_endpoints[1024];
		char    etcd_prefix[256];
		int64_t etcd_lease_ttl_ms;
		int64_t replication_factor;
		int64_t shard_size;
		int64_t tokens;
		int64_t heartbeat_interval_ms;
		int64_t heartbeat_timeout_ms;
	} ring;
	struct {
		int64_t workers;
		char    dump_dir[4096]; /* "" = off */
		int64_t dump_keep;
	} scrape;
	struct {
		int  multitenancy_enabled;
		char tokens_file[4096]; /* "" = no built-in authentication */
	} auth;
	struct {
		char    file[4096]; /* per-tenant overrides, "" = none */
		int64_t period_ms;  /* how often file and tokens_file are checked */
	} runtime_config;
	hearth_limits limits;
} hearth_config;

/* Fill c with the table defaults (every byte of c is set). */
void hearth_config_defaults(hearth_config *c);

/* Fill l with the defaults of the limits: rows only. */
void hearth_config_limits_defaults(hearth_limits *l);

/* Parse the command line on top of what c holds (normally defaults):
 * first -config.file=F / -config.file F (one or two dashes) is loaded,
 * then every other flag is applied in order: -x=v, -x v, --x=v, and a bare
 * -x for bools. -h, -help, --help set *help_requested to
 * HEARTH_CONFIG_HELP, -version and --version to HEARTH_CONFIG_VERSION, and
 * return 0 at once (nothing else is checked); else it is 0. argv[0] is the
 * program name. Errors
 * (-HEARTH_EINVAL) name the flag or the file, key and line; an unknown flag
 * gets a "did you mean" hint. On error c may be partly updated. */
#define HEARTH_CONFIG_HELP    1
#define HEARTH_CONFIG_VERSION 2
int hearth_config_parse_args(hearth_config *c, int argc, char **argv,
    int *help_requested, hearth_err *err);

/* Apply a YAML document held in memory (s[0..len), need not be
 * NUL-terminated) on top of c. source names it in errors ("config file
 * hearth.yaml"); NULL means "config". */
int hearth_config_parse_yaml_string(hearth_config *c, const char *s,
    size_t len, const char *source, hearth_err *err);

/* Read and apply a YAML file (at most 16 MiB). */
int hearth_config_load_file(
    hearth_config *c, const char *path, hearth_err *err);

/* Set one limit by its YAML key inside `limits:` (e.g. "reject_older_than")
 * from text, with the same parsing and range checks as the config file.
 * For per-tenant overrides. -HEARTH_ENOTFOUND for an unknown key. */
int hearth_config_set_limit(
    hearth_limits *l, const char *key, const char *value, hearth_err *err);

/* The YAML key (inside `limits:`) of the per-tenant limit that text
 * names first, as a whole word (error messages name the limit they
 * enforce, e.g. "... (max_profile_stacktrace_samples, actual: 9, limit:
 * 8)"), or NULL when it names none. The string is static. For counting
 * limit breaches per limit. */
const char *hearth_config_limit_named(const char *text);

/* Levenshtein distance of a[0..na) and b[0..nb), for "did you mean" hints
 * on unknown keys and flags; SIZE_MAX when either is over 128 bytes. */
size_t hearth_config_edit_distance(
    const char *a, size_t na, const char *b, size_t nb);

/* Print usage and every flag (type, default, help) to out. */
void hearth_config_help(FILE *out);

/* Append the effective configuration as YAML that
 * hearth_config_parse_yaml_string reads back to the same values. Returns
 * 0 or HEARTH_ENOMEM. */
int hearth_config_dump(const hearth_config *c, hearth_buf *out);

/* Parse a duration (syntax above) into milliseconds; fractions of a
 * millisecond are dropped. -HEARTH_EINVAL with a message saying what is
 * wrong. */
int hearth_config_duration_parse(
    const char *s, size_t len, int64_t *ms, hearth_err *err);

/* Format milliseconds as the shortest duration text from the units
 * d h m s ms ("0s", "500ms", "1h30m", "14d"); negative values get a '-'.
 * Returns out. outsz >= 32 always fits. */
const char *hearth_config_duration_format(int64_t ms, char *out, size_t outsz);

#endif
