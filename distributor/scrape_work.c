/* scrape_work: the worker side of the scrape manager: decode a fetched
 * body, apply the delta, build and push the request, record the outcome
 * (scrape.h, "Threads"). */
#include "scrape_impl.h"

#include "cond.h"
#include "err.h"
#include "pprof.h"
#include "tenant.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void
hearth_scrape_finish(hearth_scrape *s, scrape_slot *sl, int64_t start_ns,
    double seconds, size_t bytes, const char *reason, const char *error)
{
	/* Metrics first: the label strings live in the target, which the
	 * loop thread may free as soon as the slot is IDLE (scrape_impl.h). */
	const char *lv[4]
	    = { sl->t->job->name, sl->t->instance, sl->p->name, reason };
	hearth_metric_set(s->m_up, lv, reason == NULL ? 1 : 0);
	hearth_metric_set(s->m_duration, lv, seconds);
	hearth_metric_set(s->m_bytes, lv, (double) bytes);
	hearth_metric_add(s->m_scrapes, lv, 1);
	if (reason != NULL) {
		hearth_metric_add(s->m_failures, lv, 1);
		char q[600];
		HEARTH_LOG_DEBUGF(s->o.log, "scrape failed",
		    "job=%s instance=%s profile=%s reason=%s err=%s", lv[0],
		    lv[1], lv[2], reason,
		    hearth_log_quote(q, sizeof(q), error ? error : ""));
	}
	pthread_mutex_lock(&s->mu);
	sl->health       = reason == NULL;
	sl->last_ns      = start_ns;
	sl->last_seconds = seconds;
	sl->last_bytes   = bytes;
	sl->last_reason  = reason;
	snprintf(sl->last_error, sizeof(sl->last_error), "%s",
	    reason != NULL && error != NULL ? error : "");
	sl->scrapes++;
	sl->failures += reason != NULL;
	sl->state = SCRAPE_IDLE;
	pthread_mutex_unlock(&s->mu);
}

/* A path component from a name: '/' and a leading '.' would escape or
 * hide the directory. */
static void
scrape_dump_component(hearth_buf *b, const char *name)
{
	hearth_buf_putc(b, '/');
	for (const char *c = name; *c; c++)
		hearth_buf_putc(b,
		    *c == '/' || (c == name && *c == '.')
		            || (unsigned char) *c < 0x20
		        ? '_'
		        : *c);
}

static int
scrape_dump_cmp(const void *a, const void *b)
{
	long long x = *(const long long *) a, y = *(const long long *) b;
	return x < y ? -1 : x > y;
}

/* Keep the newest `keep` <ms>.pprof files of dir. */
static void
scrape_dump_prune(const char *dir, size_t keep)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	long long     *ms = NULL;
	size_t         n = 0, cap = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		char     *end = NULL;
		long long v   = strtoll(e->d_name, &end, 10);
		if (end == e->d_name || strcmp(end, ".pprof") != 0)
			continue;
		if (n == cap) {
			cap           = cap ? cap * 2 : 32;
			long long *nm = realloc(ms, cap * sizeof(*nm));
			if (nm == NULL)
				break;
			ms = nm;
		}
		ms[n++] = v;
	}
	closedir(d);
	if (n > keep) {
		qsort(ms, n, sizeof(*ms), scrape_dump_cmp);
		for (size_t i = 0; i + keep < n; i++) {
			char p[4400];
			snprintf(p, sizeof(p), "%s/%lld.pprof", dir, ms[i]);
			unlink(p);
		}
	}
	free(ms);
}

/* Write the raw body to DIR/<job>/<instance>/<profile>/<ms>.pprof
 * (-scrape.dump-dir), named by the time the profile is stored at. */
static void
scrape_dump(hearth_scrape *s, const scrape_slot *sl, const scrape_work *w)
{
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_buf_puts(&b, s->o.dump_dir);
	scrape_dump_component(&b, sl->t->job->name);
	scrape_dump_component(&b, sl->t->instance);
	scrape_dump_component(&b, sl->p->name);
	if (hearth_buf_failed(&b)) {
		hearth_buf_fini(&b);
		return;
	}
	/* mkdir -p; errors show up when the file cannot be written. */
	for (char *c = b.data + 1;; c++) {
		if (*c != '/' && *c != '\0')
			continue;
		char saved = *c;
		*c         = '\0';
		mkdir(b.data, 0750);
		*c = saved;
		if (saved == '\0')
			break;
	}
	size_t dirlen = b.len;
	hearth_buf_printf(
	    &b, "/%lld.pprof", (long long) (w->start_ns / 1000000));
	FILE *f  = hearth_buf_failed(&b) ? NULL : fopen(b.data, "wb");
	int   ok = f != NULL && fwrite(w->body, 1, w->len, f) == w->len;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (!ok) {
		hearth_log_write(s->o.log, HEARTH_LOG_WARN,
		    "cannot write scrape dump", "file=%s err=\"%s\"",
		    b.data ? b.data : "", strerror(errno));
	} else {
		b.data[dirlen] = '\0';
		scrape_dump_prune(b.data, s->o.dump_keep ? s->o.dump_keep : 1);
	}
	hearth_buf_fini(&b);
}

/* A push refused because too few ingesters are healthy right now (the
 * ring at start-up, before its first pings; a rolling restart) is tried
 * again, after 250, 500 and 1000 ms, before the scrape counts as failed:
 * SDKs retry a 503, and the scraper is hearth's own client. Every try
 * sends the same profile ids, so a write that reached some replicas is
 * not counted twice. */
#define SCRAPE_PUSH_TRIES    4
#define SCRAPE_PUSH_RETRY_MS 250

/* Wait ms unless the scraper stops meanwhile; 1 when it is stopping. */
static int
scrape_retry_wait(hearth_scrape *s, int64_t ms)
{
	struct timespec until = hearth_cond_deadline(ms);
	pthread_mutex_lock(&s->mu);
	while (!s->stopping
	    && pthread_cond_timedwait(&s->stop_cv, &s->mu, &until) == 0)
		;
	int stopping = s->stopping;
	pthread_mutex_unlock(&s->mu);
	return stopping;
}

/* Decode, delta, build, push. Returns the failure reason (NULL = stored
 * or nothing to store) with err filled. */
static const char *
scrape_process(
    hearth_scrape *s, scrape_work *w, hearth_arena *a, hearth_err *err)
{
	scrape_slot                 *sl = w->slot;
	const hearth_scrape_job     *j  = sl->t->job;
	const hearth_scrape_profile *p  = sl->p;
	const char                  *tenant
	    = s->o.multitenancy_enabled ? j->tenant : HEARTH_TENANT_ANONYMOUS;
	hearth_limits lim;
	hearth_scrape_tenant_limits(s, tenant, &lim);
	const hearth_limits *l  = &lim;
	hearth_pprof_opts    po = {
		   .max_profile_size_bytes = (size_t) l->max_profile_size_bytes,
		   .max_samples = (size_t) l->max_profile_stacktrace_samples,
		   .max_stack_depth = (size_t) l->max_profile_stacktrace_depth,
		   .max_symbol_length
		   = (size_t) l->max_profile_symbol_value_length,
		   .max_decompressed = (size_t) l->ingestion_body_limit_mb << 20,
	};
	hearth_pprof_result pr;
	if (hearth_pprof_decode(a, w->body, w->len, &po, &pr, err) != 0)
		return err->code == HEARTH_ELIMIT ? "invalid" : "decode";
	hearth_upload *u = pr.upload;
	if (u == NULL)
		return NULL;
	int64_t duration = u->duration_nanos > 0 ? u->duration_nanos : 0;
	if (sl->delta != NULL) {
		unsigned char *cum
		    = hearth_arena_calloc(a, u->n_sample_types + 1, 1);
		if (cum == NULL)
			return hearth_err_set(err, HEARTH_ELIMIT,
			           "scrape: memory limit reached"),
			       "invalid";
		for (size_t t = 0; t < u->n_sample_types; t++)
			cum[t] = strncmp(u->sample_types[t].type, "inuse_", 6)
			    != 0;
		if (hearth_scrape_delta_apply(sl->delta, u, cum, err) < 0)
			return "invalid";
		/* The window this delta covers ends now. */
		duration    = sl->prev_ns > 0 ? w->start_ns - sl->prev_ns : 0;
		sl->prev_ns = w->start_ns;
	}
	size_t        n  = sl->t->n_labels;
	hearth_label *ls = hearth_arena_calloc(a, n + 1, sizeof(*ls));
	if (ls == NULL)
		return hearth_err_set(
		           err, HEARTH_ELIMIT, "scrape: memory limit reached"),
		       "invalid";
	memcpy(ls, sl->t->labels, n * sizeof(*ls));
	ls[n++] = (hearth_label) { "__name__", p->name };
	hearth_ingest_result res;
	if (hearth_ingest_build_upload(
	        a, u, ls, n, w->start_ns, duration, l, &res, err)
	    != 0)
		return "invalid";
	if (res.push == NULL)
		return NULL;
	res.decoded_bytes = pr.decoded_bytes;
	for (int try = 1;; try++) {
		int rc = s->o.push(s->o.push_ctx, tenant, &res, a, err);
		if (rc == 0)
			return NULL;
		if (rc != HEARTH_EUNAVAIL || try == SCRAPE_PUSH_TRIES
		    || scrape_retry_wait(
		        s, (int64_t) SCRAPE_PUSH_RETRY_MS << (try - 1)))
			return "push";
		hearth_err_clear(err);
	}
}

void *
hearth_scrape_worker(void *arg)
{
	hearth_scrape *s = arg;
	hearth_arena  *a = hearth_arena_new(s->o.arena_cap);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (!s->stopping && s->q_head == NULL)
			pthread_cond_wait(&s->cv, &s->mu);
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		scrape_work *w = s->q_head;
		s->q_head      = w->next;
		if (s->q_head == NULL)
			s->q_tail = NULL;
		pthread_mutex_unlock(&s->mu);

		hearth_err err;
		hearth_err_clear(&err);
		if (s->o.dump_dir != NULL && s->o.dump_dir[0] != '\0')
			scrape_dump(s, w->slot, w);
		const char *reason
		    = a == NULL ? "invalid" : scrape_process(s, w, a, &err);
		if (a == NULL)
			hearth_err_set(&err, HEARTH_ENOMEM, "out of memory");
		hearth_scrape_finish(s, w->slot, w->start_ns, w->seconds,
		    w->len, reason, err.msg);
		if (a != NULL)
			hearth_arena_reset(a);
		free(w->body);
		free(w);
	}
	hearth_arena_free(a);
	return NULL;
}
