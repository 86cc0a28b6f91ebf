/*
 * jfr_read: the bytes of a chunk (jfr_impl.h): bounds-checked reads of
 * JFR's compressed integers and strings, skipping any value by its
 * declared type, the metadata (classes, fields), and the constant pools
 * hearth keeps (symbols, classes, methods, stack traces; the rest are
 * skipped). Every count is bounded by the bytes left and nesting by
 * JFR_MAX_DEPTH, so a hostile recording costs at most its own size.
 */
#include "jfr_impl.h"

#include "hash.h"
#include "utf8.h"

#include <inttypes.h>
#include <string.h>

/* ---- errors ---------------------------------------------------------- */

int
jfr_bad(jfr_dec *d, const jfr_cur *c, const char *what)
{
	size_t off = d->chunk_off + (size_t) (c->p - c->base);
	return hearth_err_set(d->err, HEARTH_EINVAL,
	    "jfr: %s at byte %zu (truncated or not a JFR recording?)", what,
	    off);
}

int
jfr_nomem(jfr_dec *d)
{
	return hearth_err_set(d->err, HEARTH_ELIMIT,
	    "request memory limit reached while decoding the JFR recording "
	    "(%zu bytes in use)",
	    hearth_arena_used(d->a));
}

/* Grow *arr (elem bytes each) to hold at least need elements. */
int
jfr_reserve(jfr_dec *d, void **arr, size_t *cap, size_t need, size_t elem)
{
	return hearth_arena_grow(d->a, arr, cap, need, elem) == 0
	    ? 0
	    : jfr_nomem(d);
}

/* ---- map ------------------------------------------------------------- */

uint32_t
jfr_map_get(const jfr_map *m, uint64_t key)
{
	if (m->cap == 0)
		return JFR_NONE;
	size_t mask = m->cap - 1;
	for (size_t i = (size_t) hearth_hash_u64(key) & mask; m->vals[i] != 0;
	     i = (i + 1) & mask)
		if (m->keys[i] == key)
			return m->vals[i] - 1;
	return JFR_NONE;
}

/* Insert or overwrite (a later pool entry of the same key wins). */
int
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
			size_t j = (size_t) hearth_hash_u64(m->keys[i]) & (nc - 1);
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
	size_t i    = (size_t) hearth_hash_u64(key) & mask;
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
int
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
int
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

uint32_t
jfr_class_named(const jfr_dec *d, const char *name)
{
	for (size_t i = 0; i < d->n_classes; i++)
		if (strcmp(d->classes[i].name, name) == 0)
			return (uint32_t) i;
	return JFR_NONE;
}

/* ---- constant pools -------------------------------------------------- */

int
jfr_active_setting(jfr_dec *d, jfr_cur *c, const jfr_class *k)
{
	jfr_str name = { "", 0 }, value = { "", 0 };
	for (size_t i = 0; i < k->n_fields; i++) {
		const jfr_field *f = &k->fields[i];
		jfr_str		*dst = strcmp(f->name, "name") == 0 ? &name
		    : strcmp(f->name, "value") == 0		 ? &value
								 : NULL;
		int rc = dst != NULL && !f->cp && !f->array
			&& d->classes[f->cls].prim == JFR_P_STRING
		    ? jfr_string(d, c, dst)
		    : jfr_skip(d, c, f->cls, f->cp, f->array, 1);
		if (rc != 0)
			return rc;
	}
	if (d->event_mode == NULL && name.len == 5
	    && memcmp(name.s, "event", 5) == 0 && value.len > 0
	    && (d->event_mode = hearth_arena_strndup(d->a, value.s, value.len))
	        == NULL)
		return jfr_nomem(d);
	return 0;
}

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
int
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
	if (jfr_reserve(d, (void **) &d->meths, &d->cap_methods,
	        d->n_methods + 1, sizeof(*d->meths))
	    != 0)
		return d->err->code;
	d->meths[d->n_methods] = (jfr_method) { (uint64_t) v[0],
		(uint64_t) v[1] };
	return jfr_map_put(d, &d->methods, key, (uint32_t) d->n_methods++);
}

/* A jdk.types.StackTrace: its frames' method keys (leaf first). */
static int
jfr_pool_stack(jfr_dec *d, jfr_cur *c, const jfr_class *k, uint64_t key)
{
	static const char *const want[] = { "method" };
	uint32_t		 off	= (uint32_t) d->n_frames;
	if (d->n_frames > UINT32_MAX / 2)
		return jfr_nomem(d);
	for (size_t i = 0; i < k->n_fields; i++) {
		const jfr_field *f = &k->fields[i];
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
	if (jfr_reserve(d, (void **) &d->sts, &d->cap_stacks, d->n_stacks + 1,
	        sizeof(*d->sts))
	    != 0)
		return d->err->code;
	d->sts[d->n_stacks] = (jfr_stack_ent) { off,
		(uint32_t) (d->n_frames - off) };
	return jfr_map_put(d, &d->stacks, key, (uint32_t) d->n_stacks++);
}

/* A checkpoint event at c (after its size and type). */
int
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
