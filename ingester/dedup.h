/*
 * dedup: the ingester side of replica de-duplication (DESIGN §7,
 * docs/design.md §13). With replication factor > 1 the same profile (same
 * 16-byte id) is stored by several ingesters; a querier asks each for a
 * PLAN (per series and window: how many profiles, and a digest of their
 * ids), decides who merges what, and sends SELECT with dedup = true and an
 * `assign` list. This module holds what that needs and is shared by the
 * head, the blocks and the store:
 *
 *  - windows: profile time (ms, floor of ns) -> window start, epoch aligned
 *    to HEARTH_DEDUP_WINDOW_MS (1 h). A window never splits a rollup bucket
 *    (block.h: 1 min and 1 h buckets, epoch aligned), so whole windows can
 *    be answered from rollups;
 *  - the filter (hearth_dedup): SelectRequest.assign as a hash table keyed
 *    by series fingerprint (labels.h hearth_labels_fingerprint of tenant
 *    and the stored sorted labels); per series `all`, whole windows
 *    (sorted) and partial windows (sorted, each with sorted unique ids);
 *    IdsRequest.wanted builds the same structure (whole windows only);
 *  - accumulators for PLAN and IDS answers, filled by every source (heads
 *    and blocks) then sorted and combined into the response message.
 *
 * Semantics of a filter for a profile of series fp at time ms with id:
 *   fp not listed                    -> dropped
 *   all                              -> kept
 *   window_of(ms) in windows         -> kept
 *   window_of(ms) in partial         -> kept iff id is in that list
 *   otherwise                        -> dropped
 * A window listed both whole and partial is whole. A profile without id
 * has the all-zero id (it hashes and matches as 16 zero bytes).
 *
 * Digest of a window: sum mod 2^64 of XXH3_64bits(id, 16) over its
 * profiles; order free, so every source can add its part.
 *
 * Memory: filters live in the caller's arena and are read-only once built
 * (any number of threads may read one). Accumulators are malloc'd, owned
 * by one thread, and freed with their _fini; finished responses are in
 * the caller's arena.
 */
#ifndef HEARTH_DEDUP_H
#define HEARTH_DEDUP_H

#include "arena.h"
#include "err.h"
#include "ingester.pb-c.h"

#include <stddef.h>
#include <stdint.h>

/* Window width: PlanResponse.window_ms. A multiple of one hour (blocks'
 * rollup buckets must never straddle a window). */
#define HEARTH_DEDUP_WINDOW_MS ((int64_t) 3600 * 1000)

enum {
	HEARTH_DEDUP_NONE    = 0, /* window not assigned */
	HEARTH_DEDUP_WHOLE   = 1, /* every profile of the window */
	HEARTH_DEDUP_PARTIAL = 2  /* only the listed ids */
};

typedef struct hearth_dedup	   hearth_dedup;
typedef struct hearth_dedup_series hearth_dedup_series;

/* Start of the window holding ms (floor, negative times too). */
int64_t hearth_dedup_window_of(int64_t ms);
/* [*lo, *hi] (ms, inclusive): the whole windows that overlap
 * [start_ms, end_ms], clamped to int64. */
void hearth_dedup_span(int64_t start_ms, int64_t end_ms, int64_t *lo,
    int64_t *hi);
/* XXH3_64bits of a 16-byte id; NULL = the all-zero id. */
uint64_t hearth_dedup_id_hash(const uint8_t *id);
/* 1 when a pushed profile's id (SeriesProfile.id) is set: an empty or
 * all-zero id is no id (the profile is never a duplicate). Inline: the
 * head and the delta ask it of every pushed profile. */
static inline int
hearth_dedup_id_set(const ProtobufCBinaryData *id)
{
	for (size_t i = 0; i < id->len; i++)
		if (id->data[i] != 0)
			return 1;
	return 0;
}

/* Filter from SelectRequest.assign[0..n) (copied into a). HEARTH_EINVAL
 * naming the entry: a series listed twice, a window start that is not a
 * multiple of HEARTH_DEDUP_WINDOW_MS, an id that is not 16 bytes.
 * HEARTH_ENOMEM. */
int hearth_dedup_new(Hearth__Ingester__SeriesAssign *const *assign,
    size_t n, hearth_arena *a, hearth_dedup **out, hearth_err *err);
/* Filter from IdsRequest.wanted[0..n): each (fp, window_start_ms) as a
 * whole window (ids ignored); a series may be listed several times. Same
 * errors. */
int hearth_dedup_new_wanted(Hearth__Ingester__WindowIds *const *wanted,
    size_t n, hearth_arena *a, hearth_dedup **out, hearth_err *err);
/* Series fp's assignment, or NULL when it is not listed. */
const hearth_dedup_series *hearth_dedup_find(const hearth_dedup *d,
    uint64_t fp);
/* Series listed in d. */
size_t hearth_dedup_count(const hearth_dedup *d);
/* Earliest and latest window start over every listed window (whole and
 * partial); 0 when there is none (only `all` entries). */
int hearth_dedup_bounds(const hearth_dedup *d, int64_t *min_start,
    int64_t *max_start);

int hearth_dedup_all(const hearth_dedup_series *s);
/* HEARTH_DEDUP_* of the window starting at window_start_ms. */
int hearth_dedup_window(const hearth_dedup_series *s, int64_t window_start_ms);
/* 1 when the profile at ms with id (NULL = zero id) is kept. */
int hearth_dedup_keep(const hearth_dedup_series *s, int64_t ms,
    const uint8_t *id);
/* Partial window starts of s, ascending (*starts borrowed). */
size_t hearth_dedup_partials(const hearth_dedup_series *s,
    const int64_t **starts);

/* ---- PLAN accumulator --------------------------------------------------- */

typedef struct hearth_dedup_win {
	uint64_t fp;
	int64_t	 window_ms; /* window start */
	uint64_t count;
	uint64_t digest;
	int	 in_range; /* a profile of it lies in the queried range */
} hearth_dedup_win;

typedef struct hearth_dedup_plan {
	hearth_dedup_win *v;
	size_t		  n, cap;
} hearth_dedup_plan; /* zero-initialise; _fini frees */

/* Add one part of a window; merged with the previous entry when it has
 * the same (fp, window). HEARTH_ENOMEM. */
int  hearth_dedup_plan_add(hearth_dedup_plan *p, uint64_t fp,
     int64_t window_ms, uint64_t count, uint64_t digest, int in_range);
void hearth_dedup_plan_fini(hearth_dedup_plan *p);
/* Sort by (fp, window), add up the parts (count +, digest + mod 2^64),
 * drop the series none of whose windows has a profile in range, and fill
 * out (initialised here: window_ms and series, in arena a; series by ascending fp, windows
 * ascending). HEARTH_ENOMEM with a message. */
int hearth_dedup_plan_finish(hearth_dedup_plan *p, hearth_arena *a,
    Hearth__Ingester__PlanResponse *out, hearth_err *err);

/* ---- IDS accumulator ---------------------------------------------------- */

typedef struct hearth_dedup_id {
	uint64_t fp;
	int64_t	 window_ms;
	uint8_t	 id[16];
} hearth_dedup_id;

typedef struct hearth_dedup_ids {
	hearth_dedup_id *v;
	size_t		 n, cap;
} hearth_dedup_ids; /* zero-initialise; _fini frees */

/* id NULL = the zero id. HEARTH_ENOMEM. */
int  hearth_dedup_ids_add(hearth_dedup_ids *s, uint64_t fp,
     int64_t window_ms, const uint8_t *id);
void hearth_dedup_ids_fini(hearth_dedup_ids *s);
/* Sort, remove duplicates and fill out: one WindowIds per (fp, window)
 * that has ids, by (fp, window), ids ascending (bytewise). */
int hearth_dedup_ids_finish(hearth_dedup_ids *s, hearth_arena *a,
    Hearth__Ingester__IdsResponse *out, hearth_err *err);

#endif
