#include "overrides.h"

#include "arena.h"
#include "config.h"
#include "filewatch.h"
#include "tenant.h"
#include "config_tree.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A missing value or a YAML null. */
static int
overrides_null(const hearth_config_node *n)
{
	return n == NULL || n->kind == HEARTH_CONFIG_NULL;
}

typedef struct overrides_entry {
	char         *tenant;
	hearth_limits limits;
} overrides_entry;

/* One version of the file: entries sorted by tenant. */
typedef struct overrides_snap {
	overrides_entry *v;
	size_t           n;
} overrides_snap;

struct hearth_overrides {
	hearth_limits     defaults;
	hearth_filewatch *watch; /* NULL without a file */
	char              source[4200];
	pthread_rwlock_t  lock; /* guards snap (the pointer and its target) */
	overrides_snap   *snap;
	hearth_metric    *m_tenants;
};

static void
overrides_snap_free(overrides_snap *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].tenant);
	free(s->v);
	free(s);
}

static int
overrides_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const overrides_entry *) a)->tenant,
	    ((const overrides_entry *) b)->tenant);
}

/* One tenant's mapping of limit keys to values onto *l. */
static int
overrides_tenant(const hearth_config_node *k, const hearth_config_node *v,
    const char *source, hearth_limits *l, hearth_err *err)
{
	if (overrides_null(v))
		return 0;
	if (v->kind != HEARTH_CONFIG_MAP)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: tenant \"%s\": expected a mapping of "
		    "limits (e.g. ingestion_rate_mb: 8), got %s",
		    source, v->line, k->str,
		    hearth_config_tree_kind_name((v)->kind));
	for (size_t i = 0; i < v->n; i++) {
		const hearth_config_node *lk = &v->keys[i], *lv = &v->items[i];
		if (overrides_null(lv))
			continue;
		if (lv->kind != HEARTH_CONFIG_SCALAR)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s: line %lu: tenant \"%s\": %.64s: expected a "
			    "value, got %s",
			    source, lv->line, k->str, lk->str,
			    hearth_config_tree_kind_name((lv)->kind));
		if (strlen(lk->str) != lk->len || strlen(lv->str) != lv->len)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s: line %lu: tenant \"%s\": NUL byte in a key "
			    "or value",
			    source, lk->line, k->str);
		int rc = hearth_config_set_limit(l, lk->str, lv->str, err);
		if (rc == HEARTH_ENOTFOUND)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s: line %lu: tenant \"%s\": unknown limit "
			    "\"%.64s\" (the keys are those of the limits: "
			    "section, e.g. ingestion_rate_mb)",
			    source, lk->line, k->str, lk->str);
		if (rc != 0)
			return hearth_err_prefix(err,
			    "%s: line %lu: tenant \"%s\"", source, lv->line,
			    k->str);
	}
	return 0;
}

/* Build a snapshot from a parsed document. */
static int
overrides_build(const hearth_limits *defaults, const hearth_config_node *root,
    const char *source, overrides_snap **out, hearth_err *err)
{
	overrides_snap *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "%s: out of memory", source);
	*out = s;
	if (overrides_null(root))
		return 0;
	if (root->kind != HEARTH_CONFIG_MAP)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: expected a mapping with the key "
		    "overrides:, "
		    "got %s",
		    source, root->line,
		    hearth_config_tree_kind_name((root)->kind));
	for (size_t i = 0; i < root->n; i++)
		if (strcmp(root->keys[i].str, "overrides") != 0)
			return hearth_err_set(err, HEARTH_EINVAL,
			    "%s: line %lu: unknown key \"%.64s\" (the file "
			    "holds one key, overrides:)",
			    source, root->keys[i].line, root->keys[i].str);
	const hearth_config_node *ov
	    = hearth_config_tree_get(root, "overrides");
	if (overrides_null(ov))
		return 0;
	if (ov->kind != HEARTH_CONFIG_MAP)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "%s: line %lu: overrides: expected a mapping of tenant "
		    "IDs, got %s",
		    source, ov->line,
		    hearth_config_tree_kind_name((ov)->kind));
	s->v = calloc(ov->n ? ov->n : 1, sizeof(*s->v));
	if (s->v == NULL)
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "%s: out of memory", source);
	for (size_t i = 0; i < ov->n; i++) {
		const hearth_config_node *k = &ov->keys[i];
		int rc = hearth_tenant_validate(k->str, k->len, err);
		if (rc != 0)
			return hearth_err_prefix(
			    err, "%s: line %lu", source, k->line);
		overrides_entry *e = &s->v[s->n];
		e->limits          = *defaults;
		if ((e->tenant = strdup(k->str)) == NULL)
			return hearth_err_set(
			    err, HEARTH_ENOMEM, "%s: out of memory", source);
		s->n++;
		if ((rc = overrides_tenant(
		         k, &ov->items[i], source, &e->limits, err))
		    != 0)
			return rc;
	}
	/* Keys are unique (config_tree invariant (1)), so sorted is enough. */
	qsort(s->v, s->n, sizeof(*s->v), overrides_entry_cmp);
	return 0;
}

int
hearth_overrides_load(hearth_overrides *o, const char *yaml, size_t len,
    const char *source, hearth_err *err)
{
	const hearth_config_node *root = NULL;
	overrides_snap           *s    = NULL;
	/* The tree costs a few times the file; the cap stops a hostile
	 * file before it costs more than that. */
	hearth_arena *a  = hearth_arena_new(len * 16 + ((size_t) 1 << 20));
	int           rc = 0;
	if (a == NULL)
		rc = hearth_err_set(err, HEARTH_ENOMEM, "out of memory");
	else
		rc = hearth_config_tree_parse(
		    a, yaml, len, source, 0, &root, err);
	if (rc == 0)
		rc = overrides_build(&o->defaults, root, source, &s, err);
	hearth_arena_free(a);
	if (rc != 0) {
		overrides_snap_free(s);
		return rc;
	}
	pthread_rwlock_wrlock(&o->lock);
	overrides_snap *old = o->snap;
	o->snap             = s;
	pthread_rwlock_unlock(&o->lock);
	overrides_snap_free(old);
	hearth_metric_set(o->m_tenants, NULL, (double) s->n);
	return 0;
}

static int
overrides_apply(void *ctx, const char *data, size_t len, hearth_err *err)
{
	hearth_overrides *o = ctx;
	return hearth_overrides_load(o, data, len, o->source, err);
}

int
hearth_overrides_new(const hearth_limits *defaults, const char *path,
    int64_t period_ms, const hearth_log *log, hearth_metrics *m,
    hearth_overrides **out, hearth_err *err)
{
	*out                = NULL;
	hearth_overrides *o = calloc(1, sizeof(*o));
	if (o == NULL || (o->snap = calloc(1, sizeof(*o->snap))) == NULL) {
		free(o);
		return hearth_err_set(
		    err, HEARTH_ENOMEM, "overrides: out of memory");
	}
	o->defaults = *defaults;
	pthread_rwlock_init(&o->lock, NULL);
	snprintf(o->source, sizeof(o->source), "overrides file %.4096s",
	    path != NULL ? path : "");
	if (m != NULL)
		o->m_tenants = hearth_metrics_gauge(m,
		    "hearth_overrides_tenants",
		    "Tenants with limits of their own in the overrides file.",
		    0, NULL);
	if (path != NULL && path[0] != '\0') {
		int rc = hearth_filewatch_new(path, "overrides", period_ms,
		    HEARTH_OVERRIDES_MAX_BYTES, overrides_apply, o, log, m,
		    &o->watch, err);
		if (rc != 0) {
			hearth_overrides_free(o);
			return rc;
		}
	}
	*out = o;
	return 0;
}

int
hearth_overrides_start(hearth_overrides *o, hearth_err *err)
{
	return o->watch != NULL ? hearth_filewatch_start(o->watch, err) : 0;
}

void
hearth_overrides_stop(hearth_overrides *o)
{
	if (o != NULL)
		hearth_filewatch_stop(o->watch);
}

void
hearth_overrides_free(hearth_overrides *o)
{
	if (o == NULL)
		return;
	hearth_filewatch_free(o->watch);
	overrides_snap_free(o->snap);
	pthread_rwlock_destroy(&o->lock);
	free(o);
}

void
hearth_overrides_get(
    hearth_overrides *o, const char *tenant, hearth_limits *out)
{
	overrides_entry key = { (char *) tenant, { 0 } };
	pthread_rwlock_rdlock(&o->lock);
	const overrides_entry *e = o->snap->n == 0
	    ? NULL
	    : bsearch(&key, o->snap->v, o->snap->n, sizeof(key),
	        overrides_entry_cmp);
	*out                     = e != NULL ? e->limits : o->defaults;
	pthread_rwlock_unlock(&o->lock);
}

size_t
hearth_overrides_count(hearth_overrides *o)
{
	pthread_rwlock_rdlock(&o->lock);
	size_t n = o->snap->n;
	pthread_rwlock_unlock(&o->lock);
	return n;
}
