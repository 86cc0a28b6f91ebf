#include "http_impl.h"
#include "cond.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Bytes a client may keep sending past max_body_bytes (no Content-Length,
 * so we learn late) before we hang up instead of reading it all to answer
 * 413: enough for a modest overshoot to get its 413, small enough that a
 * client streaming forever costs little. */
#define HTTP_DISCARD_MAX ((uint64_t) 16 << 20)

/* How long stop waits for in-flight requests when there is no
 * connection timeout to go by. */
#define HTTP_STOP_WAIT_S 30

static const double http_body_buckets[] = { 1024, 4096, 16384, 65536, 262144,
	1048576, 4194304, 16777216, 67108864, 268435456 };

/* " (limits.x)" naming the setting behind the body limit, or "". The
 * name is kept in a buffer owned by the server. */
static const char *
http_limit_name(const hearth_http_server *s)
{
	return s->limit_name;
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn,
    const char *url, const char *method, const char *version,
    const char *upload_data, size_t *upload_data_size, void **con_cls);
static void            http_completed(void *cls, struct MHD_Connection *conn,
               void **con_cls, enum MHD_RequestTerminationCode toe);

/* ---- server lifecycle ---------------------------------------------- */

static void
http_register_metrics(hearth_http_server *s)
{
	static const char *const rms[] = { "route", "method", "status" };
	hearth_metrics          *m     = s->metrics;
	if (m == NULL)
		return;
	s->m_requests = hearth_metrics_counter(m, "hearth_http_requests_total",
	    "HTTP requests completed, by route, method and status.", 3, rms);
	s->m_duration = hearth_metrics_histogram(m,
	    "hearth_http_request_duration_seconds",
	    "Time from request headers to the last response byte.", 1, rms,
	    NULL, 0);
	s->m_body     = hearth_metrics_histogram(m,
	        "hearth_http_request_body_bytes",
	        "Request body bytes received; for a body refused up front, the "
	            "size its Content-Length announced.",
	        1, rms, http_body_buckets,
	        sizeof(http_body_buckets) / sizeof(http_body_buckets[0]));
	s->m_inflight
	    = hearth_metrics_gauge(m, "hearth_http_inflight_requests",
	        "HTTP requests received and not yet completed.", 0, NULL);
}

/* Resolve the listen address now, so a typo fails at start-up with a
 * clear message rather than inside MHD. */
static int
http_resolve(
    hearth_http_server *s, const char *address, uint16_t port, hearth_err *err)
{
	struct addrinfo hints, *res = NULL;
	char            host[256], portstr[8];
	size_t          len = strlen(address);
	if (len >= sizeof(host))
		return hearth_err_set(err, HEARTH_EINVAL,
		    "http: listen address is %zu bytes long", len);
	if (len >= 2 && address[0] == '[' && address[len - 1] == ']') {
		memcpy(host, address + 1, len - 2); /* [::1] */
		host[len - 2] = '\0';
	} else {
		memcpy(host, address, len + 1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family   = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags    = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%u", (unsigned) port);
	int rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0 || res == NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "http: cannot use listen address \"%s\": %s", address,
		    rc != 0 ? gai_strerror(rc) : "no address");
	memcpy(&s->addr, res->ai_addr, res->ai_addrlen);
	s->ipv6 = res->ai_family == AF_INET6;
	freeaddrinfo(res);
	snprintf(s->addr_text, sizeof(s->addr_text), "%s:%u", address,
	    (unsigned) port);
	return 0;
}

int
hearth_http_server_new(const hearth_http_opts *o, hearth_metrics *m,
    const hearth_log *log, hearth_http_server **out, hearth_err *err)
{
	*out                  = NULL;
	hearth_http_server *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "http: out of memory");
	s->opts    = *o;
	s->metrics = m;
	if (log != NULL)
		s->log = *log;
	else
		hearth_log_init(&s->log, "http", HEARTH_LOG_INFO);
	const char *address = o->address != NULL && o->address[0] != '\0'
	    ? o->address
	    : "0.0.0.0";
	int         rc      = http_resolve(s, address, o->port, err);
	if (rc != 0) {
		free(s);
		return rc;
	}
	s->opts.address = NULL; /* borrowed pointer: not kept */
	if (o->max_body_setting != NULL)
		snprintf(s->limit_name, sizeof(s->limit_name), " (%s)",
		    o->max_body_setting);
	s->opts.max_body_setting = NULL; /* copied above */
	/* One idle arena per worker thread: requests running at once are
	 * at most about that many, and idle memory stays bounded. */
	s->cap_idle_arenas = o->threads > 1 ? o->threads : 1;
	s->idle_arenas = calloc(s->cap_idle_arenas, sizeof(*s->idle_arenas));
	if (s->idle_arenas == NULL) {
		free(s);
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "http: out of memory");
	}
	pthread_mutex_init(&s->mu, NULL);
	hearth_cond_init(&s->cv);
	http_register_metrics(s);
	http_conn_init(s);
	*out = s;
	return 0;
}

int
hearth_http_route(hearth_http_server *s, const char *method, const char *path,
    int is_prefix, const char *route_label, hearth_http_handler h, void *ctx)
{
	HEARTH_ASSERT(s->daemon == NULL); /* invariant (1) */
	HEARTH_ASSERT(path != NULL && route_label != NULL && h != NULL);
	if (s->n_routes == s->cap_routes) {
		size_t cap = s->cap_routes ? s->cap_routes * 2 : 16;
		hearth_http_route_row *nr
		    = realloc(s->routes, cap * sizeof(*nr));
		if (nr == NULL)
			return HEARTH_ENOMEM;
		s->routes     = nr;
		s->cap_routes = cap;
	}
	hearth_http_route_row *r = &s->routes[s->n_routes];
	memset(r, 0, sizeof(*r));
	r->method    = method != NULL ? strdup(method) : NULL;
	r->path      = strdup(path);
	r->label     = strdup(route_label);
	r->path_len  = strlen(path);
	r->is_prefix = is_prefix != 0;
	r->h         = h;
	r->ctx       = ctx;
	if ((method != NULL && r->method == NULL) || r->path == NULL
	    || r->label == NULL) {
		free(r->method);
		free(r->path);
		free(r->label);
		return HEARTH_ENOMEM;
	}
	s->n_routes++;
	return 0;
}

void
hearth_http_server_set_auth(hearth_http_server *s, struct hearth_auth *a)
{
	HEARTH_ASSERT(s->daemon == NULL); /* read without locks once started */
	s->auth = a;
}

struct hearth_auth *
hearth_http_req_auth(const hearth_http_req *r)
{
	return r->s->auth;
}

/* MHD's error log → hearth_log. The last line is kept so that a failed
 * start can say why (MHD_start_daemon itself only returns NULL). */
static void
http_logger(void *cls, const char *fmt, va_list ap)
{
	hearth_http_server *s = cls;
	char                line[512], q[600];
	vsnprintf(line, sizeof(line), fmt, ap);
	size_t n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	pthread_mutex_lock(&s->mu);
	memcpy(s->last_error, line, n + 1);
	pthread_mutex_unlock(&s->mu);
	hearth_log_write(&s->log, HEARTH_LOG_WARN, "http server error",
	    "detail=%s", hearth_log_quote(q, sizeof(q), line));
}

int
hearth_http_server_start(hearth_http_server *s, hearth_err *err)
{
	HEARTH_ASSERT(s->daemon == NULL);
	const hearth_http_opts *o = &s->opts;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL
	    | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (s->ipv6)
		flags |= MHD_USE_IPv6;
	/* 128 KiB at least: MHD hands the body over in chunks of about half
	 * the connection's memory pool, and headers must fit in it too. */
	size_t mem = 128 * 1024;
	if (o->max_request_header_bytes > mem / 2)
		mem = o->max_request_header_bytes * 2;
	/* Options that exist only when set: MHD warns about a pool size of
	 * 0, and 0 means "MHD's default" for the others. */
	struct MHD_OptionItem ops[5];
	size_t                n = 0;
	if (o->threads > 1)
		ops[n++]
		    = (struct MHD_OptionItem) { MHD_OPTION_THREAD_POOL_SIZE,
			      (intptr_t) o->threads, NULL };
	if (o->max_connections > 0)
		ops[n++]
		    = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_LIMIT,
			      (intptr_t) o->max_connections, NULL };
	if (o->connection_timeout_s > 0)
		ops[n++]
		    = (struct MHD_OptionItem) { MHD_OPTION_CONNECTION_TIMEOUT,
			      (intptr_t) o->connection_timeout_s, NULL };
	if (o->max_connections_per_ip > 0)
		ops[n++] = (struct MHD_OptionItem) {
			MHD_OPTION_PER_IP_CONNECTION_LIMIT,
			(intptr_t) o->max_connections_per_ip, NULL
		};
	ops[n]           = (struct MHD_OptionItem) { MHD_OPTION_END, 0, NULL };
	s->last_error[0] = '\0';
	/* The logger goes first, or MHD logs the other options' problems
	 * to stderr itself. */
	/* The port argument is ignored with SOCK_ADDR; MHD only prints it
	 * in its bind errors, which would say "port 0" otherwise. */
	s->daemon = MHD_start_daemon(flags, o->port, NULL, NULL, http_access, s,
	    MHD_OPTION_EXTERNAL_LOGGER, http_logger, s,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed, s,
	    MHD_OPTION_NOTIFY_CONNECTION, http_conn_notify, s,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &s->addr,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, mem, MHD_OPTION_ARRAY, ops,
	    MHD_OPTION_END);
	if (s->daemon == NULL)
		return hearth_err_set(err, HEARTH_EIO,
		    "http: cannot listen on %s: %s", s->addr_text,
		    s->last_error[0] ? s->last_error
		                     : "libmicrohttpd failed to start");
	const union MHD_DaemonInfo *info
	    = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info != NULL ? info->port : s->opts.port;
	if (http_conn_start(s, err) != 0) {
		MHD_stop_daemon(s->daemon);
		s->daemon = NULL;
		return err != NULL ? err->code : HEARTH_EINTERNAL;
	}
	return 0;
}

uint16_t
hearth_http_server_port(const hearth_http_server *s)
{
	return s->daemon != NULL ? s->port : 0;
}

void
hearth_http_server_stop(hearth_http_server *s)
{
	if (s == NULL || s->daemon == NULL)
		return;
	/* Close the listening socket first so new clients are refused, then
	 * give in-flight requests their time, then tear everything down. */
	MHD_socket ls = MHD_quiesce_daemon(s->daemon);
	/* shutdown, not close: MHD's threads drop the socket from their
	 * epoll sets asynchronously, and closing now would let the number be
	 * reused under them. shutdown refuses new clients all the same. */
	if (ls != MHD_INVALID_SOCKET)
		shutdown(ls, SHUT_RDWR);
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += s->opts.connection_timeout_s > 0
	    ? (time_t) s->opts.connection_timeout_s
	    : HTTP_STOP_WAIT_S;
	pthread_mutex_lock(&s->mu);
	while (s->inflight > 0)
		if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline)
		    == ETIMEDOUT)
			break;
	size_t left = s->inflight;
	pthread_mutex_unlock(&s->mu);
	if (left > 0)
		hearth_log_write(&s->log, HEARTH_LOG_WARN,
		    "http stop gave up waiting for requests", "in_flight=%zu",
		    left);
	http_conn_stop(s);
	MHD_stop_daemon(s->daemon);
	if (ls != MHD_INVALID_SOCKET)
		close(ls);
	s->daemon = NULL;
}

void
hearth_http_server_free(hearth_http_server *s)
{
	if (s == NULL)
		return;
	hearth_http_server_stop(s);
	for (size_t i = 0; i < s->n_routes; i++) {
		free(s->routes[i].method);
		free(s->routes[i].path);
		free(s->routes[i].label);
	}
	free(s->routes);
	http_conn_fini(s);
	for (size_t i = 0; i < s->n_idle_arenas; i++)
		hearth_arena_free(s->idle_arenas[i]);
	free(s->idle_arenas);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* ---- request accessors --------------------------------------------- */

const char *
hearth_http_req_method(const hearth_http_req *r)
{
	return r->method;
}

const char *
hearth_http_req_path(const hearth_http_req *r)
{
	return r->path;
}

const char *
hearth_http_req_query(const hearth_http_req *r, const char *name)
{
	const char *v = NULL;
	if (MHD_lookup_connection_value_n(
	        r->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v, NULL)
	    != MHD_YES)
		return NULL;
	return v != NULL ? v : "";
}

typedef struct http_query_iter {
	const char  *name;
	const char **vals;
	size_t       max;
	size_t       n;
} http_query_iter;

static enum MHD_Result
http_query_collect(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	http_query_iter *it = cls;
	(void) kind;
	if (key != NULL && strcmp(key, it->name) == 0 && it->n < it->max)
		it->vals[it->n++] = value != NULL ? value : "";
	return it->n < it->max ? MHD_YES : MHD_NO;
}

size_t
hearth_http_req_query_all(
    const hearth_http_req *r, const char *name, const char **vals, size_t max)
{
	http_query_iter it = { name, vals, max, 0 };
	if (max == 0)
		return 0;
	MHD_get_connection_values(
	    r->conn, MHD_GET_ARGUMENT_KIND, http_query_collect, &it);
	return it.n;
}

const char *
hearth_http_req_header(const hearth_http_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const uint8_t *
hearth_http_req_body(const hearth_http_req *r, size_t *len)
{
	if (len != NULL)
		*len = r->body.len;
	return (const uint8_t *) (r->body.data != NULL ? r->body.data : "");
}

hearth_arena *
hearth_http_req_arena(hearth_http_req *r)
{
	return r->arena;
}

/* ---- request flow (see the diagram in http.h) ---------------------- */

static const char *
http_method_label(const char *m)
{
	static const char *const known[]
	    = { "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH" };
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(m, known[i]) == 0)
			return known[i];
	return "other"; /* keeps the metric's cardinality bounded */
}

static int
http_path_matches(const hearth_http_route_row *r, const char *path)
{
	if (r->is_prefix)
		return strncmp(path, r->path, r->path_len) == 0;
	return strcmp(path, r->path) == 0;
}

static int
http_same_spec(const hearth_http_route_row *a, const hearth_http_route_row *b)
{
	return a->is_prefix == b->is_prefix && strcmp(a->path, b->path) == 0;
}

static int
http_method_ok(const hearth_http_route_row *r, const char *method)
{
	return r->method == NULL || strcmp(r->method, method) == 0
	    || (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0);
}

/* The route for (path, method), or NULL. *label gets the label to count
 * the request under; when the path matched but the method did not,
 * allow[] gets the methods for the Allow header and *status 405, else
 * *status is 404. */
static const hearth_http_route_row *
http_match(const hearth_http_server *s, const char *path, const char *method,
    const char **label, char *allow, size_t allow_sz, int *status)
{
	const hearth_http_route_row *best = NULL;
	for (size_t i = 0; i < s->n_routes; i++) {
		const hearth_http_route_row *r = &s->routes[i];
		if (!http_path_matches(r, path))
			continue;
		if (best == NULL || (!r->is_prefix && best->is_prefix)
		    || (r->is_prefix == best->is_prefix
		        && r->path_len > best->path_len))
			best = r;
	}
	*label  = "other";
	*status = 404;
	if (best == NULL)
		return NULL;
	*label = best->label;
	for (size_t i = 0; i < s->n_routes; i++)
		if (http_same_spec(&s->routes[i], best)
		    && http_method_ok(&s->routes[i], method))
			return &s->routes[i];
	*status     = 405;
	size_t o    = 0;
	allow[0]    = '\0';
	int saw_get = 0, saw_head = 0;
	for (size_t i = 0; i < s->n_routes; i++) {
		const hearth_http_route_row *r = &s->routes[i];
		if (!http_same_spec(r, best)
		    || strstr(allow, r->method) != NULL)
			continue;
		saw_get |= strcmp(r->method, "GET") == 0;
		saw_head |= strcmp(r->method, "HEAD") == 0;
		o += (size_t) snprintf(allow + o, allow_sz - o, "%s%s",
		    o > 0 ? ", " : "", r->method);
		if (o >= allow_sz)
			break;
	}
	if (saw_get && !saw_head && o < allow_sz)
		snprintf(allow + o, allow_sz - o, ", HEAD");
	return NULL;
}

static enum MHD_Result
http_header_size(
    void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	size_t *sum = cls;
	(void) kind;
	*sum += strlen(key) + (value != NULL ? strlen(value) : 0) + 4;
	return MHD_YES;
}

/* Answer with an error instead of running the handler. With defer set
 * (a request without a body, still in its first call) the answer is kept
 * and queued on the next call: MHD closes the connection when a response
 * is queued before the request is fully read, and a GET that hits a 404
 * has no reason to lose its keep-alive connection. */
static enum MHD_Result http_reject(hearth_http_req *req, int defer, int status,
    const char *allow, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static enum MHD_Result
http_reject(hearth_http_req *req, int defer, int status, const char *allow,
    const char *fmt, ...)
{
	hearth_http_resp *resp = calloc(1, sizeof(*resp));
	char              msg[HEARTH_ERR_MSG_MAX];
	va_list           ap;
	if (resp == NULL)
		return MHD_NO;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	hearth_http_resp_init(resp);
	hearth_http_resp_error(resp, status, "%s", msg);
	if (allow != NULL)
		hearth_http_resp_header(resp, "Allow", allow);
	if (defer) {
		req->pending = resp;
		req->state   = HEARTH_HTTP_REQ_REJECT_PENDING;
		return MHD_YES;
	}
	enum MHD_Result rc = hearth_http_send(req, resp);
	hearth_http_resp_fini(resp);
	free(resp);
	req->state = HEARTH_HTTP_REQ_REJECTED;
	return rc;
}

/* Content-Length over max_body_bytes: refuse now or read and drop. */
static enum MHD_Result
http_check_length(hearth_http_req *req, const char *cl)
{
	char  *end;
	size_t max           = req->s->opts.max_body_bytes;
	errno                = 0;
	unsigned long long n = strtoull(cl, &end, 10);
	req->body.limit      = max;
	if (errno != 0 || end == cl || n <= max)
		return MHD_YES;
	const char *expect = MHD_lookup_connection_value(
	    req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
	req->announced = n;
	/* A client waiting for 100 Continue sends nothing more, and one
	 * announcing far too much is not worth reading: answer now (MHD then
	 * closes the connection). Anyone else is already sending; closing on
	 * them can reset the connection before they read the 413, so read
	 * and drop the body, and answer at its end. */
	if ((expect != NULL && strcasecmp(expect, "100-continue") == 0)
	    || n - max > HTTP_DISCARD_MAX) {
		req->body_bytes = n; /* for the metric */
		return http_reject(req, 0, 413, NULL,
		    "request body is %llu bytes, larger than the limit of %zu "
		    "bytes%s",
		    n, max, http_limit_name(req->s));
	}
	req->state = HEARTH_HTTP_REQ_TOO_LARGE;
	return MHD_YES;
}

static enum MHD_Result
http_begin(hearth_http_server *s, struct MHD_Connection *conn, const char *url,
    const char *method, void **con_cls)
{
	hearth_http_req *req = calloc(1, sizeof(*req));
	if (req == NULL)
		return MHD_NO;
	pthread_mutex_lock(&s->mu);
	if (s->n_idle_arenas > 0)
		req->arena = s->idle_arenas[--s->n_idle_arenas];
	pthread_mutex_unlock(&s->mu);
	if (req->arena == NULL
	    && (req->arena = hearth_arena_new(s->opts.request_arena_cap))
	        == NULL) {
		free(req);
		return MHD_NO;
	}
	clock_gettime(CLOCK_MONOTONIC, &req->t0);
	req->s            = s;
	req->conn         = conn;
	req->method       = method;
	req->path         = url;
	req->method_label = http_method_label(method);
	req->tcp          = http_conn_of(conn);
	hearth_buf_init(&req->body);
	*con_cls = req;
	pthread_mutex_lock(&s->mu);
	s->inflight++;
	pthread_mutex_unlock(&s->mu);
	hearth_metric_add(s->m_inflight, NULL, 1);

	/* A body is coming when it has a length or is chunked. */
	const char *cl = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	int defer = (cl == NULL || strcmp(cl, "0") == 0)
	    && MHD_lookup_connection_value(
	           conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING)
	        == NULL;
	char allow[128];
	int  status;
	req->route = http_match(
	    s, url, method, &req->route_label, allow, sizeof(allow), &status);
	if (req->route == NULL && status == 405)
		return http_reject(req, defer, 405, allow,
		    "method %s is not allowed for %s; use %s", method, url,
		    allow);
	if (req->route == NULL)
		return http_reject(req, defer, 404, NULL,
		    "no such endpoint: %s %s", method, url);
	if (s->opts.max_request_header_bytes > 0) {
		size_t sum = 0;
		MHD_get_connection_values(
		    conn, MHD_HEADER_KIND, http_header_size, &sum);
		if (sum > s->opts.max_request_header_bytes)
			return http_reject(req, defer, 431, NULL,
			    "request headers are %zu bytes, the limit is %zu",
			    sum, s->opts.max_request_header_bytes);
	}
	if (cl != NULL && s->opts.max_body_bytes > 0)
		return http_check_length(req, cl);
	req->body.limit = s->opts.max_body_bytes;
	return MHD_YES;
}

static enum MHD_Result
http_body(hearth_http_req *req, const char *data, size_t *size)
{
	size_t n   = *size;
	size_t max = req->s->opts.max_body_bytes;
	*size      = 0; /* everything is consumed, kept or dropped */
	req->body_bytes += n;
	switch (req->state) {
	case HEARTH_HTTP_REQ_ROUTED:
		if (max > 0 && req->body.len + n > max) {
			/* invariant (2): free what we have, keep nothing */
			hearth_buf_fini(&req->body);
			req->state = HEARTH_HTTP_REQ_TOO_LARGE;
			return MHD_YES;
		}
		hearth_buf_append(&req->body, data, n);
		if (hearth_buf_failed(&req->body)) {
			hearth_buf_fini(&req->body);
			req->state = HEARTH_HTTP_REQ_NO_MEMORY;
		}
		return MHD_YES;
	case HEARTH_HTTP_REQ_TOO_LARGE:
		/* a Content-Length refusal starts below max */
		if (req->body_bytes > max
		    && req->body_bytes - max > HTTP_DISCARD_MAX) {
			HEARTH_LOG_DEBUGF(&req->s->log,
			    "http body too large, disconnecting",
			    "path=%s bytes=%llu", req->path,
			    (unsigned long long) req->body_bytes);
			req->status = 413; /* what it is counted as */
			return MHD_NO;
		}
		return MHD_YES;
	default:
		return MHD_YES;
	}
}

/* A 5xx is the server's fault (or its peers'): the log says which
 * request and why, so that an operator sees more than a counter move.
 * 4xx are the client's and stay out of the log. */
static void
http_log_failure(hearth_http_req *req, const hearth_http_resp *resp)
{
	struct timespec t1;
	char		why[512], qpath[300], qwhy[600];
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double) (t1.tv_sec - req->t0.tv_sec) * 1e3
	    + (double) (t1.tv_nsec - req->t0.tv_nsec) / 1e6;
	/* The error body: JSON or text as the handler wrote it (hearth_http_send
	 * compresses later), cut to a log line's worth. */
	size_t n = resp->body.data != NULL ? resp->body.len : 0;
	if (n > sizeof(why) - 1)
		n = sizeof(why) - 1;
	memcpy(why, n > 0 ? resp->body.data : "", n);
	why[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char) why[i] < 0x20)
			why[i] = ' ';
	hearth_log_write(&req->s->log, HEARTH_LOG_WARN, "request failed",
	    "method=%s path=%s status=%d duration_ms=%.1f body=%s",
	    req->method_label,
	    hearth_log_quote(qpath, sizeof(qpath), req->path), resp->status,
	    ms, hearth_log_quote(qwhy, sizeof(qwhy), why));
}

static enum MHD_Result
http_dispatch(hearth_http_req *req)
{
	/* The request has arrived: from here the handler's time is not the
	 * client's, so the read deadline stops (http_conn.c). */
	http_conn_set_busy(req->s, req->tcp, 1);
	switch (req->state) {
	case HEARTH_HTTP_REQ_TOO_LARGE:
		if (req->announced > 0)
			return http_reject(req, 0, 413, NULL,
			    "request body is %llu bytes, larger than the "
			    "limit of %zu bytes%s",
			    req->announced, req->s->opts.max_body_bytes,
			    http_limit_name(req->s));
		return http_reject(req, 0, 413, NULL,
		    "request body is larger than the limit of %zu bytes%s",
		    req->s->opts.max_body_bytes, http_limit_name(req->s));
	case HEARTH_HTTP_REQ_NO_MEMORY:
		return http_reject(req, 0, 503, NULL,
		    "the server ran out of memory reading the request body; "
		    "retry later");
	case HEARTH_HTTP_REQ_REJECT_PENDING: {
		enum MHD_Result rc = hearth_http_send(req, req->pending);
		hearth_http_resp_fini(req->pending);
		free(req->pending);
		req->pending = NULL;
		req->state   = HEARTH_HTTP_REQ_REJECTED;
		return rc;
	}
	case HEARTH_HTTP_REQ_ROUTED:
		break;
	default:
		return MHD_YES; /* answered already */
	}
	hearth_http_resp resp;
	hearth_http_resp_init(&resp);
	req->route->h(req->route->ctx, req, &resp);
	if (resp.status >= 500 && !resp.quiet)
		http_log_failure(req, &resp);
	enum MHD_Result rc = hearth_http_send(req, &resp);
	hearth_http_resp_fini(&resp);
	req->state = HEARTH_HTTP_REQ_DONE;
	return rc;
}

static enum MHD_Result
http_access(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	(void) version;
	if (*con_cls == NULL)
		return http_begin(cls, conn, url, method, con_cls);
	if (*upload_data_size > 0)
		return http_body(*con_cls, upload_data, upload_data_size);
	return http_dispatch(*con_cls);
}

static void
http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	hearth_http_server *s   = cls;
	hearth_http_req    *req = *con_cls;
	(void) conn;
	(void) toe;
	if (req == NULL)
		return;
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double) (t1.tv_sec - req->t0.tv_sec)
	    + (double) (t1.tv_nsec - req->t0.tv_nsec) / 1e9;
	/* 499 (nginx's "client closed request"): it left before an answer */
	char status[16];
	snprintf(status, sizeof(status), "%d",
	    req->status != 0 ? req->status : 499);
	const char *lv[3] = { req->route_label, req->method_label, status };
	hearth_metric_add(s->m_requests, lv, 1);
	hearth_metric_observe(s->m_duration, lv, secs);
	hearth_metric_observe(s->m_body, lv, (double) req->body_bytes);
	hearth_metric_add(s->m_inflight, NULL, -1);
	http_conn_set_busy(s, req->tcp, 0); /* the next request's deadline */
	if (req->pending != NULL) { /* the client left before it was sent */
		hearth_http_resp_fini(req->pending);
		free(req->pending);
	}
	hearth_buf_fini(&req->body);
	hearth_arena_reset(req->arena);
	*con_cls = NULL;
	pthread_mutex_lock(&s->mu);
	if (s->n_idle_arenas < s->cap_idle_arenas) {
		s->idle_arenas[s->n_idle_arenas++] = req->arena;
		req->arena                         = NULL;
	}
	s->inflight--;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	hearth_arena_free(req->arena); /* NULL when kept */
	free(req);
}
