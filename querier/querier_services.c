/*
 * querier_services: which ingesters hold which services, so that a query
 * for one service asks only the members that can hold it (DESIGN §5:
 * service-first placement) instead of the whole ring.
 *
 * A member can hold (tenant, service) when it is in the service's shard
 * of the current ring, or when it said so the last time it was asked
 * (SERVICES: every tenant's service_name values in its head and blocks,
 * which covers members that held the service before a ring change and
 * members a write was extended to while shard members were unhealthy).
 * The answers are cached for QUERIER_SERVICES_TTL_MS and refreshed by the
 * first query that finds them stale (the others keep using the old ones
 * meanwhile). A member never asked, or whose answer failed, is always a
 * candidate, and so is every member while the ring changed less than a
 * TTL ago: pruning only ever removes members known not to hold the data.
 */
#include "querier_impl.h"

#include "clock.h"
#include "ingester.pb-c.h"
#include "ring.h"
#include "selector.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUERIER_SERVICES_TTL_MS 10000

typedef struct services_member {
	char   *id;
	char  **keys; /* sorted "tenant\x1fservice" */
	size_t	n;
} services_member;

struct hearth_querier_services {
	pthread_mutex_t	 mu;
	int		 refreshing;
	int64_t		 at_ms;	 /* last refresh, 0 never */
	services_member *members;
	size_t		 n;
};

static int
services_key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

static void
services_member_clear(services_member *m)
{
	for (size_t k = 0; k < m->n; k++)
		free(m->keys[k]);
	free(m->keys);
	free(m->id);
	memset(m, 0, sizeof(*m));
}

static void
services_members_free(services_member *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		services_member_clear(&m[i]);
	free(m);
}

int
hearth_querier_services_new(hearth_querier_services **out, hearth_err *err)
{
	hearth_querier_services *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM, "querier: out of memory");
	pthread_mutex_init(&s->mu, NULL);
	*out = s;
	return 0;
}

void
hearth_querier_services_free(hearth_querier_services *s)
{
	if (s == NULL)
		return;
	services_members_free(s->members, s->n);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* Ask every member of v; answers that fail leave the member out (so it
 * stays a candidate). Runs without the lock; swaps the result in. */
static void
services_refresh(hearth_querier_services *s, hearth_cluster_view *v,
    hearth_arena *a)
{
	hearth_rpc_pending *calls = hearth_arena_calloc(a, v->n, sizeof(*calls));
	uint8_t		   *healthy = hearth_arena_alloc(a, v->n);
	services_member	   *fresh = calloc(v->n ? v->n : 1, sizeof(*fresh));
	size_t		    nf	  = 0;
	if (calls == NULL || healthy == NULL || fresh == NULL) {
		free(fresh);
		return;
	}
	/* Unhealthy members are not asked (a hung one would hold this query
	 * up): without an answer they stay candidates. */
	hearth_cluster_healthy(v, healthy);
	for (size_t i = 0; i < v->n; i++) {
		calls[i].client = v->members[i]->client;
		calls[i].method = HEARTH_RPC_SERVICES;
	}
	hearth_rpc_meta meta = { .tenant = "", .request_id = "",
		.deadline_unix_ms = hearth_clock_unix_ms() + 1000 };
	size_t n_ask = 0;
	for (size_t i = 0; i < v->n; i++)
		if (healthy[i])
			calls[n_ask++] = calls[i];
	hearth_rpc_call_all(calls, n_ask, &meta, a);
	ProtobufCAllocator pa = { hearth_arena_pb_alloc, hearth_arena_pb_free,
		a };
	for (size_t c = 0, i = 0; c < n_ask; c++, i++) {
		while (!healthy[i])
			i++;
		if (calls[c].rc != 0)
			continue;
		Hearth__Ingester__ServicesResponse *r =
		    hearth__ingester__services_response__unpack(&pa,
			calls[c].resp_len, calls[c].resp);
		if (r == NULL)
			continue;
		size_t total = 0;
		for (size_t t = 0; t < r->n_tenants; t++)
			total += r->tenants[t]->n_services;
		services_member *m = &fresh[nf];
		m->id		   = strdup(v->members[i]->id);
		m->keys		   = calloc(total ? total : 1, sizeof(char *));
		int ok		   = m->id != NULL && m->keys != NULL;
		for (size_t t = 0; ok && t < r->n_tenants; t++)
			for (size_t k = 0; ok && k < r->tenants[t]->n_services;
			     k++) {
				const char *tn = r->tenants[t]->tenant;
				const char *sv = r->tenants[t]->services[k];
				size_t	    l  = strlen(tn) + strlen(sv) + 2;
				char	   *key = malloc(l);
				if (key == NULL) {
					ok = 0;
					break;
				}
				memcpy(key, tn, strlen(tn));
				key[strlen(tn)] = '\x1f';
				memcpy(key + strlen(tn) + 1, sv, strlen(sv) + 1);
				m->keys[m->n++] = key;
			}
		if (!ok) {
			services_member_clear(m);
			continue;
		}
		qsort(m->keys, m->n, sizeof(char *), services_key_cmp);
		nf++;
	}
	pthread_mutex_lock(&s->mu);
	services_member *old  = s->members;
	size_t		 n_old = s->n;
	s->members	      = fresh;
	s->n		      = nf;
	s->at_ms	      = hearth_clock_unix_ms();
	pthread_mutex_unlock(&s->mu);
	services_members_free(old, n_old);
}

/* The service a selector pins with service_name="x", or NULL. */
static const char *
services_of_selector(const char *text, hearth_arena *a)
{
	hearth_selector *sel = NULL;
	hearth_err	 err;
	const char	*out = NULL;
	if (hearth_selector_parse(text, strlen(text), &sel, &err) != 0)
		return NULL;
	for (size_t i = 0; i < sel->n; i++)
		if (sel->matchers[i].op == HEARTH_MATCH_EQ &&
		    strcmp(sel->matchers[i].name, "service_name") == 0)
			out = hearth_arena_strdup(a, sel->matchers[i].value);
	hearth_selector_free(sel);
	return out;
}

void
hearth_querier_services_candidates(hearth_querier *q,
    hearth_cluster_view *v, const char *tenant, const char *selector,
    hearth_arena *a, uint8_t *mark)
{
	hearth_querier_services *s = q->services;
	memset(mark, 1, v->n);
	const char *service = selector != NULL
	    ? services_of_selector(selector, a)
	    : NULL;
	int64_t now = hearth_clock_unix_ms();
	if (service == NULL || s == NULL || v->n <= 1 ||
	    now - v->since_ms < QUERIER_SERVICES_TTL_MS)
		return;
	pthread_mutex_lock(&s->mu);
	int stale = now - s->at_ms >= QUERIER_SERVICES_TTL_MS;
	int mine  = stale && !s->refreshing;
	if (mine)
		s->refreshing = 1;
	pthread_mutex_unlock(&s->mu);
	if (mine) {
		services_refresh(s, v, a);
		pthread_mutex_lock(&s->mu);
		s->refreshing = 0;
		pthread_mutex_unlock(&s->mu);
	}
	uint32_t *shard = hearth_arena_alloc(a, v->n * sizeof(*shard));
	char	 *key	= hearth_arena_alloc(a,
	      strlen(tenant) + strlen(service) + 2);
	if (shard == NULL || key == NULL)
		return;
	strcpy(key, tenant);
	key[strlen(tenant)] = '\x1f';
	strcpy(key + strlen(tenant) + 1, service);
	size_t ns = hearth_ring_shard(v->ring, tenant, service, v->shard_size,
	    shard);
	pthread_mutex_lock(&s->mu);
	if (s->at_ms > 0 && now - s->at_ms < 3 * QUERIER_SERVICES_TTL_MS) {
		for (size_t i = 0; i < v->n; i++) {
			const services_member *m = NULL;
			for (size_t k = 0; k < s->n && m == NULL; k++)
				if (strcmp(s->members[k].id,
					v->members[i]->id) == 0)
					m = &s->members[k];
			if (m == NULL)
				continue; /* never answered: keep asking it */
			mark[i] = bsearch(&key, m->keys, m->n, sizeof(char *),
			    services_key_cmp) != NULL;
		}
		for (size_t k = 0; k < ns; k++)
			mark[shard[k]] = 1;
	}
	pthread_mutex_unlock(&s->mu);
}
