/* speedscope: speedscope JSON into uploads (speedscope.h). Read with
 * pbjson's JSON lexer (pbjson_impl.h). The top object is read once for
 * $schema and the shared frames, remembering where "profiles" is, and the
 * profiles are read after it: the keys may come in any order. A profile's
 * samples, weights and events are read after its own keys for the same
 * reason, from where they were seen, without copying them first. */
#include "speedscope.h"

#include "pbjson.h"
#include "pbjson_impl.h"
#include "utf8.h"

#include <math.h>
#include <string.h>

typedef struct ss_frame {
	const char *s;
	size_t	    len;
} ss_frame;

/* One output profile (same name and unit merged) being built. */
typedef struct ss_out {
	const char	      *name;
	size_t		       name_len;
	hearth_speedscope_unit unit;
	const char	      *unit_name;
	hearth_upload_builder *b;
	size_t		       n_stacks; /* distinct stacks so far */
	size_t		       samples;	 /* values added */
} ss_out;

typedef struct ss_dec {
	hearth_pbjson_dec	      j;
	const hearth_speedscope_opts *o;
	ss_frame		     *frames;
	size_t			      n_frames, cap_frames;
	ss_out			     *outs;
	size_t			      n_outs, cap_outs;
	/* The current output's string id of each frame (valid when
	 * frame_owner[f] == that output's index + 1). */
	uint32_t *frame_sid, *frame_owner;
	/* A stack being built: string ids, root first. */
	uint32_t *stack;
	size_t	  cap_stack;
} ss_dec;

/* Where a member of a profile object was seen (SIZE_MAX: absent). */
typedef struct ss_prof {
	size_t	    index; /* in the file, for messages */
	const char *type;
	size_t	    type_len;
	const char *name;
	size_t	    name_len;
	const char *unit;
	size_t	    unit_len;
	double	    start;
	size_t	    samples_at, weights_at, events_at;
} ss_prof;

static const struct {
	const char	      *name;
	hearth_speedscope_unit unit;
	double		       scale; /* to hearth's unit */
} ss_units[] = {
	{ "none", HEARTH_SPEEDSCOPE_NONE, 1 },
	{ "nanoseconds", HEARTH_SPEEDSCOPE_NANOSECONDS, 1 },
	{ "microseconds", HEARTH_SPEEDSCOPE_MICROSECONDS, 1e3 },
	{ "milliseconds", HEARTH_SPEEDSCOPE_MILLISECONDS, 1e6 },
	{ "seconds", HEARTH_SPEEDSCOPE_SECONDS, 1e9 },
	{ "bytes", HEARTH_SPEEDSCOPE_BYTES, 1 },
};

int
hearth_speedscope_unit_is_time(hearth_speedscope_unit u)
{
	return u == HEARTH_SPEEDSCOPE_NANOSECONDS ||
	    u == HEARTH_SPEEDSCOPE_MICROSECONDS ||
	    u == HEARTH_SPEEDSCOPE_MILLISECONDS ||
	    u == HEARTH_SPEEDSCOPE_SECONDS;
}

static int
ss_nomem(ss_dec *d)
{
	return hearth_err_set(d->j.err, HEARTH_ELIMIT,
	    "speedscope: request memory limit reached while decoding");
}

/* ---- JSON walking ------------------------------------------------------ */

/* Enter an object or array: 1 when something follows the opening
 * bracket, 0 when it closes at once (consumed), -1 on error. */
static int
ss_open(hearth_pbjson_dec *d, char open, char close, const char *what)
{
	if (hearth_pbjson_expect(d, open, what) != 0)
		return -1;
	if (++d->depth > HEARTH_PBJSON_MAX_DEPTH) {
		hearth_pbjson_fail(d, hearth_pbjson_off(d),
		    "nesting deeper than %d levels", HEARTH_PBJSON_MAX_DEPTH);
		return -1;
	}
	hearth_pbjson_ws(d);
	if (d->p < d->end && *d->p == close) {
		d->p++;
		d->depth--;
		return 0;
	}
	return 1;
}

/* The next member of an object: 1 with its key in *k and d->p at its
 * value, 0 after the closing '}', -1 on error. *first starts at 1. */
static int
ss_member(hearth_pbjson_dec *d, int *first, hearth_pbjson_tok *k)
{
	hearth_pbjson_ws(d);
	if (*first) {
		*first = 0;
		int r  = ss_open(d, '{', '}', "'{'");
		if (r <= 0)
			return r;
	} else if (d->p < d->end && *d->p == ',') {
		d->p++;
	} else {
		if (hearth_pbjson_expect(d, '}', "',' or '}'") != 0)
			return -1;
		d->depth--;
		return 0;
	}
	hearth_pbjson_ws(d);
	if (d->p >= d->end || *d->p != '"') {
		hearth_pbjson_expect(d, '"', "a key string");
		return -1;
	}
	if (hearth_pbjson_string(d, k) != 0 ||
	    hearth_pbjson_expect(d, ':', "':'") != 0)
		return -1;
	hearth_pbjson_ws(d);
	return 1;
}

/* The next element of an array: 1 with d->p at it, 0 after ']', -1. */
static int
ss_element(hearth_pbjson_dec *d, int *first)
{
	hearth_pbjson_ws(d);
	if (*first) {
		*first = 0;
		return ss_open(d, '[', ']', "'['");
	}
	if (d->p < d->end && *d->p == ',') {
		d->p++;
		hearth_pbjson_ws(d);
		return 1;
	}
	if (hearth_pbjson_expect(d, ']', "',' or ']'") != 0)
		return -1;
	d->depth--;
	return 0;
}

static int
ss_key(const hearth_pbjson_tok *k, const char *name)
{
	return k->len == strlen(name) && memcmp(k->s, name, k->len) == 0;
}

static int
ss_string(hearth_pbjson_dec *d, const char *what, const char **s, size_t *n)
{
	hearth_pbjson_tok t;
	if (d->p >= d->end || *d->p != '"')
		return hearth_pbjson_fail(d, hearth_pbjson_off(d),
		    "%s must be a string", what);
	if (hearth_pbjson_string(d, &t) != 0)
		return d->err->code;
	*s = t.s;
	*n = t.len;
	return 0;
}

static int
ss_number(hearth_pbjson_dec *d, const char *what, double *v)
{
	hearth_pbjson_tok t;
	if (d->p >= d->end || (*d->p != '-' && (*d->p < '0' || *d->p > '9')))
		return hearth_pbjson_fail(d, hearth_pbjson_off(d),
		    "%s must be a number", what);
	if (hearth_pbjson_number_tok(d, &t) != 0 ||
	    hearth_pbjson_strtod(d, t.s, t.len, v) != 0)
		return d->err->code;
	if (!isfinite(*v))
		return hearth_pbjson_fail(d, t.at, "%s is out of range", what);
	return 0;
}

/* A frame index: an integer in [0, n_frames). */
static int
ss_frame_index(ss_dec *d, size_t *f)
{
	size_t at = hearth_pbjson_off(&d->j);
	double v;
	if (ss_number(&d->j, "a frame index", &v) != 0)
		return d->j.err->code;
	if (v < 0 || v != floor(v) || v >= (double) d->n_frames)
		return hearth_pbjson_fail(&d->j, at,
		    "frame index %g is not one of the %zu shared frames", v,
		    d->n_frames);
	*f = (size_t) v;
	return 0;
}

/* ---- the top object --------------------------------------------------- */

static int
ss_frames(ss_dec *d)
{
	hearth_pbjson_dec *j = &d->j;
	int		   first = 1, r;
	while ((r = ss_element(j, &first)) == 1) {
		hearth_pbjson_tok k;
		int		  mfirst = 1, m;
		ss_frame	  fr	 = { "unknown", 7 };
		while ((m = ss_member(j, &mfirst, &k)) == 1) {
			if (ss_key(&k, "name")) {
				if (ss_string(j, "a frame's name", &fr.s,
					&fr.len) != 0)
					return j->err->code;
				continue;
			}
			if (hearth_pbjson_skip(j) != 0)
				return j->err->code;
		}
		if (m < 0)
			return j->err->code;
		/* Names become C strings downstream: a NUL would cut them. */
		if (memchr(fr.s, '\0', fr.len) != NULL)
			return hearth_err_set(j->err, HEARTH_EINVAL,
			    "speedscope: frame %zu: its name contains a NUL "
			    "character",
			    d->n_frames);
		if (fr.len == 0) { /* as JFR's unnamed methods */
			fr.s   = "unknown";
			fr.len = 7;
		}
		if (hearth_arena_grow(j->a, (void **) &d->frames,
			&d->cap_frames, d->n_frames + 1, sizeof(*d->frames)) != 0)
			return ss_nomem(d);
		d->frames[d->n_frames++] = fr;
	}
	return r < 0 ? j->err->code : 0;
}

static int
ss_shared(ss_dec *d)
{
	hearth_pbjson_dec *j = &d->j;
	hearth_pbjson_tok  k;
	int		   first = 1, m;
	while ((m = ss_member(j, &first, &k)) == 1) {
		int rc = ss_key(&k, "frames") ? ss_frames(d)
					       : hearth_pbjson_skip(j);
		if (rc != 0)
			return rc;
	}
	return m < 0 ? j->err->code : 0;
}

/* ---- building -------------------------------------------------------- */

/* The output for (name, unit), created when new. */
static int
ss_out_get(ss_dec *d, const ss_prof *p, hearth_speedscope_unit unit,
    const char *unit_name, size_t *idx)
{
	for (size_t i = 0; i < d->n_outs; i++)
		if (d->outs[i].unit == unit && d->outs[i].name_len == p->name_len &&
		    memcmp(d->outs[i].name, p->name, p->name_len) == 0) {
			*idx = i;
			return 0;
		}
	if (d->n_outs == HEARTH_SPEEDSCOPE_MAX_PROFILES)
		return hearth_err_set(d->j.err, HEARTH_ELIMIT,
		    "speedscope: more than %d profiles of distinct names and "
		    "units in one file",
		    HEARTH_SPEEDSCOPE_MAX_PROFILES);
	if (hearth_arena_grow(d->j.a, (void **) &d->outs, &d->cap_outs,
		d->n_outs + 1, sizeof(*d->outs)) != 0)
		return ss_nomem(d);
	ss_out *o = &d->outs[d->n_outs];
	memset(o, 0, sizeof(*o));
	o->name	     = p->name;
	o->name_len  = p->name_len;
	o->unit	     = unit;
	o->unit_name = unit_name;
	int rc	     = hearth_upload_builder_new(d->j.a, 1, &o->b, d->j.err);
	if (rc != 0)
		return rc;
	*idx = d->n_outs++;
	return 0;
}

/* String id of frame f in output oi (interned once per output). */
static int
ss_frame_sid(ss_dec *d, size_t oi, size_t f, uint32_t *sid)
{
	if (d->frame_owner[f] == oi + 1) {
		*sid = d->frame_sid[f];
		return 0;
	}
	const char *s	  = d->frames[f].s;
	size_t	    len	  = d->frames[f].len;
	size_t	    start = hearth_utf8_tail(s, len,
		   d->o != NULL ? d->o->max_symbol_length : 0);
	if (start > 0 && d->o->truncated_symbols != NULL)
		(*d->o->truncated_symbols)++;
	int rc = hearth_upload_builder_string(d->outs[oi].b, s + start,
	    len - start, sid, d->j.err);
	if (rc != 0)
		return rc;
	d->frame_owner[f] = (uint32_t) oi + 1;
	d->frame_sid[f]	  = *sid;
	return 0;
}

/* Frames kept per stack (the root side): max_stack_depth or all. */
static size_t
ss_depth(const ss_dec *d)
{
	return d->o != NULL && d->o->max_stack_depth > 0 ? d->o->max_stack_depth
							 : SIZE_MAX;
}

/* Add value (already in hearth's unit) for the n frames of d->stack to
 * output oi, applying the depth and stack-count limits (only the frames
 * within the depth were interned). */
static int
ss_add(ss_dec *d, size_t oi, size_t n, double value, size_t prof)
{
	ss_out *o = &d->outs[oi];
	if (value < 0.5)
		return 0; /* rounds to nothing */
	if (value >= 9.2e18)
		return hearth_err_set(d->j.err, HEARTH_EINVAL,
		    "speedscope: profile %zu: a value of %g %s does not fit "
		    "64 bits",
		    prof, value, o->unit_name);
	if (n > ss_depth(d)) {
		n = ss_depth(d);
		if (d->o->truncated_stacks != NULL)
			(*d->o->truncated_stacks)++;
	}
	uint32_t stack;
	int	 rc = hearth_upload_builder_stack(o->b, d->stack, n, &stack,
	     d->j.err);
	if (rc != 0)
		return rc;
	if (stack >= o->n_stacks) {
		o->n_stacks = (size_t) stack + 1;
		size_t lim  = d->o != NULL ? d->o->max_samples : 0;
		if (lim > 0 && o->n_stacks > lim)
			return hearth_err_set(d->j.err, HEARTH_ELIMIT,
			    "speedscope: profile %zu has more distinct stacks "
			    "than max_profile_stacktrace_samples (limit: %zu)",
			    prof, lim);
	}
	int64_t v = (int64_t) llround(value);
	o->samples++;
	return hearth_upload_builder_add(o->b, NULL, 0, stack, &v, d->j.err);
}

/* Room for n frames in d->stack (checked here first: once per frame). */
static int
ss_stack_reserve(ss_dec *d, size_t n)
{
	if (n <= d->cap_stack)
		return 0;
	return hearth_arena_grow(d->j.a, (void **) &d->stack, &d->cap_stack, n,
		   sizeof(*d->stack)) != 0
	    ? ss_nomem(d)
	    : 0;
}

static int
ss_sampled(ss_dec *d, const ss_prof *p, size_t oi, double scale)
{
	if (p->samples_at == SIZE_MAX || p->weights_at == SIZE_MAX)
		return hearth_err_set(d->j.err, HEARTH_EINVAL,
		    "speedscope: profile %zu is sampled but has no %s",
		    p->index, p->samples_at == SIZE_MAX ? "samples" : "weights");
	hearth_pbjson_dec *s = &d->j, w = d->j;
	s->p		     = s->start + p->samples_at;
	w.p		     = w.start + p->weights_at;
	int sfirst = 1, wfirst = 1;
	for (;;) {
		int rs = ss_element(s, &sfirst), rw = ss_element(&w, &wfirst);
		if (rs < 0 || rw < 0)
			return d->j.err->code;
		if (rs != rw)
			return hearth_err_set(d->j.err, HEARTH_EINVAL,
			    "speedscope: profile %zu has %s samples than "
			    "weights",
			    p->index, rs ? "more" : "fewer");
		if (rs == 0)
			return 0;
		double weight;
		size_t at = hearth_pbjson_off(&w);
		if (ss_number(&w, "a weight", &weight) != 0)
			return d->j.err->code;
		if (weight < 0)
			return hearth_pbjson_fail(&w, at, "negative weight %g",
			    weight);
		size_t n = 0, f;
		int    ffirst = 1, rf;
		while ((rf = ss_element(s, &ffirst)) == 1) {
			if (ss_frame_index(d, &f) != 0)
				return d->j.err->code;
			if (n < ss_depth(d) &&
			    (ss_stack_reserve(d, n + 1) != 0 ||
				ss_frame_sid(d, oi, f, &d->stack[n]) != 0))
				return d->j.err->code;
			n++;
		}
		if (rf < 0)
			return d->j.err->code;
		if (ss_add(d, oi, n, weight * scale, p->index) != 0)
			return d->j.err->code;
	}
}

static int
ss_evented(ss_dec *d, const ss_prof *p, size_t oi, double scale)
{
	if (p->events_at == SIZE_MAX)
		return hearth_err_set(d->j.err, HEARTH_EINVAL,
		    "speedscope: profile %zu is evented but has no events",
		    p->index);
	hearth_pbjson_dec *j = &d->j;
	j->p		     = j->start + p->events_at;
	/* The open frames (indexes) beside their string ids in d->stack. */
	size_t *open = NULL, cap_open = 0, n = 0;
	double	last = p->start;
	int	first = 1, r;
	while ((r = ss_element(j, &first)) == 1) {
		size_t		  at = hearth_pbjson_off(j);
		hearth_pbjson_tok k;
		int		  mfirst = 1, m;
		const char	 *type	 = NULL;
		size_t		  type_len = 0, f = SIZE_MAX;
		double		  when = NAN;
		while ((m = ss_member(j, &mfirst, &k)) == 1) {
			int rc;
			if (ss_key(&k, "type"))
				rc = ss_string(j, "an event's type", &type,
				    &type_len);
			else if (ss_key(&k, "frame"))
				rc = ss_frame_index(d, &f);
			else if (ss_key(&k, "at"))
				rc = ss_number(j, "an event's at", &when);
			else
				rc = hearth_pbjson_skip(j);
			if (rc != 0)
				return rc;
		}
		if (m < 0)
			return j->err->code;
		int is_open  = type_len == 1 && type[0] == 'O';
		int is_close = type_len == 1 && type[0] == 'C';
		if ((!is_open && !is_close) || f == SIZE_MAX || isnan(when))
			return hearth_pbjson_fail(j, at,
			    "an event needs \"type\" \"O\" or \"C\", \"frame\" "
			    "and \"at\"");
		if (when < last)
			return hearth_pbjson_fail(j, at,
			    "events out of order (at %g after %g)", when, last);
		if (n > 0 && ss_add(d, oi, n, (when - last) * scale, p->index))
			return j->err->code;
		last = when;
		if (is_close) {
			if (n == 0 || open[n - 1] != f)
				return hearth_pbjson_fail(j, at,
				    "closing frame %zu, which is not the "
				    "innermost open frame",
				    f);
			n--;
			continue;
		}
		if (hearth_arena_grow(j->a, (void **) &open, &cap_open, n + 1,
			sizeof(*open)) != 0)
			return ss_nomem(d);
		if (n < ss_depth(d) &&
		    (ss_stack_reserve(d, n + 1) != 0 ||
			ss_frame_sid(d, oi, f, &d->stack[n]) != 0))
			return j->err->code;
		open[n++] = f;
	}
	return r < 0 ? j->err->code : 0;
}

/* A profile object at d->p: its members, then its samples or events. */
static int
ss_profile(ss_dec *d, size_t index)
{
	hearth_pbjson_dec *j = &d->j;
	ss_prof		   p = { .index = index, .name = "",
		       .samples_at	     = SIZE_MAX,
		       .weights_at	     = SIZE_MAX,
		       .events_at	     = SIZE_MAX };
	hearth_pbjson_tok  k;
	int		   first = 1, m;
	while ((m = ss_member(j, &first, &k)) == 1) {
		int rc = 0;
		if (ss_key(&k, "type"))
			rc = ss_string(j, "a profile's type", &p.type,
			    &p.type_len);
		else if (ss_key(&k, "name"))
			rc = ss_string(j, "a profile's name", &p.name,
			    &p.name_len);
		else if (ss_key(&k, "unit"))
			rc = ss_string(j, "a profile's unit", &p.unit,
			    &p.unit_len);
		else if (ss_key(&k, "startValue"))
			rc = ss_number(j, "startValue", &p.start);
		else {
			if (ss_key(&k, "samples"))
				p.samples_at = hearth_pbjson_off(j);
			else if (ss_key(&k, "weights"))
				p.weights_at = hearth_pbjson_off(j);
			else if (ss_key(&k, "events"))
				p.events_at = hearth_pbjson_off(j);
			rc = hearth_pbjson_skip(j);
		}
		if (rc != 0)
			return rc;
	}
	if (m < 0)
		return j->err->code;
	if (memchr(p.name, '\0', p.name_len) != NULL)
		return hearth_err_set(j->err, HEARTH_EINVAL,
		    "speedscope: profile %zu: its name contains a NUL character",
		    index);
	const char *after = j->p; /* where the profiles array goes on */
	unsigned    depth = j->depth;
	size_t	    u	  = 0;
	while (u < sizeof(ss_units) / sizeof(ss_units[0]) &&
	    !(p.unit != NULL && strlen(ss_units[u].name) == p.unit_len &&
		memcmp(ss_units[u].name, p.unit, p.unit_len) == 0))
		u++;
	if (u == sizeof(ss_units) / sizeof(ss_units[0]))
		return hearth_err_set(j->err, HEARTH_EINVAL,
		    "speedscope: profile %zu: unit \"%.*s\" is not one of none, "
		    "nanoseconds, microseconds, milliseconds, seconds, bytes",
		    index, p.unit != NULL ? (int) p.unit_len : 0,
		    p.unit != NULL ? p.unit : "");
	int sampled = p.type_len == 7 && memcmp(p.type, "sampled", 7) == 0;
	int evented = p.type_len == 7 && memcmp(p.type, "evented", 7) == 0;
	if (!sampled && !evented)
		return hearth_err_set(j->err, HEARTH_EINVAL,
		    "speedscope: profile %zu: type \"%.*s\" is not sampled or "
		    "evented",
		    index, p.type != NULL ? (int) p.type_len : 0,
		    p.type != NULL ? p.type : "");
	size_t oi = 0;
	int    rc = ss_out_get(d, &p, ss_units[u].unit, ss_units[u].name, &oi);
	if (rc != 0)
		return rc;
	j->depth = 0;
	rc	 = sampled ? ss_sampled(d, &p, oi, ss_units[u].scale)
			   : ss_evented(d, &p, oi, ss_units[u].scale);
	j->p	 = after;
	j->depth = depth;
	return rc;
}

static int
ss_profiles(ss_dec *d, size_t at)
{
	hearth_pbjson_dec *j = &d->j;
	j->p		     = j->start + at;
	int first = 1, r;
	for (size_t i = 0; (r = ss_element(j, &first)) == 1; i++)
		if (ss_profile(d, i) != 0)
			return j->err->code;
	return r < 0 ? j->err->code : 0;
}

static int
ss_finish(ss_dec *d, hearth_speedscope_result *res)
{
	res->profiles = hearth_arena_calloc(d->j.a, d->n_outs ? d->n_outs : 1,
	    sizeof(*res->profiles));
	if (res->profiles == NULL)
		return ss_nomem(d);
	for (size_t i = 0; i < d->n_outs; i++) {
		ss_out			  *o = &d->outs[i];
		hearth_speedscope_profile *p = &res->profiles[i];
		int rc = hearth_upload_builder_finish(o->b, &p->upload, d->j.err);
		if (rc != 0)
			return rc;
		p->name = hearth_arena_strndup(d->j.a, o->name, o->name_len);
		if (p->name == NULL)
			return ss_nomem(d);
		p->unit	     = o->unit;
		p->unit_name = o->unit_name;
		p->samples   = o->samples;
	}
	res->n_profiles = d->n_outs;
	return 0;
}

int
hearth_speedscope_parse(hearth_arena *a, const char *json, size_t len,
    const hearth_speedscope_opts *opts, hearth_speedscope_result *res,
    hearth_err *err)
{
	ss_dec d;
	memset(&d, 0, sizeof(d));
	memset(res, 0, sizeof(*res));
	d.j.start = json;
	d.j.p	  = json;
	d.j.end	  = json + len;
	d.j.a	  = a;
	d.j.err	  = err;
	d.o	  = opts;
	hearth_pbjson_tok k;
	const char	 *schema = NULL;
	size_t		  schema_len = 0, profiles_at = SIZE_MAX;
	int		  first = 1, m, rc = 0;
	while ((m = ss_member(&d.j, &first, &k)) == 1) {
		if (ss_key(&k, "$schema"))
			rc = ss_string(&d.j, "$schema", &schema, &schema_len);
		else if (ss_key(&k, "shared"))
			rc = ss_shared(&d);
		else {
			if (ss_key(&k, "profiles"))
				profiles_at = hearth_pbjson_off(&d.j);
			rc = hearth_pbjson_skip(&d.j);
		}
		if (rc != 0)
			break;
	}
	if (rc == 0 && m < 0)
		rc = err->code;
	if (rc == 0) {
		hearth_pbjson_ws(&d.j);
		if (d.j.p != d.j.end)
			rc = hearth_pbjson_fail(&d.j, hearth_pbjson_off(&d.j),
			    "unexpected data after the top-level object");
	}
	if (rc == 0 &&
	    (schema == NULL || schema_len != strlen(HEARTH_SPEEDSCOPE_SCHEMA) ||
		memcmp(schema, HEARTH_SPEEDSCOPE_SCHEMA, schema_len) != 0))
		rc = hearth_err_set(err, HEARTH_EINVAL,
		    "speedscope: \"$schema\" is not \"%s\": not a "
		    "speedscope file",
		    HEARTH_SPEEDSCOPE_SCHEMA);
	if (rc == 0 && d.n_frames > 0) {
		d.frame_sid   = hearth_arena_calloc(a, d.n_frames,
		      sizeof(*d.frame_sid));
		d.frame_owner = hearth_arena_calloc(a, d.n_frames,
		    sizeof(*d.frame_owner));
		if (d.frame_sid == NULL || d.frame_owner == NULL)
			rc = ss_nomem(&d);
	}
	if (rc == 0 && profiles_at != SIZE_MAX)
		rc = ss_profiles(&d, profiles_at);
	if (rc == 0)
		rc = ss_finish(&d, res);
	if (rc != 0) {
		memset(res, 0, sizeof(*res));
		if (strncmp(err->msg, "speedscope: ", 12) != 0)
			hearth_err_prefix(err, "speedscope");
		return rc;
	}
	return 0;
}
