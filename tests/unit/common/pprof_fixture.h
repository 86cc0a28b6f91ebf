/*
 * pprof_fixture: what the pprof unit tests share (pprof_test.c: real
 * profiles and conversion rules; pprof_check_test.c: validation, malformed
 * bytes and limits): testdata files, reading an upload's stacks, and a
 * small hand-built profile that each test breaks in one place.
 *
 * Include after <cmocka.h> (the helpers assert). read_file and
 * tprof_pack return malloc'd bytes (the caller frees them).
 */
#ifndef HEARTH_TESTS_PPROF_FIXTURE_H
#define HEARTH_TESTS_PPROF_FIXTURE_H

#include "arena.h"
#include "err.h"
#include "pprof.h"
#include "profile.pb-c.h"
#include "upload.h"

#include <stddef.h>
#include <stdint.h>

/* ../shared/testdata/pprof/<name>, whole. */
uint8_t *read_file(const char *name, size_t *n);
/* Frame i (root first) of an upload stack, and the stack's depth. */
const char *frame(const hearth_upload *u, uint32_t stack, size_t i);
size_t      depth(const hearth_upload *u, uint32_t stack);
/* Value of type `type` of the row of group `group` whose stack is exactly
 * the ';'-joined frames; -1 if none. */
int64_t row_value(
    const hearth_upload *u, size_t group, const char *stack, size_t type);

/* A small valid profile; tests break one thing and pack it. Strings:
 *   0 ""  1 cpu  2 nanoseconds  3 main  4 foo  5 bar  6 main.go
 *   7 key 8 val  9 trace_id 10 abc 11 profile_id 12 /abs/lib.py
 *   13 samples 14 count */
typedef struct tprof {
	Perftools__Profiles__Profile   p;
	Perftools__Profiles__ValueType st[2], *stp[2], pt;
	Perftools__Profiles__Sample    s[4], *sp[4];
	uint64_t                       locid[4][4];
	int64_t                        val[4][2];
	Perftools__Profiles__Label     lb[4][3], *lbp[4][3];
	Perftools__Profiles__Location  l[4], *lp[4];
	Perftools__Profiles__Line      ln[4][2], *lnp[4][2];
	Perftools__Profiles__Function  f[3], *fp[3];
	char                          *str[15];
} tprof;

void     tprof_init(tprof *t);
uint8_t *tprof_pack(const tprof *t, size_t *n);
/* Decode t with opts; returns rc, leaves err/res for the caller. */
int tprof_decode(const tprof *t, const hearth_pprof_opts *o, hearth_arena *a,
    hearth_pprof_result *res, hearth_err *err);
/* Decoding t fails with code and exactly msg, and gives no upload. */
void expect_error(
    const tprof *t, const hearth_pprof_opts *o, int code, const char *msg);

#endif
