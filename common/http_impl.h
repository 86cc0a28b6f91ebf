/*
 * http_impl.h: what http.c (server, routing, request flow) and
 * http_resp.c (responses: errors, headers, gzip, sending) share.
 * Include only from those two files.
 */
#ifndef HEARTH_HTTP_IMPL_H
#define HEARTH_HTTP_IMPL_H

#include "http.h"

#include <microhttpd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

typedef struct hearth_http_route_row {
	char               *method; /* NULL = any */
	char               *path;
	size_t              path_len;
	int                 is_prefix;
	char               *label;
	hearth_http_handler h;
	void               *ctx;
} hearth_http_route_row;

/* One TCP connection, for the read deadline (http_conn.c). Lives from
 * MHD's NOTIFY_CONNECTION STARTED to CLOSED; fields guarded by conn_mu. */
typedef struct hearth_http_conn {
	struct hearth_http_conn *prev, *next;
	int                      fd;   /* MHD's; shut down, never closed */
	int                      busy; /* an answer is queued or being made */
	int                      cut;  /* shut down by the deadline */
	struct timespec          since; /* CLOCK_MONOTONIC: reading began */
} hearth_http_conn;

struct hearth_http_server {
	hearth_http_opts opts; /* .address is not kept (borrowed) */
	hearth_log       log;
	char             limit_name[96]; /* " (setting)" for 413s, or "" */
	hearth_metrics  *metrics; /* borrowed, may be NULL */
	struct hearth_auth *auth; /* borrowed, may be NULL */
	hearth_metric   *m_requests, *m_duration, *m_body, *m_inflight;

	/* invariant (1) of http.h: fixed once the daemon runs */
	hearth_http_route_row *routes;
	size_t                 n_routes;
	size_t                 cap_routes;

	struct sockaddr_storage addr;
	int                     ipv6;
	char                    addr_text[300]; /* "host:port" for messages */
	struct MHD_Daemon      *daemon;         /* NULL when stopped */
	uint16_t                port;

	/* http_conn.c: open connections and the thread enforcing
	 * opts.read_timeout_ms on them */
	pthread_mutex_t   conn_mu;
	pthread_cond_t    conn_cv; /* wakes the reaper to stop */
	hearth_http_conn *conns;
	size_t            n_conns;
	int               reaper_running, reaper_stop;
	pthread_t         reaper;
	hearth_metric    *m_conns, *m_cut;

	pthread_mutex_t mu; /* guards inflight, last_error, idle_arenas */
	pthread_cond_t  cv; /* inflight went down (CLOCK_MONOTONIC) */
	size_t          inflight;
	char            last_error[512];
	/* Request arenas of finished requests, reset, for the next ones:
	 * a warm arena costs no malloc or page faults (up to HTTP_IDLE_ARENAS,
	 * each keeping at most the 2 MiB arena.h allows). */
	hearth_arena **idle_arenas;
	size_t         n_idle_arenas, cap_idle_arenas;
};

/* Request states; the diagram is in http.h. */
enum {
	HEARTH_HTTP_REQ_ROUTED = 0,     /* reading the body, handler to run */
	HEARTH_HTTP_REQ_REJECT_PENDING, /* error kept in .pending, to send */
	HEARTH_HTTP_REQ_REJECTED,  /* error queued instead of the handler */
	HEARTH_HTTP_REQ_TOO_LARGE, /* body over the limit, being dropped */
	HEARTH_HTTP_REQ_NO_MEMORY, /* body could not be stored */
	HEARTH_HTTP_REQ_DONE       /* handler ran, response queued */
};

struct hearth_http_req {
	hearth_http_server          *s;
	struct MHD_Connection       *conn;
	const char                  *method; /* MHD's, valid for the request */
	const char                  *path;
	const hearth_http_route_row *route;        /* NULL when rejected */
	const char                  *route_label;  /* metrics */
	const char                  *method_label; /* metrics, static */
	int                          state;
	int                          status;  /* queued status, 0 = none yet */
	hearth_http_resp            *pending; /* REJECT_PENDING's answer */
	hearth_buf                   body;
	uint64_t           body_bytes; /* received, dropped included */
	unsigned long long announced;  /* Content-Length over the limit */
	hearth_arena      *arena;
	struct timespec    t0;   /* CLOCK_MONOTONIC at headers */
	hearth_http_conn  *tcp;  /* its connection, NULL if untracked */
};

/* ---- http_conn.c ---- */

/* Set up / tear down connection tracking (the reaper runs only when
 * opts.read_timeout_ms > 0). init registers the metrics. */
void http_conn_init(hearth_http_server *s);
int  http_conn_start(hearth_http_server *s, hearth_err *err);
void http_conn_stop(hearth_http_server *s);
void http_conn_fini(hearth_http_server *s);
/* MHD_OPTION_NOTIFY_CONNECTION callback (cls = the server). */
void http_conn_notify(void *cls, struct MHD_Connection *c,
    void **socket_context, enum MHD_ConnectionNotificationCode toe);
/* The tracked connection of an MHD connection, or NULL. */
hearth_http_conn *http_conn_of(struct MHD_Connection *c);
/* busy 1: an answer is being made or sent (no deadline); busy 0: the
 * request completed, the next one's deadline starts now. */
void http_conn_set_busy(hearth_http_server *s, hearth_http_conn *t, int busy);

/* Turn resp into an MHD response (gzip when the request allows it) and
 * queue it; records the status in req. resp stays owned by the caller. */
enum MHD_Result hearth_http_send(hearth_http_req *req, hearth_http_resp *resp);

#endif
