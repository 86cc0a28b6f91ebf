/*
 * ring: the consistent-hash ring of ingesters (DESIGN §5), as a pure,
 * immutable value. Membership and health live in cluster.h; this module
 * only answers "which members hold this series" for a given member set.
 *
 * Tokens. Member i (by its id) owns `tokens` points on a 64-bit circle:
 * XXH3_64bits_withSeed(id, strlen(id), k) for k in [0, tokens). Tokens
 * depend only on ids, so every distributor and querier that sees the same
 * member set computes the same ring with no coordination; the order ids
 * are given in does not matter (members are sorted by id; member indexes
 * below are positions in that sorted order). Equal tokens of two members
 * (improbable) are ordered by member index so the walk stays
 * deterministic.
 *
 * Placement is service first:
 *   shard(tenant, service): walk the circle clockwise from
 *     XXH3_64(tenant 0xff service) and take distinct members until
 *     shard_size (0, or >= members: every member, in walk order);
 *   replicas(fp): walk clockwise from the series fingerprint fp
 *     (hearth_labels_fingerprint) over the tokens of the shard's members
 *     only, taking distinct members whose healthy[] flag is set until rf;
 *     if the shard has fewer healthy members than rf, the walk continues
 *     over the whole circle from fp and takes healthy members outside the
 *     shard ("extending to the next healthy one").
 *
 * Memory: hearth_ring_new copies the ids; the ring owns everything and is
 * freed by hearth_ring_free. Immutable after new, so any number of threads
 * may read it at once.
 */
#ifndef HEARTH_RING_H
#define HEARTH_RING_H

#include "err.h"

#include <stddef.h>
#include <stdint.h>

#define HEARTH_RING_DEFAULT_TOKENS 128
#define HEARTH_RING_MAX_MEMBERS	   1024

typedef struct hearth_ring hearth_ring;

/* ids[0..n): unique, non-empty member ids (n may be 0: an empty ring).
 * HEARTH_EINVAL for an empty or duplicate id (the message names it), more
 * than HEARTH_RING_MAX_MEMBERS members or tokens == 0; HEARTH_ENOMEM. */
int hearth_ring_new(const char *const *ids, size_t n, unsigned tokens,
    hearth_ring **out, hearth_err *err);
void hearth_ring_free(hearth_ring *r);

/* Number of members; member i's id (sorted order), borrowed. */
size_t	    hearth_ring_size(const hearth_ring *r);
const char *hearth_ring_id(const hearth_ring *r, size_t i);
/* Index of the member with this id, or -1. */
long hearth_ring_find(const hearth_ring *r, const char *id);

/* Members of the (tenant, service) shard in walk order into out (room for
 * hearth_ring_size entries); returns how many. */
size_t hearth_ring_shard(const hearth_ring *r, const char *tenant,
    const char *service, size_t shard_size, uint32_t *out);

/* The rf replicas of series fp of (tenant, service) into out (room for
 * rf entries), primary first; healthy[i] != 0 when member i may take
 * writes (NULL: all healthy). Returns how many were found: fewer than rf
 * when there are not enough healthy members. */
size_t hearth_ring_replicas(const hearth_ring *r, const char *tenant,
    const char *service, uint64_t fp, size_t shard_size, size_t rf,
    const uint8_t *healthy, uint32_t *out);

/* Fraction of the circle member i owns (the arcs ending at its tokens),
 * for /ring. */
double hearth_ring_ownership(const hearth_ring *r, size_t i);

/* Writes needed for an acknowledgement: min(rf, members) / 2 + 1, and at
 * least 1. */
size_t hearth_ring_quorum(const hearth_ring *r, size_t rf);

#endif
