#include "rpc.h"
#include "rpc_impl.h"

#include "clock.h"
#include "cond.h"

#include "rpc.pb-c.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Decoded protobuf is ~7x its wire size (dependencies.md §2); the floor
 * leaves room for a handler's own scratch (query trees) on small limits. */
#define RPC_ARENA_FACTOR 16
#define RPC_ARENA_MIN	 ((size_t) 64 << 20)
/* A response buffer above this is released after the reply instead of
 * being kept by the idle worker. */
#define RPC_KEEP_BUF ((size_t) 1 << 20)

/* nng pipe events: count the client's live connections. */
static void
rpc_client_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	hearth_rpc_client *c = arg;
	(void) p;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		atomic_fetch_add(&c->pipes, 1);
		atomic_store(&c->connected, 1);
	} else if (ev == NNG_PIPE_EV_REM_POST) {
		atomic_fetch_sub(&c->pipes, 1);
	}
}

/* A request to a peer whose connection was lost would wait in nng's queue
 * until the redial succeeds or the deadline passes (30 s for a push while
 * the ring has not yet noticed a killed ingester): fail it, like a lost
 * connection, after waiting wait_ms for a redial (a peer that merely
 * dropped one connection is back within the reconnect interval). Before
 * the first connection, calls wait for the dial as before. */
int
rpc_client_gone(hearth_rpc_client *c, int64_t wait_ms, hearth_err *err)
{
	if (atomic_load(&c->pipes) > 0 || !atomic_load(&c->connected))
		return 0;
	for (int64_t waited = 0; waited < wait_ms; waited += 5) {
		const struct timespec ts = { 0, 5 * 1000000L };
		nanosleep(&ts, NULL);
		if (atomic_load(&c->pipes) > 0)
			return 0;
	}
	return hearth_err_set(err, HEARTH_EUNAVAIL,
	    "rpc: connection to %s lost: not connected (redialing)", c->url);
}

/* An arena-backed ProtobufCAllocator that remembers whether an allocation
 * failed, so "over the memory cap" and "malformed" get different codes
 * (protobuf-c returns NULL for both). */
typedef struct rpc_pballoc {
	ProtobufCAllocator pb;
	hearth_arena	  *arena;
	int		   failed;
} rpc_pballoc;

static void *
rpc_pb_alloc(void *data, size_t size)
{
	rpc_pballoc *a = data;
	void	    *p = hearth_arena_alloc(a->arena, size);
	if (p == NULL)
		a->failed = 1;
	return p;
}

static void
rpc_pb_free(void *data, void *ptr)
{
	(void) data;
	(void) ptr;
}

static void
rpc_pballoc_init(rpc_pballoc *a, hearth_arena *arena)
{
	a->pb.alloc	     = rpc_pb_alloc;
	a->pb.free	     = rpc_pb_free;
	a->pb.allocator_data = a;
	a->arena	     = arena;
	a->failed	     = 0;
}

/* nng's positive codes never leave this file. */
static int
rpc_code(int rv)
{
	switch (rv) {
	case NNG_ETIMEDOUT: return HEARTH_ETIMEDOUT;
	case NNG_ENOMEM: return HEARTH_ENOMEM;
	case NNG_EINVAL:
	case NNG_EADDRINVAL:
	case NNG_ENOTSUP:
	case NNG_ENOENT: return HEARTH_EINVAL;
	case NNG_EMSGSIZE: return HEARTH_ETOOLARGE;
	case NNG_ECLOSED:
	case NNG_ECANCELED:
	case NNG_ECONNREFUSED:
	case NNG_ECONNRESET:
	case NNG_ECONNSHUT:
	case NNG_EUNREACHABLE: return HEARTH_EUNAVAIL;
	default: return HEARTH_EIO;
	}
}

size_t
rpc_arena_cap(size_t max_msg)
{
	if (max_msg > SIZE_MAX / RPC_ARENA_FACTOR)
		return 0;
	size_t cap = max_msg * RPC_ARENA_FACTOR;
	return cap < RPC_ARENA_MIN ? RPC_ARENA_MIN : cap;
}

/* ---- server ---------------------------------------------------------- */

void
rpc_worker_recv(rpc_worker *w)
{
	hearth_rpc_server *s = w->s;
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		w->state = RPC_IDLE;
		pthread_mutex_unlock(&s->mu);
		return;
	}
	w->state = RPC_RECV;
	pthread_mutex_unlock(&s->mu);
	/* If stop raced us, the aio is already stopped and this completes
	 * at once with NNG_ECANCELED; the callback then goes idle. */
	nng_ctx_recv(w->ctx, w->aio);
}

/* nng callback thread: must not block. Queues received requests for the
 * hearth threads and re-arms receive after a reply was sent. */
static void
rpc_worker_cb(void *arg)
{
	rpc_worker	  *w  = arg;
	hearth_rpc_server *s  = w->s;
	int		   rv = nng_aio_result(w->aio);

	if (w->state == RPC_SEND) {
		if (rv != 0) {
			/* A failed send leaves the message with us. */
			nng_msg_free(nng_aio_get_msg(w->aio));
			nng_aio_set_msg(w->aio, NULL);
			HEARTH_LOG_DEBUGF(&s->log, "rpc reply not sent",
			    "url=%s err=\"%s\"", s->url, nng_strerror(rv));
		}
		rpc_worker_recv(w);
		return;
	}
	if (w->state != RPC_RECV)
		return;
	if (rv != 0) {
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			w->state = RPC_IDLE;
			return;
		}
		/* Transient (a peer went away mid-message, no memory for
		 * one message): keep serving. */
		HEARTH_LOG_DEBUGF(&s->log, "rpc receive failed",
		    "url=%s err=\"%s\"", s->url, nng_strerror(rv));
		rpc_worker_recv(w);
		return;
	}
	nng_msg *m = nng_aio_get_msg(w->aio);
	nng_aio_set_msg(w->aio, NULL);
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		w->state = RPC_IDLE;
		pthread_mutex_unlock(&s->mu);
		nng_msg_free(m);
		return;
	}
	w->req	 = m;
	w->state = RPC_QUEUED;
	w->next	 = NULL;
	if (s->qtail != NULL)
		s->qtail->next = w;
	else
		s->qhead = w;
	s->qtail = w;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Decode, run the handler, and fill out (whose strings/body point into the
 * arena or the worker's buffer). Returns the status put into out. */
static int
rpc_handle(rpc_worker *w, nng_msg *m, Hearth__Rpc__Response *out,
    hearth_err *err)
{
	hearth_rpc_server *s   = w->s;
	size_t		   len = nng_msg_len(m);
	rpc_pballoc	   pa;

	if (len > s->max_msg)
		return hearth_err_set(err, HEARTH_ETOOLARGE,
		    "rpc: request of %zu bytes exceeds the max message size "
		    "of %zu bytes",
		    len, s->max_msg);
	rpc_pballoc_init(&pa, w->arena);
	Hearth__Rpc__Request *rq =
	    hearth__rpc__request__unpack(&pa.pb, len, nng_msg_body(m));
	if (rq == NULL) {
		if (pa.failed)
			return hearth_err_set(err, HEARTH_ENOMEM,
			    "rpc: request of %zu bytes does not fit the "
			    "request memory cap",
			    len);
		return hearth_err_set(err, HEARTH_EINVAL,
		    "rpc: malformed request envelope (%zu bytes)", len);
	}
	if (rq->deadline_unix_ms != 0 && hearth_clock_unix_ms() > rq->deadline_unix_ms)
		return hearth_err_set(err, HEARTH_ETIMEDOUT,
		    "rpc: deadline exceeded before the request was handled");
	hearth_rpc_meta meta = { rq->tenant, rq->request_id,
		rq->deadline_unix_ms, NULL };
	int rc = s->h(s->hctx, rq->method, &meta, rq->body.data, rq->body.len,
	    w->arena, &w->resp, err);
	if (rc < 0) {
		if (err->msg[0] == '\0')
			hearth_err_set(err, rc, "%s", hearth_strerror(rc));
		err->code = rc;
		return rc;
	}
	if (hearth_buf_failed(&w->resp))
		return hearth_err_set(err, HEARTH_ETOOLARGE,
		    "rpc: response to method %u (%s) exceeds the max message "
		    "size of %zu bytes",
		    rq->method, hearth_rpc_method_name(rq->method), s->max_msg);
	out->body.data = (uint8_t *) w->resp.data;
	out->body.len  = w->resp.len;
	return 0;
}

/* Build the reply message; an envelope over max_msg becomes an error
 * reply so the client never has to drop an over-size message. */
static nng_msg *
rpc_reply(hearth_rpc_server *s, Hearth__Rpc__Response *out)
{
	char	 msg[160];
	nng_msg *m;
	size_t	 sz = hearth__rpc__response__get_packed_size(out);
	if (sz > s->max_msg) {
		snprintf(msg, sizeof(msg),
		    "rpc: response of %zu bytes exceeds the max message size "
		    "of %zu bytes",
		    sz, s->max_msg);
		out->status    = HEARTH_ETOOLARGE;
		out->message   = msg;
		out->body.data = NULL;
		out->body.len  = 0;
		sz	       = hearth__rpc__response__get_packed_size(out);
	}
	if (nng_msg_alloc(&m, sz) != 0)
		return NULL;
	hearth__rpc__response__pack(out, nng_msg_body(m));
	return m;
}

static void
rpc_serve(rpc_worker *w)
{
	hearth_rpc_server    *s = w->s;
	hearth_err	      err;
	Hearth__Rpc__Response out = HEARTH__RPC__RESPONSE__INIT;
	nng_msg		     *m	  = w->req;

	w->req = NULL;
	hearth_err_clear(&err);
	hearth_buf_reset(&w->resp);
	w->resp.failed = 0;
	w->resp.limit  = s->max_msg;
	int rc	       = rpc_handle(w, m, &out, &err);
	nng_msg_free(m);
	if (rc < 0) {
		out.status  = rc;
		out.message = err.msg;
		HEARTH_LOG_DEBUGF(&s->log, "rpc request failed",
		    "url=%s code=%d", s->url, rc);
	}
	nng_msg *reply = rpc_reply(s, &out);
	hearth_arena_reset(w->arena);
	if (w->resp.cap > RPC_KEEP_BUF)
		hearth_buf_fini(&w->resp);
	if (reply == NULL) {
		/* No memory for the reply: the client times out; re-arm so
		 * this worker keeps serving. */
		hearth_log_write(&s->log, HEARTH_LOG_WARN,
		    "rpc reply allocation failed", "url=%s", s->url);
		rpc_worker_recv(w);
		return;
	}
	w->state = RPC_SEND;
	nng_aio_set_msg(w->aio, reply);
	nng_ctx_send(w->ctx, w->aio);
}

static void *
rpc_thread(void *arg)
{
	hearth_rpc_server *s = arg;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->stopping && s->qhead == NULL)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		rpc_worker *w = s->qhead;
		s->qhead      = w->next;
		if (s->qhead == NULL)
			s->qtail = NULL;
		pthread_mutex_unlock(&s->mu);
		rpc_serve(w);
	}
}

int
hearth_rpc_server_new(const char *url, size_t max_msg_bytes,
    unsigned workers, hearth_rpc_handler h, void *ctx, const hearth_log *log,
    hearth_rpc_server **out, hearth_err *err)
{
	HEARTH_ASSERT(url != NULL && h != NULL && out != NULL);
	*out = NULL;
	if (max_msg_bytes == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "rpc: max message size must be > 0");
	if (workers == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "rpc: workers must be >= 1");
	hearth_rpc_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "rpc: out of memory");
	s->url	     = strdup(url);
	s->workers   = calloc(workers, sizeof(*s->workers));
	s->threads   = calloc(workers, sizeof(*s->threads));
	s->max_msg   = max_msg_bytes;
	s->n_workers = workers;
	s->h	     = h;
	s->hctx	     = ctx;
	if (log != NULL)
		s->log = *log;
	else
		hearth_log_init(&s->log, "rpc", HEARTH_LOG_INFO);
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_cond_init(&s->slot_cv, NULL);
	if (s->url == NULL || s->workers == NULL || s->threads == NULL)
		goto nomem;
	for (unsigned i = 0; i < workers; i++) {
		rpc_worker *w = &s->workers[i];
		w->s	      = s;
		hearth_buf_init(&w->resp);
		w->arena = hearth_arena_new(rpc_arena_cap(max_msg_bytes));
		if (w->arena == NULL ||
		    nng_aio_alloc(&w->aio, rpc_worker_cb, w) != 0)
			goto nomem;
	}
	*out = s;
	return 0;
nomem:
	s->stopped = 1;
	hearth_rpc_server_free(s);
	return hearth_err_set(err, HEARTH_ENOMEM, "rpc: out of memory");
}

int
hearth_rpc_server_start(hearth_rpc_server *s, hearth_err *err)
{
	int	     rv;
	nng_listener l;

	HEARTH_ASSERT(!s->started);
	s->started = 1;
	if ((rv = nng_rep0_open(&s->sock)) != 0)
		return hearth_err_set(err, rpc_code(rv),
		    "rpc: cannot open socket for %s: %s", s->url,
		    nng_strerror(rv));
	s->sock_open = 1;
	/* The socket option is the default for its endpoints; the listener
	 * gets it too (inproc has no such option: ignored). */
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, s->max_msg);
	if ((rv = nng_listener_create(&l, s->sock, s->url)) != 0)
		return hearth_err_set(err, rpc_code(rv),
		    "rpc: invalid listen address %s: %s", s->url,
		    nng_strerror(rv));
	nng_listener_set_size(l, NNG_OPT_RECVMAXSZ, s->max_msg);
	if ((rv = nng_listener_start(l, 0)) != 0)
		return hearth_err_set(err, rv == NNG_EADDRINUSE ? HEARTH_EIO
								: rpc_code(rv),
		    "rpc: cannot listen on %s: %s", s->url, nng_strerror(rv));
	if (strncmp(s->url, "tcp", 3) == 0) {
		int port = 0;
		if (nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) ==
		    0)
			s->port = port;
	}
	for (unsigned i = 0; i < s->n_workers; i++) {
		rpc_worker *w = &s->workers[i];
		if ((rv = nng_ctx_open(&w->ctx, s->sock)) != 0)
			return hearth_err_set(err, rpc_code(rv),
			    "rpc: cannot open context on %s: %s", s->url,
			    nng_strerror(rv));
		w->ctx_open = 1;
	}
	for (unsigned i = 0; i < s->n_workers; i++) {
		if (pthread_create(&s->threads[i], NULL, rpc_thread, s) != 0)
			return hearth_err_set(err, HEARTH_ENOMEM,
			    "rpc: cannot start worker thread for %s", s->url);
		s->n_threads++;
	}
	for (unsigned i = 0; i < s->n_workers; i++)
		rpc_worker_recv(&s->workers[i]);
	/* Last: in-process callers may come in from here on. */
	if (rpc_local_server_start(s) != 0)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "rpc: out of memory registering %s for in-process calls",
		    s->url);
	hearth_log_write(&s->log, HEARTH_LOG_INFO, "rpc server listening",
	    "url=%s workers=%u max_msg_bytes=%zu", s->url, s->n_workers,
	    s->max_msg);
	return 0;
}

/* nng_close with a bound. nng 1.5.2 (Debian 12) can deadlock in close:
 * its reaper thread waits forever for a pipe task that was prepared but
 * never started (nanomsg/nng#1813, fixed in nng 1.8). It was seen about
 * once in a few hundred ingester shutdowns. The socket is handed to a
 * helper thread; when the close has not returned within
 * RPC_CLOSE_WAIT_MS the caller goes on (the process is stopping and the
 * WAL holds every acknowledged push) and the helper, if it ever
 * returns, frees the hand-over record. Returns 0 when the close
 * finished, -1 when it was given up on. */
#define RPC_CLOSE_WAIT_MS 5000

typedef struct rpc_closer {
	nng_socket	sock;
	pthread_mutex_t mu;
	pthread_cond_t	cv;
	int		done;
	int		abandoned;
} rpc_closer;

static void
rpc_closer_free(rpc_closer *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void *
rpc_closer_run(void *arg)
{
	rpc_closer *c = arg;
	nng_close(c->sock);
	pthread_mutex_lock(&c->mu);
	c->done	      = 1;
	int abandoned = c->abandoned;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (abandoned)
		rpc_closer_free(c); /* nobody waits for it any more */
	return NULL;
}

static int
rpc_close_bounded(nng_socket sock)
{
	rpc_closer    *c = calloc(1, sizeof(*c));
	pthread_t      t;
	pthread_attr_t attr;
	if (c == NULL) {
		nng_close(sock);
		return 0;
	}
	c->sock = sock;
	pthread_mutex_init(&c->mu, NULL);
	hearth_cond_init(&c->cv);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	int started = pthread_create(&t, &attr, rpc_closer_run, c) == 0;
	pthread_attr_destroy(&attr);
	if (!started) {
		rpc_closer_free(c);
		nng_close(sock);
		return 0;
	}
	struct timespec until = hearth_cond_deadline(RPC_CLOSE_WAIT_MS);
	pthread_mutex_lock(&c->mu);
	while (!c->done)
		if (pthread_cond_timedwait(&c->cv, &c->mu, &until) != 0)
			break;
	int done = c->done;
	if (!done)
		c->abandoned = 1;
	pthread_mutex_unlock(&c->mu);
	if (done)
		rpc_closer_free(c);
	return done ? 0 : -1;
}

void
hearth_rpc_server_stop(hearth_rpc_server *s)
{
	if (s == NULL || s->stopped)
		return;
	s->stopped = 1;
	pthread_mutex_lock(&s->mu);
	s->stopping = 1;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	rpc_local_server_stop(s);
	/* Running handlers finish and post their replies first; after the
	 * join no hearth thread touches an aio. */
	for (unsigned i = 0; i < s->n_threads; i++)
		pthread_join(s->threads[i], NULL);
	s->n_threads = 0;
	/* dependencies.md §3: aio_stop all -> ctx_close -> close. */
	for (unsigned i = 0; i < s->n_workers; i++)
		if (s->workers[i].aio != NULL)
			nng_aio_stop(s->workers[i].aio);
	for (unsigned i = 0; i < s->n_workers; i++) {
		rpc_worker *w = &s->workers[i];
		if (w->ctx_open)
			nng_ctx_close(w->ctx);
		w->ctx_open = 0;
		/* Queued but never served. */
		if (w->req != NULL)
			nng_msg_free(w->req);
		w->req	 = NULL;
		w->state = RPC_IDLE;
	}
	s->qhead = s->qtail = NULL;
	if (s->sock_open && rpc_close_bounded(s->sock) != 0)
		hearth_log_write(&s->log, HEARTH_LOG_WARN,
		    "rpc server socket close did not return; going on without "
		    "it",
		    "url=%s waited_ms=%d note=\"nng 1.5 close deadlock "
		    "(nanomsg/nng#1813); no request is running and the WAL "
		    "holds every acknowledged push\"",
		    s->url != NULL ? s->url : "", RPC_CLOSE_WAIT_MS);
	s->sock_open = 0;
}

void
hearth_rpc_server_free(hearth_rpc_server *s)
{
	if (s == NULL)
		return;
	hearth_rpc_server_stop(s);
	for (unsigned i = 0; s->workers != NULL && i < s->n_workers; i++) {
		rpc_worker *w = &s->workers[i];
		if (w->aio != NULL)
			nng_aio_free(w->aio);
		hearth_arena_free(w->arena);
		hearth_buf_fini(&w->resp);
	}
	rpc_local_server_free(s);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->slot_cv);
	free(s->workers);
	free(s->threads);
	free(s->url);
	free(s);
}

int
hearth_rpc_server_port(const hearth_rpc_server *s)
{
	return s->port;
}

/* ---- client ---------------------------------------------------------- */

int
hearth_rpc_client_new(const char *url, size_t max_msg_bytes,
    hearth_rpc_client **out, hearth_err *err)
{
	int rv;
	HEARTH_ASSERT(url != NULL && out != NULL);
	*out = NULL;
	if (max_msg_bytes == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "rpc: max message size must be > 0");
	hearth_rpc_client *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->url = strdup(url)) == NULL) {
		free(c);
		return hearth_err_set(err, HEARTH_ENOMEM, "rpc: out of memory");
	}
	c->max_msg = max_msg_bytes;
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		free(c->url);
		free(c);
		return hearth_err_set(err, rpc_code(rv),
		    "rpc: cannot open socket for %s: %s", url,
		    nng_strerror(rv));
	}
	/* A re-sent push could be applied twice: never re-send. */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, max_msg_bytes);
	/* Redial quickly after a lost connection (nng backs off up to 1 s). */
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 20);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 1000);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, rpc_client_pipe_cb, c);
	nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, rpc_client_pipe_cb, c);
	/* Non-blocking: the server may come up later; nng redials. */
	if ((rv = nng_dial(c->sock, url, &c->dialer, NNG_FLAG_NONBLOCK)) != 0) {
		hearth_rpc_client_free(c);
		return hearth_err_set(err, rpc_code(rv),
		    "rpc: cannot dial %s: %s", url, nng_strerror(rv));
	}
	*out = c;
	return 0;
}

void
hearth_rpc_client_free(hearth_rpc_client *c)
{
	if (c == NULL)
		return;
	nng_dialer_close(c->dialer);
	nng_close(c->sock);
	free(c->url);
	free(c);
}

const char *
hearth_rpc_client_url(const hearth_rpc_client *c)
{
	return c->url;
}

/* Milliseconds left before deadline (0 = none -> infinite); <= 0 when
 * the deadline has passed. */
nng_duration
rpc_remaining(int64_t deadline, int *expired)
{
	*expired = 0;
	if (deadline == 0)
		return NNG_DURATION_INFINITE;
	int64_t left = deadline - hearth_clock_unix_ms();
	if (left <= 0) {
		*expired = 1;
		return 0;
	}
	return left > INT32_MAX ? INT32_MAX : (nng_duration) left;
}

int
rpc_call_fail(hearth_rpc_client *c, int rv, const char *what, hearth_err *err)
{
	if (rv == NNG_ETIMEDOUT)
		return hearth_err_set(err, HEARTH_ETIMEDOUT,
		    "rpc: deadline exceeded calling %s", c->url);
	/* With re-sending off, nng fails a request whose connection closed
	 * (peer stopped, or it refused a message over its size limit). */
	if (rv == NNG_ECONNRESET || rv == NNG_ECONNSHUT)
		return hearth_err_set(err, HEARTH_EUNAVAIL,
		    "rpc: connection to %s lost: %s", c->url,
		    nng_strerror(rv));
	return hearth_err_set(err, rpc_code(rv), "rpc: %s %s failed: %s",
	    what, c->url, nng_strerror(rv));
}

/* One exchange on ctx: send m (ownership passes to nng on success), wait
 * for the reply. */
static int
rpc_exchange(hearth_rpc_client *c, nng_ctx ctx, nng_aio *aio, nng_msg *m,
    int64_t deadline, nng_msg **reply, hearth_err *err)
{
	int	     expired, rv;
	nng_duration t = rpc_remaining(deadline, &expired);
	if (expired) {
		nng_msg_free(m);
		return rpc_call_fail(c, NNG_ETIMEDOUT, "", err);
	}
	nng_aio_set_timeout(aio, t);
	nng_aio_set_msg(aio, m);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		nng_msg_free(m);
		return rpc_call_fail(c, rv, "sending to", err);
	}
	t = rpc_remaining(deadline, &expired);
	if (expired)
		return rpc_call_fail(c, NNG_ETIMEDOUT, "", err);
	nng_aio_set_timeout(aio, t);
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		return rpc_call_fail(c, rv, "receiving from", err);
	*reply = nng_aio_get_msg(aio);
	return 0;
}

int
rpc_decode_reply(hearth_rpc_client *c, nng_msg *reply, hearth_arena *arena,
    const uint8_t **resp, size_t *resp_len, hearth_err *err)
{
	rpc_pballoc pa;
	rpc_pballoc_init(&pa, arena);
	Hearth__Rpc__Response *r = hearth__rpc__response__unpack(&pa.pb,
	    nng_msg_len(reply), nng_msg_body(reply));
	if (r == NULL) {
		if (pa.failed)
			return hearth_err_set(err, HEARTH_ENOMEM,
			    "rpc: response of %zu bytes from %s does not fit "
			    "the request memory cap",
			    nng_msg_len(reply), c->url);
		return hearth_err_set(err, HEARTH_ECORRUPT,
		    "rpc: malformed response from %s", c->url);
	}
	if (r->status != 0) {
		/* Only hearth codes cross the wire; anything else is a
		 * peer bug. */
		int code = r->status < 0 && r->status >= HEARTH_EINTERNAL
		    ? r->status
		    : HEARTH_EINTERNAL;
		const char *m = r->message != NULL && r->message[0] != '\0'
		    ? r->message
		    : hearth_strerror(code);
		return hearth_err_set(err, code, "%s", m);
	}
	*resp	  = r->body.len > 0 ? r->body.data : NULL;
	*resp_len = r->body.len;
	return 0;
}

/* The request envelope of one call as an nng message (*out), after the
 * client-side size check. Shared by hearth_rpc_call and _call_all so both
 * fail the same way. */
int
rpc_pack(hearth_rpc_client *c, uint32_t method, const hearth_rpc_meta *meta,
    const uint8_t *body, size_t len, nng_msg **out, hearth_err *err)
{
	Hearth__Rpc__Request rq = HEARTH__RPC__REQUEST__INIT;
	nng_msg		    *m;
	int64_t		     deadline = meta != NULL ? meta->deadline_unix_ms : 0;

	rq.method = method;
	if (meta != NULL && meta->tenant != NULL)
		rq.tenant = (char *) meta->tenant;
	if (meta != NULL && meta->request_id != NULL)
		rq.request_id = (char *) meta->request_id;
	rq.deadline_unix_ms = deadline;
	rq.body.data	    = (uint8_t *) body;
	rq.body.len	    = len;
	size_t sz	    = hearth__rpc__request__get_packed_size(&rq);
	if (sz > c->max_msg)
		return hearth_err_set(err, HEARTH_ETOOLARGE,
		    "rpc: request of %zu bytes exceeds the max message size "
		    "of %zu bytes calling %s",
		    sz, c->max_msg, c->url);
	if (nng_msg_alloc(&m, sz) != 0)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "rpc: out of memory for a %zu-byte request", sz);
	hearth__rpc__request__pack(&rq, nng_msg_body(m));
	*out = m;
	return 0;
}

int
hearth_rpc_call(hearth_rpc_client *c, uint32_t method,
    const hearth_rpc_meta *meta, const uint8_t *body, size_t len,
    hearth_arena *arena, const uint8_t **resp, size_t *resp_len,
    hearth_err *err)
{
	nng_msg *m, *reply = NULL;
	nng_ctx	 ctx;
	nng_aio *aio = NULL;
	int	 rv, rc;
	int64_t	 deadline = meta != NULL ? meta->deadline_unix_ms : 0;

	*resp	  = NULL;
	*resp_len = 0;
	if (rpc_local_call(c, method, meta, body, len, NULL, arena, resp,
		resp_len, err, &rc))
		return rc;
	if ((rc = rpc_client_gone(c, 250, err)) != 0)
		return rc;
	if ((rc = rpc_pack(c, method, meta, body, len, &m, err)) != 0)
		return rc;
	if ((rv = nng_ctx_open(&ctx, c->sock)) != 0) {
		nng_msg_free(m);
		return rpc_call_fail(c, rv, "opening a context for", err);
	}
	nng_ctx_set_ms(ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0) {
		nng_msg_free(m);
		rc = rpc_call_fail(c, rv, "allocating for", err);
		goto done;
	}
	rc = rpc_exchange(c, ctx, aio, m, deadline, &reply, err);
	if (rc == 0)
		rc = rpc_decode_reply(c, reply, arena, resp, resp_len, err);
done:
	if (reply != NULL)
		nng_msg_free(reply);
	if (aio != NULL)
		nng_aio_free(aio);
	nng_ctx_close(ctx);
	return rc;
}

const char *
hearth_rpc_method_name(uint32_t method)
{
	switch (method) {
	case HEARTH_RPC_PUSH: return "push";
	case HEARTH_RPC_SELECT: return "select";
	case HEARTH_RPC_LABELS: return "labels";
	case HEARTH_RPC_PING: return "ping";
	case HEARTH_RPC_PLAN: return "plan";
	case HEARTH_RPC_IDS: return "ids";
	case HEARTH_RPC_SERVICES: return "services";
	case HEARTH_RPC_SETTINGS: return "settings";
	default: return "unknown";
	}
}
