/*
 * querier_fanout: asking the ingesters of the ring and counting every
 * profile exactly once (DESIGN §7.3; docs/design.md §13).
 *
 * Label reads (LABELS) are unions: every answering member is asked in
 * parallel and the answers are merged by the caller.
 *
 * SELECT is three phases over the members that answer:
 *   1. PLAN: each member reports, per (series fingerprint, hour window),
 *      how many profiles it holds and a digest of their ids;
 *   2. assignment: a window whose holders all report the same count and
 *      digest goes whole to one of them (the same one for every window of
 *      a series when possible, so the ingester gets `all` and keeps its
 *      rollup fast path); for a window whose holders disagree (one missed
 *      writes while it was down) the ids are fetched (IDS) and the union
 *      is split into explicit id lists: the fullest holder merges its
 *      ids, the others only the ids nobody before them had (profiles
 *      arriving meanwhile stay out of such a window until the next query,
 *      instead of being merged by two holders);
 *   3. SELECT with dedup to every member that was assigned something.
 * Partial failure: every acknowledged profile is on at least a quorum of
 * members, so while fewer than a quorum of the members failed, every
 * profile still has an answering copy and the answer is exact. Otherwise
 * the query fails with 503 naming the members that did not answer. A
 * member that fails after its plan restarts the phases without it; one
 * still running its select after the grace is hedged (its windows asked
 * of another member holding them all; the first answer wins).
 */
#include "querier_impl.h"

#include "clock.h"
#include "cluster.h"
#include "ingester.pb-c.h"
#include "ring.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FANOUT_MAX_ROUNDS 3
/* How long a plan or label read waits for the last members once the
 * others answered (a hung ingester that pings have not caught yet). */
#define FANOUT_SKIP_GRACE_MS 1000
/* A select straggler gets as long again as the others took, and at
 * least this: selects vary with the work assigned, plans do not. */
#define FANOUT_SELECT_GRACE_MS 1000
/* Not an error: a member failed after planning; plan again without it. */
#define FANOUT_REPLAN 1

/* One (series, window) a member holds. */
typedef struct fanout_hold {
	uint64_t fp;
	int64_t	 w;
	uint64_t count;
	uint64_t digest;
	uint32_t member; /* index in the view */
	uint32_t assigned; /* 0 no, 1 whole window, 2 partial ids, 3 none */
	int	 conflict; /* the window's holders disagree */
	const ProtobufCBinaryData *ids; /* partial: the ids to merge */
	size_t			   n_ids;
	const ProtobufCBinaryData *held; /* IDS answer: what it holds */
	size_t			   n_held;
} fanout_hold;

static int
fanout_hold_cmp(const void *pa, const void *pb)
{
	const fanout_hold *a = pa, *b = pb;
	if (a->fp != b->fp)
		return a->fp < b->fp ? -1 : 1;
	if (a->w != b->w)
		return a->w < b->w ? -1 : 1;
	if (a->member != b->member)
		return a->member < b->member ? -1 : 1;
	return 0;
}

static int
fanout_id_cmp(const void *pa, const void *pb)
{
	const ProtobufCBinaryData *a = pa, *b = pb;
	size_t n = a->len < b->len ? a->len : b->len;
	int    c = memcmp(a->data, b->data, n);
	return c != 0 ? c : (a->len < b->len ? -1 : a->len > b->len);
}

typedef struct fanout {
	hearth_querier	    *q;
	hearth_cluster_view *v;
	const char	    *tenant;
	hearth_arena	    *a;
	hearth_rpc_meta	     meta;
	uint8_t		    *failed;  /* [v->n] did not answer */
	char		   **why;     /* [v->n] first error */
	size_t		     quorum;
	size_t		     n_timeouts; /* failures that were deadlines */
	uint8_t		    *candidate; /* [v->n] may hold the data */
} fanout;

/* Members still usable: healthy and not failed in this query. */
static size_t
fanout_members(fanout *f, uint32_t *out)
{
	uint8_t *healthy = hearth_arena_alloc(f->a, f->v->n ? f->v->n : 1);
	size_t	 n	 = 0;
	if (healthy == NULL)
		return 0;
	hearth_cluster_healthy(f->v, healthy);
	for (size_t i = 0; i < f->v->n; i++) {
		if (f->candidate != NULL && !f->candidate[i])
			continue; /* cannot hold the data: neither asked
				     nor missed */
		if (!healthy[i] && !f->failed[i]) {
			f->failed[i] = 1;
			f->why[i]    = "unhealthy (missed heartbeats)";
		}
		if (!f->failed[i])
			out[n++] = (uint32_t) i;
	}
	return n;
}

/* Logged once per member and query: which ingester made a query slow or
 * partial is what an operator asks first (health stops calling a dead
 * member within a heartbeat timeout, which bounds the lines). */
static void
fanout_fail(fanout *f, uint32_t m, const hearth_rpc_pending *c)
{
	char q[600];
	hearth_cluster_report(f->v->members[m], c->rc);
	if (f->failed[m])
		return;
	f->failed[m] = 1;
	f->n_timeouts += c->rc == HEARTH_ETIMEDOUT;
	f->why[m]    = hearth_arena_strdup(f->a, c->err.msg);
	if (f->why[m] == NULL)
		f->why[m] = "failed";
	if (f->q->deps.log != NULL)
		hearth_log_write(f->q->deps.log, HEARTH_LOG_WARN,
		    "ingester call failed", "member=%s call=%s tenant=%s err=%s",
		    f->v->members[m]->id, hearth_rpc_method_name(c->method),
		    f->tenant != NULL ? f->tenant : "",
		    hearth_log_quote(q, sizeof(q), f->why[m]));
}

/* The failed members into buf as "id, id" (with_why: "id (error), ..."),
 * cut to fit. */
static void
fanout_failed_names(const fanout *f, int with_why, char *buf, size_t size)
{
	size_t o = 0;
	buf[0]	 = '\0';
	for (size_t i = 0; i < f->v->n && o + 1 < size; i++) {
		if (!f->failed[i])
			continue;
		int w = with_why
		    ? snprintf(buf + o, size - o, "%s%s (%s)", o ? ", " : "",
			  f->v->members[i]->id, f->why[i])
		    : snprintf(buf + o, size - o, "%s%s", o ? ", " : "",
			  f->v->members[i]->id);
		if (w < 0)
			break;
		o += (size_t) w < size - o ? (size_t) w : size - o - 1;
	}
}

/* 0 while fewer than a quorum failed, else 503 naming them. */
static int
fanout_check(fanout *f, hearth_err *err)
{
	size_t n_failed = 0;
	for (size_t i = 0; i < f->v->n; i++)
		n_failed += f->failed[i];
	if (n_failed < f->quorum)
		return 0;
	char names[600];
	/* Everyone who failed ran out of the query's own time: that is the
	 * query timeout (the caller names the limit), not lost members; the
	 * members still silent are named (HEARTH_QUERIER_SILENT_PREFIX),
	 * which is what an operator looks for first. */
	if (n_failed == f->n_timeouts && f->meta.deadline_unix_ms > 0 &&
	    hearth_clock_unix_ms() >= f->meta.deadline_unix_ms) {
		fanout_failed_names(f, 0, names, 300);
		return hearth_err_set(err, HEARTH_ETIMEDOUT, "%s%s",
		    HEARTH_QUERIER_SILENT_PREFIX, names);
	}
	fanout_failed_names(f, 1, names, sizeof(names));
	return hearth_err_set(err, HEARTH_EUNAVAIL,
	    "%zu of %zu ingesters did not answer and they may hold the only "
	    "copies of some profiles (replication factor %zu answers "
	    "exactly with at most %zu missing): %s",
	    n_failed, f->v->n, f->v->replication_factor, f->quorum - 1,
	    names);
}

/* hearth_rpc_call_until's test for plans and label reads: everyone but
 * fewer than a quorum answered (the rest, if they stay silent, are
 * treated as failed: every profile still has an answering copy). */
typedef struct fanout_wait {
	size_t spare; /* how many may be missing: quorum - 1 - failed */
} fanout_wait;

static int
fanout_enough(void *ctx, const hearth_rpc_pending *calls, const int *done,
    size_t n)
{
	const fanout_wait *w	   = ctx;
	size_t		   missing = 0;
	for (size_t i = 0; i < n; i++)
		missing += !done[i] || calls[i].rc != 0;
	return missing <= w->spare;
}

/* A select's second copy: the same windows, merged by another member
 * that holds them all (body NULL: none can). */
typedef struct fanout_hedge {
	uint32_t member;
	uint8_t *body;
	size_t	 len;
} fanout_hedge;

/* Call members[0..n) with the same request (or bodies[i] when bodies is
 * not NULL); failed calls are noted. The answers stay in calls. With
 * may_skip, members still silent a grace period after all but fewer than
 * a quorum answered are given up on: FANOUT_SKIP_GRACE_MS for plans and
 * label reads (cheap), and for selects as long again as the others took
 * (at least FANOUT_SELECT_GRACE_MS; a lone select gets that floor). A
 * select straggler with a hedge (hedges[i]) is not given up: its windows
 * are also asked of the hedge member and the first answer is taken, so a
 * slow select (big series) still answers and a hung one costs about the
 * grace. One without a hedge fails the round, whose assignments were
 * exclusive: the caller plans again without that member. */
static hearth_rpc_pending *
fanout_call(fanout *f, const uint32_t *members, size_t n, uint32_t method,
    const uint8_t *body, size_t len, uint8_t **bodies, size_t *lens,
    const fanout_hedge *hedges, int may_skip)
{
	hearth_rpc_pending *calls = hearth_arena_calloc(f->a, n ? n : 1,
	    sizeof(*calls));
	if (calls == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		calls[i].client = f->v->members[members[i]]->client;
		calls[i].method = method;
		calls[i].body	= bodies != NULL ? bodies[i] : body;
		calls[i].len	= bodies != NULL ? lens[i] : len;
		if (hedges != NULL && hedges[i].body != NULL) {
			calls[i].hedge_client =
			    f->v->members[hedges[i].member]->client;
			calls[i].hedge_body = hedges[i].body;
			calls[i].hedge_len  = hedges[i].len;
		}
	}
	size_t n_failed = 0;
	for (size_t i = 0; i < f->v->n; i++)
		n_failed += f->failed[i];
	fanout_wait w = { .spare = f->quorum > n_failed + 1
			? f->quorum - n_failed - 1
			: 0 };
	if (may_skip && w.spare > 0)
		hearth_rpc_call_until(calls, n, &f->meta, f->a, fanout_enough,
		    &w,
		    method == HEARTH_RPC_SELECT ? -FANOUT_SELECT_GRACE_MS
		                                : FANOUT_SKIP_GRACE_MS);
	else
		hearth_rpc_call_all(calls, n, &f->meta, f->a);
	for (size_t i = 0; i < n; i++)
		if (calls[i].rc != 0) {
			/* A refusal of the request itself (bad selector, a
			 * limit) is the same on every member: not a failure
			 * of the member. */
			int rc = calls[i].rc;
			if (rc == HEARTH_EUNAVAIL || rc == HEARTH_ETIMEDOUT ||
			    rc == HEARTH_EIO || rc == HEARTH_ECORRUPT ||
			    rc == HEARTH_EINTERNAL)
				fanout_fail(f, members[i], &calls[i]);
		}
	return calls;
}

/* The first deterministic refusal among calls, or 0. */
static int
fanout_refused(const hearth_rpc_pending *calls, size_t n, hearth_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int rc = calls[i].rc;
		if (rc != 0 && rc != HEARTH_EUNAVAIL && rc != HEARTH_ETIMEDOUT &&
		    rc != HEARTH_EIO && rc != HEARTH_ECORRUPT &&
		    rc != HEARTH_EINTERNAL) {
			*err = calls[i].err;
			return rc;
		}
	}
	return 0;
}

static int
fanout_nomem(hearth_err *err)
{
	return hearth_err_set(err, HEARTH_ELIMIT,
	    "request memory limit reached while planning the query");
}

/* Phase 1: plans of every usable member into holds (sorted). */
static int
fanout_plan(fanout *f, const Hearth__Ingester__SelectRequest *sr,
    const uint32_t *members, size_t n, int64_t deadline_ms,
    fanout_hold **out, size_t *n_out, hearth_err *err)
{
	Hearth__Ingester__PlanRequest pr = HEARTH__INGESTER__PLAN_REQUEST__INIT;
	pr.selector = sr->selector;
	pr.start_ms = sr->start_ms;
	pr.end_ms   = sr->end_ms;
	size_t	 len = hearth__ingester__plan_request__get_packed_size(&pr);
	uint8_t *buf = hearth_arena_alloc(f->a, len ? len : 1);
	if (buf == NULL)
		return fanout_nomem(err);
	hearth__ingester__plan_request__pack(&pr, buf);
	int64_t saved		    = f->meta.deadline_unix_ms;
	f->meta.deadline_unix_ms    = deadline_ms;
	hearth_rpc_pending *calls   = fanout_call(f, members, n,
	      HEARTH_RPC_PLAN, buf, len, NULL, NULL, NULL, 1);
	f->meta.deadline_unix_ms    = saved;
	if (calls == NULL)
		return fanout_nomem(err);
	int rc = fanout_refused(calls, n, err);
	if (rc != 0)
		return rc;
	ProtobufCAllocator pa = { hearth_arena_pb_alloc, hearth_arena_pb_free, f->a };
	Hearth__Ingester__PlanResponse **resp = hearth_arena_calloc(f->a,
	    n ? n : 1, sizeof(*resp));
	if (resp == NULL)
		return fanout_nomem(err);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		if (calls[i].rc != 0)
			continue;
		resp[i] = hearth__ingester__plan_response__unpack(&pa,
		    calls[i].resp_len, calls[i].resp);
		if (resp[i] == NULL) {
			calls[i].rc = HEARTH_ECORRUPT;
			hearth_err_set(&calls[i].err, HEARTH_ECORRUPT,
			    "undecodable plan from %s",
			    f->v->members[members[i]]->id);
			fanout_fail(f, members[i], &calls[i]);
			continue;
		}
		for (size_t s = 0; s < resp[i]->n_series; s++)
			total += resp[i]->series[s]->n_window_start_ms;
	}
	fanout_hold *h = hearth_arena_alloc(f->a,
	    (total ? total : 1) * sizeof(*h));
	if (h == NULL)
		return fanout_nomem(err);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (resp[i] == NULL)
			continue;
		for (size_t s = 0; s < resp[i]->n_series; s++) {
			const Hearth__Ingester__PlanSeries *ps =
			    resp[i]->series[s];
			if (ps->n_count != ps->n_window_start_ms ||
			    ps->n_digest != ps->n_window_start_ms)
				return hearth_err_set(err, HEARTH_ECORRUPT,
				    "plan from %s has ragged window arrays",
				    f->v->members[members[i]]->id);
			for (size_t w = 0; w < ps->n_window_start_ms; w++) {
				memset(&h[k], 0, sizeof(h[k]));
				h[k].fp	     = ps->fp;
				h[k].w	     = ps->window_start_ms[w];
				h[k].count   = ps->count[w];
				h[k].digest  = ps->digest[w];
				h[k].member  = members[i];
				k++;
			}
		}
	}
	qsort(h, k, sizeof(*h), fanout_hold_cmp);
	*out   = h;
	*n_out = k;
	return 0;
}

/* Phase 2a: whole windows. Returns how many windows disagree. */
static size_t
fanout_assign_whole(fanout_hold *h, size_t n)
{
	size_t conflicts = 0;
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		int    agree = 1;
		while (j < n && h[j].fp == h[i].fp && h[j].w == h[i].w) {
			if (h[j].count != h[i].count ||
			    h[j].digest != h[i].digest)
				agree = 0;
			j++;
		}
		if (agree) {
			/* The same replica for every window of a series
			 * (while the holders are the same), spread by fp. */
			h[i + (size_t) (h[i].fp % (uint64_t) (j - i))]
			    .assigned = 1;
		} else {
			conflicts++;
			for (size_t k = i; k < j; k++)
				h[k].conflict = 1;
		}
		i = j;
	}
	return conflicts;
}

/* Phase 2b: windows whose holders disagree, resolved by their ids. */
static int
fanout_assign_ids(fanout *f, const Hearth__Ingester__SelectRequest *sr,
    fanout_hold *h, size_t n, const uint32_t *members, size_t n_members,
    hearth_err *err)
{
	/* One IdsRequest per member holding a disagreeing window. */
	uint8_t **bodies = hearth_arena_calloc(f->a, n_members ? n_members : 1,
	    sizeof(*bodies));
	size_t	 *lens	 = hearth_arena_calloc(f->a, n_members ? n_members : 1,
	      sizeof(*lens));
	uint32_t *ask	 = hearth_arena_alloc(f->a,
	     (n_members ? n_members : 1) * sizeof(*ask));
	if (bodies == NULL || lens == NULL || ask == NULL)
		return fanout_nomem(err);
	size_t n_ask = 0;
	for (size_t mi = 0; mi < n_members; mi++) {
		uint32_t m = members[mi];
		Hearth__Ingester__IdsRequest ir =
		    HEARTH__INGESTER__IDS_REQUEST__INIT;
		ir.selector = sr->selector;
		ir.start_ms = sr->start_ms;
		ir.end_ms   = sr->end_ms;
		size_t cap  = 0;
		for (size_t k = 0; k < n; k++)
			cap += h[k].member == m && h[k].conflict;
		if (cap == 0)
			continue;
		ir.wanted = hearth_arena_alloc(f->a, cap * sizeof(*ir.wanted));
		Hearth__Ingester__WindowIds *ws = hearth_arena_alloc(f->a,
		    cap * sizeof(*ws));
		if (ir.wanted == NULL || ws == NULL)
			return fanout_nomem(err);
		for (size_t k = 0; k < n; k++) {
			if (h[k].member != m || !h[k].conflict)
				continue;
			Hearth__Ingester__WindowIds *w = &ws[ir.n_wanted];
			hearth__ingester__window_ids__init(w);
			w->fp		   = h[k].fp;
			w->window_start_ms = h[k].w;
			ir.wanted[ir.n_wanted++] = w;
		}
		lens[n_ask] = hearth__ingester__ids_request__get_packed_size(&ir);
		bodies[n_ask] = hearth_arena_alloc(f->a, lens[n_ask]);
		if (bodies[n_ask] == NULL)
			return fanout_nomem(err);
		hearth__ingester__ids_request__pack(&ir, bodies[n_ask]);
		ask[n_ask++] = m;
	}
	hearth_rpc_pending *calls = fanout_call(f, ask, n_ask, HEARTH_RPC_IDS,
	    NULL, 0, bodies, lens, NULL, 0);
	if (calls == NULL)
		return fanout_nomem(err);
	int rc = fanout_refused(calls, n_ask, err);
	if (rc != 0)
		return rc;
	if ((rc = fanout_check(f, err)) != 0)
		return rc;
	for (size_t c = 0; c < n_ask; c++) {
		if (calls[c].rc != 0)
			return FANOUT_REPLAN; /* a member failed: plan again */
		ProtobufCAllocator pa = { hearth_arena_pb_alloc, hearth_arena_pb_free, f->a };
		Hearth__Ingester__IdsResponse *r =
		    hearth__ingester__ids_response__unpack(&pa,
			calls[c].resp_len, calls[c].resp);
		if (r == NULL)
			return hearth_err_set(err, HEARTH_ECORRUPT,
			    "undecodable ids from %s",
			    f->v->members[ask[c]]->id);
		for (size_t k = 0; k < r->n_windows; k++) {
			fanout_hold key = { .fp = r->windows[k]->fp,
				.w	= r->windows[k]->window_start_ms,
				.member = ask[c] };
			fanout_hold *e = bsearch(&key, h, n, sizeof(*h),
			    fanout_hold_cmp);
			if (e == NULL)
				continue;
			e->held	  = r->windows[k]->ids;
			e->n_held = r->windows[k]->n_ids;
			qsort(r->windows[k]->ids, r->windows[k]->n_ids,
			    sizeof(ProtobufCBinaryData), fanout_id_cmp);
		}
	}
	/* Split each disagreeing window: the fullest holder its ids, then
	 * each next one only the ids not taken yet. */
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && h[j].fp == h[i].fp && h[j].w == h[i].w)
			j++;
		if (!h[i].conflict) {
			i = j;
			continue;
		}
		size_t total = 0;
		for (size_t k = i; k < j; k++)
			total += h[k].n_held;
		const ProtobufCBinaryData **taken = hearth_arena_alloc(f->a,
		    (total ? total : 1) * sizeof(*taken));
		ProtobufCBinaryData *extra = hearth_arena_alloc(f->a,
		    (total ? total : 1) * sizeof(*extra));
		if (taken == NULL || extra == NULL)
			return fanout_nomem(err);
		size_t n_taken = 0;
		for (size_t round = i; round < j; round++) {
			size_t best = j;
			for (size_t k = i; k < j; k++)
				if (!h[k].assigned && h[k].held != NULL &&
				    (best == j || h[k].n_held > h[best].n_held))
					best = k;
			if (best == j)
				break;
			size_t n_new = 0;
			ProtobufCBinaryData *mine = extra + n_taken;
			for (size_t x = 0; x < h[best].n_held; x++) {
				int seen = 0;
				for (size_t t = 0; t < n_taken && !seen; t++)
					seen = fanout_id_cmp(taken[t],
						   &h[best].held[x]) == 0;
				if (!seen)
					mine[n_new++] = h[best].held[x];
			}
			for (size_t x = 0; x < n_new; x++)
				taken[n_taken + x] = &mine[x];
			n_taken += n_new;
			/* Always the explicit ids, even when they are all the
			 * holder has: a whole window would also take profiles
			 * that arrive after this listing, which another holder
			 * may be merging from its own list. */
			h[best].assigned = n_new > 0 ? 2 : 3; /* 3: skip */
			h[best].ids	 = mine;
			h[best].n_ids	 = n_new;
		}
		i = j;
	}
	return 0;
}

/* Phase 3: the SelectRequest of member m with its assignments; *empty
 * when nothing was assigned to it. */
static int
fanout_select_body(fanout *f, const Hearth__Ingester__SelectRequest *sr,
    const fanout_hold *h, size_t n, uint32_t m, uint8_t **body, size_t *len,
    int *empty, hearth_err *err)
{
	Hearth__Ingester__SelectRequest r = *sr;
	r.dedup	   = 1;
	r.n_assign = 0;
	size_t series = 0; /* an upper bound: m's entries */
	for (size_t i = 0; i < n; i++)
		series += h[i].member == m;
	r.assign = hearth_arena_alloc(f->a,
	    (series ? series : 1) * sizeof(*r.assign));
	if (r.assign == NULL)
		return fanout_nomem(err);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && h[j].fp == h[i].fp)
			j++;
		/* Entries of member m for series h[i].fp. `all` only when
		 * m merges every window of the series, whoever holds it:
		 * otherwise a window created after the plan (an hour
		 * boundary while ingesting) could be merged by m through
		 * `all` and by the member it was assigned to. */
		size_t held = 0, whole = 0, part = 0, others = 0;
		for (size_t k = i; k < j; k++) {
			if (h[k].member != m) {
				others += h[k].assigned == 1 ||
				    h[k].assigned == 2;
				continue;
			}
			held++;
			whole += h[k].assigned == 1;
			part += h[k].assigned == 2;
		}
		if (whole + part > 0) {
			Hearth__Ingester__SeriesAssign *sa = hearth_arena_alloc(
			    f->a, sizeof(*sa));
			int64_t *ws = hearth_arena_alloc(f->a,
			    (whole ? whole : 1) * sizeof(*ws));
			Hearth__Ingester__WindowIds **ps = hearth_arena_alloc(
			    f->a, (part ? part : 1) * sizeof(*ps));
			if (sa == NULL || ws == NULL || ps == NULL)
				return fanout_nomem(err);
			hearth__ingester__series_assign__init(sa);
			sa->fp = h[i].fp;
			if (whole == held && others == 0) {
				sa->all = 1;
			} else {
				sa->windows = ws;
				sa->partial = ps;
				for (size_t k = i; k < j; k++) {
					if (h[k].member != m)
						continue;
					if (h[k].assigned == 1)
						ws[sa->n_windows++] = h[k].w;
					else if (h[k].assigned == 2) {
						Hearth__Ingester__WindowIds *w =
						    hearth_arena_alloc(f->a,
							sizeof(*w));
						if (w == NULL)
							return fanout_nomem(
							    err);
						hearth__ingester__window_ids__init(
						    w);
						w->fp		   = h[k].fp;
						w->window_start_ms = h[k].w;
						w->ids		   = (
						    ProtobufCBinaryData *)
						    h[k].ids;
						w->n_ids  = h[k].n_ids;
						ps[sa->n_partial++] = w;
					}
				}
			}
			r.assign[r.n_assign++] = sa;
		}
		i = j;
	}
	*empty = r.n_assign == 0;
	if (*empty)
		return 0;
	*len  = hearth__ingester__select_request__get_packed_size(&r);
	*body = hearth_arena_alloc(f->a, *len ? *len : 1);
	if (*body == NULL)
		return fanout_nomem(err);
	hearth__ingester__select_request__pack(&r, *body);
	return 0;
}

/* Does member t hold every window assigned whole to m? (h sorted by fp,
 * window, member.) 0 when m was given explicit ids anywhere: those ids
 * are only known to be on m. */
static int
fanout_can_hedge(const fanout_hold *h, size_t n, uint32_t m, uint32_t t)
{
	size_t whole = 0;
	for (size_t i = 0; i < n; i++) {
		if (h[i].member != m || h[i].assigned == 0 ||
		    h[i].assigned == 3)
			continue;
		if (h[i].assigned != 1)
			return 0;
		fanout_hold key = { .fp = h[i].fp, .w = h[i].w, .member = t };
		if (bsearch(&key, h, n, sizeof(*h), fanout_hold_cmp) == NULL)
			return 0;
		whole++;
	}
	return whole > 0;
}

/* The hedge of member m's select: the windows assigned whole to m, as
 * explicit windows (never `all`: the hedge member's other windows of a
 * series may be another member's), asked of the first usable member
 * after m that holds them all. hedge->body NULL when none does. */
static int
fanout_hedge_body(fanout *f, const Hearth__Ingester__SelectRequest *sr,
    const fanout_hold *h, size_t n, uint32_t m, const uint32_t *members,
    size_t n_members, fanout_hedge *hedge, hearth_err *err)
{
	hedge->body = NULL;
	size_t at   = 0;
	while (at < n_members && members[at] != m)
		at++;
	int found = 0;
	for (size_t k = 1; k < n_members && !found; k++) {
		uint32_t t = members[(at + k) % n_members];
		if (t != m && fanout_can_hedge(h, n, m, t)) {
			hedge->member = t;
			found	      = 1;
		}
	}
	if (!found)
		return 0;
	Hearth__Ingester__SelectRequest r = *sr;
	r.dedup	   = 1;
	r.n_assign = 0;
	size_t mine = 0;
	for (size_t i = 0; i < n; i++)
		mine += h[i].member == m && h[i].assigned == 1;
	r.assign = hearth_arena_alloc(f->a, mine * sizeof(*r.assign));
	int64_t *ws = hearth_arena_alloc(f->a, mine * sizeof(*ws));
	Hearth__Ingester__SeriesAssign *sa = hearth_arena_alloc(f->a,
	    mine * sizeof(*sa));
	if (r.assign == NULL || ws == NULL || sa == NULL)
		return fanout_nomem(err);
	for (size_t i = 0; i < n; i++) {
		if (h[i].member != m || h[i].assigned != 1)
			continue;
		Hearth__Ingester__SeriesAssign *cur = r.n_assign > 0
		    ? r.assign[r.n_assign - 1]
		    : NULL;
		if (cur == NULL || cur->fp != h[i].fp) {
			cur = &sa[r.n_assign];
			hearth__ingester__series_assign__init(cur);
			cur->fp		       = h[i].fp;
			cur->windows	       = ws;
			r.assign[r.n_assign++] = cur;
		}
		cur->windows[cur->n_windows++] = h[i].w;
		ws++;
	}
	hedge->len  = hearth__ingester__select_request__get_packed_size(&r);
	hedge->body = hearth_arena_alloc(f->a, hedge->len ? hedge->len : 1);
	if (hedge->body == NULL)
		return fanout_nomem(err);
	hearth__ingester__select_request__pack(&r, hedge->body);
	return 0;
}

/* Logged and counted: a select that had to be hedged is what an operator
 * looks at when queries are slower than their data explains. */
static void
fanout_note_hedges(fanout *f, const uint32_t *ask, const fanout_hedge *hedges,
    const hearth_rpc_pending *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!calls[i].hedged)
			continue;
		const char *won = calls[i].hedged == 2 ? "hedge"
		    : calls[i].rc == 0		       ? "original"
						       : "neither";
		if (f->q->m_hedges != NULL) {
			const char *lv[] = { f->tenant != NULL ? f->tenant : "",
				won };
			hearth_metric_add(f->q->m_hedges, lv, 1);
		}
		if (f->q->deps.log != NULL)
			hearth_log_write(f->q->deps.log, HEARTH_LOG_WARN,
			    "ingester select hedged",
			    "member=%s hedge=%s answered=%s tenant=%s",
			    f->v->members[ask[i]]->id,
			    f->v->members[hedges[i].member]->id, won,
			    f->tenant != NULL ? f->tenant : "");
	}
}

/* One round of plan → assign → select; FANOUT_REPLAN when a member
 * failed after planning (the caller plans again without it). */
static int
fanout_select_round(fanout *f, const Hearth__Ingester__SelectRequest *sr,
    int64_t deadline_ms, hearth_querier_each_fn fn, void *ctx,
    hearth_err *err)
{
	int	  rc;
	uint32_t *members = hearth_arena_alloc(f->a,
	    (f->v->n ? f->v->n : 1) * sizeof(*members));
	if (members == NULL)
		return fanout_nomem(err);
	size_t n = fanout_members(f, members);
	if ((rc = fanout_check(f, err)) != 0)
		return rc;
	/* The plan may take a third of what is left: a hung member must
	 * leave time for the select of the others. */
	int64_t now = hearth_clock_unix_ms(), plan_deadline = 0;
	if (deadline_ms > 0 && now >= deadline_ms) {
		/* A re-plan with no time left: the members already given up
		 * are the ones to name, not those a plan could not reach. */
		char names[300];
		fanout_failed_names(f, 0, names, sizeof(names));
		return hearth_err_set(err, HEARTH_ETIMEDOUT, "%s%s",
		    HEARTH_QUERIER_SILENT_PREFIX, names);
	}
	if (deadline_ms > 0)
		plan_deadline = now + (deadline_ms > now ? (deadline_ms - now) / 3
							  : 0);
	fanout_hold *h	= NULL;
	size_t	     nh = 0;
	rc = fanout_plan(f, sr, members, n, plan_deadline, &h, &nh, err);
	if (rc != 0)
		return rc;
	if ((rc = fanout_check(f, err)) != 0)
		return rc;
	n = fanout_members(f, members);
	if (fanout_assign_whole(h, nh) > 0 &&
	    (rc = fanout_assign_ids(f, sr, h, nh, members, n, err)) != 0)
		return rc;
	uint8_t **bodies = hearth_arena_calloc(f->a, n ? n : 1,
	    sizeof(*bodies));
	size_t	 *lens	 = hearth_arena_calloc(f->a, n ? n : 1, sizeof(*lens));
	uint32_t *ask	 = hearth_arena_alloc(f->a, (n ? n : 1) * sizeof(*ask));
	if (bodies == NULL || lens == NULL || ask == NULL)
		return fanout_nomem(err);
	fanout_hedge *hedges = hearth_arena_calloc(f->a, n ? n : 1,
	    sizeof(*hedges));
	if (hedges == NULL)
		return fanout_nomem(err);
	size_t n_ask = 0;
	for (size_t i = 0; i < n; i++) {
		int empty = 1;
		rc = fanout_select_body(f, sr, h, nh, members[i],
		    &bodies[n_ask], &lens[n_ask], &empty, err);
		if (rc != 0)
			return rc;
		if (empty)
			continue;
		rc = fanout_hedge_body(f, sr, h, nh, members[i], members, n,
		    &hedges[n_ask], err);
		if (rc != 0)
			return rc;
		ask[n_ask++] = members[i];
	}
	hearth_rpc_pending *calls = fanout_call(f, ask, n_ask,
	    HEARTH_RPC_SELECT, NULL, 0, bodies, lens, hedges, 1);
	if (calls == NULL)
		return fanout_nomem(err);
	fanout_note_hedges(f, ask, hedges, calls, n_ask);
	if ((rc = fanout_refused(calls, n_ask, err)) != 0)
		return rc;
	for (size_t i = 0; i < n_ask; i++)
		if (calls[i].rc != 0)
			return (rc = fanout_check(f, err)) != 0
			    ? rc
			    : FANOUT_REPLAN;
	for (size_t i = 0; i < n_ask; i++)
		if ((rc = fn(ctx, calls[i].resp, calls[i].resp_len, f->a,
			 err)) != 0)
			return rc;
	return 0;
}

int
hearth_querier_fanout_tenant(hearth_querier *q, const char *tenant,
    uint32_t method, const uint8_t *req, size_t len, hearth_arena *a,
    int64_t deadline_ms, hearth_querier_each_fn fn, void *ctx,
    hearth_err *err)
{
	fanout f = { .q = q, .tenant = tenant, .a = a };
	f.meta.tenant		= tenant;
	f.meta.request_id	= "";
	f.meta.deadline_unix_ms = deadline_ms;
	f.v			= hearth_cluster_acquire(q->deps.cluster);
	int rc			= 0;
	f.failed = hearth_arena_calloc(a, f.v->n ? f.v->n : 1, 1);
	f.why	 = hearth_arena_calloc(a, f.v->n ? f.v->n : 1, sizeof(char *));
	f.quorum = hearth_ring_quorum(f.v->ring, f.v->replication_factor);
	if (f.failed == NULL || f.why == NULL) {
		rc = fanout_nomem(err);
		goto out;
	}
	if (f.v->n == 0) {
		rc = hearth_err_set(err, HEARTH_EUNAVAIL,
		    "no ingester in the ring (check -ring.members, -ring.dns "
		    "or -ring.etcd-endpoints)");
		goto out;
	}
	Hearth__Ingester__SelectRequest *sr = NULL;
	if (method == HEARTH_RPC_SELECT) {
		ProtobufCAllocator pa = { hearth_arena_pb_alloc,
			hearth_arena_pb_free, a };
		sr = hearth__ingester__select_request__unpack(&pa, len, req);
		if (sr == NULL) {
			rc = hearth_err_set(err, HEARTH_EINTERNAL,
			    "querier: cannot decode its own select request");
			goto out;
		}
		/* Only the members that can hold the selected service. */
		f.candidate = hearth_arena_alloc(a, f.v->n);
		if (f.candidate != NULL)
			hearth_querier_services_candidates(q, f.v, tenant,
			    sr->selector, a, f.candidate);
	}
	/* With one copy of every profile (RF 1) there is nothing to
	 * de-duplicate: every member merges all it holds. */
	if (method != HEARTH_RPC_SELECT || f.v->replication_factor <= 1 ||
	    f.v->n == 1) {
		uint32_t *members = hearth_arena_alloc(a,
		    f.v->n * sizeof(*members));
		if (members == NULL) {
			rc = fanout_nomem(err);
			goto out;
		}
		size_t n = fanout_members(&f, members);
		if ((rc = fanout_check(&f, err)) != 0)
			goto out;
		hearth_rpc_pending *calls = fanout_call(&f, members, n, method,
		    req, len, NULL, NULL, NULL, 1);
		if (calls == NULL) {
			rc = fanout_nomem(err);
			goto out;
		}
		if ((rc = fanout_refused(calls, n, err)) != 0 ||
		    (rc = fanout_check(&f, err)) != 0)
			goto out;
		for (size_t i = 0; i < n && rc == 0; i++)
			if (calls[i].rc == 0)
				rc = fn(ctx, calls[i].resp, calls[i].resp_len,
				    a, err);
		goto out;
	}
	for (int round = 0; round < FANOUT_MAX_ROUNDS; round++) {
		rc = fanout_select_round(&f, sr, deadline_ms, fn, ctx, err);
		if (rc != FANOUT_REPLAN)
			break;
	}
	if (rc == FANOUT_REPLAN && (rc = fanout_check(&f, err)) == 0)
		rc = hearth_err_set(err, HEARTH_EUNAVAIL,
			  "ingesters kept failing during the query; retry");
out:
	hearth_cluster_release(f.v);
	return rc;
}
