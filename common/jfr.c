/*
 * jfr: recording -> uploads (jfr.h). Per chunk: the header, the metadata
 * (classes and fields), a first pass over the events for the checkpoint
 * events (constant pools come after the events that use them), a second
 * for the sample events, each resolved at once into its kind's upload
 * builder. Pool keys are per chunk, so are the caches of resolved names
 * and stacks.
 */
#include "jfr.h"

#include "gzip.h"
#include "jfr_labels.pb-c.h"
#include "utf8.h"

#include <inttypes.h>
#include <stdbool.h>
#include <string.h>

#define JFR_HDR		 68 /* chunk header bytes */
#define JFR_MAX_DEPTH	 16 /* nested values and metadata elements */
#define JFR_DEFAULT_RATE 100
#define JFR_DEFAULT_GUNZIP ((size_t) 256 << 20)
#define JFR_NONE	 UINT32_MAX
/* The tag that keeps java.lang.String pool keys apart from symbol keys in
 * one map (they are different pools with their own keys). */
#define JFR_STRING_TAG 0x8000000000000000ULL

enum {
	JFR_P_OBJECT = 0,
	JFR_P_BOOL,
	JFR_P_BYTE,
	JFR_P_SHORT,
	JFR_P_CHAR,
	JFR_P_INT,
	JFR_P_LONG,
	JFR_P_FLOAT,
	JFR_P_DOUBLE,
	JFR_P_STRING,
};

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
#define JFR_N_KINDS (sizeof(jfr_kinds) / sizeof(jfr_kinds[0]))

/* ---- small structures ------------------------------------------------ */

/* u64 key -> u32 value, open addressing in the arena. */
typedef struct jfr_map {
	uint64_t *keys;
	uint32_t *vals; /* value + 1; 0 = empty slot */
	size_t	  cap, n;
} jfr_map;

typedef struct jfr_field {
	const char *name;
	uint64_t    type_id;
	uint32_t    cls; /* index into classes */
	uint8_t	    cp, array;
} jfr_field;

typedef struct jfr_class {
	uint64_t   id;
	const char *name;
	int	   prim;
	jfr_field *fields;
	size_t	   n_fields, cap_fields;
	/* jfr_object_ints' plan for want list plan_for: per field, its
	 * index in the list or -1 (a class is read with one list only). */
	const char *const *plan_for;
	int8_t		  *plan;
} jfr_class;

/* A resolved name: a JFR string (UTF-8, cut at a NUL). */
typedef struct jfr_str {
	const char *s;
	size_t	    len;
} jfr_str;

typedef struct jfr_kind {
	hearth_upload_builder *b;
	uint32_t	      *method_sid; /* per method index: string id + 1 */
	uint32_t	      *stack_sid;  /* per stack index: stack id + 1 */
	size_t		       n_samples;
	uint64_t	       type_id; /* event type in this chunk */
	bool		       in_chunk;
} jfr_kind;

struct hearth_jfr_contexts {
	jfr_map		     by_id; /* context id -> index */
	hearth_upload_label **labels;
	size_t		    *n_labels;
};

/* Cursor over [p, end); `base` is the chunk start, for offsets. */
typedef struct jfr_cur {
	const uint8_t *p, *end, *base;
} jfr_cur;

typedef struct jfr_dec {
	hearth_arena	      *a;
	const hearth_jfr_opts *o;
	hearth_jfr_result     *res;
	hearth_err	      *err;
	size_t		       chunk_off; /* of the chunk in the recording */
	/* metadata of the current chunk */
	jfr_class *classes;
	size_t	   n_classes, cap_classes;
	jfr_map	   class_by_id;
	/* pools of the current chunk */
	jfr_map	  symbols; /* symbol key -> index into syms */
	jfr_str	 *syms;
	size_t	  n_syms, cap_syms;
	jfr_map	  jclasses; /* class key -> name symbol key (index into ckeys) */
	uint64_t *ckeys;
	size_t	  n_ckeys, cap_ckeys;
	jfr_map	  methods; /* method key -> index */
	uint64_t *m_class, *m_name;
	size_t	  n_methods, cap_methods;
	jfr_map	  stacks; /* stack key -> index */
	uint32_t *st_off, *st_len;
	uint8_t	 *st_trunc;
	size_t	  n_stacks, cap_stacks;
	uint64_t *frames; /* method keys, leaf first */
	size_t	  n_frames, cap_frames;
	/* scratch */
	uint32_t *fbuf;
	size_t	  cap_fbuf;
	char	 *nbuf;
	size_t	  cap_nbuf;
	/* output */
	jfr_kind kinds[JFR_N_KINDS];
	int64_t	 period_ns;
	int64_t	 t_start, t_end;
	int64_t	 ticks_per_s;
} jfr_dec;

/* ---- errors ---------------------------------------------------------- */

static int
jfr_bad(jfr_dec *d, const jfr_cur *c, const char *what)
{
	size_t off = d->chunk_off + (size_t) (c->p - c->base);
	return hearth_err_set(d->err, HEARTH_EINVAL,
	    "jfr: %s at byte %zu (truncated or not a JFR recording?)", what,
	    off);
}

static int
jfr_nomem(jfr_dec *d)
{
	return hearth_err_set(d->err, HEARTH_ELIMIT,
	    "request memory limit reached while decoding the JFR recording "
	    "(%zu bytes in use)",
	    hearth_arena_used(d->a));
}

/* Grow *arr (elem bytes each) to hold at least need elements. */
static int
jfr_reserve(jfr_dec *d, void **arr, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	if (nc > SIZE_MAX / elem)
		return jfr_nomem(d);
	void *n = hearth_arena_realloc(d->a, *arr, *cap * elem, nc * elem);
	if (n == NULL)
		return jfr_nomem(d);
	*arr = n;
	*cap = nc;
	return 0;
}

/* ---- map ------------------------------------------------------------- */

static uint64_t
jfr_mix(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	k *= 0xc4ceb9fe1a85ec53ULL;
	return k ^ (k >> 33);
}

static uint32_t
jfr_map_get(const jfr_map *m, uint64_t key)
{
	if (m->cap == 0)
		return JFR_NONE;
	size_t mask = m->cap - 1;
	for (size_t i = (size_t) jfr_mix(key) & mask; m->vals[i] != 0;
	     i = (i + 1) & mask)
		if (m->keys[i] == key)
			return m->vals[i] - 1;
	return JFR_NONE;
}

/* Insert or overwrite (a later pool entry of the same key wins). */
static int
jfr_map_put(jfr_dec *d, jfr_map *m, uint64_t key, uint32_t val)
{
	if ((m->n + 1) * 2 > m->cap) {
		size_t	  nc = m->cap ? m->cap * 2 : 64;
		uint64_t *nk = hearth_arena_alloc(d->a, nc * sizeof(*nk));
		uint32_t *nv = hearth_arena_calloc(d->a, nc, sizeof(*nv));
		if (nk == NULL || nv == NULL)
			return jfr_nomem(d);
		for (size_t i = 0; i < m->cap; i++) {
			if (m->vals[i] == 0)
				continue;
			size_t j = (size_t) jfr_mix(m->keys[i]) & (nc - 1);
			while (nv[j] != 0)
				j = (j + 1) & (nc - 1);
			nk[j] = m->keys[i];
			nv[j] = m->vals[i];
		}
		m->keys = nk;
		m->vals = nv;
		m->cap	= nc;
	}
	size_t mask = m->cap - 1;
	size_t i    = (size_t) jfr_mix(key) & mask;
	for (; m->vals[i] != 0; i = (i + 1) & mask)
		if (m->keys[i] == key) {
			m->vals[i] = val + 1;
			return 0;
		}
	m->keys[i] = key;
	m->vals[i] = val + 1;
	m->n++;
	return 0;
}

/* ---- reading --------------------------------------------------------- */

static int
jfr_u8(jfr_dec *d, jfr_cur *c, uint8_t *v)
{
	if (c->p >= c->end)
		return jfr_bad(d, c, "unexpected end of data");
	*v = *c->p++;
	return 0;
}

/* JFR's compressed integer: 7 bits a byte, low first, the 9th byte whole. */
static int
jfr_varint(jfr_dec *d, jfr_cur *c, uint64_t *v)
{
	uint64_t x = 0;
	for (int i = 0; i < 9; i++) {
		if (c->p >= c->end)
			return jfr_bad(d, c, "unexpected end of data");
		uint8_t b = *c->p++;
		if (i == 8) {
			x |= (uint64_t) b << 56;
			break;
		}
		x |= (uint64_t) (b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0)
			break;
	}
	*v = x;
	return 0;
}

/* A count that is then looped over: never more than the bytes left, so
 * a huge count cannot make the reader spin. */
static int
jfr_count(jfr_dec *d, jfr_cur *c, size_t *n)
{
	uint64_t v;
	if (jfr_varint(d, c, &v) != 0)
		return d->err->code;
	if (v > (uint64_t) (c->end - c->p))
		return jfr_bad(d, c, "count larger than the data left");
	*n = (size_t) v;
	return 0;
}

static int
jfr_skip_bytes(jfr_dec *d, jfr_cur *c, size_t n)
{
	if ((size_t) (c->end - c->p) < n)
		return jfr_bad(d, c, "unexpected end of data");
	c->p += n;
	return 0;
}

/* Cut at the first NUL (the rest of the pipeline keeps C strings). */
static void
jfr_str_cut(jfr_str *s)
{
	const char *z = memchr(s->s, '\0', s->len);
	if (z != NULL)
		s->len = (size_t) (z - s->s);
}

/* A string value (JFR encodings 0-5). Pool references (2) resolve
 * through the java.lang.String pool when it is already read, else "". */
static int
jfr_string(jfr_dec *d, jfr_cur *c, jfr_str *out)
{
	uint8_t enc = 0;
	size_t	n;
	out->s	 = "";
	out->len = 0;
	if (jfr_u8(d, c, &enc) != 0)
		return d->err->code;
	switch (enc) {
	case 0: /* null */
	case 1: /* empty */
		return 0;
	case 2: {
		uint64_t key;
		if (jfr_varint(d, c, &key) != 0)
			return d->err->code;
		uint32_t i = jfr_map_get(&d->symbols, key ^ JFR_STRING_TAG);
		if (i != JFR_NONE)
			*out = d->syms[i];
		return 0;
	}
	case 3: /* UTF-8 */
		if (jfr_count(d, c, &n) != 0)
			return d->err->code;
		if (!hearth_utf8_valid((const char *) c->p, n))
			return jfr_bad(d, c, "string is not valid UTF-8");
		out->s	 = (const char *) c->p;
		out->len = n;
		c->p += n;
		jfr_str_cut(out);
		return 0;
	case 4: { /* UTF-16 code units, each a varint */
		if (jfr_count(d, c, &n) != 0)
			return d->err->code;
		char *o = hearth_arena_alloc(d->a, n * 3 + 1);
		if (o == NULL)
			return jfr_nomem(d);
		size_t m = 0;
		for (size_t i = 0; i < n; i++) {
			uint64_t u, lo;
			if (jfr_varint(d, c, &u) != 0)
				return d->err->code;
			uint32_t cp = (uint32_t) (u & 0xffff);
			if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < n) {
				jfr_cur save = *c;
				if (jfr_varint(d, c, &lo) != 0)
					return d->err->code;
				if ((lo & 0xffff) >= 0xdc00 && (lo & 0xffff) <= 0xdfff) {
					cp = 0x10000 + ((cp - 0xd800) << 10)
					    + ((uint32_t) (lo & 0xffff) - 0xdc00);
					i++;
				} else {
					*c = save;
				}
			}
			if (cp >= 0xd800 && cp <= 0xdfff)
				cp = 0xfffd;
			m += hearth_utf8_put(o + m, cp);
		}
		o[m]	 = '\0';
		out->s	 = o;
		out->len = m;
		jfr_str_cut(out);
		return 0;
	}
	case 5: { /* Latin-1 */
		if (jfr_count(d, c, &n) != 0)
			return d->err->code;
		char *o = hearth_arena_alloc(d->a, n * 2 + 1);
		if (o == NULL)
			return jfr_nomem(d);
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			m += hearth_utf8_put(o + m, c->p[i]);
		c->p += n;
		o[m]	 = '\0';
		out->s	 = o;
		out->len = m;
		jfr_str_cut(out);
		return 0;
	}
	default:
		c->p--;
		return jfr_bad(d, c, "unknown string encoding");
	}
}

/* Skip one value of class cls (an array of them, or a pool key). */
static int
jfr_skip(jfr_dec *d, jfr_cur *c, uint32_t cls, int cp, int array, int depth)
{
	uint64_t v;
	if (depth > JFR_MAX_DEPTH)
		return jfr_bad(d, c, "values nested too deep");
	if (array) {
		size_t n;
		if (jfr_count(d, c, &n) != 0)
			return d->err->code;
		for (size_t i = 0; i < n; i++)
			if (jfr_skip(d, c, cls, cp, 0, depth + 1) != 0)
				return d->err->code;
		return 0;
	}
	if (cp)
		return jfr_varint(d, c, &v);
	const jfr_class *k = &d->classes[cls];
	switch (k->prim) {
	case JFR_P_BOOL:
	case JFR_P_BYTE:
		return jfr_skip_bytes(d, c, 1);
	case JFR_P_SHORT:
	case JFR_P_CHAR:
	case JFR_P_INT:
	case JFR_P_LONG:
		return jfr_varint(d, c, &v);
	case JFR_P_FLOAT:
		return jfr_skip_bytes(d, c, 4);
	case JFR_P_DOUBLE:
		return jfr_skip_bytes(d, c, 8);
	case JFR_P_STRING: {
		jfr_str s;
		return jfr_string(d, c, &s);
	}
	default:
		for (size_t i = 0; i < k->n_fields; i++) {
			const jfr_field *f = &k->fields[i];
			if (jfr_skip(d, c, f->cls, f->cp, f->array, depth + 1)
			    != 0)
				return d->err->code;
		}
		return 0;
	}
}

/* An integer-valued field (pool key, boolean, byte or an integer type). */
static int
jfr_int_field(jfr_dec *d, jfr_cur *c, const jfr_field *f, int64_t *out)
{
	uint64_t v = 0;
	uint8_t	 b = 0;
	if (f->array)
		return jfr_bad(d, c, "array where a number was expected");
	if (f->cp) {
		if (jfr_varint(d, c, &v) != 0)
			return d->err->code;
		*out = (int64_t) v;
		return 0;
	}
	switch (d->classes[f->cls].prim) {
	case JFR_P_BOOL:
	case JFR_P_BYTE:
		if (jfr_u8(d, c, &b) != 0)
			return d->err->code;
		*out = b;
		return 0;
	case JFR_P_SHORT:
	case JFR_P_CHAR:
	case JFR_P_INT:
	case JFR_P_LONG:
		if (jfr_varint(d, c, &v) != 0)
			return d->err->code;
		*out = (int64_t) v;
		return 0;
	default:
		return jfr_bad(d, c, "a field read as a number has another type");
	}
}

/* ---- metadata -------------------------------------------------------- */

static int
jfr_prim(const char *name)
{
	static const struct {
		const char *n;
		int	    p;
	} t[] = { { "boolean", JFR_P_BOOL }, { "byte", JFR_P_BYTE },
		{ "short", JFR_P_SHORT }, { "char", JFR_P_CHAR },
		{ "int", JFR_P_INT }, { "long", JFR_P_LONG },
		{ "float", JFR_P_FLOAT }, { "double", JFR_P_DOUBLE },
		{ "java.lang.String", JFR_P_STRING } };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(name, t[i].n) == 0)
			return t[i].p;
	return JFR_P_OBJECT;
}

static int
jfr_parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;
	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t) (*s - '0');
	}
	*v = x;
	return 0;
}

/* What a metadata string is, for the element walk (decided once per
 * string instead of by string compares per attribute). */
enum {
	JFR_S_OTHER = 0,
	JFR_S_NAME,
	JFR_S_ID,
	JFR_S_CLASS, /* the attribute, and the element name */
	JFR_S_CP,
	JFR_S_DIM,
	JFR_S_FIELD,
};

typedef struct jfr_strtab {
	const char **s;
	uint8_t	    *role;
	size_t	     n;
} jfr_strtab;

/* One element of the metadata tree (and its children): "class" elements
 * become classes, their "field" children fields. cls is the class whose
 * children these are (JFR_NONE elsewhere). */
static int
jfr_element(jfr_dec *d, jfr_cur *c, const jfr_strtab *st, uint32_t cls,
    int depth)
{
	uint64_t v;
	size_t	 na, nc;
	if (depth > JFR_MAX_DEPTH)
		return jfr_bad(d, c, "metadata nested too deep");
	if (jfr_varint(d, c, &v) != 0)
		return d->err->code;
	if (v >= st->n)
		return jfr_bad(d, c, "metadata string index out of range");
	int	    role   = st->role[v];
	const char *a_name = NULL, *a_id = NULL, *a_class = NULL,
		   *a_cp = NULL, *a_dim = NULL;
	if (jfr_count(d, c, &na) != 0)
		return d->err->code;
	for (size_t i = 0; i < na; i++) {
		uint64_t k, val;
		if (jfr_varint(d, c, &k) != 0 || jfr_varint(d, c, &val) != 0)
			return d->err->code;
		if (k >= st->n || val >= st->n)
			return jfr_bad(d, c, "metadata string index out of range");
		switch (st->role[k]) {
		case JFR_S_NAME:
			a_name = st->s[val];
			break;
		case JFR_S_ID:
			a_id = st->s[val];
			break;
		case JFR_S_CLASS:
			a_class = st->s[val];
			break;
		case JFR_S_CP:
			a_cp = st->s[val];
			break;
		case JFR_S_DIM:
			a_dim = st->s[val];
			break;
		default:
			break;
		}
	}
	uint32_t child_cls = JFR_NONE;
	if (role == JFR_S_CLASS) {
		uint64_t id;
		if (a_name == NULL || jfr_parse_u64(a_id, &id) != 0)
			return jfr_bad(d, c, "metadata class without a name or id");
		if (jfr_reserve(d, (void **) &d->classes, &d->cap_classes,
		        d->n_classes + 1, sizeof(*d->classes))
		    != 0)
			return d->err->code;
		child_cls		   = (uint32_t) d->n_classes;
		d->classes[d->n_classes++] = (jfr_class) { .id = id,
			.name = a_name, .prim = jfr_prim(a_name) };
	} else if (role == JFR_S_FIELD && cls != JFR_NONE) {
		uint64_t   t;
		jfr_class *k = &d->classes[cls];
		if (a_name == NULL || jfr_parse_u64(a_class, &t) != 0)
			return jfr_bad(d, c, "metadata field without a name or class");
		if (jfr_reserve(d, (void **) &k->fields, &k->cap_fields,
		        k->n_fields + 1, sizeof(*k->fields))
		    != 0)
			return d->err->code;
		k->fields[k->n_fields++] = (jfr_field) { .name = a_name,
			.type_id = t,
			.cp	 = a_cp != NULL && strcmp(a_cp, "true") == 0,
			.array	 = a_dim != NULL && strcmp(a_dim, "0") != 0 };
	}
	if (jfr_count(d, c, &nc) != 0)
		return d->err->code;
	for (size_t i = 0; i < nc; i++)
		if (jfr_element(d, c, st, child_cls, depth + 1) != 0)
			return d->err->code;
	return 0;
}

/* The metadata event at c: classes with fields, field types resolved. */
static int
jfr_metadata(jfr_dec *d, jfr_cur *c)
{
	uint64_t v;
	size_t	 ns;
	d->n_classes = 0;
	memset(&d->class_by_id, 0, sizeof(d->class_by_id));
	/* size, type (0), start, duration, metadata id */
	for (int i = 0; i < 5; i++)
		if (jfr_varint(d, c, &v) != 0)
			return d->err->code;
	if (jfr_count(d, c, &ns) != 0)
		return d->err->code;
	static const struct {
		const char *s;
		uint8_t	    role;
	} roles[] = { { "name", JFR_S_NAME }, { "id", JFR_S_ID },
		{ "class", JFR_S_CLASS }, { "constantPool", JFR_S_CP },
		{ "dimension", JFR_S_DIM }, { "field", JFR_S_FIELD } };
	jfr_strtab st = { .n = ns };
	st.s	      = hearth_arena_alloc(d->a, (ns + 1) * sizeof(*st.s));
	st.role	      = hearth_arena_calloc(d->a, ns + 1, 1);
	if (st.s == NULL || st.role == NULL)
		return jfr_nomem(d);
	for (size_t i = 0; i < ns; i++) {
		jfr_str s;
		if (jfr_string(d, c, &s) != 0)
			return d->err->code;
		if ((st.s[i] = hearth_arena_strndup(d->a, s.s, s.len)) == NULL)
			return jfr_nomem(d);
		for (size_t r = 0; r < sizeof(roles) / sizeof(roles[0]); r++)
			if (strcmp(st.s[i], roles[r].s) == 0)
				st.role[i] = roles[r].role;
	}
	if (jfr_element(d, c, &st, JFR_NONE, 0) != 0)
		return d->err->code;
	for (size_t i = 0; i < d->n_classes; i++)
		if (jfr_map_put(d, &d->class_by_id, d->classes[i].id,
		        (uint32_t) i)
		    != 0)
			return d->err->code;
	for (size_t i = 0; i < d->n_classes; i++) {
		jfr_class *k = &d->classes[i];
		for (size_t j = 0; j < k->n_fields; j++) {
			uint32_t t = jfr_map_get(&d->class_by_id,
			    k->fields[j].type_id);
			if (t == JFR_NONE)
				return hearth_err_set(d->err, HEARTH_EINVAL,
				    "jfr: field %s of %s has type %" PRIu64
				    ", which the metadata does not describe",
				    k->fields[j].name, k->name,
				    k->fields[j].type_id);
			k->fields[j].cls = t;
		}
	}
	return 0;
}

static uint32_t
jfr_class_named(const jfr_dec *d, const char *name)
{
	for (size_t i = 0; i < d->n_classes; i++)
		if (strcmp(d->classes[i].name, name) == 0)
			return (uint32_t) i;
	return JFR_NONE;
}

/* ---- constant pools -------------------------------------------------- */

/* A jdk.types.Symbol (its "string" field), or a java.lang.String pool
 * entry (the string itself). */
static int
jfr_pool_symbol(jfr_dec *d, jfr_cur *c, const jfr_class *k, uint64_t key,
    uint64_t tag)
{
	jfr_str s = { "", 0 };
	if (k->prim == JFR_P_STRING) {
		if (jfr_string(d, c, &s) != 0)
			return d->err->code;
	} else {
		for (size_t i = 0; i < k->n_fields; i++) {
			const jfr_field *f = &k->fields[i];
			if (strcmp(f->name, "string") == 0 && !f->cp && !f->array
			    && d->classes[f->cls].prim == JFR_P_STRING) {
				if (jfr_string(d, c, &s) != 0)
					return d->err->code;
			} else if (jfr_skip(d, c, f->cls, f->cp, f->array, 1) != 0)
				return d->err->code;
		}
	}
	if (jfr_reserve(d, (void **) &d->syms, &d->cap_syms, d->n_syms + 1,
	        sizeof(*d->syms))
	    != 0)
		return d->err->code;
	d->syms[d->n_syms] = s;
	return jfr_map_put(d, &d->symbols, key ^ tag, (uint32_t) d->n_syms++);
}

/* Fields named want[0..n) (n <= 16) of an object of class k read as
 * numbers into out[] (left alone when absent), every other field
 * skipped. Which field is which is worked out once per class. */
static int
jfr_object_ints(jfr_dec *d, jfr_cur *c, jfr_class *k,
    const char *const *want, size_t n, int64_t *out, int depth)
{
	if (k->plan_for != want) {
		int8_t *plan = hearth_arena_alloc(d->a, k->n_fields + 1);
		if (plan == NULL)
			return jfr_nomem(d);
		for (size_t i = 0; i < k->n_fields; i++) {
			plan[i] = -1;
			for (size_t w = 0; w < n; w++)
				if (strcmp(k->fields[i].name, want[w]) == 0)
					plan[i] = (int8_t) w;
		}
		k->plan	    = plan;
		k->plan_for = want;
	}
	for (size_t i = 0; i < k->n_fields; i++) {
		const jfr_field *f = &k->fields[i];
		int rc = k->plan[i] >= 0
		    ? jfr_int_field(d, c, f, &out[k->plan[i]])
		    : jfr_skip(d, c, f->cls, f->cp, f->array, depth);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int
jfr_pool_class(jfr_dec *d, jfr_cur *c, jfr_class *k, uint64_t key)
{
	static const char *const want[] = { "name" };
	int64_t			 name	= 0;
	if (jfr_object_ints(d, c, k, want, 1, &name, 1) != 0)
		return d->err->code;
	if (jfr_reserve(d, (void **) &d->ckeys, &d->cap_ckeys, d->n_ckeys + 1,
	        sizeof(*d->ckeys))
	    != 0)
		return d->err->code;
	d->ckeys[d->n_ckeys] = (uint64_t) name;
	return jfr_map_put(d, &d->jclasses, key, (uint32_t) d->n_ckeys++);
}

static int
jfr_pool_method(jfr_dec *d, jfr_cur *c, jfr_class *k, uint64_t key)
{
	static const char *const want[] = { "type", "name" };
	int64_t			 v[2]	= { 0, 0 };
	if (jfr_object_ints(d, c, k, want, 2, v, 1) != 0)
		return d->err->code;
	size_t cap = d->cap_methods;
	if (jfr_reserve(d, (void **) &d->m_class, &cap, d->n_methods + 1,
	        sizeof(*d->m_class))
	        != 0
	    || jfr_reserve(d, (void **) &d->m_name, &d->cap_methods,
	        d->n_methods + 1, sizeof(*d->m_name))
	        != 0)
		return d->err->code;
	d->m_class[d->n_methods] = (uint64_t) v[0];
	d->m_name[d->n_methods]	 = (uint64_t) v[1];
	return jfr_map_put(d, &d->methods, key, (uint32_t) d->n_methods++);
}

/* A jdk.types.StackTrace: its frames' method keys (leaf first). */
static int
jfr_pool_stack(jfr_dec *d, jfr_cur *c, const jfr_class *k, uint64_t key)
{
	static const char *const want[] = { "method" };
	uint32_t		 off	= (uint32_t) d->n_frames;
	uint8_t			 trunc	= 0;
	if (d->n_frames > UINT32_MAX / 2)
		return jfr_nomem(d);
	for (size_t i = 0; i < k->n_fields; i++) {
		const jfr_field *f = &k->fields[i];
		if (strcmp(f->name, "truncated") == 0 && !f->cp && !f->array) {
			int64_t t;
			if (jfr_int_field(d, c, f, &t) != 0)
				return d->err->code;
			trunc = t != 0;
			continue;
		}
		if (strcmp(f->name, "frames") != 0 || f->cp || !f->array
		    || d->classes[f->cls].prim != JFR_P_OBJECT) {
			if (jfr_skip(d, c, f->cls, f->cp, f->array, 1) != 0)
				return d->err->code;
			continue;
		}
		size_t n;
		if (jfr_count(d, c, &n) != 0
		    || jfr_reserve(d, (void **) &d->frames, &d->cap_frames,
		        d->n_frames + n, sizeof(*d->frames))
		        != 0)
			return d->err->code;
		for (size_t j = 0; j < n; j++) {
			int64_t m = 0;
			if (jfr_object_ints(d, c, &d->classes[f->cls], want, 1,
			        &m, 2)
			    != 0)
				return d->err->code;
			d->frames[d->n_frames++] = (uint64_t) m;
		}
	}
	size_t cap = d->cap_stacks, cap2 = d->cap_stacks;
	if (jfr_reserve(d, (void **) &d->st_off, &cap, d->n_stacks + 1,
	        sizeof(*d->st_off))
	        != 0
	    || jfr_reserve(d, (void **) &d->st_len, &cap2, d->n_stacks + 1,
	        sizeof(*d->st_len))
	        != 0
	    || jfr_reserve(d, (void **) &d->st_trunc, &d->cap_stacks,
	        d->n_stacks + 1, sizeof(*d->st_trunc))
	        != 0)
		return d->err->code;
	d->st_off[d->n_stacks]	 = off;
	d->st_len[d->n_stacks]	 = (uint32_t) (d->n_frames - off);
	d->st_trunc[d->n_stacks] = trunc;
	return jfr_map_put(d, &d->stacks, key, (uint32_t) d->n_stacks++);
}

/* A checkpoint event at c (after its size and type). */
static int
jfr_checkpoint(jfr_dec *d, jfr_cur *c, uint32_t c_symbol, uint32_t c_class,
    uint32_t c_method, uint32_t c_stack, uint32_t c_string)
{
	uint64_t v;
	size_t	 n_pools;
	/* start, duration, delta to the previous checkpoint, then its type */
	for (int i = 0; i < 3; i++)
		if (jfr_varint(d, c, &v) != 0)
			return d->err->code;
	if (jfr_skip_bytes(d, c, 1) != 0 || jfr_count(d, c, &n_pools) != 0)
		return d->err->code;
	for (size_t p = 0; p < n_pools; p++) {
		uint64_t type;
		size_t	 n;
		if (jfr_varint(d, c, &type) != 0 || jfr_count(d, c, &n) != 0)
			return d->err->code;
		uint32_t cls = jfr_map_get(&d->class_by_id, type);
		if (cls == JFR_NONE)
			return hearth_err_set(d->err, HEARTH_EINVAL,
			    "jfr: a constant pool of type %" PRIu64
			    ", which the metadata does not describe",
			    type);
		jfr_class *k = &d->classes[cls];
		for (size_t i = 0; i < n; i++) {
			uint64_t key;
			int	 rc;
			if (jfr_varint(d, c, &key) != 0)
				return d->err->code;
			if (cls == c_symbol)
				rc = jfr_pool_symbol(d, c, k, key, 0);
			else if (cls == c_string)
				rc = jfr_pool_symbol(d, c, k, key, JFR_STRING_TAG);
			else if (cls == c_class)
				rc = jfr_pool_class(d, c, k, key);
			else if (cls == c_method)
				rc = jfr_pool_method(d, c, k, key);
			else if (cls == c_stack)
				rc = jfr_pool_stack(d, c, k, key);
			else
				rc = jfr_skip(d, c, cls, 0, 0, 1);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* ---- events ---------------------------------------------------------- */

static int
jfr_symbol(jfr_dec *d, uint64_t key, jfr_str *out)
{
	uint32_t i = jfr_map_get(&d->symbols, key);
	if (i == JFR_NONE)
		return hearth_err_set(d->err, HEARTH_EINVAL,
		    "jfr: symbol %" PRIu64 " is not in the constant pools", key);
	*out = d->syms[i];
	return 0;
}

/* Intern "<class>.<method>" of method index mi into kind k's upload,
 * keeping the last max_symbol_length bytes (as pprof does). */
static int
jfr_method_name(jfr_dec *d, jfr_kind *k, uint32_t mi, uint32_t *sid)
{
	jfr_str	 cn = { "", 0 }, mn = { "", 0 };
	uint32_t ci = jfr_map_get(&d->jclasses, d->m_class[mi]);
	if (ci != JFR_NONE && jfr_symbol(d, d->ckeys[ci], &cn) != 0)
		return d->err->code;
	if (jfr_symbol(d, d->m_name[mi], &mn) != 0)
		return d->err->code;
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
	size_t max = d->o->max_symbol_length;
	if (max > 0 && len > max) {
		size_t start = len - max;
		while (start < len && ((uint8_t) s[start] & 0xc0) == 0x80)
			start++;
		if (start == len)
			start = len - 1;
		s += start;
		len -= start;
		d->res->truncated_symbols++;
	}
	return hearth_upload_builder_string(k->b, s, len, sid, d->err);
}

/* Kind k's stack id for stack key `key` (0 and unknown: no frames). */
static int
jfr_stack(jfr_dec *d, jfr_kind *k, uint64_t key, uint32_t *out)
{
	uint32_t si = jfr_map_get(&d->stacks, key);
	if (si == JFR_NONE) {
		if (key != 0)
			return hearth_err_set(d->err, HEARTH_EINVAL,
			    "jfr: stack trace %" PRIu64
			    " is not in the constant pools",
			    key);
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
	size_t n = d->st_len[si], max = d->o->max_stack_depth;
	size_t keep = max > 0 && n > max ? max : n;
	if (keep < n)
		d->res->truncated_stacks++;
	if (jfr_reserve(d, (void **) &d->fbuf, &d->cap_fbuf, keep + 1,
	        sizeof(*d->fbuf))
	    != 0)
		return d->err->code;
	/* no frames at all: d->frames may still be NULL */
	const uint64_t *f = n > 0 ? d->frames + d->st_off[si] : NULL;
	for (size_t j = 0; j < keep; j++) {
		uint64_t mkey = f[n - 1 - j]; /* root first */
		uint32_t mi   = jfr_map_get(&d->methods, mkey);
		if (mi == JFR_NONE)
			return hearth_err_set(d->err, HEARTH_EINVAL,
			    "jfr: stack trace %" PRIu64 " has method %" PRIu64
			    ", which is not in the constant pools",
			    key, mkey);
		if (k->method_sid[mi] == 0) {
			uint32_t sid;
			if (jfr_method_name(d, k, mi, &sid) != 0)
				return d->err->code;
			k->method_sid[mi] = sid + 1;
		}
		d->fbuf[j] = k->method_sid[mi] - 1;
	}
	if (hearth_upload_builder_stack(k->b, d->fbuf, keep, out, d->err) != 0)
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
	if (jfr_stack(d, k, (uint64_t) v[W_STACK], &stack) != 0)
		return d->err->code;
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
	uint32_t cls_of[5] = { jfr_class_named(d, "jdk.types.Symbol"),
		jfr_class_named(d, "java.lang.Class"),
		jfr_class_named(d, "jdk.types.Method"),
		jfr_class_named(d, "jdk.types.StackTrace"),
		jfr_class_named(d, "java.lang.String") };
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
			def->event, def->name, u
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
	return 0;
}

/* ---- labels part ----------------------------------------------------- */

static void *
jfr_pb_alloc(void *data, size_t size)
{
	return hearth_arena_alloc(data, size);
}

static void
jfr_pb_free(void *data, void *ptr)
{
	(void) data;
	(void) ptr;
}

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
	ProtobufCAllocator	 pa = { jfr_pb_alloc, jfr_pb_free, a };
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
