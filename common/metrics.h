/*
 * metrics: a Prometheus metrics registry written out in the text
 * exposition format 0.0.4 (what `/metrics` serves).
 *
 *   hearth_metrics ──▶ families (hearth_metric), one per metric name
 *                        └─▶ series: one per distinct tuple of label values
 *                              counter/gauge: one double
 *                              histogram:     per-bucket counts, sum, count
 *
 * Invariants:
 *  (1) family names are unique in a registry; registering a name again with
 *      the same type, label names (and buckets) returns the same family, a
 *      different shape is a programming error (HEARTH_ASSERT);
 *  (2) a family holds at most HEARTH_METRICS_MAX_SERIES series; a sample
 *      for a new label set beyond that is dropped and counted in
 *      hearth_metrics_dropped_series_total{metric="<family>"}, so a label
 *      fed by user input can never grow memory without bound;
 *  (3) histogram bucket bounds are strictly increasing; +Inf is implicit;
 *  (4) a family without labels always has its one series (value 0 from
 *      registration), a family with labels shows only series that were
 *      touched, as Prometheus client libraries do.
 *
 * Output: families sorted by name, series sorted by label values (byte
 * order, first label first), histogram buckets cumulative with an `le`
 * label after the family's labels. Numbers: integral values below 2^53 are
 * printed as integers, others in the shortest form that reads back to the
 * same double; +Inf, -Inf, NaN as Prometheus spells them.
 *
 * Threading: every function is thread-safe. Updates lock only their
 * family. hearth_metrics_write() is serialised: it first runs the collect
 * callbacks (registered with hearth_metrics_on_collect), without holding
 * any registry lock, so callbacks may set metrics and register families.
 *
 * Ownership: the registry owns its families (freed by
 * hearth_metrics_free); a hearth_metric pointer stays valid until then.
 * Names, help texts, label names and values are copied. A NULL family
 * (registration ran out of memory) is accepted by every update function
 * and ignored: metrics are best effort and never fail a request.
 */
#ifndef HEARTH_METRICS_H
#define HEARTH_METRICS_H

#include "buf.h"

#include <stddef.h>

#define HEARTH_METRICS_MAX_SERIES 10000

typedef struct hearth_metrics hearth_metrics;
typedef struct hearth_metric  hearth_metric; /* one family */

/* New empty registry (it registers hearth_metrics_dropped_series_total
 * itself). NULL on out of memory. */
hearth_metrics *hearth_metrics_new(void);
/* Free the registry and all families; NULL is a no-op. No other thread may
 * use the registry or its families any more. */
void hearth_metrics_free(hearth_metrics *m);

/* Register (or find, invariant (1)) a family. name must match
 * [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* without a
 * leading "__" ("le" is reserved for histograms); help is free text.
 * label_names may be NULL when n_labels is 0. Returns NULL only on out of
 * memory. */
hearth_metric *hearth_metrics_counter(hearth_metrics *m, const char *name,
    const char *help, size_t n_labels, const char *const *label_names);
hearth_metric *hearth_metrics_gauge(hearth_metrics *m, const char *name,
    const char *help, size_t n_labels, const char *const *label_names);
/* buckets: upper bounds, strictly increasing; n_buckets 0 selects the
 * default .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10 (seconds). A trailing
 * +Inf bound is accepted and ignored. */
hearth_metric *hearth_metrics_histogram(hearth_metrics *m, const char *name,
    const char *help, size_t n_labels, const char *const *label_names,
    const double *buckets, size_t n_buckets);

/* label_values: one string per label name of the family, in the same
 * order (NULL allowed when the family has no labels; a NULL value is
 * written as ""). */

/* Counter or gauge: add v. A counter ignores negative and NaN v (counters
 * only go up). */
void hearth_metric_add(
    hearth_metric *f, const char *const *label_values, double v);
/* Counter or gauge: set the value (for counters, meant for collect
 * callbacks that mirror a count kept elsewhere). */
void hearth_metric_set(
    hearth_metric *f, const char *const *label_values, double v);
/* Histogram: record one observation (NaN is ignored). */
void hearth_metric_observe(
    hearth_metric *f, const char *const *label_values, double v);
/* Remove one series (e.g. a tenant that is gone); no-op when absent. */
void hearth_metric_del(hearth_metric *f, const char *const *label_values);
/* Remove every series of a labelled family (collect callbacks that
 * rebuild a gauge from scratch); a label-less family is set to 0. */
void hearth_metric_reset(hearth_metric *f);

typedef void (*hearth_metrics_collect_fn)(void *ctx, hearth_metrics *m);
/* fn(ctx, m) runs at the start of every hearth_metrics_write(), one write
 * at a time. The caller keeps ctx alive until it removes the callback with
 * hearth_metrics_remove_collect() (or frees the registry). Returns 0 or
 * HEARTH_ENOMEM. */
int hearth_metrics_on_collect(
    hearth_metrics *m, hearth_metrics_collect_fn fn, void *ctx);
/* Remove the callback registered with this exact (fn, ctx); when it
 * returns, fn is not running and will not run again. Must not be called
 * from inside a collect callback (it waits for the running write). */
void hearth_metrics_remove_collect(
    hearth_metrics *m, hearth_metrics_collect_fn fn, void *ctx);

/* Append the text exposition of every family to out. Returns 0, or
 * HEARTH_ENOMEM when out could not grow (its content is then partial). */
int hearth_metrics_write(hearth_metrics *m, hearth_buf *out);

/* Content-Type of what hearth_metrics_write produces. */
#define HEARTH_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
