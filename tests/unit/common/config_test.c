#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int
parse_yaml(hearth_config *c, const char *yaml, hearth_err *err)
{
	return hearth_config_parse_yaml_string(
	    c, yaml, strlen(yaml), NULL, err);
}

static int
parse_args(
    hearth_config *c, int argc, const char **argv, int *help, hearth_err *err)
{
	return hearth_config_parse_args(c, argc, (char **) argv, help, err);
}

/* Write text to a fresh temporary file; returns its path (static). */
static const char *
write_temp(const char *text)
{
	static char path[64];
	snprintf(path, sizeof(path), "/tmp/hearth_config_test_XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(
	    write(fd, text, strlen(text)), (ssize_t) strlen(text));
	close(fd);
	return path;
}

static void
test_config_defaults(void **state)
{
	(void) state;
	hearth_config c;
	hearth_config_defaults(&c);
	assert_string_equal(c.target, "all");
	assert_string_equal(c.server.http_listen_address, "0.0.0.0");
	assert_int_equal(c.server.http_listen_port, 4040);
	assert_int_equal(c.server.http_threads, 8);
	assert_int_equal(c.server.http_connection_timeout_ms, 30000);
	assert_int_equal(c.server.http_max_connections, 1024);
	assert_string_equal(c.server.log_level, "info");
	assert_string_equal(c.storage.path, "./data");
	assert_int_equal(c.rpc.max_message_bytes, 64 * 1024 * 1024);
	assert_int_equal(c.rpc.timeout_ms, 30000);
	assert_int_equal(c.auth.multitenancy_enabled, 0);
	const hearth_limits *l = &c.limits;
	assert_int_equal(l->ingestion_body_limit_mb, 256);
	assert_int_equal(l->max_label_names_per_series, 30);
	assert_int_equal(l->max_label_name_length, 1024);
	assert_int_equal(l->max_label_value_length, 2048);
	assert_int_equal(l->max_profile_size_bytes, 4194304);
	assert_int_equal(l->max_profile_stacktrace_samples, 16000);
	assert_int_equal(l->max_profile_stacktrace_depth, 1000);
	assert_int_equal(l->max_profile_symbol_value_length, 65535);
	assert_int_equal(l->reject_older_than_ms, 3600000);
	assert_int_equal(l->reject_newer_than_ms, 600000);
	assert_int_equal(l->max_query_length_ms, 0);
	assert_int_equal(l->max_query_lookback_ms, 14LL * 86400000);
	assert_int_equal(l->max_flamegraph_nodes_default, 8192);
	assert_int_equal(l->max_flamegraph_nodes_max, 1048576);
	assert_int_equal(l->query_timeout_ms, 60000);

	hearth_limits only;
	hearth_config_limits_defaults(&only);
	assert_memory_equal(&only, &c.limits, sizeof(only));
}

static void
test_config_yaml_sets_every_type(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	hearth_config_defaults(&c);
	assert_int_equal(parse_yaml(&c,
	                     "# comment\n"
	                     "target: distributor,querier\n"
	                     "server:\n"
	                     "  http_listen_address: 127.0.0.1\n"
	                     "  http_listen_port: 9095\n"
	                     "  http_connection_timeout: 1m30s\n"
	                     "  log_level: \"debug\"\n"
	                     "multitenancy_enabled: true\n"
	                     "storage: {path: /var/lib/hearth}\n"
	                     "limits:\n"
	                     "  reject_older_than: 0\n"
	                     "  max_query_lookback: 1.5h\n"
	                     "  max_label_names_per_series: 40\n"
	                     "rpc:\n"
	                     "  timeout: 250ms\n",
	                     &err),
	    0);
	assert_string_equal(c.target, "distributor,querier");
	assert_string_equal(c.server.http_listen_address, "127.0.0.1");
	assert_int_equal(c.server.http_listen_port, 9095);
	assert_int_equal(c.server.http_connection_timeout_ms, 90000);
	assert_string_equal(c.server.log_level, "debug");
	assert_int_equal(c.auth.multitenancy_enabled, 1);
	assert_string_equal(c.storage.path, "/var/lib/hearth");
	assert_int_equal(c.limits.reject_older_than_ms, 0);
	assert_int_equal(c.limits.max_query_lookback_ms, 5400000);
	assert_int_equal(c.limits.max_label_names_per_series, 40);
	assert_int_equal(c.rpc.timeout_ms, 250);
	/* untouched keys keep their defaults */
	assert_int_equal(c.server.http_threads, 8);
	assert_int_equal(c.limits.reject_newer_than_ms, 600000);
}

static void
test_config_yaml_null_keeps_value(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	hearth_config_defaults(&c);
	assert_int_equal(parse_yaml(&c,
	                     "limits:\nserver:\n  http_listen_port:\n"
	                     "  log_level: ~\ntarget: null\n",
	                     &err),
	    0);
	assert_int_equal(c.server.http_listen_port, 4040);
	assert_string_equal(c.server.log_level, "info");
	assert_string_equal(c.target, "all");
	/* empty documents are fine */
	assert_int_equal(parse_yaml(&c, "", &err), 0);
	assert_int_equal(parse_yaml(&c, "---\n# nothing\n", &err), 0);
	/* quoted empty string is a value, not null */
	assert_int_equal(parse_yaml(&c, "storage:\n  path: \"\"\n", &err), 0);
	assert_string_equal(c.storage.path, "");
}

static void
test_config_yaml_unknown_key_names_path_and_line(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	hearth_config_defaults(&c);
	assert_int_equal(parse_yaml(&c,
	                     "server:\n  http_listen_port: 1\n"
	                     "  http_listen_prot: 2\n",
	                     &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 3: unknown key \"server.http_listen_prot\" (did you "
	    "mean \"server.http_listen_port\"?)");
	/* right key, wrong section */
	assert_int_equal(
	    parse_yaml(&c, "\n\nhttp_listen_port: 1\n", &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 3: unknown key \"http_listen_port\" (did you mean "
	    "\"server.http_listen_port\"?)");
	assert_int_equal(parse_yaml(&c, "zzz: 1\n", &err), HEARTH_EINVAL);
	assert_string_equal(err.msg, "config: line 1: unknown key \"zzz\"");
	/* a dotted top-level key is not a path shortcut */
	assert_int_equal(parse_yaml(&c, "server.http_listen_port: 1\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 1: unknown key \"server.http_listen_port\" (did you "
	    "mean \"server.http_listen_port\"?)");
}

static void
test_config_yaml_type_errors_name_key_line_and_type(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	hearth_config_defaults(&c);
	assert_int_equal(
	    parse_yaml(&c, "server:\n  http_listen_port: abc\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 2: server.http_listen_port: expected an integer, "
	    "got \"abc\"");
	assert_int_equal(parse_yaml(&c, "multitenancy_enabled: maybe\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 1: multitenancy_enabled: expected a boolean (true "
	    "or "
	    "false), got \"maybe\"");
	assert_int_equal(
	    parse_yaml(&c, "limits:\n  reject_older_than: 30\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 2: limits.reject_older_than: missing unit in "
	    "duration \"30\" (use ms, s, m, h, d, w or y, e.g. 30s or 1h30m)");
	assert_int_equal(
	    parse_yaml(&c, "server:\n  http_listen_port: 70000\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 2: server.http_listen_port: 70000 is out of range "
	    "[0, 65535]");
	assert_int_equal(parse_yaml(&c, "server:\n  log_level: loud\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 2: server.log_level: expected one of debug, info, "
	    "warn, error, got \"loud\"");
	assert_int_equal(
	    parse_yaml(&c, "server:\n  http_listen_port: [1]\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 2: server.http_listen_port: expected an integer, "
	    "got a list");
	assert_int_equal(parse_yaml(&c, "limits: 5\n", &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 1: limits: expected a mapping (indented key: value "
	    "lines), got a single value");
	assert_int_equal(parse_yaml(&c, "- a\n- b\n", &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 1: the top level must be a mapping of keys such as "
	    "server: and limits:, not a list");
}

static void
test_config_yaml_syntax_and_structure_errors(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	hearth_config_defaults(&c);
	assert_int_equal(
	    parse_yaml(&c, "server:\n  a: [1, 2\n", &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 3, column 1: did not find expected ',' or ']' "
	    "(while parsing a flow sequence, started on line 2)");
	assert_int_equal(parse_yaml(&c,
	                     "server:\n  http_listen_port: 1\n"
	                     "  http_listen_port: 2\n",
	                     &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 3: key \"server.http_listen_port\" is set twice "
	    "(first on line 2)");
	assert_int_equal(
	    parse_yaml(&c, "server: {}\nrpc: {}\nserver: {}\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 3: section \"server\" appears twice (first on line "
	    "1); merge the two");
	assert_int_equal(parse_yaml(&c, "target: all\n---\ntarget: x\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 3: a second YAML document starts here; a config "
	    "file holds one document");
	assert_int_equal(parse_yaml(&c, "storage:\n  path: \"a\\0b\"\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 2: storage.path: expected UTF-8 text without NUL "
	    "bytes");
}

static void
test_config_failed_parse_leaves_config_unchanged(void **state)
{
	(void) state;
	hearth_config c, before;
	hearth_err    err;
	hearth_config_defaults(&c);
	memcpy(&before, &c, sizeof(c));
	assert_int_equal(
	    parse_yaml(&c,
	        "target: querier\nserver:\n  http_listen_port: 1\n"
	        "  bogus: 1\n",
	        &err),
	    HEARTH_EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
	const char *argv[] = { "hearth", "-target=querier", "-nope" };
	int         help;
	assert_int_equal(parse_args(&c, 3, argv, &help, &err), HEARTH_EINVAL);
	assert_memory_equal(&c, &before, sizeof(c));
}

static void
test_config_flag_forms(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	int           help = -1;
	hearth_config_defaults(&c);
	const char *argv[] = { "hearth", "-server.http-listen-port=1234",
		"-target", "ingester", "--storage.path=/d",
		"-auth.multitenancy-enabled", "--limits.reject-older-than",
		"0", "-log.level=warn", "-limits.max-query-length=1d" };
	assert_int_equal(parse_args(&c, 10, argv, &help, &err), 0);
	assert_int_equal(help, 0);
	assert_int_equal(c.server.http_listen_port, 1234);
	assert_string_equal(c.target, "ingester");
	assert_string_equal(c.storage.path, "/d");
	assert_int_equal(c.auth.multitenancy_enabled, 1);
	assert_int_equal(c.limits.reject_older_than_ms, 0);
	assert_string_equal(c.server.log_level, "warn");
	assert_int_equal(c.limits.max_query_length_ms, 86400000);
	const char *argv2[] = { "hearth", "-auth.multitenancy-enabled=false",
		"-target=a", "-target=b" };
	assert_int_equal(parse_args(&c, 4, argv2, &help, &err), 0);
	assert_int_equal(c.auth.multitenancy_enabled, 0);
	assert_string_equal(c.target, "b"); /* last one wins */
}

static void
test_config_flag_errors(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	int           help;
	hearth_config_defaults(&c);
	const char *a1[] = { "hearth", "-server.http-listen-prot=1" };
	assert_int_equal(parse_args(&c, 2, a1, &help, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "unknown flag -server.http-listen-prot; did you mean "
	    "-server.http-listen-port? (hearth -help lists every flag)");
	const char *a2[] = { "hearth", "-completely-different" };
	assert_int_equal(parse_args(&c, 2, a2, &help, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "unknown flag -completely-different (hearth -help lists every "
	    "flag)");
	const char *a3[] = { "hearth", "-server.http-listen-port" };
	assert_int_equal(parse_args(&c, 2, a3, &help, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "flag -server.http-listen-port needs a value, e.g. "
	    "-server.http-listen-port=4040");
	const char *a4[] = { "hearth", "-server.http-threads=lots" };
	assert_int_equal(parse_args(&c, 2, a4, &help, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "flag -server.http-threads: expected an integer, got \"lots\"");
	const char *a5[] = { "hearth", "serve" };
	assert_int_equal(parse_args(&c, 2, a5, &help, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "unexpected argument \"serve\": hearth takes only flags, like "
	    "-name=value (hearth -help lists them)");
	const char *a6[] = { "hearth", "-config.file=/nonexistent/h.yaml" };
	assert_int_equal(parse_args(&c, 2, a6, &help, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config file /nonexistent/h.yaml: cannot open: No such file or "
	    "directory");
}

static void
test_config_help_flag_stops_parsing(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	const char   *forms[] = { "-h", "-help", "--help" };
	for (int i = 0; i < 3; i++) {
		int help = 0;
		hearth_config_defaults(&c);
		const char *argv[] = { "hearth", "-bogus", forms[i] };
		assert_int_equal(parse_args(&c, 3, argv, &help, &err), 0);
		assert_int_equal(help, 1);
	}
	const char *versions[] = { "-version", "--version" };
	for (int i = 0; i < 2; i++) {
		int help = 0;
		hearth_config_defaults(&c);
		const char *argv[] = { "hearth", "-bogus", versions[i] };
		assert_int_equal(parse_args(&c, 3, argv, &help, &err), 0);
		assert_int_equal(help, HEARTH_CONFIG_VERSION);
	}
}

static void
test_config_flags_win_over_yaml(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	int           help;
	const char   *path = write_temp("server:\n  http_listen_port: 7000\n"
	                                  "  http_threads: 3\ntarget: querier\n");
	hearth_config_defaults(&c);
	/* the flag comes before -config.file and still wins */
	const char *argv[] = { "hearth", "-server.http-listen-port=8000",
		"-config.file", path };
	assert_int_equal(parse_args(&c, 4, argv, &help, &err), 0);
	assert_int_equal(c.server.http_listen_port, 8000);
	assert_int_equal(c.server.http_threads, 3);
	assert_string_equal(c.target, "querier");
	unlink(path);

	path = write_temp("server:\n  http_threads: x\n");
	hearth_config_defaults(&c);
	char        arg[128];
	const char *argv2[] = { "hearth", arg };
	snprintf(arg, sizeof(arg), "-config.file=%s", path);
	assert_int_equal(parse_args(&c, 2, argv2, &help, &err), HEARTH_EINVAL);
	char want[256];
	snprintf(want, sizeof(want),
	    "config file %s: line 2: server.http_threads: expected an "
	    "integer, got \"x\"",
	    path);
	assert_string_equal(err.msg, want);
	unlink(path);
}

/* scrape_configs is a list the table cannot hold: the loader accepts it
 * (checking only that it is a list) and records the file for its owner. */
static void
test_config_list_section_accepted_and_file_recorded(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	int           help;
	const char   *path = write_temp("scrape_configs:\n  - job_name: a\n"
	                                  "    static_configs: []\n"
	                                  "server: {http_threads: 5}\n");
	hearth_config_defaults(&c);
	assert_string_equal(c.file, "");
	char        arg[128];
	const char *argv[] = { "hearth", arg };
	snprintf(arg, sizeof(arg), "-config.file=%s", path);
	assert_int_equal(parse_args(&c, 2, argv, &help, &err), 0);
	assert_string_equal(c.file, path);
	assert_int_equal(c.server.http_threads, 5);
	unlink(path);
	hearth_config_defaults(&c);
	assert_int_equal(parse_yaml(&c, "scrape_configs:\n", &err), 0);
	assert_int_equal(
	    parse_yaml(&c, "server: {}\nscrape_configs: {job_name: a}\n", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "config: line 2: scrape_configs: expected a list (lines starting "
	    "with \"- \"), got a mapping");
}

static void
test_config_help_lists_every_flag(void **state)
{
	(void) state;
	static const char *const flags[] = { "config.file", "help", "version", "target",
		"server.http-listen-address", "server.http-listen-port",
		"server.http-threads", "server.http-connection-timeout",
		"server.http-max-connections", "log.level",
		"server.http-read-timeout", "server.http-max-connections-per-ip",
		"server.http-max-header-bytes", "storage.path",
		"storage.wal-sync", "storage.wal-sync-interval",
		"storage.block-cache-bytes", "storage.write-buffer-bytes",
		"ingester.block-duration", "ingester.max-head-bytes",
		"ingester.compaction-interval", "ingester.retention-interval",
		"ingester.delta-max-series", "ingester.delta-idle-timeout",
		"rpc.max-message-bytes", "rpc.timeout",
		"ring.listen-address", "ring.listen-port", "ring.instance-id",
		"ring.instance-addr", "ring.members", "ring.dns",
		"ring.dns-refresh-interval", "ring.etcd-endpoints",
		"ring.etcd-prefix", "ring.etcd-lease-ttl",
		"ring.replication-factor", "ring.shard-size", "ring.tokens",
		"ring.heartbeat-interval", "ring.heartbeat-timeout",
		"scrape.workers",
		"scrape.dump-dir", "scrape.dump-keep",
		"auth.multitenancy-enabled", "auth.tokens-file",
		"runtime-config.file", "runtime-config.reload-period",
		"limits.ingestion-rate-mb", "limits.ingestion-burst-size-mb",
		"limits.ingestion-body-limit-mb",
		"limits.max-label-names-per-series",
		"limits.max-label-name-length",
		"limits.max-label-value-length",
		"limits.max-global-series-per-tenant",
		"limits.max-profile-size-bytes",
		"limits.max-profile-stacktrace-samples",
		"limits.max-profile-stacktrace-depth",
		"limits.max-profile-symbol-value-length",
		"limits.reject-older-than", "limits.reject-newer-than",
		"limits.max-query-length", "limits.max-query-lookback",
		"limits.max-flamegraph-nodes-default",
		"limits.max-flamegraph-nodes-max", "limits.query-timeout",
		"limits.max-concurrent-queries", "limits.retention-period" };
	char                    *text    = NULL;
	size_t                   len     = 0;
	FILE                    *f       = open_memstream(&text, &len);
	hearth_config_help(f);
	fclose(f);
	size_t n = sizeof(flags) / sizeof(flags[0]);
	for (size_t i = 0; i < n; i++) {
		char want[128];
		snprintf(want, sizeof(want), "\n  -%s", flags[i]);
		assert_non_null(strstr(text, want));
	}
	/* nothing else: count the flag lines */
	size_t count = 0;
	for (const char *p = text; (p = strstr(p, "\n  -")) != NULL; p++)
		count++;
	assert_int_equal(count, n);
	assert_non_null(strstr(text,
	    "\n  -server.http-listen-port int\n        HTTP listen port; 0 "
	    "picks a free port. (default 4040)\n"));
	assert_non_null(strstr(text,
	    "\n  -limits.reject-older-than duration\n        Reject profiles "
	    "with timestamps older than now minus this. 0 = accept any age. "
	    "(default 1h)\n"));
	assert_non_null(strstr(text, "\n  -target string\n"));
	assert_non_null(strstr(text, "(default \"all\")\n"));
	free(text);
}

static void
test_config_dump_defaults_exact(void **state)
{
	(void) state;
	hearth_config c;
	hearth_buf    b;
	hearth_config_defaults(&c);
	hearth_buf_init(&b);
	assert_int_equal(hearth_config_dump(&c, &b), 0);
	assert_string_equal(b.data,
	    "target: \"all\"\n"
	    "server:\n"
	    "  http_listen_address: \"0.0.0.0\"\n"
	    "  http_listen_port: 4040\n"
	    "  http_threads: 8\n"
	    "  http_connection_timeout: 30s\n"
	    "  http_max_connections: 1024\n"
	    "  log_level: \"info\"\n"
	    "  http_read_timeout: 30s\n"
	    "  http_max_connections_per_ip: 0\n"
	    "  http_max_header_bytes: 65536\n"
	    "storage:\n"
	    "  path: \"./data\"\n"
	    "  wal_sync: \"always\"\n"
	    "  wal_sync_interval: 100ms\n"
	    "  block_cache_bytes: 67108864\n"
	    "  write_buffer_bytes: 33554432\n"
	    "ingester:\n"
	    "  block_duration: 10m\n"
	    "  max_head_bytes: 536870912\n"
	    "  compaction_interval: 30s\n"
	    "  retention_interval: 1m\n"
	    "  delta_max_series: 100000\n"
	    "  delta_idle_timeout: 1h\n"
	    "rpc:\n"
	    "  max_message_bytes: 67108864\n"
	    "  timeout: 30s\n"
	    "ring:\n"
	    "  listen_address: \"0.0.0.0\"\n"
	    "  listen_port: 9095\n"
	    "  instance_id: \"\"\n"
	    "  instance_addr: \"\"\n"
	    "  members: \"\"\n"
	    "  dns: \"\"\n"
	    "  dns_refresh_interval: 15s\n"
	    "  etcd_endpoints: \"\"\n"
	    "  etcd_prefix: \"/hearth/ingesters/\"\n"
	    "  etcd_lease_ttl: 10s\n"
	    "  replication_factor: 3\n"
	    "  shard_size: 4\n"
	    "  tokens: 128\n"
	    "  heartbeat_interval: 1s\n"
	    "  heartbeat_timeout: 1s\n"
	    "scrape:\n"
	    "  workers: 2\n"
	    "  dump_dir: \"\"\n"
	    "  dump_keep: 16\n"
	    "multitenancy_enabled: false\n"
	    "auth:\n"
	    "  tokens_file: \"\"\n"
	    "runtime_config:\n"
	    "  file: \"\"\n"
	    "  period: 10s\n"
	    "limits:\n"
	    "  ingestion_rate_mb: 4\n"
	    "  ingestion_burst_size_mb: 2\n"
	    "  ingestion_body_limit_mb: 256\n"
	    "  max_label_names_per_series: 30\n"
	    "  max_label_name_length: 1024\n"
	    "  max_label_value_length: 2048\n"
	    "  max_global_series_per_tenant: 5000\n"
	    "  max_profile_size_bytes: 4194304\n"
	    "  max_profile_stacktrace_samples: 16000\n"
	    "  max_profile_stacktrace_depth: 1000\n"
	    "  max_profile_symbol_value_length: 65535\n"
	    "  reject_older_than: 1h\n"
	    "  reject_newer_than: 10m\n"
	    "  max_query_length: 0s\n"
	    "  max_query_lookback: 14d\n"
	    "  max_flamegraph_nodes_default: 8192\n"
	    "  max_flamegraph_nodes_max: 1048576\n"
	    "  query_timeout: 1m\n"
	    "  max_concurrent_queries: 0\n"
	    "  retention_period: 14d\n");
	hearth_buf_fini(&b);
}

static void
test_config_dump_round_trips(void **state)
{
	(void) state;
	hearth_config c, back;
	hearth_err    err;
	hearth_buf    b1, b2;
	int           help;
	hearth_config_defaults(&c);
	/* quotes, backslash, YAML syntax, a tab, 2- and 4-byte UTF-8 */
	const char *path   = "-storage.path=/tmp/a \"quoted\" \\ dir: "
	                     "#x\t\xc3\xa9\xf0\x9f\x94\xa5";
	const char *argv[] = { "hearth", path, "-target=querier",
		"-server.http-connection-timeout=1h1m1s1ms",
		"-auth.multitenancy-enabled", "-limits.max-query-lookback=0",
		"-server.http-listen-address=::1" };
	assert_int_equal(parse_args(&c, 7, argv, &help, &err), 0);
	hearth_buf_init(&b1);
	hearth_buf_init(&b2);
	assert_int_equal(hearth_config_dump(&c, &b1), 0);
	assert_non_null(strstr(b1.data,
	    "  path: \"/tmp/a \\\"quoted\\\" \\\\ dir: #x\\u0009\\u00e9"
	    "\\U0001f525\"\n"));
	assert_non_null(
	    strstr(b1.data, "  http_connection_timeout: 1h1m1s1ms\n"));
	hearth_config_defaults(&back);
	assert_int_equal(hearth_config_parse_yaml_string(
	                     &back, b1.data, b1.len, "dump", &err),
	    0);
	assert_memory_equal(&back, &c, sizeof(c));
	assert_int_equal(hearth_config_dump(&back, &b2), 0);
	assert_string_equal(b1.data, b2.data);
	hearth_buf_fini(&b1);
	hearth_buf_fini(&b2);
}

static void
test_config_duration_parse_and_format(void **state)
{
	(void) state;
	static const struct {
		const char *in;
		int64_t     ms;
		const char *out;
	} ok[] = {
		{ "0", 0, "0s" },
		{ "500ms", 500, "500ms" },
		{ "30s", 30000, "30s" },
		{ "1h30m", 5400000, "1h30m" },
		{ "1.5h", 5400000, "1h30m" },
		{ "90m", 5400000, "1h30m" },
		{ "14d", 1209600000, "14d" },
		{ "2w", 1209600000, "14d" },
		{ "1y", 31536000000, "365d" },
		{ "1d2h3m4s5ms", 93784005, "1d2h3m4s5ms" },
		{ "0s", 0, "0s" },
		{ ".5s", 500, "500ms" },
	};
	char       buf[32];
	hearth_err err;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ms = -1;
		assert_int_equal(hearth_config_duration_parse(
		                     ok[i].in, strlen(ok[i].in), &ms, &err),
		    0);
		assert_int_equal(ms, ok[i].ms);
		assert_string_equal(
		    hearth_config_duration_format(ms, buf, sizeof(buf)),
		    ok[i].out);
	}
	assert_string_equal(
	    hearth_config_duration_format(-61000, buf, sizeof(buf)), "-1m1s");
	static const struct {
		const char *in;
		const char *msg;
	} bad[] = {
		{ "",
		    "expected a duration like 30s, 5m or 1h30m, got nothing" },
		{ "5",
		    "missing unit in duration \"5\" (use ms, s, m, h, d, w "
		    "or y, e.g. 30s or 1h30m)" },
		{ "5x",
		    "unknown unit in duration \"5x\" (use ms, s, m, h, d, "
		    "w or y, e.g. 30s or 1h30m)" },
		{ "-5s", "duration \"-5s\" is negative" },
		{ "h", "expected a number at \"h\" in duration \"h\"" },
		{ "1h ", "expected a number at \" \" in duration \"1h \"" },
		{ "999999999999y", "duration \"999999999999y\" is too large" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms;
		assert_int_equal(hearth_config_duration_parse(
		                     bad[i].in, strlen(bad[i].in), &ms, &err),
		    HEARTH_EINVAL);
		assert_string_equal(err.msg, bad[i].msg);
	}
}

static void
test_config_set_limit_for_tenant_overrides(void **state)
{
	(void) state;
	hearth_limits l;
	hearth_err    err;
	hearth_config_limits_defaults(&l);
	assert_int_equal(
	    hearth_config_set_limit(&l, "reject_older_than", "2h", &err), 0);
	assert_int_equal(l.reject_older_than_ms, 7200000);
	assert_int_equal(hearth_config_set_limit(
	                     &l, "max_label_names_per_series", "12", &err),
	    0);
	assert_int_equal(l.max_label_names_per_series, 12);
	assert_int_equal(hearth_config_set_limit(
	                     &l, "max_label_names_per_series", "-1", &err),
	    HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "max_label_names_per_series: -1 is out of range [0, "
	    "9223372036854775807]");
	assert_int_equal(
	    hearth_config_set_limit(&l, "nope", "1", &err), HEARTH_ENOTFOUND);
	assert_string_equal(err.msg, "unknown limit \"nope\"");
	/* server settings are not per-tenant */
	assert_int_equal(
	    hearth_config_set_limit(&l, "http_threads", "1", &err),
	    HEARTH_ENOTFOUND);
}

static void
test_config_limit_named_finds_the_first_whole_key(void **state)
{
	(void) state;
	assert_string_equal(hearth_config_limit_named(
	                        "pprof: the profile exceeds the samples count limit "
	                        "(max_profile_stacktrace_samples, actual: 9, "
	                        "limit: 8)"),
	    "max_profile_stacktrace_samples");
	assert_string_equal(hearth_config_limit_named(
	                        "tenant \"x\" is over its ingestion rate limit "
	                        "(ingestion_rate_mb: 4 MiB/s, "
	                        "ingestion_burst_size_mb: 2 MiB)"),
	    "ingestion_rate_mb");
	assert_string_equal(hearth_config_limit_named(
	                        "larger than the limit (limits.ingestion_body_"
	                        "limit_mb: 1)"),
	    "ingestion_body_limit_mb");
	/* part of a longer word is not the key */
	assert_null(hearth_config_limit_named("xmax_query_length"));
	assert_null(hearth_config_limit_named("max_query_length_s"));
	assert_null(hearth_config_limit_named("request memory limit reached"));
	assert_null(hearth_config_limit_named(NULL));
}

static void
test_config_storage_and_ingester_settings(void **state)
{
	(void) state;
	hearth_config c;
	hearth_err    err;
	int           help;
	hearth_config_defaults(&c);
	const char *a1[] = { "hearth", "-storage.wal-sync=interval",
		"-storage.wal-sync-interval=250ms",
		"-ingester.max-head-bytes=1048576",
		"-limits.retention-period=0" };
	assert_int_equal(parse_args(&c, 5, a1, &help, &err), 0);
	assert_string_equal(c.storage.wal_sync, "interval");
	assert_int_equal(c.storage.wal_sync_interval_ms, 250);
	assert_int_equal(c.ingester.max_head_bytes, 1048576);
	assert_int_equal(c.limits.retention_period_ms, 0);
	assert_int_equal(c.ingester.block_duration_ms, 600000);
	assert_int_equal(c.ingester.delta_max_series, 100000);
	assert_int_equal(c.ingester.delta_idle_timeout_ms, 3600000);
	const char *a4[] = { "hearth", "-ingester.delta-max-series=0" };
	assert_int_equal(parse_args(&c, 2, a4, &help, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "flag -ingester.delta-max-series: 0 is out of range [1, "
	    "100000000]");
	const char *a2[] = { "hearth", "-storage.wal-sync=never" };
	assert_int_equal(parse_args(&c, 2, a2, &help, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "flag -storage.wal-sync: expected always or interval, got "
	    "\"never\"");
	const char *a3[] = { "hearth", "-ingester.max-head-bytes=1000" };
	assert_int_equal(parse_args(&c, 2, a3, &help, &err), HEARTH_EINVAL);
	assert_string_equal(err.msg,
	    "flag -ingester.max-head-bytes: 1000 is out of range [1048576, "
	    "9223372036854775807]");
	assert_int_equal(parse_yaml(&c,
			     "ingester:\n  block_duration: 2h\n"
			     "limits:\n  retention_period: 30d\n",
			     &err),
	    0);
	assert_int_equal(c.ingester.block_duration_ms, 7200000);
	assert_int_equal(c.limits.retention_period_ms, 30LL * 86400000);
}

/* The distance behind every "did you mean" hint (flags, YAML keys,
 * scrape_configs keys). */
static void
test_config_edit_distance(void **state)
{
	(void) state;
	assert_int_equal(hearth_config_edit_distance("port", 4, "port", 4), 0);
	assert_int_equal(hearth_config_edit_distance("prot", 4, "port", 4), 2);
	assert_int_equal(
	    hearth_config_edit_distance("scheme", 6, "schema", 6), 1);
	assert_int_equal(hearth_config_edit_distance("", 0, "job", 3), 3);
	assert_int_equal(hearth_config_edit_distance("job", 3, "", 0), 3);
	char long_name[130];
	memset(long_name, 'a', sizeof(long_name));
	assert_true(hearth_config_edit_distance(long_name, 129, "a", 1)
	    == SIZE_MAX);
	assert_int_equal(
	    hearth_config_edit_distance(long_name, 128, long_name, 127), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_edit_distance),
		cmocka_unit_test(test_config_defaults),
		cmocka_unit_test(test_config_yaml_sets_every_type),
		cmocka_unit_test(test_config_yaml_null_keeps_value),
		cmocka_unit_test(
		    test_config_yaml_unknown_key_names_path_and_line),
		cmocka_unit_test(
		    test_config_yaml_type_errors_name_key_line_and_type),
		cmocka_unit_test(test_config_yaml_syntax_and_structure_errors),
		cmocka_unit_test(
		    test_config_failed_parse_leaves_config_unchanged),
		cmocka_unit_test(test_config_flag_forms),
		cmocka_unit_test(test_config_flag_errors),
		cmocka_unit_test(test_config_help_flag_stops_parsing),
		cmocka_unit_test(test_config_flags_win_over_yaml),
		cmocka_unit_test(
		    test_config_list_section_accepted_and_file_recorded),
		cmocka_unit_test(test_config_help_lists_every_flag),
		cmocka_unit_test(test_config_dump_defaults_exact),
		cmocka_unit_test(test_config_dump_round_trips),
		cmocka_unit_test(test_config_duration_parse_and_format),
		cmocka_unit_test(test_config_set_limit_for_tenant_overrides),
		cmocka_unit_test(test_config_storage_and_ingester_settings),
		cmocka_unit_test(test_config_limit_named_finds_the_first_whole_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
