/*
 * hash: the one integer mixer of hearth's open-addressing tables (head,
 * block compaction, dedup filter, JFR constant pools). Keys there are
 * dense small ids, pairs packed into 64 bits or fingerprints a peer may
 * have crafted; masking them unmixed would cluster the probes. Strings
 * are hashed with xxHash instead. No state.
 */
#ifndef HEARTH_HASH_H
#define HEARTH_HASH_H

#include <stdint.h>

/* splitmix64's finaliser of x: a bijection, every input bit reaching
 * every output bit. The value is part of no stored format. */
uint64_t hearth_hash_u64(uint64_t x);

#endif
