/* Health (pings, reported failures) and the /ring page writers. */
#include "cluster_impl.h"

#include "clock.h"
#include "ingester.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* ---- health ---------------------------------------------------------- */

const char *
cluster_state(hearth_cluster_member *m)
{
	if (atomic_load(&m->healthy))
		return "ACTIVE";
	if (atomic_load(&m->reachable) && !atomic_load(&m->ready))
		return "JOINING";
	return "UNHEALTHY";
}

static void
cluster_ping_result(
    hearth_cluster *c, hearth_cluster_member *m, const hearth_rpc_pending *p)
{
	ProtobufCAllocator a
	    = { hearth_arena_pb_alloc, hearth_arena_pb_free, c->arena };
	Hearth__Ingester__PingResponse *r   = NULL;
	int                             was = atomic_load(&m->healthy);
	if (p->rc == 0
	    && (r = hearth__ingester__ping_response__unpack(&a, p->resp_len,
	            p->resp != NULL ? p->resp : (const uint8_t *) ""))
	        == NULL) {
		atomic_store(&m->reachable, 0);
		atomic_store(&m->healthy, 0);
		if (was)
			hearth_log_write(&c->log, HEARTH_LOG_WARN,
			    "ring member unhealthy",
			    "id=%s url=%s err=\"malformed ping response\"",
			    m->id, m->url);
		return;
	}
	/* An in-process ingester cannot hang or vanish without this process:
	 * a slow ping only means it is busy (fsyncs, a cut), and taking it
	 * out of a ring of one would refuse every write. */
	if (r == NULL && p->rc == HEARTH_ETIMEDOUT &&
	    strncmp(m->url, "inproc://", 9) == 0)
		return;
	if (r == NULL) {
		char q[HEARTH_ERR_MSG_MAX + 8];
		atomic_store(&m->reachable, 0);
		atomic_store(&m->healthy, 0);
		if (was)
			hearth_log_write(&c->log, HEARTH_LOG_WARN,
			    "ring member unhealthy", "id=%s url=%s err=%s",
			    m->id, m->url,
			    hearth_log_quote(q, sizeof(q), p->err.msg));
		return;
	}
	atomic_store(&m->reachable, 1);
	atomic_store(&m->ready, r->ready ? 1 : 0);
	atomic_store(&m->last_heartbeat_ms, hearth_clock_unix_ms());
	atomic_store(&m->series, r->series);
	atomic_store(&m->head_bytes, r->head_bytes);
	atomic_store(&m->block_bytes, r->block_bytes);
	atomic_store(&m->healthy, r->ready ? 1 : 0);
	if (!was && r->ready)
		hearth_log_write(&c->log, HEARTH_LOG_INFO,
		    "ring member healthy", "id=%s url=%s", m->id, m->url);
}

/* One PING to every member at once, then the gauges. */
int
cluster_ping_all(hearth_cluster *c)
{
	hearth_cluster_view *v = hearth_cluster_acquire(c);
	hearth_rpc_pending  *p = calloc(v->n + 1, sizeof(*p));
	int                  unready = 0;
	if (p == NULL) {
		hearth_cluster_release(v);
		return 0;
	}
	for (size_t i = 0; i < v->n; i++) {
		p[i].client = v->members[i]->client;
		p[i].method = HEARTH_RPC_PING;
	}
	hearth_rpc_meta meta = { "", "ring-ping",
		hearth_clock_unix_ms() + c->cfg.heartbeat_timeout_ms, NULL };
	hearth_arena_reset(c->arena);
	hearth_rpc_call_all(p, v->n, &meta, c->arena);
	double active = 0, joining = 0, unhealthy = 0;
	for (size_t i = 0; i < v->n; i++) {
		hearth_cluster_member *m = v->members[i];
		cluster_ping_result(c, m, &p[i]);
		unready += atomic_load(&m->reachable) && !atomic_load(&m->ready);
		const char *st   = cluster_state(m);
		const char *lv[] = { m->id };
		hearth_metric_set(c->m_healthy, lv, atomic_load(&m->healthy));
		if (st[0] == 'A')
			active++;
		else if (st[0] == 'J')
			joining++;
		else
			unhealthy++;
	}
	const char *la[] = { "ACTIVE" }, *lj[] = { "JOINING" },
	           *lu[] = { "UNHEALTHY" };
	hearth_metric_set(c->m_members, la, active);
	hearth_metric_set(c->m_members, lj, joining);
	hearth_metric_set(c->m_members, lu, unhealthy);
	free(p);
	hearth_cluster_release(v);
	return unready;
}

void
hearth_cluster_report(hearth_cluster_member *m, int rc)
{
	/* Only a lost connection: a call's deadline may be the caller's own
	 * (a Connect client's 1 ms budget); hung members are found by pings,
	 * whose deadline is ours. */
	if (m != NULL && rc == HEARTH_EUNAVAIL &&
	    strncmp(m->url, "inproc://", 9) != 0)
		atomic_store(&m->healthy, 0);
}

void
hearth_cluster_healthy(const hearth_cluster_view *v, uint8_t *healthy)
{
	for (size_t i = 0; i < v->n; i++)
		healthy[i] = atomic_load(&v->members[i]->healthy) ? 1 : 0;
}

/* ---- /ring ----------------------------------------------------------- */

int
hearth_cluster_write_json(hearth_cluster *c, hearth_buf *out)
{
	hearth_cluster_view *v = hearth_cluster_acquire(c);
	hearth_buf_printf(out,
	    "{\"version\":%llu,\"since_unix_ms\":%lld,"
	    "\"replication_factor\":%zu,\"shard_size\":%zu,\"members\":[",
	    (unsigned long long) v->version, (long long) v->since_ms,
	    v->replication_factor, v->shard_size);
	for (size_t i = 0; i < v->n; i++) {
		hearth_cluster_member *m = v->members[i];
		hearth_buf_puts(out, i ? ",{\"id\":" : "{\"id\":");
		hearth_buf_put_json_str(out, m->id, strlen(m->id));
		hearth_buf_puts(out, ",\"url\":");
		hearth_buf_put_json_str(out, m->url, strlen(m->url));
		hearth_buf_printf(out,
		    ",\"state\":\"%s\",\"tokens\":%u,\"ownership\":%.6f,"
		    "\"last_heartbeat_unix_ms\":%lld,\"series\":%llu,"
		    "\"head_bytes\":%llu,\"block_bytes\":%llu}",
		    cluster_state(m), c->cfg.tokens,
		    hearth_ring_ownership(v->ring, i),
		    (long long) atomic_load(&m->last_heartbeat_ms),
		    (unsigned long long) atomic_load(&m->series),
		    (unsigned long long) atomic_load(&m->head_bytes),
		    (unsigned long long) atomic_load(&m->block_bytes));
	}
	hearth_buf_puts(out, "]}");
	hearth_cluster_release(v);
	return hearth_buf_failed(out) ? HEARTH_ENOMEM : 0;
}

static void
cluster_html_esc(hearth_buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '<':
			hearth_buf_puts(out, "&lt;");
			break;
		case '>':
			hearth_buf_puts(out, "&gt;");
			break;
		case '&':
			hearth_buf_puts(out, "&amp;");
			break;
		case '"':
			hearth_buf_puts(out, "&quot;");
			break;
		case '\'':
			hearth_buf_puts(out, "&#39;");
			break;
		default:
			hearth_buf_putc(out, *s);
		}
	}
}

int
hearth_cluster_write_html(hearth_cluster *c, hearth_buf *out)
{
	hearth_cluster_view *v   = hearth_cluster_acquire(c);
	int64_t              now = hearth_clock_unix_ms();
	hearth_buf_printf(out,
	    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
	    "<title>hearth ring</title><style>body{font-family:sans-serif}"
	    "table{border-collapse:collapse}td,th{border:1px solid #ccc;"
	    "padding:2px 8px;text-align:left}.ACTIVE{color:#070}"
	    ".JOINING{color:#a60}.UNHEALTHY{color:#b00}</style></head>"
	    "<body><h1>Ingester ring</h1><p>version %llu, %zu members, "
	    "replication factor %zu, shard size %zu</p>\n<table><tr>"
	    "<th>id</th><th>address</th><th>state</th><th>tokens</th>"
	    "<th>ownership</th><th>last heartbeat</th><th>series</th>"
	    "<th>head bytes</th><th>block bytes</th></tr>\n",
	    (unsigned long long) v->version, v->n, v->replication_factor,
	    v->shard_size);
	for (size_t i = 0; i < v->n; i++) {
		hearth_cluster_member *m  = v->members[i];
		int64_t                hb = atomic_load(&m->last_heartbeat_ms);
		const char            *st = cluster_state(m);
		hearth_buf_puts(out, "<tr><td>");
		cluster_html_esc(out, m->id);
		hearth_buf_puts(out, "</td><td>");
		cluster_html_esc(out, m->url);
		hearth_buf_printf(out,
		    "</td><td class=\"%s\">%s</td><td>%u</td><td>%.1f%%</td>",
		    st, st, c->cfg.tokens,
		    100.0 * hearth_ring_ownership(v->ring, i));
		if (hb == 0)
			hearth_buf_puts(out, "<td>never</td>");
		else
			hearth_buf_printf(out, "<td>%.1f s ago</td>",
			    (double) (now - hb) / 1000.0);
		hearth_buf_printf(out,
		    "<td>%llu</td><td>%llu</td><td>%llu</td>"
		    "</tr>\n",
		    (unsigned long long) atomic_load(&m->series),
		    (unsigned long long) atomic_load(&m->head_bytes),
		    (unsigned long long) atomic_load(&m->block_bytes));
	}
	hearth_buf_puts(out, "</table></body></html>\n");
	hearth_cluster_release(v);
	return hearth_buf_failed(out) ? HEARTH_ENOMEM : 0;
}
