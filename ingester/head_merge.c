/* Merging query answers of several heads (a head being flushed and the
 * current one) or of heads and blocks: head.h, hearth_head_series_merge
 * and hearth_head_labels_merge. */
#include "head_impl.h"

#include <string.h>

/* Order of hearth_head_select_series' output: labels compared pairwise
 * (name, then value), a shorter prefix first. */
static int
head_merge_cmp_labels(const hearth_head_series *x, const hearth_head_series *y)
{
	for (size_t i = 0; i < x->n_labels && i < y->n_labels; i++) {
		int c = strcmp(x->labels[i].name, y->labels[i].name);
		if (c == 0)
			c = strcmp(x->labels[i].value, y->labels[i].value);
		if (c != 0)
			return c;
	}
	return x->n_labels < y->n_labels ? -1 : x->n_labels > y->n_labels;
}

/* Points of x and y (each ascending by timestamp) merged into out, which
 * has room for both; equal timestamps become one point. */
static size_t
head_merge_points(const hearth_head_series *x, const hearth_head_series *y,
    hearth_head_point *out)
{
	size_t i = 0, j = 0, k = 0;
	while (i < x->n_points || j < y->n_points) {
		if (j == y->n_points
		    || (i < x->n_points
		        && x->points[i].timestamp_ms
		            < y->points[j].timestamp_ms)) {
			out[k++] = x->points[i++];
		} else if (i == x->n_points
		    || y->points[j].timestamp_ms < x->points[i].timestamp_ms) {
			out[k++] = y->points[j++];
		} else {
			out[k] = x->points[i++];
			out[k].value
			    = head_sat_add(out[k].value, y->points[j].value);
			out[k].count += y->points[j++].count;
			k++;
		}
	}
	return k;
}

int
hearth_head_series_merge(hearth_head_series **a, size_t *na,
    const hearth_head_series *b, size_t nb, hearth_arena *arena)
{
	const hearth_head_series *x  = *a;
	size_t                    nx = *na, i = 0, j = 0, k = 0;
	if (nb == 0)
		return 0;
	hearth_head_series *out
	    = hearth_arena_calloc(arena, nx + nb, sizeof(*out));
	if (out == NULL)
		return HEARTH_ENOMEM;
	while (i < nx || j < nb) {
		int c = i == nx ? 1
		    : j == nb   ? -1
		                : head_merge_cmp_labels(&x[i], &b[j]);
		if (c < 0) {
			out[k++] = x[i++];
			continue;
		}
		if (c > 0) {
			out[k++] = b[j++];
			continue;
		}
		hearth_head_point *pts = hearth_arena_calloc(
		    arena, x[i].n_points + b[j].n_points + 1, sizeof(*pts));
		if (pts == NULL)
			return HEARTH_ENOMEM;
		out[k]          = x[i];
		out[k].points   = pts;
		out[k].n_points = head_merge_points(&x[i], &b[j], pts);
		k++, i++, j++;
	}
	*a  = out;
	*na = k;
	return 0;
}

int
hearth_head_labels_merge(const char ***a, size_t *na, const char *const *b,
    size_t nb, hearth_arena *arena)
{
	const char *const *x  = *a;
	size_t             nx = *na, i = 0, j = 0, k = 0;
	if (nb == 0)
		return 0;
	const char **out = hearth_arena_calloc(arena, nx + nb, sizeof(*out));
	if (out == NULL)
		return HEARTH_ENOMEM;
	while (i < nx || j < nb) {
		int c = i == nx ? 1 : j == nb ? -1 : strcmp(x[i], b[j]);
		if (c < 0) {
			out[k++] = x[i++];
		} else if (c > 0) {
			out[k++] = b[j++];
		} else {
			out[k++] = x[i++];
			j++;
		}
	}
	*a  = out;
	*na = k;
	return 0;
}
