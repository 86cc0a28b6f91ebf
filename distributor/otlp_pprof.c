/*
 * otlp_pprof.c: one group of OTLP samples → one pprof Profile built from
 * the request's dictionary (otlp.h step 2-5, invariants in otlp_impl.h).
 */
#include "otlp_impl.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int
otlp_fail(otlp_conv *c, int code, const char *fmt, ...)
{
	char    msg[HEARTH_ERR_MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->sample != OTLP_NO_SAMPLE)
		return hearth_err_set(c->err, code,
		    "otlp: %s.samples[%zu]: %s", c->where, c->sample, msg);
	return hearth_err_set(c->err, code, "otlp: %s: %s", c->where, msg);
}

int
otlp_nomem(otlp_conv *c)
{
	return hearth_err_set(c->err, HEARTH_ENOMEM,
	    "otlp: request memory limit reached while converting profiles "
	    "(send fewer or smaller profiles per request)");
}

/* Grow *arr (elements of size elem) to hold need elements. */
int
otlp_grow(hearth_arena *a, void **arr, size_t *cap, size_t need, size_t elem)
{
	return hearth_arena_grow(a, arr, cap, need, elem) == 0 ? 0
							       : HEARTH_ELIMIT;
}

static uint64_t
otlp_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t) *s) * 1099511628211ULL;
	return h;
}

/* Position of s in the set, adding it (the pointer, not a copy) when
 * absent. */
int
otlp_strset_add(hearth_arena *a, otlp_strset *set, const char *s, size_t *pos)
{
	if ((set->n + 1) * 2 > set->n_slots) {
		size_t    ns    = set->n_slots ? set->n_slots * 2 : 64;
		uint32_t *slots = hearth_arena_calloc(a, ns, sizeof(*slots));
		if (slots == NULL)
			return HEARTH_ELIMIT;
		for (size_t i = 0; i < set->n; i++) {
			size_t j = (size_t) otlp_hash(set->strs[i]) & (ns - 1);
			while (slots[j] != 0)
				j = (j + 1) & (ns - 1);
			slots[j] = (uint32_t) i + 1;
		}
		set->slots   = slots;
		set->n_slots = ns;
	}
	size_t mask = set->n_slots - 1;
	size_t j    = (size_t) otlp_hash(s) & mask;
	for (; set->slots[j] != 0; j = (j + 1) & mask)
		if (strcmp(set->strs[set->slots[j] - 1], s) == 0) {
			*pos = set->slots[j] - 1;
			return 0;
		}
	if (otlp_grow(a, (void **) &set->strs, &set->cap, set->n + 1,
	        sizeof(*set->strs))
	    != 0)
		return HEARTH_ELIMIT;
	set->strs[set->n] = s;
	set->slots[j]     = (uint32_t) ++set->n;
	*pos              = set->n - 1;
	return 0;
}

/* Dictionary string idx; what names the field for the message. */
int
otlp_dstr(otlp_conv *c, int32_t idx, const char *what, const char **out)
{
	*out = "";
	if (idx < 0 || (size_t) idx >= c->d->n_string_table)
		return otlp_fail(c, HEARTH_EINVAL,
		    "%s %" PRId32 " out of range (string_table has %zu "
		    "entries)",
		    what, idx, c->d->n_string_table);
	*out = c->d->string_table[idx];
	return 0;
}

/* The label value of an attribute value: a string, an integer in decimal,
 * a string-table reference, or a one-element array of those; *out NULL
 * for every other kind (not a label). */
static int
otlp_any_str(otlp_conv *c, const otlp_any *v, int depth, const char **out)
{
	*out = NULL;
	if (v == NULL)
		return 0;
	switch (v->value_case) {
	case OTLP_ANY(STRING_VALUE):
		*out = v->string_value;
		return 0;
	case OTLP_ANY(INT_VALUE): {
		char *s = hearth_arena_alloc(c->a, 24);
		if (s == NULL)
			return otlp_nomem(c);
		snprintf(s, 24, "%" PRId64, v->int_value);
		*out = s;
		return 0;
	}
	case OTLP_ANY(STRING_VALUE_STRINDEX):
		return otlp_dstr(
		    c, v->string_value_strindex, "string_value_strindex", out);
	case OTLP_ANY(ARRAY_VALUE):
		if (depth == 0 && v->array_value != NULL
		    && v->array_value->n_values == 1)
			return otlp_any_str(
			    c, v->array_value->values[0], 1, out);
		return 0;
	default:
		return 0;
	}
}

/* Entry idx of attribute_table: its key and label value (NULL when the
 * value is not a label). */
int
otlp_attr(otlp_conv *c, int32_t idx, const char **key, const char **val)
{
	*key = "";
	*val = NULL;
	if (idx < 0 || (size_t) idx >= c->d->n_attribute_table)
		return otlp_fail(c, HEARTH_EINVAL,
		    "attribute index %" PRId32 " out of range "
		    "(attribute_table has %zu entries)",
		    idx, c->d->n_attribute_table);
	const Opentelemetry__Proto__Profiles__V1development__KeyValueAndUnit
	    *at
	    = c->d->attribute_table[idx];
	int rc = otlp_dstr(c, at->key_strindex, "attribute key_strindex", key);
	return rc != 0 ? rc : otlp_any_str(c, at->value, 0, val);
}

/* Key and label value of a resource or scope attribute (v1.10 allows the
 * key as a string-table reference). *key NULL: skip it. */
int
otlp_kv_get(
    otlp_conv *c, const otlp_kv *kv, const char **key, const char **val)
{
	*key = NULL;
	*val = NULL;
	if (kv == NULL)
		return 0;
	const char *k = kv->key;
	if ((k == NULL || *k == '\0') && kv->key_strindex != 0) {
		int rc = otlp_dstr(c, kv->key_strindex, "key_strindex", &k);
		if (rc != 0)
			return rc;
	}
	if (k == NULL || *k == '\0')
		return 0;
	*key = k;
	return otlp_any_str(c, kv->value, 0, val);
}

static int
otlp_pstr(otlp_conv *c, otlp_pp *pp, const char *s, int64_t *idx)
{
	size_t pos;
	if (otlp_strset_add(c->a, &pp->strs, s, &pos) != 0)
		return otlp_nomem(c);
	*idx = (int64_t) pos;
	return 0;
}

/* pprof string index of dictionary string idx. */
static int
otlp_pdstr(
    otlp_conv *c, otlp_pp *pp, int32_t idx, const char *what, int64_t *out)
{
	const char *s;
	int         rc = otlp_dstr(c, idx, what, &s);
	return rc != 0 ? rc : otlp_pstr(c, pp, s, out);
}

/* The pprof mapping of dictionary mapping mi (> 0), made on first use. */
static int
otlp_mapping_id(otlp_conv *c, otlp_pp *pp, int32_t mi, uint64_t *id)
{
	if (mi < 0 || (size_t) mi >= c->d->n_mapping_table)
		return otlp_fail(c, HEARTH_EINVAL,
		    "mapping_index %" PRId32
		    " out of range (mapping_table has "
		    "%zu entries)",
		    mi, c->d->n_mapping_table);
	if (c->map_stamp[mi] == c->serial) {
		*id = c->map_id[mi];
		return 0;
	}
	const otlp_mapping           *om = c->d->mapping_table[mi];
	Perftools__Profiles__Profile *p  = pp->p;
	Perftools__Profiles__Mapping *m = hearth_arena_alloc(c->a, sizeof(*m));
	if (m == NULL
	    || otlp_grow(c->a, (void **) &p->mapping, &pp->cap_map,
	           p->n_mapping + 1, sizeof(*p->mapping))
	        != 0)
		return otlp_nomem(c);
	perftools__profiles__mapping__init(m);
	m->id           = p->n_mapping + 1;
	m->memory_start = om->memory_start;
	m->memory_limit = om->memory_limit;
	m->file_offset  = om->file_offset;
	int rc          = otlp_pdstr(c, pp, om->filename_strindex,
	             "mapping filename_strindex", &m->filename);
	for (size_t i = 0; rc == 0 && i < om->n_attribute_indices; i++) {
		const char *k, *v;
		rc = otlp_attr(c, om->attribute_indices[i], &k, &v);
		if (rc == 0 && v != NULL
		    && strcmp(k, "process.executable.build_id.gnu") == 0)
			rc = otlp_pstr(c, pp, v, &m->build_id);
	}
	if (rc != 0)
		return rc;
	/* Cleared by the first location that lacks the information. */
	m->has_functions = m->has_filenames = m->has_line_numbers
	    = m->has_inline_frames          = true;
	p->mapping[p->n_mapping++]          = m;
	c->map_stamp[mi]                    = c->serial;
	c->map_id[mi]                       = (uint32_t) m->id;
	*id                                 = m->id;
	return 0;
}

/* The pprof function of dictionary function fi, made on first use. */
static int
otlp_function_id(otlp_conv *c, otlp_pp *pp, int32_t fi, uint64_t *id,
    bool *named, bool *filed)
{
	*named = *filed = false;
	if (fi < 0 || (size_t) fi >= c->d->n_function_table)
		return otlp_fail(c, HEARTH_EINVAL,
		    "function_index %" PRId32 " out of range (function_table "
		    "has %zu entries)",
		    fi, c->d->n_function_table);
	const otlp_function          *of = c->d->function_table[fi];
	Perftools__Profiles__Profile *p  = pp->p;
	if (c->fn_stamp[fi] == c->serial) {
		const Perftools__Profiles__Function *f
		    = p->function[c->fn_id[fi] - 1];
		*id    = f->id;
		*named = pp->strs.strs[f->name][0] != '\0'
		    || pp->strs.strs[f->system_name][0] != '\0';
		*filed = pp->strs.strs[f->filename][0] != '\0';
		return 0;
	}
	Perftools__Profiles__Function *f
	    = hearth_arena_alloc(c->a, sizeof(*f));
	if (f == NULL
	    || otlp_grow(c->a, (void **) &p->function, &pp->cap_fn,
	           p->n_function + 1, sizeof(*p->function))
	        != 0)
		return otlp_nomem(c);
	perftools__profiles__function__init(f);
	f->id         = p->n_function + 1;
	f->start_line = of->start_line;
	int rc        = otlp_pdstr(
	           c, pp, of->name_strindex, "function name_strindex", &f->name);
	if (rc == 0)
		rc = otlp_pdstr(c, pp, of->system_name_strindex,
		    "function system_name_strindex", &f->system_name);
	if (rc == 0)
		rc = otlp_pdstr(c, pp, of->filename_strindex,
		    "function filename_strindex", &f->filename);
	if (rc != 0)
		return rc;
	/* p->string_table is set when the group is finished: read the set. */
	*named = pp->strs.strs[f->name][0] != '\0'
	    || pp->strs.strs[f->system_name][0] != '\0';
	*filed                       = pp->strs.strs[f->filename][0] != '\0';
	p->function[p->n_function++] = f;
	c->fn_stamp[fi]              = c->serial;
	c->fn_id[fi]                 = (uint32_t) f->id;
	*id                          = f->id;
	return 0;
}

/* The pprof location of dictionary location li, made on first use. */
static int
otlp_location_id(otlp_conv *c, otlp_pp *pp, int32_t li, uint64_t *id)
{
	if (li < 0 || (size_t) li >= c->d->n_location_table)
		return otlp_fail(c, HEARTH_EINVAL,
		    "location index %" PRId32 " out of range (location_table "
		    "has %zu entries)",
		    li, c->d->n_location_table);
	if (c->loc_stamp[li] == c->serial) {
		*id = c->loc_id[li];
		return 0;
	}
	const otlp_location           *ol = c->d->location_table[li];
	Perftools__Profiles__Profile  *p  = pp->p;
	Perftools__Profiles__Location *l
	    = hearth_arena_alloc(c->a, sizeof(*l));
	Perftools__Profiles__Line *lines
	    = hearth_arena_alloc(c->a, (ol->n_lines + 1) * sizeof(*lines));
	Perftools__Profiles__Line **lp
	    = hearth_arena_alloc(c->a, (ol->n_lines + 1) * sizeof(*lp));
	if (l == NULL || lines == NULL || lp == NULL)
		return otlp_nomem(c);
	perftools__profiles__location__init(l);
	l->address = ol->address;
	int rc     = 0;
	if (ol->mapping_index != 0
	    && (rc = otlp_mapping_id(c, pp, ol->mapping_index, &l->mapping_id))
	        != 0)
		return rc;
	bool named = ol->n_lines > 0, filed = named, numbered = named;
	for (size_t i = 0; i < ol->n_lines; i++) {
		const Opentelemetry__Proto__Profiles__V1development__Line *ln
		    = ol->lines[i];
		bool n1, f1;
		perftools__profiles__line__init(&lines[i]);
		if ((rc = otlp_function_id(c, pp, ln->function_index,
		         &lines[i].function_id, &n1, &f1))
		    != 0)
			return rc;
		lines[i].line   = ln->line;
		lines[i].column = ln->column;
		lp[i]           = &lines[i];
		named           = named && n1;
		filed           = filed && f1;
		numbered        = numbered && ln->line > 0;
	}
	l->n_line = ol->n_lines;
	l->line   = lp;
	if (l->mapping_id != 0) {
		Perftools__Profiles__Mapping *m
		    = p->mapping[l->mapping_id - 1];
		m->has_functions    = m->has_functions && named;
		m->has_filenames    = m->has_filenames && filed;
		m->has_line_numbers = m->has_line_numbers && numbered;
		/* Inline frames are known for a symbolized location only. */
		m->has_inline_frames = m->has_inline_frames && ol->n_lines > 0;
	}
	if (otlp_grow(c->a, (void **) &p->location, &pp->cap_loc,
	        p->n_location + 1, sizeof(*p->location))
	    != 0)
		return otlp_nomem(c);
	l->id                        = p->n_location + 1;
	p->location[p->n_location++] = l;
	c->loc_stamp[li]             = c->serial;
	c->loc_id[li]                = (uint32_t) l->id;
	*id                          = l->id;
	return 0;
}

static const char otlp_hex[] = "0123456789abcdef";

static char *
otlp_hexdup(hearth_arena *a, const ProtobufCBinaryData *b)
{
	char *s = hearth_arena_alloc(a, b->len * 2 + 1);
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < b->len; i++) {
		s[2 * i]     = otlp_hex[b->data[i] >> 4];
		s[2 * i + 1] = otlp_hex[b->data[i] & 15];
	}
	s[b->len * 2] = '\0';
	return s;
}

/* Sample labels: attributes other than service.name, then the link. */
static int
otlp_sample_labels(otlp_conv *c, otlp_pp *pp, const otlp_sample *os,
    Perftools__Profiles__Sample *s)
{
	size_t                      cap = os->n_attribute_indices + 2;
	Perftools__Profiles__Label *lv
	    = hearth_arena_alloc(c->a, cap * sizeof(*lv));
	Perftools__Profiles__Label **lp
	    = hearth_arena_alloc(c->a, cap * sizeof(*lp));
	if (lv == NULL || lp == NULL)
		return otlp_nomem(c);
	size_t n  = 0;
	int    rc = 0;
	for (size_t i = 0; i < os->n_attribute_indices; i++) {
		const char *k, *v;
		if ((rc = otlp_attr(c, os->attribute_indices[i], &k, &v)) != 0)
			return rc;
		if (v == NULL || *v == '\0' || *k == '\0'
		    || strcmp(k, "service.name") == 0)
			continue;
		perftools__profiles__label__init(&lv[n]);
		if ((rc = otlp_pstr(c, pp, k, &lv[n].key)) != 0
		    || (rc = otlp_pstr(c, pp, v, &lv[n].str)) != 0)
			return rc;
		lp[n] = &lv[n];
		n++;
	}
	if (os->link_index != 0) {
		if (os->link_index < 0
		    || (size_t) os->link_index >= c->d->n_link_table)
			return otlp_fail(c, HEARTH_EINVAL,
			    "link_index %" PRId32 " out of range (link_table "
			    "has %zu entries)",
			    os->link_index, c->d->n_link_table);
		const otlp_link *lk    = c->d->link_table[os->link_index];
		const char      *key[] = { "span_id", "trace_id" };
		const ProtobufCBinaryData *id[]
		    = { &lk->span_id, &lk->trace_id };
		const size_t want[] = { 8, 16 };
		for (int k = 0; k < 2; k++) {
			if (id[k]->len != want[k])
				continue;
			char *hex = otlp_hexdup(c->a, id[k]);
			if (hex == NULL)
				return otlp_nomem(c);
			perftools__profiles__label__init(&lv[n]);
			if ((rc = otlp_pstr(c, pp, key[k], &lv[n].key)) != 0
			    || (rc = otlp_pstr(c, pp, hex, &lv[n].str)) != 0)
				return rc;
			lp[n] = &lv[n];
			n++;
		}
	}
	s->n_label = n;
	s->label   = lp;
	return 0;
}

/* Convert one OTLP sample into s (an initialised pprof sample). */
int
otlp_sample_convert(otlp_conv *c, otlp_pp *pp, const otlp_sample *os,
    Perftools__Profiles__Sample *s, int64_t *value)
{
	int64_t v;
	if (os->n_values == 1)
		v = os->values[0];
	else if (os->n_values == 0 && os->n_timestamps_unix_nano > 0)
		v = (int64_t) os->n_timestamps_unix_nano;
	else if (os->n_values == 0)
		return otlp_fail(c, HEARTH_EINVAL,
		    "the sample has neither values nor timestamps");
	else
		return otlp_fail(c, HEARTH_EINVAL,
		    "the sample has %zu values; a profile has one sample_type "
		    "in this OTLP version (v1.10.0), so one value is expected",
		    os->n_values);
	if (pp->mul != 1 && v != 0
	    && (v > INT64_MAX / pp->mul || v < INT64_MIN / pp->mul))
		return otlp_fail(c, HEARTH_EINVAL,
		    "value %" PRId64
		    " overflows when multiplied by the period "
		    "%" PRId64,
		    v, pp->mul);
	*value     = v * pp->mul;
	s->n_value = 1;
	s->value   = value;

	if (os->stack_index < 0
	    || (size_t) os->stack_index >= c->d->n_stack_table)
		return otlp_fail(c, HEARTH_EINVAL,
		    "stack_index %" PRId32
		    " out of range (stack_table has %zu "
		    "entries)",
		    os->stack_index, c->d->n_stack_table);
	const Opentelemetry__Proto__Profiles__V1development__Stack *st
	    = c->d->stack_table[os->stack_index];
	/* Leaf first: a cut keeps the root side (the last entries). */
	size_t n = st->n_location_indices, skip = 0;
	if (c->max_depth > 0 && n > c->max_depth + 1) {
		skip = n - (c->max_depth + 1);
		n    = c->max_depth + 1;
	}
	s->location_id
	    = hearth_arena_alloc(c->a, (n ? n : 1) * sizeof(uint64_t));
	if (s->location_id == NULL)
		return otlp_nomem(c);
	for (size_t i = 0; i < n; i++) {
		int rc = otlp_location_id(
		    c, pp, st->location_indices[skip + i], &s->location_id[i]);
		if (rc != 0)
			return rc;
	}
	s->n_location_id = n;
	return otlp_sample_labels(c, pp, os, s);
}

/* __name__ and the value multiplier of a profile (otlp.h step 5); may
 * rewrite the pprof sample type to cpu/nanoseconds. */
static int
otlp_naming(otlp_conv *c, otlp_pp *pp, const otlp_profile *op,
    const char *type, const char *unit, const char *ptype, const char *punit,
    const char **name)
{
	Perftools__Profiles__ValueType *st = pp->p->sample_type[0];
	bool has_period                    = *ptype != '\0' && op->period != 0;
	pp->mul                            = 1;
	/* A positive period only: the multiplication below must not flip
	 * signs (or hit INT64_MIN / -1 in its overflow check). */
	if (strcmp(type, "samples") == 0 && strcmp(unit, "count") == 0
	    && op->period > 0 && *ptype != '\0' && strcmp(ptype, "cpu") == 0
	    && strcmp(punit, "nanoseconds") == 0) {
		int rc = otlp_pstr(c, pp, "cpu", &st->type);
		if (rc == 0)
			rc = otlp_pstr(c, pp, "nanoseconds", &st->unit);
		pp->mul = op->period;
		*name   = "process_cpu";
		return rc;
	}
	/* "events" is how eBPF profilers before "off_cpu" named it. */
	if ((strcmp(type, "off_cpu") == 0 || strcmp(type, "events") == 0)
	    && strcmp(unit, "nanoseconds") == 0 && !has_period)
		*name = "off_cpu";
	else if (*ptype != '\0')
		*name = ptype;
	else
		*name = "process_cpu";
	return 0;
}

/* The pprof header of a group: sample and period types, times. */
int
otlp_pp_init(
    otlp_conv *c, otlp_pp *pp, const otlp_profile *op, const char **name)
{
	Perftools__Profiles__Profile *p
	    = hearth_arena_calloc(c->a, 1, sizeof(*p));
	Perftools__Profiles__ValueType *vt
	    = hearth_arena_calloc(c->a, 2, sizeof(*vt));
	Perftools__Profiles__ValueType **stp
	    = hearth_arena_alloc(c->a, sizeof(*stp));
	if (p == NULL || vt == NULL || stp == NULL)
		return otlp_nomem(c);
	perftools__profiles__profile__init(p);
	perftools__profiles__value_type__init(&vt[0]);
	perftools__profiles__value_type__init(&vt[1]);
	memset(pp, 0, sizeof(*pp));
	pp->p = p;
	if (op->sample_type == NULL)
		return otlp_fail(c, HEARTH_EINVAL,
		    "sample_type is missing (it names what the values "
		    "measure)");
	int64_t     idx;
	const char *type = "", *unit = "", *ptype = "", *punit = "";
	int         rc = otlp_pstr(c, pp, "", &idx); /* string_table[0] */
	if (rc == 0)
		rc = otlp_dstr(c, op->sample_type->type_strindex,
		    "sample_type type_strindex", &type);
	if (rc == 0)
		rc = otlp_dstr(c, op->sample_type->unit_strindex,
		    "sample_type unit_strindex", &unit);
	if (rc == 0 && op->period_type != NULL) {
		rc = otlp_dstr(c, op->period_type->type_strindex,
		    "period_type type_strindex", &ptype);
		if (rc == 0)
			rc = otlp_dstr(c, op->period_type->unit_strindex,
			    "period_type unit_strindex", &punit);
	}
	if (rc == 0)
		rc = otlp_pstr(c, pp, type, &vt[0].type);
	if (rc == 0)
		rc = otlp_pstr(c, pp, unit, &vt[0].unit);
	if (rc == 0 && op->period_type != NULL) {
		if ((rc = otlp_pstr(c, pp, ptype, &vt[1].type)) == 0)
			rc = otlp_pstr(c, pp, punit, &vt[1].unit);
		p->period_type = &vt[1];
	}
	if (rc != 0)
		return rc;
	stp[0]           = &vt[0];
	p->n_sample_type = 1;
	p->sample_type   = stp;
	p->period        = op->period;
	if (op->time_unix_nano > (uint64_t) INT64_MAX
	    || op->duration_nano > (uint64_t) INT64_MAX)
		return otlp_fail(c, HEARTH_EINVAL,
		    "time_unix_nano or duration_nano does not fit in 63 bits");
	p->time_nanos = op->time_unix_nano != 0 ? (int64_t) op->time_unix_nano
	                                        : c->now_ns;
	p->duration_nanos = op->duration_nano != 0
	    ? (int64_t) op->duration_nano
	    : OTLP_DEFAULT_DURATION_NS;
	return otlp_naming(c, pp, op, type, unit, ptype, punit, name);
}
