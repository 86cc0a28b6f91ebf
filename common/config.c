#include "config_impl.h"

#include "log.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int
config_check_log_level(const char *v, hearth_err *err)
{
	if (hearth_log_level_parse(v) < 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "expected one of debug, info, warn, error, got \"%s\"", v);
	return 0;
}

static int
config_check_wal_sync(const char *v, hearth_err *err)
{
	if (strcmp(v, "always") != 0 && strcmp(v, "interval") != 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "expected always or interval, got \"%s\"", v);
	return 0;
}

#define OFF(f) offsetof(hearth_config, f)
#define SIZE(f) sizeof(((hearth_config *) 0)->f)
#define STR(f) HEARTH_CFG_STRING, OFF(f), SIZE(f)
#define INT(f) HEARTH_CFG_INT, OFF(f), 0
#define DUR(f) HEARTH_CFG_DURATION, OFF(f), 0
#define BOOL(f) HEARTH_CFG_BOOL, OFF(f), 0
#define ANY INT64_MIN, INT64_MAX
#define NONNEG 0, INT64_MAX
#define LIMIT(y, f, t, m, def, help)                                          \
	{                                                                     \
		"limits." y, "limits." f, t(limits.m), def, help, NONNEG,     \
		    NULL, HEARTH_CFG_TENANT                                   \
	}

/* clang-format off */
const hearth_config_row hearth_config_rows[] = {
{ "target", "target", STR(target), "all",
  "Comma-separated roles to run in this process: all, distributor, "
  "ingester, querier.", ANY, NULL, 0 },
{ "server.http_listen_address", "server.http-listen-address",
  STR(server.http_listen_address), "0.0.0.0",
  "HTTP listen address (IPv4, IPv6 or host name).", ANY, NULL, 0 },
{ "server.http_listen_port", "server.http-listen-port",
  INT(server.http_listen_port), "4040",
  "HTTP listen port; 0 picks a free port.", 0, 65535, NULL, 0 },
{ "server.http_threads", "server.http-threads", INT(server.http_threads), "8",
  "HTTP worker threads. A request waiting on ingesters holds its thread, "
  "so size this for the slow queries you expect at once.", 1, 1024, NULL, 0 },
{ "server.http_connection_timeout", "server.http-connection-timeout",
  DUR(server.http_connection_timeout_ms), "30s",
  "Close HTTP connections idle for this long (whole seconds); shutdown "
  "waits this long for in-flight requests. 0 = never.", NONNEG, NULL, 0 },
{ "server.http_max_connections", "server.http-max-connections",
  INT(server.http_max_connections), "1024",
  "Most HTTP connections open at once; more wait in the listen backlog. "
  "0 = no limit.", 0, 1000000, NULL, 0 },
{ "server.log_level", "log.level", STR(server.log_level), "info",
  "Log level: debug, info, warn or error.", ANY, config_check_log_level, 0 },
{ "server.http_read_timeout", "server.http-read-timeout",
  DUR(server.http_read_timeout_ms), "30s",
  "Longest a client may take to send one request, headers and body, "
  "counted from its connection or its previous response; slower clients "
  "are disconnected. 0 = no limit.", NONNEG, NULL, 0 },
{ "server.http_max_connections_per_ip", "server.http-max-connections-per-ip",
  INT(server.http_max_connections_per_ip), "0",
  "Most HTTP connections open at once from one client address; more are "
  "closed at once. Leave 0 behind a load balancer (every client has its "
  "address). 0 = no limit.", 0, 1000000, NULL, 0 },
{ "server.http_max_header_bytes", "server.http-max-header-bytes",
  INT(server.http_max_header_bytes), "65536",
  "Largest request line plus headers in bytes; larger gets HTTP 431.",
  1024, 16777216, NULL, 0 },
{ "storage.path", "storage.path", STR(storage.path), "./data",
  "Directory for the ingester's WAL and blocks.", ANY, NULL, 0 },
{ "storage.wal_sync", "storage.wal-sync", STR(storage.wal_sync), "always",
  "When a push is made durable: always (fsync before every acknowledgement; "
  "concurrent pushes share one fsync) or interval (fsync every "
  "-storage.wal-sync-interval; a machine crash may lose that much).",
  ANY, config_check_wal_sync, 0 },
{ "storage.wal_sync_interval", "storage.wal-sync-interval",
  DUR(storage.wal_sync_interval_ms), "100ms",
  "How often the WAL is fsynced when -storage.wal-sync=interval.",
  1, 3600000, NULL, 0 },
{ "storage.block_cache_bytes", "storage.block-cache-bytes",
  INT(storage.block_cache_bytes), "67108864",
  "RocksDB block cache in bytes (blocks read by queries).",
  0, INT64_MAX, NULL, 0 },
{ "storage.write_buffer_bytes", "storage.write-buffer-bytes",
  INT(storage.write_buffer_bytes), "33554432",
  "RocksDB memtable size in bytes, per column family.",
  1048576, INT64_MAX, NULL, 0 },
{ "ingester.block_duration", "ingester.block-duration",
  DUR(ingester.block_duration_ms), "10m",
  "Cut the head into a block this often.", 1000, INT64_MAX, NULL, 0 },
{ "ingester.max_head_bytes", "ingester.max-head-bytes",
  INT(ingester.max_head_bytes), "536870912",
  "Memory budget of the head in bytes, heads being flushed included: it "
  "is cut early at 80 %, and pushes past 100 % get HTTP 429.",
  1048576, INT64_MAX, NULL, 0 },
{ "ingester.compaction_interval", "ingester.compaction-interval",
  DUR(ingester.compaction_interval_ms), "30s",
  "How often blocks are checked for compaction.", 1, INT64_MAX, NULL, 0 },
{ "ingester.retention_interval", "ingester.retention-interval",
  DUR(ingester.retention_interval_ms), "1m",
  "How often blocks past -limits.retention-period are deleted.",
  1, INT64_MAX, NULL, 0 },
{ "ingester.delta_max_series", "ingester.delta-max-series",
  INT(ingester.delta_max_series), "100000",
  "Most series whose cumulative allocation profiles (Push, __name__ "
  "memory, alloc_*) the ingester turns into deltas at once; beyond it the "
  "least recently pushed one is forgotten and its next profile only seeds "
  "again (not stored).", 1, 100000000, NULL, 0 },
{ "ingester.delta_idle_timeout", "ingester.delta-idle-timeout",
  DUR(ingester.delta_idle_timeout_ms), "1h",
  "Forget the delta state of a series not pushed for this long; its next "
  "profile only seeds again (not stored).", 1000, INT64_MAX, NULL, 0 },
{ "rpc.max_message_bytes", "rpc.max-message-bytes",
  INT(rpc.max_message_bytes), "67108864",
  "Largest internal RPC message in bytes, either direction.",
  4096, INT32_MAX, NULL, 0 },
{ "rpc.timeout", "rpc.timeout", DUR(rpc.timeout_ms), "30s",
  "Deadline of one internal RPC call.", 1, INT64_MAX, NULL, 0 },
{ "ring.listen_address", "ring.listen-address", STR(ring.listen_address),
  "0.0.0.0",
  "Address the ingester's internal RPC (nng tcp) listens on in split "
  "roles (-target=ingester). -target=all uses inproc:// instead.",
  ANY, NULL, 0 },
{ "ring.listen_port", "ring.listen-port", INT(ring.listen_port), "9095",
  "Port of the ingester's internal RPC in split roles.", 1, 65535, NULL, 0 },
{ "ring.instance_id", "ring.instance-id", STR(ring.instance_id), "",
  "This ingester's member id in the ring (its tokens derive from it). "
  "Empty = the host name.", ANY, NULL, 0 },
{ "ring.instance_addr", "ring.instance-addr", STR(ring.instance_addr), "",
  "host:port other roles dial to reach this ingester (registered in "
  "etcd). Empty = -ring.listen-address:-ring.listen-port, with the host "
  "name for 0.0.0.0.", ANY, NULL, 0 },
{ "ring.members", "ring.members", STR(ring.members), "",
  "Static ring members, id=host:port separated by commas "
  "(ingester-1=10.0.0.5:9095,...).", ANY, NULL, 0 },
{ "ring.dns", "ring.dns", STR(ring.dns), "",
  "Ring members from DNS: dns+NAME:PORT (A/AAAA records; id = IP:PORT) "
  "or dnssrv+NAME (SRV records, e.g. a Kubernetes headless service; id = "
  "the target's first label). Re-resolved every -ring.dns-refresh-interval.",
  ANY, NULL, 0 },
{ "ring.dns_refresh_interval", "ring.dns-refresh-interval",
  DUR(ring.dns_refresh_ms), "15s",
  "How often -ring.dns is resolved again.", 100, INT64_MAX, NULL, 0 },
{ "ring.etcd_endpoints", "ring.etcd-endpoints", STR(ring.etcd_endpoints),
  "",
  "etcd v3 endpoints (http://host:2379, comma separated): ingesters "
  "register under -ring.etcd-prefix with a lease, the other roles watch "
  "it. Empty = no etcd.", ANY, NULL, 0 },
{ "ring.etcd_prefix", "ring.etcd-prefix", STR(ring.etcd_prefix),
  "/hearth/ingesters/", "etcd key prefix of the ring's members.",
  ANY, NULL, 0 },
{ "ring.etcd_lease_ttl", "ring.etcd-lease-ttl",
  DUR(ring.etcd_lease_ttl_ms), "10s",
  "TTL of an ingester's etcd lease: how long a crashed ingester stays in "
  "the ring (kept alive every third of it).", 2000, 3600000, NULL, 0 },
{ "ring.replication_factor", "ring.replication-factor",
  INT(ring.replication_factor), "3",
  "Copies of every series (RF); a write is acknowledged once "
  "min(RF, members)/2+1 ingesters stored it durably.", 1, 16, NULL, 0 },
{ "ring.shard_size", "ring.shard-size", INT(ring.shard_size), "4",
  "Ingesters a (tenant, service) is spread over (service-first "
  "placement); 0 = every ingester.", 0, 1024, NULL, 0 },
{ "ring.tokens", "ring.tokens", INT(ring.tokens), "128",
  "Tokens per ingester on the hash ring; every process of a cluster "
  "must use the same value.", 1, 4096, NULL, 0 },
{ "ring.heartbeat_interval", "ring.heartbeat-interval",
  DUR(ring.heartbeat_interval_ms), "1s",
  "How often distributors and queriers ping every ingester.",
  10, 600000, NULL, 0 },
{ "ring.heartbeat_timeout", "ring.heartbeat-timeout",
  DUR(ring.heartbeat_timeout_ms), "1s",
  "Deadline of one ping; a member that misses it is unhealthy until its "
  "next good ping.", 10, 600000, NULL, 0 },
{ "scrape.workers", "scrape.workers", INT(scrape.workers), "2",
  "Threads that decode scraped profiles and push them to ingesters "
  "(the HTTP side of scrape_configs runs on one more thread).",
  1, 64, NULL, 0 },
{ "scrape.dump_dir", "scrape.dump-dir", STR(scrape.dump_dir), "",
  "Keep the raw body of every scrape as DIR/<job>/<instance>/<profile>/"
  "<unix ms>.pprof, for debugging (docs/scrape.md). Empty = off.",
  ANY, NULL, 0 },
{ "scrape.dump_keep", "scrape.dump-keep", INT(scrape.dump_keep), "16",
  "Raw scrape bodies kept per target and profile in -scrape.dump-dir; "
  "older ones are deleted.", 1, 1000000, NULL, 0 },
{ "multitenancy_enabled", "auth.multitenancy-enabled",
  BOOL(auth.multitenancy_enabled), "false",
  "Require the X-Scope-OrgID header and keep tenants apart; when false "
  "every request is tenant \"anonymous\".", ANY, NULL, 0 },
{ "auth.tokens_file", "auth.tokens-file", STR(auth.tokens_file), "",
  "YAML file of bearer tokens and basic-auth users (hashes only) and the "
  "tenants each may write and read; every data request must then carry "
  "one, and it decides the tenant. Reloaded when it changes. "
  "\"\" = no authentication (docs/security.md).", ANY, NULL, 0 },
{ "runtime_config.file", "runtime-config.file", STR(runtime_config.file),
  "", "YAML file of per-tenant limits (overrides: {tenant: {limit: value}}), "
  "reloaded when it changes. \"\" = the limits below for every tenant.",
  ANY, NULL, 0 },
{ "runtime_config.period", "runtime-config.reload-period",
  DUR(runtime_config.period_ms), "10s",
  "How often the overrides file and the tokens file are checked for "
  "changes.", 10, 86400000, NULL, 0 },
LIMIT("ingestion_rate_mb", "ingestion-rate-mb", INT, ingestion_rate_mb,
  "4", "Per-tenant ingestion rate in MiB/s of uncompressed profiles; "
  "more gets HTTP 429 with Retry-After. 0 = no limit."),
LIMIT("ingestion_burst_size_mb", "ingestion-burst-size-mb", INT,
  ingestion_burst_size_mb, "2",
  "Per-tenant burst in MiB over the ingestion rate; a single request "
  "larger than this is always refused (429)."),
LIMIT("ingestion_body_limit_mb", "ingestion-body-limit-mb", INT,
  ingestion_body_limit_mb, "256",
  "Largest ingest request body in MiB; larger gets HTTP 413. 0 = no limit."),
LIMIT("max_label_names_per_series", "max-label-names-per-series", INT,
  max_label_names_per_series, "30",
  "Most labels on one series. 0 = no limit."),
LIMIT("max_label_name_length", "max-label-name-length", INT,
  max_label_name_length, "1024",
  "Longest label name in bytes. 0 = no limit."),
LIMIT("max_label_value_length", "max-label-value-length", INT,
  max_label_value_length, "2048",
  "Longest label value in bytes. 0 = no limit."),
LIMIT("max_global_series_per_tenant", "max-global-series-per-tenant",
  INT, max_global_series_per_tenant, "5000",
  "Most series a tenant may have in the ingester's head; pushes that "
  "would add more get HTTP 429 until the head is cut. 0 = no limit."),
LIMIT("max_profile_size_bytes", "max-profile-size-bytes", INT,
  max_profile_size_bytes, "4194304",
  "Largest uncompressed profile in bytes; larger is rejected. 0 = no limit."),
LIMIT("max_profile_stacktrace_samples", "max-profile-stacktrace-samples", INT,
  max_profile_stacktrace_samples, "16000",
  "Most samples in one profile; more is rejected. 0 = no limit."),
LIMIT("max_profile_stacktrace_depth", "max-profile-stacktrace-depth", INT,
  max_profile_stacktrace_depth, "1000",
  "Deepest stack kept; deeper stacks lose frames at the leaf end. "
  "0 = no limit."),
LIMIT("max_profile_symbol_value_length", "max-profile-symbol-value-length",
  INT, max_profile_symbol_value_length, "65535",
  "Longest symbol in bytes; longer ones keep their last bytes. "
  "0 = no limit."),
LIMIT("reject_older_than", "reject-older-than", DUR, reject_older_than_ms,
  "1h", "Reject profiles with timestamps older than now minus this. "
  "0 = accept any age."),
LIMIT("reject_newer_than", "reject-newer-than", DUR, reject_newer_than_ms,
  "10m", "Reject profiles with timestamps later than now plus this. "
  "0 = accept any."),
LIMIT("max_query_length", "max-query-length", DUR, max_query_length_ms,
  "0", "Longest time range of one query. 0 = no limit."),
LIMIT("max_query_lookback", "max-query-lookback", DUR,
  max_query_lookback_ms, "14d",
  "How far back queries may look; older parts of a range are cut off. "
  "0 = no limit."),
LIMIT("max_flamegraph_nodes_default", "max-flamegraph-nodes-default", INT,
  max_flamegraph_nodes_default, "8192",
  "Flame graph nodes returned when a query does not set max_nodes."),
LIMIT("max_flamegraph_nodes_max", "max-flamegraph-nodes-max", INT,
  max_flamegraph_nodes_max, "1048576",
  "Largest max_nodes a query may ask for. 0 = no limit."),
LIMIT("query_timeout", "query-timeout", DUR, query_timeout_ms, "1m",
  "Deadline of one query, fan-out included. 0 = none."),
LIMIT("max_concurrent_queries", "max-concurrent-queries", INT,
  max_concurrent_queries, "0",
  "Most queries of one tenant running at once; more get HTTP 429. "
  "0 = no limit."),
LIMIT("retention_period", "retention-period", DUR, retention_period_ms,
  "14d", "Delete stored profiles older than this (whole blocks). "
  "0 = keep forever."),
};
/* clang-format on */

_Static_assert(sizeof(hearth_config_rows) / sizeof(hearth_config_rows[0])
        == HEARTH_CONFIG_N_ROWS,
    "HEARTH_CONFIG_N_ROWS in config_impl.h must match the table");

static const char *const config_type_names[]
    = { "string", "int", "bool", "duration" };

/* ---- values -------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left) and its code
 * point, or 0 when invalid. */
static size_t
config_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t   len;
	uint32_t c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, c &= 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)))
	    || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	*cp = c;
	return len;
}

static int
config_parse_int(const char *v, size_t len, int64_t *out)
{
	size_t   i   = 0;
	int      neg = 0;
	uint64_t acc = 0;
	if (len > 0 && (v[0] == '-' || v[0] == '+'))
		neg = v[i++] == '-';
	if (i == len)
		return -1;
	for (; i < len; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		if (acc > (UINT64_MAX - 9) / 10)
			return -1;
		acc = acc * 10 + (uint64_t) (v[i] - '0');
	}
	if (acc > (uint64_t) INT64_MAX + (uint64_t) neg)
		return -1;
	*out = neg ? (int64_t) (0 - acc) : (int64_t) acc;
	return 0;
}

static int
config_parse_bool(const char *v, size_t len, int *out)
{
	static const char *const t[] = { "true", "1", "yes", "on" };
	static const char *const f[] = { "false", "0", "no", "off" };
	for (size_t i = 0; i < 4; i++) {
		if (strlen(t[i]) == len && strncasecmp(v, t[i], len) == 0) {
			*out = 1;
			return 0;
		}
		if (strlen(f[i]) == len && strncasecmp(v, f[i], len) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Parse v[0..len) for row r and store it at base + r->off. Errors say
 * what was expected; callers prefix where (file and line, or flag). */
int
hearth_config_set_value(void *base, const hearth_config_row *r, const char *v,
    size_t len, hearth_err *err)
{
	char   *field = (char *) base + r->off;
	int     shown = len > 64 ? 64 : (int) len;
	int64_t n;
	int     b;
	switch (r->type) {
	case HEARTH_CFG_STRING: {
		uint32_t cp;
		for (size_t i = 0; i < len;) {
			size_t l = config_utf8_decode(
			    (const unsigned char *) v + i, len - i, &cp);
			if (l == 0 || cp == 0)
				return hearth_err_set(err, HEARTH_EINVAL,
				    "expected UTF-8 text without NUL bytes");
			i += l;
		}
		if (len >= r->size)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "value is %zu bytes, the limit is %zu", len,
			    r->size - 1);
		char tmp[4096]; /* >= the largest string field */
		HEARTH_ASSERT(r->size <= sizeof(tmp));
		memcpy(tmp, v, len);
		tmp[len] = '\0';
		if (r->check != NULL && r->check(tmp, err) != 0)
			return err != NULL ? err->code : HEARTH_EINVAL;
		memset(field, 0, r->size);
		memcpy(field, v, len);
		return 0;
	}
	case HEARTH_CFG_BOOL:
		if (config_parse_bool(v, len, &b) != 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "expected a boolean (true or false), got \"%.*s\"",
			    shown, v);
		*(int *) field = b;
		return 0;
	case HEARTH_CFG_INT:
		if (config_parse_int(v, len, &n) != 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "expected an integer, got \"%.*s\"", shown, v);
		break;
	default: {
		hearth_err derr;
		if (hearth_config_duration_parse(v, len, &n, &derr) != 0)
			return hearth_err_set(
			    err, HEARTH_EINVAL, "%s", derr.msg);
		break;
	}
	}
	if (n < r->min || n > r->max) {
		char lo[32], hi[32];
		if (r->type == HEARTH_CFG_DURATION)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%.*s is out of range [%s, %s]", shown, v,
			    hearth_config_duration_format(r->min, lo, 32),
			    hearth_config_duration_format(r->max, hi, 32));
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]",
		    n, r->min, r->max);
	}
	memcpy(field, &n, sizeof(n));
	return 0;
}

static void
config_apply_defaults(void *base, unsigned only_flags, size_t base_off)
{
	for (size_t i = 0; i < HEARTH_CONFIG_N_ROWS; i++) {
		const hearth_config_row *r = &hearth_config_rows[i];
		if ((r->flags & only_flags) != only_flags)
			continue;
		hearth_config_row shifted = *r;
		shifted.off -= base_off;
		int rc = hearth_config_set_value(
		    base, &shifted, r->def, strlen(r->def), NULL);
		HEARTH_ASSERT(rc == 0); /* a default that does not parse */
	}
}

void
hearth_config_defaults(hearth_config *c)
{
	memset(c, 0, sizeof(*c));
	config_apply_defaults(c, 0, 0);
}

void
hearth_config_limits_defaults(hearth_limits *l)
{
	memset(l, 0, sizeof(*l));
	config_apply_defaults(
	    l, HEARTH_CFG_TENANT, offsetof(hearth_config, limits));
}

int
hearth_config_set_limit(
    hearth_limits *l, const char *key, const char *value, hearth_err *err)
{
	for (size_t i = 0; i < HEARTH_CONFIG_N_ROWS; i++) {
		const hearth_config_row *r = &hearth_config_rows[i];
		if (!(r->flags & HEARTH_CFG_TENANT)
		    || strcmp(r->yaml + strlen("limits."), key) != 0)
			continue;
		hearth_config_row shifted = *r;
		shifted.off -= offsetof(hearth_config, limits);
		if (hearth_config_set_value(
		        l, &shifted, value, strlen(value), err))
			return hearth_err_prefix(err, "%s", key);
		return 0;
	}
	return hearth_err_set(
	    err, HEARTH_ENOTFOUND, "unknown limit \"%s\"", key);
}

static int
config_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

const char *
hearth_config_limit_named(const char *text)
{
	const char *best = NULL, *best_at = NULL;
	for (size_t i = 0; text != NULL && i < HEARTH_CONFIG_N_ROWS; i++) {
		const hearth_config_row *r = &hearth_config_rows[i];
		if (!(r->flags & HEARTH_CFG_TENANT))
			continue;
		const char *key = r->yaml + strlen("limits.");
		size_t      kl  = strlen(key);
		for (const char *p = text; (p = strstr(p, key)) != NULL; p++) {
			if ((p > text && config_word_char(p[-1]))
			    || config_word_char(p[kl]))
				continue;
			if (best_at == NULL || p < best_at) {
				best    = key;
				best_at = p;
			}
			break;
		}
	}
	return best;
}

/* ---- durations ----------------------------------------------------- */

static const struct {
	const char *name;
	int64_t     ms;
} config_units[] = {
	{ "ms", 1 },
	{ "s", 1000 },
	{ "m", 60000 },
	{ "h", 3600000 },
	{ "d", 86400000 },
	{ "w", 604800000 },
	{ "y", 31536000000 },
};

int
hearth_config_duration_parse(
    const char *s, size_t len, int64_t *ms, hearth_err *err)
{
	int     shown = len > 64 ? 64 : (int) len;
	int64_t total = 0;
	size_t  i     = 0;
	if (len == 1 && s[0] == '0') {
		*ms = 0;
		return 0;
	}
	if (len == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "expected a duration like 30s, 5m or 1h30m, got nothing");
	if (s[0] == '-')
		return hearth_err_set(err, HEARTH_EINVAL,
		    "duration \"%.*s\" is negative", shown, s);
	while (i < len) {
		int64_t whole = 0, frac = 0, scale = 1;
		size_t  start = i;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			if (whole > (INT64_MAX - 9) / 10)
				goto too_large;
			whole = whole * 10 + (s[i] - '0');
		}
		if (i < len && s[i] == '.') {
			for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
				if (scale
				    < 1000000) { /* 6 digits are plenty */
					frac = frac * 10 + (s[i] - '0');
					scale *= 10;
				}
			}
		}
		if (i == start || (i == start + 1 && s[start] == '.'))
			return hearth_err_set(err, HEARTH_EINVAL,
			    "expected a number at \"%.*s\" in duration "
			    "\"%.*s\"",
			    (int) (len - i > 16 ? 16 : len - i), s + i, shown,
			    s);
		size_t u = i;
		while (i < len && s[i] >= 'a' && s[i] <= 'z')
			i++;
		int64_t unit = 0;
		for (size_t k = 0; k < 7; k++)
			if (strlen(config_units[k].name) == i - u
			    && memcmp(s + u, config_units[k].name, i - u) == 0)
				unit = config_units[k].ms;
		if (unit == 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s unit in duration \"%.*s\" (use ms, s, m, h, "
			    "d, w or y, e.g. 30s or 1h30m)",
			    i == u ? "missing" : "unknown", shown, s);
		int64_t v;
		if (__builtin_mul_overflow(whole, unit, &v)
		    || __builtin_add_overflow(v, frac * unit / scale, &v)
		    || __builtin_add_overflow(total, v, &total))
			goto too_large;
	}
	*ms = total;
	return 0;
too_large:
	return hearth_err_set(
	    err, HEARTH_EINVAL, "duration \"%.*s\" is too large", shown, s);
}

const char *
hearth_config_duration_format(int64_t ms, char *out, size_t outsz)
{
	size_t   o = 0;
	uint64_t v = ms < 0 ? 0 - (uint64_t) ms : (uint64_t) ms;
	if (outsz == 0)
		return out;
	out[0] = '\0';
	if (ms == 0) {
		snprintf(out, outsz, "0s");
		return out;
	}
	if (ms < 0)
		o += (size_t) snprintf(out, outsz, "-");
	/* d h m s ms, largest first: weeks and years read worse ("2w"
	 * for 14d) and are accepted on input only. */
	for (int k = 4; k >= 0 && o < outsz; k--) {
		uint64_t unit = (uint64_t) config_units[k].ms;
		uint64_t q    = v / unit;
		if (q == 0)
			continue;
		v -= q * unit;
		o += (size_t) snprintf(out + o, outsz - o, "%" PRIu64 "%s", q,
		    config_units[k].name);
	}
	return out;
}

/* ---- lookup --------------------------------------------------------- */

const hearth_config_row *
hearth_config_find_yaml(const char *path, size_t len)
{
	for (size_t i = 0; i < HEARTH_CONFIG_N_ROWS; i++)
		if (strlen(hearth_config_rows[i].yaml) == len
		    && memcmp(hearth_config_rows[i].yaml, path, len) == 0)
			return &hearth_config_rows[i];
	return NULL;
}

static const hearth_config_row *
config_find_flag(const char *name, size_t len)
{
	for (size_t i = 0; i < HEARTH_CONFIG_N_ROWS; i++)
		if (strlen(hearth_config_rows[i].flag) == len
		    && memcmp(hearth_config_rows[i].flag, name, len) == 0)
			return &hearth_config_rows[i];
	return NULL;
}

size_t
hearth_config_edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
	size_t row[129];
	if (na > 128 || nb > 128)
		return SIZE_MAX;
	for (size_t j = 0; j <= nb; j++)
		row[j] = j;
	for (size_t i = 1; i <= na; i++) {
		size_t diag = row[0];
		row[0]      = i;
		for (size_t j = 1; j <= nb; j++) {
			size_t up   = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag   = up;
		}
	}
	return row[nb];
}

static const char *
config_leaf(const char *s, size_t *len)
{
	const char *dot = memchr(s, '.', *len);
	if (dot == NULL)
		return s;
	*len -= (size_t) (dot + 1 - s);
	return dot + 1;
}

/* The row name (yaml path or flag) closest to name, or NULL when none is
 * close: within 3 edits of the whole name, or the same last component
 * (right key, wrong section). */
const char *
hearth_config_suggest(const char *name, size_t len, int use_flag)
{
	const char *best      = NULL;
	size_t      best_dist = 4;
	for (size_t i = 0; i < HEARTH_CONFIG_N_ROWS; i++) {
		const char *cand = use_flag ? hearth_config_rows[i].flag
		                            : hearth_config_rows[i].yaml;
		size_t      d = hearth_config_edit_distance(name, len, cand, strlen(cand));
		size_t      la = len, lb = strlen(cand);
		const char *na = config_leaf(name, &la);
		const char *nb = config_leaf(cand, &lb);
		size_t      dl = hearth_config_edit_distance(na, la, nb, lb);
		if (dl == 0)
			d = 1;
		if (d < best_dist) {
			best_dist = d;
			best      = cand;
		}
	}
	return best;
}

/* ---- flags --------------------------------------------------------- */

/* Split argv[i] into a flag name and optional "=value". Returns 0 for a
 * flag, -1 for something that is not one (a positional argument). */
static int
config_split_flag(
    const char *arg, const char **name, size_t *len, const char **value)
{
	if (arg[0] != '-' || arg[1] == '\0')
		return -1;
	arg += arg[1] == '-' ? 2 : 1;
	const char *eq = strchr(arg, '=');
	*name          = arg;
	*len           = eq != NULL ? (size_t) (eq - arg) : strlen(arg);
	*value         = eq != NULL ? eq + 1 : NULL;
	return 0;
}

static int
config_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(name, want, len) == 0;
}

static int
config_unknown_flag(const char *name, size_t len, hearth_err *err)
{
	const char *hint  = hearth_config_suggest(name, len, 1);
	int         shown = len > 128 ? 128 : (int) len;
	if (hint != NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "unknown flag -%.*s; did you mean -%s? (hearth -help "
		    "lists every flag)",
		    shown, name, hint);
	return hearth_err_set(err, HEARTH_EINVAL,
	    "unknown flag -%.*s (hearth -help lists every flag)", shown, name);
}

/* Pass 1 of hearth_config_parse_args: -help, -version and -config.file. */
static int
config_scan_args(
    int argc, char **argv, const char **file, int *help, hearth_err *err)
{
	const char *name, *value;
	size_t      len;
	*help = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (config_split_flag(argv[i], &name, &len, &value) != 0)
			continue;
		if (config_is(name, len, "h")
		    || config_is(name, len, "help")) {
			*help = HEARTH_CONFIG_HELP;
			return 0;
		}
		if (config_is(name, len, "version")) {
			*help = HEARTH_CONFIG_VERSION;
			return 0;
		}
		if (!config_is(name, len, "config.file"))
			continue;
		if (value == NULL && i + 1 >= argc)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "flag -config.file needs a file name, e.g. "
			    "-config.file=hearth.yaml");
		*file = value != NULL ? value : argv[++i];
	}
	return 0;
}

int
hearth_config_parse_args(hearth_config *c, int argc, char **argv,
    int *help_requested, hearth_err *err)
{
	const char   *name, *value, *file = NULL;
	size_t        len;
	int           rc;
	hearth_config tmp;
	/* Pass 1: help and the config file, which flags then override. */
	if ((rc = config_scan_args(argc, argv, &file, help_requested, err))
	        != 0
	    || *help_requested)
		return rc;
	memcpy(&tmp, c, sizeof(tmp));
	if (file != NULL
	    && (rc = hearth_config_load_file(&tmp, file, err)) != 0)
		return rc;
	if (file != NULL
	    && snprintf(tmp.file, sizeof(tmp.file), "%s", file)
	        >= (int) sizeof(tmp.file))
		return hearth_err_set(err, HEARTH_EINVAL,
		    "-config.file: path longer than %zu bytes",
		    sizeof(tmp.file) - 1);
	/* Pass 2: every other flag, in order (a repeated flag: last wins). */
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			if (i + 1 < argc)
				return hearth_err_set(err, HEARTH_EINVAL,
				    "unexpected argument \"%.128s\": hearth "
				    "takes only flags",
				    argv[i + 1]);
			break;
		}
		if (config_split_flag(argv[i], &name, &len, &value) != 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "unexpected argument \"%.128s\": hearth takes "
			    "only "
			    "flags, like -name=value (hearth -help lists "
			    "them)",
			    argv[i]);
		if (config_is(name, len, "config.file")) {
			i += value == NULL;
			continue;
		}
		const hearth_config_row *r = config_find_flag(name, len);
		if (r == NULL)
			return config_unknown_flag(name, len, err);
		if (value == NULL && r->type == HEARTH_CFG_BOOL)
			value = "true";
		if (value == NULL) {
			if (i + 1 >= argc)
				return hearth_err_set(err, HEARTH_EINVAL,
				    "flag -%s needs a value, e.g. -%s=%s",
				    r->flag, r->flag, r->def);
			value = argv[++i];
		}
		if (hearth_config_set_value(&tmp, r, value, strlen(value), err)
		    != 0)
			return hearth_err_prefix(err, "flag -%s", r->flag);
	}
	memcpy(c, &tmp, sizeof(*c));
	return 0;
}

/* ---- help and dump ------------------------------------------------- */

void
hearth_config_help(FILE *out)
{
	fprintf(out,
	    "Usage: hearth [flags]\n\n"
	    "Settings come from the defaults, then the YAML file given with "
	    "-config.file,\nthen flags. Durations take the units ms, s, m, "
	    "h, d, w, y (30s, 1h30m, 14d).\n\n"
	    "  -config.file string\n"
	    "        YAML configuration file; its keys are the ones /config "
	    "shows.\n"
	    "  -help\n"
	    "        Print this help and exit.\n"
	    "  -version\n"
	    "        Print the version, source revision and compiler, and "
	    "exit.\n");
	for (size_t i = 0; i < HEARTH_CONFIG_N_ROWS; i++) {
		const hearth_config_row *r = &hearth_config_rows[i];
		if (r->flags & HEARTH_CFG_HIDDEN)
			continue;
		fprintf(out, "  -%s %s\n        %s (default %s%s%s)\n",
		    r->flag, config_type_names[r->type], r->help,
		    r->type == HEARTH_CFG_STRING ? "\"" : "", r->def,
		    r->type == HEARTH_CFG_STRING ? "\"" : "");
	}
}

/* A YAML double-quoted scalar. Everything outside printable ASCII is
 * escaped (\uXXXX, \UXXXXXXXX), so the output reads back byte for byte
 * whatever the string holds (strings are valid UTF-8, see set_value). */
static void
config_put_yaml_string(hearth_buf *out, const char *s)
{
	hearth_buf_putc(out, '"');
	for (size_t i = 0, n = strlen(s); i < n;) {
		unsigned char ch = (unsigned char) s[i];
		uint32_t      cp;
		size_t        l = config_utf8_decode(
		           (const unsigned char *) s + i, n - i, &cp);
		if (l == 0) { /* cannot happen for validated strings */
			cp = 0xfffd;
			l  = 1;
		}
		if (ch == '"' || ch == '\\') {
			hearth_buf_putc(out, '\\');
			hearth_buf_putc(out, (char) ch);
		} else if (cp >= 0x20 && cp < 0x7f) {
			hearth_buf_putc(out, (char) ch);
		} else if (cp <= 0xffff) {
			hearth_buf_printf(out, "\\u%04x", (unsigned) cp);
		} else {
			hearth_buf_printf(out, "\\U%08x", (unsigned) cp);
		}
		i += l;
	}
	hearth_buf_putc(out, '"');
}

static void
config_put_value(
    hearth_buf *out, const hearth_config *c, const hearth_config_row *r)
{
	const char *field = (const char *) c + r->off;
	int64_t     v;
	char        tmp[32];
	switch (r->type) {
	case HEARTH_CFG_STRING:
		config_put_yaml_string(out, field);
		break;
	case HEARTH_CFG_BOOL:
		hearth_buf_puts(out, *(const int *) field ? "true" : "false");
		break;
	case HEARTH_CFG_INT:
		memcpy(&v, field, sizeof(v));
		hearth_buf_put_i64(out, v);
		break;
	default:
		memcpy(&v, field, sizeof(v));
		hearth_buf_puts(
		    out, hearth_config_duration_format(v, tmp, sizeof(tmp)));
		break;
	}
}

int
hearth_config_dump(const hearth_config *c, hearth_buf *out)
{
	/* Rows of one section are written together under one heading, in
	 * table order, wherever the section's rows sit in the table. */
	for (size_t i = 0; i < HEARTH_CONFIG_N_ROWS; i++) {
		const char *ri  = hearth_config_rows[i].yaml;
		const char *dot = strchr(ri, '.');
		if (dot == NULL) {
			hearth_buf_printf(out, "%s: ", ri);
			config_put_value(out, c, &hearth_config_rows[i]);
			hearth_buf_putc(out, '\n');
			continue;
		}
		size_t slen = (size_t) (dot - ri) + 1; /* with the dot */
		int    done = 0;
		for (size_t k = 0; k < i && !done; k++)
			done = strncmp(hearth_config_rows[k].yaml, ri, slen)
			    == 0;
		if (done)
			continue;
		hearth_buf_printf(out, "%.*s:\n", (int) slen - 1, ri);
		for (size_t k = i; k < HEARTH_CONFIG_N_ROWS; k++) {
			const hearth_config_row *r = &hearth_config_rows[k];
			if (strncmp(r->yaml, ri, slen) != 0)
				continue;
			hearth_buf_printf(out, "  %s: ", r->yaml + slen);
			config_put_value(out, c, r);
			hearth_buf_putc(out, '\n');
		}
	}
	return hearth_buf_failed(out) ? HEARTH_ENOMEM : 0;
}
