/*
 * store_settings: clients' per-tenant settings (hearth_store_settings in
 * store.h). A handful of small values per tenant, written rarely: each is
 * one key of the meta column family, read back with a prefix scan that
 * both answers the call and is what a put is compared with. The list and
 * the write run under settings_mu, so two puts of one name cannot both
 * think they are newest.
 */
#include "store_impl.h"

#include "setting.h"

#include <string.h>

#define SETTINGS_PREFIX "st"

/* "st" tenant \0 [name] into arena memory; *len its length. */
static uint8_t *
settings_key(hearth_arena *a, const char *tenant, const char *name,
    size_t *len)
{
	size_t	 tl = strlen(tenant), nl = name != NULL ? strlen(name) : 0;
	uint8_t *k  = hearth_arena_alloc(a, 2 + tl + 1 + nl + 1);
	if (k == NULL)
		return NULL;
	memcpy(k, SETTINGS_PREFIX, 2);
	memcpy(k + 2, tenant, tl);
	k[2 + tl] = '\0';
	if (nl > 0)
		memcpy(k + 3 + tl, name, nl);
	*len = 3 + tl + nl;
	return k;
}

/* Every setting of the tenant, in key (= name) order, into out. */
static int
settings_list(hearth_store *s, const char *tenant, hearth_arena *a,
    Hearth__Ingester__SettingsResponse *out, hearth_err *err)
{
	size_t	 ll, ul;
	uint8_t *lo = settings_key(a, tenant, NULL, &ll);
	uint8_t *hi = settings_key(a, tenant, NULL, &ul);
	if (lo == NULL || hi == NULL)
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "settings: request memory limit reached");
	hi[ul - 1] = '\1'; /* just past every "st" tenant \0 ... key */
	hearth_kv_iter *it = hearth_kv_iter_new(s->kv, HEARTH_KV_META, lo, ll,
	    hi, ul);
	if (it == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "settings: out of memory");
	ProtobufCAllocator pa  = { hearth_arena_pb_alloc, hearth_arena_pb_free,
		 a };
	size_t		   cap = 0;
	int		   rc  = 0;
	out->n_settings	       = 0;
	for (; hearth_kv_iter_valid(it); hearth_kv_iter_next(it)) {
		size_t			     vl;
		const uint8_t		    *v = hearth_kv_iter_value(it, &vl);
		Hearth__Ingester__Setting *st
		    = hearth__ingester__setting__unpack(&pa, vl, v);
		if (st == NULL) {
			rc = hearth_err_set(err, HEARTH_ECORRUPT,
			    "settings: a stored setting of tenant \"%s\" "
			    "does not decode",
			    tenant);
			break;
		}
		if (out->n_settings == cap
		    && hearth_arena_grow(a, (void **) &out->settings, &cap,
			   out->n_settings + 1, sizeof(*out->settings))
			!= 0) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "settings: request memory limit reached");
			break;
		}
		out->settings[out->n_settings++] = st;
	}
	if (rc == 0)
		rc = hearth_kv_iter_error(it, err);
	hearth_kv_iter_free(it);
	return rc;
}

/* Store put unless the listed one of its name (out, in name order) is
 * newer, and make out show what is stored now. */
static int
settings_put(hearth_store *s, const char *tenant,
    const Hearth__Ingester__Setting *put, hearth_arena *a,
    Hearth__Ingester__SettingsResponse *out, hearth_err *err)
{
	size_t lo = 0, hi = out->n_settings;
	while (lo < hi) { /* first listed name >= put's */
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(out->settings[mid]->name, put->name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	int found = lo < out->n_settings
	    && strcmp(out->settings[lo]->name, put->name) == 0;
	if (found && !hearth_setting_newer(put, out->settings[lo]))
		return 0; /* the stored one stays */
	if (!found && out->n_settings >= HEARTH_SETTINGS_MAX)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "settings: tenant \"%s\" has %d settings, the most one "
		    "tenant may keep",
		    tenant, HEARTH_SETTINGS_MAX);
	size_t	 kl, vl = hearth__ingester__setting__get_packed_size(put);
	uint8_t *k   = settings_key(a, tenant, put->name, &kl);
	uint8_t *v   = hearth_arena_alloc(a, vl ? vl : 1);
	size_t	 cap = out->n_settings;
	Hearth__Ingester__Setting *copy = hearth_arena_alloc(a, sizeof(*copy));
	if (k == NULL || v == NULL || copy == NULL
	    || (!found
		&& hearth_arena_grow(a, (void **) &out->settings, &cap,
		       out->n_settings + 1, sizeof(*out->settings))
		    != 0))
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "settings: request memory limit reached");
	hearth__ingester__setting__pack(put, v);
	hearth_kv_batch *b = hearth_kv_batch_new();
	if (b == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "settings: out of memory");
	hearth_kv_batch_put(b, HEARTH_KV_META, k, kl, v, vl);
	int rc = hearth_kv_write(s->kv, b, 1, err);
	hearth_kv_batch_free(b);
	if (rc != 0)
		return rc;
	*copy = *put; /* its strings are put's */
	if (!found) {
		memmove(out->settings + lo + 1, out->settings + lo,
		    (out->n_settings - lo) * sizeof(*out->settings));
		out->n_settings++;
	}
	out->settings[lo] = copy;
	return 0;
}

int
hearth_store_settings(hearth_store *s, const char *tenant,
    const Hearth__Ingester__Setting *put, hearth_arena *arena,
    Hearth__Ingester__SettingsResponse *out, hearth_err *err)
{
	int rc = store_not_ready(s, err);
	if (rc != 0)
		return rc;
	if (put != NULL) {
		if (put->name[0] == '\0')
			return hearth_err_set(err, HEARTH_EINVAL,
			    "settings: a setting needs a name");
		if (strlen(put->name) + strlen(put->value)
		    > HEARTH_SETTINGS_MAX_BYTES)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "settings: setting \"%.64s\" has more than %d "
			    "bytes of name and value",
			    put->name, HEARTH_SETTINGS_MAX_BYTES);
	}
	/* The list is the answer, and also what a put is compared with. */
	pthread_mutex_lock(&s->settings_mu);
	rc = settings_list(s, tenant, arena, out, err);
	if (rc == 0 && put != NULL)
		rc = settings_put(s, tenant, put, arena, out, err);
	pthread_mutex_unlock(&s->settings_mu);
	if (rc != 0)
		return hearth_err_prefix(err, "ingester");
	return 0;
}
