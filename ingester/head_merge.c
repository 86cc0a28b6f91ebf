/* Building and merging query answers of several heads (a head being
 * flushed and the current one) or of heads and blocks: head.h,
 * hearth_head_series_emit, hearth_head_series_merge and
 * hearth_head_labels_merge. */
#include "head_impl.h"

#include <stdlib.h>
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

static int
head_merge_qsort_labels(const void *a, const void *b)
{
	return head_merge_cmp_labels(a, b);
}

static int
head_merge_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static int
head_merge_cmp_pt(const void *a, const void *b)
{
	const hearth_head_series_pt *x = a, *y = b;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

int
hearth_head_group_names(const char *const *group_by, size_t n,
    hearth_arena *arena, const char ***names, size_t *ng)
{
	const char **v = hearth_arena_alloc(arena, (n + 1) * sizeof(*v));
	if (v == NULL)
		return HEARTH_ENOMEM;
	if (n > 0)
		memcpy(v, group_by, n * sizeof(*v));
	if (n > 1)
		qsort(v, n, sizeof(*v), head_merge_cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < n; i++)
		if (u == 0 || strcmp(v[u - 1], v[i]) != 0)
			v[u++] = v[i];
	for (size_t i = 0; i < u; i++)
		if ((v[i] = hearth_arena_strdup(arena, v[i])) == NULL)
			return HEARTH_ENOMEM;
	*names = v;
	*ng    = u;
	return 0;
}

int
hearth_head_series_emit(const char *const *names, size_t ng,
    const char *const *vals, size_t n_groups, hearth_head_series_pt *pts,
    size_t n_pts, hearth_arena *arena, hearth_head_series **out,
    size_t *n_out)
{
	if (n_pts > 1)
		qsort(pts, n_pts, sizeof(*pts), head_merge_cmp_pt);
	hearth_head_series *ss
	    = hearth_arena_calloc(arena, n_groups + 1, sizeof(*ss));
	hearth_head_point *pp
	    = hearth_arena_alloc(arena, (n_pts + 1) * sizeof(*pp));
	if (ss == NULL || pp == NULL)
		return HEARTH_ENOMEM;
	size_t ns = 0;
	for (size_t i = 0; i < n_pts;) {
		hearth_head_series *s	= &ss[ns++];
		uint32_t	    grp = pts[i].group;
		s->labels = hearth_arena_alloc(arena, (ng + 1) * sizeof(*s->labels));
		if (s->labels == NULL)
			return HEARTH_ENOMEM;
		for (size_t j = 0; j < ng; j++)
			if (vals[grp * ng + j] != NULL)
				s->labels[s->n_labels++] = (hearth_label) {
					names[j], vals[grp * ng + j]
				};
		s->points = pp;
		for (; i < n_pts && pts[i].group == grp; i++) {
			const hearth_head_series_pt *q = &pts[i];
			if (s->n_points > 0 && pp[-1].timestamp_ms == q->ts) {
				pp[-1].value = head_sat_add(pp[-1].value,
				    q->value);
				pp[-1].count += q->count;
				continue;
			}
			*pp++ = (hearth_head_point) { q->ts, q->value, q->count };
			s->n_points++;
		}
	}
	if (ns > 1)
		qsort(ss, ns, sizeof(*ss), head_merge_qsort_labels);
	*out   = ss;
	*n_out = ns;
	return 0;
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
