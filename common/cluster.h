/*
 * cluster: the live view of the ingester ring (DESIGN §5) that
 * distributors and queriers route by, and the ingester's own registration.
 *
 * Membership comes from any of three sources, combined (union by id):
 *   - a static list: "id=host:port,id=host:port" (-ring.members);
 *   - DNS, re-resolved every -ring.dns-refresh-interval:
 *       "dns+NAME:PORT"      A/AAAA records, member id = "IP:PORT";
 *       "dnssrv+NAME"        SRV records (a Kubernetes headless service:
 *                            _rpc._tcp.hearth-ingester.ns.svc), member id =
 *                            the first label of the target host name
 *                            (hearth-ingester-0), address = target:port;
 *   - etcd v3 (its JSON gateway over libcurl): an ingester registers
 *     key PREFIX/ID = its RPC address under a lease of -ring.etcd-lease-ttl
 *     and keeps it alive; everyone else watches PREFIX (a full range read
 *     at start and after any watch error) and sees members join and leave
 *     at run time. A stopped ingester revokes its lease.
 * When a source fails (DNS or etcd down) the last member set it gave is
 * kept and the failure is logged and counted; members are never dropped
 * because their source is unreachable.
 *
 * Health. Every member gets a PING (PingResponse) every
 * -ring.heartbeat-interval with a -ring.heartbeat-timeout deadline. A
 * member is healthy after a successful ping whose response says ready, and
 * unhealthy after a failed ping or a failed call reported with
 * hearth_cluster_report (connection lost, deadline exceeded). Pings also
 * bring the numbers /ring shows (series, bytes).
 *
 * Views. hearth_cluster_acquire returns the current immutable snapshot:
 * the ring of the current member set plus the members (index i of
 * view->members is ring member i). Health flags are read live from the
 * members (atomics), not frozen in the view. A view stays valid until
 * released, even across membership changes (members and their RPC clients
 * are refcounted: a removed member's client lives until the last view
 * using it is released).
 *
 * Threading: one background thread does DNS, etcd and pings. acquire,
 * release, report and the page writers are thread-safe.
 */
#ifndef HEARTH_CLUSTER_H
#define HEARTH_CLUSTER_H

#include "buf.h"
#include "err.h"
#include "log.h"
#include "metrics.h"
#include "ring.h"
#include "rpc.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hearth_cluster_cfg {
	/* Sources; NULL or "" = not used. At least one source, or a self
	 * member, must give members for routing roles to work. */
	const char *members;		/* static "id=host:port,..." */
	const char *dns;		/* "dns+NAME:PORT" / "dnssrv+NAME" */
	int64_t	    dns_refresh_ms;
	const char *etcd_endpoints;	/* "http://h:p,http://h:p" */
	const char *etcd_prefix;	/* e.g. "/hearth/ingesters/" */
	int64_t	    etcd_lease_ttl_ms;
	/* This process's ingester, if it runs one: it is registered in etcd
	 * (when etcd is set) and is always a member of its own view. url is
	 * the nng URL others dial (tcp://host:port), or inproc://... in
	 * all-in-one mode. NULL/"" when this process has no ingester. */
	const char *self_id;
	const char *self_url;
	/* Ring parameters. */
	unsigned tokens;		/* per member (128) */
	size_t	 replication_factor;	/* RF */
	size_t	 shard_size;		/* 0 = every member */
	/* Health. */
	int64_t heartbeat_interval_ms;
	int64_t heartbeat_timeout_ms;
	size_t	rpc_max_message_bytes;
	/* In-process calls to this process's ingester (rpc.h); NULL: every
	 * call over nng. */
	hearth_rpc_local *rpc_local;
} hearth_cluster_cfg;

typedef struct hearth_cluster_member {
	char		  *id;
	char		  *url;	   /* nng URL, tcp://host:port */
	hearth_rpc_client *client; /* shared by every caller */
	atomic_int	   healthy;
	atomic_int	   ready;		/* last ping said ready */
	atomic_int	   reachable;		/* last ping answered */
	_Atomic int64_t	   last_heartbeat_ms;	/* last good ping, 0 never */
	_Atomic uint64_t   series;
	_Atomic uint64_t   head_bytes;
	_Atomic uint64_t   block_bytes;
	atomic_int	   refs;		/* internal */
} hearth_cluster_member;

typedef struct hearth_cluster_view {
	const hearth_ring      *ring;
	hearth_cluster_member **members; /* [hearth_ring_size(ring)] */
	size_t			n;
	size_t			replication_factor;
	size_t			shard_size;
	uint64_t		version; /* +1 per membership change */
	int64_t			since_ms; /* when this member set appeared */
} hearth_cluster_view;

typedef struct hearth_cluster hearth_cluster;

/* Validate cfg (malformed static list or DNS name: HEARTH_EINVAL naming
 * the flag) and copy it; nothing is started. */
int hearth_cluster_new(const hearth_cluster_cfg *cfg, const hearth_log *log,
    hearth_metrics *metrics, hearth_cluster **out, hearth_err *err);
/* First resolution of every source (a failing source is logged, not
 * fatal), etcd registration of self, then the background thread. */
int  hearth_cluster_start(hearth_cluster *c, hearth_err *err);
/* Revoke the etcd lease (self leaves the ring at once), stop the thread. */
void hearth_cluster_stop(hearth_cluster *c);
void hearth_cluster_free(hearth_cluster *c);

/* The current view (never NULL after start; may have n == 0). */
hearth_cluster_view *hearth_cluster_acquire(hearth_cluster *c);
void		     hearth_cluster_release(hearth_cluster_view *v);
/* healthy[i] for every member of v (room for v->n). */
void hearth_cluster_healthy(const hearth_cluster_view *v, uint8_t *healthy);

/* Feed a call's outcome into health: HEARTH_EUNAVAIL (connection lost)
 * marks a tcp member unhealthy until its next good ping. A deadline is
 * not counted (it may be the caller's own short one; pings, with their
 * own deadline, find hung members), nor are other codes (the request's
 * fault), nor anything about an inproc:// member (it lives and dies with
 * this process; its missed pings are ignored too). */
void hearth_cluster_report(hearth_cluster_member *m, int rc);

/* /ring: members, state (ACTIVE, JOINING = reachable but replaying its
 * WAL, UNHEALTHY), tokens and ownership, last heartbeat, series and
 * bytes. JSON: {"version":7,"since_unix_ms":..,"replication_factor":3,
 * "shard_size":4,"members":[{"id":..,
 * "url":..,"state":..,"tokens":128,"ownership":0.33,
 * "last_heartbeat_unix_ms":..,"series":..,"head_bytes":..,
 * "block_bytes":..}]}. */
int hearth_cluster_write_json(hearth_cluster *c, hearth_buf *out);
int hearth_cluster_write_html(hearth_cluster *c, hearth_buf *out);

#endif
