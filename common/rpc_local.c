/* In-process calls between a client and a server that share a
 * hearth_rpc_local (rpc_impl.h explains the registry and the lifetimes). */
#include "rpc_impl.h"

#include "clock.h"
#include "rpc.pb-c.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

struct hearth_rpc_local {
	pthread_mutex_t	    mu;
	hearth_rpc_server **servers; /* started, not stopping */
	size_t		    n, cap;
};

int
hearth_rpc_local_new(hearth_rpc_local **out, hearth_err *err)
{
	hearth_rpc_local *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "rpc: out of memory");
	pthread_mutex_init(&l->mu, NULL);
	*out = l;
	return 0;
}

void
hearth_rpc_local_free(hearth_rpc_local *l)
{
	if (l == NULL)
		return;
	/* Every server given it has stopped (rpc.h). */
	HEARTH_ASSERT(l->n == 0);
	pthread_mutex_destroy(&l->mu);
	free(l->servers);
	free(l);
}

void
hearth_rpc_server_set_local(hearth_rpc_server *s, hearth_rpc_local *l)
{
	HEARTH_ASSERT(!s->started);
	s->reg = l;
}

void
hearth_rpc_client_set_local(hearth_rpc_client *c, hearth_rpc_local *l)
{
	c->reg = l;
}

/* ---- server ------------------------------------------------------------- */

int
rpc_local_server_start(hearth_rpc_server *s)
{
	hearth_rpc_local *l = s->reg;
	if (l == NULL)
		return 0;
	s->slots = calloc(s->n_workers, sizeof(*s->slots));
	if (s->slots == NULL)
		return HEARTH_ENOMEM;
	for (unsigned i = 0; i < s->n_workers; i++) {
		hearth_buf_init(&s->slots[i].resp);
		s->slots[i].arena = hearth_arena_new(rpc_arena_cap(s->max_msg));
		if (s->slots[i].arena == NULL)
			return HEARTH_ENOMEM;
	}
	pthread_mutex_lock(&l->mu);
	if (l->n == l->cap) {
		size_t		    nc = l->cap ? l->cap * 2 : 4;
		hearth_rpc_server **ns = realloc(l->servers, nc * sizeof(*ns));
		if (ns == NULL) {
			pthread_mutex_unlock(&l->mu);
			return HEARTH_ENOMEM;
		}
		l->servers = ns;
		l->cap	   = nc;
	}
	l->servers[l->n++] = s;
	s->registered	   = 1;
	pthread_mutex_unlock(&l->mu);
	return 0;
}

void
rpc_local_server_stop(hearth_rpc_server *s)
{
	hearth_rpc_local *l = s->reg;
	if (l == NULL)
		return;
	/* No new caller can find it ... */
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; s->registered && i < l->n; i++)
		if (l->servers[i] == s) {
			l->servers[i] = l->servers[--l->n];
			s->registered = 0;
		}
	pthread_mutex_unlock(&l->mu);
	/* ... callers waiting for a turn give up (s->stopping is set), and
	 * running handlers finish first (rpc.h: stop waits). */
	pthread_mutex_lock(&s->mu);
	pthread_cond_broadcast(&s->slot_cv);
	while (s->entered > 0)
		pthread_cond_wait(&s->slot_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

void
rpc_local_server_free(hearth_rpc_server *s)
{
	for (unsigned i = 0; s->slots != NULL && i < s->n_workers; i++) {
		hearth_arena_free(s->slots[i].arena);
		hearth_buf_fini(&s->slots[i].resp);
	}
	free(s->slots);
	s->slots = NULL;
}

/* ---- client ------------------------------------------------------------- */

/* The started server of c's URL in c's registry, with this caller counted
 * in (so it outlives the call), or NULL: use nng. */
static hearth_rpc_server *
rpc_local_enter(hearth_rpc_client *c)
{
	hearth_rpc_local  *l = c->reg;
	hearth_rpc_server *s = NULL;
	pthread_mutex_lock(&l->mu);
	for (size_t i = 0; i < l->n && s == NULL; i++)
		if (strcmp(l->servers[i]->url, c->url) == 0)
			s = l->servers[i];
	if (s != NULL) {
		pthread_mutex_lock(&s->mu);
		if (s->stopping)
			s = (pthread_mutex_unlock(&s->mu), NULL);
		else {
			s->entered++;
			pthread_mutex_unlock(&s->mu);
		}
	}
	pthread_mutex_unlock(&l->mu);
	return s;
}

static void
rpc_local_leave(hearth_rpc_server *s)
{
	pthread_mutex_lock(&s->mu);
	if (--s->entered == 0)
		pthread_cond_broadcast(&s->slot_cv);
	pthread_mutex_unlock(&s->mu);
}

/* One of the server's `workers` turns for in-process calls: the slot, or
 * NULL with *rc set (deadline passed while waiting, or the server is
 * stopping). */
static rpc_slot *
rpc_local_turn(hearth_rpc_client *c, hearth_rpc_server *s, int64_t deadline,
    hearth_err *err, int *rc)
{
	rpc_slot *slot = NULL;
	pthread_mutex_lock(&s->mu);
	while (!s->stopping && s->running >= s->n_workers) {
		if (deadline == 0) {
			pthread_cond_wait(&s->slot_cv, &s->mu);
			continue;
		}
		/* The deadline is wall-clock, like the condition's clock. */
		struct timespec ts = { deadline / 1000,
			(deadline % 1000) * 1000000L };
		if (pthread_cond_timedwait(&s->slot_cv, &s->mu, &ts) != 0 &&
		    !s->stopping && s->running >= s->n_workers) {
			pthread_mutex_unlock(&s->mu);
			*rc = rpc_call_fail(c, NNG_ETIMEDOUT, "", err);
			return NULL;
		}
	}
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		*rc = hearth_err_set(err, HEARTH_EUNAVAIL,
		    "rpc: connection to %s lost: the server is stopping",
		    c->url);
		return NULL;
	}
	s->running++;
	for (unsigned i = 0; i < s->n_workers; i++)
		if (!s->slots[i].used) {
			slot	   = &s->slots[i];
			slot->used = 1;
			break;
		}
	pthread_mutex_unlock(&s->mu);
	HEARTH_ASSERT(slot != NULL); /* running <= n_workers slots in use */
	return slot;
}

static void
rpc_local_turn_end(hearth_rpc_server *s, rpc_slot *slot)
{
	hearth_arena_reset(slot->arena);
	if (slot->resp.cap > ((size_t) 1 << 20))
		hearth_buf_fini(&slot->resp);
	pthread_mutex_lock(&s->mu);
	slot->used = 0;
	s->running--;
	pthread_cond_signal(&s->slot_cv);
	pthread_mutex_unlock(&s->mu);
}

/* The handler's outcome as the nng path reports it: its code and
 * message (only hearth codes cross the wire, rpc.c's decode), the
 * response size limits, and the body copied into the caller's arena. */
static int
rpc_local_outcome(hearth_rpc_client *c, hearth_rpc_server *s,
    uint32_t method, int hrc, const hearth_err *herr, const hearth_buf *out,
    hearth_arena *arena, const uint8_t **resp, size_t *resp_len,
    hearth_err *err)
{
	if (hrc < 0) {
		int code = hrc >= HEARTH_EINTERNAL ? hrc : HEARTH_EINTERNAL;
		return hearth_err_set(err, code, "%s",
		    herr->msg[0] != '\0' ? herr->msg : hearth_strerror(hrc));
	}
	if (hearth_buf_failed(out))
		return hearth_err_set(err, HEARTH_ETOOLARGE,
		    "rpc: response to method %u (%s) exceeds the max message "
		    "size of %zu bytes",
		    method, hearth_rpc_method_name(method), s->max_msg);
	Hearth__Rpc__Response env = HEARTH__RPC__RESPONSE__INIT;
	env.body.data		  = (uint8_t *) out->data;
	env.body.len		  = out->len;
	size_t sz		  = hearth__rpc__response__get_packed_size(&env);
	if (sz > s->max_msg)
		return hearth_err_set(err, HEARTH_ETOOLARGE,
		    "rpc: response of %zu bytes exceeds the max message size "
		    "of %zu bytes",
		    sz, s->max_msg);
	if (out->len == 0)
		return 0;
	uint8_t *p = hearth_arena_alloc(arena, out->len);
	if (p == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "rpc: response of %zu bytes from %s does not fit the "
		    "request memory cap",
		    sz, c->url);
	memcpy(p, out->data, out->len);
	*resp	  = p;
	*resp_len = out->len;
	return 0;
}

/* The checks rpc_pack and rpc_handle make, then the handler. */
static int
rpc_local_run(hearth_rpc_client *c, hearth_rpc_server *s, uint32_t method,
    const hearth_rpc_meta *meta, const uint8_t *body, size_t len,
    const void *decoded, hearth_arena *arena, const uint8_t **resp, size_t *resp_len,
    hearth_err *err)
{
	Hearth__Rpc__Request rq	      = HEARTH__RPC__REQUEST__INIT;
	int64_t		     deadline = meta != NULL ? meta->deadline_unix_ms : 0;
	int		     expired, rc = 0;
	hearth_rpc_meta	     hm = { "", "", deadline, decoded };
	if (meta != NULL && meta->tenant != NULL)
		hm.tenant = meta->tenant;
	if (meta != NULL && meta->request_id != NULL)
		hm.request_id = meta->request_id;
	rq.method	    = method;
	rq.tenant	    = (char *) hm.tenant;
	rq.request_id	    = (char *) hm.request_id;
	rq.deadline_unix_ms = deadline;
	rq.body.data	    = (uint8_t *) body;
	rq.body.len	    = len;
	size_t sz	    = hearth__rpc__request__get_packed_size(&rq);
	if (sz > c->max_msg)
		return hearth_err_set(err, HEARTH_ETOOLARGE,
		    "rpc: request of %zu bytes exceeds the max message size "
		    "of %zu bytes calling %s",
		    sz, c->max_msg, c->url);
	rpc_remaining(deadline, &expired);
	if (expired)
		return rpc_call_fail(c, NNG_ETIMEDOUT, "", err);
	if (sz > s->max_msg)
		return hearth_err_set(err, HEARTH_ETOOLARGE,
		    "rpc: request of %zu bytes exceeds the max message size "
		    "of %zu bytes",
		    sz, s->max_msg);
	rpc_slot *slot = rpc_local_turn(c, s, deadline, err, &rc);
	if (slot == NULL)
		return rc;
	if (deadline != 0 && hearth_clock_unix_ms() > deadline) {
		rpc_local_turn_end(s, slot);
		return hearth_err_set(err, HEARTH_ETIMEDOUT,
		    "rpc: deadline exceeded before the request was handled");
	}
	hearth_err herr;
	hearth_err_clear(&herr);
	hearth_buf_reset(&slot->resp);
	slot->resp.failed = 0;
	slot->resp.limit  = s->max_msg;
	int hrc = s->h(s->hctx, method, &hm, body, len, slot->arena,
	    &slot->resp, &herr);
	rc = rpc_local_outcome(c, s, method, hrc, &herr, &slot->resp, arena,
	    resp, resp_len, err);
	rpc_local_turn_end(s, slot);
	return rc;
}

int
rpc_local_call(hearth_rpc_client *c, uint32_t method,
    const hearth_rpc_meta *meta, const uint8_t *body, size_t len,
    const void *decoded, hearth_arena *arena, const uint8_t **resp, size_t *resp_len,
    hearth_err *err, int *rc)
{
	/* Only methods whose handlers are short: the caller gets control
	 * back when the handler returns, not at the deadline as over nng,
	 * so a query (which may scan for long) keeps the hop. */
	if (c->reg == NULL ||
	    (method != HEARTH_RPC_PUSH && method != HEARTH_RPC_PING))
		return 0;
	hearth_rpc_server *s = rpc_local_enter(c);
	if (s == NULL)
		return 0;
	*resp	  = NULL;
	*resp_len = 0;
	*rc = rpc_local_run(c, s, method, meta, body, len, decoded, arena,
	    resp, resp_len, err);
	rpc_local_leave(s);
	return 1;
}
