/*
 * connect_querier_impl.h: what connect_querier.c (the call helpers, the
 * label methods, Series, the route table) and connect_querier_select.c
 * (flame graphs, pprof, SelectSeries, Diff, GetProfileStats,
 * AnalyzeQuery) share. Include only from querier/.
 *
 * Every helper that fails has already recorded the Connect error in the
 * call (hearth_connect_fail) and returns its negative value, so handlers
 * just return it.
 */
#ifndef HEARTH_CONNECT_QUERIER_IMPL_H
#define HEARTH_CONNECT_QUERIER_IMPL_H

#include "querier_impl.h"

#include "tenant.h"
#include "types.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* Tenant, metrics and the RPC deadline of a call. */
typedef struct hearth_connect_querier_ctx {
	hearth_querier      *q;
	hearth_connect_call *call;
	const char   *tenant; /* "a", or "a|b" for a cross-tenant read */
	hearth_limits lim;    /* the tenant's (the strictest of them) */
	int64_t       deadline;
} hearth_connect_querier_ctx;

/* Zeroed arena memory for a response part (NULL when the cap is hit). */
void *hearth_connect_querier_new(hearth_connect_call *call, size_t size);
/* Fail the call with resource_exhausted (the request arena is full). */
int hearth_connect_querier_nomem(hearth_connect_call *call);
/* Tenant (unauthenticated / invalid_argument), query metric and RPC
 * deadline of a call; q is the hearth_querier. */
int hearth_connect_querier_begin(hearth_connect_querier_ctx *c, void *q,
    hearth_connect_call *call, const char *kind);
/* Fail with the Connect code of a hearth error. */
int hearth_connect_querier_fail(
    hearth_connect_querier_ctx *c, const hearth_err *err);
/* start/end (ms) into qq with the tenant's range limits; both must be
 * set unless default_last_hour lets both be 0 (= the last hour). */
int hearth_connect_querier_range(hearth_connect_querier_ctx *c, int64_t start,
    int64_t end, int default_last_hour, hearth_querier_query *qq);
/* profile_typeID + label_selector ("" = {}) + range into qq. */
int hearth_connect_querier_query(hearth_connect_querier_ctx *c,
    const char *profile_type, const char *label_selector, int64_t start,
    int64_t end, hearth_querier_query *qq);
/* max_nodes (absent or 0: the tenant default), validated. */
int hearth_connect_querier_max_nodes(hearth_connect_querier_ctx *c,
    int present, int64_t requested, int64_t *out);
/* Refuse selectors hearth cannot honour (profile and trace ids:
 * unimplemented), or both trace and span selectors (invalid_argument). */
int hearth_connect_querier_no_selectors(hearth_connect_querier_ctx *c,
    size_t n_profile_ids, size_t n_trace_ids, size_t n_spans);
/* Span ids a query may name (span_selector): more is invalid_argument. */
#define HEARTH_CONNECT_QUERIER_MAX_SPANS 1000
/* span_selector spans[0..n) into qq->span_ids: each exactly 16 hex digits
 * (invalid_argument naming the first bad one), at most
 * HEARTH_CONNECT_QUERIER_MAX_SPANS. n == 0 leaves qq unfiltered. */
int hearth_connect_querier_spans(hearth_connect_querier_ctx *c,
    char *const *spans, size_t n, hearth_querier_query *qq);
/* The merged tree of a query, narrowed to a call site when sts asks;
 * *out is malloc-owned by the caller. */
/* A query that finished after its deadline (merging and encoding come
 * after the fan-out) is a timeout too, as on the render path: 0 while in
 * time, else the call is failed with deadline_exceeded. */
int hearth_connect_querier_late(hearth_connect_querier_ctx *c);

int hearth_connect_querier_tree(hearth_connect_querier_ctx *c,
    const hearth_querier_query *qq, const Types__V1__StackTraceSelector *sts,
    hearth_fgtree **out);

/* Handlers (hearth_connect_handler) of connect_querier_select.c. */
int hearth_connect_querier_select_merge_stacktraces(void *ctx,
    hearth_connect_call *call, const ProtobufCMessage *req,
    ProtobufCMessage **resp);
int hearth_connect_querier_select_merge_span_profile(void *ctx,
    hearth_connect_call *call, const ProtobufCMessage *req,
    ProtobufCMessage **resp);
int hearth_connect_querier_select_merge_profile(void *ctx,
    hearth_connect_call *call, const ProtobufCMessage *req,
    ProtobufCMessage **resp);
int hearth_connect_querier_select_series(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp);
int hearth_connect_querier_diff(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp);
int hearth_connect_querier_profile_stats(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp);
int hearth_connect_querier_analyze_query(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp);

/* settings.v1.SettingsService Get, Set, Delete
 * (connect_querier_settings.c). */
int hearth_connect_querier_settings_get(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp);
int hearth_connect_querier_settings_set(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp);
int hearth_connect_querier_settings_delete(void *ctx,
    hearth_connect_call *call, const ProtobufCMessage *req,
    ProtobufCMessage **resp);

#endif
