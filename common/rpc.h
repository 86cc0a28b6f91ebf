/*
 * rpc: hearth's internal request/response transport (DESIGN §4), the only
 * module that touches nng.
 *
 * A call is one nng REQ/REP exchange carrying a protobuf envelope
 * (proto/rpc.proto): hearth.rpc.Request {method, tenant, request_id,
 * deadline_unix_ms, body} and hearth.rpc.Response {status, message, body}.
 * The body is the method's own message; this module never looks inside it.
 * URLs are nng URLs: `inproc://name` inside one process (-target=all) and
 * `tcp://host:port` between machines.
 *
 * Server. A REP socket with `workers` contexts. Each context is a small
 * state machine driven by nng aio callbacks; the handler itself runs on one
 * of `workers` hearth threads, never on nng's callback threads (they must
 * not block, and a handler takes locks and may scan a large head):
 *
 *     IDLE --start: nng_ctx_recv--> RECV --recv_cb: enqueue--> QUEUED
 *       ^                            ^                           |
 *       |                            |                 rpc_serve (thread):
 *     stop                        send_cb                decode, handler,
 *                                    |                   encode, ctx_send
 *                                    +---------- SEND <----------+
 *
 * Per request the server makes an arena (reset after the reply) and a
 * response buffer limited to max_msg_bytes, decodes the envelope into the
 * arena and calls the handler. A request whose deadline already passed is
 * answered with HEARTH_ETIMEDOUT without running the handler. A handler
 * error becomes Response.status/message; an over-size response becomes
 * HEARTH_ETOOLARGE. Messages larger than max_msg_bytes are refused on both
 * ends (the client checks before sending; both sockets set
 * NNG_OPT_RECVMAXSZ as a backstop, which makes nng drop the connection).
 * The arena cap is 16 * max_msg_bytes (at least 64 MiB): decoded protobuf
 * is about 7x its wire size (dependencies.md §2).
 *
 * In-process calls. Clients and servers given the same hearth_rpc_local
 * (the all-in-one process makes one and hands it to its ingester's server
 * and to the cluster's clients) find each other by URL, and their PUSH
 * and PING calls skip nng: the handler runs on the calling thread, with
 * one of the server's `workers` in-process turns (a slot: arena and
 * response buffer, as a worker has; so up to `workers` nng requests and
 * `workers` in-process calls run at once), after the same size and
 * deadline checks, and the caller sees the same codes and messages as
 * over nng. Such a caller gets control back when the handler returns (a
 * deadline is only checked before it starts), which is why only these
 * short methods go this way. It saves the envelope and the four thread
 * wake-ups of an nng round trip (about a tenth of the ingest path's CPU).
 * A server is found from its start until its stop; stopping waits for the
 * in-process calls inside it, and later calls use nng (and fail as calls
 * to a stopped server do). See rpc_impl.h.
 *
 * Client. A REQ socket dialed in the background (the server may start
 * later; nng reconnects). hearth_rpc_call is blocking and thread-safe: each
 * call opens its own nng_ctx, so calls from many threads are in flight at
 * once on one connection. REQ re-sending is disabled
 * (NNG_OPT_REQ_RESENDTIME infinite): a retry may double-apply a push, so
 * retrying is the caller's decision. The deadline becomes the aio timeout.
 *
 * Teardown follows dependencies.md §3: stop every aio, then close the
 * contexts, then the socket, then free the aios. Known nng 1.5.2 defect:
 * freeing a client while its TCP connection is still being negotiated (a
 * few ms after create or a reconnect) leaks that connection's objects,
 * about 4 KiB, reproduced outside hearth; clients are long-lived, and
 * tests connect before they free.
 *
 * Threading: server functions are called by the owning role's thread;
 * the handler is called concurrently from up to `workers` threads with
 * distinct arenas and buffers. A client may be shared by any number of
 * threads; hearth_rpc_client_free must not race with calls.
 */
#ifndef HEARTH_RPC_H
#define HEARTH_RPC_H

#include "arena.h"
#include "buf.h"
#include "err.h"
#include "log.h"

#include <stddef.h>
#include <stdint.h>

/* Method numbers: wire values, never reused. */
enum {
	HEARTH_RPC_PUSH	  = 1, /* ingester PushRequest -> PushResponse */
	HEARTH_RPC_SELECT = 2, /* SelectRequest -> SelectResponse */
	HEARTH_RPC_LABELS = 3, /* LabelsRequest -> LabelsResponse */
	HEARTH_RPC_PING	  = 4, /* empty -> PingResponse */
	HEARTH_RPC_PLAN	  = 5, /* PlanRequest -> PlanResponse */
	HEARTH_RPC_IDS	  = 6, /* IdsRequest -> IdsResponse */
	HEARTH_RPC_SERVICES = 7, /* ServicesRequest -> ServicesResponse */
	HEARTH_RPC_SETTINGS = 8	 /* SettingsRequest -> SettingsResponse */
};

/* A method's name for logs and messages ("push", "select", ...; "method
 * <n>" is not returned: unknown numbers are "unknown"). Static string. */
const char *hearth_rpc_method_name(uint32_t method);

/* Per-call metadata. Strings are borrowed; NULL means "". On the server
 * side they point into the request arena. deadline_unix_ms is wall-clock
 * (CLOCK_REALTIME) milliseconds; 0 = no deadline (the call waits as long
 * as it takes, so callers on request paths should always set one). */
typedef struct hearth_rpc_meta {
	const char *tenant;
	const char *request_id;
	int64_t	    deadline_unix_ms;
	/* Server side, in-process calls only: the body as the caller already
	 * decoded it (hearth_rpc_pending.decoded; for PUSH the
	 * Hearth__Ingester__PushRequest that body encodes), read-only and
	 * valid for the call, so the handler can skip decoding it again
	 * (about 3 % of the ingest path's CPU). NULL otherwise; callers'
	 * values are ignored. */
	const void *decoded;
} hearth_rpc_meta;

/* Server-side method handler. body[0..len) is the request body (arena
 * memory, valid for the call). Write the response body into resp (already
 * empty, limited to the max message size). Return 0, or a negative
 * HEARTH_E* code with err filled: code and message travel to the caller.
 * Called concurrently from several threads. */
typedef int (*hearth_rpc_handler)(void *ctx, uint32_t method,
    const hearth_rpc_meta *meta, const uint8_t *body, size_t len,
    hearth_arena *arena, hearth_buf *resp, hearth_err *err);

typedef struct hearth_rpc_server hearth_rpc_server;
typedef struct hearth_rpc_client hearth_rpc_client;

/* New server for url (not yet listening). max_msg_bytes > 0 bounds the
 * encoded envelope in both directions; workers (>= 1) is the number of
 * requests handled at once. h and ctx are borrowed and must outlive the
 * server. log is copied. */
int hearth_rpc_server_new(const char *url, size_t max_msg_bytes,
    unsigned workers, hearth_rpc_handler h, void *ctx, const hearth_log *log,
    hearth_rpc_server **out, hearth_err *err);
/* Listen and start serving. Fails (HEARTH_EINVAL for a bad URL,
 * HEARTH_EIO for an address in use...) with a message naming the URL. */
int hearth_rpc_server_start(hearth_rpc_server *s, hearth_err *err);
/* Stop serving: waits for running handlers to finish; requests not yet
 * handled get no reply (their callers time out or see the peer gone).
 * Idempotent; the server cannot be started again. */
void hearth_rpc_server_stop(hearth_rpc_server *s);
/* Stop (if needed) and free. NULL is a no-op. */
void hearth_rpc_server_free(hearth_rpc_server *s);
/* TCP port the server is bound to (useful with `tcp://127.0.0.1:0`), or 0
 * for other transports or before start. */
int hearth_rpc_server_port(const hearth_rpc_server *s);

/* The in-process registry: started servers by URL, for the clients and
 * servers given it (see "In-process calls" above). It must outlive all of
 * them. HEARTH_ENOMEM. */
typedef struct hearth_rpc_local hearth_rpc_local;
int  hearth_rpc_local_new(hearth_rpc_local **out, hearth_err *err);
void hearth_rpc_local_free(hearth_rpc_local *l); /* NULL: no-op */
/* Before hearth_rpc_server_start: the server joins l when it starts and
 * leaves it when it stops. NULL: no in-process calls. */
void hearth_rpc_server_set_local(hearth_rpc_server *s, hearth_rpc_local *l);
/* Calls of c look for their server in l (NULL: never in-process). */
void hearth_rpc_client_set_local(hearth_rpc_client *c, hearth_rpc_local *l);

/* New client for url; dials in the background (no error if the server is
 * not up yet). HEARTH_EINVAL for a malformed or unsupported URL. */
int hearth_rpc_client_new(const char *url, size_t max_msg_bytes,
    hearth_rpc_client **out, hearth_err *err);

/* Call method with body[0..len). On success *resp and *resp_len are the
 * response body in arena memory (*resp may be NULL when resp_len is 0).
 * Errors:
 *   remote failure          -> the remote code and message, unchanged;
 *   deadline passed         -> HEARTH_ETIMEDOUT
 *                              "rpc: deadline exceeded calling <url>";
 *   request too big         -> HEARTH_ETOOLARGE before anything is sent
 *                              (or from the server when its limit is
 *                              lower: inproc replies ETOOLARGE, tcp drops
 *                              the connection -> HEARTH_EUNAVAIL);
 *   connection lost         -> HEARTH_EUNAVAIL "rpc: connection to <url>
 *                              lost: ..." (never re-sent);
 *   undecodable response    -> HEARTH_ECORRUPT;
 *   arena cap reached       -> HEARTH_ENOMEM;
 *   client closed / failure -> HEARTH_EUNAVAIL.
 * Thread-safe. */
int hearth_rpc_call(hearth_rpc_client *c, uint32_t method,
    const hearth_rpc_meta *meta, const uint8_t *body, size_t len,
    hearth_arena *arena, const uint8_t **resp, size_t *resp_len,
    hearth_err *err);

/* One call of a hearth_rpc_call_all batch: inputs set by the caller,
 * outputs (rc, err, resp, resp_len) filled by hearth_rpc_call_all exactly
 * as hearth_rpc_call would return them. */
typedef struct hearth_rpc_pending {
	hearth_rpc_client *client;	/* in */
	uint32_t	   method;	/* in */
	const uint8_t	  *body;	/* in */
	size_t		   len;		/* in */
	const void	  *decoded;	/* in, optional: body decoded (meta) */
	int		   rc;		/* out: 0 or HEARTH_E* */
	hearth_err	   err;		/* out when rc != 0 */
	const uint8_t	  *resp;	/* out: arena memory */
	size_t		   resp_len;	/* out */
	/* in, optional (hearth_rpc_call_until): a second copy of the call
	 * (the same method; another replica that can answer it equally) sent
	 * instead of cancelling this call when it is still running at the
	 * end of the grace. Whichever copy answers first is the outcome and
	 * the other is cancelled; when one copy fails, the other is waited
	 * for. */
	hearth_rpc_client *hedge_client;
	const uint8_t	  *hedge_body;
	size_t		   hedge_len;
	int		   hedged; /* out: 0 not sent, 1 sent, 2 it answered */
} hearth_rpc_pending;

/* Run calls[0..n) in parallel (nng aios, no thread per call) with the same
 * meta (one deadline for all) and wait until every one has finished or
 * the deadline passed. Responses are decoded into arena on the calling
 * thread after the waits, so one arena is enough. Never fails as a whole:
 * look at each calls[i].rc. */
void hearth_rpc_call_all(hearth_rpc_pending *calls, size_t n,
    const hearth_rpc_meta *meta, hearth_arena *arena);

/* hearth_rpc_call_all that stops waiting early: before the first wait and
 * after each call finishes (its outcome already in calls[i]),
 * enough(ctx, calls, done, n) is asked with done[i] != 0 for every
 * finished call; once it returns non-zero the others get a grace period
 * more, then each call still running is hedged (its hedge_client set: the
 * hedge is sent and both copies are waited for, see hearth_rpc_pending)
 * or cancelled: HEARTH_ETIMEDOUT "rpc: call to URL not waited for: enough
 * replicas answered" (a cancelled write may or may not have been applied
 * by its peer). enough NULL = wait for all.
 * The grace is grace_ms when >= 0. A negative grace_ms is for calls whose
 * duration grows with their work: the stragglers get as long again as
 * the batch had taken when enough answered, and at least -grace_ms (so a
 * lone call that is enough unanswered gets -grace_ms). */
typedef int (*hearth_rpc_enough_fn)(void *ctx,
    const hearth_rpc_pending *calls, const int *done, size_t n);
void hearth_rpc_call_until(hearth_rpc_pending *calls, size_t n,
    const hearth_rpc_meta *meta, hearth_arena *arena,
    hearth_rpc_enough_fn enough, void *ctx, int64_t grace_ms);

/* Close and free. No call may be in progress. NULL is a no-op. */
void hearth_rpc_client_free(hearth_rpc_client *c);

/* The URL a client was created with (borrowed). */
const char *hearth_rpc_client_url(const hearth_rpc_client *c);

#endif
