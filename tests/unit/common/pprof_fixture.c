/* Shared fixture of the pprof unit tests (pprof_fixture.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "pprof_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint8_t *
read_file(const char *name, size_t *n)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/pprof/%s", HEARTH_TESTDATA, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *p = malloc((size_t) sz + 1);
	assert_int_equal(fread(p, 1, (size_t) sz, f), (size_t) sz);
	fclose(f);
	*n = (size_t) sz;
	return p;
}

const char *
frame(const hearth_upload *u, uint32_t stack, size_t i)
{
	return u->strings[u->frames[u->stack_off[stack] + i]];
}

size_t
depth(const hearth_upload *u, uint32_t stack)
{
	return u->stack_off[stack + 1] - u->stack_off[stack];
}

/* Find the row whose stack is exactly the ';'-joined frames; -1 if none. */
int64_t
row_value(const hearth_upload *u, size_t group, const char *stack, size_t type)
{
	const hearth_upload_group *grp = &u->groups[group];
	for (size_t r = 0; r < grp->n_rows; r++) {
		char   buf[1024] = "";
		size_t d         = depth(u, grp->stacks[r]);
		for (size_t i = 0; i < d; i++) {
			if (i > 0)
				strcat(buf, ";");
			strcat(buf, frame(u, grp->stacks[r], i));
		}
		if (strcmp(buf, stack) == 0)
			return grp->values[r * u->n_sample_types + type];
	}
	return -1;
}

void
tprof_init(tprof *t)
{
	static const char *const strs[15] = { "", "cpu", "nanoseconds", "main",
		"foo", "bar", "main.go", "key", "val", "trace_id", "abc",
		"profile_id", "/abs/lib.py", "samples", "count" };
	memset(t, 0, sizeof(*t));
	perftools__profiles__profile__init(&t->p);
	for (int i = 0; i < 15; i++)
		t->str[i] = (char *) strs[i];
	t->p.string_table   = t->str;
	t->p.n_string_table = 15;
	for (int i = 0; i < 2; i++) {
		perftools__profiles__value_type__init(&t->st[i]);
		t->stp[i] = &t->st[i];
	}
	t->st[0].type      = 13;
	t->st[0].unit      = 14;
	t->st[1].type      = 1;
	t->st[1].unit      = 2;
	t->p.sample_type   = t->stp;
	t->p.n_sample_type = 2;
	perftools__profiles__value_type__init(&t->pt);
	t->pt.type          = 1;
	t->pt.unit          = 2;
	t->p.period_type    = &t->pt;
	t->p.period         = 10000000;
	t->p.time_nanos     = 1700000000000000000;
	t->p.duration_nanos = 10000000000;
	/* functions 1 main, 2 foo, 3 bar (all in main.go) */
	for (int i = 0; i < 3; i++) {
		perftools__profiles__function__init(&t->f[i]);
		t->f[i].id       = (uint64_t) i + 1;
		t->f[i].name     = 3 + i;
		t->f[i].filename = 6;
		t->fp[i]         = &t->f[i];
	}
	t->p.function   = t->fp;
	t->p.n_function = 3;
	/* locations: 1 {main}, 2 {foo}, 3 {bar inlined into foo},
	 * 4 {no lines, address 0xABC} */
	for (int i = 0; i < 4; i++) {
		perftools__profiles__location__init(&t->l[i]);
		t->l[i].id = (uint64_t) i + 1;
		t->lp[i]   = &t->l[i];
		for (int k = 0; k < 2; k++) {
			perftools__profiles__line__init(&t->ln[i][k]);
			t->lnp[i][k] = &t->ln[i][k];
		}
		t->l[i].line = t->lnp[i];
	}
	t->ln[0][0].function_id = 1;
	t->l[0].n_line          = 1;
	t->ln[1][0].function_id = 2;
	t->l[1].n_line          = 1;
	t->ln[2][0].function_id = 3;
	t->ln[2][1].function_id = 2;
	t->l[2].n_line          = 2;
	t->l[3].address         = 0xABC;
	t->p.location           = t->lp;
	t->p.n_location         = 4;
	/* samples (leaf first): s0 [2,1] {1,10}; s1 [3,1] {2,20};
	 * s2 [4,1] {3,30}; s3 [2,1] {1,10} with labels */
	static const uint64_t locs[4][2]
	    = { { 2, 1 }, { 3, 1 }, { 4, 1 }, { 2, 1 } };
	for (int i = 0; i < 4; i++) {
		perftools__profiles__sample__init(&t->s[i]);
		t->locid[i][0]        = locs[i][0];
		t->locid[i][1]        = locs[i][1];
		t->s[i].location_id   = t->locid[i];
		t->s[i].n_location_id = 2;
		t->val[i][0]          = i == 3 ? 1 : i + 1;
		t->val[i][1]          = (i == 3 ? 1 : i + 1) * 10;
		t->s[i].value         = t->val[i];
		t->s[i].n_value       = 2;
		t->sp[i]              = &t->s[i];
		for (int k = 0; k < 3; k++) {
			perftools__profiles__label__init(&t->lb[i][k]);
			t->lbp[i][k] = &t->lb[i][k];
		}
		t->s[i].label = t->lbp[i];
	}
	/* s3: key=val, trace_id=abc, profile_id=abc */
	t->lb[3][0].key = 7;
	t->lb[3][0].str = 8;
	t->lb[3][1].key = 9;
	t->lb[3][1].str = 10;
	t->lb[3][2].key = 11;
	t->lb[3][2].str = 10;
	t->s[3].n_label = 3;
	t->p.sample     = t->sp;
	t->p.n_sample   = 4;
}

uint8_t *
tprof_pack(const tprof *t, size_t *n)
{
	*n         = perftools__profiles__profile__get_packed_size(&t->p);
	uint8_t *b = malloc(*n + 1);
	assert_int_equal(perftools__profiles__profile__pack(&t->p, b), *n);
	return b;
}

/* Decode t with opts; returns rc, leaves err/res for the caller. */
int
tprof_decode(const tprof *t, const hearth_pprof_opts *o, hearth_arena *a,
    hearth_pprof_result *res, hearth_err *err)
{
	size_t   n;
	uint8_t *b  = tprof_pack(t, &n);
	int      rc = hearth_pprof_decode(a, b, n, o, res, err);
	free(b);
	return rc;
}

void
expect_error(
    const tprof *t, const hearth_pprof_opts *o, int code, const char *msg)
{
	hearth_arena       *a = hearth_arena_new(0);
	hearth_pprof_result res;
	hearth_err          err = { 0 };
	assert_int_equal(tprof_decode(t, o, a, &res, &err), code);
	assert_string_equal(err.msg, msg);
	assert_null(res.upload);
	hearth_arena_free(a);
}
