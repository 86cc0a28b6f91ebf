/*
 * ingester: the ingester role (DESIGN §1, §6; STYLE rule 5). It owns the
 * storage engine (store.h: WAL, head, blocks in RocksDB) and serves it
 * over the internal RPC (rpc.h):
 *
 *   method             request body               response body
 *   HEARTH_RPC_PUSH    ingester.PushRequest       PushResponse
 *   HEARTH_RPC_SELECT  SelectRequest              SelectResponse (Tree
 *                                                 and/or Series)
 *   HEARTH_RPC_LABELS  LabelsRequest              LabelsResponse
 *   HEARTH_RPC_PING    empty                      PingResponse
 *   HEARTH_RPC_PLAN    PlanRequest                PlanResponse
 *   HEARTH_RPC_IDS     IdsRequest                 IdsResponse
 *   HEARTH_RPC_SERVICES ServicesRequest           ServicesResponse
 *
 * PING needs no tenant and is answered while the WAL replays (ready =
 * false), so the ring can show a member JOINING; every other method
 * answers HEARTH_EUNAVAIL until then. SERVICES needs no tenant either (it
 * lists every tenant). SELECT with dedup = true merges only what `assign`
 * gives this ingester (dedup.h semantics); PLAN, IDS and the windows are
 * described in dedup.h and docs/design.md §13.
 *
 * Every data method needs the tenant in the RPC metadata. A selector of
 * "" means everything (like "{}"). Errors keep the head's message
 * ("batch 0 profile 2: ...", "selector: position 3: ...") so the
 * distributor or querier can put it in its HTTP 4xx body; storage errors
 * keep their codes (HEARTH_EBUSY: head full, 429; HEARTH_EIO: WAL write
 * failed, 5xx; HEARTH_EUNAVAIL: still replaying, 503).
 *
 * Lifecycle:  new --start--> replaying --(ready)--> serving --stop-->
 *             stopped --free-->
 *             (new: opens the storage + metrics; start: the store replays
 *              its WAL in the background and the RPC server listens,
 *              answering 503-style HEARTH_EUNAVAIL until the replay is
 *              done; stop: waits for running requests, then cuts and
 *              flushes the head and stops the store; free: closes RocksDB)
 *
 * PUSH applies the server-side delta first (delta.h; profiles marked
 * delta = true by the distributor): the request is rewritten (seed and
 * reset profiles dropped, cumulative values turned into differences) and
 * re-encoded, so the WAL holds exactly what the head stores and a replay,
 * which never computes deltas, rebuilds the same head. The delta state of
 * the push's series is committed only when the WAL record was written;
 * any earlier failure leaves it as it was, so the client's retry is
 * computed against the same state.
 *
 * Metrics (registered in new, refreshed on every scrape):
 *   hearth_ingester_head_series{tenant}            gauge
 *   hearth_ingester_head_profiles{tenant}          gauge
 *   hearth_ingester_head_bytes                     gauge (whole head,
 *                                                  heads being flushed
 *                                                  included)
 *   hearth_ingester_profiles_ingested_total{tenant} counter
 *   hearth_ingester_samples_ingested_total{tenant}  counter
 *
 * plus the store's, WAL's and blocks' (store.h, wal.h, block.h) and the
 * server-side delta's (delta.h).
 *
 * Threading: new/start/stop/free from the owning thread (cmd/); requests
 * are served concurrently by cfg.workers RPC threads; ready from any
 * thread. deps and cfg.limits are borrowed and must outlive the ingester.
 */
#ifndef HEARTH_INGESTER_H
#define HEARTH_INGESTER_H

#include "delta.h"
#include "err.h"
#include "limits.h"
#include "log.h"
#include "metrics.h"
#include "overrides.h"
#include "rpc.h"
#include "store.h"

#include <stddef.h>

/* Width of the replica de-duplication windows (PlanResponse.window_ms). */
#define HEARTH_INGESTER_DEDUP_WINDOW_MS HEARTH_DEDUP_WINDOW_MS

typedef struct hearth_ingester_cfg {
	const char *rpc_url;	   /* listen URL: inproc://... or tcp://h:p */
	size_t	    max_msg_bytes; /* RPC message bound, > 0 */
	unsigned    workers;	   /* requests served at once, >= 1 */
	/* Storage; its retention_ms is set by the ingester from limits. */
	hearth_store_cfg     store;
	const hearth_limits *limits; /* tenant defaults; NULL: keep forever */
	const char *member_id; /* ring member id PING reports; NULL: "" */
	/* Server-side delta of cumulative Push profiles (delta.h): states
	 * kept (LRU beyond) and the idle time after which one is dropped;
	 * 0: the HEARTH_DELTA_DEFAULT_* values. */
	size_t	delta_max_series;
	int64_t delta_idle_ms;
} hearth_ingester_cfg;

typedef struct hearth_ingester_deps {
	const hearth_log *log;	   /* NULL: component "ingester", info */
	hearth_metrics	 *metrics; /* NULL: no metrics */
	/* Per-tenant limits (series, retention); NULL: cfg.limits for
	 * every tenant. */
	hearth_overrides *overrides;
	/* In-process calls from this process's distributor and querier
	 * (rpc.h); NULL: every call over nng. */
	hearth_rpc_local *rpc_local;
} hearth_ingester_deps;

typedef struct hearth_ingester hearth_ingester;

/* Validate cfg (HEARTH_EINVAL naming the field), open the storage
 * (HEARTH_EIO with RocksDB's message, e.g. when another process holds the
 * directory) and build the role; cfg is copied. */
int hearth_ingester_new(const hearth_ingester_cfg *cfg,
    const hearth_ingester_deps *deps, hearth_ingester **out, hearth_err *err);
/* Start the WAL replay (background) and listen on cfg.rpc_url. */
int hearth_ingester_start(hearth_ingester *ing, hearth_err *err);
/* 1 once the WAL replay is done (serving), 0 while it runs, or the
 * replay's error (< 0, err filled: the process should exit). */
int hearth_ingester_ready(hearth_ingester *ing, hearth_err *err);
/* Stop serving (waits for running requests), then cut and flush the head
 * and stop the store's thread (idempotent). */
void hearth_ingester_stop(hearth_ingester *ing);
/* Stop the RPC server if needed, unregister metrics, close the storage
 * (without hearth_ingester_stop: as after a crash, the WAL is replayed on
 * the next start). NULL is a no-op. */
void hearth_ingester_free(hearth_ingester *ing);
/* The ingester's storage (borrowed), e.g. for tests. */
hearth_store *hearth_ingester_store(hearth_ingester *ing);
/* TCP port the RPC server is bound to (tcp://...:0), else 0. */
int hearth_ingester_port(const hearth_ingester *ing);

#endif
