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

struct hearth_http_server {
	hearth_http_opts opts; /* .address is not kept (borrowed) */
	hearth_log       log;
	char             limit_name[96]; /* " (setting)" for 413s, or "" */
	hearth_metrics  *metrics; /* borrowed, may be NULL */
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

	pthread_mutex_t mu; /* guards inflight and last_error */
	pthread_cond_t  cv; /* inflight went down (CLOCK_MONOTONIC) */
	size_t          inflight;
	char            last_error[512];
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
	struct timespec    t0; /* CLOCK_MONOTONIC at headers */
};

/* Turn resp into an MHD response (gzip when the request allows it) and
 * queue it; records the status in req. resp stays owned by the caller. */
enum MHD_Result hearth_http_send(hearth_http_req *req, hearth_http_resp *resp);

#endif
