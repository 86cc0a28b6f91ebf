/*
 * cli_pprof: a flame graph (cli_tree.h, side 0) written as a pprof
 * profile (perftools.profiles.Profile, proto/profile.proto), gzip
 * compressed as `go tool pprof` and every pprof consumer expect.
 *
 * The tree is rebuilt as a function-name tree (common/fgtree.h) and
 * written by common/fgexport.h, the same pprof writer the server's
 * SelectMergeProfile uses: one Function and one Location per distinct
 * name, one Sample per node with a non-zero self whose locations are the
 * node's path leaf first. The root's own self (samples of the empty
 * stack) has no path and is left out, as in folded export. sample_type
 * and period_type come from the profile type id of the query;
 * time_nanos and duration_nanos from the query range.
 *
 * Reading the result back (hearth's /ingest, `go tool pprof -top`) gives
 * the same per-function self and total values as the flame graph.
 *
 * Ownership: scratch and the unpacked message live in the caller's arena;
 * the encoded bytes are appended to the caller's buffer. Stateless.
 */
#ifndef HEARTH_CLI_PPROF_H
#define HEARTH_CLI_PPROF_H

#include "arena.h"
#include "buf.h"
#include "cli_fmt.h"
#include "cli_tree.h"
#include "err.h"

#include <stdint.h>

typedef struct hearth_cli_pprof_meta {
	const hearth_cli_ptype *type;        /* sample and period type/unit */
	int64_t                 time_ns;     /* query start */
	int64_t                 duration_ns; /* until - from */
	int                     gzip;        /* 1: gzip the bytes */
} hearth_cli_pprof_meta;

/* Append the encoded profile to out. Errors: HEARTH_ENOMEM, HEARTH_ELIMIT
 * (arena cap), HEARTH_EINTERNAL when zlib fails. */
int hearth_cli_pprof_encode(hearth_arena *a, const hearth_cli_tree *t,
    const hearth_cli_pprof_meta *m, hearth_buf *out, hearth_err *err);

#endif
