/*
 * http_conn: the read deadline of http.h ("Slow clients"). Every TCP
 * connection MHD accepts is kept in a list from its STARTED notification
 * to its CLOSED one; a reaper thread shuts down the socket of any that has
 * been reading one request for longer than opts.read_timeout_ms.
 *
 * Why shutdown(2) is safe on a descriptor MHD owns: MHD sends CLOSED
 * before it closes the descriptor, and the reaper only touches
 * connections still in the list, under conn_mu, which CLOSED also takes.
 * So the number cannot have been reused by another connection. shutdown
 * makes MHD's next read see end-of-file, and MHD closes the connection
 * through its normal path (completion callbacks, counters).
 */
#include "http_impl.h"
#include "cond.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int64_t
http_conn_ms_since(const struct timespec *t, const struct timespec *now)
{
	return (int64_t) (now->tv_sec - t->tv_sec) * 1000
	    + (now->tv_nsec - t->tv_nsec) / 1000000;
}

void
http_conn_init(hearth_http_server *s)
{
	pthread_mutex_init(&s->conn_mu, NULL);
	hearth_cond_init(&s->conn_cv);
	if (s->metrics == NULL)
		return;
	s->m_conns = hearth_metrics_gauge(s->metrics,
	    "hearth_http_connections", "HTTP connections open now.", 0, NULL);
	s->m_cut   = hearth_metrics_counter(s->metrics,
	      "hearth_http_slow_connections_closed_total",
	      "Connections shut down because a request took longer than "
	        "-server.http-read-timeout to arrive.",
	      0, NULL);
}

void
http_conn_fini(hearth_http_server *s)
{
	/* MHD sent CLOSED for every connection when the daemon stopped. */
	HEARTH_ASSERT(s->conns == NULL && !s->reaper_running);
	pthread_cond_destroy(&s->conn_cv);
	pthread_mutex_destroy(&s->conn_mu);
}

void
http_conn_notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode toe)
{
	hearth_http_server *s = cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(
		    c, MHD_CONNECTION_INFO_CONNECTION_FD);
		hearth_http_conn *t = calloc(1, sizeof(*t));
		if (t == NULL || fd == NULL) {
			free(t); /* untracked: no deadline for this one */
			*socket_context = NULL;
			return;
		}
		t->fd = fd->connect_fd;
		clock_gettime(CLOCK_MONOTONIC, &t->since);
		pthread_mutex_lock(&s->conn_mu);
		t->next = s->conns;
		if (s->conns != NULL)
			s->conns->prev = t;
		s->conns = t;
		s->n_conns++;
		pthread_mutex_unlock(&s->conn_mu);
		hearth_metric_add(s->m_conns, NULL, 1);
		*socket_context = t;
		return;
	}
	hearth_http_conn *t = *socket_context;
	if (t == NULL)
		return;
	pthread_mutex_lock(&s->conn_mu);
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		s->conns = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	s->n_conns--;
	pthread_mutex_unlock(&s->conn_mu);
	hearth_metric_add(s->m_conns, NULL, -1);
	free(t);
	*socket_context = NULL;
}

hearth_http_conn *
http_conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i
	    = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i != NULL ? i->socket_context : NULL;
}

void
http_conn_set_busy(hearth_http_server *s, hearth_http_conn *t, int busy)
{
	if (t == NULL)
		return;
	pthread_mutex_lock(&s->conn_mu);
	t->busy = busy;
	if (!busy)
		clock_gettime(CLOCK_MONOTONIC, &t->since);
	pthread_mutex_unlock(&s->conn_mu);
}

/* Shut down every connection past the deadline; returns how many. */
static size_t
http_conn_reap(hearth_http_server *s)
{
	struct timespec now;
	size_t          n = 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&s->conn_mu);
	for (hearth_http_conn *t = s->conns; t != NULL; t = t->next) {
		if (t->busy || t->cut
		    || http_conn_ms_since(&t->since, &now)
		        <= s->opts.read_timeout_ms)
			continue;
		/* Only SHUT_RD|WR: the descriptor stays MHD's to close. */
		if (shutdown(t->fd, SHUT_RDWR) == 0 || errno == ENOTCONN)
			n++;
		t->cut = 1;
	}
	pthread_mutex_unlock(&s->conn_mu);
	return n;
}

static void *
http_conn_reaper(void *arg)
{
	hearth_http_server *s = arg;
	/* Check four times per deadline (at most once a second, at least
	 * every 50 ms): a slow client is cut within 125 % of it. */
	int64_t period = s->opts.read_timeout_ms / 4;
	if (period > 1000)
		period = 1000;
	if (period < 50)
		period = 50;
	pthread_mutex_lock(&s->conn_mu);
	while (!s->reaper_stop) {
		struct timespec t = hearth_cond_deadline(period);
		pthread_cond_timedwait(&s->conn_cv, &s->conn_mu, &t);
		if (s->reaper_stop)
			break;
		pthread_mutex_unlock(&s->conn_mu);
		size_t cut = http_conn_reap(s);
		if (cut > 0) {
			hearth_metric_add(s->m_cut, NULL, (double) cut);
			HEARTH_LOG_DEBUGF(&s->log,
			    "http slow connections closed", "count=%zu", cut);
		}
		pthread_mutex_lock(&s->conn_mu);
	}
	pthread_mutex_unlock(&s->conn_mu);
	return NULL;
}

int
http_conn_start(hearth_http_server *s, hearth_err *err)
{
	if (s->opts.read_timeout_ms <= 0)
		return 0;
	s->reaper_stop = 0;
	if (pthread_create(&s->reaper, NULL, http_conn_reaper, s) != 0)
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "http: cannot start the slow-client thread");
	s->reaper_running = 1;
	return 0;
}

void
http_conn_stop(hearth_http_server *s)
{
	if (!s->reaper_running)
		return;
	pthread_mutex_lock(&s->conn_mu);
	s->reaper_stop = 1;
	pthread_cond_broadcast(&s->conn_cv);
	pthread_mutex_unlock(&s->conn_mu);
	pthread_join(s->reaper, NULL);
	s->reaper_running = 0;
}
