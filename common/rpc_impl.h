/*
 * rpc_impl: the rpc module's private structures, shared by rpc.c (nng
 * transport, server workers, clients), rpc_batch.c (parallel calls) and
 * rpc_local.c (in-process calls for inproc:// URLs). Include only from
 * common/rpc*.c.
 *
 * In-process calls. A client and a server in one process (-target=all)
 * can run a call on the caller's own thread: no envelope, no nng message,
 * and none of the four thread wake-ups of an nng round trip (caller ->
 * nng -> hearth worker -> nng -> caller), which cost about a tenth of the
 * ingest path's CPU. They meet through a hearth_rpc_local that the
 * process owns (no global state):
 *
 *   hearth_rpc_local { mu, servers[] }   started servers, by URL
 *
 * A server given one joins it at the end of a successful start and leaves
 * it first thing in its stop. A client given one looks its URL up for each
 * PUSH or PING; found, it counts itself into the server (`entered`, under
 * the server's mu, refused once `stopping` is set) before the registry
 * lock goes, so the server cannot be freed under it: its stop leaves the
 * registry, then waits until `entered` is back to 0. Inside, the call takes
 * one of the server's `workers` in-process turns (a slot: arena and
 * response buffer, like a worker's), checks sizes and deadlines as the nng
 * path does and calls the handler.
 *
 * Locks: the registry's mu before a server's mu; never the other way.
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
	/* In-process calls (rpc_local.c); reg NULL: none. */
	struct hearth_rpc_local *reg;
	int			 registered; /* in reg's list now */
	unsigned		 entered; /* local callers inside */
	unsigned		 running; /* ... of which hold a slot */
	pthread_cond_t		 slot_cv; /* running or entered dropped,
					   * or stopping */
	rpc_slot		*slots;	  /* n_workers, from start */
};

struct hearth_rpc_client {
	char	    *url;
	size_t	     max_msg;
	nng_socket   sock;
	nng_dialer   dialer;
	atomic_int   pipes;	/* connections up now */
	atomic_int   connected; /* was ever connected */
	struct hearth_rpc_local *reg; /* in-process calls; NULL: none */
};

/* ---- rpc.c ---- */

size_t	rpc_arena_cap(size_t max_msg);
/* Milliseconds left before deadline (0 = none -> infinite); *expired
 * when it has passed. */
nng_duration rpc_remaining(int64_t deadline, int *expired);
/* hearth_rpc_call's error for nng result rv while doing what. */
int rpc_call_fail(hearth_rpc_client *c, int rv, const char *what,
    hearth_err *err);
/* Arm the next receive of a server worker (or go idle when stopping). */
void rpc_worker_recv(rpc_worker *w);
/* HEARTH_EUNAVAIL when c was connected once and has no connection after
 * waiting up to wait_ms for the redial; 0 otherwise. */
int rpc_client_gone(hearth_rpc_client *c, int64_t wait_ms, hearth_err *err);
/* The request envelope of one call as an nng message (*out), after the
 * client-side size check. */
int rpc_pack(hearth_rpc_client *c, uint32_t method, const hearth_rpc_meta *meta,
    const uint8_t *body, size_t len, nng_msg **out, hearth_err *err);
/* A reply's envelope: its body (arena memory) or the remote error. */
int rpc_decode_reply(hearth_rpc_client *c, nng_msg *reply, hearth_arena *arena,
    const uint8_t **resp, size_t *resp_len, hearth_err *err);

/* ---- rpc_local.c ---- */

/* Server started (listening): join the registry, with slots. HEARTH_ENOMEM. */
int rpc_local_server_start(hearth_rpc_server *s);
/* Server stopping (s->stopping set): leave the registry, wake waiting
 * calls and wait for every local caller to be out. */
void rpc_local_server_stop(hearth_rpc_server *s);
void rpc_local_server_free(hearth_rpc_server *s);
/* Run the call in-process when the client's registry has its server:
 * 1 with the outcome in *rc / resp / err, exactly as hearth_rpc_call
 * reports it; 0 when the call must go through nng. */
int rpc_local_call(hearth_rpc_client *c, uint32_t method,
    const hearth_rpc_meta *meta, const uint8_t *body, size_t len,
    const void *decoded,
    hearth_arena *arena, const uint8_t **resp, size_t *resp_len,
    hearth_err *err, int *rc);

#endif
