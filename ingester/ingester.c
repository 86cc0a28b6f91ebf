#include "ingester.h"

#include "clock.h"
#include "rpc.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hearth_ingester {
	hearth_ingester_cfg cfg;
	char		   *url; /* cfg.rpc_url points here */
	char		   *member_id; /* cfg.member_id points here */
	hearth_log	    log;
	hearth_metrics	   *metrics;
	hearth_overrides   *overrides; /* borrowed, may be NULL */
	hearth_store	   *store;
	hearth_delta	   *delta; /* server-side delta state of Push */
	hearth_rpc_server  *rpc;
	hearth_metric	   *m_series;
	hearth_metric	   *m_profiles;
	hearth_metric	   *m_bytes;
	hearth_metric	   *m_ingested_profiles;
	hearth_metric	   *m_ingested_samples;
};

/* Arena-backed protobuf allocator that remembers a failed allocation, so
 * "over the memory cap" and "malformed" get different answers. */
typedef struct ingester_pballoc {
	ProtobufCAllocator pb;
	hearth_arena	  *arena;
	int		   failed;
} ingester_pballoc;

static void *
ingester_pb_alloc(void *data, size_t size)
{
	ingester_pballoc *a = data;
	void		 *p = hearth_arena_alloc(a->arena, size);
	if (p == NULL)
		a->failed = 1;
	return p;
}

static void
ingester_pb_free(void *data, void *ptr)
{
	(void) data;
	(void) ptr;
}

static int
ingester_decode(const ProtobufCMessageDescriptor *d, const uint8_t *body,
    size_t len, hearth_arena *arena, ProtobufCMessage **out, hearth_err *err)
{
	ingester_pballoc a = { { ingester_pb_alloc, ingester_pb_free, NULL },
		arena, 0 };
	a.pb.allocator_data = &a;
	*out = protobuf_c_message_unpack(d, &a.pb, len, body);
	if (*out != NULL)
		return 0;
	if (a.failed)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "ingester: %s of %zu bytes does not fit the request "
		    "memory cap",
		    d->short_name, len);
	return hearth_err_set(err, HEARTH_EINVAL,
	    "ingester: malformed %s (%zu bytes)", d->short_name, len);
}

static int
ingester_encode(const ProtobufCMessage *m, hearth_buf *resp, hearth_err *err)
{
	size_t n  = protobuf_c_message_get_packed_size(m);
	int    rc = hearth_buf_reserve(resp, n);
	if (rc != 0)
		return hearth_err_set(err, rc,
		    "ingester: %s of %zu bytes does not fit the max message "
		    "size",
		    m->descriptor->short_name, n);
	protobuf_c_message_pack(m, (uint8_t *) resp->data + resp->len);
	resp->len += n;
	resp->data[resp->len] = '\0';
	return 0;
}

/* "" selects everything, like "{}". Caller frees *out. */
static int
ingester_selector(const char *s, hearth_selector **out, hearth_err *err)
{
	if (s == NULL || s[0] == '\0') {
		*out = hearth_selector_new();
		return *out != NULL ? 0
				    : hearth_err_set(err, HEARTH_ENOMEM,
					  "ingester: out of memory");
	}
	return hearth_selector_parse(s, strlen(s), out, err);
}

/* The push as rewritten by the delta step, for the WAL (arena memory). */
static int
ingester_repack(const Hearth__Ingester__PushRequest *req, hearth_arena *arena,
    const uint8_t **raw, size_t *raw_len, hearth_err *err)
{
	size_t	 n   = hearth__ingester__push_request__get_packed_size(req);
	uint8_t *buf = hearth_arena_alloc(arena, n ? n : 1);
	if (buf == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "ingester: the push after the delta step (%zu bytes) does "
		    "not fit the request memory cap",
		    n);
	*raw_len = hearth__ingester__push_request__pack(req, buf);
	*raw	 = buf;
	return 0;
}

/* 1 when a profile of req is under the delta rule (it will be rewritten,
 * so it needs a copy of its own). */
static int
ingester_has_delta(const Hearth__Ingester__PushRequest *req)
{
	for (size_t b = 0; b < req->n_batches; b++)
		for (size_t p = 0; p < req->batches[b]->n_profiles; p++)
			if (req->batches[b]->profiles[p]->delta)
				return 1;
	return 0;
}

/* decoded: the caller's own decoding of body (in-process calls, rpc.h),
 * read-only, or NULL. */
static int
ingester_push(hearth_ingester *ing, const char *tenant, const uint8_t *body,
    size_t len, const void *decoded, hearth_arena *arena, hearth_buf *resp,
    hearth_err *err)
{
	ProtobufCMessage	      *m;
	Hearth__Ingester__PushResponse out = HEARTH__INGESTER__PUSH_RESPONSE__INIT;
	hearth_delta_txn	      *txn = NULL;
	const uint8_t		      *raw = body;
	size_t			       raw_len = len;
	int			       rc, logged = 0;
	/* An in-process push is used as the distributor built it (no second
	 * decode) unless the delta step must rewrite it. Without delta
	 * profiles nothing below writes to it. */
	if (decoded != NULL && !ingester_has_delta(decoded)) {
		m = (ProtobufCMessage *) decoded;
	} else if ((rc = ingester_decode(
			&hearth__ingester__push_request__descriptor, body, len,
			arena, &m, err)) != 0) {
		return rc;
	}
	Hearth__Ingester__PushRequest *req = (Hearth__Ingester__PushRequest *) m;
	/* Deltas before the WAL: the record holds what is stored, and the
	 * series' states stay taken until we know whether it was written. */
	if ((rc = hearth_delta_begin(ing->delta, tenant, req, hearth_clock_mono_ms(),
		 arena, &txn, err)) != 0)
		return rc;
	if (txn != NULL &&
	    (rc = ingester_repack(req, arena, &raw, &raw_len, err)) != 0) {
		hearth_delta_abort(ing->delta, txn);
		return rc;
	}
	rc = hearth_store_push_logged(ing->store, tenant, req, raw, raw_len,
	    arena, &out.profiles, &out.samples, &logged, err);
	/* Logged but not applied (out of memory in the head): the replay
	 * will store it, so the state must move on with it. */
	if (rc == 0 || logged)
		hearth_delta_commit(ing->delta, txn);
	else
		hearth_delta_abort(ing->delta, txn);
	/* Count what was stored even when a later part failed. */
	const char *lv[1] = { tenant };
	if (out.profiles > 0)
		hearth_metric_add(ing->m_ingested_profiles, lv,
		    (double) out.profiles);
	if (out.samples > 0)
		hearth_metric_add(ing->m_ingested_samples, lv,
		    (double) out.samples);
	if (rc != 0)
		return rc;
	return ingester_encode(&out.base, resp, err);
}

/* The fgtree as the wire Tree (ingester.proto): names by interned id,
 * per node parent, name id and self. The root's parent is written as 0. */
static int
ingester_tree(const hearth_fgtree *t, hearth_arena *a,
    Hearth__Ingester__Tree *out, hearth_err *err)
{
	size_t n = hearth_fgtree_size(t), nn = hearth_fgtree_name_count(t);
	out->names  = hearth_arena_alloc(a, nn * sizeof(*out->names));
	out->parent = hearth_arena_alloc(a, n * sizeof(*out->parent));
	out->name   = hearth_arena_alloc(a, n * sizeof(*out->name));
	out->self   = hearth_arena_alloc(a, n * sizeof(*out->self));
	if (!out->names || !out->parent || !out->name || !out->self)
		goto nomem;
	for (uint32_t i = 0; i < nn; i++) {
		const char *s;
		size_t	    len;
		hearth_fgtree_name(t, i, &s, &len);
		/* Tree names are not NUL-terminated; protobuf-c wants it. */
		if ((out->names[i] = hearth_arena_strndup(a, s, len)) == NULL)
			goto nomem;
	}
	for (uint32_t i = 0; i < n; i++) {
		uint32_t parent;
		int64_t	 self;
		hearth_fgtree_node(t, i, &parent, NULL, NULL, &self);
		out->parent[i] = parent == HEARTH_FGTREE_NO_PARENT ? 0 : parent;
		out->name[i]   = hearth_fgtree_node_name(t, i);
		out->self[i]   = self;
	}
	out->n_names  = nn;
	out->n_parent = out->n_name = out->n_self = n;
	return 0;
nomem:
	return hearth_err_set(err, HEARTH_ENOMEM,
	    "select: the flame graph (%zu nodes) does not fit the request "
	    "memory cap",
	    n);
}

static int
ingester_series(const hearth_head_series *ss, size_t n, hearth_arena *a,
    Hearth__Ingester__SelectResponse *out)
{
	out->series = hearth_arena_alloc(a, (n + 1) * sizeof(*out->series));
	if (out->series == NULL)
		return HEARTH_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		Hearth__Ingester__Series *s = hearth_arena_alloc(a, sizeof(*s));
		if (s == NULL)
			return HEARTH_ENOMEM;
		hearth__ingester__series__init(s);
		s->labels = hearth_arena_alloc(a,
		    (ss[i].n_labels + 1) * sizeof(*s->labels));
		s->points = hearth_arena_alloc(a,
		    (ss[i].n_points + 1) * sizeof(*s->points));
		Hearth__Ingester__Label *ls = hearth_arena_alloc(a,
		    (ss[i].n_labels + 1) * sizeof(*ls));
		Hearth__Ingester__Point *ps = hearth_arena_alloc(a,
		    (ss[i].n_points + 1) * sizeof(*ps));
		if (!s->labels || !s->points || !ls || !ps)
			return HEARTH_ENOMEM;
		for (size_t j = 0; j < ss[i].n_labels; j++) {
			hearth__ingester__label__init(&ls[j]);
			ls[j].name	 = (char *) ss[i].labels[j].name;
			ls[j].value	 = (char *) ss[i].labels[j].value;
			s->labels[j] = &ls[j];
		}
		for (size_t j = 0; j < ss[i].n_points; j++) {
			hearth__ingester__point__init(&ps[j]);
			ps[j].timestamp_ms = ss[i].points[j].timestamp_ms;
			ps[j].value	   = ss[i].points[j].value;
			ps[j].count	   = ss[i].points[j].count;
			s->points[j]	   = &ps[j];
		}
		s->n_labels	= ss[i].n_labels;
		s->n_points	= ss[i].n_points;
		out->series[i] = s;
	}
	out->n_series = n;
	return 0;
}

/* The span filter of a select: its span ids sorted and unique, without 0
 * (which names no span), in arena memory. */
static int
ingester_spans(const Hearth__Ingester__SelectRequest *rq, hearth_arena *arena,
    hearth_head_spans *out, hearth_err *err)
{
	uint64_t *ids = hearth_arena_alloc(arena,
	    rq->n_span_ids * sizeof(*ids));
	if (ids == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "select: %zu span ids do not fit the request memory cap",
		    rq->n_span_ids);
	memcpy(ids, rq->span_ids, rq->n_span_ids * sizeof(*ids));
	out->ids = ids;
	out->n	 = hearth_head_spans_sort(ids, rq->n_span_ids);
	return 0;
}

static int
ingester_select(hearth_ingester *ing, const char *tenant,
    const uint8_t *body, size_t len, hearth_arena *arena, hearth_buf *resp,
    hearth_err *err)
{
	ProtobufCMessage		*m;
	Hearth__Ingester__SelectResponse out =
	    HEARTH__INGESTER__SELECT_RESPONSE__INIT;
	Hearth__Ingester__Tree tree = HEARTH__INGESTER__TREE__INIT;
	hearth_selector	      *sel  = NULL;
	hearth_fgtree	      *t    = NULL;
	hearth_dedup	      *f    = NULL;
	int		       rc;
	if ((rc = ingester_decode(&hearth__ingester__select_request__descriptor,
		 body, len, arena, &m, err)) != 0)
		return rc;
	const Hearth__Ingester__SelectRequest *rq = (const void *) m;
	/* dedup = false: no filter at all, today's path and speed. */
	if (rq->dedup && (rc = hearth_dedup_new(rq->assign, rq->n_assign,
			      arena, &f, err)) != 0)
		return hearth_err_prefix(err, "select");
	if ((rc = ingester_selector(rq->selector, &sel, err)) != 0)
		return rc;
	if (rq->want_tree) {
		if ((t = hearth_fgtree_new()) == NULL) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "select: out of memory");
			goto done;
		}
		hearth_head_spans sp = { NULL, 0 };
		if (rq->n_span_ids > 0 &&
		    (rc = ingester_spans(rq, arena, &sp, err)) != 0)
			goto done;
		if (sp.n > 0)
			rc = hearth_store_select_span_tree(ing->store, tenant,
			    sel, f, &sp, rq->start_ms, rq->end_ms, arena, t,
			    err);
		else if (rq->n_span_ids == 0)
			rc = hearth_store_select_tree(ing->store, tenant, sel,
			    f, rq->start_ms, rq->end_ms, arena, t, err);
		/* else only span id 0 ("no span"): nothing matches */
		if (rc != 0 || (rc = ingester_tree(t, arena, &tree, err)) != 0)
			goto done;
		out.tree = &tree;
	}
	if (rq->want_series) {
		hearth_head_series *ss;
		size_t		    n;
		if ((rc = hearth_store_select_series(ing->store, tenant, sel,
			 f, rq->start_ms, rq->end_ms, rq->step_ms,
			 (const char *const *) rq->group_by, rq->n_group_by,
			 arena, &ss, &n, err)) != 0)
			goto done;
		if ((rc = ingester_series(ss, n, arena, &out)) != 0) {
			rc = hearth_err_set(err, rc,
			    "select: the series do not fit the request "
			    "memory cap");
			goto done;
		}
	}
	rc = ingester_encode(&out.base, resp, err);
done:
	hearth_fgtree_free(t);
	hearth_selector_free(sel);
	return rc;
}

static int
ingester_labels(hearth_ingester *ing, const char *tenant,
    const uint8_t *body, size_t len, hearth_arena *arena, hearth_buf *resp,
    hearth_err *err)
{
	ProtobufCMessage		*m;
	Hearth__Ingester__LabelsResponse out =
	    HEARTH__INGESTER__LABELS_RESPONSE__INIT;
	hearth_selector *sel = NULL;
	const char     **vals;
	int		 rc;
	if ((rc = ingester_decode(&hearth__ingester__labels_request__descriptor,
		 body, len, arena, &m, err)) != 0)
		return rc;
	const Hearth__Ingester__LabelsRequest *rq = (const void *) m;
	if ((rc = ingester_selector(rq->selector, &sel, err)) != 0)
		return rc;
	rc = hearth_store_labels(ing->store, tenant, sel, rq->start_ms,
	    rq->end_ms, rq->name, arena, &vals, &out.n_values, err);
	hearth_selector_free(sel);
	if (rc != 0)
		return rc;
	out.values = (char **) vals;
	return ingester_encode(&out.base, resp, err);
}

static int
ingester_plan(hearth_ingester *ing, const char *tenant, const uint8_t *body,
    size_t len, hearth_arena *arena, hearth_buf *resp, hearth_err *err)
{
	ProtobufCMessage	      *m;
	Hearth__Ingester__PlanResponse out = HEARTH__INGESTER__PLAN_RESPONSE__INIT;
	hearth_selector		      *sel = NULL;
	int			       rc;
	if ((rc = ingester_decode(&hearth__ingester__plan_request__descriptor,
		 body, len, arena, &m, err)) != 0)
		return rc;
	const Hearth__Ingester__PlanRequest *rq = (const void *) m;
	if ((rc = ingester_selector(rq->selector, &sel, err)) != 0)
		return rc;
	rc = hearth_store_plan(ing->store, tenant, sel, rq->start_ms,
	    rq->end_ms, arena, &out, err);
	hearth_selector_free(sel);
	if (rc != 0)
		return rc;
	return ingester_encode(&out.base, resp, err);
}

static int
ingester_ids(hearth_ingester *ing, const char *tenant, const uint8_t *body,
    size_t len, hearth_arena *arena, hearth_buf *resp, hearth_err *err)
{
	ProtobufCMessage	     *m;
	Hearth__Ingester__IdsResponse out = HEARTH__INGESTER__IDS_RESPONSE__INIT;
	hearth_selector		     *sel = NULL;
	hearth_dedup		     *wanted;
	int			      rc;
	if ((rc = ingester_decode(&hearth__ingester__ids_request__descriptor,
		 body, len, arena, &m, err)) != 0)
		return rc;
	const Hearth__Ingester__IdsRequest *rq = (const void *) m;
	if ((rc = hearth_dedup_new_wanted(rq->wanted, rq->n_wanted, arena,
		 &wanted, err)) != 0)
		return rc;
	if ((rc = ingester_selector(rq->selector, &sel, err)) != 0)
		return rc;
	rc = hearth_store_ids(ing->store, tenant, sel, wanted, arena, &out,
	    err);
	hearth_selector_free(sel);
	if (rc != 0)
		return rc;
	return ingester_encode(&out.base, resp, err);
}

static int
ingester_services(hearth_ingester *ing, const uint8_t *body, size_t len,
    hearth_arena *arena, hearth_buf *resp, hearth_err *err)
{
	ProtobufCMessage		  *m;
	Hearth__Ingester__ServicesResponse out =
	    HEARTH__INGESTER__SERVICES_RESPONSE__INIT;
	int rc;
	if ((rc = ingester_decode(
		 &hearth__ingester__services_request__descriptor, body, len,
		 arena, &m, err)) != 0 ||
	    (rc = hearth_store_services(ing->store, arena, &out, err)) != 0)
		return rc;
	return ingester_encode(&out.base, resp, err);
}

/* Clients' settings: store the put (if any), answer the tenant's list. */
static int
ingester_settings(hearth_ingester *ing, const char *tenant,
    const uint8_t *body, size_t len, hearth_arena *arena, hearth_buf *resp,
    hearth_err *err)
{
	ProtobufCMessage		  *m;
	Hearth__Ingester__SettingsResponse out =
	    HEARTH__INGESTER__SETTINGS_RESPONSE__INIT;
	int rc;
	if ((rc = ingester_decode(
		 &hearth__ingester__settings_request__descriptor, body, len,
		 arena, &m, err)) != 0)
		return rc;
	const Hearth__Ingester__SettingsRequest *rq = (const void *) m;
	if ((rc = hearth_store_settings(
		 ing->store, tenant, rq->put, arena, &out, err)) != 0)
		return rc;
	return ingester_encode(&out.base, resp, err);
}

/* What /ring shows; answered in every state, replay included. */
static int
ingester_ping(hearth_ingester *ing, hearth_buf *resp, hearth_err *err)
{
	Hearth__Ingester__PingResponse out = HEARTH__INGESTER__PING_RESPONSE__INIT;
	hearth_store_stats	       st;
	hearth_store_stats_get(ing->store, &st);
	out.member_id	= ing->member_id;
	out.series	= st.head_series;
	out.head_bytes	= st.head_bytes + st.flushing_bytes;
	out.block_bytes = st.block_bytes;
	out.ready	= hearth_store_ready(ing->store, NULL) == 1;
	return ingester_encode(&out.base, resp, err);
}

static int
ingester_handle(void *ctx, uint32_t method, const hearth_rpc_meta *meta,
    const uint8_t *body, size_t len, hearth_arena *arena, hearth_buf *resp,
    hearth_err *err)
{
	hearth_ingester *ing	= ctx;
	const char	*tenant = meta->tenant != NULL ? meta->tenant : "";
	if (method == HEARTH_RPC_PING)
		return ingester_ping(ing, resp, err);
	if (method == HEARTH_RPC_SERVICES)
		return ingester_services(ing, body, len, arena, resp, err);
	if (method != HEARTH_RPC_PUSH && method != HEARTH_RPC_SELECT &&
	    method != HEARTH_RPC_LABELS && method != HEARTH_RPC_PLAN &&
	    method != HEARTH_RPC_IDS && method != HEARTH_RPC_SETTINGS)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "ingester: unknown method %u", method);
	if (tenant[0] == '\0')
		return hearth_err_set(err, HEARTH_EINVAL,
		    "ingester: request without a tenant");
	switch (method) {
	case HEARTH_RPC_PUSH:
		return ingester_push(ing, tenant, body, len, meta->decoded, arena,
		    resp, err);
	case HEARTH_RPC_SELECT:
		return ingester_select(ing, tenant, body, len, arena, resp,
		    err);
	case HEARTH_RPC_PLAN:
		return ingester_plan(ing, tenant, body, len, arena, resp, err);
	case HEARTH_RPC_IDS:
		return ingester_ids(ing, tenant, body, len, arena, resp, err);
	case HEARTH_RPC_SETTINGS:
		return ingester_settings(
		    ing, tenant, body, len, arena, resp, err);
	default:
		return ingester_labels(ing, tenant, body, len, arena, resp,
		    err);
	}
}

/* ---- metrics ---------------------------------------------------------- */

static void
ingester_tenant_gauges(void *ctx, const char *tenant,
    const hearth_head_stats *st)
{
	hearth_ingester *ing   = ctx;
	const char	*lv[1] = { tenant };
	hearth_metric_set(ing->m_series, lv, (double) st->series);
	hearth_metric_set(ing->m_profiles, lv, (double) st->profiles);
}

static void
ingester_collect(void *ctx, hearth_metrics *m)
{
	hearth_ingester *ing = ctx;
	(void) m;
	hearth_store_stats st;
	hearth_store_foreach_tenant(ing->store, ingester_tenant_gauges, ing);
	hearth_store_stats_get(ing->store, &st);
	hearth_metric_set(ing->m_bytes, NULL,
	    (double) (st.head_bytes + st.flushing_bytes));
}

static int
ingester_metrics(hearth_ingester *ing, hearth_err *err)
{
	static const char *const tenant[] = { "tenant" };
	hearth_metrics		*m	  = ing->metrics;
	ing->m_series = hearth_metrics_gauge(m, "hearth_ingester_head_series",
	    "Series in the in-memory head.", 1, tenant);
	ing->m_profiles = hearth_metrics_gauge(m,
	    "hearth_ingester_head_profiles",
	    "Profiles in the in-memory head.", 1, tenant);
	ing->m_bytes = hearth_metrics_gauge(m, "hearth_ingester_head_bytes",
	    "Bytes allocated by the in-memory head, all tenants, heads being "
	    "written as blocks included (what ingester.max_head_bytes "
	    "bounds).",
	    0, NULL);
	ing->m_ingested_profiles = hearth_metrics_counter(m,
	    "hearth_ingester_profiles_ingested_total",
	    "Profiles stored by pushes (duplicates not counted).", 1, tenant);
	ing->m_ingested_samples = hearth_metrics_counter(m,
	    "hearth_ingester_samples_ingested_total",
	    "Samples stored by pushes.", 1, tenant);
	if (hearth_metrics_on_collect(m, ingester_collect, ing) != 0)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "ingester: out of memory");
	return 0;
}

/* ---- lifecycle -------------------------------------------------------- */

/* The limits of tenant: its overrides when there are any, else the
 * defaults; *l is zero (no limits) when the ingester has neither. */
static void
ingester_limits(const hearth_ingester *ing, const char *tenant,
    hearth_limits *l)
{
	if (ing->overrides != NULL)
		hearth_overrides_get(ing->overrides, tenant, l);
	else if (ing->cfg.limits != NULL)
		*l = *ing->cfg.limits;
	else
		memset(l, 0, sizeof(*l));
}

/* The store's retention callback: the tenant's limit. */
static int64_t
ingester_retention_ms(void *ctx, const char *tenant)
{
	hearth_limits l;
	ingester_limits(ctx, tenant, &l);
	return l.retention_period_ms;
}

/* The store's series-limit callback, on every push. */
static int64_t
ingester_max_series(void *ctx, const char *tenant)
{
	hearth_limits l;
	ingester_limits(ctx, tenant, &l);
	return l.max_global_series_per_tenant;
}

int
hearth_ingester_new(const hearth_ingester_cfg *cfg,
    const hearth_ingester_deps *deps, hearth_ingester **out, hearth_err *err)
{
	int rc;
	*out = NULL;
	if (cfg->rpc_url == NULL || cfg->rpc_url[0] == '\0')
		return hearth_err_set(err, HEARTH_EINVAL,
		    "ingester: rpc listen URL is empty");
	if (cfg->max_msg_bytes == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "ingester: max message bytes must be > 0");
	if (cfg->workers == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "ingester: workers must be >= 1");
	hearth_ingester *ing = calloc(1, sizeof(*ing));
	if (ing == NULL || (ing->url = strdup(cfg->rpc_url)) == NULL ||
	    (ing->member_id = strdup(cfg->member_id != NULL ? cfg->member_id
							    : "")) == NULL) {
		if (ing != NULL)
			free(ing->url);
		free(ing);
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "ingester: out of memory");
	}
	ing->cfg	   = *cfg;
	ing->cfg.rpc_url   = ing->url;
	ing->cfg.member_id = ing->member_id;
	if (deps != NULL && deps->log != NULL)
		ing->log = *deps->log;
	else
		hearth_log_init(&ing->log, "ingester", HEARTH_LOG_INFO);
	ing->metrics   = deps != NULL ? deps->metrics : NULL;
	ing->overrides = deps != NULL ? deps->overrides : NULL;
	/* The store copies its config, path included. */
	ing->cfg.store.retention_ms  = ingester_retention_ms;
	ing->cfg.store.retention_ctx = ing;
	ing->cfg.store.max_series     = ingester_max_series;
	ing->cfg.store.max_series_ctx = ing;
	rc = hearth_store_open(&ing->cfg.store, &ing->log, ing->metrics,
	    &ing->store, err);
	ing->cfg.store.path = NULL; /* borrowed from the caller */
	hearth_delta_cfg dc = { cfg->delta_max_series, cfg->delta_idle_ms };
	if (rc != 0 ||
	    (rc = hearth_delta_new(&dc, ing->metrics, &ing->delta, err)) != 0 ||
	    (rc = hearth_rpc_server_new(ing->url, cfg->max_msg_bytes,
		 cfg->workers, ingester_handle, ing, &ing->log, &ing->rpc,
		 err)) != 0 ||
	    (ing->metrics != NULL && (rc = ingester_metrics(ing, err)) != 0)) {
		hearth_ingester_free(ing);
		return rc;
	}
	hearth_rpc_server_set_local(ing->rpc,
	    deps != NULL ? deps->rpc_local : NULL);
	*out = ing;
	return 0;
}

int
hearth_ingester_start(hearth_ingester *ing, hearth_err *err)
{
	/* Replay first: the RPC server refuses data calls until it is done
	 * (HEARTH_EUNAVAIL), so nothing is pushed into a half-replayed
	 * head. */
	int rc = hearth_store_start(ing->store, err);
	if (rc == 0)
		rc = hearth_rpc_server_start(ing->rpc, err);
	if (rc != 0)
		return hearth_err_prefix(err, "ingester");
	hearth_log_write(&ing->log, HEARTH_LOG_INFO, "ingester started",
	    "rpc_url=%s workers=%u", ing->url, ing->cfg.workers);
	return 0;
}

int
hearth_ingester_ready(hearth_ingester *ing, hearth_err *err)
{
	return hearth_store_ready(ing->store, err);
}

void
hearth_ingester_stop(hearth_ingester *ing)
{
	if (ing == NULL)
		return;
	/* Running pushes finish (and are acknowledged) before the last cut,
	 * so the flush holds all of them. */
	hearth_rpc_server_stop(ing->rpc);
	hearth_store_stop(ing->store);
}

void
hearth_ingester_free(hearth_ingester *ing)
{
	if (ing == NULL)
		return;
	/* Requests first (they use the store), then the scrape callback. */
	hearth_rpc_server_free(ing->rpc);
	if (ing->metrics != NULL)
		hearth_metrics_remove_collect(ing->metrics, ingester_collect,
		    ing);
	hearth_store_free(ing->store);
	hearth_delta_free(ing->delta);
	free(ing->url);
	free(ing->member_id);
	free(ing);
}

hearth_store *
hearth_ingester_store(hearth_ingester *ing)
{
	return ing->store;
}

int
hearth_ingester_port(const hearth_ingester *ing)
{
	return hearth_rpc_server_port(ing->rpc);
}
