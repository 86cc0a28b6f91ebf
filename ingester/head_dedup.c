/* Replica de-duplication over the head (head.h hearth_head_plan,
 * hearth_head_ids, hearth_head_tenants; dedup.h). The head has every
 * profile's time and id in memory, so both answers are one pass over the
 * selected series' profiles in the widened range. */
#include "head_impl.h"

#include <string.h>

static int
head_dedup_check(int64_t start_ms, int64_t end_ms, hearth_err *err)
{
	if (start_ms > end_ms)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "plan: start %lld is after end %lld", (long long) start_ms,
		    (long long) end_ms);
	return 0;
}

int
hearth_head_plan(hearth_head *h, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    hearth_arena *scratch, hearth_dedup_plan *acc, hearth_err *err)
{
	uint32_t *ids;
	size_t	  n;
	int64_t	  lo_ms, hi_ms;
	int	  rc;
	if ((rc = head_dedup_check(start_ms, end_ms, err)) != 0)
		return rc;
	head_tenant *t = head_tenant_find(h, tenant);
	if (t == NULL)
		return 0;
	/* Whole windows: count every profile of a window the range touches. */
	hearth_dedup_span(start_ms, end_ms, &lo_ms, &hi_ms);
	pthread_rwlock_rdlock(&t->lock);
	rc = head_index_select(t, sel, scratch, &ids, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const head_series *s = &t->series[ids[i]];
		uint32_t	   lo, hi;
		head_profile_range(s, lo_ms, hi_ms, &lo, &hi);
		for (uint32_t p = lo; rc == 0 && p < hi; p++) {
			const head_profile *pr = &s->profiles[p];
			int64_t		    ms = head_ms(pr->time_ns);
			if (ms < lo_ms || ms > hi_ms)
				continue;
			/* A sorted series gives runs of one window, which
			 * plan_add folds into one entry. */
			rc = hearth_dedup_plan_add(acc, s->fp,
			    hearth_dedup_window_of(ms), 1,
			    hearth_dedup_id_hash(pr->id),
			    ms >= start_ms && ms <= end_ms);
		}
	}
	pthread_rwlock_unlock(&t->lock);
	if (rc == HEARTH_ENOMEM)
		return hearth_err_set(err, rc,
		    "plan: the query needs more memory than its limit allows");
	return rc;
}

int
hearth_head_ids(hearth_head *h, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *wanted,
    hearth_arena *scratch, hearth_dedup_ids *acc, hearth_err *err)
{
	uint32_t *ids;
	size_t	  n;
	int64_t	  wmin, wmax;
	int	  rc = 0;
	head_tenant *t = head_tenant_find(h, tenant);
	if (t == NULL || !hearth_dedup_bounds(wanted, &wmin, &wmax))
		return 0;
	int64_t hi_ms = wmax > INT64_MAX - HEARTH_DEDUP_WINDOW_MS
	    ? INT64_MAX
	    : wmax + (HEARTH_DEDUP_WINDOW_MS - 1);
	pthread_rwlock_rdlock(&t->lock);
	rc = head_index_select(t, sel, scratch, &ids, &n, err);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const head_series	  *s  = &t->series[ids[i]];
		const hearth_dedup_series *ds = hearth_dedup_find(wanted, s->fp);
		uint32_t		   lo, hi;
		if (ds == NULL)
			continue;
		head_profile_range(s, wmin, hi_ms, &lo, &hi);
		for (uint32_t p = lo; rc == 0 && p < hi; p++) {
			const head_profile *pr = &s->profiles[p];
			int64_t	 w = hearth_dedup_window_of(head_ms(pr->time_ns));
			if (hearth_dedup_window(ds, w) == HEARTH_DEDUP_WHOLE)
				rc = hearth_dedup_ids_add(acc, s->fp, w, pr->id);
		}
	}
	pthread_rwlock_unlock(&t->lock);
	if (rc == HEARTH_ENOMEM)
		return hearth_err_set(err, rc,
		    "ids: the query needs more memory than its limit allows");
	return rc;
}

int
hearth_head_tenants(hearth_head *h, hearth_arena *arena, const char ***out,
    size_t *n_out)
{
	int rc = 0;
	*out   = NULL;
	*n_out = 0;
	pthread_mutex_lock(&h->mu);
	const char **v = hearth_arena_alloc(arena,
	    ((size_t) h->n_tenants + 1) * sizeof(*v));
	if (v == NULL)
		rc = HEARTH_ENOMEM;
	for (uint32_t i = 0; rc == 0 && i < h->n_tenants; i++) {
		head_tenant *t = h->tenants[i];
		pthread_rwlock_rdlock(&t->lock);
		int has = t->n_series > 0;
		pthread_rwlock_unlock(&t->lock);
		if (has && (v[(*n_out)++] = hearth_arena_strdup(arena,
				t->name)) == NULL)
			rc = HEARTH_ENOMEM;
	}
	pthread_mutex_unlock(&h->mu);
	if (rc == 0)
		*out = v;
	else
		*n_out = 0;
	return rc;
}
