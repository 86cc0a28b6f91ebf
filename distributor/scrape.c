/* scrape: the manager's lifecycle, its loop thread (schedule + HTTP) and
 * file-based service discovery. Design in scrape.h, locking in
 * scrape_impl.h. */
#include "scrape_impl.h"

#include "clock.h"
#include "cond.h"

#include "tenant.h"

#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <xxhash.h>

const char *const hearth_scrape_reasons[] = { "timeout", "connect", "tls",
	"http_status", "too_large", "io", "decode", "invalid", "push" };
const size_t      hearth_scrape_n_reasons
    = sizeof(hearth_scrape_reasons) / sizeof(hearth_scrape_reasons[0]);

/* How often file_sd files are stat()ed for changes. */
#define SCRAPE_SD_CHECK_MS 1000

int64_t
hearth_scrape_wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void
hearth_scrape_tenant_limits(
    hearth_scrape *s, const char *tenant, hearth_limits *out)
{
	if (s->o.limits_for != NULL)
		s->o.limits_for(s->o.push_ctx, tenant, out);
	else
		*out = *s->o.limits;
}

/* ---- targets -------------------------------------------------------- */

static void
scrape_slot_labels(const scrape_slot *sl, const char *lv[3])
{
	lv[0] = sl->t->job->name;
	lv[1] = sl->t->instance;
	lv[2] = sl->p->name;
}

static void
scrape_target_free(hearth_scrape *s, scrape_target *t)
{
	for (size_t i = 0; i < t->n_slots; i++) {
		scrape_slot *sl = &t->slots[i];
		const char  *lv[4];
		scrape_slot_labels(sl, lv);
		hearth_metric_del(s->m_up, lv);
		hearth_metric_del(s->m_duration, lv);
		hearth_metric_del(s->m_bytes, lv);
		hearth_metric_del(s->m_scrapes, lv);
		hearth_metric_del(s->m_skipped, lv);
		for (size_t r = 0; r < hearth_scrape_n_reasons; r++) {
			lv[3] = hearth_scrape_reasons[r];
			hearth_metric_del(s->m_failures, lv);
		}
		hearth_scrape_delta_free(sl->delta);
	}
	hearth_arena_free(t->arena);
	free(t->slots);
	free(t);
}

/* Identity of a target across service-discovery re-reads. */
static char *
scrape_target_key(hearth_arena *a, const hearth_scrape_job *j,
    const char *addr, const hearth_scrape_group *g, size_t *len)
{
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_buf_append(&b, j->name, strlen(j->name) + 1);
	hearth_buf_append(&b, addr, strlen(addr) + 1);
	for (size_t i = 0; i < g->n_labels; i++) {
		hearth_buf_append(
		    &b, g->labels[i].name, strlen(g->labels[i].name) + 1);
		hearth_buf_append(
		    &b, g->labels[i].value, strlen(g->labels[i].value) + 1);
	}
	char *k = hearth_buf_failed(&b) ? NULL : hearth_arena_alloc(a, b.len);
	if (k != NULL)
		memcpy(k, b.data, b.len);
	*len = b.len;
	hearth_buf_fini(&b);
	return k;
}

/* The scrape URL of one profile: scheme://addr path [?|&seconds=N]. */
static char *
scrape_url(hearth_arena *a, const hearth_scrape_job *j, const char *addr,
    const hearth_scrape_profile *p)
{
	hearth_buf b;
	hearth_buf_init(&b);
	hearth_buf_printf(&b, "%s://%s%s", j->scheme, addr, p->path);
	if (p->cpu_seconds) {
		int64_t win = j->interval_ms < j->timeout_ms ? j->interval_ms
		                                             : j->timeout_ms;
		int64_t n   = (win - 1000) / 1000;
		hearth_buf_printf(&b, "%cseconds=%lld",
		    strchr(p->path, '?') != NULL ? '&' : '?',
		    (long long) (n < 1 ? 1 : n));
	}
	char *u
	    = hearth_buf_failed(&b) ? NULL : hearth_arena_strdup(a, b.data);
	hearth_buf_fini(&b);
	return u;
}

static scrape_target *
scrape_target_new(const hearth_scrape_job *j, const char *addr,
    const hearth_scrape_group *g, int64_t now_ms)
{
	scrape_target *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->job    = j;
	t->arena  = hearth_arena_new(0);
	t->slots  = calloc(j->n_profiles, sizeof(*t->slots));
	t->labels = t->arena == NULL ? NULL
	                             : hearth_arena_calloc(t->arena,
	                                 g->n_labels + 3, sizeof(*t->labels));
	if (t->arena == NULL || t->slots == NULL || t->labels == NULL)
		goto fail;
	t->addr = hearth_arena_strdup(t->arena, addr);
	t->key  = scrape_target_key(t->arena, j, addr, g, &t->key_len);
	if (t->addr == NULL || t->key == NULL)
		goto fail;
	for (size_t i = 0; i < g->n_labels; i++) {
		t->labels[i].name
		    = hearth_arena_strdup(t->arena, g->labels[i].name);
		t->labels[i].value
		    = hearth_arena_strdup(t->arena, g->labels[i].value);
		if (t->labels[i].name == NULL || t->labels[i].value == NULL)
			goto fail;
	}
	size_t n = g->n_labels;
	/* Group labels win over the defaults, as in Prometheus. */
	if (hearth_labels_get(t->labels, n, "job") == NULL)
		t->labels[n++] = (hearth_label) { "job", j->name };
	if (hearth_labels_get(t->labels, n, "instance") == NULL)
		t->labels[n++] = (hearth_label) { "instance", t->addr };
	if (hearth_labels_get(t->labels, n, "service_name") == NULL)
		t->labels[n++] = (hearth_label) { "service_name", j->name };
	t->n_labels = hearth_labels_sort(t->labels, n);
	t->instance = hearth_labels_get(t->labels, t->n_labels, "instance");
	t->n_slots  = j->n_profiles;
	for (size_t i = 0; i < j->n_profiles; i++) {
		scrape_slot *sl = &t->slots[i];
		sl->t           = t;
		sl->p           = &j->profiles[i];
		sl->health      = -1;
		sl->url         = scrape_url(t->arena, j, addr, sl->p);
		if (sl->url == NULL)
			goto fail;
		if (sl->p->delta
		    && (sl->delta = hearth_scrape_delta_new()) == NULL)
			goto fail;
		/* A fixed phase inside the interval, from a hash, so
		 * targets spread out and keep their phase (scrape.h). */
		uint64_t h = XXH3_64bits(t->key, t->key_len)
		    ^ XXH3_64bits(sl->p->name, strlen(sl->p->name));
		sl->next_ms
		    = now_ms + (int64_t) (h % (uint64_t) j->interval_ms);
	}
	return t;
fail:
	for (size_t i = 0; t->slots != NULL && i < t->n_slots; i++)
		hearth_scrape_delta_free(t->slots[i].delta);
	hearth_arena_free(t->arena);
	free(t->slots);
	free(t);
	return NULL;
}

static scrape_target *
scrape_find(hearth_scrape *s, const char *key, size_t len)
{
	for (size_t i = 0; i < s->n_targets; i++) {
		scrape_target *t = s->targets[i];
		if (!t->dead && t->key_len == len
		    && memcmp(t->key, key, len) == 0)
			return t;
	}
	return NULL;
}

/* Make sure the target (j, addr, g) exists and is marked. Called under
 * mu. Out of memory drops the target (logged): it is retried at the next
 * re-read. */
static void
scrape_want(hearth_scrape *s, const hearth_scrape_job *j, const char *addr,
    const hearth_scrape_group *g, int64_t now_ms)
{
	hearth_arena *tmp = hearth_arena_new(0);
	size_t        len = 0;
	char         *key
	    = tmp == NULL ? NULL : scrape_target_key(tmp, j, addr, g, &len);
	scrape_target *t = key == NULL ? NULL : scrape_find(s, key, len);
	hearth_arena_free(tmp);
	if (t != NULL) {
		t->mark = 1;
		return;
	}
	if (s->n_targets == s->cap_targets) {
		size_t          cap = s->cap_targets ? s->cap_targets * 2 : 16;
		scrape_target **nt  = realloc(s->targets, cap * sizeof(*nt));
		if (nt == NULL)
			goto nomem;
		s->targets     = nt;
		s->cap_targets = cap;
	}
	if ((t = scrape_target_new(j, addr, g, now_ms)) == NULL)
		goto nomem;
	t->mark                    = 1;
	s->targets[s->n_targets++] = t;
	return;
nomem:
	hearth_log_write(s->o.log, HEARTH_LOG_ERROR, "scrape target dropped",
	    "job=%s target=%s err=\"out of memory\"", j->name, addr);
}

/* Bring the target list in line with the config and the current file_sd
 * groups: keep what stays (with its state), add what is new, mark the
 * rest dead. Loop thread. */
static void
scrape_reconcile(hearth_scrape *s, int64_t now_ms)
{
	pthread_mutex_lock(&s->mu);
	for (size_t i = 0; i < s->n_targets; i++)
		s->targets[i]->mark = 0;
	const hearth_scrape_config *c = s->o.config;
	for (size_t j = 0; j < c->n_jobs; j++)
		for (size_t g = 0; g < c->jobs[j].n_groups; g++)
			for (size_t t = 0; t < c->jobs[j].groups[g].n_targets;
			     t++)
				scrape_want(s, &c->jobs[j],
				    c->jobs[j].groups[g].targets[t],
				    &c->jobs[j].groups[g], now_ms);
	for (size_t k = 0; k < s->n_sd; k++)
		for (size_t f = 0; f < s->sd[k].n_files; f++) {
			const scrape_sd_file *sf = &s->sd[k].files[f];
			for (size_t g = 0; g < sf->n_groups; g++)
				for (size_t t = 0; t < sf->groups[g].n_targets;
				     t++)
					scrape_want(s, s->sd[k].job,
					    sf->groups[g].targets[t],
					    &sf->groups[g], now_ms);
		}
	for (size_t i = 0; i < s->n_targets; i++)
		if (!s->targets[i]->mark)
			s->targets[i]->dead = 1;
	for (size_t j = 0; j < c->n_jobs; j++) {
		size_t n = 0;
		for (size_t i = 0; i < s->n_targets; i++)
			n += !s->targets[i]->dead
			    && s->targets[i]->job == &c->jobs[j];
		const char *lv[] = { c->jobs[j].name };
		hearth_metric_set(s->m_targets, lv, (double) n);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Free dead targets none of whose slots is busy. Loop thread. */
static void
scrape_reap(hearth_scrape *s)
{
	pthread_mutex_lock(&s->mu);
	size_t o = 0;
	for (size_t i = 0; i < s->n_targets; i++) {
		scrape_target *t    = s->targets[i];
		int            busy = 0;
		for (size_t k = 0; k < t->n_slots; k++)
			busy |= t->slots[k].state != SCRAPE_IDLE;
		if (t->dead && !busy)
			scrape_target_free(s, t);
		else
			s->targets[o++] = t;
	}
	s->n_targets = o;
	pthread_mutex_unlock(&s->mu);
}

/* ---- file_sd -------------------------------------------------------- */

static int
scrape_is_json(const char *path)
{
	size_t n = strlen(path);
	return n >= 5 && strcmp(path + n - 5, ".json") == 0;
}

/* Re-read one file into sf; on failure keep its old groups and log. */
static int
scrape_sd_read(hearth_scrape *s, scrape_sd_file *sf)
{
	enum { MAX_BYTES = 16 << 20 }; /* a target list, not a data set */
	hearth_err           err;
	hearth_scrape_group *g = NULL;
	size_t               n = 0;
	char                 source[4200];
	hearth_buf           b;
	int                  rc = 0;
	snprintf(source, sizeof(source), "file_sd file %.4096s", sf->path);
	hearth_buf_init(&b);
	b.limit         = MAX_BYTES;
	hearth_arena *a = hearth_arena_new(0);
	FILE         *f = fopen(sf->path, "rb");
	if (a == NULL || f == NULL) {
		rc = hearth_err_set(&err,
		    a == NULL ? HEARTH_ENOMEM : HEARTH_EIO,
		    "%s: cannot open: %s", source, strerror(errno));
	} else {
		char   chunk[8192];
		size_t got;
		while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
			hearth_buf_append(&b, chunk, got);
		if (ferror(f) || hearth_buf_failed(&b))
			rc = hearth_err_set(&err, HEARTH_EIO,
			    "%s: cannot read, or larger than %d bytes", source,
			    MAX_BYTES);
		else
			rc = hearth_scrape_sd_parse(a, b.data ? b.data : "",
			    b.len, source, scrape_is_json(sf->path), &g, &n,
			    &err);
	}
	if (f != NULL)
		fclose(f);
	hearth_buf_fini(&b);
	if (rc != 0) {
		char q[600];
		hearth_log_write(s->o.log, HEARTH_LOG_WARN,
		    "file_sd read failed; keeping the previous targets",
		    "file=%s err=%s", sf->path,
		    hearth_log_quote(q, sizeof(q), err.msg));
		hearth_arena_free(a);
		return rc;
	}
	pthread_mutex_lock(&s->mu);
	hearth_arena_free(sf->arena);
	sf->arena    = a;
	sf->groups   = g;
	sf->n_groups = n;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Expand the patterns, stat every file, re-read new or changed ones (or
 * all, when the refresh interval passed). Returns 1 when targets may have
 * changed. Loop thread. */
static int
scrape_sd_check(hearth_scrape *s, scrape_sd_state *st, int64_t now_ms)
{
	int changed = 0, refresh = now_ms >= st->next_refresh_ms;
	if (refresh)
		st->next_refresh_ms = now_ms + st->sd->refresh_ms;
	for (size_t i = 0; i < st->n_files; i++)
		st->files[i].mark = 0;
	for (size_t p = 0; p < st->sd->n_files; p++) {
		glob_t gl;
		memset(&gl, 0, sizeof(gl));
		if (glob(st->sd->files[p], 0, NULL, &gl) != 0) {
			globfree(&gl);
			continue;
		}
		for (size_t k = 0; k < gl.gl_pathc; k++) {
			struct stat sb;
			const char *path = gl.gl_pathv[k];
			if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
				continue;
			scrape_sd_file *sf = NULL;
			for (size_t i = 0; i < st->n_files && sf == NULL; i++)
				if (strcmp(st->files[i].path, path) == 0)
					sf = &st->files[i];
			if (sf == NULL) {
				scrape_sd_file *nf  = realloc(st->files,
				     (st->n_files + 1) * sizeof(*nf));
				char           *dup = strdup(path);
				if (nf == NULL || dup == NULL) {
					free(dup);
					if (nf != NULL)
						st->files = nf;
					continue;
				}
				st->files = nf;
				sf        = &st->files[st->n_files++];
				memset(sf, 0, sizeof(*sf));
				sf->path = dup;
				refresh  = 1;
			}
			sf->mark   = 1;
			int64_t mt = (int64_t) sb.st_mtim.tv_sec * 1000000000LL
			    + sb.st_mtim.tv_nsec;
			if (!refresh && sf->arena != NULL
			    && sf->ino == sb.st_ino && sf->size == sb.st_size
			    && sf->mtime_ns == mt)
				continue;
			sf->ino      = sb.st_ino;
			sf->size     = sb.st_size;
			sf->mtime_ns = mt;
			changed |= scrape_sd_read(s, sf) == 0;
		}
		globfree(&gl);
	}
	/* Files gone (or no longer matched): their targets go too. */
	size_t o = 0;
	for (size_t i = 0; i < st->n_files; i++) {
		if (st->files[i].mark) {
			st->files[o++] = st->files[i];
			continue;
		}
		pthread_mutex_lock(&s->mu);
		hearth_arena_free(st->files[i].arena);
		pthread_mutex_unlock(&s->mu);
		free(st->files[i].path);
		changed = 1;
	}
	st->n_files = o;
	return changed;
}

/* ---- the loop thread ------------------------------------------------ */

static void
scrape_on_fetched(void *ctx, hearth_fetch_result *res)
{
	hearth_scrape *s  = ctx;
	scrape_slot   *sl = res->user;
	if (res->rc != 0 || sl->t->dead) {
		free(res->body);
		if (sl->t->dead) {
			pthread_mutex_lock(&s->mu);
			sl->state = SCRAPE_IDLE;
			pthread_mutex_unlock(&s->mu);
			return;
		}
		hearth_scrape_finish(s, sl, sl->start_ns, res->seconds, 0,
		    res->reason, res->error);
		return;
	}
	scrape_work *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		free(res->body);
		hearth_scrape_finish(s, sl, sl->start_ns, res->seconds,
		    res->len, "io", "out of memory queueing the profile");
		return;
	}
	w->slot     = sl;
	w->body     = res->body;
	w->len      = res->len;
	w->start_ns = sl->start_ns;
	w->seconds  = res->seconds;
	pthread_mutex_lock(&s->mu);
	sl->state = SCRAPE_PROCESSING;
	if (s->q_tail != NULL)
		s->q_tail->next = w;
	else
		s->q_head = w;
	s->q_tail = w;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Read a password or token file at each scrape, so a rotated secret is
 * picked up without a restart (as Prometheus does). Trailing newlines are
 * not part of the secret. */
static int
scrape_read_secret(
    const char *path, char *out, size_t outsz, char *why, size_t whysz)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(
		    why, whysz, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	size_t n        = fread(out, 1, outsz - 1, f);
	int    too_long = n == outsz - 1 && fgetc(f) != EOF;
	fclose(f);
	if (too_long) {
		snprintf(
		    why, whysz, "%s: longer than %zu bytes", path, outsz - 2);
		return -1;
	}
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
		n--;
	out[n] = '\0';
	return 0;
}

static void
scrape_start_one(hearth_scrape *s, scrape_slot *sl)
{
	const hearth_scrape_job *j = sl->t->job;
	char                     secret[4096], auth[4200], why[4300];
	hearth_limits            lim;
	hearth_scrape_tenant_limits(s,
	    s->o.multitenancy_enabled ? j->tenant : HEARTH_TENANT_ANONYMOUS,
	    &lim);
	size_t           max = j->body_size_limit > 0
	              ? (size_t) j->body_size_limit
	              : (size_t) lim.ingestion_body_limit_mb << 20;
	hearth_fetch_req r   = {
		  .url                  = sl->url,
		  .timeout_ms           = j->timeout_ms,
		  .max_bytes            = max,
		  .username             = j->username,
		  .password             = j->password,
		  .ca_file              = j->ca_file,
		  .cert_file            = j->cert_file,
		  .key_file             = j->key_file,
		  .insecure_skip_verify = j->insecure_skip_verify,
		  .user_agent           = "hearth-scraper",
		  .user                 = sl,
	};
	const char *file = j->password_file != NULL ? j->password_file
	                                            : j->credentials_file;
	sl->start_ns     = hearth_scrape_wall_ns();
	pthread_mutex_lock(&s->mu);
	sl->state = SCRAPE_FETCHING;
	pthread_mutex_unlock(&s->mu);
	if (file != NULL
	    && scrape_read_secret(
	           file, secret, sizeof(secret), why, sizeof(why))
	        != 0) {
		hearth_scrape_finish(s, sl, sl->start_ns, 0, 0, "io", why);
		return;
	}
	if (j->password_file != NULL)
		r.password = secret;
	if (j->auth_type != NULL) {
		snprintf(auth, sizeof(auth), "%s %s", j->auth_type,
		    j->credentials != NULL ? j->credentials : secret);
		r.authorization = auth;
	}
	hearth_err err;
	if (hearth_fetch_start(s->fetch, &r, &err) != 0)
		hearth_scrape_finish(s, sl, sl->start_ns, 0, 0, "io", err.msg);
}

/* Start every due slot; returns ms until the next tick (capped). */
static int64_t
scrape_tick(hearth_scrape *s, int64_t now)
{
	int64_t next = now + SCRAPE_SD_CHECK_MS;
	for (size_t i = 0; i < s->n_targets; i++) {
		scrape_target *t = s->targets[i];
		if (t->dead)
			continue;
		for (size_t k = 0; k < t->n_slots; k++) {
			scrape_slot *sl = &t->slots[k];
			if (sl->next_ms <= now) {
				pthread_mutex_lock(&s->mu);
				int idle = sl->state == SCRAPE_IDLE;
				sl->skipped += !idle;
				pthread_mutex_unlock(&s->mu);
				const char *lv[3];
				scrape_slot_labels(sl, lv);
				if (idle)
					scrape_start_one(s, sl);
				else
					hearth_metric_add(s->m_skipped, lv, 1);
				/* Stay on the grid; skip ticks missed. */
				while (sl->next_ms <= now)
					sl->next_ms += t->job->interval_ms;
			}
			if (sl->next_ms < next)
				next = sl->next_ms;
		}
	}
	return next - now;
}

static void *
scrape_loop(void *arg)
{
	hearth_scrape *s       = arg;
	int64_t        next_sd = 0;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		int stop = s->stopping;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		int64_t now = hearth_clock_mono_ms();
		if (now >= next_sd) {
			int changed = 0;
			for (size_t k = 0; k < s->n_sd; k++)
				changed |= scrape_sd_check(s, &s->sd[k], now);
			if (changed)
				scrape_reconcile(s, now);
			next_sd = now + SCRAPE_SD_CHECK_MS;
		}
		scrape_reap(s);
		int64_t wait = scrape_tick(s, now);
		if (next_sd - now < wait)
			wait = next_sd - now;
		if (hearth_fetch_poll(s->fetch, (int) (wait > 0 ? wait : 0),
		        scrape_on_fetched, s)
		    < 0) {
			hearth_log_write(s->o.log, HEARTH_LOG_ERROR,
			    "scrape loop: curl multi failed", NULL);
			struct timespec ts = { 0, 100 * 1000000 };
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------ */

static void
scrape_handle_targets(void *ctx, hearth_http_req *req, hearth_http_resp *resp)
{
	hearth_scrape *s      = ctx;
	const char    *accept = hearth_http_req_header(req, "Accept");
	const char    *fmt    = hearth_http_req_query(req, "format");
	int            json   = (fmt != NULL && strcmp(fmt, "json") == 0)
	    || (fmt == NULL && accept != NULL
	        && strstr(accept, "application/json") != NULL);
	int rc = json ? hearth_scrape_status_json(s, &resp->body)
	              : hearth_scrape_status_html(s, &resp->body);
	if (rc != 0) {
		hearth_http_resp_error(resp, 500, "cannot render /targets");
		return;
	}
	resp->content_type
	    = json ? "application/json" : "text/html; charset=utf-8";
}

int
hearth_scrape_new(
    const hearth_scrape_opts *o, hearth_scrape **out, hearth_err *err)
{
	HEARTH_ASSERT(
	    o->config != NULL && o->limits != NULL && o->push != NULL);
	hearth_scrape *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "scrape: out of memory");
	s->o         = *o;
	s->n_workers = o->workers > 0 ? o->workers : 1;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	hearth_cond_init(&s->stop_cv);
	static const char *const l3[] = { "job", "instance", "profile" };
	static const char *const l4[]
	    = { "job", "instance", "profile", "reason" };
	static const char *const l1[] = { "job" };
	s->m_up       = hearth_metrics_gauge(o->metrics, "hearth_scrape_up",
	          "1 when the last scrape of a target's profile was fetched, "
	                "decoded "
	                "and stored, else 0.",
	          3, l3);
	s->m_duration = hearth_metrics_gauge(o->metrics,
	    "hearth_scrape_duration_seconds",
	    "Duration of the last scrape's HTTP transfer.", 3, l3);
	s->m_bytes    = hearth_metrics_gauge(o->metrics, "hearth_scrape_bytes",
	       "Body size of the last scrape, after Content-Encoding.", 3, l3);
	s->m_failures = hearth_metrics_counter(o->metrics,
	    "hearth_scrape_failures_total",
	    "Scrapes that stored nothing, by reason.", 4, l4);
	s->m_scrapes  = hearth_metrics_counter(o->metrics,
	     "hearth_scrapes_total", "Scrapes finished, failed or not.", 3, l3);
	s->m_skipped
	    = hearth_metrics_counter(o->metrics, "hearth_scrape_skipped_total",
	        "Ticks skipped because the previous scrape was still running.",
	        3, l3);
	s->m_targets = hearth_metrics_gauge(o->metrics,
	    "hearth_scrape_targets", "Targets per scrape job.", 1, l1);
	if (hearth_fetch_new(&s->fetch, err) != 0) {
		hearth_scrape_free(s);
		return err->code;
	}
	size_t n_sd = 0;
	for (size_t j = 0; j < o->config->n_jobs; j++)
		n_sd += o->config->jobs[j].n_sd;
	s->sd      = calloc(n_sd ? n_sd : 1, sizeof(*s->sd));
	s->workers = calloc(s->n_workers, sizeof(*s->workers));
	if (s->sd == NULL || s->workers == NULL) {
		hearth_scrape_free(s);
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "scrape: out of memory");
	}
	for (size_t j = 0; j < o->config->n_jobs; j++)
		for (size_t k = 0; k < o->config->jobs[j].n_sd; k++) {
			s->sd[s->n_sd].job  = &o->config->jobs[j];
			s->sd[s->n_sd++].sd = &o->config->jobs[j].sd[k];
		}
	*out = s;
	return 0;
}

int
hearth_scrape_start(hearth_scrape *s, hearth_err *err)
{
	if (s->o.http != NULL
	    && hearth_http_route(s->o.http, "GET", "/targets", 0, "targets",
	           scrape_handle_targets, s)
	        != 0)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "scrape: cannot register /targets");
	int64_t now = hearth_clock_mono_ms();
	for (size_t k = 0; k < s->n_sd; k++)
		scrape_sd_check(s, &s->sd[k], now);
	scrape_reconcile(s, now);
	if (s->o.config->n_jobs == 0)
		return 0; /* nothing to scrape: no threads */
	unsigned i;
	for (i = 0; i < s->n_workers; i++)
		if (pthread_create(
		        &s->workers[i], NULL, hearth_scrape_worker, s)
		    != 0)
			break;
	int ok = i == s->n_workers
	    && pthread_create(&s->loop, NULL, scrape_loop, s) == 0;
	s->n_workers = i;
	s->running   = 1;
	if (!ok) {
		hearth_scrape_stop(s);
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "scrape: cannot start threads: %s", strerror(errno));
	}
	s->running = 2; /* the loop runs too */
	return 0;
}

void
hearth_scrape_stop(hearth_scrape *s)
{
	pthread_mutex_lock(&s->mu);
	int was     = s->running;
	s->stopping = 1;
	s->running  = 0;
	pthread_cond_broadcast(&s->cv);
	pthread_cond_broadcast(&s->stop_cv);
	pthread_mutex_unlock(&s->mu);
	if (!was)
		return;
	if (was == 2) {
		hearth_fetch_wakeup(s->fetch);
		pthread_join(s->loop, NULL);
	}
	for (unsigned i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i], NULL);
	/* Profiles fetched but not processed are dropped. */
	while (s->q_head != NULL) {
		scrape_work *w = s->q_head;
		s->q_head      = w->next;
		w->slot->state = SCRAPE_IDLE;
		free(w->body);
		free(w);
	}
	s->q_tail = NULL;
}

void
hearth_scrape_free(hearth_scrape *s)
{
	if (s == NULL)
		return;
	hearth_scrape_stop(s);
	/* Transfers still in flight die with the fetch handle. */
	hearth_fetch_free(s->fetch);
	for (size_t i = 0; i < s->n_targets; i++)
		scrape_target_free(s, s->targets[i]);
	free(s->targets);
	for (size_t k = 0; k < s->n_sd; k++) {
		for (size_t f = 0; f < s->sd[k].n_files; f++) {
			hearth_arena_free(s->sd[k].files[f].arena);
			free(s->sd[k].files[f].path);
		}
		free(s->sd[k].files);
	}
	free(s->sd);
	free(s->workers);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	pthread_cond_destroy(&s->stop_cv);
	free(s);
}
