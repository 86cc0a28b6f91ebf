/*
 * store_dedup: the store's replica de-duplication answers (store.h
 * hearth_store_plan, hearth_store_ids, hearth_store_services). Like the
 * queries, each holds view_lock shared across the current head, the
 * flushing heads and the blocks, so a cut or flush running meanwhile
 * neither hides nor doubles a profile; the parts from every source are
 * added up by the dedup.h accumulators.
 */
#include "store_impl.h"

#include <stdlib.h>
#include <string.h>

int
hearth_store_plan(hearth_store *s, const char *tenant,
    const hearth_selector *sel, int64_t start_ms, int64_t end_ms,
    hearth_arena *arena, Hearth__Ingester__PlanResponse *out,
    hearth_err *err)
{
	hearth_dedup_plan acc = { NULL, 0, 0 };
	int		  rc;
	hearth__ingester__plan_response__init(out);
	if ((rc = store_not_ready(s, err)) != 0)
		return rc;
	pthread_rwlock_rdlock(&s->view_lock);
	rc = hearth_head_plan(s->head, tenant, sel, start_ms, end_ms, arena,
	    &acc, err);
	for (size_t i = 0; rc == 0 && i < s->n_flushing; i++)
		rc = hearth_head_plan(s->flushing[i].head, tenant, sel,
		    start_ms, end_ms, arena, &acc, err);
	if (rc == 0)
		rc = hearth_blocks_plan(s->blocks, tenant, sel, start_ms,
		    end_ms, &acc, err);
	pthread_rwlock_unlock(&s->view_lock);
	if (rc == 0)
		rc = hearth_dedup_plan_finish(&acc, arena, out, err);
	hearth_dedup_plan_fini(&acc);
	return rc;
}

int
hearth_store_ids(hearth_store *s, const char *tenant,
    const hearth_selector *sel, const hearth_dedup *wanted,
    hearth_arena *arena, Hearth__Ingester__IdsResponse *out,
    hearth_err *err)
{
	hearth_dedup_ids acc = { NULL, 0, 0 };
	int		 rc;
	hearth__ingester__ids_response__init(out);
	if ((rc = store_not_ready(s, err)) != 0)
		return rc;
	pthread_rwlock_rdlock(&s->view_lock);
	rc = hearth_head_ids(s->head, tenant, sel, wanted, arena, &acc, err);
	for (size_t i = 0; rc == 0 && i < s->n_flushing; i++)
		rc = hearth_head_ids(s->flushing[i].head, tenant, sel, wanted,
		    arena, &acc, err);
	if (rc == 0)
		rc = hearth_blocks_ids(s->blocks, tenant, sel, wanted, &acc,
		    err);
	pthread_rwlock_unlock(&s->view_lock);
	if (rc == 0)
		rc = hearth_dedup_ids_finish(&acc, arena, out, err);
	hearth_dedup_ids_fini(&acc);
	return rc;
}

static int
store_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Every tenant of the heads and the blocks, sorted, unique. view_lock
 * held. */
static int
store_tenants(hearth_store *s, hearth_arena *arena, const char ***out,
    size_t *n_out)
{
	const char **all = NULL, **part;
	size_t	     n = 0, np;
	int	     rc;
	if ((rc = hearth_blocks_tenants(s->blocks, arena, &part, &np)) != 0)
		return rc;
	if ((rc = hearth_head_labels_merge(&all, &n, part, np, arena)) != 0)
		return rc;
	for (size_t i = 0; i <= s->n_flushing; i++) {
		hearth_head *h = i == 0 ? s->head : s->flushing[i - 1].head;
		if ((rc = hearth_head_tenants(h, arena, &part, &np)) != 0)
			return rc;
		if (np > 1)
			qsort(part, np, sizeof(*part), store_cmp_str);
		if ((rc = hearth_head_labels_merge(&all, &n, part, np,
			 arena)) != 0)
			return rc;
	}
	*out   = all;
	*n_out = n;
	return 0;
}

int
hearth_store_services(hearth_store *s, hearth_arena *arena,
    Hearth__Ingester__ServicesResponse *out, hearth_err *err)
{
	const char **tenants;
	size_t	     nt;
	int	     rc;
	hearth__ingester__services_response__init(out);
	if ((rc = store_not_ready(s, err)) != 0)
		return rc;
	pthread_rwlock_rdlock(&s->view_lock);
	if ((rc = store_tenants(s, arena, &tenants, &nt)) != 0 ||
	    (nt > 0 &&
		(out->tenants = hearth_arena_alloc(arena,
		     nt * sizeof(*out->tenants))) == NULL)) {
		pthread_rwlock_unlock(&s->view_lock);
		return hearth_err_set(err, HEARTH_ENOMEM,
		    "services: the answer does not fit the request memory "
		    "cap");
	}
	for (size_t t = 0; rc == 0 && t < nt; t++) {
		const char **vals = NULL, **more;
		size_t	     nv = 0, nm;
		/* All time, every series: the label-values query of each
		 * source (head label index, block header postings). */
		for (size_t i = 0; rc == 0 && i <= s->n_flushing; i++) {
			hearth_head *h = i == 0 ? s->head
						: s->flushing[i - 1].head;
			rc = hearth_head_labels(h, tenants[t], NULL, INT64_MIN,
			    INT64_MAX, "service_name", arena, &more, &nm, err);
			if (rc == 0 && hearth_head_labels_merge(&vals, &nv,
					   more, nm, arena) != 0)
				rc = hearth_err_set(err, HEARTH_ENOMEM,
				    "services: out of memory");
		}
		if (rc == 0)
			rc = hearth_blocks_labels(s->blocks, tenants[t], NULL,
			    INT64_MIN, INT64_MAX, "service_name", arena, &vals,
			    &nv, err);
		if (rc != 0 || nv == 0)
			continue;
		Hearth__Ingester__TenantServices *ts = hearth_arena_alloc(arena,
		    sizeof(*ts));
		if (ts == NULL) {
			rc = hearth_err_set(err, HEARTH_ENOMEM,
			    "services: out of memory");
			break;
		}
		hearth__ingester__tenant_services__init(ts);
		ts->tenant			    = (char *) tenants[t];
		ts->services			    = (char **) vals;
		ts->n_services			    = nv;
		out->tenants[out->n_tenants++] = ts;
	}
	pthread_rwlock_unlock(&s->view_lock);
	return rc;
}
