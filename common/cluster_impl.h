/*
 * cluster_impl: what cluster.c, cluster_health.c, cluster_dns.c and
 * cluster_etcd.c share.
 * Included only by those files.
 *
 * A cluster_set is a plain list of (id, url) pairs: what one membership
 * source said last. Ids are unique within a set (the first one added
 * wins); the set owns its strings.
 *
 * cluster_etcd is driven by the cluster's background thread only (its
 * curl handles are not thread-safe), except cluster_etcd_wakeup, which any
 * thread may call to interrupt cluster_etcd_wait.
 */
#ifndef HEARTH_CLUSTER_IMPL_H
#define HEARTH_CLUSTER_IMPL_H

#include "cluster.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cluster_entry {
	char *id;
	char *url;
} cluster_entry;

typedef struct cluster_set {
	cluster_entry *v;
	size_t         n;
	size_t         cap;
} cluster_set;

void cluster_set_fini(cluster_set *s);
/* Add (id, url) unless id is already there. 0 or HEARTH_ENOMEM. */
int cluster_set_add(cluster_set *s, const char *id, const char *url);
/* Sort by id (the ring's member order). */
void cluster_set_sort(cluster_set *s);
/* 1 when both hold the same pairs (both sorted). */
int cluster_set_equal(const cluster_set *a, const cluster_set *b);
/* Replace dst's content with src's; src is left empty. */
void cluster_set_move(cluster_set *dst, cluster_set *src);


/* 1 when hp[0..len) is "host:port" (host non-empty, may be "[v6]"; port
 * a number in 1..65535), else 0. */
int cluster_hostport_ok(const char *hp, size_t len);

/* ---- DNS (cluster_dns.c) --------------------------------------------- */

typedef struct cluster_dns {
	int   srv; /* dnssrv+NAME: SRV records; else dns+NAME:PORT */
	char *name;
	char *port; /* dns+ only */
} cluster_dns;

/* Parse "dns+NAME:PORT" or "dnssrv+NAME"; HEARTH_EINVAL names -ring.dns
 * and the value. */
int  cluster_dns_parse(const char *spec, cluster_dns *d, hearth_err *err);
void cluster_dns_fini(cluster_dns *d);
/* Resolve now into out (empty on entry). Failure: HEARTH_EUNAVAIL with the
 * resolver's reason; out is then left empty. */
int cluster_dns_resolve(
    const cluster_dns *d, cluster_set *out, hearth_err *err);

/* ---- etcd (cluster_etcd.c) ------------------------------------------- */

typedef struct cluster_etcd cluster_etcd;

typedef struct cluster_etcd_cfg {
	const char *endpoints; /* "http://h:p,http://h:p" */
	const char *prefix;
	int64_t     lease_ttl_ms;
	int64_t     request_timeout_ms;
	int64_t     retry_ms; /* pause after a failure (heartbeat) */
	const char *self_id;  /* NULL: nothing to register */
	const char *self_url;
} cluster_etcd_cfg;

/* Validate (HEARTH_EINVAL naming -ring.etcd-endpoints) and copy cfg. No
 * request is made. */
int  cluster_etcd_new(const cluster_etcd_cfg *cfg, const hearth_log *log,
     cluster_etcd **out, hearth_err *err);
void cluster_etcd_free(cluster_etcd *e);
/* Do whatever is due at now: register self (lease grant + put), keep the
 * lease alive, read the member range after a watch event or failure,
 * (re)start the watch. *changed is set when members differs from before;
 * members always holds the last good range read. Returns the number of
 * failed requests (each is logged; the caller counts them). */
int cluster_etcd_step(
    cluster_etcd *e, int64_t now, cluster_set *members, int *changed);
/* When the next step is due (monotonic ms). */
int64_t cluster_etcd_next(const cluster_etcd *e);
/* Sleep up to timeout_ms while serving the watch stream; returns early
 * on watch data or cluster_etcd_wakeup. */
void cluster_etcd_wait(cluster_etcd *e, int timeout_ms);
/* Any thread: make the current or next cluster_etcd_wait return. */
void cluster_etcd_wakeup(cluster_etcd *e);
/* Revoke self's lease (its key disappears at once) and end the watch. */
void cluster_etcd_revoke(cluster_etcd *e);

/* ---- the cluster (cluster.c) ----------------------------------------- */

/* A ping answer is a few dozen bytes; the arena only needs room for its
 * decoded PingResponses. */
#define CLUSTER_PING_ARENA ((size_t) 1 << 20)

/* A view plus what callers do not see: the refcount and the ring it
 * owns. pub is first so a hearth_cluster_view * converts back. */
typedef struct cluster_view {
	hearth_cluster_view pub;
	atomic_int          refs;
	hearth_ring        *ring;
} cluster_view;

struct hearth_cluster {
	hearth_cluster_cfg cfg; /* strings owned (copies) */
	hearth_log         log;
	hearth_metric     *m_members;
	hearth_metric     *m_healthy;
	hearth_metric     *m_errors;
	hearth_metric     *m_changes;
	cluster_set        statics;
	int                has_dns;
	cluster_dns        dns;
	cluster_set        dns_set;
	cluster_etcd      *etcd;
	cluster_set        etcd_set;
	cluster_set        current; /* the members of view, sorted */
	/* mu guards view and stopping; the sets above belong to whoever
	 * runs the sources: start, then the background thread. */
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	cluster_view   *view; /* holds one reference */
	int             started;
	int             stopping;
	int             thread_running;
	pthread_t       thread;
	int64_t         next_dns;
	int64_t         next_ping;
	hearth_arena   *arena; /* pings; background thread only */
};

/* ---- health and /ring (cluster_health.c) ----------------------------- */

/* "ACTIVE", "JOINING" or "UNHEALTHY" from m's live flags. */
const char *cluster_state(hearth_cluster_member *m);
/* One PING to every member of the current view at once (background
 * thread, or start before it runs), then the gauges. Returns how many
 * members answered but are not ready yet (an ingester replaying its WAL):
 * the caller pings again soon. */
int cluster_ping_all(hearth_cluster *c);

#endif
