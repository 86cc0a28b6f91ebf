/*
 * distributor_replicate: one push written to its replicas (DESIGN §5).
 *
 * Every series profile of the push is placed on the ring by its
 * (tenant, service_name) shard and its series fingerprint; each member
 * involved gets one PushRequest holding only its profiles (symbol tables
 * and stacks of a batch are shared by pointer, not copied), all members
 * are called in parallel, and the push is acknowledged only when EVERY
 * profile was stored by at least a quorum of its replicas. The profile
 * ids the distributor gave are sent unchanged to every replica: they are
 * what the read path de-duplicates on.
 */
#include "distributor_impl.h"

#include "cluster.h"
#include "labels.h"
#include "ring.h"

#include <stdio.h>
#include <string.h>

#define REPL_MAX_RF 16

/* One replica set, shared by every profile placed on the same members. */
typedef struct repl_place {
	uint32_t members[REPL_MAX_RF];
	size_t	 n;
} repl_place;

static int
repl_same(const repl_place *a, const repl_place *b)
{
	return a->n == b->n &&
	    memcmp(a->members, b->members, a->n * sizeof(a->members[0])) == 0;
}

/* The replicas of one series profile. */
static int
repl_place_profile(const hearth_cluster_view *v, const uint8_t *healthy,
    const char *tenant, const Hearth__Ingester__SeriesProfile *sp,
    hearth_arena *a, repl_place *out, hearth_err *err)
{
	hearth_label *ls = hearth_arena_alloc(a,
	    (sp->n_labels ? sp->n_labels : 1) * sizeof(*ls));
	if (ls == NULL)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached while placing series");
	const char *service = "";
	for (size_t i = 0; i < sp->n_labels; i++) {
		ls[i].name  = sp->labels[i]->name;
		ls[i].value = sp->labels[i]->value;
		if (strcmp(ls[i].name, "service_name") == 0)
			service = ls[i].value;
	}
	uint64_t fp  = hearth_labels_fingerprint(tenant, ls, sp->n_labels);
	size_t	 rf  = v->replication_factor;
	if (rf > REPL_MAX_RF)
		rf = REPL_MAX_RF;
	out->n = hearth_ring_replicas(v->ring, tenant, service, fp,
	    v->shard_size, rf, healthy, out->members);
	return 0;
}

/* The request for member m: every batch that has a profile for it, with
 * only those profiles. Batches without one are left out. *msg is the
 * request, *buf / *len its encoding (all arena memory). */
static int
repl_build(const Hearth__Ingester__PushRequest *push,
    repl_place *const *placed, uint32_t m, hearth_arena *a,
    const Hearth__Ingester__PushRequest **msg, uint8_t **buf, size_t *len,
    hearth_err *err)
{
	Hearth__Ingester__PushRequest *rq = hearth_arena_alloc(a, sizeof(*rq));
	if (rq == NULL)
		goto nomem;
	hearth__ingester__push_request__init(rq);
	Hearth__Ingester__PushRequest req = *rq;
	req.batches = hearth_arena_alloc(a,
	    (push->n_batches ? push->n_batches : 1) * sizeof(*req.batches));
	if (req.batches == NULL)
		goto nomem;
	for (size_t b = 0; b < push->n_batches; b++) {
		const Hearth__Ingester__ProfileBatch *in = push->batches[b];
		Hearth__Ingester__ProfileBatch *ob = hearth_arena_alloc(a,
		    sizeof(*ob));
		Hearth__Ingester__SeriesProfile **ps = hearth_arena_alloc(a,
		    (in->n_profiles ? in->n_profiles : 1) * sizeof(*ps));
		if (ob == NULL || ps == NULL)
			goto nomem;
		*ob		= *in;
		ob->profiles	= ps;
		ob->n_profiles	= 0;
		for (size_t p = 0; p < in->n_profiles; p++) {
			const repl_place *pl = placed[b] + p;
			for (size_t k = 0; k < pl->n; k++)
				if (pl->members[k] == m) {
					ps[ob->n_profiles++] = in->profiles[p];
					break;
				}
		}
		if (ob->n_profiles > 0)
			req.batches[req.n_batches++] = ob;
	}
	*len = hearth__ingester__push_request__get_packed_size(&req);
	*buf = hearth_arena_alloc(a, *len ? *len : 1);
	if (*buf == NULL)
		goto nomem;
	hearth__ingester__push_request__pack(&req, *buf);
	*rq  = req;
	*msg = rq;
	return 0;
nomem:
	return hearth_err_set(err, HEARTH_ELIMIT,
	    "request memory limit reached while splitting the push per "
	    "ingester");
}

/* What hearth_rpc_call_until asks after each reply. */
typedef struct repl_wait {
	const Hearth__Ingester__PushRequest *push;
	repl_place *const		    *placed;
	const int			    *call_of; /* member -> call, -1 */
	size_t				     quorum;
} repl_wait;

/* 1 once every profile has a quorum of stored copies: the replicas still
 * writing (a hung member nobody noticed yet) are not waited for. */
static int
repl_enough(void *ctx, const hearth_rpc_pending *calls, const int *done,
    size_t n)
{
	const repl_wait *w = ctx;
	(void) n;
	for (size_t b = 0; b < w->push->n_batches; b++)
		for (size_t p = 0; p < w->push->batches[b]->n_profiles; p++) {
			const repl_place *pl   = &w->placed[b][p];
			size_t		  acks = 0;
			for (size_t k = 0; k < pl->n; k++) {
				int c = w->call_of[pl->members[k]];
				acks += c >= 0 && done[c] && calls[c].rc == 0;
			}
			if (acks < w->quorum)
				return 0;
		}
	return 1;
}

/* The most useful error to give the client when quorum failed: a
 * deterministic refusal (invalid, limit, head full) as the ingester said
 * it, else 503 naming the members that failed. */
static int
repl_failure(const hearth_cluster_view *v, const hearth_rpc_pending *calls,
    const uint32_t *who, size_t n, size_t quorum, hearth_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int rc = calls[i].rc;
		if (rc == HEARTH_EINVAL || rc == HEARTH_ELIMIT ||
		    rc == HEARTH_EBUSY || rc == HEARTH_ETOOLARGE) {
			*err = calls[i].err;
			return rc;
		}
	}
	char   names[400];
	size_t o = 0;
	names[0] = '\0';
	const char *first = "";
	for (size_t i = 0; i < n && o < sizeof(names) - 1; i++) {
		if (calls[i].rc == 0)
			continue;
		if (first[0] == '\0')
			first = calls[i].err.msg;
		int w = snprintf(names + o, sizeof(names) - o, "%s%s",
		    o ? ", " : "", v->members[who[i]]->id);
		if (w > 0)
			o += (size_t) w < sizeof(names) - o ? (size_t) w
							    : sizeof(names) - o - 1;
	}
	return hearth_err_set(err, HEARTH_EUNAVAIL,
	    "fewer than %zu of the replicas stored the profile (failed: %s; "
	    "first error: %s); nothing was acknowledged, retry",
	    quorum, names, first);
}

int
hearth_distributor_replicate(hearth_distributor *d, const char *tenant,
    const Hearth__Ingester__PushRequest *push, const uint8_t *packed,
    size_t packed_len, const hearth_rpc_meta *meta, hearth_arena *a,
    hearth_err *err)
{
	hearth_cluster_view *v = hearth_cluster_acquire(d->deps.cluster);
	int		     rc = 0;
	if (v->n == 0) {
		rc = hearth_err_set(err, HEARTH_EUNAVAIL,
		    "no ingester in the ring (check -ring.members, -ring.dns or "
		    "-ring.etcd-endpoints)");
		goto out;
	}
	uint8_t	    *healthy = hearth_arena_alloc(a, v->n);
	repl_place **placed  = hearth_arena_alloc(a,
	     (push->n_batches ? push->n_batches : 1) * sizeof(*placed));
	uint32_t    *used    = hearth_arena_alloc(a, v->n * sizeof(*used));
	int	    *is_used = hearth_arena_calloc(a, v->n, sizeof(*is_used));
	if (healthy == NULL || placed == NULL || used == NULL ||
	    is_used == NULL) {
		rc = hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached while placing series");
		goto out;
	}
	hearth_cluster_healthy(v, healthy);
	size_t quorum = hearth_ring_quorum(v->ring, v->replication_factor);
	size_t n_used = 0, n_profiles = 0;
	int    one_set = 1; /* every profile on the same replicas */
	const repl_place *first = NULL;
	for (size_t b = 0; b < push->n_batches; b++) {
		const Hearth__Ingester__ProfileBatch *in = push->batches[b];
		placed[b] = hearth_arena_alloc(a,
		    (in->n_profiles ? in->n_profiles : 1) * sizeof(**placed));
		if (placed[b] == NULL) {
			rc = hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached while placing series");
			goto out;
		}
		for (size_t p = 0; p < in->n_profiles; p++) {
			repl_place *pl = &placed[b][p];
			rc = repl_place_profile(v, healthy, tenant,
			    in->profiles[p], a, pl, err);
			if (rc != 0)
				goto out;
			if (pl->n < quorum) {
				rc = hearth_err_set(err, HEARTH_EUNAVAIL,
				    "only %zu healthy ingesters can take this "
				    "series, a write needs %zu (replication "
				    "factor %zu, %zu members); retry later",
				    pl->n, quorum, v->replication_factor, v->n);
				goto out;
			}
			for (size_t k = 0; k < pl->n; k++)
				if (!is_used[pl->members[k]]) {
					is_used[pl->members[k]] = 1;
					used[n_used++]		= pl->members[k];
				}
			if (first == NULL)
				first = pl;
			else if (!repl_same(first, pl))
				one_set = 0;
			n_profiles++;
		}
	}
	if (n_profiles == 0)
		goto out; /* nothing to store: acknowledged as is */

	hearth_rpc_pending *calls = hearth_arena_calloc(a, n_used,
	    sizeof(*calls));
	if (calls == NULL) {
		rc = hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached while placing series");
		goto out;
	}
	for (size_t i = 0; i < n_used; i++) {
		calls[i].client = v->members[used[i]]->client;
		calls[i].method = HEARTH_RPC_PUSH;
		if (one_set) {
			calls[i].body	 = packed;
			calls[i].len	 = packed_len;
			calls[i].decoded = push;
			continue;
		}
		const Hearth__Ingester__PushRequest *msg = NULL;
		uint8_t				    *buf = NULL;
		size_t				     len = 0;
		if ((rc = repl_build(push, placed, used[i], a, &msg, &buf, &len,
			 err)) != 0)
			goto out;
		calls[i].body	 = buf;
		calls[i].len	 = len;
		calls[i].decoded = msg;
	}
	int *call_of = hearth_arena_alloc(a, v->n * sizeof(*call_of));
	if (call_of == NULL) {
		rc = hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached while placing series");
		goto out;
	}
	for (size_t i = 0; i < v->n; i++)
		call_of[i] = -1;
	for (size_t i = 0; i < n_used; i++)
		call_of[used[i]] = (int) i;
	repl_wait wait = { .push = push, .placed = placed, .call_of = call_of,
		.quorum = quorum };
	/* A healthy replica is a few ms behind the others; one that is not
	 * done 200 ms after the quorum is not waited for (a hung ingester
	 * that pings have not caught yet must not hold every push up). */
	hearth_rpc_call_until(calls, n_used, meta, a, repl_enough, &wait,
	    200);

	/* is_used[m] == 2: member m stored its part. */
	for (size_t i = 0; i < n_used; i++) {
		hearth_cluster_report(v->members[used[i]], calls[i].rc);
		is_used[used[i]] = calls[i].rc == 0 ? 2 : 1;
	}
	for (size_t b = 0; b < push->n_batches; b++)
		for (size_t p = 0; p < push->batches[b]->n_profiles; p++) {
			const repl_place *pl   = &placed[b][p];
			size_t		  acks = 0;
			for (size_t k = 0; k < pl->n; k++)
				acks += is_used[pl->members[k]] == 2;
			if (acks < quorum) {
				rc = repl_failure(v, calls, used, n_used,
				    quorum, err);
				goto out;
			}
		}
out:
	hearth_cluster_release(v);
	return rc;
}
