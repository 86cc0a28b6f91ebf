/*
 * otlp_impl.h: what otlp.c (request walk, series labels, decode) and
 * otlp_pprof.c (building one pprof from the dictionary) share. Include
 * only from distributor/otlp*.c.
 *
 * Invariants while a group is built (otlp_conv.serial is its number):
 *  (1) loc_stamp[i] == serial ⇔ dictionary location i has the pprof
 *      location loc_id[i] in that group's Profile (likewise fn_*, map_*);
 *  (2) every string index a pprof field holds is a position in the
 *      group's otlp_pp.strs, which becomes the Profile's string_table when
 *      the group is finished (position 0 is "").
 */
#ifndef HEARTH_DISTRIBUTOR_OTLP_IMPL_H
#define HEARTH_DISTRIBUTOR_OTLP_IMPL_H

#include "otlp.h"

#include <stdbool.h>
#include <stdint.h>

typedef Opentelemetry__Proto__Profiles__V1development__ProfilesDictionary
    otlp_dict;
typedef Opentelemetry__Proto__Profiles__V1development__ResourceProfiles
                                                                otlp_resource;
typedef Opentelemetry__Proto__Profiles__V1development__Profile  otlp_profile;
typedef Opentelemetry__Proto__Profiles__V1development__Sample   otlp_sample;
typedef Opentelemetry__Proto__Profiles__V1development__Location otlp_location;
typedef Opentelemetry__Proto__Profiles__V1development__Function otlp_function;
typedef Opentelemetry__Proto__Profiles__V1development__Mapping  otlp_mapping;
typedef Opentelemetry__Proto__Profiles__V1development__KeyValue otlp_kv;
typedef Opentelemetry__Proto__Profiles__V1development__AnyValue otlp_any;
typedef Opentelemetry__Proto__Profiles__V1development__Link     otlp_link;
typedef Opentelemetry__Proto__Profiles__V1development__ValueType
    otlp_value_type;

#define OTLP_ANY(x)                                                           \
	OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__ANY_VALUE__VALUE_##x
/* spec §4 step 2: a profile without a duration is taken as 10 s. */
#define OTLP_DEFAULT_DURATION_NS 10000000000LL
#define OTLP_NO_SAMPLE SIZE_MAX

/* A set of strings with their insertion positions: the pprof string table
 * of one group, and the per-sample service names of one profile. Open
 * addressing, slots[j] = position + 1 (0 = empty), at most half full. */
typedef struct otlp_strset {
	const char **strs;
	size_t       n, cap;
	uint32_t    *slots;
	size_t       n_slots;
} otlp_strset;

/* Request-wide state. The maps from a dictionary index to the pprof id
 * made for it carry a stamp, the serial number of the group being built:
 * an entry whose stamp is not the current serial is unset, so one
 * allocation per table serves every group without clearing. */
typedef struct otlp_conv {
	hearth_arena    *a;
	hearth_err      *err;
	const otlp_dict *d;
	int64_t          now_ns;
	size_t           max_samples, max_depth;
	uint32_t         serial;
	uint32_t        *loc_stamp, *loc_id;
	uint32_t        *fn_stamp, *fn_id;
	uint32_t        *map_stamp, *map_id;
	char             where[128];
	size_t           sample; /* for messages; OTLP_NO_SAMPLE = none */
} otlp_conv;

/* One pprof being built. */
typedef struct otlp_pp {
	Perftools__Profiles__Profile *p;
	otlp_strset                   strs;
	size_t                        cap_loc, cap_fn, cap_map;
	int64_t                       mul; /* value multiplier (eBPF rule) */
} otlp_pp;

/* err = "otlp: <where>[.samples[i]]: <fmt>", returns code. */
int otlp_fail(otlp_conv *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* HEARTH_ENOMEM naming the request memory cap. */
int otlp_nomem(otlp_conv *c);
/* Grow *arr (elements of size elem, arena memory) to hold need. */
int otlp_grow(
    hearth_arena *a, void **arr, size_t *cap, size_t need, size_t elem);
/* Position of s in set, adding the pointer (not a copy) when absent. */
int otlp_strset_add(
    hearth_arena *a, otlp_strset *set, const char *s, size_t *pos);
/* Dictionary string idx; what names the field in the message. */
int otlp_dstr(otlp_conv *c, int32_t idx, const char *what, const char **out);
/* Entry idx of attribute_table: key and label value (NULL when the value
 * is not a label: not a string, integer, string reference, or a
 * one-element array of those). */
int otlp_attr(otlp_conv *c, int32_t idx, const char **key, const char **val);
/* Key and label value of a resource or scope attribute; *key NULL when it
 * has no key. */
int otlp_kv_get(
    otlp_conv *c, const otlp_kv *kv, const char **key, const char **val);
/* Start the group's pprof: sample and period types, times, the naming
 * rule (*name is its __name__, otlp.h step 5). */
int otlp_pp_init(
    otlp_conv *c, otlp_pp *pp, const otlp_profile *op, const char **name);
/* Convert one OTLP sample into s (initialised); *value backs s->value. */
int otlp_sample_convert(otlp_conv *c, otlp_pp *pp, const otlp_sample *os,
    Perftools__Profiles__Sample *s, int64_t *value);

#endif
