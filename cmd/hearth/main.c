/*
 * hearth: one binary, three roles (DESIGN §1). This file only wires the
 * roles together: the table below is the one place that knows them all.
 * `-target=all` (the default) runs every row in one process, with the
 * distributor and querier talking to the ingester over nng inproc://, the
 * same RPC the cluster uses over tcp://. `-target=ingester`,
 * `distributor`, `querier` (or a comma list) run some rows; routing roles
 * find the ingesters through the ring (cluster.h).
 */
#include "admit.h"
#include "auth.h"
#include "buf.h"
#include "buildinfo.h"
#include "cluster.h"
#include "config.h"
#include "distributor.h"
#include "err.h"
#include "http.h"
#include "ingester.h"
#include "log.h"
#include "metrics.h"
#include "overrides.h"
#include "querier.h"
#include "rpc.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Everything the process owns; main() is its only owner. */
typedef struct hearth_app {
	hearth_config	    cfg;
	hearth_log	    log;
	hearth_metrics	   *metrics;
	hearth_http_server *http;
	unsigned	    roles; /* APP_ROLE_* bits of -target */
	char		    ingester_url[300]; /* what the ingester listens on */
	char		    self_id[256];      /* its ring member id */
	char		    self_url[300];     /* how others reach it */
	hearth_ingester	   *ingester;
	hearth_cluster	   *cluster; /* ring view of distributor/querier */
	hearth_distributor *distributor;
	hearth_querier	   *querier;
	hearth_scrape_config *scrape; /* scrape_configs of -config.file */
	hearth_overrides     *overrides; /* per-tenant limits, reloaded */
	hearth_auth	     *auth;	 /* NULL without -auth.tokens-file */
	hearth_admit	     *admit;	 /* rate buckets, query slots */
	/* Started servers by URL, so the distributor's and querier's pushes
	 * and pings to this process's ingester skip nng (rpc.h). */
	hearth_rpc_local     *rpc_local;
	atomic_int	    ready;
} hearth_app;

static int
app_ingester_new(hearth_app *app, hearth_err *err)
{
	const hearth_config *c	 = &app->cfg;
	hearth_ingester_cfg  cfg = {
		 .rpc_url	= app->ingester_url,
		 .member_id	= app->self_id,
		 .max_msg_bytes = (size_t) c->rpc.max_message_bytes,
		 .workers	= 4,
		 .limits	= &c->limits,
		 .delta_max_series = (size_t) c->ingester.delta_max_series,
		 .delta_idle_ms = c->ingester.delta_idle_timeout_ms,
		 .store = {
		     .path = c->storage.path,
		     .wal_sync = strcmp(c->storage.wal_sync, "interval") == 0
			 ? HEARTH_WAL_SYNC_INTERVAL
			 : HEARTH_WAL_SYNC_ALWAYS,
		     .wal_sync_interval_ms = c->storage.wal_sync_interval_ms,
		     .block_cache_bytes = (size_t) c->storage.block_cache_bytes,
		     .write_buffer_bytes = (size_t) c->storage.write_buffer_bytes,
		     .block_duration_ms = c->ingester.block_duration_ms,
		     .max_head_bytes = (size_t) c->ingester.max_head_bytes,
		     .compaction_interval_ms = c->ingester.compaction_interval_ms,
		     .retention_interval_ms = c->ingester.retention_interval_ms,
		 },
	};
	hearth_ingester_deps deps = { .log = &app->log, .metrics = app->metrics,
		.overrides = app->overrides, .rpc_local = app->rpc_local };
	int rc = hearth_ingester_new(&cfg, &deps, &app->ingester, err);
	return rc != 0 ? rc : hearth_ingester_start(app->ingester, err);
}

static void
app_ingester_stop(hearth_app *app)
{
	if (app->ingester != NULL)
		hearth_ingester_stop(app->ingester);
	hearth_ingester_free(app->ingester);
	app->ingester = NULL;
}

static size_t app_request_arena_cap(const hearth_limits *l);

static int
app_distributor_new(hearth_app *app, hearth_err *err)
{
	hearth_distributor_cfg cfg = {
		.rpc_max_message_bytes = (size_t) app->cfg.rpc.max_message_bytes,
		.rpc_timeout_ms	       = app->cfg.rpc.timeout_ms,
		.multitenancy_enabled  = app->cfg.auth.multitenancy_enabled,
		.limits		       = &app->cfg.limits,
		.scrape		       = app->scrape,
		.scrape_workers	       = (unsigned) app->cfg.scrape.workers,
		.scrape_dump_dir       = app->cfg.scrape.dump_dir,
		.scrape_dump_keep      = (size_t) app->cfg.scrape.dump_keep,
		.scrape_arena_cap      = app_request_arena_cap(&app->cfg.limits),
	};
	hearth_distributor_deps deps = { .http = app->http,
		.cluster = app->cluster,
		.overrides = app->overrides, .admit = app->admit,
		.metrics = app->metrics, .log = &app->log };
	int rc = hearth_distributor_new(&cfg, &deps, &app->distributor, err);
	return rc != 0 ? rc : hearth_distributor_start(app->distributor, err);
}

static void
app_distributor_stop(hearth_app *app)
{
	if (app->distributor != NULL)
		hearth_distributor_stop(app->distributor);
	hearth_distributor_free(app->distributor);
	app->distributor = NULL;
}

static int
app_querier_new(hearth_app *app, hearth_err *err)
{
	hearth_querier_cfg cfg = {
		.rpc_max_message_bytes = (size_t) app->cfg.rpc.max_message_bytes,
		.multitenancy_enabled  = app->cfg.auth.multitenancy_enabled,
		.limits		       = &app->cfg.limits,
	};
	hearth_querier_deps deps = { .http = app->http,
		.cluster = app->cluster, .metrics = app->metrics,
		.overrides = app->overrides, .admit = app->admit,
		.log = &app->log };
	int rc = hearth_querier_new(&cfg, &deps, &app->querier, err);
	return rc != 0 ? rc : hearth_querier_start(app->querier, err);
}

static void
app_querier_stop(hearth_app *app)
{
	if (app->querier != NULL)
		hearth_querier_stop(app->querier);
	hearth_querier_free(app->querier);
	app->querier = NULL;
}

static void
app_handle_ring(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_app *app	   = ctx;
	const char *accept = hearth_http_req_header(req, "Accept");
	int	    json   = accept != NULL && strstr(accept, "json") != NULL;
	int	    rc	   = json ? hearth_cluster_write_json(app->cluster,
				  &resp->body)
			      : hearth_cluster_write_html(app->cluster,
				  &resp->body);
	if (rc != 0) {
		hearth_http_resp_error(resp, 500, "cannot render the ring");
		return;
	}
	resp->content_type = json ? "application/json"
				  : "text/html; charset=utf-8";
}

/* The ring as this process sees it: needed to route (distributor,
 * querier) and to register an ingester in etcd. */
static int
app_cluster_new(hearth_app *app, hearth_err *err)
{
	const hearth_config *c = &app->cfg;
	hearth_cluster_cfg   cfg = {
		  .members		 = c->ring.members,
		  .dns			 = c->ring.dns,
		  .dns_refresh_ms	 = c->ring.dns_refresh_ms,
		  .etcd_endpoints	 = c->ring.etcd_endpoints,
		  .etcd_prefix		 = c->ring.etcd_prefix,
		  .etcd_lease_ttl_ms	 = c->ring.etcd_lease_ttl_ms,
		  .self_id		 = app->self_id,
		  .self_url		 = app->self_url,
		  .tokens		 = (unsigned) c->ring.tokens,
		  .replication_factor	 = (size_t) c->ring.replication_factor,
		  .shard_size		 = (size_t) c->ring.shard_size,
		  .heartbeat_interval_ms = c->ring.heartbeat_interval_ms,
		  .heartbeat_timeout_ms	 = c->ring.heartbeat_timeout_ms,
		  .rpc_max_message_bytes = (size_t) c->rpc.max_message_bytes,
		  .rpc_local		 = app->rpc_local,
	};
	int rc = hearth_cluster_new(&cfg, &app->log, app->metrics,
	    &app->cluster, err);
	if (rc == 0)
		rc = hearth_cluster_start(app->cluster, err);
	if (rc == 0)
		hearth_http_route(app->http, "GET", "/ring", 0, "ring",
		    app_handle_ring, app);
	return rc;
}

static void
app_cluster_stop(hearth_app *app)
{
	if (app->cluster != NULL)
		hearth_cluster_stop(app->cluster);
	hearth_cluster_free(app->cluster);
	app->cluster = NULL;
}

enum {
	APP_ROLE_INGESTER    = 1,
	APP_ROLE_DISTRIBUTOR = 2,
	APP_ROLE_QUERIER     = 4,
	APP_ROLE_CLUSTER     = 8 /* not a -target: the ring view */
};

/* The roles, in start order; stopped in reverse. */
static const struct app_role {
	const char *name;
	unsigned    bit;
	int (*start)(hearth_app *app, hearth_err *err);
	void (*stop)(hearth_app *app);
} app_roles[] = {
	{ "ingester", APP_ROLE_INGESTER, app_ingester_new, app_ingester_stop },
	{ "ring", APP_ROLE_CLUSTER, app_cluster_new, app_cluster_stop },
	{ "distributor", APP_ROLE_DISTRIBUTOR, app_distributor_new,
	    app_distributor_stop },
	{ "querier", APP_ROLE_QUERIER, app_querier_new, app_querier_stop },
};
#define APP_N_ROLES (sizeof(app_roles) / sizeof(app_roles[0]))

static void
app_handle_ready(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_app *app = ctx;
	(void) req;
	resp->quiet = 1; /* probes poll it: a 503 here is a state */
	if (!atomic_load(&app->ready)) {
		resp->status = 503;
		hearth_buf_puts(&resp->body, "starting\n");
		return;
	}
	/* A distributor or querier is ready once it can reach an ingester. */
	if (app->cluster != NULL &&
	    (app->roles & (APP_ROLE_DISTRIBUTOR | APP_ROLE_QUERIER))) {
		hearth_cluster_view *v = hearth_cluster_acquire(app->cluster);
		size_t		     healthy = 0;
		uint8_t		     h[HEARTH_RING_MAX_MEMBERS];
		hearth_cluster_healthy(v, h);
		for (size_t i = 0; i < v->n; i++)
			healthy += h[i] != 0;
		size_t n = v->n;
		hearth_cluster_release(v);
		if (healthy == 0) {
			resp->status = 503;
			hearth_buf_printf(&resp->body,
			    "no healthy ingester in the ring (%zu members)\n",
			    n);
			return;
		}
	}
	hearth_buf_puts(&resp->body, "ready\n");
}

static void
app_handle_metrics(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_app *app = ctx;
	(void) req;
	if (hearth_metrics_write(app->metrics, &resp->body) != 0) {
		hearth_http_resp_error(resp, 500, "cannot render metrics");
		return;
	}
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void
app_handle_config(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_app *app = ctx;
	(void) req;
	if (hearth_config_dump(&app->cfg, &resp->body) != 0 ||
	    hearth_scrape_config_dump(app->scrape, &resp->body) != 0) {
		hearth_http_resp_error(resp, 500, "cannot render config");
		return;
	}
	resp->content_type = "text/plain; charset=utf-8";
}

/* GET /api/v1/status/buildinfo: Pyroscope's (and Prometheus') shape. */
static void
app_handle_buildinfo(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	(void) ctx;
	(void) req;
	if (hearth_buildinfo_json(&resp->body) != 0) {
		hearth_http_resp_error(resp, 500, "out of memory");
		return;
	}
	resp->content_type = "application/json";
}

/* hearth_build_info{version,revision,branch,compiler} 1. */
static int
app_build_info_metric(hearth_metrics *m)
{
	static const char *const names[] = { "version", "revision", "branch",
		"compiler" };
	const hearth_buildinfo *b = hearth_buildinfo_get();
	hearth_metric *g = hearth_metrics_gauge(m, "hearth_build_info",
	    "This binary: its version, source revision, branch and compiler "
	    "(always 1).",
	    4, names);
	if (g == NULL)
		return HEARTH_ENOMEM;
	const char *values[] = { b->version, b->revision, b->branch,
		b->compiler };
	hearth_metric_set(g, values, 1);
	return 0;
}

static size_t
app_request_arena_cap(const hearth_limits *l)
{
	size_t body = (size_t) l->ingestion_body_limit_mb << 20;
	size_t prof = (size_t) l->max_profile_size_bytes;
	if (body == 0 || prof == 0)
		return 0; /* a limit is off: so is the cap */
	return body + 16 * prof + ((size_t) 64 << 20);
}

/* mkdir -p: the storage path must exist and be a writable directory, so a
 * typo fails at start-up, not at the first write. */
static int
app_prepare_storage(const char *path, hearth_err *err)
{
	char p[4096];
	if (snprintf(p, sizeof(p), "%s", path) >= (int) sizeof(p) || p[0] == '\0')
		return hearth_err_set(err, HEARTH_EINVAL,
		    "-storage.path: empty or too long");
	for (char *c = p + 1;; c++) {
		if (*c == '/' || *c == '\0') {
			char saved = *c;
			*c	   = '\0';
			if (mkdir(p, 0750) != 0 && errno != EEXIST)
				return hearth_err_set(err, HEARTH_EIO,
				    "-storage.path: cannot create %s: %s", p,
				    strerror(errno));
			*c = saved;
			if (saved == '\0')
				break;
		}
	}
	if (access(path, W_OK | X_OK) != 0)
		return hearth_err_set(err, HEARTH_EIO,
		    "-storage.path: %s is not a writable directory: %s", path,
		    strerror(errno));
	return 0;
}

/* Wait for SIGINT / SIGTERM (returned), turning /ready on once the
 * ingester has replayed its WAL. -1 when the replay failed (logged): the
 * process then stops with exit code 1 instead of never becoming ready. */
static int
app_wait(hearth_app *app, const sigset_t *sigs)
{
	/* Poll the replay every 50 ms until it is done, then just wait. */
	const struct timespec tick = { 0, 50 * 1000000L };
	for (;;) {
		hearth_err err;
		int	   rc = app->ingester != NULL
			    ? hearth_ingester_ready(app->ingester, &err)
			    : 1;
		if (rc < 0) {
			char q[600];
			hearth_log_write(&app->log, HEARTH_LOG_ERROR,
			    "ingester storage failed to start", "err=%s",
			    hearth_log_quote(q, sizeof(q), err.msg));
			return -1;
		}
		if (rc == 1 && !atomic_load(&app->ready)) {
			atomic_store(&app->ready, 1);
			hearth_log_write(&app->log, HEARTH_LOG_INFO,
			    "hearth ready", NULL);
		}
		int sig = rc == 1 ? sigwaitinfo(sigs, NULL)
				  : sigtimedwait(sigs, NULL, &tick);
		if (sig > 0)
			return sig;
		/* EAGAIN: the tick passed; EINTR: a stray signal. */
	}
}

/* Tenancy services every role shares: per-tenant limits with the
 * overrides file, the tokens file (when set) and admission control. A
 * bad file stops start-up here, with its name and line. */
static int
app_tenancy_new(hearth_app *app, hearth_err *err)
{
	const hearth_config *c = &app->cfg;
	int rc = hearth_overrides_new(&c->limits, c->runtime_config.file,
	    c->runtime_config.period_ms, &app->log, app->metrics,
	    &app->overrides, err);
	if (rc == 0 && c->auth.tokens_file[0] != '\0')
		rc = hearth_auth_new(c->auth.tokens_file,
		    c->runtime_config.period_ms, &app->log, app->metrics,
		    &app->auth, err);
	if (rc == 0)
		rc = hearth_admit_new(&app->admit, err);
	if (rc == 0)
		rc = hearth_overrides_start(app->overrides, err);
	if (rc == 0 && app->auth != NULL)
		rc = hearth_auth_start(app->auth, err);
	if (rc == 0 && app->auth != NULL)
		hearth_log_write(&app->log, HEARTH_LOG_INFO,
		    "authentication enabled", "tokens_file=%s",
		    c->auth.tokens_file);
	return rc;
}

static void
app_tenancy_free(hearth_app *app)
{
	hearth_auth_free(app->auth);
	hearth_overrides_free(app->overrides);
	hearth_admit_free(app->admit);
}

/* -target: "all" or a comma list of ingester, distributor, querier. */
static int
app_parse_target(hearth_app *app, hearth_err *err)
{
	const char *p = app->cfg.target;
	app->roles    = 0;
	for (;;) {
		size_t n = strcspn(p, ",");
		if (n == 3 && strncmp(p, "all", 3) == 0)
			app->roles |= APP_ROLE_INGESTER | APP_ROLE_DISTRIBUTOR |
			    APP_ROLE_QUERIER;
		else if (n == 8 && strncmp(p, "ingester", 8) == 0)
			app->roles |= APP_ROLE_INGESTER;
		else if (n == 11 && strncmp(p, "distributor", 11) == 0)
			app->roles |= APP_ROLE_DISTRIBUTOR;
		else if (n == 7 && strncmp(p, "querier", 7) == 0)
			app->roles |= APP_ROLE_QUERIER;
		else
			return hearth_err_set(err, HEARTH_EINVAL,
			    "-target=%s: unknown role \"%.*s\"; use all or a "
			    "comma list of ingester, distributor, querier",
			    app->cfg.target, (int) n, p);
		p += n;
		if (*p++ == '\0')
			break;
	}
	if (app->roles & (APP_ROLE_DISTRIBUTOR | APP_ROLE_QUERIER) ||
	    app->cfg.ring.etcd_endpoints[0] != '\0')
		app->roles |= APP_ROLE_CLUSTER;
	return 0;
}

/* The ingester's member id, listen URL and advertised URL. Everything in
 * one process talks inproc; split roles listen on tcp. */
static int
app_ingester_names(hearth_app *app, hearth_err *err)
{
	const hearth_config *c = &app->cfg;
	char		     host[256] = "localhost";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	if (!(app->roles & APP_ROLE_INGESTER))
		return 0;
	snprintf(app->self_id, sizeof(app->self_id), "%s",
	    c->ring.instance_id[0] != '\0' ? c->ring.instance_id : host);
	int all = (app->roles & APP_ROLE_DISTRIBUTOR) ||
	    (app->roles & APP_ROLE_QUERIER);
	if (all && c->ring.members[0] == '\0' && c->ring.dns[0] == '\0' &&
	    c->ring.etcd_endpoints[0] == '\0') {
		snprintf(app->ingester_url, sizeof(app->ingester_url),
		    "inproc://hearth-ingester-%ld", (long) getpid());
		snprintf(app->self_url, sizeof(app->self_url), "%s",
		    app->ingester_url);
		return 0;
	}
	const char *la = c->ring.listen_address;
	snprintf(app->ingester_url, sizeof(app->ingester_url),
	    "tcp://%s:%lld", la, (long long) c->ring.listen_port);
	if (c->ring.instance_addr[0] != '\0')
		snprintf(app->self_url, sizeof(app->self_url), "tcp://%s",
		    c->ring.instance_addr);
	else
		snprintf(app->self_url, sizeof(app->self_url), "tcp://%s:%lld",
		    strcmp(la, "0.0.0.0") == 0 || strcmp(la, "::") == 0 ? host
									   : la,
		    (long long) c->ring.listen_port);
	if (strchr(app->self_url + 6, ':') == NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "-ring.instance-addr=%s: expected host:port",
		    c->ring.instance_addr);
	return 0;
}

int
main(int argc, char **argv)
{
	hearth_app *app = calloc(1, sizeof(*app));
	hearth_err  err;
	int	    help = 0;
	int	    exit_code = 1;
	size_t	    started = 0;
	if (app == NULL)
		return 1;
	hearth_err_clear(&err);
	hearth_config_defaults(&app->cfg);
	if (hearth_config_parse_args(&app->cfg, argc, argv, &help, &err) != 0) {
		fprintf(stderr, "hearth: %s\n(run hearth -h for every flag)\n",
		    err.msg);
		free(app);
		return 2;
	}
	if (help == HEARTH_CONFIG_VERSION) {
		hearth_buf line;
		hearth_buf_init(&line);
		int rc = hearth_buildinfo_line(&line, "hearth", NULL);
		if (rc == 0)
			printf("%s\n", line.data);
		hearth_buf_fini(&line);
		free(app);
		return rc == 0 ? 0 : 1;
	}
	if (help) {
		hearth_config_help(stdout);
		free(app);
		return 0;
	}
	int level = hearth_log_level_parse(app->cfg.server.log_level);
	hearth_log_init(&app->log, "hearth", level < 0 ? HEARTH_LOG_INFO : level);
	if (app_parse_target(app, &err) != 0 ||
	    app_ingester_names(app, &err) != 0 ||
	    ((app->roles & APP_ROLE_INGESTER) &&
		app_prepare_storage(app->cfg.storage.path, &err) != 0) ||
	    hearth_scrape_config_load(app->cfg.file, &app->scrape, &err) != 0) {
		fprintf(stderr, "hearth: %s\n", err.msg);
		free(app);
		return 2;
	}

	/* Signals are taken synchronously by main (sigwait) so every other
	 * thread, created after this, has them blocked. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	app->metrics = hearth_metrics_new();
	if (app->metrics == NULL || app_build_info_metric(app->metrics) != 0) {
		fprintf(stderr, "hearth: out of memory\n");
		goto out;
	}
	if (app_tenancy_new(app, &err) != 0) {
		fprintf(stderr, "hearth: %s\n", err.msg);
		exit_code = 2;
		goto out;
	}
	if (hearth_rpc_local_new(&app->rpc_local, &err) != 0) {
		fprintf(stderr, "hearth: %s\n", err.msg);
		goto out;
	}
	size_t body_limit = (size_t) app->cfg.limits.ingestion_body_limit_mb
	    << 20;
	hearth_http_opts ho = {
		.address		  = app->cfg.server.http_listen_address,
		.port			  = (uint16_t) app->cfg.server.http_listen_port,
		.threads		  = (unsigned) app->cfg.server.http_threads,
		.max_body_bytes		  = body_limit,
		.max_body_setting = "limits.ingestion_body_limit_mb",
		.connection_timeout_s	  = (unsigned) (
		    app->cfg.server.http_connection_timeout_ms / 1000),
		.max_connections	  = (unsigned)
		    app->cfg.server.http_max_connections,
		.max_request_header_bytes = (size_t)
		    app->cfg.server.http_max_header_bytes,
		.max_connections_per_ip	  = (unsigned)
		    app->cfg.server.http_max_connections_per_ip,
		.read_timeout_ms	  = app->cfg.server.http_read_timeout_ms,
		/* A request may inflate its body (Content-Encoding) and decode
		 * a pprof, which takes ~7x its size (dependencies.md §2). */
		.request_arena_cap = app_request_arena_cap(&app->cfg.limits),
	};
	if (hearth_http_server_new(&ho, app->metrics, &app->log, &app->http,
	        &err) != 0) {
		hearth_log_write(&app->log, HEARTH_LOG_ERROR,
		    "cannot create HTTP server", "err=\"%s\"", err.msg);
		goto out;
	}
	hearth_http_server_set_auth(app->http, app->auth);
	hearth_http_route(app->http, "GET", "/ready", 0, "ready",
	    app_handle_ready, app);
	hearth_http_route(app->http, "GET", "/metrics", 0, "metrics",
	    app_handle_metrics, app);
	hearth_http_route(app->http, "GET", "/config", 0, "config",
	    app_handle_config, app);
	hearth_http_route(app->http, "GET", "/api/v1/status/buildinfo", 0,
	    "buildinfo", app_handle_buildinfo, app);

	for (started = 0; started < APP_N_ROLES; started++) {
		if (!(app->roles & app_roles[started].bit))
			continue;
		if (app_roles[started].start(app, &err) != 0) {
			char q[600];
			hearth_log_write(&app->log, HEARTH_LOG_ERROR,
			    "cannot start role", "role=%s err=%s",
			    app_roles[started].name,
			    hearth_log_quote(q, sizeof(q), err.msg));
			app_roles[started].stop(app);
			goto stop;
		}
	}
	if (hearth_http_server_start(app->http, &err) != 0) {
		char q[600];
		hearth_log_write(&app->log, HEARTH_LOG_ERROR,
		    "cannot start HTTP server", "err=%s",
		    hearth_log_quote(q, sizeof(q), err.msg));
		goto stop;
	}
	hearth_log_write(&app->log, HEARTH_LOG_INFO, "hearth started",
	    "target=%s addr=%s:%u storage=%s version=%s revision=%s",
	    app->cfg.target, app->cfg.server.http_listen_address,
	    (unsigned) hearth_http_server_port(app->http),
	    app->cfg.storage.path, hearth_buildinfo_get()->version,
	    hearth_buildinfo_get()->revision);

	int sig = app_wait(app, &sigs);
	if (sig < 0)
		goto stop; /* the ingester could not replay its WAL */
	hearth_log_write(&app->log, HEARTH_LOG_INFO, "shutting down",
	    "signal=%s", sig == SIGINT ? "SIGINT" : "SIGTERM");
	atomic_store(&app->ready, 0);
	exit_code = 0;

stop:
	/* In-flight requests finish before their handlers' roles go away. */
	hearth_http_server_stop(app->http);
	while (started > 0)
		if (app->roles & app_roles[--started].bit)
			app_roles[started].stop(app);
	hearth_log_write(&app->log, HEARTH_LOG_INFO, "stopped", NULL);
out:
	hearth_http_server_free(app->http);
	hearth_rpc_local_free(app->rpc_local); /* after every role stopped */
	app_tenancy_free(app);
	hearth_metrics_free(app->metrics);
	hearth_scrape_config_free(app->scrape);
	free(app);
	return exit_code;
}
