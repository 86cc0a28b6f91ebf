/*
 * connect_querier_settings: settings.v1.SettingsService (connect-apis.md
 * §5), the per-tenant key/value store where Grafana's Profiles Drilldown
 * keeps its preferences.
 *
 * Every ingester keeps a copy (ingester/store_settings.c): Set and Delete
 * go to every member of the ring, Get asks every member, and the newest
 * version of each name wins (common/setting.h), a Delete being a version
 * too, so a member that missed a write is outvoted by those that have it.
 * Like the other reads, a call fails only when a quorum of members does
 * not answer. Settings belong to one tenant: X-Scope-OrgID a|b is
 * invalid_argument. They need the credentials of a read (Grafana writes
 * them with its data source's).
 */
#include "connect_querier_impl.h"

#include "clock.h"
#include "setting.h"
#include "settings.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* A name a person could type: the UI shows it; no control characters. */
#define SETTINGS_MAX_NAME 256

/* Every member's answer, then (settings_call) the newest version of each
 * name, in name order. */
typedef struct settings_merge {
	Hearth__Ingester__Setting **v;
	size_t			   n, cap;
} settings_merge;

static int
settings_on_answer(void *ctx, const uint8_t *body, size_t len,
    hearth_arena *a, hearth_err *err)
{
	settings_merge	  *m  = ctx;
	ProtobufCAllocator pa = { hearth_arena_pb_alloc, hearth_arena_pb_free,
		a };
	Hearth__Ingester__SettingsResponse *r
	    = hearth__ingester__settings_response__unpack(&pa, len, body);
	if (r == NULL)
		return hearth_err_set(err, HEARTH_EINTERNAL,
		    "settings: an ingester's answer does not decode");
	if (r->n_settings == 0)
		return 0; /* nothing to add (and m->v may still be NULL) */
	if (hearth_arena_grow(a, (void **) &m->v, &m->cap,
		m->n + r->n_settings, sizeof(*m->v))
	    != 0)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "settings: request memory limit reached");
	memcpy(m->v + m->n, r->settings, r->n_settings * sizeof(*m->v));
	m->n += r->n_settings;
	return 0;
}

/* By name, the newest version of a name first. */
static int
settings_cmp(const void *a, const void *b)
{
	const Hearth__Ingester__Setting *x = *(const void *const *) a;
	const Hearth__Ingester__Setting *y = *(const void *const *) b;
	int				 c = strcmp(x->name, y->name);
	if (c != 0)
		return c;
	return hearth_setting_newer(x, y) ? -1 : hearth_setting_newer(y, x);
}

/* Tenant and deadline of a settings call: one tenant only. */
static int
settings_begin(hearth_connect_querier_ctx *c, void *q,
    hearth_connect_call *call)
{
	int rc = hearth_connect_querier_begin(c, q, call, "settings");
	if (rc != 0)
		return rc;
	if (strchr(c->tenant, '|') != NULL)
		return hearth_connect_fail(call, HEARTH_CONNECT_INVALID_ARGUMENT,
		    "settings belong to one tenant; X-Scope-OrgID names "
		    "several (%s)",
		    c->tenant);
	return 0;
}

/* Send put (NULL: none) to every ingester and merge what they hold. */
static int
settings_call(hearth_connect_querier_ctx *c,
    const Hearth__Ingester__Setting *put, settings_merge *m)
{
	Hearth__Ingester__SettingsRequest rq
	    = HEARTH__INGESTER__SETTINGS_REQUEST__INIT;
	rq.put	    = (Hearth__Ingester__Setting *) put;
	size_t	 len = hearth__ingester__settings_request__get_packed_size(&rq);
	uint8_t *buf = hearth_arena_alloc(c->call->arena, len ? len : 1);
	if (buf == NULL)
		return hearth_connect_querier_nomem(c->call);
	hearth__ingester__settings_request__pack(&rq, buf);
	hearth_err err;
	hearth_err_clear(&err);
	memset(m, 0, sizeof(*m));
	if (hearth_querier_fanout(c->q, c->tenant, HEARTH_RPC_SETTINGS, buf,
		len, c->call->arena, c->deadline, settings_on_answer, m, &err)
	    != 0)
		return hearth_connect_querier_fail(c, &err);
	/* Keep the first (newest) of each name. */
	if (m->n > 1)
		qsort(m->v, m->n, sizeof(*m->v), settings_cmp);
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++)
		if (k == 0 || strcmp(m->v[i]->name, m->v[k - 1]->name) != 0)
			m->v[k++] = m->v[i];
	m->n = k;
	return 0;
}

/* A Connect Setting of a stored one (arena). */
static Settings__V1__Setting *
settings_out(hearth_connect_call *call, const Hearth__Ingester__Setting *s)
{
	Settings__V1__Setting *o = hearth_connect_querier_new(call, sizeof(*o));
	if (o == NULL)
		return NULL;
	settings__v1__setting__init(o);
	o->name	      = s->name;
	o->value      = s->value;
	o->modifiedat = s->modified_at_ms;
	return o;
}

/* The time of a write or delete the client did not date: now, or just
 * after the newest version of name stored (a client may have dated one
 * ahead of this clock), so that it wins as the client meant. Reads first. */
static int
settings_next_time(hearth_connect_querier_ctx *c, const char *name,
    int64_t *t)
{
	settings_merge m;
	int	       rc = settings_call(c, NULL, &m);
	if (rc != 0)
		return rc;
	*t = hearth_clock_unix_ms();
	for (size_t i = 0; i < m.n; i++)
		if (strcmp(m.v[i]->name, name) == 0
		    && m.v[i]->modified_at_ms >= *t)
			*t = m.v[i]->modified_at_ms + 1;
	return 0;
}

/* Name checks shared by Set and Delete; 0 or the failed call. */
static int
settings_check_name(hearth_connect_call *call, const char *name)
{
	size_t n = strlen(name);
	if (n == 0)
		return hearth_connect_fail(call, HEARTH_CONNECT_INVALID_ARGUMENT,
		    "a setting needs a name");
	if (n > SETTINGS_MAX_NAME)
		return hearth_connect_fail(call, HEARTH_CONNECT_INVALID_ARGUMENT,
		    "setting name of %zu bytes; at most %d", n,
		    SETTINGS_MAX_NAME);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char) name[i] < 0x20 || name[i] == 0x7f)
			return hearth_connect_fail(call,
			    HEARTH_CONNECT_INVALID_ARGUMENT,
			    "setting name \"%.64s\" has a control character "
			    "at byte %zu",
			    name, i);
	return 0;
}

int
hearth_connect_querier_settings_get(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	hearth_connect_querier_ctx c;
	settings_merge		   m;
	(void) req;
	int rc = settings_begin(&c, ctx, call);
	if (rc != 0 || (rc = settings_call(&c, NULL, &m)) != 0)
		return rc;
	Settings__V1__GetSettingsResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	if (out == NULL)
		return hearth_connect_querier_nomem(call);
	settings__v1__get_settings_response__init(out);
	out->settings = hearth_connect_querier_new(
	    call, (m.n ? m.n : 1) * sizeof(*out->settings));
	if (out->settings == NULL)
		return hearth_connect_querier_nomem(call);
	for (size_t i = 0; i < m.n; i++) {
		if (m.v[i]->deleted)
			continue;
		Settings__V1__Setting *s = settings_out(call, m.v[i]);
		if (s == NULL)
			return hearth_connect_querier_nomem(call);
		out->settings[out->n_settings++] = s;
	}
	*resp = &out->base;
	return 0;
}

int
hearth_connect_querier_settings_set(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Settings__V1__SetSettingsRequest *r = (const void *) req;
	hearth_connect_querier_ctx		c;
	settings_merge				m;
	int rc = settings_begin(&c, ctx, call);
	if (rc != 0)
		return rc;
	if (r->setting == NULL)
		return hearth_connect_fail(call, HEARTH_CONNECT_INVALID_ARGUMENT,
		    "SetSettingsRequest without a setting");
	if ((rc = settings_check_name(call, r->setting->name)) != 0)
		return rc;
	size_t bytes = strlen(r->setting->name) + strlen(r->setting->value);
	if (bytes > HEARTH_SETTINGS_MAX_BYTES)
		return hearth_connect_fail(call, HEARTH_CONNECT_INVALID_ARGUMENT,
		    "setting \"%.64s\" has %zu bytes of name and value; at "
		    "most %d",
		    r->setting->name, bytes, HEARTH_SETTINGS_MAX_BYTES);
	Hearth__Ingester__Setting put = HEARTH__INGESTER__SETTING__INIT;
	put.name		      = r->setting->name;
	put.value		      = r->setting->value;
	/* The client's time when it sends one, else the next one. */
	put.modified_at_ms = r->setting->modifiedat;
	if ((put.modified_at_ms <= 0
		&& (rc = settings_next_time(&c, put.name, &put.modified_at_ms))
		    != 0)
	    || (rc = settings_call(&c, &put, &m)) != 0)
		return rc;
	const Hearth__Ingester__Setting *won = NULL;
	for (size_t i = 0; i < m.n && won == NULL; i++)
		if (strcmp(m.v[i]->name, put.name) == 0)
			won = m.v[i];
	if (won == NULL || won->deleted)
		return hearth_connect_fail(call, HEARTH_CONNECT_ABORTED,
		    "setting \"%.64s\" was deleted after this write's "
		    "modifiedAt (%lld); set it again with a later one",
		    put.name, (long long) put.modified_at_ms);
	Settings__V1__SetSettingsResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	if (out == NULL)
		return hearth_connect_querier_nomem(call);
	settings__v1__set_settings_response__init(out);
	if ((out->setting = settings_out(call, won)) == NULL)
		return hearth_connect_querier_nomem(call);
	*resp = &out->base;
	return 0;
}

int
hearth_connect_querier_settings_delete(void *ctx, hearth_connect_call *call,
    const ProtobufCMessage *req, ProtobufCMessage **resp)
{
	const Settings__V1__DeleteSettingsRequest *r = (const void *) req;
	hearth_connect_querier_ctx		   c;
	settings_merge				   m;
	int rc = settings_begin(&c, ctx, call);
	if (rc != 0 || (rc = settings_check_name(call, r->name)) != 0)
		return rc;
	/* A version like a write, newer than every one stored. */
	Hearth__Ingester__Setting del = HEARTH__INGESTER__SETTING__INIT;
	del.name		      = r->name;
	del.value		      = "";
	del.deleted		      = 1;
	if ((rc = settings_next_time(&c, r->name, &del.modified_at_ms)) != 0
	    || (rc = settings_call(&c, &del, &m)) != 0)
		return rc;
	Settings__V1__DeleteSettingsResponse *out
	    = hearth_connect_querier_new(call, sizeof(*out));
	if (out == NULL)
		return hearth_connect_querier_nomem(call);
	settings__v1__delete_settings_response__init(out);
	*resp = &out->base;
	return 0;
}
