/*
 * ingester: the ingester role (DESIGN §1, §6; STYLE rule 5). It owns the
 * in-memory head (head.h) and serves it over the internal RPC (rpc.h):
 *
 *   method             request body               response body
 *   HEARTH_RPC_PUSH    ingester.PushRequest       PushResponse
 *   HEARTH_RPC_SELECT  SelectRequest              SelectResponse (Tree
 *                                                 and/or Series)
 *   HEARTH_RPC_LABELS  LabelsRequest              LabelsResponse
 *   HEARTH_RPC_PING    empty                      empty
 *
 * Every data method needs the tenant in the RPC metadata. A selector of
 * "" means everything (like "{}"). Errors keep the head's message
 * ("batch 0 profile 2: ...", "selector: position 3: ...") so the
 * distributor or querier can put it in its HTTP 4xx body.
 *
 * Lifecycle:  new --start--> serving --stop--> stopped --free-->
 *             (new: head + metrics; start: RPC server listens;
 *              stop: waits for running requests; free: drops the head)
 *
 * Metrics (registered in new, refreshed on every scrape):
 *   hearth_ingester_head_series{tenant}            gauge
 *   hearth_ingester_head_profiles{tenant}          gauge
 *   hearth_ingester_head_bytes                     gauge (whole head)
 *   hearth_ingester_profiles_ingested_total{tenant} counter
 *   hearth_ingester_samples_ingested_total{tenant}  counter
 *
 * Threading: new/start/stop/free from the owning thread (cmd/); requests
 * are served concurrently by cfg.workers RPC threads. deps are borrowed
 * and must outlive the ingester.
 */
#ifndef HEARTH_INGESTER_H
#define HEARTH_INGESTER_H

#include "err.h"
#include "head.h"
#include "log.h"
#include "metrics.h"

#include <stddef.h>

typedef struct hearth_ingester_cfg {
	const char *rpc_url;	   /* listen URL: inproc://... or tcp://h:p */
	size_t	    max_msg_bytes; /* RPC message bound, > 0 */
	unsigned    workers;	   /* requests served at once, >= 1 */
} hearth_ingester_cfg;

typedef struct hearth_ingester_deps {
	const hearth_log *log;	   /* NULL: component "ingester", info */
	hearth_metrics	 *metrics; /* NULL: no metrics */
} hearth_ingester_deps;

typedef struct hearth_ingester hearth_ingester;

/* Validate cfg (HEARTH_EINVAL naming the field) and build the role; cfg
 * is copied. */
int hearth_ingester_new(const hearth_ingester_cfg *cfg,
    const hearth_ingester_deps *deps, hearth_ingester **out, hearth_err *err);
/* Listen on cfg.rpc_url. */
int hearth_ingester_start(hearth_ingester *ing, hearth_err *err);
/* Stop serving (idempotent). */
void hearth_ingester_stop(hearth_ingester *ing);
/* Stop if needed, unregister metrics, free the head. NULL is a no-op. */
void hearth_ingester_free(hearth_ingester *ing);
/* The ingester's head (borrowed), e.g. for flushing or tests. */
hearth_head *hearth_ingester_head(hearth_ingester *ing);
/* TCP port the RPC server is bound to (tcp://...:0), else 0. */
int hearth_ingester_port(const hearth_ingester *ing);

#endif
