#include "ingest.h"

#include "attime.h"
#include "folded.h"
#include "gzip.h"
#include "jfr.h"
#include "labels.h"
#include "multipart.h"
#include "pprof.h"
#include "speedscope.h"
#include "stconfig.h"
#include "upload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define INGEST_NS_PER_S 1000000000LL

/* Tree-path profile types by app-name suffix (ingest-http.md §6). */
typedef struct ingest_suffix {
	const char *suffix;
	const char *name;	/* __name__ */
	const char *type;	/* sample type; NULL = scaled cpu/wall rule */
	const char *unit;
} ingest_suffix;

static const ingest_suffix ingest_suffixes[] = {
	{ "cpu", "process_cpu", NULL, "cpu" },
	{ "itimer", "process_cpu", NULL, "cpu" },
	{ "wall", "wall", NULL, "wall" },
	{ "seconds", "wall", NULL, "wall" },
	{ "nanoseconds", "wall", NULL, "wall" },
	{ "microseconds", "wall", NULL, "wall" },
	{ "milliseconds", "wall", NULL, "wall" },
	{ "inuse_objects", "memory", "inuse_objects", "count" },
	{ "inuse_space", "memory", "inuse_space", "bytes" },
	{ "alloc_objects", "memory", "alloc_objects", "count" },
	{ "alloc_space", "memory", "alloc_space", "bytes" },
	{ "goroutines", "goroutine", "goroutines", "count" },
	{ "mutex_count", "mutex", "contentions", "count" },
	{ "mutex_duration", "mutex", "delay", "nanoseconds" },
	{ "block_count", "block", "contentions", "count" },
	{ "lock_count", "block", "contentions", "count" },
	{ "block_duration", "block", "delay", "nanoseconds" },
	{ "lock_duration", "block", "delay", "nanoseconds" },
	{ "alloc_in_new_tlab_objects", "memory", "alloc_in_new_tlab_objects",
	    "count" },
	{ "alloc_in_new_tlab_bytes", "memory", "alloc_in_new_tlab_bytes",
	    "bytes" },
	{ "alloc_outside_tlab_objects", "memory", "alloc_outside_tlab_objects",
	    "count" },
	{ "alloc_outside_tlab_bytes", "memory", "alloc_outside_tlab_bytes",
	    "bytes" },
	{ "live", "memory", "live", "count" },
	{ "exceptions", "exceptions", "samples", "count" },
	{ "bytes", "memory", "samples", "bytes" },
};

/* What an upload is, once its format is known: the labels every series of
 * it shares and how its profile types are named. */
typedef struct ingest_shape {
	hearth_label *labels; /* name labels + service_name, spy, __name__ */
	size_t	      n_labels;
	size_t	      cap_labels;
	int64_t	      time_ns;
	int64_t	      duration_ns;
} ingest_shape;

static int
ingest_fail(hearth_ingest_result *res, int status, const char *reason,
    hearth_err *err)
{
	res->status = status;
	res->reason = reason;
	return err->code != 0 ? err->code : HEARTH_EINVAL;
}

static int
ingest_shape_put(hearth_arena *a, ingest_shape *s, const char *name,
    const char *value, hearth_err *err)
{
	if (s->n_labels == s->cap_labels) {
		size_t	      cap = s->cap_labels ? s->cap_labels * 2 : 16;
		hearth_label *nl  = hearth_arena_realloc(a, s->labels,
		     s->n_labels * sizeof(*nl), cap * sizeof(*nl));
		if (nl == NULL)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached");
		s->labels     = nl;
		s->cap_labels = cap;
	}
	s->labels[s->n_labels].name    = name;
	s->labels[s->n_labels].value   = value;
	s->n_labels++;
	return 0;
}

/* 1 when a label of this name is in the shape already. */
static int
ingest_shape_has(const ingest_shape *s, const char *name)
{
	return hearth_labels_get(s->labels, s->n_labels, name) != NULL;
}

static int64_t
ingest_sample_rate(const char *s)
{
	if (s == NULL || *s == '\0')
		return 100;
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	/* Upstream silently replaces a bad or negative rate by 100. */
	if (end == s || *end != '\0' || v < 0)
		return 100;
	return v;
}

static int
ingest_year_1970(int64_t ns)
{
	return ns > 0 && ns < 365LL * 24 * 3600 * INGEST_NS_PER_S;
}

static char *
ingest_printf(hearth_arena *a, const char *fmt, const char *a1,
    const char *a2, const char *a3, const char *a4, const char *a5)
{
	int   n = snprintf(NULL, 0, fmt, a1, a2, a3, a4, a5);
	char *p = n < 0 ? NULL : hearth_arena_alloc(a, (size_t) n + 1);
	if (p != NULL)
		snprintf(p, (size_t) n + 1, fmt, a1, a2, a3, a4, a5);
	return p;
}

/* The group's span rows with a value for sample type t into sp's span_*
 * columns (upload.h: a side table the ingester keeps for span queries). */
static int
ingest_span_rows(hearth_arena *a, const hearth_upload *u,
    const hearth_upload_group *grp, size_t t,
    Hearth__Ingester__SeriesProfile *sp, hearth_err *err)
{
	size_t nt = u->n_sample_types, rows = 0;
	for (size_t r = 0; r < grp->n_span_rows; r++)
		rows += grp->span_values[r * nt + t] > 0;
	if (rows == 0)
		return 0;
	uint32_t *stacks = hearth_arena_alloc(a, rows * sizeof(*stacks));
	uint64_t *ids	 = hearth_arena_alloc(a, rows * sizeof(*ids));
	int64_t	 *vals	 = hearth_arena_alloc(a, rows * sizeof(*vals));
	if (stacks == NULL || ids == NULL || vals == NULL)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached");
	size_t k = 0;
	for (size_t r = 0; r < grp->n_span_rows; r++) {
		int64_t v = grp->span_values[r * nt + t];
		if (v <= 0)
			continue;
		stacks[k] = grp->span_stacks[r];
		ids[k]	  = grp->span_ids[r];
		vals[k++] = v;
	}
	sp->n_span_stacks = sp->n_span_ids = sp->n_span_values = rows;
	sp->span_stacks				  = stacks;
	sp->span_ids				  = ids;
	sp->span_values				  = vals;
	return 0;
}

/*
 * Build SeriesProfiles for every (group, sample type) of the upload. The
 * shape's labels are the series labels; group labels join them unless a
 * series label has the same name (model.md §3 step 3).
 */
static int
ingest_series(hearth_arena *a, const hearth_limits *limits,
    const ingest_shape *shape, const hearth_upload *u,
    hearth_ingest_result *res, hearth_err *err)
{
	Hearth__Ingester__ProfileBatch *batch =
	    hearth_arena_calloc(a, 1, sizeof(*batch));
	Hearth__Ingester__PushRequest *push =
	    hearth_arena_calloc(a, 1, sizeof(*push));
	Hearth__Ingester__ProfileBatch **batches =
	    hearth_arena_calloc(a, 1, sizeof(*batches));
	size_t max_profiles = u->n_groups * u->n_sample_types;
	Hearth__Ingester__SeriesProfile **profiles =
	    hearth_arena_calloc(a, max_profiles ? max_profiles : 1,
	        sizeof(*profiles));
	uint32_t *lens = hearth_arena_calloc(a, u->n_stacks ? u->n_stacks : 1,
	    sizeof(*lens));
	uint8_t *ids = hearth_arena_alloc(a, 16 * (max_profiles ? max_profiles : 1));
	if (batch == NULL || push == NULL || batches == NULL ||
	    profiles == NULL || lens == NULL || ids == NULL)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached while building series");
	hearth__ingester__push_request__init(push);
	hearth__ingester__profile_batch__init(batch);
	batch->n_strings = u->n_strings;
	batch->strings	 = (char **) u->strings;
	batch->n_frames	 = u->n_frames;
	batch->frames	 = u->frames;
	for (size_t i = 0; i < u->n_stacks; i++)
		lens[i] = u->stack_off[i + 1] - u->stack_off[i];
	batch->n_stack_lengths = u->n_stacks;
	batch->stack_lengths   = lens;

	/* Profile ids: random, one per stored profile (DESIGN §5). */
	size_t	need = 16 * max_profiles;
	size_t	got  = 0;
	while (got < need) {
		ssize_t r = getrandom(ids + got, need - got, 0);
		if (r <= 0)
			return hearth_err_set(err, HEARTH_EINTERNAL,
			    "getrandom failed while assigning profile ids");
		got += (size_t) r;
	}

	hearth_labels_limits lim = {
		.max_label_names_per_series =
		    (size_t) limits->max_label_names_per_series,
		.max_label_name_length = (size_t) limits->max_label_name_length,
		.max_label_value_length =
		    (size_t) limits->max_label_value_length,
	};
	const char *service = hearth_labels_get(shape->labels, shape->n_labels,
	    "service_name");
	for (size_t g = 0; g < u->n_groups; g++) {
		const hearth_upload_group *grp = &u->groups[g];
		size_t cap = shape->n_labels + grp->n_labels + 6;
		hearth_label *ls = hearth_arena_calloc(a, cap, sizeof(*ls));
		if (ls == NULL)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached");
		size_t n = 0;
		for (size_t i = 0; i < grp->n_labels; i++) {
			if (hearth_labels_get(shape->labels, shape->n_labels,
			        grp->labels[i].name) != NULL)
				continue;
			ls[n].name    = grp->labels[i].name;
			ls[n++].value = grp->labels[i].value;
		}
		/* Series labels last so they win over sample labels. */
		for (size_t i = 0; i < shape->n_labels; i++)
			ls[n++] = shape->labels[i];
		n = hearth_labels_sort(ls, n);
		n = hearth_labels_drop_empty(ls, n);
		if (hearth_labels_validate(ls, n, &lim, err) != 0) {
			hearth_err_prefix(err, "invalid series labels");
			return err->code;
		}
		for (size_t t = 0; t < u->n_sample_types; t++) {
			const hearth_upload_type *st = &u->sample_types[t];
			size_t rows = 0;
			for (size_t r = 0; r < grp->n_rows; r++)
				if (grp->values[r * u->n_sample_types + t] > 0)
					rows++;
			if (rows == 0)
				continue;
			Hearth__Ingester__SeriesProfile *sp =
			    hearth_arena_calloc(a, 1, sizeof(*sp));
			hearth_label *tl = hearth_arena_calloc(a, n + 6, sizeof(*tl));
			uint32_t *stacks = hearth_arena_alloc(a, rows * sizeof(uint32_t));
			int64_t *vals = hearth_arena_alloc(a, rows * sizeof(int64_t));
			if (sp == NULL || tl == NULL || stacks == NULL || vals == NULL)
				return hearth_err_set(err, HEARTH_ELIMIT,
				    "request memory limit reached");
			hearth__ingester__series_profile__init(sp);
			memcpy(tl, ls, n * sizeof(*tl));
			size_t tn = n;
			const char *name = hearth_labels_get(ls, n, "__name__");
			/* The id always has 5 parts; a period part may be
			 * empty alone (.NET sends a unit without a type). */
			const char *ptype = u->period_type ? u->period_type : "";
			const char *punit = u->period_unit ? u->period_unit : "";
			tl[tn].name	 = "__type__";
			tl[tn++].value	 = st->type;
			tl[tn].name	 = "__unit__";
			tl[tn++].value	 = st->unit;
			if (*ptype != '\0') {
				tl[tn].name    = "__period_type__";
				tl[tn++].value = ptype;
			}
			if (*punit != '\0') {
				tl[tn].name    = "__period_unit__";
				tl[tn++].value = punit;
			}
			tl[tn].name    = "__profile_type__";
			tl[tn++].value = ingest_printf(a, "%s:%s:%s:%s:%s", name,
			    st->type, st->unit, ptype, punit);
			tl[tn].name    = "__service_name__";
			tl[tn++].value = service != NULL ? service : "";
			if (tl[tn - 2].value == NULL)
				return hearth_err_set(err, HEARTH_ELIMIT,
				    "request memory limit reached");
			tn = hearth_labels_sort(tl, tn);
			sp->n_labels = tn;
			sp->labels   = hearth_arena_calloc(a, tn, sizeof(*sp->labels));
			Hearth__Ingester__Label *lv =
			    hearth_arena_calloc(a, tn, sizeof(*lv));
			if (sp->labels == NULL || lv == NULL)
				return hearth_err_set(err, HEARTH_ELIMIT,
				    "request memory limit reached");
			for (size_t i = 0; i < tn; i++) {
				hearth__ingester__label__init(&lv[i]);
				lv[i].name     = (char *) tl[i].name;
				lv[i].value    = (char *) tl[i].value;
				sp->labels[i]  = &lv[i];
			}
			size_t k = 0;
			for (size_t r = 0; r < grp->n_rows; r++) {
				int64_t v = grp->values[r * u->n_sample_types + t];
				if (v <= 0)
					continue;
				stacks[k] = grp->stacks[r];
				vals[k++] = v;
			}
			sp->n_stacks	   = rows;
			sp->stacks	   = stacks;
			sp->n_values	   = rows;
			sp->values	   = vals;
			if (ingest_span_rows(a, u, grp, t, sp, err) != 0)
				return err->code;
			sp->time_nanos	   = shape->time_ns;
			sp->duration_nanos = shape->duration_ns;
			sp->id.len	   = 16;
			sp->id.data	   = ids + 16 * batch->n_profiles;
			profiles[batch->n_profiles++] = sp;
			res->samples += rows;
		}
	}
	if (batch->n_profiles == 0)
		return 0; /* nothing to store: 200, like upstream */
	batch->profiles	 = profiles;
	if (res->push != NULL) {
		/* Another upload of the same request (JFR: one per event
		 * kind): its own batch in the same push. */
		Hearth__Ingester__PushRequest *pr = res->push;
		Hearth__Ingester__ProfileBatch **nb = hearth_arena_alloc(a,
		    (pr->n_batches + 1) * sizeof(*nb));
		if (nb == NULL)
			return hearth_err_set(err, HEARTH_ELIMIT,
			    "request memory limit reached while building series");
		memcpy(nb, pr->batches, pr->n_batches * sizeof(*nb));
		nb[pr->n_batches++] = batch;
		pr->batches	    = nb;
		res->profiles += batch->n_profiles;
		return 0;
	}
	batches[0]	 = batch;
	push->n_batches	 = 1;
	push->batches	 = batches;
	res->push	 = push;
	res->profiles	 = batch->n_profiles;
	return 0;
}

/* Name labels every series shares; `__*` keys were dropped by the parser
 * except __session_id__, which is dropped here (max_sessions_per_series
 * defaults to 0, model.md §8.1). */
static int
ingest_shape_from_name(hearth_arena *a, const hearth_label *nl, size_t nn,
    ingest_shape *s, hearth_err *err)
{
	for (size_t i = 0; i < nn; i++) {
		if (strcmp(nl[i].name, "__session_id__") == 0)
			continue;
		if (ingest_shape_put(a, s, nl[i].name, nl[i].value, err) != 0)
			return err->code;
	}
	return 0;
}

static int
ingest_check_time(const hearth_ingest_params *p, int64_t ts,
    hearth_ingest_result *res, int status, hearth_err *err)
{
	if (hearth_limits_check_time(p->limits, ts, p->now_ns, err) != 0)
		return ingest_fail(res, status, "not_in_ingestion_window", err);
	return 0;
}

/* A tree-path upload's profile type (ingest-http.md §6), from the app
 * name's suffix and the sample rate. */
typedef struct ingest_tree_type {
	const ingest_suffix *sx;
	size_t		     applen; /* the app without its ".suffix" */
	const char	    *type, *unit, *ptype, *punit;
	int64_t		     scale; /* counts to nanoseconds; 1: as they are */
} ingest_tree_type;

static const ingest_suffix *
ingest_suffix_find(const char *suffix)
{
	for (size_t i = 0;
	     i < sizeof(ingest_suffixes) / sizeof(ingest_suffixes[0]); i++)
		if (strcmp(ingest_suffixes[i].suffix, suffix) == 0)
			return &ingest_suffixes[i];
	return NULL;
}

static int
ingest_tree_type_of(const char *app, int64_t rate, ingest_tree_type *t,
    hearth_ingest_result *res, hearth_err *err)
{
	const char *dot	   = strrchr(app, '.');
	const char *suffix = dot != NULL ? dot + 1 : "cpu";
	memset(t, 0, sizeof(*t));
	t->applen = dot != NULL ? (size_t) (dot - app) : strlen(app);
	t->sx	  = ingest_suffix_find(suffix);
	if (t->sx == NULL) {
		hearth_err_set(err, HEARTH_EINVAL,
		    "name: unknown profile type suffix \"%s\" in app name "
		    "\"%s\" (use e.g. app.cpu, app.inuse_space, app.wall)",
		    suffix, app);
		return ingest_fail(res, 400, "unknown_profile_type", err);
	}
	t->type	 = t->sx->type;
	t->unit	 = t->sx->unit;
	t->ptype = "";
	t->punit = "";
	t->scale = 1;
	if (t->type == NULL) {
		if (rate > 0) {
			t->type	 = t->sx->unit; /* "cpu" or "wall" */
			t->unit	 = "nanoseconds";
			t->ptype = t->type;
			t->punit = "nanoseconds";
			t->scale = INGEST_NS_PER_S / rate;
		} else {
			t->type = "samples";
			t->unit = "count";
		}
	}
	return 0;
}

/* Store u (one sample type, values as parsed from a `format` body) under
 * app the way the tree path does: typed and scaled by t, with the name
 * labels, the service name and, when extra is not NULL, that one label
 * more. */
static int
ingest_tree_store(hearth_arena *a, const hearth_ingest_params *p,
    const char *format, const char *app, const hearth_label *nl, size_t nn,
    const ingest_tree_type *t, hearth_upload *u, const hearth_label *extra,
    hearth_ingest_result *res, hearth_err *err)
{
	hearth_upload_type *st = hearth_arena_calloc(a, 1, sizeof(*st));
	if (st == NULL)
		return hearth_err_set(err, HEARTH_ELIMIT,
		    "request memory limit reached");
	st->type	  = t->type;
	st->unit	  = t->unit;
	u->sample_types	  = st;
	u->n_sample_types = 1;
	u->period_type	  = t->ptype;
	u->period_unit	  = t->punit;
	u->period	  = t->scale > 1 ? t->scale : 0;
	for (size_t g = 0; g < u->n_groups && t->scale > 1; g++)
		for (size_t r = 0; r < u->groups[g].n_rows; r++) {
			int64_t v = u->groups[g].values[r];
			if (v > INT64_MAX / t->scale) {
				hearth_err_set(err, HEARTH_EINVAL,
				    "%s: count %lld overflows when scaled to "
				    "nanoseconds", format, (long long) v);
				return ingest_fail(res, 422, "parse_error", err);
			}
			u->groups[g].values[r] = v * t->scale;
		}

	ingest_shape s = { 0 };
	int64_t from = hearth_attime_parse(p->from, p->from ? strlen(p->from) : 0,
	    p->now_ns);
	int64_t until = hearth_attime_parse(p->until,
	    p->until ? strlen(p->until) : 0, p->now_ns);
	s.time_ns     = from;
	s.duration_ns = until > from ? until - from : 0;
	if (ingest_check_time(p, s.time_ns, res, 400, err) != 0)
		return err->code;
	if (ingest_shape_from_name(a, nl, nn, &s, err) != 0)
		return ingest_fail(res, 400, "invalid_labels", err);
	char *svc = hearth_arena_strndup(a, app, t->applen);
	if (svc == NULL)
		return hearth_err_set(err, HEARTH_ELIMIT, "request memory limit reached");
	if (!ingest_shape_has(&s, "service_name")) {
		if (ingest_shape_put(a, &s, "service_name", svc, err) != 0)
			return err->code;
	} else if (!ingest_shape_has(&s, "app_name")) {
		if (ingest_shape_put(a, &s, "app_name", svc, err) != 0)
			return err->code;
	}
	if (ingest_shape_put(a, &s, "__name__", t->sx->name, err) != 0 ||
	    ingest_shape_put(a, &s, "pyroscope_spy",
	        p->spy_name && *p->spy_name ? p->spy_name : "unknown", err) != 0)
		return err->code;
	if (extra != NULL &&
	    ingest_shape_put(a, &s, extra->name, extra->value, err) != 0)
		return err->code;
	if (ingest_series(a, p->limits, &s, u, res, err) != 0)
		return ingest_fail(res, 400, "invalid_labels", err);
	return 0;
}

/* The limits of the text formats' parsers (folded, speedscope: option
 * structs with the same fields), as designated initializers. */
#define INGEST_TEXT_LIMITS(p, res)                                          \
	.max_stack_depth = (size_t) (p)->limits->max_profile_stacktrace_depth, \
	.max_symbol_length =                                                \
	    (size_t) (p)->limits->max_profile_symbol_value_length,          \
	.max_samples = (size_t) (p)->limits->max_profile_stacktrace_samples, \
	.truncated_stacks  = &(res)->truncated_stacks,                      \
	.truncated_symbols = &(res)->truncated_symbols

/* folded / lines / trie / tree (tree path, ingest-http.md §5.1, §6);
 * mode is HEARTH_FOLDED_*. */
static int
ingest_tree_path(hearth_arena *a, const hearth_ingest_params *p,
    const char *app, const hearth_label *nl, size_t nn, const char *body,
    size_t len, int mode, hearth_ingest_result *res, hearth_err *err)
{
	if (hearth_labels_get(nl, nn, "profile_id") != NULL)
		return 0; /* upstream silently discards these: 200 */
	ingest_tree_type t;
	if (ingest_tree_type_of(app, ingest_sample_rate(p->sample_rate), &t,
		res, err) != 0)
		return err->code;
	hearth_folded_opts fo = { INGEST_TEXT_LIMITS(p, res) };
	hearth_upload *u = NULL;
	if (hearth_folded_parse(a, body, len, mode, &fo, &u, err) != 0)
		return ingest_fail(res, 422, "parse_error", err);
	static const char *const names[] = { "folded", "lines", "trie",
		"tree" };
	return ingest_tree_store(a, p, names[mode], app, nl, nn, &t, u, NULL,
	    res, err);
}

/* speedscope JSON (ingest-http.md §5.1, common/speedscope.h): each
 * profile is a tree-path upload. One profile is stored under the name as
 * sent; with several, each goes under "<app>.<unit>" (the unit names a
 * wall type, "bytes" memory:samples:bytes, and "none", whose weights are
 * sample counts, cpu) with the profile's name as profile_name. Time
 * units arrive in nanoseconds (the sample rate is not used for them);
 * "none" counts are scaled by the sample rate like folded counts; bytes
 * are not scaled. */
static int
ingest_speedscope_path(hearth_arena *a, const hearth_ingest_params *p,
    const char *app, const hearth_label *nl, size_t nn, const char *body,
    size_t len, hearth_ingest_result *res, hearth_err *err)
{
	if (hearth_labels_get(nl, nn, "profile_id") != NULL)
		return 0; /* upstream silently discards these: 200 */
	hearth_speedscope_opts so = { INGEST_TEXT_LIMITS(p, res) };
	hearth_speedscope_result sr;
	if (hearth_speedscope_parse(a, body, len, &so, &sr, err) != 0)
		return ingest_fail(res, 422,
		    err->code == HEARTH_ELIMIT ? "limit" : "parse_error", err);
	/* With several profiles the app keeps its name without a known
	 * suffix, and the unit becomes the suffix. */
	const char *dot	   = strrchr(app, '.');
	size_t	    applen = dot != NULL && ingest_suffix_find(dot + 1) != NULL
		   ? (size_t) (dot - app)
		   : strlen(app);
	for (size_t i = 0; i < sr.n_profiles; i++) {
		const hearth_speedscope_profile *sp = &sr.profiles[i];
		int	    is_time = hearth_speedscope_unit_is_time(sp->unit);
		const char *name    = app;
		if (sr.n_profiles > 1) {
			const char *suffix = sp->unit == HEARTH_SPEEDSCOPE_NONE
			    ? "cpu"
			    : sp->unit_name;
			size_t n = applen + 1 + strlen(suffix) + 1;
			char  *b = hearth_arena_alloc(a, n);
			if (b == NULL)
				return hearth_err_set(err, HEARTH_ELIMIT,
				    "request memory limit reached");
			snprintf(b, n, "%.*s.%s", (int) applen, app, suffix);
			name = b;
		}
		int64_t rate = is_time			    ? INGEST_NS_PER_S
		    : sp->unit == HEARTH_SPEEDSCOPE_BYTES ? 0
							  : ingest_sample_rate(
							      p->sample_rate);
		ingest_tree_type t;
		if (ingest_tree_type_of(name, rate, &t, res, err) != 0)
			return err->code;
		hearth_label extra = { "profile_name", sp->name };
		if (ingest_tree_store(a, p, "speedscope", name, nl, nn, &t,
			sp->upload, sp->name[0] != '\0' ? &extra : NULL, res,
			err) != 0)
			return err->code;
	}
	return 0;
}

/* pprof, raw or from a multipart part (ingest-http.md §5.2, §5.3, §7). */
static int
ingest_pprof_path(hearth_arena *a, const hearth_ingest_params *p,
    const char *app, const hearth_label *nl, size_t nn, const uint8_t *prof,
    size_t plen, const hearth_stconfig *stc, hearth_ingest_result *res,
    hearth_err *err)
{
	if (plen == 0)
		return 0; /* missing profile: 200 with nothing stored */
	size_t max_bytes = (size_t) p->limits->ingestion_body_limit_mb << 20;
	hearth_pprof_opts po = {
		.max_profile_size_bytes =
		    (size_t) p->limits->max_profile_size_bytes,
		.max_samples = (size_t) p->limits->max_profile_stacktrace_samples,
		.max_stack_depth =
		    (size_t) p->limits->max_profile_stacktrace_depth,
		.max_symbol_length =
		    (size_t) p->limits->max_profile_symbol_value_length,
		.spy_name	  = p->spy_name,
		.max_decompressed = max_bytes ? max_bytes : ((size_t) 256 << 20),
	};
	hearth_pprof_result pr;
	if (hearth_pprof_decode(a, prof, plen, &po, &pr, err) != 0)
		return ingest_fail(res,
		    err->code == HEARTH_ETOOLARGE ? 413 : 422,
		    err->code == HEARTH_ELIMIT ? "limit" : "parse_error", err);
	hearth_upload *u = pr.upload;
	res->decoded_bytes     = pr.decoded_bytes;
	res->truncated_stacks  = pr.truncated_stacks;
	res->truncated_symbols = pr.truncated_symbols;
	if (u == NULL || u->n_sample_types == 0 || u->n_groups == 0)
		return 0;

	ingest_shape s = { 0 };
	int64_t ts = u->time_nanos;
	if (ts <= 0 || ingest_year_1970(ts))
		ts = hearth_attime_parse(p->from, p->from ? strlen(p->from) : 0,
		    p->now_ns);
	s.time_ns     = ts;
	s.duration_ns = u->duration_nanos > 0 ? u->duration_nanos : 0;
	if (ingest_check_time(p, s.time_ns, res, 422, err) != 0)
		return err->code;
	if (ingest_shape_from_name(a, nl, nn, &s, err) != 0)
		return ingest_fail(res, 422, "invalid_labels", err);
	if (!ingest_shape_has(&s, "service_name") &&
	    ingest_shape_put(a, &s, "service_name", app, err) != 0)
		return err->code;
	const char **types = hearth_arena_calloc(a, u->n_sample_types,
	    sizeof(*types));
	if (types == NULL)
		return hearth_err_set(err, HEARTH_ELIMIT, "request memory limit reached");
	for (size_t i = 0; i < u->n_sample_types; i++)
		types[i] = u->sample_types[i].type;
	const char *pname = hearth_stconfig_profile_name(stc, types,
	    u->n_sample_types);
	if (pname == NULL || *pname == '\0') {
		hearth_err_set(err, HEARTH_EINVAL,
		    "pprof: cannot derive a profile name from the sample types");
		return ingest_fail(res, 422, "parse_error", err);
	}
	if (ingest_shape_put(a, &s, "__name__", pname, err) != 0 ||
	    ingest_shape_put(a, &s, "pyroscope_spy",
	        p->spy_name && *p->spy_name ? p->spy_name : "unknown", err) != 0)
		return err->code;
	if (ingest_series(a, p->limits, &s, u, res, err) != 0)
		return ingest_fail(res, 422, "invalid_labels", err);
	return 0;
}

static int
ingest_has(const char *s, const char *needle)
{
	return s != NULL && strstr(s, needle) != NULL;
}

/* JFR (ingest-http.md §5.4): the recording as the body, or the `jfr`
 * part of a multipart form whose optional `labels` part gives the labels
 * of the events' context ids. One profile per event kind, each stored like
 * a pprof upload under its own __name__, at `from` for `until - from`. */
static int
ingest_jfr_path(hearth_arena *a, const hearth_ingest_params *p,
    const char *app, const hearth_label *nl, size_t nn, const uint8_t *body,
    size_t len, hearth_ingest_result *res, hearth_err *err)
{
	size_t max_bytes = (size_t) p->limits->ingestion_body_limit_mb << 20;
	hearth_jfr_contexts *ctx = NULL;
	if (ingest_has(p->content_type, "multipart/form-data")) {
		const char *boundary = NULL;
		size_t	    blen     = 0;
		hearth_multipart_part *parts = NULL;
		size_t		       n     = 0;
		if (hearth_multipart_boundary(p->content_type, &boundary,
		        &blen, err) != 0 ||
		    hearth_multipart_parse(a, (const char *) body, len,
		        boundary, blen, &parts, &n, err) != 0)
			return ingest_fail(res, 422, "parse_error", err);
		const hearth_multipart_part *rec = NULL, *labels = NULL;
		for (size_t i = 0; i < n; i++) {
			if (parts[i].name == NULL)
				continue;
			if (strcmp(parts[i].name, "jfr") == 0)
				rec = &parts[i];
			else if (strcmp(parts[i].name, "labels") == 0)
				labels = &parts[i];
		}
		if (rec == NULL || rec->len == 0) {
			hearth_err_set(err, HEARTH_EINVAL,
			    "multipart: no \"jfr\" part (format=jfr sends the "
			    "recording in a part named jfr)");
			return ingest_fail(res, 422, "parse_error", err);
		}
		if (labels != NULL && labels->len > 0 &&
		    hearth_jfr_contexts_decode(a, (const uint8_t *) labels->data,
		        labels->len, max_bytes, &ctx, err) != 0)
			return ingest_fail(res, 422, "parse_error", err);
		body = (const uint8_t *) rec->data;
		len  = rec->len;
	}
	hearth_jfr_opts o = {
		.sample_rate	   = ingest_sample_rate(p->sample_rate),
		.max_samples	   =
		    (size_t) p->limits->max_profile_stacktrace_samples,
		.max_stack_depth   =
		    (size_t) p->limits->max_profile_stacktrace_depth,
		.max_symbol_length =
		    (size_t) p->limits->max_profile_symbol_value_length,
		.max_decompressed  = max_bytes,
		.contexts	   = ctx,
	};
	hearth_jfr_result jr;
	if (hearth_jfr_decode(a, body, len, &o, &jr, err) != 0)
		return ingest_fail(res,
		    err->code == HEARTH_ETOOLARGE ? 413 : 422,
		    err->code == HEARTH_ELIMIT ? "limit" : "parse_error", err);
	res->decoded_bytes     = jr.decoded_bytes;
	res->truncated_stacks   = jr.truncated_stacks;
	res->truncated_symbols  = jr.truncated_symbols;
	res->unresolved_samples = jr.dropped_samples;
	int64_t from = hearth_attime_parse(p->from,
	    p->from ? strlen(p->from) : 0, p->now_ns);
	int64_t until = hearth_attime_parse(p->until,
	    p->until ? strlen(p->until) : 0, p->now_ns);
	if (ingest_check_time(p, from, res, 422, err) != 0)
		return err->code;
	for (size_t i = 0; i < jr.n_profiles; i++) {
		const hearth_jfr_profile *jp = &jr.profiles[i];
		ingest_shape s = { .time_ns = from,
			.duration_ns = until > from ? until - from : 0 };
		if (ingest_shape_from_name(a, nl, nn, &s, err) != 0)
			return ingest_fail(res, 422, "invalid_labels", err);
		/* The app name is service_name, or app_name when the name
		 * has a service_name of its own (ingest-http.md §5.4). */
		if (ingest_shape_put(a, &s,
		        ingest_shape_has(&s, "service_name") ? "app_name"
							     : "service_name",
		        app, err) != 0 ||
		    ingest_shape_put(a, &s, "__name__", jp->name, err) != 0 ||
		    ingest_shape_put(a, &s, "pyroscope_spy",
		        p->spy_name && *p->spy_name ? p->spy_name : "unknown",
		        err) != 0 ||
		    (jr.event_mode != NULL &&
			ingest_shape_put(a, &s, "jfr_event", jr.event_mode,
			    err) != 0))
			return err->code;
		if (ingest_series(a, p->limits, &s, jp->upload, res, err) != 0)
			return ingest_fail(res, 422, "invalid_labels", err);
	}
	return 0;
}

int
hearth_ingest_build_upload(hearth_arena *a, const hearth_upload *u,
    const hearth_label *labels, size_t n_labels, int64_t time_ns,
    int64_t duration_ns, const hearth_limits *limits,
    hearth_ingest_result *res, hearth_err *err)
{
	memset(res, 0, sizeof(*res));
	hearth_err_clear(err);
	if (u == NULL || u->n_sample_types == 0 || u->n_groups == 0)
		return 0;
	ingest_shape s = { .time_ns = time_ns, .duration_ns = duration_ns };
	for (size_t i = 0; i < n_labels; i++)
		if (ingest_shape_put(a, &s, labels[i].name, labels[i].value,
		        err) != 0)
			return err->code;
	if (ingest_series(a, limits, &s, u, res, err) != 0) {
		res->status = 422;
		res->reason = "invalid_labels";
		return err->code;
	}
	return 0;
}

static int
ingest_multipart(hearth_arena *a, const hearth_ingest_params *p,
    const char *app, const hearth_label *nl, size_t nn, const uint8_t *body,
    size_t len, hearth_ingest_result *res, hearth_err *err)
{
	const char *boundary = NULL;
	size_t	    blen     = 0;
	if (hearth_multipart_boundary(p->content_type, &boundary, &blen, err) != 0)
		return ingest_fail(res, 422, "parse_error", err);
	hearth_multipart_part *parts = NULL;
	size_t		       n     = 0;
	if (hearth_multipart_parse(a, (const char *) body, len, boundary, blen,
	        &parts, &n, err) != 0)
		return ingest_fail(res, 422, "parse_error", err);
	const hearth_multipart_part *profile = NULL, *prev = NULL, *stc = NULL;
	for (size_t i = 0; i < n; i++) {
		if (parts[i].name == NULL)
			continue;
		if (strcmp(parts[i].name, "profile") == 0)
			profile = &parts[i];
		else if (strcmp(parts[i].name, "prev_profile") == 0)
			prev = &parts[i];
		else if (strcmp(parts[i].name, "sample_type_config") == 0)
			stc = &parts[i];
	}
	if (prev != NULL && prev->len > 0) {
		hearth_err_set(err, HEARTH_EINVAL,
		    "multipart: non-empty prev_profile part: unsupported client "
		    "version (send delta profiles, as current SDKs do)");
		return ingest_fail(res, 422, "unsupported_client", err);
	}
	hearth_stconfig *cfg = NULL;
	if (stc != NULL && stc->len > 0 &&
	    hearth_stconfig_parse(a, stc->data, stc->len, &cfg, err) != 0) {
		hearth_err_prefix(err, "multipart: sample_type_config");
		return ingest_fail(res, 422, "parse_error", err);
	}
	if (profile == NULL)
		return 0; /* upstream: 200, nothing stored */
	/* Old .NET agents send spyName=unknown; their sample_type_config with
	 * an "inuse-space" key gives them away (ingest-http.md §5.3). */
	hearth_ingest_params dp = *p;
	if ((p->spy_name == NULL || strcmp(p->spy_name, "unknown") == 0) &&
	    cfg != NULL && hearth_stconfig_find(cfg, "inuse-space") != NULL) {
		dp.spy_name = "dotnetspy";
		p	    = &dp;
	}
	return ingest_pprof_path(a, p, app, nl, nn,
	    (const uint8_t *) profile->data, profile->len, cfg, res, err);
}

int
hearth_ingest_build(hearth_arena *a, const hearth_ingest_params *p,
    const uint8_t *body, size_t len, hearth_ingest_result *res,
    hearth_err *err)
{
	memset(res, 0, sizeof(*res));
	hearth_err_clear(err);
	if (p->name == NULL || p->name[0] == '\0') {
		hearth_err_set(err, HEARTH_EINVAL,
		    "name: the \"name\" query parameter is required "
		    "(e.g. name=myapp.cpu{env=prod})");
		return ingest_fail(res, 400, "invalid_name", err);
	}
	const char   *app = NULL;
	hearth_label *nl  = NULL;
	size_t	      nn  = 0;
	if (hearth_labels_parse_ingest_name(a, p->name, strlen(p->name), &app,
	        &nl, &nn, err) != 0)
		return ingest_fail(res, 400, "invalid_name", err);

	/* Content-Encoding: gzip is decoded here (upstream ignores it; old
	 * pyroscope-rs sent it), with the body limit as the output cap. */
	size_t max_bytes = (size_t) p->limits->ingestion_body_limit_mb << 20;
	if (max_bytes == 0)
		max_bytes = (size_t) 256 << 20;
	if (p->content_encoding != NULL &&
	    strcasecmp(p->content_encoding, "gzip") == 0) {
		uint8_t *out	 = NULL;
		size_t	 out_len = 0;
		if (hearth_gzip_decode(a, body, len, max_bytes, &out, &out_len,
		        err) != 0) {
			hearth_err_prefix(err, "Content-Encoding: gzip");
			return ingest_fail(res,
			    err->code == HEARTH_ETOOLARGE ? 413 : 422,
			    err->code == HEARTH_ETOOLARGE ? "body_too_large"
							  : "parse_error",
			    err);
		}
		body = out;
		len  = out_len;
	} else if (p->content_encoding != NULL && *p->content_encoding != '\0' &&
	    strcasecmp(p->content_encoding, "identity") != 0) {
		hearth_err_set(err, HEARTH_EINVAL,
		    "unsupported Content-Encoding \"%s\" (supported: gzip, "
		    "identity)", p->content_encoding);
		return ingest_fail(res, 415, "unsupported_encoding", err);
	}
	res->decoded_bytes = len;
	if (len == 0) {
		hearth_err_set(err, HEARTH_EINVAL, "empty request body: "
		    "send a profile (folded text, pprof or multipart form)");
		return ingest_fail(res, 400, "empty_body", err);
	}

	const char *f  = p->format;
	const char *ct = p->content_type;
	/* Upstream's dispatch order (ingest-http.md §5): trie, tree (by
	 * format or Content-Type), lines, jfr, pprof, speedscope, multipart,
	 * then folded. */
	if ((f != NULL && strcmp(f, "trie") == 0) ||
	    ingest_has(ct, "binary/octet-stream+trie"))
		return ingest_tree_path(a, p, app, nl, nn, (const char *) body,
		    len, HEARTH_FOLDED_TRIE, res, err);
	if ((f != NULL && strcmp(f, "tree") == 0) ||
	    ingest_has(ct, "binary/octet-stream+tree"))
		return ingest_tree_path(a, p, app, nl, nn, (const char *) body,
		    len, HEARTH_FOLDED_TREE, res, err);
	if (f != NULL && strcmp(f, "lines") == 0)
		return ingest_tree_path(a, p, app, nl, nn, (const char *) body,
		    len, HEARTH_FOLDED_LINES, res, err);
	if (f != NULL && strcmp(f, "jfr") == 0)
		return ingest_jfr_path(a, p, app, nl, nn, body, len, res, err);
	if (f != NULL && strcmp(f, "pprof") == 0)
		return ingest_pprof_path(a, p, app, nl, nn, body, len, NULL,
		    res, err);
	if (f != NULL && strcmp(f, "speedscope") == 0)
		return ingest_speedscope_path(a, p, app, nl, nn,
		    (const char *) body, len, res, err);
	if (ingest_has(ct, "multipart/form-data"))
		return ingest_multipart(a, p, app, nl, nn, body, len, res, err);
	if (f == NULL || *f == '\0' || strcmp(f, "folded") == 0 ||
	    strcmp(f, "groups") == 0)
		return ingest_tree_path(a, p, app, nl, nn, (const char *) body,
		    len, HEARTH_FOLDED_GROUPS, res, err);
	hearth_err_set(err, HEARTH_EINVAL,
	    "unknown format \"%s\" (supported: folded, lines, pprof, jfr, "
	    "speedscope, trie, tree; or a multipart/form-data body)", f);
	return ingest_fail(res, 400, "unknown_format", err);
}
