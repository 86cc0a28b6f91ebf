#include "filewatch.h"
#include "cond.h"

#include "buf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* What identifies one version of the file (see the header). */
typedef struct filewatch_id {
	dev_t           dev;
	ino_t           ino;
	off_t           size;
	struct timespec mtime;
	struct timespec ctime;
} filewatch_id;

struct hearth_filewatch {
	char               *path;
	char               *what;
	int64_t             period_ms;
	size_t              max_bytes;
	hearth_filewatch_fn apply;
	void               *ctx;
	hearth_log          log;
	hearth_metric      *m_reloads;
	hearth_metric      *m_ok;

	pthread_mutex_t poll_mu; /* one poll (and apply) at a time */
	filewatch_id    seen;    /* last version tried, loaded or not */

	pthread_mutex_t mu; /* guards stopping; cv wakes the thread */
	pthread_cond_t  cv;
	int             running;
	int             stopping;
	pthread_t       thread;
};

static filewatch_id
filewatch_id_of(const struct stat *st)
{
	filewatch_id id;
	memset(&id, 0, sizeof(id));
	id.dev   = st->st_dev;
	id.ino   = st->st_ino;
	id.size  = st->st_size;
	id.mtime = st->st_mtim;
	id.ctime = st->st_ctim;
	return id;
}

static int
filewatch_id_eq(const filewatch_id *a, const filewatch_id *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size
	    && a->mtime.tv_sec == b->mtime.tv_sec
	    && a->mtime.tv_nsec == b->mtime.tv_nsec
	    && a->ctime.tv_sec == b->ctime.tv_sec
	    && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* Read the open file fd into b, refusing more than max bytes. The size is
 * not trusted from fstat (the file may grow while it is read). */
static int
filewatch_read(hearth_filewatch *w, int fd, hearth_buf *b, hearth_err *err)
{
	for (;;) {
		if (hearth_buf_reserve(b, 65536) != 0)
			return hearth_err_set(err, HEARTH_ENOMEM,
			    "%s file %s: out of memory", w->what, w->path);
		ssize_t n = read(fd, b->data + b->len, 65536);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return hearth_err_set(err, HEARTH_EIO,
			    "%s file %s: cannot read: %s", w->what, w->path,
			    strerror(errno));
		if (n == 0)
			break;
		b->len += (size_t) n;
		if (b->len > w->max_bytes)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s file %s: larger than %zu bytes", w->what,
			    w->path, w->max_bytes);
	}
	b->data[b->len] = '\0';
	return 0;
}

/* Read and apply the file; *id gets the version read. */
static int
filewatch_load(hearth_filewatch *w, filewatch_id *id, hearth_err *err)
{
	struct stat st;
	hearth_buf  b;
	int         fd = open(w->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hearth_err_set(err, HEARTH_EIO,
		    "%s file %s: cannot open: %s", w->what, w->path,
		    strerror(errno));
	/* The identity comes from the descriptor that is read, so a file
	 * replaced between stat and open is seen again on the next poll. */
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return hearth_err_set(err, HEARTH_EIO,
		    "%s file %s: cannot stat: %s", w->what, w->path,
		    strerror(e));
	}
	*id = filewatch_id_of(&st);
	hearth_buf_init(&b);
	int rc = filewatch_read(w, fd, &b, err);
	close(fd);
	if (rc == 0 && (rc = w->apply(w->ctx, b.data, b.len, err)) != 0
	    && err != NULL && err->code == 0)
		hearth_err_set(
		    err, rc, "%s file %s: rejected", w->what, w->path);
	hearth_buf_fini(&b);
	return rc;
}

static void
filewatch_count(hearth_filewatch *w, int ok)
{
	const char *lv[2] = { w->what, ok ? "success" : "failure" };
	hearth_metric_add(w->m_reloads, lv, 1);
	hearth_metric_set(w->m_ok, lv, ok ? 1 : 0);
}

int
hearth_filewatch_new(const char *path, const char *what, int64_t period_ms,
    size_t max_bytes, hearth_filewatch_fn apply, void *ctx,
    const hearth_log *log, hearth_metrics *m, hearth_filewatch **out,
    hearth_err *err)
{
	static const char *const wr[] = { "what", "result" };
	static const char *const wl[] = { "what" };
	HEARTH_ASSERT(period_ms > 0 && apply != NULL && max_bytes > 0);
	*out                = NULL;
	hearth_filewatch *w = calloc(1, sizeof(*w));
	if (w == NULL || (w->path = strdup(path)) == NULL
	    || (w->what = strdup(what)) == NULL) {
		if (w != NULL)
			free(w->path);
		free(w);
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "%s file: out of memory", what);
	}
	w->period_ms = period_ms;
	w->max_bytes = max_bytes;
	w->apply     = apply;
	w->ctx       = ctx;
	if (log != NULL)
		w->log = *log;
	else
		hearth_log_init(&w->log, "filewatch", HEARTH_LOG_INFO);
	if (m != NULL) {
		w->m_reloads = hearth_metrics_counter(m,
		    "hearth_runtime_file_reloads_total",
		    "Loads of a runtime file (overrides, tokens) after it "
		    "changed, by result.",
		    2, wr);
		w->m_ok      = hearth_metrics_gauge(m,
		         "hearth_runtime_file_last_reload_successful",
		         "1 when the last load of the runtime file worked, 0 when "
		              "the file in use is an older version.",
		         1, wl);
	}
	pthread_mutex_init(&w->poll_mu, NULL);
	pthread_mutex_init(&w->mu, NULL);
	hearth_cond_init(&w->cv);
	int rc = filewatch_load(w, &w->seen, err);
	if (rc != 0) {
		hearth_filewatch_free(w);
		return rc;
	}
	const char *lv[1] = { w->what };
	hearth_metric_set(w->m_ok, lv, 1);
	*out = w;
	return 0;
}

int
hearth_filewatch_poll(hearth_filewatch *w, hearth_err *err)
{
	struct stat  st;
	filewatch_id id;
	int          rc = 0;
	pthread_mutex_lock(&w->poll_mu);
	if (stat(w->path, &st) != 0) {
		pthread_mutex_unlock(&w->poll_mu);
		return 0; /* gone for now: keep the last version */
	}
	id = filewatch_id_of(&st);
	if (filewatch_id_eq(&id, &w->seen)) {
		pthread_mutex_unlock(&w->poll_mu);
		return 0;
	}
	rc      = filewatch_load(w, &id, err);
	w->seen = id;
	pthread_mutex_unlock(&w->poll_mu);
	filewatch_count(w, rc == 0);
	return rc == 0 ? 1 : rc;
}

static void *
filewatch_main(void *arg)
{
	hearth_filewatch *w = arg;
	pthread_mutex_lock(&w->mu);
	while (!w->stopping) {
		struct timespec t = hearth_cond_deadline(w->period_ms);
		while (!w->stopping
		    && pthread_cond_timedwait(&w->cv, &w->mu, &t) == 0)
			;
		if (w->stopping)
			break;
		pthread_mutex_unlock(&w->mu);
		hearth_err err;
		hearth_err_clear(&err);
		int  rc = hearth_filewatch_poll(w, &err);
		char q[600];
		if (rc > 0)
			hearth_log_write(&w->log, HEARTH_LOG_INFO,
			    "runtime file reloaded", "what=%s path=%s",
			    w->what, hearth_log_quote(q, sizeof(q), w->path));
		else if (rc < 0)
			hearth_log_write(&w->log, HEARTH_LOG_ERROR,
			    "runtime file reload failed, keeping the previous "
			    "version",
			    "what=%s err=%s", w->what,
			    hearth_log_quote(q, sizeof(q), err.msg));
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

int
hearth_filewatch_start(hearth_filewatch *w, hearth_err *err)
{
	HEARTH_ASSERT(!w->running);
	w->stopping = 0;
	if (pthread_create(&w->thread, NULL, filewatch_main, w) != 0)
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "%s file: cannot start the reload thread", w->what);
	w->running = 1;
	return 0;
}

void
hearth_filewatch_stop(hearth_filewatch *w)
{
	if (w == NULL || !w->running)
		return;
	pthread_mutex_lock(&w->mu);
	w->stopping = 1;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
	pthread_join(w->thread, NULL);
	w->running = 0;
}

void
hearth_filewatch_free(hearth_filewatch *w)
{
	if (w == NULL)
		return;
	hearth_filewatch_stop(w);
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	pthread_mutex_destroy(&w->poll_mu);
	free(w->path);
	free(w->what);
	free(w);
}
