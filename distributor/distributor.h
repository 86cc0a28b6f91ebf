/*
 * distributor: the ingest role (DESIGN §1, §5). Stateless: it serves
 * `POST /ingest` and `/pyroscope/ingest`, resolves the tenant, turns each
 * request into an ingester PushRequest (ingest.h) and writes it to the
 * ingesters the ring places each series on (distributor_replicate.c);
 * the client's 200 means a quorum of every series' replicas stored it.
 *
 * It also runs the pull model (scrape.h): scrape_configs targets are
 * scraped on the scraper's own threads and their profiles take the same
 * last step (build, send to the ingester) as pushed ones; GET /targets
 * shows their state.
 *
 * Lifecycle (STYLE rule 5): _new → _start (registers routes, dials the
 * ingester, starts scraping) → _stop (stops scraping) → _free. The
 * distributor borrows everything in deps and cfg.scrape; they must
 * outlive it. Handlers run on the HTTP server's threads; the RPC client is
 * thread-safe, so no lock is needed here.
 */
#ifndef HEARTH_DISTRIBUTOR_H
#define HEARTH_DISTRIBUTOR_H

#include "admit.h"
#include "cluster.h"
#include "err.h"
#include "http.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "overrides.h"
#include "scrape.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_distributor_cfg {
	size_t		     rpc_max_message_bytes;
	int64_t		     rpc_timeout_ms;
	int		     multitenancy_enabled;
	const hearth_limits *limits;		/* tenant defaults */
	/* Pull model (scrape.h): NULL or no jobs = no scraping. Borrowed. */
	const hearth_scrape_config *scrape;
	unsigned		    scrape_workers;
	const char		   *scrape_dump_dir; /* NULL/"" = off */
	size_t			    scrape_dump_keep;
	size_t			    scrape_arena_cap; /* per worker */
} hearth_distributor_cfg;

typedef struct hearth_distributor_deps {
	hearth_http_server *http;
	/* The ingester ring pushes are replicated over (cluster.h). */
	hearth_cluster	   *cluster;
	hearth_metrics	   *metrics;
	const hearth_log   *log;
	/* Per-tenant limits; NULL: cfg.limits for every tenant. */
	hearth_overrides *overrides;
	/* Ingestion rate buckets (ingestion_rate_mb); NULL: no rate limit. */
	hearth_admit *admit;
} hearth_distributor_deps;

typedef struct hearth_distributor hearth_distributor;

int  hearth_distributor_new(const hearth_distributor_cfg *cfg,
     const hearth_distributor_deps *deps, hearth_distributor **out,
     hearth_err *err);
int  hearth_distributor_start(hearth_distributor *d, hearth_err *err);
void hearth_distributor_stop(hearth_distributor *d);
void hearth_distributor_free(hearth_distributor *d);

#endif
