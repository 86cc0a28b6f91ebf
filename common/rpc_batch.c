/* rpc_batch: the client's parallel calls (hearth_rpc_call_all and
 * hearth_rpc_call_until, rpc.h): one nng context and aio per call, driven
 * by callbacks, waited for on the caller's thread, with the grace after
 * "enough" answers and a straggler's hedge. Split from rpc.c, which keeps
 * the transport, the server and the single blocking call. */
#include "rpc.h"
#include "rpc_impl.h"

#include "clock.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Completion state shared by the calls of one hearth_rpc_call_all. */
typedef struct rpc_batch {
	pthread_mutex_t mu;
	pthread_cond_t	cv;
	size_t		left;	  /* calls still in flight */
	size_t		changed; /* completions since the caller looked */
} rpc_batch;

enum { RPC_ASYNC_SEND, RPC_ASYNC_RECV };

/* One call of a batch: an nng_ctx and an aio driven by rpc_async_cb
 * (send, then receive). Only nng result codes and the reply message are
 * recorded on the callback thread; turning them into hearth errors and
 * decoding happen on the caller's thread. */
typedef struct rpc_async {
	rpc_batch	  *b;
	nng_ctx		   ctx;
	nng_aio		  *aio;
	int		   phase;    /* RPC_ASYNC_* */
	int		   rv;	     /* nng result of the failed step */
	int		   launched; /* counted in b->left */
	int		   finished; /* callback done (under b->mu) */
	int		   collected; /* outcome in calls[i] */
	int		   cancelled; /* not waited for: enough answered */
	nng_msg		  *reply;
	int64_t		   deadline;
} rpc_async;

static void
rpc_async_done(rpc_async *a, int rv)
{
	a->rv = rv;
	pthread_mutex_lock(&a->b->mu);
	a->finished = 1;
	a->b->left--;
	a->b->changed++;
	pthread_cond_signal(&a->b->cv);
	pthread_mutex_unlock(&a->b->mu);
}

/* nng callback thread: must not block. */
static void
rpc_async_cb(void *arg)
{
	rpc_async *a  = arg;
	int	   rv = nng_aio_result(a->aio);
	int	   expired;

	if (a->phase == RPC_ASYNC_SEND) {
		if (rv != 0) {
			/* A failed send leaves the message with us. */
			nng_msg_free(nng_aio_get_msg(a->aio));
			nng_aio_set_msg(a->aio, NULL);
			rpc_async_done(a, rv);
			return;
		}
		nng_duration t = rpc_remaining(a->deadline, &expired);
		if (expired) {
			rpc_async_done(a, NNG_ETIMEDOUT);
			return;
		}
		a->phase = RPC_ASYNC_RECV;
		nng_aio_set_timeout(a->aio, t);
		nng_ctx_recv(a->ctx, a->aio);
		return;
	}
	if (rv == 0) {
		a->reply = nng_aio_get_msg(a->aio);
		nng_aio_set_msg(a->aio, NULL);
	}
	rpc_async_done(a, rv);
}

/* Pack and send call p; on failure fill p and return without launching. */
static void
rpc_async_launch(rpc_async *a, hearth_rpc_pending *p,
    const hearth_rpc_meta *meta)
{
	nng_msg *m;
	int	 rv, expired;

	/* No redial wait here: a batch goes to replicas, and the others
	 * answer for a peer that is gone. */
	if (rpc_client_gone(p->client, 0, &p->err) != 0 ||
	    rpc_pack(p->client, p->method, meta, p->body, p->len, &m,
		&p->err) != 0) {
		p->rc = p->err.code;
		return;
	}
	nng_duration t = rpc_remaining(a->deadline, &expired);
	if (expired) {
		nng_msg_free(m);
		p->rc = rpc_call_fail(p->client, NNG_ETIMEDOUT, "", &p->err);
		return;
	}
	if ((rv = nng_aio_alloc(&a->aio, rpc_async_cb, a)) != 0) {
		nng_msg_free(m);
		p->rc = rpc_call_fail(p->client, rv, "allocating for", &p->err);
		return;
	}
	if ((rv = nng_ctx_open(&a->ctx, p->client->sock)) != 0) {
		nng_msg_free(m);
		p->rc = rpc_call_fail(p->client, rv, "opening a context for",
		    &p->err);
		return;
	}
	a->launched = 1;
	nng_ctx_set_ms(a->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	pthread_mutex_lock(&a->b->mu);
	a->b->left++;
	pthread_mutex_unlock(&a->b->mu);
	nng_aio_set_timeout(a->aio, t);
	nng_aio_set_msg(a->aio, m);
	nng_ctx_send(a->ctx, a->aio);
}

/* The outcome of a finished call into p, with the messages
 * hearth_rpc_call gives for the same failures. */
static void
rpc_async_finish(rpc_async *a, hearth_rpc_pending *p, hearth_arena *arena)
{
	if (a->cancelled && a->rv != 0)
		p->rc = hearth_err_set(&p->err, HEARTH_ETIMEDOUT,
		    "rpc: call to %s not waited for: enough replicas answered",
		    p->client->url);
	else if (a->rv != 0)
		p->rc = rpc_call_fail(p->client, a->rv,
		    a->phase == RPC_ASYNC_SEND ? "sending to" : "receiving from",
		    &p->err);
	else
		p->rc = rpc_decode_reply(p->client, a->reply, arena, &p->resp,
		    &p->resp_len, &p->err);
}

/* Outcome of a finished call into calls[i] (on the caller's thread), and
 * its nng objects released. */
static void
rpc_async_collect(rpc_async *a, hearth_rpc_pending *p, hearth_arena *arena)
{
	/* The callback may still be returning after its signal: nng_aio_stop
	 * waits for it (dependencies.md §3 order). */
	if (a->aio != NULL)
		nng_aio_stop(a->aio);
	if (a->launched) {
		rpc_async_finish(a, p, arena);
		nng_ctx_close(a->ctx);
	}
	if (a->reply != NULL)
		nng_msg_free(a->reply);
	a->reply = NULL;
	if (a->aio != NULL)
		nng_aio_free(a->aio);
	a->aio	     = NULL;
	a->collected = 1;
}

void
hearth_rpc_call_all(hearth_rpc_pending *calls, size_t n,
    const hearth_rpc_meta *meta, hearth_arena *arena)
{
	hearth_rpc_call_until(calls, n, meta, arena, NULL, NULL, 0);
}

/* Call i of a batch is as[i]; its hedge, once sent, is as[n + i] with
 * hp[i] as its hearth_rpc_pending (client, body, outcome). */
typedef struct rpc_batch_calls {
	hearth_rpc_pending *calls;
	hearth_rpc_pending *hp;
	rpc_async	   *as;
	int		   *done; /* [n] outcome final in calls[i] */
	size_t		    n;
	const hearth_rpc_meta *meta;
	hearth_arena	   *arena;
} rpc_batch_calls;

static void
rpc_async_cancel(rpc_async *a)
{
	if (a->launched && !a->collected && a->aio != NULL) {
		a->cancelled = 1;
		nng_aio_cancel(a->aio);
	}
}

/* After a copy of call i was collected: is its outcome final? The first
 * copy that answers wins (the other is cancelled); a failure is final
 * once no other copy is still running. */
static void
rpc_batch_settle(rpc_batch_calls *bc, size_t i)
{
	hearth_rpc_pending *c  = &bc->calls[i];
	rpc_async	   *pa = &bc->as[i], *ha = &bc->as[bc->n + i];
	if (bc->done[i])
		return;
	if (pa->collected && c->rc == 0) {
		bc->done[i] = 1;
		rpc_async_cancel(ha);
		return;
	}
	if (c->hedged && ha->collected && bc->hp[i].rc == 0) {
		c->rc	    = 0;
		c->resp	    = bc->hp[i].resp;
		c->resp_len = bc->hp[i].resp_len;
		hearth_err_clear(&c->err);
		c->hedged    = 2;
		bc->done[i] = 1;
		rpc_async_cancel(pa);
		return;
	}
	if (pa->collected && (!c->hedged || ha->collected))
		bc->done[i] = 1; /* the primary's failure stands */
}

/* Collect copy k (finished): a primary into calls[i] until its call is
 * settled (then into a scratch copy), a hedge into hp[i]. */
static void
rpc_batch_collect(rpc_batch_calls *bc, size_t k)
{
	size_t		   i = k % bc->n;
	hearth_rpc_pending scratch;
	hearth_rpc_pending *p;
	if (k >= bc->n)
		p = &bc->hp[i];
	else if (bc->done[i]) {
		scratch = bc->calls[i];
		p	= &scratch;
	} else
		p = &bc->calls[i];
	rpc_async_collect(&bc->as[k], p, bc->arena);
	rpc_batch_settle(bc, i);
}

/* The grace is over and call i still runs: send its hedge, or cancel it. */
static void
rpc_batch_straggler(rpc_batch_calls *bc, size_t i)
{
	hearth_rpc_pending *c = &bc->calls[i];
	if (c->hedge_client == NULL) {
		rpc_async_cancel(&bc->as[i]);
		return;
	}
	hearth_rpc_pending *h = &bc->hp[i];
	memset(h, 0, sizeof(*h));
	h->client = c->hedge_client;
	h->method = c->method;
	h->body	  = c->hedge_body;
	h->len	  = c->hedge_len;
	c->hedged = 1;
	rpc_async *ha = &bc->as[bc->n + i];
	if (h->client->reg != NULL &&
	    rpc_local_call(h->client, h->method, bc->meta, h->body, h->len,
		NULL, bc->arena, &h->resp, &h->resp_len, &h->err, &h->rc)) {
		ha->collected = 1; /* answered on this thread */
		rpc_batch_settle(bc, i);
		return;
	}
	rpc_async_launch(ha, h, bc->meta);
	if (!ha->launched) {
		ha->collected = 1; /* failed to launch: outcome in h */
		rpc_batch_settle(bc, i);
	}
}

void
hearth_rpc_call_until(hearth_rpc_pending *calls, size_t n,
    const hearth_rpc_meta *meta, hearth_arena *arena,
    hearth_rpc_enough_fn enough, void *ctx, int64_t grace_ms)
{
	rpc_batch	b;
	rpc_batch_calls bc = { .calls = calls, .n = n, .meta = meta,
		.arena = arena };

	for (size_t i = 0; i < n; i++) {
		calls[i].rc	  = 0;
		calls[i].resp	  = NULL;
		calls[i].resp_len = 0;
		calls[i].hedged	  = 0;
		hearth_err_clear(&calls[i].err);
	}
	if (n == 0)
		return;
	bc.as	       = calloc(2 * n, sizeof(*bc.as));
	bc.hp	       = calloc(n, sizeof(*bc.hp));
	bc.done	       = calloc(n, sizeof(*bc.done));
	uint8_t *ready = calloc(2 * n, 1);
	if (bc.as == NULL || bc.hp == NULL || bc.done == NULL ||
	    ready == NULL) {
		for (size_t i = 0; i < n; i++)
			calls[i].rc = hearth_err_set(&calls[i].err,
			    HEARTH_ENOMEM, "rpc: out of memory for %zu calls",
			    n);
		goto out;
	}
	int64_t t_start = hearth_clock_unix_ms();
	b.left		= 0;
	b.changed	= 0;
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.cv, NULL);
	for (size_t i = 0; i < 2 * n; i++) {
		bc.as[i].b	  = &b;
		bc.as[i].deadline = meta != NULL ? meta->deadline_unix_ms : 0;
	}
	for (size_t i = 0; i < n; i++)
		if (calls[i].client->reg == NULL)
			rpc_async_launch(&bc.as[i], &calls[i], meta);
	/* In-process peers (inproc://) run on this thread, after the others
	 * were sent so that those proceed meanwhile; not launched, they
	 * count as collected below. */
	for (size_t i = 0; i < n; i++) {
		hearth_rpc_pending *p = &calls[i];
		if (p->client->reg != NULL &&
		    !rpc_local_call(p->client, p->method, meta, p->body, p->len,
			p->decoded, arena, &p->resp, &p->resp_len, &p->err,
			&p->rc))
			rpc_async_launch(&bc.as[i], p, meta);
	}
	/* Every launched aio has a timeout (the deadline) or waits for its
	 * peer, exactly like the blocking call. Calls that failed to launch
	 * are already collected. */
	for (size_t i = 0; i < n; i++)
		if (!bc.as[i].launched) {
			bc.as[i].collected = 1;
			bc.done[i]	   = 1;
		}
	int	graced	  = 0;
	int64_t grace_end = 0; /* enough answered: wait this long more */
	for (;;) {
		/* Enough answers (e.g. a write quorum; asked before the first
		 * wait too, so that a lone call that may go unanswered gets
		 * its grace): give the others a grace (a healthy replica is a
		 * few ms behind, and abandoning it would leave it without the
		 * write), then hedge or abandon them instead of waiting for a
		 * hung peer's deadline. */
		if (grace_end == 0 && enough != NULL &&
		    enough(ctx, calls, bc.done, n)) {
			int64_t now   = hearth_clock_unix_ms();
			int64_t grace = grace_ms;
			if (grace < 0) /* as long again, at least -grace_ms */
				grace = now - t_start > -grace_ms
				    ? now - t_start
				    : -grace_ms;
			grace_end = now + grace;
		}
		if (!graced && grace_end != 0 && hearth_clock_unix_ms() >= grace_end) {
			graced = 1;
			for (size_t i = 0; i < n; i++)
				if (!bc.done[i])
					rpc_batch_straggler(&bc, i);
		}
		pthread_mutex_lock(&b.mu);
		while (b.left > 0 && b.changed == 0) {
			if (grace_end == 0 || graced) {
				pthread_cond_wait(&b.cv, &b.mu);
				continue;
			}
			struct timespec ts = { grace_end / 1000,
				(grace_end % 1000) * 1000000L };
			if (pthread_cond_timedwait(&b.cv, &b.mu, &ts) != 0)
				break; /* the grace is over */
		}
		b.changed   = 0;
		size_t left = b.left;
		for (size_t k = 0; k < 2 * n; k++)
			ready[k] = bc.as[k].finished && !bc.as[k].collected;
		pthread_mutex_unlock(&b.mu);
		for (size_t k = 0; k < 2 * n; k++)
			if (ready[k])
				rpc_batch_collect(&bc, k);
		if (left == 0)
			break;
	}
	for (size_t k = 0; k < 2 * n; k++)
		if (!bc.as[k].collected)
			rpc_batch_collect(&bc, k);
	pthread_mutex_destroy(&b.mu);
	pthread_cond_destroy(&b.cv);
out:
	free(ready);
	free(bc.done);
	free(bc.hp);
	free(bc.as);
}

