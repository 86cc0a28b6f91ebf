#include "cluster.h"
#include "cond.h"

#include "clock.h"
#include "cluster_impl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CLUSTER_DEFAULT_HEARTBEAT_MS 1000
/* While a member answers pings but is not ready yet (replaying its WAL),
 * it is pinged this often, so that writes start as soon as it is ready
 * and not a heartbeat interval later. */
#define CLUSTER_UNREADY_PING_MS 100
#define CLUSTER_DEFAULT_DNS_MS 15000
#define CLUSTER_DEFAULT_TTL_MS 10000
#define CLUSTER_DEFAULT_MAX_MSG ((size_t) 4 << 20)

/* ---- sets and clocks ------------------------------------------------- */

void
cluster_set_fini(cluster_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].id);
		free(s->v[i].url);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

int
cluster_set_add(cluster_set *s, const char *id, const char *url)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i].id, id) == 0)
			return 0;
	if (s->n == s->cap) {
		size_t         cap = s->cap ? s->cap * 2 : 8;
		cluster_entry *v   = realloc(s->v, cap * sizeof(*v));
		if (v == NULL)
			return HEARTH_ENOMEM;
		s->v   = v;
		s->cap = cap;
	}
	char *i = strdup(id), *u = strdup(url);
	if (i == NULL || u == NULL) {
		free(i);
		free(u);
		return HEARTH_ENOMEM;
	}
	s->v[s->n].id  = i;
	s->v[s->n].url = u;
	s->n++;
	return 0;
}

static int
cluster_entry_cmp(const void *a, const void *b)
{
	return strcmp(
	    ((const cluster_entry *) a)->id, ((const cluster_entry *) b)->id);
}

void
cluster_set_sort(cluster_set *s)
{
	if (s->n > 1)
		qsort(s->v, s->n, sizeof(*s->v), cluster_entry_cmp);
}

int
cluster_set_equal(const cluster_set *a, const cluster_set *b)
{
	if (a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].id, b->v[i].id) != 0
		    || strcmp(a->v[i].url, b->v[i].url) != 0)
			return 0;
	return 1;
}

void
cluster_set_move(cluster_set *dst, cluster_set *src)
{
	cluster_set_fini(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

int
cluster_hostport_ok(const char *hp, size_t len)
{
	size_t colon = len;
	while (colon > 0 && hp[colon - 1] != ':')
		colon--;
	if (colon < 2 || colon == len || len - colon > 5)
		return 0;
	/* A bare IPv6 address needs brackets: "::1:9095" is ambiguous. */
	if (hp[0] == '[' ? hp[colon - 2] != ']' || colon < 4
	                 : memchr(hp, ':', colon - 1) != NULL)
		return 0;
	long port = 0;
	for (size_t i = colon; i < len; i++) {
		if (hp[i] < '0' || hp[i] > '9')
			return 0;
		port = port * 10 + (hp[i] - '0');
	}
	for (size_t i = 0; i + 1 < colon; i++)
		if (hp[i] == ',' || hp[i] == '=' || hp[i] == ' '
		    || hp[i] == '/')
			return 0;
	return port >= 1 && port <= 65535;
}

/* "id=host:port,id=host:port" (spaces around entries allowed). */
static int
cluster_static_parse(const char *s, cluster_set *out, hearth_err *err)
{
	const char *p = s;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		const char *a = p, *b = end;
		while (a < b && *a == ' ')
			a++;
		while (b > a && b[-1] == ' ')
			b--;
		int         n  = (int) (b - a);
		const char *eq = memchr(a, '=', (size_t) (b - a));
		if (eq == NULL || eq == a
		    || !cluster_hostport_ok(eq + 1, (size_t) (b - eq - 1)))
			return hearth_err_set(err, HEARTH_EINVAL,
			    "-ring.members: bad entry \"%.*s\": want "
			    "id=host:port, e.g. ingester-1=10.0.0.1:9095",
			    n, a);
		char id[256], url[300];
		if (eq - a >= (long) sizeof(id) || b - eq > 256)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "-ring.members: entry \"%.*s\" is too long", n, a);
		snprintf(id, sizeof(id), "%.*s", (int) (eq - a), a);
		snprintf(url, sizeof(url), "tcp://%.*s", (int) (b - eq - 1),
		    eq + 1);
		size_t before = out->n;
		if (cluster_set_add(out, id, url) != 0)
			return hearth_err_set(
			    err, HEARTH_ENOMEM, "cluster: out of memory");
		if (out->n == before)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "-ring.members: member id \"%s\" appears twice",
			    id);
		p = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/* ---- members and views ----------------------------------------------- */

static void
cluster_member_unref(hearth_cluster_member *m)
{
	if (atomic_fetch_sub(&m->refs, 1) != 1)
		return;
	hearth_rpc_client_free(m->client);
	free(m->id);
	free(m->url);
	free(m);
}

static hearth_cluster_member *
cluster_member_new(hearth_cluster *c, const cluster_entry *e, hearth_err *err)
{
	hearth_cluster_member *m = calloc(1, sizeof(*m));
	if (m == NULL || (m->id = strdup(e->id)) == NULL
	    || (m->url = strdup(e->url)) == NULL) {
		if (m != NULL)
			free(m->id);
		free(m);
		return hearth_err_set(
		           err, HEARTH_ENOMEM, "cluster: out of memory"),
		       NULL;
	}
	if (hearth_rpc_client_new(
	        e->url, c->cfg.rpc_max_message_bytes, &m->client, err)
	    != 0) {
		free(m->id);
		free(m->url);
		free(m);
		return NULL;
	}
	hearth_rpc_client_set_local(m->client, c->cfg.rpc_local);
	/* Unhealthy until its first good ping: routing to a member nobody
	 * has heard from would fail writes that a healthy one can take. */
	atomic_init(&m->healthy, 0);
	atomic_init(&m->ready, 0);
	atomic_init(&m->reachable, 0);
	atomic_init(&m->last_heartbeat_ms, 0);
	atomic_init(&m->series, 0);
	atomic_init(&m->head_bytes, 0);
	atomic_init(&m->block_bytes, 0);
	atomic_init(&m->refs, 1);
	return m;
}

static void
cluster_view_unref(cluster_view *v)
{
	if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	for (size_t i = 0; i < v->pub.n; i++)
		cluster_member_unref(v->pub.members[i]);
	free(v->pub.members);
	hearth_ring_free(v->ring);
	free(v);
}

/* The current member of this id and url, or NULL. */
static hearth_cluster_member *
cluster_find_member(const cluster_view *v, const cluster_entry *e)
{
	if (v == NULL)
		return NULL;
	long i = hearth_ring_find(v->ring, e->id);
	if (i < 0 || strcmp(v->pub.members[i]->url, e->url) != 0)
		return NULL;
	return v->pub.members[i];
}

/* A view of set (sorted by id), reusing current members (their health and
 * connections survive a change of others). */
static cluster_view *
cluster_view_new(hearth_cluster *c, const cluster_set *set, uint64_t version,
    hearth_err *err)
{
	const char  **ids = calloc(set->n + 1, sizeof(*ids));
	cluster_view *v   = calloc(1, sizeof(*v));
	if (ids == NULL || v == NULL
	    || (v->pub.members = calloc(set->n + 1, sizeof(*v->pub.members)))
	        == NULL) {
		free(ids);
		free(v);
		return hearth_err_set(
		           err, HEARTH_ENOMEM, "cluster: out of memory"),
		       NULL;
	}
	atomic_init(&v->refs, 1);
	for (size_t i = 0; i < set->n; i++)
		ids[i] = set->v[i].id;
	int rc = hearth_ring_new(ids, set->n, c->cfg.tokens, &v->ring, err);
	free(ids);
	if (rc != 0) {
		free(v->pub.members);
		free(v);
		return NULL;
	}
	for (size_t i = 0; i < set->n; i++) {
		HEARTH_ASSERT(
		    strcmp(hearth_ring_id(v->ring, i), set->v[i].id) == 0);
		hearth_cluster_member *m
		    = cluster_find_member(c->view, &set->v[i]);
		if (m != NULL)
			atomic_fetch_add(&m->refs, 1);
		else if ((m = cluster_member_new(c, &set->v[i], err))
		    == NULL) {
			cluster_view_unref(v);
			return NULL;
		}
		v->pub.members[i] = m;
		v->pub.n          = i + 1;
	}
	v->pub.ring               = v->ring;
	v->pub.replication_factor = c->cfg.replication_factor;
	v->pub.shard_size         = c->cfg.shard_size;
	v->pub.version            = version;
	v->pub.since_ms           = hearth_clock_unix_ms();
	return v;
}

static void
cluster_count_error(hearth_cluster *c, const char *source, int n)
{
	const char *lv[] = { source };
	if (n > 0)
		hearth_metric_add(c->m_errors, lv, n);
}

/* Log who joined and left between two sorted sets. */
static void
cluster_log_diff(
    hearth_cluster *c, const cluster_set *old, const cluster_set *cur)
{
	size_t i = 0, j = 0;
	while (i < old->n || j < cur->n) {
		int d = i == old->n ? 1
		    : j == cur->n   ? -1
		                    : strcmp(old->v[i].id, cur->v[j].id);
		if (d == 0 && strcmp(old->v[i].url, cur->v[j].url) != 0)
			d = 2; /* same id, new address: leave + join */
		if (d < 0 || d == 2) {
			const char *lv[] = { old->v[i].id };
			hearth_log_write(&c->log, HEARTH_LOG_INFO,
			    "ring member left", "id=%s url=%s", old->v[i].id,
			    old->v[i].url);
			hearth_metric_del(c->m_healthy, lv);
		}
		if (d > 0)
			hearth_log_write(&c->log, HEARTH_LOG_INFO,
			    "ring member joined", "id=%s url=%s", cur->v[j].id,
			    cur->v[j].url);
		i += d <= 0 || d == 2;
		j += d >= 0;
	}
}

/* Union of the sources (self, static, etcd, DNS: the first to name an id
 * gives its address); a new view when it differs from the current one.
 * Returns 1 when the view changed. */
static int
cluster_rebuild(hearth_cluster *c)
{
	cluster_set        u      = { 0 };
	const cluster_set *srcs[] = { &c->statics, &c->etcd_set, &c->dns_set };
	hearth_err         err;
	int                rc = 0;

	if (c->cfg.self_id != NULL)
		rc |= cluster_set_add(&u, c->cfg.self_id, c->cfg.self_url);
	for (size_t s = 0; s < 3; s++)
		for (size_t i = 0; i < srcs[s]->n; i++)
			rc |= cluster_set_add(
			    &u, srcs[s]->v[i].id, srcs[s]->v[i].url);
	if (rc != 0 || u.n > HEARTH_RING_MAX_MEMBERS) {
		hearth_log_write(&c->log, HEARTH_LOG_ERROR,
		    "ring membership not updated", "members=%zu err=\"%s\"",
		    u.n, rc != 0 ? "out of memory" : "too many members");
		cluster_set_fini(&u);
		return 0;
	}
	cluster_set_sort(&u);
	if (c->view->pub.version > 0 && cluster_set_equal(&u, &c->current)) {
		cluster_set_fini(&u);
		return 0;
	}
	cluster_view *v
	    = cluster_view_new(c, &u, c->view->pub.version + 1, &err);
	if (v == NULL) {
		hearth_log_write(&c->log, HEARTH_LOG_ERROR,
		    "ring membership not updated", "err=\"%s\"", err.msg);
		cluster_set_fini(&u);
		return 0;
	}
	cluster_log_diff(c, &c->current, &u);
	cluster_set_move(&c->current, &u);
	pthread_mutex_lock(&c->mu);
	cluster_view *old = c->view;
	c->view           = v;
	pthread_mutex_unlock(&c->mu);
	cluster_view_unref(old);
	hearth_metric_add(c->m_changes, NULL, 1);
	hearth_log_write(&c->log, HEARTH_LOG_INFO, "ring changed",
	    "version=%llu members=%zu", (unsigned long long) v->pub.version,
	    v->pub.n);
	return 1;
}

/* ---- sources and the background thread ------------------------------- */

static int
cluster_refresh_dns(hearth_cluster *c)
{
	cluster_set s = { 0 };
	hearth_err  err;
	if (cluster_dns_resolve(&c->dns, &s, &err) != 0) {
		char q[HEARTH_ERR_MSG_MAX + 8];
		/* Keep the last good answer: a resolver hiccup must not
		 * empty the ring. */
		hearth_log_write(&c->log, HEARTH_LOG_WARN,
		    "ring dns lookup failed", "err=%s",
		    hearth_log_quote(q, sizeof(q), err.msg));
		cluster_count_error(c, "dns", 1);
		return 0;
	}
	cluster_set_sort(&s);
	if (cluster_set_equal(&s, &c->dns_set)) {
		cluster_set_fini(&s);
		return 0;
	}
	cluster_set_move(&c->dns_set, &s);
	return 1;
}

static int
cluster_stopping(hearth_cluster *c)
{
	pthread_mutex_lock(&c->mu);
	int s = c->stopping;
	pthread_mutex_unlock(&c->mu);
	return s;
}

/* Milliseconds to the next ping round. */
static int64_t
cluster_ping_wait(const hearth_cluster *c, int unready)
{
	int64_t w = c->cfg.heartbeat_interval_ms;
	return unready > 0 && w > CLUSTER_UNREADY_PING_MS ? CLUSTER_UNREADY_PING_MS
							   : w;
}

static void *
cluster_thread(void *arg)
{
	hearth_cluster *c = arg;
	while (!cluster_stopping(c)) {
		int64_t now     = hearth_clock_mono_ms();
		int     changed = 0;
		if (c->has_dns && now >= c->next_dns) {
			changed |= cluster_refresh_dns(c);
			c->next_dns = now + c->cfg.dns_refresh_ms;
		}
		if (c->etcd != NULL) {
			int ch = 0;
			cluster_count_error(c, "etcd",
			    cluster_etcd_step(
			        c->etcd, now, &c->etcd_set, &ch));
			changed |= ch;
		}
		/* A member that just joined is pinged at once. */
		if (changed && cluster_rebuild(c))
			c->next_ping = now;
		if (now >= c->next_ping)
			c->next_ping = now + cluster_ping_wait(c, cluster_ping_all(c));
		int64_t next = c->next_ping;
		if (c->has_dns && c->next_dns < next)
			next = c->next_dns;
		if (c->etcd != NULL && cluster_etcd_next(c->etcd) < next)
			next = cluster_etcd_next(c->etcd);
		int64_t wait = next - hearth_clock_mono_ms();
		if (wait <= 0)
			continue;
		if (c->etcd != NULL) {
			cluster_etcd_wait(c->etcd, (int) wait);
			continue;
		}
		struct timespec ts = hearth_cond_deadline(wait);
		pthread_mutex_lock(&c->mu);
		if (!c->stopping)
			pthread_cond_timedwait(&c->cv, &c->mu, &ts);
		pthread_mutex_unlock(&c->mu);
	}
	return NULL;
}

/* ---- lifecycle ------------------------------------------------------- */

static char *
cluster_dup(const char *s)
{
	return s != NULL && s[0] != '\0' ? strdup(s) : NULL;
}

static int
cluster_copy_cfg(hearth_cluster *c, const hearth_cluster_cfg *cfg)
{
	c->cfg                = *cfg;
	c->cfg.members        = cluster_dup(cfg->members);
	c->cfg.dns            = cluster_dup(cfg->dns);
	c->cfg.etcd_endpoints = cluster_dup(cfg->etcd_endpoints);
	c->cfg.etcd_prefix    = cluster_dup(cfg->etcd_prefix);
	c->cfg.self_id        = cluster_dup(cfg->self_id);
	c->cfg.self_url       = cluster_dup(cfg->self_url);
	if (c->cfg.tokens == 0)
		c->cfg.tokens = HEARTH_RING_DEFAULT_TOKENS;
	if (c->cfg.heartbeat_interval_ms <= 0)
		c->cfg.heartbeat_interval_ms = CLUSTER_DEFAULT_HEARTBEAT_MS;
	if (c->cfg.heartbeat_timeout_ms <= 0)
		c->cfg.heartbeat_timeout_ms = CLUSTER_DEFAULT_HEARTBEAT_MS;
	if (c->cfg.dns_refresh_ms <= 0)
		c->cfg.dns_refresh_ms = CLUSTER_DEFAULT_DNS_MS;
	if (c->cfg.etcd_lease_ttl_ms <= 0)
		c->cfg.etcd_lease_ttl_ms = CLUSTER_DEFAULT_TTL_MS;
	if (c->cfg.rpc_max_message_bytes == 0)
		c->cfg.rpc_max_message_bytes = CLUSTER_DEFAULT_MAX_MSG;
	if (c->cfg.etcd_endpoints != NULL && c->cfg.etcd_prefix == NULL)
		c->cfg.etcd_prefix = strdup("/hearth/ingesters/");
	return (cfg->members && cfg->members[0] && !c->cfg.members)
	        || (cfg->dns && cfg->dns[0] && !c->cfg.dns)
	        || (cfg->etcd_endpoints && cfg->etcd_endpoints[0]
	            && (!c->cfg.etcd_endpoints || !c->cfg.etcd_prefix))
	        || (cfg->self_id && cfg->self_id[0] && !c->cfg.self_id)
	        || (cfg->self_url && cfg->self_url[0] && !c->cfg.self_url)
	    ? HEARTH_ENOMEM
	    : 0;
}

static void
cluster_metrics(hearth_cluster *c, hearth_metrics *m)
{
	static const char *st[] = { "state" }, *mem[] = { "member" },
	                  *src[] = { "source" };
	if (m == NULL)
		return;
	c->m_members = hearth_metrics_gauge(m, "hearth_ring_members",
	    "Ring members by state (ACTIVE, JOINING, UNHEALTHY).", 1, st);
	c->m_healthy = hearth_metrics_gauge(m, "hearth_ring_member_healthy",
	    "1 when the ring member answered its last ping ready, else 0.", 1,
	    mem);
	c->m_errors  = hearth_metrics_counter(m,
	     "hearth_ring_membership_errors_total",
	     "Failed membership lookups (DNS) and requests (etcd).", 1, src);
	c->m_changes = hearth_metrics_counter(m, "hearth_ring_changes_total",
	    "Changes of the ring's member set.", 0, NULL);
}

int
hearth_cluster_new(const hearth_cluster_cfg *cfg, const hearth_log *log,
    hearth_metrics *metrics, hearth_cluster **out, hearth_err *err)
{
	HEARTH_ASSERT(cfg != NULL && out != NULL);
	*out              = NULL;
	hearth_cluster *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "cluster: out of memory");
	pthread_mutex_init(&c->mu, NULL);
	hearth_cond_init(&c->cv);
	if (log != NULL)
		c->log = *log;
	else
		hearth_log_init(&c->log, "ring", HEARTH_LOG_INFO);
	int rc = cluster_copy_cfg(c, cfg);
	if (rc != 0) {
		hearth_err_set(err, rc, "cluster: out of memory");
		goto fail;
	}
	if (c->cfg.self_id != NULL && c->cfg.self_url == NULL) {
		rc = hearth_err_set(err, HEARTH_EINVAL,
		    "-ring.instance-addr: the ingester \"%s\" has no address "
		    "for the ring",
		    c->cfg.self_id);
		goto fail;
	}
	if (c->cfg.members != NULL
	    && (rc = cluster_static_parse(c->cfg.members, &c->statics, err))
	        != 0)
		goto fail;
	if (c->cfg.dns != NULL) {
		if ((rc = cluster_dns_parse(c->cfg.dns, &c->dns, err)) != 0)
			goto fail;
		c->has_dns = 1;
	}
	if (c->cfg.etcd_endpoints != NULL) {
		cluster_etcd_cfg ec = { c->cfg.etcd_endpoints,
			c->cfg.etcd_prefix, c->cfg.etcd_lease_ttl_ms,
			c->cfg.heartbeat_timeout_ms < 2000
			    ? 2000
			    : c->cfg.heartbeat_timeout_ms,
			c->cfg.heartbeat_interval_ms, c->cfg.self_id,
			c->cfg.self_url };
		if ((rc = cluster_etcd_new(&ec, &c->log, &c->etcd, err)) != 0)
			goto fail;
	}
	/* Version 0: no member until start resolves the sources. */
	c->arena = hearth_arena_new(CLUSTER_PING_ARENA);
	c->view  = cluster_view_new(c, &c->current, 0, err);
	if (c->arena == NULL || c->view == NULL) {
		rc = hearth_err_set(
		    err, HEARTH_ENOMEM, "cluster: out of memory");
		goto fail;
	}
	cluster_metrics(c, metrics);
	*out = c;
	return 0;
fail:
	hearth_cluster_free(c);
	return rc;
}

int
hearth_cluster_start(hearth_cluster *c, hearth_err *err)
{
	HEARTH_ASSERT(!c->started);
	c->started  = 1;
	int64_t now = hearth_clock_mono_ms();
	if (c->has_dns) {
		cluster_refresh_dns(c);
		c->next_dns = now + c->cfg.dns_refresh_ms;
	}
	if (c->etcd != NULL) {
		int ch = 0;
		cluster_count_error(c, "etcd",
		    cluster_etcd_step(c->etcd, now, &c->etcd_set, &ch));
	}
	cluster_rebuild(c);
	/* The first view comes with real health, so routing roles do not
	 * start by treating every ingester as down. */
	int unready  = cluster_ping_all(c);
	c->next_ping = hearth_clock_mono_ms() + cluster_ping_wait(c, unready);
	if (pthread_create(&c->thread, NULL, cluster_thread, c) != 0)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "cluster: cannot start the ring thread");
	c->thread_running = 1;
	return 0;
}

void
hearth_cluster_stop(hearth_cluster *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	int was     = c->stopping;
	c->stopping = 1;
	pthread_cond_broadcast(&c->cv);
	pthread_mutex_unlock(&c->mu);
	if (was)
		return;
	if (c->etcd != NULL)
		cluster_etcd_wakeup(c->etcd);
	if (c->thread_running)
		pthread_join(c->thread, NULL);
	c->thread_running = 0;
	/* The thread is gone: its curl handles are ours now. */
	if (c->etcd != NULL && c->started)
		cluster_etcd_revoke(c->etcd);
}

void
hearth_cluster_free(hearth_cluster *c)
{
	if (c == NULL)
		return;
	hearth_cluster_stop(c);
	cluster_view_unref(c->view);
	cluster_etcd_free(c->etcd);
	cluster_dns_fini(&c->dns);
	cluster_set_fini(&c->statics);
	cluster_set_fini(&c->dns_set);
	cluster_set_fini(&c->etcd_set);
	cluster_set_fini(&c->current);
	hearth_arena_free(c->arena);
	free((char *) c->cfg.members);
	free((char *) c->cfg.dns);
	free((char *) c->cfg.etcd_endpoints);
	free((char *) c->cfg.etcd_prefix);
	free((char *) c->cfg.self_id);
	free((char *) c->cfg.self_url);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
}

hearth_cluster_view *
hearth_cluster_acquire(hearth_cluster *c)
{
	pthread_mutex_lock(&c->mu);
	cluster_view *v = c->view;
	atomic_fetch_add(&v->refs, 1);
	pthread_mutex_unlock(&c->mu);
	return &v->pub;
}

void
hearth_cluster_release(hearth_cluster_view *v)
{
	if (v != NULL)
		cluster_view_unref((cluster_view *) v);
}
