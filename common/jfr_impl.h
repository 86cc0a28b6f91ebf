/* jfr_impl: what jfr.c (kinds, events, chunks, labels) and jfr_read.c
 * (bytes, metadata, constant pools) share: the decoder state and the
 * reading functions. Only for common/jfr*.c. See jfr.h for the format. */
#ifndef HEARTH_JFR_IMPL_H
#define HEARTH_JFR_IMPL_H

#include "jfr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Kinds of events (jfr.c's table). */
#define JFR_N_KINDS 9

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
	size_t		       n_samples; /* events read (the limit counts these) */
	size_t		       n_kept;	  /* events stored */
	uint64_t	       type_id; /* event type in this chunk */
	bool		       in_chunk;
} jfr_kind;

struct hearth_jfr_contexts {
	jfr_map		     by_id; /* context id -> index */
	hearth_upload_label **labels;
	size_t		    *n_labels;
};

/* A jdk.types.Method pool entry: the pool keys of its class and name. */
typedef struct jfr_method {
	uint64_t class_key, name_key;
} jfr_method;

/* A jdk.types.StackTrace pool entry: its method keys in frames[off ..
 * off + len), leaf first. */
typedef struct jfr_stack_ent {
	uint32_t off, len;
} jfr_stack_ent;

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
	jfr_map		methods; /* method key -> index */
	jfr_method     *meths;
	size_t		n_methods, cap_methods;
	jfr_map		stacks; /* stack key -> index */
	jfr_stack_ent  *sts;
	size_t		n_stacks, cap_stacks;
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
	/* async-profiler's "event" setting (cpu, itimer, wall, ...), from a
	 * jdk.ActiveSetting event; NULL until one is seen. */
	const char *event_mode;
} jfr_dec;

/* ---- jfr_read.c ---- */

/* HEARTH_EINVAL "jfr: <what> at byte N (...)", N the offset in the
 * recording. */
int jfr_bad(jfr_dec *d, const jfr_cur *c, const char *what);
/* HEARTH_ELIMIT: the arena cap. */
int jfr_nomem(jfr_dec *d);
/* Grow *arr (elem bytes each) to hold at least need elements. */
int jfr_reserve(jfr_dec *d, void **arr, size_t *cap, size_t need, size_t elem);
/* Map u64 -> u32: the value or JFR_NONE; put inserts or overwrites. */
uint32_t jfr_map_get(const jfr_map *m, uint64_t key);
int	 jfr_map_put(jfr_dec *d, jfr_map *m, uint64_t key, uint32_t val);
/* JFR's compressed integer at c. */
int jfr_varint(jfr_dec *d, jfr_cur *c, uint64_t *v);
/* The fields named want[0..n) of an object of class k as numbers into
 * out[] (left alone when absent), every other field skipped. */
int jfr_object_ints(jfr_dec *d, jfr_cur *c, jfr_class *k,
    const char *const *want, size_t n, int64_t *out, int depth);
/* The metadata event at c (from its size field): d's classes. */
int jfr_metadata(jfr_dec *d, jfr_cur *c);
/* Index of the class of that name, or JFR_NONE. */
uint32_t jfr_class_named(const jfr_dec *d, const char *name);
/* A jdk.ActiveSetting event of class k at c (after its size and type):
 * keeps the value of the setting named "event" in d->event_mode. */
int jfr_active_setting(jfr_dec *d, jfr_cur *c, const jfr_class *k);
/* A checkpoint event at c (after its size and type) into d's pools; the
 * class indexes of the pools read (JFR_NONE: absent from the metadata). */
int jfr_checkpoint(jfr_dec *d, jfr_cur *c, uint32_t c_symbol, uint32_t c_class,
    uint32_t c_method, uint32_t c_stack, uint32_t c_string);

#endif
