/*
 * querier: the query role (DESIGN §7). Serves the legacy query HTTP API of
 * render-http.md — /pyroscope/render, /pyroscope/render-diff,
 * /pyroscope/label-names, /pyroscope/label-values — by asking the
 * ingesters of the ring over the internal RPC (querier_fanout.c: every
 * profile counted once whatever the replication factor) and merging their
 * partial answers (function-name trees, per-bucket series points, label
 * lists).
 *
 * Lifecycle (STYLE rule 5): _new → _start (registers routes) → _stop → _free. deps are borrowed and must outlive the querier.
 * Handlers run on HTTP threads; all per-request state lives in the
 * request's arena or in objects freed before the handler returns.
 */
#ifndef HEARTH_QUERIER_H
#define HEARTH_QUERIER_H

#include "admit.h"
#include "cluster.h"
#include "err.h"
#include "http.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "overrides.h"

#include <stddef.h>
#include <stdint.h>

typedef struct hearth_querier_cfg {
	size_t		     rpc_max_message_bytes;
	int		     multitenancy_enabled;
	const hearth_limits *limits; /* tenant defaults */
} hearth_querier_cfg;

typedef struct hearth_querier_deps {
	hearth_http_server *http;
	hearth_cluster	   *cluster; /* the ingester ring to ask */
	hearth_metrics	   *metrics;
	const hearth_log   *log;
	/* Per-tenant limits; NULL: cfg.limits for every tenant. */
	hearth_overrides *overrides;
	/* Query slots (max_concurrent_queries); NULL: no such limit. */
	hearth_admit *admit;
} hearth_querier_deps;

typedef struct hearth_querier hearth_querier;

int  hearth_querier_new(const hearth_querier_cfg *cfg,
     const hearth_querier_deps *deps, hearth_querier **out, hearth_err *err);
int  hearth_querier_start(hearth_querier *q, hearth_err *err);
void hearth_querier_stop(hearth_querier *q);
void hearth_querier_free(hearth_querier *q);

#endif
