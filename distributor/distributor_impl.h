/*
 * distributor_impl.h: what distributor.c (the /ingest endpoints, the role's
 * lifecycle) and distributor_push.c (push.v1.PusherService/Push over
 * Connect) share. Include only from distributor/.
 */
#ifndef HEARTH_DISTRIBUTOR_IMPL_H
#define HEARTH_DISTRIBUTOR_IMPL_H

#include "arena.h"
#include "connect.h"
#include "distributor.h"
#include "ingester.pb-c.h"
#include "rpc.h"

#include <stdint.h>

struct hearth_distributor {
	hearth_distributor_cfg  cfg;
	hearth_distributor_deps deps;
	hearth_connect         *connect;    /* Connect routes (Push) */
	hearth_scrape          *scrape;     /* pull model (scrape.h) */
	hearth_metric          *m_profiles; /* {tenant} */
	hearth_metric          *m_bytes;    /* {tenant} compressed body */
	hearth_metric          *m_decoded;  /* {tenant} */
	hearth_metric          *m_samples;  /* {tenant} */
	hearth_metric          *m_rejected; /* {tenant,reason} */
	hearth_metric          *m_push_seconds;
	hearth_metric          *m_limit_rejections; /* {tenant,limit} */
	hearth_metric          *m_truncations;      /* {tenant,limit} */
	hearth_metric          *m_unresolved;       /* {tenant,format} */
};

/* The limits of tenant: its overrides, else cfg.limits. */
void hearth_distributor_limits(
    hearth_distributor *d, const char *tenant, hearth_limits *out);

/* Count a refusal of tenant's request in hearth_limit_rejections_total
 * when err names a per-tenant limit (config.h
 * hearth_config_limit_named); other errors are not counted there. */
void hearth_distributor_limit_hit(
    hearth_distributor *d, const char *tenant, const hearth_err *err);

/* Count one rejected request of tenant for reason (a short metric label). */
void hearth_distributor_reject(
    hearth_distributor *d, const char *tenant, const char *reason);

/* Send push to the ingester and wait for its acknowledgement (the one
 * place ingest paths write). First the tenant's ingestion rate is taken
 * from its bucket (the encoded push's size is the cost): over it, 429 and
 * a message naming ingestion_rate_mb (or ingestion_burst_size_mb for a
 * push that can never fit). On failure *status is the HTTP status to
 * answer (413 when the request arena cannot hold the encoded push; the
 * ingester's 4xx for EINVAL/ELIMIT/EBUSY; 5xx otherwise: not stored,
 * retry) and err starts with "push to ingester failed" for ingester
 * errors. */
int hearth_distributor_send(hearth_distributor *d, const char *tenant,
    const Hearth__Ingester__PushRequest *push, hearth_arena *a, int64_t now_ns,
    int *status, hearth_err *err);

/* Write push (packed[0..packed_len) is its encoding) to the replicas of
 * every series profile in it, in parallel, and return 0 only when each
 * profile was stored by a quorum of its replicas. Errors: a replica's
 * deterministic refusal (EINVAL, ELIMIT, EBUSY, ETOOLARGE) as it gave it;
 * HEARTH_EUNAVAIL naming the failed members otherwise, or when too few
 * healthy members can take a series (distributor_replicate.c). */
int hearth_distributor_replicate(hearth_distributor *d, const char *tenant,
    const Hearth__Ingester__PushRequest *push, const uint8_t *packed,
    size_t packed_len, const hearth_rpc_meta *meta, hearth_arena *a,
    hearth_err *err);

/* Register push.v1.PusherService on d->connect (distributor_push.c). */
int hearth_distributor_push_routes(hearth_distributor *d, hearth_err *err);

#endif
