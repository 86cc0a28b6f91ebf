/*
 * querier_impl.h: what the querier's files share. querier.c holds the
 * role's lifecycle and the legacy HTTP API (render-http.md);
 * querier_select.c the fan-out to ingesters and the merging of their
 * answers (trees, time series, label lists), used by both APIs so that
 * render's timeline and SelectSeries are one implementation;
 * connect_querier.c the Connect querier.v1 service. Include only from
 * querier/.
 *
 * Memory: everything a query builds lives in the request arena, except
 * the hearth_fgtree of a select, which the caller creates and frees.
 */
#ifndef HEARTH_QUERIER_IMPL_H
#define HEARTH_QUERIER_IMPL_H

#include "arena.h"
#include "connect.h"
#include "err.h"
#include "fgtree.h"
#include "labels.h"
#include "querier.h"
#include "rpc.h"
#include "selector.h"

#include <stddef.h>
#include <stdint.h>


typedef struct hearth_querier_services hearth_querier_services;

struct hearth_querier {
	hearth_querier_cfg  cfg;
	hearth_querier_deps deps;
	hearth_querier_services *services; /* querier_services.c */
	hearth_metric      *m_queries;          /* {tenant,kind} */
	hearth_metric      *m_limit_rejections; /* {tenant,limit} */
	hearth_metric      *m_truncations;      /* {tenant,limit} */
	hearth_metric      *m_hedges;           /* {tenant,answered} */
	hearth_connect     *connect;            /* querier.v1 routes */
};

/* One parsed query: the selector sent to ingesters (the profile type
 * folded into a __profile_type__ matcher) and the profile type's parts. */
typedef struct hearth_querier_query {
	char       *selector;     /* arena, canonical text */
	const char *profile_type; /* arena, the 5 parts */
	const char *name;         /* the parts, arena */
	const char *sample_type;
	const char *sample_unit;
	const char *period_type;
	const char *period_unit;
	int64_t     from_ms;
	int64_t     until_ms;
	int         empty;        /* whole range before the lookback limit */
	int         lookback_cut; /* start moved up to the lookback limit */
	/* Span selector (n_span_ids > 0): trees are built only from the
	 * samples of these spans (SelectRequest.span_ids). Arena. */
	uint64_t   *span_ids;
	size_t      n_span_ids;
} hearth_querier_query;

/* One merged time series: labels (sorted by name) and points ascending
 * by timestamp, each the sum of profile totals and the number of
 * profiles in its bucket (so averages can be taken after merging). */
typedef struct hearth_querier_series {
	hearth_label *labels;
	size_t        n_labels;
	int64_t      *ts; /* bucket right edges, ms */
	int64_t      *sum;
	int64_t      *count;
	size_t        n;
} hearth_querier_series;

/* What a select asks for and what it accumulates. Set tree (caller
 * owned; NULL = no tree) and the series fields, then call
 * hearth_querier_select; series come back sorted by labels. */
typedef struct hearth_querier_select_acc {
	hearth_fgtree         *tree;
	int                    want_series;
	int64_t                step_ms;
	const char *const     *group_by;
	size_t                 n_group_by;
	hearth_querier_series *series;
	size_t                 n_series;
	size_t                 cap_series;
} hearth_querier_select_acc;

/* Fold profile_type (5 parts, or 6 with the last ignored) and the
 * matchers of sel (all but skip, which may be NULL) into out->selector;
 * fill the profile type parts. what names the parameter in errors.
 * HEARTH_EINVAL with a message the user can act on. */
int hearth_querier_query_build(hearth_arena *a, const char *what,
    const char *profile_type, const hearth_selector *sel,
    const hearth_matcher *skip, hearth_querier_query *out, hearth_err *err);

/* The limits of a read of tenants (one ID, or several joined by '|' as
 * hearth_auth_request returns them for a cross-tenant query): the
 * tenant's own (overrides, else cfg.limits); for several, each limit is
 * the most restrictive of theirs (the smallest value that is not 0 = no
 * limit). */
void hearth_querier_limits(
    hearth_querier *q, const char *tenants, hearth_limits *out);

/* Count a refusal in hearth_limit_rejections_total{tenant,limit} when
 * err names a per-tenant limit (tenant as given, joined or not). */
void hearth_querier_limit_hit(
    hearth_querier *q, const char *tenants, const hearth_err *err);

/* Apply the tenants' query-range limits to [from_ms, until_ms] (already
 * in out): start <= end, lookback clamp (out->empty when nothing is
 * left, out->lookback_cut when the start moved; both counted in
 * hearth_limit_truncations_total), max query length. */
int hearth_querier_range(hearth_querier *q, const char *tenants,
    hearth_querier_query *out, hearth_err *err);

typedef int (*hearth_querier_each_fn)(void *ctx, const uint8_t *body,
    size_t len, hearth_arena *a, hearth_err *err);

/* Call method on every ingester with req[0..len), once per tenant of
 * tenants ("a" or "a|b": a cross-tenant read is the union of each
 * tenant's answers, which fn merges); fn gets each answer. While it runs
 * the call holds one of each tenant's max_concurrent_queries slots (none
 * free: HEARTH_EBUSY naming the limit). deadline_ms 0 = now +
 * query_timeout (0 = none); a missed deadline is HEARTH_ETIMEDOUT naming
 * query_timeout. */
/* One tenant's fan-out over the ring with replica de-duplication
 * (querier_fanout.c): SELECT requests are planned, assigned and merged
 * so that every profile counts once; other methods ask every answering
 * member. Fails with HEARTH_EUNAVAIL naming the members that did not
 * answer when a quorum of them is missing, or with HEARTH_ETIMEDOUT
 * "<HEARTH_QUERIER_SILENT_PREFIX><ids>" when the deadline passed while
 * they were silent (hearth_querier_fanout adds the ids to its message). */
#define HEARTH_QUERIER_SILENT_PREFIX "no answer in time from "
int hearth_querier_fanout_tenant(hearth_querier *q, const char *tenant,
    uint32_t method, const uint8_t *req, size_t len, hearth_arena *a,
    int64_t deadline_ms, hearth_querier_each_fn fn, void *ctx,
    hearth_err *err);

/* Which members of v may hold what selector selects for tenant
 * (querier_services.c): mark[i] = 1 for a candidate, 0 for a member known
 * not to hold the service the selector pins with service_name="x". Every
 * member is a candidate when the selector pins no service. */
int  hearth_querier_services_new(hearth_querier_services **out,
     hearth_err *err);
void hearth_querier_services_free(hearth_querier_services *s);
void hearth_querier_services_candidates(hearth_querier *q,
    hearth_cluster_view *v, const char *tenant, const char *selector,
    hearth_arena *a, uint8_t *mark);

int hearth_querier_fanout(hearth_querier *q, const char *tenant,
    uint32_t method, const uint8_t *req, size_t len, hearth_arena *a,
    int64_t deadline_ms, hearth_querier_each_fn fn, void *ctx,
    hearth_err *err);

/* Select over every ingester: the merged tree into acc->tree (when set)
 * and, when acc->want_series, the series merged by label set. Nothing is
 * asked when qq->empty. */
int hearth_querier_select(hearth_querier *q, const char *tenant,
    hearth_arena *a, const hearth_querier_query *qq, int64_t deadline_ms,
    hearth_querier_select_acc *acc, hearth_err *err);

/* Merge series into groups by the value of label (NULL: everything into
 * one series with no labels; a series without the label goes to the
 * group whose value is ""). Points of one group are summed per
 * timestamp. Output sorted by group value; arena memory. */
int hearth_querier_series_group(hearth_arena *a,
    const hearth_querier_series *in, size_t n, const char *label,
    hearth_querier_series **out, size_t *n_out);

/* Label names (name "") or values of label name over the series matching
 * selector (text; "" = everything) with data in [start_ms, end_ms], from
 * every ingester, merged into a sorted unique arena array. */
int hearth_querier_labels(hearth_querier *q, const char *tenant,
    hearth_arena *a, const char *selector, int64_t start_ms, int64_t end_ms,
    const char *name, int64_t deadline_ms, const char ***out, size_t *n_out,
    hearth_err *err);

/* Register the querier.v1.QuerierService routes (connect_querier.c). */
int hearth_querier_connect_routes(hearth_querier *q, hearth_err *err);

#endif
