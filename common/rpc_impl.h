/*
 * rpc_impl: the rpc module's private structures, shared by rpc.c (nng
 * transport, server workers, clients) and rpc_local.c (in-process calls
 * for inproc:// URLs). Include only from common/rpc*.c.
 *
 * In-process calls. A client and a server of the same inproc:// URL live
 * in one process, so once they know each other a call can run the
 * handler on the caller's own thread: no envelope, no nng message, and
 * none of the four thread wake-ups of an nng round trip (caller -> nng
 * -> hearth worker -> nng -> caller), which cost about a tenth of the
 * ingest path's CPU. They meet through a link:
 *
 *   client ──owns──▶ rpc_link ◀──holds── server (links[])
 *                    refs: client + server (or a hello in flight)
 *
 * An inproc client makes a link and, on its first call while connected,
 * sends a hello over nng carrying the link's address (valid: inproc peers
 * share the address space). The server's nng callback attaches it (link
 * s = server, state ATTACHED; the hello's reference becomes the
 * server's). Calls through an attached link take one of the server's
 * `workers` in-process turns (a slot: arena and response buffer, like a
 * worker's), check sizes and deadlines as the nng path does and call the
 * handler. Only PUSH and PING go this way (rpc.h). Stopping the server detaches every
 * link and waits for the calls running through it; a detached client
 * uses nng again (and may attach to a later server of the same URL).
 * A hello that nng drops unprocessed (its peer closed at that moment)
 * keeps its link allocated: a few dozen bytes, never touched again.
 *
 * Locks: server mu before a link's mu; a call takes the link's mu, then
 * (after releasing it) the server's mu.
 */
#ifndef HEARTH_RPC_IMPL_H
#define HEARTH_RPC_IMPL_H

#include "rpc.h"

#include <nng/nng.h>

#include <pthread.h>
#include <stdatomic.h>

enum { RPC_IDLE, RPC_RECV, RPC_QUEUED, RPC_SEND };

typedef struct rpc_worker {
	struct hearth_rpc_server *s;
	nng_aio			 *aio;
	nng_ctx			  ctx;
	int			  ctx_open;
	int			  state; /* RPC_*; see the diagram in rpc.h */
	nng_msg			 *req;	 /* QUEUED: the received request */
	struct rpc_worker	 *next;	 /* run-queue link */
	hearth_arena		 *arena;
	hearth_buf		  resp;
} rpc_worker;

enum { RPC_LINK_NONE, RPC_LINK_PENDING, RPC_LINK_ATTACHED, RPC_LINK_DETACHED };

typedef struct rpc_link {
	pthread_mutex_t		  mu;
	pthread_cond_t		  cv;	/* busy went to 0 */
	atomic_int		  refs; /* client, server or hello in flight */
	/* --- under mu --- */
	int			  state; /* RPC_LINK_* */
	struct hearth_rpc_server *s;	 /* ATTACHED: the server */
	unsigned		  busy;	 /* calls running through s */
} rpc_link;

/* Arena and response buffer of one in-process call. */
typedef struct rpc_slot {
	hearth_arena *arena;
	hearth_buf    resp;
	int	      used;
} rpc_slot;

struct hearth_rpc_server {
	char		  *url;
	size_t		   max_msg;
	unsigned	   n_workers;
	hearth_rpc_handler h;
	void		  *hctx;
	hearth_log	   log;
	nng_socket	   sock;
	int		   sock_open;
	int		   port;
	rpc_worker	  *workers;
	pthread_t	  *threads;
	unsigned	   n_threads;
	/* mu guards stopping, the run queue and everything below it. */
	pthread_mutex_t mu;
	pthread_cond_t	cv; /* run queue */
	rpc_worker     *qhead;
	rpc_worker     *qtail;
	int		started;
	int		stopping;
	int		stopped;
	/* In-process calls (inproc:// servers only; rpc_local.c). */
	int	       local;
	unsigned       running; /* in-process calls now (<= n_workers) */
	pthread_cond_t slot_cv; /* running dropped, or stopping */
	rpc_slot      *slots;	/* n_workers */
	rpc_link     **links;
	size_t	       n_links, cap_links;
};

struct hearth_rpc_client {
	char	    *url;
	size_t	     max_msg;
	nng_socket   sock;
	nng_dialer   dialer;
	atomic_int   pipes;	/* connections up now */
	atomic_int   connected; /* was ever connected */
	rpc_link    *link;	/* inproc:// only, else NULL */
};

/* ---- rpc.c ---- */

int64_t rpc_now_ms(void);
size_t	rpc_arena_cap(size_t max_msg);
/* Milliseconds left before deadline (0 = none -> infinite); *expired
 * when it has passed. */
nng_duration rpc_remaining(int64_t deadline, int *expired);
/* hearth_rpc_call's error for nng result rv while doing what. */
int rpc_call_fail(hearth_rpc_client *c, int rv, const char *what,
    hearth_err *err);
/* Arm the next receive of a server worker (or go idle when stopping). */
void rpc_worker_recv(rpc_worker *w);

/* ---- rpc_local.c ---- */

/* Server: slots for an inproc:// server (s->local), else nothing.
 * HEARTH_ENOMEM. */
int rpc_local_server_init(hearth_rpc_server *s);
/* Server stopping (s->stopping set): wake waiting calls, detach every
 * link and wait for the calls running through them. */
void rpc_local_server_stop(hearth_rpc_server *s);
void rpc_local_server_free(hearth_rpc_server *s);
/* nng callback: 1 when m is a hello (consumed: attached and answered),
 * 0 for any other request. */
int rpc_local_hello_recv(rpc_worker *w, nng_msg *m);
/* Client: a link for an inproc:// URL. HEARTH_ENOMEM. */
int  rpc_local_client_init(hearth_rpc_client *c);
void rpc_local_client_free(hearth_rpc_client *c);
/* Run the call in-process when the client is (or now gets) attached:
 * 1 with the outcome in *rc / resp / err, exactly as hearth_rpc_call
 * reports it; 0 when the call must go through nng. */
int rpc_local_call(hearth_rpc_client *c, uint32_t method,
    const hearth_rpc_meta *meta, const uint8_t *body, size_t len,
    const void *decoded,
    hearth_arena *arena, const uint8_t **resp, size_t *resp_len,
    hearth_err *err, int *rc);

#endif
