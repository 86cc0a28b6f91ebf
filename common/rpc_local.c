/* In-process calls between a client and a server of one inproc:// URL
 * (rpc_impl.h explains the link and its lifetime). */
#include "rpc_impl.h"

#include "rpc.pb-c.h"

#include <nng/protocol/reqrep0/req.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The hello: a body no Request envelope can have (a protobuf message
 * never starts with a zero byte: field number 0 is invalid), then the
 * link's address. */
static const uint8_t rpc_hello_magic[] = { 0, 'h', 'e', 'a', 'r', 't', 'h',
	'-', 'l', 'o', 'c', 'a', 'l', 0 };
#define RPC_HELLO_LEN (sizeof(rpc_hello_magic) + sizeof(rpc_link *))
/* A hello waits at most this long for its answer (the call goes on over
 * nng if it has not come). */
#define RPC_HELLO_WAIT_MS 1000

static void
rpc_link_unref(rpc_link *l)
{
	if (atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	pthread_cond_destroy(&l->cv);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

/* ---- server ------------------------------------------------------------- */

int
rpc_local_server_init(hearth_rpc_server *s)
{
	if (!s->local)
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
	return 0;
}

void
rpc_local_server_stop(hearth_rpc_server *s)
{
	if (!s->local)
		return;
	pthread_mutex_lock(&s->mu);
	/* Calls waiting for a turn give up (s->stopping is set). */
	pthread_cond_broadcast(&s->slot_cv);
	rpc_link **links = s->links;
	size_t	   n	 = s->n_links;
	s->links	 = NULL;
	s->n_links = s->cap_links = 0;
	pthread_mutex_unlock(&s->mu);
	for (size_t i = 0; i < n; i++) {
		rpc_link *l = links[i];
		pthread_mutex_lock(&l->mu);
		l->s	 = NULL;
		l->state = RPC_LINK_DETACHED;
		/* Running handlers finish first (rpc.h: stop waits). */
		while (l->busy > 0)
			pthread_cond_wait(&l->cv, &l->mu);
		pthread_mutex_unlock(&l->mu);
		rpc_link_unref(l);
	}
	free(links);
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
	/* Links are released by stop; a server that never started has
	 * none. */
	free(s->links);
	s->links = NULL;
}

/* Attach l to s (mu held): the hello's reference becomes the server's.
 * Links whose client is gone (only the server's reference left) are
 * dropped on the way, so the list stays as long as the live clients. */
static int
rpc_local_attach_locked(hearth_rpc_server *s, rpc_link *l)
{
	size_t k = 0;
	for (size_t i = 0; i < s->n_links; i++) {
		if (atomic_load(&s->links[i]->refs) == 1)
			rpc_link_unref(s->links[i]);
		else
			s->links[k++] = s->links[i];
	}
	s->n_links = k;
	if (s->n_links == s->cap_links) {
		size_t	   nc = s->cap_links ? s->cap_links * 2 : 4;
		rpc_link **nl = realloc(s->links, nc * sizeof(*nl));
		if (nl == NULL)
			return HEARTH_ENOMEM;
		s->links     = nl;
		s->cap_links = nc;
	}
	s->links[s->n_links++] = l;
	pthread_mutex_lock(&l->mu);
	l->s	 = s;
	l->state = RPC_LINK_ATTACHED;
	pthread_mutex_unlock(&l->mu);
	return 0;
}

int
rpc_local_hello_recv(rpc_worker *w, nng_msg *m)
{
	hearth_rpc_server *s = w->s;
	rpc_link	  *l;
	nng_msg		  *reply;
	if (nng_msg_len(m) != RPC_HELLO_LEN ||
	    memcmp(nng_msg_body(m), rpc_hello_magic, sizeof(rpc_hello_magic)) !=
		0)
		return 0;
	memcpy(&l, (const uint8_t *) nng_msg_body(m) + sizeof(rpc_hello_magic),
	    sizeof(l));
	nng_msg_free(m);
	pthread_mutex_lock(&s->mu);
	int rc = s->stopping ? HEARTH_EUNAVAIL : rpc_local_attach_locked(s, l);
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		/* Not attached: the client keeps using nng (and may say
		 * hello to a later server). */
		pthread_mutex_lock(&l->mu);
		if (l->state == RPC_LINK_PENDING)
			l->state = RPC_LINK_NONE;
		pthread_mutex_unlock(&l->mu);
		rpc_link_unref(l);
		rpc_worker_recv(w);
		return 1;
	}
	if (nng_msg_alloc(&reply, 0) != 0) {
		/* The client finds the link attached when it next calls. */
		rpc_worker_recv(w);
		return 1;
	}
	w->state = RPC_SEND;
	nng_aio_set_msg(w->aio, reply);
	nng_ctx_send(w->ctx, w->aio);
	return 1;
}

/* ---- client ------------------------------------------------------------- */

int
rpc_local_client_init(hearth_rpc_client *c)
{
	if (strncmp(c->url, "inproc://", 9) != 0)
		return 0;
	rpc_link *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return HEARTH_ENOMEM;
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	atomic_init(&l->refs, 1);
	l->state = RPC_LINK_NONE;
	c->link	 = l;
	return 0;
}

void
rpc_local_client_free(hearth_rpc_client *c)
{
	if (c->link != NULL)
		rpc_link_unref(c->link);
	c->link = NULL;
}

/* Send the hello and wait (briefly) for its answer. The message holds a
 * reference to the link until the server takes it over. */
static void
rpc_local_hello(hearth_rpc_client *c, int64_t deadline)
{
	rpc_link *l = c->link;
	nng_ctx	  ctx;
	nng_aio	 *aio = NULL;
	nng_msg	 *m;
	int	  expired;
	if (nng_msg_alloc(&m, RPC_HELLO_LEN) != 0)
		goto undo;
	memcpy(nng_msg_body(m), rpc_hello_magic, sizeof(rpc_hello_magic));
	memcpy((uint8_t *) nng_msg_body(m) + sizeof(rpc_hello_magic), &l,
	    sizeof(l));
	if (nng_ctx_open(&ctx, c->sock) != 0) {
		nng_msg_free(m);
		goto undo;
	}
	nng_ctx_set_ms(ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_duration t = rpc_remaining(deadline, &expired);
	if (t == NNG_DURATION_INFINITE || t > RPC_HELLO_WAIT_MS)
		t = RPC_HELLO_WAIT_MS;
	if (expired || nng_aio_alloc(&aio, NULL, NULL) != 0) {
		nng_msg_free(m);
		nng_ctx_close(ctx);
		goto undo;
	}
	atomic_fetch_add(&l->refs, 1);
	nng_aio_set_timeout(aio, t);
	nng_aio_set_msg(aio, m);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if (nng_aio_result(aio) != 0) {
		/* Not sent: the message (and its reference) is ours. */
		nng_msg_free(m);
		rpc_link_unref(l);
		nng_aio_free(aio);
		nng_ctx_close(ctx);
		goto undo;
	}
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if (nng_aio_result(aio) == 0)
		nng_msg_free(nng_aio_get_msg(aio));
	/* Without an answer the hello may still be handled later (the link
	 * then attaches) or never: it stays PENDING, calls use nng. */
	nng_aio_free(aio);
	nng_ctx_close(ctx);
	return;
undo:
	pthread_mutex_lock(&l->mu);
	if (l->state == RPC_LINK_PENDING)
		l->state = RPC_LINK_NONE;
	pthread_mutex_unlock(&l->mu);
}

/* The attached server with a running call counted, or NULL (use nng).
 * Sends the hello first when the link is new or its server stopped and
 * the client is connected (a hello must not wait in nng's queue for a
 * server that may never come). */
static hearth_rpc_server *
rpc_local_enter(hearth_rpc_client *c, int64_t deadline)
{
	rpc_link *l = c->link;
	pthread_mutex_lock(&l->mu);
	if ((l->state == RPC_LINK_NONE || l->state == RPC_LINK_DETACHED) &&
	    atomic_load(&c->pipes) > 0) {
		l->state = RPC_LINK_PENDING;
		pthread_mutex_unlock(&l->mu);
		rpc_local_hello(c, deadline);
		pthread_mutex_lock(&l->mu);
	}
	hearth_rpc_server *s = NULL;
	if (l->state == RPC_LINK_ATTACHED) {
		s = l->s;
		l->busy++;
	}
	pthread_mutex_unlock(&l->mu);
	return s;
}

static void
rpc_local_leave(hearth_rpc_client *c)
{
	rpc_link *l = c->link;
	pthread_mutex_lock(&l->mu);
	if (--l->busy == 0)
		pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
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
	if (deadline != 0 && rpc_now_ms() > deadline) {
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
	if (c->link == NULL ||
	    (method != HEARTH_RPC_PUSH && method != HEARTH_RPC_PING))
		return 0;
	hearth_rpc_server *s =
	    rpc_local_enter(c, meta != NULL ? meta->deadline_unix_ms : 0);
	if (s == NULL)
		return 0;
	*resp	  = NULL;
	*resp_len = 0;
	*rc = rpc_local_run(c, s, method, meta, body, len, decoded, arena,
	    resp, resp_len, err);
	rpc_local_leave(c);
	return 1;
}
