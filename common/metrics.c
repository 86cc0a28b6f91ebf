#include "metrics.h"

#include "err.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

static const char *const metrics_type_names[]
    = { "counter", "gauge", "histogram" };

static const double metrics_default_buckets[]
    = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10 };

#define METRICS_DROPPED_NAME "hearth_metrics_dropped_series_total"

/* One label set of a family. Allocated as one block: the struct, then the
 * bucket counts (histograms), then the value pointers, then the bytes of
 * the values. */
typedef struct metrics_series {
	uint64_t hash;
	size_t   n_values; /* the family's n_labels, for sorting */
	double   value;    /* counter, gauge */
	double   sum;      /* histogram */
	uint64_t count;    /* histogram */
	uint64_t
	      *buckets; /* histogram: per bucket, NOT cumulative; +Inf last */
	char **values;  /* n_labels strings */
} metrics_series;

struct hearth_metric {
	char           *name;
	char           *help;
	int             type;
	size_t          n_labels;
	char          **label_names;
	double         *bounds; /* histogram upper bounds, without +Inf */
	size_t          n_bounds;
	hearth_metrics *owner;

	pthread_mutex_t  mu; /* guards everything below */
	metrics_series **series;
	size_t           n_series;
	size_t           cap_series;
	/* Open addressing on hash, linear probing, NULL = empty slot; size
	 * is a power of two kept at most half full. */
	metrics_series **index;
	size_t           index_cap;
};

typedef struct metrics_collector {
	hearth_metrics_collect_fn fn;
	void                     *ctx;
} metrics_collector;

struct hearth_metrics {
	/* Lock order: write_mu, then mu, then a family's mu. */
	pthread_mutex_t write_mu; /* one write (and its callbacks) at a time */
	pthread_mutex_t mu;       /* families and collectors arrays */
	hearth_metric **fams;
	size_t          n_fams;
	size_t          cap_fams;
	metrics_collector *collectors;
	size_t             n_collectors;
	size_t             cap_collectors;
	hearth_metric     *dropped;
};

static int
metrics_valid_name(const char *s, int is_label)
{
	if (s == NULL || s[0] == '\0')
		return 0;
	if (is_label && s[0] == '_' && s[1] == '_')
		return 0;
	for (const char *p = s; *p != '\0'; p++) {
		char c  = *p;
		int  ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		    || c == '_' || (!is_label && c == ':')
		    || (p != s && c >= '0' && c <= '9');
		if (!ok)
			return 0;
	}
	return 1;
}

/* FNV-1a over the values with a 0xff separator, a byte that cannot occur
 * in UTF-8, so ("a","bc") and ("ab","c") hash apart. */
static uint64_t
metrics_hash(size_t n, const char *const *values)
{
	uint64_t h = 14695981039346656037ULL;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *) values[i];
		for (; p != NULL && *p != '\0'; p++) {
			h ^= *p;
			h *= 1099511628211ULL;
		}
		h ^= 0xff;
		h *= 1099511628211ULL;
	}
	return h;
}

static const char *
metrics_value_or_empty(const char *const *values, size_t i)
{
	return values[i] != NULL ? values[i] : "";
}

static int
metrics_series_matches(const hearth_metric *f, const metrics_series *s,
    uint64_t hash, const char *const *values)
{
	if (s->hash != hash)
		return 0;
	for (size_t i = 0; i < f->n_labels; i++)
		if (strcmp(s->values[i], metrics_value_or_empty(values, i))
		    != 0)
			return 0;
	return 1;
}

static metrics_series *
metrics_series_new(
    const hearth_metric *f, uint64_t hash, const char *const *values)
{
	size_t n_counts = f->type == METRICS_HISTOGRAM ? f->n_bounds + 1 : 0;
	size_t bytes    = sizeof(metrics_series) + n_counts * sizeof(uint64_t)
	    + f->n_labels * sizeof(char *);
	for (size_t i = 0; i < f->n_labels; i++)
		bytes += strlen(metrics_value_or_empty(values, i)) + 1;
	metrics_series *s = calloc(1, bytes);
	if (s == NULL)
		return NULL;
	char *p     = (char *) (s + 1);
	s->hash     = hash;
	s->n_values = f->n_labels;
	s->buckets  = (uint64_t *) p;
	p += n_counts * sizeof(uint64_t);
	s->values = (char **) p;
	p += f->n_labels * sizeof(char *);
	for (size_t i = 0; i < f->n_labels; i++) {
		const char *v = metrics_value_or_empty(values, i);
		size_t      l = strlen(v) + 1;
		memcpy(p, v, l);
		s->values[i] = p;
		p += l;
	}
	return s;
}

static void
metrics_index_fill(hearth_metric *f)
{
	memset(f->index, 0, f->index_cap * sizeof(*f->index));
	for (size_t i = 0; i < f->n_series; i++) {
		size_t j = (size_t) f->series[i]->hash & (f->index_cap - 1);
		while (f->index[j] != NULL)
			j = (j + 1) & (f->index_cap - 1);
		f->index[j] = f->series[i];
	}
}

static int
metrics_index_grow(hearth_metric *f)
{
	size_t           cap = f->index_cap ? f->index_cap * 2 : 16;
	metrics_series **idx = calloc(cap, sizeof(*idx));
	if (idx == NULL)
		return HEARTH_ENOMEM;
	free(f->index);
	f->index     = idx;
	f->index_cap = cap;
	metrics_index_fill(f);
	return 0;
}

/* Find or create the series; called with f->mu held. *capped is set when
 * the series is new and the family is full (invariant (2)). */
static metrics_series *
metrics_lookup(hearth_metric *f, const char *const *values, int *capped)
{
	*capped       = 0;
	uint64_t hash = metrics_hash(f->n_labels, values);
	if (f->index_cap > 0) {
		size_t j = (size_t) hash & (f->index_cap - 1);
		for (; f->index[j] != NULL; j = (j + 1) & (f->index_cap - 1))
			if (metrics_series_matches(
			        f, f->index[j], hash, values))
				return f->index[j];
	}
	if (f->n_series >= HEARTH_METRICS_MAX_SERIES) {
		*capped = 1;
		return NULL;
	}
	if ((f->n_series + 1) * 2 > f->index_cap && metrics_index_grow(f) != 0)
		return NULL;
	if (f->n_series == f->cap_series) {
		size_t           cap = f->cap_series ? f->cap_series * 2 : 4;
		metrics_series **ns  = realloc(f->series, cap * sizeof(*ns));
		if (ns == NULL)
			return NULL;
		f->series     = ns;
		f->cap_series = cap;
	}
	metrics_series *s = metrics_series_new(f, hash, values);
	if (s == NULL)
		return NULL;
	f->series[f->n_series++] = s;
	size_t j                 = (size_t) hash & (f->index_cap - 1);
	while (f->index[j] != NULL)
		j = (j + 1) & (f->index_cap - 1);
	f->index[j] = s;
	return s;
}

static void
metrics_family_free(hearth_metric *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->n_series; i++)
		free(f->series[i]);
	free(f->series);
	free(f->index);
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->label_names[i]);
	free(f->label_names);
	free(f->bounds);
	free(f->name);
	free(f->help);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static hearth_metric *
metrics_family_new(hearth_metrics *m, int type, const char *name,
    const char *help, size_t n_labels, const char *const *label_names,
    const double *bounds, size_t n_bounds)
{
	hearth_metric *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	pthread_mutex_init(&f->mu, NULL);
	f->owner       = m;
	f->type        = type;
	f->name        = strdup(name);
	f->help        = strdup(help != NULL ? help : "");
	f->label_names = calloc(n_labels + 1, sizeof(char *));
	f->bounds      = calloc(n_bounds + 1, sizeof(double));
	if (f->name == NULL || f->help == NULL || f->label_names == NULL
	    || f->bounds == NULL)
		goto fail;
	for (size_t i = 0; i < n_labels; i++) {
		f->label_names[i] = strdup(label_names[i]);
		if (f->label_names[i] == NULL)
			goto fail;
		f->n_labels++;
	}
	if (n_bounds > 0)
		memcpy(f->bounds, bounds, n_bounds * sizeof(double));
	f->n_bounds = n_bounds;
	if (n_labels == 0) { /* invariant (4) */
		int capped;
		if (metrics_lookup(f, NULL, &capped) == NULL)
			goto fail;
	}
	return f;
fail:
	metrics_family_free(f);
	return NULL;
}

/* Same shape as an existing family: invariant (1). */
static int
metrics_same_shape(const hearth_metric *f, int type, size_t n_labels,
    const char *const *label_names, const double *bounds, size_t n_bounds)
{
	if (f->type != type || f->n_labels != n_labels)
		return 0;
	for (size_t i = 0; i < n_labels; i++)
		if (strcmp(f->label_names[i], label_names[i]) != 0)
			return 0;
	if (type == METRICS_HISTOGRAM
	    && (f->n_bounds != n_bounds
	        || memcmp(f->bounds, bounds, n_bounds * sizeof(double)) != 0))
		return 0;
	return 1;
}

static hearth_metric *
metrics_register(hearth_metrics *m, int type, const char *name,
    const char *help, size_t n_labels, const char *const *label_names,
    const double *bounds, size_t n_bounds)
{
	HEARTH_ASSERT(m != NULL);
	HEARTH_ASSERT(metrics_valid_name(name, 0));
	HEARTH_ASSERT(n_labels == 0 || label_names != NULL);
	for (size_t i = 0; i < n_labels; i++) {
		HEARTH_ASSERT(metrics_valid_name(label_names[i], 1));
		HEARTH_ASSERT(
		    type != METRICS_HISTOGRAM || strcmp(label_names[i], "le"));
	}
	hearth_metric *f = NULL;
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n_fams; i++) {
		if (strcmp(m->fams[i]->name, name) == 0) {
			f = m->fams[i];
			HEARTH_ASSERT(metrics_same_shape(
			    f, type, n_labels, label_names, bounds, n_bounds));
			goto out;
		}
	}
	if (m->n_fams == m->cap_fams) {
		size_t          cap = m->cap_fams ? m->cap_fams * 2 : 16;
		hearth_metric **nf  = realloc(m->fams, cap * sizeof(*nf));
		if (nf == NULL)
			goto out;
		m->fams     = nf;
		m->cap_fams = cap;
	}
	f = metrics_family_new(
	    m, type, name, help, n_labels, label_names, bounds, n_bounds);
	if (f != NULL)
		m->fams[m->n_fams++] = f;
out:
	pthread_mutex_unlock(&m->mu);
	return f;
}

hearth_metric *
hearth_metrics_counter(hearth_metrics *m, const char *name, const char *help,
    size_t n_labels, const char *const *label_names)
{
	return metrics_register(
	    m, METRICS_COUNTER, name, help, n_labels, label_names, NULL, 0);
}

hearth_metric *
hearth_metrics_gauge(hearth_metrics *m, const char *name, const char *help,
    size_t n_labels, const char *const *label_names)
{
	return metrics_register(
	    m, METRICS_GAUGE, name, help, n_labels, label_names, NULL, 0);
}

hearth_metric *
hearth_metrics_histogram(hearth_metrics *m, const char *name, const char *help,
    size_t n_labels, const char *const *label_names, const double *buckets,
    size_t n_buckets)
{
	if (n_buckets == 0) {
		buckets   = metrics_default_buckets;
		n_buckets = sizeof(metrics_default_buckets) / sizeof(double);
	}
	if (isinf(buckets[n_buckets - 1]) && buckets[n_buckets - 1] > 0)
		n_buckets--;
	for (size_t i = 0; i < n_buckets; i++) /* invariant (3) */
		HEARTH_ASSERT(!isnan(buckets[i])
		    && (i == 0 || buckets[i] > buckets[i - 1]));
	return metrics_register(m, METRICS_HISTOGRAM, name, help, n_labels,
	    label_names, buckets, n_buckets);
}

hearth_metrics *
hearth_metrics_new(void)
{
	hearth_metrics *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	pthread_mutex_init(&m->write_mu, NULL);
	pthread_mutex_init(&m->mu, NULL);
	static const char *const labels[] = { "metric" };
	m->dropped = hearth_metrics_counter(m, METRICS_DROPPED_NAME,
	    "Samples dropped because their metric family reached its "
	    "limit of distinct label sets.",
	    1, labels);
	if (m->dropped == NULL) {
		hearth_metrics_free(m);
		return NULL;
	}
	return m;
}

void
hearth_metrics_free(hearth_metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n_fams; i++)
		metrics_family_free(m->fams[i]);
	free(m->fams);
	free(m->collectors);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->write_mu);
	free(m);
}

/* Count a sample that invariant (2) rejected. The family's lock is no
 * longer held here, so the dropped family's own lock nests nowhere. */
static void
metrics_count_dropped(hearth_metric *f)
{
	hearth_metric *d = f->owner->dropped;
	if (d == NULL || d == f)
		return;
	const char *v[1] = { f->name };
	hearth_metric_add(d, v, 1);
}

static void
metrics_update(
    hearth_metric *f, const char *const *label_values, double v, int op)
{
	if (f == NULL)
		return;
	HEARTH_ASSERT(f->n_labels == 0 || label_values != NULL);
	int capped;
	pthread_mutex_lock(&f->mu);
	metrics_series *s = metrics_lookup(f, label_values, &capped);
	if (s != NULL) {
		if (op == 0)
			s->value += v;
		else
			s->value = v;
	}
	pthread_mutex_unlock(&f->mu);
	if (capped)
		metrics_count_dropped(f);
}

void
hearth_metric_add(hearth_metric *f, const char *const *label_values, double v)
{
	if (f == NULL)
		return;
	HEARTH_ASSERT(f->type != METRICS_HISTOGRAM);
	if (f->type == METRICS_COUNTER && !(v >= 0))
		return;
	metrics_update(f, label_values, v, 0);
}

void
hearth_metric_set(hearth_metric *f, const char *const *label_values, double v)
{
	if (f == NULL)
		return;
	HEARTH_ASSERT(f->type != METRICS_HISTOGRAM);
	metrics_update(f, label_values, v, 1);
}

void
hearth_metric_observe(
    hearth_metric *f, const char *const *label_values, double v)
{
	if (f == NULL || isnan(v))
		return;
	HEARTH_ASSERT(f->type == METRICS_HISTOGRAM);
	HEARTH_ASSERT(f->n_labels == 0 || label_values != NULL);
	size_t b = 0;
	while (b < f->n_bounds && v > f->bounds[b])
		b++;
	int capped;
	pthread_mutex_lock(&f->mu);
	metrics_series *s = metrics_lookup(f, label_values, &capped);
	if (s != NULL) {
		s->buckets[b]++;
		s->sum += v;
		s->count++;
	}
	pthread_mutex_unlock(&f->mu);
	if (capped)
		metrics_count_dropped(f);
}

void
hearth_metric_del(hearth_metric *f, const char *const *label_values)
{
	if (f == NULL || f->n_labels == 0)
		return;
	pthread_mutex_lock(&f->mu);
	uint64_t hash = metrics_hash(f->n_labels, label_values);
	for (size_t i = 0; i < f->n_series; i++) {
		metrics_series *s = f->series[i];
		if (!metrics_series_matches(f, s, hash, label_values))
			continue;
		free(s);
		f->series[i] = f->series[--f->n_series];
		/* Linear probing cannot delete in place; refill the index
		 * (deletions are rare: tenants and members going away). */
		metrics_index_fill(f);
		break;
	}
	pthread_mutex_unlock(&f->mu);
}

void
hearth_metric_reset(hearth_metric *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->mu);
	if (f->n_labels == 0) {
		metrics_series *s = f->series[0];
		s->value = s->sum = 0;
		s->count          = 0;
		if (f->type == METRICS_HISTOGRAM)
			memset(s->buckets, 0,
			    (f->n_bounds + 1) * sizeof(uint64_t));
	} else {
		for (size_t i = 0; i < f->n_series; i++)
			free(f->series[i]);
		f->n_series = 0;
		if (f->index != NULL)
			memset(f->index, 0, f->index_cap * sizeof(*f->index));
	}
	pthread_mutex_unlock(&f->mu);
}

int
hearth_metrics_on_collect(
    hearth_metrics *m, hearth_metrics_collect_fn fn, void *ctx)
{
	HEARTH_ASSERT(m != NULL && fn != NULL);
	int rc = 0;
	pthread_mutex_lock(&m->mu);
	if (m->n_collectors == m->cap_collectors) {
		size_t cap = m->cap_collectors ? m->cap_collectors * 2 : 4;
		metrics_collector *nc
		    = realloc(m->collectors, cap * sizeof(*nc));
		if (nc == NULL) {
			rc = HEARTH_ENOMEM;
			goto out;
		}
		m->collectors     = nc;
		m->cap_collectors = cap;
	}
	m->collectors[m->n_collectors].fn  = fn;
	m->collectors[m->n_collectors].ctx = ctx;
	m->n_collectors++;
out:
	pthread_mutex_unlock(&m->mu);
	return rc;
}

void
hearth_metrics_remove_collect(
    hearth_metrics *m, hearth_metrics_collect_fn fn, void *ctx)
{
	/* Taking write_mu waits for a write that may be running fn. */
	pthread_mutex_lock(&m->write_mu);
	pthread_mutex_lock(&m->mu);
	for (size_t i = 0; i < m->n_collectors; i++) {
		if (m->collectors[i].fn == fn && m->collectors[i].ctx == ctx) {
			memmove(&m->collectors[i], &m->collectors[i + 1],
			    (m->n_collectors - i - 1)
			        * sizeof(metrics_collector));
			m->n_collectors--;
			break;
		}
	}
	pthread_mutex_unlock(&m->mu);
	pthread_mutex_unlock(&m->write_mu);
}

/* Prometheus number syntax; see the header for the choice of forms. */
static void
metrics_put_double(hearth_buf *out, double v)
{
	if (isnan(v)) {
		hearth_buf_puts(out, "NaN");
		return;
	}
	if (isinf(v)) {
		hearth_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		hearth_buf_put_i64(out, (int64_t) v);
		return;
	}
	char tmp[40];
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	hearth_buf_puts(out, tmp);
}

/* Escape for HELP (is_label 0: backslash, newline) or a label value
 * (is_label 1: also the double quote), per exposition format 0.0.4. */
static void
metrics_put_escaped(hearth_buf *out, const char *s, int is_label)
{
	const char *run = s;
	for (; *s != '\0'; s++) {
		const char *rep = NULL;
		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (*s == '"' && is_label)
			rep = "\\\"";
		if (rep == NULL)
			continue;
		hearth_buf_append(out, run, (size_t) (s - run));
		hearth_buf_puts(out, rep);
		run = s + 1;
	}
	hearth_buf_append(out, run, (size_t) (s - run));
}

/* `{a="x",b="y"}` or nothing; le (histogram bucket bound) goes last. */
static void
metrics_put_labels(hearth_buf *out, const hearth_metric *f,
    const metrics_series *s, const double *le)
{
	if (f->n_labels == 0 && le == NULL)
		return;
	hearth_buf_putc(out, '{');
	for (size_t i = 0; i < f->n_labels; i++) {
		if (i > 0)
			hearth_buf_putc(out, ',');
		hearth_buf_puts(out, f->label_names[i]);
		hearth_buf_puts(out, "=\"");
		metrics_put_escaped(out, s->values[i], 1);
		hearth_buf_putc(out, '"');
	}
	if (le != NULL) {
		if (f->n_labels > 0)
			hearth_buf_putc(out, ',');
		hearth_buf_puts(out, "le=\"");
		metrics_put_double(out, *le);
		hearth_buf_putc(out, '"');
	}
	hearth_buf_putc(out, '}');
}

static int
metrics_cmp_series(const void *a, const void *b)
{
	const metrics_series *x = *(const metrics_series *const *) a;
	const metrics_series *y = *(const metrics_series *const *) b;
	for (size_t i = 0; i < x->n_values; i++) {
		int c = strcmp(x->values[i], y->values[i]);
		if (c != 0)
			return c;
	}
	return 0;
}

static int
metrics_cmp_family(const void *a, const void *b)
{
	const hearth_metric *x = *(const hearth_metric *const *) a;
	const hearth_metric *y = *(const hearth_metric *const *) b;
	return strcmp(x->name, y->name);
}

static void
metrics_write_series(
    hearth_buf *out, const hearth_metric *f, const metrics_series *s)
{
	if (f->type != METRICS_HISTOGRAM) {
		hearth_buf_puts(out, f->name);
		metrics_put_labels(out, f, s, NULL);
		hearth_buf_putc(out, ' ');
		metrics_put_double(out, s->value);
		hearth_buf_putc(out, '\n');
		return;
	}
	uint64_t            cum = 0;
	static const double inf = INFINITY;
	for (size_t b = 0; b <= f->n_bounds; b++) {
		cum += s->buckets[b];
		hearth_buf_printf(out, "%s_bucket", f->name);
		metrics_put_labels(
		    out, f, s, b < f->n_bounds ? &f->bounds[b] : &inf);
		hearth_buf_putc(out, ' ');
		hearth_buf_put_u64(out, cum);
		hearth_buf_putc(out, '\n');
	}
	hearth_buf_printf(out, "%s_sum", f->name);
	metrics_put_labels(out, f, s, NULL);
	hearth_buf_putc(out, ' ');
	metrics_put_double(out, s->sum);
	hearth_buf_printf(out, "\n%s_count", f->name);
	metrics_put_labels(out, f, s, NULL);
	hearth_buf_putc(out, ' ');
	hearth_buf_put_u64(out, s->count);
	hearth_buf_putc(out, '\n');
}

static void
metrics_write_family(hearth_buf *out, hearth_metric *f)
{
	pthread_mutex_lock(&f->mu);
	if (f->n_series > 0) {
		/* Sorting in place is safe: the index points at series, not
		 * at positions in this array. */
		qsort(f->series, f->n_series, sizeof(*f->series),
		    metrics_cmp_series);
		hearth_buf_printf(out, "# HELP %s ", f->name);
		metrics_put_escaped(out, f->help, 0);
		hearth_buf_printf(out, "\n# TYPE %s %s\n", f->name,
		    metrics_type_names[f->type]);
		for (size_t i = 0; i < f->n_series; i++)
			metrics_write_series(out, f, f->series[i]);
	}
	pthread_mutex_unlock(&f->mu);
}

int
hearth_metrics_write(hearth_metrics *m, hearth_buf *out)
{
	pthread_mutex_lock(&m->write_mu);
	/* Callbacks run without m->mu so they may register families; the
	 * collectors array only changes under write_mu + mu, and
	 * hearth_metrics_on_collect appends under mu alone, so index by
	 * position and re-read the count each round. */
	for (size_t i = 0;; i++) {
		pthread_mutex_lock(&m->mu);
		int               more = i < m->n_collectors;
		metrics_collector c
		    = more ? m->collectors[i] : (metrics_collector) { 0 };
		pthread_mutex_unlock(&m->mu);
		if (!more)
			break;
		c.fn(c.ctx, m);
	}
	pthread_mutex_lock(&m->mu);
	size_t          n    = m->n_fams;
	hearth_metric **fams = malloc((n ? n : 1) * sizeof(*fams));
	if (fams != NULL)
		memcpy(fams, m->fams, n * sizeof(*fams));
	pthread_mutex_unlock(&m->mu);
	if (fams == NULL) {
		pthread_mutex_unlock(&m->write_mu);
		return HEARTH_ENOMEM;
	}
	qsort(fams, n, sizeof(*fams), metrics_cmp_family);
	for (size_t i = 0; i < n; i++)
		metrics_write_family(out, fams[i]);
	free(fams);
	pthread_mutex_unlock(&m->write_mu);
	return hearth_buf_failed(out) ? HEARTH_ENOMEM : 0;
}
