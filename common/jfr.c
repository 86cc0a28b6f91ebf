/*
 * jfr: recording -> uploads (jfr.h). Per chunk: the header, the metadata
 * (classes and fields), a first pass over the events for the checkpoint
 * events (constant pools come after the events that use them), a second
 * for the sample events, each resolved at once into its kind's upload
 * builder. Pool keys are per chunk, so are the caches of resolved names
 * and stacks. Reading the bytes is jfr_read.c.
 */
#include "jfr_impl.h"

#include "gzip.h"
#include "utf8.h"
#include "jfr_labels.pb-c.h"

#include <inttypes.h>
#include <string.h>

/* ---- kinds of events ------------------------------------------------- */

enum {
	JFR_V_PERIOD, /* one sampling period in ns */
	JFR_V_TLAB,   /* 1, tlabSize */
	JFR_V_ALLOC,  /* 1, allocationSize */
	JFR_V_WEIGHT, /* 1, weight */
	JFR_V_ONE,    /* 1 */
	JFR_V_DELAY,  /* 1, duration in ns */
	JFR_V_SIZE,   /* 1, size */
};

typedef struct jfr_kind_def {
	const char *event;
	const char *name;
	int	    n_types;
	const char *type[2], *unit[2];
	const char *period_type, *period_unit;
	int	    value;
} jfr_kind_def;

static const jfr_kind_def jfr_kinds[] = {
	{ "jdk.ExecutionSample", "process_cpu", 1, { "cpu" },
	    { "nanoseconds" }, "cpu", "nanoseconds", JFR_V_PERIOD },
	{ "profiler.WallClockSample", "wall", 1, { "wall" },
	    { "nanoseconds" }, "wall", "nanoseconds", JFR_V_PERIOD },
	{ "jdk.ObjectAllocationInNewTLAB", "memory", 2,
	    { "alloc_in_new_tlab_objects", "alloc_in_new_tlab_bytes" },
	    { "count", "bytes" }, "space", "bytes", JFR_V_TLAB },
	{ "jdk.ObjectAllocationOutsideTLAB", "memory", 2,
	    { "alloc_outside_tlab_objects", "alloc_outside_tlab_bytes" },
	    { "count", "bytes" }, "space", "bytes", JFR_V_ALLOC },
	{ "jdk.ObjectAllocationSample", "memory", 2,
	    { "alloc_sample_objects", "alloc_sample_bytes" },
	    { "count", "bytes" }, "space", "bytes", JFR_V_WEIGHT },
	{ "profiler.LiveObject", "memory", 1, { "live" }, { "count" },
	    "objects", "count", JFR_V_ONE },
	{ "jdk.JavaMonitorEnter", "mutex", 2, { "contentions", "delay" },
	    { "count", "nanoseconds" }, "mutex", "count", JFR_V_DELAY },
	{ "jdk.ThreadPark", "block", 2, { "contentions", "delay" },
	    { "count", "nanoseconds" }, "block", "count", JFR_V_DELAY },
	{ "profiler.Malloc", "memory", 2, { "malloc_objects", "malloc_bytes" },
	    { "count", "bytes" }, "", "", JFR_V_SIZE },
};
_Static_assert(sizeof(jfr_kinds) / sizeof(jfr_kinds[0]) == JFR_N_KINDS,
    "JFR_N_KINDS (jfr_impl.h) counts jfr_kinds");

/* ---- events ---------------------------------------------------------- */

/* A symbol's text; "" when no constant pool holds it (upstream's reader
 * does the same: a frame keeps what is known of its name). */
static void
jfr_symbol(const jfr_dec *d, uint64_t key, jfr_str *out)
{
	uint32_t i = jfr_map_get(&d->symbols, key);
	*out	   = i != JFR_NONE ? d->syms[i] : (jfr_str) { "", 0 };
}

/* Intern "<class>.<method>" of method index mi into kind k's upload,
 * keeping the last max_symbol_length bytes (as pprof does). */
static int
jfr_method_name(jfr_dec *d, jfr_kind *k, uint32_t mi, uint32_t *sid)
{
	jfr_str	 cn = { "", 0 }, mn = { "", 0 };
	uint32_t ci = jfr_map_get(&d->jclasses, d->meths[mi].class_key);
	if (ci != JFR_NONE)
		jfr_symbol(d, d->ckeys[ci], &cn);
	jfr_symbol(d, d->meths[mi].name_key, &mn);
	size_t len = cn.len + 1 + mn.len;
	if (jfr_reserve(d, (void **) &d->nbuf, &d->cap_nbuf, len + 1, 1) != 0)
		return d->err->code;
	const char *s = d->nbuf;
	if (cn.len > 0) {
		memcpy(d->nbuf, cn.s, cn.len);
		d->nbuf[cn.len] = '.';
		memcpy(d->nbuf + cn.len + 1, mn.s, mn.len);
	} else {
		memcpy(d->nbuf, mn.s, mn.len);
		len = mn.len;
	}
	if (len == 0) {
		s   = "unknown";
		len = 7;
	}
	size_t start = hearth_utf8_tail(s, len, d->o->max_symbol_length);
	if (start > 0) {
		s += start;
		len -= start;
		d->res->truncated_symbols++;
	}
	return hearth_upload_builder_string(k->b, s, len, sid, d->err);
}

/* Kind k's stack id for stack key `key` (0: no stack, an empty one).
 * *drop when the key is in no constant pool: the sample is left out, and
 * so is a frame whose method is in none (as upstream's reader does; a
 * recording cut while the profiler wrote it loses those, not the upload). */
static int
jfr_stack(jfr_dec *d, jfr_kind *k, uint64_t key, uint32_t *out, bool *drop)
{
	uint32_t si = jfr_map_get(&d->stacks, key);
	*drop	    = false;
	if (si == JFR_NONE) {
		if (key != 0) {
			d->res->dropped_samples++;
			*drop = true;
			return 0;
		}
		if (jfr_reserve(d, (void **) &d->fbuf, &d->cap_fbuf, 1,
		        sizeof(*d->fbuf))
		    != 0)
			return d->err->code;
		return hearth_upload_builder_stack(k->b, d->fbuf, 0, out, d->err);
	}
	if (k->stack_sid[si] != 0) {
		*out = k->stack_sid[si] - 1;
		return 0;
	}
	size_t n = d->sts[si].len, max = d->o->max_stack_depth;
	size_t keep = max > 0 && n > max ? max : n;
	if (keep < n)
		d->res->truncated_stacks++;
	if (jfr_reserve(d, (void **) &d->fbuf, &d->cap_fbuf, keep + 1,
	        sizeof(*d->fbuf))
	    != 0)
		return d->err->code;
	/* no frames at all: d->frames may still be NULL */
	const uint64_t *f  = n > 0 ? d->frames + d->sts[si].off : NULL;
	size_t		nf = 0;
	for (size_t j = 0; j < keep; j++) {
		uint64_t mkey = f[n - 1 - j]; /* root first */
		uint32_t mi   = jfr_map_get(&d->methods, mkey);
		if (mi == JFR_NONE) {
			d->res->dropped_frames++;
			continue;
		}
		if (k->method_sid[mi] == 0) {
			uint32_t sid;
			if (jfr_method_name(d, k, mi, &sid) != 0)
				return d->err->code;
			k->method_sid[mi] = sid + 1;
		}
		d->fbuf[nf++] = k->method_sid[mi] - 1;
	}
	if (hearth_upload_builder_stack(k->b, d->fbuf, nf, out, d->err) != 0)
		return d->err->code;
	k->stack_sid[si] = *out + 1;
	return 0;
}

static int64_t
jfr_ticks_ns(const jfr_dec *d, int64_t ticks)
{
	if (ticks <= 0)
		return 0;
	return (int64_t) ((__int128) ticks * 1000000000 / d->ticks_per_s);
}

/* One sample event of kind ki at c (after its size and type). */
static int
jfr_event(jfr_dec *d, jfr_cur *c, size_t ki, jfr_class *ev)
{
	static const char *const want[] = { "stackTrace", "duration",
		"tlabSize", "allocationSize", "weight", "size", "contextId" };
	enum { W_STACK, W_DUR, W_TLAB, W_ALLOC, W_WEIGHT, W_SIZE, W_CTX, W_N };
	int64_t		    v[W_N] = { 0 };
	const jfr_kind_def *def	   = &jfr_kinds[ki];
	jfr_kind	   *k	   = &d->kinds[ki];
	if (jfr_object_ints(d, c, ev, want, W_N, v, 1) != 0)
		return d->err->code;
	int64_t val[2] = { 1, 0 };
	switch (def->value) {
	case JFR_V_PERIOD:
		val[0] = d->period_ns;
		break;
	case JFR_V_TLAB:
		val[1] = v[W_TLAB];
		break;
	case JFR_V_ALLOC:
		val[1] = v[W_ALLOC];
		break;
	case JFR_V_WEIGHT:
		val[1] = v[W_WEIGHT];
		break;
	case JFR_V_DELAY:
		val[1] = jfr_ticks_ns(d, v[W_DUR]);
		break;
	case JFR_V_SIZE:
		val[1] = v[W_SIZE];
		break;
	default:
		break;
	}
	if (val[0] < 0 || val[1] < 0)
		return 0; /* corrupt sizes: the sample is dropped, as pprof's */
	size_t max = d->o->max_samples;
	if (max > 0 && k->n_samples >= max)
		return hearth_err_set(d->err, HEARTH_ELIMIT,
		    "jfr: the recording exceeds the samples count limit "
		    "(max_profile_stacktrace_samples, limit: %zu, event %s)",
		    max, def->event);
	k->n_samples++;
	uint32_t stack;
	bool	 drop;
	if (jfr_stack(d, k, (uint64_t) v[W_STACK], &stack, &drop) != 0)
		return d->err->code;
	if (drop)
		return 0;
	k->n_kept++;
	const hearth_upload_label *labels = NULL;
	size_t			   n_labels = 0;
	const hearth_jfr_contexts *ctx	    = d->o->contexts;
	if (ctx != NULL && v[W_CTX] != 0) {
		uint32_t i = jfr_map_get(&ctx->by_id, (uint64_t) v[W_CTX]);
		if (i != JFR_NONE) {
			labels	 = ctx->labels[i];
			n_labels = ctx->n_labels[i];
		}
	}
	return hearth_upload_builder_add(k->b, labels, n_labels, stack, val,
	    d->err);
}

/* ---- chunks ---------------------------------------------------------- */

static int64_t
jfr_be(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return (int64_t) v;
}

/* Walk the events of the chunk [c->p, c->end): each is a size (which
 * includes itself) and a type. pass 0 reads checkpoints, pass 1 samples. */
static int
jfr_events(jfr_dec *d, jfr_cur chunk, int pass, const uint32_t *cls_of)
{
	while (chunk.p < chunk.end) {
		jfr_cur	 c = chunk;
		uint64_t size, type;
		if (jfr_varint(d, &c, &size) != 0 || jfr_varint(d, &c, &type) != 0)
			return d->err->code;
		if (size < (uint64_t) (c.p - chunk.p)
		    || size > (uint64_t) (chunk.end - chunk.p))
			return jfr_bad(d, &chunk, "event size out of range");
		c.end = chunk.p + size;
		if (pass == 0 && type == 1) {
			if (jfr_checkpoint(d, &c, cls_of[0], cls_of[1], cls_of[2],
			        cls_of[3], cls_of[4])
			    != 0)
				return d->err->code;
		} else if (pass == 0 && cls_of[5] != JFR_NONE
		    && type == d->classes[cls_of[5]].id) {
			if (jfr_active_setting(d, &c, &d->classes[cls_of[5]]) != 0)
				return d->err->code;
		} else if (pass == 1 && type > 1) {
			for (size_t ki = 0; ki < JFR_N_KINDS; ki++) {
				if (!d->kinds[ki].in_chunk
				    || d->kinds[ki].type_id != type)
					continue;
				uint32_t ev = jfr_map_get(&d->class_by_id, type);
				if (jfr_event(d, &c, ki, &d->classes[ev]) != 0)
					return d->err->code;
				break;
			}
		}
		chunk.p += size;
	}
	return 0;
}

static void
jfr_chunk_reset(jfr_dec *d)
{
	memset(&d->symbols, 0, sizeof(d->symbols));
	memset(&d->jclasses, 0, sizeof(d->jclasses));
	memset(&d->methods, 0, sizeof(d->methods));
	memset(&d->stacks, 0, sizeof(d->stacks));
	d->n_syms = d->n_ckeys = d->n_methods = d->n_stacks = d->n_frames = 0;
}

static int
jfr_chunk(jfr_dec *d, const uint8_t *p, size_t avail, size_t *used)
{
	jfr_cur c = { p, p + avail, p };
	if (avail < JFR_HDR || memcmp(p, "FLR\0", 4) != 0)
		return jfr_bad(d, &c, "no chunk header (magic \"FLR\\0\")");
	int64_t major = jfr_be(p + 4, 2), minor = jfr_be(p + 6, 2);
	int64_t size = jfr_be(p + 8, 8), meta = jfr_be(p + 24, 8);
	int64_t start = jfr_be(p + 32, 8), dur = jfr_be(p + 40, 8);
	int64_t tps = jfr_be(p + 56, 8), features = jfr_be(p + 64, 4);
	if (major != 2)
		return hearth_err_set(d->err, HEARTH_EINVAL,
		    "jfr: format version %" PRId64 ".%" PRId64
		    " is not supported (JDK 11+ and async-profiler write 2.x)",
		    major, minor);
	if (size < JFR_HDR || (uint64_t) size > avail)
		return jfr_bad(d, &c, size == 0
			? "unfinished chunk (size 0: the recording was still "
			  "being written)"
			: "chunk size out of range");
	if (meta < JFR_HDR || meta >= size)
		return jfr_bad(d, &c, "metadata offset out of range");
	if ((features & 1) == 0)
		return hearth_err_set(d->err, HEARTH_EINVAL,
		    "jfr: chunks without compressed integers are not supported");
	if (tps <= 0)
		return jfr_bad(d, &c, "ticks per second must be > 0");
	d->ticks_per_s = tps;
	if (start > 0 && (d->t_start == 0 || start < d->t_start))
		d->t_start = start;
	int64_t end;
	if (start > 0 && dur > 0 && !__builtin_add_overflow(start, dur, &end)
	    && end > d->t_end)
		d->t_end = end;

	jfr_chunk_reset(d);
	jfr_cur m = { p + meta, p + size, p };
	if (jfr_metadata(d, &m) != 0)
		return d->err->code;
	uint32_t cls_of[6] = { jfr_class_named(d, "jdk.types.Symbol"),
		jfr_class_named(d, "java.lang.Class"),
		jfr_class_named(d, "jdk.types.Method"),
		jfr_class_named(d, "jdk.types.StackTrace"),
		jfr_class_named(d, "java.lang.String"),
		jfr_class_named(d, "jdk.ActiveSetting") };
	bool any = false;
	for (size_t ki = 0; ki < JFR_N_KINDS; ki++) {
		jfr_kind *k = &d->kinds[ki];
		uint32_t  e = jfr_class_named(d, jfr_kinds[ki].event);
		k->in_chunk = e != JFR_NONE;
		any	    = any || k->in_chunk;
		if (k->in_chunk)
			k->type_id = d->classes[e].id;
	}
	jfr_cur events = { p + JFR_HDR, p + size, p };
	if (any && jfr_events(d, events, 0, cls_of) != 0)
		return d->err->code;
	for (size_t ki = 0; any && ki < JFR_N_KINDS; ki++) {
		jfr_kind *k = &d->kinds[ki];
		if (!k->in_chunk)
			continue;
		if (k->b == NULL
		    && hearth_upload_builder_new(d->a,
		           (size_t) jfr_kinds[ki].n_types, &k->b, d->err)
		        != 0)
			return d->err->code;
		k->method_sid = hearth_arena_calloc(d->a, d->n_methods + 1,
		    sizeof(*k->method_sid));
		k->stack_sid  = hearth_arena_calloc(d->a, d->n_stacks + 1,
		     sizeof(*k->stack_sid));
		if (k->method_sid == NULL || k->stack_sid == NULL)
			return jfr_nomem(d);
	}
	if (any && jfr_events(d, events, 1, cls_of) != 0)
		return d->err->code;
	*used = (size_t) size;
	return 0;
}

static int
jfr_finish(jfr_dec *d)
{
	hearth_jfr_result *res = d->res;
	res->profiles = hearth_arena_calloc(d->a, JFR_N_KINDS, sizeof(*res->profiles));
	if (res->profiles == NULL)
		return jfr_nomem(d);
	for (size_t ki = 0; ki < JFR_N_KINDS; ki++) {
		const jfr_kind_def *def = &jfr_kinds[ki];
		jfr_kind	   *k	= &d->kinds[ki];
		hearth_upload	   *u;
		if (k->b == NULL || k->n_samples == 0)
			continue;
		if (hearth_upload_builder_finish(k->b, &u, d->err) != 0)
			return d->err->code;
		if (u->n_groups == 0)
			continue;
		u->sample_types = hearth_arena_calloc(d->a, (size_t) def->n_types,
		    sizeof(*u->sample_types));
		if (u->sample_types == NULL)
			return jfr_nomem(d);
		for (int t = 0; t < def->n_types; t++)
			u->sample_types[t] = (hearth_upload_type) { def->type[t],
				def->unit[t] };
		u->n_sample_types = (size_t) def->n_types;
		u->period_type	  = def->period_type;
		u->period_unit	  = def->period_unit;
		u->period	  = def->value == JFR_V_PERIOD ? d->period_ns : 0;
		u->time_nanos	  = d->t_start;
		u->duration_nanos = d->t_end > d->t_start ? d->t_end - d->t_start : 0;
		res->profiles[res->n_profiles++] = (hearth_jfr_profile) {
			def->event, def->name, u, k->n_kept
		};
	}
	return 0;
}

int
hearth_jfr_decode(hearth_arena *a, const uint8_t *data, size_t len,
    const hearth_jfr_opts *o, hearth_jfr_result *res, hearth_err *err)
{
	static const hearth_jfr_opts no_opts;
	memset(res, 0, sizeof(*res));
	if (o == NULL)
		o = &no_opts;
	jfr_dec d = { .a = a, .o = o, .res = res, .err = err };
	int64_t rate = o->sample_rate > 0 ? o->sample_rate : JFR_DEFAULT_RATE;
	d.period_ns  = 1000000000 / rate > 0 ? 1000000000 / rate : 1;
	if (hearth_gzip_is_gzip(data, len)) {
		uint8_t *out;
		size_t	 olen;
		size_t	 cap = o->max_decompressed ? o->max_decompressed
						   : JFR_DEFAULT_GUNZIP;
		if (hearth_gzip_decode(a, data, len, cap, &out, &olen, err) != 0)
			return hearth_err_prefix(err, "jfr");
		data = out;
		len  = olen;
	}
	res->decoded_bytes = len;
	if (len == 0)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "jfr: empty recording");
	for (size_t off = 0; off < len;) {
		size_t used = 0;
		d.chunk_off = off;
		if (jfr_chunk(&d, data + off, len - off, &used) != 0) {
			memset(res, 0, sizeof(*res));
			return err->code;
		}
		off += used;
	}
	if (jfr_finish(&d) != 0) {
		memset(res, 0, sizeof(*res));
		return err->code;
	}
	res->event_mode = d.event_mode;
	return 0;
}

/* ---- labels part ----------------------------------------------------- */

int
hearth_jfr_contexts_decode(hearth_arena *a, const uint8_t *data,
    size_t len, size_t max_decompressed, hearth_jfr_contexts **out,
    hearth_err *err)
{
	*out = NULL;
	if (hearth_gzip_is_gzip(data, len)) {
		uint8_t *o;
		size_t	 olen;
		if (hearth_gzip_decode(a, data, len,
		        max_decompressed ? max_decompressed : JFR_DEFAULT_GUNZIP,
		        &o, &olen, err)
		    != 0)
			return hearth_err_prefix(err, "jfr labels");
		data = o;
		len  = olen;
	}
	ProtobufCAllocator	 pa = { hearth_arena_pb_alloc, hearth_arena_pb_free,
		    a };
	Jfr__V1__LabelsSnapshot *s
	    = jfr__v1__labels_snapshot__unpack(&pa, len, data);
	if (s == NULL)
		return hearth_err_set(err, HEARTH_EINVAL,
		    "jfr labels: not a LabelsSnapshot protobuf (or the request "
		    "memory limit was reached)");
	jfr_dec d = { .a = a, .err = err };
	jfr_map strings = { 0 };
	for (size_t i = 0; i < s->n_strings; i++)
		if (jfr_map_put(&d, &strings, (uint64_t) s->strings[i]->key,
		        (uint32_t) i)
		    != 0)
			return err->code;
	hearth_jfr_contexts *c = hearth_arena_calloc(a, 1, sizeof(*c));
	size_t		     n = s->n_contexts;
	if (c == NULL
	    || (c->labels = hearth_arena_calloc(a, n + 1, sizeof(*c->labels)))
	        == NULL
	    || (c->n_labels = hearth_arena_calloc(a, n + 1, sizeof(*c->n_labels)))
	        == NULL)
		return jfr_nomem(&d);
	for (size_t i = 0; i < n; i++) {
		const Jfr__V1__LabelsSnapshot__ContextsEntry *e = s->contexts[i];
		size_t nl = e->value != NULL ? e->value->n_labels : 0;
		hearth_upload_label *ls = hearth_arena_calloc(a, nl + 1, sizeof(*ls));
		if (ls == NULL)
			return jfr_nomem(&d);
		for (size_t j = 0; j < nl; j++) {
			const Jfr__V1__Context__LabelsEntry *l = e->value->labels[j];
			uint32_t k = jfr_map_get(&strings, (uint64_t) l->key);
			uint32_t v = jfr_map_get(&strings, (uint64_t) l->value);
			if (k == JFR_NONE || v == JFR_NONE)
				return hearth_err_set(err, HEARTH_EINVAL,
				    "jfr labels: context %" PRId64
				    " names string %" PRId64
				    ", which the snapshot does not hold",
				    e->key, k == JFR_NONE ? l->key : l->value);
			ls[j] = (hearth_upload_label) { s->strings[k]->value,
				s->strings[v]->value };
		}
		c->labels[i]   = ls;
		c->n_labels[i] = nl;
		if (jfr_map_put(&d, &c->by_id, (uint64_t) e->key, (uint32_t) i)
		    != 0)
			return err->code;
	}
	*out = c;
	return 0;
}
